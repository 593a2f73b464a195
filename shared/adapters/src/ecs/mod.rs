//! ECS: services, their deployments, task definitions, and one-off tasks ([`tasks`]: a
//! lifecycle hook's database migration).

pub mod backup;
pub mod tasks;

use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, Service, TaskDefinition,
};

use crate::error::AwsCallError;

/// Errors of the ECS adapter.
#[derive(Debug, thiserror::Error)]
pub enum EcsError {
    /// The service does not exist (or is inactive) in the cluster.
    #[error("ECS service {service} not found in cluster {cluster}")]
    ServiceNotFound {
        /// Cluster.
        cluster: String,
        /// Service.
        service: String,
    },
    /// No such task definition.
    #[error("task definition {0} not found")]
    TaskDefinitionNotFound(String),
    /// No such task in the cluster (ECS forgets stopped tasks after about an hour).
    #[error("ECS task {task} not found in cluster {cluster}")]
    TaskNotFound {
        /// Cluster.
        cluster: String,
        /// Task ARN or id.
        task: String,
    },
    /// `RunTask` answered without a task: ECS could not place it (`RESOURCE:MEMORY`, …).
    #[error("ECS could not start a task of {task_definition} in cluster {cluster}: {reason}")]
    TaskNotStarted {
        /// Cluster.
        cluster: String,
        /// The task definition.
        task_definition: String,
        /// ECS's failure reasons (capped).
        reason: String,
    },
    /// A request refused before any call: what is wrong with it (a `startedBy` longer than
    /// ECS allows, an empty command, a container the task definition does not have).
    #[error("{0}")]
    Invalid(String),
    /// ECS refused or could not be reached.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl EcsError {
    /// Whether retrying later may succeed (throttling, 5xx, timeouts, lost connections, a task
    /// ECS had no room for: `RESOURCE:*`). A missing service, task definition or task stays
    /// missing; an invalid request stays invalid.
    pub fn is_transient(&self) -> bool {
        match self {
            EcsError::Aws(call) => call.is_transient(),
            EcsError::TaskNotStarted { reason, .. } => reason.starts_with("RESOURCE:"),
            _ => false,
        }
    }
}

/// One service as deploy-hook needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    /// The task definition the service is set to run.
    pub task_definition: String,
    /// Desired task count.
    pub desired_count: i32,
    /// Running task count.
    pub running_count: i32,
    /// The service's deployments (PRIMARY first as ECS lists them, then ACTIVE ones).
    pub deployments: Vec<Rollout>,
}

impl ServiceState {
    /// The PRIMARY deployment (the one ECS is rolling out or has rolled out).
    pub fn primary(&self) -> Option<&Rollout> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    /// The deployment of `task_definition`, if ECS lists one.
    pub fn deployment_of(&self, task_definition: &str) -> Option<&Rollout> {
        self.deployments
            .iter()
            .find(|d| same_task_definition(&d.task_definition, task_definition))
    }
}

/// The state of an ECS deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// Its task definition.
    pub task_definition: String,
    /// `COMPLETED`, `IN_PROGRESS` or `FAILED`.
    pub state: String,
    /// ECS's reason (why it failed, why it was rolled back).
    pub reason: String,
}

/// An SDK error of `operation` about `target` (a service, a task definition).
fn aws_error<E: crate::error::ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    target: impl AsRef<str>,
    error: &aws_sdk_ecs::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> EcsError {
    EcsError::Aws(AwsCallError::from_sdk(operation, error).on(target))
}

/// How an ECS error names a service.
fn service_target(cluster: &str, service: &str) -> String {
    format!("service {service} in cluster {cluster}")
}

/// A service as ECS describes it (not found when missing or INACTIVE, or when the cluster is).
pub(crate) async fn describe_service(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Service, EcsError> {
    let not_found = || EcsError::ServiceNotFound {
        cluster: cluster.to_owned(),
        service: service.to_owned(),
    };
    let output = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(e) if e.is_cluster_not_found_exception() => not_found(),
            _ => aws_error("DescribeServices", service_target(cluster, service), &error),
        })?;
    output
        .services
        .unwrap_or_default()
        .into_iter()
        .find(|found| found.service_name() == Some(service) && found.status() != Some("INACTIVE"))
        .ok_or_else(not_found)
}

