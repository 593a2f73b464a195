//! deploy-hook judging on metrics and running lifecycle hooks, against the emulator: CloudWatch
//! datapoints are fed per color while a canary bakes (`ops_tests::metrics::MetricFeed`), ECS
//! one-off tasks are run by moto and stopped by the test as their container would stop, and
//! Lambda invocations reach a loopback endpoint (`ops_tests::lambda`) that runs the backup
//! function's own handler or a scripted hook.

use std::sync::Arc;

use aws_sdk_cloudwatch::types::StateValue;
use deploy_hook::Settings;
use lambda_runtime::{Context, LambdaEvent};
use ops_domain::deploy::{AbortKind, Outcome};
use ops_domain::deployment::DeploymentStatus;
use ops_tests::emulator::Emulator;
use ops_tests::lambda::LoopbackLambda;
use ops_tests::metrics::MetricFeed;
use ops_tests::pipeline::job_event;
use serde_json::{json, Value};

use crate::deploy_hook::{history_events, params, DeployWorld};

/// Adds `extra` (YAML, indented for `web.deploy`) to the `web` service's deploy section and
/// sets its bake time.
fn web_deploy(yaml: String, bake_seconds: u32, extra: &str) -> String {
    yaml.replacen(
        "      bake_seconds: 2\n",
        &format!("      bake_seconds: {bake_seconds}\n"),
        1,
    )
    .replacen(
        "      required_env: [LOG_LEVEL]\n",
        &format!("      required_env: [LOG_LEVEL]\n{extra}"),
        1,
    )
}

/// An `analysis.metrics.error_rate` check of `web` (errors / requests of the side's `{target}`
/// in `namespace`, 1 s periods and interval, success `result < 0.01`), with `settings` (YAML
/// lines indented for the check: `count`, `failure_limit`…).
pub(crate) fn error_rate_check(namespace: &str, settings: &str) -> String {
    format!(
        r#"      analysis:
        metrics:
          error_rate:
            queries:
              - {{ id: errors, metric: {{ namespace: "{namespace}", name: Errors, dimensions: {{ Target: "{{target}}" }}, stat: Sum, period_seconds: 1 }}, return_data: false }}
              - {{ id: requests, metric: {{ namespace: "{namespace}", name: Requests, dimensions: {{ Target: "{{target}}" }}, stat: Sum, period_seconds: 1 }}, return_data: false }}
              - {{ id: rate, expression: "errors / requests" }}
            success: "result < 0.01"
            interval_seconds: 1
{settings}"#
    )
}

/// The record value of `web`'s `color` (a query's `{target}`).
fn target(world: &DeployWorld, color: &str) -> String {
    format!("{color}.web.{}.deploy.internal", world.prefix)
}

/// The outcome of a job driven to its end: the final job's failure text, if it failed.
async fn failure_text(world: &DeployWorld, drive: &crate::deploy_hook::Drive) -> Option<String> {
    let job = drive.jobs.last()?;
    let calls = world.pipeline.for_job(job);
    let call = calls.first()?;
    (!call.is_success()).then(|| call.text().to_owned())
}

#[tokio::test]
async fn a_rising_error_rate_rolls_the_canary_back_while_no_alarm_fires() {
    let namespace = ops_tests::unique("App");
    let extra = error_rate_check(
        &namespace,
        "            count: 2\n            failure_limit: 0\n",
    );
    let world = DeployWorld::with_config(|yaml| web_deploy(yaml, 6, &extra)).await;
    // The alarm that guards web exists and stays OK the whole time.
    world
        .alarm(&format!("{}-web-5xx", world.prefix), StateValue::Ok)
        .await;
    let feed = MetricFeed::start(world.cloudwatch.clone(), &namespace);
    let (blue, green) = (target(&world, "blue"), target(&world, "green"));
    for target in [&blue, &green] {
        feed.set("Requests", target, 100.0);
        feed.set("Errors", target, 0.0);
    }
    // The new version starts failing one request in twelve once it takes traffic.
    feed.set("Errors", &green, 8.0);
    let p = params("web", "registry.example/web:1.5.0");
    let drive = world.drive(&p).await;
    let text = failure_text(&world, &drive).await.expect("the job failed");
    assert!(text.contains("error_rate"), "{text}");
    assert!(text.contains("result < 0.01"), "{text}");
    assert!(text.contains("errors / requests"), "{text}");
    assert!(
        text.contains("result 0.07") || text.contains("result 0.08"),
        "the measured value is named: {text}"
    );
    // Rolled back as an alarm would: traffic back on blue, the release remembered.
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    let progress = record.progress.as_ref().expect("progress");
    assert_eq!(progress.outcome, Some(Outcome::RolledBack));
    assert_eq!(
        progress.abort.as_ref().map(|a| a.kind),
        Some(AbortKind::Analysis)
    );
    assert_eq!(
        history_events(&record, "traffic_shifted"),
        ["blue=90 green=10"],
        "only the first 10 % shift was made before the analysis failed"
    );
    let mark = record.rollback.as_ref().expect("rollback mark");
    assert!(mark.reason.contains("error_rate"), "{}", mark.reason);
    // No alarm ever fired; the notification names the check and its values.
    let slack: Vec<String> = world
        .receiver
        .at("/slack")
        .iter()
        .map(|m| m.json().to_string())
        .collect();
    assert!(
        slack
            .iter()
            .any(|m| m.contains("error_rate") && m.contains("result < 0.01")),
        "{slack:?}"
    );
    assert!(world.succeeded("cloudwatch:GetMetricData") >= 1);
}

