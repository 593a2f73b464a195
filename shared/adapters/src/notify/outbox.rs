//! The notification outbox: at-least-once delivery of the notifications a state change owes.
//!
//! A function that changes a state document and owes notifications for the change records them
//! in the document's [`Outbox`] (see `ops_domain::notify`) *in the same conditional write* that
//! changes it: the change and what it owes are committed whole or not at all. Delivering comes
//! after: [`drain`] reads the document, claims what is owed with compare-and-swap (a lease, so
//! concurrent drainers do not send the same notification at once; the same run takes its own
//! claim over at once, another one after the lease), sends every claimed delivery (oldest first,
//! one channel at a time), then records the outcome with compare-and-swap — delivered channels
//! leave the outbox,
//! failed ones stay owed with an attempt count and are given up after
//! `ops_domain::notify::MAX_DELIVERY_ATTEMPTS`. A function drains at the start of every
//! invocation (what an earlier, failed or cut-short invocation still owes) and again after its
//! own commit. A crash, a lost answer or a failed write between sending and recording means the
//! next drain sends again: delivery is **at least once**, and exactly once only where the
//! channel deduplicates.
//!
//! What each channel guarantees:
//!
//! | channel | delivery | deduplication |
//! | --- | --- | --- |
//! | webhook | at least once | the owed notification's id (the transition key) in the `Idempotency-Key` header and as `idempotency_key` in the signed body: a receiver that keeps the keys it has seen processes each change once |
//! | PagerDuty | at least once | the notification's `dedup_key` (the alert's key): a repeated trigger updates the open incident, a repeated resolve is a no-op, so PagerDuty shows each incident once |
//! | Slack | at least once | none: an incoming webhook has no idempotency key, a redelivery posts the message again |
//! | email (SES) | at least once | none: `SendEmail` has no idempotency token, a redelivery sends the mail again |
//!
//! Redeliveries happen only after a failure between sending and recording (the state write
//! failed, its answer was lost and could not be recognised, the invocation timed out) or when
//! two invocations drain the same document at once, so duplicates on Slack and email are rare,
//! never routine. A channel that keeps failing is given up after
//! `ops_domain::notify::MAX_DELIVERY_ATTEMPTS` drains (logged as an error), and a channel
//! removed from the config is dropped: those notifications are lost, on purpose. The document's writes carry the
//! drainer's identity (`Outbox::writer`), so a state store that recognises its own landed write
//! by equal bytes recognises only this drainer's.

use chrono::Utc;
use ops_domain::config::SuiteConfig;
use ops_domain::notify::{Attempt, Due, HasOutbox, Recorded};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Notifier;
use crate::s3::{StateError, StateStore, Versioned};

/// Most deliveries one drain attempts (the rest wait for the next drain).
pub const MAX_DELIVERIES_PER_DRAIN: usize = 100;

/// Compare-and-swap attempts to record the outcome when other writers keep changing the document.
const MAX_RECORD_ATTEMPTS: usize = 5;

/// What one drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// `(owed id, channel)` delivered and recorded.
    pub delivered: Vec<(String, String)>,
    /// `(owed id, channel, error)` that failed and stay owed.
    pub failed: Vec<(String, String, String)>,
    /// `(owed id, channel, reason)` given up: too many attempts, or the channel left the config.
    pub gave_up: Vec<(String, String, String)>,
    /// Deliveries still owed after the drain.
    pub remaining: usize,
}

/// The drain's report and the document as it stands after the drain (`None` when it does not
/// exist), with its ETag for the caller's next compare-and-swap.
#[derive(Debug, Clone)]
pub struct Drained<T> {
    /// What was delivered.
    pub report: DrainReport,
    /// The document after the drain (`None` when it does not exist; possibly stale when other
    /// writers kept changing it, so a compare-and-swap from it may have to re-read).
    pub latest: Option<Versioned<T>>,
}

impl<T> Drained<T> {
    /// A drain that delivered nothing and leaves the document as `latest`.
    fn nothing(latest: Option<Versioned<T>>) -> Self {
        Drained {
            report: DrainReport::default(),
            latest,
        }
    }
}

/// Reads the document at `key` and delivers what its outbox owes (see the module doc).
/// `writer` identifies this invocation (its run or request id). Fails only when the state store
/// does; a channel's failure is recorded in the outbox, not returned.
pub async fn drain<T>(
    store: &StateStore,
    notifier: &Notifier,
    config: &SuiteConfig,
    key: &str,
    writer: &str,
) -> Result<Drained<T>, StateError>
where
    T: HasOutbox + Serialize + DeserializeOwned + Clone,
{
    let current = store.get::<T>(key).await?;
    drain_from(store, notifier, config, key, writer, current).await
}

