//! `opsctl rollback SERVICE [--to REVISION] [--dry-run]`: an operator's rollback, through the
//! same domain decision and record transitions alarm-rollback uses ([`rollback::decide`],
//! [`rollback::begin`], [`rollback::complete`]) with a manual trigger (`operator-<command id>`,
//! alarm `operator`), the rollback mark naming the operator.
//!
//! - **PROMOTED** (inside its rollback window when the strategy shifts traffic): traffic and the
//!   ECS service back on the stable release, exactly as an alarm would.
//! - **STABLE** with an in-place strategy (`rolling`, `all_at_once`): back to the release that
//!   was stable before (`record.previous`) or to `--to REVISION`. The current stable release is
//!   treated as the candidate and the target as the stable release, then the same decision and
//!   transitions apply. A traffic-shifting service is refused: its idle color was scaled to zero
//!   when the promotion settled, so the previous image goes back through the pipeline.
//! - **IN_PROGRESS** is refused: `opsctl deploy abort` stops a deployment in flight.
//!
//! Everything is read (record, hosted zone and weighted records, ECS service, target task
//! definition) before anything is written; `--dry-run` stops there. The record is claimed with
//! compare-and-swap (a lost race re-reads; a plan that changed since it was shown is refused),
//! weights then the ECS service are changed (skipping what is already as planned), the record
//! is completed, and an audit record is written (action `rollback`, actor `operator:<arn>`).

use std::collections::BTreeMap;
use std::io::Write;

use aws_sdk_route53::types::ResourceRecordSet;
use chrono::{DateTime, Duration, Utc};
use ops_adapters::{ecs, route53};
use ops_domain::audit::AuditRecord;
use ops_domain::config::ServiceConfig;
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus, Release};
use ops_domain::rollback::{self, Decision, RollbackPlan, Skip, Trigger};
use serde_json::{json, Value};

use crate::deploy::{ask, Done, Preview};
use crate::session::{self, command_id, Session, MAX_ATTEMPTS};
use crate::{Env, Failure, Options};

/// How long a claimed rollback is left to its claimant before another may take it over (the
/// same lease alarm-rollback uses).
pub const LEASE_SECONDS: i64 = 90;

/// What the operator asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The service.
    pub service: &'a str,
    /// `--to`: the release to go back to (STABLE services).
    pub to: Option<&'a str>,
    /// `--dry-run`.
    pub dry_run: bool,
}

/// Live state the rollback changes, read before any write.
struct Live {
    zone_id: Option<String>,
    record_sets: Vec<ResourceRecordSet>,
    weights: BTreeMap<String, i64>,
    task_definition: String,
}

/// A rollback ready to be carried out.
struct Prepared {
    /// The record the decision was made on (for a STABLE service: the current release as the
    /// candidate and the target as the stable release).
    working: DeploymentRecord,
    plan: RollbackPlan,
    live: Live,
}

/// Runs the rollback of `request.service` for `opsctl`: shows the plan, asks to confirm,
/// carries it out.
pub async fn run(
    request: &Request<'_>,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let session = Session::open(env, options).await?;
    let output = options.output;
    let done = execute(
        &session,
        request,
        options.reason.clone(),
        |preview: &Preview| ask(preview, env, options, out),
    )
    .await?;
    done.print(output, out);
    Ok(())
}

