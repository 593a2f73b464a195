//! alarm-rollback under faults: the function's AWS clients (with its own retry settings) talk to
//! the emulator through the fault proxy, the alarm event is delivered the way Lambda's
//! asynchronous invocation delivers EventBridge events (the same event and request id retried
//! after an error, bounded) plus one concurrent duplicate delivery, and the final AWS state is
//! read straight from the emulator.
//!
//! The world is seeded with faults off (a canary of `checkout` at 90/10 and a rolling `billing`
//! on its candidate revision, both records IN_PROGRESS, the alarm guarding both); then faults go
//! on at 10 % and 30 % errors, and separately at 5 % forward-then-drop, for every seed of
//! `CHAOS_SEEDS`. Whatever the faults did, in the end: traffic on the stable color, both ECS
//! services on their stable task definitions, both records ROLLED_BACK by this transition,
//! exactly one audit record per service, every channel's notification delivered at least once,
//! webhook repeats carrying one `Idempotency-Key` per service and PagerDuty repeats one
//! `dedup_key`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use alarm_rollback::Deps;
use aws_config::BehaviorVersion;
use ops_adapters::clients::ClientSettings;
use ops_adapters::AwsClients;
use ops_domain::deployment::DeploymentStatus;
use ops_domain::rollback::{self, Outbox};
use ops_tests::faults::{chaos_seeds, deliver_like_async_lambda, FaultPlan, FaultProxy};

use crate::alarm_rollback::{deps_with, invoke_as};
use crate::util::World;

/// Most deliveries of one event (the first and its retries) a test allows.
const MAX_ATTEMPTS: usize = 20;

/// The alarm guards both services, so a rollback moves traffic (checkout) and updates an ECS
/// service (billing).
async fn world() -> World {
    World::with_config(|yaml| {
        yaml.replace(
            "services: [checkout], severity: critical",
            "services: [checkout, billing], severity: critical",
        )
    })
    .await
}

