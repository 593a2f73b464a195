//! What every action works with: the function's dependencies ([`Deps`], built once per
//! container) and tunables ([`Settings`]), one invocation's [`Context`] (the plan, its
//! destination, the deadline), the errors that fail a run ([`HandlerError`]) and what an
//! invocation answers ([`Response`]).
//!
//! The bottom layer of the crate: it imports only [`crate::event`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::Diagnostic;
use ops_adapters::clients::ClientSettings;
use ops_adapters::error::{bounded, MAX_MESSAGE};
use ops_adapters::kms::KmsError;
use ops_adapters::notify::Notifier;
use ops_adapters::s3::backup::{BackupS3Error, Bucket};
use ops_adapters::s3::{ConfigLoadError, ConfigSource, StateError, StateStore};
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::AwsClients;
use ops_domain::backup::manifest::{DocumentError, Layout};
use ops_domain::config::{BackupPlanConfig, SuiteConfig};
use serde::Serialize;
use serde_json::Value;

use crate::event::{Action, Request};

/// The function's name, in metrics, state keys and notifications.
pub const FUNCTION: &str = "backup";

/// Tunables; the defaults suit Lambda, tests shorten them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a run's claim lasts without renewal (longer than the function timeout).
    pub lease: Duration,
    /// Time kept in reserve before the invocation deadline: a run checkpoints and continues
    /// in a new invocation when less than this is left.
    pub reserve: StdDuration,
    /// Copies in flight at once.
    pub concurrency: usize,
    /// A checkpoint is written after this many copies even with time left, so a crash
    /// recopies at most this many objects.
    pub checkpoint_every: usize,
    /// Most copies one invocation makes before it checkpoints and continues (tests use it to
    /// force a continuation; `usize::MAX` in Lambda, where the deadline decides).
    pub max_copies_per_invocation: usize,
    /// Prune never deletes a data object written less than this long ago (a backup running
    /// at the same time may have just written it for a snapshot not yet committed).
    pub prune_grace: Duration,
    /// Test hook: stop (as a crash would) after the data is written, before the manifest.
    pub crash_before_manifest: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease: Duration::minutes(20),
            reserve: StdDuration::from_secs(90),
            concurrency: 32,
            checkpoint_every: 5_000,
            max_copies_per_invocation: usize::MAX,
            prune_grace: Duration::days(1),
            crash_before_manifest: false,
        }
    }
}

/// How the function continues a checkpointed run: itself, asynchronously.
#[derive(Debug, Clone)]
pub struct SelfInvoke {
    /// Lambda client.
    pub client: aws_sdk_lambda::Client,
    /// This function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
}

