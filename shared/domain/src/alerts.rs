//! Alert lifecycle: what this run found against what is open, so each problem is notified
//! once, notified again only when it gets worse, and resolved when it is over.
//!
//! The open alerts are one document in the state bucket (written with compare-and-swap);
//! [`reconcile`] computes the next document and the transitions to notify. The book also holds
//! the notifications its transitions owe ([`AlertBook::outbox`]), so the compare-and-swap that
//! moves an alert commits what must be told about it, whole or not at all; each transition has a
//! deterministic key ([`transition_key`]) that identifies it to the channels that deduplicate.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::notify::{HasOutbox, Outbox, Severity};

/// A problem a run found (a budget breach, an anomaly, a stale export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identity across runs: `budget:total`, `anomaly:service=AmazonEC2|2026-03-05`.
    pub key: String,
    /// How bad it is now.
    pub severity: Severity,
    /// The day it is about, for findings tied to one day of data (anomalies); `None` for
    /// findings every run re-evaluates (budgets, freshness).
    pub day: Option<NaiveDate>,
    /// One line.
    pub title: String,
    /// A few sentences.
    pub summary: String,
    /// Key facts.
    pub fields: Vec<(String, String)>,
}

/// An alert that was notified and not yet resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAlert {
    /// The finding's key.
    pub key: String,
    /// Severity last seen.
    pub severity: Severity,
    /// Highest severity notified so far (escalation compares with it).
    pub notified: Severity,
    /// The day it is about, if any.
    pub day: Option<NaiveDate>,
    /// Title last seen.
    pub title: String,
    /// When it was first notified.
    pub opened_at: DateTime<Utc>,
    /// When a run last found it.
    pub last_seen: DateTime<Utc>,
}

/// Every open alert of one function, and the notifications its transitions still owe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertBook {
    /// Open alerts by key.
    pub open: BTreeMap<String, OpenAlert>,
    /// Notifications owed for transitions already committed here.
    #[serde(default)]
    pub outbox: Outbox,
    /// The last run that moved the book, and what it moved (a retry of that run reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunMark>,
}

impl HasOutbox for AlertBook {
    fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    fn outbox_mut(&mut self) -> &mut Outbox {
        &mut self.outbox
    }
}

/// The run that last moved the book and the alert keys it moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMark {
    /// The run's id (its Lambda request id: a retry of the same invocation has the same).
    pub run: String,
    /// Alerts it opened.
    pub opened: Vec<String>,
    /// Alerts it escalated.
    pub escalated: Vec<String>,
    /// Alerts it resolved.
    pub resolved: Vec<String>,
}

impl RunMark {
    /// The mark of `run` that made `transitions`.
    pub fn new(run: &str, transitions: &[Transition]) -> Self {
        let mut mark = RunMark {
            run: run.to_owned(),
            ..RunMark::default()
        };
        for transition in transitions {
            let key = transition.alert_key().to_owned();
            match transition {
                Transition::Opened(_) => mark.opened.push(key),
                Transition::Escalated { .. } => mark.escalated.push(key),
                Transition::Resolved(_) => mark.resolved.push(key),
            }
        }
        mark
    }
}

/// What changed for one alert, to be notified.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A new problem.
    Opened(Finding),
    /// A known problem got more severe.
    Escalated {
        /// The finding as it is now.
        finding: Finding,
        /// The severity notified before.
        from: Severity,
    },
    /// A problem is over (or its day left the re-evaluated window).
    Resolved(OpenAlert),
}

impl Transition {
    /// The key of the alert it is about.
    pub fn alert_key(&self) -> &str {
        match self {
            Transition::Opened(finding) | Transition::Escalated { finding, .. } => &finding.key,
            Transition::Resolved(alert) => &alert.key,
        }
    }
}

