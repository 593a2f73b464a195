//! deploy-hook scenarios against the emulator: every strategy's happy path, the alarm gate
//! mid-bake, a failing health check, quality gates, duplicates, crash-and-resume at every
//! step, dry run, deployment windows, concurrent pipelines, alarm-rollback taking over, and the
//! decommission schedule. CodePipeline's job results go to the loopback recorder.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use deploy_hook::{Deps, HandlerError, Response, Settings};
use lambda_runtime::{Context, LambdaEvent};
use ops_adapters::clients::ClientSettings;
use ops_adapters::notify::Notifier;
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::AwsClients;
use ops_domain::deploy::Outcome;
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus};
use ops_domain::keys;
use ops_tests::emulator::Emulator;
use ops_tests::faults::{FaultPlan, FaultProxy};
use ops_tests::pipeline::{job_event, JobCall, PipelineRecorder};
use ops_tests::receiver::Receiver;
use ops_tests::seed::{self, Deployable};
use serde_json::{json, Value};

/// The config of a deploy world: `web` (canary, blue/green colors in its own zone, TTL 1 s,
/// 2 s bakes) and `api` (rolling, in place), each guarded by an alarm.
fn config_yaml(prefix: &str, receiver: &str) -> String {
    format!(
        r#"version: 1
notifications:
  channels:
    slack: {{ kind: slack, secret: {prefix}/slack }}
    pager: {{ kind: pagerduty, secret: {prefix}/pagerduty }}
  routes:
    info: [slack]
    warning: [slack]
    critical: [slack, pager]
windows:
  closed-now: {{ start: "CLOSED_START", end: "CLOSED_END", outside: wait }}
services:
  web:
    cluster: {prefix}
    strategy: canary
    traffic:
      zone_name: {prefix}.deploy.internal.
      record_name: web.{prefix}.deploy.internal.
      ttl: 1
      targets:
        blue: {{ ecs_service: web-blue, value: blue.web.{prefix}.deploy.internal }}
        green: {{ ecs_service: web-green, value: green.web.{prefix}.deploy.internal }}
    deploy:
      canary_steps: [10, 50, 100]
      step_percent: 50
      bake_seconds: 2
      health_checks:
        - {{ url: "{receiver}/health/{{target}}", expected_status: 200, body_contains: ok, timeout_ms: 1000, retries: 1 }}
      smoke_tests: ["{receiver}/smoke/{{target}}"]
      required_env: [LOG_LEVEL]
  api:
    cluster: {prefix}
    strategy: rolling
    ecs_service: api
    deploy:
      bake_seconds: 1
      health_checks:
        - {{ url: "{receiver}/health/api", timeout_ms: 1000, retries: 0 }}
alarms:
  - {{ alarm: {prefix}-web-5xx, services: [web], severity: critical }}
  - {{ alarm: "{prefix}-api-*", services: [api], severity: critical }}
"#
    )
}

/// Everything one deploy-hook test needs.
pub struct DeployWorld {
    /// Clients for seeding and assertions.
    pub admin: AwsClients,
    /// The function's dependencies.
    pub deps: Arc<Deps>,
    /// CodePipeline stand-in.
    pub pipeline: PipelineRecorder,
    /// Notifier and health-check stand-in.
    pub receiver: Receiver,
    /// Unique prefix (bucket, cluster, zone).
    pub prefix: String,
    /// Seeded services.
    pub seeded: BTreeMap<String, Deployable>,
    /// CloudWatch for tripping alarms.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub(crate) sdk: aws_config::SdkConfig,
}

/// What driving a job to its end produced.
pub struct Drive {
    /// Every invocation's response, in order.
    pub responses: Vec<Response>,
    /// Every job id used (one per invocation).
    pub jobs: Vec<String>,
}

impl Drive {
    /// The last response.
    pub fn last(&self) -> &Response {
        self.responses.last().expect("at least one invocation")
    }
}

impl DeployWorld {
    pub async fn new() -> DeployWorld {
        Self::with_config(|yaml| yaml).await
    }

    pub async fn with_config(edit: impl FnOnce(String) -> String) -> DeployWorld {
        Self::build(edit, Settings::default()).await
    }

