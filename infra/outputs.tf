output "state_bucket" {
  description = "Name of the state bucket (the functions' STATE_BUCKET)."
  value       = module.state_bucket.id
}

output "state_bucket_arn" {
  description = "ARN of the state bucket."
  value       = module.state_bucket.arn
}

output "config_uri" {
  description = "S3 URI of the uploaded suite configuration (the functions' CONFIG_URI)."
  value       = "s3://${module.state_bucket.id}/${aws_s3_object.suite_config.key}"
}

output "function_names" {
  description = "Lambda function names by suite function."
  value = {
    "alarm-rollback" = module.alarm_rollback.function_name
    "backup"         = module.backup.function_name
    "cost-check"     = module.cost_check.function_name
    "deploy-hook"    = module.deploy_hook.function_name
    "ops-api"        = module.ops_api.function_name
  }
}

output "function_arns" {
  description = "Lambda function ARNs by suite function."
  value = {
    "alarm-rollback" = module.alarm_rollback.function_arn
    "backup"         = module.backup.function_arn
    "cost-check"     = module.cost_check.function_arn
    "deploy-hook"    = module.deploy_hook.function_arn
    "ops-api"        = module.ops_api.function_arn
  }
}

output "alarm_rollback_function_name" {
  description = "Name of the alarm-rollback function (put its ARN in an alarm's alarm_actions for direct invocation)."
  value       = module.alarm_rollback.function_name
}

output "alarm_rollback_function_arn" {
  description = "ARN of the alarm-rollback function."
  value       = module.alarm_rollback.function_arn
}

output "alarm_rollback_failure_queue_url" {
  description = "SQS queue receiving alarm events alarm-rollback failed to handle after all retries."
  value       = module.alarm_rollback.failure_queue_url
}

output "alarm_rollback_log_group" {
  description = "CloudWatch log group of alarm-rollback."
  value       = module.alarm_rollback.log_group_name
}

output "cost_check_function_name" {
  description = "Name of the cost-check function (`aws lambda invoke --function-name <name> --payload '{}' out.json` runs it now)."
  value       = module.cost_check.function_name
}

output "cost_check_function_arn" {
  description = "ARN of the cost-check function."
  value       = module.cost_check.function_arn
}

output "cost_check_schedule_name" {
  description = "Name of the EventBridge Scheduler schedule (group default) that runs cost-check."
  value       = module.cost_check_schedule.schedule_name
}

output "cost_check_failure_queue_url" {
  description = "SQS queue receiving cost-check runs that failed after all retries, and scheduled runs Scheduler could not deliver."
  value       = module.cost_check.failure_queue_url
}

output "cost_check_log_group" {
  description = "CloudWatch log group of cost-check."
  value       = module.cost_check.log_group_name
}

output "deploy_hook_function_name" {
  description = "Name of the deploy-hook function (the FunctionName of a CodePipeline Invoke action with provider Lambda)."
  value       = module.deploy_hook.function_name
}

output "deploy_hook_function_arn" {
  description = "ARN of the deploy-hook function (a pipeline role needs lambda:InvokeFunction on it)."
  value       = module.deploy_hook.function_arn
}

output "deploy_hook_schedule_name" {
  description = "Name of the EventBridge Scheduler schedule (group default) that runs deploy-hook's decommission."
  value       = module.deploy_hook_schedule.schedule_name
}

output "deploy_hook_watch_schedule_name" {
  description = "Name of the EventBridge Scheduler schedule that runs deploy-hook's post-promotion watch; null while no service's deploy.analysis runs after promotion."
  value       = one(module.deploy_hook_watch_schedule[*].schedule_name)
}

output "deploy_hook_failure_queue_url" {
  description = "SQS queue receiving deploy-hook invocations that failed after all retries, and decommission and watch runs Scheduler could not deliver."
  value       = module.deploy_hook.failure_queue_url
}

output "deploy_hook_log_group" {
  description = "CloudWatch log group of deploy-hook."
  value       = module.deploy_hook.log_group_name
}

output "backup_function_name" {
  description = "Name of the backup function (`aws lambda invoke --function-name <name> --payload '{\"plan\":\"<plan>\",\"action\":\"backup\"}' out.json` runs a plan now)."
  value       = module.backup.function_name
}

output "backup_function_arn" {
  description = "ARN of the backup function."
  value       = module.backup.function_arn
}

output "backup_role_arn" {
  description = "ARN of the backup function's role: what a destination bucket and key in another account must allow (examples/backup-cross-account.tf.example)."
  value       = module.backup.role_arn
}

