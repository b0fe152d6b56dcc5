# Inputs of the Google Cloud module. Required: project_id, region, image,
# sql_instance, db_name, and a trust source (trusted_signers or
# trusted_signers_url).

# --- Project and naming --------------------------------------------------------

variable "project_id" {
  description = "Project of the bucket, the function and its service accounts."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id: a Google Cloud project id (6 to 30 lower-case letters, digits and '-')."
  }
}

variable "region" {
  description = "Region of the Cloud Run service, the scheduler job and (unless bucket_location says otherwise) the bucket and its Eventarc trigger."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region: a Google Cloud region such as europe-west1."
  }
}

variable "name" {
  description = "Name of the Cloud Run service and prefix of the other resources' names."
  type        = string
  default     = "pgmi"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}[a-z0-9]$", var.name))
    error_message = "name: 2 to 21 characters, lower-case letters, digits and '-', starting with a letter (service account ids are limited to 30)."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "enable_apis" {
  description = "Enable the APIs the module uses (Cloud Run, Eventarc, Pub/Sub, Cloud Storage, Cloud SQL Admin, Cloud Scheduler, IAM). They are never disabled on destroy."
  type        = bool
  default     = true
}

# --- Bundle bucket -------------------------------------------------------------

variable "create_bucket" {
  description = "Create the bundle bucket (uniform access, public access prevented, object versioning). false: use bucket_name, an existing bucket in project_id, which must have uniform bucket-level access (the prefix-scoped grants are IAM conditions) and should have versioning."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the bundle bucket. null with create_bucket = true: \"<project_id>-<name>-bundles\"."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null ? var.create_bucket : can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name: a Cloud Storage bucket name (3 to 63 lower-case letters, digits, '.', '_' and '-'); required when create_bucket = false."
  }
}

variable "bucket_location" {
  description = "Location of the bucket (a region, dual-region or multi-region such as EU). The Eventarc trigger is created in the same location, as Eventarc requires. null: region."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_location == null ? true : can(regex("^[A-Za-z0-9-]+$", var.bucket_location))
    error_message = "bucket_location: a location such as europe-west1, EU or EUR4."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete a bucket that still holds objects. Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "uploader_members" {
  description = "IAM members (serviceAccount:…, group:…) granted object create on bundle_prefix only, such as the release pipeline's service account. Anyone who can write there runs SQL as the deployer."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.uploader_members : can(regex("^(serviceAccount|group|user|principal|principalSet):.+$", m))])
    error_message = "uploader_members: IAM members such as serviceAccount:ci@project.iam.gserviceaccount.com."
  }
}

# --- Trigger and results -------------------------------------------------------

variable "bundle_prefix" {
  description = "Object name prefix of bundles: the only prefix the function can read, and its only route. Eventarc filters Cloud Storage events by bucket only, so the function ignores every other object (result objects included)."
  type        = string
  default     = "bundles/"

  validation {
    condition     = can(regex("^[^/].*/$", var.bundle_prefix))
    error_message = "bundle_prefix: a non-empty object name prefix ending in '/', without a leading '/'."
  }
}

variable "results_prefix" {
  description = "Object name prefix of the result objects (PGMI_RESULTS_PREFIX) in the same bucket: the only prefix the function can write. Must not overlap bundle_prefix."
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

# --- Function ------------------------------------------------------------------

variable "image" {
  description = "Container image of the function, built from dist/gcp (make package-gcp) and pushed to Artifact Registry; pin it by digest (…@sha256:…)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$", var.image))
    error_message = "image: a registry image reference with a tag or digest, such as europe-west1-docker.pkg.dev/my-project/pgmi/pgmi@sha256:…."
  }
}

variable "cpu" {
  description = "CPU limit of an instance."
  type        = string
  default     = "1"

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.cpu)
    error_message = "cpu: 1, 2, 4, 6 or 8."
  }
}

variable "memory" {
  description = "Memory limit of an instance. Cloud Run's file system is in memory, so staged bundles count against it."
  type        = string
  default     = "1Gi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.memory))
    error_message = "memory: a size such as 512Mi or 2Gi."
  }
}

variable "timeout_seconds" {
  description = "Request timeout of the service and each event's deadline (CLOUD_RUN_TIMEOUT_SECONDS, PGMI_TIMEOUT). 540 s is the limit of event-driven Cloud Run functions, and Eventarc's push subscription waits at most 600 s for an answer before it redelivers."
  type        = number
  default     = 540

  validation {
    condition     = var.timeout_seconds >= 60 && var.timeout_seconds <= 540
    error_message = "timeout_seconds: 60 to 540."
  }
}

variable "max_instances" {
  description = "Upper bound of instances. Each handles one event at a time; the advisory lock, not this bound, serialises deploys of one database."
  type        = number
  default     = 10

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 100
    error_message = "max_instances: 1 to 100."
  }
}

variable "vpc_network" {
  description = "VPC network for Direct VPC egress, needed with sql_ip_type private. null: no VPC access."
  type        = string
  default     = null
}

variable "vpc_subnetwork" {
  description = "Subnetwork for Direct VPC egress (with vpc_network)."
  type        = string
  default     = null

  validation {
    condition     = (var.vpc_network == null) == (var.vpc_subnetwork == null)
    error_message = "vpc_subnetwork: set vpc_network and vpc_subnetwork together."
  }
}

variable "deletion_protection" {
  description = "Refuse to destroy the Cloud Run service."
  type        = bool
  default     = false
}

# --- Database ------------------------------------------------------------------

