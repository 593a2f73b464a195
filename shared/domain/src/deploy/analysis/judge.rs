//! The canary-vs-baseline judge (Kayenta-style): each metric's candidate samples against the
//! stable side's over the bake window, classified by a two-sided Mann-Whitney U test and the
//! relative difference of medians, weighed into a score with pass and marginal thresholds.
//!
//! A metric is `High` (`Low`) when the difference is significant (p < 1 − confidence) and the
//! candidate's median exceeds the baseline's by more than `effect_size` (falls short by more).
//! It fails when that is the bad direction. Metrics without enough samples (or whose query
//! failed) are left out of the score; with no metric left the judgement is marginal — no data
//! is not a pass. A marginal judgement holds the step for another bake, at most `max_holds`
//! times in a row.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::judgement::{Classification, JudgeVerdict, Judgement, MetricJudgement};
use super::mannwhitney::mann_whitney_u;
use super::measure::{compact, expand, AnalysisRun, MetricRequest, Series, Side, SideNames};
use super::{Direction, JudgeConfig};
use crate::deploy::truncate;

/// Most characters of a judgement's summary and a failure's reason.
pub const MAX_SUMMARY: usize = 600;

/// What the deployment does after a judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum JudgeOutcome {
    /// Go on (holds reset).
    Pass,
    /// Marginal: bake the step again.
    Hold {
        /// Marginal judgements in a row, this one included.
        holds: u32,
    },
    /// Roll back.
    Fail {
        /// Score, thresholds and the failing metrics with medians, effect and p-value.
        reason: String,
    },
}

