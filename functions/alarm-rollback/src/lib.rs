//! alarm-rollback: when a CloudWatch alarm guarding a service goes into ALARM, put the service's
//! traffic and ECS service back on its last good version — exactly once — and mark its
//! deployment record ROLLED_BACK so the deployment in flight stops and fails its pipeline job.
//!
//! `main.rs` only wires; [`handler::handle`] is the function, callable directly from tests.

pub mod event;
pub mod handler;

pub use handler::{handle, Deps, HandlerError, Response, Settings, FUNCTION};
