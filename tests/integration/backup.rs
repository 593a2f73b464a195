//! The backup function against the emulator: backup → change → incremental backup → restore
//! for every target type, one run per plan, crash before the manifest, checkpoints, verification,
//! retention, encryption, bad input; metadata kept per key ([`metadata`]).

mod metadata;

use std::collections::BTreeSet;
use std::sync::Arc;

use backup::{Deps, HandlerError, Response, Settings};
use lambda_runtime::{Context, LambdaEvent};
use ops_adapters::AwsClients;
use ops_domain::keys;
use ops_tests::backup_seed::{self, BackupSources};
use ops_tests::emulator::Emulator;
use ops_tests::receiver::Receiver;
use serde_json::{json, Value};

/// One test's sources, config and function.
pub struct BackupWorld {
    pub admin: AwsClients,
    pub sources: BackupSources,
    pub receiver: Receiver,
    pub sdk: aws_config::SdkConfig,
}

impl BackupWorld {
    pub async fn new(objects: usize) -> BackupWorld {
        Self::with(objects, |yaml| yaml).await
    }

    pub async fn with(objects: usize, edit: impl FnOnce(String) -> String) -> BackupWorld {
        Self::build(objects, false, edit).await
    }

    /// A world whose backup bucket has S3 Object Lock.
    pub async fn locked(objects: usize, edit: impl FnOnce(String) -> String) -> BackupWorld {
        Self::build(objects, true, edit).await
    }

    async fn build(
        objects: usize,
        object_lock: bool,
        edit: impl FnOnce(String) -> String,
    ) -> BackupWorld {
        let sdk = Emulator::shared().sdk_config().await;
        let admin = AwsClients::new(&sdk);
        let prefix = ops_tests::unique("bk");
        let sources = backup_seed::backup_sources(&admin, &prefix, objects, object_lock)
            .await
            .expect("seed");
        let receiver = Receiver::start().await;
        let yaml = backup_seed::backup_config_yaml(&sources);
        let config = ops_domain::config::parse(&yaml).expect("config");
        ops_tests::seed::notifier_secrets(&admin, &config, &receiver.url)
            .await
            .expect("notifier secrets");
        ops_tests::seed::upload_config(&admin, &sources.state_bucket, &edit(yaml))
            .await
            .expect("upload config");
        BackupWorld {
            admin,
            sources,
            receiver,
            sdk,
        }
    }

    /// The function's dependencies with `settings` (a fresh call recorder each time).
    pub fn deps(&self, settings: Settings) -> Arc<Deps> {
        Arc::new(
            Deps::new(
                &self.sdk,
                &self.sources.state_bucket,
                &format!("s3://{}/{}", self.sources.state_bucket, keys::CONFIG_KEY),
                settings,
            )
            .expect("deps"),
        )
    }

    pub async fn invoke_with(&self, deps: &Deps, event: Value) -> Result<Response, HandlerError> {
        let mut context = Context::default();
        context.request_id = ops_tests::unique("req");
        backup::handle(deps, LambdaEvent::new(event, context)).await
    }

    /// Runs an action to completion (following continuations) and returns its report.
    pub async fn run(&self, deps: &Deps, event: Value) -> Value {
        let mut event = event;
        loop {
            match self.invoke_with(deps, event.clone()).await.expect("invoke") {
                Response::Done { report } => return report,
                Response::Continued { next, .. } => event = next,
                Response::Skipped { holder, .. } => panic!("skipped: {holder} holds the plan"),
            }
        }
    }

    pub async fn backup(&self, deps: &Deps) -> Value {
        self.run(deps, json!({"plan": "nightly", "action": "backup"}))
            .await
    }

    /// Run claims and checkpoints left in the state bucket.
    pub async fn runs_left(&self) -> Vec<String> {
        keys_under(&self.admin, &self.sources.state_bucket, "backup/runs/").await
    }

    pub async fn backup_keys(&self, prefix: &str) -> Vec<String> {
        keys_under(&self.admin, &self.sources.backup_bucket, prefix).await
    }

    pub async fn source_objects(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for key in keys_under(&self.admin, &self.sources.source_bucket, "data/").await {
            let text = text_of(&self.admin, &self.sources.source_bucket, &key).await;
            out.push((key, text));
        }
        out
    }

