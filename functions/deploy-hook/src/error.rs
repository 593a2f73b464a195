//! The two error shapes: [`HandlerError`] fails the invocation itself (nothing could be reported
//! to CodePipeline); [`JobError`] fails the job, mapped to CodePipeline's failure types
//! (`ConfigurationError`, `JobFailed`, `SystemUnavailable`) by one classification of AWS errors.

use lambda_runtime::Diagnostic;
use ops_adapters::codepipeline::CodePipelineError;
use ops_adapters::ecs::EcsError;
use ops_adapters::lambda::LambdaError;
use ops_adapters::error::{bounded, AwsCallError};
use ops_adapters::route53::Route53Error;
use ops_adapters::s3::{ConfigLoadError, StateError};
use ops_adapters::secretsmanager::SecretError;

use crate::artifact::ArtifactError;
use crate::event::EventError;

/// Errors that fail the invocation itself (CodePipeline could not be told, or there is no job).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Neither a job nor a schedule action.
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    /// The job's result could not be reported; Lambda's retry reports it again.
    #[error(transparent)]
    Report(#[from] CodePipelineError),
    /// The configuration could not be read (decommission).
    #[error(transparent)]
    Config(#[from] ConfigLoadError),
    /// Fault injection: the invocation stopped after a change, before recording it.
    #[error(
        "stopped after the change of step {0}, before the record was written (injected fault)"
    )]
    InjectedCrash(String),
    /// The decommission run failed for some services.
    #[error("decommission failed: {0}")]
    Decommission(String),
    /// The post-promotion watch failed for some services.
    #[error("post-promotion analysis failed: {0}")]
    Watch(String),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::Report(_) => "PipelineReportFailed",
            // S3 throttled or down while reading the config: not a configuration problem.
            HandlerError::Config(config) if config.is_transient() => "SystemUnavailable",
            HandlerError::Config(_) => "ConfigurationError",
            HandlerError::InjectedCrash(_) => "InjectedCrash",
            HandlerError::Decommission(_) => "DecommissionFailed",
            HandlerError::Watch(_) => "WatchFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: bounded(&error.to_string(), MAX_ERROR_TEXT),
        }
    }
}

/// Most characters of a failure message, a log line's error or a diagnostic: whatever an error
/// quotes of its input (a `UserParameters` string, a container name) is capped well below it.
pub(crate) const MAX_ERROR_TEXT: usize = 2000;

/// What stopped a job, mapped to CodePipeline's failure types.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    /// Bad parameters or configuration: `ConfigurationError`.
    #[error("{0}")]
    Config(String),
    /// A gate, health check or alarm: `JobFailed`.
    #[error("{0}")]
    Failed(String),
    /// AWS after the SDK's retries: `SystemUnavailable` (the record is intact; a retry resumes).
    #[error("{0}")]
    Unavailable(String),
    /// Fault injection.
    #[error("{0}")]
    Crash(String),
}

/// An AWS error after the SDK's retries: transient (throttling, 5xx, timeouts, a lost
/// connection) is `SystemUnavailable` (the record is intact; a retry of the stage resumes); a
/// refusal for lack of permission is a configuration problem; any other refusal fails the job.
/// Every adapter's AWS failure (CloudWatch's is this type itself) takes this one path.
impl From<AwsCallError> for JobError {
    fn from(error: AwsCallError) -> Self {
        let detail = error.detail();
        let message = error.to_string();
        if error.is_transient() {
            JobError::Unavailable(message)
        } else if detail.contains("AccessDenied") || detail.contains("UnauthorizedOperation") {
            JobError::Config(message)
        } else {
            JobError::Failed(message)
        }
    }
}

impl From<StateError> for JobError {
    fn from(error: StateError) -> Self {
        match error {
            StateError::Aws(call) => call.into(),
            StateError::Corrupt { .. } => JobError::Failed(error.to_string()),
            // A lost race that escaped its caller: re-reading and deciding again resolves it.
            StateError::Conflict { .. } | StateError::AlreadyExists { .. } => {
                JobError::Unavailable(error.to_string())
            }
        }
    }
}

impl From<Route53Error> for JobError {
    fn from(error: Route53Error) -> Self {
        match error {
            Route53Error::Aws(call) => call.into(),
            other => JobError::Config(other.to_string()),
        }
    }
}

