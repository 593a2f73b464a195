//! Envelope encryption under KMS: AES-256-GCM with a data key that KMS generates and wraps.
//!
//! [`generate_data_key`] asks KMS for a 256-bit data key bound to an encryption context; the
//! [`DataKey`] seals any number of plaintexts ([`DataKey::seal`]) into self-describing envelopes
//! ([`envelope`] describes the format) and computes keyed digests ([`DataKey::digest`]).
//! [`open`] reads an envelope back: KMS unwraps the data key (with the stored encryption context
//! and key id), then AES-GCM authenticates and decrypts locally. Plaintext never goes to KMS, so
//! values of any size work and KMS sees one call per data key, not per value.
//!
//! **Why our own envelope.** The `aes-gcm` crate (RustCrypto) does the cipher; the envelope
//! around it (a few JSON fields) is ours. The official AWS Encryption SDK for Rust (`aws-esdk`,
//! generated from Dafny) does offer its message format, but it would bring aws-lc-rs and its C
//! build, the DynamoDB SDK and the Dafny runtime into every Lambda for the one thing this module
//! needs; adding it is a workspace decision not taken here. Switching later is a new envelope
//! version: [`open`] rejects versions it does not know.
//!
//! **Encryption context.** It is sent with `GenerateDataKey` and `Decrypt`, stored in the
//! envelope and authenticated by GCM too. KMS logs it in CloudTrail in clear text, so it must
//! name things (purpose, snapshot, secret name), never hold secret values.
//!
//! **What never leaves this module.** The plaintext data key lives in a [`Zeroizing`] buffer
//! that is wiped on drop; no error, log or `Debug` output holds key material or plaintext.

pub mod envelope;

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_smithy_runtime_api::client::result::SdkError;
use zeroize::Zeroizing;

use crate::error::{AwsCallError, HttpStatus};
use envelope::{Envelope, KEY_LEN};

/// Why an envelope could not be made or opened. Never holds key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// KMS refused to use the key: access denied, key disabled, pending deletion or not found,
    /// wrong key usage, or a wrapped key that does not belong to it or to this context.
    #[error("KMS key {key} cannot be used: {reason}")]
    KeyDenied {
        /// The key id or ARN asked for.
        key: String,
        /// KMS's error code and message.
        reason: String,
    },
    /// KMS could not be reached or failed otherwise (the target names the key).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
    /// The envelope cannot be read or does not authenticate.
    #[error("envelope corrupt: {reason}")]
    Corrupt {
        /// What is wrong with it.
        reason: String,
    },
}

/// KMS error codes that mean "this key may not be used for this", not "KMS is unwell".
const KEY_DENIED_CODES: &[&str] = &[
    "AccessDeniedException",
    "DisabledException",
    "NotFoundException",
    "KMSInvalidStateException",
    "InvalidKeyUsageException",
    "IncorrectKeyException",
    "InvalidCiphertextException",
];

impl KmsError {
    /// Whether retrying later may succeed (timeout, throttling, 5xx). A refused key or a corrupt
    /// envelope stays so.
    pub fn is_transient(&self) -> bool {
        matches!(self, KmsError::Aws(call) if call.is_transient())
    }
}

/// How a KMS error names the key.
fn key_target(key: &str) -> String {
    format!("KMS key {key}")
}

