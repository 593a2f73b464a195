# Production:
#   terraform apply -var-file=examples/prod.tfvars
# Graviton binaries (cargo lambda build --release --arm64 --output-format zip), a year of logs,
# recoverable secrets, and traffic shifting limited to the zones the config names.

region      = "eu-west-1"
name_prefix = "ops-suite"

lambda_architecture = "arm64"

application_log_level = "INFO"
log_retention_in_days = 365
tracing_mode          = "Active"

alarm_rollback_reserved_concurrency = 5
maximum_retry_attempts              = 2

state_bucket_force_destroy     = false
secret_recovery_window_in_days = 30
kms_deletion_window_in_days    = 30

audit_transition_ia_days           = 30
audit_transition_glacier_days      = 90
audit_expiration_days              = 730
noncurrent_version_expiration_days = 90

# The zone of demo.internal. (traffic.zone_name in config/suite.yaml). Replace with your zone IDs:
#   aws route53 list-hosted-zones-by-name --dns-name demo.internal. --query 'HostedZones[0].Id'
hosted_zone_ids = ["Z0123456789EXAMPLE"]

# cost-check: daily at 07:00 UTC (the defaults, spelled out).
cost_check_schedule          = "cron(0 7 * * ? *)"
cost_check_schedule_timezone = "UTC"

# deploy-hook: the task and execution roles the services' task definitions name (it may pass only
# these, only to ECS tasks), and the secrets those task definitions reference (its quality gate
# checks they exist). Replace with yours.
ecs_task_role_arns = [
  "arn:aws:iam::123456789012:role/checkout-task",
  "arn:aws:iam::123456789012:role/billing-task",
  "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
]
app_secret_arns = [
  "arn:aws:secretsmanager:eu-west-1:123456789012:secret:checkout/*",
  "arn:aws:secretsmanager:eu-west-1:123456789012:secret:billing/*",
]
# The config's migration task (checkout's pre_deploy `task` hook) runs only revisions of this
# family (and only in the hooks' clusters); the post-promotion watch runs every minute (default).
deploy_hook_task_families  = ["checkout"]
deploy_hook_watch_schedule = "rate(1 minute)"

# backup: snapshots under Object Lock (each object kept until its plan's keep_within has passed),
# in the bucket <name_prefix>-backup-<account>-<region> (terraform output backup_bucket: put it in
# the config's backup.plans.*.destination.bucket). A plan may instead write to a bucket in another
# account or region (examples/backup-cross-account.tf.example, examples/backup-cross-region.tfvars).
backup_object_lock                        = true
backup_noncurrent_version_expiration_days = 30
# What the function may back up and restore, narrower than what the config's plans derive
# (zones named by zone_name would otherwise allow every zone). Replace with yours.
backup_zone_ids = ["Z0123456789EXAMPLE"]

# The example pipeline (S3 source, manual approval, deploy-hook; on by default) deploys this
# service. Add example_pipeline_enabled = false once your own pipelines call deploy-hook.
example_pipeline_service = "checkout"

# ops-api: the organisation's OIDC issuer and the client ID of the operators' app (replace with
# yours); the claim naming the role, and the stage's throttling (the defaults, spelled out).
jwt_issuer                     = "https://login.example.com/"
jwt_audience                   = ["ops-suite-console"]
ops_api_role_claim             = "ops_role"
ops_api_throttling_burst_limit = 50
ops_api_throttling_rate_limit  = 20

tags = {
  environment = "prod"
}
