//! Manifest model, key layout, incremental plans and prune plans.

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0)
        .single()
        .expect("time")
}

fn sha(text: &str) -> Checksum {
    Checksum::Sha256 {
        hex: hex::encode(Sha256::digest(text.as_bytes())),
    }
}

fn object(key: &str, content: &str) -> SourceObject {
    SourceObject {
        source: SourceRef {
            kind: TargetKind::S3,
            container: "app-data".into(),
            key: key.into(),
        },
        size: content.len() as u64,
        checksum: Some(sha(content)),
        version_id: None,
        etag: Some(format!("\"etag-{content}\"")),
        encrypted: false,
        digest: None,
        metadata: None,
        last_modified: None,
    }
}

fn meta(content_type: &str, who: &str) -> ObjectMetadata {
    ObjectMetadata {
        content_type: Some(content_type.into()),
        cache_control: Some("max-age=60".into()),
        user: [("who".to_owned(), who.to_owned())].into_iter().collect(),
        ..ObjectMetadata::default()
    }
}

/// An S3 object as the backup reads it: listed, with its metadata.
fn s3_object(key: &str, content: &str, metadata: ObjectMetadata, modified: u32) -> SourceObject {
    SourceObject {
        metadata: Some(metadata),
        last_modified: Some(at(modified)),
        ..object(key, content)
    }
}

fn manifest(id: &SnapshotId, plan: &Plan, parent: Option<&SnapshotId>) -> Manifest {
    Manifest {
        schema_version: SCHEMA_VERSION,
        id: id.clone(),
        plan: "nightly".into(),
        created_at: id.created_at(),
        parent: parent.cloned(),
        status: SnapshotStatus::Complete,
        targets: vec![SourceRef {
            kind: TargetKind::S3,
            container: "app-data".into(),
            key: String::new(),
        }],
        entries: plan.entries(),
        totals: plan.totals,
    }
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.items
        .iter()
        .map(|i| (i.entry.source.key.clone(), i.action))
        .collect()
}

#[test]
fn snapshot_ids_sort_by_time_and_round_trip() {
    let a = SnapshotId::new(at(2), "request-1");
    let b = SnapshotId::new(at(3), "request-0");
    let c = SnapshotId::new(at(2), "request-2");
    assert!(a < b && c < b);
    assert_ne!(a, c, "two runs in the same second get different ids");
    assert!(a.as_str().starts_with("20260301T020000Z-"), "{a}");
    assert_eq!(a.created_at(), at(2));
    assert_eq!(a.as_str().parse::<SnapshotId>(), Ok(a.clone()));
    for bad in [
        "",
        "20260301T020000Z",
        "20260301T020000Z-XYZ12345",
        "2026-03-01-abcdef12",
    ] {
        assert!(bad.parse::<SnapshotId>().is_err(), "{bad}");
    }
}

#[test]
fn layout_keys() {
    let layout = Layout::new("/backups/ops/");
    let id = SnapshotId::new(at(2), "r");
    let content = ContentId::of(5, Some(&sha("hello")), None);
    assert_eq!(
        content.data_key(),
        "data/2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(
        layout.key(&content.data_key()),
        format!("backups/ops/{}", content.data_key())
    );
    assert_eq!(
        layout.manifest_key("nightly", &id),
        format!("backups/ops/snapshots/nightly/{id}.json")
    );
    assert_eq!(
        layout.latest_key("nightly"),
        "backups/ops/latest/nightly.json"
    );
    assert_eq!(Layout::new("").latest_key("p"), "latest/p.json");
    assert_eq!(Layout::new("").data_prefix(), "data/");
}

#[test]
fn content_id_uses_sha256_or_a_fingerprint_with_the_etag() {
    let crc = Checksum::S3 {
        algorithm: "CRC32".into(),
        value: "AAAAAA==".into(),
    };
    let a = ContentId::of(10, Some(&crc), Some("\"e1\""));
    let b = ContentId::of(10, Some(&crc), Some("\"e2\""));
    assert_ne!(a, b, "a CRC32 alone never makes two objects equal");
    assert_eq!(
        a,
        ContentId::of(10, Some(&crc), Some("e1")),
        "quotes do not matter"
    );
    assert_ne!(
        ContentId::of(10, None, Some("e1")),
        ContentId::of(11, None, Some("e1"))
    );
    assert_eq!(a.0.len(), 64);
}

