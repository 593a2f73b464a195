//! cost-check: on a schedule, read the cost data (FOCUS or CUR 2.0 exports on S3, or Cost
//! Explorer), check budgets on actual and forecast month-end cost, detect anomalies with their
//! top contributors, notify each problem once (escalate, resolve), and write a JSON and an HTML
//! report to the state bucket.
//!
//! `main.rs` only wires; [`handler::handle`] is the function.
//!
//! - [`event`]: the scheduler's input.
//! - [`source`]: where cost data comes from (one `CostReader` trait, three sources), with
//!   `source/s3files.rs` reading an export's objects (streamed CSV, ranged Parquet).
//! - [`analysis`]: config → domain analysis → findings.
//! - [`report`]: the JSON and HTML reports.
//! - [`handler`]: one run, from delivering what is owed to writing the reports.

pub mod analysis;
pub mod event;
pub mod handler;
pub mod report;
pub mod source;

pub use handler::{handle, Deps, HandlerError, FUNCTION};
