//! Slack incoming webhook messages in Block Kit.
//!
//! A notification's actions become an `actions` block of buttons. Each button's `action_id`
//! names the command ([`PROMOTE_ACTION_ID`], [`ABORT_ACTION_ID`]) and its `value` the service
//! and deployment (JSON, see [`button_value`]); a press comes back to the suite's interactivity
//! endpoint, which checks Slack's signature and the presser's role before anything changes
//! (`crate::slack`). Abort asks for confirmation in Slack first.

use ops_domain::notify::{ActionKind, Lifecycle, Notification, NotificationAction, Severity};
use serde_json::{json, Value};

/// `action_id` of a Promote button.
pub const PROMOTE_ACTION_ID: &str = "ops:promote";
/// `action_id` of an Abort button.
pub const ABORT_ACTION_ID: &str = "ops:abort";

/// The `action_id` of `kind`'s button.
pub fn action_id(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::Promote => PROMOTE_ACTION_ID,
        ActionKind::Abort => ABORT_ACTION_ID,
    }
}

/// A button's `value`: `{"service": …, "deployment_id": …}` (Slack allows 2000 characters; a
/// service name is at most 64 and a deployment id is a pipeline job id).
pub fn button_value(action: &NotificationAction) -> String {
    json!({"service": action.service, "deployment_id": action.deployment_id}).to_string()
}

fn button(action: &NotificationAction) -> Value {
    let text = match action.kind {
        ActionKind::Promote => "Promote",
        ActionKind::Abort => "Abort",
    };
    let mut button = json!({
        "type": "button",
        "action_id": action_id(action.kind),
        "text": {"type": "plain_text", "text": text, "emoji": false},
        "value": button_value(action),
    });
    match action.kind {
        ActionKind::Promote => {
            button["style"] = "primary".into();
            button["confirm"] = confirm(
                "Promote?",
                &format!(
                    "End the current bake of {} deployment {} once its alarm gate is checked \
                     (and lift a pause).",
                    action.service, action.deployment_id
                ),
                "Promote",
                "primary",
            );
        }
        ActionKind::Abort => {
            button["style"] = "danger".into();
            button["confirm"] = confirm(
                "Abort the deployment?",
                &format!(
                    "Deployment {} of {} stops: traffic and services go back to the stable \
                     version and the pipeline job fails.",
                    action.deployment_id, action.service
                ),
                "Abort",
                "danger",
            );
        }
    }
    button
}

/// A Block Kit confirmation dialog.
fn confirm(title: &str, text: &str, yes: &str, style: &str) -> Value {
    json!({
        "title": {"type": "plain_text", "text": truncate(title, 100)},
        "text": {"type": "plain_text", "text": truncate(text, 300)},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": "Cancel"},
        "style": style,
    })
}

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
    if !notification.actions.is_empty() {
        let deployment = &notification.actions[0];
        // Slack allows at most 25 elements per actions block.
        let elements: Vec<Value> = notification.actions.iter().take(25).map(button).collect();
        blocks.push(json!({
            "type": "actions",
            // Unique per deployment, at most 255 characters.
            "block_id": truncate(&format!("ops:{}:{}", deployment.service, deployment.deployment_id), 255),
            "elements": elements,
        }));
    }
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

    fn with_actions() -> Notification {
        let action = |kind| NotificationAction {
            kind,
            service: "checkout".into(),
            deployment_id: "job-7".into(),
        };
        Notification {
            source: "deploy-hook".into(),
            severity: Severity::Info,
            lifecycle: Lifecycle::Trigger,
            title: "checkout baking with 10% on the new version".into(),
            summary: "Step 3/4".into(),
            fields: Vec::new(),
            dedup_key: "deploy-hook/checkout/job-7".into(),
            link: None,
            actions: vec![action(ActionKind::Promote), action(ActionKind::Abort)],
        }
    }

    #[test]
    fn actions_become_buttons_bound_to_the_deployment_and_abort_asks_first() {
        let message = slack_message(&with_actions());
        let blocks = message["blocks"].as_array().expect("blocks");
        let actions = blocks.last().expect("a block");
        assert_eq!(
            actions,
            &json!({
                "type": "actions",
                "block_id": "ops:checkout:job-7",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "ops:promote",
                        "text": {"type": "plain_text", "text": "Promote", "emoji": false},
                        "value": r#"{"deployment_id":"job-7","service":"checkout"}"#,
                        "style": "primary",
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Promote?"},
                            "text": {"type": "plain_text", "text": "End the current bake of checkout deployment job-7 once its alarm gate is checked (and lift a pause)."},
                            "confirm": {"type": "plain_text", "text": "Promote"},
                            "deny": {"type": "plain_text", "text": "Cancel"},
                            "style": "primary",
                        },
                    },
                    {
                        "type": "button",
                        "action_id": "ops:abort",
                        "text": {"type": "plain_text", "text": "Abort", "emoji": false},
                        "value": r#"{"deployment_id":"job-7","service":"checkout"}"#,
                        "style": "danger",
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Abort the deployment?"},
                            "text": {"type": "plain_text", "text": "Deployment job-7 of checkout stops: traffic and services go back to the stable version and the pipeline job fails."},
                            "confirm": {"type": "plain_text", "text": "Abort"},
                            "deny": {"type": "plain_text", "text": "Cancel"},
                            "style": "danger",
                        },
                    },
                ],
            })
        );
        // The rest of the message is as without actions.
        let types: Vec<&str> = blocks
            .iter()
            .map(|b| b["type"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(types, ["header", "section", "context", "actions"]);
    }

    #[test]
    fn a_notification_without_actions_has_no_actions_block() {
        let mut plain = with_actions();
        plain.actions.clear();
        let message = slack_message(&plain);
        let blocks = message["blocks"].as_array().expect("blocks");
        assert!(blocks.iter().all(|b| b["type"] != "actions"), "{message}");
    }
}
