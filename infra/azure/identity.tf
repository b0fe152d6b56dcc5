# The function's user-assigned identity and what it may touch: read blobs
# under bundle_prefix, create or replace blobs under results_prefix (a custom
# role with the two write actions and nothing else), its own host storage,
# and Application Insights ingestion. Database access is an Entra principal
# mapped in SQL (infra/sql/azure-entra.sql).

resource "azurerm_user_assigned_identity" "deployer" {
  name                = local.identity_name
  resource_group_name = local.resource_group
  location            = var.location
  tags                = var.tags
}

locals {
  blob_path   = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]"
  blob_prefix = "@Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix]"
  blob_read   = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
  blob_write  = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
  blob_add    = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action"

  # Reads of blob content only under bundle_prefix; listings only of names
  # under it.
  read_bundles_condition = <<-EOT
    (
      (
        !(ActionMatches{'${local.blob_read}'} AND NOT SubOperationMatches{'Blob.List'})
      )
      OR
      (
        ${local.blob_path} StringStartsWith '${var.bundle_prefix}'
      )
    )
    AND
    (
      (
        !(ActionMatches{'${local.blob_read}'} AND SubOperationMatches{'Blob.List'})
      )
      OR
      (
        ${local.blob_prefix} StringStartsWith '${var.bundle_prefix}'
      )
    )
  EOT

  write_results_condition = <<-EOT
    (
      (
        !(ActionMatches{'${local.blob_write}'})
        AND
        !(ActionMatches{'${local.blob_add}'})
      )
      OR
      (
        ${local.blob_path} StringStartsWith '${var.results_prefix}'
      )
    )
  EOT

  write_bundles_condition = <<-EOT
    (
      (
        !(ActionMatches{'${local.blob_write}'})
        AND
        !(ActionMatches{'${local.blob_add}'})
      )
      OR
      (
        ${local.blob_path} StringStartsWith '${var.bundle_prefix}'
      )
    )
  EOT

  signers_blob = var.trusted_signers_url == null ? null : regex("^azblob://([^/]+)/(.+)$", var.trusted_signers_url)
}

resource "azurerm_role_assignment" "read_bundles" {
  scope                = local.bundle_container_id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
  principal_type       = "ServicePrincipal"
  description          = "pgmi deployer: read ${var.bundle_prefix} only"
  condition_version    = "2.0"
  condition            = local.read_bundles_condition
}

# Create or replace blobs, nothing else: no read, no delete, no listing.
resource "azurerm_role_definition" "blob_writer" {
  name        = "pgmi blob writer (${local.function_app_name})"
  scope       = azurerm_storage_account.bundles.id
  description = "Create or replace blobs; every assignment carries a condition on a blob name prefix."

  permissions {
    data_actions = [local.blob_write, local.blob_add]
  }

  assignable_scopes = [azurerm_storage_account.bundles.id]
}

resource "azurerm_role_assignment" "write_results" {
  scope              = local.bundle_container_id
  role_definition_id = azurerm_role_definition.blob_writer.role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.deployer.principal_id
  principal_type     = "ServicePrincipal"
  description        = "pgmi deployer: write ${var.results_prefix} only"
  condition_version  = "2.0"
  condition          = local.write_results_condition
}

resource "azurerm_role_assignment" "read_trusted_signers" {
  count = var.trusted_signers_url == null ? 0 : 1

  scope                = "${azurerm_storage_account.bundles.id}/blobServices/default/containers/${local.signers_blob[0]}"
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
  principal_type       = "ServicePrincipal"
  description          = "pgmi deployer: read the allowed_signers blob"
  condition_version    = "2.0"
  condition            = "((!(ActionMatches{'${local.blob_read}'})) OR (${local.blob_path} StringEquals '${local.signers_blob[1]}'))"
}

resource "azurerm_role_assignment" "uploaders" {
  for_each = toset(var.uploader_principal_ids)

  scope              = local.bundle_container_id
  role_definition_id = azurerm_role_definition.blob_writer.role_definition_resource_id
  principal_id       = each.value
  description        = "Release pipeline: upload bundles under ${var.bundle_prefix} only"
  condition_version  = "2.0"
  condition          = local.write_bundles_condition
}

# The Functions host keeps leases (the timer's singleton lock) and reads its
# deployment package in its own account.
resource "azurerm_role_assignment" "host_storage" {
  scope                = azurerm_storage_account.host.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
  principal_type       = "ServicePrincipal"
  description          = "pgmi function host storage"
}

resource "azurerm_role_assignment" "telemetry" {
  count = var.application_insights_enabled ? 1 : 0

  scope                = azurerm_application_insights.pgmi[0].id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
  principal_type       = "ServicePrincipal"
  description          = "pgmi function: Entra-authenticated telemetry"
}