/// Decides and reads everything, asks `confirm` with the plan (not for a dry run, which stops
/// there), then claims the record, puts traffic and the ECS service back and completes the
/// record with its audit record, naming `session.caller`.
pub async fn execute<C>(
    session: &Session,
    request: &Request<'_>,
    reason: String,
    mut confirm: C,
) -> Result<Done, Failure>
where
    C: FnMut(&Preview) -> Result<(), Failure>,
{
    let service = request.service;
    let config = session.service(service)?.clone();
    let now = Utc::now();
    let id = command_id(service, now);
    let trigger = Trigger {
        id: format!("operator-{id}"),
        alarm: "operator".to_owned(),
        reason: if reason.is_empty() {
            "operator rollback".to_owned()
        } else {
            reason
        },
    };
    let claimant = rollback::claimant(&trigger, &id);
    let mut current = session.record(service).await?;
    let before = current.value.clone();
    let mut prepared = prepare(
        session,
        &config,
        &current.value,
        request,
        &trigger,
        &claimant,
    )
    .await?;
    let shown = prepared.plan.clone();
    let lines = plan_lines(&before, &prepared, &id, &session.caller);
    if request.dry_run {
        let mut lines = lines;
        lines.push("dry run: nothing was changed".to_owned());
        let body = plan_json(&before, &prepared, &id, &session.caller, &trigger, true);
        return Ok(Done { lines, body });
    }
    confirm(&Preview {
        lines,
        question: format!("roll back {service}?"),
        what: format!(
            "{service} back on {}: ECS service {}/{}{}",
            prepared.plan.to.task_definition,
            prepared.plan.ecs.cluster,
            prepared.plan.ecs.service,
            if prepared.plan.traffic.is_some() {
                " and Route53 weights"
            } else {
                ""
            }
        ),
    })?;

    // Claim the record.
    let mut claim = None;
    for _ in 0..MAX_ATTEMPTS {
        let claimed = claimed_record(&prepared, &trigger, &claimant, &session.caller);
        if let Some(etag) = session.replace(&claimed, &current.etag).await? {
            claim = Some((claimed, etag));
            break;
        }
        current = session.record(service).await?;
        prepared = prepare(
            session,
            &config,
            &current.value,
            request,
            &trigger,
            &claimant,
        )
        .await?;
        if prepared.plan != shown {
            return Err(Failure::Refused(format!(
                "the deployment record of {service} changed and the rollback plan with it; \
                 nothing was written, run the command again to see the new plan"
            )));
        }
    }
    let Some((claimed, etag)) = claim else {
        return Err(Failure::Failed(format!(
            "the deployment record of {service} kept changing; nothing was written, try again"
        )));
    };

    // Carry it out, then complete the record.
    let unfinished = |error: String| {
        Failure::Failed(format!(
            "the rollback of {service} is claimed (record ROLLING_BACK) but did not finish: \
             {error}; run `opsctl rollback {service}` again after {LEASE_SECONDS} s to complete it"
        ))
    };
    let (route53_change, ecs_updated) = apply(session, &prepared.plan, &prepared.live, &id)
        .await
        .map_err(unfinished)?;
    let done = completed_record(&claimed, &prepared.plan, &session.caller, Utc::now());
    // The audit record is owed in the same write as the completed rollback, so it cannot be lost.
    let audit = AuditRecord {
        id: id.clone(),
        at: Utc::now(),
        function: session.function.clone(),
        action: "rollback".to_owned(),
        actor: format!("operator:{}", session.caller),
        target: format!("service:{service}"),
        reason: trigger.reason.clone(),
        before: before.summary(),
        after: done.summary(),
        outcome: "succeeded".to_owned(),
        request_id: Some(id.clone()),
    };
    let mut owing = done.clone();
    session::owe(&mut owing, &audit);
    let note = match session
        .replace(&owing, &etag)
        .await
        .map_err(|f| unfinished(f.to_string()))?
    {
        Some(etag) => session.settle_audit(&audit, &owing, &etag).await,
        None => {
            let now_there = session.record(service).await?;
            let ours = now_there.value.status == DeploymentStatus::RolledBack
                && now_there.value.rollback.as_ref().is_some_and(|mark| {
                    mark.trigger_id == trigger.id && mark.completed_at.is_some()
                });
            if !ours {
                return Err(unfinished(
                    "the record changed while traffic and services were put back".to_owned(),
                ));
            }
            // Completed by another writer (a repeat of this rollback): write the audit record
            // here, create-once.
            ops_adapters::audit::write(&session.store, &audit)
                .await
                .err()
                .map(|error| format!("its audit record {id} could not be written: {error}"))
        }
    };
    let mut lines = Vec::new();
    if let Some(note) = &note {
        lines.push(format!("note: {note}"));
    }
    lines.push(format!(
        "{service} rolled back: on {} ({})",
        prepared.plan.to.task_definition,
        match (route53_change.is_some(), ecs_updated) {
            (true, true) => "weights and ECS service changed",
            (true, false) => "weights changed, ECS service already on it",
            (false, true) => "ECS service changed",
            (false, false) => "weights and ECS service already as planned",
        }
    ));
    let mut body = plan_json(&before, &prepared, &id, &session.caller, &trigger, false);
    body["status_after"] = json!(done.status.as_str());
    body["route53_change"] = json!(route53_change);
    body["ecs_updated"] = json!(ecs_updated);
    Ok(Done { lines, body })
}

