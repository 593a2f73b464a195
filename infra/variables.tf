################################################################################
# Placement and naming
################################################################################

variable "region" {
  description = "AWS region to deploy the suite to. Null uses the region of the environment (AWS_REGION) or of the selected AWS profile."
  type        = string
  default     = null
}

variable "name_prefix" {
  description = "Prefix of every resource name (function, role, topic, rule, key alias, default bucket name). Use a different prefix to run two suites in one account and region (their configs must then name different secrets: secret names come from the config)."
  type        = string
  default     = "ops-suite"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "tags" {
  description = "Tags added to every resource (through the provider's default_tags), on top of app=<name_prefix> and managed-by=terraform."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# State bucket and configuration
################################################################################

variable "state_bucket_name" {
  description = "Name of the S3 bucket holding the suite's state (deployment records, audit trail, config). Null derives a globally unique name: <name_prefix>-state-<account id>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)."
  }
}

variable "state_bucket_force_destroy" {
  description = "Let `terraform destroy` delete the state bucket with everything in it (every object version). Keep false where the deployment records matter; true suits throw-away environments."
  type        = bool
  default     = false
}

variable "config_file" {
  description = "Path of the suite configuration YAML uploaded to s3://<state bucket>/config/suite.yaml. Terraform also reads it to create one secret per notification channel and to scope IAM and alarm triggers. Null uses config/suite.yaml next to this file."
  type        = string
  default     = null
}

variable "audit_transition_ia_days" {
  description = "Days after which objects under audit/ in the state bucket move to STANDARD_IA (at least 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.audit_transition_ia_days >= 30
    error_message = "audit_transition_ia_days must be at least 30 (an S3 minimum for STANDARD_IA)."
  }
}

variable "audit_transition_glacier_days" {
  description = "Days after which objects under audit/ move to GLACIER (Flexible Retrieval). Must be later than audit_transition_ia_days."
  type        = number
  default     = 90
}

variable "audit_expiration_days" {
  description = "Days after which objects under audit/ are deleted. Must be later than audit_transition_glacier_days."
  type        = number
  default     = 730
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted version of any state object is kept before S3 removes it (the undo window of the versioned bucket)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which S3 aborts incomplete multipart uploads in the state bucket (and drops their parts)."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

################################################################################
# Encryption and secrets
################################################################################

variable "kms_deletion_window_in_days" {
  description = "Waiting period (7-30 days) before the suite KMS key is deleted after `terraform destroy`. Everything encrypted with it becomes unreadable afterwards."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_in_days >= 7 && var.kms_deletion_window_in_days <= 30
    error_message = "kms_deletion_window_in_days must be between 7 and 30."
  }
}

variable "secret_recovery_window_in_days" {
  description = "Days a deleted notifier secret can still be restored (7-30), or 0 to delete it at once (handy in throw-away dev accounts: the same name can be created again right away)."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_in_days == 0 || (var.secret_recovery_window_in_days >= 7 && var.secret_recovery_window_in_days <= 30)
    error_message = "secret_recovery_window_in_days must be 0 or between 7 and 30."
  }
}

################################################################################
# Functions
################################################################################

variable "artifacts_dir" {
  description = "Folder holding the zips of `cargo lambda build --release --output-format zip`, one sub-folder per function (<artifacts_dir>/alarm-rollback/bootstrap.zip, <artifacts_dir>/backup/bootstrap.zip, <artifacts_dir>/cost-check/bootstrap.zip, <artifacts_dir>/deploy-hook/bootstrap.zip, <artifacts_dir>/ops-api/bootstrap.zip). Null uses target/lambda of the repository (../target/lambda from this folder). Set it when CARGO_TARGET_DIR points elsewhere."
  type        = string
  default     = null
}

variable "lambda_architecture" {
  description = "Instruction set of the function binaries: \"arm64\" (build with `cargo lambda build --arm64`) or \"x86_64\". Must match how the zips were built."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "application_log_level" {
  description = "Minimum level of the functions' JSON log records kept in CloudWatch Logs (TRACE, DEBUG, INFO, WARN, ERROR or FATAL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "log_retention_in_days" {
  description = "Days CloudWatch Logs keeps the functions' logs (a value CloudWatch accepts, e.g. 14, 30, 90, 365; 0 keeps them forever)."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653) or 0."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of the functions: \"Active\" or \"PassThrough\"."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be \"Active\" or \"PassThrough\"."
  }
}

