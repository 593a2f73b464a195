//! ops-api's logs: every answer is logged with its principal, never with a key or a key's
//! hash. Its own test binary, with one test, so no other test's thread races the subscriber
//! this test installs (tracing caches callsite interest per process).

mod support;

use chrono::Utc;
use ops_api::keys::{hash, KeyDocument, KeyEntry};
use ops_api::keystore::KeyStore;
use ops_api::{handle, Deps, Role};
use support::{Event, Fake};

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

/// Everything the subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_name_the_principal_and_never_a_key() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let deps = deps();
    for event in [
        Event::get("/machine/whoami").key(OPERATOR_KEY),
        Event::post("/machine/services/web/pause").key(VIEWER_KEY),
        Event::get("/machine/whoami").key("ops_a-wrong-key"),
        Event::post("/machine/services/web/abort")
            .key(OPERATOR_KEY)
            .body(r#"{"reason":"x"}"#),
    ] {
        handle(&deps, event.request()).await;
    }
    let logs = String::from_utf8(captured.0.lock().expect("log").clone()).expect("utf-8");
    assert!(logs.contains("Answered."), "{logs}");
    assert!(logs.contains("api-key:deployer"), "{logs}");
    for secret in [OPERATOR_KEY, VIEWER_KEY, "ops_a-wrong-key"] {
        assert!(!logs.contains(secret), "{secret} logged: {logs}");
        assert!(!logs.contains(&hex::encode(hash(secret))), "{logs}");
    }
}