    /// A world whose function reaches AWS through a fault proxy (clean until a plan is set),
    /// built with the function's own client settings; CodePipeline stays un-faulted. Seeding
    /// and assertions go straight to the emulator.
    pub async fn behind_proxy(
        edit: impl FnOnce(String) -> String,
        settings: Settings,
    ) -> (DeployWorld, FaultProxy) {
        let mut world = Self::build(edit, settings.clone()).await;
        let proxy = FaultProxy::start(&Emulator::shared().endpoint).await;
        let sdk = ClientSettings::default()
            .configure(aws_config::defaults(aws_config::BehaviorVersion::latest()))
            .endpoint_url(proxy.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .test_credentials()
            .load()
            .await;
        world.deps = Arc::new(deps_for(&sdk, &world.prefix, &world.pipeline, settings));
        world.sdk = sdk;
        (world, proxy)
    }

    async fn build(edit: impl FnOnce(String) -> String, settings: Settings) -> DeployWorld {
        let emulator = Emulator::shared();
        let sdk = emulator.sdk_config().await;
        let admin = AwsClients::new(&sdk);
        let receiver = Receiver::start().await;
        let pipeline = PipelineRecorder::start().await;
        let prefix = ops_tests::unique("d");
        let default_yaml = config_yaml(&prefix, &receiver.url)
            .replace("CLOSED_START", &hhmm(2))
            .replace("CLOSED_END", &hhmm(3));
        let config = ops_domain::config::parse(&default_yaml).expect("default config");
        let yaml = edit(default_yaml);
        seed::create_bucket(&admin, &prefix).await.expect("bucket");
        seed::upload_config(&admin, &prefix, &yaml)
            .await
            .expect("config");
        seed::notifier_secrets(&admin, &config, &receiver.url)
            .await
            .expect("secrets");
        let seeded = seed::deployable(&admin, &config).await.expect("seed");
        let deps = deps_for(&sdk, &prefix, &pipeline, settings);
        DeployWorld {
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            admin,
            deps: Arc::new(deps),
            pipeline,
            receiver,
            prefix,
            seeded,
            sdk,
        }
    }

    /// Another set of dependencies on the same world (a second container).
    pub fn other_deps(&self, settings: Settings) -> Arc<Deps> {
        Arc::new(deps_for(&self.sdk, &self.prefix, &self.pipeline, settings))
    }

    pub async fn invoke_with(&self, deps: &Deps, event: Value) -> Result<Response, HandlerError> {
        let mut context = Context::default();
        context.request_id = ops_tests::unique("req");
        deploy_hook::handle(deps, LambdaEvent::new(event, context)).await
    }

    /// Invokes with a given Lambda request id (a retry of an asynchronous invocation keeps it).
    pub async fn invoke_as(
        &self,
        deps: &Deps,
        event: Value,
        request_id: &str,
    ) -> Result<Response, HandlerError> {
        let mut context = Context::default();
        context.request_id = request_id.to_owned();
        deploy_hook::handle(deps, LambdaEvent::new(event, context)).await
    }

    /// A retry of the stage: a new job, no continuation token, the same parameters.
    pub async fn stage_retry(&self, params: &Value) -> (String, Response) {
        let job = ops_tests::unique("job");
        let response = self
            .invoke(job_event(&job, params, None, None))
            .await
            .expect("the stage retry reports to the pipeline");
        (job, response)
    }

    pub async fn invoke(&self, event: Value) -> Result<Response, HandlerError> {
        self.invoke_with(&self.deps, event).await
    }

    /// The token CodePipeline would hand the next invocation of `job`.
    pub fn token_after(&self, job: &str) -> Option<String> {
        self.pipeline
            .for_job(job)
            .first()
            .and_then(|call| call.continuation().map(str::to_owned))
    }

    /// Runs a job the way CodePipeline does: invoke, and while the result continues, invoke
    /// again under a new job id with the token, until success or failure.
    pub async fn drive(&self, params: &Value) -> Drive {
        self.drive_from(params, None).await
    }

    pub async fn drive_from(&self, params: &Value, token: Option<String>) -> Drive {
        let mut drive = Drive {
            responses: Vec::new(),
            jobs: Vec::new(),
        };
        let mut token = token;
        for _ in 0..200 {
            let job = ops_tests::unique("job");
            let event = job_event(&job, params, None, token.as_deref());
            let response = self
                .invoke(event)
                .await
                .expect("invocation reports to the pipeline");
            drive.jobs.push(job.clone());
            let done = response.result != "continue";
            drive.responses.push(response);
            if done {
                return drive;
            }
            token = self.token_after(&job);
            assert!(token.is_some(), "a continuing job hands over a token");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the deployment did not finish within 200 invocations");
    }

    /// Runs a canary job until its first shift (10 %) is in sync, so it bakes; returns the
    /// token of the next invocation.
    pub async fn drive_to_first_bake(&self, params: &Value) -> Option<String> {
        let mut token = None;
        for _ in 0..20 {
            let job = ops_tests::unique("job");
            let response = self
                .invoke(job_event(&job, params, None, token.as_deref()))
                .await
                .expect("invoke");
            token = self.token_after(&job);
            if response.step.as_deref() == Some("shift 10%") && response.summary.contains("INSYNC;")
            {
                break;
            }
        }
        token
    }

    pub async fn record(&self, service: &str) -> Option<DeploymentRecord> {
        ops_adapters::s3::StateStore::new(self.admin.s3.clone(), &self.prefix)
            .get::<DeploymentRecord>(&keys::deployment_record(service))
            .await
            .expect("read record")
            .map(|v| v.value)
    }

    pub async fn web_weights(&self) -> BTreeMap<String, i64> {
        seed::weights(
            &self.admin,
            self.seeded["web"].zone_id.as_deref().expect("zone"),
            &format!("web.{}.deploy.internal.", self.prefix),
            "CNAME",
        )
        .await
        .expect("weights")
    }

    pub async fn ecs(&self, service: &str) -> ops_adapters::ecs::ServiceState {
        ops_adapters::ecs::service_state(&self.admin.ecs, &self.prefix, service)
            .await
            .expect("service state")
    }

    /// The image of the `app` container of a task definition.
    pub async fn image_of(&self, task_definition: &str) -> String {
        let td = ops_adapters::ecs::describe_task_definition(&self.admin.ecs, task_definition)
            .await
            .expect("describe");
        td.container_definitions()[0]
            .image()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn succeeded(&self, action: &str) -> usize {
        self.deps.clients.recorder.succeeded(action)
    }

    /// Creates the alarm `name` and sets its state.
    pub async fn alarm(&self, name: &str, state: aws_sdk_cloudwatch::types::StateValue) {
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("App")
            .metric_name("5xx")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
            .period(60)
            .evaluation_periods(1)
            .threshold(5.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .send()
            .await
            .expect("put alarm");
        self.cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason("5xx rate 7.4% over 5% (test)")
            .send()
            .await
            .expect("set alarm state");
    }

    /// Keys under a prefix of the state bucket.
    pub async fn keys_under(&self, prefix: &str) -> Vec<String> {
        self.admin
            .s3
            .list_objects_v2()
            .bucket(&self.prefix)
            .prefix(prefix)
            .send()
            .await
            .expect("list")
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }
}

fn deps_for(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
    pipeline: &PipelineRecorder,
    settings: Settings,
) -> Deps {
    let mut deps = Deps::new(
        sdk,
        prefix,
        &format!("s3://{prefix}/{}", keys::CONFIG_KEY),
        settings,
    )
    .expect("deps");
    // CodePipeline's job results go to the loopback recorder (moto lacks them).
    let pipeline_sdk = sdk.to_builder().endpoint_url(&pipeline.url).build();
    deps.codepipeline = ops_adapters::codepipeline::client(&pipeline_sdk, &deps.clients.recorder);
    deps
}

/// `HH:MM` UTC, `hours` from now.
fn hhmm(hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours))
        .format("%H:%M")
        .to_string()
}

pub(crate) fn params(service: &str, image: &str) -> Value {
    json!({"service": service, "image": image})
}

pub(crate) fn history_events(record: &DeploymentRecord, event: &str) -> Vec<String> {
    record
        .history
        .iter()
        .filter(|h| h.event == event)
        .map(|h| h.detail.clone())
        .collect()
}

fn final_call(world: &DeployWorld, drive: &Drive) -> JobCall {
    let job = drive.jobs.last().expect("a job");
    let calls = world.pipeline.for_job(job);
    assert_eq!(calls.len(), 1, "exactly one result per job: {calls:?}");
    calls[0].clone()
}

async fn assert_promoted_web(world: &DeployWorld, drive: &Drive, image: &str, shifts: &[&str]) {
    let call = final_call(world, drive);
    assert!(
        call.is_success() && call.continuation().is_none(),
        "{call:?}"
    );
    let outputs = &call.body["outputVariables"];
    assert_eq!(outputs["image"], image);
    let td = outputs["task_definition_arn"]
        .as_str()
        .expect("td output")
        .to_owned();
    assert!(outputs["duration_seconds"].is_string());
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Promoted);
    assert_eq!(history_events(&record, "traffic_shifted"), shifts);
    let weights = world.web_weights().await;
    assert_eq!(
        weights,
        [("blue".to_owned(), 0), ("green".to_owned(), 100)].into()
    );
    let green = world.ecs("web-green").await;
    assert!(ops_adapters::ecs::same_task_definition(
        &green.task_definition,
        &td
    ));
    assert_eq!(world.image_of(&td).await, image);
    // The old color stays warm for the rollback window.
    let blue = world.ecs("web-blue").await;
    assert_eq!(blue.task_definition, world.seeded["web"].stable);
    assert!(blue.desired_count > 0);
    // Every continuing result carried progress and a token under 2048 characters.
    for job in &drive.jobs[..drive.jobs.len() - 1] {
        let call = &world.pipeline.for_job(job)[0];
        let token = call.continuation().expect("token");
        assert!(token.len() <= 2048);
        assert!(call.body["executionDetails"]["percentComplete"].is_number());
    }
    assert_eq!(world.succeeded("ecs:RegisterTaskDefinition"), 1);
}

#[tokio::test]
async fn canary_shifts_10_50_100_with_bakes_and_promotes() {
    let world = DeployWorld::new().await;
    let drive = world
        .drive(&params("web", "registry.example/web:1.5.0"))
        .await;
    assert_eq!(drive.last().result, "succeeded", "{:?}", drive.last());
    assert_promoted_web(
        &world,
        &drive,
        "registry.example/web:1.5.0",
        &["blue=90 green=10", "blue=50 green=50", "blue=0 green=100"],
    )
    .await;
    // Health and smoke checks hit the green color before any traffic moved.
    assert_eq!(world.receiver.at("/health/green").len(), 1);
    assert_eq!(world.receiver.at("/smoke/green").len(), 1);
    assert_eq!(world.succeeded("route53:ChangeResourceRecordSets"), 3);
    assert!(world.succeeded("route53:GetChange") >= 3);
    // Audit: started and promoted.
    let audits = world.keys_under("audit/").await;
    assert_eq!(audits.len(), 2, "{audits:?}");
    // Info notifications: started, holding at each of the three bakes (with Promote and Abort
    // buttons bound to this deployment), then promoted (nothing left to press).
    let slack: Vec<serde_json::Value> = world
        .receiver
        .at("/slack")
        .iter()
        .map(|received| received.json())
        .collect();
    let titles: Vec<&str> = slack
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        titles,
        [
            ":information_source: web deployment started: registry.example/web:1.5.0",
            ":information_source: web baking with 10% on the new version",
            ":information_source: web baking with 50% on the new version",
            ":information_source: web baking with 100% on the new version",
            ":information_source: web deployed: registry.example/web:1.5.0",
        ]
    );
    let deployment = drive.jobs[0].clone();
    for message in &slack[..4] {
        let blocks = message["blocks"].as_array().expect("blocks");
        let actions = blocks.last().expect("blocks");
        assert_eq!(actions["type"], "actions", "{message}");
        let buttons: Vec<(&str, serde_json::Value)> = actions["elements"]
            .as_array()
            .expect("buttons")
            .iter()
            .map(|b| {
                (
                    b["action_id"].as_str().unwrap_or_default(),
                    serde_json::from_str(b["value"].as_str().unwrap_or_default())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let value = json!({"service": "web", "deployment_id": deployment});
        assert_eq!(
            buttons,
            [("ops:promote", value.clone()), ("ops:abort", value)],
            "{message}"
        );
    }
    let last = slack[4]["blocks"].as_array().expect("blocks");
    assert!(last.iter().all(|b| b["type"] != "actions"), "{}", slack[4]);
}

#[tokio::test]
async fn linear_and_blue_green_from_overrides() {
    let world = DeployWorld::new().await;
    let linear = json!({"service": "web", "image": "registry.example/web:1.5.0",
        "overrides": {"strategy": "linear", "step_percent": 50}});
    let drive = world.drive(&linear).await;
    assert_promoted_web(
        &world,
        &drive,
        "registry.example/web:1.5.0",
        &["blue=50 green=50", "blue=0 green=100"],
    )
    .await;

    // The next deployment goes to the idle color, now blue, all at once.
    let blue_green = json!({"service": "web", "image": "registry.example/web:1.6.0",
        "overrides": {"strategy": "blue_green"}});
    let drive = world.drive(&blue_green).await;
    assert_eq!(drive.last().result, "succeeded", "{:?}", drive.last());
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Promoted);
    assert_eq!(record.stable.target.as_deref(), Some("green"));
    assert_eq!(
        record.candidate.as_ref().and_then(|c| c.target.as_deref()),
        Some("blue")
    );
    let weights = world.web_weights().await;
    assert_eq!(
        weights,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    let blue = world.ecs("web-blue").await;
    assert_eq!(
        world.image_of(&blue.task_definition).await,
        "registry.example/web:1.6.0"
    );
}

#[tokio::test]
async fn rolling_and_all_at_once_update_in_place() {
    let world = DeployWorld::new().await;
    let drive = world
        .drive(&params("api", "registry.example/api:2.0.0"))
        .await;
    assert_eq!(drive.last().result, "succeeded", "{:?}", drive.last());
    let api = world.ecs("api").await;
    assert_eq!(
        world.image_of(&api.task_definition).await,
        "registry.example/api:2.0.0"
    );
    let described = world
        .admin
        .ecs
        .describe_services()
        .cluster(&world.prefix)
        .services("api")
        .send()
        .await
        .expect("describe");
    let configuration = described.services()[0]
        .deployment_configuration()
        .expect("config");
    let breaker = configuration
        .deployment_circuit_breaker()
        .expect("circuit breaker");
    assert!(breaker.enable() && breaker.rollback());
    assert_eq!(configuration.minimum_healthy_percent(), Some(100));
    assert_eq!(world.receiver.at("/health/api").len(), 1);

    let all_at_once = json!({"service": "api", "image": "registry.example/api:2.1.0",
        "overrides": {"strategy": "all_at_once"}});
    let drive = world.drive(&all_at_once).await;
    assert_eq!(drive.last().result, "succeeded", "{:?}", drive.last());
    let record = world.record("api").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Promoted);
    // The previous promotion was settled into the stable version when this one started.
    assert_eq!(
        world.image_of(&record.stable.task_definition).await,
        "registry.example/api:2.0.0"
    );
    let api = world.ecs("api").await;
    assert_eq!(
        world.image_of(&api.task_definition).await,
        "registry.example/api:2.1.0"
    );
    assert_eq!(world.succeeded("route53:ChangeResourceRecordSets"), 0);
}

#[tokio::test]
async fn alarm_in_bake_rolls_back_and_fails_the_job() {
    let world = DeployWorld::new().await;
    let p = params("web", "registry.example/web:1.5.0");
    let token = world.drive_to_first_bake(&p).await;
    assert_eq!(world.web_weights().await["green"], 10);
    world
        .alarm(
            &format!("{}-web-5xx", world.prefix),
            aws_sdk_cloudwatch::types::StateValue::Alarm,
        )
        .await;
    let drive = world.drive_from(&p, token.clone()).await;
    let call = final_call(&world, &drive);
    assert_eq!(call.failure_type(), Some("JobFailed"), "{call:?}");
    assert!(
        call.text().contains("web-5xx") && call.text().contains("ALARM"),
        "{}",
        call.text()
    );
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    assert_eq!(
        record.progress.as_ref().and_then(|p| p.outcome),
        Some(Outcome::RolledBack)
    );
    assert!(record
        .rollback
        .as_ref()
        .is_some_and(|m| m.alarm.ends_with("web-5xx")));
    // Critical: Slack and PagerDuty.
    assert_eq!(world.receiver.at("/pagerduty").len(), 1);
    // A duplicate of the last invocation reports the same failure again, changing nothing.
    let again = world
        .invoke(job_event(
            &ops_tests::unique("job"),
            &p,
            None,
            token.as_deref(),
        ))
        .await
        .expect("invoke");
    assert_eq!(again.failure_type.as_deref(), Some("JobFailed"));
    assert_eq!(world.succeeded("route53:ChangeResourceRecordSets"), 2);
}

#[tokio::test]
async fn failing_health_check_never_shifts_traffic() {
    let world =
        DeployWorld::with_config(|yaml| yaml.replace("/health/{target}", "/fail/health/{target}"))
            .await;
    let drive = world
        .drive(&params("web", "registry.example/web:1.5.0"))
        .await;
    let call = final_call(&world, &drive);
    assert_eq!(call.failure_type(), Some("JobFailed"));
    assert!(
        call.text().contains("health check") && call.text().contains("no traffic"),
        "{}",
        call.text()
    );
    assert_eq!(world.succeeded("route53:ChangeResourceRecordSets"), 0);
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Failed);
    // The health check was retried once (1 + retries attempts).
    assert_eq!(world.receiver.at("/fail/health/green").len(), 2);
}

#[tokio::test]
async fn quality_gate_errors_change_nothing() {
    let world = DeployWorld::new().await;
    let drive = world
        .drive(&params("web", "registry.example/web:latest"))
        .await;
    assert_eq!(drive.responses.len(), 1);
    let call = final_call(&world, &drive);
    assert_eq!(call.failure_type(), Some("JobFailed"));
    assert!(
        call.text().contains("image_pinned") && call.text().contains("nothing was changed"),
        "{}",
        call.text()
    );
    assert!(world.record("web").await.is_none());
    for action in [
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "route53:ChangeResourceRecordSets",
        "s3:PutObject",
    ] {
        assert_eq!(world.succeeded(action), 0, "{action}");
    }

    // A referenced secret that does not exist blocks too.
    world
        .admin
        .secrets
        .delete_secret()
        .secret_id(&world.seeded["web"].secret_arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete secret");
    let drive = world
        .drive(&params("web", "registry.example/web:1.5.0"))
        .await;
    let call = final_call(&world, &drive);
    assert!(call.text().contains("secret_exists"), "{}", call.text());

    // Bad parameters are a ConfigurationError.
    let drive = world
        .drive(&json!({"service": "nope", "image": "r/x:1.0.0"}))
        .await;
    let call = final_call(&world, &drive);
    assert_eq!(call.failure_type(), Some("ConfigurationError"));
    assert!(call.text().contains("known: api, web"), "{}", call.text());
    let drive = world
        .drive(&json!({"service": "web", "overrides": {"bake_seconds": 1}}))
        .await;
    let call = final_call(&world, &drive);
    assert_eq!(call.failure_type(), Some("ConfigurationError"));
    assert!(call.text().contains("bake_seconds"), "{}", call.text());
    assert!(world.record("web").await.is_none());
}

#[tokio::test]
async fn duplicate_invocations_do_everything_once() {
    let world = DeployWorld::new().await;
    let p = params("web", "registry.example/web:1.5.0");
    let second = world.other_deps(Settings::default());
    let mut token: Option<String> = None;
    let mut finished = false;
    for _ in 0..100 {
        let job = ops_tests::unique("job");
        let event = job_event(&job, &p, None, token.as_deref());
        // The same job delivered twice at once, to two containers.
        let (a, b) = tokio::join!(
            world.invoke(event.clone()),
            world.invoke_with(&second, event)
        );
        let (a, b) = (a.expect("a"), b.expect("b"));
        if a.result == "succeeded" || b.result == "succeeded" {
            finished = true;
            break;
        }
        assert!(
            a.result == "continue" || b.result == "continue",
            "{a:?} {b:?}"
        );
        token = world.token_after(&job);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(finished);
    let both = |action: &str| world.succeeded(action) + second.clients.recorder.succeeded(action);
    assert_eq!(
        both("route53:ChangeResourceRecordSets"),
        3,
        "one write per shift"
    );
    assert_eq!(both("ecs:UpdateService"), 1);
    assert_eq!(both("ecs:RegisterTaskDefinition"), 1);
    let record = world.record("web").await.expect("record");
    assert_eq!(history_events(&record, "traffic_shifted").len(), 3);
    assert_eq!(record.status, DeploymentStatus::Promoted);
}

#[tokio::test]
async fn crash_after_each_change_resumes_without_repeating_it() {
    let world = DeployWorld::new().await;
    let crashing = world.other_deps(Settings {
        crash_after_change: true,
        lease: chrono::Duration::seconds(1),
        ..Settings::default()
    });
    let resuming = world.other_deps(Settings {
        lease: chrono::Duration::seconds(1),
        ..Settings::default()
    });
    let p = params("web", "registry.example/web:1.5.0");
    let mut token: Option<String> = None;
    let mut crashes = BTreeSet::new();
    let mut done = None;
    for _ in 0..100 {
        let job = ops_tests::unique("job");
        let event = job_event(&job, &p, None, token.as_deref());
        let response = match world.invoke_with(&crashing, event.clone()).await {
            Err(HandlerError::InjectedCrash(step)) => {
                crashes.insert(step);
                // The claim's lease runs out, then a retry resumes.
                tokio::time::sleep(Duration::from_millis(1100)).await;
                world.invoke_with(&resuming, event).await.expect("resume")
            }
            other => other.expect("invoke"),
        };
        if response.result != "continue" {
            done = Some(response);
            break;
        }
        token = world.token_after(&job);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(done.map(|r| r.result).as_deref(), Some("succeeded"));
    assert_eq!(
        crashes,
        ["deploy", "register", "shift"].map(String::from).into()
    );
    let both = |action: &str| {
        crashing.clients.recorder.succeeded(action) + resuming.clients.recorder.succeeded(action)
    };
    assert_eq!(
        both("ecs:RegisterTaskDefinition"),
        1,
        "the crashed registration is reused"
    );
    assert_eq!(both("ecs:UpdateService"), 1);
    assert_eq!(both("route53:ChangeResourceRecordSets"), 3);
    assert_eq!(world.web_weights().await["green"], 100);
}

#[tokio::test]
async fn dry_run_reports_the_plan_and_changes_nothing() {
    let world = DeployWorld::new().await;
    let drive = world
        .drive(&json!({"service": "web", "image": "registry.example/web:1.5.0", "dry_run": true}))
        .await;
    assert_eq!(drive.responses.len(), 1);
    let call = final_call(&world, &drive);
    assert!(call.is_success() && call.continuation().is_none());
    let summary = call.text();
    assert!(summary.starts_with("DRY RUN"), "{summary}");
    assert!(
        summary.contains("shift 10% (blue=90 green=10)"),
        "{summary}"
    );
    assert!(summary.contains("all gates pass"), "{summary}");
    for action in [
        "s3:PutObject",
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "route53:ChangeResourceRecordSets",
    ] {
        assert_eq!(world.succeeded(action), 0, "{action}");
    }
    assert!(world.record("web").await.is_none());
}

#[tokio::test]
async fn outside_the_window_the_job_waits_or_fails() {
    let world = DeployWorld::with_config(|yaml| {
        yaml.replace(
            "      required_env: [LOG_LEVEL]\n",
            "      required_env: [LOG_LEVEL]\n      window: closed-now\n",
        )
    })
    .await;
    let job = ops_tests::unique("job");
    let response = world
        .invoke(job_event(
            &job,
            &params("web", "registry.example/web:1.5.0"),
            None,
            None,
        ))
        .await
        .expect("invoke");
    assert_eq!(response.result, "continue");
    assert!(
        response
            .summary
            .contains("outside deployment window closed-now"),
        "{}",
        response.summary
    );
    let token = world.token_after(&job).expect("token");
    assert!(token.contains("\"queued\":true"));
    assert!(world.record("web").await.is_none());
    assert_eq!(world.succeeded("s3:PutObject"), 0);
}

#[tokio::test]
async fn a_second_pipeline_waits_for_the_first_and_never_interleaves() {
    let world = DeployWorld::new().await;
    let first = params("web", "registry.example/web:1.5.0");
    let second = params("web", "registry.example/web:1.6.0");
    // The first starts.
    let job = ops_tests::unique("job");
    world
        .invoke(job_event(&job, &first, None, None))
        .await
        .expect("first");
    let first_token = world.token_after(&job);
    // The second arrives while the first is in flight: it waits.
    let job2 = ops_tests::unique("job");
    let waiting = world
        .invoke(job_event(&job2, &second, None, None))
        .await
        .expect("second");
    assert_eq!(waiting.result, "continue");
    assert!(
        waiting.summary.contains("is held by deployment"),
        "{}",
        waiting.summary
    );
    let second_token = world.token_after(&job2);
    // The first finishes, then the second runs.
    let drive = world.drive_from(&first, first_token).await;
    assert_eq!(drive.last().result, "succeeded");
    let drive = world.drive_from(&second, second_token).await;
    assert_eq!(drive.last().result, "succeeded", "{:?}", drive.last());
    let record = world.record("web").await.expect("record");
    assert_eq!(
        world.image_of(&record.stable.task_definition).await,
        "registry.example/web:1.5.0"
    );
    let shifted = history_events(&record, "traffic_shifted");
    assert_eq!(shifted.len(), 6, "{shifted:?}");

    // With on_busy: fail, the second fails clearly instead.
    let strict = DeployWorld::with_config(|yaml| {
        yaml.replace(
            "      required_env: [LOG_LEVEL]\n",
            "      required_env: [LOG_LEVEL]\n      on_busy: fail\n",
        )
    })
    .await;
    strict
        .invoke(job_event(&ops_tests::unique("job"), &first, None, None))
        .await
        .expect("first");
    let job3 = ops_tests::unique("job");
    let failed = strict
        .invoke(job_event(&job3, &second, None, None))
        .await
        .expect("second");
    assert_eq!(failed.failure_type.as_deref(), Some("JobFailed"));
    assert!(
        failed.summary.contains("does not interleave"),
        "{}",
        failed.summary
    );
}

#[tokio::test]
async fn rollback_by_alarm_rollback_fails_the_next_invocation_with_its_reason() {
    let world = DeployWorld::new().await;
    let p = params("web", "registry.example/web:1.5.0");
    let token = world.drive_to_first_bake(&p).await;
    // alarm-rollback, driven by an EventBridge alarm event, takes the service back.
    let rollback_deps = alarm_rollback_deps(&world).await;
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(ops_tests::workspace_root().join("events/alarm-eventbridge.json"))
            .expect("event"),
    )
    .expect("json");
    let alarm = format!("{}-web-5xx", world.prefix);
    event["detail"]["alarmName"] = json!(alarm);
    let mut context = Context::default();
    context.request_id = ops_tests::unique("req");
    let rolled = alarm_rollback::handle(&rollback_deps, LambdaEvent::new(event, context))
        .await
        .expect("rollback");
    assert_eq!(rolled.results[0].services[0].action, "rolled_back");
    assert_eq!(world.web_weights().await["green"], 0);
    let job = ops_tests::unique("job");
    let response = world
        .invoke(job_event(&job, &p, None, token.as_deref()))
        .await
        .expect("invoke");
    assert_eq!(response.failure_type.as_deref(), Some("JobFailed"));
    assert!(
        response
            .summary
            .contains(&format!("alarm {alarm} rolled web back")),
        "{}",
        response.summary
    );
    assert!(
        response.summary.contains("Threshold Crossed"),
        "{}",
        response.summary
    );
    let record = world.record("web").await.expect("record");
    assert_eq!(
        record.progress.as_ref().and_then(|p| p.outcome),
        Some(Outcome::RolledBack)
    );
    // One page: alarm-rollback's. deploy-hook records the outcome without paging again.
    assert_eq!(world.receiver.at("/pagerduty").len(), 1);
}

pub(crate) async fn alarm_rollback_deps(world: &DeployWorld) -> alarm_rollback::Deps {
    let clients = AwsClients::new(&world.sdk);
    alarm_rollback::Deps {
        store: ops_adapters::s3::StateStore::new(clients.s3.clone(), &world.prefix),
        config: ops_adapters::s3::ConfigSource::new(
            &format!("s3://{}/{}", world.prefix, keys::CONFIG_KEY),
            clients.s3.clone(),
        )
        .expect("uri"),
        notifier: Notifier::new(Arc::new(SecretCache::new(
            clients.secrets.clone(),
            Duration::from_secs(60),
        ))),
        settings: alarm_rollback::Settings::default(),
        clients,
    }
}

#[tokio::test]
async fn decommission_settles_after_the_window_and_scales_the_old_color_to_zero() {
    let world = DeployWorld::with_config(|yaml| {
        yaml.replace(
            "      bake_seconds: 2\n",
            "      bake_seconds: 2\n      rollback_window_seconds: 1\n",
        )
    })
    .await;
    let drive = world
        .drive(&params("web", "registry.example/web:1.5.0"))
        .await;
    assert_eq!(drive.last().result, "succeeded");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let response = world
        .invoke(json!({"action": "decommission"}))
        .await
        .expect("decommission");
    assert_eq!(response.result, "decommissioned");
    assert!(
        response.summary.contains("web-blue (blue) scaled to 0"),
        "{}",
        response.summary
    );
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Stable);
    assert_eq!(record.stable.target.as_deref(), Some("green"));
    assert_eq!(world.ecs("web-blue").await.desired_count, 0);
    // Running it again finds nothing left to do.
    let again = world
        .invoke(json!({"action": "decommission"}))
        .await
        .expect("again");
    assert_eq!(again.summary, "nothing to decommission");
}

#[tokio::test]
async fn image_from_the_input_artifact_read_with_the_job_credentials() {
    let world = DeployWorld::new().await;
    let zip = deploy_hook::artifact::zip_with(
        "imagedefinitions.json",
        br#"[{"name":"app","imageUri":"registry.example/api:3.0.0"}]"#,
    );
    world
        .admin
        .s3
        .put_object()
        .bucket(&world.prefix)
        .key("artifacts/build.zip")
        .body(zip.into())
        .send()
        .await
        .expect("artifact");
    let job = ops_tests::unique("job");
    let event = job_event(
        &job,
        &json!({"service": "api"}),
        Some((&world.prefix, "artifacts/build.zip")),
        None,
    );
    let response = world.invoke(event).await.expect("invoke");
    assert_eq!(response.result, "continue", "{response:?}");
    let record = world.record("api").await.expect("record");
    assert_eq!(
        record.progress.expect("progress").image,
        "registry.example/api:3.0.0"
    );
    // The artifact credentials are never stored.
    let stored = serde_json::to_string(&world.record("api").await).expect("json");
    assert!(!stored.contains("example-secret-access-key-not-real"));
}

#[tokio::test]
async fn aws_unavailable_is_system_unavailable_with_the_record_intact() {
    let world = DeployWorld::new().await;
    let job = ops_tests::unique("job");
    world
        .invoke(job_event(
            &job,
            &params("api", "registry.example/api:2.0.0"),
            None,
            None,
        ))
        .await
        .expect("start");
    let token = world.token_after(&job);
    let before = world.record("api").await.expect("record");
    // A container whose ECS endpoint is down.
    let mut broken = deps_for(
        &world.sdk,
        &world.prefix,
        &world.pipeline,
        Settings::default(),
    );
    let dead = world
        .sdk
        .to_builder()
        .endpoint_url(format!(
            "http://127.0.0.1:{}",
            ops_tests::emulator::free_port()
        ))
        .build();
    broken.clients.ecs = aws_sdk_ecs::Client::new(&dead);
    let job2 = ops_tests::unique("job");
    let response = world
        .invoke_with(
            &broken,
            job_event(
                &job2,
                &params("api", "registry.example/api:2.0.0"),
                None,
                token.as_deref(),
            ),
        )
        .await
        .expect("reported");
    assert_eq!(
        response.failure_type.as_deref(),
        Some("SystemUnavailable"),
        "{response:?}"
    );
    // Intact: where the deployment stands is unchanged (only the writer's identity is new).
    let unwritten = |progress: Option<ops_domain::deploy::Progress>| {
        progress.map(|mut p| {
            p.written_by = None;
            p
        })
    };
    assert_eq!(
        unwritten(world.record("api").await.expect("record").progress),
        unwritten(before.progress)
    );
    // Retrying the stage with a healthy container resumes.
    let drive = world
        .drive_from(&params("api", "registry.example/api:2.0.0"), token)
        .await;
    assert_eq!(drive.last().result, "succeeded", "{:?}", drive.last());
}

/// The AWS actions deploy-hook performs across its paths (for the least-privilege test).
pub async fn least_privilege_scenarios() -> BTreeSet<String> {
    let world = DeployWorld::new().await;
    let drive = world
        .drive(&params("web", "registry.example/web:1.5.0"))
        .await;
    assert_eq!(drive.last().result, "succeeded");
    world
        .alarm(
            &format!("{}-api-errors", world.prefix),
            aws_sdk_cloudwatch::types::StateValue::Alarm,
        )
        .await;
    let drive = world
        .drive(&params("api", "registry.example/api:2.0.0"))
        .await;
    assert_eq!(drive.last().failure_type.as_deref(), Some("JobFailed"));
    world
        .invoke(json!({"action": "decommission"}))
        .await
        .expect("decommission");
    let mut called: BTreeSet<String> = world
        .deps
        .clients
        .recorder
        .calls()
        .into_iter()
        .map(|call| call.action)
        .collect();
    called.extend(analysis_and_hook_scenarios().await);
    called
}

/// What metric analysis and lifecycle hooks call: `web` runs a migration task before it deploys
/// (ListTasks for a task already started, RunTask, DescribeTasks until it stops); `api` measures
/// an error rate on its bake (GetMetricData) and asks a Lambda hook once promoted (Invoke; the
/// function does not exist here, and the attempt is what counts). A few invocations each: the
/// calls are made by then, whatever the task and the function answer on the emulator.
async fn analysis_and_hook_scenarios() -> BTreeSet<String> {
    let function = ops_tests::unique("hook");
    let world = DeployWorld::with_config(|yaml| {
        let task = "      hooks:\n        pre_deploy:\n          - task: { command: [./migrate, up], timeout_seconds: 60 }\n";
        let api = format!(
            r#"      analysis:
        metrics:
          error-rate:
            queries:
              - {{ id: errors, metric: {{ namespace: AWS/ApplicationELB, name: HTTPCode_Target_5XX_Count, dimensions: {{ TargetGroup: "{{target}}" }}, stat: Sum, period_seconds: 1 }} }}
            success: result < 1
            interval_seconds: 1
            count: 1
            inconclusive: pass
      hooks:
        post_promote:
          - lambda: {{ function: {function}, timeout_seconds: 60 }}
"#
        );
        yaml.replace(
            "      required_env: [LOG_LEVEL]\n",
            &format!("      required_env: [LOG_LEVEL]\n{task}"),
        )
        // One measurement of 1 s (a high-resolution period) in a bake as long.
        .replace("      bake_seconds: 1\n", &format!("      bake_seconds: 1\n{api}"))
    })
    .await;
    for (service, image, invocations) in [
        ("web", "registry.example/web:1.5.0", 4),
        ("api", "registry.example/api:2.0.0", 16),
    ] {
        let p = params(service, image);
        let mut token = None;
        for _ in 0..invocations {
            let job = ops_tests::unique("job");
            let Ok(response) = world
                .invoke(job_event(&job, &p, None, token.as_deref()))
                .await
            else {
                break;
            };
            if response.result != "continue" {
                break;
            }
            token = world.token_after(&job);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    world
        .deps
        .clients
        .recorder
        .calls()
        .into_iter()
        .map(|call| call.action)
        .collect()
}

#[tokio::test]
async fn failing_health_check_after_a_rolling_update_puts_the_service_back() {
    let world =
        DeployWorld::with_config(|yaml| yaml.replace("/health/api", "/fail/health/api")).await;
    let drive = world
        .drive(&params("api", "registry.example/api:2.0.0"))
        .await;
    let call = final_call(&world, &drive);
    assert_eq!(call.failure_type(), Some("JobFailed"));
    assert!(call.text().contains("health check"), "{}", call.text());
    // In place, the new version ran before the check; the failure puts the service back.
    let api = world.ecs("api").await;
    assert_eq!(api.task_definition, world.seeded["api"].stable);
    let record = world.record("api").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Failed);
    assert_eq!(
        world.succeeded("ecs:UpdateService"),
        2,
        "the update and its revert"
    );
}

#[tokio::test]
async fn outside_a_failing_window_the_job_fails_and_changes_nothing() {
    let world = DeployWorld::with_config(|yaml| {
        yaml.replace("outside: wait", "outside: fail").replace(
            "      required_env: [LOG_LEVEL]\n",
            "      required_env: [LOG_LEVEL]\n      window: closed-now\n",
        )
    })
    .await;
    let drive = world
        .drive(&params("web", "registry.example/web:1.5.0"))
        .await;
    assert_eq!(drive.responses.len(), 1);
    let call = final_call(&world, &drive);
    assert_eq!(call.failure_type(), Some("JobFailed"));
    assert!(
        call.text().contains("outside deployment window closed-now"),
        "{}",
        call.text()
    );
    assert!(world.record("web").await.is_none());
}

// ---------------------------------------------------------------------------------------------
// Retries, rollback finality, claims, owed audit records and quoting under faults
// ---------------------------------------------------------------------------------------------

/// Audit keys deploy-hook wrote.
pub(crate) async fn deploy_audits(world: &DeployWorld) -> Vec<String> {
    world
        .keys_under("audit/")
        .await
        .into_iter()
        .filter(|key| key.contains("/deploy-hook/"))
        .collect()
}

/// Continues a job chain until a result other than `continue`, at most `bound` invocations.
async fn continue_until_final(
    world: &DeployWorld,
    params: &Value,
    mut token: Option<String>,
    bound: usize,
) -> Response {
    for _ in 0..bound {
        let job = ops_tests::unique("job");
        let response = world
            .invoke(job_event(&job, params, None, token.as_deref()))
            .await
            .expect("reported");
        if response.result != "continue" {
            return response;
        }
        token = world.token_after(&job);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("no final result within {bound} invocations");
}

async fn alarm_rollback_now(world: &DeployWorld) -> String {
    let rollback_deps = alarm_rollback_deps(world).await;
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(ops_tests::workspace_root().join("events/alarm-eventbridge.json"))
            .expect("event"),
    )
    .expect("json");
    let alarm = format!("{}-web-5xx", world.prefix);
    event["detail"]["alarmName"] = json!(alarm);
    let mut context = Context::default();
    context.request_id = ops_tests::unique("req");
    let rolled = alarm_rollback::handle(&rollback_deps, LambdaEvent::new(event, context))
        .await
        .expect("rollback");
    assert_eq!(rolled.results[0].services[0].action, "rolled_back");
    alarm
}

#[tokio::test]
async fn stage_retry_after_a_lost_route53_answer_resumes_and_promotes() {
    let (world, proxy) = DeployWorld::behind_proxy(|yaml| yaml, Settings::default()).await;
    let p = params("web", "registry.example/web:1.5.0");
    let token = world.drive_to_first_bake(&p).await;
    // The 50 % change reaches Route53, but every answer to it is lost.
    proxy.set_plan(FaultPlan::drops(7, 1.0).only(["route53:ChangeResourceRecordSets"]));
    let failed = continue_until_final(&world, &p, token, 30).await;
    assert_eq!(
        failed.failure_type.as_deref(),
        Some("SystemUnavailable"),
        "{failed:?}"
    );
    assert!(proxy.stats().dropped >= 1, "{}", proxy.summary());
    assert_eq!(world.web_weights().await["green"], 50, "the change landed");
    proxy.disable();
    // The operator retries the stage: a new job without a token, same parameters. It adopts
    // the deployment instead of waiting for it forever.
    let (job, resumed) = world.stage_retry(&p).await;
    assert_eq!(resumed.result, "continue", "{resumed:?}");
    assert!(
        !resumed.summary.contains("is held by"),
        "{}",
        resumed.summary
    );
    let done = continue_until_final(&world, &p, world.token_after(&job), 60).await;
    assert_eq!(done.result, "succeeded", "{done:?}");
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Promoted);
    assert_eq!(
        history_events(&record, "traffic_shifted"),
        ["blue=90 green=10", "blue=50 green=50", "blue=0 green=100"],
        "no step skipped or repeated"
    );
    assert_eq!(history_events(&record, "adopted").len(), 1);
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 0), ("green".to_owned(), 100)].into()
    );
    assert_eq!(world.succeeded("ecs:RegisterTaskDefinition"), 1);
    assert_eq!(deploy_audits(&world).await.len(), 2);
}

