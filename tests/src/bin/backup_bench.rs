//! `backup-bench`: our incremental backup of an S3 prefix against `aws s3 sync` of the same
//! prefix, side by side in one run against one emulator. Not a test: it prints a table.
//!
//! 10,000 small objects (`OBJECTS`) are written to a source prefix; both tools make their first
//! full copy (not measured); then, `ROUNDS` times (default 3), 1 % of the objects are rewritten
//! and each tool runs once more. Requests are counted at the emulator's front door: both tools
//! talk to a counting HTTP proxy in front of the moto server, so every request either makes —
//! listings, copies, the snapshot manifest, the `latest` pointer, the run claim, the run report
//! — is counted the same way. Wall time is the whole operation: our handler invocation
//! (in-process, as the Lambda runtime calls it) and the `aws s3 sync` command.
//!
//! Targets (issue): requests ≤ `aws s3 sync`'s, wall time ≤ 0.5× its.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context as _};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use ops_adapters::AwsClients;
use ops_domain::keys;
use ops_tests::emulator::{free_port, sdk_config_for, Emulator};

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    requests: Arc<AtomicUsize>,
}

/// Forwards one request to the emulator, counting it.
async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    proxy.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut outgoing = proxy
        .client
        .request(parts.method, format!("{}{path}", proxy.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if name != "transfer-encoding" && name != "connection" && name != "content-length" {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response
                .body(Body::from(bytes))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Err(error) => Response::builder()
            .status(502)
            .body(Body::from(error.to_string()))
            .unwrap_or_else(|_| Response::new(Body::empty())),
    }
}

struct Measure {
    requests: usize,
    seconds: f64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let objects: usize = std::env::var("OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let changed = (objects / 100).max(1);
    let aws = std::env::var("AWS_CLI").unwrap_or_else(|_| "aws".into());

    let emulator = Emulator::start();
    let requests = Arc::new(AtomicUsize::new(0));
    let proxy = Proxy {
        upstream: emulator.endpoint.clone(),
        client: reqwest::Client::new(),
        requests: requests.clone(),
    };
    let port = free_port();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let proxy_url = format!("http://127.0.0.1:{port}");

    // Seeding goes straight to the emulator (not counted).
    let admin = AwsClients::new(&emulator.sdk_config().await);
    let (state, source, backups, synced) =
        ("bench-state", "bench-src", "bench-backup", "bench-sync");
    for bucket in [state, source, backups, synced] {
        ops_tests::seed::create_bucket(&admin, bucket).await?;
    }
    eprintln!("backup-bench: writing {objects} objects to s3://{source}/data/");
    ops_tests::backup_seed::put_objects(&admin, source, 0..objects, 1).await?;
    let yaml = format!(
        r#"version: 1
backup:
  plans:
    bench:
      targets: {{ s3: [{{ bucket: {source}, prefix: data/ }}] }}
      schedule: {{ backup: "rate(1 day)" }}
      retention: {{ keep_last: 100 }}
      destination: {{ bucket: {backups}, prefix: backups }}
"#
    );
    ops_tests::seed::upload_config(&admin, state, &yaml).await?;

    let sdk = sdk_config_for(&proxy_url).await;
    let deps = backup::Deps::new(
        &sdk,
        state,
        &format!("s3://{state}/{}", keys::CONFIG_KEY),
        backup::Settings::default(),
    )?;
    let ours = |round: usize| {
        let deps = &deps;
        async move {
            let mut context = lambda_runtime::Context::default();
            context.request_id = format!("bench-{round}");
            let event = serde_json::json!({"plan": "bench", "action": "backup"});
            match backup::handle(deps, lambda_runtime::LambdaEvent::new(event, context)).await? {
                backup::Response::Done { report } => Ok::<_, anyhow::Error>(report),
                other => anyhow::bail!("backup did not finish: {other:?}"),
            }
        }
    };
    let sync = || {
        let mut command = tokio::process::Command::new(&aws);
        command
            .args([
                "s3",
                "sync",
                &format!("s3://{source}/data/"),
                &format!("s3://{synced}/data/"),
                "--endpoint-url",
                &proxy_url,
                "--only-show-errors",
            ])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    };

    eprintln!("backup-bench: first full copies (not measured)");
    let first = ours(0).await?;
    let status = sync()
        .status()
        .await
        .context("run `aws s3 sync` (is awscli installed?)")?;
    ensure!(status.success(), "aws s3 sync failed");
    eprintln!(
        "backup-bench: first backup copied {} objects",
        first["totals"]["copied_objects"]
    );

    let (mut our_runs, mut their_runs) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        // A different 1 % each round, rewritten with new content of the same size.
        let start = (round * changed) % objects;
        let range = start..(start + changed).min(objects);
        ops_tests::backup_seed::put_objects(&admin, source, range, 1 + round as u32).await?;

        requests.store(0, Ordering::Relaxed);
        let started = Instant::now();
        let report = ours(round).await?;
        let ours_measure = Measure {
            seconds: started.elapsed().as_secs_f64(),
            requests: requests.load(Ordering::Relaxed),
        };
        ensure!(
            report["totals"]["copied_objects"].as_u64() == Some(changed as u64),
            "round {round}: our backup copied {} objects, expected {changed}",
            report["totals"]["copied_objects"]
        );

        requests.store(0, Ordering::Relaxed);
        let started = Instant::now();
        let status = sync().status().await?;
        ensure!(status.success(), "aws s3 sync failed");
        let theirs = Measure {
            seconds: started.elapsed().as_secs_f64(),
            requests: requests.load(Ordering::Relaxed),
        };
        eprintln!(
            "round {round}: ours {} requests {:.2} s; aws s3 sync {} requests {:.2} s",
            ours_measure.requests, ours_measure.seconds, theirs.requests, theirs.seconds
        );
        our_runs.push(ours_measure);
        their_runs.push(theirs);
    }

    // The CLI's own start-up, for the record (part of its wall time, as for any operator).
    let started = Instant::now();
    tokio::process::Command::new(&aws)
        .arg("--version")
        .output()
        .await?;
    let startup = started.elapsed().as_secs_f64();

    let our_requests = our_runs.iter().map(|m| m.requests).max().unwrap_or(0);
    let their_requests = their_runs.iter().map(|m| m.requests).min().unwrap_or(0);
    let our_time = median(&mut our_runs.iter().map(|m| m.seconds).collect::<Vec<_>>());
    let their_time = median(&mut their_runs.iter().map(|m| m.seconds).collect::<Vec<_>>());
    println!("\nIncremental backup of {objects} objects, {changed} changed ({rounds} rounds, median wall time; requests: our most vs its fewest)");
    println!("| tool | requests | wall time |");
    println!("| --- | --- | --- |");
    println!("| backup (this suite, one invocation) | {our_requests} | {our_time:.2} s |");
    println!("| aws s3 sync | {their_requests} | {their_time:.2} s (of which CLI start-up {startup:.2} s) |");
    let request_ratio = our_requests as f64 / their_requests.max(1) as f64;
    let time_ratio = our_time / their_time;
    println!(
        "\nrequests: {request_ratio:.2}x aws s3 sync's (target <= 1.0x): {}",
        if request_ratio <= 1.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "wall time: {time_ratio:.2}x aws s3 sync's (target <= 0.5x): {}",
        if time_ratio <= 0.5 { "met" } else { "NOT met" }
    );
    ensure!(
        request_ratio <= 1.0 && time_ratio <= 0.5,
        "a backup benchmark target is not met"
    );
    Ok(())
}
