//! ops-api: the suite's REST API and status page, a Lambda behind an API Gateway HTTP API.
//!
//! `main.rs` only wires; [`router::handle`] answers one `lambda_http` request and is called
//! directly by tests and by the local development server ([`local::serve`]).
//!
//! Layers, each importing only from those above it in this list:
//! - [`caller`]: who is calling (principal, role, how).
//! - [`keys`]: new API keys (the key rules are `ops_domain::apikeys`).
//! - [`reply`]: responses, the contract's error bodies, the page with its CSP.
//! - [`routes`]: the route table; [`openapi`]: the document checked against it.
//! - [`input`]: query parameters and command bodies, each error naming its field.
//! - [`operations`]: the operator library behind the routes, as a trait.
//! - [`keystore`]: the API keys secret, cached; [`auth`]: JWT claims or API keys.
//! - [`library`]: the operations over `ops_cli` (and Slack presses over `ops_adapters::slack`).
//! - [`deps`]: what a container is built from; [`router`]: the API; [`local`]: a loopback
//!   HTTP server over the router for development and browser tests.

pub mod auth;
pub mod caller;
pub mod deps;
pub mod input;
pub mod keys;
pub mod keystore;
pub mod library;
pub mod local;
pub mod openapi;
pub mod operations;
pub mod reply;
pub mod router;
pub mod routes;

pub use caller::{Caller, Role, Via};
pub use deps::{Deps, Settings};
pub use operations::{OpFailure, OpResult, Operations, Unwired};
pub use router::handle;
