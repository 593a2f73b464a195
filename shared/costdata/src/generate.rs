//! Deterministic synthetic cost exports, for tests, the benchmark and the demo.
//!
//! A [`Synthetic`] describes a stretch of days of spend: services, accounts, regions, teams,
//! line items per day, a weekday rhythm (weekends cost about 60% of a weekday) and injected
//! [`Spike`]s. The same description always yields the same line items, so a test can compare
//! what a reader made of a file with [`Synthetic::totals`], computed from the line items
//! themselves.
//!
//! Line items are generated on the fly and written as they are made: ten million rows stream
//! into CSV (plain or gzip) or Parquet (row groups of a million rows) without being held in
//! memory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, MapBuilder, MapFieldNames, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, TimeDelta, Weekday};
use flate2::write::GzEncoder;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::Metric;

/// A description of synthetic spend; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    /// First day.
    pub start: NaiveDate,
    /// Number of days.
    pub days: u32,
    /// Service names (FOCUS `ServiceName`, CUR `product_servicecode`).
    pub services: Vec<String>,
    /// Usage accounts; the first one is also the billing (payer) account.
    pub accounts: Vec<String>,
    /// Region codes.
    pub regions: Vec<String>,
    /// Values of the `team` tag.
    pub teams: Vec<String>,
    /// Ordinary line items per day (spikes come on top).
    pub rows_per_day: u64,
    /// Extra spend injected on given days.
    pub spikes: Vec<Spike>,
}

/// Extra spend on one day for one service: one more line item of `extra`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike {
    /// The day it happens.
    pub day: NaiveDate,
    /// The service it is charged to.
    pub service: String,
    /// The account it is charged to (the first account when `None`).
    pub account: Option<String>,
    /// The amount, in the export's currency, added as both unblended and net cost.
    pub extra: f64,
}

/// One generated line item, as every writer writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct LineItem<'a> {
    /// Start of the charge period (an hour).
    pub start: NaiveDateTime,
    /// End of the charge period.
    pub end: NaiveDateTime,
    /// Billing (payer) account.
    pub payer: &'a str,
    /// Usage account.
    pub account: &'a str,
    /// Service.
    pub service: &'a str,
    /// Region code.
    pub region: &'a str,
    /// Value of the `team` tag.
    pub team: &'a str,
    /// Usage quantity.
    pub usage_amount: f64,
    /// Cost before discounts: FOCUS `BilledCost`, CUR `line_item_unblended_cost`.
    pub unblended_cost: f64,
    /// Cost after discounts: FOCUS `EffectiveCost`, CUR `line_item_net_unblended_cost`.
    pub net_unblended_cost: f64,
}

impl LineItem<'_> {
    /// The cost this line item contributes to `metric`.
    pub fn cost(&self, metric: Metric) -> f64 {
        match metric {
            Metric::BilledCost | Metric::UnblendedCost => self.unblended_cost,
            Metric::EffectiveCost | Metric::NetUnblendedCost => self.net_unblended_cost,
        }
    }
}

/// xorshift64*: the line items need a fixed, reproducible sequence of numbers that look
/// random, on every machine and every run, so tests can check exact totals and benchmarks
/// compare like with like. One `u64` of state and three shifts are all that takes, which is
/// why the crate does without a random-number library.
#[derive(Debug, Clone)]
struct XorShift(u64);

