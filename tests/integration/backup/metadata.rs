//! Metadata per key, not per content: two keys with the same bytes and different headers, user
//! metadata and tags, a metadata-only change (headers rewritten, tags replaced), a zero-byte
//! folder marker and an awkward key — each through backup → incremental backup → restore to
//! the original keys and to `s3_to` → a dry run that finds everything in sync.

use std::collections::BTreeMap;

use backup::Settings;
use ops_adapters::AwsClients;
use ops_domain::backup::manifest::{parse_manifest, Entry, Manifest, ObjectMetadata};
use serde_json::{json, Value};

use super::{text_of, total, BackupWorld};

const SAME: &str = "the same bytes under two keys";
const AWKWARD: &str = "data/ünï cødé +#?&=.txt";

struct Seed<'a> {
    key: &'a str,
    body: &'a str,
    content_type: &'a str,
    who: &'a str,
    tag: &'a str,
}

async fn put(admin: &AwsClients, bucket: &str, seed: &Seed<'_>) {
    let mut put = admin
        .s3
        .put_object()
        .bucket(bucket)
        .key(seed.key)
        .body(seed.body.as_bytes().to_vec().into())
        .content_type(seed.content_type)
        .metadata("who", seed.who)
        .tagging(format!("team={}", seed.tag));
    if seed.key.ends_with(".json") {
        put = put
            .content_disposition("attachment; filename=\"b.json\"")
            .content_encoding("identity");
    } else {
        put = put.cache_control("max-age=60");
    }
    put.send().await.expect("put");
}

/// What a live object carries: its headers, user metadata and tags.
async fn live(admin: &AwsClients, bucket: &str, key: &str) -> ObjectMetadata {
    let head = admin
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("head {key}: {e:?}"));
    let tags = admin
        .s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("tags");
    ObjectMetadata {
        content_type: head.content_type().map(str::to_owned),
        content_encoding: head.content_encoding().map(str::to_owned),
        cache_control: head.cache_control().map(str::to_owned),
        content_disposition: head.content_disposition().map(str::to_owned),
        user: head
            .metadata()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        tags: Some(
            tags.tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        ),
    }
}

fn who(metadata: &ObjectMetadata) -> (&str, &str, &str) {
    (
        metadata.content_type.as_deref().unwrap_or_default(),
        metadata
            .user
            .get("who")
            .map(String::as_str)
            .unwrap_or_default(),
        metadata
            .tags
            .as_ref()
            .and_then(|t| t.get("team"))
            .map(String::as_str)
            .unwrap_or_default(),
    )
}

async fn manifest_of(world: &BackupWorld, report: &Value) -> Manifest {
    let key = format!(
        "backups/snapshots/nightly/{}.json",
        report["snapshot"].as_str().expect("snapshot")
    );
    let text = text_of(&world.admin, &world.sources.backup_bucket, &key).await;
    parse_manifest(text.as_bytes()).expect("manifest")
}

fn entry<'m>(manifest: &'m Manifest, key: &str) -> &'m Entry {
    manifest
        .entries
        .iter()
        .find(|e| e.source.key == key)
        .unwrap_or_else(|| panic!("{key} not in the manifest"))
}

fn counts(report: &Value) -> (u64, u64, u64, u64) {
    let s3 = &report["s3"][0];
    let n = |k: &str| s3[k].as_u64().unwrap_or_else(|| panic!("{k} in {s3}"));
    (n("create"), n("update"), n("delete"), n("unchanged"))
}

