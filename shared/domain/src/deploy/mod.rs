//! deploy-hook's domain: the steps of a deployment, where one stands, and the decisions taken
//! between invocations.
//!
//! A deployment is a list of [`Step`]s computed once, when it starts, and stored in the service's
//! deployment record with the index of the current step and its [`Phase`]. Every invocation of
//! deploy-hook advances the current step by one phase and writes the record with
//! compare-and-swap, so the record (not the function, not the pipeline's continuation token)
//! says what has been done: a duplicate or resumed invocation reads it and never repeats a
//! traffic shift or skips a gate.
//!
//! - [`analysis`]: metric checks and the canary-vs-baseline judge while a deployment bakes.
//! - [`hooks`]: lifecycle hooks (an ECS task, a Lambda function, a backup of a plan).
//! - [`gates`]: quality gates on the task definition about to run.
//! - [`release`]: which release a job asks for, a stage retry adopting the deployment of the
//!   same release, and the finality of a rollback.
//! - [`machine`]: the deployment state machine: from the record, what this invocation observed
//!   and the operator's commands, the next action and the record after it.
//! - [`notice`]: notifications of a deployment in flight (started, holding at a bake, paused)
//!   and the commands they offer.
//! - [`record`]: the service's deployment record the machine reads and writes.
//! - [`command`]: operator commands (pause, resume, promote, abort, retry), checked against the
//!   record and stored in it.
//! - [`watch`]: post-promotion analysis during the rollback window.
//! - [`window`]: deployment windows.

pub mod analysis;
pub mod command;
pub mod gates;
pub mod hooks;
pub mod machine;
pub mod notice;
pub mod record;
pub mod release;
pub mod watch;
pub mod window;

pub use command::{CommandKind, OperatorCommand};
pub use machine::{next, Change, Next, Observation, Observed};
pub use release::{admit, Admission, ReleaseSpec};

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{ServiceConfig, Strategy};
use crate::deploy::hooks::{Hook, HooksConfig};
use crate::deploy::record::{DeploymentRecord, DeploymentStatus, FULL_WEIGHT};

/// One step of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Register the new task definition revision (the stable one with the new image).
    Register,
    /// Put an ECS service on the new revision and wait until its rollout completes.
    Deploy {
        /// The ECS service.
        ecs_service: String,
        /// How ECS replaces the tasks.
        mode: EcsMode,
    },
    /// Health checks and smoke tests of the new version, and the alarm gate, before traffic.
    Verify {
        /// The color under test (traffic strategies).
        #[serde(default)]
        target: Option<String>,
    },
    /// Write Route53 weights and wait until the change is `INSYNC`.
    Shift {
        /// Share of traffic on the new version after this step.
        percent: u8,
        /// Weight per target (set identifier).
        weights: BTreeMap<String, u8>,
    },
    /// Wait, checking the alarm gate on every invocation.
    Bake {
        /// How long.
        seconds: u32,
    },
    /// Run a lifecycle hook and wait for its answer.
    Hook {
        /// Where in the deployment it runs.
        at: HookPoint,
        /// The hook, as configured when the deployment started.
        hook: Hook,
    },
    /// Mark the new version promoted; the old one stays warm for the rollback window.
    Promote,
}

/// Where a lifecycle hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPoint {
    /// Once the new task definition is registered, before any service changes.
    PreDeploy,
    /// Once the new version is deployed and verified, before any weight moves.
    PreTraffic,
    /// After a traffic shift is in sync, before its bake.
    PostShift,
    /// Once all traffic is on the new version and baked.
    PostPromote,
}

impl HookPoint {
    /// The point as written in the config (`pre_deploy`).
    pub fn as_str(self) -> &'static str {
        match self {
            HookPoint::PreDeploy => "pre_deploy",
            HookPoint::PreTraffic => "pre_traffic",
            HookPoint::PostShift => "post_shift",
            HookPoint::PostPromote => "post_promote",
        }
    }
}

