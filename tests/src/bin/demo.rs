//! `ops-demo`: the suite on the local emulator, through the real Lambda Runtime API.
//!
//! - `ops-demo` starts a moto server, a loopback receiver (notifications, health checks) and a
//!   loopback CodePipeline job-result recorder, creates the state bucket with
//!   `infra/config/suite.yaml` (bakes and TTLs shortened), seeds the sample services, then runs
//!   deploy-hook and alarm-rollback (their binaries, polling the Runtime API of `cargo lambda
//!   watch --only-lambda-apis`; `make demo` builds them with the demo): a canary deployment promoted,
//!   the next one rolled back by its alarm mid-bake and its job failed with the reason, a
//!   rolling deployment rolled back inside its rollback window, a third deployment paused,
//!   resumed and aborted with `opsctl`, a fourth rolled back by its metric analysis (the demo
//!   feeds CloudWatch an error rate per color; the query and values are printed); then
//!   cost-check; then backup
//!   (a backup, a change, an incremental backup, a verification, a dry-run restore diff).
//! - `ops-demo e2e` does the same against resources Terraform created (`AWS_ENDPOINT_URL`,
//!   `STATE_BUCKET`; the config Terraform uploaded, shortened the same way), and fails unless
//!   every step happened.

use std::fmt::Write as _;

use anyhow::{bail, ensure, Context as _};
use ops_adapters::s3::StateStore;
use ops_adapters::AwsClients;
use ops_costdata::generate::{Spike, Synthetic};
use ops_domain::config::SuiteConfig;
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus};
use ops_domain::keys;
use ops_tests::emulator::Emulator;
use ops_tests::pipeline::{job_event, PipelineRecorder};
use ops_tests::receiver::Receiver;
use ops_tests::runtime_api::Watch;
use ops_tests::seed;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "" => demo().await,
        "e2e" => e2e().await,
        other => bail!("usage: ops-demo [e2e] (unknown argument {other:?})"),
    }
}

async fn demo() -> anyhow::Result<()> {
    println!("==> Starting the local AWS emulator (moto server)");
    let emulator = Emulator::start();
    println!("    {}", emulator.endpoint);
    let admin = AwsClients::new(&emulator.sdk_config().await);
    let bucket = "ops-suite-demo-state";
    seed::create_bucket(&admin, bucket).await?;
    let yaml =
        std::fs::read_to_string(ops_tests::workspace_root().join("infra/config/suite.yaml"))?;
    seed::upload_config(&admin, bucket, &yaml).await?;
    println!("==> State bucket s3://{bucket} with infra/config/suite.yaml");
    run(&emulator.endpoint, bucket, &admin).await
}

async fn e2e() -> anyhow::Result<()> {
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL must point at the emulator")?;
    let bucket = std::env::var("STATE_BUCKET")
        .context("STATE_BUCKET must name the state bucket Terraform created")?;
    let sdk = ops_tests::emulator::sdk_config_for(&endpoint).await;
    run(&endpoint, &bucket, &AwsClients::new(&sdk)).await
}

