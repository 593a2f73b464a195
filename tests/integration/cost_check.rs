//! cost-check against the emulator: FOCUS and CUR 2.0 exports on S3 and Cost Explorer, budget
//! breaches, anomalies with contributors, the alert lifecycle over several runs (dedupe,
//! escalate, restatement resolves), reports, email through SES, the notification outbox (a
//! failed channel stays owed and is delivered by the next invocation), and bad input.

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use lambda_runtime::{Context, LambdaEvent};
use ops_costdata::generate::{Spike, Synthetic};
use serde_json::{json, Value};

use crate::util::World;

/// The last complete day every scenario evaluates.
pub(crate) fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 20).expect("valid day")
}

/// Seven weeks of daily cost for three services in two accounts, with `spikes`.
pub(crate) fn synthetic(spikes: Vec<Spike>) -> Synthetic {
    Synthetic {
        start: as_of() - Duration::days(48),
        days: 50,
        services: vec!["AmazonEC2".into(), "AmazonS3".into(), "AWSLambda".into()],
        accounts: vec!["111111111111".into(), "222222222222".into()],
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        teams: vec!["platform".into(), "web".into()],
        rows_per_day: 120,
        spikes,
    }
}

pub(crate) fn ec2_spike() -> Spike {
    Spike {
        day: as_of(),
        service: "AmazonEC2".into(),
        account: Some("222222222222".into()),
        extra: 4000.0,
    }
}

pub(crate) fn focus_gz(data: &Synthetic) -> Vec<u8> {
    let mut out = Vec::new();
    data.write_focus_csv_gz(&mut out).expect("generate FOCUS");
    out
}

fn cost_yaml(source: &str, monthly: f64) -> String {
    format!(
        r#"
cost:
  source: {source}
  dimensions: [provider, sub_account, service, region, "tag:team"]
  lookback_days: 2
  anomalies: {{ by: [service], min_impact: 100, critical_impact: 100000 }}
  budgets:
    - name: total
      monthly: {monthly}
      thresholds:
        - {{ basis: actual, percent: 50 }}
        - {{ basis: actual, percent: 100 }}
"#
    )
}

pub(crate) struct CostWorld {
    pub(crate) world: World,
    pub(crate) deps: Arc<cost_check::Deps>,
    exports: String,
}

impl CostWorld {
    pub(crate) async fn new(source: impl FnOnce(&str) -> String, monthly: f64) -> CostWorld {
        let exports_holder = std::sync::Mutex::new(String::new());
        let world = World::with_config(|yaml| {
            let prefix = yaml
                .lines()
                .find_map(|l| l.trim().strip_prefix("cluster: "))
                .unwrap_or_default()
                .to_owned();
            let exports = format!("{prefix}-exports");
            let text = format!("{yaml}{}", cost_yaml(&source(&exports), monthly));
            if let Ok(mut holder) = exports_holder.lock() {
                *holder = exports;
            }
            text
        })
        .await;
        let exports = exports_holder.lock().map(|h| h.clone()).unwrap_or_default();
        world
            .admin
            .s3
            .create_bucket()
            .bucket(&exports)
            .send()
            .await
            .expect("export bucket");
        let deps = cost_check::Deps::new(
            &world.sdk,
            &world.prefix,
            &format!("s3://{}/config/suite.yaml", world.prefix),
        )
        .expect("deps");
        CostWorld {
            world,
            deps: Arc::new(deps),
            exports,
        }
    }

    pub(crate) async fn put(&self, key: &str, body: Vec<u8>) {
        self.world
            .admin
            .s3
            .put_object()
            .bucket(&self.exports)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("put export file");
    }

    async fn run(
        &self,
        input: Value,
    ) -> Result<cost_check::handler::Response, cost_check::HandlerError> {
        let mut context = Context::default();
        context.request_id = ops_tests::unique("req");
        cost_check::handle(&self.deps, LambdaEvent::new(input, context)).await
    }

    pub(crate) async fn text(&self, key: &str) -> String {
        let output = self
            .world
            .admin
            .s3
            .get_object()
            .bucket(&self.world.prefix)
            .key(key)
            .send()
            .await
            .expect("report");
        String::from_utf8(
            output
                .body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .to_vec(),
        )
        .expect("utf-8")
    }