/// Checks the record's state, builds the working record, decides and reads the live state.
async fn prepare(
    session: &Session,
    config: &ServiceConfig,
    record: &DeploymentRecord,
    request: &Request<'_>,
    trigger: &Trigger,
    claimant: &str,
) -> Result<Prepared, Failure> {
    let service = request.service;
    let now = Utc::now();
    let working = match record.status {
        DeploymentStatus::InProgress => {
            return Err(Failure::Refused(format!(
                "{service} has a deployment in flight (IN_PROGRESS{}): stop it with `opsctl \
                 deploy abort {service}`, which rolls it back",
                record
                    .deployment_id
                    .as_deref()
                    .map(|id| format!(", deployment {id}"))
                    .unwrap_or_default()
            )))
        }
        DeploymentStatus::RolledBack | DeploymentStatus::Failed => {
            return Err(Failure::Refused(format!(
                "{service} is {} and runs its stable release {}: nothing to roll back",
                record.status.as_str(),
                record.stable.task_definition
            )))
        }
        DeploymentStatus::Promoted => {
            refuse_to_unless_stable(record, request)?;
            if config.strategy.shifts_traffic() && ops_domain::deploy::window_closed(record, now) {
                return Err(Failure::Refused(format!(
                    "the rollback window of {service} is over: its previous color may already \
                     be scaled down; deploy the previous image through the pipeline"
                )));
            }
            record.clone()
        }
        // A rollback claimed earlier: the decision resumes it once its lease has passed.
        DeploymentStatus::RollingBack => {
            refuse_to_unless_stable(record, request)?;
            record.clone()
        }
        DeploymentStatus::Stable => stable_working(session, config, record, request).await?,
    };
    let decision = rollback::decide(
        &working,
        config,
        trigger,
        claimant,
        now,
        Duration::seconds(LEASE_SECONDS),
    )
    .map_err(|error| Failure::Refused(error.to_string()))?;
    let plan = match decision {
        Decision::Start(plan) | Decision::Resume(plan) => plan,
        Decision::Skip(skip) => return Err(Failure::Refused(skipped(service, record, &skip))),
    };
    let live = read_live(session, &plan).await?;
    Ok(Prepared {
        working,
        plan,
        live,
    })
}

/// `--to` chooses the target of a STABLE service only: any other record rolls back to its
/// stable release (naming that one is fine).
fn refuse_to_unless_stable(
    record: &DeploymentRecord,
    request: &Request<'_>,
) -> Result<(), Failure> {
    match request.to {
        Some(to) if !ecs::same_task_definition(to, &record.stable.task_definition) => {
            Err(Failure::Refused(format!(
                "--to applies to a STABLE service: {} is {} and rolls back to its stable \
                 release {}",
                request.service,
                record.status.as_str(),
                record.stable.task_definition
            )))
        }
        _ => Ok(()),
    }
}

