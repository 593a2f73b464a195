//! cost-check under faults, through the fault-injecting proxy in front of the emulator.
//!
//! Deterministic cases first: a report write failing after the alert book moved (the
//! Scheduler's retry still notifies every transition once), every write's answer lost (each is
//! recognised as landed), a config read answered 503 (transient, not a configuration error),
//! audit records written once under a deterministic id. Then the chaos sweep: the scenario of a
//! FOCUS export with two spikes and a breached budget, run the way EventBridge Scheduler runs
//! it (the same event and Lambda request id again after an error, at most
//! [`SCHEDULER_ATTEMPTS`] attempts, then the next scheduled run) under 10 % and 30 % injected
//! errors and separately 5 % forward-then-drop, per seed of `chaos_seeds()`. Assertions read the
//! final state straight from the emulator and the loopback receiver.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use aws_config::BehaviorVersion;
use cost_check::handler::Response;
use cost_check::{Deps, HandlerError};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use ops_adapters::clients::ClientSettings;
use ops_costdata::generate::Spike;
use ops_domain::audit::AuditRecord;
use ops_tests::emulator::Emulator;
use ops_tests::faults::{
    chaos_rates, chaos_seeds, deliver_like_async_lambda, Action, FaultPlan, FaultProxy,
};
use ops_tests::receiver::Received;
use serde_json::json;

use crate::cost_check::{as_of, ec2_spike, focus_gz, focus_source, synthetic, CostWorld};

/// Attempts the harness gives one scheduled run (AWS's maximum is 185; any bound will do as long
/// as the faults cannot plausibly exhaust it).
const SCHEDULER_ATTEMPTS: usize = 20;

/// The signing key `ops_tests::seed::notifier_secrets` gives webhooks.
const SIGNING_KEY: &[u8] = b"test-signing-key";

/// The alerts the scenario opens: both anomalies and the budget are critical, so each goes to
/// Slack, the webhook and PagerDuty (nine notifications).
fn expected_alerts() -> BTreeSet<String> {
    [
        "budget:total".to_owned(),
        format!("anomaly:service=AmazonEC2|{}", as_of()),
        format!("anomaly:service=AmazonS3|{}", as_of()),
    ]
    .into_iter()
    .collect()
}

/// A world with the scenario's export, config and receiver, seeded with no faults.
async fn scenario() -> CostWorld {
    let cost = CostWorld::new(focus_source, 1000.0).await;
    cost.edit_config(|config| config.replace("critical_impact: 100000", "critical_impact: 1000"))
        .await;
    let s3_spike = Spike {
        day: as_of(),
        service: "AmazonS3".into(),
        account: None,
        extra: 5000.0,
    };
    cost.put(
        "focus/2026-03/part-0.csv.gz",
        focus_gz(&synthetic(vec![ec2_spike(), s3_spike])),
    )
    .await;
    cost
}

/// The function's dependencies with its own client settings, talking to AWS through `proxy`.
async fn deps_through(cost: &CostWorld, proxy: &FaultProxy, settings: &ClientSettings) -> Deps {
    let sdk = settings
        .configure(
            aws_config::defaults(BehaviorVersion::latest())
                .endpoint_url(proxy.endpoint())
                .region(aws_config::Region::new("us-east-1"))
                .test_credentials(),
        )
        .load()
        .await;
    let bucket = &cost.world.prefix;
    Deps::with_settings(
        &sdk,
        settings,
        bucket,
        &format!("s3://{bucket}/config/suite.yaml"),
    )
    .expect("deps")
}

/// Settings for the deterministic cases: two attempts, short backoff.
fn quick() -> ClientSettings {
    ClientSettings {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..ClientSettings::batch()
    }
}

/// One invocation with `request_id`.
async fn invoke(deps: &Deps, request_id: &str) -> Result<Response, HandlerError> {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    cost_check::handle(deps, LambdaEvent::new(json!({"as_of": as_of()}), context)).await
}

