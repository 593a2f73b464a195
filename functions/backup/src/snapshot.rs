//! The `backup` action: list the sources, plan (copy what changed, reference the rest), copy,
//! then commit — data first, the manifest create-once, the `latest` pointer by
//! compare-and-swap. A snapshot without a committed manifest is invisible.
//!
//! **Long runs.** Copies run in chunks. After each chunk the run may checkpoint: the plan is
//! stored once in the state bucket, the results of the copies since the last checkpoint are
//! stored as a progress document, and the claim records how many copies are done. When the
//! invocation nears its deadline it checkpoints and invokes itself with the run id; the next
//! invocation loads the plan and the progress and copies only what is left. A run that dies
//! between checkpoints recopies at most one chunk (`Settings::checkpoint_every`) when the next
//! run takes it over. Limit: one invocation lists and plans every source, so a plan holds at
//! most about 250,000 S3 objects at 512 MB of memory (a manifest entry is about 400 bytes in
//! memory and the plan is held twice while it is committed); give the function more memory or
//! split the plan for more.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};
use ops_adapters::s3::backup::{self as s3b, Bucket, Condition, CopyRequest, Written};
use ops_adapters::s3::StateError;
use ops_domain::backup::manifest::{
    self, Action as PlanAction, Checksum, LatestPointer, Manifest, Plan, SnapshotId,
    SnapshotStatus, SourceObject, SourceRef, Stored, TargetKind, SCHEMA_VERSION,
};
use ops_domain::backup::retention;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::info;

use crate::handler::{save_claim, Context, HandlerError, Held, Outcome, Response};
use crate::report::{BackupReport, Report};
use crate::sources;

/// How long past a snapshot's own lock date an Object Lock retention is set, so a later
/// snapshot referencing the same data extends it once a week rather than on every run.
const LOCK_SLACK_DAYS: i64 = 7;

/// A backup run's checkpoint, kept in its claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The snapshot being made.
    pub snapshot: SnapshotId,
    /// State key of the stored plan.
    pub plan_key: String,
    /// S3 copies done, in plan order.
    pub copies_done: usize,
    /// S3 copies planned.
    pub copies_planned: usize,
    /// State keys of the progress documents (copy results) written so far.
    pub progress: Vec<String>,
}

/// The plan of a run, stored once when it first checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The snapshot.
    pub snapshot: SnapshotId,
    /// Its parent.
    pub parent: Option<SnapshotId>,
    /// When the run started.
    pub created_at: DateTime<Utc>,
    /// Targets captured.
    pub targets: Vec<SourceRef>,
    /// The plan.
    pub plan: Plan,
    /// ETag of the `latest` pointer when the run planned (`None`: there was none), for the
    /// commit's compare-and-swap without reading it again.
    #[serde(default)]
    pub latest_etag: Option<String>,
}

