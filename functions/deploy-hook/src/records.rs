//! Records of what happened: audit records owed by the deployment record and written
//! create-once, DORA metrics, notifications of a deployment in flight (with its Promote and
//! Abort buttons) and of a deployment that ended.

use ops_adapters::audit;
use ops_adapters::s3::Versioned;
use ops_adapters::telemetry::{MetricSet, Unit};
use ops_domain::audit::AuditRecord;
use ops_domain::deploy::{notice, Outcome};
use ops_domain::deployment::DeploymentRecord;
use ops_domain::notify::{Lifecycle, Notification, Severity};
use tracing::warn;

use crate::context::{commit, Ctx};
use crate::deps::FUNCTION;
use crate::error::JobError;

/// Writes the audit records `current` owes (create-once under keys fixed by the record, so a
/// repeat stores nothing twice), then removes them from the record with compare-and-swap.
/// Returns the record as written; an error when an audit record could not be written (it stays
/// owed, and whichever invocation reads the record next writes it).
pub(crate) async fn flush_audits(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
) -> Result<Versioned<DeploymentRecord>, JobError> {
    if current.value.audit_owed.is_empty() {
        return Ok(current);
    }
    for owed in &current.value.audit_owed {
        let record = AuditRecord {
            id: owed.id.clone(),
            at: owed.at,
            function: owed.function.clone().unwrap_or_else(|| FUNCTION.to_owned()),
            action: owed.action.clone(),
            actor: owed.actor.clone(),
            target: format!("service:{}", ctx.service),
            reason: owed.reason.clone(),
            before: owed.before.clone(),
            after: current.value.summary(),
            outcome: owed.outcome.clone(),
            request_id: ctx.request_id.map(str::to_owned),
        };
        audit::write(&ctx.deps.store, &record).await?;
    }
    let mut next = current.value.clone();
    next.audit_owed.clear();
    match commit(ctx, &current, &next).await? {
        Some(etag) => Ok(Versioned { value: next, etag }),
        // Someone else wrote the record meanwhile; the audit records are stored, and whoever
        // reads the record next finds them written (create-once) and clears the list.
        None => Ok(current),
    }
}

/// Tells people about the transition of a deployment in flight that this invocation's write
/// of `after` over `before` made (started, holding at a bake, paused), with the commands it
/// offers; the domain decides whether one is owed. Called once the write has won, so the one
/// invocation that made a transition announces it; like every notification here it is
/// best effort (a failing channel is logged and never fails the deployment).
pub(crate) async fn in_flight(
    ctx: &Ctx<'_>,
    before: Option<&DeploymentRecord>,
    after: &DeploymentRecord,
) {
    let Some(notification) = notice::in_flight(before, after)
        .and_then(|event| notice::notification(FUNCTION, after, &event))
    else {
        return;
    };
    let delivery = ctx.deps.notifier.send(&ctx.config, &notification).await;
    if !delivery.failed.is_empty() {
        warn!(message = "Some notification channels failed.", failed = ?delivery.failed);
    }
}

/// DORA metrics and (with `notify`) a notification for a deployment that ended (its audit record
/// is owed in the record and written by [`flush_audits`]).
pub(crate) async fn finished(
    ctx: &Ctx<'_>,
    record: &DeploymentRecord,
    outcome: Outcome,
    reason: &str,
    notify: bool,
) {
    let Some(progress) = &record.progress else {
        return;
    };
    let duration = (ctx.now - progress.started_at).num_milliseconds().max(0) as f64;
    let mut metrics = MetricSet::new(FUNCTION)
        .dimension("Service", &ctx.service)
        .dimension("Result", outcome.as_str())
        .metric("Deployments", 1.0, Unit::Count)
        .metric("DeploymentDuration", duration, Unit::Milliseconds)
        .metric(
            "ChangeFailure",
            if outcome == Outcome::Promoted {
                0.0
            } else {
                1.0
            },
            Unit::Count,
        );
    if let Some(mark) = record
        .rollback
        .as_ref()
        .filter(|_| outcome == Outcome::RolledBack)
    {
        if let Some(done) = mark.completed_at {
            metrics = metrics.metric(
                "TimeToRestore",
                (done - mark.started_at).num_milliseconds().max(0) as f64,
                Unit::Milliseconds,
            );
        }
    }
    metrics.emit();
    if !notify {
        return;
    }
    let (severity, title) = match outcome {
        Outcome::Promoted => (
            Severity::Info,
            format!("{} deployed: {}", ctx.service, progress.image),
        ),
        Outcome::Failed => (
            Severity::Warning,
            format!("{} deployment failed", ctx.service),
        ),
        Outcome::RolledBack => (
            Severity::Critical,
            format!("{} deployment rolled back", ctx.service),
        ),
    };
    let notification = Notification {
        source: FUNCTION.to_owned(),
        severity,
        lifecycle: Lifecycle::Trigger,
        title,
        summary: reason.to_owned(),
        fields: vec![
            ("Service".to_owned(), ctx.service.clone()),
            ("Strategy".to_owned(), format!("{:?}", record.strategy)),
            ("Image".to_owned(), progress.image.clone()),
            ("Deployment".to_owned(), progress.deployment_id.clone()),
            (
                "Now serving".to_owned(),
                match outcome {
                    Outcome::Promoted => progress.task_definition.clone().unwrap_or_default(),
                    _ => record.stable.task_definition.clone(),
                },
            ),
        ],
        dedup_key: format!("{FUNCTION}/{}/{}", ctx.service, progress.deployment_id),
        link: None,
        // It ended: nothing left to press.
        actions: Vec::new(),
    };
    let delivery = ctx.deps.notifier.send(&ctx.config, &notification).await;
    if !delivery.failed.is_empty() {
        warn!(message = "Some notification channels failed.", failed = ?delivery.failed);
    }
}
