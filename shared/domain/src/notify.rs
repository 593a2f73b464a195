//! Notification messages as data: what to tell people, independent of where it is sent.
//!
//! The adapters crate renders a [`Notification`] for Slack, a signed webhook or PagerDuty; the
//! functions only decide what to say and how severe it is.

use serde::{Deserialize, Serialize};

/// How urgent a notification is; routes map severities to channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record: something happened that needs no action.
    Info,
    /// Someone should look today.
    Warning,
    /// Someone should look now (pages through PagerDuty when routed there).
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    /// The severity as written in config and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Whether a notification opens (or updates) an incident or closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Something happened or is wrong.
    Trigger,
    /// What was wrong is over (PagerDuty resolves the incident with the same dedup key).
    Resolve,
}

/// One message to send to every channel routed for its severity.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Notification {
    /// Which function sends it (`alarm-rollback`).
    pub source: String,
    /// Severity, which picks the channels.
    pub severity: Severity,
    /// Trigger or resolve.
    pub lifecycle: Lifecycle,
    /// One line: what happened.
    pub title: String,
    /// A few sentences: why, and what was done.
    pub summary: String,
    /// Key facts shown as a table (service, alarm, versions…).
    pub fields: Vec<(String, String)>,
    /// Stable key of the incident, so repeats update and resolves close the same one.
    pub dedup_key: String,
    /// Optional link to a report or console page.
    pub link: Option<String>,
}
