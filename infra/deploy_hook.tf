# deploy-hook: progressive delivery of the config's ECS services (all-at-once, rolling, blue/green,
# canary, linear through Route 53 weighted records), with health checks and alarm gates. A
# CodePipeline "Invoke" action with provider Lambda runs it (see example_pipeline.tf): CodePipeline
# invokes it with the pipeline role's lambda:InvokeFunction, so no resource-based permission is
# needed, and it reports back with PutJobSuccessResult (with a continuation token while a
# deployment is still baking) or PutJobFailureResult. EventBridge Scheduler also runs it every hour
# to scale old colors to zero once their rollback window has passed. Its IAM statements are in
# policies/deploy-hook.json (mapped in policies.tf).

module "deploy_hook" {
  source = "./modules/rust-lambda"

  function_name = local.deploy_hook_function_name
  description   = "Progressive delivery of ECS services for CodePipeline; hourly decommissioning of old colors"
  zip_path      = "${local.artifacts_dir}/deploy-hook/bootstrap.zip"
  architecture  = var.lambda_architecture
  memory_size   = 256
  timeout       = 60

  environment_variables = local.function_environment

  kms_key_arn           = aws_kms_key.suite.arn
  application_log_level = var.application_log_level
  log_retention_in_days = var.log_retention_in_days
  tracing_mode          = var.tracing_mode

  # CodePipeline and Scheduler both invoke asynchronously: a failed run is retried, then lands in
  # the failure queue. (A pipeline job whose invocation failed for good times out in the pipeline.)
  maximum_retry_attempts = var.maximum_retry_attempts

  policy_statements = local.policy_statements["deploy-hook"]
}

################################################################################
# Hourly decommission schedule (EventBridge Scheduler)
################################################################################

# The schedule and its execution role (same limits as cost-check's: may invoke deploy-hook, send
# to its failure queue and decrypt this schedule, nothing else).
module "deploy_hook_schedule" {
  source = "./modules/scheduled-invoke"

  name                         = "${var.name_prefix}-deploy-hook-decommission"
  description                  = "Runs ${local.deploy_hook_function_name} with action decommission on ${var.deploy_hook_decommission_schedule}: scales old colors to zero after their rollback window"
  schedule_expression          = var.deploy_hook_decommission_schedule
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = aws_kms_key.suite.arn

  # Each run decommissions whatever is due by then; when within the hour it runs does not matter,
  # but one fixed time keeps the runs an hour apart and easy to find in the logs.
  flexible_window_minutes = 0

  function_arn = module.deploy_hook.function_arn
  input        = jsonencode({ action = "decommission" })

  # Retries of a failed delivery (the Invoke call itself). Errors of the run itself are retried
  # by Lambda (maximum_retry_attempts) and end up in the same failure queue. An hour is the
  # longest a run is worth delivering: the next one does the same work.
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  dead_letter_queue_arn         = module.deploy_hook.failure_queue_arn
  dead_letter_queue_kms_key_arn = aws_kms_key.suite.arn

  role_name            = "${var.name_prefix}-deploy-hook-scheduler"
  role_policy_name     = "invoke-deploy-hook"
  invoke_statement_sid = "InvokeDeployHook"
}

# Where these lived before the module.
moved {
  from = aws_iam_role.deploy_hook_scheduler
  to   = module.deploy_hook_schedule.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.deploy_hook_scheduler
  to   = module.deploy_hook_schedule.aws_iam_role_policy.this
}

moved {
  from = aws_scheduler_schedule.deploy_hook_decommission
  to   = module.deploy_hook_schedule.aws_scheduler_schedule.this
}