#[tokio::test]
async fn claims_left_by_a_crash_are_taken_over_at_once_by_their_retry() {
    let world = DeployWorld::new().await;
    // The default lease (120 s): nothing in this test may wait for it.
    let crashing = world.other_deps(Settings {
        crash_after_change: true,
        ..Settings::default()
    });
    let p = params("api", "registry.example/api:2.0.0");
    let first = ops_tests::unique("job");
    world
        .invoke(job_event(&first, &p, None, None))
        .await
        .expect("start");
    // The registration happens, then the invocation dies before recording it.
    let job = ops_tests::unique("job");
    let event = job_event(&job, &p, None, world.token_after(&first).as_deref());
    let request = ops_tests::unique("req");
    let crashed = world.invoke_as(&crashing, event.clone(), &request).await;
    assert!(
        matches!(&crashed, Err(HandlerError::InjectedCrash(step)) if step == "register"),
        "{crashed:?}"
    );
    // Lambda retries the same event under the same request id: its own claim, taken over now.
    let retried = world
        .invoke_as(&world.deps, event, &request)
        .await
        .expect("retry");
    assert_eq!(retried.result, "continue", "{retried:?}");
    assert!(
        retried.summary.contains("registered"),
        "{}",
        retried.summary
    );
    let both = |action: &str| world.succeeded(action) + crashing.clients.recorder.succeeded(action);
    assert_eq!(
        both("ecs:RegisterTaskDefinition"),
        1,
        "the revision is reused"
    );
    // The ECS update happens, then the invocation dies.
    let token = world.token_after(&job);
    let job2 = ops_tests::unique("job");
    let crashed = world
        .invoke_with(&crashing, job_event(&job2, &p, None, token.as_deref()))
        .await;
    assert!(
        matches!(&crashed, Err(HandlerError::InjectedCrash(step)) if step == "deploy"),
        "{crashed:?}"
    );
    // A copy of the job under another request id may be a live duplicate: it keeps off.
    let copy = world
        .invoke(job_event(&job2, &p, None, token.as_deref()))
        .await
        .expect("copy");
    assert!(
        copy.summary.contains("another invocation is updating ECS"),
        "{}",
        copy.summary
    );
    // The operator retries the stage: the new job adopts the deployment and the claim of the
    // chain that ended is taken over at once.
    let (retry, resumed) = world.stage_retry(&p).await;
    assert_eq!(resumed.result, "continue", "{resumed:?}");
    assert!(resumed.summary.contains("updated"), "{}", resumed.summary);
    // The old chain's token no longer drives anything.
    let stale = world
        .invoke(job_event(
            &ops_tests::unique("job"),
            &p,
            None,
            token.as_deref(),
        ))
        .await
        .expect("stale");
    assert_eq!(stale.failure_type.as_deref(), Some("JobFailed"));
    assert!(
        stale.summary.contains("now driven by job"),
        "{}",
        stale.summary
    );
    let done = continue_until_final(&world, &p, world.token_after(&retry), 60).await;
    assert_eq!(done.result, "succeeded", "{done:?}");
    assert_eq!(both("ecs:UpdateService"), 1, "the update is not made twice");
    let record = world.record("api").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Promoted);
    assert_eq!(
        world
            .image_of(&world.ecs("api").await.task_definition)
            .await,
        "registry.example/api:2.0.0"
    );
}

