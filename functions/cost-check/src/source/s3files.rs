//! Reading the objects of an export from S3: streamed CSV and CSV.gz bodies, Parquet through
//! coalesced ranged GETs, transfer failures reported as S3 failures (never as malformed files).

use std::io::Read;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use bytes::Bytes;
use futures_util::future::try_join_all;
use ops_adapters::error::{AwsCallError, FailureKind};
use ops_costdata::{FeedStep, Kind, ParquetFeed, ReadError, ReadOptions};
use ops_domain::cost::CostCube;
use tokio_util::io::SyncIoBridge;

use super::{Loaded, SourceError, Unreadable};

/// Objects of an export, read with S3.
///
/// Objects are never held whole. CSV and CSV.gz bodies stream into the reader: the SDK's body
/// becomes a blocking `Read` ([`SyncIoBridge`]) consumed on tokio's blocking pool, so memory is
/// the reader's buffers and the gzip window. Parquet goes through [`ParquetFeed`], which does no
/// I/O itself: it names the byte ranges it needs (the footer, then one row group's needed
/// column chunks) and this type fetches them with ranged GETs, concurrently, on the async
/// runtime; the CPU work between fetches (decoding a row group) runs on the blocking pool.
/// No thread ever blocks on the network inside the async runtime, and ops-costdata stays free
/// of tokio and the SDK.
#[derive(Debug, Clone)]
pub(super) struct S3Files {
    pub(super) s3: aws_sdk_s3::Client,
    pub(super) bucket: String,
    pub(super) keep_going: bool,
    /// Parquet row groups decoded side by side (see [`decode_threads`]).
    pub(super) threads: usize,
}

/// How many threads decode a Parquet object's row groups: Lambda gives a function more than
/// one vCPU from 1,769 MB of memory (`memory_mb`, from `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`); below
/// that a second thread would only share one vCPU and hold a second row group in memory.
/// Outside Lambda (no memory size) the machine's `cpus`. At most 8.
pub(crate) fn decode_threads(memory_mb: Option<u32>, cpus: usize) -> usize {
    match memory_mb {
        Some(mb) if mb < 1_769 => 1,
        _ => cpus.clamp(1, 8),
    }
}

/// The first ranged GET of a Parquet object: its last 64 KiB, where the footer is, and (from
/// the `Content-Range` header) its size. Matches the first range [`ParquetFeed`] asks for.
const PARQUET_TAIL: u64 = 64 * 1024;

/// An object's body as a blocking reader, recording the first transfer error so that a network
/// failure is reported as an S3 failure, not as a malformed file.
struct Tracked<R> {
    inner: R,
    failure: Arc<Mutex<Option<String>>>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|error| {
            if let Ok(mut slot) = self.failure.lock() {
                slot.get_or_insert_with(|| error.to_string());
            }
        })
    }
}

impl S3Files {
    pub(super) fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// A transfer that failed or was cut short (retrying may succeed).
    pub(super) fn aws(&self, operation: &'static str, key: &str, message: String) -> SourceError {
        AwsCallError::other(operation, FailureKind::Connection, message)
            .on(self.uri(key))
            .into()
    }

    /// The blocking reader task did not finish (it panicked or was cancelled).
    pub(super) fn stopped(&self, key: &str, error: &tokio::task::JoinError) -> SourceError {
        AwsCallError::unexpected("GetObject", format!("reader stopped: {error}"))
            .on(self.uri(key))
            .into()
    }

