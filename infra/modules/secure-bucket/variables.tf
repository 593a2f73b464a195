variable "name" {
  description = "Bucket name (global; at most 63 characters)."
  type        = string
}

variable "name_hint" {
  description = "What to change when name is longer than 63 characters (the caller's variables), quoted in the error."
  type        = string
  default     = "use a shorter name"
}

variable "force_destroy" {
  description = "Whether destroying the bucket deletes every object (and version) in it first."
  type        = bool
  default     = false
}

variable "object_lock_enabled" {
  description = "Object Lock, which S3 can turn on only at creation (null: left to S3, off)."
  type        = bool
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key of the default encryption (SSE-KMS with an S3 bucket key)."
  type        = string
}

variable "tls_only_policy" {
  description = "Whether the bucket policy denying requests without TLS 1.2+ is attached. Always true against AWS; false only against an emulator that evaluates its conditions wrongly (infra/emulator)."
  type        = bool
  default     = true
}

variable "lifecycle_rules" {
  description = <<-EOT
    Lifecycle rules, in order. Each: id; prefix (null: the whole bucket); transitions
    ({days, storage_class}, in increasing days); expiration_days and/or
    expired_object_delete_marker (an expiration block when either is set);
    noncurrent_version_expiration_days; abort_incomplete_multipart_upload_days (required in at
    least one whole-bucket rule).
  EOT
  type = list(object({
    id                                     = string
    prefix                                 = optional(string)
    transitions                            = optional(list(object({ days = number, storage_class = string })), [])
    expiration_days                        = optional(number)
    expired_object_delete_marker           = optional(bool)
    noncurrent_version_expiration_days     = optional(number)
    abort_incomplete_multipart_upload_days = optional(number)
  }))

  validation {
    condition     = anytrue([for rule in var.lifecycle_rules : rule.prefix == null && rule.abort_incomplete_multipart_upload_days != null])
    error_message = "One lifecycle rule must cover the whole bucket (no prefix) and set abort_incomplete_multipart_upload_days: unfinished uploads are billed until aborted."
  }
}
