//! Run reports: what each action did, stored in the state bucket
//! (`backup/reports/<plan>/<action>/<time>-<run>.json`), logged, measured (EMF) and audited;
//! a failed run or a failed verification notifies.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Utc;
use ops_adapters::telemetry::{MetricSet, Unit};
use ops_domain::audit::AuditRecord;
use ops_domain::backup::manifest::{Manifest, SnapshotId, Totals};
use ops_domain::backup::retention::KeepReason;
use ops_domain::notify::{Lifecycle, Notification, Severity};
use serde::Serialize;
use serde_json::{json, Value};
use tracing::{error, info};

use crate::context::{Context, HandlerError, Response, FUNCTION};

/// What a backup run made.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// The snapshot.
    pub snapshot: SnapshotId,
    /// Its parent.
    pub parent: Option<SnapshotId>,
    /// Objects and bytes copied and referenced.
    pub totals: Totals,
    /// Targets captured.
    pub targets: usize,
}

impl BackupReport {
    /// The report of a committed manifest.
    pub fn of(manifest: &Manifest) -> Self {
        BackupReport {
            snapshot: manifest.id.clone(),
            parent: manifest.parent.clone(),
            totals: manifest.totals,
            targets: manifest.targets.len(),
        }
    }
}

/// What a verification found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Whether everything checked out.
    pub ok: bool,
    /// Snapshots checked.
    pub snapshots_checked: usize,
    /// Distinct data objects checked cheaply.
    pub objects_checked: usize,
    /// Data objects read back and re-hashed.
    pub deep_checked: usize,
    /// Zones restored into a scratch zone and compared.
    pub zones_drilled: usize,
    /// What is wrong, one line each.
    pub failures: Vec<String>,
}

impl VerifyReport {
    /// One paragraph for a notification.
    pub fn summary(&self) -> String {
        let shown: Vec<&str> = self.failures.iter().take(10).map(String::as_str).collect();
        format!(
            "{} problem(s) in {} snapshot(s) / {} object(s): {}{}",
            self.failures.len(),
            self.snapshots_checked,
            self.objects_checked,
            shown.join("; "),
            if self.failures.len() > shown.len() {
                " …"
            } else {
                ""
            }
        )
    }
}

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
    /// Of the data deleted, objects no snapshot ever referenced (left by failed runs).
    pub orphaned_data: usize,
    /// Objects S3 refused to delete (Object Lock), with the reason.
    pub retained: Vec<String>,
}

/// What a restore would change (dry run) or changed (apply).
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The snapshot restored.
    pub snapshot: String,
    /// Whether changes were made.
    pub apply: bool,
    /// Whether nothing differs.
    pub in_sync: bool,
    /// S3 prefixes.
    pub s3: Vec<S3Restore>,
    /// Hosted zones (Route53's own restore reports).
    pub route53: Vec<Value>,
    /// ECS services.
    pub ecs: Vec<Value>,
    /// Secrets (plans without values).
    pub secrets: Vec<Value>,
}

/// One S3 prefix's restore.
#[derive(Debug, Clone, Default, Serialize)]
pub struct S3Restore {
    /// Bucket restored into.
    pub bucket: String,
    /// Prefix restored into.
    pub prefix: String,
    /// Objects to create (count).
    pub create: usize,
    /// Objects to overwrite with the snapshot's content (count).
    pub update: usize,
    /// Live objects the snapshot does not have (count; deleted unless `keep_extra`).
    pub delete: usize,
    /// Objects already equal.
    pub unchanged: usize,
    /// The first keys of each kind.
    pub keys: BTreeMap<&'static str, Vec<String>>,
}

/// What an action returns.
#[derive(Debug)]
pub enum Outcome {
    /// Finished, with its report.
    Report(Report),
    /// Checkpointed; continues.
    Continue(Response),
}

/// An action's report.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Report {
    /// A backup.
    Backup(BackupReport),
    /// A verification.
    Verify(VerifyReport),
    /// A prune.
    Prune(PruneReport),
    /// A restore (or its dry run).
    Restore(RestoreReport),
}

impl Report {
    fn action(&self) -> &'static str {
        match self {
            Report::Backup(_) => "backup",
            Report::Verify(_) => "verify",
            Report::Prune(_) => "prune",
            Report::Restore(_) => "restore",
        }
    }

    /// Whether the action found something wrong (a failed verification).
    fn problem(&self) -> Option<String> {
        match self {
            Report::Verify(verify) if !verify.ok => Some(verify.summary()),
            _ => None,
        }
    }
}

