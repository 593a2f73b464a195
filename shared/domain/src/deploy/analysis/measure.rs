//! Measurement accounting of the metric checks across bake invocations (Argo Rollouts'
//! analysis runs): which checks are due, what to ask CloudWatch for, how one answer is
//! counted, and the verdict of the run so far.
//!
//! The run is kept in the deployment record between invocations, so it stays small: counters
//! per check and the last [`MAX_MEASUREMENTS`] measurements. A fresh [`AnalysisRun`] starts
//! every bake step.
//!
//! After promotion the old version carries no traffic, so a check whose condition reads
//! `baseline` cannot be measured: [`due_after_promotion`] and [`verdict_after_promotion`] leave
//! those checks out (not measured, not counted), and [`requests`] leaves them out whenever no
//! baseline is given. Checks keep being measured for as long as the caller asks — a check that
//! already has its `count` successes is still measured, so a regression late in a bake fails it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::judgement::Judgement;
use super::{AnalysisConfig, Inconclusive, MetricCheck, MetricQuery};
use crate::deploy::truncate;

/// Measurements kept per check (the counters keep counting past them).
pub const MAX_MEASUREMENTS: usize = 10;
/// Most characters of a [`Verdict`]'s reason.
pub const MAX_REASON: usize = 600;
/// Most characters of a query error kept in a measurement.
const MAX_DETAIL: usize = 200;

/// Which side of a deployment a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The new version (`result`).
    Candidate,
    /// The stable version (`baseline`).
    Baseline,
}

/// The values of the placeholders for one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideNames {
    /// `{color}`: the traffic target's name (the Route53 set identifier).
    pub color: String,
    /// `{service}`: the ECS service.
    pub service: String,
    /// `{target}`: the target's record value.
    pub target: String,
}

/// The placeholders a query may use.
pub const PLACEHOLDERS: &[&str] = &["color", "service", "target"];

impl SideNames {
    fn fill(&self, text: &str) -> String {
        text.replace("{color}", &self.color)
            .replace("{service}", &self.service)
            .replace("{target}", &self.target)
    }
}

/// The queries with `{color}`, `{service}` and `{target}` replaced by `side`'s values in ids,
/// expressions, labels, namespaces, metric names and dimension values.
pub fn expand(queries: &[MetricQuery], side: &SideNames) -> Vec<MetricQuery> {
    queries
        .iter()
        .map(|query| MetricQuery {
            id: side.fill(&query.id),
            expression: query.expression.as_deref().map(|e| side.fill(e)),
            metric: query.metric.as_ref().map(|metric| super::MetricStat {
                namespace: side.fill(&metric.namespace),
                name: side.fill(&metric.name),
                dimensions: metric
                    .dimensions
                    .iter()
                    .map(|(k, v)| (k.clone(), side.fill(v)))
                    .collect(),
                ..metric.clone()
            }),
            return_data: query.return_data,
            label: query.label.as_deref().map(|l| side.fill(l)),
        })
        .collect()
}

/// One `GetMetricData` call to make: a check's queries for one side over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRequest {
    /// The check (or judge metric) name.
    pub check: String,
    /// The side measured.
    pub side: Side,
    /// The queries, placeholders expanded.
    pub queries: Vec<MetricQuery>,
    /// Window start.
    pub start: DateTime<Utc>,
    /// Window end.
    pub end: DateTime<Utc>,
}

/// What one request returned: the result values in time order, or the query's error text.
pub type Series = Result<Vec<f64>, String>;

/// The metric checks' state across invocations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AnalysisRun {
    /// Per check.
    #[serde(default)]
    pub checks: BTreeMap<String, CheckRun>,
    /// Marginal judge verdicts in a row.
    #[serde(default)]
    pub holds: u32,
    /// The last judgement.
    #[serde(default)]
    pub judgement: Option<Judgement>,
}

/// One check's counters and recent measurements.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CheckRun {
    /// The last [`MAX_MEASUREMENTS`], oldest first.
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    /// Measurements that met the condition (or found no data under `inconclusive: pass`).
    #[serde(default)]
    pub successes: u32,
    /// Measurements that did not (or found no data under `inconclusive: fail`).
    #[serde(default)]
    pub failures: u32,
    /// Measurements that found no data.
    #[serde(default)]
    pub inconclusives: u32,
    /// Query errors since the last measurement that was not one.
    #[serde(default)]
    pub errors_in_row: u32,
    /// Query errors in all.
    #[serde(default)]
    pub errors: u32,
    /// When the check was last measured.
    #[serde(default)]
    pub last_at: Option<DateTime<Utc>>,
}