#[test]
fn first_backup_copies_everything_and_dedups_identical_content() {
    let listing = [
        object("b.txt", "bee"),
        object("a.txt", "ay"),
        object("copy-of-a.txt", "ay"),
    ];
    let plan = plan_incremental(None, &listing);
    assert_eq!(
        actions(&plan),
        [
            ("a.txt".to_owned(), Action::Copy),
            ("b.txt".to_owned(), Action::Copy),
            ("copy-of-a.txt".to_owned(), Action::Reference),
        ]
    );
    assert_eq!(plan.items[0].entry.key, plan.items[2].entry.key);
    assert_eq!(
        plan.totals,
        Totals {
            objects: 3,
            bytes: 7,
            copied_objects: 2,
            copied_bytes: 5,
            referenced_objects: 1,
            referenced_bytes: 2,
            metadata_changed: 0,
        }
    );
    assert!(plan.gone.is_empty());
}

#[test]
fn second_backup_copies_only_what_changed() {
    let first = plan_incremental(
        None,
        &[object("a", "one"), object("b", "two"), object("c", "three")],
    );
    let id1 = SnapshotId::new(at(2), "r1");
    let m1 = manifest(&id1, &first, None);

    let mut renamed = object("c-renamed", "three");
    renamed.version_id = Some("v2".into());
    let listing = [
        object("a", "one"),
        object("b", "two!"),
        renamed,
        object("d", "four"),
    ];
    let plan = plan_incremental(Some(&m1), &listing);
    assert_eq!(
        actions(&plan),
        [
            ("a".to_owned(), Action::Reference),
            ("b".to_owned(), Action::Copy),
            ("c-renamed".to_owned(), Action::Reference),
            ("d".to_owned(), Action::Copy),
        ]
    );
    assert_eq!(plan.items[2].entry.version_id.as_deref(), Some("v2"));
    assert_eq!(plan.totals.copied_objects, 2);
    assert_eq!(
        plan.gone.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
        ["c"]
    );
}

#[test]
fn unchanged_falls_back_to_etag_and_size() {
    let mut previous = object("a", "same");
    previous.checksum = None;
    let first = plan_incremental(None, &[previous.clone()]);
    let m1 = manifest(&SnapshotId::new(at(1), "r"), &first, None);

    // Same ETag and size, no checksum: unchanged, referenced at the recorded key.
    let plan = plan_incremental(Some(&m1), &[previous.clone()]);
    assert_eq!(plan.items[0].action, Action::Reference);
    assert_eq!(plan.items[0].entry.key, m1.entries[0].key);

    // Same size, another ETag: changed.
    let mut changed = previous.clone();
    changed.etag = Some("\"other\"".into());
    assert_eq!(
        plan_incremental(Some(&m1), &[changed]).items[0].action,
        Action::Copy
    );

    // Checksums of the same kind decide over ETags.
    let second = plan_incremental(None, &[object("a", "same")]);
    let m2 = manifest(&SnapshotId::new(at(2), "r"), &second, None);
    let mut same_etag_other_sum = object("a", "same");
    same_etag_other_sum.checksum = Some(sha("different"));
    assert_eq!(
        plan_incremental(Some(&m2), &[same_etag_other_sum]).items[0].action,
        Action::Copy
    );
}

#[test]
fn encrypted_documents_are_always_copied() {
    let mut secret = object("versions.json", "ciphertext");
    secret.source.kind = TargetKind::Secret;
    secret.encrypted = true;
    let first = plan_incremental(None, &[secret.clone()]);
    assert!(first.items[0].entry.encrypted);
    let m1 = manifest(&SnapshotId::new(at(1), "r"), &first, None);
    let mut again = secret.clone();
    again.checksum = Some(sha("new ciphertext"));
    assert_eq!(
        plan_incremental(Some(&m1), &[again]).items[0].action,
        Action::Copy
    );
}

