//! DORA figures from audit trails written the way the functions write them.

use super::*;
use chrono::TimeZone;
use serde_json::json;

fn at(hour: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("valid")
        + Duration::hours(hour)
}

/// An audit record as deploy-hook writes it for `deployment`.
fn hook(service: &str, deployment: &str, action: &str, hour: i64) -> AuditRecord {
    AuditRecord {
        id: format!("{deployment}-{action}"),
        at: at(hour),
        function: "deploy-hook".into(),
        action: action.into(),
        actor: format!("pipeline-job:{deployment}"),
        target: format!("service:{service}"),
        reason: String::new(),
        before: serde_json::Value::Null,
        after: json!({ "deployment_id": deployment, "status": "IN_PROGRESS" }),
        outcome: if action == "deployment_started" || action == "deployment_promoted" {
            "succeeded".into()
        } else {
            "failed".into()
        },
        request_id: None,
    }
}

/// alarm-rollback's record of rolling back a promoted `deployment`.
fn alarm_rollback(service: &str, deployment: &str, hour: i64) -> AuditRecord {
    AuditRecord {
        id: format!("t-{service}-{hour}"),
        at: at(hour),
        function: "alarm-rollback".into(),
        action: "rollback".into(),
        actor: "alarm:5xx".into(),
        target: format!("service:{service}"),
        reason: "5xx".into(),
        before: json!({ "service": service, "status": "PROMOTED", "deployment_id": deployment }),
        after: serde_json::Value::Null,
        outcome: "succeeded".into(),
        request_id: None,
    }
}

/// Ten days up to hour 240 (2026-11-11T00:00Z).
fn trail() -> Vec<AuditRecord> {
    vec![
        // api d1: started 10:00, promoted 12:00 (lead 2 h).
        hook("api", "d1", "deployment_started", 10),
        hook("api", "d1", "deployment_promoted", 12),
        // api d2: started 30, promoted 34 (lead 4 h), rolled back by an alarm 1 h later.
        hook("api", "d2", "deployment_started", 30),
        hook("api", "d2", "deployment_promoted", 34),
        alarm_rollback("api", "d2", 35),
        // web w1: started 50, rolled back in flight at 50.5 h → restore 30 min.
        hook("web", "w1", "deployment_started", 50),
        AuditRecord {
            at: at(50) + Duration::minutes(30),
            ..hook("web", "w1", "deployment_rolled_back", 50)
        },
        // web w2: promoted 100, lead 6 h.
        hook("web", "w2", "deployment_started", 94),
        hook("web", "w2", "deployment_promoted", 100),
        // web w3: still in flight: not counted.
        hook("web", "w3", "deployment_started", 239),
        // An opsctl pause: not a deployment event.
        AuditRecord {
            action: "operator_pause".into(),
            id: "cmd-1".into(),
            ..hook("web", "w3", "operator_pause", 239)
        },
    ]
}

#[test]
fn the_four_figures_overall_and_per_service() {
    let report = report(&trail(), 10, at(240));
    let overall = &report.overall;
    assert_eq!(
        (overall.deployments, overall.promoted, overall.failed),
        (4, 2, 2)
    );
    assert_eq!(overall.deploys_per_day, 0.2);
    assert_eq!(overall.change_failure_rate, Some(0.5));
    // Lead times of promoted-then-kept and promoted-then-rolled-back: 2 h, 4 h, 6 h → 4 h.
    assert_eq!(overall.lead_time_median_seconds, Some(4 * 3600));
    // Restores: d2 1 h after promotion, w1 30 min after start → median 45 min.
    assert_eq!(overall.restore_median_seconds, Some(45 * 60));

    let names: Vec<&str> = report.services.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(names, ["api", "web"]);
    let api = &report.services[0].figures;
    assert_eq!((api.deployments, api.promoted, api.failed), (2, 1, 1));
    assert_eq!(api.restore_median_seconds, Some(3600));
    let web = &report.services[1].figures;
    assert_eq!((web.deployments, web.promoted, web.failed), (2, 1, 1));
    assert_eq!(web.lead_time_median_seconds, Some(6 * 3600));
}

#[test]
fn daily_counts_cover_every_day_of_the_window() {
    let report = report(&trail(), 10, at(240));
    let daily = &report.overall.daily;
    assert_eq!(daily.len(), 10);
    assert_eq!(daily[0].day.to_string(), "2026-11-02");
    assert_eq!(daily[9].day.to_string(), "2026-11-11");
    let on = |day: &str| {
        daily
            .iter()
            .find(|d| d.day.to_string() == day)
            .map(|d| (d.deployments, d.failed))
    };
    assert_eq!(
        on("2026-11-02"),
        Some((1, 1)),
        "d2 promoted on day 2, then failed"
    );
    assert_eq!(on("2026-11-03"), Some((1, 1)), "w1 rolled back in flight");
    assert_eq!(on("2026-11-05"), Some((1, 0)), "w2");
    // d1 ended on 2026-11-01, before the window's first whole day.
    assert_eq!(daily.iter().map(|d| d.deployments).sum::<usize>(), 3);
}

#[test]
fn a_window_without_deployments_has_no_rates() {
    let report = report(&[], 30, at(240));
    assert_eq!(report.overall.deployments, 0);
    assert_eq!(report.overall.change_failure_rate, None);
    assert_eq!(report.overall.lead_time_median_seconds, None);
    assert!(report.services.is_empty());
    assert_eq!(report.overall.daily.len(), 30);
}

#[test]
fn duplicate_records_count_once_and_order_does_not_matter() {
    let mut records = trail();
    records.extend(trail());
    records.reverse();
    assert_eq!(report(&records, 10, at(240)), report(&trail(), 10, at(240)));
}
