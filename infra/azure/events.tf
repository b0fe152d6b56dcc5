# Event Grid: BlobCreated events of completed writes under bundle_prefix
# with a bundle suffix go to the BlobCreated function, one per delivery,
# retried for 24 h, then dead-lettered into the host account.

resource "azurerm_eventgrid_system_topic" "bundles" {
  name                = "${local.function_app_name}-blobs"
  resource_group_name = local.resource_group
  location            = var.location
  source_resource_id  = azurerm_storage_account.bundles.id
  topic_type          = "Microsoft.Storage.StorageAccounts"
  tags                = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_role_assignment" "deadletter" {
  scope                = "${azurerm_storage_account.host.id}/blobServices/default/containers/${azurerm_storage_container.deadletter.name}"
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_eventgrid_system_topic.bundles.identity[0].principal_id
  principal_type       = "ServicePrincipal"
  description          = "Event Grid dead letters of the pgmi subscription"
}

resource "azurerm_eventgrid_system_topic_event_subscription" "bundles" {
  count = var.event_subscription_enabled ? 1 : 0

  name                 = "${var.name}-bundle-created"
  system_topic         = azurerm_eventgrid_system_topic.bundles.name
  resource_group_name  = local.resource_group
  included_event_types = ["Microsoft.Storage.BlobCreated"]

  azure_function_endpoint {
    function_id          = "${azurerm_function_app_flex_consumption.deployer.id}/functions/BlobCreated"
    max_events_per_batch = 1
  }

  # The trigger prefix: only blobs under bundle_prefix in the container.
  subject_filter {
    subject_begins_with = "/blobServices/default/containers/${azurerm_storage_container.bundles.name}/blobs/${var.bundle_prefix}"
    case_sensitive      = true
  }

  advanced_filter {
    string_ends_with {
      key    = "subject"
      values = var.bundle_suffixes
    }

    # Completed writes only: CopyBlob fires when a copy starts, before the
    # content is there.
    string_in {
      key    = "data.api"
      values = ["PutBlob", "PutBlockList", "FlushWithClose"]
    }
  }

  retry_policy {
    max_delivery_attempts = 30
    event_time_to_live    = 1440
  }

  dead_letter_identity {
    type = "SystemAssigned"
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = azurerm_storage_account.host.id
    storage_blob_container_name = azurerm_storage_container.deadletter.name
  }

  depends_on = [azurerm_role_assignment.deadletter]
}
