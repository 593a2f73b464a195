//! The generator's files, read back by the readers, give the generator's own totals; injected
//! spikes show up on their day; the manifest lists the files it was given.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use ops_costdata::cur::manifest_data_files;
use ops_costdata::generate::{cur_manifest, Spike, Synthetic};
use ops_costdata::{
    read_file, read_path, read_stream, CostCube, FeedStep, Format, Metric, ParquetFeed, ReadOptions,
};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 9, d).expect("date")
}

fn synthetic() -> Synthetic {
    let mut s = Synthetic::example(day(1), 14, 300);
    s.spikes = vec![Spike {
        day: day(10),
        service: "AmazonRDS".into(),
        account: Some("222222222222".into()),
        extra: 5_000.0,
    }];
    s
}

fn opts(format: Format, metric: Metric, dims: &[&str]) -> ReadOptions {
    ReadOptions {
        format,
        metric,
        dimensions: dims.iter().map(|d| d.to_string()).collect(),
    }
}

/// Every file the generator writes, with its format.
fn files(s: &Synthetic) -> Vec<(&'static str, Format, Vec<u8>)> {
    let write = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<u64>| {
        let mut out = Vec::new();
        let rows = f(&mut out).expect("write");
        assert_eq!(rows, s.rows());
        out
    };
    vec![
        ("focus.csv", Format::Focus, write(&|w| s.write_focus_csv(w))),
        (
            "focus.csv.gz",
            Format::Focus,
            write(&|w| s.write_focus_csv_gz(w)),
        ),
        (
            "focus.parquet",
            Format::Focus,
            write(&|w| s.write_focus_parquet(w)),
        ),
        (
            "cur.csv.gz",
            Format::Cur2,
            write(&|w| s.write_cur_csv_gz(w)),
        ),
        (
            "cur.snappy.parquet",
            Format::Cur2,
            write(&|w| s.write_cur_parquet(w)),
        ),
    ]
}

fn per_day_service(cube: &CostCube) -> BTreeMap<(NaiveDate, String), f64> {
    cube.cells
        .iter()
        .map(|((d, key), cost)| ((*d, key[0].clone()), *cost))
        .collect()
}

fn assert_close(
    ours: &BTreeMap<(NaiveDate, String), f64>,
    want: &BTreeMap<(NaiveDate, String), f64>,
) {
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (key, w) in want {
        assert!(
            (ours[key] - w).abs() < 1e-6,
            "{key:?}: {} vs {w}",
            ours[key]
        );
    }
}

