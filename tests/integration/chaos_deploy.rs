//! deploy-hook under faults: a canary deployment (10/50/100 %, 2 s bakes) driven the way
//! CodePipeline drives it — continuation tokens between invocations; an invocation error
//! retried like an asynchronous Lambda invocation (same event, same request id); a failed job
//! followed by the operator's retry of the stage (a new job without a token) — while every AWS
//! call of the function goes through the fault proxy (CodePipeline's recorder is not faulted).
//!
//! Per fault plan and seed (`CHAOS_SEEDS`; error rates from `CHAOS_RATES`, default 10 % and
//! 30 %; forward-then-drop at 5 %), the final state is read straight from the emulator: the
//! deployment ends promoted (or cleanly failed / rolled back with traffic on the stable color)
//! within the invocation bound, the Route53 weights seen after every invocation walk the canary
//! path without skipping or repeating a step and are never left split, exactly one
//! `deployment_started` and one terminal audit record exist, and ECS runs the right task
//! definitions. A last scenario has alarm-rollback (its real handler, also behind the proxy)
//! roll the release back mid-bake, then retries the stage: the rolled-back release never
//! returns.

use std::collections::BTreeMap;
use std::time::Duration;

use deploy_hook::{Response, Settings};
use futures_util::future::join_all;
use lambda_runtime::{Context, LambdaEvent};
use ops_domain::deploy::Step;
use ops_domain::deployment::DeploymentStatus;
use ops_tests::faults::{
    chaos_rates, chaos_seeds, deliver_like_async_lambda, FaultPlan, FaultProxy,
    LAMBDA_ASYNC_ATTEMPTS,
};
use ops_tests::pipeline::job_event;
use serde_json::{json, Value};

use crate::deploy_hook::{alarm_rollback_deps, deploy_audits, params, DeployWorld};

/// Most invocations (Lambda retries included) one pipeline run may take.
pub(crate) const BOUND: usize = 150;

const IMAGE: &str = "registry.example/web:1.5.0";

pub(crate) type Weights = BTreeMap<String, i64>;

pub(crate) fn weights(blue: i64, green: i64) -> Weights {
    [("blue".to_owned(), blue), ("green".to_owned(), green)].into()
}

/// The error rates of the sweep: `CHAOS_RATES` when set, else 10 % and 30 %.
pub(crate) fn error_rates() -> Vec<f64> {
    if std::env::var("CHAOS_RATES").is_ok_and(|v| !v.trim().is_empty()) {
        chaos_rates()
    } else {
        vec![0.1, 0.3]
    }
}

/// How a pipeline run ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum End {
    /// The job succeeded.
    Succeeded,
    /// A job failed and the record says the deployment is over (failed or rolled back).
    Terminal(String),
    /// The predicate of [`Pipeline::run`] held.
    Reached,
    /// The bound was hit.
    Bound,
}

/// A CodePipeline stand-in driving one action: jobs, tokens, stage retries.
pub(crate) struct Pipeline<'a> {
    world: &'a DeployWorld,
    params: Value,
    /// The token for the next job; `None` with `ended` means "retry the stage".
    token: Option<String>,
    /// The last job ended (failed, or its invocation gave up).
    ended: bool,
    invocations: usize,
    jobs: usize,
    stage_retries: usize,
    lambda_retries: usize,
    failures: BTreeMap<String, usize>,
    /// Every distinct weight set seen after an invocation, in order.
    pub(crate) seen: Vec<Weights>,
}