impl XorShift {
    /// Any fixed non-zero seed would do; this one is the golden-ratio constant.
    const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform index below `n` (0 when `n` is 0).
    fn index(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Rounds to 8 decimal places, as exports write amounts.
fn round8(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}

fn pick(list: &[String], i: usize) -> &str {
    list.get(i).map(String::as_str).unwrap_or("")
}

/// Line items per Parquet batch handed to the writer.
const BATCH: usize = 64 * 1024;

/// Rows per Parquet row group, as large exports are written.
const ROW_GROUP: usize = 1_000_000;

impl Synthetic {
    /// A month-like example: five services, three accounts, three regions, four teams.
    pub fn example(start: NaiveDate, days: u32, rows_per_day: u64) -> Self {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Synthetic {
            start,
            days,
            services: list(&[
                "AmazonEC2",
                "AmazonS3",
                "AmazonRDS",
                "AWSLambda",
                "AmazonDynamoDB",
            ]),
            accounts: list(&["111111111111", "222222222222", "333333333333"]),
            regions: list(&["us-east-1", "eu-west-1", "ap-southeast-2"]),
            teams: list(&["payments", "search", "platform", "data"]),
            rows_per_day,
            spikes: Vec::new(),
        }
    }

    /// Number of line items (ordinary rows and spikes inside the days).
    pub fn rows(&self) -> u64 {
        let end = self.start + TimeDelta::days(i64::from(self.days));
        let spikes = self
            .spikes
            .iter()
            .filter(|s| s.day >= self.start && s.day < end)
            .count();
        u64::from(self.days) * self.rows_per_day + spikes as u64
    }

    /// Calls `f` with every line item, in order, without storing them.
    pub fn for_each_item<E>(
        &self,
        mut f: impl FnMut(&LineItem<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut rng = XorShift(XorShift::SEED);
        let payer = pick(&self.accounts, 0);
        // Each row's cost is scaled so that a day costs about the same whatever rows_per_day.
        let scale = 1000.0 / self.rows_per_day.max(1) as f64;
        for d in 0..self.days {
            let date = self.start + TimeDelta::days(i64::from(d));
            let midnight = date.and_time(chrono::NaiveTime::MIN);
            let season = match date.weekday() {
                Weekday::Sat | Weekday::Sun => 0.6,
                _ => 1.0,
            };
            for i in 0..self.rows_per_day {
                let start = midnight + TimeDelta::hours((i * 24 / self.rows_per_day) as i64);
                let service = rng.index(self.services.len());
                let account = rng.index(self.accounts.len());
                let region = rng.index(self.regions.len());
                let team = rng.index(self.teams.len());
                let u = rng.unit();
                let cost = round8((1.0 + 0.5 * service as f64) * (0.5 + u) * season * scale);
                let discount = 1.0 - 0.05 * (account % 3) as f64;
                f(&LineItem {
                    start,
                    end: start + TimeDelta::hours(1),
                    payer,
                    account: pick(&self.accounts, account),
                    service: pick(&self.services, service),
                    region: pick(&self.regions, region),
                    team: pick(&self.teams, team),
                    usage_amount: (u * 10_000.0).round() / 1_000.0,
                    unblended_cost: cost,
                    net_unblended_cost: round8(cost * discount),
                })?;
            }
            for spike in self.spikes.iter().filter(|s| s.day == date) {
                let start = midnight + TimeDelta::hours(12);
                f(&LineItem {
                    start,
                    end: start + TimeDelta::hours(1),
                    payer,
                    account: spike.account.as_deref().unwrap_or(payer),
                    service: &spike.service,
                    region: pick(&self.regions, 0),
                    team: pick(&self.teams, 0),
                    usage_amount: 1.0,
                    unblended_cost: spike.extra,
                    net_unblended_cost: spike.extra,
                })?;
            }
        }
        Ok(())
    }

    /// The generator's own totals of `metric` per (day, service), summed in file order.
    pub fn totals(&self, metric: Metric) -> BTreeMap<(NaiveDate, String), f64> {
        let mut totals = BTreeMap::new();
        let _ = self.for_each_item(|item| {
            *totals
                .entry((item.start.date(), item.service.to_string()))
                .or_insert(0.0) += item.cost(metric);
            Ok::<(), ()>(())
        });
        totals
    }

    /// The total of `metric` over all line items.
    pub fn total(&self, metric: Metric) -> f64 {
        self.totals(metric).values().sum()
    }

    /// Writes the line items as a FOCUS 1.0 CSV export; returns the number of rows.
    pub fn write_focus_csv<W: Write>(&self, w: W) -> io::Result<u64> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(FOCUS_COLUMNS)?;
        let mut text = Text::default();
        let mut rows = 0;
        self.for_each_item(|item| {
            text.set(item, TimeStyle::Focus, "team");
            let (period_start, period_end) = billing_period(item.start.date());
            out.write_record([
                text.cost.as_str(),
                item.payer,
                "Example Corp",
                "USD",
                &period_end,
                &period_start,
                "Usage",
                "Usage",
                "Usage-Based",
                &text.end,
                &text.start,
                &text.amount,
                &text.net,
                &text.cost,
                "AWS",
                "Amazon Web Services, Inc.",
                item.region,
                item.service,
                item.account,
                &text.tags,
            ])?;
            rows += 1;
            Ok::<(), io::Error>(())
        })?;
        out.flush()?;
        Ok(rows)
    }

    /// [`Self::write_focus_csv`], gzip-compressed.
    pub fn write_focus_csv_gz<W: Write>(&self, w: W) -> io::Result<u64> {
        let mut gz = GzEncoder::new(w, flate2::Compression::new(6));
        let rows = self.write_focus_csv(&mut gz)?;
        gz.finish()?.flush()?;
        Ok(rows)
    }

    /// Writes the line items as a CUR 2.0 CSV export (tags as JSON text); returns the rows.
    pub fn write_cur_csv<W: Write>(&self, w: W) -> io::Result<u64> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(CUR_COLUMNS)?;
        let mut text = Text::default();
        let mut rows = 0;
        self.for_each_item(|item| {
            text.set(item, TimeStyle::Cur, "user_team");
            out.write_record([
                item.payer,
                item.account,
                "Usage",
                &text.start,
                &text.end,
                item.service,
                &text.usage_type,
                &text.amount,
                &text.cost,
                &text.net,
                "USD",
                item.service,
                item.region,
                &text.tags,
            ])?;
            rows += 1;
            Ok::<(), io::Error>(())
        })?;
        out.flush()?;
        Ok(rows)
    }

    /// [`Self::write_cur_csv`], gzip-compressed, as Data Exports delivers CSV.
    pub fn write_cur_csv_gz<W: Write>(&self, w: W) -> io::Result<u64> {
        let mut gz = GzEncoder::new(w, flate2::Compression::new(6));
        let rows = self.write_cur_csv(&mut gz)?;
        gz.finish()?.flush()?;
        Ok(rows)
    }

    /// Writes the line items as a CUR 2.0 Parquet export (snappy, `resource_tags` a
    /// MAP<string,string> with `user_team`); returns the number of rows.
    pub fn write_cur_parquet<W: Write + Send>(&self, w: W) -> io::Result<u64> {
        self.write_parquet(w, cur_schema(), "user_team", Builders::cur_batch, ROW_GROUP)
    }

    /// Writes the line items as a FOCUS 1.0 Parquet export (snappy, timestamps in UTC, `Tags`
    /// a MAP<string,string> with `team`); returns the number of rows.
    pub fn write_focus_parquet<W: Write + Send>(&self, w: W) -> io::Result<u64> {
        self.write_parquet(w, focus_schema(), "team", Builders::focus_batch, ROW_GROUP)
    }

    /// [`Self::write_focus_parquet`] with row groups of `row_group_rows` rows (tests of readers
    /// that go row group by row group, on data too small for the default groups).
    pub fn write_focus_parquet_in_groups<W: Write + Send>(
        &self,
        w: W,
        row_group_rows: usize,
    ) -> io::Result<u64> {
        let groups = row_group_rows.max(1);
        self.write_parquet(w, focus_schema(), "team", Builders::focus_batch, groups)
    }

    /// Streams the line items into Parquet in batches of [`BATCH`] rows, `batch` turning the
    /// builders into one record batch of `schema`; returns the number of rows.
    fn write_parquet<W: Write + Send>(
        &self,
        w: W,
        schema: SchemaRef,
        tag_key: &str,
        batch: fn(&mut Builders, &SchemaRef) -> io::Result<RecordBatch>,
        row_group_rows: usize,
    ) -> io::Result<u64> {
        let mut writer = parquet_writer(w, &schema, row_group_rows)?;
        let mut b = Builders::default();
        let mut rows = 0;
        self.for_each_item(|item| {
            b.push(item, tag_key);
            rows += 1;
            if b.len == BATCH {
                writer
                    .write(&batch(&mut b, &schema)?)
                    .map_err(io::Error::other)?;
            }
            Ok::<(), io::Error>(())
        })?;
        if b.len > 0 {
            writer
                .write(&batch(&mut b, &schema)?)
                .map_err(io::Error::other)?;
        }
        writer.close().map_err(io::Error::other)?;
        Ok(rows)
    }
}

/// The manifest Data Exports would write for `files` (names of data files, or full `s3://`
/// URIs) of billing period `period` (`YYYY-MM`) of export `export` under `s3://bucket/prefix/`.
/// See [`crate::cur`] for the shape.
pub fn cur_manifest(
    bucket: &str,
    prefix: &str,
    export: &str,
    period: &str,
    files: &[String],
) -> String {
    let base = match prefix.trim_matches('/') {
        "" => format!("s3://{bucket}/{export}"),
        prefix => format!("s3://{bucket}/{prefix}/{export}"),
    };
    let data_files: Vec<String> = files
        .iter()
        .map(|f| {
            if f.starts_with("s3://") {
                f.clone()
            } else {
                format!(
                    "{base}/data/BILLING_PERIOD={period}/{}",
                    f.trim_start_matches('/')
                )
            }
        })
        .collect();
    let mut manifest = serde_json::json!({
        "executionId": format!("synthetic-{export}-{period}"),
        "dataFiles": data_files,
        "columns": CUR_COLUMNS.iter().zip(CUR_TYPES).map(|(name, ty)| {
            serde_json::json!({ "name": name, "type": ty })
        }).collect::<Vec<_>>(),
    });
    if let Ok(first) = NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d") {
        if let Some(next) = first.checked_add_months(Months::new(1)) {
            manifest["billingPeriod"] = serde_json::json!({
                "start": format!("{first}T00:00:00.000Z"),
                "end": format!("{next}T00:00:00.000Z"),
            });
        }
    }
    // Serialising a `Value` cannot fail; the fallback keeps the signature simple.
    serde_json::to_string_pretty(&manifest).unwrap_or_default()
}