#[tokio::test]
async fn a_marginal_judge_holds_the_step_for_another_bake() {
    let namespace = ops_tests::unique("App");
    let metric = |name: &str| {
        format!(
            r#"{{ queries: [{{ id: m, metric: {{ namespace: "{namespace}", name: {name}, dimensions: {{ Target: "{{target}}" }}, stat: Average, period_seconds: 1 }} }}], direction: increase }}"#
        )
    };
    let extra = format!(
        r#"      analysis:
        judge:
          metrics:
            latency: {}
            errors: {}
          pass_score: 95
          marginal_score: 50
          max_holds: 3
"#,
        metric("Latency"),
        metric("Errors")
    );
    let world = DeployWorld::with_config(|yaml| web_deploy(yaml, 6, &extra)).await;
    let feed = MetricFeed::start(world.cloudwatch.clone(), &namespace);
    let (blue, green) = (target(&world, "blue"), target(&world, "green"));
    for target in [&blue, &green] {
        feed.set("Latency", target, 100.0);
        feed.set("Errors", target, 1.0);
    }
    // The candidate is twice as slow: one metric of two fails, score 50 — marginal.
    feed.set("Latency", &green, 200.0);
    let p = params("web", "registry.example/web:1.5.0");
    let mut token: Option<String> = None;
    let mut held = false;
    for _ in 0..120 {
        let job = ops_tests::unique("job");
        let response = world
            .invoke(job_event(&job, &p, None, token.as_deref()))
            .await
            .expect("invoke");
        let record = world.record("web").await.expect("record");
        if !history_events(&record, "judge_marginal").is_empty() && !held {
            held = true;
            // The step is held, not advanced: still the first bake, 10 % on green.
            assert_eq!(world.web_weights().await["green"], 10);
            assert_eq!(
                record
                    .progress
                    .as_ref()
                    .and_then(|p| p.current())
                    .map(|s| s.kind()),
                Some("bake")
            );
            // The candidate recovers; the next judgement passes.
            feed.set("Latency", &green, 100.0);
        }
        if response.result != "continue" {
            break;
        }
        token = world.token_after(&job);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(held, "a marginal verdict held the step");
    let record = world.record("web").await.expect("record");
    assert_eq!(
        record.status,
        DeploymentStatus::Promoted,
        "{:?}",
        record.history
    );
    assert!(!history_events(&record, "judge_passed").is_empty());
}

#[tokio::test]
async fn hand_edited_weights_stop_the_next_shift_and_change_nothing() {
    let world = DeployWorld::new().await;
    let p = params("web", "registry.example/web:1.5.0");
    let token = world.drive_to_first_bake(&p).await;
    assert_eq!(world.web_weights().await["green"], 10);
    // Someone moves the weights by hand while the canary bakes.
    let zone = world.seeded["web"].zone_id.clone().expect("zone");
    let name = format!("web.{}.deploy.internal.", world.prefix);
    let records =
        ops_adapters::route53::weighted_records(&world.admin.route53, &zone, &name, "CNAME")
            .await
            .expect("records");
    ops_adapters::route53::set_weights(
        &world.admin.route53,
        &zone,
        &records,
        &[("blue".to_owned(), 70), ("green".to_owned(), 30)].into(),
        "by hand",
    )
    .await
    .expect("hand edit");
    let drive = world.drive_from(&p, token).await;
    let text = failure_text(&world, &drive).await.expect("the job failed");
    assert!(text.contains("changed outside this deployment"), "{text}");
    assert!(text.contains("live blue=70 green=30"), "{text}");
    // Nothing was changed: the hand-set weights stay, the deployment failed.
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 70), ("green".to_owned(), 30)].into()
    );
    assert_eq!(world.succeeded("route53:ChangeResourceRecordSets"), 1);
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Failed);
    assert_eq!(
        record
            .progress
            .as_ref()
            .and_then(|p| p.abort.as_ref())
            .map(|a| a.kind),
        Some(AbortKind::TrafficEdited)
    );
    assert!(world.receiver.at("/slack").iter().any(|m| m
        .json()
        .to_string()
        .contains("changed outside this deployment")));
}

