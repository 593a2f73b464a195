//! Emulator tests of the ECS backup adapter: export a rich service with its task definition
//! revisions, change it, restore it (dry run, apply, apply again, retry after a partial run),
//! and the errors for a missing cluster or service.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerCondition, ContainerDefinition,
    ContainerDependency, DeploymentCircuitBreaker, DeploymentConfiguration, HealthCheck,
    KeyValuePair, LaunchType, LogConfiguration, LogDriver, MountPoint, NetworkConfiguration,
    NetworkMode, PortMapping, PropagateTags, RuntimePlatform, Secret, Tag, TaskDefinition,
    TransportProtocol, Volume,
};
use ops_adapters::ecs::backup::{
    export_services, restore_service, EcsBackupError, RestoreServiceOptions, TaskDefinitionAction,
};
use ops_adapters::AwsClients;
use ops_domain::backup::ecs::{diff_service, diff_task_definition, ServiceDocument};
use ops_tests::emulator::Emulator;

type Result<T = ()> = anyhow::Result<T>;

const ACCOUNT: &str = "123456789012";

async fn clients() -> (aws_config::SdkConfig, AwsClients) {
    let sdk = Emulator::shared().sdk_config().await;
    let admin = AwsClients::new(&sdk);
    (sdk, admin)
}

/// The first value of `<tag>…</tag>` in an EC2 XML answer.
fn xml_value(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].to_owned())
}

/// A subnet and a security group of moto's default VPC (moto checks that a service's awsvpc
/// configuration names existing ones). The tests crate has no EC2 SDK, so this asks moto's EC2
/// query API directly; moto routes the request by the credential scope of the Authorization
/// header and does not check the signature.
async fn default_network() -> Result<(String, String)> {
    let endpoint = &Emulator::shared().endpoint;
    let http = reqwest::Client::new();
    let mut found = Vec::new();
    for (action, tag) in [
        ("DescribeSubnets", "subnetId"),
        ("DescribeSecurityGroups", "groupId"),
    ] {
        let body = http
            .post(format!("{endpoint}/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/ec2/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .body(format!("Action={action}&Version=2016-11-15"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        found.push(
            xml_value(&body, tag).ok_or_else(|| anyhow::anyhow!("{action}: no {tag} in {body}"))?,
        );
    }
    Ok((found[0].clone(), found[1].clone()))
}

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// A FARGATE/awsvpc task definition with two containers and most settings a real one has.
async fn register_rich(admin: &AwsClients, family: &str, image: &str) -> Result<String> {
    let web = ContainerDefinition::builder()
        .name("web")
        .image(image)
        .cpu(256)
        .memory(512)
        .memory_reservation(256)
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(8080)
                .host_port(8080)
                .protocol(TransportProtocol::Tcp)
                .name("http")
                .build(),
        )
        .environment(KeyValuePair::builder().name("ZONE").value("eu").build())
        .environment(
            KeyValuePair::builder()
                .name("APP_ENV")
                .value("prod")
                .build(),
        )
        .secrets(
            Secret::builder()
                .name("DB_PASSWORD")
                .value_from(format!(
                    "arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf"
                ))
                .build()?,
        )
        .secrets(
            Secret::builder()
                .name("API_KEY")
                .value_from(format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/api-key"))
                .build()?,
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/ecs/web")
                .options("awslogs-region", "us-east-1")
                .options("awslogs-stream-prefix", "web")
                .build()?,
        )
        .health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command("curl -f http://localhost:8080/health || exit 1")
                .interval(30)
                .timeout(5)
                .retries(3)
                .start_period(10)
                .build()?,
        )
        .mount_points(
            MountPoint::builder()
                .source_volume("scratch")
                .container_path("/scratch")
                .read_only(false)
                .build(),
        )
        .command("serve")
        .command("--port=8080")
        .docker_labels("team", "payments")
        .stop_timeout(30)
        .depends_on(
            ContainerDependency::builder()
                .container_name("log-router")
                .condition(ContainerCondition::Start)
                .build()?,
        )
        .build();
    let router = ContainerDefinition::builder()
        .name("log-router")
        .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
        .essential(false)
        .memory_reservation(64)
        .user("0")
        .build();
    let output = admin
        .ecs
        .register_task_definition()
        .family(family)
        .task_role_arn(role("web-task"))
        .execution_role_arn(role("web-execution"))
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("512")
        .memory("1024")
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture("X86_64".into())
                .operating_system_family("LINUX".into())
                .build(),
        )
        .volumes(Volume::builder().name("scratch").build())
        .container_definitions(web)
        .container_definitions(router)
        .tags(Tag::builder().key("team").value("payments").build())
        .send()
        .await?;
    task_definition_arn(output.task_definition())
}