/// One scheduled run: the same event and request id again after each error, at most
/// [`SCHEDULER_ATTEMPTS`] attempts. Returns the outcome, the attempts and every error's
/// `(errorType, message)`.
async fn scheduled_run(
    deps: &Deps,
    request_id: &str,
) -> (Result<Response, HandlerError>, usize, Vec<(String, String)>) {
    let errors = Mutex::new(Vec::new());
    let (result, attempts) = deliver_like_async_lambda(SCHEDULER_ATTEMPTS, |_| async {
        let result = invoke(deps, request_id).await;
        if let Err(error) = &result {
            if let Ok(mut all) = errors.lock() {
                all.push((error.error_type().to_owned(), error.to_string()));
            }
        }
        result
    })
    .await;
    (result, attempts, errors.into_inner().unwrap_or_default())
}

/// What the receiver saw, grouped by the channels' deduplication keys.
#[derive(Debug, Default)]
struct Seen {
    /// Webhook requests by `Idempotency-Key`: the alert keys (from `dedup_key`) they carried.
    webhook: BTreeMap<String, Vec<String>>,
    /// PagerDuty events by `(dedup_key, event_action)`: how many.
    pagerduty: BTreeMap<(String, String), usize>,
    /// Slack messages by text: how many.
    slack: BTreeMap<String, usize>,
    /// Every request.
    total: usize,
}