/// Stops a task as its container would stop (moto runs no containers).
pub(crate) async fn stop_task(cluster: &str, task: &str, exit_code: i32) {
    let url = format!("{}/_ops/ecs/stop-task", Emulator::shared().endpoint);
    let answer = reqwest::Client::new()
        .post(url)
        .json(&json!({"cluster": cluster, "task": task, "container": "app", "exit_code": exit_code, "reason": "Essential container in task exited"}))
        .send()
        .await
        .expect("stop task");
    assert!(answer.status().is_success(), "{:?}", answer.text().await);
}

/// The ARNs of the tasks of `cluster` started by deploy-hook's hooks.
pub(crate) async fn hook_tasks(world: &DeployWorld) -> Vec<String> {
    let mut arns = Vec::new();
    for status in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        let listed = world
            .admin
            .ecs
            .list_tasks()
            .cluster(&world.prefix)
            .desired_status(status)
            .send()
            .await
            .expect("list tasks");
        arns.extend(listed.task_arns().iter().cloned());
    }
    arns
}

#[tokio::test]
async fn a_migration_task_that_exits_1_stops_the_deployment_before_any_traffic_moves() {
    let extra = r#"      hooks:
        pre_deploy:
          - task: { command: ["./migrate", "up"], timeout_seconds: 300 }
        on_rollback:
          - lambda: { function: page-the-owner }
"#;
    let (world, lambda, _) = world_with_functions(extra).await;
    let p = params("web", "registry.example/web:1.5.0");
    let mut token: Option<String> = None;
    let mut task = None;
    let mut failure = None;
    for _ in 0..40 {
        let job = ops_tests::unique("job");
        let response = world
            .invoke(job_event(&job, &p, None, token.as_deref()))
            .await
            .expect("invoke");
        if response.result != "continue" {
            failure = world
                .pipeline
                .for_job(&job)
                .first()
                .map(|c| c.text().to_owned());
            break;
        }
        if task.is_none() {
            if let Some(arn) = hook_tasks(&world).await.first() {
                // A repeat of the step finds the task instead of starting a second one.
                let again = world
                    .invoke(job_event(
                        &ops_tests::unique("job"),
                        &p,
                        None,
                        token.as_deref(),
                    ))
                    .await
                    .expect("invoke");
                assert_eq!(again.result, "continue");
                assert_eq!(hook_tasks(&world).await.len(), 1);
                stop_task(&world.prefix, arn, 1).await;
                task = Some(arn.clone());
            }
        }
        token = world.token_after(&job);
    }
    assert!(task.is_some(), "the migration task was started");
    let text = failure.expect("the job failed");
    assert!(
        text.contains("pre_deploy hook task ./migrate up failed"),
        "{text}"
    );
    assert!(text.contains("exited 1"), "{text}");
    assert!(text.contains("no traffic was shifted"), "{text}");
    // Nothing moved: weights, the idle color and the live color untouched.
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    assert_eq!(world.succeeded("ecs:UpdateService"), 0);
    assert_eq!(world.succeeded("route53:ChangeResourceRecordSets"), 0);
    assert_eq!(world.succeeded("ecs:RunTask"), 1);
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Failed);
    // The on_rollback hook was started once, asynchronously, with the deployment.
    let paged: Vec<_> = lambda
        .calls()
        .into_iter()
        .filter(|c| c.function == "page-the-owner")
        .collect();
    assert_eq!(paged.len(), 1, "{paged:?}");
    assert_eq!(paged[0].kind, "Event");
    assert_eq!(paged[0].payload["hook"], "on_rollback");
    assert_eq!(paged[0].payload["service"], "web");
}

