//! The aggregation both readers feed: interned dimension values, interned combinations of them,
//! and one running sum per (day, combination).
//!
//! Nothing here allocates per row once the distinct values have been seen: dimension values are
//! interned to small integer ids, a combination of ids is interned to one group id, and a cell is
//! a slot in the day's array of sums, indexed by group id. The domain's
//! [`CostCube`] (a `BTreeMap` keyed by owned strings) is built once, at the end.

use chrono::{DateTime, NaiveDate};
use ops_domain::cost::CostCube;

use crate::fasthash::FxHashMap;
use crate::layout::{DimSource, Layout};
use crate::text::{is_null, show, Instant};
use crate::{ReadError, ReadOptions};

/// Dimension values, interned. Id 0 is the absent value (empty, null or the literal `NULL`).
#[derive(Debug)]
pub(crate) struct Interner {
    ids: FxHashMap<Box<[u8]>, u32>,
    values: Vec<String>,
}

impl Interner {
    fn new() -> Self {
        Interner {
            ids: FxHashMap::default(),
            values: vec![String::new()],
        }
    }

    /// The id of `value`; `Err` with a message when it is not UTF-8 text.
    #[inline]
    pub(crate) fn intern(&mut self, value: &[u8]) -> Result<u32, String> {
        if is_null(value) {
            return Ok(0);
        }
        if let Some(&id) = self.ids.get(value) {
            return Ok(id);
        }
        let text = std::str::from_utf8(value)
            .map_err(|_| format!("not valid UTF-8 text: {}", show(value)))?;
        Ok(self.insert(text))
    }

    /// The id of a value already known to be text (Arrow strings are always UTF-8).
    #[inline]
    pub(crate) fn intern_str(&mut self, value: &str) -> u32 {
        if is_null(value.as_bytes()) {
            return 0;
        }
        match self.ids.get(value.as_bytes()) {
            Some(&id) => id,
            None => self.insert(value),
        }
    }

    fn insert(&mut self, value: &str) -> u32 {
        let id = self.values.len() as u32;
        self.values.push(value.to_string());
        self.ids.insert(value.as_bytes().into(), id);
        id
    }

