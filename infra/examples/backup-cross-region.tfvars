# Backups in another region (or another account), on top of prod.tfvars:
#   terraform apply -var-file=examples/prod.tfvars -var-file=examples/backup-cross-region.tfvars
#
# The suite runs in eu-west-1; the plan writes its snapshots to a bucket in eu-central-1, so a
# regional outage or a mistake in eu-west-1 leaves the copy intact. The destination bucket and its
# key are created by examples/backup-cross-account.tf.example, applied with region = "eu-central-1"
# (in this account: source_account_id = this account; or in a backup account of its own). The plan
# in config/suite.yaml then names them:
#
#   destination:
#     bucket: ops-suite-backup-123456789012-eu-central-1
#     prefix: suite/
#     region: eu-central-1
#     account: "123456789012"        # the bucket owner (another account id for a backup account)
#   encryption: { kms_key: "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" }
#
# The function's role gets the bucket from the config (resource classes backup_buckets and
# backup_objects) and the key from here: directly with a backup:plan encryption context (secrets),
# and through S3 in eu-central-1 for the bucket's SSE-KMS (kms:ViaService follows the plans'
# destination regions). The bucket created by this configuration stays, empty until a plan names
# it; `terraform plan` warns about plans writing elsewhere (check backup_destinations).

backup_kms_key_arns = [
  "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
]
