//! Route53: weighted record sets that carry a service's traffic.
//!
//! Weights are changed on the live record sets (read, then UPSERT with only the weight changed),
//! so alias targets, health check ids and TTLs stay as they are, and a record set already at its
//! weight is not written again.

pub mod backup;

use std::collections::BTreeMap;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType};

use crate::error::{AwsCallError, FailureKind};

/// Errors of the Route53 adapter.
#[derive(Debug, thiserror::Error)]
pub enum Route53Error {
    /// No hosted zone by that name or id.
    #[error("hosted zone {0} not found")]
    ZoneNotFound(String),
    /// The weighted record set for a target is missing.
    #[error("weighted record {record} ({record_type}) with set identifier \"{set_identifier}\" not found in zone {zone_id}")]
    RecordSetNotFound {
        /// Zone id.
        zone_id: String,
        /// Record name.
        record: String,
        /// Record type.
        record_type: String,
        /// The missing set identifier.
        set_identifier: String,
    },
    /// Route53 refused or could not be reached (the target names the zone or change).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl Route53Error {
    /// Whether retrying later may succeed (throttling, `PriorRequestNotComplete`, 5xx,
    /// timeouts, lost connections). A missing zone or record set stays missing.
    pub fn is_transient(&self) -> bool {
        matches!(self, Route53Error::Aws(call) if call.is_transient())
    }
}

/// An SDK error of `operation` about `target` (a hosted zone, a change).
fn aws<E: crate::error::ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    target: impl AsRef<str>,
    error: aws_sdk_route53::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Route53Error {
    Route53Error::Aws(AwsCallError::from_sdk(operation, &error).on(target))
}

/// How a Route53 error names a hosted zone.
fn zone_target(zone: &str) -> String {
    format!("hosted zone {zone}")
}

/// A DNS name in Route53's canonical form: lower case with a trailing dot.
pub fn canonical(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    if lower.ends_with('.') {
        lower
    } else {
        format!("{lower}.")
    }
}

/// The hosted zone id for a configured id or name.
pub async fn resolve_zone(
    client: &aws_sdk_route53::Client,
    zone_id: Option<&str>,
    zone_name: Option<&str>,
) -> Result<String, Route53Error> {
    if let Some(id) = zone_id {
        return Ok(id.trim_start_matches("/hostedzone/").to_owned());
    }
    let name = canonical(zone_name.unwrap_or_default());
    let output = client
        .list_hosted_zones_by_name()
        .dns_name(&name)
        .max_items(1)
        .send()
        .await
        .map_err(|error| aws("ListHostedZonesByName", zone_target(&name), error))?;
    output
        .hosted_zones()
        .iter()
        .find(|zone| canonical(zone.name()) == name)
        .map(|zone| zone.id().trim_start_matches("/hostedzone/").to_owned())
        .ok_or(Route53Error::ZoneNotFound(name))
}

/// The weighted record sets (those with a set identifier) of one name and type.
pub async fn weighted_records(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
    record_name: &str,
    record_type: &str,
) -> Result<Vec<ResourceRecordSet>, Route53Error> {
    let name = canonical(record_name);
    let rr_type = RrType::from(record_type);
    let mut found = Vec::new();
    let mut start: Option<(String, RrType, Option<String>)> =
        Some((name.clone(), rr_type.clone(), None));
    while let Some((start_name, start_type, start_id)) = start.take() {
        let output = client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(start_name)
            .start_record_type(start_type)
            .set_start_record_identifier(start_id)
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(e) if e.is_no_such_hosted_zone() => {
                    Route53Error::ZoneNotFound(zone_id.to_owned())
                }
                _ => aws("ListResourceRecordSets", zone_target(zone_id), error),
            })?;
        let mut past = false;
        for set in output.resource_record_sets() {
            if canonical(set.name()) == name && *set.r#type() == rr_type {
                if set.set_identifier().is_some() {
                    found.push(set.clone());
                }
            } else {
                past = true;
            }
        }
        if output.is_truncated() && !past {
            if let (Some(next_name), Some(next_type)) =
                (output.next_record_name(), output.next_record_type())
            {
                start = Some((
                    next_name.to_owned(),
                    next_type.clone(),
                    output.next_record_identifier().map(str::to_owned),
                ));
            }
        }
    }
    Ok(found)
}

