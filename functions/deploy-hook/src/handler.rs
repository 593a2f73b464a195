//! The handler: one pipeline job invocation advances the service's deployment by one phase of
//! one step, writes the record with compare-and-swap, and reports to CodePipeline.
//!
//! The record decides, not the invocation: every invocation (first, continued, duplicated,
//! resumed after a crash) reads the record, does what its current step and phase call for, and
//! writes the next phase only if the record is still the one it read. Changes that touch AWS
//! (ECS update, Route53 weights) are claimed first (`Acting`), made, then recorded (`Waiting`);
//! every change sets an absolute target (a task definition, a weight), so repeating one after a
//! crash changes nothing twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use aws_sdk_codepipeline::types::FailureType;
use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use ops_adapters::cloudwatch;
use ops_adapters::codepipeline::{self, CodePipelineError, JobResult};
use ops_adapters::ecs::{self, EcsError, Replace};
use ops_adapters::error::{bounded, AwsCallError, MAX_MESSAGE};
use ops_adapters::notify::Notifier;
use ops_adapters::route53::{self, Route53Error};
use ops_adapters::s3::{ConfigLoadError, ConfigSource, StateError, StateStore, Versioned};
use ops_adapters::secretsmanager::{self, SecretCache, SecretError};
use ops_adapters::telemetry::{MetricSet, Unit};
use ops_adapters::{audit, AwsClients};
use ops_domain::audit::AuditRecord;
use ops_domain::config::{OnBusy, OutsideWindow, ServiceConfig, SuiteConfig};
use ops_domain::deploy::gates::{self, ContainerSpec, Finding, TaskSpec};
use ops_domain::deploy::{
    self, release, window, Abort, AbortKind, Admission, ClaimVerdict, Claimant, EcsMode, Outcome,
    Phase, Progress, ReleaseSpec, Step, Token,
};
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus, Release, RollbackMark};
use ops_domain::keys;
use ops_domain::notify::{Lifecycle, Notification, Severity};
use ops_domain::rollback;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::artifact::{self, ArtifactError};
use crate::event::{self, EventError, Input, Job, UserParameters};
use crate::health;

/// The function's name, in audit records, metrics and state keys.
pub const FUNCTION: &str = "deploy-hook";

/// Tunables, from the environment in `main`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a claimed change (`Acting`) is left to the invocation that claimed it before
    /// another may repeat it; longer than the function timeout.
    pub lease: chrono::Duration,
    /// Fault injection for the crash-and-resume tests: stop right after an AWS change, before
    /// the record says it was made (as a crash or timeout would). Never set in production.
    pub crash_after_change: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease: chrono::Duration::seconds(120),
            crash_after_change: false,
        }
    }
}

/// Everything the handler needs, built once per container.
#[derive(Debug)]
pub struct Deps {
    /// AWS clients (S3, Route53, ECS, Secrets Manager) and the call recorder.
    pub clients: AwsClients,
    /// CloudWatch, for the alarm gate.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// CodePipeline, for job results.
    pub codepipeline: aws_sdk_codepipeline::Client,
    /// The SDK configuration, for the artifact client built with the job's credentials.
    pub sdk: SdkConfig,
    /// The state bucket.
    pub store: StateStore,
    /// The suite configuration.
    pub config: ConfigSource,
    /// Notification channels.
    pub notifier: Notifier,
    /// HTTP client of the health checks.
    pub http: reqwest::Client,
    /// Tunables.
    pub settings: Settings,
}

impl Deps {
    /// Builds the dependencies from one SDK configuration; every AWS call (the notifier's
    /// secret reads included) goes through one call recorder.
    pub fn new(
        sdk: &SdkConfig,
        store_bucket: &str,
        config_uri: &str,
        settings: Settings,
    ) -> Result<Deps, ConfigLoadError> {
        let clients = AwsClients::new(sdk);
        let secrets =
            SecretCache::new(clients.secrets.clone(), std::time::Duration::from_secs(300));
        Ok(Deps {
            cloudwatch: cloudwatch::client(sdk, &clients.recorder),
            codepipeline: codepipeline::client(sdk, &clients.recorder),
            sdk: sdk.clone(),
            store: StateStore::new(clients.s3.clone(), store_bucket),
            config: ConfigSource::new(config_uri, clients.s3.clone())?,
            notifier: Notifier::new(Arc::new(secrets)),
            http: reqwest::Client::builder()
                .user_agent("ops-suite-deploy-hook")
                .build()
                .unwrap_or_default(),
            settings,
            clients,
        })
    }

    /// The function's environment ([`ops_adapters::runtime::FunctionEnv`]: `STATE_BUCKET`,
    /// `CONFIG_URI`, the SDK configuration with the event-handler client settings) and
    /// `DEPLOY_LEASE_SECONDS` (default 120: longer than the function timeout).
    pub async fn from_env() -> anyhow::Result<Deps> {
        use ops_adapters::runtime::{env_seconds, FunctionEnv};
        let env = FunctionEnv::from_env(ops_adapters::clients::ClientSettings::default()).await?;
        let mut settings = Settings::default();
        if let Some(seconds) = env_seconds("DEPLOY_LEASE_SECONDS")? {
            settings.lease = chrono::Duration::seconds(seconds);
        }
        Ok(Deps::new(
            &env.sdk,
            &env.state_bucket,
            &env.config_uri,
            settings,
        )?)
    }
}

/// Errors that fail the invocation itself (CodePipeline could not be told, or there is no job).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Neither a job nor a schedule action.
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    /// The job's result could not be reported; Lambda's retry reports it again.
    #[error(transparent)]
    Report(#[from] CodePipelineError),
    /// The configuration could not be read (decommission).
    #[error(transparent)]
    Config(#[from] ConfigLoadError),
    /// Fault injection: the invocation stopped after a change, before recording it.
    #[error(
        "stopped after the change of step {0}, before the record was written (injected fault)"
    )]
    InjectedCrash(String),
    /// The decommission run failed for some services.
    #[error("decommission failed: {0}")]
    Decommission(String),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::Report(_) => "PipelineReportFailed",
            // S3 throttled or down while reading the config: not a configuration problem.
            HandlerError::Config(config) if config.is_transient() => "SystemUnavailable",
            HandlerError::Config(_) => "ConfigurationError",
            HandlerError::InjectedCrash(_) => "InjectedCrash",
            HandlerError::Decommission(_) => "DecommissionFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: bounded(&error.to_string(), MAX_ERROR_TEXT),
        }
    }
}

/// Most characters of a failure message, a log line's error or a diagnostic: whatever an error
/// quotes of its input (a `UserParameters` string, a container name) is capped well below it.
const MAX_ERROR_TEXT: usize = 2000;

/// What stopped a job, mapped to CodePipeline's failure types.
#[derive(Debug, thiserror::Error)]
enum JobError {
    /// Bad parameters or configuration: `ConfigurationError`.
    #[error("{0}")]
    Config(String),
    /// A gate, health check or alarm: `JobFailed`.
    #[error("{0}")]
    Failed(String),
    /// AWS after the SDK's retries: `SystemUnavailable` (the record is intact; a retry resumes).
    #[error("{0}")]
    Unavailable(String),
    /// Fault injection.
    #[error("{0}")]
    Crash(String),
}

/// An AWS error after the SDK's retries: transient (throttling, 5xx, timeouts, a lost
/// connection) is `SystemUnavailable` (the record is intact; a retry of the stage resumes); a
/// refusal for lack of permission is a configuration problem; any other refusal fails the job.
/// Every adapter's AWS failure (CloudWatch's is this type itself) takes this one path.
impl From<AwsCallError> for JobError {
    fn from(error: AwsCallError) -> Self {
        let detail = error.detail();
        let message = error.to_string();
        if error.is_transient() {
            JobError::Unavailable(message)
        } else if detail.contains("AccessDenied") || detail.contains("UnauthorizedOperation") {
            JobError::Config(message)
        } else {
            JobError::Failed(message)
        }
    }
}

impl From<StateError> for JobError {
    fn from(error: StateError) -> Self {
        match error {
            StateError::Aws(call) => call.into(),
            StateError::Corrupt { .. } => JobError::Failed(error.to_string()),
            // A lost race that escaped its caller: re-reading and deciding again resolves it.
            StateError::Conflict { .. } | StateError::AlreadyExists { .. } => {
                JobError::Unavailable(error.to_string())
            }
        }
    }
}

