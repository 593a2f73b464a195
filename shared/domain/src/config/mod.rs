//! The suite configuration: one YAML file shared by every function (`infra/config/suite.yaml`).
//!
//! The model is strict (`deny_unknown_fields` everywhere) so a typo is an error, not a silently
//! ignored setting. [`parse`] returns either a valid [`SuiteConfig`] or *every* error found, each
//! with its path and a hint. [`validate()`] applies the same rules to a configuration built or
//! changed in code (overrides), without a YAML round trip.

mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use validate::{
    parse, validate, ConfigError, ConfigErrors, MAX_ERROR_HINT, MAX_ERROR_MESSAGE, MAX_ERROR_PATH,
    MAX_LISTED_ERRORS,
};

use crate::severity::Severity;

/// The whole suite configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteConfig {
    /// Schema version of this file; only `1` exists.
    pub version: u32,
    /// Notification channels and which severities go to which channel.
    #[serde(default)]
    pub notifications: Notifications,
    /// Services the suite deploys and protects, by name.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceConfig>,
    /// Which alarms guard which services.
    #[serde(default)]
    pub alarms: Vec<AlarmRoute>,
    /// cost-check: where cost data comes from, budgets and anomaly detection.
    #[serde(default)]
    pub cost: Option<CostConfig>,
    /// deploy-hook: deployment windows by name (services refer to one with `deploy.window`).
    #[serde(default)]
    pub windows: BTreeMap<String, WindowConfig>,
    /// backup: backup plans by name.
    #[serde(default)]
    pub backup: BackupConfig,
    /// Who may act on the suite from chat (Slack buttons), and with which role.
    #[serde(default)]
    pub operators: Operators,
}

/// People who may act on the suite from outside the AWS account's own access control: today,
/// Slack users pressing a notification's buttons. Nobody is listed by default, and a Slack
/// user who is not listed has no role: every request of theirs is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Operators {
    /// Slack user id (`U012AB3CD`; `W…` on Enterprise Grid; in Slack: profile → ⋮ → Copy
    /// member ID) to its role. A user id, not a name or email: those can be changed by the
    /// user, the id cannot.
    #[serde(default)]
    pub slack_users: BTreeMap<String, Role>,
}

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read status, history, reports.
    Viewer,
    /// Everything a viewer may, and the operator commands (pause, resume, promote, abort,
    /// rollback, restore).
    Operator,
}

impl Role {
    /// The role's name as the config and the API write it (`operator`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// The role of Slack user `user_id` in `config`; `None` for a user the config does not list
/// (refused).
pub fn role_of(config: &SuiteConfig, user_id: &str) -> Option<Role> {
    config.operators.slack_users.get(user_id).copied()
}

/// A deployment window: the UTC hours in which deploy-hook may start a deployment.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Opening time, `HH:MM` UTC.
    pub start: String,
    /// Closing time, `HH:MM` UTC; before `start` means the window spans midnight.
    pub end: String,
    /// Weekdays the window opens on (`mon` … `sun`); empty means every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// What a deployment started outside the window does.
    #[serde(default = "default_outside")]
    pub outside: OutsideWindow,
}

/// What a deployment started outside its window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutsideWindow {
    /// Keep the pipeline job waiting (continuation) until the window opens.
    Wait,
    /// Fail the pipeline job.
    Fail,
}

fn default_outside() -> OutsideWindow {
    OutsideWindow::Wait
}

