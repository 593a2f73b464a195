//! The invocation input: what the EventBridge Scheduler target sends (its input JSON, `{}` by
//! default, optionally naming the day to evaluate for backfills and tests), or an EventBridge
//! "Scheduled Event" from a classic schedule rule.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

/// What to evaluate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The last complete day to evaluate; default: derived from the data.
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// Compute and write the report but send no notification and keep the alert state as is.
    #[serde(default)]
    pub dry_run: bool,
}

/// Reads the input; an EventBridge scheduled event counts as `{}`.
pub fn parse(event: &Value) -> Result<Input, String> {
    if event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
        return Ok(Input::default());
    }
    if event.is_null() {
        return Ok(Input::default());
    }
    serde_json::from_value(event.clone()).map_err(|error| format!("invalid cost-check input: {} (expected {{\"as_of\"?: \"YYYY-MM-DD\", \"dry_run\"?: bool}})", ops_adapters::error::bounded(&error.to_string(), ops_adapters::error::MAX_MESSAGE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_parse_and_unknown_fields_are_rejected() {
        assert_eq!(parse(&serde_json::json!({})), Ok(Input::default()));
        assert_eq!(
            parse(&serde_json::json!({"as_of": "2026-03-05", "dry_run": true})),
            Ok(Input {
                as_of: NaiveDate::from_ymd_opt(2026, 3, 5),
                dry_run: true
            })
        );
        assert_eq!(
            parse(&serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events"})),
            Ok(Input::default())
        );
        assert!(parse(&serde_json::json!({"asof": "2026-03-05"})).is_err());
        assert!(parse(&serde_json::json!({"as_of": "yesterday"})).is_err());
    }
}
