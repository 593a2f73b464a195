//! deploy-hook's metric analysis and lifecycle hooks under faults: a canary with an analysed
//! bake (a healthy candidate, error rate fed per color) and a `pre_deploy` migration task,
//! driven like CodePipeline drives it while every AWS call of the function — `GetMetricData`,
//! `RunTask` / `ListTasks` / `DescribeTasks`, Route53's reads of the live weights, S3 — goes
//! through the fault proxy with throttling and 5xx errors, or with answers lost after the call
//! happened. The test plays the migration's container: it stops the one task with exit 0.
//!
//! Per seed: the deployment is promoted (a healthy candidate is never rolled back by a failed
//! read: a query that fails after the SDK's retries is a measurement error, tolerated up to
//! `consecutive_errors`), exactly one migration task was ever started (a lost `RunTask` answer
//! is found again by its `startedBy`), the weights walk the canary path, and no hand edit is
//! ever seen where there was none.

use std::time::Duration;

use deploy_hook::Settings;
use futures_util::future::join_all;
use ops_domain::deployment::DeploymentStatus;
use ops_tests::faults::{chaos_seeds, FaultPlan};
use ops_tests::metrics::MetricFeed;

use crate::chaos_deploy::{canary_path, End, Pipeline, BOUND};
use crate::deploy_hook::{params, DeployWorld};
use crate::deploy_metrics::{error_rate_check, hook_tasks, stop_task};

const IMAGE: &str = "registry.example/web:1.5.0";

/// The web service's deploy section with an analysed bake and a migration.
fn analysed(yaml: String, namespace: &str) -> String {
    let check = error_rate_check(
        namespace,
        "            count: 2\n            consecutive_errors: 3\n            inconclusive: pass\n",
    );
    let extra = format!(
        "{check}      hooks:\n        pre_deploy:\n          - task: {{ command: [\"./migrate\", \"up\"], timeout_seconds: 120 }}\n"
    );
    yaml.replacen("      bake_seconds: 2\n", "      bake_seconds: 4\n", 1)
        .replacen(
            "      required_env: [LOG_LEVEL]\n",
            &format!("      required_env: [LOG_LEVEL]\n{extra}"),
            1,
        )
}

/// Plays the migration's container: stops every task it finds with exit 0, until aborted.
fn container(world: &DeployWorld) -> tokio::task::JoinHandle<()> {
    let ecs = world.admin.ecs.clone();
    let cluster = world.prefix.clone();
    tokio::spawn(async move {
        loop {
            if let Ok(listed) = ecs
                .list_tasks()
                .cluster(&cluster)
                .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
                .send()
                .await
            {
                for task in listed.task_arns() {
                    stop_task(&cluster, task, 0).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

async fn analysed_canary_under(label: String, plan: FaultPlan) -> String {
    let namespace = ops_tests::unique("Chaos");
    let (world, proxy) =
        DeployWorld::behind_proxy(|yaml| analysed(yaml, &namespace), Settings::default()).await;
    let feed = MetricFeed::start(world.cloudwatch.clone(), &namespace);
    for color in ["blue", "green"] {
        let target = format!("{color}.web.{}.deploy.internal", world.prefix);
        feed.set("Requests", &target, 100.0);
        feed.set("Errors", &target, 0.1);
    }
    let player = container(&world);
    proxy.set_plan(plan);
    let mut pipeline = Pipeline::new(&world, params("web", IMAGE)).await;
    let end = pipeline.run(BOUND, |_| false).await;
    proxy.disable();
    player.abort();
    drop(feed);
    let line = pipeline.line(&label, &proxy, &end);
    let context = format!("{line}\n{}", proxy.log_text(30));
    let record = world.record("web").await.expect("record");
    assert_eq!(end, End::Succeeded, "{context}\n{:?}", record.history);
    assert_eq!(record.status, DeploymentStatus::Promoted, "{context}");
    assert_eq!(pipeline.seen, canary_path(), "weights seen: {context}");
    assert_eq!(
        hook_tasks(&world).await.len(),
        1,
        "one migration task: {context}"
    );
    assert!(
        record
            .history
            .iter()
            .all(|h| !h.detail.contains("changed outside this deployment")),
        "no hand edit seen: {context}"
    );
    assert_eq!(
        record
            .history
            .iter()
            .filter(|h| h.event == "hook_succeeded")
            .count(),
        1,
        "{context}"
    );
    println!("{line}");
    line
}

#[tokio::test]
async fn chaos_analysed_canary_with_a_migration_converges_under_errors_and_lost_answers() {
    let mut runs = Vec::new();
    for seed in chaos_seeds() {
        runs.push(analysed_canary_under(
            format!("analysis errors 20% seed {seed}"),
            FaultPlan::errors(seed, 0.2),
        ));
        runs.push(analysed_canary_under(
            format!("analysis drops 10% seed {seed}"),
            FaultPlan::drops(seed, 0.1),
        ));
    }
    let lines = join_all(runs).await;
    assert!(!lines.is_empty());
}