/// How deploy-hook rolls out a service (every field has a default).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// Container whose image is replaced; default: the task definition's only (or first
    /// essential) container.
    #[serde(default)]
    pub container: Option<String>,
    /// Name of a deployment window in `windows`.
    #[serde(default)]
    pub window: Option<String>,
    /// Canary: percent of traffic on the new version per step, increasing, ending at 100.
    #[serde(default = "default_canary_steps")]
    pub canary_steps: Vec<u8>,
    /// Linear: percent added per step.
    #[serde(default = "default_step_percent")]
    pub step_percent: u8,
    /// Bake time of every traffic step (canary, linear interval, blue/green after the switch);
    /// at least twice the record TTL.
    #[serde(default = "default_bake_seconds")]
    pub bake_seconds: u32,
    /// How long the old version is kept warm after promotion.
    #[serde(default = "default_rollback_window_seconds")]
    pub rollback_window_seconds: u32,
    /// How long an ECS deployment may take to reach COMPLETED before the job fails.
    #[serde(default = "default_stabilize_timeout_seconds")]
    pub stabilize_timeout_seconds: u32,
    /// Alarms gating every bake step (names or globs); default: the `alarms` routes that guard
    /// this service.
    #[serde(default)]
    pub alarms: Option<Vec<String>>,
    /// HTTP checks of the new version before it gets traffic.
    #[serde(default)]
    pub health_checks: Vec<HealthCheckConfig>,
    /// Smoke-test URLs (GET, any 2xx passes), after the health checks.
    #[serde(default)]
    pub smoke_tests: Vec<String>,
    /// Environment variables the container must define.
    #[serde(default)]
    pub required_env: Vec<String>,
    /// What a deployment does while another one holds the service.
    #[serde(default = "default_on_busy")]
    pub on_busy: OnBusy,
    /// Metric analysis while baking (and after promotion).
    #[serde(default)]
    pub analysis: Option<crate::deploy::analysis::AnalysisConfig>,
    /// Lifecycle hooks.
    #[serde(default)]
    pub hooks: crate::deploy::hooks::HooksConfig,
    /// ECS deploys this service natively (blue/green, linear or canary behind a load balancer)
    /// and invokes deploy-hook as its lifecycle hook: analysis may then compare the new revision
    /// with the one serving production (`baseline` conditions, the judge).
    #[serde(default)]
    pub ecs_lifecycle_hooks: bool,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            container: None,
            window: None,
            canary_steps: default_canary_steps(),
            step_percent: default_step_percent(),
            bake_seconds: default_bake_seconds(),
            rollback_window_seconds: default_rollback_window_seconds(),
            stabilize_timeout_seconds: default_stabilize_timeout_seconds(),
            alarms: None,
            health_checks: Vec::new(),
            smoke_tests: Vec::new(),
            required_env: Vec::new(),
            on_busy: default_on_busy(),
            analysis: None,
            hooks: crate::deploy::hooks::HooksConfig::default(),
            ecs_lifecycle_hooks: false,
        }
    }
}

/// What a deployment does while another deployment holds the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBusy {
    /// Keep the job waiting (continuation) and start once the other one is done.
    Wait,
    /// Fail the job at once.
    Fail,
}

fn default_on_busy() -> OnBusy {
    OnBusy::Wait
}
fn default_canary_steps() -> Vec<u8> {
    vec![10, 50, 100]
}
fn default_step_percent() -> u8 {
    20
}
fn default_bake_seconds() -> u32 {
    300
}
fn default_rollback_window_seconds() -> u32 {
    3600
}
fn default_stabilize_timeout_seconds() -> u32 {
    1800
}

/// One HTTP health check. `{target}` and `{value}` in the URL are replaced with the new
/// version's target name (color) and record value.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// URL (http or https).
    pub url: String,
    /// Expected HTTP status.
    #[serde(default = "default_expected_status")]
    pub expected_status: u16,
    /// Text the body must contain.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Timeout of one attempt, in milliseconds.
    #[serde(default = "default_check_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts after the first before the check fails.
    #[serde(default = "default_check_retries")]
    pub retries: u32,
}

fn default_expected_status() -> u16 {
    200
}
fn default_check_timeout_ms() -> u64 {
    2000
}
fn default_check_retries() -> u32 {
    2
}

/// cost-check settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// Where the cost data comes from.
    pub source: CostSource,
    /// Which cost column to analyse.
    #[serde(default = "default_metric")]
    pub metric: CostMetric,
    /// Dimensions costs are broken down by: `provider`, `billing_account`, `sub_account`,
    /// `service`, `region`, `tag:<key>`.
    #[serde(default = "default_dimensions")]
    pub dimensions: Vec<String>,
    /// Days read back from the latest complete day (the anomaly baseline needs 5 weeks).
    #[serde(default = "default_history_days")]
    pub history_days: u32,
    /// Past days re-evaluated every run, so restated data opens or resolves alerts.
    #[serde(default = "default_lookback_days")]
    pub lookback_days: u32,
    /// An export whose latest charge is older than this many hours is itself an alert.
    #[serde(default = "default_freshness_hours")]
    pub freshness_hours: u32,
    /// What an unreadable file does: fail the run, or mark the report incomplete.
    #[serde(default = "default_on_unreadable")]
    pub on_unreadable: OnUnreadable,
    /// Anomaly detection.
    #[serde(default)]
    pub anomalies: AnomalyConfig,
    /// Budgets, checked on actual and forecast month-end cost.
    #[serde(default)]
    pub budgets: Vec<BudgetConfig>,
    /// Key prefix of the reports in the state bucket.
    #[serde(default = "default_report_prefix")]
    pub report_prefix: String,
}

