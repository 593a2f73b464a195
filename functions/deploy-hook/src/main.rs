//! deploy-hook binary: wires configuration, clients and the handler into the Lambda runtime.

use std::sync::Arc;

use deploy_hook::{handle, Deps};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ops_adapters::telemetry::init_logging;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let deps = Arc::new(Deps::from_env().await?);
    run(service_fn(move |event: LambdaEvent<Value>| {
        let deps = deps.clone();
        async move { handle(&deps, event).await }
    }))
    .await
}
