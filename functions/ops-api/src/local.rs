//! A loopback HTTP/1 server over the router, for development and the browser test: each
//! request becomes a `lambda_http` request and goes through the very handler the Lambda runs.
//! There is no API gateway here, so no JWT claims exist: only `/machine/*` with an API key
//! authenticates, plus the public `/` and `/openapi.json`.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::StatusCode;
use tokio::net::TcpListener;

use crate::deps::Deps;
use crate::operations::Operations;
use crate::reply::ApiError;
use crate::router::handle;

/// Largest request body accepted (API Gateway's payload limit is larger; commands are tiny).
pub const MAX_BODY: usize = 1024 * 1024;

/// Serves `deps` on `listener` until the task is dropped. Refuses a listener that is not on a
/// loopback address: this server trusts its network and is for one machine only.
pub async fn serve<O: Operations>(listener: TcpListener, deps: Arc<Deps<O>>) -> io::Result<()> {
    let address = listener.local_addr()?;
    if !address.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the local server binds loopback addresses only, not {address}"),
        ));
    }
    loop {
        let (stream, _) = listener.accept().await?;
        let deps = deps.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let deps = deps.clone();
                async move { Ok::<_, Infallible>(answer(&deps, request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(message = "Connection ended with an error.", %error);
            }
        });
    }
}

async fn answer<O: Operations>(
    deps: &Deps<O>,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let mut error = ApiError::bad_request("body", "the body is unreadable or too large");
            error.status = StatusCode::PAYLOAD_TOO_LARGE;
            return convert(error.response());
        }
    };
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes.to_vec())
    };
    convert(handle(deps, lambda_http::Request::from_parts(parts, body)).await)
}

fn convert(response: lambda_http::Response<lambda_http::Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
