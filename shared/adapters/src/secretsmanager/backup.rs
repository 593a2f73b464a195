//! Secrets Manager backup and restore: a secret's settings and versions into a
//! [`SecretDocument`], and a [`SecretRestorePlan`] carried out.
//!
//! **Reading** ([`export_secret`], [`live_secret`]) is `DescribeSecret` (name, ARN, description,
//! KMS key, tags), `ListSecretVersionIds` (every page) and `GetSecretValue` per version, by the
//! ARN `DescribeSecret` returned. Labels can move between those calls (a rotation finishing); a
//! read that sees one label on two versions, or a version vanish, is done again (three tries).
//!
//! **Writing** ([`apply_secret_restore`]) puts each backed-up value as a new version with its
//! labels. Every version is written with a `ClientRequestToken` derived from the restore's seed
//! ([`restore_request_token`]), which Secrets Manager uses as the version id: a retried restore
//! with the same seed finds its version already there (same token, same value: the request is
//! ignored) instead of making a second one. Labels a retried request did not move are moved
//! with `UpdateSecretVersionStage`.
//!
//! No error holds a secret value: SDK errors carry none, and the few errors built here name the
//! secret and version only.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::Tag;
use aws_smithy_runtime_api::client::result::SdkError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ops_domain::backup::secret::{
    restore_request_token, SecretAction, SecretDocument, SecretRestorePlan, SecretValue,
    SecretVersion, AWSCURRENT, SECRET_SCHEMA_VERSION,
};

use crate::error::{AwsCallError, HttpStatus};

/// Why a secret could not be read or restored. Never holds a secret value.
#[derive(Debug, thiserror::Error)]
pub enum SecretBackupError {
    /// The secret does not exist.
    #[error("secret {secret} does not exist")]
    NotFound {
        /// Name or ARN asked for.
        secret: String,
    },
    /// Secrets Manager (or the KMS key behind the secret) refused.
    #[error("access to secret {secret} denied: {message}")]
    Denied {
        /// Name or ARN asked for.
        secret: String,
        /// The SDK error.
        message: String,
    },
    /// Any other failure (the target names the secret).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl SecretBackupError {
    /// Whether retrying later may succeed (throttling, 5xx, timeouts, lost connections, labels
    /// moving during a read).
    pub fn is_transient(&self) -> bool {
        matches!(self, SecretBackupError::Aws(call) if call.is_transient())
    }
}

/// A failure of `operation` on `secret` that is not an SDK error: what was wrong with the
/// answer or the backed-up value (never the value itself).
fn answer_error(
    operation: &'static str,
    secret: &str,
    message: impl AsRef<str>,
    transient: bool,
) -> SecretBackupError {
    AwsCallError::unexpected(operation, message)
        .on(secret_target(secret))
        .with_transient(transient)
        .into()
}

/// How a secret backup error names the secret.
fn secret_target(secret: &str) -> String {
    format!("secret {secret}")
}

/// Maps an SDK error of `operation` on `secret`.
fn sdk_error<E, R>(
    operation: &'static str,
    secret: &str,
    error: &SdkError<E, R>,
) -> SecretBackupError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + fmt::Debug + 'static,
{
    let secret = secret.to_owned();
    // One classification for the suite: code, capped message, status, never the body.
    let call = AwsCallError::from_sdk(operation, error);
    match call.code.as_deref() {
        Some("ResourceNotFoundException") => SecretBackupError::NotFound { secret },
        // DecryptionFailure: Secrets Manager may not use the secret's KMS key for the caller.
        Some("AccessDeniedException" | "DecryptionFailure") => SecretBackupError::Denied {
            secret,
            message: call.detail(),
        },
        _ => SecretBackupError::Aws(call.on(secret_target(&secret))),
    }
}

fn is_code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>, code: &str) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some(code)
}