#[test]
fn manifest_and_pointer_round_trip_as_json() {
    let plan = plan_incremental(None, &[object("a", "one")]);
    let id = SnapshotId::new(at(2), "r1");
    let m = manifest(&id, &plan, None);
    let text = serde_json::to_string(&m).expect("json");
    assert!(text.contains("\"schema_version\":1"), "{text}");
    assert!(text.contains("\"kind\":\"sha256\""), "{text}");
    assert_eq!(serde_json::from_str::<Manifest>(&text).expect("parse"), m);

    let pointer = LatestPointer {
        schema_version: SCHEMA_VERSION,
        plan: "nightly".into(),
        snapshot: id.clone(),
        manifest_key: manifest_key("nightly", &id),
        created_at: at(2),
    };
    let text = serde_json::to_string(&pointer).expect("json");
    assert_eq!(
        serde_json::from_str::<LatestPointer>(&text).expect("parse"),
        pointer
    );

    let corrupt = text.replace(id.as_str(), "not-an-id");
    assert!(serde_json::from_str::<LatestPointer>(&corrupt).is_err());
    let unknown = text.replace("\"plan\"", "\"plan_name\"");
    assert!(serde_json::from_str::<LatestPointer>(&unknown).is_err());
}

#[test]
fn prune_deletes_manifests_and_only_unreferenced_data() {
    let p1 = plan_incremental(None, &[object("a", "one"), object("b", "two")]);
    let id1 = SnapshotId::new(at(1), "r1");
    let m1 = manifest(&id1, &p1, None);
    let p2 = plan_incremental(Some(&m1), &[object("a", "one"), object("b", "two v2")]);
    let id2 = SnapshotId::new(at(2), "r2");
    let m2 = manifest(&id2, &p2, Some(&id1));
    let p3 = plan_incremental(Some(&m2), &[object("a", "one v3")]);
    let id3 = SnapshotId::new(at(3), "r3");
    let m3 = manifest(&id3, &p3, Some(&id2));
    let all = [m1.clone(), m2.clone(), m3.clone()];

    let key = |content: &str| ContentId::of(0, Some(&sha(content)), None).data_key();

    // Keep m1 and m3: m2's "two v2" goes, "one" survives through m1.
    let plan = prune(&all, &[id1.clone(), id3.clone()]);
    assert_eq!(plan.delete_manifests, std::slice::from_ref(&id2));
    assert_eq!(plan.delete_data, [key("two v2")]);

    // Keep only m3: everything m1 and m2 hold except what m3 references.
    let plan = prune(&all, std::slice::from_ref(&id3));
    assert_eq!(plan.delete_manifests, [id1.clone(), id2.clone()]);
    let mut want = vec![key("one"), key("two"), key("two v2")];
    want.sort();
    assert_eq!(plan.delete_data, want);
    assert_eq!(plan.kept_data, 1);

    // Keep everything: nothing to do.
    assert_eq!(
        prune(&all, &[id1, id2, id3]),
        PrunePlan {
            kept_data: 4,
            ..Default::default()
        }
    );
}

#[test]
fn retention_view_of_a_manifest() {
    let plan = plan_incremental(None, &[object("a", "one")]);
    let id = SnapshotId::new(at(2), "r1");
    let mut m = manifest(&id, &plan, None);
    m.status = SnapshotStatus::Partial;
    let snapshot = m.retention_snapshot();
    assert_eq!(snapshot.id, id.to_string());
    assert_eq!(snapshot.time, at(2));
    assert!(!snapshot.successful);
}