impl CheckRun {
    fn measured(&self) -> u32 {
        self.successes + self.failures + self.inconclusives + self.errors
    }
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// The candidate's value (mean of the returned values); `None` without data.
    pub result: Option<f64>,
    /// The baseline's value, when the condition reads it.
    pub baseline: Option<f64>,
    /// How it counts.
    pub outcome: Outcome,
    /// What an operator reads: the values against the condition, or the error.
    pub detail: String,
}

/// How a measurement counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The condition held.
    Success,
    /// It did not.
    Failure,
    /// No data.
    Inconclusive,
    /// A query failed.
    Error,
}

/// Which part of a deployment is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A bake step: every check.
    Bake,
    /// The rollback window after promotion: checks that do not read `baseline`, and only when
    /// `post_promotion` is on.
    AfterPromotion,
}

fn measurable(config: &AnalysisConfig, check: &MetricCheck, phase: Phase) -> bool {
    match phase {
        Phase::Bake => true,
        Phase::AfterPromotion => config.post_promotion && !reads_baseline(check),
    }
}

/// Whether a check's condition reads `baseline` (an unparsable condition does not: it is
/// measured and counts as an error).
fn reads_baseline(check: &MetricCheck) -> bool {
    Condition::parse(&check.success).is_ok_and(|c| c.uses_baseline())
}

/// Checks due during a bake: never measured, or measured at least `interval_seconds` ago.
pub fn due(config: &AnalysisConfig, run: &AnalysisRun, now: DateTime<Utc>) -> Vec<String> {
    due_in(config, run, now, Phase::Bake)
}

/// Checks due after promotion (see [`Phase::AfterPromotion`]).
pub fn due_after_promotion(
    config: &AnalysisConfig,
    run: &AnalysisRun,
    now: DateTime<Utc>,
) -> Vec<String> {
    due_in(config, run, now, Phase::AfterPromotion)
}

