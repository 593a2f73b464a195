//! Operator commands: steering a deployment by hand (`opsctl deploy pause|resume|promote
//! [--full]|abort|retry SERVICE`).
//!
//! A command is checked against the record when it is given ([`accept`]): a command that makes
//! no sense in the record's state is refused with a short reason and nothing is written. An
//! accepted command is stored in the record with compare-and-swap and carried out by the next
//! invocation of the deployment ([`crate::deploy::machine`] applies it before anything else), so
//! it never races the invocation that is moving the deployment: whichever writes second re-reads
//! and sees the other's change. `retry` needs no invocation: it is a permission, recorded at once.

use chrono::{DateTime, Utc};

use crate::deploy::record::{DeploymentRecord, DeploymentStatus};
use crate::deploy::{Abort, AbortKind, Progress, Step};

/// Most commands a record keeps waiting for the next invocation.
pub const MAX_PENDING: usize = 10;

pub use crate::deploy::record::{CommandKind, OperatorCommand, RetryGrant};

/// Why a command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The command needs a deployment in flight.
    #[error("{service} has no deployment in flight (status {status}); {command} applies to one")]
    NotInFlight {
        /// Service.
        service: String,
        /// The record's status.
        status: &'static str,
        /// The command.
        command: &'static str,
    },
    /// Pause on a paused deployment, resume on a running one, and the like.
    #[error("{0}")]
    Pointless(String),
    /// Retry needs a failed or rolled-back release.
    #[error("{service} has nothing to retry (status {status}); retry applies to a FAILED or ROLLED_BACK release")]
    NothingToRetry {
        /// Service.
        service: String,
        /// The record's status.
        status: &'static str,
    },
    /// The command was given for a deployment that is no longer the one in flight (a Slack
    /// button pressed on an older deployment's message).
    #[error("{service}: the command was given for deployment {given}, but {current} is the one in flight now; nothing was changed")]
    OtherDeployment {
        /// Service.
        service: String,
        /// The deployment the command was given for.
        given: String,
        /// The deployment in flight.
        current: String,
    },
    /// Too many commands wait for the next invocation.
    #[error(
        "{0} commands already wait for the deployment's next invocation; try again when it has run"
    )]
    Queue(usize),
}

/// The commands waiting in `record` plus `kind`, folded: whether the deployment will be paused
/// once they are applied.
fn will_be_paused(record: &DeploymentRecord, progress: &Progress) -> bool {
    record
        .commands
        .iter()
        .fold(progress.paused.is_some(), |paused, c| match c.kind {
            CommandKind::Pause => true,
            CommandKind::Resume | CommandKind::Promote { .. } => false,
            _ => paused,
        })
}

