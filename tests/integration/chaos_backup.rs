//! The backup function under faults: every AWS call goes through the fault proxy, which answers
//! a share of the requests with the services' own throttling and 5xx errors, or forwards them
//! and drops the answer. The function is driven the way EventBridge Scheduler drives it — a
//! failed invocation is retried with the same event and the same request id (at most
//! [`MAX_ATTEMPTS`] per run), a continuation is a new invocation — and the final state is read
//! straight from the emulator: one snapshot per completed run, `latest` on the last one, every
//! manifest entry's data object present with its size, a clean verification, no unreferenced
//! data after a prune, no run claim left.
//!
//! Seeds come from `CHAOS_SEEDS` (default `1,2`; `CHAOS_SEEDS=1-8` is the full sweep); the fault
//! plans are 10 % and 30 % errors and, separately, 5 % forward-then-drop. One line per (fault,
//! seed) is printed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use backup::{Deps, Response, Settings};
use ops_adapters::clients::ClientSettings;
use ops_domain::backup::manifest::{self, Manifest};
use ops_tests::backup_seed;
use ops_tests::emulator::Emulator;
use ops_tests::faults::{chaos_seeds, FaultPlan, FaultProxy};
use serde_json::{json, Value};

use crate::backup::{keys_under, text_of, BackupWorld};
use crate::backup_recovery::{deps_with, invoke_as, stored_claim};

/// Attempts the Scheduler makes of one run before the test calls it not converged.
const MAX_ATTEMPTS: usize = 30;

/// Source objects per seed (a few dozen: each seed runs in seconds).
const OBJECTS: usize = 30;

/// Scheduled runs per seed (a full backup, then an incremental one after changes).
const RUNS: usize = 2;

/// Source objects rewritten before each run after the first.
const CHANGED: usize = 5;

/// How one scheduled run went.
#[derive(Debug)]
struct RunOutcome {
    /// Invocations, retries and continuations included.
    invocations: usize,
    /// Failed invocations the Scheduler retried.
    retries: usize,
    /// The report of the completed run.
    report: Option<Value>,
    /// What ended it when it did not complete.
    problem: Option<String>,
}

/// Delivers one scheduled backup the way EventBridge Scheduler and the function's own
/// continuations do: an error is retried with the same event and request id, a continuation is
/// a new invocation with its own request id; `skipped` ends the run (the Scheduler does not
/// retry a success).
async fn scheduled_backup(deps: &Deps, tag: &str) -> RunOutcome {
    let mut event = json!({"plan": "nightly", "action": "backup"});
    let mut request_id = ops_tests::unique(tag);
    let mut attempts = 0;
    let mut outcome = RunOutcome {
        invocations: 0,
        retries: 0,
        report: None,
        problem: None,
    };
    loop {
        outcome.invocations += 1;
        attempts += 1;
        match invoke_as(deps, event.clone(), &request_id).await {
            Ok(Response::Done { report }) => {
                outcome.report = Some(report);
                return outcome;
            }
            Ok(Response::Continued { next, .. }) => {
                event = next;
                request_id = ops_tests::unique(tag);
                attempts = 0;
            }
            Ok(Response::Skipped { holder, .. }) => {
                outcome.problem = Some(format!("skipped: {holder} holds the plan"));
                return outcome;
            }
            Err(error) if attempts < MAX_ATTEMPTS => {
                outcome.retries += 1;
                eprintln!("  attempt {attempts} failed: {error}");
            }
            Err(error) => {
                outcome.problem = Some(format!("gave up after {attempts} attempts: {error}"));
                return outcome;
            }
        }
    }
}

/// Every committed manifest of the destination, read straight from the emulator.
async fn manifests(world: &BackupWorld) -> Vec<Manifest> {
    let mut out = Vec::new();
    for key in world.backup_keys("backups/snapshots/").await {
        let text = text_of(&world.admin, &world.sources.backup_bucket, &key).await;
        out.push(manifest::parse_manifest(text.as_bytes()).expect("manifest parses"));
    }
    out
}

