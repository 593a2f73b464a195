//! The `restore` action: diff first, dry run by default.
//!
//! For the snapshot named (default `latest`), every target kind the request selects is
//! compared with the live state and the differences reported as create / update / delete.
//! With `apply: true` exactly those changes are made:
//!
//! - **S3**: objects are copied server-side from the backup bucket to their original keys (or
//!   under `s3_to`), each with its own recorded Content-Type, Content-Encoding, Cache-Control,
//!   Content-Disposition, user metadata and (when the plan keeps them) tags (`CopyObject` with
//!   `MetadataDirective`/`TaggingDirective: REPLACE`); zero-byte folder markers are restored
//!   like any object. A live key is an update when its bytes differ or, with the same bytes,
//!   its metadata differs from the entry's (read with `HeadObject` only when the live object is
//!   not the very one backed up — see `ops_domain::backup::diff::s3_live_metadata_needed`).
//!   Live objects under the prefix the snapshot does not have are deleted unless `keep_extra`
//!   (live folder markers are left: they hold nothing).
//! - **Route53**: health checks recreated (idempotently) and their new ids mapped into the
//!   records, then ordered `ChangeResourceRecordSets` batches (alias targets first), apex
//!   SOA/NS left alone unless `include_apex_soa_ns`; into the original zone or `zone_to`.
//! - **ECS**: the backed-up task definition registered as a new revision when the live one
//!   differs; the service updated only with `update_services`.
//! - **Secrets**: the backed-up value put as a new version with its staging labels.
//!
//! Every step is idempotent: a retried restore finds nothing left to change.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt};
use ops_adapters::s3::backup::{self as s3b, Bucket, CopyRequest};
use ops_domain::backup::diff::{s3_live_metadata_needed, s3_needs_update};
use ops_domain::backup::manifest::{Entry, Manifest, ObjectMetadata, SourceRef, TargetKind};
use serde_json::Value;

use crate::context::{Context, HandlerError};
use crate::event::SnapshotRef;
use crate::report::{Report, RestoreReport, S3Restore};
use crate::store::{
    data, document_error, documents, latest_manifest, read_manifest, zone_document,
};

/// Keys listed per change kind in a report; the counts are always complete.
const KEYS_SHOWN: usize = 100;

