//! The status page end to end: ops-api's loopback server (`ops_api::local::serve`, the very
//! router the Lambda runs) over a deploy-hook world on the emulator, with API keys hashed in a
//! Secrets Manager secret. A viewer sees the services and no button; an operator aborts the
//! in-flight canary through the dialog, the command lands in the deployment record naming the
//! key, and deploy-hook's next invocation puts the traffic back, which the page then shows.

use std::sync::Arc;

use chrono::Utc;
use ops_adapters::s3::{ConfigSource, StateStore};
use ops_adapters::AwsClients;
use ops_api::keys::{self, KeyDocument};
use ops_api::library::Library;
use ops_api::{Deps, Role, Settings};
use ops_domain::deploy::CommandKind;
use ops_domain::deployment::DeploymentStatus;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::driver::Browser;
use crate::deploy_hook::{params, DeployWorld};

async fn serve(world: &DeployWorld) -> (String, String, String) {
    let now = Utc::now();
    let operator = keys::generate("page-operator", Role::Operator, now).expect("key");
    let viewer = keys::generate("page-viewer", Role::Viewer, now).expect("key");
    let mut document = KeyDocument::default();
    document.add(operator.entry).expect("add");
    document.add(viewer.entry).expect("add");
    let secret = format!("{}/api-keys", world.prefix);
    world
        .admin
        .secrets
        .create_secret()
        .name(&secret)
        .secret_string(document.to_json())
        .send()
        .await
        .expect("api keys secret");
    let clients = AwsClients::new(&world.sdk);
    let config = ConfigSource::new(
        &format!("s3://{}/{}", world.prefix, ops_domain::keys::CONFIG_KEY),
        clients.s3.clone(),
    )
    .expect("config uri");
    // The product's own operations (ops-api's library over ops_cli).
    let library = Library::new(
        clients.clone(),
        StateStore::new(clients.s3.clone(), &world.prefix),
        config,
        None,
    );
    let deps = Deps::new(
        clients.secrets.clone(),
        Settings {
            api_keys_secret: Some(secret),
            role_claim: "ops_role".to_owned(),
        },
        library,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback listener");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(ops_api::local::serve(listener, Arc::new(deps)));
    (
        url,
        operator.key.expose_secret().to_owned(),
        viewer.key.expose_secret().to_owned(),
    )
}

/// The page's row of `service`: status, weights (target → percent) and visible text.
async fn row(browser: &Browser, service: &str) -> Value {
    browser
        .js(
            r#"const row = document.querySelector('#services tr[data-service="' + arguments[0] + '"]');
               if (!row) return null;
               const weights = {};
               row.querySelectorAll('[data-weight]').forEach(w => { weights[w.dataset.weight] = Number(w.dataset.value); });
               return { status: row.dataset.status, weights, text: row.innerText,
                        actions: [...row.querySelectorAll('button[data-action]')].map(b => b.dataset.action) };"#,
            vec![json!(service)],
        )
        .await
}

#[tokio::test]
async fn an_operator_aborts_from_the_page_and_deploy_hook_puts_traffic_back() {
    let world = DeployWorld::new().await;
    let p = params("web", "registry.example/web:1.5.0");
    let token = world.drive_to_first_bake(&p).await;
    assert_eq!(world.web_weights().await["green"], 10);
    let (url, operator_key, viewer_key) = serve(&world).await;

    // A viewer: every configured service, the canary in flight at 10 %, no command button.
    let browser = Browser::open().await;
    browser.goto(&format!("{url}/")).await;
    browser.sign_in(&viewer_key).await;
    browser.screenshot("live-viewer").await;
    let shown = browser
        .js(
            "return [...document.querySelectorAll('#services tbody tr')].map(r => r.dataset.service).sort();",
            vec![],
        )
        .await;
    let configured: Vec<&String> = world.seeded.keys().collect();
    assert_eq!(shown, json!(configured));
    let web = row(&browser, "web").await;
    assert_eq!(web["status"], "IN_PROGRESS", "{web}");
    assert_eq!(web["weights"]["green"], 10, "{web}");
    assert!(
        web["text"]
            .as_str()
            .unwrap_or_default()
            .contains(", 10 %, "),
        "{web}"
    );
    assert_eq!(browser.count("button[data-action]").await, 0);
    assert!(browser.text("#who").await.contains("viewer"));
    browser.click("#signout").await;

    // An operator: Abort on the canary, confirmed with a reason in the dialog.
    browser.sign_in(&operator_key).await;
    let web = row(&browser, "web").await;
    assert_eq!(
        web["actions"],
        json!(["pause", "promote", "abort"]),
        "{web}"
    );
    browser
        .click("#services button[data-service=web][data-action=abort]")
        .await;
    browser
        .until(
            "the dialog",
            "return document.getElementById('confirm').open;",
        )
        .await;
    browser
        .type_into("#confirm-reason", "bad canary seen on the page")
        .await;
    browser.screenshot("live-abort-dialog").await;
    let renders = browser.renders().await;
    browser.click("#confirm-ok").await;
    browser.rendered_after(renders).await;
    let said = browser.text("#messages").await;
    assert!(said.contains("Abort web: stored"), "{said}");
    browser.screenshot("live-abort-stored").await;

    // The record holds the command, by the key's principal, with the reason.
    let record = world.record("web").await.expect("record");
    let abort = record
        .commands
        .iter()
        .find(|command| command.kind == CommandKind::Abort)
        .unwrap_or_else(|| panic!("no abort command in {:?}", record.commands));
    assert_eq!(abort.by, "api-key:page-operator");
    assert_eq!(abort.reason, "bad canary seen on the page");

    // deploy-hook's next invocation carries it out: traffic back on blue, the job failed.
    let drive = world.drive_from(&p, token).await;
    let last = drive.last();
    assert_eq!(
        last.failure_type.as_deref(),
        Some("JobFailed"),
        "{}",
        last.summary
    );
    assert!(
        last.summary.contains("aborted by api-key:page-operator")
            && last.summary.contains("bad canary seen on the page"),
        "{}",
        last.summary
    );
    assert_eq!(
        world.web_weights().await,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    let record = world.record("web").await.expect("record");
    assert_eq!(record.status, DeploymentStatus::RolledBack);

    // The page shows it on its next refresh: rolled back, no more buttons, the reason.
    let renders = browser.renders().await;
    browser.click("#refresh").await;
    browser.rendered_after(renders).await;
    let web = row(&browser, "web").await;
    assert_eq!(web["status"], "ROLLED_BACK", "{web}");
    assert_eq!(web["weights"]["green"], 0, "{web}");
    assert_eq!(web["actions"], json!([]), "{web}");
    let rollbacks = browser.text("#rollbacks").await;
    assert!(
        rollbacks.contains("bad canary seen on the page"),
        "{rollbacks}"
    );
    browser.screenshot("live-after-rollback").await;
    browser.close().await;
}
