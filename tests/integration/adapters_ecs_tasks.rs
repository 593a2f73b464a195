//! `ops_adapters::ecs::tasks` against the emulator: a one-off task started where a Fargate
//! service runs, found again by its `startedBy` (a repeat starts no second task), and read after
//! the test plays its container exiting with code 1 through the emulator's test-only route
//! `POST /_ops/ecs/stop-task` (moto runs no containers; see `scripts/moto_server.py`).

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, DesiredStatus,
    LaunchType, LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode,
};
use ops_adapters::ecs::tasks::{self, TaskState};
use ops_adapters::ecs::EcsError;
use ops_tests::emulator::Emulator;
use serde_json::json;

/// A cluster with a Fargate service on awsvpc networking, and a task definition whose `app`
/// container logs through `awslogs` (its `sidecar` does not).
struct Cluster {
    client: aws_sdk_ecs::Client,
    name: String,
    service: String,
    task_definition: String,
    subnet: String,
}

/// The first `<tag>` of an EC2 query API answer (`DescribeSubnets`, `DescribeSecurityGroups`),
/// read with a plain request: the suite has no EC2 client. The emulator's default VPC has a
/// subnet per zone and a default security group.
async fn ec2_first(endpoint: &str, action: &str, tag: &str) -> String {
    let body = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/aws4_request, \
             SignedHeaders=host, Signature=test",
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("Action={action}&Version=2016-11-15"))
        .send()
        .await
        .expect(action)
        .text()
        .await
        .expect("an answer");
    let open = format!("<{tag}>");
    let start = body.find(&open).expect("a default resource") + open.len();
    let end = start + body[start..].find('<').expect("a closing tag");
    body[start..end].to_owned()
}

impl Cluster {
    async fn new() -> Cluster {
        let emulator = Emulator::shared();
        let sdk = emulator.sdk_config().await;
        let client = aws_sdk_ecs::Client::new(&sdk);
        let name = ops_tests::unique("tasks");
        let subnet = ec2_first(&emulator.endpoint, "DescribeSubnets", "subnetId").await;
        let group = ec2_first(&emulator.endpoint, "DescribeSecurityGroups", "groupId").await;
        client
            .create_cluster()
            .cluster_name(&name)
            .send()
            .await
            .expect("CreateCluster");
        let logging = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", format!("/ecs/{name}"))
            .options("awslogs-region", "us-east-1")
            .options("awslogs-stream-prefix", "hooks")
            .build()
            .expect("a log configuration");
        let registered = client
            .register_task_definition()
            .family(&name)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image("registry.example/app:2")
                    .memory(256)
                    .essential(true)
                    .log_configuration(logging)
                    .build(),
            )
            .container_definitions(
                ContainerDefinition::builder()
                    .name("sidecar")
                    .image("registry.example/proxy:1")
                    .memory(128)
                    .build(),
            )
            .send()
            .await
            .expect("RegisterTaskDefinition");
        let task_definition = registered
            .task_definition()
            .and_then(|td| td.task_definition_arn())
            .expect("an ARN")
            .to_owned();
        let service = format!("{name}-api");
        client
            .create_service()
            .cluster(&name)
            .service_name(&service)
            .task_definition(&task_definition)
            .desired_count(1)
            .launch_type(LaunchType::Fargate)
            .platform_version("1.4.0")
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .subnets(&subnet)
                            .security_groups(group)
                            .assign_public_ip(AssignPublicIp::Disabled)
                            .build()
                            .expect("an awsvpc configuration"),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("CreateService");
        Cluster {
            client,
            name,
            service,
            task_definition,
            subnet,
        }
    }

    async fn run(&self, started_by: &str, container: &str) -> Result<String, EcsError> {
        tasks::run_once(
            &self.client,
            &self.name,
            &self.service,
            &self.task_definition,
            container,
            &["./migrate".to_owned(), "--to".to_owned(), "42".to_owned()],
            started_by,
        )
        .await
    }

    /// Every task of this cluster started by `started_by`, whatever its status.
    async fn started_by(&self, started_by: &str) -> Vec<String> {
        let mut arns = Vec::new();
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let listed = self
                .client
                .list_tasks()
                .cluster(&self.name)
                .started_by(started_by)
                .desired_status(status)
                .send()
                .await
                .expect("ListTasks");
            arns.extend(listed.task_arns().iter().cloned());
        }
        arns
    }

    /// Plays the task's `container` exiting with `exit_code`.
    async fn exit(&self, task: &str, container: &str, exit_code: i32) {
        let answer = reqwest::Client::new()
            .post(format!(
                "{}/_ops/ecs/stop-task",
                Emulator::shared().endpoint
            ))
            .json(&json!({
                "cluster": self.name,
                "task": task,
                "container": container,
                "exit_code": exit_code,
                "reason": "Essential container in task exited",
            }))
            .send()
            .await
            .expect("the emulator's stop-task route");
        assert!(answer.status().is_success(), "{answer:?}");
    }
}

