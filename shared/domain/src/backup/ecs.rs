//! The document a snapshot stores for one ECS service, and what restoring it would change.
//!
//! A [`ServiceDocument`] holds a service's configuration ([`ServiceConfig`]: what
//! `UpdateService` accepts, plus the settings only `CreateService` takes) and its task
//! definitions ([`TaskDefinitionDoc`]: everything `RegisterTaskDefinition` accepts, tags
//! included): the one in use first, then other ACTIVE revisions of its family, newest first.
//!
//! Documents are plain data in snake_case. Empty lists and maps, absent options, `false` flags
//! and a container `cpu` of 0 are left out when written, so documents stay small; reading
//! rejects unknown fields, so a document from a newer schema fails loudly instead of losing
//! settings. Lists whose order carries no meaning are normalised when the adapter builds a
//! document (environment variables and tags become sorted maps; secrets, subnets and security
//! groups are sorted), so two reads of the same configuration are equal.
//!
//! Secrets are stored as references only (`name` + `value_from`: a Secrets Manager or SSM
//! parameter ARN), never as values; ECS itself never returns values.
//!
//! **Deliberately left out** (read-only, derived, or not expressible as plain data):
//! - task definition: `status`, `compatibilities`, `requires_attributes`, `registered_at`,
//!   `registered_by`, `deregistered_at`, `delete_requested_at` (registration metadata that
//!   ECS derives or sets itself);
//! - service: running/pending counts, deployments, events, task sets, `created_at`,
//!   `created_by`, `platform_family`, `current_service_deployment`/`revisions`,
//!   `resource_management_type` (state, not configuration); Service Connect, volume and VPC
//!   Lattice configurations (ECS reports them per deployment, not on the service);
//!   deployment lifecycle hooks (their `hook_details` is a free-form document), early success
//!   criteria, and the circuit breaker's `reset_on_healthy_task` and threshold configuration.
//!
//! [`diff_task_definition`] and [`diff_service`] list the differences that matter for a
//! restore as `path: live → backup` lines (what a restore would change), and
//! [`plan_service_restore`] turns a service's differences into the one `UpdateService` call
//! (plus tag changes) that restores it, with the settings `UpdateService` cannot change listed
//! apart.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the [`ServiceDocument`] layout.
pub const ECS_SCHEMA_VERSION: u32 = 1;

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

/// One service's configuration and the task definitions it uses (in use first, then other
/// ACTIVE revisions of its family, newest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDocument {
    /// [`ECS_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// Cluster name (not ARN).
    pub cluster: String,
    /// The service's configuration.
    pub service: ServiceConfig,
    /// The task definition in use, then other ACTIVE revisions of its family, newest first.
    pub task_definitions: Vec<TaskDefinitionDoc>,
}

impl ServiceDocument {
    /// The task definition the service was using: the one the service names (by ARN or
    /// `family:revision`), else the first one.
    pub fn in_use(&self) -> Option<&TaskDefinitionDoc> {
        self.task_definitions
            .iter()
            .find(|td| {
                short_task_definition(&td.arn)
                    == short_task_definition(&self.service.task_definition)
            })
            .or_else(|| self.task_definitions.first())
    }
}

/// A service's configuration: what `UpdateService` accepts, plus what only `CreateService`
/// takes (launch type, scheduling strategy, deployment controller, role).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Service name.
    pub name: String,
    /// Service ARN.
    #[serde(default)]
    pub arn: String,
    /// ARN of the task definition in use.
    pub task_definition: String,
    /// Desired task count.
    #[serde(default)]
    pub desired_count: i32,
    /// `EC2`, `FARGATE` or `EXTERNAL`, when no capacity provider strategy is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    /// Capacity provider strategy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// Fargate platform version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// `REPLICA` or `DAEMON`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_strategy: Option<String>,
    /// How deployments replace tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_configuration: Option<DeploymentConfigurationDoc>,
    /// Deployment controller type: `ECS`, `CODE_DEPLOY` or `EXTERNAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_controller: Option<String>,
    /// Load balancer attachments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancers: Vec<LoadBalancerDoc>,
    /// Service discovery registries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_registries: Vec<ServiceRegistryDoc>,
    /// The awsvpc network configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfigurationDoc>,
    /// Task placement constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement_constraints: Vec<PlacementConstraintDoc>,
    /// Task placement strategy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement_strategy: Vec<PlacementStrategyDoc>,
    /// Seconds load balancer health checks are ignored after a task starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i32>,
    /// Whether ECS adds its managed tags to tasks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable_ecs_managed_tags: bool,
    /// `TASK_DEFINITION`, `SERVICE` or `NONE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<String>,
    /// Whether ECS Exec is on.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable_execute_command: bool,
    /// `ENABLED` or `DISABLED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone_rebalancing: Option<String>,
    /// The IAM role the service uses for its load balancers (set at creation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Service tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// One capacity provider of a strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityProviderItem {
    /// Capacity provider name.
    pub capacity_provider: String,
    /// Relative weight.
    #[serde(default)]
    pub weight: i32,
    /// Minimum tasks on this provider.
    #[serde(default)]
    pub base: i32,
}

