terraform {
  required_version = ">= 1.9, < 2.0"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.42 is the first release with `rbac_authorization_enabled` on Key Vault; the Flex
      # Consumption resource arrived earlier (4.21).
      version = "~> 4.42"
    }
  }
}

provider "azurerm" {
  subscription_id = var.subscription_id
  # The storage account has shared keys disabled, so the provider must use Entra ID for any
  # data-plane call it makes.
  storage_use_azuread = true

  features {
    key_vault {
      # Soft-deleted vaults keep the Dataverse secret recoverable after an accidental `azd down`.
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
    }
    resource_group {
      # `azd down` removes the whole group, including alert rules Azure creates on its own.
      prevent_deletion_if_contains_resources = false
    }
  }
}
