//! `costbench`: generates synthetic CUR 2.0 exports and times the read path on them, for
//! `scripts/bench.sh` (which runs DuckDB on the same files for comparison).
//!
//! ```text
//! costbench generate --rows N --out DIR    writes DIR/cur.parquet and DIR/cur.csv.gz
//! costbench aggregate FILE [--format cur|focus] [--stream] [--threads N]
//!                                          day × service sum of FILE, printed as one JSON
//!                                          line: through read_file (the file loaded into
//!                                          memory first, as the Lambda has an S3 object), or
//!                                          with --stream through read_path (from disk);
//!                                          Parquet row groups on N threads (default 1)
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::NaiveDate;
use ops_costdata::generate::Synthetic;
use ops_costdata::{read_file_on, read_path_on, Format, Metric, ReadOptions};
use serde_json::json;

const USAGE: &str = "usage: costbench generate --rows N --out DIR\n       costbench aggregate FILE [--format cur|focus] [--stream] [--threads N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => generate(&args[1..]),
        Some("aggregate") => aggregate(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("costbench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The value following `--name` in `args`.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn generate(args: &[String]) -> Result<String, String> {
    let rows: u64 = flag(args, "--rows")
        .ok_or(USAGE)?
        .replace('_', "")
        .parse()
        .map_err(|e| format!("--rows: {e}"))?;
    let out = PathBuf::from(flag(args, "--out").ok_or(USAGE)?);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    // A month-like span whose days divide the rows evenly, so exactly N rows are written.
    let days = [30u32, 31, 28, 25, 24, 20, 16, 15, 10, 8, 5, 4, 3, 2]
        .into_iter()
        .find(|d| rows >= u64::from(*d) && rows.is_multiple_of(u64::from(*d)))
        .unwrap_or(1);
    let start = NaiveDate::from_ymd_opt(2024, 9, 1).ok_or("start date")?;
    let synthetic = Synthetic::example(start, days, rows / u64::from(days));
    let started = Instant::now();
    let mut sizes = serde_json::Map::new();
    for name in ["cur.parquet", "cur.csv.gz"] {
        let path = out.join(name);
        let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        let written = if name.ends_with(".parquet") {
            synthetic.write_cur_parquet(&mut writer)
        } else {
            synthetic.write_cur_csv_gz(&mut writer)
        }
        .map_err(|e| format!("{}: {e}", path.display()))?;
        drop(writer);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        sizes.insert(name.to_string(), json!({ "rows": written, "bytes": bytes }));
    }
    Ok(json!({
        "rows": synthetic.rows(),
        "days": days,
        "files": sizes,
        "seconds": started.elapsed().as_secs_f64(),
    })
    .to_string())
}

fn aggregate(args: &[String]) -> Result<String, String> {
    let path = args.first().filter(|a| !a.starts_with("--")).ok_or(USAGE)?;
    let format = match flag(args, "--format").unwrap_or("cur") {
        "cur" => Format::Cur2,
        "focus" => Format::Focus,
        other => {
            return Err(format!(
                "--format: unknown format {other:?}, expected cur or focus"
            ))
        }
    };
    let opts = ReadOptions {
        format,
        metric: match format {
            Format::Cur2 => Metric::UnblendedCost,
            Format::Focus => Metric::BilledCost,
        },
        dimensions: vec!["service".to_string()],
    };
    let threads: usize = match flag(args, "--threads") {
        Some(n) => n
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| format!("--threads: expected a count of at least 1, got {n:?}"))?,
        None => 1,
    };
    let started = Instant::now();
    let stream = args.iter().any(|a| a == "--stream");
    let cube = if stream {
        read_path_on(path.as_ref(), &opts, threads)
    } else {
        // As the Lambda did with an S3 object: the whole file in memory, then read_file.
        let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        read_file_on(path, data.into(), &opts, threads)
    }
    .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "file": path,
        "mode": if stream { "read_path" } else { "read_file" },
        "threads": threads,
        "rows": cube.rows,
        "cells": cube.cells.len(),
        "total": cube.total(),
        "seconds": seconds,
        "rows_per_s": cube.rows as f64 / seconds,
    })
    .to_string())
}
