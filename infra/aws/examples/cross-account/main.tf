# Cross-account release: CI in the build account uploads signed bundles to a
# bucket it owns; the function in the target account, next to the database,
# is notified directly by S3, reads the bundle through the bucket policy,
# verifies its signature, and writes the result object back.

data "aws_caller_identity" "build" {
  provider = aws.build
}

# --- Build account: the bucket ---------------------------------------------------

resource "aws_s3_bucket" "bundles" {
  provider      = aws.build
  bucket_prefix = "${var.name}-bundles-"
}

resource "aws_s3_bucket_versioning" "bundles" {
  provider = aws.build
  bucket   = aws_s3_bucket.bundles.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "bundles" {
  provider = aws.build
  bucket   = aws_s3_bucket.bundles.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Result objects the target account writes belong to the build account.
resource "aws_s3_bucket_ownership_controls" "bundles" {
  provider = aws.build
  bucket   = aws_s3_bucket.bundles.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# SSE-S3: a customer-managed key would also need a key policy for the
# target account's role.
resource "aws_s3_bucket_server_side_encryption_configuration" "bundles" {
  provider = aws.build
  bucket   = aws_s3_bucket.bundles.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

data "aws_iam_policy_document" "bundles" {
  statement {
    sid       = "TargetDeployerReadsBundles"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.bundles.arn}/${var.bundle_prefix}*"]
    principals {
      type        = "AWS"
      identifiers = [module.pgmi.role_arn]
    }
  }

  statement {
    sid       = "TargetDeployerWritesResults"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.bundles.arn}/${var.results_prefix}*"]
    principals {
      type        = "AWS"
      identifiers = [module.pgmi.role_arn]
    }
  }

  statement {
    sid       = "OnlyTheDeployerWritesResults"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.bundles.arn}/${var.results_prefix}*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [module.pgmi.role_arn]
    }
  }

  statement {
    sid       = "OnlyUploadersWriteBundles"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.bundles.arn}/${var.bundle_prefix}*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = var.uploader_arns
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.bundles.arn, "${aws_s3_bucket.bundles.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "bundles" {
  provider = aws.build
  bucket   = aws_s3_bucket.bundles.id
  policy   = data.aws_iam_policy_document.bundles.json

  depends_on = [aws_s3_bucket_public_access_block.bundles]
}

# --- Target account: the function ------------------------------------------------

module "pgmi" {
  source = "../.."

  providers = {
    aws     = aws.target
    archive = archive
  }

  name = var.name

  create_bucket              = false
  bucket_name                = aws_s3_bucket.bundles.id
  bucket_account_id          = data.aws_caller_identity.build.account_id
  manage_bucket_notification = false
  bundle_prefix              = var.bundle_prefix
  results_prefix             = var.results_prefix

  db_host           = var.db_host
  db_name           = var.db_name
  db_user           = var.db_user
  db_resource_id    = var.db_resource_id
  db_ca_bundle_path = var.db_ca_bundle_path
  subnet_ids        = var.subnet_ids

  trusted_signers = var.trusted_signers

  # The fleet queue lives in the target account, next to the function.
  fleet_enabled     = var.fleet_enabled
  fleet_concurrency = var.fleet_concurrency
}

# --- Build account: the notification to the target account's function ------------

resource "aws_s3_bucket_notification" "bundles" {
  provider = aws.build
  bucket   = aws_s3_bucket.bundles.id

  dynamic "lambda_function" {
    for_each = [".tar.gz", ".tgz", ".zip"]
    content {
      id                  = "pgmi${replace(lambda_function.value, ".", "-")}"
      lambda_function_arn = module.pgmi.function_arn
      events              = ["s3:ObjectCreated:*"]
      filter_prefix       = var.bundle_prefix
      filter_suffix       = lambda_function.value
    }
  }

  # The function's resource policy (source_account = the build account) must
  # exist before S3 validates the destination.
  depends_on = [module.pgmi, aws_s3_bucket_policy.bundles]
}
