//! deploy-hook: progressive delivery of an ECS service from a CodePipeline Lambda invoke action.
//!
//! Every strategy (all-at-once, rolling, blue/green, canary, linear) is a list of steps kept in
//! the service's deployment record; each invocation advances one step by one phase and returns
//! a continuation token while steps remain. Quality gates run before anything changes, health
//! checks before any traffic moves, the alarm gate on every bake; a failure puts traffic and
//! services back on the stable version and fails the job with the right failure type.
//!
//! - [`event`]: the job event, `UserParameters`, the decommission action.
//! - [`artifact`]: the image from the input artifact.
//! - [`health`]: HTTP health checks and smoke tests.
//! - [`handler`]: the steps, the record transitions, job results, audit, metrics.

pub mod artifact;
pub mod event;
pub mod handler;
pub mod health;

pub use handler::{handle, Deps, HandlerError, Response, Settings, FUNCTION};
