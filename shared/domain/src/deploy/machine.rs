//! The deployment state machine: a pure function from the service's record, what this
//! invocation has observed so far and the time, to the next thing to do ([`Next`]) and the
//! record after it.
//!
//! deploy-hook only carries the answer out: it asks [`next`], and when the answer is
//! [`Next::Observe`] it reads what is asked (alarm states, the ECS rollout, the Route53 change,
//! health checks) and asks again; [`Next::Act`] is claimed in the record, made in AWS, then
//! recorded with [`after_change`]; [`Next::Record`] is written with compare-and-swap. Every rule
//! — the lease on a claimed step, the stabilize timeout, the rollout verdict, bake time, pauses,
//! operator commands, when to abort — lives here, table-tested without AWS.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::deploy::analysis::judge::{self, JudgeOutcome};
use crate::deploy::analysis::measure::{
    self, AnalysisRun, MetricRequest, Series, Side, SideNames, Verdict,
};
use crate::deploy::analysis::AnalysisConfig;
use crate::deploy::hooks::{self, Hook, HookStatus};
use crate::deploy::record::{DeploymentRecord, DeploymentStatus, Release, RollbackMark};
use crate::deploy::{
    claim_verdict, command, release, Abort, AbortKind, ClaimVerdict, Claimant, EcsMode, HookPoint,
    Outcome, Paused, Phase, Progress, Step,
};

/// What an invocation has read so far (`None`: not read yet).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The first gating alarm in ALARM (`Some(None)`: all quiet).
    pub alarm: Option<Option<Firing>>,
    /// The ECS rollout of the current `deploy` step.
    pub rollout: Option<Rollout>,
    /// Whether the current shift's Route53 change is `INSYNC`.
    pub in_sync: Option<bool>,
    /// The health checks and smoke tests of the current `verify` step.
    pub checks: Option<Checks>,
    /// The live Route53 weights, read before a shift writes any.
    pub live_weights: Option<BTreeMap<String, i64>>,
    /// What the current hook answered.
    pub hook: Option<HookStatus>,
    /// The series of the analysis checks measured now (check, side, values).
    pub metrics: Option<Vec<(String, Side, Series)>>,
    /// The judge's samples per metric: (candidate, baseline).
    pub judged: Option<BTreeMap<String, (Series, Series)>>,
}

/// The two sides metric analysis reads: the candidate (new version) and, for traffic
/// strategies, the stable color.
#[derive(Debug, Clone, PartialEq)]
pub struct Sides {
    /// The new version's color, ECS service and target value.
    pub candidate: SideNames,
    /// The stable version's (traffic strategies only).
    pub baseline: Option<SideNames>,
}

impl Observed {
    /// Forgets what belongs to one step (alarm states stay valid for the invocation).
    pub fn next_step(&mut self) {
        self.rollout = None;
        self.in_sync = None;
        self.checks = None;
        self.live_weights = None;
        self.hook = None;
        self.metrics = None;
        self.judged = None;
    }
}

/// A gating alarm in ALARM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// The alarm.
    pub name: String,
    /// Its state reason.
    pub reason: String,
}

/// Where an ECS rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    /// Done: the service runs the new task definition.
    Completed {
        /// Running tasks.
        running: i32,
    },
    /// Still replacing tasks.
    Pending {
        /// Running tasks.
        running: i32,
        /// Desired tasks.
        desired: i32,
    },
    /// ECS gave up or the service was moved elsewhere.
    Failed(String),
}

/// An ECS service as read for a rollout: what it is set to run, its task counts and the
/// deployments ECS lists for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsService {
    /// The task definition the service is set to run.
    pub task_definition: String,
    /// Desired tasks.
    pub desired_count: i32,
    /// Running tasks.
    pub running_count: i32,
    /// ECS's deployments of the service.
    pub deployments: Vec<EcsDeployment>,
}

/// One of ECS's deployments of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsDeployment {
    /// `PRIMARY` or `ACTIVE`.
    pub status: String,
    /// Its task definition.
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub rollout_state: String,
    /// ECS's reason for the state.
    pub reason: String,
}

/// Whether two task definition references (ARN or `family:revision`) name the same revision.
pub fn same_task_definition(a: &str, b: &str) -> bool {
    fn short(reference: &str) -> &str {
        reference
            .rsplit_once("task-definition/")
            .map_or(reference, |(_, rest)| rest)
    }
    short(a) == short(b)
}

