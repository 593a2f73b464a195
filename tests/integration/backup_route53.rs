//! Emulator tests of the route53 backup adapter: a zone with every routing policy, health checks
//! and an in-zone alias is exported (JSON and BIND), restored into itself after modifications
//! (dry run, apply, apply again) and into scratch private zones for a drill; a missing zone is
//! `NotFound`.
//!
//! moto differences the tests work around (see the report in the adapter's commit):
//! records are seeded with `UPSERT`, because moto rejects a `CREATE` identical to one in its
//! change journal (a record deleted and created again the same way); set identifiers are unique
//! across the zone, because moto's `DELETE` of a set identifier deletes every record set that
//! has it, whatever its name.

use std::collections::BTreeMap;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, GeoLocation, HealthCheckConfig,
    HealthCheckType, ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover,
    ResourceRecordSetRegion, RrType, Tag, TagResourceType,
};
use ops_adapters::route53::backup::{
    create_scratch_zone, delete_zone, export_zone, live_records, restore_zone, HealthCheckAction,
    RestoreZoneOptions, ZoneBackupError, ZoneRestoreReport,
};
use ops_adapters::AwsClients;
use ops_domain::backup::diff::{remap_health_checks, RecordSet};
use ops_domain::backup::zone::{
    compare_for_drill, render_bind, retarget, ZoneDocument, ZoneInfo, ZoneVpc,
};
use ops_tests::emulator::Emulator;
use ops_tests::unique;

async fn clients() -> AwsClients {
    let sdk = Emulator::shared().sdk_config().await;
    AwsClients::new(&sdk)
}

/// A public hosted zone with a unique name; returns (bare id, name).
async fn new_zone(client: &aws_sdk_route53::Client, prefix: &str) -> (String, String) {
    let name = format!("{}.backup.test.", unique(prefix));
    let output = client
        .create_hosted_zone()
        .name(&name)
        .caller_reference(unique("caller"))
        .send()
        .await
        .expect("create zone");
    let id = output
        .hosted_zone()
        .map(|zone| zone.id().trim_start_matches("/hostedzone/").to_owned())
        .expect("zone id");
    (id, name)
}

/// An HTTPS or HTTP health check on `fqdn`, optionally tagged `Name`.
async fn new_health_check(
    client: &aws_sdk_route53::Client,
    check_type: HealthCheckType,
    fqdn: &str,
    port: i32,
    name_tag: Option<&str>,
) -> String {
    let config = HealthCheckConfig::builder()
        .r#type(check_type)
        .fully_qualified_domain_name(fqdn)
        .port(port)
        .resource_path("/health")
        .build()
        .expect("health check config");
    let id = client
        .create_health_check()
        .caller_reference(unique("hc"))
        .health_check_config(config)
        .send()
        .await
        .expect("create health check")
        .health_check()
        .map(|check| check.id().to_owned())
        .expect("health check id");
    if let Some(name) = name_tag {
        client
            .change_tags_for_resource()
            .resource_type(TagResourceType::Healthcheck)
            .resource_id(&id)
            .add_tags(Tag::builder().key("Name").value(name).build())
            .send()
            .await
            .expect("tag health check");
    }
    id
}

/// The health checks whose host name is in `zone_name` (this test's own).
async fn health_checks_of(client: &aws_sdk_route53::Client, zone_name: &str) -> Vec<String> {
    let suffix = zone_name.trim_end_matches('.');
    let output = client
        .list_health_checks()
        .send()
        .await
        .expect("list health checks");
    let mut ids: Vec<String> = output
        .health_checks()
        .iter()
        .filter(|check| {
            check
                .health_check_config()
                .and_then(|config| config.fully_qualified_domain_name())
                .is_some_and(|fqdn| fqdn.ends_with(suffix))
        })
        .map(|check| check.id().to_owned())
        .collect();
    ids.sort();
    ids
}

/// A plain record set.
fn rr(name: &str, record_type: &str, ttl: i64, values: &[&str]) -> ResourceRecordSet {
    let mut builder = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(record_type))
        .ttl(ttl);
    for value in values {
        builder = builder.resource_records(
            ResourceRecord::builder()
                .value(*value)
                .build()
                .expect("record"),
        );
    }
    builder.build().expect("record set")
}

