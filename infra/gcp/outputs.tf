output "bucket_name" {
  description = "The bundle bucket."
  value       = local.bucket_name
}

output "bundle_url_prefix" {
  description = "Upload bundles under this URL to deploy them."
  value       = "gs://${local.bucket_name}/${var.bundle_prefix}"
}

output "results_url_prefix" {
  description = "Result objects appear under this URL: <results prefix><object name>.<generation>.json."
  value       = "gs://${local.bucket_name}/${var.results_prefix}"
}

output "service_name" {
  description = "The Cloud Run service that runs the function."
  value       = google_cloud_run_v2_service.deployer.name
}

output "service_account_email" {
  description = "The function's service account."
  value       = google_service_account.deployer.email
}

output "db_user" {
  description = "The IAM database user the function logs in as; grant it with infra/sql/gcp-cloudsql-iam.sql."
  value       = local.db_user
}

output "trigger_name" {
  description = "The Eventarc trigger of bundle uploads."
  value       = google_eventarc_trigger.bundles.name
}

output "reset_topic" {
  description = "Pub/Sub topic of the scheduled reset (publish an action payload to it to reset by hand), or null."
  value       = try(google_pubsub_topic.reset[0].id, null)
}

output "upload_example" {
  description = "A command that deploys a bundle, and one that lists its result objects."
  value       = <<-EOT
    gcloud storage cp app.tgz gs://${local.bucket_name}/${var.bundle_prefix}app.tgz
    gcloud storage ls gs://${local.bucket_name}/${var.results_prefix}${var.bundle_prefix}
  EOT
}