variable "alarm_rollback_reserved_concurrency" {
  description = "Concurrent executions reserved for alarm-rollback, so rollbacks still run when other functions exhaust the account's pool during an incident (and an alarm storm cannot start more than this many at once). -1 reserves nothing."
  type        = number
  default     = 5

  validation {
    condition     = var.alarm_rollback_reserved_concurrency >= -1 && floor(var.alarm_rollback_reserved_concurrency) == var.alarm_rollback_reserved_concurrency
    error_message = "alarm_rollback_reserved_concurrency must be -1 or a whole number >= 0."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries (0-2) of a failed asynchronous invocation (alarm events from EventBridge, SNS or CloudWatch; scheduled runs; CodePipeline jobs) before the event goes to the function's failure queue."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.maximum_retry_attempts)
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "hosted_zone_ids" {
  description = "Route 53 hosted zone IDs (Z123..., with or without the /hostedzone/ prefix) whose records alarm-rollback may shift traffic in. Empty grants every hosted zone of the account (hostedzone/*): list the zones of the config's traffic.zone_name entries in production."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.hosted_zone_ids : can(regex("^(/hostedzone/)?[A-Z0-9]+$", id))])
    error_message = "hosted_zone_ids must be hosted zone IDs such as Z0123456789ABCDEFGHIJ."
  }
}

################################################################################
# cost-check
################################################################################

variable "cost_check_memory_size" {
  description = "Memory in MB of cost-check (128-10240). It aggregates a month and more of the cost export in memory; CPU, and so the time to read the export, scales with it."
  type        = number
  default     = 512

  validation {
    condition     = var.cost_check_memory_size >= 128 && var.cost_check_memory_size <= 10240 && floor(var.cost_check_memory_size) == var.cost_check_memory_size
    error_message = "cost_check_memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "cost_check_timeout" {
  description = "Maximum run time of one cost-check invocation in seconds (1-900)."
  type        = number
  default     = 300

  validation {
    condition     = var.cost_check_timeout >= 1 && var.cost_check_timeout <= 900 && floor(var.cost_check_timeout) == var.cost_check_timeout
    error_message = "cost_check_timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "cost_check_schedule" {
  description = "When EventBridge Scheduler runs cost-check: a cron(...) or rate(...) expression, evaluated in cost_check_schedule_timezone. The default runs daily at 07:00."
  type        = string
  default     = "cron(0 7 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.cost_check_schedule))
    error_message = "cost_check_schedule must be a cron(...) or rate(...) expression, e.g. cron(0 7 * * ? *)."
  }
}

variable "cost_check_schedule_timezone" {
  description = "IANA time zone of cost_check_schedule (e.g. UTC, Europe/Berlin)."
  type        = string
  default     = "UTC"

  validation {
    condition     = length(trimspace(var.cost_check_schedule_timezone)) > 0
    error_message = "cost_check_schedule_timezone must be a time zone name such as UTC or Europe/Berlin."
  }
}

variable "cost_export_kms_key_arns" {
  description = "Customer managed KMS keys the cost export bucket (cost.source of kind focus or cur2) encrypts its objects with; cost-check gets kms:Decrypt on them. Empty (the default) for exports written with SSE-S3, as AWS Data Exports write them by default."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.cost_export_kms_key_arns : can(regex("^arn:[^:]+:kms:[^:]+:[0-9]{12}:key/", arn))])
    error_message = "cost_export_kms_key_arns must be KMS key ARNs (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

################################################################################
# deploy-hook
################################################################################

variable "deploy_hook_decommission_schedule" {
  description = "When EventBridge Scheduler runs deploy-hook with {\"action\":\"decommission\"} to scale old colors to zero once their rollback window has passed: a rate(...) or cron(...) expression (cron in UTC)."
  type        = string
  default     = "rate(1 hour)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.deploy_hook_decommission_schedule))
    error_message = "deploy_hook_decommission_schedule must be a rate(...) or cron(...) expression, e.g. rate(1 hour)."
  }
}

variable "deploy_hook_watch_schedule" {
  description = "When EventBridge Scheduler runs deploy-hook with {\"action\":\"watch\"} to run the metric checks of promoted versions during their rollback window (deploy.analysis.post_promotion): a rate(...) or cron(...) expression (cron in UTC). The schedule exists only while some service of the config has such checks."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.deploy_hook_watch_schedule))
    error_message = "deploy_hook_watch_schedule must be a rate(...) or cron(...) expression, e.g. rate(1 minute)."
  }
}