/// `set` with a set identifier and whatever else `edit` adds.
fn routed(
    set: ResourceRecordSet,
    identifier: &str,
    edit: impl FnOnce(&mut ResourceRecordSet),
) -> ResourceRecordSet {
    let mut set = set;
    set.set_identifier = Some(identifier.to_owned());
    edit(&mut set);
    set
}

async fn change(
    client: &aws_sdk_route53::Client,
    zone: &str,
    changes: Vec<(ChangeAction, ResourceRecordSet)>,
) {
    let changes = changes
        .into_iter()
        .map(|(action, set)| {
            Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .expect("change")
        })
        .collect();
    client
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("change record sets");
}

/// Health checks of the full zone.
struct Checks {
    blue: String,
    green: String,
}

/// Seeds the full zone: simple A, TXT, CNAME, MX, wildcard, a weighted pair with health checks,
/// failover, latency, geolocation and an alias to a record of the same zone.
async fn seed_full_zone(client: &aws_sdk_route53::Client, zone: &str, name: &str) -> Checks {
    let blue = new_health_check(
        client,
        HealthCheckType::Https,
        &format!("blue.{}", name.trim_end_matches('.')),
        443,
        Some("blue"),
    )
    .await;
    let green = new_health_check(
        client,
        HealthCheckType::Http,
        &format!("green.{}", name.trim_end_matches('.')),
        80,
        None,
    )
    .await;
    let n = |label: &str| {
        if label.is_empty() {
            name.to_owned()
        } else {
            format!("{label}.{name}")
        }
    };
    let alias = ResourceRecordSet::builder()
        .name(n("app"))
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(zone)
                .dns_name(n("www"))
                .evaluate_target_health(false)
                .build()
                .expect("alias"),
        )
        .build()
        .expect("alias set");
    let (b, g) = (blue.clone(), green.clone());
    let sets = vec![
        rr(&n("www"), "A", 300, &["192.0.2.1", "192.0.2.2"]),
        rr(
            &n(""),
            "TXT",
            300,
            &["\"v=spf1 -all\"", "\"hello \\\"quoted\\\" world\""],
        ),
        rr(&n("docs"), "CNAME", 300, &[&n("www")]),
        rr(&n(""), "MX", 300, &["10 mail.example.net."]),
        rr(&format!("*.{name}"), "A", 60, &["192.0.2.9"]),
        routed(rr(&n("api"), "A", 60, &["192.0.2.10"]), "api-blue", |s| {
            s.weight = Some(10);
            s.health_check_id = Some(b);
        }),
        routed(rr(&n("api"), "A", 60, &["192.0.2.11"]), "api-green", |s| {
            s.weight = Some(90);
            s.health_check_id = Some(g.clone());
        }),
        routed(rr(&n("db"), "A", 60, &["192.0.2.20"]), "db-primary", |s| {
            s.failover = Some(ResourceRecordSetFailover::Primary);
            s.health_check_id = Some(g);
        }),
        routed(
            rr(&n("db"), "A", 60, &["192.0.2.21"]),
            "db-secondary",
            |s| {
                s.failover = Some(ResourceRecordSetFailover::Secondary);
            },
        ),
        routed(rr(&n("lat"), "A", 60, &["192.0.2.30"]), "lat-use1", |s| {
            s.region = Some(ResourceRecordSetRegion::UsEast1);
        }),
        routed(rr(&n("lat"), "A", 60, &["192.0.2.31"]), "lat-euw1", |s| {
            s.region = Some(ResourceRecordSetRegion::EuWest1);
        }),
        routed(rr(&n("geo"), "A", 60, &["192.0.2.40"]), "geo-de", |s| {
            s.geo_location = Some(GeoLocation::builder().country_code("DE").build());
        }),
        routed(
            rr(&n("geo"), "A", 60, &["192.0.2.41"]),
            "geo-default",
            |s| {
                s.geo_location = Some(GeoLocation::builder().country_code("*").build());
            },
        ),
        alias,
    ];
    change(
        client,
        zone,
        sets.into_iter()
            .map(|s| (ChangeAction::Upsert, s))
            .collect(),
    )
    .await;
    Checks { blue, green }
}