const FOCUS_COLUMNS: [&str; 20] = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "EffectiveCost",
    "ListCost",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "ServiceName",
    "SubAccountId",
    "Tags",
];

const CUR_COLUMNS: [&str; 14] = [
    "bill_payer_account_id",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
    "line_item_currency_code",
    "product_servicecode",
    "product_region_code",
    "resource_tags",
];

const CUR_TYPES: [&str; 14] = [
    "string",
    "string",
    "string",
    "timestamp",
    "timestamp",
    "string",
    "string",
    "double",
    "double",
    "double",
    "string",
    "string",
    "string",
    "map<string,string>",
];

/// The billing period (first of the month, first of the next) of a day, FOCUS-formatted.
fn billing_period(day: NaiveDate) -> (String, String) {
    let first = day.with_day(1).unwrap_or(day);
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    (format!("{first}T00:00:00Z"), format!("{next}T00:00:00Z"))
}

#[derive(Clone, Copy)]
enum TimeStyle {
    /// `2024-09-18T22:00:00Z`, as FOCUS specifies.
    Focus,
    /// `2024-09-18T22:00:00.000Z`, as CUR CSV files are written.
    Cur,
}

/// Reusable text buffers for one CSV row (no allocation per row once warm).
#[derive(Default)]
struct Text {
    start: String,
    end: String,
    cost: String,
    net: String,
    amount: String,
    tags: String,
    usage_type: String,
    hour: Option<NaiveDateTime>,
}