/// Checks `command` against `record` and returns the record with it stored (queued for the
/// next invocation, or for `retry` applied at once), and a sentence saying what will change.
/// A command that names its deployment (`deployment_id`, as a Slack button does) is refused
/// unless that deployment is the one in flight; one that names none applies to whichever is.
pub fn accept(
    record: &DeploymentRecord,
    command: OperatorCommand,
) -> Result<(DeploymentRecord, String), Refusal> {
    let service = record.service.clone();
    let status = record.status.as_str();
    let mut next = record.clone();
    if command.kind == CommandKind::Retry {
        let image = match record.status {
            DeploymentStatus::Failed | DeploymentStatus::RolledBack => {
                record.progress.as_ref().map(|p| p.image.clone())
            }
            _ => None,
        };
        let Some(image) = image else {
            return Err(Refusal::NothingToRetry { service, status });
        };
        let text = format!(
            "{image} may be deployed to {service} again: retry the pipeline stage (or run the \
             pipeline) and deploy-hook starts a new deployment of it"
        );
        next.retry = Some(RetryGrant {
            image,
            by: command.by.clone(),
            reason: command.reason.clone(),
            at: command.at,
        });
        next.push_history(
            command.at,
            "operator_retry",
            format!("{} by {}", text, command.by),
        );
        next.updated_at = command.at;
        return Ok((next, text));
    }
    let progress = match (&record.status, &record.progress) {
        (DeploymentStatus::InProgress, Some(progress))
            if progress.abort.is_none() && progress.outcome.is_none() =>
        {
            progress
        }
        _ => {
            return Err(Refusal::NotInFlight {
                service,
                status,
                command: command.kind.name(),
            })
        }
    };
    // A command bound to a deployment (a button on its notification) applies to that one only.
    if let Some(given) = command
        .deployment_id
        .as_deref()
        .filter(|given| *given != progress.deployment_id)
    {
        return Err(Refusal::OtherDeployment {
            service,
            given: given.to_owned(),
            current: progress.deployment_id.clone(),
        });
    }
    if record.commands.len() >= MAX_PENDING {
        return Err(Refusal::Queue(record.commands.len()));
    }
    if record.commands.iter().any(|c| c.kind == CommandKind::Abort) {
        return Err(Refusal::Pointless(format!(
            "an abort of {service} already waits for the next invocation"
        )));
    }
    let paused = will_be_paused(record, progress);
    let deployment = progress.deployment_id.clone();
    let step = progress
        .current()
        .map_or_else(|| "promote".to_owned(), Step::describe);
    let text = match command.kind {
        CommandKind::Pause if paused => {
            return Err(Refusal::Pointless(format!(
                "deployment {deployment} of {service} is already paused"
            )))
        }
        CommandKind::Pause => format!(
            "deployment {deployment} of {service} holds at {step}: no step starts and bake time \
             stops counting until resumed; alarms still roll back"
        ),
        CommandKind::Resume if !paused => {
            return Err(Refusal::Pointless(format!(
                "deployment {deployment} of {service} is not paused"
            )))
        }
        CommandKind::Resume => format!("deployment {deployment} of {service} goes on from {step}"),
        CommandKind::Promote { full: false } => format!(
            "deployment {deployment} of {service}: the current (or next) bake ends once its \
             alarm gate is checked{}",
            if paused { "; the pause is lifted" } else { "" }
        ),
        CommandKind::Promote { full: true } => format!(
            "deployment {deployment} of {service} goes straight to 100 %: intermediate shifts \
             skipped, every remaining bake ended once its alarm gate is checked{}",
            if paused { "; the pause is lifted" } else { "" }
        ),
        CommandKind::Abort => format!(
            "deployment {deployment} of {service} stops: traffic and services back on {}, the \
             record ROLLED_BACK and the pipeline job failed with the reason",
            record.stable.task_definition
        ),
        CommandKind::Retry => unreachable!("handled above"),
    };
    next.commands.push(OperatorCommand {
        deployment_id: Some(deployment),
        ..command
    });
    Ok((next, text))
}

/// The record with its waiting commands applied (at `now`) and removed, and a note of what was
/// applied. Commands given for another deployment are dropped.
pub fn apply(record: &DeploymentRecord, now: DateTime<Utc>) -> (DeploymentRecord, String) {
    let mut next = record.clone();
    let commands = std::mem::take(&mut next.commands);
    let mut notes = Vec::new();
    let Some(progress) = next.progress.as_mut() else {
        return (next, String::new());
    };
    for command in commands {
        if command.deployment_id.as_deref() != Some(progress.deployment_id.as_str()) {
            continue;
        }
        let who = &command.by;
        let because = if command.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", command.reason)
        };
        match command.kind {
            CommandKind::Pause => {
                if progress.paused.is_none() {
                    progress.paused = Some(super::Paused {
                        by: who.clone(),
                        at: now,
                        reason: command.reason.clone(),
                    });
                }
            }
            CommandKind::Resume => resume(progress, now),
            CommandKind::Promote { full } => {
                resume(progress, now);
                progress.skip_bake = true;
                progress.fast_forward |= full;
            }
            CommandKind::Abort => {
                if progress.abort.is_none() {
                    progress.abort = Some(Abort {
                        kind: AbortKind::Operator,
                        reason: format!("aborted by {who}{because}"),
                        alarm: None,
                        at: now,
                        by: Some(who.clone()),
                    });
                }
            }
            CommandKind::Retry => {}
        }
        notes.push(format!("{} by {who}{because}", command.kind.name()));
    }
    let note = notes.join("; ");
    if !note.is_empty() {
        next.push_history(now, "operator", note.clone());
        next.updated_at = now;
    }
    (next, note)
}

/// Lifts a pause; a bake's clock moves on by the time it was held, so held time never counts.
fn resume(progress: &mut Progress, now: DateTime<Utc>) {
    if let Some(paused) = progress.paused.take() {
        if matches!(progress.current(), Some(Step::Bake { .. })) {
            let held = now - paused.at.max(progress.step_started_at);
            if held > chrono::Duration::zero() {
                progress.step_started_at += held;
            }
        }
    }
}
