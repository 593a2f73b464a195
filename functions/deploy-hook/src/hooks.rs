//! Lifecycle hooks (`deploy.hooks`) carried out: the machine decides when a hook starts and
//! what its answer means ([`ops_domain::deploy::machine`]); this module starts it and asks it.
//!
//! - A **task** is a one-off ECS task from the new task definition with the hook's command,
//!   placed like the service it belongs to, named by a deterministic `startedBy` so a retry
//!   after a lost answer finds it instead of starting a second one; its container's exit code
//!   is the answer, its log stream is named in the summary.
//! - A **Lambda** hook is invoked with the deployment on every invocation of the step and
//!   answers `{"status": "succeeded" | "failed" | "in_progress", "message": …}`; it must be
//!   idempotent for a deployment (the payload names it), as ECS's own lifecycle hooks must.
//! - A **backup** asks the backup function (`BACKUP_FUNCTION`) for a backup of the plan,
//!   asynchronously, then waits until the plan's `latest` pointer names a snapshot committed
//!   after the hook started (the backup function's run claim keeps a second request from
//!   starting a second run).
//! - `on_rollback` hooks are started after a revert and not waited for ([`on_rollback`]).

use chrono::{DateTime, Utc};
use ops_adapters::ecs::tasks;
use ops_adapters::lambda;
use ops_adapters::s3::StateStore;
use ops_domain::backup::manifest::{LatestPointer, Layout};
use ops_domain::deploy::hooks::{self, Hook, HookStatus};
use ops_domain::deploy::{Progress, Step};
use ops_domain::deployment::DeploymentRecord;
use serde_json::{json, Value};
use tracing::warn;

use crate::context::crash_point;
use crate::context::Ctx;
use crate::error::JobError;

/// The ECS service a hook's task is placed like: the candidate color's, or the service's.
fn like_service(ctx: &Ctx<'_>, progress: &Progress) -> Result<String, JobError> {
    let from_target = progress
        .target
        .as_ref()
        .and_then(|t| ctx.cfg.traffic.as_ref()?.targets.get(t))
        .map(|t| t.ecs_service.clone());
    from_target
        .or_else(|| ctx.cfg.ecs_service.clone())
        .ok_or_else(|| JobError::Config(format!("{} names no ECS service", ctx.service)))
}

/// The container a task hook's command runs in.
fn container<'a>(hook_container: Option<&'a String>, progress: &'a Progress) -> &'a str {
    hook_container.map_or(progress.container.as_str(), String::as_str)
}

/// Starts `hook` (a task, found by `run` when already started, or a backup); the task's ARN.
pub(crate) async fn start(
    ctx: &Ctx<'_>,
    progress: &Progress,
    hook: &Hook,
    run: &str,
) -> Result<Option<String>, JobError> {
    match hook {
        Hook::Task {
            command,
            container: hook_container,
            ..
        } => {
            let ecs = &ctx.deps.clients.ecs;
            let cluster = &ctx.cfg.cluster;
            if let Some(task) = tasks::find(ecs, cluster, run).await? {
                return Ok(Some(task.arn));
            }
            let td = progress.task_definition.clone().ok_or_else(|| {
                JobError::Failed("a task hook runs after the task definition is registered".into())
            })?;
            let arn = tasks::run_once(
                ecs,
                cluster,
                &like_service(ctx, progress)?,
                &td,
                container(hook_container.as_ref(), progress),
                command,
                run,
            )
            .await?;
            crash_point(ctx, "hook")?;
            Ok(Some(arn))
        }
        Hook::Backup { plan, .. } => {
            let function = backup_function(ctx)?;
            lambda::invoke_event(
                &ctx.deps.clients.lambda,
                &function,
                &json!({ "plan": plan, "action": "backup" }),
            )
            .await?;
            crash_point(ctx, "hook")?;
            Ok(None)
        }
        // Asked on every invocation; nothing to start.
        Hook::Lambda { .. } => Ok(None),
    }
}

