//! ops-api against the emulator: API keys stored hashed in a real Secrets Manager secret
//! (created the way `opsctl api-key create` will, with the `keys` module), requests handled as
//! the Lambda handles them and through the local server, and a secret that cannot be read
//! refusing every key without quoting it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ops_adapters::secretsmanager::apikeys;
use ops_api::keys::{generate, KeyDocument};
use ops_api::keystore::KeyStore;
use ops_api::{handle, Deps, Role, Settings};
use secrecy::ExposeSecret;
use serde_json::json;
use support::emulator::{sdk_config, unique};
use support::{read, Event, Fake};

async fn secrets() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&sdk_config().await)
}

/// A secret holding `document`; its name.
async fn secret_with(client: &aws_sdk_secretsmanager::Client, document: &KeyDocument) -> String {
    let name = unique("ops/api-keys");
    client
        .create_secret()
        .name(&name)
        .secret_string(document.to_json())
        .send()
        .await
        .expect("create the secret");
    name
}

fn deps(client: aws_sdk_secretsmanager::Client, secret: Option<String>) -> Deps<Fake> {
    let settings = Settings {
        api_keys_secret: secret,
        role_claim: "ops_role".into(),
    };
    Deps::new(client, settings, Fake::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_stored_hashed_in_secrets_manager_authenticates_with_its_role() {
    let client = secrets().await;
    let operator = generate("deployer", Role::Operator, Utc::now()).expect("key");
    let viewer = generate("ci-bot", Role::Viewer, Utc::now()).expect("key");
    let mut document = KeyDocument::default();
    document.add(operator.entry.clone()).expect("add");
    document.add(viewer.entry.clone()).expect("add");
    let secret = secret_with(&client, &document).await;
    let stored = client
        .get_secret_value()
        .secret_id(&secret)
        .send()
        .await
        .expect("read back")
        .secret_string()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !stored.contains(operator.key.expose_secret()),
        "the key itself is stored"
    );

    let deps = deps(client, Some(secret));
    let key = operator.key.expose_secret();
    let (status, body) =
        read(&handle(&deps, Event::get("/machine/whoami").key(key).request()).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"principal": "api-key:deployer", "role": "operator", "via": "api_key"})
    );

    let (status, body) = read(
        &handle(
            &deps,
            Event::post("/machine/services/web/abort")
                .key(key)
                .body(r#"{"reason":"bad canary"}"#)
                .request(),
        )
        .await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        deps.operations.calls(),
        [r#"api-key:deployer: deploy_execute Abort web Some("bad canary")"#]
    );

    let viewer_key = viewer.key.expose_secret();
    let (status, body) = read(
        &handle(
            &deps,
            Event::post("/machine/services/web/abort")
                .key(viewer_key)
                .request(),
        )
        .await,
    );
    assert_eq!((status, &body["error"]), (403, &json!("forbidden")));

    let wrong = format!("{key}x");
    let (status, body) =
        read(&handle(&deps, Event::get("/machine/whoami").key(&wrong).request()).await);
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error": "unauthorized", "message": "invalid API key"})
    );
    assert_eq!(deps.operations.calls().len(), 1, "nothing else was called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_created_and_removed_as_opsctl_does_take_effect() {
    let client = secrets().await;
    // The secret as Terraform leaves it: created, no value yet.
    let secret = unique("ops/api-keys");
    client
        .create_secret()
        .name(&secret)
        .send()
        .await
        .expect("create the secret");
    let store = KeyStore::new(client.clone(), Some(secret.clone()), Duration::ZERO);
    let deps = Deps::with_keys(store, "ops_role", Fake::default());
    let whoami = |key: &str| Event::get("/machine/whoami").key(key).request();

    let first = generate("first", Role::Viewer, Utc::now()).expect("key");
    let entry = first.entry.clone();
    apikeys::change(&client, &secret, |document| document.add(entry.clone()))
        .await
        .expect("create first");
    let (status, body) = read(&handle(&deps, whoami(first.key.expose_secret())).await);
    assert_eq!((status, &body["principal"]), (200, &json!("api-key:first")));

    let duplicate = generate("first", Role::Operator, Utc::now()).expect("key");
    let error = apikeys::change(&client, &secret, |document| {
        document.add(duplicate.entry.clone())
    })
    .await
    .expect_err("a duplicate name");
    assert_eq!(
        error.to_string(),
        format!("secret {secret}: a key named first already exists")
    );

    let second = generate("second", Role::Operator, Utc::now()).expect("key");
    let entry = second.entry.clone();
    apikeys::change(&client, &secret, |document| document.add(entry.clone()))
        .await
        .expect("create second");
    let removed = apikeys::change(&client, &secret, |document| document.remove("first"))
        .await
        .expect("remove first");
    assert_eq!(removed.name, "first");
    let (status, body) = read(&handle(&deps, whoami(second.key.expose_secret())).await);
    assert_eq!((status, &body["role"]), (200, &json!("operator")));
    let (status, _) = read(&handle(&deps, whoami(first.key.expose_secret())).await);
    assert_eq!(status, 401);
    let stored = apikeys::read(&client, &secret).await.expect("read");
    assert_eq!(stored.keys, [second.entry]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_secret_refuses_every_key_without_quoting_it() {
    let client = secrets().await;
    let key = generate("any", Role::Operator, Utc::now()).expect("key");
    let key = key.key.expose_secret().to_owned();
    let hash_of_key = hex::encode(ops_api::keys::hash(&key));

    // Missing secret: 502, and nothing called.
    let deps_missing = deps(client.clone(), Some(unique("ops/missing")));
    let (status, body) = read(
        &handle(
            &deps_missing,
            Event::get("/machine/services").key(&key).request(),
        )
        .await,
    );
    assert_eq!((status, &body["error"]), (502, &json!("failed")), "{body}");
    assert!(deps_missing.operations.calls().is_empty());

    // Malformed secret: 502, and the answer quotes neither the key nor the stored text.
    let name = unique("ops/api-keys");
    let stored = format!(r#"{{"keys":[{{"name":"any","sha256":"{hash_of_key}","role":"root"}}]}}"#);
    client
        .create_secret()
        .name(&name)
        .secret_string(&stored)
        .send()
        .await
        .expect("create");
    let deps_bad = deps(client.clone(), Some(name));
    let response = handle(
        &deps_bad,
        Event::get("/machine/services").key(&key).request(),
    )
    .await;
    let (status, body) = read(&response);
    assert_eq!(status, 502, "{body}");
    let text = body.to_string();
    assert!(
        !text.contains(&key) && !text.contains(&hash_of_key),
        "{text}"
    );
    assert!(deps_bad.operations.calls().is_empty());

    // No secret configured: keys are refused, tokens still work.
    let deps_off = deps(client, None);
    let (status, body) = read(
        &handle(
            &deps_off,
            Event::get("/machine/services").key(&key).request(),
        )
        .await,
    );
    assert_eq!(
        (status, &body["message"]),
        (401, &json!("API keys are not enabled on this API"))
    );
    let (status, _) = read(&handle(&deps_off, Event::get("/whoami").viewer().request()).await);
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_server_answers_like_the_lambda_on_loopback_only() {
    let client = secrets().await;
    let key = generate("browser", Role::Operator, Utc::now()).expect("key");
    let mut document = KeyDocument::default();
    document.add(key.entry.clone()).expect("add");
    let secret = secret_with(&client, &document).await;
    let deps = Arc::new(deps(client.clone(), Some(secret)));

    let open = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let refused = ops_api::local::serve(open, deps.clone())
        .await
        .expect_err("not loopback");
    assert!(refused.to_string().contains("loopback"), "{refused}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(ops_api::local::serve(listener, deps.clone()));
    let http = reqwest::Client::new();

    let page = http.get(format!("{base}/")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.headers().contains_key("content-security-policy"));

    let whoami = http
        .get(format!("{base}/machine/whoami"))
        .header("x-api-key", key.key.expose_secret())
        .send()
        .await
        .expect("whoami");
    assert_eq!(whoami.status(), 200);
    assert_eq!(
        whoami.json::<serde_json::Value>().await.expect("json"),
        json!({"principal": "api-key:browser", "role": "operator", "via": "api_key"})
    );

    // No gateway here: the token paths have nobody to verify a token.
    let token_path = http
        .get(format!("{base}/whoami"))
        .send()
        .await
        .expect("whoami");
    assert_eq!(token_path.status(), 401);

    let pause = http
        .post(format!("{base}/machine/services/web/pause?x=1"))
        .header("x-api-key", key.key.expose_secret())
        .body(r#"{"reason":"from the page"}"#)
        .send()
        .await
        .expect("pause");
    assert_eq!(pause.status(), 200);
    let bad = http
        .post(format!("{base}/machine/services/web/pause"))
        .header("x-api-key", key.key.expose_secret())
        .body(r#"{"reason":1}"#)
        .send()
        .await
        .expect("bad pause");
    assert_eq!(bad.status(), 400);
    assert_eq!(
        deps.operations.calls(),
        [r#"api-key:browser: deploy_execute Pause web Some("from the page")"#]
    );
    server.abort();
}
