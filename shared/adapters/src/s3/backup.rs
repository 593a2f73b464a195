//! S3 for the backup function: listing source prefixes and the backup bucket, server-side
//! copies into content-addressed data keys (`CopyObject`, multipart `UploadPartCopy` above
//! 5 GiB), conditional writes of manifests and pointers, checksum-bearing heads, reading and
//! setting an object's metadata (headers, user metadata, tags), batched deletes and Object Lock
//! retention.
//!
//! Every request to the backup bucket carries `ExpectedBucketOwner` when the destination names
//! an account, so a bucket that changed hands is never written to or read from.

use aws_sdk_s3::primitives::ByteStream;
use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, Delete,
    MetadataDirective, ObjectIdentifier, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode, TaggingDirective,
};
use aws_smithy_types::DateTime as SmithyDateTime;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ops_domain::backup::manifest::{Checksum, ObjectMetadata, Stored};

use crate::error::{bounded, status, AwsCallError, FailureKind, MAX_MESSAGE};

/// The largest object a single `CopyObject` copies (5 GiB); larger ones go multipart.
pub const MAX_SINGLE_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// Part size of multipart copies: 512 MiB (a 5 TiB object stays under 10,000 parts).
pub const COPY_PART_SIZE: u64 = 512 * 1024 * 1024;

/// Errors of the backup bucket and source buckets.
#[derive(Debug, thiserror::Error)]
pub enum BackupS3Error {
    /// The bucket does not exist (or belongs to another account than the expected owner).
    #[error("bucket s3://{bucket} does not exist or is not owned by the expected account")]
    NoSuchBucket {
        /// Bucket.
        bucket: String,
    },
    /// Access was denied.
    #[error("{operation} s3://{bucket}/{key} was denied: {message}")]
    Denied {
        /// The S3 operation.
        operation: &'static str,
        /// Bucket.
        bucket: String,
        /// Key or prefix.
        key: String,
        /// What S3 said.
        message: String,
    },
    /// Any other failure, after the SDK's retries; the target is `s3://bucket/key-or-prefix`.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl BackupS3Error {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, BackupS3Error::Aws(call) if call.is_transient())
    }
}

/// How an error names a key (or prefix) of a bucket.
fn s3_target(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{}", bounded(key, MAX_MESSAGE))
}

fn s3_error<E, R>(
    operation: &'static str,
    bucket: &str,
    key: &str,
    error: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> BackupS3Error
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + crate::error::HttpStatus + 'static,
{
    // One classification for the suite: code, capped message, status, never the body.
    let call = AwsCallError::from_sdk(operation, error);
    if call.has_code("NoSuchBucket") {
        return BackupS3Error::NoSuchBucket {
            bucket: bucket.to_owned(),
        };
    }
    if call.status == Some(403) || call.has_code("AccessDenied") {
        return BackupS3Error::Denied {
            operation,
            bucket: bucket.to_owned(),
            key: bounded(key, MAX_MESSAGE),
            message: call.detail(),
        };
    }
    BackupS3Error::Aws(call.on(s3_target(bucket, key)))
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Its key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag, quotes removed.
    pub etag: Option<String>,
    /// Last modification.
    pub last_modified: Option<DateTime<Utc>>,
}

/// A bucket, and the account that must own it.
#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    /// Bucket name.
    pub name: &'a str,
    /// Expected owner account id (`ExpectedBucketOwner`).
    pub owner: Option<&'a str>,
}

impl<'a> Bucket<'a> {
    /// A bucket of this account.
    pub fn new(name: &'a str) -> Self {
        Bucket { name, owner: None }
    }
}

