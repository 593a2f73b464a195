//! The run's reports: a JSON document with a stable schema (`schema_version`), and one
//! self-contained HTML page (inline CSS and SVG, no external assets) people would rather look
//! at: a daily cost chart per top scope with its same-weekday baseline and month-end forecast
//! band, budget bars, and the anomaly table with contributors.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use ops_domain::cost::forecast;
use ops_domain::cost::series::median;
use ops_domain::text::escape_html;
use serde::Serialize;

use crate::analysis::Analysis;
use crate::source::Unreadable;

/// Where the data came from.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSummary {
    /// `focus`, `cur2` or `cost_explorer`.
    pub kind: &'static str,
    /// Files (or API pages) read.
    pub files: usize,
    /// Rows read.
    pub rows: u64,
    /// Files skipped as unreadable.
    pub unreadable: Vec<Unreadable>,
}

/// What the alert lifecycle did this run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertSummary {
    /// Newly notified alert keys.
    pub opened: Vec<String>,
    /// Escalated alert keys.
    pub escalated: Vec<String>,
    /// Resolved alert keys.
    pub resolved: Vec<String>,
    /// Alerts open after this run.
    pub open: usize,
}

/// The JSON report (schema version 1).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Schema version of this document.
    pub schema_version: u32,
    /// Run id (also in the report keys).
    pub run_id: String,
    /// When the run happened.
    pub generated_at: DateTime<Utc>,
    /// Source summary.
    pub source: SourceSummary,
    /// `false` when files were skipped: totals then exclude them.
    pub complete: bool,
    /// The analysis.
    #[serde(flatten)]
    pub analysis: Analysis,
    /// Alert lifecycle outcome.
    pub alerts: AlertSummary,
}

/// Same-weekday median of the `weeks` weeks before each day (the anomaly baseline).
fn baseline(days: &BTreeMap<NaiveDate, f64>, weeks: i64) -> BTreeMap<NaiveDate, f64> {
    days.keys()
        .filter_map(|day| {
            let history: Vec<f64> = (1..=weeks)
                .filter_map(|w| days.get(&(*day - Duration::weeks(w))).copied())
                .collect();
            (history.len() >= 2)
                .then(|| median(&history).map(|m| (*day, m)))
                .flatten()
        })
        .collect()
}

