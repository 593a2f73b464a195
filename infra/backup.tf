# backup: backs up what AWS Backup cannot (S3 prefixes, Route 53 zones, ECS service
# configuration, Secrets Manager secrets) into a backup bucket, per backup plan of the config
# (backup.plans.<name>). EventBridge Scheduler runs it once per plan and action with
# {"plan": "<name>", "action": "backup" | "verify" | "prune"}; a long run continues by invoking the
# function itself asynchronously. Its IAM statements are in policies/backup.json (mapped in
# policies.tf); the bucket and key its snapshots go to are created here.

locals {
  backup_function_name = "${var.name_prefix}-backup"
  # Built from its parts: the function's own policy (continuation) and the backup key's policy
  # name it, and the function does not exist yet when they are computed.
  backup_function_arn = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.backup_function_name}"

  # backup.plans of the config, each reduced to what Terraform needs. The config is validated by
  # `opsctl validate` (CI); a missing optional field reads as empty here, a missing required one
  # fails the plan. No backup section (or no plans) is no plan.
  backup_plans = {
    for name, plan in merge({}, try(local.config.backup.plans, {})) : name => {
      # Scheduler expressions by action; verify and prune are optional.
      schedules = {
        for action in ["backup", "verify", "prune"] : action => plan.schedule[action]
        if try(plan.schedule[action], null) != null
      }
      destination = {
        bucket = plan.destination.bucket
        # The function stores everything under <prefix>/ (slashes trimmed), or at the root.
        prefix  = trim(try(coalesce(plan.destination.prefix, ""), ""), "/")
        region  = try(plan.destination.region, null)
        account = try(plan.destination.account, null)
      }
      kms_key = try(plan.encryption.kms_key, null)
      s3 = try([
        for target in plan.targets.s3 : { bucket = target.bucket, prefix = try(coalesce(target.prefix, ""), "") }
      ], [])
      zone_ids = try([
        for zone in plan.targets.route53 : trimprefix(zone.zone_id, "/hostedzone/") if try(zone.zone_id, null) != null
      ], [])
      zone_names = try([
        for zone in plan.targets.route53 : zone.zone_name if try(zone.zone_name, null) != null
      ], [])
      ecs        = try([for target in plan.targets.ecs : { cluster = target.cluster, services = try(coalesce(target.services, []), []) }], [])
      secrets    = try([for secret in plan.targets.secrets : secret], [])
      zone_drill = try(plan.verification.zone_drill, false) == true
    }
  }

  # One schedule per plan and action: "<plan>/<action>".
  backup_schedules = {
    for item in flatten([
      for name, plan in local.backup_plans : [
        for action, expression in plan.schedules : {
          key        = "${name}/${action}"
          plan       = name
          action     = action
          expression = expression
          # Schedule and role names are at most 64 characters: a long prefix and plan name are cut
          # and made unique again with a hash of the full name.
          full_name = "${var.name_prefix}-backup-${name}-${action}"
        }
      ]
    ]) : item.key => item
  }

  backup_bucket_name = coalesce(var.backup_bucket_name, "${var.name_prefix}-backup-${local.account_id}-${local.region}")
  backup_key_alias   = coalesce(var.backup_key_alias, "alias/${var.name_prefix}-backup")

  # Where the plans write: every destination bucket and the prefix under it.
  backup_destinations = distinct([for plan in values(local.backup_plans) : plan.destination])
  # Regions whose S3 endpoint uses a backup key for SSE-KMS (kms:ViaService).
  backup_s3_regions = distinct(concat([local.region], compact([for d in local.backup_destinations : d.region])))
}

################################################################################
# Function
################################################################################

module "backup" {
  source = "./modules/rust-lambda"

  function_name = local.backup_function_name
  description   = "Backs up S3 prefixes, Route 53 zones, ECS configuration and secrets per backup plan of the config; verifies and prunes snapshots"
  zip_path      = "${local.artifacts_dir}/backup/bootstrap.zip"
  architecture  = var.lambda_architecture
  memory_size   = var.backup_memory_size
  timeout       = var.backup_timeout

  environment_variables = local.function_environment