#[tokio::test]
async fn stage_retry_of_a_rolled_back_release_is_refused_and_changes_nothing() {
    let world = DeployWorld::new().await;
    let p = params("web", "registry.example/web:1.5.0");
    world.drive_to_first_bake(&p).await;
    let alarm = alarm_rollback_now(&world).await;
    let rolled_back = world.record("web").await.expect("record");
    let changes = [
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "route53:ChangeResourceRecordSets",
    ];
    let before: Vec<usize> = changes.iter().map(|a| world.succeeded(a)).collect();
    for _ in 0..2 {
        let (_, refused) = world.stage_retry(&p).await;
        assert_eq!(
            refused.failure_type.as_deref(),
            Some("JobFailed"),
            "{refused:?}"
        );
        assert!(
            refused
                .summary
                .contains(&format!("alarm {alarm} rolled web back")),
            "{}",
            refused.summary
        );
    }
    let after: Vec<usize> = changes.iter().map(|a| world.succeeded(a)).collect();
    assert_eq!(before, after, "a refused release changes nothing in AWS");
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    assert_eq!(
        record.rollback, rolled_back.rollback,
        "the rollback mark stays"
    );
    assert_eq!(record.deployment_id, rolled_back.deployment_id);
    assert_eq!(
        record.progress.as_ref().and_then(|p| p.outcome),
        Some(Outcome::RolledBack)
    );
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    // A new release runs; the rolled-back image stays refused after it.
    let drive = world
        .drive(&params("web", "registry.example/web:1.6.0"))
        .await;
    assert_eq!(drive.last().result, "succeeded", "{:?}", drive.last());
    let (_, again) = world.stage_retry(&p).await;
    assert_eq!(again.failure_type.as_deref(), Some("JobFailed"));
    assert!(
        again
            .summary
            .contains("registry.example/web:1.5.0 was rolled back by alarm"),
        "{}",
        again.summary
    );
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Promoted);
    assert_eq!(record.rolled_back.len(), 1);
    let audits = deploy_audits(&world).await;
    assert_eq!(
        audits
            .iter()
            .filter(|k| k.ends_with("-deployment_rolled_back.json"))
            .count(),
        1,
        "{audits:?}"
    );
}

