//! Alarm transitions, the rollback decision and the rollback's owed side effects.
//!
//! [`decide`] looks at a service's deployment record and config and says whether to roll back,
//! resume a rollback (its own claim after a lost answer or a failed attempt, or anyone's claim
//! whose lease has passed), or do nothing (and why). [`RollbackPlan`] is the list of changes an
//! outer layer carries out; [`begin`] and [`complete`] are the record transitions it writes with
//! compare-and-swap before and after those changes.
//!
//! Every claim carries its claimant ([`claimant`]: the transition's key and the invocation's
//! id). EventBridge and SNS retry a failed asynchronous invocation with the same event and the
//! same Lambda request id, so a retry finds its own claim and completes the rollback at once
//! (every change is an absolute target, so repeating it is safe), while a concurrent copy of the
//! same transition (another invocation id) leaves the claim to its holder until the lease ends.
//! A ROLLED_BACK record is final: no decision ever claims it again.
//!
//! [`Outbox`] is the list of side effects a handled transition owes — the audit record and one
//! notification per channel — written create-once before any of them is attempted, and updated
//! as each is done. Whoever holds it ([`Outbox::may_settle`]) delivers what is still owed; a
//! delivered channel is never sent again.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::AuditRecord;
use crate::config::{RecordType, ServiceConfig};
use crate::deployment::{DeploymentRecord, DeploymentStatus, Release, RollbackMark, FULL_WEIGHT};
use crate::notify::Notification;

/// State of a CloudWatch alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// Within threshold.
    Ok,
    /// Breaching.
    Alarm,
    /// Not enough data to decide.
    InsufficientData,
}

impl AlarmState {
    /// Parses CloudWatch's spelling (`ALARM`, `OK`, `INSUFFICIENT_DATA`).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "OK" => Some(AlarmState::Ok),
            "ALARM" => Some(AlarmState::Alarm),
            "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
            _ => None,
        }
    }

    /// CloudWatch's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// How the alarm reached the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// EventBridge "CloudWatch Alarm State Change".
    EventBridge,
    /// SNS notification from an alarm action.
    Sns,
    /// The function set directly as the alarm's action.
    AlarmAction,
    /// deploy-hook's post-promotion analysis: a failing metric check, naming its service.
    Analysis,
}

/// One alarm state change, whatever shape it arrived in.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AlarmTransition {
    /// Alarm name.
    pub alarm_name: String,
    /// Alarm ARN, when the event carries it.
    pub alarm_arn: Option<String>,
    /// State entered.
    pub new_state: AlarmState,
    /// State left, when known.
    pub old_state: Option<AlarmState>,
    /// CloudWatch's reason text.
    pub reason: String,
    /// When the state changed (the same instant in every delivery shape).
    pub changed_at: DateTime<Utc>,
    /// How it was delivered.
    pub delivery: Delivery,
    /// The one service a post-promotion analysis failure names: it is rolled back whatever
    /// the alarm routes say (they map alarm names, and this is no CloudWatch alarm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl AlarmTransition {
    /// Idempotency key of the transition: the same change delivered twice, or through
    /// EventBridge *and* SNS, gets the same key.
    pub fn key(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.alarm_name.as_bytes());
        hash.update(b"\n");
        hash.update(self.new_state.as_str().as_bytes());
        hash.update(b"\n");
        hash.update(self.changed_at.timestamp_millis().to_be_bytes());
        hex::encode(&hash.finalize()[..16])
    }
}

/// What caused a rollback, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// Idempotency key of the alarm transition.
    pub id: String,
    /// Alarm name.
    pub alarm: String,
    /// The alarm's reason text.
    pub reason: String,
}

/// Most characters of the alarm's reason kept in records, audit records and messages
/// (CloudWatch's own limit is 1023).
pub const MAX_REASON: usize = 1024;

impl AlarmTransition {
    /// A post-promotion analysis failure as a transition into ALARM of the alarm
    /// `analysis:<check>`, at the failing measurement's time (so every delivery of the same
    /// failure has the same key), naming its service.
    pub fn from_analysis(failure: &crate::deploy::watch::AnalysisFailure) -> AlarmTransition {
        AlarmTransition {
            alarm_name: failure.alarm_name(),
            alarm_arn: None,
            new_state: AlarmState::Alarm,
            old_state: Some(AlarmState::Ok),
            reason: failure.reason.clone(),
            changed_at: failure.at,
            delivery: Delivery::Analysis,
            service: Some(failure.service.clone()),
        }
    }
}

