//! AWS clients, built once per container from the standard configuration chain.
//!
//! Endpoints come from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` like every AWS SDK
//! honours them, so nothing here knows whether it talks to AWS or to an emulator. Timeouts are
//! explicit and short so an operation gives up well before the Lambda deadline; retries are the
//! SDK's standard mode.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::recorder::CallRecorder;

/// Timeouts and retries for every client.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Whole operation, retries included.
    pub operation_timeout: Duration,
    /// One attempt.
    pub attempt_timeout: Duration,
    /// TCP/TLS connect.
    pub connect_timeout: Duration,
    /// Attempts including the first (standard retry mode, with backoff and jitter).
    pub max_attempts: u32,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            operation_timeout: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(6),
            connect_timeout: Duration::from_secs(3),
            max_attempts: 3,
        }
    }
}

/// The clients the functions use, sharing one configuration and one call recorder.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// S3: state bucket, config, exports, backups.
    pub s3: aws_sdk_s3::Client,
    /// Route53: weighted traffic.
    pub route53: aws_sdk_route53::Client,
    /// ECS: services and task definitions.
    pub ecs: aws_sdk_ecs::Client,
    /// Secrets Manager: notifier endpoints and keys.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// KMS: data keys for the client-side encryption of backed-up secrets.
    pub kms: aws_sdk_kms::Client,
    /// Every call made through these clients.
    pub recorder: CallRecorder,
}

/// Loads the shared SDK configuration (region, credentials, endpoint overrides) with the suite's
/// timeouts and retries.
pub async fn load_sdk_config(settings: &ClientSettings) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(settings.operation_timeout)
                .operation_attempt_timeout(settings.attempt_timeout)
                .connect_timeout(settings.connect_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
        .load()
        .await
}

impl AwsClients {
    /// Builds every client from `sdk`. S3 uses path-style addressing when an endpoint is
    /// overridden (emulators and most S3-compatible stores need it; AWS does not).
    pub fn new(sdk: &SdkConfig) -> Self {
        let recorder = CallRecorder::default();
        let path_style =
            sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .interceptor(recorder.clone())
            .build();
        let route53 = aws_sdk_route53::config::Builder::from(sdk)
            .interceptor(recorder.clone())
            .build();
        let ecs = aws_sdk_ecs::config::Builder::from(sdk)
            .interceptor(recorder.clone())
            .build();
        let secrets = aws_sdk_secretsmanager::config::Builder::from(sdk)
            .interceptor(recorder.clone())
            .build();
        let kms = aws_sdk_kms::config::Builder::from(sdk)
            .interceptor(recorder.clone())
            .build();
        AwsClients {
            kms: aws_sdk_kms::Client::from_conf(kms),
            s3: aws_sdk_s3::Client::from_conf(s3),
            route53: aws_sdk_route53::Client::from_conf(route53),
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            secrets: aws_sdk_secretsmanager::Client::from_conf(secrets),
            recorder,
        }
    }

    /// Loads the configuration from the environment and builds every client.
    pub async fn from_env(settings: &ClientSettings) -> Self {
        Self::new(&load_sdk_config(settings).await)
    }
}
