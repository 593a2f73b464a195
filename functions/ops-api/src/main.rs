//! ops-api binary: wires configuration, clients and the router into the Lambda runtime.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{run, service_fn, Error, Request};
use ops_adapters::telemetry::init_logging;
use ops_api::library::Library;
use ops_api::{handle, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let deps = Arc::new(Deps::from_env(Library::from_env).await?);
    run(service_fn(move |request: Request| {
        let deps = deps.clone();
        async move { Ok::<_, Infallible>(handle(&deps, request).await) }
    }))
    .await
}
