//! backup: scheduled backups of S3 prefixes, Route53 zones, ECS configuration and Secrets
//! Manager secrets, with retention, verification and diff-first restore.