/// The hosted zone id (from a configured id or name) and the weighted record sets of one name
/// and type in it: what every weight change starts from.
pub async fn zone_and_records(
    client: &aws_sdk_route53::Client,
    zone_id: Option<&str>,
    zone_name: Option<&str>,
    record_name: &str,
    record_type: &str,
) -> Result<(String, Vec<ResourceRecordSet>), Route53Error> {
    let zone = resolve_zone(client, zone_id, zone_name).await?;
    let records = weighted_records(client, &zone, record_name, record_type).await?;
    Ok((zone, records))
}

/// The weight of each live record set, by set identifier.
pub fn live_weights(records: &[ResourceRecordSet]) -> BTreeMap<String, i64> {
    records
        .iter()
        .filter_map(|set| Some((set.set_identifier()?.to_owned(), set.weight().unwrap_or(0))))
        .collect()
}

/// Checks that every target in `weights` has a live record set.
pub fn check_targets(
    zone_id: &str,
    record_name: &str,
    record_type: &str,
    records: &[ResourceRecordSet],
    weights: &BTreeMap<String, u8>,
) -> Result<(), Route53Error> {
    let live = live_weights(records);
    match weights.keys().find(|target| !live.contains_key(*target)) {
        Some(missing) => Err(Route53Error::RecordSetNotFound {
            zone_id: zone_id.to_owned(),
            record: canonical(record_name),
            record_type: record_type.to_owned(),
            set_identifier: missing.clone(),
        }),
        None => Ok(()),
    }
}

/// Writes `weights` onto the live record sets in one change batch, only for the sets whose
/// weight differs. Returns the change id, or `None` when nothing needed to change.
pub async fn set_weights(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
    records: &[ResourceRecordSet],
    weights: &BTreeMap<String, u8>,
    comment: &str,
) -> Result<Option<String>, Route53Error> {
    let mut changes = Vec::new();
    for set in records {
        let Some(identifier) = set.set_identifier() else {
            continue;
        };
        let Some(&weight) = weights.get(identifier) else {
            continue;
        };
        if set.weight() == Some(i64::from(weight)) {
            continue;
        }
        let mut updated = set.clone();
        updated.weight = Some(i64::from(weight));
        changes.push(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(updated)
                .build()
                .map_err(|error| {
                    AwsCallError::other(
                        "ChangeResourceRecordSets",
                        FailureKind::Construction,
                        error.to_string(),
                    )
                    .on(zone_target(zone_id))
                })?,
        );
    }
    if changes.is_empty() {
        return Ok(None);
    }
    let batch = ChangeBatch::builder()
        .comment(comment.chars().take(256).collect::<String>())
        .set_changes(Some(changes))
        .build()
        .map_err(|error| {
            AwsCallError::other(
                "ChangeResourceRecordSets",
                FailureKind::Construction,
                error.to_string(),
            )
            .on(zone_target(zone_id))
        })?;
    let output = client
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|error| aws("ChangeResourceRecordSets", zone_target(zone_id), error))?;
    Ok(output.change_info().map(|info| info.id().to_owned()))
}

/// Whether a change is `INSYNC` (applied on every Route53 name server).
pub async fn change_in_sync(
    client: &aws_sdk_route53::Client,
    change_id: &str,
) -> Result<bool, Route53Error> {
    let output = client
        .get_change()
        .id(change_id.trim_start_matches("/change/"))
        .send()
        .await
        .map_err(|error| aws("GetChange", format!("change {change_id}"), error))?;
    Ok(output
        .change_info()
        .is_some_and(|info| *info.status() == aws_sdk_route53::types::ChangeStatus::Insync))
}
