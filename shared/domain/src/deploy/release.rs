//! Which release a pipeline job asks for, and what may happen to it given the service's record.
//!
//! CodePipeline's Lambda job event carries no pipeline execution id, and a stage retry arrives
//! as a new job without a continuation token. So a release is identified by what it deploys:
//! the service, the image and the `UserParameters` that shape the deployment ([`ReleaseSpec`]).
//! [`admit`] decides, from the record alone:
//!
//! - a job of the release in flight (a stage retry, or the same pipeline run again) **adopts**
//!   the deployment and resumes it where the record says it stands;
//! - a different release waits or fails as `deploy.on_busy` says;
//! - a release that was **rolled back** is refused for good: a rollback is final for its release,
//!   whatever job (retry, duplicate, stage retry, a later run with the same image) asks again.
//!
//! [`begin`] and [`conclude_rolled_back`] are the record changes that carry those rules: the
//! rolled-back release is remembered before a new deployment clears the rollback mark, and every
//! change notes the audit record it owes in the same write.

use chrono::{DateTime, Utc};

use crate::config::Strategy;
use crate::deploy::record::{DeploymentRecord, DeploymentStatus, OwedAudit, RolledBackRelease};
use crate::deploy::{Outcome, Progress};

/// What a job asks to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSpec {
    /// The image.
    pub image: String,
    /// The `UserParameters` that shape the deployment (container, overrides), canonical JSON.
    pub shape: String,
}

/// Whether a job's release may run on the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Nothing in flight (or only a promoted version inside its rollback window, which the new
    /// deployment supersedes): start a new deployment.
    Free,
    /// The job continues the deployment its token names.
    Ours,
    /// A new job for the release already in flight (or just promoted): it takes over the
    /// deployment `deployment_id` and resumes it from the record.
    Adopt {
        /// The deployment to resume.
        deployment_id: String,
    },
    /// Another deployment or a rollback holds the service.
    Busy {
        /// What holds it.
        holder: String,
    },
    /// The release was rolled back; it is not deployed again.
    Refused {
        /// Why, for the pipeline's failure message.
        reason: String,
        /// Whether the refused release is the record's own deployment (its outcome may still
        /// have to be recorded).
        current: bool,
    },
}

/// Decides what the job of deployment `deployment_id` asking for `release` may do on `record`.
pub fn admit(
    record: Option<&DeploymentRecord>,
    deployment_id: &str,
    release: &ReleaseSpec,
) -> Admission {
    let Some(record) = record else {
        return Admission::Free;
    };
    if record.deployment_id.as_deref() == Some(deployment_id) {
        return Admission::Ours;
    }
    if let Some((reason, current)) = refusal(record, &release.image) {
        return Admission::Refused { reason, current };
    }
    let same_release = record
        .progress
        .as_ref()
        .filter(|p| p.image == release.image && p.shape == release.shape);
    match (record.status, same_release) {
        (DeploymentStatus::InProgress, Some(progress)) if progress.outcome.is_none() => {
            return Admission::Adopt {
                deployment_id: progress.deployment_id.clone(),
            };
        }
        (DeploymentStatus::Promoted, Some(progress))
            if progress.outcome == Some(Outcome::Promoted) =>
        {
            return Admission::Adopt {
                deployment_id: progress.deployment_id.clone(),
            };
        }
        _ => {}
    }
    match record.status {
        DeploymentStatus::InProgress => Admission::Busy {
            holder: format!(
                "deployment {}",
                record.deployment_id.as_deref().unwrap_or("(unknown)")
            ),
        },
        DeploymentStatus::RollingBack => Admission::Busy {
            holder: format!(
                "a rollback by alarm {}",
                record
                    .rollback
                    .as_ref()
                    .map_or("(unknown)", |mark| mark.alarm.as_str())
            ),
        },
        _ => Admission::Free,
    }
}

