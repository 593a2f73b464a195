//! Writes audit records: create-once in the state bucket (a duplicate delivery of the same action
//! writes nothing), and one log line.
//!
//! A record's key is `audit/<day>/<function>/<id>.json`. With [`write`] the day is the record's
//! own `at`, which a retry recomputes: a retry that crosses midnight would write a second record.
//! [`write_once`] takes the day from the caller, so an action given a deterministic id and day
//! (the event's id and time, a run's request id) has exactly one key: a retry never writes two
//! (the key exists: nothing is written, `Ok(false)`), a write whose answer was lost is recognised
//! by the state store, and a record an earlier attempt failed to write is written by the retry.
//! The id must identify the writer's action (it is the record's identity and part of its
//! bytes), so an equal record found after a lost answer is this writer's.

use chrono::NaiveDate;
use ops_domain::audit::AuditRecord;
use ops_domain::keys;

use crate::s3::{StateError, StateStore};

/// Stores and logs `record` under the day of `record.at`. Returns `false` when the same record
/// was already stored.
pub async fn write(store: &StateStore, record: &AuditRecord) -> Result<bool, StateError> {
    let key = keys::audit(record.at, &record.function, &record.id);
    create(store, &key, record).await
}

/// Stores and logs `record` under `day` and `record.id`, both deterministic for the action, so
/// every attempt of one action targets one key. Returns `false` when an earlier attempt (or a
/// duplicate delivery) already stored it.
pub async fn write_once(
    store: &StateStore,
    record: &AuditRecord,
    day: NaiveDate,
) -> Result<bool, StateError> {
    create(store, &key_for(day, &record.function, &record.id), record).await
}

/// The key of the audit record `id` of `function` on `day`.
pub fn key_for(day: NaiveDate, function: &str, id: &str) -> String {
    keys::audit(day.and_time(chrono::NaiveTime::MIN).and_utc(), function, id)
}

async fn create(store: &StateStore, key: &str, record: &AuditRecord) -> Result<bool, StateError> {
    let created = match store.create(key, record).await {
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

#[cfg(test)]
mod tests {
    use super::key_for;
    use chrono::NaiveDate;

    #[test]
    fn the_key_depends_on_the_given_day_and_id_only() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 7).expect("valid day");
        assert_eq!(
            key_for(day, "cost-check", "run-1"),
            "audit/2026/03/07/cost-check/run-1.json"
        );
    }
}
