//! Rendering of AWS SDK errors: the full context chain, and the HTTP status when there was one.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;

/// The HTTP status of a service error, if the request reached the service.
pub fn status<E, R: HttpStatus>(error: &SdkError<E, R>) -> Option<u16> {
    error.raw_response().map(HttpStatus::status_code)
}

/// The error and its sources as one line (the SDK's own `Display` says only "service error").
pub fn describe<E: std::error::Error + 'static, R: std::fmt::Debug + 'static>(
    error: &SdkError<E, R>,
) -> String {
    DisplayErrorContext(error).to_string()
}

/// Whether the error is the SDK giving up on a transient condition (timeout, throttling,
/// dispatch failure, 5xx): the caller may retry the whole operation later.
pub fn is_transient<E, R: HttpStatus>(error: &SdkError<E, R>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        other => status(other).is_some_and(|code| code == 429 || code >= 500),
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
