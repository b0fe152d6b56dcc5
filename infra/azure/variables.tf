# Inputs of the Azure module. Required: subscription_id, location,
# postgres_server_id, db_name, and a trust source (trusted_signers or
# trusted_signers_url).

# --- Subscription and naming ---------------------------------------------------

variable "subscription_id" {
  description = "Subscription to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.subscription_id))
    error_message = "subscription_id: a subscription GUID."
  }
}

variable "location" {
  description = "Azure region of every resource (Flex Consumption must be available there)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location: a region name such as westeurope."
  }
}

variable "name" {
  description = "Short name of the deployment; with a stable suffix derived from the subscription and resource group it names the function app, the identity and the storage accounts."
  type        = string
  default     = "pgmi"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,10}$", var.name))
    error_message = "name: 2 to 11 lower-case letters and digits, starting with a letter (storage account names allow nothing else)."
  }
}

variable "resource_group_name" {
  description = "Resource group of every resource. null: \"rg-<name>\"."
  type        = string
  default     = null
}

variable "create_resource_group" {
  description = "Create the resource group (false: it exists)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource that takes them."
  type        = map(string)
  default     = {}
}

# --- Bundle storage ------------------------------------------------------------

variable "container_name" {
  description = "Blob container of bundles and result objects."
  type        = string
  default     = "bundles"

  validation {
    condition     = can(regex("^[a-z0-9](-?[a-z0-9]){2,62}$", var.container_name))
    error_message = "container_name: 3 to 63 lower-case letters, digits and single '-'."
  }
}

variable "replication_type" {
  description = "Replication of the bundle storage account."
  type        = string
  default     = "ZRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"], var.replication_type)
    error_message = "replication_type: LRS, ZRS, GRS, GZRS, RAGRS or RAGZRS."
  }
}

variable "soft_delete_days" {
  description = "Days deleted blobs and containers of the bundle account stay recoverable."
  type        = number
  default     = 14

  validation {
    condition     = var.soft_delete_days >= 1 && var.soft_delete_days <= 365
    error_message = "soft_delete_days: 1 to 365."
  }
}

variable "immutability_days" {
  description = "Version-level immutability (WORM) for the bundle account, in days since each version's creation; overwriting still works (it makes a new version), deleting a protected version does not. 0: off. The policy is created unlocked; lock it outside Terraform once you are sure."
  type        = number
  default     = 0

  validation {
    condition     = var.immutability_days >= 0 && floor(var.immutability_days) == var.immutability_days
    error_message = "immutability_days: a whole number, 0 for none."
  }
}

variable "uploader_principal_ids" {
  description = "Object ids of the principals (the release pipeline's identity) granted write under bundle_prefix only. Anyone who can write there runs SQL as the deployer."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.uploader_principal_ids : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", p))])
    error_message = "uploader_principal_ids: Entra object ids (GUIDs)."
  }
}

# --- Trigger and results -------------------------------------------------------

variable "bundle_prefix" {
  description = "Blob name prefix that triggers deploys (the Event Grid subject filter), and the only prefix the function can read."
  type        = string
  default     = "bundles/"

  validation {
    condition     = can(regex("^[^/].*/$", var.bundle_prefix))
    error_message = "bundle_prefix: a non-empty blob name prefix ending in '/', without a leading '/'."
  }
}

variable "bundle_suffixes" {
  description = "Blob name suffixes that trigger deploys."
  type        = list(string)
  default     = [".tar.gz", ".tgz", ".zip"]

  validation {
    condition     = length(var.bundle_suffixes) > 0 && alltrue([for s in var.bundle_suffixes : can(regex("^\\.[A-Za-z0-9.]+$", s))])
    error_message = "bundle_suffixes: at least one suffix such as \".tar.gz\"."
  }
}

variable "results_prefix" {
  description = "Blob name prefix of the result objects (PGMI_RESULTS_PREFIX) in the same container: the only prefix the function can write. Must not overlap bundle_prefix."
  type        = string
  default     = "pgmi-results/"

  validation {
    condition = (
      can(regex("^[^/].*/$", var.results_prefix)) &&
      !startswith(var.results_prefix, var.bundle_prefix) &&
      !startswith(var.bundle_prefix, var.results_prefix)
    )
    error_message = "results_prefix: a non-empty prefix ending in '/', neither inside bundle_prefix nor containing it."
  }
}

variable "event_subscription_enabled" {
  description = "Create the Event Grid subscription that delivers BlobCreated events to the BlobCreated function. Event Grid checks that the function exists, so set this to true only after the code is published (README walk-through, step 3)."
  type        = bool
  default     = false
}

# --- Function app --------------------------------------------------------------

variable "maximum_instance_count" {
  description = "Upper bound of Flex Consumption instances. The advisory lock, not this bound, serialises deploys of one database."
  type        = number
  default     = 10

  validation {
    condition     = var.maximum_instance_count >= 1 && var.maximum_instance_count <= 1000
    error_message = "maximum_instance_count: 1 to 1000."
  }
}

