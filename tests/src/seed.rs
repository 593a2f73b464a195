//! Seeding of sample services from a suite config: what deploy-hook would have left behind in
//! the middle of a deployment.
//!
//! For every service in the config: an ECS cluster, two task definition revisions (stable and
//! candidate) and the ECS service(s); for traffic-shifting services a hosted zone with one
//! weighted record per target (stable 90, candidate 10); and a deployment record IN_PROGRESS.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _};
use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver, PortMapping};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use ops_adapters::s3::StateStore;
use ops_adapters::AwsClients;
use ops_domain::config::{ChannelKind, ServiceConfig, SuiteConfig};
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus, Release};
use ops_domain::keys;

/// Weight of the stable target while a canary is in flight.
pub const STABLE_WEIGHT: i64 = 90;
/// Weight of the candidate target while a canary is in flight.
pub const CANDIDATE_WEIGHT: i64 = 10;

/// What was created for one service.
#[derive(Debug, Clone)]
pub struct SeededService {
    /// Hosted zone id, for traffic-shifting services.
    pub zone_id: Option<String>,
    /// Stable task definition ARN.
    pub stable: String,
    /// Candidate task definition ARN.
    pub candidate: String,
}

/// Creates the state bucket.
pub async fn create_bucket(admin: &AwsClients, bucket: &str) -> anyhow::Result<()> {
    admin
        .s3
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .with_context(|| format!("create bucket {bucket}"))?;
    Ok(())
}

/// Uploads the config text to the bucket at the standard key.
pub async fn upload_config(admin: &AwsClients, bucket: &str, yaml: &str) -> anyhow::Result<()> {
    admin
        .s3
        .put_object()
        .bucket(bucket)
        .key(keys::CONFIG_KEY)
        .body(yaml.as_bytes().to_vec().into())
        .send()
        .await
        .context("upload config")?;
    Ok(())
}

/// Sender of email channels' secrets (an SES identity must exist for it: [`email_identity`]).
pub const EMAIL_FROM: &str = "cost-check@example.com";
/// Recipient of email channels' secrets.
pub const EMAIL_TO: &str = "finops@example.com";

/// Creates the SES identity `address` (the emulator, like SES, sends only from identities).
pub async fn email_identity(sdk: &aws_config::SdkConfig, address: &str) -> anyhow::Result<()> {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    if let Err(error) = ses
        .create_email_identity()
        .email_identity(address)
        .send()
        .await
    {
        // Created by an earlier test against the same emulator: fine.
        let exists = aws_sdk_sesv2::error::ProvideErrorMetadata::code(&error)
            == Some("AlreadyExistsException");
        if !exists {
            return Err(anyhow::Error::new(error).context(format!("SES identity {address}")));
        }
    }
    Ok(())
}

/// Creates (or fills) the notifier secrets of the config, pointing at `receiver_url`:
/// Slack at `/slack`, webhooks at `/webhook` (signing key `test-signing-key`), PagerDuty at
/// `/pagerduty` (routing key `test-routing-key`), email from [`EMAIL_FROM`] to [`EMAIL_TO`].
pub async fn notifier_secrets(
    admin: &AwsClients,
    config: &SuiteConfig,
    receiver_url: &str,
) -> anyhow::Result<()> {
    for channel in config.notifications.channels.values() {
        let value = match channel.kind {
            ChannelKind::Slack => format!("{receiver_url}/slack"),
            ChannelKind::Webhook => serde_json::json!({"url": format!("{receiver_url}/webhook"), "signing_key": "test-signing-key"}).to_string(),
            ChannelKind::Pagerduty => serde_json::json!({"url": format!("{receiver_url}/pagerduty"), "routing_key": "test-routing-key"}).to_string(),
            ChannelKind::Email => serde_json::json!({"from": EMAIL_FROM, "to": [EMAIL_TO]}).to_string(),
        };
        let created = admin
            .secrets
            .create_secret()
            .name(&channel.secret)
            .secret_string(&value)
            .send()
            .await;
        if created.is_err() {
            admin
                .secrets
                .put_secret_value()
                .secret_id(&channel.secret)
                .secret_string(&value)
                .send()
                .await
                .with_context(|| format!("put secret {}", channel.secret))?;
        }
    }
    Ok(())
}