/// Runs (or continues) a backup.
pub async fn run(ctx: &Context<'_>, mut held: Held) -> Result<Outcome, HandlerError> {
    let destination = ctx.destination();
    let (pending, mut results, mut checkpoint, lock_until) = match held.claim.checkpoint.clone() {
        Some(checkpoint) => {
            let (pending, results) = load_checkpoint(ctx, &checkpoint).await?;
            let lock_until = lock_date(ctx, pending.created_at).await?;
            info!(
                message = "Resuming a checkpointed backup.",
                plan = %ctx.plan_name,
                snapshot = %pending.snapshot,
                copies_done = checkpoint.copies_done,
                copies_planned = checkpoint.copies_planned
            );
            (pending, results, Some(checkpoint), lock_until)
        }
        None => {
            // The Object Lock date is asked for once per invocation: the documents written
            // while planning and the copies after it share it.
            let lock_until = lock_date(ctx, held.claim.started_at).await?;
            let (pending, results) = start(ctx, &held, lock_until).await?;
            (pending, results, None, lock_until)
        }
    };

    // S3 copies, in plan order, chunk by chunk.
    let copies: Vec<usize> = pending
        .plan
        .items
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            item.action == PlanAction::Copy && item.entry.source.kind == TargetKind::S3
        })
        .map(|(i, _)| i)
        .collect();
    let settings = &ctx.deps.settings;
    let mut done = checkpoint.as_ref().map_or(0, |c| c.copies_done);
    let mut done_here = 0usize;
    let mut unsaved: Vec<(String, Stored)> = results
        .iter()
        .filter(|_| checkpoint.is_none())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    while done < copies.len() {
        let room = settings.max_copies_per_invocation.saturating_sub(done_here);
        if room == 0 || ctx.time_left().is_zero() {
            let cp = save_progress(
                ctx,
                &mut held,
                &pending,
                checkpoint.take(),
                done,
                copies.len(),
                &mut unsaved,
            )
            .await?;
            return continue_run(ctx, cp, &held.claim.run).await;
        }
        let chunk_end = (done + settings.checkpoint_every.min(room)).min(copies.len());
        let chunk: Vec<usize> = copies[done..chunk_end].to_vec();
        let copied: Vec<Result<(String, Stored), HandlerError>> =
            stream::iter(chunk.into_iter().map(|i| {
                let entry = &pending.plan.items[i].entry;
                copy_one(ctx, destination, entry, lock_until)
            }))
            .buffer_unordered(settings.concurrency.max(1))
            .collect()
            .await;
        for outcome in copied {
            let (key, stored) = outcome?;
            results.insert(key.clone(), stored.clone());
            unsaved.push((key, stored));
        }
        done_here += chunk_end - done;
        done = chunk_end;
        if done < copies.len() {
            checkpoint = Some(
                save_progress(
                    ctx,
                    &mut held,
                    &pending,
                    checkpoint.take(),
                    done,
                    copies.len(),
                    &mut unsaved,
                )
                .await?,
            );
        }
    }

    if settings.crash_before_manifest {
        save_progress(
            ctx,
            &mut held,
            &pending,
            checkpoint.take(),
            done,
            copies.len(),
            &mut unsaved,
        )
        .await?;
        return Err(HandlerError::Interrupted);
    }

    // Referenced data whose lock ends before this snapshot's: extend it (rarely: see
    // LOCK_SLACK_DAYS).
    let mut manifest = build_manifest(ctx, &pending, &results);
    if let Some(until) = lock_until {
        extend_locks(ctx, destination, &mut manifest, until).await?;
    }
    commit(
        ctx,
        destination,
        &manifest,
        lock_until,
        pending.latest_etag.as_deref(),
    )
    .await?;
    cleanup(ctx, &pending, checkpoint.as_ref()).await;
    Ok(Outcome::Report(Report::Backup(BackupReport::of(&manifest))))
}

/// Lists and renders every target, plans the snapshot, writes the rendered documents.
async fn start(
    ctx: &Context<'_>,
    held: &Held,
    lock_until: Option<DateTime<Utc>>,
) -> Result<(Pending, HashMap<String, Stored>), HandlerError> {
    let destination = ctx.destination();
    let created_at = held.claim.started_at;
    let snapshot = crate::handler::snapshot_id(created_at, &held.claim.run);
    let previous = read_latest(ctx).await?;
    let gathered = sources::gather(ctx, &snapshot).await?;
    let plan =
        manifest::plan_incremental(previous.as_ref().map(|l| &l.manifest), &gathered.listing);
    // Rendered documents are small and already in memory: write those the plan copies now.
    let mut results = HashMap::new();
    let writes = plan
        .items
        .iter()
        .filter(|item| item.action == PlanAction::Copy && item.entry.source.kind != TargetKind::S3)
        .filter_map(|item| {
            gathered
                .documents
                .get(&item.entry.source)
                .map(|doc| (item.entry.key.clone(), doc))
        });
    for (key, doc) in writes {
        let full = ctx.layout.key(&key);
        let written = s3b::put_bytes(
            &ctx.s3,
            destination,
            &full,
            doc.bytes.clone(),
            doc.content_type,
            Condition::None,
            lock_until.map(slack),
        )
        .await?;
        if let Written::Stored(mut stored) = written {
            stored.version_id = None;
            results.insert(key, stored);
        }
    }
    Ok((
        Pending {
            snapshot,
            latest_etag: previous.as_ref().map(|l| l.etag.clone()),
            parent: previous.map(|l| l.manifest.id),
            created_at,
            targets: gathered.targets,
            plan,
        },
        results,
    ))
}

