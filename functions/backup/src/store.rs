//! Reading the backup bucket: manifests, the plan's `latest` pointer, and backed-up data and
//! documents.

use ops_adapters::s3::backup::{self as s3b};
use ops_domain::backup::manifest::{self, Entry, LatestPointer, Manifest, TargetKind};
use ops_domain::backup::zone::ZoneDocument;

use crate::context::{Context, HandlerError};

/// The plan's latest committed manifest, its key and the pointer's ETag.
#[derive(Debug)]
pub struct Latest {
    /// The manifest.
    pub manifest: Manifest,
    /// Its key.
    pub key: String,
    /// ETag of the `latest` pointer.
    pub etag: String,
}

/// The plan's latest committed manifest and its key, if any.
pub async fn latest_manifest(
    ctx: &Context<'_>,
) -> Result<Option<(Manifest, String)>, HandlerError> {
    Ok(read_latest(ctx).await?.map(|l| (l.manifest, l.key)))
}

/// The plan's `latest` pointer, if any.
pub async fn read_latest_pointer(ctx: &Context<'_>) -> Result<Option<LatestPointer>, HandlerError> {
    Ok(read_pointer(ctx).await?.map(|(pointer, _)| pointer))
}

async fn read_pointer(ctx: &Context<'_>) -> Result<Option<(LatestPointer, String)>, HandlerError> {
    let destination = ctx.destination();
    let latest_key = ctx.layout.latest_key(&ctx.plan_name);
    let Some((bytes, etag)) = s3b::get_bytes(&ctx.s3, destination, &latest_key).await? else {
        return Ok(None);
    };
    let pointer = manifest::parse_latest(&bytes).map_err(|source| HandlerError::Document {
        key: format!("s3://{}/{latest_key}", destination.name),
        source,
    })?;
    Ok(Some((pointer, etag)))
}

/// The plan's latest committed snapshot, if any.
pub async fn read_latest(ctx: &Context<'_>) -> Result<Option<Latest>, HandlerError> {
    let Some((pointer, etag)) = read_pointer(ctx).await? else {
        return Ok(None);
    };
    let key = ctx.layout.key(&pointer.manifest_key);
    let manifest = read_manifest(ctx, &key).await?;
    Ok(Some(Latest {
        manifest,
        key,
        etag,
    }))
}

/// Reads and checks one manifest.
pub async fn read_manifest(ctx: &Context<'_>, key: &str) -> Result<Manifest, HandlerError> {
    let destination = ctx.destination();
    let Some((bytes, _)) = s3b::get_bytes(&ctx.s3, destination, key).await? else {
        return Err(HandlerError::NoSuchSnapshot(format!(
            "s3://{}/{key}",
            destination.name
        )));
    };
    manifest::parse_manifest(&bytes).map_err(|source| HandlerError::Document {
        key: format!("s3://{}/{key}", destination.name),
        source,
    })
}

/// The entries of `manifest` that are documents of `kind` named `name`.
pub fn documents<'m>(
    manifest: &'m Manifest,
    kind: TargetKind,
    name: &'m str,
) -> impl Iterator<Item = &'m Entry> {
    manifest
        .entries
        .iter()
        .filter(move |e| e.source.kind == kind && e.source.key == name)
}

/// A backed-up document that does not parse.
pub fn document_error(ctx: &Context<'_>, entry: &Entry, error: serde_json::Error) -> HandlerError {
    HandlerError::Document {
        key: format!(
            "s3://{}/{}",
            ctx.plan.destination.bucket,
            ctx.layout.key(&entry.key)
        ),
        source: ops_domain::backup::manifest::DocumentError::Invalid {
            what: "backed-up document",
            reason: error.to_string(),
        },
    }
}

/// A data object's bytes.
pub async fn data(ctx: &Context<'_>, entry: &Entry) -> Result<Vec<u8>, HandlerError> {
    let key = ctx.layout.key(&entry.key);
    s3b::get_bytes(&ctx.s3, ctx.destination(), &key)
        .await?
        .map(|(bytes, _)| bytes)
        .ok_or_else(|| HandlerError::Restore(format!("data object {key} is missing (run verify)")))
}

/// A backed-up zone document.
pub async fn zone_document(ctx: &Context<'_>, entry: &Entry) -> Result<ZoneDocument, HandlerError> {
    let bytes = data(ctx, entry).await?;
    serde_json::from_slice(&bytes).map_err(|e| document_error(ctx, entry, e))
}