fn backup_function(ctx: &Ctx<'_>) -> Result<String, JobError> {
    ctx.deps.settings.backup_function.clone().ok_or_else(|| {
        JobError::Config(
            "a backup hook needs the backup function: set BACKUP_FUNCTION on deploy-hook".into(),
        )
    })
}

/// Where `hook` stands: the task's state, the function's answer, the plan's latest snapshot.
pub(crate) async fn status(
    ctx: &Ctx<'_>,
    record: &DeploymentRecord,
    hook: &Hook,
    handle: Option<&str>,
    since: DateTime<Utc>,
) -> Result<HookStatus, JobError> {
    let progress = record.progress.as_ref().ok_or_else(|| {
        JobError::Failed(format!("the record of {} has no progress", ctx.service))
    })?;
    match hook {
        Hook::Task {
            container: hook_container,
            ..
        } => {
            let Some(arn) = handle else {
                return Ok(HookStatus::Failed("the task's ARN was not recorded".into()));
            };
            let name = container(hook_container.as_ref(), progress);
            let task = tasks::state(&ctx.deps.clients.ecs, &ctx.cfg.cluster, arn, name).await?;
            Ok(task_status(&task))
        }
        Hook::Lambda { function, .. } => {
            let at = match progress.current() {
                Some(Step::Hook { at, .. }) => at.as_str(),
                _ => "",
            };
            let payload = json!({
                "hook": at,
                "service": ctx.service,
                "deployment_id": progress.deployment_id,
                "image": progress.image,
                "task_definition": progress.task_definition,
                "candidate": progress.target,
                "stable": record.stable.target,
                "weights": record.weights,
                "started_at": since,
            });
            match lambda::invoke_json(&ctx.deps.clients.lambda, function, &payload).await {
                Ok(answer) => Ok(lambda_status(function, &answer)),
                Err(lambda::LambdaError::Function { message }) => Ok(HookStatus::Failed(format!(
                    "function {function} failed: {message}"
                ))),
                Err(error) => Err(error.into()),
            }
        }
        Hook::Backup { plan, .. } => backup_status(ctx, plan, since).await,
    }
}

/// A task's state as a hook's answer.
fn task_status(task: &tasks::TaskState) -> HookStatus {
    let logs = task
        .log_stream
        .as_deref()
        .map(|s| format!("; logs {s}"))
        .unwrap_or_default();
    if !task.stopped {
        return HookStatus::Running(format!("task {} {}", short(&task.arn), task.last_status));
    }
    let reason = task
        .stopped_reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    match task.exit_code {
        Some(0) => HookStatus::Succeeded(format!("task {} exited 0{logs}", short(&task.arn))),
        Some(code) => HookStatus::Failed(format!(
            "task {} exited {code}{reason}{logs}",
            short(&task.arn)
        )),
        None => HookStatus::Failed(format!(
            "task {} stopped without an exit code{reason}{logs}",
            short(&task.arn)
        )),
    }
}

/// The last part of an ARN.
fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A Lambda hook's answer.
fn lambda_status(function: &str, answer: &Value) -> HookStatus {
    let message = answer
        .get("message")
        .and_then(Value::as_str)
        .map(|m| m.chars().take(300).collect::<String>())
        .unwrap_or_default();
    match answer.get("status").and_then(Value::as_str) {
        Some("succeeded") => HookStatus::Succeeded(format!("{function}: {message}")),
        Some("failed") => HookStatus::Failed(format!("{function}: {message}")),
        Some("in_progress") => HookStatus::Running(format!("{function} in progress {message}")),
        _ => HookStatus::Failed(format!(
            "{function} answered neither succeeded, failed nor in_progress"
        )),
    }
}

