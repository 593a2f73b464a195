//! Writes audit records: create-once in the state bucket (a duplicate delivery of the same action
//! writes nothing), and one log line.

use ops_domain::audit::AuditRecord;
use ops_domain::keys;

use crate::s3::{StateError, StateStore};

/// Stores and logs `record`. Returns `false` when the same record was already stored.
pub async fn write(store: &StateStore, record: &AuditRecord) -> Result<bool, StateError> {
    let key = keys::audit(record.at, &record.function, &record.id);
    let created = match store.create(&key, record).await {
        Ok(_) => true,
        Err(StateError::AlreadyExists { .. }) => false,
        Err(error) => return Err(error),
    };
    if created {
        let line = serde_json::to_string(record).unwrap_or_default();
        tracing::info!(message = "Audit record written.", audit = %line, key = %key);
    }
    Ok(created)
}
