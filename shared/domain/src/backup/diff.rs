//! Diff-first restore: what applying a snapshot would change, before anything is changed.
//!
//! [`diff`] compares desired items (from a snapshot) with live items by an identity key and
//! returns what to create, update and delete, each sorted by key, so a dry run prints the same
//! thing every time and the apply step does exactly what was printed.
//!
//! For S3, a live key is updated when its bytes differ from the snapshot's or, with the same
//! bytes, when its metadata differs from the entry's ([`s3_needs_update`]); the live metadata is
//! read only when it may differ ([`s3_live_metadata_needed`]).
//!
//! For Route53, [`plan_zone_restore`] turns a zone's backed-up record sets and its live ones
//! into ordered `ChangeResourceRecordSets` batches:
//!
//! - **Order.** Deletes go first (a CNAME must be gone before another record takes its name, a
//!   simple record before weighted ones replace it), except that an alias is deleted or
//!   repointed before the record it targets is deleted; creates and upserts follow with every
//!   alias target before the aliases that point at it (chains included). Ties are broken by
//!   record key. A dependency cycle (which Route53 itself would reject) falls back to that order.
//! - **Batches** stay within Route53's per-request limits: at most 1,000 `ResourceRecord`
//!   elements and 32,000 characters of `Value`, where an `UPSERT` counts twice (Route53
//!   developer guide, "Quotas" → "Maximums on API requests"). An alias change counts as one
//!   element. Batches are applied in order; each is atomic, the sequence is not.
//! - **Apex SOA and NS** records are left out unless asked for: restoring a zone into a new
//!   hosted zone must not overwrite the name servers Route53 assigned to it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::manifest::{Entry, ObjectMetadata};

/// Whether a restore must read a live object's metadata to compare it with `entry`'s: only
/// when the entry recorded metadata, and the live object is not the very object backed up (the
/// same `LastModified`: S3 changes headers and user metadata only by rewriting an object) or the
/// entry recorded tags (which change without a rewrite).
pub fn s3_live_metadata_needed(entry: &Entry, live_last_modified: Option<DateTime<Utc>>) -> bool {
    let Some(recorded) = &entry.metadata else {
        return false;
    };
    recorded.tags.is_some()
        || entry.last_modified.is_none()
        || entry.last_modified != live_last_modified
}

/// Whether a restore overwrites a live key: its bytes are not the entry's (`same_content`
/// false), or its metadata (`live`, when it was read) differs from what the entry recorded. An
/// entry without recorded metadata (an older manifest) matches any: unknown is not a change
/// (see [`ObjectMetadata`]).
pub fn s3_needs_update(
    same_content: bool,
    recorded: Option<&ObjectMetadata>,
    live: Option<&ObjectMetadata>,
) -> bool {
    if !same_content {
        return true;
    }
    match (recorded, live) {
        (Some(recorded), Some(live)) => !recorded.same_as(live),
        _ => false,
    }
}

/// An item to change: the live value and the desired one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Update<T> {
    /// What is there now.
    pub live: T,
    /// What the snapshot holds.
    pub desired: T,
}

/// What turning the live items into the desired ones takes, each list sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff<K, T> {
    /// Desired items that do not exist.
    pub create: Vec<T>,
    /// Items that exist with another value.
    pub update: Vec<Update<T>>,
    /// Live items the snapshot does not have.
    pub delete: Vec<T>,
    /// Keys of the items already equal.
    pub unchanged: Vec<K>,
}

impl<K, T> Diff<K, T> {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// Which side of a diff an item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The snapshot.
    Desired,
    /// The live state.
    Live,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Desired => "the snapshot",
            Side::Live => "the live state",
        })
    }
}

/// Why a diff could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    /// Two items of one side have the same identity, so which one to restore is ambiguous.
    #[error("{side} has two items with the identity {key}")]
    Duplicate {
        /// Which side.
        side: Side,
        /// The identity, as text.
        key: String,
    },
}

fn index<K: Ord + fmt::Debug, T>(
    items: &[T],
    key: &impl Fn(&T) -> K,
    side: Side,
) -> Result<BTreeMap<K, usize>, DiffError> {
    let mut map = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let k = key(item);
        if map.contains_key(&k) {
            return Err(DiffError::Duplicate {
                side,
                key: format!("{k:?}"),
            });
        }
        map.insert(k, i);
    }
    Ok(map)
}

