# Three ways for an alarm to reach alarm-rollback; use any of them per alarm:
#   (a) EventBridge: every state change of an alarm named in the config (no change to the alarms),
#   (b) SNS: put the alarm topic in an alarm's alarm_actions,
#   (c) direct: put the function ARN in an alarm's alarm_actions (CloudWatch invokes Lambda).

locals {
  # EventBridge matches exact strings, and globs through {"wildcard": ...}. Its wildcard knows
  # only `*`, so a `?` widens to `*` there; the function applies the exact glob to what arrives.
  alarm_globs = [for name in local.alarm_names : name if length(regexall("[*?]", name)) > 0]
  alarm_name_patterns = concat(
    [for name in local.alarm_names : name if length(regexall("[*?]", name)) == 0],
    [for glob in local.alarm_globs : { wildcard = replace(glob, "?", "*") }],
  )
}

################################################################################
# (a) EventBridge rule on alarm state changes
################################################################################

resource "aws_cloudwatch_event_rule" "alarm_state_change" {
  count = length(local.alarm_names) > 0 ? 1 : 0

  name        = "${var.name_prefix}-alarm-state-change"
  description = "State changes of the alarms named in the suite config, for alarm-rollback"

  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    detail = {
      alarmName = local.alarm_name_patterns
    }
  })
}

resource "aws_cloudwatch_event_target" "alarm_rollback" {
  count = length(aws_cloudwatch_event_rule.alarm_state_change)

  rule      = aws_cloudwatch_event_rule.alarm_state_change[0].name
  target_id = "alarm-rollback"
  arn       = module.alarm_rollback.function_arn
}

resource "aws_lambda_permission" "events" {
  count = length(aws_cloudwatch_event_rule.alarm_state_change)

  statement_id  = "AllowEventBridgeAlarmStateChange"
  action        = "lambda:InvokeFunction"
  function_name = module.alarm_rollback.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.alarm_state_change[0].arn
}

################################################################################
# (b) SNS topic for alarm actions
################################################################################

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  display_name      = "${var.name_prefix} alarms"
  kms_master_key_id = aws_kms_key.suite.arn
}

data "aws_iam_policy_document" "alarm_topic" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.alarm_arn_any]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarm_topic.json
}

resource "aws_sns_topic_subscription" "alarm_rollback" {
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "lambda"
  endpoint  = module.alarm_rollback.function_arn

  depends_on = [aws_lambda_permission.sns]
}

resource "aws_lambda_permission" "sns" {
  statement_id  = "AllowAlarmTopic"
  action        = "lambda:InvokeFunction"
  function_name = module.alarm_rollback.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.alarms.arn
}

################################################################################
# (c) Direct alarm actions: CloudWatch invokes the function itself
################################################################################

# One permission per alarms entry of the config; the source ARN is matched with ArnLike, so the
# config's globs (* and ?) work as they are.
resource "aws_lambda_permission" "alarms" {
  for_each = toset(local.alarm_names)

  statement_id   = "AllowAlarm-${substr(replace(each.value, "/[^A-Za-z0-9_-]/", "_"), 0, 60)}-${substr(md5(each.value), 0, 8)}"
  action         = "lambda:InvokeFunction"
  function_name  = module.alarm_rollback.function_name
  principal      = "lambda.alarms.cloudwatch.amazonaws.com"
  source_arn     = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${each.value}"
  source_account = local.account_id
}
