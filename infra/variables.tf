# --- Set by azd from the environment (see main.tfvars.json) -----------------------------------

variable "environment_name" {
  description = "azd environment name; prefixes every resource and tags them with azd-env-name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$", var.environment_name))
    error_message = "environment_name must be 3-32 lower-case letters, digits or dashes."
  }
}

variable "location" {
  description = "Azure region for every resource; it must offer the Flex Consumption plan."
  type        = string
}

variable "subscription_id" {
  description = "Subscription to deploy into (azd passes AZURE_SUBSCRIPTION_ID)."
  type        = string
}

variable "principal_id" {
  description = "Object id of the person or pipeline running azd; granted Key Vault Secrets Officer so Terraform can write the Dataverse secret. Empty to skip."
  type        = string
  default     = ""
}

# --- Dynamics 365 / Dataverse -------------------------------------------------------------------

variable "dataverse_url" {
  description = "Environment URL, e.g. https://contoso.crm4.dynamics.com."
  type        = string

  validation {
    condition     = can(regex("^https://[^/]+/?$", var.dataverse_url))
    error_message = "dataverse_url must be an https:// URL with no path."
  }
}

variable "dataverse_tenant_id" {
  description = "Entra tenant of the app registration that Dynamics knows as an application user."
  type        = string
}

variable "dataverse_client_id" {
  description = "Application (client) id of that app registration."
  type        = string
}

variable "api_client_id" {
  description = "Application (client) id of the app registration that signs people and automation in to the console and the HTTP API (App Service authentication). It defines the app roles Sync.Read and Sync.Operate; see infra/README.md."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.api_client_id))
    error_message = "api_client_id must be the application (client) id, a GUID."
  }
}

variable "dataverse_client_secret" {
  description = "Client secret of the app registration. Stored only in Key Vault (and Terraform state: keep state private). Empty to manage the secret outside Terraform (az keyvault secret set)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "dataverse_max_concurrency" {
  description = "Requests in flight to Dataverse at most; Dataverse allows 52 per user."
  type        = number
  default     = 8

  validation {
    condition     = var.dataverse_max_concurrency >= 1 && var.dataverse_max_concurrency <= 52
    error_message = "dataverse_max_concurrency must be between 1 and 52."
  }
}

variable "dataverse_budget_requests" {
  description = "Dataverse requests per 5 minutes for all instances together; Dataverse allows 6000 per user. Lower it to leave room for other integrations signed in as the same application user."
  type        = number
  default     = 6000

  validation {
    condition     = var.dataverse_budget_requests >= 1 && var.dataverse_budget_requests <= 6000
    error_message = "dataverse_budget_requests must be between 1 and 6000."
  }
}

variable "dataverse_budget_execution_seconds" {
  description = "Dataverse execution time (seconds) per 5 minutes for all instances together; Dataverse allows 1200 per user."
  type        = number
  default     = 1200

  validation {
    condition     = var.dataverse_budget_execution_seconds > 0 && var.dataverse_budget_execution_seconds <= 1200
    error_message = "dataverse_budget_execution_seconds must be above 0 and at most 1200."
  }
}

variable "dataverse_budget_concurrency" {
  description = "Dataverse requests in flight for all instances together; Dataverse allows 52 per user."
  type        = number
  default     = 52

  validation {
    condition     = var.dataverse_budget_concurrency >= 1 && var.dataverse_budget_concurrency <= 52
    error_message = "dataverse_budget_concurrency must be between 1 and 52."
  }
}

# --- Sync behaviour ----------------------------------------------------------------------------

variable "sync_entities" {
  description = "Comma-separated Dataverse tables to sync."
  type        = string
  default     = "lead,contact,account,opportunity,systemuser,team"
}

variable "sync_schedule" {
  description = "NCRONTAB (6 fields, with seconds) of the scheduler; one slot per occurrence."
  type        = string
  default     = "0 */1 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.sync_schedule))) == 6
    error_message = "sync_schedule must be a 6-field NCRONTAB expression."
  }
}

variable "verify_schedule" {
  description = "NCRONTAB (6 fields) of the scheduled verify (drift audit); daily at 03:00 UTC by default."
  type        = string
  default     = "0 0 3 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.verify_schedule))) == 6
    error_message = "verify_schedule must be a 6-field NCRONTAB expression."
  }
}

variable "verify_push_window_minutes" {
  description = "A marketing edit younger than this is still being pushed (retries included); older and not in Dynamics, verify reports it as drift."
  type        = number
  default     = 120
}

variable "sync_time_budget_seconds" {
  description = "A pull stops and continues in a new job after this long; well below the 10 min function timeout."
  type        = number
  default     = 240
}

