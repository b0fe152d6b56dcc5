# Names, the flexible server's parts, and the function's app settings.

data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "pgmi" {
  count    = var.create_resource_group ? 1 : 0
  name     = local.resource_group_name
  location = var.location
  tags     = var.tags
}

locals {
  resource_group_name = coalesce(var.resource_group_name, "rg-${var.name}")
  resource_group      = var.create_resource_group ? azurerm_resource_group.pgmi[0].name : local.resource_group_name

  # Storage account and function app names are global: a stable suffix from
  # the subscription and resource group keeps them unique without a random
  # provider.
  suffix               = substr(sha1("${var.subscription_id}/${local.resource_group_name}/${var.name}"), 0, 8)
  bundle_account_name  = "${var.name}b${local.suffix}"
  host_account_name    = "${var.name}h${local.suffix}"
  function_app_name    = "${var.name}-${local.suffix}"
  identity_name        = "${var.name}-deployer-${local.suffix}"
  bundle_container_id  = "${azurerm_storage_account.bundles.id}/blobServices/default/containers/${azurerm_storage_container.bundles.name}"
  postgres_server_name = element(split("/", var.postgres_server_id), length(split("/", var.postgres_server_id)) - 1)
  postgres_server_rg   = element(split("/", var.postgres_server_id), 4)

  routes = length(var.routes) > 0 ? var.routes : [
    { prefix = var.bundle_prefix, database = var.db_name, params = {} },
  ]

  app_settings = merge(var.extra_app_settings, {
    for k, v in {
      # The Functions host's own storage, through the managed identity.
      AzureWebJobsStorage__accountName = azurerm_storage_account.host.name
      AzureWebJobsStorage__credential  = "managedidentity"
      AzureWebJobsStorage__clientId    = azurerm_user_assigned_identity.deployer.client_id

      # Bundles and results: the bundle account, through the same identity.
      AZURE_STORAGE_ACCOUNT = azurerm_storage_account.bundles.name
      AZURE_CLIENT_ID       = azurerm_user_assigned_identity.deployer.client_id

      # The database: an Entra token as the password, TLS verified against
      # the public roots the flexible server's certificates chain to.
      PGHOST               = coalesce(var.db_host, "${local.postgres_server_name}.postgres.database.azure.com")
      PGPORT               = "5432"
      PGUSER               = azurerm_user_assigned_identity.deployer.name
      PGDATABASE           = var.db_name
      PGSSLMODE            = "verify-full"
      PGSSLROOTCERT        = "system"
      PGMI_AUTH            = "azure"
      PGMI_AZURE_CLIENT_ID = azurerm_user_assigned_identity.deployer.client_id

      PGMI_ROUTES              = jsonencode(local.routes)
      PGMI_TRUSTED_SIGNERS     = var.trusted_signers
      PGMI_TRUSTED_SIGNERS_URL = var.trusted_signers_url
      PGMI_ALLOW_UNSIGNED      = var.allow_unsigned ? "true" : null
      PGMI_RESET_ALLOW         = length(var.reset_allow) > 0 ? join(",", var.reset_allow) : null
      PGMI_RESULTS_PREFIX      = var.results_prefix
      PGMI_TIMEOUT_MARGIN      = var.timeout_margin
      PGMI_LOCK_WAIT           = var.lock_wait
      PGMI_LEDGER_TABLE        = var.ledger_table

      # Reset/function.json reads its schedule from this setting; without a
      # reset it fires once a year and finds PGMI_RESET_DATABASE empty.
      PGMI_RESET_SCHEDULE = var.reset == null ? "0 0 3 1 1 *" : var.reset.schedule
      PGMI_RESET_DATABASE = var.reset == null ? null : var.reset.database
      PGMI_RESET_BUNDLE   = try("azblob://${azurerm_storage_container.bundles.name}/${var.reset.bundle_blob}", null)

      # Fleet rollouts (fleet.tf). The handler publishes to PGMI_FLEET_TOPIC
      # (gocloud.dev/pubsub azuresb://<queue>; the namespace comes from
      # SERVICEBUS_HOSTNAME, the credential from AZURE_CLIENT_ID). The Fleet
      # function's serviceBusTrigger reads queueName %PGMI_FLEET_QUEUE% over
      # the identity-based connection "FleetServiceBus". maxConcurrentCalls
      # overrides host.json's extensions.serviceBus value.
      PGMI_FLEET_TOPIC    = local.fleet_topic
      SERVICEBUS_HOSTNAME = var.fleet_enabled ? local.fleet_hostname : null
      PGMI_FLEET_QUEUE    = var.fleet_enabled ? azurerm_servicebus_queue.fleet[0].name : "pgmi-fleet-disabled"
      # Without fleets the Fleet function is disabled, so the host neither
      # resolves its queue nor opens a Service Bus listener.
      "AzureWebJobs.Fleet.Disabled"                                     = var.fleet_enabled ? null : "true"
      FleetServiceBus__fullyQualifiedNamespace                          = var.fleet_enabled ? local.fleet_hostname : null
      FleetServiceBus__credential                                       = var.fleet_enabled ? "managedidentity" : null
      FleetServiceBus__clientId                                         = var.fleet_enabled ? azurerm_user_assigned_identity.deployer.client_id : null
      AzureFunctionsJobHost__extensions__serviceBus__maxConcurrentCalls = var.fleet_enabled ? tostring(var.fleet_concurrency) : null

      APPLICATIONINSIGHTS_AUTHENTICATION_STRING = var.application_insights_enabled ? "ClientId=${azurerm_user_assigned_identity.deployer.client_id};Authorization=AAD" : null
    } : k => v if v != null
  })
}