impl From<&AlarmTransition> for Trigger {
    fn from(transition: &AlarmTransition) -> Self {
        let reason = match transition.reason.char_indices().nth(MAX_REASON) {
            Some((end, _)) => format!("{}…", &transition.reason[..end]),
            None => transition.reason.clone(),
        };
        Trigger {
            id: transition.key(),
            alarm: transition.alarm_name.clone(),
            reason,
        }
    }
}

/// The identity a claim carries: the transition's key and the claiming invocation's id (the
/// Lambda request id, which an asynchronous retry keeps).
pub fn claimant(trigger: &Trigger, invocation_id: &str) -> String {
    format!("{}/{invocation_id}", trigger.id)
}

/// Route53 weights to write for one record name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeightChange {
    /// Hosted zone id, when configured.
    pub zone_id: Option<String>,
    /// Hosted zone name, when configured instead of the id.
    pub zone_name: Option<String>,
    /// The weighted record's name.
    pub record_name: String,
    /// The weighted record's type.
    pub record_type: RecordType,
    /// Weight per set identifier.
    pub weights: BTreeMap<String, u8>,
}

/// The ECS service to put back on a task definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcsRevert {
    /// Cluster name.
    pub cluster: String,
    /// Service name.
    pub service: String,
    /// Task definition the service must run.
    pub task_definition: String,
}

/// Everything a rollback changes, computed before anything is changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackPlan {
    /// Service name.
    pub service: String,
    /// The version rolled back to.
    pub to: Release,
    /// The version rolled back from, when one was in flight.
    pub from: Option<Release>,
    /// Traffic back to the stable target, for traffic-shifting strategies.
    pub traffic: Option<WeightChange>,
    /// The ECS service back on the stable task definition.
    pub ecs: EcsRevert,
}

/// Why nothing is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Skip {
    /// Nothing in flight and traffic already on the stable version.
    AlreadyStable,
    /// This very transition was already handled.
    Duplicate,
    /// Another alarm already rolled the service back.
    AlreadyRolledBack {
        /// The alarm that did.
        alarm: String,
    },
    /// Another invocation holds the rollback and its lease has not expired.
    InProgressElsewhere {
        /// The alarm it is handling.
        alarm: String,
        /// When it started.
        since: DateTime<Utc>,
    },
}

/// The decision for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Claim the record and carry out the plan.
    Start(RollbackPlan),
    /// The record was claimed by a rollback that did not finish within its lease: carry the
    /// plan out again (every step is idempotent) and complete it.
    Resume(RollbackPlan),
    /// Do nothing.
    Skip(Skip),
}

/// A record that cannot be rolled back with this config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The record's stable release names no traffic target, but the strategy shifts traffic.
    #[error("service {service}: the deployment record names no stable traffic target")]
    NoStableTarget {
        /// Service name.
        service: String,
    },
    /// The record's stable target is not one of the configured targets.
    #[error(
        "service {service}: stable target \"{target}\" is not in the config's traffic.targets"
    )]
    UnknownTarget {
        /// Service name.
        service: String,
        /// The target named by the record.
        target: String,
    },
    /// The config gives neither the ECS service nor traffic targets.
    #[error("service {service}: the config names no ECS service to roll back")]
    NoEcsService {
        /// Service name.
        service: String,
    },
}