/// Where the rollout of `td` on `service` stands: ECS's own deployment of it when listed
/// (`COMPLETED`, `FAILED` when the circuit breaker gave up and rolled back); a service no longer
/// set to `td` failed; a service set to `td` with no deployment naming it (emulators keep the
/// first deployment's task definition) counts as rolled out once its running count reaches the
/// desired count.
pub fn rollout_verdict(service: &EcsService, td: &str) -> Rollout {
    let deployment = service
        .deployments
        .iter()
        .find(|d| same_task_definition(&d.task_definition, td));
    match deployment {
        Some(d) if d.rollout_state == "FAILED" => Rollout::Failed(format!(
            "the deployment circuit breaker stopped it and ECS rolled back ({})",
            d.reason
        )),
        Some(d) if d.rollout_state == "COMPLETED" && d.status == "PRIMARY" => Rollout::Completed {
            running: service.running_count,
        },
        _ if !same_task_definition(&service.task_definition, td) => Rollout::Failed(format!(
            "the service is now set to {} (changed outside this deployment or rolled back by ECS)",
            service.task_definition
        )),
        None if service.running_count >= service.desired_count.max(1) => Rollout::Completed {
            running: service.running_count,
        },
        _ => Rollout::Pending {
            running: service.running_count,
            desired: service.desired_count,
        },
    }
}

/// The outcome of a verify step's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checks {
    /// All passed (how many ran).
    Passed(usize),
    /// The first that failed.
    Failed {
        /// Its URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What went wrong.
        detail: String,
    },
}

/// What the invocation must read before the machine can decide.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// The states of the service's gating alarms.
    Alarms,
    /// The ECS service's rollout of `task_definition`.
    Rollout {
        /// The ECS service.
        ecs_service: String,
        /// The task definition rolled out.
        task_definition: String,
    },
    /// Route53's status of change `id`.
    Change {
        /// The change id.
        id: String,
    },
    /// The health checks and smoke tests against `target` (traffic strategies) or the service.
    Checks {
        /// The color under test.
        target: Option<String>,
    },
    /// The live Route53 weights of the service's record.
    Weights,
    /// The analysis checks due now (`GetMetricData` per request).
    Metrics {
        /// One request per check and side.
        requests: Vec<MetricRequest>,
    },
    /// The judge's samples over the bake window.
    Judge {
        /// One request per judged metric and side.
        requests: Vec<MetricRequest>,
    },
    /// Where the current hook stands: the task started (`handle`: its ARN), the function
    /// asked again, the plan's latest snapshot read.
    Hook {
        /// The hook.
        hook: Hook,
        /// The started task's ARN.
        handle: Option<String>,
        /// When the hook was started (a backup must commit after it).
        since: DateTime<Utc>,
    },
}

/// A change in AWS, claimed in the record before it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Register the new task definition revision.
    Register,
    /// Put `ecs_service` on `task_definition`.
    UpdateService {
        /// The ECS service.
        ecs_service: String,
        /// How ECS replaces its tasks.
        mode: EcsMode,
        /// The new revision.
        task_definition: String,
    },
    /// Write Route53 weights.
    WriteWeights {
        /// Weight per target.
        weights: BTreeMap<String, u8>,
    },
    /// Start a hook's task (found by `run` if already started) or ask for a backup.
    StartHook {
        /// The hook.
        hook: Hook,
        /// The run's deterministic name ([`hooks::run_name`]).
        run: String,
    },
}

/// What a change produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// The registered (or found) revision's ARN.
    Registered(String),
    /// The service was updated (or already on the revision).
    ServiceUpdated,
    /// Weights written: the Route53 change id, `None` when they were already in place.
    WeightsWritten(Option<String>),
    /// A hook started: the task's ARN (none for a backup).
    HookStarted(Option<String>),
}

/// The next thing to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Read this, then ask again.
    Observe(Observation),
    /// Claim the current step ([`claimed`]), make the change, record it ([`after_change`]).
    Act(Change),
    /// Write `record`; then ask again within this invocation (`again`) or report `note`.
    Record {
        /// The record to write.
        record: Box<DeploymentRecord>,
        /// What happened, for the job summary.
        note: String,
        /// Whether to decide again after the write.
        again: bool,
    },
    /// Nothing to write now; the job continues (report `note`).
    Wait {
        /// Why, for the job summary.
        note: String,
    },
    /// Put traffic and services back on the stable version, then record [`reverted`].
    Revert(Abort),
    /// Write the promoted record (its audit owed); the job succeeds.
    Promote(Box<DeploymentRecord>),
    /// Write the owed audit records first, then ask again.
    WriteAudits,
    /// The deployment already ended promoted: the job succeeds.
    Succeeded,
    /// The deployment ended failed: the job fails with `reason` (after writing any owed audit
    /// record, best effort: failing is final either way).
    Fail {
        /// Why.
        reason: String,
    },
    /// The service was rolled back (by alarm-rollback or an operator) while this deployment was
    /// in flight: record the outcome (`record`, when not yet recorded) and fail with `reason`.
    RolledBack {
        /// The record with the outcome, when it still has to be written.
        record: Option<Box<DeploymentRecord>>,
        /// Why, for the job's failure.
        reason: String,
    },
}