/// Compares `desired` with `live` by `key`: create what is missing, update what differs, delete
/// what the snapshot does not have. Every list is sorted by key. Two items with one key on the
/// same side are an error.
pub fn diff<K, T>(desired: &[T], live: &[T], key: impl Fn(&T) -> K) -> Result<Diff<K, T>, DiffError>
where
    K: Ord + Clone + fmt::Debug,
    T: Clone + PartialEq,
{
    let wanted = index(desired, &key, Side::Desired)?;
    let present = index(live, &key, Side::Live)?;
    let mut out = Diff {
        create: Vec::new(),
        update: Vec::new(),
        delete: Vec::new(),
        unchanged: Vec::new(),
    };
    for (k, &i) in &wanted {
        match present.get(k) {
            None => out.create.push(desired[i].clone()),
            Some(&j) if live[j] == desired[i] => out.unchanged.push(k.clone()),
            Some(&j) => out.update.push(Update {
                live: live[j].clone(),
                desired: desired[i].clone(),
            }),
        }
    }
    for (k, &j) in &present {
        if !wanted.contains_key(k) {
            out.delete.push(live[j].clone());
        }
    }
    Ok(out)
}

/// A Route53 alias target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasTarget {
    /// Hosted zone id of the target (this zone's id for a record in the same zone).
    pub hosted_zone_id: String,
    /// DNS name of the target.
    pub dns_name: String,
    /// Whether the alias evaluates the target's health.
    #[serde(default)]
    pub evaluate_target_health: bool,
}

/// Geolocation routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoLocation {
    /// Continent code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continent_code: Option<String>,
    /// Country code (`*` for the default location).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// Subdivision code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdivision_code: Option<String>,
}

/// One Route53 record set, with its routing policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSet {
    /// Record name (`www.example.com.`).
    pub name: String,
    /// Record type (`A`, `CNAME`, …).
    #[serde(rename = "type")]
    pub record_type: String,
    /// Set identifier of weighted, latency, failover, geolocation and multivalue records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    /// TTL (absent for aliases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// Record values (empty for aliases).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Alias target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasTarget>,
    /// Weighted routing weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u64>,
    /// Latency routing region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Failover role (`PRIMARY`, `SECONDARY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<String>,
    /// Geolocation routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_location: Option<GeoLocation>,
    /// Multivalue answer routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_value_answer: Option<bool>,
    /// Health check id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
}

/// A record set's identity in a zone: name, type and set identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RecordKey {
    /// Normalised name (lowercase, trailing dot, `\052` as `*`).
    pub name: String,
    /// Record type.
    pub record_type: String,
    /// Set identifier.
    pub set_identifier: Option<String>,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.record_type)?;
        if let Some(id) = &self.set_identifier {
            write!(f, " [{id}]")?;
        }
        Ok(())
    }
}

/// A DNS name as Route53 compares it: lowercase, with a trailing dot, `\052` written `*`.
pub fn normalize_name(name: &str) -> String {
    let mut out = name.replace("\\052", "*").to_ascii_lowercase();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl RecordSet {
    /// The record set's identity.
    pub fn key(&self) -> RecordKey {
        RecordKey {
            name: normalize_name(&self.name),
            record_type: self.record_type.to_ascii_uppercase(),
            set_identifier: self.set_identifier.clone(),
        }
    }

    /// The (name, type) an alias points at, when this is an alias.
    fn alias_target(&self) -> Option<(String, String)> {
        self.alias.as_ref().map(|alias| {
            (
                normalize_name(&alias.dns_name),
                self.record_type.to_ascii_uppercase(),
            )
        })
    }
}

/// Replaces health check ids with the ids of the recreated health checks (`old → new`); ids not
/// in the map are left as they are. Returns the ids that had no new id.
pub fn remap_health_checks(
    records: &mut [RecordSet],
    new_ids: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut missing = Vec::new();
    for record in records {
        if let Some(id) = &mut record.health_check_id {
            match new_ids.get(id.as_str()) {
                Some(new) => *id = new.clone(),
                None => missing.push(id.clone()),
            }
        }
    }
    missing.sort();
    missing.dedup();
    missing
}

/// A `ChangeResourceRecordSets` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeAction {
    /// Delete a live record set.
    Delete,
    /// Create a record set that does not exist.
    Create,
    /// Replace a record set that exists with another value.
    Upsert,
}