#[tokio::test]
async fn a_record_write_failing_while_rolled_back_still_fails_the_job() {
    let (world, proxy) = DeployWorld::behind_proxy(|yaml| yaml, Settings::default()).await;
    let p = params("web", "registry.example/web:1.5.0");
    let token = world.drive_to_first_bake(&p).await;
    let alarm = alarm_rollback_now(&world).await;
    // S3 answers every write with an error: the outcome cannot be recorded.
    proxy.set_plan(FaultPlan::errors(3, 1.0).only(["s3:PutObject"]));
    let continued = world
        .invoke(job_event(
            &ops_tests::unique("job"),
            &p,
            None,
            token.as_deref(),
        ))
        .await
        .expect("reported");
    let (_, retried) = world.stage_retry(&p).await;
    for response in [&continued, &retried] {
        assert_eq!(
            response.failure_type.as_deref(),
            Some("JobFailed"),
            "{response:?}"
        );
        assert!(
            response
                .summary
                .contains(&format!("alarm {alarm} rolled web back")),
            "{}",
            response.summary
        );
    }
    assert!(proxy.stats().errors_total() > 0, "{}", proxy.summary());
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    assert!(record.rollback.is_some());
    assert_eq!(record.progress.as_ref().and_then(|p| p.outcome), None);
    assert_eq!(world.web_weights().await["green"], 0);
    // Once S3 is back, the next job for the release is refused too, and the bookkeeping done.
    proxy.disable();
    let (_, refused) = world.stage_retry(&p).await;
    assert_eq!(refused.failure_type.as_deref(), Some("JobFailed"));
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    assert_eq!(
        record.progress.as_ref().and_then(|p| p.outcome),
        Some(Outcome::RolledBack)
    );
    assert_eq!(record.rolled_back[0].image, "registry.example/web:1.5.0");
    assert!(record.audit_owed.is_empty());
    assert_eq!(
        deploy_audits(&world)
            .await
            .iter()
            .filter(|k| k.ends_with("-deployment_rolled_back.json"))
            .count(),
        1
    );
}

