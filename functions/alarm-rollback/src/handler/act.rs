//! Carrying out one service's decision: read the deployment record and the live resources
//! (every read before the first write), change Route53 weights and the ECS service, complete
//! the record, and the notification that tells what was done.

use std::time::Instant;

use chrono::Utc;
use ops_adapters::ecs;
use ops_adapters::route53;
use ops_adapters::s3::{StateError, Versioned};
use ops_adapters::telemetry::{MetricSet, Unit};
use ops_domain::config::SuiteConfig;
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus};
use ops_domain::keys;
use ops_domain::rollback::{self, Decision, RollbackPlan, Trigger};

use super::outbox::{owe, settle, settle_skipped};
use super::{Acting, Deps, HandlerError, ServiceResult, FUNCTION, MAX_CLAIM_ATTEMPTS};
use tracing::info;

/// Live state a rollback changes, read before any write.
pub(super) struct Live {
    pub(super) zone_id: Option<String>,
    pub(super) record_sets: Vec<aws_sdk_route53::types::ResourceRecordSet>,
    pub(super) task_definition: String,
}

pub(super) struct Prepared<'a> {
    pub(super) service: &'a str,
    pub(super) record: Versioned<DeploymentRecord>,
    pub(super) decision: Decision,
    pub(super) live: Option<Live>,
}

pub(super) async fn read_record(
    deps: &Deps,
    service: &str,
) -> Result<Versioned<DeploymentRecord>, HandlerError> {
    let key = keys::deployment_record(service);
    deps.store
        .get::<DeploymentRecord>(&key)
        .await?
        .ok_or_else(|| HandlerError::MissingRecord {
            service: service.to_owned(),
            bucket: deps.store.bucket().to_owned(),
            key,
        })
}

pub(super) async fn prepare<'a>(
    deps: &Deps,
    config: &SuiteConfig,
    service: &'a str,
    trigger: &Trigger,
    claimant: &str,
) -> Result<Prepared<'a>, HandlerError> {
    let record = read_record(deps, service).await?;
    let service_config = &config.services[service];
    let decision = rollback::decide(
        &record.value,
        service_config,
        trigger,
        claimant,
        Utc::now(),
        deps.settings.lease,
    )?;
    let live = match &decision {
        Decision::Start(plan) | Decision::Resume(plan) => Some(read_live(deps, plan).await?),
        Decision::Skip(_) => None,
    };
    Ok(Prepared {
        service,
        record,
        decision,
        live,
    })
}

pub(super) async fn read_live(deps: &Deps, plan: &RollbackPlan) -> Result<Live, HandlerError> {
    let (zone_id, record_sets) = match &plan.traffic {
        Some(change) => {
            let (zone_id, sets) = route53::zone_and_records(
                &deps.clients.route53,
                change.zone_id.as_deref(),
                change.zone_name.as_deref(),
                &change.record_name,
                change.record_type.as_str(),
            )
            .await?;
            route53::check_targets(
                &zone_id,
                &change.record_name,
                change.record_type.as_str(),
                &sets,
                &change.weights,
            )?;
            (Some(zone_id), sets)
        }
        None => (None, Vec::new()),
    };
    let task_definition =
        ecs::service_task_definition(&deps.clients.ecs, &plan.ecs.cluster, &plan.ecs.service)
            .await?;
    Ok(Live {
        zone_id,
        record_sets,
        task_definition,
    })
}

