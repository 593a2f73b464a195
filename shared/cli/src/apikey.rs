//! `opsctl api-key create NAME --role viewer|operator`, `list`, `revoke NAME`: the REST API's
//! machine keys in their Secrets Manager secret (`API_KEYS_SECRET` or `--secret`). A new key is
//! printed once and never stored: the secret keeps its SHA-256 only ([`ops_domain::apikeys`]).
//! Every change is audited with the caller's identity; no audit record, log or error quotes a
//! key or its hash.

use std::io::Write;

use chrono::Utc;
use ops_adapters::secretsmanager::apikeys;
use ops_domain::apikeys::{new_key, Role, KEY_BYTES};
use ops_domain::audit::AuditRecord;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::session::{command_id, Session};
use crate::{confirm, print, Env, Failure, Options};

/// What `opsctl api-key` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCommand {
    /// `api-key create NAME --role R`.
    Create {
        /// The key's name (its principal is `api-key:<name>`).
        name: String,
        /// `viewer` or `operator`.
        role: Role,
    },
    /// `api-key list`.
    List,
    /// `api-key revoke NAME`.
    Revoke {
        /// The key's name.
        name: String,
    },
}

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure::Failed(error.to_string())
}

/// `opsctl api-key …` on secret `secret` (`--secret`, else `API_KEYS_SECRET`).
pub async fn run(
    command: &KeyCommand,
    secret: Option<&str>,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let secret = secret
        .map(str::to_owned)
        .or_else(|| {
            std::env::var("API_KEYS_SECRET")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .ok_or_else(|| {
            Failure::Usage(
                "no API keys secret: set API_KEYS_SECRET or pass --secret NAME|ARN".to_owned(),
            )
        })?;
    let session = Session::open(env, options).await?;
    let client = &session.clients.secrets;
    let (action, name, body, lines) = match command {
        KeyCommand::List => {
            let document = apikeys::read(client, &secret).await.map_err(failed)?;
            let keys: Vec<_> = document
                .keys
                .iter()
                .map(|k| json!({ "name": k.name, "role": k.role.as_str(), "created_at": k.created_at }))
                .collect();
            let mut lines: Vec<String> = document
                .keys
                .iter()
                .map(|k| {
                    format!(
                        "{:<24} {:<9} created {}",
                        k.name,
                        k.role.as_str(),
                        k.created_at.format("%Y-%m-%d %H:%M UTC")
                    )
                })
                .collect();
            if lines.is_empty() {
                lines.push("no API key".to_owned());
            }
            print(out, options.output, &json!({ "keys": keys }), &lines);
            return Ok(());
        }
        KeyCommand::Create { name, role } => {
            confirm(
                env,
                options,
                &format!("create API key {name} ({}) in {secret}?", role.as_str()),
            )?;
            let mut random = [0u8; KEY_BYTES];
            getrandom::fill(&mut random)
                .map_err(|error| failed(format!("no random bytes: {error}")))?;
            let key = new_key(name, *role, Utc::now(), random)
                .map_err(|error| Failure::Usage(error.to_string()))?;
            let entry = key.entry.clone();
            apikeys::change(client, &secret, |document| document.add(entry.clone()))
                .await
                .map_err(failed)?;
            let shown = key.key.expose_secret().to_owned();
            (
                "api_key_created",
                name.clone(),
                json!({ "ok": true, "name": name, "role": role.as_str(), "key": shown,
                        "principal": format!("api-key:{name}") }),
                vec![
                    format!(
                        "API key {name} ({}) created; it is shown once:",
                        role.as_str()
                    ),
                    shown.clone(),
                    "send it in the x-api-key header on /machine/… paths".to_owned(),
                ],
            )
        }
        KeyCommand::Revoke { name } => {
            confirm(env, options, &format!("revoke API key {name} in {secret}?"))?;
            apikeys::change(client, &secret, |document| document.remove(name))
                .await
                .map_err(failed)?;
            (
                "api_key_revoked",
                name.clone(),
                json!({ "ok": true, "name": name, "revoked": true }),
                vec![format!(
                    "API key {name} revoked (ops-api instances stop accepting it within a minute)"
                )],
            )
        }
    };
    let now = Utc::now();
    let id = command_id(&format!("api-key-{name}"), now);
    let audit = AuditRecord {
        id: id.clone(),
        at: now,
        function: session.function.clone(),
        action: action.to_owned(),
        actor: session.caller.clone(),
        target: format!("api-key:{name}"),
        reason: options.reason.clone(),
        before: serde_json::Value::Null,
        after: json!({ "secret": secret }),
        outcome: "succeeded".to_owned(),
        request_id: Some(id),
    };
    let mut lines = lines;
    if let Err(error) = ops_adapters::audit::write(&session.store, &audit).await {
        lines.push(format!(
            "note: the audit record could not be written: {error}"
        ));
    }
    print(out, options.output, &body, &lines);
    Ok(())
}