/// [`drain`] starting from a version of the document the caller already holds (read or just
/// written by it), saving a read; a stale version only costs a re-read when recording.
pub async fn drain_from<T>(
    store: &StateStore,
    notifier: &Notifier,
    config: &SuiteConfig,
    key: &str,
    writer: &str,
    current: Option<Versioned<T>>,
) -> Result<Drained<T>, StateError>
where
    T: HasOutbox + Serialize + DeserializeOwned + Clone,
{
    let Some(mut versioned) = current else {
        return Ok(Drained::nothing(None));
    };
    // Claim what is due (one compare-and-swap), so concurrent drainers do not send it too.
    let mut claim_attempt = 1;
    let due = loop {
        let mut next = versioned.value.clone();
        let due = next
            .outbox_mut()
            .claim(writer, Utc::now(), MAX_DELIVERIES_PER_DRAIN);
        if due.is_empty() {
            return Ok(Drained::nothing(Some(versioned)));
        }
        next.outbox_mut().writer = Some(writer.to_owned());
        match store.replace(key, &next, &versioned.etag).await {
            Ok(etag) => {
                versioned = Versioned { value: next, etag };
                break due;
            }
            Err(StateError::Conflict { .. }) if claim_attempt < MAX_RECORD_ATTEMPTS => {
                claim_attempt += 1;
                match store.get::<T>(key).await? {
                    Some(fresh) => versioned = fresh,
                    None => return Ok(Drained::nothing(None)),
                }
            }
            // Others keep changing the document: they drain it; this drain leaves it to them
            // (the version returned is stale: a compare-and-swap from it re-reads).
            Err(StateError::Conflict { .. }) => return Ok(Drained::nothing(Some(versioned))),
            Err(error) => return Err(error),
        }
    };
    let attempts = deliver(notifier, config, &due).await;
    let mut attempt = 1;
    loop {
        let mut next = versioned.value.clone();
        let mut report = DrainReport::default();
        for (due, outcome) in &attempts {
            let (id, channel) = (due.id.clone(), due.channel.clone());
            match (
                next.outbox_mut().record(&due.id, &due.channel, outcome),
                outcome,
            ) {
                (Recorded::Delivered, _) => report.delivered.push((id, channel)),
                (Recorded::StillOwed(_), Attempt::Failed(error)) => {
                    report.failed.push((id, channel, error.clone()));
                }
                (Recorded::GaveUp(attempts), Attempt::Failed(error)) => report.gave_up.push((
                    id,
                    channel,
                    format!("{attempts} attempts failed, the last: {error}"),
                )),
                (Recorded::GaveUp(_), Attempt::Abandoned(reason)) => {
                    report.gave_up.push((id, channel, reason.clone()));
                }
                // Recorded by someone else meanwhile, or an outcome without a record.
                _ => {}
            }
        }
        report.remaining = next.outbox().due(usize::MAX).len();
        next.outbox_mut().release(writer);
        next.outbox_mut().writer = Some(writer.to_owned());
        match store.replace(key, &next, &versioned.etag).await {
            Ok(etag) => {
                log(&report);
                return Ok(Drained {
                    report,
                    latest: Some(Versioned { value: next, etag }),
                });
            }
            Err(StateError::Conflict { .. }) if attempt < MAX_RECORD_ATTEMPTS => {
                attempt += 1;
                match store.get::<T>(key).await? {
                    Some(fresh) => versioned = fresh,
                    None => return Ok(Drained::nothing(None)),
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// Sends each due delivery; once a channel fails, its later deliveries wait for the next drain
/// (they would likely fail the same way, and must not overtake the failed one).
async fn deliver(notifier: &Notifier, config: &SuiteConfig, due: &[Due]) -> Vec<(Due, Attempt)> {
    let mut blocked: Vec<&str> = Vec::new();
    let mut outcomes = Vec::with_capacity(due.len());
    for delivery in due {
        if blocked.contains(&delivery.channel.as_str()) {
            continue;
        }
        if !config
            .notifications
            .channels
            .contains_key(&delivery.channel)
        {
            outcomes.push((
                delivery.clone(),
                Attempt::Abandoned(format!(
                    "channel {} is no longer configured",
                    delivery.channel
                )),
            ));
            continue;
        }
        let sent = notifier
            .send_to(
                config,
                &delivery.channel,
                &delivery.notification,
                Some(&delivery.id),
            )
            .await;
        match sent {
            Ok(()) => outcomes.push((delivery.clone(), Attempt::Delivered)),
            Err(error) => {
                tracing::warn!(message = "Failed to notify; it stays owed.", channel = %delivery.channel, id = %delivery.id, %error);
                blocked.push(&delivery.channel);
                outcomes.push((delivery.clone(), Attempt::Failed(error)));
            }
        }
    }
    outcomes
}

fn log(report: &DrainReport) {
    for (id, channel, reason) in &report.gave_up {
        tracing::error!(message = "Gave up a notification.", %channel, %id, %reason);
    }
    tracing::info!(
        message = "Outbox drained.",
        delivered = report.delivered.len(),
        failed = report.failed.len(),
        gave_up = report.gave_up.len(),
        remaining = report.remaining
    );
}
