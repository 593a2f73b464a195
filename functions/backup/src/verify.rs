//! The `verify` action: is every snapshot of the plan still restorable?
//!
//! - **Cheap, every object, no download**: one `ListObjectsV2` of `data/` answers for a
//!   thousand objects at a time — each manifest entry's data object must exist with the
//!   recorded size and the ETag the backup bucket reported when it was written (an object
//!   overwritten with other bytes gets another ETag). Entries written without a recorded ETag
//!   fall back to `HeadObject` with checksums.
//! - **Deep, sampled**: `deep_sample_percent` of the data objects are read back and re-hashed
//!   against the manifest's SHA-256; encrypted secrets are decrypted (KMS) and their keyed
//!   digest compared; documents must parse.
//! - **Zone restore drill** (`zone_drill`): each zone of the latest snapshot is restored into a
//!   scratch private hosted zone, compared record by record, and the scratch zone deleted.
//! - **Freshness**: a plan with no snapshot fails verification, and so does one whose latest
//!   snapshot is older than its backup schedule allows — 2 × the schedule's period + 1 hour
//!   (`rate(1 day)`: 49 hours; a `cron(…)` by its coarsest restricted field; see
//!   `ops_domain::backup::freshness`). Backups that keep failing are found here even when every
//!   stored object checks out. A failed verification is reported and notified (critical).

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use ops_adapters::s3::backup::{self as s3b};
use ops_domain::backup::freshness;
use ops_domain::backup::manifest::{self, Checksum, Entry, Manifest, TargetKind};
use sha2::{Digest, Sha256};

use crate::context::{Context, HandlerError};
use crate::report::{Report, VerifyReport};
use crate::store::{documents, read_latest_pointer, read_manifest, zone_document};

/// Runs a verification.
pub async fn run(ctx: &Context<'_>) -> Result<Report, HandlerError> {
    let mut report = VerifyReport::default();
    let destination = ctx.destination();
    let manifests = plan_manifests(ctx, &mut report.failures).await?;
    report.snapshots_checked = manifests.len();
    // The latest snapshot, as the pointer names it, among the manifests just read.
    let latest: Option<&Manifest> = match read_latest_pointer(ctx).await? {
        None => None,
        Some(pointer) => {
            let found = manifests.iter().find(|m| m.id == pointer.snapshot);
            if found.is_none() {
                report.failures.push(format!(
                    "latest/{}.json names snapshot {}, which has no manifest",
                    ctx.plan_name, pointer.snapshot
                ));
            }
            found
        }
    };
    if let Some(problem) = freshness::staleness(
        &ctx.plan.schedule.backup,
        latest.map(|m| m.created_at),
        Utc::now(),
    ) {
        report.failures.push(problem);
    }

    // Every distinct data object, with the entries that reference it.
    let mut objects: BTreeMap<&str, &Entry> = BTreeMap::new();
    for manifest in &manifests {
        for entry in &manifest.entries {
            objects.entry(entry.key.as_str()).or_insert(entry);
        }
    }
    report.objects_checked = objects.len();
    if !objects.is_empty() {
        let listed: BTreeMap<String, s3b::ListedObject> =
            s3b::list_prefix(&ctx.s3, destination, &ctx.layout.data_prefix())
                .await?
                .into_iter()
                .map(|o| (o.key.clone(), o))
                .collect();
        for (key, entry) in &objects {
            let full = ctx.layout.key(key);
            match listed.get(&full) {
                None => report
                    .failures
                    .push(format!("{key}: missing ({})", describe_source(entry))),
                Some(found) if found.size != entry.size => report.failures.push(format!(
                    "{key}: size {} where the manifest says {} ({})",
                    found.size,
                    entry.size,
                    describe_source(entry)
                )),
                Some(found) => match &entry.stored_etag {
                    Some(etag) if found.etag.as_deref() != Some(etag.as_str()) => {
                        report.failures.push(format!(
                            "{key}: changed since it was written (ETag {} where the manifest says {etag}) ({})",
                            found.etag.as_deref().unwrap_or("none"),
                            describe_source(entry)
                        ))
                    }
                    Some(_) => {}
                    None => {
                        if let Some(problem) = head_check(ctx, &full, entry).await? {
                            report.failures.push(format!("{key}: {problem}"));
                        }
                    }
                },
            }
        }
    }

    // Deep, sampled.
    let percent = ctx
        .request
        .deep_sample_percent
        .unwrap_or(ctx.plan.verification.deep_sample_percent);
    if percent > 0.0 {
        let failed: BTreeSet<&str> = report
            .failures
            .iter()
            .filter_map(|f| f.split(':').next())
            .collect();
        let sample: Vec<(&str, &Entry)> = objects
            .iter()
            .filter(|(key, _)| !failed.contains(*key))
            .filter(|(key, _)| sampled(key, &ctx.request_id, percent))
            .map(|(k, e)| (*k, *e))
            .collect();
        let mut deep_failures = Vec::new();
        for (key, entry) in &sample {
            if let Some(problem) = deep_check(ctx, key, entry).await? {
                deep_failures.push(format!("{key}: {problem}"));
            }
        }
        report.deep_checked = sample.len();
        report.failures.extend(deep_failures);
    }

    // Zone restore drill on the latest snapshot.
    let drill = ctx
        .request
        .drill
        .unwrap_or(ctx.plan.verification.zone_drill);
    if drill {
        if let Some(latest) = latest {
            report.zones_drilled = drill_zones(ctx, latest, &mut report.failures).await?;
        }
    }
    report.ok = report.failures.is_empty();
    Ok(Report::Verify(report))
}

