//! The job protocol: one CodePipeline job invocation reads the record, advances the deployment
//! by what the domain's machine decides, writes the record with compare-and-swap and reports to
//! CodePipeline (success with a continuation token while steps remain, or a failure type).
//! An ECS lifecycle hook invocation is handed to [`crate::ecs_hook`], and its answer is the
//! response.

use std::time::Instant;

use chrono::Utc;
use lambda_runtime::LambdaEvent;
use ops_adapters::codepipeline::{self, JobResult};
use ops_adapters::error::{bounded, MAX_MESSAGE};
use ops_adapters::telemetry::{MetricSet, Unit};
use ops_domain::config::{ServiceConfig, SuiteConfig};
use ops_domain::deploy::{Claimant, Progress};
use ops_domain::deployment::DeploymentRecord;
use ops_domain::keys;
use serde::{Serialize, Serializer};
use serde_json::Value;
use tracing::{info, warn};

use crate::context::{Ctx, Report};
use crate::decommission::decommission;
use crate::deps::{Deps, FUNCTION};
use crate::ecs_hook::{self, payload::HookAnswer};
use crate::error::{HandlerError, JobError, MAX_ERROR_TEXT};
use crate::event::{self, Input, Job, UserParameters};
use crate::executor::continue_deployment;
use crate::start::{dry_run, start};

/// What one invocation did, returned to the caller and logged. An ECS lifecycle hook's response
/// serializes as its [`HookAnswer`] alone (the JSON ECS reads); every other one as the fields.
#[derive(Debug, Clone, Serialize)]
#[serde(into = "Wire")]
pub struct Response {
    /// The job (none for the decommission schedule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// `continue`, `succeeded`, `failed`, `decommissioned` or `watched`.
    pub result: String,
    /// CodePipeline failure type, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_type: Option<String>,
    /// The summary or failure message sent to CodePipeline.
    pub summary: String,
    /// The step this invocation worked on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Whether CodePipeline already had a final result for the job (duplicate delivery).
    pub already_reported: bool,
    /// AWS calls made by this invocation, CodePipeline's included.
    pub aws_calls: usize,
    /// Wall time of the invocation.
    pub duration_ms: u64,
    /// The answer to an ECS lifecycle hook (then `result` is its `hookStatus`).
    #[serde(skip)]
    pub ecs_hook: Option<HookAnswer>,
}

/// How a [`Response`] goes on the wire.
enum Wire {
    Job(Box<JobWire>),
    EcsHook(HookAnswer),
}

/// A job's or the schedule's response: [`Response`]'s fields but the hook answer.
#[derive(Serialize)]
struct JobWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment_id: Option<String>,
    result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_type: Option<String>,
    summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<String>,
    already_reported: bool,
    aws_calls: usize,
    duration_ms: u64,
}

impl From<Response> for Wire {
    fn from(response: Response) -> Wire {
        match response.ecs_hook {
            Some(answer) => Wire::EcsHook(answer),
            None => Wire::Job(Box::new(JobWire {
                job_id: response.job_id,
                deployment_id: response.deployment_id,
                result: response.result,
                failure_type: response.failure_type,
                summary: response.summary,
                step: response.step,
                already_reported: response.already_reported,
                aws_calls: response.aws_calls,
                duration_ms: response.duration_ms,
            })),
        }
    }
}

impl Serialize for Wire {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Wire::Job(job) => job.serialize(serializer),
            Wire::EcsHook(answer) => answer.serialize(serializer),
        }
    }
}

/// The response of a scheduled action (no job, no deployment).
fn scheduled(
    result: &str,
    summary: String,
    deps: &Deps,
    calls_before: usize,
    started: Instant,
) -> Response {
    Response {
        job_id: None,
        deployment_id: None,
        result: result.to_owned(),
        failure_type: None,
        summary,
        step: None,
        already_reported: false,
        aws_calls: deps.clients.recorder.calls().len() - calls_before,
        duration_ms: elapsed_ms(started),
        ecs_hook: None,
    }
}

