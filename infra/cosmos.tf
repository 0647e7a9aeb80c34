locals {
  cosmos_serverless = var.cosmos_capacity_mode == "serverless"

  # Every document write pays for every indexed path, so the people container, the largest and the
  # most written, indexes only what lookups, marketing segments and the change poller filter or
  # sort on. The smaller containers keep the default "index everything".
  index_everything = {
    included_paths = ["/*"]
    excluded_paths = ["/\"_etag\"/?"]
  }

  people_index = {
    included_paths = [
      "/entity/?",
      "/type/?",
      "/email/?",
      "/firstName/?",
      "/lastName/?",
      "/company/?",
      "/jobTitle/?",
      "/ownerId/*",
      "/status/*",
      "/dynamics/leadId/?",
      "/dynamics/contactId/?",
      "/sync/updatedAt/?",
      "/_ts/?",
    ]
    excluded_paths = ["/*"]
  }

  # Mirrors CONTAINERS in shared/config/entity.catalog.ts; the infra tests compare the two.
  # syncState: per-item TTL on, no default expiry (run history carries its own ttl, 30 days).
  # leases: change-feed leases of the pusher's Cosmos DB trigger, which requires /id.
  cosmos_containers = {
    people        = { id = "people", partition_key = "/id", index = local.people_index, default_ttl = null }
    accounts      = { id = "accounts", partition_key = "/id", index = local.index_everything, default_ttl = null }
    opportunities = { id = "opportunities", partition_key = "/id", index = local.index_everything, default_ttl = null }
    directory     = { id = "directory", partition_key = "/id", index = local.index_everything, default_ttl = null }
    custom        = { id = "custom", partition_key = "/id", index = local.index_everything, default_ttl = null }
    relations     = { id = "relations", partition_key = "/id", index = local.index_everything, default_ttl = null }
    syncState     = { id = "sync-state", partition_key = "/entity", index = local.index_everything, default_ttl = -1 }
    syncErrors    = { id = "sync-errors", partition_key = "/entity", index = local.index_everything, default_ttl = null }
    leases        = { id = "leases", partition_key = "/id", index = local.index_everything, default_ttl = null }
  }
}

resource "azurerm_cosmosdb_account" "main" {
  name                = local.names.cosmos
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  offer_type          = "Standard"
  kind                = "GlobalDocumentDB"

  # Entra ID only: no account keys for data access, no key-based metadata writes either.
  local_authentication_disabled      = true
  access_key_metadata_writes_enabled = false
  minimal_tls_version                = "Tls12"

  consistency_policy {
    consistency_level = "Session"
  }

  geo_location {
    location          = azurerm_resource_group.main.location
    failover_priority = 0
  }

  dynamic "capabilities" {
    for_each = local.cosmos_serverless ? ["EnableServerless"] : []
    content {
      name = capabilities.value
    }
  }

  # Point-in-time restore of the last 7 days at no extra cost: the marketing edits live only here.
  backup {
    type = "Continuous"
    tier = "Continuous7Days"
  }

  tags = local.tags
}

resource "azurerm_cosmosdb_sql_database" "main" {
  name                = var.cosmos_database_name
  resource_group_name = azurerm_resource_group.main.name
  account_name        = azurerm_cosmosdb_account.main.name

  # Shared database throughput: eight containers under one autoscale budget instead of eight.
  dynamic "autoscale_settings" {
    for_each = local.cosmos_serverless ? [] : [var.cosmos_autoscale_max_throughput]
    content {
      max_throughput = autoscale_settings.value
    }
  }
}

resource "azurerm_cosmosdb_sql_container" "main" {
  for_each = local.cosmos_containers

  name                  = each.value.id
  resource_group_name   = azurerm_resource_group.main.name
  account_name          = azurerm_cosmosdb_account.main.name
  database_name         = azurerm_cosmosdb_sql_database.main.name
  partition_key_paths   = [each.value.partition_key]
  partition_key_version = 2
  default_ttl           = each.value.default_ttl

  indexing_policy {
    indexing_mode = "consistent"

    dynamic "included_path" {
      for_each = each.value.index.included_paths
      content {
        path = included_path.value
      }
    }

    dynamic "excluded_path" {
      for_each = each.value.index.excluded_paths
      content {
        path = excluded_path.value
      }
    }
  }
}
