//! The invocation input: what EventBridge Scheduler sends (`{"plan", "action"}`), what an
//! operator sends for a restore, and what the function sends itself to continue a long run.

use ops_adapters::error::{bounded, MAX_MESSAGE};
use ops_domain::backup::manifest::{SnapshotId, TargetKind};
use serde::{Deserialize, Serialize};

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Take a snapshot.
    Backup,
    /// Check the snapshots: cheap size/ETag checks, deep sampled re-hash, zone restore drill.
    Verify,
    /// Apply retention: delete the snapshots the policy does not keep, and their data.
    Prune,
    /// Restore a snapshot: a diff first (dry run by default), changes only with `apply`.
    Restore,
}

impl Action {
    /// The action as written in inputs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Backup => "backup",
            Action::Verify => "verify",
            Action::Prune => "prune",
            Action::Restore => "restore",
        }
    }
}

/// Where restored S3 objects go instead of where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Destination {
    /// Bucket to restore into.
    pub bucket: String,
    /// Prefix that replaces the backed-up target's prefix.
    #[serde(default)]
    pub prefix: String,
}

/// One invocation's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The backup plan (a key of `backup.plans` in the suite config).
    pub plan: String,
    /// What to do.
    pub action: Action,
    /// Restore / verify: the snapshot (`latest` or an id; default `latest`).
    #[serde(default)]
    pub snapshot: Option<String>,
    /// Restore: make the changes (default false: print the diff only).
    #[serde(default)]
    pub apply: bool,
    /// Restore: only these kinds of target (default all).
    #[serde(default)]
    pub targets: Vec<TargetKind>,
    /// Restore: S3 objects go here instead of their original bucket and prefix.
    #[serde(default)]
    pub s3_to: Option<S3Destination>,
    /// Restore: the hosted zone id that receives the zone's records (default the original).
    #[serde(default)]
    pub zone_to: Option<String>,
    /// Restore: also update the ECS services (default: register task definitions only).
    #[serde(default)]
    pub update_services: bool,
    /// Restore: also restore the apex SOA and NS records (default false).
    #[serde(default)]
    pub include_apex_soa_ns: bool,
    /// Restore: keep live S3 objects the snapshot does not have (default false: a restore
    /// makes the prefix equal to the snapshot).
    #[serde(default)]
    pub keep_extra: bool,
    /// Verify: percent of objects to re-read (default: the plan's `deep_sample_percent`).
    #[serde(default)]
    pub deep_sample_percent: Option<f64>,
    /// Verify: run the zone restore drill (default: the plan's `zone_drill`).
    #[serde(default)]
    pub drill: Option<bool>,
    /// Continuation of a run that checkpointed (sent by the function to itself).
    #[serde(default)]
    pub continue_run: Option<String>,
}

/// Which snapshot a restore or verify names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRef {
    /// The plan's latest committed snapshot.
    Latest,
    /// One snapshot.
    Id(SnapshotId),
}

impl Request {
    /// The snapshot named, checked.
    pub fn snapshot_ref(&self) -> Result<SnapshotRef, String> {
        match self.snapshot.as_deref() {
            None | Some("latest") => Ok(SnapshotRef::Latest),
            Some(text) => text
                .parse()
                .map(SnapshotRef::Id)
                // The error quotes the text whole: capped.
                .map_err(|error: ops_domain::backup::manifest::SnapshotIdError| {
                    bounded(&error.to_string(), MAX_QUOTED)
                }),
        }
    }
}

/// Most characters of an input value (a snapshot id, a field name in a path) an error quotes.
const MAX_QUOTED: usize = 100;

/// Parses and checks an input. Errors quote at most [`MAX_MESSAGE`] characters of serde's
/// message (it quotes the offending value, any length) and [`MAX_QUOTED`] of the path.
pub fn parse(value: &serde_json::Value) -> Result<Request, String> {
    let request: Request = serde_path_to_error::deserialize(value).map_err(|error| {
        format!(
            "invalid input at `{}`: {} (expected {{\"plan\": \"<name>\", \"action\": \"backup\" | \"verify\" | \"prune\" | \"restore\"}})",
            bounded(&error.path().to_string(), MAX_QUOTED),
            bounded(&error.inner().to_string(), MAX_MESSAGE)
        )
    })?;
    if request.plan.trim().is_empty() {
        return Err("`plan` is empty".into());
    }
    request.snapshot_ref()?;
    if let Some(percent) = request.deep_sample_percent {
        if !(0.0..=100.0).contains(&percent) {
            return Err(format!(
                "`deep_sample_percent` {percent} is outside 0..=100"
            ));
        }
    }
    if request.action != Action::Restore
        && (request.apply || request.s3_to.is_some() || request.zone_to.is_some())
    {
        return Err(format!(
            "`apply`, `s3_to` and `zone_to` belong to a restore, not a {}",
            request.action.as_str()
        ));
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: serde_json::Value, expect: Result<(&str, Action), &str>) {
        match (parse(&input), expect) {
            (Ok(request), Ok((plan, action))) => {
                assert_eq!(request.plan, plan);
                assert_eq!(request.action, action);
            }
            (Err(error), Err(fragment)) => {
                assert!(error.contains(fragment), "{error} lacks {fragment}")
            }
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn scheduler_inputs_parse() {
        check(
            json!({"plan": "nightly", "action": "backup"}),
            Ok(("nightly", Action::Backup)),
        );
        check(
            json!({"plan": "nightly", "action": "verify"}),
            Ok(("nightly", Action::Verify)),
        );
        check(
            json!({"plan": "nightly", "action": "prune"}),
            Ok(("nightly", Action::Prune)),
        );
        check(
            json!({"plan": "n", "action": "restore", "snapshot": "20260301T020000Z-0123abcd", "apply": true}),
            Ok(("n", Action::Restore)),
        );
    }

    #[test]
    fn sample_events_parse() {
        for (text, action) in [
            (
                include_str!("../../../events/backup-run.json"),
                Action::Backup,
            ),
            (
                include_str!("../../../events/backup-verify.json"),
                Action::Verify,
            ),
            (
                include_str!("../../../events/backup-prune.json"),
                Action::Prune,
            ),
            (
                include_str!("../../../events/backup-restore-dry-run.json"),
                Action::Restore,
            ),
            (
                include_str!("../../../events/backup-restore-apply.json"),
                Action::Restore,
            ),
        ] {
            let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
            check(value, Ok(("suite", action)));
        }
    }

    #[test]
    fn bad_inputs_say_what_is_wrong() {
        check(json!({"plan": "n"}), Err("missing field `action`"));
        check(
            json!({"plan": "n", "action": "sync"}),
            Err("unknown variant `sync`"),
        );
        check(
            json!({"plan": "", "action": "backup"}),
            Err("`plan` is empty"),
        );
        check(
            json!({"plan": "n", "action": "restore", "snapshot": "yesterday"}),
            Err("not a snapshot id"),
        );
        check(
            json!({"plan": "n", "action": "backup", "apply": true}),
            Err("belong to a restore"),
        );
        check(
            json!({"plan": "n", "action": "backup", "extra": 1}),
            Err("unknown field `extra`"),
        );
        check(
            json!({"plan": "n", "action": "verify", "deep_sample_percent": 101}),
            Err("outside 0..=100"),
        );
    }
}
