//! The document a snapshot stores for one Secrets Manager secret, and the diff-first restore of a
//! secret's values.
//!
//! A [`SecretDocument`] holds a secret's settings and every version the export saw, with its
//! staging labels and value. It is what gets encrypted client-side before it is written; its
//! `Debug` (and that of everything in it) never shows a value.
//!
//! [`plan_secret_restore`] compares a backed-up document with the live secret **label by label**:
//! for each staging label of a backed-up version, is the live version holding that label equal in
//! value? Labels that differ are restored by putting the backed-up value as a **new** version
//! carrying those labels (`PutSecretValue` with `VersionStages`), so nothing is overwritten and
//! the replaced version stays readable under `AWSPREVIOUS` (Secrets Manager moves it there
//! itself whenever `AWSCURRENT` moves).
//!
//! **Labels that are never restored.**
//!
//! - `AWSPREVIOUS` is Secrets Manager's own bookkeeping: whenever `AWSCURRENT` moves, it labels
//!   the version `AWSCURRENT` left `AWSPREVIOUS`. After a restore it therefore names the value the
//!   restore replaced, which is exactly what rolling the restore back needs. Restoring it from
//!   the snapshot would take that away, and would make a restore that moved `AWSCURRENT` never
//!   converge (the next plan would find `AWSPREVIOUS` changed again). So it is compared, reported
//!   (equal → [`SecretRestorePlan::unchanged`], different → [`SecretRestorePlan::skipped`]) and
//!   never put back; its value stays in the snapshot for a manual recovery. This is stricter than
//!   "not when `AWSCURRENT` is restored too", which would need two runs to converge.
//! - `AWSPENDING` marks a rotation in progress. A stale pending version put back from a snapshot
//!   could be promoted by the next run of the rotation function, so it is reported the same way
//!   and never restored.
//! - Versions without staging labels are not restored (Secrets Manager deprecates them).
//!
//! A secret that does not exist is created ([`SecretRestorePlan::create_secret`]) with the
//! backed-up description, KMS key and tags, then given the backed-up values, `AWSCURRENT` first
//! (Secrets Manager labels the first version of a secret `AWSCURRENT` whatever it is asked, so it
//! must be the right one). The settings of a secret that exists are not changed.
//!
//! The plan serializes to JSON for the dry-run report without any value:
//! `{"secret":"app/db","create_secret":false,"actions":[{"stages":["AWSCURRENT"],"from_version":"…"}],…}`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The version of the [`SecretDocument`] layout; bumped when a change is not backward compatible.
pub const SECRET_SCHEMA_VERSION: u32 = 1;

/// The staging label of the version applications read.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The staging label Secrets Manager moves to the version `AWSCURRENT` was taken from.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// The staging label of a rotation in progress.
pub const AWSPENDING: &str = "AWSPENDING";

/// What a snapshot stores for one secret, before encryption.
///
/// `Debug` never shows a value (see [`SecretValue`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretDocument {
    /// [`SECRET_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The secret's ARN when it was backed up.
    pub arn: String,
    /// The secret's name (what a restore creates or writes to).
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The KMS key Secrets Manager encrypts it with (`None`: the account's
    /// `aws/secretsmanager` key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Its versions, in [`SecretDocument::sort_versions`] order.
    pub versions: Vec<SecretVersion>,
}

/// One version of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVersion {
    /// Secrets Manager's version id.
    pub version_id: String,
    /// Its staging labels (`AWSCURRENT`, `AWSPREVIOUS`, custom ones); empty for a deprecated
    /// version.
    #[serde(default)]
    pub stages: Vec<String>,
    /// When it was created, if Secrets Manager said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Its value.
    pub value: SecretValue,
}

/// A secret value: `SecretString` or `SecretBinary` (standard base64, padded).
///
/// `Debug` prints only the kind, never the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum SecretValue {
    /// A `SecretString`.
    String(String),
    /// A `SecretBinary`, base64-encoded.
    Binary(String),
}

impl SecretValue {
    /// `"string"` or `"binary"`.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretValue::String(_) => "string",
            SecretValue::Binary(_) => "binary",
        }
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue::{}(<redacted>)", self.kind())
    }
}