/// The fixed inputs of one decision.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Now.
    pub now: DateTime<Utc>,
    /// This invocation, as the writer of claims.
    pub me: &'a Claimant,
    /// How long a claimed step is left to its claimant.
    pub lease: Duration,
    /// How long an ECS rollout may take.
    pub stabilize_timeout: Duration,
    /// Whether any alarm gates the service (no need to read alarm states otherwise).
    pub gated: bool,
    /// The actor of audit records (`pipeline-job:<id>`).
    pub actor: &'a str,
    /// Until when a promotion keeps the old version warm.
    pub rollback_window_until: DateTime<Utc>,
    /// The service's metric analysis, when it has one.
    pub analysis: Option<&'a AnalysisConfig>,
    /// What the analysis reads for each side.
    pub sides: Option<&'a Sides>,
}

/// Decides what comes next for the deployment in `record`.
pub fn next(record: &DeploymentRecord, observed: &Observed, cx: &Context<'_>) -> Next {
    match record.status {
        DeploymentStatus::RollingBack | DeploymentStatus::RolledBack => {
            return Next::RolledBack {
                record: release::conclude_rolled_back(record, cx.actor, cx.now).map(Box::new),
                reason: release::rollback_reason(record),
            };
        }
        DeploymentStatus::Failed => {
            // Failing is final: the owed audit records are written on the way, best effort.
            let reason = record
                .progress
                .as_ref()
                .and_then(|p| p.abort.as_ref())
                .map_or("the deployment failed".to_owned(), |a| a.reason.clone());
            return Next::Fail { reason };
        }
        DeploymentStatus::Promoted | DeploymentStatus::Stable => {
            return if record.audit_owed.is_empty() {
                Next::Succeeded
            } else {
                Next::WriteAudits
            };
        }
        DeploymentStatus::InProgress => {}
    }
    if !record.audit_owed.is_empty() {
        return Next::WriteAudits;
    }
    let Some(progress) = &record.progress else {
        return Next::Fail {
            reason: format!("the record of {} has no progress", record.service),
        };
    };
    if !record.commands.is_empty() {
        let (next, note) = command::apply(record, cx.now);
        let note = if note.is_empty() {
            "dropped operator commands given for another deployment".to_owned()
        } else {
            format!("operator: {note}")
        };
        return Next::Record {
            record: Box::new(next),
            note,
            again: true,
        };
    }
    if let Some(abort) = &progress.abort {
        return Next::Revert(abort.clone());
    }
    let Some(step) = progress.current() else {
        return promote(record, progress, cx);
    };
    let ready = matches!(progress.phase, Phase::Ready | Phase::Acting { .. });
    if let (Some(paused), true) = (&progress.paused, ready) {
        // Held: no step starts, a bake does not count; an alarm still rolls back once traffic
        // reaches the new version.
        let traffic_on_candidate = matches!(step, Step::Bake { .. } | Step::Promote)
            || (matches!(step, Step::Shift { .. }) && progress.step > first_shift(progress));
        if cx.gated && traffic_on_candidate {
            match &observed.alarm {
                None => return Next::Observe(Observation::Alarms),
                Some(Some(firing)) => {
                    return abort(
                        record,
                        AbortKind::Alarm,
                        format!(
                            "alarm {} went into ALARM while paused at {}: {}",
                            firing.name,
                            step.describe(),
                            firing.reason
                        ),
                        Some(firing.name.clone()),
                        cx.now,
                    )
                }
                Some(None) => {}
            }
        }
        return Next::Wait {
            note: format!(
                "paused by {} since {}{}",
                paused.by,
                paused.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                if paused.reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", paused.reason)
                }
            ),
        };
    }
    match step {
        Step::Register => act(
            progress,
            Change::Register,
            "registering the task definition",
            cx,
        ),
        Step::Deploy { ecs_service, mode } => {
            deploy(record, progress, ecs_service, *mode, observed, cx)
        }
        Step::Verify { target } => verify(record, progress, target.as_ref(), observed, cx),
        Step::Shift { weights, .. } => shift(record, progress, weights, observed, cx),
        Step::Bake { seconds } => bake(record, progress, *seconds, observed, cx),
        Step::Hook { at, hook } => hook_step(record, progress, *at, hook, observed, cx),
        Step::Promote => promote(record, progress, cx),
    }
}

/// Index of the first shift step (`steps.len()` when there is none).
fn first_shift(progress: &Progress) -> usize {
    progress
        .steps
        .iter()
        .position(|s| matches!(s, Step::Shift { .. }))
        .unwrap_or(progress.steps.len())
}

/// A change to claim, unless another live invocation holds the step.
fn act(progress: &Progress, change: Change, busy: &str, cx: &Context<'_>) -> Next {
    match claim_verdict(progress, cx.me, cx.now, cx.lease) {
        ClaimVerdict::Held => Next::Wait {
            note: format!("another invocation is {busy}"),
        },
        ClaimVerdict::Free | ClaimVerdict::TakeOver => Next::Act(change),
    }
}

/// The record with the current step claimed by `me` (written before the change is made).
pub fn claimed(record: &DeploymentRecord, me: &Claimant, now: DateTime<Utc>) -> DeploymentRecord {
    let mut next = record.clone();
    if let Some(progress) = next.progress.as_mut() {
        progress.phase = Phase::Acting {
            since: now,
            by: Some(me.clone()),
        };
        progress.job_id = me.job_id.clone();
    }
    next.updated_at = now;
    next
}

