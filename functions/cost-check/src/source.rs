//! Where cost data comes from: one trait, three implementations chosen by config.
//!
//! - [`FocusExport`]: every `.csv`, `.csv.gz` and `.parquet` object under a prefix (FOCUS 1.x,
//!   as AWS, Azure, GCP and OCI deliver it).
//! - [`Cur2Export`]: AWS CUR 2.0 Data Exports, through each billing period's manifest
//!   (`metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`), never by listing `data/`:
//!   an export being rewritten leaves stale files in `data/` that the manifest no longer lists.
//!   The current and the previous period are read (AWS restates the previous one for about two
//!   weeks).
//! - [`CostExplorer`]: `GetCostAndUsage`, daily, grouped by the configured dimensions, one request
//!   per page for the whole range (each request is billed).

use std::io::Read;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use bytes::Bytes;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use futures_util::future::try_join_all;
use ops_adapters::error::{AwsCallError, FailureKind};
use ops_costdata::{FeedStep, Kind, ParquetFeed, ReadError, ReadOptions};
use ops_domain::config::{CostConfig, CostMetric, CostSource};
use ops_domain::cost::CostCube;
use serde::Serialize;
use tokio_util::io::SyncIoBridge;

/// What a source read.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The data.
    pub cube: CostCube,
    /// Files (or API pages) read.
    pub files: Vec<String>,
    /// Files that could not be read, with why (only when the config says to go on).
    pub unreadable: Vec<Unreadable>,
}

/// A file that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unreadable {
    /// Key or URI.
    pub file: String,
    /// The reader's error (file, row, column).
    pub error: String,
}

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file is malformed and the config says to fail.
    #[error(transparent)]
    Unreadable(#[from] ReadError),
    /// S3 or Cost Explorer failed (the target is the bucket/key or the API; never a body).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
    /// The data is not what the source promised (a manifest pointing elsewhere, mixed currencies).
    #[error("{0}")]
    Invalid(String),
}

impl SourceError {
    /// Whether retrying the run later may succeed: AWS throttled, failed or could not be
    /// reached. A malformed file or data that does not fit stays wrong until it is changed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Aws(call) if call.is_transient())
    }

    /// An SDK failure of `operation` on `target`, classified once ([`AwsCallError`]).
    fn from_sdk<E, R>(
        operation: &'static str,
        target: String,
        error: &aws_sdk_s3::error::SdkError<E, R>,
    ) -> Self
    where
        E: ops_adapters::error::ProvideErrorMetadata,
        R: ops_adapters::error::HttpStatus,
    {
        SourceError::Aws(AwsCallError::from_sdk(operation, error).on(target))
    }
}

/// The first day of the range a run reads, given the day it runs.
pub fn range_start(today: NaiveDate, history_days: u32) -> NaiveDate {
    today - Duration::days(i64::from(history_days) + 1)
}

/// A source of daily cost.
pub trait CostReader {
    /// Reads cost from `from` (inclusive) to `to` (exclusive).
    fn load(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl std::future::Future<Output = Result<Loaded, SourceError>> + Send;
}

/// Reader options for the configured metric and dimensions.
pub fn read_options(config: &CostConfig, format: ops_costdata::Format) -> ReadOptions {
    let metric = match config.metric {
        CostMetric::EffectiveCost => ops_costdata::Metric::EffectiveCost,
        CostMetric::BilledCost => ops_costdata::Metric::BilledCost,
        CostMetric::UnblendedCost => ops_costdata::Metric::UnblendedCost,
        CostMetric::NetUnblendedCost => ops_costdata::Metric::NetUnblendedCost,
    };
    ReadOptions {
        format,
        metric,
        dimensions: config.dimensions.clone(),
    }
}

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
struct S3Files {
    s3: aws_sdk_s3::Client,
    bucket: String,
    keep_going: bool,
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
    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// A transfer that failed or was cut short (retrying may succeed).
    fn aws(&self, operation: &'static str, key: &str, message: String) -> SourceError {
        AwsCallError::other(operation, FailureKind::Connection, message)
            .on(self.uri(key))
            .into()
    }

    /// The blocking reader task did not finish (it panicked or was cancelled).
    fn stopped(&self, key: &str, error: &tokio::task::JoinError) -> SourceError {
        AwsCallError::unexpected("GetObject", format!("reader stopped: {error}"))
            .on(self.uri(key))
            .into()
    }

