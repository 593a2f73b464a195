locals {
  # Stage name of an HTTP API's default stage: served at the API's root URL, no stage path.
  stage_name = "$default"
}

################################################################################
# API
################################################################################

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = var.description
  protocol_type = "HTTP"

  # Clients reach the API only through the stage's URL (or a custom domain mapped to it); the
  # function serves CORS itself where it needs to, no gateway CORS configuration.
  disable_execute_api_endpoint = var.disable_execute_api_endpoint

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(setintersection(var.jwt_route_keys, var.public_route_keys)) == 0
      error_message = "A route key is listed both in jwt_route_keys and in public_route_keys."
    }
  }
}

################################################################################
# JWT authorizer
################################################################################

# Any OIDC issuer: API Gateway fetches the issuer's keys (<issuer>/.well-known/openid-configuration)
# and rejects a request whose bearer token is missing, expired, not signed by the issuer or not
# meant for one of the audiences (aud or client_id claim) with 401, before the function runs.
# The verified claims reach the function in requestContext.authorizer.jwt.claims.
resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "jwt"
  authorizer_type  = "JWT"
  identity_sources = [var.jwt_identity_source]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

################################################################################
# Integration and routes
################################################################################

resource "aws_apigatewayv2_integration" "lambda" {
  api_id      = aws_apigatewayv2_api.this.id
  description = "Lambda proxy integration of ${var.function_name}"

  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.function_invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.integration_timeout_milliseconds
}

resource "aws_apigatewayv2_route" "jwt" {
  for_each = toset(var.jwt_route_keys)

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.lambda.id}"

  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_apigatewayv2_route" "public" {
  #checkov:skip=CKV_AWS_309:These routes are authenticated by the function itself, not the gateway: requests with an API key (checked against hashes in Secrets Manager, in constant time) or a Slack request signature (HMAC-SHA256 over the raw body, replay window), and the static page and API description, which hold no data. The module's caller lists them in public_route_keys, every other route goes through the JWT authorizer.
  for_each = toset(var.public_route_keys)

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.lambda.id}"

  authorization_type = "NONE"
}

################################################################################
# Stage: throttling and access logs
################################################################################

# Access logs: one JSON line per request, without headers, query strings or bodies (tokens, API
# keys and Slack payloads never reach the log).
resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.access_log_retention_in_days
  kms_key_id        = var.access_log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = local.stage_name
  description = "Default stage of ${var.name}: every route, deployed on every change"
  auto_deploy = true

  # Every route at most this fast (requests per second, steady and burst); API Gateway answers
  # 429 beyond it, before the function runs.
  default_route_settings {
    throttling_burst_limit   = var.throttling_burst_limit
    throttling_rate_limit    = var.throttling_rate_limit
    detailed_metrics_enabled = var.detailed_metrics_enabled
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      httpMethod         = "$context.httpMethod"
      path               = "$context.path"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationStatus  = "$context.integration.status"
      integrationLatency = "$context.integration.latency"
      integrationError   = "$context.integration.error"
      authorizerError    = "$context.authorizer.error"
      principal          = "$context.authorizer.claims.sub"
    })
  }

  tags = var.tags

  # Routes first: with auto_deploy the stage deploys what exists when it is created.
  depends_on = [aws_apigatewayv2_route.jwt, aws_apigatewayv2_route.public]
}

################################################################################
# Permission to invoke the function
################################################################################

# API Gateway invokes the function for this API's routes only (any stage, method and path of it).
resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApi-${aws_apigatewayv2_api.this.id}"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*"
}
