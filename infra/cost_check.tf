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

locals {
  cost_check_schedule_name = "${var.name_prefix}-cost-check"
  # Built from its parts: the execution role's policy needs it before the schedule exists.
  cost_check_schedule_arn = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/default/${local.cost_check_schedule_name}"
}

data "aws_iam_policy_document" "cost_check_scheduler_assume" {
  statement {
    sid     = "SchedulerAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    # Only schedules of this account may use the role (confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "cost_check_scheduler" {
  name               = "${var.name_prefix}-cost-check-scheduler"
  description        = "EventBridge Scheduler execution role: invokes ${local.cost_check_function_name}"
  assume_role_policy = data.aws_iam_policy_document.cost_check_scheduler_assume.json
}

data "aws_iam_policy_document" "cost_check_scheduler" {
  statement {
    sid       = "InvokeCostCheck"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.cost_check.function_arn, "${module.cost_check.function_arn}:*"]
  }

  # The dead-letter queue of the schedule (the function's failure queue): Scheduler sends with
  # this role, and the queue is encrypted with the suite key.
  statement {
    sid       = "SendUndeliveredRuns"
    actions   = ["sqs:SendMessage"]
    resources = [module.cost_check.failure_queue_arn]
  }

  statement {
    sid       = "EncryptUndeliveredRuns"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.suite.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com"]
    }
  }

  # The schedule is encrypted with the suite key; Scheduler decrypts it with this role when it
  # runs, for this schedule only.
  statement {
    sid       = "DecryptSchedule"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.suite.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:scheduler:schedule:arn"
      values   = [local.cost_check_schedule_arn]
    }
  }
}

resource "aws_iam_role_policy" "cost_check_scheduler" {
  name   = "invoke-cost-check"
  role   = aws_iam_role.cost_check_scheduler.id
  policy = data.aws_iam_policy_document.cost_check_scheduler.json
}

resource "aws_scheduler_schedule" "cost_check" {
  name        = local.cost_check_schedule_name
  group_name  = "default"
  description = "Runs ${local.cost_check_function_name} on ${var.cost_check_schedule} (${var.cost_check_schedule_timezone})"
  state       = "ENABLED"

  schedule_expression          = var.cost_check_schedule
  schedule_expression_timezone = var.cost_check_schedule_timezone
  kms_key_arn                  = aws_kms_key.suite.arn

  # At the time given, not within a window: the run reports on complete days.
  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.cost_check.function_arn
    role_arn = aws_iam_role.cost_check_scheduler.arn
    # cost-check takes no arguments: it reads everything from the config.
    input = jsonencode({})

    # Retries of a failed delivery (the Invoke call itself: throttling, permissions). Scheduler
    # invokes Lambda asynchronously, so errors of the run itself are retried by Lambda
    # (maximum_retry_attempts) and end up in the same failure queue.
    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }

    dead_letter_config {
      arn = module.cost_check.failure_queue_arn
    }
  }

  # The role must be able to invoke before the first run.
  depends_on = [aws_iam_role_policy.cost_check_scheduler]
}
