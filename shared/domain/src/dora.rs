//! The four DORA figures — deployment frequency, lead time for changes, change failure rate and
//! time to restore — per service and overall, computed from the audit records the suite already
//! writes (no other bookkeeping):
//!
//! - deploy-hook's `deployment_started`, `deployment_promoted`, `deployment_failed` and
//!   `deployment_rolled_back` (their `after.deployment_id` ties them together);
//! - a rollback of a promoted release by alarm-rollback or `opsctl rollback` (`rollback`, whose
//!   `before` names the deployment rolled back).
//!
//! Definitions, as the report states them:
//! - a deployment counts in the window when it ended there (promoted, failed or rolled back);
//! - **frequency**: promoted deployments per day of the window;
//! - **lead time**: from the deploy stage's start (`deployment_started`) to promotion, median;
//! - **change failure rate**: deployments that failed, were rolled back in flight, or were
//!   rolled back after promotion, over all deployments that ended;
//! - **time to restore**: for a failure in flight, from its start to the end of its revert; for
//!   a promoted release rolled back, from its promotion to the rollback; median.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::AuditRecord;

/// The report for a window of days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoraReport {
    /// Length of the window in days.
    pub days: u32,
    /// Start of the window.
    pub from: DateTime<Utc>,
    /// End of the window.
    pub to: DateTime<Utc>,
    /// Every service together.
    pub overall: Figures,
    /// Per service, by name.
    pub services: Vec<ServiceFigures>,
}

/// One service's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceFigures {
    /// The service.
    pub service: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The four figures and the counts behind them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Deployments that ended in the window.
    pub deployments: usize,
    /// Of those, promoted (and not rolled back since).
    pub promoted: usize,
    /// Of those, failed or rolled back (in flight or after promotion).
    pub failed: usize,
    /// Promoted deployments per day.
    pub deploys_per_day: f64,
    /// Median lead time (deploy stage start → promoted), seconds.
    pub lead_time_median_seconds: Option<i64>,
    /// Failed over ended; `None` when nothing ended.
    pub change_failure_rate: Option<f64>,
    /// Median time to restore, seconds.
    pub restore_median_seconds: Option<i64>,
    /// Per day of the window, oldest first.
    pub daily: Vec<Day>,
}

/// One day's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// The day (UTC).
    pub day: NaiveDate,
    /// Deployments that ended that day.
    pub deployments: usize,
    /// Of those, failed.
    pub failed: usize,
}

/// What the audit trail says of one deployment.
#[derive(Debug, Clone, Default, PartialEq)]
struct Deployment {
    service: String,
    started: Option<DateTime<Utc>>,
    promoted: Option<DateTime<Utc>>,
    failed: Option<DateTime<Utc>>,
    rolled_back_after_promotion: Option<DateTime<Utc>>,
}

impl Deployment {
    /// When it ended and whether it failed; `None` while in flight.
    fn ended(&self) -> Option<(DateTime<Utc>, bool)> {
        match (self.failed, self.promoted, self.rolled_back_after_promotion) {
            (Some(at), _, _) => Some((at, true)),
            (None, Some(at), Some(_)) => Some((at, true)),
            (None, Some(at), None) => Some((at, false)),
            (None, None, _) => None,
        }
    }

    fn lead_time(&self) -> Option<i64> {
        Some((self.promoted? - self.started?).num_seconds().max(0))
    }

    fn restore_time(&self) -> Option<i64> {
        let span = match (self.failed, self.started, self.promoted) {
            (Some(failed), Some(started), _) => failed - started,
            _ => self.rolled_back_after_promotion? - self.promoted?,
        };
        Some(span.num_seconds().max(0))
    }
}

