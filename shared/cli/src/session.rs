//! What every operator command starts from: the AWS clients, the state store, the suite config,
//! the caller's identity, the service's config and its deployment record — all read before
//! anything is written, each with a short error naming what is missing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ops_adapters::s3::{ConfigSource, StateError, StateStore, Versioned};
use ops_adapters::AwsClients;
use ops_domain::audit::AuditRecord;
use ops_domain::config::{ServiceConfig, SuiteConfig};
use ops_domain::deployment::{DeploymentRecord, OwedAudit};
use ops_domain::keys;

use crate::{Env, Failure, Options};

/// How many times a lost compare-and-swap is re-read and re-checked before giving up.
pub const MAX_ATTEMPTS: usize = 5;

/// The function name in audit records written by `opsctl`.
pub const FUNCTION: &str = "opsctl";

/// An operator command's view of AWS and of the suite.
#[derive(Debug)]
pub struct Session {
    /// AWS clients over the operator's credentials.
    pub clients: AwsClients,
    /// The state bucket.
    pub store: StateStore,
    /// The suite config.
    pub config: Arc<SuiteConfig>,
    /// The caller: the ARN from STS `GetCallerIdentity` (or the API's authenticated principal).
    pub caller: String,
    /// The name audit records carry as the function that acted (`opsctl`, `ops-api`).
    pub function: String,
    /// The backup function, for verify and restore.
    pub backup: Option<BackupFunction>,
}

/// The backup function and a client to invoke it.
#[derive(Debug, Clone)]
pub struct BackupFunction {
    /// Lambda client.
    pub client: aws_sdk_lambda::Client,
    /// Its name or ARN.
    pub name: String,
}

impl Session {
    /// Resolves the bucket and config location, asks STS who the caller is and loads the config.
    pub async fn open(env: &Env, options: &Options) -> Result<Session, Failure> {
        let bucket = options
            .bucket
            .clone()
            .or_else(|| env.state_bucket.clone())
            .ok_or_else(|| {
                Failure::Usage("no state bucket: set STATE_BUCKET or pass --bucket NAME".to_owned())
            })?;
        let config_uri = options
            .config
            .clone()
            .or_else(|| env.config_uri.clone())
            .unwrap_or_else(|| format!("s3://{bucket}/{}", keys::CONFIG_KEY));
        let clients = AwsClients::new(&env.sdk);
        let caller = caller_identity(&env.sdk).await?;
        let source = ConfigSource::new(&config_uri, clients.s3.clone())
            .map_err(|error| Failure::Usage(error.to_string()))?;
        let config = source
            .current()
            .await
            .map_err(|error| Failure::Failed(error.to_string()))?;
        let backup = env.backup_function.clone().map(|name| BackupFunction {
            client: aws_sdk_lambda::Client::new(&env.sdk),
            name,
        });
        Ok(Session {
            store: StateStore::new(clients.s3.clone(), bucket),
            clients,
            config,
            caller,
            function: FUNCTION.to_owned(),
            backup,
        })
    }

