//! alarm-rollback binary: wires configuration, clients and the handler into the Lambda runtime.

use std::sync::Arc;
use std::time::Duration;

use alarm_rollback::{handle, Deps, Settings};
use anyhow::Context as _;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ops_adapters::clients::ClientSettings;
use ops_adapters::notify::Notifier;
use ops_adapters::s3::{state_location_from_env, ConfigSource, StateStore};
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::telemetry::init_logging;
use ops_adapters::AwsClients;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let deps = Arc::new(deps_from_env().await?);
    run(service_fn(move |event: LambdaEvent<Value>| {
        let deps = deps.clone();
        async move { handle(&deps, event).await }
    }))
    .await
}

/// `STATE_BUCKET` (required), `CONFIG_URI` (default `s3://$STATE_BUCKET/config/suite.yaml`),
/// `ROLLBACK_LEASE_SECONDS` (default 90: longer than the function timeout).
async fn deps_from_env() -> anyhow::Result<Deps> {
    let (bucket, config_uri) = state_location_from_env()?;
    let mut settings = Settings::default();
    if let Ok(lease) = std::env::var("ROLLBACK_LEASE_SECONDS") {
        let seconds: i64 = lease
            .parse()
            .context("ROLLBACK_LEASE_SECONDS must be a whole number of seconds")?;
        settings.lease = chrono::Duration::seconds(seconds);
    }
    let clients = AwsClients::from_env(&ClientSettings::default()).await;
    let secrets = Arc::new(SecretCache::new(
        clients.secrets.clone(),
        Duration::from_secs(300),
    ));
    Ok(Deps {
        store: StateStore::new(clients.s3.clone(), bucket),
        config: ConfigSource::new(&config_uri, clients.s3.clone())?,
        notifier: Notifier::new(secrets),
        settings,
        clients,
    })
}
