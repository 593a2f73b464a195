//! The handler: parse the input, find the plan, claim the plan's run (one run per plan at a
//! time), do the action, release the claim, report.
//!
//! **One run per plan.** `backup/runs/<plan>.json` in the state bucket is created with
//! `If-None-Match: *` and holds a lease. A second run of the same plan that finds a live lease
//! exits cleanly (`skipped`); one that finds an expired lease takes the run over by
//! compare-and-swap and resumes its checkpoint, so a run that died after copying data but
//! before its manifest is completed by the next one. The function's own continuation carries
//! the run id and renews the lease.
//!
//! **The claim names its holder.** Every claim carries the Lambda request id of the invocation
//! holding it (`holder`). EventBridge Scheduler retries a failed asynchronous invocation with the
//! same event and the same request id, so a retry whose earlier attempt wrote the claim (and lost
//! the answer, or failed later) recognises the claim as its own and carries on; any other
//! invocation sees `skipped` while the lease holds.
//!
//! **Failures.** Every failure is classified once ([`HandlerError::is_transient`](crate::context::HandlerError::is_transient), from
//! `ops_adapters::error::AwsCallError`). A transient failure fails the invocation (the Scheduler
//! retries it) after the backup checkpointed what it had copied and handed the claim over (its
//! lease ended now), so the retry — or, once it gives up, the next scheduled run — resumes the
//! checkpoint and copies nothing twice. A permanent failure releases the claim and drops the
//! checkpoint: nothing becomes visible, and prune removes the data the run had copied once its
//! grace period has passed. Errors quote AWS codes and messages, never a response body or a whole
//! input.

use std::time::{Duration as StdDuration, Instant};

use chrono::Utc;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::info;

use crate::claim::{self, Claimed};
use crate::context::{Context, Deps, HandlerError, Response};
use crate::event::{self, Action};
use crate::report::{self, Outcome};
use ops_domain::backup::manifest::Layout;

/// Calls the recorder keeps before an invocation clears it (about 10 MB).
const RECORDER_LIMIT: usize = 100_000;

/// Handles one invocation.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Response, HandlerError> {
    let started = Instant::now();
    let deadline = deadline_of(&event.context);
    // The recorder keeps the container's calls (what the least-privilege tests read); a warm
    // backup container makes one per copied object, so it starts afresh once it is large.
    if deps.clients.recorder.len() > RECORDER_LIMIT {
        deps.clients.recorder.clear();
    }
    let calls_at_start = deps.clients.recorder.len();
    let request = event::parse(&event.payload).map_err(HandlerError::invalid)?;
    let config = deps.config.current().await?;
    let plan = config
        .backup
        .plans
        .get(&request.plan)
        .cloned()
        .ok_or_else(|| HandlerError::UnknownPlan {
            plan: request.plan.clone(),
            known: config
                .backup
                .plans
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let ctx = Context {
        deps,
        layout: Layout::new(&plan.destination.prefix),
        s3: deps.s3_in(plan.destination.region.as_deref()),
        plan_name: request.plan.clone(),
        plan,
        config,
        request_id: event.context.request_id.clone(),
        deadline,
        request,
        calls_at_start,
    };
    let held = match claim::claim(&ctx).await? {
        Claimed::Held(held) => held,
        Claimed::Busy(other) => {
            info!(
                message = "Another run holds the plan; exiting.",
                plan = %ctx.plan_name,
                holder = %other.run,
                until = %other.lease_until
            );
            return Ok(Response::Skipped {
                holder: other.run,
                holder_action: other.action,
                lease_until: other.lease_until,
            });
        }
    };
    let mut held = held;
    let outcome = match ctx.request.action {
        Action::Backup => crate::snapshot::run(&ctx, &mut held).await,
        Action::Verify => crate::verify::run(&ctx).await.map(Outcome::Report),
        Action::Prune => crate::prune::run(&ctx).await.map(Outcome::Report),
        Action::Restore => crate::restore::run(&ctx).await.map(Outcome::Report),
    };
    match outcome {
        Ok(Outcome::Report(report)) => {
            claim::release(&ctx, &held).await?;
            let report = report::finish(&ctx, report, started).await;
            Ok(Response::Done { report })
        }
        Ok(Outcome::Continue(response)) => Ok(response),
        Err(error) => {
            match &error {
                // A crash saves nothing and hands nothing over: the lease runs out.
                HandlerError::Interrupted => {}
                // Transient, with a checkpoint: hand the claim over (its lease ends now), so the
                // Scheduler's retry or the next run resumes what was copied.
                error if error.is_transient() && held.claim.checkpoint.is_some() => {
                    claim::hand_over(&ctx, &mut held).await;
                }
                // Nothing worth resuming, or a permanent failure: release the plan, and drop the
                // run's checkpoint documents unless another invocation holds the run now.
                _ => match claim::release(&ctx, &held).await {
                    Ok(true) if ctx.request.action == Action::Backup => {
                        crate::checkpoint::drop_run(&ctx, &held).await;
                    }
                    Ok(_) => {}
                    Err(release_error) => tracing::warn!(
                        message = "Could not release the run claim; its lease runs out.",
                        plan = %ctx.plan_name,
                        error = %release_error
                    ),
                },
            }
            report::failed(&ctx, &error, started).await;
            Err(error)
        }
    }
}

fn deadline_of(context: &lambda_runtime::Context) -> Instant {
    let now_ms = Utc::now().timestamp_millis();
    let deadline_ms = i64::try_from(context.deadline).unwrap_or(i64::MAX);
    let left = deadline_ms.saturating_sub(now_ms);
    // No deadline (tests, a local runtime without one): an hour.
    if context.deadline == 0 || left <= 0 || left > 3_600_000 {
        return Instant::now() + StdDuration::from_secs(3600);
    }
    Instant::now() + StdDuration::from_millis(left as u64)
}
