# Inputs of the AWS module. Required: db_host, db_name, and db_resource_id
# (or db_role_arn), plus a trust source (trusted_signers or
# trusted_signers_url). Everything else has a default that is safe to keep.

# --- Naming -------------------------------------------------------------------

variable "name" {
  description = "Name of the deployment: the Lambda function, its role and log group, and the prefix of every other resource's name."
  type        = string
  default     = "pgmi"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name))
    error_message = "name: 2 to 24 characters, lower-case letters, digits and '-', starting with a letter (it prefixes the bucket name, which S3 limits)."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes them."
  type        = map(string)
  default     = {}
}

# --- Bundle bucket -------------------------------------------------------------

variable "create_bucket" {
  description = "Create the bundle bucket (versioned, public access blocked, TLS only). false: use bucket_name, an existing bucket, whose owner keeps versioning on and grants the function's role read on bundle_prefix and write on results_prefix."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the bundle bucket. With create_bucket = true, null lets S3 pick a unique name starting with \"<name>-bundles-\"; with create_bucket = false, the existing bucket (required)."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null ? var.create_bucket : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name: an S3 bucket name (3 to 63 lower-case letters, digits, '.' and '-'); required when create_bucket = false."
  }
}

variable "bucket_account_id" {
  description = "AWS account that owns the bundle bucket, when it is not the account this module is applied in (cross-account releases). Becomes the source_account guard of the function's resource policy."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_account_id == null ? true : can(regex("^[0-9]{12}$", var.bucket_account_id))
    error_message = "bucket_account_id: a 12-digit AWS account id."
  }
}

variable "manage_bucket_notification" {
  description = "Create the S3 event notification on the bucket. Set false when the bucket is in another account: its owner then applies the notification (examples/cross-account). The notification resource owns the bucket's whole notification configuration."
  type        = bool
  default     = true
}

variable "bucket_kms_key_arn" {
  description = "Customer-managed KMS key for the bucket's default encryption (and the function's decrypt/encrypt grant). null: SSE-S3."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.bucket_kms_key_arn))
    error_message = "bucket_kms_key_arn: a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "object_lock" {
  description = "S3 Object Lock default retention for the created bucket (WORM): mode GOVERNANCE or COMPLIANCE and a number of days. Every version of every bundle and result is then kept at least that long. Can only be chosen when the bucket is created. null: no Object Lock."
  type = object({
    mode = string
    days = number
  })
  default = null

  validation {
    condition     = var.object_lock == null ? true : contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock.mode) && var.object_lock.days >= 1 && floor(var.object_lock.days) == var.object_lock.days
    error_message = "object_lock: mode GOVERNANCE or COMPLIANCE, days a whole number of at least 1."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete a bucket that still holds objects. Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "uploader_arns" {
  description = "IAM principal ARNs (roles or users) allowed to write bundles. When set, the bucket policy denies s3:PutObject on bundle_prefix to every other principal: write access there is the right to run SQL as the deployer."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.uploader_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$", a))])
    error_message = "uploader_arns: IAM or STS principal ARNs (arn:aws:iam::<account>:role/<name>, …)."
  }
}

# --- Trigger and results -------------------------------------------------------

variable "bundle_prefix" {
  description = "Key prefix that triggers deploys (the S3 notification's filter prefix), and the only prefix the function can read."
  type        = string
  default     = "bundles/"

  validation {
    condition     = can(regex("^[^/].*/$", var.bundle_prefix))
    error_message = "bundle_prefix: a non-empty key prefix ending in '/', without a leading '/' (an empty prefix would make result objects trigger deploys)."
  }
}

variable "bundle_suffixes" {
  description = "Key suffixes that trigger deploys; one notification filter each, all under bundle_prefix."
  type        = list(string)
  default     = [".tar.gz", ".tgz", ".zip"]

  validation {
    condition     = length(var.bundle_suffixes) > 0 && alltrue([for s in var.bundle_suffixes : can(regex("^\\.[A-Za-z0-9.]+$", s))])
    error_message = "bundle_suffixes: at least one suffix such as \".tar.gz\"."
  }
}

variable "results_prefix" {
  description = "Key prefix of the result objects (PGMI_RESULTS_PREFIX), in the same bucket. The function may write there and nowhere else; it must not overlap bundle_prefix."
  type        = string
  default     = "pgmi-results/"

  validation {
    condition = (
      can(regex("^[^/].*/$", var.results_prefix)) &&
      !startswith(var.results_prefix, var.bundle_prefix) &&
      !startswith(var.bundle_prefix, var.results_prefix)
    )
    error_message = "results_prefix: a non-empty key prefix ending in '/', neither inside bundle_prefix nor containing it (results must never trigger a deploy)."
  }
}

