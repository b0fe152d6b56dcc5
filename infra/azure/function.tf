# The function app: the custom handler (dist/azure/pgmi-azure.zip) on a
# Linux Flex Consumption plan, running as the user-assigned identity, with
# Entra-authenticated Application Insights.

resource "azurerm_log_analytics_workspace" "pgmi" {
  count = var.application_insights_enabled ? 1 : 0

  name                = "${local.function_app_name}-logs"
  resource_group_name = local.resource_group
  location            = var.location
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = var.tags
}

resource "azurerm_application_insights" "pgmi" {
  count = var.application_insights_enabled ? 1 : 0

  name                          = "${local.function_app_name}-insights"
  resource_group_name           = local.resource_group
  location                      = var.location
  workspace_id                  = azurerm_log_analytics_workspace.pgmi[0].id
  application_type              = "other"
  local_authentication_disabled = true
  tags                          = var.tags
}

resource "azurerm_service_plan" "pgmi" {
  name                = "${local.function_app_name}-plan"
  resource_group_name = local.resource_group
  location            = var.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = var.tags
}

resource "azurerm_function_app_flex_consumption" "deployer" {
  name                = local.function_app_name
  resource_group_name = local.resource_group
  location            = var.location
  service_plan_id     = azurerm_service_plan.pgmi.id

  # host.json names the handler binary; "custom" tells the host to start it.
  runtime_name    = "custom"
  runtime_version = "1.0"

  storage_container_type            = "blobContainer"
  storage_container_endpoint        = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.deployer.id

  maximum_instance_count = var.maximum_instance_count
  instance_memory_in_mb  = var.instance_memory_mb

  https_only                                     = true
  webdeploy_publish_basic_authentication_enabled = false
  virtual_network_subnet_id                      = var.virtual_network_subnet_id

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.deployer.id]
  }

  site_config {
    application_insights_connection_string = var.application_insights_enabled ? azurerm_application_insights.pgmi[0].connection_string : null
  }

  app_settings = local.app_settings
  tags         = var.tags

  depends_on = [azurerm_role_assignment.host_storage]
}
