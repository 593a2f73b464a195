//! alarm-rollback: when a CloudWatch alarm guarding a service goes into ALARM, put the service's
//! traffic and ECS service back on its last good version — exactly once — and mark its
//! deployment record ROLLED_BACK so the deployment in flight stops and fails its pipeline job.
//!
//! `main.rs` only wires; [`handler::handle`] is the function, callable directly from tests.
//!
//! - [`event`]: the three alarm event shapes into one `AlarmTransition`.
//! - [`handler`]: read → decide → claim → act → complete → audit/notify; `handler/act.rs`
//!   carries out one service's decision (reads first, then Route53 and ECS, then the record),
//!   `handler/outbox.rs` records what a transition owes and delivers it.

pub mod event;
pub mod handler;

pub use handler::{handle, Deps, HandlerError, Response, Settings, FUNCTION};
