//! The two error shapes: [`HandlerError`] fails the invocation itself (nothing could be reported
//! to CodePipeline); [`JobError`] fails the job, mapped to CodePipeline's failure types
//! (`ConfigurationError`, `JobFailed`, `SystemUnavailable`) by one classification of AWS errors.

use lambda_runtime::Diagnostic;
use ops_adapters::cloudwatch::CloudWatchError;
use ops_adapters::codepipeline::CodePipelineError;
use ops_adapters::ecs::EcsError;
use ops_adapters::error::bounded;
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
fn aws_job_error(message: String, transient: bool) -> JobError {
    if transient {
        JobError::Unavailable(message)
    } else if message.contains("AccessDenied") || message.contains("UnauthorizedOperation") {
        JobError::Config(message)
    } else {
        JobError::Failed(message)
    }
}

impl From<StateError> for JobError {
    fn from(error: StateError) -> Self {
        match error {
            StateError::Corrupt { .. } => JobError::Failed(error.to_string()),
            StateError::Aws { transient, .. } => aws_job_error(error.to_string(), transient),
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
            Route53Error::Aws { transient, .. } => aws_job_error(error.to_string(), transient),
            other => JobError::Config(other.to_string()),
        }
    }
}

impl From<EcsError> for JobError {
    fn from(error: EcsError) -> Self {
        match error {
            EcsError::Aws { transient, .. } => aws_job_error(error.to_string(), transient),
            other => JobError::Config(other.to_string()),
        }
    }
}

impl From<CloudWatchError> for JobError {
    fn from(error: CloudWatchError) -> Self {
        let transient = error.transient;
        aws_job_error(error.to_string(), transient)
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
        let state = |transient: bool, message: &str| StateError::Aws {
            operation: "PutObject",
            bucket: "b".into(),
            key: "k".into(),
            message: message.into(),
            transient,
        };
        let cases: Vec<(JobError, &str)> = vec![
            (
                state(true, "SlowDown (HTTP 503)").into(),
                "SystemUnavailable",
            ),
            (
                state(false, "AccessDenied: no (HTTP 403)").into(),
                "ConfigurationError",
            ),
            (
                StateError::Conflict {
                    bucket: "b".into(),
                    key: "k".into(),
                }
                .into(),
                "SystemUnavailable",
            ),
            (
                Route53Error::Aws {
                    operation: "ChangeResourceRecordSets",
                    message: "Throttling: Rate exceeded (HTTP 400)".into(),
                    transient: true,
                }
                .into(),
                "SystemUnavailable",
            ),
            (
                Route53Error::Aws {
                    operation: "ChangeResourceRecordSets",
                    message: "InvalidChangeBatch: bad (HTTP 400)".into(),
                    transient: false,
                }
                .into(),
                "JobFailed",
            ),
            (
                Route53Error::ZoneNotFound("z".into()).into(),
                "ConfigurationError",
            ),
            (
                EcsError::Aws {
                    operation: "UpdateService",
                    message: "ThrottlingException: slow down (HTTP 400)".into(),
                    transient: true,
                }
                .into(),
                "SystemUnavailable",
            ),
            (
                EcsError::TaskDefinitionNotFound("td".into()).into(),
                "ConfigurationError",
            ),
            (
                CloudWatchError {
                    message: "InternalFailure (HTTP 500)".into(),
                    transient: true,
                }
                .into(),
                "SystemUnavailable",
            ),
            (
                ConfigLoadError::Read {
                    location: "s3://b/config".into(),
                    message: "ServiceUnavailable (HTTP 503)".into(),
                    transient: true,
                }
                .into(),
                "SystemUnavailable",
            ),
            (
                ConfigLoadError::Read {
                    location: "s3://b/config".into(),
                    message: "NoSuchKey (HTTP 404)".into(),
                    transient: false,
                }
                .into(),
                "ConfigurationError",
            ),
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
        let config = HandlerError::Config(ConfigLoadError::Read {
            location: "s3://b/config".into(),
            message: "SlowDown (HTTP 503)".into(),
            transient: true,
        });
        assert_eq!(Diagnostic::from(config).error_type, "SystemUnavailable");
    }
}
