//! What an operator sees of the suite at a glance: each service's deployment (status, live
//! weights, versions, the step in progress and the time left in its bake, the last rollback),
//! each backup plan's freshness against its schedule, and cost alerts. Pure views of records
//! already read; `opsctl status`, the REST API and the status page all render these.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Strategy;
use crate::deploy::{Phase, Step};
use crate::deployment::{DeploymentRecord, DeploymentStatus, Release};

/// One service as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The service's name in the config.
    pub name: String,
    /// `STABLE`, `IN_PROGRESS`… or `NEW` when no deployment was ever recorded.
    pub status: String,
    /// The configured (or last used) strategy.
    pub strategy: Strategy,
    /// What a rollback returns to.
    pub stable: Option<VersionView>,
    /// What is being rolled out, or was just promoted.
    pub candidate: Option<VersionView>,
    /// Route53 weight per target as last written.
    pub weights: BTreeMap<String, u8>,
    /// The step in progress, while a deployment is in flight.
    pub step: Option<StepView>,
    /// Held by an operator.
    pub paused: bool,
    /// Operator commands stored and not yet carried out.
    pub pending_commands: usize,
    /// The deployment in flight or last finished.
    pub deployment_id: Option<String>,
    /// The last rollback, kept until the next deployment.
    pub last_rollback: Option<RollbackView>,
    /// When the record was last written.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A release, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionView {
    /// Task definition (ARN or `family:revision`).
    pub task_definition: String,
    /// Container image.
    pub image: Option<String>,
}

/// Where a deployment in flight stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    /// 1-based index of the current step.
    pub index: usize,
    /// Number of steps.
    pub total: usize,
    /// What the step does, in words.
    pub name: String,
    /// The candidate's share of traffic after the last shift so far (0–100).
    pub percent: u8,
    /// When the bake in progress ends (frozen while paused: then absent).
    pub bake_ends_at: Option<DateTime<Utc>>,
    /// Seconds left in the bake in progress.
    pub seconds_left: Option<i64>,
}

/// A rollback, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackView {
    /// When it started.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// The alarm (`alarm:<name>`) or the operator who rolled back.
    pub by: String,
}

fn version(release: &Release) -> VersionView {
    VersionView {
        task_definition: release.task_definition.clone(),
        image: release.image.clone(),
    }
}

/// The view of `service` (configured with `strategy`) from its record, if it has one.
pub fn service(
    name: &str,
    strategy: Strategy,
    record: Option<&DeploymentRecord>,
    now: DateTime<Utc>,
) -> ServiceStatus {
    let Some(record) = record else {
        return ServiceStatus {
            name: name.to_owned(),
            status: "NEW".to_owned(),
            strategy,
            stable: None,
            candidate: None,
            weights: BTreeMap::new(),
            step: None,
            paused: false,
            pending_commands: 0,
            deployment_id: None,
            last_rollback: None,
            updated_at: None,
        };
    };
    let in_flight = record.status == DeploymentStatus::InProgress;
    let progress = record.progress.as_ref();
    ServiceStatus {
        name: name.to_owned(),
        status: record.status.as_str().to_owned(),
        strategy: record.strategy,
        stable: Some(version(&record.stable)),
        candidate: record.candidate.as_ref().map(version),
        weights: record.weights.clone(),
        step: progress
            .filter(|_| in_flight)
            .and_then(|p| step(p, &record.weights, now)),
        paused: in_flight && progress.is_some_and(|p| p.paused.is_some()),
        pending_commands: record.commands.len(),
        deployment_id: progress
            .map(|p| p.deployment_id.clone())
            .or_else(|| record.deployment_id.clone()),
        last_rollback: record.rollback.as_ref().map(|mark| RollbackView {
            at: mark.started_at,
            reason: mark.reason.clone(),
            by: mark
                .by
                .clone()
                .unwrap_or_else(|| format!("alarm:{}", mark.alarm)),
        }),
        updated_at: Some(record.updated_at),
    }
}

fn step(
    progress: &crate::deploy::Progress,
    weights: &BTreeMap<String, u8>,
    now: DateTime<Utc>,
) -> Option<StepView> {
    let total = progress.steps.len();
    let current = progress.steps.get(progress.step)?;
    // The candidate's live weight as last written; else the last shift already done.
    let percent = progress
        .target
        .as_ref()
        .and_then(|target| weights.get(target).copied())
        .unwrap_or_else(|| {
            progress.steps[..progress.step]
                .iter()
                .rev()
                .find_map(|s| match s {
                    Step::Shift { percent, .. } => Some(*percent),
                    _ => None,
                })
                .unwrap_or(0)
        });
    let (bake_ends_at, seconds_left) = match current {
        Step::Bake { seconds } if !matches!(progress.phase, Phase::Acting { .. }) => {
            let ends = progress.step_started_at + Duration::seconds(i64::from(*seconds));
            match &progress.paused {
                // Paused: the clock stands still at what was left when the pause took effect.
                Some(paused) => (None, Some((ends - paused.at).num_seconds().max(0))),
                None => (Some(ends), Some((ends - now).num_seconds().max(0))),
            }
        }
        _ => (None, None),
    };
    Some(StepView {
        index: progress.step + 1,
        total,
        name: current.describe(),
        percent,
        bake_ends_at,
        seconds_left,
    })
}

