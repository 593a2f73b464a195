//! Restore diffs and Route53 ordering and batching.

use super::*;

fn record(name: &str, record_type: &str, value: &str) -> RecordSet {
    RecordSet {
        name: name.into(),
        record_type: record_type.into(),
        set_identifier: None,
        ttl: Some(300),
        values: vec![value.into()],
        alias: None,
        weight: None,
        region: None,
        failover: None,
        geo_location: None,
        multi_value_answer: None,
        health_check_id: None,
    }
}

fn alias(name: &str, record_type: &str, target: &str) -> RecordSet {
    RecordSet {
        ttl: None,
        values: Vec::new(),
        alias: Some(AliasTarget {
            hosted_zone_id: "ZONE".into(),
            dns_name: target.into(),
            evaluate_target_health: false,
        }),
        ..record(name, record_type, "")
    }
}

fn weighted(name: &str, id: &str, weight: u64, value: &str) -> RecordSet {
    RecordSet {
        set_identifier: Some(id.into()),
        weight: Some(weight),
        ..record(name, "CNAME", value)
    }
}

fn options() -> ZoneRestoreOptions {
    ZoneRestoreOptions {
        zone_name: "example.com".into(),
        include_apex_soa_ns: false,
        limits: BatchLimits::default(),
    }
}

/// The plan's changes as `ACTION name type`, batch by batch.
fn shown(plan: &ZoneRestorePlan) -> Vec<Vec<String>> {
    plan.batches
        .iter()
        .map(|batch| {
            batch
                .iter()
                .map(|c| format!("{:?} {}", c.action, c.record.key()).to_uppercase())
                .collect()
        })
        .collect()
}

#[test]
fn generic_diff_is_sorted_and_complete() {
    let desired = [("c", 3), ("a", 1), ("b", 2)];
    let live = [("d", 4), ("b", 20), ("a", 1)];
    let d = diff(&desired, &live, |item| item.0).expect("diff");
    assert_eq!(d.create, [("c", 3)]);
    assert_eq!(
        d.update,
        [Update {
            live: ("b", 20),
            desired: ("b", 2)
        }]
    );
    assert_eq!(d.delete, [("d", 4)]);
    assert_eq!(d.unchanged, ["a"]);
    assert!(!d.is_empty());
    assert!(diff(&desired, &desired, |item| item.0)
        .expect("same")
        .is_empty());
}

#[test]
fn duplicate_identities_are_an_error() {
    let desired = [("a", 1), ("a", 2)];
    assert_eq!(
        diff(&desired, &[], |item| item.0),
        Err(DiffError::Duplicate {
            side: Side::Desired,
            key: "\"a\"".into()
        })
    );
}

#[test]
fn record_keys_are_normalised() {
    assert_eq!(
        record("WWW.Example.com", "a", "x").key(),
        record("www.example.com.", "A", "x").key()
    );
    assert_eq!(normalize_name("\\052.example.com."), "*.example.com.");
}

#[test]
fn alias_targets_are_created_before_aliases_and_deleted_after() {
    // www → app (alias chain) → lb; restore everything into an empty zone.
    let desired = [
        alias("www.example.com.", "A", "app.example.com."),
        alias("app.example.com.", "A", "lb.example.com."),
        record("lb.example.com.", "A", "192.0.2.10"),
        record("mail.example.com.", "A", "192.0.2.20"),
    ];
    let plan = plan_zone_restore(&desired, &[], &options()).expect("plan");
    // Dependencies first (lb, app, www); mail has none and goes by key.
    assert_eq!(
        shown(&plan),
        [[
            "CREATE LB.EXAMPLE.COM. A",
            "CREATE APP.EXAMPLE.COM. A",
            "CREATE MAIL.EXAMPLE.COM. A",
            "CREATE WWW.EXAMPLE.COM. A",
        ]
        .map(String::from)
        .to_vec()]
    );

    // The reverse: the zone has them all and the snapshot has none.
    let plan = plan_zone_restore(&[], &desired, &options()).expect("plan");
    assert_eq!(
        shown(&plan),
        [[
            "DELETE MAIL.EXAMPLE.COM. A",
            "DELETE WWW.EXAMPLE.COM. A",
            "DELETE APP.EXAMPLE.COM. A",
            "DELETE LB.EXAMPLE.COM. A",
        ]
        .map(String::from)
        .to_vec()]
    );
}

#[test]
fn repointed_alias_is_updated_before_its_old_target_is_deleted() {
    let live = [
        alias("www.example.com.", "A", "old.example.com."),
        record("old.example.com.", "A", "192.0.2.1"),
    ];
    let desired = [
        alias("www.example.com.", "A", "new.example.com."),
        record("new.example.com.", "A", "192.0.2.2"),
    ];
    let plan = plan_zone_restore(&desired, &live, &options()).expect("plan");
    assert_eq!(
        shown(&plan),
        [[
            "CREATE NEW.EXAMPLE.COM. A",
            "UPSERT WWW.EXAMPLE.COM. A",
            "DELETE OLD.EXAMPLE.COM. A",
        ]
        .map(String::from)
        .to_vec()]
    );
    assert_eq!(plan.batches[0][1].previous.as_ref(), Some(&live[0]));
}

