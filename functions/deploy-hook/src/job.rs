//! The job protocol: one CodePipeline job invocation reads the record, advances the deployment
//! by what the domain's machine decides, writes the record with compare-and-swap and reports to
//! CodePipeline (success with a continuation token while steps remain, or a failure type).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_codepipeline::types::FailureType;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use ops_adapters::codepipeline::{self, JobResult};
use ops_adapters::error::{bounded, MAX_MESSAGE};
use ops_adapters::telemetry::{MetricSet, Unit};
use ops_domain::config::{ServiceConfig, SuiteConfig};
use ops_domain::deploy::{Claimant, Progress, Step, Token};
use ops_domain::deployment::DeploymentRecord;
use ops_domain::keys;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::decommission::decommission;
use crate::deps::{Deps, FUNCTION};
use crate::error::{HandlerError, JobError, MAX_ERROR_TEXT};
use crate::event::{self, Input, Job, UserParameters};
use crate::executor::continue_deployment;
use crate::start::{dry_run, start};

/// What one invocation did, returned to the caller and logged.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    /// The job (none for the decommission schedule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// `continue`, `succeeded`, `failed` or `decommissioned`.
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
}

/// What a job invocation tells CodePipeline.
pub(crate) struct Report {
    pub(crate) result: JobResult,
    pub(crate) deployment_id: String,
    pub(crate) step: Option<String>,
}

impl Report {
    pub(crate) fn success(
        deployment_id: &str,
        summary: String,
        percent: i32,
        token: Option<Token>,
    ) -> Self {
        Report {
            result: JobResult::Success {
                summary,
                percent,
                continuation: token.map(|t| t.encode()),
                outputs: HashMap::new(),
            },
            deployment_id: deployment_id.to_owned(),
            step: None,
        }
    }

    pub(crate) fn failure(deployment_id: &str, error: &JobError) -> Self {
        let kind = match error {
            JobError::Config(_) => FailureType::ConfigurationError,
            JobError::Failed(_) | JobError::Crash(_) => FailureType::JobFailed,
            JobError::Unavailable(_) => FailureType::SystemUnavailable,
        };
        Report {
            result: JobResult::Failure {
                kind,
                message: bounded(&error.to_string(), MAX_ERROR_TEXT),
            },
            deployment_id: deployment_id.to_owned(),
            step: None,
        }
    }

    pub(crate) fn at_step(mut self, step: Option<&Step>) -> Self {
        self.step = step.map(Step::describe);
        self
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
            return Ok(Response {
                job_id: None,
                deployment_id: None,
                result: "decommissioned".into(),
                failure_type: None,
                summary,
                step: None,
                already_reported: false,
                aws_calls: deps.clients.recorder.calls().len() - calls_before,
                duration_ms: elapsed_ms(started),
            });
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

/// Everything a job's steps need.
#[derive(Clone)]
pub(crate) struct Ctx<'a> {
    pub(crate) deps: &'a Deps,
    pub(crate) config: Arc<SuiteConfig>,
    pub(crate) service: String,
    pub(crate) cfg: ServiceConfig,
    pub(crate) params: UserParameters,
    pub(crate) key: String,
    pub(crate) job: &'a Job,
    pub(crate) deployment_id: String,
    /// This invocation as the writer of claims and records.
    pub(crate) me: Claimant,
    pub(crate) request_id: Option<&'a str>,
    pub(crate) now: DateTime<Utc>,
}

impl Ctx<'_> {
    /// The job chain this invocation belongs to.
    pub(crate) fn chain(&self) -> &str {
        self.me.chain.as_deref().unwrap_or(&self.job.id)
    }

    /// The actor of audit records.
    pub(crate) fn actor(&self) -> String {
        format!("pipeline-job:{}", self.job.id)
    }
}

/// The `UserParameters` that shape a deployment besides its image (container and overrides),
/// as canonical JSON: part of the release's identity.
pub(crate) fn release_shape(params: &UserParameters) -> String {
    let o = &params.overrides;
    serde_json::json!({
        "container": params.container,
        "overrides": {
            "strategy": o.strategy,
            "canary_steps": o.canary_steps,
            "step_percent": o.step_percent,
            "bake_seconds": o.bake_seconds,
        },
    })
    .to_string()
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

pub(crate) fn queued(ctx: &Ctx<'_>, summary: String) -> Report {
    Report::success(
        &ctx.deployment_id,
        summary,
        0,
        Some(Token {
            v: 1,
            service: ctx.service.clone(),
            deployment: ctx.deployment_id.clone(),
            queued: true,
            chain: Some(ctx.chain().to_owned()),
            seq: ctx.me.seq.saturating_add(1),
        }),
    )
}

pub(crate) fn continuing(ctx: &Ctx<'_>, progress: &Progress, note: &str) -> Report {
    let step = progress.current();
    let summary = format!(
        "{} {:?}: step {}/{} {}: {note}{}",
        ctx.service,
        ctx.cfg.strategy,
        (progress.step + 1).min(progress.steps.len()),
        progress.steps.len(),
        step.map(Step::describe).unwrap_or_default(),
        if progress.warnings.is_empty() {
            String::new()
        } else {
            format!(". Warnings: {}", progress.warnings.join("; "))
        }
    );
    Report::success(
        &ctx.deployment_id,
        summary,
        progress.percent_complete(),
        Some(Token {
            v: 1,
            service: ctx.service.clone(),
            deployment: ctx.deployment_id.clone(),
            queued: false,
            chain: Some(ctx.chain().to_owned()),
            seq: ctx.me.seq.saturating_add(1),
        }),
    )
    .at_step(step)
}

pub(crate) fn final_success(
    ctx: &Ctx<'_>,
    record: &DeploymentRecord,
    progress: &Progress,
) -> Report {
    let td = progress.task_definition.clone().unwrap_or_default();
    let duration = progress
        .finished_at
        .map_or(0, |end| (end - progress.started_at).num_seconds());
    let summary = format!(
        "{} promoted {} ({}) with {:?} in {duration} s; rollback window until {}",
        ctx.service,
        td,
        progress.image,
        record.strategy,
        progress
            .rollback_window_until
            .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
    );
    let mut report = Report::success(&ctx.deployment_id, summary, 100, None);
    if let JobResult::Success { outputs, .. } = &mut report.result {
        outputs.insert("task_definition_arn".into(), td);
        outputs.insert("image".into(), progress.image.clone());
        outputs.insert(
            "strategy".into(),
            serde_json::to_value(record.strategy)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        );
        outputs.insert("duration_seconds".into(), duration.to_string());
        outputs.insert("deployment_id".into(), progress.deployment_id.clone());
    }
    report.step = Some("promote".into());
    report
}
