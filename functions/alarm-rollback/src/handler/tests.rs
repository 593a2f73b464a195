//! The handler's error classification and time budget, without AWS.

use super::*;
use ops_adapters::error::AwsCallError;

#[test]
fn errors_say_whether_a_retry_helps() {
    // The same answers, once as classified and once with the opposite classification, so
    // the error type follows the AwsCallError's transience alone.
    let call = |operation, code, message, status, transient| {
        AwsCallError::answered(operation, code, message, status).with_transient(transient)
    };
    let state = |transient| {
        HandlerError::State(StateError::Aws(
            call(
                "PutObject",
                "SlowDown",
                "Please reduce your request rate.",
                503,
                transient,
            )
            .on("s3://b/k"),
        ))
    };
    let route53 = |transient| {
        HandlerError::Route53(Route53Error::Aws(call(
            "ChangeResourceRecordSets",
            "Throttling",
            "Rate exceeded",
            400,
            transient,
        )))
    };
    let ecs = |transient| {
        HandlerError::Ecs(EcsError::Aws(call(
            "UpdateService",
            "AccessDeniedException",
            "",
            400,
            transient,
        )))
    };
    let config = |transient| {
        HandlerError::Config(ConfigLoadError::Aws(
            call("GetObject", "SlowDown", "", 503, transient).on("config s3://b/config/suite.yaml"),
        ))
    };
    let table = [
        (state(true), "StateStoreUnavailable", true),
        (state(false), "StateStoreError", false),
        (route53(true), "Route53Unavailable", true),
        (route53(false), "Route53Error", false),
        (ecs(true), "EcsUnavailable", true),
        (ecs(false), "EcsError", false),
        (config(true), "ConfigUnavailable", true),
        (config(false), "ConfigurationError", false),
        (
            HandlerError::DeliveryPending {
                owed: vec!["web: notification to slack (HTTP 500)".into()],
            },
            "DeliveryPending",
            true,
        ),
        (
            HandlerError::InvalidEvent(EventError::Unrecognized),
            "InvalidEvent",
            false,
        ),
    ];
    for (error, error_type, transient) in table {
        assert_eq!(
            (error.error_type(), error.is_transient()),
            (error_type, transient),
            "{error}"
        );
    }
    // A message is capped whatever it quotes.
    let long = HandlerError::DeliveryPending {
        owed: vec!["x".repeat(100_000)],
    };
    assert!(Diagnostic::from(long).error_message.len() < MAX_ERROR_MESSAGE + 100);
}

#[test]
fn time_budget_keeps_headroom_but_never_more_than_a_fifth() {
    let now = u64::try_from(Utc::now().timestamp_millis()).expect("positive");
    let long = time_budget(now + 60_000, Duration::from_secs(3)).expect("budget");
    assert!(
        long > Duration::from_secs(55) && long <= Duration::from_secs(57),
        "{long:?}"
    );
    let short = time_budget(now + 3_000, Duration::from_secs(3)).expect("budget");
    assert!(
        short > Duration::from_millis(2_000) && short <= Duration::from_millis(2_400),
        "{short:?}"
    );
    assert_eq!(time_budget(0, Duration::from_secs(3)), None);
    assert_eq!(
        time_budget(now.saturating_sub(1_000), Duration::from_secs(3)),
        None
    );
}
