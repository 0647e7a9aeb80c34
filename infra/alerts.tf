# Metric names come from shared/telemetry/sync-metrics.ts (METRIC_NAMES); the infra tests check
# that every query below names a metric the app really emits.

resource "azurerm_monitor_action_group" "ops" {
  name                = local.names.action_group
  resource_group_name = azurerm_resource_group.main.name
  short_name          = "dms-ops"

  dynamic "email_receiver" {
    for_each = var.alert_email == "" ? [] : [var.alert_email]
    content {
      name                    = "operator"
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }

  tags = local.tags
}

# A dead-lettered message is a job or a retry that will not run again on its own.
resource "azurerm_monitor_metric_alert" "dead_letters" {
  name                = "dms-${var.environment_name}-dead-letters"
  resource_group_name = azurerm_resource_group.main.name
  scopes              = [azurerm_servicebus_namespace.main.id]
  description         = "Messages were dead-lettered on pull-jobs or push-retry. Read their reason in Service Bus Explorer, fix, then resubmit or resync."
  severity            = 1
  frequency           = "PT5M"
  window_size         = "PT5M"

  criteria {
    metric_namespace = "Microsoft.ServiceBus/namespaces"
    metric_name      = "DeadletteredMessages"
    aggregation      = "Maximum"
    operator         = "GreaterThan"
    threshold        = 0

    dimension {
      name     = "EntityName"
      operator = "Include"
      values   = [azurerm_servicebus_queue.pull_jobs.name, azurerm_servicebus_queue.push_retry.name]
    }
  }

  action {
    action_group_id = azurerm_monitor_action_group.ops.id
  }

  tags = local.tags
}

# Failed function executions (requests recorded by the Functions host).
resource "azurerm_monitor_metric_alert" "function_failures" {
  name                = "dms-${var.environment_name}-function-failures"
  resource_group_name = azurerm_resource_group.main.name
  scopes              = [azurerm_application_insights.main.id]
  description         = "Function executions failed. Query `requests | where success == false` and `exceptions` in Application Insights."
  severity            = 2
  frequency           = "PT5M"
  window_size         = "PT15M"

  criteria {
    metric_namespace = "microsoft.insights/components"
    metric_name      = "requests/failed"
    aggregation      = "Count"
    operator         = "GreaterThan"
    threshold        = var.function_failure_threshold
  }

  action {
    action_group_id = azurerm_monitor_action_group.ops.id
  }

  tags = local.tags
}

# Lag per entity: the larger of what the puller reports (age of the newest change it has copied)
# and the time since that entity's last finished run, so a stalled entity alerts too.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "sync_lag" {
  name                 = "dms-${var.environment_name}-sync-lag"
  resource_group_name  = azurerm_resource_group.main.name
  location             = azurerm_resource_group.main.location
  scopes               = [azurerm_application_insights.main.id]
  description          = "An entity's sync lag is above ${var.sync_lag_threshold_seconds} s. Check /api/status and the puller's traces for that entity."
  severity             = 2
  evaluation_frequency = "PT5M"
  window_duration      = "PT1H"

  criteria {
    query                   = <<-KQL
      customMetrics
      | where name in ("sync.lag", "sync.run.duration")
      | extend entity = tostring(customDimensions["entity"])
      | summarize reported = maxif(valueMax, name == "sync.lag" and timestamp > ago(15m)),
                  lastRun = maxif(timestamp, name == "sync.run.duration") by entity
      | extend lag = max_of(coalesce(reported, 0.0), todouble(datetime_diff("second", now(), lastRun)))
    KQL
    time_aggregation_method = "Maximum"
    metric_measure_column   = "lag"
    operator                = "GreaterThan"
    threshold               = var.sync_lag_threshold_seconds

    dimension {
      name     = "entity"
      operator = "Include"
      values   = ["*"]
    }

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  auto_mitigation_enabled = true

  action {
    action_groups = [azurerm_monitor_action_group.ops.id]
  }

  tags = local.tags
}

# No run finished at all for an hour: the scheduler or the puller is not running.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "sync_stalled" {
  name                 = "dms-${var.environment_name}-sync-stalled"
  resource_group_name  = azurerm_resource_group.main.name
  location             = azurerm_resource_group.main.location
  scopes               = [azurerm_application_insights.main.id]
  description          = "No sync run finished in the last hour. Check that the Function App is running and the scheduler fires."
  severity             = 1
  evaluation_frequency = "PT15M"
  window_duration      = "PT1H"

  criteria {
    query                   = <<-KQL
      customMetrics
      | where name == "sync.run.duration"
      | summarize runs = sum(valueCount)
    KQL
    time_aggregation_method = "Total"
    metric_measure_column   = "runs"
    operator                = "LessThan"
    threshold               = 1

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  auto_mitigation_enabled = true

  action {
    action_groups = [azurerm_monitor_action_group.ops.id]
  }

  tags = local.tags
}

# Sustained throttling by Dynamics: three 5-minute windows in a row above the threshold. A single
# burst of 429s is normal and handled by the throttle governor.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "dataverse_throttled" {
  name                 = "dms-${var.environment_name}-dataverse-throttled"
  resource_group_name  = azurerm_resource_group.main.name
  location             = azurerm_resource_group.main.location
  scopes               = [azurerm_application_insights.main.id]
  description          = "Dynamics has answered 429 for 15 minutes. Lower DATAVERSE_MAX_CONCURRENCY or check other integrations using the same user."
  severity             = 2
  evaluation_frequency = "PT5M"
  window_duration      = "PT5M"

  criteria {
    query                   = <<-KQL
      customMetrics
      | where name == "dataverse.throttled"
      | summarize throttled = sum(valueSum)
    KQL
    time_aggregation_method = "Total"
    metric_measure_column   = "throttled"
    operator                = "GreaterThan"
    threshold               = var.throttle_threshold_per_5m

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 3
      number_of_evaluation_periods             = 3
    }
  }

  auto_mitigation_enabled = true

  action {
    action_groups = [azurerm_monitor_action_group.ops.id]
  }

  tags = local.tags
}
