//! Notifiers: Slack incoming webhooks, signed JSON webhooks, PagerDuty Events API v2 and email
//! through Amazon SES (for the functions that enable it with [`Notifier::with_email`]).
//!
//! Each channel's endpoint and key come from a Secrets Manager secret. A failing channel is
//! logged and counted and never fails the action that sent it: a rollback that happened must not
//! be undone or retried because Slack was down.
//!
//! [`Notifier::send`] is fire-and-forget. For at-least-once delivery, a function records what it
//! owes in an outbox committed with its state change and delivers it with [`outbox`], which
//! sends one channel at a time through [`Notifier::send_to`] with the change's idempotency key.
//!
//! A notification's actions (promote, abort) are buttons in Slack, data (`actions`) in the
//! webhook body, the equivalent `opsctl` commands in an email, and left out of PagerDuty events.

mod email;
pub mod outbox;
mod pagerduty;
mod slack;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use ops_domain::config::{ChannelKind, SuiteConfig};
use ops_domain::notify::Notification;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::secretsmanager::SecretCache;

pub use email::{email_message, Email, Recipients};
pub use pagerduty::pagerduty_event;
pub use slack::{action_id, button_value, slack_message, ABORT_ACTION_ID, PROMOTE_ACTION_ID};
pub use webhook::{
    sign, webhook_body, webhook_body_with_key, IDEMPOTENCY_HEADER, SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
};

/// What happened to one notification.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delivery {
    /// Channels that accepted it.
    pub sent: Vec<String>,
    /// Channels that failed, with the reason (never containing a secret).
    pub failed: Vec<(String, String)>,
}

/// Sends notifications to the channels routed for their severity.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// Built on the first notification, not at start-up: building it loads the machine's CA
    /// certificates, milliseconds of a cold start that most invocations never need.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
    secrets: Arc<SecretCache>,
    ses: Option<aws_sdk_sesv2::Client>,
}

impl Notifier {
    /// A notifier reading channel secrets from `secrets`.
    pub fn new(secrets: Arc<SecretCache>) -> Self {
        Notifier {
            http: Arc::default(),
            secrets,
            ses: None,
        }
    }

    /// The HTTP client of the webhook channels.
    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .connect_timeout(Duration::from_secs(2))
                .user_agent(concat!("ops-suite/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default()
        })
    }

    /// Also sends to `email` channels, through `ses`. Without it an email channel fails (and
    /// is reported) like an unreachable webhook.
    pub fn with_email(mut self, ses: aws_sdk_sesv2::Client) -> Self {
        self.ses = Some(ses);
        self
    }

    /// Sends `notification` to every channel its severity routes to. Never fails: each
    /// channel's failure is logged, counted in the result, and left at that.
    pub async fn send(&self, config: &SuiteConfig, notification: &Notification) -> Delivery {
        let mut delivery = Delivery::default();
        for name in config.channels_for(notification.severity) {
            let Some(channel) = config.notifications.channels.get(name) else {
                continue;
            };
            match self
                .send_one(channel.kind, &channel.secret, notification, None)
                .await
            {
                Ok(()) => delivery.sent.push(name.clone()),
                Err(error) => {
                    tracing::warn!(message = "Failed to notify.", channel = %name, %error);
                    delivery.failed.push((name.clone(), error));
                }
            }
        }
        delivery
    }

    /// Sends `notification` to the one channel named `channel` in `config`, with
    /// `idempotency_key` for the channels that deduplicate by one (webhooks: header and signed
    /// body; PagerDuty deduplicates by the notification's `dedup_key`; Slack and email cannot).
    /// The error is a status or failure kind, never a secret.
    pub async fn send_to(
        &self,
        config: &SuiteConfig,
        channel: &str,
        notification: &Notification,
        idempotency_key: Option<&str>,
    ) -> Result<(), String> {
        let Some(settings) = config.notifications.channels.get(channel) else {
            return Err(format!("channel {channel} is not configured"));
        };
        self.send_one(
            settings.kind,
            &settings.secret,
            notification,
            idempotency_key,
        )
        .await
    }

    async fn send_one(
        &self,
        kind: ChannelKind,
        secret_id: &str,
        notification: &Notification,
        idempotency_key: Option<&str>,
    ) -> Result<(), String> {
        let secret = self
            .secrets
            .get(secret_id)
            .await
            .map_err(|error| error.to_string())?;
        let secret = secret.expose_secret();
        let request = match kind {
            ChannelKind::Slack => self
                .http()
                .post(secret.trim())
                .json(&slack_message(notification)),
            ChannelKind::Webhook => {
                let endpoint: webhook::Endpoint = serde_json::from_str(secret).map_err(|_| {
                    format!("secret {secret_id} is not {{\"url\", \"signing_key\"}} JSON")
                })?;
                let body = webhook_body_with_key(notification, idempotency_key);
                // The delivery's own key when it has one (an outbox's transition key, also in
                // the signed body); otherwise a digest of the body, the same for every resend
                // of the same message.
                let idempotency = idempotency_key.map_or_else(
                    || hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes())[..16]),
                    str::to_owned,
                );
                let timestamp = chrono::Utc::now().timestamp().to_string();
                let signature = sign(endpoint.signing_key.as_bytes(), &timestamp, &body);
                self.http()
                    .post(&endpoint.url)
                    .header("content-type", "application/json")
                    .header(TIMESTAMP_HEADER, timestamp)
                    .header(SIGNATURE_HEADER, signature)
                    .header(IDEMPOTENCY_HEADER, idempotency)
                    .body(body)
            }
            ChannelKind::Email => {
                let recipients = Recipients::parse(secret_id, secret)?;
                let ses = self
                    .ses
                    .as_ref()
                    .ok_or("email is not enabled in this function")?;
                return email::send(ses, &recipients, email_message(notification)).await;
            }
            ChannelKind::Pagerduty => {
                let endpoint: pagerduty::Endpoint = serde_json::from_str(secret).map_err(|_| {
                    format!("secret {secret_id} is not {{\"routing_key\", \"url\"?}} JSON")
                })?;
                let url = endpoint
                    .url
                    .clone()
                    .unwrap_or_else(|| pagerduty::EVENTS_URL.to_owned());
                self.http()
                    .post(url)
                    .json(&pagerduty_event(&endpoint.routing_key, notification))
            }
        };
        // reqwest errors include the URL, which for Slack *is* the secret: report status only.
        let response = request.send().await.map_err(|error| {
            if error.is_timeout() {
                "timed out".to_owned()
            } else if error.is_connect() {
                "could not connect".to_owned()
            } else {
                "request failed".to_owned()
            }
        })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "endpoint answered HTTP {}",
                response.status().as_u16()
            ))
        }
    }
}