variable "sync_parallel_load" {
  description = "Comma-separated entities whose full loads read in parallel createdon ranges after a keys-only tracked read (docs/initial-load.md). Empty: one sequential chain."
  type        = string
  default     = ""
}

variable "sync_config_path" {
  description = "Path, inside the deployed package, of the sync configuration JSON (custom entities, field rules). Empty for the defaults."
  type        = string
  default     = ""
}

variable "push_batch_size" {
  description = "Writes per $batch request when pushing marketing edits to Dynamics (at most 1000)."
  type        = number
  default     = 100

  validation {
    condition     = var.push_batch_size >= 1 && var.push_batch_size <= 1000
    error_message = "push_batch_size must be between 1 and 1000."
  }
}

variable "log_level" {
  description = "debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

# --- Service Bus -------------------------------------------------------------------------------

variable "pull_jobs_duplicate_detection_window" {
  description = "ISO 8601 duration. Must be at least one scheduler slot so a doubled timer tick is dropped; 10 minutes also covers a late retry of the same slot."
  type        = string
  default     = "PT10M"
}

variable "pull_jobs_max_delivery_count" {
  description = "Deliveries of a pull job before it is dead-lettered."
  type        = number
  default     = 10
}

variable "pull_jobs_lock_duration" {
  description = "Message (session) lock of pull-jobs; 5 minutes is the Service Bus maximum."
  type        = string
  default     = "PT5M"
}

variable "push_retry_max_delivery_count" {
  description = "Deliveries of a push retry before it is dead-lettered."
  type        = number
  default     = 10
}

variable "push_retry_lock_duration" {
  description = "Message lock of push-retry."
  type        = string
  default     = "PT1M"
}

variable "queue_message_ttl" {
  description = "Time to live of queued messages; expired ones are dead-lettered, never dropped."
  type        = string
  default     = "P14D"
}

# --- Cosmos DB ---------------------------------------------------------------------------------

variable "cosmos_capacity_mode" {
  description = "serverless (pay per request, small or spiky tables) or autoscale (shared database throughput)."
  type        = string
  default     = "serverless"

  validation {
    condition     = contains(["serverless", "autoscale"], var.cosmos_capacity_mode)
    error_message = "cosmos_capacity_mode must be serverless or autoscale."
  }
}

variable "cosmos_autoscale_max_throughput" {
  description = "Maximum RU/s of the database when cosmos_capacity_mode is autoscale (scales down to 10%)."
  type        = number
  default     = 1000
}

variable "cosmos_database_name" {
  description = "Cosmos SQL database of the marketing data."
  type        = string
  default     = "marketing"
}

# --- Function App ------------------------------------------------------------------------------

variable "function_maximum_instance_count" {
  description = "Flex Consumption scale-out limit."
  type        = number
  default     = 40
}

variable "function_instance_memory_mb" {
  description = "Flex Consumption instance size: 2048 or 4096."
  type        = number
  default     = 2048

  validation {
    condition     = contains([2048, 4096], var.function_instance_memory_mb)
    error_message = "function_instance_memory_mb must be 2048 or 4096."
  }
}

# --- Monitoring and alerts ---------------------------------------------------------------------

variable "log_retention_days" {
  description = "Log Analytics retention."
  type        = number
  default     = 30
}

variable "alert_email" {
  description = "Address that receives alerts. Empty creates the action group without a receiver."
  type        = string
  default     = ""
}

variable "sync_lag_threshold_seconds" {
  description = "Alert when an entity's sync lag stays above this many seconds."
  type        = number
  default     = 900
}

variable "function_failure_threshold" {
  description = "Alert when more than this many function executions fail in 15 minutes."
  type        = number
  default     = 0
}

variable "throttle_threshold_per_5m" {
  description = "Dataverse 429 responses per 5 minutes that count as throttled; three such windows in a row alert."
  type        = number
  default     = 20
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "notify_secret" {
  description = "Shared secret the Dataverse webhook sends to POST /api/notify (docs/realtime.md). Stored only in Key Vault (and Terraform state). Empty to manage it outside Terraform (az keyvault secret set --name notify-secret)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "notify_window_seconds" {
  description = "Notifications of one entity within this many seconds share their pull jobs (docs/realtime.md)."
  type        = number
  default     = 2

  validation {
    condition     = var.notify_window_seconds >= 0 && var.notify_window_seconds <= 60 && floor(var.notify_window_seconds) == var.notify_window_seconds
    error_message = "notify_window_seconds must be a whole number from 0 to 60."
  }
}

variable "dataverse_organization_id" {
  description = "Organisation id notifications must come from; empty to take WhoAmI's answer."
  type        = string
  default     = ""

  validation {
    condition     = var.dataverse_organization_id == "" || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.dataverse_organization_id))
    error_message = "dataverse_organization_id must be empty or a GUID."
  }
}
