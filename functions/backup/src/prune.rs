//! The `prune` action: restic's `forget` policy on the plan's snapshots, then reference
//! counting over **every** manifest under the destination (data is shared across plans), then
//! deletes — manifests first (a snapshot disappears whole), data after.
//!
//! Never deleted: the newest successful snapshot, the plan's `latest`, other plans' snapshots,
//! data any surviving manifest references, data written within `Settings::prune_grace` (a
//! backup running now may have written it for a manifest not yet committed), data a
//! checkpointed run of a plan sharing the destination has planned (it resumes later), and
//! objects under an Object Lock retention (reported, retried by the next prune). A manifest that
//! cannot be read stops the prune: what it references is unknown, so no data can be deleted
//! safely.
//!
//! Deleted with the data of forgotten snapshots: data objects that no manifest references at
//! all — what runs that failed before their manifest left behind — once past the grace period.

use std::collections::BTreeSet;

use chrono::Utc;
use ops_adapters::s3::backup::{self as s3b};
use ops_domain::backup::manifest::{self, Manifest, SnapshotId};
use ops_domain::backup::retention;

use crate::claim::{claim_key, Pending, RunClaim};
use crate::context::{Context, HandlerError};
use crate::report::{PruneReport, Report};
use crate::store::{latest_manifest, read_manifest};

/// The data keys planned by checkpointed runs of the plans that share this destination: they
/// resume later and reference data no manifest has yet.
async fn in_progress(ctx: &Context<'_>) -> Result<BTreeSet<String>, HandlerError> {
    let store = &ctx.deps.store;
    let mut keys = BTreeSet::new();
    let sharing = ctx.config.backup.plans.iter().filter(|(_, plan)| {
        plan.destination.bucket == ctx.plan.destination.bucket
            && manifest::Layout::new(&plan.destination.prefix) == ctx.layout
    });
    for (name, _) in sharing {
        let Some(claim) = store.get::<RunClaim>(&claim_key(name)).await? else {
            continue;
        };
        let Some(checkpoint) = claim.value.checkpoint else {
            continue;
        };
        if let Some(pending) = store.get::<Pending>(&checkpoint.plan_key).await? {
            keys.extend(pending.value.plan.items.into_iter().map(|i| i.entry.key));
        }
    }
    Ok(keys)
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
    if let Some((latest, _)) = latest_manifest(ctx).await? {
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
    // What survives: every manifest not deleted (a locked one stayed, and keeps its data).
    let deleted_ids: BTreeSet<&SnapshotId> = report.deleted_snapshots.iter().collect();
    let surviving: Vec<&Manifest> = all
        .iter()
        .filter(|m| !deleted_ids.contains(&m.id))
        .collect();
    let protected = in_progress(ctx).await?;
    let cutoff = Utc::now() - ctx.deps.settings.prune_grace;
    let root = ctx.layout.key("");
    let listed = s3b::list_prefix(&ctx.s3, destination, &ctx.layout.data_prefix()).await?;
    let relative: Vec<(&str, Option<chrono::DateTime<Utc>>)> = listed
        .iter()
        .filter_map(|o| Some((o.key.strip_prefix(root.as_str())?, o.last_modified)))
        .collect();
    let delete = manifest::unreferenced(relative.iter().copied(), &surviving, &protected, cutoff);
    let forgotten: BTreeSet<&str> = plan.delete_data.iter().map(String::as_str).collect();
    // Data of forgotten snapshots too young to go yet.
    let young: BTreeSet<&str> = relative
        .iter()
        .filter(|(_, modified)| modified.is_none_or(|at| at >= cutoff))
        .map(|(key, _)| *key)
        .collect();
    report.deferred_data = forgotten.iter().filter(|k| young.contains(*k)).count();
    let orphans = delete
        .iter()
        .filter(|k| !forgotten.contains(k.as_str()))
        .count();
    if !delete.is_empty() {
        let full: Vec<String> = delete.iter().map(|k| ctx.layout.key(k)).collect();
        let deleted = s3b::delete_keys(&ctx.s3, destination, &full).await?;
        report.deleted_data = deleted.deleted;
        report.orphaned_data = orphans.min(deleted.deleted);
        for (key, code) in &deleted.refused {
            report.retained.push(format!("{key}: {code}"));
        }
    }
    Ok(Report::Prune(report))
}