fn to_chrono(time: &SmithyDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

fn to_smithy(time: DateTime<Utc>) -> SmithyDateTime {
    SmithyDateTime::from_secs(time.timestamp())
}

/// Unquoted ETag.
pub fn bare_etag(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

/// Lists every object under `prefix` (`ListObjectsV2`, 1,000 keys a request).
pub async fn list_prefix(
    client: &aws_sdk_s3::Client,
    bucket: Bucket<'_>,
    prefix: &str,
) -> Result<Vec<ListedObject>, BackupS3Error> {
    let mut objects = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let output = client
            .list_objects_v2()
            .bucket(bucket.name)
            .prefix(prefix)
            .set_expected_bucket_owner(bucket.owner.map(str::to_owned))
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| s3_error("ListObjectsV2", bucket.name, prefix, &e))?;
        for object in output.contents() {
            let Some(key) = object.key() else { continue };
            objects.push(ListedObject {
                key: key.to_owned(),
                size: object.size().unwrap_or_default().max(0) as u64,
                etag: object.e_tag().map(bare_etag),
                last_modified: object.last_modified().and_then(to_chrono),
            });
        }
        match output.next_continuation_token() {
            Some(next) if output.is_truncated() == Some(true) => token = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(objects)
}

/// A server-side copy into the backup bucket.
#[derive(Debug, Clone)]
pub struct CopyRequest<'a> {
    /// Source bucket.
    pub source: Bucket<'a>,
    /// Source key.
    pub source_key: &'a str,
    /// Source version (versioned buckets), when pinned.
    pub source_version: Option<&'a str>,
    /// Source size (decides single or multipart copy).
    pub size: u64,
    /// Destination bucket.
    pub destination: Bucket<'a>,
    /// Destination key.
    pub destination_key: &'a str,
    /// Object Lock retain-until date (GOVERNANCE mode), when the bucket has Object Lock.
    pub retain_until: Option<DateTime<Utc>>,
    /// The copy's metadata (`MetadataDirective: REPLACE`): its headers and user metadata, and
    /// its tags (`TaggingDirective: REPLACE`; none when `tags` is `None`). `None`: the copy
    /// keeps the source's metadata and tags (`COPY`).
    pub metadata: Option<&'a ObjectMetadata>,
}

/// `k=v&k=v`, URL-encoded: the form of `x-amz-tagging`.
fn tagging(tags: &BTreeMap<String, String>) -> String {
    fn encode(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(byte as char)
                }
                other => out.push_str(&format!("%{other:02X}")),
            }
        }
        out
    }
    tags.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn user_metadata(metadata: &ObjectMetadata) -> Option<std::collections::HashMap<String, String>> {
    Some(
        metadata
            .user
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

fn copy_source(bucket: &str, key: &str, version: Option<&str>) -> String {
    // CopySource is `bucket/key` with the key URL-encoded; `/` may stay.
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(byte as char)
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    match version {
        Some(version) => format!("{bucket}/{encoded}?versionId={version}"),
        None => format!("{bucket}/{encoded}"),
    }
}

fn sha256_checksum(base64_value: Option<&str>) -> Option<Checksum> {
    let value = base64_value?;
    // A composite (multipart) checksum ends in `-<parts>`: keep it as S3 reports it.
    if value.contains('-') {
        return Some(Checksum::S3 {
            algorithm: "SHA256".into(),
            value: value.to_owned(),
        });
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    (bytes.len() == 32).then(|| Checksum::Sha256 {
        hex: hex::encode(bytes),
    })
}

/// Copies one object server-side, asking S3 for a SHA-256 of what it stores. Objects above
/// 5 GiB are copied in 512 MiB parts with `UploadPartCopy` (the upload is aborted on failure).
pub async fn copy_object(
    client: &aws_sdk_s3::Client,
    request: &CopyRequest<'_>,
) -> Result<Stored, BackupS3Error> {
    if request.size > MAX_SINGLE_COPY {
        return copy_multipart(client, request).await;
    }
    let source = copy_source(
        request.source.name,
        request.source_key,
        request.source_version,
    );
    let mut call = client
        .copy_object()
        .bucket(request.destination.name)
        .key(request.destination_key)
        .copy_source(source)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .set_expected_bucket_owner(request.destination.owner.map(str::to_owned))
        .set_expected_source_bucket_owner(request.source.owner.map(str::to_owned));
    if let Some(until) = request.retain_until {
        call = call
            .object_lock_mode(ObjectLockMode::Governance)
            .object_lock_retain_until_date(to_smithy(until));
    }
    if let Some(metadata) = request.metadata {
        call = call
            .metadata_directive(MetadataDirective::Replace)
            .set_content_type(metadata.content_type.clone())
            .set_content_encoding(metadata.content_encoding.clone())
            .set_cache_control(metadata.cache_control.clone())
            .set_content_disposition(metadata.content_disposition.clone())
            .set_metadata(user_metadata(metadata))
            .tagging_directive(TaggingDirective::Replace)
            .set_tagging(metadata.tags.as_ref().map(tagging));
    }
    let output = call
        .send()
        .await
        .map_err(|e| s3_error("CopyObject", request.source.name, request.source_key, &e))?;
    let result = output.copy_object_result();
    Ok(Stored {
        etag: result.and_then(|r| r.e_tag()).map(bare_etag),
        checksum: sha256_checksum(result.and_then(|r| r.checksum_sha256())),
        version_id: output.copy_source_version_id().map(str::to_owned),
    })
}

async fn copy_multipart(
    client: &aws_sdk_s3::Client,
    request: &CopyRequest<'_>,
) -> Result<Stored, BackupS3Error> {
    let (bucket, key) = (request.destination.name, request.destination_key);
    let mut create = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .set_expected_bucket_owner(request.destination.owner.map(str::to_owned));
    if let Some(until) = request.retain_until {
        create = create
            .object_lock_mode(ObjectLockMode::Governance)
            .object_lock_retain_until_date(to_smithy(until));
    }
    // Parts carry no metadata: a multipart copy's metadata is the upload's own.
    if let Some(metadata) = request.metadata {
        create = create
            .set_content_type(metadata.content_type.clone())
            .set_content_encoding(metadata.content_encoding.clone())
            .set_cache_control(metadata.cache_control.clone())
            .set_content_disposition(metadata.content_disposition.clone())
            .set_metadata(user_metadata(metadata))
            .set_tagging(metadata.tags.as_ref().map(tagging));
    }
    let upload = create
        .send()
        .await
        .map_err(|e| s3_error("CreateMultipartUpload", bucket, key, &e))?;
    let upload_id = upload.upload_id().unwrap_or_default().to_owned();
    let result = copy_parts(client, request, &upload_id).await;
    match result {
        Ok(stored) => Ok(stored),
        Err(error) => {
            // Best effort: the bucket's lifecycle rule aborts anything left after 7 days.
            let _ = client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .set_expected_bucket_owner(request.destination.owner.map(str::to_owned))
                .send()
                .await;
            Err(error)
        }
    }
}

async fn copy_parts(
    client: &aws_sdk_s3::Client,
    request: &CopyRequest<'_>,
    upload_id: &str,
) -> Result<Stored, BackupS3Error> {
    let (bucket, key) = (request.destination.name, request.destination_key);
    let source = copy_source(
        request.source.name,
        request.source_key,
        request.source_version,
    );
    let mut parts = Vec::new();
    let mut version_id = None;
    let mut start = 0u64;
    let mut number = 1i32;
    while start < request.size {
        let end = (start + COPY_PART_SIZE).min(request.size) - 1;
        let output = client
            .upload_part_copy()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .copy_source(&source)
            .copy_source_range(format!("bytes={start}-{end}"))
            .set_expected_bucket_owner(request.destination.owner.map(str::to_owned))
            .set_expected_source_bucket_owner(request.source.owner.map(str::to_owned))
            .send()
            .await
            .map_err(|e| {
                s3_error(
                    "UploadPartCopy",
                    request.source.name,
                    request.source_key,
                    &e,
                )
            })?;
        version_id = output.copy_source_version_id().map(str::to_owned);
        let result = output.copy_part_result();
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(result.and_then(|r| r.e_tag()).map(str::to_owned))
                .set_checksum_sha256(result.and_then(|r| r.checksum_sha256()).map(str::to_owned))
                .build(),
        );
        start = end + 1;
        number += 1;
    }
    let output = client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .set_expected_bucket_owner(request.destination.owner.map(str::to_owned))
        .send()
        .await
        .map_err(|e| s3_error("CompleteMultipartUpload", bucket, key, &e))?;
    Ok(Stored {
        etag: output.e_tag().map(bare_etag),
        checksum: sha256_checksum(output.checksum_sha256()),
        version_id,
    })
}

/// The condition a write is made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition<'a> {
    /// Unconditional (content-addressed data: the same key always holds the same bytes).
    None,
    /// `If-None-Match: *`: the key must not exist (manifests).
    Absent,
    /// `If-Match`: the key must still have this ETag (the `latest` pointer).
    Etag(&'a str),
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written; what S3 reported.
    Stored(Stored),
    /// The condition failed: the key exists (`Absent`) or changed (`Etag`).
    Lost,
}

/// Writes `body` to `key` with a SHA-256 checksum S3 verifies on arrival.
pub async fn put_bytes(
    client: &aws_sdk_s3::Client,
    bucket: Bucket<'_>,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    condition: Condition<'_>,
    retain_until: Option<DateTime<Utc>>,
) -> Result<Written, BackupS3Error> {
    use sha2::Digest as _;
    let sha = sha2::Sha256::digest(&body);
    let mut call = client
        .put_object()
        .bucket(bucket.name)
        .key(key)
        .content_type(content_type)
        // The algorithm header is what S3 requires of a write under Object Lock.
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(sha))
        .set_expected_bucket_owner(bucket.owner.map(str::to_owned))
        .body(ByteStream::from(body));
    call = match condition {
        Condition::None => call,
        Condition::Absent => call.if_none_match("*"),
        Condition::Etag(etag) => call.if_match(etag),
    };
    if let Some(until) = retain_until {
        call = call
            .object_lock_mode(ObjectLockMode::Governance)
            .object_lock_retain_until_date(to_smithy(until));
    }
    match call.send().await {
        Ok(output) => Ok(Written::Stored(Stored {
            etag: output.e_tag().map(bare_etag),
            checksum: Some(Checksum::Sha256 {
                hex: hex::encode(sha),
            }),
            version_id: None,
        })),
        Err(error) => match (condition, status(&error)) {
            (Condition::Absent | Condition::Etag(_), Some(412 | 409)) => Ok(Written::Lost),
            (Condition::Etag(_), Some(404)) => Ok(Written::Lost),
            _ => Err(s3_error("PutObject", bucket.name, key, &error)),
        },
    }
}

/// An object's bytes and ETag; `None` when the key does not exist.
pub async fn get_bytes(
    client: &aws_sdk_s3::Client,
    bucket: Bucket<'_>,
    key: &str,
) -> Result<Option<(Vec<u8>, String)>, BackupS3Error> {
    let output = match client
        .get_object()
        .bucket(bucket.name)
        .key(key)
        .set_expected_bucket_owner(bucket.owner.map(str::to_owned))
        .send()
        .await
    {
        Ok(output) => output,
        Err(error) if status(&error) == Some(404) && !no_such_bucket(&error) => return Ok(None),
        Err(error) => return Err(s3_error("GetObject", bucket.name, key, &error)),
    };
    let etag = output.e_tag().map(bare_etag).unwrap_or_default();
    let body = output.body.collect().await.map_err(|error| {
        AwsCallError::other("GetObject", FailureKind::Connection, error.to_string())
            .on(s3_target(bucket.name, key))
    })?;
    Ok(Some((body.into_bytes().to_vec(), etag)))
}

fn no_such_bucket<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(
    error: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool {
    error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "NoSuchBucket")
}

/// What `HeadObject` says of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Size.
    pub size: u64,
    /// ETag.
    pub etag: Option<String>,
    /// Its checksum (asked for with `ChecksumMode: ENABLED`).
    pub checksum: Option<Checksum>,
}

