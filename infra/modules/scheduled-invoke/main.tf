data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # The function's name, from its ARN (arn:<partition>:lambda:<region>:<account>:function:<name>).
  function_name = split(":", var.function_arn)[6]
  role_name     = coalesce(var.role_name, "${var.name}-scheduler")
  # Built from its parts: the execution role's policy needs it before the schedule exists.
  schedule_arn = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/${var.group_name}/${var.name}"
}

################################################################################
# Execution role
################################################################################

data "aws_iam_policy_document" "assume" {
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

resource "aws_iam_role" "this" {
  name                 = local.role_name
  description          = "EventBridge Scheduler execution role: invokes ${local.function_name}"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = var.invoke_statement_sid
    actions   = ["lambda:InvokeFunction"]
    resources = [var.function_arn, "${var.function_arn}:*"]
  }

  # The dead-letter queue of the schedule (usually the function's failure queue): Scheduler sends
  # with this role.
  statement {
    sid       = "SendUndeliveredRuns"
    actions   = ["sqs:SendMessage"]
    resources = [var.dead_letter_queue_arn]
  }

  # ... and the queue may be encrypted with a customer managed key.
  dynamic "statement" {
    for_each = var.dead_letter_queue_kms_key_arn == null ? [] : [var.dead_letter_queue_kms_key_arn]

    content {
      sid       = "EncryptUndeliveredRuns"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${local.region}.amazonaws.com"]
      }
    }
  }

  # The schedule is encrypted with kms_key_arn; Scheduler decrypts it with this role when it runs,
  # for this schedule only.
  statement {
    sid       = "DecryptSchedule"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:scheduler:schedule:arn"
      values   = [local.schedule_arn]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.role_policy_name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

################################################################################
# Schedule
################################################################################

resource "aws_scheduler_schedule" "this" {
  name        = var.name
  group_name  = var.group_name
  description = var.description
  state       = var.enabled ? "ENABLED" : "DISABLED"

  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_expression_timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode                      = var.flexible_window_minutes > 0 ? "FLEXIBLE" : "OFF"
    maximum_window_in_minutes = var.flexible_window_minutes > 0 ? var.flexible_window_minutes : null
  }

  target {
    arn      = var.function_arn
    role_arn = aws_iam_role.this.arn
    input    = var.input

    # Retries of a failed delivery (the Invoke call itself: throttling, permissions). Scheduler
    # invokes Lambda asynchronously, so errors of the run itself are retried by Lambda and end up
    # in the function's failure destination.
    retry_policy {
      maximum_retry_attempts       = var.maximum_retry_attempts
      maximum_event_age_in_seconds = var.maximum_event_age_in_seconds
    }

    dead_letter_config {
      arn = var.dead_letter_queue_arn
    }
  }

  # The role must be able to invoke before the first run.
  depends_on = [aws_iam_role_policy.this]
}