/// Data objects of the destination with their sizes.
async fn data_objects(world: &BackupWorld) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let page = world
            .admin
            .s3
            .list_objects_v2()
            .bucket(&world.sources.backup_bucket)
            .prefix("backups/data/")
            .set_continuation_token(token)
            .send()
            .await
            .expect("list data");
        for object in page.contents() {
            let key = object.key().unwrap_or_default();
            out.insert(
                key.trim_start_matches("backups/").to_owned(),
                object.size().unwrap_or_default().max(0) as u64,
            );
        }
        match page.next_continuation_token() {
            Some(next) => token = Some(next.to_owned()),
            None => return out,
        }
    }
}

/// One seed under one fault plan: seeded without faults, [`RUNS`] scheduled backups under
/// faults (sources changed between them), then the final state checked without faults.
async fn chaos_seed(mode: &str, plan: FaultPlan, client_settings: ClientSettings) {
    let seed = plan.seed;
    let rate = plan.error_rate + plan.drop_rate;
    let label = format!("{mode} {:.0}%", rate * 100.0);
    let world = BackupWorld::new(OBJECTS).await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
    // The function's own client settings (the batch preset), pointed at the proxy.
    let sdk = client_settings
        .configure(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(proxy.endpoint())
                .region(aws_config::Region::new("us-east-1"))
                .test_credentials(),
        )
        .load()
        .await;
    // Small chunks and invocations, so claims, checkpoints and continuations are exercised.
    let deps: Arc<Deps> = deps_with(
        &world,
        &sdk,
        Settings {
            checkpoint_every: 4,
            max_copies_per_invocation: 12,
            ..Settings::default()
        },
    );

    let mut reports = Vec::new();
    let mut invocations = 0;
    let mut retries = 0;
    let mut problems = Vec::new();
    for run in 0..RUNS {
        if run > 0 {
            // Faults off while the test changes the sources.
            proxy.disable();
            backup_seed::put_objects(
                &world.admin,
                &world.sources.source_bucket,
                0..CHANGED,
                run as u32 + 1,
            )
            .await
            .expect("change sources");
        }
        proxy.set_plan(FaultPlan {
            seed: seed * 100 + run as u64,
            ..plan.clone()
        });
        let outcome = scheduled_backup(&deps, &format!("chaos-{mode}-{seed}-{run}")).await;
        invocations += outcome.invocations;
        retries += outcome.retries;
        match (outcome.report, outcome.problem) {
            (Some(report), _) => reports.push(report),
            (None, problem) => problems.push(format!("run {run}: {}", problem.unwrap_or_default())),
        }
    }
    let stats = proxy.stats();
    proxy.disable();
    // Every object once, then the changed ones once: more means something was copied twice.
    let needed = OBJECTS + CHANGED * (RUNS - 1);
    // One line per (fault mode, rate, seed) for `make chaos`'s table.
    println!(
        "CHAOS function=backup mode={mode} rate={rate} seed={seed} invocations={invocations} retried={retries} faults={} dropped={} copies={}/{needed} runs={}/{RUNS} outcome={}",
        stats.errors_total() + stats.dropped,
        stats.dropped,
        deps.clients.recorder.succeeded("s3:CopyObject"),
        reports.len(),
        if problems.is_empty() { "converged" } else { "not-converged" },
    );
    assert!(
        problems.is_empty(),
        "{label} seed {seed}: backups did not converge within {MAX_ATTEMPTS} attempts: {problems:?}\n{}",
        proxy.log_text(20)
    );

    // Exactly one snapshot per completed run, `latest` on the last one.
    let all = manifests(&world).await;
    let ids: BTreeSet<String> = all.iter().map(|m| m.id.to_string()).collect();
    let reported: BTreeSet<String> = reports
        .iter()
        .map(|r| r["snapshot"].as_str().expect("snapshot").to_owned())
        .collect();
    assert_eq!(
        ids, reported,
        "{label} seed {seed}: one snapshot per completed run"
    );
    let latest: Value = serde_json::from_str(
        &text_of(
            &world.admin,
            &world.sources.backup_bucket,
            "backups/latest/nightly.json",
        )
        .await,
    )
    .expect("latest pointer");
    assert_eq!(
        latest["snapshot"],
        reports[RUNS - 1]["snapshot"],
        "{label} seed {seed}: latest on the last run"
    );
    // Every entry's data object exists with its size.
    let data = data_objects(&world).await;
    for manifest in &all {
        assert_eq!(manifest.entries.len(), OBJECTS + 4, "{label} seed {seed}");
        for entry in &manifest.entries {
            assert_eq!(
                data.get(&entry.key),
                Some(&entry.size),
                "{label} seed {seed}: {} of {}",
                entry.key,
                manifest.id
            );
        }
    }
    assert!(
        stored_claim(&world).await.is_none(),
        "{label} seed {seed}: run claim left"
    );

    // Without faults: verification passes, a prune leaves no unreferenced data.
    let clean = world.deps(Settings {
        prune_grace: chrono::Duration::zero(),
        ..Settings::default()
    });
    let verify = world
        .run(
            &clean,
            json!({"plan": "nightly", "action": "verify", "drill": false}),
        )
        .await;
    assert_eq!(verify["ok"], json!(true), "{label} seed {seed}: {verify}");
    assert!(verify["snapshots_checked"].as_u64() >= Some(1), "{verify}");
    let pruned = world
        .run(&clean, json!({"plan": "nightly", "action": "prune"}))
        .await;
    let referenced: BTreeSet<String> = manifests(&world)
        .await
        .iter()
        .flat_map(|m| m.entries.iter().map(|e| e.key.clone()))
        .collect();
    let left: Vec<String> = data_objects(&world)
        .await
        .into_keys()
        .filter(|k| !referenced.contains(k))
        .collect();
    assert!(
        left.is_empty(),
        "{label} seed {seed}: unreferenced data after prune {pruned}: {left:?}"
    );
    assert!(
        keys_under(
            &world.admin,
            &world.sources.state_bucket,
            "backup/runs/nightly.json"
        )
        .await
        .is_empty(),
        "{label} seed {seed}: run claim left after prune"
    );
}

