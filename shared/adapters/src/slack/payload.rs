//! Reading a button press: the `block_actions` interaction payload Slack posts to the
//! interactivity endpoint, as `application/x-www-form-urlencoded` with one field, `payload`,
//! holding the JSON.
//!
//! Only what the suite acts on is read: who pressed (user and team ids), which button
//! (`action_id`, see `crate::notify::PROMOTE_ACTION_ID`), the deployment it was rendered for
//! (the button's `value`), and where to answer (`response_url`). Everything else in the payload
//! is ignored; anything the suite needs and does not find is a [`SlackError::Malformed`] naming
//! it, and a button the suite did not render is a [`SlackError::UnknownAction`].

use serde::Deserialize;

use super::SlackError;
use crate::error::bounded;
use crate::notify::{ABORT_ACTION_ID, PROMOTE_ACTION_ID};

/// Most characters of a value an error quotes.
const MAX_QUOTED: usize = 64;

/// Longest service name (the config's rule).
const MAX_SERVICE: usize = 64;

/// Longest deployment id (a pipeline job id is a UUID).
const MAX_DEPLOYMENT_ID: usize = 128;

/// The command a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackCommand {
    /// `ops:promote`: end the current bake (and lift a pause).
    Promote,
    /// `ops:abort`: stop the deployment and roll back.
    Abort,
}

impl SlackCommand {
    /// The command's name as operators type it (`promote`).
    pub fn as_str(self) -> &'static str {
        match self {
            SlackCommand::Promote => "promote",
            SlackCommand::Abort => "abort",
        }
    }
}

/// A button press, read from a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    /// Who pressed: the Slack user id (`U…`), which the config maps to a role.
    pub user_id: String,
    /// The user's workspace (`T…`), when Slack names it.
    pub team_id: Option<String>,
    /// What they asked for.
    pub action: SlackCommand,
    /// The service the button was rendered for.
    pub service: String,
    /// The deployment the button was rendered for: the command is refused if another one is in
    /// flight by now.
    pub deployment_id: String,
    /// Where to post the answer (a Slack `https` URL, valid for 30 minutes); `None` when the
    /// payload has none or names a host that is not Slack's.
    pub response_url: Option<String>,
}

impl Interaction {
    /// The presser as the caller of a command and the actor of its audit record:
    /// `slack:<team id>/<user id>` (or `slack:<user id>` when Slack names no team).
    pub fn caller(&self) -> String {
        match &self.team_id {
            Some(team) => format!("slack:{team}/{}", self.user_id),
            None => format!("slack:{}", self.user_id),
        }
    }
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: Option<User>,
    team: Option<Team>,
    #[serde(default)]
    actions: Vec<Action>,
    response_url: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct Team {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    value: Option<String>,
}

#[derive(Deserialize)]
struct ButtonValue {
    service: String,
    deployment_id: String,
}

/// Reads the button press in a form-encoded interaction body.
pub fn parse(raw_body: &[u8]) -> Result<Interaction, SlackError> {
    let mut payloads = form_urlencoded::parse(raw_body)
        .filter(|(name, _)| name == "payload")
        .map(|(_, value)| value);
    let payload = payloads
        .next()
        .ok_or_else(|| malformed("the body has no `payload` field"))?;
    if payloads.next().is_some() {
        return Err(malformed("the body has more than one `payload` field"));
    }
    let payload: Payload = serde_json::from_str(&payload).map_err(|error| {
        malformed(&format!(
            "`payload` is not an interaction payload: {}",
            bounded(&error.to_string(), 120)
        ))
    })?;
    if payload.kind != "block_actions" {
        return Err(malformed(&format!(
            "payload type \"{}\" is not handled; only block_actions (button presses) are",
            bounded(&payload.kind, MAX_QUOTED)
        )));
    }
    let user = payload
        .user
        .filter(|u| !u.id.trim().is_empty())
        .ok_or_else(|| malformed("the payload names no user"))?;
    let [action] = <[Action; 1]>::try_from(payload.actions).map_err(|actions| {
        malformed(&format!(
            "a button press carries exactly one action, not {}",
            actions.len()
        ))
    })?;
    let command = match action.action_id.as_str() {
        PROMOTE_ACTION_ID => SlackCommand::Promote,
        ABORT_ACTION_ID => SlackCommand::Abort,
        other => {
            return Err(SlackError::UnknownAction(bounded(other, MAX_QUOTED)));
        }
    };
    let value = action
        .value
        .ok_or_else(|| malformed("the button has no value"))?;
    let target: ButtonValue = serde_json::from_str(&value).map_err(|_| {
        malformed("the button's value is not {\"service\", \"deployment_id\"} JSON")
    })?;
    if !valid_service(&target.service) {
        return Err(malformed(&format!(
            "\"{}\" is not a service name",
            bounded(&target.service, MAX_QUOTED)
        )));
    }
    if !valid_deployment_id(&target.deployment_id) {
        return Err(malformed(&format!(
            "\"{}\" is not a deployment id",
            bounded(&target.deployment_id, MAX_QUOTED)
        )));
    }
    let team_id = user
        .team_id
        .or_else(|| payload.team.and_then(|team| team.id))
        .filter(|id| !id.is_empty());
    Ok(Interaction {
        user_id: user.id,
        team_id,
        action: command,
        service: target.service,
        deployment_id: target.deployment_id,
        response_url: payload.response_url.filter(|url| slack_url(url)),
    })
}

fn malformed(what: &str) -> SlackError {
    SlackError::Malformed(what.to_owned())
}

/// The config's rule for service names: a-z, 0-9, `-` and `_`, at most 64.
fn valid_service(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SERVICE
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A pipeline job id or the like: letters, digits, `-`, `_`, `.` and `:`.
fn valid_deployment_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_DEPLOYMENT_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Whether `url` is an `https` URL on one of Slack's hosts (`hooks.slack.com`, or GovSlack's),
/// the only place the suite posts an answer to.
fn slack_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    host == "hooks.slack.com" || host == "hooks.slack-gov.com"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body Slack posts for a payload: `payload=<form-encoded JSON>`.
    fn body(payload: &serde_json::Value) -> Vec<u8> {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
            .into_bytes()
    }