impl Step {
    /// A short human description (`shift 10%`).
    pub fn describe(&self) -> String {
        match self {
            Step::Register => "register task definition".into(),
            Step::Deploy { ecs_service, mode } => {
                format!("deploy {ecs_service} ({})", mode.as_str())
            }
            Step::Verify { target: Some(t) } => format!("verify {t}"),
            Step::Verify { target: None } => "verify".into(),
            Step::Shift { percent, .. } => format!("shift {percent}%"),
            Step::Bake { seconds } => format!("bake {seconds}s"),
            Step::Hook { at, hook } => format!("{} hook {}", at.as_str(), hook.describe()),
            Step::Promote => "promote".into(),
        }
    }

    /// The step's kind as a metric dimension (`shift`).
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Register => "register",
            Step::Deploy { .. } => "deploy",
            Step::Verify { .. } => "verify",
            Step::Shift { .. } => "shift",
            Step::Bake { .. } => "bake",
            Step::Hook { .. } => "hook",
            Step::Promote => "promote",
        }
    }
}

/// How ECS replaces a service's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EcsMode {
    /// Stop every old task, start the new ones (minimum healthy 0 %, maximum 100 %).
    AllAtOnce,
    /// Start new tasks before stopping old ones (100 % / 200 %), with the deployment circuit
    /// breaker and its automatic rollback on.
    Rolling,
    /// The idle color of a blue/green pair: no traffic yet, sized like the live color.
    Idle,
}

impl EcsMode {
    /// The mode as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            EcsMode::AllAtOnce => "all_at_once",
            EcsMode::Rolling => "rolling",
            EcsMode::Idle => "idle color",
        }
    }
}

/// Where the current step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Nothing done yet for this step.
    Ready,
    /// An invocation claimed the step and is making its change; another invocation leaves it
    /// alone until the lease runs out, then repeats the change (every change is idempotent).
    /// A retry of the claiming invocation, or a job of a stage retry that adopted the
    /// deployment, takes it over at once (see [`claim_verdict`]).
    Acting {
        /// When the claim was written.
        since: DateTime<Utc>,
        /// Who claimed it (absent in claims written by older versions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Claimant>,
    },
    /// The change is made; waiting for AWS to finish it (ECS rollout, Route53 `INSYNC`).
    Waiting {
        /// When the change was made.
        since: DateTime<Utc>,
        /// Route53 change id, for `GetChange`.
        #[serde(default)]
        change_id: Option<String>,
    },
}

/// The writer of a claim or a record: the pipeline job, the invocation (Lambda request id) and
/// the chain of jobs it belongs to (the job without a continuation token that began it: the
/// first job, or the job of a stage retry). Carried in what is written so that equal bytes mean
/// the same writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimant {
    /// The pipeline job.
    pub job_id: String,
    /// The invocation (Lambda request id).
    pub invocation: String,
    /// The job chain: the first job of the pipeline run or of its latest stage retry.
    #[serde(default)]
    pub chain: Option<String>,
    /// The job's place in its chain (0 for the chain's first job; each continuation adds 1).
    #[serde(default)]
    pub seq: u32,
}

/// Whether an invocation may claim the current step for its change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimVerdict {
    /// Nobody holds it (or the holder's lease ran out).
    Free,
    /// The holder is gone for sure: a retry of the same invocation (same job, same request id),
    /// an earlier job of the same chain (it handed over its continuation token, so it ended),
    /// or a job chain that no longer drives the deployment (a stage retry adopted it). The
    /// claimed change is an absolute target, so repeating it is safe.
    TakeOver,
    /// Another live invocation holds it until its lease ends.
    Held,
}

/// Decides whether `me` may claim the current step of `progress` at `now`.
pub fn claim_verdict(
    progress: &Progress,
    me: &Claimant,
    now: DateTime<Utc>,
    lease: Duration,
) -> ClaimVerdict {
    let Phase::Acting { since, by } = &progress.phase else {
        return ClaimVerdict::Free;
    };
    if let Some(holder) = by {
        if holder.job_id == me.job_id && holder.invocation == me.invocation {
            return ClaimVerdict::TakeOver;
        }
        let holder_chain = holder.chain.as_deref().unwrap_or(&progress.deployment_id);
        if holder_chain != progress.driver() {
            return ClaimVerdict::TakeOver;
        }
        if me.chain.as_deref() == Some(holder_chain) && holder.seq < me.seq {
            return ClaimVerdict::TakeOver;
        }
    }
    if now - *since < lease {
        ClaimVerdict::Held
    } else {
        ClaimVerdict::Free
    }
}

