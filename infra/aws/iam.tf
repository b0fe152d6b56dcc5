# The function's role: read exactly the bundle prefix, write exactly the
# results prefix, connect to the database as one user, write its own logs,
# send failed events to the failure destination. Nothing else.

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "deployer" {
  name               = var.name
  description        = "pgmi deployer Lambda: reads ${var.bundle_prefix}, writes ${var.results_prefix}, logs in to PostgreSQL as ${var.db_user}"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

locals {
  # s3://bucket/key → arn:aws:s3:::bucket/key, for the one trust object.
  trusted_signers_object_arn = var.trusted_signers_url == null ? null : "arn:${local.partition}:s3:::${trimprefix(var.trusted_signers_url, "s3://")}"

  failure_destination_arn = coalesce(var.failure_destination_arn, try(aws_sqs_queue.failures[0].arn, null))
  failure_send_action = {
    sqs    = "sqs:SendMessage"
    sns    = "sns:Publish"
    lambda = "lambda:InvokeFunction"
    events = "events:PutEvents"
  }[split(":", local.failure_destination_arn)[2]]

  # With db_role_arn the database is in another account, and that role holds
  # rds-db:connect; this role only assumes it.
  db_user_arn = var.db_resource_id == null || var.db_role_arn != null ? null : "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${var.db_resource_id}/${var.db_user}"
}

data "aws_iam_policy_document" "deployer" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.deployer.arn}:*"]
  }

  # Read access: the bundle prefix only, any version of it.
  statement {
    sid       = "ReadBundles"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arn}/${var.bundle_prefix}*"]
  }

  # Write access: the results prefix only, and no read or delete there.
  statement {
    sid       = "WriteResults"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/${var.results_prefix}*"]
  }

  dynamic "statement" {
    for_each = local.trusted_signers_object_arn == null ? [] : [1]
    content {
      sid       = "ReadTrustedSigners"
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = [local.trusted_signers_object_arn]
    }
  }

  dynamic "statement" {
    for_each = var.bucket_kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.bucket_kms_key_arn]
    }
  }

  # IAM database authentication for exactly one database user.
  dynamic "statement" {
    for_each = local.db_user_arn == null ? [] : [1]
    content {
      sid       = "ConnectAsDeployer"
      actions   = ["rds-db:connect"]
      resources = [local.db_user_arn]
    }
  }

  # The database lives in another account: sign tokens as its role.
  dynamic "statement" {
    for_each = var.db_role_arn == null ? [] : [1]
    content {
      sid       = "AssumeDatabaseRole"
      actions   = ["sts:AssumeRole"]
      resources = [var.db_role_arn]
    }
  }

  # Fleet rollouts: publish the messages of a wave to the fleet queue, and
  # let the event source mapping (which polls with this role) receive,
  # delete and extend them. The fleet queue only.
  dynamic "statement" {
    for_each = var.fleet_enabled ? [1] : []
    content {
      sid       = "PublishFleetMessages"
      actions   = ["sqs:SendMessage", "sqs:SendMessageBatch"]
      resources = [aws_sqs_queue.fleet[0].arn]
    }
  }

  dynamic "statement" {
    for_each = var.fleet_enabled ? [1] : []
    content {
      sid       = "ConsumeFleetMessages"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [aws_sqs_queue.fleet[0].arn]
    }
  }

  statement {
    sid       = "SendFailedEvents"
    actions   = [local.failure_send_action]
    resources = [local.failure_destination_arn]
  }
}

resource "aws_iam_role_policy" "deployer" {
  name   = "pgmi-deployer"
  role   = aws_iam_role.deployer.id
  policy = data.aws_iam_policy_document.deployer.json
}

# Elastic network interfaces for a function inside a VPC.
resource "aws_iam_role_policy_attachment" "vpc" {
  count      = length(var.subnet_ids) > 0 ? 1 : 0
  role       = aws_iam_role.deployer.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