/// `HeadObject` with checksums; `None` when the key does not exist.
pub async fn head(
    client: &aws_sdk_s3::Client,
    bucket: Bucket<'_>,
    key: &str,
) -> Result<Option<Head>, BackupS3Error> {
    match client
        .head_object()
        .bucket(bucket.name)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .set_expected_bucket_owner(bucket.owner.map(str::to_owned))
        .send()
        .await
    {
        Ok(output) => Ok(Some(Head {
            size: output.content_length().unwrap_or_default().max(0) as u64,
            etag: output.e_tag().map(bare_etag),
            checksum: sha256_checksum(output.checksum_sha256()),
        })),
        Err(error) if status(&error) == Some(404) => Ok(None),
        Err(error) => Err(s3_error("HeadObject", bucket.name, key, &error)),
    }
}

/// An object's metadata (`HeadObject`, and `GetObjectTagging` when `with_tags`) and its
/// `LastModified`; `None` when the key does not exist.
pub async fn read_metadata(
    client: &aws_sdk_s3::Client,
    bucket: Bucket<'_>,
    key: &str,
    with_tags: bool,
) -> Result<Option<(ObjectMetadata, Option<DateTime<Utc>>)>, BackupS3Error> {
    let output = match client
        .head_object()
        .bucket(bucket.name)
        .key(key)
        .set_expected_bucket_owner(bucket.owner.map(str::to_owned))
        .send()
        .await
    {
        Ok(output) => output,
        Err(error) if status(&error) == Some(404) => return Ok(None),
        Err(error) => return Err(s3_error("HeadObject", bucket.name, key, &error)),
    };
    let mut metadata = ObjectMetadata {
        content_type: output.content_type().map(str::to_owned),
        content_encoding: output.content_encoding().map(str::to_owned),
        cache_control: output.cache_control().map(str::to_owned),
        content_disposition: output.content_disposition().map(str::to_owned),
        user: output
            .metadata()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        tags: None,
    };
    if with_tags {
        match read_tags(client, bucket, key).await? {
            Some(tags) => metadata.tags = Some(tags),
            None => return Ok(None),
        }
    }
    Ok(Some((metadata, output.last_modified().and_then(to_chrono))))
}