/// Where cost data comes from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CostSource {
    /// FinOps FOCUS 1.x exports (any cloud): every `.csv`, `.csv.gz` and `.parquet` under a prefix.
    Focus {
        /// Bucket of the export.
        bucket: String,
        /// Key prefix of the export.
        #[serde(default)]
        prefix: String,
    },
    /// AWS CUR 2.0 Data Exports, read through their manifests.
    Cur2 {
        /// Bucket of the export.
        bucket: String,
        /// The export's S3 prefix (before `<export name>/`).
        #[serde(default)]
        prefix: String,
        /// The export's name.
        export_name: String,
    },
    /// The Cost Explorer API, for accounts without an export.
    CostExplorer {
        /// Cost Explorer dimensions to group by (at most 2: `SERVICE`, `LINKED_ACCOUNT`, `REGION`…).
        #[serde(default = "default_ce_group_by")]
        group_by: Vec<String>,
    },
}

/// Which cost column to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostMetric {
    /// FOCUS EffectiveCost (amortized).
    EffectiveCost,
    /// FOCUS BilledCost.
    BilledCost,
    /// CUR / Cost Explorer unblended cost.
    UnblendedCost,
    /// CUR / Cost Explorer net unblended cost.
    NetUnblendedCost,
}

/// What an unreadable export file does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnreadable {
    /// Fail the run (no report, no alerts from partial data).
    Fail,
    /// Skip the file and mark the report incomplete.
    MarkIncomplete,
}

/// Anomaly detection settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyConfig {
    /// Scope dimensions anomalies are detected per.
    #[serde(default = "default_anomaly_by")]
    pub by: Vec<String>,
    /// Weeks of same-weekday history in the baseline.
    #[serde(default = "default_baseline_weeks")]
    pub baseline_weeks: u32,
    /// Robust z-score above which a day is anomalous.
    #[serde(default = "default_z_threshold")]
    pub z_threshold: f64,
    /// Dollar floor: smaller deviations are never anomalies.
    #[serde(default = "default_min_impact")]
    pub min_impact: f64,
    /// Impact from which an anomaly is critical rather than a warning.
    #[serde(default = "default_critical_impact")]
    pub critical_impact: f64,
    /// Contributors listed per anomaly.
    #[serde(default = "default_top_contributors")]
    pub top_contributors: usize,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            by: default_anomaly_by(),
            baseline_weeks: default_baseline_weeks(),
            z_threshold: default_z_threshold(),
            min_impact: default_min_impact(),
            critical_impact: default_critical_impact(),
            top_contributors: default_top_contributors(),
        }
    }
}

/// One budget.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Name, unique among budgets.
    pub name: String,
    /// Monthly amount.
    pub monthly: f64,
    /// Optional daily limit.
    #[serde(default)]
    pub daily: Option<f64>,
    /// Currency of the amounts (checked against the data).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Which costs count: dimension to allowed values (empty: everything).
    #[serde(default)]
    pub filter: BTreeMap<String, Vec<String>>,
    /// Alert thresholds.
    #[serde(default = "default_thresholds")]
    pub thresholds: Vec<ThresholdConfig>,
}

/// One budget threshold: on actual or forecast cost, in percent of the budget or absolute.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    /// `actual` or `forecast`.
    pub basis: ThresholdBasis,
    /// Percent of the monthly budget.
    #[serde(default)]
    pub percent: Option<f64>,
    /// Absolute amount.
    #[serde(default)]
    pub absolute: Option<f64>,
}

/// What a threshold compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdBasis {
    /// Month-to-date cost.
    Actual,
    /// Forecast month-end cost.
    Forecast,
}

