//! Starting a deployment: the deployment window, the job's release admitted against the record
//! (new, adopted by a stage retry, busy, refused), the image, the quality gates and the plan,
//! then the record written with the deployment in progress. Also the dry run.

use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
use ops_adapters::ecs;
use ops_adapters::error::{bounded, MAX_MESSAGE};
use ops_adapters::route53;
use ops_adapters::s3::{StateError, Versioned};
use ops_adapters::secretsmanager;
use ops_domain::config::{OnBusy, OutsideWindow};
use ops_domain::deploy::gates::{self, ContainerSpec, Finding, TaskSpec};
use ops_domain::deploy::{self, release, window, Admission, Phase, Progress, ReleaseSpec, Step};
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus, Release};
use tracing::info;

use crate::abort::rolled_back_elsewhere;
use crate::artifact;
use crate::context::{commit, continuing, queued, release_shape, Ctx, Report};
use crate::error::JobError;
use crate::executor::continue_deployment;
use crate::records::{flush_audits, in_flight};
use ops_adapters::codepipeline::JobResult;

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
    let wanted = ctx
        .params
        .container
        .clone()
        .or_else(|| ctx.cfg.deploy.container.clone());
    container_of(
        base,
        wanted.as_deref(),
        "set deploy.container or UserParameters.container",
    )
}

/// The container `wanted` names in `td`, else its only (or first essential) container; `hint`
/// says how to name one when there are several.
pub(crate) fn container_of(
    td: &TaskDefinition,
    wanted: Option<&str>,
    hint: &str,
) -> Result<String, JobError> {
    let containers = td.container_definitions();
    let names: Vec<&str> = containers.iter().filter_map(|c| c.name()).collect();
    match wanted {
        Some(name) if names.contains(&name) => Ok(name.to_owned()),
        Some(name) => Err(JobError::Config(format!(
            "task definition {} has no container \"{}\" (has {})",
            td.task_definition_arn().unwrap_or_default(),
            bounded(name, 100),
            bounded(&names.join(", "), MAX_MESSAGE)
        ))),
        None => match names.as_slice() {
            [only] => Ok((*only).to_owned()),
            _ => containers
                .iter()
                .find(|c| c.essential() == Some(true))
                .and_then(|c| c.name())
                .map(str::to_owned)
                .ok_or_else(|| {
                    JobError::Config(format!(
                        "task definition has several containers ({}); {hint}",
                        names.join(", ")
                    ))
                }),
        },
    }
}

pub(crate) fn spec_of(base: &TaskDefinition, containers: &[ContainerDefinition]) -> TaskSpec {
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
        paused: None,
        skip_bake: false,
        fast_forward: false,
        analysis: None,
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

pub(crate) async fn dry_run(
    ctx: &Ctx<'_>,
    record: Option<&DeploymentRecord>,
) -> Result<Report, JobError> {
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

pub(crate) async fn start(
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
    in_flight(ctx, record.as_ref().map(|r| &r.value), &next).await;
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