    /// Starts a GET of `key` (of `range`, an HTTP Range value, when given); `None` when the
    /// object does not exist.
    pub(super) async fn start_get(
        &self,
        key: &str,
        range: Option<String>,
    ) -> Result<Option<GetObjectOutput>, SourceError> {
        match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(output) => Ok(Some(output)),
            Err(error) if ops_adapters::error::status(&error) == Some(404) => Ok(None),
            Err(error) => Err(SourceError::from_sdk("GetObject", self.uri(key), &error)),
        }
    }

    /// A small object (a manifest) whole; `None` when it does not exist.
    pub(super) async fn get(&self, key: &str) -> Result<Option<Bytes>, SourceError> {
        let Some(output) = self.start_get(key, None).await? else {
            return Ok(None);
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|error| self.aws("GetObject", key, error.to_string()))?;
        Ok(Some(body.into_bytes()))
    }

    /// Bytes `range` of `key`.
    pub(super) async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes, SourceError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let header = format!("bytes={}-{}", range.start, range.end - 1);
        let output = self
            .start_get(key, Some(header))
            .await?
            .ok_or_else(|| self.missing(key))?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|error| self.aws("GetObject", key, error.to_string()))?
            .into_bytes();
        if body.len() as u64 != range.end - range.start {
            return Err(self.aws(
                "GetObject",
                key,
                format!(
                    "asked for bytes {}..{}, got {} bytes (was the object replaced while read?)",
                    range.start,
                    range.end,
                    body.len()
                ),
            ));
        }
        Ok(body)
    }

    /// Bytes of each of `ranges` of `key`: ranges less than [`COALESCE_GAP`] apart are fetched
    /// with one GET (a row group's column chunks are often neighbours), the GETs concurrently.
    pub(super) async fn get_ranges(
        &self,
        key: &str,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>, SourceError> {
        let merged = coalesce(ranges, COALESCE_GAP);
        let fetched = try_join_all(
            merged
                .iter()
                .map(|range| self.get_range(key, range.clone())),
        )
        .await?;
        ranges
            .iter()
            .map(|range| {
                // Every non-empty range lies inside one merged range: coalescing only widens.
                if range.is_empty() {
                    return Ok(Bytes::new());
                }
                merged
                    .iter()
                    .zip(&fetched)
                    .find(|(outer, _)| outer.start <= range.start && range.end <= outer.end)
                    .map(|(outer, bytes)| {
                        let from = (range.start - outer.start) as usize;
                        let to = (range.end - outer.start) as usize;
                        bytes.slice(from..to)
                    })
                    .ok_or_else(|| {
                        self.aws("GetObject", key, format!("range {range:?} was not fetched"))
                    })
            })
            .collect()
    }

    pub(super) fn missing(&self, key: &str) -> SourceError {
        SourceError::Invalid(format!("{} is listed but missing", self.uri(key)))
    }

    /// Reads one object into a cube. The outer error stops the run (S3 failed, the object is
    /// gone); the inner one is the file being unreadable, which the config may let pass.
    pub(super) async fn read(
        &self,
        key: &str,
        options: &ReadOptions,
    ) -> Result<Result<CostCube, ReadError>, SourceError> {
        let mut kind = Kind::of(key, &[]);
        if kind == Kind::Unknown {
            // No telling name: the first bytes decide (Parquet's or gzip's magic).
            let head = self.get_range(key, 0..4).await;
            kind = Kind::of(key, head.as_deref().unwrap_or_default());
        }
        match kind {
            Kind::Parquet => self.read_parquet(key, options).await,
            _ => self.read_stream(key, options).await,
        }
    }

    /// CSV or CSV.gz: the body streamed into the reader on the blocking pool.
    pub(super) async fn read_stream(
        &self,
        key: &str,
        options: &ReadOptions,
    ) -> Result<Result<CostCube, ReadError>, SourceError> {
        let output = self
            .start_get(key, None)
            .await?
            .ok_or_else(|| self.missing(key))?;
        let failure = Arc::new(Mutex::new(None));
        let body = Tracked {
            inner: SyncIoBridge::new(output.body.into_async_read()),
            failure: failure.clone(),
        };
        let (name, options) = (key.to_owned(), options.clone());
        let read =
            tokio::task::spawn_blocking(move || ops_costdata::read_stream(&name, body, &options))
                .await
                .map_err(|error| self.stopped(key, &error))?;
        // A body that broke off is S3's failure, whatever the reader made of the cut.
        let broke = failure.lock().ok().and_then(|mut slot| slot.take());
        if let Some(message) = broke {
            return Err(self.aws("GetObject", key, message));
        }
        Ok(read)
    }

    /// Parquet: the footer, then each row group's needed column chunks, with ranged GETs; on
    /// several threads, each reads every `threads`-th row group ([`ParquetFeed::part`]) and
    /// the parts' cubes are merged.
    pub(super) async fn read_parquet(
        &self,
        key: &str,
        options: &ReadOptions,
    ) -> Result<Result<CostCube, ReadError>, SourceError> {
        let tail = self
            .start_get(key, Some(format!("bytes=-{PARQUET_TAIL}")))
            .await?
            .ok_or_else(|| self.missing(key))?;
        let size = object_size(tail.content_range(), tail.content_length());
        let tail = tail
            .body
            .collect()
            .await
            .map_err(|error| self.aws("GetObject", key, error.to_string()))?
            .into_bytes();
        let size = size.unwrap_or(tail.len() as u64);
        let parts = self.threads.max(1);
        let reads = (0..parts).map(|part| {
            let tail = (size.saturating_sub(tail.len() as u64)..size, tail.clone());
            self.read_parquet_part(key, options, size, tail, part, parts)
        });
        let cubes = match try_join_all(reads).await?.into_iter().collect() {
            Ok(cubes) => cubes,
            Err(error) => return Ok(Err(error)),
        };
        Ok(ops_costdata::merge_parts(key, cubes))
    }

    /// Part `part` of `parts` of a Parquet object of `size` bytes whose `tail` is fetched.
    async fn read_parquet_part(
        &self,
        key: &str,
        options: &ReadOptions,
        size: u64,
        tail: (Range<u64>, Bytes),
        part: usize,
        parts: usize,
    ) -> Result<Result<CostCube, ReadError>, SourceError> {
        let mut feed = match ParquetFeed::part(key, size, options, part, parts) {
            Ok(feed) => feed,
            Err(error) => return Ok(Err(error)),
        };
        let mut have = Some(tail);
        loop {
            let (back, step) = tokio::task::spawn_blocking(move || {
                let step = feed.step();
                (feed, step)
            })
            .await
            .map_err(|error| self.stopped(key, &error))?;
            feed = back;
            let ranges = match step {
                Ok(FeedStep::Done(cube)) => return Ok(Ok(cube)),
                Ok(FeedStep::Fetch(ranges)) => ranges,
                Err(error) => return Ok(Err(error)),
            };
            // The first range asked for is the tail already fetched with the size.
            let data = match have.take() {
                Some((range, bytes)) if ranges == [range.clone()] => vec![bytes],
                _ => self.get_ranges(key, &ranges).await?,
            };
            if let Err(error) = feed.push(ranges, data) {
                return Ok(Err(error));
            }
        }
    }

    /// Reads each key into one cube; a malformed file fails the run or is skipped and listed.
    pub(super) async fn read_all(
        &self,
        keys: &[String],
        options: &ReadOptions,
    ) -> Result<Loaded, SourceError> {
        let mut loaded = Loaded {
            cube: CostCube::new(options.dimensions.clone()),
            ..Loaded::default()
        };
        for key in keys {
            match self.read(key, options).await? {
                Ok(cube) => {
                    if let (Some(have), Some(new)) = (&loaded.cube.currency, &cube.currency) {
                        if have != new {
                            return Err(SourceError::Invalid(format!(
                                "{} is in {new}, earlier files in {have}",
                                self.uri(key)
                            )));
                        }
                    }
                    loaded.cube.merge(cube);
                    loaded.files.push(self.uri(key));
                }
                Err(error) if self.keep_going => {
                    tracing::warn!(message = "Skipped an unreadable cost file.", file = %key, %error);
                    loaded.unreadable.push(Unreadable {
                        file: self.uri(key),
                        error: error.to_string(),
                    });
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(loaded)
    }
}

/// Ranges closer than this are fetched with one GET: reading up to 1 MiB more costs less time
/// (and money) than another request.
const COALESCE_GAP: u64 = 1024 * 1024;

/// `ranges` sorted and merged where they overlap or are less than `gap` bytes apart.
fn coalesce(ranges: &[Range<u64>], gap: u64) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.iter().filter(|r| !r.is_empty()).cloned().collect();
    sorted.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(gap) => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// An object's size from a ranged GET: the total in `Content-Range: bytes a-b/total`, or, when
/// the whole object came back without one, its `Content-Length`.
fn object_size(content_range: Option<&str>, content_length: Option<i64>) -> Option<u64> {
    match content_range {
        Some(range) => range
            .rsplit_once('/')
            .and_then(|(_, total)| total.parse().ok()),
        None => content_length.and_then(|n| u64::try_from(n).ok()),
    }
}

pub(super) fn is_cost_file(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with(".csv") || key.ends_with(".csv.gz") || key.ends_with(".parquet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_groups_are_decoded_side_by_side_only_with_more_than_one_vcpu() {
        assert_eq!(decode_threads(Some(512), 2), 1);
        assert_eq!(decode_threads(Some(1_768), 2), 1);
        assert_eq!(decode_threads(Some(1_769), 2), 2);
        assert_eq!(decode_threads(Some(10_240), 6), 6);
        assert_eq!(decode_threads(None, 2), 2);
        assert_eq!(decode_threads(None, 64), 8);
        assert_eq!(decode_threads(Some(4_096), 0), 1);
    }

    #[test]
    fn near_ranges_are_coalesced_far_ones_kept_apart() {
        assert_eq!(
            coalesce(&[50..60, 0..10, 12..20, 200..300, 5..8, 70..70], 5),
            [0..20, 50..60, 200..300]
        );
        assert_eq!(coalesce(&[0..10, 16..20], 5), [0..10, 16..20]);
        assert_eq!(coalesce(&[0..10, 15..20], 5), vec![(0..20)]);
        assert!(coalesce(&[], 5).is_empty());
    }

    #[test]
    fn object_size_comes_from_content_range_else_length() {
        assert_eq!(object_size(Some("bytes 100-199/200"), Some(100)), Some(200));
        assert_eq!(object_size(None, Some(42)), Some(42));
        assert_eq!(object_size(Some("bytes 0-9/*"), Some(10)), None);
        assert_eq!(object_size(None, None), None);
    }

    #[test]
    fn cost_files_are_recognised_by_extension() {
        assert!(is_cost_file("focus/2026-03/part-0.csv.gz"));
        assert!(is_cost_file("x/part-0.snappy.parquet"));
        assert!(!is_cost_file("focus/manifest.json"));
    }
}