#[test]
fn cname_is_deleted_before_a_record_takes_its_name() {
    let live = [record("api.example.com.", "CNAME", "lb.example.net.")];
    let desired = [
        weighted("api.example.com.", "blue", 100, "blue.example.net."),
        weighted("api.example.com.", "green", 0, "green.example.net."),
    ];
    let plan = plan_zone_restore(&desired, &live, &options()).expect("plan");
    assert_eq!(
        shown(&plan),
        [[
            "DELETE API.EXAMPLE.COM. CNAME",
            "CREATE API.EXAMPLE.COM. CNAME [BLUE]",
            "CREATE API.EXAMPLE.COM. CNAME [GREEN]",
        ]
        .map(String::from)
        .to_vec()]
    );
}

#[test]
fn weighted_records_diff_by_set_identifier() {
    let live = [
        weighted("api.example.com.", "blue", 0, "blue.example.net."),
        weighted("api.example.com.", "green", 100, "green.example.net."),
    ];
    let desired = [
        weighted("api.example.com.", "blue", 100, "blue.example.net."),
        weighted("api.example.com.", "green", 0, "green.example.net."),
    ];
    let plan = plan_zone_restore(&desired, &live, &options()).expect("plan");
    assert_eq!(plan.diff.update.len(), 2);
    assert_eq!(
        shown(&plan),
        [[
            "UPSERT API.EXAMPLE.COM. CNAME [BLUE]",
            "UPSERT API.EXAMPLE.COM. CNAME [GREEN]",
        ]
        .map(String::from)
        .to_vec()]
    );
}

#[test]
fn apex_soa_and_ns_are_left_alone_unless_asked() {
    let live = [
        record(
            "example.com.",
            "SOA",
            "ns-1.awsdns-01.org. hostmaster 1 7200 900 1209600 86400",
        ),
        record("example.com.", "NS", "ns-1.awsdns-01.org."),
        record("sub.example.com.", "NS", "ns.other.net."),
    ];
    let desired = [
        record(
            "example.com.",
            "SOA",
            "ns-9.awsdns-09.org. hostmaster 1 7200 900 1209600 86400",
        ),
        record("example.com.", "NS", "ns-9.awsdns-09.org."),
        record("sub.example.com.", "NS", "ns.other.net."),
    ];
    let plan = plan_zone_restore(&desired, &live, &options()).expect("plan");
    assert!(plan.is_empty(), "{plan:?}");
    assert_eq!(
        plan.excluded
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["example.com. NS", "example.com. SOA"]
    );

    let asked = ZoneRestoreOptions {
        include_apex_soa_ns: true,
        ..options()
    };
    let plan = plan_zone_restore(&desired, &live, &asked).expect("plan");
    assert_eq!(
        shown(&plan),
        [["UPSERT EXAMPLE.COM. NS", "UPSERT EXAMPLE.COM. SOA"]
            .map(String::from)
            .to_vec()]
    );
    assert!(plan.excluded.is_empty());
}

#[test]
fn batches_stay_within_route53_limits() {
    // 1,500 creates of one value each: 1,000 elements in the first batch, 500 in the second.
    let desired: Vec<RecordSet> = (0..1500)
        .map(|i| record(&format!("h{i:04}.example.com."), "A", "192.0.2.1"))
        .collect();
    let plan = plan_zone_restore(&desired, &[], &options()).expect("plan");
    assert_eq!(
        plan.batches.iter().map(Vec::len).collect::<Vec<_>>(),
        [1000, 500]
    );

    // Upserts count twice: 600 upserts → 500 + 100.
    let live: Vec<RecordSet> = desired[..600]
        .iter()
        .map(|r| RecordSet {
            values: vec!["192.0.2.2".into()],
            ..r.clone()
        })
        .collect();
    let plan = plan_zone_restore(&desired[..600], &live, &options()).expect("plan");
    assert_eq!(
        plan.batches.iter().map(Vec::len).collect::<Vec<_>>(),
        [500, 100]
    );

    // 32,000 characters of values: 40 TXT records of 1,000 characters → 32 + 8.
    let long = "x".repeat(1000);
    let txt: Vec<RecordSet> = (0..40)
        .map(|i| record(&format!("t{i:02}.example.com."), "TXT", &long))
        .collect();
    let plan = plan_zone_restore(&txt, &[], &options()).expect("plan");
    assert_eq!(
        plan.batches.iter().map(Vec::len).collect::<Vec<_>>(),
        [32, 8]
    );

    // Order survives batching: with a 2-element limit, the target's batch comes first.
    let small = ZoneRestoreOptions {
        limits: BatchLimits {
            max_records: 2,
            max_value_chars: 32_000,
        },
        ..options()
    };
    let chain = [
        alias("a.example.com.", "A", "z.example.com."),
        record("z.example.com.", "A", "192.0.2.1"),
        record("m.example.com.", "A", "192.0.2.2"),
    ];
    let plan = plan_zone_restore(&chain, &[], &small).expect("plan");
    assert_eq!(
        shown(&plan),
        [
            vec![
                "CREATE M.EXAMPLE.COM. A".to_owned(),
                "CREATE Z.EXAMPLE.COM. A".to_owned()
            ],
            vec!["CREATE A.EXAMPLE.COM. A".to_owned()],
        ]
    );
}

