//! Notification messages as data: what to tell people, independent of where it is sent.
//!
//! The adapters crate renders a [`Notification`] for Slack, a signed webhook or PagerDuty; the
//! functions only decide what to say and how severe it is.
//!
//! A notification a function owes is recorded in an [`Outbox`] inside the state document whose
//! change caused it (cost-check's alert book, say), so one conditional write commits the change
//! and what it owes together. The rules of that outbox live here, without I/O: which channels a
//! notification is owed to ([`owe`]), in which order owed deliveries are due ([`Outbox::due`]),
//! what one delivery attempt changes ([`Outbox::record`]), and when to give up. The adapter
//! (`ops_adapters::notify::outbox`) delivers and records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::SuiteConfig;

pub use crate::severity::Severity;

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
    /// What an operator may do about it from the message (Slack renders buttons; the webhook
    /// carries them as data; PagerDuty and email leave them out). Empty for most notifications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<NotificationAction>,
}

/// An operator command offered with a notification, bound to one deployment of one service so
/// a button pressed late cannot act on a later deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct NotificationAction {
    /// Which command.
    pub kind: ActionKind,
    /// The service it applies to.
    pub service: String,
    /// The deployment it applies to (refused when another one is in flight by then).
    pub deployment_id: String,
}

/// Commands a notification can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// End the current bake once its alarm gate is checked (and lift a pause).
    Promote,
    /// Stop the deployment and put everything back on the stable version.
    Abort,
}

impl ActionKind {
    /// The command's name (`promote`), as operators type it.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Promote => "promote",
            ActionKind::Abort => "abort",
        }
    }
}

/// Attempts per channel after which an owed delivery is given up (logged, and dropped from the
/// outbox so a channel that is gone for good does not grow the document forever).
pub const MAX_DELIVERY_ATTEMPTS: u32 = 10;

/// Longest error text an outbox keeps for a failed attempt.
const MAX_ERROR_CHARS: usize = 200;

/// How long a drainer's claim on owed notifications keeps other drainers away: longer than
/// any invocation (Lambda stops at 15 minutes), so only a drainer that died leaves one behind,
/// and the next drainer takes it over when it has passed. The claimer itself (the same run id,
/// as on the Scheduler's retry) takes it over at once.
pub const CLAIM_LEASE_SECONDS: i64 = 15 * 60;

/// A drainer's claim on an owed notification while it delivers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Claim {
    /// The drainer (its run or request id).
    pub by: String,
    /// Until when other drainers leave the notification alone.
    pub until: DateTime<Utc>,
}

/// One notification owed to one or more channels.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Owed {
    /// Unique, deterministic identity of the change that caused it (an alert transition's key).
    /// Sent as the webhook's `Idempotency-Key`.
    pub id: String,
    /// The run (Lambda request id) that committed it: the writer's identity.
    pub run: String,
    /// When it was committed; the outbox delivers oldest first.
    pub created_at: DateTime<Utc>,
    /// What to send.
    pub notification: Notification,
    /// The channels still owed, by name in the config's `notifications.channels`.
    pub channels: Vec<OwedChannel>,
    /// The drainer delivering it now, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

/// One channel an [`Owed`] notification has not yet been delivered to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OwedChannel {
    /// The channel's name.
    pub channel: String,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Why the last attempt failed (a status or failure kind, never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What one delivery attempt to one channel came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The channel accepted it.
    Delivered,
    /// The channel failed; it stays owed (until [`MAX_DELIVERY_ATTEMPTS`]).
    Failed(String),
    /// The channel cannot be delivered to any more (it left the config): drop it.
    Abandoned(String),
}

/// What [`Outbox::record`] did with an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The channel is no longer owed: delivered.
    Delivered,
    /// Still owed; attempts so far.
    StillOwed(u32),
    /// No longer owed, undelivered: given up after this many attempts, or abandoned.
    GaveUp(u32),
    /// The outbox no longer owes it (someone else recorded it first).
    NotOwed,
}

/// The notifications a state document owes, committed with the change that caused them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Outbox {
    /// Owed notifications (delivered ones are removed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owed: Vec<Owed>,
    /// The invocation that last wrote the document holding this outbox (a run or request id),
    /// so a conditional write's bytes are unique to their writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
}

/// A state document holding an [`Outbox`].
pub trait HasOutbox {
    /// The outbox.
    fn outbox(&self) -> &Outbox;
    /// The outbox, to change it.
    fn outbox_mut(&mut self) -> &mut Outbox;
}

/// One delivery that is due: a notification and one channel it is owed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    /// The owed notification's id.
    pub id: String,
    /// The channel.
    pub channel: String,
    /// What to send.
    pub notification: Notification,
}