/// The record once `change` is made (`claimed` is the record as claimed).
pub fn after_change(
    claimed: &DeploymentRecord,
    changed: &Changed,
    now: DateTime<Utc>,
) -> (DeploymentRecord, String) {
    let mut next = claimed.clone();
    let Some(progress) = next.progress.as_mut() else {
        return (next, String::new());
    };
    let note = match changed {
        Changed::Registered(arn) => {
            progress.task_definition = Some(arn.clone());
            next.candidate = Some(Release {
                task_definition: arn.clone(),
                image: Some(progress.image.clone()),
                target: progress.target.clone(),
            });
            progress.advance(now);
            next.push_history(now, "registered", arn.clone());
            format!("registered {arn}")
        }
        Changed::ServiceUpdated => {
            progress.phase = Phase::Waiting {
                since: now,
                change_id: None,
            };
            let service = match progress.current() {
                Some(Step::Deploy { ecs_service, .. }) => ecs_service.clone(),
                _ => String::new(),
            };
            let td = progress.task_definition.clone().unwrap_or_default();
            next.push_history(now, "ecs_updated", format!("{service} → {td}"));
            format!("{service} updated to {td}; waiting for the rollout")
        }
        Changed::WeightsWritten(change_id) => {
            if let Some(Step::Shift { weights, .. }) = progress.current() {
                next.weights = weights.clone();
            }
            progress.phase = Phase::Waiting {
                since: now,
                change_id: change_id.clone(),
            };
            let detail = next
                .weights
                .iter()
                .map(|(t, w)| format!("{t}={w}"))
                .collect::<Vec<_>>()
                .join(" ");
            next.push_history(now, "traffic_shifted", detail);
            match change_id {
                Some(id) => format!("weights written (change {id}); waiting for INSYNC"),
                None => "weights already in place".to_owned(),
            }
        }
        Changed::HookStarted(handle) => {
            progress.phase = Phase::Waiting {
                since: now,
                change_id: handle.clone(),
            };
            let describe = progress.current().map(Step::describe).unwrap_or_default();
            let detail = match handle {
                Some(handle) => format!("{describe}: {handle}"),
                None => describe.clone(),
            };
            next.push_history(now, "hook_started", detail);
            format!("{describe} started; waiting for it")
        }
    };
    next.updated_at = now;
    (next, note)
}

/// The record with the current step done and the next one ready.
fn advanced(record: &DeploymentRecord, now: DateTime<Utc>) -> DeploymentRecord {
    let mut next = record.clone();
    if let Some(progress) = next.progress.as_mut() {
        progress.advance(now);
    }
    next.updated_at = now;
    next
}

fn record(next: DeploymentRecord, note: String) -> Next {
    Next::Record {
        record: Box::new(next),
        note,
        again: false,
    }
}

/// Starts stopping the deployment: the reason is recorded before anything is reverted, so an
/// invocation that stops mid-revert is resumed by the next one.
fn abort(
    record: &DeploymentRecord,
    kind: AbortKind,
    reason: String,
    alarm: Option<String>,
    now: DateTime<Utc>,
) -> Next {
    let mut next = record.clone();
    if let Some(progress) = next.progress.as_mut() {
        progress.abort = Some(Abort {
            kind,
            reason: reason.clone(),
            alarm,
            at: now,
            by: None,
        });
    }
    next.push_history(now, "abort_started", reason.clone());
    next.updated_at = now;
    Next::Record {
        record: Box::new(next),
        note: reason,
        again: true,
    }
}

fn deploy(
    record: &DeploymentRecord,
    progress: &Progress,
    ecs_service: &str,
    mode: EcsMode,
    observed: &Observed,
    cx: &Context<'_>,
) -> Next {
    let td = progress.task_definition.clone().unwrap_or_default();
    let since = match &progress.phase {
        Phase::Ready | Phase::Acting { .. } => {
            return act(
                progress,
                Change::UpdateService {
                    ecs_service: ecs_service.to_owned(),
                    mode,
                    task_definition: td,
                },
                "updating ECS",
                cx,
            )
        }
        Phase::Waiting { since, .. } => *since,
    };
    match &observed.rollout {
        None => Next::Observe(Observation::Rollout {
            ecs_service: ecs_service.to_owned(),
            task_definition: td,
        }),
        Some(Rollout::Completed { running }) => record_advance(
            record,
            format!("{ecs_service} rollout completed ({running} running)"),
            cx.now,
        ),
        Some(Rollout::Failed(why)) => abort(
            record,
            AbortKind::EcsRollout,
            format!("ECS rollout of {td} on {ecs_service} failed: {why}"),
            None,
            cx.now,
        ),
        Some(Rollout::Pending { running, desired }) => {
            if cx.now - since > cx.stabilize_timeout {
                return abort(
                    record,
                    AbortKind::Timeout,
                    format!(
                        "ECS rollout of {td} on {ecs_service} did not complete within {} s",
                        cx.stabilize_timeout.num_seconds()
                    ),
                    None,
                    cx.now,
                );
            }
            Next::Wait {
                note: format!("waiting for {ecs_service}: {running} of {desired} tasks running"),
            }
        }
    }
}

