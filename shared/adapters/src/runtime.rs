//! What every function reads from its environment at cold start, read one way for all four.
//!
//! [`FunctionEnv::from_env`] loads the SDK configuration (region, credentials, endpoint
//! overrides from the standard AWS chain) with the function's [`ClientSettings`], and the two
//! locations Terraform gives every function: `STATE_BUCKET` (required) and `CONFIG_URI` (default
//! `s3://$STATE_BUCKET/config/suite.yaml`). Each function's `Deps::from_env` starts from it and
//! adds what is its own (extra clients, tunables such as a lease read with [`env_seconds`]).
//! Errors name the variable and what it must hold; they never quote more than a bounded part
//! of a value.

use aws_config::SdkConfig;

use crate::clients::{load_sdk_config, ClientSettings};
use crate::error::bounded;
use crate::AwsClients;

/// Most characters of a variable's value an [`EnvError`] quotes.
const MAX_QUOTED_VALUE: usize = 80;

/// A variable of the function's environment is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A required variable is not set (or is blank).
    #[error("environment variable {name} is not set: it must be {what}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What it must hold.
        what: &'static str,
    },
    /// A variable is set to something unusable.
    #[error("environment variable {name} must be {what}, not \"{value}\"")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What it must hold.
        what: &'static str,
        /// Its value, capped.
        value: String,
    },
}

/// The environment every function starts from.
#[derive(Debug, Clone)]
pub struct FunctionEnv {
    /// The SDK configuration, loaded with `client_settings`' timeouts and retries.
    pub sdk: SdkConfig,
    /// The function's client settings (retry quotas of the clients built from `sdk`).
    pub client_settings: ClientSettings,
    /// `STATE_BUCKET`: the suite's state bucket.
    pub state_bucket: String,
    /// `CONFIG_URI`, or `s3://$STATE_BUCKET/config/suite.yaml`.
    pub config_uri: String,
}

impl FunctionEnv {
    /// Reads `STATE_BUCKET` and `CONFIG_URI`, then loads the SDK configuration with `settings`.
    pub async fn from_env(settings: ClientSettings) -> Result<Self, EnvError> {
        let (state_bucket, config_uri) = state_location(|name| std::env::var(name).ok())?;
        let sdk = load_sdk_config(&settings).await;
        Ok(FunctionEnv {
            sdk,
            client_settings: settings,
            state_bucket,
            config_uri,
        })
    }

    /// Every shared client, built from `sdk` with the function's retry quotas.
    pub fn clients(&self) -> AwsClients {
        AwsClients::with_settings(&self.sdk, &self.client_settings)
    }
}

/// `(STATE_BUCKET, CONFIG_URI)` as `var` reads them.
fn state_location(var: impl Fn(&str) -> Option<String>) -> Result<(String, String), EnvError> {
    let bucket = var("STATE_BUCKET")
        .filter(|bucket| !bucket.trim().is_empty())
        .ok_or(EnvError::Missing {
            name: "STATE_BUCKET",
            what: "the name of the suite's state bucket",
        })?;
    let config_uri = var("CONFIG_URI")
        .unwrap_or_else(|| format!("s3://{bucket}/{}", ops_domain::keys::CONFIG_KEY));
    Ok((bucket, config_uri))
}

/// A whole number of seconds from variable `name` (surrounding spaces ignored); `None` when it
/// is not set.
pub fn env_seconds(name: &'static str) -> Result<Option<i64>, EnvError> {
    seconds(name, std::env::var(name).ok())
}

fn seconds(name: &'static str, value: Option<String>) -> Result<Option<i64>, EnvError> {
    let Some(value) = value else {
        return Ok(None);
    };
    value
        .trim()
        .parse::<i64>()
        .ok()
        .map(Some)
        .ok_or_else(|| EnvError::Invalid {
            name,
            what: "a whole number of seconds",
            value: bounded(&value, MAX_QUOTED_VALUE),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn state_bucket_is_required_and_named_in_the_error() {
        let error = state_location(env(&[("CONFIG_URI", "s3://b/c.yaml")])).expect_err("no bucket");
        assert_eq!(
            error.to_string(),
            "environment variable STATE_BUCKET is not set: it must be the name of the suite's state bucket"
        );
        assert!(state_location(env(&[("STATE_BUCKET", "  ")])).is_err());
    }

    #[test]
    fn config_uri_defaults_into_the_state_bucket() {
        assert_eq!(
            state_location(env(&[("STATE_BUCKET", "state")])),
            Ok((
                "state".to_owned(),
                format!("s3://state/{}", ops_domain::keys::CONFIG_KEY)
            ))
        );
        assert_eq!(
            state_location(env(&[
                ("STATE_BUCKET", "state"),
                ("CONFIG_URI", "./suite.yaml")
            ])),
            Ok(("state".to_owned(), "./suite.yaml".to_owned()))
        );
    }

    #[test]
    fn seconds_are_whole_numbers() {
        assert_eq!(seconds("LEASE", None), Ok(None));
        assert_eq!(seconds("LEASE", Some("90".into())), Ok(Some(90)));
        for bad in ["1.5", "", "soon"] {
            let error = seconds("LEASE", Some(bad.into())).expect_err("not seconds");
            assert_eq!(
                error.to_string(),
                format!(
                    "environment variable LEASE must be a whole number of seconds, not \"{bad}\""
                )
            );
        }
    }
}
