//! The `prune` action: restic's `forget` policy on the plan's snapshots, then reference
//! counting over **every** manifest under the destination (data is shared across plans), then
//! deletes — manifests first (a snapshot disappears whole), data after.
//!
//! Never deleted: the newest successful snapshot, the plan's `latest`, other plans' snapshots,
//! data any surviving manifest references, data written within `Settings::prune_grace` (a
//! backup running now may have written it for a manifest not yet committed), and objects under
//! an Object Lock retention (reported, retried by the next prune). A manifest that cannot be
//! read stops the prune: what it references is unknown, so no data can be deleted safely.

use std::collections::BTreeSet;

use chrono::Utc;
use ops_adapters::s3::backup::{self as s3b};
use ops_domain::backup::manifest::{self, Manifest, SnapshotId};
use ops_domain::backup::retention::{self, KeepReason};
use serde::Serialize;

use crate::handler::{Context, HandlerError};
use crate::report::Report;
use crate::snapshot::read_manifest;

/// What a prune did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// Snapshots kept, with why.
    pub kept: Vec<(SnapshotId, Vec<KeepReason>)>,
    /// Snapshots deleted.
    pub deleted_snapshots: Vec<SnapshotId>,
    /// Data objects deleted.
    pub deleted_data: usize,
    /// Data objects only deleted snapshots referenced, left because they are younger than the
    /// grace period.
    pub deferred_data: usize,
    /// Objects S3 refused to delete (Object Lock), with the reason.
    pub retained: Vec<String>,
}

/// Runs a prune.
pub async fn run(ctx: &Context<'_>) -> Result<Report, HandlerError> {
    let destination = ctx.destination();
    let snapshots_root = ctx.layout.key("snapshots/");
    let listed = s3b::list_prefix(&ctx.s3, destination, &snapshots_root).await?;
    let mut all: Vec<Manifest> = Vec::new();
    for object in listed.iter().filter(|o| o.key.ends_with(".json")) {
        all.push(read_manifest(ctx, &object.key).await?);
    }
    let ours: Vec<&Manifest> = all.iter().filter(|m| m.plan == ctx.plan_name).collect();
    let snapshots: Vec<retention::Snapshot> = ours.iter().map(|m| m.retention_snapshot()).collect();
    let outcome = retention::apply(&snapshots, &ctx.plan.retention, Utc::now());

    let mut keep: BTreeSet<SnapshotId> = all
        .iter()
        .filter(|m| m.plan != ctx.plan_name)
        .map(|m| m.id.clone())
        .collect();
    for id in outcome.keep_ids() {
        if let Ok(id) = id.parse() {
            keep.insert(id);
        }
    }
    if let Some((latest, _)) = crate::snapshot::latest_manifest(ctx).await? {
        keep.insert(latest.id);
    }
    let keep: Vec<SnapshotId> = keep.into_iter().collect();
    let plan = manifest::prune(&all, &keep);

    let mut report = PruneReport {
        kept: outcome
            .kept()
            .filter_map(|d| Some((d.id.parse().ok()?, d.reasons.clone())))
            .collect(),
        ..PruneReport::default()
    };
    // Manifests first: a snapshot disappears whole.
    let manifest_keys: Vec<String> = plan
        .delete_manifests
        .iter()
        .map(|id| ctx.layout.manifest_key(&ctx.plan_name, id))
        .collect();
    let deleted = s3b::delete_keys(&ctx.s3, destination, &manifest_keys).await?;
    let refused: BTreeSet<&str> = deleted.refused.iter().map(|(k, _)| k.as_str()).collect();
    for (key, code) in &deleted.refused {
        report.retained.push(format!("{key}: {code}"));
    }
    report.deleted_snapshots = plan
        .delete_manifests
        .iter()
        .zip(&manifest_keys)
        .filter(|(_, key)| !refused.contains(key.as_str()))
        .map(|(id, _)| id.clone())
        .collect();
    // A snapshot whose manifest stayed (locked) keeps its data.
    let still_there: Vec<SnapshotId> = plan
        .delete_manifests
        .iter()
        .zip(&manifest_keys)
        .filter(|(_, key)| refused.contains(key.as_str()))
        .map(|(id, _)| id.clone())
        .collect();
    let data = if still_there.is_empty() {
        plan.delete_data.clone()
    } else {
        let keep: Vec<SnapshotId> = keep.iter().cloned().chain(still_there).collect();
        manifest::prune(&all, &keep).delete_data
    };

    if !data.is_empty() {
        let cutoff = Utc::now() - ctx.deps.settings.prune_grace;
        let young: BTreeSet<String> =
            s3b::list_prefix(&ctx.s3, destination, &ctx.layout.data_prefix())
                .await?
                .into_iter()
                .filter(|o| o.last_modified.is_some_and(|t| t > cutoff))
                .map(|o| o.key)
                .collect();
        let (deferred, delete): (Vec<String>, Vec<String>) = data
            .iter()
            .map(|k| ctx.layout.key(k))
            .partition(|full| young.contains(full));
        report.deferred_data = deferred.len();
        let deleted = s3b::delete_keys(&ctx.s3, destination, &delete).await?;
        report.deleted_data = deleted.deleted;
        for (key, code) in &deleted.refused {
            report.retained.push(format!("{key}: {code}"));
        }
    }
    Ok(Report::Prune(report))
}