pub(super) async fn carry_out(
    acting: &Acting<'_>,
    step: Prepared<'_>,
) -> Result<(ServiceResult, Vec<String>), HandlerError> {
    let Acting {
        deps,
        config,
        trigger,
        claimant,
        ..
    } = *acting;
    let Prepared {
        service,
        mut record,
        mut decision,
        mut live,
    } = step;
    let key = keys::deployment_record(service);
    for _ in 0..MAX_CLAIM_ATTEMPTS {
        let (plan, resumed) = match &decision {
            Decision::Skip(skip) => {
                info!(message = "Rollback skipped.", %service, skip = ?skip);
                let owed = settle_skipped(acting, service, &record.value).await?;
                return Ok((ServiceResult::skipped(service, skip.clone()), owed));
            }
            Decision::Start(plan) => (plan.clone(), false),
            Decision::Resume(plan) => (plan.clone(), true),
        };
        let claimed = rollback::begin(&record.value, trigger, claimant, &plan, Utc::now());
        match deps.store.replace(&key, &claimed, &record.etag).await {
            Ok(etag) => {
                // What the rollback owes is on record before anything is changed. A failure
                // from here on keeps the claim: the retry of this invocation resumes it at once.
                let outbox = owe(acting, service, &record.value, &plan).await?;
                let live = match live.take() {
                    Some(live) => live,
                    None => read_live(deps, &plan).await?,
                };
                let started = Instant::now();
                let (route53_change, ecs_updated) = apply(deps, &plan, &live, trigger).await?;
                let done = rollback::complete(&claimed, &plan, Utc::now());
                finish(deps, &key, &done, &etag, trigger).await?;
                let elapsed = started.elapsed();
                MetricSet::new(FUNCTION)
                    .dimension("Service", service)
                    .metric("rollbacks_total", 1.0, Unit::Count)
                    .metric(
                        "rollback_duration_ms",
                        elapsed.as_secs_f64() * 1000.0,
                        Unit::Milliseconds,
                    )
                    .emit();
                info!(message = "Service rolled back.", %service, to = %plan.to.task_definition, alarm = %trigger.alarm, resumed, ms = elapsed.as_millis() as u64);
                let outbox_key = rollback::outbox_key(FUNCTION, &trigger.id, service);
                let owed = settle(deps, config, &outbox_key, outbox, Some(&done)).await?;
                return Ok((
                    ServiceResult {
                        service: service.to_owned(),
                        action: if resumed { "resumed" } else { "rolled_back" },
                        skip: None,
                        to: Some(plan.to.task_definition.clone()),
                        from: plan
                            .from
                            .as_ref()
                            .map(|release| release.task_definition.clone()),
                        route53_change,
                        ecs_updated,
                    },
                    owed,
                ));
            }
            Err(StateError::Conflict { .. }) => {
                // Someone else wrote the record since we read it (or our own claim landed with
                // its answer lost): read again and decide again.
                record = read_record(deps, service).await?;
                decision = rollback::decide(
                    &record.value,
                    &config.services[service],
                    trigger,
                    claimant,
                    Utc::now(),
                    deps.settings.lease,
                )?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(HandlerError::Contention {
        service: service.to_owned(),
    })
}

/// Writes the weights and the task definition, skipping what is already as planned.
pub(super) async fn apply(
    deps: &Deps,
    plan: &RollbackPlan,
    live: &Live,
    trigger: &Trigger,
) -> Result<(Option<String>, bool), HandlerError> {
    let mut change_id = None;
    if let (Some(change), Some(zone_id)) = (&plan.traffic, &live.zone_id) {
        let comment = format!(
            "ops-suite alarm-rollback: {} ({})",
            trigger.alarm, trigger.id
        );
        change_id = route53::set_weights(
            &deps.clients.route53,
            zone_id,
            &live.record_sets,
            &change.weights,
            &comment,
        )
        .await?;
    }
    let mut ecs_updated = false;
    if !ecs::same_task_definition(&live.task_definition, &plan.ecs.task_definition) {
        ecs::set_task_definition(
            &deps.clients.ecs,
            &plan.ecs.cluster,
            &plan.ecs.service,
            &plan.ecs.task_definition,
        )
        .await?;
        ecs_updated = true;
    }
    Ok((change_id, ecs_updated))
}

/// Writes the completed record; a conflict is fine only if the record already says so.
pub(super) async fn finish(
    deps: &Deps,
    key: &str,
    done: &DeploymentRecord,
    etag: &str,
    trigger: &Trigger,
) -> Result<(), HandlerError> {
    match deps.store.replace(key, done, etag).await {
        Ok(_) => Ok(()),
        Err(StateError::Conflict { .. }) => {
            let current = read_record(deps, &done.service).await?;
            let already = current.value.status == DeploymentStatus::RolledBack
                && current.value.rollback.as_ref().is_some_and(|mark| {
                    mark.trigger_id == trigger.id && mark.completed_at.is_some()
                });
            if already {
                Ok(())
            } else {
                Err(HandlerError::Contention {
                    service: done.service.clone(),
                })
            }
        }
        Err(error) => Err(error.into()),
    }
}
