//! What the handler needs, built once per container: AWS clients, the state store, the config
//! source, notification channels, the health-check HTTP client and the tunables.

use std::sync::Arc;

use aws_config::SdkConfig;
use ops_adapters::cloudwatch;
use ops_adapters::codepipeline;
use ops_adapters::notify::Notifier;
use ops_adapters::s3::{ConfigLoadError, ConfigSource, StateStore};
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::AwsClients;

/// The function's name, in audit records, metrics and state keys.
pub const FUNCTION: &str = "deploy-hook";

/// Tunables, from the environment in `main`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a claimed change (`Acting`) is left to the invocation that claimed it before
    /// another may repeat it; longer than the function timeout.
    pub lease: chrono::Duration,
    /// Fault injection for the crash-and-resume tests: stop right after an AWS change, before
    /// the record says it was made (as a crash or timeout would). Never set in production.
    pub crash_after_change: bool,
    /// The backup function (`BACKUP_FUNCTION`), for `backup` lifecycle hooks.
    pub backup_function: Option<String>,
    /// alarm-rollback (`ALARM_ROLLBACK_FUNCTION`), which post-promotion analysis hands a
    /// failing check to.
    pub alarm_rollback_function: Option<String>,
    /// Where the ECS lifecycle-hook mode reads the target revision's task definition.
    pub revision_source: RevisionSource,
}

/// Where the ECS lifecycle-hook mode reads the task definition of the revision being deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RevisionSource {
    /// `DescribeServiceRevisions` on the payload's `targetServiceRevisionArn` (the default).
    #[default]
    ServiceRevision,
    /// The service's current task definition (`DescribeServices`): what ECS deploys once
    /// `UpdateService` started the deployment. For ECS-compatible endpoints without
    /// `DescribeServiceRevisions` (the local emulator); `ECS_HOOK_REVISION_SOURCE=service`.
    Service,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease: chrono::Duration::seconds(120),
            crash_after_change: false,
            backup_function: None,
            alarm_rollback_function: None,
            revision_source: RevisionSource::default(),
        }
    }
}

/// Everything the handler needs, built once per container.
#[derive(Debug)]
pub struct Deps {
    /// AWS clients (S3, Route53, ECS, Secrets Manager) and the call recorder.
    pub clients: AwsClients,
    /// CloudWatch, for the alarm gate.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// CodePipeline, for job results.
    pub codepipeline: aws_sdk_codepipeline::Client,
    /// The SDK configuration, for the artifact client built with the job's credentials.
    pub sdk: SdkConfig,
    /// The state bucket.
    pub store: StateStore,
    /// The suite configuration.
    pub config: ConfigSource,
    /// Notification channels.
    pub notifier: Notifier,
    /// HTTP client of the health checks.
    pub http: reqwest::Client,
    /// Tunables.
    pub settings: Settings,
}

impl Deps {
    /// Builds the dependencies from one SDK configuration; every AWS call (the notifier's
    /// secret reads included) goes through one call recorder.
    pub fn new(
        sdk: &SdkConfig,
        store_bucket: &str,
        config_uri: &str,
        settings: Settings,
    ) -> Result<Deps, ConfigLoadError> {
        let clients = AwsClients::new(sdk);
        let secrets =
            SecretCache::new(clients.secrets.clone(), std::time::Duration::from_secs(300));
        Ok(Deps {
            cloudwatch: cloudwatch::client(sdk, &clients.recorder),
            codepipeline: codepipeline::client(sdk, &clients.recorder),
            sdk: sdk.clone(),
            store: StateStore::new(clients.s3.clone(), store_bucket),
            config: ConfigSource::new(config_uri, clients.s3.clone())?,
            notifier: Notifier::new(Arc::new(secrets)),
            http: reqwest::Client::builder()
                .user_agent("ops-suite-deploy-hook")
                .build()
                .unwrap_or_default(),
            settings,
            clients,
        })
    }

    /// The function's environment ([`ops_adapters::runtime::FunctionEnv`]: `STATE_BUCKET`,
    /// `CONFIG_URI`, the SDK configuration with the event-handler client settings),
    /// `DEPLOY_LEASE_SECONDS` (default 120: longer than the function timeout),
    /// `BACKUP_FUNCTION` (the backup function, for `backup` hooks), `ALARM_ROLLBACK_FUNCTION`
    /// (for post-promotion analysis) and `ECS_HOOK_REVISION_SOURCE` ([`RevisionSource`]).
    pub async fn from_env() -> anyhow::Result<Deps> {
        use ops_adapters::runtime::{env_seconds, FunctionEnv};
        let env = FunctionEnv::from_env(ops_adapters::clients::ClientSettings::default()).await?;
        let mut settings = Settings::default();
        if let Some(seconds) = env_seconds("DEPLOY_LEASE_SECONDS")? {
            settings.lease = chrono::Duration::seconds(seconds);
        }
        let function = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        settings.backup_function = function("BACKUP_FUNCTION");
        settings.alarm_rollback_function = function("ALARM_ROLLBACK_FUNCTION");
        match std::env::var("ECS_HOOK_REVISION_SOURCE").ok().as_deref() {
            None | Some("" | "service_revision") => {}
            Some("service") => settings.revision_source = RevisionSource::Service,
            Some(other) => anyhow::bail!(
                "ECS_HOOK_REVISION_SOURCE is \"{other}\"; expected service_revision or service"
            ),
        }
        Ok(Deps::new(
            &env.sdk,
            &env.state_bucket,
            &env.config_uri,
            settings,
        )?)
    }
}
