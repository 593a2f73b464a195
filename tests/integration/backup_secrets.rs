//! Emulator tests of the secrets backup adapters: export of every version with its labels and
//! values, KMS envelope encryption (seal, open, refused keys, tampering), the diff-first restore
//! (put back, retry with the same seed, recreate a deleted secret), and that no value shows in
//! `Debug`, errors or the dry-run JSON.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::Tag;
use ops_adapters::kms::{self, KmsError};
use ops_adapters::secretsmanager::backup::{
    apply_secret_restore, export_secret, live_secret, SecretBackupError,
};
use ops_adapters::AwsClients;
use ops_domain::backup::secret::{plan_secret_restore, SecretDocument, SecretValue};
use ops_tests::emulator::Emulator;
use serde_json::Value;

/// Every secret value in these tests contains this, so one `contains` finds a leak.
const MARK: &str = "s3cr3t";

async fn clients() -> AwsClients {
    AwsClients::new(&Emulator::shared().sdk_config().await)
}

fn value(text: &str) -> SecretValue {
    SecretValue::String(text.to_owned())
}

/// A secret with `AWSPREVIOUS` = `<name>-v1-s3cr3t`, `AWSCURRENT` = `-v2-`, `blue` = `-v3-`,
/// a description and a tag.
async fn seed_secret(admin: &AwsClients, name: &str) {
    let secrets = &admin.secrets;
    let created = secrets
        .create_secret()
        .name(name)
        .description("database password")
        .tags(Tag::builder().key("team").value("core").build())
        .secret_string(format!("{name}-v1-{MARK}"))
        .send()
        .await;
    assert!(created.is_ok(), "create {name}: {created:?}");
    for (text, stages) in [("v2", vec!["AWSCURRENT"]), ("v3", vec!["blue"])] {
        let put = secrets
            .put_secret_value()
            .secret_id(name)
            .secret_string(format!("{name}-{text}-{MARK}"))
            .set_version_stages(Some(stages.into_iter().map(str::to_owned).collect()))
            .send()
            .await;
        assert!(put.is_ok(), "put {text}: {put:?}");
    }
}

async fn export(admin: &AwsClients, name: &str) -> SecretDocument {
    export_secret(&admin.secrets, name)
        .await
        .unwrap_or_else(|e| panic!("export {name}: {e}"))
}

/// The value under `stage` and the number of versions the secret has.
async fn stage_value(admin: &AwsClients, name: &str, stage: &str) -> (Option<SecretValue>, usize) {
    let document = export(admin, name).await;
    let value = document.version_with_stage(stage).map(|v| v.value.clone());
    (value, document.versions.len())
}

#[tokio::test]
async fn export_gives_every_version_with_labels_and_values() {
    let admin = clients().await;
    let name = ops_tests::unique("backup-secret");
    seed_secret(&admin, &name).await;

    let document = export(&admin, &name).await;
    assert_eq!(document.name, name);
    assert!(document.arn.contains(&name), "{}", document.arn);
    assert_eq!(document.description.as_deref(), Some("database password"));
    assert_eq!(
        document.tags,
        BTreeMap::from([("team".to_owned(), "core".to_owned())])
    );
    let versions: Vec<(Vec<String>, SecretValue)> = document
        .versions
        .iter()
        .map(|v| (v.stages.clone(), v.value.clone()))
        .collect();
    let expected: Vec<(Vec<String>, SecretValue)> =
        [("AWSCURRENT", "v2"), ("AWSPREVIOUS", "v1"), ("blue", "v3")]
            .into_iter()
            .map(|(stage, v)| (vec![stage.to_owned()], value(&format!("{name}-{v}-{MARK}"))))
            .collect();
    // AWSCURRENT first; the others by creation date, which moto gives to the second only, so
    // compare them as a set.
    assert_eq!(versions[0], expected[0]);
    let mut rest = versions[1..].to_vec();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(rest, expected[1..]);
    assert!(document.versions.iter().all(|v| v.created_at.is_some()));
    for shown in [format!("{document:?}"), format!("{document:#?}")] {
        assert!(!shown.contains(MARK), "a value in Debug: {shown}");
    }

    let binary = ops_tests::unique("backup-binary");
    let created = admin
        .secrets
        .create_secret()
        .name(&binary)
        .secret_binary(Blob::new(vec![0, 1, 2, 255]))
        .send()
        .await;
    assert!(created.is_ok(), "{created:?}");
    let document = export(&admin, &binary).await;
    assert_eq!(document.versions.len(), 1);
    assert_eq!(document.versions[0].stages, ["AWSCURRENT"]);
    assert_eq!(
        document.versions[0].value,
        SecretValue::Binary("AAEC/w==".into())
    );
}

