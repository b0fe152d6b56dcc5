# Asynchronous invocation settings: how often Lambda retries a failed event
# (only retryable failures fail an invocation) and where an event goes when
# it runs out of retries.

resource "aws_sqs_queue" "failures" {
  count = var.failure_destination_arn == null ? 1 : 0

  name                      = "${var.name}-failures"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_lambda_function_event_invoke_config" "deployer" {
  function_name                = aws_lambda_function.deployer.function_name
  maximum_retry_attempts       = var.max_retry_attempts
  maximum_event_age_in_seconds = var.max_event_age_seconds

  destination_config {
    on_failure {
      destination = local.failure_destination_arn
    }
  }
}
