//! `opsctl dora [--days 30]`: deployment frequency, lead time, change failure rate and time to
//! restore, per service and overall, from the audit trail (definitions in
//! [`ops_domain::dora`]). The same [`DoraReport`] is the REST API's `GET /reports/dora`.

use std::io::Write;

use chrono::{DateTime, Duration, Utc};
use ops_domain::dora::{self as figures, DoraReport, Figures};
use ops_domain::status::human_seconds;

use crate::audit;
use crate::session::Session;
use crate::{Env, Failure, Options, Output};

/// Most days a report covers.
pub const MAX_DAYS: u32 = 365;

/// The functions whose audit records tell of deployments and rollbacks.
const DEPLOYING: [&str; 4] = ["deploy-hook", "alarm-rollback", "opsctl", "ops-api"];

/// How far before the window a deployment's start is looked for (a deployment that ended in
/// the window may have started before it).
const LOOK_BACK_DAYS: i64 = 7;

/// The report for the `days` days up to `now`.
pub async fn report(
    session: &Session,
    days: u32,
    now: DateTime<Utc>,
) -> Result<DoraReport, Failure> {
    if days == 0 || days > MAX_DAYS {
        return Err(Failure::Usage(format!(
            "days: between 1 and {MAX_DAYS}, not {days}"
        )));
    }
    let since = now - Duration::days(i64::from(days) + LOOK_BACK_DAYS);
    let records = audit::read(session, since, &DEPLOYING, usize::MAX).await?;
    Ok(figures::report(&records, days, now))
}

fn seconds(value: Option<i64>) -> String {
    value.map_or_else(|| "—".to_owned(), human_seconds)
}

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |r| format!("{:.0}%", r * 100.0))
}

fn row(name: &str, f: &Figures) -> String {
    format!(
        "  {name:<16} {:>5} {:>8} {:>6} {:>9.2} {:>12} {:>8} {:>12}",
        f.deployments,
        f.promoted,
        f.failed,
        f.deploys_per_day,
        seconds(f.lead_time_median_seconds),
        rate(f.change_failure_rate),
        seconds(f.restore_median_seconds)
    )
}

/// The report as lines of text.
pub fn lines(report: &DoraReport) -> Vec<String> {
    let mut lines = vec![
        format!(
            "DORA, last {} days ({} to {})",
            report.days,
            report.from.format("%Y-%m-%d"),
            report.to.format("%Y-%m-%d")
        ),
        format!(
            "  {:<16} {:>5} {:>8} {:>6} {:>9} {:>12} {:>8} {:>12}",
            "service", "ended", "promoted", "failed", "per day", "lead time", "CFR", "restore"
        ),
    ];
    for service in &report.services {
        lines.push(row(&service.service, &service.figures));
    }
    lines.push(row("overall", &report.overall));
    lines
}

/// `opsctl dora`.
pub async fn run(
    days: u32,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let session = Session::open(env, options).await?;
    let report = report(&session, days, Utc::now()).await?;
    match options.output {
        Output::Json => {
            let body = serde_json::to_string(&report)
                .map_err(|error| Failure::Failed(error.to_string()))?;
            let _ = writeln!(out, "{body}");
        }
        Output::Text => {
            for line in lines(&report) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    Ok(())
}
