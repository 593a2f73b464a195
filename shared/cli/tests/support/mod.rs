//! Test support for `opsctl` against the local AWS emulator (moto server): one server per test
//! process, and a "world" per test — its own state bucket, config, ECS cluster, task
//! definitions, services and hosted zone — with deployment records written as a test needs.
//!
//! The emulator is started like the suite's integration tests start it (the project venv's
//! Python running `scripts/moto_server.py`, or `$MOTO_SERVER`), through a shell wrapper that
//! kills it when this process's end of a pipe closes.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ecs::types::ContainerDefinition;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use chrono::{DateTime, Utc};
use ops_adapters::s3::{StateStore, Versioned};
use ops_adapters::AwsClients;
use ops_domain::config::Strategy;
use ops_domain::deploy::{Phase, Progress, Step};
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus, Release};
use ops_domain::keys;

/// A running moto server.
pub struct Emulator {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    _child: Child,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

fn moto_command() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return vec![PathBuf::from(path)];
    }
    let root = workspace_root();
    let python = root.join(".venv/bin/python");
    if python.exists() {
        return vec![python, root.join("scripts/moto_server.py")];
    }
    vec![PathBuf::from("moto_server")]
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|error| panic!("no free loopback port: {error}"))
}

impl Emulator {
    fn start() -> Emulator {
        let port = free_port();
        let command = moto_command();
        let script = r#"port="$1"; shift; "$@" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 & pid=$!; trap 'kill $pid 2>/dev/null' EXIT; cat >/dev/null"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("moto-wrapper")
            .arg(port.to_string())
            .args(&command)
            .env("MOTO_ECS_SERVICE_RUNNING", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start the emulator: {error} (run scripts/setup.sh)")
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the emulator did not listen on {endpoint} within 60 s (run scripts/setup.sh)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Emulator {
            endpoint,
            _child: child,
        }
    }

    /// The process-wide server, started on first use.
    pub fn shared() -> &'static Emulator {
        static SHARED: OnceLock<Emulator> = OnceLock::new();
        SHARED.get_or_init(Emulator::start)
    }
}

/// SDK configuration pointing at the emulator, with dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&Emulator::shared().endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}

/// A name unique in this process and across concurrent test processes.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One test's resources.
pub struct World {
    /// Bucket name, cluster name and DNS label.
    pub prefix: String,
    /// SDK configuration for the emulator.
    pub sdk: SdkConfig,
    /// Clients for seeding and checking.
    pub admin: AwsClients,
    /// `web` (canary, blue/green) task definition ARNs: revision 1 (stable), 2 (candidate).
    pub web: [String; 2],
    /// `worker` (rolling) task definition ARNs: revision 1 (previous), 2 (stable).
    pub worker: [String; 2],
    /// The hosted zone id of `web`'s weighted records.
    pub zone_id: String,
}

/// What one `opsctl` run printed and returned.
pub struct Run {
    /// Exit code.
    pub code: ExitCode,
    /// Standard output.
    pub out: String,
    /// Standard error.
    pub err: String,
}

impl Run {
    /// Whether it exited with `code`.
    pub fn exited(&self, code: u8) -> bool {
        self.code == ExitCode::from(code)
    }

    /// Standard output as one JSON object.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.out.trim())
            .unwrap_or_else(|error| panic!("not one JSON object ({error}): {}", self.out))
    }
}

fn config_yaml(prefix: &str) -> String {
    format!(
        r#"version: 1
notifications:
  channels:
    slack: {{ kind: slack, secret: {prefix}/slack }}
  routes:
    info: [slack]
    warning: [slack]
    critical: [slack]
services:
  web:
    cluster: {prefix}
    strategy: canary
    traffic:
      zone_name: {prefix}.internal.
      record_name: web.{prefix}.internal.
      record_type: CNAME
      ttl: 60
      targets:
        blue: {{ ecs_service: web-blue, value: blue.web.{prefix}.internal }}
        green: {{ ecs_service: web-green, value: green.web.{prefix}.internal }}
    deploy:
      rollback_window_seconds: 3600
  worker:
    cluster: {prefix}
    strategy: rolling
    ecs_service: worker
alarms:
  - {{ alarm: web-5xx, services: [web], severity: critical }}
"#
    )
}

async fn register(admin: &AwsClients, family: &str, image: &str) -> String {
    let output = admin
        .ecs
        .register_task_definition()
        .family(family)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image(image)
                .memory(256)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|error| panic!("register {family}: {error:?}"));
    output
        .task_definition()
        .and_then(|td| td.task_definition_arn())
        .expect("task definition ARN")
        .to_owned()
}

async fn create_service(admin: &AwsClients, cluster: &str, service: &str, td: &str) {
    admin
        .ecs
        .create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(td)
        .desired_count(2)
        .send()
        .await
        .unwrap_or_else(|error| panic!("create service {service}: {error:?}"));
}

