//! How urgent something is: the one scale that notifications, alarm routes, budgets and
//! channel routing share (below both the configuration and the notifications).

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
