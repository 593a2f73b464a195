//! A stand-in for ops-api that serves the real status page (under the API's own CSP) and
//! canned JSON in the contract's shapes (`tests/data/status-page/`), checks credentials as the
//! API does (API keys on `/machine/*`, bearer tokens on the other paths), and records every
//! request, so the page can be tested alone: what it asks for, with which credential, and what
//! a command sends.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// An API key the stand-in knows as an operator.
pub const OPERATOR_KEY: &str = "ops-operator-key-0001";
/// An API key the stand-in knows as a viewer.
pub const VIEWER_KEY: &str = "ops-viewer-key-0001";
/// A viewer key whose reads answer with nulls wherever the contract allows, and markup in names.
pub const NULLS_KEY: &str = "ops-nulls-key-0001";
/// A token (three base64url parts) the stand-in knows as an operator signed in through OIDC.
pub const OPERATOR_JWT: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsIm9wc19yb2xlIjoib3BlcmF0b3IifQ.c2lnbmF0dXJl";

/// One request the page made.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `GET` or `POST`.
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// `x-api-key` or `bearer` (or `none`).
    pub credential: &'static str,
    /// The JSON body of a POST (`Null` otherwise).
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Seen>>,
}

/// The running stand-in.
pub struct FixtureApi {
    /// `http://127.0.0.1:<port>`; the page is at `/`.
    pub url: String,
    shared: Arc<Shared>,
}

impl FixtureApi {
    /// Starts the stand-in on a free loopback port.
    pub async fn start() -> FixtureApi {
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback listener");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FixtureApi { url, shared }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("not poisoned").clone()
    }

    /// Every POST so far.
    pub fn posts(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|seen| seen.method == "POST")
            .collect()
    }
}

fn fixture(name: &str) -> Value {
    let path = ops_tests::workspace_root()
        .join("tests/data/status-page")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    json_response(status, json!({"error": kind, "message": message}))
}

/// Who is calling: (principal, role, via, which fixtures), as the API would decide it.
fn caller(
    machine: bool,
    headers: &HeaderMap,
) -> Option<(&'static str, &'static str, &'static str, bool)> {
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if machine {
        match header(header::HeaderName::from_static("x-api-key")).as_str() {
            OPERATOR_KEY => Some(("deploy-bot", "operator", "api_key", false)),
            VIEWER_KEY => Some(("dashboard", "viewer", "api_key", false)),
            NULLS_KEY => Some(("nulls", "viewer", "api_key", true)),
            _ => None,
        }
    } else {
        (header(header::AUTHORIZATION) == format!("Bearer {OPERATOR_JWT}"))
            .then_some(("alice", "operator", "jwt", false))
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if method == Method::GET && path == "/" {
        let page = ops_tests::workspace_root().join("functions/ops-api/assets/index.html");
        let html = std::fs::read_to_string(&page)
            .unwrap_or_else(|error| panic!("{}: {error}", page.display()));
        // The API's own Content-Security-Policy, so a page that needs more than it allows
        // (a style attribute, an inline handler, an external asset) fails here too.
        let policy = ops_api::reply::content_security_policy(&html);
        return (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_SECURITY_POLICY, policy.as_str()),
            ],
            html,
        )
            .into_response();
    }
    let credential = if headers.contains_key("x-api-key") {
        "x-api-key"
    } else if headers.contains_key(header::AUTHORIZATION) {
        "bearer"
    } else {
        "none"
    };
    let body_json: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(_) => return error(StatusCode::BAD_REQUEST, "bad_request", "body is not JSON"),
        }
    };
    shared.seen.lock().expect("not poisoned").push(Seen {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or(path.clone(), |pq| pq.as_str().to_owned()),
        credential,
        body: body_json.clone(),
    });
    let (machine, route) = match path.strip_prefix("/machine") {
        Some(rest) => (true, rest.to_owned()),
        None => (false, path.clone()),
    };
    let Some((principal, role, via, nulls)) = caller(machine, &headers) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown credential",
        );
    };
    let parts: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["whoami"]) => json_response(
            StatusCode::OK,
            json!({"principal": principal, "role": role, "via": via}),
        ),
        ("GET", ["status"]) => json_response(
            StatusCode::OK,
            fixture(if nulls {
                "status-nulls.json"
            } else {
                "status.json"
            }),
        ),
        ("GET", ["reports", "dora"]) if uri.query() == Some("days=30") => json_response(
            StatusCode::OK,
            fixture(if nulls {
                "dora-empty.json"
            } else {
                "dora.json"
            }),
        ),
        ("POST", ["services", service, command]) => {
            if role != "operator" {
                return error(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "commands need the operator role",
                );
            }
            let reason = body_json.get("reason").cloned().unwrap_or(Value::Null);
            json_response(
                StatusCode::OK,
                json!({
                    "ok": true, "service": service, "command": command,
                    "status_before": "IN_PROGRESS",
                    "what_will_change": format!("{command} stored for {service}"),
                    "command_id": "cmd-0001", "by": principal, "reason": reason,
                    "applies": "on deploy-hook's next invocation",
                }),
            )
        }
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such route"),
    }
}