fn keys(records: &[RecordSet]) -> Vec<String> {
    records.iter().map(|r| r.key().to_string()).collect()
}

fn find<'a>(records: &'a [RecordSet], key: &str) -> &'a RecordSet {
    records
        .iter()
        .find(|r| r.key().to_string() == key)
        .unwrap_or_else(|| panic!("no record {key} in {:?}", keys(records)))
}

fn options(apply: bool, seed: &str) -> RestoreZoneOptions {
    RestoreZoneOptions {
        apply,
        include_apex_soa_ns: false,
        idempotency_seed: seed.to_owned(),
    }
}

fn health_actions(
    report: &ZoneRestoreReport,
) -> BTreeMap<String, (HealthCheckAction, Option<String>)> {
    report
        .health_checks
        .iter()
        .map(|h| (h.old_id.clone(), (h.action, h.new_id.clone())))
        .collect()
}

fn diff_keys(report: &ZoneRestoreReport) -> (Vec<String>, Vec<String>, Vec<String>) {
    let diff = &report.plan.diff;
    (
        keys(&diff.create),
        diff.update
            .iter()
            .map(|u| u.desired.key().to_string())
            .collect(),
        keys(&diff.delete),
    )
}

#[tokio::test]
async fn export_renders_round_trips_and_restores_into_the_same_zone() {
    let aws = clients().await;
    let r53 = &aws.route53;
    let (zone, name) = new_zone(r53, "full").await;
    let checks = seed_full_zone(r53, &zone, &name).await;

    // Export: every record set, both health checks, by id and by name alike.
    let doc = export_zone(r53, Some(&format!("/hostedzone/{zone}")), None)
        .await
        .expect("export");
    assert_eq!(doc.zone.id, zone);
    assert_eq!(doc.zone.name, name);
    assert!(!doc.zone.private_zone);
    let n = |label: &str| format!("{label}.{name}");
    let mut expected_keys = vec![
        format!("*.{name} A"),
        format!("{name} MX"),
        format!("{name} NS"),
        format!("{name} SOA"),
        format!("{name} TXT"),
        format!("{} A [api-blue]", n("api")),
        format!("{} A [api-green]", n("api")),
        format!("{} A", n("app")),
        format!("{} A [db-primary]", n("db")),
        format!("{} A [db-secondary]", n("db")),
        format!("{} CNAME", n("docs")),
        format!("{} A [geo-de]", n("geo")),
        format!("{} A [geo-default]", n("geo")),
        format!("{} A [lat-euw1]", n("lat")),
        format!("{} A [lat-use1]", n("lat")),
        format!("{} A", n("www")),
    ];
    expected_keys.sort();
    assert_eq!(keys(&doc.records), expected_keys);
    let blue = find(&doc.records, &format!("{} A [api-blue]", n("api")));
    assert_eq!(blue.weight, Some(10));
    assert_eq!(blue.ttl, Some(60));
    assert_eq!(blue.health_check_id.as_deref(), Some(checks.blue.as_str()));
    let app = find(&doc.records, &format!("{} A", n("app")));
    let target = app.alias.as_ref().expect("alias");
    assert_eq!(
        (target.hosted_zone_id.as_str(), target.dns_name.as_str()),
        (zone.as_str(), n("www").as_str())
    );
    assert_eq!(app.ttl, None, "aliases have no TTL");
    let geo = find(&doc.records, &format!("{} A [geo-default]", n("geo")));
    assert_eq!(
        geo.geo_location
            .as_ref()
            .and_then(|g| g.country_code.as_deref()),
        Some("*")
    );
    let primary = find(&doc.records, &format!("{} A [db-primary]", n("db")));
    assert_eq!(primary.failover.as_deref(), Some("PRIMARY"));
    let latency = find(&doc.records, &format!("{} A [lat-use1]", n("lat")));
    assert_eq!(latency.region.as_deref(), Some("us-east-1"));

    let mut check_ids = vec![checks.blue.clone(), checks.green.clone()];
    check_ids.sort();
    assert_eq!(
        doc.health_checks
            .iter()
            .map(|h| h.id.clone())
            .collect::<Vec<_>>(),
        check_ids
    );
    let blue_check = doc.health_check(&checks.blue).expect("blue check");
    assert_eq!(blue_check.config.check_type, "HTTPS");
    assert_eq!(blue_check.config.port, Some(443));
    assert_eq!(blue_check.config.resource_path.as_deref(), Some("/health"));
    assert_eq!(
        blue_check.tags.get("Name").map(String::as_str),
        Some("blue")
    );

    let by_name = export_zone(r53, None, Some(name.trim_end_matches('.')))
        .await
        .expect("export by name");
    assert_eq!(by_name, doc);

    // JSON round-trips; the BIND rendering has every record.
    let json = serde_json::to_vec_pretty(&doc).expect("json");
    assert_eq!(ZoneDocument::parse(&json).expect("parse"), doc);
    let bind = render_bind(&doc);
    for line in [
        format!("$ORIGIN {name}"),
        "www\t300\tIN\tA\t192.0.2.1".to_owned(),
        "www\t300\tIN\tA\t192.0.2.2".to_owned(),
        "@\t300\tIN\tTXT\t\"v=spf1 -all\"".to_owned(),
        "@\t300\tIN\tTXT\t\"hello \\\"quoted\\\" world\"".to_owned(),
        format!("docs\t300\tIN\tCNAME\t{}", n("www")),
        "@\t300\tIN\tMX\t10 mail.example.net.".to_owned(),
        "*\t60\tIN\tA\t192.0.2.9".to_owned(),
        format!(
            "api\t60\tIN\tA\t192.0.2.10\t; weighted weight=10 set=api-blue health-check={}",
            checks.blue
        ),
        format!(
            "db\t60\tIN\tA\t192.0.2.20\t; failover=PRIMARY set=db-primary health-check={}",
            checks.green
        ),
        "db\t60\tIN\tA\t192.0.2.21\t; failover=SECONDARY set=db-secondary".to_owned(),
        "lat\t60\tIN\tA\t192.0.2.30\t; latency region=us-east-1 set=lat-use1".to_owned(),
        "geo\t60\tIN\tA\t192.0.2.40\t; geolocation country=DE set=geo-de".to_owned(),
        "geo\t60\tIN\tA\t192.0.2.41\t; geolocation country=* set=geo-default".to_owned(),
        format!(
            "; ALIAS\tapp\tIN\tA\t{}\t; zone={zone} evaluate-target-health=no",
            n("www")
        ),
        format!("; health-check {} type=HTTPS", checks.blue),
    ] {
        assert!(bind.contains(&line), "no {line:?} in\n{bind}");
    }

    // Modify: delete a record, change a weight, add a stray record, delete a health check.
    let docs = find(&doc.records, &format!("{} CNAME", n("docs")));
    change(
        r53,
        &zone,
        vec![
            (
                ChangeAction::Delete,
                rr(&n("docs"), "CNAME", 300, &[&docs.values[0]]),
            ),
            (
                ChangeAction::Upsert,
                routed(rr(&n("api"), "A", 60, &["192.0.2.11"]), "api-green", |s| {
                    s.weight = Some(50);
                    s.health_check_id = Some(checks.green.clone());
                }),
            ),
            (
                ChangeAction::Upsert,
                rr(&n("stray"), "A", 300, &["192.0.2.99"]),
            ),
        ],
    )
    .await;
    r53.delete_health_check()
        .health_check_id(&checks.blue)
        .send()
        .await
        .expect("delete health check");
    let modified = export_zone(r53, Some(&zone), None).await.expect("modified");
    let checks_before = health_checks_of(r53, &name).await;
    assert_eq!(checks_before, std::slice::from_ref(&checks.green));

    // Dry run: what would change, and nothing changes.
    let seed = unique("restore");
    let dry = restore_zone(r53, &doc, &zone, &options(false, &seed))
        .await
        .expect("dry run");
    assert_eq!(
        (dry.target_zone_id.as_str(), dry.target_zone_name.as_str()),
        (zone.as_str(), name.as_str())
    );
    assert_eq!(
        diff_keys(&dry),
        (
            vec![format!("{} CNAME", n("docs"))],
            vec![format!("{} A [api-green]", n("api"))],
            vec![format!("{} A", n("stray"))],
        )
    );
    assert_eq!(
        health_actions(&dry),
        BTreeMap::from([
            (checks.blue.clone(), (HealthCheckAction::Create, None)),
            (
                checks.green.clone(),
                (HealthCheckAction::Reuse, Some(checks.green.clone()))
            ),
        ])
    );
    assert_eq!((dry.applied_batches, dry.in_sync), (0, None));
    let shown = serde_json::to_value(&dry).expect("report json");
    assert_eq!(shown["health_checks"].as_array().map(Vec::len), Some(2));
    assert!(shown.get("desired").is_none(), "{shown}");
    assert_eq!(
        export_zone(r53, Some(&zone), None)
            .await
            .expect("after dry run"),
        modified
    );
    assert_eq!(health_checks_of(r53, &name).await, checks_before);

    // Apply: the health check is created once, and the zone equals the backup.
    let applied = restore_zone(r53, &doc, &zone, &options(true, &seed))
        .await
        .expect("apply");
    let actions = health_actions(&applied);
    let (action, new_blue) = actions[&checks.blue].clone();
    assert_eq!(action, HealthCheckAction::Created);
    let new_blue = new_blue.expect("new id");
    assert_ne!(new_blue, checks.blue);
    assert_eq!(
        actions[&checks.green],
        (HealthCheckAction::Reuse, Some(checks.green.clone()))
    );
    assert_eq!(
        diff_keys(&applied),
        (
            vec![format!("{} CNAME", n("docs"))],
            vec![
                format!("{} A [api-blue]", n("api")),
                format!("{} A [api-green]", n("api")),
            ],
            vec![format!("{} A", n("stray"))],
        )
    );
    assert!(applied.applied_batches >= 1);
    assert_eq!(applied.in_sync, Some(true));
    let mut expected = doc.records.clone();
    remap_health_checks(
        &mut expected,
        &BTreeMap::from([(checks.blue.clone(), new_blue.clone())]),
    );
    let live = live_records(r53, &zone).await.expect("live");
    assert_eq!(live, expected);
    assert_eq!(applied.desired, expected);
    assert_eq!(
        compare_for_drill(&expected, &live, &name),
        Vec::<String>::new()
    );
    let created = health_checks_of(r53, &name).await;
    let mut want = vec![checks.green.clone(), new_blue.clone()];
    want.sort();
    assert_eq!(created, want);
    let recreated = export_zone(r53, Some(&zone), None)
        .await
        .expect("re-export");
    let tags = &recreated.health_check(&new_blue).expect("new check").tags;
    assert_eq!(
        tags.get("Name").map(String::as_str),
        Some("blue"),
        "tags are restored"
    );
    assert_eq!(
        recreated.health_check(&new_blue).map(|h| &h.config),
        Some(&blue_check.config)
    );

    // Apply again (a retry, or the next run): nothing to do, nothing created.
    let again = restore_zone(r53, &doc, &zone, &options(true, &seed))
        .await
        .expect("apply again");
    assert!(again.plan.is_empty(), "{:?}", again.plan.diff);
    assert!(again.plan.batches.is_empty());
    assert_eq!(again.applied_batches, 0);
    assert_eq!(
        health_actions(&again)[&checks.blue],
        (HealthCheckAction::Reuse, Some(new_blue.clone()))
    );
    assert_eq!(health_checks_of(r53, &name).await, want);
    assert_eq!(live_records(r53, &zone).await.expect("live"), expected);
}

