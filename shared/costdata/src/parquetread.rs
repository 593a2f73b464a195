//! The Parquet reader: only the needed columns, decoded batch by batch as typed Arrow arrays.
//!
//! Text columns that key the cube (account, service, region, currency) are asked for as Arrow
//! dictionary arrays. Parquet writers dictionary-encode such low-cardinality columns, so the
//! reader hands over each page's dictionary plus integer keys instead of materialising one
//! string per row; we intern the dictionary once per batch and then only map integers.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, LargeStringArray, MapArray, PrimitiveArray, RecordBatch, StringArray,
    StringViewArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use ops_domain::cost::CostCube;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::push_decoder::{ParquetPushDecoder, ParquetPushDecoderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataPushDecoder};
use parquet::file::reader::ChunkReader;
use parquet::DecodeResult;

use crate::agg::{Agg, Interner, LastValue, Source, TagCache, DAY_RANGE};
use crate::layout::Layout;
use crate::text::{is_null, parse_instant, parse_number, show, Instant, DAY_SECS};
use crate::{ReadError, ReadOptions};

/// Rows per decoded batch: large enough to amortise per-batch work, small enough that the
/// decoded columns of one batch stay around a megabyte.
const BATCH_ROWS: usize = 64 * 1024;

/// Reads a Parquet export into a cube through a [`ParquetFeed`], fetching the ranges it asks
/// for from `input` (bytes in memory are sliced, not copied; a file is read range by range).
pub(crate) fn read<T: ChunkReader>(
    input: T,
    opts: &ReadOptions,
    file: &str,
) -> Result<CostCube, ReadError> {
    read_part(input, opts, file, 0, 1)
}

/// Reads a Parquet export on `threads` threads, each reading every `threads`-th row group
/// through its own [`ParquetFeed::part`] from its own `open()`ed input; the parts' cubes are
/// merged. One thread reads as [`read`] does.
pub(crate) fn read_parallel<T: ChunkReader>(
    open: impl Fn() -> Result<T, ReadError> + Sync,
    opts: &ReadOptions,
    file: &str,
    threads: usize,
) -> Result<CostCube, ReadError> {
    if threads <= 1 {
        return read(open()?, opts, file);
    }
    let open = &open;
    let cubes: Vec<Result<CostCube, ReadError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|part| scope.spawn(move || read_part(open()?, opts, file, part, threads)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err(ReadError::file(file, "a reader thread failed")))
            })
            .collect()
    });
    merge_parts(file, cubes.into_iter().collect::<Result<Vec<_>, _>>()?)
}

/// One cube from the cubes of a file's parts (see [`ParquetFeed::part`]); a cube holds one
/// currency, so parts in two currencies are an error, as rows in two currencies are.
pub fn merge_parts(file: &str, cubes: Vec<CostCube>) -> Result<CostCube, ReadError> {
    let mut cubes = cubes.into_iter();
    let Some(mut merged) = cubes.next() else {
        return Err(ReadError::file(file, "no part was read"));
    };
    for cube in cubes {
        if let (Some(have), Some(other)) = (&merged.currency, &cube.currency) {
            if have != other {
                return Err(ReadError::file(
                    file,
                    format!("currency {other} differs from {have} in earlier rows (a cube holds one currency)"),
                ));
            }
        }
        merged.merge(cube);
    }
    Ok(merged)
}

fn read_part<T: ChunkReader>(
    input: T,
    opts: &ReadOptions,
    file: &str,
    part: usize,
    parts: usize,
) -> Result<CostCube, ReadError> {
    let mut feed = ParquetFeed::part(file, input.len(), opts, part, parts)?;
    loop {
        match feed.step()? {
            FeedStep::Done(cube) => return Ok(cube),
            FeedStep::Fetch(ranges) => {
                let data = ranges
                    .iter()
                    .map(|r| {
                        let len = usize::try_from(r.end - r.start).unwrap_or(usize::MAX);
                        input
                            .get_bytes(r.start, len)
                            .map_err(|e| unreadable(file, e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                feed.push(ranges, data)?;
            }
        }
    }
}

/// Where a [`ParquetFeed`] is.
enum Phase {
    /// Decoding the footer (file metadata).
    Footer(Box<ParquetMetaDataPushDecoder>),
    /// Decoding the projected column chunks, row group by row group.
    Rows(Box<Rows>),
    /// The cube was handed out (or an error ended the read).
    Done,
}

/// The row phase of a [`ParquetFeed`].
struct Rows {
    decoder: ParquetPushDecoder,
    state: State,
    layout: Layout,
    projected: Vec<usize>,
}

/// The first request: the file's last 64 KiB, which holds the footer of a typical export, so
/// the metadata usually takes one fetch instead of two (the 8-byte tail, then the footer).
const FOOTER_GUESS: u64 = 64 * 1024;

/// A Parquet reader that does no I/O: it says which byte ranges it needs next and its caller
/// fetches them (from S3 with ranged GETs, or from a file) and pushes them in. It asks for the
/// footer, then for the projected column chunks of one row group at a time, and decodes each
/// row group batch by batch before asking for the next, so it holds at most one row group's
/// needed columns. Built on the `parquet` crate's push decoders; this type adds the cube's
/// column projection and aggregation.
pub struct ParquetFeed {
    file: String,
    opts: ReadOptions,
    file_len: u64,
    first: bool,
    phase: Phase,
    /// This feed reads the row groups `i` with `i % parts == part` (see [`ParquetFeed::part`]).
    part: usize,
    parts: usize,
}

/// What a [`ParquetFeed`] needs next.
#[derive(Debug)]
pub enum FeedStep {
    /// Fetch these byte ranges of the file and [`ParquetFeed::push`] them.
    Fetch(Vec<std::ops::Range<u64>>),
    /// The file is read.
    Done(CostCube),
}

impl ParquetFeed {
    /// A reader for the Parquet file `file` (named in errors) of `file_len` bytes.
    pub fn new(file: &str, file_len: u64, opts: &ReadOptions) -> Result<Self, ReadError> {
        Self::part(file, file_len, opts, 0, 1)
    }

    /// A reader of part `part` of `parts` of the file: the row groups whose index is `part`
    /// modulo `parts`. Parts are read side by side (one per thread) and their cubes merged with
    /// [`merge_parts`]: together they read every row once. Each part fetches the footer.
    pub fn part(
        file: &str,
        file_len: u64,
        opts: &ReadOptions,
        part: usize,
        parts: usize,
    ) -> Result<Self, ReadError> {
        let parts = parts.max(1);
        let decoder = ParquetMetaDataPushDecoder::try_new(file_len)
            .map_err(|e| unreadable(file, e))?
            .with_page_index_policy(PageIndexPolicy::Skip);
        Ok(ParquetFeed {
            file: file.to_owned(),
            opts: opts.clone(),
            file_len,
            first: true,
            phase: Phase::Footer(Box::new(decoder)),
            part: part % parts,
            parts,
        })
    }

    /// Decodes what it has and says what it needs next. CPU-bound between fetches (a row
    /// group's decoding): async callers run it off the I/O threads.
    pub fn step(&mut self) -> Result<FeedStep, ReadError> {
        if std::mem::take(&mut self.first) {
            let start = self.file_len.saturating_sub(FOOTER_GUESS);
            return Ok(FeedStep::Fetch(
                std::iter::once(start..self.file_len).collect(),
            ));
        }
        let result = self.advance();
        if result.is_err() {
            self.phase = Phase::Done;
        }
        result
    }

    fn advance(&mut self) -> Result<FeedStep, ReadError> {
        loop {
            match &mut self.phase {
                Phase::Footer(decoder) => match decoder
                    .try_decode()
                    .map_err(|e| unreadable(&self.file, e))?
                {
                    DecodeResult::NeedsData(ranges) => return Ok(FeedStep::Fetch(ranges)),
                    DecodeResult::Data(metadata) => {
                        self.phase = Phase::Rows(Box::new(self.rows(metadata)?));
                    }
                    DecodeResult::Finished => {
                        return Err(ReadError::file(&self.file, "Parquet footer ended early"))
                    }
                },
                Phase::Rows(rows) => {
                    let next = rows.decoder.try_decode().map_err(|e| {
                        ReadError::file(
                            &self.file,
                            format!(
                                "cannot decode rows after row {}: {e}",
                                rows.state.file_row(rows.state.agg.rows)
                            ),
                        )
                    })?;
                    match next {
                        DecodeResult::NeedsData(ranges) => return Ok(FeedStep::Fetch(ranges)),
                        DecodeResult::Data(batch) => {
                            let Rows {
                                state,
                                layout,
                                projected,
                                ..
                            } = rows.as_mut();
                            state.batch(&batch, projected, layout, &self.file)?;
                        }
                        DecodeResult::Finished => break,
                    }
                }
                Phase::Done => break,
            }
        }
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Rows(rows) => rows.state.agg.finish(&self.file).map(FeedStep::Done),
            _ => Err(ReadError::file(&self.file, "read past the end of the file")),
        }
    }

    /// The row phase, once the footer is decoded: the layout, projection and decoder.
    fn rows(&self, metadata: parquet::file::metadata::ParquetMetaData) -> Result<Rows, ReadError> {
        let file = &self.file;
        let groups: Vec<usize> = (0..metadata.num_row_groups())
            .filter(|g| g % self.parts == self.part)
            .collect();
        let meta = ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
            .map_err(|e| unreadable(file, e))?;
        let names: Vec<String> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let layout = Layout::resolve(&self.opts, &names, file)?;
        let settled = Settled::from_footer(meta.metadata(), &layout, &groups);
        let meta = with_dictionary_hints(meta, &layout);
        let builder = ParquetPushDecoderBuilder::new_with_metadata(meta);
        let projected: Vec<usize> = layout
            .columns()
            .into_iter()
            .filter(|&c| !settled.spares(c, &layout))
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), projected.iter().copied());
        let starts = first_rows(builder.metadata(), &groups);
        let decoder = builder
            .with_projection(mask)
            .with_row_groups(groups)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| unreadable(file, e))?;
        let mut state = State::new(&self.opts, &layout, starts);
        settled.apply(&mut state, file)?;
        Ok(Rows {
            state,
            decoder,
            layout,
            projected,
        })
    }

    /// Hands over the bytes of `ranges` (each buffer the bytes of the range at the same index).
    pub fn push(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
        data: Vec<bytes::Bytes>,
    ) -> Result<(), ReadError> {
        let pushed = match &mut self.phase {
            Phase::Footer(decoder) => decoder.push_ranges(ranges, data),
            Phase::Rows(rows) => rows.decoder.push_ranges(ranges, data),
            Phase::Done => return Ok(()),
        };
        pushed.map_err(|e| unreadable(&self.file, e))
    }
}

