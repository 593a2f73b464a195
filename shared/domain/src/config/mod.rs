//! The suite configuration: one YAML file shared by every function (`infra/config/suite.yaml`).
//!
//! The model is strict (`deny_unknown_fields` everywhere) so a typo is an error, not a silently
//! ignored setting. [`parse`] returns either a valid [`SuiteConfig`] or *every* error found, each
//! with its path and a hint; see [`validate`].

mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use validate::{parse, ConfigError, ConfigErrors};

use crate::notify::Severity;

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
}

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

    /// The channel names that receive a severity.
    pub fn channels_for(&self, severity: Severity) -> &[String] {
        self.notifications
            .routes
            .get(&severity)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
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
