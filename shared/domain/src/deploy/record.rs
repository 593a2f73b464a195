//! A service's deployment record: the one document that says what runs, what is being rolled
//! out and who rolled back what. deploy-hook advances it, alarm-rollback reverts it; both write
//! it with compare-and-swap, so the record (not a lock) decides who acts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Strategy;

/// How many history entries a record keeps; older ones are dropped (the audit trail keeps all).
pub const HISTORY_LIMIT: usize = 50;

/// How many rolled-back releases a record remembers (oldest dropped first).
pub const ROLLED_BACK_LIMIT: usize = 20;

/// Route53 weight that carries all of a record's traffic. Weights are written as percentages
/// (0–100), inside Route53's 0–255 range, so a weight reads as the share of traffic.
pub const FULL_WEIGHT: u8 = 100;

/// The deployment state of one service.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DeploymentRecord {
    /// Service name (the key in the config's `services`).
    pub service: String,
    /// Strategy of the current or last deployment.
    pub strategy: Strategy,
    /// Where the service is in its deployment lifecycle.
    pub status: DeploymentStatus,
    /// The last version known good: what a rollback returns to.
    pub stable: Release,
    /// The version being rolled out (or just promoted and still inside its rollback window).
    #[serde(default)]
    pub candidate: Option<Release>,
    /// Route53 weight per target (set identifier) as last written.
    #[serde(default)]
    pub weights: BTreeMap<String, u8>,
    /// Id of the deployment in flight or last finished.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// Set when a rollback started; kept after it completed, until the next deployment.
    #[serde(default)]
    pub rollback: Option<RollbackMark>,
    /// Who claimed the rollback: the alarm transition's key and the claiming invocation's id
    /// (`<transition key>/<invocation id>`), written with the claim so that a retry of the same
    /// invocation recognises its own claim (and its own write when the answer was lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_claimant: Option<String>,
    /// Most recent events first is *not* assumed: entries are appended, bounded by
    /// [`HISTORY_LIMIT`].
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// deploy-hook's progress through the deployment in flight or last finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<crate::deploy::Progress>,
    /// Releases rolled back earlier (by alarm-rollback or deploy-hook's alarm gate): a rollback
    /// is final for its release, so a later job for one of these images is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rolled_back: Vec<RolledBackRelease>,
    /// Audit records owed: noted in the same write as the change they describe, removed once
    /// written (create-once under a key fixed by the entry, so writing one twice stores one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_owed: Vec<OwedAudit>,
    /// Operator commands accepted and not yet carried out, oldest first (see
    /// [`crate::deploy::command`]); the next invocation of the deployment applies them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<OperatorCommand>,
    /// An operator's `retry`: the rolled-back or failed release that may be deployed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryGrant>,
    /// The release that was stable before the current one (kept when a promotion settles), for
    /// an operator's rollback of a stable service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Release>,
    /// When the record was last written.
    pub updated_at: DateTime<Utc>,
    /// Fields written by a newer version of the suite, kept as they are on rewrite.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Lifecycle of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    /// Nothing in flight; `stable` serves all traffic.
    Stable,
    /// A candidate is being rolled out (traffic shifting, baking, waiting on gates).
    InProgress,
    /// The candidate serves all traffic; the old version is kept warm for the rollback window.
    Promoted,
    /// A rollback claimed the record and is putting traffic and services back.
    RollingBack,
    /// A rollback completed; the deployment in flight must stop and fail its pipeline job.
    RolledBack,
    /// The deployment failed on its own (health check, gate) and was reverted by deploy-hook.
    Failed,
}

impl DeploymentStatus {
    /// The status as stored (`ROLLED_BACK`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Stable => "STABLE",
            DeploymentStatus::InProgress => "IN_PROGRESS",
            DeploymentStatus::Promoted => "PROMOTED",
            DeploymentStatus::RollingBack => "ROLLING_BACK",
            DeploymentStatus::RolledBack => "ROLLED_BACK",
            DeploymentStatus::Failed => "FAILED",
        }
    }
}