variable "instance_memory_mb" {
  description = "Memory of a Flex Consumption instance."
  type        = number
  default     = 2048

  validation {
    condition     = contains([2048, 4096], var.instance_memory_mb)
    error_message = "instance_memory_mb: 2048 or 4096."
  }
}

variable "virtual_network_subnet_id" {
  description = "Subnet (delegated to Microsoft.App/environments) for VNet integration, when the flexible server has private access only. null: none."
  type        = string
  default     = null

  validation {
    condition     = var.virtual_network_subnet_id == null ? true : can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/virtualNetworks/[^/]+/subnets/[^/]+$", var.virtual_network_subnet_id))
    error_message = "virtual_network_subnet_id: a subnet resource id."
  }
}

variable "application_insights_enabled" {
  description = "Send the function's logs to a new workspace-based Application Insights resource (Entra-authenticated ingestion)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the Log Analytics workspace behind Application Insights."
  type        = number
  default     = 90

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days: 30 to 730."
  }
}

# --- Database ------------------------------------------------------------------

variable "postgres_server_id" {
  description = "Resource id of the Azure Database for PostgreSQL flexible server (Entra authentication enabled)."
  type        = string

  validation {
    condition     = can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.DBforPostgreSQL/flexibleServers/[^/]+$", var.postgres_server_id))
    error_message = "postgres_server_id: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.DBforPostgreSQL/flexibleServers/<name>."
  }
}

variable "db_host" {
  description = "PGHOST. null: <server name>.postgres.database.azure.com (set it for sovereign clouds or private DNS names)."
  type        = string
  default     = null
}

variable "db_name" {
  description = "Target database of deploys (PGDATABASE) when no route names another."
  type        = string

  validation {
    condition     = length(var.db_name) > 0 && length(var.db_name) <= 63
    error_message = "db_name: 1 to 63 characters."
  }
}

variable "entra_admin" {
  description = "Entra administrator to set on the flexible server (the principal that then runs infra/sql/azure-entra.sql). null: keep the server's administrators as they are."
  type = object({
    object_id      = string
    principal_name = string
    principal_type = string
  })
  default = null

  validation {
    condition     = var.entra_admin == null ? true : contains(["User", "Group", "ServicePrincipal"], var.entra_admin.principal_type)
    error_message = "entra_admin.principal_type: User, Group or ServicePrincipal."
  }
}

# --- Deployer settings ---------------------------------------------------------

variable "routes" {
  description = "PGMI_ROUTES: which blob name prefix deploys to which database, with optional params. Every prefix must lie under bundle_prefix. Empty: one route, bundle_prefix → db_name."
  type = list(object({
    prefix   = string
    database = string
    params   = optional(map(string), {})
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.routes : startswith(r.prefix, var.bundle_prefix) && length(r.database) > 0])
    error_message = "routes: every prefix must start with bundle_prefix and name a database."
  }
}

variable "trusted_signers" {
  description = "PGMI_TRUSTED_SIGNERS: allowed_signers text of the keys whose bundles may deploy (public keys only)."
  type        = string
  default     = null

  validation {
    condition = (
      var.trusted_signers != null && var.trusted_signers_url != null ? false :
      var.allow_unsigned || var.trusted_signers != null || var.trusted_signers_url != null
    )
    error_message = "trusted_signers: set one of trusted_signers and trusted_signers_url (not both), or allow_unsigned = true."
  }
}

variable "trusted_signers_url" {
  description = "PGMI_TRUSTED_SIGNERS_URL: azblob://<container>/<blob> in the bundle storage account, read at cold start and again every PGMI_TRUSTED_SIGNERS_TTL (5m) so a revoked key stops deploying; the module grants read on that one blob. Keep it outside bundle_prefix, where uploaders cannot write."
  type        = string
  default     = null

  validation {
    condition     = var.trusted_signers_url == null ? true : can(regex("^azblob://[a-z0-9-]+/[^?]+$", var.trusted_signers_url))
    error_message = "trusted_signers_url: azblob://<container>/<blob>, without query parameters."
  }
}

variable "allow_unsigned" {
  description = "PGMI_ALLOW_UNSIGNED: deploy bundles without checking a signature. Never in production."
  type        = bool
  default     = false
}

variable "reset_allow" {
  description = "PGMI_RESET_ALLOW: the databases a reset may drop and recreate. Empty: none."
  type        = list(string)
  default     = []
}