fn chrono_time(time: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// Tries of a read that saw labels move.
const READ_TRIES: usize = 3;

/// One read of a secret, or `None` when labels moved or a version vanished during it.
async fn read_once(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    every_version: bool,
) -> Result<Option<SecretDocument>, SecretBackupError> {
    let described = client
        .describe_secret()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeSecret", id, &e))?;
    if let Some(deleted) = described.deleted_date() {
        return Err(answer_error(
            "DescribeSecret",
            id,
            format!(
                "the secret is scheduled for deletion on {deleted}; RestoreSecret it first \
                 (or delete it for good) to read or restore it"
            ),
            false,
        ));
    }
    let arn = described.arn().unwrap_or(id).to_owned();

    let mut listed = Vec::new();
    let mut pages = client
        .list_secret_version_ids()
        .secret_id(&arn)
        .include_deprecated(every_version)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("ListSecretVersionIds", id, &e))?;
        listed.extend(page.versions.unwrap_or_default());
    }

    let mut versions = Vec::new();
    for entry in listed {
        let Some(version_id) = entry.version_id() else {
            continue;
        };
        if !every_version && entry.version_stages().is_empty() {
            continue;
        }
        let mut got = match client
            .get_secret_value()
            .secret_id(&arn)
            .version_id(version_id)
            .send()
            .await
        {
            Ok(got) => got,
            // Deleted since it was listed (Secrets Manager drops old deprecated versions).
            Err(e) if is_code(&e, "ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(sdk_error("GetSecretValue", id, &e)),
        };
        let value = match (got.secret_string.take(), got.secret_binary.take()) {
            (Some(text), _) => SecretValue::String(text),
            (None, Some(binary)) => SecretValue::Binary(STANDARD.encode(binary.as_ref())),
            (None, None) => {
                return Err(answer_error(
                    "GetSecretValue",
                    id,
                    format!("version {version_id} has neither a string nor a binary"),
                    false,
                ))
            }
        };
        versions.push(SecretVersion {
            version_id: version_id.to_owned(),
            // The labels as of this read of the version, the freshest there are.
            stages: got.version_stages().to_vec(),
            created_at: chrono_time(got.created_date().or(entry.created_date())),
            value,
        });
    }

    let mut document = SecretDocument {
        schema_version: SECRET_SCHEMA_VERSION,
        arn,
        name: described.name().unwrap_or(id).to_owned(),
        description: described.description().map(str::to_owned),
        kms_key_id: described.kms_key_id().map(str::to_owned),
        tags: described
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
            .collect(),
        versions,
    };
    document.sort_versions();
    Ok(document.duplicate_stage().is_none().then_some(document))
}

async fn read(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    every_version: bool,
) -> Result<SecretDocument, SecretBackupError> {
    for _ in 0..READ_TRIES {
        if let Some(document) = read_once(client, id, every_version).await? {
            return Ok(document);
        }
    }
    Err(answer_error(
        "GetSecretValue",
        id,
        format!("staging labels kept moving over {READ_TRIES} reads (a rotation in progress?)"),
        true,
    ))
}

