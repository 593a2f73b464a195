//! deploy-hook's ECS lifecycle-hook mode against the emulator: the payload ECS sends at each
//! stage of its own blue/green, linear or canary deployment, answered with the quality gates at
//! the first stage and the service's analysis at the traffic stages (CloudWatch data points
//! seeded per color).
//!
//! The emulator has no `DescribeServiceRevisions`, so these deps read the target revision's
//! task definition from the service (`RevisionSource::Service`), as ECS has set it once its
//! deployment started.

use std::sync::Arc;

use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, Secret};
use deploy_hook::{Deps, Response, RevisionSource, Settings};
use serde_json::{json, Value};

use crate::deploy_hook::DeployWorld;

const ACCOUNT: &str = "123456789012";

/// A world whose `api` service (rolling, in place) is the one ECS deploys itself.
struct HookWorld {
    world: DeployWorld,
    deps: Arc<Deps>,
}

impl HookWorld {
    async fn new(edit: impl FnOnce(String) -> String) -> HookWorld {
        let world = DeployWorld::with_config(edit).await;
        let deps = world.other_deps(Settings {
            revision_source: RevisionSource::Service,
            ..Settings::default()
        });
        HookWorld { world, deps }
    }

    /// A world whose function reaches AWS through a fault proxy (clean until a plan is set).
    async fn behind_proxy(
        edit: impl FnOnce(String) -> String,
    ) -> (HookWorld, ops_tests::faults::FaultProxy) {
        let (world, proxy) = DeployWorld::behind_proxy(
            edit,
            Settings {
                revision_source: RevisionSource::Service,
                ..Settings::default()
            },
        )
        .await;
        let deps = world.deps.clone();
        (HookWorld { world, deps }, proxy)
    }

    fn revision(&self, id: &str) -> String {
        format!(
            "arn:aws:ecs:us-east-1:{ACCOUNT}:service-revision/{}/api/{id}",
            self.world.prefix
        )
    }

    /// The payload ECS sends at `stage` of deployment `deployment` of `service`.
    fn event(&self, service: &str, deployment: &str, stage: &str, production: Value) -> Value {
        let prefix = &self.world.prefix;
        json!({
            "executionId": ops_tests::unique("exec"),
            "lifecycleStage": stage,
            "resourceArn": format!(
                "arn:aws:ecs:us-east-1:{ACCOUNT}:service-deployment/{prefix}/{service}/{deployment}"
            ),
            "executionDetails": {
                "serviceArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service/{prefix}/{service}"),
                "targetServiceRevisionArn": self.revision("2002"),
                "testTrafficWeights": {},
                "productionTrafficWeights": production,
            }
        })
    }

    async fn invoke(&self, event: Value) -> (Response, Value) {
        let response = self
            .world
            .invoke_with(&self.deps, event)
            .await
            .expect("an ECS hook invocation always answers");
        let wire = serde_json::to_value(&response).expect("serializes");
        (response, wire)
    }

    /// Registers a task definition for `api` like the seeded one with `image` and `env`, and
    /// points the service at it (what ECS's `UpdateService` did before the first stage).
    async fn deploy_revision(&self, image: &str, env: &[(&str, &str)]) -> String {
        let mut container = ContainerDefinition::builder()
            .name("app")
            .image(image)
            .essential(true)
            .secrets(
                Secret::builder()
                    .name("DB_PASSWORD")
                    .value_from(&self.world.seeded["api"].secret_arn)
                    .build()
                    .expect("secret"),
            );
        for (name, value) in env {
            container =
                container.environment(KeyValuePair::builder().name(*name).value(*value).build());
        }
        let td = self
            .world
            .admin
            .ecs
            .register_task_definition()
            .family(format!("{}-api", self.world.prefix))
            .cpu("256")
            .memory("512")
            .container_definitions(container.build())
            .send()
            .await
            .expect("register")
            .task_definition()
            .and_then(|td| td.task_definition_arn())
            .expect("arn")
            .to_owned();
        self.world
            .admin
            .ecs
            .update_service()
            .cluster(&self.world.prefix)
            .service("api")
            .task_definition(&td)
            .send()
            .await
            .expect("update service");
        td
    }
}

