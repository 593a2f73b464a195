//! One classification of AWS call failures for the whole suite: [`AwsCallError`].
//!
//! Every adapter turns an SDK error into an `AwsCallError` (or renders it with [`describe`]),
//! so the suite answers two questions the same way everywhere:
//!
//! - **Does retrying help?** [`AwsCallError::is_transient`]: timeouts, connection failures, a
//!   response that could not be read, HTTP 429 and 5xx, and the throttling and "try again" error
//!   codes AWS services answer with HTTP 400 (`Throttling`, `ThrottlingException`,
//!   `TooManyRequestsException`, `RequestLimitExceeded`, `PriorRequestNotComplete`, …).
//! - **What may be quoted?** The operation, the AWS error code, the AWS error message (capped at
//!   [`MAX_MESSAGE`] characters) and the HTTP status — never the raw response. A response body
//!   can echo the request that carried it (S3's `SignatureDoesNotMatch` returns the access key id
//!   and the canonical request with `x-amz-security-token`), so bodies are never rendered.
//!
//! Adapter errors do not redeclare an AWS variant: an enum keeps its own meanings (not found,
//! conflict, corrupt, denied) and reports every other AWS failure as
//! `Aws(#[from] AwsCallError)`, with what the call was about in [`AwsCallError::target`]
//! (`s3://bucket/key`, `secret name`, `hosted zone Z123`). Every such error has one
//! `is_transient()` that answers from the `AwsCallError`.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
pub use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Most characters of an AWS error message (or any quoted input) an error carries.
pub const MAX_MESSAGE: usize = 300;

/// Error codes AWS services answer for throttling or a transient server condition, some with
/// HTTP 400. The SDK's standard retry strategy retries most of them; once it gives up, the
/// suite still counts them as "try again later", never as a permanent failure.
pub const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "InternalServiceErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceException",
    "ServerException",
    "RequestTimeout",
    "RequestTimeoutException",
    "IDPCommunicationError",
];

/// How an AWS call failed, before any service-specific meaning is given to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The service answered with an error.
    Service,
    /// The attempt or the whole operation timed out.
    Timeout,
    /// The request could not be sent or its connection broke before an answer (the write may
    /// have happened: the answer can be lost after the service acted).
    Connection,
    /// An answer came but could not be read.
    Response,
    /// The request could not be built (a bug or bad input on our side).
    Construction,
}

/// One failed AWS call: what was called on what, what AWS answered, and whether retrying helps.
/// Its `Display` (`PutObject on s3://bucket/key failed: SlowDown: Please reduce your request
/// rate. (HTTP 503)`) never quotes a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCallError {
    /// The operation (`PutObject`, `ChangeResourceRecordSets`, …).
    pub operation: &'static str,
    /// What the call was about (`s3://bucket/key`, `secret name`, `hosted zone Z123`), capped at
    /// [`MAX_MESSAGE`] characters; never a value.
    pub target: Option<String>,
    /// How it failed.
    pub kind: FailureKind,
    /// The AWS error code, when the service answered with one.
    pub code: Option<String>,
    /// The AWS error message, capped at [`MAX_MESSAGE`] characters.
    pub message: Option<String>,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    transient: bool,
}