variable "deploy_hook_task_families" {
  description = "Task definition families whose revisions deploy-hook may run as one-off tasks (the `task` lifecycle hooks of deploy.hooks), always only in the clusters of the services that have such hooks (ecs:cluster). Empty (the default) allows every family there: the config does not name the families (deploy-hook derives them from the services' task definitions), so list them here to narrow it."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for family in var.deploy_hook_task_families : can(regex("^[A-Za-z0-9_-]{1,255}$", family))])
    error_message = "deploy_hook_task_families must be task definition family names (letters, digits, hyphens and underscores)."
  }
}

variable "ecs_task_role_arns" {
  description = "IAM roles (task roles and task execution roles) that the task definitions deploy-hook registers (and runs as one-off tasks of `task` hooks) may name; deploy-hook gets iam:PassRole on exactly these, and only to ecs-tasks.amazonaws.com. Empty (the default) grants no iam:PassRole: registering a revision or running a task that names a role then fails, so list the roles of the config's services here."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.ecs_task_role_arns : can(regex("^arn:[^:]+:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "ecs_task_role_arns must be IAM role ARNs (arn:<partition>:iam::<account>:role/<name>)."
  }
}

variable "app_secret_arns" {
  description = "Secrets Manager secrets the services' task definitions reference; deploy-hook's quality gate gets secretsmanager:DescribeSecret (metadata, never the value) on them to check that they exist. Empty (the default) allows every secret of this account and region (secret:*)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.app_secret_arns : can(regex("^arn:[^:]+:secretsmanager:[^:]+:[0-9]{12}:secret:.+$", arn))])
    error_message = "app_secret_arns must be Secrets Manager secret ARNs (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>), wildcards allowed."
  }
}

################################################################################
# backup
################################################################################

variable "backup_memory_size" {
  description = "Memory in MB of the backup function (128-10240). It streams objects and holds one snapshot manifest at a time; CPU, and so hashing and copying speed, scales with it."
  type        = number
  default     = 512

  validation {
    condition     = var.backup_memory_size >= 128 && var.backup_memory_size <= 10240 && floor(var.backup_memory_size) == var.backup_memory_size
    error_message = "backup_memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "backup_timeout" {
  description = "Maximum run time of one backup invocation in seconds (1-900). A run that needs longer records where it stands and continues in a new invocation of itself."
  type        = number
  default     = 900

  validation {
    condition     = var.backup_timeout >= 1 && var.backup_timeout <= 900 && floor(var.backup_timeout) == var.backup_timeout
    error_message = "backup_timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "backup_schedule_flexible_window_minutes" {
  description = "Flexible time window of the backup plans' schedules in minutes (0-1440): each run starts at some moment within this window after its scheduled time, spreading plans scheduled at the same time. 0 starts every run at its scheduled time exactly."
  type        = number
  default     = 15

  validation {
    condition     = var.backup_schedule_flexible_window_minutes >= 0 && var.backup_schedule_flexible_window_minutes <= 1440 && floor(var.backup_schedule_flexible_window_minutes) == var.backup_schedule_flexible_window_minutes
    error_message = "backup_schedule_flexible_window_minutes must be a whole number of minutes between 0 and 1440."
  }
}

variable "backup_bucket_name" {
  description = "Name of the backup bucket created here (versioned, SSE-KMS with the backup key). Null derives <name_prefix>-backup-<account id>-<region>. The config's plans name the bucket they write to (backup.plans.*.destination.bucket): put this name there, or name a bucket prepared elsewhere (examples/backup-cross-account.tf.example)."
  type        = string
  default     = null

  validation {
    condition     = var.backup_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.backup_bucket_name))
    error_message = "backup_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)."
  }
}

variable "backup_bucket_force_destroy" {
  description = "Let `terraform destroy` delete the backup bucket with every snapshot in it. Keep false wherever the backups matter (objects under an Object Lock retention cannot be deleted anyway); true suits throw-away environments."
  type        = bool
  default     = false
}

variable "backup_object_lock" {
  description = "Create the backup bucket with S3 Object Lock enabled. There is no default retention rule: the function gives each object it writes a retain-until date derived from its plan's retention (keep_within), so no version of a snapshot can be deleted before a prune would remove it, and a prune never meets a locked object. Decide before the first apply: S3 turns Object Lock on only at creation through this setting, and changing it later makes Terraform replace the bucket (which fails while the bucket holds snapshots, unless backup_bucket_force_destroy is true). To turn it on for an existing bucket, enable it with `aws s3api put-object-lock-configuration --bucket <bucket> --object-lock-configuration ObjectLockEnabled=Enabled` first, then set this to true."
  type        = bool
  default     = false
}

