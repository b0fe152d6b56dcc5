# The function: the image from dist/gcp on Cloud Run, reachable only from
# inside the project (Eventarc), one event per instance at a time.

resource "google_cloud_run_v2_service" "deployer" {
  project             = var.project_id
  name                = var.name
  location            = var.region
  description         = "pgmi: deploys signed bundles uploaded to gs://${local.bucket_name}/${var.bundle_prefix}"
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account                  = google_service_account.deployer.email
    timeout                          = "${var.timeout_seconds}s"
    max_instance_request_concurrency = 1

    # Fleet rollouts: Cloud Run enforces the ceiling. With one request per
    # instance (max_instance_request_concurrency above), max_instance_count
    # is the number of deploys that can run at once; Eventarc's push
    # subscription backs off when every instance is busy and redelivers
    # later. The cap covers the whole service (fleet targets, uploads and
    # resets share it), which is why fleet_concurrency replaces
    # max_instances instead of adding to it.
    scaling {
      max_instance_count = var.fleet_enabled ? var.fleet_concurrency : var.max_instances
    }

    dynamic "vpc_access" {
      for_each = var.vpc_network == null ? [] : [1]
      content {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = var.vpc_network
          subnetwork = var.vpc_subnetwork
        }
      }
    }

    containers {
      image = var.image

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle = true
      }

      dynamic "env" {
        for_each = local.environment
        content {
          name  = env.key
          value = env.value
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

# Cloud Storage "finalized" events of the bucket (a new object or a new
# generation of one). Eventarc filters these by bucket only; the function's
# routes keep it to bundle_prefix. Failed deliveries are retried by the
# trigger's Pub/Sub subscription (exponential backoff, 24 h retention), and
# the function fails only retryable attempts.
resource "google_eventarc_trigger" "bundles" {
  project         = var.project_id
  name            = "${var.name}-bundles"
  location        = local.trigger_location
  service_account = google_service_account.trigger.email
  labels          = var.labels

  matching_criteria {
    attribute = "type"
    value     = "google.cloud.storage.object.v1.finalized"
  }

  matching_criteria {
    attribute = "bucket"
    value     = local.bucket_name
  }

  destination {
    cloud_run_service {
      service = google_cloud_run_v2_service.deployer.name
      region  = var.region
    }
  }

  depends_on = [
    google_project_iam_member.gcs_publisher,
    google_project_iam_member.trigger_receiver,
    google_cloud_run_v2_service_iam_member.trigger_invoker,
  ]
}