/// The function's dependencies with `settings` (the function's own: `ClientSettings::default()`),
/// every call through `proxy`.
async fn proxied_deps(world: &World, proxy: &FaultProxy, settings: ClientSettings) -> Arc<Deps> {
    let sdk = settings
        .configure(aws_config::defaults(BehaviorVersion::latest()))
        .endpoint_url(proxy.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await;
    let clients = AwsClients::with_settings(&sdk, &settings);
    let secrets = clients.secrets.clone();
    Arc::new(deps_with(world, clients, secrets))
}

/// One chaos run: seeds, turns `plan` on, delivers the event (retried like an asynchronous
/// invocation, plus a concurrent duplicate), turns faults off and checks the final state.
async fn run(label: &str, plan: FaultPlan, settings: ClientSettings) {
    let started = Instant::now();
    let (seed, plan_error_rate, plan_drop_rate) = (plan.seed, plan.error_rate, plan.drop_rate);
    let world = world().await;
    let proxy = FaultProxy::start(&ops_tests::emulator::Emulator::shared().endpoint).await;
    let deps = proxied_deps(&world, &proxy, settings).await;
    let event = world.event("alarm-eventbridge.json");
    let transition = alarm_rollback::event::parse(&event)
        .expect("parses")
        .remove(0);
    let trigger = rollback::Trigger::from(&transition);
    let (original, duplicate) = (ops_tests::unique("req"), ops_tests::unique("dup"));

    proxy.set_plan(plan);
    let deliver = |request_id: String| {
        let (deps, event) = (deps.clone(), event.clone());
        async move {
            deliver_like_async_lambda(MAX_ATTEMPTS, |_| {
                let (deps, event, request_id) = (deps.clone(), event.clone(), request_id.clone());
                async move { invoke_as(&deps, event, &request_id).await }
            })
            .await
        }
    };
    let ((first, attempts), (copy, copy_attempts)) =
        tokio::join!(deliver(original), deliver(duplicate));
    let stats = proxy.stats();
    proxy.disable();

    let outcome =
        |result: &Result<alarm_rollback::Response, alarm_rollback::HandlerError>| match result {
            Ok(response) => serde_json::to_value(response).expect("json")["results"][0]["services"]
                .as_array()
                .map(|services| {
                    services
                        .iter()
                        .map(|s| s["action"].as_str().unwrap_or_default().to_owned())
                        .collect::<Vec<_>>()
                        .join("+")
                })
                .unwrap_or_default(),
            Err(error) => format!("error:{}", error.error_type()),
        };
    let received: Vec<String> = ["slack", "webhook", "pagerduty"]
        .into_iter()
        .map(|channel| {
            format!(
                "{channel}:{}",
                world.receiver.at(&format!("/{channel}")).len()
            )
        })
        .collect();
    let (mode, rate) = match (plan_error_rate > 0.0, plan_drop_rate > 0.0) {
        (true, true) => (
            "errors+drops-thin-retries",
            plan_error_rate + plan_drop_rate,
        ),
        (false, true) => ("drops", plan_drop_rate),
        _ => ("errors", plan_error_rate),
    };
    let word = match (&first, &copy) {
        (Ok(_), Ok(_)) => "rolled_back".to_owned(),
        (Err(error), _) | (_, Err(error)) => format!("error:{}", error.error_type()),
    };
    println!(
        "CHAOS function=alarm-rollback mode={mode} rate={rate:.2} seed={seed} invocations={} faults={} \
         outcome={word} attempts={attempts}+{copy_attempts}(duplicate) actions={}/{} received={} seconds={:.1}",
        attempts + copy_attempts,
        stats.errors_total() + stats.dropped,
        outcome(&first),
        outcome(&copy),
        received.join(","),
        started.elapsed().as_secs_f64()
    );
    println!("  {label} seed {seed}: {}", stats.summary());
    let context = format!("{label} seed {seed}\n{}", proxy.log_text(30));
    assert!(first.is_ok(), "{context}\n{:?}", first.err());
    assert!(copy.is_ok(), "{context}\n{:?}", copy.err());

    // Final state, read straight from the emulator.
    assert_eq!(
        world.checkout_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)],
        "{context}"
    );
    assert_eq!(
        world.task_definition("checkout-blue").await,
        world.seeded["checkout"].stable,
        "{context}"
    );
    assert_eq!(
        world.task_definition("billing").await,
        world.seeded["billing"].stable,
        "{context}"
    );
    for service in ["checkout", "billing"] {
        let record = world.record(service).await;
        assert_eq!(record.status, DeploymentStatus::RolledBack, "{context}");
        assert_eq!(record.candidate, None, "{context}");
        let mark = record.rollback.expect("rollback mark");
        assert_eq!(mark.trigger_id, trigger.id, "{context}");
        assert!(mark.completed_at.is_some(), "{context}");
        let outbox = world
            .store()
            .get::<Outbox>(&rollback::outbox_key(
                alarm_rollback::FUNCTION,
                &trigger.id,
                service,
            ))
            .await
            .expect("read")
            .expect("outbox");
        assert!(outbox.value.settled(), "{context}\n{:?}", outbox.value);
    }
    // Exactly one audit record per service rolled back.
    let audits = world.keys_under("audit/").await;
    assert_eq!(audits.len(), 2, "{context}\n{audits:?}");
    assert!(audits.iter().any(|key| key.ends_with("-checkout.json")));
    assert!(audits.iter().any(|key| key.ends_with("-billing.json")));

    // Every channel got each service's notification at least once; repeats are deduplicable.
    let slack = world.receiver.at("/slack");
    for service in ["checkout", "billing"] {
        assert!(
            slack.iter().any(|m| m.json()["text"]
                .as_str()
                .unwrap_or_default()
                .contains(service)),
            "{context}\nno Slack message for {service}"
        );
    }
    let hooks = world.receiver.at("/webhook");
    let hook_keys: BTreeSet<String> = hooks
        .iter()
        .map(|hook| hook.headers["idempotency-key"].clone())
        .collect();
    let hook_services: BTreeSet<String> = hooks
        .iter()
        .map(|hook| {
            hook.json()["fields"]["Services"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        hook_services,
        BTreeSet::from(["billing".to_owned(), "checkout".to_owned()]),
        "{context}"
    );
    assert_eq!(
        hook_keys.len(),
        2,
        "one Idempotency-Key per service's message, however often sent\n{context}"
    );
    let pages = world.receiver.at("/pagerduty");
    let page_keys: BTreeSet<String> = pages
        .iter()
        .map(|page| {
            page.json()["dedup_key"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(pages.len() >= 2, "{context}");
    assert_eq!(
        page_keys,
        BTreeSet::from(["alarm-rollback/checkout-5xx-rate".to_owned()]),
        "{context}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_alarm_rollback_with_10_percent_errors() {
    for seed in chaos_seeds() {
        run(
            "10% errors",
            FaultPlan::errors(seed, 0.10),
            ClientSettings::default(),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_alarm_rollback_with_30_percent_errors() {
    for seed in chaos_seeds() {
        run(
            "30% errors",
            FaultPlan::errors(seed, 0.30),
            ClientSettings::default(),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_alarm_rollback_with_5_percent_drops() {
    for seed in chaos_seeds() {
        run(
            "5% drops",
            FaultPlan::drops(seed, 0.05),
            ClientSettings::default(),
        )
        .await;
    }
}

/// With the SDK's retries cut to two attempts, faults reach the handler often: claims, outbox
/// writes, completions and deliveries fail or lose their answers mid-way, and only the source's
/// retries of the same event (same request id) carry the rollback to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_alarm_rollback_through_source_retries_with_few_sdk_retries() {
    let settings = ClientSettings {
        max_attempts: 2,
        ..ClientSettings::default()
    };
    for seed in chaos_seeds() {
        run(
            "10% errors + 5% drops, 2 SDK attempts",
            FaultPlan::errors(seed, 0.10).with_drops(0.05),
            settings.clone(),
        )
        .await;
    }
}

/// An S3 503 (or 500) on every config read is S3 being unavailable, not a wrong config: the
/// invocation fails as transient (the source retries), and the retry succeeds once S3 answers.
#[tokio::test]
async fn chaos_config_read_failure_is_transient_not_a_configuration_error() {
    let world = world().await;
    let proxy = FaultProxy::start(&ops_tests::emulator::Emulator::shared().endpoint).await;
    let deps = proxied_deps(&world, &proxy, ClientSettings::default()).await;
    let event = world.event("alarm-eventbridge.json");
    proxy.set_plan(FaultPlan::errors(1, 1.0).only(["s3:GetObject"]));
    let error = invoke_as(&deps, event.clone(), "req-1")
        .await
        .expect_err("S3 unavailable");
    assert!(error.is_transient());
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "ConfigUnavailable");
    assert!(
        diagnostic.error_message.contains("SlowDown")
            || diagnostic.error_message.contains("InternalError"),
        "{}",
        diagnostic.error_message
    );
    assert!(
        !diagnostic.error_message.contains("<Error>"),
        "{}",
        diagnostic.error_message
    );
    assert_eq!(
        world.record("checkout").await.status,
        DeploymentStatus::InProgress
    );
    proxy.disable();
    invoke_as(&deps, event, "req-1").await.expect("S3 is back");
    assert_eq!(
        world.record("checkout").await.status,
        DeploymentStatus::RolledBack
    );
}