fn describe_source(entry: &Entry) -> String {
    format!(
        "{:?} {}/{}",
        entry.source.kind, entry.source.container, entry.source.key
    )
    .to_lowercase()
}

/// Every committed manifest of the plan; an unreadable one is a failure, not an abort.
pub async fn plan_manifests(
    ctx: &Context<'_>,
    failures: &mut Vec<String>,
) -> Result<Vec<Manifest>, HandlerError> {
    let prefix = ctx.layout.manifests_prefix(&ctx.plan_name);
    let listed = s3b::list_prefix(&ctx.s3, ctx.destination(), &prefix).await?;
    let mut manifests = Vec::new();
    for object in listed.iter().filter(|o| o.key.ends_with(".json")) {
        match read_manifest(ctx, &object.key).await {
            Ok(manifest) => manifests.push(manifest),
            Err(error @ HandlerError::Document { .. }) => failures.push(error.to_string()),
            Err(error) => return Err(error),
        }
    }
    Ok(manifests)
}

/// Whether `key` is in this run's sample of `percent` percent.
fn sampled(key: &str, run: &str, percent: f64) -> bool {
    if percent >= 100.0 {
        return true;
    }
    let digest = Sha256::digest(format!("{run}|{key}").as_bytes());
    let value = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (f64::from(value) / f64::from(u32::MAX)) * 100.0 < percent
}

async fn head_check(
    ctx: &Context<'_>,
    full: &str,
    entry: &Entry,
) -> Result<Option<String>, HandlerError> {
    let Some(head) = s3b::head(&ctx.s3, ctx.destination(), full).await? else {
        return Ok(Some("missing".into()));
    };
    if head.size != entry.size {
        return Ok(Some(format!(
            "size {} where the manifest says {}",
            head.size, entry.size
        )));
    }
    match (&entry.checksum, &head.checksum) {
        (Some(recorded @ Checksum::Sha256 { .. }), Some(found)) if recorded != found => {
            Ok(Some("checksum differs from the manifest".into()))
        }
        _ => Ok(None),
    }
}

async fn deep_check(
    ctx: &Context<'_>,
    key: &str,
    entry: &Entry,
) -> Result<Option<String>, HandlerError> {
    let full = ctx.layout.key(key);
    let Some((bytes, _)) = s3b::get_bytes(&ctx.s3, ctx.destination(), &full).await? else {
        return Ok(Some("missing".into()));
    };
    if bytes.len() as u64 != entry.size {
        return Ok(Some(format!(
            "read {} bytes where the manifest says {}",
            bytes.len(),
            entry.size
        )));
    }
    if let Some(Checksum::Sha256 { hex: recorded }) = &entry.checksum {
        let found = hex::encode(Sha256::digest(&bytes));
        if &found != recorded {
            return Ok(Some(format!(
                "content SHA-256 {found} differs from the manifest's {recorded}"
            )));
        }
    }
    if entry.encrypted {
        let opened = match ops_adapters::kms::open(
            &ctx.deps.clients.kms,
            &bytes,
            entry.source.container.as_bytes(),
        )
        .await
        {
            Ok(opened) => opened,
            Err(error) => return Ok(Some(format!("cannot be decrypted: {error}"))),
        };
        if entry.digest.as_deref() != Some(opened.digest.as_str()) {
            return Ok(Some(
                "decrypted content differs from the manifest digest".into(),
            ));
        }
        if serde_json::from_slice::<ops_domain::backup::secret::SecretDocument>(&opened.plaintext)
            .is_err()
        {
            return Ok(Some("decrypted document is not a secret document".into()));
        }
    } else if entry.source.kind != TargetKind::S3 && entry.source.key.ends_with(".json") {
        let parses = match entry.source.kind {
            TargetKind::Route53 => {
                serde_json::from_slice::<ops_domain::backup::zone::ZoneDocument>(&bytes).is_ok()
            }
            TargetKind::Ecs => {
                serde_json::from_slice::<ops_domain::backup::ecs::ServiceDocument>(&bytes).is_ok()
            }
            _ => true,
        };
        if !parses {
            return Ok(Some("document does not parse".into()));
        }
    }
    Ok(None)
}