/// Runs a restore (or its dry run).
pub async fn run(ctx: &Context<'_>) -> Result<Report, HandlerError> {
    let request = &ctx.request;
    let manifest = match request.snapshot_ref().map_err(HandlerError::InvalidInput)? {
        SnapshotRef::Latest => {
            latest_manifest(ctx)
                .await?
                .ok_or_else(|| {
                    HandlerError::NoSuchSnapshot(format!("latest of plan {}", ctx.plan_name))
                })?
                .0
        }
        SnapshotRef::Id(id) => {
            read_manifest(ctx, &ctx.layout.manifest_key(&ctx.plan_name, &id)).await?
        }
    };
    let wanted = |kind: TargetKind| request.targets.is_empty() || request.targets.contains(&kind);
    let mut report = RestoreReport {
        snapshot: manifest.id.to_string(),
        apply: request.apply,
        in_sync: true,
        s3: Vec::new(),
        route53: Vec::new(),
        ecs: Vec::new(),
        secrets: Vec::new(),
    };
    if wanted(TargetKind::S3) {
        report.s3 = restore_s3(ctx, &manifest).await?;
    }
    if wanted(TargetKind::Route53) {
        for entry in documents(&manifest, TargetKind::Route53, "zone.json") {
            let doc = zone_document(ctx, entry).await?;
            let target = request
                .zone_to
                .clone()
                .unwrap_or_else(|| doc.zone.id.clone());
            let options = ops_adapters::route53::backup::RestoreZoneOptions {
                apply: request.apply,
                include_apex_soa_ns: request.include_apex_soa_ns,
                idempotency_seed: format!("{}-{}", manifest.id, target),
            };
            let restored = ops_adapters::route53::backup::restore_zone(
                &ctx.deps.clients.route53,
                &doc,
                &target,
                &options,
            )
            .await
            .map_err(|e| HandlerError::Restore(format!("route53:{target}: {e}")))?;
            if !restored.plan.is_empty()
                || restored
                    .health_checks
                    .iter()
                    .any(|h| h.new_id.as_deref() != Some(h.old_id.as_str()))
            {
                report.in_sync = false;
            }
            report
                .route53
                .push(serde_json::to_value(&restored).unwrap_or_default());
        }
    }
    if wanted(TargetKind::Ecs) {
        let service_docs: Vec<&Entry> = manifest
            .entries
            .iter()
            .filter(|e| e.source.kind == TargetKind::Ecs && e.source.key.starts_with("service/"))
            .collect();
        for entry in service_docs {
            let bytes = data(ctx, entry).await?;
            let doc: ops_domain::backup::ecs::ServiceDocument =
                serde_json::from_slice(&bytes).map_err(|e| document_error(ctx, entry, e))?;
            let options = ops_adapters::ecs::backup::RestoreServiceOptions {
                apply: request.apply,
                update_service: request.update_services,
            };
            let restored =
                ops_adapters::ecs::backup::restore_service(&ctx.deps.clients.ecs, &doc, &options)
                    .await
                    .map_err(|e| {
                        HandlerError::Restore(format!(
                            "ecs:{}/{}: {e}",
                            doc.cluster, doc.service.name
                        ))
                    })?;
            let value = serde_json::to_value(&restored).unwrap_or_default();
            if ecs_differs(&value) {
                report.in_sync = false;
            }
            report.ecs.push(value);
        }
    }
    if wanted(TargetKind::Secret) {
        for entry in documents(&manifest, TargetKind::Secret, "versions.json") {
            let bytes = data(ctx, entry).await?;
            let opened = ops_adapters::kms::open(
                &ctx.deps.clients.kms,
                &bytes,
                entry.source.container.as_bytes(),
            )
            .await?;
            let doc: ops_domain::backup::secret::SecretDocument =
                serde_json::from_slice(&opened.plaintext)
                    .map_err(|e| document_error(ctx, entry, e))?;
            let live = ops_adapters::secretsmanager::backup::live_secret(
                &ctx.deps.clients.secrets,
                &doc.arn,
            )
            .await
            .map_err(|e| HandlerError::Restore(format!("secret:{}: {e}", doc.name)))?;
            let plan = ops_domain::backup::secret::plan_secret_restore(&doc, live.as_ref());
            if !plan.is_empty() {
                report.in_sync = false;
                if request.apply {
                    ops_adapters::secretsmanager::backup::apply_secret_restore(
                        &ctx.deps.clients.secrets,
                        &plan,
                        &format!("{}-{}", manifest.id, doc.arn),
                    )
                    .await
                    .map_err(|e| HandlerError::Restore(format!("secret:{}: {e}", doc.name)))?;
                }
            }
            report
                .secrets
                .push(serde_json::to_value(&plan).unwrap_or_default());
        }
    }
    if report.s3.iter().any(|s| s.create + s.update + s.delete > 0) {
        report.in_sync = false;
    }
    Ok(Report::Restore(report))
}

fn ecs_differs(value: &Value) -> bool {
    let unchanged_td = value
        .pointer("/task_definition/action")
        .and_then(Value::as_str)
        .is_some_and(|a| a == "unchanged");
    let service_changes = value
        .get("service_changes")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    !unchanged_td || service_changes
}

/// Where an S3 entry restores to.
fn destination_key(
    target: &SourceRef,
    entry: &Entry,
    to: Option<&crate::event::S3Destination>,
) -> (String, String, String) {
    match to {
        Some(to) => {
            let relative = entry
                .source
                .key
                .strip_prefix(target.key.as_str())
                .unwrap_or(&entry.source.key);
            (
                to.bucket.clone(),
                to.prefix.clone(),
                format!("{}{relative}", to.prefix),
            )
        }
        None => (
            target.container.clone(),
            target.key.clone(),
            entry.source.key.clone(),
        ),
    }
}

