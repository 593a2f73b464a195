//! A backup run's checkpoint documents in the state bucket: the stored plan and the progress
//! documents (copy results), named by their content under `backup/runs/<plan>/<snapshot>/`;
//! saving a checkpoint into the claim, loading it, and dropping a run's documents.

use std::collections::{BTreeMap, HashMap};

use ops_adapters::s3::backup::{self as s3b, Bucket};
use ops_adapters::s3::StateError;
use ops_domain::backup::manifest::{SnapshotId, Stored};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::claim::{save_claim, snapshot_id, Checkpoint, Held, Pending};
use crate::context::{Context, HandlerError};

/// `backup/runs/<plan>/<snapshot>/`: where a run's checkpoint documents live.
fn run_prefix(ctx: &Context<'_>, snapshot: &SnapshotId) -> String {
    format!("backup/runs/{}/{snapshot}/", ctx.plan_name)
}

/// A checkpoint document's key, named by its content: a write that finds the key already there
/// found these very bytes (an earlier attempt's write whose answer was lost), never another
/// attempt's different document.
fn content_key<T: Serialize>(
    ctx: &Context<'_>,
    snapshot: &SnapshotId,
    stem: &str,
    value: &T,
) -> String {
    let digest = Sha256::digest(serde_json::to_vec(value).unwrap_or_default());
    format!(
        "{}{stem}-{}.json",
        run_prefix(ctx, snapshot),
        &hex::encode(digest)[..16]
    )
}

/// Saves a checkpoint: the plan once, the copy results not yet saved as a progress document,
/// then the claim naming them (by compare-and-swap).
pub async fn save_progress(
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
            let key = content_key(ctx, &pending.snapshot, "plan", pending);
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
        let batch: BTreeMap<String, Stored> = unsaved.iter().cloned().collect();
        let key = content_key(
            ctx,
            &pending.snapshot,
            &format!("progress-{:06}", checkpoint.progress.len()),
            &batch,
        );
        match store.create(&key, &batch).await {
            Ok(_) | Err(StateError::AlreadyExists { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        checkpoint.progress.push(key);
    }
    checkpoint.copies_done = done;
    checkpoint.copies_planned = planned;
    let before = held.claim.checkpoint.replace(checkpoint.clone());
    if let Err(error) = save_claim(ctx, held).await {
        // Not saved: the claim in the bucket still names the previous checkpoint.
        held.claim.checkpoint = before;
        return Err(error);
    }
    unsaved.clear();
    Ok(checkpoint)
}

/// Loads a checkpointed run's plan and copy results.
pub async fn load_checkpoint(
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

/// Deletes a run's checkpoint documents (best effort: what is left is small and named by the
/// run, and a later run never reads it).
pub async fn drop_checkpoint(ctx: &Context<'_>, checkpoint: &Checkpoint) {
    let known: Vec<String> = checkpoint
        .progress
        .iter()
        .chain([&checkpoint.plan_key])
        .cloned()
        .collect();
    drop_documents(ctx, &checkpoint.snapshot, known).await;
}

/// Deletes the checkpoint documents of the run `held` names (a run given up on).
pub async fn drop_run(ctx: &Context<'_>, held: &Held) {
    match &held.claim.checkpoint {
        Some(checkpoint) => drop_checkpoint(ctx, checkpoint).await,
        None => {
            let snapshot = snapshot_id(held.claim.started_at, &held.claim.run);
            drop_documents(ctx, &snapshot, Vec::new()).await;
        }
    }
}

async fn drop_documents(ctx: &Context<'_>, snapshot: &SnapshotId, known: Vec<String>) {
    let store = &ctx.deps.store;
    let prefix = run_prefix(ctx, snapshot);
    let mut keys = known;
    // Documents an attempt wrote without getting to record them in the claim.
    match s3b::list_prefix(&ctx.deps.clients.s3, Bucket::new(store.bucket()), &prefix).await {
        Ok(listed) => keys.extend(listed.into_iter().map(|o| o.key)),
        Err(error) => {
            tracing::warn!(message = "Could not list the checkpoint documents.", error = %error)
        }
    }
    keys.sort();
    keys.dedup();
    for key in &keys {
        if let Err(error) = store.delete(key).await {
            tracing::warn!(message = "Could not delete a checkpoint document.", key = %key, error = %error, snapshot = %snapshot);
        }
    }
}