/// A smaller zone for the drill: simple records, a weighted record with a health check, an
/// in-zone alias and a wildcard.
async fn seed_drill_zone(client: &aws_sdk_route53::Client, zone: &str, name: &str) -> String {
    let check = new_health_check(
        client,
        HealthCheckType::Https,
        &format!("api.{}", name.trim_end_matches('.')),
        443,
        None,
    )
    .await;
    let alias = ResourceRecordSet::builder()
        .name(format!("app.{name}"))
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(zone)
                .dns_name(format!("www.{name}"))
                .evaluate_target_health(true)
                .build()
                .expect("alias"),
        )
        .build()
        .expect("alias set");
    let hc = check.clone();
    change(
        client,
        zone,
        vec![
            (
                ChangeAction::Upsert,
                rr(&format!("www.{name}"), "A", 300, &["192.0.2.1"]),
            ),
            (ChangeAction::Upsert, rr(name, "TXT", 300, &["\"drill\""])),
            (
                ChangeAction::Upsert,
                rr(&format!("*.{name}"), "A", 60, &["192.0.2.9"]),
            ),
            (
                ChangeAction::Upsert,
                routed(
                    rr(&format!("api.{name}"), "A", 60, &["192.0.2.10"]),
                    "drill-blue",
                    |s| {
                        s.weight = Some(100);
                        s.health_check_id = Some(hc);
                    },
                ),
            ),
            (ChangeAction::Upsert, alias),
        ],
    )
    .await;
    check
}

