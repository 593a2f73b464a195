# deploy-hook: progressive delivery of the config's ECS services (all-at-once, rolling, blue/green,
# canary, linear through Route 53 weighted records), with health checks and alarm gates. A
# CodePipeline "Invoke" action with provider Lambda runs it (see example_pipeline.tf): CodePipeline
# invokes it with the pipeline role's lambda:InvokeFunction, so no resource-based permission is
# needed, and it reports back with PutJobSuccessResult (with a continuation token while a
# deployment is still baking) or PutJobFailureResult. EventBridge Scheduler also runs it every hour
# to scale old colors to zero once their rollback window has passed. Its IAM statements are in
# policies/deploy-hook.json (mapped in policies.tf). While some service's metric analysis runs
# after promotion, Scheduler also runs it every minute to watch the promoted versions during their
# rollback window.

locals {
  # What deploy.analysis and deploy.hooks of the config's services need, for the `when`
  # conditions and resource classes of policies.tf. The config is validated by `opsctl validate`
  # (CI); a missing optional field reads as empty here.
  deploy_hook_points = ["pre_deploy", "pre_traffic", "post_shift", "post_promote", "on_rollback"]
  deploy_services = {
    for name, service in merge({}, try(local.config.services, {})) : name => {
      cluster = service.cluster
      # Every hook of every point: each a map with one key, task, lambda or backup.
      # (An absent or empty point is no hook; no coalesce here: it would fail on the hooks' mixed
      # shapes and try() would drop them without a word.)
      hooks = flatten([
        for point in local.deploy_hook_points : try([for hook in service.deploy.hooks[point] : hook if hook != null], [])
      ])
      # deploy.analysis: present at all, and whether its metric checks keep running after
      # promotion (post_promotion defaults to true, and only metric checks run then).
      analysis = try(service.deploy.analysis, null) != null
      post_promotion = (
        length(try(keys(service.deploy.analysis.metrics), [])) > 0 &&
        try(service.deploy.analysis.post_promotion, true) != false
      )
    }
  }
  # Clusters of the services with a task hook (a cluster named by ARN is kept as it is).
  deploy_task_hook_cluster_arns = distinct([
    for service in values(local.deploy_services) : startswith(service.cluster, "arn:") ? service.cluster : "arn:${local.partition}:ecs:${local.region}:${local.account_id}:cluster/${service.cluster}"
    if anytrue([for hook in service.hooks : try(hook.task, null) != null])
  ])
  # Functions of lambda hooks: an ARN as it is, a name (with a qualifier or not) or a partial ARN
  # (<account>:function:<name>) in this account and region.
  deploy_lambda_hook_function_arns = distinct(flatten([
    for service in values(local.deploy_services) : [
      for hook in service.hooks : startswith(hook.lambda.function, "arn:") ? hook.lambda.function : (
        strcontains(hook.lambda.function, ":function:")
        ? "arn:${local.partition}:lambda:${local.region}:${hook.lambda.function}"
        : "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${hook.lambda.function}"
      ) if try(hook.lambda.function, null) != null
    ]
  ]))
  # Plans of backup hooks, and where each keeps its latest pointer (latest/<plan>.json under the
  # plan's destination prefix); a plan the config does not have is left out (the validator
  # rejects it, and the hook fails without reading anything).
  deploy_backup_hook_plans = distinct(flatten([
    for service in values(local.deploy_services) : [
      for hook in service.hooks : hook.backup.plan if try(hook.backup.plan, null) != null
    ]
  ]))
  deploy_backup_hook_destinations = [
    for plan in local.deploy_backup_hook_plans : merge(local.backup_plans[plan].destination, { plan = plan })
    if contains(keys(local.backup_plans), plan)
  ]
  deploy_backup_hooks = length(local.deploy_backup_hook_plans) > 0
  # Some service's metric checks run after promotion: the watch schedule below exists.
  deploy_post_promotion_analysis = anytrue([for service in values(local.deploy_services) : service.post_promotion])

  # alarm-rollback, which a failing post-promotion check is handed to (asynchronously); built
  # from its parts, as the backup function's.
  alarm_rollback_function_arn = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.function_name}"

  # deploy-hook's environment: the backup function, when a backup hook asks it for a backup, and
  # alarm-rollback, when post-promotion analysis may hand it a failing check.
  deploy_hook_environment = merge(
    local.function_environment,
    local.deploy_backup_hooks ? { BACKUP_FUNCTION = local.backup_function_name } : {},
    local.deploy_post_promotion_analysis ? { ALARM_ROLLBACK_FUNCTION = local.function_name } : {},
  )
}

