# Identities. The deployer's service account reads bundle_prefix, writes
# results_prefix and logs in to one Cloud SQL instance; the trigger's
# service account may only hand events to the service.

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "${var.name}-deployer"
  display_name = "pgmi deployer (${var.name})"
  description  = "Runs the pgmi Cloud Run function: reads ${var.bundle_prefix}, writes ${var.results_prefix}, logs in to ${var.sql_instance} as an IAM database user."
}

resource "google_service_account" "trigger" {
  project      = var.project_id
  account_id   = "${var.name}-trigger"
  display_name = "pgmi Eventarc triggers (${var.name})"
  description  = "Identity of the Eventarc triggers that invoke the pgmi function."
}

locals {
  objects_path = "projects/_/buckets/${local.bucket_name}/objects/"
}

# Read: objects under bundle_prefix only.
resource "google_storage_bucket_iam_member" "read_bundles" {
  bucket = local.bucket_name
  role   = "roles/storage.objectViewer"
  member = google_service_account.deployer.member

  condition {
    title       = "bundle prefix only"
    description = "Objects under ${var.bundle_prefix}"
    expression  = "resource.name.startsWith(\"${local.objects_path}${var.bundle_prefix}\")"
  }
}

# Write: objects under results_prefix only. objectUser, not objectCreator:
# replacing an existing result object (a duplicate event reports again)
# needs delete on it.
resource "google_storage_bucket_iam_member" "write_results" {
  bucket = local.bucket_name
  role   = "roles/storage.objectUser"
  member = google_service_account.deployer.member

  condition {
    title       = "results prefix only"
    description = "Objects under ${var.results_prefix}"
    expression  = "resource.name.startsWith(\"${local.objects_path}${var.results_prefix}\")"
  }
}

locals {
  signers_match = var.trusted_signers_url == null ? null : regex("^gs://([^/]+)/(.+)$", var.trusted_signers_url)
}

resource "google_storage_bucket_iam_member" "read_trusted_signers" {
  count = var.trusted_signers_url == null ? 0 : 1

  bucket = local.signers_match[0]
  role   = "roles/storage.objectViewer"
  member = google_service_account.deployer.member

  condition {
    title       = "allowed_signers object only"
    description = "The trusted signers file"
    expression  = "resource.name == \"projects/_/buckets/${local.signers_match[0]}/objects/${local.signers_match[1]}\""
  }
}

resource "google_storage_bucket_iam_member" "uploaders" {
  for_each = toset(var.uploader_members)

  bucket = local.bucket_name
  role   = "roles/storage.objectCreator"
  member = each.value

  condition {
    title       = "bundle prefix only"
    description = "Upload bundles under ${var.bundle_prefix}"
    expression  = "resource.name.startsWith(\"${local.objects_path}${var.bundle_prefix}\")"
  }
}

# Eventarc: the trigger identity receives events and invokes the service.
resource "google_project_iam_member" "trigger_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.trigger.member
}

resource "google_cloud_run_v2_service_iam_member" "trigger_invoker" {
  project  = var.project_id
  location = google_cloud_run_v2_service.deployer.location
  name     = google_cloud_run_v2_service.deployer.name
  role     = "roles/run.invoker"
  member   = google_service_account.trigger.member
}

# Cloud Storage publishes its events through Pub/Sub as its service agent.
data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

resource "google_project_iam_member" "gcs_publisher" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = data.google_storage_project_service_account.gcs.member
}
