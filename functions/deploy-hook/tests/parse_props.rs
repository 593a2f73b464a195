//! Property tests of deploy-hook's input parsers: the invocation payload (`event::parse`: a
//! CodePipeline job or the decommission action), `UserParameters::parse`, the continuation
//! token, and the artifact files (`image_definitions`, `image_detail`). Arbitrary values,
//! mutated sample events (the `UserParameters` and continuation-token JSON text mutated too)
//! and a one-megabyte string at every position never panic; every error renders in at most
//! [`MAX_ERROR_BYTES`]; a parsed job's `Debug` never shows its artifact credentials.

#[path = "../../../tests/props/support.rs"]
mod support;

use deploy_hook::event::{image_definitions, image_detail, parse, Input, UserParameters};
use ops_domain::deploy::Token;
use proptest::prelude::*;
use serde_json::{json, Value};
use support::{arb_json, arb_mutated, check_bounded, config, sample, with_megabyte_everywhere};

/// Most bytes an event error renders in.
const MAX_ERROR_BYTES: usize = 2048;

const SAMPLES: &[&str] = &[
    "deploy-hook-job.json",
    "deploy-hook-job-image.json",
    "deploy-hook-continue.json",
    "deploy-hook-dry-run.json",
    "deploy-hook-overrides.json",
    "deploy-hook-decommission.json",
];

const KEYS: &[&str] = &[
    "CodePipeline.job",
    "id",
    "accountId",
    "data",
    "actionConfiguration",
    "configuration",
    "UserParameters",
    "inputArtifacts",
    "name",
    "location",
    "s3Location",
    "bucketName",
    "objectKey",
    "artifactCredentials",
    "accessKeyId",
    "secretAccessKey",
    "sessionToken",
    "continuationToken",
    "action",
    "service",
    "image",
    "container",
    "dry_run",
    "overrides",
    "strategy",
    "canary_steps",
    "step_percent",
    "bake_seconds",
    "v",
    "deployment",
    "queued",
    "imageUri",
    "ImageURI",
];

fn samples() -> Vec<Value> {
    SAMPLES.iter().map(|name| sample(name)).collect()
}

/// The `UserParameters` of every sample job, as JSON documents.
fn parameter_samples() -> Vec<Value> {
    samples()
        .iter()
        .filter_map(|event| {
            event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
                ["UserParameters"]
                .as_str()
                .map(|text| serde_json::from_str(text).expect("sample UserParameters are JSON"))
        })
        .collect()
}