/// Seeds every service of `config`; returns what was created per service.
pub async fn services(
    admin: &AwsClients,
    store: &StateStore,
    config: &SuiteConfig,
) -> anyhow::Result<BTreeMap<String, SeededService>> {
    let mut seeded = BTreeMap::new();
    for (name, service) in &config.services {
        seeded.insert(
            name.clone(),
            seed_service(admin, store, name, service).await?,
        );
    }
    Ok(seeded)
}

async fn register(admin: &AwsClients, family: &str, image: &str) -> anyhow::Result<String> {
    let output = admin
        .ecs
        .register_task_definition()
        .family(family)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image(image)
                .essential(true)
                .port_mappings(PortMapping::builder().container_port(8080).build())
                .build(),
        )
        .send()
        .await
        .with_context(|| format!("register task definition {family}"))?;
    output
        .task_definition()
        .and_then(|td| td.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no task definition ARN"))
}

async fn ensure_cluster(admin: &AwsClients, cluster: &str) -> anyhow::Result<()> {
    admin
        .ecs
        .create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .with_context(|| format!("create cluster {cluster}"))?;
    Ok(())
}

async fn create_service(
    admin: &AwsClients,
    cluster: &str,
    service: &str,
    task_definition: &str,
) -> anyhow::Result<()> {
    admin
        .ecs
        .create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(task_definition)
        .desired_count(2)
        .send()
        .await
        .with_context(|| format!("create service {cluster}/{service}"))?;
    Ok(())
}