/// Everything the handler needs, built once per container.
#[derive(Debug)]
pub struct Deps {
    /// AWS clients.
    pub clients: AwsClients,
    /// The state bucket (run claims, checkpoints, reports, audit).
    pub store: StateStore,
    /// The suite configuration.
    pub config: ConfigSource,
    /// Notification channels.
    pub notifier: Notifier,
    /// Tunables.
    pub settings: Settings,
    /// Continuation by self-invocation (`None`: the caller continues, as tests do).
    pub self_invoke: Option<SelfInvoke>,
    client_settings: ClientSettings,
    sdk: aws_config::SdkConfig,
    regional_s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

impl Deps {
    /// Builds the dependencies from `sdk` for `bucket` and `config_uri`.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        bucket: &str,
        config_uri: &str,
        settings: Settings,
    ) -> Result<Self, ConfigLoadError> {
        // Thousands of calls per invocation: the batch preset (more attempts, a retry quota per
        // client that refills), for every client the function builds.
        let client_settings = ClientSettings::batch();
        let clients = AwsClients::with_settings(sdk, &client_settings);
        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(sdk)
                .retry_config(client_settings.retry_config())
                .timeout_config(client_settings.timeout_config())
                .retry_partition(client_settings.retry_partition("ops-sesv2"))
                .interceptor(clients.recorder.clone())
                .build(),
        );
        let secrets = Arc::new(SecretCache::new(
            clients.secrets.clone(),
            StdDuration::from_secs(300),
        ));
        Ok(Deps {
            store: StateStore::new(clients.s3.clone(), bucket),
            config: ConfigSource::new(config_uri, clients.s3.clone())?,
            notifier: Notifier::new(secrets).with_email(ses),
            settings,
            self_invoke: None,
            client_settings,
            sdk: sdk.clone(),
            regional_s3: Mutex::new(HashMap::new()),
            clients,
        })
    }

    /// The function's environment (`ops_adapters::runtime::FunctionEnv`: `STATE_BUCKET`,
    /// `CONFIG_URI`, the SDK configuration); continuation through `AWS_LAMBDA_FUNCTION_NAME` when
    /// it is set.
    pub async fn from_env() -> anyhow::Result<Self> {
        let env = ops_adapters::runtime::FunctionEnv::from_env(ClientSettings {
            operation_timeout: StdDuration::from_secs(120),
            attempt_timeout: StdDuration::from_secs(60),
            ..ClientSettings::batch()
        })
        .await?;
        let sdk = env.sdk;
        let mut deps = Deps::new(
            &sdk,
            &env.state_bucket,
            &env.config_uri,
            Settings::default(),
        )?;
        if let Ok(function_name) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
            let settings = &deps.client_settings;
            let lambda = aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(&sdk)
                    .retry_config(settings.retry_config())
                    .timeout_config(settings.timeout_config())
                    .retry_partition(settings.retry_partition("ops-lambda"))
                    .interceptor(deps.clients.recorder.clone())
                    .build(),
            );
            deps.self_invoke = Some(SelfInvoke {
                client: lambda,
                function_name,
            });
        }
        Ok(deps)
    }

    /// The S3 client for a bucket in `region` (the function's own client when `None`).
    pub fn s3_in(&self, region: Option<&str>) -> aws_sdk_s3::Client {
        let Some(region) = region else {
            return self.clients.s3.clone();
        };
        if self.sdk.region().map(|r| r.as_ref()) == Some(region) {
            return self.clients.s3.clone();
        }
        let mut cache = self
            .regional_s3
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry(region.to_owned())
            .or_insert_with(|| {
                let path_style = self.sdk.endpoint_url().is_some();
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&self.sdk)
                        .region(aws_sdk_s3::config::Region::new(region.to_owned()))
                        .force_path_style(path_style)
                        .retry_config(self.client_settings.retry_config())
                        .retry_partition(self.client_settings.retry_partition("ops-s3-regional"))
                        .interceptor(self.clients.recorder.clone())
                        .build(),
                )
            })
            .clone()
    }
}

/// Errors that fail a run. Each maps to a stable Lambda `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The input is not what the schedule or an operator sends.
    #[error("{0}")]
    InvalidInput(String),
    /// The configuration could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigLoadError),
    /// The plan is not in the config.
    #[error("backup plan \"{plan}\" is not in the suite config (plans: {known})")]
    UnknownPlan {
        /// The plan asked for.
        plan: String,
        /// The plans there are.
        known: String,
    },
    /// A source (bucket, zone, cluster, service, secret) is missing or unreadable.
    #[error("{target}: {reason}")]
    Source {
        /// The target, named as in the config (`s3://bucket/prefix`, `route53:Z…`, `secret:name`).
        target: String,
        /// What went wrong.
        reason: String,
        /// Whether retrying later may succeed.
        transient: bool,
    },
    /// The backup bucket failed.
    #[error(transparent)]
    Destination(#[from] BackupS3Error),
    /// KMS refused or failed (secrets cannot be encrypted or decrypted).
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// A stored manifest or pointer cannot be used.
    #[error("{key}: {source}")]
    Document {
        /// Its key in the backup bucket.
        key: String,
        /// What is wrong with it.
        source: DocumentError,
    },
    /// The snapshot named does not exist (or has no committed manifest).
    #[error("snapshot {0} does not exist")]
    NoSuchSnapshot(String),
    /// The state bucket failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A restore could not be applied.
    #[error("restore failed: {0}")]
    Restore(String),
    /// The invocation stopped before finishing, its checkpoint saved (`Settings`
    /// test hook that stands in for a crash or timeout).
    #[error("the run stopped before its manifest (checkpoint saved); the next run completes it")]
    Interrupted,
}

