//! From the cost cube and the config to what the run reports and alerts on: budget statuses,
//! the month-end forecast, anomalies with contributors, freshness, and the findings the alert
//! lifecycle tracks. All of it is the domain crate's pure analysis; this module only maps the
//! config onto it and words the findings.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use ops_domain::alerts::{Finding, Window};
use ops_domain::config::{CostConfig, ThresholdBasis};
use ops_domain::cost::anomaly::{self, Anomaly, AnomalySpec};
use ops_domain::cost::budget::{self, Basis, BudgetSpec, BudgetStatus, Threshold};
use ops_domain::cost::forecast::{self, Forecast};
use ops_domain::cost::freshness::{self, Stale};
use ops_domain::cost::series::{self, ScopeFilter};
use ops_domain::cost::CostCube;
use ops_domain::notify::Severity;
use serde::Serialize;

/// A run's analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Last complete day evaluated.
    pub as_of: NaiveDate,
    /// Days re-evaluated (restatements).
    pub window_from: NaiveDate,
    /// Currency of the data.
    pub currency: Option<String>,
    /// Total cost per day.
    pub total: BTreeMap<NaiveDate, f64>,
    /// Month-end forecast of the total.
    pub forecast: Forecast,
    /// Every budget.
    pub budgets: Vec<BudgetStatus>,
    /// Anomalies found in the window.
    pub anomalies: Vec<Anomaly>,
    /// Set when the data is older than allowed.
    pub stale: Option<Stale>,
    /// Daily cost of the largest scopes (by the anomaly dimensions), for charts.
    pub top_scopes: Vec<ScopeSeries>,
    /// What the alert lifecycle tracks.
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// One scope's daily cost and same-weekday baseline.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeSeries {
    /// Scope values by dimension.
    pub scope: BTreeMap<String, String>,
    /// Cost per day.
    pub days: BTreeMap<NaiveDate, f64>,
}

/// Errors that make the analysis meaningless.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A budget's currency is not the data's.
    #[error("budget {budget} is in {budget_currency} but the cost data is in {data_currency}")]
    CurrencyMismatch {
        /// Budget name.
        budget: String,
        /// Its currency.
        budget_currency: String,
        /// The data's currency.
        data_currency: String,
    },
}

impl Analysis {
    /// The re-evaluated window, for the alert lifecycle.
    pub fn window(&self) -> Window {
        Window {
            from: self.window_from,
            to: self.as_of,
        }
    }
}

fn money(amount: f64, currency: Option<&str>) -> String {
    format!("{amount:.2} {}", currency.unwrap_or("USD"))
}