    /// Rewrites the config the function reads (it revalidates it by ETag on the next run).
    pub(crate) async fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let text = edit(self.text("config/suite.yaml").await);
        ops_tests::seed::upload_config(&self.world.admin, &self.world.prefix, &text)
            .await
            .expect("config");
    }

    /// The alert book as stored.
    pub(crate) async fn book(&self) -> ops_domain::alerts::AlertBook {
        self.world
            .store()
            .get::<ops_domain::alerts::AlertBook>(cost_check::handler::ALERT_BOOK_KEY)
            .await
            .expect("read the book")
            .map(|v| v.value)
            .unwrap_or_default()
    }

    pub(crate) fn slack_titles(&self) -> Vec<String> {
        self.world
            .receiver
            .at("/slack")
            .iter()
            .map(|m| m.json()["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

pub(crate) fn focus_source(bucket: &str) -> String {
    format!("{{ kind: focus, bucket: {bucket}, prefix: focus/ }}")
}

#[tokio::test]
async fn focus_run_finds_the_spike_with_its_contributor_and_the_budget_breach() {
    let cost = CostWorld::new(focus_source, 1000.0).await;
    cost.put(
        "focus/2026-03/part-0.csv.gz",
        focus_gz(&synthetic(vec![ec2_spike()])),
    )
    .await;
    let response = cost.run(json!({"as_of": as_of()})).await.expect("run");

    assert_eq!(response.as_of, as_of());
    assert_eq!(
        response.anomalies,
        [format!("service=AmazonEC2|{}", as_of())]
    );
    assert_eq!(response.budgets_breached, ["total"]);
    assert!(response.complete);

    let report: Value =
        serde_json::from_str(&cost.text(&response.report_json).await).expect("JSON report");
    assert_eq!(report["schema_version"], 1);
    let anomaly = &report["anomalies"][0];
    assert_eq!(anomaly["direction"], "spike");
    assert!(
        anomaly["impact"].as_f64().unwrap_or_default() > 3000.0,
        "{anomaly}"
    );
    let top = &anomaly["contributors"][0];
    assert_eq!(
        (top["dimension"].as_str(), top["value"].as_str()),
        (Some("sub_account"), Some("222222222222")),
        "{anomaly}"
    );

    let html = cost.text(&response.report_html).await;
    assert!(
        html.starts_with("<!doctype html>") && html.contains("<svg") && html.contains("AmazonEC2")
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );

    let titles = cost.slack_titles();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(
        titles
            .iter()
            .any(|t| t.contains("Cost anomaly in service=AmazonEC2")),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.contains("Budget total")),
        "{titles:?}"
    );
}

#[tokio::test]
async fn repeated_runs_notify_once_and_restated_data_resolves_the_anomaly() {
    let cost = CostWorld::new(focus_source, 1_000_000.0).await;
    cost.put(
        "focus/2026-03/part-0.csv.gz",
        focus_gz(&synthetic(vec![ec2_spike()])),
    )
    .await;
    let first = cost
        .run(json!({"as_of": as_of()}))
        .await
        .expect("first run");
    assert_eq!(first.alerts.opened.len(), 1);
    let second = cost
        .run(json!({"as_of": as_of()}))
        .await
        .expect("second run");
    assert!(
        second.alerts.opened.is_empty() && second.alerts.resolved.is_empty(),
        "{:?}",
        second.alerts
    );
    assert_eq!(cost.slack_titles().len(), 1, "notified once");

    // The provider restates the day: the spike was a billing error.
    cost.put(
        "focus/2026-03/part-0.csv.gz",
        focus_gz(&synthetic(Vec::new())),
    )
    .await;
    let third = cost
        .run(json!({"as_of": as_of()}))
        .await
        .expect("third run");
    assert_eq!(
        third.alerts.resolved,
        [format!("anomaly:service=AmazonEC2|{}", as_of())]
    );
    let titles = cost.slack_titles();
    assert_eq!(titles.len(), 2);
    assert!(titles[1].contains("Resolved"), "{titles:?}");
    let pages: Vec<String> = cost
        .world
        .receiver
        .at("/webhook")
        .iter()
        .map(|m| {
            m.json()["lifecycle"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(pages.last().map(String::as_str), Some("resolve"));
}

#[tokio::test]
async fn budget_breach_escalates_when_it_gets_worse() {
    let data = synthetic(Vec::new());
    let cost = CostWorld::new(focus_source, 1_000_000.0).await;
    cost.put("focus/2026-03/part-0.csv.gz", focus_gz(&data))
        .await;
    let baseline = cost
        .run(json!({"as_of": as_of(), "dry_run": true}))
        .await
        .expect("dry run");
    let report: Value =
        serde_json::from_str(&cost.text(&baseline.report_json).await).expect("report");
    let spent = report["budgets"][0]["actual"].as_f64().expect("actual");

    // A budget the month has spent 60% of: warning at the 50% threshold.
    let original = cost.text("config/suite.yaml").await;
    let upload = |monthly: f64| {
        let text = original.replace("monthly: 1000000", &format!("monthly: {monthly:.2}"));
        cost.edit_config(move |_| text)
    };
    upload(spent / 0.6).await;
    let warning = cost
        .run(json!({"as_of": as_of()}))
        .await
        .expect("warning run");
    assert_eq!(warning.alerts.opened, ["budget:total"]);
    // Then a smaller budget: 120% spent is critical, notified again as an escalation.
    upload(spent / 1.2).await;
    let critical = cost
        .run(json!({"as_of": as_of()}))
        .await
        .expect("critical run");
    assert_eq!(critical.alerts.escalated, ["budget:total"]);
    let titles = cost.slack_titles();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(
        titles[1].contains("Escalated (warning → critical)"),
        "{titles:?}"
    );
}

#[tokio::test]
async fn cur2_export_is_read_through_its_manifest_not_by_listing() {
    let cost = CostWorld::new(
        |bucket| format!("{{ kind: cur2, bucket: {bucket}, prefix: cur, export_name: daily }}"),
        1_000_000.0,
    )
    .await;
    let mut wanted = Vec::new();
    synthetic(vec![ec2_spike()])
        .write_cur_parquet(&mut wanted)
        .expect("CUR parquet");
    // A file from an earlier delivery that the manifest no longer lists: never read.
    let mut stale = Vec::new();
    synthetic(vec![Spike {
        day: as_of(),
        service: "AmazonS3".into(),
        account: None,
        extra: 90_000.0,
    }])
    .write_cur_parquet(&mut stale)
    .expect("stale parquet");
    cost.put(
        "cur/daily/data/BILLING_PERIOD=2026-03/daily-00001.snappy.parquet",
        wanted,
    )
    .await;
    cost.put(
        "cur/daily/data/BILLING_PERIOD=2026-03/old-00001.snappy.parquet",
        stale,
    )
    .await;
    let files = vec![format!(
        "s3://{}/cur/daily/data/BILLING_PERIOD=2026-03/daily-00001.snappy.parquet",
        cost.exports
    )];
    let manifest =
        ops_costdata::generate::cur_manifest(&cost.exports, "cur", "daily", "2026-03", &files);
    cost.put(
        "cur/daily/metadata/BILLING_PERIOD=2026-03/daily-Manifest.json",
        manifest.into_bytes(),
    )
    .await;

    cost.edit_config(|config| {
        config.replace(
            "  dimensions:",
            "  metric: unblended_cost
  dimensions:",
        )
    })
    .await;

    let response = cost.run(json!({"as_of": as_of()})).await.expect("run");
    assert_eq!(
        response.anomalies,
        [format!("service=AmazonEC2|{}", as_of())]
    );
}

#[tokio::test]
async fn parquet_is_read_with_ranged_gets_row_group_by_row_group_to_the_csv_gz_totals() {
    let mut data = synthetic(vec![ec2_spike()]);
    data.rows_per_day = 400;
    // 20,000 rows in 40 row groups, larger than the first ranged GET (the last 64 KiB), so the
    // footer, then each row group's column chunks come in separate ranged GETs.
    let mut parquet = Vec::new();
    data.write_focus_parquet_in_groups(&mut parquet, 500)
        .expect("FOCUS parquet");
    assert!(parquet.len() > 4 * 64 * 1024, "{} bytes", parquet.len());

    let by_parquet = CostWorld::new(focus_source, 1_000_000.0).await;
    by_parquet
        .put("focus/2026-03/part-0.parquet", parquet.clone())
        .await;
    let by_csv = CostWorld::new(focus_source, 1_000_000.0).await;
    by_csv
        .put("focus/2026-03/part-0.csv.gz", focus_gz(&data))
        .await;

    let mut reports = Vec::new();
    for world in [&by_parquet, &by_csv] {
        let response = world.run(json!({"as_of": as_of()})).await.expect("run");
        assert_eq!(
            response.anomalies,
            [format!("service=AmazonEC2|{}", as_of())]
        );
        let report: Value =
            serde_json::from_str(&world.text(&response.report_json).await).expect("report");
        assert_eq!(report["source"]["rows"], data.rows());
        reports.push(report);
    }
    let days = reports[0]["total"].as_object().expect("daily totals");
    assert_eq!(
        days.len(),
        reports[1]["total"].as_object().map_or(0, |d| d.len())
    );
    for (day, value) in days {
        let (a, b) = (value.as_f64(), reports[1]["total"][day].as_f64());
        let (Some(a), Some(b)) = (a, b) else {
            panic!("{day}: {value} vs {}", reports[1]["total"][day]);
        };
        assert!((a - b).abs() < 1e-6, "{day}: parquet {a} vs csv.gz {b}");
    }

    // A Parquet object cut short fails the run, naming it.
    by_parquet
        .put(
            "focus/2026-03/part-1.parquet",
            parquet[..parquet.len() / 2].to_vec(),
        )
        .await;
    let error = by_parquet
        .run(json!({"as_of": as_of()}))
        .await
        .expect_err("truncated file");
    let message = error.to_string();
    assert!(message.contains("part-1.parquet"), "{message}");
}

impl CostWorld {
    /// Adds an `email` channel (routed for warnings and critical alerts) whose secret sends
    /// from a sender unique to this world, created as an SES identity; returns the sender.
    async fn add_email_channel(&self) -> String {
        let prefix = &self.world.prefix;
        let from = format!("{prefix}@example.com");
        ops_tests::seed::email_identity(&self.world.sdk, &from)
            .await
            .expect("SES identity");
        self.world
            .admin
            .secrets
            .create_secret()
            .name(format!("{prefix}/email"))
            .secret_string(
                json!({"from": from, "to": [ops_tests::seed::EMAIL_TO], "cc": ["audit@example.com"]})
                    .to_string(),
            )
            .send()
            .await
            .expect("email secret");
        self.edit_config(|config| {
            config
                .replace(
                    "  routes:",
                    &format!("    mail: {{ kind: email, secret: {prefix}/email }}\n  routes:"),
                )
                .replace("warning: [slack, hook]", "warning: [slack, hook, mail]")
                .replace(
                    "critical: [slack, hook, pager]",
                    "critical: [slack, hook, pager, mail]",
                )
        })
        .await;
        from
    }
}

/// The emails the emulator's SES accepted from `from`: (subject, to, cc, body).
async fn emails_from(from: &str) -> Vec<(String, Value, Value, String)> {
    let url = format!(
        "{}/moto-api/data.json",
        ops_tests::emulator::Emulator::shared().endpoint
    );
    // moto serialises every backend for this dump while other tests keep changing them, and
    // answers 500 when a dictionary changes under it: ask again.
    let mut data = Value::Null;
    for attempt in 0..20 {
        let answer = reqwest::get(&url).await.expect("moto api");
        match answer.json::<Value>().await {
            Ok(value) => {
                data = value;
                break;
            }
            Err(error) if attempt == 19 => panic!("moto data: {error}"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    data["ses"]["Message"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|m| m["source"] == from)
        .map(|m| {
            (
                m["subject"].as_str().unwrap_or_default().to_owned(),
                m["destinations"]["ToAddresses"].clone(),
                m["destinations"]["CcAddresses"].clone(),
                m["body"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn email_channel_sends_each_alert_once_through_ses() {
    let cost = CostWorld::new(focus_source, 1000.0).await;
    let from = cost.add_email_channel().await;
    cost.put(
        "focus/2026-03/part-0.csv.gz",
        focus_gz(&synthetic(vec![ec2_spike()])),
    )
    .await;
    let response = cost.run(json!({"as_of": as_of()})).await.expect("run");
    assert!(!response.alerts.opened.is_empty());

    let emails = emails_from(&from).await;
    let subjects: Vec<&str> = emails.iter().map(|e| e.0.as_str()).collect();
    // Every alert of this run is a warning or critical one: each went to Slack and by email.
    assert_eq!(emails.len(), cost.slack_titles().len(), "{subjects:?}");
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("[CRITICAL] ") || s.starts_with("[WARNING] ")),
        "{subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("Cost anomaly in service=AmazonEC2")),
        "{subjects:?}"
    );
    for (subject, to, cc, body) in &emails {
        assert_eq!(to, &json!([ops_tests::seed::EMAIL_TO]), "{subject}");
        assert_eq!(cc, &json!(["audit@example.com"]), "{subject}");
        // The HTML part (the emulator keeps it over the text part) links to the report.
        assert!(body.contains(&response.report_html), "{subject}: {body}");
    }
    let sent = cost.deps.clients.recorder.succeeded("ses:SendEmail");
    assert_eq!(sent, emails.len());

    // The same alerts again: no new email.
    cost.run(json!({"as_of": as_of()})).await.expect("rerun");
    assert_eq!(emails_from(&from).await.len(), emails.len());
}

/// Queues Cost Explorer results in the emulator (its `GetCostAndUsage` returns what it is given).
async fn queue_cost_explorer_results(results: Value) {
    let url = format!(
        "{}/moto-api/static/ce/cost-and-usage-results",
        ops_tests::emulator::Emulator::shared().endpoint
    );
    let response = reqwest::Client::new()
        .post(url)
        .json(&json!({"results": [results]}))
        .send()
        .await
        .expect("moto api");
    assert_eq!(response.status().as_u16(), 201);
}

/// `GetCostAndUsage` results: 35 days of two services, EC2 tripled on the last day.
fn cost_explorer_results() -> Value {
    let days: Vec<Value> = (0..35)
        .map(|i| {
            let day = as_of() - Duration::days(34 - i);
            let ec2 = if day == as_of() { 3000.0 } else { 1000.0 + f64::from(u32::try_from(i % 3).unwrap_or(0)) * 10.0 };
            json!({
                "TimePeriod": {"Start": day.to_string(), "End": (day + Duration::days(1)).to_string()},
                "Total": {},
                "Groups": [
                    {"Keys": ["Amazon Elastic Compute Cloud - Compute"], "Metrics": {"UnblendedCost": {"Amount": format!("{ec2:.2}"), "Unit": "USD"}}},
                    {"Keys": ["Amazon Simple Storage Service"], "Metrics": {"UnblendedCost": {"Amount": "200.00", "Unit": "USD"}}}
                ],
                "Estimated": false
            })
        })
        .collect();
    json!({"ResultsByTime": days, "DimensionValueAttributes": [], "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}]})
}

#[tokio::test]
async fn cost_explorer_source_reads_daily_costs_grouped_by_service() {
    let cost = CostWorld::new(
        |_| "{ kind: cost_explorer, group_by: [SERVICE] }".into(),
        1_000_000.0,
    )
    .await;
    cost.edit_config(|config| {
        config.replace(
            "  dimensions:",
            "  metric: unblended_cost
  dimensions:",
        )
    })
    .await;
    queue_cost_explorer_results(cost_explorer_results()).await;
    let response = cost.run(json!({"as_of": as_of()})).await.expect("run");
    assert_eq!(
        response.anomalies,
        [format!(
            "service=Amazon Elastic Compute Cloud - Compute|{}",
            as_of()
        )]
    );
    // The whole range in one request: Cost Explorer bills per request.
    assert_eq!(
        cost.deps.clients.recorder.attempted("ce:GetCostAndUsage"),
        1
    );
    let called = cost
        .deps
        .clients
        .recorder
        .calls()
        .into_iter()
        .map(|call| call.action)
        .collect();
    crate::least_privilege::assert_granted("cost-check", &called);
}

/// The scenarios that reach every code path of cost-check that calls AWS through S3 exports
/// (FOCUS and CUR 2.0, with notifications including email); returns the IAM actions called.
pub async fn least_privilege_scenarios() -> std::collections::BTreeSet<String> {
    let cost = CostWorld::new(focus_source, 1000.0).await;
    cost.add_email_channel().await;
    cost.put(
        "focus/2026-03/part-0.csv.gz",
        focus_gz(&synthetic(vec![ec2_spike()])),
    )
    .await;
    cost.run(json!({"as_of": as_of()}))
        .await
        .expect("FOCUS run");
    cost.edit_config(|config| {
        config
            .replace("kind: focus, ", "kind: cur2, export_name: daily, ")
            .replace("prefix: focus/", "prefix: cur")
            .replace("  dimensions:", "  metric: unblended_cost\n  dimensions:")
    })
    .await;
    cost.run(json!({"as_of": as_of()}))
        .await
        .expect("CUR run without a manifest yet");
    cost.deps
        .clients
        .recorder
        .calls()
        .into_iter()
        .map(|call| call.action)
        .collect()
}

#[tokio::test]
async fn malformed_file_fails_the_run_naming_file_row_and_column() {
    let cost = CostWorld::new(focus_source, 1000.0).await;
    cost.put(
        "focus/2026-03/part-0.csv.gz",
        focus_gz(&synthetic(Vec::new())),
    )
    .await;
    let header = "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,EffectiveCost,ProviderName,RegionId,ServiceName,SubAccountId,Tags\n";
    let bad = format!("{header}1.0,USD,2026-03-19 00:00:00,2026-03-19 01:00:00,lots,AWS,us-east-1,AmazonEC2,1,NULL\n");
    cost.put("focus/2026-03/broken.csv", bad.into_bytes()).await;
    let error = cost
        .run(json!({"as_of": as_of()}))
        .await
        .expect_err("must fail");
    let message = error.to_string();
    assert!(
        message.contains("broken.csv")
            && message.contains("row 1")
            && message.contains("EffectiveCost"),
        "{message}"
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "UnreadableCostData"
    );
    assert!(
        cost.slack_titles().is_empty(),
        "no alerts from partial data"
    );
}

#[tokio::test]
async fn mark_incomplete_skips_the_bad_file_and_says_so_in_the_report() {
    let cost = CostWorld::new(
        |bucket| format!("{}\n  on_unreadable: mark_incomplete", focus_source(bucket)),
        1_000_000.0,
    )
    .await;
    cost.put(
        "focus/2026-03/part-0.csv.gz",
        focus_gz(&synthetic(Vec::new())),
    )
    .await;
    cost.put("focus/2026-03/broken.csv", b"not,a,focus\nfile".to_vec())
        .await;
    let response = cost.run(json!({"as_of": as_of()})).await.expect("run");
    assert!(!response.complete);
    let report: Value =
        serde_json::from_str(&cost.text(&response.report_json).await).expect("report");
    assert_eq!(report["complete"], false);
    assert!(report["source"]["unreadable"][0]["file"]
        .as_str()
        .unwrap_or_default()
        .ends_with("broken.csv"));
    assert!(cost
        .text(&response.report_html)
        .await
        .contains("incomplete"));
}

#[tokio::test]
async fn bad_input_is_rejected_before_anything_is_read() {
    let cost = CostWorld::new(focus_source, 1000.0).await;
    let error = cost
        .run(json!({"asof": "2026-03-20"}))
        .await
        .expect_err("must fail");
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "InvalidInput"
    );
    assert!(cost.deps.clients.recorder.calls().is_empty());
}

#[tokio::test]
async fn a_failed_channel_stays_owed_and_the_next_invocation_delivers_it_first_with_the_same_key() {
    let cost = CostWorld::new(focus_source, 1000.0).await;
    let prefix = cost.world.prefix.clone();
    // The webhook channel first points at an endpoint that answers 500.
    cost.world
        .admin
        .secrets
        .create_secret()
        .name(format!("{prefix}/webhook-broken"))
        .secret_string(
            json!({"url": format!("{}/fail/webhook", cost.world.receiver.url), "signing_key": "test-signing-key"})
                .to_string(),
        )
        .send()
        .await
        .expect("broken webhook secret");
    let good = format!("hook: {{ kind: webhook, secret: {prefix}/webhook }}");
    let broken = format!("hook: {{ kind: webhook, secret: {prefix}/webhook-broken }}");
    cost.edit_config(|config| config.replace(&good, &broken))
        .await;
    cost.put(
        "focus/2026-03/part-0.csv.gz",
        focus_gz(&synthetic(vec![ec2_spike()])),
    )
    .await;

    let first = cost
        .run(json!({"as_of": as_of()}))
        .await
        .expect("first run");
    assert_eq!(first.alerts.opened.len(), 2, "{:?}", first.alerts);
    let receiver = &cost.world.receiver;
    assert_eq!(
        cost.slack_titles().len(),
        2,
        "Slack is not held up by the webhook"
    );
    assert_eq!(receiver.at("/pagerduty").len(), 1);
    // The first webhook delivery failed; the second waits behind it (delivered in order).
    let failed = receiver.at("/fail/webhook");
    assert_eq!(failed.len(), 1);
    let book = cost.book().await;
    let owed: Vec<(String, u32)> = book
        .outbox
        .owed
        .iter()
        .flat_map(|o| o.channels.iter().map(|c| (c.channel.clone(), c.attempts)))
        .collect();
    let mut attempts: Vec<u32> = owed.iter().map(|(_, n)| *n).collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [0, 1], "{owed:?}");
    assert!(
        owed.iter().all(|(channel, _)| channel == "hook"),
        "{owed:?}"
    );

    // The channel is fixed. The next scheduled run (another request) fails on a malformed
    // export file, but delivers what earlier runs owe before its own work.
    cost.edit_config(|config| config.replace(&broken, &good))
        .await;
    let header = "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,EffectiveCost,ProviderName,RegionId,ServiceName,SubAccountId,Tags\n";
    let bad = format!("{header}1.0,USD,2026-03-19 00:00:00,2026-03-19 01:00:00,lots,AWS,us-east-1,AmazonEC2,1,NULL\n");
    cost.put("focus/2026-03/broken.csv", bad.into_bytes()).await;
    let error = cost
        .run(json!({"as_of": as_of()}))
        .await
        .expect_err("unreadable data");
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "UnreadableCostData"
    );
    let hooks = receiver.at("/webhook");
    assert_eq!(hooks.len(), 2, "each owed notification once");
    let key_of = |m: &ops_tests::receiver::Received| {
        m.headers
            .get("idempotency-key")
            .cloned()
            .unwrap_or_default()
    };
    let keys: std::collections::BTreeSet<String> = hooks.iter().map(key_of).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.contains(&key_of(&failed[0])),
        "the redelivery carries the failed attempt's key: {keys:?}"
    );
    for hook in &hooks {
        // The key is in the signed body too: the signature covers it.
        assert_eq!(
            hook.json()["idempotency_key"].as_str(),
            Some(key_of(hook).as_str())
        );
        let signature = ops_adapters::notify::sign(
            b"test-signing-key",
            hook.headers
                .get("x-ops-timestamp")
                .map_or("", String::as_str),
            &hook.body,
        );
        assert_eq!(hook.headers.get("x-ops-signature"), Some(&signature));
    }
    assert_eq!(cost.slack_titles().len(), 2, "Slack was not notified again");
    assert_eq!(receiver.at("/pagerduty").len(), 1);
    assert!(cost.book().await.outbox.is_empty(), "the outbox is empty");
}
