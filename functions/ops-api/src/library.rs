//! The operator library behind the API: [`Library`] implements [`Operations`] with `ops_cli`'s
//! read and command functions, each run in a `Session` whose caller is the authenticated
//! principal (so commands and audit records name `jwt:<sub>` or `api-key:<name>`, and the
//! acting function is `ops-api`). Nothing here decides anything: the library and the domain do.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ops_adapters::s3::{ConfigSource, StateStore};
use ops_adapters::AwsClients;
use ops_cli::session::{BackupFunction, Session};
use ops_cli::Failure;
use ops_domain::deploy::CommandKind;
use serde::Serialize;

use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::slack::{self, SlackCommand, SlackError};

use crate::caller::{Caller, Role, Via};
use crate::operations::{OpFailure, OpResult, Operations, SlackRequest};

/// How long the Slack signing secret is cached.
pub const SECRET_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// The name audit records carry for commands given through the API.
pub const FUNCTION: &str = "ops-api";

/// `ops_cli` over the function's clients, state bucket and config.
#[derive(Debug, Clone)]
pub struct Library {
    clients: AwsClients,
    store: StateStore,
    config: Arc<ConfigSource>,
    backup: Option<BackupFunction>,
    slack: Option<Arc<SlackSettings>>,
}

/// Where the Slack signing secret is, and a cache of it.
#[derive(Debug)]
pub struct SlackSettings {
    /// The secret's name or ARN (`SLACK_SIGNING_SECRET`).
    pub secret_id: String,
    /// Secrets Manager, cached.
    pub cache: SecretCache,
    /// For replies on a press's `response_url`.
    pub http: reqwest::Client,
}

impl Library {
    /// The library over `clients`, the state `store`, the config `source`, and the backup
    /// function (for restores) when there is one.
    pub fn new(
        clients: AwsClients,
        store: StateStore,
        config: ConfigSource,
        backup: Option<BackupFunction>,
    ) -> Self {
        Library {
            clients,
            store,
            config: Arc::new(config),
            backup,
            slack: None,
        }
    }

    /// The library a container runs, from the function's environment: `STATE_BUCKET`,
    /// `CONFIG_URI`, `BACKUP_FUNCTION` (restores through the backup function) and
    /// `SLACK_SIGNING_SECRET` (Slack presses), each optional but the first two.
    pub fn from_env(
        env: &ops_adapters::runtime::FunctionEnv,
        clients: &AwsClients,
    ) -> Result<Self, ops_adapters::runtime::EnvError> {
        let set = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let config = ConfigSource::new(&env.config_uri, clients.s3.clone()).map_err(|_| {
            ops_adapters::runtime::EnvError::Invalid {
                name: "CONFIG_URI",
                what: "an s3://bucket/key URI",
                value: env.config_uri.chars().take(200).collect(),
            }
        })?;
        let backup = set("BACKUP_FUNCTION").map(|name| BackupFunction {
            client: aws_sdk_lambda::Client::new(&env.sdk),
            name,
        });
        let library = Library::new(
            clients.clone(),
            StateStore::new(clients.s3.clone(), env.state_bucket.clone()),
            config,
            backup,
        );
        Ok(match set(slack::SIGNING_SECRET_ENV) {
            Some(secret_id) => library.with_slack(SlackSettings {
                secret_id,
                cache: SecretCache::new(clients.secrets.clone(), SECRET_TTL),
                http: reqwest::Client::new(),
            }),
            None => library,
        })
    }

    /// The same library answering Slack button presses signed with the secret in `slack`.
    pub fn with_slack(mut self, slack: SlackSettings) -> Self {
        self.slack = Some(Arc::new(slack));
        self
    }

    async fn session(&self, caller: &Caller) -> Result<Session, OpFailure> {
        let config =
            self.config.current().await.map_err(|error| {
                OpFailure::Failed(format!("cannot load the suite config: {error}"))
            })?;
        Ok(Session {
            clients: self.clients.clone(),
            store: self.store.clone(),
            config,
            caller: caller.principal.clone(),
            function: FUNCTION.to_owned(),
            backup: self.backup.clone(),
        })
    }
}

fn failure(failure: Failure) -> OpFailure {
    match failure {
        Failure::Usage(m) => OpFailure::Usage(m),
        Failure::Refused(m) => OpFailure::Refused(m),
        Failure::NotFound(m) => OpFailure::NotFound(m),
        Failure::Failed(m) => OpFailure::Failed(m),
    }
}

fn slack_failure(error: SlackError) -> OpFailure {
    let message = error.to_string();
    match error.status() {
        400 => OpFailure::Usage(message),
        401 => OpFailure::Unauthorized(message),
        403 => OpFailure::Forbidden(message),
        409 => OpFailure::Refused(message),
        _ => OpFailure::Failed(message),
    }
}

fn body<T: Serialize>(result: Result<T, Failure>) -> OpResult {
    let value = result.map_err(failure)?;
    serde_json::to_value(value).map_err(|error| OpFailure::Failed(error.to_string()))
}

