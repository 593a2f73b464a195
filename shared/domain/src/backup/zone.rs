//! Route53 zone documents: what a snapshot stores for a hosted zone, and what is done with it
//! without talking to Route53.
//!
//! - [`ZoneDocument`]: the zone (id, name, private or public, VPCs), every record set with its
//!   routing policy (sorted by [`RecordSet::key`]) and every health check a record refers to
//!   (sorted by id), as JSON with a [`ZONE_SCHEMA_VERSION`].
//! - [`render_bind`]: the same zone as a BIND-style zone file for people to read. Route53's
//!   routing policies, set identifiers, health checks and alias records have no BIND syntax, so
//!   they are `;` comments.
//! - [`retarget`]: the records as they will be written into another hosted zone (a restore
//!   drill's scratch zone): aliases to records of the backed-up zone point into the new zone,
//!   and names move to the new zone's name when it differs.
//! - [`compare_for_drill`]: a restored zone against what the restore should have written,
//!   record by record, as sentences.
//!
//! Names are compared as [`normalize_name`] writes them; values as Route53 returns them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use super::diff::{normalize_name, AliasTarget, RecordKey, RecordSet};

/// The version of the [`ZoneDocument`] layout this code writes and reads.
pub const ZONE_SCHEMA_VERSION: u32 = 1;

/// A hosted zone as a snapshot stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneDocument {
    /// Layout version ([`ZONE_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The hosted zone.
    pub zone: ZoneInfo,
    /// Every record set of the zone, apex SOA and NS included, sorted by [`RecordSet::key`].
    pub records: Vec<RecordSet>,
    /// The health checks the records refer to (and their children), sorted by id.
    #[serde(default)]
    pub health_checks: Vec<HealthCheckDoc>,
}

/// Why bytes are not a zone document this code can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneDocumentError {
    /// Not JSON of the document's shape.
    #[error("not a zone document: {0}")]
    Malformed(String),
    /// Written by another version of the layout.
    #[error("zone document schema version {found} is not the supported version {supported}")]
    UnsupportedVersion {
        /// The document's version.
        found: u32,
        /// [`ZONE_SCHEMA_VERSION`].
        supported: u32,
    },
}

impl ZoneDocument {
    /// A document of the current version, with the records sorted by key and the health checks
    /// by id.
    pub fn new(
        zone: ZoneInfo,
        mut records: Vec<RecordSet>,
        mut health_checks: Vec<HealthCheckDoc>,
    ) -> ZoneDocument {
        records.sort_by_cached_key(RecordSet::key);
        health_checks.sort_by(|a, b| a.id.cmp(&b.id));
        ZoneDocument {
            schema_version: ZONE_SCHEMA_VERSION,
            zone,
            records,
            health_checks,
        }
    }

    /// Reads a document from JSON, checking its schema version.
    pub fn parse(json: &[u8]) -> Result<ZoneDocument, ZoneDocumentError> {
        let document: ZoneDocument = serde_json::from_slice(json)
            .map_err(|error| ZoneDocumentError::Malformed(error.to_string()))?;
        if document.schema_version != ZONE_SCHEMA_VERSION {
            return Err(ZoneDocumentError::UnsupportedVersion {
                found: document.schema_version,
                supported: ZONE_SCHEMA_VERSION,
            });
        }
        Ok(document)
    }

    /// The health check ids the records refer to, sorted, without repeats.
    pub fn referenced_health_checks(&self) -> Vec<String> {
        let ids: BTreeSet<&String> = self
            .records
            .iter()
            .filter_map(|record| record.health_check_id.as_ref())
            .collect();
        ids.into_iter().cloned().collect()
    }

    /// The health check document with this id.
    pub fn health_check(&self, id: &str) -> Option<&HealthCheckDoc> {
        self.health_checks.iter().find(|check| check.id == id)
    }
}

/// The hosted zone itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneInfo {
    /// Hosted zone id, without the `/hostedzone/` prefix.
    pub id: String,
    /// The zone's apex (`example.com.`).
    pub name: String,
    /// Whether it is a private hosted zone.
    #[serde(default)]
    pub private_zone: bool,
    /// The zone's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The VPCs a private zone is associated with, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpcs: Vec<ZoneVpc>,
}

/// A VPC associated with a private hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneVpc {
    /// VPC id (`vpc-…`).
    pub id: String,
    /// The VPC's region.
    pub region: String,
}