fn unreadable(file: &str, e: parquet::errors::ParquetError) -> ReadError {
    ReadError::file(file, format!("not a readable Parquet file: {e}"))
}

/// Columns the footer's statistics settle, so they are not decoded at all: the charge-period
/// end (only its latest value is used: the row groups' maxima give it exactly) and the currency
/// (when every row group's minimum and maximum are one value, every row has it). A column the
/// statistics do not settle in every row group read is decoded as before.
#[derive(Debug, Default)]
struct Settled {
    /// The latest end over the row groups read (`Some(None)`: every end is null).
    end: Option<Option<Instant>>,
    /// The one currency value of every non-null row.
    currency: Option<Vec<u8>>,
}

impl Settled {
    fn from_footer(
        meta: &parquet::file::metadata::ParquetMetaData,
        layout: &Layout,
        groups: &[usize],
    ) -> Settled {
        let leaf = |root: usize| {
            let schema = meta.file_metadata().schema_descr();
            let mut leaves =
                (0..schema.num_columns()).filter(|&l| schema.get_column_root_idx(l) == root);
            // Only a flat column (one leaf, not repeated) has one statistic per row group.
            match (leaves.next(), leaves.next()) {
                (Some(l), None) if schema.column(l).max_rep_level() == 0 => Some(l),
                _ => None,
            }
        };
        let mut settled = Settled::default();
        if layout.end != layout.start && !groups.is_empty() {
            settled.end = leaf(layout.end).and_then(|l| latest_end(meta, l, groups));
        }
        let shared = |c: usize| c == layout.start || c == layout.end || c == layout.cost;
        if !shared(layout.currency) && !groups.is_empty() {
            settled.currency = leaf(layout.currency).and_then(|l| one_value(meta, l, groups));
        }
        settled
    }

    /// Whether column `column` needs no decoding.
    fn spares(&self, column: usize, layout: &Layout) -> bool {
        let dimension = layout.dims.iter().any(|d| match d {
            crate::layout::DimSource::Column(i) => *i == column,
            crate::layout::DimSource::Fallback(a, b) => *a == column || *b == column,
            _ => false,
        }) || layout.tags == Some(column);
        !dimension
            && ((column == layout.end && self.end.is_some())
                || (column == layout.currency && self.currency.is_some()))
    }

    fn apply(&self, state: &mut State, file: &str) -> Result<(), ReadError> {
        if let Some(end) = self.end {
            state.settled_end = true;
            if let Some(end) = end {
                state.agg.end(end);
            }
        }
        if let Some(value) = &self.currency {
            state.settled_currency = true;
            state
                .agg
                .currency(value)
                .map_err(|m| ReadError::file(file, m))?;
        }
        Ok(())
    }
}

