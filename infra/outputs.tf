# azd stores every output in the environment (.azure/<env>/.env); the upper-case names are the
# ones azd itself looks for.

output "AZURE_LOCATION" {
  value = azurerm_resource_group.main.location
}

output "AZURE_TENANT_ID" {
  value = data.azurerm_client_config.current.tenant_id
}

output "AZURE_RESOURCE_GROUP" {
  value = azurerm_resource_group.main.name
}

output "AZURE_FUNCTION_APP_NAME" {
  value = azurerm_function_app_flex_consumption.main.name
}

output "AZURE_FUNCTION_URI" {
  value = "https://${azurerm_function_app_flex_consumption.main.default_hostname}"
}

output "AZURE_CLIENT_ID" {
  description = "Client id of the app's user-assigned identity."
  value       = azurerm_user_assigned_identity.app.client_id
}

output "COSMOS_ENDPOINT" {
  value = azurerm_cosmosdb_account.main.endpoint
}

output "COSMOS_DATABASE" {
  value = azurerm_cosmosdb_sql_database.main.name
}

output "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE" {
  value = "${azurerm_servicebus_namespace.main.name}.servicebus.windows.net"
}

output "KEY_VAULT_NAME" {
  value = azurerm_key_vault.main.name
}

output "DATAVERSE_SECRET_NAME" {
  value = local.dataverse_secret_name
}

output "APPLICATIONINSIGHTS_NAME" {
  value = azurerm_application_insights.main.name
}

output "APPLICATIONINSIGHTS_CONNECTION_STRING" {
  description = "Not a credential: ingestion also needs an Entra token (local auth is off)."
  value       = azurerm_application_insights.main.connection_string
  sensitive   = true
}

output "NOTIFY_URL" {
  description = "Where Dataverse's webhook posts: dynamics-sync realtime enable --url <this>."
  value       = "https://${azurerm_function_app_flex_consumption.main.default_hostname}/api/notify"
}

output "NOTIFY_SECRET_NAME" {
  value = local.notify_secret_name
}