/// Computes the rollback plan: all traffic to the stable target, and the ECS service that serves
/// it on the stable task definition.
pub fn plan(record: &DeploymentRecord, config: &ServiceConfig) -> Result<RollbackPlan, PlanError> {
    let service = record.service.clone();
    let from = record
        .candidate
        .clone()
        .or_else(|| record.rollback.as_ref().and_then(|mark| mark.from.clone()));
    match &config.traffic {
        Some(traffic) => {
            let target = record
                .stable
                .target
                .clone()
                .ok_or_else(|| PlanError::NoStableTarget {
                    service: service.clone(),
                })?;
            let Some(stable_target) = traffic.targets.get(&target) else {
                return Err(PlanError::UnknownTarget { service, target });
            };
            let weights = traffic
                .targets
                .keys()
                .map(|name| (name.clone(), if *name == target { FULL_WEIGHT } else { 0 }))
                .collect();
            Ok(RollbackPlan {
                ecs: EcsRevert {
                    cluster: config.cluster.clone(),
                    service: stable_target.ecs_service.clone(),
                    task_definition: record.stable.task_definition.clone(),
                },
                traffic: Some(WeightChange {
                    zone_id: traffic.zone_id.clone(),
                    zone_name: traffic.zone_name.clone(),
                    record_name: traffic.record_name.clone(),
                    record_type: traffic.record_type,
                    weights,
                }),
                service,
                to: record.stable.clone(),
                from,
            })
        }
        None => {
            let ecs_service =
                config
                    .ecs_service
                    .clone()
                    .ok_or_else(|| PlanError::NoEcsService {
                        service: service.clone(),
                    })?;
            Ok(RollbackPlan {
                ecs: EcsRevert {
                    cluster: config.cluster.clone(),
                    service: ecs_service,
                    task_definition: record.stable.task_definition.clone(),
                },
                traffic: None,
                service,
                to: record.stable.clone(),
                from,
            })
        }
    }
}

/// Decides what to do for one service when `trigger` fires at `now`, for the invocation whose
/// claim identity is `claimant` (see [`claimant`]). `lease` is how long a claimed rollback may
/// run before another invocation may take it over (longer than the function's timeout, so a
/// live invocation is never overtaken). A claim that is this invocation's own — the same
/// transition and the same invocation id: its answer was lost, or a change after it failed — is
/// resumed at once, whatever its age.
pub fn decide(
    record: &DeploymentRecord,
    config: &ServiceConfig,
    trigger: &Trigger,
    claimant: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Decision, PlanError> {
    match (record.status, &record.rollback) {
        (DeploymentStatus::RollingBack, Some(mark)) => {
            let own = mark.trigger_id == trigger.id
                && record.rollback_claimant.as_deref() == Some(claimant);
            if !own && now - mark.started_at < lease {
                return Ok(Decision::Skip(if mark.trigger_id == trigger.id {
                    Skip::Duplicate
                } else {
                    Skip::InProgressElsewhere {
                        alarm: mark.alarm.clone(),
                        since: mark.started_at,
                    }
                }));
            }
            return plan(record, config).map(Decision::Resume);
        }
        (DeploymentStatus::RolledBack, Some(mark)) => {
            return Ok(Decision::Skip(if mark.trigger_id == trigger.id {
                Skip::Duplicate
            } else {
                Skip::AlreadyRolledBack {
                    alarm: mark.alarm.clone(),
                }
            }));
        }
        _ => {}
    }
    let plan = plan(record, config)?;
    let in_flight = matches!(
        record.status,
        DeploymentStatus::InProgress | DeploymentStatus::Promoted | DeploymentStatus::RollingBack
    );
    let traffic_on_stable = plan.traffic.as_ref().is_none_or(|change| {
        change
            .weights
            .iter()
            .all(|(target, weight)| record.weights.get(target).copied().unwrap_or(0) == *weight)
    });
    if !in_flight && record.candidate.is_none() && traffic_on_stable {
        return Ok(Decision::Skip(Skip::AlreadyStable));
    }
    Ok(Decision::Start(plan))
}

/// The record as claimed by a rollback: written with compare-and-swap before any change.
pub fn begin(
    record: &DeploymentRecord,
    trigger: &Trigger,
    claimant: &str,
    plan: &RollbackPlan,
    now: DateTime<Utc>,
) -> DeploymentRecord {
    let mut next = record.clone();
    next.status = DeploymentStatus::RollingBack;
    next.rollback_claimant = Some(claimant.to_owned());
    next.rollback = Some(RollbackMark {
        trigger_id: trigger.id.clone(),
        alarm: trigger.alarm.clone(),
        reason: trigger.reason.clone(),
        started_at: now,
        completed_at: None,
        from: plan.from.clone(),
        by: None,
    });
    next.updated_at = now;
    next.push_history(
        now,
        "rollback_started",
        format!("alarm {} fired: {}", trigger.alarm, trigger.reason),
    );
    next
}

/// The record once traffic and services are back on the stable version.
pub fn complete(
    claimed: &DeploymentRecord,
    plan: &RollbackPlan,
    now: DateTime<Utc>,
) -> DeploymentRecord {
    let mut next = claimed.clone();
    next.status = DeploymentStatus::RolledBack;
    next.candidate = None;
    if let Some(change) = &plan.traffic {
        next.weights = change.weights.clone();
    }
    if let Some(mark) = next.rollback.as_mut() {
        mark.completed_at = Some(now);
    }
    next.updated_at = now;
    let alarm = next
        .rollback
        .as_ref()
        .map(|mark| mark.alarm.clone())
        .unwrap_or_default();
    next.push_history(
        now,
        "rollback_completed",
        format!("back on {} after alarm {alarm}", plan.to.task_definition),
    );
    next
}

/// Key of the outbox of one handled transition in the state bucket: `scope` is the service
/// rolled back, or [`NOTIFY_SCOPE`] for a notification without rollback.
pub fn outbox_key(function: &str, trigger_id: &str, scope: &str) -> String {
    format!("outbox/{function}/{trigger_id}/{scope}.json")
}

/// The outbox scope of a transition that only notifies (a notify-only route, a resolve).
pub const NOTIFY_SCOPE: &str = "_notify";

/// The side effects one handled transition owes, written create-once before any is attempted
/// and updated (compare-and-swap) as each is done.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Outbox {
    /// The transition's key.
    pub trigger_id: String,
    /// The service rolled back, or [`NOTIFY_SCOPE`].
    pub scope: String,
    /// Who wrote it ([`claimant`]); that invocation settles it at once, others after the lease.
    pub claimant: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// The audit record owed (its `after` is filled from the record when written).
    #[serde(default)]
    pub audit: Option<AuditRecord>,
    /// Whether the audit record is stored.
    #[serde(default)]
    pub audit_written: bool,
    /// The notification owed, sent as is to every owed channel (so a repeat is identical and
    /// deduplicable by its keys).
    pub notification: Notification,
    /// The channels it is owed to.
    pub channels: Vec<String>,
    /// When each channel accepted it.
    #[serde(default)]
    pub delivered: BTreeMap<String, DateTime<Utc>>,
}

