//! ECS configuration backup and restore: services and the task definitions they run, as
//! [`ServiceDocument`]s.
//!
//! [`export_services`] reads a cluster's services (`ListServices`, `DescribeServices` with
//! tags, in batches of 10), the task definition each one runs and up to `revisions - 1` other
//! ACTIVE revisions of its family, newest first (`ListTaskDefinitions` sorted DESC,
//! `DescribeTaskDefinition` with tags). "Other" rather than "older": a revision registered after
//! the one in use (a deployment in flight, a canary candidate) is kept too.
//!
//! [`restore_service`] is diff-first: it compares the backed-up task definition in use with the
//! one the live service runs and, when they differ, with the latest ACTIVE revision of the
//! family — if that one already has the backed-up content it is reused instead of registering
//! another (so a restore retried after a partial run registers nothing twice). With
//! [`RestoreServiceOptions::apply`] it registers the backed-up content as a new revision (every
//! setting of the document, tags included) when no existing revision has it; with
//! [`RestoreServiceOptions::update_service`] it then puts the service back on that revision and
//! restores its other settings with one `UpdateService` call (only the settings that differ,
//! see [`plan_service_restore`]) and its tags with `TagResource` / `UntagResource`. Nothing is
//! called when nothing differs.
//!
//! A service that no longer exists is reported (`service_missing`), not created: this version
//! does not re-create services (nor change the settings only `CreateService` takes, which the
//! report lists as not restored).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionInputBuilder;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceInputBuilder;
use aws_sdk_ecs::operation::update_service::UpdateServiceInput;
use aws_sdk_ecs::types::{
    AdvancedConfiguration, AssignPublicIp, AwsVpcConfiguration, CanaryConfiguration,
    CapacityProviderStrategyItem, Compatibility, ContainerCondition, ContainerDefinition,
    ContainerDependency, ContainerRestartPolicy, CpuArchitecture, DeploymentAlarms,
    DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentStrategy, Device,
    DeviceCgroupPermission, DockerVolumeConfiguration, EfsAuthorizationConfig,
    EfsAuthorizationConfigIam, EfsTransitEncryption, EfsVolumeConfiguration, EnvironmentFile,
    EnvironmentFileType, EphemeralStorage, FSxWindowsFileServerAuthorizationConfig,
    FSxWindowsFileServerVolumeConfiguration, FirelensConfiguration, FirelensConfigurationType,
    HealthCheck, HostEntry, HostVolumeProperties, IpcMode, KernelCapabilities, KeyValuePair,
    LinearConfiguration, LinuxParameters, LoadBalancer, LogConfiguration, LogDriver, MountPoint,
    NetworkConfiguration, NetworkMode, OsFamily, PidMode, PlacementConstraint,
    PlacementConstraintType, PlacementStrategy, PlacementStrategyType, PortMapping, PropagateTags,
    ProxyConfiguration, ProxyConfigurationType, RepositoryCredentials, ResourceRequirement,
    ResourceType, RuntimePlatform, Scope, Secret, Service, ServiceField, ServiceRegistry,
    SortOrder, SystemControl, Tag, TaskDefinition, TaskDefinitionField,
    TaskDefinitionPlacementConstraint, TaskDefinitionPlacementConstraintType, TaskDefinitionStatus,
    Tmpfs, TransportProtocol, Ulimit, UlimitName, VolumeFrom,
};
use aws_sdk_ecs::types::{
    ApplicationProtocol, AvailabilityZoneRebalancing, NvidiaMpsAllocation, SharingStrategy, Volume,
};
use aws_smithy_types::error::operation::BuildError;
use ops_domain::backup::ecs::{
    diff_service, diff_task_definition, plan_service_restore, short_task_definition,
    AdvancedConfigurationDoc, CanaryConfigurationDoc, CapacityProviderItem, CircuitBreakerDoc,
    ContainerDependencyDoc, ContainerDoc, DeploymentAlarmsDoc, DeploymentConfigurationDoc,
    DeviceDoc, DockerVolumeDoc, EfsAuthorizationDoc, EfsVolumeDoc, EnvironmentFileDoc,
    EphemeralStorageDoc, FirelensDoc, FsxWindowsAuthorizationDoc, FsxWindowsVolumeDoc,
    HealthCheckDoc, HostEntryDoc, HostVolumeDoc, InferenceAcceleratorDoc, KernelCapabilitiesDoc,
    LinearConfigurationDoc, LinuxParametersDoc, LoadBalancerDoc, LogConfigurationDoc,
    MountPointDoc, NetworkConfigurationDoc, NvidiaMpsDoc, PlacementConstraintDoc,
    PlacementStrategyDoc, PortMappingDoc, ProxyConfigurationDoc, RepositoryCredentialsDoc,
    ResourceRequirementDoc, RestartPolicyDoc, RuntimePlatformDoc, SecretRef, ServiceConfig,
    ServiceDocument, ServiceRegistryDoc, ServiceUpdate, SharingStrategyDoc, SystemControlDoc,
    TaskDefinitionDoc, TmpfsDoc, UlimitDoc, VolumeDoc, VolumeFromDoc, ECS_SCHEMA_VERSION,
};
use serde::Serialize;

use crate::error::AwsCallError;

/// Errors of ECS backup and restore.
#[derive(Debug, thiserror::Error)]
pub enum EcsBackupError {
    /// The cluster does not exist.
    #[error("ECS cluster {cluster} not found")]
    ClusterNotFound {
        /// Cluster name.
        cluster: String,
    },
    /// A service asked for does not exist (or is inactive) in the cluster.
    #[error("ECS service {service} not found in cluster {cluster}")]
    ServiceNotFound {
        /// Cluster name.
        cluster: String,
        /// Service name.
        service: String,
    },
    /// A document cannot be turned into an ECS request (a required field is missing).
    #[error("ECS backup document for {target} is not usable: {message}")]
    InvalidDocument {
        /// The service or task definition concerned.
        target: String,
        /// What is wrong.
        message: String,
    },
    /// ECS refused or could not be reached (the target names the cluster, service or task
    /// definition the call was about).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl EcsBackupError {
    /// Whether a later retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, EcsBackupError::Aws(call) if call.is_transient())
    }
}

type SdkError<E> = aws_sdk_ecs::error::SdkError<E, aws_smithy_runtime_api::http::Response>;

fn aws<E: crate::error::ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    target: &str,
    error: &SdkError<E>,
) -> EcsBackupError {
    // One classification for the suite: code, capped message, status, never the body.
    EcsBackupError::Aws(AwsCallError::from_sdk(operation, error).on(target))
}

fn invalid(target: &str, error: BuildError) -> EcsBackupError {
    EcsBackupError::InvalidDocument {
        target: target.to_owned(),
        message: error.to_string(),
    }
}

/// The cluster name of a cluster name or ARN (`arn:aws:ecs:…:cluster/prod` → `prod`).
pub fn cluster_name(cluster: &str) -> &str {
    cluster
        .rsplit_once(":cluster/")
        .map_or(cluster, |(_, name)| name)
}

fn service_name(reference: &str) -> &str {
    reference
        .rsplit_once('/')
        .map_or(reference, |(_, name)| name)
}

/// `(family, revision)` of a task definition ARN or `family:revision`.
fn family_revision(reference: &str) -> Option<(&str, i32)> {
    let (family, revision) = short_task_definition(reference).rsplit_once(':')?;
    Some((family, revision.parse().ok()?))
}

// ---------------------------------------------------------------------------------------------
// Export

/// Exports services of `cluster` (name or ARN) with the task definition each one runs and up to
/// `revisions - 1` other ACTIVE revisions of its family, newest first (`revisions` counts the
/// one in use; 0 is taken as 1). `services` empty means every service of the cluster, in name
/// order; otherwise the documents follow the order given.
///
/// Fails with [`EcsBackupError::ClusterNotFound`] or [`EcsBackupError::ServiceNotFound`] naming
/// what is missing.
pub async fn export_services(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    services: &[String],
    revisions: u32,
) -> Result<Vec<ServiceDocument>, EcsBackupError> {
    let cluster = cluster_name(cluster);
    let names = if services.is_empty() {
        list_services(client, cluster).await?
    } else {
        services.to_vec()
    };
    let mut documents = Vec::with_capacity(names.len());
    for batch in names.chunks(10) {
        let described = describe_services(client, cluster, batch).await?;
        for name in batch {
            let service = described
                .iter()
                .find(|service| service.service_name() == Some(service_name(name)))
                .ok_or_else(|| EcsBackupError::ServiceNotFound {
                    cluster: cluster.to_owned(),
                    service: name.clone(),
                })?;
            documents.push(export_service(client, cluster, service, revisions).await?);
        }
    }
    Ok(documents)
}

async fn export_service(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &Service,
    revisions: u32,
) -> Result<ServiceDocument, EcsBackupError> {
    let config = service_config(service);
    let in_use = describe_task_definition(client, &config.task_definition).await?;
    let mut task_definitions = vec![in_use];
    let others = other_revisions(
        client,
        &task_definitions[0].family,
        task_definitions[0].revision,
        revisions.saturating_sub(1) as usize,
    )
    .await?;
    for arn in others {
        task_definitions.push(describe_task_definition(client, &arn).await?);
    }
    Ok(ServiceDocument {
        schema_version: ECS_SCHEMA_VERSION,
        cluster: cluster.to_owned(),
        service: config,
        task_definitions,
    })
}