/// Why a deployment stopped short of promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortKind {
    /// A health check or smoke test failed.
    HealthCheck,
    /// A gating alarm was in ALARM.
    Alarm,
    /// ECS could not complete the rollout (the circuit breaker rolled it back).
    EcsRollout,
    /// ECS did not finish within the stabilize timeout.
    Timeout,
    /// An operator aborted it (`opsctl deploy abort`).
    Operator,
    /// A metric analysis check or the baseline judge failed (rolled back like an alarm).
    Analysis,
    /// A lifecycle hook failed or did not answer in time.
    Hook,
    /// The Route53 weights were changed by hand: the deployment stops and changes nothing.
    TrafficEdited,
}

/// A deployment being stopped: claimed before the revert, so a crash mid-revert resumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Abort {
    /// Why.
    pub kind: AbortKind,
    /// The reason for people (and the pipeline's failure message).
    pub reason: String,
    /// The alarm, for [`AbortKind::Alarm`].
    #[serde(default)]
    pub alarm: Option<String>,
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// The operator, for [`AbortKind::Operator`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// How a deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Promoted: the new version serves all traffic.
    Promoted,
    /// Stopped by a gate or health check and reverted.
    Failed,
    /// Rolled back because of an alarm (by deploy-hook's gate or by alarm-rollback).
    RolledBack,
}

impl Outcome {
    /// As a metric dimension.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Promoted => "promoted",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled_back",
        }
    }
}

/// A deployment's progress, kept in the service's deployment record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The deployment's id: the id of the pipeline job that started it.
    pub deployment_id: String,
    /// The job that last advanced it.
    pub job_id: String,
    /// The image being deployed.
    pub image: String,
    /// The container that gets it.
    pub container: String,
    /// The task definition the new revision is made from.
    pub base_task_definition: String,
    /// The new revision, once registered.
    #[serde(default)]
    pub task_definition: Option<String>,
    /// The color receiving the new version (traffic strategies).
    #[serde(default)]
    pub target: Option<String>,
    /// Every step, computed at the start.
    pub steps: Vec<Step>,
    /// Index of the current step (`steps.len()` once finished).
    pub step: usize,
    /// Where the current step stands.
    pub phase: Phase,
    /// When the deployment started.
    pub started_at: DateTime<Utc>,
    /// When the current step started.
    pub step_started_at: DateTime<Utc>,
    /// Quality gate warnings, reported in the summary.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Set while a failed deployment is being reverted.
    #[serde(default)]
    pub abort: Option<Abort>,
    /// How it ended.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// When it ended.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Until when the old version is kept warm after promotion.
    #[serde(default)]
    pub rollback_window_until: Option<DateTime<Utc>>,
    /// What else identifies the release besides its image: the job's `UserParameters` that
    /// shape the deployment (container, overrides), canonical JSON.
    #[serde(default)]
    pub shape: String,
    /// The job chain driving the deployment: the first job's id, or the job of the stage retry
    /// that adopted it last. Absent: the first job ([`Progress::deployment_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Who wrote the record last (so an answer lost after the write is recognised as ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<Claimant>,
    /// Held by an operator: no step starts and a bake does not count until resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<Paused>,
    /// An operator's `promote`: the current (or next) bake ends once its alarm gate is checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_bake: bool,
    /// An operator's `promote --full`: straight to 100 %, every remaining bake ended once its
    /// alarm gate is checked (the new version is still deployed and verified first).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fast_forward: bool,
    /// The current bake's metric analysis (measurements so far, marginal holds), or after
    /// promotion the analysis of the rollback window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<analysis::measure::AnalysisRun>,
}

/// An operator's pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    /// Who paused (the caller's identity).
    pub by: String,
    /// When the pause took effect.
    pub at: DateTime<Utc>,
    /// Why, in the operator's words.
    #[serde(default)]
    pub reason: String,
}

impl Progress {
    /// The job chain driving the deployment.
    pub fn driver(&self) -> &str {
        self.driver.as_deref().unwrap_or(&self.deployment_id)
    }

