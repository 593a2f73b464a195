//! PagerDuty Events API v2: trigger and resolve with a stable dedup key.

use ops_domain::notify::{Lifecycle, Notification, Severity};
use serde::Deserialize;
use serde_json::{json, Value};

/// The Events API v2 endpoint.
pub(crate) const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// The PagerDuty secret's JSON.
#[derive(Deserialize)]
pub(crate) struct Endpoint {
    pub(crate) routing_key: String,
    #[serde(default)]
    pub(crate) url: Option<String>,
}

/// The Events API v2 body for a notification.
pub fn pagerduty_event(routing_key: &str, notification: &Notification) -> Value {
    match notification.lifecycle {
        Lifecycle::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": notification.dedup_key,
        }),
        Lifecycle::Trigger => {
            let details: serde_json::Map<String, Value> = notification
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            let severity = match notification.severity {
                Severity::Critical => "critical",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            let mut event = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": notification.dedup_key,
                "payload": {
                    "summary": notification.title.chars().take(1024).collect::<String>(),
                    "source": notification.source,
                    "severity": severity,
                    "custom_details": details,
                },
            });
            if let Some(link) = &notification.link {
                event["links"] = json!([{"href": link, "text": "report"}]);
            }
            event
        }
    }
}
