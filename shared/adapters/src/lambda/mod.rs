//! Lambda: the suite's `Invoke` — synchronous ([`invoke_json`]: a JSON payload in, the
//! function's JSON answer out, a function error as the function's own message) and
//! asynchronous ([`invoke_event`]).
//!
//! Used by `opsctl backup verify|restore` (the backup function runs them with its own
//! permissions) and by deploy-hook's `lambda` and `backup` lifecycle hooks. An invocation is not
//! idempotent by itself: a caller that may repeat one (a retry, a redelivered event) puts what
//! makes it recognisable in the payload (a deployment id and step, a run id).

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::Value;

use crate::error::{bounded, AwsCallError, FailureKind};

/// Most characters of a function's error message an error carries.
pub const MAX_FUNCTION_MESSAGE: usize = 500;

/// Errors of [`invoke_json`].
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    /// The function ran and failed (Lambda's `X-Amz-Function-Error`): its `errorMessage`
    /// (capped at [`MAX_FUNCTION_MESSAGE`] characters), or "the function failed" when it gave
    /// none.
    #[error("the function failed: {message}")]
    Function {
        /// The function's own error message.
        message: String,
    },
    /// The function answered, without a function error, something that is not JSON (never
    /// quoted: it may hold anything the function returns).
    #[error("the function answered something that is not JSON ({bytes} bytes)")]
    NotJson {
        /// Size of the answer.
        bytes: usize,
    },
    /// Lambda refused or could not be reached (not found, access denied, throttled, …).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl LambdaError {
    /// Whether retrying later may succeed: throttling, 5xx, timeouts, lost connections. A
    /// function that failed or answered garbage is not retried here (the caller decides: a
    /// function's own retryable failures are its business).
    pub fn is_transient(&self) -> bool {
        matches!(self, LambdaError::Aws(call) if call.is_transient())
    }
}

/// Invokes `function` (name, ARN or alias ARN) synchronously (`RequestResponse`) with `payload`
/// and returns its JSON answer (`null` when it answered nothing).
pub async fn invoke_json(
    client: &aws_sdk_lambda::Client,
    function: &str,
    payload: &Value,
) -> Result<Value, LambdaError> {
    let target = || format!("function {function}");
    let body = serde_json::to_vec(payload).map_err(|error| {
        AwsCallError::other("Invoke", FailureKind::Construction, error.to_string()).on(target())
    })?;
    let answer = client
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(body))
        .send()
        .await
        .map_err(|error| AwsCallError::from_sdk("Invoke", &error).on(target()))?;
    let bytes = answer.payload().map(Blob::as_ref).unwrap_or_default();
    let parsed: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        Some(Value::Null)
    } else {
        serde_json::from_slice(bytes).ok()
    };
    if answer.function_error().is_some() {
        let message = parsed
            .as_ref()
            .and_then(|body| body.get("errorMessage"))
            .and_then(Value::as_str)
            .filter(|message| !message.is_empty())
            .unwrap_or("the function failed");
        return Err(LambdaError::Function {
            message: bounded(message, MAX_FUNCTION_MESSAGE),
        });
    }
    parsed.ok_or(LambdaError::NotJson { bytes: bytes.len() })
}

/// Invokes `function` asynchronously (`Event`): Lambda queues the payload, answers 202 and
/// retries a failed run itself. Used where the caller must not wait (a backup before a
/// deployment, a rollback handed to alarm-rollback, `on_rollback` hooks).
pub async fn invoke_event(
    client: &aws_sdk_lambda::Client,
    function: &str,
    payload: &Value,
) -> Result<(), LambdaError> {
    let target = || format!("function {function}");
    let body = serde_json::to_vec(payload).map_err(|error| {
        AwsCallError::other("Invoke", FailureKind::Construction, error.to_string()).on(target())
    })?;
    client
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(body))
        .send()
        .await
        .map_err(|error| AwsCallError::from_sdk("Invoke", &error).on(target()))?;
    Ok(())
}