/// One deployable version of a service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Release {
    /// ECS task definition ARN (or `family:revision`).
    pub task_definition: String,
    /// Container image, for people reading the record.
    #[serde(default)]
    pub image: Option<String>,
    /// The traffic target (color / set identifier) serving it, for traffic-shifting strategies.
    #[serde(default)]
    pub target: Option<String>,
}

/// Who rolled the service back, why, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RollbackMark {
    /// Idempotency key of the alarm transition that caused it.
    pub trigger_id: String,
    /// The alarm name.
    pub alarm: String,
    /// Why: the alarm's state reason.
    pub reason: String,
    /// When the rollback claimed the record.
    pub started_at: DateTime<Utc>,
    /// When traffic and services were back on the stable version.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// The version rolled back from.
    #[serde(default)]
    pub from: Option<Release>,
    /// The operator who rolled back (an abort or `opsctl rollback`); `None` for an alarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// A release that was rolled back; it is never deployed again by a job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RolledBackRelease {
    /// The image that was rolled back.
    pub image: String,
    /// Its task definition, when one was registered.
    #[serde(default)]
    pub task_definition: Option<String>,
    /// The deployment that rolled it out.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// The alarm that caused the rollback.
    #[serde(default)]
    pub alarm: Option<String>,
    /// Why.
    pub reason: String,
    /// When the rollback started.
    pub at: DateTime<Utc>,
}

/// An audit record owed for a change already recorded: everything that fixes its key and
/// content, so any later invocation can write it (create-once, at least once).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OwedAudit {
    /// The audit record's id (`<deployment>-<action>`): stable, so a retry writes the same key.
    pub id: String,
    /// The action (`deployment_started`, `deployment_promoted`…).
    pub action: String,
    /// When the change was recorded (fixes the key's day partition).
    pub at: DateTime<Utc>,
    /// `succeeded` or `failed`.
    pub outcome: String,
    /// Who asked (`pipeline-job:<id>`).
    pub actor: String,
    /// Why, in words.
    pub reason: String,
    /// The record before the change, summarized.
    #[serde(default)]
    pub before: serde_json::Value,
    /// Who made the change, when it is not deploy-hook (`opsctl`): the audit record is written
    /// under that name whoever writes it, so it is stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
}

/// One line of a record's history.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct HistoryEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// What (`rollback_started`, `rollback_completed`, `promoted`…).
    pub event: String,
    /// Details for people.
    pub detail: String,
}

impl DeploymentRecord {
    /// A record for a service running `stable` with nothing in flight.
    pub fn new_stable(
        service: &str,
        strategy: Strategy,
        stable: Release,
        now: DateTime<Utc>,
    ) -> Self {
        let weights = stable
            .target
            .iter()
            .map(|target| (target.clone(), FULL_WEIGHT))
            .collect();
        DeploymentRecord {
            service: service.to_owned(),
            strategy,
            status: DeploymentStatus::Stable,
            stable,
            candidate: None,
            weights,
            deployment_id: None,
            rollback: None,
            rollback_claimant: None,
            history: Vec::new(),
            progress: None,
            rolled_back: Vec::new(),
            audit_owed: Vec::new(),
            commands: Vec::new(),
            retry: None,
            previous: None,
            updated_at: now,
            extra: BTreeMap::new(),
        }
    }

