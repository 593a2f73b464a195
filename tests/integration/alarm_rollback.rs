//! alarm-rollback against the emulator: every trigger shape, exactly-once under duplicate and
//! concurrent delivery, no-ops, bad input that changes nothing, resume after a crash, a retry
//! that finds its own claim, owed notifications and audit records delivered by the retry.

use std::sync::Arc;
use std::time::Duration;

use alarm_rollback::{Deps, HandlerError, Response, Settings};
use aws_config::retry::RetryConfig;
use chrono::Utc;
use hmac::Mac;
use lambda_runtime::{Context, LambdaEvent};
use ops_adapters::notify::Notifier;
use ops_adapters::s3::{ConfigSource, StateStore};
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::AwsClients;
use ops_domain::deployment::DeploymentStatus;
use ops_domain::keys;
use ops_domain::rollback::{self, Outbox, Trigger};
use serde_json::Value;

use crate::util::World;

/// Invokes the handler as the Lambda request `request_id` (an asynchronous retry keeps it).
pub(crate) async fn invoke_as(
    deps: &Deps,
    event: Value,
    request_id: &str,
) -> Result<Response, HandlerError> {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    alarm_rollback::handle(deps, LambdaEvent::new(event, context)).await
}

/// The function's dependencies for `world`'s bucket over `clients`, reading notifier secrets
/// through `secrets`.
pub(crate) fn deps_with(
    world: &World,
    clients: AwsClients,
    secrets: aws_sdk_secretsmanager::Client,
) -> Deps {
    Deps {
        store: StateStore::new(clients.s3.clone(), &world.prefix),
        config: ConfigSource::new(
            &format!("s3://{}/{}", world.prefix, keys::CONFIG_KEY),
            clients.s3.clone(),
        )
        .expect("config uri"),
        notifier: Notifier::new(Arc::new(SecretCache::new(secrets, Duration::from_secs(60)))),
        settings: Settings::default(),
        clients,
    }
}

/// `world`'s dependencies, except that every Secrets Manager read fails (nothing listens).
fn deps_with_failing_secrets(world: &World) -> Deps {
    let dead = format!("http://127.0.0.1:{}", ops_tests::emulator::free_port());
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&world.sdk)
            .endpoint_url(dead)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    deps_with(world, world.deps.clients.clone(), secrets)
}

/// The transition key of a sample event.
fn trigger_of(world: &World, file: &str) -> Trigger {
    let transition = alarm_rollback::event::parse(&world.event(file))
        .expect("parses")
        .remove(0);
    Trigger::from(&transition)
}

/// The outbox of `trigger`'s rollback of `service`.
async fn outbox(world: &World, trigger: &Trigger, service: &str) -> Outbox {
    world
        .store()
        .get::<Outbox>(&rollback::outbox_key(
            alarm_rollback::FUNCTION,
            &trigger.id,
            service,
        ))
        .await
        .expect("read")
        .expect("outbox exists")
        .value
}

fn outcome(response: &alarm_rollback::Response) -> Value {
    serde_json::to_value(response).expect("response serializes")
}

/// Asserts the state after `checkout` was rolled back by `alarm`.
async fn assert_checkout_rolled_back(world: &World, alarm: &str) {
    assert_eq!(
        world.checkout_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)]
    );
    let record = world.record("checkout").await;
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    assert_eq!(record.candidate, None);
    let mark = record.rollback.expect("rollback mark");
    assert_eq!(mark.alarm, alarm);
    assert!(mark.reason.contains("Threshold Crossed") || !mark.reason.is_empty());
    assert!(mark.completed_at.is_some());
    // The stable color's service already ran the stable revision: no ECS write needed.
    assert_eq!(
        world.task_definition("checkout-blue").await,
        world.seeded["checkout"].stable
    );
}

#[tokio::test]
async fn eventbridge_alarm_rolls_canary_traffic_back_to_the_stable_color() {
    let world = World::new().await;
    let response = world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect("handled");
    let json = outcome(&response);
    assert_eq!(json["results"][0]["outcome"], "rolled_back");
    assert_eq!(json["results"][0]["services"][0]["action"], "rolled_back");
    assert_eq!(json["results"][0]["services"][0]["ecs_updated"], false);
    assert_checkout_rolled_back(&world, "checkout-5xx-rate").await;
    assert_eq!(world.succeeded("route53:ChangeResourceRecordSets"), 1);
    assert_eq!(world.attempted("ecs:UpdateService"), 0);

    // One audit record, naming who, what and why.
    let audits = world.keys_under("audit/").await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    let audit: ops_domain::audit::AuditRecord = world
        .store()
        .get(&audits[0])
        .await
        .expect("read")
        .expect("exists")
        .value;
    assert_eq!(audit.actor, "alarm:checkout-5xx-rate");
    assert_eq!(audit.target, "service:checkout");
    assert_eq!(audit.before["status"], "IN_PROGRESS");
    assert_eq!(audit.after["status"], "ROLLED_BACK");
}

