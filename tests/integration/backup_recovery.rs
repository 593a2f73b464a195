//! The backup function recovering from failures, deterministically: a retry of an invocation
//! whose claim was written (answer lost) carries on; a failure mid-copy checkpoints what was
//! copied and hands the claim over, and the retry copies only the rest; a permanent failure
//! releases the plan and leaves nothing visible; verification fails when a plan has no snapshot
//! or its latest one is older than the schedule allows.

use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use backup::claim::{claim_key, RunClaim};
use backup::event::Action;
use backup::{Deps, HandlerError, Response, Settings};
use chrono::{Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use ops_adapters::s3::StateStore;
use ops_domain::keys;
use ops_tests::emulator::Emulator;
use ops_tests::faults::{FaultPlan, FaultProxy};
use serde_json::{json, Value};

use crate::backup::{keys_under, BackupWorld};

/// Invokes the handler with a given request id (the Scheduler's retries keep it).
pub async fn invoke_as(
    deps: &Deps,
    event: Value,
    request_id: &str,
) -> Result<Response, HandlerError> {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    backup::handle(deps, LambdaEvent::new(event, context)).await
}

/// The function's dependencies with clients built from `sdk`.
pub fn deps_with(
    world: &BackupWorld,
    sdk: &aws_config::SdkConfig,
    settings: Settings,
) -> Arc<Deps> {
    Arc::new(
        Deps::new(
            sdk,
            &world.sources.state_bucket,
            &format!("s3://{}/{}", world.sources.state_bucket, keys::CONFIG_KEY),
            settings,
        )
        .expect("deps"),
    )
}

/// SDK configuration through `endpoint` with `retry`.
pub async fn sdk_through(endpoint: &str, retry: RetryConfig) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .retry_config(retry)
        .load()
        .await
}

/// The plan's run claim as stored, if any.
pub async fn stored_claim(world: &BackupWorld) -> Option<RunClaim> {
    StateStore::new(world.admin.s3.clone(), &world.sources.state_bucket)
        .get::<RunClaim>(&claim_key("nightly"))
        .await
        .expect("read claim")
        .map(|v| v.value)
}

async fn snapshots(world: &BackupWorld) -> Vec<String> {
    world.backup_keys("backups/snapshots/nightly/").await
}

fn backup_event() -> Value {
    json!({"plan": "nightly", "action": "backup"})
}

#[tokio::test]
async fn a_retry_of_the_invocation_whose_claim_answer_was_lost_carries_on() {
    let world = BackupWorld::new(4).await;
    let deps = world.deps(Settings::default());
    // The state an attempt leaves when its claim landed but the answer never came back (and the
    // invocation failed): the claim, naming the invocation, with a live lease.
    let now = Utc::now();
    let lost = RunClaim {
        run: "req-lost-answer".into(),
        holder: "req-lost-answer".into(),
        action: Action::Backup,
        started_at: now,
        lease_until: now + Duration::minutes(20),
        invocations: 1,
        checkpoint: None,
    };
    StateStore::new(world.admin.s3.clone(), &world.sources.state_bucket)
        .create(&claim_key("nightly"), &lost)
        .await
        .expect("seed claim");

    // Another invocation still finds the plan busy.
    let other = invoke_as(&deps, backup_event(), "req-someone-else")
        .await
        .expect("other");
    assert!(
        matches!(&other, Response::Skipped { holder, .. } if holder == "req-lost-answer"),
        "{other:?}"
    );
    // The Scheduler's retry (same event, same request id) recognises its claim and backs up.
    let retried = invoke_as(&deps, backup_event(), "req-lost-answer")
        .await
        .expect("retry");
    let Response::Done { report } = retried else {
        panic!("the retry did not complete: {retried:?}")
    };
    assert_eq!(report["totals"]["objects"], json!(8), "{report}");
    assert_eq!(snapshots(&world).await.len(), 1);
    assert!(stored_claim(&world).await.is_none(), "claim released");
}