variable "reset" {
  description = "Scheduled reset by the Reset timer function: schedule is NCRONTAB with six fields (second first, UTC unless WEBSITE_TIME_ZONE), database must be in reset_allow, bundle_blob (under bundle_prefix) is optional (without it, the last bundle the ledger recorded). null: the timer runs once a year and does nothing."
  type = object({
    schedule    = string
    database    = string
    bundle_blob = optional(string)
  })
  default = null

  validation {
    condition = var.reset == null ? true : (
      length(split(" ", trimspace(var.reset.schedule))) == 6 &&
      contains(var.reset_allow, var.reset.database) &&
      (var.reset.bundle_blob == null ? true : startswith(var.reset.bundle_blob, var.bundle_prefix))
    )
    error_message = "reset: schedule is NCRONTAB with 6 fields (e.g. \"0 0 3 * * *\"); database must be listed in reset_allow; bundle_blob, when set, must lie under bundle_prefix."
  }
}

variable "function_timeout_seconds" {
  description = "The functionTimeout of the host.json in the package you publish, in seconds: functions/azure/host.json sets 00:30:00 (1800); on the legacy Consumption plan lower both to at most 600. The host and the handler read it from host.json; the module only checks timeout_margin against it."
  type        = number
  default     = 1800

  validation {
    condition     = var.function_timeout_seconds >= 60 && var.function_timeout_seconds == floor(var.function_timeout_seconds)
    error_message = "function_timeout_seconds: whole seconds, at least 60 (host.json's functionTimeout)."
  }
}

variable "timeout_margin" {
  description = "PGMI_TIMEOUT_MARGIN: how long before the host's functionTimeout the deployer stops and cancels the running statement (a Go duration)."
  type        = string
  default     = "10s"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$", var.timeout_margin))
    error_message = "timeout_margin: a Go duration such as 10s."
  }

  # The deployer stops this long before the platform's deadline: a margin at
  # or above the timeout leaves no time, and every event fails at once.
  validation {
    condition     = try(sum([for p in regexall("([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h)", var.timeout_margin) : tonumber(p[0]) * { ms = 0.001, s = 1, m = 60, h = 3600 }[p[1]]]) < var.function_timeout_seconds, true)
    error_message = "timeout_margin (PGMI_TIMEOUT_MARGIN, ${var.timeout_margin}) must be shorter than function_timeout_seconds (the functionTimeout of host.json, ${var.function_timeout_seconds} s): the deployer would have no time left to deploy."
  }
}

variable "lock_wait" {
  description = "PGMI_LOCK_WAIT: how long a deploy waits for another deploy of the same database before failing as retryable (a Go duration)."
  type        = string
  default     = "30s"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$", var.lock_wait))
    error_message = "lock_wait: a Go duration such as 30s."
  }
}

variable "ledger_table" {
  description = "PGMI_LEDGER_TABLE: schema.table of the deploy ledger in each target database."
  type        = string
  default     = "pgmi_ledger.deployments"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]*\\.[a-z_][a-z0-9_]*$", var.ledger_table))
    error_message = "ledger_table: schema.table in lower case."
  }
}

variable "extra_app_settings" {
  description = "More app settings for the function (for example PGMI_LOG_LEVEL). Never a password or key: the function authenticates with its managed identity."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_app_settings) : !can(regex("(?i)(PASSWORD|SECRET|PGPASS|TOKEN|PRIVATE_KEY|ACCOUNT_KEY|CONNECTION_STRING)", k))])
    error_message = "extra_app_settings: no passwords, secrets, tokens, keys or connection strings; the function authenticates with its managed identity."
  }
}

# --- Fleet rollouts ------------------------------------------------------------

variable "fleet_enabled" {
  description = "Create the fleet queue (a Service Bus Standard namespace and queue) that carries one message per target database of a fleet rollout back to the function app, the identity's send and receive grants on that queue, and the app settings the handler and the Fleet function's serviceBusTrigger read. false: nothing fleet-related is created."
  type        = bool
  default     = false
}

variable "fleet_concurrency" {
  description = "Concurrency ceiling of fleet rollouts per instance: the Service Bus extension's maxConcurrentCalls, set as the app setting AzureFunctionsJobHost__extensions__serviceBus__maxConcurrentCalls (it overrides host.json, whose value 8 should match). The app-wide ceiling is this times the instances the Fleet function scales to (maximum_instance_count)."
  type        = number
  default     = 8

  validation {
    condition     = var.fleet_concurrency >= 1 && var.fleet_concurrency <= 1000 && floor(var.fleet_concurrency) == var.fleet_concurrency
    error_message = "fleet_concurrency: a whole number from 1 to 1000."
  }
}

variable "fleet_max_deliveries" {
  description = "Deliveries of one fleet message before Service Bus moves it to the queue's dead-letter subqueue (the queue's max_delivery_count)."
  type        = number
  default     = 5

  validation {
    condition     = var.fleet_max_deliveries >= 1 && var.fleet_max_deliveries <= 2000 && floor(var.fleet_max_deliveries) == var.fleet_max_deliveries
    error_message = "fleet_max_deliveries: a whole number from 1 to 2000."
  }
}