/// The transition's identity: the same transition of the same alert always gets the same key,
/// another transition (a reopening after a resolve, an escalation to another severity) another
/// one. `next` is the book the transition produced (it holds the alert's `opened_at`). The key
/// is `<opened|escalated|resolved>-<32 hex digits>`: safe in an HTTP header and a state key.
pub fn transition_key(next: &AlertBook, transition: &Transition) -> String {
    let (kind, severity, opened_at) = match transition {
        Transition::Opened(finding) => (
            "opened",
            finding.severity,
            next.open.get(&finding.key).map(|a| a.opened_at),
        ),
        Transition::Escalated { finding, .. } => (
            "escalated",
            finding.severity,
            next.open.get(&finding.key).map(|a| a.opened_at),
        ),
        Transition::Resolved(alert) => ("resolved", alert.severity, Some(alert.opened_at)),
    };
    let opened_at = opened_at
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Nanos, true))
        .unwrap_or_default();
    let digest = Sha256::digest(
        format!(
            "{}\n{opened_at}\n{kind}\n{}",
            transition.alert_key(),
            severity.as_str()
        )
        .as_bytes(),
    );
    format!("{kind}-{}", &hex::encode(digest)[..32])
}

/// The days a run evaluated (inclusive): alerts about days in it are open only if found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First day re-evaluated.
    pub from: NaiveDate,
    /// Last day evaluated (the last complete day).
    pub to: NaiveDate,
}

/// The next alert book and the transitions to notify, for `findings` found at `now` over
/// `window`. An open alert without a day is resolved when not found again; one with a day is
/// resolved when its day was re-evaluated and it was not found (restated data), or when its
/// day fell out of the window (it can no longer change).
pub fn reconcile(
    book: &AlertBook,
    findings: &[Finding],
    window: Window,
    now: DateTime<Utc>,
) -> (AlertBook, Vec<Transition>) {
    let mut next = AlertBook {
        open: BTreeMap::new(),
        outbox: book.outbox.clone(),
        last_run: book.last_run.clone(),
    };
    let mut transitions = Vec::new();
    for finding in findings {
        match book.open.get(&finding.key) {
            None => {
                transitions.push(Transition::Opened(finding.clone()));
                next.open.insert(
                    finding.key.clone(),
                    open(finding, finding.severity, now, now),
                );
            }
            Some(known) if finding.severity > known.notified => {
                transitions.push(Transition::Escalated {
                    finding: finding.clone(),
                    from: known.notified,
                });
                next.open.insert(
                    finding.key.clone(),
                    open(finding, finding.severity, known.opened_at, now),
                );
            }
            Some(known) => {
                next.open.insert(
                    finding.key.clone(),
                    open(finding, known.notified, known.opened_at, now),
                );
            }
        }
    }
    for (key, known) in &book.open {
        if next.open.contains_key(key) {
            continue;
        }
        let still_pending = known.day.is_some_and(|day| day > window.to);
        if still_pending {
            next.open.insert(key.clone(), known.clone());
        } else {
            transitions.push(Transition::Resolved(known.clone()));
        }
    }
    (next, transitions)
}

