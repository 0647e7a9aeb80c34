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

locals {
  # Alerts on metrics Azure records itself, one rule per entry, named dms-<env>-<key>. Every rule
  # evaluates every 5 minutes and fires above its threshold.
  platform_alerts = {
    # A dead-lettered message is a job or a retry that will not run again on its own.
    "dead-letters" = {
      scope       = azurerm_servicebus_namespace.main.id
      description = "Messages were dead-lettered on pull-jobs or push-retry. Read their reason in Service Bus Explorer, fix, then resubmit or resync."
      severity    = 1
      window_size = "PT5M"
      namespace   = "Microsoft.ServiceBus/namespaces"
      metric      = "DeadletteredMessages"
      aggregation = "Maximum"
      threshold   = 0
      dimensions = [{
        name   = "EntityName"
        values = [azurerm_servicebus_queue.pull_jobs.name, azurerm_servicebus_queue.push_retry.name]
      }]
    }
    # Failed function executions (requests recorded by the Functions host).
    "function-failures" = {
      scope       = azurerm_application_insights.main.id
      description = "Function executions failed. Query `requests | where success == false` and `exceptions` in Application Insights."
      severity    = 2
      window_size = "PT15M"
      namespace   = "microsoft.insights/components"
      metric      = "requests/failed"
      aggregation = "Count"
      threshold   = var.function_failure_threshold
      dimensions  = []
    }
  }

  # Alerts on the metrics the app sends to Application Insights (customMetrics), one log query rule
  # per entry, named dms-<env>-<key>. A rule fires when `measure` crosses the threshold in
  # `failing_periods` evaluations in a row, and resolves itself once it no longer does.
  app_metric_alerts = {
    # Lag per entity: the larger of what the puller reports (age of the newest change it has copied)
    # and the time since that entity's last finished run, so a stalled entity alerts too.
    "sync-lag" = {
      description     = "An entity's sync lag is above ${var.sync_lag_threshold_seconds} s. Check /api/status and the puller's traces for that entity."
      severity        = 2
      frequency       = "PT5M"
      window          = "PT1H"
      query           = <<-KQL
        customMetrics
        | where name in ("sync.lag", "sync.run.duration")
        | extend entity = tostring(customDimensions["entity"])
        | summarize reported = maxif(valueMax, name == "sync.lag" and timestamp > ago(15m)),
                    lastRun = maxif(timestamp, name == "sync.run.duration") by entity
        | extend lag = max_of(coalesce(reported, 0.0), todouble(datetime_diff("second", now(), lastRun)))
      KQL
      aggregation     = "Maximum"
      measure         = "lag"
      operator        = "GreaterThan"
      threshold       = var.sync_lag_threshold_seconds
      failing_periods = 1
      dimensions      = [{ name = "entity", values = ["*"] }]
    }
    # No run finished at all for an hour: the scheduler or the puller is not running.
    "sync-stalled" = {
      description     = "No sync run finished in the last hour. Check that the Function App is running and the scheduler fires."
      severity        = 1
      frequency       = "PT15M"
      window          = "PT1H"
      query           = <<-KQL
        customMetrics
        | where name == "sync.run.duration"
        | summarize runs = sum(valueCount)
      KQL
      aggregation     = "Total"
      measure         = "runs"
      operator        = "LessThan"
      threshold       = 1
      failing_periods = 1
      dimensions      = []
    }
    # Sustained throttling by Dynamics: three 5-minute windows in a row above the threshold. A
    # single burst of 429s is normal and handled by the throttle governor.
    "dataverse-throttled" = {
      description     = "Dynamics has answered 429 for 15 minutes. Lower DATAVERSE_MAX_CONCURRENCY or check other integrations using the same user."
      severity        = 2
      frequency       = "PT5M"
      window          = "PT5M"
      query           = <<-KQL
        customMetrics
        | where name == "dataverse.throttled"
        | summarize throttled = sum(valueSum)
      KQL
      aggregation     = "Total"
      measure         = "throttled"
      operator        = "GreaterThan"
      threshold       = var.throttle_threshold_per_5m
      failing_periods = 3
      dimensions      = []
    }
    # The scheduled verify (VERIFY_SCHEDULE, daily) found drift: Cosmos DB and Dynamics disagree
    # beyond what the sync has in flight. The latest verify of each entity in the last day counts.
    "verify-drift" = {
      description     = "Verify found drift between Dynamics and Cosmos DB. See `verify` in GET /api/status for the findings, then run `dynamics-sync verify --repair` or POST /api/verify with repair."
      severity        = 2
      frequency       = "PT1H"
      window          = "P1D"
      query           = <<-KQL
        customMetrics
        | where name == "sync.verify.drift"
        | extend entity = tostring(customDimensions["entity"])
        | summarize arg_max(timestamp, valueMax) by entity
        | project entity, drift = valueMax
      KQL
      aggregation     = "Maximum"
      measure         = "drift"
      operator        = "GreaterThan"
      threshold       = 0
      failing_periods = 1
      dimensions      = [{ name = "entity", values = ["*"] }]
    }
  }
}

resource "azurerm_monitor_metric_alert" "platform" {
  for_each = local.platform_alerts

  name                = "${local.prefix}-${each.key}"
  resource_group_name = azurerm_resource_group.main.name
  scopes              = [each.value.scope]
  description         = each.value.description
  severity            = each.value.severity
  frequency           = "PT5M"
  window_size         = each.value.window_size

  criteria {
    metric_namespace = each.value.namespace
    metric_name      = each.value.metric
    aggregation      = each.value.aggregation
    operator         = "GreaterThan"
    threshold        = each.value.threshold

    dynamic "dimension" {
      for_each = each.value.dimensions
      content {
        name     = dimension.value.name
        operator = "Include"
        values   = dimension.value.values
      }
    }
  }

  action {
    action_group_id = azurerm_monitor_action_group.ops.id
  }

  tags = local.tags
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "app_metrics" {
  for_each = local.app_metric_alerts

  name                 = "${local.prefix}-${each.key}"
  resource_group_name  = azurerm_resource_group.main.name
  location             = azurerm_resource_group.main.location
  scopes               = [azurerm_application_insights.main.id]
  description          = each.value.description
  severity             = each.value.severity
  evaluation_frequency = each.value.frequency
  window_duration      = each.value.window

  criteria {
    query                   = each.value.query
    time_aggregation_method = each.value.aggregation
    metric_measure_column   = each.value.measure
    operator                = each.value.operator
    threshold               = each.value.threshold

    dynamic "dimension" {
      for_each = each.value.dimensions
      content {
        name     = dimension.value.name
        operator = "Include"
        values   = dimension.value.values
      }
    }

    failing_periods {
      minimum_failing_periods_to_trigger_alert = each.value.failing_periods
      number_of_evaluation_periods             = each.value.failing_periods
    }
  }

  auto_mitigation_enabled = true

  action {
    action_groups = [azurerm_monitor_action_group.ops.id]
  }

  tags = local.tags
}
