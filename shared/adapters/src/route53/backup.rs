//! Route53 zone backup and restore: a hosted zone into a [`ZoneDocument`] and back.
//!
//! - [`export_zone`] reads a zone (`GetHostedZone`, every page of `ListResourceRecordSets`) and
//!   the health checks its records refer to (`GetHealthCheck`, children of calculated checks
//!   included, and their tags with `ListTagsForResources`).
//! - [`restore_zone`] makes a zone match a document, diff first: health checks are resolved
//!   (reused when one with the same settings exists, else created once per idempotency seed),
//!   then the records are remapped, [`retarget`]ed, diffed against the live zone and, when
//!   applying, sent as `ChangeResourceRecordSets` batches in the order the plan gives. A dry
//!   run reads only.
//! - [`create_scratch_zone`] and [`delete_zone`] carry a restore drill's scratch private zone.
//!
//! Hosted zone ids are stored and returned without the `/hostedzone/` prefix; record names as
//! [`normalize_name`] writes them (lower case, trailing dot, `*` for `\052`), so a backup and a
//! live read compare equal whatever spelling Route53 returns.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types as r53;
use ops_domain::backup::diff::{
    normalize_name, plan_zone_restore, remap_health_checks, AliasTarget, BatchLimits, ChangeAction,
    GeoLocation, RecordChange, RecordSet, ZoneRestoreOptions, ZoneRestorePlan,
};
use ops_domain::backup::zone::{
    retarget, HealthCheckAlarm, HealthCheckConfig, HealthCheckDoc, ZoneDocument, ZoneInfo, ZoneVpc,
    ZONE_SCHEMA_VERSION,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{canonical, change_in_sync, Route53Error};
use crate::error::{bounded, AwsCallError, MAX_MESSAGE};

/// The comment [`create_scratch_zone`] gives a scratch zone; [`delete_zone`] deletes only
/// private zones that carry it.
pub const SCRATCH_ZONE_COMMENT: &str = "ops-suite restore drill scratch zone";

/// How long a restore waits for its last change to be `INSYNC`.
const SYNC_WAIT: Duration = Duration::from_secs(60);
/// Pause between `GetChange` polls.
const SYNC_POLL: Duration = Duration::from_secs(2);

/// Why a zone could not be exported, restored, created or deleted.
#[derive(Debug, thiserror::Error)]
pub enum ZoneBackupError {
    /// No hosted zone with that id or name.
    #[error("hosted zone {zone} not found")]
    NotFound {
        /// The zone id or name asked for.
        zone: String,
    },
    /// A record refers to a health check that is neither in the document nor in Route53.
    #[error(
        "health check {id} is referred to by a record but is neither in the backup nor in Route53"
    )]
    HealthCheckNotFound {
        /// The health check id.
        id: String,
    },
    /// The caller may not do this.
    #[error("{operation} on hosted zone {zone} was denied: {message}")]
    Denied {
        /// The operation.
        operation: &'static str,
        /// The zone id or name.
        zone: String,
        /// Route53's message.
        message: String,
    },
    /// Route53 rejected the request (`InvalidChangeBatch`, `InvalidInput`, …) or the document
    /// cannot be restored as it is.
    #[error("hosted zone {zone}: {reason}")]
    Invalid {
        /// The zone id or name.
        zone: String,
        /// What is wrong.
        reason: String,
    },
    /// Route53 failed or could not be reached (the target names the hosted zone).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl ZoneBackupError {
    /// Whether trying the same thing again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ZoneBackupError::Aws(call) if call.is_transient())
    }
}

/// How a zone backup error names the zone.
fn zone_target(zone: &str) -> String {
    format!("hosted zone {zone}")
}

/// An answer of `operation` on `zone` that lacks what it promises (not transient).
fn answer_error(operation: &'static str, zone: &str, message: impl AsRef<str>) -> ZoneBackupError {
    AwsCallError::unexpected(operation, message)
        .on(zone_target(zone))
        .into()
}

/// Route53's "another change to this resource is in progress": retrying later succeeds. (The
/// throttling codes, `PriorRequestNotComplete` among them, are the shared classification's.)
const CONCURRENT_MODIFICATION: &str = "ConcurrentModification";

/// Route53 error codes that mean the request itself is wrong.
const INVALID_CODES: [&str; 9] = [
    "InvalidChangeBatch",
    "InvalidInput",
    "InvalidDomainName",
    "InvalidArgument",
    "InvalidVPCId",
    "HostedZoneNotEmpty",
    "ConflictingDomainExists",
    "HealthCheckAlreadyExists",
    "TooManyHealthChecks",
];

/// An SDK error as a [`ZoneBackupError`] of `operation` on `zone`.
fn classify<E>(
    operation: &'static str,
    zone: &str,
    error: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> ZoneBackupError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // One classification for the suite: code, capped message, status, never the body.
    let call = AwsCallError::from_sdk(operation, &error);
    let code = call.code.clone().unwrap_or_default();
    let message = call.message.clone().unwrap_or_else(|| call.detail());
    let zone = bounded(zone, MAX_MESSAGE);
    if code == "NoSuchHostedZone" {
        return ZoneBackupError::NotFound { zone };
    }
    if code.starts_with("AccessDenied") || call.status == Some(403) {
        return ZoneBackupError::Denied {
            operation,
            zone,
            message,
        };
    }
    if INVALID_CODES.contains(&code.as_str()) {
        return ZoneBackupError::Invalid {
            zone,
            reason: format!("{operation}: {code}: {message}"),
        };
    }
    let transient = call.is_transient() || call.has_code(CONCURRENT_MODIFICATION);
    ZoneBackupError::Aws(call.on(zone_target(&zone)).with_transient(transient))
}

