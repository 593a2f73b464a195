//! `ops-demo`: the suite on the local emulator, through the real Lambda Runtime API.
//!
//! - `ops-demo` starts a moto server and a loopback notification receiver, creates the state
//!   bucket with `infra/config/suite.yaml`, seeds the sample services in the middle of a
//!   deployment, then sends alarm events to alarm-rollback and prints what happened.
//! - `ops-demo e2e` does the same against resources Terraform created (`AWS_ENDPOINT_URL`,
//!   `STATE_BUCKET`, and the config Terraform uploaded), and fails unless the rollback happened.

use std::fmt::Write as _;

use anyhow::{bail, ensure, Context as _};
use ops_adapters::s3::StateStore;
use ops_adapters::AwsClients;
use ops_costdata::generate::{Spike, Synthetic};
use ops_domain::config::SuiteConfig;
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus};
use ops_domain::keys;
use ops_tests::emulator::Emulator;
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
    let config = ops_domain::config::parse(std::str::from_utf8(&text)?)?;

    let receiver = Receiver::start().await;
    seed::notifier_secrets(admin, &config, &receiver.url).await?;
    println!(
        "==> Notifier secrets point at a loopback receiver ({})",
        receiver.url
    );
    let seeded = seed::services(admin, &store, &config).await?;
    println!(
        "==> Seeded {} services in the middle of a deployment\n",
        seeded.len()
    );
    print!("{}", state_table(admin, &store, &config, &seeded).await?);

    let log = ops_tests::workspace_root().join(".cache/alarm-rollback-watch.log");
    std::fs::create_dir_all(log.parent().unwrap_or(std::path::Path::new(".")))?;
    println!("\n==> Starting alarm-rollback under `cargo lambda watch` (function log: .cache/alarm-rollback-watch.log)");
    let env: Vec<(String, String)> = [
        ("STATE_BUCKET", bucket.to_owned()),
        ("CONFIG_URI", format!("s3://{bucket}/{}", keys::CONFIG_KEY)),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let watch = Watch::start("alarm-rollback", &env, log).await?;

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
            "billing-errors goes into ALARM",
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
        let response = watch.invoke(file).await?;
        println!(
            "\n--> {what}\n    cargo lambda invoke alarm-rollback --data-file {file}   ({} ms)",
            started.elapsed().as_millis()
        );
        println!("    {}", summarize(&response));
        responses.push(response);
    }
    drop(watch);

    println!("\n==> After\n");
    print!("{}", state_table(admin, &store, &config, &seeded).await?);
    println!("\n==> Notifications received");
    for received in receiver.all() {
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
        checkout.weights.get("blue") == Some(&100),
        "checkout traffic not back on blue: {:?}",
        checkout.weights
    );
    ensure!(
        responses[1].to_string().contains("duplicate"),
        "second delivery was not recognised as a duplicate: {}",
        responses[1]
    );
    ensure!(
        responses[3].to_string().contains("unmapped"),
        "unmapped alarm not reported: {}",
        responses[3]
    );
    println!(
        "\n==> OK: traffic rolled back exactly once; audit records under s3://{bucket}/audit/"
    );
    Ok(())
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
    seeded: &std::collections::BTreeMap<String, seed::SeededService>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(
        out,
        "    {:<10} {:<13} {:<24} ecs task definitions",
        "service", "record", "route53 weights"
    )?;
    for (name, service) in &config.services {
        let record = store
            .get::<DeploymentRecord>(&keys::deployment_record(name))
            .await?
            .context("record")?
            .value;
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
            record.status.as_str(),
            weights,
            tds.join(" ")
        )?;
    }
    Ok(out)
}
