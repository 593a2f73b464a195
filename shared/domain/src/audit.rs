//! The audit record: one per action taken, written create-once to the state bucket and logged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who did what to which target, why, and what it looked like before and after.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AuditRecord {
    /// Unique and stable for the action (a duplicate delivery produces the same id).
    pub id: String,
    /// When the action completed.
    pub at: DateTime<Utc>,
    /// The function that acted (`alarm-rollback`).
    pub function: String,
    /// The action (`rollback`).
    pub action: String,
    /// Who asked: `alarm:<name>`, `pipeline:<name>/<execution>`, `schedule:<name>`.
    pub actor: String,
    /// What was acted on (`service:web`).
    pub target: String,
    /// Why, in words.
    pub reason: String,
    /// State before the action.
    pub before: serde_json::Value,
    /// State after the action.
    pub after: serde_json::Value,
    /// `succeeded` or `failed`.
    pub outcome: String,
    /// The Lambda request id of the invocation that acted.
    pub request_id: Option<String>,
}