#[tokio::test]
async fn a_failure_mid_copy_checkpoints_hands_over_and_the_retry_copies_only_the_rest() {
    let world = BackupWorld::new(16).await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    // No SDK retries: an injected error fails the call, and so the invocation.
    let sdk = sdk_through(proxy.endpoint(), RetryConfig::disabled()).await;
    let failing = deps_with(&world, &sdk, Settings::default());
    proxy.set_plan(FaultPlan::errors(7, 0.5).only(["s3:CopyObject"]));
    let request = "req-mid-copy";
    let error = invoke_as(&failing, backup_event(), request)
        .await
        .expect_err("copies fail");
    proxy.disable();
    assert!(error.is_transient(), "{error}");
    assert_eq!(error.error_type(), "BackupBucketError", "{error}");
    let copied = failing.clients.recorder.succeeded("s3:CopyObject");
    assert!((1..16).contains(&copied), "{copied} of 16 copies made");
    // Nothing is visible yet; what was copied is checkpointed, and the claim is handed over.
    assert!(snapshots(&world).await.is_empty());
    let claim = stored_claim(&world).await.expect("claim kept");
    let checkpoint = claim.checkpoint.clone().expect("checkpoint");
    assert_eq!(checkpoint.copies_done, copied, "{claim:?}");
    assert_eq!(checkpoint.copies_planned, 16);
    assert!(
        claim.lease_until <= Utc::now(),
        "lease handed over: {claim:?}"
    );
    assert_eq!(claim.holder, request);

    // The Scheduler retries with the same event and request id: only the rest is copied.
    let deps = world.deps(Settings::default());
    let retried = invoke_as(&deps, backup_event(), request)
        .await
        .expect("retry");
    let Response::Done { report } = retried else {
        panic!("the retry did not complete: {retried:?}")
    };
    assert_eq!(
        deps.clients.recorder.succeeded("s3:CopyObject"),
        16 - copied,
        "nothing copied twice"
    );
    assert_eq!(report["totals"]["objects"], json!(20), "{report}");
    assert_eq!(snapshots(&world).await.len(), 1);
    assert!(
        world.runs_left().await.is_empty(),
        "claim and checkpoint gone"
    );
    let verify = world
        .run(
            &deps,
            json!({"plan": "nightly", "action": "verify", "drill": false}),
        )
        .await;
    assert_eq!(verify["ok"], json!(true), "{verify}");
}

#[tokio::test]
async fn a_permanent_failure_releases_the_plan_and_quotes_no_response_body() {
    let world = BackupWorld::new(3).await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    let sdk = sdk_through(proxy.endpoint(), RetryConfig::disabled()).await;
    let deps = deps_with(&world, &sdk, Settings::default());
    // Every write into the backup bucket is refused with a 403 whose body echoes the request.
    proxy.echo_auth_error_for(&format!("/{}/backups/data/", world.sources.backup_bucket));
    let error = invoke_as(&deps, backup_event(), "req-denied")
        .await
        .expect_err("denied");
    proxy.disable();
    assert!(!error.is_transient(), "{error}");
    let text = error.to_string();
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    for leak in [
        "x-amz-security-token",
        "AWSAccessKeyId",
        "CanonicalRequest",
        "<Error>",
    ] {
        assert!(!text.contains(leak), "{leak} quoted: {text}");
    }
    assert!(snapshots(&world).await.is_empty(), "nothing visible");
    assert!(world.backup_keys("backups/latest/").await.is_empty());
    assert!(world.runs_left().await.is_empty(), "claim released");
    // The next run is not blocked.
    let deps = world.deps(Settings::default());
    let report = world.backup(&deps).await;
    assert_eq!(report["totals"]["objects"], json!(7), "{report}");
}

#[tokio::test]
async fn verify_fails_and_notifies_when_the_plan_has_no_snapshot_or_a_stale_one() {
    let world = BackupWorld::new(2).await;
    let deps = world.deps(Settings::default());
    let verify = json!({"plan": "nightly", "action": "verify", "drill": false});
    let none = world.run(&deps, verify.clone()).await;
    assert_eq!(none["ok"], json!(false), "{none}");
    assert_eq!(none["snapshots_checked"], json!(0));
    assert!(
        none["failures"]
            .to_string()
            .contains("the plan has no snapshot"),
        "{none}"
    );
    assert_eq!(world.receiver.at("/webhook").len(), 1, "notified");

    // A run that started three days ago (its claim says so) and committed only now: the plan's
    // daily schedule allows 49 hours.
    let started = Utc::now() - Duration::days(3);
    let old = RunClaim {
        run: "req-three-days-ago".into(),
        holder: "req-three-days-ago".into(),
        action: Action::Backup,
        started_at: started,
        lease_until: Utc::now() + Duration::minutes(20),
        invocations: 1,
        checkpoint: None,
    };
    StateStore::new(world.admin.s3.clone(), &world.sources.state_bucket)
        .create(&claim_key("nightly"), &old)
        .await
        .expect("seed claim");
    let done = invoke_as(&deps, backup_event(), "req-three-days-ago")
        .await
        .expect("backup");
    assert!(matches!(done, Response::Done { .. }), "{done:?}");
    let stale = world.run(&deps, verify.clone()).await;
    assert_eq!(stale["ok"], json!(false), "{stale}");
    assert_eq!(stale["snapshots_checked"], json!(1));
    let failures = stale["failures"].to_string();
    assert!(
        failures.contains("the latest snapshot is 3d 0h old")
            && failures.contains("allows at most 2d 1h"),
        "{failures}"
    );
    assert_eq!(world.receiver.at("/webhook").len(), 2, "notified again");

    // A fresh backup makes the plan healthy again.
    world.backup(&deps).await;
    let fresh = world.run(&deps, verify).await;
    assert_eq!(fresh["ok"], json!(true), "{fresh}");
    assert_eq!(fresh["snapshots_checked"], json!(2));
    let keys = keys_under(
        &world.admin,
        &world.sources.state_bucket,
        "backup/reports/nightly/verify/",
    )
    .await;
    assert_eq!(keys.len(), 3, "one report per verification");
}