/// The order of versions in a document: `AWSCURRENT` first, then by creation date, oldest first
/// (versions without a date after dated ones), ties by version id.
fn version_order(a: &SecretVersion, b: &SecretVersion) -> std::cmp::Ordering {
    let current = |v: &SecretVersion| !v.stages.iter().any(|s| s == AWSCURRENT);
    let undated = |v: &SecretVersion| v.created_at.is_none();
    (current(a), undated(a), a.created_at, &a.version_id).cmp(&(
        current(b),
        undated(b),
        b.created_at,
        &b.version_id,
    ))
}

impl SecretDocument {
    /// Sorts the versions: `AWSCURRENT` first, then by creation date (oldest first, undated
    /// last), ties by version id. An export sorts before returning the document.
    pub fn sort_versions(&mut self) {
        self.versions.sort_by(version_order);
    }

    /// The version holding staging label `stage`, if any (the first in document order).
    pub fn version_with_stage(&self, stage: &str) -> Option<&SecretVersion> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// A staging label that two versions claim, if any. Secrets Manager never shows that in one
    /// consistent read; an export that sees it read while labels moved (a rotation) and should
    /// read again.
    pub fn duplicate_stage(&self) -> Option<&str> {
        let mut seen = BTreeSet::new();
        self.versions
            .iter()
            .flat_map(|v| v.stages.iter())
            .find(|s| !seen.insert(s.as_str()))
            .map(String::as_str)
    }
}

/// Settings a restore gives a secret it creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretSettings {
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// KMS key Secrets Manager encrypts it with (`None`: the account's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Tags.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// The diff-first restore of one secret: what would be written, computed before anything is.
///
/// Serializes (for the dry-run report) without any value; `Debug` shows none either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRestorePlan {
    /// The secret's name.
    pub secret: String,
    /// Whether the secret does not exist and is created first.
    pub create_secret: bool,
    /// When [`SecretRestorePlan::create_secret`]: the settings it is created with. A secret
    /// that exists keeps its settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_settings: Option<SecretSettings>,
    /// The values to put back, in order (`AWSCURRENT` first).
    pub actions: Vec<SecretAction>,
    /// Labels whose live value already equals the backed-up one, sorted.
    pub unchanged: Vec<String>,
    /// Labels that differ but are never restored (`AWSPREVIOUS`, `AWSPENDING`; see the module
    /// documentation), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

impl SecretRestorePlan {
    /// Whether applying the plan would change nothing.
    pub fn is_empty(&self) -> bool {
        !self.create_secret && self.actions.is_empty()
    }
}

/// One value to put back: a new version with the backed-up value and these staging labels.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SecretAction {
    /// The labels the new version takes (moved from whichever versions hold them now).
    pub stages: Vec<String>,
    /// The backed-up version the value comes from.
    pub from_version: String,
    /// The value; never serialized, never in `Debug`.
    #[serde(skip_serializing)]
    pub value: SecretValue,
}

impl fmt::Debug for SecretAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretAction")
            .field("stages", &self.stages)
            .field("from_version", &self.from_version)
            .field("value", &format_args!("<redacted {}>", self.value.kind()))
            .finish()
    }
}

/// Whether a label is compared but never put back (see the module documentation).
fn managed_by_secrets_manager(stage: &str) -> bool {
    stage == AWSPREVIOUS || stage == AWSPENDING
}