impl From<EcsError> for JobError {
    fn from(error: EcsError) -> Self {
        match error {
            EcsError::Aws(call) => call.into(),
            // A task ECS could not place for want of resources may start on a retry.
            other if other.is_transient() => JobError::Unavailable(other.to_string()),
            other @ (EcsError::TaskNotStarted { .. } | EcsError::TaskNotFound { .. }) => {
                JobError::Failed(other.to_string())
            }
            other => JobError::Config(other.to_string()),
        }
    }
}

impl From<LambdaError> for JobError {
    fn from(error: LambdaError) -> Self {
        match error {
            LambdaError::Aws(call) => call.into(),
            other => JobError::Failed(other.to_string()),
        }
    }
}

impl From<SecretError> for JobError {
    fn from(error: SecretError) -> Self {
        JobError::Unavailable(error.to_string())
    }
}

impl From<ArtifactError> for JobError {
    fn from(error: ArtifactError) -> Self {
        match error {
            ArtifactError::Invalid { .. } => JobError::Config(error.to_string()),
            ArtifactError::Unavailable { .. } => JobError::Unavailable(error.to_string()),
            ArtifactError::Refused { .. } => JobError::Failed(error.to_string()),
        }
    }
}

impl From<ConfigLoadError> for JobError {
    fn from(error: ConfigLoadError) -> Self {
        if error.is_transient() {
            JobError::Unavailable(error.to_string())
        } else {
            JobError::Config(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(error: JobError) -> &'static str {
        match error {
            JobError::Config(_) => "ConfigurationError",
            JobError::Failed(_) | JobError::Crash(_) => "JobFailed",
            JobError::Unavailable(_) => "SystemUnavailable",
        }
    }

    #[test]
    fn error_classification() {
        let state = |code: &str, status| {
            StateError::Aws(AwsCallError::answered("PutObject", code, "no", status).on("s3://b/k"))
        };
        let config = |code: &str, status| {
            ConfigLoadError::Aws(
                AwsCallError::answered("GetObject", code, "", status).on("config s3://b/config"),
            )
        };
        let cases: Vec<(JobError, &str)> = vec![
            (state("SlowDown", 503).into(), "SystemUnavailable"),
            (state("AccessDenied", 403).into(), "ConfigurationError"),
            (
                StateError::Conflict {
                    bucket: "b".into(),
                    key: "k".into(),
                }
                .into(),
                "SystemUnavailable",
            ),
            (
                Route53Error::Aws(AwsCallError::answered(
                    "ChangeResourceRecordSets",
                    "Throttling",
                    "Rate exceeded",
                    400,
                ))
                .into(),
                "SystemUnavailable",
            ),
            (
                Route53Error::Aws(AwsCallError::answered(
                    "ChangeResourceRecordSets",
                    "InvalidChangeBatch",
                    "bad",
                    400,
                ))
                .into(),
                "JobFailed",
            ),
            (
                Route53Error::ZoneNotFound("z".into()).into(),
                "ConfigurationError",
            ),
            (
                EcsError::Aws(AwsCallError::answered(
                    "UpdateService",
                    "ThrottlingException",
                    "slow down",
                    400,
                ))
                .into(),
                "SystemUnavailable",
            ),
            (
                EcsError::TaskDefinitionNotFound("td".into()).into(),
                "ConfigurationError",
            ),
            (
                // CloudWatch's error is the AwsCallError itself.
                AwsCallError::answered("DescribeAlarms", "InternalFailure", "", 500).into(),
                "SystemUnavailable",
            ),
            (
                AwsCallError::answered("DescribeAlarms", "AccessDenied", "", 403).into(),
                "ConfigurationError",
            ),
            (
                config("ServiceUnavailable", 503).into(),
                "SystemUnavailable",
            ),
            (config("NoSuchKey", 404).into(), "ConfigurationError"),
            (
                ArtifactError::Refused {
                    artifact: "a".into(),
                    message: "SignatureDoesNotMatch (HTTP 403)".into(),
                }
                .into(),
                "JobFailed",
            ),
            (
                ArtifactError::Unavailable {
                    artifact: "a".into(),
                    message: "SlowDown (HTTP 503)".into(),
                }
                .into(),
                "SystemUnavailable",
            ),
        ];
        for (error, expect) in cases {
            let text = error.to_string();
            assert_eq!(kind(error), expect, "{text}");
        }
        let config = HandlerError::Config(config("SlowDown", 503));
        assert_eq!(Diagnostic::from(config).error_type, "SystemUnavailable");
    }
}