# --- Function ------------------------------------------------------------------

variable "architecture" {
  description = "Lambda instruction set: arm64 (Graviton, the default) or x86_64. Picks dist/aws/pgmi-aws-arm64.zip or -amd64.zip unless package_path is set."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture: arm64 or x86_64."
  }
}

variable "package_path" {
  description = "Path of the deployment package (a zip holding only bootstrap). null: ../../dist/aws/pgmi-aws-<arch>.zip relative to this module, as `make package-aws` writes it."
  type        = string
  default     = null

  validation {
    condition     = var.package_path == null ? true : endswith(var.package_path, ".zip")
    error_message = "package_path: a .zip file (make package-aws)."
  }
}

variable "memory_mb" {
  description = "Lambda memory in MB (CPU scales with it)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb: 128 to 10240."
  }
}

variable "timeout_seconds" {
  description = "Lambda timeout in seconds. The deployer stops timeout_margin before it and cancels the running statement on the server."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout_seconds >= 30 && var.timeout_seconds <= 900
    error_message = "timeout_seconds: 30 to 900 (Lambda's maximum)."
  }
}

variable "ephemeral_storage_mb" {
  description = "Size of /tmp in MB, where bundles are staged."
  type        = number
  default     = 1024

  validation {
    condition     = var.ephemeral_storage_mb >= 512 && var.ephemeral_storage_mb <= 10240
    error_message = "ephemeral_storage_mb: 512 to 10240."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days: one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, …, 3653)."
  }
}

variable "layers" {
  description = "Extra Lambda layer ARNs (for example one that carries your own CA bundle under /opt)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.layers) <= 4 && alltrue([for l in var.layers : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:.+:[0-9]+$", l))])
    error_message = "layers: at most 4 versioned layer ARNs (arn:aws:lambda:<region>:<account>:layer:<name>:<version>); the RDS CA layer takes the fifth slot."
  }
}

variable "max_retry_attempts" {
  description = "Retries Lambda makes of a failed asynchronous invocation (S3 and Scheduler events). Only retryable failures fail an invocation: a bad bundle or a SQL error is reported and acknowledged."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.max_retry_attempts)
    error_message = "max_retry_attempts: 0, 1 or 2."
  }
}

variable "max_event_age_seconds" {
  description = "How long Lambda keeps retrying an event (throttles included) before it goes to the on-failure destination."
  type        = number
  default     = 21600

  validation {
    condition     = var.max_event_age_seconds >= 60 && var.max_event_age_seconds <= 21600
    error_message = "max_event_age_seconds: 60 to 21600."
  }
}

variable "failure_destination_arn" {
  description = "On-failure destination of events that ran out of retries: an SQS queue, SNS topic, Lambda function or EventBridge bus ARN. null: the module creates an encrypted SQS queue \"<name>-failures\"."
  type        = string
  default     = null

  validation {
    condition     = var.failure_destination_arn == null ? true : can(regex("^arn:aws[a-z-]*:(sqs|sns|lambda|events):", var.failure_destination_arn))
    error_message = "failure_destination_arn: an SQS, SNS, Lambda or EventBridge ARN."
  }
}

# --- Network -------------------------------------------------------------------

variable "subnet_ids" {
  description = "Private subnets to run the function in, when the database is not reachable from outside its VPC. The subnets need a route to S3 (a gateway endpoint) and, with db_role_arn, to STS (an interface endpoint or NAT)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids: subnet ids (subnet-…)."
  }
}

variable "security_group_ids" {
  description = "Security groups of the function in the VPC. Empty with subnet_ids set: the module creates one that allows egress to the database port inside the VPC and HTTPS (S3, STS); allow it on the database's security group."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids: security group ids (sg-…)."
  }
}

# --- Database ------------------------------------------------------------------

variable "db_host" {
  description = "Endpoint of the RDS instance, Aurora cluster or RDS Proxy (PGHOST). Use the real endpoint, not a CNAME: the IAM token is signed for this host."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+$", var.db_host))
    error_message = "db_host: a host name, without scheme, port or path."
  }
}

variable "db_port" {
  description = "Database port (PGPORT)."
  type        = number
  default     = 5432

  validation {
    condition     = var.db_port >= 1 && var.db_port <= 65535
    error_message = "db_port: 1 to 65535."
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

variable "db_user" {
  description = "Database role the function logs in as with an IAM token (PGUSER). Create it with infra/sql/aws-rds-iam.sql; its case must match."
  type        = string
  default     = "pgmi_deployer"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.db_user))
    error_message = "db_user: a lower-case PostgreSQL role name (letters, digits, '_')."
  }
}

