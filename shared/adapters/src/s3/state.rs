//! The state store: JSON documents in one S3 bucket, written with S3 conditional writes.
//!
//! - [`StateStore::create`] writes with `If-None-Match: *`: exactly one writer creates a key
//!   (idempotency markers, audit records, snapshot manifests).
//! - [`StateStore::replace`] writes with `If-Match: <etag>`: compare-and-swap of a record read
//!   earlier; a concurrent writer makes it fail with [`StateError::Conflict`].
//!
//! There are no locks that can go stale: whoever loses a race re-reads and decides again.

use aws_sdk_s3::primitives::ByteStream;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{status, AwsCallError, FailureKind};

/// A document and the ETag it was read with.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The document.
    pub value: T,
    /// Its ETag, for a later compare-and-swap.
    pub etag: String,
}

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// `create` found the key already there: someone else created it first.
    #[error("s3://{bucket}/{key} already exists")]
    AlreadyExists {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// `replace` found the document changed since it was read: someone else won.
    #[error("s3://{bucket}/{key} changed since it was read")]
    Conflict {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// The document is not valid JSON of the expected shape.
    #[error("s3://{bucket}/{key} is not a valid document: {source}")]
    Corrupt {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// S3 refused or could not be reached (after the SDK's retries); the target is
    /// `s3://bucket/key`.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl StateError {
    /// Whether retrying later may succeed (throttling, 5xx, timeouts, lost connections). A lost
    /// race or a corrupt document is not transient: re-read and decide again, or stop.
    pub fn is_transient(&self) -> bool {
        matches!(self, StateError::Aws(call) if call.is_transient())
    }
}

/// The condition a write is made under.
#[derive(Debug, Clone, Copy)]
enum Precondition<'a> {
    /// `If-None-Match: *`: the key must not exist.
    Absent,
    /// `If-Match: <etag>`: the key must still have this ETag.
    Etag(&'a str),
}

/// One key of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// JSON documents in the state bucket.
#[derive(Debug, Clone)]
pub struct StateStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl StateStore {
    /// A store over `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        StateStore {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Reads a document; `None` when the key does not exist.
    pub async fn get<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Versioned<T>>, StateError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if status(&error) == Some(404) => return Ok(None),
            Err(error) => return Err(self.aws_error("GetObject", key, &error)),
        };
        let etag = output.e_tag().unwrap_or_default().to_owned();
        let body = output.body.collect().await.map_err(|error| {
            AwsCallError::other("GetObject", FailureKind::Connection, error.to_string())
                .on(self.uri(key))
        })?;
        let value =
            serde_json::from_slice(&body.into_bytes()).map_err(|source| StateError::Corrupt {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                source,
            })?;
        Ok(Some(Versioned { value, etag }))
    }

    /// Creates a document that must not exist yet; returns its ETag.
    pub async fn create<T: Serialize>(&self, key: &str, value: &T) -> Result<String, StateError> {
        let body = self.encode(key, value)?;
        self.put(key, body, "application/json", Precondition::Absent)
            .await
    }

    /// Creates a non-JSON object (a report page) that must not exist yet; returns its ETag.
    pub async fn create_text(
        &self,
        key: &str,
        text: &str,
        content_type: &str,
    ) -> Result<String, StateError> {
        let body = text.as_bytes().to_vec();
        self.put(key, body, content_type, Precondition::Absent)
            .await
    }

    /// Replaces a document only if it still has `etag`; returns the new ETag.
    pub async fn replace<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        etag: &str,
    ) -> Result<String, StateError> {
        let body = self.encode(key, value)?;
        self.put(key, body, "application/json", Precondition::Etag(etag))
            .await
    }

    /// Keys under `prefix` in key order, after `start_after` when given, at most `limit`
    /// (pages of ListObjectsV2 followed until then).
    pub async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Listed>, StateError> {
        let mut listed = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_start_after(start_after.map(str::to_owned))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|error| self.aws_error("ListObjectsV2", prefix, &error))?;
            for object in output.contents() {
                if listed.len() >= limit {
                    return Ok(listed);
                }
                listed.push(Listed {
                    key: object.key().unwrap_or_default().to_owned(),
                    size: object.size().unwrap_or_default().max(0) as u64,
                });
            }
            match output.next_continuation_token() {
                Some(next) if output.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(listed),
            }
        }
    }

    /// The "folders" right below `prefix` (common prefixes with delimiter `/`), in key order.
    pub async fn folders(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let mut folders = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|error| self.aws_error("ListObjectsV2", prefix, &error))?;
            folders.extend(
                output
                    .common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
            match output.next_continuation_token() {
                Some(next) if output.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(folders),
            }
        }
    }

    /// Deletes a document (absent already counts as deleted).
    pub async fn delete(&self, key: &str) -> Result<(), StateError> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if status(&error) == Some(404) => Ok(()),
            Err(error) => Err(self.aws_error("DeleteObject", key, &error)),
        }
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        precondition: Precondition<'_>,
    ) -> Result<String, StateError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.clone()));
        let request = match precondition {
            Precondition::Absent => request.if_none_match("*"),
            Precondition::Etag(etag) => request.if_match(etag),
        };
        let error = match request.send().await {
            Ok(output) => return Ok(output.e_tag().unwrap_or_default().to_owned()),
            Err(error) => error,
        };
        // The write may have happened with its answer lost: the SDK's retry of a conditional
        // write that landed gets 412, and a connection dropped after the write looks like any
        // transient failure. If the key now holds exactly our bytes, the write is ours. Every
        // claim the suite writes carries its writer's identity (event key or run id), so equal
        // bytes mean this writer, not a look-alike.
        if let Some(etag) = self.holds(key, &body).await {
            tracing::info!(key, "conditional write landed although its answer was lost");
            return Ok(etag);
        }
        let lost_race = match (precondition, status(&error)) {
            // 409 is S3's answer to two conditional writes of one key racing each other.
            (_, Some(412 | 409)) => true,
            // If-Match on a key that was deleted meanwhile: also "someone else changed it".
            (Precondition::Etag(_), Some(404)) => true,
            _ => false,
        };
        let (bucket, key) = (self.bucket.clone(), key.to_owned());
        Err(match (lost_race, precondition) {
            (true, Precondition::Absent) => StateError::AlreadyExists { bucket, key },
            (true, Precondition::Etag(_)) => StateError::Conflict { bucket, key },
            (false, _) => self.aws_error("PutObject", &key, &error),
        })
    }

    /// The key's ETag when it holds exactly `body`; `None` when it does not, or when it cannot
    /// be read now (the caller then reports its original error).
    async fn holds(&self, key: &str, body: &[u8]) -> Option<String> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        let etag = output.e_tag().unwrap_or_default().to_owned();
        let stored = output.body.collect().await.ok()?.into_bytes();
        (stored.as_ref() == body).then_some(etag)
    }

    fn encode<T: Serialize>(&self, key: &str, value: &T) -> Result<Vec<u8>, StateError> {
        serde_json::to_vec_pretty(value).map_err(|source| StateError::Corrupt {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            source,
        })
    }

    fn aws_error<E, R>(
        &self,
        operation: &'static str,
        key: &str,
        error: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> StateError
    where
        E: crate::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + crate::error::HttpStatus + 'static,
    {
        StateError::Aws(AwsCallError::from_sdk(operation, error).on(self.uri(key)))
    }

    /// How an error names a key of the store.
    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}
