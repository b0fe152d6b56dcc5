# Optional scheduled reset: Cloud Scheduler → Pub/Sub topic → Eventarc →
# the function, with the action payload as the message data. The message
# attribute "schedule" names the job; the function adds the publish time to
# tell runs apart.

locals {
  reset_job_name = "${var.name}-reset"
  reset_payload = var.reset == null ? null : {
    for k, v in {
      action   = "reset"
      database = var.reset.database
      bundle   = var.reset.bundle_object == null ? null : "gs://${local.bucket_name}/${var.reset.bundle_object}"
      version  = var.reset.bundle_generation
    } : k => v if v != null
  }
}

resource "google_pubsub_topic" "reset" {
  count = var.reset == null ? 0 : 1

  project = var.project_id
  name    = "${var.name}-reset"
  labels  = var.labels

  depends_on = [google_project_service.apis]
}

resource "google_cloud_scheduler_job" "reset" {
  count = var.reset == null ? 0 : 1

  project     = var.project_id
  region      = var.region
  name        = local.reset_job_name
  description = "pgmi: reset ${var.reset.database}"
  schedule    = var.reset.schedule
  time_zone   = var.reset.time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.reset[0].id
    data       = base64encode(jsonencode(local.reset_payload))
    attributes = {
      schedule = "projects/${var.project_id}/locations/${var.region}/jobs/${local.reset_job_name}"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_eventarc_trigger" "reset" {
  count = var.reset == null ? 0 : 1

  project         = var.project_id
  name            = "${var.name}-reset"
  location        = var.region
  service_account = google_service_account.trigger.email
  labels          = var.labels

  matching_criteria {
    attribute = "type"
    value     = "google.cloud.pubsub.topic.v1.messagePublished"
  }

  transport {
    pubsub {
      topic = google_pubsub_topic.reset[0].id
    }
  }

  destination {
    cloud_run_service {
      service = google_cloud_run_v2_service.deployer.name
      region  = var.region
    }
  }

  depends_on = [
    google_project_iam_member.trigger_receiver,
    google_cloud_run_v2_service_iam_member.trigger_invoker,
  ]
}
