locals {
  state_bucket_name = coalesce(var.state_bucket_name, "${var.name_prefix}-state-${local.account_id}-${local.region}")
  # The TLS-only bucket policy of every bucket (modules/secure-bucket). Only the emulator override
  # (infra/emulator/emulator_override.tf) turns it off.
  bucket_tls_only_policies = true
}

# The state bucket: versioned, SSE-KMS with the suite key, no public access, TLS 1.2+ only
# (modules/secure-bucket). Why no access logs, replication or event notifications: who changed
# what is recorded by the functions under audit/ (and, if wanted, by CloudTrail S3 data events);
# state is regional like the functions that use it, versioning with 90-day noncurrent versions is
# the recovery path; nothing reacts to state changes, the functions read what they need when
# invoked.
module "state_bucket" {
  source = "./modules/secure-bucket"

  name          = local.state_bucket_name
  force_destroy = var.state_bucket_force_destroy
  kms_key_arn   = aws_kms_key.suite.arn

  tls_only_policy = local.bucket_tls_only_policies

  lifecycle_rules = [
    {
      # Needs audit_transition_ia_days < audit_transition_glacier_days < audit_expiration_days
      # (checked by the module).
      id     = "audit-trail"
      prefix = "audit/"
      transitions = [
        { days = var.audit_transition_ia_days, storage_class = "STANDARD_IA" },
        { days = var.audit_transition_glacier_days, storage_class = "GLACIER" },
      ]
      expiration_days = var.audit_expiration_days
    },
    {
      id                                     = "noncurrent-versions-and-uploads"
      noncurrent_version_expiration_days     = var.noncurrent_version_expiration_days
      abort_incomplete_multipart_upload_days = var.abort_incomplete_multipart_upload_days
    },
  ]
}

# The suite configuration, read by every function at cold start. source_hash re-uploads it when the
# file changes (etag cannot be used: with SSE-KMS the ETag is not the MD5 of the content).
resource "aws_s3_object" "suite_config" {
  bucket       = module.state_bucket.id
  key          = "config/suite.yaml"
  source       = local.config_file
  source_hash  = filemd5(local.config_file)
  content_type = "application/yaml"
  kms_key_id   = aws_kms_key.suite.arn

  # Written once the bucket's default encryption (and the rest of its hardening) is in place.
  depends_on = [module.state_bucket]
}

# The state bucket's resources were at the root before modules/secure-bucket: moved, not recreated.

moved {
  from = aws_s3_bucket.state
  to   = module.state_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_versioning.state
  to   = module.state_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.state
  to   = module.state_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.state
  to   = module.state_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.state
  to   = module.state_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_policy.state
  to   = module.state_bucket.aws_s3_bucket_policy.this[0]
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.state
  to   = module.state_bucket.aws_s3_bucket_lifecycle_configuration.this
}