fn task_definition_arn(definition: Option<&TaskDefinition>) -> Result<String> {
    definition
        .and_then(|td| td.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no task definition ARN"))
}

/// How many revisions of `family` are ACTIVE.
async fn revision_count(admin: &AwsClients, family: &str) -> Result<usize> {
    let listed = admin
        .ecs
        .list_task_definitions()
        .family_prefix(family)
        .send()
        .await?;
    Ok(listed
        .task_definition_arns()
        .iter()
        .filter(|arn| {
            arn.rsplit_once("task-definition/")
                .and_then(|(_, rest)| rest.rsplit_once(':'))
                .is_some_and(|(f, _)| f == family)
        })
        .count())
}

async fn live_service(admin: &AwsClients, cluster: &str, service: &str) -> Result<(String, i32)> {
    let state = ops_adapters::ecs::service_state(&admin.ecs, cluster, service).await?;
    Ok((state.task_definition, state.desired_count))
}

/// A cluster with a rich service on revision 1 and revisions 2 and 3 registered after it.
struct Seeded {
    cluster: String,
    service: String,
    family: String,
    in_use: String,
}

async fn seed(admin: &AwsClients) -> Result<Seeded> {
    let cluster = ops_tests::unique("bk-ecs");
    let service = ops_tests::unique("web");
    let family = ops_tests::unique("bk-web");
    admin
        .ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let (subnet, group) = default_network().await?;
    let in_use = register_rich(admin, &family, "registry.example/web:1.0.0").await?;
    let deployment = DeploymentConfiguration::builder()
        .maximum_percent(200)
        .minimum_healthy_percent(100)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .build();
    admin
        .ecs
        .create_service()
        .cluster(&cluster)
        .service_name(&service)
        .task_definition(&in_use)
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets(&subnet)
                        .security_groups(&group)
                        .assign_public_ip(AssignPublicIp::Disabled)
                        .build()?,
                )
                .build(),
        )
        .deployment_configuration(deployment.clone())
        .health_check_grace_period_seconds(60)
        .propagate_tags(PropagateTags::Service)
        .tags(Tag::builder().key("team").value("payments").build())
        .tags(Tag::builder().key("tier").value("web").build())
        .send()
        .await?;
    // moto's CreateService drops the deployment configuration and the grace period;
    // UpdateService keeps them.
    admin
        .ecs
        .update_service()
        .cluster(&cluster)
        .service(&service)
        .deployment_configuration(deployment)
        .health_check_grace_period_seconds(60)
        .send()
        .await?;
    register_rich(admin, &family, "registry.example/web:1.1.0").await?;
    register_rich(admin, &family, "registry.example/web:1.2.0").await?;
    Ok(Seeded {
        cluster,
        service,
        family,
        in_use,
    })
}

