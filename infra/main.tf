data "azurerm_client_config" "current" {}

locals {
  # Globally unique, stable per subscription + environment + region, like azd's own templates.
  resource_token = substr(sha1("${var.subscription_id}-${var.environment_name}-${var.location}"), 0, 10)
  prefix         = "dms-${var.environment_name}"
  tags           = merge(var.tags, { "azd-env-name" = var.environment_name })

  names = {
    resource_group   = "rg-${local.prefix}"
    identity         = "id-${local.prefix}"
    storage          = "stdms${local.resource_token}"
    servicebus       = "sb-${local.prefix}-${local.resource_token}"
    cosmos           = "cosmos-${local.prefix}-${local.resource_token}"
    key_vault        = "kv-dms-${local.resource_token}"
    log_analytics    = "log-${local.prefix}"
    app_insights     = "appi-${local.prefix}"
    plan             = "plan-${local.prefix}"
    function_app     = "func-dms-${local.resource_token}"
    action_group     = "ag-${local.prefix}"
    deploy_container = "app-package"
  }
}

resource "azurerm_resource_group" "main" {
  name     = local.names.resource_group
  location = var.location
  tags     = local.tags
}

# One user-assigned identity for everything the app touches. Unlike a system-assigned one it exists
# before the Function App, so role assignments are in place on first start, and it survives a
# re-created app without re-granting anything.
resource "azurerm_user_assigned_identity" "app" {
  name                = local.names.identity
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}