/// One record change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordChange {
    /// The action.
    pub action: ChangeAction,
    /// The record set sent: the desired one for create and upsert, the live one for delete.
    pub record: RecordSet,
    /// For an upsert, the live record set it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<RecordSet>,
}

impl RecordChange {
    fn phase(&self) -> u8 {
        match self.action {
            ChangeAction::Delete => 0,
            ChangeAction::Create | ChangeAction::Upsert => 1,
        }
    }
}

/// Route53's per-request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// `ResourceRecord` elements per request (an `UPSERT`'s count twice).
    pub max_records: usize,
    /// Characters in all `Value` elements per request (an `UPSERT`'s count twice).
    pub max_value_chars: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_records: 1000,
            max_value_chars: 32_000,
        }
    }
}

/// Options of a zone restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRestoreOptions {
    /// The zone's apex (`example.com.`).
    pub zone_name: String,
    /// Whether the apex SOA and NS records are restored too.
    pub include_apex_soa_ns: bool,
    /// Request limits.
    pub limits: BatchLimits,
}

/// A zone restore: the diff, and the changes in the order and batches to send them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneRestorePlan {
    /// The record diff (without the excluded records).
    pub diff: Diff<RecordKey, RecordSet>,
    /// Changes to send, batch by batch, in order.
    pub batches: Vec<Vec<RecordChange>>,
    /// Apex SOA/NS records left out.
    pub excluded: Vec<RecordKey>,
}

impl ZoneRestorePlan {
    /// Whether the zone already matches the snapshot.
    pub fn is_empty(&self) -> bool {
        self.diff.is_empty()
    }
}

/// Diffs a zone's record sets, orders the changes and batches them (see the module docs).
pub fn plan_zone_restore(
    desired: &[RecordSet],
    live: &[RecordSet],
    options: &ZoneRestoreOptions,
) -> Result<ZoneRestorePlan, DiffError> {
    let apex = normalize_name(&options.zone_name);
    let is_apex_soa_ns = |record: &RecordSet| {
        let key = record.key();
        !options.include_apex_soa_ns
            && key.name == apex
            && (key.record_type == "SOA" || key.record_type == "NS")
    };
    let mut excluded: Vec<RecordKey> = desired
        .iter()
        .chain(live)
        .filter(|r| is_apex_soa_ns(r))
        .map(RecordSet::key)
        .collect();
    excluded.sort();
    excluded.dedup();
    let desired: Vec<RecordSet> = desired
        .iter()
        .filter(|r| !is_apex_soa_ns(r))
        .cloned()
        .collect();
    let live: Vec<RecordSet> = live
        .iter()
        .filter(|r| !is_apex_soa_ns(r))
        .cloned()
        .collect();
    let diff = diff(&desired, &live, RecordSet::key)?;
    let changes = order_changes(changes_from(&diff));
    let batches = batch_changes(&changes, options.limits);
    Ok(ZoneRestorePlan {
        diff,
        batches,
        excluded,
    })
}

/// The record changes of a diff: create → `CREATE`, update → `UPSERT`, delete → `DELETE`.
pub fn changes_from(diff: &Diff<RecordKey, RecordSet>) -> Vec<RecordChange> {
    let creates = diff.create.iter().map(|r| RecordChange {
        action: ChangeAction::Create,
        record: r.clone(),
        previous: None,
    });
    let upserts = diff.update.iter().map(|u| RecordChange {
        action: ChangeAction::Upsert,
        record: u.desired.clone(),
        previous: Some(u.live.clone()),
    });
    let deletes = diff.delete.iter().map(|r| RecordChange {
        action: ChangeAction::Delete,
        record: r.clone(),
        previous: None,
    });
    creates.chain(upserts).chain(deletes).collect()
}