fn check_event(event: &Value) -> Result<(), TestCaseError> {
    match parse(event.clone()) {
        Ok(Input::Job(job)) => {
            prop_assert!(!job.id.is_empty());
            let printed = format!("{job:?}");
            prop_assert!(printed.contains("ArtifactAccess(redacted)"), "{}", printed);
            if let Ok(params) = UserParameters::parse(job.user_parameters.as_deref()) {
                prop_assert!(!params.service.trim().is_empty());
            }
        }
        Ok(Input::Decommission | Input::Watch) => {}
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

fn check_parameters(text: &str) -> Result<(), TestCaseError> {
    match UserParameters::parse(Some(text)) {
        Ok(params) => prop_assert!(!params.service.trim().is_empty()),
        Err(error) => check_bounded("UserParameters error", &error, MAX_ERROR_BYTES)?,
    }
    Ok(())
}

fn check_artifact_files(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(error) = image_definitions(bytes) {
        check_bounded("imagedefinitions.json error", &error, MAX_ERROR_BYTES)?;
    }
    if let Err(error) = image_detail(bytes) {
        check_bounded("imageDetail.json error", &error, MAX_ERROR_BYTES)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_payloads_never_panic_and_errors_are_bounded(event in arb_json(KEYS)) {
        check_event(&event)?;
        check_parameters(&event.to_string())?;
        check_artifact_files(event.to_string().as_bytes())?;
    }

    #[test]
    fn mutated_sample_jobs_never_panic_and_errors_are_bounded(
        event in arb_mutated(samples(), KEYS),
    ) {
        check_event(&event)?;
    }

    #[test]
    fn mutated_user_parameters_never_panic(params in arb_mutated(parameter_samples(), KEYS)) {
        check_parameters(&params.to_string())?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_parameters(&text)?;
        check_artifact_files(text.as_bytes())?;
        prop_assert!(Token::decode(&text).is_none_or(|token| token.v == 1));
    }

    #[test]
    fn arbitrary_bytes_as_artifact_files_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        check_artifact_files(&bytes)?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// The artifact credentials are held, and never printed: whatever their values, the parsed
    /// job's `Debug` shows none of them.
    #[test]
    fn parsed_jobs_never_print_their_credentials(
        key in "AKIA[A-Z0-9]{16}",
        secret in "[A-Za-z0-9/+]{40}",
        token in "[A-Za-z0-9/+=]{24,200}",
    ) {
        let mut event = sample("deploy-hook-job.json");
        event["CodePipeline.job"]["data"]["artifactCredentials"] =
            json!({"accessKeyId": key, "secretAccessKey": secret, "sessionToken": token});
        let Ok(Input::Job(job)) = parse(event) else {
            panic!("the sample is a job");
        };
        prop_assert_eq!(&job.access.secret_access_key, &secret);
        let printed = format!("{job:?}");
        prop_assert!(!printed.contains(&key));
        prop_assert!(!printed.contains(&secret));
        prop_assert!(!printed.contains(&token));
    }

    /// A token deploy-hook hands out reads back as itself, and a continued job carrying it is
    /// recognised as ours.
    #[test]
    fn tokens_round_trip(
        service in "[a-z0-9_-]{1,64}",
        deployment in ".{1,80}",
        queued in any::<bool>(),
        chain in proptest::option::of("[a-z0-9-]{1,40}"),
        seq in any::<u32>(),
    ) {
        let ours = Token { v: 1, service, deployment, queued, chain, seq };
        prop_assert_eq!(Token::decode(&ours.encode()), Some(ours.clone()));
        let mut event = sample("deploy-hook-continue.json");
        event["CodePipeline.job"]["data"]["continuationToken"] = ours.encode().into();
        let Ok(Input::Job(job)) = parse(event) else {
            panic!("the sample is a job");
        };
        prop_assert_eq!(job.token, Some(ours));
        prop_assert!(!job.foreign_token);
    }
}

/// A one-megabyte string anywhere in a real job (a field, a key, the `UserParameters` or the
/// continuation token's JSON, the whole payload), in the parameters or in an artifact file is
/// quoted only in part.
#[test]
fn a_megabyte_anywhere_gives_a_bounded_error() {
    let mut errors = 0;
    let mut longest = 0;
    let mut record = |text: String| {
        errors += 1;
        longest = longest.max(text.len());
        assert!(
            text.len() <= MAX_ERROR_BYTES,
            "{} bytes: {}…",
            text.len(),
            text.chars().take(200).collect::<String>()
        );
    };
    // The jobs with every optional part (overrides, a continuation token) and the action.
    for name in [
        "deploy-hook-overrides.json",
        "deploy-hook-continue.json",
        "deploy-hook-decommission.json",
    ] {
        with_megabyte_everywhere(
            &sample(name),
            &["UserParameters", "continuationToken"],
            &mut |input| match parse(input.clone()) {
                Err(error) => record(error.to_string()),
                Ok(Input::Job(job)) => {
                    if let Err(error) = UserParameters::parse(job.user_parameters.as_deref()) {
                        record(error);
                    }
                }
                Ok(Input::Decommission | Input::Watch) => {}
            },
        );
    }
    let long = support::megabyte_string();
    for file in [
        json!(long),
        json!([{"name": long, "imageUri": 1}]),
        json!([{"name": "app", "imageUri": long, "extra": long}]),
        json!({"ImageURI": [long]}),
        json!({long.clone(): "x"}),
    ] {
        let text = file.to_string();
        for error in [
            image_definitions(text.as_bytes()).err(),
            image_detail(text.as_bytes()).err(),
        ]
        .into_iter()
        .flatten()
        {
            record(error);
        }
    }
    assert!(errors > 20, "{errors} errors");
    assert!(longest > 300, "longest error {longest} bytes");
}