/// A health check a record refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckDoc {
    /// Health check id.
    pub id: String,
    /// Its configuration.
    pub config: HealthCheckConfig,
    /// Its tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Route53's `HealthCheckConfig`, field for field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// `HTTP`, `HTTPS`, `HTTP_STR_MATCH`, `HTTPS_STR_MATCH`, `TCP`, `CALCULATED`,
    /// `CLOUDWATCH_METRIC` or `RECOVERY_CONTROL`.
    #[serde(rename = "type")]
    pub check_type: String,
    /// Endpoint IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Endpoint port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Path requested by HTTP(S) checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_path: Option<String>,
    /// Endpoint host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fully_qualified_domain_name: Option<String>,
    /// String a `*_STR_MATCH` check looks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_string: Option<String>,
    /// Seconds between checks (10 or 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_interval: Option<u32>,
    /// Consecutive results that change the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Whether latency is measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure_latency: Option<bool>,
    /// Whether the status is inverted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverted: Option<bool>,
    /// Whether the check is disabled (always healthy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Healthy children a `CALCULATED` check needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_threshold: Option<u32>,
    /// Children of a `CALCULATED` check (health check ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_health_checks: Vec<String>,
    /// Whether HTTPS checks send SNI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_sni: Option<bool>,
    /// Regions the checkers run in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// The alarm a `CLOUDWATCH_METRIC` check follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_identifier: Option<HealthCheckAlarm>,
    /// Status while the alarm has insufficient data (`Healthy`, `Unhealthy`, `LastKnownStatus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insufficient_data_health_status: Option<String>,
    /// Routing control of a `RECOVERY_CONTROL` check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_control_arn: Option<String>,
}

/// A CloudWatch alarm a health check follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckAlarm {
    /// The alarm's region.
    pub region: String,
    /// The alarm's name.
    pub name: String,
}

/// A zone id without the `/hostedzone/` prefix.
fn bare_zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// Whether a record is the zone's apex SOA or NS record (`apex` normalised).
fn is_apex_soa_ns(record: &RecordSet, apex: &str) -> bool {
    let key = record.key();
    key.name == apex && (key.record_type == "SOA" || key.record_type == "NS")
}

// ---------------------------------------------------------------------------------------------
// BIND rendering