/// A backup plan's freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupPlanStatus {
    /// The plan's name.
    pub plan: String,
    /// Its backup schedule expression.
    pub schedule: String,
    /// The latest committed snapshot.
    pub latest: Option<SnapshotView>,
    /// How old the latest snapshot may be before it is stale (from the schedule).
    pub max_age_seconds: Option<i64>,
    /// Whether the latest snapshot is recent enough for the schedule.
    pub fresh: bool,
    /// The last verification run.
    pub last_verify: Option<VerifyView>,
}

/// A snapshot, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotView {
    /// Snapshot id.
    pub id: String,
    /// When the run started.
    pub at: DateTime<Utc>,
    /// Seconds since then.
    pub age_seconds: i64,
    /// Objects in the snapshot.
    pub objects: u64,
    /// Bytes in the snapshot.
    pub bytes: u64,
}

/// A verification run, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyView {
    /// When it ran.
    pub at: DateTime<Utc>,
    /// Whether everything checked out.
    pub ok: bool,
    /// Its summary.
    pub detail: String,
}

/// The longest a plan's latest snapshot may age under `schedule`: one interval of the schedule
/// plus half an interval (at least an hour) of grace for a run that is slow or retried. `None`
/// for a one-off `at(…)` schedule or an expression this does not read.
pub fn max_age(schedule: &str) -> Option<Duration> {
    let interval = schedule_interval(schedule)?;
    let grace = (interval / 2).max(Duration::hours(1));
    Some(interval + grace)
}

/// The interval between runs of an EventBridge Scheduler expression: `rate(n unit)` exactly;
/// `cron(min hour dom month dow year)` as hourly (hour `*` or a step), weekly (a day of week
/// named), monthly (a day of month named) or daily.
pub fn schedule_interval(schedule: &str) -> Option<Duration> {
    let expr = schedule.trim();
    if let Some(rate) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = rate.split_whitespace();
        let n: i64 = parts.next()?.parse().ok()?;
        let unit = parts.next()?.trim_end_matches('s');
        let one = match unit {
            "minute" => Duration::minutes(1),
            "hour" => Duration::hours(1),
            "day" => Duration::days(1),
            _ => return None,
        };
        return (n > 0).then(|| one * n as i32);
    }
    let cron = expr.strip_prefix("cron(")?.strip_suffix(')')?;
    let fields: Vec<&str> = cron.split_whitespace().collect();
    if fields.len() != 6 {
        return None;
    }
    let named = |f: &str| f != "*" && f != "?";
    let interval = if fields[1] == "*" || fields[1].contains('/') || fields[1].contains(',') {
        Duration::hours(1)
    } else if named(fields[4]) {
        Duration::weeks(1)
    } else if named(fields[2]) {
        Duration::days(31)
    } else {
        Duration::days(1)
    };
    Some(interval)
}

/// The view of a backup plan from its latest snapshot and last verification.
pub fn backup_plan(
    plan: &str,
    schedule: &str,
    latest: Option<(String, DateTime<Utc>, u64, u64)>,
    last_verify: Option<VerifyView>,
    now: DateTime<Utc>,
) -> BackupPlanStatus {
    let max_age = max_age(schedule);
    let latest = latest.map(|(id, at, objects, bytes)| SnapshotView {
        id,
        at,
        age_seconds: (now - at).num_seconds().max(0),
        objects,
        bytes,
    });
    let fresh = match (&latest, max_age) {
        (Some(snapshot), Some(max)) => snapshot.age_seconds <= max.num_seconds(),
        // A one-off schedule: any snapshot will do.
        (Some(_), None) => true,
        (None, _) => false,
    };
    BackupPlanStatus {
        plan: plan.to_owned(),
        schedule: schedule.to_owned(),
        latest,
        max_age_seconds: max_age.map(|d| d.num_seconds()),
        fresh,
        last_verify,
    }
}

/// A span of seconds in words: `3m 10s`, `2h 5m`, `3d 4h`.
pub fn human_seconds(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests;