/// Entry point.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Response, HandlerError> {
    let started = Instant::now();
    let calls_before = deps.clients.recorder.calls().len();
    let (payload, context) = event.into_parts();
    let request_id = (!context.request_id.is_empty()).then_some(context.request_id);
    let input = event::parse(payload)?;
    let job = match input {
        Input::Decommission => {
            let summary = Box::pin(decommission(deps)).await?;
            return Ok(scheduled(
                "decommissioned",
                summary,
                deps,
                calls_before,
                started,
            ));
        }
        Input::EcsHook(hook) => {
            let answer = Box::pin(ecs_hook::answer(deps, &hook)).await;
            return Ok(Response {
                job_id: None,
                deployment_id: Some(hook.resource_arn.clone()),
                result: answer.hook_status.as_str().to_owned(),
                failure_type: None,
                summary: answer.reason().unwrap_or_default().to_owned(),
                step: Some(hook.lifecycle_stage.as_str().to_owned()),
                already_reported: false,
                aws_calls: deps.clients.recorder.calls().len() - calls_before,
                duration_ms: elapsed_ms(started),
                ecs_hook: Some(answer),
            });
        }
        Input::Watch => {
            let summary = Box::pin(crate::watch::watch(deps)).await?;
            return Ok(scheduled("watched", summary, deps, calls_before, started));
        }
        Input::Job(job) => job,
    };
    let deployment_fallback = job
        .token
        .as_ref()
        .map_or(job.id.clone(), |t| t.deployment.clone());
    let invocation = request_id
        .clone()
        .unwrap_or_else(|| format!("{}@{}", job.id, Utc::now().timestamp_micros()));
    // Boxed: the step futures are large, and a deep async state machine on a small thread stack
    // (test threads have 2 MiB) must not overflow.
    let report = match Box::pin(run_job(deps, &job, request_id.as_deref(), &invocation)).await {
        Ok(report) => report,
        Err(JobError::Crash(step)) => return Err(HandlerError::InjectedCrash(step)),
        Err(error) => {
            let text = bounded(&error.to_string(), MAX_ERROR_TEXT);
            warn!(message = "Deployment job failed.", job_id = %job.id, error = %text);
            Report::failure(&deployment_fallback, &error)
        }
    };
    let reported = codepipeline::report(
        &deps.codepipeline,
        &job.id,
        &report.deployment_id,
        &report.result,
    )
    .await?;
    let (result, failure_type, summary) = match &report.result {
        JobResult::Success {
            summary,
            continuation,
            ..
        } => (
            if continuation.is_some() {
                "continue"
            } else {
                "succeeded"
            },
            None,
            summary.clone(),
        ),
        JobResult::Failure { kind, message } => {
            ("failed", Some(kind.as_str().to_owned()), message.clone())
        }
    };
    let response = Response {
        job_id: Some(job.id.clone()),
        deployment_id: Some(report.deployment_id.clone()),
        result: result.to_owned(),
        failure_type,
        summary,
        step: report.step.clone(),
        already_reported: reported == codepipeline::Reported::AlreadyFinal,
        aws_calls: deps.clients.recorder.calls().len() - calls_before,
        duration_ms: elapsed_ms(started),
        ecs_hook: None,
    };
    MetricSet::new(FUNCTION)
        .dimension(
            "Step",
            response.step.as_deref().map_or("start", step_kind_of),
        )
        .metric(
            "StepDuration",
            response.duration_ms as f64,
            Unit::Milliseconds,
        )
        .metric("AwsCalls", response.aws_calls as f64, Unit::Count)
        .emit();
    info!(
        message = "Job invocation done.",
        job_id = %job.id,
        deployment_id = %response.deployment_id.as_deref().unwrap_or_default(),
        result = %response.result,
        step = %response.step.as_deref().unwrap_or_default(),
        aws_calls = response.aws_calls,
        duration_ms = response.duration_ms,
    );
    Ok(response)
}

