//! The envelope format and the local half of envelope encryption: AES-256-GCM under a plaintext
//! data key, and the keyed digest. No KMS call happens here.
//!
//! An envelope is a small JSON document:
//!
//! ```json
//! {"version":1,"algorithm":"AES-256-GCM",
//!  "kms_key_id":"arn:aws:kms:…:key/…","encryption_context":{"purpose":"backup"},
//!  "wrapped_key":"<KMS ciphertext blob, base64>","nonce":"<12 bytes, base64>",
//!  "ciphertext":"<ciphertext then 16-byte tag, base64>"}
//! ```
//!
//! **The GCM associated data** is not the caller's `aad` alone: it is a length-prefixed encoding
//! of the format name and version, the algorithm, the KMS key id, the encryption context, the
//! wrapped key and then the caller's `aad`. Changing any header field of a stored envelope (to
//! point it at another key, drop a context entry, swap in another wrapped key) therefore fails
//! authentication like a changed ciphertext does. The caller's `aad` is not stored: whoever opens
//! must supply the same bytes (a snapshot id and object name, say), which binds an envelope to
//! where it belongs so it cannot be moved to another place unnoticed.
//!
//! **Nonces** are 96 random bits from the operating system per [`seal`]; with a fresh data key
//! per snapshot a key seals few messages, far below the 2^32 random-nonce limit of NIST SP
//! 800-38D.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::KmsError;

/// The envelope version this code writes and reads.
pub const ENVELOPE_VERSION: u32 = 1;
/// The only algorithm: AES-256-GCM, 96-bit nonce, 128-bit tag.
pub const ALGORITHM: &str = "AES-256-GCM";
/// Length of a data key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a GCM nonce in bytes.
const NONCE_LEN: usize = 12;
/// Domain separation of the digest subkey from the encryption key.
const DIGEST_LABEL: &[u8] = b"ops-suite/backup/digest/v1";
/// Domain separation of the associated data.
const FORMAT: &[u8] = b"ops-suite-envelope";

/// A stored envelope, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// [`ENVELOPE_VERSION`].
    pub version: u32,
    /// [`ALGORITHM`].
    pub algorithm: String,
    /// The KMS key (ARN) that wrapped the data key.
    pub kms_key_id: String,
    /// The encryption context KMS bound the wrapped key to (readable: never secret).
    pub encryption_context: BTreeMap<String, String>,
    /// The data key as KMS encrypted it, base64.
    pub wrapped_key: String,
    /// The GCM nonce, base64.
    pub nonce: String,
    /// The ciphertext followed by the GCM tag, base64.
    pub ciphertext: String,
}

impl Envelope {
    /// Parses envelope bytes and checks version and algorithm.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, KmsError> {
        let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| KmsError::Corrupt {
            reason: format!("not an envelope: {e}"),
        })?;
        if envelope.version != ENVELOPE_VERSION {
            return Err(KmsError::Corrupt {
                reason: format!(
                    "unsupported envelope version {} (this code reads {ENVELOPE_VERSION})",
                    envelope.version
                ),
            });
        }
        if envelope.algorithm != ALGORITHM {
            return Err(KmsError::Corrupt {
                reason: format!("unsupported algorithm {:?}", envelope.algorithm),
            });
        }
        Ok(envelope)
    }

    /// The wrapped data key bytes.
    pub fn wrapped_key_bytes(&self) -> Result<Vec<u8>, KmsError> {
        decode("wrapped_key", &self.wrapped_key)
    }
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, KmsError> {
    STANDARD.decode(text).map_err(|e| KmsError::Corrupt {
        reason: format!("{field} is not base64: {e}"),
    })
}

