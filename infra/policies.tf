# IAM statements of the suite functions, one file per function in policies/<function>.json, so
# that a test can compare the granted actions with the calls each function really makes. Every
# statement names a class of resources (`resource`), mapped to ARNs here, and may name a condition
# (`when`) under which it is granted at all. The mapping is shared by every function.

locals {
  policy_functions = ["alarm-rollback", "cost-check", "deploy-hook"]
  policies = {
    for function in local.policy_functions :
    function => jsondecode(file("${path.module}/policies/${function}.json"))
  }

  # Resource classes: the ARNs a statement's `resource` stands for.
  resource_classes = {
    "*"           = ["*"]
    state_bucket  = [aws_s3_bucket.state.arn]
    state_objects = ["${aws_s3_bucket.state.arn}/*"]
    suite_key     = [aws_kms_key.suite.arn]
    hosted_zones = length(var.hosted_zone_ids) > 0 ? [
      for id in var.hosted_zone_ids : "arn:${local.partition}:route53:::hostedzone/${trimprefix(id, "/hostedzone/")}"
    ] : ["arn:${local.partition}:route53:::hostedzone/*"]
    # Route 53 change batches, which GetChange polls until INSYNC (the ID is known only after the
    # change, and Route 53 has no narrower form).
    route53_changes = ["arn:${local.partition}:route53:::change/*"]
    # Every ECS service of the config: both colors of a service with traffic.targets, and the
    # ecs_service of a service deployed in place (local.ecs_services).
    ecs_services = [
      for s in local.ecs_services : "arn:${local.partition}:ecs:${local.region}:${local.account_id}:service/${s.cluster}/${s.service}"
    ]
    # Task and execution roles deploy-hook may name in the task definitions it registers
    # (variable ecs_task_role_arns; empty grants no iam:PassRole at all).
    ecs_task_roles   = var.ecs_task_role_arns
    notifier_secrets = [for name in sort(tolist(local.notifier_secret_names)) : aws_secretsmanager_secret.notifier[name].arn]
    # Application secrets the services' task definitions reference (variable app_secret_arns);
    # deploy-hook only checks they exist. Empty: every secret of this account and region.
    app_secrets = length(var.app_secret_arns) > 0 ? var.app_secret_arns : [
      "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:*"
    ]

    # The cost export of the config (cost.source of kind focus or cur2): its objects under the
    # prefix, and the bucket for listing. Empty for cost_explorer and without a cost section.
    cost_export_objects = local.cost_export == null ? [] : [
      "arn:${local.partition}:s3:::${local.cost_export.bucket}/${local.cost_export.prefix}*"
    ]
    cost_export_bucket = local.cost_export == null ? [] : [
      "arn:${local.partition}:s3:::${local.cost_export.bucket}"
    ]
    # Customer managed keys of an SSE-KMS export bucket (variable cost_export_kms_key_arns).
    cost_export_keys = local.cost_export == null ? [] : var.cost_export_kms_key_arns

    # SES identities (verified domains and addresses) of this account and region.
    ses_identities = ["arn:${local.partition}:ses:${local.region}:${local.account_id}:identity/*"]
  }

  # Conditions a class adds to every statement using it. Listing a FOCUS export bucket is limited
  # to keys under the export prefix: cost-check lists that prefix and reads only what it listed.
  # Not for CUR 2.0: cost-check reads each billing period's manifest by its key, and S3 answers a
  # missing one (a month's first hours) with 404 only to a caller allowed to list the bucket
  # without condition (s3:prefix is absent from a GetObject request); a 403 would fail the run.
  # Passing a task role is allowed only to ECS tasks, never to another service.
  resource_class_conditions = {
    ecs_task_roles = [
      { test = "StringEquals", variable = "iam:PassedToService", values = ["ecs-tasks.amazonaws.com"] }
    ]
    cost_export_bucket = try(local.cost_export.kind, null) != "focus" || try(local.cost_export.prefix, "") == "" ? [] : [
      { test = "StringLike", variable = "s3:prefix", values = ["${local.cost_export.prefix}*"] }
    ]
  }

  # `when` values: a statement naming one is granted only while it holds for the config.
  policy_conditions = {
    # cost.source.kind is cost_explorer: cost-check calls the Cost Explorer API.
    cost_explorer = local.cost_source_kind == "cost_explorer"
    # cost.source.kind is focus or cur2: cost-check reads an S3 export.
    cost_export = local.cost_export != null
    # Some notifications.channels entry has kind email: notifiers send through SES.
    email = anytrue([for channel in values(try(local.config.notifications.channels, {})) : try(channel.kind, null) == "email"])
    # Variable ecs_task_role_arns lists roles: deploy-hook may pass them to ECS tasks.
    passes_roles = length(var.ecs_task_role_arns) > 0
  }

  # The statements each function gets. An unknown `resource` or `when` fails the plan (invalid
  # index). A statement is dropped when its `when` does not hold, and when its class has no
  # resources (no ECS service, channel or export in the config): IAM rejects empty statements.
  policy_statements = {
    for function, policy in local.policies : function => [
      for s in policy.statements : {
        sid        = s.sid
        actions    = s.actions
        resources  = local.resource_classes[s.resource]
        conditions = try(local.resource_class_conditions[s.resource], [])
      }
      if length(local.resource_classes[s.resource]) > 0 && (try(s.when, null) == null ? true : local.policy_conditions[s.when])
    ]
  }
}