impl Outbox {
    /// Channels still owed the notification.
    pub fn owed_channels(&self) -> Vec<String> {
        self.channels
            .iter()
            .filter(|channel| !self.delivered.contains_key(*channel))
            .cloned()
            .collect()
    }

    /// Whether nothing is owed any more.
    pub fn settled(&self) -> bool {
        (self.audit.is_none() || self.audit_written) && self.owed_channels().is_empty()
    }

    /// Whether the invocation `claimant` may deliver what is owed at `now`: the writer at once,
    /// anyone else once `lease` has passed (the writer is then gone; delivering twice is what the
    /// lease prevents, and the channels' keys deduplicate a repeat).
    pub fn may_settle(&self, claimant: &str, now: DateTime<Utc>, lease: Duration) -> bool {
        self.claimant == claimant || now - self.created_at >= lease
    }

    /// Merges what another writer recorded as done into this copy (both only ever add).
    pub fn merge(&mut self, other: &Outbox) {
        self.audit_written |= other.audit_written;
        for (channel, at) in &other.delivered {
            self.delivered.entry(channel.clone()).or_insert(*at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, SuiteConfig};
    use chrono::TimeZone;

    const CONFIG: &str = r#"
version: 1
services:
  web:
    cluster: prod
    strategy: canary
    traffic:
      zone_id: Z1
      record_name: web.example.com.
      targets:
        blue: { ecs_service: web-blue, value: blue.example.com }
        green: { ecs_service: web-green, value: green.example.com }
  worker:
    cluster: prod
    strategy: rolling
    ecs_service: worker
"#;

    fn config() -> SuiteConfig {
        parse(CONFIG).expect("valid config")
    }

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
            .single()
            .expect("valid")
            + Duration::minutes(minute)
    }

    fn trigger(id: &str) -> Trigger {
        Trigger {
            id: id.into(),
            alarm: format!("alarm-{id}"),
            reason: "5xx over 5%".into(),
        }
    }

    fn release(td: &str, target: Option<&str>) -> Release {
        Release {
            task_definition: td.into(),
            image: None,
            target: target.map(Into::into),
        }
    }

    /// A canary of `web` in flight: blue stable at 90, green candidate at 10.
    fn web_canary() -> DeploymentRecord {
        let mut record = DeploymentRecord::new_stable(
            "web",
            crate::config::Strategy::Canary,
            release("web:1", Some("blue")),
            at(0),
        );
        record.status = DeploymentStatus::InProgress;
        record.candidate = Some(release("web:2", Some("green")));
        record.weights = [("blue".to_owned(), 90), ("green".to_owned(), 10)].into();
        record
    }

    fn worker_rolling() -> DeploymentRecord {
        let mut record = DeploymentRecord::new_stable(
            "worker",
            crate::config::Strategy::Rolling,
            release("worker:7", None),
            at(0),
        );
        record.status = DeploymentStatus::InProgress;
        record.candidate = Some(release("worker:8", None));
        record
    }

    /// Runs `decide` for `record` at minute `now` with a 5-minute lease, as invocation `inv-1`,
    /// rendered as one line.
    fn check(record: &DeploymentRecord, trigger_id: &str, now: i64, expect: &str) {
        check_as(record, trigger_id, "inv-1", now, expect);
    }

    /// [`check`] as invocation `invocation`.
    fn check_as(
        record: &DeploymentRecord,
        trigger_id: &str,
        invocation: &str,
        now: i64,
        expect: &str,
    ) {
        let config = config();
        let trigger = trigger(trigger_id);
        let got = match decide(
            record,
            &config.services[&record.service],
            &trigger,
            &claimant(&trigger, invocation),
            at(now),
            Duration::minutes(5),
        ) {
            Ok(Decision::Start(plan)) => format!("start {}", render(&plan)),
            Ok(Decision::Resume(plan)) => format!("resume {}", render(&plan)),
            Ok(Decision::Skip(skip)) => {
                format!("skip {}", serde_json::to_string(&skip).expect("json"))
            }
            Err(error) => format!("error {error}"),
        };
        assert_eq!(got, expect);
    }

    /// The record claimed by invocation `invocation` of trigger `trigger_id` at minute `minute`.
    fn claim(
        record: &DeploymentRecord,
        trigger_id: &str,
        invocation: &str,
        plan: &RollbackPlan,
        minute: i64,
    ) -> DeploymentRecord {
        let trigger = trigger(trigger_id);
        begin(
            record,
            &trigger,
            &claimant(&trigger, invocation),
            plan,
            at(minute),
        )
    }

    fn render(plan: &RollbackPlan) -> String {
        let weights = plan
            .traffic
            .as_ref()
            .map(|change| format!(" weights {:?}", change.weights))
            .unwrap_or_default();
        format!(
            "{}/{} -> {}{weights}",
            plan.ecs.cluster, plan.ecs.service, plan.ecs.task_definition
        )
    }

    #[test]
    fn canary_in_flight_rolls_all_traffic_back_to_the_stable_color() {
        check(
            &web_canary(),
            "t1",
            1,
            r#"start prod/web-blue -> web:1 weights {"blue": 100, "green": 0}"#,
        );
    }

    #[test]
    fn rolling_in_flight_reverts_the_service_task_definition() {
        check(&worker_rolling(), "t1", 1, "start prod/worker -> worker:7");
    }

    #[test]
    fn promoted_inside_rollback_window_rolls_back() {
        let mut record = web_canary();
        record.status = DeploymentStatus::Promoted;
        record.weights = [("blue".to_owned(), 0), ("green".to_owned(), 100)].into();
        check(
            &record,
            "t1",
            1,
            r#"start prod/web-blue -> web:1 weights {"blue": 100, "green": 0}"#,
        );
    }

    #[test]
    fn stable_service_with_traffic_on_stable_is_a_no_op() {
        let record = DeploymentRecord::new_stable(
            "web",
            crate::config::Strategy::Canary,
            release("web:1", Some("blue")),
            at(0),
        );
        check(&record, "t1", 1, r#"skip {"reason":"already_stable"}"#);
    }

    #[test]
    fn stable_status_but_traffic_drifted_is_rolled_back() {
        let mut record = DeploymentRecord::new_stable(
            "web",
            crate::config::Strategy::Canary,
            release("web:1", Some("blue")),
            at(0),
        );
        record.weights = [("blue".to_owned(), 50), ("green".to_owned(), 50)].into();
        check(
            &record,
            "t1",
            1,
            r#"start prod/web-blue -> web:1 weights {"blue": 100, "green": 0}"#,
        );
    }

    #[test]
    fn same_trigger_after_completion_is_a_duplicate() {
        let record = web_canary();
        let plan = plan(&record, &config().services["web"]).expect("plan");
        let done = complete(&claim(&record, "t1", "inv-1", &plan, 1), &plan, at(2));
        check(&done, "t1", 3, r#"skip {"reason":"duplicate"}"#);
        check(
            &done,
            "t2",
            3,
            r#"skip {"reason":"already_rolled_back","alarm":"alarm-t1"}"#,
        );
    }

    #[test]
    fn claimed_rollback_inside_its_lease_is_left_alone_by_other_invocations() {
        let record = web_canary();
        let plan = plan(&record, &config().services["web"]).expect("plan");
        let claimed = claim(&record, "t1", "inv-1", &plan, 1);
        check_as(&claimed, "t1", "inv-2", 2, r#"skip {"reason":"duplicate"}"#);
        check(
            &claimed,
            "t2",
            2,
            r#"skip {"reason":"in_progress_elsewhere","alarm":"alarm-t1","since":"2026-01-01T12:01:00Z"}"#,
        );
    }

    #[test]
    fn claimed_rollback_past_its_lease_is_resumed() {
        let record = web_canary();
        let plan = plan(&record, &config().services["web"]).expect("plan");
        let claimed = claim(&record, "t1", "inv-1", &plan, 1);
        check(
            &claimed,
            "t1",
            7,
            r#"resume prod/web-blue -> web:1 weights {"blue": 100, "green": 0}"#,
        );
    }

    #[test]
    fn record_without_stable_target_is_an_error() {
        let mut record = web_canary();
        record.stable.target = None;
        check(
            &record,
            "t1",
            1,
            "error service web: the deployment record names no stable traffic target",
        );
        record.stable.target = Some("purple".into());
        check(
            &record,
            "t1",
            1,
            "error service web: stable target \"purple\" is not in the config's traffic.targets",
        );
    }

    #[test]
    fn complete_marks_rolled_back_and_clears_the_candidate() {
        let record = web_canary();
        let plan = plan(&record, &config().services["web"]).expect("plan");
        let done = complete(&claim(&record, "t1", "inv-1", &plan, 1), &plan, at(2));
        assert_eq!(done.status, DeploymentStatus::RolledBack);
        assert_eq!(done.candidate, None);
        assert_eq!(
            done.weights,
            [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
        );
        let mark = done.rollback.expect("mark");
        assert_eq!(mark.completed_at, Some(at(2)));
        assert_eq!(mark.from, Some(release("web:2", Some("green"))));
        let events: Vec<&str> = done
            .history
            .iter()
            .map(|entry| entry.event.as_str())
            .collect();
        assert_eq!(events, ["rollback_started", "rollback_completed"]);
    }

    #[test]
    fn own_claim_is_resumed_at_once_and_a_concurrent_copy_leaves_it_alone() {
        let record = web_canary();
        let plan = plan(&record, &config().services["web"]).expect("plan");
        // inv-1 claimed at minute 1 and lost the answer (or failed after the claim).
        let claimed = claim(&record, "t1", "inv-1", &plan, 1);
        let resume = r#"resume prod/web-blue -> web:1 weights {"blue": 100, "green": 0}"#;
        // Its retry (same event, same request id) completes the rollback at once…
        check_as(&claimed, "t1", "inv-1", 1, resume);
        check_as(&claimed, "t1", "inv-1", 2, resume);
        // …a concurrent copy of the same transition (another invocation) leaves it to inv-1…
        check_as(&claimed, "t1", "inv-2", 2, r#"skip {"reason":"duplicate"}"#);
        // …another transition whose invocation id happens to be the same is not the claimant…
        check_as(
            &claimed,
            "t2",
            "inv-1",
            2,
            r#"skip {"reason":"in_progress_elsewhere","alarm":"alarm-t1","since":"2026-01-01T12:01:00Z"}"#,
        );
        // …and after the lease anyone takes it over.
        check_as(&claimed, "t1", "inv-2", 7, resume);
        check_as(&claimed, "t2", "inv-9", 7, resume);
    }

    #[test]
    fn claim_carries_the_claimant_and_completion_keeps_it() {
        let record = web_canary();
        let plan = plan(&record, &config().services["web"]).expect("plan");
        let claimed = claim(&record, "t1", "inv-1", &plan, 1);
        assert_eq!(claimed.rollback_claimant.as_deref(), Some("t1/inv-1"));
        let done = complete(&claimed, &plan, at(2));
        assert_eq!(done.rollback_claimant.as_deref(), Some("t1/inv-1"));
        // Two claimants writing at the same instant write different bytes.
        let other = claim(&record, "t1", "inv-2", &plan, 1);
        assert_ne!(
            serde_json::to_vec(&claimed).expect("json"),
            serde_json::to_vec(&other).expect("json")
        );
    }

    #[test]
    fn rolled_back_record_is_final_for_every_trigger_claimant_and_time() {
        let record = web_canary();
        let plan = plan(&record, &config().services["web"]).expect("plan");
        let done = complete(&claim(&record, "t1", "inv-1", &plan, 1), &plan, at(2));
        for (trigger_id, invocation) in [("t1", "inv-1"), ("t1", "inv-2"), ("t2", "inv-1")] {
            for minute in [2, 3, 60, 6000] {
                let config = config();
                let trigger = trigger(trigger_id);
                let decision = decide(
                    &done,
                    &config.services["web"],
                    &trigger,
                    &claimant(&trigger, invocation),
                    at(minute),
                    Duration::minutes(5),
                )
                .expect("decides");
                assert!(
                    matches!(decision, Decision::Skip(_)),
                    "{trigger_id} {invocation} {minute}: {decision:?}"
                );
            }
        }
    }

    fn outbox(claimant: &str, created: i64) -> Outbox {
        Outbox {
            trigger_id: "t1".into(),
            scope: "web".into(),
            claimant: claimant.into(),
            created_at: at(created),
            audit: None,
            audit_written: false,
            notification: Notification {
                source: "alarm-rollback".into(),
                severity: crate::notify::Severity::Critical,
                lifecycle: crate::notify::Lifecycle::Trigger,
                title: "t".into(),
                summary: "s".into(),
                fields: Vec::new(),
                dedup_key: "k".into(),
                link: None,
                actions: Vec::new(),
            },
            channels: vec!["slack".into(), "pager".into()],
            delivered: BTreeMap::new(),
        }
    }

    #[test]
    fn outbox_is_settled_by_its_writer_at_once_and_by_others_after_the_lease() {
        let mut owed = outbox("t1/inv-1", 1);
        let lease = Duration::minutes(5);
        assert!(owed.may_settle("t1/inv-1", at(1), lease));
        assert!(!owed.may_settle("t1/inv-2", at(2), lease));
        assert!(owed.may_settle("t1/inv-2", at(6), lease));
        assert_eq!(owed.owed_channels(), ["slack", "pager"]);
        assert!(!owed.settled());
        let mut other = owed.clone();
        other.delivered.insert("pager".into(), at(2));
        owed.delivered.insert("slack".into(), at(3));
        owed.merge(&other);
        assert!(owed.owed_channels().is_empty());
        assert!(owed.settled());
        // An owed audit record keeps it open until written.
        owed.audit = Some(AuditRecord {
            id: "t1-web".into(),
            at: at(1),
            function: "alarm-rollback".into(),
            action: "rollback".into(),
            actor: "alarm:a".into(),
            target: "service:web".into(),
            reason: "r".into(),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
            outcome: "succeeded".into(),
            request_id: None,
        });
        assert!(!owed.settled());
        owed.audit_written = true;
        assert!(owed.settled());
    }

    #[test]
    fn long_reasons_are_capped() {
        let transition = AlarmTransition {
            alarm_name: "a".into(),
            alarm_arn: None,
            new_state: AlarmState::Alarm,
            old_state: None,
            reason: "x".repeat(1_000_000),
            changed_at: at(0),
            delivery: Delivery::EventBridge,
            service: None,
        };
        let trigger = Trigger::from(&transition);
        assert_eq!(trigger.reason.chars().count(), MAX_REASON + 1);
    }

    #[test]
    fn transition_key_is_the_same_for_every_delivery_and_differs_per_change() {
        let base = AlarmTransition {
            alarm_name: "web-5xx".into(),
            alarm_arn: None,
            new_state: AlarmState::Alarm,
            old_state: Some(AlarmState::Ok),
            reason: "r".into(),
            changed_at: at(0),
            delivery: Delivery::EventBridge,
            service: None,
        };
        let via_sns = AlarmTransition {
            delivery: Delivery::Sns,
            service: None,
            reason: "other text".into(),
            ..base.clone()
        };
        let later = AlarmTransition {
            changed_at: at(1),
            ..base.clone()
        };
        assert_eq!(base.key(), via_sns.key());
        assert_ne!(base.key(), later.key());
        assert_eq!(base.key().len(), 32);
    }
}
