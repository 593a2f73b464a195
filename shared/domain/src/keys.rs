//! Key layout of the state bucket. Every function builds keys here, so the layout documented in
//! ARCHITECTURE.md is the one in force.

use chrono::{DateTime, Utc};

/// Key of the suite configuration uploaded by Terraform.
pub const CONFIG_KEY: &str = "config/suite.yaml";

/// Key of a service's deployment record (compare-and-swap).
pub fn deployment_record(service: &str) -> String {
    format!("deployments/{service}/record.json")
}

/// Key of the analysis state of one stage of an ECS-driven deployment (deploy-hook's ECS
/// lifecycle-hook mode): `step` tells apart the steps of a linear or canary production shift.
pub fn ecs_hook_run(service: &str, deployment: &str, stage: &str, step: Option<u32>) -> String {
    match step {
        Some(step) => format!("deployments/{service}/ecs-hooks/{deployment}/{stage}-{step}.json"),
        None => format!("deployments/{service}/ecs-hooks/{deployment}/{stage}.json"),
    }
}

/// Key of an idempotency marker (create-once) for one event handled by one function.
pub fn idempotency(function: &str, event_key: &str) -> String {
    format!("idempotency/{function}/{event_key}.json")
}

/// Key of an audit record (create-once), partitioned by day for lifecycle rules and browsing.
pub fn audit(at: DateTime<Utc>, function: &str, id: &str) -> String {
    format!("audit/{}/{function}/{id}.json", at.format("%Y/%m/%d"))
}

/// Key of a Slack request's replay marker (create-once): a digest of its signature, under the
/// day of the request's own (signed) timestamp, so a replay of the same request finds the same
/// key on any day it arrives, and a lifecycle rule on `slack/replay/` expires old markers.
pub fn slack_replay(request_at: DateTime<Utc>, signature_digest: &str) -> String {
    format!(
        "slack/replay/{}/{signature_digest}.json",
        request_at.format("%Y/%m/%d")
    )
}

/// Key of cost-check's alert book: the open cost alerts and the notifications they owe.
pub const COST_ALERT_BOOK: &str = "alerts/cost-check/book.json";

/// Prefix of a backup plan's run reports of one action (`verify`, …); each report's key starts
/// with the run's UTC time, so the last key in order is the last run.
pub fn backup_reports(plan: &str, action: &str) -> String {
    format!("backup/reports/{plan}/{action}/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_follow_the_documented_layout() {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 7, 1, 2, 3)
            .single()
            .expect("valid date");
        assert_eq!(deployment_record("api"), "deployments/api/record.json");
        assert_eq!(
            idempotency("alarm-rollback", "abc"),
            "idempotency/alarm-rollback/abc.json"
        );
        assert_eq!(
            backup_reports("nightly", "verify"),
            "backup/reports/nightly/verify/"
        );
        assert_eq!(
            audit(at, "alarm-rollback", "x1"),
            "audit/2026/03/07/alarm-rollback/x1.json"
        );
        assert_eq!(
            slack_replay(at, "ab12"),
            "slack/replay/2026/03/07/ab12.json"
        );
    }
}