/// The working record of a STABLE service: the current release as the candidate, the target
/// (`--to`, else the previous release) as the stable release.
async fn stable_working(
    session: &Session,
    config: &ServiceConfig,
    record: &DeploymentRecord,
    request: &Request<'_>,
) -> Result<DeploymentRecord, Failure> {
    let service = request.service;
    if config.strategy.shifts_traffic() || config.traffic.is_some() {
        return Err(Failure::Refused(format!(
            "{service} is STABLE with the {:?} strategy: its idle color was scaled to zero when \
             the promotion settled, so there is nothing warm to shift back to; deploy the \
             previous image through the pipeline",
            config.strategy
        )));
    }
    let target = match (request.to, &record.previous) {
        (Some(to), _) => to.to_owned(),
        (None, Some(previous)) => previous.task_definition.clone(),
        (None, None) => {
            return Err(Failure::Refused(format!(
                "{service} has no previous release on record: give one with --to \
                 family:revision"
            )))
        }
    };
    let short = target
        .rsplit_once("task-definition/")
        .map_or(target.as_str(), |(_, rest)| rest);
    let has_revision = short.rsplit_once(':').is_some_and(|(family, revision)| {
        !family.is_empty() && !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit())
    });
    if !has_revision {
        return Err(Failure::Usage(format!(
            "--to must name a revision: family:revision or a task definition ARN, not \"{}\"",
            ops_adapters::error::bounded(&target, 128)
        )));
    }
    if ecs::same_task_definition(&target, &record.stable.task_definition) {
        return Err(Failure::Refused(format!(
            "{service} already runs {target}: nothing to roll back"
        )));
    }
    let definition = ecs::describe_task_definition(&session.clients.ecs, &target)
        .await
        .map_err(|error| match error {
            ecs::EcsError::TaskDefinitionNotFound(_) => {
                Failure::Refused(format!("task definition {target} not found"))
            }
            other => Failure::Failed(other.to_string()),
        })?;
    let family = definition.family().unwrap_or_default();
    let stable_family = record
        .stable
        .task_definition
        .rsplit_once("task-definition/")
        .map_or(record.stable.task_definition.as_str(), |(_, rest)| rest)
        .rsplit_once(':')
        .map_or("", |(family, _)| family);
    if !stable_family.is_empty() && family != stable_family {
        return Err(Failure::Refused(format!(
            "{target} is of family {family}, but {service} runs family {stable_family}"
        )));
    }
    let arn = definition
        .task_definition_arn()
        .map_or_else(|| target.clone(), str::to_owned);
    let image = record
        .previous
        .as_ref()
        .filter(|previous| ecs::same_task_definition(&previous.task_definition, &arn))
        .and_then(|previous| previous.image.clone());
    let mut working = record.clone();
    working.candidate = Some(record.stable.clone());
    working.stable = Release {
        task_definition: arn,
        image,
        target: None,
    };
    Ok(working)
}

fn skipped(service: &str, record: &DeploymentRecord, skip: &Skip) -> String {
    match skip {
        Skip::AlreadyStable => format!(
            "{service} already runs its stable release {} with all traffic on it: nothing to \
             roll back",
            record.stable.task_definition
        ),
        Skip::Duplicate => format!("this rollback of {service} was already carried out"),
        Skip::AlreadyRolledBack { alarm } => {
            format!("{service} was already rolled back (by {alarm})")
        }
        Skip::InProgressElsewhere { alarm, since } => format!(
            "a rollback of {service} ({alarm}) is under way since {}; try again once it has \
             finished or after {LEASE_SECONDS} s",
            since.to_rfc3339()
        ),
    }
}

async fn read_live(session: &Session, plan: &RollbackPlan) -> Result<Live, Failure> {
    let failed = |error: &dyn std::fmt::Display| Failure::Failed(error.to_string());
    let (zone_id, record_sets) = match &plan.traffic {
        Some(change) => {
            let (zone_id, sets) = route53::zone_and_records(
                &session.clients.route53,
                change.zone_id.as_deref(),
                change.zone_name.as_deref(),
                &change.record_name,
                change.record_type.as_str(),
            )
            .await
            .map_err(|error| failed(&error))?;
            route53::check_targets(
                &zone_id,
                &change.record_name,
                change.record_type.as_str(),
                &sets,
                &change.weights,
            )
            .map_err(|error| failed(&error))?;
            (Some(zone_id), sets)
        }
        None => (None, Vec::new()),
    };
    let task_definition =
        ecs::service_task_definition(&session.clients.ecs, &plan.ecs.cluster, &plan.ecs.service)
            .await
            .map_err(|error| failed(&error))?;
    Ok(Live {
        zone_id,
        weights: route53::live_weights(&record_sets),
        record_sets,
        task_definition,
    })
}

/// The record claimed by this rollback: alarm-rollback's claim, naming the operator.
fn claimed_record(
    prepared: &Prepared,
    trigger: &Trigger,
    claimant: &str,
    caller: &str,
) -> DeploymentRecord {
    let mut claimed = rollback::begin(
        &prepared.working,
        trigger,
        claimant,
        &prepared.plan,
        Utc::now(),
    );
    if let Some(mark) = claimed.rollback.as_mut() {
        mark.by = Some(caller.to_owned());
    }
    if let Some(entry) = claimed.history.last_mut() {
        if entry.event == "rollback_started" {
            entry.detail = format!("rollback by {caller}: {}", trigger.reason);
        }
    }
    claimed
}

