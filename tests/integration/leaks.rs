//! Leak tests: secret values that reach a function (a pipeline job's artifact credentials,
//! notifier endpoints and keys) never come out of it — not in a log line, a handler error
//! (`Display` and `Debug`), an invocation response, a CodePipeline job result or an object
//! written to the state bucket.
//!
//! Each test installs its own `tracing` subscriber (the functions log through `tracing`) that
//! captures every line on the test's thread, plants canary values, and first proves that the
//! canaries reached the code path under test (the artifact GET was answered by the fault proxy's
//! `SignatureDoesNotMatch` echo of the credentials, the notifier secrets were read and used), so
//! a test that finds nothing has looked where a leak would be.

use std::io::Write;
use std::sync::{Arc, Mutex};

use deploy_hook::{Deps, Settings};
use lambda_runtime::{Context, LambdaEvent};
use ops_domain::keys;
use ops_tests::emulator::{sdk_config_for, Emulator};
use ops_tests::faults::FaultProxy;
use ops_tests::pipeline::job_event;
use serde_json::json;
use tracing_subscriber::EnvFilter;

use crate::backup::BackupWorld;
use crate::deploy_hook::DeployWorld;
use crate::util::World;

/// The canary parts of the notifier endpoints [`plant_notifier_canaries`] sets.
const NOTIFIER_CANARIES: [&str; 5] = [
    "slack-canary-T0123",
    "hook-canary-ab12cd34",
    "canary-signing-key-77aa88bb",
    "canary-routing-key-99cc00dd",
    "pager-canary-ee11ff22",
];
const SLACK_PATH: &str = "/fail/slack-canary-T0123/B0456/hookpath9z";
const HOOK_PATH: &str = "/fail/hook-canary-ab12cd34";
const PAGER_PATH: &str = "/fail/pager-canary-ee11ff22";

/// Puts canaries in a world's notifier secrets (a Slack webhook URL, a webhook URL and signing
/// key, a PagerDuty routing key); every endpoint is a receiver path that answers 500.
async fn plant_notifier_canaries(world: &World) -> [&'static str; 5] {
    let receiver = &world.receiver.url;
    for (name, value) in [
        ("slack", format!("{receiver}{SLACK_PATH}")),
        (
            "webhook",
            json!({"url": format!("{receiver}{HOOK_PATH}"), "signing_key": NOTIFIER_CANARIES[2]})
                .to_string(),
        ),
        (
            "pagerduty",
            json!({"url": format!("{receiver}{PAGER_PATH}"), "routing_key": NOTIFIER_CANARIES[3]})
                .to_string(),
        ),
    ] {
        world
            .admin
            .secrets
            .put_secret_value()
            .secret_id(format!("{}/{name}", world.prefix))
            .secret_string(value)
            .send()
            .await
            .expect("canary secret");
    }
    NOTIFIER_CANARIES
}

/// The secrets were read and used: every channel was called at its canary endpoint.
fn assert_canary_endpoints_called(world: &World) {
    let paths: Vec<String> = world
        .receiver
        .all()
        .into_iter()
        .map(|received| received.path)
        .collect();
    for expected in [SLACK_PATH, HOOK_PATH, PAGER_PATH] {
        assert!(paths.iter().any(|path| path == expected), "{paths:?}");
    }
}

/// Every log line the test's thread emits, as the functions would write it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Installs the capturing subscriber on this thread (the tests run on tokio's
    /// current-thread runtime, so every task of the handler logs here) until the guard drops.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(
                "info,deploy_hook=trace,alarm_rollback=trace,cost_check=trace,backup=trace,\
                 ops_adapters=trace,ops_domain=trace",
            ))
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fails naming where a canary showed up.
fn assert_clean(place: &str, text: &str, canaries: &[&str]) {
    for canary in canaries {
        assert!(
            !text.contains(canary),
            "{place} carries the canary {canary}:\n{}",
            excerpt(text, canary)
        );
    }
}

fn excerpt(text: &str, canary: &str) -> String {
    let at = text.find(canary).unwrap_or(0);
    let start = (0..=at.saturating_sub(300))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    text[start..].chars().take(800).collect()
}

/// Every object of a bucket, as text.
async fn bucket_objects(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String)> {
    let mut objects = Vec::new();
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list bucket");
    for object in listed.contents() {
        let key = object.key().expect("key").to_owned();
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .expect("get object")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes();
        objects.push((key, String::from_utf8_lossy(&body).into_owned()));
    }
    objects
}

