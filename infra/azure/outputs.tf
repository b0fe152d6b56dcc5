output "resource_group_name" {
  description = "Resource group of the deployment."
  value       = local.resource_group
}

output "storage_account_name" {
  description = "The bundle storage account."
  value       = azurerm_storage_account.bundles.name
}

output "container_name" {
  description = "Container of bundles and result objects."
  value       = azurerm_storage_container.bundles.name
}

output "bundle_url_prefix" {
  description = "Upload bundles under this URL to deploy them."
  value       = "${azurerm_storage_account.bundles.primary_blob_endpoint}${azurerm_storage_container.bundles.name}/${var.bundle_prefix}"
}

output "results_url_prefix" {
  description = "Result objects appear under this URL: <results prefix><blob name>.<version>.json."
  value       = "${azurerm_storage_account.bundles.primary_blob_endpoint}${azurerm_storage_container.bundles.name}/${var.results_prefix}"
}

output "function_app_name" {
  description = "The function app; publish dist/azure/pgmi-azure.zip to it."
  value       = azurerm_function_app_flex_consumption.deployer.name
}

output "identity_name" {
  description = "Name of the function's managed identity: the PostgreSQL role to create with pgaadauth_create_principal (infra/sql/azure-entra.sql), and PGUSER."
  value       = azurerm_user_assigned_identity.deployer.name
}

output "identity_client_id" {
  description = "Client id of the function's managed identity."
  value       = azurerm_user_assigned_identity.deployer.client_id
}

output "identity_principal_id" {
  description = "Object id of the function's managed identity."
  value       = azurerm_user_assigned_identity.deployer.principal_id
}

output "publish_command" {
  description = "Publishes the function code (step 3 of the README walk-through)."
  value       = "az functionapp deployment source config-zip --resource-group ${local.resource_group} --name ${azurerm_function_app_flex_consumption.deployer.name} --src ${abspath("${path.module}/../../dist/azure/pgmi-azure.zip")}"
}

output "upload_example" {
  description = "A command that deploys a bundle, and one that lists its result objects."
  value       = <<-EOT
    az storage blob upload --auth-mode login --account-name ${azurerm_storage_account.bundles.name} --container-name ${azurerm_storage_container.bundles.name} --name ${var.bundle_prefix}app.tgz --file app.tgz
    az storage blob list --auth-mode login --account-name ${azurerm_storage_account.bundles.name} --container-name ${azurerm_storage_container.bundles.name} --prefix ${var.results_prefix}${var.bundle_prefix} --output table
  EOT
}

output "fleet_topic" {
  description = "PGMI_FLEET_TOPIC: the gocloud.dev/pubsub URL of the fleet queue (azuresb://<queue>), or null without fleet_enabled."
  value       = local.fleet_topic
}

output "fleet_queue_name" {
  description = "The fleet queue (Service Bus); dead letters are in <queue>/$deadletterqueue. null without fleet_enabled."
  value       = try(azurerm_servicebus_queue.fleet[0].name, null)
}

output "fleet_namespace_hostname" {
  description = "Host name of the fleet's Service Bus namespace (SERVICEBUS_HOSTNAME), or null without fleet_enabled."
  value       = var.fleet_enabled ? local.fleet_hostname : null
}