#[test]
fn files_read_back_to_the_generators_totals() {
    let s = synthetic();
    for (name, format, data) in files(&s) {
        for (focus_metric, cur_metric) in [
            (Metric::BilledCost, Metric::UnblendedCost),
            (Metric::EffectiveCost, Metric::NetUnblendedCost),
        ] {
            let metric = if format == Format::Focus {
                focus_metric
            } else {
                cur_metric
            };
            let cube = read_file(
                name,
                data.clone().into(),
                &opts(format, metric, &["service"]),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(cube.rows, s.rows(), "{name}");
            assert_eq!(cube.currency.as_deref(), Some("USD"));
            assert_close(&per_day_service(&cube), &s.totals(metric));
            let last = day(14).and_hms_opt(23, 0, 0).expect("time") + chrono::TimeDelta::hours(1);
            assert_eq!(cube.latest_charge, Some(last), "{name}");
        }
    }
}

#[test]
fn every_format_agrees_on_every_dimension() {
    let s = synthetic();
    let focus = [
        "provider",
        "billing_account",
        "sub_account",
        "service",
        "region",
        "tag:team",
    ];
    let mut cubes = files(&s).into_iter().map(|(name, format, data)| {
        let metric = if format == Format::Focus {
            Metric::BilledCost
        } else {
            Metric::UnblendedCost
        };
        read_file(name, data.into(), &opts(format, metric, &focus))
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let first = cubes.next().expect("files");
    assert!(first
        .cells
        .keys()
        .any(|(_, key)| key[0] == "AWS" && key[5] == "payments"));
    for cube in cubes {
        assert_eq!(cube.cells.len(), first.cells.len());
        for (key, cost) in &first.cells {
            assert!((cube.cells[key] - cost).abs() < 1e-9, "{key:?}");
        }
    }
}

#[test]
fn a_spike_shows_on_its_day() {
    let s = synthetic();
    let calm = Synthetic {
        spikes: Vec::new(),
        ..s.clone()
    };
    let mut data = Vec::new();
    s.write_cur_parquet(&mut data).expect("write");
    let o = opts(
        Format::Cur2,
        Metric::UnblendedCost,
        &["service", "sub_account"],
    );
    let cube = read_file("cur.parquet", data.into(), &o).expect("reads");
    let rds: BTreeMap<NaiveDate, f64> = cube
        .cells
        .iter()
        .filter(|((_, key), _)| key[0] == "AmazonRDS")
        .fold(BTreeMap::new(), |mut m, ((d, _), c)| {
            *m.entry(*d).or_insert(0.0) += c;
            m
        });
    let calm_totals = calm.totals(Metric::UnblendedCost);
    for (d, cost) in &rds {
        let base = calm_totals[&(*d, "AmazonRDS".to_string())];
        let extra = if *d == day(10) { 5_000.0 } else { 0.0 };
        assert!(
            (cost - base - extra).abs() < 1e-6,
            "{d}: {cost} vs {base} + {extra}"
        );
    }
    let top = rds.iter().max_by(|a, b| a.1.total_cmp(b.1)).expect("days");
    assert_eq!(*top.0, day(10));
    assert!(cube
        .cells
        .keys()
        .any(|(d, key)| *d == day(10) && key == &["AmazonRDS", "222222222222"]));
}

#[test]
fn weekends_cost_about_sixty_percent() {
    let s = Synthetic::example(day(1), 28, 500);
    let (mut weekend, mut weekday) = (Vec::new(), Vec::new());
    let mut per_day = BTreeMap::new();
    for ((d, _), c) in s.totals(Metric::UnblendedCost) {
        *per_day.entry(d).or_insert(0.0) += c;
    }
    for (d, c) in per_day {
        match d.weekday() {
            Weekday::Sat | Weekday::Sun => weekend.push(c),
            _ => weekday.push(c),
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ratio = mean(&weekend) / mean(&weekday);
    assert!((0.55..0.65).contains(&ratio), "{ratio}");
}

#[test]
fn the_generator_is_deterministic() {
    let s = synthetic();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    s.write_cur_csv(&mut a).expect("write");
    s.write_cur_csv(&mut b).expect("write");
    assert_eq!(a, b);
    let mut p = Vec::new();
    s.write_focus_parquet(&mut p).expect("write");
    let mut q = Vec::new();
    s.write_focus_parquet(&mut q).expect("write");
    assert_eq!(p, q);
}

#[test]
fn the_manifest_lists_its_files() {
    let files = vec![
        "x-00001.snappy.parquet".to_string(),
        "s3://other/k.parquet".to_string(),
    ];
    let text = cur_manifest("bucket", "/cur/", "x", "2024-09", &files);
    assert_eq!(
        manifest_data_files(&text).expect("manifest"),
        vec![
            "s3://bucket/cur/x/data/BILLING_PERIOD=2024-09/x-00001.snappy.parquet".to_string(),
            "s3://other/k.parquet".to_string(),
        ]
    );
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["billingPeriod"]["end"], "2024-10-01T00:00:00.000Z");
    let bare = cur_manifest("b", "", "x", "2024-12", &files[..1]);
    assert!(bare.contains("s3://b/x/data/BILLING_PERIOD=2024-12/x-00001.snappy.parquet"));
}

#[test]
fn read_path_streams_to_the_same_cube_as_read_file() {
    let s = synthetic();
    let dir = std::env::temp_dir().join(format!("ops-costdata-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, format, data) in files(&s) {
        let metric = if format == Format::Focus {
            Metric::BilledCost
        } else {
            Metric::UnblendedCost
        };
        let o = opts(format, metric, &["service", "tag:team"]);
        let path = dir.join(name);
        std::fs::write(&path, &data).expect("write");
        let streamed = read_path(&path, &o).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            streamed,
            read_file(name, data.into(), &o).expect("in memory"),
            "{name}"
        );
        // Without a telling name, the content decides (gzip or Parquet magic).
        if !name.ends_with(".csv") {
            let bare = dir.join(name.replace('.', "_"));
            std::fs::rename(&path, &bare).expect("rename");
            assert_eq!(
                read_path(&bare, &o).expect("sniffed").rows,
                s.rows(),
                "{name}"
            );
        }
    }
    let missing = read_path(
        &dir.join("nope.parquet"),
        &opts(Format::Cur2, Metric::UnblendedCost, &[]),
    )
    .expect_err("missing file");
    assert!(missing.message.starts_with("cannot open"), "{missing}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// Drives a [`ParquetFeed`] over `data` as the Lambda does over S3: fetches exactly the ranges
/// it asks for. Returns the cube, the number of fetches and the bytes fetched after the first
/// (footer) fetch.
fn feed(name: &str, data: &bytes::Bytes, o: &ReadOptions) -> (CostCube, usize, u64) {
    let mut feed = ParquetFeed::new(name, data.len() as u64, o).expect("feed");
    let (mut fetches, mut fetched) = (0, 0);
    loop {
        match feed.step().unwrap_or_else(|e| panic!("{e}")) {
            FeedStep::Done(cube) => return (cube, fetches, fetched),
            FeedStep::Fetch(ranges) => {
                fetches += 1;
                let chunks = ranges
                    .iter()
                    .map(|r| {
                        if fetches > 1 {
                            fetched += r.end - r.start;
                        }
                        data.slice(r.start as usize..r.end as usize)
                    })
                    .collect();
                feed.push(ranges, chunks).expect("push");
            }
        }
    }
}

#[test]
fn streams_read_to_the_same_cube_as_read_file_and_parquet_fetches_only_needed_columns() {
    let s = synthetic();
    for (name, format, data) in files(&s) {
        let metric = if format == Format::Focus {
            Metric::BilledCost
        } else {
            Metric::UnblendedCost
        };
        let o = opts(format, metric, &["service", "tag:team"]);
        let data = bytes::Bytes::from(data);
        let whole = read_file(name, data.clone(), &o).expect("in memory");
        if name.ends_with(".parquet") {
            let (cube, fetches, fetched) = feed(name, &data, &o);
            assert_eq!(cube, whole, "{name}");
            // The footer (one fetch: the file's tail), then the row group's needed columns.
            assert_eq!(fetches, 2, "{name}");
            // Row data: only the projected column chunks, well under the file (it has ~20
            // columns, the cube needs 6 or 7, the JSON tags column of FOCUS being the largest).
            assert!(
                fetched * 3 < data.len() as u64 * 2,
                "{name}: fetched {fetched} of {} bytes",
                data.len()
            );
            let refused = read_stream(name, &data[..], &o).expect_err("parquet is not a stream");
            assert!(refused.message.contains("random access"), "{refused}");
        } else {
            // A reader that hands out a few bytes at a time, as a network body does.
            let trickle = Trickle(&data[..]);
            assert_eq!(
                read_stream(name, trickle, &o).expect("stream"),
                whole,
                "{name}"
            );
            // Without a telling name, the first bytes decide (gzip's magic; plain text is
            // not guessed at).
            let sniffed = read_stream("part-0", &data[..], &o);
            if name.ends_with(".gz") {
                assert_eq!(sniffed.expect("sniffed").rows, s.rows(), "{name}");
            } else {
                assert!(sniffed.is_err(), "{name}");
            }
        }
    }
}

/// A reader returning at most 7 bytes per call.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