fn step_kind_of(description: &str) -> &str {
    description.split_whitespace().next().unwrap_or("start")
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn run_job(
    deps: &Deps,
    job: &Job,
    request_id: Option<&str>,
    invocation: &str,
) -> Result<Report, JobError> {
    if job.foreign_token {
        return Err(JobError::Config(
            "the continuation token was not issued by deploy-hook; retry the stage".into(),
        ));
    }
    let params = UserParameters::parse(job.user_parameters.as_deref())
        .map_err(|error| JobError::Config(bounded(&error, MAX_MESSAGE)))?;
    let config = deps.config.current().await?;
    let Some(base_cfg) = config.services.get(&params.service) else {
        let known: Vec<&str> = config.services.keys().map(String::as_str).collect();
        return Err(JobError::Config(format!(
            "UserParameters.service \"{}\" is not in the suite config (known: {})",
            bounded(&params.service, 100),
            bounded(&known.join(", "), MAX_MESSAGE)
        )));
    };
    let cfg = with_overrides(&config, &params, base_cfg)?;
    if let Some(token) = &job.token {
        if token.service != params.service {
            return Err(JobError::Config(format!(
                "the continuation token is for service {}, UserParameters names {}",
                bounded(&token.service, 100),
                bounded(&params.service, 100)
            )));
        }
    }
    let deployment_id = job
        .token
        .as_ref()
        .map_or_else(|| job.id.clone(), |t| t.deployment.clone());
    let chain = job.token.as_ref().map_or_else(
        || job.id.clone(),
        |t| t.chain.clone().unwrap_or_else(|| t.deployment.clone()),
    );
    let ctx = Ctx {
        deps,
        service: params.service.clone(),
        key: keys::deployment_record(&params.service),
        config,
        cfg,
        params,
        job,
        deployment_id,
        me: Claimant {
            job_id: job.id.clone(),
            invocation: invocation.to_owned(),
            chain: Some(chain),
            seq: job.token.as_ref().map_or(0, |t| t.seq),
        },
        request_id,
        now: Utc::now(),
    };
    let record = deps.store.get::<DeploymentRecord>(&ctx.key).await?;
    if ctx.params.dry_run {
        return dry_run(&ctx, record.as_ref().map(|r| &r.value)).await;
    }
    match record {
        Some(record) if record.value.deployment_id.as_deref() == Some(&ctx.deployment_id) => {
            let driver = record.value.progress.as_ref().map(Progress::driver);
            if let Some(driver) = driver.filter(|d| *d != ctx.chain()) {
                // A stage retry adopted the deployment since this job's chain began: the job
                // that drives it now is the only one that reports on it.
                return Err(JobError::Failed(format!(
                    "deployment {} of {} is now driven by job {driver} (a retry of the stage); \
                     this job stops without changing anything",
                    ctx.deployment_id, ctx.service
                )));
            }
            continue_deployment(&ctx, record).await
        }
        record => {
            let started_elsewhere = ctx.job.token.as_ref().is_some_and(|t| !t.queued);
            if started_elsewhere {
                return Err(JobError::Failed(format!(
                    "deployment {} is no longer in the record of {} (now {}); it was superseded",
                    ctx.deployment_id,
                    ctx.service,
                    record
                        .as_ref()
                        .and_then(|r| r.value.deployment_id.clone())
                        .unwrap_or_else(|| "none".into())
                )));
            }
            Box::pin(start(&ctx, record)).await
        }
    }
}

/// The service config with the job's overrides, validated like the file.
fn with_overrides(
    config: &SuiteConfig,
    params: &UserParameters,
    base: &ServiceConfig,
) -> Result<ServiceConfig, JobError> {
    let o = &params.overrides;
    if o.strategy.is_none()
        && o.canary_steps.is_none()
        && o.step_percent.is_none()
        && o.bake_seconds.is_none()
    {
        return Ok(base.clone());
    }
    let mut cfg = base.clone();
    if let Some(strategy) = o.strategy {
        cfg.strategy = strategy;
    }
    if let Some(steps) = &o.canary_steps {
        cfg.deploy.canary_steps = steps.clone();
    }
    if let Some(step) = o.step_percent {
        cfg.deploy.step_percent = step;
    }
    if let Some(bake) = o.bake_seconds {
        cfg.deploy.bake_seconds = bake;
    }
    // Validate by the same rules as the file: the config with this service replaced.
    let mut check = config.clone();
    check.services.insert(params.service.clone(), cfg.clone());
    ops_domain::config::validate(&check).map_err(|errors| {
        JobError::Config(format!("UserParameters.overrides are not valid: {errors}"))
    })?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs_hook::payload::HookStatus;

    fn response(ecs_hook: Option<HookAnswer>) -> Response {
        Response {
            job_id: None,
            deployment_id: Some("arn:aws:ecs:…:service-deployment/shop/checkout/Q3".into()),
            result: "IN_PROGRESS".into(),
            failure_type: None,
            summary: "1 of 3".into(),
            step: Some("POST_TEST_TRAFFIC_SHIFT".into()),
            already_reported: false,
            aws_calls: 4,
            duration_ms: 12,
            ecs_hook,
        }
    }

    #[test]
    fn an_ecs_hook_response_is_exactly_the_answer_ecs_reads() {
        let answer = HookAnswer::with_reason(HookStatus::InProgress, Some(60), "1 of 3");
        assert_eq!(
            serde_json::to_value(response(Some(answer))).expect("json"),
            serde_json::json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 60,
                "hookDetails": {"deployHook": {"reason": "1 of 3"}}})
        );
    }

    #[test]
    fn other_responses_keep_their_fields() {
        let json = serde_json::to_value(response(None)).expect("json");
        assert_eq!(json["result"], "IN_PROGRESS");
        assert_eq!(json["aws_calls"], 4);
        assert!(json.get("hookStatus").is_none() && json.get("ecs_hook").is_none());
    }
}
