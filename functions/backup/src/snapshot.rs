//! The `backup` action: list the sources, plan (copy what changed, reference the rest), copy,
//! then commit — data first, the manifest create-once, the `latest` pointer by
//! compare-and-swap. A snapshot without a committed manifest is invisible.
//!
//! **Long runs.** Copies run in chunks. After each chunk the run may checkpoint: the plan is
//! stored once in the state bucket, the results of the copies since the last checkpoint are
//! stored as a progress document, and the claim records how many copies are done. When the
//! invocation nears its deadline it checkpoints and invokes itself with the run id; the next
//! invocation loads the plan and the progress and copies only what is left. A run that fails
//! (an AWS error once the SDK's retries are spent) checkpoints every copy that succeeded before
//! it returns the error, so the retry copies only the rest; one that dies without a word (a
//! crash) recopies at most one chunk (`Settings::checkpoint_every`) when the next run takes it
//! over. Checkpoint documents are named by their content, so an attempt that finds one already
//! written found its own bytes. A retry of an invocation that committed its snapshot and failed
//! afterwards finds the manifest, finishes moving `latest` and makes no second snapshot. Limit: one invocation lists and plans every source, so a plan holds at
//! most about 250,000 S3 objects at 512 MB of memory (a manifest entry is about 400 bytes in
//! memory and the plan is held twice while it is committed); give the function more memory or
//! split the plan for more.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};
use ops_adapters::s3::backup::{self as s3b, Bucket, Condition, CopyRequest, Written};
use ops_adapters::s3::StateError;
use ops_domain::backup::manifest::{
    self, Action as PlanAction, LatestPointer, Manifest, SnapshotId, SnapshotStatus, Stored,
    TargetKind, SCHEMA_VERSION,
};
use ops_domain::backup::retention;
use serde_json::json;
use tracing::info;

use crate::checkpoint::{drop_checkpoint, load_checkpoint, save_progress};
use crate::claim::{snapshot_id, Checkpoint, Held, Pending};
use crate::context::{Context, HandlerError, Response};
use crate::report::{BackupReport, Outcome, Report};
use crate::sources;
use crate::store::{read_latest, read_manifest};

/// How long past a snapshot's own lock date an Object Lock retention is set, so a later
/// snapshot referencing the same data extends it once a week rather than on every run.
const LOCK_SLACK_DAYS: i64 = 7;

/// Runs (or continues) a backup. On a failure after planning, what was copied is checkpointed
/// into `held` (best effort) before the error is returned, so the next attempt copies only the
/// rest.
pub async fn run(ctx: &Context<'_>, held: &mut Held) -> Result<Outcome, HandlerError> {
    // A retry of an invocation that committed but failed afterwards (releasing the claim, say):
    // the snapshot is there, finish the run instead of making another one.
    let snapshot = match &held.claim.checkpoint {
        Some(checkpoint) => checkpoint.snapshot.clone(),
        None => snapshot_id(held.claim.started_at, &held.claim.run),
    };
    if let Some(manifest) = committed(ctx, &snapshot).await? {
        info!(message = "The run's snapshot is already committed; finishing.", plan = %ctx.plan_name, snapshot = %snapshot);
        move_latest(ctx, ctx.destination(), &manifest).await?;
        if let Some(checkpoint) = held.claim.checkpoint.take() {
            drop_checkpoint(ctx, &checkpoint).await;
        }
        return Ok(Outcome::Report(Report::Backup(BackupReport::of(&manifest))));
    }
    let (pending, results, checkpoint, lock_until) = match held.claim.checkpoint.clone() {
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
            let (pending, results) = start(ctx, held, lock_until).await?;
            (pending, results, None, lock_until)
        }
    };
    let mut copying = Copying {
        unsaved: if checkpoint.is_none() {
            results
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            Vec::new()
        },
        results,
        checkpoint,
        pending,
    };
    match copy_and_commit(ctx, held, &mut copying, lock_until).await {
        Ok(outcome) => Ok(outcome),
        Err(error) => {
            // Keep what this invocation copied: the next attempt resumes from here.
            if !matches!(error, HandlerError::Interrupted) {
                checkpoint_on_failure(ctx, held, &mut copying).await;
            }
            Err(error)
        }
    }
}

/// A run's plan and what it copied so far.
struct Copying {
    pending: Pending,
    /// Every stored result, by data key (checkpointed or not).
    results: HashMap<String, Stored>,
    /// Results not yet in a progress document.
    unsaved: Vec<(String, Stored)>,
    /// The last checkpoint saved.
    checkpoint: Option<Checkpoint>,
}

