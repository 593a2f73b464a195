//! Daily series cut out of a [`CostCube`], and the robust statistics shared by the forecast and
//! the anomaly detector.
//!
//! A series is sparse: a day appears only if the cube has a cell for it. Whether a missing day
//! means "zero cost" or "no data yet" is decided where the series is read: a missing day
//! counts as zero from the series' first day on, and not at all before it, so a service that
//! started last week does not look like it cost nothing for a month.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::CostCube;

/// Which cells count: dimension name to the values allowed for it.
///
/// An empty map allows everything. A dimension with an empty list of values does not restrict
/// anything either (it is the same as leaving the dimension out). A dimension the cube does not
/// have never matches a non-empty list: a budget on `tag:team` must not silently cover the whole
/// bill because the export lacks that tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScopeFilter(pub BTreeMap<String, Vec<String>>);

impl ScopeFilter {
    /// Whether a cell key of `cube` passes the filter.
    pub fn matches(&self, cube: &CostCube, key: &[String]) -> bool {
        self.0.iter().all(|(dimension, allowed)| {
            allowed.is_empty()
                || cube
                    .dimension(dimension)
                    .and_then(|index| key.get(index))
                    .is_some_and(|value| allowed.contains(value))
        })
    }
}

/// Total cost per day of the cells that pass `filter`.
pub fn daily_series(cube: &CostCube, filter: &ScopeFilter) -> BTreeMap<NaiveDate, f64> {
    let mut series = BTreeMap::new();
    for ((day, key), cost) in &cube.cells {
        if filter.matches(cube, key) {
            *series.entry(*day).or_insert(0.0) += cost;
        }
    }
    series
}

/// One daily series per combination of the values of the `by` dimensions, over the cells that
/// pass `filter`.
///
/// The group key holds one value per `by` dimension, in the order given; a dimension the cube
/// lacks gets the empty string, like an absent value in the cube itself.
pub fn group_series(
    cube: &CostCube,
    by: &[String],
    filter: &ScopeFilter,
) -> BTreeMap<Vec<String>, BTreeMap<NaiveDate, f64>> {
    let indices: Vec<Option<usize>> = by.iter().map(|name| cube.dimension(name)).collect();
    let mut groups: BTreeMap<Vec<String>, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for ((day, key), cost) in &cube.cells {
        if !filter.matches(cube, key) {
            continue;
        }
        let group = indices
            .iter()
            .map(|index| index.and_then(|i| key.get(i)).cloned().unwrap_or_default())
            .collect();
        *groups.entry(group).or_default().entry(*day).or_insert(0.0) += cost;
    }
    groups
}

/// The latest day whose charges are complete, given the latest charge period end in the data.
///
/// A charge period ending exactly at midnight closes the previous day, which is then complete.
/// Any other time means the day of `latest_charge` is still filling in, so the day before it is
/// the latest complete one. Both cases land on the calendar day before `latest_charge`'s date.
pub fn last_complete_day(latest_charge: NaiveDateTime) -> NaiveDate {
    let day = latest_charge.date();
    day.pred_opt().unwrap_or(day)
}

/// The median, or `None` for no values. NaN sorts last rather than panicking.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    })
}

/// The median absolute deviation from the median, or `None` for no values.
pub fn mad(values: &[f64]) -> Option<f64> {
    let center = median(values)?;
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    median(&deviations)
}

/// The value of `day` as a data point: `None` before the series' first day (the scope did not
/// exist yet), otherwise the day's cost with a missing day counting as zero.
pub(crate) fn observed(series: &BTreeMap<NaiveDate, f64>, day: NaiveDate) -> Option<f64> {
    let first = *series.keys().next()?;
    (day >= first).then(|| series.get(&day).copied().unwrap_or(0.0))
}

/// The observed values of `day`'s weekday in the `weeks` weeks before it, most recent first.
pub(crate) fn same_weekday_history(
    series: &BTreeMap<NaiveDate, f64>,
    day: NaiveDate,
    weeks: u32,
) -> Vec<f64> {
    (1..=u64::from(weeks))
        .filter_map(|week| day.checked_sub_days(Days::new(7 * week)))
        .filter_map(|past| observed(series, past))
        .collect()
}