#[test]
fn an_alias_cycle_still_orders_every_change() {
    let desired = [
        alias("a.example.com.", "A", "b.example.com."),
        alias("b.example.com.", "A", "a.example.com."),
    ];
    let plan = plan_zone_restore(&desired, &[], &options()).expect("plan");
    assert_eq!(plan.batches.concat().len(), 2);
}

#[test]
fn health_check_ids_are_remapped() {
    let mut records = vec![
        RecordSet {
            health_check_id: Some("hc-old-1".into()),
            ..weighted("api.example.com.", "blue", 1, "b")
        },
        RecordSet {
            health_check_id: Some("hc-gone".into()),
            ..weighted("api.example.com.", "green", 1, "g")
        },
    ];
    let map = BTreeMap::from([("hc-old-1".to_owned(), "hc-new-1".to_owned())]);
    assert_eq!(remap_health_checks(&mut records, &map), ["hc-gone"]);
    assert_eq!(records[0].health_check_id.as_deref(), Some("hc-new-1"));
}

#[test]
fn record_sets_round_trip_as_json() {
    let r = RecordSet {
        geo_location: Some(GeoLocation {
            continent_code: None,
            country_code: Some("*".into()),
            subdivision_code: None,
        }),
        ..weighted("api.example.com.", "blue", 10, "blue.example.net.")
    };
    let text = serde_json::to_string(&r).expect("json");
    assert!(text.contains("\"type\":\"CNAME\""), "{text}");
    assert_eq!(serde_json::from_str::<RecordSet>(&text).expect("parse"), r);
}

mod s3 {
    use chrono::{TimeZone, Utc};

    use crate::backup::diff::{s3_live_metadata_needed, s3_needs_update};
    use crate::backup::manifest::{Entry, ObjectMetadata, SourceRef, TargetKind};

    fn at(s: u32) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, s)
            .single()
            .expect("time")
    }

    fn typed(content_type: &str) -> ObjectMetadata {
        ObjectMetadata {
            content_type: Some(content_type.into()),
            ..ObjectMetadata::default()
        }
    }

    fn entry(metadata: Option<ObjectMetadata>) -> Entry {
        Entry {
            key: "data/ab/ab".into(),
            source: SourceRef {
                kind: TargetKind::S3,
                container: "src".into(),
                key: "data/a".into(),
            },
            size: 1,
            checksum: None,
            version_id: None,
            etag: Some("e".into()),
            encrypted: false,
            stored_etag: None,
            digest: None,
            retain_until: None,
            metadata,
            last_modified: Some(at(1)),
        }
    }

    #[test]
    fn only_metadata_differing_is_an_update_and_unknown_is_not() {
        let recorded = typed("text/plain");
        assert!(s3_needs_update(false, Some(&recorded), None));
        assert!(s3_needs_update(
            true,
            Some(&recorded),
            Some(&typed("text/html"))
        ));
        assert!(!s3_needs_update(
            true,
            Some(&recorded),
            Some(&typed("text/plain"))
        ));
        // Not read (known equal), or nothing recorded (an older manifest): no update.
        assert!(!s3_needs_update(true, Some(&recorded), None));
        assert!(!s3_needs_update(true, None, Some(&typed("text/html"))));
    }

    #[test]
    fn live_metadata_is_read_unless_the_live_object_is_the_one_backed_up() {
        let e = entry(Some(typed("text/plain")));
        assert!(!s3_live_metadata_needed(&e, Some(at(1))));
        assert!(s3_live_metadata_needed(&e, Some(at(2))));
        assert!(s3_live_metadata_needed(&e, None));
        let tagged = entry(Some(ObjectMetadata {
            tags: Some(Default::default()),
            ..typed("text/plain")
        }));
        assert!(
            s3_live_metadata_needed(&tagged, Some(at(1))),
            "tags change without a rewrite"
        );
        assert!(!s3_live_metadata_needed(&entry(None), Some(at(2))));
    }
}