impl AwsCallError {
    /// Classifies an SDK error of `operation`.
    pub fn from_sdk<E, R>(operation: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata,
        R: HttpStatus,
    {
        let status = status(error);
        let (kind, code, message) = match error {
            SdkError::ServiceError(service) => (
                FailureKind::Service,
                service.err().code().map(str::to_owned),
                service.err().message().map(|m| bounded(m, MAX_MESSAGE)),
            ),
            SdkError::TimeoutError(_) => (FailureKind::Timeout, None, None),
            SdkError::DispatchFailure(failure) => {
                let what = if failure.is_timeout() {
                    "connection timed out"
                } else if failure.is_io() {
                    "connection failed or closed before an answer"
                } else {
                    "request could not be sent"
                };
                (FailureKind::Connection, None, Some(what.to_owned()))
            }
            SdkError::ResponseError(_) => (
                FailureKind::Response,
                None,
                Some("the answer could not be read".to_owned()),
            ),
            SdkError::ConstructionFailure(_) => (
                FailureKind::Construction,
                None,
                Some("the request could not be built".to_owned()),
            ),
            _ => (FailureKind::Response, error.code().map(str::to_owned), None),
        };
        let transient = match kind {
            FailureKind::Timeout | FailureKind::Connection | FailureKind::Response => true,
            FailureKind::Construction => false,
            FailureKind::Service => {
                code.as_deref().is_some_and(is_transient_code)
                    || status.is_some_and(|code| code == 429 || code >= 500)
            }
        };
        AwsCallError {
            operation,
            target: None,
            kind,
            code,
            message,
            status,
            transient,
        }
    }

    /// A service's answer known by its parts (error code, message, HTTP status), classified as
    /// [`AwsCallError::from_sdk`] classifies an SDK error with them.
    pub fn answered(
        operation: &'static str,
        code: impl Into<String>,
        message: impl AsRef<str>,
        status: u16,
    ) -> Self {
        let code = code.into();
        let transient = is_transient_code(&code) || status == 429 || status >= 500;
        AwsCallError {
            operation,
            target: None,
            kind: FailureKind::Service,
            code: Some(code),
            message: Some(bounded(message.as_ref(), MAX_MESSAGE)),
            status: Some(status),
            transient,
        }
    }

    /// A failure that did not come from the SDK (a body stream broken mid-read, say).
    pub fn other(operation: &'static str, kind: FailureKind, message: impl AsRef<str>) -> Self {
        AwsCallError {
            operation,
            target: None,
            kind,
            code: None,
            message: Some(bounded(message.as_ref(), MAX_MESSAGE)),
            status: None,
            transient: !matches!(kind, FailureKind::Construction | FailureKind::Service),
        }
    }

    /// An answer that came but lacks what the call promises (no ARN in a register answer, say):
    /// asking again gives the same answer, so it is not transient.
    pub fn unexpected(operation: &'static str, message: impl AsRef<str>) -> Self {
        AwsCallError::other(operation, FailureKind::Response, message).with_transient(false)
    }

    /// The same error about `target` (a bucket and key, a secret, a zone; capped at
    /// [`MAX_MESSAGE`] characters, never a value).
    #[must_use]
    pub fn on(mut self, target: impl AsRef<str>) -> Self {
        self.target = Some(bounded(target.as_ref(), MAX_MESSAGE));
        self
    }

    /// The same error with its transience decided by the caller, for the few conditions a
    /// service means as "try again" beyond the shared classification (Route53's
    /// `ConcurrentModification`, labels moving during a read).
    #[must_use]
    pub fn with_transient(mut self, transient: bool) -> Self {
        self.transient = transient;
        self
    }

    /// Whether retrying the call later may succeed: throttling, a 5xx, a timeout, a lost
    /// connection, an unreadable answer. `false` means the same call will fail the same way
    /// (access denied, not found, validation).
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// Whether the service answered this error code.
    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// The error without the operation name: `ThrottlingException: Rate exceeded (HTTP 400)`.
    pub fn detail(&self) -> String {
        let mut out = String::new();
        match (&self.code, &self.message) {
            (Some(code), Some(message)) if !message.is_empty() => {
                out.push_str(code);
                out.push_str(": ");
                out.push_str(message);
            }
            (Some(code), _) => out.push_str(code),
            (None, Some(message)) => out.push_str(message),
            (None, None) => out.push_str(match self.kind {
                FailureKind::Timeout => "timed out",
                FailureKind::Connection => "connection failed",
                FailureKind::Response => "the answer could not be read",
                FailureKind::Construction => "the request could not be built",
                FailureKind::Service => "service error",
            }),
        }
        if let Some(status) = self.status {
            out.push_str(&format!(" (HTTP {status})"));
        }
        out
    }
}

impl fmt::Display for AwsCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation)?;
        if let Some(target) = &self.target {
            write!(f, " on {target}")?;
        }
        write!(f, " failed: {}", self.detail())
    }
}

impl std::error::Error for AwsCallError {}

