//! Shared helpers: a per-test world (bucket, config, secrets, seeded services, function deps)
//! with unique names so tests run in parallel against one emulator.

use std::sync::Arc;
use std::time::Duration;

use alarm_rollback::{Deps, Response, Settings};
use lambda_runtime::{Context, LambdaEvent};
use ops_adapters::notify::Notifier;
use ops_adapters::s3::{ConfigSource, StateStore};
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::AwsClients;
use ops_domain::config::SuiteConfig;
use ops_domain::deployment::DeploymentRecord;
use ops_domain::keys;
use ops_tests::emulator::Emulator;
use ops_tests::receiver::Receiver;
use ops_tests::seed::{self, SeededService};
use serde_json::Value;

/// Everything one test needs.
pub struct World {
    /// Clients for seeding and assertions (their calls are not the function's).
    pub admin: AwsClients,
    /// The function's dependencies; `deps.clients.recorder` holds the function's calls.
    pub deps: Arc<Deps>,
    /// Notifier stand-ins.
    pub receiver: Receiver,
    /// Unique prefix of this world's names.
    pub prefix: String,
    /// The default config the resources were seeded from.
    pub config: SuiteConfig,
    /// Seeded services by name.
    pub seeded: std::collections::BTreeMap<String, SeededService>,
    /// The SDK configuration pointing at the emulator.
    pub sdk: aws_config::SdkConfig,
}

/// The config of a world: a canary `checkout` with blue/green targets in its own zone, a rolling
/// `billing`, and alarms that guard them (names prefixed so worlds never collide).
pub fn config_yaml(prefix: &str) -> String {
    format!(
        r#"version: 1
notifications:
  channels:
    slack: {{ kind: slack, secret: {prefix}/slack }}
    hook: {{ kind: webhook, secret: {prefix}/webhook }}
    pager: {{ kind: pagerduty, secret: {prefix}/pagerduty }}
  routes:
    info: [slack]
    warning: [slack, hook]
    critical: [slack, hook, pager]
services:
  checkout:
    cluster: {prefix}
    strategy: canary
    traffic:
      zone_name: {prefix}.internal.
      record_name: checkout.{prefix}.internal.
      record_type: CNAME
      ttl: 60
      targets:
        blue: {{ ecs_service: checkout-blue, value: blue.checkout.{prefix}.internal }}
        green: {{ ecs_service: checkout-green, value: green.checkout.{prefix}.internal }}
  billing:
    cluster: {prefix}
    strategy: rolling
    ecs_service: billing
alarms:
  - {{ alarm: checkout-5xx-rate, services: [checkout], severity: critical }}
  - {{ alarm: "checkout-latency-*", services: [checkout], severity: warning }}
  - {{ alarm: billing-errors, services: [billing], severity: critical }}
  - {{ alarm: checkout-info, services: [checkout], severity: info, rollback: false }}
"#
    )
}

impl World {
    /// A world with seeded services and the function's config uploaded.
    pub async fn new() -> World {
        Self::with_config(|yaml| yaml).await
    }

    /// A world whose config text is changed by `edit` before upload.
    pub async fn with_config(edit: impl FnOnce(String) -> String) -> World {
        let emulator = Emulator::shared();
        let sdk = emulator.sdk_config().await;
        let admin = AwsClients::new(&sdk);
        let receiver = Receiver::start().await;
        let prefix = ops_tests::unique("t");
        // Resources are always seeded from the default config; `edit` changes only what the
        // function reads, so a test can describe a config that disagrees with the account.
        let default_yaml = config_yaml(&prefix);
        let yaml = edit(default_yaml.clone());
        seed::create_bucket(&admin, &prefix).await.expect("bucket");
        seed::upload_config(&admin, &prefix, &yaml)
            .await
            .expect("config");
        let store = StateStore::new(admin.s3.clone(), &prefix);
        let config = ops_domain::config::parse(&default_yaml).expect("default config");
        seed::notifier_secrets(&admin, &config, &receiver.url)
            .await
            .expect("secrets");
        let seeded = seed::services(&admin, &store, &config).await.expect("seed");
        let clients = AwsClients::new(&sdk);
        let deps = Deps {
            store: StateStore::new(clients.s3.clone(), &prefix),
            config: ConfigSource::new(
                &format!("s3://{prefix}/{}", keys::CONFIG_KEY),
                clients.s3.clone(),
            )
            .expect("config uri"),
            notifier: Notifier::new(Arc::new(SecretCache::new(
                clients.secrets.clone(),
                Duration::from_secs(60),
            ))),
            settings: Settings::default(),
            clients,
        };
        World {
            admin,
            deps: Arc::new(deps),
            receiver,
            prefix,
            config,
            seeded,
            sdk,
        }
    }

    /// A sample event from `events/`.
    pub fn event(&self, file: &str) -> Value {
        let path = ops_tests::workspace_root().join("events").join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        serde_json::from_str(&text).expect("sample event is JSON")
    }

    /// Invokes the handler in-process, as the runtime would.
    pub async fn invoke(&self, event: Value) -> Result<Response, alarm_rollback::HandlerError> {
        let mut context = Context::default();
        context.request_id = ops_tests::unique("req");
        alarm_rollback::handle(&self.deps, LambdaEvent::new(event, context)).await
    }

    /// The state store as the test sees it.
    pub fn store(&self) -> StateStore {
        StateStore::new(self.admin.s3.clone(), &self.prefix)
    }

    /// A service's deployment record.
    pub async fn record(&self, service: &str) -> DeploymentRecord {
        self.store()
            .get::<DeploymentRecord>(&keys::deployment_record(service))
            .await
            .expect("read")
            .expect("record exists")
            .value
    }

    /// Live weights of `checkout`'s record.
    pub async fn checkout_weights(&self) -> Vec<(String, i64)> {
        let zone = self.seeded["checkout"].zone_id.clone().expect("zone");
        seed::weights(
            &self.admin,
            &zone,
            &format!("checkout.{}.internal.", self.prefix),
            "CNAME",
        )
        .await
        .expect("weights")
        .into_iter()
        .collect()
    }

    /// The task definition an ECS service of this world runs.
    pub async fn task_definition(&self, service: &str) -> String {
        seed::task_definition(&self.admin, &self.prefix, service)
            .await
            .expect("describe")
    }

    /// Keys under `prefix` in the state bucket.
    pub async fn keys_under(&self, prefix: &str) -> Vec<String> {
        let output = self
            .admin
            .s3
            .list_objects_v2()
            .bucket(&self.prefix)
            .prefix(prefix)
            .send()
            .await
            .expect("list");
        output
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect()
    }

    /// Successful calls of an action by the function.
    pub fn succeeded(&self, action: &str) -> usize {
        self.deps.clients.recorder.succeeded(action)
    }

    /// Calls of an action by the function, successful or not.
    pub fn attempted(&self, action: &str) -> usize {
        self.deps.clients.recorder.attempted(action)
    }
}