fn default_metric() -> CostMetric {
    CostMetric::EffectiveCost
}
fn default_dimensions() -> Vec<String> {
    ["provider", "sub_account", "service", "region"]
        .map(String::from)
        .to_vec()
}
fn default_history_days() -> u32 {
    42
}
fn default_lookback_days() -> u32 {
    3
}
fn default_freshness_hours() -> u32 {
    36
}
fn default_on_unreadable() -> OnUnreadable {
    OnUnreadable::Fail
}
fn default_report_prefix() -> String {
    "reports/cost".into()
}
fn default_ce_group_by() -> Vec<String> {
    vec!["SERVICE".into()]
}
fn default_anomaly_by() -> Vec<String> {
    vec!["service".into()]
}
fn default_baseline_weeks() -> u32 {
    4
}
fn default_z_threshold() -> f64 {
    3.5
}
fn default_min_impact() -> f64 {
    50.0
}
fn default_critical_impact() -> f64 {
    500.0
}
fn default_top_contributors() -> usize {
    3
}
fn default_currency() -> String {
    "USD".into()
}
fn default_thresholds() -> Vec<ThresholdConfig> {
    vec![
        ThresholdConfig {
            basis: ThresholdBasis::Actual,
            percent: Some(80.0),
            absolute: None,
        },
        ThresholdConfig {
            basis: ThresholdBasis::Actual,
            percent: Some(100.0),
            absolute: None,
        },
        ThresholdConfig {
            basis: ThresholdBasis::Forecast,
            percent: Some(100.0),
            absolute: None,
        },
    ]
}

/// Dimension names cost data can be broken down by (besides `tag:<key>`).
pub const COST_DIMENSIONS: [&str; 5] = [
    "provider",
    "billing_account",
    "sub_account",
    "service",
    "region",
];

/// Notification channels and routing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Channels by name.
    #[serde(default)]
    pub channels: BTreeMap<String, Channel>,
    /// Severity to the channel names that receive it.
    #[serde(default)]
    pub routes: BTreeMap<Severity, Vec<String>>,
}

/// One notification channel. Its endpoint and key are in a Secrets Manager secret, never here.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// What kind of endpoint this is.
    pub kind: ChannelKind,
    /// Name or ARN of the Secrets Manager secret that holds the endpoint (and key).
    pub secret: String,
}

/// Kinds of notification channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Slack incoming webhook; the secret is the webhook URL.
    Slack,
    /// Generic JSON webhook signed with HMAC-SHA256; the secret is `{"url", "signing_key"}`.
    Webhook,
    /// PagerDuty Events API v2; the secret is `{"routing_key", "url"?}`.
    Pagerduty,
    /// Email through Amazon SES (API v2 `SendEmail`); the secret is
    /// `{"from", "to": [...], "cc"?: [...]}`, `from` being an SES identity.
    Email,
}

/// How a service is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Replace every task at once.
    AllAtOnce,
    /// ECS rolling update with the deployment circuit breaker.
    Rolling,
    /// Deploy to the idle color, then move all traffic to it.
    BlueGreen,
    /// Shift traffic in configured steps with a bake time per step.
    Canary,
    /// Shift a fixed percentage every interval.
    Linear,
}

impl Strategy {
    /// Every strategy, in the order documentation lists them.
    pub const ALL: [Strategy; 5] = [
        Strategy::AllAtOnce,
        Strategy::Rolling,
        Strategy::BlueGreen,
        Strategy::Canary,
        Strategy::Linear,
    ];

    /// Whether the strategy moves traffic between two targets with Route53 weights.
    pub fn shifts_traffic(self) -> bool {
        matches!(
            self,
            Strategy::BlueGreen | Strategy::Canary | Strategy::Linear
        )
    }
}

/// One service the suite deploys and protects.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// ECS cluster name.
    pub cluster: String,
    /// Deployment strategy.
    pub strategy: Strategy,
    /// The ECS service, for strategies that update one service in place (`all_at_once`,
    /// `rolling`).
    #[serde(default)]
    pub ecs_service: Option<String>,
    /// Route53 weighted traffic between two targets, for `blue_green`, `canary` and `linear`.
    #[serde(default)]
    pub traffic: Option<TrafficConfig>,
    /// deploy-hook settings: steps, bake time, gates, health checks.
    #[serde(default)]
    pub deploy: DeployConfig,
}

/// A Route53 weighted record set pair that carries a service's traffic.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    /// Hosted zone id (`Z…`); give this or `zone_name`.
    #[serde(default)]
    pub zone_id: Option<String>,
    /// Hosted zone DNS name (`example.com.`); give this or `zone_id`.
    #[serde(default)]
    pub zone_name: Option<String>,
    /// The record clients resolve (`api.example.com.`).
    pub record_name: String,
    /// Record type of the weighted records.
    #[serde(default = "default_record_type")]
    pub record_type: RecordType,
    /// TTL of the weighted records, in seconds.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// The targets (colors) by name; the name is the records' `SetIdentifier`.
    pub targets: BTreeMap<String, TargetConfig>,
}