/// Whether the plan's latest snapshot was committed after `since`.
async fn backup_status(
    ctx: &Ctx<'_>,
    plan: &str,
    since: DateTime<Utc>,
) -> Result<HookStatus, JobError> {
    let Some(config) = ctx.config.backup.plans.get(plan) else {
        return Ok(HookStatus::Failed(format!("no backup plan {plan}")));
    };
    let store = StateStore::new(
        ctx.deps.clients.s3.clone(),
        config.destination.bucket.clone(),
    );
    let layout = Layout::new(&config.destination.prefix);
    let latest = store.get::<LatestPointer>(&layout.latest_key(plan)).await?;
    Ok(match latest {
        Some(pointer) if pointer.value.created_at >= since => HookStatus::Succeeded(format!(
            "snapshot {} of plan {plan} committed at {}",
            pointer.value.snapshot,
            pointer
                .value
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        _ => HookStatus::Running(format!(
            "waiting for a snapshot of plan {plan} committed after {}",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
    })
}

/// Starts the `on_rollback` hooks of a reverted deployment without waiting for them; a failure
/// is logged, never undoes the revert.
pub(crate) async fn on_rollback(ctx: &Ctx<'_>, record: &DeploymentRecord) {
    let Some(progress) = record.progress.as_ref() else {
        return;
    };
    for (index, hook) in ctx.cfg.deploy.hooks.on_rollback.iter().enumerate() {
        let run = hooks::run_name(&progress.deployment_id, 10_000 + index);
        let started = match hook {
            Hook::Task { .. } | Hook::Backup { .. } => {
                start(ctx, progress, hook, &run).await.map(|_| ())
            }
            Hook::Lambda { function, .. } => lambda::invoke_event(
                &ctx.deps.clients.lambda,
                function,
                &json!({
                    "hook": "on_rollback",
                    "service": ctx.service,
                    "deployment_id": progress.deployment_id,
                    "image": progress.image,
                    "stable": record.stable.task_definition,
                }),
            )
            .await
            .map_err(JobError::from),
        };
        if let Err(error) = started {
            warn!(message = "An on_rollback hook could not be started.", service = %ctx.service, hook = %hook.describe(), error = %error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(stopped: bool, exit_code: Option<i32>) -> tasks::TaskState {
        tasks::TaskState {
            arn: "arn:aws:ecs:eu-west-1:1:task/prod/abc123".into(),
            last_status: if stopped { "STOPPED" } else { "RUNNING" }.into(),
            stopped,
            exit_code,
            stopped_reason: stopped.then(|| "Essential container in task exited".to_owned()),
            log_stream: Some("/ecs/api/app/app/abc123".into()),
        }
    }

    #[test]
    fn a_task_answers_by_its_exit_code() {
        assert_eq!(
            task_status(&task(false, None)),
            HookStatus::Running("task abc123 RUNNING".into())
        );
        assert_eq!(
            task_status(&task(true, Some(0))),
            HookStatus::Succeeded("task abc123 exited 0; logs /ecs/api/app/app/abc123".into())
        );
        assert_eq!(
            task_status(&task(true, Some(1))),
            HookStatus::Failed(
                "task abc123 exited 1 (Essential container in task exited); logs /ecs/api/app/app/abc123"
                    .into()
            )
        );
        assert!(matches!(
            task_status(&task(true, None)),
            HookStatus::Failed(_)
        ));
    }

    #[test]
    fn a_function_answers_by_its_status() {
        let answer = |v: Value| lambda_status("smoke", &v);
        assert_eq!(
            answer(json!({"status": "succeeded", "message": "ok"})),
            HookStatus::Succeeded("smoke: ok".into())
        );
        assert_eq!(
            answer(json!({"status": "failed", "message": "checkout broke"})),
            HookStatus::Failed("smoke: checkout broke".into())
        );
        assert!(matches!(
            answer(json!({"status": "in_progress"})),
            HookStatus::Running(_)
        ));
        assert!(matches!(answer(json!({"ok": true})), HookStatus::Failed(_)));
    }
}
