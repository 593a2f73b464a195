//! The traffic stages of an ECS-driven deployment (`POST_TEST_TRAFFIC_SHIFT`,
//! `PRODUCTION_TRAFFIC_SHIFT` at each step, `POST_PRODUCTION_TRAFFIC_SHIFT`): the service's
//! `deploy.analysis` metric checks and, once they pass and the stage has baked
//! `deploy.bake_seconds`, the baseline judge — the rules of
//! [`ops_domain::deploy::analysis`], carried across ECS's `IN_PROGRESS` re-invocations.
//!
//! Sides: the candidate is the revision ECS deploys (`{color}` = `green`), the baseline the one
//! serving production next to it (`{color}` = `blue`) — the Developer Guide's names for them.
//! `{service}` is the ECS service (the same for both sides: ECS runs both revisions in one
//! service) and `{target}` the side's service revision ARN. After the production shift the
//! baseline has no traffic: `POST_PRODUCTION_TRAFFIC_SHIFT` measures only the checks that do not
//! read `baseline`, and only with `post_promotion` on.
//!
//! State: the run is a document in the state bucket per deployment, stage and production step
//! (`ops_domain::keys::ecs_hook_run`), created once (`If-None-Match: *`) and then replaced with
//! `If-Match`. A measurement counts only through that write: a duplicate or concurrent delivery
//! of the same stage loses the race, re-reads and answers from the winner's run, and an
//! invocation that finds no check due measures nothing. A verdict, once written, is the answer
//! to every later delivery. ECS would also hand back `hookDetails`, but the Developer Guide
//! gives no size for it and a copy in flight cannot be compared-and-swapped; it carries the
//! reason and the state's key only.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use ops_adapters::s3::{StateError, Versioned};
use ops_domain::deploy::analysis::judge::{self, JudgeOutcome};
use ops_domain::deploy::analysis::measure::{
    self, AnalysisRun, MetricRequest, Phase, Series, Side, SideNames, Verdict,
};
use ops_domain::deploy::analysis::AnalysisConfig;
use ops_domain::keys;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::payload::{HookAnswer, HookStatus, LifecycleEvent, Stage};
use super::Target;
use crate::deps::Deps;
use crate::error::JobError;
use crate::series::{read_samples, read_series};

/// Shortest `callBackDelay` sent (the Developer Guide names no bounds; ECS's default is 30).
pub const MIN_DELAY_SECONDS: u32 = 1;
/// Longest `callBackDelay` sent: a check's interval longer than this is asked about sooner.
pub const MAX_DELAY_SECONDS: u32 = 900;

/// One stage's analysis, kept between invocations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookRun {
    /// The suite service.
    pub service: String,
    /// The service deployment (`resourceArn`).
    pub deployment: String,
    /// The stage.
    pub stage: String,
    /// The first invocation of the stage: the judge's window starts here.
    pub started_at: DateTime<Utc>,
    /// The metric checks' counters and measurements.
    #[serde(default)]
    pub run: AnalysisRun,
    /// When the judge may run (again): the bake's end, or a marginal verdict's next bake.
    #[serde(default)]
    pub judge_after: Option<DateTime<Utc>>,
    /// The verdict, once there is one: every later delivery gets it.
    #[serde(default)]
    pub verdict: Option<Final>,
}

/// A stage's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Final {
    /// `SUCCEEDED` or `FAILED`.
    pub status: HookStatus,
    /// Why, as an operator reads it.
    pub reason: String,
    /// When it was reached.
    pub at: DateTime<Utc>,
}

/// Which part of the deployment a stage measures, `None` when it measures nothing.
fn phase_of(stage: &Stage, config: &AnalysisConfig) -> Option<Phase> {
    match stage {
        Stage::PostTestTrafficShift | Stage::ProductionTrafficShift => Some(Phase::Bake),
        Stage::PostProductionTrafficShift if config.post_promotion => Some(Phase::AfterPromotion),
        _ => None,
    }
}