#[tokio::test]
async fn chaos_backup_converges_at_10_percent_errors() {
    for seed in chaos_seeds() {
        chaos_seed(
            "errors",
            FaultPlan::errors(seed, 0.1),
            ClientSettings::batch(),
        )
        .await;
    }
}

#[tokio::test]
async fn chaos_backup_converges_at_30_percent_errors() {
    for seed in chaos_seeds() {
        chaos_seed(
            "errors",
            FaultPlan::errors(seed, 0.3),
            ClientSettings::batch(),
        )
        .await;
    }
}

/// With three SDK attempts per call (as when a retry quota has run dry), a 30 % error rate fails
/// many invocations: the Scheduler's retries, the claim hand-over and the failure checkpoints
/// carry the runs.
#[tokio::test]
async fn chaos_backup_converges_at_30_percent_errors_with_three_sdk_attempts() {
    let thin = ClientSettings {
        max_attempts: 3,
        ..ClientSettings::batch()
    };
    for seed in chaos_seeds() {
        chaos_seed(
            "errors-thin-retries",
            FaultPlan::errors(seed, 0.3),
            thin.clone(),
        )
        .await;
    }
}

#[tokio::test]
async fn chaos_backup_converges_when_answers_are_dropped_after_the_write() {
    for seed in chaos_seeds() {
        chaos_seed(
            "drops",
            FaultPlan::drops(seed, 0.05),
            ClientSettings::batch(),
        )
        .await;
    }
}
