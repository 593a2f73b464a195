//! The three shapes an alarm state change arrives in, read into one [`AlarmTransition`].
//!
//! - EventBridge "CloudWatch Alarm State Change" (metric and composite alarms):
//!   `aws_lambda_events`' `EventBridgeEvent` with `CloudWatchAlarmData` as the detail.
//! - A direct alarm action (the function is the alarm's action): `CloudWatchAlarm`.
//! - deploy-hook's post-promotion analysis failure (`detail-type` [`ANALYSIS_FAILED`], invoked
//!   directly by deploy-hook's watch): one service, the failing check and why.
//! - SNS from an alarm action: `SnsEvent`; the message is the alarm notification as JSON text.
//!   The crate's typed `CloudWatchAlarmPayload` requires `AlarmDescription` to be a string, but
//!   real alarms without a description send `null`, so the message is read with a small struct
//!   of our own that takes the fields we use.

use aws_lambda_events::event::cloudwatch_alarms::{
    CloudWatchAlarm, CloudWatchAlarmData, CloudWatchAlarmState, CloudWatchAlarmStateValue,
};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use chrono::{DateTime, Utc};
use ops_adapters::error::{bounded, MAX_MESSAGE};
use ops_domain::deploy::watch::AnalysisFailure;
use ops_domain::rollback::{AlarmState, AlarmTransition, Delivery};
use serde::Deserialize;
use serde_json::Value;

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not one of the three shapes.
    #[error("not an alarm event: expected an EventBridge \"CloudWatch Alarm State Change\", an SNS alarm notification or a direct alarm action")]
    Unrecognized,
    /// One of the shapes, but malformed.
    #[error("malformed {shape} event: {message}")]
    Malformed {
        /// Which shape it looked like.
        shape: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The `detail-type` of deploy-hook's post-promotion analysis failure (its `detail` is an
/// [`AnalysisFailure`]): handled as an alarm `analysis:<check>` into ALARM that names its one
/// service.
pub const ANALYSIS_FAILED: &str = "Deployment Analysis Failed";

/// Longest alarm name CloudWatch allows; a longer one is not an alarm event.
pub const MAX_ALARM_NAME: usize = 255;

/// Quotes from the event (serde's messages quote the offending value) are capped: an event of
/// a megabyte must not come back whole in the error or the log.
fn malformed(shape: &'static str) -> impl Fn(serde_json::Error) -> EventError {
    move |error| EventError::Malformed {
        shape,
        message: bounded(&error.to_string(), MAX_MESSAGE),
    }
}

/// Reads every alarm transition in an event (SNS may batch several records).
pub fn parse(event: &Value) -> Result<Vec<AlarmTransition>, EventError> {
    if event.get("Records").is_some() {
        let sns: SnsEvent = serde_json::from_value(event.clone()).map_err(malformed("SNS"))?;
        return sns
            .records
            .iter()
            .map(|record| {
                let message: SnsAlarmMessage = serde_json::from_str(&record.sns.message)
                    .map_err(malformed("SNS alarm message"))?;
                message.into_transition()
            })
            .collect();
    }
    if event.get("detail-type").is_some() {
        let detail_type = event["detail-type"].as_str().unwrap_or_default();
        if detail_type == ANALYSIS_FAILED {
            let failure: AnalysisFailure = serde_json::from_value(event["detail"].clone())
                .map_err(malformed("analysis failure"))?;
            check_alarm_name(&failure.alarm_name(), "analysis failure")?;
            return Ok(vec![AlarmTransition::from_analysis(&failure)]);
        }
        if detail_type != "CloudWatch Alarm State Change" {
            return Err(EventError::Malformed {
                shape: "EventBridge",
                message: format!(
                    "detail-type \"{}\" is not \"CloudWatch Alarm State Change\"",
                    bounded(detail_type, 100)
                ),
            });
        }
        let bridge: EventBridgeEvent<CloudWatchAlarmData> =
            serde_json::from_value(event.clone()).map_err(malformed("EventBridge"))?;
        let arn = bridge
            .resources
            .as_ref()
            .and_then(|resources| resources.first().cloned());
        return transition(&bridge.detail, arn, Delivery::EventBridge, "EventBridge")
            .map(|t| vec![t]);
    }
    if event.get("alarmData").is_some() {
        let alarm: CloudWatchAlarm =
            serde_json::from_value(event.clone()).map_err(malformed("alarm action"))?;
        return transition(
            &alarm.alarm_data,
            alarm.alarm_arn.clone(),
            Delivery::AlarmAction,
            "alarm action",
        )
        .map(|t| vec![t]);
    }
    Err(EventError::Unrecognized)
}

fn state(value: &CloudWatchAlarmStateValue) -> AlarmState {
    match value {
        CloudWatchAlarmStateValue::Alarm => AlarmState::Alarm,
        CloudWatchAlarmStateValue::InsufficientData => AlarmState::InsufficientData,
        _ => AlarmState::Ok,
    }
}

fn transition(
    data: &CloudWatchAlarmData,
    alarm_arn: Option<String>,
    delivery: Delivery,
    shape: &'static str,
) -> Result<AlarmTransition, EventError> {
    let current: &CloudWatchAlarmState<_> =
        data.state.as_ref().ok_or_else(|| EventError::Malformed {
            shape,
            message: "no state".into(),
        })?;
    check_alarm_name(&data.alarm_name, shape)?;
    Ok(AlarmTransition {
        alarm_name: data.alarm_name.clone(),
        alarm_arn,
        new_state: state(&current.value),
        old_state: data
            .previous_state
            .as_ref()
            .map(|previous| state(&previous.value)),
        reason: current.reason.clone(),
        changed_at: current.timestamp,
        delivery,
        service: None,
    })
}

/// The alarm notification CloudWatch publishes to SNS (fields this function uses).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsAlarmMessage {
    alarm_name: String,
    #[serde(default)]
    new_state_value: String,
    #[serde(default)]
    old_state_value: Option<String>,
    #[serde(default)]
    new_state_reason: Option<String>,
    state_change_time: String,
    #[serde(default)]
    alarm_arn: Option<String>,
}

