//! The fault-injecting proxy in front of the emulator: injected errors parse as the services'
//! own error codes in the SDK, a drop after forwarding leaves the write done and the caller with a
//! connection error, the SDK's retries absorb a moderate error rate, scope and delay apply, and
//! the echo rule reflects the request's credentials.

use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use futures_util::StreamExt as _;
use ops_tests::emulator::{sdk_config_for, Emulator};
use ops_tests::faults::{Delay, FaultPlan, FaultProxy};
use ops_tests::unique;

/// An S3 client for `sdk` with path-style addressing and the given retry configuration.
fn s3(sdk: &SdkConfig, retry: RetryConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .retry_config(retry)
            .build(),
    )
}

/// The emulator, a proxy in front of it, and the SDK configuration pointing at the proxy.
async fn proxied() -> (&'static Emulator, FaultProxy, SdkConfig) {
    let emulator = Emulator::shared();
    let proxy = FaultProxy::start(&emulator.endpoint).await;
    let sdk = sdk_config_for(proxy.endpoint()).await;
    (emulator, proxy, sdk)
}

/// A bucket created straight in the emulator.
async fn bucket(emulator: &Emulator, prefix: &str) -> String {
    let name = unique(prefix);
    s3(&emulator.sdk_config().await, RetryConfig::standard())
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap_or_else(|error| panic!("create bucket {name}: {error:?}"));
    name
}

fn assert_code<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    what: &str,
    result: Result<impl std::fmt::Debug, SdkError<E, R>>,
    allowed: &[&str],
    proxy: &FaultProxy,
) -> String {
    let error = result.expect_err(what);
    let code = error.code().map(str::to_string);
    assert!(
        code.as_deref().is_some_and(|code| allowed.contains(&code)),
        "{what}: code {code:?} not in {allowed:?}: {error:?}\n{}",
        proxy.log_text(5)
    );
    code.unwrap_or_default()
}

#[tokio::test]
async fn faults_s3_errors_parse_as_s3_codes() {
    let (emulator, proxy, sdk) = proxied().await;
    let client = s3(&sdk, RetryConfig::disabled());
    // Seeding through the clean proxy.
    let name = unique("faults-s3");
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket through the clean proxy");
    client
        .put_object()
        .bucket(&name)
        .key("seeded")
        .body(ByteStream::from_static(b"seed"))
        .send()
        .await
        .expect("seed object");

    proxy.set_plan(FaultPlan::errors(11, 1.0));
    let allowed = ["SlowDown", "InternalError"];
    for n in 0..4 {
        let put = client
            .put_object()
            .bucket(&name)
            .key(format!("k{n}"))
            .body(ByteStream::from_static(b"data"))
            .send()
            .await;
        assert_code("PutObject", put, &allowed, &proxy);
        let get = client.get_object().bucket(&name).key("seeded").send().await;
        assert_code("GetObject", get, &allowed, &proxy);
    }
    // A HEAD error has no body: the status says which.
    let head = client
        .head_object()
        .bucket(&name)
        .key("seeded")
        .send()
        .await
        .expect_err("HeadObject");
    let status = head.raw_response().map(|raw| raw.status().as_u16());
    assert!(matches!(status, Some(500 | 503)), "{status:?}");

    let stats = proxy.stats();
    assert_eq!(stats.errors_for("s3"), 9, "{}", stats.summary());
    assert_eq!(stats.forwarded, 2, "{}", stats.summary());
    // Nothing reached the emulator while the faults were on.
    let direct = s3(&emulator.sdk_config().await, RetryConfig::standard());
    let listed = direct
        .list_objects_v2()
        .bucket(&name)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.contents().len(), 1);
}

