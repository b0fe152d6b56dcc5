# S3 → Lambda: the resource policy names the bucket and its owner account
# (confused-deputy guard), and the notification fires only for bundles under
# bundle_prefix, so result objects never trigger a deploy.

resource "aws_lambda_permission" "s3" {
  statement_id   = "AllowBundleBucket"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.deployer.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.bucket_arn
  source_account = local.bucket_account_id
}

resource "aws_s3_bucket_notification" "bundles" {
  count  = var.manage_bucket_notification ? 1 : 0
  bucket = local.bucket_name

  dynamic "lambda_function" {
    for_each = var.bundle_suffixes
    content {
      id                  = "pgmi${replace(lambda_function.value, ".", "-")}"
      lambda_function_arn = aws_lambda_function.deployer.arn
      events              = ["s3:ObjectCreated:*"]
      filter_prefix       = var.bundle_prefix
      filter_suffix       = lambda_function.value
    }
  }

  # S3 checks that it may invoke the function when the configuration is saved.
  depends_on = [aws_lambda_permission.s3]
}
