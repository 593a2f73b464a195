//! API keys of the REST API, with no I/O: making a key from random bytes the caller draws,
//! hashing it, the secret document that stores the hashes (`{"keys": [{"name", "sha256", "role",
//! "created_at"}]}`), adding and removing entries, and finding the entry a presented key belongs
//! to in constant time. ops-api checks keys with it; `opsctl api-key` manages them.
//!
//! A key is `ops_` followed by 32 random bytes in URL-safe base64 (no padding). Only its SHA-256
//! is stored; the key itself is shown once, when it is created, and is held as a
//! [`SecretString`] so it cannot be logged by accident.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads only (every `GET`).
    Viewer,
    /// Reads and operator commands (the `POST` routes).
    Operator,
}

impl Role {
    /// The role's name in the JSON contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// The prefix of every key, so a leaked key is recognisable (secret scanners, logs review).
pub const KEY_PREFIX: &str = "ops_";

/// Random bytes in a key.
pub const KEY_BYTES: usize = 32;

/// Longest key name.
const MAX_NAME: usize = 64;

/// Why a key document or a change to it is refused. Messages never quote a key or a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The document is not the expected JSON (the message names the place, not the value).
    #[error("the API key document is malformed: {0}")]
    Malformed(String),
    /// A key name is empty, too long or has characters other than letters, digits, `.`, `_`, `-`.
    #[error("key name \"{0}\" must be 1 to 64 letters, digits, '.', '_' or '-'")]
    BadName(String),
    /// Two entries have the same name.
    #[error("a key named {0} already exists")]
    Duplicate(String),
    /// No entry has this name.
    #[error("no key named {0}")]
    Unknown(String),
}

/// One stored key: its name (the principal `api-key:<name>`), its SHA-256, its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The key's name, unique in the document.
    pub name: String,
    /// SHA-256 of the key, 64 lowercase hex digits in the document.
    #[serde(with = "hex_digest")]
    pub sha256: [u8; 32],
    /// What the key may do.
    pub role: Role,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
}

impl KeyEntry {
    /// The principal audit records name for this key.
    pub fn principal(&self) -> String {
        format!("api-key:{}", self.name)
    }
}

/// The secret's document: every key that may call `/machine/*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDocument {
    /// The keys, in the order they were added.
    pub keys: Vec<KeyEntry>,
}

/// A key just created: the key (show it once, never store it) and the entry to store.
#[derive(Debug)]
pub struct NewKey {
    /// The key itself.
    pub key: SecretString,
    /// Its entry, holding only the hash.
    pub entry: KeyEntry,
}

/// SHA-256 of `key`.
pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A new key named `name` with `role`, made of `random` (bytes from the operating system's
/// generator: the caller draws them, so this stays free of I/O).
pub fn new_key(
    name: &str,
    role: Role,
    now: DateTime<Utc>,
    random: [u8; KEY_BYTES],
) -> Result<NewKey, KeyError> {
    check_name(name)?;
    let bytes = random;
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let entry = KeyEntry {
        name: name.to_owned(),
        sha256: hash(&key),
        role,
        created_at: now,
    };
    Ok(NewKey {
        key: SecretString::from(key),
        entry,
    })
}

fn check_name(name: &str) -> Result<(), KeyError> {
    let fine = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if fine {
        Ok(())
    } else {
        Err(KeyError::BadName(name.chars().take(MAX_NAME).collect()))
    }
}

impl KeyDocument {
    /// Parses the secret's value: every entry well-formed, names valid and unique.
    pub fn parse(text: &str) -> Result<KeyDocument, KeyError> {
        let document: KeyDocument = serde_json::from_str(text).map_err(|error| {
            // serde_json's message names the expected type and the line/column, and quotes
            // no input except an unknown enum variant or field name; keep only its category
            // and place so a hash or key pasted in the wrong place is never echoed.
            KeyError::Malformed(format!(
                "{} at line {} column {}",
                match error.classify() {
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof =>
                        "not JSON",
                    _ => "an entry lacks \"name\", \"sha256\" (64 hex digits), \"role\" (viewer|operator) or \"created_at\" (RFC 3339)",
                },
                error.line(),
                error.column()
            ))
        })?;
        let mut seen = std::collections::BTreeSet::new();
        for entry in &document.keys {
            check_name(&entry.name)?;
            if !seen.insert(entry.name.as_str()) {
                return Err(KeyError::Duplicate(entry.name.clone()));
            }
        }
        Ok(document)
    }

    /// The document as the secret stores it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{\"keys\":[]}".to_owned())
    }

    /// Adds `entry`; refused when its name is taken or invalid.
    pub fn add(&mut self, entry: KeyEntry) -> Result<(), KeyError> {
        check_name(&entry.name)?;
        if self.keys.iter().any(|existing| existing.name == entry.name) {
            return Err(KeyError::Duplicate(entry.name));
        }
        self.keys.push(entry);
        Ok(())
    }

    /// Removes the entry named `name` and returns it.
    pub fn remove(&mut self, name: &str) -> Result<KeyEntry, KeyError> {
        let at = self
            .keys
            .iter()
            .position(|entry| entry.name == name)
            .ok_or_else(|| KeyError::Unknown(name.to_owned()))?;
        Ok(self.keys.remove(at))
    }

    /// The entry `presented` is the key of. Every entry's hash is compared in constant time and
    /// all are compared whatever matches, so the time taken depends only on the number of
    /// entries, not on which (if any) matched or how much of a hash did.
    pub fn find(&self, presented: &str) -> Option<&KeyEntry> {
        let presented = hash(presented);
        // 0: none; i + 1: entry i.
        let mut found: u64 = 0;
        for (index, entry) in self.keys.iter().enumerate() {
            let equal = entry.sha256[..].ct_eq(&presented[..]);
            found.conditional_assign(&(index as u64 + 1), equal);
        }
        let index = usize::try_from(found.checked_sub(1)?).ok()?;
        self.keys.get(index)
    }
}

