//! cost-check: on a schedule, read the cost data (FOCUS or CUR 2.0 exports on S3, or Cost
//! Explorer), check budgets on actual and forecast month-end cost, detect anomalies with their
//! top contributors, notify each problem once (escalate, resolve), and write a JSON and an HTML
//! report to the state bucket.
//!
//! `main.rs` only wires; [`handler::handle`] is the function.

pub mod analysis;
pub mod event;
pub mod handler;
pub mod report;
pub mod source;

pub use handler::{handle, Deps, HandlerError, FUNCTION};