impl Text {
    fn set(&mut self, item: &LineItem<'_>, style: TimeStyle, team_key: &str) {
        if self.hour != Some(item.start) {
            let format = |t: NaiveDateTime, out: &mut String| {
                out.clear();
                let _ = match style {
                    TimeStyle::Focus => write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%SZ")),
                    TimeStyle::Cur => write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S.000Z")),
                };
            };
            format(item.start, &mut self.start);
            format(item.end, &mut self.end);
            self.hour = Some(item.start);
        }
        let number = |x: f64, out: &mut String| {
            out.clear();
            let _ = write!(out, "{x}");
        };
        number(item.unblended_cost, &mut self.cost);
        number(item.net_unblended_cost, &mut self.net);
        number(item.usage_amount, &mut self.amount);
        self.tags.clear();
        let _ = write!(
            self.tags,
            r#"{{"{team_key}":"{}","env":"prod"}}"#,
            item.team
        );
        self.usage_type.clear();
        let _ = write!(self.usage_type, "{}:Usage", item.region);
    }
}

fn map_names() -> MapFieldNames {
    MapFieldNames {
        entry: "key_value".into(),
        key: "key".into(),
        value: "value".into(),
    }
}

fn map_type() -> DataType {
    MapBuilder::new(
        Some(map_names()),
        StringBuilder::new(),
        StringBuilder::new(),
    )
    .finish()
    .data_type()
    .clone()
}

fn cur_schema() -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let time =
        |name: &str| Field::new(name, DataType::Timestamp(TimeUnit::Millisecond, None), true);
    let number = |name: &str| Field::new(name, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        text("bill_payer_account_id"),
        text("line_item_usage_account_id"),
        text("line_item_line_item_type"),
        time("line_item_usage_start_date"),
        time("line_item_usage_end_date"),
        text("line_item_product_code"),
        text("line_item_usage_type"),
        number("line_item_usage_amount"),
        number("line_item_unblended_cost"),
        number("line_item_net_unblended_cost"),
        text("line_item_currency_code"),
        text("product_servicecode"),
        text("product_region_code"),
        Field::new("resource_tags", map_type(), true),
    ]))
}

fn focus_schema() -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let time = |name: &str| {
        Field::new(
            name,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        )
    };
    let number = |name: &str| Field::new(name, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        number("BilledCost"),
        text("BillingAccountId"),
        text("BillingCurrency"),
        text("ChargeCategory"),
        time("ChargePeriodEnd"),
        time("ChargePeriodStart"),
        number("EffectiveCost"),
        text("ProviderName"),
        text("RegionId"),
        text("ServiceName"),
        text("SubAccountId"),
        Field::new("Tags", map_type(), true),
    ]))
}