/// The record once traffic and services are back: alarm-rollback's completion; the previous
/// release, when it was the target, is now the stable one.
fn completed_record(
    claimed: &DeploymentRecord,
    plan: &RollbackPlan,
    caller: &str,
    now: DateTime<Utc>,
) -> DeploymentRecord {
    let mut done = rollback::complete(claimed, plan, now);
    if let Some(entry) = done.history.last_mut() {
        if entry.event == "rollback_completed" {
            entry.detail = format!(
                "back on {} (rolled back by {caller})",
                plan.to.task_definition
            );
        }
    }
    if done.previous.as_ref().is_some_and(|previous| {
        ecs::same_task_definition(&previous.task_definition, &plan.to.task_definition)
    }) {
        done.previous = None;
    }
    done
}

/// Writes the weights, then the task definition, skipping what is already as planned.
async fn apply(
    session: &Session,
    plan: &RollbackPlan,
    live: &Live,
    id: &str,
) -> Result<(Option<String>, bool), String> {
    let mut change_id = None;
    if let (Some(change), Some(zone_id)) = (&plan.traffic, &live.zone_id) {
        change_id = route53::set_weights(
            &session.clients.route53,
            zone_id,
            &live.record_sets,
            &change.weights,
            &format!("ops-suite opsctl rollback {id}"),
        )
        .await
        .map_err(|error| error.to_string())?;
    }
    let mut ecs_updated = false;
    if !ecs::same_task_definition(&live.task_definition, &plan.ecs.task_definition) {
        ecs::set_task_definition(
            &session.clients.ecs,
            &plan.ecs.cluster,
            &plan.ecs.service,
            &plan.ecs.task_definition,
        )
        .await
        .map_err(|error| error.to_string())?;
        ecs_updated = true;
    }
    Ok((change_id, ecs_updated))
}

fn plan_lines(
    before: &DeploymentRecord,
    prepared: &Prepared,
    id: &str,
    caller: &str,
) -> Vec<String> {
    let mut lines = Vec::new();
    let plan = &prepared.plan;
    let from = plan
        .from
        .as_ref()
        .map_or("?", |release| release.task_definition.as_str());
    lines.push(format!(
        "rollback {} ({}): {from} -> {}",
        plan.service,
        before.status.as_str(),
        plan.to.task_definition
    ));
    if let Some(change) = &plan.traffic {
        let weights: Vec<String> = change
            .weights
            .iter()
            .map(|(target, weight)| {
                let now = prepared.live.weights.get(target).copied().unwrap_or(0);
                if now == i64::from(*weight) {
                    format!("{target} {weight} (unchanged)")
                } else {
                    format!("{target} {now} -> {weight}")
                }
            })
            .collect();
        lines.push(format!(
            "  traffic {} {}: {}",
            change.record_name,
            change.record_type.as_str(),
            weights.join(", ")
        ));
    }
    let live = &prepared.live.task_definition;
    let ecs_change = if ecs::same_task_definition(live, &plan.ecs.task_definition) {
        format!("{} (unchanged)", plan.ecs.task_definition)
    } else {
        format!("{live} -> {}", plan.ecs.task_definition)
    };
    lines.push(format!(
        "  ECS service {}/{}: {ecs_change}",
        plan.ecs.cluster, plan.ecs.service
    ));
    lines.push(format!("  rollback {id} by {caller}"));
    lines
}

fn plan_json(
    before: &DeploymentRecord,
    prepared: &Prepared,
    id: &str,
    caller: &str,
    trigger: &Trigger,
    dry_run: bool,
) -> Value {
    let plan = &prepared.plan;
    json!({
        "ok": true,
        "service": plan.service,
        "command": "rollback",
        "dry_run": dry_run,
        "status_before": before.status.as_str(),
        "from": plan.from.as_ref().map(|release| release.task_definition.clone()),
        "to": plan.to.task_definition,
        "traffic": plan.traffic.as_ref().map(|change| json!({
            "record_name": change.record_name,
            "record_type": change.record_type.as_str(),
            "weights": change.weights,
            "live": prepared.live.weights,
        })),
        "ecs": {
            "cluster": plan.ecs.cluster,
            "service": plan.ecs.service,
            "task_definition": plan.ecs.task_definition,
            "live": prepared.live.task_definition,
        },
        "command_id": id,
        "by": caller,
        "reason": trigger.reason,
    })
}
