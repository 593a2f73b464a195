//! `opsctl cost report [--open]`: the latest cost report — month to date and forecast against
//! each budget, and the open cost alerts — with a link to its HTML page (a presigned URL valid
//! for 15 minutes; `--open` opens it in the browser). The same [`CostLatest`] is the REST API's
//! `GET /cost/latest`.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ops_domain::alerts::AlertBook;
use serde::Serialize;
use serde_json::Value;

use crate::paint::Paint;
use crate::session::Session;
use crate::{Env, Failure, Options, Output};

/// How long the report link works.
pub const LINK_VALID: Duration = Duration::from_secs(15 * 60);

/// The latest cost report, summarized.
#[derive(Debug, Clone, Serialize)]
pub struct CostLatest {
    /// When cost-check wrote it.
    pub generated_at: Option<DateTime<Utc>>,
    /// The last complete day it covers.
    pub as_of: Option<String>,
    /// Its JSON document in the state bucket.
    pub report_json_key: String,
    /// Its HTML page in the state bucket.
    pub report_html_key: String,
    /// A presigned link to the HTML page.
    pub html_url: Option<String>,
    /// Open cost alerts.
    pub alerts: Vec<AlertView>,
    /// Budgets: month to date and forecast against the monthly amount.
    pub budgets: Vec<BudgetView>,
}

/// An open cost alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    /// Its key.
    pub key: String,
    /// Its severity.
    pub severity: String,
    /// What it says.
    pub title: String,
    /// `open`.
    pub state: String,
    /// Since when.
    pub opened_at: DateTime<Utc>,
}

/// One budget.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetView {
    /// The budget's name.
    pub name: String,
    /// Spent this month so far.
    pub month_to_date: f64,
    /// The monthly amount.
    pub limit: f64,
    /// Expected at month end.
    pub forecast: f64,
    /// The data's currency.
    pub currency: Option<String>,
}

/// The latest report; [`Failure::NotFound`] when cost-check has written none.
pub async fn latest(session: &Session) -> Result<CostLatest, Failure> {
    latest_if_any(session).await?.ok_or_else(|| {
        Failure::NotFound(format!(
            "no cost report under s3://{}/{}/ yet: cost-check has not run",
            session.store.bucket(),
            prefix(session)
        ))
    })
}

fn prefix(session: &Session) -> String {
    session
        .config
        .cost
        .as_ref()
        .map_or("reports/cost", |cost| cost.report_prefix.as_str())
        .trim_end_matches('/')
        .to_owned()
}

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure::Failed(format!("cannot read the cost reports: {error}"))
}

