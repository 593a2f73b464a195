//! Generic JSON webhooks, signed with HMAC-SHA256 so the receiver can check who sent them.
//!
//! The signature covers `"<timestamp>.<body>"` (the scheme Stripe and Slack use), so a captured
//! request cannot be replayed later with a new timestamp.
//!
//! Every request carries an [`IDEMPOTENCY_HEADER`]. A notification delivered from an outbox
//! (`Notifier::send_to` with a key) carries the change's key there and as `idempotency_key` in
//! the body, where the signature covers it (headers are not signed), so a receiver deduplicates
//! redeliveries by a value it can trust; a plain `Notifier::send` carries a digest of the body,
//! the same for every resend of the same bytes.

use hmac::{Hmac, Mac};
use ops_domain::notify::Notification;
use serde::Deserialize;
use sha2::Sha256;

/// Header carrying the Unix timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "x-ops-timestamp";
/// Header carrying `sha256=<hex HMAC of "<timestamp>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-ops-signature";

/// Header carrying the idempotency key of a delivery (the same on every redelivery).
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The webhook secret's JSON.
#[derive(Deserialize)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) signing_key: String,
}

/// The request body: the notification as JSON, with a schema version.
pub fn webhook_body(notification: &Notification) -> String {
    webhook_body_with_key(notification, None)
}

/// The request body with the delivery's idempotency key (when it has one) as `idempotency_key`,
/// so the signature covers it.
pub fn webhook_body_with_key(notification: &Notification, idempotency_key: Option<&str>) -> String {
    let mut value = serde_json::to_value(notification).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("schema_version".into(), 1.into());
        let fields: serde_json::Map<String, serde_json::Value> = notification
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        object.insert("fields".into(), fields.into());
        if let Some(key) = idempotency_key {
            object.insert("idempotency_key".into(), key.into());
        }
    }
    value.to_string()
}

/// The signature header value for `body` sent at `timestamp`.
pub fn sign(key: &[u8], timestamp: &str, body: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::{sign, webhook_body};
    use ops_domain::notify::{ActionKind, Lifecycle, Notification, NotificationAction, Severity};

    #[test]
    fn actions_travel_as_data_and_are_left_out_when_there_are_none() {
        let mut notification = Notification {
            source: "deploy-hook".into(),
            severity: Severity::Info,
            lifecycle: Lifecycle::Trigger,
            title: "t".into(),
            summary: String::new(),
            fields: Vec::new(),
            dedup_key: "k".into(),
            link: None,
            actions: Vec::new(),
        };
        let body: serde_json::Value =
            serde_json::from_str(&webhook_body(&notification)).expect("json");
        assert!(body.get("actions").is_none(), "{body}");
        notification.actions.push(NotificationAction {
            kind: ActionKind::Abort,
            service: "checkout".into(),
            deployment_id: "job-1".into(),
        });
        let body: serde_json::Value =
            serde_json::from_str(&webhook_body(&notification)).expect("json");
        assert_eq!(
            body["actions"],
            serde_json::json!([{"kind": "abort", "service": "checkout", "deployment_id": "job-1"}])
        );
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        // python3 -c "import hmac,hashlib;print(hmac.new(b'key',b'1700000000.{}',hashlib.sha256).hexdigest())"
        assert_eq!(
            sign(b"key", "1700000000", "{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(
            sign(b"key", "1700000001", "{}"),
            sign(b"key", "1700000000", "{}")
        );
    }
}
