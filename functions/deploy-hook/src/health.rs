//! Health checks and smoke tests of the new version, over HTTP(S), before it gets traffic.

use std::time::Duration;

use ops_domain::config::HealthCheckConfig;

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The URL checked.
    pub url: String,
    /// Passed?
    pub passed: bool,
    /// What was seen on the last attempt.
    pub detail: String,
    /// Attempts made.
    pub attempts: u32,
}

/// `url` with `{target}` and `{value}` replaced.
pub fn expand(url: &str, target: &str, value: &str) -> String {
    url.replace("{target}", target).replace("{value}", value)
}

/// Runs one check with its retries (half a second apart). With `any_success`, every 2xx status
/// passes (smoke tests); otherwise exactly `check.expected_status` does.
pub async fn run(
    http: &reqwest::Client,
    check: &HealthCheckConfig,
    url: &str,
    any_success: bool,
) -> CheckResult {
    let mut detail = String::new();
    let attempts = check.retries.saturating_add(1);
    for attempt in 1..=attempts {
        match http
            .get(url)
            .timeout(Duration::from_millis(check.timeout_ms))
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                let body_ok = check
                    .body_contains
                    .as_deref()
                    .is_none_or(|needle| body.contains(needle));
                let status_ok = if any_success {
                    (200..300).contains(&status)
                } else {
                    status == check.expected_status
                };
                if status_ok && body_ok {
                    return CheckResult {
                        url: url.to_owned(),
                        passed: true,
                        detail: format!("HTTP {status}"),
                        attempts: attempt,
                    };
                }
                detail = if status_ok {
                    format!(
                        "HTTP {status} but the body lacks {:?}",
                        check.body_contains.as_deref().unwrap_or_default()
                    )
                } else if any_success {
                    format!("HTTP {status}, expected 2xx")
                } else {
                    format!("HTTP {status}, expected {}", check.expected_status)
                };
            }
            Err(error) if error.is_timeout() => {
                detail = format!("no answer within {} ms", check.timeout_ms);
            }
            Err(error) => {
                detail = format!("request failed: {}", without_url(&error));
            }
        }
        if attempt < attempts {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    CheckResult {
        url: url.to_owned(),
        passed: false,
        detail,
        attempts,
    }
}

/// A reqwest error's text without the URL (which the result carries once already).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A smoke test: GET, any 2xx passes, one retry.
pub fn smoke_check() -> HealthCheckConfig {
    HealthCheckConfig {
        url: String::new(),
        expected_status: 200,
        body_contains: None,
        timeout_ms: 5000,
        retries: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn placeholders() {
        assert_eq!(
            expand(
                "http://{value}/health?color={target}",
                "green",
                "green.internal"
            ),
            "http://green.internal/health?color=green"
        );
    }
}