    /// Starts a GET of `key` (of `range`, an HTTP Range value, when given); `None` when the
    /// object does not exist.
    async fn start_get(
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
    async fn get(&self, key: &str) -> Result<Option<Bytes>, SourceError> {
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
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, SourceError> {
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
    async fn get_ranges(
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

    fn missing(&self, key: &str) -> SourceError {
        SourceError::Invalid(format!("{} is listed but missing", self.uri(key)))
    }

    /// Reads one object into a cube. The outer error stops the run (S3 failed, the object is
    /// gone); the inner one is the file being unreadable, which the config may let pass.
    async fn read(
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
    async fn read_stream(
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

    /// Parquet: the footer, then each row group's needed column chunks, with ranged GETs.
    async fn read_parquet(
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
        let mut feed = match ParquetFeed::new(key, size, options) {
            Ok(feed) => feed,
            Err(error) => return Ok(Err(error)),
        };
        let mut have = Some((size.saturating_sub(tail.len() as u64)..size, tail));
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
    async fn read_all(
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

fn is_cost_file(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with(".csv") || key.ends_with(".csv.gz") || key.ends_with(".parquet")
}

/// FOCUS export files under a prefix.
#[derive(Debug, Clone)]
pub struct FocusExport {
    files: S3Files,
    prefix: String,
    options: ReadOptions,
}

impl CostReader for FocusExport {
    async fn load(&self, _from: NaiveDate, _to: NaiveDate) -> Result<Loaded, SourceError> {
        let mut keys = Vec::new();
        let mut pages = self
            .files
            .s3
            .list_objects_v2()
            .bucket(&self.files.bucket)
            .prefix(&self.prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| {
                SourceError::from_sdk(
                    "ListObjectsV2",
                    format!("s3://{}/{}", self.files.bucket, self.prefix),
                    &error,
                )
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key())
                    .filter(|key| is_cost_file(key))
                    .map(str::to_owned),
            );
        }
        // FOCUS files carry their own charge periods; every run reads the export whole, so a
        // provider restating a past day is picked up without tracking what changed.
        self.files.read_all(&keys, &self.options).await
    }
}

/// CUR 2.0 Data Export, read through manifests.
#[derive(Debug, Clone)]
pub struct Cur2Export {
    files: S3Files,
    prefix: String,
    export_name: String,
    options: ReadOptions,
}

impl Cur2Export {
    fn manifest_key(&self, period: NaiveDate) -> String {
        let base = self.prefix.trim_end_matches('/');
        let base = if base.is_empty() {
            String::new()
        } else {
            format!("{base}/")
        };
        format!(
            "{base}{name}/metadata/BILLING_PERIOD={y:04}-{m:02}/{name}-Manifest.json",
            name = self.export_name,
            y = period.year(),
            m = period.month()
        )
    }
}

/// First days of the months that overlap `[from, to)`.
pub fn billing_periods(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut periods = Vec::new();
    let mut month = from.with_day(1).unwrap_or(from);
    while month < to {
        periods.push(month);
        month = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(to);
    }
    periods
}

impl CostReader for Cur2Export {
    async fn load(&self, from: NaiveDate, to: NaiveDate) -> Result<Loaded, SourceError> {
        let mut keys = Vec::new();
        for period in billing_periods(from, to) {
            let manifest_key = self.manifest_key(period);
            // A period without a manifest yet (the first hours of a month) has no data: skip it;
            // the freshness check reports an export that stopped arriving.
            let Some(manifest) = self.files.get(&manifest_key).await? else {
                tracing::info!(message = "No manifest for billing period.", key = %manifest_key);
                continue;
            };
            let text = String::from_utf8(manifest.to_vec())
                .map_err(|_| SourceError::Invalid(format!("{manifest_key} is not UTF-8")))?;
            for uri in ops_costdata::cur::manifest_data_files(&text)? {
                let prefix = format!("s3://{}/", self.files.bucket);
                let Some(key) = uri.strip_prefix(&prefix) else {
                    return Err(SourceError::Invalid(format!(
                        "{manifest_key} lists {uri}, outside s3://{}",
                        self.files.bucket
                    )));
                };
                keys.push(key.to_owned());
            }
        }
        self.files.read_all(&keys, &self.options).await
    }
}

/// Cost Explorer `GetCostAndUsage`.
#[derive(Debug, Clone)]
pub struct CostExplorer {
    client: aws_sdk_costexplorer::Client,
    metric: &'static str,
    group_by: Vec<String>,
    dimensions: Vec<String>,
}

/// The cube dimension a Cost Explorer group-by dimension fills.
fn ce_dimension(group_by: &str) -> Option<&'static str> {
    match group_by {
        "SERVICE" => Some("service"),
        "LINKED_ACCOUNT" => Some("sub_account"),
        "REGION" => Some("region"),
        _ => None,
    }
}

impl CostReader for CostExplorer {
    async fn load(&self, from: NaiveDate, to: NaiveDate) -> Result<Loaded, SourceError> {
        use aws_sdk_costexplorer::types::{
            DateInterval, Granularity, GroupDefinition, GroupDefinitionType,
        };
        let mut loaded = Loaded {
            cube: CostCube::new(self.dimensions.clone()),
            ..Loaded::default()
        };
        let period = DateInterval::builder()
            .start(from.format("%Y-%m-%d").to_string())
            .end(to.format("%Y-%m-%d").to_string())
            .build()
            .map_err(|error| SourceError::Invalid(error.to_string()))?;
        let groups: Vec<GroupDefinition> = self
            .group_by
            .iter()
            .map(|key| {
                GroupDefinition::builder()
                    .r#type(GroupDefinitionType::Dimension)
                    .key(key)
                    .build()
            })
            .collect();
        let positions: Vec<Option<usize>> = self
            .group_by
            .iter()
            .map(|key| {
                ce_dimension(key).and_then(|name| self.dimensions.iter().position(|d| d == name))
            })
            .collect();
        let provider = self.dimensions.iter().position(|d| d == "provider");
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .get_cost_and_usage()
                .time_period(period.clone())
                .granularity(Granularity::Daily)
                .metrics(self.metric)
                .set_group_by(Some(groups.clone()))
                .set_next_page_token(token.clone())
                .send()
                .await
                .map_err(|error| {
                    SourceError::from_sdk("GetCostAndUsage", "Cost Explorer".into(), &error)
                })?;
            loaded
                .files
                .push(format!("GetCostAndUsage page {}", loaded.files.len() + 1));
            for result in output.results_by_time() {
                let Some(day) = result
                    .time_period()
                    .and_then(|p| NaiveDate::parse_from_str(p.start(), "%Y-%m-%d").ok())
                else {
                    continue;
                };
                let mut add = |keys: &[String],
                               amount: &str,
                               unit: Option<&str>|
                 -> Result<(), SourceError> {
                    let cost: f64 = amount.parse().map_err(|_| {
                        SourceError::Invalid(format!(
                            "Cost Explorer amount \"{amount}\" on {day} is not a number"
                        ))
                    })?;
                    let mut key = vec![String::new(); self.dimensions.len()];
                    if let Some(i) = provider {
                        key[i] = "AWS".into();
                    }
                    for (value, position) in keys.iter().zip(&positions) {
                        if let Some(i) = position {
                            key[*i] = value.clone();
                        }
                    }
                    if let Some(unit) = unit {
                        loaded.cube.currency.get_or_insert_with(|| unit.to_owned());
                    }
                    loaded.cube.add(day, key, cost);
                    loaded.cube.rows += 1;
                    Ok(())
                };
                if result.groups().is_empty() {
                    if let Some(total) = result.total().and_then(|t| t.get(self.metric)) {
                        add(&[], total.amount().unwrap_or("0"), total.unit())?;
                    }
                }
                for group in result.groups() {
                    if let Some(metric) = group.metrics().and_then(|m| m.get(self.metric)) {
                        add(group.keys(), metric.amount().unwrap_or("0"), metric.unit())?;
                    }
                }
                let end = day + Duration::days(1);
                let latest = end.and_time(NaiveTime::MIN);
                loaded.cube.latest_charge = loaded.cube.latest_charge.max(Some(latest));
            }
            token = output.next_page_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(loaded)
    }
}

/// The configured source.
#[derive(Debug, Clone)]
pub enum Source {
    /// FOCUS files.
    Focus(FocusExport),
    /// CUR 2.0 files.
    Cur2(Cur2Export),
    /// Cost Explorer.
    CostExplorer(CostExplorer),
}

impl Source {
    /// The source the config names.
    pub fn from_config(
        config: &CostConfig,
        s3: &aws_sdk_s3::Client,
        ce: &aws_sdk_costexplorer::Client,
    ) -> Source {
        let keep_going = config.on_unreadable == ops_domain::config::OnUnreadable::MarkIncomplete;
        match &config.source {
            CostSource::Focus { bucket, prefix } => Source::Focus(FocusExport {
                files: S3Files {
                    s3: s3.clone(),
                    bucket: bucket.clone(),
                    keep_going,
                },
                prefix: prefix.clone(),
                options: read_options(config, ops_costdata::Format::Focus),
            }),
            CostSource::Cur2 {
                bucket,
                prefix,
                export_name,
            } => Source::Cur2(Cur2Export {
                files: S3Files {
                    s3: s3.clone(),
                    bucket: bucket.clone(),
                    keep_going,
                },
                prefix: prefix.clone(),
                export_name: export_name.clone(),
                options: read_options(config, ops_costdata::Format::Cur2),
            }),
            CostSource::CostExplorer { group_by } => Source::CostExplorer(CostExplorer {
                client: ce.clone(),
                metric: match config.metric {
                    CostMetric::NetUnblendedCost => "NetUnblendedCost",
                    _ => "UnblendedCost",
                },
                group_by: group_by.clone(),
                dimensions: config.dimensions.clone(),
            }),
        }
    }

    /// Reads `[from, to)`.
    pub async fn load(&self, from: NaiveDate, to: NaiveDate) -> Result<Loaded, SourceError> {
        match self {
            Source::Focus(source) => source.load(from, to).await,
            Source::Cur2(source) => source.load(from, to).await,
            Source::CostExplorer(source) => source.load(from, to).await,
        }
    }

    /// `focus`, `cur2` or `cost_explorer`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Focus(_) => "focus",
            Source::Cur2(_) => "cur2",
            Source::CostExplorer(_) => "cost_explorer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid")
    }

    #[test]
    fn billing_periods_cover_every_month_of_the_range() {
        assert_eq!(
            billing_periods(d(2026, 1, 20), d(2026, 3, 2)),
            [d(2026, 1, 1), d(2026, 2, 1), d(2026, 3, 1)]
        );
        assert_eq!(
            billing_periods(d(2026, 3, 1), d(2026, 3, 2)),
            [d(2026, 3, 1)]
        );
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