/// Checks due in `phase`.
pub fn due_in(
    config: &AnalysisConfig,
    run: &AnalysisRun,
    now: DateTime<Utc>,
    phase: Phase,
) -> Vec<String> {
    config
        .metrics
        .iter()
        .filter(|(_, check)| measurable(config, check, phase))
        .filter(|(name, check)| {
            run.checks
                .get(*name)
                .and_then(|c| c.last_at)
                .is_none_or(|last| {
                    now.signed_duration_since(last).num_seconds()
                        >= i64::from(check.interval_seconds)
                })
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The `GetMetricData` calls for the `due` checks over `[now − interval, now]`: the candidate
/// side always, the baseline side when the condition reads `baseline`. A check that reads
/// `baseline` is left out entirely when `baseline` is `None` (after promotion).
pub fn requests(
    config: &AnalysisConfig,
    due: &[String],
    candidate: &SideNames,
    baseline: Option<&SideNames>,
    now: DateTime<Utc>,
) -> Vec<MetricRequest> {
    let mut out = Vec::new();
    for name in due {
        let Some(check) = config.metrics.get(name) else {
            continue;
        };
        let start = now - chrono::Duration::seconds(i64::from(check.interval_seconds));
        let request = |side, names: &SideNames| MetricRequest {
            check: name.clone(),
            side,
            queries: expand(&check.queries, names),
            start,
            end: now,
        };
        if reads_baseline(check) {
            let Some(baseline) = baseline else { continue };
            out.push(request(Side::Candidate, candidate));
            out.push(request(Side::Baseline, baseline));
        } else {
            out.push(request(Side::Candidate, candidate));
        }
    }
    out
}

/// The mean of the finite values, `None` without any.
fn mean(values: &[f64]) -> Option<f64> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)
}

/// The run with one measurement of `check` counted: the candidate's mean (and the baseline's,
/// when the condition reads it) against the condition. An error series counts as an error;
/// no data counts as the check's `inconclusive` says. An unknown check changes nothing.
pub fn record(
    config: &AnalysisConfig,
    run: &AnalysisRun,
    check: &str,
    candidate: &Series,
    baseline: Option<&Series>,
    now: DateTime<Utc>,
) -> AnalysisRun {
    let mut next = run.clone();
    let Some(settings) = config.metrics.get(check) else {
        return next;
    };
    let measurement = measure(settings, candidate, baseline, now);
    let entry = next.checks.entry(check.to_owned()).or_default();
    match measurement.outcome {
        Outcome::Success => entry.successes += 1,
        Outcome::Failure => entry.failures += 1,
        Outcome::Inconclusive => entry.inconclusives += 1,
        Outcome::Error => entry.errors += 1,
    }
    if measurement.outcome == Outcome::Error {
        entry.errors_in_row += 1;
    } else {
        entry.errors_in_row = 0;
    }
    entry.last_at = Some(now);
    entry.measurements.push(measurement);
    let extra = entry.measurements.len().saturating_sub(MAX_MEASUREMENTS);
    entry.measurements.drain(..extra);
    next
}

fn measure(
    check: &MetricCheck,
    candidate: &Series,
    baseline: Option<&Series>,
    at: DateTime<Utc>,
) -> Measurement {
    let error = |detail: String| Measurement {
        at,
        result: None,
        baseline: None,
        outcome: Outcome::Error,
        detail: truncate(&detail, MAX_DETAIL),
    };
    let condition = match Condition::parse(&check.success) {
        Ok(condition) => condition,
        Err(e) => return error(format!("condition \"{}\": {e}", check.success)),
    };
    let values = match candidate {
        Ok(values) => values,
        Err(e) => return error(format!("query error: {e}")),
    };
    let result = mean(values);
    let base = if condition.uses_baseline() {
        match baseline {
            None => return error("the condition reads baseline but none was measured".into()),
            Some(Err(e)) => return error(format!("baseline query error: {e}")),
            Some(Ok(values)) => Some(mean(values)),
        }
    } else {
        None
    };
    let (Some(result), Some(base)) = (result, base.unwrap_or(Some(f64::NAN))) else {
        let missing = if result.is_none() {
            "no data"
        } else {
            "no baseline data"
        };
        let (outcome, counted) = match check.inconclusive {
            Inconclusive::Inconclusive => (Outcome::Inconclusive, "inconclusive"),
            Inconclusive::Pass => (Outcome::Success, "a pass (inconclusive: pass)"),
            Inconclusive::Fail => (Outcome::Failure, "a failure (inconclusive: fail)"),
        };
        return Measurement {
            at,
            result,
            baseline: base.flatten(),
            outcome,
            detail: format!("{missing}: counted {counted}"),
        };
    };
    let base = condition.uses_baseline().then_some(base);
    let values = describe_values(Some(result), base);
    match condition.eval(result, base) {
        Ok(held) => Measurement {
            at,
            result: Some(result),
            baseline: base,
            outcome: if held {
                Outcome::Success
            } else {
                Outcome::Failure
            },
            detail: format!(
                "{values} {} condition \"{condition}\"",
                if held { "meets" } else { "against" }
            ),
        },
        Err(e) => error(e.to_string()),
    }
}

/// `result 0.0833` or `result 0.0833, baseline 0.01`.
fn describe_values(result: Option<f64>, baseline: Option<f64>) -> String {
    let mut text = match result {
        Some(r) => format!("result {}", compact(r)),
        None => "no result".to_owned(),
    };
    if let Some(b) = baseline {
        let _ = write!(text, ", baseline {}", compact(b));
    }
    text
}

/// A number as an operator reads it: integers as such, others to 3 significant digits,
/// very small or large ones in exponent form.
pub fn compact(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    // No "-0" (an empty f64 sum is -0.0).
    let x = if x == 0.0 { 0.0 } else { x };
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let magnitude = x.abs().log10().floor();
    if !(-4.0..9.0).contains(&magnitude) {
        return format!("{x:.2e}");
    }
    let decimals = (2.0 - magnitude).max(0.0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// The queries as an operator reads them:
/// `e1 = m1 / m2, m1 AWS/ApplicationELB HTTPCode_Target_5XX_Count Sum {TargetGroup=green}`.
pub fn describe_queries(queries: &[MetricQuery]) -> String {
    queries
        .iter()
        .map(|query| match (&query.expression, &query.metric) {
            (Some(expression), _) => format!("{} = {expression}", query.id),
            (None, Some(metric)) => {
                let mut text = format!(
                    "{} {} {} {}",
                    query.id, metric.namespace, metric.name, metric.stat
                );
                if !metric.dimensions.is_empty() {
                    let dims: Vec<String> = metric
                        .dimensions
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    let _ = write!(text, " {{{}}}", dims.join(", "));
                }
                text
            }
            (None, None) => query.id.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the metric checks stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// Not enough measurements yet.
    Running {
        /// Passing measurements so far (each check counted up to its `count`).
        measured: u32,
        /// Passing measurements needed.
        needed: u32,
    },
    /// Every check has its `count` passing measurements.
    Passed,
    /// A check failed more than its `failure_limit`, or erred more than `consecutive_errors`
    /// in a row: roll back.
    Failed {
        /// The check.
        check: String,
        /// What an operator reads: check, condition, values, counts and query.
        reason: String,
    },
    /// A check found no data more than its `inconclusive_limit`: pause for an operator.
    Inconclusive {
        /// The check.
        check: String,
        /// What an operator reads.
        reason: String,
    },
}

/// The verdict of a bake's checks; queries in the reason are shown as written (placeholders
/// unexpanded) — [`verdict_in`] with the candidate's names expands them.
pub fn verdict(config: &AnalysisConfig, run: &AnalysisRun) -> Verdict {
    verdict_in(config, run, Phase::Bake, None)
}

/// The verdict of the checks after promotion (see [`Phase::AfterPromotion`]).
pub fn verdict_after_promotion(config: &AnalysisConfig, run: &AnalysisRun) -> Verdict {
    verdict_in(config, run, Phase::AfterPromotion, None)
}

/// The verdict of the checks measured in `phase`; the reason names the candidate's queries
/// with placeholders filled from `candidate` when given.
pub fn verdict_in(
    config: &AnalysisConfig,
    run: &AnalysisRun,
    phase: Phase,
    candidate: Option<&SideNames>,
) -> Verdict {
    let empty = CheckRun::default();
    let checks: Vec<(&String, &MetricCheck, &CheckRun)> = config
        .metrics
        .iter()
        .filter(|(_, check)| measurable(config, check, phase))
        .map(|(name, check)| (name, check, run.checks.get(name).unwrap_or(&empty)))
        .collect();
    let queries = |check: &MetricCheck| match candidate {
        Some(names) => describe_queries(&expand(&check.queries, names)),
        None => describe_queries(&check.queries),
    };
    for (name, check, state) in &checks {
        if state.failures > check.failure_limit {
            let last = state
                .measurements
                .iter()
                .rev()
                .find(|m| m.outcome == Outcome::Failure);
            let values = match last {
                Some(m) if m.result.is_some() => describe_values(m.result, m.baseline),
                Some(m) => m.detail.clone(),
                None => "no failing measurement kept".into(),
            };
            let reason = format!(
                "analysis {name} failed {} of {} measurements (failure_limit {}): {values} against condition \"{}\"; query {}",
                state.failures,
                state.measured(),
                check.failure_limit,
                check.success,
                queries(check),
            );
            return Verdict::Failed {
                check: (*name).clone(),
                reason: truncate(&reason, MAX_REASON),
            };
        }
        if state.errors_in_row > check.consecutive_errors {
            let last = state
                .measurements
                .iter()
                .rev()
                .find(|m| m.outcome == Outcome::Error)
                .map_or("", |m| m.detail.as_str());
            let reason = format!(
                "analysis {name} failed: {} query errors in a row (consecutive_errors {}): {last}; condition \"{}\"; query {}",
                state.errors_in_row,
                check.consecutive_errors,
                check.success,
                queries(check),
            );
            return Verdict::Failed {
                check: (*name).clone(),
                reason: truncate(&reason, MAX_REASON),
            };
        }
    }
    for (name, check, state) in &checks {
        if state.inconclusives > check.inconclusive_limit {
            let reason = format!(
                "analysis {name} inconclusive: no data in {} of {} measurements (inconclusive_limit {}); condition \"{}\"; query {}",
                state.inconclusives,
                state.measured(),
                check.inconclusive_limit,
                check.success,
                queries(check),
            );
            return Verdict::Inconclusive {
                check: (*name).clone(),
                reason: truncate(&reason, MAX_REASON),
            };
        }
    }
    let needed: u32 = checks.iter().map(|(_, check, _)| check.count).sum();
    let measured: u32 = checks
        .iter()
        .map(|(_, check, state)| state.successes.min(check.count))
        .sum();
    if measured >= needed {
        Verdict::Passed
    } else {
        Verdict::Running { measured, needed }
    }
}

#[cfg(test)]
mod tests;