#[tokio::test]
async fn faults_route53_errors_parse_as_route53_codes() {
    let (_emulator, proxy, sdk) = proxied().await;
    let config = aws_sdk_route53::config::Builder::from(&sdk)
        .retry_config(RetryConfig::disabled())
        .build();
    let client = aws_sdk_route53::Client::from_conf(config);
    client
        .list_hosted_zones()
        .send()
        .await
        .expect("clean proxy");
    proxy.set_plan(FaultPlan::errors(3, 1.0));
    let allowed = ["Throttling", "PriorRequestNotComplete", "InternalFailure"];
    for _ in 0..6 {
        assert_code(
            "ListHostedZones",
            client.list_hosted_zones().send().await,
            &allowed,
            &proxy,
        );
    }
    assert_code(
        "GetChange",
        client.get_change().id("C1").send().await,
        &allowed,
        &proxy,
    );
    assert!(proxy
        .log()
        .iter()
        .any(|entry| entry.operation.as_deref() == Some("GetChange")));
}

#[tokio::test]
async fn faults_aws_json_errors_parse_as_their_codes() {
    let (_emulator, proxy, sdk) = proxied().await;
    let ecs = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    proxy.set_plan(FaultPlan::errors(5, 1.0));
    let allowed = [
        "ThrottlingException",
        "InternalFailure",
        "ServiceUnavailableException",
    ];
    for _ in 0..4 {
        assert_code(
            "ecs ListClusters",
            ecs.list_clusters().send().await,
            &allowed,
            &proxy,
        );
        assert_code(
            "secretsmanager ListSecrets",
            secrets.list_secrets().send().await,
            &allowed,
            &proxy,
        );
        assert_code(
            "kms ListKeys",
            kms.list_keys().send().await,
            &allowed,
            &proxy,
        );
    }
    let stats = proxy.stats();
    assert_eq!(stats.errors_for("ecs"), 4, "{}", stats.summary());
    assert_eq!(stats.errors_for("secretsmanager"), 4, "{}", stats.summary());
    assert_eq!(stats.errors_for("kms"), 4, "{}", stats.summary());
}

#[tokio::test]
async fn faults_query_and_rest_json_errors_parse_as_their_codes() {
    let (_emulator, proxy, sdk) = proxied().await;
    let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let ses = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    proxy.set_plan(FaultPlan::errors(9, 1.0));
    for _ in 0..4 {
        assert_code(
            "cloudwatch DescribeAlarms",
            cloudwatch.describe_alarms().send().await,
            &["Throttling", "InternalFailure"],
            &proxy,
        );
        assert_code(
            "ses GetAccount",
            ses.get_account().send().await,
            &["TooManyRequestsException", "ServiceException"],
            &proxy,
        );
    }
    let stats = proxy.stats();
    assert_eq!(stats.errors_for("monitoring"), 4, "{}", stats.summary());
    assert_eq!(stats.errors_for("ses"), 4, "{}", stats.summary());
}

#[tokio::test]
async fn faults_drop_after_forward_writes_but_the_caller_fails() {
    let (emulator, proxy, sdk) = proxied().await;
    let name = bucket(emulator, "faults-drop").await;
    let client = s3(&sdk, RetryConfig::disabled());
    proxy.set_plan(FaultPlan::drops(1, 1.0));
    let error = client
        .put_object()
        .bucket(&name)
        .key("written")
        .body(ByteStream::from_static(b"payload"))
        .send()
        .await
        .expect_err("the answer is withheld");
    assert!(matches!(error, SdkError::DispatchFailure(_)), "{error:?}");
    assert_eq!(proxy.stats().dropped, 1, "{}", proxy.summary());
    let direct = s3(&emulator.sdk_config().await, RetryConfig::standard());
    let object = direct
        .get_object()
        .bucket(&name)
        .key("written")
        .send()
        .await
        .expect("the write reached the emulator");
    let body = object.body.collect().await.expect("body").into_bytes();
    assert_eq!(&body[..], b"payload");
}

