//! Carrying a deployment forward. The domain's machine ([`ops_domain::deploy::machine`])
//! decides; this module only reads what it asks for and carries its answer out:
//! read → `next(…)` → claim → act → record, written once for every change.
//!
//! Changes that touch AWS (task definition, ECS update, Route53 weights) are claimed first
//! (`Acting`), made, then recorded; every change sets an absolute target, so repeating one after
//! a crash changes nothing twice.

use chrono::Duration;
use ops_adapters::cloudwatch;
use ops_adapters::ecs::{self, Replace};
use ops_adapters::route53;
use ops_adapters::s3::Versioned;
use ops_domain::deploy::analysis::measure::SideNames;
use ops_domain::deploy::machine::{
    self, Change, Changed, Checks, EcsDeployment, EcsService, Firing, Next, Observation, Observed,
    Sides,
};
use ops_domain::deploy::{self, EcsMode, Outcome, Phase, Progress, Step};
use ops_domain::deployment::DeploymentRecord;
use tracing::{info, warn};

use crate::abort;
use crate::context::{
    audit_owed, commit, continuing, crash_point, final_success, lost_race, Ctx, Report,
};
use crate::error::JobError;
use crate::health;
use crate::hooks;
use crate::records::{finished, flush_audits, in_flight};
use crate::series::{read_measured, read_samples};

/// Most decisions one invocation makes (observations and in-invocation records included); the
/// machine needs at most five or six for any step.
const MAX_DECISIONS: usize = 16;

/// Advances the deployment in `current` as far as this invocation goes.
pub(crate) async fn continue_deployment(
    ctx: &Ctx<'_>,
    mut current: Versioned<DeploymentRecord>,
) -> Result<Report, JobError> {
    let actor = ctx.actor();
    let sides = sides(ctx, &current.value);
    let cx = machine::Context {
        analysis: ctx.cfg.deploy.analysis.as_ref(),
        sides: sides.as_ref(),
        now: ctx.now,
        me: &ctx.me,
        lease: ctx.deps.settings.lease,
        stabilize_timeout: Duration::seconds(i64::from(ctx.cfg.deploy.stabilize_timeout_seconds)),
        gated: !ctx.config.gate_alarms(&ctx.service).is_empty(),
        actor: &actor,
        rollback_window_until: deploy::rollback_window_until(&ctx.cfg, ctx.now),
    };
    let mut observed = Observed::default();
    for _ in 0..MAX_DECISIONS {
        let progress = current.value.progress.clone();
        let step = progress.as_ref().and_then(Progress::current).cloned();
        match machine::next(&current.value, &observed, &cx) {
            Next::Observe(what) => observe(ctx, &current.value, &what, &mut observed).await?,
            Next::Act(change) => return Box::pin(act(ctx, current, change)).await,
            Next::Record {
                record,
                note,
                again,
            } => {
                let Some(etag) = commit(ctx, &current, &record).await? else {
                    return Ok(lost_race(ctx, progress_of(&record)?));
                };
                in_flight(ctx, Some(&current.value), &record).await;
                current = Versioned {
                    value: *record,
                    etag,
                };
                if again {
                    observed.next_step();
                    continue;
                }
                let now = progress_of(&current.value)?;
                return Ok(continuing(ctx, now, &note).at_step(step.as_ref()));
            }
            Next::Wait { note } => {
                let progress = progress.as_ref().ok_or_else(|| no_progress(ctx))?;
                return Ok(continuing(ctx, progress, &note).at_step(step.as_ref()));
            }
            Next::Revert(abort) => return Box::pin(abort::revert(ctx, current, abort)).await,
            Next::Promote(record) => return Box::pin(promote(ctx, current, *record)).await,
            Next::WriteAudits => match flush_audits(ctx, current.clone()).await {
                Ok(written) if written.value.audit_owed.is_empty() => current = written,
                // Written, but another invocation changed the record meanwhile: read it again.
                Ok(_) => {
                    current = ctx
                        .deps
                        .store
                        .get::<DeploymentRecord>(&ctx.key)
                        .await?
                        .ok_or_else(|| no_progress(ctx))?;
                }
                Err(error) => {
                    let progress = progress.as_ref().ok_or_else(|| no_progress(ctx))?;
                    return Ok(audit_owed(ctx, progress, &error));
                }
            },
            Next::Succeeded => {
                let progress = progress.as_ref().ok_or_else(|| no_progress(ctx))?;
                return Ok(final_success(ctx, &current.value, progress));
            }
            Next::Fail { reason } => {
                let _ = flush_audits(ctx, current).await;
                return Err(JobError::Failed(reason));
            }
            Next::RolledBack { record, reason } => {
                return Err(
                    abort::conclude_rolled_back(ctx, current, record.map(|r| *r), reason).await,
                )
            }
        }
    }
    Err(JobError::Unavailable(format!(
        "deployment {} of {} did not settle within {MAX_DECISIONS} decisions; the next invocation goes on",
        ctx.deployment_id, ctx.service
    )))
}

