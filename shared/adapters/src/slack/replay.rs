//! Replay protection: a verified Slack request is acted on once.
//!
//! Slack's signature covers the timestamp, so within the five-minute window a captured request
//! stays valid; the only thing that tells a replay from the original is having seen it. The
//! first request with a given signature creates a marker in the state bucket (create-once,
//! `If-None-Match: *`) under [`ops_domain::keys::slack_replay`]; a second request with the same
//! signature finds the key taken and is refused, and nothing else is written.
//!
//! The marker names the request that claimed it (the API's request id, unique per HTTP
//! request), so the state store's recognition of its own write (a create whose answer was lost
//! and whose retry got `412`: the key holds exactly the bytes this request wrote) holds for the
//! claiming request only. A marker made only of what the request carries (signature, timestamp)
//! would not be sound: a replay would write the very same bytes and be taken for the original.
//! A request whose claim cannot be settled (S3 unreachable) is refused as unavailable; Slack's
//! user presses the button again, which is a new request with a new signature.

use chrono::{DateTime, Utc};
use ops_domain::keys;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::s3::{StateError, StateStore};

/// The marker written for a claimed request.
#[derive(Debug, Serialize)]
struct Marker<'a> {
    /// SHA-256 of the signature header (the key's name).
    signature_sha256: &'a str,
    /// The request's signed timestamp.
    request_at: DateTime<Utc>,
    /// When it was claimed.
    claimed_at: DateTime<Utc>,
    /// The request that claimed it (the API's request id).
    claimed_by: &'a str,
}

/// The key of the marker of the request signed `signature` at `request_at`.
pub fn marker_key(signature: &str, request_at: DateTime<Utc>) -> String {
    let digest = hex::encode(Sha256::digest(signature.as_bytes()));
    keys::slack_replay(request_at, &digest)
}

/// Claims the request signed `signature` at `request_at` (its verified timestamp) for
/// `request_id` (unique per HTTP request): `true` when this request is the first with that
/// signature (or its own earlier claim whose answer was lost), `false` when another request
/// claimed it first (a replay). Errors are the store's (transient ones included).
pub async fn claim_once(
    store: &StateStore,
    signature: &str,
    request_at: DateTime<Utc>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StateError> {
    let key = marker_key(signature, request_at);
    let digest = hex::encode(Sha256::digest(signature.as_bytes()));
    let marker = Marker {
        signature_sha256: &digest,
        request_at,
        claimed_at: now,
        claimed_by: request_id,
    };
    match store.create(&key, &marker).await {
        Ok(_) => Ok(true),
        Err(StateError::AlreadyExists { .. }) => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_key_is_a_digest_under_the_day_of_the_signed_timestamp() {
        let at = Utc
            .with_ymd_and_hms(2018, 7, 12, 18, 36, 58)
            .single()
            .expect("valid time");
        let key = marker_key("v0=abc", at);
        // printf 'v0=abc' | sha256sum
        assert_eq!(
            key,
            "slack/replay/2018/07/12/5f0ff54ca50be8669e988b890dbdec4cfe032456e220268c35fe315423a18f9b.json"
        );
        assert_ne!(marker_key("v0=abd", at), key);
    }
}