/// The first day of `day`'s month.
pub(crate) fn month_start(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::fixture::{cube, day, render_series};

    const CUBE: &str = "
        day        service   region
        2026-03-01 AmazonEC2 us-east-1 10
        2026-03-01 AmazonEC2 eu-west-1 5
        2026-03-01 AmazonS3  us-east-1 2
        2026-03-02 AmazonEC2 us-east-1 11
        2026-03-02 AmazonS3  eu-west-1 3
        2026-03-03 AmazonS3  us-east-1 4
    ";

    /// Groups [`CUBE`] by `by` (empty: one daily series) under `filter` (`dim=a,b;dim2=c`),
    /// rendered one group per line.
    fn check(by: &[&str], filter: &str, expect: &str) {
        let cube = cube(CUBE);
        let filter = ScopeFilter(
            filter
                .split(';')
                .filter(|part| !part.is_empty())
                .map(|part| {
                    let (dimension, values) = part.split_once('=').expect("dim=values");
                    let values = values
                        .split(',')
                        .filter(|v| !v.is_empty())
                        .map(String::from)
                        .collect();
                    (dimension.to_owned(), values)
                })
                .collect(),
        );
        let got = if by.is_empty() {
            render_series(&daily_series(&cube, &filter))
        } else {
            let by: Vec<String> = by.iter().map(|d| d.to_string()).collect();
            group_series(&cube, &by, &filter)
                .iter()
                .map(|(group, series)| format!("{}: {}", group.join("/"), render_series(series)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn daily_series_without_filter_sums_every_cell_of_each_day() {
        // 03-01: 10 + 5 + 2 = 17; 03-02: 11 + 3 = 14; 03-03: 4.
        check(&[], "", "03-01 17.00, 03-02 14.00, 03-03 4.00");
    }

    #[test]
    fn daily_series_keeps_only_the_allowed_values() {
        // EC2 only: 03-01: 10 + 5 = 15; 03-02: 11; nothing on 03-03.
        check(&[], "service=AmazonEC2", "03-01 15.00, 03-02 11.00");
    }

    #[test]
    fn filter_on_two_dimensions_needs_both_to_match() {
        // S3 in us-east-1: 03-01: 2; 03-03: 4.
        check(
            &[],
            "service=AmazonS3;region=us-east-1",
            "03-01 2.00, 03-03 4.00",
        );
    }

    #[test]
    fn filter_with_several_values_allows_any_of_them() {
        // eu-west-1 or us-east-1 is everything: same as no filter.
        check(
            &[],
            "region=eu-west-1,us-east-1",
            "03-01 17.00, 03-02 14.00, 03-03 4.00",
        );
    }

    #[test]
    fn filter_with_an_empty_value_list_restricts_nothing() {
        check(&[], "region=", "03-01 17.00, 03-02 14.00, 03-03 4.00");
    }

    #[test]
    fn filter_on_a_dimension_the_cube_lacks_matches_nothing() {
        check(&[], "tag:team=payments", "");
    }

    #[test]
    fn group_series_gives_one_series_per_value() {
        check(
            &["service"],
            "",
            "AmazonEC2: 03-01 15.00, 03-02 11.00\nAmazonS3: 03-01 2.00, 03-02 3.00, 03-03 4.00",
        );
    }

    #[test]
    fn group_series_by_two_dimensions_keys_by_both_values_in_the_order_given() {
        check(
            &["region", "service"],
            "",
            "eu-west-1/AmazonEC2: 03-01 5.00\n\
             eu-west-1/AmazonS3: 03-02 3.00\n\
             us-east-1/AmazonEC2: 03-01 10.00, 03-02 11.00\n\
             us-east-1/AmazonS3: 03-01 2.00, 03-03 4.00",
        );
    }

    #[test]
    fn group_series_applies_the_filter_before_grouping() {
        // us-east-1 by service: EC2 10, 11; S3 2 on 03-01 and 4 on 03-03.
        check(
            &["service"],
            "region=us-east-1",
            "AmazonEC2: 03-01 10.00, 03-02 11.00\nAmazonS3: 03-01 2.00, 03-03 4.00",
        );
    }

    #[test]
    fn group_series_by_a_missing_dimension_groups_under_the_empty_value() {
        // Every cell lands in the "" group: 17, 14, 4 as in the unfiltered daily series.
        check(&["tag:team"], "", ": 03-01 17.00, 03-02 14.00, 03-03 4.00");
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").expect("datetime")
    }

    #[test]
    fn last_complete_day_at_midnight_is_the_day_that_just_ended() {
        // Charges up to 03-06 00:00 close 03-05.
        assert_eq!(last_complete_day(at("2026-03-06T00:00")), day("2026-03-05"));
    }

    #[test]
    fn last_complete_day_mid_day_skips_the_day_still_filling_in() {
        // 03-06 is partial at 14:00, so 03-05 is the latest complete day.
        assert_eq!(last_complete_day(at("2026-03-06T14:00")), day("2026-03-05"));
    }

    #[test]
    fn last_complete_day_crosses_month_boundaries() {
        assert_eq!(last_complete_day(at("2026-03-01T00:00")), day("2026-02-28"));
    }

    #[test]
    fn median_of_odd_and_even_counts_and_of_nothing() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        // (2 + 3) / 2 = 2.5
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn mad_is_the_median_distance_from_the_median() {
        // median 2; distances 1, 1, 0, 2, 4 -> sorted 0, 1, 1, 2, 4 -> 1.
        assert_eq!(mad(&[1.0, 3.0, 2.0, 4.0, 6.0]), Some(1.0));
        // One outlier barely moves it: median 10; distances 0, 0, 0, 90 -> (0 + 0) / 2 = 0.
        assert_eq!(mad(&[10.0, 10.0, 10.0, 100.0]), Some(0.0));
        assert_eq!(mad(&[]), None);
    }

    #[test]
    fn observed_counts_gaps_as_zero_only_from_the_first_day_on() {
        let series = [(day("2026-03-02"), 5.0), (day("2026-03-04"), 7.0)].into();
        assert_eq!(observed(&series, day("2026-03-01")), None);
        assert_eq!(observed(&series, day("2026-03-03")), Some(0.0));
        assert_eq!(observed(&series, day("2026-03-04")), Some(7.0));
    }
}
