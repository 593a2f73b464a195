//! Stopping a deployment: putting traffic and services back on the stable version after the
//! machine decided to abort (a failed check, rollout or alarm gate, or an operator's abort), and
//! ending a job whose deployment was rolled back by someone else (alarm-rollback, an operator).

use ops_adapters::ecs;
use ops_adapters::error::bounded;
use ops_adapters::route53;
use ops_adapters::s3::Versioned;
use ops_domain::deploy::machine;
use ops_domain::deploy::{Abort, AbortKind, Outcome};
use ops_domain::deployment::DeploymentRecord;
use ops_domain::rollback;
use tracing::warn;

use crate::context::{commit, lost_race, Ctx, Report};
use crate::error::{JobError, MAX_ERROR_TEXT};
use crate::records::{finished, flush_audits};

/// Puts traffic and services back on the stable version (every write an absolute target, so a
/// revert resumed after a crash repeats nothing harmful) and records how the deployment ended.
/// The job fails with the abort's reason.
pub(crate) async fn revert(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    abort: Abort,
) -> Result<Report, JobError> {
    let record = &current.value;
    if abort.kind == AbortKind::TrafficEdited {
        // Someone changed the weights by hand: the deployment stops and changes nothing.
        return record_end(ctx, &current, &abort, None).await;
    }
    let plan = rollback::plan(record, &ctx.cfg).map_err(|e| JobError::Failed(e.to_string()))?;
    let clients = &ctx.deps.clients;
    if let Some(change) = &plan.traffic {
        let (zone, records) = route53::zone_and_records(
            &clients.route53,
            change.zone_id.as_deref(),
            change.zone_name.as_deref(),
            &change.record_name,
            change.record_type.as_str(),
        )
        .await?;
        route53::set_weights(
            &clients.route53,
            &zone,
            &records,
            &change.weights,
            &format!("deploy-hook revert {} {}", ctx.service, ctx.deployment_id),
        )
        .await?;
    }
    let live =
        ecs::service_task_definition(&clients.ecs, &plan.ecs.cluster, &plan.ecs.service).await?;
    if !ecs::same_task_definition(&live, &plan.ecs.task_definition) {
        ecs::set_task_definition(
            &clients.ecs,
            &plan.ecs.cluster,
            &plan.ecs.service,
            &plan.ecs.task_definition,
        )
        .await?;
    }
    let weights = plan.traffic.as_ref().map(|change| &change.weights);
    let ended = record_end(ctx, &current, &abort, weights).await;
    // Recorded (the job fails with the abort's own reason): the on_rollback hooks start.
    if matches!(&ended, Err(JobError::Failed(reason)) if *reason == abort.reason) {
        crate::hooks::on_rollback(ctx, record).await;
    }
    ended
}

/// Records how a stopped deployment ended (traffic on `weights`, when it was put back), notifies
/// and fails the job with the abort's reason.
async fn record_end(
    ctx: &Ctx<'_>,
    current: &Versioned<DeploymentRecord>,
    abort: &Abort,
    weights: Option<&std::collections::BTreeMap<String, u8>>,
) -> Result<Report, JobError> {
    let (next, outcome) = machine::reverted(&current.value, abort, weights, &ctx.actor(), ctx.now);
    let Some(etag) = commit(ctx, current, &next).await? else {
        let progress = next.progress.as_ref().ok_or_else(|| {
            JobError::Failed(format!("the record of {} has no progress", ctx.service))
        })?;
        return Ok(lost_race(ctx, progress));
    };
    finished(ctx, &next, outcome, &abort.reason, true).await;
    // The job fails with the reason whether or not the audit record can be written now.
    let _ = flush_audits(ctx, Versioned { value: next, etag }).await;
    Err(JobError::Failed(abort.reason.clone()))
}

/// The service was rolled back while this deployment was in flight (or the job asks for a
/// release that was rolled back). The job fails with the rollback's reason whatever happens to
/// the bookkeeping: recording the outcome (`next`: the release remembered as rolled back, its
/// audit record owed) is best effort here and done by whichever invocation comes next.
pub(crate) async fn conclude_rolled_back(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    next: Option<DeploymentRecord>,
    reason: String,
) -> JobError {
    let current = match next {
        Some(next) => match commit(ctx, &current, &next).await {
            Ok(Some(etag)) => {
                // The rollback notified when it happened; no second page for the event.
                finished(ctx, &next, Outcome::RolledBack, &reason, false).await;
                Some(Versioned { value: next, etag })
            }
            Ok(None) => None,
            Err(error) => {
                let text = bounded(&error.to_string(), MAX_ERROR_TEXT);
                warn!(message = "Could not record the rollback's outcome; the next invocation will.", service = %ctx.service, error = %text);
                None
            }
        },
        None => Some(current),
    };
    if let Some(current) = current.filter(|c| !c.value.audit_owed.is_empty()) {
        let _ = flush_audits(ctx, current).await;
    }
    JobError::Failed(reason)
}

/// [`conclude_rolled_back`] for a record read outside the machine (a job refused because its
/// release was rolled back).
pub(crate) async fn rolled_back_elsewhere(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
) -> Result<Report, JobError> {
    let next =
        ops_domain::deploy::release::conclude_rolled_back(&current.value, &ctx.actor(), ctx.now);
    let reason = ops_domain::deploy::release::rollback_reason(&current.value);
    Err(conclude_rolled_back(ctx, current, next, reason).await)
}