#[tokio::test]
async fn critical_rollback_notifies_slack_signed_webhook_and_pagerduty() {
    let world = World::new().await;
    world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect("handled");

    let slack = world.receiver.at("/slack");
    assert_eq!(slack.len(), 1);
    let message = slack[0].json();
    assert!(
        message["text"]
            .as_str()
            .unwrap_or_default()
            .contains("rolled back checkout"),
        "{message}"
    );
    assert_eq!(message["blocks"][0]["type"], "header");

    let hooks = world.receiver.at("/webhook");
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    let timestamp = &hook.headers["x-ops-timestamp"];
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(b"test-signing-key").expect("key");
    mac.update(format!("{timestamp}.{}", hook.body).as_bytes());
    assert_eq!(
        hook.headers["x-ops-signature"],
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    assert_eq!(hook.json()["fields"]["Services"], "checkout");

    let pages = world.receiver.at("/pagerduty");
    assert_eq!(pages.len(), 1);
    let page = pages[0].json();
    assert_eq!(page["event_action"], "trigger");
    assert_eq!(page["routing_key"], "test-routing-key");
    assert_eq!(page["dedup_key"], "alarm-rollback/checkout-5xx-rate");
    assert_eq!(page["payload"]["severity"], "critical");
}

#[tokio::test]
async fn sns_alarm_notification_with_null_description_rolls_back() {
    let world = World::new().await;
    let response = world
        .invoke(world.event("alarm-sns.json"))
        .await
        .expect("handled");
    assert_eq!(outcome(&response)["results"][0]["outcome"], "rolled_back");
    assert_checkout_rolled_back(&world, "checkout-5xx-rate").await;
}

#[tokio::test]
async fn direct_alarm_action_rolls_back() {
    let world = World::new().await;
    let response = world
        .invoke(world.event("alarm-action.json"))
        .await
        .expect("handled");
    assert_eq!(outcome(&response)["results"][0]["outcome"], "rolled_back");
    assert_checkout_rolled_back(&world, "checkout-5xx-rate").await;
}

#[tokio::test]
async fn composite_alarm_matching_a_glob_rolls_back_with_its_severity() {
    let world = World::new().await;
    let response = world
        .invoke(world.event("alarm-eventbridge-composite.json"))
        .await
        .expect("handled");
    assert_eq!(outcome(&response)["results"][0]["outcome"], "rolled_back");
    assert_eq!(
        world.checkout_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)]
    );
    // Warning severity routes to Slack and the webhook, not PagerDuty.
    assert_eq!(world.receiver.at("/slack").len(), 1);
    assert_eq!(world.receiver.at("/pagerduty").len(), 0);
}

#[tokio::test]
async fn rolling_service_goes_back_to_its_stable_task_definition() {
    let world = World::new().await;
    assert_eq!(
        world.task_definition("billing").await,
        world.seeded["billing"].candidate
    );
    let response = world
        .invoke(world.event("alarm-eventbridge-billing.json"))
        .await
        .expect("handled");
    let json = outcome(&response);
    assert_eq!(json["results"][0]["services"][0]["ecs_updated"], true);
    assert_eq!(
        world.task_definition("billing").await,
        world.seeded["billing"].stable
    );
    assert_eq!(
        world.record("billing").await.status,
        DeploymentStatus::RolledBack
    );
    assert_eq!(world.succeeded("ecs:UpdateService"), 1);
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 0);
}

#[tokio::test]
async fn same_event_delivered_twice_rolls_back_once() {
    let world = World::new().await;
    world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect("first");
    let writes_after_first = world.succeeded("s3:PutObject");
    let second = world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect("second");
    let json = outcome(&second);
    assert_eq!(json["results"][0]["outcome"], "no_op");
    assert_eq!(
        json["results"][0]["services"][0]["skip"]["reason"],
        "duplicate"
    );
    assert_eq!(
        world.succeeded("s3:PutObject"),
        writes_after_first,
        "no write on the duplicate"
    );
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 1);
    assert_eq!(world.receiver.at("/slack").len(), 1, "notified once");
}

