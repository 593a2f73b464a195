//! Request input, with no I/O: query parameters (`days`, `since`, `limit`) and command bodies
//! checked field by field, so a bad request is a 400 naming the field before anything runs.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use crate::reply::ApiError;
use crate::routes::ServiceCommand;

/// `days` of the DORA report when not given.
pub const DEFAULT_DAYS: u32 = 30;
/// Most `days` of a DORA report.
pub const MAX_DAYS: u32 = 365;
/// How far back `/audit` reads when `since` is not given.
pub const DEFAULT_SINCE_DAYS: i64 = 7;
/// `limit` of `/audit` when not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Most records one `/audit` answer holds.
pub const MAX_LIMIT: usize = 1000;
/// Longest `reason` of a command.
pub const MAX_REASON: usize = 500;

/// The value of query parameter `name` in `query` (the part after `?`), decoded.
fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `?days=` of the DORA report: 1 to 365, default 30.
pub fn days(query: &str) -> Result<u32, ApiError> {
    let Some(value) = query_value(query, "days") else {
        return Ok(DEFAULT_DAYS);
    };
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|days| (1..=MAX_DAYS).contains(days))
        .ok_or_else(|| {
            ApiError::bad_request(
                "days",
                format!("days must be a whole number from 1 to {MAX_DAYS}"),
            )
        })
}

/// `?since=&limit=` of `/audit`: `since` is an RFC 3339 time or an age (`7d`, `12h`, `30m`;
/// default 7 days), `limit` 1 to 1000 (default 100).
pub fn audit(query: &str, now: DateTime<Utc>) -> Result<(DateTime<Utc>, usize), ApiError> {
    let since = match query_value(query, "since") {
        None => now - Duration::days(DEFAULT_SINCE_DAYS),
        Some(value) => since(value.trim(), now).ok_or_else(|| {
            ApiError::bad_request(
                "since",
                "since must be an RFC 3339 time (2026-01-02T03:04:05Z) or an age such as 7d, 12h or 30m",
            )
        })?,
    };
    let limit = match query_value(query, "limit") {
        None => DEFAULT_LIMIT,
        Some(value) => value
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "limit",
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    Ok((since, limit))
}

fn since(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&Utc));
    }
    let unit = value.chars().last()?;
    let amount: i64 = value[..value.len() - unit.len_utf8()].parse().ok()?;
    if !(0..=100_000).contains(&amount) {
        return None;
    }
    let age = match unit {
        'd' => Duration::days(amount),
        'h' => Duration::hours(amount),
        'm' => Duration::minutes(amount),
        _ => return None,
    };
    Some(now - age)
}

/// The body of `POST /services/{name}/{command}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandBody {
    /// Why (written into the command and its audit record).
    pub reason: Option<String>,
    /// `promote`: straight to 100 %.
    pub full: bool,
    /// `rollback`: the task definition revision to go back to.
    pub to: Option<String>,
    /// `rollback`: say what would change, change nothing.
    pub dry_run: bool,
}

/// The body of `POST /backups/{plan}/restore`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreBody {
    /// The snapshot to restore (default: the latest).
    pub snapshot: Option<String>,
    /// Apply the restore; without it the answer is a dry run.
    pub apply: bool,
}

/// The fields `command` accepts.
fn command_fields(command: ServiceCommand) -> &'static [&'static str] {
    match command {
        ServiceCommand::Pause | ServiceCommand::Resume | ServiceCommand::Abort => &["reason"],
        ServiceCommand::Promote => &["reason", "full"],
        ServiceCommand::Rollback => &["reason", "to", "dry_run"],
    }
}

/// Parses a command's body (empty means no fields).
pub fn command_body(command: ServiceCommand, body: &[u8]) -> Result<CommandBody, ApiError> {
    let fields = object(body, command_fields(command))?;
    Ok(CommandBody {
        reason: text(&fields, "reason", MAX_REASON)?,
        full: flag(&fields, "full")?,
        to: text(&fields, "to", 200)?,
        dry_run: flag(&fields, "dry_run")?,
    })
}

/// Parses a restore's body (empty means the latest snapshot, dry run).
pub fn restore_body(body: &[u8]) -> Result<RestoreBody, ApiError> {
    let fields = object(body, &["snapshot", "apply"])?;
    Ok(RestoreBody {
        snapshot: text(&fields, "snapshot", 200)?,
        apply: flag(&fields, "apply")?,
    })
}

/// The body as a JSON object with only `allowed` fields (`null` fields dropped).
fn object(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("body", "the body must be a JSON object"))?;
    let Value::Object(fields) = value else {
        return Err(ApiError::bad_request(
            "body",
            "the body must be a JSON object",
        ));
    };
    if let Some(unknown) = fields.keys().find(|key| !allowed.contains(&key.as_str())) {
        let shown: String = unknown.chars().take(40).collect();
        return Err(ApiError::bad_request(
            &shown,
            format!(
                "unknown field {shown} (this request takes {})",
                allowed.join(", ")
            ),
        ));
    }
    Ok(fields.into_iter().filter(|(_, v)| !v.is_null()).collect())
}