#[tokio::test]
async fn export_holds_the_service_and_its_revisions_and_restore_puts_it_back() -> Result {
    let (sdk, admin) = clients().await;
    let seeded = seed(&admin).await?;
    let Seeded {
        cluster,
        service,
        family,
        in_use,
    } = &seeded;

    // Export: the service and three revisions, the one in use first.
    let docs = export_services(&admin.ecs, cluster, std::slice::from_ref(service), 3).await?;
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(doc.cluster, *cluster);
    assert_eq!(doc.service.name, *service);
    assert_eq!(doc.service.task_definition, *in_use);
    assert_eq!(doc.service.desired_count, 2);
    assert_eq!(doc.service.launch_type.as_deref(), Some("FARGATE"));
    assert_eq!(doc.service.health_check_grace_period_seconds, Some(60));
    assert_eq!(doc.service.propagate_tags.as_deref(), Some("SERVICE"));
    let deployment = doc
        .service
        .deployment_configuration
        .as_ref()
        .expect("deployment configuration");
    assert_eq!(deployment.maximum_percent, Some(200));
    assert_eq!(
        deployment
            .deployment_circuit_breaker
            .as_ref()
            .map(|b| b.rollback),
        Some(true)
    );
    let network = doc.service.network_configuration.as_ref().expect("network");
    assert_eq!(network.subnets.len(), 1);
    assert_eq!(network.assign_public_ip.as_deref(), Some("DISABLED"));
    assert_eq!(
        doc.service.tags.get("tier").map(String::as_str),
        Some("web")
    );

    let revisions: Vec<i32> = doc.task_definitions.iter().map(|td| td.revision).collect();
    assert_eq!(revisions, vec![1, 3, 2], "in use first, then newest first");
    let td = doc.in_use().expect("in use");
    assert_eq!(td.arn, *in_use);
    assert_eq!(td.family, *family);
    assert_eq!(td.network_mode.as_deref(), Some("awsvpc"));
    assert_eq!(td.requires_compatibilities, vec!["FARGATE".to_owned()]);
    assert_eq!(
        (td.cpu.as_deref(), td.memory.as_deref()),
        (Some("512"), Some("1024"))
    );
    assert_eq!(td.task_role_arn.as_deref(), Some(role("web-task").as_str()));
    assert_eq!(td.volumes.len(), 1);
    assert_eq!(td.tags.get("team").map(String::as_str), Some("payments"));
    assert_eq!(td.container_definitions.len(), 2);
    let web = &td.container_definitions[0];
    assert_eq!(web.image, "registry.example/web:1.0.0");
    assert_eq!(
        web.environment.keys().collect::<Vec<_>>(),
        vec!["APP_ENV", "ZONE"]
    );
    let secret_names: Vec<&str> = web.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        secret_names,
        vec!["API_KEY", "DB_PASSWORD"],
        "sorted references"
    );
    assert!(web.secrets[1].value_from.contains(":secret:db-"));
    let log = web.log_configuration.as_ref().expect("log configuration");
    assert_eq!(log.log_driver, "awslogs");
    assert_eq!(
        log.options.get("awslogs-group").map(String::as_str),
        Some("/ecs/web")
    );
    assert_eq!(web.health_check.as_ref().and_then(|h| h.retries), Some(3));
    assert_eq!(web.port_mappings[0].container_port, Some(8080));
    assert_eq!(web.depends_on[0].container_name, "log-router");

    // The document survives JSON and stays free of nulls.
    let json = serde_json::to_string_pretty(doc)?;
    assert!(!json.contains("null"), "{json}");
    let back: ServiceDocument = serde_json::from_str(&json)?;
    assert_eq!(&back, doc);

    // Every service of the cluster when none are named.
    let all = export_services(&admin.ecs, cluster, &[], 1).await?;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].service.name, *service);
    assert_eq!(all[0].task_definitions.len(), 1);

    // Someone deploys another image, scales up and retags.
    let changed = register_rich(&admin, family, "registry.example/web:2.0.0").await?;
    admin
        .ecs
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(&changed)
        .desired_count(5)
        .health_check_grace_period_seconds(120)
        .send()
        .await?;
    admin
        .ecs
        .tag_resource()
        .resource_arn(&doc.service.arn)
        .tags(Tag::builder().key("tier").value("batch").build())
        .tags(Tag::builder().key("owner").value("someone").build())
        .send()
        .await?;
    let before = revision_count(&admin, family).await?;
    assert_eq!(before, 4);

    // Dry run: lists the differences, changes nothing.
    let restorer = AwsClients::new(&sdk);
    let dry = restore_service(&restorer.ecs, doc, &RestoreServiceOptions::default()).await?;
    eprintln!("dry run: {}", serde_json::to_string_pretty(&dry)?);
    let TaskDefinitionAction::Register { differences } = &dry.task_definition else {
        panic!("expected Register, got {:?}", dry.task_definition);
    };
    assert_eq!(
        differences,
        &vec!["containers[web].image: registry.example/web:2.0.0 → registry.example/web:1.0.0"]
    );
    assert!(!dry.service_missing);
    assert!(!dry.service_updated);
    assert_eq!(dry.registered_arn, None);
    for expected in [
        "desired_count: 5 → 2",
        "health_check_grace_period_seconds: 120 → 60",
        "tags.owner: someone → (none)",
        "tags.tier: batch → web",
    ] {
        assert!(
            dry.service_changes.iter().any(|c| c == expected),
            "{expected} missing from {:?}",
            dry.service_changes
        );
    }
    assert!(dry
        .service_changes
        .iter()
        .any(|c| c.starts_with("task_definition: ") && c.contains(":4 → ")));
    assert!(
        dry.service_not_restored.is_empty(),
        "{:?}",
        dry.service_not_restored
    );
    for action in [
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "ecs:TagResource",
        "ecs:UntagResource",
    ] {
        assert_eq!(
            restorer.recorder.attempted(action),
            0,
            "{action} in a dry run"
        );
    }
    assert_eq!(revision_count(&admin, family).await?, before);
    assert_eq!(
        live_service(&admin, cluster, service).await?,
        (changed.clone(), 5)
    );

    // Apply: a new revision with the backed-up content, the service back on it.
    let options = RestoreServiceOptions {
        apply: true,
        update_service: true,
    };
    let applied = restore_service(&restorer.ecs, doc, &options).await?;
    eprintln!("apply: {}", serde_json::to_string_pretty(&applied)?);
    let TaskDefinitionAction::Registered { arn: restored, .. } = &applied.task_definition else {
        panic!("expected Registered, got {:?}", applied.task_definition);
    };
    assert_eq!(applied.registered_arn.as_ref(), Some(restored));
    assert!(applied.service_updated);
    assert_eq!(revision_count(&admin, family).await?, before + 1);
    assert_eq!(
        live_service(&admin, cluster, service).await?,
        (restored.clone(), 2)
    );

    let after = export_services(&admin.ecs, cluster, std::slice::from_ref(service), 1).await?;
    let live = &after[0];
    let live_td = live.in_use().expect("live task definition");
    assert_eq!(live_td.arn, *restored);
    assert_eq!(diff_task_definition(td, live_td), Vec::<String>::new());
    let remaining = diff_service(&doc.service, &live.service);
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert!(
        remaining[0].starts_with("task_definition: "),
        "{remaining:?}"
    );
    assert_eq!(live.service.tags, doc.service.tags);
    assert_eq!(live.service.health_check_grace_period_seconds, Some(60));

    // Apply again: nothing to do, nothing registered.
    restorer.recorder.clear();
    let again = restore_service(&restorer.ecs, doc, &options).await?;
    assert_eq!(
        again.task_definition,
        TaskDefinitionAction::Unchanged {
            live_arn: restored.clone()
        }
    );
    assert!(
        again.service_changes.is_empty(),
        "{:?}",
        again.service_changes
    );
    assert!(!again.service_updated);
    assert_eq!(restorer.recorder.attempted("ecs:RegisterTaskDefinition"), 0);
    assert_eq!(restorer.recorder.attempted("ecs:UpdateService"), 0);
    assert_eq!(revision_count(&admin, family).await?, before + 1);

    // A run cut off after registering: the service is still on the changed revision, but the
    // family's latest revision has the backed-up content and is reused.
    admin
        .ecs
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(&changed)
        .send()
        .await?;
    restorer.recorder.clear();
    let retried = restore_service(&restorer.ecs, doc, &options).await?;
    let TaskDefinitionAction::Reuse { arn, differences } = &retried.task_definition else {
        panic!("expected Reuse, got {:?}", retried.task_definition);
    };
    assert_eq!(arn, restored);
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert!(retried.service_updated);
    assert_eq!(restorer.recorder.attempted("ecs:RegisterTaskDefinition"), 0);
    assert_eq!(revision_count(&admin, family).await?, before + 1);
    assert_eq!(
        live_service(&admin, cluster, service).await?,
        (restored.clone(), 2)
    );
    Ok(())
}

