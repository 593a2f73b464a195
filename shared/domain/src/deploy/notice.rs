//! Notifications of a deployment in flight: when one is owed and what it offers.
//!
//! deploy-hook tells people when a deployment starts, when it holds at a bake step and when an
//! operator pauses it. Those messages carry the commands that make sense while it is in flight
//! (promote, abort) as [`NotificationAction`]s, bound to the deployment's id, which Slack
//! renders as buttons. Which transition deserves a message ([`in_flight`]), which commands a
//! record offers ([`actions`]) and the message itself ([`notification`]) are decided here from
//! the records before and after a write; deploy-hook sends it once the write has won, so a
//! transition is announced by the one invocation that made it.

use crate::deploy::record::{CommandKind, DeploymentRecord, DeploymentStatus};
use crate::deploy::{Progress, Step};
use crate::notify::{ActionKind, Lifecycle, Notification, NotificationAction, Severity};

/// A transition of a deployment in flight worth telling people about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InFlight {
    /// The deployment started.
    Started,
    /// The deployment entered a bake step: traffic sits on the new version while alarms are
    /// watched.
    Holding,
    /// An operator paused it.
    Paused,
}

/// The commands `record` offers: promote and abort while a deployment is in flight and no
/// abort is under way or waiting; nothing otherwise.
pub fn actions(record: &DeploymentRecord) -> Vec<NotificationAction> {
    let Some(progress) = in_flight_progress(record) else {
        return Vec::new();
    };
    if record.commands.iter().any(|c| c.kind == CommandKind::Abort) {
        return Vec::new();
    }
    [ActionKind::Promote, ActionKind::Abort]
        .into_iter()
        .map(|kind| NotificationAction {
            kind,
            service: record.service.clone(),
            deployment_id: progress.deployment_id.clone(),
        })
        .collect()
}

fn in_flight_progress(record: &DeploymentRecord) -> Option<&Progress> {
    let progress = record.progress.as_ref()?;
    (record.status == DeploymentStatus::InProgress
        && progress.abort.is_none()
        && progress.outcome.is_none())
    .then_some(progress)
}

/// Whether the write that turned `before` (absent: no record yet) into `after` is worth a
/// notification, and which. A deployment that is not in flight after the write owes none here
/// (deploy-hook tells how it ended separately).
pub fn in_flight(before: Option<&DeploymentRecord>, after: &DeploymentRecord) -> Option<InFlight> {
    let now = in_flight_progress(after)?;
    let was = before
        .filter(|b| b.status == DeploymentStatus::InProgress)
        .and_then(|b| b.progress.as_ref())
        .filter(|p| p.deployment_id == now.deployment_id);
    let Some(was) = was else {
        return Some(InFlight::Started);
    };
    if was.paused.is_none() && now.paused.is_some() {
        return Some(InFlight::Paused);
    }
    // A bake of no time holds nothing: nobody could press a button before it ends.
    let entered_bake = now.step != was.step
        && matches!(now.current(), Some(Step::Bake { seconds }) if *seconds > 0)
        && now.paused.is_none();
    entered_bake.then_some(InFlight::Holding)
}

