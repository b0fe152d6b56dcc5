# Optional: the Entra administrator of the flexible server. The mapping of
# the function's identity to a PostgreSQL role (pgaadauth_create_principal)
# and its grants are SQL, run by that administrator: infra/sql/azure-entra.sql.

resource "azurerm_postgresql_flexible_server_active_directory_administrator" "admin" {
  count = var.entra_admin == null ? 0 : 1

  server_name         = local.postgres_server_name
  resource_group_name = local.postgres_server_rg
  tenant_id           = data.azurerm_client_config.current.tenant_id
  object_id           = var.entra_admin.object_id
  principal_name      = var.entra_admin.principal_name
  principal_type      = var.entra_admin.principal_type
}
