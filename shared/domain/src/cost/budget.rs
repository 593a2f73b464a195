//! Budgets: month-to-date and forecast month-end cost of a scope checked against thresholds, and
//! an optional daily limit.
//!
//! Severity follows what can still be done about it: month-to-date cost at or over the whole
//! budget is critical (the money is spent); a forecast breach is a warning unless even the low
//! end of the forecast interval is over the budget; a day over the daily limit is critical.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::forecast::{month_end, Forecast};
use super::series::{daily_series, ScopeFilter};
use super::CostCube;
use crate::notify::Severity;

/// What a threshold compares with its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Month-to-date cost.
    Actual,
    /// Expected month-end cost.
    Forecast,
}

/// One budget threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Actual or forecast cost.
    pub basis: Basis,
    /// Percent of the monthly budget.
    #[serde(default)]
    pub percent: Option<f64>,
    /// Absolute amount, in the cube's currency.
    #[serde(default)]
    pub absolute: Option<f64>,
}

impl Threshold {
    /// The amount this threshold triggers at for a monthly `budget`.
    ///
    /// `percent` wins if both are set (config validation rejects that); with neither the
    /// threshold is the whole budget.
    pub fn amount(&self, budget: f64) -> f64 {
        match (self.percent, self.absolute) {
            (Some(percent), _) => budget * percent / 100.0,
            (None, Some(absolute)) => absolute,
            (None, None) => budget,
        }
    }
}

/// One budget to check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetSpec {
    /// Name, unique among budgets.
    pub name: String,
    /// Monthly amount.
    pub monthly: f64,
    /// Limit on a single day's cost.
    #[serde(default)]
    pub daily: Option<f64>,
    /// Which costs count.
    #[serde(default)]
    pub filter: ScopeFilter,
    /// Thresholds to alert on.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
    /// Weeks of history the forecast's baseline uses.
    #[serde(default = "default_baseline_weeks")]
    pub baseline_weeks: u32,
}

fn default_baseline_weeks() -> u32 {
    4
}

/// A threshold the cost reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// Whether month-to-date or forecast cost reached it.
    pub basis: Basis,
    /// The threshold's amount.
    pub threshold: f64,
    /// The cost compared (month-to-date, or the expected month-end).
    pub value: f64,
    /// `value` in percent of the monthly budget (0 for a zero budget).
    pub percent_of_budget: f64,
    /// How urgent the breach is.
    pub severity: Severity,
}

/// A day whose cost went over the daily limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyBreach {
    /// The day checked (the `as_of` of the evaluation).
    pub day: NaiveDate,
    /// Its cost.
    pub value: f64,
    /// The daily limit.
    pub limit: f64,
}

/// The state of one budget on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// The budget's name.
    pub name: String,
    /// The monthly amount.
    pub monthly: f64,
    /// Month-to-date cost.
    pub actual: f64,
    /// Month-end forecast.
    pub forecast: Forecast,
    /// Set when `as_of` went over the daily limit.
    pub daily: Option<DailyBreach>,
    /// Thresholds reached, in the spec's order.
    pub breaches: Vec<Breach>,
    /// Highest severity of the breaches and the daily breach; `None` when all is well.
    pub severity: Option<Severity>,
}