fn record_advance(record: &DeploymentRecord, note: String, now: DateTime<Utc>) -> Next {
    self::record(advanced(record, now), note)
}

/// The alarm gate: `Err(next)` when the machine must read alarms first or abort.
fn gate(
    record: &DeploymentRecord,
    observed: &Observed,
    cx: &Context<'_>,
    what: impl FnOnce(&Firing) -> String,
) -> Result<(), Next> {
    if !cx.gated {
        return Ok(());
    }
    match &observed.alarm {
        None => Err(Next::Observe(Observation::Alarms)),
        Some(Some(firing)) => Err(abort(
            record,
            AbortKind::Alarm,
            what(firing),
            Some(firing.name.clone()),
            cx.now,
        )),
        Some(None) => Ok(()),
    }
}

fn verify(
    record: &DeploymentRecord,
    _progress: &Progress,
    target: Option<&String>,
    observed: &Observed,
    cx: &Context<'_>,
) -> Next {
    if let Err(next) = gate(record, observed, cx, |f| {
        format!(
            "alarm {} is in ALARM before any traffic moved: {}",
            f.name, f.reason
        )
    }) {
        return next;
    }
    match &observed.checks {
        None => Next::Observe(Observation::Checks {
            target: target.cloned(),
        }),
        Some(Checks::Failed {
            url,
            attempts,
            detail,
        }) => abort(
            record,
            AbortKind::HealthCheck,
            format!(
                "health check {url} failed after {attempts} attempt(s): {detail}; no traffic was shifted"
            ),
            None,
            cx.now,
        ),
        Some(Checks::Passed(count)) => {
            let mut next = advanced(record, cx.now);
            next.push_history(cx.now, "verified", format!("{count} check(s) passed"));
            self::record(
                next,
                format!("{count} health check(s) and smoke test(s) passed"),
            )
        }
    }
}

fn shift(
    record: &DeploymentRecord,
    progress: &Progress,
    weights: &BTreeMap<String, u8>,
    observed: &Observed,
    cx: &Context<'_>,
) -> Next {
    match &progress.phase {
        Phase::Ready | Phase::Acting { .. } => {
            if let Err(next) = gate(record, observed, cx, |f| {
                format!("alarm {} is in ALARM: {}", f.name, f.reason)
            }) {
                return next;
            }
            let last_shift = progress
                .steps
                .iter()
                .rposition(|s| matches!(s, Step::Shift { .. }))
                .unwrap_or(progress.step);
            if progress.fast_forward && progress.step < last_shift {
                let mut next = record.clone();
                if let Some(p) = next.progress.as_mut() {
                    p.step = last_shift;
                    p.phase = Phase::Ready;
                    p.step_started_at = cx.now;
                }
                next.updated_at = cx.now;
                return Next::Record {
                    record: Box::new(next),
                    note: "promote --full: straight to 100 %".to_owned(),
                    again: true,
                };
            }
            if weights.values().all(|w| *w == 0) {
                return abort(
                    record,
                    AbortKind::TrafficEdited,
                    "refusing to write every Route53 weight zero (no answer for the name); nothing was changed".to_owned(),
                    None,
                    cx.now,
                );
            }
            let Some(live) = &observed.live_weights else {
                return Next::Observe(Observation::Weights);
            };
            if let Some(reason) = hand_edited(record, weights, live) {
                return abort(record, AbortKind::TrafficEdited, reason, None, cx.now);
            }
            act(
                progress,
                Change::WriteWeights {
                    weights: weights.clone(),
                },
                "shifting traffic",
                cx,
            )
        }
        Phase::Waiting { change_id, .. } => {
            let in_sync = match (change_id, observed.in_sync) {
                // Weights found already in place after a crash: bake time starts now.
                (None, _) => true,
                (Some(id), None) => {
                    return Next::Observe(Observation::Change { id: id.clone() });
                }
                (Some(_), Some(in_sync)) => in_sync,
            };
            if !in_sync {
                return Next::Wait {
                    note: "waiting for Route53 INSYNC".to_owned(),
                };
            }
            record_advance(
                record,
                "Route53 change INSYNC; bake time starts".to_owned(),
                cx.now,
            )
        }
    }
}

