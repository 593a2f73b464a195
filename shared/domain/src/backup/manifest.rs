//! Snapshot manifests, the `latest` pointer, the backup bucket's key layout, and the two plans
//! computed from them: what a backup run copies ([`plan_incremental`]) and what a prune deletes
//! ([`prune`]).
//!
//! # Key layout in the backup bucket
//!
//! Under the destination's prefix (manifests record keys relative to it, so a destination can
//! be copied to another bucket or prefix and still restore):
//!
//! | key | written | holds |
//! | --- | --- | --- |
//! | `data/<h[0..2]>/<h>` | `CopyObject` / `PutObject`, before the manifest | one object's bytes, at its content address `h` |
//! | `snapshots/<plan>/<snapshot id>.json` | `If-None-Match: *`, after the data | the [`Manifest`] |
//! | `latest/<plan>.json` | `If-Match` (compare-and-swap), last | the [`LatestPointer`] |
//!
//! **Why content-addressed data keys.** A data object's key is derived from its content
//! ([`ContentId`]), not from where it came from, so:
//!
//! - an object unchanged since the previous snapshot already has its data key; the new snapshot
//!   *references* it and nothing is copied (incremental for free);
//! - identical content under two source keys, two plans or two snapshots is stored once
//!   (deduplication across snapshots and plans sharing a destination);
//! - a renamed or moved source object is not copied again;
//! - a retried or resumed run that copies an object again writes the same bytes to the same key
//!   (idempotent), and data written by a run that died before its manifest is simply reused;
//! - prune is reference counting: a data key survives while any surviving manifest lists it.
//!
//! Because data is stored once per content, what is not content — Content-Type and the other
//! headers, user metadata, tags — is kept per entry in the manifest ([`ObjectMetadata`]), not in
//! the data object (which carries the metadata of whichever key was copied first).
//!
//! The two hex characters of fan-out (`data/ab/ab…`) spread the keys over 256 prefixes, so S3's
//! per-prefix request rates scale with the copy rate and a shard lists quickly in verification.
//!
//! **Snapshot ids** ([`SnapshotId`]) start with the UTC creation time (`20260301T020000Z-…`), so
//! listing `snapshots/<plan>/` returns snapshots in time order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Schema version of the manifest and pointer documents this release writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// A snapshot id: `YYYYMMDDTHHMMSSZ-<8 hex>`, sortable by creation time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SnapshotId(String);

/// A string that is not a snapshot id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a snapshot id (expected YYYYMMDDTHHMMSSZ-xxxxxxxx)")]
pub struct SnapshotIdError(pub String);

const ID_TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";

impl SnapshotId {
    /// The id of a snapshot created at `created_at` (whole seconds) by the run identified by
    /// `run` (a Lambda request id, say): the suffix is the first 8 hex digits of `run`'s
    /// SHA-256, so two runs in the same second get different ids.
    pub fn new(created_at: DateTime<Utc>, run: &str) -> SnapshotId {
        let digest = hex::encode(Sha256::digest(run.as_bytes()));
        SnapshotId(format!(
            "{}-{}",
            created_at.format(ID_TIME_FORMAT),
            &digest[..8]
        ))
    }

    /// The creation time encoded in the id (whole seconds).
    pub fn created_at(&self) -> DateTime<Utc> {
        // Validated on construction, so the prefix always parses.
        NaiveDateTime::parse_from_str(self.0.get(..16).unwrap_or_default(), ID_TIME_FORMAT)
            .map(|t| t.and_utc())
            .unwrap_or_default()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SnapshotId {
    type Err = SnapshotIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || SnapshotIdError(text.to_owned());
        let (time, suffix) = text.split_once('-').ok_or_else(bad)?;
        if time.len() != 16
            || NaiveDateTime::parse_from_str(time, ID_TIME_FORMAT).is_err()
            || suffix.len() != 8
            || !suffix
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return Err(bad());
        }
        Ok(SnapshotId(text.to_owned()))
    }
}

