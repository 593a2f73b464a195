//! backup: scheduled backups of what AWS Backup cannot back up — S3 prefixes, Route53 zones,
//! ECS configuration and Secrets Manager secrets — with restic's retention, cheap and deep
//! verification, and diff-first restore.
//!
//! - [`event`]: the input (`{"plan", "action"}` from EventBridge Scheduler, restores, continuations).
//! - [`handler`]: dependencies, errors, the per-plan run claim, dispatch.
//! - [`sources`]: reading the targets (listing S3, exporting zones, services, secrets).
//! - [`snapshot`]: the backup action and its commit protocol and checkpoints.
//! - [`verify`], [`prune`], [`restore`]: the other actions.
//! - [`report`]: run reports, metrics, audit, notifications.

pub mod event;
pub mod handler;
pub mod prune;
pub mod report;
pub mod restore;
pub mod snapshot;
pub mod sources;
pub mod verify;

pub use handler::{handle, Deps, HandlerError, Response, Settings, FUNCTION};