impl From<Route53Error> for JobError {
    fn from(error: Route53Error) -> Self {
        match error {
            Route53Error::Aws(call) => call.into(),
            other => JobError::Config(other.to_string()),
        }
    }
}

impl From<EcsError> for JobError {
    fn from(error: EcsError) -> Self {
        match error {
            EcsError::Aws(call) => call.into(),
            other => JobError::Config(other.to_string()),
        }
    }
}

impl From<SecretError> for JobError {
    fn from(error: SecretError) -> Self {
        JobError::Unavailable(error.to_string())
    }
}

impl From<ArtifactError> for JobError {
    fn from(error: ArtifactError) -> Self {
        match error {
            ArtifactError::Invalid { .. } => JobError::Config(error.to_string()),
            ArtifactError::Unavailable { .. } => JobError::Unavailable(error.to_string()),
            ArtifactError::Refused { .. } => JobError::Failed(error.to_string()),
        }
    }
}

impl From<ConfigLoadError> for JobError {
    fn from(error: ConfigLoadError) -> Self {
        if error.is_transient() {
            JobError::Unavailable(error.to_string())
        } else {
            JobError::Config(error.to_string())
        }
    }
}

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
struct Report {
    result: JobResult,
    deployment_id: String,
    step: Option<String>,
}