impl SnsAlarmMessage {
    fn into_transition(self) -> Result<AlarmTransition, EventError> {
        let new_state =
            AlarmState::parse(&self.new_state_value).ok_or_else(|| EventError::Malformed {
                shape: "SNS alarm message",
                message: format!(
                    "unknown NewStateValue \"{}\"",
                    bounded(&self.new_state_value, 100)
                ),
            })?;
        check_alarm_name(&self.alarm_name, "SNS alarm message")?;
        Ok(AlarmTransition {
            alarm_name: self.alarm_name,
            alarm_arn: self.alarm_arn,
            new_state,
            old_state: self.old_state_value.as_deref().and_then(AlarmState::parse),
            reason: self.new_state_reason.unwrap_or_default(),
            changed_at: parse_time(&self.state_change_time).ok_or_else(|| {
                EventError::Malformed {
                    shape: "SNS alarm message",
                    message: format!(
                        "StateChangeTime \"{}\" is not a timestamp",
                        bounded(&self.state_change_time, 100)
                    ),
                }
            })?,
            delivery: Delivery::Sns,
            service: None,
        })
    }
}

fn check_alarm_name(name: &str, shape: &'static str) -> Result<(), EventError> {
    if name.trim().is_empty() {
        return Err(EventError::Malformed {
            shape,
            message: "empty alarm name".into(),
        });
    }
    let length = name.chars().count();
    if length > MAX_ALARM_NAME {
        return Err(EventError::Malformed {
            shape,
            message: format!(
                "alarm name of {length} characters (CloudWatch allows {MAX_ALARM_NAME}): \"{}\"",
                bounded(name, 60)
            ),
        });
    }
    Ok(())
}