/// A Route53 name as BIND writes it: Route53's octal escapes (`\052`) decoded, `*`, letters,
/// digits, `-` and `_` as themselves, other bytes as BIND's decimal escapes (`\DDD`).
fn bind_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < chars.len() {
        let octal = chars
            .get(i + 1..i + 4)
            .filter(|digits| chars[i] == '\\' && digits.iter().all(|d| ('0'..='7').contains(d)))
            .and_then(|digits| u8::from_str_radix(&digits.iter().collect::<String>(), 8).ok());
        match octal {
            Some(byte) => {
                let c = char::from(byte);
                if c == '*' || c == '-' || c == '_' || c.is_ascii_alphanumeric() {
                    out.push(c.to_ascii_lowercase());
                } else {
                    let _ = write!(out, "\\{byte:03}");
                }
                i += 4;
            }
            None => {
                out.push(chars[i].to_ascii_lowercase());
                i += 1;
            }
        }
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// A name relative to `origin` (both as [`bind_name`] writes them): `@` for the apex, the
/// labels before the origin for names inside it, the full name otherwise.
fn relative(name: &str, origin: &str) -> String {
    if name == origin {
        return "@".into();
    }
    match name.strip_suffix(origin) {
        Some(prefix) if prefix.ends_with('.') => prefix.trim_end_matches('.').to_owned(),
        _ => name.to_owned(),
    }
}

/// A TXT or SPF value as a BIND character string: Route53 values are already quoted
/// (`"v=spf1 -all"`, long ones as `"…" "…"`) and kept as they are; a bare value is quoted.
fn txt_value(value: &str) -> String {
    if value.starts_with('"') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The routing policy and health check of a record, as `;` comment words.
fn routing_words(record: &RecordSet) -> Vec<String> {
    let mut words = Vec::new();
    if let Some(weight) = record.weight {
        words.push(format!("weighted weight={weight}"));
    }
    if let Some(region) = &record.region {
        words.push(format!("latency region={region}"));
    }
    if let Some(role) = &record.failover {
        words.push(format!("failover={role}"));
    }
    if let Some(geo) = &record.geo_location {
        let mut parts = vec!["geolocation".to_owned()];
        if let Some(code) = &geo.continent_code {
            parts.push(format!("continent={code}"));
        }
        if let Some(code) = &geo.country_code {
            parts.push(format!("country={code}"));
        }
        if let Some(code) = &geo.subdivision_code {
            parts.push(format!("subdivision={code}"));
        }
        words.push(parts.join(" "));
    }
    if record.multi_value_answer == Some(true) {
        words.push("multivalue".into());
    }
    if let Some(id) = &record.set_identifier {
        words.push(format!("set={}", comment_token(id)));
    }
    if let Some(id) = &record.health_check_id {
        words.push(format!("health-check={id}"));
    }
    words
}

/// Free text inside a comment word: quoted when it holds blanks or `;`.
fn comment_token(text: &str) -> String {
    if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == ';' || c == '"') {
        format!("{text:?}")
    } else {
        text.to_owned()
    }
}

/// The most common TTL of the zone's records (the smallest of equals), 300 without any.
fn default_ttl(records: &[RecordSet]) -> u32 {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for ttl in records.iter().filter_map(|r| r.ttl) {
        *counts.entry(ttl).or_default() += 1;
    }
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or(300, |(ttl, _)| *ttl)
}

/// A health check's settings as `key=value` words, in Route53's field order.
fn health_check_words(config: &HealthCheckConfig) -> Vec<String> {
    let mut words = vec![format!("type={}", config.check_type)];
    let mut push = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            words.push(format!("{key}={}", comment_token(&value)));
        }
    };
    push("ip", config.ip_address.clone());
    push("fqdn", config.fully_qualified_domain_name.clone());
    push("port", config.port.map(|v| v.to_string()));
    push("path", config.resource_path.clone());
    push("search", config.search_string.clone());
    push("interval", config.request_interval.map(|v| v.to_string()));
    push(
        "failure-threshold",
        config.failure_threshold.map(|v| v.to_string()),
    );
    push(
        "health-threshold",
        config.health_threshold.map(|v| v.to_string()),
    );
    if !config.child_health_checks.is_empty() {
        push("children", Some(config.child_health_checks.join(",")));
    }
    if !config.regions.is_empty() {
        push("regions", Some(config.regions.join(",")));
    }
    push(
        "alarm",
        config
            .alarm_identifier
            .as_ref()
            .map(|alarm| format!("{}/{}", alarm.region, alarm.name)),
    );
    push(
        "insufficient-data",
        config.insufficient_data_health_status.clone(),
    );
    push("routing-control", config.routing_control_arn.clone());
    let flags = [
        ("measure-latency", config.measure_latency),
        ("inverted", config.inverted),
        ("disabled", config.disabled),
        ("sni", config.enable_sni),
    ];
    for (flag, value) in flags {
        if value == Some(true) {
            words.push(flag.to_owned());
        }
    }
    words
}