#[tokio::test]
async fn same_transition_via_eventbridge_and_sns_rolls_back_once() {
    let world = World::new().await;
    world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect("eventbridge");
    let second = world
        .invoke(world.event("alarm-sns.json"))
        .await
        .expect("sns");
    assert_eq!(
        outcome(&second)["results"][0]["services"][0]["skip"]["reason"],
        "duplicate"
    );
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_copies_roll_back_exactly_once() {
    let world = World::new().await;
    let event = world.event("alarm-eventbridge.json");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let deps = world.deps.clone();
        let event = event.clone();
        tasks.spawn(async move {
            let mut context = lambda_runtime::Context::default();
            context.request_id = ops_tests::unique("req");
            alarm_rollback::handle(&deps, lambda_runtime::LambdaEvent::new(event, context)).await
        });
    }
    let mut actions = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let response = joined.expect("task").expect("handled");
        actions.push(
            outcome(&response)["results"][0]["services"][0]["action"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(
        actions
            .iter()
            .filter(|action| *action == "rolled_back")
            .count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|action| *action == "skipped").count(),
        49
    );
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 1);
    assert_eq!(world.attempted("ecs:UpdateService"), 0);
    // Claim, outbox, completion, one audit record and one delivery record per channel (three):
    // seven successful writes in all. (Before notifications were owed, it was three: a failed
    // notification was simply lost.)
    assert_eq!(world.succeeded("s3:PutObject"), 7);
    assert_eq!(world.keys_under("audit/").await.len(), 1);
    for path in ["/slack", "/webhook", "/pagerduty"] {
        assert_eq!(world.receiver.at(path).len(), 1, "{path}");
    }
    assert_checkout_rolled_back(&world, "checkout-5xx-rate").await;
}

#[tokio::test]
async fn already_stable_service_is_a_no_op_without_writes() {
    let world = World::new().await;
    world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect("first alarm");
    // Mark the service stable again (as deploy-hook does at the next deployment's end).
    let store = world.store();
    let key = keys::deployment_record("checkout");
    let current = store
        .get::<ops_domain::deployment::DeploymentRecord>(&key)
        .await
        .expect("read")
        .expect("exists");
    let mut stable = current.value.clone();
    stable.status = DeploymentStatus::Stable;
    stable.rollback = None;
    store
        .replace(&key, &stable, &current.etag)
        .await
        .expect("write");
    world.deps.clients.recorder.clear();

    let mut later = world.event("alarm-eventbridge.json");
    later["detail"]["state"]["timestamp"] = "2026-11-23T12:00:00.000+0000".into();
    let response = world.invoke(later).await.expect("handled");
    assert_eq!(
        outcome(&response)["results"][0]["services"][0]["skip"]["reason"],
        "already_stable"
    );
    assert_eq!(world.attempted("s3:PutObject"), 0);
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 0);
}

#[tokio::test]
async fn unmapped_alarm_is_reported_and_changes_nothing() {
    let world = World::new().await;
    let response = world
        .invoke(world.event("alarm-eventbridge-unmapped.json"))
        .await
        .expect("handled");
    assert_eq!(outcome(&response)["results"][0]["outcome"], "unmapped");
    assert_eq!(world.attempted("s3:PutObject"), 0);
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 0);
    assert_eq!(
        world.record("checkout").await.status,
        DeploymentStatus::InProgress
    );
}

