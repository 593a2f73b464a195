//! Secrets Manager: notifier endpoints and keys, cached per container, never logged.
//!
//! Values are held as [`SecretString`], whose `Debug` prints nothing, and errors name the secret
//! id only. The cache keeps a value for a few minutes so a rotated secret is picked up without a
//! cold start.

pub mod apikeys;
pub mod backup;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tokio::sync::Mutex;

use crate::error::AwsCallError;

/// Errors reading a secret; they never contain the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The secret does not exist or has no current value.
    #[error("secret {id} has no value (create it and put a value; see infra/README.md)")]
    Missing {
        /// Secret name or ARN.
        id: String,
    },
    /// Secrets Manager refused or could not be reached (the target names the secret; the
    /// error carries no secret material).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl SecretError {
    /// Whether retrying later may succeed (throttling, 5xx, timeouts, lost connections). A
    /// missing secret stays missing until someone puts a value.
    pub fn is_transient(&self) -> bool {
        matches!(self, SecretError::Aws(call) if call.is_transient())
    }
}

/// How a Secrets Manager error names the secret.
fn secret_target(id: &str) -> String {
    format!("secret {id}")
}

/// Secret values by id, cached for `ttl`.
#[derive(Debug)]
pub struct SecretCache {
    client: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, SecretString)>>,
}

impl SecretCache {
    /// A cache over `client` keeping values for `ttl`.
    pub fn new(client: aws_sdk_secretsmanager::Client, ttl: Duration) -> Self {
        SecretCache {
            client,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The current value of secret `id` (name or ARN).
    pub async fn get(&self, id: &str) -> Result<SecretString, SecretError> {
        if let Some((at, value)) = self.entries.lock().await.get(id) {
            if at.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        let output = match self.client.get_secret_value().secret_id(id).send().await {
            Ok(output) => output,
            Err(error) => {
                let missing = error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                return Err(if missing {
                    SecretError::Missing { id: id.to_owned() }
                } else {
                    AwsCallError::from_sdk("GetSecretValue", &error)
                        .on(secret_target(id))
                        .into()
                });
            }
        };
        let Some(text) = output.secret_string() else {
            return Err(SecretError::Missing { id: id.to_owned() });
        };
        let value = SecretString::from(text.to_owned());
        self.entries
            .lock()
            .await
            .insert(id.to_owned(), (Instant::now(), value.clone()));
        Ok(value)
    }
}

/// The secret id in an ECS `valueFrom` that points at Secrets Manager, without the JSON key /
/// version suffix ECS allows (`arn:…:secret:name-AbCdEf:key:stage:id`); `None` for other
/// references (SSM parameters).
pub fn secret_id_of_reference(value_from: &str) -> Option<String> {
    if !value_from.starts_with("arn:") {
        return None;
    }
    let parts: Vec<&str> = value_from.split(':').collect();
    (parts.len() >= 7 && parts[2] == "secretsmanager").then(|| parts[..7].join(":"))
}

/// Whether a secret exists (`DescribeSecret`; reads no value).
pub async fn secret_exists(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<bool, SecretError> {
    match client.describe_secret().secret_id(secret_id).send().await {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(AwsCallError::from_sdk("DescribeSecret", &error)
            .on(secret_target(secret_id))
            .into()),
    }
}
