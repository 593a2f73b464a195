//! A loopback Lambda endpoint: moto runs no function code, so tests point a Lambda client at
//! this server, which answers `Invoke` (`POST /2015-03-31/functions/{name}/invocations`) with
//! a handler of the test's choosing — the backup function's own handler in-process, or a
//! scripted lifecycle hook. An `Event` invocation is answered 202 at once and its handler run
//! in the background, as Lambda does. Every invocation is recorded.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// A handler's answer: the function's result, or its error message (a function error).
pub type Answer = Result<Value, String>;

type Handler =
    Arc<dyn Fn(String, Value) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

/// One recorded invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The function name (or ARN) invoked.
    pub function: String,
    /// `RequestResponse` or `Event`.
    pub kind: String,
    /// The payload.
    pub payload: Value,
}

#[derive(Clone)]
struct Shared {
    handler: Handler,
    calls: Arc<Mutex<Vec<Invocation>>>,
}

/// The running endpoint.
pub struct LoopbackLambda {
    /// Its URL (the Lambda client's endpoint).
    pub url: String,
    calls: Arc<Mutex<Vec<Invocation>>>,
}

impl LoopbackLambda {
    /// Starts the endpoint with `handler(function, payload)`.
    pub async fn start<F, Fut>(handler: F) -> LoopbackLambda
    where
        F: Fn(String, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Answer> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |name, payload| Box::pin(handler(name, payload)));
        let calls: Arc<Mutex<Vec<Invocation>>> = Arc::default();
        let shared = Shared {
            handler,
            calls: calls.clone(),
        };
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        LoopbackLambda { url, calls }
    }

    /// Every invocation so far.
    pub fn calls(&self) -> Vec<Invocation> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// A Lambda client on `sdk` that reaches this endpoint.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(sdk)
                .endpoint_url(&self.url)
                .build(),
        )
    }
}

async fn invoke(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, HeaderMap, String) {
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse")
        .to_owned();
    if let Ok(mut calls) = shared.calls.lock() {
        calls.push(Invocation {
            function: name.clone(),
            kind: kind.clone(),
            payload: payload.clone(),
        });
    }
    let run = (shared.handler)(name, payload);
    let mut out = HeaderMap::new();
    if kind == "Event" {
        tokio::spawn(run);
        return (StatusCode::ACCEPTED, out, String::new());
    }
    match run.await {
        Ok(answer) => (StatusCode::OK, out, answer.to_string()),
        Err(message) => {
            out.insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            let body = json!({ "errorType": "HandlerError", "errorMessage": message });
            (StatusCode::OK, out, body.to_string())
        }
    }
}