#[tokio::test]
async fn ok_transition_resolves_the_incident_once_and_rolls_nothing_back() {
    let world = World::new().await;
    world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect("alarm");
    let ok = world
        .invoke(world.event("alarm-eventbridge-ok.json"))
        .await
        .expect("ok");
    assert_eq!(outcome(&ok)["results"][0]["outcome"], "not_alarm");
    world
        .invoke(world.event("alarm-eventbridge-ok.json"))
        .await
        .expect("ok again");
    let pages = world.receiver.at("/pagerduty");
    let actions: Vec<String> = pages
        .iter()
        .map(|page| {
            page.json()["event_action"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(actions, ["trigger", "resolve"]);
    assert_eq!(
        pages[1].json()["dedup_key"],
        "alarm-rollback/checkout-5xx-rate"
    );
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 1);
}

#[tokio::test]
async fn notify_only_route_notifies_once_without_rollback() {
    let world = World::new().await;
    let mut event = world.event("alarm-eventbridge.json");
    event["detail"]["alarmName"] = "checkout-info".into();
    world.invoke(event.clone()).await.expect("first");
    let response = world.invoke(event).await.expect("second");
    assert_eq!(outcome(&response)["results"][0]["outcome"], "notified");
    assert_eq!(world.receiver.at("/slack").len(), 1);
    assert_eq!(
        world.record("checkout").await.status,
        DeploymentStatus::InProgress
    );
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 0);
}

#[tokio::test]
async fn missing_deployment_record_is_a_clear_error_and_changes_nothing() {
    let world = World::new().await;
    world
        .admin
        .s3
        .delete_object()
        .bucket(&world.prefix)
        .key(keys::deployment_record("checkout"))
        .send()
        .await
        .expect("delete");
    let error = world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect_err("must fail");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "MissingDeploymentRecord");
    assert!(
        diagnostic
            .error_message
            .contains("service checkout has no deployment record"),
        "{}",
        diagnostic.error_message
    );
    assert_eq!(world.attempted("s3:PutObject"), 0);
    assert_eq!(
        world.checkout_weights().await,
        [("blue".to_owned(), 90), ("green".to_owned(), 10)]
    );
}

#[tokio::test]
async fn missing_hosted_zone_is_a_clear_error_and_changes_nothing() {
    let world =
        World::with_config(|yaml| yaml.replace("zone_name: t-", "zone_name: nowhere-t-")).await;
    let error = world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect_err("must fail");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "MissingTrafficRecord");
    assert!(
        diagnostic.error_message.contains("hosted zone nowhere-t-"),
        "{}",
        diagnostic.error_message
    );
    assert_eq!(world.attempted("s3:PutObject"), 0);
    assert_eq!(
        world.record("checkout").await.status,
        DeploymentStatus::InProgress
    );
}

#[tokio::test]
async fn missing_weighted_record_set_is_a_clear_error_and_changes_nothing() {
    let world = World::with_config(|yaml| yaml.replace("green: {", "teal: {")).await;
    // The seeded record names `blue` stable; the config's second target `teal` has no record set.
    let error = world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect_err("must fail");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "MissingTrafficRecord");
    assert!(
        diagnostic.error_message.contains("\"teal\""),
        "{}",
        diagnostic.error_message
    );
    assert_eq!(world.attempted("s3:PutObject"), 0);
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 0);
}

#[tokio::test]
async fn alarm_guarding_two_services_changes_neither_when_one_is_broken() {
    let world = World::with_config(|yaml| {
        yaml.replace(
            "services: [checkout], severity: critical",
            "services: [checkout, billing], severity: critical",
        )
    })
    .await;
    world
        .admin
        .s3
        .delete_object()
        .bucket(&world.prefix)
        .key(keys::deployment_record("billing"))
        .send()
        .await
        .expect("delete");
    let error = world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect_err("must fail");
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "MissingDeploymentRecord"
    );
    assert_eq!(world.attempted("s3:PutObject"), 0);
    assert_eq!(
        world.checkout_weights().await,
        [("blue".to_owned(), 90), ("green".to_owned(), 10)]
    );
}

#[tokio::test]
async fn malformed_event_is_rejected_before_any_aws_call() {
    let world = World::new().await;
    let error = world.invoke(serde_json::json!({"detail-type": "CloudWatch Alarm State Change", "detail": {"alarmName": 3}})).await.expect_err("must fail");
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "InvalidEvent"
    );
    let error = world
        .invoke(serde_json::json!({"hello": "world"}))
        .await
        .expect_err("must fail");
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "InvalidEvent"
    );
    assert!(
        world.deps.clients.recorder.calls().is_empty(),
        "{:?}",
        world.deps.clients.recorder.calls()
    );
}

#[tokio::test]
async fn invalid_config_is_a_configuration_error_before_any_write() {
    let world =
        World::with_config(|yaml| yaml.replace("strategy: canary", "strategy: canry")).await;
    let error = world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect_err("must fail");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "ConfigurationError");
    assert!(
        diagnostic
            .error_message
            .contains("services.checkout.strategy: unknown value \"canry\""),
        "{}",
        diagnostic.error_message
    );
    assert_eq!(world.attempted("s3:PutObject"), 0);
}

