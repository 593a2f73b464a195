//! The watch schedule (`{"action": "watch"}`, every minute while some service's analysis runs
//! after promotion): post-promotion analysis during each promoted deployment's rollback window.
//! The domain decides ([`ops_domain::deploy::watch`]); this module reads the series it asks for,
//! writes the measurements with compare-and-swap, and hands a failing check to alarm-rollback
//! (`ALARM_ROLLBACK_FUNCTION`, invoked asynchronously with an [`AnalysisFailure`]), whose
//! rollback is exactly once, notified and audited like an alarm's. A failure is handed over on
//! every run until the record shows the rollback (the same failure is the same transition to
//! alarm-rollback, so a repeat is a duplicate there).

use chrono::{DateTime, Utc};
use ops_adapters::lambda;
use ops_adapters::s3::StateError;
use ops_domain::config::ServiceConfig;
use ops_domain::deploy::analysis::measure::SideNames;
use ops_domain::deploy::analysis::AnalysisConfig;
use ops_domain::deploy::watch::{self, AnalysisFailure, Watch};
use ops_domain::deployment::DeploymentRecord;
use ops_domain::keys;
use serde_json::json;

use crate::deps::Deps;
use crate::error::{HandlerError, JobError};
use crate::series::read_measured;

/// The `detail-type` alarm-rollback reads an analysis failure by.
const ANALYSIS_FAILED: &str = "Deployment Analysis Failed";

/// Runs the post-promotion analysis of every service that has one; the services that failed
/// to be watched fail the run (the Scheduler retries it), after the others were watched.
pub(crate) async fn watch(deps: &Deps) -> Result<String, HandlerError> {
    let config = deps.config.current().await?;
    let now = Utc::now();
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (service, cfg) in &config.services {
        let Some(analysis) = &cfg.deploy.analysis else {
            continue;
        };
        match watch_one(deps, service, cfg, analysis, now).await {
            Ok(Some(text)) => done.push(format!("{service}: {text}")),
            Ok(None) => {}
            Err(error) => failed.push(format!("{service}: {error}")),
        }
    }
    if !failed.is_empty() {
        return Err(HandlerError::Watch(failed.join("; ")));
    }
    Ok(if done.is_empty() {
        "nothing to watch".into()
    } else {
        done.join("; ")
    })
}

/// The promoted version's side: its color, ECS service and target value (traffic strategies),
/// or the service itself.
fn promoted_side(cfg: &ServiceConfig, record: &DeploymentRecord) -> Option<SideNames> {
    let color = record.candidate.as_ref().and_then(|c| c.target.clone());
    match (color, &cfg.traffic) {
        (Some(color), Some(traffic)) => {
            let target = traffic.targets.get(&color)?;
            Some(SideNames {
                color,
                service: target.ecs_service.clone(),
                target: target.value.clone(),
            })
        }
        _ => Some(SideNames {
            color: String::new(),
            service: cfg.ecs_service.clone()?,
            target: String::new(),
        }),
    }
}

async fn watch_one(
    deps: &Deps,
    service: &str,
    cfg: &ServiceConfig,
    analysis: &AnalysisConfig,
    now: DateTime<Utc>,
) -> Result<Option<String>, JobError> {
    let key = keys::deployment_record(service);
    let Some(current) = deps.store.get::<DeploymentRecord>(&key).await? else {
        return Ok(None);
    };
    let Some(side) = promoted_side(cfg, &current.value) else {
        return Ok(None);
    };
    let mut measured = None;
    loop {
        match watch::watch(&current.value, analysis, &side, measured.as_deref(), now) {
            Watch::Idle(_) => return Ok(None),
            Watch::Observe(requests) => {
                if measured.is_some() {
                    return Ok(None);
                }
                measured = Some(read_measured(deps, service, &requests).await);
            }
            Watch::Record(next) => {
                return Ok(write(deps, &key, &current.etag, &next)
                    .await?
                    .then(|| "measured after promotion".to_owned()));
            }
            Watch::Rollback { record, failure } => {
                if *record != current.value && !write(deps, &key, &current.etag, &record).await? {
                    // Another run wrote first; it (or the next run) decides again.
                    return Ok(None);
                }
                hand_over(deps, &failure).await?;
                return Ok(Some(format!(
                    "rollback handed to alarm-rollback: {}",
                    failure.reason
                )));
            }
        }
    }
}

/// Writes the record over `etag`; `false` when another writer changed it first.
async fn write(
    deps: &Deps,
    key: &str,
    etag: &str,
    next: &DeploymentRecord,
) -> Result<bool, JobError> {
    match deps.store.replace(key, next, etag).await {
        Ok(_) => Ok(true),
        Err(StateError::Conflict { .. }) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Invokes alarm-rollback asynchronously with the failure (Lambda retries it; alarm-rollback
/// handles each failure once, by its transition key).
async fn hand_over(deps: &Deps, failure: &AnalysisFailure) -> Result<(), JobError> {
    let function = deps
        .settings
        .alarm_rollback_function
        .clone()
        .ok_or_else(|| {
            JobError::Config(
                "post-promotion analysis needs alarm-rollback: set ALARM_ROLLBACK_FUNCTION on deploy-hook"
                    .into(),
            )
        })?;
    let event = json!({
        "source": "ops-suite.deploy-hook",
        "detail-type": ANALYSIS_FAILED,
        "detail": failure,
    });
    lambda::invoke_event(&deps.clients.lambda, &function, &event).await?;
    Ok(())
}