impl Copying {
    /// The S3 copies of the plan, in plan order.
    fn copies(&self) -> Vec<usize> {
        self.pending
            .plan
            .items
            .iter()
            .enumerate()
            .filter(|(_, item)| {
                item.action == PlanAction::Copy && item.entry.source.kind == TargetKind::S3
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The S3 copies not made yet, in plan order.
    fn left(&self) -> Vec<usize> {
        self.copies()
            .into_iter()
            .filter(|i| {
                !self
                    .results
                    .contains_key(&self.pending.plan.items[*i].entry.key)
            })
            .collect()
    }

    async fn save(
        &mut self,
        ctx: &Context<'_>,
        held: &mut Held,
    ) -> Result<Checkpoint, HandlerError> {
        let planned = self.copies().len();
        let done = planned - self.left().len();
        let checkpoint = save_progress(
            ctx,
            held,
            &self.pending,
            self.checkpoint.clone(),
            done,
            planned,
            &mut self.unsaved,
        )
        .await?;
        self.checkpoint = Some(checkpoint.clone());
        Ok(checkpoint)
    }
}

/// Saves what a failed invocation copied (best effort: if S3 refuses this too, the last
/// checkpoint stands and the next attempt copies a little more).
async fn checkpoint_on_failure(ctx: &Context<'_>, held: &mut Held, copying: &mut Copying) {
    if copying.unsaved.is_empty() && copying.checkpoint.is_some() {
        return;
    }
    match copying.save(ctx, held).await {
        Ok(checkpoint) => info!(
            message = "Backup failed; what was copied is checkpointed.",
            plan = %ctx.plan_name,
            copies_done = checkpoint.copies_done,
            copies_planned = checkpoint.copies_planned
        ),
        Err(error) => tracing::warn!(
            message = "Backup failed and its checkpoint could not be saved.",
            plan = %ctx.plan_name,
            error = %error
        ),
    }
}

async fn copy_and_commit(
    ctx: &Context<'_>,
    held: &mut Held,
    copying: &mut Copying,
    lock_until: Option<DateTime<Utc>>,
) -> Result<Outcome, HandlerError> {
    let destination = ctx.destination();
    let settings = &ctx.deps.settings;
    let mut done_here = 0usize;
    loop {
        let left = copying.left();
        if left.is_empty() {
            break;
        }
        let room = settings.max_copies_per_invocation.saturating_sub(done_here);
        if room == 0 || ctx.time_left().is_zero() {
            let cp = copying.save(ctx, held).await?;
            return continue_run(ctx, cp, &held.claim.run).await;
        }
        let chunk: Vec<usize> = left
            .into_iter()
            .take(settings.checkpoint_every.min(room).max(1))
            .collect();
        let chunk_len = chunk.len();
        let pending = &copying.pending;
        let copied: Vec<Result<(String, Stored), HandlerError>> =
            stream::iter(chunk.into_iter().map(|i| {
                let entry = &pending.plan.items[i].entry;
                copy_one(ctx, destination, entry, lock_until)
            }))
            .buffer_unordered(settings.concurrency.max(1))
            .collect()
            .await;
        // Every copy that succeeded is kept, even when another in the chunk failed.
        let mut first_error = None;
        for outcome in copied {
            match outcome {
                Ok((key, stored)) => {
                    copying.results.insert(key.clone(), stored.clone());
                    copying.unsaved.push((key, stored));
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        done_here += chunk_len;
        if !copying.left().is_empty() {
            copying.save(ctx, held).await?;
        }
    }

    if settings.crash_before_manifest {
        copying.save(ctx, held).await?;
        return Err(HandlerError::Interrupted);
    }

    // Referenced data whose lock ends before this snapshot's: extend it (rarely: see
    // LOCK_SLACK_DAYS).
    let mut manifest = build_manifest(ctx, &copying.pending, &copying.results);
    if let Some(until) = lock_until {
        extend_locks(ctx, destination, &mut manifest, until).await?;
    }
    commit(
        ctx,
        destination,
        &manifest,
        lock_until,
        copying.pending.latest_etag.as_deref(),
    )
    .await?;
    if let Some(checkpoint) = copying.checkpoint.take() {
        drop_checkpoint(ctx, &checkpoint).await;
    }
    held.claim.checkpoint = None;
    Ok(Outcome::Report(Report::Backup(BackupReport::of(&manifest))))
}

/// The committed manifest of `snapshot`, if there is one.
async fn committed(
    ctx: &Context<'_>,
    snapshot: &SnapshotId,
) -> Result<Option<Manifest>, HandlerError> {
    let key = ctx.layout.manifest_key(&ctx.plan_name, snapshot);
    match read_manifest(ctx, &key).await {
        Ok(manifest) => Ok(Some(manifest)),
        Err(HandlerError::NoSuchSnapshot(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Lists and renders every target, plans the snapshot, writes the rendered documents.
async fn start(
    ctx: &Context<'_>,
    held: &Held,
    lock_until: Option<DateTime<Utc>>,
) -> Result<(Pending, HashMap<String, Stored>), HandlerError> {
    let destination = ctx.destination();
    let created_at = held.claim.started_at;
    let snapshot = snapshot_id(created_at, &held.claim.run);
    let previous = read_latest(ctx).await?;
    let gathered = sources::gather(ctx, &snapshot, previous.as_ref().map(|l| &l.manifest)).await?;
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
        // The data object keeps the source's metadata; the manifest entry holds this key's own.
        metadata: None,
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
    // Lost: an earlier attempt of this run committed it already (the snapshot id names the run,
    // so the key holds this run's manifest) and the answer was lost.
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
    let expected = Some(known_latest.map(|etag| format!("\"{etag}\"")));
    move_latest_from(ctx, destination, manifest, expected).await
}

/// Moves `latest` to `manifest` unless it points at it or at a newer snapshot already.
async fn move_latest(
    ctx: &Context<'_>,
    destination: Bucket<'_>,
    manifest: &Manifest,
) -> Result<(), HandlerError> {
    move_latest_from(ctx, destination, manifest, None).await
}

/// `expected`: the pointer's ETag as last read (`Some(None)`: there was none), `None` to read it.
async fn move_latest_from(
    ctx: &Context<'_>,
    destination: Bucket<'_>,
    manifest: &Manifest,
    expected: Option<Option<String>>,
) -> Result<(), HandlerError> {
    let latest_key = ctx.layout.latest_key(&ctx.plan_name);
    let pointer = LatestPointer {
        schema_version: SCHEMA_VERSION,
        plan: ctx.plan_name.clone(),
        snapshot: manifest.id.clone(),
        manifest_key: manifest::manifest_key(&ctx.plan_name, &manifest.id),
        created_at: manifest.created_at,
    };
    let body = serde_json::to_vec(&pointer).unwrap_or_default();
    // First try against the pointer read when the run planned; re-read only if it moved (or
    // was not read).
    let mut expected = expected;
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
