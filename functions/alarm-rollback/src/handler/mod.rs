//! The handler: read the alarm transition, decide per service, claim the deployment record with
//! compare-and-swap, record what the rollback owes, change Route53 and ECS, complete the record,
//! then deliver what is owed (audit record, notifications), emit metrics.
//!
//! Exactly once comes from the record, not from a lock: every copy of an event computes the same
//! decision, only one copy's compare-and-swap claims the record, and the others then read a
//! record that says the rollback is in progress or done and change nothing. Every read and check
//! (record, hosted zone, record sets, ECS service) happens before the first write, so bad input
//! changes nothing.
//!
//! Under faults (the source retries a failed invocation with the same event and request id):
//!
//! - The claim carries its claimant (the transition's key and the invocation id). When the
//!   claim's answer is lost, or a change after it fails, the invocation fails; its retry finds
//!   its own claim and completes the rollback at once ([`rollback::decide`]). A failed change
//!   never gives the claim back: the record stays ROLLING_BACK (deploy-hook stops) until the
//!   retry — or, after the lease, any later event — completes it. A ROLLED_BACK record is never
//!   claimed again, and its completion write is recognised as ours when its answer is lost.
//! - What a handled transition owes is written create-once as its [`Outbox`]
//!   (`outbox/alarm-rollback/<transition>/<service>.json`) before any of it is attempted: the
//!   audit record and one notification per routed channel. Each delivered channel is recorded
//!   in it; what is still owed after this invocation makes it fail (`DeliveryPending`), so the
//!   retry of the same event delivers the rest. A copy of the event from another invocation
//!   leaves an outbox to its writer until the lease has passed, then delivers what is owed.
//!
//! What each channel is guaranteed:
//!
//! - **Audit record**: exactly one per rollback — written create-once under a key fixed by the
//!   outbox (`audit/<outbox day>/alarm-rollback/<transition>-<service>.json`), retried until
//!   written.
//! - **Webhook**: at least once; every attempt sends the same body, whose `Idempotency-Key`
//!   header (a digest of the body, so of the transition) lets the receiver drop repeats.
//! - **PagerDuty**: at least once; repeats carry the same `dedup_key` (the alarm's incident key,
//!   which the OK transition resolves), so PagerDuty folds them into one incident.
//! - **Slack** (and email): at least once; a repeat is possible only when the answer to a
//!   delivered message is lost or its record in the outbox cannot be written, and it is then an
//!   identical message.
//!
//! The handler is split in two parts besides this one: `act.rs` (read the record and the live
//! resources, change Route53 and ECS, complete the record) and `outbox.rs` (what a transition
//! owes, and its delivery).
//!
//! Errors: every AWS failure is classified by the adapters (`is_transient`); a transient one
//! fails the invocation with an `…Unavailable` error type so the source retries, a permanent one
//! with a type that names the problem. Errors and log lines quote AWS codes and messages, never
//! bodies, and quotes of the event are capped.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lambda_runtime::{Diagnostic, LambdaEvent};
use ops_adapters::clients::ClientSettings;
use ops_adapters::ecs::EcsError;
use ops_adapters::error::bounded;
use ops_adapters::notify::Notifier;
use ops_adapters::route53::Route53Error;
use ops_adapters::runtime::{env_seconds, FunctionEnv};
use ops_adapters::s3::{ConfigLoadError, ConfigSource, StateError, StateStore};
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::AwsClients;
use ops_domain::config::{AlarmRoute, SuiteConfig};
use ops_domain::notify::{Lifecycle, Severity};
use ops_domain::rollback::{self, AlarmState, AlarmTransition, PlanError, Skip, Trigger};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

use crate::event::{self, EventError};

mod act;
mod outbox;

use act::{carry_out, prepare};
use outbox::{alarm_notification, notify_once};

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

