//! Property tests of backup's input parser (`event::parse`: the Scheduler input, restore
//! requests, continuations): arbitrary JSON, mutated sample inputs and a one-megabyte string at
//! every position never panic; every error renders in at most [`MAX_ERROR_BYTES`]; an accepted
//! request obeys the parser's rules and reads back as itself.

#[path = "../../../tests/props/support.rs"]
mod support;

use backup::event::{parse, Action, Request, SnapshotRef};
use proptest::prelude::*;
use serde_json::Value;
use support::{arb_json, arb_mutated, check_bounded, config, sample, with_megabyte_everywhere};

/// Most bytes an input error renders in.
const MAX_ERROR_BYTES: usize = 2048;

const SAMPLES: &[&str] = &[
    "backup-run.json",
    "backup-verify.json",
    "backup-prune.json",
    "backup-restore-dry-run.json",
    "backup-restore-apply.json",
];

const KEYS: &[&str] = &[
    "plan",
    "action",
    "snapshot",
    "apply",
    "targets",
    "s3_to",
    "bucket",
    "prefix",
    "zone_to",
    "update_services",
    "include_apex_soa_ns",
    "keep_extra",
    "deep_sample_percent",
    "drill",
    "continue_run",
];

fn samples() -> Vec<Value> {
    SAMPLES.iter().map(|name| sample(name)).collect()
}

fn check(input: &Value) -> Result<(), TestCaseError> {
    match parse(input) {
        Ok(request) => check_accepted(&request)?,
        Err(error) => check_bounded("input error", &error, MAX_ERROR_BYTES)?,
    }
    Ok(())
}

/// What an accepted request guarantees the handler.
fn check_accepted(request: &Request) -> Result<(), TestCaseError> {
    prop_assert!(!request.plan.trim().is_empty());
    prop_assert!(request.snapshot_ref().is_ok());
    if let Some(percent) = request.deep_sample_percent {
        prop_assert!((0.0..=100.0).contains(&percent));
    }
    if request.action != Action::Restore {
        prop_assert!(!request.apply && request.s3_to.is_none() && request.zone_to.is_none());
    }
    // The function sends itself requests (continuations): what it accepted it can send.
    let again = serde_json::to_value(request).expect("a request serializes");
    let reread = parse(&again);
    prop_assert_eq!(reread.as_ref(), Ok(request));
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

    #[test]
    fn arbitrary_snapshot_names_never_panic(snapshot in any::<String>()) {
        let mut input = sample("backup-restore-dry-run.json");
        input["snapshot"] = Value::String(snapshot.clone());
        match parse(&input) {
            Ok(request) => {
                let named = request.snapshot_ref().expect("checked by parse");
                prop_assert_eq!(named == SnapshotRef::Latest, snapshot == "latest");
            }
            Err(error) => check_bounded("input error", &error, MAX_ERROR_BYTES)?,
        }
    }
}

#[test]
fn every_sample_parses() {
    for (name, input) in SAMPLES.iter().zip(samples()) {
        assert!(parse(&input).is_ok(), "{name}");
    }
}

/// A one-megabyte string anywhere in a real input (a field, a key, the whole input) is quoted
/// only in part: a bad `snapshot` or an unknown field used to come back whole.
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
    assert!(errors > 20, "{errors} errors");
    assert!(longest > 300, "longest error {longest} bytes");
}