fn no_progress(ctx: &Ctx<'_>) -> JobError {
    JobError::Failed(format!(
        "the record of {} has no progress for deployment {}",
        ctx.service, ctx.deployment_id
    ))
}

fn progress_of(record: &DeploymentRecord) -> Result<&Progress, JobError> {
    record.progress.as_ref().ok_or_else(|| {
        JobError::Failed(format!("the record of {} has no progress", record.service))
    })
}

/// Reads what the machine asked for.
async fn observe(
    ctx: &Ctx<'_>,
    record: &DeploymentRecord,
    what: &Observation,
    observed: &mut Observed,
) -> Result<(), JobError> {
    match what {
        Observation::Alarms => {
            let patterns = ctx.config.gate_alarms(&ctx.service);
            let firing = if patterns.is_empty() {
                Vec::new()
            } else {
                cloudwatch::firing(&ctx.deps.cloudwatch, &patterns).await?
            };
            observed.alarm = Some(firing.into_iter().next().map(|f| Firing {
                name: f.name,
                reason: f.reason,
            }));
        }
        Observation::Rollout {
            ecs_service,
            task_definition,
        } => {
            let state =
                ecs::service_state(&ctx.deps.clients.ecs, &ctx.cfg.cluster, ecs_service).await?;
            observed.rollout = Some(machine::rollout_verdict(
                &service_view(&state),
                task_definition,
            ));
        }
        Observation::Change { id } => {
            observed.in_sync = Some(route53::change_in_sync(&ctx.deps.clients.route53, id).await?);
        }
        Observation::Checks { target } => {
            observed.checks = Some(run_checks(ctx, target.as_deref()).await);
        }
        Observation::Weights => {
            let Some(traffic) = &ctx.cfg.traffic else {
                return Err(JobError::Config(format!(
                    "{} has no traffic section",
                    ctx.service
                )));
            };
            let (_, records) = route53::zone_and_records(
                &ctx.deps.clients.route53,
                traffic.zone_id.as_deref(),
                traffic.zone_name.as_deref(),
                &traffic.record_name,
                traffic.record_type.as_str(),
            )
            .await?;
            observed.live_weights = Some(route53::live_weights(&records));
        }
        Observation::Metrics { requests } => {
            observed.metrics = Some(read_measured(ctx.deps, &ctx.service, requests).await);
        }
        Observation::Judge { requests } => {
            observed.judged = Some(read_samples(ctx.deps, &ctx.service, requests).await);
        }
        Observation::Hook {
            hook,
            handle,
            since,
        } => {
            observed.hook =
                Some(hooks::status(ctx, record, hook, handle.as_deref(), *since).await?);
        }
    }
    Ok(())
}

/// What analysis reads for each side: the candidate color (its ECS service and target value)
/// and the stable one, or the service itself for in-place strategies.
pub(crate) fn sides(ctx: &Ctx<'_>, record: &DeploymentRecord) -> Option<Sides> {
    ctx.cfg.deploy.analysis.as_ref()?;
    let side = |color: &str| -> Option<SideNames> {
        let target = ctx.cfg.traffic.as_ref()?.targets.get(color)?;
        Some(SideNames {
            color: color.to_owned(),
            service: target.ecs_service.clone(),
            target: target.value.clone(),
        })
    };
    let candidate_color = record
        .progress
        .as_ref()
        .and_then(|p| p.target.clone())
        .or_else(|| record.candidate.as_ref().and_then(|c| c.target.clone()));
    match candidate_color {
        Some(color) => Some(Sides {
            candidate: side(&color)?,
            baseline: record.stable.target.as_deref().and_then(side),
        }),
        None => Some(Sides {
            candidate: SideNames {
                color: String::new(),
                service: ctx.cfg.ecs_service.clone().unwrap_or_default(),
                target: String::new(),
            },
            baseline: None,
        }),
    }
}

