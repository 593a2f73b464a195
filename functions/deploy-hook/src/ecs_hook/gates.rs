//! The first stage of an ECS-driven deployment (`RECONCILE_SERVICE`, `PRE_SCALE_UP`): the
//! quality gates the CodePipeline path runs (pinned image, plaintext secrets, placeholders,
//! limits, required variables, referenced secrets that exist) on the task definition of the
//! revision ECS is about to start. Nothing is changed; the verdict is the answer.

use aws_sdk_ecs::types::TaskDefinition;
use ops_adapters::ecs;
use ops_adapters::secretsmanager;
use ops_domain::config::ServiceConfig;
use ops_domain::deploy::gates::{self, Finding};
use serde_json::{Map, Value};
use tracing::info;

use super::payload::{HookAnswer, HookStatus, LifecycleEvent};
use crate::deps::{Deps, RevisionSource};
use crate::error::JobError;
use crate::start::{container_of, spec_of};

/// The task definition of the revision being deployed.
async fn target_task_definition(
    deps: &Deps,
    event: &LifecycleEvent,
    cfg: &ServiceConfig,
    ecs_service: &str,
) -> Result<String, JobError> {
    Ok(match deps.settings.revision_source {
        RevisionSource::ServiceRevision => {
            ecs::service_revision_task_definition(
                &deps.clients.ecs,
                &event.execution_details.target_service_revision_arn,
            )
            .await?
        }
        RevisionSource::Service => {
            ecs::service_task_definition(&deps.clients.ecs, &cfg.cluster, ecs_service).await?
        }
    })
}

/// The container the gates' `required_env` applies to: `deploy.container`, else the only (or
/// first essential) container.
fn gated_container(cfg: &ServiceConfig, td: &TaskDefinition) -> Result<String, JobError> {
    container_of(td, cfg.deploy.container.as_deref(), "set deploy.container")
}

/// Runs the gates on the revision ECS is about to start.
pub(crate) async fn first_stage(
    deps: &Deps,
    event: &LifecycleEvent,
    service: &str,
    cfg: &ServiceConfig,
    ecs_service: &str,
) -> Result<HookAnswer, JobError> {
    let arn = target_task_definition(deps, event, cfg, ecs_service).await?;
    let td = ecs::describe_task_definition(&deps.clients.ecs, &arn).await?;
    let container = gated_container(cfg, &td)?;
    let spec = spec_of(&td, td.container_definitions());
    let mut findings = gates::check(&spec, &container, &cfg.deploy.required_env);
    for c in &spec.containers {
        for (name, reference) in &c.secrets {
            if let Some(id) = secretsmanager::secret_id_of_reference(reference) {
                if !secretsmanager::secret_exists(&deps.clients.secrets, &id).await? {
                    findings.push(gates::missing_secret(&c.name, name, &id));
                }
            }
        }
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.level));
    let text = findings
        .iter()
        .map(Finding::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let mut details = Map::new();
    details.insert("taskDefinition".into(), Value::String(arn.clone()));
    let status = if gates::blocks(&findings) {
        details.insert(
            "reason".into(),
            Value::String(format!("quality gates block {arn} of {service}: {text}")),
        );
        HookStatus::Failed
    } else {
        let reason = if findings.is_empty() {
            format!("all gates pass on {arn} of {service}")
        } else {
            format!("gates pass on {arn} of {service} with warnings: {text}")
        };
        details.insert("reason".into(), Value::String(reason));
        HookStatus::Succeeded
    };
    info!(
        message = "Quality gates judged.",
        %service,
        task_definition = %arn,
        findings = findings.len(),
        status = status.as_str(),
    );
    Ok(HookAnswer::new(status, None, details))
}
