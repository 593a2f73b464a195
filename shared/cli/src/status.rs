//! `opsctl status [--watch]`: one screen for the whole suite — every service's deployment (status,
//! live weights, stable and candidate versions, the step and the time left in its bake, the last
//! rollback), every backup plan's freshness and last verification, and cost (open alerts,
//! month to date against budgets). The same [`SuiteStatus`] is the REST API's `GET /status`.

use std::io::Write;

use chrono::{DateTime, Utc};
use ops_domain::deployment::DeploymentRecord;
use ops_domain::keys;
use ops_domain::status::{self as view, human_seconds, BackupPlanStatus, ServiceStatus};
use serde::Serialize;

use crate::backups;
use crate::cost::{self, CostLatest};
use crate::paint::Paint;
use crate::session::Session;
use crate::{Env, Failure, Options, Output};

/// The whole suite.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteStatus {
    /// When it was read.
    pub generated_at: DateTime<Utc>,
    /// Every configured service.
    pub services: Vec<ServiceStatus>,
    /// Every backup plan.
    pub backups: Vec<BackupPlanStatus>,
    /// The latest cost report, if any.
    pub cost: Option<CostLatest>,
}

/// The record of `service`, if the suite ever deployed it.
async fn record(session: &Session, service: &str) -> Result<Option<DeploymentRecord>, Failure> {
    let key = keys::deployment_record(service);
    session
        .store
        .get::<DeploymentRecord>(&key)
        .await
        .map(|found| found.map(|v| v.value))
        .map_err(|error| Failure::Failed(format!("cannot read the deployment record: {error}")))
}

/// The view of one service; [`Failure::NotFound`] when it is not in the config.
pub async fn service(
    session: &Session,
    name: &str,
    now: DateTime<Utc>,
) -> Result<ServiceStatus, Failure> {
    let config = session.service(name)?;
    let record = record(session, name).await?;
    Ok(view::service(name, config.strategy, record.as_ref(), now))
}

/// The view of every configured service, in name order.
pub async fn services(
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Vec<ServiceStatus>, Failure> {
    let reads = session
        .config
        .services
        .iter()
        .map(|(name, config)| async move {
            let record = record(session, name).await?;
            Ok::<_, Failure>(view::service(name, config.strategy, record.as_ref(), now))
        });
    futures_util::future::try_join_all(reads).await
}

/// The whole suite as of `now`.
pub async fn suite(session: &Session, now: DateTime<Utc>) -> Result<SuiteStatus, Failure> {
    let (services, backups, cost) = futures_util::future::try_join3(
        services(session, now),
        backups::plans(session, now),
        cost::latest_if_any(session),
    )
    .await?;
    Ok(SuiteStatus {
        generated_at: now,
        services,
        backups: backups.plans,
        cost,
    })
}

/// `opsctl status`: prints the suite once, or with `--watch` every `interval` seconds until
/// interrupted (on a terminal the screen is redrawn in place).
pub async fn run(
    watch: bool,
    interval: u64,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let session = Session::open(env, options).await?;
    let paint = Paint::new(env.color && options.output == Output::Text);
    loop {
        let status = suite(&session, Utc::now()).await?;
        match options.output {
            Output::Json => {
                let body = serde_json::to_string(&status)
                    .map_err(|error| Failure::Failed(error.to_string()))?;
                let _ = writeln!(out, "{body}");
            }
            Output::Text => {
                if watch && env.color {
                    // Clear the screen and go home, so the table is redrawn in place.
                    let _ = write!(out, "\x1b[2J\x1b[H");
                }
                for line in render(&status, &paint) {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        let _ = out.flush();
        if !watch {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(interval.max(1))).await;
    }
}

/// The suite as lines of text.
pub fn render(status: &SuiteStatus, paint: &Paint) -> Vec<String> {
    let mut lines = vec![paint.bold(&format!(
        "ops suite status at {}",
        status.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
    ))];
    lines.push(String::new());
    lines.push(paint.bold("SERVICES"));
    if status.services.is_empty() {
        lines.push("  (none configured)".to_owned());
    }
    for s in &status.services {
        lines.extend(service_lines(s, paint));
    }
    lines.push(String::new());
    lines.push(paint.bold("BACKUPS"));
    if status.backups.is_empty() {
        lines.push("  (no plans configured)".to_owned());
    }
    for plan in &status.backups {
        lines.push(backups::line(plan, paint));
    }
    lines.push(String::new());
    lines.push(paint.bold("COST"));
    match &status.cost {
        None => lines.push("  no cost report yet".to_owned()),
        Some(cost) => lines.extend(cost::lines(cost, paint)),
    }
    lines
}

/// `text` cut to `max` characters (with `…`), for one screen line.
fn clipped(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

fn status_word(status: &str, paint: &Paint) -> String {
    let padded = format!("{status:<11}");
    match status {
        "STABLE" | "PROMOTED" => paint.green(&padded),
        "IN_PROGRESS" => paint.cyan(&padded),
        "ROLLING_BACK" | "ROLLED_BACK" | "FAILED" => paint.red(&padded),
        _ => paint.dim(&padded),
    }
}

fn short(task_definition: &str) -> &str {
    task_definition
        .rsplit_once(":task-definition/")
        .map_or(task_definition, |(_, name)| name)
}

/// One service: its status line, then its step and last rollback when there are any.
pub fn service_lines(s: &ServiceStatus, paint: &Paint) -> Vec<String> {
    let weights = if s.weights.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = s
            .weights
            .iter()
            .map(|(target, weight)| format!("{target} {weight}%"))
            .collect();
        format!("  weights {}", parts.join(" / "))
    };
    let versions = match (&s.stable, &s.candidate) {
        (Some(stable), Some(candidate)) => format!(
            "stable {} candidate {}",
            short(&stable.task_definition),
            short(&candidate.task_definition)
        ),
        (Some(stable), None) => format!("stable {}", short(&stable.task_definition)),
        _ => "never deployed".to_owned(),
    };
    let mut lines = vec![format!(
        "  {:<16} {} {:<11} {versions}{weights}",
        s.name,
        status_word(&s.status, paint),
        serde_json::to_value(s.strategy)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    )];
    if let Some(step) = &s.step {
        let left = step
            .seconds_left
            .map(|left| format!(", {} left", human_seconds(left)))
            .unwrap_or_default();
        let paused = if s.paused {
            paint.yellow(" PAUSED")
        } else {
            String::new()
        };
        lines.push(format!(
            "  {:<16} step {}/{} {} ({}% on the candidate{left}){paused}",
            "", step.index, step.total, step.name, step.percent
        ));
    }
    if s.pending_commands > 0 {
        lines.push(format!(
            "  {:<16} {} operator command(s) waiting for the next invocation",
            "", s.pending_commands
        ));
    }
    if let Some(rollback) = &s.last_rollback {
        lines.push(format!(
            "  {:<16} {} at {} by {}: {}",
            "",
            paint.red("last rollback"),
            rollback.at.format("%Y-%m-%d %H:%M UTC"),
            rollback.by,
            clipped(&rollback.reason, 90)
        ));
    }
    lines
}
