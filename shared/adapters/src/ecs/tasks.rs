//! One-off ECS tasks for the `task` lifecycle hook (a database migration): started where a
//! service runs, with one container's command overridden, found again by their `startedBy`, and
//! read until they stop.
//!
//! A task is named by its `startedBy` (at most 36 letters, digits, `-` and `_`; the caller derives
//! it from the deployment and the hook step, e.g. a hash), so a retry after a lost `RunTask`
//! answer finds the task it started instead of starting a second one: [`run_once`] looks for a
//! task with that `startedBy` first. ECS lists a task it just started within seconds, not
//! instantly; a retry comes later than that.
//!
//! The caller needs `ecs:RunTask`, `ecs:ListTasks`, `ecs:DescribeTasks`,
//! `ecs:DescribeServices`, `ecs:DescribeTaskDefinition`, and `iam:PassRole` on the task
//! definition's task and execution roles.

use aws_sdk_ecs::types::{
    ContainerOverride, DesiredStatus, LaunchType, LogDriver, Task, TaskDefinition, TaskOverride,
};

use super::{aws_error, describe_service, describe_task_definition, EcsError};
use crate::error::{bounded, MAX_MESSAGE};

/// Most characters of a `startedBy` (ECS's limit).
pub const MAX_STARTED_BY: usize = 36;

/// A one-off task as a hook needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// The task ARN.
    pub arn: String,
    /// ECS's `lastStatus` (`PROVISIONING`, `PENDING`, `RUNNING`, …, `STOPPED`).
    pub last_status: String,
    /// Whether the task has stopped (its `lastStatus` is `STOPPED`).
    pub stopped: bool,
    /// The exit code of the hook's container, once it has exited (none when it never started,
    /// e.g. the image could not be pulled: see `stopped_reason`).
    pub exit_code: Option<i32>,
    /// Why the task stopped (`Essential container in task exited`, `CannotPullContainerError…`).
    pub stopped_reason: Option<String>,
    /// The container's CloudWatch Logs stream as `group/stream`
    /// (`awslogs-group` / `awslogs-stream-prefix/<container>/<task id>`); none when the
    /// container does not log to CloudWatch Logs with a stream prefix.
    pub log_stream: Option<String>,
}

/// Starts one task of `task_definition` in `cluster` where the service `like_service` runs (its
/// launch type or capacity provider strategy, network configuration, platform version,
/// placement), with `container`'s command replaced by `command` and `startedBy` set to
/// `started_by`. Returns the task ARN.
///
/// If a task with this `startedBy` exists already (running or stopped), its ARN is returned and
/// nothing is started. Bad input (an empty command, a `startedBy` ECS would refuse, a container
/// the task definition does not have) is an [`EcsError::Invalid`] before anything starts.
pub async fn run_once(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    like_service: &str,
    task_definition: &str,
    container: &str,
    command: &[String],
    started_by: &str,
) -> Result<String, EcsError> {
    check_started_by(started_by)?;
    if command.is_empty() || command.iter().all(|part| part.trim().is_empty()) {
        return Err(EcsError::Invalid(format!(
            "the command of the task hook in container {} is empty",
            bounded(container, 64)
        )));
    }
    if let Some(existing) = find(client, cluster, started_by).await? {
        return Ok(existing.arn);
    }
    let definition = describe_task_definition(client, task_definition).await?;
    if !definition
        .container_definitions()
        .iter()
        .any(|c| c.name() == Some(container))
    {
        return Err(EcsError::Invalid(format!(
            "task definition {} has no container {}",
            bounded(task_definition, 200),
            bounded(container, 64)
        )));
    }
    let service = describe_service(client, cluster, like_service).await?;
    let strategy = service.capacity_provider_strategy().to_vec();
    let launch_type = if strategy.is_empty() {
        service.launch_type().cloned()
    } else {
        None
    };
    // A platform version belongs to Fargate; EC2 and external launch types refuse one.
    let platform_version = match launch_type {
        Some(LaunchType::Ec2) | Some(LaunchType::External) => None,
        _ => service.platform_version().map(str::to_owned),
    };
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(container)
                .set_command(Some(command.to_vec()))
                .build(),
        )
        .build();
    let output = client
        .run_task()
        .cluster(cluster)
        .task_definition(task_definition)
        .count(1)
        .started_by(started_by)
        .overrides(overrides)
        .set_launch_type(launch_type)
        .set_capacity_provider_strategy(Some(strategy).filter(|s| !s.is_empty()))
        .set_network_configuration(service.network_configuration().cloned())
        .set_platform_version(platform_version)
        .set_placement_constraints(
            Some(service.placement_constraints().to_vec()).filter(|p| !p.is_empty()),
        )
        .set_placement_strategy(
            Some(service.placement_strategy().to_vec()).filter(|p| !p.is_empty()),
        )
        .send()
        .await
        .map_err(|error| {
            aws_error(
                "RunTask",
                format!("task definition {task_definition} in cluster {cluster}"),
                &error,
            )
        })?;
    if let Some(arn) = output.tasks().iter().find_map(Task::task_arn) {
        return Ok(arn.to_owned());
    }
    let reasons: Vec<String> = output
        .failures()
        .iter()
        .map(|failure| {
            let reason = failure.reason().unwrap_or("unknown");
            match failure.detail() {
                Some(detail) if !detail.is_empty() => format!("{reason} ({detail})"),
                _ => reason.to_owned(),
            }
        })
        .collect();
    Err(EcsError::TaskNotStarted {
        cluster: cluster.to_owned(),
        task_definition: task_definition.to_owned(),
        reason: bounded(
            &if reasons.is_empty() {
                "no task and no failure in the answer".to_owned()
            } else {
                reasons.join("; ")
            },
            MAX_MESSAGE,
        ),
    })
}

