//! The backup part of the demo: the config's first backup plan, run through `cargo lambda
//! watch` (the real Lambda Runtime API): a backup, a change to the sources, an incremental
//! backup, a verification, and a dry-run restore of the first snapshot showing the diff.
//!
//! What the plan names but the emulator lacks is created first: its S3 source bucket (with
//! objects under the prefix), the backup bucket, the KMS key alias. Zones, clusters and
//! secrets come from the rest of the demo (the deploy-hook services and the notifier secrets).

use std::path::Path;

use anyhow::{ensure, Context as _};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use ops_adapters::AwsClients;
use ops_domain::config::{BackupPlanConfig, SuiteConfig};
use serde_json::{json, Value};

use crate::runtime_api::Watch;

/// Objects written under the plan's first S3 prefix.
const OBJECTS: usize = 200;

/// Runs the backup demo with the first plan of `config`; fails unless every step did what it
/// should.
pub async fn run(
    admin: &AwsClients,
    config: &SuiteConfig,
    env: &[(String, String)],
    cache: &Path,
) -> anyhow::Result<()> {
    let Some((name, plan)) = config.backup.plans.iter().next() else {
        println!("\n(backup demo skipped: the config has no backup plan)");
        return Ok(());
    };
    println!("\n==> backup: plan `{name}` from the config");
    prepare(admin, plan).await?;

    println!("\n==> Starting backup on the `cargo lambda watch` Runtime API (log: .cache/backup-watch.log)");
    let watch = Watch::start("backup", env, cache.join("backup-watch.log")).await?;
    let events = cache.join("demo-events");
    std::fs::create_dir_all(&events)?;
    let invoke = |event: Value, file: &'static str| {
        let path = events.join(file);
        let watch = &watch;
        async move {
            std::fs::write(&path, serde_json::to_vec_pretty(&event)?)?;
            let started = std::time::Instant::now();
            let response = watch.invoke(&path.display().to_string()).await?;
            println!(
                "    cargo lambda invoke backup --data-file .cache/demo-events/{file}   ({} ms)",
                started.elapsed().as_millis()
            );
            ensure!(
                response["status"] == "done",
                "backup {} did not finish: {response}",
                event["action"]
            );
            Ok::<Value, anyhow::Error>(response["report"].clone())
        }
    };

    println!("\n--> 1. First backup");
    let first = invoke(json!({"plan": name, "action": "backup"}), "backup-1.json").await?;
    print_backup(&first);
    ensure!(
        first["totals"]["copied_objects"].as_u64() >= Some(OBJECTS as u64),
        "first backup copied too little: {first}"
    );

    println!("\n--> 2. Change the sources: 3 objects rewritten, 1 deleted, a TXT record added to each zone");
    change(admin, plan).await?;

    println!("\n--> 3. Second backup: only what changed is copied");
    let second = invoke(json!({"plan": name, "action": "backup"}), "backup-2.json").await?;
    print_backup(&second);
    ensure!(
        second["totals"]["copied_objects"].as_u64() < first["totals"]["copied_objects"].as_u64(),
        "the second backup was not incremental: {second}"
    );

    println!("\n--> 4. Verify: every object's size and ETag from listings, 100 % read back and re-hashed, secrets decrypted");
    let verify = invoke(
        json!({"plan": name, "action": "verify", "deep_sample_percent": 100, "drill": false}),
        "backup-verify.json",
    )
    .await?;
    println!(
        "    ok: {}   snapshots {}   objects {}   re-read {}   failures {}",
        verify["ok"],
        verify["snapshots_checked"],
        verify["objects_checked"],
        verify["deep_checked"],
        verify["failures"]
    );
    ensure!(verify["ok"] == json!(true), "verification failed: {verify}");

    println!("\n--> 5. Dry-run restore of the first snapshot: what a restore would change, nothing changed");
    let restore = invoke(
        json!({"plan": name, "action": "restore", "snapshot": first["snapshot"]}),
        "backup-restore-dry-run.json",
    )
    .await?;
    print_restore(&restore);
    ensure!(
        restore["apply"] == json!(false) && restore["in_sync"] == json!(false),
        "the dry run found no difference: {restore}"
    );
    let s3 = &restore["s3"][0];
    ensure!(
        s3["update"] == json!(3) && s3["create"] == json!(1),
        "the dry run does not show the 3 rewritten objects and the deleted one: {s3}"
    );
    println!(
        "\n==> OK: backup {} → change → incremental backup {} → verified → dry-run restore diff; reports under backup/reports/ in the state bucket",
        first["snapshot"].as_str().unwrap_or_default(),
        second["snapshot"].as_str().unwrap_or_default()
    );
    Ok(())
}

fn print_backup(report: &Value) {
    let t = &report["totals"];
    println!(
        "    snapshot {}   objects {} ({} bytes): copied {} ({} bytes), referenced {}   {} AWS calls, {} ms",
        report["snapshot"].as_str().unwrap_or_default(),
        t["objects"],
        t["bytes"],
        t["copied_objects"],
        t["copied_bytes"],
        t["referenced_objects"],
        report["aws_calls"],
        report["duration_ms"]
    );
}