#[tokio::test]
async fn a_migration_task_runs_once_where_the_service_runs_and_reports_its_exit_code() {
    let cluster = Cluster::new().await;
    let started_by = "h13-a1b2c3d4e5f6-pre_traffic-0";

    let arn = cluster.run(started_by, "app").await.expect("RunTask");
    // A repeat (a retry after a lost answer) finds the task instead of starting another.
    assert_eq!(cluster.run(started_by, "app").await.expect("found"), arn);
    assert_eq!(
        cluster.started_by(started_by).await,
        std::slice::from_ref(&arn)
    );

    let running = tasks::find(&cluster.client, &cluster.name, started_by)
        .await
        .expect("ListTasks")
        .expect("the task");
    assert_eq!(running.arn, arn);
    assert!(!running.stopped, "{running:?}");
    assert_eq!(running.last_status, "RUNNING");
    assert_eq!(running.exit_code, None);

    // It runs where the service runs, with the hook's command.
    let described = cluster
        .client
        .describe_tasks()
        .cluster(&cluster.name)
        .tasks(&arn)
        .send()
        .await
        .expect("DescribeTasks");
    let task = &described.tasks()[0];
    assert_eq!(task.launch_type(), Some(&LaunchType::Fargate));
    assert_eq!(task.started_by(), Some(started_by));
    let attached_subnet = task
        .attachments()
        .iter()
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("subnetId"))
        .and_then(|d| d.value());
    assert_eq!(attached_subnet, Some(cluster.subnet.as_str()));
    let overridden = &task.overrides().expect("overrides").container_overrides()[0];
    assert_eq!(overridden.name(), Some("app"));
    assert_eq!(overridden.command(), ["./migrate", "--to", "42"]);

    cluster.exit(&arn, "app", 1).await;

    let task_id = arn.rsplit('/').next().expect("a task id");
    let expected = TaskState {
        arn: arn.clone(),
        last_status: "STOPPED".to_owned(),
        stopped: true,
        exit_code: Some(1),
        stopped_reason: Some("Essential container in task exited".to_owned()),
        log_stream: Some(format!("/ecs/{}/hooks/app/{task_id}", cluster.name)),
    };
    let stopped = tasks::state(&cluster.client, &cluster.name, &arn, "app")
        .await
        .expect("DescribeTasks");
    assert_eq!(stopped, expected);
    let found = tasks::find(&cluster.client, &cluster.name, started_by)
        .await
        .expect("ListTasks")
        .expect("the stopped task");
    assert_eq!(found, expected);

    // The sidecar logs nowhere ECS names, and did not exit with the hook's code.
    let sidecar = tasks::state(&cluster.client, &cluster.name, &arn, "sidecar")
        .await
        .expect("DescribeTasks");
    assert_eq!(sidecar.log_stream, None);
    assert_eq!(sidecar.exit_code, None);

    // A stopped task is still found: a repeat does not start the migration again.
    assert_eq!(cluster.run(started_by, "app").await.expect("found"), arn);
    assert_eq!(cluster.started_by(started_by).await, [arn]);
}

#[tokio::test]
async fn bad_input_starts_nothing() {
    let cluster = Cluster::new().await;
    let too_long = "a".repeat(37);
    for (started_by, container, expected) in [
        (too_long.as_str(), "app", "startedBy"),
        ("has space", "app", "startedBy"),
        ("h13-unknown-container", "web", "has no container web"),
    ] {
        let error = cluster
            .run(started_by, container)
            .await
            .expect_err("refused");
        assert!(matches!(error, EcsError::Invalid(_)), "{error:?}");
        assert!(error.to_string().contains(expected), "{error}");
    }
    let empty = tasks::run_once(
        &cluster.client,
        &cluster.name,
        &cluster.service,
        &cluster.task_definition,
        "app",
        &[],
        "h13-empty-command",
    )
    .await
    .expect_err("an empty command is refused");
    assert!(matches!(empty, EcsError::Invalid(_)), "{empty:?}");
    let listed = cluster
        .client
        .list_tasks()
        .cluster(&cluster.name)
        .send()
        .await
        .expect("ListTasks");
    assert!(listed.task_arns().is_empty(), "{:?}", listed.task_arns());

    assert_eq!(
        tasks::find(&cluster.client, &cluster.name, "h13-never-started")
            .await
            .expect("ListTasks"),
        None
    );
    let missing = tasks::state(
        &cluster.client,
        &cluster.name,
        "arn:aws:ecs:us-east-1:123456789012:task/none/0000",
        "app",
    )
    .await
    .expect_err("no such task");
    assert!(
        matches!(missing, EcsError::TaskNotFound { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_task_runs_like_a_service_without_launch_type_or_network() {
    // As the suite's seeded services are: no launch type, no network configuration, memory set
    // for the task only.
    let sdk = Emulator::shared().sdk_config().await;
    let client = aws_sdk_ecs::Client::new(&sdk);
    let name = ops_tests::unique("plain");
    client
        .create_cluster()
        .cluster_name(&name)
        .send()
        .await
        .expect("CreateCluster");
    let task_definition = client
        .register_task_definition()
        .family(&name)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("registry.example/app:2")
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition")
        .task_definition()
        .and_then(|td| td.task_definition_arn())
        .expect("an ARN")
        .to_owned();
    client
        .create_service()
        .cluster(&name)
        .service_name("api")
        .task_definition(&task_definition)
        .desired_count(1)
        .send()
        .await
        .expect("CreateService");

    let arn = tasks::run_once(
        &client,
        &name,
        "api",
        &task_definition,
        "app",
        &["true".to_owned()],
        "h13-plain",
    )
    .await
    .expect("RunTask");
    let state = tasks::state(&client, &name, &arn, "app")
        .await
        .expect("DescribeTasks");
    assert!(!state.stopped, "{state:?}");
    assert_eq!(state.log_stream, None);

    let missing_service = tasks::run_once(
        &client,
        &name,
        "nowhere",
        &task_definition,
        "app",
        &["true".to_owned()],
        "h13-nowhere",
    )
    .await
    .expect_err("no such service");
    assert!(
        matches!(missing_service, EcsError::ServiceNotFound { .. }),
        "{missing_service:?}"
    );
}