#[tokio::test]
async fn metadata_and_tags_are_kept_per_key_and_folder_markers_are_restored() {
    let world = BackupWorld::with(0, |yaml| {
        yaml.replace("prefix: data/ }", "prefix: data/, tags: true }")
    })
    .await;
    let (admin, src) = (&world.admin, world.sources.source_bucket.clone());
    let seeds = [
        Seed {
            key: "data/a.txt",
            body: SAME,
            content_type: "text/plain",
            who: "a",
            tag: "a",
        },
        Seed {
            key: "data/b.json",
            body: SAME,
            content_type: "application/json",
            who: "b",
            tag: "b",
        },
        Seed {
            key: "data/m.txt",
            body: "metadata changes",
            content_type: "text/plain",
            who: "m",
            tag: "m",
        },
        Seed {
            key: AWKWARD,
            body: "awkward",
            content_type: "text/csv",
            who: "w",
            tag: "w",
        },
    ];
    for seed in &seeds {
        put(admin, &src, seed).await;
    }
    admin
        .s3
        .put_object()
        .bucket(&src)
        .key("data/folder/")
        .body(Vec::new().into())
        .send()
        .await
        .expect("folder marker");
    let mut original = BTreeMap::new();
    for key in [
        "data/a.txt",
        "data/b.json",
        "data/m.txt",
        AWKWARD,
        "data/folder/",
    ] {
        original.insert(key, live(admin, &src, key).await);
    }

    // Backup: one data object for the shared bytes, each key's own metadata in its entry.
    let deps = world.deps(Settings::default());
    let first = world.backup(&deps).await;
    let m1 = manifest_of(&world, &first).await;
    let (a, b) = (entry(&m1, "data/a.txt"), entry(&m1, "data/b.json"));
    assert_eq!(a.key, b.key, "the same bytes are stored once");
    for key in original.keys() {
        assert_eq!(
            entry(&m1, key).metadata.as_ref(),
            Some(&original[key]),
            "{key}"
        );
    }
    assert_eq!(entry(&m1, "data/folder/").size, 0);
    assert_eq!(
        deps.clients.recorder.succeeded("s3:CopyObject"),
        4,
        "a, m, awkward, the marker"
    );

    // Incremental with nothing changed: no HeadObject (LastModified unchanged), tags read.
    let deps = world.deps(Settings::default());
    let unchanged = world.backup(&deps).await;
    assert_eq!(
        deps.clients.recorder.succeeded("s3:HeadObject"),
        0,
        "{unchanged}"
    );
    assert_eq!(deps.clients.recorder.succeeded("s3:GetObjectTagging"), 5);
    assert_eq!(deps.clients.recorder.succeeded("s3:CopyObject"), 0);
    assert!(
        unchanged["totals"].get("metadata_changed").is_none(),
        "{unchanged}"
    );

    // Metadata-only changes: m.txt's headers rewritten in place (LastModified moves, ETag
    // stays), a.txt's tags replaced (nothing else moves).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    admin
        .s3
        .copy_object()
        .bucket(&src)
        .key("data/m.txt")
        .copy_source(format!("{src}/data/m.txt"))
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .content_type("text/html")
        .metadata("who", "m2")
        .send()
        .await
        .expect("rewrite metadata");
    admin
        .s3
        .put_object_tagging()
        .bucket(&src)
        .key("data/a.txt")
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key("team")
                        .value("a2")
                        .build()
                        .expect("tag"),
                )
                .build()
                .expect("tagging"),
        )
        .send()
        .await
        .expect("retag");
    let deps = world.deps(Settings::default());
    let second = world.backup(&deps).await;
    assert_eq!(total(&second, "metadata_changed"), 2, "{second}");
    assert_eq!(
        total(&second, "copied_objects"),
        1,
        "only the secret: {second}"
    );
    assert_eq!(deps.clients.recorder.succeeded("s3:CopyObject"), 0);
    assert_eq!(
        deps.clients.recorder.succeeded("s3:HeadObject"),
        1,
        "only m.txt"
    );
    let m2 = manifest_of(&world, &second).await;
    assert_eq!(
        who(entry(&m2, "data/m.txt").metadata.as_ref().expect("m")),
        ("text/html", "m2", "m")
    );
    assert_eq!(
        who(entry(&m2, "data/a.txt").metadata.as_ref().expect("a")),
        ("text/plain", "a", "a2")
    );

    // The latest snapshot is what is live: in sync, without rewriting anything.
    let s3_only = |snapshot: &Value, extra: Value| {
        let mut event = json!({"plan": "nightly", "action": "restore", "snapshot": snapshot, "targets": ["s3"]});
        if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
            event.extend(extra.clone());
        }
        event
    };
    let deps = world.deps(Settings::default());
    let dry = world
        .run(&deps, s3_only(&second["snapshot"], json!({})))
        .await;
    assert_eq!(dry["in_sync"], json!(true), "{dry}");

    // The first snapshot, dry: two keys differ by metadata only, and are updates.
    let dry = world
        .run(&deps, s3_only(&first["snapshot"], json!({})))
        .await;
    assert_eq!(dry["in_sync"], json!(false), "{dry}");
    assert_eq!(counts(&dry), (0, 2, 0, 3), "{dry}");
    let updates = &dry["s3"][0]["keys"]["update"];
    assert_eq!(updates, &json!(["data/a.txt", "data/m.txt"]), "{dry}");

    // Applied to the original keys: each key gets its own metadata and tags back.
    let applied = world
        .run(&deps, s3_only(&first["snapshot"], json!({"apply": true})))
        .await;
    assert_eq!(applied["apply"], json!(true), "{applied}");
    for (key, metadata) in &original {
        assert_eq!(&live(admin, &src, key).await, metadata, "{key}");
        assert_eq!(
            text_of(admin, &src, key).await,
            match *key {
                "data/a.txt" | "data/b.json" => SAME,
                "data/m.txt" => "metadata changes",
                "data/folder/" => "",
                _ => "awkward",
            },
            "{key}"
        );
    }
    let again = world
        .run(&deps, s3_only(&first["snapshot"], json!({})))
        .await;
    assert_eq!(again["in_sync"], json!(true), "{again}");

    // Applied under `s3_to`: the folder marker reproduces the prefix, metadata per key.
    let to_bucket = format!("{}-to", world.sources.source_bucket);
    ops_tests::seed::create_bucket(admin, &to_bucket)
        .await
        .expect("bucket");
    let to = json!({"s3_to": {"bucket": to_bucket, "prefix": "restored/"}});
    let dry = world
        .run(&deps, s3_only(&first["snapshot"], to.clone()))
        .await;
    assert_eq!(counts(&dry), (5, 0, 0, 0), "{dry}");
    let mut apply = to.clone();
    apply["apply"] = json!(true);
    world.run(&deps, s3_only(&first["snapshot"], apply)).await;
    for (key, metadata) in &original {
        let restored = key.replacen("data/", "restored/", 1);
        assert_eq!(
            &live(admin, &to_bucket, &restored).await,
            metadata,
            "{restored}"
        );
    }
    assert_eq!(text_of(admin, &to_bucket, "restored/b.json").await, SAME);
    let again = world.run(&deps, s3_only(&first["snapshot"], to)).await;
    assert_eq!(again["in_sync"], json!(true), "{again}");
    assert_eq!(counts(&again), (0, 0, 0, 5), "{again}");
}

