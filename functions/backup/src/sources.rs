//! Reading the plan's targets: S3 prefixes are listed (their objects are copied server-side
//! later); zones, ECS services and secrets are exported and rendered into documents here.
//!
//! | target | container | documents |
//! | --- | --- | --- |
//! | S3 prefix | bucket | one entry per object (zero-byte folder markers too), key = object key, with its metadata |
//! | Route53 zone | zone id | `zone.json` (every record set, routing policies, health checks), `zone.txt` (BIND-style) |
//! | ECS | cluster | `service/<name>.json` (service configuration and task definitions) |
//! | secret | secret ARN | `versions.json`, encrypted client-side (AES-256-GCM, KMS data key) |
//!
//! A target that is missing or unreadable fails the run with an error naming it: no snapshot
//! is committed that silently lacks a target.

use std::collections::{BTreeMap, HashMap};

use futures_util::stream::{self, StreamExt};
use ops_adapters::s3::backup::{self as s3b, Bucket};
use ops_domain::backup::manifest::{
    self, Checksum, Entry, Manifest, SnapshotId, SourceObject, SourceRef, TargetKind,
};
use ops_domain::config::S3BackupTarget;
use sha2::{Digest, Sha256};

use crate::context::{Context, HandlerError};

/// A rendered document to store.
#[derive(Debug, Clone)]
pub struct Document {
    /// Its bytes (ciphertext for secrets).
    pub bytes: Vec<u8>,
    /// Content type.
    pub content_type: &'static str,
}

/// Everything read from the targets.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Every object and document, as the planner sees them.
    pub listing: Vec<SourceObject>,
    /// The rendered documents by source.
    pub documents: HashMap<SourceRef, Document>,
    /// The targets.
    pub targets: Vec<SourceRef>,
}

impl Gathered {
    fn document(
        &mut self,
        source: SourceRef,
        bytes: Vec<u8>,
        content_type: &'static str,
        encrypted: bool,
        digest: Option<String>,
    ) {
        self.listing
            .push(document_object(source.clone(), &bytes, encrypted, digest));
        self.documents.insert(
            source,
            Document {
                bytes,
                content_type,
            },
        );
    }
}

fn target(kind: TargetKind, container: &str, key: &str) -> SourceRef {
    SourceRef {
        kind,
        container: container.to_owned(),
        key: key.to_owned(),
    }
}

/// Reads every target of the plan; `previous` (the plan's latest snapshot) tells which S3
/// objects' metadata is already known.
pub async fn gather(
    ctx: &Context<'_>,
    snapshot: &SnapshotId,
    previous: Option<&Manifest>,
) -> Result<Gathered, HandlerError> {
    let mut gathered = Gathered::default();
    let targets = &ctx.plan.targets;
    let clients = &ctx.deps.clients;

    let previous: HashMap<&SourceRef, &Entry> = previous
        .map(|m| m.entries.iter().map(|e| (&e.source, e)).collect())
        .unwrap_or_default();
    for s3 in &targets.s3 {
        let objects = list_s3(ctx, s3, &previous).await?;
        gathered
            .targets
            .push(target(TargetKind::S3, &s3.bucket, &s3.prefix));
        gathered.listing.extend(objects);
    }

    for zone in &targets.route53 {
        let name = zone
            .zone_id
            .as_deref()
            .or(zone.zone_name.as_deref())
            .unwrap_or_default();
        let doc = ops_adapters::route53::backup::export_zone(
            &clients.route53,
            zone.zone_id.as_deref(),
            zone.zone_name.as_deref(),
        )
        .await
        .map_err(|error| {
            let transient = error.is_transient();
            HandlerError::source(format!("route53:{name}"), error, transient)
        })?;
        let id = doc.zone.id.clone();
        gathered.targets.push(target(TargetKind::Route53, &id, ""));
        let json = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        let bind = ops_domain::backup::zone::render_bind(&doc).into_bytes();
        gathered.document(
            target(TargetKind::Route53, &id, "zone.json"),
            json,
            "application/json",
            false,
            None,
        );
        gathered.document(
            target(TargetKind::Route53, &id, "zone.txt"),
            bind,
            "text/plain; charset=utf-8",
            false,
            None,
        );
    }

    for ecs in &targets.ecs {
        let docs = ops_adapters::ecs::backup::export_services(
            &clients.ecs,
            &ecs.cluster,
            &ecs.services,
            ecs.revisions,
        )
        .await
        .map_err(|error| {
            let transient = error.is_transient();
            HandlerError::source(format!("ecs:{}", ecs.cluster), error, transient)
        })?;
        gathered
            .targets
            .push(target(TargetKind::Ecs, &ecs.cluster, ""));
        for doc in docs {
            let json = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            gathered.document(
                target(
                    TargetKind::Ecs,
                    &ecs.cluster,
                    &format!("service/{}.json", doc.service.name),
                ),
                json,
                "application/json",
                false,
                None,
            );
        }
    }

    if !targets.secrets.is_empty() {
        let Some(encryption) = &ctx.plan.encryption else {
            return Err(HandlerError::InvalidInput(format!(
                "plan {} backs up secrets but has no `encryption.kms_key`",
                ctx.plan_name
            )));
        };
        let context = encryption_context(&ctx.plan_name, snapshot);
        let key = ops_adapters::kms::generate_data_key(&clients.kms, &encryption.kms_key, &context)
            .await?;
        for id in &targets.secrets {
            let doc = ops_adapters::secretsmanager::backup::export_secret(&clients.secrets, id)
                .await
                .map_err(|error| {
                    let transient = error.is_transient();
                    HandlerError::source(format!("secret:{id}"), error, transient)
                })?;
            let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(&doc).unwrap_or_default());
            let sealed = key.seal(&plaintext, doc.arn.as_bytes())?;
            gathered
                .targets
                .push(target(TargetKind::Secret, &doc.arn, ""));
            gathered.document(
                target(TargetKind::Secret, &doc.arn, "versions.json"),
                sealed.bytes,
                "application/json",
                true,
                Some(sealed.digest),
            );
        }
    }
    Ok(gathered)
}

