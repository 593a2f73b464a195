//! The decommission schedule: settles promotions whose rollback window is over and scales to
//! zero every color that carries no traffic and is not part of a deployment in flight.

use chrono::{DateTime, Utc};
use ops_adapters::ecs;
use ops_adapters::s3::{StateError, Versioned};
use ops_domain::config::ServiceConfig;
use ops_domain::deploy;
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus};
use ops_domain::keys;

use crate::deps::Deps;
use crate::error::{HandlerError, JobError};

/// Settles every promoted deployment whose rollback window is over, and scales to zero every
/// color that carries no traffic and is not part of a deployment in flight. Both are
/// reconciliations against the record and the live state, so a run repeated or resumed after
/// a crash does only what is left.
pub(crate) async fn decommission(deps: &Deps) -> Result<String, HandlerError> {
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