fn reason(wire: &Value) -> String {
    wire["hookDetails"]["deployHook"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn with_required_env(yaml: String) -> String {
    yaml.replace(
        "    ecs_service: api\n    deploy:\n",
        "    ecs_service: api\n    deploy:\n      required_env: [LOG_LEVEL]\n",
    )
}

#[tokio::test]
async fn the_first_stage_runs_the_quality_gates_on_the_new_revision() {
    let hook = HookWorld::new(with_required_env).await;

    // A moving tag and a missing required variable: FAILED, the reason names both rules.
    let td = hook
        .deploy_revision("registry.example/api:latest", &[])
        .await;
    let (response, wire) = hook
        .invoke(hook.event("api", "dep1", "PRE_SCALE_UP", json!({})))
        .await;
    assert_eq!(wire["hookStatus"], "FAILED", "{wire}");
    assert!(wire.get("callBackDelay").is_none(), "{wire}");
    let why = reason(&wire);
    assert!(
        why.contains("image_pinned") && why.contains("required_env") && why.contains(&td),
        "{why}"
    );
    assert_eq!(response.result, "FAILED");
    // The wire form is ECS's answer only.
    let keys: Vec<&String> = wire.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["hookDetails", "hookStatus"]);

    // RECONCILE_SERVICE (when ECS reconciles first) gates the same way.
    let (_, wire) = hook
        .invoke(hook.event("api", "dep1", "RECONCILE_SERVICE", json!({})))
        .await;
    assert_eq!(wire["hookStatus"], "FAILED", "{wire}");

    // A pinned image with the variable: SUCCEEDED.
    hook.deploy_revision("registry.example/api:1.5.0", &[("LOG_LEVEL", "info")])
        .await;
    let (_, wire) = hook
        .invoke(hook.event("api", "dep2", "PRE_SCALE_UP", json!({})))
        .await;
    assert_eq!(wire["hookStatus"], "SUCCEEDED", "{wire}");
    assert!(reason(&wire).contains("all gates pass"), "{wire}");

    // The gates changed nothing and wrote nothing.
    for action in [
        "ecs:UpdateService",
        "ecs:RegisterTaskDefinition",
        "s3:PutObject",
    ] {
        assert_eq!(hook.deps.clients.recorder.succeeded(action), 0, "{action}");
    }
}

#[tokio::test]
async fn an_unknown_service_fails_and_other_stages_pass_at_once() {
    let hook = HookWorld::new(|yaml| yaml).await;
    let (_, wire) = hook
        .invoke(hook.event("billing", "dep1", "PRE_SCALE_UP", json!({})))
        .await;
    assert_eq!(wire["hookStatus"], "FAILED", "{wire}");
    assert!(
        reason(&wire).contains("no service of the suite config runs ECS service billing"),
        "{wire}"
    );

    // Stages that judge nothing answer at once, without a call.
    for stage in [
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
    ] {
        let (response, wire) = hook
            .invoke(hook.event("billing", "dep1", stage, json!({})))
            .await;
        assert_eq!(wire["hookStatus"], "SUCCEEDED", "{stage}: {wire}");
        assert_eq!(response.aws_calls, 0, "{stage}");
    }

    // A rollback's re-invocation is never held.
    let (response, wire) = hook
        .invoke(hook.event(
            "api",
            "dep1",
            "PRODUCTION_TRAFFIC_SHIFT",
            json!({hook.revision("2002"): 0, hook.revision("1001"): 100}),
        ))
        .await;
    assert_eq!(wire["hookStatus"], "SUCCEEDED", "{wire}");
    assert_eq!(response.aws_calls, 0);
}

/// `api` with one metric check on `ErrorRate-<namespace>` per color in `namespace`: every 10 s
/// (the shortest interval the validator takes), two passing measurements needed, no failure
/// tolerated; a 30 s bake holds them. (The metric name is unique too: the
/// emulator's `GetMetricData` ignores the namespace of a query with dimensions.)
fn with_analysis(namespace: &str) -> impl FnOnce(String) -> String + '_ {
    move |yaml: String| {
        yaml.replacen("      bake_seconds: 1\n", "      bake_seconds: 30\n", 1).replace(
            "    ecs_service: api\n    deploy:\n",
            &format!(
                r#"    ecs_service: api
    deploy:
      analysis:
        metrics:
          error_rate:
            queries:
              - {{ id: rate, metric: {{ namespace: "{namespace}", name: "ErrorRate-{namespace}", dimensions: {{ Color: "{{color}}" }}, stat: Average, period_seconds: 10 }} }}
            success: "result < 0.01"
            interval_seconds: 10
            count: 2
            failure_limit: 0
"#
            ),
        )
    }
}