/// The notification `notification`, caused by the change `id` committed by `run` at `at`, owed
/// to every channel `config` routes its severity to; `None` when no channel is routed.
pub fn owe(
    config: &SuiteConfig,
    id: &str,
    run: &str,
    at: DateTime<Utc>,
    notification: Notification,
) -> Option<Owed> {
    let channels: Vec<OwedChannel> = config
        .channels_for(notification.severity)
        .iter()
        .map(|channel| OwedChannel {
            channel: channel.clone(),
            attempts: 0,
            last_error: None,
        })
        .collect();
    (!channels.is_empty()).then(|| Owed {
        id: id.to_owned(),
        run: run.to_owned(),
        created_at: at,
        notification,
        channels,
        claim: None,
    })
}

impl Outbox {
    /// Whether nothing is owed.
    pub fn is_empty(&self) -> bool {
        self.owed.is_empty()
    }

    /// Adds `owed` unless a notification with its id is already owed (adding is idempotent).
    pub fn add(&mut self, owed: Owed) -> bool {
        if self.owed.iter().any(|known| known.id == owed.id) {
            return false;
        }
        self.owed.push(owed);
        true
    }

    /// Every delivery owed, oldest first (then by id, then in channel order), at most `limit`.
    /// A deliverer that meets a failing channel leaves that channel's later deliveries for the
    /// next drain, so a channel never receives a newer notification before an older one.
    pub fn due(&self, limit: usize) -> Vec<Due> {
        let mut owed: Vec<&Owed> = self.owed.iter().collect();
        owed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        owed.iter()
            .flat_map(|entry| {
                entry.channels.iter().map(|channel| Due {
                    id: entry.id.clone(),
                    channel: channel.channel.clone(),
                    notification: entry.notification.clone(),
                })
            })
            .take(limit)
            .collect()
    }

