//! Slack interactivity: the button presses Slack posts back to the suite (Promote and Abort on
//! deployment notifications, rendered by `crate::notify`).
//!
//! [`interaction`] is the one entry point the API calls with the request as received. It
//! checks, in this order, and writes nothing until every check has passed:
//!
//! 1. [`verify()`]: Slack's v0 signature over the raw body with the app's signing secret,
//!    within five minutes of now, compared in constant time (401 otherwise);
//! 2. [`parse`]: the `block_actions` payload names one of the suite's buttons, a service and a
//!    deployment (400 otherwise);
//! 3. the presser's role: the config's `operators.slack_users` maps Slack user ids to roles
//!    ([`ops_domain::config::role_of`]); a user it does not list, or a viewer, is refused (403);
//! 4. [`claim_once`]: the request's signature is claimed in the state bucket, create-once; a
//!    second request with the same signature is a replay and is refused (409).
//!
//! What the press then does (the operator command, its audit record) is the API's: it runs the
//! same command as `opsctl deploy promote|abort`, bound to the button's deployment, with
//! [`Interaction::caller`] as the caller, and tells the presser the outcome with [`reply`].
//!
//! The signing secret lives in Secrets Manager under the name in [`SIGNING_SECRET_ENV`]
//! ([`signing_secret`]); it is held as a [`SecretString`] and appears in no log or error.

mod payload;
mod replay;
mod respond;
mod verify;

use chrono::{DateTime, Utc};
use ops_domain::config::{role_of, Role, SuiteConfig};
use secrecy::SecretString;

use crate::error::bounded;
use crate::runtime::EnvError;
use crate::s3::StateStore;
use crate::secretsmanager::SecretCache;

pub use payload::{parse, Interaction, SlackCommand};
pub use replay::{claim_once, marker_key};
pub use respond::{reply, reply_message};
pub use verify::{signature_for, verify, Verified, MAX_SKEW_SECONDS};

/// Header carrying the request's Unix timestamp.
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// Header carrying `v0=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// Environment variable naming the Secrets Manager secret that holds the app's signing secret
/// (the secret's value is the signing secret itself, as Slack shows it).
pub const SIGNING_SECRET_ENV: &str = "SLACK_SIGNING_SECRET";

/// Most characters of a store or secret error an answer quotes.
const MAX_DETAIL: usize = 200;

/// The two headers Slack signs a request with, as received (`None` when absent). HTTP header
/// names are case-insensitive: look them up that way ([`TIMESTAMP_HEADER`],
/// [`SIGNATURE_HEADER`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    /// `X-Slack-Request-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Slack-Signature`.
    pub signature: Option<&'a str>,
}

/// Why a Slack request is refused. No variant quotes the signature or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// A signing header is missing (HTTP 401).
    #[error("the request is not signed: {0} is missing")]
    Unsigned(&'static str),
    /// The timestamp header is not a Unix time in seconds (HTTP 401).
    #[error("{TIMESTAMP_HEADER} is not a Unix time")]
    BadTimestamp,
    /// The timestamp is more than five minutes from now, either way (HTTP 401).
    #[error("the request's timestamp is {skew_seconds} s from now; more than {MAX_SKEW_SECONDS} s either way is refused")]
    Stale {
        /// Now minus the request's timestamp (negative: from the future).
        skew_seconds: i64,
    },
    /// The signature does not match the body, timestamp and signing secret (HTTP 401).
    #[error("the request's signature does not match")]
    BadSignature,
    /// A request with this signature was handled already (HTTP 409).
    #[error("this request was handled already (a replay); press the button again")]
    Replayed,
    /// The body is not a button press the suite can read; says what is wrong (HTTP 400).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// A button the suite did not render (HTTP 400).
    #[error("unknown action \"{0}\"; the suite's buttons are ops:promote and ops:abort")]
    UnknownAction(String),
    /// The Slack user is not in the config's `operators.slack_users` (HTTP 403).
    #[error("Slack user {0} has no role in the suite (operators.slack_users)")]
    NoRole(String),
    /// The Slack user is a viewer; the buttons need an operator (HTTP 403).
    #[error("Slack user {0} is a viewer; promote and abort need the operator role")]
    NotOperator(String),
    /// The request could not be checked: the signing secret or the state bucket could not be
    /// read or written (HTTP 502); nothing was done.
    #[error("could not check the request: {0}")]
    Unavailable(String),
}

