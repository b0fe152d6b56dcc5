# The bundle bucket: versioned (every upload is a new version the function
# pins), private, TLS only, optionally WORM with Object Lock. Skipped when
# create_bucket = false.

resource "aws_s3_bucket" "bundles" {
  count = var.create_bucket ? 1 : 0

  bucket              = var.bucket_name
  bucket_prefix       = var.bucket_name == null ? "${var.name}-bundles-" : null
  object_lock_enabled = var.object_lock != null
  force_destroy       = var.force_destroy
  tags                = var.tags
}

resource "aws_s3_bucket_versioning" "bundles" {
  count  = var.create_bucket ? 1 : 0
  bucket = aws_s3_bucket.bundles[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "bundles" {
  count  = var.create_bucket ? 1 : 0
  bucket = aws_s3_bucket.bundles[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Objects belong to the bucket owner whoever writes them (result objects
# written by a function in another account included); ACLs are off.
resource "aws_s3_bucket_ownership_controls" "bundles" {
  count  = var.create_bucket ? 1 : 0
  bucket = aws_s3_bucket.bundles[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "bundles" {
  count  = var.create_bucket ? 1 : 0
  bucket = aws_s3_bucket.bundles[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.bucket_kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.bucket_kms_key_arn
    }
    bucket_key_enabled = var.bucket_kms_key_arn != null
  }
}

resource "aws_s3_bucket_object_lock_configuration" "bundles" {
  count  = var.create_bucket && var.object_lock != null ? 1 : 0
  bucket = aws_s3_bucket.bundles[0].id

  rule {
    default_retention {
      mode = var.object_lock.mode
      days = var.object_lock.days
    }
  }

  depends_on = [aws_s3_bucket_versioning.bundles]
}

data "aws_iam_policy_document" "bucket" {
  count = var.create_bucket ? 1 : 0

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.bundles[0].arn,
      "${aws_s3_bucket.bundles[0].arn}/*",
    ]
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

  # Result objects are evidence of what ran: only the deployer writes them.
  statement {
    sid       = "OnlyTheDeployerWritesResults"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.bundles[0].arn}/${var.results_prefix}*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.deployer.arn]
    }
  }

  dynamic "statement" {
    for_each = length(var.uploader_arns) > 0 ? [1] : []
    content {
      sid       = "OnlyUploadersWriteBundles"
      effect    = "Deny"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.bundles[0].arn}/${var.bundle_prefix}*"]
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
  }
}

resource "aws_s3_bucket_policy" "bundles" {
  count  = var.create_bucket ? 1 : 0
  bucket = aws_s3_bucket.bundles[0].id
  policy = data.aws_iam_policy_document.bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.bundles]
}