    /// Claims for `writer` every owed notification no other drainer holds (or whose claim has
    /// passed at `now`), up to `limit` deliveries, and returns those deliveries, oldest first.
    /// Claiming before delivering, in the same compare-and-swap that wins the document, keeps
    /// concurrent drainers from sending the same notification at once.
    pub fn claim(&mut self, writer: &str, now: DateTime<Utc>, limit: usize) -> Vec<Due> {
        let free = |owed: &Owed| {
            owed.claim
                .as_ref()
                .is_none_or(|claim| claim.by == writer || claim.until <= now)
        };
        let mut order: Vec<usize> = (0..self.owed.len())
            .filter(|&i| free(&self.owed[i]))
            .collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.owed[a], &self.owed[b]);
            (a.created_at, &a.id).cmp(&(b.created_at, &b.id))
        });
        let mut due = Vec::new();
        for index in order {
            let entry = &mut self.owed[index];
            if due.len() + entry.channels.len() > limit && !due.is_empty() {
                break;
            }
            entry.claim = Some(Claim {
                by: writer.to_owned(),
                until: now + chrono::Duration::seconds(CLAIM_LEASE_SECONDS),
            });
            due.extend(entry.channels.iter().map(|channel| Due {
                id: entry.id.clone(),
                channel: channel.channel.clone(),
                notification: entry.notification.clone(),
            }));
        }
        due
    }

    /// Drops `writer`'s claims (its drain is over; what is still owed is free for the next).
    pub fn release(&mut self, writer: &str) {
        for owed in &mut self.owed {
            if owed.claim.as_ref().is_some_and(|claim| claim.by == writer) {
                owed.claim = None;
            }
        }
    }

    /// Records one attempt to deliver `id` to `channel`: delivered or abandoned channels are no
    /// longer owed; a failure counts an attempt, and the channel is given up after
    /// [`MAX_DELIVERY_ATTEMPTS`]. A notification no channel is owed any more leaves the outbox.
    pub fn record(&mut self, id: &str, channel: &str, attempt: &Attempt) -> Recorded {
        let Some(index) = self.owed.iter().position(|owed| owed.id == id) else {
            return Recorded::NotOwed;
        };
        let entry = &mut self.owed[index];
        let Some(slot) = entry.channels.iter().position(|c| c.channel == channel) else {
            return Recorded::NotOwed;
        };
        let outcome = match attempt {
            Attempt::Delivered => {
                entry.channels.remove(slot);
                Recorded::Delivered
            }
            Attempt::Abandoned(_) => {
                let attempts = entry.channels[slot].attempts;
                entry.channels.remove(slot);
                Recorded::GaveUp(attempts)
            }
            Attempt::Failed(error) => {
                let owed = &mut entry.channels[slot];
                owed.attempts += 1;
                owed.last_error = Some(error.chars().take(MAX_ERROR_CHARS).collect());
                if owed.attempts >= MAX_DELIVERY_ATTEMPTS {
                    let attempts = owed.attempts;
                    entry.channels.remove(slot);
                    Recorded::GaveUp(attempts)
                } else {
                    Recorded::StillOwed(owed.attempts)
                }
            }
        };
        if entry.channels.is_empty() {
            self.owed.remove(index);
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn config() -> SuiteConfig {
        crate::config::parse(
            "version: 1
notifications:
  channels:
    chat: { kind: slack, secret: s/chat }
    hook: { kind: webhook, secret: s/hook }
  routes:
    info: []
    warning: [chat]
    critical: [chat, hook]
",
        )
        .expect("valid config")
    }

    fn message(severity: Severity) -> Notification {
        Notification {
            source: "cost-check".into(),
            severity,
            lifecycle: Lifecycle::Trigger,
            title: "t".into(),
            summary: String::new(),
            fields: Vec::new(),
            dedup_key: "cost-check/budget:total".into(),
            link: None,
            actions: Vec::new(),
        }
    }

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 21, 0, minute, 0)
            .single()
            .expect("valid time")
    }

    fn owed_to(outbox: &Outbox) -> Vec<(String, String)> {
        outbox
            .due(usize::MAX)
            .into_iter()
            .map(|due| (due.id, due.channel))
            .collect()
    }

    #[test]
    fn owed_channels_follow_the_routes_and_nothing_is_owed_without_one() {
        let owed = owe(&config(), "x", "run-1", at(0), message(Severity::Critical)).expect("owed");
        let channels: Vec<&str> = owed.channels.iter().map(|c| c.channel.as_str()).collect();
        assert_eq!(channels, ["chat", "hook"]);
        assert_eq!(owed.run, "run-1");
        assert!(owe(&config(), "x", "r", at(0), message(Severity::Info)).is_none());
    }

    #[test]
    fn adding_is_idempotent_and_due_is_oldest_first() {
        let mut outbox = Outbox::default();
        let cfg = config();
        let newer = owe(&cfg, "b", "r2", at(5), message(Severity::Warning)).expect("owed");
        let older = owe(&cfg, "a", "r1", at(1), message(Severity::Critical)).expect("owed");
        assert!(outbox.add(newer.clone()));
        assert!(outbox.add(older));
        assert!(!outbox.add(newer), "same id twice is owed once");
        assert_eq!(
            owed_to(&outbox),
            [
                ("a".to_owned(), "chat".to_owned()),
                ("a".to_owned(), "hook".to_owned()),
                ("b".to_owned(), "chat".to_owned()),
            ]
        );
        assert_eq!(outbox.due(2).len(), 2);
    }

    #[test]
    fn delivered_channels_leave_and_failures_are_given_up_after_the_limit() {
        let mut outbox = Outbox::default();
        outbox.add(owe(&config(), "a", "r", at(0), message(Severity::Critical)).expect("owed"));
        assert_eq!(
            outbox.record("a", "chat", &Attempt::Delivered),
            Recorded::Delivered
        );
        assert_eq!(
            outbox.record("a", "chat", &Attempt::Delivered),
            Recorded::NotOwed,
            "recorded twice"
        );
        for n in 1..MAX_DELIVERY_ATTEMPTS {
            assert_eq!(
                outbox.record("a", "hook", &Attempt::Failed("HTTP 500".into())),
                Recorded::StillOwed(n)
            );
        }
        assert_eq!(owed_to(&outbox), [("a".to_owned(), "hook".to_owned())]);
        assert_eq!(
            outbox.owed[0].channels[0].last_error.as_deref(),
            Some("HTTP 500")
        );
        assert_eq!(
            outbox.record("a", "hook", &Attempt::Failed("HTTP 500".into())),
            Recorded::GaveUp(MAX_DELIVERY_ATTEMPTS)
        );
        assert!(outbox.is_empty(), "{outbox:?}");
    }

    #[test]
    fn a_claim_keeps_other_drainers_away_until_it_passes_or_is_released() {
        let mut outbox = Outbox::default();
        outbox.add(owe(&config(), "a", "r", at(0), message(Severity::Critical)).expect("owed"));
        outbox.add(owe(&config(), "b", "r", at(1), message(Severity::Warning)).expect("owed"));
        let first = outbox.claim("d1", at(2), usize::MAX);
        assert_eq!(first.len(), 3, "{first:?}");
        assert!(
            outbox.claim("d2", at(3), usize::MAX).is_empty(),
            "held by d1"
        );
        assert_eq!(
            outbox.claim("d1", at(3), usize::MAX).len(),
            3,
            "the claimer's retry takes its own claim over"
        );
        let lease = u32::try_from(CLAIM_LEASE_SECONDS / 60).expect("minutes");
        assert_eq!(
            outbox.claim("d2", at(3 + lease), usize::MAX).len(),
            3,
            "a claim that passed is taken over"
        );
        outbox.release("d2");
        assert!(outbox.owed.iter().all(|o| o.claim.is_none()));
        // A limit claims whole notifications, oldest first, at least one.
        let limited = outbox.claim("d3", at(4), 1);
        assert_eq!(limited.len(), 2, "{limited:?}");
        assert!(limited.iter().all(|d| d.id == "a"));
    }

    #[test]
    fn an_abandoned_channel_is_no_longer_owed() {
        let mut outbox = Outbox::default();
        outbox.add(owe(&config(), "a", "r", at(0), message(Severity::Warning)).expect("owed"));
        assert_eq!(
            outbox.record("a", "chat", &Attempt::Abandoned("gone".into())),
            Recorded::GaveUp(0)
        );
        assert!(outbox.is_empty());
    }
}
