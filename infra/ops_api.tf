# ops-api: the suite's REST API, status page and Slack interactivity endpoint, behind an API
# Gateway HTTP API (modules/http-api):
#   ANY /{proxy+}            people, with a bearer JWT the gateway's authorizer verifies
#                            (jwt_issuer, jwt_audience); the role comes from a claim (ROLE_CLAIM)
#   ANY /machine/{proxy+}    machines, with an API key in x-api-key that the function checks
#                            against the SHA-256 hashes in the API keys secret
#   GET /, GET /openapi.json the status page (a static shell that asks for a token or key) and
#                            the API description: no data
#   POST /slack/interactions Slack's buttons, signature-checked by the function with the Slack
#                            signing secret
# Its IAM statements are in policies/ops-api.json (mapped in policies.tf).

locals {
  ops_api_function_name = "${var.name_prefix}-ops-api"
}

################################################################################
# Secrets: created here, their values put by operators (never in the Terraform state)
################################################################################

# {"keys": [{"name", "sha256", "scope", ...}]}: the hashes of the machine API keys, written by
# `opsctl api-key create|revoke` (a key is shown once, only its SHA-256 is stored).
resource "aws_secretsmanager_secret" "ops_api_keys" {
  #checkov:skip=CKV2_AWS_57:The document holds hashes of API keys, not a credential Secrets Manager could rotate: a key is rotated by issuing a new one (opsctl api-key create) and revoking the old (opsctl api-key revoke).
  name                    = "${var.name_prefix}/ops-api/api-keys"
  description             = "${var.name_prefix} ops-api: SHA-256 hashes of the machine API keys (written by opsctl api-key)"
  kms_key_id              = aws_kms_key.suite.arn
  recovery_window_in_days = var.secret_recovery_window_in_days
}

# The Slack app's signing secret (Basic Information > App Credentials), put by an operator with
# `aws secretsmanager put-secret-value`.
resource "aws_secretsmanager_secret" "slack_signing" {
  #checkov:skip=CKV2_AWS_57:Slack issues the signing secret and only Slack can regenerate it (the app's Basic Information page); an operator then puts the new value.
  name                    = "${var.name_prefix}/ops-api/slack-signing-secret"
  description             = "${var.name_prefix} ops-api: signing secret of the Slack app (value put outside Terraform)"
  kms_key_id              = aws_kms_key.suite.arn
  recovery_window_in_days = var.secret_recovery_window_in_days
}

################################################################################
# Function
################################################################################

module "ops_api" {
  source = "./modules/rust-lambda"

  function_name = local.ops_api_function_name
  description   = "The suite's REST API, status page and Slack interactivity endpoint"
  zip_path      = "${local.artifacts_dir}/ops-api/bootstrap.zip"
  architecture  = var.lambda_architecture
  memory_size   = 256
  # Below the integration's 30 s: API Gateway gives up then, and an answer after it reaches no one.
  timeout = 29

  environment_variables = merge(local.function_environment, {
    API_KEYS_SECRET      = aws_secretsmanager_secret.ops_api_keys.arn
    SLACK_SIGNING_SECRET = aws_secretsmanager_secret.slack_signing.arn
    ROLE_CLAIM           = var.ops_api_role_claim
    # Restores asked through the API run in the backup function, with its permissions.
    BACKUP_FUNCTION = local.backup_function_name
  })

  kms_key_arn                    = aws_kms_key.suite.arn
  application_log_level          = var.application_log_level
  log_retention_in_days          = var.log_retention_in_days
  tracing_mode                   = var.tracing_mode
  reserved_concurrent_executions = var.ops_api_reserved_concurrency

  # API Gateway invokes synchronously and answers the caller with the error; nothing invokes it
  # asynchronously, and an operator command retried by Lambda would answer no one.
  maximum_retry_attempts = 0

  policy_statements = local.policy_statements["ops-api"]
}

################################################################################
# HTTP API
################################################################################

module "ops_api_http" {
  source = "./modules/http-api"

  name        = local.ops_api_function_name
  description = "${var.name_prefix} operator API, status page and Slack interactivity"

  function_name       = module.ops_api.function_name
  function_invoke_arn = module.ops_api.invoke_arn

  jwt_issuer     = var.jwt_issuer
  jwt_audience   = var.jwt_audience
  jwt_route_keys = ["ANY /{proxy+}"]
  # Authenticated by the function (API keys, Slack signatures) or serving nothing secret.
  public_route_keys = [
    "ANY /machine/{proxy+}",
    "GET /",
    "GET /openapi.json",
    "POST /slack/interactions",
  ]

  throttling_burst_limit = var.ops_api_throttling_burst_limit
  throttling_rate_limit  = var.ops_api_throttling_rate_limit

  access_log_retention_in_days = var.log_retention_in_days
  access_log_kms_key_arn       = aws_kms_key.suite.arn
}