/// The state of a service.
pub async fn service_state(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<ServiceState, EcsError> {
    let not_found = || EcsError::ServiceNotFound {
        cluster: cluster.to_owned(),
        service: service.to_owned(),
    };
    let found = describe_service(client, cluster, service).await?;
    let deployments = found
        .deployments()
        .iter()
        .map(|d| Rollout {
            status: d.status().unwrap_or_default().to_owned(),
            task_definition: d.task_definition().unwrap_or_default().to_owned(),
            state: d
                .rollout_state()
                .map_or("IN_PROGRESS", |state| state.as_str())
                .to_owned(),
            reason: d.rollout_state_reason().unwrap_or_default().to_owned(),
        })
        .collect();
    Ok(ServiceState {
        task_definition: found.task_definition().ok_or_else(not_found)?.to_owned(),
        desired_count: found.desired_count(),
        running_count: found.running_count(),
        deployments,
    })
}

/// The task definition ARN a service is set to run.
pub async fn service_task_definition(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<String, EcsError> {
    Ok(service_state(client, cluster, service)
        .await?
        .task_definition)
}

/// A task definition (by ARN, `family:revision`, or `family` for the latest ACTIVE revision).
pub async fn describe_task_definition(
    client: &aws_sdk_ecs::Client,
    task_definition: &str,
) -> Result<TaskDefinition, EcsError> {
    let output = client
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(e) if e.is_client_exception() => {
                EcsError::TaskDefinitionNotFound(task_definition.to_owned())
            }
            _ => aws_error(
                "DescribeTaskDefinition",
                format!("task definition {task_definition}"),
                &error,
            ),
        })?;
    output
        .task_definition
        .ok_or_else(|| EcsError::TaskDefinitionNotFound(task_definition.to_owned()))
}

/// The task definition a service revision runs (`DescribeServiceRevisions`); a revision ECS
/// does not know is [`EcsError::TaskDefinitionNotFound`] naming the revision.
pub async fn service_revision_task_definition(
    client: &aws_sdk_ecs::Client,
    revision_arn: &str,
) -> Result<String, EcsError> {
    let output = client
        .describe_service_revisions()
        .service_revision_arns(revision_arn)
        .send()
        .await
        .map_err(|error| {
            aws_error(
                "DescribeServiceRevisions",
                format!("service revision {revision_arn}"),
                &error,
            )
        })?;
    output
        .service_revisions()
        .iter()
        .find(|revision| revision.service_revision_arn() == Some(revision_arn))
        .and_then(|revision| revision.task_definition())
        .map(str::to_owned)
        .ok_or_else(|| {
            EcsError::TaskDefinitionNotFound(format!("of service revision {revision_arn}"))
        })
}

/// `base` with `container`'s image replaced, as the container definitions to register.
pub fn with_image(base: &TaskDefinition, container: &str, image: &str) -> Vec<ContainerDefinition> {
    base.container_definitions()
        .iter()
        .map(|definition| {
            let mut definition = definition.clone();
            if definition.name() == Some(container) {
                definition.image = Some(image.to_owned());
            }
            definition
        })
        .collect()
}

