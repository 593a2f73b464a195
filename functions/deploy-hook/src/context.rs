//! What every part of a job invocation shares, below all of them: the invocation's context,
//! the report to CodePipeline and its summaries, and the record written as this invocation.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_codepipeline::types::FailureType;
use chrono::{DateTime, Utc};
use ops_adapters::codepipeline::JobResult;
use ops_adapters::error::{bounded, MAX_MESSAGE};
use ops_adapters::s3::{StateError, Versioned};
use ops_domain::config::{ServiceConfig, SuiteConfig};
use ops_domain::deploy::{Claimant, Progress, Step, Token};
use ops_domain::deployment::DeploymentRecord;
use tracing::warn;

use crate::deps::Deps;
use crate::error::{JobError, MAX_ERROR_TEXT};
use crate::event::{Job, UserParameters};

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

/// invocation won.
pub(crate) async fn commit(
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

pub(crate) fn lost_race(ctx: &Ctx<'_>, progress: &Progress) -> Report {
    continuing(
        ctx,
        progress,
        "another invocation advanced this deployment; nothing done twice",
    )
}

/// The report of an invocation that finished its step but could not write an owed audit
/// record: the job continues, and the next invocation writes it before anything else.
pub(crate) fn audit_owed(ctx: &Ctx<'_>, progress: &Progress, error: &JobError) -> Report {
    let text = bounded(&error.to_string(), MAX_MESSAGE);
    warn!(message = "Audit record owed; the next invocation writes it.", service = %ctx.service, error = %text);
    continuing(
        ctx,
        progress,
        "an audit record is owed and could not be written yet; retrying",
    )
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

/// Fault injection for the crash-and-resume tests: stops right after an AWS change, before the
/// record says it was made ([`crate::deps::Settings::crash_after_change`]).
pub(crate) fn crash_point(ctx: &Ctx<'_>, step: &str) -> Result<(), JobError> {
    if ctx.deps.settings.crash_after_change {
        return Err(JobError::Crash(step.to_owned()));
    }
    Ok(())
}