/// Plans the restore of `backup` over `live` (`None`: the secret does not exist).
///
/// For each backed-up version with staging labels, in document order (`AWSCURRENT` first), the
/// labels whose live holder differs in value (or that no live version holds) become one
/// [`SecretAction`]. `AWSPREVIOUS` and `AWSPENDING` are never restored, versions without labels
/// neither. A label that the backup gives to two versions (which Secrets Manager never does) is
/// taken from the first.
pub fn plan_secret_restore(
    backup: &SecretDocument,
    live: Option<&SecretDocument>,
) -> SecretRestorePlan {
    let mut live_values: BTreeMap<&str, &SecretValue> = BTreeMap::new();
    for version in live.map(|l| l.versions.as_slice()).unwrap_or_default() {
        for stage in &version.stages {
            live_values.entry(stage.as_str()).or_insert(&version.value);
        }
    }

    let mut versions: Vec<&SecretVersion> = backup.versions.iter().collect();
    versions.sort_by(|a, b| version_order(a, b));

    let mut seen = BTreeSet::new();
    let mut actions = Vec::new();
    let mut unchanged = Vec::new();
    let mut skipped = Vec::new();
    for version in versions {
        let mut stages: Vec<String> = Vec::new();
        for stage in &version.stages {
            if !seen.insert(stage.as_str()) {
                continue;
            }
            let equal = live_values.get(stage.as_str()) == Some(&&version.value);
            if equal {
                unchanged.push(stage.clone());
            } else if managed_by_secrets_manager(stage) {
                skipped.push(stage.clone());
            } else {
                stages.push(stage.clone());
            }
        }
        if !stages.is_empty() {
            stages.sort_by_key(|s| (s != AWSCURRENT, s.clone()));
            actions.push(SecretAction {
                stages,
                from_version: version.version_id.clone(),
                value: version.value.clone(),
            });
        }
    }
    unchanged.sort();
    skipped.sort();

    let create_secret = live.is_none();
    SecretRestorePlan {
        secret: backup.name.clone(),
        create_secret,
        create_settings: create_secret.then(|| SecretSettings {
            description: backup.description.clone(),
            kms_key_id: backup.kms_key_id.clone(),
            tags: backup.tags.clone(),
        }),
        actions,
        unchanged,
        skipped,
    }
}