#[tokio::test]
async fn rollback_claimed_by_a_crashed_invocation_is_resumed_after_its_lease() {
    let world = World::new().await;
    // Simulate a crash right after the claim: the record says ROLLING_BACK, started long ago,
    // and nothing else changed.
    let store = world.store();
    let key = keys::deployment_record("checkout");
    let current = store
        .get::<ops_domain::deployment::DeploymentRecord>(&key)
        .await
        .expect("read")
        .expect("exists");
    let event = world.event("alarm-eventbridge.json");
    let transition = alarm_rollback::event::parse(&event)
        .expect("parses")
        .remove(0);
    let trigger = Trigger::from(&transition);
    let plan = rollback::plan(&current.value, &world.config.services["checkout"]).expect("plan");
    let claimed = rollback::begin(
        &current.value,
        &trigger,
        &rollback::claimant(&trigger, "crashed-invocation"),
        &plan,
        Utc::now() - chrono::Duration::minutes(10),
    );
    store
        .replace(&key, &claimed, &current.etag)
        .await
        .expect("claim");

    let response = world.invoke(event).await.expect("handled");
    assert_eq!(
        outcome(&response)["results"][0]["services"][0]["action"],
        "resumed"
    );
    assert_checkout_rolled_back(&world, "checkout-5xx-rate").await;
}

#[tokio::test]
async fn failing_notifier_never_blocks_the_rollback_and_stays_owed() {
    let world = World::new().await;
    // Point Slack at a path that answers 500.
    world
        .admin
        .secrets
        .put_secret_value()
        .secret_id(format!("{}/slack", world.prefix))
        .secret_string(format!("{}/fail/slack", world.receiver.url))
        .send()
        .await
        .expect("secret");
    let event = world.event("alarm-eventbridge.json");
    // The rollback happens; the invocation fails so the source retries the undelivered message
    // (before, the message was dropped and the invocation succeeded).
    let error = invoke_as(&world.deps, event.clone(), "req-1")
        .await
        .expect_err("a notification is still owed");
    assert!(error.is_transient());
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "DeliveryPending");
    assert!(
        diagnostic
            .error_message
            .contains("checkout: notification to slack (endpoint answered HTTP 500)"),
        "{}",
        diagnostic.error_message
    );
    assert_checkout_rolled_back(&world, "checkout-5xx-rate").await;
    assert_eq!(world.receiver.at("/fail/slack").len(), 1);
    assert_eq!(
        world.receiver.at("/pagerduty").len(),
        1,
        "the other channels still got it"
    );
    assert_eq!(world.receiver.at("/webhook").len(), 1);

    // The retry sends to the channel still owed only.
    invoke_as(&world.deps, event, "req-1")
        .await
        .expect_err("Slack still fails");
    assert_eq!(world.receiver.at("/fail/slack").len(), 2);
    assert_eq!(world.receiver.at("/pagerduty").len(), 1);
    assert_eq!(world.receiver.at("/webhook").len(), 1);
    assert_eq!(world.keys_under("audit/").await.len(), 1);
}

#[tokio::test]
async fn retry_of_the_same_invocation_completes_its_own_claim_at_once() {
    let world = World::new().await;
    // Invocation req-1 claimed the record and lost the answer (its retry then got an error
    // reading it back): the record says ROLLING_BACK by req-1, traffic is still 90/10.
    let store = world.store();
    let key = keys::deployment_record("checkout");
    let current = store
        .get::<ops_domain::deployment::DeploymentRecord>(&key)
        .await
        .expect("read")
        .expect("exists");
    let trigger = trigger_of(&world, "alarm-eventbridge.json");
    let plan = rollback::plan(&current.value, &world.config.services["checkout"]).expect("plan");
    let claimed = rollback::begin(
        &current.value,
        &trigger,
        &rollback::claimant(&trigger, "req-1"),
        &plan,
        Utc::now(),
    );
    store
        .replace(&key, &claimed, &current.etag)
        .await
        .expect("claim");
    let event = world.event("alarm-eventbridge.json");

    // A copy of the event from another invocation leaves the claim to its holder.
    let copy = invoke_as(&world.deps, event.clone(), "req-2")
        .await
        .expect("handled");
    assert_eq!(
        outcome(&copy)["results"][0]["services"][0]["skip"]["reason"],
        "duplicate"
    );
    assert_eq!(world.attempted("s3:PutObject"), 0);
    assert_eq!(
        world.record("checkout").await.status,
        DeploymentStatus::RollingBack
    );

    // The retry of req-1 (same event, same request id) completes it now, not after the lease.
    let retry = invoke_as(&world.deps, event.clone(), "req-1")
        .await
        .expect("handled");
    assert_eq!(
        outcome(&retry)["results"][0]["services"][0]["action"],
        "resumed"
    );
    assert_checkout_rolled_back(&world, "checkout-5xx-rate").await;
    assert_eq!(
        world.record("checkout").await.rollback_claimant.as_deref(),
        Some(rollback::claimant(&trigger, "req-1").as_str())
    );
    assert_eq!(world.keys_under("audit/").await.len(), 1);
    for path in ["/slack", "/webhook", "/pagerduty"] {
        assert_eq!(world.receiver.at(path).len(), 1, "{path}");
    }

    // Everything after is a duplicate that changes nothing.
    let writes = world.succeeded("s3:PutObject");
    for request_id in ["req-1", "req-2", "req-3"] {
        invoke_as(&world.deps, event.clone(), request_id)
            .await
            .expect("handled");
    }
    assert_eq!(world.succeeded("s3:PutObject"), writes);
    assert_eq!(world.attempted("route53:ChangeResourceRecordSets"), 1);
}

