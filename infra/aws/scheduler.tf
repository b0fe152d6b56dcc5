# Optional scheduled reset: EventBridge Scheduler invokes the function with
# the action payload. The schedule member is "<arn>@<scheduled time>", the
# same across retries of one run, so a retried run is a duplicate, not a
# second reset.

locals {
  reset_payload = var.reset == null ? null : {
    for k, v in {
      action   = "reset"
      database = var.reset.database
      bundle   = var.reset.bundle_key == null ? null : "s3://${local.bucket_name}/${var.reset.bundle_key}"
      version  = var.reset.bundle_version
      schedule = "<aws.scheduler.schedule-arn>@<aws.scheduler.scheduled-time>"
    } : k => v if v != null
  }

  # jsonencode escapes < and > as \u003c and \u003e; Scheduler only
  # substitutes its context attributes when they are spelled literally.
  reset_input = var.reset == null ? null : replace(replace(jsonencode(local.reset_payload), "\\u003c", "<"), "\\u003e", ">")
}

data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = var.reset == null ? 0 : 1

  name               = "${var.name}-reset-scheduler"
  description        = "EventBridge Scheduler: invoke the pgmi deployer for the scheduled reset"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  count = var.reset == null ? 0 : 1

  name = "invoke-deployer"
  role = aws_iam_role.scheduler[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "lambda:InvokeFunction"
      Resource = [aws_lambda_function.deployer.arn, "${aws_lambda_function.deployer.arn}:*"]
    }]
  })
}

resource "aws_scheduler_schedule" "reset" {
  count = var.reset == null ? 0 : 1

  name                         = "${var.name}-reset"
  description                  = "pgmi: reset ${var.reset.database}"
  schedule_expression          = var.reset.schedule
  schedule_expression_timezone = var.reset.timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.deployer.arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = local.reset_input

    retry_policy {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 3600
    }
  }
}