/// The candidate's and the baseline's placeholder values.
pub fn sides(event: &LifecycleEvent, ecs_service: &str) -> (SideNames, SideNames) {
    let candidate = SideNames {
        color: "green".into(),
        service: ecs_service.to_owned(),
        target: event.execution_details.target_service_revision_arn.clone(),
    };
    let baseline = SideNames {
        color: "blue".into(),
        service: ecs_service.to_owned(),
        target: event.baseline_revision().unwrap_or_default().to_owned(),
    };
    (candidate, baseline)
}

/// A key part made of `text`'s safe characters.
fn key_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The state key of this stage (and production step).
pub fn state_key(service: &str, event: &LifecycleEvent) -> String {
    let step = match event.lifecycle_stage {
        Stage::ProductionTrafficShift => event
            .target_production_weight()
            .filter(|w| w.is_finite() && *w >= 0.0)
            .map(|w| w.round() as u32),
        _ => None,
    };
    keys::ecs_hook_run(
        service,
        &key_part(event.deployment_id()),
        event.lifecycle_stage.as_str(),
        step,
    )
}

/// Seconds until the earliest of the next due check and the judge, within the delay bounds.
pub fn next_delay(
    config: &AnalysisConfig,
    state: &HookRun,
    phase: Phase,
    now: DateTime<Utc>,
) -> u32 {
    // With an empty run every check measured in `phase` is due: those are the ones to wait for.
    let measured = measure::due_in(config, &AnalysisRun::default(), now, phase);
    let checks = config
        .metrics
        .iter()
        .filter(|(name, _)| measured.contains(name))
        .map(|(name, check)| {
            state
                .run
                .checks
                .get(name)
                .and_then(|c| c.last_at)
                .map_or(now, |last| {
                    last + Duration::seconds(i64::from(check.interval_seconds))
                })
        });
    let judge = state.judge_after.filter(|_| config.judge.is_some());
    let next = checks.chain(judge).min().unwrap_or(now);
    let seconds = (next - now).num_seconds().max(0);
    u32::try_from(seconds)
        .unwrap_or(MAX_DELAY_SECONDS)
        .clamp(MIN_DELAY_SECONDS, MAX_DELAY_SECONDS)
}

/// What one invocation decided: the state to write (when it changed) and the answer.
pub struct Step {
    /// The run after this invocation.
    pub state: HookRun,
    /// Whether it changed (a measurement counted, a judgement made, a verdict reached).
    pub changed: bool,
    /// The answer.
    pub status: HookStatus,
    /// Seconds until ECS asks again (with `IN_PROGRESS`).
    pub delay: Option<u32>,
    /// Why.
    pub reason: String,
}

/// The measurements read for the due checks and, when it ran, the judge's samples.
pub struct Readings {
    /// Per due check: the candidate's series and the baseline's (when requested).
    pub checks: Vec<(String, Series, Option<Series>)>,
    /// The judge's samples per metric (candidate, baseline), when it was asked.
    pub judge: Option<BTreeMap<String, (Series, Series)>>,
}

/// The requests of the due checks.
pub fn check_requests(
    config: &AnalysisConfig,
    state: &HookRun,
    phase: Phase,
    candidate: &SideNames,
    baseline: &SideNames,
    now: DateTime<Utc>,
) -> Vec<MetricRequest> {
    let due = measure::due_in(config, &state.run, now, phase);
    let baseline = (phase == Phase::Bake).then_some(baseline);
    measure::requests(config, &due, candidate, baseline, now)
}

/// Whether the judge runs at this invocation (after `run` holds the new measurements).
pub fn judge_due(
    config: &AnalysisConfig,
    state: &HookRun,
    phase: Phase,
    now: DateTime<Utc>,
) -> bool {
    phase == Phase::Bake
        && config.judge.is_some()
        && state.verdict.is_none()
        && state.judge_after.is_some_and(|at| now >= at)
        && measure::verdict_in(config, &state.run, phase, None) == Verdict::Passed
}

