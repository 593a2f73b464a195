//! Post-promotion analysis: while a promoted deployment's rollback window is open, the
//! service's metric checks keep running (deploy-hook's `watch` schedule). Checks that read
//! `baseline` are skipped then — the old version carries no traffic. A failing check hands the
//! rollback to alarm-rollback's path ([`AnalysisFailure`]), which rolls back exactly once,
//! notifies and audits like an alarm.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::deploy::analysis::measure::{self, MetricRequest, Series, Side, SideNames, Verdict};
use crate::deploy::analysis::AnalysisConfig;
use crate::deploy::record::{DeploymentRecord, DeploymentStatus};

/// What the watch does for one service now.
#[derive(Debug, Clone, PartialEq)]
pub enum Watch {
    /// Nothing to measure now (why).
    Idle(String),
    /// Read these series, then decide again.
    Observe(Vec<MetricRequest>),
    /// Write the record with the new measurements.
    Record(Box<DeploymentRecord>),
    /// A check failed: write the record (its measurements), then roll back through
    /// alarm-rollback with `failure`.
    Rollback {
        /// The record with the failing measurement.
        record: Box<DeploymentRecord>,
        /// What alarm-rollback is asked to act on.
        failure: AnalysisFailure,
    },
}

/// A post-promotion analysis failure, as alarm-rollback receives it: one service, the check
/// and why. `at` is the failing measurement's time, so every delivery of the same failure is
/// the same transition (alarm-rollback's idempotency key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalysisFailure {
    /// The service to roll back.
    pub service: String,
    /// The promoted deployment.
    pub deployment_id: String,
    /// The failing check.
    pub check: String,
    /// The check, condition, values and query.
    pub reason: String,
    /// When the failing measurement was taken.
    pub at: DateTime<Utc>,
}

impl AnalysisFailure {
    /// The alarm name under which the failure is handled and recorded (`analysis:error_rate`).
    pub fn alarm_name(&self) -> String {
        format!("analysis:{}", self.check)
    }
}

/// Decides the watch of `record` at `now`: `measured` is what was read for the requests of an
/// earlier [`Watch::Observe`] (one entry per check and side).
pub fn watch(
    record: &DeploymentRecord,
    config: &AnalysisConfig,
    candidate: &SideNames,
    measured: Option<&[(String, Side, Series)]>,
    now: DateTime<Utc>,
) -> Watch {
    if !config.post_promotion || config.metrics.is_empty() {
        return Watch::Idle("no post-promotion analysis".to_owned());
    }
    if record.status != DeploymentStatus::Promoted {
        return Watch::Idle(format!("{} is {}", record.service, record.status.as_str()));
    }
    let Some(progress) = record.progress.as_ref() else {
        return Watch::Idle("no deployment".to_owned());
    };
    if progress
        .rollback_window_until
        .is_none_or(|until| until <= now)
    {
        return Watch::Idle("the rollback window is over".to_owned());
    }
    let run = progress.analysis.clone().unwrap_or_default();
    let verdict = |run: &measure::AnalysisRun| {
        measure::verdict_in(config, run, measure::Phase::AfterPromotion, Some(candidate))
    };
    if let Verdict::Failed { check, reason } = verdict(&run) {
        // Already failed (the rollback's hand-over did not complete): hand it over again.
        return rollback(record, &run, check, reason);
    }
    let due = measure::due_after_promotion(config, &run, now);
    if due.is_empty() {
        return Watch::Idle("no check due".to_owned());
    }
    let Some(measured) = measured else {
        return Watch::Observe(measure::requests(config, &due, candidate, None, now));
    };
    let missing: Series = Err("not read".to_owned());
    let mut run = run;
    for check in &due {
        let series = measured
            .iter()
            .find(|(c, side, _)| c == check && *side == Side::Candidate)
            .map_or(&missing, |(_, _, s)| s);
        run = measure::record(config, &run, check, series, None, now);
    }
    match verdict(&run) {
        Verdict::Failed { check, reason } => rollback(record, &run, check, reason),
        _ => {
            let mut next = record.clone();
            if let Some(p) = next.progress.as_mut() {
                p.analysis = Some(run);
            }
            next.updated_at = now;
            Watch::Record(Box::new(next))
        }
    }
}

