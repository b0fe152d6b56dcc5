# The bundle bucket: every upload is a new generation, which the function
# pins; no public access; uniform bucket-level access, so the prefix-scoped
# IAM conditions in iam.tf are the whole access story.
#
# A bucket retention policy (Bucket Lock) is deliberately not offered: it
# would also forbid the function to replace a result object when a
# duplicate event reports again. Versioning keeps every generation instead.

resource "google_storage_bucket" "bundles" {
  count = var.create_bucket ? 1 : 0

  project                     = var.project_id
  name                        = coalesce(var.bucket_name, "${var.project_id}-${var.name}-bundles")
  location                    = local.bucket_location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels

  versioning {
    enabled = true
  }

  depends_on = [google_project_service.apis]
}