impl Deps {
    /// The function's environment ([`FunctionEnv`]: `STATE_BUCKET`, `CONFIG_URI`, the SDK
    /// configuration with the event-handler client settings) and `ROLLBACK_LEASE_SECONDS`
    /// (default 90: longer than the function timeout).
    pub async fn from_env() -> anyhow::Result<Self> {
        let env = FunctionEnv::from_env(ClientSettings::default()).await?;
        let mut settings = Settings::default();
        if let Some(seconds) = env_seconds("ROLLBACK_LEASE_SECONDS")? {
            settings.lease = chrono::Duration::seconds(seconds);
        }
        let clients = env.clients();
        let secrets = Arc::new(SecretCache::new(
            clients.secrets.clone(),
            std::time::Duration::from_secs(300),
        ));
        Ok(Deps {
            store: StateStore::new(clients.s3.clone(), env.state_bucket),
            config: ConfigSource::new(&env.config_uri, clients.s3.clone())?,
            notifier: Notifier::new(secrets),
            settings,
            clients,
        })
    }
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
    /// The rollback is done (or nothing needed rolling back) but some of what it owes — the
    /// audit record, a channel's notification — could not be delivered yet. They stay owed in
    /// the outbox; a retry of the same event delivers them.
    #[error("owed and not yet delivered (a retry of this event delivers them): {}", .owed.join("; "))]
    DeliveryPending {
        /// What is still owed, with the reason.
        owed: Vec<String>,
    },
    /// The invocation ran out of time (the record's lease lets a retry finish the work); the
    /// duration is the time budget that was used up.
    #[error(
        "stopped after {0:?}, before the invocation deadline; a retry resumes where this stopped"
    )]
    Deadline(Duration),
}

impl HandlerError {
    /// Whether a retry of the same event may succeed: AWS throttled, answered 5xx, timed out or
    /// lost the connection; the record kept changing; something owed is still undelivered; the
    /// deadline came. Everything else (bad event, bad config, missing resources, access denied)
    /// fails the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            HandlerError::InvalidEvent(_)
            | HandlerError::MissingRecord { .. }
            | HandlerError::Plan(_) => false,
            HandlerError::Config(error) => error.is_transient(),
            HandlerError::Route53(error) => error.is_transient(),
            HandlerError::Ecs(error) => error.is_transient(),
            HandlerError::State(error) => error.is_transient(),
            HandlerError::Contention { .. }
            | HandlerError::DeliveryPending { .. }
            | HandlerError::Deadline(_) => true,
        }
    }

    /// The Lambda `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            // S3 unavailable is not a wrong config.
            HandlerError::Config(error) if error.is_transient() => "ConfigUnavailable",
            HandlerError::Config(_) => "ConfigurationError",
            HandlerError::MissingRecord { .. } => "MissingDeploymentRecord",
            HandlerError::Plan(_) => "InconsistentRecord",
            HandlerError::Route53(
                Route53Error::ZoneNotFound(_) | Route53Error::RecordSetNotFound { .. },
            ) => "MissingTrafficRecord",
            HandlerError::Route53(error) if error.is_transient() => "Route53Unavailable",
            HandlerError::Route53(_) => "Route53Error",
            HandlerError::Ecs(EcsError::ServiceNotFound { .. }) => "MissingEcsService",
            HandlerError::Ecs(error) if error.is_transient() => "EcsUnavailable",
            HandlerError::Ecs(_) => "EcsError",
            HandlerError::State(StateError::Corrupt { .. }) => "CorruptState",
            HandlerError::State(error) if error.is_transient() => "StateStoreUnavailable",
            HandlerError::State(_) => "StateStoreError",
            HandlerError::Contention { .. } => "Contention",
            HandlerError::DeliveryPending { .. } => "DeliveryPending",
            HandlerError::Deadline(_) => "DeadlineExceeded",
        }
    }
}