/// The newest task of `cluster` started with `started_by` (running or stopped), or none.
/// Its `exit_code` and `log_stream` are those of the container whose command the task
/// overrides (the hook's container, as [`run_once`] starts it), else of its first container.
pub async fn find(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    started_by: &str,
) -> Result<Option<TaskState>, EcsError> {
    check_started_by(started_by)?;
    let mut arns = Vec::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let mut token: Option<String> = None;
        loop {
            let output = client
                .list_tasks()
                .cluster(cluster)
                .started_by(started_by)
                .desired_status(status.clone())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|error| {
                    aws_error(
                        "ListTasks",
                        format!("tasks started by {started_by} in cluster {cluster}"),
                        &error,
                    )
                })?;
            for arn in output.task_arns() {
                if !arns.contains(arn) {
                    arns.push(arn.clone());
                }
            }
            match output.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
    }
    if arns.is_empty() {
        return Ok(None);
    }
    let mut tasks = Vec::new();
    for batch in arns.chunks(100) {
        tasks.extend(describe_tasks(client, cluster, batch).await?);
    }
    // Newest first; a task without a creation time (not yet reported) counts as newest.
    tasks.sort_by_key(|task| {
        std::cmp::Reverse(
            task.created_at()
                .map_or((i64::MAX, 0), |at| (at.secs(), at.subsec_nanos())),
        )
    });
    let Some(newest) = tasks.into_iter().next() else {
        return Ok(None);
    };
    let container = newest
        .overrides()
        .and_then(|o| {
            o.container_overrides()
                .iter()
                .find(|c| !c.command().is_empty())
        })
        .and_then(ContainerOverride::name)
        .or_else(|| newest.containers().first().and_then(|c| c.name()))
        .unwrap_or_default()
        .to_owned();
    Ok(Some(task_state(client, &newest, &container).await?))
}

/// The state of task `task_arn` in `cluster`, with the exit code and log stream of `container`.
pub async fn state(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    task_arn: &str,
    container: &str,
) -> Result<TaskState, EcsError> {
    let task = describe_tasks(client, cluster, &[task_arn.to_owned()])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| EcsError::TaskNotFound {
            cluster: cluster.to_owned(),
            task: task_arn.to_owned(),
        })?;
    task_state(client, &task, container).await
}

/// `DescribeTasks` of up to 100 tasks; missing tasks are left out.
async fn describe_tasks(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<Task>, EcsError> {
    let output = client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(e) if e.is_cluster_not_found_exception() => EcsError::TaskNotFound {
                cluster: cluster.to_owned(),
                task: arns.join(", "),
            },
            _ => aws_error(
                "DescribeTasks",
                format!("{} task(s) in cluster {cluster}", arns.len()),
                &error,
            ),
        })?;
    Ok(output.tasks.unwrap_or_default())
}

