//! ECS: which task definition a service runs, and putting it on another.

use crate::error::describe;

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
    /// ECS refused or could not be reached.
    #[error("{operation} failed: {message}")]
    Aws {
        /// The operation.
        operation: &'static str,
        /// The SDK error with its causes.
        message: String,
        /// Whether a later retry may succeed.
        transient: bool,
    },
}

/// The task definition ARN a service is set to run.
pub async fn service_task_definition(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<String, EcsError> {
    let output = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(e) if e.is_cluster_not_found_exception() => EcsError::ServiceNotFound {
                cluster: cluster.to_owned(),
                service: service.to_owned(),
            },
            _ => EcsError::Aws {
                operation: "DescribeServices",
                transient: crate::error::is_transient(&error),
                message: describe(&error),
            },
        })?;
    output
        .services()
        .iter()
        .find(|found| found.service_name() == Some(service) && found.status() != Some("INACTIVE"))
        .and_then(|found| found.task_definition().map(str::to_owned))
        .ok_or_else(|| EcsError::ServiceNotFound {
            cluster: cluster.to_owned(),
            service: service.to_owned(),
        })
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
        .map_err(|error| EcsError::Aws {
            operation: "UpdateService",
            transient: crate::error::is_transient(&error),
            message: describe(&error),
        })?;
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