fn rollback(
    record: &DeploymentRecord,
    run: &measure::AnalysisRun,
    check: String,
    reason: String,
) -> Watch {
    let at = run
        .checks
        .get(&check)
        .and_then(|c| c.last_at)
        .unwrap_or(record.updated_at);
    let mut next = record.clone();
    if let Some(p) = next.progress.as_mut() {
        p.analysis = Some(run.clone());
    }
    let deployment_id = record
        .progress
        .as_ref()
        .map(|p| p.deployment_id.clone())
        .unwrap_or_default();
    Watch::Rollback {
        record: Box::new(next),
        failure: AnalysisFailure {
            service: record.service.clone(),
            deployment_id,
            check,
            reason: format!("after promotion: {reason}"),
            at,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::machine::tests::{at, record_at};
    use crate::deploy::Phase;

    fn config() -> AnalysisConfig {
        serde_yaml_ng::from_str(
            r#"
metrics:
  error_rate:
    queries: [{ id: e, metric: { namespace: App, name: Errors, dimensions: { Color: "{color}" } } }]
    success: "result < 0.01"
    interval_seconds: 60
    count: 3
  versus_stable:
    queries: [{ id: l, metric: { namespace: App, name: Latency, dimensions: { Color: "{color}" } } }]
    success: "result <= baseline * 1.2"
    interval_seconds: 60
"#,
        )
        .expect("config")
    }

    fn promoted() -> DeploymentRecord {
        let mut record = record_at(10, Phase::Ready);
        record.status = DeploymentStatus::Promoted;
        if let Some(p) = record.progress.as_mut() {
            p.rollback_window_until = Some(at(3600));
        }
        record
    }

    fn green() -> SideNames {
        SideNames {
            color: "green".into(),
            service: "api-green".into(),
            target: "green.api".into(),
        }
    }

    #[test]
    fn measures_absolute_checks_in_the_window_and_hands_a_failure_to_alarm_rollback() {
        let config = config();
        let record = promoted();
        // Only the check that does not read the baseline is measured.
        let Watch::Observe(requests) = watch(&record, &config, &green(), None, at(200)) else {
            panic!("observe first");
        };
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].check, "error_rate");
        let good = vec![("error_rate".to_owned(), Side::Candidate, Ok(vec![0.001]))];
        let Watch::Record(measured) = watch(&record, &config, &green(), Some(&good), at(200))
        else {
            panic!("record the measurement");
        };
        // Within the interval nothing is due.
        assert_eq!(
            watch(&measured, &config, &green(), None, at(230)),
            Watch::Idle("no check due".into())
        );
        let bad = vec![("error_rate".to_owned(), Side::Candidate, Ok(vec![0.2]))];
        let Watch::Rollback {
            record: failed,
            failure,
        } = watch(&measured, &config, &green(), Some(&bad), at(261))
        else {
            panic!("a failing check rolls back");
        };
        assert_eq!(failure.service, "api");
        assert_eq!(failure.check, "error_rate");
        assert_eq!(failure.alarm_name(), "analysis:error_rate");
        assert_eq!(failure.at, at(261));
        assert!(
            failure.reason.starts_with("after promotion: "),
            "{}",
            failure.reason
        );
        assert!(failure.reason.contains("0.2"), "{}", failure.reason);
        // The same failure is handed over again, unchanged, until the rollback is recorded.
        let Watch::Rollback { failure: again, .. } =
            watch(&failed, &config, &green(), None, at(400))
        else {
            panic!("handed over again");
        };
        assert_eq!(again, failure);
    }

    #[test]
    fn idle_outside_a_promoted_window() {
        let config = config();
        let mut record = promoted();
        assert!(matches!(
            watch(&record, &config, &green(), None, at(3600)),
            Watch::Idle(_)
        ));
        record.status = DeploymentStatus::RolledBack;
        assert!(matches!(
            watch(&record, &config, &green(), None, at(200)),
            Watch::Idle(_)
        ));
        let mut off = config.clone();
        off.post_promotion = false;
        assert!(matches!(
            watch(&promoted(), &off, &green(), None, at(200)),
            Watch::Idle(_)
        ));
    }
}