impl World {
    /// A bucket with the config, a cluster with `web-blue` on web:1, `web-green` on web:2 and
    /// `worker` on worker:2, and `web`'s weighted records at blue 0 / green 100 (promoted).
    /// No deployment record is written.
    pub async fn new() -> World {
        let sdk = sdk_config().await;
        let admin = AwsClients::new(&sdk);
        let prefix = unique("cli");
        admin
            .s3
            .create_bucket()
            .bucket(&prefix)
            .send()
            .await
            .expect("create bucket");
        admin
            .s3
            .put_object()
            .bucket(&prefix)
            .key(keys::CONFIG_KEY)
            .body(config_yaml(&prefix).into_bytes().into())
            .send()
            .await
            .expect("upload config");
        admin
            .ecs
            .create_cluster()
            .cluster_name(&prefix)
            .send()
            .await
            .expect("create cluster");
        let web_family = format!("{prefix}-web");
        let worker_family = format!("{prefix}-worker");
        let web = [
            register(&admin, &web_family, "registry.example/web:1").await,
            register(&admin, &web_family, "registry.example/web:2").await,
        ];
        let worker = [
            register(&admin, &worker_family, "registry.example/worker:1").await,
            register(&admin, &worker_family, "registry.example/worker:2").await,
        ];
        create_service(&admin, &prefix, "web-blue", &web[0]).await;
        create_service(&admin, &prefix, "web-green", &web[1]).await;
        create_service(&admin, &prefix, "worker", &worker[1]).await;
        let zone = admin
            .route53
            .create_hosted_zone()
            .name(format!("{prefix}.internal."))
            .caller_reference(&prefix)
            .send()
            .await
            .expect("create zone");
        let zone_id = zone
            .hosted_zone()
            .map(|zone| zone.id().trim_start_matches("/hostedzone/").to_owned())
            .expect("zone id");
        let world = World {
            prefix,
            sdk,
            admin,
            web,
            worker,
            zone_id,
        };
        world.set_weights(0, 100).await;
        world
    }

    /// The state store of this world.
    pub fn store(&self) -> StateStore {
        StateStore::new(self.admin.s3.clone(), &self.prefix)
    }

