//! The traffic stages of an ECS-driven deployment: the service's `deploy.analysis`.

use super::payload::{HookAnswer, HookStatus, LifecycleEvent};
use super::Target;
use crate::deps::Deps;
use crate::error::JobError;

/// Runs the analysis of a traffic stage.
pub(crate) async fn traffic_stage(
    _deps: &Deps,
    _event: &LifecycleEvent,
    target: &Target,
) -> Result<HookAnswer, JobError> {
    if target.cfg.deploy.analysis.is_none() {
        return Ok(HookAnswer::with_reason(
            HookStatus::Succeeded,
            None,
            &format!("{} has no deploy.analysis", target.name),
        ));
    }
    Err(JobError::Config("analysis pending".into()))
}