/// Upserts a service's weighted record sets: one per (color, target, weight).
async fn put_weighted_records(
    admin: &AwsClients,
    zone: &str,
    name: &str,
    traffic: &ops_domain::config::TrafficConfig,
    sets: &[(&String, &ops_domain::config::TargetConfig, i64)],
) -> anyhow::Result<()> {
    let changes = sets
        .iter()
        .map(|(color, target, weight)| {
            let set = ResourceRecordSet::builder()
                .name(&traffic.record_name)
                .r#type(RrType::from(traffic.record_type.as_str()))
                .set_identifier(*color)
                .weight(*weight)
                .ttl(i64::from(traffic.ttl))
                .resource_records(ResourceRecord::builder().value(&target.value).build()?)
                .build()?;
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(set)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    admin
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(ChangeBatch::builder().set_changes(Some(changes)).build()?)
        .send()
        .await
        .with_context(|| format!("weighted records for {name}"))?;
    Ok(())
}

/// The hosted zone id for `name`, creating the zone if needed.
pub async fn ensure_zone(admin: &AwsClients, name: &str) -> anyhow::Result<String> {
    let found = admin
        .route53
        .list_hosted_zones_by_name()
        .dns_name(name)
        .send()
        .await
        .context("list zones")?;
    let canonical = ops_adapters::route53::canonical(name);
    if let Some(zone) = found
        .hosted_zones()
        .iter()
        .find(|zone| ops_adapters::route53::canonical(zone.name()) == canonical)
    {
        return Ok(zone.id().trim_start_matches("/hostedzone/").to_owned());
    }
    let created = admin
        .route53
        .create_hosted_zone()
        .name(name)
        .caller_reference(crate::unique("zone"))
        .send()
        .await
        .with_context(|| format!("create zone {name}"))?;
    created
        .hosted_zone()
        .map(|zone| zone.id().trim_start_matches("/hostedzone/").to_owned())
        .ok_or_else(|| anyhow!("no zone id"))
}

async fn seed_service(
    admin: &AwsClients,
    store: &StateStore,
    name: &str,
    service: &ServiceConfig,
) -> anyhow::Result<SeededService> {
    ensure_cluster(admin, &service.cluster).await?;
    let family = format!("{}-{name}", service.cluster);
    let stable = register(admin, &family, &format!("registry.example/{name}:1.4.2")).await?;
    let candidate = register(admin, &family, &format!("registry.example/{name}:1.5.0")).await?;
    let now = chrono::Utc::now();
    let mut zone_id = None;
    let record = match &service.traffic {
        Some(traffic) => {
            let mut colors = traffic.targets.iter();
            let ((stable_color, stable_target), (candidate_color, candidate_target)) =
                match (colors.next(), colors.next()) {
                    (Some(first), Some(second)) => (first, second),
                    _ => return Err(anyhow!("service {name} needs two traffic targets")),
                };
            create_service(admin, &service.cluster, &stable_target.ecs_service, &stable).await?;
            create_service(
                admin,
                &service.cluster,
                &candidate_target.ecs_service,
                &candidate,
            )
            .await?;
            let zone = match (&traffic.zone_id, &traffic.zone_name) {
                (Some(id), _) => id.clone(),
                (None, Some(zone_name)) => ensure_zone(admin, zone_name).await?,
                (None, None) => return Err(anyhow!("service {name} names no zone")),
            };
            put_weighted_records(
                admin,
                &zone,
                name,
                traffic,
                &[
                    (stable_color, stable_target, STABLE_WEIGHT),
                    (candidate_color, candidate_target, CANDIDATE_WEIGHT),
                ],
            )
            .await?;
            zone_id = Some(zone);
            let mut record = DeploymentRecord::new_stable(
                name,
                service.strategy,
                Release {
                    task_definition: stable.clone(),
                    image: Some(format!("registry.example/{name}:1.4.2")),
                    target: Some(stable_color.clone()),
                },
                now,
            );
            record.candidate = Some(Release {
                task_definition: candidate.clone(),
                image: Some(format!("registry.example/{name}:1.5.0")),
                target: Some(candidate_color.clone()),
            });
            record.weights = [
                (stable_color.clone(), STABLE_WEIGHT as u8),
                (candidate_color.clone(), CANDIDATE_WEIGHT as u8),
            ]
            .into();
            record
        }
        None => {
            let ecs_service = service
                .ecs_service
                .clone()
                .ok_or_else(|| anyhow!("service {name} names no ECS service"))?;
            // A rolling deployment in flight: the service already runs the candidate.
            create_service(admin, &service.cluster, &ecs_service, &candidate).await?;
            let mut record = DeploymentRecord::new_stable(
                name,
                service.strategy,
                Release {
                    task_definition: stable.clone(),
                    image: Some(format!("registry.example/{name}:1.4.2")),
                    target: None,
                },
                now,
            );
            record.candidate = Some(Release {
                task_definition: candidate.clone(),
                image: Some(format!("registry.example/{name}:1.5.0")),
                target: None,
            });
            record
        }
    };
    let mut record = record;
    record.status = DeploymentStatus::InProgress;
    record.deployment_id = Some(crate::unique("deploy"));
    record.push_history(
        now,
        "deployment_started",
        "seeded in the middle of a deployment".into(),
    );
    let key = keys::deployment_record(name);
    match store.get::<DeploymentRecord>(&key).await? {
        Some(existing) => store.replace(&key, &record, &existing.etag).await?,
        None => store.create(&key, &record).await?,
    };
    Ok(SeededService {
        zone_id,
        stable,
        candidate,
    })
}

/// Live Route53 weights of a record name, by set identifier.
pub async fn weights(
    admin: &AwsClients,
    zone_id: &str,
    record_name: &str,
    record_type: &str,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let sets =
        ops_adapters::route53::weighted_records(&admin.route53, zone_id, record_name, record_type)
            .await?;
    Ok(ops_adapters::route53::live_weights(&sets))
}

/// The task definition an ECS service runs.
pub async fn task_definition(
    admin: &AwsClients,
    cluster: &str,
    service: &str,
) -> anyhow::Result<String> {
    Ok(ops_adapters::ecs::service_task_definition(&admin.ecs, cluster, service).await?)
}

/// A service ready for deploy-hook: nothing in flight, no deployment record yet.
#[derive(Debug, Clone)]
pub struct Deployable {
    /// Hosted zone id, for traffic-shifting services.
    pub zone_id: Option<String>,
    /// The task definition live now.
    pub stable: String,
    /// The color serving traffic (traffic strategies): the first target; the other is idle.
    pub live_color: Option<String>,
    /// The idle color.
    pub idle_color: Option<String>,
    /// ARN of the secret the task definition references.
    pub secret_arn: String,
}

/// Seeds every service of `config` as deploy-hook finds a service before its first
/// deployment: a task definition (pinned image, CPU and memory, a secret reference), the ECS
/// service(s), and for traffic strategies two colors behind weighted records, the first at
/// 100 and the second (idle, scaled to 0) at 0.
pub async fn deployable(
    admin: &AwsClients,
    config: &SuiteConfig,
) -> anyhow::Result<BTreeMap<String, Deployable>> {
    let mut seeded = BTreeMap::new();
    for (name, service) in &config.services {
        ensure_cluster(admin, &service.cluster).await?;
        let secret = admin
            .secrets
            .create_secret()
            .name(format!("{}/{name}/db-password", service.cluster))
            .secret_string("s3cr3t-db-password")
            .send()
            .await
            .with_context(|| format!("secret for {name}"))?;
        let secret_arn = secret.arn().unwrap_or_default().to_owned();
        let family = format!("{}-{name}", service.cluster);
        let output = admin
            .ecs
            .register_task_definition()
            .family(&family)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image(format!("registry.example/{name}:1.4.2"))
                    .essential(true)
                    .port_mappings(PortMapping::builder().container_port(8080).build())
                    .log_configuration(
                        LogConfiguration::builder()
                            .log_driver(LogDriver::Awslogs)
                            .options("awslogs-group", format!("/ecs/{family}"))
                            .options("awslogs-region", "us-east-1")
                            .options("awslogs-stream-prefix", name.as_str())
                            .build()?,
                    )
                    .environment(
                        aws_sdk_ecs::types::KeyValuePair::builder()
                            .name("LOG_LEVEL")
                            .value("info")
                            .build(),
                    )
                    .secrets(
                        aws_sdk_ecs::types::Secret::builder()
                            .name("DB_PASSWORD")
                            .value_from(&secret_arn)
                            .build()?,
                    )
                    .build(),
            )
            .send()
            .await
            .with_context(|| format!("register {family}"))?;
        let stable = output
            .task_definition()
            .and_then(|td| td.task_definition_arn())
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no task definition ARN"))?;
        let deployable = match &service.traffic {
            Some(traffic) => {
                let mut colors = traffic.targets.iter();
                let ((live, live_target), (idle, idle_target)) =
                    match (colors.next(), colors.next()) {
                        (Some(first), Some(second)) => (first, second),
                        _ => return Err(anyhow!("service {name} needs two traffic targets")),
                    };
                create_service(admin, &service.cluster, &live_target.ecs_service, &stable).await?;
                create_service(admin, &service.cluster, &idle_target.ecs_service, &stable).await?;
                admin
                    .ecs
                    .update_service()
                    .cluster(&service.cluster)
                    .service(&idle_target.ecs_service)
                    .desired_count(0)
                    .send()
                    .await
                    .context("scale idle color to 0")?;
                let zone = match (&traffic.zone_id, &traffic.zone_name) {
                    (Some(id), _) => id.clone(),
                    (None, Some(zone_name)) => ensure_zone(admin, zone_name).await?,
                    (None, None) => return Err(anyhow!("service {name} names no zone")),
                };
                put_weighted_records(
                    admin,
                    &zone,
                    name,
                    traffic,
                    &[(live, live_target, 100), (idle, idle_target, 0)],
                )
                .await?;
                Deployable {
                    zone_id: Some(zone),
                    stable,
                    live_color: Some(live.clone()),
                    idle_color: Some(idle.clone()),
                    secret_arn,
                }
            }
            None => {
                let ecs_service = service
                    .ecs_service
                    .clone()
                    .ok_or_else(|| anyhow!("service {name} names no ECS service"))?;
                create_service(admin, &service.cluster, &ecs_service, &stable).await?;
                Deployable {
                    zone_id: None,
                    stable,
                    live_color: None,
                    idle_color: None,
                    secret_arn,
                }
            }
        };
        seeded.insert(name.clone(), deployable);
    }
    Ok(seeded)
}