/// Registers a new revision of `base`'s family with `containers`, copying every other setting
/// of `base`. Returns the new revision's ARN.
pub async fn register_like(
    client: &aws_sdk_ecs::Client,
    base: &TaskDefinition,
    containers: Vec<ContainerDefinition>,
) -> Result<String, EcsError> {
    let output = client
        .register_task_definition()
        .family(base.family().unwrap_or_default())
        .set_task_role_arn(base.task_role_arn().map(str::to_owned))
        .set_execution_role_arn(base.execution_role_arn().map(str::to_owned))
        .set_network_mode(base.network_mode().cloned())
        .set_container_definitions(Some(containers))
        .set_volumes(Some(base.volumes().to_vec()).filter(|v| !v.is_empty()))
        .set_placement_constraints(
            Some(base.placement_constraints().to_vec()).filter(|v| !v.is_empty()),
        )
        .set_requires_compatibilities(
            Some(base.requires_compatibilities().to_vec()).filter(|v| !v.is_empty()),
        )
        .set_cpu(base.cpu().map(str::to_owned))
        .set_memory(base.memory().map(str::to_owned))
        .set_pid_mode(base.pid_mode().cloned())
        .set_ipc_mode(base.ipc_mode().cloned())
        .set_proxy_configuration(base.proxy_configuration().cloned())
        .set_ephemeral_storage(base.ephemeral_storage().cloned())
        .set_runtime_platform(base.runtime_platform().cloned())
        .send()
        .await
        .map_err(|error| aws_error("RegisterTaskDefinition", family_target(base), &error))?;
    output
        .task_definition()
        .and_then(|td| td.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| {
            AwsCallError::unexpected(
                "RegisterTaskDefinition",
                "no task definition ARN in the answer",
            )
            .on(family_target(base))
            .into()
        })
}

/// How an ECS error names the family a revision is registered in.
fn family_target(base: &TaskDefinition) -> String {
    format!(
        "task definition family {}",
        base.family().unwrap_or_default()
    )
}

/// How [`deploy`] asks ECS to replace tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Minimum healthy 0 %, maximum 100 %: every task at once.
    AllAtOnce,
    /// Minimum healthy 100 %, maximum 200 %, deployment circuit breaker with rollback.
    Rolling,
    /// Leave the service's deployment configuration as it is.
    Keep,
}

/// Puts a service on `task_definition` with the given replacement settings, and sets its
/// desired count when given.
pub async fn deploy(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    task_definition: &str,
    replace: Replace,
    desired_count: Option<i32>,
) -> Result<(), EcsError> {
    let configuration = match replace {
        Replace::AllAtOnce => Some(
            DeploymentConfiguration::builder()
                .minimum_healthy_percent(0)
                .maximum_percent(100)
                .build(),
        ),
        Replace::Rolling => Some(
            DeploymentConfiguration::builder()
                .minimum_healthy_percent(100)
                .maximum_percent(200)
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder()
                        .enable(true)
                        .rollback(true)
                        .build(),
                )
                .build(),
        ),
        Replace::Keep => None,
    };
    client
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(task_definition)
        .set_deployment_configuration(configuration)
        .set_desired_count(desired_count)
        .send()
        .await
        .map_err(|error| aws_error("UpdateService", service_target(cluster, service), &error))?;
    Ok(())
}

/// Sets a service's desired count.
pub async fn scale(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    desired_count: i32,
) -> Result<(), EcsError> {
    client
        .update_service()
        .cluster(cluster)
        .service(service)
        .desired_count(desired_count)
        .send()
        .await
        .map_err(|error| aws_error("UpdateService", service_target(cluster, service), &error))?;
    Ok(())
}

/// Puts a service on a task definition (ECS then replaces its tasks).
pub async fn set_task_definition(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    task_definition: &str,
) -> Result<(), EcsError> {
    client
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(task_definition)
        .send()
        .await
        .map_err(|error| aws_error("UpdateService", service_target(cluster, service), &error))?;
    Ok(())
}

/// Whether two task definition references name the same revision: an ARN
/// (`arn:aws:ecs:…:task-definition/web:3`) and `web:3` do.
pub fn same_task_definition(a: &str, b: &str) -> bool {
    fn short(reference: &str) -> &str {
        reference
            .rsplit_once("task-definition/")
            .map_or(reference, |(_, rest)| rest)
    }
    short(a) == short(b)
}

#[cfg(test)]
mod tests {
    use super::same_task_definition;

    #[test]
    fn arn_and_family_revision_compare_equal() {
        assert!(same_task_definition(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
            "web:3"
        ));
        assert!(!same_task_definition(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
            "web:4"
        ));
        assert!(same_task_definition("web:3", "web:3"));
    }
}