#[test]
fn stored_documents_are_checked_when_read() {
    let plan = plan_incremental(None, &[object("a", "one"), object("b", "two")]);
    let id = SnapshotId::new(at(2), "r1");
    let m = manifest(&id, &plan, None);
    let text = serde_json::to_string(&m).expect("json");
    assert_eq!(parse_manifest(text.as_bytes()), Ok(m.clone()));

    let truncated = &text[..text.len() / 2];
    assert!(matches!(
        parse_manifest(truncated.as_bytes()),
        Err(DocumentError::Invalid {
            what: "manifest",
            ..
        })
    ));

    let newer = text.replace("\"schema_version\":1", "\"schema_version\":2");
    let newer = newer.replace("\"plan\":", "\"owner\":\"x\",\"plan\":");
    assert_eq!(
        parse_manifest(newer.as_bytes()).map_err(|e| e.to_string()),
        Err("manifest schema version 2 is not supported (this release reads 1)".to_owned())
    );

    let mut wrong_totals = m.clone();
    wrong_totals.totals.objects = 3;
    let error = parse_manifest(
        serde_json::to_string(&wrong_totals)
            .expect("json")
            .as_bytes(),
    )
    .expect_err("inconsistent");
    assert_eq!(
        error.to_string(),
        format!(
            "manifest {id} is inconsistent: totals say 3 objects / 6 bytes, entries hold 2 / 6"
        )
    );

    let mut outside = m;
    outside.entries[0].key = "snapshots/nightly/x.json".into();
    assert!(matches!(
        parse_manifest(serde_json::to_string(&outside).expect("json").as_bytes()),
        Err(DocumentError::Inconsistent { .. })
    ));

    let pointer = LatestPointer {
        schema_version: SCHEMA_VERSION,
        plan: "nightly".into(),
        snapshot: id.clone(),
        manifest_key: manifest_key("nightly", &id),
        created_at: at(2),
    };
    let text = serde_json::to_string(&pointer).expect("json");
    assert_eq!(parse_latest(text.as_bytes()), Ok(pointer));
    assert!(parse_latest(b"{}").is_err());
}

#[test]
fn data_no_manifest_references_is_unreferenced_once_past_the_grace_period() {
    let p1 = plan_incremental(None, &[object("a", "one"), object("b", "two")]);
    let id1 = SnapshotId::new(at(1), "r1");
    let m1 = manifest(&id1, &p1, None);
    let key = |content: &str| ContentId::of(0, Some(&sha(content)), None).data_key();
    // A failed run copied "three" and "four" and never committed; one in progress wrote "five"
    // (its checkpointed plan protects it); "six" was written just now.
    let listed = [
        (key("one"), Some(at(1))),
        (key("two"), Some(at(1))),
        (key("three"), Some(at(2))),
        (key("four"), Some(at(2))),
        (key("five"), Some(at(2))),
        (key("six"), Some(at(9))),
        (key("seven"), None),
    ];
    let protected: BTreeSet<String> = [key("five")].into_iter().collect();
    let found = unreferenced(
        listed.iter().map(|(k, t)| (k.as_str(), *t)),
        &[&m1],
        &protected,
        at(5),
    );
    let mut want = vec![key("three"), key("four")];
    want.sort();
    assert_eq!(found, want);
    // With no manifest at all, everything old enough and unprotected goes.
    let found = unreferenced(
        listed.iter().map(|(k, t)| (k.as_str(), *t)),
        &[],
        &BTreeSet::new(),
        at(5),
    );
    assert_eq!(found.len(), 5, "{found:?}");
}

#[test]
fn same_bytes_under_two_keys_share_data_but_keep_their_own_metadata() {
    let listing = [
        s3_object("a.txt", "same", meta("text/plain", "a"), 1),
        s3_object("b.json", "same", meta("application/json", "b"), 1),
    ];
    let plan = plan_incremental(None, &listing);
    assert_eq!(plan.items[0].entry.key, plan.items[1].entry.key);
    assert_eq!(plan.items[1].action, Action::Reference);
    assert_eq!(plan.items[0].entry.metadata, Some(meta("text/plain", "a")));
    assert_eq!(
        plan.items[1].entry.metadata,
        Some(meta("application/json", "b"))
    );
    assert_eq!(plan.items[1].entry.last_modified, Some(at(1)));
}

