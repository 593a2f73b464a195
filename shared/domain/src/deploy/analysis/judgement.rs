//! What the baseline judge answers: a score, a verdict and each metric's comparison. Kept
//! apart from [`judge`](super::judge) so that the analysis run (which stores the last
//! judgement) and the judge (which updates the run) do not import each other.

use serde::{Deserialize, Serialize};

/// The judge's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgeVerdict {
    /// The score reached `pass_score` and no critical metric failed.
    Pass,
    /// The score reached `marginal_score` only, or no metric had data: hold the step.
    Marginal,
    /// Below `marginal_score`, or a critical metric failed.
    Fail,
}

/// How one metric compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// No significant difference beyond the tolerance.
    Pass,
    /// The candidate is significantly higher.
    High,
    /// The candidate is significantly lower.
    Low,
    /// Fewer than `min_samples` values on a side.
    NoData,
    /// A query failed.
    Error,
}

/// One metric's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricJudgement {
    /// The metric's name.
    pub name: String,
    /// How it compares.
    pub classification: Classification,
    /// The test's two-sided p-value.
    pub p_value: Option<f64>,
    /// Median of the candidate's samples.
    pub candidate_median: Option<f64>,
    /// Median of the baseline's samples.
    pub baseline_median: Option<f64>,
    /// candidate median / baseline median − 1 (undefined for a zero baseline median and a
    /// non-zero candidate one).
    pub effect: Option<f64>,
    /// Weight in the score.
    pub weight: f64,
    /// Whether its failure fails the deployment whatever the score.
    pub critical: bool,
    /// Whether the classification is the metric's bad direction.
    #[serde(default)]
    pub failed: bool,
    /// The query error, for [`Classification::Error`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The judge's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// 0–100: the weight of non-failing metrics with data over the weight of metrics with data.
    pub score: f64,
    /// The verdict.
    pub verdict: JudgeVerdict,
    /// Per metric, in name order.
    pub metrics: Vec<MetricJudgement>,
    /// What an operator reads.
    pub summary: String,
}
