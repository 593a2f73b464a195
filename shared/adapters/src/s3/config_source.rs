//! Where the suite configuration comes from: `s3://bucket/key` (deployed) or a local path (dev).
//!
//! Read once per container and revalidated on every use with a conditional GET
//! (`If-None-Match: <etag>`): an unchanged file costs one 304 and no parsing, a changed one is
//! parsed and validated again. An invalid new file is an error; the functions never run on half
//! of a config.

use std::path::PathBuf;
use std::sync::Arc;

use ops_domain::config::{self, ConfigErrors, SuiteConfig};
use tokio::sync::Mutex;

use crate::error::{status, AwsCallError, FailureKind};

/// Errors loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigLoadError {
    /// `CONFIG_URI` is neither `s3://bucket/key` nor a path.
    #[error("config location \"{0}\" is not s3://bucket/key or a file path")]
    BadLocation(String),
    /// The local file could not be read, or what was read is not text.
    #[error("cannot read config {location}: {message}")]
    Read {
        /// Where.
        location: String,
        /// Why.
        message: String,
    },
    /// S3 refused or could not be reached (the target is `config s3://bucket/key`). When
    /// transient (S3 throttled, answered 5xx or timed out) the config is not wrong, S3 is
    /// unavailable.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
    /// The file was read and is not valid.
    #[error("config {location} is invalid: {errors}")]
    Invalid {
        /// Where.
        location: String,
        /// Every problem found.
        errors: ConfigErrors,
    },
}

impl ConfigLoadError {
    /// Whether retrying later may succeed: S3 could not be read now. Every other variant is a
    /// configuration problem that only a change of the config (or environment) fixes.
    pub fn is_transient(&self) -> bool {
        matches!(self, ConfigLoadError::Aws(call) if call.is_transient())
    }
}

#[derive(Debug)]
enum Location {
    S3 { bucket: String, key: String },
    File(PathBuf),
}

#[derive(Debug)]
struct Cached {
    etag: String,
    config: Arc<SuiteConfig>,
}

/// The configuration, cached per container.
#[derive(Debug)]
pub struct ConfigSource {
    location: Location,
    s3: aws_sdk_s3::Client,
    cached: Mutex<Option<Cached>>,
}

impl ConfigSource {
    /// A source for `uri`: `s3://bucket/key`, or anything else as a local path.
    pub fn new(uri: &str, s3: aws_sdk_s3::Client) -> Result<Self, ConfigLoadError> {
        let location = match uri.strip_prefix("s3://") {
            Some(rest) => match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Location::S3 {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                },
                _ => return Err(ConfigLoadError::BadLocation(uri.to_owned())),
            },
            None if uri.trim().is_empty() => {
                return Err(ConfigLoadError::BadLocation(uri.to_owned()))
            }
            None => Location::File(PathBuf::from(uri)),
        };
        Ok(ConfigSource {
            location,
            s3,
            cached: Mutex::new(None),
        })
    }

    fn describe_location(&self) -> String {
        match &self.location {
            Location::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
            Location::File(path) => path.display().to_string(),
        }
    }

    /// The current configuration, revalidated against its source.
    pub async fn current(&self) -> Result<Arc<SuiteConfig>, ConfigLoadError> {
        let mut cached = self.cached.lock().await;
        let location = self.describe_location();
        let (text, etag) = match &self.location {
            Location::File(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|error| {
                    ConfigLoadError::Read {
                        location: location.clone(),
                        message: error.to_string(),
                    }
                })?;
                let etag = format!("{:x}", fnv1a(&text));
                (text, etag)
            }
            Location::S3 { bucket, key } => {
                let mut request = self.s3.get_object().bucket(bucket).key(key);
                if let Some(current) = cached.as_ref() {
                    request = request.if_none_match(&current.etag);
                }
                match request.send().await {
                    Ok(output) => {
                        let etag = output.e_tag().unwrap_or_default().to_owned();
                        let bytes = output
                            .body
                            .collect()
                            .await
                            .map_err(|error| {
                                AwsCallError::other(
                                    "GetObject",
                                    FailureKind::Connection,
                                    error.to_string(),
                                )
                                .on(config_target(&location))
                            })?
                            .into_bytes();
                        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                            ConfigLoadError::Read {
                                location: location.clone(),
                                message: "not UTF-8".into(),
                            }
                        })?;
                        (text, etag)
                    }
                    Err(error) if status(&error) == Some(304) => {
                        if let Some(current) = cached.as_ref() {
                            return Ok(current.config.clone());
                        }
                        return Err(AwsCallError::other(
                            "GetObject",
                            FailureKind::Response,
                            "unexpected 304",
                        )
                        .on(config_target(&location))
                        .into());
                    }
                    Err(error) => {
                        return Err(AwsCallError::from_sdk("GetObject", &error)
                            .on(config_target(&location))
                            .into())
                    }
                }
            }
        };
        if let Some(current) = cached.as_ref().filter(|current| current.etag == etag) {
            return Ok(current.config.clone());
        }
        let parsed = Arc::new(
            config::parse(&text).map_err(|errors| ConfigLoadError::Invalid { location, errors })?,
        );
        *cached = Some(Cached {
            etag,
            config: parsed.clone(),
        });
        Ok(parsed)
    }
}

/// How an S3 error names the config object.
fn config_target(location: &str) -> String {
    format!("config {location}")
}

/// FNV-1a of a local file: a cheap change check (local files have no ETag).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
