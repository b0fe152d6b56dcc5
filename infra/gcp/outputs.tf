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

output "fleet_topic" {
  description = "PGMI_FLEET_TOPIC: the gocloud.dev/pubsub URL of the fleet topic (gcppubsubv2://<project>/<topic>, the form gocloud v0.47 reads), or null without fleet_enabled."
  value       = local.fleet_topic
}

output "fleet_trigger_subscription" {
  description = "The Pub/Sub subscription Eventarc created for the fleet trigger, or null without fleet_enabled."
  value       = try(google_eventarc_trigger.fleet[0].transport[0].pubsub[0].subscription, null)
}

output "fleet_dead_letter_topic" {
  description = "The fleet dead-letter topic, or null without fleet_enabled. Its subscription of the same name keeps what reaches it."
  value       = try(google_pubsub_topic.fleet_dead_letter[0].id, null)
}

output "fleet_dead_letter_command" {
  description = "Attaches the dead-letter policy to the fleet trigger's Eventarc-managed subscription (run once after apply; Terraform cannot set it on the trigger), or null without fleet_enabled."
  value       = var.fleet_enabled ? "gcloud pubsub subscriptions update ${google_eventarc_trigger.fleet[0].transport[0].pubsub[0].subscription} --dead-letter-topic=${google_pubsub_topic.fleet_dead_letter[0].id} --max-delivery-attempts=${var.fleet_max_deliveries}" : null
}