/// The GCM associated data: every header field and the caller's `aad`, each length-prefixed so
/// no two different headers encode alike.
fn associated_data(
    kms_key_id: &str,
    context: &BTreeMap<String, String>,
    wrapped_key: &[u8],
    aad: &[u8],
) -> Vec<u8> {
    fn part(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    let mut out = Vec::new();
    part(&mut out, FORMAT);
    part(&mut out, &ENVELOPE_VERSION.to_be_bytes());
    part(&mut out, ALGORITHM.as_bytes());
    part(&mut out, kms_key_id.as_bytes());
    part(&mut out, &(context.len() as u64).to_be_bytes());
    for (key, value) in context {
        part(&mut out, key.as_bytes());
        part(&mut out, value.as_bytes());
    }
    part(&mut out, wrapped_key);
    part(&mut out, aad);
    out
}

fn cipher(key: &[u8; KEY_LEN]) -> Result<Aes256Gcm, KmsError> {
    Aes256Gcm::new_from_slice(key).map_err(|_| KmsError::Corrupt {
        reason: "data key has the wrong length".into(),
    })
}

/// Encrypts `plaintext` under `key` into envelope bytes.
pub fn seal(
    key: &[u8; KEY_LEN],
    kms_key_id: &str,
    context: &BTreeMap<String, String>,
    wrapped_key: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let associated = associated_data(kms_key_id, context, wrapped_key, aad);
    let ciphertext = cipher(key)?
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: &associated,
            },
        )
        .map_err(|_| KmsError::Corrupt {
            reason: "AES-GCM refused to encrypt (message too long)".into(),
        })?;
    let envelope = Envelope {
        version: ENVELOPE_VERSION,
        algorithm: ALGORITHM.into(),
        kms_key_id: kms_key_id.into(),
        encryption_context: context.clone(),
        wrapped_key: STANDARD.encode(wrapped_key),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(ciphertext),
    };
    serde_json::to_vec(&envelope).map_err(|e| KmsError::Corrupt {
        reason: format!("cannot write the envelope: {e}"),
    })
}