/// Whether an AWS error code means "throttled" or "the service is having a moment".
pub fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// The HTTP status of a service error, if the request reached the service.
pub fn status<E, R: HttpStatus>(error: &SdkError<E, R>) -> Option<u16> {
    error.raw_response().map(HttpStatus::status_code)
}

/// The error as one line an operator may read: the AWS error code, message and HTTP status, or
/// the kind of failure (timeout, connection). Never the response body.
pub fn describe<E: ProvideErrorMetadata, R: HttpStatus>(error: &SdkError<E, R>) -> String {
    AwsCallError::from_sdk("", error).detail()
}

/// Whether the error is the SDK giving up on a transient condition (timeout, throttling,
/// connection lost, 5xx): the caller may retry the whole operation later.
pub fn is_transient<E: ProvideErrorMetadata, R: HttpStatus>(error: &SdkError<E, R>) -> bool {
    AwsCallError::from_sdk("", error).is_transient()
}

/// `text` cut to at most `max` characters (on a character boundary), with `…` and the number
/// of characters left out when cut. Use it for anything an error quotes from its input.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => {
            let left = text[end..].chars().count();
            format!("{}… ({left} more characters)", &text[..end])
        }
    }
}

/// Access to the status code of a raw HTTP response.
pub trait HttpStatus {
    /// The status code.
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(status: u16, code: &str, body: &str) -> SdkError<ErrorMetadata, Response> {
        let raw = Response::new(
            StatusCode::try_from(status).expect("a valid status"),
            SdkBody::from(body),
        );
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("Rate exceeded")
            .build();
        SdkError::service_error(meta, raw)
    }

    #[test]
    fn throttling_codes_with_400_are_transient() {
        for code in [
            "Throttling",
            "ThrottlingException",
            "TooManyRequestsException",
            "RequestLimitExceeded",
            "PriorRequestNotComplete",
        ] {
            let error = AwsCallError::from_sdk("Op", &service_error(400, code, ""));
            assert!(error.is_transient(), "{code}");
        }
        for status in [500, 503, 429] {
            assert!(is_transient(&service_error(status, "Whatever", "")));
        }
        for code in ["AccessDenied", "NoSuchKey", "ValidationException"] {
            assert!(!is_transient(&service_error(400, code, "")), "{code}");
            assert!(!is_transient(&service_error(403, code, "")), "{code}");
        }
    }

    #[test]
    fn rendering_never_quotes_the_body() {
        let body =
            "<Error><Code>SignatureDoesNotMatch</Code><AWSAccessKeyId>AKIACANARY</AWSAccessKeyId>\
                    <CanonicalRequest>x-amz-security-token:CANARYTOKEN</CanonicalRequest></Error>";
        let error = service_error(403, "SignatureDoesNotMatch", body);
        let text = describe(&error);
        assert_eq!(text, "SignatureDoesNotMatch: Rate exceeded (HTTP 403)");
        let call = AwsCallError::from_sdk("GetObject", &error);
        let shown = format!("{call} {call:?}");
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(!call.is_transient());
    }

    #[test]
    fn display_names_operation_target_and_answer() {
        let error = AwsCallError::answered("PutObject", "SlowDown", "Reduce your rate", 503)
            .on("s3://bucket/key");
        assert!(error.is_transient());
        assert_eq!(
            error.to_string(),
            "PutObject on s3://bucket/key failed: SlowDown: Reduce your rate (HTTP 503)"
        );
        let refused = AwsCallError::answered("UpdateService", "AccessDeniedException", "", 400);
        assert!(!refused.is_transient());
        assert_eq!(
            refused.to_string(),
            "UpdateService failed: AccessDeniedException (HTTP 400)"
        );
        let odd = AwsCallError::unexpected("RegisterTaskDefinition", "no ARN in the answer");
        assert!(!odd.is_transient());
        assert!(odd.with_transient(true).is_transient());
    }

    #[test]
    fn bounded_cuts_on_char_boundaries() {
        assert_eq!(bounded("short", 10), "short");
        let long = "é".repeat(20);
        let cut = bounded(&long, 5);
        assert!(cut.starts_with("ééééé…"));
        assert!(cut.ends_with("(15 more characters)"));
    }
}