/// The release the record's own rollback (in progress or done) is about, if any.
pub fn current_rollback(record: &DeploymentRecord) -> Option<RolledBackRelease> {
    if !matches!(
        record.status,
        DeploymentStatus::RollingBack | DeploymentStatus::RolledBack
    ) {
        return None;
    }
    let mark = record.rollback.as_ref();
    let from = mark.and_then(|m| m.from.as_ref());
    let image = from
        .and_then(|f| f.image.clone())
        .or_else(|| record.progress.as_ref().map(|p| p.image.clone()))?;
    Some(RolledBackRelease {
        image,
        task_definition: from.map(|f| f.task_definition.clone()).or_else(|| {
            record
                .progress
                .as_ref()
                .and_then(|p| p.task_definition.clone())
        }),
        deployment_id: record.deployment_id.clone(),
        alarm: mark.map(|m| m.alarm.clone()),
        reason: mark.map_or_else(|| "rolled back".to_owned(), |m| m.reason.clone()),
        at: mark.map_or(record.updated_at, |m| m.started_at),
    })
}

/// Why `image` is refused on `record`, and whether it is the record's own deployment.
fn refusal(record: &DeploymentRecord, image: &str) -> Option<(String, bool)> {
    if record
        .retry
        .as_ref()
        .is_some_and(|grant| grant.image == image)
    {
        // An operator's `retry`: this release may be deployed again, explicitly.
        return None;
    }
    if current_rollback(record).is_some_and(|r| r.image == image) {
        return Some((rollback_reason(record), true));
    }
    record
        .rolled_back
        .iter()
        .rev()
        .find(|r| r.image == image)
        .map(|r| {
            (
                format!(
                    "{image} was rolled back{} at {} ({}); a rolled-back release is not deployed \
                     again: build and release a new image",
                    r.alarm
                        .as_deref()
                        .map(|a| format!(" by alarm {a}"))
                        .unwrap_or_default(),
                    r.at.to_rfc3339(),
                    r.reason
                ),
                false,
            )
        })
}

/// The failure message of a job whose deployment was rolled back (or is being rolled back).
pub fn rollback_reason(record: &DeploymentRecord) -> String {
    let service = &record.service;
    match &record.rollback {
        Some(mark) if mark.by.is_some() => format!(
            "{}; {service} is back on {}; a rolled-back release is not deployed again unless an \
             operator retries it (opsctl deploy retry {service})",
            mark.reason, record.stable.task_definition
        ),
        Some(mark) if record.status == DeploymentStatus::RollingBack => format!(
            "alarm {} is rolling {service} back: {}; a rolled-back release is not deployed again",
            mark.alarm, mark.reason
        ),
        Some(mark) => format!(
            "alarm {} rolled {service} back to {}: {}; a rolled-back release is not deployed again",
            mark.alarm, record.stable.task_definition, mark.reason
        ),
        None => format!("{service} was rolled back; a rolled-back release is not deployed again"),
    }
}

/// An audit record owed by `record`'s deployment for `action`, keyed by deployment and action.
pub fn owed_audit(
    record: &DeploymentRecord,
    action: &str,
    outcome: &str,
    actor: &str,
    reason: &str,
    before: Option<&DeploymentRecord>,
    now: DateTime<Utc>,
) -> OwedAudit {
    let deployment = record
        .progress
        .as_ref()
        .map(|p| p.deployment_id.as_str())
        .or(record.deployment_id.as_deref())
        .unwrap_or("none");
    OwedAudit {
        id: format!("{deployment}-{action}"),
        action: action.to_owned(),
        at: now,
        outcome: outcome.to_owned(),
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        before: before.map_or(serde_json::Value::Null, DeploymentRecord::summary),
        function: None,
    }
}

/// The record of a new deployment started on `settled` (the record with any promotion settled):
/// in progress with `progress`, its `deployment_started` audit owed. A rolled-back release of
/// the previous deployment is remembered before the rollback mark is cleared.
pub fn begin(
    settled: &DeploymentRecord,
    progress: Progress,
    strategy: Strategy,
    actor: &str,
    detail: String,
    now: DateTime<Utc>,
) -> DeploymentRecord {
    let mut next = settled.clone();
    if let Some(rolled_back) = current_rollback(settled) {
        next.remember_rolled_back(rolled_back);
    }
    next.status = DeploymentStatus::InProgress;
    next.strategy = strategy;
    next.candidate = None;
    next.rollback = None;
    next.retry = None;
    next.commands.clear();
    next.deployment_id = Some(progress.deployment_id.clone());
    next.updated_at = now;
    next.progress = Some(progress);
    next.push_history(now, "deployment_started", detail.clone());
    let audit = owed_audit(
        &next,
        "deployment_started",
        "succeeded",
        actor,
        &detail,
        Some(settled),
        now,
    );
    next.owe_audit(audit);
    next
}

