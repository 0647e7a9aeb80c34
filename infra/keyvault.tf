locals {
  dataverse_secret_name = "dataverse-client-secret"
  # Versionless URI: App Service picks up a rotated secret without a redeploy (within 24 h, or at
  # once on restart).
  dataverse_secret_uri = "${azurerm_key_vault.main.vault_uri}secrets/${local.dataverse_secret_name}"

  # The real-time notification secret Dataverse's webhook sends (docs/realtime.md). The previous one
  # exists only while rotating; until then its reference does not resolve and the app ignores it.
  notify_secret_name          = "notify-secret"
  notify_secret_uri           = "${azurerm_key_vault.main.vault_uri}secrets/${local.notify_secret_name}"
  notify_secret_previous_name = "notify-secret-previous"
  notify_secret_previous_uri  = "${azurerm_key_vault.main.vault_uri}secrets/${local.notify_secret_previous_name}"
}

resource "azurerm_key_vault" "main" {
  name                = local.names.key_vault
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tenant_id           = data.azurerm_client_config.current.tenant_id
  sku_name            = "standard"

  # Azure RBAC instead of access policies: the same role model as every other resource here.
  rbac_authorization_enabled = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 90

  tags = local.tags
}

# The deployer needs to write the secret when Terraform manages it.
resource "azurerm_role_assignment" "deployer_kv_secrets_officer" {
  count                = var.principal_id == "" ? 0 : 1
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = var.principal_id
}

resource "azurerm_key_vault_secret" "dataverse_client_secret" {
  # nonsensitive: only whether a secret was given decides the count, never its value.
  count        = nonsensitive(var.dataverse_client_secret == "") ? 0 : 1
  name         = local.dataverse_secret_name
  value        = var.dataverse_client_secret
  key_vault_id = azurerm_key_vault.main.id
  content_type = "Dataverse client secret of app ${var.dataverse_client_id}"

  depends_on = [azurerm_role_assignment.deployer_kv_secrets_officer]
}

resource "azurerm_key_vault_secret" "notify_secret" {
  # nonsensitive: only whether a secret was given decides the count, never its value.
  count        = nonsensitive(var.notify_secret == "") ? 0 : 1
  name         = local.notify_secret_name
  value        = var.notify_secret
  key_vault_id = azurerm_key_vault.main.id
  content_type = "Shared secret of the Dataverse webhook that calls POST /api/notify"

  depends_on = [azurerm_role_assignment.deployer_kv_secrets_officer]
}
