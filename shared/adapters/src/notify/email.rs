//! Email through Amazon SES (API v2 `SendEmail`): a subject line, a plain-text part and an HTML
//! part built from the notification.
//!
//! The channel's secret holds `{"from", "to": [...], "cc"?: [...]}`; `from` must be an SES
//! identity of the account (a verified address or domain). No configuration set is named: the
//! IAM grant covers the account's identities only (a configuration set would need its own).
//! Errors name the SES error code only: SES messages can quote the addresses, which live in the
//! secret.

use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use ops_domain::notify::{Lifecycle, Notification};
use ops_domain::text::escape_html;
use serde::Deserialize;

/// What the channel's secret holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    /// Sender: an SES identity.
    pub from: String,
    /// Recipients (at least one).
    pub to: Vec<String>,
    /// Copy recipients.
    #[serde(default)]
    pub cc: Vec<String>,
}

impl Recipients {
    /// Parses the secret's JSON; the error never quotes the secret.
    pub fn parse(secret_id: &str, secret: &str) -> Result<Self, String> {
        let recipients: Recipients = serde_json::from_str(secret).map_err(|_| {
            format!("secret {secret_id} is not {{\"from\", \"to\": [...], \"cc\"?: [...]}} JSON")
        })?;
        if recipients.to.is_empty() {
            return Err(format!("secret {secret_id} has no \"to\" address"));
        }
        Ok(recipients)
    }
}

/// An email's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Subject line: `[CRITICAL] title` or `[RESOLVED] title`.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part (no external assets).
    pub html: String,
}

/// The email for a notification.
pub fn email_message(notification: &Notification) -> Email {
    let tag = match notification.lifecycle {
        Lifecycle::Resolve => "RESOLVED".to_owned(),
        Lifecycle::Trigger => notification.severity.as_str().to_ascii_uppercase(),
    };
    // A subject is one line: newlines in a title would end the header.
    let title = notification.title.replace(['\r', '\n'], " ");
    let subject = format!("[{tag}] {title}");

    let mut text = format!("{title}\n\n{}\n", notification.summary);
    if !notification.fields.is_empty() {
        text.push('\n');
        for (name, value) in &notification.fields {
            text.push_str(&format!("{name}: {value}\n"));
        }
    }
    if let Some(link) = &notification.link {
        text.push_str(&format!("\nReport: {link}\n"));
    }
    // An email has no buttons: it names the commands that do the same.
    let commands: Vec<String> = notification
        .actions
        .iter()
        .map(|action| format!("opsctl deploy {} {}", action.kind.as_str(), action.service))
        .collect();
    if !commands.is_empty() {
        text.push_str(&format!("\nTo act: {}\n", commands.join(" · ")));
    }
    let footer = format!(
        "{} · {} · {}",
        notification.source,
        notification.severity.as_str(),
        notification.dedup_key
    );
    text.push_str(&format!("\n-- \n{footer}\n"));

    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2><p>{}</p>",
        escape_html(&format!("[{tag}] {title}")),
        escape_html(&notification.summary)
    );
    if !notification.fields.is_empty() {
        html.push_str("<table cellpadding=\"4\">");
        for (name, value) in &notification.fields {
            html.push_str(&format!(
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                escape_html(name),
                escape_html(value)
            ));
        }
        html.push_str("</table>");
    }
    if let Some(link) = &notification.link {
        html.push_str(&format!(
            "<p><a href=\"{}\">Report</a></p>",
            escape_html(link)
        ));
    }
    if !commands.is_empty() {
        html.push_str(&format!(
            "<p>To act: {}</p>",
            commands
                .iter()
                .map(|c| format!("<code>{}</code>", escape_html(c)))
                .collect::<Vec<_>>()
                .join(" · ")
        ));
    }
    html.push_str(&format!(
        "<p style=\"color:#666;font-size:small\">{}</p></body></html>",
        escape_html(&footer)
    ));
    Email {
        subject,
        text,
        html,
    }
}