#[tokio::test]
async fn faults_sdk_retries_absorb_a_moderate_error_rate() {
    let (emulator, proxy, sdk) = proxied().await;
    let name = bucket(emulator, "faults-retry").await;
    let client = s3(&sdk, RetryConfig::standard());
    proxy.set_plan(FaultPlan::errors(42, 0.3));
    let results: Vec<bool> = futures_util::stream::iter(0..50)
        .map(|n| {
            let client = client.clone();
            let name = name.clone();
            async move {
                client
                    .put_object()
                    .bucket(name)
                    .key(format!("obj-{n}"))
                    .body(ByteStream::from(format!("body {n}").into_bytes()))
                    .send()
                    .await
                    .is_ok()
            }
        })
        .buffer_unordered(10)
        .collect()
        .await;
    let succeeded = results.iter().filter(|ok| **ok).count();
    let stats = proxy.stats();
    eprintln!("{}", stats.summary());
    assert!(succeeded >= 40, "{succeeded}/50: {}", stats.summary());
    assert!(stats.errors_total() > 0, "{}", stats.summary());
    assert_eq!(stats.forwarded as usize, succeeded, "{}", stats.summary());
    let direct = s3(&emulator.sdk_config().await, RetryConfig::standard());
    let listed = direct
        .list_objects_v2()
        .bucket(&name)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.contents().len(), succeeded);
}

#[tokio::test]
async fn faults_scope_and_delay_apply() {
    let (_emulator, proxy, sdk) = proxied().await;
    let client = s3(&sdk, RetryConfig::disabled());
    let ecs = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    proxy.set_plan(FaultPlan::errors(1, 1.0).only(["s3"]));
    ecs.list_clusters().send().await.expect("ecs out of scope");
    client.list_buckets().send().await.expect_err("s3 in scope");
    proxy.set_plan(FaultPlan::errors(1, 1.0).never(["ecs"]));
    ecs.list_clusters().send().await.expect("ecs excluded");
    client.list_buckets().send().await.expect_err("s3 in scope");

    proxy.set_plan(FaultPlan::default().with_delay(Delay::Fixed(Duration::from_millis(300))));
    let started = Instant::now();
    client.list_buckets().send().await.expect("delayed only");
    assert!(started.elapsed() >= Duration::from_millis(300));
    proxy.disable();
    client.list_buckets().send().await.expect("disabled");
    let stats = proxy.stats();
    assert_eq!(stats.delayed, 1, "{}", stats.summary());
    assert_eq!(stats.errors_for("s3"), 2, "{}", stats.summary());
    assert_eq!(stats.errors_for("ecs"), 0, "{}", stats.summary());
    assert_eq!(stats.forwarded, 4, "{}", stats.summary());
}

#[tokio::test]
async fn faults_echo_rule_reflects_the_session_token() {
    let (emulator, proxy, sdk) = proxied().await;
    let name = bucket(emulator, "faults-echo").await;
    let token = "SESSION-TOKEN-faults-echo-4711";
    let credentials = aws_sdk_s3::config::Credentials::new(
        "AKIDFAULTSECHO",
        "secret-key-faults-echo",
        Some(token.to_string()),
        None,
        "faults-test",
    );
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .credentials_provider(credentials)
            .force_path_style(true)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    proxy.echo_auth_error_for(&format!("/{name}/secret/"));
    let error = client
        .get_object()
        .bucket(&name)
        .key("secret/thing")
        .send()
        .await
        .expect_err("echoed");
    assert_eq!(error.code(), Some("SignatureDoesNotMatch"), "{error:?}");
    let raw = error.raw_response().expect("raw response");
    assert_eq!(raw.status().as_u16(), 403);
    let body = String::from_utf8_lossy(raw.body().bytes().expect("body")).into_owned();
    assert!(body.contains(token), "{body}");
    assert!(
        body.contains("<AWSAccessKeyId>AKIDFAULTSECHO</AWSAccessKeyId>"),
        "{body}"
    );
    assert!(body.contains("<CanonicalRequest>"), "{body}");
    assert!(!body.contains("secret-key-faults-echo"), "{body}");
    // Other paths pass.
    client
        .list_objects_v2()
        .bucket(&name)
        .send()
        .await
        .expect("not echoed");
    assert_eq!(proxy.stats().echoed, 1, "{}", proxy.summary());
}