/// A service's deployment configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfigurationDoc {
    /// Upper limit of running tasks during a deployment, in percent of the desired count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_percent: Option<i32>,
    /// Lower limit of healthy tasks during a deployment, in percent of the desired count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_healthy_percent: Option<i32>,
    /// The deployment circuit breaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_circuit_breaker: Option<CircuitBreakerDoc>,
    /// CloudWatch alarms that fail a deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<DeploymentAlarmsDoc>,
    /// `ROLLING`, `BLUE_GREEN`, `LINEAR` or `CANARY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Minutes both revisions run before a blue/green deployment completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_time_in_minutes: Option<i32>,
    /// Steps of a linear deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_configuration: Option<LinearConfigurationDoc>,
    /// The canary step of a canary deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_configuration: Option<CanaryConfigurationDoc>,
}

/// The deployment circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerDoc {
    /// Whether it is on.
    #[serde(default)]
    pub enable: bool,
    /// Whether a failed deployment rolls back.
    #[serde(default)]
    pub rollback: bool,
}

/// Deployment alarms.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentAlarmsDoc {
    /// Alarm names.
    #[serde(default)]
    pub alarm_names: Vec<String>,
    /// Whether they are watched.
    #[serde(default)]
    pub enable: bool,
    /// Whether an alarm rolls the deployment back.
    #[serde(default)]
    pub rollback: bool,
}

/// A linear deployment's steps.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfigurationDoc {
    /// Percent of traffic shifted per step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_percent: Option<f64>,
    /// Minutes between steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_bake_time_in_minutes: Option<i32>,
}

/// A canary deployment's canary step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryConfigurationDoc {
    /// Percent of traffic sent to the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_percent: Option<f64>,
    /// Minutes the canary runs before the rest is shifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_bake_time_in_minutes: Option<i32>,
}

/// A load balancer attachment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerDoc {
    /// Target group ARN (ALB/NLB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    /// Classic load balancer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    /// Container receiving the traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Its port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
    /// Blue/green settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_configuration: Option<AdvancedConfigurationDoc>,
}

/// A load balancer's blue/green settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvancedConfigurationDoc {
    /// The alternate target group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_target_group_arn: Option<String>,
    /// The production listener rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_listener_rule: Option<String>,
    /// The test listener rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_listener_rule: Option<String>,
    /// The role ECS uses to change them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

/// A service discovery registry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRegistryDoc {
    /// Cloud Map service ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_arn: Option<String>,
    /// SRV port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Container registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Its port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
}

/// The awsvpc network configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfigurationDoc {
    /// Subnet ids (sorted).
    #[serde(default)]
    pub subnets: Vec<String>,
    /// Security group ids (sorted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// `ENABLED` or `DISABLED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<String>,
}

/// A placement constraint (of a service or a task definition).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementConstraintDoc {
    /// `distinctInstance` or `memberOf`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Cluster query language expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// A placement strategy step.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementStrategyDoc {
    /// `random`, `spread` or `binpack`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The field it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A task definition revision: everything `RegisterTaskDefinition` accepts, plus its ARN and
/// revision number.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDefinitionDoc {
    /// Task definition ARN.
    #[serde(default)]
    pub arn: String,
    /// Family.
    pub family: String,
    /// Revision number.
    #[serde(default)]
    pub revision: i32,
    /// Role the task's containers assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// Role the ECS agent uses (image pulls, logs, secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// `awsvpc`, `bridge`, `host` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// Task-level CPU units (as ECS writes them, e.g. `"256"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Task-level memory (MiB, e.g. `"512"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Launch types it was validated for (`EC2`, `FARGATE`, `EXTERNAL`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_compatibilities: Vec<String>,
    /// CPU architecture and OS family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_platform: Option<RuntimePlatformDoc>,
    /// Volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeDoc>,
    /// Placement constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement_constraints: Vec<PlacementConstraintDoc>,
    /// `host` or `task`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<String>,
    /// `host`, `task` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    /// Fargate ephemeral storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorageDoc>,
    /// App Mesh proxy configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_configuration: Option<ProxyConfigurationDoc>,
    /// Elastic Inference accelerators (retired by AWS; kept so old definitions read back whole).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inference_accelerators: Vec<InferenceAcceleratorDoc>,
    /// Whether fault injection is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_fault_injection: Option<bool>,
    /// Containers, in ECS's order.
    #[serde(default)]
    pub container_definitions: Vec<ContainerDoc>,
    /// Task definition tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// CPU architecture and OS family.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimePlatformDoc {
    /// `X86_64` or `ARM64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_architecture: Option<String>,
    /// `LINUX`, `WINDOWS_SERVER_2022_CORE`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system_family: Option<String>,
}

/// Fargate ephemeral storage.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EphemeralStorageDoc {
    /// Size in GiB.
    pub size_in_gib: i32,
}

/// App Mesh proxy configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfigurationDoc {
    /// `APPMESH`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The proxy container.
    pub container_name: String,
    /// Proxy properties.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// An Elastic Inference accelerator.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceAcceleratorDoc {
    /// Device name.
    pub device_name: String,
    /// Device type.
    pub device_type: String,
}

/// A task volume.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeDoc {
    /// Volume name (what mount points refer to).
    #[serde(default)]
    pub name: String,
    /// Bind mount host path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostVolumeDoc>,
    /// Docker volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_volume_configuration: Option<DockerVolumeDoc>,
    /// EFS volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efs_volume_configuration: Option<EfsVolumeDoc>,
    /// FSx for Windows File Server volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsx_windows_file_server_volume_configuration: Option<FsxWindowsVolumeDoc>,
    /// Whether the volume is configured when the task is launched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_at_launch: Option<bool>,
}