impl Operations for Library {
    async fn status_suite(&self, caller: &Caller, now: DateTime<Utc>) -> OpResult {
        let session = self.session(caller).await?;
        body(ops_cli::status::suite(&session, now).await)
    }

    async fn status_services(&self, caller: &Caller, now: DateTime<Utc>) -> OpResult {
        let session = self.session(caller).await?;
        let services = ops_cli::status::services(&session, now)
            .await
            .map_err(failure)?;
        Ok(serde_json::json!({ "services": services }))
    }

    async fn status_service(&self, caller: &Caller, name: &str, now: DateTime<Utc>) -> OpResult {
        let session = self.session(caller).await?;
        body(ops_cli::status::service(&session, name, now).await)
    }

    async fn history_service(&self, caller: &Caller, name: &str) -> OpResult {
        let session = self.session(caller).await?;
        body(ops_cli::history::service(&session, name).await)
    }

    async fn audit_since(&self, caller: &Caller, since: DateTime<Utc>, limit: usize) -> OpResult {
        let session = self.session(caller).await?;
        body(ops_cli::audit::since(&session, since, limit).await)
    }

    async fn dora_report(&self, caller: &Caller, days: u32, now: DateTime<Utc>) -> OpResult {
        let session = self.session(caller).await?;
        body(ops_cli::dora::report(&session, days, now).await)
    }

    async fn backups_plans(&self, caller: &Caller, now: DateTime<Utc>) -> OpResult {
        let session = self.session(caller).await?;
        body(ops_cli::backups::plans(&session, now).await)
    }

    async fn backups_snapshots(&self, caller: &Caller, plan: &str) -> OpResult {
        let session = self.session(caller).await?;
        body(ops_cli::backups::snapshots(&session, plan).await)
    }

    async fn backups_restore(
        &self,
        caller: &Caller,
        plan: &str,
        snapshot: Option<&str>,
        apply: bool,
    ) -> OpResult {
        let session = self.session(caller).await?;
        body(ops_cli::backups::restore(&session, plan, snapshot, apply).await)
    }

    async fn cost_latest(&self, caller: &Caller) -> OpResult {
        let session = self.session(caller).await?;
        body(ops_cli::cost::latest(&session).await)
    }

    async fn deploy_execute(
        &self,
        caller: &Caller,
        kind: CommandKind,
        service: &str,
        reason: Option<String>,
    ) -> OpResult {
        let session = self.session(caller).await?;
        // The API's caller confirmed by sending the request.
        let done =
            ops_cli::deploy::execute(&session, kind, service, reason.unwrap_or_default(), |_| {
                Ok(())
            })
            .await
            .map_err(failure)?;
        Ok(done.body)
    }

    async fn rollback_execute(
        &self,
        caller: &Caller,
        service: &str,
        to: Option<&str>,
        dry_run: bool,
        reason: Option<String>,
    ) -> OpResult {
        let session = self.session(caller).await?;
        let request = ops_cli::rollback::Request {
            service,
            to,
            dry_run,
        };
        let done =
            ops_cli::rollback::execute(&session, &request, reason.unwrap_or_default(), |_| Ok(()))
                .await
                .map_err(failure)?;
        Ok(done.body)
    }

    async fn slack_interaction(&self, request: SlackRequest, now: DateTime<Utc>) -> OpResult {
        let Some(settings) = &self.slack else {
            return Err(OpFailure::NotConfigured(
                "Slack interactivity is not configured (SLACK_SIGNING_SECRET)".to_owned(),
            ));
        };
        let secret = slack::signing_secret(&settings.cache, &settings.secret_id)
            .await
            .map_err(slack_failure)?;
        let config =
            self.config.current().await.map_err(|error| {
                OpFailure::Failed(format!("cannot load the suite config: {error}"))
            })?;
        let headers = slack::Headers {
            timestamp: request.timestamp.as_deref(),
            signature: request.signature.as_deref(),
        };
        let press = slack::interaction(
            &secret,
            &self.store,
            &config,
            &headers,
            &request.body,
            &request.request_id,
            now,
        )
        .await
        .map_err(slack_failure)?;
        let caller = Caller {
            principal: press.caller(),
            role: Role::Operator,
            via: Via::Slack,
        };
        let session = self.session(&caller).await?;
        let kind = match press.action {
            SlackCommand::Promote => CommandKind::Promote { full: false },
            SlackCommand::Abort => CommandKind::Abort,
        };
        let outcome = ops_cli::deploy::execute_bound(
            &session,
            kind,
            &press.service,
            format!("{} from Slack", press.action.as_str()),
            Some(press.deployment_id.clone()),
            |_| Ok(()),
        )
        .await;
        let text = match &outcome {
            Ok(done) => done.lines.join("\n"),
            Err(error) => format!(
                "{} {} refused: {error}",
                press.action.as_str(),
                press.service
            ),
        };
        if let Some(url) = &press.response_url {
            if let Err(error) = slack::reply(&settings.http, url, &text).await {
                tracing::warn!(message = "Could not reply to Slack.", error = %error);
            }
        }
        outcome.map_err(failure)?;
        Ok(slack::reply_message(&text))
    }
}