impl HookWorld {
    /// Puts one `ErrorRate` datapoint per color, stamped a second ago: inside the next
    /// measurement's window `[now − 10 s, now)` once CloudWatch (and the emulator) align it to
    /// whole seconds, and outside the window of the measurement after it.
    async fn error_rates(&self, namespace: &str, green: f64, blue: f64) {
        use aws_sdk_cloudwatch::primitives::DateTime;
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
        let now = DateTime::from_secs_f64(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64() - 1.0)
                .unwrap_or_default(),
        );
        let datum = |color: &str, value: f64| {
            MetricDatum::builder()
                .metric_name(format!("ErrorRate-{namespace}"))
                .dimensions(Dimension::builder().name("Color").value(color).build())
                .timestamp(now)
                .value(value)
                .build()
        };
        self.world
            .cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .metric_data(datum("green", green))
            .metric_data(datum("blue", blue))
            .send()
            .await
            .expect("put metric data");
    }

    /// The stage's run, as the state bucket holds it.
    async fn run(
        &self,
        deployment: &str,
        stage: &str,
        step: Option<u32>,
    ) -> Option<deploy_hook::ecs_hook::analysis::HookRun> {
        let key = ops_domain::keys::ecs_hook_run("api", deployment, stage, step);
        ops_adapters::s3::StateStore::new(self.world.admin.s3.clone(), &self.world.prefix)
            .get::<deploy_hook::ecs_hook::analysis::HookRun>(&key)
            .await
            .expect("read run")
            .map(|run| run.value)
    }

    /// The measurements the stage's run holds.
    async fn measured(&self, deployment: &str, stage: &str, step: Option<u32>) -> usize {
        self.run(deployment, stage, step).await.map_or(0, |run| {
            run.run
                .checks
                .get("error_rate")
                .map_or(0, |c| c.measurements.len())
        })
    }

    fn metric_reads(&self) -> usize {
        self.deps
            .clients
            .recorder
            .succeeded("cloudwatch:GetMetricData")
    }
}

#[tokio::test]
async fn a_healthy_candidate_passes_after_count_measurements_and_duplicates_count_once() {
    let namespace = ops_tests::unique("EcsHook");
    let hook = HookWorld::new(with_analysis(&namespace)).await;
    let stage = "POST_TEST_TRAFFIC_SHIFT";
    let event = hook.event("api", "depok", stage, json!({}));

    let mut statuses = Vec::new();
    for round in 1..=2 {
        hook.error_rates(&namespace, 0.001, 0.002).await;
        let (response, wire) = hook.invoke(event.clone()).await;
        statuses.push(wire["hookStatus"].as_str().unwrap_or_default().to_owned());
        assert_eq!(hook.measured("depok", stage, None).await, round, "{wire}");
        if round < 2 {
            assert_eq!(wire["hookStatus"], "IN_PROGRESS", "{wire}");
            assert_eq!(wire["callBackDelay"], 10, "the check's interval: {wire}");
            assert!(
                response.summary.contains(&format!("{round} of 2")),
                "{wire}"
            );
            // The same delivery again at once: nothing is due, nothing is read or counted.
            let reads = hook.metric_reads();
            let (_, again) = hook.invoke(event.clone()).await;
            assert_eq!(again["hookStatus"], "IN_PROGRESS", "{again}");
            assert_eq!(hook.metric_reads(), reads);
            assert_eq!(hook.measured("depok", stage, None).await, round);
            tokio::time::sleep(std::time::Duration::from_millis(10_100)).await;
        }
    }
    assert_eq!(statuses, ["IN_PROGRESS", "SUCCEEDED"]);
    assert_eq!(hook.metric_reads(), 2, "one read per measurement");

    // The verdict answers every later delivery, without reading again.
    let (_, wire) = hook.invoke(event.clone()).await;
    assert_eq!(wire["hookStatus"], "SUCCEEDED", "{wire}");
    assert!(reason(&wire).contains("passed"), "{wire}");
    assert_eq!(hook.metric_reads(), 2);

    // Two deliveries at the same moment when a check is due: one measurement counts.
    let canary = hook.event(
        "api",
        "depok",
        "PRODUCTION_TRAFFIC_SHIFT",
        json!({hook.revision("2002"): 10, hook.revision("1001"): 90}),
    );
    hook.error_rates(&namespace, 0.001, 0.002).await;
    let (first, second) = tokio::join!(hook.invoke(canary.clone()), hook.invoke(canary.clone()));
    assert_eq!(first.1["hookStatus"], "IN_PROGRESS", "{}", first.1);
    assert_eq!(second.1["hookStatus"], "IN_PROGRESS", "{}", second.1);
    assert_eq!(
        hook.measured("depok", "PRODUCTION_TRAFFIC_SHIFT", Some(10))
            .await,
        1
    );
}

