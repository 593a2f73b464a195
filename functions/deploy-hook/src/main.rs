//! deploy-hook binary: wires configuration, clients and the handler into the Lambda runtime.

use std::sync::Arc;

use anyhow::Context as _;
use deploy_hook::{handle, Deps, Settings};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ops_adapters::clients::{load_sdk_config, ClientSettings};
use ops_adapters::s3::state_location_from_env;
use ops_adapters::telemetry::init_logging;
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
/// `DEPLOY_LEASE_SECONDS` (default 120: longer than the function timeout).
async fn deps_from_env() -> anyhow::Result<Deps> {
    let (bucket, config_uri) = state_location_from_env()?;
    let mut settings = Settings::default();
    if let Ok(lease) = std::env::var("DEPLOY_LEASE_SECONDS") {
        let seconds: i64 = lease
            .parse()
            .context("DEPLOY_LEASE_SECONDS must be a whole number of seconds")?;
        settings.lease = chrono::Duration::seconds(seconds);
    }
    let sdk = load_sdk_config(&ClientSettings::default()).await;
    Ok(Deps::new(&sdk, &bucket, &config_uri, settings)?)
}