/// Lists one S3 target with each object's metadata. `ListObjectsV2` does not return metadata:
/// an object listed with the size, ETag and `LastModified` its previous entry recorded keeps
/// that entry's metadata (S3 changes metadata only by rewriting the object, which moves
/// `LastModified`); every other object — new, changed, rewritten, or recorded before metadata
/// was kept — costs one `HeadObject`. With `tags: true` every object's tags are read on every
/// run (`GetObjectTagging`): tags change without a rewrite. Zero-byte folder markers (`a/b/`)
/// are kept like any object, so a restore reproduces the prefix. An object deleted between the
/// listing and its `HeadObject` is left out (it is gone).
async fn list_s3(
    ctx: &Context<'_>,
    s3: &S3BackupTarget,
    previous: &HashMap<&SourceRef, &Entry>,
) -> Result<Vec<SourceObject>, HandlerError> {
    let clients = &ctx.deps.clients;
    let name = format!("s3://{}/{}", s3.bucket, s3.prefix);
    let source_error = |error: s3b::BackupS3Error| match error {
        s3b::BackupS3Error::NoSuchBucket { .. } => {
            HandlerError::source(&name, "the source bucket does not exist", false)
        }
        other => {
            let transient = other.is_transient();
            HandlerError::source(&name, other, transient)
        }
    };
    let bucket = Bucket::new(&s3.bucket);
    let objects = s3b::list_prefix(&clients.s3, bucket, &s3.prefix)
        .await
        .map_err(source_error)?;
    let read: Vec<Result<Option<SourceObject>, s3b::BackupS3Error>> =
        stream::iter(objects.into_iter().map(|object| {
            let source = target(TargetKind::S3, &s3.bucket, &object.key);
            let known = manifest::known_metadata(
                previous.get(&source).copied(),
                object.size,
                object.etag.as_deref(),
                object.last_modified,
            )
            .cloned();
            async move {
                let metadata = match known {
                    Some(mut metadata) => {
                        metadata.tags = None;
                        if s3.tags {
                            match s3b::read_tags(&clients.s3, bucket, &object.key).await? {
                                Some(tags) => metadata.tags = Some(tags),
                                None => return Ok(None),
                            }
                        }
                        metadata
                    }
                    None => {
                        match s3b::read_metadata(&clients.s3, bucket, &object.key, s3.tags).await? {
                            Some((metadata, _)) => metadata,
                            None => return Ok(None),
                        }
                    }
                };
                Ok(Some(SourceObject {
                    source,
                    size: object.size,
                    checksum: None,
                    version_id: None,
                    etag: object.etag,
                    encrypted: false,
                    digest: None,
                    metadata: Some(metadata),
                    last_modified: object.last_modified,
                }))
            }
        }))
        .buffer_unordered(ctx.deps.settings.concurrency.max(1))
        .collect()
        .await;
    let mut listing = Vec::with_capacity(read.len());
    for object in read {
        if let Some(object) = object.map_err(source_error)? {
            listing.push(object);
        }
    }
    Ok(listing)
}

/// The KMS encryption context of a snapshot's data key.
pub fn encryption_context(plan: &str, snapshot: &SnapshotId) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("backup:plan".to_owned(), plan.to_owned()),
        ("backup:snapshot".to_owned(), snapshot.to_string()),
    ])
}

/// A rendered document's listing entry: content-addressed by its SHA-256.
pub fn document_object(
    source: SourceRef,
    bytes: &[u8],
    encrypted: bool,
    digest: Option<String>,
) -> SourceObject {
    SourceObject {
        source,
        size: bytes.len() as u64,
        checksum: Some(Checksum::Sha256 {
            hex: hex::encode(Sha256::digest(bytes)),
        }),
        version_id: None,
        etag: None,
        encrypted,
        digest,
        metadata: None,
        last_modified: None,
    }
}