module "deploy_hook" {
  source = "./modules/rust-lambda"

  function_name = local.deploy_hook_function_name
  description   = "Progressive delivery of ECS services for CodePipeline; hourly decommissioning of old colors"
  zip_path      = "${local.artifacts_dir}/deploy-hook/bootstrap.zip"
  architecture  = var.lambda_architecture
  memory_size   = 256
  timeout       = 60

  environment_variables = local.deploy_hook_environment

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

################################################################################
# Post-promotion watch schedule (EventBridge Scheduler)
################################################################################

# While a promoted version is within its rollback window, its metric checks keep running
# (deploy.analysis.post_promotion, true by default when deploy.analysis has metrics); a failure
# is handed to alarm-rollback (ALARM_ROLLBACK_FUNCTION), which rolls the service back as for a
# firing alarm. Scheduler runs deploy-hook with {"action": "watch"} for that; only when some
# service of the config has such checks. Same module and limits as the decommission schedule.
module "deploy_hook_watch_schedule" {
  source = "./modules/scheduled-invoke"
  count  = local.deploy_post_promotion_analysis ? 1 : 0

  name                         = "${var.name_prefix}-deploy-hook-watch"
  description                  = "Runs ${local.deploy_hook_function_name} with action watch on ${var.deploy_hook_watch_schedule}: metric checks of promoted versions during their rollback window"
  schedule_expression          = var.deploy_hook_watch_schedule
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = aws_kms_key.suite.arn

  # A check's interval is counted from the measurements themselves, not from the schedule: runs
  # at fixed times keep them evenly spaced.
  flexible_window_minutes = 0

  function_arn = module.deploy_hook.function_arn
  input        = jsonencode({ action = "watch" })

  # A run that could not be delivered within a minute is worth nothing: the next one measures
  # the same, later. One retry, then the failure queue.
  maximum_retry_attempts       = 1
  maximum_event_age_in_seconds = 60

  dead_letter_queue_arn         = module.deploy_hook.failure_queue_arn
  dead_letter_queue_kms_key_arn = aws_kms_key.suite.arn

  role_name            = "${var.name_prefix}-deploy-hook-watch-scheduler"
  role_policy_name     = "invoke-deploy-hook"
  invoke_statement_sid = "InvokeDeployHook"
}

# The role ECS assumes to invoke deploy-hook as a deployment lifecycle hook (ECS native
# blue/green, linear and canary: a service's deploymentConfiguration.lifecycleHooks names
# deploy-hook as hookTargetArn and this role as roleArn). It may invoke deploy-hook and nothing
# else.
data "aws_iam_policy_document" "ecs_lifecycle_hook_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "ecs_lifecycle_hook" {
  count              = var.ecs_lifecycle_hook_role ? 1 : 0
  name               = "${var.name_prefix}-deploy-hook-ecs-lifecycle"
  description        = "Assumed by ECS to invoke ${local.deploy_hook_function_name} as a deployment lifecycle hook"
  assume_role_policy = data.aws_iam_policy_document.ecs_lifecycle_hook_trust.json
}

data "aws_iam_policy_document" "ecs_lifecycle_hook_invoke" {
  statement {
    sid       = "InvokeDeployHook"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.deploy_hook.function_arn]
  }
}

resource "aws_iam_role_policy" "ecs_lifecycle_hook" {
  count  = var.ecs_lifecycle_hook_role ? 1 : 0
  name   = "invoke-deploy-hook"
  role   = aws_iam_role.ecs_lifecycle_hook[0].id
  policy = data.aws_iam_policy_document.ecs_lifecycle_hook_invoke.json
}