    pub async fn secret_value(&self) -> String {
        self.admin
            .secrets
            .get_secret_value()
            .secret_id(&self.sources.secret)
            .send()
            .await
            .expect("secret")
            .secret_string()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn service_image_and_count(&self) -> (String, i32) {
        let services = self
            .admin
            .ecs
            .describe_services()
            .cluster(&self.sources.cluster)
            .services(&self.sources.service)
            .send()
            .await
            .expect("describe services");
        let service = &services.services()[0];
        let td = self
            .admin
            .ecs
            .describe_task_definition()
            .task_definition(service.task_definition().unwrap_or_default())
            .send()
            .await
            .expect("describe td");
        let image = td
            .task_definition()
            .and_then(|t| t.container_definitions().first())
            .and_then(|c| c.image())
            .unwrap_or_default()
            .to_owned();
        (image, service.desired_count())
    }

    pub async fn zone_records(&self) -> Vec<ops_domain::backup::diff::RecordSet> {
        ops_adapters::route53::backup::live_records(&self.admin.route53, &self.sources.zone_id)
            .await
            .expect("records")
    }
}

/// An object's content as text (lossy).
pub async fn text_of(admin: &AwsClients, bucket: &str, key: &str) -> String {
    let body = admin
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

pub async fn keys_under(admin: &AwsClients, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let output = admin
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .expect("list");
        keys.extend(
            output
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        match output.next_continuation_token() {
            Some(next) => token = Some(next.to_owned()),
            None => return keys,
        }
    }
}

fn total(report: &Value, field: &str) -> u64 {
    report["totals"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {report}"))
}

/// Changes every source: two objects rewritten, one deleted, one added; a weight changed and a
/// record deleted; a new task definition revision and desired count; a new secret value.
async fn change_everything(world: &BackupWorld) {
    let s = &world.sources;
    backup_seed::put_objects(&world.admin, &s.source_bucket, 0..2, 2)
        .await
        .expect("rewrite");
    world
        .admin
        .s3
        .delete_object()
        .bucket(&s.source_bucket)
        .key("data/00005.txt")
        .send()
        .await
        .expect("delete");
    world
        .admin
        .s3
        .put_object()
        .bucket(&s.source_bucket)
        .key("data/new.txt")
        .body(b"new".to_vec().into())
        .send()
        .await
        .expect("add");
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let blue = ResourceRecordSet::builder()
        .name(format!("api.{}", s.zone_name))
        .r#type(RrType::A)
        .ttl(60)
        .set_identifier("blue")
        .weight(10)
        .health_check_id(&s.health_checks[0])
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.10")
                .build()
                .expect("v"),
        )
        .build()
        .expect("blue");
    let app = ResourceRecordSet::builder()
        .name(format!("app.{}", s.zone_name))
        .r#type(RrType::Txt)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value("\"stray\"")
                .build()
                .expect("v"),
        )
        .build()
        .expect("stray");
    world
        .admin
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(blue)
                        .build()
                        .expect("c"),
                )
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(app)
                        .build()
                        .expect("c"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("change zone");
    let td = backup_seed::register_web(&world.admin, &s.prefix, "nginx:1.27.0")
        .await
        .expect("register");
    world
        .admin
        .ecs
        .update_service()
        .cluster(&s.cluster)
        .service(&s.service)
        .task_definition(td)
        .desired_count(5)
        .send()
        .await
        .expect("update service");
    world
        .admin
        .secrets
        .put_secret_value()
        .secret_id(&s.secret)
        .secret_string(r#"{"user":"app","password":"third-s3cr3t"}"#)
        .send()
        .await
        .expect("new secret value");
}

#[tokio::test]
async fn backup_change_incremental_backup_and_restore_every_target_to_a_point_in_time() {
    let world = BackupWorld::new(20).await;
    let deps = world.deps(Settings::default());
    let original_objects = world.source_objects().await;
    let original_records = world.zone_records().await;
    let original_service = world.service_image_and_count().await;
    let original_secret = world.secret_value().await;

    let first = world.backup(&deps).await;
    // 20 objects + zone.json + zone.txt + service/web.json + the secret's versions.json.
    assert_eq!(total(&first, "objects"), 24, "{first}");
    assert_eq!(total(&first, "copied_objects"), 24, "{first}");
    assert_eq!(deps.clients.recorder.succeeded("s3:CopyObject"), 20);
    let snapshot = first["snapshot"].as_str().expect("snapshot").to_owned();

    change_everything(&world).await;
    let deps = world.deps(Settings::default());
    let second = world.backup(&deps).await;
    assert_eq!(total(&second, "objects"), 24, "{second}");
    // Only the 3 changed/added objects are copied server-side; the 17 others are referenced.
    assert_eq!(
        deps.clients.recorder.succeeded("s3:CopyObject"),
        3,
        "{second}"
    );
    assert_eq!(total(&second, "referenced_objects"), 17, "{second}");
    assert_eq!(second["parent"].as_str(), Some(snapshot.as_str()));

    // Dry run: the diff, and nothing changes.
    let deps = world.deps(Settings::default());
    let restore = json!({"plan": "nightly", "action": "restore", "snapshot": snapshot});
    let dry = world.run(&deps, restore.clone()).await;
    assert_eq!(dry["apply"], json!(false));
    assert_eq!(dry["in_sync"], json!(false), "{dry}");
    let s3 = &dry["s3"][0];
    assert_eq!(
        (
            s3["create"].as_u64(),
            s3["update"].as_u64(),
            s3["delete"].as_u64()
        ),
        (Some(1), Some(2), Some(1)),
        "{s3}"
    );
    assert!(
        !dry["route53"][0]["plan"]["batches"]
            .as_array()
            .expect("batches")
            .is_empty(),
        "{dry}"
    );
    assert!(
        dry.to_string().find("third-s3cr3t").is_none()
            && dry.to_string().find("second-s3cr3t").is_none(),
        "a secret value in the report: {dry}"
    );
    for action in [
        "s3:PutObject",
        "s3:DeleteObjects",
        "route53:ChangeResourceRecordSets",
        "ecs:RegisterTaskDefinition",
        "secretsmanager:PutSecretValue",
    ] {
        let made = deps
            .clients
            .recorder
            .calls()
            .iter()
            .filter(|c| c.action == action && !c.action.is_empty())
            .count();
        if action == "s3:PutObject" {
            continue; // reports and audit go to the state bucket
        }
        assert_eq!(made, 0, "dry run called {action}");
    }
    assert_ne!(world.source_objects().await, original_objects);

    // Apply: every target back to the first snapshot.
    let applied = world
        .run(&deps, json!({"plan": "nightly", "action": "restore", "snapshot": snapshot, "apply": true, "update_services": true}))
        .await;
    assert_eq!(applied["apply"], json!(true), "{applied}");
    assert_eq!(world.source_objects().await, original_objects);
    let strip_hc = |records: Vec<ops_domain::backup::diff::RecordSet>| -> Vec<_> {
        records
            .into_iter()
            .map(|mut r| {
                r.health_check_id = r.health_check_id.map(|_| "hc".into());
                r
            })
            .collect()
    };
    assert_eq!(
        strip_hc(world.zone_records().await),
        strip_hc(original_records)
    );
    assert_eq!(world.service_image_and_count().await, original_service);
    assert_eq!(world.secret_value().await, original_secret);

    // Restored means in sync: a second dry run finds nothing to change.
    let again = world.run(&deps, restore).await;
    assert_eq!(again["in_sync"], json!(true), "{again}");
}

#[tokio::test]
async fn two_runs_of_one_plan_at_once_make_one_snapshot() {
    let world = BackupWorld::new(30).await;
    let (a, b) = (
        world.deps(Settings::default()),
        world.deps(Settings::default()),
    );
    let event = json!({"plan": "nightly", "action": "backup"});
    let (ra, rb) = tokio::join!(
        world.invoke_with(&a, event.clone()),
        world.invoke_with(&b, event)
    );
    let outcomes = [ra.expect("a"), rb.expect("b")];
    let done = outcomes
        .iter()
        .filter(|r| matches!(r, Response::Done { .. }))
        .count();
    let skipped = outcomes
        .iter()
        .filter(|r| matches!(r, Response::Skipped { .. }))
        .count();
    assert_eq!((done, skipped), (1, 1), "{outcomes:?}");
    assert_eq!(world.backup_keys("backups/snapshots/").await.len(), 1);
    assert!(world.runs_left().await.is_empty(), "claim released");
}

#[tokio::test]
async fn a_run_that_dies_before_its_manifest_is_invisible_then_completed_without_recopying() {
    let world = BackupWorld::new(12).await;
    let crashing = world.deps(Settings {
        crash_before_manifest: true,
        lease: chrono::Duration::seconds(1),
        ..Settings::default()
    });
    let error = world
        .invoke_with(&crashing, json!({"plan": "nightly", "action": "backup"}))
        .await
        .expect_err("crash");
    assert!(matches!(error, HandlerError::Interrupted), "{error}");
    assert_eq!(crashing.clients.recorder.succeeded("s3:CopyObject"), 12);
    // Data is there, but no snapshot is visible to restore, verify or prune.
    assert!(!world.backup_keys("backups/data/").await.is_empty());
    assert!(world.backup_keys("backups/snapshots/").await.is_empty());
    assert!(world.backup_keys("backups/latest/").await.is_empty());
    let deps = world.deps(Settings::default());
    let restore = world
        .invoke_with(&deps, json!({"plan": "nightly", "action": "restore"}))
        .await;
    // The plan is still held by the dead run: a restore waits for it rather than race it.
    assert!(
        matches!(restore, Ok(Response::Skipped { .. })),
        "{restore:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    // Once its lease is over, only a backup takes it over: a restore still finds no snapshot
    // and leaves the checkpoint to the next backup.
    let restore = world
        .invoke_with(&deps, json!({"plan": "nightly", "action": "restore"}))
        .await;
    assert!(
        matches!(restore, Ok(Response::Skipped { .. })),
        "{restore:?}"
    );

    // The next backup takes the run over and finishes it.
    let deps = world.deps(Settings::default());
    let report = world.backup(&deps).await;
    assert_eq!(total(&report, "objects"), 16, "{report}");
    assert_eq!(
        deps.clients.recorder.succeeded("s3:CopyObject"),
        0,
        "nothing recopied"
    );
    assert_eq!(world.backup_keys("backups/snapshots/").await.len(), 1);
    let verify = world
        .run(
            &deps,
            json!({"plan": "nightly", "action": "verify", "drill": false}),
        )
        .await;
    assert_eq!(verify["ok"], json!(true), "{verify}");
}

#[tokio::test]
async fn a_long_run_checkpoints_and_continues_in_new_invocations_without_recopying() {
    let world = BackupWorld::new(23).await;
    let deps = world.deps(Settings {
        max_copies_per_invocation: 7,
        checkpoint_every: 5,
        ..Settings::default()
    });
    let mut event = json!({"plan": "nightly", "action": "backup"});
    let mut invocations = 0;
    let report = loop {
        invocations += 1;
        match world
            .invoke_with(&deps, event.clone())
            .await
            .expect("invoke")
        {
            Response::Continued {
                next,
                copies_done,
                copies_planned,
                continued_by_self,
                ..
            } => {
                assert!(!continued_by_self);
                assert_eq!(copies_planned, 23);
                assert!(copies_done < 23);
                // Another run meanwhile finds the plan busy.
                let other = world
                    .invoke_with(
                        &world.deps(Settings::default()),
                        json!({"plan": "nightly", "action": "backup"}),
                    )
                    .await
                    .expect("other");
                assert!(matches!(other, Response::Skipped { .. }), "{other:?}");
                event = next;
            }
            Response::Done { report } => break report,
            Response::Skipped { .. } => panic!("skipped"),
        }
    };
    assert_eq!(invocations, 4, "7 + 7 + 7 + 2 copies");
    assert_eq!(
        deps.clients.recorder.succeeded("s3:CopyObject"),
        23,
        "each object copied once"
    );
    assert_eq!(total(&report, "objects"), 27);
    assert!(world.runs_left().await.is_empty(), "checkpoints cleaned up");
}

#[tokio::test]
async fn verification_detects_a_deleted_and_a_corrupted_object_and_notifies() {
    let world = BackupWorld::new(10).await;
    let deps = world.deps(Settings::default());
    world.backup(&deps).await;
    let ok = world
        .run(&deps, json!({"plan": "nightly", "action": "verify"}))
        .await;
    assert_eq!(ok["ok"], json!(true), "{ok}");
    assert_eq!(ok["zones_drilled"], json!(1), "{ok}");
    assert_eq!(ok["objects_checked"], json!(14));
    assert_eq!(ok["deep_checked"], json!(14));

    let data = world.backup_keys("backups/data/").await;
    let (deleted, corrupted) = (&data[0], &data[1]);
    world
        .admin
        .s3
        .delete_object()
        .bucket(&world.sources.backup_bucket)
        .key(deleted)
        .send()
        .await
        .expect("delete");
    world
        .admin
        .s3
        .put_object()
        .bucket(&world.sources.backup_bucket)
        .key(corrupted)
        .body(b"bit rot".to_vec().into())
        .send()
        .await
        .expect("corrupt");
    // Cheap only: no download, and both are found.
    let deps = world.deps(Settings::default());
    let bad = world.run(&deps, json!({"plan": "nightly", "action": "verify", "deep_sample_percent": 0, "drill": false})).await;
    assert_eq!(bad["ok"], json!(false));
    let failures = bad["failures"].to_string();
    let short = |k: &str| k.trim_start_matches("backups/").to_owned();
    assert!(
        failures.contains(&format!("{}: missing", short(deleted))),
        "{failures}"
    );
    assert!(failures.contains(&short(corrupted)), "{failures}");
    // No data object is downloaded: the config, the manifest, the latest pointer (freshness)
    // and the run claim (read before it is released) only.
    assert_eq!(
        deps.clients.recorder.succeeded("s3:GetObject"),
        4,
        "config, manifest, latest pointer and run claim only"
    );
    let hooks = world.receiver.at("/webhook");
    assert_eq!(hooks.len(), 1, "one failure notification");
}

#[tokio::test]
async fn prune_applies_retention_and_deletes_only_unreferenced_data() {
    let world = BackupWorld::new(8).await;
    let deps = world.deps(Settings {
        prune_grace: chrono::Duration::zero(),
        ..Settings::default()
    });
    let mut snapshots = Vec::new();
    for generation in 2..5u32 {
        let report = world.backup(&deps).await;
        snapshots.push(report["snapshot"].as_str().expect("id").to_owned());
        backup_seed::put_objects(&world.admin, &world.sources.source_bucket, 0..1, generation)
            .await
            .expect("change");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let before: BTreeSet<String> = world
        .backup_keys("backups/data/")
        .await
        .into_iter()
        .collect();
    let pruned = world
        .run(&deps, json!({"plan": "nightly", "action": "prune"}))
        .await;
    assert_eq!(
        pruned["deleted_snapshots"],
        json!([snapshots[0]]),
        "{pruned}"
    );
    let after: BTreeSet<String> = world
        .backup_keys("backups/data/")
        .await
        .into_iter()
        .collect();
    // The first snapshot's version of data/00000.txt and its secret document were only its own.
    assert_eq!(before.difference(&after).count(), 2, "{pruned}");
    let verify = world
        .run(
            &deps,
            json!({"plan": "nightly", "action": "verify", "drill": false}),
        )
        .await;
    assert_eq!(verify["ok"], json!(true), "{verify}");
    assert_eq!(verify["snapshots_checked"], json!(2));
    // Pruning again deletes nothing more.
    let again = world
        .run(&deps, json!({"plan": "nightly", "action": "prune"}))
        .await;
    assert_eq!(again["deleted_snapshots"], json!([]));
}

#[tokio::test]
async fn backed_up_secrets_are_unreadable_without_the_key() {
    let world = BackupWorld::new(1).await;
    let deps = world.deps(Settings::default());
    world.backup(&deps).await;
    let mut found_secret_doc = false;
    for key in world.backup_keys("backups/data/").await {
        let text = text_of(&world.admin, &world.sources.backup_bucket, &key).await;
        assert!(!text.contains("second-s3cr3t"), "plaintext secret in {key}");
        found_secret_doc |= text.contains("AES-256-GCM");
    }
    assert!(found_secret_doc, "an envelope was stored");
    world
        .admin
        .kms
        .disable_key()
        .key_id(&world.sources.kms_key)
        .send()
        .await
        .expect("disable key");
    let deps = world.deps(Settings::default());
    let verify = world
        .run(
            &deps,
            json!({"plan": "nightly", "action": "verify", "drill": false}),
        )
        .await;
    assert_eq!(verify["ok"], json!(false));
    assert!(
        verify["failures"]
            .to_string()
            .contains("cannot be decrypted"),
        "{verify}"
    );
    let restore = world
        .invoke_with(
            &deps,
            json!({"plan": "nightly", "action": "restore", "targets": ["secret"]}),
        )
        .await;
    assert!(matches!(restore, Err(HandlerError::Kms(_))), "{restore:?}");
}

#[tokio::test]
async fn bad_input_and_missing_sources_fail_with_a_clear_error_and_leave_no_snapshot() {
    let world = BackupWorld::with(2, |yaml| yaml.replace("-src, prefix", "-gone, prefix")).await;
    let deps = world.deps(Settings::default());
    let error = world
        .invoke_with(&deps, json!({"plan": "weekly", "action": "backup"}))
        .await
        .expect_err("unknown plan");
    assert!(
        error
            .to_string()
            .contains("\"weekly\" is not in the suite config (plans: nightly)"),
        "{error}"
    );
    let error = world
        .invoke_with(&deps, json!({"plan": "nightly", "action": "sync"}))
        .await
        .expect_err("bad action");
    assert_eq!(error.error_type(), "InvalidInput");
    let error = world
        .invoke_with(&deps, json!({"plan": "nightly", "action": "backup"}))
        .await
        .expect_err("missing bucket");
    assert!(
        error
            .to_string()
            .contains(&format!("s3://{}-gone/data/", world.sources.prefix)),
        "{error}"
    );
    assert!(error.to_string().contains("does not exist"), "{error}");
    assert!(
        world.backup_keys("backups/").await.is_empty(),
        "nothing written"
    );
    assert!(world.runs_left().await.is_empty(), "claim released");
}

/// The calls of a backup, an incremental backup, a verify with drill, a restore dry run, an
/// applied restore (a deleted secret recreated) and a prune, with Object Lock (least-privilege
/// test).
pub async fn least_privilege_scenarios() -> BTreeSet<String> {
    // Object Lock and a keep_within rule, so snapshots get retain-until dates.
    let world = BackupWorld::locked(3, |yaml| {
        yaml.replace("keep_last: 2", "keep_last: 1, keep_within: 1d")
    })
    .await;
    let deps = world.deps(Settings {
        prune_grace: chrono::Duration::zero(),
        ..Settings::default()
    });
    let first = world.backup(&deps).await;
    change_everything(&world).await;
    world.backup(&deps).await;
    world
        .run(&deps, json!({"plan": "nightly", "action": "verify"}))
        .await;
    let restore = json!({"plan": "nightly", "action": "restore", "snapshot": first["snapshot"]});
    world.run(&deps, restore.clone()).await;
    let mut apply = restore;
    apply["apply"] = json!(true);
    apply["update_services"] = json!(true);
    world.run(&deps, apply.clone()).await;
    // A deleted secret is recreated by the restore.
    world
        .admin
        .secrets
        .delete_secret()
        .secret_id(&world.sources.secret)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete secret");
    world.run(&deps, apply).await;
    world
        .run(&deps, json!({"plan": "nightly", "action": "prune"}))
        .await;
    deps.clients
        .recorder
        .calls()
        .into_iter()
        .map(|c| c.action)
        .collect()
}

#[tokio::test]
async fn versioned_sources_record_the_version_copied_and_object_lock_holds_what_retention_keeps() {
    let world = BackupWorld::locked(4, |yaml| {
        yaml.replace("keep_last: 2", "keep_last: 1, keep_within: 2d")
    })
    .await;
    world
        .admin
        .s3
        .put_bucket_versioning()
        .bucket(&world.sources.source_bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    backup_seed::put_objects(&world.admin, &world.sources.source_bucket, 0..4, 2)
        .await
        .expect("new versions");
    let deps = world.deps(Settings::default());
    let report = world.backup(&deps).await;
    let snapshot = report["snapshot"].as_str().expect("id");
    let key = format!("backups/snapshots/nightly/{snapshot}.json");
    let manifest: Value =
        serde_json::from_str(&text_of(&world.admin, &world.sources.backup_bucket, &key).await)
            .expect("manifest");
    let entries = manifest["entries"].as_array().expect("entries");
    let s3_entries: Vec<&Value> = entries
        .iter()
        .filter(|e| e["source"]["kind"] == "s3")
        .collect();
    assert_eq!(s3_entries.len(), 4);
    for entry in &s3_entries {
        assert!(entry["version_id"].is_string(), "no version id: {entry}");
        assert_eq!(entry["checksum"]["kind"], "sha256", "{entry}");
    }
    // Every data object and the manifest are locked at least 2 days (keep_within) ahead.
    let floor = chrono::Utc::now() + chrono::Duration::days(2) - chrono::Duration::minutes(5);
    for entry in entries {
        let data_key = format!("backups/{}", entry["key"].as_str().expect("key"));
        for key in [data_key.as_str(), key.as_str()] {
            // HeadObject: moto answers GetObjectRetention with the object itself.
            let head = world
                .admin
                .s3
                .head_object()
                .bucket(&world.sources.backup_bucket)
                .key(key)
                .send()
                .await
                .expect("head");
            let until = head
                .object_lock_retain_until_date()
                .map(|d| d.secs())
                .expect("retain-until");
            assert!(
                until >= floor.timestamp(),
                "{key} locked only until {until}"
            );
        }
    }
}
