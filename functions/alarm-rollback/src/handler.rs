//! The handler: read the alarm transition, decide per service, claim the deployment record with
//! compare-and-swap, change Route53 and ECS, complete the record, audit, notify, emit metrics.
//!
//! Exactly once comes from the record, not from a lock: every copy of an event computes the same
//! decision, only one copy's compare-and-swap claims the record, and the others then read a
//! record that says the rollback is in progress or done and change nothing. Every read and check
//! (record, hosted zone, record sets, ECS service) happens before the first write, so bad input
//! changes nothing.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use lambda_runtime::{Diagnostic, LambdaEvent};
use ops_adapters::ecs::{self, EcsError};
use ops_adapters::notify::Notifier;
use ops_adapters::route53::{self, Route53Error};
use ops_adapters::s3::{ConfigLoadError, ConfigSource, StateError, StateStore, Versioned};
use ops_adapters::telemetry::{MetricSet, Unit};
use ops_adapters::{audit, AwsClients};
use ops_domain::audit::AuditRecord;
use ops_domain::config::SuiteConfig;
use ops_domain::deployment::DeploymentRecord;
use ops_domain::keys;
use ops_domain::notify::{Lifecycle, Notification, Severity};
use ops_domain::rollback::{
    self, AlarmState, AlarmTransition, Decision, PlanError, RollbackPlan, Skip, Trigger,
};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::event::{self, EventError};

/// The function's name, in audit records, metrics and state keys.
pub const FUNCTION: &str = "alarm-rollback";

/// How many times a lost compare-and-swap is re-read and re-decided before giving up.
const MAX_CLAIM_ATTEMPTS: usize = 5;

/// Tunables, from the environment in `main`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a claimed rollback is left to the invocation that claimed it before another may
    /// take over; longer than the function timeout.
    pub lease: chrono::Duration,
    /// Time kept free before the Lambda deadline to report an error cleanly.
    pub deadline_headroom: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease: chrono::Duration::seconds(90),
            deadline_headroom: Duration::from_secs(3),
        }
    }
}

/// Everything the handler needs, built once per container.
#[derive(Debug)]
pub struct Deps {
    /// AWS clients.
    pub clients: AwsClients,
    /// The state bucket.
    pub store: StateStore,
    /// The suite configuration.
    pub config: ConfigSource,
    /// Notification channels.
    pub notifier: Notifier,
    /// Tunables.
    pub settings: Settings,
}

/// Errors that fail an invocation. Each maps to a stable Lambda `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event is not an alarm state change.
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    /// The configuration could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigLoadError),
    /// A guarded service has no deployment record: nothing says what its stable version is.
    #[error("service {service} has no deployment record at s3://{bucket}/{key}; deploy it once with deploy-hook (or write the record) before it can be rolled back")]
    MissingRecord {
        /// Service.
        service: String,
        /// State bucket.
        bucket: String,
        /// Record key.
        key: String,
    },
    /// The record and the config do not fit together.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Route53 lookup or change failed.
    #[error(transparent)]
    Route53(#[from] Route53Error),
    /// ECS lookup or change failed.
    #[error(transparent)]
    Ecs(#[from] EcsError),
    /// The state bucket failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The record kept changing while this invocation tried to claim it.
    #[error("service {service}: the deployment record kept changing; gave up after {MAX_CLAIM_ATTEMPTS} attempts")]
    Contention {
        /// Service.
        service: String,
    },
    /// The invocation ran out of time (the record's lease lets a retry finish the work); the
    /// duration is the time budget that was used up.
    #[error(
        "stopped after {0:?}, before the invocation deadline; a retry resumes where this stopped"
    )]
    Deadline(Duration),
}

impl HandlerError {
    fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::Config(_) => "ConfigurationError",
            HandlerError::MissingRecord { .. } => "MissingDeploymentRecord",
            HandlerError::Plan(_) => "InconsistentRecord",
            HandlerError::Route53(
                Route53Error::ZoneNotFound(_) | Route53Error::RecordSetNotFound { .. },
            ) => "MissingTrafficRecord",
            HandlerError::Route53(_) => "Route53Error",
            HandlerError::Ecs(EcsError::ServiceNotFound { .. }) => "MissingEcsService",
            HandlerError::Ecs(_) => "EcsError",
            HandlerError::State(StateError::Corrupt { .. }) => "CorruptState",
            HandlerError::State(_) => "StateStoreError",
            HandlerError::Contention { .. } => "Contention",
            HandlerError::Deadline(_) => "DeadlineExceeded",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// What the invocation did, returned to the caller and logged.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    /// One entry per alarm transition in the event.
    pub results: Vec<TransitionResult>,
}