    /// The current step, `None` once every step is done.
    pub fn current(&self) -> Option<&Step> {
        self.steps.get(self.step)
    }

    /// Percent of steps done.
    pub fn percent_complete(&self) -> i32 {
        if self.steps.is_empty() {
            return 100;
        }
        let done = self.step.min(self.steps.len());
        i32::try_from(done * 100 / self.steps.len()).unwrap_or(100)
    }

    /// Moves to the next step.
    pub fn advance(&mut self, now: DateTime<Utc>) {
        self.step += 1;
        self.phase = Phase::Ready;
        self.step_started_at = now;
        self.analysis = None;
    }
}

/// Why a deployment plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A traffic strategy without `traffic` (the validator prevents it).
    #[error("service {0} shifts traffic but has no `traffic` section")]
    NoTraffic(String),
    /// An in-place strategy without `ecs_service` (the validator prevents it).
    #[error("service {0} has no `ecs_service`")]
    NoEcsService(String),
    /// The live color is not one of the configured targets.
    #[error("service {service}: live target \"{target}\" is not among the configured targets")]
    UnknownTarget {
        /// Service.
        service: String,
        /// The live target.
        target: String,
    },
}

/// The weights that put `percent` of the traffic on `candidate` and the rest on `stable`.
pub fn weights_for(stable: &str, candidate: &str, percent: u8) -> BTreeMap<String, u8> {
    let percent = percent.min(FULL_WEIGHT);
    [
        (stable.to_owned(), FULL_WEIGHT - percent),
        (candidate.to_owned(), percent),
    ]
    .into()
}

/// The traffic percentages a strategy moves through.
pub fn traffic_percents(strategy: Strategy, config: &ServiceConfig) -> Vec<u8> {
    match strategy {
        Strategy::BlueGreen => vec![FULL_WEIGHT],
        Strategy::Canary => config.deploy.canary_steps.clone(),
        Strategy::Linear => {
            let step = config.deploy.step_percent.clamp(1, FULL_WEIGHT);
            let mut percents: Vec<u8> = (1..)
                .map(|i: u16| u16::from(step) * i)
                .take_while(|p| *p < u16::from(FULL_WEIGHT))
                .filter_map(|p| u8::try_from(p).ok())
                .collect();
            percents.push(FULL_WEIGHT);
            percents
        }
        Strategy::AllAtOnce | Strategy::Rolling => Vec::new(),
    }
}

/// The steps of a deployment of `service` whose live color is `stable_target` (traffic
/// strategies). Returns the steps and the color that receives the new version.
pub fn plan(
    service: &str,
    strategy: Strategy,
    config: &ServiceConfig,
    stable_target: Option<&str>,
) -> Result<(Vec<Step>, Option<String>), PlanError> {
    let bake = Step::Bake {
        seconds: config.deploy.bake_seconds,
    };
    if !strategy.shifts_traffic() {
        let ecs_service = config
            .ecs_service
            .clone()
            .ok_or_else(|| PlanError::NoEcsService(service.to_owned()))?;
        let mode = if strategy == Strategy::AllAtOnce {
            EcsMode::AllAtOnce
        } else {
            EcsMode::Rolling
        };
        let hooks = &config.deploy.hooks;
        let mut steps = vec![Step::Register];
        steps.extend(hook_steps(HookPoint::PreDeploy, hooks));
        steps.push(Step::Deploy { ecs_service, mode });
        steps.push(Step::Verify { target: None });
        steps.extend(hook_steps(HookPoint::PreTraffic, hooks));
        steps.push(bake);
        steps.extend(hook_steps(HookPoint::PostPromote, hooks));
        steps.push(Step::Promote);
        return Ok((steps, None));
    }
    let traffic = config
        .traffic
        .as_ref()
        .ok_or_else(|| PlanError::NoTraffic(service.to_owned()))?;
    let stable = stable_target
        .map(str::to_owned)
        .or_else(|| traffic.targets.keys().next().cloned())
        .unwrap_or_default();
    if !traffic.targets.contains_key(&stable) {
        return Err(PlanError::UnknownTarget {
            service: service.to_owned(),
            target: stable,
        });
    }
    let (candidate, idle) = traffic
        .targets
        .iter()
        .find(|(name, _)| **name != stable)
        .ok_or_else(|| PlanError::UnknownTarget {
            service: service.to_owned(),
            target: stable.clone(),
        })?;
    let hooks = &config.deploy.hooks;
    let mut steps = vec![Step::Register];
    steps.extend(hook_steps(HookPoint::PreDeploy, hooks));
    steps.push(Step::Deploy {
        ecs_service: idle.ecs_service.clone(),
        mode: EcsMode::Idle,
    });
    steps.push(Step::Verify {
        target: Some(candidate.clone()),
    });
    steps.extend(hook_steps(HookPoint::PreTraffic, hooks));
    for percent in traffic_percents(strategy, config) {
        steps.push(Step::Shift {
            percent,
            weights: weights_for(&stable, candidate, percent),
        });
        steps.extend(hook_steps(HookPoint::PostShift, hooks));
        steps.push(bake.clone());
    }
    steps.extend(hook_steps(HookPoint::PostPromote, hooks));
    steps.push(Step::Promote);
    Ok((steps, Some(candidate.clone())))
}