/// A world whose deploy-hook reaches a loopback Lambda endpoint: the backup function's own
/// handler (for `backup` hooks) and a scripted `smoke` hook answering `in_progress` twice, then
/// `succeeded`.
async fn world_with_functions(extra: &str) -> (DeployWorld, LoopbackLambda, String) {
    let plan_bucket = ops_tests::unique("bk");
    let source = format!("{plan_bucket}-src");
    let backup_yaml = format!(
        r#"backup:
  plans:
    db:
      targets:
        s3: [{{ bucket: {source}, prefix: data/ }}]
      schedule: {{ backup: "rate(1 day)" }}
      retention: {{ keep_last: 2 }}
      destination: {{ bucket: {plan_bucket}, prefix: backups }}
"#
    );
    let extra = extra.to_owned();
    let mut world = DeployWorld::with_config(|yaml| {
        let yaml = web_deploy(yaml, 2, &extra);
        format!("{yaml}{backup_yaml}")
    })
    .await;
    for bucket in [&plan_bucket, &source] {
        ops_tests::seed::create_bucket(&world.admin, bucket)
            .await
            .expect("bucket");
    }
    ops_tests::backup_seed::put_objects(&world.admin, &source, 0..3, 1)
        .await
        .expect("objects");
    let backup_deps = Arc::new(
        backup::Deps::new(
            &world.sdk,
            &world.prefix,
            &format!("s3://{}/{}", world.prefix, ops_domain::keys::CONFIG_KEY),
            backup::Settings::default(),
        )
        .expect("backup deps"),
    );
    let smoke_asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let lambda = LoopbackLambda::start(move |function: String, payload: Value| {
        let backup_deps = backup_deps.clone();
        let smoke_asked = smoke_asked.clone();
        async move {
            if function == "backup" {
                let mut context = Context::default();
                context.request_id = ops_tests::unique("req");
                let runtime = tokio::runtime::Handle::current();
                // The handler's future is not provably `Send`: run it on a blocking thread.
                return tokio::task::spawn_blocking(move || {
                    runtime.block_on(backup::handle(
                        &backup_deps,
                        LambdaEvent::new(payload, context),
                    ))
                })
                .await
                .map_err(|e| e.to_string())?
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .map_err(|e| e.to_string());
            }
            let n = smoke_asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(if n < 2 {
                json!({"status": "in_progress", "message": format!("{} of 3 checks", n + 1)})
            } else {
                json!({"status": "succeeded", "message": "3 of 3 checks passed"})
            })
        }
    })
    .await;
    let settings = Settings {
        backup_function: Some("backup".to_owned()),
        ..Settings::default()
    };
    let mut deps =
        Arc::try_unwrap(world.other_deps(settings)).unwrap_or_else(|_| panic!("fresh deps"));
    deps.clients.lambda = lambda.client(&world.sdk);
    world.deps = Arc::new(deps);
    (world, lambda, plan_bucket)
}

#[tokio::test]
async fn a_pre_deploy_backup_commits_before_the_first_change_and_a_function_hook_is_polled() {
    let extra = r#"      hooks:
        pre_deploy:
          - backup: { plan: db, timeout_seconds: 120 }
        pre_traffic:
          - lambda: { function: smoke, timeout_seconds: 120 }
"#;
    let (world, lambda, plan_bucket) = world_with_functions(extra).await;
    let p = params("web", "registry.example/web:1.5.0");
    let drive = world.drive(&p).await;
    assert_eq!(drive.last().result, "succeeded", "{:?}", drive.last());
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Promoted);
    // The backup was asked for once, asynchronously, and its snapshot committed before the
    // first change to any service.
    let calls = lambda.calls();
    let backups: Vec<_> = calls.iter().filter(|c| c.function == "backup").collect();
    assert_eq!(backups.len(), 1, "{calls:?}");
    assert_eq!(backups[0].kind, "Event");
    assert_eq!(
        backups[0].payload,
        json!({"plan": "db", "action": "backup"})
    );
    let latest: Value = serde_json::from_slice(
        &world
            .admin
            .s3
            .get_object()
            .bucket(&plan_bucket)
            .key("backups/latest/db.json")
            .send()
            .await
            .expect("latest pointer")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes(),
    )
    .expect("json");
    let committed: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(latest["created_at"].clone()).expect("created_at");
    let first_change = record
        .history
        .iter()
        .find(|h| h.event == "ecs_updated")
        .expect("ecs updated")
        .at;
    assert!(
        committed < first_change,
        "{committed} before {first_change}"
    );
    assert_eq!(history_events(&record, "hook_succeeded").len(), 2);
    // The function hook was asked until it answered succeeded, with the deployment in the
    // payload, before any weight moved.
    let smoke: Vec<_> = calls.iter().filter(|c| c.function == "smoke").collect();
    assert_eq!(smoke.len(), 3, "{calls:?}");
    assert_eq!(smoke[0].payload["hook"], "pre_traffic");
    assert_eq!(smoke[0].payload["deployment_id"], json!(drive.jobs[0]));
    let shifted = record
        .history
        .iter()
        .find(|h| h.event == "traffic_shifted")
        .expect("shifted")
        .at;
    let smoke_done = record
        .history
        .iter()
        .rfind(|h| h.event == "hook_succeeded")
        .expect("hook")
        .at;
    assert!(smoke_done <= shifted);
}

