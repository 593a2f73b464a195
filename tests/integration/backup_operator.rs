//! `opsctl backup` and the API's backup routes, through the operator library against the
//! emulator: freshness and snapshots read from the backup bucket, and verify and restore carried
//! out by the backup function through Lambda `Invoke`. moto runs no Lambda code, so a loopback
//! endpoint answers `Invoke` by running the backup function's own handler in-process.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::post;
use axum::Router;
use lambda_runtime::{Context, LambdaEvent};
use ops_adapters::s3::{ConfigSource, StateStore};
use ops_adapters::AwsClients;
use ops_cli::session::{BackupFunction, Session};
use ops_cli::{backups, Failure};
use serde_json::{json, Value};

use crate::backup::BackupWorld;
use backup::Deps;

/// Answers Lambda `Invoke` (`POST /2015-03-31/functions/{name}/invocations`) with the backup
/// handler's answer, or a function error as Lambda reports one.
async fn invoke(
    State(deps): State<Arc<Deps>>,
    Path(_name): Path<String>,
    body: axum::body::Bytes,
) -> (HeaderMap, String) {
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut context = Context::default();
    context.request_id = ops_tests::unique("req");
    let mut headers = HeaderMap::new();
    // The handler's future is not provably `Send` (higher-ranked lifetimes in its closures),
    // which axum requires: run it to completion on a blocking thread of the same runtime.
    let runtime = tokio::runtime::Handle::current();
    let answer = tokio::task::spawn_blocking(move || {
        runtime.block_on(backup::handle(&deps, LambdaEvent::new(event, context)))
    })
    .await
    .expect("the handler ran");
    match answer {
        Ok(response) => (
            headers,
            serde_json::to_string(&response).unwrap_or_default(),
        ),
        Err(error) => {
            headers.insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            let body = json!({ "errorType": "HandlerError", "errorMessage": error.to_string() });
            (headers, body.to_string())
        }
    }
}

async fn session(world: &BackupWorld) -> Session {
    let deps = world.deps(backup::Settings::default());
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(deps);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&world.sdk)
            .endpoint_url(url)
            .build(),
    );
    let clients = AwsClients::new(&world.sdk);
    let bucket = &world.sources.state_bucket;
    let config = ConfigSource::new(
        &format!("s3://{bucket}/{}", ops_domain::keys::CONFIG_KEY),
        clients.s3.clone(),
    )
    .expect("config uri")
    .current()
    .await
    .expect("config");
    Session {
        store: StateStore::new(clients.s3.clone(), bucket),
        clients,
        config,
        caller: "arn:aws:iam::123456789012:user/ann".to_owned(),
        function: "opsctl".to_owned(),
        backup: Some(BackupFunction {
            client: lambda,
            name: "backup".to_owned(),
        }),
    }
}

#[tokio::test]
async fn backups_are_listed_verified_and_restored_through_the_backup_function() {
    let world = BackupWorld::new(6).await;
    let session = session(&world).await;
    let now = chrono::Utc::now();

    // No snapshot yet: the plan is listed, not fresh.
    let list = backups::plans(&session, now).await.expect("plans");
    assert_eq!(list.plans.len(), 1);
    assert_eq!(list.plans[0].plan, "nightly");
    assert!(!list.plans[0].fresh && list.plans[0].latest.is_none());

    let deps = world.deps(backup::Settings::default());
    world.backup(&deps).await;
    let list = backups::plans(&session, chrono::Utc::now())
        .await
        .expect("plans");
    let latest = list.plans[0].latest.clone().expect("a snapshot");
    assert!(list.plans[0].fresh);
    assert!(latest.objects > 0);
    let snapshots = backups::snapshots(&session, "nightly")
        .await
        .expect("snapshots");
    assert_eq!(snapshots.snapshots.len(), 1);
    assert_eq!(snapshots.snapshots[0].id, latest.id);
    assert_eq!(snapshots.snapshots[0].status, "complete");

    // Verify through the function; its report is what `status` shows as the last verification.
    let report = backups::invoke(
        &session,
        &json!({ "plan": "nightly", "action": "verify", "snapshot": latest.id }),
    )
    .await
    .expect("verify");
    assert_eq!(report["ok"], json!(true), "{report}");
    let list = backups::plans(&session, chrono::Utc::now())
        .await
        .expect("plans");
    assert!(list.plans[0].last_verify.as_ref().is_some_and(|v| v.ok));

    // A source object is lost; the dry run shows it and changes nothing, apply brings it back.
    let (lost, _) = world.source_objects().await.remove(0);
    world
        .admin
        .s3
        .delete_object()
        .bucket(&world.sources.source_bucket)
        .key(&lost)
        .send()
        .await
        .expect("delete");
    let diff = backups::restore(&session, "nightly", None, false)
        .await
        .expect("dry run");
    assert_eq!(diff["apply"], json!(false), "{diff}");
    assert!(!world.source_objects().await.iter().any(|(k, _)| *k == lost));
    let applied = backups::restore(&session, "nightly", None, true)
        .await
        .expect("restore");
    assert_eq!(applied["apply"], json!(true), "{applied}");
    assert!(world.source_objects().await.iter().any(|(k, _)| *k == lost));

    // Unknown plans are refused by name before anything is invoked.
    let refused = backups::restore(&session, "weekly", None, true).await;
    assert!(
        matches!(&refused, Err(Failure::NotFound(m)) if m.contains("weekly") && m.contains("nightly")),
        "{refused:?}"
    );
}
