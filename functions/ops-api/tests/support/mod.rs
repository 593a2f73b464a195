//! Test support: a fake of the operations that records every call with its caller, API
//! Gateway HTTP API (payload 2.0) events as `lambda_http` requests, and answers read back.

#![allow(dead_code)]

pub mod emulator;

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use ops_api::{Caller, OpFailure, OpResult, Operations};
use ops_domain::deploy::CommandKind;
use serde_json::{json, Value};

/// The services the fake knows; `worker` refuses commands (nothing in flight).
pub const SERVICES: [&str; 2] = ["web", "worker"];
/// The backup plans the fake knows.
pub const PLANS: [&str; 1] = ["daily"];

/// Operations that answer from fixed data and record each call as `principal: call`.
#[derive(Debug, Default)]
pub struct Fake {
    calls: Mutex<Vec<String>>,
}

impl Fake {
    /// Every call so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    fn record(&self, caller: &Caller, call: String) {
        self.calls
            .lock()
            .expect("calls")
            .push(format!("{}: {call}", caller.principal));
    }
}

fn service(name: &str) -> Result<Value, OpFailure> {
    if SERVICES.contains(&name) {
        Ok(json!({"name": name, "status": "IN_PROGRESS", "weights": {"blue": 90, "green": 10}}))
    } else {
        Err(OpFailure::NotFound(format!("no service named {name}")))
    }
}

fn plan(name: &str) -> Result<(), OpFailure> {
    if PLANS.contains(&name) {
        Ok(())
    } else {
        Err(OpFailure::NotFound(format!("no backup plan named {name}")))
    }
}

impl Operations for Fake {
    async fn status_suite(&self, caller: &Caller, _: DateTime<Utc>) -> OpResult {
        self.record(caller, "status_suite".into());
        Ok(json!({
            "generated_at": "2026-03-10T12:00:00Z",
            "services": [service("web")?, service("worker")?],
            "backups": [],
            "cost": null,
        }))
    }
    async fn status_services(&self, caller: &Caller, _: DateTime<Utc>) -> OpResult {
        self.record(caller, "status_services".into());
        Ok(json!({"services": [service("web")?, service("worker")?]}))
    }
    async fn status_service(&self, caller: &Caller, name: &str, _: DateTime<Utc>) -> OpResult {
        self.record(caller, format!("status_service {name}"));
        service(name)
    }
    async fn history_service(&self, caller: &Caller, name: &str) -> OpResult {
        self.record(caller, format!("history_service {name}"));
        service(name)?;
        Ok(json!({"service": name, "history": []}))
    }
    async fn audit_since(&self, caller: &Caller, since: DateTime<Utc>, limit: usize) -> OpResult {
        self.record(
            caller,
            format!("audit_since {} {limit}", since.to_rfc3339()),
        );
        Ok(json!({"records": []}))
    }
    async fn dora_report(&self, caller: &Caller, days: u32, _: DateTime<Utc>) -> OpResult {
        self.record(caller, format!("dora_report {days}"));
        Ok(json!({"days": days}))
    }
    async fn backups_plans(&self, caller: &Caller, _: DateTime<Utc>) -> OpResult {
        self.record(caller, "backups_plans".into());
        Ok(json!({"plans": []}))
    }
    async fn backups_snapshots(&self, caller: &Caller, name: &str) -> OpResult {
        self.record(caller, format!("backups_snapshots {name}"));
        plan(name)?;
        Ok(json!({"plan": name, "snapshots": []}))
    }
    async fn backups_restore(
        &self,
        caller: &Caller,
        name: &str,
        snapshot: Option<&str>,
        apply: bool,
    ) -> OpResult {
        self.record(
            caller,
            format!("backups_restore {name} {snapshot:?} {apply}"),
        );
        plan(name)?;
        Ok(json!({"plan": name, "applied": apply}))
    }
    async fn cost_latest(&self, caller: &Caller) -> OpResult {
        self.record(caller, "cost_latest".into());
        Err(OpFailure::Failed("cost report unreadable".into()))
    }
    async fn deploy_execute(
        &self,
        caller: &Caller,
        kind: CommandKind,
        name: &str,
        reason: Option<String>,
    ) -> OpResult {
        self.record(caller, format!("deploy_execute {kind:?} {name} {reason:?}"));
        service(name)?;
        if name == "worker" {
            return Err(OpFailure::Refused(
                "worker has no deployment in flight (status STABLE)".into(),
            ));
        }
        Ok(
            json!({"ok": true, "service": name, "command": format!("{kind:?}"), "by": caller.principal}),
        )
    }
    async fn rollback_execute(
        &self,
        caller: &Caller,
        name: &str,
        to: Option<&str>,
        dry_run: bool,
        reason: Option<String>,
    ) -> OpResult {
        self.record(
            caller,
            format!("rollback_execute {name} {to:?} {dry_run} {reason:?}"),
        );
        service(name)?;
        Ok(json!({"ok": true, "service": name, "dry_run": dry_run}))
    }
}

/// An HTTP API (payload 2.0) request as the gateway sends it, on stage `prod`.
#[derive(Debug, Clone)]
pub struct Event {
    method: &'static str,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    claims: Option<Vec<(String, String)>>,
    body: Option<String>,
}

impl Event {
    /// `GET path` (`path` may carry `?query`).
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    /// `POST path`.
    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }

    fn new(method: &'static str, path: &str) -> Self {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        Event {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            claims: None,
            body: None,
        }
    }

    /// With header `name: value`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// With an API key.
    pub fn key(self, key: &str) -> Self {
        self.header("x-api-key", key)
    }

    /// With claims the JWT authorizer verified.
    pub fn claims(mut self, claims: &[(&str, &str)]) -> Self {
        self.claims = Some(
            claims
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        self
    }

    /// A viewer's token.
    pub fn viewer(self) -> Self {
        self.claims(&[("sub", "viewer-1"), ("ops_role", "viewer")])
    }

    /// An operator's token.
    pub fn operator(self) -> Self {
        self.claims(&[
            ("sub", "op-1"),
            ("email", "op@example.com"),
            ("ops_role", "operator"),
        ])
    }

    /// With a body.
    pub fn body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    /// The event's JSON.
    pub fn json(&self) -> Value {
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .chain([("host".to_owned(), json!("api.example.com"))])
            .collect();
        let mut context = json!({
            "routeKey": "$default",
            "accountId": "123456789012",
            "stage": "prod",
            "requestId": "req-1",
            "apiId": "api",
            "domainName": "api.example.com",
            "timeEpoch": 1_773_144_000_000_i64,
            "http": {
                "method": self.method,
                "path": format!("/prod{}", self.path),
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "test"
            }
        });
        if let Some(claims) = &self.claims {
            let claims: serde_json::Map<String, Value> = claims
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        }
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": headers,
            "requestContext": context,
            "body": self.body,
            "isBase64Encoded": false
        })
    }

    /// The event as `lambda_http` hands it to the handler.
    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.json().to_string()).expect("an HTTP API event")
    }
}

/// An answer's status and JSON body (`Value::Null` for a non-JSON body).
pub fn read(response: &Response<Body>) -> (u16, Value) {
    let body: &[u8] = response.body().as_ref();
    (
        response.status().as_u16(),
        serde_json::from_slice(body).unwrap_or(Value::Null),
    )
}
