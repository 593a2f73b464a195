//! Metric analysis of a deployment: named CloudWatch `GetMetricData` queries judged by a
//! success condition on every bake invocation (Argo Rollouts' analysis runs), and a
//! canary-vs-baseline judge (Kayenta's Mann-Whitney classification) over the bake window.
//!
//! This module holds the configuration; the rules that read it are in its submodules:
//! - [`condition`]: the success condition's grammar and evaluation.
//! - [`measure`]: which checks are due, what to ask CloudWatch, how a measurement counts and
//!   the verdict of an analysis run.
//! - [`mannwhitney`]: the Mann-Whitney U test (scipy's figures).
//! - [`judgement`]: what the judge answers (kept apart so the run can store it).
//! - [`judge`]: the canary-vs-baseline judge and what a judgement does to the step.

use std::collections::BTreeMap;

pub mod condition;
pub mod judge;
pub mod judgement;
pub mod mannwhitney;
pub mod measure;

pub use condition::{Condition, ConditionError};
pub use judge::{
    after_judgement, judge, judge_requests, Classification, JudgeOutcome, JudgeVerdict, Judgement,
    MetricJudgement,
};
pub use mannwhitney::{mann_whitney_u, MannWhitney};
pub use measure::{
    due, due_after_promotion, expand, record, requests, verdict, verdict_after_promotion,
    AnalysisRun, CheckRun, Measurement, MetricRequest, Outcome, Phase, Series, Side, SideNames,
    Verdict,
};

use serde::{Deserialize, Serialize};

/// `deploy.analysis`: what is measured while a deployment bakes (and, after promotion, during
/// its rollback window).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Named metric checks, each judged on its own by its success condition.
    #[serde(default)]
    pub metrics: BTreeMap<String, MetricCheck>,
    /// The canary-vs-baseline judge, run once a bake has lasted its time.
    #[serde(default)]
    pub judge: Option<JudgeConfig>,
    /// Whether the metric checks keep running during the rollback window after promotion
    /// (conditions that read `baseline` are skipped then: the old version has no traffic).
    #[serde(default = "yes")]
    pub post_promotion: bool,
}

fn yes() -> bool {
    true
}

/// One named metric check.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricCheck {
    /// `GetMetricData` queries (metric math allowed). `{color}`, `{service}` and `{target}` are
    /// replaced with the measured side's color, ECS service and target value, so one query reads
    /// the candidate (`result`) and, when the condition names `baseline`, the stable side.
    pub queries: Vec<MetricQuery>,
    /// The success condition, e.g. `result < 0.01` or `result <= baseline * 1.2`.
    pub success: String,
    /// Seconds between two measurements (and the window each one reads).
    #[serde(default = "default_interval")]
    pub interval_seconds: u32,
    /// Measurements a bake needs before it may end.
    #[serde(default = "default_count")]
    pub count: u32,
    /// Failed measurements tolerated; one more fails the deployment.
    #[serde(default)]
    pub failure_limit: u32,
    /// Query errors in a row tolerated; one more fails the deployment.
    #[serde(default = "default_consecutive_errors")]
    pub consecutive_errors: u32,
    /// What a measurement with no data is.
    #[serde(default)]
    pub inconclusive: Inconclusive,
    /// Inconclusive measurements tolerated; one more pauses the deployment for an operator.
    #[serde(default)]
    pub inconclusive_limit: u32,
}

fn default_interval() -> u32 {
    60
}
fn default_count() -> u32 {
    3
}
fn default_consecutive_errors() -> u32 {
    2
}

/// What a measurement that found no data counts as ("no data is not a pass unless said so").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Inconclusive {
    /// Inconclusive (the default): counted against `inconclusive_limit`.
    #[default]
    Inconclusive,
    /// A pass.
    Pass,
    /// A failure.
    Fail,
}

/// One `GetMetricData` query, in the API's own shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricQuery {
    /// The query's id (lowercase first letter, as CloudWatch requires).
    pub id: String,
    /// A metric math expression over other queries' ids.
    #[serde(default)]
    pub expression: Option<String>,
    /// A metric and statistic.
    #[serde(default)]
    pub metric: Option<MetricStat>,
    /// Whether this query's values are the result (default: the last query's are).
    #[serde(default)]
    pub return_data: Option<bool>,
    /// A label.
    #[serde(default)]
    pub label: Option<String>,
}

/// A metric and the statistic read from it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricStat {
    /// Namespace, e.g. `AWS/ApplicationELB`.
    pub namespace: String,
    /// Metric name.
    pub name: String,
    /// Dimensions (placeholders allowed in values).
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// Statistic (`Sum`, `Average`, `p99`, …).
    #[serde(default = "default_stat")]
    pub stat: String,
    /// Period in seconds.
    #[serde(default = "default_period")]
    pub period_seconds: u32,
    /// Unit filter.
    #[serde(default)]
    pub unit: Option<String>,
}

fn default_stat() -> String {
    "Average".to_owned()
}
fn default_period() -> u32 {
    60
}

/// The canary-vs-baseline judge.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// Metrics compared, each read for the candidate and the stable side over the bake window.
    pub metrics: BTreeMap<String, JudgeMetric>,
    /// Confidence of the Mann-Whitney U test (a difference is significant when p < 1 −
    /// confidence).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Relative difference of medians tolerated even when significant.
    #[serde(default = "default_effect_size")]
    pub effect_size: f64,
    /// Score (0–100) at and above which the candidate passes.
    #[serde(default = "default_pass_score")]
    pub pass_score: f64,
    /// Score at and above which (below `pass_score`) the candidate is marginal: the step is
    /// held for another bake.
    #[serde(default = "default_marginal_score")]
    pub marginal_score: f64,
    /// Marginal verdicts in a row that hold the step; one more fails the deployment.
    #[serde(default = "default_max_holds")]
    pub max_holds: u32,
    /// Samples per side below which a metric has no data.
    #[serde(default = "default_min_samples")]
    pub min_samples: usize,
}

fn default_confidence() -> f64 {
    0.98
}
fn default_effect_size() -> f64 {
    0.25
}
fn default_pass_score() -> f64 {
    95.0
}
fn default_marginal_score() -> f64 {
    75.0
}
fn default_max_holds() -> u32 {
    2
}
fn default_min_samples() -> usize {
    3
}

/// One metric of the judge.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeMetric {
    /// The queries (placeholders as in [`MetricCheck::queries`]).
    pub queries: Vec<MetricQuery>,
    /// Which way is bad.
    #[serde(default)]
    pub direction: Direction,
    /// Weight in the score.
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// A critical metric that fails fails the deployment whatever the score.
    #[serde(default)]
    pub critical: bool,
}

fn default_weight() -> f64 {
    1.0
}

/// Which way a metric's change is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher on the candidate is bad (errors, latency).
    #[default]
    Increase,
    /// Lower on the candidate is bad (throughput, successes).
    Decrease,
    /// Any significant difference is bad.
    Either,
}