/// Record types that weighted routing is used with here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum RecordType {
    /// IPv4 address or alias.
    A,
    /// IPv6 address or alias.
    #[serde(rename = "AAAA")]
    Aaaa,
    /// Canonical name.
    #[serde(rename = "CNAME")]
    Cname,
}

impl RecordType {
    /// The type as Route53 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
        }
    }
}

fn default_record_type() -> RecordType {
    RecordType::Cname
}

fn default_ttl() -> u32 {
    60
}

/// One traffic target (a color): the ECS service behind it and the record value pointing at it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The ECS service (in the service's cluster) that serves this target.
    pub ecs_service: String,
    /// The record value for this target (a DNS name for CNAME, an address for A/AAAA).
    pub value: String,
}

/// Which alarm guards which services.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRoute {
    /// Exact alarm name, or a glob with `*` and `?`.
    pub alarm: String,
    /// Services rolled back when this alarm goes into ALARM.
    pub services: Vec<String>,
    /// Severity of the notification sent for it.
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// Whether to roll back (`true`) or only notify (`false`).
    #[serde(default = "default_true")]
    pub rollback: bool,
}

fn default_severity() -> Severity {
    Severity::Critical
}

fn default_true() -> bool {
    true
}

impl SuiteConfig {
    /// The alarm routes whose pattern matches `alarm_name`, in file order.
    pub fn routes_for_alarm<'a>(
        &'a self,
        alarm_name: &'a str,
    ) -> impl Iterator<Item = &'a AlarmRoute> + 'a {
        self.alarms
            .iter()
            .filter(move |route| glob_matches(&route.alarm, alarm_name))
    }

    /// The alarm names or globs that gate a service's bake steps: its `deploy.alarms`, or else
    /// every alarm route that rolls it back.
    pub fn gate_alarms(&self, service: &str) -> Vec<String> {
        if let Some(alarms) = self
            .services
            .get(service)
            .and_then(|config| config.deploy.alarms.clone())
        {
            return alarms;
        }
        self.alarms
            .iter()
            .filter(|route| route.rollback && route.services.iter().any(|s| s == service))
            .map(|route| route.alarm.clone())
            .collect()
    }

    /// The channel names that receive a severity.
    pub fn channels_for(&self, severity: Severity) -> &[String] {
        self.notifications
            .routes
            .get(&severity)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// `text` cut to at most `max` bytes (at a character boundary) followed by how much was left
/// out: what an error may quote of its input. A value can be a whole file or a 1 MB event field;
/// an error that echoes it whole fills logs and responses (and may carry what it should not).
/// The adapters' `error::bounded` counts characters; this one counts bytes, since the domain
/// does not depend on the adapters.
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end)
}

/// Glob match with `*` and `?` (the alarm patterns are validated to compile).
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    if !pattern.contains(['*', '?', '[']) {
        return pattern == name;
    }
    globset::Glob::new(pattern)
        .map(|glob| glob.compile_matcher().is_match(name))
        .unwrap_or(false)
}

/// backup settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Backup plans by name; EventBridge Scheduler invokes the function once per plan and action.
    #[serde(default)]
    pub plans: BTreeMap<String, BackupPlanConfig>,
}

/// One backup plan: what to back up, when, where to, and for how long.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupPlanConfig {
    /// What the plan backs up.
    pub targets: BackupTargets,
    /// When each action runs.
    pub schedule: BackupSchedule,
    /// Which snapshots prune keeps (restic's `forget` policy).
    pub retention: crate::backup::retention::RetentionPolicy,
    /// Where snapshots are stored.
    pub destination: BackupDestination,
    /// Client-side encryption of secrets (required when the plan backs up secrets).
    #[serde(default)]
    pub encryption: Option<BackupEncryption>,
    /// Verification settings.
    #[serde(default)]
    pub verification: BackupVerification,
}

