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

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use ops_adapters::error::AwsCallError;
use ops_costdata::{ReadError, ReadOptions};
use ops_domain::config::{CostConfig, CostMetric, CostSource};
use ops_domain::cost::CostCube;
use serde::Serialize;

mod s3files;

use s3files::{is_cost_file, S3Files};

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
        let threads = s3files::decode_threads(
            std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .ok()
                .and_then(|mb| mb.parse().ok()),
            std::thread::available_parallelism().map_or(1, usize::from),
        );
        match &config.source {
            CostSource::Focus { bucket, prefix } => Source::Focus(FocusExport {
                files: S3Files {
                    s3: s3.clone(),
                    bucket: bucket.clone(),
                    keep_going,
                    threads,
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
                    threads,
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
}
