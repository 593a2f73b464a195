# IAM statements of the suite functions, one file per function in policies/<function>.json, so
# that a test can compare the granted actions with the calls each function really makes. Every
# statement names a class of resources (`resource`), mapped to ARNs here, and may name a condition
# (`when`) under which it is granted at all. The mapping is shared by every function.

locals {
  policy_functions = ["alarm-rollback", "backup", "cost-check", "deploy-hook", "ops-api"]
  policies = {
    for function in local.policy_functions :
    function => jsondecode(file("${path.module}/policies/${function}.json"))
  }

  # Resource classes: the ARNs a statement's `resource` stands for.
  resource_classes = {
    "*"           = ["*"]
    state_bucket  = [module.state_bucket.arn]
    state_objects = ["${module.state_bucket.arn}/*"]
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
    # The revisions of those services (ECS's service revisions, read by deploy-hook's ECS
    # lifecycle-hook mode to find the task definition a native deployment rolls out).
    ecs_service_revisions = [
      for s in local.ecs_services : "arn:${local.partition}:ecs:${local.region}:${local.account_id}:service-revision/${s.cluster}/${s.service}/*"
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

    # backup (see the locals below and backup.tf). The buckets the plans write to
    # (destination.bucket) and the objects under each plan's destination.prefix.
    backup_buckets = distinct([for d in local.backup_destinations : "arn:${local.partition}:s3:::${d.bucket}"])
    backup_objects = distinct([
      for d in local.backup_destinations : "arn:${local.partition}:s3:::${d.bucket}/${d.prefix == "" ? "" : "${d.prefix}/"}*"
    ])
    # The backup key and the further keys of variable backup_kms_key_arns: used directly (always
    # with a backup:plan encryption context) and through S3 (SSE-KMS of the backup buckets).
    backup_keys            = concat([aws_kms_key.backup.arn], var.backup_kms_key_arns)
    backup_keys_through_s3 = concat([aws_kms_key.backup.arn], var.backup_kms_key_arns)
    # What the plans back up (variables backup_* narrow or widen it, see variables.tf).
    backup_source_buckets = local.backup_source_bucket_arns
    backup_source_objects = local.backup_source_object_arns
    backup_source_keys    = var.backup_source_kms_key_arns
    backup_zones          = local.backup_zone_arns
    # Health checks the backed-up records name, and those a restore creates: their IDs are known
    # only when read or created.
    route53_health_checks = ["arn:${local.partition}:route53:::healthcheck/*"]
    # The restore drill's scratch private zone: its ID is known only once it is created.
    scratch_zones = ["arn:${local.partition}:route53:::hostedzone/*"]
    # ListServices has no resource type: "*", limited to the plans' clusters by ecs:cluster.
    backup_ecs_clusters = length(local.backup_cluster_arns) > 0 ? ["*"] : []
    backup_ecs_services = local.backup_ecs_service_arns
    # Task definitions a restore registers, for tagging them at registration (ecs:CreateAction).
    ecs_new_task_definitions = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/*"]
    backup_secrets           = local.backup_secret_arns
    # The function itself, which a long run invokes to continue.
    backup_function = [local.backup_function_arn, "${local.backup_function_arn}:*"]
    # The backup plans' manifests and latest pointers (snapshots/<plan>/*.json, latest/<plan>.json
    # under each destination prefix), which ops-api lists; not the backed-up data beside them.
    backup_manifests = distinct(flatten([
      for d in local.backup_destinations : [
        for folder in ["snapshots", "latest"] : "arn:${local.partition}:s3:::${d.bucket}/${d.prefix == "" ? "" : "${d.prefix}/"}${folder}/*"
      ]
    ]))

    # deploy-hook's lifecycle hooks (deploy.hooks, see the locals in deploy_hook.tf).
    # Task hooks: the revisions RunTask starts (the families of deploy_hook_task_families, else
    # every family), only in the clusters of the services with task hooks (ecs:cluster below);
    # ListTasks has no resource of its own here ("*", limited by ecs:cluster too); the tasks of
    # those clusters, which DescribeTasks reads.
    hook_task_definitions = length(local.deploy_task_hook_cluster_arns) == 0 ? [] : (
      length(var.deploy_hook_task_families) > 0 ? [
        for family in var.deploy_hook_task_families : "arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/${family}:*"
      ] : ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/*"]
    )
    hook_task_clusters = length(local.deploy_task_hook_cluster_arns) > 0 ? ["*"] : []
    hook_tasks         = [for cluster in local.deploy_task_hook_cluster_arns : "${replace(cluster, ":cluster/", ":task/")}/*"]
    # Lambda hooks: the functions they name (built in this account and region from a name).
    hook_functions = local.deploy_lambda_hook_function_arns
    # Backup hooks: the latest pointer of each plan they back up (latest/<plan>.json under the
    # plan's destination prefix), and the destination buckets for listing.
    hook_backup_latest = distinct([
      for d in local.deploy_backup_hook_destinations : "arn:${local.partition}:s3:::${d.bucket}/${d.prefix == "" ? "" : "${d.prefix}/"}latest/${d.plan}.json"
    ])
    hook_backup_buckets = distinct([for d in local.deploy_backup_hook_destinations : "arn:${local.partition}:s3:::${d.bucket}"])
    # alarm-rollback, which deploy-hook's post-promotion watch hands a failing check to.
    alarm_rollback_function = [local.alarm_rollback_function_arn, "${local.alarm_rollback_function_arn}:*"]

    # ops-api: the API keys document and the Slack signing secret, nothing else.
    ops_api_secrets = [aws_secretsmanager_secret.ops_api_keys.arn, aws_secretsmanager_secret.slack_signing.arn]
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
    # The backup keys are used directly only with the plan in the encryption context (the
    # function encrypts secrets with {"backup:plan": ..., "backup:snapshot": ...}), and otherwise
    # only by S3 for the backup buckets' SSE-KMS, in the regions of the plans' destinations.
    backup_keys = [
      { test = "ForAnyValue:StringEquals", variable = "kms:EncryptionContextKeys", values = ["backup:plan"] }
    ]
    backup_keys_through_s3 = [
      { test = "StringEquals", variable = "kms:ViaService", values = [for region in local.backup_s3_regions : "s3.${region}.amazonaws.com"] }
    ]
    # Keys of the sources, through S3 (buckets) and Secrets Manager (secrets) only.
    backup_source_keys = [
      {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = concat([for region in local.backup_s3_regions : "s3.${region}.amazonaws.com"], ["secretsmanager.${local.region}.amazonaws.com"])
      }
    ]
    backup_ecs_clusters = [
      { test = "ArnEquals", variable = "ecs:cluster", values = local.backup_cluster_arns }
    ]
    ecs_new_task_definitions = [
      { test = "StringEquals", variable = "ecs:CreateAction", values = ["RegisterTaskDefinition"] }
    ]
    # deploy-hook's one-off tasks run, and are listed, only in the clusters of the services that
    # have task hooks.
    hook_task_definitions = [
      { test = "ArnEquals", variable = "ecs:cluster", values = local.deploy_task_hook_cluster_arns }
    ]
    hook_task_clusters = [
      { test = "ArnEquals", variable = "ecs:cluster", values = local.deploy_task_hook_cluster_arns }
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
    # Some backup plan (or variable backup_zone_ids) names a Route 53 zone.
    backup_route53 = length(local.backup_zone_arns) > 0
    # Some backup plan (or variable backup_ecs_clusters) names an ECS cluster.
    backup_ecs = length(local.backup_cluster_arns) > 0
    # Some backup plan has verification.zone_drill: verify restores its zones into a scratch
    # private hosted zone.
    zone_drill = anytrue([for plan in values(local.backup_plans) : plan.zone_drill])
    # Some service has deploy.analysis: deploy-hook reads CloudWatch metrics.
    deploy_analysis = anytrue([for service in values(local.deploy_services) : service.analysis])
    # Some service has a `task` lifecycle hook (deploy.hooks.<point>[].task).
    task_hooks = length(local.deploy_task_hook_cluster_arns) > 0
    # Some service has a `lambda` lifecycle hook.
    lambda_hooks = length(local.deploy_lambda_hook_function_arns) > 0
    # Some service has a `backup` lifecycle hook.
    backup_hooks = local.deploy_backup_hooks
    # Some service's metric checks keep running after promotion (deploy.analysis.post_promotion,
    # true by default when deploy.analysis has metrics): the watch schedule exists.
    post_promotion_analysis = local.deploy_post_promotion_analysis
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

# What the backup plans of the config reach, for the backup_* resource classes above. Each can be
# replaced by a variable (backup_source_buckets, backup_zone_ids, backup_ecs_clusters,
# backup_secret_arns); empty variables derive it from backup.plans.*.targets.
locals {
  backup_s3_targets = distinct(flatten([for plan in values(local.backup_plans) : plan.s3]))
  backup_source_bucket_arns = length(var.backup_source_buckets) > 0 ? [
    for bucket in var.backup_source_buckets : "arn:${local.partition}:s3:::${bucket}"
  ] : distinct([for target in local.backup_s3_targets : "arn:${local.partition}:s3:::${target.bucket}"])
  # Objects under each target's prefix (a restore writes back there too).
  backup_source_object_arns = length(var.backup_source_buckets) > 0 ? [
    for bucket in var.backup_source_buckets : "arn:${local.partition}:s3:::${bucket}/*"
  ] : distinct([for target in local.backup_s3_targets : "arn:${local.partition}:s3:::${target.bucket}/${target.prefix}*"])

  # Zones by ID; a zone named by zone_name only is found at run time, so any zone may be it.
  backup_zone_ids_in_config   = distinct(flatten([for plan in values(local.backup_plans) : plan.zone_ids]))
  backup_zone_names_in_config = anytrue([for plan in values(local.backup_plans) : length(plan.zone_names) > 0])
  backup_zone_arns = length(var.backup_zone_ids) > 0 ? [
    for id in var.backup_zone_ids : "arn:${local.partition}:route53:::hostedzone/${trimprefix(id, "/hostedzone/")}"
    ] : local.backup_zone_names_in_config ? ["arn:${local.partition}:route53:::hostedzone/*"] : [
    for id in local.backup_zone_ids_in_config : "arn:${local.partition}:route53:::hostedzone/${id}"
  ]

  # Clusters by name or ARN, and their services: the ones a target lists, or all of the cluster.
  backup_ecs_targets = length(var.backup_ecs_clusters) > 0 ? [
    for cluster in var.backup_ecs_clusters : { cluster = cluster, services = [] }
  ] : flatten([for plan in values(local.backup_plans) : plan.ecs])
  backup_cluster_arns = distinct([
    for target in local.backup_ecs_targets : startswith(target.cluster, "arn:") ? target.cluster : "arn:${local.partition}:ecs:${local.region}:${local.account_id}:cluster/${target.cluster}"
  ])
  backup_ecs_service_arns = distinct(flatten([
    for target in local.backup_ecs_targets : [
      for service in(length(target.services) > 0 ? target.services : ["*"]) : format(
        "%s/%s",
        startswith(target.cluster, "arn:") ? replace(target.cluster, ":cluster/", ":service/") : "arn:${local.partition}:ecs:${local.region}:${local.account_id}:service/${target.cluster}",
        service,
      )
    ]
  ]))

  # Secrets by ARN as given, by name as <name>-?????? (Secrets Manager appends six characters to
  # every secret's ARN, and a new suffix when a restore re-creates a deleted secret).
  backup_secret_arns = length(var.backup_secret_arns) > 0 ? var.backup_secret_arns : distinct([
    for secret in flatten([for plan in values(local.backup_plans) : plan.secrets]) :
    startswith(secret, "arn:") ? secret : "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${secret}-??????"
  ])
}