/// An SVG line chart of `days` (last 42 days up to `as_of`), with baseline and forecast band.
fn chart(days: &BTreeMap<NaiveDate, f64>, as_of: NaiveDate, baseline_weeks: u32) -> String {
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    let start = as_of - Duration::days(41);
    let month_end = (as_of
        .with_day(1)
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .unwrap_or(as_of))
        - Duration::days(1);
    let shown: BTreeMap<NaiveDate, f64> =
        days.range(start..=as_of).map(|(d, c)| (*d, *c)).collect();
    let base = baseline(days, i64::from(baseline_weeks));
    let fc = forecast::month_end(days, as_of, baseline_weeks);
    let remaining = f64::from(fc.remaining_days.max(1));
    let (low, high) = (
        (fc.low - fc.month_to_date) / remaining,
        (fc.high - fc.month_to_date) / remaining,
    );
    let max = shown
        .values()
        .copied()
        .chain([high])
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let span = (month_end - start).num_days().max(1) as f64;
    let x = |day: NaiveDate| (day - start).num_days() as f64 / span * W;
    let y = |cost: f64| H - cost / max * (H - 10.0);
    let line = |points: &BTreeMap<NaiveDate, f64>| {
        points
            .iter()
            .filter(|(d, _)| **d >= start && **d <= as_of)
            .map(|(d, c)| format!("{:.1},{:.1}", x(*d), y(*c)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut svg = format!(r#"<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">"#);
    if fc.remaining_days > 0 {
        let (x0, x1) = (x(as_of), x(month_end));
        let _ = write!(
            svg,
            r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" class="band"><title>forecast {low:.2}–{high:.2} per day</title></rect>"#,
            y(high),
            (x1 - x0).max(1.0),
            (y(low) - y(high)).max(1.0)
        );
    }
    let _ = write!(svg, r#"<polyline points="{}" class="base"/>"#, line(&base));
    let _ = write!(svg, r#"<polyline points="{}" class="cost"/>"#, line(&shown));
    let _ = write!(
        svg,
        r#"<text x="4" y="12" class="axis">max {max:.2}/day</text></svg>"#
    );
    svg
}

/// The HTML report.
pub fn html(report: &Report, baseline_weeks: u32) -> String {
    let a = &report.analysis;
    let unit = a.currency.as_deref().unwrap_or("USD");
    let mut page = String::new();
    let _ = write!(
        page,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cost report {as_of}</title><style>
body{{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2733}}h1{{font-size:1.4rem}}h2{{font-size:1.1rem;margin-top:2rem}}
table{{border-collapse:collapse}}td,th{{padding:.3rem .6rem;border-bottom:1px solid #dde3ea;text-align:left}}
.cost{{fill:none;stroke:#1f6feb;stroke-width:2}}.base{{fill:none;stroke:#8c959f;stroke-dasharray:4 3}}.band{{fill:#f2cc60;opacity:.45}}.axis{{font-size:10px;fill:#57606a}}
.bar{{background:#eef1f4;width:320px;height:14px;position:relative}}.fill{{height:14px;background:#2da44e}}.over{{background:#cf222e}}.fc{{position:absolute;top:0;height:14px;border-right:2px solid #9a6700}}
.warn{{color:#9a6700}}.crit{{color:#cf222e}}</style></head><body>
<h1>Cost report — data to {as_of}</h1><p>Source: {kind}, {files} file(s), {rows} rows{incomplete}. Generated {generated}. Run {run}.</p>"#,
        as_of = a.as_of,
        kind = report.source.kind,
        files = report.source.files,
        rows = report.source.rows,
        incomplete = if report.complete {
            String::new()
        } else {
            format!(
                " — <b class=crit>incomplete: {} file(s) unreadable</b>",
                report.source.unreadable.len()
            )
        },
        generated = report.generated_at.format("%Y-%m-%d %H:%M UTC"),
        run = escape_html(&report.run_id),
    );
    if let Some(stale) = &a.stale {
        let _ = write!(
            page,
            "<p class=warn>Data is stale: latest charge {} (allowed {} h).</p>",
            stale
                .latest
                .map(|l| l.to_string())
                .unwrap_or_else(|| "none".into()),
            stale.max_age_hours
        );
    }
    let _ = write!(
        page,
        "<h2>Month to date</h2><p>{:.2} {unit} spent; forecast month end {:.2} {unit} (interval {:.2} – {:.2}).</p>{}",
        a.forecast.month_to_date, a.forecast.expected, a.forecast.low, a.forecast.high,
        chart(&a.total, a.as_of, baseline_weeks)
    );
    page.push_str("<h2>Budgets</h2><table><tr><th>Budget</th><th>Spent</th><th></th><th>Forecast</th><th>Status</th></tr>");
    for budget in &a.budgets {
        let spent = 100.0 * budget.actual / budget.monthly;
        let fc = 100.0 * budget.forecast.expected / budget.monthly;
        let status = match budget.severity {
            Some(ops_domain::notify::Severity::Critical) => "<b class=crit>critical</b>",
            Some(_) => "<b class=warn>warning</b>",
            None => "ok",
        };
        let _ = write!(
            page,
            r#"<tr><td>{}</td><td>{:.2} / {:.2}</td><td><div class=bar><div class="fill{}" style="width:{:.1}%"></div><div class=fc style="width:{:.1}%"></div></div></td><td>{:.2} ({fc:.0}%)</td><td>{status}</td></tr>"#,
            escape_html(&budget.name),
            budget.actual,
            budget.monthly,
            if spent >= 100.0 { " over" } else { "" },
            spent.min(100.0),
            fc.min(100.0),
            budget.forecast.expected
        );
    }
    page.push_str("</table><h2>Anomalies</h2>");
    if a.anomalies.is_empty() {
        page.push_str("<p>None in the evaluated days.</p>");
    } else {
        page.push_str("<table><tr><th>Day</th><th>Scope</th><th>Cost</th><th>Expected</th><th>Score</th><th>Top contributors</th></tr>");
        for found in &a.anomalies {
            let scope = found
                .scope
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let contributors = found
                .contributors
                .iter()
                .map(|c| {
                    format!(
                        "{}={} {:+.2} ({:.0}%)",
                        escape_html(&c.dimension),
                        escape_html(&c.value),
                        c.delta,
                        100.0 * c.share
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>");
            let _ = write!(page, "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.1}</td><td>{contributors}</td></tr>", found.day, escape_html(&scope), found.actual, found.baseline, found.score);
        }
        page.push_str("</table>");
    }
    page.push_str(
        "<h2>Largest scopes (last 42 days, dashed: same-weekday baseline, band: forecast)</h2>",
    );
    for scope in &a.top_scopes {
        let name = scope
            .scope
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            page,
            "<h3>{}</h3>{}",
            escape_html(&name),
            chart(&scope.days, a.as_of, baseline_weeks)
        );
    }
    let alerts = &report.alerts;
    let _ = writeln!(
        page,
        "<h2>Alerts</h2><p>Opened: {}. Escalated: {}. Resolved: {}. Open now: {}.</p></body></html>",
        escape_html(&alerts.opened.join(", ")),
        escape_html(&alerts.escalated.join(", ")),
        escape_html(&alerts.resolved.join(", ")),
        alerts.open
    );
    page
}