#[tokio::test]
async fn register_only_leaves_the_service_alone() -> Result {
    let (sdk, admin) = clients().await;
    let seeded = seed(&admin).await?;
    let docs = export_services(
        &admin.ecs,
        &seeded.cluster,
        std::slice::from_ref(&seeded.service),
        1,
    )
    .await?;
    let changed = register_rich(&admin, &seeded.family, "registry.example/web:9.9.9").await?;
    admin
        .ecs
        .update_service()
        .cluster(&seeded.cluster)
        .service(&seeded.service)
        .task_definition(&changed)
        .send()
        .await?;

    let restorer = AwsClients::new(&sdk);
    let options = RestoreServiceOptions {
        apply: true,
        update_service: false,
    };
    let report = restore_service(&restorer.ecs, &docs[0], &options).await?;
    assert!(matches!(
        report.task_definition,
        TaskDefinitionAction::Registered { .. }
    ));
    assert!(!report.service_updated);
    assert_eq!(restorer.recorder.attempted("ecs:UpdateService"), 0);
    assert_eq!(
        live_service(&admin, &seeded.cluster, &seeded.service)
            .await?
            .0,
        changed
    );
    // The service change is still listed, against the revision just registered.
    let registered = report.registered_arn.expect("registered");
    let short = registered
        .rsplit_once("task-definition/")
        .map(|(_, s)| s.to_owned())
        .unwrap_or_default();
    assert!(
        report
            .service_changes
            .iter()
            .any(|c| c.starts_with("task_definition: ") && c.ends_with(&short)),
        "{:?}",
        report.service_changes
    );
    Ok(())
}

