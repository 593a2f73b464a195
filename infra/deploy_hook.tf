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

locals {
  deploy_hook_schedule_name = "${var.name_prefix}-deploy-hook-decommission"
  # Built from its parts: the execution role's policy needs it before the schedule exists.
  deploy_hook_schedule_arn = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/default/${local.deploy_hook_schedule_name}"
}

data "aws_iam_policy_document" "deploy_hook_scheduler_assume" {
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

resource "aws_iam_role" "deploy_hook_scheduler" {
  name               = "${var.name_prefix}-deploy-hook-scheduler"
  description        = "EventBridge Scheduler execution role: invokes ${local.deploy_hook_function_name}"
  assume_role_policy = data.aws_iam_policy_document.deploy_hook_scheduler_assume.json
}

data "aws_iam_policy_document" "deploy_hook_scheduler" {
  statement {
    sid       = "InvokeDeployHook"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.deploy_hook.function_arn, "${module.deploy_hook.function_arn}:*"]
  }

  # The dead-letter queue of the schedule (the function's failure queue): Scheduler sends with
  # this role, and the queue is encrypted with the suite key.
  statement {
    sid       = "SendUndeliveredRuns"
    actions   = ["sqs:SendMessage"]
    resources = [module.deploy_hook.failure_queue_arn]
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
      values   = [local.deploy_hook_schedule_arn]
    }
  }
}

resource "aws_iam_role_policy" "deploy_hook_scheduler" {
  name   = "invoke-deploy-hook"
  role   = aws_iam_role.deploy_hook_scheduler.id
  policy = data.aws_iam_policy_document.deploy_hook_scheduler.json
}

resource "aws_scheduler_schedule" "deploy_hook_decommission" {
  name        = local.deploy_hook_schedule_name
  group_name  = "default"
  description = "Runs ${local.deploy_hook_function_name} with action decommission on ${var.deploy_hook_decommission_schedule}: scales old colors to zero after their rollback window"
  state       = "ENABLED"

  schedule_expression          = var.deploy_hook_decommission_schedule
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = aws_kms_key.suite.arn

  # Each run decommissions whatever is due by then; when within the hour it runs does not matter,
  # but one fixed time keeps the runs an hour apart and easy to find in the logs.
  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.deploy_hook.function_arn
    role_arn = aws_iam_role.deploy_hook_scheduler.arn
    input    = jsonencode({ action = "decommission" })

    # Retries of a failed delivery (the Invoke call itself). Errors of the run itself are retried
    # by Lambda (maximum_retry_attempts) and end up in the same failure queue. An hour is the
    # longest a run is worth delivering: the next one does the same work.
    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }

    dead_letter_config {
      arn = module.deploy_hook.failure_queue_arn
    }
  }

  # The role must be able to invoke before the first run.
  depends_on = [aws_iam_role_policy.deploy_hook_scheduler]
}
