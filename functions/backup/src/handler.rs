//! The handler: parse the input, find the plan, claim the plan's run (one run per plan at a
//! time), do the action, release the claim, report.
//!
//! **One run per plan.** `backup/runs/<plan>.json` in the state bucket is created with
//! `If-None-Match: *` and holds a lease. A second run of the same plan that finds a live lease
//! exits cleanly (`skipped`); one that finds an expired lease takes the run over by
//! compare-and-swap and resumes its checkpoint, so a run that died after copying data but
//! before its manifest is completed by the next one. The function's own continuation carries
//! the run id and renews the lease.
//!
//! **The claim names its holder.** Every claim carries the Lambda request id of the invocation
//! holding it (`holder`). EventBridge Scheduler retries a failed asynchronous invocation with the
//! same event and the same request id, so a retry whose earlier attempt wrote the claim (and lost
//! the answer, or failed later) recognises the claim as its own and carries on; any other
//! invocation sees `skipped` while the lease holds.
//!
//! **Failures.** Every failure is classified once ([`HandlerError::is_transient`], from
//! `ops_adapters::error::AwsCallError`). A transient failure fails the invocation (the Scheduler
//! retries it) after the backup checkpointed what it had copied and handed the claim over (its
//! lease ended now), so the retry — or, once it gives up, the next scheduled run — resumes the
//! checkpoint and copies nothing twice. A permanent failure releases the claim and drops the
//! checkpoint: nothing becomes visible, and prune removes the data the run had copied once its
//! grace period has passed. Errors quote AWS codes and messages, never a response body or a whole
//! input.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use ops_adapters::clients::ClientSettings;
use ops_adapters::error::{bounded, MAX_MESSAGE};
use ops_adapters::kms::KmsError;
use ops_adapters::notify::Notifier;
use ops_adapters::s3::backup::{BackupS3Error, Bucket};
use ops_adapters::s3::{ConfigLoadError, ConfigSource, StateError, StateStore};
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::AwsClients;
use ops_domain::backup::manifest::{DocumentError, Layout, SnapshotId};
use ops_domain::config::{BackupPlanConfig, SuiteConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::info;

use crate::event::{self, Action, Request};
use crate::report;

/// The function's name, in metrics, state keys and notifications.
pub const FUNCTION: &str = "backup";

/// Calls the recorder keeps before an invocation clears it (about 10 MB).
const RECORDER_LIMIT: usize = 100_000;

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
    /// `CONFIG_URI`, the SDK configuration); continuation through `AWS_LAMBDA_FUNCTION_NAME` when it is set.
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

/// The plan's run claim, in the state bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunClaim {
    /// The run (the request id of its first invocation).
    pub run: String,
    /// The request id of the invocation that holds the claim now (a retry of that invocation
    /// carries the same id and recognises the claim as its own).
    #[serde(default)]
    pub holder: String,
    /// Its action.
    pub action: Action,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// Until when it holds the plan without renewing.
    pub lease_until: DateTime<Utc>,
    /// Invocations so far (continuations and takeovers count).
    pub invocations: u32,
    /// A backup's checkpoint.
    #[serde(default)]
    pub checkpoint: Option<crate::snapshot::Checkpoint>,
}

/// Key of a plan's run claim.
pub fn claim_key(plan: &str) -> String {
    format!("backup/runs/{plan}.json")
}