fn print_restore(report: &Value) {
    for s3 in report["s3"].as_array().into_iter().flatten() {
        println!(
            "    s3://{}/{}: create {} update {} delete {} unchanged {}",
            s3["bucket"].as_str().unwrap_or_default(),
            s3["prefix"].as_str().unwrap_or_default(),
            s3["create"],
            s3["update"],
            s3["delete"],
            s3["unchanged"]
        );
        for (kind, keys) in s3["keys"].as_object().into_iter().flatten() {
            println!(
                "      {kind}: {}",
                keys.as_array()
                    .map(|k| k
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
        }
    }
    for zone in report["route53"].as_array().into_iter().flatten() {
        for batch in zone["plan"]["batches"].as_array().into_iter().flatten() {
            for change in batch.as_array().into_iter().flatten() {
                println!(
                    "    route53 {}: {} {} {}",
                    zone["target_zone_name"].as_str().unwrap_or_default(),
                    change["action"].as_str().unwrap_or_default(),
                    change["record"]["name"].as_str().unwrap_or_default(),
                    change["record"]["type"].as_str().unwrap_or_default()
                );
            }
        }
    }
    for service in report["ecs"].as_array().into_iter().flatten() {
        println!(
            "    ecs {}/{}: task definition {}",
            service["cluster"].as_str().unwrap_or_default(),
            service["service"].as_str().unwrap_or_default(),
            service["task_definition"]["action"]
                .as_str()
                .unwrap_or_default()
        );
    }
    for secret in report["secrets"].as_array().into_iter().flatten() {
        println!(
            "    secret {}: {} label(s) to restore (values never shown)",
            secret["secret"].as_str().unwrap_or_default(),
            secret["actions"].as_array().map_or(0, Vec::len)
        );
    }
}

/// Creates what the plan names and the emulator lacks.
async fn prepare(admin: &AwsClients, plan: &BackupPlanConfig) -> anyhow::Result<()> {
    let _ = admin
        .s3
        .create_bucket()
        .bucket(&plan.destination.bucket)
        .send()
        .await;
    for target in &plan.targets.s3 {
        let _ = admin.s3.create_bucket().bucket(&target.bucket).send().await;
        let prefix = format!("{}{}", target.prefix, "");
        put(admin, &target.bucket, &prefix, 0..OBJECTS, 1).await?;
        println!(
            "    s3://{}/{}: {OBJECTS} objects",
            target.bucket, target.prefix
        );
    }
    if let Some(encryption) = &plan.encryption {
        if let Some(alias) = encryption.kms_key.strip_prefix("alias/") {
            let aliases = admin
                .kms
                .list_aliases()
                .send()
                .await
                .context("list aliases")?;
            let exists = aliases
                .aliases()
                .iter()
                .any(|a| a.alias_name() == Some(encryption.kms_key.as_str()));
            if !exists {
                let key = admin
                    .kms
                    .create_key()
                    .description("backup demo key")
                    .send()
                    .await
                    .context("create key")?;
                let id = key
                    .key_metadata()
                    .map(|m| m.key_id().to_owned())
                    .unwrap_or_default();
                admin
                    .kms
                    .create_alias()
                    .alias_name(format!("alias/{alias}"))
                    .target_key_id(id)
                    .send()
                    .await
                    .context("create alias")?;
                println!("    KMS key {}", encryption.kms_key);
            }
        }
    }
    println!(
        "    zones {:?}, clusters {:?}, secrets {:?} from the demo's services and notifier secrets; destination s3://{}/{}",
        plan.targets.route53.iter().map(|z| z.zone_name.clone().or(z.zone_id.clone()).unwrap_or_default()).collect::<Vec<_>>(),
        plan.targets.ecs.iter().map(|e| e.cluster.clone()).collect::<Vec<_>>(),
        plan.targets.secrets,
        plan.destination.bucket,
        plan.destination.prefix
    );
    Ok(())
}

async fn put(
    admin: &AwsClients,
    bucket: &str,
    prefix: &str,
    range: std::ops::Range<usize>,
    generation: u32,
) -> anyhow::Result<()> {
    crate::backup_seed::put_named(admin, bucket, range, generation, |i| {
        format!("{prefix}photo-{i:04}.jpg")
    })
    .await
}

async fn change(admin: &AwsClients, plan: &BackupPlanConfig) -> anyhow::Result<()> {
    for target in &plan.targets.s3 {
        put(admin, &target.bucket, &target.prefix, 0..3, 2).await?;
        admin
            .s3
            .delete_object()
            .bucket(&target.bucket)
            .key(format!("{}photo-0010.jpg", target.prefix))
            .send()
            .await?;
    }
    for zone in &plan.targets.route53 {
        let id = match (&zone.zone_id, &zone.zone_name) {
            (Some(id), _) => id.clone(),
            (None, Some(name)) => crate::seed::ensure_zone(admin, name).await?,
            _ => continue,
        };
        let name = zone.zone_name.clone().unwrap_or_default();
        admin
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(&id)
            .change_batch(
                ChangeBatch::builder()
                    .changes(
                        Change::builder()
                            .action(ChangeAction::Upsert)
                            .resource_record_set(
                                ResourceRecordSet::builder()
                                    .name(format!("added-after-backup.{name}"))
                                    .r#type(RrType::Txt)
                                    .ttl(60)
                                    .resource_records(
                                        ResourceRecord::builder().value("\"demo\"").build()?,
                                    )
                                    .build()?,
                            )
                            .build()?,
                    )
                    .build()?,
            )
            .send()
            .await
            .context("add a record")?;
    }
    Ok(())
}
