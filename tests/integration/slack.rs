//! Slack interactivity against the emulator: the signing secret read from Secrets Manager, a
//! signed button press accepted once, its replay refused, and nothing written for a request
//! that fails any check (forged, stale, malformed, or pressed by someone without the role).

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ops_adapters::s3::StateStore;
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::slack::{self, Headers, Interaction, SlackCommand, SlackError};
use ops_adapters::AwsClients;
use ops_domain::config::SuiteConfig;
use ops_tests::emulator::Emulator;
use ops_tests::seed;

/// A state bucket, the signing secret in Secrets Manager, and the API's clients (whose calls
/// are recorded).
struct SlackWorld {
    admin: AwsClients,
    api: AwsClients,
    store: StateStore,
    bucket: String,
    secret_id: String,
    config: SuiteConfig,
}

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

impl SlackWorld {
    async fn new() -> SlackWorld {
        let sdk = Emulator::shared().sdk_config().await;
        let admin = AwsClients::new(&sdk);
        let bucket = ops_tests::unique("slack");
        seed::create_bucket(&admin, &bucket).await.expect("bucket");
        let secret_id = format!("{bucket}/slack-signing-secret");
        admin
            .secrets
            .create_secret()
            .name(&secret_id)
            .secret_string(format!("{SIGNING_SECRET}\n"))
            .send()
            .await
            .expect("secret");
        let api = AwsClients::new(&sdk);
        let config = ops_domain::config::parse(
            "version: 1\noperators:\n  slack_users:\n    U012ABCDEF: operator\n    U034VIEWER: viewer\n",
        )
        .expect("config");
        SlackWorld {
            store: StateStore::new(api.s3.clone(), &bucket),
            admin,
            api,
            bucket,
            secret_id,
            config,
        }
    }

    /// Every object under `slack/replay/`, with its body.
    async fn markers(&self) -> Vec<(String, String)> {
        let listed = self
            .admin
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix("slack/replay/")
            .send()
            .await
            .expect("list");
        let mut markers = Vec::new();
        for key in listed.contents().iter().filter_map(|o| o.key()) {
            let body = self
                .admin
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .expect("get")
                .body
                .collect()
                .await
                .expect("body")
                .into_bytes();
            markers.push((key.to_owned(), String::from_utf8_lossy(&body).into_owned()));
        }
        markers
    }