/// Most characters of an error message returned to Lambda or logged.
const MAX_ERROR_MESSAGE: usize = 2_000;

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: bounded(&error.to_string(), MAX_ERROR_MESSAGE),
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
    // The source retries a failed invocation with the same request id; without one (a direct
    // call), the invocation gets an id of its own and a retry is just another copy.
    let invocation_id = if context.request_id.is_empty() {
        fresh_invocation_id()
    } else {
        context.request_id
    };
    let work = async {
        let transitions = event::parse(&payload)?;
        let config = deps.config.current().await?;
        let mut results = Vec::with_capacity(transitions.len());
        let mut owed = Vec::new();
        for transition in &transitions {
            let (result, pending) =
                handle_transition(deps, &config, transition, &invocation_id).await?;
            results.push(result);
            owed.extend(pending);
        }
        if !owed.is_empty() {
            return Err(HandlerError::DeliveryPending { owed });
        }
        Ok(Response { results })
    };
    let outcome = match budget {
        Some(budget) => tokio::time::timeout(budget, work)
            .await
            .map_err(|_| HandlerError::Deadline(budget))
            .and_then(|result| result),
        None => work.await,
    };
    if let Err(failure) = &outcome {
        let message = bounded(&failure.to_string(), MAX_ERROR_MESSAGE);
        error!(message = "Invocation failed.", error_type = failure.error_type(), transient = failure.is_transient(), error = %message, request_id = %invocation_id);
    }
    outcome
}

/// An invocation id for a call without a Lambda request id: unique in this process and time.
fn fresh_invocation_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "local-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
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
    invocation_id: &str,
) -> Result<(TransitionResult, Vec<String>), HandlerError> {
    let trigger = Trigger::from(transition);
    let claimant = rollback::claimant(&trigger, invocation_id);
    // A post-promotion analysis failure names its service; alarms are mapped by the routes.
    let named = transition.service.as_ref().map(|service| AlarmRoute {
        alarm: transition.alarm_name.clone(),
        services: vec![service.clone()],
        severity: Severity::Critical,
        rollback: true,
    });
    let routes: Vec<&AlarmRoute> = match &named {
        Some(route) => vec![route],
        None => config.routes_for_alarm(&transition.alarm_name).collect(),
    };
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
        return Ok((result, Vec::new()));
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
        let mut owed = Vec::new();
        if transition.old_state == Some(AlarmState::Alarm) {
            let notification = alarm_notification(
                transition,
                severity,
                Lifecycle::Resolve,
                &services,
                "The alarm is no longer in ALARM.".into(),
            );
            owed = notify_once(deps, config, &trigger, &claimant, notification).await?;
        }
        return Ok((result, owed));
    }

    if rollback_services.is_empty() {
        result.outcome = Outcome::Notified;
        let notification = alarm_notification(
            transition,
            severity,
            Lifecycle::Trigger,
            &services,
            trigger.reason.clone(),
        );
        let owed = notify_once(deps, config, &trigger, &claimant, notification).await?;
        return Ok((result, owed));
    }

    // Every read and check first: a missing record, zone, record set or service fails here,
    // before anything is written for any service.
    let mut prepared = Vec::new();
    for service in &rollback_services {
        prepared.push(prepare(deps, config, service, &trigger, &claimant).await?);
    }

    let mut owed = Vec::new();
    for step in prepared {
        let context = Acting {
            deps,
            config,
            trigger: &trigger,
            claimant: &claimant,
            transition,
            severity,
            invocation_id,
        };
        let (service_result, pending) = carry_out(&context, step).await?;
        if service_result.action != "skipped" {
            result.outcome = Outcome::RolledBack;
        }
        result.services.push(service_result);
        owed.extend(pending);
    }
    info!(message = "Alarm handled.", alarm = %result.alarm, outcome = ?result.outcome, trigger_id = %result.trigger_id);
    Ok((result, owed))
}

/// What carrying out one service's decision needs.
struct Acting<'a> {
    deps: &'a Deps,
    config: &'a SuiteConfig,
    trigger: &'a Trigger,
    claimant: &'a str,
    transition: &'a AlarmTransition,
    severity: Severity,
    invocation_id: &'a str,
}

#[cfg(test)]
mod tests;