/// What was done for one alarm transition.
#[derive(Debug, Clone, Serialize)]
pub struct TransitionResult {
    /// Alarm name.
    pub alarm: String,
    /// State entered.
    pub state: AlarmState,
    /// Idempotency key of the transition.
    pub trigger_id: String,
    /// Overall outcome.
    pub outcome: Outcome,
    /// Per service, for rollbacks.
    pub services: Vec<ServiceResult>,
}

/// Overall outcome of one transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// At least one service was rolled back by this invocation.
    RolledBack,
    /// Every service was skipped (already stable, duplicate, done by another alarm).
    NoOp,
    /// No config entry maps the alarm to a service; nothing changed.
    Unmapped,
    /// Routes say notify only; a notification went out.
    Notified,
    /// Not a transition into ALARM; logged (and any incident it opened resolved).
    NotAlarm,
}

/// What was done for one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceResult {
    /// Service.
    pub service: String,
    /// `rolled_back`, `resumed` or `skipped`.
    pub action: &'static str,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<Skip>,
    /// Task definition rolled back to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Task definition rolled back from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Route53 change id, when weights were written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route53_change: Option<String>,
    /// Whether the ECS service was updated.
    pub ecs_updated: bool,
}

impl ServiceResult {
    fn skipped(service: &str, skip: Skip) -> Self {
        ServiceResult {
            service: service.to_owned(),
            action: "skipped",
            skip: Some(skip),
            to: None,
            from: None,
            route53_change: None,
            ecs_updated: false,
        }
    }
}

/// Handles one invocation.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Response, HandlerError> {
    let (payload, context) = event.into_parts();
    let budget = time_budget(context.deadline, deps.settings.deadline_headroom);
    let request_id = (!context.request_id.is_empty()).then_some(context.request_id);
    let work = async {
        let transitions = event::parse(&payload)?;
        let config = deps.config.current().await?;
        let mut results = Vec::with_capacity(transitions.len());
        for transition in &transitions {
            results
                .push(handle_transition(deps, &config, transition, request_id.as_deref()).await?);
        }
        Ok(Response { results })
    };
    match budget {
        Some(budget) => tokio::time::timeout(budget, work)
            .await
            .map_err(|_| HandlerError::Deadline(budget))?,
        None => work.await,
    }
}

/// Time left before the deadline minus the headroom (at most a fifth of the time left, so a
/// short timeout such as Lambda's default 3 s still leaves most of it for work); `None` when
/// there is no usable deadline: none given (tests call the handler with a default context), or
/// one already past when the invocation starts, which Lambda never sends but local emulators
/// with their own notion of time do.
fn time_budget(deadline_ms: u64, headroom: Duration) -> Option<Duration> {
    let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    if deadline_ms <= now_ms {
        if deadline_ms != 0 {
            warn!(
                message =
                    "Invocation deadline already passed at start; running without a time budget.",
                deadline_ms, now_ms
            );
        }
        return None;
    }
    let left = Duration::from_millis(deadline_ms - now_ms);
    Some(left.saturating_sub(headroom.min(left / 5)))
}

