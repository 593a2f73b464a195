################################################################################
# API
################################################################################

variable "name" {
  description = "Name of the HTTP API. Also names its access log group (/aws/apigateway/<name>)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,128}$", var.name))
    error_message = "name must be 1-128 characters of letters, digits, dots, hyphens and underscores."
  }
}

variable "description" {
  description = "Description of the HTTP API."
  type        = string
  default     = ""
}

variable "disable_execute_api_endpoint" {
  description = "Turn off the API's default https://<id>.execute-api.<region>.amazonaws.com endpoint, once clients use a custom domain name mapped to the stage."
  type        = bool
  default     = false
}

################################################################################
# Function
################################################################################

variable "function_name" {
  description = "Name of the Lambda function behind every route (API Gateway gets lambda:InvokeFunction on it for this API)."
  type        = string
}

variable "function_invoke_arn" {
  description = "Invoke ARN of the function (the rust-lambda module's invoke_arn output), the URI of the proxy integration."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:apigateway:", var.function_invoke_arn))
    error_message = "function_invoke_arn must be a Lambda invoke ARN (arn:<partition>:apigateway:<region>:lambda:path/...)."
  }
}

variable "integration_timeout_milliseconds" {
  description = "How long API Gateway waits for the function (50-30000 ms) before answering 503; keep the function's timeout at or below it."
  type        = number
  default     = 30000

  validation {
    condition     = var.integration_timeout_milliseconds >= 50 && var.integration_timeout_milliseconds <= 30000
    error_message = "integration_timeout_milliseconds must be between 50 and 30000."
  }
}

################################################################################
# Routes and authorization
################################################################################

variable "jwt_route_keys" {
  description = "Route keys (\"METHOD /path\", \"ANY /{proxy+}\") that API Gateway lets through only with a valid JWT from jwt_issuer for jwt_audience."
  type        = list(string)
  nullable    = false

  validation {
    condition     = alltrue([for key in var.jwt_route_keys : can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /", key))])
    error_message = "jwt_route_keys must look like \"METHOD /path\" (METHOD one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)."
  }
}

variable "public_route_keys" {
  description = "Route keys API Gateway passes to the function without authorization: the function must authenticate them itself (or serve nothing secret on them)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for key in var.public_route_keys : can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /", key))])
    error_message = "public_route_keys must look like \"METHOD /path\" (METHOD one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)."
  }
}

variable "jwt_issuer" {
  description = "Issuer URL of the OpenID Connect provider whose tokens the JWT authorizer accepts (its iss claim, e.g. https://cognito-idp.<region>.amazonaws.com/<pool id> or https://<tenant>.auth0.com/)."
  type        = string

  validation {
    condition     = can(regex("^https://", var.jwt_issuer))
    error_message = "jwt_issuer must be an https:// URL."
  }
}

variable "jwt_audience" {
  description = "Audiences the JWT authorizer accepts: a token's aud (or client_id) claim must match one of them."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.jwt_audience) > 0 && alltrue([for audience in var.jwt_audience : length(trimspace(audience)) > 0])
    error_message = "jwt_audience must list at least one non-empty audience."
  }
}

variable "jwt_identity_source" {
  description = "Where the JWT authorizer finds the token: a request header holding \"Bearer <token>\"."
  type        = string
  default     = "$request.header.Authorization"
}

################################################################################
# Stage
################################################################################

variable "throttling_burst_limit" {
  description = "Burst limit of every route of the stage: requests API Gateway serves at once above the steady rate before answering 429."
  type        = number
  default     = 50

  validation {
    condition     = var.throttling_burst_limit >= 1 && floor(var.throttling_burst_limit) == var.throttling_burst_limit
    error_message = "throttling_burst_limit must be a whole number >= 1."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state rate limit of every route of the stage, in requests per second."
  type        = number
  default     = 20

  validation {
    condition     = var.throttling_rate_limit > 0
    error_message = "throttling_rate_limit must be greater than 0."
  }
}

variable "detailed_metrics_enabled" {
  description = "Per-route CloudWatch metrics (charged as custom metrics)."
  type        = bool
  default     = false
}

variable "access_log_retention_in_days" {
  description = "Days CloudWatch Logs keeps the access logs (a value CloudWatch accepts; 0 keeps them forever)."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.access_log_retention_in_days)
    error_message = "access_log_retention_in_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653) or 0."
  }
}

variable "access_log_kms_key_arn" {
  description = "KMS key encrypting the access log group. Its key policy must let logs.<region>.amazonaws.com use it for this log group (kms:EncryptionContext:aws:logs:arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:kms:", var.access_log_kms_key_arn))
    error_message = "access_log_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:...)."
  }
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
  nullable    = false
}
