# Fleet rollouts (fleet_enabled): the function publishes one message per
# target database of a wave to the fleet topic (PGMI_FLEET_TOPIC, through
# gocloud.dev/pubsub), and an Eventarc trigger, built like the reset
# trigger, delivers each message back to the same service, which deploys
# that one target. The concurrency ceiling is the service's
# max_instance_count (service.tf).
#
# Dead letters: google_eventarc_trigger has no dead-letter or retry
# argument at either end of the provider pin (google 6.1.0, 6.50.0), and the
# Pub/Sub push subscription that carries the trigger's events is created and
# owned by Eventarc, not by Terraform. Eventarc's own retry policy applies:
# exponential backoff from 10 s to 600 s for 24 h (the subscription's
# retention), after which an unacknowledged message is discarded. The module
# therefore creates the dead-letter topic, a pull subscription that keeps
# what reaches it, and the grants the Pub/Sub service agent needs, and the
# output fleet_dead_letter_command attaches the policy to the trigger's
# subscription (max_delivery_attempts = fleet_max_deliveries) with gcloud,
# once after apply. The function acknowledges deterministic failures (a bad
# bundle, a SQL error) itself, so only retryable failures are redelivered.

locals {
  # PGMI_FLEET_TOPIC: the gocloud.dev/pubsub gcppubsubv2 URL of the topic.
  fleet_topic = var.fleet_enabled ? "gcppubsubv2://${var.project_id}/${google_pubsub_topic.fleet[0].name}" : null

  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "fleet" {
  count = var.fleet_enabled ? 1 : 0

  project = var.project_id
  name    = "${var.name}-fleet"
  labels  = var.labels

  depends_on = [google_project_service.apis]
}

# Publish on the fleet topic only: the function sends the messages of a wave.
resource "google_pubsub_topic_iam_member" "fleet_publisher" {
  count = var.fleet_enabled ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.fleet[0].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.deployer.member
}

# The fleet topic's messages to the function, through the trigger identity
# that already receives events and invokes the service (iam.tf).
resource "google_eventarc_trigger" "fleet" {
  count = var.fleet_enabled ? 1 : 0

  project         = var.project_id
  name            = "${var.name}-fleet"
  location        = var.region
  service_account = google_service_account.trigger.email
  labels          = var.labels

  matching_criteria {
    attribute = "type"
    value     = "google.cloud.pubsub.topic.v1.messagePublished"
  }

  transport {
    pubsub {
      topic = google_pubsub_topic.fleet[0].id
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

resource "google_pubsub_topic" "fleet_dead_letter" {
  count = var.fleet_enabled ? 1 : 0

  project = var.project_id
  name    = "${var.name}-fleet-dead-letter"
  labels  = var.labels

  depends_on = [google_project_service.apis]
}

# Messages published to a topic without a subscription are lost: this one
# keeps dead letters for inspection (gcloud pubsub subscriptions pull).
resource "google_pubsub_subscription" "fleet_dead_letter" {
  count = var.fleet_enabled ? 1 : 0

  project                    = var.project_id
  name                       = "${var.name}-fleet-dead-letter"
  topic                      = google_pubsub_topic.fleet_dead_letter[0].id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}

# Dead-lettering publishes and acknowledges as the Pub/Sub service agent: it
# needs publish on the dead-letter topic and subscribe on the trigger's
# subscription, and nothing else.
resource "google_pubsub_topic_iam_member" "fleet_dead_letter_agent" {
  count = var.fleet_enabled ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.fleet_dead_letter[0].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "fleet_dead_letter_agent" {
  count = var.fleet_enabled ? 1 : 0

  project      = var.project_id
  subscription = google_eventarc_trigger.fleet[0].transport[0].pubsub[0].subscription
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
