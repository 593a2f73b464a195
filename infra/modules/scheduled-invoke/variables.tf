################################################################################
# Schedule
################################################################################

variable "name" {
  description = "Name of the schedule (1-64 letters, digits, hyphens, underscores and dots). Also names the execution role unless role_name is set."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z_.-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters of letters, digits, hyphens, underscores and dots."
  }
}

variable "group_name" {
  description = "Schedule group the schedule belongs to."
  type        = string
  default     = "default"
  nullable    = false
}

variable "description" {
  description = "Description of the schedule (at most 512 characters)."
  type        = string
  default     = null

  validation {
    condition     = var.description == null || length(coalesce(var.description, " ")) <= 512
    error_message = "description must be at most 512 characters."
  }
}

variable "enabled" {
  description = "Whether the schedule runs (ENABLED) or is kept without running (DISABLED)."
  type        = bool
  default     = true
  nullable    = false
}

variable "schedule_expression" {
  description = "When the schedule runs: rate(...), cron(...) or at(...) (EventBridge Scheduler syntax)."
  type        = string

  validation {
    condition     = can(regex("^(rate|cron|at)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be a rate(...), cron(...) or at(...) expression, e.g. cron(0 7 * * ? *)."
  }
}

variable "schedule_expression_timezone" {
  description = "IANA time zone cron(...) and at(...) expressions are evaluated in."
  type        = string
  default     = "UTC"
  nullable    = false
}

variable "flexible_window_minutes" {
  description = "Width of the flexible time window in minutes (1-1440): Scheduler starts each run at some moment within that window after the scheduled time, which spreads runs scheduled at the same time. 0 runs at the scheduled time exactly (mode OFF)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.flexible_window_minutes >= 0 && var.flexible_window_minutes <= 1440 && floor(var.flexible_window_minutes) == var.flexible_window_minutes
    error_message = "flexible_window_minutes must be a whole number of minutes between 0 (off) and 1440."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key the schedule (its target input) is encrypted with. The execution role may decrypt with it for this schedule only (encryption context aws:scheduler:schedule:arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:...)."
  }
}

################################################################################
# Target
################################################################################

variable "function_arn" {
  description = "Unqualified ARN of the Lambda function the schedule invokes (asynchronously)."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:lambda:[^:]+:[0-9]{12}:function:[A-Za-z0-9_-]+$", var.function_arn))
    error_message = "function_arn must be an unqualified Lambda function ARN (arn:<partition>:lambda:<region>:<account>:function:<name>)."
  }
}

variable "input" {
  description = "The event the function receives, as a JSON string (jsonencode(...))."
  type        = string
  default     = "{}"
  nullable    = false

  validation {
    condition     = can(jsondecode(var.input))
    error_message = "input must be a JSON document (use jsonencode)."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries (0-185) of a delivery Scheduler could not make (the Invoke call failed: throttling, permissions) before the run goes to the dead-letter queue."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 185 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be a whole number between 0 and 185."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "How long (60-86400 seconds) Scheduler keeps trying to deliver one run."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 86400
    error_message = "maximum_event_age_in_seconds must be between 60 and 86400."
  }
}

variable "dead_letter_queue_arn" {
  description = "SQS queue receiving runs Scheduler could not deliver (usually the function's failure queue, so every failed run ends up in one place)."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:sqs:", var.dead_letter_queue_arn))
    error_message = "dead_letter_queue_arn must be an SQS queue ARN."
  }
}

variable "dead_letter_queue_kms_key_arn" {
  description = "Customer managed KMS key the dead-letter queue is encrypted with (the role may use it through SQS only). Null for a queue encrypted with SSE-SQS."
  type        = string
  default     = null

  validation {
    condition     = var.dead_letter_queue_kms_key_arn == null || can(regex("^arn:[^:]+:kms:", var.dead_letter_queue_kms_key_arn))
    error_message = "dead_letter_queue_kms_key_arn must be a KMS key ARN or null."
  }
}

################################################################################
# Execution role
################################################################################

variable "role_name" {
  description = "Name of the execution role (at most 64 characters). Null uses <name>-scheduler."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[\\w+=,.@-]{1,64}$", coalesce(var.role_name, "x")))
    error_message = "role_name must be 1-64 characters valid in an IAM role name."
  }
}

variable "role_policy_name" {
  description = "Name of the execution role's inline policy."
  type        = string
  default     = "invoke"
  nullable    = false
}

variable "invoke_statement_sid" {
  description = "Sid of the policy statement allowing lambda:InvokeFunction (letters and digits)."
  type        = string
  default     = "InvokeFunction"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9]+$", var.invoke_statement_sid))
    error_message = "invoke_statement_sid must consist of letters and digits only."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of an IAM policy used as permissions boundary of the execution role, if your organisation requires one."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags of the execution role (schedules take no tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}
