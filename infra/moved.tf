# Addresses that changed when the alert rules and the app identity's role assignments became one
# for_each resource each. These blocks let `terraform apply` move the existing objects in state
# instead of destroying and re-creating them; keep them until every deployment has applied once.
# The infra tests check that each leads from an address that no longer exists to one that does.

moved {
  from = azurerm_monitor_metric_alert.dead_letters
  to   = azurerm_monitor_metric_alert.platform["dead-letters"]
}

moved {
  from = azurerm_monitor_metric_alert.function_failures
  to   = azurerm_monitor_metric_alert.platform["function-failures"]
}

moved {
  from = azurerm_monitor_scheduled_query_rules_alert_v2.sync_lag
  to   = azurerm_monitor_scheduled_query_rules_alert_v2.app_metrics["sync-lag"]
}

moved {
  from = azurerm_monitor_scheduled_query_rules_alert_v2.sync_stalled
  to   = azurerm_monitor_scheduled_query_rules_alert_v2.app_metrics["sync-stalled"]
}

moved {
  from = azurerm_monitor_scheduled_query_rules_alert_v2.dataverse_throttled
  to   = azurerm_monitor_scheduled_query_rules_alert_v2.app_metrics["dataverse-throttled"]
}

moved {
  from = azurerm_role_assignment.app_storage["Storage Blob Data Owner"]
  to   = azurerm_role_assignment.app["storage-blob-data-owner"]
}

moved {
  from = azurerm_role_assignment.app_storage["Storage Queue Data Contributor"]
  to   = azurerm_role_assignment.app["storage-queue-data-contributor"]
}

moved {
  from = azurerm_role_assignment.app_storage["Storage Table Data Contributor"]
  to   = azurerm_role_assignment.app["storage-table-data-contributor"]
}

moved {
  from = azurerm_role_assignment.app_servicebus["Azure Service Bus Data Sender"]
  to   = azurerm_role_assignment.app["servicebus-data-sender"]
}

moved {
  from = azurerm_role_assignment.app_servicebus["Azure Service Bus Data Receiver"]
  to   = azurerm_role_assignment.app["servicebus-data-receiver"]
}

moved {
  from = azurerm_role_assignment.app_monitoring_metrics_publisher
  to   = azurerm_role_assignment.app["monitoring-metrics-publisher"]
}