/// Why the live weights show a hand edit: they are neither what the record last wrote nor the
/// weights about to be written (already in place after a crash). `None` when they are one of
/// the two. A target absent on either side weighs 0.
pub fn hand_edited(
    record: &DeploymentRecord,
    target: &BTreeMap<String, u8>,
    live: &BTreeMap<String, i64>,
) -> Option<String> {
    let names: std::collections::BTreeSet<&String> =
        target.keys().chain(record.weights.keys()).collect();
    let weight =
        |map: &BTreeMap<String, u8>, name: &String| i64::from(map.get(name).copied().unwrap_or(0));
    let live_of = |name: &String| live.get(name).copied().unwrap_or(0);
    let matches = |map: &BTreeMap<String, u8>| names.iter().all(|n| live_of(n) == weight(map, n));
    if matches(&record.weights) || matches(target) {
        return None;
    }
    let show = |f: &dyn Fn(&String) -> i64| {
        names
            .iter()
            .map(|n| format!("{n}={}", f(n)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some(format!(
        "the Route53 weights were changed outside this deployment: live {} but the deployment last wrote {}; stopped without changing anything",
        show(&|n| live_of(n)),
        show(&|n| weight(&record.weights, n)),
    ))
}

/// A lifecycle hook: a task or a backup is started once (claimed like any change), then asked
/// about on every invocation; a Lambda hook is asked on every invocation until it answers.
fn hook_step(
    record: &DeploymentRecord,
    progress: &Progress,
    at: HookPoint,
    hook: &Hook,
    observed: &Observed,
    cx: &Context<'_>,
) -> Next {
    let describe = Step::Hook {
        at,
        hook: hook.clone(),
    }
    .describe();
    let (since, handle) = match (&progress.phase, hook) {
        (Phase::Ready | Phase::Acting { .. }, Hook::Lambda { .. }) => {
            (progress.step_started_at, None)
        }
        (Phase::Ready | Phase::Acting { .. }, _) => {
            return act(
                progress,
                Change::StartHook {
                    hook: hook.clone(),
                    run: hooks::run_name(&progress.deployment_id, progress.step),
                },
                &format!("starting the {describe}"),
                cx,
            )
        }
        (Phase::Waiting { since, change_id }, _) => (*since, change_id.clone()),
    };
    let Some(status) = &observed.hook else {
        return Next::Observe(Observation::Hook {
            hook: hook.clone(),
            handle,
            since,
        });
    };
    let before_traffic = progress.step < first_shift(progress)
        || matches!(at, HookPoint::PreDeploy | HookPoint::PreTraffic);
    let untouched = if before_traffic {
        "; no traffic was shifted"
    } else {
        ""
    };
    match status {
        HookStatus::Succeeded(detail) => {
            let mut next = advanced(record, cx.now);
            next.push_history(cx.now, "hook_succeeded", format!("{describe}: {detail}"));
            self::record(next, format!("{describe} succeeded: {detail}"))
        }
        HookStatus::Failed(detail) => abort(
            record,
            AbortKind::Hook,
            format!("{describe} failed: {detail}{untouched}"),
            None,
            cx.now,
        ),
        HookStatus::Running(detail) => {
            let timeout = i64::from(hook.timeout_seconds());
            if (cx.now - since).num_seconds() > timeout {
                return abort(
                    record,
                    AbortKind::Hook,
                    format!("{describe} did not finish within {timeout} s ({detail}){untouched}"),
                    None,
                    cx.now,
                );
            }
            Next::Wait {
                note: format!("{describe}: {detail}"),
            }
        }
    }
}

fn bake(
    record: &DeploymentRecord,
    progress: &Progress,
    seconds: u32,
    observed: &Observed,
    cx: &Context<'_>,
) -> Next {
    let describe = Step::Bake { seconds }.describe();
    if let Err(next) = gate(record, observed, cx, |f| {
        format!(
            "alarm {} went into ALARM during {describe}: {}",
            f.name, f.reason
        )
    }) {
        return next;
    }
    let analysis = cx.analysis.zip(cx.sides);
    let run = progress.analysis.clone().unwrap_or_default();
    // The checks due now are measured on every invocation of a bake, whatever else happens.
    if let Some((config, sides)) = analysis {
        let due = measure::due(config, &run, cx.now);
        if !due.is_empty() {
            let Some(measured) = &observed.metrics else {
                return Next::Observe(Observation::Metrics {
                    requests: measure::requests(
                        config,
                        &due,
                        &sides.candidate,
                        sides.baseline.as_ref(),
                        cx.now,
                    ),
                });
            };
            let run = fold_measurements(config, &run, &due, measured, cx.now);
            return after_measuring(record, config, run, &sides.candidate, cx.now);
        }
    }
    if progress.skip_bake || progress.fast_forward {
        let mut next = advanced(record, cx.now);
        if let Some(p) = next.progress.as_mut() {
            p.skip_bake = false;
        }
        return self::record(
            next,
            format!("{describe} ended by an operator's promote; alarms quiet"),
        );
    }
    let baked = (cx.now - progress.step_started_at).num_milliseconds();
    let needed = i64::from(seconds) * 1000;
    let Some((config, sides)) = analysis else {
        if baked < needed {
            return Next::Wait {
                note: format!("baking, {} s of {seconds} s; alarms quiet", baked / 1000),
            };
        }
        return record_advance(
            record,
            format!("baked {seconds} s with alarms quiet"),
            cx.now,
        );
    };
    let verdict = bake_verdict(config, &run, &sides.candidate);
    if baked < needed {
        return Next::Wait {
            note: format!(
                "baking, {} s of {seconds} s; alarms quiet; {}",
                baked / 1000,
                analysis_note(&verdict)
            ),
        };
    }
    match verdict {
        Verdict::Running { .. } => {
            return Next::Wait {
                note: format!("baked {seconds} s; {}", analysis_note(&verdict)),
            }
        }
        Verdict::Inconclusive { reason, .. } => {
            return pause_inconclusive(record, &run, reason, cx.now);
        }
        Verdict::Failed { check, reason } => {
            return abort(
                record,
                AbortKind::Analysis,
                reason,
                Some(format!("analysis:{check}")),
                cx.now,
            );
        }
        Verdict::Passed => {}
    }
    let checks = if config.metrics.is_empty() {
        String::new()
    } else {
        format!(", {} metric check(s) passed", config.metrics.len())
    };
    let (Some(judge_config), Some(baseline)) = (&config.judge, &sides.baseline) else {
        return record_advance(
            record,
            format!("baked {seconds} s with alarms quiet{checks}"),
            cx.now,
        );
    };
    let Some(samples) = &observed.judged else {
        return Next::Observe(Observation::Judge {
            requests: judge::judge_requests(
                judge_config,
                &sides.candidate,
                baseline,
                progress.step_started_at,
                cx.now,
            ),
        });
    };
    let judgement = judge::judge(judge_config, samples);
    let summary = judgement.summary.clone();
    let (run, outcome) = judge::after_judgement(judge_config, &run, judgement);
    match outcome {
        JudgeOutcome::Pass => {
            let mut next = with_run(record, run, cx.now);
            if let Some(p) = next.progress.as_mut() {
                p.advance(cx.now);
            }
            next.push_history(cx.now, "judge_passed", summary.clone());
            self::record(
                next,
                format!("baked {seconds} s with alarms quiet{checks}; judge: {summary}"),
            )
        }
        JudgeOutcome::Hold { holds } => {
            // Marginal: the step is held for another bake, its checks measured afresh.
            let mut run = run;
            run.checks.clear();
            let mut next = with_run(record, run, cx.now);
            if let Some(p) = next.progress.as_mut() {
                p.step_started_at = cx.now;
                p.phase = Phase::Ready;
            }
            next.push_history(cx.now, "judge_marginal", summary.clone());
            self::record(
                next,
                format!("judge marginal ({holds} hold(s)); baking again: {summary}"),
            )
        }
        JudgeOutcome::Fail { reason } => abort(
            &with_run(record, run, cx.now),
            AbortKind::Analysis,
            reason,
            Some("analysis:judge".to_owned()),
            cx.now,
        ),
    }
}

/// Where a bake's checks stand, their queries shown as read for `candidate`.
fn bake_verdict(config: &AnalysisConfig, run: &AnalysisRun, candidate: &SideNames) -> Verdict {
    measure::verdict_in(config, run, measure::Phase::Bake, Some(candidate))
}

/// The analysis run with the series just read folded in, one measurement per due check.
fn fold_measurements(
    config: &AnalysisConfig,
    run: &AnalysisRun,
    due: &[String],
    measured: &[(String, Side, Series)],
    now: DateTime<Utc>,
) -> AnalysisRun {
    let missing: Series = Err("not read".to_owned());
    let mut run = run.clone();
    for check in due {
        let find = |side: Side| {
            measured
                .iter()
                .find(|(c, s, _)| c == check && *s == side)
                .map(|(_, _, series)| series)
        };
        let candidate = find(Side::Candidate).unwrap_or(&missing);
        run = measure::record(config, &run, check, candidate, find(Side::Baseline), now);
    }
    run
}

/// The record with `run` as the current bake's analysis.
fn with_run(record: &DeploymentRecord, run: AnalysisRun, now: DateTime<Utc>) -> DeploymentRecord {
    let mut next = record.clone();
    if let Some(p) = next.progress.as_mut() {
        p.analysis = Some(run);
    }
    next.updated_at = now;
    next
}

/// Records a measurement: a failed check rolls back, an inconclusive one pauses for an
/// operator, anything else is written and the machine decides again.
fn after_measuring(
    record: &DeploymentRecord,
    config: &AnalysisConfig,
    run: AnalysisRun,
    candidate: &SideNames,
    now: DateTime<Utc>,
) -> Next {
    let verdict = bake_verdict(config, &run, candidate);
    match verdict {
        Verdict::Failed { check, reason } => abort(
            &with_run(record, run, now),
            AbortKind::Analysis,
            reason,
            Some(format!("analysis:{check}")),
            now,
        ),
        Verdict::Inconclusive { reason, .. } => pause_inconclusive(record, &run, reason, now),
        Verdict::Running { .. } | Verdict::Passed => Next::Record {
            note: format!("measured; {}", analysis_note(&verdict)),
            record: Box::new(with_run(record, run, now)),
            again: true,
        },
    }
}

/// An inconclusive analysis holds the deployment for an operator (`resume` measures again and
/// holds again while the data stays missing; `promote` ends the bake; `abort` reverts).
fn pause_inconclusive(
    record: &DeploymentRecord,
    run: &AnalysisRun,
    reason: String,
    now: DateTime<Utc>,
) -> Next {
    let mut next = with_run(record, run.clone(), now);
    if let Some(p) = next.progress.as_mut() {
        p.paused = Some(Paused {
            by: "analysis".to_owned(),
            at: now,
            reason: reason.clone(),
        });
    }
    next.push_history(now, "analysis_inconclusive", reason.clone());
    self::record(next, format!("paused: {reason}"))
}

/// Where the analysis stands, for the job summary.
fn analysis_note(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Running { measured, needed } => {
            format!("analysis {measured} of {needed} measurement(s)")
        }
        Verdict::Passed => "analysis passed".to_owned(),
        Verdict::Failed { reason, .. } | Verdict::Inconclusive { reason, .. } => reason.clone(),
    }
}

fn promote(record: &DeploymentRecord, progress: &Progress, cx: &Context<'_>) -> Next {
    let before = record.clone();
    let mut next = record.clone();
    let mut progress = progress.clone();
    next.status = DeploymentStatus::Promoted;
    progress.step = progress.steps.len();
    progress.outcome = Some(Outcome::Promoted);
    progress.finished_at = Some(cx.now);
    progress.rollback_window_until = Some(cx.rollback_window_until);
    progress.skip_bake = false;
    progress.fast_forward = false;
    progress.analysis = None;
    next.push_history(
        cx.now,
        "promoted",
        format!(
            "{} serves all traffic; rollback window until {}",
            progress.task_definition.as_deref().unwrap_or_default(),
            cx.rollback_window_until.to_rfc3339()
        ),
    );
    next.progress = Some(progress);
    next.updated_at = cx.now;
    let audit = release::owed_audit(
        &next,
        "deployment_promoted",
        "succeeded",
        cx.actor,
        "promoted",
        Some(&before),
        cx.now,
    );
    next.owe_audit(audit);
    Next::Promote(Box::new(next))
}

/// The record once a stopped deployment is reverted (traffic on `weights`, when it shifts
/// traffic, and the services on the stable version): FAILED for a failed check or rollout,
/// ROLLED_BACK for an alarm or an operator's abort (the release then remembered as rolled
/// back), with the audit record owed.
pub fn reverted(
    record: &DeploymentRecord,
    abort: &Abort,
    weights: Option<&BTreeMap<String, u8>>,
    actor: &str,
    now: DateTime<Utc>,
) -> (DeploymentRecord, Outcome) {
    let outcome = match abort.kind {
        AbortKind::Alarm | AbortKind::Operator | AbortKind::Analysis => Outcome::RolledBack,
        _ => Outcome::Failed,
    };
    let mut next = record.clone();
    next.status = if outcome == Outcome::RolledBack {
        DeploymentStatus::RolledBack
    } else {
        DeploymentStatus::Failed
    };
    if let Some(weights) = weights {
        next.weights = weights.clone();
    }
    let deployment = record.deployment_id.clone().unwrap_or_default();
    match abort.kind {
        AbortKind::Alarm | AbortKind::Analysis => {
            let trigger = if abort.kind == AbortKind::Alarm {
                "gate"
            } else {
                "analysis"
            };
            next.rollback = Some(RollbackMark {
                trigger_id: format!("{deployment}/{trigger}"),
                alarm: abort.alarm.clone().unwrap_or_default(),
                reason: abort.reason.clone(),
                started_at: abort.at,
                completed_at: Some(now),
                from: record.candidate.clone(),
                by: None,
            });
        }
        AbortKind::Operator => {
            let by = abort.by.clone().unwrap_or_else(|| "an operator".to_owned());
            next.rollback = Some(RollbackMark {
                trigger_id: format!("{deployment}/operator"),
                alarm: String::new(),
                reason: abort.reason.clone(),
                started_at: abort.at,
                completed_at: Some(now),
                from: record.candidate.clone(),
                by: Some(by),
            });
        }
        _ => {}
    }
    next.candidate = None;
    if let Some(progress) = next.progress.as_mut() {
        progress.outcome = Some(outcome);
        progress.finished_at = Some(now);
        progress.paused = None;
    }
    next.push_history(
        now,
        if outcome == Outcome::RolledBack {
            "rolled_back"
        } else {
            "failed"
        },
        format!(
            "back on {}: {}",
            record.stable.task_definition, abort.reason
        ),
    );
    next.updated_at = now;
    if outcome == Outcome::RolledBack {
        if let Some(rolled_back) = release::current_rollback(&next) {
            next.remember_rolled_back(rolled_back);
        }
    }
    let audit = release::owed_audit(
        &next,
        &format!("deployment_{}", outcome.as_str()),
        "failed",
        actor,
        &abort.reason,
        Some(record),
        now,
    );
    next.owe_audit(audit);
    (next, outcome)
}

#[cfg(test)]
pub(crate) mod tests;