/// The targets of a backup plan; at least one is needed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupTargets {
    /// S3 prefixes.
    #[serde(default)]
    pub s3: Vec<S3BackupTarget>,
    /// Route53 hosted zones.
    #[serde(default)]
    pub route53: Vec<ZoneBackupTarget>,
    /// ECS clusters and their services.
    #[serde(default)]
    pub ecs: Vec<EcsBackupTarget>,
    /// Secrets Manager secrets, by name or ARN.
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// An S3 prefix to back up.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3BackupTarget {
    /// Source bucket.
    pub bucket: String,
    /// Key prefix (empty: the whole bucket).
    #[serde(default)]
    pub prefix: String,
    /// Whether snapshots keep each object's tags and restores set them (default `false`). Tags
    /// change without rewriting an object, so each backup reads every object's tags
    /// (`GetObjectTagging`, one request per object per run); without it tags are neither kept
    /// nor restored.
    #[serde(default)]
    pub tags: bool,
}

/// A Route53 hosted zone to back up.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneBackupTarget {
    /// Hosted zone id (`Z…`); give this or `zone_name`.
    #[serde(default)]
    pub zone_id: Option<String>,
    /// Hosted zone DNS name (`example.com.`); give this or `zone_id`.
    #[serde(default)]
    pub zone_name: Option<String>,
}

/// An ECS cluster whose services (and their task definitions) are backed up.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EcsBackupTarget {
    /// Cluster name or ARN.
    pub cluster: String,
    /// Service names; empty means every service of the cluster.
    #[serde(default)]
    pub services: Vec<String>,
    /// Revisions of each service's task definition family kept in a snapshot, counting the one
    /// in use (default 3).
    #[serde(default = "default_revisions")]
    pub revisions: u32,
}

fn default_revisions() -> u32 {
    3
}

/// EventBridge Scheduler expressions (`rate(…)`, `cron(…)`, `at(…)`) per action.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSchedule {
    /// When to take a snapshot.
    pub backup: String,
    /// When to verify the snapshots (cheap checks; deep sampling per `verification`).
    #[serde(default)]
    pub verify: Option<String>,
    /// When to apply retention and delete what it does not keep.
    #[serde(default)]
    pub prune: Option<String>,
}

/// Where a plan's snapshots are stored; another account or region is allowed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupDestination {
    /// Backup bucket.
    pub bucket: String,
    /// Key prefix in the backup bucket.
    #[serde(default)]
    pub prefix: String,
    /// The bucket's region, when it is not the function's.
    #[serde(default)]
    pub region: Option<String>,
    /// The bucket owner's account id, when it is another account (checked on every request
    /// with `ExpectedBucketOwner`).
    #[serde(default)]
    pub account: Option<String>,
}

/// Envelope encryption of secrets: a data key from KMS per snapshot, AES-256-GCM.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupEncryption {
    /// KMS key id, `alias/…` or key ARN.
    pub kms_key: String,
}

/// Verification settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupVerification {
    /// Percent of the objects a `verify` run reads back and re-hashes (0: only the cheap
    /// size and checksum checks, which download nothing).
    #[serde(default)]
    pub deep_sample_percent: f64,
    /// Restore drill for the plan's zones on every `verify`: each zone of the latest snapshot is
    /// restored into a scratch private hosted zone, compared record by record, and deleted.
    #[serde(default)]
    pub zone_drill: bool,
    /// The VPC the scratch private hosted zone is associated with (a private zone needs one).
    #[serde(default)]
    pub drill_vpc: Option<DrillVpc>,
}

/// A VPC for the restore drill's scratch private hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DrillVpc {
    /// VPC id (`vpc-…`).
    pub id: String,
    /// The VPC's region.
    pub region: String,
}

/// `HH:MM` as a time of day.
pub fn parse_hhmm(text: &str) -> Option<chrono::NaiveTime> {
    let (hours, minutes) = text.trim().split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    chrono::NaiveTime::from_hms_opt(hours.parse().ok()?, minutes.parse().ok()?, 0)
}

/// `mon` … `sun` (any case) as a weekday.
pub fn parse_day(text: &str) -> Option<chrono::Weekday> {
    match text.trim().to_ascii_lowercase().as_str() {
        "mon" => Some(chrono::Weekday::Mon),
        "tue" => Some(chrono::Weekday::Tue),
        "wed" => Some(chrono::Weekday::Wed),
        "thu" => Some(chrono::Weekday::Thu),
        "fri" => Some(chrono::Weekday::Fri),
        "sat" => Some(chrono::Weekday::Sat),
        "sun" => Some(chrono::Weekday::Sun),
        _ => None,
    }
}
