//! Property tests of cost-check's input parser (`event::parse`: the Scheduler input or an
//! EventBridge scheduled event): arbitrary JSON, mutated sample inputs and a one-megabyte string
//! at every position never panic, and every error renders in at most [`MAX_ERROR_BYTES`].

#[path = "../../../tests/props/support.rs"]
mod support;

use cost_check::event::{parse, Input};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::{arb_json, arb_mutated, check_bounded, config, sample, with_megabyte_everywhere};

/// Most bytes an input error renders in.
const MAX_ERROR_BYTES: usize = 2048;

const KEYS: &[&str] = &[
    "as_of",
    "dry_run",
    "detail-type",
    "source",
    "detail",
    "time",
];

fn samples() -> Vec<Value> {
    let mut samples: Vec<Value> = ["cost-check-schedule.json", "cost-check-backfill.json"]
        .iter()
        .map(|name| sample(name))
        .collect();
    samples.push(
        json!({"version": "0", "id": "1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-03-05T06:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {}}),
    );
    samples
}

fn check(input: &Value) -> Result<(), TestCaseError> {
    if let Err(error) = parse(input) {
        check_bounded("input error", &error, MAX_ERROR_BYTES)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_json_never_panics_and_errors_are_bounded(input in arb_json(KEYS)) {
        check(&input)?;
    }

    #[test]
    fn mutated_samples_never_panic_and_errors_are_bounded(input in arb_mutated(samples(), KEYS)) {
        check(&input)?;
    }

    /// Any date in chrono's range reads back as the day named; anything else is an error.
    #[test]
    fn as_of_is_a_day_or_an_error(
        day in any::<String>(),
        (year, month, dom) in (1i32..=9999, 1u32..=12, 1u32..=31),
    ) {
        check(&json!({"as_of": day}))?;
        let text = format!("{year:04}-{month:02}-{dom:02}");
        let parsed = parse(&json!({"as_of": text, "dry_run": true}));
        match chrono::NaiveDate::from_ymd_opt(year, month, dom) {
            Some(date) => prop_assert_eq!(parsed, Ok(Input { as_of: Some(date), dry_run: true })),
            None => prop_assert!(parsed.is_err(), "{} is no day", text),
        }
    }
}

#[test]
fn a_megabyte_anywhere_gives_a_bounded_error() {
    let mut errors = 0;
    let mut longest = 0;
    for input in samples() {
        with_megabyte_everywhere(&input, &[], &mut |input| {
            if let Err(error) = parse(input) {
                errors += 1;
                longest = longest.max(error.len());
                assert!(
                    error.len() <= MAX_ERROR_BYTES,
                    "{} bytes: {}…",
                    error.len(),
                    error.chars().take(200).collect::<String>()
                );
            }
        });
    }
    assert!(errors > 5, "{errors} errors");
    assert!(longest > 300, "longest error {longest} bytes");
}