/// A 32-byte digest as 64 hex digits.
mod hex_digest {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(digest: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(digest))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut digest = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut digest)
            .map_err(|_| D::Error::custom("sha256 must be 64 hex digits"))?;
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn at() -> DateTime<Utc> {
        "2026-01-02T03:04:05Z".parse().expect("time")
    }

    fn entry(name: &str, key: &str, role: Role) -> KeyEntry {
        KeyEntry {
            name: name.to_owned(),
            sha256: hash(key),
            role,
            created_at: at(),
        }
    }

    fn document() -> KeyDocument {
        KeyDocument {
            keys: vec![
                entry("ci-bot", "ops_ci", Role::Viewer),
                entry("deployer", "ops_deployer", Role::Operator),
                entry("dashboard", "ops_dashboard", Role::Viewer),
            ],
        }
    }

    #[test]
    fn a_new_key_is_prefixed_and_only_its_hash_is_in_the_entry() {
        let one = new_key("ci-bot", Role::Operator, at(), [7; KEY_BYTES]).expect("key");
        let two = new_key("ci-bot", Role::Operator, at(), [8; KEY_BYTES]).expect("key");
        let key = one.key.expose_secret();
        assert!(key.starts_with(KEY_PREFIX), "{key}");
        assert_eq!(key.len(), KEY_PREFIX.len() + 43);
        assert!(key[KEY_PREFIX.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(key, two.key.expose_secret());
        assert_eq!(one.entry.sha256, hash(key));
        assert_eq!(one.entry.role, Role::Operator);
        let stored = KeyDocument {
            keys: vec![one.entry.clone()],
        }
        .to_json();
        assert!(!stored.contains(key), "{stored}");
        assert!(stored.contains(&hex::encode(hash(key))), "{stored}");
        assert!(!format!("{one:?}").contains(key));
        assert_eq!(
            new_key("a b", Role::Viewer, at(), [7; KEY_BYTES]).map(|k| k.entry),
            Err(KeyError::BadName("a b".into()))
        );
    }

    #[test]
    fn hashing_is_sha256_of_the_key_text() {
        assert_eq!(
            hex::encode(hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn find_chooses_the_entry_whose_hash_matches() {
        let document = document();
        let check = |key: &str, expect: Option<&str>| {
            assert_eq!(
                document.find(key).map(|entry| entry.name.as_str()),
                expect,
                "{key}"
            );
        };
        check("ops_ci", Some("ci-bot"));
        check("ops_deployer", Some("deployer"));
        check("ops_dashboard", Some("dashboard"));
        check("ops_deployer ", None);
        check("ops_", None);
        check("", None);
        assert_eq!(KeyDocument::default().find("ops_ci"), None);
    }

    #[test]
    fn the_document_round_trips_and_rejects_bad_entries_without_quoting_them() {
        let document = document();
        assert_eq!(KeyDocument::parse(&document.to_json()), Ok(document));
        let good_hash = hex::encode(hash("ops_ci"));
        let cases = [
            ("not json".to_owned(), "not JSON"),
            (
                format!(
                    r#"{{"keys":[{{"name":"a","sha256":"{}","role":"viewer","created_at":"2026-01-02T03:04:05Z"}}]}}"#,
                    &good_hash[..60]
                ),
                "an entry lacks",
            ),
            (
                format!(
                    r#"{{"keys":[{{"name":"a","sha256":"{good_hash}","role":"admin","created_at":"2026-01-02T03:04:05Z"}}]}}"#
                ),
                "an entry lacks",
            ),
            (
                format!(
                    r#"{{"keys":[{{"name":"a b","sha256":"{good_hash}","role":"viewer","created_at":"2026-01-02T03:04:05Z"}}]}}"#
                ),
                "key name \"a b\"",
            ),
            (
                format!(
                    r#"{{"keys":[{{"name":"a","sha256":"{good_hash}","role":"viewer","created_at":"2026-01-02T03:04:05Z"}},{{"name":"a","sha256":"{good_hash}","role":"viewer","created_at":"2026-01-02T03:04:05Z"}}]}}"#
                ),
                "a key named a already exists",
            ),
        ];
        for (text, expect) in cases {
            let error = KeyDocument::parse(&text).expect_err(&text).to_string();
            assert!(error.contains(expect), "{error}");
            assert!(!error.contains(&good_hash[..60]), "{error}");
        }
    }

    #[test]
    fn entries_are_added_once_and_removed_by_name() {
        let mut document = document();
        assert_eq!(
            document.add(entry("ci-bot", "other", Role::Operator)),
            Err(KeyError::Duplicate("ci-bot".into()))
        );
        assert_eq!(
            document.add(entry("", "other", Role::Operator)),
            Err(KeyError::BadName(String::new()))
        );
        document
            .add(entry("new-bot", "ops_new", Role::Operator))
            .expect("added");
        assert_eq!(
            document.find("ops_new").map(|e| e.principal()),
            Some("api-key:new-bot".into())
        );
        let removed = document.remove("ci-bot").expect("removed");
        assert_eq!(removed.name, "ci-bot");
        assert_eq!(document.find("ops_ci"), None);
        assert_eq!(
            document.remove("ci-bot"),
            Err(KeyError::Unknown("ci-bot".into()))
        );
        assert_eq!(document.keys.len(), 3);
    }
}