variable "backup_noncurrent_version_expiration_days" {
  description = "Days a version the backup prune deleted (or a replaced manifest pointer) is kept before S3 removes it: the undo window of a prune. Object Lock keeps a locked version longer if its retain-until date is later."
  type        = number
  default     = 30

  validation {
    condition     = var.backup_noncurrent_version_expiration_days >= 1
    error_message = "backup_noncurrent_version_expiration_days must be at least 1."
  }
}

variable "backup_key_alias" {
  description = "Alias of the backup KMS key, which the config's plans name as encryption.kms_key. Null uses alias/<name_prefix>-backup."
  type        = string
  default     = null

  validation {
    condition     = var.backup_key_alias == null || can(regex("^alias/[A-Za-z0-9/_-]+$", coalesce(var.backup_key_alias, "alias/x"))) && !startswith(coalesce(var.backup_key_alias, "alias/x"), "alias/aws/")
    error_message = "backup_key_alias must look like alias/<name> (letters, digits, /, _ and -), not alias/aws/..."
  }
}

variable "backup_kms_key_arns" {
  description = "KMS keys besides the backup key (alias/<name_prefix>-backup) that the backup plans use: a plan's encryption.kms_key in another account or region, and the default key of a destination bucket elsewhere. The function may use them like the backup key: GenerateDataKey/Decrypt with a backup:plan encryption context, and through S3. The key policies must also allow the role <name_prefix>-backup (examples/backup-cross-account.tf.example)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.backup_kms_key_arns : can(regex("^arn:[^:]+:kms:[^:]+:[0-9]{12}:key/", arn))])
    error_message = "backup_kms_key_arns must be KMS key ARNs (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "backup_source_buckets" {
  description = "S3 buckets the backup function may read (and write back into on restore). Empty (the default) derives them from the config: the bucket and prefix of every backup.plans.*.targets.s3 entry (objects under that prefix only)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for bucket in var.backup_source_buckets : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket))])
    error_message = "backup_source_buckets must be S3 bucket names."
  }
}

variable "backup_source_kms_key_arns" {
  description = "Customer managed KMS keys of what the backup function reads and restores: source buckets encrypted with SSE-KMS and secrets encrypted with a key of their own. It may use them through S3 and Secrets Manager only. Empty (the default) suits SSE-S3 buckets and secrets under the AWS managed key aws/secretsmanager."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.backup_source_kms_key_arns : can(regex("^arn:[^:]+:kms:[^:]+:[0-9]{12}:key/", arn))])
    error_message = "backup_source_kms_key_arns must be KMS key ARNs (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "backup_zone_ids" {
  description = "Route 53 hosted zones the backup function may read and restore records into. Empty (the default) derives them from the config's backup.plans.*.targets.route53 entries: their zone_id, or every zone of the account (hostedzone/*) as soon as one entry names its zone by zone_name only."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.backup_zone_ids : can(regex("^(/hostedzone/)?[A-Z0-9]+$", id))])
    error_message = "backup_zone_ids must be hosted zone IDs such as Z0123456789ABCDEFGHIJ."
  }
}

variable "backup_ecs_clusters" {
  description = "ECS clusters (names or ARNs) whose services the backup function may read and restore, every service of each. Empty (the default) derives them from the config's backup.plans.*.targets.ecs entries: the services listed there, or every service of a cluster listed without services."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for cluster in var.backup_ecs_clusters : length(trimspace(cluster)) > 0])
    error_message = "backup_ecs_clusters must be ECS cluster names or ARNs."
  }
}

variable "backup_secret_arns" {
  description = "Secrets Manager secrets the backup function may read and restore. Empty (the default) derives them from the config's backup.plans.*.targets.secrets: a secret named by ARN as is, a secret named by name as arn:...:secret:<name>-?????? of this account and region (the six characters Secrets Manager appends, so a secret re-created on restore is covered too)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.backup_secret_arns : can(regex("^arn:[^:]+:secretsmanager:[^:]+:[0-9]{12}:secret:.+$", arn))])
    error_message = "backup_secret_arns must be Secrets Manager secret ARNs (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>), wildcards allowed."
  }
}

################################################################################
# ops-api (REST API, status page, Slack interactivity)
################################################################################