fn text(fields: &Map<String, Value>, name: &str, max: usize) -> Result<Option<String>, ApiError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Err(ApiError::bad_request(
            name,
            format!("{name} must not be empty"),
        )),
        Some(Value::String(text)) if text.chars().count() > max => Err(ApiError::bad_request(
            name,
            format!("{name} must be at most {max} characters"),
        )),
        Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
        Some(_) => Err(ApiError::bad_request(
            name,
            format!("{name} must be a string"),
        )),
    }
}

fn flag(fields: &Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match fields.get(name) {
        None => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(_) => Err(ApiError::bad_request(
            name,
            format!("{name} must be true or false"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-10T12:00:00Z".parse().expect("time")
    }

    fn field_of<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
        let error = result.expect_err("a 400");
        assert_eq!(error.error, "bad_request");
        error.field.expect("a field")
    }

    #[test]
    fn days_default_to_30_and_stay_within_a_year() {
        assert_eq!(days(""), Ok(30));
        assert_eq!(days("days=7"), Ok(7));
        assert_eq!(days("other=1&days=365"), Ok(365));
        for bad in ["days=0", "days=366", "days=-1", "days=soon", "days="] {
            assert_eq!(field_of(days(bad)), "days", "{bad}");
        }
    }

    #[test]
    fn audit_takes_a_time_or_an_age_and_a_bounded_limit() {
        assert_eq!(audit("", now()), Ok((now() - Duration::days(7), 100)));
        assert_eq!(
            audit("since=2026-03-01T00:00:00Z&limit=5", now()),
            Ok(("2026-03-01T00:00:00Z".parse().expect("time"), 5))
        );
        assert_eq!(
            audit("since=2026-03-01T01:00:00%2B01:00", now()),
            Ok(("2026-03-01T00:00:00Z".parse().expect("time"), 100))
        );
        assert_eq!(
            audit("since=12h", now()),
            Ok((now() - Duration::hours(12), 100))
        );
        assert_eq!(
            audit("since=30m", now()),
            Ok((now() - Duration::minutes(30), 100))
        );
        for bad in ["since=yesterday", "since=7w", "since=d", "since=-1d"] {
            assert_eq!(field_of(audit(bad, now())), "since", "{bad}");
        }
        for bad in ["limit=0", "limit=1001", "limit=x"] {
            assert_eq!(field_of(audit(bad, now())), "limit", "{bad}");
        }
    }

    #[test]
    fn command_bodies_take_only_their_fields() {
        assert_eq!(
            command_body(ServiceCommand::Pause, b""),
            Ok(CommandBody::default())
        );
        assert_eq!(
            command_body(
                ServiceCommand::Promote,
                br#"{"reason":" looks good ","full":true}"#
            ),
            Ok(CommandBody {
                reason: Some("looks good".into()),
                full: true,
                ..CommandBody::default()
            })
        );
        assert_eq!(
            command_body(
                ServiceCommand::Rollback,
                br#"{"to":"web:7","dry_run":true,"reason":null}"#
            ),
            Ok(CommandBody {
                to: Some("web:7".into()),
                dry_run: true,
                ..CommandBody::default()
            })
        );
        let cases: [(ServiceCommand, &[u8], &str); 8] = [
            (ServiceCommand::Pause, b"[1]", "body"),
            (ServiceCommand::Pause, b"{", "body"),
            (ServiceCommand::Pause, br#"{"full":true}"#, "full"),
            (ServiceCommand::Abort, br#"{"reason":7}"#, "reason"),
            (ServiceCommand::Abort, br#"{"reason":"  "}"#, "reason"),
            (ServiceCommand::Promote, br#"{"full":"yes"}"#, "full"),
            (ServiceCommand::Rollback, br#"{"dry_run":1}"#, "dry_run"),
            (ServiceCommand::Rollback, br#"{"to":false}"#, "to"),
        ];
        for (command, body, field) in cases {
            assert_eq!(
                field_of(command_body(command, body)),
                field,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let long = format!(r#"{{"reason":"{}"}}"#, "x".repeat(MAX_REASON + 1));
        assert_eq!(
            field_of(command_body(ServiceCommand::Abort, long.as_bytes())),
            "reason"
        );
    }

    #[test]
    fn restore_bodies_default_to_a_dry_run_of_the_latest_snapshot() {
        assert_eq!(restore_body(b" \n"), Ok(RestoreBody::default()));
        assert_eq!(
            restore_body(br#"{"snapshot":"s-1","apply":true}"#),
            Ok(RestoreBody {
                snapshot: Some("s-1".into()),
                apply: true
            })
        );
        assert_eq!(field_of(restore_body(br#"{"apply":"true"}"#)), "apply");
        assert_eq!(
            field_of(restore_body(br#"{"snapshots":"s-1"}"#)),
            "snapshots"
        );
    }
}