variable "sql_instance" {
  description = "Connection name of the Cloud SQL for PostgreSQL instance, project:region:instance (PGMI_GOOGLE_INSTANCE). The instance needs the flag cloudsql.iam_authentication=on."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9.-]+:)?[a-z][a-z0-9-]+:[a-z]+-[a-z]+[0-9]+:[a-z][a-z0-9-]*$", var.sql_instance))
    error_message = "sql_instance: project:region:instance (gcloud sql instances describe INSTANCE --format='value(connectionName)')."
  }
}

variable "sql_ip_type" {
  description = "PGMI_GOOGLE_IP_TYPE: public, private (needs vpc_network) or psc."
  type        = string
  default     = "public"

  validation {
    condition     = contains(["public", "private", "psc"], var.sql_ip_type) && (var.sql_ip_type == "public" || var.vpc_network != null)
    error_message = "sql_ip_type: public, private or psc; private and psc need vpc_network and vpc_subnetwork."
  }
}

variable "db_name" {
  description = "Target database of deploys (PGDATABASE) when no route names another."
  type        = string

  validation {
    condition     = length(var.db_name) > 0 && length(var.db_name) <= 63
    error_message = "db_name: 1 to 63 characters."
  }
}

# --- Deployer settings ---------------------------------------------------------

variable "routes" {
  description = "PGMI_ROUTES: which object name prefix deploys to which database, with optional params. Every prefix must lie under bundle_prefix. Empty: one route, bundle_prefix → db_name."
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
  description = "PGMI_TRUSTED_SIGNERS_URL: gs:// URL of an allowed_signers object, read at cold start and again every PGMI_TRUSTED_SIGNERS_TTL (5m) so a revoked key stops deploying. The module grants read on that one object; keep it where uploaders cannot write."
  type        = string
  default     = null

  validation {
    condition     = var.trusted_signers_url == null ? true : can(regex("^gs://[a-z0-9][a-z0-9._-]+/[^?]+$", var.trusted_signers_url))
    error_message = "trusted_signers_url: gs://<bucket>/<object>, without query parameters."
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
  description = "Scheduled reset: Cloud Scheduler publishes the action payload to a Pub/Sub topic that an Eventarc trigger delivers to the function. schedule is unix-cron (5 fields), database must be in reset_allow, bundle_object (under bundle_prefix) and bundle_generation are optional (without them, the last bundle the ledger recorded). null: no schedule."
  type = object({
    schedule          = string
    time_zone         = optional(string, "Etc/UTC")
    database          = string
    bundle_object     = optional(string)
    bundle_generation = optional(string)
  })
  default = null

  validation {
    condition = var.reset == null ? true : (
      length(split(" ", trimspace(var.reset.schedule))) == 5 &&
      contains(var.reset_allow, var.reset.database) &&
      (var.reset.bundle_object == null ? true : startswith(var.reset.bundle_object, var.bundle_prefix))
    )
    error_message = "reset: schedule is unix-cron with 5 fields; database must be listed in reset_allow; bundle_object, when set, must lie under bundle_prefix."
  }
}

variable "timeout_margin" {
  description = "PGMI_TIMEOUT_MARGIN: how long before timeout_seconds the deployer stops and cancels the running statement (a Go duration)."
  type        = string
  default     = "10s"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$", var.timeout_margin))
    error_message = "timeout_margin: a Go duration such as 10s."
  }

  # The deployer stops this long before the platform's deadline: a margin at
  # or above the timeout leaves no time, and every event fails at once.
  validation {
    condition     = try(sum([for p in regexall("([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h)", var.timeout_margin) : tonumber(p[0]) * { ms = 0.001, s = 1, m = 60, h = 3600 }[p[1]]]) < var.timeout_seconds, true)
    error_message = "timeout_margin (PGMI_TIMEOUT_MARGIN, ${var.timeout_margin}) must be shorter than timeout_seconds (the Cloud Run request timeout, ${var.timeout_seconds} s): the deployer would have no time left to deploy."
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

variable "extra_environment" {
  description = "More environment variables for the function (for example PGMI_LOG_LEVEL). Never a password or key: the function logs in with its service account."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : !can(regex("(?i)(PASSWORD|SECRET|PGPASS|TOKEN|PRIVATE_KEY|CREDENTIALS)", k))])
    error_message = "extra_environment: no passwords, secrets, tokens or keys; the function logs in with its service account."
  }
}

# --- Fleet rollouts ------------------------------------------------------------

variable "fleet_enabled" {
  description = "Create the fleet topic (Pub/Sub) that carries one message per target database of a fleet rollout, its Eventarc trigger to the function, a dead-letter topic, and PGMI_FLEET_TOPIC; and cap the service's instances at fleet_concurrency. false: nothing fleet-related is created."
  type        = bool
  default     = false
}

variable "fleet_concurrency" {
  description = "Concurrency ceiling of fleet rollouts. With fleet_enabled it replaces max_instances as the service's max_instance_count; each instance takes one request at a time, so at most this many deploys (fleet targets, uploads and resets together) run at once."
  type        = number
  default     = 8

  validation {
    condition     = var.fleet_concurrency >= 1 && var.fleet_concurrency <= 100 && floor(var.fleet_concurrency) == var.fleet_concurrency
    error_message = "fleet_concurrency: a whole number from 1 to 100 (the range of max_instances)."
  }
}

variable "fleet_max_deliveries" {
  description = "Delivery attempts of one fleet message before Pub/Sub moves it to the fleet dead-letter topic, once the dead-letter policy is attached to the trigger's subscription (output fleet_dead_letter_command; README, Fleet rollouts)."
  type        = number
  default     = 5

  validation {
    condition     = var.fleet_max_deliveries >= 5 && var.fleet_max_deliveries <= 100 && floor(var.fleet_max_deliveries) == var.fleet_max_deliveries
    error_message = "fleet_max_deliveries: a whole number from 5 to 100 (Pub/Sub max_delivery_attempts)."
  }
}