    fn get(&self, id: u32) -> &str {
        self.values
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// The last value seen in one column and its id: rows of an export come in runs (same account,
/// same service), so most rows are resolved by one short comparison instead of a hash lookup.
#[derive(Debug, Default)]
pub(crate) struct LastValue {
    bytes: Vec<u8>,
    id: u32,
    valid: bool,
}

impl LastValue {
    /// The id of `value`, from the cache or the interner.
    #[inline]
    pub(crate) fn id(&mut self, value: &[u8], strings: &mut Interner) -> Result<u32, String> {
        if self.valid && self.bytes == value {
            return Ok(self.id);
        }
        let id = strings.intern(value)?;
        self.bytes.clear();
        self.bytes.extend_from_slice(value);
        self.id = id;
        self.valid = true;
        Ok(id)
    }
}

/// Combinations of dimension values, interned as a tree: group 0 is the empty combination, and
/// every other group is (parent group, value id). A row's group is found by walking one level
/// per dimension.
#[derive(Debug)]
pub(crate) struct Groups {
    /// Children of the root by value id (`u32::MAX`: none yet): the first dimension is looked
    /// up on every row, and value ids are small, so an array beats a hash here.
    root: Vec<u32>,
    ids: FxHashMap<u64, u32>,
    nodes: Vec<(u32, u32)>,
    last_path: Vec<u32>,
    last_leaf: Option<u32>,
}

impl Groups {
    fn new() -> Self {
        Groups {
            root: Vec::new(),
            ids: FxHashMap::default(),
            nodes: vec![(0, 0)],
            last_path: Vec::new(),
            last_leaf: None,
        }
    }

    /// The group of value `id` under group `parent`.
    #[inline]
    pub(crate) fn child(&mut self, parent: u32, id: u32) -> u32 {
        if parent == 0 {
            let slot = id as usize;
            if let Some(&child) = self.root.get(slot) {
                if child != u32::MAX {
                    return child;
                }
            } else {
                self.root.resize(slot + 1, u32::MAX);
            }
            self.nodes.push((0, id));
            let child = (self.nodes.len() - 1) as u32;
            self.root[slot] = child;
            return child;
        }
        let key = (u64::from(parent) << 32) | u64::from(id);
        let nodes = &mut self.nodes;
        *self.ids.entry(key).or_insert_with(|| {
            nodes.push((parent, id));
            (nodes.len() - 1) as u32
        })
    }

    /// The group of a whole row of value ids (one per dimension).
    #[inline]
    pub(crate) fn leaf(&mut self, path: &[u32]) -> u32 {
        if let Some(leaf) = self.last_leaf {
            if self.last_path == path {
                return leaf;
            }
        }
        let leaf = path.iter().fold(0, |group, &id| self.child(group, id));
        self.last_path.clear();
        self.last_path.extend_from_slice(path);
        self.last_leaf = Some(leaf);
        leaf
    }

    /// The value ids of every group, root first.
    fn paths(&self) -> Vec<Vec<u32>> {
        let mut paths: Vec<Vec<u32>> = Vec::with_capacity(self.nodes.len());
        paths.push(Vec::new());
        // A node is always created after its parent, so its parent's path is already there.
        for &(parent, id) in &self.nodes[1..] {
            let mut path = paths[parent as usize].clone();
            path.push(id);
            paths.push(path);
        }
        paths
    }
}

/// Groups past this id are summed in a hash map instead of per-day arrays, so a cube with
/// very many combinations cannot allocate days × groups of memory.
const DENSE_GROUPS: u32 = 1 << 16;

/// Running sums per (day, group).
///
/// One matrix of sums, a row per day and a column per group id: a row of the export costs an
/// index instead of a hash lookup. A day's row is found through a dense index of days (an
/// export spans weeks, not centuries), so rows in any order cost no hashing. A sum of negative
/// zero marks a group with no row that day: every cost is added as `cost + 0.0`, which is never
/// negative zero, and a sum of such values never is either (exact cancellation rounds to
/// positive zero), so the inner loop is one add, without a branch. Costs are checked to be
/// finite before they get here.
#[derive(Debug)]
pub(crate) struct Cells {
    /// The day of each matrix row.
    days: Vec<i64>,
    /// `days.len()` rows of `stride` sums.
    sums: Vec<f64>,
    stride: usize,
    /// `slots[d - base]` is the matrix row of day `d` (`u32::MAX`: not seen yet).
    slots: Vec<u32>,
    base: i64,
    /// Days outside the dense index's span.
    far_days: FxHashMap<i64, usize>,
    sparse: FxHashMap<(i64, u32), f64>,
}

/// The widest span of days the dense index covers (about 180 years); days beyond it are
/// found by hashing.
const DAY_SPAN: usize = 1 << 16;

/// No day slot.
const NO_SLOT: u32 = u32::MAX;

/// The sum of a cell without rows (see [`Cells`]).
const EMPTY: f64 = -0.0;

impl Cells {
    fn new() -> Self {
        Cells {
            days: Vec::new(),
            sums: Vec::new(),
            stride: 0,
            slots: Vec::new(),
            base: 0,
            far_days: FxHashMap::default(),
            sparse: FxHashMap::default(),
        }
    }

    /// Adds `cost` (finite) to the cell of `day` (days since 1970-01-01) and `group`.
    #[inline]
    pub(crate) fn add(&mut self, day: i64, group: u32, cost: f64) {
        if group >= DENSE_GROUPS {
            *self.sparse.entry((day, group)).or_insert(0.0) += cost;
            return;
        }
        self.widen(group as usize + 1);
        let at = self.slot(day) * self.stride + group as usize;
        self.sums[at] += cost + 0.0;
    }

    /// Makes every day's row at least `width` sums wide.
    #[inline]
    fn widen(&mut self, width: usize) {
        if width <= self.stride {
            return;
        }
        let stride = width.max(self.stride * 2).min(DENSE_GROUPS as usize);
        let mut sums = vec![EMPTY; self.days.len() * stride];
        if self.stride > 0 {
            for (old, new) in self
                .sums
                .chunks_exact(self.stride)
                .zip(sums.chunks_exact_mut(stride))
            {
                new[..old.len()].copy_from_slice(old);
            }
        }
        self.sums = sums;
        self.stride = stride;
    }

    /// The matrix row of `day`, added if new.
    #[inline]
    fn slot(&mut self, day: i64) -> usize {
        let at = day.wrapping_sub(self.base);
        if let Some(&slot) = usize::try_from(at).ok().and_then(|at| self.slots.get(at)) {
            if slot != NO_SLOT {
                return slot as usize;
            }
        }
        self.new_slot(day)
    }

    #[cold]
    fn new_slot(&mut self, day: i64) -> usize {
        if let Some(&slot) = self.far_days.get(&day) {
            return slot;
        }
        let slot = self.days.len();
        self.days.push(day);
        self.sums.resize(self.sums.len() + self.stride, EMPTY);
        if self.slots.is_empty() {
            self.base = day;
        }
        // Grow the dense index to cover `day` when the span stays within DAY_SPAN.
        let (low, high) = (
            self.base.min(day),
            (self.base + self.slots.len() as i64 - 1).max(day),
        );
        if high - low < DAY_SPAN as i64 {
            if day < self.base {
                let shift = (self.base - day) as usize;
                self.slots.splice(0..0, std::iter::repeat_n(NO_SLOT, shift));
                self.base = day;
            }
            let at = (day - self.base) as usize;
            if self.slots.len() <= at {
                self.slots.resize(at + 1, NO_SLOT);
            }
            self.slots[at] = slot as u32;
        } else {
            self.far_days.insert(day, slot);
        }
        slot
    }

    /// Adds a batch of rows: `days`, `groups` and `costs` (finite) side by side.
    pub(crate) fn add_all(&mut self, days: &[i64], groups: &[u32], costs: &[f64]) {
        let n = days.len().min(groups.len()).min(costs.len());
        let (days, groups, costs) = (&days[..n], &groups[..n], &costs[..n]);
        let widest = groups.iter().copied().max().unwrap_or(0);
        if widest >= DENSE_GROUPS {
            for ((&day, &group), &cost) in days.iter().zip(groups).zip(costs) {
                self.add(day, group, cost);
            }
            return;
        }
        self.widen(widest as usize + 1);
        let stride = self.stride;
        for ((&day, &group), &cost) in days.iter().zip(groups).zip(costs) {
            let at = self.slot(day) * stride + group as usize;
            if let Some(cell) = self.sums.get_mut(at) {
                *cell += cost + 0.0;
            }
        }
    }

    /// Every cell with at least one row: (day, group, sum).
    fn iter(&self) -> impl Iterator<Item = (i64, u32, f64)> + '_ {
        let stride = self.stride.max(1);
        let dense = self
            .days
            .iter()
            .zip(self.sums.chunks(stride))
            .flat_map(|(&day, sums)| {
                sums.iter()
                    .enumerate()
                    .filter(|(_, sum)| sum.to_bits() != EMPTY.to_bits())
                    .map(move |(group, sum)| (day, group as u32, *sum))
            });
        dense.chain(
            self.sparse
                .iter()
                .map(|(&(day, group), &sum)| (day, group, sum)),
        )
    }
}

/// Everything a reader accumulates while it reads one file.
#[derive(Debug)]
pub(crate) struct Agg {
    pub strings: Interner,
    pub groups: Groups,
    pub cells: Cells,
    pub rows: u64,
    dimensions: Vec<String>,
    latest: Option<Instant>,
    currency: Option<Vec<u8>>,
}

impl Agg {
    pub(crate) fn new(dimensions: Vec<String>) -> Self {
        Agg {
            strings: Interner::new(),
            groups: Groups::new(),
            cells: Cells::new(),
            rows: 0,
            dimensions,
            latest: None,
            currency: None,
        }
    }