/// Decrypts a parsed envelope with its unwrapped data key; [`KmsError::Corrupt`] when
/// authentication fails.
pub fn open(
    key: &[u8; KEY_LEN],
    envelope: &Envelope,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let nonce = decode("nonce", &envelope.nonce)?;
    if nonce.len() != NONCE_LEN {
        return Err(KmsError::Corrupt {
            reason: format!("nonce has {} bytes, not {NONCE_LEN}", nonce.len()),
        });
    }
    let ciphertext = decode("ciphertext", &envelope.ciphertext)?;
    let associated = associated_data(
        &envelope.kms_key_id,
        &envelope.encryption_context,
        &envelope.wrapped_key_bytes()?,
        aad,
    );
    cipher(key)?
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: &associated,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| KmsError::Corrupt {
            reason: "AES-GCM authentication failed: the ciphertext, the envelope header or the \
                     associated data differ from what was sealed"
                .into(),
        })
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 32]> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(message);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// HMAC-SHA256 of `plaintext` under `HMAC-SHA256(key, "ops-suite/backup/digest/v1")`, hex.
///
/// The subkey keeps the digest's key apart from the encryption key. Without the data key, which
/// only KMS can unwrap, nobody can compute a digest of a guessed value to compare with a stored
/// one, so a digest may sit in a manifest that bucket readers see.
pub fn digest(key: &[u8; KEY_LEN], plaintext: &[u8]) -> String {
    let subkey = hmac(key, DIGEST_LABEL);
    hex::encode(*hmac(&subkey[..], plaintext))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; KEY_LEN] = [7; KEY_LEN];

    fn context() -> BTreeMap<String, String> {
        BTreeMap::from([("purpose".to_owned(), "backup".to_owned())])
    }

    fn sealed(plaintext: &[u8], aad: &[u8]) -> Envelope {
        let bytes = seal(&KEY, "arn:k", &context(), b"wrapped", plaintext, aad);
        let envelope = bytes.as_deref().map(Envelope::parse);
        match envelope {
            Ok(Ok(envelope)) => envelope,
            other => panic!("sealing failed: {other:?}"),
        }
    }

    fn corrupt(result: Result<Zeroizing<Vec<u8>>, KmsError>) -> String {
        match result {
            Err(KmsError::Corrupt { reason }) => reason,
            Err(other) => panic!("expected Corrupt, got {other:?}"),
            Ok(_) => panic!("expected Corrupt, it opened"),
        }
    }

    #[test]
    fn seals_and_opens_with_fresh_nonces() {
        let a = sealed(b"hunter2", b"snap/1");
        let b = sealed(b"hunter2", b"snap/1");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        let opened = open(&KEY, &a, b"snap/1").map(|p| p.to_vec());
        assert_eq!(opened.ok(), Some(b"hunter2".to_vec()));
        assert_eq!(STANDARD.decode(&a.nonce).map(|n| n.len()).ok(), Some(12));
        // ciphertext + 16-byte tag
        assert_eq!(
            STANDARD.decode(&a.ciphertext).map(|c| c.len()).ok(),
            Some(7 + 16)
        );
    }

    #[test]
    fn any_change_fails_authentication() {
        let good = sealed(b"hunter2", b"snap/1");
        let flip = |text: &str| {
            let mut bytes = STANDARD.decode(text).unwrap_or_default();
            bytes[0] ^= 1;
            STANDARD.encode(bytes)
        };
        let changes: Vec<(&str, Envelope)> = vec![
            (
                "ciphertext",
                Envelope {
                    ciphertext: flip(&good.ciphertext),
                    ..good.clone()
                },
            ),
            (
                "nonce",
                Envelope {
                    nonce: flip(&good.nonce),
                    ..good.clone()
                },
            ),
            (
                "key id",
                Envelope {
                    kms_key_id: "arn:other".into(),
                    ..good.clone()
                },
            ),
            (
                "wrapped key",
                Envelope {
                    wrapped_key: flip(&good.wrapped_key),
                    ..good.clone()
                },
            ),
            (
                "context",
                Envelope {
                    encryption_context: BTreeMap::new(),
                    ..good.clone()
                },
            ),
        ];
        for (what, envelope) in changes {
            let reason = corrupt(open(&KEY, &envelope, b"snap/1"));
            assert!(reason.contains("authentication failed"), "{what}: {reason}");
        }
        corrupt(open(&KEY, &good, b"snap/2"));
        corrupt(open(&[8; KEY_LEN], &good, b"snap/1"));
        let short_nonce = Envelope {
            nonce: STANDARD.encode([0; 8]),
            ..good.clone()
        };
        assert!(corrupt(open(&KEY, &short_nonce, b"snap/1")).contains("nonce"));
    }

    #[test]
    fn parse_rejects_what_it_cannot_read() {
        let good = sealed(b"x", b"");
        let json = |envelope: &Envelope| serde_json::to_vec(envelope).unwrap_or_default();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not json".to_vec(), "not an envelope"),
            (
                json(&Envelope {
                    version: 2,
                    ..good.clone()
                }),
                "version 2",
            ),
            (
                json(&Envelope {
                    algorithm: "AES-128-CBC".into(),
                    ..good.clone()
                }),
                "algorithm",
            ),
        ];
        for (bytes, expected) in cases {
            match Envelope::parse(&bytes) {
                Err(KmsError::Corrupt { reason }) => assert!(reason.contains(expected), "{reason}"),
                other => panic!("expected Corrupt({expected}), got {other:?}"),
            }
        }
    }

    #[test]
    fn digest_is_keyed_and_pinned() {
        // python3 -c "import hmac,hashlib;k=bytes([7]*32);s=hmac.new(k,b'ops-suite/backup/digest/v1',hashlib.sha256).digest();print(hmac.new(s,b'hunter2',hashlib.sha256).hexdigest())"
        assert_eq!(digest(&KEY, b"hunter2"), PINNED);
        assert_ne!(digest(&[8; KEY_LEN], b"hunter2"), PINNED);
        assert_ne!(digest(&KEY, b"hunter3"), PINNED);
    }

    const PINNED: &str = "0c0a33c8e7d6d8170040a292520f248e69e7995c7681b1bbb69c06e1f388a430";
}