impl Report {
    fn success(deployment_id: &str, summary: String, percent: i32, token: Option<Token>) -> Self {
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

    fn failure(deployment_id: &str, error: &JobError) -> Self {
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

    fn at_step(mut self, step: Option<&Step>) -> Self {
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
struct Ctx<'a> {
    deps: &'a Deps,
    config: Arc<SuiteConfig>,
    service: String,
    cfg: ServiceConfig,
    params: UserParameters,
    key: String,
    job: &'a Job,
    deployment_id: String,
    /// This invocation as the writer of claims and records.
    me: Claimant,
    request_id: Option<&'a str>,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    /// The job chain this invocation belongs to.
    fn chain(&self) -> &str {
        self.me.chain.as_deref().unwrap_or(&self.job.id)
    }

    /// The actor of audit records.
    fn actor(&self) -> String {
        format!("pipeline-job:{}", self.job.id)
    }
}

/// The `UserParameters` that shape a deployment besides its image (container and overrides),
/// as canonical JSON: part of the release's identity.
fn release_shape(params: &UserParameters) -> String {
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
    let text = config_text(&check)?;
    ops_domain::config::parse(&text).map_err(|errors| {
        JobError::Config(format!("UserParameters.overrides are not valid: {errors}"))
    })?;
    Ok(cfg)
}

/// The config as text the validator reads (JSON is YAML).
fn config_text(config: &SuiteConfig) -> Result<String, JobError> {
    serde_json::to_value(config)
        .map(|value| value.to_string())
        .map_err(|error| JobError::Config(error.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Starting a deployment
// ---------------------------------------------------------------------------------------------

/// The version live now, when no record says so: the color with the most weight and the task
/// definition its service runs, or the in-place service's task definition.
async fn live_release(ctx: &Ctx<'_>) -> Result<Release, JobError> {
    let clients = &ctx.deps.clients;
    match &ctx.cfg.traffic {
        Some(traffic) if ctx.cfg.strategy.shifts_traffic() => {
            let (_, records) = route53::zone_and_records(
                &clients.route53,
                traffic.zone_id.as_deref(),
                traffic.zone_name.as_deref(),
                &traffic.record_name,
                traffic.record_type.as_str(),
            )
            .await?;
            let live = route53::live_weights(&records);
            let color = traffic
                .targets
                .keys()
                .max_by_key(|color| {
                    (
                        live.get(*color).copied().unwrap_or(-1),
                        std::cmp::Reverse((*color).clone()),
                    )
                })
                .cloned()
                .unwrap_or_default();
            let target = &traffic.targets[&color];
            let td =
                ecs::service_task_definition(&clients.ecs, &ctx.cfg.cluster, &target.ecs_service)
                    .await?;
            Ok(Release {
                task_definition: td,
                image: None,
                target: Some(color),
            })
        }
        _ => {
            let service = ctx.cfg.ecs_service.clone().unwrap_or_default();
            let td = ecs::service_task_definition(&clients.ecs, &ctx.cfg.cluster, &service).await?;
            Ok(Release {
                task_definition: td,
                image: None,
                target: None,
            })
        }
    }
}

/// The container that gets the new image.
fn pick_container(ctx: &Ctx<'_>, base: &TaskDefinition) -> Result<String, JobError> {
    let names: Vec<&str> = base
        .container_definitions()
        .iter()
        .filter_map(|c| c.name())
        .collect();
    let wanted = ctx
        .params
        .container
        .clone()
        .or_else(|| ctx.cfg.deploy.container.clone());
    match wanted {
        Some(name) if names.contains(&name.as_str()) => Ok(name),
        Some(name) => Err(JobError::Config(format!(
            "task definition {} has no container \"{}\" (has {})",
            base.task_definition_arn().unwrap_or_default(),
            bounded(&name, 100),
            bounded(&names.join(", "), MAX_MESSAGE)
        ))),
        None => match names.as_slice() {
            [only] => Ok((*only).to_owned()),
            _ => base
                .container_definitions()
                .iter()
                .find(|c| c.essential() == Some(true))
                .and_then(|c| c.name())
                .map(str::to_owned)
                .ok_or_else(|| {
                    JobError::Config(format!(
                        "task definition has several containers ({}); set deploy.container or UserParameters.container",
                        names.join(", ")
                    ))
                }),
        },
    }
}

fn spec_of(base: &TaskDefinition, containers: &[ContainerDefinition]) -> TaskSpec {
    TaskSpec {
        cpu: base.cpu().map(str::to_owned),
        memory: base.memory().map(str::to_owned),
        containers: containers
            .iter()
            .map(|c| ContainerSpec {
                name: c.name().unwrap_or_default().to_owned(),
                image: c.image().unwrap_or_default().to_owned(),
                environment: c
                    .environment()
                    .iter()
                    .map(|kv| {
                        (
                            kv.name().unwrap_or_default().to_owned(),
                            kv.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
                secrets: c
                    .secrets()
                    .iter()
                    .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
                    .collect(),
                cpu: Some(c.cpu()).filter(|cpu| *cpu > 0),
                memory: c.memory(),
                memory_reservation: c.memory_reservation(),
            })
            .collect(),
    }
}

/// Runs the quality gates on what is about to run.
async fn quality_gates(
    ctx: &Ctx<'_>,
    base: &TaskDefinition,
    containers: &[ContainerDefinition],
    container: &str,
) -> Result<Vec<Finding>, JobError> {
    let spec = spec_of(base, containers);
    let mut findings = gates::check(&spec, container, &ctx.cfg.deploy.required_env);
    for c in &spec.containers {
        for (name, reference) in &c.secrets {
            if let Some(id) = secretsmanager::secret_id_of_reference(reference) {
                if !secretsmanager::secret_exists(&ctx.deps.clients.secrets, &id).await? {
                    findings.push(gates::missing_secret(&c.name, name, &id));
                }
            }
        }
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.level));
    Ok(findings)
}

/// What a start needs, computed without writing anything (shared with the dry run).
struct Prepared {
    record: DeploymentRecord,
    progress: Progress,
    findings: Vec<Finding>,
}

/// The image a job asks for: `UserParameters.image`, or the input artifact's entry for the
/// container (named by the job, the config, the deployment in flight, or the task definition).
async fn requested_image(
    ctx: &Ctx<'_>,
    record: Option<&DeploymentRecord>,
) -> Result<String, JobError> {
    if let Some(image) = &ctx.params.image {
        return Ok(image.clone());
    }
    let named = ctx
        .params
        .container
        .clone()
        .or_else(|| ctx.cfg.deploy.container.clone())
        .or_else(|| {
            record
                .filter(|r| r.status != DeploymentStatus::Stable)
                .and_then(|r| r.progress.as_ref().map(|p| p.container.clone()))
        });
    let container = match named {
        Some(container) => container,
        None => {
            let stable = match record {
                Some(record) => deploy::settle(record, ctx.now).0.stable,
                None => live_release(ctx).await?,
            };
            let base =
                ecs::describe_task_definition(&ctx.deps.clients.ecs, &stable.task_definition)
                    .await?;
            pick_container(ctx, &base)?
        }
    };
    Ok(artifact::image_from_artifact(
        &ctx.deps.sdk,
        &ctx.job.access,
        &ctx.job.artifacts,
        &container,
    )
    .await?)
}

async fn prepare(
    ctx: &Ctx<'_>,
    record: Option<&DeploymentRecord>,
    image: Option<String>,
) -> Result<Prepared, JobError> {
    let (settled, _) = match record {
        Some(record) => deploy::settle(record, ctx.now),
        None => {
            let live = live_release(ctx).await?;
            let fresh = DeploymentRecord::new_stable(&ctx.service, ctx.cfg.strategy, live, ctx.now);
            (fresh, None)
        }
    };
    let base =
        ecs::describe_task_definition(&ctx.deps.clients.ecs, &settled.stable.task_definition)
            .await?;
    let container = pick_container(ctx, &base)?;
    let image = match image.or_else(|| ctx.params.image.clone()) {
        Some(image) => image,
        None => {
            artifact::image_from_artifact(
                &ctx.deps.sdk,
                &ctx.job.access,
                &ctx.job.artifacts,
                &container,
            )
            .await?
        }
    };
    let containers = ecs::with_image(&base, &container, &image);
    let findings = quality_gates(ctx, &base, &containers, &container).await?;
    let (steps, target) = deploy::plan(
        &ctx.service,
        ctx.cfg.strategy,
        &ctx.cfg,
        settled.stable.target.as_deref(),
    )
    .map_err(|error| JobError::Config(error.to_string()))?;
    let progress = Progress {
        deployment_id: ctx.deployment_id.clone(),
        job_id: ctx.job.id.clone(),
        image,
        container,
        base_task_definition: base
            .task_definition_arn()
            .unwrap_or(&settled.stable.task_definition)
            .to_owned(),
        task_definition: None,
        target,
        steps,
        step: 0,
        phase: Phase::Ready,
        started_at: ctx.now,
        step_started_at: ctx.now,
        warnings: findings
            .iter()
            .filter(|f| f.level == gates::Level::Warning)
            .map(ToString::to_string)
            .collect(),
        abort: None,
        outcome: None,
        finished_at: None,
        rollback_window_until: None,
        shape: release_shape(&ctx.params),
        driver: None,
        written_by: Some(ctx.me.clone()),
    };
    Ok(Prepared {
        record: settled,
        progress,
        findings,
    })
}

fn plan_text(progress: &Progress) -> String {
    progress
        .steps
        .iter()
        .map(|step| match step {
            Step::Shift { weights, .. } => format!(
                "{} ({})",
                step.describe(),
                weights
                    .iter()
                    .map(|(t, w)| format!("{t}={w}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            other => other.describe(),
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

fn findings_text(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

async fn dry_run(ctx: &Ctx<'_>, record: Option<&DeploymentRecord>) -> Result<Report, JobError> {
    let prepared = prepare(ctx, record, None).await?;
    let spec = ReleaseSpec {
        image: prepared.progress.image.clone(),
        shape: prepared.progress.shape.clone(),
    };
    let admission = match deploy::admit(record, &ctx.deployment_id, &spec) {
        Admission::Busy { holder } => format!("busy: held by {holder}"),
        Admission::Adopt { deployment_id } => {
            format!("resumes deployment {deployment_id} of this release")
        }
        Admission::Refused { reason, .. } => format!("refused: {reason}"),
        _ => "free".into(),
    };
    let window = match ctx
        .cfg
        .deploy
        .window
        .as_deref()
        .and_then(|w| ctx.config.windows.get(w).map(|c| (w, c)))
    {
        Some((name, w)) if !window::is_open(w, ctx.now) => format!("window {name} closed"),
        Some((name, _)) => format!("window {name} open"),
        None => "no window".into(),
    };
    let gates = if prepared.findings.is_empty() {
        "all gates pass".to_owned()
    } else {
        findings_text(&prepared.findings)
    };
    let blocked = gates::blocks(&prepared.findings);
    let summary = format!(
        "DRY RUN {} {:?} {} → {}: {}. Service {admission}, {window}. Gates: {gates}{}. Alarms gating bakes: {}.",
        ctx.service,
        ctx.cfg.strategy,
        prepared.record.stable.task_definition,
        prepared.progress.image,
        plan_text(&prepared.progress),
        if blocked { " (would block)" } else { "" },
        ctx.config.gate_alarms(&ctx.service).join(", "),
    );
    let mut report = Report::success(&ctx.deployment_id, summary, 100, None);
    if let JobResult::Success { outputs, .. } = &mut report.result {
        outputs.insert("dry_run".into(), "true".into());
        outputs.insert("strategy".into(), format!("{:?}", ctx.cfg.strategy));
        outputs.insert("image".into(), prepared.progress.image.clone());
        outputs.insert("steps".into(), prepared.progress.steps.len().to_string());
        outputs.insert(
            "gates".into(),
            if blocked { "blocked" } else { "pass" }.into(),
        );
    }
    Ok(report)
}

fn queued(ctx: &Ctx<'_>, summary: String) -> Report {
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

fn continuing(ctx: &Ctx<'_>, progress: &Progress, note: &str) -> Report {
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

async fn start(
    ctx: &Ctx<'_>,
    record: Option<Versioned<DeploymentRecord>>,
) -> Result<Report, JobError> {
    if let Some(name) = &ctx.cfg.deploy.window {
        if let Some(w) = ctx.config.windows.get(name) {
            if !window::is_open(w, ctx.now) {
                let opens = window::next_open(w, ctx.now)
                    .map_or_else(|| "unknown".to_owned(), |at| at.to_rfc3339());
                let text = format!(
                    "outside deployment window {name} ({}–{} UTC); next opening {opens}",
                    w.start, w.end
                );
                return match w.outside {
                    OutsideWindow::Wait => {
                        Ok(queued(ctx, format!("{}: waiting, {text}", ctx.service)))
                    }
                    OutsideWindow::Fail => Err(JobError::Failed(text)),
                };
            }
        }
    }
    let image = requested_image(ctx, record.as_ref().map(|r| &r.value)).await?;
    let spec = ReleaseSpec {
        image: image.clone(),
        shape: release_shape(&ctx.params),
    };
    match deploy::admit(record.as_ref().map(|r| &r.value), &ctx.deployment_id, &spec) {
        Admission::Ours => {
            if let Some(record) = record {
                return continue_deployment(ctx, record).await;
            }
        }
        Admission::Adopt { deployment_id } => {
            if let Some(record) = record {
                let adopting = Ctx {
                    deployment_id,
                    ..ctx.clone()
                };
                return Box::pin(adopt(&adopting, record)).await;
            }
        }
        Admission::Refused { reason, current } => {
            if let (Some(record), true) = (record, current) {
                return Box::pin(rolled_back_elsewhere(ctx, record)).await;
            }
            return Err(JobError::Failed(format!("{}: {reason}", ctx.service)));
        }
        Admission::Busy { holder } => {
            let text = format!("{} is held by {holder}", ctx.service);
            return match ctx.cfg.deploy.on_busy {
                OnBusy::Wait => Ok(queued(ctx, format!("waiting: {text}"))),
                OnBusy::Fail => Err(JobError::Failed(format!(
                    "{text}; this deployment does not interleave with it (deploy.on_busy: fail)"
                ))),
            };
        }
        Admission::Free => {}
    }
    let prepared = prepare(ctx, record.as_ref().map(|r| &r.value), Some(image)).await?;
    if gates::blocks(&prepared.findings) {
        return Err(JobError::Failed(format!(
            "quality gates block the deployment of {} ({}); nothing was changed: {}",
            ctx.service,
            prepared.progress.image,
            findings_text(&prepared.findings)
        )));
    }
    let progress = prepared.progress;
    let next = release::begin(
        &prepared.record,
        progress.clone(),
        ctx.cfg.strategy,
        &ctx.actor(),
        format!(
            "{} by job {}: {}",
            progress.image,
            ctx.job.id,
            plan_text(&progress)
        ),
        ctx.now,
    );
    let written = match &record {
        Some(current) => ctx.deps.store.replace(&ctx.key, &next, &current.etag).await,
        None => ctx.deps.store.create(&ctx.key, &next).await,
    };
    let etag = match written {
        Ok(etag) => etag,
        Err(StateError::Conflict { .. } | StateError::AlreadyExists { .. }) => {
            return Ok(queued(
                ctx,
                format!(
                    "{}: the record changed while starting; retrying",
                    ctx.service
                ),
            ));
        }
        Err(error) => return Err(error.into()),
    };
    // Best effort here: an audit record still owed is written by the next invocation.
    let _ = flush_audits(ctx, Versioned { value: next, etag }).await;
    let mut report = continuing(
        ctx,
        &progress,
        &format!("started; plan: {}", plan_text(&progress)),
    );
    report.step = Some("start".into());
    Ok(report)
}

/// A new job (a retry of the stage, or the same release run again) takes over the deployment
/// of its release: the record names its job chain as the driver (so claims of the chain that
/// ended are taken over at once), then the deployment resumes where the record says it stands.
async fn adopt(ctx: &Ctx<'_>, current: Versioned<DeploymentRecord>) -> Result<Report, JobError> {
    let Some(progress) = current.value.progress.clone() else {
        return continue_deployment(ctx, current).await;
    };
    if current.value.status != DeploymentStatus::InProgress || progress.driver() == ctx.chain() {
        return continue_deployment(ctx, current).await;
    }
    let mut next = current.value.clone();
    let step = progress
        .current()
        .map_or_else(|| "promote".to_owned(), Step::describe);
    if let Some(p) = next.progress.as_mut() {
        p.driver = Some(ctx.chain().to_owned());
        p.job_id = ctx.job.id.clone();
    }
    next.updated_at = ctx.now;
    next.push_history(
        ctx.now,
        "adopted",
        format!(
            "job {} resumes deployment {} at {step} (a retry of the stage)",
            ctx.job.id, ctx.deployment_id
        ),
    );
    match commit(ctx, &current, &next).await? {
        Some(etag) => {
            info!(message = "Stage retry adopted the deployment.", service = %ctx.service, deployment_id = %ctx.deployment_id, job_id = %ctx.job.id, step = %step);
            Box::pin(continue_deployment(ctx, Versioned { value: next, etag })).await
        }
        None => Err(JobError::Unavailable(format!(
            "the record of {} changed while this job took deployment {} over; retry the stage",
            ctx.service, ctx.deployment_id
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Advancing a deployment
// ---------------------------------------------------------------------------------------------

/// Writes `next` over `current` with compare-and-swap; `false` when another invocation won.
async fn commit(
    ctx: &Ctx<'_>,
    current: &Versioned<DeploymentRecord>,
    next: &DeploymentRecord,
) -> Result<Option<String>, JobError> {
    let mut next = next.clone();
    if let Some(progress) = next.progress.as_mut() {
        progress.written_by = Some(ctx.me.clone());
    }
    match ctx.deps.store.replace(&ctx.key, &next, &current.etag).await {
        Ok(etag) => Ok(Some(etag)),
        Err(StateError::Conflict { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn lost_race(ctx: &Ctx<'_>, progress: &Progress) -> Report {
    continuing(
        ctx,
        progress,
        "another invocation advanced this deployment; nothing done twice",
    )
}

async fn continue_deployment(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
) -> Result<Report, JobError> {
    let Some(progress) = current.value.progress.clone() else {
        return Err(JobError::Failed(format!(
            "the record of {} has no progress for deployment {}",
            ctx.service, ctx.deployment_id
        )));
    };
    match current.value.status {
        DeploymentStatus::RollingBack | DeploymentStatus::RolledBack => {
            return rolled_back_elsewhere(ctx, current).await;
        }
        DeploymentStatus::Failed => {
            // Failing is final whether or not the owed audit records can be written now.
            let _ = flush_audits(ctx, current).await;
            let reason = progress
                .abort
                .as_ref()
                .map_or("the deployment failed", |a| a.reason.as_str());
            return Err(JobError::Failed(reason.to_owned()));
        }
        DeploymentStatus::Promoted | DeploymentStatus::Stable => {
            // The job succeeds only once the promotion's audit record is written.
            return match flush_audits(ctx, current).await {
                Ok(current) => Ok(final_success(ctx, &current.value, &progress)),
                Err(error) => Ok(audit_owed(ctx, &progress, &error)),
            };
        }
        DeploymentStatus::InProgress => {}
    }
    let current = if current.value.audit_owed.is_empty() {
        current
    } else {
        match flush_audits(ctx, current).await {
            Ok(current) => current,
            Err(error) => return Ok(audit_owed(ctx, &progress, &error)),
        }
    };
    if let Some(abort) = progress.abort.clone() {
        return Box::pin(finish_abort(ctx, current, progress, abort)).await;
    }
    let Some(step) = progress.current().cloned() else {
        return promote(ctx, current, progress).await;
    };
    match step {
        Step::Register => Box::pin(register(ctx, current, progress)).await,
        Step::Deploy { ecs_service, mode } => {
            Box::pin(deploy_step(ctx, current, progress, &ecs_service, mode)).await
        }
        Step::Verify { target } => {
            Box::pin(verify(ctx, current, progress, target.as_deref())).await
        }
        Step::Shift { weights, .. } => Box::pin(shift(ctx, current, progress, &weights)).await,
        Step::Bake { seconds } => Box::pin(bake(ctx, current, progress, seconds)).await,
        Step::Promote => Box::pin(promote(ctx, current, progress)).await,
    }
}

/// alarm-rollback took the service back while this deployment was in flight (or the job asks
/// for a release that was rolled back). The job fails with the rollback's reason whatever
/// happens to the bookkeeping: recording the outcome (the release remembered as rolled back,
/// its audit record owed) is best effort here and done by whichever invocation comes next.
async fn rolled_back_elsewhere(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
) -> Result<Report, JobError> {
    let record = current.value.clone();
    let reason = release::rollback_reason(&record);
    let current = match release::conclude_rolled_back(&record, &ctx.actor(), ctx.now) {
        Some(next) => match commit(ctx, &current, &next).await {
            Ok(Some(etag)) => {
                // alarm-rollback notified when it rolled back; no second page for the event.
                finished(ctx, &next, Outcome::RolledBack, &reason, false).await;
                Some(Versioned { value: next, etag })
            }
            Ok(None) => None,
            Err(error) => {
                let text = bounded(&error.to_string(), MAX_ERROR_TEXT);
                warn!(message = "Could not record the rollback's outcome; the next invocation will.", service = %ctx.service, error = %text);
                None
            }
        },
        None => Some(current),
    };
    if let Some(current) = current.filter(|c| !c.value.audit_owed.is_empty()) {
        let _ = flush_audits(ctx, current).await;
    }
    Err(JobError::Failed(reason))
}

/// The report of an invocation that finished its step but could not write an owed audit
/// record: the job continues, and the next invocation writes it before anything else.
fn audit_owed(ctx: &Ctx<'_>, progress: &Progress, error: &JobError) -> Report {
    let text = bounded(&error.to_string(), MAX_MESSAGE);
    warn!(message = "Audit record owed; the next invocation writes it.", service = %ctx.service, error = %text);
    continuing(
        ctx,
        progress,
        "an audit record is owed and could not be written yet; retrying",
    )
}

fn final_success(ctx: &Ctx<'_>, record: &DeploymentRecord, progress: &Progress) -> Report {
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

async fn register(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    mut progress: Progress,
) -> Result<Report, JobError> {
    let step = progress.current().cloned();
    let Some(current) = claim(ctx, &current, &progress).await? else {
        return Ok(continuing(
            ctx,
            &progress,
            "another invocation is registering the task definition",
        ));
    };
    let arn = match register_revision(ctx, &progress).await {
        Ok(arn) => arn,
        Err(error) => return Err(release(ctx, &current, &progress, error).await),
    };
    let mut next = current.value.clone();
    progress.task_definition = Some(arn.clone());
    next.candidate = Some(Release {
        task_definition: arn.clone(),
        image: Some(progress.image.clone()),
        target: progress.target.clone(),
    });
    next.push_history(ctx.now, "registered", arn.clone());
    progress.advance(ctx.now);
    next.progress = Some(progress.clone());
    next.updated_at = ctx.now;
    if commit(ctx, &current, &next).await?.is_none() {
        return Ok(lost_race(ctx, &progress));
    }
    Ok(continuing(ctx, &progress, &format!("registered {arn}")).at_step(step.as_ref()))
}

/// Registers the new revision, or finds the one an invocation that crashed before recording it
/// registered: the family's latest revision, newer than the base, with this image in this
/// container.
async fn register_revision(ctx: &Ctx<'_>, progress: &Progress) -> Result<String, JobError> {
    let ecs_client = &ctx.deps.clients.ecs;
    let base = ecs::describe_task_definition(ecs_client, &progress.base_task_definition).await?;
    let family = base.family().unwrap_or_default();
    let latest = ecs::describe_task_definition(ecs_client, family).await?;
    let reusable = latest.revision() > base.revision()
        && latest
            .container_definitions()
            .iter()
            .any(|c| c.name() == Some(&progress.container) && c.image() == Some(&progress.image));
    if reusable {
        return Ok(latest.task_definition_arn().unwrap_or_default().to_owned());
    }
    let containers = ecs::with_image(&base, &progress.container, &progress.image);
    let arn = ecs::register_like(ecs_client, &base, containers).await?;
    crash_point(ctx, "register")?;
    Ok(arn)
}

/// Gives a claimed step back (phase as before the claim) after its change failed, so a retry
/// of the stage resumes at once instead of waiting out the lease; returns the error. An
/// injected crash keeps the claim, as a real crash would.
async fn release(
    ctx: &Ctx<'_>,
    claimed: &Versioned<DeploymentRecord>,
    before: &Progress,
    error: JobError,
) -> JobError {
    if matches!(error, JobError::Crash(_)) {
        return error;
    }
    let mut next = claimed.value.clone();
    let mut released = before.clone();
    released.written_by = Some(ctx.me.clone());
    next.progress = Some(released);
    if let Err(release_error) = ctx.deps.store.replace(&ctx.key, &next, &claimed.etag).await {
        warn!(message = "Could not release the claimed step; it frees itself when the lease ends.", service = %ctx.service, error = %release_error);
    }
    error
}

fn crash_point(ctx: &Ctx<'_>, step: &str) -> Result<(), JobError> {
    if ctx.deps.settings.crash_after_change {
        return Err(JobError::Crash(step.to_owned()));
    }
    Ok(())
}

/// Claims the current step for a change (`Acting`, with this invocation as the claimant).
/// `Ok(None)`: another live invocation holds it. A claim of this same invocation (a retry after
/// its answer was lost) or of a job chain that no longer drives the deployment is taken over at
/// once: the change it claimed is an absolute target, re-read before it is made again.
async fn claim(
    ctx: &Ctx<'_>,
    current: &Versioned<DeploymentRecord>,
    progress: &Progress,
) -> Result<Option<Versioned<DeploymentRecord>>, JobError> {
    match deploy::claim_verdict(progress, &ctx.me, ctx.now, ctx.deps.settings.lease) {
        ClaimVerdict::Held => return Ok(None),
        ClaimVerdict::TakeOver => {
            info!(message = "Taking over a claim whose holder is gone.", service = %ctx.service, step = %progress.current().map(Step::describe).unwrap_or_default());
        }
        ClaimVerdict::Free => {}
    }
    let mut next = current.value.clone();
    let mut claimed = progress.clone();
    claimed.phase = Phase::Acting {
        since: ctx.now,
        by: Some(ctx.me.clone()),
    };
    claimed.job_id = ctx.job.id.clone();
    next.progress = Some(claimed);
    next.updated_at = ctx.now;
    Ok(commit(ctx, current, &next)
        .await?
        .map(|etag| Versioned { value: next, etag }))
}

async fn deploy_step(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    mut progress: Progress,
    ecs_service: &str,
    mode: EcsMode,
) -> Result<Report, JobError> {
    let ecs_client = &ctx.deps.clients.ecs;
    let td = progress.task_definition.clone().unwrap_or_default();
    let step = progress.current().cloned();
    match progress.phase.clone() {
        Phase::Ready | Phase::Acting { .. } => {
            let Some(claimed) = claim(ctx, &current, &progress).await? else {
                return Ok(continuing(
                    ctx,
                    &progress,
                    "another invocation is updating ECS",
                ));
            };
            if let Err(error) = update_ecs(ctx, &claimed.value, ecs_service, mode, &td).await {
                return Err(release(ctx, &claimed, &progress, error).await);
            }
            let mut next = claimed.value.clone();
            progress.phase = Phase::Waiting {
                since: ctx.now,
                change_id: None,
            };
            next.progress = Some(progress.clone());
            next.push_history(ctx.now, "ecs_updated", format!("{ecs_service} → {td}"));
            if commit(ctx, &claimed, &next).await?.is_none() {
                return Ok(lost_race(ctx, &progress));
            }
            Ok(continuing(
                ctx,
                &progress,
                &format!("{ecs_service} updated to {td}; waiting for the rollout"),
            )
            .at_step(step.as_ref()))
        }
        Phase::Waiting { since, .. } => {
            let state = ecs::service_state(ecs_client, &ctx.cfg.cluster, ecs_service).await?;
            match rollout_verdict(&state, &td) {
                Rollout::Completed => {
                    let mut next = current.value.clone();
                    progress.advance(ctx.now);
                    next.progress = Some(progress.clone());
                    next.updated_at = ctx.now;
                    if commit(ctx, &current, &next).await?.is_none() {
                        return Ok(lost_race(ctx, &progress));
                    }
                    let note = format!(
                        "{ecs_service} rollout completed ({} running)",
                        state.running_count
                    );
                    Ok(continuing(ctx, &progress, &note).at_step(step.as_ref()))
                }
                Rollout::Failed(why) => {
                    let reason = format!("ECS rollout of {td} on {ecs_service} failed: {why}");
                    begin_abort(ctx, current, progress, AbortKind::EcsRollout, reason, None).await
                }
                Rollout::Pending => {
                    let timeout = chrono::Duration::seconds(i64::from(
                        ctx.cfg.deploy.stabilize_timeout_seconds,
                    ));
                    if ctx.now - since > timeout {
                        let reason = format!(
                            "ECS rollout of {td} on {ecs_service} did not complete within {} s",
                            ctx.cfg.deploy.stabilize_timeout_seconds
                        );
                        return begin_abort(
                            ctx,
                            current,
                            progress,
                            AbortKind::Timeout,
                            reason,
                            None,
                        )
                        .await;
                    }
                    let note = format!(
                        "waiting for {ecs_service}: {} of {} tasks running",
                        state.running_count, state.desired_count
                    );
                    Ok(continuing(ctx, &progress, &note).at_step(step.as_ref()))
                }
            }
        }
    }
}

/// Where an ECS rollout of `td` stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rollout {
    Completed,
    Pending,
    Failed(String),
}

/// Reads a service's state for the rollout of `td`: ECS's own deployment of it when listed
/// (`COMPLETED`, `FAILED` when the circuit breaker gave up and rolled back); a service no longer
/// set to `td` failed; a service set to `td` with no deployment naming it (emulators keep the
/// first deployment's task definition) counts as rolled out once its running count reaches the
/// desired count.
fn rollout_verdict(state: &ecs::ServiceState, td: &str) -> Rollout {
    match state.deployment_of(td) {
        Some(d) if d.state == "FAILED" => Rollout::Failed(format!(
            "the deployment circuit breaker stopped it and ECS rolled back ({})",
            d.reason
        )),
        Some(d) if d.state == "COMPLETED" && d.status == "PRIMARY" => Rollout::Completed,
        _ if !ecs::same_task_definition(&state.task_definition, td) => Rollout::Failed(format!(
            "the service is now set to {} (changed outside this deployment or rolled back by ECS)",
            state.task_definition
        )),
        None if state.running_count >= state.desired_count.max(1) => Rollout::Completed,
        _ => Rollout::Pending,
    }
}

/// Puts `ecs_service` on `td` (unless it is already set to it: a repeat after a crash).
async fn update_ecs(
    ctx: &Ctx<'_>,
    record: &DeploymentRecord,
    ecs_service: &str,
    mode: EcsMode,
    td: &str,
) -> Result<(), JobError> {
    let ecs_client = &ctx.deps.clients.ecs;
    let state = ecs::service_state(ecs_client, &ctx.cfg.cluster, ecs_service).await?;
    if ecs::same_task_definition(&state.task_definition, td) {
        return Ok(());
    }
    let (replace, desired) = match mode {
        EcsMode::AllAtOnce => (Replace::AllAtOnce, None),
        EcsMode::Rolling => (Replace::Rolling, None),
        EcsMode::Idle => (
            Replace::Keep,
            Some(
                live_desired_count(ctx, record)
                    .await?
                    .max(state.desired_count)
                    .max(1),
            ),
        ),
    };
    ecs::deploy(
        ecs_client,
        &ctx.cfg.cluster,
        ecs_service,
        td,
        replace,
        desired,
    )
    .await?;
    crash_point(ctx, "deploy")
}

/// The desired count of the color serving traffic now (the idle color is sized like it).
async fn live_desired_count(ctx: &Ctx<'_>, record: &DeploymentRecord) -> Result<i32, JobError> {
    let Some(traffic) = &ctx.cfg.traffic else {
        return Ok(1);
    };
    let Some(target) = record
        .stable
        .target
        .as_ref()
        .and_then(|t| traffic.targets.get(t))
    else {
        return Ok(1);
    };
    Ok(
        ecs::service_state(&ctx.deps.clients.ecs, &ctx.cfg.cluster, &target.ecs_service)
            .await?
            .desired_count,
    )
}

/// Any gating alarm in ALARM, with its reason.
async fn alarm_gate(ctx: &Ctx<'_>) -> Result<Option<(String, String)>, JobError> {
    let patterns = ctx.config.gate_alarms(&ctx.service);
    if patterns.is_empty() {
        return Ok(None);
    }
    let firing = cloudwatch::firing(&ctx.deps.cloudwatch, &patterns).await?;
    Ok(firing.into_iter().next().map(|f| (f.name, f.reason)))
}

async fn verify(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    mut progress: Progress,
    target: Option<&str>,
) -> Result<Report, JobError> {
    let step = progress.current().cloned();
    if let Some((alarm, reason)) = alarm_gate(ctx).await? {
        let text = format!("alarm {alarm} is in ALARM before any traffic moved: {reason}");
        return begin_abort(ctx, current, progress, AbortKind::Alarm, text, Some(alarm)).await;
    }
    let value = target
        .and_then(|t| ctx.cfg.traffic.as_ref().and_then(|tr| tr.targets.get(t)))
        .map(|t| t.value.clone())
        .unwrap_or_default();
    let target_name = target.unwrap_or_default();
    let mut results = Vec::new();
    for check in &ctx.cfg.deploy.health_checks {
        let url = health::expand(&check.url, target_name, &value);
        results.push(health::run(&ctx.deps.http, check, &url, false).await);
    }
    let smoke = health::smoke_check();
    for url in &ctx.cfg.deploy.smoke_tests {
        let url = health::expand(url, target_name, &value);
        results.push(health::run(&ctx.deps.http, &smoke, &url, true).await);
    }
    if let Some(failed) = results.iter().find(|r| !r.passed) {
        let reason = format!(
            "health check {} failed after {} attempt(s): {}; no traffic was shifted",
            failed.url, failed.attempts, failed.detail
        );
        return begin_abort(ctx, current, progress, AbortKind::HealthCheck, reason, None).await;
    }
    let mut next = current.value.clone();
    next.push_history(
        ctx.now,
        "verified",
        format!("{} check(s) passed", results.len()),
    );
    progress.advance(ctx.now);
    next.progress = Some(progress.clone());
    next.updated_at = ctx.now;
    if commit(ctx, &current, &next).await?.is_none() {
        return Ok(lost_race(ctx, &progress));
    }
    Ok(continuing(
        ctx,
        &progress,
        &format!("{} health check(s) and smoke test(s) passed", results.len()),
    )
    .at_step(step.as_ref()))
}

async fn shift(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    mut progress: Progress,
    weights: &std::collections::BTreeMap<String, u8>,
) -> Result<Report, JobError> {
    let step = progress.current().cloned();
    let Some(traffic) = ctx.cfg.traffic.clone() else {
        return Err(JobError::Config(format!(
            "{} has no traffic section",
            ctx.service
        )));
    };
    let r53 = &ctx.deps.clients.route53;
    match progress.phase.clone() {
        Phase::Ready | Phase::Acting { .. } => {
            if let Some((alarm, reason)) = alarm_gate(ctx).await? {
                let text = format!("alarm {alarm} is in ALARM: {reason}");
                return begin_abort(ctx, current, progress, AbortKind::Alarm, text, Some(alarm))
                    .await;
            }
            let Some(claimed) = claim(ctx, &current, &progress).await? else {
                return Ok(continuing(
                    ctx,
                    &progress,
                    "another invocation is shifting traffic",
                ));
            };
            let change_id = match write_weights(ctx, &traffic, weights).await {
                Ok(change_id) => change_id,
                Err(error) => return Err(release(ctx, &claimed, &progress, error).await),
            };
            let mut next = claimed.value.clone();
            next.weights = weights.clone();
            progress.phase = Phase::Waiting {
                since: ctx.now,
                change_id: change_id.clone(),
            };
            next.progress = Some(progress.clone());
            next.push_history(
                ctx.now,
                "traffic_shifted",
                weights
                    .iter()
                    .map(|(t, w)| format!("{t}={w}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            next.updated_at = ctx.now;
            if commit(ctx, &claimed, &next).await?.is_none() {
                return Ok(lost_race(ctx, &progress));
            }
            let note = match change_id {
                Some(id) => format!("weights written (change {id}); waiting for INSYNC"),
                None => "weights already in place".to_owned(),
            };
            Ok(continuing(ctx, &progress, &note).at_step(step.as_ref()))
        }
        Phase::Waiting { change_id, .. } => {
            let in_sync = match &change_id {
                Some(id) => route53::change_in_sync(r53, id).await?,
                // Weights found already in place after a crash: bake time starts now.
                None => true,
            };
            if !in_sync {
                return Ok(continuing(ctx, &progress, "waiting for Route53 INSYNC"));
            }
            let mut next = current.value.clone();
            progress.advance(ctx.now);
            next.progress = Some(progress.clone());
            next.updated_at = ctx.now;
            if commit(ctx, &current, &next).await?.is_none() {
                return Ok(lost_race(ctx, &progress));
            }
            Ok(
                continuing(ctx, &progress, "Route53 change INSYNC; bake time starts")
                    .at_step(step.as_ref()),
            )
        }
    }
}

/// Writes `weights` on the live record sets; the change id, `None` when already in place.
async fn write_weights(
    ctx: &Ctx<'_>,
    traffic: &ops_domain::config::TrafficConfig,
    weights: &std::collections::BTreeMap<String, u8>,
) -> Result<Option<String>, JobError> {
    let r53 = &ctx.deps.clients.route53;
    let record_type = traffic.record_type.as_str();
    let (zone, records) = route53::zone_and_records(
        r53,
        traffic.zone_id.as_deref(),
        traffic.zone_name.as_deref(),
        &traffic.record_name,
        record_type,
    )
    .await?;
    route53::check_targets(&zone, &traffic.record_name, record_type, &records, weights)?;
    let change_id = route53::set_weights(
        r53,
        &zone,
        &records,
        weights,
        &format!("deploy-hook {} {}", ctx.service, ctx.deployment_id),
    )
    .await?;
    if change_id.is_some() {
        crash_point(ctx, "shift")?;
    }
    Ok(change_id)
}

async fn bake(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    mut progress: Progress,
    seconds: u32,
) -> Result<Report, JobError> {
    let step = progress.current().cloned();
    if let Some((alarm, reason)) = alarm_gate(ctx).await? {
        let text = format!(
            "alarm {alarm} went into ALARM during {}: {reason}",
            step.as_ref().map(Step::describe).unwrap_or_default()
        );
        return begin_abort(ctx, current, progress, AbortKind::Alarm, text, Some(alarm)).await;
    }
    let baked = (ctx.now - progress.step_started_at).num_milliseconds();
    let needed = i64::from(seconds) * 1000;
    if baked < needed {
        let note = format!("baking, {} s of {seconds} s; alarms quiet", baked / 1000);
        return Ok(continuing(ctx, &progress, &note).at_step(step.as_ref()));
    }
    let mut next = current.value.clone();
    progress.advance(ctx.now);
    next.progress = Some(progress.clone());
    next.updated_at = ctx.now;
    if commit(ctx, &current, &next).await?.is_none() {
        return Ok(lost_race(ctx, &progress));
    }
    Ok(continuing(
        ctx,
        &progress,
        &format!("baked {seconds} s with alarms quiet"),
    )
    .at_step(step.as_ref()))
}

async fn promote(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    mut progress: Progress,
) -> Result<Report, JobError> {
    let before = current.value.clone();
    let mut next = current.value.clone();
    next.status = DeploymentStatus::Promoted;
    progress.step = progress.steps.len();
    progress.outcome = Some(Outcome::Promoted);
    progress.finished_at = Some(ctx.now);
    progress.rollback_window_until = Some(deploy::rollback_window_until(&ctx.cfg, ctx.now));
    next.progress = Some(progress.clone());
    next.push_history(
        ctx.now,
        "promoted",
        format!(
            "{} serves all traffic; rollback window until {}",
            progress.task_definition.as_deref().unwrap_or_default(),
            progress
                .rollback_window_until
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        ),
    );
    next.updated_at = ctx.now;
    let audit = release::owed_audit(
        &next,
        "deployment_promoted",
        "succeeded",
        &ctx.actor(),
        "promoted",
        Some(&before),
        ctx.now,
    );
    next.owe_audit(audit);
    let Some(etag) = commit(ctx, &current, &next).await? else {
        return Ok(lost_race(ctx, &progress));
    };
    finished(ctx, &next, Outcome::Promoted, "promoted", true).await;
    match flush_audits(ctx, Versioned { value: next, etag }).await {
        Ok(current) => Ok(final_success(ctx, &current.value, &progress)),
        Err(error) => Ok(audit_owed(ctx, &progress, &error)),
    }
}

// ---------------------------------------------------------------------------------------------
// Stopping a deployment
// ---------------------------------------------------------------------------------------------

/// Records why the deployment stops (claim first), then reverts it.
async fn begin_abort(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    mut progress: Progress,
    kind: AbortKind,
    reason: String,
    alarm: Option<String>,
) -> Result<Report, JobError> {
    let abort = Abort {
        kind,
        reason,
        alarm,
        at: ctx.now,
    };
    let mut next = current.value.clone();
    progress.abort = Some(abort.clone());
    next.progress = Some(progress.clone());
    next.push_history(ctx.now, "abort_started", abort.reason.clone());
    next.updated_at = ctx.now;
    let Some(etag) = commit(ctx, &current, &next).await? else {
        return Ok(lost_race(ctx, &progress));
    };
    Box::pin(finish_abort(
        ctx,
        Versioned { value: next, etag },
        progress,
        abort,
    ))
    .await
}

/// Puts traffic and services back on the stable version and records the failure.
async fn finish_abort(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    mut progress: Progress,
    abort: Abort,
) -> Result<Report, JobError> {
    let record = &current.value;
    let plan = rollback::plan(record, &ctx.cfg).map_err(|e| JobError::Failed(e.to_string()))?;
    let clients = &ctx.deps.clients;
    if let Some(change) = &plan.traffic {
        let (zone, records) = route53::zone_and_records(
            &clients.route53,
            change.zone_id.as_deref(),
            change.zone_name.as_deref(),
            &change.record_name,
            change.record_type.as_str(),
        )
        .await?;
        route53::set_weights(
            &clients.route53,
            &zone,
            &records,
            &change.weights,
            &format!("deploy-hook revert {} {}", ctx.service, ctx.deployment_id),
        )
        .await?;
    }
    let live =
        ecs::service_task_definition(&clients.ecs, &plan.ecs.cluster, &plan.ecs.service).await?;
    if !ecs::same_task_definition(&live, &plan.ecs.task_definition) {
        ecs::set_task_definition(
            &clients.ecs,
            &plan.ecs.cluster,
            &plan.ecs.service,
            &plan.ecs.task_definition,
        )
        .await?;
    }
    let outcome = if abort.kind == AbortKind::Alarm {
        Outcome::RolledBack
    } else {
        Outcome::Failed
    };
    let mut next = record.clone();
    next.status = if outcome == Outcome::RolledBack {
        DeploymentStatus::RolledBack
    } else {
        DeploymentStatus::Failed
    };
    if let Some(change) = &plan.traffic {
        next.weights = change.weights.clone();
    }
    if let Some(alarm) = &abort.alarm {
        next.rollback = Some(RollbackMark {
            trigger_id: format!("{}/gate", ctx.deployment_id),
            alarm: alarm.clone(),
            reason: abort.reason.clone(),
            started_at: abort.at,
            completed_at: Some(ctx.now),
            from: record.candidate.clone(),
        });
    }
    next.candidate = None;
    progress.outcome = Some(outcome);
    progress.finished_at = Some(ctx.now);
    next.progress = Some(progress.clone());
    next.push_history(
        ctx.now,
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
    next.updated_at = ctx.now;
    if outcome == Outcome::RolledBack {
        if let Some(rolled_back) = release::current_rollback(&next) {
            next.remember_rolled_back(rolled_back);
        }
    }
    let audit = release::owed_audit(
        &next,
        &format!("deployment_{}", outcome.as_str()),
        "failed",
        &ctx.actor(),
        &abort.reason,
        Some(record),
        ctx.now,
    );
    next.owe_audit(audit);
    let Some(etag) = commit(ctx, &current, &next).await? else {
        return Ok(lost_race(ctx, &progress));
    };
    finished(ctx, &next, outcome, &abort.reason, true).await;
    // The job fails with the reason whether or not the audit record can be written now.
    let _ = flush_audits(ctx, Versioned { value: next, etag }).await;
    Err(JobError::Failed(abort.reason))
}

// ---------------------------------------------------------------------------------------------
// Records of what happened: audit, metrics, notifications
// ---------------------------------------------------------------------------------------------

/// Writes the audit records `current` owes (create-once under keys fixed by the record, so a
/// repeat stores nothing twice), then removes them from the record with compare-and-swap.
/// Returns the record as written; an error when an audit record could not be written (it stays
/// owed, and whichever invocation reads the record next writes it).
async fn flush_audits(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
) -> Result<Versioned<DeploymentRecord>, JobError> {
    if current.value.audit_owed.is_empty() {
        return Ok(current);
    }
    for owed in &current.value.audit_owed {
        let record = AuditRecord {
            id: owed.id.clone(),
            at: owed.at,
            function: FUNCTION.to_owned(),
            action: owed.action.clone(),
            actor: owed.actor.clone(),
            target: format!("service:{}", ctx.service),
            reason: owed.reason.clone(),
            before: owed.before.clone(),
            after: current.value.summary(),
            outcome: owed.outcome.clone(),
            request_id: ctx.request_id.map(str::to_owned),
        };
        audit::write(&ctx.deps.store, &record).await?;
    }
    let mut next = current.value.clone();
    next.audit_owed.clear();
    match commit(ctx, &current, &next).await? {
        Some(etag) => Ok(Versioned { value: next, etag }),
        // Someone else wrote the record meanwhile; the audit records are stored, and whoever
        // reads the record next finds them written (create-once) and clears the list.
        None => Ok(current),
    }
}

/// DORA metrics and (with `notify`) a notification for a deployment that ended (its audit record
/// is owed in the record and written by [`flush_audits`]).
async fn finished(
    ctx: &Ctx<'_>,
    record: &DeploymentRecord,
    outcome: Outcome,
    reason: &str,
    notify: bool,
) {
    let Some(progress) = &record.progress else {
        return;
    };
    let duration = (ctx.now - progress.started_at).num_milliseconds().max(0) as f64;
    let mut metrics = MetricSet::new(FUNCTION)
        .dimension("Service", &ctx.service)
        .dimension("Result", outcome.as_str())
        .metric("Deployments", 1.0, Unit::Count)
        .metric("DeploymentDuration", duration, Unit::Milliseconds)
        .metric(
            "ChangeFailure",
            if outcome == Outcome::Promoted {
                0.0
            } else {
                1.0
            },
            Unit::Count,
        );
    if let Some(mark) = record
        .rollback
        .as_ref()
        .filter(|_| outcome == Outcome::RolledBack)
    {
        if let Some(done) = mark.completed_at {
            metrics = metrics.metric(
                "TimeToRestore",
                (done - mark.started_at).num_milliseconds().max(0) as f64,
                Unit::Milliseconds,
            );
        }
    }
    metrics.emit();
    if !notify {
        return;
    }
    let (severity, title) = match outcome {
        Outcome::Promoted => (
            Severity::Info,
            format!("{} deployed: {}", ctx.service, progress.image),
        ),
        Outcome::Failed => (
            Severity::Warning,
            format!("{} deployment failed", ctx.service),
        ),
        Outcome::RolledBack => (
            Severity::Critical,
            format!("{} deployment rolled back", ctx.service),
        ),
    };
    let notification = Notification {
        source: FUNCTION.to_owned(),
        severity,
        lifecycle: Lifecycle::Trigger,
        title,
        summary: reason.to_owned(),
        fields: vec![
            ("Service".to_owned(), ctx.service.clone()),
            ("Strategy".to_owned(), format!("{:?}", record.strategy)),
            ("Image".to_owned(), progress.image.clone()),
            ("Deployment".to_owned(), progress.deployment_id.clone()),
            (
                "Now serving".to_owned(),
                match outcome {
                    Outcome::Promoted => progress.task_definition.clone().unwrap_or_default(),
                    _ => record.stable.task_definition.clone(),
                },
            ),
        ],
        dedup_key: format!("{FUNCTION}/{}/{}", ctx.service, progress.deployment_id),
        link: None,
    };
    let delivery = ctx.deps.notifier.send(&ctx.config, &notification).await;
    if !delivery.failed.is_empty() {
        warn!(message = "Some notification channels failed.", failed = ?delivery.failed);
    }
}

// ---------------------------------------------------------------------------------------------
// Decommission (schedule)
// ---------------------------------------------------------------------------------------------

/// Settles every promoted deployment whose rollback window is over, and scales to zero every
/// color that carries no traffic and is not part of a deployment in flight. Both are
/// reconciliations against the record and the live state, so a run repeated or resumed after
/// a crash does only what is left.
async fn decommission(deps: &Deps) -> Result<String, HandlerError> {
    let config = deps.config.current().await?;
    let now = Utc::now();
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (service, cfg) in &config.services {
        match decommission_one(deps, service, cfg, now).await {
            Ok(Some(text)) => done.push(text),
            Ok(None) => {}
            Err(error) => failed.push(format!("{service}: {error}")),
        }
    }
    if !failed.is_empty() {
        return Err(HandlerError::Decommission(failed.join("; ")));
    }
    Ok(if done.is_empty() {
        "nothing to decommission".into()
    } else {
        done.join("; ")
    })
}

async fn decommission_one(
    deps: &Deps,
    service: &str,
    cfg: &ServiceConfig,
    now: DateTime<Utc>,
) -> Result<Option<String>, JobError> {
    let key = keys::deployment_record(service);
    let Some(mut current) = deps.store.get::<DeploymentRecord>(&key).await? else {
        return Ok(None);
    };
    let mut notes = Vec::new();
    if deploy::window_closed(&current.value, now) {
        let (settled, _) = deploy::settle(&current.value, now);
        match deps.store.replace(&key, &settled, &current.etag).await {
            Ok(etag) => {
                notes.push(format!("{} is stable", settled.stable.task_definition));
                current = Versioned {
                    value: settled,
                    etag,
                };
            }
            Err(StateError::Conflict { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        }
    }
    let record = &current.value;
    let idle_allowed = matches!(
        record.status,
        DeploymentStatus::Stable | DeploymentStatus::Failed | DeploymentStatus::RolledBack
    );
    if let (Some(traffic), true) = (&cfg.traffic, idle_allowed) {
        for (color, target) in &traffic.targets {
            let serving = record.stable.target.as_deref() == Some(color.as_str())
                || record.weights.get(color).copied().unwrap_or(0) > 0;
            if serving {
                continue;
            }
            let state =
                ecs::service_state(&deps.clients.ecs, &cfg.cluster, &target.ecs_service).await?;
            if state.desired_count > 0 {
                ecs::scale(&deps.clients.ecs, &cfg.cluster, &target.ecs_service, 0).await?;
                notes.push(format!("{} ({color}) scaled to 0", target.ecs_service));
            }
        }
    }
    Ok((!notes.is_empty()).then(|| format!("{service}: {}", notes.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(
        service_td: &str,
        deployments: &[(&str, &str, &str)],
        running: i32,
    ) -> ecs::ServiceState {
        ecs::ServiceState {
            task_definition: service_td.into(),
            desired_count: 2,
            running_count: running,
            deployments: deployments
                .iter()
                .map(|(status, td, rollout)| ecs::Rollout {
                    status: (*status).into(),
                    task_definition: (*td).into(),
                    state: (*rollout).into(),
                    reason: "circuit breaker".into(),
                })
                .collect(),
        }
    }

    fn kind(error: JobError) -> &'static str {
        match error {
            JobError::Config(_) => "ConfigurationError",
            JobError::Failed(_) | JobError::Crash(_) => "JobFailed",
            JobError::Unavailable(_) => "SystemUnavailable",
        }
    }

    #[test]
    fn error_classification() {
        let state = |code: &str, status| {
            StateError::Aws(AwsCallError::answered("PutObject", code, "no", status).on("s3://b/k"))
        };
        let config = |code: &str, status| {
            ConfigLoadError::Aws(
                AwsCallError::answered("GetObject", code, "", status).on("config s3://b/config"),
            )
        };
        let cases: Vec<(JobError, &str)> = vec![
            (state("SlowDown", 503).into(), "SystemUnavailable"),
            (state("AccessDenied", 403).into(), "ConfigurationError"),
            (
                StateError::Conflict {
                    bucket: "b".into(),
                    key: "k".into(),
                }
                .into(),
                "SystemUnavailable",
            ),
            (
                Route53Error::Aws(AwsCallError::answered(
                    "ChangeResourceRecordSets",
                    "Throttling",
                    "Rate exceeded",
                    400,
                ))
                .into(),
                "SystemUnavailable",
            ),
            (
                Route53Error::Aws(AwsCallError::answered(
                    "ChangeResourceRecordSets",
                    "InvalidChangeBatch",
                    "bad",
                    400,
                ))
                .into(),
                "JobFailed",
            ),
            (
                Route53Error::ZoneNotFound("z".into()).into(),
                "ConfigurationError",
            ),
            (
                EcsError::Aws(AwsCallError::answered(
                    "UpdateService",
                    "ThrottlingException",
                    "slow down",
                    400,
                ))
                .into(),
                "SystemUnavailable",
            ),
            (
                EcsError::TaskDefinitionNotFound("td".into()).into(),
                "ConfigurationError",
            ),
            (
                // CloudWatch's error is the AwsCallError itself.
                AwsCallError::answered("DescribeAlarms", "InternalFailure", "", 500).into(),
                "SystemUnavailable",
            ),
            (
                AwsCallError::answered("DescribeAlarms", "AccessDenied", "", 403).into(),
                "ConfigurationError",
            ),
            (
                config("ServiceUnavailable", 503).into(),
                "SystemUnavailable",
            ),
            (config("NoSuchKey", 404).into(), "ConfigurationError"),
            (
                ArtifactError::Refused {
                    artifact: "a".into(),
                    message: "SignatureDoesNotMatch (HTTP 403)".into(),
                }
                .into(),
                "JobFailed",
            ),
            (
                ArtifactError::Unavailable {
                    artifact: "a".into(),
                    message: "SlowDown (HTTP 503)".into(),
                }
                .into(),
                "SystemUnavailable",
            ),
        ];
        for (error, expect) in cases {
            let text = error.to_string();
            assert_eq!(kind(error), expect, "{text}");
        }
        let config = HandlerError::Config(config("SlowDown", 503));
        assert_eq!(Diagnostic::from(config).error_type, "SystemUnavailable");
    }

    #[test]
    fn rollout_verdicts() {
        let cases = [
            (state("web:2", &[("PRIMARY", "web:2", "COMPLETED")], 2), Rollout::Completed),
            (state("web:2", &[("PRIMARY", "web:2", "IN_PROGRESS"), ("ACTIVE", "web:1", "COMPLETED")], 1), Rollout::Pending),
            // The circuit breaker failed the new deployment and ECS rolled back to web:1.
            (state("web:1", &[("PRIMARY", "web:1", "IN_PROGRESS"), ("ACTIVE", "web:2", "FAILED")], 2), Rollout::Failed("the deployment circuit breaker stopped it and ECS rolled back (circuit breaker)".into())),
            // Someone else moved the service.
            (state("web:3", &[("PRIMARY", "web:3", "COMPLETED")], 2), Rollout::Failed("the service is now set to web:3 (changed outside this deployment or rolled back by ECS)".into())),
            // No deployment names web:2 (emulators): running count decides.
            (state("web:2", &[("PRIMARY", "web:1", "COMPLETED")], 2), Rollout::Completed),
            (state("web:2", &[("PRIMARY", "web:1", "COMPLETED")], 0), Rollout::Pending),
        ];
        for (state, expect) in cases {
            assert_eq!(rollout_verdict(&state, "web:2"), expect, "{state:?}");
        }
    }
}