/// A claim held by this invocation, with the ETag to renew or release it by.
#[derive(Debug, Clone)]
pub struct Held {
    /// The claim.
    pub claim: RunClaim,
    /// Its ETag.
    pub etag: String,
    /// Whether this invocation took it over from a run whose lease had expired.
    pub taken_over: bool,
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

/// Handles one invocation.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Response, HandlerError> {
    let started = Instant::now();
    let deadline = deadline_of(&event.context);
    // The recorder keeps the container's calls (what the least-privilege tests read); a warm
    // backup container makes one per copied object, so it starts afresh once it is large.
    if deps.clients.recorder.len() > RECORDER_LIMIT {
        deps.clients.recorder.clear();
    }
    let calls_at_start = deps.clients.recorder.len();
    let request = event::parse(&event.payload).map_err(HandlerError::invalid)?;
    let config = deps.config.current().await?;
    let plan = config
        .backup
        .plans
        .get(&request.plan)
        .cloned()
        .ok_or_else(|| HandlerError::UnknownPlan {
            plan: request.plan.clone(),
            known: config
                .backup
                .plans
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let ctx = Context {
        deps,
        layout: Layout::new(&plan.destination.prefix),
        s3: deps.s3_in(plan.destination.region.as_deref()),
        plan_name: request.plan.clone(),
        plan,
        config,
        request_id: event.context.request_id.clone(),
        deadline,
        request,
        calls_at_start,
    };
    let held = match claim(&ctx).await? {
        Claimed::Held(held) => held,
        Claimed::Busy(other) => {
            info!(
                message = "Another run holds the plan; exiting.",
                plan = %ctx.plan_name,
                holder = %other.run,
                until = %other.lease_until
            );
            return Ok(Response::Skipped {
                holder: other.run,
                holder_action: other.action,
                lease_until: other.lease_until,
            });
        }
    };
    let mut held = held;
    let outcome = match ctx.request.action {
        Action::Backup => crate::snapshot::run(&ctx, &mut held).await,
        Action::Verify => crate::verify::run(&ctx).await.map(Outcome::Report),
        Action::Prune => crate::prune::run(&ctx).await.map(Outcome::Report),
        Action::Restore => crate::restore::run(&ctx).await.map(Outcome::Report),
    };
    match outcome {
        Ok(Outcome::Report(report)) => {
            release(&ctx, &held).await?;
            let report = report::finish(&ctx, report, started).await;
            Ok(Response::Done { report })
        }
        Ok(Outcome::Continue(response)) => Ok(response),
        Err(error) => {
            match &error {
                // A crash saves nothing and hands nothing over: the lease runs out.
                HandlerError::Interrupted => {}
                // Transient, with a checkpoint: hand the claim over (its lease ends now), so the
                // Scheduler's retry or the next run resumes what was copied.
                error if error.is_transient() && held.claim.checkpoint.is_some() => {
                    hand_over(&ctx, &mut held).await;
                }
                // Nothing worth resuming, or a permanent failure: release the plan, and drop the
                // run's checkpoint documents unless another invocation holds the run now.
                _ => match release(&ctx, &held).await {
                    Ok(true) if ctx.request.action == Action::Backup => {
                        crate::snapshot::drop_run(&ctx, &held).await;
                    }
                    Ok(_) => {}
                    Err(release_error) => tracing::warn!(
                        message = "Could not release the run claim; its lease runs out.",
                        plan = %ctx.plan_name,
                        error = %release_error
                    ),
                },
            }
            report::failed(&ctx, &error, started).await;
            Err(error)
        }
    }
}

/// Ends the claim's lease now, keeping its checkpoint (best effort: if this fails too, the lease
/// runs out, and a retry of this invocation recognises the claim as its own meanwhile).
async fn hand_over(ctx: &Context<'_>, held: &mut Held) {
    held.claim.lease_until = Utc::now();
    match ctx
        .deps
        .store
        .replace(&claim_key(&ctx.plan_name), &held.claim, &held.etag)
        .await
    {
        Ok(etag) => {
            held.etag = etag;
            info!(message = "Run claim handed over with its checkpoint.", plan = %ctx.plan_name);
        }
        Err(error) => tracing::warn!(
            message = "Could not hand the run claim over; its lease runs out.",
            plan = %ctx.plan_name,
            error = %error
        ),
    }
}

/// What an action returns.
#[derive(Debug)]
pub enum Outcome {
    /// Finished, with its report.
    Report(report::Report),
    /// Checkpointed; continues.
    Continue(Response),
}

fn deadline_of(context: &lambda_runtime::Context) -> Instant {
    let now_ms = Utc::now().timestamp_millis();
    let deadline_ms = i64::try_from(context.deadline).unwrap_or(i64::MAX);
    let left = deadline_ms.saturating_sub(now_ms);
    // No deadline (tests, a local runtime without one): an hour.
    if context.deadline == 0 || left <= 0 || left > 3_600_000 {
        return Instant::now() + StdDuration::from_secs(3600);
    }
    Instant::now() + StdDuration::from_millis(left as u64)
}

enum Claimed {
    Held(Held),
    Busy(RunClaim),
}

async fn claim(ctx: &Context<'_>) -> Result<Claimed, HandlerError> {
    let store = &ctx.deps.store;
    let key = claim_key(&ctx.plan_name);
    let now = Utc::now();
    let lease_until = now + ctx.deps.settings.lease;
    let fresh = RunClaim {
        run: ctx.request_id.clone(),
        holder: ctx.request_id.clone(),
        action: ctx.request.action,
        started_at: now,
        lease_until,
        invocations: 1,
        checkpoint: None,
    };
    // The common case first: nobody holds the plan, and one create-once write claims it.
    let mut try_create = ctx.request.continue_run.is_none();
    for _ in 0..5 {
        if try_create {
            match store.create(&key, &fresh).await {
                Ok(etag) => {
                    return Ok(Claimed::Held(Held {
                        claim: fresh,
                        etag,
                        taken_over: false,
                    }))
                }
                Err(StateError::AlreadyExists { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        match store.get::<RunClaim>(&key).await? {
            None => try_create = true,
            Some(existing) => {
                // Ours: this run's continuation, or a retry of the invocation that holds it (the
                // Scheduler retries with the same request id; its earlier attempt may have
                // written this claim and lost the answer).
                let ours = ctx.request.continue_run.as_deref() == Some(existing.value.run.as_str())
                    || existing.value.holder == ctx.request_id
                    || (existing.value.holder.is_empty() && existing.value.run == ctx.request_id);
                let expired = existing.value.lease_until <= now;
                // A dead backup's checkpoint waits for the next backup: another action taking
                // the plan over would drop it (and prune must not run under uncommitted data).
                let checkpoint_waits =
                    existing.value.checkpoint.is_some() && ctx.request.action != Action::Backup;
                if (!ours && !expired) || checkpoint_waits {
                    return Ok(Claimed::Busy(existing.value));
                }
                let mut claim = existing.value.clone();
                // A takeover of another action's expired run starts this action afresh.
                if claim.action != ctx.request.action {
                    claim.action = ctx.request.action;
                    claim.checkpoint = None;
                    claim.started_at = now;
                }
                if !ours {
                    claim.run = ctx.request_id.clone();
                }
                claim.holder = ctx.request_id.clone();
                claim.lease_until = lease_until;
                claim.invocations += 1;
                match store.replace(&key, &claim, &existing.etag).await {
                    Ok(etag) => {
                        return Ok(Claimed::Held(Held {
                            claim,
                            etag,
                            taken_over: !ours,
                        }))
                    }
                    Err(StateError::Conflict { .. }) => try_create = false,
                    Err(error) => return Err(error.into()),
                }
            }
        }
    }
    // Five lost races in a row: someone else is clearly running it.
    match store.get::<RunClaim>(&key).await? {
        Some(other) => Ok(Claimed::Busy(other.value)),
        None => Err(HandlerError::State(StateError::Conflict {
            bucket: store.bucket().to_owned(),
            key,
        })),
    }
}

/// Saves a claim (a renewed lease, a checkpoint) by compare-and-swap.
pub async fn save_claim(ctx: &Context<'_>, held: &mut Held) -> Result<(), HandlerError> {
    held.claim.lease_until = Utc::now() + ctx.deps.settings.lease;
    held.etag = ctx
        .deps
        .store
        .replace(&claim_key(&ctx.plan_name), &held.claim, &held.etag)
        .await?;
    Ok(())
}

/// Deletes the claim if it is still the one `held` (another invocation may have taken an
/// expired lease over meanwhile: its claim stays). `true` when no claim of this run is left,
/// `false` when another invocation holds the plan.
async fn release(ctx: &Context<'_>, held: &Held) -> Result<bool, HandlerError> {
    let key = claim_key(&ctx.plan_name);
    let store = &ctx.deps.store;
    match store.get::<RunClaim>(&key).await? {
        None => Ok(true),
        Some(current)
            if current.etag == held.etag
                || (current.value.run == held.claim.run
                    && current.value.holder == held.claim.holder) =>
        {
            store.delete(&key).await?;
            Ok(true)
        }
        Some(other) => {
            info!(
                message = "The run claim was taken over meanwhile; leaving it.",
                plan = %ctx.plan_name,
                holder = %other.value.holder
            );
            Ok(false)
        }
    }
}

/// The snapshot id of a run started at `started_at` by `run`.
pub fn snapshot_id(started_at: DateTime<Utc>, run: &str) -> SnapshotId {
    SnapshotId::new(started_at, run)
}