/// The notification of `event` for `record` (as written), sent by `source`; `None` when the
/// record has no deployment in flight.
pub fn notification(
    source: &str,
    record: &DeploymentRecord,
    event: &InFlight,
) -> Option<Notification> {
    let progress = in_flight_progress(record)?;
    let service = &record.service;
    let total = progress.steps.len();
    let number = (progress.step + 1).min(total);
    let step = progress
        .current()
        .map_or_else(|| "promote".to_owned(), Step::describe);
    let share = progress
        .target
        .as_ref()
        .and_then(|t| record.weights.get(t))
        .copied();
    let (title, summary) = match event {
        InFlight::Started => (
            format!("{service} deployment started: {}", progress.image),
            format!(
                "Deployment {} of {} with {:?} in {total} steps: {}.",
                progress.deployment_id,
                progress.image,
                record.strategy,
                progress
                    .steps
                    .iter()
                    .map(Step::describe)
                    .collect::<Vec<_>>()
                    .join(" → ")
            ),
        ),
        InFlight::Holding => (
            match share {
                Some(share) => format!("{service} baking with {share}% on the new version"),
                None => format!("{service} baking the new version"),
            },
            format!(
                "Step {number}/{total} ({step}): alarms are checked until the bake ends, and \
                 one in ALARM rolls back. Promote ends the bake now; Abort rolls back."
            ),
        ),
        InFlight::Paused => {
            let paused = progress.paused.as_ref();
            let by = paused.map_or("an operator", |p| p.by.as_str());
            let reason = paused
                .map(|p| p.reason.as_str())
                .filter(|r| !r.is_empty())
                .map_or_else(String::new, |r| format!(" ({r})"));
            (
                format!("{service} deployment paused by {by}"),
                format!(
                    "Held at step {number}/{total} ({step}){reason}: no step starts and bake time \
                     stops counting until resumed; alarms still roll back. Promote lifts the \
                     pause and ends the bake; Abort rolls back."
                ),
            )
        }
    };
    let mut fields = vec![
        ("Service".to_owned(), service.clone()),
        ("Strategy".to_owned(), format!("{:?}", record.strategy)),
        ("Image".to_owned(), progress.image.clone()),
        ("Deployment".to_owned(), progress.deployment_id.clone()),
        ("Step".to_owned(), format!("{number}/{total} {step}")),
    ];
    if let Some(share) = share {
        fields.push(("New version share".to_owned(), format!("{share}%")));
    }
    Some(Notification {
        source: source.to_owned(),
        severity: Severity::Info,
        lifecycle: Lifecycle::Trigger,
        title,
        summary,
        fields,
        dedup_key: format!("{source}/{service}/{}", progress.deployment_id),
        link: None,
        actions: actions(record),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::record::{OperatorCommand, Release};
    use crate::deploy::{Paused, Phase};
    use chrono::{TimeZone, Utc};

    fn at(minute: u32) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 21, 10, minute, 0)
            .single()
            .expect("valid time")
    }

    /// A canary of `checkout` at step `step` of register, shift 10%, bake 300s, promote.
    fn record(step: usize) -> DeploymentRecord {
        let mut record = DeploymentRecord::new_stable(
            "checkout",
            crate::config::Strategy::Canary,
            Release {
                task_definition: "checkout:1".into(),
                image: Some("registry.example/checkout:1.0".into()),
                target: Some("blue".into()),
            },
            at(0),
        );
        record.status = DeploymentStatus::InProgress;
        record.weights = [("blue".to_owned(), 90), ("green".to_owned(), 10)].into();
        record.progress = Some(Progress {
            deployment_id: "job-1".into(),
            job_id: "job-1".into(),
            image: "registry.example/checkout:1.1".into(),
            container: "app".into(),
            base_task_definition: "checkout:1".into(),
            task_definition: Some("checkout:2".into()),
            target: Some("green".into()),
            steps: vec![
                Step::Register,
                Step::Shift {
                    percent: 10,
                    weights: [("blue".to_owned(), 90), ("green".to_owned(), 10)].into(),
                },
                Step::Bake { seconds: 300 },
                Step::Promote,
            ],
            step,
            phase: Phase::Ready,
            started_at: at(0),
            step_started_at: at(step as u32),
            warnings: Vec::new(),
            abort: None,
            outcome: None,
            finished_at: None,
            rollback_window_until: None,
            shape: String::new(),
            driver: None,
            written_by: None,
            paused: None,
            skip_bake: false,
            fast_forward: false,
            analysis: None,
        });
        record
    }

    fn paused(mut record: DeploymentRecord) -> DeploymentRecord {
        if let Some(p) = record.progress.as_mut() {
            p.paused = Some(Paused {
                by: "alice".into(),
                at: at(5),
                reason: "checking dashboards".into(),
            });
        }
        record
    }

    fn check(
        before: Option<&DeploymentRecord>,
        after: &DeploymentRecord,
        expect: Option<InFlight>,
    ) {
        assert_eq!(in_flight(before, after), expect, "{before:?} -> {after:?}");
    }

    #[test]
    fn started_holding_and_paused_are_announced_and_nothing_else() {
        let stable = {
            let mut r = record(0);
            r.status = DeploymentStatus::Stable;
            r.progress = None;
            r
        };
        check(None, &record(0), Some(InFlight::Started));
        check(Some(&stable), &record(0), Some(InFlight::Started));
        check(Some(&record(1)), &record(2), Some(InFlight::Holding));
        check(Some(&record(2)), &paused(record(2)), Some(InFlight::Paused));
        // Moving on to a step that is no bake, staying at a step, or paused already: nothing.
        check(Some(&record(0)), &record(1), None);
        check(Some(&record(2)), &record(2), None);
        check(Some(&paused(record(1))), &paused(record(2)), None);
        let mut instant = record(2);
        if let Some(p) = instant.progress.as_mut() {
            p.steps[2] = Step::Bake { seconds: 0 };
        }
        check(Some(&record(1)), &instant, None);
        // Another deployment's record before: this one started.
        let mut other = record(2);
        if let Some(p) = other.progress.as_mut() {
            p.deployment_id = "job-0".into();
        }
        check(Some(&other), &record(2), Some(InFlight::Started));
        // A deployment that is over or being aborted owes no in-flight notice.
        let mut promoted = record(3);
        promoted.status = DeploymentStatus::Promoted;
        check(Some(&record(2)), &promoted, None);
    }

    #[test]
    fn promote_and_abort_are_offered_only_while_in_flight_and_not_aborting() {
        let kinds = |r: &DeploymentRecord| -> Vec<ActionKind> {
            actions(r).into_iter().map(|a| a.kind).collect()
        };
        let live = record(2);
        assert_eq!(kinds(&live), [ActionKind::Promote, ActionKind::Abort]);
        assert!(actions(&live)
            .iter()
            .all(|a| a.service == "checkout" && a.deployment_id == "job-1"));
        assert_eq!(
            kinds(&paused(record(2))),
            [ActionKind::Promote, ActionKind::Abort]
        );
        let mut aborting = record(2);
        aborting.commands.push(OperatorCommand {
            id: "c1".into(),
            kind: CommandKind::Abort,
            by: "bob".into(),
            reason: String::new(),
            at: at(6),
            deployment_id: Some("job-1".into()),
        });
        assert!(kinds(&aborting).is_empty());
        let mut rolled_back = record(2);
        rolled_back.status = DeploymentStatus::RolledBack;
        assert!(kinds(&rolled_back).is_empty());
    }

    #[test]
    fn the_holding_notice_names_the_step_the_share_and_carries_the_buttons() {
        let message =
            notification("deploy-hook", &record(2), &InFlight::Holding).expect("in flight");
        assert_eq!(message.title, "checkout baking with 10% on the new version");
        assert!(
            message.summary.starts_with("Step 3/4 (bake 300s)"),
            "{}",
            message.summary
        );
        assert_eq!(message.severity, Severity::Info);
        assert_eq!(message.dedup_key, "deploy-hook/checkout/job-1");
        assert_eq!(message.actions.len(), 2);
        let paused =
            notification("deploy-hook", &paused(record(2)), &InFlight::Paused).expect("in flight");
        assert_eq!(paused.title, "checkout deployment paused by alice");
        assert!(
            paused.summary.contains("(checking dashboards)"),
            "{}",
            paused.summary
        );
        let started =
            notification("deploy-hook", &record(0), &InFlight::Started).expect("in flight");
        assert!(
            started
                .summary
                .contains("register task definition → shift 10% → bake 300s → promote"),
            "{}",
            started.summary
        );
        let mut over = record(3);
        over.status = DeploymentStatus::Promoted;
        assert!(notification("deploy-hook", &over, &InFlight::Holding).is_none());
    }
}