/// The latest report, if cost-check has written one: the newest day's folder, and in it the
/// report generated last.
pub async fn latest_if_any(session: &Session) -> Result<Option<CostLatest>, Failure> {
    let prefix = prefix(session);
    let days = session
        .store
        .folders(&format!("{prefix}/"))
        .await
        .map_err(failed)?;
    let Some(day) = days.last() else {
        return Ok(None);
    };
    let keys = session.store.list(day, None, 200).await.map_err(failed)?;
    let mut newest: Option<(Value, String)> = None;
    for listed in keys.iter().filter(|l| l.key.ends_with(".json")) {
        let Some(found) = session
            .store
            .get::<Value>(&listed.key)
            .await
            .map_err(failed)?
        else {
            continue;
        };
        let at = |v: &Value| {
            v.get("generated_at")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        if newest
            .as_ref()
            .is_none_or(|(best, _)| at(&found.value) > at(best))
        {
            newest = Some((found.value, listed.key.clone()));
        }
    }
    let Some((report, json_key)) = newest else {
        return Ok(None);
    };
    let html_key = format!("{}.html", json_key.trim_end_matches(".json"));
    let book = session
        .store
        .get::<AlertBook>(ops_domain::keys::COST_ALERT_BOOK)
        .await
        .map_err(failed)?
        .map(|v| v.value)
        .unwrap_or_default();
    let html_url = presign(session, &html_key).await;
    Ok(Some(summarize(
        &report, json_key, html_key, html_url, &book,
    )))
}

async fn presign(session: &Session, key: &str) -> Option<String> {
    let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(LINK_VALID).ok()?;
    session
        .clients
        .s3
        .get_object()
        .bucket(session.store.bucket())
        .key(key)
        .presigned(config)
        .await
        .ok()
        .map(|request| request.uri().to_owned())
}

/// The summary of a cost report document and the alert book.
pub fn summarize(
    report: &Value,
    report_json_key: String,
    report_html_key: String,
    html_url: Option<String>,
    book: &AlertBook,
) -> CostLatest {
    let analysis = report.get("analysis");
    let currency = analysis
        .and_then(|a| a.get("currency"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let number = |v: Option<&Value>| v.and_then(Value::as_f64).unwrap_or(0.0);
    let budgets = analysis
        .and_then(|a| a.get("budgets"))
        .and_then(Value::as_array)
        .map(|budgets| {
            budgets
                .iter()
                .map(|b| BudgetView {
                    name: b
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    month_to_date: number(b.get("actual")),
                    limit: number(b.get("monthly")),
                    forecast: number(b.get("forecast").and_then(|f| f.get("expected"))),
                    currency: currency.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    CostLatest {
        generated_at: report
            .get("generated_at")
            .and_then(|v| serde_json::from_value(v.clone()).ok()),
        as_of: analysis
            .and_then(|a| a.get("as_of"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        report_json_key,
        report_html_key,
        html_url,
        alerts: book
            .open
            .values()
            .map(|alert| AlertView {
                key: alert.key.clone(),
                severity: alert.severity.as_str().to_owned(),
                title: alert.title.clone(),
                state: "open".to_owned(),
                opened_at: alert.opened_at,
            })
            .collect(),
        budgets,
    }
}

/// The cost summary as lines of text.
pub fn lines(cost: &CostLatest, paint: &Paint) -> Vec<String> {
    let mut lines = vec![format!(
        "  report of {} ({}), s3 key {}",
        cost.as_of.as_deref().unwrap_or("?"),
        cost.generated_at
            .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "?".to_owned()),
        cost.report_html_key
    )];
    for budget in &cost.budgets {
        let currency = budget.currency.as_deref().unwrap_or("");
        let share = if budget.limit > 0.0 {
            budget.month_to_date / budget.limit * 100.0
        } else {
            0.0
        };
        let forecast = format!("forecast {:.2} {currency}", budget.forecast);
        let forecast = if budget.forecast > budget.limit {
            paint.red(&forecast)
        } else {
            forecast
        };
        lines.push(format!(
            "  budget {:<14} {:.2} of {:.2} {currency} ({share:.0}%), {forecast}",
            budget.name, budget.month_to_date, budget.limit
        ));
    }
    if cost.alerts.is_empty() {
        lines.push(format!("  {}", paint.green("no open cost alert")));
    }
    for alert in &cost.alerts {
        lines.push(format!(
            "  {} {}: {}",
            paint.red(&alert.severity.to_uppercase()),
            alert.key,
            alert.title
        ));
    }
    lines
}

/// `opsctl cost report [--open]`.
pub async fn run(
    open: bool,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let session = Session::open(env, options).await?;
    let cost = latest(&session).await?;
    match options.output {
        Output::Json => {
            let body =
                serde_json::to_string(&cost).map_err(|error| Failure::Failed(error.to_string()))?;
            let _ = writeln!(out, "{body}");
        }
        Output::Text => {
            for line in lines(&cost, &Paint::new(env.color)) {
                let _ = writeln!(out, "{line}");
            }
            if let Some(url) = &cost.html_url {
                let _ = writeln!(out, "  HTML report (link valid 15 minutes): {url}");
            }
        }
    }
    if open {
        let url = cost
            .html_url
            .as_deref()
            .ok_or_else(|| Failure::Failed("cannot make a link to the HTML report".to_owned()))?;
        opener::open_browser(url)
            .map_err(|error| Failure::Failed(format!("cannot open a browser: {error}")))?;
    }
    Ok(())
}