#[tokio::test]
async fn restore_drill_into_scratch_private_zones() {
    let aws = clients().await;
    let r53 = &aws.route53;
    let (zone, name) = new_zone(r53, "drill").await;
    let check = seed_drill_zone(r53, &zone, &name).await;
    let doc = export_zone(r53, Some(&zone), None).await.expect("export");
    let vpc = ZoneVpc {
        id: "vpc-12345678".into(),
        region: "us-east-1".into(),
    };

    // The scratch zone under the zone's own name, and under another name.
    for scratch_name in [name.clone(), format!("scratch.{name}")] {
        let reference = unique("drill");
        let scratch = create_scratch_zone(r53, &scratch_name, &vpc, &reference)
            .await
            .expect("scratch zone");
        assert_ne!(scratch, zone);
        let again = create_scratch_zone(r53, &scratch_name, &vpc, &reference)
            .await
            .expect("scratch zone again");
        assert_eq!(again, scratch, "idempotent on the caller reference");
        let info = r53
            .get_hosted_zone()
            .id(&scratch)
            .send()
            .await
            .expect("get scratch zone");
        assert!(info
            .hosted_zone()
            .and_then(|z| z.config())
            .is_some_and(|c| c.private_zone()));
        assert_eq!(
            info.vpcs()
                .iter()
                .map(|v| v.vpc_id().unwrap_or_default())
                .collect::<Vec<_>>(),
            ["vpc-12345678"]
        );

        let report = restore_zone(r53, &doc, &scratch, &options(true, &reference))
            .await
            .expect("restore into scratch");
        assert_eq!(
            health_actions(&report),
            BTreeMap::from([(
                check.clone(),
                (HealthCheckAction::Reuse, Some(check.clone()))
            )])
        );
        assert!(report.plan.diff.update.is_empty() && report.plan.diff.delete.is_empty());
        assert_eq!(
            report.plan.diff.create.len(),
            doc.records.len() - 2,
            "all but SOA/NS"
        );

        let restored = live_records(r53, &scratch).await.expect("restored");
        assert_eq!(
            compare_for_drill(&report.desired, &restored, &scratch_name),
            Vec::<String>::new()
        );
        let expected = retarget(&doc.records, &doc.zone, &scratch, &scratch_name);
        assert_eq!(
            compare_for_drill(&expected, &restored, &scratch_name),
            Vec::<String>::new()
        );
        // The raw backup differs from a scratch zone exactly by where the in-zone alias points.
        let raw = compare_for_drill(&doc.records, &restored, &scratch_name);
        if scratch_name == name {
            assert_eq!(raw.len(), 1, "{raw:?}");
            assert!(raw[0].contains("the alias target"), "{raw:?}");
        }
        let app = find(&restored, &format!("app.{scratch_name} A"));
        let alias = app.alias.as_ref().expect("alias");
        assert_eq!(
            alias.hosted_zone_id, scratch,
            "in-zone aliases point into the scratch zone"
        );
        assert_eq!(alias.dns_name, format!("www.{scratch_name}"));
        assert!(alias.evaluate_target_health);

        delete_zone(r53, &scratch).await.expect("delete scratch");
        let gone = export_zone(r53, Some(&scratch), None).await;
        assert!(matches!(gone, Err(ZoneBackupError::NotFound { zone }) if zone == scratch));
        delete_zone(r53, &scratch)
            .await
            .expect("deleting again is fine");
    }

    // delete_zone refuses a zone that is not a scratch zone, and leaves it as it was.
    let refused = delete_zone(r53, &zone).await;
    assert!(
        matches!(&refused, Err(ZoneBackupError::Invalid { zone: z, reason }) if *z == zone && reason.contains("not a scratch zone")),
        "{refused:?}"
    );
    assert_eq!(
        export_zone(r53, Some(&zone), None)
            .await
            .expect("still there"),
        doc
    );
}