#[tokio::test]
async fn failed_secret_reads_fail_the_invocation_and_its_retry_delivers_exactly_once() {
    let world = World::new().await;
    let broken = deps_with_failing_secrets(&world);
    let event = world.event("alarm-eventbridge.json");
    let trigger = trigger_of(&world, "alarm-eventbridge.json");

    let error = invoke_as(&broken, event.clone(), "req-1")
        .await
        .expect_err("notifications owed");
    assert!(error.is_transient());
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "DeliveryPending");
    for channel in ["slack", "hook", "pager"] {
        assert!(
            diagnostic.error_message.contains(&format!(
                "notification to {channel} (GetSecretValue on secret"
            )),
            "{}",
            diagnostic.error_message
        );
    }
    // The rollback is done and recorded, and so is what it still owes.
    assert_checkout_rolled_back(&world, "checkout-5xx-rate").await;
    assert!(world.receiver.all().is_empty());
    let owed = outbox(&world, &trigger, "checkout").await;
    assert!(owed.audit_written);
    assert_eq!(owed.owed_channels(), ["slack", "hook", "pager"]);

    // A copy of the event from another invocation changes nothing and sends nothing: the owed
    // notifications are the first invocation's to deliver while its lease runs.
    let copy = invoke_as(&world.deps, event.clone(), "req-2")
        .await
        .expect("handled");
    assert_eq!(
        outcome(&copy)["results"][0]["services"][0]["skip"]["reason"],
        "duplicate"
    );
    assert!(world.receiver.all().is_empty());

    // The source's retry of req-1 (secrets readable again) delivers each channel once…
    invoke_as(&world.deps, event.clone(), "req-1")
        .await
        .expect("delivered");
    // …and a further retry or copy sends nothing again.
    invoke_as(&world.deps, event.clone(), "req-1")
        .await
        .expect("handled");
    invoke_as(&world.deps, event, "req-3")
        .await
        .expect("handled");
    for path in ["/slack", "/webhook", "/pagerduty"] {
        assert_eq!(world.receiver.at(path).len(), 1, "{path}");
    }
    assert!(outbox(&world, &trigger, "checkout").await.settled());
    // One audit record through the failure, the copy and the retries.
    assert_eq!(world.keys_under("audit/").await.len(), 1);
    let hook = &world.receiver.at("/webhook")[0];
    let key = &hook.headers["idempotency-key"];
    assert_eq!(key.len(), 32, "{key}");
    assert_eq!(
        world.receiver.at("/pagerduty")[0].json()["dedup_key"],
        "alarm-rollback/checkout-5xx-rate"
    );
}

#[tokio::test]
async fn megabyte_event_is_rejected_with_a_bounded_error_before_any_call() {
    let world = World::new().await;
    let huge = "A".repeat(1 << 20);
    for event in [
        serde_json::json!({"detail-type": huge.clone(), "detail": {}}),
        serde_json::json!({"detail-type": "CloudWatch Alarm State Change", "detail": huge.clone()}),
        serde_json::Value::String(huge.clone()),
    ] {
        let error = invoke_as(&world.deps, event, "req-1")
            .await
            .expect_err("must fail");
        assert!(!error.is_transient());
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "InvalidEvent");
        assert!(
            diagnostic.error_message.len() < 1_000,
            "{} characters",
            diagnostic.error_message.len()
        );
    }
    assert!(world.deps.clients.recorder.calls().is_empty());
}
