//! deploy-hook: progressive delivery of an ECS service from a CodePipeline Lambda invoke action.
//!
//! Every strategy (all-at-once, rolling, blue/green, canary, linear) is a list of steps kept in
//! the service's deployment record; each invocation asks the domain's deployment machine
//! ([`ops_domain::deploy::machine`]) what comes next and carries it out, returning a
//! continuation token while steps remain. This crate holds no deployment rule: it reads what the
//! machine asks for, makes the AWS changes it decides, and writes the records.
//!
//! - [`event`]: the job event, `UserParameters`, the decommission action, the ECS hook payload.
//! - [`ecs_hook`]: the ECS lifecycle-hook mode: quality gates and analysis as the answers to
//!   ECS's own blue/green, linear and canary deployments.
//! - [`job`]: the job protocol: entry point, parameters and overrides, dispatch.
//! - [`context`]: below every step: the invocation's context, reports to CodePipeline, the
//!   record written as this invocation.
//! - [`start`]: starting a deployment (window, admission, image, quality gates, plan), dry run.
//! - [`executor`]: read → `next(…)` → claim → act → record.
//! - [`abort`]: reverting a stopped deployment; ending a job whose release was rolled back.
//! - [`records`]: audit records, DORA metrics, notifications.
//! - [`decommission`]: the schedule that settles promotions and scales idle colors to zero.
//! - [`watch`]: the schedule of post-promotion analysis; a failing check goes to alarm-rollback.
//! - [`deps`], [`error`]: dependencies and tunables; the two error shapes.
//! - [`artifact`]: the image from the input artifact.
//! - [`health`]: HTTP health checks and smoke tests.
//! - [`series`]: metric analysis series read from CloudWatch.
//! - [`hooks`]: lifecycle hooks: one-off ECS tasks, Lambda functions, backups of a plan.

pub mod abort;
pub mod artifact;
pub mod context;
pub mod decommission;
pub mod deps;
pub mod ecs_hook;
pub mod error;
pub mod event;
pub mod executor;
pub mod health;
pub mod hooks;
pub mod job;
pub mod records;
pub mod series;
pub mod start;
pub mod watch;

pub use deps::{Deps, RevisionSource, Settings, FUNCTION};
pub use error::HandlerError;
pub use job::{handle, Response};