variable "jwt_issuer" {
  description = "Issuer URL of the OpenID Connect provider whose tokens ops-api's JWT authorizer accepts (the tokens' iss claim), e.g. https://cognito-idp.<region>.amazonaws.com/<user pool id>, https://<tenant>.auth0.com/ or https://token.actions.githubusercontent.com. API Gateway reads its keys from <issuer>/.well-known/openid-configuration."
  type        = string

  validation {
    condition     = can(regex("^https://[^/]+", var.jwt_issuer))
    error_message = "jwt_issuer must be an https:// URL (the iss claim of the tokens)."
  }
}

variable "jwt_audience" {
  description = "Audiences ops-api's JWT authorizer accepts: a token's aud (or client_id) claim must be one of them, e.g. the client ID of the app people sign in with."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.jwt_audience) > 0 && alltrue([for audience in var.jwt_audience : length(trimspace(audience)) > 0])
    error_message = "jwt_audience must list at least one non-empty audience."
  }
}

variable "ops_api_role_claim" {
  description = "JWT claim holding a person's role (ops-api's ROLE_CLAIM): the value \"operator\" may run commands, anything else (or no claim) is a viewer."
  type        = string
  default     = "ops_role"

  validation {
    condition     = can(regex("^[A-Za-z0-9_:./-]{1,128}$", var.ops_api_role_claim))
    error_message = "ops_api_role_claim must be a claim name (letters, digits, _ : . / -)."
  }
}

variable "ops_api_throttling_burst_limit" {
  description = "Burst limit of every route of ops-api's HTTP API stage: requests served at once above the steady rate before API Gateway answers 429."
  type        = number
  default     = 50

  validation {
    condition     = var.ops_api_throttling_burst_limit >= 1 && floor(var.ops_api_throttling_burst_limit) == var.ops_api_throttling_burst_limit
    error_message = "ops_api_throttling_burst_limit must be a whole number >= 1."
  }
}

variable "ops_api_throttling_rate_limit" {
  description = "Steady-state rate limit of every route of ops-api's HTTP API stage, in requests per second."
  type        = number
  default     = 20

  validation {
    condition     = var.ops_api_throttling_rate_limit > 0
    error_message = "ops_api_throttling_rate_limit must be greater than 0."
  }
}

variable "ops_api_reserved_concurrency" {
  description = "Concurrent executions reserved for ops-api. -1 (the default) reserves nothing: the stage's throttling already bounds it, and reserving takes units from the account pool the other functions share."
  type        = number
  default     = -1

  validation {
    condition     = var.ops_api_reserved_concurrency >= -1 && floor(var.ops_api_reserved_concurrency) == var.ops_api_reserved_concurrency
    error_message = "ops_api_reserved_concurrency must be -1 or a whole number >= 0."
  }
}

################################################################################
# Example pipeline
################################################################################

variable "example_pipeline_enabled" {
  description = "Create the example CodePipeline (S3 source, manual approval, deploy-hook) and its artifact bucket and role. Set false where you wire deploy-hook into pipelines of your own."
  type        = bool
  default     = true
}

variable "example_pipeline_service" {
  description = "Service of the config (a key of `services`) the example pipeline deploys; passed to deploy-hook as the action's UserParameters {\"service\": ...}."
  type        = string
  default     = "checkout"

  validation {
    condition     = length(trimspace(var.example_pipeline_service)) > 0
    error_message = "example_pipeline_service must name a service of the config."
  }
}

variable "example_pipeline_source_bucket" {
  description = "Versioned S3 bucket the example pipeline's source action reads example_pipeline_source_key from. Null uses the pipeline's own artifact bucket (versioned, encrypted with the suite key)."
  type        = string
  default     = null

  validation {
    condition     = var.example_pipeline_source_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.example_pipeline_source_bucket))
    error_message = "example_pipeline_source_bucket must be a valid S3 bucket name or null."
  }
}

variable "example_pipeline_source_key" {
  description = "Object key of the zip the example pipeline's source action reads (a new version of it is a new revision to deploy)."
  type        = string
  default     = "source.zip"

  validation {
    condition     = length(var.example_pipeline_source_key) > 0 && !startswith(var.example_pipeline_source_key, "/")
    error_message = "example_pipeline_source_key must be a non-empty object key without a leading slash."
  }
}

variable "ecs_lifecycle_hook_role" {
  description = "Whether to create the role ECS assumes to invoke deploy-hook as a deployment lifecycle hook (output ecs_lifecycle_hook_role_arn: the roleArn of a service's deploymentConfiguration.lifecycleHooks, with deploy-hook's ARN as hookTargetArn)."
  type        = bool
  default     = true
}