    /// The sample in `events/`, as Slack posts it.
    fn sample() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../../events/slack-block-actions.json"))
            .expect("sample is JSON")
    }

    fn check(payload: serde_json::Value, expect: Result<Interaction, &str>) {
        let got = parse(&body(&payload)).map_err(|error| error.to_string());
        assert_eq!(got, expect.map_err(str::to_owned), "{payload}");
    }

    fn abort() -> Interaction {
        Interaction {
            user_id: "U012ABCDEF".into(),
            team_id: Some("T0123ABCD".into()),
            action: SlackCommand::Abort,
            service: "checkout".into(),
            deployment_id: "1f3c2a9e-7b1d-4c55-9a0e-2d6f8b4e1a77".into(),
            response_url: Some(
                "https://hooks.slack.com/actions/T0123ABCD/5719438271/zSTyW3rIwk5M8qKBcvPaxE0d"
                    .into(),
            ),
        }
    }

    #[test]
    fn the_sample_is_an_abort_of_a_checkout_deployment() {
        check(sample(), Ok(abort()));
        assert_eq!(abort().caller(), "slack:T0123ABCD/U012ABCDEF");
        let teamless = Interaction {
            team_id: None,
            ..abort()
        };
        assert_eq!(teamless.caller(), "slack:U012ABCDEF");
    }

    #[test]
    fn promote_is_read_and_a_missing_team_is_no_error() {
        let mut payload = sample();
        payload["actions"][0]["action_id"] = "ops:promote".into();
        payload["user"]
            .as_object_mut()
            .expect("user")
            .remove("team_id");
        payload.as_object_mut().expect("payload").remove("team");
        check(
            payload,
            Ok(Interaction {
                action: SlackCommand::Promote,
                team_id: None,
                ..abort()
            }),
        );
    }

    #[test]
    fn an_answer_goes_only_to_slack() {
        for url in [
            "http://hooks.slack.com/actions/T/1/x",
            "https://hooks.slack.com.evil.example/actions",
            "https://evil.example/?https://hooks.slack.com/",
            "https://user@hooks.slack.com/actions",
        ] {
            let mut payload = sample();
            payload["response_url"] = url.into();
            check(
                payload,
                Ok(Interaction {
                    response_url: None,
                    ..abort()
                }),
            );
        }
    }

    #[test]
    fn what_is_missing_or_unknown_is_named() {
        let with = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut payload = sample();
            edit(&mut payload);
            payload
        };
        check(
            with(&|p| p["actions"][0]["action_id"] = "ops:delete_everything".into()),
            Err("unknown action \"ops:delete_everything\"; the suite's buttons are ops:promote and ops:abort"),
        );
        check(
            with(&|p| p["type"] = "view_submission".into()),
            Err("malformed request: payload type \"view_submission\" is not handled; only block_actions (button presses) are"),
        );
        check(
            with(&|p| p["actions"] = serde_json::json!([])),
            Err("malformed request: a button press carries exactly one action, not 0"),
        );
        check(
            with(&|p| {
                p.as_object_mut().expect("payload").remove("user");
            }),
            Err("malformed request: the payload names no user"),
        );
        check(
            with(&|p| p["actions"][0]["value"] = "checkout|job-1".into()),
            Err("malformed request: the button's value is not {\"service\", \"deployment_id\"} JSON"),
        );
        check(
            with(&|p| {
                p["actions"][0]["value"] = r#"{"service":"../etc","deployment_id":"job-1"}"#.into()
            }),
            Err("malformed request: \"../etc\" is not a service name"),
        );
        check(
            with(&|p| {
                p["actions"][0]["value"] =
                    r#"{"service":"checkout","deployment_id":"job 1"}"#.into()
            }),
            Err("malformed request: \"job 1\" is not a deployment id"),
        );
        check(
            with(&|p| {
                p["actions"][0]
                    .as_object_mut()
                    .expect("action")
                    .remove("value");
            }),
            Err("malformed request: the button has no value"),
        );
    }

    #[test]
    fn a_body_without_one_json_payload_is_malformed() {
        let cases: [(&[u8], &str); 4] = [
            (b"", "malformed request: the body has no `payload` field"),
            (b"token=x&user_id=U1", "malformed request: the body has no `payload` field"),
            (b"payload=%7B%7D&payload=%7B%7D", "malformed request: the body has more than one `payload` field"),
            (b"payload=not-json", "malformed request: `payload` is not an interaction payload: expected ident at line 1 column 2"),
        ];
        for (raw, expect) in cases {
            let got = parse(raw).map_err(|error| error.to_string());
            assert_eq!(
                got,
                Err(expect.to_owned()),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
