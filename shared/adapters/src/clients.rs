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
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};

use crate::recorder::CallRecorder;

/// Timeouts and retries for every client.
///
/// Two presets: [`ClientSettings::default`] for event handlers that must answer quickly
/// (alarm-rollback, deploy-hook: up to 5 attempts with short backoff, well inside a 20 s
/// operation), and [`ClientSettings::batch`] for jobs that make thousands of calls in one
/// invocation (backup, cost-check: more attempts, longer operations, a larger retry quota that
/// refills, so a warm container that met a throttling storm does not stop retrying).
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
    /// First backoff (doubling, with full jitter, up to `max_backoff`).
    pub initial_backoff: Duration,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
    /// The retry quota of one client per container (the SDK's token bucket: a retry costs 5
    /// tokens, a retry after a timeout 10; an empty bucket stops retrying until it refills).
    pub retry_tokens: usize,
    /// Tokens the quota regains per second.
    pub retry_refill_per_second: f32,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            operation_timeout: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(6),
            connect_timeout: Duration::from_secs(3),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            retry_tokens: 500,
            retry_refill_per_second: 10.0,
        }
    }
}

impl ClientSettings {
    /// For batch jobs: 8 attempts, backoff up to 5 s, a quota of 5,000 tokens refilled at 50/s.
    pub fn batch() -> Self {
        ClientSettings {
            operation_timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
            max_attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            retry_tokens: 5_000,
            retry_refill_per_second: 50.0,
            ..ClientSettings::default()
        }
    }

    /// The standard retry mode with these attempts and backoffs.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    /// The timeouts.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .operation_timeout(self.operation_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .connect_timeout(self.connect_timeout)
            .build()
    }

    /// Applies timeouts and retries to a configuration loader (tests use it to build clients
    /// against an emulator with a function's own settings).
    pub fn configure(&self, loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
        loader
            .timeout_config(self.timeout_config())
            .retry_config(self.retry_config())
    }

    /// The retry partition of `service`'s client: its own token bucket of `retry_tokens`.
    pub fn retry_partition(&self, service: &'static str) -> RetryPartition {
        RetryPartition::custom(service)
            .token_bucket(
                TokenBucket::builder()
                    .capacity(self.retry_tokens)
                    .refill_rate(self.retry_refill_per_second)
                    .build(),
            )
            .build()
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
    /// Lambda: lifecycle hooks that invoke a function (deploy-hook's `lambda` and `backup`
    /// hooks), through [`crate::lambda::invoke_json`].
    pub lambda: aws_sdk_lambda::Client,
    /// Every call made through these clients.
    pub recorder: CallRecorder,
}

/// Loads the shared SDK configuration (region, credentials, endpoint overrides) with the suite's
/// timeouts and retries.
pub async fn load_sdk_config(settings: &ClientSettings) -> SdkConfig {
    settings
        .configure(aws_config::defaults(BehaviorVersion::latest()))
        .load()
        .await
}

impl AwsClients {
    /// Builds every client from `sdk`. S3 uses path-style addressing when an endpoint is
    /// overridden (emulators and most S3-compatible stores need it; AWS does not).
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::with_settings(sdk, &ClientSettings::default())
    }

    /// Builds every client from `sdk`, each with its own retry quota sized by `settings`.
    pub fn with_settings(sdk: &SdkConfig, settings: &ClientSettings) -> Self {
        let recorder = CallRecorder::default();
        let path_style =
            sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .retry_partition(settings.retry_partition("ops-s3"))
            .interceptor(recorder.clone())
            .build();
        let route53 = aws_sdk_route53::config::Builder::from(sdk)
            .retry_partition(settings.retry_partition("ops-route53"))
            .interceptor(recorder.clone())
            .build();
        let ecs = aws_sdk_ecs::config::Builder::from(sdk)
            .retry_partition(settings.retry_partition("ops-ecs"))
            .interceptor(recorder.clone())
            .build();
        let secrets = aws_sdk_secretsmanager::config::Builder::from(sdk)
            .retry_partition(settings.retry_partition("ops-secretsmanager"))
            .interceptor(recorder.clone())
            .build();
        let kms = aws_sdk_kms::config::Builder::from(sdk)
            .retry_partition(settings.retry_partition("ops-kms"))
            .interceptor(recorder.clone())
            .build();
        let lambda = aws_sdk_lambda::config::Builder::from(sdk)
            .retry_partition(settings.retry_partition("ops-lambda"))
            .interceptor(recorder.clone())
            .build();
        AwsClients {
            kms: aws_sdk_kms::Client::from_conf(kms),
            lambda: aws_sdk_lambda::Client::from_conf(lambda),
            s3: aws_sdk_s3::Client::from_conf(s3),
            route53: aws_sdk_route53::Client::from_conf(route53),
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            secrets: aws_sdk_secretsmanager::Client::from_conf(secrets),
            recorder,
        }
    }

    /// Loads the configuration from the environment and builds every client.
    pub async fn from_env(settings: &ClientSettings) -> Self {
        Self::with_settings(&load_sdk_config(settings).await, settings)
    }
}