async fn restore_s3(
    ctx: &Context<'_>,
    manifest: &Manifest,
) -> Result<Vec<S3Restore>, HandlerError> {
    let s3 = &ctx.deps.clients.s3;
    let targets: Vec<&SourceRef> = manifest
        .targets
        .iter()
        .filter(|t| t.kind == TargetKind::S3)
        .collect();
    let mut reports = Vec::new();
    for target in targets {
        let entries: Vec<&Entry> = manifest
            .entries
            .iter()
            .filter(|e| {
                e.source.kind == TargetKind::S3
                    && e.source.container == target.container
                    && e.source.key.starts_with(&target.key)
            })
            .collect();
        let mut desired: BTreeMap<String, &Entry> = BTreeMap::new();
        let (mut bucket, mut prefix) = match &ctx.request.s3_to {
            Some(to) => (to.bucket.clone(), to.prefix.clone()),
            None => (target.container.clone(), target.key.clone()),
        };
        for entry in &entries {
            let (b, p, key) = destination_key(target, entry, ctx.request.s3_to.as_ref());
            bucket = b;
            prefix = p;
            desired.insert(key, entry);
        }
        let live: BTreeMap<String, s3b::ListedObject> =
            match s3b::list_prefix(s3, Bucket::new(&bucket), &prefix).await {
                Ok(list) => list.into_iter().map(|o| (o.key.clone(), o)).collect(),
                Err(s3b::BackupS3Error::NoSuchBucket { .. }) => {
                    return Err(HandlerError::Restore(format!(
                        "restore bucket s3://{bucket} does not exist"
                    )))
                }
                Err(error) => return Err(error.into()),
            };
        let mut report = S3Restore {
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            ..S3Restore::default()
        };
        // Live objects with the snapshot's bytes whose metadata may differ from the entry's.
        let to_read: Vec<(&String, &Entry)> = desired
            .iter()
            .filter(|(key, entry)| {
                live.get(*key).is_some_and(|found| {
                    same(found, entry) && s3_live_metadata_needed(entry, found.last_modified)
                })
            })
            .map(|(key, entry)| (key, *entry))
            .collect();
        let read: Vec<Result<(&String, Option<ObjectMetadata>), s3b::BackupS3Error>> =
            stream::iter(to_read.into_iter().map(|(key, entry)| {
                let with_tags = entry.metadata.as_ref().is_some_and(|m| m.tags.is_some());
                let bucket = Bucket::new(&bucket);
                async move {
                    let found = s3b::read_metadata(s3, bucket, key, with_tags).await?;
                    Ok((key, found.map(|(metadata, _)| metadata)))
                }
            }))
            .buffer_unordered(ctx.deps.settings.concurrency.max(1))
            .collect()
            .await;
        let mut live_metadata: BTreeMap<&String, Option<ObjectMetadata>> = BTreeMap::new();
        for result in read {
            let (key, metadata) = result?;
            live_metadata.insert(key, metadata);
        }
        let mut copies: Vec<(String, &Entry)> = Vec::new();
        for (key, entry) in &desired {
            let kind = match (live.get(key), live_metadata.get(key)) {
                // Gone since the listing: created again.
                (None, _) | (Some(_), Some(None)) => "create",
                (Some(found), metadata) => {
                    let metadata = metadata.and_then(Option::as_ref);
                    if s3_needs_update(same(found, entry), entry.metadata.as_ref(), metadata) {
                        "update"
                    } else {
                        report.unchanged += 1;
                        continue;
                    }
                }
            };
            if kind == "create" {
                report.create += 1;
            } else {
                report.update += 1;
            }
            push_key(&mut report, kind, key);
            copies.push((key.clone(), entry));
        }
        let extra: Vec<String> = live
            .keys()
            .filter(|k| !desired.contains_key(*k) && !(k.ends_with('/')))
            .cloned()
            .collect();
        report.delete = extra.len();
        for key in &extra {
            push_key(&mut report, "delete", key);
        }
        if ctx.request.apply {
            let backup = ctx.destination();
            let results: Vec<Result<_, s3b::BackupS3Error>> =
                stream::iter(copies.iter().map(|(key, entry)| {
                    let source_key = ctx.layout.key(&entry.key);
                    let bucket = bucket.as_str();
                    async move {
                        let request = CopyRequest {
                            source: backup,
                            source_key: &source_key,
                            source_version: None,
                            size: entry.size,
                            destination: Bucket::new(bucket),
                            destination_key: key,
                            retain_until: None,
                            // Each key's own metadata (the data object carries the metadata of
                            // whichever key was copied first); an entry from an older manifest
                            // has none recorded and keeps the data object's.
                            metadata: entry.metadata.as_ref(),
                        };
                        s3b::copy_object(s3, &request).await
                    }
                }))
                .buffer_unordered(ctx.deps.settings.concurrency.max(1))
                .collect()
                .await;
            for result in results {
                result?;
            }
            if !ctx.request.keep_extra && !extra.is_empty() {
                let deleted = s3b::delete_keys(s3, Bucket::new(&bucket), &extra).await?;
                if !deleted.refused.is_empty() {
                    return Err(HandlerError::Restore(format!(
                        "s3://{bucket}: could not delete {} object(s), first {}: {}",
                        deleted.refused.len(),
                        deleted.refused[0].0,
                        deleted.refused[0].1
                    )));
                }
            }
        }
        reports.push(report);
    }
    Ok(reports)
}

