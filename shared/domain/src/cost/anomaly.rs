//! Cost anomalies: days whose cost in a scope (for example one service) is far from the same
//! weekday in the previous weeks, with the dimension values that explain the change.
//!
//! The score is a robust z-score, `|actual − median| / (1.4826 × MAD)` over the same-weekday
//! history, so one past spike neither hides the next one nor becomes the new normal, and weekly
//! seasonality (cheap weekends) is not mistaken for anomalies. A flat history has a MAD of 0;
//! the MAD is then floored at 1% of the baseline (at least 0.01) so the score stays finite and a
//! tiny wobble on a perfectly flat cost is not an anomaly. A dollar floor (`min_impact`) keeps
//! large relative changes of tiny costs quiet.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::forecast::MAD_TO_SIGMA;
use super::series::{group_series, mad, median, observed, same_weekday_history, ScopeFilter};
use super::CostCube;
use crate::notify::Severity;

/// How anomalies are detected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnomalySpec {
    /// Scope dimensions: one series is checked per combination of their values.
    pub by: Vec<String>,
    /// Weeks of same-weekday history in the baseline.
    pub baseline_weeks: u32,
    /// Robust z-score a day must exceed.
    pub z_threshold: f64,
    /// Smallest absolute change (in currency) that can be an anomaly.
    pub min_impact: f64,
    /// Dimensions searched for contributors; empty means every cube dimension not in `by`.
    pub contributor_dimensions: Vec<String>,
    /// Contributors kept per anomaly.
    pub top_contributors: usize,
    /// Days evaluated, ending at `as_of` (several, so restated data is re-checked).
    pub days: u32,
}

impl Default for AnomalySpec {
    fn default() -> Self {
        AnomalySpec {
            by: vec!["service".to_owned()],
            baseline_weeks: 4,
            z_threshold: 3.5,
            min_impact: 10.0,
            contributor_dimensions: Vec::new(),
            top_contributors: 3,
            days: 1,
        }
    }
}

/// Whether the cost went up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// More than usual.
    Spike,
    /// Less than usual.
    Drop,
}

/// One dimension value inside the anomaly's scope that moved with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contributor {
    /// The dimension (`region`, `sub_account`, `tag:team`…).
    pub dimension: String,
    /// Its value.
    pub value: String,
    /// Cost of this value on the anomalous day.
    pub actual: f64,
    /// Median of its same-weekday history (0 for a value new that day).
    pub baseline: f64,
    /// `actual − baseline`.
    pub delta: f64,
    /// `delta` as a fraction of the anomaly's impact. Each dimension splits the scope's cost
    /// on its own, so shares add up (roughly, medians are not additive) per dimension, not
    /// across dimensions.
    pub share: f64,
}

/// A day whose cost in one scope is far from its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The scope: each `by` dimension and its value.
    pub scope: BTreeMap<String, String>,
    /// The anomalous day.
    pub day: NaiveDate,
    /// Cost of the scope that day.
    pub actual: f64,
    /// Median of the same-weekday history.
    pub baseline: f64,
    /// `actual − baseline` (negative for a drop).
    pub impact: f64,
    /// Robust z-score.
    pub score: f64,
    /// Spike or drop.
    pub direction: Direction,
    /// Dimension values that moved most in the anomaly's direction, largest first.
    pub contributors: Vec<Contributor>,
}

impl Anomaly {
    /// A key stable across runs, for deduplicating alerts: the scope as `dimension=value` in
    /// dimension-name order, then the day (`service=AmazonEC2|2026-03-05`).
    pub fn key(&self) -> String {
        self.scope
            .iter()
            .map(|(dimension, value)| format!("{dimension}={value}"))
            .chain(std::iter::once(self.day.to_string()))
            .collect::<Vec<_>>()
            .join("|")
    }