#[tokio::test]
async fn after_promotion_a_failing_check_is_rolled_back_by_alarm_rollback_exactly_once() {
    let namespace = ops_tests::unique("App");
    let extra = error_rate_check(&namespace, "            count: 1\n");
    let mut world = DeployWorld::with_config(|yaml| web_deploy(yaml, 2, &extra)).await;
    let feed = MetricFeed::start(world.cloudwatch.clone(), &namespace);
    let (blue, green) = (target(&world, "blue"), target(&world, "green"));
    for target in [&blue, &green] {
        feed.set("Requests", target, 100.0);
        feed.set("Errors", target, 0.0);
    }
    // alarm-rollback's own handler answers deploy-hook's hand-over (moto runs no functions).
    let rollback_deps = Arc::new(crate::deploy_hook::alarm_rollback_deps(&world).await);
    let lambda = LoopbackLambda::start(move |_function: String, payload: Value| {
        let deps = rollback_deps.clone();
        async move {
            let mut context = Context::default();
            context.request_id = ops_tests::unique("req");
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                runtime.block_on(alarm_rollback::handle(
                    &deps,
                    LambdaEvent::new(payload, context),
                ))
            })
            .await
            .map_err(|e| e.to_string())?
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .map_err(|e| e.to_string())
        }
    })
    .await;
    let settings = Settings {
        alarm_rollback_function: Some("alarm-rollback".to_owned()),
        ..Settings::default()
    };
    let mut deps =
        Arc::try_unwrap(world.other_deps(settings)).unwrap_or_else(|_| panic!("fresh deps"));
    deps.clients.lambda = lambda.client(&world.sdk);
    world.deps = Arc::new(deps);

    let drive = world
        .drive(&params("web", "registry.example/web:1.5.0"))
        .await;
    assert_eq!(drive.last().result, "succeeded", "{:?}", drive.last());
    // In the rollback window the watch measures the promoted version: healthy, nothing to do.
    let watched = world
        .invoke(json!({"action": "watch"}))
        .await
        .expect("watch");
    assert_eq!(watched.result, "watched");
    assert!(lambda.calls().is_empty());
    // Then its error rate rises: the next watch hands the failure to alarm-rollback.
    feed.set("Errors", &green, 9.0);
    let mut handed = None;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let watched = world
            .invoke(json!({"action": "watch"}))
            .await
            .expect("watch");
        if watched
            .summary
            .contains("rollback handed to alarm-rollback")
        {
            handed = Some(watched.summary);
            break;
        }
    }
    let handed = handed.expect("the failing check was handed over");
    assert!(
        handed.contains("error_rate") && handed.contains("result < 0.01"),
        "{handed}"
    );
    // alarm-rollback ran asynchronously: wait for the record.
    let mut record = world.record("web").await.expect("record");
    for _ in 0..50 {
        if record.status == DeploymentStatus::RolledBack {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        record = world.record("web").await.expect("record");
    }
    assert_eq!(
        record.status,
        DeploymentStatus::RolledBack,
        "{:?}",
        record.history
    );
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    let mark = record.rollback.as_ref().expect("mark");
    assert_eq!(mark.alarm, "analysis:error_rate");
    assert!(
        mark.reason.starts_with("after promotion: "),
        "{}",
        mark.reason
    );
    // Another watch run finds nothing to do; the failure is never handed over twice after
    // the rollback, and alarm-rollback rolled back once.
    let again = world
        .invoke(json!({"action": "watch"}))
        .await
        .expect("watch");
    assert_eq!(again.summary, "nothing to watch");
    let calls = lambda.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].kind, "Event");
    assert_eq!(
        calls[0].payload["detail-type"],
        "Deployment Analysis Failed"
    );
    let audits = world.keys_under("audit/").await;
    assert_eq!(
        audits
            .iter()
            .filter(|k| k.contains("/alarm-rollback/"))
            .count(),
        1,
        "{audits:?}"
    );
    assert!(world
        .receiver
        .at("/slack")
        .iter()
        .any(|m| m.json().to_string().contains("analysis:error_rate")));
    drop(feed);
}
