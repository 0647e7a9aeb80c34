resource "azurerm_servicebus_namespace" "main" {
  name                = local.names.servicebus
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  # Standard is the cheapest tier with sessions and duplicate detection.
  sku                 = "Standard"
  local_auth_enabled  = false
  minimum_tls_version = "1.2"
  tags                = local.tags
}

# One job per entity and schedule slot. The session id is the entity, so one puller at a time per
# entity; the message id is entity + slot, so duplicate detection drops a doubled timer tick.
resource "azurerm_servicebus_queue" "pull_jobs" {
  name         = "pull-jobs"
  namespace_id = azurerm_servicebus_namespace.main.id

  requires_session                        = true
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = var.pull_jobs_duplicate_detection_window
  max_delivery_count                      = var.pull_jobs_max_delivery_count
  lock_duration                           = var.pull_jobs_lock_duration
  default_message_ttl                     = var.queue_message_ttl
  dead_lettering_on_message_expiration    = true
}

# Pushes to Dynamics that failed for a transient reason, retried later with backoff.
resource "azurerm_servicebus_queue" "push_retry" {
  name         = "push-retry"
  namespace_id = azurerm_servicebus_namespace.main.id

  requires_session                     = false
  max_delivery_count                   = var.push_retry_max_delivery_count
  lock_duration                        = var.push_retry_lock_duration
  default_message_ttl                  = var.queue_message_ttl
  dead_lettering_on_message_expiration = true
}
