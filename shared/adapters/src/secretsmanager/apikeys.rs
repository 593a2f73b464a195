//! The REST API's key document in its Secrets Manager secret, read uncached and changed by
//! `opsctl api-key` (create prints the new key once; only its hash is stored). The functions
//! never log or quote the secret's value.
//!
//! Secrets Manager has no compare-and-swap, so [`change`] reads, changes, writes a new version
//! and reads it back: when a concurrent change replaced it in between, it tries again, and it
//! fails rather than report a change that is not stored.

use aws_sdk_secretsmanager::Client;
use ops_domain::apikeys::{KeyDocument, KeyError};
use secrecy::ExposeSecret;

use crate::error::AwsCallError;
use crate::secretsmanager::SecretError;

/// How many times [`change`] writes before giving up on a secret changing under it.
pub const MAX_ATTEMPTS: usize = 3;

/// Why the key document cannot be read or changed; never quotes the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeysError {
    /// Reading or writing the secret failed (the error names the secret).
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The document is malformed, or the change is refused (a duplicate or unknown name).
    #[error("secret {id}: {error}")]
    Key {
        /// The secret.
        id: String,
        /// What is wrong.
        error: KeyError,
    },
    /// Concurrent changes kept replacing this one.
    #[error("secret {id} kept changing while this change was written; try again")]
    Contended {
        /// The secret.
        id: String,
    },
}

/// The current key document of secret `id`; an empty one when the secret has no value yet.
pub async fn read(client: &Client, id: &str) -> Result<KeyDocument, ApiKeysError> {
    let output = match client.get_secret_value().secret_id(id).send().await {
        Ok(output) => output,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            // No secret (the write below says so), or a secret without a value yet.
            return Ok(KeyDocument::default());
        }
        Err(error) => {
            return Err(SecretError::from(
                AwsCallError::from_sdk("GetSecretValue", &error).on(format!("secret {id}")),
            )
            .into())
        }
    };
    let text = secrecy::SecretString::from(output.secret_string().unwrap_or_default().to_owned());
    if text.expose_secret().trim().is_empty() {
        return Ok(KeyDocument::default());
    }
    KeyDocument::parse(text.expose_secret()).map_err(|error| ApiKeysError::Key {
        id: id.to_owned(),
        error,
    })
}

async fn write(client: &Client, id: &str, document: &KeyDocument) -> Result<(), ApiKeysError> {
    client
        .put_secret_value()
        .secret_id(id)
        .secret_string(document.to_json())
        .send()
        .await
        .map_err(|error| {
            SecretError::from(
                AwsCallError::from_sdk("PutSecretValue", &error).on(format!("secret {id}")),
            )
        })?;
    Ok(())
}

/// Applies `edit` to the key document of secret `id` and stores the result as a new version,
/// checked by reading it back. `edit` may run more than once (once per attempt).
pub async fn change<T>(
    client: &Client,
    id: &str,
    mut edit: impl FnMut(&mut KeyDocument) -> Result<T, KeyError>,
) -> Result<T, ApiKeysError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut document = read(client, id).await?;
        let answer = edit(&mut document).map_err(|error| ApiKeysError::Key {
            id: id.to_owned(),
            error,
        })?;
        write(client, id, &document).await?;
        if read(client, id).await? == document {
            return Ok(answer);
        }
    }
    Err(ApiKeysError::Contended { id: id.to_owned() })
}