    /// Appends a history entry, dropping the oldest beyond [`HISTORY_LIMIT`].
    pub fn push_history(&mut self, at: DateTime<Utc>, event: &str, detail: String) {
        self.history.push(HistoryEntry {
            at,
            event: event.to_owned(),
            detail,
        });
        if self.history.len() > HISTORY_LIMIT {
            let excess = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..excess);
        }
    }

    /// Notes an audit record as owed (once per id).
    pub fn owe_audit(&mut self, audit: OwedAudit) {
        if !self.audit_owed.iter().any(|owed| owed.id == audit.id) {
            self.audit_owed.push(audit);
        }
    }

    /// A short summary for audit records: status, versions and weights.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "status": self.status.as_str(),
            "stable": self.stable.task_definition,
            "candidate": self.candidate.as_ref().map(|c| c.task_definition.clone()),
            "weights": self.weights,
            "deployment_id": self.deployment_id,
        })
    }

    /// Remembers a rolled-back release (once per image), dropping the oldest beyond
    /// [`ROLLED_BACK_LIMIT`].
    pub fn remember_rolled_back(&mut self, release: RolledBackRelease) {
        if self.rolled_back.iter().any(|r| r.image == release.image) {
            return;
        }
        self.rolled_back.push(release);
        if self.rolled_back.len() > ROLLED_BACK_LIMIT {
            let excess = self.rolled_back.len() - ROLLED_BACK_LIMIT;
            self.rolled_back.drain(..excess);
        }
    }
}

// Operator commands as the record stores them; what they do is in `deploy::command`.

/// What an operator asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum CommandKind {
    /// Hold at the current step: no step starts and a bake does not count. Alarms still roll back.
    Pause,
    /// Go on from where the pause held.
    Resume,
    /// End the current (or next) bake now; with `full`, go straight to 100 % (intermediate
    /// shifts skipped, every remaining bake ended once its alarm gate is checked).
    Promote {
        /// `promote --full`.
        #[serde(default)]
        full: bool,
    },
    /// Traffic and services back to the stable version; the record says ROLLED_BACK with who
    /// and why, and the pipeline job fails with that reason.
    Abort,
    /// Allow a FAILED or ROLLED_BACK release to be deployed again (the next job for it starts a
    /// new deployment instead of being refused).
    Retry,
}

impl CommandKind {
    /// The command's name (`promote --full`).
    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Pause => "pause",
            CommandKind::Resume => "resume",
            CommandKind::Promote { full: false } => "promote",
            CommandKind::Promote { full: true } => "promote --full",
            CommandKind::Abort => "abort",
            CommandKind::Retry => "retry",
        }
    }
}

/// One command, as stored in the record until carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorCommand {
    /// Unique id (also the audit record's id).
    pub id: String,
    /// What.
    #[serde(flatten)]
    pub kind: CommandKind,
    /// Who: the caller's identity (an IAM ARN from STS `GetCallerIdentity`, or an API caller).
    pub by: String,
    /// Why, in the operator's words.
    #[serde(default)]
    pub reason: String,
    /// When it was given.
    pub at: DateTime<Utc>,
    /// The deployment it was given for: a command for a deployment that has since ended is
    /// dropped, never applied to the next one.
    #[serde(default)]
    pub deployment_id: Option<String>,
}

/// An operator's permission to deploy a rolled-back or failed release again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryGrant {
    /// The image that may be deployed again.
    pub image: String,
    /// Who allowed it.
    pub by: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn history_is_bounded_and_keeps_the_newest() {
        let stable = Release {
            task_definition: "td:1".into(),
            image: None,
            target: None,
        };
        let mut record = DeploymentRecord::new_stable("api", Strategy::Rolling, stable, at(0));
        for i in 0..(HISTORY_LIMIT + 5) {
            record.push_history(at(0), "event", i.to_string());
        }
        assert_eq!(record.history.len(), HISTORY_LIMIT);
        assert_eq!(record.history[0].detail, "5");
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let json = r#"{"service":"api","strategy":"canary","status":"IN_PROGRESS",
            "stable":{"task_definition":"td:1","target":"blue"},"updated_at":"2026-01-01T00:00:00Z",
            "canary_step":2}"#;
        let record: DeploymentRecord = serde_json::from_str(json).expect("parses");
        assert_eq!(record.status, DeploymentStatus::InProgress);
        let back = serde_json::to_value(&record).expect("serializes");
        assert_eq!(back["canary_step"], 2);
        // The new fields are absent when empty: an older reader sees the shape it knows.
        assert!(back.get("rolled_back").is_none() && back.get("audit_owed").is_none());
        assert!(record.rolled_back.is_empty() && record.audit_owed.is_empty());
    }
}