/// The `GetMetricData` calls of the judge: every metric, both sides, over `[start, end]` (the
/// bake window); `check` is the metric's name.
pub fn judge_requests(
    config: &JudgeConfig,
    candidate: &SideNames,
    baseline: &SideNames,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<MetricRequest> {
    config
        .metrics
        .iter()
        .flat_map(|(name, metric)| {
            [(Side::Candidate, candidate), (Side::Baseline, baseline)].map(|(side, names)| {
                MetricRequest {
                    check: name.clone(),
                    side,
                    queries: expand(&metric.queries, names),
                    start,
                    end,
                }
            })
        })
        .collect()
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The relative difference of medians; `None` when the baseline's is zero and the
/// candidate's is not (infinitely higher or lower).
fn effect_of(candidate: f64, baseline: f64) -> Option<f64> {
    if baseline == 0.0 {
        (candidate == 0.0).then_some(0.0)
    } else {
        Some((candidate - baseline) / baseline.abs())
    }
}

/// Judges the samples (metric name → (candidate, baseline)); a metric without an entry has no
/// data.
pub fn judge(config: &JudgeConfig, samples: &BTreeMap<String, (Series, Series)>) -> Judgement {
    let alpha = 1.0 - config.confidence;
    let metrics: Vec<MetricJudgement> = config
        .metrics
        .iter()
        .map(|(name, metric)| {
            let mut out = MetricJudgement {
                name: name.clone(),
                classification: Classification::NoData,
                p_value: None,
                candidate_median: None,
                baseline_median: None,
                effect: None,
                weight: metric.weight,
                critical: metric.critical,
                failed: false,
                error: None,
            };
            let Some((candidate, baseline)) = samples.get(name) else {
                return out;
            };
            let (candidate, baseline) = match (candidate, baseline) {
                (Ok(c), Ok(b)) => (finite(c), finite(b)),
                (Err(e), _) | (_, Err(e)) => {
                    out.classification = Classification::Error;
                    out.error = Some(truncate(e, 200));
                    return out;
                }
            };
            out.candidate_median = median(&candidate);
            out.baseline_median = median(&baseline);
            let enough = config.min_samples.max(1);
            if candidate.len() < enough || baseline.len() < enough {
                return out;
            }
            let (Some(c), Some(b)) = (out.candidate_median, out.baseline_median) else {
                return out;
            };
            out.effect = effect_of(c, b);
            out.p_value = mann_whitney_u(&candidate, &baseline).map(|t| t.p_value);
            let significant = out.p_value.is_some_and(|p| p < alpha);
            // An undefined effect (zero baseline median) is beyond any tolerance.
            let beyond = match out.effect {
                Some(e) => e.abs() > config.effect_size,
                None => true,
            };
            out.classification = if significant && beyond && c > b {
                Classification::High
            } else if significant && beyond && c < b {
                Classification::Low
            } else {
                Classification::Pass
            };
            out.failed = matches!(
                (metric.direction, out.classification),
                (
                    Direction::Increase | Direction::Either,
                    Classification::High
                ) | (Direction::Decrease | Direction::Either, Classification::Low)
            );
            out
        })
        .collect();

    let with_data = metrics.iter().filter(|m| has_data(m));
    let total: f64 = with_data.clone().map(|m| m.weight).sum();
    // Summed from 0.0: an empty f64 sum is -0.0.
    let passing: f64 = with_data
        .filter(|m| !m.failed)
        .fold(0.0, |sum, m| sum + m.weight);
    let any_data = metrics.iter().any(has_data);
    let score = if any_data && total > 0.0 {
        100.0 * passing / total
    } else {
        0.0
    };
    let critical = metrics.iter().find(|m| m.critical && m.failed);
    let verdict = if !any_data {
        JudgeVerdict::Marginal
    } else if critical.is_some() || score < config.marginal_score {
        JudgeVerdict::Fail
    } else if score < config.pass_score {
        JudgeVerdict::Marginal
    } else {
        JudgeVerdict::Pass
    };

    let mut summary = match verdict {
        JudgeVerdict::Pass => "judge pass",
        JudgeVerdict::Marginal => "judge marginal",
        JudgeVerdict::Fail => "judge fail",
    }
    .to_owned();
    if any_data {
        let _ = write!(
            summary,
            ": score {} (pass {}, marginal {})",
            compact(score),
            compact(config.pass_score),
            compact(config.marginal_score)
        );
    } else {
        summary.push_str(": no metric had data (no data is not a pass)");
    }
    if let Some(m) = critical {
        let _ = write!(summary, "; critical metric {} failed", m.name);
    }
    let failing: Vec<String> = metrics.iter().filter(|m| m.failed).map(describe).collect();
    if !failing.is_empty() {
        let _ = write!(summary, "; failing: {}", failing.join("; "));
    }
    let missing: Vec<String> = metrics
        .iter()
        .filter(|m| !has_data(m))
        .map(|m| match &m.error {
            Some(e) => format!("{} (error: {e})", m.name),
            None => format!("{} (no data)", m.name),
        })
        .collect();
    if !missing.is_empty() {
        let _ = write!(summary, "; not judged: {}", missing.join(", "));
    }
    Judgement {
        score,
        verdict,
        metrics,
        summary: truncate(&summary, MAX_SUMMARY),
    }
}

fn finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

fn has_data(m: &MetricJudgement) -> bool {
    matches!(
        m.classification,
        Classification::Pass | Classification::High | Classification::Low
    )
}

/// `latency higher: candidate median 0.31, baseline 0.2, effect +55%, p 0.0003`.
fn describe(m: &MetricJudgement) -> String {
    let direction = match m.classification {
        Classification::High => "higher",
        Classification::Low => "lower",
        _ => "",
    };
    let opt = |x: Option<f64>| x.map_or_else(|| "none".to_owned(), compact);
    let effect = match m.effect {
        Some(e) => format!("{}{}%", if e >= 0.0 { "+" } else { "" }, compact(e * 100.0)),
        None => "from zero".to_owned(),
    };
    format!(
        "{} {direction}: candidate median {}, baseline {}, effect {effect}, p {}",
        m.name,
        opt(m.candidate_median),
        opt(m.baseline_median),
        opt(m.p_value),
    )
}

/// The run with `judgement` recorded, and what the deployment does: go on (holds reset), hold
/// the step (a marginal judgement, at most `max_holds` in a row) or roll back (a failing
/// judgement, or one marginal judgement too many).
pub fn after_judgement(
    config: &JudgeConfig,
    run: &AnalysisRun,
    judgement: Judgement,
) -> (AnalysisRun, JudgeOutcome) {
    let mut next = run.clone();
    let outcome = match judgement.verdict {
        JudgeVerdict::Pass => {
            next.holds = 0;
            JudgeOutcome::Pass
        }
        JudgeVerdict::Marginal => {
            next.holds = run.holds.saturating_add(1);
            if next.holds <= config.max_holds {
                JudgeOutcome::Hold { holds: next.holds }
            } else {
                JudgeOutcome::Fail {
                    reason: truncate(
                        &format!(
                            "judge marginal {} times in a row (max_holds {}): {}",
                            next.holds, config.max_holds, judgement.summary
                        ),
                        MAX_SUMMARY,
                    ),
                }
            }
        }
        JudgeVerdict::Fail => JudgeOutcome::Fail {
            reason: judgement.summary.clone(),
        },
    };
    next.judgement = Some(judgement);
    (next, outcome)
}

#[cfg(test)]
mod tests;