fn slack(until: DateTime<Utc>) -> DateTime<Utc> {
    until + Duration::days(LOCK_SLACK_DAYS)
}

async fn copy_one(
    ctx: &Context<'_>,
    destination: Bucket<'_>,
    entry: &manifest::Entry,
    lock_until: Option<DateTime<Utc>>,
) -> Result<(String, Stored), HandlerError> {
    let full = ctx.layout.key(&entry.key);
    let request = CopyRequest {
        source: Bucket::new(&entry.source.container),
        source_key: &entry.source.key,
        source_version: None,
        size: entry.size,
        destination,
        destination_key: &full,
        retain_until: lock_until.map(slack),
    };
    let stored = s3b::copy_object(&ctx.s3, &request)
        .await
        .map_err(|error| match error {
            s3b::BackupS3Error::NoSuchBucket { bucket } if bucket == entry.source.container => {
                HandlerError::source(
                    format!("s3://{}/{}", entry.source.container, entry.source.key),
                    "the source bucket does not exist",
                    false,
                )
            }
            other => HandlerError::from(other),
        })?;
    Ok((entry.key.clone(), stored))
}

/// The Object Lock date of a snapshot created at `created_at`, when the bucket has Object Lock
/// and the policy guarantees one.
async fn lock_date(
    ctx: &Context<'_>,
    created_at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, HandlerError> {
    let Some(until) = retention::lock_until(&ctx.plan.retention, created_at) else {
        return Ok(None);
    };
    if s3b::object_lock_enabled(&ctx.s3, ctx.destination()).await? {
        Ok(Some(until))
    } else {
        Ok(None)
    }
}

async fn extend_locks(
    ctx: &Context<'_>,
    destination: Bucket<'_>,
    manifest: &mut Manifest,
    until: DateTime<Utc>,
) -> Result<(), HandlerError> {
    let mut extended: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for entry in &mut manifest.entries {
        if entry.retain_until.is_some_and(|current| current >= until) {
            continue;
        }
        let new_until = match extended.get(&entry.key) {
            Some(done) => *done,
            None => {
                let target = slack(until);
                s3b::extend_retention(&ctx.s3, destination, &ctx.layout.key(&entry.key), target)
                    .await?;
                extended.insert(entry.key.clone(), target);
                target
            }
        };
        entry.retain_until = Some(new_until);
    }
    Ok(())
}

fn build_manifest(
    ctx: &Context<'_>,
    pending: &Pending,
    results: &HashMap<String, Stored>,
) -> Manifest {
    let mut entries = pending.plan.entries();
    for entry in &mut entries {
        if let Some(stored) = results.get(&entry.key) {
            entry.record_stored(stored);
        }
    }
    Manifest {
        schema_version: SCHEMA_VERSION,
        id: pending.snapshot.clone(),
        plan: ctx.plan_name.clone(),
        created_at: pending.created_at,
        parent: pending.parent.clone(),
        status: SnapshotStatus::Complete,
        targets: pending.targets.clone(),
        entries,
        totals: pending.plan.totals,
    }
}

/// Writes the manifest create-once, then moves `latest` to it by compare-and-swap (never back
/// to an older snapshot).
async fn commit(
    ctx: &Context<'_>,
    destination: Bucket<'_>,
    manifest: &Manifest,
    lock_until: Option<DateTime<Utc>>,
    known_latest: Option<&str>,
) -> Result<(), HandlerError> {
    let key = ctx.layout.manifest_key(&ctx.plan_name, &manifest.id);
    let body = serde_json::to_vec(manifest).unwrap_or_default();
    // Lost: a duplicate of this run committed the same snapshot already.
    s3b::put_bytes(
        &ctx.s3,
        destination,
        &key,
        body,
        "application/json",
        Condition::Absent,
        lock_until,
    )
    .await?;
    let latest_key = ctx.layout.latest_key(&ctx.plan_name);
    let pointer = LatestPointer {
        schema_version: SCHEMA_VERSION,
        plan: ctx.plan_name.clone(),
        snapshot: manifest.id.clone(),
        manifest_key: manifest::manifest_key(&ctx.plan_name, &manifest.id),
        created_at: manifest.created_at,
    };
    let body = serde_json::to_vec(&pointer).unwrap_or_default();
    // First try against the pointer read when the run planned; re-read only if it moved.
    let mut expected: Option<Option<String>> = Some(known_latest.map(|etag| format!("\"{etag}\"")));
    for _ in 0..5 {
        let current = match expected.take() {
            Some(known) => known,
            None => match s3b::get_bytes(&ctx.s3, destination, &latest_key).await? {
                Some((bytes, etag)) => {
                    if let Ok(existing) = manifest::parse_latest(&bytes) {
                        if existing.snapshot >= manifest.id {
                            return Ok(());
                        }
                    }
                    Some(format!("\"{etag}\""))
                }
                None => None,
            },
        };
        let condition = match &current {
            Some(etag) => Condition::Etag(etag),
            None => Condition::Absent,
        };
        match s3b::put_bytes(
            &ctx.s3,
            destination,
            &latest_key,
            body.clone(),
            "application/json",
            condition,
            None,
        )
        .await?
        {
            Written::Stored(_) => return Ok(()),
            Written::Lost => continue,
        }
    }
    Err(HandlerError::State(StateError::Conflict {
        bucket: destination.name.to_owned(),
        key: latest_key,
    }))
}

/// The plan's latest committed manifest, its key and the pointer's ETag.
#[derive(Debug)]
pub struct Latest {
    /// The manifest.
    pub manifest: Manifest,
    /// Its key.
    pub key: String,
    /// ETag of the `latest` pointer.
    pub etag: String,
}

/// The plan's latest committed manifest and its key, if any.
pub async fn latest_manifest(
    ctx: &Context<'_>,
) -> Result<Option<(Manifest, String)>, HandlerError> {
    Ok(read_latest(ctx).await?.map(|l| (l.manifest, l.key)))
}

/// The plan's latest committed snapshot, if any.
pub async fn read_latest(ctx: &Context<'_>) -> Result<Option<Latest>, HandlerError> {
    let destination = ctx.destination();
    let latest_key = ctx.layout.latest_key(&ctx.plan_name);
    let Some((bytes, etag)) = s3b::get_bytes(&ctx.s3, destination, &latest_key).await? else {
        return Ok(None);
    };
    let pointer = manifest::parse_latest(&bytes).map_err(|source| HandlerError::Document {
        key: format!("s3://{}/{latest_key}", destination.name),
        source,
    })?;
    let key = ctx.layout.key(&pointer.manifest_key);
    let manifest = read_manifest(ctx, &key).await?;
    Ok(Some(Latest {
        manifest,
        key,
        etag,
    }))
}

/// Reads and checks one manifest.
pub async fn read_manifest(ctx: &Context<'_>, key: &str) -> Result<Manifest, HandlerError> {
    let destination = ctx.destination();
    let Some((bytes, _)) = s3b::get_bytes(&ctx.s3, destination, key).await? else {
        return Err(HandlerError::NoSuchSnapshot(format!(
            "s3://{}/{key}",
            destination.name
        )));
    };
    manifest::parse_manifest(&bytes).map_err(|source| HandlerError::Document {
        key: format!("s3://{}/{key}", destination.name),
        source,
    })
}

fn plan_key(ctx: &Context<'_>, snapshot: &SnapshotId) -> String {
    format!("backup/runs/{}/{snapshot}/plan.json", ctx.plan_name)
}

async fn save_progress(
    ctx: &Context<'_>,
    held: &mut Held,
    pending: &Pending,
    previous: Option<Checkpoint>,
    done: usize,
    planned: usize,
    unsaved: &mut Vec<(String, Stored)>,
) -> Result<Checkpoint, HandlerError> {
    let store = &ctx.deps.store;
    let mut checkpoint = match previous {
        Some(checkpoint) => checkpoint,
        None => {
            let key = plan_key(ctx, &pending.snapshot);
            match store.create(&key, pending).await {
                Ok(_) | Err(StateError::AlreadyExists { .. }) => {}
                Err(error) => return Err(error.into()),
            }
            Checkpoint {
                snapshot: pending.snapshot.clone(),
                plan_key: key,
                copies_done: 0,
                copies_planned: planned,
                progress: Vec::new(),
            }
        }
    };
    if !unsaved.is_empty() {
        let key = format!(
            "backup/runs/{}/{}/progress-{:06}.json",
            ctx.plan_name,
            pending.snapshot,
            checkpoint.progress.len()
        );
        let batch: BTreeMap<String, Stored> = std::mem::take(unsaved).into_iter().collect();
        match store.create(&key, &batch).await {
            Ok(_) | Err(StateError::AlreadyExists { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        checkpoint.progress.push(key);
    }
    checkpoint.copies_done = done;
    held.claim.checkpoint = Some(checkpoint.clone());
    save_claim(ctx, held).await?;
    Ok(checkpoint)
}

async fn load_checkpoint(
    ctx: &Context<'_>,
    checkpoint: &Checkpoint,
) -> Result<(Pending, HashMap<String, Stored>), HandlerError> {
    let store = &ctx.deps.store;
    let pending = store
        .get::<Pending>(&checkpoint.plan_key)
        .await?
        .ok_or_else(|| {
            HandlerError::State(StateError::Corrupt {
                bucket: store.bucket().to_owned(),
                key: checkpoint.plan_key.clone(),
                source: serde::de::Error::custom("the checkpointed plan is missing"),
            })
        })?
        .value;
    let mut results = HashMap::new();
    for key in &checkpoint.progress {
        if let Some(batch) = store.get::<BTreeMap<String, Stored>>(key).await? {
            results.extend(batch.value);
        }
    }
    Ok((pending, results))
}

async fn continue_run(
    ctx: &Context<'_>,
    checkpoint: Checkpoint,
    run: &str,
) -> Result<Outcome, HandlerError> {
    let run = run.to_owned();
    let next = json!({"plan": ctx.plan_name, "action": "backup", "continue_run": run});
    let mut continued_by_self = false;
    if let Some(invoke) = &ctx.deps.self_invoke {
        let payload = serde_json::to_vec(&next).unwrap_or_default();
        match invoke
            .client
            .invoke()
            .function_name(&invoke.function_name)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
        {
            Ok(_) => continued_by_self = true,
            // The checkpoint is saved: the next scheduled run takes the run over once the
            // lease expires.
            Err(error) => tracing::warn!(
                message = "Self-invocation failed; the next run resumes the checkpoint.",
                error = %ops_adapters::error::describe(&error)
            ),
        }
    }
    info!(
        message = "Backup checkpointed; continuing.",
        plan = %ctx.plan_name,
        copies_done = checkpoint.copies_done,
        copies_planned = checkpoint.copies_planned
    );
    Ok(Outcome::Continue(Response::Continued {
        run,
        copies_done: checkpoint.copies_done,
        copies_planned: checkpoint.copies_planned,
        continued_by_self,
        next,
    }))
}

async fn cleanup(ctx: &Context<'_>, pending: &Pending, checkpoint: Option<&Checkpoint>) {
    let Some(checkpoint) = checkpoint else { return };
    let store = &ctx.deps.store;
    for key in checkpoint.progress.iter().chain([&checkpoint.plan_key]) {
        if let Err(error) = store.delete(key).await {
            tracing::warn!(message = "Could not delete a checkpoint document.", key = %key, error = %error, snapshot = %pending.snapshot);
        }
    }
}

/// A rendered document's listing entry: content-addressed by its SHA-256.
pub fn document_object(
    source: SourceRef,
    bytes: &[u8],
    encrypted: bool,
    digest: Option<String>,
) -> SourceObject {
    SourceObject {
        source,
        size: bytes.len() as u64,
        checksum: Some(Checksum::Sha256 {
            hex: hex::encode(Sha256::digest(bytes)),
        }),
        version_id: None,
        etag: None,
        encrypted,
        digest,
    }
}
