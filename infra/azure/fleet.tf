# Fleet rollouts (fleet_enabled): the function publishes one message per
# target database of a wave to the fleet queue (PGMI_FLEET_TOPIC, through
# gocloud.dev/pubsub's azuresb driver, which finds the namespace in
# SERVICEBUS_HOSTNAME and signs in with the default Azure credential, the
# managed identity named by AZURE_CLIENT_ID), and the Fleet function's
# serviceBusTrigger hands each message back to the handler, which deploys
# that one target. The ceiling per instance is the Service Bus extension's
# maxConcurrentCalls (host.json, overridden by an app setting from
# fleet_concurrency). A message delivered fleet_max_deliveries times goes to
# the queue's dead-letter subqueue (<queue>/$deadletterqueue).

locals {
  fleet_namespace_name = "${var.name}-fleet-${local.suffix}"
  fleet_queue_name     = "${var.name}-fleet"
  fleet_hostname       = "${local.fleet_namespace_name}.servicebus.windows.net"

  fleet_topic = var.fleet_enabled ? "azuresb://${azurerm_servicebus_queue.fleet[0].name}" : null
}

resource "azurerm_servicebus_namespace" "fleet" {
  count = var.fleet_enabled ? 1 : 0

  name                = local.fleet_namespace_name
  resource_group_name = local.resource_group
  location            = var.location
  sku                 = "Standard"
  # Entra only: no shared access keys, no connection strings.
  local_auth_enabled  = false
  minimum_tls_version = "1.2"
  tags                = var.tags
}

resource "azurerm_servicebus_queue" "fleet" {
  count = var.fleet_enabled ? 1 : 0

  name         = local.fleet_queue_name
  namespace_id = azurerm_servicebus_namespace.fleet[0].id

  # After this many deliveries a message goes to the dead-letter subqueue.
  max_delivery_count = var.fleet_max_deliveries
  # The longest lock Service Bus allows; the Functions host renews it while
  # a deploy runs (host.json's maxAutoLockRenewalDuration, 00:30:00, the
  # functionTimeout).
  lock_duration                        = "PT5M"
  dead_lettering_on_message_expiration = true
  default_message_ttl                  = "P14D"
}

# Send (publish a wave) and receive (the trigger) on the fleet queue only.
resource "azurerm_role_assignment" "fleet_sender" {
  count = var.fleet_enabled ? 1 : 0

  scope                = azurerm_servicebus_queue.fleet[0].id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
  principal_type       = "ServicePrincipal"
  description          = "pgmi deployer: publish fleet messages to ${local.fleet_queue_name} only"
}

resource "azurerm_role_assignment" "fleet_receiver" {
  count = var.fleet_enabled ? 1 : 0

  scope                = azurerm_servicebus_queue.fleet[0].id
  role_definition_name = "Azure Service Bus Data Receiver"
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
  principal_type       = "ServicePrincipal"
  description          = "pgmi deployer: receive fleet messages from ${local.fleet_queue_name} only"
}
