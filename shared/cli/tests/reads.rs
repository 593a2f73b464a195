//! `opsctl status|history|audit|dora|cost|backup` against the emulator: what the state bucket
//! holds, read back as the operator sees it, in text and JSON; unknown names refused with what
//! there is.

mod support;

use chrono::{Duration, Utc};
use ops_domain::audit::AuditRecord;
use serde_json::json;
use support::World;

fn audit(deployment: &str, action: &str, hours_ago: i64) -> AuditRecord {
    AuditRecord {
        id: format!("{deployment}-{action}"),
        at: Utc::now() - Duration::hours(hours_ago),
        function: "deploy-hook".into(),
        action: action.into(),
        actor: format!("pipeline-job:{deployment}"),
        target: "service:web".into(),
        reason: String::new(),
        before: serde_json::Value::Null,
        after: json!({ "deployment_id": deployment }),
        outcome: if action == "deployment_rolled_back" {
            "failed".into()
        } else {
            "succeeded".into()
        },
        request_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_every_service_with_its_step_and_weights() {
    let world = World::new().await;
    world.put_record(&world.web_in_flight()).await;
    let run = world.run("status").await;
    assert!(run.exited(0), "{} {}", run.out, run.err);
    assert!(run.out.contains("SERVICES"), "{}", run.out);
    assert!(run.out.contains("IN_PROGRESS"), "{}", run.out);
    assert!(
        run.out.contains("weights blue 50% / green 50%"),
        "{}",
        run.out
    );
    // worker has no record yet: shown as never deployed.
    assert!(run.out.contains("never deployed"), "{}", run.out);
    assert!(run.out.contains("no cost report yet"), "{}", run.out);

    let run = world.run("status --output json").await;
    assert!(run.exited(0), "{}", run.err);
    let body = run.json();
    let web = body["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "web"))
        .cloned()
        .expect("web listed");
    assert_eq!(web["status"], "IN_PROGRESS");
    assert_eq!(web["weights"]["green"], 50);
    assert_eq!(web["step"]["percent"], 50);
    assert!(web["step"]["index"].as_u64().is_some(), "{web}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_a_service_and_of_an_unknown_one() {
    let world = World::new().await;
    let mut record = world.web_in_flight();
    record.push_history(Utc::now(), "deployment_started", "canary of web:2".into());
    world.put_record(&record).await;
    let run = world.run("history web").await;
    assert!(run.exited(0), "{}", run.err);
    assert!(run.out.contains("deployment_started"), "{}", run.out);
    assert!(run.out.contains("canary of web:2"), "{}", run.out);

    let run = world.run("history nope --output json").await;
    assert!(run.exited(1));
    let body = run.json();
    assert_eq!(body["error"], "not_found");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("nope") && m.contains("web")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_and_dora_read_the_audit_trail() {
    let world = World::new().await;
    let store = world.store();
    for record in [
        audit("d1", "deployment_started", 30),
        audit("d1", "deployment_promoted", 28),
        audit("d2", "deployment_started", 10),
        audit("d2", "deployment_rolled_back", 9),
    ] {
        ops_adapters::audit::write(&store, &record)
            .await
            .expect("write audit");
    }
    let run = world.run("audit --since 2d --output json").await;
    assert!(run.exited(0), "{}", run.err);
    let records = run.json()["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(records.len(), 4);
    assert_eq!(
        records[0]["action"], "deployment_rolled_back",
        "newest first"
    );

    let run = world.run("audit --since 12h").await;
    assert!(run.out.contains("deployment_rolled_back"), "{}", run.out);
    assert!(!run.out.contains("deployment_promoted"), "{}", run.out);

    let run = world.run("dora --days 7 --output json").await;
    assert!(run.exited(0), "{}", run.err);
    let body = run.json();
    assert_eq!(body["overall"]["deployments"], 2);
    assert_eq!(body["overall"]["failed"], 1);
    assert_eq!(body["overall"]["change_failure_rate"], 0.5);
    assert_eq!(body["overall"]["lead_time_median_seconds"], 2 * 3600);
    assert_eq!(body["overall"]["restore_median_seconds"], 3600);
    assert_eq!(body["services"][0]["service"], "web");

    let run = world.run("dora").await;
    assert!(run.out.contains("overall"), "{}", run.out);
    assert!(run.out.contains("50%"), "{}", run.out);

    let run = world.run("audit --since yesterday").await;
    assert!(run.exited(1) || run.exited(2), "{}", run.err);
    assert!(run.err.contains("since"), "{}", run.err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_report_reads_the_latest_report_and_open_alerts() {
    let world = World::new().await;
    let run = world.run("cost report").await;
    assert!(run.exited(1), "{}", run.out);
    assert!(run.err.contains("no cost report"), "{}", run.err);

    let store = world.store();
    for (day, run_id, generated, actual) in [
        ("2026-12-03", "r1", "2026-12-04T06:00:00Z", 100.0),
        ("2026-12-04", "r2", "2026-12-05T06:00:00Z", 140.0),
        ("2026-12-04", "r0", "2026-12-05T05:00:00Z", 120.0),
    ] {
        let report = json!({
            "generated_at": generated,
            "analysis": {
                "as_of": day,
                "currency": "USD",
                "budgets": [{
                    "name": "total", "monthly": 1000.0, "actual": actual,
                    "forecast": { "expected": 1100.0 }
                }]
            }
        });
        store
            .create(&format!("reports/cost/{day}/{run_id}.json"), &report)
            .await
            .expect("report");
    }
    let run = world.run("cost report --output json").await;
    assert!(run.exited(0), "{}", run.err);
    let body = run.json();
    assert_eq!(body["report_json_key"], "reports/cost/2026-12-04/r2.json");
    assert_eq!(body["budgets"][0]["month_to_date"], 140.0);
    assert!(
        body["html_url"]
            .as_str()
            .is_some_and(|u| u.contains("reports/cost/2026-12-04/r2.html")),
        "{body}"
    );
    let run = world.run("cost report").await;
    assert!(run.out.contains("forecast 1100.00 USD"), "{}", run.out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_commands_refuse_unknown_plans_and_need_the_function() {
    let world = World::new().await;
    let run = world.run("backup list").await;
    assert!(run.exited(0), "{}", run.err);
    let run = world.run("backup restore nightly --output json").await;
    assert!(run.exited(1) || run.exited(2), "{}", run.out);
    assert!(run.json()["message"]
        .as_str()
        .is_some_and(|m| m.contains("nightly")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_shown_once_and_stored_as_hashes() {
    let world = World::new().await;
    let secret = format!("{}/api-keys", world.prefix);
    // As Terraform leaves it: a secret without a value.
    world
        .admin
        .secrets
        .create_secret()
        .name(&secret)
        .send()
        .await
        .expect("secret");
    let run = world
        .run(&format!(
            "api-key create ci-bot --role operator --secret {secret} --yes --output json"
        ))
        .await;
    assert!(run.exited(0), "{} {}", run.out, run.err);
    let key = run.json()["key"].as_str().expect("key shown").to_owned();
    assert!(key.starts_with("ops_"), "{key}");
    let stored = world
        .admin
        .secrets
        .get_secret_value()
        .secret_id(&secret)
        .send()
        .await
        .expect("value")
        .secret_string()
        .unwrap_or_default()
        .to_owned();
    assert!(!stored.contains(&key), "the key itself is stored");
    let document = ops_domain::apikeys::KeyDocument::parse(&stored).expect("document");
    assert_eq!(
        document.find(&key).map(|entry| entry.name.as_str()),
        Some("ci-bot")
    );
    let run = world
        .run(&format!(
            "api-key create ci-bot --role viewer --secret {secret} --yes"
        ))
        .await;
    assert!(run.exited(1), "a second key of the same name: {}", run.out);
    let run = world.run(&format!("api-key list --secret {secret}")).await;
    assert!(
        run.out.contains("ci-bot") && run.out.contains("operator"),
        "{}",
        run.out
    );
    assert!(!run.out.contains(&key));
    let run = world
        .run(&format!("api-key revoke ci-bot --secret {secret} --yes"))
        .await;
    assert!(run.exited(0), "{}", run.err);
    let audits = world.audits().await;
    assert!(audits
        .iter()
        .any(|a| a.action == "api_key_created" && a.target == "api-key:ci-bot"));
    assert!(audits.iter().all(|a| !a.after.to_string().contains(&key)));
    let run = world.run(&format!("api-key list --secret {secret}")).await;
    assert!(run.out.contains("no API key"), "{}", run.out);
}
