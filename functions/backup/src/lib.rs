//! backup: scheduled backups of what AWS Backup cannot back up — S3 prefixes, Route53 zones,
//! ECS configuration and Secrets Manager secrets — with restic's retention, cheap and deep
//! verification, and diff-first restore.
//!
//! Modules, in layers; each imports only from the layers below it (actions never import the
//! handler, nor each other):
//!
//! 1. [`event`]: the input (`{"plan", "action"}` from EventBridge Scheduler, restores,
//!    continuations).
//! 2. [`context`]: dependencies, settings, one invocation's context, errors, the response.
//! 3. [`claim`] (the per-plan run claim, with a backup's checkpoint), [`report`] (the actions'
//!    reports; storing, measuring, auditing and notifying them), [`store`] (reading manifests
//!    and the `latest` pointer), [`sources`] (reading the targets).
//! 4. [`checkpoint`]: a backup run's checkpoint documents.
//! 5. The actions: [`snapshot`] (backup, its commit protocol), [`verify`], [`prune`],
//!    [`restore`].
//! 6. [`handler`]: the entry point — parse, claim, dispatch, release, report.

pub mod checkpoint;
pub mod claim;
pub mod context;
pub mod event;
pub mod handler;
pub mod prune;
pub mod report;
pub mod restore;
pub mod snapshot;
pub mod sources;
pub mod store;
pub mod verify;

pub use context::{Deps, HandlerError, Response, Settings, FUNCTION};
pub use handler::handle;
