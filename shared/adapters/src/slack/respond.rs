//! Answering a button press: Slack wants the HTTP answer within three seconds and shows the
//! presser what the app posts to the press's `response_url` (an ephemeral message, seen by the
//! presser only, leaving the notification as it was).
//!
//! The `response_url` is a capability (anyone holding it may post into the channel for 30
//! minutes): failures report a status or failure kind, never the URL.

use serde_json::{json, Value};

/// The message posted to a press's `response_url`: `text`, seen by the presser only.
pub fn reply_message(text: &str) -> Value {
    json!({
        "response_type": "ephemeral",
        "replace_original": false,
        "text": text,
    })
}

/// Posts `text` to `response_url` (from [`super::Interaction`]: a Slack `https` URL). The error
/// never contains the URL.
pub async fn reply(http: &reqwest::Client, response_url: &str, text: &str) -> Result<(), String> {
    let response = http
        .post(response_url)
        .json(&reply_message(text))
        .send()
        .await
        .map_err(|error| {
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
            "Slack answered HTTP {}",
            response.status().as_u16()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_is_ephemeral_and_leaves_the_notification_alone() {
        assert_eq!(
            reply_message("abort of checkout queued"),
            json!({"response_type": "ephemeral", "replace_original": false, "text": "abort of checkout queued"})
        );
    }
}