impl Seen {
    fn of(cost: &CostWorld) -> Seen {
        let receiver = &cost.world.receiver;
        let mut seen = Seen {
            total: receiver.all().len(),
            ..Seen::default()
        };
        for hook in receiver.at("/webhook") {
            let key = hook
                .headers
                .get("idempotency-key")
                .cloned()
                .unwrap_or_default();
            assert_signed(&hook, &key);
            let alert = hook.json()["dedup_key"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("cost-check/")
                .to_owned();
            seen.webhook.entry(key).or_default().push(alert);
        }
        for page in receiver.at("/pagerduty") {
            let event = page.json();
            let key = (
                event["dedup_key"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("cost-check/")
                    .to_owned(),
                event["event_action"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
            *seen.pagerduty.entry(key).or_default() += 1;
        }
        for message in receiver.at("/slack") {
            let text = message.json()["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            *seen.slack.entry(text).or_default() += 1;
        }
        seen
    }

    fn webhook_requests(&self) -> usize {
        self.webhook.values().map(Vec::len).sum()
    }

    fn pagerduty_requests(&self) -> usize {
        self.pagerduty.values().sum()
    }

    fn slack_requests(&self) -> usize {
        self.slack.values().sum()
    }

    /// Every transition reached each channel, once after the channel's deduplication.
    fn assert_each_alert_notified(&self, expected: &BTreeSet<String>, context: &str) {
        // Webhook: one idempotency key per transition, every copy of a key about one alert.
        let alerts: BTreeSet<String> = self
            .webhook
            .values()
            .map(|alerts| {
                let distinct: BTreeSet<&String> = alerts.iter().collect();
                assert_eq!(
                    distinct.len(),
                    1,
                    "{context}: one key, one alert: {alerts:?}"
                );
                alerts[0].clone()
            })
            .collect();
        assert_eq!(self.webhook.len(), expected.len(), "{context}: {self:?}");
        assert_eq!(&alerts, expected, "{context}: webhook");
        // PagerDuty: one trigger per alert key.
        let triggers: BTreeSet<String> = self
            .pagerduty
            .keys()
            .map(|(key, action)| {
                assert_eq!(action, "trigger", "{context}");
                key.clone()
            })
            .collect();
        assert_eq!(&triggers, expected, "{context}: pagerduty {self:?}");
        // Slack: every alert at least once.
        assert_eq!(
            self.slack.len(),
            expected.len(),
            "{context}: slack {self:?}"
        );
    }
}

/// The webhook request carries `key` in its signed body, and its signature verifies.
fn assert_signed(hook: &Received, key: &str) {
    assert!(!key.is_empty(), "webhook without an Idempotency-Key");
    assert_eq!(hook.json()["idempotency_key"].as_str(), Some(key));
    let timestamp = hook
        .headers
        .get("x-ops-timestamp")
        .map_or("", String::as_str);
    let signature = ops_adapters::notify::sign(SIGNING_KEY, timestamp, &hook.body);
    assert_eq!(hook.headers.get("x-ops-signature"), Some(&signature));
}

/// The report keys stored for the scenario's day.
async fn report_keys(cost: &CostWorld) -> BTreeSet<String> {
    cost.world
        .keys_under(&format!("reports/cost/{}/", as_of()))
        .await
        .into_iter()
        .collect()
}

/// The reports `runs` write: one JSON and one HTML each.
fn reports_of(runs: &[&str]) -> BTreeSet<String> {
    runs.iter()
        .flat_map(|run| ["json", "html"].map(|ext| format!("reports/cost/{}/{run}.{ext}", as_of())))
        .collect()
}

#[tokio::test]
async fn chaos_cost_report_write_failing_after_the_book_moved_still_notifies_each_transition_once()
{
    let cost = scenario().await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    let deps = deps_through(&cost, &proxy, &quick()).await;
    // The run's first PutObject (the alert book) goes through; the next two (the JSON report and
    // the SDK's retry of it) fail: a seed that decides exactly that.
    let plan = |seed| FaultPlan::errors(seed, 0.9).only(["s3:PutObject"]);
    let seed = (0..100_000)
        .find(|&seed| {
            let plan = plan(seed);
            plan.decide(0).action == Action::Forward
                && (1..=2).all(|n| matches!(plan.decide(n).action, Action::Error { .. }))
        })
        .expect("a seed");
    proxy.set_plan(plan(seed));
    let run = ops_tests::unique("req");
    let error = invoke(&deps, &run)
        .await
        .expect_err("the report write fails");
    assert!(error.is_transient(), "{error}");
    assert_eq!(Diagnostic::from(error).error_type, "StateStoreError");
    assert_eq!(cost.world.receiver.all().len(), 0, "nothing sent yet");
    let book = cost.book().await;
    assert_eq!(
        book.open.keys().cloned().collect::<BTreeSet<_>>(),
        expected_alerts()
    );
    assert_eq!(book.outbox.owed.len(), 3, "owed with the alert move");

    // The Scheduler retries the same event with the same request id.
    proxy.disable();
    let retried = invoke(&deps, &run).await.expect("the retry completes");
    let opened: BTreeSet<String> = retried.alerts.opened.iter().cloned().collect();
    assert_eq!(
        opened,
        expected_alerts(),
        "the retry reports what its run moved"
    );
    let seen = Seen::of(&cost);
    seen.assert_each_alert_notified(&expected_alerts(), "after the retry");
    assert_eq!(
        seen.total, 9,
        "each transition once on each channel: {seen:?}"
    );
    assert!(cost.book().await.outbox.is_empty());
    assert_eq!(report_keys(&cost).await, reports_of(&[&run]));

    // The next scheduled run notifies nothing again.
    let next = ops_tests::unique("req");
    let later = invoke(&deps, &next).await.expect("next run");
    assert!(later.alerts.opened.is_empty(), "{:?}", later.alerts);
    assert_eq!(cost.world.receiver.all().len(), 9);
    assert_eq!(report_keys(&cost).await, reports_of(&[&run, &next]));
}

#[tokio::test]
async fn chaos_cost_every_lost_write_answer_is_recognised_and_notifies_once() {
    let cost = scenario().await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    let deps = deps_through(&cost, &proxy, &quick()).await;
    // Every PutObject lands and its answer is lost (the SDK's retry of it too): the book's
    // create, the reports, the outbox's compare-and-swap.
    proxy.set_plan(FaultPlan::drops(1, 1.0).only(["s3:PutObject"]));
    let run = ops_tests::unique("req");
    let response = invoke(&deps, &run)
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", proxy.log_text(20)));
    assert!(proxy.stats().dropped >= 4, "{}", proxy.summary());
    let opened: BTreeSet<String> = response.alerts.opened.iter().cloned().collect();
    assert_eq!(opened, expected_alerts());
    let seen = Seen::of(&cost);
    seen.assert_each_alert_notified(&expected_alerts(), "lost answers");
    assert_eq!(seen.total, 9, "{seen:?}");
    let book = cost.book().await;
    assert!(book.outbox.is_empty(), "{:?}", book.outbox);
    assert_eq!(book.open.len(), 3);
    assert_eq!(report_keys(&cost).await, reports_of(&[&run]));
}

#[tokio::test]
async fn chaos_cost_config_read_answered_503_is_transient_not_a_configuration_error() {
    let cost = scenario().await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    let deps = deps_through(&cost, &proxy, &quick()).await;
    proxy.set_plan(FaultPlan::errors(1, 1.0).only(["s3:GetObject"]));
    let error = invoke(&deps, &ops_tests::unique("req"))
        .await
        .expect_err("S3 keeps failing");
    assert!(error.is_transient(), "{error}");
    let message = error.to_string();
    assert!(!message.contains('<'), "no response body quoted: {message}");
    assert_eq!(Diagnostic::from(error).error_type, "ConfigUnavailable");
    assert!(cost.world.receiver.all().is_empty());
    assert!(cost.world.keys_under("reports/").await.is_empty());
    assert!(cost.world.keys_under("alerts/").await.is_empty());
}

#[tokio::test]
async fn chaos_cost_audit_record_is_written_once_under_its_id_whatever_happens_to_answers() {
    let cost = scenario().await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    let deps = deps_through(&cost, &proxy, &quick()).await;
    let record = |minute: u32| AuditRecord {
        id: "run-7f3a".into(),
        at: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 20, 23, minute, 0)
            .single()
            .expect("valid time"),
        function: "cost-check".into(),
        action: "notify".into(),
        actor: "schedule:cost-check".into(),
        target: "alerts".into(),
        reason: "test".into(),
        before: json!(null),
        after: json!(null),
        outcome: "succeeded".into(),
        request_id: Some("run-7f3a".into()),
    };
    let day = as_of();
    // An attempt whose write fails: nothing stored, the error says to retry.
    proxy.set_plan(FaultPlan::errors(1, 1.0).only(["s3:PutObject"]));
    let failed = ops_adapters::audit::write_once(&deps.store, &record(1), day)
        .await
        .expect_err("S3 refuses");
    assert!(failed.is_transient(), "{failed}");
    assert!(cost.world.keys_under("audit/").await.is_empty());
    // The retry writes it, though every answer is lost: recognised as its own write.
    proxy.set_plan(FaultPlan::drops(1, 1.0).only(["s3:PutObject"]));
    let written = ops_adapters::audit::write_once(&deps.store, &record(2), day)
        .await
        .expect("written");
    assert!(written);
    // A later attempt of the same action (after midnight, another `at`) writes nothing.
    proxy.disable();
    let mut late = record(3);
    late.at += chrono::Duration::hours(2);
    let again = ops_adapters::audit::write_once(&deps.store, &late, day)
        .await
        .expect("no error");
    assert!(!again, "already stored");
    assert_eq!(
        cost.world.keys_under("audit/").await,
        [ops_adapters::audit::key_for(day, "cost-check", "run-7f3a")]
    );
}

/// One (plan, seed) of the sweep: two scheduled runs under `plan` with the function's clients
/// built from `settings`, then the assertions. Returns the summary (the `CHAOS …` line of
/// `scripts/chaos.sh` — `function` names the case there — and a detail line) and the attempts
/// made beyond one per run (the Scheduler's retries).
async fn sweep_case(
    function: String,
    label: String,
    plan: FaultPlan,
    settings: ClientSettings,
) -> (String, usize) {
    let seed = plan.seed;
    let plan_rates = (plan.error_rate, plan.drop_rate);
    let cost = scenario().await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    let deps = deps_through(&cost, &proxy, &settings).await;
    proxy.set_plan(plan);
    let context = format!("{label} seed {seed}");

    let first_run = ops_tests::unique("req");
    let (first, first_attempts, first_errors) = scheduled_run(&deps, &first_run).await;
    let first = first.unwrap_or_else(|error| {
        panic!(
            "{context}: the first run failed {SCHEDULER_ATTEMPTS} times, last: {error}\n{}",
            proxy.log_text(30)
        )
    });
    let opened: BTreeSet<String> = first.alerts.opened.iter().cloned().collect();
    assert_eq!(opened, expected_alerts(), "{context}");
    let after_first = Seen::of(&cost);
    after_first.assert_each_alert_notified(&expected_alerts(), &context);

    let second_run = ops_tests::unique("req");
    let (second, second_attempts, second_errors) = scheduled_run(&deps, &second_run).await;
    let second = second.unwrap_or_else(|error| {
        panic!(
            "{context}: the second run failed {SCHEDULER_ATTEMPTS} times, last: {error}\n{}",
            proxy.log_text(30)
        )
    });
    assert!(
        second.alerts.opened.is_empty() && second.alerts.escalated.is_empty(),
        "{context}: {:?}",
        second.alerts
    );
    let stats = proxy.stats();
    proxy.disable();

    let seen = Seen::of(&cost);
    seen.assert_each_alert_notified(&expected_alerts(), &context);
    assert_eq!(
        seen.total, after_first.total,
        "{context}: the second run notified again: {seen:?}"
    );
    let book = cost.book().await;
    assert!(book.outbox.is_empty(), "{context}: {:?}", book.outbox);
    assert_eq!(
        book.open.keys().cloned().collect::<BTreeSet<_>>(),
        expected_alerts(),
        "{context}"
    );
    assert_eq!(
        report_keys(&cost).await,
        reports_of(&[&first_run, &second_run]),
        "{context}: one report per completed run"
    );
    let errors: Vec<&(String, String)> = first_errors.iter().chain(&second_errors).collect();
    for (_, message) in &errors {
        assert!(
            !message.contains('<') && message.len() < 1000,
            "{context}: an error quotes a body or a whole input: {message}"
        );
    }
    let kinds: BTreeSet<&str> = errors.iter().map(|(kind, _)| kind.as_str()).collect();
    let expected = expected_alerts().len();
    let slack_duplicates = seen.slack_requests() - seen.slack.len();
    let (mode, rate) = if plan_rates.0 > 0.0 {
        ("errors", plan_rates.0)
    } else {
        ("drops", plan_rates.1)
    };
    // Runs with fewer SDK attempts than deployed are their own rows of the `make chaos` table.
    let mode = if label.contains("SDK") {
        format!("{mode}-thin-retries")
    } else {
        mode.to_owned()
    };
    let line = format!(
        "CHAOS function={function} mode={mode} rate={rate} seed={seed} invocations={} faults={} \
         outcome={}\n  {label}: attempts {first_attempts}+{second_attempts} of {} requests, \
         failed attempts {kinds:?}; webhook {} requests for {expected} transitions ({} keys), \
         pagerduty {} requests ({} dedup keys), slack {} requests ({slack_duplicates} \
         duplicates); outbox empty, reports {}",
        first_attempts + second_attempts,
        stats.errors_total() + stats.dropped,
        if slack_duplicates == 0 {
            "notified-once"
        } else {
            "notified-once-slack-duplicated"
        },
        stats.requests,
        seen.webhook_requests(),
        seen.webhook.len(),
        seen.pagerduty_requests(),
        seen.pagerduty.len(),
        seen.slack_requests(),
        report_keys(&cost).await.len(),
    );
    (line, first_attempts + second_attempts - 2)
}

/// The error rates of the sweep: `CHAOS_RATES` when set, else 10 % and 30 %.
fn error_rates() -> Vec<f64> {
    if std::env::var_os("CHAOS_RATES").is_some() {
        chaos_rates()
    } else {
        vec![0.1, 0.3]
    }
}

#[tokio::test]
async fn chaos_cost_scheduled_runs_under_injected_errors_notify_each_transition_once() {
    let cases = error_rates().into_iter().flat_map(|rate| {
        chaos_seeds().into_iter().map(move |seed| {
            let label = format!("errors {:.0}%", rate * 100.0);
            async move {
                let plan = FaultPlan::errors(seed, rate);
                Box::pin(sweep_case(
                    "cost-check".into(),
                    label,
                    plan,
                    ClientSettings::batch(),
                ))
                .await
            }
        })
    });
    for (line, _) in futures_util::future::join_all(cases).await {
        println!("{line}");
    }
}

#[tokio::test]
async fn chaos_cost_scheduled_runs_under_dropped_answers_notify_each_transition_once() {
    let cases = chaos_seeds().into_iter().map(|seed| async move {
        let plan = FaultPlan::drops(seed, 0.05);
        Box::pin(sweep_case(
            "cost-check".into(),
            "drops 5%".into(),
            plan,
            ClientSettings::batch(),
        ))
        .await
    });
    for (line, _) in futures_util::future::join_all(cases).await {
        println!("{line}");
    }
}

/// Settings that let most faults through to the handler: `attempts` SDK attempts per call.
fn stressed(attempts: u32) -> ClientSettings {
    ClientSettings {
        max_attempts: attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..ClientSettings::batch()
    }
}

/// With the batch settings the SDK's retries absorb nearly every fault; with few SDK attempts
/// the faults fail invocations after the book moved, after the reports, between delivering and
/// recording, and the Scheduler's retries (same event, same request id) must converge to the
/// same end state. Faults hit S3 (state, config, exports), not the notifiers' secrets: a
/// notifier failure never fails a run, it stays owed for the next one.
#[tokio::test]
async fn chaos_cost_with_few_sdk_retries_the_scheduler_retries_converge() {
    let cases = chaos_seeds().into_iter().flat_map(|seed| {
        [
            (
                "errors 10%, 2 SDK attempts",
                FaultPlan::errors(seed, 0.1),
                2,
            ),
            (
                "errors 30%, 3 SDK attempts",
                FaultPlan::errors(seed, 0.3),
                3,
            ),
            ("drops 5%, no SDK retry", FaultPlan::drops(seed, 0.05), 1),
        ]
        .map(|(label, plan, attempts)| {
            Box::pin(sweep_case(
                format!("cost-check/sdk-attempts-{attempts}"),
                label.to_owned(),
                plan.never(["secretsmanager"]),
                stressed(attempts),
            ))
        })
    });
    let mut retries = 0;
    for (line, extra) in futures_util::future::join_all(cases).await {
        println!("{line}");
        retries += extra;
    }
    assert!(
        retries > 0,
        "no run needed the Scheduler's retry: the case tests nothing"
    );
}

/// Several scheduled runs at once (separate containers, separate request ids): one wins each
/// move of the book, the others re-read; a drainer claims what it delivers in the book first, so
/// the others leave it alone. Without faults each transition reaches every channel exactly once
/// (Slack included), and nothing stays owed.
#[tokio::test]
async fn chaos_cost_concurrent_runs_notify_each_transition_once_after_dedupe() {
    let cost = scenario().await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    let mut containers = Vec::new();
    for _ in 0..5 {
        containers.push(deps_through(&cost, &proxy, &quick()).await);
    }
    let runs = containers.iter().map(|deps| {
        Box::pin(async move {
            let run = ops_tests::unique("req");
            let (result, _, _) = scheduled_run(deps, &run).await;
            result.map(|_| run)
        })
    });
    let mut completed = Vec::new();
    for result in futures_util::future::join_all(runs).await {
        completed.push(result.unwrap_or_else(|error| panic!("a concurrent run failed: {error}")));
    }
    let seen = Seen::of(&cost);
    seen.assert_each_alert_notified(&expected_alerts(), "concurrent runs");
    assert_eq!(
        seen.total, 9,
        "claimed deliveries are sent by one drainer: {seen:?}"
    );
    let book = cost.book().await;
    assert!(book.outbox.is_empty(), "{:?}", book.outbox);
    assert_eq!(book.open.len(), 3);
    let runs: Vec<&str> = completed.iter().map(String::as_str).collect();
    assert_eq!(report_keys(&cost).await, reports_of(&runs));
    println!(
        "concurrent cost-check runs: webhook {} requests ({} keys), pagerduty {} ({} keys), slack {} ({} duplicates)",
        seen.webhook_requests(),
        seen.webhook.len(),
        seen.pagerduty_requests(),
        seen.pagerduty.len(),
        seen.slack_requests(),
        seen.slack_requests() - seen.slack.len()
    );
}