    /// The config of `service`; an error listing the known services when it is not there.
    pub fn service(&self, service: &str) -> Result<&ServiceConfig, Failure> {
        self.config.services.get(service).ok_or_else(|| {
            let known: Vec<&str> = self.config.services.keys().map(String::as_str).collect();
            Failure::NotFound(format!(
                "service {service} is not in the suite config (services: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// The deployment record of `service`, with its ETag.
    pub async fn record(&self, service: &str) -> Result<Versioned<DeploymentRecord>, Failure> {
        let key = keys::deployment_record(service);
        self.store
            .get::<DeploymentRecord>(&key)
            .await
            .map_err(|error| {
                Failure::Failed(format!("cannot read the deployment record: {error}"))
            })?
            .ok_or_else(|| {
                Failure::Refused(format!(
                    "{service} has no deployment record (s3://{}/{key}): the suite has not \
                     deployed it yet",
                    self.store.bucket()
                ))
            })
    }

    /// Replaces the record of `record.service` if it still has `etag`: `Ok(None)` when another
    /// writer won (read again and check again).
    pub async fn replace(
        &self,
        record: &DeploymentRecord,
        etag: &str,
    ) -> Result<Option<String>, Failure> {
        match self
            .store
            .replace(&keys::deployment_record(&record.service), record, etag)
            .await
        {
            Ok(etag) => Ok(Some(etag)),
            Err(StateError::Conflict { .. }) => Ok(None),
            Err(error) => Err(Failure::Failed(format!(
                "cannot write the deployment record: {error}"
            ))),
        }
    }

    /// Writes the audit record `record` owes (noted by [`owe`] in the same write as the change)
    /// and clears it from the record, best effort: when it cannot be written now it stays owed,
    /// and deploy-hook's next invocation for the service writes it under the same key (audit
    /// records are create-once), so it is neither lost nor stored twice. Returns a note for the
    /// operator when it stays owed.
    pub async fn settle_audit(
        &self,
        audit: &AuditRecord,
        written: &DeploymentRecord,
        etag: &str,
    ) -> Option<String> {
        if let Err(error) = ops_adapters::audit::write(&self.store, audit).await {
            return Some(format!(
                "its audit record {} is owed in the deployment record; deploy-hook writes it at \
                 the service's next invocation ({error})",
                audit.id
            ));
        }
        let mut cleared = written.clone();
        cleared.audit_owed.retain(|owed| owed.id != audit.id);
        // Lost to another writer: the record is written, and whoever reads the owed entry next
        // finds the audit record stored and clears it.
        let _ = self.replace(&cleared, etag).await;
        None
    }
}

/// Notes `audit` as owed by `record`, to be written in the same compare-and-swap as the change it
/// describes (see [`Session::settle_audit`]).
pub fn owe(record: &mut DeploymentRecord, audit: &AuditRecord) {
    record.owe_audit(OwedAudit {
        id: audit.id.clone(),
        action: audit.action.clone(),
        at: audit.at,
        outcome: audit.outcome.clone(),
        actor: audit.actor.clone(),
        reason: audit.reason.clone(),
        before: audit.before.clone(),
        function: Some(audit.function.clone()),
    });
}

/// The caller's ARN, from STS `GetCallerIdentity`.
pub async fn caller_identity(sdk: &aws_config::SdkConfig) -> Result<String, Failure> {
    let sts = aws_sdk_sts::Client::new(sdk);
    let identity = sts.get_caller_identity().send().await.map_err(|error| {
        Failure::Failed(format!(
            "cannot tell who the caller is (STS GetCallerIdentity): {}",
            ops_adapters::error::describe(&error)
        ))
    })?;
    identity
        .arn()
        .map(str::to_owned)
        .ok_or_else(|| Failure::Failed("STS GetCallerIdentity answered without an ARN".to_owned()))
}

/// A new command id: `<service>-<UTC time>-<random hex>`, unique across operators and runs.
pub fn command_id(service: &str, now: DateTime<Utc>) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the operating system's randomness once per process; the
    // process id, the time and a counter make every id of this process different too.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_i64(now.timestamp_nanos_opt().unwrap_or_default());
    hasher.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    format!(
        "{service}-{}-{:016x}",
        now.format("%Y%m%dT%H%M%SZ"),
        hasher.finish()
    )
}

#[cfg(test)]
mod tests {
    use super::command_id;
    use chrono::TimeZone;

    #[test]
    fn command_ids_are_unique_and_name_the_service_and_time() {
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 3, 7, 1, 2, 3)
            .single()
            .expect("valid");
        let a = command_id("web", now);
        let b = command_id("web", now);
        assert!(a.starts_with("web-20260307T010203Z-"), "{a}");
        assert_eq!(a.len(), "web-20260307T010203Z-".len() + 16);
        assert_ne!(a, b);
    }
}