#[tokio::test]
async fn a_rising_error_rate_fails_the_stage_with_the_query_and_values() {
    let namespace = ops_tests::unique("EcsHook");
    let hook = HookWorld::new(with_analysis(&namespace)).await;
    let event = hook.event(
        "api",
        "depbad",
        "PRODUCTION_TRAFFIC_SHIFT",
        json!({hook.revision("2002"): 10, hook.revision("1001"): 90}),
    );
    hook.error_rates(&namespace, 0.002, 0.002).await;
    let (_, wire) = hook.invoke(event.clone()).await;
    assert_eq!(wire["hookStatus"], "IN_PROGRESS", "{wire}");
    tokio::time::sleep(std::time::Duration::from_millis(10_100)).await;

    // The new revision starts failing 8 % of its requests.
    hook.error_rates(&namespace, 0.08, 0.002).await;
    let (response, wire) = hook.invoke(event.clone()).await;
    assert_eq!(wire["hookStatus"], "FAILED", "{wire}");
    assert!(wire.get("callBackDelay").is_none(), "{wire}");
    let why = reason(&wire);
    for part in [
        "error_rate",
        "result < 0.01",
        "0.08",
        "ErrorRate",
        "Color=green",
    ] {
        assert!(why.contains(part), "{part} in {why}");
    }
    assert_eq!(response.result, "FAILED");

    // A redelivery gets the same verdict without a new read.
    let reads = hook.metric_reads();
    tokio::time::sleep(std::time::Duration::from_millis(10_100)).await;
    let (_, again) = hook.invoke(event).await;
    assert_eq!(again["hookStatus"], "FAILED", "{again}");
    assert_eq!(reason(&again), why);
    assert_eq!(hook.metric_reads(), reads);
}

#[tokio::test]
async fn aws_faults_are_never_a_verdict() {
    use ops_tests::faults::FaultPlan;
    let namespace = ops_tests::unique("EcsHook");
    let (hook, proxy) = HookWorld::behind_proxy(with_analysis(&namespace)).await;
    let stage = "POST_TEST_TRAFFIC_SHIFT";
    let event = hook.event("api", "depfault", stage, json!({}));

    // GetMetricData fails (after the SDK's retries): an error measurement, counted against
    // consecutive_errors (2), not a crash and not a verdict.
    proxy.set_plan(FaultPlan::errors(11, 1.0).only(["monitoring:GetMetricData"]));
    hook.error_rates(&namespace, 0.001, 0.002).await;
    let (_, wire) = hook.invoke(event.clone()).await;
    assert_eq!(wire["hookStatus"], "IN_PROGRESS", "{wire}");
    let run = hook
        .run("depfault", stage, None)
        .await
        .expect("run written");
    let check = &run.run.checks["error_rate"];
    assert_eq!(
        (check.errors, check.errors_in_row, check.successes),
        (1, 1, 0)
    );

    // The state cannot be written: no verdict, nothing counted, ECS asks again.
    proxy.set_plan(FaultPlan::errors(12, 1.0).only(["s3:PutObject"]));
    tokio::time::sleep(std::time::Duration::from_millis(10_100)).await;
    hook.error_rates(&namespace, 0.001, 0.002).await;
    let (_, wire) = hook.invoke(event.clone()).await;
    assert_eq!(wire["hookStatus"], "IN_PROGRESS", "{wire}");
    assert_eq!(wire["callBackDelay"], 30, "{wire}");
    assert!(reason(&wire).contains("AWS fault"), "{wire}");
    let after = hook.run("depfault", stage, None).await.expect("run");
    assert_eq!(after, run, "nothing was counted");

    // Clean again: the measurement counts, and a healthy read resets the error streak.
    proxy.disable();
    hook.error_rates(&namespace, 0.001, 0.002).await;
    let (_, wire) = hook.invoke(event).await;
    assert_eq!(wire["hookStatus"], "IN_PROGRESS", "{wire}");
    let run = hook.run("depfault", stage, None).await.expect("run");
    let check = &run.run.checks["error_rate"];
    assert_eq!((check.successes, check.errors_in_row), (1, 0));
}

#[tokio::test]
async fn a_candidate_worse_than_the_production_revision_fails_against_its_baseline() {
    let namespace = ops_tests::unique("EcsHook");
    // Under the absolute bound, but three times the production revision's error rate.
    let ns = namespace.clone();
    let hook = HookWorld::new(move |yaml: String| {
        with_analysis(&ns)(yaml)
            .replace(
                "            success: \"result < 0.01\"\n",
                "            success: \"result < 0.01 and result <= baseline * 1.5\"\n",
            )
            .replace(
                "    deploy:\n      analysis:",
                "    deploy:\n      ecs_lifecycle_hooks: true\n      analysis:",
            )
    })
    .await;
    let event = hook.event(
        "api",
        "depworse",
        "PRODUCTION_TRAFFIC_SHIFT",
        json!({hook.revision("2002"): 10, hook.revision("1001"): 90}),
    );
    hook.error_rates(&namespace, 0.006, 0.002).await;
    let (_, wire) = hook.invoke(event).await;
    assert_eq!(wire["hookStatus"], "FAILED", "{wire}");
    let why = reason(&wire);
    for part in [
        "error_rate",
        "baseline * 1.5",
        "result 0.006",
        "baseline 0.002",
    ] {
        assert!(why.contains(part), "{part} in {why}");
    }
}