/// The `ClientRequestToken` of the version a restore puts for backed-up version `from_version`
/// of `secret`: 64 hex characters (Secrets Manager takes 32 to 64), the same for the same
/// `seed`, so a retried restore finds its version already there instead of making a second one.
/// The seed names one restore (a request id, a run id); a new restore takes a new seed.
pub fn restore_request_token(seed: &str, secret: &str, from_version: &str) -> String {
    let mut hash = Sha256::new();
    for part in ["ops-suite/secret-restore/v1", seed, secret, from_version] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version: `"v1:AWSCURRENT,blue=hunter2"`, a binary value with `=b:`; no labels: `"v9:=x"`.
    fn version(spec: &str, minute: u32) -> SecretVersion {
        let (head, value) = spec.split_once('=').unwrap_or((spec, ""));
        let (id, stages) = head.split_once(':').unwrap_or((head, ""));
        let value = match value.strip_prefix("b:") {
            Some(binary) => SecretValue::Binary(binary.to_owned()),
            None => SecretValue::String(value.to_owned()),
        };
        SecretVersion {
            version_id: id.to_owned(),
            stages: stages
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            created_at: DateTime::from_timestamp(1_700_000_000 + i64::from(minute) * 60, 0),
            value,
        }
    }

    fn document(specs: &[&str]) -> SecretDocument {
        let mut document = SecretDocument {
            schema_version: SECRET_SCHEMA_VERSION,
            arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf".into(),
            name: "app/db".into(),
            description: Some("db password".into()),
            kms_key_id: None,
            tags: BTreeMap::from([("team".into(), "core".into())]),
            versions: specs
                .iter()
                .zip(0..)
                .map(|(spec, minute)| version(spec, minute))
                .collect(),
        };
        document.sort_versions();
        document
    }

    /// The plan in one line: `create actions=[AWSCURRENT+blue<v1] unchanged=[..] skipped=[..]`.
    fn summary(plan: &SecretRestorePlan) -> String {
        let actions: Vec<String> = plan
            .actions
            .iter()
            .map(|a| format!("{}<{}", a.stages.join("+"), a.from_version))
            .collect();
        format!(
            "{}actions=[{}] unchanged=[{}] skipped=[{}]",
            if plan.create_secret { "create " } else { "" },
            actions.join(" "),
            plan.unchanged.join(" "),
            plan.skipped.join(" "),
        )
    }

    fn check(name: &str, backup: &[&str], live: Option<&[&str]>, expected: &str) {
        let backup = document(backup);
        let live = live.map(document);
        let plan = plan_secret_restore(&backup, live.as_ref());
        assert_eq!(summary(&plan), expected, "case: {name}");
        assert_eq!(plan.secret, "app/db", "case: {name}");
        assert_eq!(plan.create_settings.is_some(), plan.create_secret);
        for action in &plan.actions {
            let from = backup
                .versions
                .iter()
                .find(|v| v.version_id == action.from_version);
            assert_eq!(from.map(|v| &v.value), Some(&action.value), "case: {name}");
        }
    }

    /// Name, backed-up versions, live versions (`None`: no secret), expected [`summary`].
    type Case = (
        &'static str,
        &'static [&'static str],
        Option<&'static [&'static str]>,
        &'static str,
    );

    const BACKUP: &[&str] = &["v1:AWSPREVIOUS=old", "v2:AWSCURRENT=cur", "v3:blue=b"];

    #[test]
    fn restore_plans() {
        let cases: &[Case] = &[
            (
                "same values, other version ids",
                BACKUP,
                Some(&["x1:AWSPREVIOUS=old", "x2:AWSCURRENT=cur", "x3:blue=b"]),
                "actions=[] unchanged=[AWSCURRENT AWSPREVIOUS blue] skipped=[]",
            ),
            (
                "value changed since: AWSCURRENT put back, AWSPREVIOUS left to Secrets Manager",
                BACKUP,
                Some(&[
                    "v1:=old",
                    "v2:AWSPREVIOUS=cur",
                    "v4:AWSCURRENT=new",
                    "v3:blue=b",
                ]),
                "actions=[AWSCURRENT<v2] unchanged=[blue] skipped=[AWSPREVIOUS]",
            ),
            (
                "after that restore: nothing left to do",
                BACKUP,
                Some(&["v4:AWSPREVIOUS=new", "r2:AWSCURRENT=cur", "v3:blue=b"]),
                "actions=[] unchanged=[AWSCURRENT blue] skipped=[AWSPREVIOUS]",
            ),
            (
                "only a custom label differs",
                BACKUP,
                Some(&["v1:AWSPREVIOUS=old", "v2:AWSCURRENT=cur", "v3:blue=changed"]),
                "actions=[blue<v3] unchanged=[AWSCURRENT AWSPREVIOUS] skipped=[]",
            ),
            (
                "a label the live secret lacks",
                BACKUP,
                Some(&["v1:AWSPREVIOUS=old", "v2:AWSCURRENT=cur"]),
                "actions=[blue<v3] unchanged=[AWSCURRENT AWSPREVIOUS] skipped=[]",
            ),
            (
                "secret gone: create, AWSCURRENT first",
                &["v3:blue=b", "v1:AWSPREVIOUS=old", "v2:AWSCURRENT=cur"],
                None,
                "create actions=[AWSCURRENT<v2 blue<v3] unchanged=[] skipped=[AWSPREVIOUS]",
            ),
            (
                "labels of one version split by what differs",
                &["v1:blue,AWSCURRENT,green=cur"],
                Some(&["x1:AWSCURRENT=new", "x2:blue=cur"]),
                "actions=[AWSCURRENT+green<v1] unchanged=[blue] skipped=[]",
            ),
            (
                "versions without labels are not restored",
                &["v0:=ancient", "v2:AWSCURRENT=cur"],
                Some(&["x2:AWSCURRENT=cur"]),
                "actions=[] unchanged=[AWSCURRENT] skipped=[]",
            ),
            (
                "a rotation in progress is not restored",
                &["v2:AWSCURRENT=cur", "v5:AWSPENDING=next"],
                Some(&["v2:AWSCURRENT=cur"]),
                "actions=[] unchanged=[AWSCURRENT] skipped=[AWSPENDING]",
            ),
            (
                "string and binary with the same text differ",
                &["v2:AWSCURRENT=b:aGk="],
                Some(&["x2:AWSCURRENT=aGk="]),
                "actions=[AWSCURRENT<v2] unchanged=[] skipped=[]",
            ),
            (
                "binary equal",
                &["v2:AWSCURRENT=b:aGk="],
                Some(&["x2:AWSCURRENT=b:aGk="]),
                "actions=[] unchanged=[AWSCURRENT] skipped=[]",
            ),
            (
                "a label on two backed-up versions is taken from the first",
                &["v1:AWSCURRENT,blue=cur", "v2:blue=other"],
                Some(&["x1:AWSCURRENT=cur", "x2:blue=cur"]),
                "actions=[] unchanged=[AWSCURRENT blue] skipped=[]",
            ),
            (
                "a secret with no labelled value is created empty",
                &["v0:=ancient"],
                None,
                "create actions=[] unchanged=[] skipped=[]",
            ),
        ];
        for (name, backup, live, expected) in cases {
            check(name, backup, *live, expected);
        }
    }

    #[test]
    fn versions_sort_current_first_then_by_date() {
        let mut doc = document(&[]);
        doc.versions = vec![
            version("late:blue=x", 9),
            version("early:=x", 1),
            version("cur:AWSCURRENT=x", 5),
            SecretVersion {
                created_at: None,
                ..version("undated:green=x", 0)
            },
            version("same-b:=x", 3),
            version("same-a:=x", 3),
        ];
        doc.sort_versions();
        let ids: Vec<&str> = doc.versions.iter().map(|v| v.version_id.as_str()).collect();
        assert_eq!(ids, ["cur", "early", "same-a", "same-b", "late", "undated"]);
        assert_eq!(
            doc.version_with_stage("blue")
                .map(|v| v.version_id.as_str()),
            Some("late")
        );
        assert_eq!(doc.duplicate_stage(), None);
        doc.versions.push(version("again:blue=y", 10));
        assert_eq!(doc.duplicate_stage(), Some("blue"));
    }

    #[test]
    fn no_value_in_debug_or_in_the_plan_json() {
        let backup = document(&["v1:AWSPREVIOUS=s3cr3t-old", "v2:AWSCURRENT=s3cr3t-cur"]);
        let live = document(&["x:AWSCURRENT=s3cr3t-new"]);
        let plan = plan_secret_restore(&backup, Some(&live));
        assert_eq!(plan.actions.len(), 1);
        let shown = [
            format!("{backup:?}"),
            format!("{backup:#?}"),
            format!("{plan:?}"),
            format!("{:?}", plan.actions[0].value),
            serde_json::to_string(&plan).unwrap_or_default(),
        ];
        for text in &shown {
            assert!(!text.contains("s3cr3t"), "value shown in {text}");
        }
        let json: serde_json::Value = serde_json::to_value(&plan).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "secret": "app/db",
                "create_secret": false,
                "actions": [{"stages": ["AWSCURRENT"], "from_version": "v2"}],
                "unchanged": [],
                "skipped": ["AWSPREVIOUS"],
            })
        );
        let created = plan_secret_restore(&backup, None);
        let json = serde_json::to_value(&created).unwrap_or_default();
        assert_eq!(
            json["create_settings"],
            serde_json::json!({"description": "db password", "tags": {"team": "core"}})
        );
    }

    #[test]
    fn document_round_trips_through_json() {
        let doc = document(&["v1:AWSCURRENT=cur", "v2:blue=b:AAEC", "v0:=old"]);
        let json = serde_json::to_string(&doc).unwrap_or_default();
        assert!(
            json.contains(r#""value":{"kind":"binary","value":"AAEC"}"#),
            "{json}"
        );
        let back: Result<SecretDocument, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(doc));
    }

    #[test]
    fn request_tokens_are_stable_and_distinct() {
        let token = restore_request_token("run-1", "app/db", "v2");
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(token, restore_request_token("run-1", "app/db", "v2"));
        for other in [
            restore_request_token("run-2", "app/db", "v2"),
            restore_request_token("run-1", "app/dbx", "v2"),
            restore_request_token("run-1", "app/db", "v3"),
            // Length-prefixed parts: moving a boundary changes the token.
            restore_request_token("run-1app/db", "", "v2"),
        ] {
            assert_ne!(token, other);
        }
    }
}