#[tokio::test]
async fn audit_records_are_owed_until_written_and_written_once() {
    let (world, proxy) = DeployWorld::behind_proxy(|yaml| yaml, Settings::default()).await;
    let p = params("api", "registry.example/api:2.0.0");
    // Audit writes are refused from the start.
    proxy.echo_auth_error_for("/audit/");
    let first = ops_tests::unique("job");
    let started = world
        .invoke(job_event(&first, &p, None, None))
        .await
        .expect("start");
    assert_eq!(started.result, "continue", "{started:?}");
    let owed = |record: &DeploymentRecord| -> Vec<String> {
        record.audit_owed.iter().map(|a| a.action.clone()).collect()
    };
    assert_eq!(
        owed(&world.record("api").await.expect("record")),
        ["deployment_started"]
    );
    // The next step does not run while the audit record is owed.
    let job = ops_tests::unique("job");
    let held = world
        .invoke(job_event(
            &job,
            &p,
            None,
            world.token_after(&first).as_deref(),
        ))
        .await
        .expect("held");
    assert_eq!(held.result, "continue");
    assert!(
        held.summary.contains("audit record is owed"),
        "{}",
        held.summary
    );
    assert_eq!(world.succeeded("ecs:RegisterTaskDefinition"), 0);
    proxy.disable();
    // Drive up to the promotion, then refuse audit writes again.
    let mut token = world.token_after(&job);
    for _ in 0..60 {
        let record = world.record("api").await.expect("record");
        let progress = record.progress.expect("progress");
        if progress.current() == Some(&ops_domain::deploy::Step::Promote) {
            break;
        }
        let job = ops_tests::unique("job");
        let response = world
            .invoke(job_event(&job, &p, None, token.as_deref()))
            .await
            .expect("invoke");
        assert_eq!(response.result, "continue", "{response:?}");
        token = world.token_after(&job);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    proxy.echo_auth_error_for("/audit/");
    for _ in 0..2 {
        let job = ops_tests::unique("job");
        let response = world
            .invoke(job_event(&job, &p, None, token.as_deref()))
            .await
            .expect("invoke");
        assert_eq!(
            response.result, "continue",
            "not finished while owed: {response:?}"
        );
        token = world.token_after(&job);
    }
    let record = world.record("api").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::Promoted);
    assert_eq!(owed(&record), ["deployment_promoted"]);
    assert!(proxy.stats().echoed >= 2, "{}", proxy.summary());
    proxy.disable();
    let done = continue_until_final(&world, &p, token, 5).await;
    assert_eq!(done.result, "succeeded", "{done:?}");
    assert!(world
        .record("api")
        .await
        .expect("record")
        .audit_owed
        .is_empty());
    let audits = deploy_audits(&world).await;
    assert_eq!(audits.len(), 2, "{audits:?}");
    assert!(audits
        .iter()
        .any(|k| k.ends_with("-deployment_started.json")));
    assert!(audits
        .iter()
        .any(|k| k.ends_with("-deployment_promoted.json")));
}