/// A rolled-back record with its deployment's outcome recorded (once): the release remembered
/// as rolled back and the `deployment_rolled_back` audit owed. `None` when there is nothing to
/// record (not rolled back, or already recorded).
pub fn conclude_rolled_back(
    record: &DeploymentRecord,
    actor: &str,
    now: DateTime<Utc>,
) -> Option<DeploymentRecord> {
    if record.status != DeploymentStatus::RolledBack {
        return None;
    }
    let progress = record.progress.as_ref()?;
    if progress.outcome.is_some() {
        return None;
    }
    let mut next = record.clone();
    if let Some(rolled_back) = current_rollback(record) {
        next.remember_rolled_back(rolled_back);
    }
    if let Some(p) = next.progress.as_mut() {
        p.outcome = Some(Outcome::RolledBack);
        p.finished_at = Some(now);
    }
    next.updated_at = now;
    let reason = rollback_reason(record);
    let audit = owed_audit(
        &next,
        "deployment_rolled_back",
        "failed",
        actor,
        &reason,
        Some(record),
        now,
    );
    next.owe_audit(audit);
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::record::{Release, RollbackMark};
    use crate::deploy::{Phase, Step};
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0)
            .single()
            .expect("valid")
    }

    fn progress(deployment: &str, image: &str) -> Progress {
        Progress {
            deployment_id: deployment.into(),
            job_id: deployment.into(),
            image: image.into(),
            container: "app".into(),
            base_task_definition: "td:1".into(),
            task_definition: Some("td:2".into()),
            target: Some("green".into()),
            steps: vec![Step::Register, Step::Promote],
            step: 1,
            phase: Phase::Ready,
            started_at: at(0),
            step_started_at: at(0),
            warnings: Vec::new(),
            abort: None,
            outcome: None,
            finished_at: None,
            rollback_window_until: None,
            shape: "{}".into(),
            driver: None,
            written_by: None,
            paused: None,
            skip_bake: false,
            fast_forward: false,
            analysis: None,
        }
    }

    fn record(status: DeploymentStatus, deployment: &str, image: &str) -> DeploymentRecord {
        let mut record = DeploymentRecord::new_stable(
            "web",
            Strategy::Canary,
            Release {
                task_definition: "td:1".into(),
                image: None,
                target: Some("blue".into()),
            },
            at(0),
        );
        record.status = status;
        record.deployment_id = Some(deployment.into());
        record.progress = Some(progress(deployment, image));
        record
    }

    fn spec(image: &str) -> ReleaseSpec {
        ReleaseSpec {
            image: image.into(),
            shape: "{}".into(),
        }
    }

    fn rolled_back(image: &str) -> DeploymentRecord {
        let mut rec = record(DeploymentStatus::RolledBack, "j0", image);
        rec.rollback = Some(RollbackMark {
            trigger_id: "t1".into(),
            alarm: "web-5xx".into(),
            reason: "Threshold Crossed".into(),
            started_at: at(3),
            completed_at: Some(at(4)),
            from: Some(Release {
                task_definition: "td:2".into(),
                image: Some(image.into()),
                target: Some("green".into()),
            }),
            by: None,
        });
        rec
    }

    #[test]
    fn admission_table() {
        let v2 = spec("r/web:2");
        assert_eq!(admit(None, "j1", &v2), Admission::Free);
        let flying = record(DeploymentStatus::InProgress, "j0", "r/web:2");
        // The token's own deployment.
        assert_eq!(admit(Some(&flying), "j0", &v2), Admission::Ours);
        // A stage retry (new job, same release) adopts it.
        assert_eq!(
            admit(Some(&flying), "j1", &v2),
            Admission::Adopt {
                deployment_id: "j0".into()
            }
        );
        // Another release, or the same image shaped differently, waits.
        assert!(matches!(
            admit(Some(&flying), "j1", &spec("r/web:3")),
            Admission::Busy { .. }
        ));
        let reshaped = ReleaseSpec {
            shape: r#"{"overrides":{"strategy":"linear"}}"#.into(),
            ..v2.clone()
        };
        assert!(matches!(
            admit(Some(&flying), "j1", &reshaped),
            Admission::Busy { .. }
        ));
        // A promoted release asked again: adopt (the job succeeds without deploying again).
        let mut promoted = record(DeploymentStatus::Promoted, "j0", "r/web:2");
        if let Some(p) = promoted.progress.as_mut() {
            p.outcome = Some(Outcome::Promoted);
        }
        assert!(matches!(
            admit(Some(&promoted), "j1", &v2),
            Admission::Adopt { .. }
        ));
        assert_eq!(
            admit(Some(&promoted), "j1", &spec("r/web:3")),
            Admission::Free
        );
        // A failed deployment may be started again; a rolling back one holds the service.
        let failed = record(DeploymentStatus::Failed, "j0", "r/web:2");
        assert_eq!(admit(Some(&failed), "j1", &v2), Admission::Free);
        let mut rolling = rolled_back("r/web:2");
        rolling.status = DeploymentStatus::RollingBack;
        assert!(matches!(
            admit(Some(&rolling), "j1", &spec("r/web:3")),
            Admission::Busy { .. }
        ));
        assert!(matches!(
            admit(Some(&rolling), "j1", &v2),
            Admission::Refused { current: true, .. }
        ));
    }

    #[test]
    fn a_rollback_is_final_for_its_release() {
        let rec = rolled_back("r/web:2");
        let Admission::Refused { reason, current } = admit(Some(&rec), "j1", &spec("r/web:2"))
        else {
            panic!("refused");
        };
        assert!(current);
        assert!(
            reason.contains("alarm web-5xx rolled web back to td:1: Threshold Crossed"),
            "{reason}"
        );
        // Another image may start; the rolled-back one is remembered when it does.
        assert_eq!(admit(Some(&rec), "j1", &spec("r/web:3")), Admission::Free);
        let next = begin(
            &rec,
            progress("j1", "r/web:3"),
            Strategy::Canary,
            "pipeline-job:j1",
            "r/web:3".into(),
            at(9),
        );
        assert_eq!(next.status, DeploymentStatus::InProgress);
        assert_eq!(next.rollback, None);
        assert_eq!(next.rolled_back.len(), 1);
        assert_eq!(next.audit_owed.len(), 1);
        assert_eq!(next.audit_owed[0].id, "j1-deployment_started");
        // Later, even after the next deployment promoted, the old image stays refused.
        let mut later = next.clone();
        later.status = DeploymentStatus::Stable;
        let Admission::Refused { reason, current } = admit(Some(&later), "j7", &spec("r/web:2"))
        else {
            panic!("refused");
        };
        assert!(!current);
        assert!(
            reason.contains("r/web:2 was rolled back by alarm web-5xx"),
            "{reason}"
        );
        // The token of the rolled-back deployment itself continues into its failure.
        assert_eq!(admit(Some(&rec), "j0", &spec("r/web:2")), Admission::Ours);
    }

    #[test]
    fn the_rolled_back_outcome_is_recorded_once_with_its_audit() {
        let rec = rolled_back("r/web:2");
        let next = conclude_rolled_back(&rec, "pipeline-job:j3", at(5)).expect("recorded");
        assert_eq!(
            next.progress.as_ref().and_then(|p| p.outcome),
            Some(Outcome::RolledBack)
        );
        assert_eq!(next.rolled_back[0].image, "r/web:2");
        assert_eq!(next.audit_owed[0].id, "j0-deployment_rolled_back");
        assert_eq!(conclude_rolled_back(&next, "pipeline-job:j4", at(6)), None);
        let flying = record(DeploymentStatus::InProgress, "j0", "r/web:2");
        assert_eq!(conclude_rolled_back(&flying, "x", at(6)), None);
    }
}
