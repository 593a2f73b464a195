output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Base URL of the API (https://<id>.execute-api.<region>.amazonaws.com); the $default stage serves every route there, without a stage path."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN of the API (arn:...:execute-api:<region>:<account>:<id>), the prefix of its routes' ARNs."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the stage ($default)."
  value       = aws_apigatewayv2_stage.default.name
}

output "authorizer_id" {
  description = "ID of the JWT authorizer."
  value       = aws_apigatewayv2_authorizer.jwt.id
}

output "route_ids" {
  description = "Route IDs by route key."
  value = merge(
    { for key, route in aws_apigatewayv2_route.jwt : key => route.id },
    { for key, route in aws_apigatewayv2_route.public : key => route.id },
  )
}

output "access_log_group_name" {
  description = "CloudWatch log group of the stage's access logs."
  value       = aws_cloudwatch_log_group.access.name
}
