//! Month-end cost forecast from a daily series, robust to one-off spikes and aware of weekly
//! seasonality.
//!
//! Method, for a forecast made on day `as_of` (the last complete day) with a baseline of `W`
//! weeks:
//!
//! 1. **Month to date** is the sum of the series from the 1st of `as_of`'s month through
//!    `as_of`.
//! 2. **Baseline window**: the `7 × W` days ending at `as_of`. In it, a day with no data counts
//!    as 0 if it falls on or after the series' first day, and is left out if it falls before
//!    (the scope did not exist yet).
//! 3. **Expected cost of each remaining day** `d` of the month (after `as_of`): the median of the
//!    window's values on `d`'s weekday; if the window has none for that weekday, the median of
//!    the last 7 days up to `as_of`; if there is nothing at all, 0. The median, not the mean, so
//!    one spike in the window does not inflate the whole month.
//! 4. **Expected month-end** = month to date + the sum of the expected remaining days.
//! 5. **Interval**: every window value has a residual, value − its weekday's median;
//!    `spread = 1.4826 × MAD(residuals)` (the MAD scaled to a standard deviation for normal
//!    noise). With `n` remaining days, `low = max(month to date, expected − 1.96 × spread × √n)`
//!    and `high = expected + 1.96 × spread × √n`: a rough 95% band that assumes independent daily
//!    noise, and never below what is already spent.
//!
//! On the last day of the month nothing remains: `expected = low = high = month to date`.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::series::{mad, median, month_start, observed};

/// Scales a MAD to the standard deviation of normally distributed noise.
pub(crate) const MAD_TO_SIGMA: f64 = 1.4826;

/// Two-sided 95% quantile of the normal distribution.
const Z_95: f64 = 1.96;

/// A month-end forecast made on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The last day of data used.
    pub as_of: NaiveDate,
    /// Cost from the 1st of the month through `as_of`.
    pub month_to_date: f64,
    /// Expected cost of the days after `as_of` until the end of the month.
    pub expected_remaining: f64,
    /// Expected month-end cost: `month_to_date + expected_remaining`.
    pub expected: f64,
    /// Lower bound of the interval, never below `month_to_date`.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
    /// Days of the month after `as_of`.
    pub remaining_days: u32,
}

/// Forecasts the month-end cost of `series` on `as_of`, with `baseline_weeks` weeks of history
/// (see the module documentation for the method).
pub fn month_end(
    series: &BTreeMap<NaiveDate, f64>,
    as_of: NaiveDate,
    baseline_weeks: u32,
) -> Forecast {
    // `fold` from +0.0: `sum` of nothing is -0.0, which would show up in reports as "-0.00".
    let month_to_date = series
        .range(month_start(as_of)..=as_of)
        .fold(0.0, |sum, (_, v)| sum + v);

    let window: Vec<(NaiveDate, f64)> = days_back(as_of, 7 * baseline_weeks)
        .filter_map(|day| Some((day, observed(series, day)?)))
        .collect();
    let mut by_weekday: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for (day, value) in &window {
        by_weekday
            .entry(weekday_index(day.weekday()))
            .or_default()
            .push(*value);
    }
    let weekday_median: BTreeMap<u32, f64> = by_weekday
        .iter()
        .filter_map(|(weekday, values)| Some((*weekday, median(values)?)))
        .collect();
    let last_week: Vec<f64> = days_back(as_of, 7)
        .filter_map(|day| observed(series, day))
        .collect();
    let fallback = median(&last_week).unwrap_or(0.0);

    let remaining: Vec<NaiveDate> = as_of
        .iter_days()
        .skip(1)
        .take_while(|day| day.month() == as_of.month())
        .collect();
    let expected_remaining = remaining.iter().fold(0.0, |sum, day| {
        sum + weekday_median
            .get(&weekday_index(day.weekday()))
            .copied()
            .unwrap_or(fallback)
    });

    let residuals: Vec<f64> = window
        .iter()
        .filter_map(|(day, value)| Some(value - weekday_median.get(&weekday_index(day.weekday()))?))
        .collect();
    let spread = MAD_TO_SIGMA * mad(&residuals).unwrap_or(0.0);

    let remaining_days = remaining.len() as u32;
    let expected = month_to_date + expected_remaining;
    let half_width = Z_95 * spread * f64::from(remaining_days).sqrt();
    Forecast {
        as_of,
        month_to_date,
        expected_remaining,
        expected,
        low: (expected - half_width).max(month_to_date),
        high: expected + half_width,
        remaining_days,
    }
}