  kms_key_arn           = aws_kms_key.suite.arn
  application_log_level = var.application_log_level
  log_retention_in_days = var.log_retention_in_days
  tracing_mode          = var.tracing_mode

  # No reserved concurrency: plans run side by side, and each run claims its plan in the state
  # bucket (a second run of the same plan, or a duplicate delivery, finds the claim and stops).
  # Scheduler and the function's own continuation invoke asynchronously: a failed run is retried,
  # then lands in the failure queue.
  maximum_retry_attempts = var.maximum_retry_attempts

  policy_statements = local.policy_statements["backup"]
}

################################################################################
# Schedules: one per plan and action (EventBridge Scheduler)
################################################################################

module "backup_schedule" {
  source   = "./modules/scheduled-invoke"
  for_each = local.backup_schedules

  name                         = length(each.value.full_name) <= 64 ? each.value.full_name : "${substr(each.value.full_name, 0, 55)}-${substr(sha1(each.value.full_name), 0, 8)}"
  description                  = "Runs ${local.backup_function_name} for backup plan ${each.value.plan}: ${each.value.action} on ${each.value.expression} (UTC)"
  schedule_expression          = each.value.expression
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = aws_kms_key.suite.arn

  # Backups of several plans are often scheduled at the same full hour; a window spreads them (and
  # their API calls) out. Retention counts days, weeks, months, so a few minutes do not matter.
  flexible_window_minutes = var.backup_schedule_flexible_window_minutes

  function_arn = module.backup.function_arn
  input        = jsonencode({ plan = each.value.plan, action = each.value.action })

  # Retries of a failed delivery (the Invoke call itself). Errors of the run itself are retried by
  # Lambda (maximum_retry_attempts) and end up in the same failure queue.
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  dead_letter_queue_arn         = module.backup.failure_queue_arn
  dead_letter_queue_kms_key_arn = aws_kms_key.suite.arn

  role_name            = length("${each.value.full_name}-scheduler") <= 64 ? "${each.value.full_name}-scheduler" : "${substr(each.value.full_name, 0, 45)}-${substr(sha1(each.value.full_name), 0, 8)}-scheduler"
  role_policy_name     = "invoke-backup"
  invoke_statement_sid = "InvokeBackup"
}

################################################################################
# Backup key
################################################################################

