//! The router with a fake of the operations: every refusal (404, 401, 403, 400) is answered in
//! the contract's shape before any operation is called; accepted requests call exactly the
//! operation named by the route, with the authenticated caller.

mod support;

use chrono::Utc;
use ops_api::keys::{hash, KeyDocument, KeyEntry};
use ops_api::keystore::KeyStore;
use ops_api::{handle, Deps, Role};
use serde_json::{json, Value};
use support::{read, Event, Fake};

const VIEWER_KEY: &str = "ops_viewer-key";
const OPERATOR_KEY: &str = "ops_operator-key";

fn deps() -> Deps<Fake> {
    let entry = |name: &str, key: &str, role| KeyEntry {
        name: name.to_owned(),
        sha256: hash(key),
        role,
        created_at: Utc::now(),
    };
    let keys = KeyDocument {
        keys: vec![
            entry("ci-bot", VIEWER_KEY, Role::Viewer),
            entry("deployer", OPERATOR_KEY, Role::Operator),
        ],
    };
    Deps::with_keys(KeyStore::fixed(keys), "ops_role", Fake::default())
}

/// Sends `event` to a fresh API; returns status, body and the operations called.
async fn check(event: Event) -> (u16, Value, Vec<String>) {
    let deps = deps();
    let response = handle(&deps, event.request()).await;
    let (status, body) = read(&response);
    if body != Value::Null {
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{body}"
        );
    }
    (status, body, deps.operations.calls())
}

/// Asserts a refusal: `status`, `error`, a message containing `says`, nothing called.
async fn refused(event: Event, status: u16, error: &str, says: &str) -> Value {
    let (got, body, calls) = check(event.clone()).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains(says), "{message}");
    assert!(calls.is_empty(), "called {calls:?} for {:?}", event.json());
    body
}

#[tokio::test]
async fn whoami_names_the_caller_of_a_token_or_a_key() {
    let (status, body, _) = check(Event::get("/whoami").operator()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"principal": "jwt:op-1", "role": "operator", "via": "jwt"})
    );
    let (status, body, _) = check(Event::get("/machine/whoami").key(VIEWER_KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"principal": "api-key:ci-bot", "role": "viewer", "via": "api_key"})
    );
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_401_and_call_nothing() {
    refused(
        Event::get("/services"),
        401,
        "unauthorized",
        "no verified token",
    )
    .await;
    refused(
        Event::get("/machine/services"),
        401,
        "unauthorized",
        "no API key",
    )
    .await;
    refused(
        Event::get("/machine/services").key("ops_wrong"),
        401,
        "unauthorized",
        "invalid API key",
    )
    .await;
    refused(
        Event::get("/machine/services").key(" "),
        401,
        "unauthorized",
        "no API key",
    )
    .await;
    refused(
        Event::post("/machine/services/web/abort").key("ops_wrong"),
        401,
        "unauthorized",
        "invalid API key",
    )
    .await;
    refused(
        Event::get("/services").claims(&[("ops_role", "operator")]),
        401,
        "unauthorized",
        "no verified token",
    )
    .await;
}

#[tokio::test]
async fn claims_on_a_machine_path_and_keys_on_a_token_path_are_ignored() {
    refused(
        Event::get("/machine/services").operator(),
        401,
        "unauthorized",
        "no API key",
    )
    .await;
    refused(
        Event::post("/machine/services/web/pause").operator(),
        401,
        "unauthorized",
        "no API key",
    )
    .await;
    refused(
        Event::get("/services").key(OPERATOR_KEY),
        401,
        "unauthorized",
        "no verified token",
    )
    .await;
    refused(
        Event::post("/services/web/pause").key(OPERATOR_KEY),
        401,
        "unauthorized",
        "no verified token",
    )
    .await;
    // A viewer's key with an operator's claims stays a viewer on a machine path.
    refused(
        Event::post("/machine/services/web/pause")
            .key(VIEWER_KEY)
            .operator(),
        403,
        "forbidden",
        "api-key:ci-bot is a viewer",
    )
    .await;
}

