# The function: the bootstrap binary on provided.al2023, its log group, and
# the optional layer that carries the RDS CA bundle for verify-full.

resource "aws_cloudwatch_log_group" "deployer" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "archive_file" "rds_ca" {
  count       = var.db_ca_bundle_path == null ? 0 : 1
  type        = "zip"
  output_path = "${path.root}/.terraform/tmp/${var.name}-rds-ca.zip"

  source {
    content  = file(var.db_ca_bundle_path)
    filename = "rds-ca.pem"
  }
}

resource "aws_lambda_layer_version" "rds_ca" {
  count = var.db_ca_bundle_path == null ? 0 : 1

  layer_name               = "${var.name}-rds-ca"
  description              = "RDS CA bundle at /opt/rds-ca.pem for PGSSLROOTCERT"
  filename                 = data.archive_file.rds_ca[0].output_path
  source_code_hash         = data.archive_file.rds_ca[0].output_base64sha256
  compatible_runtimes      = ["provided.al2023"]
  compatible_architectures = [var.architecture]
}

resource "aws_lambda_function" "deployer" {
  function_name = var.name
  description   = "pgmi: deploys signed bundles uploaded under ${var.bundle_prefix} to PostgreSQL"
  role          = aws_iam_role.deployer.arn

  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = local.package_path
  source_code_hash = filebase64sha256(local.package_path)

  memory_size = var.memory_mb
  timeout     = var.timeout_seconds
  layers      = concat(aws_lambda_layer_version.rds_ca[*].arn, var.layers)

  ephemeral_storage {
    size = var.ephemeral_storage_mb
  }

  environment {
    variables = local.environment
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = local.security_group_ids
    }
  }

  # The function writes one JSON object per line with a "level" field, which
  # the JSON log format's level filter reads.
  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.deployer.name
  }

  tags = var.tags

  depends_on = [
    aws_iam_role_policy.deployer,
    aws_iam_role_policy_attachment.vpc,
  ]
}