    /// Notes the end of a charge period, for the cube's freshness.
    #[inline]
    pub(crate) fn end(&mut self, end: Instant) {
        if self.latest.is_none_or(|latest| end > latest) {
            self.latest = Some(end);
        }
    }

    /// Checks a row's currency: a cube holds one currency, so a second one is an error (the
    /// message). An absent currency is allowed (zero-cost rows of some providers have none).
    #[inline]
    pub(crate) fn currency(&mut self, value: &[u8]) -> Result<(), String> {
        if is_null(value) {
            return Ok(());
        }
        match &self.currency {
            Some(known) if known.as_slice() == value => Ok(()),
            Some(known) => Err(format!(
                "currency {} differs from {} in earlier rows (a cube holds one currency)",
                show(value),
                show(known)
            )),
            None => {
                std::str::from_utf8(value)
                    .map_err(|_| format!("not valid UTF-8 text: {}", show(value)))?;
                self.currency = Some(value.to_vec());
                Ok(())
            }
        }
    }

    /// Builds the cube.
    pub(crate) fn finish(self, file: &str) -> Result<CostCube, ReadError> {
        let paths = self.groups.paths();
        let mut cube = CostCube::new(self.dimensions);
        for (day, group, sum) in self.cells.iter() {
            let date = date_of(day)
                .ok_or_else(|| ReadError::file(file, format!("day {day} is out of range")))?;
            let path = paths.get(group as usize).map(Vec::as_slice).unwrap_or(&[]);
            let names = path
                .iter()
                .map(|&id| self.strings.get(id).to_string())
                .collect();
            cube.add(date, names, sum);
        }
        cube.currency = self
            .currency
            .map(|c| String::from_utf8_lossy(&c).into_owned());
        cube.latest_charge = self
            .latest
            .and_then(|(secs, nanos)| DateTime::from_timestamp(secs, nanos))
            .map(|t| t.naive_utc());
        cube.rows = self.rows;
        Ok(cube)
    }
}

/// The date `days` after 1970-01-01.
pub(crate) fn date_of(days: i64) -> Option<NaiveDate> {
    // 1970-01-01 is day 719_163 counting 0001-01-01 as day 1.
    i32::try_from(days + 719_163)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// Days since 1970-01-01 that the readers accept: years 0 to 9999, the range a four-digit year
/// can write. Anything outside is a corrupt value, not a charge.
pub(crate) const DAY_RANGE: std::ops::RangeInclusive<i64> = -719_528..=2_932_896;

/// Tag values of the requested `tag:` dimensions, parsed from the tags text of a row.
///
/// Tags text repeats across rows (the same resource, the same tag set), so parsed results are
/// kept by their text; the cache is dropped when it grows large, to bound memory on files
/// where every row has different tags.
#[derive(Debug)]
pub(crate) struct TagCache {
    keys: Vec<Vec<Vec<u8>>>,
    parsed: FxHashMap<Box<[u8]>, Box<[u32]>>,
}

const TAG_CACHE_MAX: usize = 100_000;

impl TagCache {
    /// A cache for the given accepted keys, one list per `tag:` dimension.
    pub(crate) fn new(keys: Vec<Vec<Vec<u8>>>) -> Self {
        TagCache {
            keys,
            parsed: FxHashMap::default(),
        }
    }

    /// The value ids of the tag dimensions for tags text `text` (a JSON object, or null).
    pub(crate) fn ids(&mut self, text: &[u8], strings: &mut Interner) -> Result<&[u32], String> {
        if !self.parsed.contains_key(text) {
            if self.parsed.len() >= TAG_CACHE_MAX {
                self.parsed.clear();
            }
            let ids = self.parse(text, strings)?;
            self.parsed.insert(text.into(), ids);
        }
        Ok(self.parsed.get(text).map(|ids| &ids[..]).unwrap_or(&[]))
    }

    fn parse(&self, text: &[u8], strings: &mut Interner) -> Result<Box<[u32]>, String> {
        if is_null(text.trim_ascii()) {
            return Ok(vec![0; self.keys.len()].into());
        }
        let tags: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(text)
            .map_err(|e| format!("not a JSON object of tags ({e}): {}", show(text)))?;
        Ok(self
            .keys
            .iter()
            .map(|accepted| {
                let found = accepted
                    .iter()
                    .find_map(|key| std::str::from_utf8(key).ok().and_then(|key| tags.get(key)));
                match found {
                    None | Some(serde_json::Value::Null) => 0,
                    Some(serde_json::Value::String(s)) => strings.intern_str(s),
                    Some(other) => strings.intern_str(&other.to_string()),
                }
            })
            .collect())
    }

    /// The index of the best accepted key `key` is for tag dimension `dim`, if any (lower is
    /// better).
    #[inline]
    pub(crate) fn rank(&self, dim: usize, key: &[u8]) -> Option<usize> {
        self.keys
            .get(dim)
            .and_then(|accepted| accepted.iter().position(|k| k == key))
    }

    /// Number of tag dimensions.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Where a dimension's value comes from, with constants interned up front.
pub(crate) enum Source {
    Const(u32),
    Column(usize),
    Fallback(usize, usize),
    Tag(usize),
}

impl Agg {
    /// An aggregator for `opts`, the per-dimension value sources of `layout` (constants
    /// interned into it) and the tag cache for the tag dimensions; shared by both readers.
    pub(crate) fn for_layout(opts: &ReadOptions, layout: &Layout) -> (Agg, Vec<Source>, TagCache) {
        let mut agg = Agg::new(opts.dimensions.clone());
        let mut tag_keys = Vec::new();
        let sources = layout
            .dims
            .iter()
            .map(|dim| match dim {
                DimSource::Const(value) => Source::Const(agg.strings.intern_str(value)),
                DimSource::Column(i) => Source::Column(*i),
                DimSource::Fallback(a, b) => Source::Fallback(*a, *b),
                DimSource::Tag(keys) => {
                    tag_keys.push(keys.clone());
                    Source::Tag(tag_keys.len() - 1)
                }
            })
            .collect();
        (agg, sources, TagCache::new(tag_keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_cancelled_sums_are_cells_and_rows_come_in_any_day_order() {
        let mut cells = Cells::new();
        cells.add_all(
            &[19_000, 18_990, 19_000, 19_001, 18_990, 19_000],
            &[1, 1, 2, 0, 1, 2],
            &[0.0, -0.0, 1.5, -2.0, 2.0, -1.5],
        );
        let mut got: Vec<(i64, u32, f64)> = cells.iter().collect();
        got.sort_by_key(|c| (c.0, c.1));
        assert_eq!(
            got,
            [
                (18_990, 1, 2.0),
                (19_000, 1, 0.0),
                (19_000, 2, 0.0),
                (19_001, 0, -2.0)
            ]
        );
        assert!(got.iter().all(|c| c.2.to_bits() != EMPTY.to_bits()));
        // A day far from the others is kept apart from the dense index.
        cells.add_all(&[19_000 + 70_000], &[3], &[1.0]);
        assert_eq!(cells.iter().count(), 5);
    }

    #[test]
    fn groups_and_cells_build_the_cube() {
        let mut agg = Agg::new(vec!["service".into(), "region".into()]);
        let ec2 = agg.strings.intern(b"ec2").expect("text");
        let s3 = agg.strings.intern(b"s3").expect("text");
        let east = agg.strings.intern(b"us-east-1").expect("text");
        assert_eq!(agg.strings.intern(b"NULL"), Ok(0));
        let a = agg.groups.leaf(&[ec2, east]);
        let b = agg.groups.leaf(&[s3, 0]);
        assert_eq!(agg.groups.leaf(&[ec2, east]), a);
        agg.cells.add(19_984, a, 1.5);
        agg.cells.add(19_984, b, 2.0);
        agg.cells.add(19_984, a, 0.5);
        agg.cells.add(19_985, a, 4.0);
        agg.rows = 4;
        let cube = agg.finish("f").expect("cube");
        let day = NaiveDate::from_ymd_opt(2024, 9, 18).expect("date");
        assert_eq!(
            cube.cells[&(day, vec!["ec2".into(), "us-east-1".into()])],
            2.0
        );
        assert_eq!(cube.cells[&(day, vec!["s3".into(), String::new()])], 2.0);
        assert_eq!(cube.total(), 8.0);
        assert_eq!(cube.rows, 4);
    }

    #[test]
    fn many_groups_spill_to_the_sparse_map() {
        // More combinations than the per-day arrays hold: the rest goes through the hash map,
        // and a zero-cost cell still appears in the cube.
        let mut agg = Agg::new(vec!["sub_account".into()]);
        let n = DENSE_GROUPS + 100;
        for i in 0..n {
            let id = agg
                .strings
                .intern(format!("a{i}").as_bytes())
                .expect("text");
            let group = agg.groups.leaf(&[id]);
            agg.cells.add(19_984, group, 1.0);
            agg.cells.add(19_985, group, 0.0);
        }
        agg.rows = u64::from(n) * 2;
        // The batch path gives the same cells, dense and sparse alike.
        let mut batched = Agg::new(vec!["sub_account".into()]);
        let mut groups = Vec::new();
        for i in 0..n {
            let id = batched
                .strings
                .intern(format!("a{i}").as_bytes())
                .expect("text");
            groups.push(batched.groups.leaf(&[id]));
        }
        let len = groups.len();
        let days: Vec<i64> = [vec![19_984; len], vec![19_985; len]].concat();
        let costs: Vec<f64> = [vec![1.0; len], vec![0.0; len]].concat();
        batched
            .cells
            .add_all(&days, &[groups.clone(), groups].concat(), &costs);
        batched.rows = agg.rows;
        let cube = agg.finish("f").expect("cube");
        assert_eq!(batched.finish("f").expect("cube"), cube);
        assert_eq!(cube.cells.len(), 2 * n as usize);
        assert_eq!(cube.total(), f64::from(n));
        let last = NaiveDate::from_ymd_opt(2024, 9, 19).expect("date");
        assert_eq!(cube.cells[&(last, vec![format!("a{}", n - 1)])], 0.0);
    }

    #[test]
    fn one_currency_per_cube() {
        let mut agg = Agg::new(Vec::new());
        assert!(agg.currency(b"USD").is_ok());
        assert!(agg.currency(b"NULL").is_ok());
        assert!(agg.currency(b"USD").is_ok());
        let err = agg.currency(b"EUR").expect_err("mixed");
        assert!(err.contains("\"EUR\"") && err.contains("\"USD\""), "{err}");
    }

    #[test]
    fn tags_accept_plain_and_prefixed_keys() {
        let mut strings = Interner::new();
        let mut cache = TagCache::new(vec![
            vec![
                b"team".to_vec(),
                b"user_team".to_vec(),
                b"user:team".to_vec(),
            ],
            vec![b"env".to_vec(), b"user_env".to_vec()],
        ]);
        let ids = cache
            .ids(br#"{"user_team": "web", "env": "prod"}"#, &mut strings)
            .expect("ok")
            .to_vec();
        assert_eq!(strings.get(ids[0]), "web");
        assert_eq!(strings.get(ids[1]), "prod");
        let ids = cache
            .ids(br#"{"user_team": "web", "team": "api"}"#, &mut strings)
            .expect("ok")
            .to_vec();
        assert_eq!(strings.get(ids[0]), "api", "the exact key wins");
        assert_eq!(cache.ids(b"NULL", &mut strings).expect("null"), &[0, 0]);
        assert!(cache.ids(b"[1,2]", &mut strings).is_err());
        assert!(cache.ids(b"{not json", &mut strings).is_err());
    }
}
