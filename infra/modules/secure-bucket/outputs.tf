output "id" {
  description = "Bucket name, from the bucket resource (use it to depend on the bucket)."
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "Bucket ARN."
  value       = aws_s3_bucket.this.arn
}