/// The latest instant of a timestamp column over `groups`, from the row groups' statistics:
/// `None` unless every row group has an exact maximum (or only nulls).
fn latest_end(
    meta: &parquet::file::metadata::ParquetMetaData,
    leaf: usize,
    groups: &[usize],
) -> Option<Option<Instant>> {
    use parquet::basic::{ConvertedType, LogicalType, TimeUnit as Unit};
    use parquet::file::statistics::Statistics;
    let descr = meta.file_metadata().schema_descr().column(leaf);
    let per_second: i64 = match (descr.logical_type_ref(), descr.converted_type()) {
        (Some(LogicalType::Timestamp(t)), _) => match t.unit {
            Unit::MILLIS => 1_000,
            Unit::MICROS => 1_000_000,
            Unit::NANOS => 1_000_000_000,
        },
        (None, ConvertedType::TIMESTAMP_MILLIS) => 1_000,
        (None, ConvertedType::TIMESTAMP_MICROS) => 1_000_000,
        _ => return None,
    };
    let mut latest: Option<i64> = None;
    for &g in groups {
        let group = meta.row_group(g);
        let stats = group.column(leaf).statistics()?;
        let Statistics::Int64(stats) = stats else {
            return None;
        };
        match stats.max_opt() {
            // Integer maxima are never truncated, and the signed order of old writers' `max`
            // field is the order of signed timestamps.
            Some(&max) => latest = latest.max(Some(max)),
            None if stats.null_count_opt() == Some(group.num_rows() as u64) => {}
            None => return None,
        }
    }
    Some(latest.map(|v| {
        (
            v.div_euclid(per_second),
            (v.rem_euclid(per_second) * (1_000_000_000 / per_second)) as u32,
        )
    }))
}

/// The one value of a text column over `groups` when every row group's minimum and maximum are
/// that value (bounds, even when truncated: min = max leaves one possible value).
fn one_value(
    meta: &parquet::file::metadata::ParquetMetaData,
    leaf: usize,
    groups: &[usize],
) -> Option<Vec<u8>> {
    use parquet::file::statistics::Statistics;
    let mut value: Option<&[u8]> = None;
    for &g in groups {
        let group = meta.row_group(g);
        let stats = group.column(leaf).statistics()?;
        // Old writers' `min`/`max` fields compare bytes as signed: not bounds to rely on.
        if stats.is_min_max_deprecated() {
            return None;
        }
        let Statistics::ByteArray(stats) = stats else {
            return None;
        };
        match (stats.min_opt(), stats.max_opt()) {
            (Some(min), Some(max)) if min == max => {
                let bytes = min.data();
                if value.is_some_and(|v| v != bytes) {
                    return None;
                }
                value = Some(bytes);
            }
            (None, None) if stats.null_count_opt() == Some(group.num_rows() as u64) => {}
            _ => return None,
        }
    }
    value.map(<[u8]>::to_vec)
}

/// The first file row of each of `groups`, in order: part-local rows are numbered in the file's
/// terms in error messages.
fn first_rows(
    meta: &parquet::file::metadata::ParquetMetaData,
    groups: &[usize],
) -> Vec<(u64, u64)> {
    let mut file_first = Vec::with_capacity(meta.num_row_groups());
    let mut total = 0u64;
    for group in meta.row_groups() {
        file_first.push(total);
        total += u64::try_from(group.num_rows()).unwrap_or(0);
    }
    let mut local = 0u64;
    groups
        .iter()
        .map(|&g| {
            let at = (local, file_first[g]);
            local += u64::try_from(meta.row_group(g).num_rows()).unwrap_or(0);
            at
        })
        .collect()
}

/// Asks for the dimension text columns as dictionary arrays (see the module docs). Falls back
/// to the file's own types if the reader refuses the hint.
fn with_dictionary_hints(meta: ArrowReaderMetadata, layout: &Layout) -> ArrowReaderMetadata {
    let text = layout.text_columns();
    let schema = meta.schema().clone();
    let mut changed = false;
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 if text.contains(&i) => {
                changed = true;
                let dict = DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(field.data_type().clone()),
                );
                Arc::new(field.as_ref().clone().with_data_type(dict))
            }
            _ => field.clone(),
        })
        .collect();
    if !changed {
        return meta;
    }
    let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let options = ArrowReaderOptions::new().with_schema(hinted);
    ArrowReaderMetadata::try_new(meta.metadata().clone(), options).unwrap_or(meta)
}

/// Per-row access to a text column in any of Arrow's string layouts, plain or dictionary.
struct Text<'a> {
    values: Strings<'a>,
    keys: Option<Keys<'a>>,
}

enum Strings<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

enum Keys<'a> {
    I32(&'a PrimitiveArray<Int32Type>),
    Other {
        keys: Vec<usize>,
        array: &'a dyn Array,
    },
}

impl<'a> Strings<'a> {
    fn new(array: &'a dyn Array) -> Option<Self> {
        if let Some(a) = array.as_string_opt::<i32>() {
            Some(Strings::Utf8(a))
        } else if let Some(a) = array.as_string_opt::<i64>() {
            Some(Strings::Large(a))
        } else {
            array.as_string_view_opt().map(Strings::View)
        }
    }

