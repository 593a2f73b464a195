# An example CodePipeline that deploys one service of the config with deploy-hook:
#   Source  (S3: a new version of <source bucket>/<source key> is a new revision)
#   Approve (manual approval before production)
#   Deploy  (Invoke action, provider Lambda: deploy-hook with UserParameters {"service": ...})
# with its own artifact bucket and role. Everything here exists only while
# example_pipeline_enabled is true (the default); turn it off where deploy-hook runs in pipelines
# of your own, which need only the Invoke action below and lambda:InvokeFunction on the function
# for their role.

locals {
  example_pipeline_count = var.example_pipeline_enabled ? 1 : 0
  example_pipeline_name  = "${var.name_prefix}-deploy-${var.example_pipeline_service}"
  # Bucket names are global: derived like the state bucket's.
  example_pipeline_bucket_name = "${var.name_prefix}-pipeline-${local.account_id}-${local.region}"
  # Null source bucket: the artifact bucket itself (versioned, as an S3 source must be).
  example_pipeline_source_bucket = coalesce(var.example_pipeline_source_bucket, local.example_pipeline_bucket_name)
}

################################################################################
# Artifact bucket
################################################################################

# Versioned (as an S3 source must be), SSE-KMS with the suite key, no public access, TLS 1.2+ only
# (modules/secure-bucket). Why no access logs, replication or event notifications: what the
# pipeline read and wrote is in its execution history (and CloudTrail S3 data events can be turned
# on account-wide); artifacts are intermediate files of one regional pipeline, recreated by running
# it again; the example pipeline is started explicitly (start-pipeline-execution), not by bucket
# events.
#
# Artifacts are outputs of pipeline runs, reproducible from the source revisions; the pipeline that
# reads them is destroyed with the bucket (force_destroy). Every run writes new artifact objects
# under the pipeline's folder. They are kept (each is a revision a retry or an audit may need, and
# the source zip may live in this bucket too); replaced versions expire like the state bucket's,
# and incomplete uploads are aborted.
module "pipeline_artifacts_bucket" {
  source = "./modules/secure-bucket"
  count  = local.example_pipeline_count

  name          = local.example_pipeline_bucket_name
  name_hint     = "use a shorter name_prefix or set example_pipeline_enabled = false (the name is <name_prefix>-pipeline-<account>-<region>)"
  force_destroy = true
  kms_key_arn   = aws_kms_key.suite.arn

  tls_only_policy = local.bucket_tls_only_policies

  lifecycle_rules = [
    {
      id                                     = "noncurrent-versions-and-uploads"
      noncurrent_version_expiration_days     = var.noncurrent_version_expiration_days
      abort_incomplete_multipart_upload_days = var.abort_incomplete_multipart_upload_days
    },
  ]
}

# The artifact bucket's resources were at the root before modules/secure-bucket: moved, not
# recreated.

moved {
  from = aws_s3_bucket.pipeline_artifacts[0]
  to   = module.pipeline_artifacts_bucket[0].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_versioning.pipeline_artifacts[0]
  to   = module.pipeline_artifacts_bucket[0].aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.pipeline_artifacts[0]
  to   = module.pipeline_artifacts_bucket[0].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.pipeline_artifacts[0]
  to   = module.pipeline_artifacts_bucket[0].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.pipeline_artifacts[0]
  to   = module.pipeline_artifacts_bucket[0].aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_policy.pipeline_artifacts[0]
  to   = module.pipeline_artifacts_bucket[0].aws_s3_bucket_policy.this[0]
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.pipeline_artifacts[0]
  to   = module.pipeline_artifacts_bucket[0].aws_s3_bucket_lifecycle_configuration.this
}

################################################################################
# Pipeline role
################################################################################

data "aws_iam_policy_document" "example_pipeline_assume" {
  count = local.example_pipeline_count

  statement {
    sid     = "CodePipelineAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["codepipeline.amazonaws.com"]
    }

    # Only pipelines of this account may use the role (confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "example_pipeline" {
  count = local.example_pipeline_count

  name               = "${var.name_prefix}-example-pipeline"
  description        = "CodePipeline service role of ${local.example_pipeline_name}: artifacts, source, deploy-hook"
  assume_role_policy = data.aws_iam_policy_document.example_pipeline_assume[0].json
}