/// deploy-hook reads the image from the input artifact with the job's credentials; S3 answers
/// `SignatureDoesNotMatch` with a body echoing the access key id and the canonical request (the
/// session token in it). Neither the credentials nor the echo reach a log, the error, the
/// response, the job result or the state bucket.
#[tokio::test]
async fn artifact_credentials_never_leak_from_an_echoed_auth_error() {
    let world = DeployWorld::new().await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    let sdk = sdk_config_for(proxy.endpoint()).await;
    let mut deps = Deps::new(
        &sdk,
        &world.prefix,
        &format!("s3://{}/{}", world.prefix, keys::CONFIG_KEY),
        Settings::default(),
    )
    .expect("deps");
    let pipeline_sdk = sdk.to_builder().endpoint_url(&world.pipeline.url).build();
    deps.codepipeline = ops_adapters::codepipeline::client(&pipeline_sdk, &deps.clients.recorder);

    let key_id = "AKIACANARYLEAKTEST01";
    let secret = "canary-secret-access-key-0f9e8d7c6b5a";
    let token = "canary-session-token-1a2b3c4d5e6f";
    let canaries = [key_id, secret, token];
    proxy.echo_auth_error_for(&format!("/{}/artifacts/", world.prefix));
    let job = ops_tests::unique("job");
    let mut event = job_event(
        &job,
        &json!({"service": "api"}),
        Some((&world.prefix, "artifacts/build.zip")),
        None,
    );
    event["CodePipeline.job"]["data"]["artifactCredentials"] =
        json!({"accessKeyId": key_id, "secretAccessKey": secret, "sessionToken": token});

    let logs = Captured::default();
    let result = {
        let _guard = logs.install();
        let mut context = Context::default();
        context.request_id = ops_tests::unique("req");
        deploy_hook::handle(&deps, LambdaEvent::new(event, context)).await
    };

    // The canaries reached the code path: the artifact GET went out with them and S3's echo
    // answered it.
    let stats = proxy.stats();
    assert!(stats.echoed >= 1, "{}", proxy.summary());
    let logged = logs.text();
    assert!(logged.contains("SignatureDoesNotMatch"), "{logged}");

    assert_clean("the logs", &logged, &canaries);
    let shown = match &result {
        Ok(response) => format!("{response:?}\n{}", json!(response)),
        Err(error) => format!("{error}\n{error:?}"),
    };
    assert_clean("the invocation's result", &shown, &canaries);
    let calls = world.pipeline.for_job(&job);
    assert!(!calls.is_empty(), "no job result was put");
    for call in &calls {
        assert!(!call.is_success(), "{:?}", call.body);
        assert_clean("the job result", &call.body.to_string(), &canaries);
    }
    for (key, text) in bucket_objects(&world.admin.s3, &world.prefix).await {
        assert_clean(&format!("s3://{}/{key}", world.prefix), &text, &canaries);
    }
}

/// alarm-rollback notifies every channel of a critical alarm; the endpoints (a Slack webhook
/// URL, a webhook URL and signing key, a PagerDuty routing key) hold canaries and every
/// receiver answers 500. The failures are logged and counted without the endpoints.
#[tokio::test]
async fn notifier_secrets_never_leak_from_failed_notifications() {
    let world = World::new().await;
    let canaries = plant_notifier_canaries(&world).await;
    let logs = Captured::default();
    let result = {
        let _guard = logs.install();
        world.invoke(world.event("alarm-eventbridge.json")).await
    };

    assert_canary_endpoints_called(&world);
    let logged = logs.text();
    assert_eq!(logged.matches("Failed to notify.").count(), 3, "{logged}");

    assert_clean("the logs", &logged, &canaries);
    let shown = match &result {
        Ok(response) => format!("{response:?}\n{}", json!(response)),
        Err(error) => format!("{error}\n{error:?}"),
    };
    assert_clean("the invocation's result", &shown, &canaries);
    for (key, text) in bucket_objects(&world.admin.s3, &world.prefix).await {
        assert_clean(&format!("s3://{}/{key}", world.prefix), &text, &canaries);
    }
}

