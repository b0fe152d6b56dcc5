terraform {
  # 1.9: validation blocks that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # A 4.x release whose azurerm_function_app_flex_consumption accepts
      # runtime_name = "custom".
      version = "~> 4.40"
    }
  }
}