async fn list_services(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<Vec<String>, EcsBackupError> {
    let mut pages = client
        .list_services()
        .cluster(cluster)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| match error.as_service_error() {
            Some(e) if e.is_cluster_not_found_exception() => EcsBackupError::ClusterNotFound {
                cluster: cluster.to_owned(),
            },
            _ => aws("ListServices", cluster, &error),
        })?;
        names.extend(
            page.service_arns()
                .iter()
                .map(|arn| service_name(arn).to_owned()),
        );
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The services of `names` that exist and are not INACTIVE (at most 10 names).
async fn describe_services(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    names: &[String],
) -> Result<Vec<Service>, EcsBackupError> {
    let output = client
        .describe_services()
        .cluster(cluster)
        .set_services(Some(names.to_vec()))
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(e) if e.is_cluster_not_found_exception() => EcsBackupError::ClusterNotFound {
                cluster: cluster.to_owned(),
            },
            _ => aws("DescribeServices", cluster, &error),
        })?;
    Ok(output
        .services
        .unwrap_or_default()
        .into_iter()
        .filter(|service| service.status() != Some("INACTIVE"))
        .collect())
}

async fn describe_task_definition(
    client: &aws_sdk_ecs::Client,
    reference: &str,
) -> Result<TaskDefinitionDoc, EcsBackupError> {
    let output = client
        .describe_task_definition()
        .task_definition(reference)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|error| aws("DescribeTaskDefinition", reference, &error))?;
    let definition = output.task_definition().ok_or_else(|| {
        AwsCallError::unexpected("DescribeTaskDefinition", "no task definition in the answer")
            .on(reference)
    })?;
    Ok(task_definition_doc(definition, output.tags()))
}

/// The latest ACTIVE revision of `family`, if there is one.
async fn latest_active(
    client: &aws_sdk_ecs::Client,
    family: &str,
) -> Result<Option<TaskDefinitionDoc>, EcsBackupError> {
    let result = client
        .describe_task_definition()
        .task_definition(family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await;
    match result {
        Ok(output) => Ok(output
            .task_definition()
            .filter(|td| td.status() != Some(&TaskDefinitionStatus::Inactive))
            .map(|td| task_definition_doc(td, output.tags()))),
        // ECS answers ClientException when the family has no ACTIVE revision.
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_client_exception()) =>
        {
            Ok(None)
        }
        Err(error) => Err(aws("DescribeTaskDefinition", family, &error)),
    }
}

/// ARNs of up to `count` ACTIVE revisions of `family` other than `revision`, newest first.
async fn other_revisions(
    client: &aws_sdk_ecs::Client,
    family: &str,
    revision: i32,
    count: usize,
) -> Result<Vec<String>, EcsBackupError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut pages = client
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .into_paginator()
        .send();
    let mut found: Vec<(i32, String)> = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| aws("ListTaskDefinitions", family, &error))?;
        // familyPrefix is a prefix: `web` also lists `web-worker`; keep the family itself.
        found.extend(page.task_definition_arns().iter().filter_map(|arn| {
            family_revision(arn)
                .filter(|(f, r)| *f == family && *r != revision)
                .map(|(_, r)| (r, arn.clone()))
        }));
        // Pages come newest first, so once enough are in, later pages only hold older ones.
        if found.len() >= count {
            break;
        }
    }
    found.sort_by_key(|(revision, _)| std::cmp::Reverse(*revision));
    found.dedup_by_key(|(r, _)| *r);
    found.truncate(count);
    Ok(found.into_iter().map(|(_, arn)| arn).collect())
}

// ---------------------------------------------------------------------------------------------
// SDK → document

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

fn strings(values: &[String]) -> Vec<String> {
    values.to_vec()
}

