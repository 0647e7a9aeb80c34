# Every data-plane permission of the app goes to the one user-assigned identity, each at the
# narrowest scope that works, except reading the Dataverse secret for its Key Vault reference,
# which App Service does with the app's system-assigned identity (last grant below). Nothing here is
# granted to a key, a SAS or a connection string.

locals {
  app_principal_id = azurerm_user_assigned_identity.app.principal_id

  # Azure RBAC roles of the user-assigned identity, one assignment per entry.
  app_roles = {
    # The host keeps keys, timer and singleton leases in blobs, and Flex reads the deployment
    # package; queues and a table for the host's internal queues and diagnostic events.
    "storage-blob-data-owner"        = { role = "Storage Blob Data Owner", scope = azurerm_storage_account.host.id }
    "storage-queue-data-contributor" = { role = "Storage Queue Data Contributor", scope = azurerm_storage_account.host.id }
    "storage-table-data-contributor" = { role = "Storage Table Data Contributor", scope = azurerm_storage_account.host.id }
    # The scheduler and the puller's continuations send; the puller and the retry worker receive.
    "servicebus-data-sender"   = { role = "Azure Service Bus Data Sender", scope = azurerm_servicebus_namespace.main.id }
    "servicebus-data-receiver" = { role = "Azure Service Bus Data Receiver", scope = azurerm_servicebus_namespace.main.id }
    # Entra-authenticated telemetry ingestion (Application Insights local auth is off).
    "monitoring-metrics-publisher" = { role = "Monitoring Metrics Publisher", scope = azurerm_application_insights.main.id }
  }

  # Cosmos DB Built-in Data Contributor (a data-plane SQL role, not an Azure RBAC role).
  cosmos_data_contributor_role_id = "00000000-0000-0000-0000-000000000002"
}

resource "azurerm_role_assignment" "app" {
  for_each             = local.app_roles
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = local.app_principal_id
  principal_type       = "ServicePrincipal"
}

# Scoped to the marketing database: the app reads and writes documents in its containers and
# nothing else in the account. Creating containers stays with Terraform (control plane).
resource "azurerm_cosmosdb_sql_role_assignment" "app_data_contributor" {
  resource_group_name = azurerm_resource_group.main.name
  account_name        = azurerm_cosmosdb_account.main.name
  role_definition_id  = "${azurerm_cosmosdb_account.main.id}/sqlRoleDefinitions/${local.cosmos_data_contributor_role_id}"
  principal_id        = local.app_principal_id
  scope               = "${azurerm_cosmosdb_account.main.id}/dbs/${azurerm_cosmosdb_sql_database.main.name}"
}

# App Service resolves the DATAVERSE_CLIENT_SECRET Key Vault reference with the app's
# system-assigned identity (function.tf). That identity is created with the app, so unlike the
# grants above this one follows the app instead of preceding it: on the very first deployment the
# reference resolves once the role has propagated and the app restarts (infra/README.md).
resource "azurerm_role_assignment" "app_key_vault_reference_secrets_user" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_function_app_flex_consumption.main.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}
