output "bundle_url_prefix" {
  description = "CI in the build account uploads signed bundles here."
  value       = "s3://${aws_s3_bucket.bundles.id}/${var.bundle_prefix}"
}

output "results_url_prefix" {
  description = "Result objects written by the target account's function."
  value       = "s3://${aws_s3_bucket.bundles.id}/${var.results_prefix}"
}

output "function_arn" {
  description = "The deployer in the target account."
  value       = module.pgmi.function_arn
}

output "deployer_role_arn" {
  description = "The target account's deployer role that the bucket policy grants."
  value       = module.pgmi.role_arn
}