impl<'a> Pipeline<'a> {
    pub(crate) async fn new(world: &'a DeployWorld, params: Value) -> Pipeline<'a> {
        let mut pipeline = Pipeline {
            world,
            params,
            token: None,
            ended: false,
            invocations: 0,
            jobs: 0,
            stage_retries: 0,
            lambda_retries: 0,
            failures: BTreeMap::new(),
            seen: Vec::new(),
        };
        pipeline.observe().await;
        pipeline
    }

    async fn observe(&mut self) {
        let now = self.world.web_weights().await;
        if self.seen.last() != Some(&now) {
            self.seen.push(now);
        }
    }

    /// One job: the continuation of the last one, or a retry of the stage after a failure.
    /// Its invocation is retried like an asynchronous Lambda invocation on a function error.
    async fn job(&mut self) -> Option<Response> {
        let token = if self.ended {
            self.stage_retries += 1;
            self.ended = false;
            None
        } else {
            self.token.take()
        };
        let job = ops_tests::unique("job");
        let event = job_event(&job, &self.params, None, token.as_deref());
        let request = ops_tests::unique("req");
        let world = self.world;
        let (result, attempts) = deliver_like_async_lambda(LAMBDA_ASYNC_ATTEMPTS, |_| {
            let event = event.clone();
            let request = request.clone();
            async move { world.invoke_as(&world.deps, event, &request).await }
        })
        .await;
        self.jobs += 1;
        self.invocations += attempts;
        self.lambda_retries += attempts - 1;
        self.observe().await;
        match result {
            Ok(response) if response.result == "continue" => {
                self.token = self.world.token_after(&job);
                assert!(self.token.is_some(), "a continuing job hands over a token");
                Some(response)
            }
            Ok(response) => {
                if let Some(kind) = &response.failure_type {
                    *self.failures.entry(kind.clone()).or_default() += 1;
                    self.ended = true;
                }
                Some(response)
            }
            Err(error) => {
                // The job never gets a result; CodePipeline times it out.
                *self
                    .failures
                    .entry(format!("invocation: {error}"))
                    .or_default() += 1;
                self.ended = true;
                None
            }
        }
    }

    /// Runs jobs until the deployment ends, `until` holds on the record, or the bound.
    pub(crate) async fn run(
        &mut self,
        bound: usize,
        until: impl Fn(&ops_domain::deployment::DeploymentRecord) -> bool,
    ) -> End {
        while self.invocations < bound {
            let response = self.job().await;
            if let Some(response) = &response {
                if response.result == "succeeded" {
                    return End::Succeeded;
                }
            }
            let record = self.world.record("web").await;
            if let Some(record) = &record {
                if until(record) {
                    return End::Reached;
                }
                let over = record
                    .progress
                    .as_ref()
                    .is_some_and(|p| p.outcome.is_some())
                    && matches!(
                        record.status,
                        DeploymentStatus::Failed | DeploymentStatus::RolledBack
                    );
                if self.ended && over {
                    return End::Terminal(response.map(|r| r.summary).unwrap_or_default());
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        End::Bound
    }

    /// The sweep's table line (`scripts/chaos.sh`).
    fn table_line(
        &self,
        mode: &str,
        rate: &str,
        seed: u64,
        proxy: &FaultProxy,
        outcome: &str,
    ) -> String {
        let stats = proxy.stats();
        format!(
            "CHAOS function=deploy-hook mode={mode} rate={rate} seed={seed} invocations={} faults={} outcome={outcome}",
            self.invocations,
            stats.errors_total() + stats.dropped,
        )
    }

    pub(crate) fn line(&self, label: &str, proxy: &FaultProxy, end: &End) -> String {
        format!(
            "chaos deploy {label}: {} invocations in {} jobs ({} stage retries, {} Lambda retries, failures {:?}); {}; outcome {end:?}",
            self.invocations,
            self.jobs,
            self.stage_retries,
            self.lambda_retries,
            self.failures,
            proxy.summary(),
        )
    }
}

/// The canary path: every weight set a deployment passes through, in order.
pub(crate) fn canary_path() -> Vec<Weights> {
    vec![
        weights(100, 0),
        weights(90, 10),
        weights(50, 50),
        weights(0, 100),
    ]
}

/// Whether `seen` walks a prefix of the canary path (no step skipped or repeated), then, when
/// `reverted`, goes back to the stable color once.
pub(crate) fn walks_the_path(seen: &[Weights], reverted: bool) -> bool {
    let path = canary_path();
    let forward = if reverted {
        match seen.split_last() {
            Some((last, rest)) if *last == weights(100, 0) && rest.len() > 1 => rest,
            _ => return seen.len() == 1 && seen[0] == weights(100, 0),
        }
    } else {
        seen
    };
    forward.len() <= path.len() && forward == &path[..forward.len()]
}

/// One canary deployment under `plan`; returns the summary line, panics on a violation.
async fn canary_under(mode: &str, rate: f64, seed: u64, plan: FaultPlan) -> String {
    let plan_label = format!("{mode} {:.0}% seed {seed}", rate * 100.0);
    let (world, proxy) = DeployWorld::behind_proxy(|yaml| yaml, Settings::default()).await;
    proxy.set_plan(plan);
    let p = params("web", IMAGE);
    let mut pipeline = Pipeline::new(&world, p.clone()).await;
    let end = pipeline.run(BOUND, |_| false).await;
    proxy.disable();
    let line = pipeline.line(&plan_label, &proxy, &end);
    let context = format!("{line}\n{}", proxy.log_text(30));
    let record = world.record("web").await.expect("record");
    let final_weights = world.web_weights().await;
    match &end {
        End::Succeeded => {
            assert_eq!(record.status, DeploymentStatus::Promoted, "{context}");
            assert_eq!(pipeline.seen, canary_path(), "weights seen: {context}");
            let green = world.ecs("web-green").await;
            assert_eq!(
                world.image_of(&green.task_definition).await,
                IMAGE,
                "{context}"
            );
            let blue = world.ecs("web-blue").await;
            assert_eq!(
                blue.task_definition, world.seeded["web"].stable,
                "{context}"
            );
        }
        End::Terminal(_) => {
            assert_eq!(final_weights, weights(100, 0), "back on stable: {context}");
            assert!(
                walks_the_path(&pipeline.seen, true),
                "{:?} {context}",
                pipeline.seen
            );
            // Bookkeeping an invocation under faults could not finish is done by the next job.
            let (_, response) = world.stage_retry(&p).await;
            assert_ne!(response.result, "continue", "{response:?}");
        }
        other => {
            panic!("the deployment did not end within {BOUND} invocations ({other:?}): {context}")
        }
    }
    assert!(
        final_weights == weights(0, 100) || final_weights == weights(100, 0),
        "traffic left split: {final_weights:?} {context}"
    );
    let audits = deploy_audits(&world).await;
    let count = |suffix: &str| audits.iter().filter(|k| k.ends_with(suffix)).count();
    assert_eq!(count("-deployment_started.json"), 1, "{audits:?} {context}");
    assert_eq!(
        count("-deployment_promoted.json")
            + count("-deployment_failed.json")
            + count("-deployment_rolled_back.json"),
        1,
        "{audits:?} {context}"
    );
    assert!(
        world.succeeded("ecs:RegisterTaskDefinition") <= 1,
        "one revision registered: {context}"
    );
    let outcome = match (&end, record.status) {
        (End::Succeeded, _) => "promoted",
        (_, DeploymentStatus::RolledBack) => "rolled_back",
        _ => "failed",
    };
    println!("{line}");
    println!(
        "{}",
        pipeline.table_line(mode, &rate.to_string(), seed, &proxy, outcome)
    );
    line
}

#[tokio::test]
async fn chaos_canary_converges_under_aws_errors() {
    let mut runs = Vec::new();
    for rate in error_rates() {
        for seed in chaos_seeds() {
            runs.push(canary_under(
                "errors",
                rate,
                seed,
                FaultPlan::errors(seed, rate),
            ));
        }
    }
    let lines = join_all(runs).await;
    assert!(!lines.is_empty());
}

#[tokio::test]
async fn chaos_canary_converges_when_answers_are_lost() {
    let runs: Vec<_> = chaos_seeds()
        .into_iter()
        .map(|seed| canary_under("drops", 0.05, seed, FaultPlan::drops(seed, 0.05)))
        .collect();
    let lines = join_all(runs).await;
    assert!(!lines.is_empty());
}

/// alarm-rollback rolls the release back mid-bake under faults; the pipeline's job fails and
/// the operator retries the stage: the rolled-back release never returns.
async fn rollback_under(seed: u64) -> String {
    let (world, proxy) = DeployWorld::behind_proxy(|yaml| yaml, Settings::default()).await;
    let plan = FaultPlan::errors(seed, 0.3).with_drops(0.05);
    proxy.set_plan(plan);
    let p = params("web", IMAGE);
    let mut pipeline = Pipeline::new(&world, p.clone()).await;
    // Up to the bake after the first shift.
    let baking = |record: &ops_domain::deployment::DeploymentRecord| {
        record.progress.as_ref().is_some_and(|progress| {
            progress.step == 4 && matches!(progress.current(), Some(Step::Bake { .. }))
        })
    };
    let end = pipeline.run(BOUND, baking).await;
    assert_eq!(
        end,
        End::Reached,
        "{}",
        pipeline.line("rollback", &proxy, &end)
    );
    // The alarm fires; alarm-rollback (behind the same proxy) gets the event like an
    // asynchronous Lambda invocation.
    let alarm = format!("{}-web-5xx", world.prefix);
    world
        .alarm(&alarm, aws_sdk_cloudwatch::types::StateValue::Alarm)
        .await;
    let rollback_deps = alarm_rollback_deps(&world).await;
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(ops_tests::workspace_root().join("events/alarm-eventbridge.json"))
            .expect("event"),
    )
    .expect("json");
    event["detail"]["alarmName"] = json!(alarm);
    let request = ops_tests::unique("req");
    let (rolled, rollback_attempts) = deliver_like_async_lambda(LAMBDA_ASYNC_ATTEMPTS, |_| {
        let event = event.clone();
        let mut context = Context::default();
        context.request_id = request.clone();
        let deps = &rollback_deps;
        async move { alarm_rollback::handle(deps, LambdaEvent::new(event, context)).await }
    })
    .await;
    let rollback_action = match &rolled {
        Ok(response) => response
            .results
            .first()
            .and_then(|r| r.services.first())
            .map_or("none", |s| s.action)
            .to_owned(),
        Err(error) => format!("error: {error}"),
    };
    // The pipeline goes on: its job fails with the rollback's reason (or deploy-hook's own
    // alarm gate rolls back first if alarm-rollback gave up).
    let end = pipeline.run(BOUND, |_| false).await;
    let context = format!(
        "{} (alarm-rollback: {rollback_action} after {rollback_attempts} attempt(s))",
        pipeline.line(
            &format!("rollback errors 30% drops 5% seed {seed}"),
            &proxy,
            &end
        )
    );
    assert!(
        matches!(end, End::Terminal(_)),
        "{context}\n{}",
        proxy.log_text(30)
    );
    let changes = [
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "route53:ChangeResourceRecordSets",
    ];
    let before: Vec<usize> = changes.iter().map(|a| world.succeeded(a)).collect();
    let seen_before = pipeline.seen.len();
    // The operator retries the stage, three times, still under faults.
    for _ in 0..3 {
        let response = pipeline.job().await;
        if let Some(response) = response {
            assert!(
                response.failure_type.is_some(),
                "a rolled-back release is not deployed again: {response:?} {context}"
            );
        }
    }
    proxy.disable();
    let (_, last) = world.stage_retry(&p).await;
    assert_eq!(
        last.failure_type.as_deref(),
        Some("JobFailed"),
        "{last:?} {context}"
    );
    assert!(
        last.summary.contains("rolled web back"),
        "{} {context}",
        last.summary
    );
    let after: Vec<usize> = changes.iter().map(|a| world.succeeded(a)).collect();
    assert_eq!(before, after, "the retries changed nothing: {context}");
    assert_eq!(
        pipeline.seen.len(),
        seen_before,
        "weights moved after the rollback: {context}"
    );
    assert!(
        walks_the_path(&pipeline.seen, true),
        "{:?} {context}",
        pipeline.seen
    );
    assert_eq!(world.web_weights().await, weights(100, 0), "{context}");
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::RolledBack, "{context}");
    assert!(
        record.rollback.is_some(),
        "the rollback mark stays: {context}"
    );
    assert_eq!(
        world.ecs("web-blue").await.task_definition,
        world.seeded["web"].stable,
        "{context}"
    );
    let audits = deploy_audits(&world).await;
    let count = |suffix: &str| audits.iter().filter(|k| k.ends_with(suffix)).count();
    assert_eq!(count("-deployment_started.json"), 1, "{audits:?} {context}");
    assert_eq!(
        count("-deployment_rolled_back.json"),
        1,
        "{audits:?} {context}"
    );
    assert_eq!(
        count("-deployment_promoted.json"),
        0,
        "{audits:?} {context}"
    );
    println!("{context}");
    println!(
        "{}",
        pipeline.table_line(
            "alarm-mid-bake:errors+drops",
            "0.35",
            seed,
            &proxy,
            "rolled_back"
        )
    );
    context
}

#[tokio::test]
async fn chaos_alarm_rollback_mid_bake_is_final_across_stage_retries() {
    let lines = join_all(chaos_seeds().into_iter().map(rollback_under)).await;
    assert!(!lines.is_empty());
}

#[test]
fn the_path_check_rejects_skips_repeats_and_splits() {
    let path = canary_path();
    assert!(walks_the_path(&path, false));
    assert!(walks_the_path(&path[..2], false));
    let skipped = vec![weights(100, 0), weights(50, 50), weights(0, 100)];
    assert!(!walks_the_path(&skipped, false));
    let repeated = vec![
        weights(100, 0),
        weights(90, 10),
        weights(50, 50),
        weights(90, 10),
    ];
    assert!(!walks_the_path(&repeated, false));
    let reverted = vec![weights(100, 0), weights(90, 10), weights(100, 0)];
    assert!(walks_the_path(&reverted, true));
    assert!(!walks_the_path(&reverted[..2], true), "left split");
}
