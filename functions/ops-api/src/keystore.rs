//! The API keys secret in Secrets Manager: read through the suite's secret cache (a short TTL,
//! so a new or revoked key takes effect within a minute without a cold start), parsed into a
//! [`KeyDocument`]. Neither the secret's value nor a presented key is ever logged or quoted.

use std::time::Duration;

use ops_adapters::secretsmanager::{SecretCache, SecretError};
use secrecy::ExposeSecret;

use crate::keys::{KeyDocument, KeyError};

/// How long a read of the secret is reused.
pub const KEYS_TTL: Duration = Duration::from_secs(60);

/// Why the keys cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// `API_KEYS_SECRET` is not set: no key is accepted.
    #[error("API keys are not enabled (API_KEYS_SECRET is not set)")]
    NotConfigured,
    /// The secret cannot be read (the error names the secret, never its value).
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The secret's document is malformed (the error names the place, never a value).
    #[error("secret {id}: {error}")]
    Malformed {
        /// The secret.
        id: String,
        /// What is wrong.
        error: KeyError,
    },
}

/// The API keys, read from the secret named by `API_KEYS_SECRET`.
#[derive(Debug)]
pub struct KeyStore {
    source: Source,
}

#[derive(Debug)]
enum Source {
    Secret {
        id: Option<String>,
        cache: SecretCache,
    },
    Fixed(KeyDocument),
}

impl KeyStore {
    /// Keys from secret `secret_id` (none accepted when `None`), cached for `ttl`.
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        secret_id: Option<String>,
        ttl: Duration,
    ) -> Self {
        KeyStore {
            source: Source::Secret {
                id: secret_id,
                cache: SecretCache::new(client, ttl),
            },
        }
    }

    /// Keys from `document`, read from nowhere (tests of the router, tools that hold the
    /// document already).
    pub fn fixed(document: KeyDocument) -> Self {
        KeyStore {
            source: Source::Fixed(document),
        }
    }

    /// The current key document.
    pub async fn document(&self) -> Result<KeyDocument, KeyStoreError> {
        let (id, cache) = match &self.source {
            Source::Fixed(document) => return Ok(document.clone()),
            Source::Secret { id, cache } => {
                (id.as_deref().ok_or(KeyStoreError::NotConfigured)?, cache)
            }
        };
        let value = cache.get(id).await?;
        KeyDocument::parse(value.expose_secret()).map_err(|error| KeyStoreError::Malformed {
            id: id.to_owned(),
            error,
        })
    }
}