/// The edges "send `u` before `v`" between changes (see the module docs), found through
/// indexes rather than by comparing every pair.
fn dependencies(changes: &[RecordChange]) -> Vec<(usize, usize)> {
    type NameType = (String, String);
    let keys: Vec<RecordKey> = changes.iter().map(|c| c.record.key()).collect();
    let name_type = |i: usize| (keys[i].name.clone(), keys[i].record_type.clone());
    let mut writes: BTreeMap<NameType, Vec<usize>> = BTreeMap::new();
    let mut deletes: BTreeMap<NameType, Vec<usize>> = BTreeMap::new();
    let mut deletes_by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, change) in changes.iter().enumerate() {
        if change.action == ChangeAction::Delete {
            deletes.entry(name_type(i)).or_default().push(i);
            deletes_by_name.entry(&keys[i].name).or_default().push(i);
        } else {
            writes.entry(name_type(i)).or_default().push(i);
        }
    }
    let mut edges = Vec::new();
    for (v, change) in changes.iter().enumerate() {
        if change.action == ChangeAction::Delete {
            // An alias is deleted before the record it points at is deleted.
            if let Some(target) = change.record.alias_target() {
                for &u in deletes.get(&target).into_iter().flatten() {
                    edges.push((v, u));
                }
            }
            continue;
        }
        // An alias target is created or updated before the alias that points at it.
        if let Some(target) = change.record.alias_target() {
            for &u in writes.get(&target).into_iter().flatten() {
                edges.push((u, v));
            }
        }
        // A repointed alias is updated before its old target is deleted.
        if let Some(old) = change.previous.as_ref().and_then(RecordSet::alias_target) {
            for &u in deletes.get(&old).into_iter().flatten() {
                edges.push((v, u));
            }
        }
        // A record set is deleted before another one takes its name: a CNAME shares its name
        // with nothing, and simple and routed records of one type do not mix.
        for &u in deletes_by_name
            .get(keys[v].name.as_str())
            .into_iter()
            .flatten()
        {
            let (ut, vt) = (&keys[u].record_type, &keys[v].record_type);
            if ut == "CNAME" || vt == "CNAME" || ut == vt {
                edges.push((u, v));
            }
        }
    }
    edges.retain(|(u, v)| u != v);
    edges.sort_unstable();
    edges.dedup();
    edges
}

/// Orders changes (see the module docs): a topological order of the dependencies, deletes
/// first where free, then by record key.
pub fn order_changes(changes: Vec<RecordChange>) -> Vec<RecordChange> {
    let n = changes.len();
    let mut successors = vec![Vec::new(); n];
    let mut pending = vec![0usize; n];
    for (u, v) in dependencies(&changes) {
        successors[u].push(v);
        pending[v] += 1;
    }
    let rank = |i: usize| (changes[i].phase(), changes[i].record.key(), i);
    let mut ready: BinaryHeap<Reverse<(u8, RecordKey, usize)>> = (0..n)
        .filter(|&i| pending[i] == 0)
        .map(|i| Reverse(rank(i)))
        .collect();
    let mut order = Vec::with_capacity(n);
    let mut placed = vec![false; n];
    loop {
        while let Some(Reverse((_, _, i))) = ready.pop() {
            order.push(i);
            placed[i] = true;
            for &v in &successors[i] {
                if !placed[v] && pending[v] > 0 {
                    pending[v] -= 1;
                    if pending[v] == 0 {
                        ready.push(Reverse(rank(v)));
                    }
                }
            }
        }
        // A cycle: release its first member by rank and carry on.
        match (0..n)
            .filter(|&i| !placed[i] && pending[i] > 0)
            .min_by_key(|&i| rank(i))
        {
            Some(i) => {
                pending[i] = 0;
                ready.push(Reverse(rank(i)));
            }
            None => break,
        }
    }
    let mut slots: Vec<Option<RecordChange>> = changes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// A change's weight against the limits: (`ResourceRecord` elements, `Value` characters).
fn weight(change: &RecordChange) -> (usize, usize) {
    let times = if change.action == ChangeAction::Upsert {
        2
    } else {
        1
    };
    let records = change.record.values.len().max(1);
    let chars: usize = change.record.values.iter().map(|v| v.chars().count()).sum();
    (records * times, chars * times)
}

/// Splits ordered changes into consecutive batches within `limits`. A change too large for any
/// batch gets one of its own (Route53 will reject it, naming it).
pub fn batch_changes(changes: &[RecordChange], limits: BatchLimits) -> Vec<Vec<RecordChange>> {
    let mut batches: Vec<Vec<RecordChange>> = Vec::new();
    let (mut records, mut chars) = (0, 0);
    for change in changes {
        let (r, c) = weight(change);
        let fits = records + r <= limits.max_records && chars + c <= limits.max_value_chars;
        match batches.last_mut() {
            Some(batch) if fits => batch.push(change.clone()),
            _ => {
                batches.push(vec![change.clone()]);
                (records, chars) = (0, 0);
            }
        }
        records += r;
        chars += c;
    }
    batches
}

#[cfg(test)]
mod tests;
