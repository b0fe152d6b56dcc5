# azurerm needs a provider block (its features block), so this directory is
# a root module: apply it as is, or copy it into your own configuration
# without this file.
provider "azurerm" {
  subscription_id = var.subscription_id

  # The storage accounts allow no shared keys: data-plane calls use Entra ID.
  storage_use_azuread = true

  features {}
}