impl SlackError {
    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        match self {
            SlackError::Unsigned(_)
            | SlackError::BadTimestamp
            | SlackError::Stale { .. }
            | SlackError::BadSignature => 401,
            SlackError::NoRole(_) | SlackError::NotOperator(_) => 403,
            SlackError::Replayed => 409,
            SlackError::Malformed(_) | SlackError::UnknownAction(_) => 400,
            SlackError::Unavailable(_) => 502,
        }
    }

    /// The API's error code for the status (`{"error": …}`).
    pub fn error_code(&self) -> &'static str {
        match self.status() {
            401 => "unauthorized",
            403 => "forbidden",
            409 => "conflict",
            400 => "bad_request",
            _ => "failed",
        }
    }
}

/// The id of the secret holding the signing secret, from [`SIGNING_SECRET_ENV`].
pub fn signing_secret_id() -> Result<String, EnvError> {
    std::env::var(SIGNING_SECRET_ENV)
        .ok()
        .filter(|id| !id.trim().is_empty())
        .ok_or(EnvError::Missing {
            name: SIGNING_SECRET_ENV,
            what: "the name or ARN of the Secrets Manager secret holding the Slack app's signing secret",
        })
}

/// The signing secret stored in secret `id` (cached by `cache`).
pub async fn signing_secret(cache: &SecretCache, id: &str) -> Result<SecretString, SlackError> {
    cache
        .get(id)
        .await
        .map_err(|error| SlackError::Unavailable(bounded(&error.to_string(), MAX_DETAIL)))
}

/// Checks a Slack interactivity request (signature, payload, the presser's role, replay) and
/// returns the button press to carry out. `raw_body` is the body exactly as received;
/// `request_id` identifies this HTTP request uniquely (the Lambda request id); `now` is the
/// time of receipt. Nothing is written unless every check passes; then only the replay marker.
pub async fn interaction(
    signing_secret: &SecretString,
    store: &StateStore,
    config: &SuiteConfig,
    headers: &Headers<'_>,
    raw_body: &[u8],
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Interaction, SlackError> {
    let verified = verify(signing_secret, headers, raw_body, now)?;
    let press = parse(raw_body)?;
    authorize(config, &press.user_id)?;
    let first = claim_once(
        store,
        &verified.signature,
        verified.timestamp,
        request_id,
        now,
    )
    .await
    .map_err(|error| SlackError::Unavailable(bounded(&error.to_string(), MAX_DETAIL)))?;
    if !first {
        return Err(SlackError::Replayed);
    }
    Ok(press)
}

/// Whether Slack user `user_id` may press the suite's buttons (promote and abort are operator
/// commands).
pub fn authorize(config: &SuiteConfig, user_id: &str) -> Result<(), SlackError> {
    match role_of(config, user_id) {
        Some(Role::Operator) => Ok(()),
        Some(Role::Viewer) => Err(SlackError::NotOperator(bounded(user_id, 64))),
        None => Err(SlackError::NoRole(bounded(user_id, 64))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SuiteConfig {
        ops_domain::config::parse(
            "version: 1\noperators:\n  slack_users:\n    U012ABCDEF: operator\n    U034VIEWER: viewer\n",
        )
        .expect("valid config")
    }

    #[test]
    fn operators_may_press_viewers_and_strangers_may_not() {
        assert_eq!(authorize(&config(), "U012ABCDEF"), Ok(()));
        assert_eq!(
            authorize(&config(), "U034VIEWER"),
            Err(SlackError::NotOperator("U034VIEWER".into()))
        );
        assert_eq!(
            authorize(&config(), "U999STRANGER"),
            Err(SlackError::NoRole("U999STRANGER".into()))
        );
    }

    #[test]
    fn every_refusal_maps_to_its_status_and_code() {
        let cases = [
            (SlackError::Unsigned(SIGNATURE_HEADER), 401, "unauthorized"),
            (SlackError::BadTimestamp, 401, "unauthorized"),
            (SlackError::Stale { skew_seconds: 301 }, 401, "unauthorized"),
            (SlackError::BadSignature, 401, "unauthorized"),
            (SlackError::NoRole("U1".into()), 403, "forbidden"),
            (SlackError::NotOperator("U1".into()), 403, "forbidden"),
            (SlackError::Replayed, 409, "conflict"),
            (SlackError::Malformed("x".into()), 400, "bad_request"),
            (SlackError::UnknownAction("x".into()), 400, "bad_request"),
            (SlackError::Unavailable("x".into()), 502, "failed"),
        ];
        for (error, status, code) in cases {
            assert_eq!(
                (error.status(), error.error_code()),
                (status, code),
                "{error}"
            );
        }
    }
}