    /// Upserts `web`'s weighted records: blue and green.
    pub async fn set_weights(&self, blue: i64, green: i64) {
        let prefix = &self.prefix;
        let changes = [("blue", blue), ("green", green)]
            .into_iter()
            .map(|(color, weight)| {
                let set = ResourceRecordSet::builder()
                    .name(format!("web.{prefix}.internal."))
                    .r#type(RrType::Cname)
                    .set_identifier(color)
                    .weight(weight)
                    .ttl(60)
                    .resource_records(
                        ResourceRecord::builder()
                            .value(format!("{color}.web.{prefix}.internal"))
                            .build()
                            .expect("record"),
                    )
                    .build()
                    .expect("record set");
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
                    .expect("change")
            })
            .collect::<Vec<_>>();
        self.admin
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .set_changes(Some(changes))
                    .build()
                    .expect("batch"),
            )
            .send()
            .await
            .expect("weights");
    }

    /// `web`'s live weights: (blue, green).
    pub async fn weights(&self) -> (i64, i64) {
        let sets = self
            .admin
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .send()
            .await
            .expect("list records");
        let weight = |color: &str| {
            sets.resource_record_sets()
                .iter()
                .find(|set| set.set_identifier() == Some(color))
                .and_then(ResourceRecordSet::weight)
                .unwrap_or_else(|| panic!("no {color} record"))
        };
        (weight("blue"), weight("green"))
    }

    /// The task definition ARN an ECS service of this world runs.
    pub async fn service_td(&self, service: &str) -> String {
        ops_adapters::ecs::service_task_definition(&self.admin.ecs, &self.prefix, service)
            .await
            .expect("describe service")
    }

    /// Puts an ECS service on a task definition (to seed drift).
    pub async fn set_service_td(&self, service: &str, td: &str) {
        ops_adapters::ecs::set_task_definition(&self.admin.ecs, &self.prefix, service, td)
            .await
            .expect("update service");
    }

    /// Writes `record` as the service's deployment record.
    pub async fn put_record(&self, record: &DeploymentRecord) {
        self.admin
            .s3
            .put_object()
            .bucket(&self.prefix)
            .key(keys::deployment_record(&record.service))
            .body(serde_json::to_vec(record).expect("json").into())
            .send()
            .await
            .expect("put record");
    }

    /// The service's deployment record with its ETag.
    pub async fn record(&self, service: &str) -> Versioned<DeploymentRecord> {
        self.store()
            .get::<DeploymentRecord>(&keys::deployment_record(service))
            .await
            .expect("read record")
            .expect("record exists")
    }

    /// Every audit record in the bucket.
    pub async fn audits(&self) -> Vec<ops_domain::audit::AuditRecord> {
        let listed = self
            .admin
            .s3
            .list_objects_v2()
            .bucket(&self.prefix)
            .prefix("audit/")
            .send()
            .await
            .expect("list audit");
        let mut audits = Vec::new();
        for object in listed.contents() {
            let key = object.key().expect("key");
            let value = self
                .store()
                .get::<ops_domain::audit::AuditRecord>(key)
                .await
                .expect("read audit")
                .expect("audit exists");
            assert!(key.contains("/opsctl/"), "{key}");
            audits.push(value.value);
        }
        audits
    }

    /// The emulator's caller ARN, asked directly.
    pub async fn caller(&self) -> String {
        aws_sdk_sts::Client::new(&self.sdk)
            .get_caller_identity()
            .send()
            .await
            .expect("caller identity")
            .arn()
            .expect("arn")
            .to_owned()
    }

    /// An environment for `opsctl` over this world: no terminal.
    pub fn env(&self) -> ops_cli::Env {
        let mut env = ops_cli::Env::new(self.sdk.clone());
        env.state_bucket = Some(self.prefix.clone());
        env
    }

    /// An environment with a terminal whose operator, when asked, first has `record` written
    /// (as another writer would, between opsctl's read and its write) and then answers yes.
    pub fn env_racing(&self, record: DeploymentRecord) -> ops_cli::Env {
        let mut env = self.env();
        env.interactive = true;
        let handle = tokio::runtime::Handle::current();
        let s3 = self.admin.s3.clone();
        let bucket = self.prefix.clone();
        env.confirm = Box::new(move |_| {
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    s3.put_object()
                        .bucket(&bucket)
                        .key(keys::deployment_record(&record.service))
                        .body(serde_json::to_vec(&record).expect("json").into())
                        .send()
                        .await
                        .expect("concurrent write");
                })
            });
            true
        });
        env
    }

    /// Runs `opsctl` with `line` (split on spaces) in `env`.
    pub async fn run_in(&self, env: &ops_cli::Env, line: &str) -> Run {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = ops_cli::run(&args, env, &mut out, &mut err).await;
        Run {
            code,
            out: String::from_utf8(out).expect("utf-8"),
            err: String::from_utf8(err).expect("utf-8"),
        }
    }

    /// Runs `opsctl` with `line` without a terminal.
    pub async fn run(&self, line: &str) -> Run {
        self.run_in(&self.env(), line).await
    }

    /// `web` promoted: blue web:1 stable, green web:2 candidate, weights blue 0 / green 100,
    /// inside its rollback window.
    pub fn web_promoted(&self) -> DeploymentRecord {
        let mut record = self.web_in_flight();
        record.status = DeploymentStatus::Promoted;
        record.weights = [("blue".to_owned(), 0), ("green".to_owned(), 100)].into();
        if let Some(progress) = record.progress.as_mut() {
            progress.step = progress.steps.len();
            progress.finished_at = Some(Utc::now());
            progress.rollback_window_until = Some(Utc::now() + chrono::Duration::hours(1));
        }
        record
    }

    /// `web` with a canary in flight (IN_PROGRESS, at its promote step).
    pub fn web_in_flight(&self) -> DeploymentRecord {
        let now = Utc::now();
        let mut record = DeploymentRecord::new_stable(
            "web",
            Strategy::Canary,
            release(&self.web[0], "registry.example/web:1", Some("blue")),
            now,
        );
        record.status = DeploymentStatus::InProgress;
        record.deployment_id = Some("job-1".into());
        record.candidate = Some(release(
            &self.web[1],
            "registry.example/web:2",
            Some("green"),
        ));
        record.weights = [("blue".to_owned(), 50), ("green".to_owned(), 50)].into();
        record.progress = Some(progress("job-1", &self.web[1], now));
        record
    }

    /// `worker` stable on worker:2 (no previous release on record).
    pub fn worker_stable(&self) -> DeploymentRecord {
        DeploymentRecord::new_stable(
            "worker",
            Strategy::Rolling,
            release(&self.worker[1], "registry.example/worker:2", None),
            Utc::now(),
        )
    }
}

fn release(td: &str, image: &str, target: Option<&str>) -> Release {
    Release {
        task_definition: td.to_owned(),
        image: Some(image.to_owned()),
        target: target.map(str::to_owned),
    }
}

fn progress(deployment: &str, td: &str, now: DateTime<Utc>) -> Progress {
    Progress {
        deployment_id: deployment.to_owned(),
        job_id: deployment.to_owned(),
        image: "registry.example/web:2".into(),
        container: "app".into(),
        base_task_definition: td.to_owned(),
        task_definition: Some(td.to_owned()),
        target: Some("green".into()),
        steps: vec![Step::Promote],
        step: 0,
        phase: Phase::Ready,
        started_at: now,
        step_started_at: now,
        warnings: Vec::new(),
        abort: None,
        outcome: None,
        finished_at: None,
        rollback_window_until: None,
        shape: "{}".into(),
        driver: None,
        written_by: None,
        paused: None,
        skip_bake: false,
        fast_forward: false,
        analysis: None,
    }
}