fn parquet_writer<W: Write + Send>(
    w: W,
    schema: &SchemaRef,
    row_group_rows: usize,
) -> io::Result<ArrowWriter<W>> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    // Exports are not written by Arrow, so they carry no embedded Arrow schema; leave it out
    // too, so readers see these files the way they see real ones.
    let options = ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(true);
    ArrowWriter::try_new_with_options(w, schema.clone(), options).map_err(io::Error::other)
}

/// Column builders for one Parquet batch.
struct Builders {
    len: usize,
    payer: StringBuilder,
    account: StringBuilder,
    start: TimestampMillisecondBuilder,
    end: TimestampMillisecondBuilder,
    service: StringBuilder,
    usage_type: StringBuilder,
    amount: Float64Builder,
    cost: Float64Builder,
    net: Float64Builder,
    region: StringBuilder,
    tags: MapBuilder<StringBuilder, StringBuilder>,
    usage_type_text: String,
}

impl Default for Builders {
    fn default() -> Self {
        Builders {
            len: 0,
            payer: StringBuilder::new(),
            account: StringBuilder::new(),
            start: TimestampMillisecondBuilder::new(),
            end: TimestampMillisecondBuilder::new(),
            service: StringBuilder::new(),
            usage_type: StringBuilder::new(),
            amount: Float64Builder::new(),
            cost: Float64Builder::new(),
            net: Float64Builder::new(),
            region: StringBuilder::new(),
            tags: MapBuilder::new(
                Some(map_names()),
                StringBuilder::new(),
                StringBuilder::new(),
            ),
            usage_type_text: String::new(),
        }
    }
}

impl Builders {
    fn push(&mut self, item: &LineItem<'_>, team_key: &str) {
        let millis = |t: NaiveDateTime| t.and_utc().timestamp_millis();
        self.payer.append_value(item.payer);
        self.account.append_value(item.account);
        self.start.append_value(millis(item.start));
        self.end.append_value(millis(item.end));
        self.service.append_value(item.service);
        self.usage_type_text.clear();
        let _ = write!(self.usage_type_text, "{}:Usage", item.region);
        self.usage_type.append_value(&self.usage_type_text);
        self.amount.append_value(item.usage_amount);
        self.cost.append_value(item.unblended_cost);
        self.net.append_value(item.net_unblended_cost);
        self.region.append_value(item.region);
        self.tags.keys().append_value(team_key);
        self.tags.values().append_value(item.team);
        self.tags.keys().append_value("env");
        self.tags.values().append_value("prod");
        // Appending a map entry only fails when keys and values differ in length; they don't.
        let _ = self.tags.append(true);
        self.len += 1;
    }

    fn constant(&self, value: &str) -> ArrayRef {
        Arc::new(arrow_array::StringArray::from(vec![value; self.len]))
    }

    fn cur_batch(&mut self, schema: &SchemaRef) -> io::Result<RecordBatch> {
        let service: ArrayRef = Arc::new(self.service.finish());
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.payer.finish()),
            Arc::new(self.account.finish()),
            self.constant("Usage"),
            Arc::new(self.start.finish()),
            Arc::new(self.end.finish()),
            service.clone(),
            Arc::new(self.usage_type.finish()),
            Arc::new(self.amount.finish()),
            Arc::new(self.cost.finish()),
            Arc::new(self.net.finish()),
            self.constant("USD"),
            service,
            Arc::new(self.region.finish()),
            Arc::new(self.tags.finish()),
        ];
        self.len = 0;
        RecordBatch::try_new(schema.clone(), columns).map_err(io::Error::other)
    }

    fn focus_batch(&mut self, schema: &SchemaRef) -> io::Result<RecordBatch> {
        let utc = |a: arrow_array::TimestampMillisecondArray| -> ArrayRef {
            Arc::new(a.with_timezone("UTC"))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.cost.finish()),
            Arc::new(self.payer.finish()),
            self.constant("USD"),
            self.constant("Usage"),
            utc(self.end.finish()),
            utc(self.start.finish()),
            Arc::new(self.net.finish()),
            self.constant("AWS"),
            Arc::new(self.region.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.account.finish()),
            Arc::new(self.tags.finish()),
        ];
        // Columns the FOCUS file leaves out still need their builders emptied.
        self.usage_type.finish();
        self.amount.finish();
        self.len = 0;
        RecordBatch::try_new(schema.clone(), columns).map_err(io::Error::other)
    }
}