fn sorted_map(map: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    map.map(|map| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Name/value pairs as a sorted map (pairs without a name are dropped).
fn pair_map(pairs: &[KeyValuePair]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .filter_map(|kv| {
            Some((
                kv.name()?.to_owned(),
                kv.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|tag| {
            Some((
                tag.key()?.to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn secret_refs(secrets: &[Secret]) -> Vec<SecretRef> {
    let mut refs: Vec<SecretRef> = secrets
        .iter()
        .map(|secret| SecretRef {
            name: secret.name().to_owned(),
            value_from: secret.value_from().to_owned(),
        })
        .collect();
    refs.sort();
    refs
}

/// A service as a [`ServiceConfig`] (tags as `DescribeServices` returned them with
/// `include=TAGS`; subnets and security groups sorted).
pub fn service_config(service: &Service) -> ServiceConfig {
    ServiceConfig {
        name: service.service_name().unwrap_or_default().to_owned(),
        arn: service.service_arn().unwrap_or_default().to_owned(),
        task_definition: service.task_definition().unwrap_or_default().to_owned(),
        desired_count: service.desired_count(),
        launch_type: service.launch_type().map(|t| t.as_str().to_owned()),
        capacity_provider_strategy: service
            .capacity_provider_strategy()
            .iter()
            .map(|item| CapacityProviderItem {
                capacity_provider: item.capacity_provider().to_owned(),
                weight: item.weight(),
                base: item.base(),
            })
            .collect(),
        platform_version: owned(service.platform_version()),
        scheduling_strategy: service.scheduling_strategy().map(|s| s.as_str().to_owned()),
        deployment_configuration: service.deployment_configuration().map(|c| {
            DeploymentConfigurationDoc {
                maximum_percent: c.maximum_percent(),
                minimum_healthy_percent: c.minimum_healthy_percent(),
                deployment_circuit_breaker: c.deployment_circuit_breaker().map(|b| {
                    CircuitBreakerDoc {
                        enable: b.enable(),
                        rollback: b.rollback(),
                    }
                }),
                alarms: c.alarms().map(|a| DeploymentAlarmsDoc {
                    alarm_names: strings(a.alarm_names()),
                    enable: a.enable(),
                    rollback: a.rollback(),
                }),
                strategy: c.strategy().map(|s| s.as_str().to_owned()),
                bake_time_in_minutes: c.bake_time_in_minutes(),
                linear_configuration: c.linear_configuration().map(|l| LinearConfigurationDoc {
                    step_percent: l.step_percent(),
                    step_bake_time_in_minutes: l.step_bake_time_in_minutes(),
                }),
                canary_configuration: c.canary_configuration().map(|l| CanaryConfigurationDoc {
                    canary_percent: l.canary_percent(),
                    canary_bake_time_in_minutes: l.canary_bake_time_in_minutes(),
                }),
            }
        }),
        deployment_controller: service
            .deployment_controller()
            .map(|c| c.r#type().as_str().to_owned()),
        load_balancers: service
            .load_balancers()
            .iter()
            .map(|lb| LoadBalancerDoc {
                target_group_arn: owned(lb.target_group_arn()),
                load_balancer_name: owned(lb.load_balancer_name()),
                container_name: owned(lb.container_name()),
                container_port: lb.container_port(),
                advanced_configuration: lb.advanced_configuration().map(|a| {
                    AdvancedConfigurationDoc {
                        alternate_target_group_arn: owned(a.alternate_target_group_arn()),
                        production_listener_rule: owned(a.production_listener_rule()),
                        test_listener_rule: owned(a.test_listener_rule()),
                        role_arn: owned(a.role_arn()),
                    }
                }),
            })
            .collect(),
        service_registries: service
            .service_registries()
            .iter()
            .map(|r| ServiceRegistryDoc {
                registry_arn: owned(r.registry_arn()),
                port: r.port(),
                container_name: owned(r.container_name()),
                container_port: r.container_port(),
            })
            .collect(),
        network_configuration: service
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .map(|vpc| {
                let mut subnets = strings(vpc.subnets());
                subnets.sort();
                let mut security_groups = strings(vpc.security_groups());
                security_groups.sort();
                NetworkConfigurationDoc {
                    subnets,
                    security_groups,
                    assign_public_ip: vpc.assign_public_ip().map(|a| a.as_str().to_owned()),
                }
            }),
        placement_constraints: service
            .placement_constraints()
            .iter()
            .map(|c| PlacementConstraintDoc {
                kind: c.r#type().map(|t| t.as_str().to_owned()),
                expression: owned(c.expression()),
            })
            .collect(),
        placement_strategy: service
            .placement_strategy()
            .iter()
            .map(|s| PlacementStrategyDoc {
                kind: s.r#type().map(|t| t.as_str().to_owned()),
                field: owned(s.field()),
            })
            .collect(),
        health_check_grace_period_seconds: service.health_check_grace_period_seconds(),
        enable_ecs_managed_tags: service.enable_ecs_managed_tags(),
        propagate_tags: service.propagate_tags().map(|p| p.as_str().to_owned()),
        enable_execute_command: service.enable_execute_command(),
        availability_zone_rebalancing: service
            .availability_zone_rebalancing()
            .map(|a| a.as_str().to_owned()),
        role_arn: owned(service.role_arn()),
        tags: tag_map(service.tags()),
    }
}

/// A task definition (and the tags `DescribeTaskDefinition` returned with `include=TAGS`) as a
/// [`TaskDefinitionDoc`].
pub fn task_definition_doc(definition: &TaskDefinition, tags: &[Tag]) -> TaskDefinitionDoc {
    TaskDefinitionDoc {
        arn: definition
            .task_definition_arn()
            .unwrap_or_default()
            .to_owned(),
        family: definition.family().unwrap_or_default().to_owned(),
        revision: definition.revision(),
        task_role_arn: owned(definition.task_role_arn()),
        execution_role_arn: owned(definition.execution_role_arn()),
        network_mode: definition.network_mode().map(|m| m.as_str().to_owned()),
        cpu: owned(definition.cpu()),
        memory: owned(definition.memory()),
        requires_compatibilities: definition
            .requires_compatibilities()
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        runtime_platform: definition.runtime_platform().map(|p| RuntimePlatformDoc {
            cpu_architecture: p.cpu_architecture().map(|a| a.as_str().to_owned()),
            operating_system_family: p.operating_system_family().map(|f| f.as_str().to_owned()),
        }),
        volumes: definition.volumes().iter().map(volume_doc).collect(),
        placement_constraints: definition
            .placement_constraints()
            .iter()
            .map(|c| PlacementConstraintDoc {
                kind: c.r#type().map(|t| t.as_str().to_owned()),
                expression: owned(c.expression()),
            })
            .collect(),
        pid_mode: definition.pid_mode().map(|m| m.as_str().to_owned()),
        ipc_mode: definition.ipc_mode().map(|m| m.as_str().to_owned()),
        ephemeral_storage: definition.ephemeral_storage().map(|e| EphemeralStorageDoc {
            size_in_gib: e.size_in_gib(),
        }),
        proxy_configuration: definition
            .proxy_configuration()
            .map(|p| ProxyConfigurationDoc {
                kind: p.r#type().map(|t| t.as_str().to_owned()),
                container_name: p.container_name().to_owned(),
                properties: pair_map(p.properties()),
            }),
        inference_accelerators: definition
            .inference_accelerators()
            .iter()
            .map(|a| InferenceAcceleratorDoc {
                device_name: a.device_name().to_owned(),
                device_type: a.device_type().to_owned(),
            })
            .collect(),
        enable_fault_injection: definition.enable_fault_injection(),
        container_definitions: definition
            .container_definitions()
            .iter()
            .map(container_doc)
            .collect(),
        tags: tag_map(tags),
    }
}

fn volume_doc(volume: &Volume) -> VolumeDoc {
    VolumeDoc {
        name: volume.name().unwrap_or_default().to_owned(),
        host: volume.host().map(|h| HostVolumeDoc {
            source_path: owned(h.source_path()),
        }),
        docker_volume_configuration: volume.docker_volume_configuration().map(|d| {
            DockerVolumeDoc {
                scope: d.scope().map(|s| s.as_str().to_owned()),
                autoprovision: d.autoprovision(),
                driver: owned(d.driver()),
                driver_opts: sorted_map(d.driver_opts()),
                labels: sorted_map(d.labels()),
            }
        }),
        efs_volume_configuration: volume.efs_volume_configuration().map(|e| EfsVolumeDoc {
            file_system_id: e.file_system_id().to_owned(),
            root_directory: owned(e.root_directory()),
            transit_encryption: e.transit_encryption().map(|t| t.as_str().to_owned()),
            transit_encryption_port: e.transit_encryption_port(),
            authorization_config: e.authorization_config().map(|a| EfsAuthorizationDoc {
                access_point_id: owned(a.access_point_id()),
                iam: a.iam().map(|i| i.as_str().to_owned()),
            }),
        }),
        fsx_windows_file_server_volume_configuration: volume
            .fsx_windows_file_server_volume_configuration()
            .map(|f| FsxWindowsVolumeDoc {
                file_system_id: f.file_system_id().to_owned(),
                root_directory: f.root_directory().to_owned(),
                authorization_config: f.authorization_config().map(|a| {
                    FsxWindowsAuthorizationDoc {
                        credentials_parameter: a.credentials_parameter().to_owned(),
                        domain: a.domain().to_owned(),
                    }
                }),
            }),
        configured_at_launch: volume.configured_at_launch(),
    }
}

fn container_doc(c: &ContainerDefinition) -> ContainerDoc {
    ContainerDoc {
        name: c.name().unwrap_or_default().to_owned(),
        image: c.image().unwrap_or_default().to_owned(),
        cpu: c.cpu(),
        memory: c.memory(),
        memory_reservation: c.memory_reservation(),
        essential: c.essential(),
        port_mappings: c
            .port_mappings()
            .iter()
            .map(|p| PortMappingDoc {
                container_port: p.container_port(),
                host_port: p.host_port(),
                protocol: p.protocol().map(|t| t.as_str().to_owned()),
                name: owned(p.name()),
                app_protocol: p.app_protocol().map(|a| a.as_str().to_owned()),
                container_port_range: owned(p.container_port_range()),
            })
            .collect(),
        environment: pair_map(c.environment()),
        environment_files: c
            .environment_files()
            .iter()
            .map(|f| EnvironmentFileDoc {
                value: f.value().to_owned(),
                kind: f.r#type().as_str().to_owned(),
            })
            .collect(),
        secrets: secret_refs(c.secrets()),
        command: strings(c.command()),
        entry_point: strings(c.entry_point()),
        working_directory: owned(c.working_directory()),
        mount_points: c
            .mount_points()
            .iter()
            .map(|m| MountPointDoc {
                source_volume: owned(m.source_volume()),
                container_path: owned(m.container_path()),
                read_only: m.read_only(),
            })
            .collect(),
        volumes_from: c
            .volumes_from()
            .iter()
            .map(|v| VolumeFromDoc {
                source_container: owned(v.source_container()),
                read_only: v.read_only(),
            })
            .collect(),
        log_configuration: c.log_configuration().map(|l| LogConfigurationDoc {
            log_driver: l.log_driver().as_str().to_owned(),
            options: sorted_map(l.options()),
            secret_options: secret_refs(l.secret_options()),
        }),
        health_check: c.health_check().map(|h| HealthCheckDoc {
            command: strings(h.command()),
            interval: h.interval(),
            timeout: h.timeout(),
            retries: h.retries(),
            start_period: h.start_period(),
        }),
        depends_on: c
            .depends_on()
            .iter()
            .map(|d| ContainerDependencyDoc {
                container_name: d.container_name().to_owned(),
                condition: d.condition().as_str().to_owned(),
            })
            .collect(),
        ulimits: c
            .ulimits()
            .iter()
            .map(|u| UlimitDoc {
                name: u.name().as_str().to_owned(),
                soft_limit: u.soft_limit(),
                hard_limit: u.hard_limit(),
            })
            .collect(),
        user: owned(c.user()),
        readonly_root_filesystem: c.readonly_root_filesystem(),
        privileged: c.privileged(),
        stop_timeout: c.stop_timeout(),
        start_timeout: c.start_timeout(),
        docker_labels: sorted_map(c.docker_labels()),
        linux_parameters: c.linux_parameters().map(|l| LinuxParametersDoc {
            capabilities: l.capabilities().map(|k| KernelCapabilitiesDoc {
                add: strings(k.add()),
                drop: strings(k.drop()),
            }),
            devices: l
                .devices()
                .iter()
                .map(|d| DeviceDoc {
                    host_path: d.host_path().to_owned(),
                    container_path: owned(d.container_path()),
                    permissions: d
                        .permissions()
                        .iter()
                        .map(|p| p.as_str().to_owned())
                        .collect(),
                })
                .collect(),
            init_process_enabled: l.init_process_enabled(),
            shared_memory_size: l.shared_memory_size(),
            tmpfs: l
                .tmpfs()
                .iter()
                .map(|t| TmpfsDoc {
                    container_path: t.container_path().to_owned(),
                    size: t.size(),
                    mount_options: strings(t.mount_options()),
                })
                .collect(),
            max_swap: l.max_swap(),
            swappiness: l.swappiness(),
        }),
        repository_credentials: c
            .repository_credentials()
            .map(|r| RepositoryCredentialsDoc {
                credentials_parameter: r.credentials_parameter().to_owned(),
            }),
        firelens_configuration: c.firelens_configuration().map(|f| FirelensDoc {
            kind: f.r#type().as_str().to_owned(),
            options: sorted_map(f.options()),
        }),
        system_controls: c
            .system_controls()
            .iter()
            .map(|s| SystemControlDoc {
                namespace: owned(s.namespace()),
                value: owned(s.value()),
            })
            .collect(),
        extra_hosts: c
            .extra_hosts()
            .iter()
            .map(|h| HostEntryDoc {
                hostname: h.hostname().to_owned(),
                ip_address: h.ip_address().to_owned(),
            })
            .collect(),
        dns_servers: strings(c.dns_servers()),
        dns_search_domains: strings(c.dns_search_domains()),
        hostname: owned(c.hostname()),
        interactive: c.interactive(),
        pseudo_terminal: c.pseudo_terminal(),
        resource_requirements: c
            .resource_requirements()
            .iter()
            .map(|r| ResourceRequirementDoc {
                kind: r.r#type().as_str().to_owned(),
                value: r.value().to_owned(),
                sharing_strategy: r.sharing_strategy().and_then(sharing_strategy_doc),
            })
            .collect(),
        links: strings(c.links()),
        disable_networking: c.disable_networking(),
        docker_security_options: strings(c.docker_security_options()),
        credential_specs: strings(c.credential_specs()),
        restart_policy: c.restart_policy().map(|r| RestartPolicyDoc {
            enabled: r.enabled(),
            ignored_exit_codes: r.ignored_exit_codes().to_vec(),
            restart_attempt_period: r.restart_attempt_period(),
        }),
        version_consistency: c.version_consistency().map(|v| v.as_str().to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// Document → SDK

fn some<T>(values: Vec<T>) -> Option<Vec<T>> {
    Some(values).filter(|values| !values.is_empty())
}

fn some_map(map: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    Some(map.clone().into_iter().collect()).filter(|map: &HashMap<_, _>| !map.is_empty())
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

fn sdk_secrets(secrets: &[SecretRef]) -> Result<Option<Vec<Secret>>, BuildError> {
    Ok(some(
        secrets
            .iter()
            .map(|s| {
                Secret::builder()
                    .name(&s.name)
                    .value_from(&s.value_from)
                    .build()
            })
            .collect::<Result<_, _>>()?,
    ))
}

fn sdk_volume(v: &VolumeDoc) -> Result<Volume, BuildError> {
    Ok(Volume::builder()
        .name(&v.name)
        .set_host(v.host.as_ref().map(|h| {
            HostVolumeProperties::builder()
                .set_source_path(h.source_path.clone())
                .build()
        }))
        .set_docker_volume_configuration(v.docker_volume_configuration.as_ref().map(|d| {
            DockerVolumeConfiguration::builder()
                .set_scope(d.scope.as_deref().map(Scope::from))
                .set_autoprovision(d.autoprovision)
                .set_driver(d.driver.clone())
                .set_driver_opts(some_map(&d.driver_opts))
                .set_labels(some_map(&d.labels))
                .build()
        }))
        .set_efs_volume_configuration(
            v.efs_volume_configuration
                .as_ref()
                .map(|e| {
                    EfsVolumeConfiguration::builder()
                        .file_system_id(&e.file_system_id)
                        .set_root_directory(e.root_directory.clone())
                        .set_transit_encryption(
                            e.transit_encryption
                                .as_deref()
                                .map(EfsTransitEncryption::from),
                        )
                        .set_transit_encryption_port(e.transit_encryption_port)
                        .set_authorization_config(e.authorization_config.as_ref().map(|a| {
                            EfsAuthorizationConfig::builder()
                                .set_access_point_id(a.access_point_id.clone())
                                .set_iam(a.iam.as_deref().map(EfsAuthorizationConfigIam::from))
                                .build()
                        }))
                        .build()
                })
                .transpose()?,
        )
        .set_fsx_windows_file_server_volume_configuration(
            v.fsx_windows_file_server_volume_configuration
                .as_ref()
                .map(|f| {
                    FSxWindowsFileServerVolumeConfiguration::builder()
                        .file_system_id(&f.file_system_id)
                        .root_directory(&f.root_directory)
                        .set_authorization_config(
                            f.authorization_config
                                .as_ref()
                                .map(|a| {
                                    FSxWindowsFileServerAuthorizationConfig::builder()
                                        .credentials_parameter(&a.credentials_parameter)
                                        .domain(&a.domain)
                                        .build()
                                })
                                .transpose()?,
                        )
                        .build()
                })
                .transpose()?,
        )
        .set_configured_at_launch(v.configured_at_launch)
        .build())
}

fn sdk_container(c: &ContainerDoc) -> Result<ContainerDefinition, BuildError> {
    Ok(ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .cpu(c.cpu)
        .set_memory(c.memory)
        .set_memory_reservation(c.memory_reservation)
        .set_essential(c.essential)
        .set_port_mappings(some(
            c.port_mappings
                .iter()
                .map(|p| {
                    PortMapping::builder()
                        .set_container_port(p.container_port)
                        .set_host_port(p.host_port)
                        .set_protocol(p.protocol.as_deref().map(TransportProtocol::from))
                        .set_name(p.name.clone())
                        .set_app_protocol(p.app_protocol.as_deref().map(ApplicationProtocol::from))
                        .set_container_port_range(p.container_port_range.clone())
                        .build()
                })
                .collect(),
        ))
        .set_environment(some(
            c.environment
                .iter()
                .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
                .collect(),
        ))
        .set_environment_files(some(
            c.environment_files
                .iter()
                .map(|f| {
                    EnvironmentFile::builder()
                        .value(&f.value)
                        .r#type(EnvironmentFileType::from(f.kind.as_str()))
                        .build()
                })
                .collect::<Result<_, _>>()?,
        ))
        .set_secrets(sdk_secrets(&c.secrets)?)
        .set_command(some(c.command.clone()))
        .set_entry_point(some(c.entry_point.clone()))
        .set_working_directory(c.working_directory.clone())
        .set_mount_points(some(
            c.mount_points
                .iter()
                .map(|m| {
                    MountPoint::builder()
                        .set_source_volume(m.source_volume.clone())
                        .set_container_path(m.container_path.clone())
                        .set_read_only(m.read_only)
                        .build()
                })
                .collect(),
        ))
        .set_volumes_from(some(
            c.volumes_from
                .iter()
                .map(|v| {
                    VolumeFrom::builder()
                        .set_source_container(v.source_container.clone())
                        .set_read_only(v.read_only)
                        .build()
                })
                .collect(),
        ))
        .set_log_configuration(
            c.log_configuration
                .as_ref()
                .map(|l| -> Result<_, BuildError> {
                    LogConfiguration::builder()
                        .log_driver(LogDriver::from(l.log_driver.as_str()))
                        .set_options(some_map(&l.options))
                        .set_secret_options(sdk_secrets(&l.secret_options)?)
                        .build()
                })
                .transpose()?,
        )
        .set_health_check(
            c.health_check
                .as_ref()
                .map(|h| {
                    HealthCheck::builder()
                        .set_command(Some(h.command.clone()))
                        .set_interval(h.interval)
                        .set_timeout(h.timeout)
                        .set_retries(h.retries)
                        .set_start_period(h.start_period)
                        .build()
                })
                .transpose()?,
        )
        .set_depends_on(some(
            c.depends_on
                .iter()
                .map(|d| {
                    ContainerDependency::builder()
                        .container_name(&d.container_name)
                        .condition(ContainerCondition::from(d.condition.as_str()))
                        .build()
                })
                .collect::<Result<_, _>>()?,
        ))
        .set_ulimits(some(
            c.ulimits
                .iter()
                .map(|u| {
                    Ulimit::builder()
                        .name(UlimitName::from(u.name.as_str()))
                        .soft_limit(u.soft_limit)
                        .hard_limit(u.hard_limit)
                        .build()
                })
                .collect::<Result<_, _>>()?,
        ))
        .set_user(c.user.clone())
        .set_readonly_root_filesystem(c.readonly_root_filesystem)
        .set_privileged(c.privileged)
        .set_stop_timeout(c.stop_timeout)
        .set_start_timeout(c.start_timeout)
        .set_docker_labels(some_map(&c.docker_labels))
        .set_linux_parameters(
            c.linux_parameters
                .as_ref()
                .map(sdk_linux_parameters)
                .transpose()?,
        )
        .set_repository_credentials(
            c.repository_credentials
                .as_ref()
                .map(|r| {
                    RepositoryCredentials::builder()
                        .credentials_parameter(&r.credentials_parameter)
                        .build()
                })
                .transpose()?,
        )
        .set_firelens_configuration(
            c.firelens_configuration
                .as_ref()
                .map(|f| {
                    FirelensConfiguration::builder()
                        .r#type(FirelensConfigurationType::from(f.kind.as_str()))
                        .set_options(some_map(&f.options))
                        .build()
                })
                .transpose()?,
        )
        .set_system_controls(some(
            c.system_controls
                .iter()
                .map(|s| {
                    SystemControl::builder()
                        .set_namespace(s.namespace.clone())
                        .set_value(s.value.clone())
                        .build()
                })
                .collect(),
        ))
        .set_extra_hosts(some(
            c.extra_hosts
                .iter()
                .map(|h| {
                    HostEntry::builder()
                        .hostname(&h.hostname)
                        .ip_address(&h.ip_address)
                        .build()
                })
                .collect::<Result<_, _>>()?,
        ))
        .set_dns_servers(some(c.dns_servers.clone()))
        .set_dns_search_domains(some(c.dns_search_domains.clone()))
        .set_hostname(c.hostname.clone())
        .set_interactive(c.interactive)
        .set_pseudo_terminal(c.pseudo_terminal)
        .set_resource_requirements(some(
            c.resource_requirements
                .iter()
                .map(|r| {
                    ResourceRequirement::builder()
                        .r#type(ResourceType::from(r.kind.as_str()))
                        .value(&r.value)
                        .set_sharing_strategy(
                            r.sharing_strategy
                                .as_ref()
                                .and_then(sdk_sharing_strategy)
                                .transpose()?,
                        )
                        .build()
                })
                .collect::<Result<_, _>>()?,
        ))
        .set_links(some(c.links.clone()))
        .set_disable_networking(c.disable_networking)
        .set_docker_security_options(some(c.docker_security_options.clone()))
        .set_credential_specs(some(c.credential_specs.clone()))
        .set_restart_policy(
            c.restart_policy
                .as_ref()
                .map(|r| {
                    ContainerRestartPolicy::builder()
                        .enabled(r.enabled)
                        .set_ignored_exit_codes(some(r.ignored_exit_codes.clone()))
                        .set_restart_attempt_period(r.restart_attempt_period)
                        .build()
                })
                .transpose()?,
        )
        .set_version_consistency(c.version_consistency.as_deref().map(Into::into))
        .build())
}

fn sharing_strategy_doc(strategy: &SharingStrategy) -> Option<SharingStrategyDoc> {
    let mps = strategy.as_nvidia_mps().ok()?;
    Some(SharingStrategyDoc {
        nvidia_mps: Some(NvidiaMpsDoc {
            memory: mps.memory(),
            max_compute_percent: mps.max_compute_percent(),
        }),
    })
}

fn sdk_sharing_strategy(
    strategy: &SharingStrategyDoc,
) -> Option<Result<SharingStrategy, BuildError>> {
    let mps = strategy.nvidia_mps.as_ref()?;
    Some(
        NvidiaMpsAllocation::builder()
            .memory(mps.memory)
            .set_max_compute_percent(mps.max_compute_percent)
            .build()
            .map(SharingStrategy::NvidiaMps),
    )
}

fn sdk_linux_parameters(l: &LinuxParametersDoc) -> Result<LinuxParameters, BuildError> {
    Ok(LinuxParameters::builder()
        .set_capabilities(l.capabilities.as_ref().map(|k| {
            KernelCapabilities::builder()
                .set_add(some(k.add.clone()))
                .set_drop(some(k.drop.clone()))
                .build()
        }))
        .set_devices(some(
            l.devices
                .iter()
                .map(|d| {
                    Device::builder()
                        .host_path(&d.host_path)
                        .set_container_path(d.container_path.clone())
                        .set_permissions(some(
                            d.permissions
                                .iter()
                                .map(|p| DeviceCgroupPermission::from(p.as_str()))
                                .collect(),
                        ))
                        .build()
                })
                .collect::<Result<_, _>>()?,
        ))
        .set_init_process_enabled(l.init_process_enabled)
        .set_shared_memory_size(l.shared_memory_size)
        .set_tmpfs(some(
            l.tmpfs
                .iter()
                .map(|t| {
                    Tmpfs::builder()
                        .container_path(&t.container_path)
                        .size(t.size)
                        .set_mount_options(some(t.mount_options.clone()))
                        .build()
                })
                .collect::<Result<_, _>>()?,
        ))
        .set_max_swap(l.max_swap)
        .set_swappiness(l.swappiness)
        .build())
}

/// The `RegisterTaskDefinition` request for `doc`'s content: every setting, tags included.
#[allow(deprecated)] // Elastic Inference is retired; kept so old documents restore whole.
fn register_request(
    doc: &TaskDefinitionDoc,
) -> Result<RegisterTaskDefinitionInputBuilder, EcsBackupError> {
    let target = doc.family.as_str();
    let containers = doc
        .container_definitions
        .iter()
        .map(sdk_container)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(target, e))?;
    let volumes = doc
        .volumes
        .iter()
        .map(sdk_volume)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(target, e))?;
    let proxy = doc
        .proxy_configuration
        .as_ref()
        .map(|p| {
            ProxyConfiguration::builder()
                .set_type(p.kind.as_deref().map(ProxyConfigurationType::from))
                .container_name(&p.container_name)
                .set_properties(some(
                    p.properties
                        .iter()
                        .map(|(name, value)| {
                            KeyValuePair::builder().name(name).value(value).build()
                        })
                        .collect(),
                ))
                .build()
        })
        .transpose()
        .map_err(|e| invalid(target, e))?;
    let accelerators = doc
        .inference_accelerators
        .iter()
        .map(|a| {
            aws_sdk_ecs::types::InferenceAccelerator::builder()
                .device_name(&a.device_name)
                .device_type(&a.device_type)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(target, e))?;
    Ok(RegisterTaskDefinitionInput::builder()
        .family(&doc.family)
        .set_task_role_arn(doc.task_role_arn.clone())
        .set_execution_role_arn(doc.execution_role_arn.clone())
        .set_network_mode(doc.network_mode.as_deref().map(NetworkMode::from))
        .set_container_definitions(Some(containers))
        .set_volumes(some(volumes))
        .set_placement_constraints(some(
            doc.placement_constraints
                .iter()
                .map(|c| {
                    TaskDefinitionPlacementConstraint::builder()
                        .set_type(
                            c.kind
                                .as_deref()
                                .map(TaskDefinitionPlacementConstraintType::from),
                        )
                        .set_expression(c.expression.clone())
                        .build()
                })
                .collect(),
        ))
        .set_requires_compatibilities(some(
            doc.requires_compatibilities
                .iter()
                .map(|c| Compatibility::from(c.as_str()))
                .collect(),
        ))
        .set_cpu(doc.cpu.clone())
        .set_memory(doc.memory.clone())
        .set_tags(some(sdk_tags(&doc.tags)))
        .set_pid_mode(doc.pid_mode.as_deref().map(PidMode::from))
        .set_ipc_mode(doc.ipc_mode.as_deref().map(IpcMode::from))
        .set_proxy_configuration(proxy)
        .set_inference_accelerators(some(accelerators))
        .set_ephemeral_storage(doc.ephemeral_storage.as_ref().map(|e| {
            EphemeralStorage::builder()
                .size_in_gib(e.size_in_gib)
                .build()
        }))
        .set_runtime_platform(doc.runtime_platform.as_ref().map(|p| {
            RuntimePlatform::builder()
                .set_cpu_architecture(p.cpu_architecture.as_deref().map(CpuArchitecture::from))
                .set_operating_system_family(
                    p.operating_system_family.as_deref().map(OsFamily::from),
                )
                .build()
        }))
        .set_enable_fault_injection(doc.enable_fault_injection))
}

/// Registers `doc`'s content as a new revision of its family; returns the new ARN.
async fn register(
    client: &aws_sdk_ecs::Client,
    doc: &TaskDefinitionDoc,
) -> Result<String, EcsBackupError> {
    let target = doc.family.as_str();
    let output = register_request(doc)?
        .send_with(client)
        .await
        .map_err(|error| aws("RegisterTaskDefinition", target, &error))?;
    output
        .task_definition()
        .and_then(|td| td.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| {
            AwsCallError::unexpected(
                "RegisterTaskDefinition",
                "no task definition ARN in the answer",
            )
            .on(target)
            .into()
        })
}

fn sdk_deployment_configuration(
    c: &DeploymentConfigurationDoc,
) -> Result<DeploymentConfiguration, BuildError> {
    Ok(DeploymentConfiguration::builder()
        .set_maximum_percent(c.maximum_percent)
        .set_minimum_healthy_percent(c.minimum_healthy_percent)
        .set_deployment_circuit_breaker(c.deployment_circuit_breaker.as_ref().map(|b| {
            DeploymentCircuitBreaker::builder()
                .enable(b.enable)
                .rollback(b.rollback)
                .build()
        }))
        .set_alarms(
            c.alarms
                .as_ref()
                .map(|a| {
                    DeploymentAlarms::builder()
                        .set_alarm_names(Some(a.alarm_names.clone()))
                        .enable(a.enable)
                        .rollback(a.rollback)
                        .build()
                })
                .transpose()?,
        )
        .set_strategy(c.strategy.as_deref().map(DeploymentStrategy::from))
        .set_bake_time_in_minutes(c.bake_time_in_minutes)
        .set_linear_configuration(c.linear_configuration.as_ref().map(|l| {
            LinearConfiguration::builder()
                .set_step_percent(l.step_percent)
                .set_step_bake_time_in_minutes(l.step_bake_time_in_minutes)
                .build()
        }))
        .set_canary_configuration(c.canary_configuration.as_ref().map(|l| {
            CanaryConfiguration::builder()
                .set_canary_percent(l.canary_percent)
                .set_canary_bake_time_in_minutes(l.canary_bake_time_in_minutes)
                .build()
        }))
        .build())
}

fn sdk_network_configuration(
    n: &NetworkConfigurationDoc,
) -> Result<NetworkConfiguration, BuildError> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(n.subnets.clone()))
                .set_security_groups(some(n.security_groups.clone()))
                .set_assign_public_ip(n.assign_public_ip.as_deref().map(AssignPublicIp::from))
                .build()?,
        )
        .build())
}

/// The `UpdateService` request with the settings of `update` (and only those).
fn update_request(
    cluster: &str,
    service: &str,
    update: &ServiceUpdate,
) -> Result<UpdateServiceInputBuilder, EcsBackupError> {
    let target = format!("{cluster}/{service}");
    let deployment_configuration = update
        .deployment_configuration
        .as_ref()
        .map(sdk_deployment_configuration)
        .transpose()
        .map_err(|e| invalid(&target, e))?;
    let network_configuration = update
        .network_configuration
        .as_ref()
        .map(sdk_network_configuration)
        .transpose()
        .map_err(|e| invalid(&target, e))?;
    let capacity_provider_strategy = update
        .capacity_provider_strategy
        .as_ref()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    CapacityProviderStrategyItem::builder()
                        .capacity_provider(&item.capacity_provider)
                        .weight(item.weight)
                        .base(item.base)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|e| invalid(&target, e))?;
    Ok(UpdateServiceInput::builder()
        .cluster(cluster)
        .service(service)
        .set_task_definition(update.task_definition.clone())
        .set_desired_count(update.desired_count)
        .set_capacity_provider_strategy(capacity_provider_strategy)
        .set_platform_version(update.platform_version.clone())
        .set_deployment_configuration(deployment_configuration)
        .set_network_configuration(network_configuration)
        .set_placement_constraints(update.placement_constraints.as_ref().map(|constraints| {
            constraints
                .iter()
                .map(|c| {
                    PlacementConstraint::builder()
                        .set_type(c.kind.as_deref().map(PlacementConstraintType::from))
                        .set_expression(c.expression.clone())
                        .build()
                })
                .collect()
        }))
        .set_placement_strategy(update.placement_strategy.as_ref().map(|strategy| {
            strategy
                .iter()
                .map(|s| {
                    PlacementStrategy::builder()
                        .set_type(s.kind.as_deref().map(PlacementStrategyType::from))
                        .set_field(s.field.clone())
                        .build()
                })
                .collect()
        }))
        .set_health_check_grace_period_seconds(update.health_check_grace_period_seconds)
        .set_enable_execute_command(update.enable_execute_command)
        .set_enable_ecs_managed_tags(update.enable_ecs_managed_tags)
        .set_propagate_tags(update.propagate_tags.as_deref().map(PropagateTags::from))
        .set_load_balancers(update.load_balancers.as_ref().map(|lbs| {
            lbs.iter()
                .map(|lb| {
                    LoadBalancer::builder()
                        .set_target_group_arn(lb.target_group_arn.clone())
                        .set_load_balancer_name(lb.load_balancer_name.clone())
                        .set_container_name(lb.container_name.clone())
                        .set_container_port(lb.container_port)
                        .set_advanced_configuration(lb.advanced_configuration.as_ref().map(|a| {
                            AdvancedConfiguration::builder()
                                .set_alternate_target_group_arn(
                                    a.alternate_target_group_arn.clone(),
                                )
                                .set_production_listener_rule(a.production_listener_rule.clone())
                                .set_test_listener_rule(a.test_listener_rule.clone())
                                .set_role_arn(a.role_arn.clone())
                                .build()
                        }))
                        .build()
                })
                .collect()
        }))
        .set_service_registries(update.service_registries.as_ref().map(|registries| {
            registries
                .iter()
                .map(|r| {
                    ServiceRegistry::builder()
                        .set_registry_arn(r.registry_arn.clone())
                        .set_port(r.port)
                        .set_container_name(r.container_name.clone())
                        .set_container_port(r.container_port)
                        .build()
                })
                .collect()
        }))
        .set_availability_zone_rebalancing(
            update
                .availability_zone_rebalancing
                .as_deref()
                .map(AvailabilityZoneRebalancing::from),
        ))
}

/// Sends one `UpdateService` with the settings of `update`.
async fn update_service(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    update: &ServiceUpdate,
) -> Result<(), EcsBackupError> {
    let target = format!("{cluster}/{service}");
    update_request(cluster, service, update)?
        .send_with(client)
        .await
        .map_err(|error| match error.as_service_error() {
            Some(e)
                if e.is_service_not_found_exception() || e.is_service_not_active_exception() =>
            {
                EcsBackupError::ServiceNotFound {
                    cluster: cluster.to_owned(),
                    service: service.to_owned(),
                }
            }
            Some(e) if e.is_cluster_not_found_exception() => EcsBackupError::ClusterNotFound {
                cluster: cluster.to_owned(),
            },
            _ => aws("UpdateService", &target, &error),
        })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Restore

/// What [`restore_service`] may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestoreServiceOptions {
    /// Change anything at all (false: dry run, only read and report).
    pub apply: bool,
    /// With `apply`: also put the service back on the restored revision and restore its
    /// settings and tags (false: only register the task definition).
    pub update_service: bool,
}

/// What happened (or, in a dry run, would happen) to the service's task definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TaskDefinitionAction {
    /// The revision the live service runs already has the backed-up content.
    Unchanged {
        /// That revision.
        live_arn: String,
    },
    /// An existing ACTIVE revision (the family's latest) has the backed-up content: it is used
    /// as is, nothing is registered.
    Reuse {
        /// That revision.
        arn: String,
        /// How the live service's revision differs from the backup (`path: live → backup`).
        differences: Vec<String>,
    },
    /// The backed-up content must be registered as a new revision (dry run: not done).
    Register {
        /// How the live service's revision (or the family's latest, when the service is
        /// missing) differs from the backup (`path: live → backup`).
        differences: Vec<String>,
    },
    /// The backed-up content was registered as a new revision.
    Registered {
        /// The new revision.
        arn: String,
        /// The differences that made it necessary (`path: live → backup`).
        differences: Vec<String>,
    },
}

impl TaskDefinitionAction {
    /// The revision that has the backed-up content, when one exists (or was just registered).
    pub fn target_arn(&self) -> Option<&str> {
        match self {
            TaskDefinitionAction::Unchanged { live_arn } => Some(live_arn),
            TaskDefinitionAction::Reuse { arn, .. }
            | TaskDefinitionAction::Registered { arn, .. } => Some(arn),
            TaskDefinitionAction::Register { .. } => None,
        }
    }
}

/// The outcome of [`restore_service`].
#[derive(Debug, Clone, Serialize)]
pub struct EcsRestoreReport {
    /// Cluster name.
    pub cluster: String,
    /// Service name.
    pub service: String,
    /// The task definition: unchanged, reused, to register or registered.
    pub task_definition: TaskDefinitionAction,
    /// How the live service's settings differ from the backup (`path: live → backup`), with
    /// the task definition compared against the revision the service should run.
    pub service_changes: Vec<String>,
    /// Differences `UpdateService` cannot undo (they need the service re-created, which this
    /// version does not do); they are left as they are.
    pub service_not_restored: Vec<String>,
    /// The revision registered by this run, if any.
    pub registered_arn: Option<String>,
    /// Whether `UpdateService`, `TagResource` or `UntagResource` was called.
    pub service_updated: bool,
    /// The service does not exist (or is inactive): only its task definition is restored.
    pub service_missing: bool,
}

/// Restores one service from its document, diff first (see the module docs): reports what
/// differs and, with `options.apply`, registers the backed-up task definition when no existing
/// revision has its content and (with `options.update_service`) brings the service back to
/// the backed-up settings. Running it again after a successful run changes nothing.
///
/// Fails with [`EcsBackupError::ClusterNotFound`] when the cluster is gone; a missing service
/// is reported (`service_missing`), not created.
pub async fn restore_service(
    client: &aws_sdk_ecs::Client,
    doc: &ServiceDocument,
    options: &RestoreServiceOptions,
) -> Result<EcsRestoreReport, EcsBackupError> {
    let cluster = cluster_name(&doc.cluster);
    let name = doc.service.name.as_str();
    let backup = doc
        .in_use()
        .ok_or_else(|| EcsBackupError::InvalidDocument {
            target: format!("{cluster}/{name}"),
            message: "the document holds no task definition".into(),
        })?;

    let live = describe_services(client, cluster, &[name.to_owned()])
        .await?
        .into_iter()
        .find(|service| service.service_name() == Some(name))
        .map(|service| service_config(&service));

    // The task definition: the live service's revision, else the family's latest ACTIVE one.
    let live_definition = match &live {
        Some(service) => Some(describe_task_definition(client, &service.task_definition).await?),
        None => None,
    };
    let live_differences = live_definition
        .as_ref()
        .map(|live| diff_task_definition(backup, live));
    let mut action = match (&live_definition, live_differences) {
        (Some(live), Some(differences)) if differences.is_empty() => {
            TaskDefinitionAction::Unchanged {
                live_arn: live.arn.clone(),
            }
        }
        (_, differences) => {
            let latest = latest_active(client, &backup.family).await?;
            let latest_differences = latest
                .as_ref()
                .map(|latest| diff_task_definition(backup, latest));
            match (latest, latest_differences) {
                (Some(latest), Some(latest_differences)) if latest_differences.is_empty() => {
                    TaskDefinitionAction::Reuse {
                        arn: latest.arn,
                        differences: differences.unwrap_or_default(),
                    }
                }
                (_, latest_differences) => TaskDefinitionAction::Register {
                    differences: differences.or(latest_differences).unwrap_or_else(|| {
                        vec![format!("family {}: no ACTIVE revision", backup.family)]
                    }),
                },
            }
        }
    };

    let mut registered_arn = None;
    if options.apply {
        if let TaskDefinitionAction::Register { differences } = &action {
            let arn = register(client, backup).await?;
            registered_arn = Some(arn.clone());
            action = TaskDefinitionAction::Registered {
                arn,
                differences: differences.clone(),
            };
        }
    }

    let mut report = EcsRestoreReport {
        cluster: cluster.to_owned(),
        service: name.to_owned(),
        task_definition: action,
        service_changes: Vec::new(),
        service_not_restored: Vec::new(),
        registered_arn,
        service_updated: false,
        service_missing: live.is_none(),
    };
    let Some(live) = live else {
        return Ok(report);
    };

    let target = report
        .task_definition
        .target_arn()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}:(new revision)", backup.family));
    let mut wanted = doc.service.clone();
    wanted.task_definition = target.clone();
    report.service_changes = diff_service(&wanted, &live);
    let plan = plan_service_restore(&doc.service, &live, &target);
    report.service_not_restored = plan.not_restorable.clone();

    if options.apply && options.update_service && !plan.is_empty() {
        if !plan.update.is_empty() {
            update_service(client, cluster, name, &plan.update).await?;
        }
        if !plan.tags_to_set.is_empty() {
            client
                .tag_resource()
                .resource_arn(&live.arn)
                .set_tags(Some(sdk_tags(&plan.tags_to_set)))
                .send()
                .await
                .map_err(|error| aws("TagResource", &live.arn, &error))?;
        }
        if !plan.tags_to_remove.is_empty() {
            client
                .untag_resource()
                .resource_arn(&live.arn)
                .set_tag_keys(Some(plan.tags_to_remove.clone()))
                .send()
                .await
                .map_err(|error| aws("UntagResource", &live.arn, &error))?;
        }
        report.service_updated = true;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    fn secret(name: &str) -> SecretRef {
        SecretRef {
            name: name.into(),
            value_from: format!("arn:aws:secretsmanager:us-east-1:1:secret:{name}"),
        }
    }

    /// A container with every setting set to something other than its default.
    fn full_container() -> ContainerDoc {
        ContainerDoc {
            name: "web".into(),
            image: "registry/web:1".into(),
            cpu: 128,
            memory: Some(512),
            memory_reservation: Some(256),
            essential: Some(true),
            port_mappings: vec![PortMappingDoc {
                container_port: Some(8080),
                host_port: Some(8080),
                protocol: Some("tcp".into()),
                name: Some("http".into()),
                app_protocol: Some("http".into()),
                container_port_range: None,
            }],
            environment: map(&[("A", "1"), ("B", "")]),
            environment_files: vec![EnvironmentFileDoc {
                value: "arn:aws:s3:::bucket/web.env".into(),
                kind: "s3".into(),
            }],
            secrets: vec![secret("API_KEY"), secret("DB_PASSWORD")],
            command: v(&["serve", "--port=8080"]),
            entry_point: v(&["/init"]),
            working_directory: Some("/app".into()),
            mount_points: vec![MountPointDoc {
                source_volume: Some("data".into()),
                container_path: Some("/data".into()),
                read_only: Some(true),
            }],
            volumes_from: vec![VolumeFromDoc {
                source_container: Some("side".into()),
                read_only: Some(false),
            }],
            log_configuration: Some(LogConfigurationDoc {
                log_driver: "awslogs".into(),
                options: map(&[("awslogs-group", "/ecs/web")]),
                secret_options: vec![secret("SPLUNK_TOKEN")],
            }),
            health_check: Some(HealthCheckDoc {
                command: v(&["CMD-SHELL", "true"]),
                interval: Some(30),
                timeout: Some(5),
                retries: Some(3),
                start_period: Some(10),
            }),
            depends_on: vec![ContainerDependencyDoc {
                container_name: "side".into(),
                condition: "HEALTHY".into(),
            }],
            ulimits: vec![UlimitDoc {
                name: "nofile".into(),
                soft_limit: 1024,
                hard_limit: 4096,
            }],
            user: Some("1000:1000".into()),
            readonly_root_filesystem: Some(true),
            privileged: Some(false),
            stop_timeout: Some(30),
            start_timeout: Some(60),
            docker_labels: map(&[("team", "payments")]),
            linux_parameters: Some(LinuxParametersDoc {
                capabilities: Some(KernelCapabilitiesDoc {
                    add: v(&["NET_ADMIN"]),
                    drop: v(&["ALL"]),
                }),
                devices: vec![DeviceDoc {
                    host_path: "/dev/fuse".into(),
                    container_path: Some("/dev/fuse".into()),
                    permissions: v(&["read", "write"]),
                }],
                init_process_enabled: Some(true),
                shared_memory_size: Some(64),
                tmpfs: vec![TmpfsDoc {
                    container_path: "/tmp".into(),
                    size: 64,
                    mount_options: v(&["noexec"]),
                }],
                max_swap: Some(0),
                swappiness: Some(10),
            }),
            repository_credentials: Some(RepositoryCredentialsDoc {
                credentials_parameter: "arn:aws:secretsmanager:us-east-1:1:secret:registry".into(),
            }),
            firelens_configuration: Some(FirelensDoc {
                kind: "fluentbit".into(),
                options: map(&[("enable-ecs-log-metadata", "true")]),
            }),
            system_controls: vec![SystemControlDoc {
                namespace: Some("net.core.somaxconn".into()),
                value: Some("1024".into()),
            }],
            extra_hosts: vec![HostEntryDoc {
                hostname: "db".into(),
                ip_address: "10.0.0.5".into(),
            }],
            dns_servers: v(&["10.0.0.2"]),
            dns_search_domains: v(&["internal"]),
            hostname: Some("web".into()),
            interactive: Some(false),
            pseudo_terminal: Some(false),
            resource_requirements: vec![ResourceRequirementDoc {
                kind: "GPU".into(),
                value: "1".into(),
                sharing_strategy: Some(SharingStrategyDoc {
                    nvidia_mps: Some(NvidiaMpsDoc {
                        memory: 1024,
                        max_compute_percent: Some(50),
                    }),
                }),
            }],
            links: v(&["side:side"]),
            disable_networking: Some(false),
            docker_security_options: v(&["no-new-privileges"]),
            credential_specs: v(&["credentialspec:arn:aws:s3:::bucket/spec.json"]),
            restart_policy: Some(RestartPolicyDoc {
                enabled: true,
                ignored_exit_codes: vec![0, 143],
                restart_attempt_period: Some(60),
            }),
            version_consistency: Some("disabled".into()),
        }
    }

    /// A task definition with every setting set.
    fn full_task_definition() -> TaskDefinitionDoc {
        TaskDefinitionDoc {
            arn: String::new(),
            family: "web".into(),
            revision: 0,
            task_role_arn: Some("arn:aws:iam::1:role/task".into()),
            execution_role_arn: Some("arn:aws:iam::1:role/execution".into()),
            network_mode: Some("awsvpc".into()),
            cpu: Some("512".into()),
            memory: Some("1024".into()),
            requires_compatibilities: v(&["EC2", "FARGATE"]),
            runtime_platform: Some(RuntimePlatformDoc {
                cpu_architecture: Some("ARM64".into()),
                operating_system_family: Some("LINUX".into()),
            }),
            volumes: vec![
                VolumeDoc {
                    name: "data".into(),
                    host: Some(HostVolumeDoc {
                        source_path: Some("/srv/data".into()),
                    }),
                    configured_at_launch: Some(false),
                    ..Default::default()
                },
                VolumeDoc {
                    name: "docker".into(),
                    docker_volume_configuration: Some(DockerVolumeDoc {
                        scope: Some("shared".into()),
                        autoprovision: Some(true),
                        driver: Some("local".into()),
                        driver_opts: map(&[("type", "tmpfs")]),
                        labels: map(&[("a", "b")]),
                    }),
                    ..Default::default()
                },
                VolumeDoc {
                    name: "efs".into(),
                    efs_volume_configuration: Some(EfsVolumeDoc {
                        file_system_id: "fs-1".into(),
                        root_directory: Some("/".into()),
                        transit_encryption: Some("ENABLED".into()),
                        transit_encryption_port: Some(2999),
                        authorization_config: Some(EfsAuthorizationDoc {
                            access_point_id: Some("fsap-1".into()),
                            iam: Some("ENABLED".into()),
                        }),
                    }),
                    ..Default::default()
                },
                VolumeDoc {
                    name: "fsx".into(),
                    fsx_windows_file_server_volume_configuration: Some(FsxWindowsVolumeDoc {
                        file_system_id: "fs-2".into(),
                        root_directory: "share".into(),
                        authorization_config: Some(FsxWindowsAuthorizationDoc {
                            credentials_parameter: "arn:aws:ssm:us-east-1:1:parameter/fsx".into(),
                            domain: "corp.example".into(),
                        }),
                    }),
                    ..Default::default()
                },
            ],
            placement_constraints: vec![PlacementConstraintDoc {
                kind: Some("memberOf".into()),
                expression: Some("attribute:ecs.instance-type =~ t3.*".into()),
            }],
            pid_mode: Some("task".into()),
            ipc_mode: Some("none".into()),
            ephemeral_storage: Some(EphemeralStorageDoc { size_in_gib: 30 }),
            proxy_configuration: Some(ProxyConfigurationDoc {
                kind: Some("APPMESH".into()),
                container_name: "envoy".into(),
                properties: map(&[("AppPorts", "8080"), ("ProxyIngressPort", "15000")]),
            }),
            inference_accelerators: vec![InferenceAcceleratorDoc {
                device_name: "acc".into(),
                device_type: "eia2.medium".into(),
            }],
            enable_fault_injection: Some(true),
            container_definitions: vec![
                full_container(),
                ContainerDoc {
                    name: "side".into(),
                    image: "busybox".into(),
                    essential: Some(false),
                    ..Default::default()
                },
            ],
            tags: map(&[("team", "payments")]),
        }
    }

    #[test]
    #[allow(deprecated)] // inference accelerators
    fn every_task_definition_setting_is_registered() {
        let doc = full_task_definition();
        let input = register_request(&doc)
            .expect("request")
            .build()
            .expect("input");
        // What ECS would store and describe back.
        let described = TaskDefinition::builder()
            .set_family(input.family)
            .set_task_role_arn(input.task_role_arn)
            .set_execution_role_arn(input.execution_role_arn)
            .set_network_mode(input.network_mode)
            .set_container_definitions(input.container_definitions)
            .set_volumes(input.volumes)
            .set_placement_constraints(input.placement_constraints)
            .set_requires_compatibilities(input.requires_compatibilities)
            .set_cpu(input.cpu)
            .set_memory(input.memory)
            .set_pid_mode(input.pid_mode)
            .set_ipc_mode(input.ipc_mode)
            .set_proxy_configuration(input.proxy_configuration)
            .set_inference_accelerators(input.inference_accelerators)
            .set_ephemeral_storage(input.ephemeral_storage)
            .set_runtime_platform(input.runtime_platform)
            .set_enable_fault_injection(input.enable_fault_injection)
            .build();
        let back = task_definition_doc(&described, input.tags.as_deref().unwrap_or_default());
        assert_eq!(back, doc);
        assert_eq!(diff_task_definition(&doc, &back), Vec::<String>::new());
    }

    /// A service with every setting `UpdateService` takes set.
    fn full_service() -> ServiceConfig {
        ServiceConfig {
            name: "web".into(),
            arn: "arn:aws:ecs:us-east-1:1:service/prod/web".into(),
            task_definition: "arn:aws:ecs:us-east-1:1:task-definition/web:3".into(),
            desired_count: 3,
            launch_type: None,
            capacity_provider_strategy: vec![CapacityProviderItem {
                capacity_provider: "FARGATE_SPOT".into(),
                weight: 3,
                base: 1,
            }],
            platform_version: Some("1.4.0".into()),
            scheduling_strategy: Some("REPLICA".into()),
            deployment_configuration: Some(DeploymentConfigurationDoc {
                maximum_percent: Some(200),
                minimum_healthy_percent: Some(50),
                deployment_circuit_breaker: Some(CircuitBreakerDoc {
                    enable: true,
                    rollback: true,
                }),
                alarms: Some(DeploymentAlarmsDoc {
                    alarm_names: v(&["web-5xx"]),
                    enable: true,
                    rollback: true,
                }),
                strategy: Some("CANARY".into()),
                bake_time_in_minutes: Some(10),
                linear_configuration: Some(LinearConfigurationDoc {
                    step_percent: Some(25.0),
                    step_bake_time_in_minutes: Some(5),
                }),
                canary_configuration: Some(CanaryConfigurationDoc {
                    canary_percent: Some(10.0),
                    canary_bake_time_in_minutes: Some(15),
                }),
            }),
            deployment_controller: Some("ECS".into()),
            load_balancers: vec![LoadBalancerDoc {
                target_group_arn: Some("arn:tg/blue".into()),
                load_balancer_name: None,
                container_name: Some("web".into()),
                container_port: Some(8080),
                advanced_configuration: Some(AdvancedConfigurationDoc {
                    alternate_target_group_arn: Some("arn:tg/green".into()),
                    production_listener_rule: Some("arn:rule/prod".into()),
                    test_listener_rule: Some("arn:rule/test".into()),
                    role_arn: Some("arn:aws:iam::1:role/lb".into()),
                }),
            }],
            service_registries: vec![ServiceRegistryDoc {
                registry_arn: Some("arn:servicediscovery:web".into()),
                port: Some(8080),
                container_name: Some("web".into()),
                container_port: Some(8080),
            }],
            network_configuration: Some(NetworkConfigurationDoc {
                subnets: v(&["subnet-1", "subnet-2"]),
                security_groups: v(&["sg-1"]),
                assign_public_ip: Some("DISABLED".into()),
            }),
            placement_constraints: vec![PlacementConstraintDoc {
                kind: Some("distinctInstance".into()),
                expression: None,
            }],
            placement_strategy: vec![PlacementStrategyDoc {
                kind: Some("spread".into()),
                field: Some("attribute:ecs.availability-zone".into()),
            }],
            health_check_grace_period_seconds: Some(60),
            enable_ecs_managed_tags: true,
            propagate_tags: Some("SERVICE".into()),
            enable_execute_command: true,
            availability_zone_rebalancing: Some("ENABLED".into()),
            role_arn: Some("arn:aws:iam::1:role/ecs-service".into()),
            tags: map(&[("team", "payments")]),
        }
    }

    #[test]
    fn every_updatable_service_setting_is_sent() {
        let backup = full_service();
        // A live service with every updatable setting at its default and the ones only
        // CreateService takes as in the backup.
        let live = ServiceConfig {
            name: backup.name.clone(),
            arn: backup.arn.clone(),
            task_definition: "arn:aws:ecs:us-east-1:1:task-definition/web:9".into(),
            scheduling_strategy: backup.scheduling_strategy.clone(),
            deployment_controller: backup.deployment_controller.clone(),
            role_arn: backup.role_arn.clone(),
            ..Default::default()
        };
        let plan = plan_service_restore(&backup, &live, &backup.task_definition);
        assert!(plan.not_restorable.is_empty(), "{:?}", plan.not_restorable);
        assert_eq!(plan.tags_to_set, backup.tags);
        let input = update_request("prod", "web", &plan.update)
            .expect("request")
            .build()
            .expect("input");
        assert_eq!(input.cluster.as_deref(), Some("prod"));
        assert_eq!(input.service.as_deref(), Some("web"));
        // What ECS would describe after the update.
        let described = Service::builder()
            .service_name(&live.name)
            .service_arn(&live.arn)
            .set_scheduling_strategy(live.scheduling_strategy.as_deref().map(Into::into))
            .set_deployment_controller(
                live.deployment_controller
                    .as_deref()
                    .map(|kind| {
                        aws_sdk_ecs::types::DeploymentController::builder()
                            .r#type(kind.into())
                            .build()
                    })
                    .transpose()
                    .expect("controller"),
            )
            .set_role_arn(live.role_arn.clone())
            .set_tags(Some(sdk_tags(&plan.tags_to_set)))
            .set_task_definition(input.task_definition)
            .set_desired_count(input.desired_count)
            .set_capacity_provider_strategy(input.capacity_provider_strategy)
            .set_platform_version(input.platform_version)
            .set_deployment_configuration(input.deployment_configuration)
            .set_network_configuration(input.network_configuration)
            .set_placement_constraints(input.placement_constraints)
            .set_placement_strategy(input.placement_strategy)
            .set_health_check_grace_period_seconds(input.health_check_grace_period_seconds)
            .set_enable_execute_command(input.enable_execute_command)
            .set_enable_ecs_managed_tags(input.enable_ecs_managed_tags)
            .set_propagate_tags(input.propagate_tags)
            .set_load_balancers(input.load_balancers)
            .set_service_registries(input.service_registries)
            .set_availability_zone_rebalancing(input.availability_zone_rebalancing)
            .build();
        let back = service_config(&described);
        assert_eq!(back, backup);
        assert_eq!(diff_service(&backup, &back), Vec::<String>::new());
    }

    #[test]
    fn an_unchanged_service_sends_nothing() {
        let backup = full_service();
        let plan = plan_service_restore(&backup, &backup, "web:3");
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn names_from_arns() {
        assert_eq!(cluster_name("arn:aws:ecs:us-east-1:1:cluster/prod"), "prod");
        assert_eq!(cluster_name("prod"), "prod");
        assert_eq!(
            service_name("arn:aws:ecs:us-east-1:1:service/prod/web"),
            "web"
        );
        assert_eq!(service_name("arn:aws:ecs:us-east-1:1:service/web"), "web");
        assert_eq!(
            family_revision("arn:aws:ecs:us-east-1:1:task-definition/web-api:12"),
            Some(("web-api", 12))
        );
        assert_eq!(family_revision("web"), None);
    }
}