/// Sends `email` to `recipients` with SES.
pub(crate) async fn send(
    ses: &aws_sdk_sesv2::Client,
    recipients: &Recipients,
    email: Email,
) -> Result<(), String> {
    let part = |data: String| {
        Content::builder()
            .data(data)
            .charset("UTF-8")
            .build()
            .map_err(|_| "could not build the email".to_owned())
    };
    let message = Message::builder()
        .subject(part(email.subject)?)
        .body(
            Body::builder()
                .text(part(email.text)?)
                .html(part(email.html)?)
                .build(),
        )
        .build();
    let destination = Destination::builder()
        .set_to_addresses(Some(recipients.to.clone()))
        .set_cc_addresses((!recipients.cc.is_empty()).then(|| recipients.cc.clone()))
        .build();
    ses.send_email()
        .from_email_address(&recipients.from)
        .destination(destination)
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await
        .map(|_| ())
        .map_err(|error| match &error {
            SdkError::TimeoutError(_) => "timed out".to_owned(),
            SdkError::DispatchFailure(_) => "could not connect".to_owned(),
            // The code (MessageRejected, AccountSendingPaused, …), not the message, which may
            // quote an address.
            other => match other.code() {
                Some(code) => format!("SES answered {code}"),
                None => "request failed".to_owned(),
            },
        })
}

#[cfg(test)]
mod tests {
    use ops_domain::notify::{Lifecycle, Notification, Severity};

    use super::{email_message, Recipients};

    fn notification(lifecycle: Lifecycle) -> Notification {
        Notification {
            source: "cost-check".into(),
            severity: Severity::Critical,
            lifecycle,
            title: "Budget <total>\nover".into(),
            summary: "Spent 120 of 100 & more".into(),
            fields: vec![("budget".into(), "total".into())],
            dedup_key: "budget:total".into(),
            link: Some("s3://state/reports/cost/2026-03-20/r.html".into()),
            actions: Vec::new(),
        }
    }

    #[test]
    fn subject_is_one_line_with_the_severity_and_html_is_escaped() {
        let email = email_message(&notification(Lifecycle::Trigger));
        assert_eq!(email.subject, "[CRITICAL] Budget <total> over");
        assert!(email.text.contains("budget: total\n"), "{}", email.text);
        assert!(email
            .text
            .contains("Report: s3://state/reports/cost/2026-03-20/r.html"));
        assert!(
            email.html.contains("Budget &lt;total&gt; over"),
            "{}",
            email.html
        );
        assert!(email.html.contains("120 of 100 &amp; more"));
        assert!(!email.html.contains("<total>"));
        let resolved = email_message(&notification(Lifecycle::Resolve));
        assert!(
            resolved.subject.starts_with("[RESOLVED] "),
            "{}",
            resolved.subject
        );
    }

    #[test]
    fn actions_are_named_as_the_commands_that_do_the_same() {
        use ops_domain::notify::{ActionKind, NotificationAction};
        let mut with = notification(Lifecycle::Trigger);
        with.actions = [ActionKind::Promote, ActionKind::Abort]
            .into_iter()
            .map(|kind| NotificationAction {
                kind,
                service: "checkout".into(),
                deployment_id: "job-1".into(),
            })
            .collect();
        let email = email_message(&with);
        assert!(
            email.text.contains(
                "To act: opsctl deploy promote checkout · opsctl deploy abort checkout\n"
            ),
            "{}",
            email.text
        );
        assert!(email
            .html
            .contains("<code>opsctl deploy abort checkout</code>"));
        let without = email_message(&notification(Lifecycle::Trigger));
        assert!(!without.text.contains("To act"));
    }

    #[test]
    fn recipients_need_a_to_address_and_errors_do_not_quote_the_secret() {
        let ok = Recipients::parse("s", r#"{"from":"a@x.io","to":["b@x.io"]}"#).expect("valid");
        assert_eq!(ok.to, ["b@x.io"]);
        assert!(ok.cc.is_empty());
        let none = Recipients::parse("s", r#"{"from":"a@x.io","to":[]}"#).expect_err("no to");
        assert!(none.contains("no \"to\""), "{none}");
        let bad = Recipients::parse("s", r#"{"form":"secret@x.io"}"#).expect_err("typo");
        assert!(!bad.contains("secret@x.io"), "{bad}");
    }
}
