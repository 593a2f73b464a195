//! The per-plan run claim: one run per plan at a time.
//!
//! `backup/runs/<plan>.json` in the state bucket is created with `If-None-Match: *` and holds a
//! lease ([`RunClaim`]). A second run of the same plan that finds a live lease is told the plan
//! is busy; one that finds an expired lease takes the run over by compare-and-swap and resumes
//! its checkpoint. Every claim names the Lambda request id of the invocation holding it
//! (`holder`), so a Scheduler retry of that invocation recognises the claim as its own.
//!
//! A backup's [`Checkpoint`] lives in its claim, and the run's [`Pending`] plan in a document the
//! checkpoint names (the `checkpoint` module, one layer up, writes and reads them).

use chrono::{DateTime, Utc};
use ops_adapters::s3::StateError;
use ops_domain::backup::manifest::{Plan, SnapshotId, SourceRef};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::context::{Context, HandlerError};
use crate::event::Action;

/// The plan's run claim, in the state bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunClaim {
    /// The run (the request id of its first invocation).
    pub run: String,
    /// The request id of the invocation that holds the claim now (a retry of that invocation
    /// carries the same id and recognises the claim as its own).
    #[serde(default)]
    pub holder: String,
    /// Its action.
    pub action: Action,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// Until when it holds the plan without renewing.
    pub lease_until: DateTime<Utc>,
    /// Invocations so far (continuations and takeovers count).
    pub invocations: u32,
    /// A backup's checkpoint.
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
}

/// Key of a plan's run claim.
pub fn claim_key(plan: &str) -> String {
    format!("backup/runs/{plan}.json")
}

/// A claim held by this invocation, with the ETag to renew or release it by.
#[derive(Debug, Clone)]
pub struct Held {
    /// The claim.
    pub claim: RunClaim,
    /// Its ETag.
    pub etag: String,
    /// Whether this invocation took it over from a run whose lease had expired.
    pub taken_over: bool,
}

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

/// Ends the claim's lease now, keeping its checkpoint (best effort: if this fails too, the lease
/// runs out, and a retry of this invocation recognises the claim as its own meanwhile).
pub async fn hand_over(ctx: &Context<'_>, held: &mut Held) {
    held.claim.lease_until = Utc::now();
    match ctx
        .deps
        .store
        .replace(&claim_key(&ctx.plan_name), &held.claim, &held.etag)
        .await
    {
        Ok(etag) => {
            held.etag = etag;
            info!(message = "Run claim handed over with its checkpoint.", plan = %ctx.plan_name);
        }
        Err(error) => tracing::warn!(
            message = "Could not hand the run claim over; its lease runs out.",
            plan = %ctx.plan_name,
            error = %error
        ),
    }
}

/// What claiming the plan found.
#[derive(Debug)]
pub enum Claimed {
    /// This invocation holds the plan.
    Held(Held),
    /// Another run holds it.
    Busy(RunClaim),
}

/// Claims the plan for this invocation: creates the claim, recognises its own, or takes an
/// expired one over; [`Claimed::Busy`] when another run holds it.
pub async fn claim(ctx: &Context<'_>) -> Result<Claimed, HandlerError> {
    let store = &ctx.deps.store;
    let key = claim_key(&ctx.plan_name);
    let now = Utc::now();
    let lease_until = now + ctx.deps.settings.lease;
    let fresh = RunClaim {
        run: ctx.request_id.clone(),
        holder: ctx.request_id.clone(),
        action: ctx.request.action,
        started_at: now,
        lease_until,
        invocations: 1,
        checkpoint: None,
    };
    // The common case first: nobody holds the plan, and one create-once write claims it.
    let mut try_create = ctx.request.continue_run.is_none();
    for _ in 0..5 {
        if try_create {
            match store.create(&key, &fresh).await {
                Ok(etag) => {
                    return Ok(Claimed::Held(Held {
                        claim: fresh,
                        etag,
                        taken_over: false,
                    }))
                }
                Err(StateError::AlreadyExists { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        match store.get::<RunClaim>(&key).await? {
            None => try_create = true,
            Some(existing) => {
                // Ours: this run's continuation, or a retry of the invocation that holds it (the
                // Scheduler retries with the same request id; its earlier attempt may have
                // written this claim and lost the answer).
                let ours = ctx.request.continue_run.as_deref() == Some(existing.value.run.as_str())
                    || existing.value.holder == ctx.request_id
                    || (existing.value.holder.is_empty() && existing.value.run == ctx.request_id);
                let expired = existing.value.lease_until <= now;
                // A dead backup's checkpoint waits for the next backup: another action taking
                // the plan over would drop it (and prune must not run under uncommitted data).
                let checkpoint_waits =
                    existing.value.checkpoint.is_some() && ctx.request.action != Action::Backup;
                if (!ours && !expired) || checkpoint_waits {
                    return Ok(Claimed::Busy(existing.value));
                }
                let mut claim = existing.value.clone();
                // A takeover of another action's expired run starts this action afresh.
                if claim.action != ctx.request.action {
                    claim.action = ctx.request.action;
                    claim.checkpoint = None;
                    claim.started_at = now;
                }
                if !ours {
                    claim.run = ctx.request_id.clone();
                }
                claim.holder = ctx.request_id.clone();
                claim.lease_until = lease_until;
                claim.invocations += 1;
                match store.replace(&key, &claim, &existing.etag).await {
                    Ok(etag) => {
                        return Ok(Claimed::Held(Held {
                            claim,
                            etag,
                            taken_over: !ours,
                        }))
                    }
                    Err(StateError::Conflict { .. }) => try_create = false,
                    Err(error) => return Err(error.into()),
                }
            }
        }
    }
    // Five lost races in a row: someone else is clearly running it.
    match store.get::<RunClaim>(&key).await? {
        Some(other) => Ok(Claimed::Busy(other.value)),
        None => Err(HandlerError::State(StateError::Conflict {
            bucket: store.bucket().to_owned(),
            key,
        })),
    }
}

/// Saves a claim (a renewed lease, a checkpoint) by compare-and-swap.
pub async fn save_claim(ctx: &Context<'_>, held: &mut Held) -> Result<(), HandlerError> {
    held.claim.lease_until = Utc::now() + ctx.deps.settings.lease;
    held.etag = ctx
        .deps
        .store
        .replace(&claim_key(&ctx.plan_name), &held.claim, &held.etag)
        .await?;
    Ok(())
}

/// Deletes the claim if it is still the one `held` (another invocation may have taken an
/// expired lease over meanwhile: its claim stays). `true` when no claim of this run is left,
/// `false` when another invocation holds the plan.
pub async fn release(ctx: &Context<'_>, held: &Held) -> Result<bool, HandlerError> {
    let key = claim_key(&ctx.plan_name);
    let store = &ctx.deps.store;
    match store.get::<RunClaim>(&key).await? {
        None => Ok(true),
        Some(current)
            if current.etag == held.etag
                || (current.value.run == held.claim.run
                    && current.value.holder == held.claim.holder) =>
        {
            store.delete(&key).await?;
            Ok(true)
        }
        Some(other) => {
            info!(
                message = "The run claim was taken over meanwhile; leaving it.",
                plan = %ctx.plan_name,
                holder = %other.value.holder
            );
            Ok(false)
        }
    }
}

/// The snapshot id of a run started at `started_at` by `run`.
pub fn snapshot_id(started_at: DateTime<Utc>, run: &str) -> SnapshotId {
    SnapshotId::new(started_at, run)
}
