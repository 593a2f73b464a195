# One customer managed key for the suite: state bucket, notifier and ops-api secrets, log groups
# (the functions' and the API's access logs), the alarm topic, the failure queues, the functions'
# environment variables and the cost-check schedule.
resource "aws_kms_key" "suite" {
  description             = "${var.name_prefix}: state bucket, secrets, logs, alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The account's IAM policies decide who uses the key (the default key policy): the
        # function role gets kms:Decrypt/GenerateDataKey through its own policy.
        Sid       = "EnableIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptsSuiteLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = local.log_group_arns }
        }
      },
      {
        # Alarm actions publish to the KMS-encrypted alarm topic as cloudwatch.amazonaws.com.
        Sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "suite" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.suite.key_id
}
