//! What a handled transition owes and its delivery: the outbox written create-once before
//! anything is attempted (the audit record, one notification per routed channel), notifications
//! without rollback (once per transition), settling what is owed and recording what was
//! delivered.

use std::collections::BTreeSet;

use chrono::Utc;
use ops_adapters::audit;
use ops_adapters::error::{bounded, MAX_MESSAGE};
use ops_adapters::s3::{StateError, Versioned};
use ops_adapters::telemetry::{MetricSet, Unit};
use ops_domain::audit::AuditRecord;
use ops_domain::config::SuiteConfig;
use ops_domain::deployment::{DeploymentRecord, DeploymentStatus};
use ops_domain::notify::{Lifecycle, Notification, Severity};
use ops_domain::rollback::{self, AlarmTransition, Outbox, RollbackPlan, Trigger, NOTIFY_SCOPE};
use serde_json::Value;

use super::{Acting, Deps, HandlerError, FUNCTION, MAX_CLAIM_ATTEMPTS};
use tracing::{info, warn};

/// A notification without rollback, once per transition: its outbox is created once (the
/// first copy of the event to get there owns it) and settled by its owner; a copy of the event
/// from another invocation leaves it alone until the lease has passed. Returns what is still
/// owed.
pub(super) async fn notify_once(
    deps: &Deps,
    config: &SuiteConfig,
    trigger: &Trigger,
    claimant: &str,
    notification: Notification,
) -> Result<Vec<String>, HandlerError> {
    let key = rollback::outbox_key(FUNCTION, &trigger.id, NOTIFY_SCOPE);
    let outbox = Outbox {
        trigger_id: trigger.id.clone(),
        scope: NOTIFY_SCOPE.to_owned(),
        claimant: claimant.to_owned(),
        created_at: Utc::now(),
        audit: None,
        audit_written: false,
        channels: config.channels_for(notification.severity).to_vec(),
        notification,
        delivered: Default::default(),
    };
    let Some(outbox) = create_outbox(deps, &key, outbox).await? else {
        return Ok(Vec::new());
    };
    if outbox.value.settled()
        || !outbox
            .value
            .may_settle(claimant, Utc::now(), deps.settings.lease)
    {
        return Ok(Vec::new());
    }
    settle(deps, config, &key, outbox, None).await
}

/// Creates `outbox` at `key`, or reads the one already there (another copy of the event, or
/// this invocation's earlier attempt, wrote it first). `None` if it vanished meanwhile.
pub(super) async fn create_outbox(
    deps: &Deps,
    key: &str,
    outbox: Outbox,
) -> Result<Option<Versioned<Outbox>>, HandlerError> {
    match deps.store.create(key, &outbox).await {
        Ok(etag) => Ok(Some(Versioned {
            value: outbox,
            etag,
        })),
        Err(StateError::AlreadyExists { .. }) => Ok(deps.store.get::<Outbox>(key).await?),
        Err(error) => Err(error.into()),
    }
}

/// Delivers what `outbox` still owes: the audit record (with `after` as its after-state, when
/// given), then the notification to each owed channel, recording each one done in the outbox
/// (compare-and-swap, merging with concurrent writers). Returns what is still owed, with why.
pub(super) async fn settle(
    deps: &Deps,
    config: &SuiteConfig,
    key: &str,
    mut outbox: Versioned<Outbox>,
    after: Option<&DeploymentRecord>,
) -> Result<Vec<String>, HandlerError> {
    let scope = outbox.value.scope.clone();
    let mut owed = Vec::new();
    let mut unsaved = false;
    if let (Some(audit_record), false) = (outbox.value.audit.clone(), outbox.value.audit_written) {
        let mut audit_record = audit_record;
        if let Some(after) = after {
            audit_record.after = serde_json::to_value(after).unwrap_or(Value::Null);
        }
        match audit::write(&deps.store, &audit_record).await {
            Ok(_) => {
                outbox.value.audit_written = true;
                unsaved = true;
            }
            Err(failure) => {
                warn!(message = "Audit record not written yet; it stays owed.", %scope, error = %failure);
                owed.push(format!("{scope}: audit record ({failure})"));
            }
        }
    }
    for channel in outbox.value.owed_channels() {
        let Some(settings) = config.notifications.channels.get(&channel) else {
            warn!(message = "Owed channel is no longer configured; dropped.", %scope, %channel);
            outbox.value.channels.retain(|name| *name != channel);
            unsaved = true;
            continue;
        };
        // The notifier sends to the channels routed for a severity: route this one only.
        let mut one = config.clone();
        one.notifications.channels = [(channel.clone(), settings.clone())].into();
        one.notifications.routes =
            [(outbox.value.notification.severity, vec![channel.clone()])].into();
        let delivery = deps.notifier.send(&one, &outbox.value.notification).await;
        if delivery.sent.contains(&channel) {
            outbox.value.delivered.insert(channel.clone(), Utc::now());
            if let Err(failure) = save_outbox(deps, key, &mut outbox).await {
                warn!(message = "Delivered, but not recorded yet; a retry may repeat it.", %scope, %channel, error = %failure);
                owed.push(format!(
                    "{scope}: record of delivery to {channel} ({failure})"
                ));
            }
            unsaved = false;
        } else {
            let reason = delivery
                .failed
                .first()
                .map(|(_, reason)| bounded(reason, MAX_MESSAGE))
                .unwrap_or_else(|| "not sent".to_owned());
            MetricSet::new(FUNCTION)
                .metric("notification_failures_total", 1.0, Unit::Count)
                .emit();
            owed.push(format!("{scope}: notification to {channel} ({reason})"));
        }
    }
    if unsaved {
        if let Err(failure) = save_outbox(deps, key, &mut outbox).await {
            owed.push(format!("{scope}: record of what was delivered ({failure})"));
        }
    }
    Ok(owed)
}