/// A request that could not be built (a missing required field).
fn build_error(zone: &str, error: impl std::fmt::Display) -> ZoneBackupError {
    ZoneBackupError::Invalid {
        zone: zone.to_owned(),
        reason: format!("cannot build the request: {error}"),
    }
}

/// A zone id without the `/hostedzone/` prefix.
fn bare(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_owned()
}

// ---------------------------------------------------------------------------------------------
// SDK ↔ document

fn to_u32(value: Option<i32>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

fn to_i32(value: Option<u32>) -> Option<i32> {
    value.and_then(|v| i32::try_from(v).ok())
}

/// A listed record set as a document record (names normalised, bare alias zone ids, no TTL on
/// aliases). Routing Route53 has and the document cannot hold yet is an error rather than a
/// silent loss.
fn record_from_sdk(zone: &str, set: &r53::ResourceRecordSet) -> Result<RecordSet, ZoneBackupError> {
    let unsupported = if set.traffic_policy_instance_id().is_some() {
        Some("is managed by a traffic policy instance")
    } else if set.cidr_routing_config().is_some() {
        Some("uses IP-based (CIDR) routing")
    } else if set.geo_proximity_location().is_some() {
        Some("uses geoproximity routing")
    } else {
        None
    };
    if let Some(what) = unsupported {
        return Err(ZoneBackupError::Invalid {
            zone: zone.to_owned(),
            reason: format!(
                "record {} {} {what}, which a zone document cannot hold",
                set.name(),
                set.r#type().as_str()
            ),
        });
    }
    let alias = set.alias_target().map(|target| AliasTarget {
        hosted_zone_id: bare(target.hosted_zone_id()),
        dns_name: normalize_name(target.dns_name()),
        evaluate_target_health: target.evaluate_target_health(),
    });
    Ok(RecordSet {
        name: normalize_name(set.name()),
        record_type: set.r#type().as_str().to_owned(),
        set_identifier: set.set_identifier().map(str::to_owned),
        // moto lists aliases with TTL 0; Route53 aliases have none.
        ttl: if alias.is_some() {
            None
        } else {
            set.ttl().and_then(|ttl| u32::try_from(ttl).ok())
        },
        values: set
            .resource_records()
            .iter()
            .map(|record| record.value().to_owned())
            .collect(),
        alias,
        weight: set.weight().and_then(|w| u64::try_from(w).ok()),
        region: set.region().map(|r| r.as_str().to_owned()),
        failover: set.failover().map(|f| f.as_str().to_owned()),
        geo_location: set.geo_location().map(|geo| GeoLocation {
            continent_code: geo.continent_code().map(str::to_owned),
            country_code: geo.country_code().map(str::to_owned),
            subdivision_code: geo.subdivision_code().map(str::to_owned),
        }),
        multi_value_answer: set.multi_value_answer(),
        health_check_id: set.health_check_id().map(str::to_owned),
    })
}

/// A document record as the record set Route53 is sent.
fn record_to_sdk(
    zone: &str,
    record: &RecordSet,
) -> Result<r53::ResourceRecordSet, ZoneBackupError> {
    let values = record
        .values
        .iter()
        .map(|value| r53::ResourceRecord::builder().value(value).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| build_error(zone, error))?;
    let alias = record
        .alias
        .as_ref()
        .map(|alias| {
            r53::AliasTarget::builder()
                .hosted_zone_id(bare(&alias.hosted_zone_id))
                .dns_name(&alias.dns_name)
                .evaluate_target_health(alias.evaluate_target_health)
                .build()
        })
        .transpose()
        .map_err(|error| build_error(zone, error))?;
    r53::ResourceRecordSet::builder()
        .name(&record.name)
        .r#type(r53::RrType::from(record.record_type.as_str()))
        .set_set_identifier(record.set_identifier.clone())
        .set_ttl(record.ttl.map(i64::from))
        .set_resource_records((!values.is_empty()).then_some(values))
        .set_alias_target(alias)
        .set_weight(record.weight.and_then(|w| i64::try_from(w).ok()))
        .set_region(
            record
                .region
                .as_deref()
                .map(r53::ResourceRecordSetRegion::from),
        )
        .set_failover(
            record
                .failover
                .as_deref()
                .map(r53::ResourceRecordSetFailover::from),
        )
        .set_geo_location(record.geo_location.as_ref().map(|geo| {
            r53::GeoLocation::builder()
                .set_continent_code(geo.continent_code.clone())
                .set_country_code(geo.country_code.clone())
                .set_subdivision_code(geo.subdivision_code.clone())
                .build()
        }))
        .set_multi_value_answer(record.multi_value_answer)
        .set_health_check_id(record.health_check_id.clone())
        .build()
        .map_err(|error| build_error(zone, error))
}

fn health_check_from_sdk(config: &r53::HealthCheckConfig) -> HealthCheckConfig {
    HealthCheckConfig {
        check_type: config.r#type().as_str().to_owned(),
        ip_address: config.ip_address().map(str::to_owned),
        port: config.port().and_then(|p| u16::try_from(p).ok()),
        resource_path: config.resource_path().map(str::to_owned),
        fully_qualified_domain_name: config.fully_qualified_domain_name().map(str::to_owned),
        search_string: config.search_string().map(str::to_owned),
        request_interval: to_u32(config.request_interval()),
        failure_threshold: to_u32(config.failure_threshold()),
        measure_latency: config.measure_latency(),
        inverted: config.inverted(),
        disabled: config.disabled(),
        health_threshold: to_u32(config.health_threshold()),
        child_health_checks: config.child_health_checks().to_vec(),
        enable_sni: config.enable_sni(),
        regions: config
            .regions()
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
        alarm_identifier: config.alarm_identifier().map(|alarm| HealthCheckAlarm {
            region: alarm.region().as_str().to_owned(),
            name: alarm.name().to_owned(),
        }),
        insufficient_data_health_status: config
            .insufficient_data_health_status()
            .map(|s| s.as_str().to_owned()),
        routing_control_arn: config.routing_control_arn().map(str::to_owned),
    }
}

fn health_check_to_sdk(
    zone: &str,
    config: &HealthCheckConfig,
) -> Result<r53::HealthCheckConfig, ZoneBackupError> {
    let alarm = config
        .alarm_identifier
        .as_ref()
        .map(|alarm| {
            r53::AlarmIdentifier::builder()
                .region(r53::CloudWatchRegion::from(alarm.region.as_str()))
                .name(&alarm.name)
                .build()
        })
        .transpose()
        .map_err(|error| build_error(zone, error))?;
    let list = |items: &[String]| (!items.is_empty()).then(|| items.to_vec());
    r53::HealthCheckConfig::builder()
        .r#type(r53::HealthCheckType::from(config.check_type.as_str()))
        .set_ip_address(config.ip_address.clone())
        .set_port(config.port.map(i32::from))
        .set_resource_path(config.resource_path.clone())
        .set_fully_qualified_domain_name(config.fully_qualified_domain_name.clone())
        .set_search_string(config.search_string.clone())
        .set_request_interval(to_i32(config.request_interval))
        .set_failure_threshold(to_i32(config.failure_threshold))
        .set_measure_latency(config.measure_latency)
        .set_inverted(config.inverted)
        .set_disabled(config.disabled)
        .set_health_threshold(to_i32(config.health_threshold))
        .set_child_health_checks(list(&config.child_health_checks))
        .set_enable_sni(config.enable_sni)
        .set_regions(list(&config.regions).map(|regions| {
            regions
                .iter()
                .map(|r| r53::HealthCheckRegion::from(r.as_str()))
                .collect()
        }))
        .set_alarm_identifier(alarm)
        .set_insufficient_data_health_status(
            config
                .insufficient_data_health_status
                .as_deref()
                .map(r53::InsufficientDataHealthStatus::from),
        )
        .set_routing_control_arn(config.routing_control_arn.clone())
        .build()
        .map_err(|error| build_error(zone, error))
}

// ---------------------------------------------------------------------------------------------
// Reading

/// The hosted zones named `name` (every page of `ListHostedZonesByName` that still has it).
async fn zones_named(
    client: &aws_sdk_route53::Client,
    name: &str,
) -> Result<Vec<r53::HostedZone>, ZoneBackupError> {
    let name = canonical(name);
    let mut found = Vec::new();
    let mut next_id: Option<String> = None;
    loop {
        let output = client
            .list_hosted_zones_by_name()
            .dns_name(&name)
            .set_hosted_zone_id(next_id.take())
            .send()
            .await
            .map_err(|error| classify("ListHostedZonesByName", &name, error))?;
        let mut past = false;
        for zone in output.hosted_zones() {
            if canonical(zone.name()) == name {
                found.push(zone.clone());
            } else {
                past = true;
            }
        }
        let more = output.is_truncated()
            && !past
            && output
                .next_dns_name()
                .is_some_and(|next| canonical(next) == name);
        match output.next_hosted_zone_id() {
            Some(id) if more => next_id = Some(id.to_owned()),
            _ => break,
        }
    }
    Ok(found)
}

/// The zone id for a configured id or name; a name two zones share (a public and a private
/// zone) is ambiguous.
async fn zone_id_for(
    client: &aws_sdk_route53::Client,
    zone_id: Option<&str>,
    zone_name: Option<&str>,
) -> Result<String, ZoneBackupError> {
    if let Some(id) = zone_id {
        return Ok(bare(id));
    }
    let Some(name) = zone_name else {
        return Err(ZoneBackupError::Invalid {
            zone: String::new(),
            reason: "neither a hosted zone id nor a name was given".into(),
        });
    };
    let zones = zones_named(client, name).await?;
    match zones.as_slice() {
        [] => Err(ZoneBackupError::NotFound {
            zone: canonical(name),
        }),
        [zone] => Ok(bare(zone.id())),
        several => Err(ZoneBackupError::Invalid {
            zone: canonical(name),
            reason: format!(
                "{} hosted zones have this name ({}); give the zone id",
                several.len(),
                several
                    .iter()
                    .map(|z| bare(z.id()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// `GetHostedZone`, with the VPCs of a private zone.
async fn zone_info(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
) -> Result<ZoneInfo, ZoneBackupError> {
    let output = client
        .get_hosted_zone()
        .id(zone_id)
        .send()
        .await
        .map_err(|error| classify("GetHostedZone", zone_id, error))?;
    let zone = output
        .hosted_zone()
        .ok_or_else(|| ZoneBackupError::NotFound {
            zone: zone_id.to_owned(),
        })?;
    let config = zone.config();
    let mut vpcs: Vec<ZoneVpc> = output
        .vpcs()
        .iter()
        .map(|vpc| ZoneVpc {
            id: vpc.vpc_id().unwrap_or_default().to_owned(),
            region: vpc
                .vpc_region()
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
        })
        .collect();
    vpcs.sort();
    Ok(ZoneInfo {
        id: bare(zone.id()),
        name: canonical(zone.name()),
        private_zone: config.is_some_and(|c| c.private_zone()),
        comment: config.and_then(|c| c.comment()).map(str::to_owned),
        vpcs,
    })
}

/// Every record set of a zone, sorted by key: every page of `ListResourceRecordSets`, started
/// at the previous page's next name, type and set identifier.
async fn list_records(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
) -> Result<Vec<RecordSet>, ZoneBackupError> {
    type Start = (String, r53::RrType, Option<String>);
    let mut records: Vec<RecordSet> = Vec::new();
    let mut start: Option<Start> = None;
    loop {
        let mut request = client.list_resource_record_sets().hosted_zone_id(zone_id);
        if let Some((name, record_type, identifier)) = start.clone() {
            request = request
                .start_record_name(name)
                .start_record_type(record_type)
                .set_start_record_identifier(identifier);
        }
        let output = request
            .send()
            .await
            .map_err(|error| classify("ListResourceRecordSets", zone_id, error))?;
        for set in output.resource_record_sets() {
            records.push(record_from_sdk(zone_id, set)?);
        }
        if !output.is_truncated() {
            break;
        }
        let next = match (output.next_record_name(), output.next_record_type()) {
            (Some(name), Some(record_type)) => (
                name.to_owned(),
                record_type.clone(),
                output.next_record_identifier().map(str::to_owned),
            ),
            _ => break,
        };
        if start.as_ref() == Some(&next) {
            return Err(answer_error(
                "ListResourceRecordSets",
                zone_id,
                format!("the listing does not advance past {} {}", next.0, next.1),
            ));
        }
        start = Some(next);
    }
    // A page boundary inside one name and type can repeat record sets where the start
    // identifier is not honoured (moto); Route53 never lists a key twice.
    records.sort_by_cached_key(RecordSet::key);
    records.dedup_by(|a, b| a.key() == b.key());
    Ok(records)
}

/// A health check's settings, or `None` when there is no health check with that id.
async fn health_check(
    client: &aws_sdk_route53::Client,
    zone: &str,
    id: &str,
) -> Result<Option<HealthCheckConfig>, ZoneBackupError> {
    match client.get_health_check().health_check_id(id).send().await {
        Ok(output) => Ok(output
            .health_check()
            .and_then(|check| check.health_check_config())
            .map(health_check_from_sdk)),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_no_such_health_check()) =>
        {
            Ok(None)
        }
        Err(error) => Err(classify("GetHealthCheck", zone, error)),
    }
}

/// The tags of health checks, by id (`ListTagsForResources`, ten ids a request).
async fn health_check_tags(
    client: &aws_sdk_route53::Client,
    zone: &str,
    ids: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ZoneBackupError> {
    let mut tags = BTreeMap::new();
    for chunk in ids.chunks(10) {
        let output = client
            .list_tags_for_resources()
            .resource_type(r53::TagResourceType::Healthcheck)
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|error| classify("ListTagsForResources", zone, error))?;
        for set in output.resource_tag_sets() {
            let Some(id) = set.resource_id() else {
                continue;
            };
            let map: BTreeMap<String, String> = set
                .tags()
                .iter()
                .filter_map(|tag| {
                    Some((
                        tag.key()?.to_owned(),
                        tag.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect();
            if !map.is_empty() {
                tags.insert(id.to_owned(), map);
            }
        }
    }
    Ok(tags)
}

/// The health checks the records refer to and, for calculated ones, their children. A record
/// may refer to a deleted health check (Route53 allows deleting one in use); that id is left
/// out and a restore reports it if it is still missing then.
async fn export_health_checks(
    client: &aws_sdk_route53::Client,
    zone: &str,
    records: &[RecordSet],
) -> Result<Vec<HealthCheckDoc>, ZoneBackupError> {
    let mut pending: Vec<String> = records
        .iter()
        .filter_map(|r| r.health_check_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut seen: BTreeSet<String> = pending.iter().cloned().collect();
    let mut found: Vec<(String, HealthCheckConfig)> = Vec::new();
    while let Some(id) = pending.pop() {
        match health_check(client, zone, &id).await? {
            Some(config) => {
                for child in &config.child_health_checks {
                    if seen.insert(child.clone()) {
                        pending.push(child.clone());
                    }
                }
                found.push((id, config));
            }
            None => tracing::warn!(
                zone,
                health_check = id.as_str(),
                "a record refers to a health check that does not exist; it is not backed up"
            ),
        }
    }
    let ids: Vec<String> = found.iter().map(|(id, _)| id.clone()).collect();
    let mut tags = health_check_tags(client, zone, &ids).await?;
    let mut docs: Vec<HealthCheckDoc> = found
        .into_iter()
        .map(|(id, config)| HealthCheckDoc {
            tags: tags.remove(&id).unwrap_or_default(),
            id,
            config,
        })
        .collect();
    docs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(docs)
}

/// A hosted zone as a document: the zone (by id, or by name through `ListHostedZonesByName`),
/// every record set and the health checks they refer to. `NotFound` names the id or name asked
/// for; a record with routing the document cannot hold (CIDR, geoproximity, traffic policy) is
/// `Invalid`.
pub async fn export_zone(
    client: &aws_sdk_route53::Client,
    zone_id: Option<&str>,
    zone_name: Option<&str>,
) -> Result<ZoneDocument, ZoneBackupError> {
    let id = zone_id_for(client, zone_id, zone_name).await?;
    let zone = zone_info(client, &id).await?;
    let records = list_records(client, &id).await?;
    let health_checks = export_health_checks(client, &id, &records).await?;
    Ok(ZoneDocument::new(zone, records, health_checks))
}

/// The live record sets of a zone, as a document holds them, sorted by key.
pub async fn live_records(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
) -> Result<Vec<RecordSet>, ZoneBackupError> {
    list_records(client, &bare(zone_id)).await
}

// ---------------------------------------------------------------------------------------------
// Restoring

/// Options of [`restore_zone`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreZoneOptions {
    /// Whether to change anything (otherwise a dry run that only reads).
    pub apply: bool,
    /// Whether the apex SOA and NS records are restored too; only into the zone they were
    /// backed up from (`Invalid` otherwise).
    pub include_apex_soa_ns: bool,
    /// Seed of the `CallerReference` of the health checks the restore creates: the same seed
    /// (a restore request's id) makes a retried restore create each health check once.
    pub idempotency_seed: String,
}

/// What a restore did, or would do in a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneRestoreReport {
    /// The zone restored into (bare id).
    pub target_zone_id: String,
    /// Its name.
    pub target_zone_name: String,
    /// The record diff and the batches (sent, when applying).
    pub plan: ZoneRestorePlan,
    /// Each health check the records refer to, children first.
    pub health_checks: Vec<HealthCheckRestore>,
    /// Batches sent.
    pub applied_batches: usize,
    /// The id of the last change sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_id: Option<String>,
    /// Whether the last change was `INSYNC` within the wait (none when nothing was sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_sync: Option<bool>,
    /// The record sets the zone should hold afterwards (health checks remapped, retargeted): what
    /// a drill compares the restored zone with ([`compare_for_drill`](ops_domain::backup::zone::compare_for_drill)).
    #[serde(skip)]
    pub desired: Vec<RecordSet>,
}

/// What a restore does about one health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheckRestore {
    /// The id in the backup.
    pub old_id: String,
    /// The id the restored records use (none for one a dry run would create).
    pub new_id: Option<String>,
    /// What was or would be done.
    pub action: HealthCheckAction,
}

/// What a restore does about a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthCheckAction {
    /// One with the same settings exists (the backed-up id, or the one the live record with
    /// the same key uses) and is used.
    Reuse,
    /// Dry run: it would be created.
    Create,
    /// It was created.
    Created,
}

/// The `CallerReference` of a health check a restore creates: a hash of the seed, the old id
/// and the settings (64 characters, Route53's limit), so a retried restore with the same seed
/// gets the same health check back and never a second one.
fn caller_reference(seed: &str, old_id: &str, config: &HealthCheckConfig) -> String {
    let mut hash = Sha256::new();
    hash.update(seed.as_bytes());
    hash.update([0]);
    hash.update(old_id.as_bytes());
    hash.update([0]);
    hash.update(serde_json::to_vec(config).unwrap_or_default());
    let digest = hex::encode(hash.finalize());
    format!("ops-restore-{}", &digest[..52])
}

/// The health check ids the records refer to and their children (from the document), children
/// before parents.
fn health_check_order(doc: &ZoneDocument) -> Vec<String> {
    fn visit(id: &str, doc: &ZoneDocument, seen: &mut BTreeSet<String>, order: &mut Vec<String>) {
        if !seen.insert(id.to_owned()) {
            return;
        }
        if let Some(check) = doc.health_check(id) {
            for child in &check.config.child_health_checks {
                visit(child, doc, seen, order);
            }
        }
        order.push(id.to_owned());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for id in doc.referenced_health_checks() {
        visit(&id, doc, &mut seen, &mut order);
    }
    order
}

/// Decides, and when applying carries out, what happens to each health check: reuse the
/// backed-up id or the id the live record with the same key uses when its settings equal the
/// backup's, else create it (once per seed). Returns the decisions and the `old → new` ids.
async fn restore_health_checks(
    client: &aws_sdk_route53::Client,
    zone: &str,
    doc: &ZoneDocument,
    live: &[RecordSet],
    options: &RestoreZoneOptions,
) -> Result<(Vec<HealthCheckRestore>, BTreeMap<String, String>), ZoneBackupError> {
    let live_by_key: BTreeMap<_, _> = live.iter().map(|r| (r.key(), r)).collect();
    let mut candidates: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for record in &doc.records {
        let (Some(old), Some(live)) = (&record.health_check_id, live_by_key.get(&record.key()))
        else {
            continue;
        };
        if let Some(current) = live.health_check_id.as_deref() {
            if current != old {
                candidates.entry(old).or_default().insert(current);
            }
        }
    }

    let mut restores = Vec::new();
    let mut mapping: BTreeMap<String, String> = BTreeMap::new();
    for old in health_check_order(doc) {
        let backup = doc.health_check(&old);
        let desired = backup.map(|check| {
            let mut config = check.config.clone();
            for child in &mut config.child_health_checks {
                if let Some(new) = mapping.get(child.as_str()) {
                    *child = new.clone();
                }
            }
            config
        });
        let same = |found: &Option<HealthCheckConfig>| match (&desired, found) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(want), Some(have)) => want == have,
        };

        let mut reuse = None;
        if same(&health_check(client, zone, &old).await?) {
            reuse = Some(old.clone());
        } else {
            for candidate in candidates.get(old.as_str()).into_iter().flatten() {
                if same(&health_check(client, zone, candidate).await?) {
                    reuse = Some((*candidate).to_owned());
                    break;
                }
            }
        }
        if let Some(id) = reuse {
            if id != old {
                mapping.insert(old.clone(), id.clone());
            }
            restores.push(HealthCheckRestore {
                old_id: old,
                new_id: Some(id),
                action: HealthCheckAction::Reuse,
            });
            continue;
        }

        let (Some(backup), Some(desired)) = (backup, desired) else {
            return Err(ZoneBackupError::HealthCheckNotFound { id: old });
        };
        if !options.apply {
            restores.push(HealthCheckRestore {
                old_id: old,
                new_id: None,
                action: HealthCheckAction::Create,
            });
            continue;
        }
        let reference = caller_reference(&options.idempotency_seed, &old, &desired);
        let output = client
            .create_health_check()
            .caller_reference(&reference)
            .health_check_config(health_check_to_sdk(zone, &desired)?)
            .send()
            .await
            .map_err(|error| classify("CreateHealthCheck", zone, error))?;
        let new = output
            .health_check()
            .map(|check| check.id().to_owned())
            .ok_or_else(|| {
                answer_error(
                    "CreateHealthCheck",
                    zone,
                    "the response has no health check",
                )
            })?;
        if !backup.tags.is_empty() {
            let tags: Vec<r53::Tag> = backup
                .tags
                .iter()
                .map(|(key, value)| r53::Tag::builder().key(key).value(value).build())
                .collect();
            client
                .change_tags_for_resource()
                .resource_type(r53::TagResourceType::Healthcheck)
                .resource_id(&new)
                .set_add_tags(Some(tags))
                .send()
                .await
                .map_err(|error| classify("ChangeTagsForResource", zone, error))?;
        }
        tracing::info!(
            zone,
            old = old.as_str(),
            new = new.as_str(),
            "health check created"
        );
        mapping.insert(old.clone(), new.clone());
        restores.push(HealthCheckRestore {
            old_id: old,
            new_id: Some(new),
            action: HealthCheckAction::Created,
        });
    }
    Ok((restores, mapping))
}

/// One plan batch as a `ChangeResourceRecordSets` change batch.
fn change_batch(
    zone: &str,
    batch: &[RecordChange],
    comment: &str,
) -> Result<r53::ChangeBatch, ZoneBackupError> {
    let changes = batch
        .iter()
        .map(|change| {
            let action = match change.action {
                ChangeAction::Create => r53::ChangeAction::Create,
                ChangeAction::Upsert => r53::ChangeAction::Upsert,
                ChangeAction::Delete => r53::ChangeAction::Delete,
            };
            r53::Change::builder()
                .action(action)
                .resource_record_set(record_to_sdk(zone, &change.record)?)
                .build()
                .map_err(|error| build_error(zone, error))
        })
        .collect::<Result<Vec<_>, _>>()?;
    r53::ChangeBatch::builder()
        .comment(comment.chars().take(256).collect::<String>())
        .set_changes(Some(changes))
        .build()
        .map_err(|error| build_error(zone, error))
}

/// Sends the plan's batches in order; returns how many were sent and the last change id.
async fn apply_batches(
    client: &aws_sdk_route53::Client,
    zone: &str,
    batches: &[Vec<RecordChange>],
    what: &str,
) -> Result<(usize, Option<String>), ZoneBackupError> {
    let mut change_id = None;
    for (i, batch) in batches.iter().enumerate() {
        let comment = format!("ops-suite {what} ({}/{})", i + 1, batches.len());
        let output = client
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(change_batch(zone, batch, &comment)?)
            .send()
            .await
            .map_err(
                |error| match classify("ChangeResourceRecordSets", zone, error) {
                    ZoneBackupError::Invalid { zone, reason } => ZoneBackupError::Invalid {
                        zone,
                        reason: format!(
                            "batch {} of {} ({i} applied before it): {reason}",
                            i + 1,
                            batches.len()
                        ),
                    },
                    other => other,
                },
            )?;
        change_id = output.change_info().map(|info| info.id().to_owned());
    }
    Ok((batches.len(), change_id))
}

/// Polls `GetChange` until the change is `INSYNC` or [`SYNC_WAIT`] has passed.
async fn wait_in_sync(
    client: &aws_sdk_route53::Client,
    zone: &str,
    change_id: &str,
) -> Result<bool, ZoneBackupError> {
    let started = tokio::time::Instant::now();
    loop {
        let synced = change_in_sync(client, change_id)
            .await
            .map_err(|error| match error {
                Route53Error::Aws(call) => {
                    let target = format!(
                        "{} in {}",
                        call.target.as_deref().unwrap_or("change"),
                        zone_target(zone)
                    );
                    ZoneBackupError::Aws(call.on(target))
                }
                other => answer_error("GetChange", zone, other.to_string()),
            })?;
        if synced || started.elapsed() + SYNC_POLL > SYNC_WAIT {
            return Ok(synced);
        }
        tokio::time::sleep(SYNC_POLL).await;
    }
}

/// Makes the zone `target_zone_id` match `doc`, diff first. Health checks come first (see
/// [`HealthCheckAction`]); the records are remapped to the health checks' ids, [`retarget`]ed
/// into the target zone and planned against its live records (apex SOA/NS left out unless
/// asked for). When applying, the batches are sent in order and the last change is awaited
/// until `INSYNC` (bounded). A dry run reads only; its records name a health check it would
/// create by the old id.
pub async fn restore_zone(
    client: &aws_sdk_route53::Client,
    doc: &ZoneDocument,
    target_zone_id: &str,
    options: &RestoreZoneOptions,
) -> Result<ZoneRestoreReport, ZoneBackupError> {
    let target = bare(target_zone_id);
    if doc.schema_version != ZONE_SCHEMA_VERSION {
        return Err(ZoneBackupError::Invalid {
            zone: target,
            reason: format!(
                "the zone document has schema version {}, not {ZONE_SCHEMA_VERSION}",
                doc.schema_version
            ),
        });
    }
    let info = zone_info(client, &target).await?;
    if options.include_apex_soa_ns && bare(&doc.zone.id) != info.id {
        return Err(ZoneBackupError::Invalid {
            zone: target,
            reason: format!(
                "the apex SOA and NS records of {} are restored only into that zone ({}): \
                 another zone keeps the name servers Route53 gave it",
                doc.zone.name, doc.zone.id
            ),
        });
    }
    let live = list_records(client, &target).await?;
    let (health_checks, mapping) =
        restore_health_checks(client, &target, doc, &live, options).await?;
    let mut records = doc.records.clone();
    remap_health_checks(&mut records, &mapping);
    let desired = retarget(&records, &doc.zone, &info.id, &info.name);
    let plan = plan_zone_restore(
        &desired,
        &live,
        &ZoneRestoreOptions {
            zone_name: info.name.clone(),
            include_apex_soa_ns: options.include_apex_soa_ns,
            limits: BatchLimits::default(),
        },
    )
    .map_err(|error| ZoneBackupError::Invalid {
        zone: target.clone(),
        reason: error.to_string(),
    })?;

    let (mut applied_batches, mut change_id, mut in_sync) = (0, None, None);
    if options.apply && !plan.batches.is_empty() {
        let what = format!("restore of {} ({})", doc.zone.name, doc.zone.id);
        (applied_batches, change_id) = apply_batches(client, &target, &plan.batches, &what).await?;
        if let Some(id) = &change_id {
            in_sync = Some(wait_in_sync(client, &target, id).await?);
        }
    }
    Ok(ZoneRestoreReport {
        target_zone_id: info.id,
        target_zone_name: info.name,
        plan,
        health_checks,
        applied_batches,
        change_id,
        in_sync,
        desired,
    })
}

// ---------------------------------------------------------------------------------------------
// Scratch zones

/// The zone named `name` created with `caller_reference`, if there is one.
async fn zone_by_reference(
    client: &aws_sdk_route53::Client,
    name: &str,
    caller_reference: &str,
) -> Result<Option<String>, ZoneBackupError> {
    Ok(zones_named(client, name)
        .await?
        .iter()
        .find(|zone| zone.caller_reference() == caller_reference)
        .map(|zone| bare(zone.id())))
}

/// A private hosted zone `name` associated with `vpc`, for a restore drill, commented
/// [`SCRATCH_ZONE_COMMENT`]. Idempotent on `caller_reference` (at most 128 characters): a zone
/// of that name already created with it is returned (looked up first, and again on
/// `HostedZoneAlreadyExists`). Returns the bare zone id.
pub async fn create_scratch_zone(
    client: &aws_sdk_route53::Client,
    name: &str,
    vpc: &ZoneVpc,
    caller_reference: &str,
) -> Result<String, ZoneBackupError> {
    let name = canonical(name);
    if let Some(id) = zone_by_reference(client, &name, caller_reference).await? {
        return Ok(id);
    }
    let created = client
        .create_hosted_zone()
        .name(&name)
        .caller_reference(caller_reference)
        .vpc(
            r53::Vpc::builder()
                .vpc_id(&vpc.id)
                .vpc_region(r53::VpcRegion::from(vpc.region.as_str()))
                .build(),
        )
        .hosted_zone_config(
            r53::HostedZoneConfig::builder()
                .private_zone(true)
                .comment(SCRATCH_ZONE_COMMENT)
                .build(),
        )
        .send()
        .await;
    match created {
        Ok(output) => output
            .hosted_zone()
            .map(|zone| bare(zone.id()))
            .ok_or_else(|| {
                answer_error("CreateHostedZone", &name, "the response has no hosted zone")
            }),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_hosted_zone_already_exists()) =>
        {
            zone_by_reference(client, &name, caller_reference)
                .await?
                .ok_or_else(|| ZoneBackupError::Invalid {
                    zone: name.clone(),
                    reason: format!(
                        "caller reference {caller_reference} was used for a zone that no longer exists or has another name"
                    ),
                })
        }
        Err(error) => Err(classify("CreateHostedZone", &name, error)),
    }
}

/// Deletes a scratch zone: every record set but the apex SOA and NS (in the plan's order, so
/// aliases go before their targets), then the zone. Only a private zone commented
/// [`SCRATCH_ZONE_COMMENT`] is deleted; any other zone is `Invalid` and left untouched. A zone
/// that is already gone is not an error.
pub async fn delete_zone(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
) -> Result<(), ZoneBackupError> {
    let id = bare(zone_id);
    let info = match zone_info(client, &id).await {
        Err(ZoneBackupError::NotFound { .. }) => return Ok(()),
        other => other?,
    };
    if !info.private_zone || info.comment.as_deref() != Some(SCRATCH_ZONE_COMMENT) {
        return Err(ZoneBackupError::Invalid {
            zone: id,
            reason: format!(
                "not a scratch zone (a private zone commented \"{SCRATCH_ZONE_COMMENT}\"); refusing to delete it"
            ),
        });
    }
    let live = list_records(client, &id).await?;
    let plan = plan_zone_restore(
        &[],
        &live,
        &ZoneRestoreOptions {
            zone_name: info.name.clone(),
            include_apex_soa_ns: false,
            limits: BatchLimits::default(),
        },
    )
    .map_err(|error| ZoneBackupError::Invalid {
        zone: id.clone(),
        reason: error.to_string(),
    })?;
    let what = format!("deletion of scratch zone {}", info.name);
    apply_batches(client, &id, &plan.batches, &what).await?;
    match client.delete_hosted_zone().id(&id).send().await {
        Ok(_) => Ok(()),
        Err(error) => match classify("DeleteHostedZone", &id, error) {
            ZoneBackupError::NotFound { .. } => Ok(()),
            other => Err(other),
        },
    }
}

#[cfg(test)]
mod tests {
    //! Conversions between the SDK and the document, and caller references.

    use super::*;

    #[test]
    fn caller_references_are_stable_short_and_distinct() {
        let config = HealthCheckConfig {
            check_type: "TCP".into(),
            port: Some(22),
            ..HealthCheckConfig::default()
        };
        let a = caller_reference("restore-1", "hc-1", &config);
        assert_eq!(a.len(), 64);
        assert_eq!(a, caller_reference("restore-1", "hc-1", &config));
        assert_ne!(a, caller_reference("restore-2", "hc-1", &config));
        assert_ne!(a, caller_reference("restore-1", "hc-2", &config));
        let other = HealthCheckConfig {
            port: Some(23),
            ..config.clone()
        };
        assert_ne!(a, caller_reference("restore-1", "hc-1", &other));
    }

    #[test]
    fn records_convert_both_ways() {
        let record = RecordSet {
            name: "w.example.com.".into(),
            record_type: "A".into(),
            set_identifier: Some("de".into()),
            ttl: Some(60),
            values: vec!["192.0.2.1".into()],
            alias: None,
            weight: None,
            region: None,
            failover: None,
            geo_location: Some(GeoLocation {
                continent_code: None,
                country_code: Some("DE".into()),
                subdivision_code: None,
            }),
            multi_value_answer: None,
            health_check_id: Some("hc".into()),
        };
        let sdk = record_to_sdk("Z", &record).expect("sdk");
        assert_eq!(record_from_sdk("Z", &sdk).expect("back"), record);

        let config = HealthCheckConfig {
            check_type: "CLOUDWATCH_METRIC".into(),
            alarm_identifier: Some(HealthCheckAlarm {
                region: "us-east-1".into(),
                name: "high".into(),
            }),
            insufficient_data_health_status: Some("LastKnownStatus".into()),
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            ..HealthCheckConfig::default()
        };
        let sdk = health_check_to_sdk("Z", &config).expect("sdk");
        assert_eq!(health_check_from_sdk(&sdk), config);
    }
}