#[tokio::test]
async fn missing_zones_and_health_checks_are_named() {
    let aws = clients().await;
    let r53 = &aws.route53;

    let missing = "ZMISSING0000000000000";
    let error = export_zone(r53, Some(missing), None)
        .await
        .expect_err("missing id");
    assert!(
        matches!(&error, ZoneBackupError::NotFound { zone } if zone == missing),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("hosted zone {missing} not found")
    );
    assert!(!error.is_transient());

    let name = format!("{}.backup.test.", unique("absent"));
    let error = export_zone(r53, None, Some(&name))
        .await
        .expect_err("missing name");
    assert!(
        matches!(&error, ZoneBackupError::NotFound { zone } if *zone == name),
        "{error:?}"
    );

    let error = live_records(r53, missing).await.expect_err("missing live");
    assert!(
        matches!(error, ZoneBackupError::NotFound { .. }),
        "{error:?}"
    );

    // A record refers to a health check that is neither in the document nor in Route53.
    let (zone, zone_name) = new_zone(r53, "dangling").await;
    let ghost = "00000000-0000-0000-0000-000000000000";
    let record = RecordSet {
        name: format!("api.{zone_name}"),
        record_type: "A".into(),
        set_identifier: Some("ghost".into()),
        ttl: Some(60),
        values: vec!["192.0.2.1".into()],
        alias: None,
        weight: Some(1),
        region: None,
        failover: None,
        geo_location: None,
        multi_value_answer: None,
        health_check_id: Some(ghost.into()),
    };
    let doc = ZoneDocument::new(
        ZoneInfo {
            id: zone.clone(),
            name: zone_name.clone(),
            private_zone: false,
            comment: None,
            vpcs: Vec::new(),
        },
        vec![record],
        Vec::new(),
    );
    let error = restore_zone(r53, &doc, &zone, &options(false, "seed"))
        .await
        .expect_err("ghost health check");
    assert!(
        matches!(&error, ZoneBackupError::HealthCheckNotFound { id } if id == ghost),
        "{error:?}"
    );

    // The apex SOA and NS go back only into their own zone.
    let (other, _) = new_zone(r53, "other").await;
    let empty = export_zone(r53, Some(&zone), None)
        .await
        .expect("apex only");
    assert_eq!(empty.records.len(), 2, "a new zone has its SOA and NS");
    let apex = RestoreZoneOptions {
        include_apex_soa_ns: true,
        ..options(false, "seed")
    };
    let error = restore_zone(r53, &empty, &other, &apex)
        .await
        .expect_err("apex into another zone");
    assert!(
        matches!(&error, ZoneBackupError::Invalid { zone, .. } if *zone == other),
        "{error:?}"
    );
    let own = restore_zone(r53, &empty, &zone, &apex)
        .await
        .expect("apex into its own zone");
    assert!(own.plan.excluded.is_empty());
    assert_eq!(
        own.plan.diff.unchanged.len(),
        2,
        "the zone's own SOA and NS: {:?}",
        own.plan
    );

    let error = restore_zone(r53, &doc, missing, &options(false, "seed"))
        .await
        .expect_err("missing target");
    assert!(
        matches!(&error, ZoneBackupError::NotFound { zone } if zone == missing),
        "{error:?}"
    );
}
