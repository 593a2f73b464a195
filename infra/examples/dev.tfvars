# A throw-away development deployment:
#   terraform apply -var-file=examples/dev.tfvars
# Cheaper and easier to tear down than prod: short log retention, secrets deleted at once,
# shortest key deletion window. scripts/infra-check.sh also applies this file to the emulator.

region      = "eu-west-1"
name_prefix = "ops-suite-dev"

# Binaries built on an x86_64 machine without cross-compiling (cargo lambda build without --arm64).
lambda_architecture = "x86_64"

application_log_level = "DEBUG"
log_retention_in_days = 14
tracing_mode          = "Active"

alarm_rollback_reserved_concurrency = 2
maximum_retry_attempts              = 1

state_bucket_force_destroy     = true
secret_recovery_window_in_days = 0
kms_deletion_window_in_days    = 7

noncurrent_version_expiration_days = 7

# Every hosted zone of the (dev) account.
hosted_zone_ids = []

# backup: the bucket and key alias the shipped config's plan names (backup.plans.suite.destination
# and encryption); the bucket is removed with its snapshots on destroy, and has no Object Lock, so
# a dev bucket can be emptied.
backup_bucket_name          = "ops-suite-demo-backups"
backup_key_alias            = "alias/ops-suite-backup"
backup_bucket_force_destroy = true
backup_object_lock          = false

backup_noncurrent_version_expiration_days = 7

# ops-api: people sign in with the dev Cognito user pool (the tokens' iss and the app client ID);
# replace with your OIDC issuer. Its role claim is the default, ops_role.
jwt_issuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_EXAMPLE"
jwt_audience = ["ops-suite-dev-console"]

tags = {
  environment = "dev"
}
