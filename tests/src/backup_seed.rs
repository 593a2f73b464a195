//! Seeding for the backup function: a source bucket with objects, a hosted zone with weighted,
//! aliased and health-checked records, an ECS service, a secret with several versions, a KMS
//! key, a backup bucket, and a suite config with one plan over all of them.

use anyhow::Context as _;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType,
    ResourceRecord, ResourceRecordSet, RrType,
};
use ops_adapters::AwsClients;

/// What was seeded.
#[derive(Debug, Clone)]
pub struct BackupSources {
    /// Unique prefix of the names.
    pub prefix: String,
    /// State bucket (config, claims, reports).
    pub state_bucket: String,
    /// Source bucket (objects under `data/`).
    pub source_bucket: String,
    /// Backup bucket.
    pub backup_bucket: String,
    /// Hosted zone id (bare).
    pub zone_id: String,
    /// Hosted zone name (`<prefix>.example.`).
    pub zone_name: String,
    /// Health check ids of the weighted records.
    pub health_checks: Vec<String>,
    /// ECS cluster.
    pub cluster: String,
    /// ECS service.
    pub service: String,
    /// Secret name.
    pub secret: String,
    /// KMS key id.
    pub kms_key: String,
}

/// Content of the seeded object `data/<i>.txt`.
pub fn object_body(i: usize, generation: u32) -> String {
    format!("object {i} generation {generation}\n")
}

/// Seeds every source (with `objects` objects under `data/`) and the buckets.
pub async fn backup_sources(
    admin: &AwsClients,
    prefix: &str,
    objects: usize,
    object_lock: bool,
) -> anyhow::Result<BackupSources> {
    let state_bucket = prefix.to_owned();
    let source_bucket = format!("{prefix}-src");
    let backup_bucket = format!("{prefix}-backup");
    crate::seed::create_bucket(admin, &state_bucket).await?;
    crate::seed::create_bucket(admin, &source_bucket).await?;
    admin
        .s3
        .create_bucket()
        .bucket(&backup_bucket)
        .object_lock_enabled_for_bucket(object_lock)
        .send()
        .await
        .context("create backup bucket")?;
    put_objects(admin, &source_bucket, 0..objects, 1).await?;

    let zone_name = format!("{prefix}.example.");
    let zone_id = crate::seed::ensure_zone(admin, &zone_name).await?;
    let mut health_checks = Vec::new();
    for (i, ip) in ["192.0.2.10", "192.0.2.20"].iter().enumerate() {
        let created = admin
            .route53
            .create_health_check()
            .caller_reference(format!("{prefix}-hc-{i}"))
            .health_check_config(
                HealthCheckConfig::builder()
                    .r#type(HealthCheckType::Http)
                    .ip_address(*ip)
                    .port(80)
                    .resource_path("/health")
                    .request_interval(30)
                    .failure_threshold(3)
                    .build()
                    .context("health check config")?,
            )
            .send()
            .await
            .context("create health check")?;
        health_checks.push(
            created
                .health_check()
                .map(|h| h.id().to_owned())
                .unwrap_or_default(),
        );
    }
    let record = |name: &str, kind: RrType, values: &[&str]| {
        ResourceRecordSet::builder()
            .name(format!("{name}.{zone_name}"))
            .r#type(kind)
            .ttl(300)
            .set_resource_records(Some(
                values
                    .iter()
                    .map(|v| ResourceRecord::builder().value(*v).build().expect("value"))
                    .collect(),
            ))
            .build()
            .expect("record")
    };
    let weighted = |set: &str, weight: i64, ip: &str, health: &str| {
        ResourceRecordSet::builder()
            .name(format!("api.{zone_name}"))
            .r#type(RrType::A)
            .ttl(60)
            .set_identifier(set)
            .weight(weight)
            .health_check_id(health)
            .resource_records(ResourceRecord::builder().value(ip).build().expect("value"))
            .build()
            .expect("weighted")
    };
    let alias = ResourceRecordSet::builder()
        .name(format!("www.{zone_name}"))
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(&zone_id)
                .dns_name(format!("app.{zone_name}"))
                .evaluate_target_health(false)
                .build()
                .expect("alias"),
        )
        .build()
        .expect("alias record");
    let records = vec![
        record("app", RrType::A, &["192.0.2.1", "192.0.2.2"]),
        record("mail", RrType::Mx, &["10 mx1.example.net."]),
        record("txt", RrType::Txt, &["\"v=spf1 -all\""]),
        weighted("blue", 90, "192.0.2.10", &health_checks[0]),
        weighted("green", 10, "192.0.2.20", &health_checks[1]),
        alias,
    ];
    admin
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            ChangeBatch::builder()
                .set_changes(Some(
                    records
                        .into_iter()
                        .map(|r| {
                            Change::builder()
                                .action(ChangeAction::Upsert)
                                .resource_record_set(r)
                                .build()
                                .expect("change")
                        })
                        .collect(),
                ))
                .build()
                .context("batch")?,
        )
        .send()
        .await
        .context("seed records")?;

    let cluster = prefix.to_owned();
    let service = "web".to_owned();
    admin
        .ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .context("create cluster")?;
    let task_definition = register_web(admin, prefix, "nginx:1.25.3").await?;
    admin
        .ecs
        .create_service()
        .cluster(&cluster)
        .service_name(&service)
        .task_definition(&task_definition)
        .desired_count(2)
        .send()
        .await
        .context("create service")?;

    let secret = format!("{prefix}/db");
    admin
        .secrets
        .create_secret()
        .name(&secret)
        .secret_string(r#"{"user":"app","password":"first-s3cr3t"}"#)
        .send()
        .await
        .context("create secret")?;
    admin
        .secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(r#"{"user":"app","password":"second-s3cr3t"}"#)
        .send()
        .await
        .context("second secret version")?;
    let key = admin
        .kms
        .create_key()
        .description(format!("{prefix} backup key"))
        .send()
        .await
        .context("create key")?;
    let kms_key = key
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .unwrap_or_default();

    Ok(BackupSources {
        prefix: prefix.to_owned(),
        state_bucket,
        source_bucket,
        backup_bucket,
        zone_id,
        zone_name,
        health_checks,
        cluster,
        service,
        secret,
        kms_key,
    })
}

/// Registers a revision of the `web` task definition with `image`; returns its ARN.
pub async fn register_web(admin: &AwsClients, prefix: &str, image: &str) -> anyhow::Result<String> {
    use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, PortMapping};
    let registered = admin
        .ecs
        .register_task_definition()
        .family(format!("{prefix}-web"))
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image(image)
                .essential(true)
                .port_mappings(PortMapping::builder().container_port(8080).build())
                .environment(KeyValuePair::builder().name("MODE").value("prod").build())
                .build(),
        )
        .send()
        .await
        .context("register task definition")?;
    Ok(registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_owned())
}