/// Analyses `cube` as of `as_of` (the last complete day) at `now`.
pub fn analyse(
    config: &CostConfig,
    cube: &CostCube,
    as_of: NaiveDate,
    now: NaiveDateTime,
) -> Result<Analysis, AnalysisError> {
    let currency = cube.currency.clone();
    for budget in &config.budgets {
        if let Some(data) = &currency {
            if *data != budget.currency {
                return Err(AnalysisError::CurrencyMismatch {
                    budget: budget.name.clone(),
                    budget_currency: budget.currency.clone(),
                    data_currency: data.clone(),
                });
            }
        }
    }
    let unit = currency.as_deref();
    let total = series::daily_series(cube, &ScopeFilter::default());
    let forecast = forecast::month_end(&total, as_of, config.anomalies.baseline_weeks);
    let mut findings = Vec::new();

    let budgets: Vec<BudgetStatus> = config
        .budgets
        .iter()
        .map(|budget| {
            let spec = BudgetSpec {
                name: budget.name.clone(),
                monthly: budget.monthly,
                daily: budget.daily,
                filter: ScopeFilter(budget.filter.clone()),
                thresholds: budget
                    .thresholds
                    .iter()
                    .map(|t| Threshold {
                        basis: match t.basis {
                            ThresholdBasis::Actual => Basis::Actual,
                            ThresholdBasis::Forecast => Basis::Forecast,
                        },
                        percent: t.percent,
                        absolute: t.absolute,
                    })
                    .collect(),
                baseline_weeks: config.anomalies.baseline_weeks,
            };
            budget::evaluate(&spec, cube, as_of)
        })
        .collect();
    for status in &budgets {
        let Some(severity) = status.severity else {
            continue;
        };
        // Lead with what is already spent when it is over budget; otherwise with the forecast
        // when that is what crossed a threshold.
        let over_budget = status.actual >= status.monthly;
        let forecast_breach = status.breaches.iter().find(|b| b.basis == Basis::Forecast);
        let title = match forecast_breach {
            Some(breach) if !over_budget => format!(
                "Budget {}: forecast {} of {} ({:.0}%)",
                status.name,
                money(breach.value, unit),
                money(status.monthly, unit),
                breach.percent_of_budget
            ),
            _ => format!(
                "Budget {}: {} spent of {} this month ({:.0}%)",
                status.name,
                money(status.actual, unit),
                money(status.monthly, unit),
                100.0 * status.actual / status.monthly
            ),
        };
        let mut fields = vec![
            ("Month to date".to_owned(), money(status.actual, unit)),
            (
                "Forecast".to_owned(),
                format!(
                    "{} ({} – {})",
                    money(status.forecast.expected, unit),
                    money(status.forecast.low, unit),
                    money(status.forecast.high, unit)
                ),
            ),
            ("Budget".to_owned(), money(status.monthly, unit)),
        ];
        if let Some(daily) = &status.daily {
            fields.push((
                "Daily".to_owned(),
                format!(
                    "{} on {} (limit {})",
                    money(daily.value, unit),
                    daily.day,
                    money(daily.limit, unit)
                ),
            ));
        }
        findings.push(Finding {
            key: format!("budget:{}", status.name),
            severity,
            day: None,
            summary: format!(
                "{} of the thresholds of budget *{}* are crossed as of {as_of}.",
                status.breaches.len() + usize::from(status.daily.is_some()),
                status.name
            ),
            title,
            fields,
        });
    }

    let spec = AnomalySpec {
        by: config.anomalies.by.clone(),
        baseline_weeks: config.anomalies.baseline_weeks,
        z_threshold: config.anomalies.z_threshold,
        min_impact: config.anomalies.min_impact,
        contributor_dimensions: Vec::new(),
        top_contributors: config.anomalies.top_contributors,
        days: config.lookback_days,
    };
    let anomalies = anomaly::detect(cube, &spec, as_of);
    for found in &anomalies {
        let scope = found
            .scope
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let contributors: Vec<String> = found
            .contributors
            .iter()
            .map(|c| {
                format!(
                    "{}={} {:+.2} ({:.0}%)",
                    c.dimension,
                    c.value,
                    c.delta,
                    100.0 * c.share
                )
            })
            .collect();
        findings.push(Finding {
            key: format!("anomaly:{}", found.key()),
            severity: found.severity(config.anomalies.critical_impact),
            day: Some(found.day),
            title: format!("Cost anomaly in {scope} on {}: {} vs {} expected", found.day, money(found.actual, unit), money(found.baseline, unit)),
            summary: format!(
                "{scope} cost {} on {} against a same-weekday median of {} (robust z {:.1}). Top contributors: {}.",
                money(found.actual, unit),
                found.day,
                money(found.baseline, unit),
                found.score,
                if contributors.is_empty() { "none".to_owned() } else { contributors.join("; ") }
            ),
            fields: vec![
                ("Scope".to_owned(), scope.clone()),
                ("Day".to_owned(), found.day.to_string()),
                ("Impact".to_owned(), money(found.impact, unit)),
                ("Score".to_owned(), format!("{:.1}", found.score)),
            ],
        });
    }

    let stale = freshness::check(cube.latest_charge, now, config.freshness_hours);
    if let Some(stale) = &stale {
        findings.push(Finding {
            key: "freshness".to_owned(),
            severity: Severity::Warning,
            day: None,
            title: match stale.latest {
                Some(latest) => format!("Cost data is stale: latest charge {latest}"),
                None => "Cost data is missing: no charges found".to_owned(),
            },
            summary: format!(
                "The export has delivered nothing newer than {} hours allows.",
                stale.max_age_hours
            ),
            fields: Vec::new(),
        });
    }

    let top_scopes = top_scopes(cube, &config.anomalies.by, as_of, 5);
    let window_from = as_of - chrono::Duration::days(i64::from(config.lookback_days.max(1)) - 1);
    Ok(Analysis {
        as_of,
        window_from,
        currency,
        total,
        forecast,
        budgets,
        anomalies,
        stale,
        top_scopes,
        findings,
    })
}

/// The `count` scopes with the highest cost over the last 7 days up to `as_of`.
fn top_scopes(cube: &CostCube, by: &[String], as_of: NaiveDate, count: usize) -> Vec<ScopeSeries> {
    let week = as_of - chrono::Duration::days(6);
    let mut ranked: Vec<(f64, ScopeSeries)> =
        series::group_series(cube, by, &ScopeFilter::default())
            .into_iter()
            .map(|(values, days)| {
                let recent: f64 = days.range(week..=as_of).map(|(_, cost)| cost).sum();
                let scope = by.iter().cloned().zip(values).collect();
                (recent, ScopeSeries { scope, days })
            })
            .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked
        .into_iter()
        .take(count)
        .map(|(_, series)| series)
        .collect()
}
