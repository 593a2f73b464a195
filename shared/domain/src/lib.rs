//! Domain logic of the ops suite: what the functions decide, with no I/O.
//!
//! Everything here takes data and returns a decision (a plan, a new record, a message) that an
//! outer layer carries out. Nothing in this crate talks to AWS, starts a runtime or opens a socket,
//! so nothing here can fail for I/O reasons and every rule is tested with plain values.
//!
//! - [`config`]: the suite configuration model and its validator.
//! - [`cost`]: the cost cube and cost analysis (budgets, forecast, anomalies).
//! - [`deploy`]: the deployment machine, its record, steps, gates, windows, admission and
//!   operator commands.
//! - [`deployment`]: the deployment record under the name the suite reads it by.
//! - [`rollback`]: alarm transitions and the rollback decision.
//! - [`notify`]: notification messages as data.
//! - [`severity`]: the one urgency scale (notifications, routes, budgets).
//! - [`alerts`]: alert lifecycle (notify once, escalate, resolve).
//! - [`audit`]: the audit record written for every action taken.
//! - [`backup`]: backup retention, snapshot manifests and incremental plans, restore diffs.
//! - [`keys`]: the key layout of the state bucket.
//! - [`apikeys`]: API keys of the REST API (the hashed key document, constant-time lookup).
//! - [`text`]: text helpers for rendered output (the one HTML escaper).

pub mod alerts;
pub mod apikeys;
pub mod audit;
pub mod backup;
pub mod config;
pub mod cost;
pub mod deploy;
pub mod deployment;
pub mod dora;
pub mod keys;
pub mod notify;
pub mod rollback;
pub mod severity;
pub mod status;
pub mod text;