/// The `count` days ending at `last` (inclusive).
fn days_back(last: NaiveDate, count: u32) -> impl Iterator<Item = NaiveDate> {
    (0..u64::from(count)).filter_map(move |back| last.checked_sub_days(Days::new(back)))
}

fn weekday_index(weekday: Weekday) -> u32 {
    weekday.num_days_from_monday()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::fixture::{day, pattern};

    /// Forecasts `series` on `as_of` with `weeks` of baseline, rendered on one line.
    fn check(series: &BTreeMap<NaiveDate, f64>, as_of: &str, weeks: u32, expect: &str) {
        let f = month_end(series, day(as_of), weeks);
        let got = format!(
            "mtd {:.2} + {:.2} over {} days = {:.2} [{:.2}, {:.2}]",
            f.month_to_date, f.expected_remaining, f.remaining_days, f.expected, f.low, f.high
        );
        assert_eq!(got, expect);
        assert_eq!(f.as_of, day(as_of));
    }

    const FLAT: [f64; 7] = [10.0; 7];
    /// Weekdays 100, weekends 20 (Monday first).
    const OFFICE: [f64; 7] = [100.0, 100.0, 100.0, 100.0, 100.0, 20.0, 20.0];

    #[test]
    fn flat_series_forecasts_rate_times_days_with_no_spread() {
        // March 2026 has 31 days; 03-01..03-15 spent 15 × 10 = 150; 16 days remain at 10 = 160.
        check(
            &pattern("2026-02-01", "2026-03-15", FLAT),
            "2026-03-15",
            4,
            "mtd 150.00 + 160.00 over 16 days = 310.00 [310.00, 310.00]",
        );
    }

    #[test]
    fn weekday_seasonal_series_expects_cheap_weekends() {
        // 2026-03-01 is a Sunday. 03-01..03-14 is two full weeks: 2 × (5 × 100 + 2 × 20) = 1080.
        // Remaining 03-15..03-31: weekdays 16-20, 23-27, 30, 31 = 12 × 100 = 1200;
        // weekend days 15, 21, 22, 28, 29 = 5 × 20 = 100. 1080 + 1300 = 2380.
        check(
            &pattern("2026-02-01", "2026-03-14", OFFICE),
            "2026-03-14",
            4,
            "mtd 1080.00 + 1300.00 over 17 days = 2380.00 [2380.00, 2380.00]",
        );
    }

    #[test]
    fn last_day_of_the_month_forecasts_exactly_what_was_spent() {
        // 31 days × 10 = 310, nothing remains.
        check(
            &pattern("2026-02-01", "2026-03-31", FLAT),
            "2026-03-31",
            4,
            "mtd 310.00 + 0.00 over 0 days = 310.00 [310.00, 310.00]",
        );
    }

    #[test]
    fn noisy_baseline_widens_the_interval_by_the_scaled_mad() {
        // Week of 03-01..03-07 costs 10 a day, week of 03-08..03-14 costs 12 a day; with 2 weeks
        // of baseline every weekday's median is 11 and every residual is ±1, so MAD = 1.
        // mtd = 7 × 10 + 7 × 12 = 154; remaining 17 × 11 = 187; expected 341.
        // half width = 1.96 × 1.4826 × √17 = 2.905896 × 4.123106 = 11.98;
        // low = 341 - 11.98 = 329.02, high = 352.98.
        let mut series = pattern("2026-03-01", "2026-03-07", [10.0; 7]);
        series.extend(pattern("2026-03-08", "2026-03-14", [12.0; 7]));
        check(
            &series,
            "2026-03-14",
            2,
            "mtd 154.00 + 187.00 over 17 days = 341.00 [329.02, 352.98]",
        );
    }

    #[test]
    fn one_spike_in_the_baseline_does_not_move_the_median() {
        // Flat 10 with 500 on Thursday 03-12. Thursdays in the window (02-19, 02-26, 03-05,
        // 03-12) are 10, 10, 10, 500 -> median (10 + 10) / 2 = 10, so the rest of the month is
        // still 10 a day. mtd = 13 × 10 + 500 = 630; remaining 17 × 10 = 170; expected 800.
        // Residuals: 27 zeros and one 490 -> median 0, MAD 0: no spread either.
        let mut series = pattern("2026-02-15", "2026-03-14", FLAT);
        series.insert(day("2026-03-12"), 500.0);
        check(
            &series,
            "2026-03-14",
            4,
            "mtd 630.00 + 170.00 over 17 days = 800.00 [800.00, 800.00]",
        );
    }

    #[test]
    fn days_before_the_first_data_day_are_not_zeros() {
        // Data starts Monday 03-09 at 10 a day; the 4-week window holds only 03-09..03-14, so
        // Sunday has no history and uses the median of the last 7 days (six 10s) = 10.
        // mtd 6 × 10 = 60; remaining 17 × 10 = 170; expected 230.
        check(
            &pattern("2026-03-09", "2026-03-14", FLAT),
            "2026-03-14",
            4,
            "mtd 60.00 + 170.00 over 17 days = 230.00 [230.00, 230.00]",
        );
    }

    #[test]
    fn gaps_after_the_first_data_day_count_as_zero() {
        // Data on 03-01 and 03-14 only (10 each): 03-02..03-13 are zeros. With 2 weeks of
        // baseline (03-01..03-14) every weekday has 2 values: Sunday {10, 0}, Saturday {0, 10},
        // the rest {0, 0}. Medians: Sunday 5, Saturday 5, others 0.
        // Remaining 03-15..03-31 has Sundays 15, 22, 29 and Saturdays 21, 28: 5 × 5 = 25.
        // mtd 20; expected 45. Residuals: ±5 on Sundays and Saturdays (4 values), 0 on the other
        // 10 days -> median 0, absolute deviations ten 0s and four 5s -> MAD 0.
        let series = [(day("2026-03-01"), 10.0), (day("2026-03-14"), 10.0)].into();
        check(
            &series,
            "2026-03-14",
            2,
            "mtd 20.00 + 25.00 over 17 days = 45.00 [45.00, 45.00]",
        );
    }

    #[test]
    fn empty_series_forecasts_zero() {
        check(
            &BTreeMap::new(),
            "2026-03-14",
            4,
            "mtd 0.00 + 0.00 over 17 days = 0.00 [0.00, 0.00]",
        );
    }

    #[test]
    fn low_bound_never_drops_below_what_is_already_spent() {
        // Data from 03-17: 03-17..03-23 at 0, 03-24..03-30 at 100. With 2 weeks of baseline
        // each weekday has {0, 100}: median 50, residuals ±50, MAD 50, spread 1.4826 × 50 =
        // 74.13. mtd = 7 × 100 = 700; one day remains at 50: expected 750.
        // half width = 1.96 × 74.13 × √1 = 145.29; 750 - 145.29 = 604.71 < 700, so low = 700;
        // high = 750 + 145.29 = 895.29.
        let mut series = pattern("2026-03-17", "2026-03-23", [0.0; 7]);
        series.extend(pattern("2026-03-24", "2026-03-30", [100.0; 7]));
        check(
            &series,
            "2026-03-30",
            2,
            "mtd 700.00 + 50.00 over 1 days = 750.00 [700.00, 895.29]",
        );
    }
}