async fn task_state(
    client: &aws_sdk_ecs::Client,
    task: &Task,
    container: &str,
) -> Result<TaskState, EcsError> {
    let arn = task.task_arn().unwrap_or_default().to_owned();
    let last_status = task.last_status().unwrap_or_default().to_owned();
    let exit_code = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(container))
        .and_then(|c| c.exit_code());
    let log_stream = match task.task_definition_arn() {
        Some(definition) => log_stream(
            &describe_task_definition(client, definition).await?,
            container,
            &arn,
        ),
        None => None,
    };
    Ok(TaskState {
        stopped: last_status == "STOPPED",
        last_status,
        exit_code,
        stopped_reason: task
            .stopped_reason()
            .filter(|r| !r.is_empty())
            .map(|r| bounded(r, MAX_MESSAGE)),
        log_stream,
        arn,
    })
}

/// `group/prefix/container/task-id` when `container` logs through `awslogs` with a stream
/// prefix (the only case in which ECS names the stream that way).
pub fn log_stream(definition: &TaskDefinition, container: &str, task_arn: &str) -> Option<String> {
    let logging = definition
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some(container))?
        .log_configuration()?;
    if logging.log_driver() != &LogDriver::Awslogs {
        return None;
    }
    let options = logging.options()?;
    let group = options.get("awslogs-group").filter(|g| !g.is_empty())?;
    let prefix = options
        .get("awslogs-stream-prefix")
        .filter(|p| !p.is_empty())?;
    let task_id = task_arn.rsplit('/').next().filter(|id| !id.is_empty())?;
    Some(format!("{group}/{prefix}/{container}/{task_id}"))
}

/// ECS accepts up to 36 letters, digits, hyphens and underscores.
fn check_started_by(started_by: &str) -> Result<(), EcsError> {
    let valid = !started_by.is_empty()
        && started_by.chars().count() <= MAX_STARTED_BY
        && started_by
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(EcsError::Invalid(format!(
            "startedBy {:?} must be 1 to {MAX_STARTED_BY} letters, digits, '-' or '_'",
            bounded(started_by, 64)
        )))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration};

    use super::*;

    fn definition(driver: LogDriver, prefix: Option<&str>) -> TaskDefinition {
        let mut logging = LogConfiguration::builder()
            .log_driver(driver)
            .options("awslogs-group", "/ecs/api");
        if let Some(prefix) = prefix {
            logging = logging.options("awslogs-stream-prefix", prefix);
        }
        TaskDefinition::builder()
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .log_configuration(logging.build().expect("a log configuration"))
                    .build(),
            )
            .container_definitions(ContainerDefinition::builder().name("sidecar").build())
            .build()
    }

    #[test]
    fn the_log_stream_is_named_as_ecs_names_it() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task/main/0123abcd";
        assert_eq!(
            log_stream(&definition(LogDriver::Awslogs, Some("migrate")), "app", arn).as_deref(),
            Some("/ecs/api/migrate/app/0123abcd")
        );
        for (definition, container) in [
            (definition(LogDriver::Awslogs, None), "app"),
            (definition(LogDriver::Splunk, Some("migrate")), "app"),
            (definition(LogDriver::Awslogs, Some("migrate")), "sidecar"),
            (definition(LogDriver::Awslogs, Some("migrate")), "missing"),
        ] {
            assert_eq!(log_stream(&definition, container, arn), None, "{container}");
        }
    }

    #[test]
    fn started_by_is_checked_as_ecs_checks_it() {
        assert!(check_started_by("deploy-api-42_pre_traffic-0").is_ok());
        assert!(check_started_by(&"a".repeat(36)).is_ok());
        for bad in ["", &"a".repeat(37), "has space", "slash/no", "é"] {
            let error = check_started_by(bad).expect_err(bad);
            assert!(!error.is_transient());
            assert!(error.to_string().contains("startedBy"), "{error}");
        }
    }

    #[test]
    fn only_a_task_without_room_is_worth_retrying() {
        let failed = |reason: &str| EcsError::TaskNotStarted {
            cluster: "main".into(),
            task_definition: "api:3".into(),
            reason: reason.into(),
        };
        assert!(failed("RESOURCE:MEMORY").is_transient());
        assert!(!failed("MISSING").is_transient());
        assert!(!EcsError::Invalid("bad".into()).is_transient());
    }
}
