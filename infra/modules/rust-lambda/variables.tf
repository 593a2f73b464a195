################################################################################
# Function
################################################################################

variable "function_name" {
  description = "Name of the Lambda function. Also names its log group (/aws/lambda/<name>), execution role and failure queue."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 characters of letters, digits, hyphens and underscores."
  }
}

variable "description" {
  description = "Description of the Lambda function."
  type        = string
  default     = ""
}

variable "zip_path" {
  description = "Path to the deployment package built by `cargo lambda build --release --output-format zip` (a zip holding a single executable named `bootstrap`). Its SHA-256 becomes source_code_hash, so a rebuilt binary is redeployed."
  type        = string

  validation {
    condition     = endswith(var.zip_path, ".zip")
    error_message = "zip_path must point at a .zip file (cargo lambda build --output-format zip)."
  }
}

variable "architecture" {
  description = "Instruction set the binary was built for: \"arm64\" (Graviton, built with `cargo lambda build --arm64`) or \"x86_64\"."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "memory_size" {
  description = "Memory in MB available to the function (128-10240). CPU scales with it."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout" {
  description = "Maximum run time of one invocation, in seconds (1-900)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "environment_variables" {
  description = "Environment variables of the function. Do not put secrets here: they are stored in plain text in the Terraform state; read them from Secrets Manager at run time."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key used to encrypt the environment variables, the log group and the failure queue. Null uses AWS owned/managed keys (and SSE-SQS for the queue)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:[^:]+:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:...) or null."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrent executions reserved for the function. 0 disables the function; -1 means no reservation (uses the unreserved account pool)."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 0."
  }
}

variable "tracing_mode" {
  description = "AWS X-Ray tracing mode: \"Active\" samples and traces invocations (the role gets xray:PutTraceSegments/PutTelemetryRecords), \"PassThrough\" only traces requests that arrive with a sampled trace header."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be \"Active\" or \"PassThrough\"."
  }
}

################################################################################
# Logging
################################################################################

variable "application_log_level" {
  description = "Minimum level of the application's JSON log records that Lambda forwards to CloudWatch Logs (the function's tracing subscriber should log JSON). One of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "log_retention_in_days" {
  description = "Days CloudWatch Logs keeps the function's logs. One of the values CloudWatch accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653); 0 keeps them forever."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653) or 0."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the log group. Null falls back to kms_key_arn; when both are null CloudWatch Logs uses its own encryption. The key policy must allow logs.<region>.amazonaws.com."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:[^:]+:kms:", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:...) or null."
  }
}

################################################################################
# Permissions
################################################################################

variable "policy_statements" {
  description = <<-EOT
    Allow statements of the function's own IAM policy, besides the log, failure-queue and X-Ray
    permissions the module adds itself. Each has a `sid` (letters and digits, unique), the
    `actions` it grants and the `resources` (ARNs, or ["*"] for actions without resource-level
    permissions) it grants them on, and optionally `conditions` that must all hold (`test` such
    as StringLike, the condition `variable` such as s3:prefix, and the `values`). An empty list
    attaches no extra policy.
  EOT
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for s in var.policy_statements : can(regex("^[A-Za-z0-9]+$", s.sid))])
    error_message = "Every statement sid must consist of letters and digits only."
  }

  validation {
    condition     = length(distinct([for s in var.policy_statements : s.sid])) == length(var.policy_statements)
    error_message = "Statement sids must be unique."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : length(s.actions) > 0 && length(s.resources) > 0])
    error_message = "Every statement needs at least one action and one resource."
  }

  validation {
    condition     = alltrue(flatten([for s in var.policy_statements : [for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9*]+$", a))]]))
    error_message = "Actions must look like service:Action (for example s3:GetObject)."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of an IAM policy used as permissions boundary of the execution role, if your organisation requires one."
  type        = string
  default     = null
}

################################################################################
# Asynchronous invocation
################################################################################

variable "maximum_retry_attempts" {
  description = "How many times Lambda retries a failed asynchronous invocation (0-2) before sending the event to the failure queue."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.maximum_retry_attempts)
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "Maximum age of an asynchronous event, in seconds (60-21600), before Lambda gives up on it and sends it to the failure queue."
  type        = number
  default     = 21600

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600
    error_message = "maximum_event_age_in_seconds must be between 60 and 21600."
  }
}

variable "failure_queue_message_retention_seconds" {
  description = "How long the failure queue keeps failed events, in seconds (60-1209600). Defaults to the SQS maximum of 14 days so an operator has time to look."
  type        = number
  default     = 1209600

  validation {
    condition     = var.failure_queue_message_retention_seconds >= 60 && var.failure_queue_message_retention_seconds <= 1209600
    error_message = "failure_queue_message_retention_seconds must be between 60 and 1209600."
  }
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
  nullable    = false
}
