//! Reads cost exports into the domain's [`CostCube`]: FinOps FOCUS 1.x and AWS CUR 2.0 (Data
//! Exports), as CSV, gzip CSV or Parquet.
//!
//! Every reader makes one streaming pass: Parquet decodes only the needed columns, batch by
//! batch; CSV reuses one record buffer. Rows are summed per day and per combination of the
//! requested dimensions as they go by, so memory follows the number of cells, not of rows.
//!
//! Exports are taken as they are found in the wild (nulls written as `NULL`, several timestamp
//! spellings, tags as JSON text or as a Parquet map), but a value the cube needs that cannot be
//! read is a [`ReadError`] naming the file, the row and the column: never a silently wrong total.
//!
//! - [`read_file`]: picks the reader from the file name, for content in memory (an S3 object).
//! - [`read_path`]: the same for a local file, streamed from disk.
//! - [`read_file_on`], [`read_path_on`]: the same on several threads (Parquet: row groups are
//!   decoded side by side, see [`ParquetFeed::part`]; CSV is one stream and stays on one).
//! - [`read_csv`], [`read_csv_gz`], [`read_parquet`]: one format each.
//! - [`ParquetFeed`]: Parquet without I/O of its own — it names the byte ranges it needs (the
//!   footer, then one row group's needed column chunks at a time) and its caller fetches them,
//!   e.g. with S3 ranged GETs; [`read_stream`]: CSV and CSV.gz from any `impl Read` (an S3 body).
//!   This is how the Lambda reads objects without holding them whole.
//! - [`cur`]: the CUR 2.0 Data Exports manifest (which files make up a billing period).
//! - [`generate`]: deterministic synthetic exports for tests, benchmarks and the demo.

#![warn(missing_docs)]

mod agg;
mod csvread;
mod error;
mod fastcsv;
mod fasthash;
mod layout;
mod parquetread;
mod text;

pub mod cur;
pub mod generate;

use std::io::Read;
use std::path::Path;

pub use error::ReadError;
pub use layout::DIMENSIONS;
pub use ops_domain::cost::CostCube;
pub use parquetread::{merge_parts, FeedStep, ParquetFeed};

/// The schema of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// FinOps FOCUS 1.x (`BilledCost`, `ChargePeriodStart`, …), from any provider.
    Focus,
    /// AWS Cost and Usage Report 2.0 from Data Exports (`line_item_unblended_cost`, …).
    Cur2,
}

/// Which cost to sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// FOCUS `EffectiveCost`: amortised, after discounts.
    EffectiveCost,
    /// FOCUS `BilledCost`: what the invoice charges.
    BilledCost,
    /// CUR `line_item_unblended_cost`.
    UnblendedCost,
    /// CUR `line_item_net_unblended_cost` (after discounts).
    NetUnblendedCost,
}

/// What to read and how to key the cube.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The export's schema.
    pub format: Format,
    /// The cost summed into the cells; must exist in `format`.
    pub metric: Metric,
    /// Dimensions of the cube's key, in key order: `provider`, `billing_account`,
    /// `sub_account`, `service`, `region`, `tag:<key>` (see [`DIMENSIONS`]).
    pub dimensions: Vec<String>,
}

/// Reads a CSV export (with a header row) into a cube. `file` names it in errors.
pub fn read_csv<R: Read>(reader: R, opts: &ReadOptions, file: &str) -> Result<CostCube, ReadError> {
    csvread::read(reader, opts, file)
}

/// Reads a gzip-compressed CSV export. Gzip members written one after another (as some writers
/// do for large files) are read as one stream.
pub fn read_csv_gz<R: Read>(
    reader: R,
    opts: &ReadOptions,
    file: &str,
) -> Result<CostCube, ReadError> {
    csvread::read(flate2::read::MultiGzDecoder::new(reader), opts, file)
}

/// Reads a Parquet export (snappy, gzip, zstd or uncompressed pages), decoding only the columns
/// the cube needs, one batch at a time.
pub fn read_parquet(
    data: bytes::Bytes,
    opts: &ReadOptions,
    file: &str,
) -> Result<CostCube, ReadError> {
    parquetread::read(data, opts, file)
}

/// Reads an export whose content is `data`, choosing the reader from the name (an S3 key or a
/// path): `.csv`; `.csv.gz` (or any `.gz`); `.parquet`, including `.gz.parquet`,
/// `.snappy.parquet` and `.zstd.parquet`, where the codec is inside the file. A name with none
/// of these endings is recognised by content (Parquet's `PAR1` or gzip's magic bytes).
pub fn read_file(
    path_or_key: &str,
    data: bytes::Bytes,
    opts: &ReadOptions,
) -> Result<CostCube, ReadError> {
    let file = path_or_key;
    match Kind::of(path_or_key, &data) {
        Kind::Parquet => read_parquet(data, opts, file),
        // The bufread decoder reads straight from the bytes, without a second buffer.
        Kind::CsvGz => csvread::read(flate2::bufread::MultiGzDecoder::new(&data[..]), opts, file),
        Kind::Csv => read_csv(&data[..], opts, file),
        Kind::Unknown => Err(unknown(file)),
    }
}

