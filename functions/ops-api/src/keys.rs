//! API keys for machines: the domain's key rules ([`ops_domain::apikeys`]: the secret's
//! document, hashing, constant-time lookup) and [`generate`], which draws a key's random bytes
//! from the operating system.

use chrono::{DateTime, Utc};

pub use ops_domain::apikeys::{
    hash, new_key, KeyDocument, KeyEntry, KeyError, NewKey, KEY_BYTES, KEY_PREFIX,
};

use crate::caller::Role;

/// The operating system's random generator failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// No random bytes.
    #[error("cannot draw random bytes for a key: {0}")]
    Random(String),
    /// The name is refused.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A new random key named `name` with `role`.
pub fn generate(name: &str, role: Role, now: DateTime<Utc>) -> Result<NewKey, GenerateError> {
    let mut random = [0u8; KEY_BYTES];
    getrandom::fill(&mut random).map_err(|error| GenerateError::Random(error.to_string()))?;
    Ok(new_key(name, role, now, random)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn generated_keys_are_random_prefixed_and_match_their_entry() {
        let now = Utc::now();
        let one = generate("ci-bot", Role::Viewer, now).expect("key");
        let two = generate("ci-bot", Role::Viewer, now).expect("key");
        assert_ne!(one.key.expose_secret(), two.key.expose_secret());
        assert!(one.key.expose_secret().starts_with(KEY_PREFIX));
        let document = KeyDocument {
            keys: vec![one.entry.clone()],
        };
        assert_eq!(document.find(one.key.expose_secret()), Some(&one.entry));
        assert_eq!(document.find(two.key.expose_secret()), None);
        assert_eq!(
            generate("", Role::Viewer, now).map(|k| k.entry),
            Err(GenerateError::Key(KeyError::BadName(String::new())))
        );
    }
}