/// A bind mount's host side.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostVolumeDoc {
    /// Host path (none: Docker picks one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
}

/// A Docker volume.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerVolumeDoc {
    /// `task` or `shared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Whether a shared volume is created when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoprovision: Option<bool>,
    /// Volume driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Driver options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// An EFS volume.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EfsVolumeDoc {
    /// File system id.
    pub file_system_id: String,
    /// Directory mounted as the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<String>,
    /// `ENABLED` or `DISABLED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_encryption: Option<String>,
    /// Port of the encrypted transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_encryption_port: Option<i32>,
    /// Access point and IAM use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_config: Option<EfsAuthorizationDoc>,
}

/// EFS authorization.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EfsAuthorizationDoc {
    /// Access point id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_point_id: Option<String>,
    /// `ENABLED` or `DISABLED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<String>,
}

/// An FSx for Windows File Server volume.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsxWindowsVolumeDoc {
    /// File system id.
    pub file_system_id: String,
    /// Directory mounted as the root.
    pub root_directory: String,
    /// Credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_config: Option<FsxWindowsAuthorizationDoc>,
}

/// FSx for Windows File Server credentials (a reference, not a value).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsxWindowsAuthorizationDoc {
    /// Secrets Manager or SSM ARN of the credentials.
    pub credentials_parameter: String,
    /// Active Directory domain.
    pub domain: String,
}

/// A container definition.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerDoc {
    /// Container name.
    pub name: String,
    /// Image reference.
    #[serde(default)]
    pub image: String,
    /// CPU units reserved (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cpu: i32,
    /// Hard memory limit (MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i32>,
    /// Soft memory limit (MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i32>,
    /// Whether the task stops when this container stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    /// Port mappings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMappingDoc>,
    /// Environment variables, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// S3 environment files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_files: Vec<EnvironmentFileDoc>,
    /// Secrets injected as environment variables (references, sorted by name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretRef>,
    /// Command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Entry point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_point: Vec<String>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Volume mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mount_points: Vec<MountPointDoc>,
    /// Volumes mounted from other containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<VolumeFromDoc>,
    /// Log driver and options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfigurationDoc>,
    /// Container health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckDoc>,
    /// Start-up dependencies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ContainerDependencyDoc>,
    /// Resource limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<UlimitDoc>,
    /// User (`user`, `user:group`, uid…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Read-only root file system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly_root_filesystem: Option<bool>,
    /// Privileged mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Seconds before a stopping container is killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i32>,
    /// Seconds to wait for dependencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timeout: Option<i32>,
    /// Docker labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub docker_labels: BTreeMap<String, String>,
    /// Linux-specific settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_parameters: Option<LinuxParametersDoc>,
    /// Private registry credentials (a reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_credentials: Option<RepositoryCredentialsDoc>,
    /// FireLens log router settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firelens_configuration: Option<FirelensDoc>,
    /// Namespaced kernel parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_controls: Vec<SystemControlDoc>,
    /// `/etc/hosts` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<HostEntryDoc>,
    /// DNS servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<String>,
    /// DNS search domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search_domains: Vec<String>,
    /// Hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `docker run -i`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<bool>,
    /// `docker run -t`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudo_terminal: Option<bool>,
    /// GPU and accelerator requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_requirements: Vec<ResourceRequirementDoc>,
    /// Legacy container links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Whether networking is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_networking: Option<bool>,
    /// SELinux / AppArmor options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docker_security_options: Vec<String>,
    /// Active Directory credential specs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_specs: Vec<String>,
    /// Container restart policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicyDoc>,
    /// `enabled` or `disabled` (image digest resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_consistency: Option<String>,
}

/// A port mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortMappingDoc {
    /// Container port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
    /// Host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i32>,
    /// `tcp` or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Name (Service Connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `http`, `http2` or `grpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    /// Port range (`8000-8010`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port_range: Option<String>,
}

/// An S3 environment file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentFileDoc {
    /// S3 object ARN.
    pub value: String,
    /// `s3`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A secret reference: the variable name and where ECS reads the value from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Environment variable (or log option) name.
    pub name: String,
    /// Secrets Manager or SSM parameter ARN.
    pub value_from: String,
}

/// A volume mount.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountPointDoc {
    /// Volume name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_volume: Option<String>,
    /// Path in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    /// Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// Volumes mounted from another container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeFromDoc {
    /// The other container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_container: Option<String>,
    /// Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// Log driver and options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfigurationDoc {
    /// `awslogs`, `awsfirelens`, `splunk`, …
    pub log_driver: String,
    /// Driver options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Options read from secrets (references, sorted by name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_options: Vec<SecretRef>,
}

/// A container health check.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckDoc {
    /// Command (`["CMD-SHELL", "…"]`).
    #[serde(default)]
    pub command: Vec<String>,
    /// Seconds between checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i32>,
    /// Seconds a check may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i32>,
    /// Failures before unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    /// Grace period in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i32>,
}

/// A start-up dependency.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerDependencyDoc {
    /// The container depended on.
    pub container_name: String,
    /// `START`, `COMPLETE`, `SUCCESS` or `HEALTHY`.
    pub condition: String,
}

/// A resource limit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UlimitDoc {
    /// `nofile`, `nproc`, …
    pub name: String,
    /// Soft limit.
    pub soft_limit: i32,
    /// Hard limit.
    pub hard_limit: i32,
}