/// The deployment id an audit record is about.
fn deployment_of(record: &AuditRecord) -> Option<String> {
    let from = |value: &serde_json::Value| {
        value
            .get("deployment_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    match record.action.as_str() {
        // A rollback names the deployment it undid in the record as it was before.
        "rollback" => from(&record.before).or_else(|| {
            record
                .before
                .get("progress")
                .and_then(from)
                .filter(|id| !id.is_empty())
        }),
        _ => from(&record.after).or_else(|| {
            record
                .id
                .strip_suffix(&format!("-{}", record.action))
                .map(str::to_owned)
        }),
    }
}

fn collect(records: &[AuditRecord]) -> BTreeMap<String, Deployment> {
    let mut deployments: BTreeMap<String, Deployment> = BTreeMap::new();
    for record in records {
        if record.outcome != "succeeded" && record.outcome != "failed" {
            continue;
        }
        let Some(service) = record.target.strip_prefix("service:") else {
            continue;
        };
        let Some(id) = deployment_of(record) else {
            continue;
        };
        let entry = deployments.entry(id).or_default();
        entry.service = service.to_owned();
        let earliest = |slot: &mut Option<DateTime<Utc>>| {
            *slot = Some(slot.map_or(record.at, |t| t.min(record.at)));
        };
        match record.action.as_str() {
            "deployment_started" => earliest(&mut entry.started),
            "deployment_promoted" => earliest(&mut entry.promoted),
            "deployment_failed" | "deployment_rolled_back" => earliest(&mut entry.failed),
            "rollback" => earliest(&mut entry.rolled_back_after_promotion),
            _ => {}
        }
    }
    // A rollback audit without a promotion on record is an in-flight revert already counted.
    for deployment in deployments.values_mut() {
        if deployment.promoted.is_none() {
            deployment.rolled_back_after_promotion = None;
        }
    }
    deployments
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2
    })
}

fn figures<'a>(
    deployments: impl Iterator<Item = &'a Deployment> + Clone,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    days: u32,
) -> Figures {
    let ended: Vec<(&Deployment, DateTime<Utc>, bool)> = deployments
        .filter_map(|d| d.ended().map(|(at, failed)| (d, at, failed)))
        .filter(|(_, at, _)| *at >= from && *at <= to)
        .collect();
    let failed = ended.iter().filter(|(_, _, failed)| *failed).count();
    let promoted = ended.len() - failed;
    let mut daily: Vec<Day> = (0..days)
        .rev()
        .map(|back| Day {
            day: (to - Duration::days(i64::from(back))).date_naive(),
            deployments: 0,
            failed: 0,
        })
        .collect();
    for (_, at, was_failed) in &ended {
        if let Some(day) = daily.iter_mut().find(|d| d.day == at.date_naive()) {
            day.deployments += 1;
            day.failed += usize::from(*was_failed);
        }
    }
    Figures {
        deployments: ended.len(),
        promoted,
        failed,
        deploys_per_day: if days == 0 {
            0.0
        } else {
            (promoted as f64 / f64::from(days) * 100.0).round() / 100.0
        },
        lead_time_median_seconds: median(
            ended.iter().filter_map(|(d, _, _)| d.lead_time()).collect(),
        ),
        change_failure_rate: (!ended.is_empty())
            .then(|| (failed as f64 / ended.len() as f64 * 1000.0).round() / 1000.0),
        restore_median_seconds: median(
            ended
                .iter()
                .filter(|(_, _, failed)| *failed)
                .filter_map(|(d, _, _)| d.restore_time())
                .collect(),
        ),
        daily,
    }
}

/// The report for the `days` days up to `now` from `records` (any order; records outside the
/// window are used only to pair a deployment's start with its end).
pub fn report(records: &[AuditRecord], days: u32, now: DateTime<Utc>) -> DoraReport {
    let from = now - Duration::days(i64::from(days));
    let deployments = collect(records);
    let mut by_service: BTreeMap<&str, Vec<&Deployment>> = BTreeMap::new();
    for deployment in deployments.values() {
        by_service
            .entry(deployment.service.as_str())
            .or_default()
            .push(deployment);
    }
    DoraReport {
        days,
        from,
        to: now,
        overall: figures(deployments.values(), from, now, days),
        services: by_service
            .into_iter()
            .map(|(service, list)| ServiceFigures {
                service: service.to_owned(),
                figures: figures(list.into_iter(), from, now, days),
            })
            .filter(|s| s.figures.deployments > 0)
            .collect(),
    }
}

#[cfg(test)]
mod tests;
