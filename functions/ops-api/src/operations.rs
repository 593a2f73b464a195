//! The operator library behind the API, as a trait: one method per read or command function of
//! the JSON contract (`ops_cli::status::suite` → [`Operations::status_suite`], …, plus
//! `ops_cli::status::services` for `GET /services`), each given
//! the authenticated [`Caller`] (whose principal becomes the `Session`'s caller, so audit
//! records name it) and answering the contract's JSON body or an [`OpFailure`].
//!
//! The API never reads or writes the suite itself: everything goes through this trait, so the
//! router is tested with a fake and the product implements it with the operator library.

use std::future::Future;

use chrono::{DateTime, Utc};
use ops_domain::deploy::CommandKind;
use serde_json::Value;

use crate::caller::Caller;

/// Why an operation did not complete; the variants of the operator library's `Failure`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpFailure {
    /// The request is incomplete or wrong (HTTP 400).
    #[error("{0}")]
    Usage(String),
    /// The command makes no sense now; nothing was written (HTTP 409).
    #[error("{0}")]
    Refused(String),
    /// No such service, plan or snapshot; the message names it (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// An AWS call or a write failed; the message says what was written (HTTP 502).
    #[error("{0}")]
    Failed(String),
    /// A request that does not prove who sent it (an unsigned or stale Slack request; HTTP 401).
    #[error("{0}")]
    Unauthorized(String),
    /// A sender who may not do this (a Slack user without the operator role; HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// A feature this deployment has not configured (Slack without a signing secret; HTTP 501).
    #[error("{0}")]
    NotConfigured(String),
}

/// A Slack interactivity request as received: its two signature headers and the raw body.
#[derive(Debug, Clone)]
pub struct SlackRequest {
    /// `X-Slack-Request-Timestamp`.
    pub timestamp: Option<String>,
    /// `X-Slack-Signature`.
    pub signature: Option<String>,
    /// The body exactly as received.
    pub body: Vec<u8>,
    /// This HTTP request's unique id (the Lambda request id).
    pub request_id: String,
}

/// An operation's answer: the contract's JSON body.
pub type OpResult = Result<Value, OpFailure>;

/// The contract's read and command functions, 1:1.
pub trait Operations: Send + Sync + 'static {
    /// `ops_cli::status::suite`: `SuiteStatus`.
    fn status_suite(
        &self,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::status::services`, as `{"services": [ServiceStatus]}`.
    fn status_services(
        &self,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::status::service`: `ServiceStatus`.
    fn status_service(
        &self,
        caller: &Caller,
        name: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::history::service`: `ServiceHistory`.
    fn history_service(&self, caller: &Caller, name: &str)
        -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::audit::since`: `AuditList`.
    fn audit_since(
        &self,
        caller: &Caller,
        since: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::dora::report`: `DoraReport`.
    fn dora_report(
        &self,
        caller: &Caller,
        days: u32,
        now: DateTime<Utc>,
    ) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::backups::plans`: `BackupList`.
    fn backups_plans(
        &self,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::backups::snapshots`: `SnapshotList`.
    fn backups_snapshots(
        &self,
        caller: &Caller,
        plan: &str,
    ) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::backups::restore`: the restore report (a dry run unless `apply`).
    fn backups_restore(
        &self,
        caller: &Caller,
        plan: &str,
        snapshot: Option<&str>,
        apply: bool,
    ) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::cost::latest`: `CostLatest`.
    fn cost_latest(&self, caller: &Caller) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::deploy::execute`: `CommandOutcome`.
    fn deploy_execute(
        &self,
        caller: &Caller,
        kind: CommandKind,
        service: &str,
        reason: Option<String>,
    ) -> impl Future<Output = OpResult> + Send;

    /// `ops_cli::rollback::execute`: the rollback report. `reason` is the body's `reason`
    /// (for the rollback's audit record).
    fn rollback_execute(
        &self,
        caller: &Caller,
        service: &str,
        to: Option<&str>,
        dry_run: bool,
        reason: Option<String>,
    ) -> impl Future<Output = OpResult> + Send;

    /// A Slack button press: checked (signature, payload, role, replay) and carried out as the
    /// deployment command it names, bound to the deployment it was shown for. Answers Slack's
    /// reply message. Without Slack configured, refused.
    fn slack_interaction(
        &self,
        request: SlackRequest,
        now: DateTime<Utc>,
    ) -> impl Future<Output = OpResult> + Send {
        let _ = (request, now);
        async {
            Err(OpFailure::NotConfigured(
                "Slack interactivity is not configured".to_owned(),
            ))
        }
    }
}

/// The operations of a build that has no operator library wired in: every call fails with
/// 502 and writes nothing. Both binaries use it until the library is wired.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwired;

const UNWIRED: &str = "this build of ops-api has no operator library wired in";

fn unwired() -> OpResult {
    Err(OpFailure::Failed(UNWIRED.to_owned()))
}

impl Operations for Unwired {
    async fn status_suite(&self, _: &Caller, _: DateTime<Utc>) -> OpResult {
        unwired()
    }
    async fn status_services(&self, _: &Caller, _: DateTime<Utc>) -> OpResult {
        unwired()
    }
    async fn status_service(&self, _: &Caller, _: &str, _: DateTime<Utc>) -> OpResult {
        unwired()
    }
    async fn history_service(&self, _: &Caller, _: &str) -> OpResult {
        unwired()
    }
    async fn audit_since(&self, _: &Caller, _: DateTime<Utc>, _: usize) -> OpResult {
        unwired()
    }
    async fn dora_report(&self, _: &Caller, _: u32, _: DateTime<Utc>) -> OpResult {
        unwired()
    }
    async fn backups_plans(&self, _: &Caller, _: DateTime<Utc>) -> OpResult {
        unwired()
    }
    async fn backups_snapshots(&self, _: &Caller, _: &str) -> OpResult {
        unwired()
    }
    async fn backups_restore(&self, _: &Caller, _: &str, _: Option<&str>, _: bool) -> OpResult {
        unwired()
    }
    async fn cost_latest(&self, _: &Caller) -> OpResult {
        unwired()
    }
    async fn deploy_execute(
        &self,
        _: &Caller,
        _: CommandKind,
        _: &str,
        _: Option<String>,
    ) -> OpResult {
        unwired()
    }
    async fn rollback_execute(
        &self,
        _: &Caller,
        _: &str,
        _: Option<&str>,
        _: bool,
        _: Option<String>,
    ) -> OpResult {
        unwired()
    }
}