/// Linux-specific container settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinuxParametersDoc {
    /// Capabilities added and dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<KernelCapabilitiesDoc>,
    /// Host devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceDoc>,
    /// Run an init process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_process_enabled: Option<bool>,
    /// `/dev/shm` size in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_memory_size: Option<i32>,
    /// tmpfs mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<TmpfsDoc>,
    /// Swap in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_swap: Option<i32>,
    /// Swappiness (0–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swappiness: Option<i32>,
}

/// Capabilities added and dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelCapabilitiesDoc {
    /// Added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

/// A host device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceDoc {
    /// Host path.
    pub host_path: String,
    /// Path in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    /// `read`, `write`, `mknod`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
}

/// A tmpfs mount.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TmpfsDoc {
    /// Path in the container.
    pub container_path: String,
    /// Size in MiB.
    pub size: i32,
    /// Mount options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mount_options: Vec<String>,
}

/// Private registry credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryCredentialsDoc {
    /// Secrets Manager ARN of the credentials.
    pub credentials_parameter: String,
}

/// FireLens settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirelensDoc {
    /// `fluentd` or `fluentbit`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// A namespaced kernel parameter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemControlDoc {
    /// Parameter name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// An `/etc/hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntryDoc {
    /// Hostname.
    pub hostname: String,
    /// IP address.
    pub ip_address: String,
}

/// A GPU or accelerator requirement.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRequirementDoc {
    /// `GPU` or `InferenceAccelerator`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Amount or device name.
    pub value: String,
    /// How a GPU is shared with other containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing_strategy: Option<SharingStrategyDoc>,
}

/// How a GPU is shared with other containers (one member set).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingStrategyDoc {
    /// NVIDIA Multi-Process Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvidia_mps: Option<NvidiaMpsDoc>,
}

/// An NVIDIA Multi-Process Service allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NvidiaMpsDoc {
    /// GPU memory for the container (MiB).
    pub memory: i32,
    /// Maximum percentage of the GPU's compute the container may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_compute_percent: Option<i32>,
}

/// A container restart policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicyDoc {
    /// Whether it is on.
    #[serde(default)]
    pub enabled: bool,
    /// Exit codes that do not restart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_exit_codes: Vec<i32>,
    /// Seconds a container must run before restarts are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_attempt_period: Option<i32>,
}

// ---------------------------------------------------------------------------------------------
// Diffs

/// The `family:revision` part of a task definition reference (`arn:…:task-definition/web:3`
/// and `web:3` both give `web:3`).
pub fn short_task_definition(reference: &str) -> &str {
    reference
        .rsplit_once("task-definition/")
        .map_or(reference, |(_, rest)| rest)
}

/// Differences that matter for a restore between a backed-up task definition and a live one,
/// as `path: live → backup` lines (what a restore would change), sorted by path; empty when
/// registering the backup would give the live revision's content.
///
/// Ignores the ARN and revision number. Containers are matched by name
/// (`containers[web].image: registry/web:2 → registry/web:1`), as are volumes, secrets and any
/// other list whose items all carry a unique `name`; other lists are compared whole.
pub fn diff_task_definition(backup: &TaskDefinitionDoc, live: &TaskDefinitionDoc) -> Vec<String> {
    let prepare = |doc: &TaskDefinitionDoc| {
        let mut value = to_value(doc);
        if let Value::Object(map) = &mut value {
            map.remove("arn");
            map.remove("revision");
            if let Some(containers) = map.remove("container_definitions") {
                map.insert("containers".into(), containers);
            }
        }
        value
    };
    let mut out = Vec::new();
    diff_values("", &prepare(live), &prepare(backup), &mut out);
    out
}

