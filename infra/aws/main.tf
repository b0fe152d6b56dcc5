# Names, URLs and the function's environment, derived once from the inputs.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  bucket_name       = var.create_bucket ? aws_s3_bucket.bundles[0].id : var.bucket_name
  bucket_arn        = "arn:${local.partition}:s3:::${local.bucket_name}"
  bucket_account_id = coalesce(var.bucket_account_id, local.account_id)

  # The build writes dist/aws/pgmi-aws-{arm64,amd64}.zip; Lambda calls the
  # second architecture x86_64.
  package_arch = var.architecture == "arm64" ? "arm64" : "amd64"
  package_path = coalesce(var.package_path, "${path.module}/../../dist/aws/pgmi-aws-${local.package_arch}.zip")

  # Every deploy goes through a route under bundle_prefix, so a key outside
  # it is ignored by the function too, not only by the S3 filter.
  routes = length(var.routes) > 0 ? var.routes : [
    { prefix = var.bundle_prefix, database = var.db_name, params = {} },
  ]

  sslrootcert = var.db_ca_bundle_path != null ? "/opt/rds-ca.pem" : var.db_sslrootcert

  environment = merge(var.extra_environment, {
    for k, v in {
      PGHOST                   = var.db_host
      PGPORT                   = tostring(var.db_port)
      PGUSER                   = var.db_user
      PGDATABASE               = var.db_name
      PGSSLMODE                = var.db_sslmode
      PGSSLROOTCERT            = local.sslrootcert
      PGMI_AUTH                = "aws"
      PGMI_AWS_REGION          = local.region
      PGMI_AWS_ROLE_ARN        = var.db_role_arn
      PGMI_ROUTES              = jsonencode(local.routes)
      PGMI_TRUSTED_SIGNERS     = var.trusted_signers
      PGMI_TRUSTED_SIGNERS_URL = var.trusted_signers_url
      PGMI_ALLOW_UNSIGNED      = var.allow_unsigned ? "true" : null
      PGMI_RESET_ALLOW         = length(var.reset_allow) > 0 ? join(",", var.reset_allow) : null
      PGMI_RESULTS_PREFIX      = var.results_prefix
      PGMI_TIMEOUT_MARGIN      = var.timeout_margin
      PGMI_LOCK_WAIT           = var.lock_wait
      PGMI_LEDGER_TABLE        = var.ledger_table
      PGMI_FLEET_TOPIC         = local.fleet_topic
    } : k => v if v != null
  })
}
