locals {
  # IAM statements of alarm-rollback, kept in policies/alarm-rollback.json so that a test can
  # compare the granted actions with the calls the function really makes. Each statement names a
  # class of resources, mapped to ARNs here.
  alarm_rollback_policy = jsondecode(file("${path.module}/policies/alarm-rollback.json"))

  resource_classes = {
    "*"           = ["*"]
    state_bucket  = [aws_s3_bucket.state.arn]
    state_objects = ["${aws_s3_bucket.state.arn}/*"]
    suite_key     = [aws_kms_key.suite.arn]
    hosted_zones = length(var.hosted_zone_ids) > 0 ? [
      for id in var.hosted_zone_ids : "arn:${local.partition}:route53:::hostedzone/${trimprefix(id, "/hostedzone/")}"
    ] : ["arn:${local.partition}:route53:::hostedzone/*"]
    ecs_services = [
      for s in local.ecs_services : "arn:${local.partition}:ecs:${local.region}:${local.account_id}:service/${s.cluster}/${s.service}"
    ]
    notifier_secrets = [for name in sort(tolist(local.notifier_secret_names)) : aws_secretsmanager_secret.notifier[name].arn]
  }

  # A class with no resources (no ECS service or no channel in the config) drops its statement:
  # IAM rejects statements without resources.
  alarm_rollback_statements = [
    for s in local.alarm_rollback_policy.statements : {
      sid       = s.sid
      actions   = s.actions
      resources = local.resource_classes[s.resource]
    } if length(local.resource_classes[s.resource]) > 0
  ]
}

module "alarm_rollback" {
  source = "./modules/rust-lambda"

  function_name = local.function_name
  description   = "Rolls services back to their last good version when a guarding CloudWatch alarm goes into ALARM"
  zip_path      = "${local.artifacts_dir}/alarm-rollback/bootstrap.zip"
  architecture  = var.lambda_architecture
  memory_size   = 256
  timeout       = 60

  environment_variables = {
    STATE_BUCKET = aws_s3_bucket.state.id
    CONFIG_URI   = "s3://${aws_s3_bucket.state.id}/${aws_s3_object.suite_config.key}"
  }

  kms_key_arn                    = aws_kms_key.suite.arn
  application_log_level          = var.application_log_level
  log_retention_in_days          = var.log_retention_in_days
  tracing_mode                   = var.tracing_mode
  reserved_concurrent_executions = var.alarm_rollback_reserved_concurrency
  maximum_retry_attempts         = var.maximum_retry_attempts

  policy_statements = local.alarm_rollback_statements
}
