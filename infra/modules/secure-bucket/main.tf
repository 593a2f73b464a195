# secure-bucket: one S3 bucket hardened the way every bucket of the suite is.
#
# - versioning on;
# - default encryption SSE-KMS with the given key and an S3 bucket key;
# - the four public access blocks on, object ownership BucketOwnerEnforced (no ACLs);
# - a bucket policy denying any request without TLS (aws:SecureTransport false) or with TLS older
#   than 1.2 (tls_only_policy; left out only against an emulator that cannot evaluate it);
# - the caller's lifecycle rules (applied once versioning is on).
#
# No server access logs, no replication, no event notifications: see the checkov skips below. The
# caller states why for its bucket next to the module call. Resources are named "this"; a caller
# that had these resources at the root moves them here with moved {} blocks, so nothing is
# recreated.

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket (itself unlogged); each caller records what its functions or pipeline did (audit/ records, execution history), and CloudTrail S3 data events can be turned on account-wide.
  #checkov:skip=CKV_AWS_144:Each bucket is regional like what reads it; versioning with noncurrent versions is the recovery path, and backups are copied elsewhere by the backup function itself (see each module call).
  #checkov:skip=CKV2_AWS_62:Nothing reacts to writes in these buckets: readers read what they need when invoked or on their own schedule, so event notifications would have no consumer.
  bucket              = var.name
  force_destroy       = var.force_destroy
  object_lock_enabled = var.object_lock_enabled

  lifecycle {
    precondition {
      condition     = length(var.name) <= 63
      error_message = "The bucket name ${var.name} is longer than 63 characters: ${var.name_hint}."
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "this" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
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
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
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

resource "aws_s3_bucket_policy" "this" {
  count = var.tls_only_policy ? 1 : 0

  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  # S3 rejects policies while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  #checkov:skip=CKV_AWS_300:Checkov does not expand the dynamic rule blocks; the variable's validation requires a whole-bucket rule that aborts incomplete multipart uploads, so every bucket of this module has one.
  bucket = aws_s3_bucket.this.id

  dynamic "rule" {
    for_each = var.lifecycle_rules
    content {
      id     = rule.value.id
      status = "Enabled"

      # No prefix: the whole bucket.
      filter {
        prefix = rule.value.prefix
      }

      dynamic "transition" {
        for_each = rule.value.transitions
        content {
          days          = transition.value.days
          storage_class = transition.value.storage_class
        }
      }

      dynamic "expiration" {
        for_each = rule.value.expiration_days != null || rule.value.expired_object_delete_marker != null ? [1] : []
        content {
          days                         = rule.value.expiration_days
          expired_object_delete_marker = rule.value.expired_object_delete_marker
        }
      }

      dynamic "noncurrent_version_expiration" {
        for_each = rule.value.noncurrent_version_expiration_days != null ? [1] : []
        content {
          noncurrent_days = rule.value.noncurrent_version_expiration_days
        }
      }

      dynamic "abort_incomplete_multipart_upload" {
        for_each = rule.value.abort_incomplete_multipart_upload_days != null ? [1] : []
        content {
          days_after_initiation = rule.value.abort_incomplete_multipart_upload_days
        }
      }
    }
  }

  # Lifecycle rules apply to versions, so versioning must be on first.
  depends_on = [aws_s3_bucket_versioning.this]

  lifecycle {
    precondition {
      condition = alltrue([
        for rule in var.lifecycle_rules : alltrue([
          for i, days in concat([for t in rule.transitions : t.days], rule.expiration_days == null ? [] : [rule.expiration_days]) :
          i == 0 ? true : days > concat([for t in rule.transitions : t.days], rule.expiration_days == null ? [] : [rule.expiration_days])[i - 1]
        ])
      ])
      error_message = "In every lifecycle rule the transitions must come in increasing days, all before the expiration: ${join("; ", [for rule in var.lifecycle_rules : format("%s: %s", rule.id, join(" < ", concat([for t in rule.transitions : "${t.storage_class} after ${t.days} days"], rule.expiration_days == null ? [] : ["expiration after ${rule.expiration_days} days"]))) if length(rule.transitions) > 0])}."
    }
  }
}