/// The run with `readings` counted, and the answer: the rules of a bake step, where a hold is
/// another bake of the stage and an inconclusive run fails (a hook cannot pause for an
/// operator).
pub fn advance(
    config: &AnalysisConfig,
    bake_seconds: u32,
    mut state: HookRun,
    phase: Phase,
    candidate: &SideNames,
    readings: Readings,
    now: DateTime<Utc>,
) -> Step {
    if let Some(verdict) = &state.verdict {
        return Step {
            status: verdict.status,
            reason: verdict.reason.clone(),
            delay: None,
            changed: false,
            state,
        };
    }
    let mut changed = false;
    for (check, candidate_series, baseline_series) in &readings.checks {
        state.run = measure::record(
            config,
            &state.run,
            check,
            candidate_series,
            baseline_series.as_ref(),
            now,
        );
        changed = true;
    }
    let finish = |mut state: HookRun, status: HookStatus, reason: String| {
        state.verdict = Some(Final {
            status,
            reason: reason.clone(),
            at: now,
        });
        Step {
            state,
            changed: true,
            status,
            delay: None,
            reason,
        }
    };
    let service = state.service.clone();
    match measure::verdict_in(config, &state.run, phase, Some(candidate)) {
        Verdict::Failed { reason, .. } => return finish(state, HookStatus::Failed, reason),
        Verdict::Inconclusive { reason, .. } => {
            return finish(
                state,
                HookStatus::Failed,
                format!("{reason} (an ECS hook cannot pause for an operator: inconclusive fails)"),
            )
        }
        Verdict::Running { measured, needed } => {
            let delay = next_delay(config, &state, phase, now);
            return Step {
                reason: format!(
                    "analysis of {service}: {measured} of {needed} passing measurements"
                ),
                delay: Some(delay),
                status: HookStatus::InProgress,
                changed,
                state,
            };
        }
        Verdict::Passed => {}
    }
    let Some(judge_config) = config.judge.as_ref().filter(|_| phase == Phase::Bake) else {
        return finish(
            state,
            HookStatus::Succeeded,
            format!("analysis of {service} passed"),
        );
    };
    let Some(samples) = readings.judge else {
        if state.judge_after.is_none() {
            state.judge_after = Some(state.started_at + Duration::seconds(i64::from(bake_seconds)));
            changed = true;
        }
        let delay = next_delay(config, &state, phase, now);
        return Step {
            reason: format!(
                "analysis of {service} passed; the judge runs once the stage has baked"
            ),
            delay: Some(delay),
            status: HookStatus::InProgress,
            changed,
            state,
        };
    };
    let judgement = judge::judge(judge_config, &samples);
    let summary = judgement.summary.clone();
    let (run, outcome) = judge::after_judgement(judge_config, &state.run, judgement);
    state.run = run;
    match outcome {
        JudgeOutcome::Pass => finish(
            state,
            HookStatus::Succeeded,
            format!("analysis of {service} passed; judge: {summary}"),
        ),
        JudgeOutcome::Fail { reason } => finish(state, HookStatus::Failed, reason),
        JudgeOutcome::Hold { holds } => {
            state.judge_after = Some(now + Duration::seconds(i64::from(bake_seconds)));
            let delay = next_delay(config, &state, phase, now);
            Step {
                reason: format!(
                    "judge marginal ({holds} of {} holds): another bake; {summary}",
                    judge_config.max_holds
                ),
                delay: Some(delay),
                status: HookStatus::InProgress,
                changed: true,
                state,
            }
        }
    }
}

/// Pairs each check's candidate series with its baseline's.
fn by_check(
    requests: &[MetricRequest],
    series: Vec<Series>,
) -> Vec<(String, Series, Option<Series>)> {
    let mut out: Vec<(String, Series, Option<Series>)> = Vec::new();
    for (request, series) in requests.iter().zip(series) {
        match request.side {
            Side::Candidate => out.push((request.check.clone(), series, None)),
            Side::Baseline => {
                if let Some(entry) = out.iter_mut().find(|(check, _, _)| *check == request.check) {
                    entry.2 = Some(series);
                }
            }
        }
    }
    out
}