variable "db_resource_id" {
  description = "DbiResourceId of the instance (db-…), the cluster's resource id (cluster-…) or the proxy id (prx-…): the resource of the rds-db:connect grant. Unused with db_role_arn, whose role holds that grant instead."
  type        = string
  default     = null

  validation {
    condition     = var.db_resource_id == null ? var.db_role_arn != null : can(regex("^(db|cluster|prx)-[A-Za-z0-9]+$", var.db_resource_id))
    error_message = "db_resource_id: db-…, cluster-… or prx-… (aws rds describe-db-instances --query 'DBInstances[].DbiResourceId'); required unless db_role_arn is set."
  }
}

variable "db_role_arn" {
  description = "Role in the database's account to assume before signing IAM tokens (PGMI_AWS_ROLE_ARN), when the database lives in another account than the function. It must trust this function's role and allow rds-db:connect."
  type        = string
  default     = null

  validation {
    condition     = var.db_role_arn == null ? true : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.db_role_arn))
    error_message = "db_role_arn: an IAM role ARN."
  }
}

variable "db_sslmode" {
  description = "PGSSLMODE. IAM logins require TLS; verify-full (the default) also authenticates the server, with the RDS CA bundle from db_ca_bundle_path or db_sslrootcert."
  type        = string
  default     = "verify-full"

  validation {
    condition     = contains(["require", "verify-ca", "verify-full"], var.db_sslmode)
    error_message = "db_sslmode: require, verify-ca or verify-full (IAM authentication never runs without TLS)."
  }
}

variable "db_ca_bundle_path" {
  description = "Local path of the RDS CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem, or the region's bundle). The module ships it as a Lambda layer and points PGSSLROOTCERT at /opt/rds-ca.pem."
  type        = string
  default     = null

  validation {
    condition = (
      var.db_ca_bundle_path != null ||
      var.db_sslrootcert != null ||
      var.db_sslmode == "require"
    )
    error_message = "db_ca_bundle_path: verify-ca and verify-full need the RDS CA bundle: set db_ca_bundle_path (or db_sslrootcert to a file in one of your layers), or choose db_sslmode = \"require\"."
  }
}

variable "db_sslrootcert" {
  description = "PGSSLROOTCERT: path of a CA bundle inside the function (a file under /opt from one of var.layers). Ignored when db_ca_bundle_path is set."
  type        = string
  default     = null

  validation {
    condition     = var.db_sslrootcert == null ? true : startswith(var.db_sslrootcert, "/")
    error_message = "db_sslrootcert: an absolute path inside the function, such as /opt/certs/rds.pem."
  }
}

# --- Deployer settings ---------------------------------------------------------

variable "routes" {
  description = "PGMI_ROUTES: which key prefix deploys to which database, with optional params. Every prefix must lie under bundle_prefix. Empty: one route, bundle_prefix → db_name."
  type = list(object({
    prefix   = string
    database = string
    params   = optional(map(string), {})
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.routes : startswith(r.prefix, var.bundle_prefix) && length(r.database) > 0])
    error_message = "routes: every prefix must start with bundle_prefix (nothing else triggers) and name a database."
  }
}

variable "trusted_signers" {
  description = "PGMI_TRUSTED_SIGNERS: allowed_signers text (one \"<principal> <key type> <public key>\" per line) of the keys whose bundles may deploy. Public keys only. Lambda limits the environment to 4 KB in total: use trusted_signers_url for long lists."
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
  description = "PGMI_TRUSTED_SIGNERS_URL: s3:// URL of an allowed_signers object, read at cold start and again every PGMI_TRUSTED_SIGNERS_TTL (5m) so a revoked key stops deploying. The module grants read on that one object. Keep it where release uploaders cannot write."
  type        = string
  default     = null

  validation {
    condition     = var.trusted_signers_url == null ? true : can(regex("^s3://[a-z0-9][a-z0-9.-]+/[^?]+$", var.trusted_signers_url))
    error_message = "trusted_signers_url: s3://<bucket>/<key>, without query parameters."
  }
}

variable "allow_unsigned" {
  description = "PGMI_ALLOW_UNSIGNED: deploy bundles without checking a signature. Anyone who can write under bundle_prefix then runs SQL as the deployer; never in production."
  type        = bool
  default     = false
}