    /// Critical when the absolute impact reaches `critical_impact`, otherwise a warning.
    pub fn severity(&self, critical_impact: f64) -> Severity {
        if self.impact.abs() >= critical_impact {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }
}

/// Finds anomalies in the `spec.days` days ending at `as_of`, largest absolute impact first.
///
/// `as_of` should be the last complete day: a day still filling in would look like a drop.
/// A scope needs at least 2 same-weekday history points (counting days with no cost as 0 from
/// the scope's first day on) to be evaluated.
pub fn detect(cube: &CostCube, spec: &AnomalySpec, as_of: NaiveDate) -> Vec<Anomaly> {
    let contributor_dimensions: Vec<String> = if spec.contributor_dimensions.is_empty() {
        cube.dimensions
            .iter()
            .filter(|dimension| !spec.by.contains(dimension))
            .cloned()
            .collect()
    } else {
        spec.contributor_dimensions.clone()
    };
    let days: Vec<NaiveDate> = (0..u64::from(spec.days))
        .rev()
        .filter_map(|back| as_of.checked_sub_days(Days::new(back)))
        .collect();

    let mut anomalies = Vec::new();
    for (group, series) in group_series(cube, &spec.by, &ScopeFilter::default()) {
        for &day in &days {
            let Some(actual) = observed(&series, day) else {
                continue;
            };
            let history = same_weekday_history(&series, day, spec.baseline_weeks);
            if history.len() < 2 {
                continue;
            }
            let (Some(baseline), Some(deviation)) = (median(&history), mad(&history)) else {
                continue;
            };
            let impact = actual - baseline;
            let floor = (0.01 * baseline.abs()).max(0.01);
            let score = impact.abs() / (MAD_TO_SIGMA * deviation.max(floor));
            if score <= spec.z_threshold || impact.abs() < spec.min_impact {
                continue;
            }
            let scope: BTreeMap<String, String> =
                spec.by.iter().cloned().zip(group.iter().cloned()).collect();
            let contributors =
                contributors(cube, spec, &contributor_dimensions, &scope, day, impact);
            anomalies.push(Anomaly {
                scope,
                day,
                actual,
                baseline,
                impact,
                score,
                direction: if impact > 0.0 {
                    Direction::Spike
                } else {
                    Direction::Drop
                },
                contributors,
            });
        }
    }
    anomalies.sort_by(|a, b| {
        b.impact
            .abs()
            .total_cmp(&a.impact.abs())
            .then_with(|| a.key().cmp(&b.key()))
    });
    anomalies
}

/// The values of `dimensions` within `scope` whose change on `day` goes the way of `impact`,
/// largest first.
fn contributors(
    cube: &CostCube,
    spec: &AnomalySpec,
    dimensions: &[String],
    scope: &BTreeMap<String, String>,
    day: NaiveDate,
    impact: f64,
) -> Vec<Contributor> {
    // A scope dimension the cube lacks has the value "" for every cell; filtering on it would
    // match nothing, so it is left out.
    let filter = ScopeFilter(
        scope
            .iter()
            .filter(|(dimension, _)| cube.dimension(dimension).is_some())
            .map(|(dimension, value)| (dimension.clone(), vec![value.clone()]))
            .collect(),
    );
    let mut found = Vec::new();
    for dimension in dimensions {
        if cube.dimension(dimension).is_none() {
            continue;
        }
        let groups = group_series(cube, std::slice::from_ref(dimension), &filter);
        // A dimension with one value in the scope (every cost is provider=AWS) "explains" all
        // of any anomaly and tells nobody anything: only dimensions that split the scope count.
        if groups.len() < 2 {
            continue;
        }
        for (key, series) in groups {
            let actual = series.get(&day).copied().unwrap_or(0.0);
            let history = same_weekday_history(&series, day, spec.baseline_weeks);
            let baseline = median(&history).unwrap_or(0.0);
            let delta = actual - baseline;
            // Only values that moved with the anomaly explain it.
            if delta * impact.signum() <= 0.0 {
                continue;
            }
            found.push(Contributor {
                dimension: dimension.clone(),
                value: key.into_iter().next().unwrap_or_default(),
                actual,
                baseline,
                delta,
                share: delta / impact,
            });
        }
    }
    found.sort_by(|a, b| {
        b.delta
            .abs()
            .total_cmp(&a.delta.abs())
            .then_with(|| (&a.dimension, &a.value).cmp(&(&b.dimension, &b.value)))
    });
    found.truncate(spec.top_contributors);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::fixture::{day, weekly};

    /// A Thursday: the weekly tables' last column, and the day evaluated.
    const THU: &str = "2026-03-05";

    /// Detects anomalies in `cube` on [`THU`] with the default spec overridden by `spec`
    /// (YAML flow mapping body), rendered one anomaly per line and one contributor per
    /// indented line.
    fn check(cube: CostCube, spec: &str, expect: &str) {
        let spec: AnomalySpec = serde_yaml_ng::from_str(&format!("{{{spec}}}")).expect("spec");
        let got = detect(&cube, &spec, day(THU))
            .iter()
            .map(|a| {
                let mut line = format!(
                    "{} {:?} {:.2} vs {:.2} impact {:+.2} score {:.2}",
                    a.key(),
                    a.direction,
                    a.actual,
                    a.baseline,
                    a.impact,
                    a.score
                );
                for c in &a.contributors {
                    line += &format!(
                        "\n  {}={} {:+.2} ({:.0}%)",
                        c.dimension,
                        c.value,
                        c.delta,
                        c.share * 100.0
                    );
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(got, expect);
    }

    const SPIKE: &str = "
        service   region    sub_account
        AmazonEC2 us-east-1 prod         100 101  99 100 100
        AmazonEC2 eu-west-1 prod          50  50  51  49 120
        AmazonEC2 eu-west-1 dev            -   -   -   -  30
        AmazonS3  us-east-1 prod          20  20  20  20  20
    ";

    #[test]
    fn spike_is_detected_with_the_region_that_caused_it_first() {
        // EC2 history 150, 151, 150, 149 -> median 150; deviations 0, 1, 0, 1 -> MAD 0.5,
        // floored at 1% of 150 = 1.5. Today 250: impact 100, score 100 / (1.4826 × 1.5) =
        // 100 / 2.2239 = 44.97.
        // eu-west-1: 150 - median(50, 50, 51, 49) = 150 - 50 = +100 (100 / 100 = 100%);
        // us-east-1: 100 - 100 = 0, not a contributor;
        // prod: 220 - 150 = +70 (70%); dev is new: 30 - 0 = +30 (30%).
        // S3 is flat at 20.
        check(
            weekly(SPIKE, THU),
            "",
            "service=AmazonEC2|2026-03-05 Spike 250.00 vs 150.00 impact +100.00 score 44.97
  region=eu-west-1 +100.00 (100%)
  sub_account=prod +70.00 (70%)
  sub_account=dev +30.00 (30%)",
        );
    }

    #[test]
    fn contributors_are_limited_to_the_top_ones_of_the_dimensions_asked_for() {
        check(
            weekly(SPIKE, THU),
            "contributor_dimensions: [sub_account], top_contributors: 1",
            "service=AmazonEC2|2026-03-05 Spike 250.00 vs 150.00 impact +100.00 score 44.97
  sub_account=prod +70.00 (70%)",
        );
    }

    const ONE_PROVIDER: &str = "
        service   provider sub_account
        AmazonEC2 AWS      prod         100 101  99 100 170
        AmazonEC2 AWS      dev           50  50  51  49  50
    ";

    #[test]
    fn dimension_with_a_single_value_in_the_scope_is_not_a_contributor() {
        // Every cost is provider=AWS: it would explain 100% and say nothing. prod: 170 - 100.
        check(
            weekly(ONE_PROVIDER, THU),
            "top_contributors: 3",
            "service=AmazonEC2|2026-03-05 Spike 220.00 vs 150.00 impact +70.00 score 31.48
  sub_account=prod +70.00 (100%)",
        );
    }

    const SMALL_SPIKE: &str = "
        service  region
        AmazonS3 us-east-1 5 5 5 5 9
    ";

    #[test]
    fn spike_under_the_dollar_floor_is_ignored() {
        // Score 4 / (1.4826 × 0.05) = 53.96 is far over 3.5, but 9 - 5 = 4 < 10.
        check(weekly(SMALL_SPIKE, THU), "", "");
    }

    #[test]
    fn spike_under_the_default_dollar_floor_is_flagged_once_the_floor_is_lowered() {
        // Median 5, MAD 0 floored at max(0.01, 0.05) = 0.05: 4 / (1.4826 × 0.05) = 4 / 0.07413
        // = 53.96.
        check(
            weekly(SMALL_SPIKE, THU),
            "min_impact: 1",
            "service=AmazonS3|2026-03-05 Spike 9.00 vs 5.00 impact +4.00 score 53.96",
        );
    }

    #[test]
    fn noisy_series_within_its_usual_range_is_not_flagged() {
        // History 100, 140, 80, 120 -> median (100 + 120) / 2 = 110; deviations 10, 30, 30, 10
        // -> MAD 20. Today 150: 40 / (1.4826 × 20) = 40 / 29.652 = 1.35 <= 3.5.
        check(
            weekly(
                "service   region
                 AmazonEC2 us-east-1 100 140 80 120 150",
                THU,
            ),
            "",
            "",
        );
    }

    #[test]
    fn drop_is_flagged_as_a_drop_with_the_region_that_fell() {
        // EC2 history 150, 150, 151, 149 -> median 150, MAD 0.5 floored at 1.5. Today
        // 20 + 50 = 70: impact -80, score 80 / 2.2239 = 35.97.
        // us-east-1: 20 - median(100, 100, 101, 99) = 20 - 100 = -80 (-80 / -80 = 100%);
        // eu-west-1 is unchanged.
        check(
            weekly(
                "service   region
                 AmazonEC2 us-east-1 100 100 101 99 20
                 AmazonEC2 eu-west-1  50  50  50 50 50",
                THU,
            ),
            "",
            "service=AmazonEC2|2026-03-05 Drop 70.00 vs 150.00 impact -80.00 score 35.97
  region=us-east-1 -80.00 (100%)",
        );
    }

    #[test]
    fn flat_history_uses_the_floor_instead_of_dividing_by_zero() {
        // MAD is 0 everywhere; the floor is max(0.01, 1% of the median).
        // Lambda: 4 / (1.4826 × 1) = 2.70 <= 3.5, a wobble on a flat cost.
        // EC2: 20 / (1.4826 × 1) = 13.49.
        // SQS, flat at 0: 50 / (1.4826 × 0.01) = 50 / 0.014826 = 3372.45.
        // Largest impact first: SQS (+50) then EC2 (+20).
        check(
            weekly(
                "service   region
                 AWSLambda us-east-1 100 100 100 100 104
                 AmazonEC2 us-east-1 100 100 100 100 120
                 AmazonSQS us-east-1   0   0   0   0  50",
                THU,
            ),
            "min_impact: 1",
            "service=AmazonSQS|2026-03-05 Spike 50.00 vs 0.00 impact +50.00 score 3372.45
service=AmazonEC2|2026-03-05 Spike 120.00 vs 100.00 impact +20.00 score 13.49",
        );
    }

    #[test]
    fn scope_with_fewer_than_two_history_points_is_skipped() {
        // Lambda started a week ago: one history point (100), skipped however large today is.
        // ECS started two weeks ago: history 100, 100 -> median 100, MAD 0 floored at 1:
        // 400 / 1.4826 = 269.80.
        check(
            weekly(
                "service    region
                 AWSLambda  us-east-1 - - -   100 500
                 AmazonECS  us-east-1 - - 100 100 500",
                THU,
            ),
            "",
            "service=AmazonECS|2026-03-05 Spike 500.00 vs 100.00 impact +400.00 score 269.80",
        );
    }

    #[test]
    fn missing_days_after_the_first_data_day_count_as_zero_in_the_history() {
        // History 100, 0, 0, 100 (the gaps are zeros) -> median 50; deviations all 50 ->
        // MAD 50. Today 250: 200 / (1.4826 × 50) = 200 / 74.13 = 2.70 <= 3.5. Had the gaps
        // been dropped, history 100, 100 would have made 250 an anomaly.
        check(
            weekly(
                "service   region
                 AmazonEC2 us-east-1 100 - - 100 250",
                THU,
            ),
            "",
            "",
        );
    }

    #[test]
    fn anomalies_are_sorted_by_absolute_impact() {
        // EC2 drops by 200 (score 200 / (1.4826 × 4) = 200 / 5.9304 = 33.72), S3 rises by 100
        // (100 / (1.4826 × 1) = 67.45): the drop comes first despite the lower score.
        check(
            weekly(
                "service   region
                 AmazonS3  us-east-1 100 100 100 100 200
                 AmazonEC2 us-east-1 400 400 400 400 200",
                THU,
            ),
            "top_contributors: 0",
            "service=AmazonEC2|2026-03-05 Drop 200.00 vs 400.00 impact -200.00 score 33.72
service=AmazonS3|2026-03-05 Spike 200.00 vs 100.00 impact +100.00 score 67.45",
        );
    }

    #[test]
    fn several_days_are_evaluated_against_their_own_weekday() {
        // Wednesdays (ending 03-04) are flat at 100 then 300; Thursdays flat at 50 then 50.
        // Wednesday: 200 / (1.4826 × 1) = 134.90. Thursday is normal.
        let mut cube = weekly(
            "service   region
             AmazonEC2 us-east-1 100 100 100 100 300",
            "2026-03-04",
        );
        cube.merge(weekly(
            "service   region
             AmazonEC2 us-east-1 50 50 50 50 50",
            THU,
        ));
        check(
            cube,
            "days: 2, top_contributors: 0",
            "service=AmazonEC2|2026-03-04 Spike 300.00 vs 100.00 impact +200.00 score 134.90",
        );
    }

    #[test]
    fn anomaly_keys_do_not_depend_on_run_or_on_the_order_of_by() {
        let cube = weekly(SPIKE, THU);
        let keys = |by: &[&str]| {
            let spec = AnomalySpec {
                by: by.iter().map(|d| d.to_string()).collect(),
                ..AnomalySpec::default()
            };
            detect(&cube, &spec, day(THU))
                .iter()
                .map(Anomaly::key)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&["service"]), ["service=AmazonEC2|2026-03-05"]);
        assert_eq!(keys(&["service"]), keys(&["service"]));
        // eu-west-1 EC2: 150 vs 50 (score 100 / (1.4826 × 0.5) = 134.90).
        assert_eq!(
            keys(&["service", "region"]),
            ["region=eu-west-1|service=AmazonEC2|2026-03-05"]
        );
        assert_eq!(keys(&["region", "service"]), keys(&["service", "region"]));
    }

    #[test]
    fn severity_is_critical_from_the_critical_impact_on_for_spikes_and_drops() {
        let anomaly = |impact: f64| Anomaly {
            scope: BTreeMap::new(),
            day: day(THU),
            actual: 0.0,
            baseline: 0.0,
            impact,
            score: 10.0,
            direction: Direction::Spike,
            contributors: Vec::new(),
        };
        assert_eq!(anomaly(99.0).severity(100.0), Severity::Warning);
        assert_eq!(anomaly(100.0).severity(100.0), Severity::Critical);
        assert_eq!(anomaly(-150.0).severity(100.0), Severity::Critical);
    }
}
