//! A loopback HTTP server standing in for Slack, webhook receivers and PagerDuty: it records every
//! request so tests assert on what those services would have received.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path (`/slack`, `/webhook`, `/pagerduty`).
    pub path: String,
    /// Headers, lower-case names.
    pub headers: HashMap<String, String>,
    /// Body as text.
    pub body: String,
}

impl Received {
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// The running receiver.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port. Paths starting with `/fail` answer 500.
    pub async fn start() -> Receiver {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = received.clone();
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let headers = headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_owned(),
                            value.to_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                if let Ok(mut all) = sink.lock() {
                    all.push(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                }
                if uri.path().starts_with("/fail") {
                    (StatusCode::INTERNAL_SERVER_ERROR, "failing on purpose")
                } else {
                    (StatusCode::OK, "ok")
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("bind: {error}"));
        let url = format!(
            "http://{}",
            listener
                .local_addr()
                .unwrap_or_else(|error| panic!("addr: {error}"))
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, received }
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Received> {
        self.received
            .lock()
            .map(|all| all.clone())
            .unwrap_or_default()
    }

    /// Requests to `path`.
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|received| received.path == path)
            .collect()
    }
}