# Encrypts the backup bucket (SSE-KMS) and the secrets the function encrypts itself before storing
# them (envelope encryption: a data key per snapshot from GenerateDataKey, AES-256-GCM, the
# encrypted data key stored beside the data).
resource "aws_kms_key" "backup" {
  description             = "${var.name_prefix}: backup bucket and backed-up secrets"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The account administers the key and its IAM policies decide who else uses it (the
        # default key policy), as for the suite key.
        Sid       = "EnableIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # The function's own calls (secrets): always with the plan in the encryption context
        # ({"backup:plan": ..., "backup:snapshot": ...}), so a data key of one plan's snapshot
        # cannot be decrypted as another's, and the key cannot be used without one.
        Sid       = "BackupFunctionEnvelopeEncryption"
        Effect    = "Allow"
        Principal = { AWS = module.backup.role_arn }
        Action    = ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"]
        Resource  = "*"
        Condition = {
          "ForAnyValue:StringEquals" = { "kms:EncryptionContextKeys" = ["backup:plan"] }
        }
      },
      {
        # S3 on the function's behalf: SSE-KMS of the objects it writes to and reads from the
        # backup bucket.
        Sid       = "BackupFunctionThroughS3"
        Effect    = "Allow"
        Principal = { AWS = module.backup.role_arn }
        Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource  = "*"
        Condition = {
          StringEquals = { "kms:ViaService" = [for region in local.backup_s3_regions : "s3.${region}.amazonaws.com"] }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "backup" {
  name          = local.backup_key_alias
  target_key_id = aws_kms_key.backup.key_id

  lifecycle {
    # Terraform's yamldecode reads the keys y, n, yes, no, on and off as booleans (YAML 1.1), so
    # such a plan would reach the function as "true" or "false"; the function's parser reads names
    # as strings. (Checked on the bucket before modules/secure-bucket held it.)
    precondition {
      condition     = length(setintersection(keys(local.backup_plans), ["true", "false"])) == 0
      error_message = "A backup plan name reads as a boolean in Terraform (y, n, yes, no, on, off, true, false): rename the plan."
    }
  }
}

################################################################################
# Backup bucket
################################################################################

# Versioned, SSE-KMS with the backup key, no public access, TLS 1.2+ only (modules/secure-bucket).
# Why no access logs, replication or event notifications: every backup, verify and prune run is
# recorded by the function under audit/ in the state bucket (and CloudTrail S3 data events can be
# turned on account-wide); a copy in another region or account is made by the function itself (a
# plan whose destination names a bucket there writes its snapshots there directly,
# examples/backup-cross-account.tf.example), so replicating this bucket would store every snapshot
# twice; verification runs on its own schedule and reads what the manifests name.
#
# Object Lock can only be turned on at creation, by Terraform (see backup_object_lock). There is no
# default retention rule: the function sets a retain-until date on each object it writes, derived
# from the plan's retention, so a prune never meets a locked object it must delete.
#
# Snapshots are removed by the function's prune (retention per plan), never by age here. What a
# prune deletes becomes a noncurrent version, kept backup_noncurrent_version_expiration_days as an
# undo window (and at least until its Object Lock retain-until date); delete markers left without
# versions are removed, and uploads a run did not finish are aborted.
module "backup_bucket" {
  source = "./modules/secure-bucket"

  name                = local.backup_bucket_name
  name_hint           = "use a shorter name_prefix or set backup_bucket_name (the default is <name_prefix>-backup-<account>-<region>)"
  force_destroy       = var.backup_bucket_force_destroy
  object_lock_enabled = var.backup_object_lock
  kms_key_arn         = aws_kms_key.backup.arn
  tls_only_policy     = local.bucket_tls_only_policies

  lifecycle_rules = [
    {
      id                                     = "pruned-versions-and-uploads"
      expired_object_delete_marker           = true
      noncurrent_version_expiration_days     = var.backup_noncurrent_version_expiration_days
      abort_incomplete_multipart_upload_days = var.abort_incomplete_multipart_upload_days
    },
  ]
}

# The backup bucket's resources were at the root before modules/secure-bucket: moved, not
# recreated.

moved {
  from = aws_s3_bucket.backup
  to   = module.backup_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_versioning.backup
  to   = module.backup_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.backup
  to   = module.backup_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.backup
  to   = module.backup_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.backup
  to   = module.backup_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_policy.backup
  to   = module.backup_bucket.aws_s3_bucket_policy.this[0]
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.backup
  to   = module.backup_bucket.aws_s3_bucket_lifecycle_configuration.this
}

################################################################################
# Consistency of the config with what is created here (warnings, not errors)
################################################################################

check "backup_destinations" {
  assert {
    condition = alltrue([for d in local.backup_destinations : d.bucket == local.backup_bucket_name])
    error_message = format(
      "Backup plans write to %s, which this configuration does not create (its backup bucket is %s). Such a bucket must exist and let the role %s write (examples/backup-cross-account.tf.example); or set backup_bucket_name to the bucket the plans name.",
      join(", ", distinct([for d in local.backup_destinations : d.bucket if d.bucket != local.backup_bucket_name])),
      local.backup_bucket_name,
      local.backup_function_name,
    )
  }
}

check "backup_encryption_keys" {
  assert {
    condition = alltrue([
      for plan in values(local.backup_plans) : plan.kms_key == null ? true : contains(concat(
        [
          local.backup_key_alias,
          "arn:${local.partition}:kms:${local.region}:${local.account_id}:${local.backup_key_alias}",
          aws_kms_key.backup.key_id,
          aws_kms_key.backup.arn,
        ],
        var.backup_kms_key_arns,
      ), plan.kms_key)
    ])
    error_message = format(
      "Backup plans encrypt with %s, which is neither %s nor listed in backup_kms_key_arns: the function may use only those keys (unless the alias resolves to one of them).",
      join(", ", distinct([for plan in values(local.backup_plans) : plan.kms_key if plan.kms_key != null && plan.kms_key != local.backup_key_alias])),
      local.backup_key_alias,
    )
  }
}