impl HandlerError {
    /// A source failure.
    pub fn source(target: impl Into<String>, reason: impl ToString, transient: bool) -> Self {
        HandlerError::Source {
            target: target.into(),
            reason: reason.to_string(),
            transient,
        }
    }

    /// An invalid input, its message capped (it may quote the input).
    pub fn invalid(message: impl AsRef<str>) -> Self {
        HandlerError::InvalidInput(bounded(message.as_ref(), MAX_MESSAGE))
    }

    /// Whether retrying the invocation later may succeed (the shared classification of AWS
    /// failures: throttling, 5xx, timeouts, lost connections); `false` for bad input, a wrong
    /// config, a missing or refused resource, a corrupt document.
    pub fn is_transient(&self) -> bool {
        match self {
            HandlerError::Source { transient, .. } => *transient,
            HandlerError::Config(error) => error.is_transient(),
            HandlerError::Destination(error) => error.is_transient(),
            HandlerError::Kms(error) => error.is_transient(),
            HandlerError::State(error) => error.is_transient(),
            // Stands in for a crash or a timeout: the next attempt resumes.
            HandlerError::Interrupted => true,
            _ => false,
        }
    }

    /// The stable error type.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidInput(_) => "InvalidInput",
            HandlerError::Config(_) | HandlerError::UnknownPlan { .. } => "ConfigurationError",
            HandlerError::Source { .. } => "SourceError",
            HandlerError::Destination(_) => "BackupBucketError",
            HandlerError::Kms(_) => "KmsError",
            HandlerError::Document { .. } => "CorruptDocument",
            HandlerError::NoSuchSnapshot(_) => "NoSuchSnapshot",
            HandlerError::State(_) => "StateStoreError",
            HandlerError::Restore(_) => "RestoreFailed",
            HandlerError::Interrupted => "Interrupted",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The plan, its destination, and what one invocation knows.
#[derive(Debug)]
pub struct Context<'a> {
    /// Dependencies.
    pub deps: &'a Deps,
    /// The suite config.
    pub config: Arc<SuiteConfig>,
    /// The plan's name.
    pub plan_name: String,
    /// The plan.
    pub plan: BackupPlanConfig,
    /// The backup bucket's key layout.
    pub layout: Layout,
    /// The backup bucket's client (its region).
    pub s3: aws_sdk_s3::Client,
    /// This invocation's request id.
    pub request_id: String,
    /// When this invocation must be done.
    pub deadline: Instant,
    /// The input.
    pub request: Request,
    /// Calls the container's clients had made when this invocation started.
    pub calls_at_start: usize,
}

impl Context<'_> {
    /// AWS calls made by this invocation so far.
    pub fn calls(&self) -> usize {
        self.deps
            .clients
            .recorder
            .len()
            .saturating_sub(self.calls_at_start)
    }
}

impl Context<'_> {
    /// The backup bucket, with its expected owner.
    pub fn destination(&self) -> Bucket<'_> {
        Bucket {
            name: &self.plan.destination.bucket,
            owner: self.plan.destination.account.as_deref(),
        }
    }

    /// Time left before the reserve.
    pub fn time_left(&self) -> StdDuration {
        self.deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(self.deps.settings.reserve)
    }
}

/// What one invocation did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    /// The action finished.
    Done {
        /// Its report.
        report: Value,
    },
    /// Another run of the plan holds it; nothing was done.
    Skipped {
        /// The run holding the plan.
        holder: String,
        /// Its action.
        holder_action: Action,
        /// Until when it holds it.
        lease_until: DateTime<Utc>,
    },
    /// The run checkpointed and continues in another invocation (sent already when
    /// `continued_by_self` is true; otherwise the caller sends `next`).
    Continued {
        /// The run.
        run: String,
        /// Copies done so far.
        copies_done: usize,
        /// Copies planned.
        copies_planned: usize,
        /// Whether the function invoked itself with `next`.
        continued_by_self: bool,
        /// The input of the next invocation.
        next: Value,
    },
}