#[tokio::test]
async fn missing_secret_is_not_found_naming_it() {
    let admin = clients().await;
    let name = ops_tests::unique("backup-missing");
    match export_secret(&admin.secrets, &name).await {
        Err(error @ SecretBackupError::NotFound { .. }) => {
            assert!(error.to_string().contains(&name), "{error}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let live = live_secret(&admin.secrets, &name).await;
    assert!(matches!(live, Ok(None)), "{live:?}");
}

#[tokio::test]
async fn restore_puts_back_once_and_recreates_a_deleted_secret() {
    let admin = clients().await;
    let secrets = &admin.secrets;
    let name = ops_tests::unique("backup-restore");
    seed_secret(&admin, &name).await;
    let backup = export(&admin, &name).await;
    let backed_up_current = backup
        .version_with_stage("AWSCURRENT")
        .map(|v| (v.version_id.clone(), v.value.clone()));

    // Someone changes the value.
    let changed = secrets
        .put_secret_value()
        .secret_id(&name)
        .secret_string(format!("{name}-v4-{MARK}"))
        .send()
        .await;
    assert!(changed.is_ok(), "{changed:?}");

    let live = live_secret(secrets, &name).await;
    let live = live.unwrap_or_else(|e| panic!("live: {e}"));
    assert!(live
        .iter()
        .flat_map(|d| &d.versions)
        .all(|v| !v.stages.is_empty()));
    let plan = plan_secret_restore(&backup, live.as_ref());
    assert!(!plan.create_secret);
    assert_eq!(plan.actions.len(), 1, "{plan:?}");
    assert_eq!(plan.actions[0].stages, ["AWSCURRENT"]);
    assert_eq!(
        Some(plan.actions[0].from_version.clone()),
        backed_up_current.as_ref().map(|c| c.0.clone())
    );
    assert_eq!(plan.unchanged, ["blue"]);
    assert_eq!(plan.skipped, ["AWSPREVIOUS"]);

    // The dry-run report and Debug show no value.
    let json = serde_json::to_string(&plan).unwrap_or_default();
    for shown in [format!("{plan:?}"), format!("{plan:#?}"), json.clone()] {
        assert!(!shown.contains(MARK), "a value shown: {shown}");
    }
    let json: Value = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(json["secret"], name.as_str());
    assert_eq!(json["create_secret"], false);
    assert_eq!(
        json["actions"][0]["stages"],
        serde_json::json!(["AWSCURRENT"])
    );
    assert!(json["actions"][0].get("value").is_none(), "{json}");

    let (_, versions_before) = stage_value(&admin, &name, "AWSCURRENT").await;
    let written = apply_secret_restore(secrets, &plan, "run-1").await;
    let written = written.unwrap_or_else(|e| panic!("apply: {e}"));
    assert_eq!(written.len(), 1);
    let (current, versions_after) = stage_value(&admin, &name, "AWSCURRENT").await;
    assert_eq!(current, backed_up_current.as_ref().map(|c| c.1.clone()));
    assert_eq!(versions_after, versions_before + 1);
    // Secrets Manager moved AWSPREVIOUS to the value the restore replaced.
    let (previous, _) = stage_value(&admin, &name, "AWSPREVIOUS").await;
    assert_eq!(previous, Some(value(&format!("{name}-v4-{MARK}"))));

    // The same plan again with the same seed (a retried run): no second version.
    let again = apply_secret_restore(secrets, &plan, "run-1").await;
    assert_eq!(again.ok(), Some(written.clone()));
    let (current, versions_again) = stage_value(&admin, &name, "AWSCURRENT").await;
    assert_eq!(versions_again, versions_after);
    assert_eq!(current, backed_up_current.as_ref().map(|c| c.1.clone()));

    // Nothing left to restore.
    let live = live_secret(secrets, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = plan_secret_restore(&backup, live.as_ref());
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(after.unchanged, ["AWSCURRENT", "blue"]);

    // Deleted for good: the plan creates it, apply recreates it with settings and labels.
    let deleted = secrets
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await;
    assert!(deleted.is_ok(), "{deleted:?}");
    let live = live_secret(secrets, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(live.is_none());
    let plan = plan_secret_restore(&backup, None);
    assert!(plan.create_secret);
    let stages: Vec<&[String]> = plan.actions.iter().map(|a| a.stages.as_slice()).collect();
    assert_eq!(
        stages,
        [&["AWSCURRENT".to_owned()][..], &["blue".to_owned()][..]]
    );
    let written = apply_secret_restore(secrets, &plan, "run-2").await;
    let written = written.unwrap_or_else(|e| panic!("recreate: {e}"));
    assert_eq!(written.len(), 2);

    let restored = export(&admin, &name).await;
    assert_eq!(restored.description.as_deref(), Some("database password"));
    assert_eq!(restored.tags, backup.tags);
    for stage in ["AWSCURRENT", "blue"] {
        assert_eq!(
            restored.version_with_stage(stage).map(|v| &v.value),
            backup.version_with_stage(stage).map(|v| &v.value),
            "{stage}"
        );
    }
    assert_eq!(restored.versions.len(), 2);
    let live = live_secret(secrets, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(plan_secret_restore(&backup, live.as_ref()).is_empty());

    // Recreating again with the same seed (the secret exists now) writes nothing new.
    let again = apply_secret_restore(secrets, &plan, "run-2").await;
    assert_eq!(again.ok(), Some(written));
    assert_eq!(export(&admin, &name).await.versions.len(), 2);
}

fn context(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("purpose".to_owned(), "ops-suite-backup".to_owned()),
        ("secret".to_owned(), name.to_owned()),
    ])
}

async fn create_key(admin: &AwsClients) -> String {
    let created = admin.kms.create_key().send().await;
    let created = created.unwrap_or_else(|e| panic!("create key: {e:?}"));
    created
        .key_metadata()
        .map(|m| m.arn().unwrap_or(m.key_id()).to_owned())
        .unwrap_or_default()
}

/// Envelope bytes with one JSON field replaced.
fn with_field(envelope: &[u8], field: &str, new: Value) -> Vec<u8> {
    let mut json: Value = serde_json::from_slice(envelope).unwrap_or_default();
    json[field] = new;
    serde_json::to_vec(&json).unwrap_or_default()
}

fn expect_denied(result: Result<kms::Opened, KmsError>, key: &str) {
    match result {
        Err(KmsError::KeyDenied { key: named, reason }) => {
            assert_eq!(named, key, "{reason}");
        }
        other => panic!("expected KeyDenied for {key}, got {other:?}"),
    }
}

fn expect_corrupt(result: Result<kms::Opened, KmsError>) {
    assert!(
        matches!(result, Err(KmsError::Corrupt { .. })),
        "expected Corrupt, got {result:?}"
    );
}

#[tokio::test]
async fn kms_envelopes_seal_open_and_refuse() {
    let admin = clients().await;
    let kms_client = &admin.kms;
    let key = create_key(&admin).await;
    let name = ops_tests::unique("backup-kms");
    let plaintext = format!("{name}-{MARK}-plaintext");
    let aad = format!("snapshots/1/secrets/{name}");

    let data_key = kms::generate_data_key(kms_client, &key, &context(&name)).await;
    let data_key = data_key.unwrap_or_else(|e| panic!("generate: {e}"));
    assert_eq!(data_key.key_id(), key);
    assert!(!format!("{data_key:?}").contains(MARK));
    let sealed = data_key.seal(plaintext.as_bytes(), aad.as_bytes());
    let sealed = sealed.unwrap_or_else(|e| panic!("seal: {e}"));
    assert!(!String::from_utf8_lossy(&sealed.bytes).contains(MARK));
    assert_eq!(sealed.digest.len(), 64);
    let header: Value = serde_json::from_slice(&sealed.bytes).unwrap_or_default();
    assert_eq!(header["algorithm"], "AES-256-GCM");
    assert_eq!(header["kms_key_id"], key.as_str());
    assert_eq!(header["encryption_context"]["secret"], name.as_str());

    let opened = kms::open(kms_client, &sealed.bytes, aad.as_bytes()).await;
    let opened = opened.unwrap_or_else(|e| panic!("open: {e}"));
    assert_eq!(opened.plaintext.as_slice(), plaintext.as_bytes());
    assert_eq!(opened.digest, sealed.digest);
    assert_eq!(opened.key_id, key);
    assert!(!format!("{opened:?}").contains(MARK));

    // Tampered ciphertext, or opened for another place: GCM refuses.
    let ciphertext = header["ciphertext"].as_str().unwrap_or_default();
    let flipped = match ciphertext.as_bytes().first() {
        Some(b'A') => format!("B{}", &ciphertext[1..]),
        _ => format!("A{}", &ciphertext[1..]),
    };
    let tampered = with_field(&sealed.bytes, "ciphertext", flipped.into());
    expect_corrupt(kms::open(kms_client, &tampered, aad.as_bytes()).await);
    expect_corrupt(kms::open(kms_client, &sealed.bytes, b"snapshots/2/other").await);
    expect_corrupt(kms::open(kms_client, b"{\"version\":9}", aad.as_bytes()).await);

    // KMS refuses: an envelope claiming another key, or one that does not exist, or a changed
    // encryption context. Each error names the key the envelope asked for.
    let other = create_key(&admin).await;
    let claims_other = with_field(&sealed.bytes, "kms_key_id", other.as_str().into());
    expect_denied(
        kms::open(kms_client, &claims_other, aad.as_bytes()).await,
        &other,
    );
    let missing = format!(
        "{}00000000-0000-0000-0000-000000000000",
        &key[..key.len() - 36]
    );
    let claims_missing = with_field(&sealed.bytes, "kms_key_id", missing.as_str().into());
    let result = kms::open(kms_client, &claims_missing, aad.as_bytes()).await;
    expect_denied(result, &missing);
    let other_context = with_field(
        &sealed.bytes,
        "encryption_context",
        serde_json::json!({"purpose": "ops-suite-backup", "secret": "another"}),
    );
    expect_denied(
        kms::open(kms_client, &other_context, aad.as_bytes()).await,
        &key,
    );
    match kms::generate_data_key(kms_client, "alias/no-such-key", &context(&name)).await {
        Err(KmsError::KeyDenied { key, .. }) => assert_eq!(key, "alias/no-such-key"),
        other => panic!("expected KeyDenied, got {other:?}"),
    }

    // A disabled key. AWS answers Decrypt with DisabledException, mapped to KeyDenied (unit test
    // `kms::tests::key_refusals_are_key_denied_and_name_the_key`); moto 5 does not check key
    // state in Decrypt or GenerateDataKey, so the envelope still opens here.
    // (moto's DisableKey answers 500 to a key ARN: give it the bare key id.)
    let key_uuid = key.rsplit('/').next().unwrap_or_default();
    let disabled = admin.kms.disable_key().key_id(key_uuid).send().await;
    assert!(disabled.is_ok(), "{disabled:?}");
    match kms::open(kms_client, &sealed.bytes, aad.as_bytes()).await {
        Err(KmsError::KeyDenied { key: named, .. }) => assert_eq!(named, key),
        Ok(_) => eprintln!("moto quirk: Decrypt under a disabled key succeeds"),
        Err(other) => panic!("expected KeyDenied (or moto's quirk), got {other:?}"),
    }
}

#[tokio::test]
async fn restore_moves_every_label_even_when_retried() {
    let admin = clients().await;
    let secrets = &admin.secrets;
    let name = ops_tests::unique("backup-labels");
    seed_secret(&admin, &name).await;
    // The current version also carries `green`.
    let current = export(&admin, &name).await.versions[0].version_id.clone();
    let moved = secrets
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("green")
        .move_to_version_id(&current)
        .send()
        .await;
    assert!(moved.is_ok(), "{moved:?}");
    let backup = export(&admin, &name).await;
    assert_eq!(backup.versions[0].stages, ["AWSCURRENT", "green"]);

    // Recreated: CreateSecret labels its version AWSCURRENT only; green follows it.
    let deleted = secrets
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await;
    assert!(deleted.is_ok(), "{deleted:?}");
    let plan = plan_secret_restore(&backup, None);
    assert_eq!(plan.actions[0].stages, ["AWSCURRENT", "green"]);
    let written = apply_secret_restore(secrets, &plan, "run-1").await;
    let written = written.unwrap_or_else(|e| panic!("recreate: {e}"));
    let restored = export(&admin, &name).await;
    assert_eq!(restored.versions[0].version_id, written[0]);
    assert_eq!(restored.versions[0].stages, ["AWSCURRENT", "green"]);

    // Someone moves blue away after the restore; the same restore retried puts it back
    // without writing a version (the request is ignored, the label is moved).
    let blue = restored
        .version_with_stage("blue")
        .map(|v| v.version_id.clone());
    let moved = secrets
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("blue")
        .move_to_version_id(&written[0])
        .set_remove_from_version_id(blue.clone())
        .send()
        .await;
    assert!(moved.is_ok(), "{moved:?}");
    let again = apply_secret_restore(secrets, &plan, "run-1").await;
    assert_eq!(again.ok(), Some(written));
    let after = export(&admin, &name).await;
    assert_eq!(after.versions.len(), restored.versions.len());
    assert_eq!(
        after
            .version_with_stage("blue")
            .map(|v| v.version_id.clone()),
        blue
    );
    let live = live_secret(secrets, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(plan_secret_restore(&backup, live.as_ref()).is_empty());
}
