# Provider requirements. There is no provider block: every resource names
# var.project_id and its location, and credentials come from the
# environment (gcloud auth application-default login, or a CI identity), so
# this directory works as a root module and as a child module alike.
terraform {
  # 1.9: validation blocks that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}
