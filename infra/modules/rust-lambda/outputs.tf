output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the Lambda function (use it as EventBridge target, SNS endpoint or permission target)."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN to use as API Gateway integration URI."
  value       = aws_lambda_function.this.invoke_arn
}

output "function_version" {
  description = "Latest published version of the function ($LATEST unless publishing is enabled)."
  value       = aws_lambda_function.this.version
}

output "role_name" {
  description = "Name of the execution role, to attach further policies from outside the module."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group (/aws/lambda/<function_name>)."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "failure_queue_url" {
  description = "URL of the SQS queue receiving asynchronous invocations that failed after all retries."
  value       = aws_sqs_queue.failures.id
}

output "failure_queue_arn" {
  description = "ARN of the SQS queue receiving asynchronous invocations that failed after all retries."
  value       = aws_sqs_queue.failures.arn
}