/// Writes `outbox` back with compare-and-swap; on a conflict merges what the other writer
/// recorded (both only add) and tries again.
pub(super) async fn save_outbox(
    deps: &Deps,
    key: &str,
    outbox: &mut Versioned<Outbox>,
) -> Result<(), HandlerError> {
    for _ in 0..MAX_CLAIM_ATTEMPTS {
        match deps.store.replace(key, &outbox.value, &outbox.etag).await {
            Ok(etag) => {
                outbox.etag = etag;
                return Ok(());
            }
            Err(StateError::Conflict { .. }) => {
                let Some(current) = deps.store.get::<Outbox>(key).await? else {
                    return Ok(());
                };
                let mut merged = current.value;
                merged.merge(&outbox.value);
                *outbox = Versioned {
                    value: merged,
                    etag: current.etag,
                };
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(HandlerError::Contention {
        service: outbox.value.scope.clone(),
    })
}

/// Records what the rollback of `service` owes — its audit record and its notification to the
/// channels routed for its severity — create-once, before anything is changed; returns the
/// outbox as stored (an earlier attempt's, when there is one).
pub(super) async fn owe(
    acting: &Acting<'_>,
    service: &str,
    before: &DeploymentRecord,
    plan: &RollbackPlan,
) -> Result<Versioned<Outbox>, HandlerError> {
    let Acting {
        deps,
        config,
        trigger,
        claimant,
        transition,
        severity,
        invocation_id,
    } = *acting;
    let now = Utc::now();
    let from = plan
        .from
        .as_ref()
        .map(|release| release.task_definition.clone());
    let summary = format!(
        "Alarm *{}* went into ALARM: {}\nTraffic and the ECS service are back on `{}`{}.",
        trigger.alarm,
        trigger.reason,
        plan.to.task_definition,
        from.as_deref()
            .map(|from| format!(" (from `{from}`)"))
            .unwrap_or_default()
    );
    let notification = alarm_notification(
        transition,
        severity,
        Lifecycle::Trigger,
        &BTreeSet::from([service]),
        summary,
    );
    let outbox = Outbox {
        trigger_id: trigger.id.clone(),
        scope: service.to_owned(),
        claimant: claimant.to_owned(),
        created_at: now,
        audit: Some(AuditRecord {
            id: format!("{}-{service}", trigger.id),
            at: now,
            function: FUNCTION.to_owned(),
            action: "rollback".to_owned(),
            actor: format!("alarm:{}", trigger.alarm),
            target: format!("service:{service}"),
            reason: trigger.reason.clone(),
            before: serde_json::to_value(before).unwrap_or(Value::Null),
            after: Value::Null,
            outcome: "succeeded".to_owned(),
            request_id: Some(invocation_id.to_owned()),
        }),
        audit_written: false,
        channels: config.channels_for(severity).to_vec(),
        notification,
        delivered: Default::default(),
    };
    let key = rollback::outbox_key(FUNCTION, &trigger.id, service);
    create_outbox(deps, &key, outbox)
        .await?
        .ok_or_else(|| HandlerError::Contention {
            service: service.to_owned(),
        })
}

/// For a service whose rollback was skipped: if its record is ROLLED_BACK and that rollback's
/// outbox still owes something this invocation may deliver (its own, or past the lease), the
/// rest is delivered now. A ROLLING_BACK record's outbox is its claimant's to settle.
pub(super) async fn settle_skipped(
    acting: &Acting<'_>,
    service: &str,
    record: &DeploymentRecord,
) -> Result<Vec<String>, HandlerError> {
    let Some(mark) = &record.rollback else {
        return Ok(Vec::new());
    };
    if record.status != DeploymentStatus::RolledBack {
        return Ok(Vec::new());
    }
    let deps = acting.deps;
    let key = rollback::outbox_key(FUNCTION, &mark.trigger_id, service);
    let Some(outbox) = deps.store.get::<Outbox>(&key).await? else {
        return Ok(Vec::new());
    };
    if outbox.value.settled()
        || !outbox
            .value
            .may_settle(acting.claimant, Utc::now(), deps.settings.lease)
    {
        return Ok(Vec::new());
    }
    info!(message = "Delivering what an earlier rollback still owes.", %service, trigger_id = %mark.trigger_id);
    settle(deps, acting.config, &key, outbox, Some(record)).await
}

pub(super) fn alarm_notification(
    transition: &AlarmTransition,
    severity: Severity,
    lifecycle: Lifecycle,
    services: &BTreeSet<&str>,
    summary: String,
) -> Notification {
    let services_text = services.iter().copied().collect::<Vec<_>>().join(", ");
    let title = match lifecycle {
        Lifecycle::Trigger if summary.contains("back on") => format!(
            "{} in ALARM: rolled back {services_text}",
            transition.alarm_name
        ),
        Lifecycle::Trigger => format!(
            "{} in ALARM (guards {services_text})",
            transition.alarm_name
        ),
        Lifecycle::Resolve => format!(
            "{} is {}",
            transition.alarm_name,
            transition.new_state.as_str()
        ),
    };
    Notification {
        source: FUNCTION.to_owned(),
        severity,
        lifecycle,
        title,
        summary,
        fields: vec![
            ("Alarm".to_owned(), transition.alarm_name.clone()),
            ("Services".to_owned(), services_text),
            ("State".to_owned(), transition.new_state.as_str().to_owned()),
            ("Changed at".to_owned(), transition.changed_at.to_rfc3339()),
        ],
        dedup_key: format!("{FUNCTION}/{}", transition.alarm_name),
        link: None,
        actions: Vec::new(),
    }
}