variable "reset_allow" {
  description = "PGMI_RESET_ALLOW: the databases a reset may drop and recreate. Empty: none."
  type        = list(string)
  default     = []
}

variable "reset" {
  description = "Scheduled reset with EventBridge Scheduler: schedule (cron(…) or rate(…)), timezone, the database (listed in reset_allow), and optionally the bundle key (under bundle_prefix) and version to redeploy; without a key, the last bundle the database's ledger recorded. null: no schedule."
  type = object({
    schedule       = string
    timezone       = optional(string, "UTC")
    database       = string
    bundle_key     = optional(string)
    bundle_version = optional(string)
  })
  default = null

  validation {
    condition = var.reset == null ? true : (
      can(regex("^(cron|rate)\\(.+\\)$", var.reset.schedule)) &&
      contains(var.reset_allow, var.reset.database) &&
      (var.reset.bundle_key == null ? true : startswith(var.reset.bundle_key, var.bundle_prefix))
    )
    error_message = "reset: schedule cron(…) or rate(…); database must be listed in reset_allow; bundle_key, when set, must lie under bundle_prefix."
  }
}

variable "timeout_margin" {
  description = "PGMI_TIMEOUT_MARGIN: how long before the Lambda deadline the deployer stops and cancels the running statement (a Go duration)."
  type        = string
  default     = "10s"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$", var.timeout_margin))
    error_message = "timeout_margin: a Go duration such as 10s or 1m30s."
  }

  # The deployer stops this long before the platform's deadline: a margin at
  # or above the timeout leaves no time, and every event fails at once.
  validation {
    condition     = try(sum([for p in regexall("([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h)", var.timeout_margin) : tonumber(p[0]) * { ms = 0.001, s = 1, m = 60, h = 3600 }[p[1]]]) < var.timeout_seconds, true)
    error_message = "timeout_margin (PGMI_TIMEOUT_MARGIN, ${var.timeout_margin}) must be shorter than timeout_seconds (the Lambda timeout, ${var.timeout_seconds} s): the deployer would have no time left to deploy."
  }
}

variable "lock_wait" {
  description = "PGMI_LOCK_WAIT: how long a deploy waits for another deploy of the same database before failing as retryable (a Go duration)."
  type        = string
  default     = "30s"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$", var.lock_wait))
    error_message = "lock_wait: a Go duration such as 30s or 2m."
  }
}

variable "ledger_table" {
  description = "PGMI_LEDGER_TABLE: schema.table of the deploy ledger in each target database (infra/sql/ creates the schema)."
  type        = string
  default     = "pgmi_ledger.deployments"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]*\\.[a-z_][a-z0-9_]*$", var.ledger_table))
    error_message = "ledger_table: schema.table in lower case."
  }
}

variable "extra_environment" {
  description = "More environment variables for the function (for example PGMI_LOG_LEVEL). Never a password or key: the function authenticates with its role."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : !can(regex("(?i)(PASSWORD|SECRET|PGPASS|TOKEN|PRIVATE_KEY|ACCESS_KEY)", k))])
    error_message = "extra_environment: no passwords, secrets, tokens or keys; the function authenticates with its IAM role."
  }
}

# --- Fleet rollouts ------------------------------------------------------------

variable "fleet_enabled" {
  description = "Create the fleet queue (SQS, with a dead-letter queue) that carries one message per target database of a fleet rollout back to the function, the event source mapping that delivers it, and PGMI_FLEET_TOPIC. false: nothing fleet-related is created."
  type        = bool
  default     = false
}

variable "fleet_concurrency" {
  description = "Concurrency ceiling of fleet rollouts: the event source mapping's scaling_config.maximum_concurrency, so at most this many fleet deploys run at once (whatever a route's own ceiling says)."
  type        = number
  default     = 8

  validation {
    condition     = var.fleet_concurrency >= 2 && var.fleet_concurrency <= 1000 && floor(var.fleet_concurrency) == var.fleet_concurrency
    error_message = "fleet_concurrency: a whole number from 2 to 1000 (the range of an SQS event source mapping's maximum_concurrency)."
  }
}

variable "fleet_max_deliveries" {
  description = "Deliveries of one fleet message before SQS moves it to the fleet dead-letter queue (the redrive policy's maxReceiveCount)."
  type        = number
  default     = 5

  validation {
    condition     = var.fleet_max_deliveries >= 1 && var.fleet_max_deliveries <= 1000 && floor(var.fleet_max_deliveries) == var.fleet_max_deliveries
    error_message = "fleet_max_deliveries: a whole number from 1 to 1000 (SQS maxReceiveCount)."
  }
}
