//! Operator commands end to end: `opsctl deploy pause|resume|abort|retry` (the CLI's library,
//! with its own argument parsing) stores a command in the record, and deploy-hook's next
//! invocation honours it — a pause holds the bake, a resume goes on, an abort puts traffic back
//! and fails the job with who and why, a retry lets the rolled-back release deploy again.

use std::process::ExitCode;
use std::time::Duration;

use ops_adapters::clients::ClientSettings;
use ops_domain::deployment::DeploymentStatus;
use ops_tests::emulator::Emulator;
use ops_tests::faults::{chaos_seeds, FaultPlan, FaultProxy};

use crate::deploy_hook::{params, DeployWorld};
use ops_tests::pipeline::job_event;

/// Runs `opsctl ARGS --yes` against the world's state bucket; returns its exit code and output.
async fn opsctl(world: &DeployWorld, args: &[&str]) -> (ExitCode, String) {
    let mut env = ops_cli::Env::new(world.sdk.clone());
    env.state_bucket = Some(world.prefix.clone());
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.push("--yes".into());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = ops_cli::run(&args, &env, &mut out, &mut err).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
    (code, text)
}

#[tokio::test]
async fn pause_resume_abort_and_retry_from_opsctl() {
    let world = DeployWorld::new().await;
    let p = params("web", "registry.example/web:1.5.0");
    let mut token = world.drive_to_first_bake(&p).await;
    assert_eq!(world.web_weights().await["green"], 10);

    let (code, text) = opsctl(&world, &["deploy", "pause", "web", "--reason", "checking"]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    // Held past the 2 s bake: the job keeps continuing, the weights stay at 10 %.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let job = ops_tests::unique("job");
        let response = world
            .invoke(job_event(&job, &p, None, token.as_deref()))
            .await
            .expect("reported");
        assert_eq!(response.result, "continue", "{}", response.summary);
        assert!(
            response.summary.contains("paused by"),
            "{}",
            response.summary
        );
        token = world.token_after(&job);
    }
    assert_eq!(world.web_weights().await["green"], 10);
    // Pausing twice is refused and writes nothing.
    let (code, text) = opsctl(&world, &["deploy", "pause", "web"]).await;
    assert_ne!(code, ExitCode::SUCCESS, "{text}");
    assert!(text.contains("already paused"), "{text}");

    let (code, text) = opsctl(&world, &["deploy", "resume", "web"]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    let job = ops_tests::unique("job");
    let response = world
        .invoke(job_event(&job, &p, None, token.as_deref()))
        .await
        .expect("reported");
    assert!(
        !response.summary.contains("paused by"),
        "{}",
        response.summary
    );
    token = world.token_after(&job);

    let (code, text) = opsctl(
        &world,
        &["deploy", "abort", "web", "--reason", "bad canary"],
    )
    .await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    let drive = world.drive_from(&p, token).await;
    let last = drive.last();
    assert_eq!(
        last.failure_type.as_deref(),
        Some("JobFailed"),
        "{}",
        last.summary
    );
    assert!(
        last.summary.contains("aborted by") && last.summary.contains("bad canary"),
        "{}",
        last.summary
    );
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    assert!(record.rollback.as_ref().is_some_and(|m| m.by.is_some()));
    assert!(record.commands.is_empty());
    let audits = world.keys_under("audit/").await;
    // One audit record per accepted command (the refused second pause wrote none).
    let by_opsctl = audits.iter().filter(|key| key.contains("/opsctl/")).count();
    assert_eq!(by_opsctl, 3, "{audits:?}");

    // The aborted release is refused on a stage retry until an operator retries it.
    let (_, refused) = world.stage_retry(&p).await;
    assert_eq!(
        refused.failure_type.as_deref(),
        Some("JobFailed"),
        "{}",
        refused.summary
    );
    let (code, text) = opsctl(&world, &["deploy", "retry", "web"]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    let (_, retried) = world.stage_retry(&p).await;
    assert_eq!(retried.result, "continue", "{}", retried.summary);
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::InProgress);
}

/// An operator's command under AWS faults (throttling and 5xx on S3 and STS, answers lost after
/// the write happened), retried by the operator until it reports success or that it is already
/// in place: the record holds the command once, and its audit record is stored exactly once —
/// by `opsctl`, or, when that failed, by deploy-hook's next invocation from the record.
#[tokio::test]
async fn a_command_under_faults_is_stored_and_audited_once() {
    let mut injected = 0;
    for seed in chaos_seeds() {
        let world = DeployWorld::new().await;
        let p = params("web", "registry.example/web:1.5.0");
        let token = world.drive_to_first_bake(&p).await;
        let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
        let sdk = ClientSettings::default()
            .configure(aws_config::defaults(aws_config::BehaviorVersion::latest()))
            .endpoint_url(proxy.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .test_credentials()
            .load()
            .await;
        let mut env = ops_cli::Env::new(sdk);
        env.state_bucket = Some(world.prefix.clone());
        proxy.set_plan(
            FaultPlan::errors(seed, 0.3)
                .with_drops(0.15)
                .only(["s3", "sts"]),
        );
        let mut outcome = String::new();
        for _ in 0..10 {
            let args: Vec<String> = ["deploy", "pause", "web", "--yes"]
                .map(String::from)
                .to_vec();
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code = ops_cli::run(&args, &env, &mut out, &mut err).await;
            outcome = format!(
                "{}{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
            if code == ExitCode::SUCCESS || outcome.contains("already paused") {
                break;
            }
        }
        let faults = proxy.summary();
        injected += proxy.stats().errors_total();
        proxy.disable();
        let context = format!("seed {seed}: {outcome}\n{faults}");
        assert!(
            outcome.contains("stored") || outcome.contains("already paused"),
            "{context}"
        );
        let record = world.record("web").await.expect("record");
        let pauses = record
            .commands
            .iter()
            .filter(|c| c.kind == ops_domain::deploy::CommandKind::Pause)
            .count();
        assert_eq!(pauses, 1, "{context}");
        // deploy-hook's next invocation applies the pause and writes whatever audit is owed.
        let job = ops_tests::unique("job");
        let response = world
            .invoke(job_event(&job, &p, None, token.as_deref()))
            .await
            .expect("reported");
        assert!(
            response.summary.contains("paused by"),
            "{context}\n{}",
            response.summary
        );
        let record = world.record("web").await.expect("record");
        assert!(record.audit_owed.is_empty(), "{context}");
        let audits = world.keys_under("audit/").await;
        let by_opsctl = audits.iter().filter(|key| key.contains("/opsctl/")).count();
        assert_eq!(by_opsctl, 1, "{context}\n{audits:?}");
    }
    assert!(injected > 0, "no fault was injected");
}

/// The same command through the REST API (an operator's API key on `/machine/…`) under AWS faults
/// on S3 and Secrets Manager — throttling, 5xx, answers lost after the write happened — retried
/// by the client on every 5xx until it is stored or found in place: one command in the record,
/// one audit record by ops-api.
#[tokio::test]
async fn an_api_command_under_faults_is_stored_and_audited_once() {
    use ops_adapters::s3::{ConfigSource, StateStore};
    use ops_api::keys::{self, KeyDocument};
    use ops_api::library::Library;
    use secrecy::ExposeSecret;

    let mut injected = 0;
    for seed in chaos_seeds() {
        let world = DeployWorld::new().await;
        let p = params("web", "registry.example/web:1.5.0");
        let token = world.drive_to_first_bake(&p).await;
        let key =
            keys::generate("ci-bot", ops_api::Role::Operator, chrono::Utc::now()).expect("key");
        let mut document = KeyDocument::default();
        document.add(key.entry.clone()).expect("add");
        let secret = format!("{}/api-keys", world.prefix);
        world
            .admin
            .secrets
            .create_secret()
            .name(&secret)
            .secret_string(document.to_json())
            .send()
            .await
            .expect("keys secret");
        let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
        let sdk = ClientSettings::default()
            .configure(aws_config::defaults(aws_config::BehaviorVersion::latest()))
            .endpoint_url(proxy.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .test_credentials()
            .load()
            .await;
        let clients = ops_adapters::AwsClients::new(&sdk);
        let library = Library::new(
            clients.clone(),
            StateStore::new(clients.s3.clone(), &world.prefix),
            ConfigSource::new(
                &format!("s3://{}/{}", world.prefix, ops_domain::keys::CONFIG_KEY),
                clients.s3.clone(),
            )
            .expect("config uri"),
            None,
        );
        let deps = ops_api::Deps::new(
            clients.secrets.clone(),
            ops_api::Settings {
                api_keys_secret: Some(secret),
                role_claim: "ops_role".to_owned(),
            },
            library,
        );
        proxy.set_plan(
            FaultPlan::errors(seed, 0.3)
                .with_drops(0.15)
                .only(["s3", "secretsmanager"]),
        );
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "ANY /machine/{proxy+}",
            "rawPath": "/machine/services/web/pause",
            "rawQueryString": "",
            "headers": { "x-api-key": key.key.expose_secret(), "content-type": "application/json" },
            "requestContext": {
                "http": { "method": "POST", "path": "/machine/services/web/pause",
                          "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "ci" },
                "requestId": "r", "routeKey": "ANY /machine/{proxy+}", "stage": "$default",
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example",
                "domainPrefix": "api", "time": "06/Dec/2026:00:00:00 +0000", "timeEpoch": 0
            },
            "body": "{\"reason\":\"a look\"}",
            "isBase64Encoded": false
        });
        let mut outcome = (0, String::new());
        for _ in 0..10 {
            let request = lambda_http::request::from_str(&event.to_string()).expect("event");
            let answer = ops_api::handle(&deps, request).await;
            outcome = (
                answer.status().as_u16(),
                String::from_utf8_lossy(answer.body().as_ref()).into_owned(),
            );
            if outcome.0 == 200 || outcome.1.contains("already paused") {
                break;
            }
        }
        let faults = proxy.summary();
        injected += proxy.stats().errors_total();
        proxy.disable();
        let context = format!("seed {seed}: {outcome:?}\n{faults}");
        assert!(
            outcome.0 == 200 || outcome.1.contains("already paused"),
            "{context}"
        );
        let record = world.record("web").await.expect("record");
        let pauses: Vec<_> = record
            .commands
            .iter()
            .filter(|c| c.kind == ops_domain::deploy::CommandKind::Pause)
            .collect();
        assert_eq!(pauses.len(), 1, "{context}");
        assert_eq!(pauses[0].by, "api-key:ci-bot", "{context}");
        let job = ops_tests::unique("job");
        let response = world
            .invoke(job_event(&job, &p, None, token.as_deref()))
            .await
            .expect("reported");
        assert!(response.summary.contains("paused by"), "{context}");
        let record = world.record("web").await.expect("record");
        assert!(record.audit_owed.is_empty(), "{context}");
        let audits = world.keys_under("audit/").await;
        let by_api = audits
            .iter()
            .filter(|key| key.contains("/ops-api/"))
            .count();
        assert_eq!(by_api, 1, "{context}\n{audits:?}");
    }
    assert!(injected > 0, "no fault was injected");
}
