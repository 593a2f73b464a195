locals {
  state_bucket_name = coalesce(var.state_bucket_name, "${var.name_prefix}-state-${local.account_id}-${local.region}")
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket (itself unlogged); who changed what is recorded by the functions under audit/ and, if wanted, by CloudTrail S3 data events of the account.
  #checkov:skip=CKV_AWS_144:State is regional like the functions that use it; versioning and the 90-day noncurrent versions are the recovery path, and a replica region would have no functions reading it.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to state changes: the functions read the objects they need when invoked, so event notifications would have no consumer.
  bucket        = local.state_bucket_name
  force_destroy = var.state_bucket_force_destroy
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.suite.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket = aws_s3_bucket.state.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "state_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.state.arn,
      "${aws_s3_bucket.state.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid     = "DenyOutdatedTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.state.arn,
      "${aws_s3_bucket.state.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state_bucket.json

  # S3 rejects policies while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.state]
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "audit-trail"
    status = "Enabled"

    filter {
      prefix = "audit/"
    }

    transition {
      days          = var.audit_transition_ia_days
      storage_class = "STANDARD_IA"
    }

    transition {
      days          = var.audit_transition_glacier_days
      storage_class = "GLACIER"
    }

    expiration {
      days = var.audit_expiration_days
    }
  }

  rule {
    id     = "noncurrent-versions-and-uploads"
    status = "Enabled"

    # The whole bucket.
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  # Lifecycle rules apply to versions, so versioning must be on first.
  depends_on = [aws_s3_bucket_versioning.state]

  lifecycle {
    precondition {
      condition     = var.audit_transition_glacier_days > var.audit_transition_ia_days && var.audit_expiration_days > var.audit_transition_glacier_days
      error_message = "The audit/ lifecycle needs audit_transition_ia_days < audit_transition_glacier_days < audit_expiration_days."
    }
  }
}

# The suite configuration, read by every function at cold start. source_hash re-uploads it when the
# file changes (etag cannot be used: with SSE-KMS the ETag is not the MD5 of the content).
resource "aws_s3_object" "suite_config" {
  bucket       = aws_s3_bucket.state.id
  key          = "config/suite.yaml"
  source       = local.config_file
  source_hash  = filemd5(local.config_file)
  content_type = "application/yaml"
  kms_key_id   = aws_kms_key.suite.arn

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.state]
}