/// A human-readable BIND-style zone file: a header naming the zone, `$ORIGIN`, `$TTL` (the most
/// common TTL), then one line per value with its own TTL — apex SOA, NS and other apex records
/// first, the rest in record-key order. Routing policies, set identifiers and health checks are `;` comments at
/// the end of each line; alias records (which have no BIND syntax) are whole comment lines
/// (`; ALIAS name type target ; zone=…`); the health checks are listed at the end. Wildcards
/// are written `*` (Route53 returns `\052`), other escaped bytes in BIND's decimal `\DDD`.
pub fn render_bind(doc: &ZoneDocument) -> String {
    let origin = bind_name(&doc.zone.name);
    let apex = normalize_name(&doc.zone.name);
    let mut out = String::new();
    let kind = if doc.zone.private_zone {
        "private"
    } else {
        "public"
    };
    let _ = writeln!(
        out,
        "; Route53 hosted zone {origin} ({}), {kind}",
        doc.zone.id
    );
    if let Some(comment) = &doc.zone.comment {
        let _ = writeln!(out, "; Comment: {}", comment.replace('\n', " "));
    }
    for vpc in &doc.zone.vpcs {
        let _ = writeln!(out, "; VPC: {} ({})", vpc.id, vpc.region);
    }
    out.push_str(
        "; Routing policies, set identifiers, health checks and alias records are comments:\n\
         ; BIND has no syntax for them.\n",
    );
    let _ = writeln!(out, "$ORIGIN {origin}");
    let _ = writeln!(out, "$TTL {}", default_ttl(&doc.records));

    let rank = |record: &RecordSet| {
        let key = record.key();
        let first = match (key.name == apex, key.record_type.as_str()) {
            (true, "SOA") => 0,
            (true, "NS") => 1,
            (true, _) => 2,
            _ => 3,
        };
        (first, key)
    };
    let mut records: Vec<&RecordSet> = doc.records.iter().collect();
    records.sort_by_cached_key(|record| rank(record));

    for record in records {
        let name = relative(&bind_name(&record.name), &origin);
        let record_type = record.record_type.to_ascii_uppercase();
        let words = routing_words(record);
        let tail = if words.is_empty() {
            String::new()
        } else {
            format!("\t; {}", words.join(" "))
        };
        if let Some(alias) = &record.alias {
            let target = bind_name(&alias.dns_name);
            let evaluate = if alias.evaluate_target_health {
                "yes"
            } else {
                "no"
            };
            let mut words = vec![
                format!("zone={}", alias.hosted_zone_id),
                format!("evaluate-target-health={evaluate}"),
            ];
            words.extend(routing_words(record));
            let _ = writeln!(
                out,
                "; ALIAS\t{name}\tIN\t{record_type}\t{target}\t; {}",
                words.join(" ")
            );
            continue;
        }
        let ttl = record.ttl.map_or_else(String::new, |ttl| ttl.to_string());
        for value in &record.values {
            let value = match record_type.as_str() {
                "TXT" | "SPF" => txt_value(value),
                _ => value.clone(),
            };
            let _ = writeln!(out, "{name}\t{ttl}\tIN\t{record_type}\t{value}{tail}");
        }
    }

    if !doc.health_checks.is_empty() {
        out.push_str("; Health checks\n");
        for check in &doc.health_checks {
            let mut words = health_check_words(&check.config);
            words.extend(
                check
                    .tags
                    .iter()
                    .map(|(key, value)| format!("tag:{}={}", key, comment_token(value))),
            );
            let _ = writeln!(out, "; health-check {} {}", check.id, words.join(" "));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Retargeting

/// `name` moved from under the apex `from` to under `to` (both normalised); names outside
/// `from` are returned unchanged.
fn rebase(name: &str, from: &str, to: &str) -> String {
    let normal = normalize_name(name);
    if normal == from {
        return to.to_owned();
    }
    match normal.strip_suffix(from) {
        Some(prefix) if prefix.ends_with('.') => format!("{prefix}{to}"),
        _ => name.to_owned(),
    }
}

/// Records as they will be written into the zone `to_zone_id` (named `to_zone_name`): alias
/// targets that pointed into the backed-up zone `from` (by hosted zone id) point into the target
/// zone, and when the zone names differ, record names and those aliases' DNS names under the
/// old apex move under the new one (normalised). Values (CNAME targets, MX hosts, TXT) are data
/// and stay as they are; so do aliases to other zones. The order is kept.
pub fn retarget(
    records: &[RecordSet],
    from: &ZoneInfo,
    to_zone_id: &str,
    to_zone_name: &str,
) -> Vec<RecordSet> {
    let from_name = normalize_name(&from.name);
    let to_name = normalize_name(to_zone_name);
    let rename = from_name != to_name;
    let from_id = bare_zone_id(&from.id);
    let to_id = bare_zone_id(to_zone_id);
    records
        .iter()
        .map(|record| {
            let mut record = record.clone();
            if rename {
                record.name = rebase(&record.name, &from_name, &to_name);
            }
            if let Some(alias) = &mut record.alias {
                if bare_zone_id(&alias.hosted_zone_id) == from_id {
                    alias.hosted_zone_id = to_id.to_owned();
                    if rename {
                        alias.dns_name = rebase(&alias.dns_name, &from_name, &to_name);
                    }
                }
            }
            record
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Drill comparison

fn shown<T: fmt::Debug>(value: &Option<T>) -> String {
    match value {
        Some(value) => format!("{value:?}"),
        None => "none".into(),
    }
}

fn shown_alias(alias: &Option<AliasTarget>) -> String {
    match alias {
        Some(alias) => format!(
            "{} in zone {} (evaluate target health: {})",
            normalize_name(&alias.dns_name),
            bare_zone_id(&alias.hosted_zone_id),
            alias.evaluate_target_health
        ),
        None => "none".into(),
    }
}

/// The fields in which two record sets of one key differ, as sentences.
fn field_differences(key: &RecordKey, backup: &RecordSet, restored: &RecordSet) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |field: &str, b: String, r: String| {
        if b != r {
            out.push(format!("{key}: {field} is {b} in the backup, {r} restored"));
        }
    };
    check("TTL", shown(&backup.ttl), shown(&restored.ttl));
    let sorted = |values: &[String]| {
        let mut values = values.to_vec();
        values.sort();
        format!("{values:?}")
    };
    check("values", sorted(&backup.values), sorted(&restored.values));
    let alias = |record: &RecordSet| {
        record.alias.as_ref().map(|a| AliasTarget {
            hosted_zone_id: bare_zone_id(&a.hosted_zone_id).to_owned(),
            dns_name: normalize_name(&a.dns_name),
            evaluate_target_health: a.evaluate_target_health,
        })
    };
    if alias(backup) != alias(restored) {
        check(
            "the alias target",
            shown_alias(&backup.alias),
            shown_alias(&restored.alias),
        );
    }
    check("weight", shown(&backup.weight), shown(&restored.weight));
    check("region", shown(&backup.region), shown(&restored.region));
    check(
        "failover",
        shown(&backup.failover),
        shown(&restored.failover),
    );
    check(
        "geolocation",
        shown(&backup.geo_location),
        shown(&restored.geo_location),
    );
    check(
        "multivalue answer",
        shown(&backup.multi_value_answer),
        shown(&restored.multi_value_answer),
    );
    check(
        "health check",
        shown(&backup.health_check_id),
        shown(&restored.health_check_id),
    );
    out
}

/// Indexes records by key, leaving out the apex SOA and NS; repeats are reported.
fn by_key<'a>(
    records: &'a [RecordSet],
    apex: &str,
    side: &str,
    problems: &mut Vec<String>,
) -> BTreeMap<RecordKey, &'a RecordSet> {
    let mut map = BTreeMap::new();
    for record in records.iter().filter(|r| !is_apex_soa_ns(r, apex)) {
        let key = record.key();
        if map.insert(key.clone(), record).is_some() {
            problems.push(format!("{key}: appears twice in {side}"));
        }
    }
    map
}

/// Restore-drill comparison of what a restore should have written (`backup`: the backup's
/// records passed through [`retarget`] for the restored zone, and through
/// [`remap_health_checks`](super::diff::remap_health_checks) if health checks were recreated)
/// with the restored zone's records, record by record and without the apex SOA and NS of
/// `zone_name`. Returns the differences as sentences, sorted by record key; empty means equal.
/// Names are compared normalised, alias targets normalised, values as sets.
pub fn compare_for_drill(
    backup: &[RecordSet],
    restored: &[RecordSet],
    zone_name: &str,
) -> Vec<String> {
    let apex = normalize_name(zone_name);
    let mut out = Vec::new();
    let wanted = by_key(backup, &apex, "the backup", &mut out);
    let present = by_key(restored, &apex, "the restored zone", &mut out);
    let keys: BTreeSet<&RecordKey> = wanted.keys().chain(present.keys()).collect();
    for key in keys {
        match (wanted.get(key), present.get(key)) {
            (Some(_), None) => out.push(format!("{key}: missing from the restored zone")),
            (None, Some(_)) => out.push(format!("{key}: in the restored zone, not in the backup")),
            (Some(b), Some(r)) => out.extend(field_differences(key, b, r)),
            (None, None) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Golden BIND renderings, retargeting and drill comparison tables.

    use super::*;
    use crate::backup::diff::GeoLocation;

    fn record(name: &str, record_type: &str, values: &[&str]) -> RecordSet {
        RecordSet {
            name: name.into(),
            record_type: record_type.into(),
            set_identifier: None,
            ttl: Some(300),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            alias: None,
            weight: None,
            region: None,
            failover: None,
            geo_location: None,
            multi_value_answer: None,
            health_check_id: None,
        }
    }

    fn alias(name: &str, zone: &str, target: &str) -> RecordSet {
        RecordSet {
            ttl: None,
            values: Vec::new(),
            alias: Some(AliasTarget {
                hosted_zone_id: zone.into(),
                dns_name: target.into(),
                evaluate_target_health: false,
            }),
            ..record(name, "A", &[])
        }
    }

    fn zone(id: &str, name: &str) -> ZoneInfo {
        ZoneInfo {
            id: id.into(),
            name: name.into(),
            private_zone: false,
            comment: None,
            vpcs: Vec::new(),
        }
    }

    fn sample() -> ZoneDocument {
        let weighted = |id: &str, weight: u64, value: &str, check: Option<&str>| RecordSet {
            set_identifier: Some(id.into()),
            weight: Some(weight),
            ttl: Some(60),
            health_check_id: check.map(str::to_owned),
            ..record("api.example.com.", "CNAME", &[value])
        };
        let records = vec![
            record(
                "example.com.",
                "SOA",
                &["ns-1.awsdns-1.com. hostmaster.example.com. 1 7200 900 1209600 86400"],
            ),
            record(
                "example.com.",
                "NS",
                &["ns-1.awsdns-1.com.", "ns-2.awsdns-2.net."],
            ),
            record("www.example.com.", "A", &["192.0.2.1", "192.0.2.2"]),
            record(
                "example.com.",
                "TXT",
                &[
                    "\"v=spf1 -all\"",
                    "\"part one\" \"part two\"",
                    "bare \"quoted\" \\",
                ],
            ),
            record("example.com.", "MX", &["10 mail.example.com."]),
            record("\\052.example.com.", "A", &["192.0.2.9"]),
            weighted("blue", 10, "blue.example.com.", Some("hc-1")),
            weighted("green", 90, "green.example.com.", None),
            RecordSet {
                set_identifier: Some("primary".into()),
                failover: Some("PRIMARY".into()),
                health_check_id: Some("hc-1".into()),
                ..record("db.example.com.", "A", &["192.0.2.20"])
            },
            RecordSet {
                set_identifier: Some("secondary".into()),
                failover: Some("SECONDARY".into()),
                ..record("db.example.com.", "A", &["192.0.2.21"])
            },
            RecordSet {
                set_identifier: Some("use1".into()),
                region: Some("us-east-1".into()),
                ..record("lat.example.com.", "A", &["192.0.2.30"])
            },
            RecordSet {
                set_identifier: Some("de".into()),
                geo_location: Some(GeoLocation {
                    continent_code: None,
                    country_code: Some("DE".into()),
                    subdivision_code: None,
                }),
                ..record("geo.example.com.", "A", &["192.0.2.40"])
            },
            RecordSet {
                set_identifier: Some("default location".into()),
                geo_location: Some(GeoLocation {
                    continent_code: None,
                    country_code: Some("*".into()),
                    subdivision_code: None,
                }),
                ..record("geo.example.com.", "A", &["192.0.2.41"])
            },
            alias("app.example.com.", "Z1", "www.example.com."),
            RecordSet {
                set_identifier: Some("a".into()),
                weight: Some(1),
                ..alias(
                    "lb.example.com.",
                    "Z2ELB",
                    "dualstack.lb-1.elb.amazonaws.com.",
                )
            },
        ];
        let health_checks = vec![HealthCheckDoc {
            id: "hc-1".into(),
            config: HealthCheckConfig {
                check_type: "HTTPS".into(),
                fully_qualified_domain_name: Some("blue.example.com".into()),
                port: Some(443),
                resource_path: Some("/health".into()),
                request_interval: Some(30),
                failure_threshold: Some(3),
                enable_sni: Some(true),
                inverted: Some(false),
                ..HealthCheckConfig::default()
            },
            tags: BTreeMap::from([("Name".to_owned(), "blue api".to_owned())]),
        }];
        ZoneDocument::new(
            ZoneInfo {
                comment: Some("production".into()),
                ..zone("Z1", "Example.com")
            },
            records,
            health_checks,
        )
    }

    #[test]
    fn bind_rendering_is_golden() {
        let expected = r#"; Route53 hosted zone example.com. (Z1), public
; Comment: production
; Routing policies, set identifiers, health checks and alias records are comments:
; BIND has no syntax for them.
$ORIGIN example.com.
$TTL 300
@	300	IN	SOA	ns-1.awsdns-1.com. hostmaster.example.com. 1 7200 900 1209600 86400
@	300	IN	NS	ns-1.awsdns-1.com.
@	300	IN	NS	ns-2.awsdns-2.net.
@	300	IN	MX	10 mail.example.com.
@	300	IN	TXT	"v=spf1 -all"
@	300	IN	TXT	"part one" "part two"
@	300	IN	TXT	"bare \"quoted\" \\"
*	300	IN	A	192.0.2.9
api	60	IN	CNAME	blue.example.com.	; weighted weight=10 set=blue health-check=hc-1
api	60	IN	CNAME	green.example.com.	; weighted weight=90 set=green
; ALIAS	app	IN	A	www.example.com.	; zone=Z1 evaluate-target-health=no
db	300	IN	A	192.0.2.20	; failover=PRIMARY set=primary health-check=hc-1
db	300	IN	A	192.0.2.21	; failover=SECONDARY set=secondary
geo	300	IN	A	192.0.2.40	; geolocation country=DE set=de
geo	300	IN	A	192.0.2.41	; geolocation country=* set="default location"
lat	300	IN	A	192.0.2.30	; latency region=us-east-1 set=use1
; ALIAS	lb	IN	A	dualstack.lb-1.elb.amazonaws.com.	; zone=Z2ELB evaluate-target-health=no weighted weight=1 set=a
www	300	IN	A	192.0.2.1
www	300	IN	A	192.0.2.2
; Health checks
; health-check hc-1 type=HTTPS fqdn=blue.example.com port=443 path=/health interval=30 failure-threshold=3 sni tag:Name="blue api"
"#;
        let rendered = render_bind(&sample());
        assert_eq!(rendered, expected, "\n{rendered}");
    }

    #[test]
    fn bind_names_decode_route53_escapes() {
        let cases = [
            ("\\052.example.com.", "*.example.com."),
            ("*.Example.COM", "*.example.com."),
            ("a\\100b.example.com.", "a\\064b.example.com."),
            ("\\055x.example.com.", "-x.example.com."),
            ("odd\\.dot.example.com.", "odd\\.dot.example.com."),
        ];
        for (name, expected) in cases {
            assert_eq!(bind_name(name), expected, "{name}");
        }
        assert_eq!(relative("example.com.", "example.com."), "@");
        assert_eq!(relative("a.b.example.com.", "example.com."), "a.b");
        assert_eq!(relative("myexample.com.", "example.com."), "myexample.com.");
    }

    #[test]
    fn private_zones_name_their_vpcs_and_the_default_ttl_is_the_most_common() {
        let doc = ZoneDocument::new(
            ZoneInfo {
                private_zone: true,
                vpcs: vec![ZoneVpc {
                    id: "vpc-1".into(),
                    region: "eu-west-1".into(),
                }],
                ..zone("Z9", "internal.")
            },
            vec![
                RecordSet {
                    ttl: Some(60),
                    ..record("a.internal.", "A", &["10.0.0.1"])
                },
                RecordSet {
                    ttl: Some(60),
                    ..record("b.internal.", "A", &["10.0.0.2"])
                },
                record("c.internal.", "TXT", &["plain"]),
            ],
            Vec::new(),
        );
        let rendered = render_bind(&doc);
        assert!(rendered.starts_with(
            "; Route53 hosted zone internal. (Z9), private\n; VPC: vpc-1 (eu-west-1)\n"
        ));
        assert!(rendered.contains("$TTL 60\n"), "{rendered}");
        assert!(
            rendered.contains("c\t300\tIN\tTXT\t\"plain\"\n"),
            "{rendered}"
        );
        assert!(!rendered.contains("Health checks"));
    }

    #[test]
    fn documents_round_trip_and_check_their_version() {
        let doc = sample();
        assert_eq!(
            doc.records.first().map(|r| r.key().name),
            Some("*.example.com.".to_owned())
        );
        let json = serde_json::to_vec(&doc).expect("json");
        assert_eq!(ZoneDocument::parse(&json), Ok(doc.clone()));
        assert_eq!(doc.referenced_health_checks(), ["hc-1"]);
        assert!(doc.health_check("hc-1").is_some());

        let mut other = doc;
        other.schema_version = 2;
        let json = serde_json::to_vec(&other).expect("json");
        assert_eq!(
            ZoneDocument::parse(&json),
            Err(ZoneDocumentError::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        );
        assert!(matches!(
            ZoneDocument::parse(b"{}"),
            Err(ZoneDocumentError::Malformed(_))
        ));
        // Absent options stay absent in the JSON.
        let config = serde_json::to_value(HealthCheckConfig {
            check_type: "TCP".into(),
            port: Some(22),
            ..HealthCheckConfig::default()
        })
        .expect("json");
        assert_eq!(config, serde_json::json!({ "type": "TCP", "port": 22 }));
    }

    #[test]
    fn retarget_moves_in_zone_aliases_and_names() {
        let from = zone("/hostedzone/ZOLD", "example.com.");
        let records = [
            record("www.example.com.", "A", &["192.0.2.1"]),
            record("example.com.", "CNAME", &["www.example.com."]),
            alias("app.example.com.", "ZOLD", "www.example.com."),
            alias("lb.example.com.", "Z2ELB", "lb-1.elb.amazonaws.com."),
            record("\\052.Example.com.", "A", &["192.0.2.9"]),
            record("notexample.com.", "A", &["192.0.2.8"]),
        ];
        let names = |records: &[RecordSet]| -> Vec<String> {
            records
                .iter()
                .map(|r| {
                    let alias = r
                        .alias
                        .as_ref()
                        .map(|a| format!(" -> {} @{}", a.dns_name, a.hosted_zone_id))
                        .unwrap_or_default();
                    format!("{}{alias}", r.name)
                })
                .collect()
        };

        // Same name, new zone: only in-zone alias targets change.
        let same = retarget(&records, &from, "/hostedzone/ZNEW", "example.com");
        assert_eq!(
            names(&same),
            [
                "www.example.com.",
                "example.com.",
                "app.example.com. -> www.example.com. @ZNEW",
                "lb.example.com. -> lb-1.elb.amazonaws.com. @Z2ELB",
                "\\052.Example.com.",
                "notexample.com.",
            ]
        );

        // Another name: names and in-zone alias names move; values and outside names stay.
        let moved = retarget(&records, &from, "ZNEW", "drill.example.net.");
        assert_eq!(
            names(&moved),
            [
                "www.drill.example.net.",
                "drill.example.net.",
                "app.drill.example.net. -> www.drill.example.net. @ZNEW",
                "lb.drill.example.net. -> lb-1.elb.amazonaws.com. @Z2ELB",
                "*.drill.example.net.",
                "notexample.com.",
            ]
        );
        assert_eq!(moved[1].values, ["www.example.com."]);

        // Into the zone itself: nothing changes.
        assert_eq!(retarget(&records, &from, "ZOLD", "example.com."), records);
    }

    #[test]
    fn drill_comparison_names_every_difference() {
        let backup = vec![
            record("example.com.", "NS", &["ns-1."]),
            record("www.example.com.", "A", &["192.0.2.1", "192.0.2.2"]),
            record("gone.example.com.", "A", &["192.0.2.3"]),
            alias("app.example.com.", "ZNEW", "www.example.com."),
            RecordSet {
                set_identifier: Some("blue".into()),
                weight: Some(10),
                health_check_id: Some("hc-1".into()),
                ..record("api.example.com.", "A", &["192.0.2.4"])
            },
        ];
        // Equal, up to value order, name spelling and the apex NS.
        let mut restored = backup.clone();
        restored[0].values = vec!["ns-other.".into()];
        restored[1].values.reverse();
        restored[1].name = "WWW.example.com".into();
        assert_eq!(
            compare_for_drill(&backup, &restored, "example.com"),
            Vec::<String>::new()
        );

        let mut restored = backup.clone();
        restored.remove(2);
        restored[1].ttl = Some(60);
        restored[2].alias = Some(AliasTarget {
            hosted_zone_id: "ZOLD".into(),
            dns_name: "www.example.com.".into(),
            evaluate_target_health: false,
        });
        restored[3].weight = Some(20);
        restored[3].health_check_id = Some("hc-2".into());
        restored.push(record("extra.example.com.", "TXT", &["\"x\""]));
        assert_eq!(
            compare_for_drill(&backup, &restored, "example.com."),
            [
                "api.example.com. A [blue]: weight is 10 in the backup, 20 restored",
                "api.example.com. A [blue]: health check is \"hc-1\" in the backup, \"hc-2\" restored",
                "app.example.com. A: the alias target is www.example.com. in zone ZNEW (evaluate target health: false) in the backup, www.example.com. in zone ZOLD (evaluate target health: false) restored",
                "extra.example.com. TXT: in the restored zone, not in the backup",
                "gone.example.com. A: missing from the restored zone",
                "www.example.com. A: TTL is 300 in the backup, 60 restored",
            ]
        );

        let twice = [backup[1].clone(), backup[1].clone()];
        assert_eq!(
            compare_for_drill(&twice, &twice[..1], "example.com."),
            ["www.example.com. A: appears twice in the backup"]
        );
    }
}
