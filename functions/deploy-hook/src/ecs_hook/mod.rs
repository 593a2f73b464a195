//! ECS lifecycle-hook mode: deploy-hook answers the Amazon ECS deployment lifecycle hook
//! payload, so a service that lets ECS shift its traffic (native blue/green, linear, canary)
//! still gets this project's gates. ECS keeps the deployment; deploy-hook only judges it:
//!
//! - `RECONCILE_SERVICE`, `PRE_SCALE_UP` (the first stage of every deployment): the quality
//!   gates on the target revision's task definition ([`gates`]).
//! - `POST_TEST_TRAFFIC_SHIFT`, `PRODUCTION_TRAFFIC_SHIFT` (each step of linear and canary),
//!   `POST_PRODUCTION_TRAFFIC_SHIFT`: the service's `deploy.analysis` ([`analysis`]).
//! - Every other stage, and any stage re-invoked while ECS rolls back: `SUCCEEDED` at once
//!   (a hook never holds a rollback).
//!
//! Which service: the suite service whose `cluster` and `ecs_service` (or a traffic target's
//! `ecs_service`) match the payload's `serviceArn`. No match is a configuration error: `FAILED`
//! with the reason. An AWS fault is never a verdict: ECS rolls back a deployment whose hook
//! fails, so a fault answers `IN_PROGRESS` and ECS asks again ([`FAULT_RETRY_SECONDS`]), within
//! the hook's own `timeoutConfiguration`.

pub mod analysis;
pub mod gates;
pub mod payload;

use ops_domain::config::ServiceConfig;
use tracing::{info, warn};

use crate::deps::Deps;
use crate::error::{JobError, MAX_ERROR_TEXT};
use ops_adapters::error::bounded;
use payload::{HookAnswer, HookStatus, LifecycleEvent, Stage};

/// Seconds ECS waits before asking again after an AWS fault (its own default delay).
pub const FAULT_RETRY_SECONDS: u32 = 30;

/// The suite service an event is about.
pub(crate) struct Target {
    /// The service's name in the suite config.
    pub name: String,
    /// Its config.
    pub cfg: ServiceConfig,
    /// The ECS service ECS deploys.
    pub ecs_service: String,
}

fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit('/').next().unwrap_or(cluster)
}

/// The suite service whose cluster and ECS service the payload names.
async fn target_of(deps: &Deps, event: &LifecycleEvent) -> Result<Target, JobError> {
    let config = deps.config.current().await.map_err(|error| {
        if error.is_transient() {
            JobError::Unavailable(error.to_string())
        } else {
            JobError::Config(error.to_string())
        }
    })?;
    let (cluster, ecs_service) = event.cluster_and_service();
    let matches: Vec<(&String, &ServiceConfig)> = config
        .services
        .iter()
        .filter(|(_, cfg)| cluster.is_none_or(|c| cluster_name(&cfg.cluster) == c))
        .filter(|(_, cfg)| {
            cfg.ecs_service.as_deref() == Some(ecs_service)
                || cfg
                    .traffic
                    .as_ref()
                    .is_some_and(|t| t.targets.values().any(|t| t.ecs_service == ecs_service))
        })
        .collect();
    match matches.as_slice() {
        [(name, cfg)] => Ok(Target {
            name: (*name).clone(),
            cfg: (*cfg).clone(),
            ecs_service: ecs_service.to_owned(),
        }),
        [] => Err(JobError::Config(format!(
            "no service of the suite config runs ECS service {} in cluster {}; add one with \
             that cluster and ecs_service",
            bounded(ecs_service, 200),
            bounded(cluster.unwrap_or("(not named)"), 200)
        ))),
        several => Err(JobError::Config(format!(
            "several services of the suite config run ECS service {} ({}); name the cluster \
             in the service ARN or keep one",
            bounded(ecs_service, 200),
            several
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

async fn judge(deps: &Deps, event: &LifecycleEvent) -> Result<HookAnswer, JobError> {
    let stage = &event.lifecycle_stage;
    let at_once = |reason: &str| Ok(HookAnswer::with_reason(HookStatus::Succeeded, None, reason));
    if event.is_rollback() {
        return at_once("ECS is rolling back; a hook never holds a rollback");
    }
    match stage {
        Stage::ReconcileService | Stage::PreScaleUp => {
            let target = target_of(deps, event).await?;
            gates::first_stage(deps, event, &target.name, &target.cfg, &target.ecs_service).await
        }
        Stage::PostTestTrafficShift
        | Stage::ProductionTrafficShift
        | Stage::PostProductionTrafficShift => {
            let target = target_of(deps, event).await?;
            Box::pin(analysis::traffic_stage(deps, event, &target)).await
        }
        Stage::PostScaleUp
        | Stage::TestTrafficShift
        | Stage::PreProductionTrafficShift
        | Stage::Other => at_once("deploy-hook judges nothing at this stage"),
    }
}

/// The answer to one lifecycle hook invocation. Never an error: a gate or analysis verdict and
/// a configuration error are `FAILED` with the reason, an AWS fault is `IN_PROGRESS`.
pub async fn answer(deps: &Deps, event: &LifecycleEvent) -> HookAnswer {
    let answer = match judge(deps, event).await {
        Ok(answer) => answer,
        Err(JobError::Unavailable(error)) => {
            let error = bounded(&error, MAX_ERROR_TEXT);
            warn!(
                message = "AWS fault in an ECS lifecycle hook; ECS asks again.",
                stage = event.lifecycle_stage.as_str(),
                deployment = %event.resource_arn,
                %error,
            );
            HookAnswer::with_reason(
                HookStatus::InProgress,
                Some(FAULT_RETRY_SECONDS),
                &format!("AWS fault, no verdict yet: {error}"),
            )
        }
        Err(error) => HookAnswer::with_reason(
            HookStatus::Failed,
            None,
            &bounded(&error.to_string(), MAX_ERROR_TEXT),
        ),
    };
    let reason = answer.reason().unwrap_or_default();
    if answer.hook_status == HookStatus::Failed {
        warn!(
            message = "ECS lifecycle hook failed the deployment.",
            stage = event.lifecycle_stage.as_str(),
            deployment = %event.resource_arn,
            reason,
        );
    } else {
        info!(
            message = "ECS lifecycle hook answered.",
            stage = event.lifecycle_stage.as_str(),
            deployment = %event.resource_arn,
            status = answer.hook_status.as_str(),
            reason,
        );
    }
    answer
}