/// cost-check notifies a budget breach and an anomaly on every channel; the endpoints hold
/// canaries and every receiver answers 500.
#[tokio::test]
async fn notifier_secrets_never_leak_from_cost_check() {
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 3, 20).expect("day");
    let world = World::with_config(|yaml| {
        let prefix = yaml
            .lines()
            .find_map(|line| line.trim().strip_prefix("cluster: "))
            .unwrap_or_default()
            .to_owned();
        format!(
            r#"{yaml}
cost:
  source: {{ kind: focus, bucket: {prefix}-exports, prefix: focus/ }}
  dimensions: [provider, sub_account, service, region]
  lookback_days: 2
  anomalies: {{ by: [service], min_impact: 100, critical_impact: 100 }}
  budgets:
    - name: total
      monthly: 1000
      thresholds:
        - {{ basis: actual, percent: 100 }}
"#
        )
    })
    .await;
    let exports = format!("{}-exports", world.prefix);
    world
        .admin
        .s3
        .create_bucket()
        .bucket(&exports)
        .send()
        .await
        .expect("export bucket");
    let data = ops_costdata::generate::Synthetic {
        start: as_of - chrono::Duration::days(48),
        days: 50,
        services: vec!["AmazonEC2".into(), "AmazonS3".into()],
        accounts: vec!["111111111111".into()],
        regions: vec!["us-east-1".into()],
        teams: vec!["web".into()],
        rows_per_day: 20,
        spikes: vec![ops_costdata::generate::Spike {
            day: as_of,
            service: "AmazonEC2".into(),
            account: None,
            extra: 4000.0,
        }],
    };
    let mut gz = Vec::new();
    data.write_focus_csv_gz(&mut gz).expect("FOCUS file");
    world
        .admin
        .s3
        .put_object()
        .bucket(&exports)
        .key("focus/2026-03/part-0.csv.gz")
        .body(gz.into())
        .send()
        .await
        .expect("export file");
    let canaries = plant_notifier_canaries(&world).await;
    let deps = cost_check::Deps::new(
        &world.sdk,
        &world.prefix,
        &format!("s3://{}/{}", world.prefix, keys::CONFIG_KEY),
    )
    .expect("deps");

    let logs = Captured::default();
    let result = {
        let _guard = logs.install();
        let mut context = Context::default();
        context.request_id = ops_tests::unique("req");
        cost_check::handle(&deps, LambdaEvent::new(json!({"as_of": as_of}), context)).await
    };

    assert_canary_endpoints_called(&world);
    let logged = logs.text();
    assert!(logged.contains("Failed to notify"), "{logged}");

    assert_clean("the logs", &logged, &canaries);
    let shown = match &result {
        Ok(response) => format!("{response:?}\n{}", json!(response)),
        Err(error) => format!("{error}\n{error:?}"),
    };
    assert_clean("the invocation's result", &shown, &canaries);
    for (key, text) in bucket_objects(&world.admin.s3, &world.prefix).await {
        assert_clean(&format!("s3://{}/{key}", world.prefix), &text, &canaries);
    }
}

/// backup seals a secret whose value is a canary before it leaves memory: the value is in no
/// log, response, report, notification or object of either bucket; a restore's diff after the
/// value changed names the change without either value.
#[tokio::test]
async fn a_backed_up_secret_value_never_leaks() {
    let world = BackupWorld::new(1).await;
    let first = "canary-backup-password-5e6f7a8b";
    let second = "canary-backup-password-9c0d1e2f";
    let canaries = [first, second];
    let put = |value: &'static str| {
        world
            .admin
            .secrets
            .put_secret_value()
            .secret_id(&world.sources.secret)
            .secret_string(json!({"user": "app", "password": value}).to_string())
            .send()
    };
    put(first).await.expect("canary secret");
    let deps = world.deps(backup::Settings::default());

    let logs = Captured::default();
    let (backed_up, diff) = {
        let _guard = logs.install();
        let backed_up = world.backup(&deps).await;
        put(second).await.expect("changed secret");
        let diff = world
            .run(
                &deps,
                json!({"plan": "nightly", "action": "restore", "targets": ["secret"]}),
            )
            .await;
        (backed_up, diff)
    };

    // The canary was read and sealed: an envelope is in the backup bucket, and the restore saw
    // the value change.
    let backups = bucket_objects(&world.admin.s3, &world.sources.backup_bucket).await;
    assert!(
        backups.iter().any(|(_, text)| text.contains("AES-256-GCM")),
        "no envelope stored"
    );
    assert!(diff.to_string().contains("secret"), "{diff}");
    let logged = logs.text();
    assert!(!logged.is_empty(), "nothing was logged");

    assert_clean("the logs", &logged, &canaries);
    assert_clean("the backup report", &backed_up.to_string(), &canaries);
    assert_clean("the restore diff", &diff.to_string(), &canaries);
    for received in world.receiver.all() {
        assert_clean("a notification", &received.body, &canaries);
    }
    for (key, text) in backups {
        assert_clean(&format!("the backup bucket's {key}"), &text, &canaries);
    }
    let state = bucket_objects(&world.admin.s3, &world.sources.state_bucket).await;
    for (key, text) in state {
        assert_clean(&format!("the state bucket's {key}"), &text, &canaries);
    }
}