async fn run(endpoint: &str, bucket: &str, admin: &AwsClients) -> anyhow::Result<()> {
    let store = StateStore::new(admin.s3.clone(), bucket);
    let text = get_bytes(admin, bucket, keys::CONFIG_KEY).await?;
    let mut config = ops_domain::config::parse(std::str::from_utf8(&text)?)?;

    let receiver = Receiver::start().await;
    let pipeline = PipelineRecorder::start().await;
    demo_speed(&mut config, &receiver.url);
    seed::upload_config(admin, bucket, &serde_json::to_string_pretty(&config)?).await?;
    println!("==> Demo speed: record TTL 1 s, bake 2 s, rollback window 60 s; health checks answered by a loopback server ({})", receiver.url);
    seed::notifier_secrets(admin, &config, &receiver.url).await?;
    println!("==> Notifier secrets point at the same loopback receiver; CodePipeline job results go to a loopback recorder ({})", pipeline.url);
    let seeded = seed::deployable(admin, &config).await?;
    println!(
        "==> Seeded {} services, live on their first version, no deployment yet\n",
        seeded.len()
    );
    print!("{}", state_table(admin, &store, &config, &seeded).await?);

    let cache = ops_tests::workspace_root().join(".cache");
    std::fs::create_dir_all(cache.join("demo-events"))?;
    let env = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        [
            ("STATE_BUCKET", bucket),
            ("CONFIG_URI", &format!("s3://{bucket}/{}", keys::CONFIG_KEY)),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    println!("\n==> Starting deploy-hook and alarm-rollback on the `cargo lambda watch` Runtime API (logs: .cache/*-watch.log)");
    let deploy_hook = Watch::start(
        "deploy-hook",
        &env(&[("AWS_ENDPOINT_URL_CODEPIPELINE", &pipeline.url)]),
        cache.join("deploy-hook-watch.log"),
    )
    .await?;
    let alarm_rollback = Watch::start(
        "alarm-rollback",
        &env(&[]),
        cache.join("alarm-rollback-watch.log"),
    )
    .await?;
    let pipelines = Pipelines {
        watch: &deploy_hook,
        recorder: &pipeline,
        folder: cache.join("demo-events"),
    };

    println!("\n==> 1. A pipeline deploys checkout 1.5.0 as a canary (10 % → 50 % → 100 %), and billing 2.0.0 rolling");
    let checkout_1 = pipelines
        .run("checkout", "registry.example/checkout:1.5.0", None)
        .await?;
    ensure!(
        checkout_1.result == "succeeded",
        "checkout 1.5.0 was not promoted: {}",
        checkout_1.summary
    );
    let billing = pipelines
        .run("billing", "registry.example/billing:2.0.0", None)
        .await?;
    ensure!(
        billing.result == "succeeded",
        "billing 2.0.0 was not promoted: {}",
        billing.summary
    );
    println!();
    print!("{}", state_table(admin, &store, &config, &seeded).await?);

    println!("\n==> 2. The next pipeline deploys checkout 1.6.0; while it bakes at 10 %, checkout-5xx-rate fires");
    let in_flight = pipelines
        .run(
            "checkout",
            "registry.example/checkout:1.6.0",
            Some("shift 10%"),
        )
        .await?;
    ensure!(
        in_flight.result == "continue",
        "checkout 1.6.0 did not reach its first bake"
    );
    println!();
    print!("{}", state_table(admin, &store, &config, &seeded).await?);
    let operator = Operator::new(endpoint, bucket).await;
    println!("\n--> What an operator sees before the alarm");
    operator.run(&["status"]).await?;
    let steps = [
        (
            "events/alarm-eventbridge.json",
            "checkout-5xx-rate goes into ALARM (EventBridge)",
        ),
        (
            "events/alarm-sns.json",
            "the same transition again, through SNS",
        ),
        (
            "events/alarm-eventbridge-billing.json",
            "billing-errors goes into ALARM (billing 2.0.0 is inside its rollback window)",
        ),
        (
            "events/alarm-eventbridge-unmapped.json",
            "an alarm no config entry maps",
        ),
        (
            "events/alarm-eventbridge-ok.json",
            "checkout-5xx-rate back to OK",
        ),
    ];
    let mut responses = Vec::new();
    for (file, what) in steps {
        let started = std::time::Instant::now();
        let response = alarm_rollback.invoke(file).await?;
        println!(
            "\n--> {what}\n    cargo lambda invoke alarm-rollback --data-file {file}   ({} ms)",
            started.elapsed().as_millis()
        );
        println!("    {}", summarize(&response));
        responses.push(response);
    }
    println!("\n--> The pipeline invokes deploy-hook again");
    let ended = pipelines.resume(&in_flight).await?;
    ensure!(
        ended.result == "failed" && ended.summary.contains("checkout-5xx-rate"),
        "the in-flight deployment did not fail with the rollback's reason: {}",
        ended.summary
    );
    println!("\n--> And after the rollback");
    operator.run(&["status"]).await?;

    println!("\n==> 3. checkout 1.7.0: an operator pauses it at 10 %, resumes it, then aborts it with opsctl");
    let steered = pipelines
        .run(
            "checkout",
            "registry.example/checkout:1.7.0",
            Some("shift 10%"),
        )
        .await?;
    ensure!(
        steered.result == "continue",
        "checkout 1.7.0 did not reach its first bake: {}",
        steered.summary
    );
    operator
        .run(&[
            "deploy",
            "pause",
            "checkout",
            "--reason",
            "a look at the canary's logs",
        ])
        .await?;
    let mut held = pipelines.resume(&steered).await?;
    // Held past its bake time: the bake does not count while paused.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    held = pipelines.resume(&held).await?;
    ensure!(
        held.result == "continue" && held.summary.contains("paused by"),
        "the paused deployment did not hold: {}",
        held.summary
    );
    operator.run(&["deploy", "resume", "checkout"]).await?;
    let going = pipelines.resume(&held).await?;
    ensure!(
        going.result == "continue" && !going.summary.contains("paused by"),
        "the resumed deployment did not go on: {}",
        going.summary
    );
    operator
        .run(&[
            "deploy",
            "abort",
            "checkout",
            "--reason",
            "the canary's logs show timeouts",
        ])
        .await?;
    let aborted = pipelines.resume(&going).await?;
    ensure!(
        aborted.result == "failed" && aborted.summary.contains("aborted by"),
        "the abort did not fail the job with who and why: {}",
        aborted.summary
    );
    analysed_canary(
        endpoint,
        admin,
        bucket,
        &mut config,
        &store,
        &pipelines,
        &operator,
    )
    .await?;

    println!("\n--> The DORA figures of the last 30 days, from the audit trail");
    operator.run(&["dora", "--days", "30"]).await?;
    drop(deploy_hook);
    drop(alarm_rollback);

    println!("\n==> After\n");
    print!("{}", state_table(admin, &store, &config, &seeded).await?);
    println!("\n==> Notifications received");
    for received in receiver
        .all()
        .iter()
        .filter(|r| !r.path.starts_with("/health"))
    {
        let json = received.json();
        let text = json["text"]
            .as_str()
            .or(json["title"].as_str())
            .or(json["payload"]["summary"].as_str())
            .unwrap_or_default()
            .to_owned();
        let action = json["event_action"]
            .as_str()
            .map(|a| format!(" [{a}]"))
            .unwrap_or_default();
        println!("    {:<11} {text}{action}", received.path);
    }

    cost_check(endpoint, bucket, admin, &config, &receiver).await?;
    ops_tests::demo_backup::run(admin, &config, &env(&[]), &cache).await?;

    // The demo doubles as the end-to-end check: fail loudly if the rollback did not happen.
    let checkout = store
        .get::<DeploymentRecord>(&keys::deployment_record("checkout"))
        .await?
        .context("checkout record")?
        .value;
    ensure!(
        checkout.status == DeploymentStatus::RolledBack,
        "checkout was not rolled back: {:?}",
        checkout.status
    );
    ensure!(
        checkout.weights.get("green") == Some(&100),
        "checkout traffic not back on green (the 1.5.0 color): {:?}",
        checkout.weights
    );
    ensure!(
        responses[1].to_string().contains("duplicate"),
        "second delivery was not recognised as a duplicate: {}",
        responses[1]
    );
    ensure!(
        responses[2].to_string().contains("rolled_back"),
        "billing was not rolled back inside its rollback window: {}",
        responses[2]
    );
    ensure!(
        responses[3].to_string().contains("unmapped"),
        "unmapped alarm not reported: {}",
        responses[3]
    );
    println!(
        "\n==> OK: canary promoted, the next one rolled back exactly once by its alarm and its job failed with the reason, the third paused, resumed and aborted by an operator, the fourth rolled back by its metric analysis; audit records under s3://{bucket}/audit/"
    );
    Ok(())
}

/// Shortens bakes and TTLs so the demo runs in a minute, and points health checks at the
/// loopback receiver (the demo's services do not exist).
fn demo_speed(config: &mut SuiteConfig, receiver: &str) {
    for service in config.services.values_mut() {
        if let Some(traffic) = service.traffic.as_mut() {
            traffic.ttl = 1;
        }
        service.deploy.bake_seconds = 2;
        service.deploy.rollback_window_seconds = 60;
        // The example config's analysis reads load balancer metrics and its hooks run a
        // migration task and a backup: none of them exist here. Step 4 adds an analysis of
        // its own, fed by the demo.
        service.deploy.analysis = None;
        service.deploy.hooks = Default::default();
        for check in &mut service.deploy.health_checks {
            check.url = format!("{receiver}/health/{{target}}");
        }
    }
}

/// Step 4: checkout under metric analysis. The demo feeds CloudWatch an error rate per color;
/// the new version's rises once it takes traffic, no alarm fires, and the analysis rolls it
/// back with the query and the values in the job's failure.
async fn analysed_canary(
    endpoint: &str,
    admin: &AwsClients,
    bucket: &str,
    config: &mut SuiteConfig,
    store: &StateStore,
    pipelines: &Pipelines<'_>,
    operator: &Operator,
) -> anyhow::Result<()> {
    println!("\n==> 4. checkout 1.8.0 under metric analysis: its error rate rises at 10 %; no alarm fires, the analysis rolls it back");
    let namespace = "Demo/checkout";
    let analysis = serde_json::json!({
        "metrics": {
            "error_rate": {
                "queries": [
                    {"id": "errors", "return_data": false, "metric": {"namespace": namespace, "name": "Errors", "dimensions": {"Target": "{target}"}, "stat": "Sum", "period_seconds": 1}},
                    {"id": "requests", "return_data": false, "metric": {"namespace": namespace, "name": "Requests", "dimensions": {"Target": "{target}"}, "stat": "Sum", "period_seconds": 1}},
                    {"id": "rate", "expression": "errors / requests"}
                ],
                "success": "result < 0.01",
                "interval_seconds": 1,
                "count": 2,
                "failure_limit": 0
            }
        }
    });
    let checkout = config
        .services
        .get_mut("checkout")
        .context("the config has no checkout service")?;
    checkout.deploy.analysis = Some(serde_json::from_value(analysis.clone())?);
    ops_domain::config::validate(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    seed::upload_config(admin, bucket, &serde_json::to_string_pretty(config)?).await?;
    println!("    checkout's deploy.analysis: {}", analysis);
    let record = store
        .get::<DeploymentRecord>(&keys::deployment_record("checkout"))
        .await?
        .context("checkout record")?
        .value;
    let stable = record.stable.target.clone().unwrap_or_default();
    let targets: Vec<(String, String)> = config.services["checkout"]
        .traffic
        .as_ref()
        .map(|t| {
            t.targets
                .iter()
                .map(|(color, target)| (color.clone(), target.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let idle = targets
        .iter()
        .find(|(color, _)| *color != stable)
        .cloned()
        .unwrap_or_default();
    let sdk = ops_tests::emulator::sdk_config_for(endpoint).await;
    let feed =
        ops_tests::metrics::MetricFeed::start(aws_sdk_cloudwatch::Client::new(&sdk), namespace);
    for (_, value) in &targets {
        feed.set("Requests", value, 200.0);
        feed.set("Errors", value, 0.0);
    }
    // The new version lands on the idle color and fails one request in twelve.
    feed.set("Errors", &idle.1, 16.0);
    println!(
        "    CloudWatch fed every 200 ms: {stable} 0 errors / 200 requests, {} (the new version) 16 / 200",
        idle.0
    );
    let analysed = pipelines
        .run("checkout", "registry.example/checkout:1.8.0", None)
        .await?;
    drop(feed);
    ensure!(
        analysed.result == "failed" && analysed.summary.contains("error_rate"),
        "checkout 1.8.0 was not rolled back by its analysis: {}",
        analysed.summary
    );
    println!("\n--> The job's failure, as CodePipeline shows it");
    println!("    {}", analysed.summary);
    operator.run(&["history", "checkout"]).await?;
    Ok(())
}

/// Pipeline jobs run through the Runtime API the way CodePipeline runs them: invoke, and while
/// the job continues, invoke again under a new job id with the continuation token.
struct Pipelines<'a> {
    watch: &'a Watch,
    recorder: &'a PipelineRecorder,
    folder: std::path::PathBuf,
}

/// `opsctl` as an operator runs it (the CLI's own argument parsing and code, in this process),
/// against the demo's emulator and state bucket.
struct Operator {
    env: ops_cli::Env,
}

impl Operator {
    async fn new(endpoint: &str, bucket: &str) -> Operator {
        let mut env = ops_cli::Env::new(ops_tests::emulator::sdk_config_for(endpoint).await);
        env.state_bucket = Some(bucket.to_owned());
        Operator { env }
    }

    /// Runs `opsctl ARGS` (`--yes` added to commands that change something), printing the
    /// command line and what it printed.
    async fn run(&self, args: &[&str]) -> anyhow::Result<()> {
        let mut argv: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        if matches!(args.first(), Some(&"deploy" | &"rollback")) {
            argv.push("--yes".into());
        }
        println!("\n--> $ opsctl {}", argv.join(" "));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = ops_cli::run(&argv, &self.env, &mut out, &mut err).await;
        for line in String::from_utf8_lossy(&out)
            .lines()
            .chain(String::from_utf8_lossy(&err).lines())
        {
            println!("    {line}");
        }
        ensure!(
            code == std::process::ExitCode::SUCCESS,
            "opsctl {} failed",
            argv.join(" ")
        );
        Ok(())
    }
}

/// Where a pipeline job stands.
struct JobState {
    params: serde_json::Value,
    token: Option<String>,
    result: String,
    summary: String,
}

impl Pipelines<'_> {
    /// Runs a deployment of `image` to `service` until it ends, or until the invocation that
    /// worked on `stop_after` (a step such as `shift 10%`) has its change in sync.
    async fn run(
        &self,
        service: &str,
        image: &str,
        stop_after: Option<&str>,
    ) -> anyhow::Result<JobState> {
        let mut state = JobState {
            params: serde_json::json!({"service": service, "image": image}),
            token: None,
            result: String::new(),
            summary: String::new(),
        };
        println!(
            "\n    {:<34} {:<9} {:>5} {:>6}  summary",
            format!("{service} {}", image.rsplit(':').next().unwrap_or_default()),
            "result",
            "calls",
            "ms"
        );
        for _ in 0..120 {
            let response = self.invoke(&mut state).await?;
            let step = response["step"].as_str().unwrap_or("start").to_owned();
            if state.result != "continue"
                || (stop_after == Some(step.as_str()) && state.summary.contains("INSYNC;"))
            {
                return Ok(state);
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        bail!("the deployment of {image} did not end within 120 invocations")
    }

    /// One more invocation of a job that continues.
    async fn resume(&self, state: &JobState) -> anyhow::Result<JobState> {
        let mut next = JobState {
            params: state.params.clone(),
            token: state.token.clone(),
            result: String::new(),
            summary: String::new(),
        };
        self.invoke(&mut next).await?;
        Ok(next)
    }

    async fn invoke(&self, state: &mut JobState) -> anyhow::Result<serde_json::Value> {
        let job = ops_tests::unique("job");
        let event = job_event(&job, &state.params, None, state.token.as_deref());
        let file = self.folder.join(format!("{job}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&event)?)?;
        let response = self.watch.invoke(&file.display().to_string()).await?;
        if let Some(error) = response.get("error") {
            bail!("deploy-hook failed without reporting to the pipeline: {error}");
        }
        let call = self
            .recorder
            .for_job(&job)
            .into_iter()
            .next()
            .context("deploy-hook reported nothing to the pipeline")?;
        state.token = call.continuation().map(str::to_owned);
        state.result = response["result"].as_str().unwrap_or_default().to_owned();
        state.summary = call.text().to_owned();
        let step = response["step"].as_str().unwrap_or("start");
        println!(
            "    {:<34} {:<9} {:>5} {:>6}  {}",
            step,
            state.result,
            response["aws_calls"],
            response["duration_ms"],
            if state.result == "continue" {
                short_summary(&state.summary)
            } else {
                ops_domain::deploy::truncate(&state.summary, 160)
            }
        );
        Ok(response)
    }
}

/// The part of a job summary after the step name, cut to one line.
fn short_summary(summary: &str) -> String {
    let text = summary
        .split_once(": ")
        .map_or(summary, |(_, rest)| rest)
        .split_once(": ")
        .map_or(summary, |(_, rest)| rest);
    ops_domain::deploy::truncate(text, 110)
}

/// cost-check over a generated FOCUS export with an EC2 spike, run twice: the second run finds
/// the same problems and notifies nothing. Invoked in-process (the Runtime API path is shown
/// above with alarm-rollback).
async fn cost_check(
    endpoint: &str,
    bucket: &str,
    admin: &AwsClients,
    config: &SuiteConfig,
    receiver: &Receiver,
) -> anyhow::Result<()> {
    let Some(cost) = &config.cost else {
        return Ok(());
    };
    let ops_domain::config::CostSource::Focus {
        bucket: exports,
        prefix,
    } = &cost.source
    else {
        println!("\n(cost-check demo skipped: the config's cost source is not a FOCUS export)");
        return Ok(());
    };
    let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        ops_tests::workspace_root().join("events/cost-check-backfill.json"),
    )?)?;
    let as_of: chrono::NaiveDate = serde_json::from_value(event["as_of"].clone())?;
    println!("\n==> cost-check: a generated FOCUS export in s3://{exports}/{prefix} with an EC2 spike on {as_of}");
    let _ = admin.s3.create_bucket().bucket(exports).send().await;
    let mut data = Synthetic::example(as_of - chrono::Duration::days(48), 50, 200);
    data.spikes.push(Spike {
        day: as_of,
        service: "AmazonEC2".into(),
        account: Some("222222222222".into()),
        extra: 6000.0,
    });
    let mut file = Vec::new();
    data.write_focus_csv_gz(&mut file)?;
    admin
        .s3
        .put_object()
        .bucket(exports)
        .key(format!(
            "{prefix}{}/part-00000.csv.gz",
            as_of.format("%Y-%m")
        ))
        .body(file.into())
        .send()
        .await?;

    let sdk = ops_tests::emulator::sdk_config_for(endpoint).await;
    let deps = cost_check::Deps::new(&sdk, bucket, &format!("s3://{bucket}/{}", keys::CONFIG_KEY))?;
    let before = receiver.all().len();
    let mut last = None;
    for run in 1..=2 {
        let started = std::time::Instant::now();
        let mut context = lambda_runtime::Context::default();
        context.request_id = format!("demo-run-{run}");
        let response = cost_check::handle(
            &deps,
            lambda_runtime::LambdaEvent::new(event.clone(), context),
        )
        .await?;
        println!(
            "\n--> run {run} ({} ms): budgets breached {:?}; anomalies {:?}; alerts opened {}, escalated {}, resolved {}",
            started.elapsed().as_millis(),
            response.budgets_breached,
            response.anomalies,
            response.alerts.opened.len(),
            response.alerts.escalated.len(),
            response.alerts.resolved.len()
        );
        println!(
            "    report: s3://{bucket}/{}\n            s3://{bucket}/{}",
            response.report_json, response.report_html
        );
        last = Some(response);
    }
    let sent = &receiver.all()[before..];
    println!(
        "\n==> cost-check notifications ({} in all, none from the second run)",
        sent.len()
    );
    for received in sent.iter().filter(|r| r.path == "/slack") {
        println!(
            "    /slack      {}",
            received.json()["text"].as_str().unwrap_or_default()
        );
    }
    let last = last.context("no run")?;
    let report = get_bytes(admin, bucket, &last.report_json).await?;
    let report: serde_json::Value = serde_json::from_slice(&report)?;
    if let Some(anomaly) = report["anomalies"].as_array().and_then(|a| a.first()) {
        println!(
            "\n    anomaly {} on {}: {:.2} vs {:.2} expected, top contributors:",
            anomaly["scope"],
            anomaly["day"],
            anomaly["actual"].as_f64().unwrap_or_default(),
            anomaly["baseline"].as_f64().unwrap_or_default()
        );
        for contributor in anomaly["contributors"].as_array().into_iter().flatten() {
            println!(
                "      {}={} {:+.2} ({:.0}% of the rise)",
                contributor["dimension"].as_str().unwrap_or_default(),
                contributor["value"].as_str().unwrap_or_default(),
                contributor["delta"].as_f64().unwrap_or_default(),
                100.0 * contributor["share"].as_f64().unwrap_or_default()
            );
        }
    }
    let local = ops_tests::workspace_root().join(".cache/cost-report.html");
    let html = get_bytes(admin, bucket, &last.report_html).await?;
    std::fs::write(&local, &html)?;
    println!("    HTML report copied to .cache/cost-report.html");
    ensure!(!last.anomalies.is_empty(), "cost-check found no anomaly");
    ensure!(
        !last.budgets_breached.is_empty(),
        "cost-check found no budget breach"
    );
    ensure!(
        last.alerts.opened.is_empty(),
        "second run notified again: {:?}",
        last.alerts.opened
    );
    Ok(())
}

/// The bytes of an object.
async fn get_bytes(admin: &AwsClients, bucket: &str, key: &str) -> anyhow::Result<bytes::Bytes> {
    let output = admin.s3.get_object().bucket(bucket).key(key).send().await?;
    Ok(output.body.collect().await?.into_bytes())
}

fn summarize(response: &serde_json::Value) -> String {
    if let Some(error) = response.get("error") {
        return format!("error: {error}");
    }
    let Some(results) = response["results"].as_array() else {
        return response.to_string();
    };
    results
        .iter()
        .map(|result| {
            let services: Vec<String> = result["services"]
                .as_array()
                .map(|services| {
                    services
                        .iter()
                        .map(|s| match s["skip"]["reason"].as_str() {
                            Some(reason) => format!(
                                "{} skipped ({reason})",
                                s["service"].as_str().unwrap_or_default()
                            ),
                            None => format!(
                                "{} {} to {}",
                                s["service"].as_str().unwrap_or_default(),
                                s["action"].as_str().unwrap_or_default(),
                                short(s["to"].as_str().unwrap_or_default())
                            ),
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{}: {} {}",
                result["alarm"].as_str().unwrap_or_default(),
                result["outcome"].as_str().unwrap_or_default(),
                services.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn short(task_definition: &str) -> &str {
    task_definition
        .rsplit_once('/')
        .map_or(task_definition, |(_, rest)| rest)
}

async fn state_table(
    admin: &AwsClients,
    store: &StateStore,
    config: &SuiteConfig,
    seeded: &std::collections::BTreeMap<String, seed::Deployable>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(
        out,
        "    {:<10} {:<13} {:<24} ecs task definitions",
        "service", "record", "route53 weights"
    )?;
    for (name, service) in &config.services {
        let status = store
            .get::<DeploymentRecord>(&keys::deployment_record(name))
            .await?
            .map_or("(no record)", |record| record.value.status.as_str());
        let weights = match (
            &service.traffic,
            seeded.get(name).and_then(|s| s.zone_id.clone()),
        ) {
            (Some(traffic), Some(zone)) => seed::weights(
                admin,
                &zone,
                &traffic.record_name,
                traffic.record_type.as_str(),
            )
            .await?
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
            _ => "-".to_owned(),
        };
        let mut services: Vec<String> = Vec::new();
        if let Some(ecs_service) = &service.ecs_service {
            services.push(ecs_service.clone());
        }
        if let Some(traffic) = &service.traffic {
            services.extend(traffic.targets.values().map(|t| t.ecs_service.clone()));
        }
        let mut tds = Vec::new();
        for ecs_service in services {
            tds.push(format!(
                "{ecs_service}={}",
                short(&seed::task_definition(admin, &service.cluster, &ecs_service).await?)
            ));
        }
        writeln!(
            out,
            "    {:<10} {:<13} {:<24} {}",
            name,
            status,
            weights,
            tds.join(" ")
        )?;
    }
    Ok(out)
}