/// Stores, logs, measures and audits a finished action; notifies a failed verification.
/// Returns the report as JSON with its duration and key.
pub async fn finish(ctx: &Context<'_>, report: Report, started: Instant) -> Value {
    let duration_ms = started.elapsed().as_millis() as u64;
    let action = report.action();
    let now = Utc::now();
    let key = format!(
        "{}{}-{}.json",
        ops_domain::keys::backup_reports(&ctx.plan_name, action),
        now.format("%Y%m%dT%H%M%SZ"),
        ctx.request_id
    );
    let mut value = serde_json::to_value(&report).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.insert("plan".into(), json!(ctx.plan_name));
        map.insert("duration_ms".into(), json!(duration_ms));
        map.insert("report_key".into(), json!(key));
        map.insert("aws_calls".into(), json!(ctx.calls()));
    }
    if let Err(error) = ctx.deps.store.create(&key, &value).await {
        error!(message = "Could not store the run report.", error = %error);
    }
    metrics(ctx, &report, duration_ms);
    let (target, outcome) = match &report {
        Report::Backup(b) => (format!("snapshot:{}", b.snapshot), "succeeded"),
        Report::Verify(v) => (
            format!("plan:{}", ctx.plan_name),
            if v.ok { "succeeded" } else { "failed" },
        ),
        Report::Prune(_) => (format!("plan:{}", ctx.plan_name), "succeeded"),
        Report::Restore(r) => (format!("snapshot:{}", r.snapshot), "succeeded"),
    };
    // Dry runs change nothing and verifications only read: only changes are audited.
    let audited = match &report {
        Report::Backup(_) | Report::Prune(_) => true,
        Report::Restore(r) => r.apply,
        Report::Verify(_) => false,
    };
    if audited {
        let record = AuditRecord {
            id: format!("{}-{action}-{}", ctx.plan_name, ctx.request_id),
            at: now,
            function: FUNCTION.into(),
            action: action.into(),
            actor: format!("plan:{}", ctx.plan_name),
            target,
            reason: format!("{action} of backup plan {}", ctx.plan_name),
            before: Value::Null,
            after: value.clone(),
            outcome: outcome.into(),
            request_id: Some(ctx.request_id.clone()),
        };
        if let Err(error) = ops_adapters::audit::write(&ctx.deps.store, &record).await {
            error!(message = "Could not write the audit record.", error = %error);
        }
    }
    if let Some(problem) = report.problem() {
        notify(ctx, action, &problem, Severity::Critical).await;
    }
    info!(message = "Backup action finished.", plan = %ctx.plan_name, action, report = %value);
    value
}

/// Logs, measures and notifies a failed run.
pub async fn failed(ctx: &Context<'_>, failure: &HandlerError, started: Instant) {
    let action = ctx.request.action.as_str();
    error!(
        message = "Backup action failed.",
        plan = %ctx.plan_name,
        action,
        error_type = failure.error_type(),
        error = %failure
    );
    MetricSet::new(FUNCTION)
        .dimension("Plan", &ctx.plan_name)
        .dimension("Action", action)
        .metric("Failures", 1.0, Unit::Count)
        .metric(
            "Duration",
            started.elapsed().as_millis() as f64,
            Unit::Milliseconds,
        )
        .emit();
    if !matches!(failure, HandlerError::Interrupted) {
        notify(ctx, action, &failure.to_string(), Severity::Critical).await;
    }
}

fn metrics(ctx: &Context<'_>, report: &Report, duration_ms: u64) {
    let mut set = MetricSet::new(FUNCTION)
        .dimension("Plan", &ctx.plan_name)
        .dimension("Action", report.action())
        .metric("Duration", duration_ms as f64, Unit::Milliseconds)
        .metric("AwsCalls", ctx.calls() as f64, Unit::Count);
    match report {
        Report::Backup(b) => {
            set = set
                .metric("ObjectsCopied", b.totals.copied_objects as f64, Unit::Count)
                .metric("BytesCopied", b.totals.copied_bytes as f64, Unit::Bytes)
                .metric(
                    "ObjectsReferenced",
                    b.totals.referenced_objects as f64,
                    Unit::Count,
                )
                .metric("SnapshotBytes", b.totals.bytes as f64, Unit::Bytes);
        }
        Report::Verify(v) => {
            set = set
                .metric("ObjectsVerified", v.objects_checked as f64, Unit::Count)
                .metric("VerificationFailures", v.failures.len() as f64, Unit::Count);
        }
        Report::Prune(p) => {
            set = set
                .metric(
                    "SnapshotsDeleted",
                    p.deleted_snapshots.len() as f64,
                    Unit::Count,
                )
                .metric("DataDeleted", p.deleted_data as f64, Unit::Count);
        }
        Report::Restore(_) => {}
    }
    set.emit();
}

async fn notify(ctx: &Context<'_>, action: &str, problem: &str, severity: Severity) {
    let notification = Notification {
        source: FUNCTION.into(),
        severity,
        lifecycle: Lifecycle::Trigger,
        title: format!("Backup {action} failed for plan {}", ctx.plan_name),
        summary: problem.chars().take(1500).collect(),
        fields: vec![
            ("plan".into(), ctx.plan_name.clone()),
            ("action".into(), action.into()),
            (
                "destination".into(),
                format!(
                    "s3://{}/{}",
                    ctx.plan.destination.bucket, ctx.plan.destination.prefix
                ),
            ),
        ],
        dedup_key: format!("backup/{}/{action}", ctx.plan_name),
        link: None,
        actions: Vec::new(),
    };
    let delivery = ctx.deps.notifier.send(&ctx.config, &notification).await;
    info!(message = "Failure notified.", delivery = ?delivery);
}