/// The hook steps configured at `at`, in order.
fn hook_steps(at: HookPoint, hooks: &HooksConfig) -> Vec<Step> {
    let list = match at {
        HookPoint::PreDeploy => &hooks.pre_deploy,
        HookPoint::PreTraffic => &hooks.pre_traffic,
        HookPoint::PostShift => &hooks.post_shift,
        HookPoint::PostPromote => &hooks.post_promote,
    };
    list.iter()
        .map(|hook| Step::Hook {
            at,
            hook: hook.clone(),
        })
        .collect()
}

/// The record with a promoted candidate made the stable version (the rollback window is over,
/// or a new deployment supersedes it). Returns the target (color) that no longer serves, whose
/// ECS service may be scaled to zero. Other statuses are returned unchanged.
pub fn settle(record: &DeploymentRecord, now: DateTime<Utc>) -> (DeploymentRecord, Option<String>) {
    let mut next = record.clone();
    if record.status != DeploymentStatus::Promoted {
        return (next, None);
    }
    let Some(candidate) = next.candidate.take() else {
        next.status = DeploymentStatus::Stable;
        return (next, None);
    };
    let old_target = next.stable.target.clone();
    next.previous = Some(std::mem::replace(&mut next.stable, candidate));
    next.status = DeploymentStatus::Stable;
    next.updated_at = now;
    next.push_history(
        now,
        "settled",
        format!(
            "{} is the stable version; rollback window closed",
            next.stable.task_definition
        ),
    );
    let retired = old_target.filter(|old| Some(old) != next.stable.target.as_ref());
    (next, retired)
}

/// Whether a promoted record's rollback window is over at `now`.
pub fn window_closed(record: &DeploymentRecord, now: DateTime<Utc>) -> bool {
    record.status == DeploymentStatus::Promoted
        && record
            .progress
            .as_ref()
            .and_then(|p| p.rollback_window_until)
            .is_none_or(|until| now >= until)
}

/// The rollback window's end for a promotion at `now`.
pub fn rollback_window_until(config: &ServiceConfig, now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::seconds(i64::from(config.deploy.rollback_window_seconds))
}

/// The continuation token handed to CodePipeline between invocations (at most 2048 characters).
/// It only names the deployment: where it stands is in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Format version.
    pub v: u8,
    /// Service.
    pub service: String,
    /// Deployment id (the first job's id).
    pub deployment: String,
    /// True while the deployment has not started (waiting for its window or a busy service).
    #[serde(default)]
    pub queued: bool,
    /// The job chain (first job without a token: the pipeline run's or a stage retry's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The place in the chain of the job that gets this token.
    #[serde(default)]
    pub seq: u32,
}

impl Token {
    /// The token as CodePipeline carries it.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a token; `None` when it is not one of ours.
    pub fn decode(text: &str) -> Option<Token> {
        serde_json::from_str::<Token>(text)
            .ok()
            .filter(|token| token.v == 1)
    }
}