#[tokio::test]
async fn missing_cluster_and_service_are_named() -> Result {
    let (_sdk, admin) = clients().await;

    let cluster = ops_tests::unique("bk-ecs-gone");
    let error = export_services(&admin.ecs, &cluster, &[], 3)
        .await
        .expect_err("no such cluster");
    assert!(
        matches!(&error, EcsBackupError::ClusterNotFound { cluster: c } if *c == cluster),
        "{error:?}"
    );
    assert!(error.to_string().contains(&cluster), "{error}");
    let error = export_services(&admin.ecs, &cluster, &["web".to_owned()], 3)
        .await
        .expect_err("no such cluster");
    assert!(
        matches!(&error, EcsBackupError::ClusterNotFound { .. }),
        "{error:?}"
    );

    let seeded = seed(&admin).await?;
    let missing = ops_tests::unique("nope");
    let error = export_services(
        &admin.ecs,
        &seeded.cluster,
        &[seeded.service.clone(), missing.clone()],
        3,
    )
    .await
    .expect_err("no such service");
    assert!(
        matches!(&error, EcsBackupError::ServiceNotFound { cluster, service }
            if *cluster == seeded.cluster && *service == missing),
        "{error:?}"
    );
    assert!(error.to_string().contains(&missing), "{error}");
    assert!(error.to_string().contains(&seeded.cluster), "{error}");

    // Restoring a service that is gone: reported, not created.
    let mut doc = export_services(
        &admin.ecs,
        &seeded.cluster,
        std::slice::from_ref(&seeded.service),
        1,
    )
    .await?
    .remove(0);
    doc.service.name = missing.clone();
    let report = restore_service(&admin.ecs, &doc, &RestoreServiceOptions::default()).await?;
    assert!(report.service_missing);
    assert!(report.service_changes.is_empty());
    // The family's latest revision (3, another image) differs from the backed-up one.
    assert!(
        matches!(&report.task_definition, TaskDefinitionAction::Register { differences }
            if differences.iter().any(|d| d.starts_with("containers[web].image: "))),
        "{:?}",
        report.task_definition
    );

    // Restoring into a cluster that is gone.
    doc.cluster = cluster.clone();
    let error = restore_service(&admin.ecs, &doc, &RestoreServiceOptions::default())
        .await
        .expect_err("no such cluster");
    assert!(
        matches!(&error, EcsBackupError::ClusterNotFound { cluster: c } if *c == cluster),
        "{error:?}"
    );
    Ok(())
}