/// Writes `data/<i>.txt` for each `i` with the given generation of content.
pub async fn put_objects(
    admin: &AwsClients,
    bucket: &str,
    range: std::ops::Range<usize>,
    generation: u32,
) -> anyhow::Result<()> {
    put_named(admin, bucket, range, generation, |i| {
        format!("data/{i:05}.txt")
    })
    .await
}

/// Writes the object `name(i)` for each `i`, with [`object_body`] of the given generation.
pub async fn put_named(
    admin: &AwsClients,
    bucket: &str,
    range: std::ops::Range<usize>,
    generation: u32,
    name: impl Fn(usize) -> String,
) -> anyhow::Result<()> {
    use futures_util::stream::{self, TryStreamExt};
    let name = &name;
    stream::iter(range.map(Ok::<usize, anyhow::Error>))
        .try_for_each_concurrent(32, |i| async move {
            let key = name(i);
            admin
                .s3
                .put_object()
                .bucket(bucket)
                .key(&key)
                .body(object_body(i, generation).into_bytes().into())
                .send()
                .await
                .with_context(|| format!("put {key}"))?;
            Ok(())
        })
        .await
}

/// A suite config with the plan `nightly` over every seeded source; failures notify `hook`.
pub fn backup_config_yaml(sources: &BackupSources) -> String {
    let p = &sources.prefix;
    format!(
        r#"version: 1
notifications:
  channels:
    hook: {{ kind: webhook, secret: {p}/webhook }}
  routes:
    critical: [hook]
backup:
  plans:
    nightly:
      targets:
        s3: [{{ bucket: {src}, prefix: data/ }}]
        route53: [{{ zone_id: {zone} }}]
        ecs: [{{ cluster: {cluster}, services: [{service}] }}]
        secrets: [{secret}]
      schedule: {{ backup: "rate(1 day)", verify: "rate(1 day)", prune: "rate(1 day)" }}
      retention: {{ keep_last: 2 }}
      destination: {{ bucket: {dest}, prefix: backups }}
      encryption: {{ kms_key: {key} }}
      verification:
        deep_sample_percent: 100
        zone_drill: true
        drill_vpc: {{ id: vpc-12345678, region: us-east-1 }}
"#,
        src = sources.source_bucket,
        zone = sources.zone_id,
        cluster = sources.cluster,
        service = sources.service,
        secret = sources.secret,
        dest = sources.backup_bucket,
        key = sources.kms_key,
    )
}