/// Checks `spec` against the costs of `cube` up to `as_of` (the last complete day).
///
/// A threshold is reached when the cost is at or above its amount; the daily limit is broken
/// when `as_of`'s cost is strictly above it.
pub fn evaluate(spec: &BudgetSpec, cube: &CostCube, as_of: NaiveDate) -> BudgetStatus {
    let series = daily_series(cube, &spec.filter);
    let forecast = month_end(&series, as_of, spec.baseline_weeks);
    let actual = forecast.month_to_date;
    let percent_of_budget = |value: f64| {
        if spec.monthly == 0.0 {
            0.0
        } else {
            value / spec.monthly * 100.0
        }
    };

    let breaches: Vec<Breach> = spec
        .thresholds
        .iter()
        .filter_map(|threshold| {
            let amount = threshold.amount(spec.monthly);
            let (value, severity) = match threshold.basis {
                Basis::Actual if actual >= spec.monthly => (actual, Severity::Critical),
                Basis::Actual => (actual, Severity::Warning),
                // The low bound already over budget means overspend is all but certain.
                Basis::Forecast if forecast.low > spec.monthly => {
                    (forecast.expected, Severity::Critical)
                }
                Basis::Forecast => (forecast.expected, Severity::Warning),
            };
            (value >= amount).then(|| Breach {
                basis: threshold.basis,
                threshold: amount,
                value,
                percent_of_budget: percent_of_budget(value),
                severity,
            })
        })
        .collect();

    let daily = spec.daily.and_then(|limit| {
        let value = series.get(&as_of).copied().unwrap_or(0.0);
        (value > limit).then_some(DailyBreach {
            day: as_of,
            value,
            limit,
        })
    });

    let severity = breaches
        .iter()
        .map(|breach| breach.severity)
        .chain(daily.as_ref().map(|_| Severity::Critical))
        .max();

    BudgetStatus {
        name: spec.name.clone(),
        monthly: spec.monthly,
        actual,
        forecast,
        daily,
        breaches,
        severity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::fixture::{cube, day};

    /// EC2 costs 10 a day and S3 2 a day from 2026-02-01 through 2026-03-10.
    fn costs() -> CostCube {
        let mut table = String::from("day service\n");
        for date in day("2026-02-01")
            .iter_days()
            .take_while(|d| *d <= day("2026-03-10"))
        {
            table.push_str(&format!("{date} AmazonEC2 10\n{date} AmazonS3 2\n"));
        }
        cube(&table)
    }

    /// Evaluates the budget written in YAML (`name` is added) against [`costs`] on 2026-03-10,
    /// rendered as the status line then one line per breach.
    fn check(spec: &str, expect: &str) {
        let spec: BudgetSpec =
            serde_yaml_ng::from_str(&format!("name: test\n{spec}")).expect("budget yaml");
        let status = evaluate(&spec, &costs(), day("2026-03-10"));
        let mut got = format!(
            "actual {:.2} forecast {:.2} [{:.2}, {:.2}] severity {}",
            status.actual,
            status.forecast.expected,
            status.forecast.low,
            status.forecast.high,
            status.severity.map_or("none", Severity::as_str),
        );
        if let Some(daily) = &status.daily {
            got += &format!(
                "\ndaily {} {:.2} > {:.2}",
                daily.day, daily.value, daily.limit
            );
        }
        for breach in &status.breaches {
            got += &format!(
                "\n{:?} {:.2} >= {:.2} ({:.1}%) {}",
                breach.basis,
                breach.value,
                breach.threshold,
                breach.percent_of_budget,
                breach.severity.as_str()
            );
        }
        assert_eq!(got, expect);
        assert_eq!(status.name, "test");
    }

    // The EC2-only budgets below see 03-01..03-10 = 10 × 10 = 100 spent and a forecast of
    // 100 + 21 × 10 = 310 with no spread (flat history).

    #[test]
    fn actual_over_a_percent_threshold_but_under_budget_is_a_warning() {
        // 80% of 120 = 96; 100 >= 96 and 100 < 120; 100 / 120 = 83.3%.
        check(
            "monthly: 120
filter: { service: [AmazonEC2] }
thresholds: [{ basis: actual, percent: 80 }]",
            "actual 100.00 forecast 310.00 [310.00, 310.00] severity warning
Actual 100.00 >= 96.00 (83.3%) warning",
        );
    }

    #[test]
    fn actual_exactly_at_the_monthly_budget_is_critical() {
        // 100% of 100 = 100; 100 >= 100 reaches it, and the whole budget is spent.
        check(
            "monthly: 100
filter: { service: [AmazonEC2] }
thresholds: [{ basis: actual, percent: 100 }]",
            "actual 100.00 forecast 310.00 [310.00, 310.00] severity critical
Actual 100.00 >= 100.00 (100.0%) critical",
        );
    }

    #[test]
    fn actual_over_an_absolute_threshold_is_a_warning() {
        // 100 >= 50; 100 / 1000 = 10%.
        check(
            "monthly: 1000
filter: { service: [AmazonEC2] }
thresholds: [{ basis: actual, absolute: 50 }]",
            "actual 100.00 forecast 310.00 [310.00, 310.00] severity warning
Actual 100.00 >= 50.00 (10.0%) warning",
        );
    }

    #[test]
    fn forecast_over_threshold_with_low_bound_under_budget_is_a_warning() {
        // 75% of 400 = 300; forecast 310 >= 300; low 310 <= 400; 310 / 400 = 77.5%.
        check(
            "monthly: 400
filter: { service: [AmazonEC2] }
thresholds: [{ basis: forecast, percent: 75 }]",
            "actual 100.00 forecast 310.00 [310.00, 310.00] severity warning
Forecast 310.00 >= 300.00 (77.5%) warning",
        );
    }

    #[test]
    fn forecast_whose_low_bound_is_over_budget_is_critical() {
        // 100% of 300 = 300; forecast 310 >= 300 and low 310 > 300; 310 / 300 = 103.3%.
        check(
            "monthly: 300
filter: { service: [AmazonEC2] }
thresholds: [{ basis: forecast, percent: 100 }]",
            "actual 100.00 forecast 310.00 [310.00, 310.00] severity critical
Forecast 310.00 >= 300.00 (103.3%) critical",
        );
    }

    #[test]
    fn day_over_the_daily_limit_is_critical_even_without_threshold_breaches() {
        // 03-10 costs 10 > 8; monthly 1000 is far away.
        check(
            "monthly: 1000
daily: 8
filter: { service: [AmazonEC2] }
thresholds: [{ basis: actual, percent: 80 }]",
            "actual 100.00 forecast 310.00 [310.00, 310.00] severity critical
daily 2026-03-10 10.00 > 8.00",
        );
    }

    #[test]
    fn day_exactly_at_the_daily_limit_is_not_a_breach() {
        check(
            "monthly: 1000
daily: 10
filter: { service: [AmazonEC2] }",
            "actual 100.00 forecast 310.00 [310.00, 310.00] severity none",
        );
    }

    #[test]
    fn costs_under_every_threshold_give_no_breach_and_no_severity() {
        // 80% of 1000 = 800 > 100 actual; 100% of 1000 > 310 forecast.
        check(
            "monthly: 1000
filter: { service: [AmazonEC2] }
thresholds: [{ basis: actual, percent: 80 }, { basis: forecast, percent: 100 }]",
            "actual 100.00 forecast 310.00 [310.00, 310.00] severity none",
        );
    }

    #[test]
    fn without_filter_the_budget_covers_every_service() {
        // (10 + 2) × 10 = 120 spent >= 30% of 350 = 105, 120 / 350 = 34.3%;
        // forecast 120 + 21 × 12 = 372 >= 350 with low 372 > 350, 372 / 350 = 106.3%.
        check(
            "monthly: 350
thresholds: [{ basis: actual, percent: 30 }, { basis: forecast, percent: 100 }]",
            "actual 120.00 forecast 372.00 [372.00, 372.00] severity critical
Actual 120.00 >= 105.00 (34.3%) warning
Forecast 372.00 >= 350.00 (106.3%) critical",
        );
    }

    #[test]
    fn highest_severity_wins_across_breaches() {
        // Actual 100 >= 50% of 200 = 100 -> warning; forecast 310 >= 200 with low 310 > 200
        // -> critical.
        check(
            "monthly: 200
filter: { service: [AmazonEC2] }
thresholds: [{ basis: actual, percent: 50 }, { basis: forecast, percent: 100 }]",
            "actual 100.00 forecast 310.00 [310.00, 310.00] severity critical
Actual 100.00 >= 100.00 (50.0%) warning
Forecast 310.00 >= 200.00 (155.0%) critical",
        );
    }

    #[test]
    fn threshold_amount_prefers_percent_then_absolute_then_the_whole_budget() {
        let threshold = |percent, absolute| Threshold {
            basis: Basis::Actual,
            percent,
            absolute,
        };
        // 80% of 500 = 400.
        assert_eq!(threshold(Some(80.0), Some(1.0)).amount(500.0), 400.0);
        assert_eq!(threshold(None, Some(42.0)).amount(500.0), 42.0);
        assert_eq!(threshold(None, None).amount(500.0), 500.0);
    }
}