# What the three stages need, as CodePipeline's minimal service role policy lists it for S3
# artifacts, an S3 source and a Lambda invoke action; nothing for the approval.
data "aws_iam_policy_document" "example_pipeline" {
  count = local.example_pipeline_count

  statement {
    sid       = "UseArtifactBucket"
    actions   = ["s3:GetBucketVersioning", "s3:GetBucketAcl", "s3:GetBucketLocation"]
    resources = [module.pipeline_artifacts_bucket[0].arn]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  # CodePipeline writes each artifact with the bucket-owner-full-control ACL (PutObjectAcl); with
  # BucketOwnerEnforced the bucket owns every object anyway.
  statement {
    sid       = "ReadWriteArtifacts"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectAcl"]
    resources = ["${module.pipeline_artifacts_bucket[0].arn}/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  # The S3 source action checks the bucket is versioned and reads versions of the one key.
  statement {
    sid       = "UseSourceBucket"
    actions   = ["s3:GetBucketVersioning", "s3:GetBucketAcl", "s3:GetBucketLocation"]
    resources = ["arn:${local.partition}:s3:::${local.example_pipeline_source_bucket}"]
  }

  statement {
    sid       = "ReadSource"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["arn:${local.partition}:s3:::${local.example_pipeline_source_bucket}/${var.example_pipeline_source_key}"]
  }

  # Artifacts are encrypted with the suite key (artifact store and bucket default), through S3.
  statement {
    sid       = "EncryptArtifacts"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.suite.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  # The Deploy stage: CodePipeline invokes deploy-hook with this role (no resource-based
  # permission on the function), and no other function.
  statement {
    sid       = "InvokeDeployHook"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.deploy_hook.function_arn]
  }
}

resource "aws_iam_role_policy" "example_pipeline" {
  count = local.example_pipeline_count

  name   = "example-pipeline"
  role   = aws_iam_role.example_pipeline[0].id
  policy = data.aws_iam_policy_document.example_pipeline[0].json
}

################################################################################
# Pipeline
################################################################################

resource "aws_codepipeline" "example" {
  count = local.example_pipeline_count

  name     = local.example_pipeline_name
  role_arn = aws_iam_role.example_pipeline[0].arn

  pipeline_type = "V2"
  # A newer revision replaces one still waiting for approval; a deployment in progress is never
  # interrupted (a stage runs one execution at a time), and deploy-hook itself waits while
  # another deployment holds the service.
  execution_mode = "SUPERSEDED"

  artifact_store {
    location = module.pipeline_artifacts_bucket[0].id
    type     = "S3"

    encryption_key {
      id   = aws_kms_key.suite.arn
      type = "KMS"
    }
  }

  stage {
    name = "Source"

    action {
      name             = "Source"
      category         = "Source"
      owner            = "AWS"
      provider         = "S3"
      version          = "1"
      output_artifacts = ["source"]

      configuration = {
        S3Bucket    = local.example_pipeline_source_bucket
        S3ObjectKey = var.example_pipeline_source_key
        # Started explicitly after an upload (aws codepipeline start-pipeline-execution), not by
        # polling the bucket.
        PollForSourceChanges = "false"
      }
    }
  }

  stage {
    name = "Approve"

    action {
      name     = "ApproveProduction"
      category = "Approval"
      owner    = "AWS"
      provider = "Manual"
      version  = "1"

      configuration = {
        CustomData = "Deploy ${var.example_pipeline_service} to production with ${local.deploy_hook_function_name}?"
      }
    }
  }

  stage {
    name = "Deploy"

    action {
      name            = "DeployHook"
      category        = "Invoke"
      owner           = "AWS"
      provider        = "Lambda"
      version         = "1"
      input_artifacts = ["source"]

      configuration = {
        FunctionName   = module.deploy_hook.function_name
        UserParameters = jsonencode({ service = var.example_pipeline_service })
      }
    }
  }

  lifecycle {
    precondition {
      condition     = contains(keys(try(local.config.services, {})), var.example_pipeline_service)
      error_message = "example_pipeline_service must be a service of the config (a key of services)."
    }
  }

  # The role must be able to read the source, write artifacts and invoke before the first run
  # (CodePipeline starts one when the pipeline is created).
  depends_on = [
    aws_iam_role_policy.example_pipeline,
    module.pipeline_artifacts_bucket,
  ]
}
