# Two storage accounts, neither with shared keys: the bundle account holds
# the bundles and result objects (versioned, optionally WORM), the host
# account holds what the Functions host needs (deployment package, timer
# leases) and the Event Grid dead letters.

resource "azurerm_storage_account" "bundles" {
  name                            = local.bundle_account_name
  resource_group_name             = local.resource_group
  location                        = var.location
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = var.replication_type
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  tags                            = var.tags

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = var.soft_delete_days
    }

    container_delete_retention_policy {
      days = var.soft_delete_days
    }
  }

  dynamic "immutability_policy" {
    for_each = var.immutability_days > 0 ? [1] : []
    content {
      allow_protected_append_writes = false
      state                         = "Unlocked"
      period_since_creation_in_days = var.immutability_days
    }
  }
}

resource "azurerm_storage_container" "bundles" {
  name                  = var.container_name
  storage_account_id    = azurerm_storage_account.bundles.id
  container_access_type = "private"
}

resource "azurerm_storage_account" "host" {
  name                            = local.host_account_name
  resource_group_name             = local.resource_group
  location                        = var.location
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  tags                            = var.tags
}

resource "azurerm_storage_container" "deployment" {
  name                  = "app-package"
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}

resource "azurerm_storage_container" "deadletter" {
  name                  = "eventgrid-deadletter"
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}