    fn len(&self) -> usize {
        match self {
            Strings::Utf8(a) => a.len(),
            Strings::Large(a) => a.len(),
            Strings::View(a) => a.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strings::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Strings::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Strings::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

impl<'a> Text<'a> {
    fn new(array: &'a dyn Array) -> Option<Self> {
        if let Some(dict) = array.as_dictionary_opt::<Int32Type>() {
            let values = Strings::new(dict.values().as_ref())?;
            return Some(Text {
                values,
                keys: Some(Keys::I32(dict.keys())),
            });
        }
        if let Some(dict) = array.as_any_dictionary_opt() {
            let values = Strings::new(dict.values().as_ref())?;
            let keys = if dict.values().is_empty() {
                vec![0; dict.len()]
            } else {
                dict.normalized_keys()
            };
            return Some(Text {
                values,
                keys: Some(Keys::Other {
                    keys,
                    array: dict.keys(),
                }),
            });
        }
        Strings::new(array).map(|values| Text { values, keys: None })
    }

    /// The index into `values` of row `i`, `None` where the row is null.
    #[inline]
    fn index(&self, i: usize) -> Option<usize> {
        match &self.keys {
            None => Some(i),
            Some(Keys::I32(keys)) => keys.is_valid(i).then(|| keys.value(i) as usize),
            Some(Keys::Other { keys, array }) => array.is_valid(i).then(|| keys[i]),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&'a str> {
        self.index(i).and_then(|v| self.values.get(v))
    }
}

/// What the reader keeps between batches, and its reusable per-batch buffers.
struct State {
    agg: Agg,
    sources: Vec<Source>,
    tags: TagCache,
    last: Vec<LastValue>,
    days: Vec<i64>,
    costs: Vec<f64>,
    ids: Vec<Vec<u32>>,
    tag_ids: Vec<Vec<u32>>,
    groups: Vec<u32>,
    /// (first part-local row, first file row) of each row group read, for error messages.
    starts: Vec<(u64, u64)>,
    /// The end and currency columns are settled by the footer (see [`Settled`]).
    settled_end: bool,
    settled_currency: bool,
}

impl State {
    fn new(opts: &ReadOptions, layout: &Layout, starts: Vec<(u64, u64)>) -> Self {
        let (agg, sources, tags) = Agg::for_layout(opts, layout);
        State {
            starts,
            settled_end: false,
            settled_currency: false,
            agg,
            last: sources.iter().map(|_| LastValue::default()).collect(),
            ids: sources.iter().map(|_| Vec::new()).collect(),
            tag_ids: (0..tags.len()).map(|_| Vec::new()).collect(),
            sources,
            tags,
            days: Vec::new(),
            costs: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// The file row (0-based) of part-local row `local`.
    fn file_row(&self, local: u64) -> u64 {
        let at = self.starts.partition_point(|&(first, _)| first <= local);
        match at.checked_sub(1).and_then(|i| self.starts.get(i)) {
            Some(&(first, file_first)) => file_first + (local - first),
            None => local,
        }
    }

    /// Adds one decoded batch. `projected` lists the file's column indices in batch order.
    fn batch(
        &mut self,
        batch: &RecordBatch,
        projected: &[usize],
        layout: &Layout,
        file: &str,
    ) -> Result<(), ReadError> {
        let n = batch.num_rows();
        let base = self.file_row(self.agg.rows);
        let column = |i: usize| -> &ArrayRef {
            // Every column of the layout is in the projection, so the search always succeeds.
            let at = projected.binary_search(&i).unwrap_or(0);
            batch.column(at)
        };
        let ctx = Ctx { file, base, layout };

        days(column(layout.start), &mut self.days, &ctx, layout.start)?;
        if !self.settled_end {
            if let Some(end) = latest(column(layout.end), &ctx, layout.end)? {
                self.agg.end(end);
            }
        }
        // The common case, doubles without nulls, is summed straight from the decoded array.
        let cost_column = column(layout.cost);
        let direct = match cost_column.as_primitive_opt::<Float64Type>() {
            Some(array) if array.null_count() == 0 => {
                let values: &[f64] = array.values();
                if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                    return Err(ctx.at(
                        i,
                        layout.cost,
                        format!("not a finite number: {}", values[i]),
                    ));
                }
                Some(values)
            }
            _ => {
                costs(cost_column, &mut self.costs, &ctx, layout.cost)?;
                None
            }
        };
        if !self.settled_currency {
            currency(
                column(layout.currency),
                &mut self.agg,
                &ctx,
                layout.currency,
            )?;
        }
        if let Some(tags) = layout.tags {
            tag_ids(
                column(tags),
                &mut self.tags,
                &mut self.agg.strings,
                &mut self.tag_ids,
                &ctx,
                tags,
            )?;
        }
        let mut fallback = Vec::new();
        for (d, source) in self.sources.iter().enumerate() {
            let (ids, last) = (&mut self.ids[d], &mut self.last[d]);
            match *source {
                Source::Const(id) => {
                    ids.clear();
                    ids.resize(n, id);
                }
                Source::Tag(slot) => {
                    ids.clear();
                    ids.extend_from_slice(&self.tag_ids[slot]);
                }
                Source::Column(i) => {
                    text_ids(column(i), ids, last, &mut self.agg.strings, &ctx, i)?
                }
                Source::Fallback(a, b) => {
                    text_ids(column(a), ids, last, &mut self.agg.strings, &ctx, a)?;
                    if ids.contains(&0) {
                        let mut other = LastValue::default();
                        text_ids(
                            column(b),
                            &mut fallback,
                            &mut other,
                            &mut self.agg.strings,
                            &ctx,
                            b,
                        )?;
                        for (id, alt) in ids.iter_mut().zip(&fallback) {
                            if *id == 0 {
                                *id = *alt;
                            }
                        }
                    }
                }
            }
        }

        // Groups, one dimension at a time over the whole batch; then the cells.
        self.groups.clear();
        self.groups.resize(n, 0);
        for ids in &self.ids {
            let mut last: Option<(u32, u32, u32)> = None;
            for (group, &id) in self.groups.iter_mut().zip(ids) {
                *group = match last {
                    Some((parent, value, child)) if parent == *group && value == id => child,
                    _ => {
                        let child = self.agg.groups.child(*group, id);
                        last = Some((*group, id, child));
                        child
                    }
                };
            }
        }
        self.agg
            .cells
            .add_all(&self.days, &self.groups, direct.unwrap_or(&self.costs));
        self.agg.rows += n as u64;
        Ok(())
    }
}

/// What an error in a batch needs to say where it is.
struct Ctx<'a> {
    file: &'a str,
    base: u64,
    layout: &'a Layout,
}

impl Ctx<'_> {
    /// An error at batch row `i` (0-based) of file column `column`.
    fn at(&self, i: usize, column: usize, message: impl Into<String>) -> ReadError {
        ReadError::value(
            self.file,
            self.base + i as u64 + 1,
            self.layout.name(column),
            message,
        )
    }

    /// An error about the type of file column `column`.
    fn typed(&self, column: usize, data_type: &DataType, expected: &str) -> ReadError {
        ReadError::column(
            self.file,
            self.layout.name(column),
            format!("has type {data_type}, expected {expected}"),
        )
    }
}

/// Ticks per second of a timestamp unit.
fn per_second(unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// A time column: integer ticks, days, or text to parse.
///
/// Timestamps with a time zone store UTC instants; timestamps without one are taken as UTC,
/// which is what cost exports write.
enum Times<'a> {
    Ticks {
        values: &'a [i64],
        array: &'a dyn Array,
        per_second: i64,
    },
    Days {
        values: &'a [i32],
        array: &'a dyn Array,
    },
    Text(Text<'a>),
}

impl<'a> Times<'a> {
    fn new(array: &'a dyn Array) -> Option<Self> {
        let ticks = |values: Option<&'a [i64]>, per_second: i64| {
            values.map(|values| Times::Ticks {
                values,
                array,
                per_second,
            })
        };
        match array.data_type() {
            DataType::Timestamp(unit, _) => {
                let values: Option<&[i64]> = match unit {
                    TimeUnit::Second => array
                        .as_primitive_opt::<TimestampSecondType>()
                        .map(|a| &**a.values()),
                    TimeUnit::Millisecond => array
                        .as_primitive_opt::<TimestampMillisecondType>()
                        .map(|a| &**a.values()),
                    TimeUnit::Microsecond => array
                        .as_primitive_opt::<TimestampMicrosecondType>()
                        .map(|a| &**a.values()),
                    TimeUnit::Nanosecond => array
                        .as_primitive_opt::<TimestampNanosecondType>()
                        .map(|a| &**a.values()),
                };
                ticks(values, per_second(unit))
            }
            DataType::Date64 => ticks(
                array
                    .as_primitive_opt::<Date64Type>()
                    .map(|a| &**a.values()),
                1_000,
            ),
            DataType::Date32 => array.as_primitive_opt::<Date32Type>().map(|a| Times::Days {
                values: a.values(),
                array,
            }),
            _ => Text::new(array).map(Times::Text),
        }
    }
}

/// The day (days since 1970-01-01, UTC) of every row of a start column. A null start is an
/// error: the row cannot be placed on a day.
fn days(col: &ArrayRef, out: &mut Vec<i64>, ctx: &Ctx, column: usize) -> Result<(), ReadError> {
    out.clear();
    let n = col.len();
    let times = Times::new(col.as_ref())
        .ok_or_else(|| ctx.typed(column, col.data_type(), "a timestamp"))?;
    let first_null = |array: &dyn Array| {
        if array.null_count() == 0 {
            None
        } else {
            (0..n).find(|&i| array.is_null(i))
        }
    };
    match times {
        Times::Ticks {
            values,
            array,
            per_second,
        } => {
            if let Some(i) = first_null(array) {
                return Err(ctx.at(i, column, "missing value"));
            }
            // A division by a constant compiles to a multiplication: one per row, no branch
            // (rows need not come sorted by time).
            match per_second {
                1 => day_numbers::<DAY_SECS>(values, out),
                1_000 => day_numbers::<{ DAY_SECS * 1_000 }>(values, out),
                1_000_000 => day_numbers::<{ DAY_SECS * 1_000_000 }>(values, out),
                _ => day_numbers::<{ DAY_SECS * 1_000_000_000 }>(values, out),
            }
        }
        Times::Days { values, array } => {
            if let Some(i) = first_null(array) {
                return Err(ctx.at(i, column, "missing value"));
            }
            out.extend(values.iter().map(|&v| i64::from(v)));
        }
        Times::Text(text) => {
            let mut last: Option<(usize, i64)> = None;
            for i in 0..n {
                let index = text.index(i);
                if let (Some(v), Some((lv, day))) = (index, last) {
                    if v == lv && text.keys.is_some() {
                        out.push(day);
                        continue;
                    }
                }
                let value = text.get(i).unwrap_or("");
                if is_null(value.as_bytes()) {
                    return Err(ctx.at(i, column, "missing value"));
                }
                let (secs, _) = parse_instant(value.as_bytes()).ok_or_else(|| {
                    ctx.at(
                        i,
                        column,
                        format!("not a timestamp: {}", show(value.as_bytes())),
                    )
                })?;
                let day = secs.div_euclid(DAY_SECS);
                out.push(day);
                last = index.map(|v| (v, day));
            }
        }
    }
    if let Some(i) = out.iter().position(|day| !DAY_RANGE.contains(day)) {
        return Err(ctx.at(i, column, "timestamp out of range (years 0 to 9999)"));
    }
    Ok(())
}

/// Days since 1970-01-01 of timestamps with `PER_DAY` ticks a day.
fn day_numbers<const PER_DAY: i64>(values: &[i64], out: &mut Vec<i64>) {
    out.extend(values.iter().map(|&v| v.div_euclid(PER_DAY)));
}

/// The latest instant of an end column in this batch (nulls are skipped).
fn latest(col: &ArrayRef, ctx: &Ctx, column: usize) -> Result<Option<Instant>, ReadError> {
    let n = col.len();
    let times = Times::new(col.as_ref())
        .ok_or_else(|| ctx.typed(column, col.data_type(), "a timestamp"))?;
    let instant = |v: i64, per_second: i64| {
        (
            v.div_euclid(per_second),
            (v.rem_euclid(per_second) * (1_000_000_000 / per_second)) as u32,
        )
    };
    Ok(match times {
        Times::Ticks {
            values,
            array,
            per_second,
        } => {
            let max = if array.null_count() == 0 {
                values.iter().copied().max()
            } else {
                (0..n)
                    .filter(|&i| array.is_valid(i))
                    .map(|i| values[i])
                    .max()
            };
            max.map(|v| instant(v, per_second))
        }
        Times::Days { values, array } => (0..n)
            .filter(|&i| array.is_valid(i))
            .map(|i| values[i])
            .max()
            .map(|d| (i64::from(d) * DAY_SECS, 0)),
        Times::Text(text) => {
            let mut max: Option<Instant> = None;
            let mut last: Option<usize> = None;
            for i in 0..n {
                let index = text.index(i);
                if index.is_some() && index == last && text.keys.is_some() {
                    continue;
                }
                last = index;
                let value = text.get(i).unwrap_or("");
                if is_null(value.as_bytes()) {
                    continue;
                }
                let at = parse_instant(value.as_bytes()).ok_or_else(|| {
                    ctx.at(
                        i,
                        column,
                        format!("not a timestamp: {}", show(value.as_bytes())),
                    )
                })?;
                max = max.max(Some(at));
            }
            max
        }
    })
}

/// The cost of every row of a cost column; a null cost counts as zero, a value that is not a
/// finite number is an error.
fn costs(col: &ArrayRef, out: &mut Vec<f64>, ctx: &Ctx, column: usize) -> Result<(), ReadError> {
    out.clear();
    let n = col.len();
    let array = col.as_ref();
    match array.data_type() {
        DataType::Float64 => out.extend_from_slice(array.as_primitive::<Float64Type>().values()),
        DataType::Float32 => out.extend(
            array
                .as_primitive::<Float32Type>()
                .values()
                .iter()
                .map(|&v| f64::from(v)),
        ),
        DataType::Int64 => out.extend(
            array
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|&v| v as f64),
        ),
        DataType::Int32 => out.extend(
            array
                .as_primitive::<Int32Type>()
                .values()
                .iter()
                .map(|&v| f64::from(v)),
        ),
        DataType::Decimal128(_, scale) => {
            let unit = 10f64.powi(i32::from(*scale));
            out.extend(
                array
                    .as_primitive::<arrow_array::types::Decimal128Type>()
                    .values()
                    .iter()
                    .map(|&v| v as f64 / unit),
            );
        }
        other => {
            let text = Text::new(array).ok_or_else(|| ctx.typed(column, other, "a number"))?;
            for i in 0..n {
                let value = text.get(i).unwrap_or("").as_bytes();
                out.push(if is_null(value) {
                    0.0
                } else {
                    parse_number(value).ok_or_else(|| {
                        ctx.at(i, column, format!("not a number: {}", show(value)))
                    })?
                });
            }
            return Ok(());
        }
    }
    if array.null_count() > 0 {
        for (i, cost) in out.iter_mut().enumerate() {
            if array.is_null(i) {
                *cost = 0.0;
            }
        }
    }
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        return Err(ctx.at(i, column, format!("not a finite number: {}", out[i])));
    }
    Ok(())
}

/// Checks the currency of every row (one check per run of equal dictionary keys).
fn currency(col: &ArrayRef, agg: &mut Agg, ctx: &Ctx, column: usize) -> Result<(), ReadError> {
    let text = Text::new(col.as_ref()).ok_or_else(|| ctx.typed(column, col.data_type(), "text"))?;
    if let Some(Keys::I32(keys)) = &text.keys {
        if keys.null_count() == 0 {
            // The common case: check the value of each run of equal keys.
            let mut last = None;
            for (i, &key) in keys.values().iter().enumerate() {
                if last != Some(key) {
                    last = Some(key);
                    if let Some(value) = text.values.get(key as usize) {
                        agg.currency(value.as_bytes())
                            .map_err(|m| ctx.at(i, column, m))?;
                    }
                }
            }
            return Ok(());
        }
    }
    let mut last = None;
    for i in 0..col.len() {
        let index = text.index(i);
        if text.keys.is_some() && index.is_some() && index == last {
            continue;
        }
        last = index;
        if let Some(value) = text.get(i) {
            agg.currency(value.as_bytes())
                .map_err(|m| ctx.at(i, column, m))?;
        }
    }
    Ok(())
}

/// The interned value of every row of a dimension text column.
fn text_ids(
    col: &ArrayRef,
    out: &mut Vec<u32>,
    last: &mut LastValue,
    strings: &mut Interner,
    ctx: &Ctx,
    column: usize,
) -> Result<(), ReadError> {
    let text = Text::new(col.as_ref()).ok_or_else(|| ctx.typed(column, col.data_type(), "text"))?;
    out.clear();
    let n = col.len();
    match &text.keys {
        Some(keys) => {
            // Intern the dictionary once, then map keys.
            let value_ids: Vec<u32> = (0..text.values.len())
                .map(|v| text.values.get(v).map_or(0, |s| strings.intern_str(s)))
                .collect();
            let id = |v: usize| value_ids.get(v).copied().unwrap_or(0);
            match keys {
                Keys::I32(keys) if keys.null_count() == 0 => {
                    out.extend(keys.values().iter().map(|&k| id(k as usize)));
                }
                _ => out.extend((0..n).map(|i| text.index(i).map_or(0, id))),
            }
        }
        None => {
            for i in 0..n {
                out.push(match text.values.get(i) {
                    Some(value) => last
                        .id(value.as_bytes(), strings)
                        .map_err(|m| ctx.at(i, column, m))?,
                    None => 0,
                });
            }
        }
    }
    Ok(())
}

/// The interned value of every `tag:` dimension for every row, from a MAP<string,string> tags
/// column (CUR 2.0 Parquet) or a JSON text one.
fn tag_ids(
    col: &ArrayRef,
    cache: &mut TagCache,
    strings: &mut Interner,
    out: &mut [Vec<u32>],
    ctx: &Ctx,
    column: usize,
) -> Result<(), ReadError> {
    let n = col.len();
    for ids in out.iter_mut() {
        ids.clear();
    }
    if let Some(map) = col.as_map_opt() {
        return map_tag_ids(map, cache, strings, out, ctx, column);
    }
    let text = Text::new(col.as_ref())
        .ok_or_else(|| ctx.typed(column, col.data_type(), "a map of text or JSON text"))?;
    for i in 0..n {
        let value = text.get(i).unwrap_or("");
        let ids = cache
            .ids(value.as_bytes(), strings)
            .map_err(|m| ctx.at(i, column, m))?;
        for (dim, &id) in out.iter_mut().zip(ids) {
            dim.push(id);
        }
    }
    Ok(())
}

fn map_tag_ids(
    map: &MapArray,
    cache: &TagCache,
    strings: &mut Interner,
    out: &mut [Vec<u32>],
    ctx: &Ctx,
    column: usize,
) -> Result<(), ReadError> {
    let keys = Text::new(map.keys().as_ref())
        .ok_or_else(|| ctx.typed(column, map.data_type(), "a map of text"))?;
    let values = Text::new(map.values().as_ref())
        .ok_or_else(|| ctx.typed(column, map.data_type(), "a map of text"))?;
    let offsets = map.value_offsets();
    // Per tag dimension: (rank of the best key seen, its entry).
    let mut best: Vec<(usize, Option<usize>)> = vec![(usize::MAX, None); cache.len()];
    for i in 0..map.len() {
        best.fill((usize::MAX, None));
        if map.is_valid(i) {
            for entry in offsets[i] as usize..offsets[i + 1] as usize {
                let Some(key) = keys.get(entry) else { continue };
                for (dim, slot) in best.iter_mut().enumerate() {
                    if let Some(rank) = cache.rank(dim, key.as_bytes()) {
                        if rank < slot.0 {
                            *slot = (rank, Some(entry));
                        }
                    }
                }
            }
        }
        for (dim, slot) in out.iter_mut().zip(&best) {
            dim.push(
                slot.1
                    .and_then(|e| values.get(e))
                    .map_or(0, |v| strings.intern_str(v)),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{MapBuilder, StringBuilder};
    use arrow_array::types::Int8Type;
    use arrow_array::{
        ArrayRef, BooleanArray, Decimal128Array, DictionaryArray, Float64Array, LargeStringArray,
        RecordBatch, StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    };
    use bytes::Bytes;
    use chrono::NaiveDate;
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, GzipLevel, ZstdLevel};
    use parquet::file::properties::WriterProperties;

    use crate::{read_file, read_parquet, CostCube, Format, Metric, ReadError, ReadOptions};

    fn parquet_with(columns: Vec<(&str, ArrayRef)>, compression: Compression) -> Bytes {
        let batch = RecordBatch::try_from_iter(columns).expect("batch");
        let mut out = Vec::new();
        let props = WriterProperties::builder()
            .set_compression(compression)
            .build();
        let mut writer =
            ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        out.into()
    }

    fn parquet(columns: Vec<(&str, ArrayRef)>) -> Bytes {
        parquet_with(columns, Compression::SNAPPY)
    }

    fn opts(format: Format, metric: Metric, dims: &[&str]) -> ReadOptions {
        ReadOptions {
            format,
            metric,
            dimensions: dims.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 9, d).expect("date")
    }

    fn cell(cube: &CostCube, d: u32, key: &[&str]) -> f64 {
        cube.cells[&(
            day(d),
            key.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        )]
    }

    const H22: i64 = 1_726_696_800_000; // 2024-09-18T22:00:00Z in milliseconds

    fn millis(values: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(TimestampMillisecondArray::from(values))
    }

    fn text(values: Vec<Option<&str>>) -> ArrayRef {
        Arc::new(StringArray::from(values))
    }

    fn tags(rows: &[&[(&str, &str)]]) -> ArrayRef {
        let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        for row in rows {
            for (k, v) in *row {
                b.keys().append_value(k);
                b.values().append_value(v);
            }
            b.append(!row.is_empty()).expect("map row");
        }
        Arc::new(b.finish())
    }

    /// A three-row CUR file; `cost` replaces the unblended cost column.
    fn cur(cost: ArrayRef) -> Vec<(&'static str, ArrayRef)> {
        vec![
            (
                "line_item_usage_start_date",
                millis(vec![
                    Some(H22),
                    Some(H22 + 3_600_000),
                    Some(H22 + 7_200_000),
                ]),
            ),
            (
                "line_item_usage_end_date",
                millis(vec![Some(H22 + 3_600_000), None, Some(H22 + 10_800_000)]),
            ),
            (
                "line_item_currency_code",
                text(vec![Some("USD"), Some("USD"), None]),
            ),
            ("line_item_unblended_cost", cost),
            (
                "bill_payer_account_id",
                text(vec![Some("111"), Some("111"), Some("111")]),
            ),
            (
                "product_servicecode",
                text(vec![Some("AmazonEC2"), None, Some("")]),
            ),
            (
                "line_item_product_code",
                text(vec![
                    Some("AmazonEC2"),
                    Some("AWSSupport"),
                    Some("AmazonS3"),
                ]),
            ),
            (
                "product_region_code",
                text(vec![Some("us-east-1"), Some("NULL"), Some("eu-west-1")]),
            ),
            (
                "resource_tags",
                tags(&[
                    &[("user_team", "web"), ("env", "prod")],
                    &[],
                    &[("team", "data")],
                ]),
            ),
        ]
    }

    fn costs(values: Vec<Option<f64>>) -> ArrayRef {
        Arc::new(Float64Array::from(values))
    }

    #[test]
    fn cur_parquet_with_map_tags_fallback_and_nulls() {
        let data = parquet(cur(costs(vec![Some(1.5), None, Some(2.25)])));
        let o = opts(
            Format::Cur2,
            Metric::UnblendedCost,
            &["provider", "service", "region", "tag:team"],
        );
        let cube = read_parquet(data, &o, "cur.parquet").expect("reads");
        assert_eq!(cube.rows, 3);
        assert_eq!(
            cell(&cube, 18, &["AWS", "AmazonEC2", "us-east-1", "web"]),
            1.5
        );
        assert_eq!(cell(&cube, 18, &["AWS", "AWSSupport", "", ""]), 0.0);
        assert_eq!(
            cell(&cube, 19, &["AWS", "AmazonS3", "eu-west-1", "data"]),
            2.25
        );
        assert_eq!(cube.currency.as_deref(), Some("USD"));
        assert_eq!(cube.latest_charge, day(19).and_hms_opt(1, 0, 0));
    }

    #[test]
    fn focus_parquet_with_zone_decimal_json_tags_and_other_string_layouts() {
        let micros = |v: i64| v * 1000;
        let provider: DictionaryArray<Int8Type> =
            vec!["AWS", "Microsoft", "AWS"].into_iter().collect();
        let data = parquet(vec![
            (
                "ChargePeriodStart",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        micros(H22),
                        micros(H22),
                        micros(H22 + 7_200_000),
                    ])
                    .with_timezone("UTC"),
                ) as ArrayRef,
            ),
            (
                "ChargePeriodEnd",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![micros(H22 + 3_600_000); 3])
                        .with_timezone("+00:00"),
                ) as ArrayRef,
            ),
            ("BillingCurrency", text(vec![Some("USD"); 3])),
            (
                "BilledCost",
                Arc::new(
                    Decimal128Array::from(vec![Some(1_250_000), Some(10), None])
                        .with_precision_and_scale(20, 6)
                        .expect("decimal"),
                ) as ArrayRef,
            ),
            ("ProviderName", Arc::new(provider) as ArrayRef),
            (
                "ServiceName",
                Arc::new(LargeStringArray::from(vec!["EC2", "VM", "EC2"])) as ArrayRef,
            ),
            (
                "Tags",
                text(vec![Some(r#"{"team":"web"}"#), Some("NULL"), None]),
            ),
        ]);
        let o = opts(
            Format::Focus,
            Metric::BilledCost,
            &["provider", "service", "tag:team"],
        );
        let cube = read_parquet(data, &o, "focus.parquet").expect("reads");
        assert_eq!(cell(&cube, 18, &["AWS", "EC2", "web"]), 1.25);
        assert_eq!(cell(&cube, 18, &["Microsoft", "VM", ""]), 0.00001);
        assert_eq!(cell(&cube, 19, &["AWS", "EC2", ""]), 0.0);
    }

    #[test]
    fn text_timestamps_and_costs_in_parquet() {
        let data = parquet(vec![
            (
                "ChargePeriodStart",
                text(vec![
                    Some("2024-09-18 22:00:00"),
                    Some("2024-09-18T23:00:00Z"),
                ]),
            ),
            (
                "ChargePeriodEnd",
                text(vec![Some("NULL"), Some("2024-09-19T00:00:00Z")]),
            ),
            ("BillingCurrency", text(vec![Some("USD"), Some("USD")])),
            ("EffectiveCost", text(vec![Some("0.5"), Some("NULL")])),
        ]);
        let o = opts(Format::Focus, Metric::EffectiveCost, &[]);
        let cube = read_parquet(data, &o, "f.parquet").expect("reads");
        assert_eq!(cube.total(), 0.5);
        assert_eq!(cube.latest_charge, day(19).and_hms_opt(0, 0, 0));
    }

    fn cur_err(cost: ArrayRef) -> ReadError {
        let o = opts(Format::Cur2, Metric::UnblendedCost, &["service"]);
        read_parquet(parquet(cur(cost)), &o, "cur.parquet").expect_err("must fail")
    }

    #[test]
    fn malformed_values_name_row_and_column() {
        let got = cur_err(costs(vec![Some(1.0), Some(f64::NAN), Some(1.0)]));
        assert_eq!(
            got.to_string(),
            "cur.parquet: row 2: column line_item_unblended_cost: not a finite number: NaN"
        );
        let got = cur_err(text(vec![Some("1"), Some("2"), Some("x")]));
        assert_eq!(
            got.to_string(),
            "cur.parquet: row 3: column line_item_unblended_cost: not a number: \"x\""
        );
        let got = cur_err(Arc::new(BooleanArray::from(vec![true, false, true])));
        assert_eq!(
            got.to_string(),
            "cur.parquet: column line_item_unblended_cost: has type Boolean, expected a number"
        );

        let mut columns = cur(costs(vec![Some(1.0); 3]));
        columns[2].1 = text(vec![Some("USD"), Some("EUR"), Some("USD")]);
        let o = opts(Format::Cur2, Metric::UnblendedCost, &[]);
        let got = read_parquet(parquet(columns), &o, "c.parquet").expect_err("mixed");
        assert!(
            got.to_string()
                .starts_with("c.parquet: row 2: column line_item_currency_code: currency \"EUR\""),
            "{got}"
        );

        let mut columns = cur(costs(vec![Some(1.0); 3]));
        columns.remove(0);
        let got = read_parquet(parquet(columns), &o, "c.parquet").expect_err("missing");
        assert!(
            got.to_string()
                .starts_with("c.parquet: column line_item_usage_start_date: missing column"),
            "{got}"
        );

        let got = read_parquet(Bytes::from_static(b"PAR1 but not really"), &o, "c.parquet")
            .expect_err("junk");
        assert!(
            got.to_string()
                .starts_with("c.parquet: not a readable Parquet file"),
            "{got}"
        );
    }

    #[test]
    fn row_numbers_count_across_batches() {
        let n = 70_000usize;
        let bad = 69_999; // 0-based; row 70,000 of the file, in the second batch
        let starts: Vec<Option<i64>> = (0..n).map(|i| (i != bad).then_some(H22)).collect();
        let data = parquet(vec![
            ("ChargePeriodStart", millis(starts)),
            ("ChargePeriodEnd", millis(vec![Some(H22); n])),
            ("BillingCurrency", text(vec![Some("USD"); n])),
            ("BilledCost", costs(vec![Some(0.01); n])),
        ]);
        let o = opts(Format::Focus, Metric::BilledCost, &[]);
        let got = read_parquet(data, &o, "f.parquet").expect_err("null start");
        assert_eq!(
            got.to_string(),
            "f.parquet: row 70000: column ChargePeriodStart: missing value"
        );
    }

    #[test]
    fn dimension_text_is_read_as_dictionaries() {
        let data = parquet(cur(costs(vec![Some(1.0); 3])));
        let meta = super::ArrowReaderMetadata::load(&data, super::ArrowReaderOptions::new())
            .expect("metadata");
        let names: Vec<String> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let o = opts(Format::Cur2, Metric::UnblendedCost, &["service", "region"]);
        let layout = super::Layout::resolve(&o, &names, "f").expect("layout");
        let hinted = super::with_dictionary_hints(meta, &layout);
        let field = |name: &str| {
            hinted
                .schema()
                .field_with_name(name)
                .expect("field")
                .data_type()
                .clone()
        };
        assert!(matches!(
            field("product_region_code"),
            super::DataType::Dictionary(_, _)
        ));
        assert!(matches!(
            field("line_item_currency_code"),
            super::DataType::Dictionary(_, _)
        ));
        assert_eq!(
            field("bill_payer_account_id"),
            super::DataType::Utf8,
            "not a dimension here"
        );
    }

    #[test]
    fn every_codec_and_name_reads() {
        let o = opts(Format::Cur2, Metric::UnblendedCost, &["service"]);
        let want = read_parquet(parquet(cur(costs(vec![Some(1.0); 3]))), &o, "x").expect("snappy");
        for (name, codec) in [
            ("x.gz.parquet", Compression::GZIP(GzipLevel::default())),
            ("x.zstd.parquet", Compression::ZSTD(ZstdLevel::default())),
            ("x.snappy.parquet", Compression::SNAPPY),
            ("x.parquet", Compression::UNCOMPRESSED),
            ("no-extension", Compression::SNAPPY),
        ] {
            let data = parquet_with(cur(costs(vec![Some(1.0); 3])), codec);
            assert_eq!(read_file(name, data, &o).expect(name), want, "{name}");
        }
    }

    #[test]
    fn the_feed_asks_for_one_row_group_at_a_time_and_errors_name_the_file() {
        let batch = RecordBatch::try_from_iter(cur(costs(vec![Some(1.0), Some(2.0), Some(4.0)])))
            .expect("batch");
        let mut out = Vec::new();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(1))
            .build();
        let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).expect("w");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        let data = Bytes::from(out);
        let o = opts(Format::Cur2, Metric::UnblendedCost, &["service"]);

