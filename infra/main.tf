data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # The suite configuration: uploaded as is, and read here for the secrets to create, the ECS
  # services to grant, and the alarms that trigger a rollback.
  config_file = coalesce(var.config_file, "${path.module}/config/suite.yaml")
  config      = yamldecode(file(local.config_file))

  notifier_secret_names = toset(distinct([
    for channel in values(try(local.config.notifications.channels, {})) : channel.secret
  ]))

  # services.*.ecs_service and services.*.traffic.targets.*.ecs_service, in services.*.cluster.
  ecs_services = distinct(flatten([
    for service in values(try(local.config.services, {})) : [
      for name in concat(
        try([service.ecs_service], []),
        [for target in values(try(service.traffic.targets, {})) : target.ecs_service if try(target.ecs_service, null) != null],
      ) : { cluster = service.cluster, service = name }
    ]
  ]))

  # alarms[*].alarm: exact alarm names or globs with * and ?.
  alarm_names = distinct([for entry in try(local.config.alarms, []) : entry.alarm])

  # cost.source: where cost-check reads cost data. `focus` and `cur2` are S3 exports (bucket and
  # key prefix: cost-check may read only there); `cost_explorer` is the Cost Explorer API and has
  # no bucket. Null when the config has no cost section.
  cost_source_kind = try(local.config.cost.source.kind, null)
  cost_export = contains(["focus", "cur2"], coalesce(local.cost_source_kind, "none")) ? {
    kind   = local.cost_source_kind
    bucket = local.config.cost.source.bucket
    prefix = try(coalesce(local.config.cost.source.prefix, ""), "")
  } : null

  artifacts_dir             = coalesce(var.artifacts_dir, "${path.module}/../target/lambda")
  function_name             = "${var.name_prefix}-alarm-rollback"
  cost_check_function_name  = "${var.name_prefix}-cost-check"
  deploy_hook_function_name = "${var.name_prefix}-deploy-hook"

  # The environment every suite function gets: where its state lives and where to read the config.
  function_environment = {
    STATE_BUCKET = module.state_bucket.id
    CONFIG_URI   = "s3://${module.state_bucket.id}/${aws_s3_object.suite_config.key}"
  }
  # The suite's log groups: the functions' own, and the access logs of ops-api's HTTP API.
  log_group_arns = [
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name_prefix}-*",
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/apigateway/${var.name_prefix}-*",
  ]
  alarm_arn_any = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:*"
}