fn open(
    finding: &Finding,
    notified: Severity,
    opened_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> OpenAlert {
    OpenAlert {
        key: finding.key.clone(),
        severity: finding.severity,
        notified,
        day: finding.day,
        title: finding.title.clone(),
        opened_at,
        last_seen: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).expect("valid day")
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, hour, 0, 0)
            .single()
            .expect("valid time")
    }

    fn finding(key: &str, severity: Severity, on: Option<u32>) -> Finding {
        Finding {
            key: key.into(),
            severity,
            day: on.map(day),
            title: key.into(),
            summary: String::new(),
            fields: Vec::new(),
        }
    }

    /// Runs `reconcile` over a sequence of runs (findings per run, window 7..=9) and renders
    /// every run's transitions as `+key`, `^key`, `-key`.
    fn check(runs: &[Vec<Finding>], expect: &[&str]) {
        let window = Window {
            from: day(7),
            to: day(9),
        };
        let mut book = AlertBook::default();
        let mut got = Vec::new();
        for (i, findings) in runs.iter().enumerate() {
            let (next, transitions) = reconcile(
                &book,
                findings,
                window,
                at(u32::try_from(i).expect("small")),
            );
            let line: Vec<String> = transitions
                .iter()
                .map(|t| match t {
                    Transition::Opened(f) => format!("+{}", f.key),
                    Transition::Escalated { finding, .. } => format!("^{}", finding.key),
                    Transition::Resolved(a) => format!("-{}", a.key),
                })
                .collect();
            got.push(line.join(" "));
            book = next;
        }
        assert_eq!(got, expect);
    }

    #[test]
    fn same_breach_on_every_run_is_notified_once() {
        let breach = || vec![finding("budget:total", Severity::Warning, None)];
        check(&[breach(), breach(), breach()], &["+budget:total", "", ""]);
    }

    #[test]
    fn higher_severity_escalates_once_and_lower_stays_quiet() {
        check(
            &[
                vec![finding("budget:total", Severity::Warning, None)],
                vec![finding("budget:total", Severity::Critical, None)],
                vec![finding("budget:total", Severity::Critical, None)],
                vec![finding("budget:total", Severity::Warning, None)],
            ],
            &["+budget:total", "^budget:total", "", ""],
        );
    }

    #[test]
    fn breach_that_ends_is_resolved_once() {
        check(
            &[
                vec![finding("budget:total", Severity::Warning, None)],
                vec![],
                vec![],
            ],
            &["+budget:total", "-budget:total", ""],
        );
    }

    #[test]
    fn restated_data_that_removes_an_anomaly_resolves_it() {
        check(
            &[
                vec![finding("anomaly:ec2|8", Severity::Warning, Some(8))],
                vec![],
            ],
            &["+anomaly:ec2|8", "-anomaly:ec2|8"],
        );
    }

    #[test]
    fn restated_data_that_adds_an_anomaly_on_a_past_day_opens_it() {
        check(
            &[
                vec![],
                vec![finding("anomaly:ec2|7", Severity::Warning, Some(7))],
            ],
            &["", "+anomaly:ec2|7"],
        );
    }

    #[test]
    fn reopened_after_resolve_is_notified_again() {
        let breach = || vec![finding("budget:total", Severity::Warning, None)];
        check(
            &[breach(), vec![], breach()],
            &["+budget:total", "-budget:total", "+budget:total"],
        );
    }

    #[test]
    fn transition_keys_are_stable_per_transition_and_differ_between_transitions() {
        let window = Window {
            from: day(7),
            to: day(9),
        };
        let breach = |severity| vec![finding("budget:total", severity, None)];
        let (opened_book, opened) = reconcile(
            &AlertBook::default(),
            &breach(Severity::Warning),
            window,
            at(1),
        );
        let opened_key = transition_key(&opened_book, &opened[0]);
        assert!(
            opened_key.starts_with("opened-") && opened_key.len() == 39,
            "{opened_key}"
        );
        // The same run computed again (a retry reading the same book) gets the same key.
        let (again_book, again) = reconcile(
            &AlertBook::default(),
            &breach(Severity::Warning),
            window,
            at(1),
        );
        assert_eq!(transition_key(&again_book, &again[0]), opened_key);
        let (escalated_book, escalated) =
            reconcile(&opened_book, &breach(Severity::Critical), window, at(2));
        let escalated_key = transition_key(&escalated_book, &escalated[0]);
        let (resolved_book, resolved) = reconcile(&escalated_book, &[], window, at(3));
        let resolved_key = transition_key(&resolved_book, &resolved[0]);
        // Reopened later: a new alert, a new key.
        let (reopened_book, reopened) =
            reconcile(&resolved_book, &breach(Severity::Warning), window, at(4));
        let reopened_key = transition_key(&reopened_book, &reopened[0]);
        let keys = [&opened_key, &escalated_key, &resolved_key, &reopened_key];
        let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), 4, "{keys:?}");
    }

    #[test]
    fn reconcile_keeps_the_outbox_and_the_last_run() {
        let book = AlertBook {
            last_run: Some(RunMark {
                run: "r1".into(),
                ..RunMark::default()
            }),
            outbox: Outbox {
                writer: Some("r1".into()),
                ..Outbox::default()
            },
            ..AlertBook::default()
        };
        let window = Window {
            from: day(7),
            to: day(9),
        };
        let (next, _) = reconcile(&book, &[], window, at(1));
        assert_eq!(next.outbox, book.outbox);
        assert_eq!(next.last_run, book.last_run);
    }

    #[test]
    fn alert_about_a_day_after_the_window_stays_open() {
        let window = Window {
            from: day(7),
            to: day(9),
        };
        let mut book = AlertBook::default();
        book.open.insert(
            "anomaly:x|12".into(),
            open(
                &finding("anomaly:x|12", Severity::Warning, Some(12)),
                Severity::Warning,
                at(0),
                at(0),
            ),
        );
        let (next, transitions) = reconcile(&book, &[], window, at(1));
        assert!(transitions.is_empty());
        assert!(next.open.contains_key("anomaly:x|12"));
    }
}
