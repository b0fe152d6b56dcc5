# The function's identity in Cloud SQL: an IAM database user for its service
# account, and the two roles IAM login needs, limited to this one instance.
# What the user may do inside PostgreSQL is granted in SQL
# (infra/sql/gcp-cloudsql-iam.sql).

resource "google_sql_user" "deployer" {
  project  = local.sql_project
  instance = local.sql_instance
  name     = local.db_user
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

locals {
  sql_instance_condition = "resource.name == \"projects/${local.sql_project}/instances/${local.sql_instance}\" && resource.service == \"sqladmin.googleapis.com\""
}

# Ephemeral certificates and connection info from the Cloud SQL Admin API.
resource "google_project_iam_member" "sql_client" {
  project = local.sql_project
  role    = "roles/cloudsql.client"
  member  = google_service_account.deployer.member

  condition {
    title       = "${local.sql_instance} only"
    description = "Connect to the deploy target instance only"
    expression  = local.sql_instance_condition
  }
}

# Log in as the IAM database user (cloudsql.instances.login).
resource "google_project_iam_member" "sql_instance_user" {
  project = local.sql_project
  role    = "roles/cloudsql.instanceUser"
  member  = google_service_account.deployer.member

  condition {
    title       = "${local.sql_instance} only"
    description = "IAM database login on the deploy target instance only"
    expression  = local.sql_instance_condition
  }
}