output "backup_schedule_names" {
  description = "EventBridge Scheduler schedules (group default) of the backup plans, by \"<plan>/<action>\"."
  value       = { for key, schedule in module.backup_schedule : key => schedule.schedule_name }
}

output "backup_failure_queue_url" {
  description = "SQS queue receiving backup runs that failed after all retries, and scheduled runs Scheduler could not deliver."
  value       = module.backup.failure_queue_url
}

output "backup_log_group" {
  description = "CloudWatch log group of the backup function."
  value       = module.backup.log_group_name
}

output "backup_bucket" {
  description = "Name of the backup bucket (put it in the plans' destination.bucket)."
  value       = module.backup_bucket.id
}

output "backup_bucket_arn" {
  description = "ARN of the backup bucket."
  value       = module.backup_bucket.arn
}

output "backup_kms_key_arn" {
  description = "ARN of the backup KMS key (the backup bucket's SSE-KMS key; the plans' encryption.kms_key)."
  value       = aws_kms_key.backup.arn
}

output "backup_kms_key_alias" {
  description = "Alias of the backup KMS key (alias/<name_prefix>-backup), for the plans' encryption.kms_key."
  value       = aws_kms_alias.backup.name
}

output "ops_api_endpoint" {
  description = "Base URL of ops-api: the status page at /, the API description at /openapi.json, the REST API under / (bearer JWT) and /machine/ (x-api-key)."
  value       = module.ops_api_http.api_endpoint
}

output "ops_api_slack_interactivity_url" {
  description = "Request URL to enter in the Slack app's Interactivity & Shortcuts settings."
  value       = "${module.ops_api_http.api_endpoint}/slack/interactions"
}

output "ops_api_function_name" {
  description = "Name of the ops-api function."
  value       = module.ops_api.function_name
}

output "ops_api_log_group" {
  description = "CloudWatch log group of ops-api."
  value       = module.ops_api.log_group_name
}

output "ops_api_access_log_group" {
  description = "CloudWatch log group of the HTTP API's access logs (one JSON line per request)."
  value       = module.ops_api_http.access_log_group_name
}

output "ops_api_keys_secret_arn" {
  description = "Secret holding the hashes of ops-api's machine API keys (ops-api's API_KEYS_SECRET): `opsctl api-key create` adds a key to it."
  value       = aws_secretsmanager_secret.ops_api_keys.arn
}

output "slack_signing_secret_arn" {
  description = "Secret for the Slack app's signing secret (ops-api's SLACK_SIGNING_SECRET): put it with `aws secretsmanager put-secret-value`."
  value       = aws_secretsmanager_secret.slack_signing.arn
}

output "example_pipeline_name" {
  description = "Name of the example CodePipeline (null when example_pipeline_enabled is false)."
  value       = try(aws_codepipeline.example[0].name, null)
}

output "example_pipeline_source" {
  description = "Where the example pipeline reads its source zip, s3://<bucket>/<key> (null when example_pipeline_enabled is false)."
  value       = var.example_pipeline_enabled ? "s3://${local.example_pipeline_source_bucket}/${var.example_pipeline_source_key}" : null
}

output "alarm_topic_arn" {
  description = "SNS topic for alarm actions: alarms that publish here trigger alarm-rollback."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_event_rule_arn" {
  description = "EventBridge rule matching state changes of the config's alarms (null when the config lists no alarms)."
  value       = try(aws_cloudwatch_event_rule.alarm_state_change[0].arn, null)
}

output "secret_names" {
  description = "Names of the notifier secrets whose values you put with `aws secretsmanager put-secret-value`."
  value       = sort([for s in aws_secretsmanager_secret.notifier : s.name])
}

output "secret_arns" {
  description = "Notifier secret ARNs by secret name."
  value       = { for name, s in aws_secretsmanager_secret.notifier : name => s.arn }
}

output "kms_key_arn" {
  description = "ARN of the suite KMS key (state bucket, secrets, logs, alarm topic, failure queue)."
  value       = aws_kms_key.suite.arn
}

output "kms_key_alias" {
  description = "Alias of the suite KMS key."
  value       = aws_kms_alias.suite.name
}

output "ecs_lifecycle_hook_role_arn" {
  description = "The role ECS assumes to invoke deploy-hook as a deployment lifecycle hook (roleArn in a service's deploymentConfiguration.lifecycleHooks; hookTargetArn is deploy_hook_function_arn). Null when ecs_lifecycle_hook_role is false."
  value       = try(aws_iam_role.ecs_lifecycle_hook[0].arn, null)
}