/// Differences that matter for a restore between a backed-up service configuration and the
/// live one, as `path: live → backup` lines, sorted by path.
///
/// Ignores the service ARN. The task definition is compared by `family:revision` only (an ARN
/// and its short form are equal); whether two revisions have the same content is
/// [`diff_task_definition`]'s question.
pub fn diff_service(backup: &ServiceConfig, live: &ServiceConfig) -> Vec<String> {
    let prepare = |config: &ServiceConfig| {
        let mut value = to_value(config);
        if let Value::Object(map) = &mut value {
            map.remove("arn");
            map.insert(
                "task_definition".into(),
                Value::String(short_task_definition(&config.task_definition).to_owned()),
            );
        }
        value
    };
    let mut out = Vec::new();
    diff_values("", &prepare(live), &prepare(backup), &mut out);
    out
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // These documents hold only strings, numbers, booleans, lists and string-keyed maps, which
    // always serialise; Null would only hide a difference, never invent one.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Items of a list by their `name`, when every item is an object with a unique string `name`.
fn by_name(items: &[Value]) -> Option<BTreeMap<&str, &Value>> {
    let mut named = BTreeMap::new();
    for item in items {
        let name = item.get("name")?.as_str()?;
        if named.insert(name, item).is_some() {
            return None;
        }
    }
    Some(named)
}

fn diff_values(path: &str, live: &Value, backup: &Value, out: &mut Vec<String>) {
    if live == backup {
        return;
    }
    match (live, backup) {
        (Value::Object(live), Value::Object(backup)) => {
            let keys: BTreeSet<&String> = live.keys().chain(backup.keys()).collect();
            for key in keys {
                diff_values(
                    &join(path, key),
                    live.get(key.as_str()).unwrap_or(&Value::Null),
                    backup.get(key.as_str()).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(live_items), Value::Array(backup_items)) => {
            match (by_name(live_items), by_name(backup_items)) {
                (Some(live), Some(backup)) => {
                    let names: BTreeSet<&str> = live.keys().chain(backup.keys()).copied().collect();
                    for name in names {
                        diff_values(
                            &format!("{path}[{name}]"),
                            live.get(name).copied().unwrap_or(&Value::Null),
                            backup.get(name).copied().unwrap_or(&Value::Null),
                            out,
                        );
                    }
                }
                _ => out.push(format!(
                    "{path}: {} → {}",
                    render_list(live),
                    render_list(backup)
                )),
            }
        }
        (Value::Array(_), Value::Null) | (Value::Null, Value::Array(_)) => {
            // A list left out of a document is an empty one: diff item by item against [].
            let empty = Value::Array(Vec::new());
            let (live, backup) = if live.is_null() {
                (&empty, backup)
            } else {
                (live, &empty)
            };
            diff_values(path, live, backup, out);
        }
        (Value::Object(_), Value::Null) | (Value::Null, Value::Object(_)) => {
            if path.ends_with(']') {
                // A whole named item (a container, a volume) added or removed.
                out.push(format!("{path}: {} → {}", presence(live), presence(backup)));
            } else {
                // A map or settings block left out of a document: diff key by key against {}.
                let empty = Value::Object(serde_json::Map::new());
                let (live, backup) = if live.is_null() {
                    (&empty, backup)
                } else {
                    (live, &empty)
                };
                diff_values(path, live, backup, out);
            }
        }
        _ => out.push(format!("{path}: {} → {}", render(live), render(backup))),
    }
}

fn presence(value: &Value) -> &'static str {
    if value.is_null() {
        "(none)"
    } else {
        "(present)"
    }
}

fn render_list(value: &Value) -> String {
    match value {
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        other => render(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Service restore plan

/// What one `UpdateService` call must send to bring a live service back to its backup: each
/// field is `Some` only when that setting differs (and `UpdateService` can set it).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ServiceUpdate {
    /// Task definition to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// Desired count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<i32>,
    /// Capacity provider strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider_strategy: Option<Vec<CapacityProviderItem>>,
    /// Platform version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// Deployment configuration (sent whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_configuration: Option<DeploymentConfigurationDoc>,
    /// Network configuration (sent whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfigurationDoc>,
    /// Placement constraints (empty clears them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement_constraints: Option<Vec<PlacementConstraintDoc>>,
    /// Placement strategy (empty clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement_strategy: Option<Vec<PlacementStrategyDoc>>,
    /// Health check grace period (0 when the backup had none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i32>,
    /// ECS Exec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_execute_command: Option<bool>,
    /// ECS managed tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_ecs_managed_tags: Option<bool>,
    /// Tag propagation (`NONE` when the backup had none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<String>,
    /// Load balancers (empty detaches them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancers: Option<Vec<LoadBalancerDoc>>,
    /// Service registries (empty removes them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_registries: Option<Vec<ServiceRegistryDoc>>,
    /// Availability zone rebalancing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone_rebalancing: Option<String>,
}

impl ServiceUpdate {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        *self == ServiceUpdate::default()
    }
}

/// How to bring a live service back to its backup.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ServiceRestorePlan {
    /// The `UpdateService` call (empty: none).
    pub update: ServiceUpdate,
    /// Tags to set (`TagResource`): backed-up tags missing or different on the live service.
    pub tags_to_set: BTreeMap<String, String>,
    /// Tag keys to remove (`UntagResource`): live tags the backup does not have (`aws:` tags
    /// are left alone).
    pub tags_to_remove: Vec<String>,
    /// Differences `UpdateService` cannot undo, left as they are: launch type, scheduling
    /// strategy, deployment controller and role need the service re-created (which this version
    /// does not do); a setting the backup does not have (network, deployment configuration,
    /// platform version, AZ rebalancing) cannot be unset.
    pub not_restorable: Vec<String>,
}

impl ServiceRestorePlan {
    /// Whether nothing would be sent to ECS.
    pub fn is_empty(&self) -> bool {
        self.update.is_empty() && self.tags_to_set.is_empty() && self.tags_to_remove.is_empty()
    }
}

/// Plans bringing `live` back to `backup`, with the service to run `target_task_definition`
/// (the backed-up revision, or a revision with the same content). Only differing settings are
/// sent, as absolute values.
pub fn plan_service_restore(
    backup: &ServiceConfig,
    live: &ServiceConfig,
    target_task_definition: &str,
) -> ServiceRestorePlan {
    let mut plan = ServiceRestorePlan::default();
    let update = &mut plan.update;
    let mut not_restorable = |field: &str, live: String, backup: String| {
        let why = if backup == "(none)" {
            "the backup has no value to send; left as it is"
        } else {
            "UpdateService cannot change it; the service would have to be re-created"
        };
        plan.not_restorable
            .push(format!("{field}: {live} → {backup} ({why})"));
    };
    let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".into());

    if short_task_definition(target_task_definition) != short_task_definition(&live.task_definition)
    {
        update.task_definition = Some(target_task_definition.to_owned());
    }
    let daemon = backup.scheduling_strategy.as_deref() == Some("DAEMON");
    if !daemon && backup.desired_count != live.desired_count {
        update.desired_count = Some(backup.desired_count);
    }
    if backup.capacity_provider_strategy != live.capacity_provider_strategy {
        if backup.capacity_provider_strategy.is_empty() {
            not_restorable(
                "capacity_provider_strategy",
                format!("{:?}", names(&live.capacity_provider_strategy)),
                format!("launch type {}", shown(&backup.launch_type)),
            );
        } else {
            update.capacity_provider_strategy = Some(backup.capacity_provider_strategy.clone());
        }
    }
    if backup.launch_type.is_some() && backup.launch_type != live.launch_type {
        not_restorable(
            "launch_type",
            shown(&live.launch_type),
            shown(&backup.launch_type),
        );
    }
    if backup.scheduling_strategy != live.scheduling_strategy {
        not_restorable(
            "scheduling_strategy",
            shown(&live.scheduling_strategy),
            shown(&backup.scheduling_strategy),
        );
    }
    if backup.deployment_controller != live.deployment_controller {
        not_restorable(
            "deployment_controller",
            shown(&live.deployment_controller),
            shown(&backup.deployment_controller),
        );
    }
    if backup.role_arn != live.role_arn {
        not_restorable("role_arn", shown(&live.role_arn), shown(&backup.role_arn));
    }
    match (&backup.platform_version, &live.platform_version) {
        (Some(b), l) if Some(b) != l.as_ref() => update.platform_version = Some(b.clone()),
        (None, Some(l)) => not_restorable("platform_version", l.clone(), "(none)".into()),
        _ => {}
    }
    match (
        &backup.deployment_configuration,
        &live.deployment_configuration,
    ) {
        (Some(b), l) if Some(b) != l.as_ref() => update.deployment_configuration = Some(b.clone()),
        (None, Some(_)) => {
            not_restorable("deployment_configuration", "(set)".into(), "(none)".into())
        }
        _ => {}
    }
    match (&backup.network_configuration, &live.network_configuration) {
        (Some(b), l) if Some(b) != l.as_ref() => update.network_configuration = Some(b.clone()),
        (None, Some(_)) => not_restorable("network_configuration", "(set)".into(), "(none)".into()),
        _ => {}
    }
    match (
        &backup.availability_zone_rebalancing,
        &live.availability_zone_rebalancing,
    ) {
        (Some(b), l) if Some(b) != l.as_ref() => {
            update.availability_zone_rebalancing = Some(b.clone())
        }
        (None, Some(l)) => {
            not_restorable("availability_zone_rebalancing", l.clone(), "(none)".into())
        }
        _ => {}
    }
    if backup.placement_constraints != live.placement_constraints {
        update.placement_constraints = Some(backup.placement_constraints.clone());
    }
    if backup.placement_strategy != live.placement_strategy {
        update.placement_strategy = Some(backup.placement_strategy.clone());
    }
    if backup.health_check_grace_period_seconds.unwrap_or(0)
        != live.health_check_grace_period_seconds.unwrap_or(0)
    {
        update.health_check_grace_period_seconds =
            Some(backup.health_check_grace_period_seconds.unwrap_or(0));
    }
    if backup.enable_execute_command != live.enable_execute_command {
        update.enable_execute_command = Some(backup.enable_execute_command);
    }
    if backup.enable_ecs_managed_tags != live.enable_ecs_managed_tags {
        update.enable_ecs_managed_tags = Some(backup.enable_ecs_managed_tags);
    }
    let propagate = |value: &Option<String>| value.clone().unwrap_or_else(|| "NONE".into());
    if propagate(&backup.propagate_tags) != propagate(&live.propagate_tags) {
        update.propagate_tags = Some(propagate(&backup.propagate_tags));
    }
    if backup.load_balancers != live.load_balancers {
        update.load_balancers = Some(backup.load_balancers.clone());
    }
    if backup.service_registries != live.service_registries {
        update.service_registries = Some(backup.service_registries.clone());
    }
    for (key, value) in &backup.tags {
        if live.tags.get(key) != Some(value) {
            plan.tags_to_set.insert(key.clone(), value.clone());
        }
    }
    plan.tags_to_remove = live
        .tags
        .keys()
        .filter(|key| !backup.tags.contains_key(*key) && !key.starts_with("aws:"))
        .cloned()
        .collect();
    plan
}

fn names(strategy: &[CapacityProviderItem]) -> Vec<&str> {
    strategy
        .iter()
        .map(|item| item.capacity_provider.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, image: &str) -> ContainerDoc {
        ContainerDoc {
            name: name.into(),
            image: image.into(),
            essential: Some(true),
            port_mappings: vec![PortMappingDoc {
                container_port: Some(8080),
                protocol: Some("tcp".into()),
                ..Default::default()
            }],
            environment: [("A".to_owned(), "1".to_owned())].into(),
            secrets: vec![SecretRef {
                name: "DB_PASSWORD".into(),
                value_from: "arn:aws:secretsmanager:us-east-1:1:secret:db".into(),
            }],
            ..Default::default()
        }
    }

    fn task_definition() -> TaskDefinitionDoc {
        TaskDefinitionDoc {
            arn: "arn:aws:ecs:us-east-1:1:task-definition/web:3".into(),
            family: "web".into(),
            revision: 3,
            network_mode: Some("awsvpc".into()),
            cpu: Some("256".into()),
            memory: Some("512".into()),
            requires_compatibilities: vec!["FARGATE".into()],
            volumes: vec![VolumeDoc {
                name: "data".into(),
                ..Default::default()
            }],
            container_definitions: vec![
                container("web", "registry/web:1"),
                container("log", "fluent:1"),
            ],
            tags: [("team".to_owned(), "a".to_owned())].into(),
            ..Default::default()
        }
    }

    fn service() -> ServiceConfig {
        ServiceConfig {
            name: "web".into(),
            arn: "arn:aws:ecs:us-east-1:1:service/prod/web".into(),
            task_definition: "arn:aws:ecs:us-east-1:1:task-definition/web:3".into(),
            desired_count: 2,
            launch_type: Some("FARGATE".into()),
            scheduling_strategy: Some("REPLICA".into()),
            deployment_configuration: Some(DeploymentConfigurationDoc {
                maximum_percent: Some(200),
                minimum_healthy_percent: Some(100),
                deployment_circuit_breaker: Some(CircuitBreakerDoc {
                    enable: true,
                    rollback: true,
                }),
                ..Default::default()
            }),
            network_configuration: Some(NetworkConfigurationDoc {
                subnets: vec!["subnet-1".into()],
                security_groups: vec!["sg-1".into()],
                assign_public_ip: Some("DISABLED".into()),
            }),
            health_check_grace_period_seconds: Some(30),
            tags: [("team".to_owned(), "a".to_owned())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn task_definition_diffs() {
        type Change = fn(&mut TaskDefinitionDoc);
        let cases: Vec<(&str, Change, Vec<&str>)> = vec![
            ("identical", |_| {}, vec![]),
            (
                "arn and revision are ignored",
                |td| {
                    td.arn = "arn:aws:ecs:us-east-1:1:task-definition/web:9".into();
                    td.revision = 9;
                },
                vec![],
            ),
            (
                "image of one container",
                |td| td.container_definitions[0].image = "registry/web:2".into(),
                vec!["containers[web].image: registry/web:2 → registry/web:1"],
            ),
            (
                "container order does not matter",
                |td| td.container_definitions.reverse(),
                vec![],
            ),
            (
                "environment variable changed and added",
                |td| {
                    td.container_definitions[0]
                        .environment
                        .insert("A".into(), "2".into());
                    td.container_definitions[0]
                        .environment
                        .insert("B".into(), "x".into());
                },
                vec![
                    "containers[web].environment.A: 2 → 1",
                    "containers[web].environment.B: x → (none)",
                ],
            ),
            (
                "secret reference by name",
                |td| {
                    td.container_definitions[1].secrets[0].value_from = "arn:other".into();
                },
                vec!["containers[log].secrets[DB_PASSWORD].value_from: arn:other → arn:aws:secretsmanager:us-east-1:1:secret:db"],
            ),
            (
                "task size and role",
                |td| {
                    td.memory = Some("1024".into());
                    td.task_role_arn = Some("arn:aws:iam::1:role/x".into());
                },
                vec!["memory: 1024 → 512", "task_role_arn: arn:aws:iam::1:role/x → (none)"],
            ),
            (
                "container removed live",
                |td| {
                    td.container_definitions.pop();
                },
                vec!["containers[log]: (none) → (present)"],
            ),
            (
                "port mappings compared whole",
                |td| td.container_definitions[0].port_mappings[0].container_port = Some(80),
                vec![r#"containers[web].port_mappings: [{"container_port":80,"protocol":"tcp"}] → [{"container_port":8080,"protocol":"tcp"}]"#],
            ),
            (
                "volumes removed live",
                |td| td.volumes.clear(),
                vec!["volumes[data]: (none) → (present)"],
            ),
            (
                "tags",
                |td| {
                    td.tags.clear();
                },
                vec!["tags.team: (none) → a"],
            ),
            (
                "compatibilities",
                |td| td.requires_compatibilities.push("EC2".into()),
                vec![r#"requires_compatibilities: ["FARGATE","EC2"] → ["FARGATE"]"#],
            ),
        ];
        for (name, change, expected) in cases {
            let backup = task_definition();
            let mut live = task_definition();
            change(&mut live);
            assert_eq!(diff_task_definition(&backup, &live), expected, "{name}");
        }
    }

    #[test]
    fn service_diffs() {
        type Change = fn(&mut ServiceConfig);
        let cases: Vec<(&str, Change, Vec<&str>)> = vec![
            ("identical", |_| {}, vec![]),
            (
                "arn ignored, task definition by family:revision",
                |s| {
                    s.arn = "other".into();
                    s.task_definition = "web:3".into();
                },
                vec![],
            ),
            (
                "other revision",
                |s| s.task_definition = "arn:aws:ecs:us-east-1:1:task-definition/web:5".into(),
                vec!["task_definition: web:5 → web:3"],
            ),
            (
                "desired count and grace period",
                |s| {
                    s.desired_count = 4;
                    s.health_check_grace_period_seconds = None;
                },
                vec![
                    "desired_count: 4 → 2",
                    "health_check_grace_period_seconds: (none) → 30",
                ],
            ),
            (
                "deployment configuration nested",
                |s| {
                    if let Some(c) = s.deployment_configuration.as_mut() {
                        c.minimum_healthy_percent = Some(50);
                        c.deployment_circuit_breaker = None;
                    }
                },
                vec![
                    "deployment_configuration.deployment_circuit_breaker.enable: (none) → true",
                    "deployment_configuration.deployment_circuit_breaker.rollback: (none) → true",
                    "deployment_configuration.minimum_healthy_percent: 50 → 100",
                ],
            ),
            (
                "network",
                |s| {
                    if let Some(n) = s.network_configuration.as_mut() {
                        n.subnets.push("subnet-2".into());
                    }
                },
                vec![r#"network_configuration.subnets: ["subnet-1","subnet-2"] → ["subnet-1"]"#],
            ),
            (
                "tags and exec",
                |s| {
                    s.tags.insert("team".into(), "b".into());
                    s.enable_execute_command = true;
                },
                vec!["enable_execute_command: true → (none)", "tags.team: b → a"],
            ),
        ];
        for (name, change, expected) in cases {
            let backup = service();
            let mut live = service();
            change(&mut live);
            assert_eq!(diff_service(&backup, &live), expected, "{name}");
        }
    }

    #[test]
    fn restore_plans() {
        const TARGET: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:7";
        type Change = fn(&mut ServiceConfig);
        type Check = fn(&ServiceRestorePlan);
        let cases: Vec<(&str, Change, &str, Check)> = vec![
            (
                "nothing differs",
                |_| {},
                "web:3",
                |plan| {
                    assert!(plan.is_empty());
                    assert!(plan.not_restorable.is_empty());
                },
            ),
            (
                "new revision and count",
                |s| s.desired_count = 5,
                TARGET,
                |plan| {
                    assert_eq!(plan.update.task_definition.as_deref(), Some(TARGET));
                    assert_eq!(plan.update.desired_count, Some(2));
                    assert!(plan.update.deployment_configuration.is_none());
                },
            ),
            (
                "deployment and network sent whole, grace period back",
                |s| {
                    s.deployment_configuration = Some(DeploymentConfigurationDoc::default());
                    s.network_configuration = None;
                    s.health_check_grace_period_seconds = Some(90);
                },
                "web:3",
                |plan| {
                    assert_eq!(
                        plan.update.deployment_configuration,
                        service().deployment_configuration
                    );
                    assert_eq!(
                        plan.update.network_configuration,
                        service().network_configuration
                    );
                    assert_eq!(plan.update.health_check_grace_period_seconds, Some(30));
                    assert!(plan.update.task_definition.is_none());
                },
            ),
            (
                "tags set and removed, aws: tags kept",
                |s| {
                    s.tags.insert("team".into(), "b".into());
                    s.tags.insert("extra".into(), "1".into());
                    s.tags
                        .insert("aws:cloudformation:stack-name".into(), "x".into());
                },
                "web:3",
                |plan| {
                    assert_eq!(plan.tags_to_set, [("team".into(), "a".into())].into());
                    assert_eq!(plan.tags_to_remove, vec!["extra".to_owned()]);
                    assert!(plan.update.is_empty());
                },
            ),
            (
                "launch type and scheduling strategy are not restorable",
                |s| {
                    s.launch_type = Some("EC2".into());
                    s.scheduling_strategy = Some("DAEMON".into());
                },
                "web:3",
                |plan| {
                    assert!(plan.is_empty());
                    assert_eq!(plan.not_restorable.len(), 2);
                    assert!(plan.not_restorable[0].starts_with("launch_type: EC2 → FARGATE"));
                    assert!(
                        plan.not_restorable[1].starts_with("scheduling_strategy: DAEMON → REPLICA")
                    );
                },
            ),
            (
                "lists cleared with empty values",
                |s| {
                    s.placement_strategy = vec![PlacementStrategyDoc {
                        kind: Some("spread".into()),
                        field: Some("attribute:ecs.availability-zone".into()),
                    }];
                    s.load_balancers = vec![LoadBalancerDoc {
                        target_group_arn: Some("tg".into()),
                        ..Default::default()
                    }];
                },
                "web:3",
                |plan| {
                    assert_eq!(plan.update.placement_strategy, Some(vec![]));
                    assert_eq!(plan.update.load_balancers, Some(vec![]));
                },
            ),
        ];
        for (name, change, target, check) in cases {
            let backup = service();
            let mut live = service();
            change(&mut live);
            let plan = plan_service_restore(&backup, &live, target);
            eprintln!("{name}: {plan:?}");
            check(&plan);
        }
    }

    #[test]
    fn documents_round_trip_small_and_strict() {
        let doc = ServiceDocument {
            schema_version: ECS_SCHEMA_VERSION,
            cluster: "prod".into(),
            service: service(),
            task_definitions: vec![task_definition()],
        };
        let json = serde_json::to_string(&doc).expect("serialise");
        assert!(!json.contains("null"), "{json}");
        assert!(!json.contains("\"links\""), "{json}");
        let back: ServiceDocument = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, doc);
        assert_eq!(back.in_use().map(|td| td.revision), Some(3));

        let mut value = serde_json::to_value(&doc).expect("value");
        value["task_definitions"][0]["container_definitions"][0]["surprise"] = true.into();
        assert!(serde_json::from_value::<ServiceDocument>(value).is_err());
    }

    #[test]
    fn short_task_definition_forms() {
        assert_eq!(
            short_task_definition("arn:aws:ecs:us-east-1:1:task-definition/web:3"),
            "web:3"
        );
        assert_eq!(short_task_definition("web:3"), "web:3");
    }
}