#[tokio::test]
async fn without_tags_in_the_plan_a_restore_sets_metadata_per_key_and_no_tags() {
    let world = BackupWorld::new(0).await;
    let (admin, src) = (&world.admin, world.sources.source_bucket.clone());
    for seed in [
        Seed {
            key: "data/a.txt",
            body: SAME,
            content_type: "text/plain",
            who: "a",
            tag: "a",
        },
        Seed {
            key: "data/b.json",
            body: SAME,
            content_type: "application/json",
            who: "b",
            tag: "b",
        },
    ] {
        put(admin, &src, &seed).await;
    }
    let deps = world.deps(Settings::default());
    let first = world.backup(&deps).await;
    let m1 = manifest_of(&world, &first).await;
    assert_eq!(
        entry(&m1, "data/b.json")
            .metadata
            .as_ref()
            .and_then(|m| m.tags.as_ref()),
        None
    );
    assert_eq!(
        deps.clients.recorder.attempted("s3:GetObjectTagging"),
        0,
        "tags are not read"
    );

    let to_bucket = format!("{src}-to");
    ops_tests::seed::create_bucket(admin, &to_bucket)
        .await
        .expect("bucket");
    let restore = json!({"plan": "nightly", "action": "restore", "snapshot": first["snapshot"],
        "targets": ["s3"], "s3_to": {"bucket": to_bucket, "prefix": "r/"}});
    let mut apply = restore.clone();
    apply["apply"] = json!(true);
    world.run(&deps, apply).await;
    for (key, expect) in [
        ("r/a.txt", ("text/plain", "a", "")),
        ("r/b.json", ("application/json", "b", "")),
    ] {
        let restored = live(admin, &to_bucket, key).await;
        assert_eq!(who(&restored), expect, "{key}: {restored:?}");
        assert_eq!(
            restored.tags,
            Some(BTreeMap::new()),
            "{key}: tags are not kept"
        );
    }
    let again = world.run(&deps, restore).await;
    assert_eq!(again["in_sync"], json!(true), "{again}");
}
