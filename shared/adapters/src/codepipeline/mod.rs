//! CodePipeline: the result of a Lambda invoke action's job.
//!
//! Every invocation ends with exactly one of these calls. A job that already has a result
//! (a duplicate delivery of an invocation that finished) answers `InvalidJobStateException`;
//! that is reported as [`Reported::AlreadyFinal`], not as an error.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};

use crate::error::describe;
use crate::recorder::CallRecorder;

/// A CodePipeline client recording its calls into `recorder`.
pub fn client(sdk: &SdkConfig, recorder: &CallRecorder) -> aws_sdk_codepipeline::Client {
    let config = aws_sdk_codepipeline::config::Builder::from(sdk)
        .interceptor(recorder.clone())
        .build();
    aws_sdk_codepipeline::Client::from_conf(config)
}

/// CodePipeline refused or could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct CodePipelineError {
    /// The operation.
    pub operation: &'static str,
    /// The SDK error with its causes.
    pub message: String,
}

/// What the job is told.
#[derive(Debug, Clone, PartialEq)]
pub enum JobResult {
    /// Success; with a continuation token the job stays open and is invoked again.
    Success {
        /// Progress summary (≤ 2048 characters).
        summary: String,
        /// Percent complete.
        percent: i32,
        /// Continue with this token, or finish.
        continuation: Option<String>,
        /// Output variables (final success only).
        outputs: HashMap<String, String>,
    },
    /// Failure.
    Failure {
        /// `ConfigurationError`, `JobFailed`, `SystemUnavailable`…
        kind: FailureType,
        /// Why (≤ 5000 characters).
        message: String,
    },
}

/// Whether the result was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// CodePipeline took it.
    Recorded,
    /// The job already had a final result.
    AlreadyFinal,
}

/// Sends `result` for `job_id`; `external_id` is the deployment id shown in the console.
pub async fn report(
    client: &aws_sdk_codepipeline::Client,
    job_id: &str,
    external_id: &str,
    result: &JobResult,
) -> Result<Reported, CodePipelineError> {
    match result {
        JobResult::Success {
            summary,
            percent,
            continuation,
            outputs,
        } => {
            let details = ExecutionDetails::builder()
                .summary(ops_domain::deploy::truncate(summary, 2048))
                .external_execution_id(external_id)
                .percent_complete((*percent).clamp(0, 100))
                .build();
            let mut request = client
                .put_job_success_result()
                .job_id(job_id)
                .execution_details(details)
                .set_continuation_token(continuation.clone());
            if continuation.is_none() && !outputs.is_empty() {
                request = request.set_output_variables(Some(outputs.clone()));
            }
            match request.send().await {
                Ok(_) => Ok(Reported::Recorded),
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_invalid_job_state_exception()) =>
                {
                    Ok(Reported::AlreadyFinal)
                }
                Err(error) => Err(CodePipelineError {
                    operation: "PutJobSuccessResult",
                    message: describe(&error),
                }),
            }
        }
        JobResult::Failure { kind, message } => {
            let details = FailureDetails::builder()
                .r#type(kind.clone())
                .message(ops_domain::deploy::truncate(message, 5000))
                .external_execution_id(external_id)
                .build()
                .map_err(|error| CodePipelineError {
                    operation: "PutJobFailureResult",
                    message: error.to_string(),
                })?;
            match client
                .put_job_failure_result()
                .job_id(job_id)
                .failure_details(details)
                .send()
                .await
            {
                Ok(_) => Ok(Reported::Recorded),
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_invalid_job_state_exception()) =>
                {
                    Ok(Reported::AlreadyFinal)
                }
                Err(error) => Err(CodePipelineError {
                    operation: "PutJobFailureResult",
                    message: describe(&error),
                }),
            }
        }
    }
}
