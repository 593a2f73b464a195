//! Test fixtures: cubes and series written as small text tables, so each test shows its data.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};

use super::CostCube;

/// A date written `YYYY-MM-DD`.
pub(crate) fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

/// A cube from a table whose header is `day <dimension>...` and whose rows are
/// `<date> <value>... <cost>`.
pub(crate) fn cube(table: &str) -> CostCube {
    let mut lines = table.lines().map(str::trim).filter(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(header.first(), Some(&"day"), "header starts with `day`");
    let mut cube = CostCube::new(header[1..].iter().map(|d| d.to_string()).collect());
    for line in lines {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells.len(), header.len() + 1, "row `{line}`");
        let key = cells[1..header.len()]
            .iter()
            .map(|v| v.to_string())
            .collect();
        cube.add(day(cells[0]), key, cost(cells[header.len()]));
    }
    cube
}

/// A cube of weekly cells from a table whose header is `<dimension>...` and whose rows are
/// `<value>... <cost>...`: the last cost is on `last`, each one before it a week earlier, and `-`
/// is no cell at all.
pub(crate) fn weekly(table: &str, last: &str) -> CostCube {
    let last = day(last);
    let mut lines = table.lines().map(str::trim).filter(|l| !l.is_empty());
    let dimensions: Vec<String> = lines
        .next()
        .expect("header")
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut cube = CostCube::new(dimensions.clone());
    for line in lines {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let (key, costs) = cells.split_at(dimensions.len());
        let key: Vec<String> = key.iter().map(|v| v.to_string()).collect();
        for (weeks_back, text) in costs.iter().rev().enumerate() {
            if *text != "-" {
                let date = last - Days::new(7 * weeks_back as u64);
                cube.add(date, key.clone(), cost(text));
            }
        }
    }
    cube
}

/// A daily series from `from` to `to` (inclusive) repeating `week`, indexed Monday to Sunday.
pub(crate) fn pattern(from: &str, to: &str, week: [f64; 7]) -> BTreeMap<NaiveDate, f64> {
    day(from)
        .iter_days()
        .take_while(|d| *d <= day(to))
        .map(|d| (d, week[d.weekday().num_days_from_monday() as usize]))
        .collect()
}

/// A series as `MM-DD cost, ...`.
pub(crate) fn render_series(series: &BTreeMap<NaiveDate, f64>) -> String {
    series
        .iter()
        .map(|(day, cost)| format!("{} {cost:.2}", day.format("%m-%d")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn cost(text: &str) -> f64 {
    text.parse().expect("cost")
}