/// Everything a snapshot keeps of secret `id` (name or ARN): settings, tags and every version
/// Secrets Manager still has (deprecated ones without labels included), with labels and values,
/// versions sorted (`AWSCURRENT` first). [`SecretBackupError::NotFound`] when it does not exist.
pub async fn export_secret(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<SecretDocument, SecretBackupError> {
    read(client, id, true).await
}

/// The live state of secret `id` to plan a restore against: like [`export_secret`] but only the
/// versions that carry staging labels (the others are never compared); `None` when the secret
/// does not exist.
pub async fn live_secret(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<Option<SecretDocument>, SecretBackupError> {
    match read(client, id, false).await {
        Ok(document) => Ok(Some(document)),
        Err(SecretBackupError::NotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// A value as the SDK takes it: `(SecretString, SecretBinary)`.
fn sdk_value(
    plan: &SecretRestorePlan,
    action: &SecretAction,
    operation: &'static str,
) -> Result<(Option<String>, Option<Blob>), SecretBackupError> {
    match &action.value {
        SecretValue::String(text) => Ok((Some(text.clone()), None)),
        SecretValue::Binary(encoded) => match STANDARD.decode(encoded) {
            Ok(bytes) => Ok((None, Some(Blob::new(bytes)))),
            // The decoder's message would quote a byte of the value: name the version only.
            Err(_) => Err(answer_error(
                operation,
                &plan.secret,
                format!(
                    "the backed-up binary value of version {} is not base64",
                    action.from_version
                ),
                false,
            )),
        },
    }
}

/// Moves each of `stages` that `version_id` does not hold yet onto it (`UpdateSecretVersionStage`,
/// from whichever version holds it now).
async fn ensure_stages(
    client: &aws_sdk_secretsmanager::Client,
    secret: &str,
    version_id: &str,
    stages: &[String],
) -> Result<(), SecretBackupError> {
    let described = client
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeSecret", secret, &e))?;
    let empty = HashMap::new();
    let holders = described.version_ids_to_stages().unwrap_or(&empty);
    for stage in stages {
        let holder = holders
            .iter()
            .find(|(_, labels)| labels.contains(stage))
            .map(|(id, _)| id.as_str());
        if holder == Some(version_id) {
            continue;
        }
        client
            .update_secret_version_stage()
            .secret_id(secret)
            .version_stage(stage)
            .move_to_version_id(version_id)
            .set_remove_from_version_id(holder.map(str::to_owned))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateSecretVersionStage", secret, &e))?;
    }
    Ok(())
}

/// `PutSecretValue` of one action; returns the version id.
async fn put(
    client: &aws_sdk_secretsmanager::Client,
    plan: &SecretRestorePlan,
    action: &SecretAction,
    token: String,
) -> Result<String, SecretBackupError> {
    let (text, binary) = sdk_value(plan, action, "PutSecretValue")?;
    let output = client
        .put_secret_value()
        .secret_id(&plan.secret)
        .client_request_token(&token)
        .set_version_stages(Some(action.stages.clone()))
        .set_secret_string(text)
        .set_secret_binary(binary)
        .send()
        .await
        .map_err(|e| sdk_error("PutSecretValue", &plan.secret, &e))?;
    let version_id = output.version_id().unwrap_or(&token).to_owned();
    // A retried request is ignored (same token, same value) and moves no label: move them.
    let held = output.version_stages();
    if action.stages.iter().any(|s| !held.contains(s)) {
        ensure_stages(client, &plan.secret, &version_id, &action.stages).await?;
    }
    Ok(version_id)
}

/// Carries out `plan`, returning the ids of the versions written, in plan order.
///
/// When [`SecretRestorePlan::create_secret`], `CreateSecret` (with the plan's settings) writes
/// the first action's value as the first version, `AWSCURRENT`; if the secret exists by then
/// (an earlier try of this restore created it), the restore goes on with `PutSecretValue`. Every
/// other action is a `PutSecretValue` with its labels. Each version's `ClientRequestToken` is
/// [`restore_request_token`]`(idempotency_seed, secret, from_version)`, so applying the same
/// plan again with the same seed writes no second version.
pub async fn apply_secret_restore(
    client: &aws_sdk_secretsmanager::Client,
    plan: &SecretRestorePlan,
    idempotency_seed: &str,
) -> Result<Vec<String>, SecretBackupError> {
    let token = |action: &SecretAction| {
        restore_request_token(idempotency_seed, &plan.secret, &action.from_version)
    };
    let mut written = Vec::new();
    let mut remaining = plan.actions.as_slice();

    if plan.create_secret {
        let first = plan.actions.first();
        let settings = plan.create_settings.as_ref();
        let mut request = client
            .create_secret()
            .name(&plan.secret)
            .set_description(settings.and_then(|s| s.description.clone()))
            .set_kms_key_id(settings.and_then(|s| s.kms_key_id.clone()));
        for (key, value) in settings.map(|s| &s.tags).into_iter().flatten() {
            request = request.tags(Tag::builder().key(key).value(value).build());
        }
        if let Some(first) = first {
            let (text, binary) = sdk_value(plan, first, "CreateSecret")?;
            request = request
                .client_request_token(token(first))
                .set_secret_string(text)
                .set_secret_binary(binary);
        }
        match request.send().await {
            Ok(output) => {
                if let Some(first) = first {
                    let version_id = output
                        .version_id()
                        .map(str::to_owned)
                        .unwrap_or_else(|| token(first));
                    // CreateSecret labels its version AWSCURRENT only.
                    if first.stages.iter().any(|s| s != AWSCURRENT) {
                        ensure_stages(client, &plan.secret, &version_id, &first.stages).await?;
                    }
                    written.push(version_id);
                    remaining = &plan.actions[1..];
                }
            }
            Err(e) if is_code(&e, "ResourceExistsException") => {}
            Err(e) => return Err(sdk_error("CreateSecret", &plan.secret, &e)),
        }
    }

    for action in remaining {
        written.push(put(client, plan, action, token(action)).await?);
    }
    Ok(written)
}
