# alarm-rollback: its IAM statements are in policies/alarm-rollback.json (mapped in policies.tf),
# its triggers in triggers.tf.
module "alarm_rollback" {
  source = "./modules/rust-lambda"

  function_name = local.function_name
  description   = "Rolls services back to their last good version when a guarding CloudWatch alarm goes into ALARM"
  zip_path      = "${local.artifacts_dir}/alarm-rollback/bootstrap.zip"
  architecture  = var.lambda_architecture
  memory_size   = 256
  timeout       = 60

  environment_variables = local.function_environment

  kms_key_arn                    = aws_kms_key.suite.arn
  application_log_level          = var.application_log_level
  log_retention_in_days          = var.log_retention_in_days
  tracing_mode                   = var.tracing_mode
  reserved_concurrent_executions = var.alarm_rollback_reserved_concurrency
  maximum_retry_attempts         = var.maximum_retry_attempts

  policy_statements = local.policy_statements["alarm-rollback"]
}
