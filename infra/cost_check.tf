# cost-check: reads the cost data named in the config's cost.source (a FOCUS or CUR 2.0 export in
# S3, or the Cost Explorer API), checks budgets, detects anomalies and writes its reports to the
# state bucket. EventBridge Scheduler runs it once a day. Its IAM statements are in
# policies/cost-check.json (mapped in policies.tf).

module "cost_check" {
  source = "./modules/rust-lambda"

  function_name = local.cost_check_function_name
  description   = "Checks cost data against the config's budgets, detects anomalies and writes cost reports"
  zip_path      = "${local.artifacts_dir}/cost-check/bootstrap.zip"
  architecture  = var.lambda_architecture
  memory_size   = var.cost_check_memory_size
  timeout       = var.cost_check_timeout

  environment_variables = local.function_environment

  kms_key_arn           = aws_kms_key.suite.arn
  application_log_level = var.application_log_level
  log_retention_in_days = var.log_retention_in_days
  tracing_mode          = var.tracing_mode

  # One run at a time. Every run reads the same export and rewrites the same report and alert
  # state objects, so two overlapping runs (a manual invoke during the scheduled one, or a retry
  # while a slow run is still going) would only race on those writes and could notify an alert
  # twice. With 1, Lambda throttles the second asynchronous invocation and retries it from its
  # event queue until the first has finished (up to maximum_event_age_in_seconds); nothing is lost.
  # Reserving the unit also keeps a busy account from starving the daily run.
  reserved_concurrent_executions = 1
  maximum_retry_attempts         = var.maximum_retry_attempts

  policy_statements = local.policy_statements["cost-check"]
}

################################################################################
# Daily schedule (EventBridge Scheduler)
################################################################################

# The schedule and its execution role (trusts scheduler.amazonaws.com for this account only; may
# invoke cost-check, send to its failure queue and decrypt this schedule, nothing else).
module "cost_check_schedule" {
  source = "./modules/scheduled-invoke"

  name                         = "${var.name_prefix}-cost-check"
  description                  = "Runs ${local.cost_check_function_name} on ${var.cost_check_schedule} (${var.cost_check_schedule_timezone})"
  schedule_expression          = var.cost_check_schedule
  schedule_expression_timezone = var.cost_check_schedule_timezone
  kms_key_arn                  = aws_kms_key.suite.arn

  # At the time given, not within a window: the run reports on complete days.
  flexible_window_minutes = 0

  function_arn = module.cost_check.function_arn
  # cost-check takes no arguments: it reads everything from the config.
  input = jsonencode({})

  # Retries of a failed delivery (the Invoke call itself: throttling, permissions). Scheduler
  # invokes Lambda asynchronously, so errors of the run itself are retried by Lambda
  # (maximum_retry_attempts) and end up in the same failure queue.
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  # The function's failure queue, encrypted with the suite key.
  dead_letter_queue_arn         = module.cost_check.failure_queue_arn
  dead_letter_queue_kms_key_arn = aws_kms_key.suite.arn

  role_name            = "${var.name_prefix}-cost-check-scheduler"
  role_policy_name     = "invoke-cost-check"
  invoke_statement_sid = "InvokeCostCheck"
}

# Where these lived before the module.
moved {
  from = aws_iam_role.cost_check_scheduler
  to   = module.cost_check_schedule.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.cost_check_scheduler
  to   = module.cost_check_schedule.aws_iam_role_policy.this
}

moved {
  from = aws_scheduler_schedule.cost_check
  to   = module.cost_check_schedule.aws_scheduler_schedule.this
}
