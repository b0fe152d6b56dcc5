output "bucket_name" {
  description = "The bundle bucket."
  value       = local.bucket_name
}

output "bucket_arn" {
  description = "ARN of the bundle bucket."
  value       = local.bucket_arn
}

output "bundle_url_prefix" {
  description = "Upload bundles under this URL to deploy them."
  value       = "s3://${local.bucket_name}/${var.bundle_prefix}"
}

output "results_url_prefix" {
  description = "Result objects appear under this URL: <results prefix><bundle key>.<version>.json."
  value       = "s3://${local.bucket_name}/${var.results_prefix}"
}

output "function_name" {
  description = "Name of the deployer Lambda function (its logs: /aws/lambda/<name>)."
  value       = aws_lambda_function.deployer.function_name
}

output "function_arn" {
  description = "ARN of the deployer Lambda function (the notification target when the bucket is in another account)."
  value       = aws_lambda_function.deployer.arn
}

output "role_arn" {
  description = "ARN of the function's role: the principal a cross-account bucket policy grants, and the one a database account's role trusts."
  value       = aws_iam_role.deployer.arn
}

output "log_group" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.deployer.name
}

output "failure_destination_arn" {
  description = "Where events that ran out of retries go."
  value       = local.failure_destination_arn
}

output "reset_schedule_arn" {
  description = "ARN of the reset schedule, or null."
  value       = try(aws_scheduler_schedule.reset[0].arn, null)
}

output "security_group_id" {
  description = "Security group the module created for the function in the VPC (allow it on the database's security group), or null."
  value       = try(aws_security_group.deployer[0].id, null)
}

output "db_user" {
  description = "The database role to create with infra/sql/aws-rds-iam.sql."
  value       = var.db_user
}

output "upload_example" {
  description = "A command that deploys a bundle, and one that shows its result object."
  value       = <<-EOT
    aws s3 cp app.tgz s3://${local.bucket_name}/${var.bundle_prefix}app.tgz
    aws s3 ls s3://${local.bucket_name}/${var.results_prefix}${var.bundle_prefix}
  EOT
}

output "fleet_queue_url" {
  description = "URL of the fleet queue (SQS) that carries one message per target database of a fleet rollout, or null without fleet_enabled."
  value       = try(aws_sqs_queue.fleet[0].url, null)
}

output "fleet_topic" {
  description = "PGMI_FLEET_TOPIC: the gocloud.dev/pubsub URL of the fleet queue (awssqs://…?region=…), or null without fleet_enabled."
  value       = local.fleet_topic
}

output "fleet_dead_letter_queue_url" {
  description = "URL of the fleet dead-letter queue: messages that failed fleet_max_deliveries times, or null without fleet_enabled."
  value       = try(aws_sqs_queue.fleet_dead_letter[0].url, null)
}
