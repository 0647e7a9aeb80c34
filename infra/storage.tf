# Host storage (keys, timer and listener leases, diagnostics) and the Flex deployment package.
resource "azurerm_storage_account" "host" {
  name                     = local.names.storage
  resource_group_name      = azurerm_resource_group.main.name
  location                 = azurerm_resource_group.main.location
  account_tier             = "Standard"
  account_replication_type = "LRS"
  account_kind             = "StorageV2"

  # No account keys or SAS: the host and the deployment both authenticate with the identity.
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  https_traffic_only_enabled      = true
  min_tls_version                 = "TLS1_2"

  tags = local.tags
}

resource "azurerm_storage_container" "deployment" {
  name                  = local.names.deploy_container
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}
