//! Property tests of the alarm event parser (`event::parse`): arbitrary JSON, mutated sample
//! events of the three shapes (the SNS message's JSON text mutated too) and a one-megabyte
//! string at every position never panic, and every error renders in at most
//! [`MAX_ERROR_BYTES`]; an accepted event has a named alarm; the same change delivered in each
//! shape gets one idempotency key.

#[path = "../../../tests/props/support.rs"]
mod support;

use alarm_rollback::event::{parse, EventError};
use proptest::prelude::*;
use serde_json::Value;
use support::{arb_json, arb_mutated, check_bounded, config, sample, with_megabyte_everywhere};

/// Most bytes an event error renders in (`Display`); `Debug` may escape, so twice that.
const MAX_ERROR_BYTES: usize = 2048;

const SAMPLES: &[&str] = &[
    "alarm-eventbridge.json",
    "alarm-eventbridge-composite.json",
    "alarm-eventbridge-ok.json",
    "alarm-eventbridge-unmapped.json",
    "alarm-eventbridge-billing.json",
    "alarm-sns.json",
    "alarm-action.json",
];

/// Keys of the three shapes, so arbitrary values reach every branch.
const KEYS: &[&str] = &[
    "Records",
    "Sns",
    "Message",
    "EventSource",
    "detail-type",
    "detail",
    "source",
    "resources",
    "alarmData",
    "alarmArn",
    "alarmName",
    "state",
    "previousState",
    "value",
    "reason",
    "timestamp",
    "AlarmName",
    "NewStateValue",
    "OldStateValue",
    "StateChangeTime",
    "NewStateReason",
    "AlarmArn",
];

fn samples() -> Vec<Value> {
    SAMPLES.iter().map(|name| sample(name)).collect()
}

/// The parser's contract on any input.
fn check(event: &Value) -> Result<(), TestCaseError> {
    match parse(event) {
        Ok(transitions) => {
            for transition in &transitions {
                prop_assert!(!transition.alarm_name.trim().is_empty());
                prop_assert_eq!(transition.key().len(), transition.key().trim().len());
            }
        }
        Err(error) => {
            check_bounded("event error", &error.to_string(), MAX_ERROR_BYTES)?;
            check_bounded(
                "event error (Debug)",
                &format!("{error:?}"),
                2 * MAX_ERROR_BYTES,
            )?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_json_never_panics_and_errors_are_bounded(event in arb_json(KEYS)) {
        check(&event)?;
    }

    #[test]
    fn mutated_samples_never_panic_and_errors_are_bounded(event in arb_mutated(samples(), KEYS)) {
        check(&event)?;
    }

    #[test]
    fn arbitrary_sns_message_text_never_panics(message in any::<String>()) {
        let mut event = sample("alarm-sns.json");
        event["Records"][0]["Sns"]["Message"] = Value::String(message);
        check(&event)?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// EventBridge, SNS and the direct alarm action carrying the same change give the same key
    /// (a change delivered twice through two shapes is handled once).
    #[test]
    fn one_change_has_one_key_in_every_shape(
        name in "[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,60}",
        new in prop::sample::select(&["OK", "ALARM", "INSUFFICIENT_DATA"][..]),
        old in prop::sample::select(&["OK", "ALARM", "INSUFFICIENT_DATA"][..]),
    ) {
        let mut bridge = sample("alarm-eventbridge.json");
        bridge["detail"]["alarmName"] = name.clone().into();
        bridge["detail"]["state"]["value"] = new.into();
        bridge["detail"]["previousState"]["value"] = old.into();
        let mut action = sample("alarm-action.json");
        action["alarmData"]["alarmName"] = name.clone().into();
        action["alarmData"]["state"]["value"] = new.into();
        action["alarmData"]["previousState"]["value"] = old.into();
        let mut sns = sample("alarm-sns.json");
        let mut message: Value = serde_json::from_str(
            sns["Records"][0]["Sns"]["Message"].as_str().expect("message text"),
        ).expect("message JSON");
        message["AlarmName"] = name.clone().into();
        message["NewStateValue"] = new.into();
        message["OldStateValue"] = old.into();
        sns["Records"][0]["Sns"]["Message"] = message.to_string().into();

        let keys: Vec<String> = [bridge, action, sns]
            .iter()
            .map(|event| {
                let transitions = parse(event).expect("parses");
                assert_eq!(transitions.len(), 1);
                assert_eq!(transitions[0].alarm_name, name);
                assert_eq!(transitions[0].new_state.as_str(), new);
                assert_eq!(transitions[0].old_state.map(|s| s.as_str()), Some(old));
                transitions[0].key()
            })
            .collect();
        prop_assert_eq!(&keys[0], &keys[1]);
        prop_assert_eq!(&keys[1], &keys[2]);
    }
}

#[test]
fn every_sample_parses() {
    for (name, event) in SAMPLES.iter().zip(samples()) {
        assert!(parse(&event).is_ok(), "{name}");
    }
}

/// A one-megabyte string anywhere in a real event (a field, a key, the SNS message's JSON, the
/// whole event) is quoted only in part: serde's `invalid type: string "…"` used to echo it whole
/// into the error and the ERROR log line.
#[test]
fn a_megabyte_anywhere_gives_a_bounded_error() {
    let mut errors = 0;
    let mut longest = 0;
    // One sample per shape (the other EventBridge samples have the same fields).
    for name in [
        "alarm-eventbridge.json",
        "alarm-sns.json",
        "alarm-action.json",
    ] {
        with_megabyte_everywhere(&sample(name), &["Message"], &mut |input| {
            if let Err(error) = parse(input) {
                let text = error.to_string();
                errors += 1;
                longest = longest.max(text.len());
                assert!(
                    text.len() <= MAX_ERROR_BYTES,
                    "{} bytes: {}…",
                    text.len(),
                    text.chars().take(200).collect::<String>()
                );
            }
        });
    }
    // The long value did reach the parser's error paths (not only ignored fields).
    assert!(errors > 20, "{errors} errors");
    assert!(longest > 300, "longest error {longest} bytes");
    assert!(matches!(
        parse(&Value::String(support::megabyte_string())),
        Err(EventError::Unrecognized)
    ));
}