/// An object's tags (`GetObjectTagging`); `None` when the key does not exist.
pub async fn read_tags(
    client: &aws_sdk_s3::Client,
    bucket: Bucket<'_>,
    key: &str,
) -> Result<Option<BTreeMap<String, String>>, BackupS3Error> {
    match client
        .get_object_tagging()
        .bucket(bucket.name)
        .key(key)
        .set_expected_bucket_owner(bucket.owner.map(str::to_owned))
        .send()
        .await
    {
        Ok(tagged) => Ok(Some(
            tagged
                .tag_set()
                .iter()
                .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
                .collect(),
        )),
        Err(error) if status(&error) == Some(404) && !no_such_bucket(&error) => Ok(None),
        Err(error) => Err(s3_error("GetObjectTagging", bucket.name, key, &error)),
    }
}

/// What a batched delete did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Keys deleted (or already absent).
    pub deleted: usize,
    /// Keys S3 refused, with its error code (`AccessDenied` for an object under Object Lock).
    pub refused: Vec<(String, String)>,
}

/// Deletes keys with `DeleteObjects`, 1,000 a request.
pub async fn delete_keys(
    client: &aws_sdk_s3::Client,
    bucket: Bucket<'_>,
    keys: &[String],
) -> Result<Deleted, BackupS3Error> {
    let mut outcome = Deleted::default();
    for chunk in keys.chunks(1000) {
        let objects: Vec<ObjectIdentifier> = chunk
            .iter()
            .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
            .collect();
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| {
                AwsCallError::other("DeleteObjects", FailureKind::Construction, e.to_string())
                    .on(s3_target(bucket.name, ""))
            })?;
        let output = client
            .delete_objects()
            .bucket(bucket.name)
            .delete(delete)
            .set_expected_bucket_owner(bucket.owner.map(str::to_owned))
            .send()
            .await
            .map_err(|e| s3_error("DeleteObjects", bucket.name, "", &e))?;
        let refused: Vec<(String, String)> = output
            .errors()
            .iter()
            .map(|e| {
                (
                    e.key().unwrap_or_default().to_owned(),
                    e.code().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        outcome.deleted += chunk.len() - refused.len();
        outcome.refused.extend(refused);
    }
    Ok(outcome)
}

/// Extends an object's Object Lock retention (GOVERNANCE) to `until`.
pub async fn extend_retention(
    client: &aws_sdk_s3::Client,
    bucket: Bucket<'_>,
    key: &str,
    until: DateTime<Utc>,
) -> Result<(), BackupS3Error> {
    client
        .put_object_retention()
        .bucket(bucket.name)
        .key(key)
        .retention(
            ObjectLockRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .retain_until_date(to_smithy(until))
                .build(),
        )
        .set_expected_bucket_owner(bucket.owner.map(str::to_owned))
        .send()
        .await
        .map_err(|e| s3_error("PutObjectRetention", bucket.name, key, &e))?;
    Ok(())
}

/// Whether the bucket has Object Lock enabled.
pub async fn object_lock_enabled(
    client: &aws_sdk_s3::Client,
    bucket: Bucket<'_>,
) -> Result<bool, BackupS3Error> {
    match client
        .get_object_lock_configuration()
        .bucket(bucket.name)
        .set_expected_bucket_owner(bucket.owner.map(str::to_owned))
        .send()
        .await
    {
        Ok(output) => Ok(output
            .object_lock_configuration()
            .and_then(|c| c.object_lock_enabled())
            .is_some_and(|e| e.as_str() == "Enabled")),
        Err(error) => {
            let code = error
                .as_service_error()
                .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                .unwrap_or_default();
            if code == "ObjectLockConfigurationNotFoundError" || status(&error) == Some(404) {
                if code == "NoSuchBucket" {
                    return Err(BackupS3Error::NoSuchBucket {
                        bucket: bucket.name.to_owned(),
                    });
                }
                return Ok(false);
            }
            Err(s3_error(
                "GetObjectLockConfiguration",
                bucket.name,
                "",
                &error,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_the_key_but_keeps_slashes() {
        assert_eq!(copy_source("b", "a/b c+d.txt", None), "b/a/b%20c%2Bd.txt");
        assert_eq!(copy_source("b", "k", Some("v1")), "b/k?versionId=v1");
    }

    #[test]
    fn tags_are_url_encoded_pairs() {
        let tags: BTreeMap<String, String> = [
            ("a b".to_owned(), "x&y=z".to_owned()),
            ("k".to_owned(), String::new()),
        ]
        .into_iter()
        .collect();
        assert_eq!(tagging(&tags), "a%20b=x%26y%3Dz&k=");
        assert_eq!(tagging(&BTreeMap::new()), "");
    }

    #[test]
    fn full_object_sha256_becomes_hex_and_composite_stays_as_reported() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(hex).expect("hex"));
        assert_eq!(
            sha256_checksum(Some(&b64)),
            Some(Checksum::Sha256 { hex: hex.into() })
        );
        assert_eq!(
            sha256_checksum(Some("abc=-3")),
            Some(Checksum::S3 {
                algorithm: "SHA256".into(),
                value: "abc=-3".into()
            })
        );
        assert_eq!(sha256_checksum(None), None);
    }
}