/// Cuts `text` to at most `max` characters (CodePipeline's summary and token limits count
/// characters), marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DeployConfig, TargetConfig, TrafficConfig};
    use crate::deploy::record::Release;
    use chrono::TimeZone;

    /// A two-color service (`blue`/`green`) or an in-place one, for the deploy tables.
    pub(super) fn service(strategy: Strategy) -> ServiceConfig {
        let traffic = strategy.shifts_traffic().then(|| TrafficConfig {
            zone_id: Some("Z1".into()),
            zone_name: None,
            record_name: "api.example.com.".into(),
            record_type: crate::config::RecordType::Cname,
            ttl: 60,
            targets: [
                (
                    "blue".to_owned(),
                    TargetConfig {
                        ecs_service: "api-blue".into(),
                        value: "b".into(),
                    },
                ),
                (
                    "green".to_owned(),
                    TargetConfig {
                        ecs_service: "api-green".into(),
                        value: "g".into(),
                    },
                ),
            ]
            .into(),
        });
        ServiceConfig {
            cluster: "prod".into(),
            strategy,
            ecs_service: (!strategy.shifts_traffic()).then(|| "api".to_owned()),
            traffic,
            deploy: DeployConfig {
                bake_seconds: 120,
                step_percent: 30,
                ..DeployConfig::default()
            },
        }
    }

    fn render(steps: &[Step]) -> Vec<String> {
        steps.iter().map(Step::describe).collect()
    }

    #[test]
    fn plans_per_strategy() {
        let cases: [(Strategy, Option<&str>, &[&str]); 5] = [
            (
                Strategy::AllAtOnce,
                None,
                &[
                    "register task definition",
                    "deploy api (all_at_once)",
                    "verify",
                    "bake 120s",
                    "promote",
                ],
            ),
            (
                Strategy::Rolling,
                None,
                &[
                    "register task definition",
                    "deploy api (rolling)",
                    "verify",
                    "bake 120s",
                    "promote",
                ],
            ),
            (
                Strategy::BlueGreen,
                Some("blue"),
                &[
                    "register task definition",
                    "deploy api-green (idle color)",
                    "verify green",
                    "shift 100%",
                    "bake 120s",
                    "promote",
                ],
            ),
            (
                Strategy::Canary,
                Some("green"),
                &[
                    "register task definition",
                    "deploy api-blue (idle color)",
                    "verify blue",
                    "shift 10%",
                    "bake 120s",
                    "shift 50%",
                    "bake 120s",
                    "shift 100%",
                    "bake 120s",
                    "promote",
                ],
            ),
            (
                Strategy::Linear,
                Some("blue"),
                &[
                    "register task definition",
                    "deploy api-green (idle color)",
                    "verify green",
                    "shift 30%",
                    "bake 120s",
                    "shift 60%",
                    "bake 120s",
                    "shift 90%",
                    "bake 120s",
                    "shift 100%",
                    "bake 120s",
                    "promote",
                ],
            ),
        ];
        for (strategy, stable, expect) in cases {
            let (steps, _) = plan("api", strategy, &service(strategy), stable).expect("plan");
            assert_eq!(render(&steps), expect, "{strategy:?}");
        }
        let (steps, target) = plan(
            "api",
            Strategy::Canary,
            &service(Strategy::Canary),
            Some("blue"),
        )
        .expect("plan");
        assert_eq!(target.as_deref(), Some("green"));
        assert_eq!(
            steps[3],
            Step::Shift {
                percent: 10,
                weights: [("blue".to_owned(), 90), ("green".to_owned(), 10)].into()
            }
        );
        assert!(matches!(
            plan(
                "api",
                Strategy::Canary,
                &service(Strategy::Canary),
                Some("red")
            ),
            Err(PlanError::UnknownTarget { .. })
        ));
    }

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0)
            .single()
            .expect("valid")
    }

    fn record(status: DeploymentStatus, deployment: &str) -> DeploymentRecord {
        let mut record = DeploymentRecord::new_stable(
            "api",
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
        record
    }

    #[test]
    fn who_may_take_over_a_claimed_step() {
        let me = |job: &str, invocation: &str, chain: &str| Claimant {
            job_id: job.into(),
            invocation: invocation.into(),
            chain: Some(chain.into()),
            seq: job.trim_start_matches('j').parse().unwrap_or(0),
        };
        let (steps, target) =
            plan("api", Strategy::Rolling, &service(Strategy::Rolling), None).expect("plan");
        let mut progress = Progress {
            deployment_id: "j0".into(),
            job_id: "j3".into(),
            image: "r/api:2".into(),
            container: "app".into(),
            base_task_definition: "td:1".into(),
            task_definition: None,
            target,
            steps,
            step: 1,
            phase: Phase::Ready,
            started_at: at(0),
            step_started_at: at(0),
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
        };
        let lease = Duration::seconds(120);
        let verdict =
            |p: &Progress, who: &Claimant, minute: u32| claim_verdict(p, who, at(minute), lease);
        assert_eq!(
            verdict(&progress, &me("j3", "r1", "j0"), 0),
            ClaimVerdict::Free
        );
        progress.phase = Phase::Acting {
            since: at(0),
            by: Some(me("j3", "r1", "j0")),
        };
        // A retry of the same invocation (same job, same request id): at once.
        assert_eq!(
            verdict(&progress, &me("j3", "r1", "j0"), 0),
            ClaimVerdict::TakeOver
        );
        // A concurrent copy of the job under another request id waits for the lease, and so
        // does a late copy of an earlier job of the chain.
        assert_eq!(
            verdict(&progress, &me("j3", "r2", "j0"), 1),
            ClaimVerdict::Held
        );
        assert_eq!(
            verdict(&progress, &me("j2", "r5", "j0"), 1),
            ClaimVerdict::Held
        );
        assert_eq!(
            verdict(&progress, &me("j2", "r5", "j0"), 3),
            ClaimVerdict::Free
        );
        // The next job of the chain got the claimant's token: the claimant ended.
        assert_eq!(
            verdict(&progress, &me("j4", "r5", "j0"), 1),
            ClaimVerdict::TakeOver
        );
        // Another chain that does not drive the deployment waits.
        assert_eq!(
            verdict(&progress, &me("j8", "r5", "j7"), 1),
            ClaimVerdict::Held
        );
        // A stage retry adopted the deployment: the old chain's claim is void.
        progress.driver = Some("j9".into());
        assert_eq!(
            verdict(&progress, &me("j9", "r9", "j9"), 1),
            ClaimVerdict::TakeOver
        );
        // Claims of older versions (no claimant) follow the lease only.
        progress.phase = Phase::Acting {
            since: at(0),
            by: None,
        };
        assert_eq!(
            verdict(&progress, &me("j9", "r9", "j9"), 1),
            ClaimVerdict::Held
        );
        let json = serde_json::to_string(&progress.phase).expect("json");
        assert_eq!(json, r#"{"phase":"acting","since":"2026-01-01T00:00:00Z"}"#);
    }

    #[test]
    fn settling_a_promotion_retires_the_old_color() {
        let mut promoted = record(DeploymentStatus::Promoted, "j0");
        promoted.candidate = Some(Release {
            task_definition: "td:2".into(),
            image: None,
            target: Some("green".into()),
        });
        let (settled, retired) = settle(&promoted, at(5));
        assert_eq!(settled.status, DeploymentStatus::Stable);
        assert_eq!(settled.stable.task_definition, "td:2");
        assert_eq!(settled.candidate, None);
        assert_eq!(retired.as_deref(), Some("blue"));
        let stable = record(DeploymentStatus::Stable, "j0");
        assert_eq!(settle(&stable, at(5)), (stable.clone(), None));
    }

    #[test]
    fn tokens_and_limits() {
        let token = Token {
            v: 1,
            service: "api".into(),
            deployment: "job-1".into(),
            queued: false,
            chain: Some("job-1".into()),
            seq: 3,
        };
        // A token of an older version (no chain) still reads.
        let old = Token::decode(r#"{"v":1,"service":"api","deployment":"job-0"}"#).expect("reads");
        assert_eq!(old.chain, None);
        assert_eq!(Token::decode(&token.encode()), Some(token));
        assert_eq!(Token::decode("garbage"), None);
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        let linear = traffic_percents(
            Strategy::Linear,
            &ServiceConfig {
                deploy: DeployConfig {
                    step_percent: 100,
                    ..DeployConfig::default()
                },
                ..service(Strategy::Linear)
            },
        );
        assert_eq!(linear, [100]);
    }
}
