# One secret per notification channel of the config (notifications.channels.*.secret). Terraform
# creates the secrets only: their values are put with `aws secretsmanager put-secret-value`
# (see README.md), so webhook URLs and keys never enter the Terraform state.
resource "aws_secretsmanager_secret" "notifier" {
  #checkov:skip=CKV2_AWS_57:These hold third-party endpoints (Slack webhook URL, PagerDuty routing key, webhook signing key) that only the third party can rotate; an operator rotates them there and puts the new value.
  for_each = local.notifier_secret_names

  name                    = each.value
  description             = "${var.name_prefix} notifier endpoint (value put outside Terraform)"
  kms_key_id              = aws_kms_key.suite.arn
  recovery_window_in_days = var.secret_recovery_window_in_days
}
