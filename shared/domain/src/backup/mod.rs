//! The backup function's rules: which snapshots a retention policy keeps, what a snapshot
//! manifest holds and what a run must copy, and what a restore would change.
//!
//! - [`retention`]: restic's `forget` policy (keep last / hourly / daily / weekly / monthly /
//!   yearly / within), with the reasons each snapshot is kept.
//! - [`manifest`]: the snapshot manifest and `latest` pointer documents, the backup bucket's key
//!   layout, incremental planning (copy or reference) and prune planning.
//! - [`freshness`]: how old a plan's latest snapshot may be, from its backup schedule.
//! - [`diff`]: the diff-first restore: create / update / delete against the live state, and
//!   Route53 change ordering and batching.
//! - [`zone`], [`ecs`], [`secret`]: the documents a snapshot stores for a hosted zone, an ECS
//!   service and a secret.

pub mod diff;
pub mod ecs;
pub mod freshness;
pub mod manifest;
pub mod retention;
pub mod secret;
pub mod zone;