async fn handle_transition(
    deps: &Deps,
    config: &SuiteConfig,
    transition: &AlarmTransition,
    request_id: Option<&str>,
) -> Result<TransitionResult, HandlerError> {
    let trigger = Trigger::from(transition);
    let routes: Vec<_> = config.routes_for_alarm(&transition.alarm_name).collect();
    let mut result = TransitionResult {
        alarm: transition.alarm_name.clone(),
        state: transition.new_state,
        trigger_id: trigger.id.clone(),
        outcome: Outcome::NoOp,
        services: Vec::new(),
    };
    if routes.is_empty() {
        warn!(message = "Alarm is not mapped to any service; nothing changed.", alarm = %transition.alarm_name, state = transition.new_state.as_str());
        result.outcome = Outcome::Unmapped;
        return Ok(result);
    }
    let severity = routes
        .iter()
        .map(|route| route.severity)
        .max()
        .unwrap_or(Severity::Critical);
    let services: BTreeSet<&str> = routes
        .iter()
        .flat_map(|route| route.services.iter().map(String::as_str))
        .collect();
    let rollback_services: BTreeSet<&str> = routes
        .iter()
        .filter(|route| route.rollback)
        .flat_map(|route| route.services.iter().map(String::as_str))
        .collect();

    if transition.new_state != AlarmState::Alarm {
        info!(message = "Alarm left ALARM; no rollback.", alarm = %transition.alarm_name, state = transition.new_state.as_str());
        result.outcome = Outcome::NotAlarm;
        if transition.old_state == Some(AlarmState::Alarm) && first_delivery(deps, &trigger).await?
        {
            let notification = alarm_notification(
                transition,
                severity,
                Lifecycle::Resolve,
                &services,
                "The alarm is no longer in ALARM.".into(),
            );
            deps.notifier.send(config, &notification).await;
        }
        return Ok(result);
    }

    if rollback_services.is_empty() {
        result.outcome = Outcome::Notified;
        if first_delivery(deps, &trigger).await? {
            let notification = alarm_notification(
                transition,
                severity,
                Lifecycle::Trigger,
                &services,
                transition.reason.clone(),
            );
            deps.notifier.send(config, &notification).await;
        }
        return Ok(result);
    }

    // Every read and check first: a missing record, zone, record set or service fails here,
    // before anything is written for any service.
    let mut prepared = Vec::new();
    for service in &rollback_services {
        prepared.push(prepare(deps, config, service, &trigger).await?);
    }

    for step in prepared {
        let service_result = carry_out(
            deps, config, step, &trigger, transition, severity, request_id,
        )
        .await?;
        if service_result.action != "skipped" {
            result.outcome = Outcome::RolledBack;
        }
        result.services.push(service_result);
    }
    info!(message = "Alarm handled.", alarm = %result.alarm, outcome = ?result.outcome, trigger_id = %result.trigger_id);
    Ok(result)
}

/// Creates the transition's idempotency marker; `false` when another delivery already did.
async fn first_delivery(deps: &Deps, trigger: &Trigger) -> Result<bool, HandlerError> {
    let key = keys::idempotency(FUNCTION, &trigger.id);
    let marker = serde_json::json!({"alarm": trigger.alarm, "at": Utc::now()});
    match deps.store.create(&key, &marker).await {
        Ok(_) => Ok(true),
        Err(StateError::AlreadyExists { .. }) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Live state a rollback changes, read before any write.
struct Live {
    zone_id: Option<String>,
    record_sets: Vec<aws_sdk_route53::types::ResourceRecordSet>,
    task_definition: String,
}

struct Prepared<'a> {
    service: &'a str,
    record: Versioned<DeploymentRecord>,
    decision: Decision,
    live: Option<Live>,
}

async fn read_record(
    deps: &Deps,
    service: &str,
) -> Result<Versioned<DeploymentRecord>, HandlerError> {
    let key = keys::deployment_record(service);
    deps.store
        .get::<DeploymentRecord>(&key)
        .await?
        .ok_or_else(|| HandlerError::MissingRecord {
            service: service.to_owned(),
            bucket: deps.store.bucket().to_owned(),
            key,
        })
}

async fn prepare<'a>(
    deps: &Deps,
    config: &SuiteConfig,
    service: &'a str,
    trigger: &Trigger,
) -> Result<Prepared<'a>, HandlerError> {
    let record = read_record(deps, service).await?;
    let service_config = &config.services[service];
    let decision = rollback::decide(
        &record.value,
        service_config,
        trigger,
        Utc::now(),
        deps.settings.lease,
    )?;
    let live = match &decision {
        Decision::Start(plan) | Decision::Resume(plan) => Some(read_live(deps, plan).await?),
        Decision::Skip(_) => None,
    };
    Ok(Prepared {
        service,
        record,
        decision,
        live,
    })
}

async fn read_live(deps: &Deps, plan: &RollbackPlan) -> Result<Live, HandlerError> {
    let (zone_id, record_sets) = match &plan.traffic {
        Some(change) => {
            let (zone_id, sets) = route53::zone_and_records(
                &deps.clients.route53,
                change.zone_id.as_deref(),
                change.zone_name.as_deref(),
                &change.record_name,
                change.record_type.as_str(),
            )
            .await?;
            route53::check_targets(
                &zone_id,
                &change.record_name,
                change.record_type.as_str(),
                &sets,
                &change.weights,
            )?;
            (Some(zone_id), sets)
        }
        None => (None, Vec::new()),
    };
    let task_definition =
        ecs::service_task_definition(&deps.clients.ecs, &plan.ecs.cluster, &plan.ecs.service)
            .await?;
    Ok(Live {
        zone_id,
        record_sets,
        task_definition,
    })
}