/// The run of this stage: read, or a fresh one (not written until it holds something).
async fn current(
    deps: &Deps,
    key: &str,
    target: &Target,
    event: &LifecycleEvent,
    now: DateTime<Utc>,
) -> Result<(HookRun, Option<String>), JobError> {
    Ok(match deps.store.get::<HookRun>(key).await? {
        Some(Versioned { value, etag }) => (value, Some(etag)),
        None => (
            HookRun {
                service: target.name.clone(),
                deployment: event.resource_arn.clone(),
                stage: event.lifecycle_stage.as_str().to_owned(),
                started_at: now,
                run: AnalysisRun::default(),
                judge_after: target
                    .cfg
                    .deploy
                    .analysis
                    .as_ref()
                    .and_then(|a| a.judge.as_ref())
                    .map(|_| now + Duration::seconds(i64::from(target.cfg.deploy.bake_seconds))),
                verdict: None,
            },
            None,
        ),
    })
}

fn answer(step: &Step, key: &str) -> HookAnswer {
    let mut details = Map::new();
    details.insert("reason".into(), Value::String(step.reason.clone()));
    details.insert("state".into(), Value::String(key.to_owned()));
    HookAnswer::new(step.status, step.delay, details)
}

/// Runs the analysis of a traffic stage.
pub(crate) async fn traffic_stage(
    deps: &Deps,
    event: &LifecycleEvent,
    target: &Target,
) -> Result<HookAnswer, JobError> {
    let Some(config) = target.cfg.deploy.analysis.as_ref() else {
        return Ok(HookAnswer::with_reason(
            HookStatus::Succeeded,
            None,
            &format!("{} has no deploy.analysis", target.name),
        ));
    };
    let Some(phase) = phase_of(&event.lifecycle_stage, config) else {
        return Ok(HookAnswer::with_reason(
            HookStatus::Succeeded,
            None,
            &format!(
                "{}: no analysis after promotion (post_promotion is off)",
                target.name
            ),
        ));
    };
    let key = state_key(&target.name, event);
    let (candidate, baseline) = sides(event, &target.ecs_service);
    let bake = target.cfg.deploy.bake_seconds;
    let now = Utc::now();
    let (state, etag) = current(deps, &key, target, event, now).await?;
    let readings = if state.verdict.is_some() {
        Readings {
            checks: Vec::new(),
            judge: None,
        }
    } else {
        let requests = check_requests(config, &state, phase, &candidate, &baseline, now);
        let series = read_series(deps, &target.name, &requests).await;
        let checks = by_check(&requests, series);
        // The judge reads after the checks are counted: it runs only on a passing run.
        let mut counted = state.clone();
        for (check, c, b) in &checks {
            counted.run = measure::record(config, &counted.run, check, c, b.as_ref(), now);
        }
        let judge = match config.judge.as_ref() {
            Some(judge_config) if judge_due(config, &counted, phase, now) => {
                let requests = judge::judge_requests(
                    judge_config,
                    &candidate,
                    &baseline,
                    state.started_at,
                    now,
                );
                Some(read_samples(deps, &target.name, &requests).await)
            }
            _ => None,
        };
        Readings { checks, judge }
    };
    let step = advance(config, bake, state, phase, &candidate, readings, now);
    if !step.changed {
        return Ok(answer(&step, &key));
    }
    let written = match &etag {
        None => deps.store.create(&key, &step.state).await.map(|_| ()),
        Some(etag) => deps
            .store
            .replace(&key, &step.state, etag)
            .await
            .map(|_| ()),
    };
    match written {
        Ok(()) => Ok(answer(&step, &key)),
        // Another delivery of this stage counted first: its run is the one that counts.
        Err(StateError::AlreadyExists { .. } | StateError::Conflict { .. }) => {
            let (state, _) = current(deps, &key, target, event, now).await?;
            let replay = advance(
                config,
                bake,
                state,
                phase,
                &candidate,
                Readings {
                    checks: Vec::new(),
                    judge: None,
                },
                now,
            );
            let mut step = replay;
            if step.status == HookStatus::InProgress {
                step.delay = Some(next_delay(config, &step.state, phase, now));
            }
            Ok(answer(&step, &key))
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> AnalysisConfig {
        serde_json::from_value(serde_json::json!({"metrics": {"error_rate": {
            "queries": [{"id": "rate", "metric": {"namespace": "App", "name": "ErrorRate",
                "dimensions": {"Color": "{color}"}}}],
            "success": format!("result < 0.01{extra}"),
            "interval_seconds": 10, "count": 2, "failure_limit": 0}}}))
        .expect("config")
    }

    fn fresh(at: DateTime<Utc>) -> HookRun {
        HookRun {
            service: "checkout".into(),
            deployment: "arn:aws:ecs:us-east-1:1:service-deployment/shop/checkout/d1".into(),
            stage: "POST_TEST_TRAFFIC_SHIFT".into(),
            started_at: at,
            run: AnalysisRun::default(),
            judge_after: None,
            verdict: None,
        }
    }

    fn green() -> SideNames {
        SideNames {
            color: "green".into(),
            service: "checkout".into(),
            target: "rev-2".into(),
        }
    }

    fn reading(value: f64) -> Readings {
        Readings {
            checks: vec![("error_rate".into(), Ok(vec![value]), None)],
            judge: None,
        }
    }

    fn nothing() -> Readings {
        Readings {
            checks: Vec::new(),
            judge: None,
        }
    }

    #[test]
    fn healthy_measurements_run_then_pass_and_the_verdict_is_replayed() {
        let cfg = config("");
        let t0 = Utc::now();
        let first = advance(
            &cfg,
            60,
            fresh(t0),
            Phase::Bake,
            &green(),
            reading(0.001),
            t0,
        );
        assert_eq!(first.status, HookStatus::InProgress);
        assert!(first.changed);
        assert_eq!(first.delay, Some(10));
        assert!(first.reason.contains("1 of 2"), "{}", first.reason);
        // A duplicate delivery within the interval: nothing is due, nothing counts.
        let t1 = t0 + Duration::seconds(3);
        let due = check_requests(&cfg, &first.state, Phase::Bake, &green(), &green(), t1);
        assert!(due.is_empty());
        let dup = advance(
            &cfg,
            60,
            first.state.clone(),
            Phase::Bake,
            &green(),
            nothing(),
            t1,
        );
        assert!(!dup.changed);
        assert_eq!(dup.delay, Some(7));
        let t2 = t0 + Duration::seconds(10);
        assert_eq!(
            check_requests(&cfg, &first.state, Phase::Bake, &green(), &green(), t2).len(),
            1
        );
        let second = advance(
            &cfg,
            60,
            first.state,
            Phase::Bake,
            &green(),
            reading(0.002),
            t2,
        );
        assert_eq!(second.status, HookStatus::Succeeded, "{}", second.reason);
        let replay = advance(
            &cfg,
            60,
            second.state,
            Phase::Bake,
            &green(),
            reading(0.9),
            t2,
        );
        assert_eq!(replay.status, HookStatus::Succeeded);
        assert!(!replay.changed);
    }

    #[test]
    fn a_failing_measurement_fails_with_the_query_and_values() {
        let cfg = config("");
        let t0 = Utc::now();
        let step = advance(
            &cfg,
            60,
            fresh(t0),
            Phase::Bake,
            &green(),
            reading(0.08),
            t0,
        );
        assert_eq!(step.status, HookStatus::Failed);
        assert!(
            step.reason.contains("error_rate")
                && step.reason.contains("0.08")
                && step.reason.contains("result < 0.01")
                && step.reason.contains("Color=green"),
            "{}",
            step.reason
        );
        assert!(step.state.verdict.is_some());
    }

    #[test]
    fn query_errors_count_against_consecutive_errors() {
        let cfg = config("");
        let t0 = Utc::now();
        let error = || Readings {
            checks: vec![("error_rate".into(), Err("Throttling".into()), None)],
            judge: None,
        };
        let mut state = fresh(t0);
        let mut last = None;
        for i in 0..3 {
            let step = advance(
                &cfg,
                60,
                state,
                Phase::Bake,
                &green(),
                error(),
                t0 + Duration::seconds(10 * i),
            );
            state = step.state.clone();
            last = Some(step);
        }
        let last = last.expect("steps");
        assert_eq!(last.status, HookStatus::Failed, "{}", last.reason);
        assert!(last.reason.contains("Throttling"), "{}", last.reason);
    }

    #[test]
    fn after_promotion_checks_reading_the_baseline_are_left_out() {
        let cfg = config(" && result <= baseline * 2");
        let t0 = Utc::now();
        let requests = check_requests(
            &cfg,
            &fresh(t0),
            Phase::AfterPromotion,
            &green(),
            &green(),
            t0,
        );
        assert!(requests.is_empty());
        let step = advance(
            &cfg,
            60,
            fresh(t0),
            Phase::AfterPromotion,
            &green(),
            nothing(),
            t0,
        );
        assert_eq!(step.status, HookStatus::Succeeded, "{}", step.reason);
    }

    #[test]
    fn canary_steps_and_stages_have_their_own_state() {
        let sample = |name: &str| -> LifecycleEvent {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../events")
                .join(name);
            serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json")
        };
        assert_eq!(
            state_key(
                "checkout",
                &sample("ecs-lifecycle-production-traffic-shift.json")
            ),
            "deployments/checkout/ecs-hooks/Q3nP0bJm2xVf7LrT9sKdA/PRODUCTION_TRAFFIC_SHIFT-10.json"
        );
        assert_eq!(
            state_key(
                "checkout",
                &sample("ecs-lifecycle-post-test-traffic-shift.json")
            ),
            "deployments/checkout/ecs-hooks/Q3nP0bJm2xVf7LrT9sKdA/POST_TEST_TRAFFIC_SHIFT.json"
        );
    }

    #[test]
    fn the_judge_runs_after_the_bake_and_a_marginal_verdict_holds_the_stage() {
        let mut cfg = config("");
        cfg.metrics.get_mut("error_rate").expect("check").count = 1;
        cfg.judge = Some(
            serde_json::from_value(serde_json::json!({"metrics": {"latency": {
                "queries": [{"id": "p99", "metric": {"namespace": "App", "name": "Latency"}}]}}}))
            .expect("judge"),
        );
        let t0 = Utc::now();
        let mut state = fresh(t0);
        state.judge_after = Some(t0 + Duration::seconds(60));
        let checks_pass = advance(&cfg, 60, state, Phase::Bake, &green(), reading(0.001), t0);
        assert_eq!(checks_pass.status, HookStatus::InProgress);
        assert!(
            checks_pass.reason.contains("judge runs once"),
            "{}",
            checks_pass.reason
        );
        assert_eq!(
            checks_pass.delay,
            Some(10),
            "the next check comes before the judge"
        );
        let t1 = t0 + Duration::seconds(60);
        assert!(judge_due(&cfg, &checks_pass.state, Phase::Bake, t1));
        assert!(!judge_due(&cfg, &checks_pass.state, Phase::Bake, t0));
        let judged = |samples: (Vec<f64>, Vec<f64>)| Readings {
            checks: Vec::new(),
            judge: Some([("latency".to_owned(), (Ok(samples.0), Ok(samples.1)))].into()),
        };
        // No samples: marginal (no data is not a pass), the stage bakes again.
        let held = advance(
            &cfg,
            60,
            checks_pass.state,
            Phase::Bake,
            &green(),
            judged((vec![], vec![])),
            t1,
        );
        assert_eq!(held.status, HookStatus::InProgress, "{}", held.reason);
        assert!(held.reason.contains("marginal"), "{}", held.reason);
        assert_eq!(held.state.judge_after, Some(t1 + Duration::seconds(60)));
        assert_eq!(held.state.run.holds, 1);
        let t2 = t1 + Duration::seconds(60);
        let same: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i % 5)).collect();
        let passed = advance(
            &cfg,
            60,
            held.state,
            Phase::Bake,
            &green(),
            judged((same.clone(), same)),
            t2,
        );
        assert_eq!(passed.status, HookStatus::Succeeded, "{}", passed.reason);
        assert!(passed.reason.contains("judge"), "{}", passed.reason);
    }
}