    /// Handles a request as the API does: reads the signing secret, then checks the request.
    async fn handle(
        &self,
        request: &Request,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Interaction, SlackError> {
        let cache = SecretCache::new(self.api.secrets.clone(), Duration::from_secs(60));
        let secret = slack::signing_secret(&cache, &self.secret_id).await?;
        let headers = Headers {
            timestamp: request.timestamp.as_deref(),
            signature: request.signature.as_deref(),
        };
        slack::interaction(
            &secret,
            &self.store,
            &self.config,
            &headers,
            &request.body,
            request_id,
            now,
        )
        .await
    }
}

/// A request as Slack would post it.
#[derive(Clone)]
struct Request {
    timestamp: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
}

/// The sample press (an abort by U012ABCDEF), pressed by `user`, signed at `at`.
fn press(user: &str, at: DateTime<Utc>) -> Request {
    let path = ops_tests::workspace_root().join("events/slack-block-actions.json");
    let mut payload: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("JSON");
    payload["user"]["id"] = user.into();
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
        .into_bytes();
    let secret = secrecy::SecretString::from(SIGNING_SECRET.to_owned());
    Request {
        timestamp: Some(at.timestamp().to_string()),
        signature: Some(slack::signature_for(&secret, at.timestamp(), &body)),
        body,
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("valid time")
}

#[tokio::test]
async fn a_signed_press_is_accepted_once_and_its_replay_is_refused() {
    let world = SlackWorld::new().await;
    let now = at(1_774_087_260);
    let request = press("U012ABCDEF", now);

    let first = world
        .handle(&request, "req-1", now)
        .await
        .expect("accepted");
    assert_eq!(first.action, SlackCommand::Abort);
    assert_eq!(first.user_id, "U012ABCDEF");
    assert_eq!(first.service, "checkout");
    assert_eq!(first.deployment_id, "1f3c2a9e-7b1d-4c55-9a0e-2d6f8b4e1a77");
    let markers = world.markers().await;
    assert_eq!(markers.len(), 1, "{markers:?}");
    assert!(
        markers[0].0.starts_with("slack/replay/2026/03/21/"),
        "{markers:?}"
    );
    assert!(
        markers[0].1.contains("\"claimed_by\": \"req-1\""),
        "{markers:?}"
    );

    // The same request again, a minute later (still inside the window): a replay.
    let replay = world.handle(&request, "req-2", at(1_774_087_320)).await;
    assert_eq!(replay, Err(SlackError::Replayed));
    assert_eq!(replay.expect_err("replay").status(), 409);
    assert_eq!(world.markers().await, markers, "the replay changed nothing");

    // The claiming request retried with its own bytes (its answer lost): recognised as its own.
    let verified_at = at(now.timestamp());
    let signature = request.signature.clone().expect("signed");
    assert!(
        slack::claim_once(&world.store, &signature, verified_at, "req-1", now)
            .await
            .expect("claim")
    );
    // Another request with the same signature, even at the same instant: refused.
    assert!(
        !slack::claim_once(&world.store, &signature, verified_at, "req-3", now)
            .await
            .expect("claim")
    );
    assert_eq!(world.markers().await, markers);

    // A new press (a new timestamp, so a new signature) is a new request.
    let later = at(1_774_087_300);
    world
        .handle(&press("U012ABCDEF", later), "req-4", later)
        .await
        .expect("a second press");
    assert_eq!(world.markers().await.len(), 2);

    // What the API's policy must grant for this: the secret, the marker's create-once write and
    // the read-back that recognises an own write whose answer was lost.
    let actions: BTreeSet<String> = world
        .api
        .recorder
        .calls()
        .into_iter()
        .map(|call| call.action)
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from([
            "s3:GetObject".to_owned(),
            "s3:PutObject".to_owned(),
            "secretsmanager:GetSecretValue".to_owned(),
        ])
    );
}

#[tokio::test]
async fn a_request_refused_for_any_reason_writes_nothing() {
    let world = SlackWorld::new().await;
    let now = at(1_774_087_260);
    let good = press("U012ABCDEF", now);
    let forged = Request {
        body: String::from_utf8_lossy(&good.body)
            .replace("checkout", "payments")
            .into_bytes(),
        ..good.clone()
    };
    let unsigned = Request {
        signature: None,
        ..good.clone()
    };
    let no_timestamp = Request {
        timestamp: None,
        ..good.clone()
    };
    let malformed = {
        let secret = secrecy::SecretString::from(SIGNING_SECRET.to_owned());
        let body = b"payload=%7B%22type%22%3A%22block_actions%22%7D".to_vec();
        Request {
            timestamp: Some(now.timestamp().to_string()),
            signature: Some(slack::signature_for(&secret, now.timestamp(), &body)),
            body,
        }
    };
    let cases: Vec<(&str, Request, DateTime<Utc>, u16)> = vec![
        ("forged body", forged, now, 401),
        ("unsigned", unsigned, now, 401),
        ("no timestamp", no_timestamp, now, 401),
        ("stale", good.clone(), at(now.timestamp() + 301), 401),
        (
            "from the future",
            good.clone(),
            at(now.timestamp() - 301),
            401,
        ),
        ("malformed", malformed, now, 400),
        ("a viewer", press("U034VIEWER", now), now, 403),
        ("a stranger", press("U999STRANGER", now), now, 403),
    ];
    for (name, request, when, status) in cases {
        let refused = world
            .handle(&request, &format!("req-{name}"), when)
            .await
            .expect_err(name);
        assert_eq!(refused.status(), status, "{name}: {refused}");
        assert!(world.markers().await.is_empty(), "{name} wrote a marker");
    }
    // The good request was never claimed by any of them.
    world
        .handle(&good, "req-good", now)
        .await
        .expect("accepted");
}

#[tokio::test]
async fn a_missing_signing_secret_is_unavailable_and_names_the_secret_only() {
    let world = SlackWorld::new().await;
    let cache = SecretCache::new(world.api.secrets.clone(), Duration::from_secs(60));
    let missing = format!("{}/nope", world.bucket);
    let error = slack::signing_secret(&cache, &missing)
        .await
        .expect_err("missing");
    assert_eq!(error.status(), 502);
    assert!(error.to_string().contains(&missing), "{error}");
    let found = slack::signing_secret(&cache, &world.secret_id)
        .await
        .expect("stored");
    assert!(!format!("{found:?}").contains(SIGNING_SECRET));
}

/// A press as the HTTP API hands it to ops-api: `POST /slack/interactions` with Slack's two
/// headers and the form body, as an API Gateway v2 event.
fn api_request(request: &Request, request_id: &str) -> lambda_http::Request {
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /slack/interactions",
        "rawPath": "/slack/interactions",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": request.timestamp,
            "x-slack-signature": request.signature,
        },
        "requestContext": {
            "http": { "method": "POST", "path": "/slack/interactions", "protocol": "HTTP/1.1",
                      "sourceIp": "127.0.0.1", "userAgent": "Slackbot" },
            "requestId": request_id,
            "routeKey": "POST /slack/interactions",
            "stage": "$default",
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example", "domainPrefix": "api",
            "time": "05/Dec/2026:00:00:00 +0000", "timeEpoch": 0
        },
        "body": String::from_utf8_lossy(&request.body),
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
}