#[tokio::test]
async fn viewers_calling_commands_are_403_and_call_nothing() {
    for command in ["pause", "resume", "promote", "abort", "rollback"] {
        let path = format!("/services/web/{command}");
        refused(
            Event::post(&path).viewer().body(r#"{"reason":"x"}"#),
            403,
            "forbidden",
            &format!("jwt:viewer-1 is a viewer: POST /services/{{name}}/{command} needs the operator role"),
        )
        .await;
        refused(
            Event::post(&format!("/machine{path}")).key(VIEWER_KEY),
            403,
            "forbidden",
            "api-key:ci-bot is a viewer",
        )
        .await;
    }
    refused(
        Event::post("/backups/daily/restore")
            .viewer()
            .body(r#"{"apply":true}"#),
        403,
        "forbidden",
        "needs the operator role",
    )
    .await;
}

#[tokio::test]
async fn malformed_bodies_and_queries_are_400_naming_the_field_and_call_nothing() {
    let cases = [
        (
            Event::post("/services/web/pause").operator().body("{"),
            "body",
        ),
        (
            Event::post("/services/web/pause").operator().body("[]"),
            "body",
        ),
        (
            Event::post("/services/web/pause")
                .operator()
                .body(r#"{"reason":5}"#),
            "reason",
        ),
        (
            Event::post("/services/web/promote")
                .operator()
                .body(r#"{"full":"yes"}"#),
            "full",
        ),
        (
            Event::post("/services/web/abort")
                .operator()
                .body(r#"{"full":true}"#),
            "full",
        ),
        (
            Event::post("/machine/services/web/rollback")
                .key(OPERATOR_KEY)
                .body(r#"{"dry_run":"no"}"#),
            "dry_run",
        ),
        (
            Event::post("/backups/daily/restore")
                .operator()
                .body(r#"{"apply":1}"#),
            "apply",
        ),
        (Event::get("/reports/dora?days=0").viewer(), "days"),
        (Event::get("/audit?since=yesterday").viewer(), "since"),
        (
            Event::get("/machine/audit?limit=5000").key(VIEWER_KEY),
            "limit",
        ),
    ];
    for (event, field) in cases {
        let body = refused(event, 400, "bad_request", field).await;
        assert_eq!(body["field"], field, "{body}");
    }
}

#[tokio::test]
async fn unknown_routes_services_and_plans_are_404_naming_them() {
    refused(
        Event::get("/nope").viewer(),
        404,
        "not_found",
        "no route /nope",
    )
    .await;
    refused(
        Event::get("/machine/nope").key(VIEWER_KEY),
        404,
        "not_found",
        "no route /machine/nope",
    )
    .await;
    refused(
        Event::post("/services").operator(),
        404,
        "not_found",
        "no route POST /services (it answers GET)",
    )
    .await;
    refused(
        Event::post("/services/web/retry").operator(),
        404,
        "not_found",
        "no route /services/web/retry",
    )
    .await;
    let (status, body, calls) = check(Event::get("/services/nope").viewer()).await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error": "not_found", "message": "no service named nope"})
        )
    );
    assert_eq!(calls, ["jwt:viewer-1: status_service nope"]);
    let (status, body, _) = check(Event::post("/services/nope/pause").operator()).await;
    assert_eq!(
        (status, &body["message"]),
        (404, &json!("no service named nope"))
    );
    let (status, body, _) = check(Event::get("/backups/weekly/snapshots").viewer()).await;
    assert_eq!(
        (status, &body["message"]),
        (404, &json!("no backup plan named weekly"))
    );
}

#[tokio::test]
async fn reads_call_their_operation_with_the_caller() {
    let cases: [(Event, &str); 9] = [
        (Event::get("/status").viewer(), "jwt:viewer-1: status_suite"),
        (
            Event::get("/services/web").viewer(),
            "jwt:viewer-1: status_service web",
        ),
        (
            Event::get("/services/web/history").viewer(),
            "jwt:viewer-1: history_service web",
        ),
        (
            Event::get("/backups").viewer(),
            "jwt:viewer-1: backups_plans",
        ),
        (
            Event::get("/machine/backups/daily/snapshots").key(VIEWER_KEY),
            "api-key:ci-bot: backups_snapshots daily",
        ),
        (
            Event::get("/reports/dora").viewer(),
            "jwt:viewer-1: dora_report 30",
        ),
        (
            Event::get("/machine/reports/dora?days=7").key(OPERATOR_KEY),
            "api-key:deployer: dora_report 7",
        ),
        (
            Event::get("/audit?since=2026-03-01T00:00:00Z&limit=5").viewer(),
            "jwt:viewer-1: audit_since 2026-03-01T00:00:00+00:00 5",
        ),
        (
            Event::get("/services").operator(),
            "jwt:op-1: status_services",
        ),
    ];
    for (event, call) in cases {
        let (status, body, calls) = check(event).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(calls, [call]);
    }
    let (_, body, _) = check(Event::get("/services").viewer()).await;
    let names: Vec<&str> = body["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["web", "worker"]);
}

#[tokio::test]
async fn commands_call_their_operation_with_the_caller_and_the_body() {
    let cases: [(Event, &str); 7] = [
        (
            Event::post("/services/web/pause")
                .operator()
                .body(r#"{"reason":"investigating"}"#),
            r#"jwt:op-1: deploy_execute Pause web Some("investigating")"#,
        ),
        (
            Event::post("/services/web/resume").operator(),
            "jwt:op-1: deploy_execute Resume web None",
        ),
        (
            Event::post("/services/web/promote")
                .operator()
                .body(r#"{"full":true}"#),
            "jwt:op-1: deploy_execute Promote { full: true } web None",
        ),
        (
            Event::post("/machine/services/web/abort")
                .key(OPERATOR_KEY)
                .body(r#"{"reason":"bad canary"}"#),
            r#"api-key:deployer: deploy_execute Abort web Some("bad canary")"#,
        ),
        (
            Event::post("/services/web/rollback")
                .operator()
                .body(r#"{"to":"web:7","dry_run":true}"#),
            r#"jwt:op-1: rollback_execute web Some("web:7") true None"#,
        ),
        (
            Event::post("/backups/daily/restore").operator(),
            "jwt:op-1: backups_restore daily None false",
        ),
        (
            Event::post("/machine/backups/daily/restore")
                .key(OPERATOR_KEY)
                .body(r#"{"snapshot":"s-1","apply":true}"#),
            r#"api-key:deployer: backups_restore daily Some("s-1") true"#,
        ),
    ];
    for (event, call) in cases {
        let (status, body, calls) = check(event).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(calls, [call]);
    }
    let (_, body, _) = check(Event::post("/machine/services/web/abort").key(OPERATOR_KEY)).await;
    assert_eq!(body["by"], "api-key:deployer");
}

#[tokio::test]
async fn operation_failures_map_to_the_contracts_statuses() {
    let (status, body, _) = check(Event::post("/services/worker/pause").operator()).await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"error": "conflict", "message": "worker has no deployment in flight (status STABLE)"})
        )
    );
    let (status, body, _) = check(Event::get("/cost/latest").viewer()).await;
    assert_eq!(
        (status, body),
        (
            502,
            json!({"error": "failed", "message": "cost report unreadable"})
        )
    );
}

#[tokio::test]
async fn the_page_the_document_and_slack_need_no_credential() {
    let deps = deps();
    let page = handle(&deps, Event::get("/").request()).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let body: &[u8] = page.body().as_ref();
    assert!(String::from_utf8_lossy(body).contains("<html"));

    let (status, body, calls) = check(Event::get("/openapi.json")).await;
    assert_eq!(status, 200);
    assert_eq!(body["openapi"], "3.1.0");
    assert!(calls.is_empty());

    let (status, body, calls) = check(Event::post("/slack/interactions").body("payload=x")).await;
    assert_eq!(status, 501, "{body}");
    assert!(calls.is_empty());
    // The public routes are not part of the machine API.
    refused(
        Event::get("/machine/openapi.json").key(VIEWER_KEY),
        404,
        "not_found",
        "no route",
    )
    .await;
}

#[tokio::test]
async fn the_shipped_sample_events_route() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let read_event = |name: &str| {
        let text = std::fs::read_to_string(root.join(name)).expect("sample event");
        lambda_http::request::from_str(&text).expect("an HTTP API event")
    };
    let deps = deps();
    let (status, body) = read(&handle(&deps, read_event("ops-api-status-jwt.json")).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        deps.operations.calls(),
        ["jwt:0f1e2d3c-viewer: status_suite"]
    );
    // The machine sample carries a placeholder key: refused, nothing called.
    let (status, body) = read(&handle(&deps, read_event("ops-api-machine-pause.json")).await);
    assert_eq!((status, &body["error"]), (401, &json!("unauthorized")));
    assert_eq!(deps.operations.calls().len(), 1);
}