/// The health checks and smoke tests of a verify step, against `target`'s value.
async fn run_checks(ctx: &Ctx<'_>, target: Option<&str>) -> Checks {
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
    match results.iter().find(|r| !r.passed) {
        Some(failed) => Checks::Failed {
            url: failed.url.clone(),
            attempts: failed.attempts,
            detail: failed.detail.clone(),
        },
        None => Checks::Passed(results.len()),
    }
}

/// The service as the machine judges a rollout.
fn service_view(state: &ecs::ServiceState) -> EcsService {
    EcsService {
        task_definition: state.task_definition.clone(),
        desired_count: state.desired_count,
        running_count: state.running_count,
        deployments: state
            .deployments
            .iter()
            .map(|d| EcsDeployment {
                status: d.status.clone(),
                task_definition: d.task_definition.clone(),
                rollout_state: d.state.clone(),
                reason: d.reason.clone(),
            })
            .collect(),
    }
}

/// Claims the current step, makes `change`, records it.
async fn act(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    change: Change,
) -> Result<Report, JobError> {
    let before = progress_of(&current.value)?.clone();
    let step = before.current().cloned();
    if let Phase::Acting { .. } = before.phase {
        info!(message = "Taking over a claim whose holder is gone.", service = %ctx.service, step = %step.as_ref().map(Step::describe).unwrap_or_default());
    }
    let claimed = machine::claimed(&current.value, &ctx.me, ctx.now);
    let Some(etag) = commit(ctx, &current, &claimed).await? else {
        return Ok(lost_race(ctx, &before));
    };
    let claimed = Versioned {
        value: claimed,
        etag,
    };
    let changed = match make(ctx, &claimed.value, &before, &change).await {
        Ok(changed) => changed,
        Err(error) => return Err(release(ctx, &claimed, &before, error).await),
    };
    let (next, note) = machine::after_change(&claimed.value, &changed, ctx.now);
    let progress = progress_of(&next)?;
    if commit(ctx, &claimed, &next).await?.is_none() {
        return Ok(lost_race(ctx, progress));
    }
    in_flight(ctx, Some(&claimed.value), &next).await;
    Ok(continuing(ctx, progress, &note).at_step(step.as_ref()))
}

/// Makes one change in AWS.
async fn make(
    ctx: &Ctx<'_>,
    record: &DeploymentRecord,
    progress: &Progress,
    change: &Change,
) -> Result<Changed, JobError> {
    match change {
        Change::Register => register_revision(ctx, progress)
            .await
            .map(Changed::Registered),
        Change::UpdateService {
            ecs_service,
            mode,
            task_definition,
        } => {
            update_ecs(ctx, record, ecs_service, *mode, task_definition).await?;
            Ok(Changed::ServiceUpdated)
        }
        Change::WriteWeights { weights } => {
            let Some(traffic) = &ctx.cfg.traffic else {
                return Err(JobError::Config(format!(
                    "{} has no traffic section",
                    ctx.service
                )));
            };
            write_weights(ctx, traffic, weights)
                .await
                .map(Changed::WeightsWritten)
        }
        Change::StartHook { hook, run } => hooks::start(ctx, progress, hook, run)
            .await
            .map(Changed::HookStarted),
    }
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

/// Writes the promoted record (its audit record owed in the same write), notifies, then writes
/// the audit record; the job succeeds once it is written.
async fn promote(
    ctx: &Ctx<'_>,
    current: Versioned<DeploymentRecord>,
    next: DeploymentRecord,
) -> Result<Report, JobError> {
    let progress = progress_of(&next)?.clone();
    let Some(etag) = commit(ctx, &current, &next).await? else {
        return Ok(lost_race(ctx, &progress));
    };
    finished(ctx, &next, Outcome::Promoted, "promoted", true).await;
    match flush_audits(ctx, Versioned { value: next, etag }).await {
        Ok(current) => Ok(final_success(ctx, &current.value, &progress)),
        Err(error) => Ok(audit_owed(ctx, &progress, &error)),
    }
}