/// [`read_file`] on up to `threads` threads: a Parquet file's row groups are split between
/// them ([`ParquetFeed::part`]); CSV is read on one.
pub fn read_file_on(
    path_or_key: &str,
    data: bytes::Bytes,
    opts: &ReadOptions,
    threads: usize,
) -> Result<CostCube, ReadError> {
    match Kind::of(path_or_key, &data) {
        Kind::Parquet if threads > 1 => {
            parquetread::read_parallel(|| Ok(data.clone()), opts, path_or_key, threads)
        }
        _ => read_file(path_or_key, data, opts),
    }
}

/// [`read_path`] on up to `threads` threads, as [`read_file_on`] splits the work; each thread
/// opens the file for itself.
pub fn read_path_on(
    path: &Path,
    opts: &ReadOptions,
    threads: usize,
) -> Result<CostCube, ReadError> {
    let file = path.to_string_lossy();
    if threads <= 1 {
        return read_path(path, opts);
    }
    let open = || {
        std::fs::File::open(path).map_err(|e| ReadError::file(&file, format!("cannot open: {e}")))
    };
    let mut head = [0u8; 4];
    let sniffed = open()?.read(&mut head).unwrap_or(0);
    match Kind::of(&file, &head[..sniffed]) {
        Kind::Parquet => parquetread::read_parallel(open, opts, &file, threads),
        _ => read_path(path, opts),
    }
}

/// Reads an export from a local file, choosing the reader as [`read_file`] does, streaming
/// instead of loading the file: CSV passes through a fixed buffer, and Parquet reads only the
/// byte ranges of the needed columns. For tools and benchmarks that have the file on disk.
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<CostCube, ReadError> {
    let file = path.to_string_lossy();
    let open = || {
        std::fs::File::open(path).map_err(|e| ReadError::file(&file, format!("cannot open: {e}")))
    };
    let mut head = [0u8; 4];
    let sniffed = open()?.read(&mut head).unwrap_or(0);
    match Kind::of(&file, &head[..sniffed]) {
        Kind::Parquet => parquetread::read(open()?, opts, &file),
        Kind::CsvGz => csvread::read(flate2::read::MultiGzDecoder::new(open()?), opts, &file),
        Kind::Csv => csvread::read(open()?, opts, &file),
        Kind::Unknown => Err(unknown(&file)),
    }
}

/// Reads a CSV or gzip CSV export from a stream (an S3 object body, a pipe), choosing plain or
/// gzip as [`read_file`] does (by name, else by the first bytes). Parquet needs random access:
/// read it with [`ParquetFeed`] (or [`read_file`] / [`read_path`]).
pub fn read_stream<R: Read>(
    name: &str,
    reader: R,
    opts: &ReadOptions,
) -> Result<CostCube, ReadError> {
    let mut reader = std::io::BufReader::with_capacity(STREAM_BUFFER, reader);
    let head = std::io::BufRead::fill_buf(&mut reader)
        .map_err(|e| ReadError::file(name, format!("cannot read: {e}")))?;
    match Kind::of(name, head) {
        Kind::CsvGz => csvread::read(flate2::bufread::MultiGzDecoder::new(reader), opts, name),
        Kind::Csv => csvread::read(reader, opts, name),
        Kind::Parquet => Err(ReadError::file(
            name,
            "a Parquet file cannot be read as a stream: it needs random access",
        )),
        Kind::Unknown => Err(unknown(name)),
    }
}

/// Read buffer of [`read_stream`]: a few network chunks.
const STREAM_BUFFER: usize = 256 * 1024;

/// What an export file holds, as far as choosing a reader goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CSV text.
    Csv,
    /// Gzip-compressed CSV.
    CsvGz,
    /// Parquet.
    Parquet,
    /// None of those.
    Unknown,
}

impl Kind {
    /// By name (`.parquet`, including `.gz.parquet`, `.snappy.parquet`, `.zstd.parquet`;
    /// `.gz`; `.csv`), else by the first bytes of the content (`head` may be empty: then a
    /// name without a known ending is [`Kind::Unknown`]).
    pub fn of(name: &str, head: &[u8]) -> Kind {
        let name = name.to_ascii_lowercase();
        if name.ends_with(".parquet") {
            Kind::Parquet
        } else if name.ends_with(".gz") {
            Kind::CsvGz
        } else if name.ends_with(".csv") {
            Kind::Csv
        } else if head.starts_with(b"PAR1") {
            Kind::Parquet
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Kind::CsvGz
        } else {
            Kind::Unknown
        }
    }
}

fn unknown(file: &str) -> ReadError {
    ReadError::file(
        file,
        "unknown file type: expected a name ending in .csv, .csv.gz or .parquet",
    )
}
