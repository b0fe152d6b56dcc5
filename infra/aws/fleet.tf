# Fleet rollouts (fleet_enabled): the function publishes one message per
# target database of a wave to the fleet queue (PGMI_FLEET_TOPIC, through
# gocloud.dev/pubsub), and the event source mapping hands each message back
# to the same function, which deploys that one target. The mapping's
# maximum_concurrency is the fleet's concurrency ceiling; a message that
# fails fleet_max_deliveries times goes to the dead-letter queue.

locals {
  # PGMI_FLEET_TOPIC: the gocloud.dev/pubsub awssqs URL of the fleet queue,
  # its URL without the scheme plus the region
  # (awssqs://sqs.<region>.amazonaws.com/<account>/<name>-fleet?region=<region>).
  fleet_topic = var.fleet_enabled ? "awssqs://${trimprefix(aws_sqs_queue.fleet[0].url, "https://")}?region=${local.region}" : null
}

resource "aws_sqs_queue" "fleet_dead_letter" {
  count = var.fleet_enabled ? 1 : 0

  name                      = "${var.name}-fleet-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "fleet" {
  count = var.fleet_enabled ? 1 : 0

  name = "${var.name}-fleet"
  # AWS guidance for Lambda event sources: at least six times the function's
  # timeout, so a message in flight is not delivered a second time while the
  # first deploy still runs (and throttled batches have room for retries).
  visibility_timeout_seconds = 6 * var.timeout_seconds
  message_retention_seconds  = 1209600
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.fleet_dead_letter[0].arn
    maxReceiveCount     = var.fleet_max_deliveries
  })

  tags = var.tags
}

# The mapping polls with the function's role (sqs:ReceiveMessage,
# DeleteMessage, GetQueueAttributes, ChangeMessageVisibility on this queue
# only, iam.tf). One message per invocation: one target database each.
resource "aws_lambda_event_source_mapping" "fleet" {
  count = var.fleet_enabled ? 1 : 0

  function_name    = aws_lambda_function.deployer.arn
  event_source_arn = aws_sqs_queue.fleet[0].arn
  batch_size       = 1

  scaling_config {
    maximum_concurrency = var.fleet_concurrency
  }

  tags = var.tags

  # Lambda checks the role's SQS permissions when the mapping is created.
  depends_on = [aws_iam_role_policy.deployer]
}
