locals {
  identity_client_id = azurerm_user_assigned_identity.app.client_id

  # Every setting the code reads (SETTING_NAMES in shared/config/env.schema.ts and
  # TELEMETRY_SETTING_NAMES in shared/telemetry) plus the identity-based connection sections the
  # Functions host reads for bindings. The infra tests check this map against those lists.
  # APPLICATIONINSIGHTS_CONNECTION_STRING is set through site_config below, as the provider wants.
  app_settings = {
    # Host storage through the identity; see the note on AzureWebJobsStorage below.
    "AzureWebJobsStorage"              = ""
    "AzureWebJobsStorage__accountName" = azurerm_storage_account.host.name
    "AzureWebJobsStorage__credential"  = "managedidentity"
    "AzureWebJobsStorage__clientId"    = local.identity_client_id

    # Service Bus: binding connection "SERVICEBUS" and the app's own sender.
    "SERVICEBUS__fullyQualifiedNamespace" = "${azurerm_servicebus_namespace.main.name}.servicebus.windows.net"
    "SERVICEBUS__credential"              = "managedidentity"
    "SERVICEBUS__clientId"                = local.identity_client_id
    "PULL_JOBS_QUEUE"                     = azurerm_servicebus_queue.pull_jobs.name
    "PUSH_RETRY_QUEUE"                    = azurerm_servicebus_queue.push_retry.name

    # Cosmos DB: binding connection "COSMOS" (pusher trigger) and the app's own client.
    "COSMOS__accountEndpoint" = azurerm_cosmosdb_account.main.endpoint
    "COSMOS__credential"      = "managedidentity"
    "COSMOS__clientId"        = local.identity_client_id
    "COSMOS_ENDPOINT"         = azurerm_cosmosdb_account.main.endpoint
    "COSMOS_DATABASE"         = azurerm_cosmosdb_sql_database.main.name

    # App Service authentication signs callers in; the routes authorize them by app role.
    "API_AUTHORIZATION" = "app-roles"

    # DefaultAzureCredential in the app picks the user-assigned identity by this id.
    "AZURE_CLIENT_ID" = local.identity_client_id

    # Dynamics 365: the secret is a Key Vault reference, resolved by App Service with the app's
    # system-assigned identity (see identity below).
    "DATAVERSE_URL"             = trimsuffix(var.dataverse_url, "/")
    "DATAVERSE_TENANT_ID"       = var.dataverse_tenant_id
    "DATAVERSE_CLIENT_ID"       = var.dataverse_client_id
    "DATAVERSE_CLIENT_SECRET"   = "@Microsoft.KeyVault(SecretUri=${local.dataverse_secret_uri})"
    "DATAVERSE_MAX_CONCURRENCY" = tostring(var.dataverse_max_concurrency)

    # Real-time path: Dataverse's webhook authenticates with this secret, not with Entra ID.
    "NOTIFY_SECRET"             = "@Microsoft.KeyVault(SecretUri=${local.notify_secret_uri})"
    "NOTIFY_SECRET_PREVIOUS"    = "@Microsoft.KeyVault(SecretUri=${local.notify_secret_previous_uri})"
    "NOTIFY_WINDOW_SECONDS"     = tostring(var.notify_window_seconds)
    "DATAVERSE_ORGANIZATION_ID" = var.dataverse_organization_id

    # One Dataverse budget for every instance however far the app scales out: each instance leases
    # slots, requests and execution time from a document in sync-state (docs/api-budget.md).
    "DATAVERSE_BUDGET"                   = "shared"
    "DATAVERSE_BUDGET_REQUESTS"          = tostring(var.dataverse_budget_requests)
    "DATAVERSE_BUDGET_EXECUTION_SECONDS" = tostring(var.dataverse_budget_execution_seconds)
    "DATAVERSE_BUDGET_CONCURRENCY"       = tostring(var.dataverse_budget_concurrency)
    "DATAVERSE_BUDGET_WINDOW_SECONDS"    = "300"
    "DATAVERSE_BUDGET_LEASE_SECONDS"     = "10"

    "SYNC_ENTITIES"              = var.sync_entities
    "SYNC_SCHEDULE"              = var.sync_schedule
    "SYNC_TIME_BUDGET_SECONDS"   = tostring(var.sync_time_budget_seconds)
    "SYNC_PARALLEL_LOAD"         = var.sync_parallel_load
    "SYNC_CONFIG"                = var.sync_config_path
    "PUSH_BATCH_SIZE"            = tostring(var.push_batch_size)
    "VERIFY_SCHEDULE"            = var.verify_schedule
    "VERIFY_PUSH_WINDOW_MINUTES" = tostring(var.verify_push_window_minutes)
    "LOG_LEVEL"                  = var.log_level

    # Entra ID ingestion into Application Insights (its local auth is off).
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" = "ClientId=${local.identity_client_id};Authorization=AAD"
  }
}

resource "azurerm_service_plan" "main" {
  name                = local.names.plan
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

resource "azurerm_function_app_flex_consumption" "main" {
  name                = local.names.function_app
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  service_plan_id     = azurerm_service_plan.main.id

  runtime_name           = "node"
  runtime_version        = "22"
  maximum_instance_count = var.function_maximum_instance_count
  instance_memory_in_mb  = var.function_instance_memory_mb

  # The deployment package is read with the identity too, never with a storage key.
  storage_container_type            = "blobContainer"
  storage_container_endpoint        = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.app.id

  # The user-assigned identity does everything the app and the host do. The system-assigned one
  # exists only to resolve the @Microsoft.KeyVault(...) app setting: App Service uses it unless the
  # site's keyVaultReferenceIdentity names another identity, and azurerm 4.x cannot set that on a
  # Flex Consumption app (infra/README.md, "Key Vault references"). Its one grant is in roles.tf.
  identity {
    type         = "SystemAssigned, UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app.id]
  }

  https_only                                     = true
  public_network_access_enabled                  = true
  webdeploy_publish_basic_authentication_enabled = false

  # Every route requires a Microsoft Entra ID sign-in (users in the console, automation with client
  # credentials); the app then checks the app roles in the token. Dataverse's webhook cannot present
  # an Entra token, so its path is excluded and the route checks the shared secret itself.
  auth_settings_v2 {
    auth_enabled           = true
    require_authentication = true
    unauthenticated_action = "Return401"
    default_provider       = "azureactivedirectory"
    excluded_paths         = ["/api/notify"]

    active_directory_v2 {
      client_id            = var.api_client_id
      tenant_auth_endpoint = "https://login.microsoftonline.com/${data.azurerm_client_config.current.tenant_id}/v2.0"
      allowed_audiences    = ["api://${var.api_client_id}", var.api_client_id]
    }

    login {
      token_store_enabled = false
    }
  }

  site_config {
    application_insights_connection_string = azurerm_application_insights.main.connection_string
    minimum_tls_version                    = "1.2"
    scm_minimum_tls_version                = "1.2"
    http2_enabled                          = true
  }

  # An explicit empty AzureWebJobsStorage stops the provider from injecting a key-based connection
  # string next to the identity settings (hashicorp/terraform-provider-azurerm#29149, #30732); the
  # host then reads the AzureWebJobsStorage__* section.
  app_settings = local.app_settings

  tags = merge(local.tags, { "azd-service-name" = "sync" })

  # Roles first: the host starts right after creation and needs storage, Service Bus, Cosmos and
  # telemetry access on its first try. (The Key Vault grant cannot precede the app: see roles.tf.)
  depends_on = [
    azurerm_role_assignment.app,
    azurerm_cosmosdb_sql_role_assignment.app_data_contributor,
  ]
}
