output "schedule_name" {
  description = "Name of the schedule."
  value       = aws_scheduler_schedule.this.name
}

output "schedule_arn" {
  description = "ARN of the schedule."
  value       = aws_scheduler_schedule.this.arn
}

output "role_name" {
  description = "Name of the schedule's execution role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the schedule's execution role."
  value       = aws_iam_role.this.arn
}
