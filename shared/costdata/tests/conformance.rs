//! Conformance against the official FOCUS 1.0 sample (FinOps Foundation, CC BY 4.0; see
//! `tests/data/README.md`): the reader's totals must equal a plain, independent sum of the file.
//!
//! The independent side parses the CSV with the `csv` crate directly and treats `NULL` as zero,
//! sharing no code with the reader, so a bug in the reader's parsing, null handling or grouping
//! shows up as a difference here.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use chrono::NaiveDateTime;
use ops_costdata::{read_csv, read_file, CostCube, Format, Metric, ReadOptions};

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/focus-1.0-sample.csv")
}

fn sample() -> Vec<u8> {
    std::fs::read(sample_path()).expect("the FOCUS sample is in tests/data")
}

/// The sample's rows as maps of column name to text, read with nothing but the csv crate.
fn rows() -> Vec<BTreeMap<String, String>> {
    let data = sample();
    let mut reader = csv::Reader::from_reader(&data[..]);
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn number(text: &str) -> f64 {
    if text == "NULL" {
        0.0
    } else {
        text.parse().expect("a number")
    }
}

/// Independent sums of `cost_column` keyed by `key` of each row.
fn sums(
    cost_column: &str,
    key: impl Fn(&BTreeMap<String, String>) -> String,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for row in rows() {
        *out.entry(key(&row)).or_insert(0.0) += number(&row[cost_column]);
    }
    out
}

fn opts(metric: Metric, dims: &[&str]) -> ReadOptions {
    ReadOptions {
        format: Format::Focus,
        metric,
        dimensions: dims.iter().map(|d| d.to_string()).collect(),
    }
}

fn read(metric: Metric, dims: &[&str]) -> CostCube {
    read_csv(&sample()[..], &opts(metric, dims), "focus-1.0-sample.csv").expect("the sample reads")
}

/// Cube sums per key over all days, the key parts joined with `|`.
fn by_key(cube: &CostCube) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for ((_, key), cost) in &cube.cells {
        *out.entry(key.join("|")).or_insert(0.0) += cost;
    }
    out
}

fn assert_same(ours: &BTreeMap<String, f64>, theirs: &BTreeMap<String, f64>) {
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (key, want) in theirs {
        let got = ours[key];
        assert!(
            (got - want).abs() < 0.005,
            "{key}: ours {got}, independent {want}"
        );
    }
}

const METRICS: [(Metric, &str); 2] = [
    (Metric::BilledCost, "BilledCost"),
    (Metric::EffectiveCost, "EffectiveCost"),
];

#[test]
fn totals_match_an_independent_sum_to_the_cent() {
    for (metric, column) in METRICS {
        let cube = read(metric, &[]);
        let want: f64 = sums(column, |_| String::new()).values().sum();
        assert!(
            (cube.total() - want).abs() < 0.005,
            "{column}: {} vs {want}",
            cube.total()
        );
        // Far tighter than a cent in practice: only the order of additions differs.
        assert!(
            (cube.total() - want).abs() < 1e-9,
            "{column}: {} vs {want}",
            cube.total()
        );
        assert_eq!(cube.rows, 1000);
        assert_eq!(cube.currency.as_deref(), Some("USD"));
    }
}

#[test]
fn per_provider_and_per_service_sums_match() {
    for (metric, column) in METRICS {
        let provider = read(metric, &["provider"]);
        assert_same(
            &by_key(&provider),
            &sums(column, |r| r["ProviderName"].clone()),
        );
        let service = read(metric, &["service"]);
        assert_same(
            &by_key(&service),
            &sums(column, |r| r["ServiceName"].clone()),
        );
        let both = read(metric, &["provider", "service"]);
        assert_same(
            &by_key(&both),
            &sums(column, |r| {
                format!("{}|{}", r["ProviderName"], r["ServiceName"])
            }),
        );
    }
}

#[test]
fn per_day_sums_and_freshness_match() {
    let cube = read(Metric::BilledCost, &[]);
    let mut ours = BTreeMap::new();
    for ((day, _), cost) in &cube.cells {
        *ours.entry(day.to_string()).or_insert(0.0) += cost;
    }
    assert_same(
        &ours,
        &sums("BilledCost", |r| r["ChargePeriodStart"][..10].to_string()),
    );
    let latest = rows()
        .iter()
        .map(|r| {
            NaiveDateTime::parse_from_str(&r["ChargePeriodEnd"], "%Y-%m-%d %H:%M:%S")
                .expect("timestamp")
        })
        .max();
    assert_eq!(cube.latest_charge, latest);
}

#[test]
fn null_dimension_values_are_the_empty_string() {
    // RegionId is NULL on some rows of the sample; those rows key on "".
    let cube = read(Metric::BilledCost, &["region"]);
    let ours = by_key(&cube);
    let theirs = sums("BilledCost", |r| {
        if r["RegionId"] == "NULL" {
            String::new()
        } else {
            r["RegionId"].clone()
        }
    });
    assert!(theirs.contains_key(""));
    assert_same(&ours, &theirs);
}

#[test]
fn tag_dimension_matches_the_json_tags() {
    let cube = read(Metric::EffectiveCost, &["tag:environment"]);
    let theirs = sums("EffectiveCost", |r| {
        let tags = &r["Tags"];
        if tags == "NULL" {
            return String::new();
        }
        let tags: serde_json::Value = serde_json::from_str(tags).expect("json tags");
        tags.get("environment")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    });
    assert_same(&by_key(&cube), &theirs);
}

#[test]
fn read_file_gives_the_same_cube_for_csv_and_csv_gz() {
    let o = opts(Metric::BilledCost, &["sub_account", "service"]);
    let plain = read_file("focus.csv", sample().into(), &o).expect("csv");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&sample()).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let zipped = read_file("exports/focus.csv.gz", gz.into(), &o).expect("csv.gz");
    assert_eq!(plain, zipped);
}