        let mut feed =
            super::ParquetFeed::new("s3://b/k.parquet", data.len() as u64, &o).expect("feed");
        let mut fetches = Vec::new();
        let cube = loop {
            match feed.step().expect("step") {
                super::FeedStep::Done(cube) => break cube,
                super::FeedStep::Fetch(ranges) => {
                    let chunks = ranges
                        .iter()
                        .map(|r| data.slice(r.start as usize..r.end as usize))
                        .collect();
                    fetches.push(ranges.clone());
                    feed.push(ranges, chunks).expect("push");
                }
            }
        };
        assert_eq!(cube.total(), 7.0);
        // The footer, then each of the three row groups on its own.
        assert_eq!(fetches.len(), 4, "{fetches:?}");
        assert_eq!(
            fetches[0],
            vec![0..data.len() as u64],
            "a small file's tail is all of it"
        );

        // Not Parquet: the error names the file; the feed stays failed.
        let junk = Bytes::from_static(b"this is not a parquet file at all");
        let mut feed =
            super::ParquetFeed::new("s3://b/junk.parquet", junk.len() as u64, &o).expect("feed");
        let super::FeedStep::Fetch(ranges) = feed.step().expect("first step") else {
            panic!("expected a fetch");
        };
        let chunks = ranges
            .iter()
            .map(|r| junk.slice(r.start as usize..r.end as usize))
            .collect();
        feed.push(ranges, chunks).expect("push");
        let error = feed.step().expect_err("not parquet");
        assert_eq!(error.file, "s3://b/junk.parquet");
        assert!(
            error.message.contains("not a readable Parquet file"),
            "{error}"
        );
        assert!(feed.step().is_err(), "a failed feed does not restart");
    }

    /// A FOCUS file of `n` rows in row groups of `per_group` rows: row `i` on day `i % 5`,
    /// service `i % 3`, cost `i` (exact in floating point), ending an hour after it starts;
    /// currency from `currency(i)`. Statistics as `stats` says.
    fn grouped(
        n: usize,
        per_group: usize,
        currency: impl Fn(usize) -> &'static str,
        cost: impl Fn(usize) -> f64,
        stats: parquet::file::properties::EnabledStatistics,
    ) -> Bytes {
        const DAY: i64 = 86_400_000;
        let start: Vec<Option<i64>> = (0..n).map(|i| Some(H22 + (i % 5) as i64 * DAY)).collect();
        let end: Vec<Option<i64>> = start.iter().map(|s| s.map(|s| s + 3_600_000)).collect();
        let services = ["A", "B", "C"];
        let batch = RecordBatch::try_from_iter(vec![
            ("ChargePeriodStart", millis(start)),
            ("ChargePeriodEnd", millis(end)),
            (
                "BillingCurrency",
                text((0..n).map(|i| Some(currency(i))).collect()),
            ),
            ("BilledCost", costs((0..n).map(|i| Some(cost(i))).collect())),
            (
                "ServiceName",
                text((0..n).map(|i| Some(services[i % 3])).collect()),
            ),
        ])
        .expect("batch");
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(per_group))
            .set_statistics_enabled(stats)
            .build();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).expect("w");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        out.into()
    }

    #[test]
    fn parts_read_every_row_once_and_statistics_settle_what_they_can() {
        use parquet::file::properties::EnabledStatistics;
        let o = opts(Format::Focus, Metric::BilledCost, &["service"]);
        let usd = |_: usize| "USD";
        let with_stats = grouped(23, 4, usd, |i| i as f64, EnabledStatistics::Chunk);
        let without = grouped(23, 4, usd, |i| i as f64, EnabledStatistics::None);
        let want = read_file("f.parquet", without, &o).expect("no statistics: decoded");
        assert_eq!(want.total(), (0..23).sum::<usize>() as f64);
        assert!(want.latest_charge.is_some());
        for threads in [1, 2, 3, 8] {
            let got =
                crate::read_file_on("f.parquet", with_stats.clone(), &o, threads).expect("parts");
            assert_eq!(got, want, "{threads} threads");
        }

        // Each row group in one currency, two currencies in the file: an error, whichever
        // thread reads which row group.
        let two = grouped(
            8,
            4,
            |i| if i < 4 { "USD" } else { "EUR" },
            |i| i as f64,
            EnabledStatistics::Chunk,
        );
        for threads in [1, 2] {
            let got = crate::read_file_on("f.parquet", two.clone(), &o, threads)
                .expect_err("two currencies");
            assert!(got.to_string().contains("differs from"), "{threads}: {got}");
        }

        // Row numbers in errors are the file's, whichever part finds the row.
        let bad = grouped(
            23,
            4,
            usd,
            |i| if i == 21 { f64::NAN } else { 1.0 },
            EnabledStatistics::Chunk,
        );
        for threads in [1, 2, 3] {
            let got = crate::read_file_on("f.parquet", bad.clone(), &o, threads).expect_err("NaN");
            assert_eq!(
                got.to_string(),
                "f.parquet: row 22: column BilledCost: not a finite number: NaN",
                "{threads} threads"
            );
        }
    }
}