async fn carry_out(
    deps: &Deps,
    config: &SuiteConfig,
    step: Prepared<'_>,
    trigger: &Trigger,
    transition: &AlarmTransition,
    severity: Severity,
    request_id: Option<&str>,
) -> Result<ServiceResult, HandlerError> {
    let Prepared {
        service,
        mut record,
        mut decision,
        mut live,
    } = step;
    let key = keys::deployment_record(service);
    for _ in 0..MAX_CLAIM_ATTEMPTS {
        let (plan, resumed) = match &decision {
            Decision::Skip(skip) => {
                info!(message = "Rollback skipped.", %service, skip = ?skip);
                return Ok(ServiceResult::skipped(service, skip.clone()));
            }
            Decision::Start(plan) => (plan.clone(), false),
            Decision::Resume(plan) => (plan.clone(), true),
        };
        let claimed = rollback::begin(&record.value, trigger, &plan, Utc::now());
        match deps.store.replace(&key, &claimed, &record.etag).await {
            Ok(etag) => {
                let live = match live.take() {
                    Some(live) => live,
                    None => read_live(deps, &plan).await?,
                };
                let started = Instant::now();
                let before = serde_json::to_value(&record.value).unwrap_or(Value::Null);
                let applied = apply(deps, &plan, &live, trigger).await;
                let (route53_change, ecs_updated) = match applied {
                    Ok(done) => done,
                    Err(error) => {
                        release(deps, &key, &record.value, &claimed, &etag).await;
                        return Err(error);
                    }
                };
                let done = rollback::complete(&claimed, &plan, Utc::now());
                finish(deps, &key, &done, &etag, trigger).await?;
                let elapsed = started.elapsed();

                let audit_record = AuditRecord {
                    id: format!("{}-{service}", trigger.id),
                    at: Utc::now(),
                    function: FUNCTION.to_owned(),
                    action: "rollback".to_owned(),
                    actor: format!("alarm:{}", trigger.alarm),
                    target: format!("service:{service}"),
                    reason: trigger.reason.clone(),
                    before,
                    after: serde_json::to_value(&done).unwrap_or(Value::Null),
                    outcome: "succeeded".to_owned(),
                    request_id: request_id.map(str::to_owned),
                };
                if let Err(error) = audit::write(&deps.store, &audit_record).await {
                    warn!(message = "Failed to write audit record.", %service, %error);
                }
                MetricSet::new(FUNCTION)
                    .dimension("Service", service)
                    .metric("rollbacks_total", 1.0, Unit::Count)
                    .metric(
                        "rollback_duration_ms",
                        elapsed.as_secs_f64() * 1000.0,
                        Unit::Milliseconds,
                    )
                    .emit();
                let from = plan
                    .from
                    .as_ref()
                    .map(|release| release.task_definition.clone());
                let summary = format!(
                    "Alarm *{}* went into ALARM: {}\nTraffic and the ECS service are back on `{}`{}.",
                    trigger.alarm,
                    trigger.reason,
                    plan.to.task_definition,
                    from.as_deref().map(|from| format!(" (from `{from}`)")).unwrap_or_default()
                );
                let services = BTreeSet::from([service]);
                let notification = alarm_notification(
                    transition,
                    severity,
                    Lifecycle::Trigger,
                    &services,
                    summary,
                );
                let delivery = deps.notifier.send(config, &notification).await;
                if !delivery.failed.is_empty() {
                    MetricSet::new(FUNCTION)
                        .metric(
                            "notification_failures_total",
                            delivery.failed.len() as f64,
                            Unit::Count,
                        )
                        .emit();
                }
                info!(message = "Service rolled back.", %service, to = %plan.to.task_definition, alarm = %trigger.alarm, resumed, ms = elapsed.as_millis() as u64);
                return Ok(ServiceResult {
                    service: service.to_owned(),
                    action: if resumed { "resumed" } else { "rolled_back" },
                    skip: None,
                    to: Some(plan.to.task_definition.clone()),
                    from,
                    route53_change,
                    ecs_updated,
                });
            }
            Err(StateError::Conflict { .. }) => {
                // Someone else wrote the record since we read it: read again and decide again.
                record = read_record(deps, service).await?;
                decision = rollback::decide(
                    &record.value,
                    &config.services[service],
                    trigger,
                    Utc::now(),
                    deps.settings.lease,
                )?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(HandlerError::Contention {
        service: service.to_owned(),
    })
}

/// Writes the weights and the task definition, skipping what is already as planned.
async fn apply(
    deps: &Deps,
    plan: &RollbackPlan,
    live: &Live,
    trigger: &Trigger,
) -> Result<(Option<String>, bool), HandlerError> {
    let mut change_id = None;
    if let (Some(change), Some(zone_id)) = (&plan.traffic, &live.zone_id) {
        let comment = format!(
            "ops-suite alarm-rollback: {} ({})",
            trigger.alarm, trigger.id
        );
        change_id = route53::set_weights(
            &deps.clients.route53,
            zone_id,
            &live.record_sets,
            &change.weights,
            &comment,
        )
        .await?;
    }
    let mut ecs_updated = false;
    if !ecs::same_task_definition(&live.task_definition, &plan.ecs.task_definition) {
        ecs::set_task_definition(
            &deps.clients.ecs,
            &plan.ecs.cluster,
            &plan.ecs.service,
            &plan.ecs.task_definition,
        )
        .await?;
        ecs_updated = true;
    }
    Ok((change_id, ecs_updated))
}

/// Writes the completed record; a conflict is fine only if the record already says so.
async fn finish(
    deps: &Deps,
    key: &str,
    done: &DeploymentRecord,
    etag: &str,
    trigger: &Trigger,
) -> Result<(), HandlerError> {
    match deps.store.replace(key, done, etag).await {
        Ok(_) => Ok(()),
        Err(StateError::Conflict { .. }) => {
            let current = read_record(deps, &done.service).await?;
            let already =
                current.value.rollback.as_ref().is_some_and(|mark| {
                    mark.trigger_id == trigger.id && mark.completed_at.is_some()
                });
            if already {
                Ok(())
            } else {
                Err(HandlerError::Contention {
                    service: done.service.clone(),
                })
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// After a failed change, puts the record back as it was so a retry starts afresh instead of
/// waiting for the lease. Best effort: if this fails too, the lease expires and a retry resumes.
async fn release(
    deps: &Deps,
    key: &str,
    original: &DeploymentRecord,
    claimed: &DeploymentRecord,
    etag: &str,
) {
    let mut restored = original.clone();
    restored.updated_at = Utc::now();
    restored.history = claimed.history.clone();
    restored.push_history(
        Utc::now(),
        "rollback_aborted",
        "a change failed; released for a retry".into(),
    );
    if let Err(error) = deps.store.replace(key, &restored, etag).await {
        warn!(message = "Failed to release the rollback claim; a retry resumes after the lease.", %key, %error);
    }
}

fn alarm_notification(
    transition: &AlarmTransition,
    severity: Severity,
    lifecycle: Lifecycle,
    services: &BTreeSet<&str>,
    summary: String,
) -> Notification {
    let services_text = services.iter().copied().collect::<Vec<_>>().join(", ");
    let title = match lifecycle {
        Lifecycle::Trigger if summary.contains("back on") => format!(
            "{} in ALARM: rolled back {services_text}",
            transition.alarm_name
        ),
        Lifecycle::Trigger => format!(
            "{} in ALARM (guards {services_text})",
            transition.alarm_name
        ),
        Lifecycle::Resolve => format!(
            "{} is {}",
            transition.alarm_name,
            transition.new_state.as_str()
        ),
    };
    Notification {
        source: FUNCTION.to_owned(),
        severity,
        lifecycle,
        title,
        summary,
        fields: vec![
            ("Alarm".to_owned(), transition.alarm_name.clone()),
            ("Services".to_owned(), services_text),
            ("State".to_owned(), transition.new_state.as_str().to_owned()),
            ("Changed at".to_owned(), transition.changed_at.to_rfc3339()),
        ],
        dedup_key: format!("{FUNCTION}/{}", transition.alarm_name),
        link: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_budget_keeps_headroom_but_never_more_than_a_fifth() {
        let now = u64::try_from(Utc::now().timestamp_millis()).expect("positive");
        let long = time_budget(now + 60_000, Duration::from_secs(3)).expect("budget");
        assert!(
            long > Duration::from_secs(55) && long <= Duration::from_secs(57),
            "{long:?}"
        );
        let short = time_budget(now + 3_000, Duration::from_secs(3)).expect("budget");
        assert!(
            short > Duration::from_millis(2_000) && short <= Duration::from_millis(2_400),
            "{short:?}"
        );
        assert_eq!(time_budget(0, Duration::from_secs(3)), None);
        assert_eq!(
            time_budget(now.saturating_sub(1_000), Duration::from_secs(3)),
            None
        );
    }
}