fn push_key(report: &mut S3Restore, kind: &'static str, key: &str) {
    let keys = report.keys.entry(kind).or_default();
    if keys.len() < KEYS_SHOWN {
        keys.push(key.to_owned());
    }
}

/// Whether a live object holds the entry's content: same size and the ETag of the source or of
/// the stored copy (a server-side copy of a single-part object keeps its ETag).
fn same(live: &s3b::ListedObject, entry: &Entry) -> bool {
    if live.size != entry.size {
        return false;
    }
    let etags: BTreeSet<&str> = [entry.etag.as_deref(), entry.stored_etag.as_deref()]
        .into_iter()
        .flatten()
        .map(|e| e.trim_matches('"'))
        .collect();
    live.etag.as_deref().is_some_and(|e| etags.contains(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::S3Destination;
    use ops_domain::backup::manifest::SourceRef;

    fn entry(key: &str, size: u64, etag: &str, stored: Option<&str>) -> Entry {
        Entry {
            key: "data/ab/ab".into(),
            source: SourceRef {
                kind: TargetKind::S3,
                container: "src".into(),
                key: key.into(),
            },
            size,
            checksum: None,
            version_id: None,
            etag: Some(etag.into()),
            encrypted: false,
            stored_etag: stored.map(str::to_owned),
            digest: None,
            retain_until: None,
            metadata: None,
            last_modified: None,
        }
    }

    fn live(size: u64, etag: &str) -> s3b::ListedObject {
        s3b::ListedObject {
            key: "k".into(),
            size,
            etag: Some(etag.into()),
            last_modified: None,
        }
    }

    #[test]
    fn a_live_object_is_the_snapshot_s_when_size_and_an_etag_match() {
        let e = entry("data/a", 5, "\"e1\"", Some("e2"));
        for (found, expect) in [
            (live(5, "e1"), true),
            (live(5, "e2"), true),
            (live(6, "e1"), false),
            (live(5, "other"), false),
        ] {
            assert_eq!(same(&found, &e), expect, "{found:?}");
        }
    }

    #[test]
    fn restored_keys_keep_their_path_below_the_target_prefix() {
        let target = SourceRef {
            kind: TargetKind::S3,
            container: "src".into(),
            key: "data/".into(),
        };
        let e = entry("data/x/y.txt", 1, "e", None);
        assert_eq!(
            destination_key(&target, &e, None),
            ("src".into(), "data/".into(), "data/x/y.txt".into())
        );
        let to = S3Destination {
            bucket: "other".into(),
            prefix: "restored/".into(),
        };
        assert_eq!(
            destination_key(&target, &e, Some(&to)),
            (
                "other".into(),
                "restored/".into(),
                "restored/x/y.txt".into()
            )
        );
    }
}
