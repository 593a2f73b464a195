//! Slack incoming webhook messages in Block Kit.

use ops_domain::notify::{Lifecycle, Notification, Severity};
use serde_json::{json, Value};

/// The Block Kit message for a notification (with `text` as the fallback for previews).
pub fn slack_message(notification: &Notification) -> Value {
    let icon = match (notification.lifecycle, notification.severity) {
        (Lifecycle::Resolve, _) => ":white_check_mark:",
        (_, Severity::Critical) => ":rotating_light:",
        (_, Severity::Warning) => ":warning:",
        (_, Severity::Info) => ":information_source:",
    };
    let prefix = if notification.lifecycle == Lifecycle::Resolve {
        "Resolved: "
    } else {
        ""
    };
    let title = format!("{icon} {prefix}{}", notification.title);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, 150), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&notification.summary, 3000)}}),
    ];
    // Slack allows at most 10 fields per section.
    for chunk in notification.fields.chunks(10) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|(name, value)| json!({"type": "mrkdwn", "text": truncate(&format!("*{name}*\n{value}"), 2000)}))
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let mut context = format!(
        "{} · {} · `{}`",
        notification.source,
        notification.severity.as_str(),
        notification.dedup_key
    );
    if let Some(link) = &notification.link {
        context.push_str(&format!(" · <{link}|report>"));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({"text": title, "blocks": blocks})
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_has_header_summary_fields_and_context() {
        let notification = Notification {
            source: "alarm-rollback".into(),
            severity: Severity::Critical,
            lifecycle: Lifecycle::Trigger,
            title: "Rolled back checkout".into(),
            summary: "Alarm fired.".into(),
            fields: vec![("Service".into(), "checkout".into())],
            dedup_key: "k".into(),
            link: None,
            actions: Vec::new(),
        };
        let message = slack_message(&notification);
        assert_eq!(message["text"], ":rotating_light: Rolled back checkout");
        let blocks = message["blocks"].as_array().expect("blocks");
        let types: Vec<&str> = blocks
            .iter()
            .map(|b| b["type"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(types, ["header", "section", "section", "context"]);
        assert_eq!(blocks[2]["fields"][0]["text"], "*Service*\ncheckout");
    }
}