impl TryFrom<String> for SnapshotId {
    type Error = SnapshotIdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<SnapshotId> for String {
    fn from(id: SnapshotId) -> String {
        id.0
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The backup bucket's key layout under a destination prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    /// The layout under `prefix` (`""`, `backups`, `backups/` all work).
    pub fn new(prefix: &str) -> Layout {
        let trimmed = prefix.trim_matches('/');
        Layout {
            prefix: if trimmed.is_empty() {
                String::new()
            } else {
                format!("{trimmed}/")
            },
        }
    }

    /// The full key of a key relative to the destination prefix (a manifest entry's `key`).
    pub fn key(&self, relative: &str) -> String {
        format!("{}{relative}", self.prefix)
    }

    /// `data/`: where data objects are listed.
    pub fn data_prefix(&self) -> String {
        format!("{}data/", self.prefix)
    }

    /// `snapshots/<plan>/`: where a plan's manifests are listed.
    pub fn manifests_prefix(&self, plan: &str) -> String {
        format!("{}snapshots/{plan}/", self.prefix)
    }

    /// `snapshots/<plan>/<id>.json`: one manifest.
    pub fn manifest_key(&self, plan: &str, id: &SnapshotId) -> String {
        self.key(&manifest_key(plan, id))
    }

    /// `latest/<plan>.json`: the plan's latest pointer.
    pub fn latest_key(&self, plan: &str) -> String {
        format!("{}latest/{plan}.json", self.prefix)
    }
}

/// An object's checksum as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Checksum {
    /// SHA-256 of the whole content, lowercase hex (computed by us, or an S3 full-object
    /// SHA-256 checksum converted to hex).
    Sha256 {
        /// 64 lowercase hex digits.
        hex: String,
    },
    /// Another S3 checksum, as S3 reports it (`x-amz-checksum-*`, base64).
    S3 {
        /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256` (composite, multipart).
        algorithm: String,
        /// The base64 value, with its `-<parts>` suffix for composite checksums.
        value: String,
    },
}

/// The content address of a data object: 64 lowercase hex digits.
///
/// With a full-object SHA-256 it *is* that SHA-256 (a true content address, re-hashed by deep
/// verification). Without one it is the SHA-256 of the object's fingerprint (size, ETag and any
/// S3 checksum): unchanged content keeps its address and different content gets another, but
/// identical content uploaded differently (another part size) is not deduplicated. The ETag is
/// part of the fingerprint so that a 32-bit CRC alone never decides that two objects are equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentId(pub String);

impl ContentId {
    /// The content address of an object with this size, checksum and ETag.
    pub fn of(size: u64, checksum: Option<&Checksum>, etag: Option<&str>) -> ContentId {
        if let Some(Checksum::Sha256 { hex }) = checksum {
            if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return ContentId(hex.to_ascii_lowercase());
            }
        }
        let mut fingerprint = format!("size:{size}");
        if let Some(etag) = etag {
            fingerprint.push_str(&format!("|etag:{}", etag.trim_matches('"')));
        }
        match checksum {
            Some(Checksum::S3 { algorithm, value }) => {
                fingerprint.push_str(&format!("|{}:{value}", algorithm.to_ascii_uppercase()));
            }
            Some(Checksum::Sha256 { hex }) => fingerprint.push_str(&format!("|sha256:{hex}")),
            None => {}
        }
        ContentId(hex::encode(Sha256::digest(fingerprint.as_bytes())))
    }

    /// `data/<h[0..2]>/<h>`: where this content is stored, relative to the destination prefix.
    pub fn data_key(&self) -> String {
        let shard = self.0.get(..2).unwrap_or("00");
        format!("data/{shard}/{}", self.0)
    }
}

/// `snapshots/<plan>/<id>.json`, relative to the destination prefix.
pub fn manifest_key(plan: &str, id: &SnapshotId) -> String {
    format!("snapshots/{plan}/{id}.json")
}

/// Kinds of backup target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Objects under an S3 prefix.
    S3,
    /// A Route53 hosted zone (JSON and zone-file documents).
    Route53,
    /// ECS task definitions and services (JSON documents).
    Ecs,
    /// Secrets Manager secrets (encrypted documents).
    Secret,
}

/// Where a manifest entry came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRef {
    /// Kind of target.
    pub kind: TargetKind,
    /// The container: S3 bucket, hosted zone id, ECS cluster, secret ARN.
    pub container: String,
    /// The item in it: object key, document name (`zone.json`, `service/api.json`, `versions.json`).
    pub key: String,
}

/// One object of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Its data key, relative to the destination prefix (`data/ab/ab…`).
    pub key: String,
    /// Where it came from.
    pub source: SourceRef,
    /// Size in bytes of what is stored.
    pub size: u64,
    /// Checksum of what is stored, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// The source object's version id (versioned buckets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The source object's ETag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Whether the stored bytes are encrypted client-side (secrets).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// The stored data object's ETag, as the backup bucket reported it when it was written: a
    /// listing of `data/` verifies existence, size and this ETag for a thousand objects per
    /// request, with no download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_etag: Option<String>,
    /// For encrypted entries: HMAC-SHA256 of the plaintext under a key derived from the
    /// snapshot's data key (useless without KMS), compared after decryption by deep verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Object Lock retain-until date of the stored data object, when the bucket has Object
    /// Lock: a later snapshot that references the object extends it only when it ends before
    /// that snapshot's own lock date (see `ops_domain::backup::retention::lock_until`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<DateTime<Utc>>,
    /// The source object's headers, user metadata and (when the plan asks) tags, kept per entry
    /// because data is stored once per content: two keys with the same bytes share a data
    /// object but not their metadata. `None`: unknown (a rendered document, or a manifest
    /// written before metadata was kept) — see [`ObjectMetadata`] for how unknown compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMetadata>,
    /// The source object's `LastModified` when it was backed up: S3 changes metadata only by
    /// rewriting the object, which moves `LastModified`, so an object listed with the same
    /// size, ETag and `LastModified` still has the metadata recorded here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<DateTime<Utc>>,
}

/// An S3 object's metadata as a snapshot keeps it: the headers a restore sets again, the user
/// metadata (`x-amz-meta-*`, keys lowercase as S3 returns them) and, only when the plan's S3
/// target asks for them (`tags: true`), its tags.
///
/// **Unknown compares as equal.** An entry without metadata (`Entry::metadata` is `None`: a
/// manifest written before metadata was kept) and a recorded `tags: None` (the plan does not
/// back tags up) say nothing about the live object, so they are never a difference: a restore
/// of an old snapshot does not rewrite every object only because its metadata was not recorded,
/// and an incremental backup records the metadata of such entries (one `HeadObject` each, once)
/// without copying or counting them as changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMetadata {
    /// `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Cache-Control`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Content-Disposition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// User metadata (`x-amz-meta-<key>`), by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user: BTreeMap<String, String>,
    /// Tags, when the plan backs them up (`None`: not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

impl ObjectMetadata {
    /// Whether `self` (recorded) and `other` (live, or recorded later) are the same metadata:
    /// headers and user metadata equal, and tags equal when both sides recorded them.
    pub fn same_as(&self, other: &ObjectMetadata) -> bool {
        self.content_type == other.content_type
            && self.content_encoding == other.content_encoding
            && self.cache_control == other.cache_control
            && self.content_disposition == other.content_disposition
            && self.user == other.user
            && match (&self.tags, &other.tags) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// The metadata `previous` recorded for an object listed now with this size, ETag and
/// `LastModified`, when it still holds: the same object, not rewritten since (metadata changes
/// only with a rewrite, which moves `LastModified`). `None`: it must be read (`HeadObject`) —
/// the object is new or changed, or the entry predates recorded metadata.
pub fn known_metadata<'a>(
    previous: Option<&'a Entry>,
    size: u64,
    etag: Option<&str>,
    last_modified: Option<DateTime<Utc>>,
) -> Option<&'a ObjectMetadata> {
    let previous = previous?;
    let same_etag = match (&previous.etag, etag) {
        (Some(a), Some(b)) => a.trim_matches('"') == b.trim_matches('"'),
        _ => false,
    };
    let same_time = previous.last_modified.is_some() && previous.last_modified == last_modified;
    (previous.size == size && same_etag && same_time)
        .then_some(previous.metadata.as_ref())
        .flatten()
}

/// What the backup bucket reported for a data object when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stored {
    /// Its ETag.
    pub etag: Option<String>,
    /// Its checksum (a full-object SHA-256 when the copy computed one).
    pub checksum: Option<Checksum>,
    /// The source version it was copied from.
    pub version_id: Option<String>,
}

impl Entry {
    /// Records what the backup bucket reported for this entry's data object. A checksum of what
    /// is stored replaces a weaker one from the listing; a version id is kept when already known.
    pub fn record_stored(&mut self, stored: &Stored) {
        if stored.etag.is_some() {
            self.stored_etag.clone_from(&stored.etag);
        }
        if let Some(checksum @ Checksum::Sha256 { .. }) = &stored.checksum {
            self.checksum = Some(checksum.clone());
        } else if self.checksum.is_none() {
            self.checksum.clone_from(&stored.checksum);
        }
        if self.version_id.is_none() {
            self.version_id.clone_from(&stored.version_id);
        }
    }
}

/// Whether a snapshot captured every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    /// Every target was captured.
    Complete,
    /// Some targets failed (named in the run report); the rest is restorable.
    Partial,
}

/// A snapshot's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Entries in the snapshot.
    pub objects: u64,
    /// Bytes in the snapshot.
    pub bytes: u64,
    /// Entries copied by this snapshot's run.
    pub copied_objects: u64,
    /// Bytes copied by this snapshot's run.
    pub copied_bytes: u64,
    /// Entries referenced from earlier data (not copied).
    pub referenced_objects: u64,
    /// Bytes referenced from earlier data.
    pub referenced_bytes: u64,
    /// Referenced entries whose content is unchanged but whose metadata changed since the
    /// previous snapshot (recorded, nothing copied).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub metadata_changed: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// A committed snapshot: written once (`If-None-Match: *`) after all its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Snapshot id.
    pub id: SnapshotId,
    /// Backup plan name.
    pub plan: String,
    /// When the run started.
    pub created_at: DateTime<Utc>,
    /// The snapshot this one was planned against (the plan's latest when the run started).
    #[serde(default)]
    pub parent: Option<SnapshotId>,
    /// Complete or partial.
    pub status: SnapshotStatus,
    /// The targets captured.
    pub targets: Vec<SourceRef>,
    /// Every object, sorted by source.
    pub entries: Vec<Entry>,
    /// Totals.
    pub totals: Totals,
}

impl Manifest {
    /// Whether the snapshot captured every target (retention protects the newest such).
    pub fn successful(&self) -> bool {
        self.status == SnapshotStatus::Complete
    }

    /// The snapshot as retention sees it.
    pub fn retention_snapshot(&self) -> super::retention::Snapshot {
        super::retention::Snapshot {
            id: self.id.to_string(),
            time: self.created_at,
            successful: self.successful(),
        }
    }
}

/// Why a stored manifest or pointer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Not JSON of the expected shape (truncated, edited, another document).
    #[error("not a valid {what}: {reason}")]
    Invalid {
        /// `manifest` or `latest pointer`.
        what: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// Written by a release with another schema.
    #[error(
        "{what} schema version {found} is not supported (this release reads {SCHEMA_VERSION})"
    )]
    Version {
        /// `manifest` or `latest pointer`.
        what: &'static str,
        /// The version found.
        found: u32,
    },
    /// Parses, but contradicts itself.
    #[error("manifest {id} is inconsistent: {reason}")]
    Inconsistent {
        /// Its snapshot id.
        id: SnapshotId,
        /// What does not add up.
        reason: String,
    },
}

/// Reads a stored manifest, checking its schema version, that every entry points into `data/`
/// and that its totals match its entries.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, DocumentError> {
    let manifest: Manifest = parse_document(bytes, "manifest")?;
    if manifest.schema_version != SCHEMA_VERSION {
        return Err(DocumentError::Version {
            what: "manifest",
            found: manifest.schema_version,
        });
    }
    let inconsistent = |reason: String| DocumentError::Inconsistent {
        id: manifest.id.clone(),
        reason,
    };
    if let Some(entry) = manifest
        .entries
        .iter()
        .find(|e| !e.key.starts_with("data/"))
    {
        return Err(inconsistent(format!(
            "entry {}/{} points outside data/ ({})",
            entry.source.container, entry.source.key, entry.key
        )));
    }
    let objects = manifest.entries.len() as u64;
    let bytes: u64 = manifest.entries.iter().map(|e| e.size).sum();
    if manifest.totals.objects != objects || manifest.totals.bytes != bytes {
        return Err(inconsistent(format!(
            "totals say {} objects / {} bytes, entries hold {objects} / {bytes}",
            manifest.totals.objects, manifest.totals.bytes
        )));
    }
    Ok(manifest)
}

/// Reads a stored `latest` pointer, checking its schema version.
pub fn parse_latest(bytes: &[u8]) -> Result<LatestPointer, DocumentError> {
    let pointer: LatestPointer = parse_document(bytes, "latest pointer")?;
    if pointer.schema_version != SCHEMA_VERSION {
        return Err(DocumentError::Version {
            what: "latest pointer",
            found: pointer.schema_version,
        });
    }
    Ok(pointer)
}

fn parse_document<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, DocumentError> {
    // The version is checked first, so a newer release's document says so rather than
    // failing on a field this release does not know.
    #[derive(Deserialize)]
    struct Versioned {
        schema_version: u32,
    }
    if let Ok(Versioned { schema_version }) = serde_json::from_slice::<Versioned>(bytes) {
        if schema_version != SCHEMA_VERSION {
            return Err(DocumentError::Version {
                what,
                found: schema_version,
            });
        }
    }
    serde_json::from_slice(bytes).map_err(|error| DocumentError::Invalid {
        what,
        reason: error.to_string(),
    })
}

/// A plan's `latest` pointer, replaced by compare-and-swap after a manifest is committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatestPointer {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Backup plan name.
    pub plan: String,
    /// The latest committed snapshot.
    pub snapshot: SnapshotId,
    /// Its manifest key, relative to the destination prefix.
    pub manifest_key: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One object of a source listing (an S3 prefix, or a document the function rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceObject {
    /// Where it is.
    pub source: SourceRef,
    /// Size in bytes.
    pub size: u64,
    /// Checksum, if the source reports one (or the function computed it).
    pub checksum: Option<Checksum>,
    /// Version id, for versioned buckets.
    pub version_id: Option<String>,
    /// ETag.
    pub etag: Option<String>,
    /// Whether the bytes to store are encrypted client-side (never considered unchanged: the
    /// ciphertext differs on every run, and secrets are small).
    pub encrypted: bool,
    /// For encrypted documents: the keyed digest of the plaintext ([`Entry::digest`]).
    pub digest: Option<String>,
    /// An S3 object's metadata (`None` for rendered documents).
    pub metadata: Option<ObjectMetadata>,
    /// An S3 object's `LastModified`.
    pub last_modified: Option<DateTime<Utc>>,
}

/// What a run does with one source object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Copy it to its data key.
    Copy,
    /// Its content is already stored at its data key: reference it.
    Reference,
}

/// One source object's planned entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    /// Copy or reference.
    pub action: Action,
    /// The entry the new manifest will hold.
    pub entry: Entry,
}

/// What a backup run does, object by object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// One item per source object, sorted by source.
    pub items: Vec<PlanItem>,
    /// Sources in the previous snapshot that are no longer in the listing.
    pub gone: Vec<SourceRef>,
    /// Totals of the new snapshot.
    pub totals: Totals,
}

impl Plan {
    /// The items to copy.
    pub fn copies(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.action == Action::Copy)
    }

    /// The entries of the new manifest.
    pub fn entries(&self) -> Vec<Entry> {
        self.items.iter().map(|i| i.entry.clone()).collect()
    }
}

/// Whether `object` is unchanged from `previous`: same size and the same checksum when both
/// have one of the same kind, otherwise the same ETag.
fn unchanged(previous: &Entry, object: &SourceObject) -> bool {
    if previous.size != object.size || previous.encrypted || object.encrypted {
        return false;
    }
    let comparable = match (&previous.checksum, &object.checksum) {
        (Some(Checksum::Sha256 { .. }), Some(Checksum::Sha256 { .. })) => true,
        (Some(Checksum::S3 { algorithm: a, .. }), Some(Checksum::S3 { algorithm: b, .. })) => {
            a.eq_ignore_ascii_case(b)
        }
        _ => false,
    };
    if comparable {
        return previous.checksum == object.checksum;
    }
    match (&previous.etag, &object.etag) {
        (Some(a), Some(b)) => a.trim_matches('"') == b.trim_matches('"'),
        _ => false,
    }
}

/// Plans a backup run: each object of `listing` is either **referenced** (unchanged since
/// `previous` — same checksum, or same ETag, and same size — or its content is already stored
/// at its data key by `previous` or by an earlier object of this listing) or **copied** to its
/// content-addressed data key.
///
/// Data keys are [`ContentId::data_key`] of [`ContentId::of`]; a referenced unchanged object
/// keeps the data key the previous snapshot recorded. Items are sorted by source; duplicates in
/// the listing (same source) are planned once.
pub fn plan_incremental(previous: Option<&Manifest>, listing: &[SourceObject]) -> Plan {
    let previous_entries: BTreeMap<&SourceRef, &Entry> = previous
        .map(|m| m.entries.iter().map(|e| (&e.source, e)).collect())
        .unwrap_or_default();
    let mut stored: BTreeSet<String> = previous
        .map(|m| m.entries.iter().map(|e| e.key.clone()).collect())
        .unwrap_or_default();

    let mut sorted: Vec<&SourceObject> = listing.iter().collect();
    sorted.sort_by(|a, b| a.source.cmp(&b.source));
    sorted.dedup_by(|a, b| a.source == b.source);

    let mut plan = Plan::default();
    for object in sorted {
        let (action, key) = match previous_entries.get(&object.source) {
            Some(entry) if unchanged(entry, object) => {
                // Unchanged content: the previous entry already says everything about the stored
                // object (its ETag, checksum and source version), which a listing does not. Its
                // metadata is what was read now (a metadata-only change copies nothing).
                let mut kept = (*entry).clone();
                if let Some(metadata) = &object.metadata {
                    if entry
                        .metadata
                        .as_ref()
                        .is_some_and(|before| !before.same_as(metadata))
                    {
                        plan.totals.metadata_changed += 1;
                    }
                    kept.metadata = Some(metadata.clone());
                }
                if object.last_modified.is_some() {
                    kept.last_modified = object.last_modified;
                }
                record_totals(&mut plan.totals, Action::Reference, object.size);
                plan.items.push(PlanItem {
                    action: Action::Reference,
                    entry: kept,
                });
                continue;
            }
            _ => {
                let id = ContentId::of(
                    object.size,
                    object.checksum.as_ref(),
                    object.etag.as_deref(),
                );
                let key = id.data_key();
                if stored.contains(&key) {
                    (Action::Reference, key)
                } else {
                    (Action::Copy, key)
                }
            }
        };
        stored.insert(key.clone());
        record_totals(&mut plan.totals, action, object.size);
        plan.items.push(PlanItem {
            action,
            entry: Entry {
                key,
                source: object.source.clone(),
                size: object.size,
                checksum: object.checksum.clone(),
                version_id: object.version_id.clone(),
                etag: object.etag.clone(),
                encrypted: object.encrypted,
                stored_etag: None,
                digest: object.digest.clone(),
                retain_until: None,
                metadata: object.metadata.clone(),
                last_modified: object.last_modified,
            },
        });
    }
    let listed: BTreeSet<&SourceRef> = listing.iter().map(|o| &o.source).collect();
    plan.gone = previous_entries
        .keys()
        .filter(|source| !listed.contains(*source))
        .map(|source| (*source).clone())
        .collect();
    plan
}

fn record_totals(totals: &mut Totals, action: Action, size: u64) {
    totals.objects += 1;
    totals.bytes += size;
    match action {
        Action::Copy => {
            totals.copied_objects += 1;
            totals.copied_bytes += size;
        }
        Action::Reference => {
            totals.referenced_objects += 1;
            totals.referenced_bytes += size;
        }
    }
}

/// What a prune deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrunePlan {
    /// Manifests to delete (ids not kept), oldest first.
    pub delete_manifests: Vec<SnapshotId>,
    /// Data keys that only deleted manifests reference, sorted.
    pub delete_data: Vec<String>,
    /// Data keys that survive (referenced by a kept manifest), counted.
    pub kept_data: usize,
}

/// Plans a prune: every manifest whose id is not in `keep_ids` is deleted, and with it every data
/// key that no kept manifest references.
///
/// `manifests` must be **every** committed manifest that shares the destination prefix — all
/// plans, since data is deduplicated across plans — and `keep_ids` every one of them to keep
/// (for the other plans, all their ids). Deletion order for the caller: manifests first (a
/// snapshot disappears whole), data after. The caller keeps the plan's `latest` snapshot in
/// `keep_ids` too, so a backup running concurrently against it finds its data.
pub fn prune(manifests: &[Manifest], keep_ids: &[SnapshotId]) -> PrunePlan {
    let keep: BTreeSet<&SnapshotId> = keep_ids.iter().collect();
    let (kept, deleted): (Vec<&Manifest>, Vec<&Manifest>) =
        manifests.iter().partition(|m| keep.contains(&m.id));
    let surviving: BTreeSet<&str> = kept
        .iter()
        .flat_map(|m| m.entries.iter().map(|e| e.key.as_str()))
        .collect();
    let delete_data: BTreeSet<&str> = deleted
        .iter()
        .flat_map(|m| m.entries.iter().map(|e| e.key.as_str()))
        .filter(|key| !surviving.contains(key))
        .collect();
    let mut delete_manifests: Vec<SnapshotId> = deleted.iter().map(|m| m.id.clone()).collect();
    delete_manifests.sort();
    delete_manifests.dedup();
    PrunePlan {
        delete_manifests,
        delete_data: delete_data.into_iter().map(str::to_owned).collect(),
        kept_data: surviving.len(),
    }
}

/// Data keys no manifest references: what failed runs left behind (a run copies its data before
/// its manifest, and one that never commits leaves the data unreferenced).
///
/// `listed` is every data key under the destination with its last modification; `manifests`
/// every committed manifest under the destination that survives the prune (all plans);
/// `protected` the data keys of runs still in progress (their checkpointed plans). A key is
/// returned only when none of those reference it and it was written before `cutoff` (the prune
/// grace period: a run in progress may have just written it). Sorted.
pub fn unreferenced<'a>(
    listed: impl IntoIterator<Item = (&'a str, Option<DateTime<Utc>>)>,
    manifests: &[&Manifest],
    protected: &BTreeSet<String>,
    cutoff: DateTime<Utc>,
) -> Vec<String> {
    let referenced: BTreeSet<&str> = manifests
        .iter()
        .flat_map(|m| m.entries.iter().map(|e| e.key.as_str()))
        .collect();
    let mut out: Vec<String> = listed
        .into_iter()
        .filter(|(key, _)| !referenced.contains(key) && !protected.contains(*key))
        // Without a date, the age is unknown: keep it.
        .filter(|(_, modified)| modified.is_some_and(|at| at < cutoff))
        .map(|(key, _)| key.to_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests;
