//! `opsctl history SERVICE`: a service's deployment history as its record keeps it (the last
//! entries, oldest first), with its status. The same [`ServiceHistory`] is the REST API's
//! `GET /services/{name}/history`.

use std::io::Write;

use ops_domain::deployment::{DeploymentRecord, HistoryEntry};
use ops_domain::keys;
use serde::Serialize;

use crate::session::Session;
use crate::{Env, Failure, Options, Output};

/// A service's history.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceHistory {
    /// The service.
    pub service: String,
    /// Its status now (`NEW` when never deployed).
    pub status: String,
    /// Entries, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// The history of `name`; [`Failure::NotFound`] when it is not in the config.
pub async fn service(session: &Session, name: &str) -> Result<ServiceHistory, Failure> {
    session.service(name)?;
    let record = session
        .store
        .get::<DeploymentRecord>(&keys::deployment_record(name))
        .await
        .map_err(|error| Failure::Failed(format!("cannot read the deployment record: {error}")))?
        .map(|v| v.value);
    Ok(ServiceHistory {
        service: name.to_owned(),
        status: record
            .as_ref()
            .map_or("NEW", |r| r.status.as_str())
            .to_owned(),
        history: record.map(|r| r.history).unwrap_or_default(),
    })
}

/// `opsctl history SERVICE`.
pub async fn run(
    name: &str,
    limit: usize,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let session = Session::open(env, options).await?;
    let mut found = service(&session, name).await?;
    let skip = found.history.len().saturating_sub(limit);
    found.history.drain(..skip);
    match options.output {
        Output::Json => {
            let body = serde_json::to_string(&found)
                .map_err(|error| Failure::Failed(error.to_string()))?;
            let _ = writeln!(out, "{body}");
        }
        Output::Text => {
            let _ = writeln!(out, "{} ({})", found.service, found.status);
            if found.history.is_empty() {
                let _ = writeln!(out, "  no history yet");
            }
            for entry in &found.history {
                let _ = writeln!(
                    out,
                    "  {}  {:<24} {}",
                    entry.at.format("%Y-%m-%d %H:%M:%S"),
                    entry.event,
                    entry.detail
                );
            }
        }
    }
    Ok(())
}