/// CloudWatch writes `2026-01-01T12:00:00.123+0000` (no colon in the offset).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
        serde_json::from_str(&text).expect("sample event is JSON")
    }

    /// Parses a sample event and renders each transition as one line.
    fn check(name: &str, expect: &[&str]) {
        let got: Vec<String> = parse(&load(name))
            .expect("parses")
            .iter()
            .map(|t| {
                format!(
                    "{} {:?}->{} {:?} {}",
                    t.alarm_name,
                    t.old_state.map(AlarmState::as_str),
                    t.new_state.as_str(),
                    t.delivery,
                    t.changed_at.to_rfc3339()
                )
            })
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn eventbridge_metric_alarm() {
        check(
            "alarm-eventbridge.json",
            &["checkout-5xx-rate Some(\"OK\")->ALARM EventBridge 2026-11-23T10:15:30.123+00:00"],
        );
    }

    #[test]
    fn eventbridge_composite_alarm() {
        check("alarm-eventbridge-composite.json", &["checkout-latency-composite Some(\"OK\")->ALARM EventBridge 2026-11-23T10:20:00+00:00"]);
    }

    #[test]
    fn sns_notification_with_null_description() {
        check(
            "alarm-sns.json",
            &["checkout-5xx-rate Some(\"OK\")->ALARM Sns 2026-11-23T10:15:30.123+00:00"],
        );
    }

    #[test]
    fn direct_alarm_action() {
        check(
            "alarm-action.json",
            &["checkout-5xx-rate Some(\"OK\")->ALARM AlarmAction 2026-11-23T10:15:30.123+00:00"],
        );
    }

    #[test]
    fn a_post_promotion_analysis_failure_names_its_service() {
        check(
            "alarm-rollback-analysis-failed.json",
            &["analysis:error_rate Some(\"OK\")->ALARM Analysis 2026-11-23T11:02:00+00:00"],
        );
        let transitions = parse(&load("alarm-rollback-analysis-failed.json")).expect("parses");
        assert_eq!(transitions[0].service.as_deref(), Some("checkout"));
        assert!(transitions[0].reason.contains("result < 0.01"));
        // Delivered again, it is the same transition.
        let again = parse(&load("alarm-rollback-analysis-failed.json")).expect("parses");
        assert_eq!(transitions[0].key(), again[0].key());
        assert!(matches!(
            parse(&serde_json::json!({"detail-type": ANALYSIS_FAILED, "detail": {"service": 1}})),
            Err(EventError::Malformed { .. })
        ));
    }

    #[test]
    fn same_transition_has_the_same_key_in_every_shape() {
        let keys: Vec<String> = [
            "alarm-eventbridge.json",
            "alarm-sns.json",
            "alarm-action.json",
        ]
        .iter()
        .map(|name| parse(&load(name)).expect("parses")[0].key())
        .collect();
        assert_eq!(keys[0], keys[1]);
        assert_eq!(keys[1], keys[2]);
    }

    #[test]
    fn unrecognized_and_malformed_events_are_errors() {
        assert!(matches!(
            parse(&serde_json::json!({"hello": 1})),
            Err(EventError::Unrecognized)
        ));
        let wrong = serde_json::json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}});
        assert!(matches!(
            parse(&wrong),
            Err(EventError::Malformed {
                shape: "EventBridge",
                ..
            })
        ));
        let bad_sns = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "not json"}}]});
        assert!(parse(&bad_sns).is_err());
    }

    #[test]
    fn a_megabyte_of_event_is_never_quoted_whole() {
        let huge = "A".repeat(1 << 20);
        let mut named = load("alarm-eventbridge.json");
        named["detail"]["alarmName"] = huge.clone().into();
        let mut sns = load("alarm-sns.json");
        let mut message: Value =
            serde_json::from_str(sns["Records"][0]["Sns"]["Message"].as_str().expect("text"))
                .expect("json");
        message["NewStateValue"] = huge.clone().into();
        sns["Records"][0]["Sns"]["Message"] = message.to_string().into();
        let events = [
            serde_json::json!({"detail-type": huge.clone()}),
            serde_json::json!({"detail-type": "CloudWatch Alarm State Change", "detail": huge.clone()}),
            serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": huge.clone()}}]}),
            serde_json::json!({"alarmData": huge.clone()}),
            named,
            sns,
        ];
        for event in events {
            let error = parse(&event).expect_err("malformed");
            let text = error.to_string();
            assert!(
                text.len() < 1_000,
                "{} characters: {}",
                text.len(),
                &text[..200]
            );
        }
    }
}