/// Used by the manifest readers: the manifest key of a snapshot id.
pub fn manifest_key(ctx: &Context<'_>, id: &manifest::SnapshotId) -> String {
    ctx.layout.manifest_key(&ctx.plan_name, id)
}

/// The zone restore drill: each zone of `manifest` restored into a scratch private hosted
/// zone, compared record by record, then deleted. Returns the number of zones drilled.
pub async fn drill_zones(
    ctx: &Context<'_>,
    manifest: &Manifest,
    failures: &mut Vec<String>,
) -> Result<usize, HandlerError> {
    let Some(vpc) = &ctx.plan.verification.drill_vpc else {
        failures.push("zone drill: no `drill_vpc` configured".into());
        return Ok(0);
    };
    let route53 = &ctx.deps.clients.route53;
    let vpc = ops_domain::backup::zone::ZoneVpc {
        id: vpc.id.clone(),
        region: vpc.region.clone(),
    };
    let mut drilled = 0;
    for entry in documents(manifest, TargetKind::Route53, "zone.json") {
        let doc = zone_document(ctx, entry).await?;
        let reference: String = format!("drill-{}-{}", ctx.request_id, doc.zone.id)
            .chars()
            .take(128)
            .collect();
        let scratch = ops_adapters::route53::backup::create_scratch_zone(
            route53,
            &doc.zone.name,
            &vpc,
            &reference,
        )
        .await
        .map_err(|e| HandlerError::Restore(format!("zone drill {}: {e}", doc.zone.name)))?;
        let options = ops_adapters::route53::backup::RestoreZoneOptions {
            apply: true,
            include_apex_soa_ns: false,
            idempotency_seed: reference.clone(),
        };
        let outcome = async {
            let restored =
                ops_adapters::route53::backup::restore_zone(route53, &doc, &scratch, &options)
                    .await?;
            let live = ops_adapters::route53::backup::live_records(route53, &scratch).await?;
            Ok::<_, ops_adapters::route53::backup::ZoneBackupError>((restored.desired, live))
        }
        .await;
        match outcome {
            Ok((desired, live)) => {
                for difference in
                    ops_domain::backup::zone::compare_for_drill(&desired, &live, &doc.zone.name)
                {
                    failures.push(format!("zone drill {}: {difference}", doc.zone.name));
                }
            }
            Err(error) => failures.push(format!(
                "zone drill {}: restore failed: {error}",
                doc.zone.name
            )),
        }
        if let Err(error) = ops_adapters::route53::backup::delete_zone(route53, &scratch).await {
            failures.push(format!(
                "zone drill {}: scratch zone {scratch} not deleted: {error}",
                doc.zone.name
            ));
        }
        drilled += 1;
    }
    Ok(drilled)
}

#[cfg(test)]
mod tests {
    use super::sampled;

    #[test]
    fn sampling_takes_about_the_percent_asked_and_differs_per_run() {
        let keys: Vec<String> = (0..10_000).map(|i| format!("data/{i}")).collect();
        let count =
            |run: &str, percent: f64| keys.iter().filter(|k| sampled(k, run, percent)).count();
        assert_eq!(count("r1", 0.0), 0);
        assert_eq!(count("r1", 100.0), 10_000);
        let five = count("r1", 5.0);
        assert!((400..600).contains(&five), "{five}");
        let first: Vec<&String> = keys.iter().filter(|k| sampled(k, "r1", 5.0)).collect();
        let second: Vec<&String> = keys.iter().filter(|k| sampled(k, "r2", 5.0)).collect();
        assert_ne!(first, second, "each run samples other objects");
    }
}
