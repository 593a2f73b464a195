//! What the API is built from once per container: the suite's environment (like every
//! function), the API keys secret, the role claim, and the operations behind the routes.

use ops_adapters::clients::ClientSettings;
use ops_adapters::runtime::{EnvError, FunctionEnv};
use ops_adapters::AwsClients;

use crate::auth::DEFAULT_ROLE_CLAIM;
use crate::keystore::{KeyStore, KEYS_TTL};
use crate::operations::Operations;

/// The API's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `API_KEYS_SECRET`: name or ARN of the secret holding the hashed API keys; without it no
    /// key is accepted (paths under `/machine` answer 401).
    pub api_keys_secret: Option<String>,
    /// `ROLE_CLAIM`: the JWT claim holding the role (default `ops_role`).
    pub role_claim: String,
}

impl Settings {
    /// Reads `API_KEYS_SECRET` and `ROLE_CLAIM`.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Settings {
            api_keys_secret: set("API_KEYS_SECRET"),
            role_claim: set("ROLE_CLAIM").unwrap_or_else(|| DEFAULT_ROLE_CLAIM.to_owned()),
        }
    }
}

/// Everything a request needs.
#[derive(Debug)]
pub struct Deps<O> {
    /// The read and command functions behind the routes.
    pub operations: O,
    /// The API keys.
    pub keys: KeyStore,
    /// The JWT claim holding the role.
    pub role_claim: String,
}

impl<O: Operations> Deps<O> {
    /// Deps over Secrets Manager client `secrets` with `settings`.
    pub fn new(secrets: aws_sdk_secretsmanager::Client, settings: Settings, operations: O) -> Self {
        Deps {
            operations,
            keys: KeyStore::new(secrets, settings.api_keys_secret, KEYS_TTL),
            role_claim: settings.role_claim,
        }
    }

    /// Deps with keys from `keys` (e.g. [`KeyStore::fixed`]).
    pub fn with_keys(keys: KeyStore, role_claim: &str, operations: O) -> Self {
        Deps {
            operations,
            keys,
            role_claim: role_claim.to_owned(),
        }
    }

    /// Reads the environment like every function (`STATE_BUCKET`, `CONFIG_URI`, the SDK
    /// configuration) plus [`Settings`], and builds the operations with `operations`.
    pub async fn from_env(
        operations: impl FnOnce(&FunctionEnv, &AwsClients) -> Result<O, EnvError>,
    ) -> Result<Self, EnvError> {
        let env = FunctionEnv::from_env(ClientSettings::default()).await?;
        let clients = env.clients();
        let settings = Settings::from_env();
        if settings.api_keys_secret.is_none() {
            tracing::warn!(message = "API_KEYS_SECRET is not set: no API key is accepted.");
        }
        let operations = operations(&env, &clients)?;
        Ok(Self::new(clients.secrets.clone(), settings, operations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_the_role_claim_and_leave_keys_off() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            Settings::from_vars(vars(&[])),
            Settings {
                api_keys_secret: None,
                role_claim: "ops_role".into()
            }
        );
        assert_eq!(
            Settings::from_vars(vars(&[
                ("API_KEYS_SECRET", "ops/api-keys"),
                ("ROLE_CLAIM", "cognito:groups"),
            ])),
            Settings {
                api_keys_secret: Some("ops/api-keys".into()),
                role_claim: "cognito:groups".into()
            }
        );
        assert_eq!(
            Settings::from_vars(vars(&[("API_KEYS_SECRET", " "), ("ROLE_CLAIM", "")])),
            Settings {
                api_keys_secret: None,
                role_claim: "ops_role".into()
            }
        );
    }
}