/// The sample press, pressed by U012ABCDEF on `action` for `service`'s `deployment`, signed now.
fn press_for(action: &str, service: &str, deployment: &str) -> Request {
    let path = ops_tests::workspace_root().join("events/slack-block-actions.json");
    let mut payload: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("JSON");
    payload["actions"][0]["action_id"] = action.into();
    payload["actions"][0]["value"] =
        serde_json::json!({ "deployment_id": deployment, "service": service })
            .to_string()
            .into();
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
        .into_bytes();
    let secret = secrecy::SecretString::from(SIGNING_SECRET.to_owned());
    let now = Utc::now().timestamp();
    Request {
        timestamp: Some(now.to_string()),
        signature: Some(slack::signature_for(&secret, now, &body)),
        body,
    }
}

#[tokio::test]
async fn a_press_through_the_api_aborts_the_deployment_it_was_shown_for_once() {
    use crate::deploy_hook::{params, DeployWorld};
    use ops_api::library::{Library, SlackSettings};
    use ops_domain::deploy::CommandKind;

    let world = DeployWorld::with_config(|yaml| {
        format!("{yaml}\noperators:\n  slack_users:\n    U012ABCDEF: operator\n    U034VIEWER: viewer\n")
    })
    .await;
    let p = params("web", "registry.example/web:1.5.0");
    world.drive_to_first_bake(&p).await;
    let before = world.record("web").await.expect("record");
    let deployment = before
        .progress
        .as_ref()
        .map(|progress| progress.deployment_id.clone())
        .expect("in flight");
    let secret_id = format!("{}/slack-signing-secret", world.prefix);
    world
        .admin
        .secrets
        .create_secret()
        .name(&secret_id)
        .secret_string(SIGNING_SECRET)
        .send()
        .await
        .expect("secret");
    let clients = AwsClients::new(&world.sdk);
    let library = Library::new(
        clients.clone(),
        StateStore::new(clients.s3.clone(), &world.prefix),
        ops_adapters::s3::ConfigSource::new(
            &format!("s3://{}/{}", world.prefix, ops_domain::keys::CONFIG_KEY),
            clients.s3.clone(),
        )
        .expect("config uri"),
        None,
    )
    .with_slack(SlackSettings {
        secret_id,
        cache: SecretCache::new(clients.secrets.clone(), Duration::from_secs(60)),
        http: reqwest::Client::new(),
    });
    let deps = ops_api::Deps::new(
        clients.secrets.clone(),
        ops_api::Settings {
            api_keys_secret: None,
            role_claim: "ops_role".to_owned(),
        },
        library,
    );
    let status = |response: &lambda_http::Response<lambda_http::Body>| response.status().as_u16();

    // A press for another (older) deployment of web is refused; nothing is stored.
    let stale = press_for("ops:abort", "web", "some-older-deployment");
    let answer = ops_api::handle(&deps, api_request(&stale, "r-stale")).await;
    assert_eq!(status(&answer), 409);
    assert!(world
        .record("web")
        .await
        .expect("record")
        .commands
        .is_empty());

    // Forged: refused before anything is read or written.
    let mut forged = press_for("ops:abort", "web", &deployment);
    forged.body.extend_from_slice(b"&x=1");
    let answer = ops_api::handle(&deps, api_request(&forged, "r-forged")).await;
    assert_eq!(status(&answer), 401);

    // The press for the deployment in flight stores the abort, named for the presser.
    let good = press_for("ops:abort", "web", &deployment);
    let answer = ops_api::handle(&deps, api_request(&good, "r-good")).await;
    assert_eq!(
        status(&answer),
        200,
        "{}",
        String::from_utf8_lossy(answer.body().as_ref())
    );
    let record = world.record("web").await.expect("record");
    let abort = record
        .commands
        .iter()
        .find(|c| c.kind == CommandKind::Abort)
        .unwrap_or_else(|| panic!("no abort in {:?}", record.commands));
    assert_eq!(abort.by, "slack:T0123ABCD/U012ABCDEF");
    assert_eq!(abort.deployment_id.as_deref(), Some(deployment.as_str()));

    // The same request again (Slack retries, or someone replays it): refused, nothing more.
    let answer = ops_api::handle(&deps, api_request(&good, "r-replay")).await;
    assert_eq!(status(&answer), 409);
    assert_eq!(world.record("web").await.expect("record").commands.len(), 1);
}