#[test]
fn a_metadata_only_change_is_recorded_and_counted_without_a_copy() {
    let first = plan_incremental(None, &[s3_object("a", "one", meta("text/plain", "a"), 1)]);
    let m1 = manifest(&SnapshotId::new(at(2), "r1"), &first, None);
    let changed = [s3_object("a", "one", meta("text/html", "a"), 3)];
    let plan = plan_incremental(Some(&m1), &changed);
    assert_eq!(actions(&plan), [("a".to_owned(), Action::Reference)]);
    assert_eq!(plan.totals.copied_objects, 0);
    assert_eq!(plan.totals.metadata_changed, 1);
    let entry = &plan.items[0].entry;
    assert_eq!(entry.metadata, Some(meta("text/html", "a")));
    assert_eq!(entry.last_modified, Some(at(3)));
    assert_eq!(entry.key, m1.entries[0].key);
    // Nothing changed: nothing counted.
    let m2 = manifest(&SnapshotId::new(at(4), "r2"), &plan, None);
    let again = plan_incremental(Some(&m2), &changed);
    assert_eq!(again.totals.metadata_changed, 0);
}

#[test]
fn an_entry_without_metadata_is_unknown_recorded_once_and_not_a_change() {
    // A manifest written before metadata was kept.
    let old = plan_incremental(None, &[object("a", "one")]);
    let m1 = manifest(&SnapshotId::new(at(2), "r1"), &old, None);
    let text = serde_json::to_string(&m1).expect("json");
    assert!(
        !text.contains("metadata") && !text.contains("last_modified"),
        "{text}"
    );
    let read = parse_manifest(text.as_bytes()).expect("an old manifest still reads");
    assert_eq!(read.entries[0].metadata, None);
    assert_eq!(
        known_metadata(read.entries.first(), 3, Some("etag-one"), None),
        None
    );
    let plan = plan_incremental(
        Some(&read),
        &[s3_object("a", "one", meta("text/plain", "a"), 1)],
    );
    assert_eq!(plan.totals.metadata_changed, 0);
    assert_eq!(plan.totals.copied_objects, 0);
    assert_eq!(plan.items[0].entry.metadata, Some(meta("text/plain", "a")));
}

#[test]
fn recorded_metadata_is_reused_only_for_the_same_size_etag_and_last_modified() {
    let plan = plan_incremental(None, &[s3_object("a", "one", meta("text/plain", "a"), 1)]);
    let entry = plan.items.first().map(|i| &i.entry);
    let etag = Some("\"etag-one\"");
    assert_eq!(
        known_metadata(entry, 3, etag, Some(at(1))),
        Some(&meta("text/plain", "a"))
    );
    // Rewritten (metadata may have changed with it), resized, other content, or never seen.
    assert_eq!(known_metadata(entry, 3, etag, Some(at(2))), None);
    assert_eq!(known_metadata(entry, 4, etag, Some(at(1))), None);
    assert_eq!(known_metadata(entry, 3, Some("other"), Some(at(1))), None);
    assert_eq!(known_metadata(None, 3, etag, Some(at(1))), None);
}

#[test]
fn metadata_compares_tags_only_when_both_sides_recorded_them() {
    let plain = meta("text/plain", "a");
    let tagged = ObjectMetadata {
        tags: Some([("team".to_owned(), "x".to_owned())].into_iter().collect()),
        ..plain.clone()
    };
    let retagged = ObjectMetadata {
        tags: Some(BTreeMap::new()),
        ..plain.clone()
    };
    assert!(plain.same_as(&tagged) && tagged.same_as(&plain));
    assert!(!tagged.same_as(&retagged));
    assert!(!plain.same_as(&meta("text/plain", "b")));
    assert!(!plain.same_as(&ObjectMetadata {
        content_encoding: Some("gzip".into()),
        ..plain.clone()
    }));
    assert!(!plain.same_as(&ObjectMetadata {
        content_disposition: Some("attachment".into()),
        ..plain.clone()
    }));
}