/// Log lines written while the returned guard lives (this thread's subscriber).
fn capture_logs() -> (
    Arc<std::sync::Mutex<Vec<u8>>>,
    tracing::subscriber::DefaultGuard,
) {
    #[derive(Clone)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut buffer) = self.0.lock() {
                buffer.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer: Arc<std::sync::Mutex<Vec<u8>>> = Arc::default();
    let sink = Sink(buffer.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || sink.clone())
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

#[tokio::test(flavor = "current_thread")]
async fn artifact_auth_errors_and_huge_parameters_are_never_echoed() {
    let (logs, _guard) = capture_logs();
    let (world, proxy) = DeployWorld::behind_proxy(|yaml| yaml, Settings::default()).await;
    // S3 answers the artifact GET with SignatureDoesNotMatch, echoing the request: access key
    // id, canonical request, x-amz-security-token.
    proxy.echo_auth_error_for("leak-build.zip");
    let job = ops_tests::unique("job");
    let response = world
        .invoke(job_event(
            &job,
            &json!({"service": "api"}),
            Some((&world.prefix, "artifacts/leak-build.zip")),
            None,
        ))
        .await
        .expect("reported");
    assert!(proxy.stats().echoed >= 1, "{}", proxy.summary());
    assert_eq!(
        response.failure_type.as_deref(),
        Some("JobFailed"),
        "{response:?}"
    );
    assert!(
        response.summary.contains("SignatureDoesNotMatch"),
        "{}",
        response.summary
    );
    let calls = world.pipeline.for_job(&job);
    assert_eq!(calls.len(), 1);
    let shown = [
        calls[0].body.to_string(),
        serde_json::to_string(&response).expect("json"),
        String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned(),
    ];
    for secret in [
        "example-session-token-not-real",
        "ASIAEXAMPLEEXAMPLE00",
        "example-secret-access-key-not-real",
        "CanonicalRequest",
    ] {
        for text in &shown {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
    assert!(world.record("api").await.is_none(), "nothing was changed");

    // A 1 MB UserParameters value or key is quoted only in part, everywhere.
    let huge = "x".repeat(1 << 20);
    let mut huge_key = serde_json::Map::new();
    huge_key.insert(huge.clone(), json!(1));
    huge_key.insert("service".into(), json!("web"));
    for parameters in [
        json!({"service": huge}),
        json!({"service": "web", "overrides": {"strategy": huge}}),
        Value::Object(huge_key),
        json!({"service": "web", "image": "r/web:1.0.0", "container": huge}),
    ] {
        let job = ops_tests::unique("job");
        let response = world
            .invoke(job_event(&job, &parameters, None, None))
            .await
            .expect("reported");
        assert_eq!(
            response.failure_type.as_deref(),
            Some("ConfigurationError"),
            "{}",
            &response.summary[..response.summary.len().min(300)]
        );
        let call = &world.pipeline.for_job(&job)[0];
        assert!(call.text().len() < 3000, "{} characters", call.text().len());
        assert!(response.summary.len() < 3000);
    }
    let logged = logs.lock().expect("logs").len();
    assert!(logged < 64 * 1024, "{logged} bytes of logs");
}

#[tokio::test]
async fn s3_unavailable_on_the_config_read_is_system_unavailable() {
    let (world, proxy) = DeployWorld::behind_proxy(|yaml| yaml, Settings::default()).await;
    proxy.set_plan(FaultPlan::errors(5, 1.0).only(["s3:GetObject"]));
    let p = params("api", "registry.example/api:2.0.0");
    let (_, response) = world.stage_retry(&p).await;
    assert_eq!(
        response.failure_type.as_deref(),
        Some("SystemUnavailable"),
        "{response:?}"
    );
    let error = world
        .invoke(json!({"action": "decommission"}))
        .await
        .expect_err("config unreadable");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "SystemUnavailable");
    assert!(world.record("api").await.is_none());
    proxy.disable();
    let (_, response) = world.stage_retry(&p).await;
    assert_eq!(response.result, "continue", "{response:?}");
}