/// Maps an SDK error of KMS `operation` on `key` to a [`KmsError`].
fn kms_error<E, R>(operation: &'static str, key: &str, error: &SdkError<E, R>) -> KmsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + fmt::Debug + 'static,
{
    // One classification for the suite: code, capped message, status, never the body.
    let call = AwsCallError::from_sdk(operation, error);
    match call.code.as_deref() {
        Some(code) if KEY_DENIED_CODES.contains(&code) => {
            let message = call.message.as_deref().filter(|m| !m.is_empty());
            KmsError::KeyDenied {
                key: key.to_owned(),
                reason: match message {
                    Some(message) => format!("{code}: {message}"),
                    None => code.to_owned(),
                },
            }
        }
        _ => KmsError::Aws(call.on(key_target(key))),
    }
}

/// A plaintext data key and its KMS-wrapped form. The plaintext is wiped on drop and never shown
/// by `Debug`.
pub struct DataKey {
    plaintext: Zeroizing<[u8; KEY_LEN]>,
    wrapped: Vec<u8>,
    key_id: String,
    context: BTreeMap<String, String>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("key_id", &self.key_id)
            .field("encryption_context", &self.context)
            .field("plaintext", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Copies a KMS plaintext key into a wiped buffer, wiping the SDK's copy too.
fn take_key(blob: Option<Blob>) -> Result<Zeroizing<[u8; KEY_LEN]>, KmsError> {
    let bytes = Zeroizing::new(blob.map(Blob::into_inner).unwrap_or_default());
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if bytes.len() != KEY_LEN {
        return Err(KmsError::Corrupt {
            reason: format!(
                "KMS returned a {}-byte data key, not {KEY_LEN}",
                bytes.len()
            ),
        });
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Asks KMS (`GenerateDataKey`, `AES_256`) for a data key under `key_id` (id, ARN or alias)
/// bound to `context`.
pub async fn generate_data_key(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    context: &BTreeMap<String, String>,
) -> Result<DataKey, KmsError> {
    let mut output = kms
        .generate_data_key()
        .key_id(key_id)
        .key_spec(DataKeySpec::Aes256)
        .set_encryption_context(Some(context.clone().into_iter().collect()))
        .send()
        .await
        .map_err(|e| kms_error("GenerateDataKey", key_id, &e))?;
    let plaintext = take_key(output.plaintext.take())?;
    let wrapped = output
        .ciphertext_blob
        .take()
        .map(Blob::into_inner)
        .unwrap_or_default();
    if wrapped.is_empty() {
        return Err(
            AwsCallError::unexpected("GenerateDataKey", "no CiphertextBlob in the answer")
                .on(key_target(key_id))
                .into(),
        );
    }
    Ok(DataKey {
        plaintext,
        wrapped,
        // KMS answers with the key's ARN whatever form was asked (alias, id).
        key_id: output.key_id.take().unwrap_or_else(|| key_id.to_owned()),
        context: context.clone(),
    })
}

/// An envelope and the keyed digest of what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The envelope bytes (JSON; see [`envelope`]).
    pub bytes: Vec<u8>,
    /// [`DataKey::digest`] of the plaintext.
    pub digest: String,
}

impl DataKey {
    /// The ARN of the KMS key that wrapped this data key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The encryption context it is bound to.
    pub fn encryption_context(&self) -> &BTreeMap<String, String> {
        &self.context
    }

    /// Encrypts `plaintext` with a fresh random 96-bit nonce into self-describing envelope bytes
    /// (version, algorithm, KMS key ARN, encryption context, wrapped key, nonce, ciphertext and
    /// tag), authenticating the header and `aad` too. `aad` is not stored: [`open`] needs the
    /// same bytes. Also returns [`DataKey::digest`] of the plaintext.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, KmsError> {
        let bytes = envelope::seal(
            &self.plaintext,
            &self.key_id,
            &self.context,
            &self.wrapped,
            plaintext,
            aad,
        )?;
        Ok(Sealed {
            bytes,
            digest: self.digest(plaintext),
        })
    }

    /// HMAC-SHA256 of `plaintext` under a subkey derived from the data key, hex. Safe to store
    /// where bucket readers see it: without KMS it cannot be used to test guesses offline.
    /// Digests are comparable only under the same data key.
    pub fn digest(&self, plaintext: &[u8]) -> String {
        envelope::digest(&self.plaintext, plaintext)
    }
}

/// What [`open`] read. `Debug` never shows the plaintext.
pub struct Opened {
    /// The plaintext, wiped on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The keyed digest of the plaintext under the envelope's data key (equal to what
    /// [`DataKey::seal`] returned for it).
    pub digest: String,
    /// The ARN of the KMS key that unwrapped the data key.
    pub key_id: String,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field(
                "plaintext",
                &format_args!("<{} bytes>", self.plaintext.len()),
            )
            .field("digest", &self.digest)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Opens `envelope` sealed with `aad`: KMS `Decrypt` unwraps the data key (with the envelope's
/// key id and encryption context), AES-GCM decrypts and authenticates locally.
///
/// [`KmsError::KeyDenied`] names the envelope's key when KMS refuses it; [`KmsError::Corrupt`]
/// when the envelope cannot be parsed or does not authenticate (changed bytes, wrong `aad`).
pub async fn open(
    kms: &aws_sdk_kms::Client,
    envelope: &[u8],
    aad: &[u8],
) -> Result<Opened, KmsError> {
    let parsed = Envelope::parse(envelope)?;
    let wrapped = parsed.wrapped_key_bytes()?;
    let mut output = kms
        .decrypt()
        .key_id(&parsed.kms_key_id)
        .ciphertext_blob(Blob::new(wrapped))
        .set_encryption_context(Some(
            parsed.encryption_context.clone().into_iter().collect(),
        ))
        .send()
        .await
        .map_err(|e| kms_error("Decrypt", &parsed.kms_key_id, &e))?;
    let key = take_key(output.plaintext.take())?;
    let plaintext = envelope::open(&key, &parsed, aad)?;
    Ok(Opened {
        digest: envelope::digest(&key, &plaintext),
        plaintext,
        key_id: output.key_id.take().unwrap_or(parsed.kms_key_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::operation::decrypt::DecryptError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(code: &str, status: u16) -> SdkError<DecryptError, Response> {
        let error = DecryptError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message("key state")
                .build(),
        );
        let status = StatusCode::try_from(status).unwrap_or_else(|e| panic!("{e}"));
        SdkError::service_error(error, Response::new(status, SdkBody::empty()))
    }

    #[test]
    fn key_refusals_are_key_denied_and_name_the_key() {
        for code in KEY_DENIED_CODES {
            match kms_error(
                "Decrypt",
                "arn:aws:kms:eu-west-1:1:key/k",
                &service_error(code, 400),
            ) {
                KmsError::KeyDenied { key, reason } => {
                    assert_eq!(key, "arn:aws:kms:eu-west-1:1:key/k");
                    assert_eq!(reason, format!("{code}: key state"));
                }
                other => panic!("{code}: {other:?}"),
            }
        }
    }

    #[test]
    fn other_failures_are_aws_call_errors_naming_the_key() {
        let cases = [
            ("KMSInternalException", 500, true),
            ("ThrottlingException", 429, true),
            ("InvalidGrantTokenException", 400, false),
        ];
        for (code, status, transient) in cases {
            let error = kms_error("Decrypt", "k", &service_error(code, status));
            assert_eq!(error.is_transient(), transient, "{code}");
            match error {
                KmsError::Aws(call) => assert_eq!(
                    call.to_string(),
                    format!("Decrypt on KMS key k failed: {code}: key state (HTTP {status})")
                ),
                other => panic!("{code}: {other:?}"),
            }
        }
    }

    #[test]
    fn data_key_seals_and_never_shows_its_key() {
        let key = DataKey {
            plaintext: Zeroizing::new([0x5a; KEY_LEN]),
            wrapped: b"wrapped".to_vec(),
            key_id: "arn:k".into(),
            context: BTreeMap::from([("purpose".into(), "test".into())]),
        };
        let shown = format!("{key:?}");
        assert!(shown.contains("arn:k") && !shown.contains("90"), "{shown}");
        let sealed = key
            .seal(b"hunter2", b"aad")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!String::from_utf8_lossy(&sealed.bytes).contains("hunter2"));
        assert_eq!(sealed.digest, key.digest(b"hunter2"));
        let parsed = Envelope::parse(&sealed.bytes).unwrap_or_else(|e| panic!("{e}"));
        let plaintext =
            envelope::open(&key.plaintext, &parsed, b"aad").unwrap_or_else(|e| panic!("{e}"));
        let opened = Opened {
            plaintext,
            digest: sealed.digest.clone(),
            key_id: "arn:k".into(),
        };
        assert_eq!(opened.plaintext.as_slice(), b"hunter2");
        assert!(!format!("{opened:?}").contains("hunter2"));
    }
}
