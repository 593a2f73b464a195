//! ops-api-local: the API and status page on 127.0.0.1 for development and browser tests.
//!
//! `ops-api-local [--port N]` (default 8080) with `STATE_BUCKET`, `CONFIG_URI`,
//! `API_KEYS_SECRET` and `AWS_ENDPOINT_URL` as the Lambda reads them. Only `/machine/*` with an
//! API key authenticates (there is no gateway to verify tokens).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use ops_adapters::telemetry::init_logging;
use ops_api::library::Library;
use ops_api::Deps;

const USAGE: &str = "usage: ops-api-local [--port N]   (env: STATE_BUCKET, CONFIG_URI, API_KEYS_SECRET, AWS_ENDPOINT_URL)";

fn port(args: &[String]) -> anyhow::Result<u16> {
    let mut port = 8080;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--port" => args.next().context(USAGE)?.as_str(),
            "-h" | "--help" => bail!("{USAGE}"),
            other => match other.strip_prefix("--port=") {
                Some(value) => value,
                None => bail!("unknown argument {other}\n{USAGE}"),
            },
        };
        port = value
            .parse()
            .with_context(|| format!("--port must be a port number, not {value}"))?;
    }
    Ok(port)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port(&args)?));
    let deps = Arc::new(Deps::from_env(Library::from_env).await?);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    eprintln!(
        "ops-api-local: serving on http://{}",
        listener.local_addr()?
    );
    ops_api::local::serve(listener, deps).await?;
    Ok(())
}
