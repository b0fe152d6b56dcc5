# Names, the Cloud SQL instance's parts, and the function's environment.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  bucket_name      = var.create_bucket ? google_storage_bucket.bundles[0].name : var.bucket_name
  bucket_location  = coalesce(var.bucket_location, var.region)
  trigger_location = lower(local.bucket_location)

  # project:region:instance, where the project may be domain-scoped
  # (example.com:project).
  sql_parts    = split(":", var.sql_instance)
  sql_instance = local.sql_parts[length(local.sql_parts) - 1]
  sql_project  = join(":", slice(local.sql_parts, 0, length(local.sql_parts) - 2))

  # The IAM database user of a service account is its e-mail without
  # ".gserviceaccount.com".
  db_user = trimsuffix(google_service_account.deployer.email, ".gserviceaccount.com")

  # Eventarc delivers every object of the bucket; the routes are what keeps
  # the function to bundle_prefix.
  routes = length(var.routes) > 0 ? var.routes : [
    { prefix = var.bundle_prefix, database = var.db_name, params = {} },
  ]

  environment = merge(var.extra_environment, {
    for k, v in {
      FUNCTION_TARGET          = "Deploy"
      PGUSER                   = local.db_user
      PGDATABASE               = var.db_name
      PGMI_AUTH                = "google"
      PGMI_GOOGLE_INSTANCE     = var.sql_instance
      PGMI_GOOGLE_IP_TYPE      = var.sql_ip_type
      PGMI_ROUTES              = jsonencode(local.routes)
      PGMI_TRUSTED_SIGNERS     = var.trusted_signers
      PGMI_TRUSTED_SIGNERS_URL = var.trusted_signers_url
      PGMI_ALLOW_UNSIGNED      = var.allow_unsigned ? "true" : null
      PGMI_RESET_ALLOW         = length(var.reset_allow) > 0 ? join(",", var.reset_allow) : null
      PGMI_RESULTS_PREFIX      = var.results_prefix
      PGMI_TIMEOUT             = "${var.timeout_seconds}s"
      # The functions framework reads this as each event's deadline; Cloud
      # Run is not documented to set it.
      CLOUD_RUN_TIMEOUT_SECONDS = tostring(var.timeout_seconds)
      PGMI_TIMEOUT_MARGIN       = var.timeout_margin
      PGMI_LOCK_WAIT            = var.lock_wait
      PGMI_LEDGER_TABLE         = var.ledger_table
      PGMI_FLEET_TOPIC          = local.fleet_topic
    } : k => v if v != null
  })
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? toset([
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ]) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
