//! Parsing and validation of the suite configuration, reporting every error with its path.
//!
//! serde stops at the first error, so the file is first read as a YAML tree and every item
//! (each service, each alarm route, each channel) is deserialized on its own: one bad service
//! does not hide the errors of the next. Rules that span items (a route naming a service that
//! does not exist, a strategy without the traffic it needs) run once every item has parsed.

mod analysis;

use std::fmt;

use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use super::{bounded, BackupConfig, BackupPlanConfig};
use super::{
    AlarmRoute, Channel, CostConfig, CostMetric, CostSource, Notifications, Operators,
    ServiceConfig, Strategy, SuiteConfig, WindowConfig, COST_DIMENSIONS,
};

/// Most bytes of a [`ConfigError`]'s path (a map key is the file's text, any length).
pub const MAX_ERROR_PATH: usize = 120;
/// Most bytes of a [`ConfigError`]'s message (long enough for every "expected one of" list of
/// the model; the values it quotes come from the file, any length).
pub const MAX_ERROR_MESSAGE: usize = 400;
/// Most bytes of a [`ConfigError`]'s hint.
pub const MAX_ERROR_HINT: usize = 240;
/// Most errors [`ConfigErrors`]' `Display` lists; the rest are counted.
pub const MAX_LISTED_ERRORS: usize = 50;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path to the offending value (`services.api.strategy`, `alarms[2].services[0]`).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something better to say than the message.
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(file)"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Every problem found in a configuration file; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration error(s):", self.0.len())?;
        for error in self.0.iter().take(MAX_LISTED_ERRORS) {
            writeln!(f, "  {error}")?;
        }
        if let Some(more) = self
            .0
            .len()
            .checked_sub(MAX_LISTED_ERRORS)
            .filter(|n| *n > 0)
        {
            writeln!(f, "  … and {more} more")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

const TOP_LEVEL: &[&str] = &[
    "version",
    "notifications",
    "services",
    "alarms",
    "cost",
    "windows",
    "backup",
    "operators",
];

/// Parses and validates a configuration file's text.
pub fn parse(text: &str) -> Result<SuiteConfig, ConfigErrors> {
    let mut errors = Errors::default();
    let root: Value = match serde_yaml_ng::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            errors.push("", format!("not valid YAML: {error}"), None);
            return Err(ConfigErrors(errors.0));
        }
    };
    let Value::Mapping(map) = &root else {
        errors.push(
            "",
            "expected a mapping at the top level".into(),
            Some("start with `version: 1`".into()),
        );
        return Err(ConfigErrors(errors.0));
    };
    for key in map.keys() {
        let name = key_name(key);
        if !TOP_LEVEL.contains(&name.as_str()) {
            errors.push(
                &name,
                format!("unknown field \"{name}\""),
                suggest(&name, TOP_LEVEL),
            );
        }
    }

    let version = match map.get("version") {
        Some(value) => section::<u32>(value, "version", &mut errors),
        None => {
            errors.push(
                "version",
                "missing field".into(),
                Some("add `version: 1` at the top".into()),
            );
            None
        }
    };
    // Reported here too, in file order, so that it is not lost when an item fails to parse.
    if let Some(version) = version {
        check_version(version, &mut errors);
    }

    let notifications = map
        .get("notifications")
        .map(|value| parse_notifications(value, &mut errors));
    let services = parse_map::<ServiceConfig>(map.get("services"), "services", &mut errors);
    let alarms = parse_list::<AlarmRoute>(map.get("alarms"), "alarms", &mut errors);
    let cost = match map.get("cost") {
        None | Some(Value::Null) => Some(None),
        Some(value) => section::<CostConfig>(value, "cost", &mut errors).map(Some),
    };

    let windows = parse_map::<WindowConfig>(map.get("windows"), "windows", &mut errors);
    let backup = parse_backup(map.get("backup"), &mut errors);
    let operators = match map.get("operators") {
        None | Some(Value::Null) => Some(Operators::default()),
        Some(value) => section::<Operators>(value, "operators", &mut errors),
    };
    let (
        Some(version),
        Some(notifications),
        Some(services),
        Some(alarms),
        Some(cost),
        Some(windows),
    ) = (
        version,
        notifications.unwrap_or(Some(Notifications::default())),
        services,
        alarms,
        cost,
        windows,
    )
    else {
        return Err(ConfigErrors(errors.0));
    };
    let (Some(backup), Some(operators)) = (backup, operators) else {
        return Err(ConfigErrors(errors.0));
    };
    let config = SuiteConfig {
        version,
        notifications,
        services,
        alarms,
        cost,
        windows,
        backup,
        operators,
    };
    if let Err(ConfigErrors(found)) = validate(&config) {
        for error in found {
            if !errors.0.contains(&error) {
                errors.0.push(error);
            }
        }
    }
    if errors.0.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors.0))
    }
}

/// Checks a configuration that did not come from a file — built in code, or a parsed one with
/// overrides applied — by the rules [`parse`] applies once every item has parsed: the version,
/// names, each service's shape and deploy settings, windows, alarm routes, channels and routes,
/// cost and backup settings. `Ok` means [`parse`] would accept the same configuration written
/// out; otherwise every problem is reported with its path, as [`parse`] reports them.
pub fn validate(config: &SuiteConfig) -> Result<(), ConfigErrors> {
    let mut errors = Errors::default();
    check_version(config.version, &mut errors);
    check_rules(config, &mut errors);
    if errors.0.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors.0))
    }
}

/// Only version 1 exists.
fn check_version(version: u32, errors: &mut Errors) {
    if version != 1 {
        errors.push(
            "version",
            format!("unsupported version {version}"),
            Some("this release reads version 1".into()),
        );
    }
}

#[derive(Default)]
struct Errors(Vec<ConfigError>);

impl Errors {
    /// Records an error, each part capped: paths, messages and hints quote the file's text.
    fn push(&mut self, path: &str, message: String, hint: Option<String>) {
        self.0.push(ConfigError {
            path: bounded(path, MAX_ERROR_PATH),
            message: bounded(&message, MAX_ERROR_MESSAGE),
            hint: hint.map(|hint| bounded(&hint, MAX_ERROR_HINT)),
        });
    }
}

fn key_name(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

/// Deserializes one item, recording its error (with the full path) instead of failing.
fn section<T: DeserializeOwned>(value: &Value, path: &str, errors: &mut Errors) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value.clone()) {
        Ok(item) => Some(item),
        Err(error) => {
            let inner = error.path().to_string();
            let full = match inner.as_str() {
                "" | "." => path.to_owned(),
                inner if inner.starts_with('[') => format!("{path}{inner}"),
                inner => format!("{path}.{inner}"),
            };
            let (message, hint) = explain(&error.into_inner().to_string());
            errors.push(&full, message, hint);
            None
        }
    }
}

fn parse_map<T: DeserializeOwned>(
    value: Option<&Value>,
    path: &str,
    errors: &mut Errors,
) -> Option<std::collections::BTreeMap<String, T>> {
    let mut out = std::collections::BTreeMap::new();
    match value {
        None | Some(Value::Null) => Some(out),
        Some(Value::Mapping(map)) => {
            let mut ok = true;
            for (key, item) in map {
                let name = key_name(key);
                match section::<T>(item, &format!("{path}.{name}"), errors) {
                    Some(parsed) => {
                        out.insert(name, parsed);
                    }
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        Some(_) => {
            errors.push(path, "expected a mapping of name to settings".into(), None);
            None
        }
    }
}

fn parse_list<T: DeserializeOwned>(
    value: Option<&Value>,
    path: &str,
    errors: &mut Errors,
) -> Option<Vec<T>> {
    match value {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Sequence(items)) => {
            let parsed: Vec<Option<T>> = items
                .iter()
                .enumerate()
                .map(|(i, item)| section::<T>(item, &format!("{path}[{i}]"), errors))
                .collect();
            parsed.into_iter().collect()
        }
        Some(_) => {
            errors.push(path, "expected a list".into(), None);
            None
        }
    }
}

fn parse_notifications(value: &Value, errors: &mut Errors) -> Option<Notifications> {
    let Value::Mapping(map) = value else {
        errors.push(
            "notifications",
            "expected a mapping with `channels` and `routes`".into(),
            None,
        );
        return None;
    };
    let mut ok = true;
    for key in map.keys() {
        let name = key_name(key);
        if !["channels", "routes"].contains(&name.as_str()) {
            errors.push(
                &format!("notifications.{name}"),
                format!("unknown field \"{name}\""),
                suggest(&name, &["channels", "routes"]),
            );
            ok = false;
        }
    }
    let channels = parse_map::<Channel>(map.get("channels"), "notifications.channels", errors);
    let routes = match map.get("routes") {
        None | Some(Value::Null) => Some(Default::default()),
        Some(routes) => section(routes, "notifications.routes", errors),
    };
    match (ok, channels, routes) {
        (true, Some(channels), Some(routes)) => Some(Notifications { channels, routes }),
        _ => None,
    }
}

/// Slack user ids: `U` (or `W` on Enterprise Grid) and at least two more capitals or digits.
fn valid_slack_user(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('U' | 'W'))
        && id.len() >= 3
        && id.len() <= 32
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn check_operators(operators: &Operators, errors: &mut Errors) {
    for id in operators.slack_users.keys() {
        if !valid_slack_user(id) {
            errors.push(
                &format!("operators.slack_users.{id}"),
                format!("\"{id}\" is not a Slack user id"),
                Some(
                    "use the member id (U012AB3CD, or W… on Enterprise Grid; in Slack: profile → \
                     ⋮ → Copy member ID), not a name or email"
                        .into(),
                ),
            );
        }
    }
}

/// Most bytes of a misspelt name quoted before the names expected instead.
const MAX_QUOTED: usize = 64;

/// Rewrites serde's messages into the product's wording and adds a "did you mean" hint.
fn explain(message: &str) -> (String, Option<String>) {
    let ticked: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let given = ticked.first().copied().unwrap_or(rest);
        let expected = &ticked[1.min(ticked.len())..];
        return (
            format!(
                "unknown value \"{}\", expected one of {}",
                bounded(given, MAX_QUOTED),
                quote_all(expected)
            ),
            suggest(given, expected),
        );
    }
    if message.starts_with("unknown field ") {
        let given = ticked.first().copied().unwrap_or_default();
        let expected = &ticked[1.min(ticked.len())..];
        return (
            format!(
                "unknown field \"{}\", expected one of {}",
                bounded(given, MAX_QUOTED),
                quote_all(expected)
            ),
            suggest(given, expected),
        );
    }
    if message.starts_with("missing field ") {
        let field = ticked.first().copied().unwrap_or_default();
        return (
            format!("missing field \"{field}\""),
            Some(format!("add `{field}:` here")),
        );
    }
    (message.to_owned(), None)
}

fn quote_all(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("\"{item}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "did you mean" for a near miss (edit distance at most a third of the word, and at least 1).
fn suggest(given: &str, candidates: &[&str]) -> Option<String> {
    // Edit distance is quadratic; names longer than this are no near miss of anything.
    const LONGEST: usize = 128;
    if given.len() > LONGEST {
        return None;
    }
    let limit = (given.chars().count() / 3).max(1);
    candidates
        .iter()
        .filter(|candidate| candidate.len() <= LONGEST)
        .map(|candidate| (edit_distance(given, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| format!("did you mean \"{candidate}\"?"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn check_rules(config: &SuiteConfig, errors: &mut Errors) {
    let service_names: Vec<&str> = config.services.keys().map(String::as_str).collect();
    let channel_names: Vec<&str> = config
        .notifications
        .channels
        .keys()
        .map(String::as_str)
        .collect();

    for (name, service) in &config.services {
        let path = format!("services.{name}");
        if !valid_name(name) {
            errors.push(
                &path,
                "service names use a-z, 0-9, - and _ (at most 64)".into(),
                None,
            );
        }
        if service.cluster.trim().is_empty() {
            errors.push(&format!("{path}.cluster"), "must not be empty".into(), None);
        }
        check_service_shape(&path, service, errors);
        check_deploy(&path, service, &config.windows, errors);
        analysis::check_analysis_and_hooks(&path, service, &config.backup.plans, errors);
    }
    for (name, window) in &config.windows {
        check_window(&format!("windows.{name}"), window, errors);
    }

    for (i, route) in config.alarms.iter().enumerate() {
        let path = format!("alarms[{i}]");
        if route.alarm.trim().is_empty() {
            errors.push(&format!("{path}.alarm"), "must not be empty".into(), None);
        } else if globset::Glob::new(&route.alarm).is_err() {
            errors.push(
                &format!("{path}.alarm"),
                format!("\"{}\" is not a valid glob", route.alarm),
                None,
            );
        }
        if route.services.is_empty() {
            errors.push(
                &format!("{path}.services"),
                "lists no service".into(),
                Some("name at least one service".into()),
            );
        }
        for (j, service) in route.services.iter().enumerate() {
            if !config.services.contains_key(service) {
                errors.push(
                    &format!("{path}.services[{j}]"),
                    format!(
                        "unknown service \"{service}\", expected one of {}",
                        quote_all(&service_names)
                    ),
                    suggest(service, &service_names),
                );
            }
        }
    }

    if let Some(cost) = &config.cost {
        check_cost(cost, errors);
    }
    for (name, plan) in &config.backup.plans {
        check_backup_plan(name, plan, errors);
    }

    check_operators(&config.operators, errors);

    for (name, channel) in &config.notifications.channels {
        if channel.secret.trim().is_empty() {
            errors.push(
                &format!("notifications.channels.{name}.secret"),
                "must not be empty".into(),
                Some("name the Secrets Manager secret that holds the endpoint".into()),
            );
        }
    }
    for (severity, channels) in &config.notifications.routes {
        for (j, channel) in channels.iter().enumerate() {
            if !config.notifications.channels.contains_key(channel) {
                errors.push(
                    &format!("notifications.routes.{}[{j}]", severity.as_str()),
                    format!(
                        "unknown channel \"{channel}\", expected one of {}",
                        quote_all(&channel_names)
                    ),
                    suggest(channel, &channel_names),
                );
            }
        }
    }
}

/// `x > 0`, and false for NaN (which YAML can spell `.nan`).
fn positive(x: f64) -> bool {
    x > 0.0
}

fn check_cost(cost: &CostConfig, errors: &mut Errors) {
    let mut seen = Vec::new();
    for (i, dimension) in cost.dimensions.iter().enumerate() {
        let path = format!("cost.dimensions[{i}]");
        let tag_ok = dimension
            .strip_prefix("tag:")
            .is_some_and(|key| !key.trim().is_empty());
        if !tag_ok && !COST_DIMENSIONS.contains(&dimension.as_str()) {
            errors.push(
                &path,
                format!(
                    "unknown dimension \"{dimension}\", expected one of {} or \"tag:<key>\"",
                    quote_all(&COST_DIMENSIONS)
                ),
                suggest(dimension, &COST_DIMENSIONS),
            );
        }
        if seen.contains(&dimension) {
            errors.push(&path, format!("\"{dimension}\" is listed twice"), None);
        }
        seen.push(dimension);
    }
    if cost.dimensions.is_empty() {
        errors.push(
            "cost.dimensions",
            "lists no dimension".into(),
            Some("e.g. [service, region]".into()),
        );
    }
    let dimensions: Vec<&str> = cost.dimensions.iter().map(String::as_str).collect();
    let (metrics_ok, expected): (bool, &[&str]) = match &cost.source {
        CostSource::Focus { .. } => (
            matches!(
                cost.metric,
                CostMetric::EffectiveCost | CostMetric::BilledCost
            ),
            &["effective_cost", "billed_cost"],
        ),
        CostSource::Cur2 { .. } | CostSource::CostExplorer { .. } => (
            matches!(
                cost.metric,
                CostMetric::UnblendedCost | CostMetric::NetUnblendedCost
            ),
            &["unblended_cost", "net_unblended_cost"],
        ),
    };
    if !metrics_ok {
        errors.push(
            "cost.metric",
            "does not exist in this source".into(),
            Some(format!("use one of {}", quote_all(expected))),
        );
    }
    match &cost.source {
        CostSource::Focus { bucket, .. } | CostSource::Cur2 { bucket, .. }
            if bucket.trim().is_empty() =>
        {
            errors.push("cost.source.bucket", "must not be empty".into(), None);
        }
        CostSource::Cur2 { export_name, .. } if export_name.trim().is_empty() => {
            errors.push("cost.source.export_name", "must not be empty".into(), None);
        }
        CostSource::CostExplorer { group_by } if group_by.len() > 2 => {
            errors.push(
                "cost.source.group_by",
                "Cost Explorer groups by at most 2 dimensions".into(),
                None,
            );
        }
        _ => {}
    }
    let needed = 7 * (cost.anomalies.baseline_weeks + 1);
    if cost.history_days < needed {
        errors.push(
            "cost.history_days",
            format!(
                "{} days cannot hold a {}-week baseline",
                cost.history_days, cost.anomalies.baseline_weeks
            ),
            Some(format!("use at least {needed}")),
        );
    }
    if cost.lookback_days == 0 || cost.lookback_days > cost.history_days {
        errors.push(
            "cost.lookback_days",
            format!("must be between 1 and history_days ({})", cost.history_days),
            None,
        );
    }
    if cost.freshness_hours == 0 {
        errors.push("cost.freshness_hours", "must be at least 1".into(), None);
    }
    let anomalies = &cost.anomalies;
    for (i, by) in anomalies.by.iter().enumerate() {
        if !cost.dimensions.contains(by) {
            errors.push(
                &format!("cost.anomalies.by[{i}]"),
                format!(
                    "\"{by}\" is not one of cost.dimensions ({})",
                    quote_all(&dimensions)
                ),
                suggest(by, &dimensions),
            );
        }
    }
    if !positive(anomalies.z_threshold) {
        errors.push(
            "cost.anomalies.z_threshold",
            "must be positive".into(),
            None,
        );
    }
    if !(positive(anomalies.min_impact) || anomalies.min_impact == 0.0)
        || anomalies.critical_impact < anomalies.min_impact
    {
        errors.push(
            "cost.anomalies",
            "needs 0 <= min_impact <= critical_impact".into(),
            None,
        );
    }
    if !(1..=10).contains(&anomalies.top_contributors) {
        errors.push(
            "cost.anomalies.top_contributors",
            "must be between 1 and 10".into(),
            None,
        );
    }
    let mut names = Vec::new();
    for (i, budget) in cost.budgets.iter().enumerate() {
        let path = format!("cost.budgets[{i}]");
        if budget.name.trim().is_empty() || names.contains(&&budget.name) {
            errors.push(
                &format!("{path}.name"),
                "must be non-empty and unique".into(),
                None,
            );
        }
        names.push(&budget.name);
        if !positive(budget.monthly) {
            errors.push(&format!("{path}.monthly"), "must be positive".into(), None);
        }
        if budget.daily.is_some_and(|daily| !positive(daily)) {
            errors.push(&format!("{path}.daily"), "must be positive".into(), None);
        }
        if budget.currency.len() != 3 || !budget.currency.chars().all(|c| c.is_ascii_uppercase()) {
            errors.push(
                &format!("{path}.currency"),
                format!("\"{}\" is not an ISO 4217 code", budget.currency),
                Some("e.g. USD".into()),
            );
        }
        for key in budget.filter.keys() {
            if !cost.dimensions.contains(key) {
                errors.push(
                    &format!("{path}.filter.{key}"),
                    format!(
                        "\"{key}\" is not one of cost.dimensions ({})",
                        quote_all(&dimensions)
                    ),
                    suggest(key, &dimensions),
                );
            }
        }
        for (j, threshold) in budget.thresholds.iter().enumerate() {
            let value = match (threshold.percent, threshold.absolute) {
                (Some(value), None) | (None, Some(value)) => value,
                _ => {
                    errors.push(
                        &format!("{path}.thresholds[{j}]"),
                        "needs exactly one of `percent` and `absolute`".into(),
                        None,
                    );
                    continue;
                }
            };
            if !positive(value) {
                errors.push(
                    &format!("{path}.thresholds[{j}]"),
                    "must be positive".into(),
                    None,
                );
            }
        }
    }
}

fn check_service_shape(path: &str, service: &ServiceConfig, errors: &mut Errors) {
    let strategy = serde_yaml_ng::to_string(&service.strategy).unwrap_or_default();
    let strategy = strategy.trim();
    if service.strategy.shifts_traffic() {
        match &service.traffic {
            None => errors.push(
                &format!("{path}.traffic"),
                format!("strategy \"{strategy}\" shifts traffic with Route53 and needs `traffic`"),
                Some(
                    "add `traffic:` with the zone, record and two targets, or use `rolling`".into(),
                ),
            ),
            Some(traffic) => {
                let tpath = format!("{path}.traffic");
                match (&traffic.zone_id, &traffic.zone_name) {
                    (None, None) => {
                        errors.push(&tpath, "needs `zone_id` or `zone_name`".into(), None)
                    }
                    (Some(_), Some(_)) => errors.push(
                        &tpath,
                        "gives both `zone_id` and `zone_name`".into(),
                        Some("keep one of them".into()),
                    ),
                    _ => {}
                }
                if traffic.record_name.trim().is_empty() {
                    errors.push(
                        &format!("{tpath}.record_name"),
                        "must not be empty".into(),
                        None,
                    );
                }
                if !(1..=86_400).contains(&traffic.ttl) {
                    errors.push(
                        &format!("{tpath}.ttl"),
                        format!("{} is outside 1..=86400 seconds", traffic.ttl),
                        None,
                    );
                }
                if traffic.targets.len() != 2 {
                    errors.push(
                        &format!("{tpath}.targets"),
                        format!(
                            "has {} target(s), expected exactly 2",
                            traffic.targets.len()
                        ),
                        Some("name two colors, e.g. `blue` and `green`".into()),
                    );
                }
                for (color, target) in &traffic.targets {
                    if color.is_empty() || color.len() > 128 {
                        errors.push(
                            &format!("{tpath}.targets.{color}"),
                            "set identifiers are 1 to 128 characters".into(),
                            None,
                        );
                    }
                    if target.ecs_service.trim().is_empty() || target.value.trim().is_empty() {
                        errors.push(
                            &format!("{tpath}.targets.{color}"),
                            "`ecs_service` and `value` must not be empty".into(),
                            None,
                        );
                    }
                }
            }
        }
        if service.ecs_service.is_some() {
            errors.push(
                &format!("{path}.ecs_service"),
                format!("strategy \"{strategy}\" deploys to the services under `traffic.targets`"),
                Some("move it to `traffic.targets.<color>.ecs_service`".into()),
            );
        }
    } else {
        if service
            .ecs_service
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
        {
            errors.push(
                &format!("{path}.ecs_service"),
                format!("strategy \"{strategy}\" updates one ECS service in place and needs `ecs_service`"),
                None,
            );
        }
        if service.traffic.is_some() {
            errors.push(
                &format!("{path}.traffic"),
                format!("strategy \"{strategy}\" does not shift traffic"),
                Some(format!(
                    "use one of {} or remove `traffic`",
                    quote_all(&["blue_green", "canary", "linear"])
                )),
            );
        }
    }
}

/// Rules of a service's `deploy` section.
fn check_deploy(
    path: &str,
    service: &ServiceConfig,
    windows: &std::collections::BTreeMap<String, WindowConfig>,
    errors: &mut Errors,
) {
    let deploy = &service.deploy;
    let dpath = format!("{path}.deploy");
    if service.strategy == Strategy::Canary {
        let steps = &deploy.canary_steps;
        let increasing = steps.windows(2).all(|pair| pair[0] < pair[1]);
        if steps.is_empty()
            || !increasing
            || steps.last() != Some(&100)
            || steps.first() == Some(&0)
        {
            errors.push(
                &format!("{dpath}.canary_steps"),
                format!("{steps:?} must increase from above 0 and end at 100"),
                Some("e.g. `[10, 50, 100]`".into()),
            );
        }
    }
    if service.strategy == Strategy::Linear && !(1..=100).contains(&deploy.step_percent) {
        errors.push(
            &format!("{dpath}.step_percent"),
            format!("{} is outside 1..=100", deploy.step_percent),
            None,
        );
    }
    if let Some(traffic) = service
        .traffic
        .as_ref()
        .filter(|_| service.strategy.shifts_traffic())
    {
        if u64::from(deploy.bake_seconds) < 2 * u64::from(traffic.ttl) {
            errors.push(
                &format!("{dpath}.bake_seconds"),
                format!(
                    "{} s is shorter than twice the record TTL ({} s)",
                    deploy.bake_seconds, traffic.ttl
                ),
                Some(
                    "resolvers cache the old weights for a TTL; bake at least 2 × ttl so \
                     the new weights carry real traffic before the step is judged"
                        .into(),
                ),
            );
        }
    }
    if let Some(window) = &deploy.window {
        if !windows.contains_key(window) {
            let names: Vec<&str> = windows.keys().map(String::as_str).collect();
            errors.push(
                &format!("{dpath}.window"),
                format!(
                    "unknown window \"{window}\", expected one of {}",
                    quote_all(&names)
                ),
                suggest(window, &names),
            );
        }
    }
    for (i, check) in deploy.health_checks.iter().enumerate() {
        if !(check.url.starts_with("http://") || check.url.starts_with("https://")) {
            errors.push(
                &format!("{dpath}.health_checks[{i}].url"),
                format!("\"{}\" is not an http(s) URL", check.url),
                None,
            );
        }
        if !(100..=599).contains(&check.expected_status) {
            errors.push(
                &format!("{dpath}.health_checks[{i}].expected_status"),
                format!("{} is not an HTTP status", check.expected_status),
                None,
            );
        }
    }
    for (i, url) in deploy.smoke_tests.iter().enumerate() {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            errors.push(
                &format!("{dpath}.smoke_tests[{i}]"),
                format!("\"{url}\" is not an http(s) URL"),
                None,
            );
        }
    }
}

/// Rules of one deployment window.
fn check_window(path: &str, window: &WindowConfig, errors: &mut Errors) {
    for (field, value) in [("start", &window.start), ("end", &window.end)] {
        if super::parse_hhmm(value).is_none() {
            errors.push(
                &format!("{path}.{field}"),
                format!("\"{value}\" is not a time of day"),
                Some("write `HH:MM` in UTC, e.g. `02:00`".into()),
            );
        }
    }
    for (i, day) in window.days.iter().enumerate() {
        if super::parse_day(day).is_none() {
            errors.push(
                &format!("{path}.days[{i}]"),
                format!("\"{day}\" is not a weekday"),
                Some("use mon, tue, wed, thu, fri, sat, sun".into()),
            );
        }
    }
}

/// The `backup` section: `plans`, each plan parsed on its own.
fn parse_backup(value: Option<&Value>, errors: &mut Errors) -> Option<BackupConfig> {
    let map = match value {
        None | Some(Value::Null) => return Some(BackupConfig::default()),
        Some(Value::Mapping(map)) => map,
        Some(_) => {
            errors.push(
                "backup",
                "expected a mapping with `plans`".into(),
                Some("write `backup:` then `plans:` with one entry per plan".into()),
            );
            return None;
        }
    };
    let mut ok = true;
    for key in map.keys() {
        let name = key_name(key);
        if name != "plans" {
            errors.push(
                &format!("backup.{name}"),
                format!("unknown field \"{name}\", expected \"plans\""),
                suggest(&name, &["plans"]),
            );
            ok = false;
        }
    }
    let plans = parse_map::<BackupPlanConfig>(map.get("plans"), "backup.plans", errors);
    match (ok, plans) {
        (true, Some(plans)) => Some(BackupConfig { plans }),
        _ => None,
    }
}

/// S3 bucket naming rules (general purpose buckets): 3 to 63 characters of a-z, 0-9, `.` and
/// `-`, beginning and ending with a letter or digit.
fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..")
}

fn check_bucket(path: &str, bucket: &str, errors: &mut Errors) {
    if !valid_bucket(bucket) {
        errors.push(
            path,
            format!("\"{bucket}\" is not an S3 bucket name"),
            Some("3 to 63 characters: a-z, 0-9, `.` and `-`, starting and ending with a letter or digit".into()),
        );
    }
}

/// An EventBridge Scheduler expression: `rate(n unit)`, `cron(6 fields)` or `at(timestamp)`.
fn check_schedule(path: &str, expression: &str, errors: &mut Errors) {
    let expression = expression.trim();
    let problem = if let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let parts: Vec<&str> = inner.split_whitespace().collect();
        match parts.as_slice() {
            [value, unit] => match value.parse::<u32>() {
                Ok(0) | Err(_) => Some(format!("\"{value}\" is not a positive whole number")),
                Ok(n) => {
                    let singular = ["minute", "hour", "day"].contains(unit);
                    let plural = ["minutes", "hours", "days"].contains(unit);
                    if !(singular || plural) {
                        Some(format!("unknown unit \"{unit}\" (minutes, hours or days)"))
                    } else if (n == 1) != singular {
                        Some(format!(
                            "write \"{n} {}\"",
                            if n == 1 {
                                unit.trim_end_matches('s').to_owned()
                            } else {
                                format!("{}s", unit.trim_end_matches('s'))
                            }
                        ))
                    } else {
                        None
                    }
                }
            },
            _ => Some("expected `rate(<value> <unit>)`".into()),
        }
    } else if let Some(inner) = expression
        .strip_prefix("cron(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            Some(format!(
                "has {} fields, expected 6 (minutes hours day-of-month month day-of-week year)",
                fields.len()
            ))
        } else if (fields[2] == "?") == (fields[4] == "?") {
            Some("exactly one of day-of-month and day-of-week must be `?`".into())
        } else {
            None
        }
    } else if let Some(inner) = expression
        .strip_prefix("at(")
        .and_then(|s| s.strip_suffix(')'))
    {
        chrono::NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S")
            .err()
            .map(|_| format!("\"{inner}\" is not yyyy-mm-ddThh:mm:ss"))
    } else {
        Some("expected `rate(…)`, `cron(…)` or `at(…)`".into())
    };
    if let Some(problem) = problem {
        errors.push(
            path,
            format!("\"{expression}\" is not a schedule expression: {problem}"),
            Some("e.g. `cron(0 3 * * ? *)` (03:00 UTC daily) or `rate(6 hours)`".into()),
        );
    }
}

/// A KMS key reference: key id, multi-Region key id, `alias/…` or a key or alias ARN.
fn valid_kms_key(key: &str) -> bool {
    let uuid = |s: &str| {
        s.len() == 36
            && s.char_indices().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    };
    let alias = |s: &str| {
        s.strip_prefix("alias/").is_some_and(|name| {
            !name.is_empty()
                && !name.starts_with("aws/")
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
        })
    };
    let mrk = |s: &str| {
        s.strip_prefix("mrk-")
            .is_some_and(|rest| rest.len() == 32 && rest.chars().all(|c| c.is_ascii_hexdigit()))
    };
    let arn = |s: &str| {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "kms"
            && (parts[5]
                .strip_prefix("key/")
                .is_some_and(|k| uuid(k) || mrk(k))
                || alias(parts[5]))
    };
    uuid(key) || mrk(key) || alias(key) || arn(key)
}

/// Rules of one backup plan.
fn check_backup_plan(name: &str, plan: &BackupPlanConfig, errors: &mut Errors) {
    let path = format!("backup.plans.{name}");
    if !valid_name(name) {
        errors.push(
            &path,
            "plan names use a-z, 0-9, - and _ (at most 64)".into(),
            Some("the name is part of the backup bucket keys and the schedule names".into()),
        );
    }
    let targets = &plan.targets;
    if targets.s3.is_empty()
        && targets.route53.is_empty()
        && targets.ecs.is_empty()
        && targets.secrets.is_empty()
    {
        errors.push(
            &format!("{path}.targets"),
            "names no target".into(),
            Some("add at least one of `s3`, `route53`, `ecs` or `secrets`".into()),
        );
    }
    for (i, target) in targets.s3.iter().enumerate() {
        let tpath = format!("{path}.targets.s3[{i}]");
        check_bucket(&format!("{tpath}.bucket"), &target.bucket, errors);
        if target.prefix.starts_with('/') {
            errors.push(
                &format!("{tpath}.prefix"),
                "must not start with `/`".into(),
                Some("S3 keys have no leading slash".into()),
            );
        }
        let destination = &plan.destination;
        if target.bucket == destination.bucket
            && (destination.prefix.starts_with(&target.prefix)
                || target.prefix.starts_with(&destination.prefix))
        {
            errors.push(
                &tpath,
                format!(
                    "overlaps the destination s3://{}/{}",
                    destination.bucket, destination.prefix
                ),
                Some("each backup would copy the previous ones; use another bucket or disjoint prefixes".into()),
            );
        }
    }
    // One object is one manifest entry: two targets that both list it must agree on what its
    // entry keeps.
    for (i, a) in targets.s3.iter().enumerate() {
        for (j, b) in targets.s3.iter().enumerate().skip(i + 1) {
            let nested = a.prefix.starts_with(&b.prefix) || b.prefix.starts_with(&a.prefix);
            if a.bucket == b.bucket && nested && a.tags != b.tags {
                errors.push(
                    &format!("{path}.targets.s3[{j}].tags"),
                    format!("disagrees with targets.s3[{i}], whose prefix overlaps it"),
                    Some(
                        "objects under both prefixes are backed up once: give both the same `tags`"
                            .into(),
                    ),
                );
            }
        }
    }
    for (i, zone) in targets.route53.iter().enumerate() {
        let zpath = format!("{path}.targets.route53[{i}]");
        match (&zone.zone_id, &zone.zone_name) {
            (None, None) => errors.push(&zpath, "needs `zone_id` or `zone_name`".into(), None),
            (Some(_), Some(_)) => errors.push(
                &zpath,
                "gives both `zone_id` and `zone_name`".into(),
                Some("keep one of them".into()),
            ),
            (Some(id), None) => {
                let id = id.strip_prefix("/hostedzone/").unwrap_or(id);
                if id.is_empty()
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                {
                    errors.push(
                        &format!("{zpath}.zone_id"),
                        format!("\"{id}\" is not a hosted zone id"),
                        Some("e.g. Z0123456789ABCDEFGHIJ".into()),
                    );
                }
            }
            (None, Some(zone_name)) => {
                if zone_name.trim().trim_end_matches('.').is_empty() {
                    errors.push(
                        &format!("{zpath}.zone_name"),
                        "must not be empty".into(),
                        None,
                    );
                }
            }
        }
    }
    for (i, ecs) in targets.ecs.iter().enumerate() {
        let epath = format!("{path}.targets.ecs[{i}]");
        if ecs.cluster.trim().is_empty() {
            errors.push(
                &format!("{epath}.cluster"),
                "must not be empty".into(),
                None,
            );
        }
        for (j, service) in ecs.services.iter().enumerate() {
            if service.trim().is_empty() {
                errors.push(
                    &format!("{epath}.services[{j}]"),
                    "must not be empty".into(),
                    Some("leave `services` out to back up every service of the cluster".into()),
                );
            }
        }
    }
    for (i, secret) in targets.secrets.iter().enumerate() {
        if secret.trim().is_empty() {
            errors.push(
                &format!("{path}.targets.secrets[{i}]"),
                "must not be empty".into(),
                Some("name a secret by name or ARN".into()),
            );
        }
    }

    let schedule = &plan.schedule;
    check_schedule(&format!("{path}.schedule.backup"), &schedule.backup, errors);
    for (action, expression) in [("verify", &schedule.verify), ("prune", &schedule.prune)] {
        if let Some(expression) = expression {
            check_schedule(&format!("{path}.schedule.{action}"), expression, errors);
        }
    }

    if plan.retention.is_empty() {
        errors.push(
            &format!("{path}.retention"),
            "keeps every snapshot: no `keep_*` rule is set".into(),
            Some("e.g. `keep_daily: 7`, `keep_weekly: 4`, `keep_monthly: 12`; write `keep_last: unlimited` to keep everything on purpose".into()),
        );
    }

    let destination = &plan.destination;
    let dpath = format!("{path}.destination");
    check_bucket(&format!("{dpath}.bucket"), &destination.bucket, errors);
    if destination.prefix.starts_with('/') {
        errors.push(
            &format!("{dpath}.prefix"),
            "must not start with `/`".into(),
            Some("S3 keys have no leading slash".into()),
        );
    }
    if let Some(region) = &destination.region {
        let parts: Vec<&str> = region.split('-').collect();
        let ok = parts.len() >= 3
            && parts[0].len() == 2
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            errors.push(
                &format!("{dpath}.region"),
                format!("\"{region}\" is not an AWS region"),
                Some("e.g. eu-west-1".into()),
            );
        }
    }
    if let Some(account) = &destination.account {
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            errors.push(
                &format!("{dpath}.account"),
                format!("\"{account}\" is not an AWS account id"),
                Some("12 digits, quoted so YAML keeps leading zeros: \"012345678901\"".into()),
            );
        }
    }

    match &plan.encryption {
        None if !targets.secrets.is_empty() => errors.push(
            &format!("{path}.encryption"),
            "is required: secrets are encrypted client-side before they are stored".into(),
            Some("add `encryption: { kms_key: alias/<name> }`".into()),
        ),
        Some(encryption) if !valid_kms_key(&encryption.kms_key) => errors.push(
            &format!("{path}.encryption.kms_key"),
            format!("\"{}\" is not a KMS key reference", encryption.kms_key),
            Some("use a key id, `alias/<name>` (not an `alias/aws/` managed key), or a key or alias ARN".into()),
        ),
        _ => {}
    }

    let percent = plan.verification.deep_sample_percent;
    if !(0.0..=100.0).contains(&percent) {
        errors.push(
            &format!("{path}.verification.deep_sample_percent"),
            format!("{percent} is outside 0..=100"),
            Some("0 checks sizes and checksums only; 5 re-reads one object in twenty".into()),
        );
    }
    if plan.verification.zone_drill && !targets.route53.is_empty() {
        match &plan.verification.drill_vpc {
            None => errors.push(
                &format!("{path}.verification.drill_vpc"),
                "is needed when `zone_drill` is on".into(),
                Some("the drill restores into a scratch private hosted zone, which needs a VPC: `drill_vpc: { id: vpc-…, region: … }`".into()),
            ),
            Some(vpc) if !vpc.id.starts_with("vpc-") => errors.push(
                &format!("{path}.verification.drill_vpc.id"),
                format!("\"{}\" is not a VPC id", vpc.id),
                Some("VPC ids look like vpc-0abc…".into()),
            ),
            _ => {}
        }
    }
    for (i, ecs) in targets.ecs.iter().enumerate() {
        if !(1..=100).contains(&ecs.revisions) {
            errors.push(
                &format!("{path}.targets.ecs[{i}].revisions"),
                format!("{} is outside 1..=100", ecs.revisions),
                Some("1 keeps the revision in use; 3 (the default) keeps two before it".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;

    const VALID: &str = r#"
version: 1
notifications:
  channels:
    slack: { kind: slack, secret: ops/slack }
    pd: { kind: pagerduty, secret: ops/pd }
  routes:
    critical: [slack, pd]
services:
  api:
    cluster: prod
    strategy: canary
    traffic:
      zone_name: example.com.
      record_name: api.example.com.
      targets:
        blue: { ecs_service: api-blue, value: blue.example.com }
        green: { ecs_service: api-green, value: green.example.com }
  worker:
    cluster: prod
    strategy: rolling
    ecs_service: worker
alarms:
  - alarm: "api-*"
    services: [api]
"#;

    /// Parses `text` and compares the rendered errors (or "ok") with `expect`.
    fn check(text: &str, expect: &[&str]) {
        let got: Vec<String> = match parse(text) {
            Ok(_) => vec!["ok".to_owned()],
            Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
        };
        assert_eq!(got, expect, "for config:\n{text}");
    }

    #[test]
    fn valid_config_parses_with_defaults() {
        let config = parse(VALID).expect("valid");
        let traffic = config.services["api"].traffic.as_ref().expect("traffic");
        assert_eq!(traffic.ttl, 60);
        assert_eq!(traffic.record_type, super::super::RecordType::Cname);
        assert_eq!(config.alarms[0].severity, Severity::Critical);
        assert!(config.alarms[0].rollback);
        assert_eq!(config.routes_for_alarm("api-5xx").count(), 1);
        assert_eq!(config.routes_for_alarm("worker-5xx").count(), 0);
    }

    #[test]
    fn shipped_example_config_is_valid() {
        let text = include_str!("../../../../infra/config/suite.yaml");
        if let Err(errors) = parse(text) {
            panic!("{errors}");
        }
    }

    #[test]
    fn slack_users_map_to_roles_and_unknown_users_have_none() {
        let text = format!(
            "{VALID}operators:\n  slack_users:\n    U012ABCDEF: operator\n    W0ENTERPRISE1: viewer\n"
        );
        let config = parse(&text).expect("valid");
        use super::super::{role_of, Role};
        assert_eq!(role_of(&config, "U012ABCDEF"), Some(Role::Operator));
        assert_eq!(role_of(&config, "W0ENTERPRISE1"), Some(Role::Viewer));
        assert_eq!(role_of(&config, "U999"), None, "not listed: no role");
        assert_eq!(role_of(&config, "u012abcdef"), None, "ids are exact");
        let none = parse(VALID).expect("valid");
        assert!(none.operators.slack_users.is_empty());
        assert_eq!(role_of(&none, "U012ABCDEF"), None);
    }

    #[test]
    fn slack_user_ids_and_roles_are_checked() {
        let with = |users: &str| format!("{VALID}operators:\n  slack_users:\n{users}");
        let hint = "(use the member id (U012AB3CD, or W… on Enterprise Grid; in Slack: profile → ⋮ → Copy member ID), not a name or email)";
        check(
            &with("    alice@example.com: operator\n    U1: viewer\n    C012ABC: operator\n"),
            &[
                &format!("operators.slack_users.C012ABC: \"C012ABC\" is not a Slack user id {hint}"),
                &format!("operators.slack_users.U1: \"U1\" is not a Slack user id {hint}"),
                &format!("operators.slack_users.alice@example.com: \"alice@example.com\" is not a Slack user id {hint}"),
            ],
        );
        check(
            &with("    U012ABCDEF: admin\n"),
            &["operators.slack_users.U012ABCDEF: unknown value \"admin\", expected one of \"viewer\", \"operator\""],
        );
        check(
            &format!("{VALID}operators:\n  slack_user: {{}}\n"),
            &["operators.slack_user: unknown field \"slack_user\", expected one of \"slack_users\" (did you mean \"slack_users\"?)"],
        );
        check(&format!("{VALID}operators:\n"), &["ok"]);
    }

    #[test]
    fn misspelled_strategy_names_the_path_and_the_fix() {
        check(
            &VALID.replace("strategy: canary", "strategy: canry"),
            &["services.api.strategy: unknown value \"canry\", expected one of \"all_at_once\", \"rolling\", \"blue_green\", \"canary\", \"linear\" (did you mean \"canary\"?)"],
        );
    }

    #[test]
    fn every_broken_item_is_reported_not_only_the_first() {
        let text = VALID
            .replace("strategy: canary", "strategy: canry")
            .replace("strategy: rolling", "stratgy: rolling")
            .replace("services: [api]", "services: [apx]");
        check(
            &text,
            &[
                "services.api.strategy: unknown value \"canry\", expected one of \"all_at_once\", \"rolling\", \"blue_green\", \"canary\", \"linear\" (did you mean \"canary\"?)",
                "services.worker.stratgy: unknown field \"stratgy\", expected one of \"cluster\", \"strategy\", \"ecs_service\", \"traffic\", \"deploy\" (did you mean \"strategy\"?)",
            ],
        );
    }

    #[test]
    fn unknown_service_in_alarm_route_is_an_error_with_suggestion() {
        check(
            &VALID.replace("services: [api]", "services: [apx]"),
            &["alarms[0].services[0]: unknown service \"apx\", expected one of \"api\", \"worker\" (did you mean \"api\"?)"],
        );
    }

    #[test]
    fn traffic_strategy_without_traffic_is_an_error() {
        check(
            "version: 1\nservices:\n  api: { cluster: c, strategy: blue_green, ecs_service: api }\n",
            &[
                "services.api.traffic: strategy \"blue_green\" shifts traffic with Route53 and needs `traffic` (add `traffic:` with the zone, record and two targets, or use `rolling`)",
                "services.api.ecs_service: strategy \"blue_green\" deploys to the services under `traffic.targets` (move it to `traffic.targets.<color>.ecs_service`)",
            ],
        );
    }

    #[test]
    fn rolling_without_ecs_service_is_an_error() {
        check(
            "version: 1\nservices:\n  api: { cluster: c, strategy: rolling }\n",
            &["services.api.ecs_service: strategy \"rolling\" updates one ECS service in place and needs `ecs_service`"],
        );
    }

    #[test]
    fn route_to_unknown_channel_is_an_error() {
        check(
            &VALID.replace("critical: [slack, pd]", "critical: [slak]"),
            &["notifications.routes.critical[0]: unknown channel \"slak\", expected one of \"pd\", \"slack\" (did you mean \"slack\"?)"],
        );
    }

    #[test]
    fn unknown_top_level_field_and_missing_version() {
        check(
            "servics: {}\n",
            &[
                "servics: unknown field \"servics\" (did you mean \"services\"?)",
                "version: missing field (add `version: 1` at the top)",
            ],
        );
    }

    #[test]
    fn wrong_version_and_bad_yaml() {
        check(
            "version: 2\n",
            &["version: unsupported version 2 (this release reads version 1)"],
        );
        let errors = parse("version: [1\n").expect_err("bad yaml");
        assert!(
            errors.0[0].message.starts_with("not valid YAML"),
            "{errors}"
        );
    }

    #[test]
    fn validate_checks_a_config_changed_in_code_without_yaml() {
        let mut config = parse(VALID).expect("valid");
        assert_eq!(validate(&config), Ok(()));
        // An override that breaks cross-item rules and the version.
        config.version = 2;
        config.alarms[0].services = vec!["apii".into()];
        let errors = validate(&config).expect_err("invalid override");
        let rendered: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            [
                "version: unsupported version 2 (this release reads version 1)",
                "alarms[0].services[0]: unknown service \"apii\", expected one of \"api\", \"worker\" (did you mean \"api\"?)",
            ]
        );
        // The same configuration written out and parsed reports the same problems.
        let text = serde_yaml_ng::to_string(&config).expect("serializes");
        assert_eq!(parse(&text).expect_err("invalid file"), errors);
    }

    #[test]
    fn missing_required_field_names_the_field() {
        check(
            "version: 1\nservices:\n  api: { strategy: rolling, ecs_service: api }\n",
            &["services.api: missing field \"cluster\" (add `cluster:` here)"],
        );
    }

    const COST: &str = r#"
cost:
  source: { kind: focus, bucket: exports, prefix: focus/ }
  metric: effective_cost
  dimensions: [provider, service, region, "tag:team"]
  anomalies: { by: [service], min_impact: 25 }
  budgets:
    - name: total
      monthly: 12000
      daily: 600
      filter: { provider: [AWS] }
      thresholds:
        - { basis: actual, percent: 80 }
        - { basis: forecast, absolute: 13000 }
"#;

    #[test]
    fn cost_section_parses_with_defaults() {
        let config = parse(&format!("{VALID}{COST}")).expect("valid");
        let cost = config.cost.expect("cost");
        assert_eq!(cost.history_days, 42);
        assert_eq!(cost.anomalies.baseline_weeks, 4);
        assert_eq!(cost.budgets[0].currency, "USD");
        assert_eq!(cost.report_prefix, "reports/cost");
    }

    #[test]
    fn cost_section_errors_name_their_paths() {
        let text = format!("{VALID}{COST}")
            .replace("metric: effective_cost", "metric: unblended_cost")
            .replace("\"tag:team\"", "servce")
            .replace("by: [service]", "by: [account]")
            .replace(
                "{ basis: actual, percent: 80 }",
                "{ basis: actual, percent: 80, absolute: 5 }",
            )
            .replace("provider: [AWS]", "team: [web]");
        check(
            &text,
            &[
                "cost.dimensions[3]: unknown dimension \"servce\", expected one of \"provider\", \"billing_account\", \"sub_account\", \"service\", \"region\" or \"tag:<key>\" (did you mean \"service\"?)",
                "cost.metric: does not exist in this source (use one of \"effective_cost\", \"billed_cost\")",
                "cost.anomalies.by[0]: \"account\" is not one of cost.dimensions (\"provider\", \"service\", \"region\", \"servce\")",
                "cost.budgets[0].filter.team: \"team\" is not one of cost.dimensions (\"provider\", \"service\", \"region\", \"servce\")",
                "cost.budgets[0].thresholds[0]: needs exactly one of `percent` and `absolute`",
            ],
        );
    }

    #[test]
    fn unknown_cost_source_kind_is_named() {
        check(
            &format!("{VALID}{COST}").replace("kind: focus", "kind: focuss"),
            &["cost.source.kind: unknown value \"focuss\", expected one of \"focus\", \"cur2\", \"cost_explorer\" (did you mean \"focus\"?)"],
        );
    }

    #[test]
    fn ttl_and_target_count_are_checked() {
        let text = VALID
            .replace(
                "record_name: api.example.com.",
                "record_name: api.example.com.\n      ttl: 0",
            )
            .replace(
                "        green: { ecs_service: api-green, value: green.example.com }\n",
                "",
            );
        check(
            &text,
            &[
                "services.api.traffic.ttl: 0 is outside 1..=86400 seconds",
                "services.api.traffic.targets: has 1 target(s), expected exactly 2 (name two colors, e.g. `blue` and `green`)",
            ],
        );
    }

    #[test]
    fn deploy_rules_bake_steps_windows() {
        let text = VALID
            .replace(
                "        green: { ecs_service: api-green, value: green.example.com }\n",
                "        green: { ecs_service: api-green, value: green.example.com }\n    deploy:\n      bake_seconds: 90\n      canary_steps: [50, 10]\n      window: prod\n      health_checks: [{ url: \"ftp://x\" }]\n",
            )
            .replace("alarms:\n", "windows:\n  production: { start: \"2:00\", end: \"06:00\", days: [mon, funday] }\nalarms:\n");
        check(
            &text,
            &[
                "services.api.deploy.canary_steps: [50, 10] must increase from above 0 and end at 100 (e.g. `[10, 50, 100]`)",
                "services.api.deploy.bake_seconds: 90 s is shorter than twice the record TTL (60 s) (resolvers cache the old weights for a TTL; bake at least 2 × ttl so the new weights carry real traffic before the step is judged)",
                "services.api.deploy.window: unknown window \"prod\", expected one of \"production\"",
                "services.api.deploy.health_checks[0].url: \"ftp://x\" is not an http(s) URL",
                "windows.production.start: \"2:00\" is not a time of day (write `HH:MM` in UTC, e.g. `02:00`)",
                "windows.production.days[1]: \"funday\" is not a weekday (use mon, tue, wed, thu, fri, sat, sun)",
            ],
        );
    }

    const BACKUP: &str = r#"
backup:
  plans:
    nightly:
      targets:
        s3: [{ bucket: app-uploads, prefix: media/ }]
        route53: [{ zone_name: example.com. }, { zone_id: Z0123456789ABC }]
        ecs: [{ cluster: prod, services: [api] }, { cluster: batch }]
        secrets: [prod/db, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/api-AbCdEf"]
      schedule:
        backup: cron(0 3 * * ? *)
        verify: rate(1 day)
        prune: cron(30 4 ? * SUN *)
      retention:
        keep_last: 3
        keep_daily: 7
        keep_weekly: 4
        keep_monthly: 12
        keep_yearly: unlimited
        keep_within: 2d12h
      destination:
        bucket: ops-backups
        prefix: suite/
        region: eu-central-1
        account: "210987654321"
      encryption: { kms_key: alias/ops-backup }
      verification: { deep_sample_percent: 5 }
"#;

    #[test]
    fn backup_section_parses_with_defaults() {
        use crate::backup::retention::KeepCount;
        let config = parse(&format!("{VALID}{BACKUP}")).expect("valid");
        let plan = &config.backup.plans["nightly"];
        assert_eq!(plan.retention.keep_daily, KeepCount::Count(7));
        assert_eq!(plan.retention.keep_yearly, KeepCount::Unlimited);
        assert_eq!(
            plan.retention.keep_within.map(|d| (d.days, d.hours)),
            Some((2, 12))
        );
        assert_eq!(plan.targets.ecs[1].services, Vec::<String>::new());
        assert_eq!(plan.destination.account.as_deref(), Some("210987654321"));
        assert_eq!(plan.verification.deep_sample_percent, 5.0);
        let minimal = "version: 1\nbackup:\n  plans:\n    zones:\n      targets: { route53: [{ zone_id: Z1 }] }\n      schedule: { backup: rate(12 hours) }\n      retention: { keep_last: 10 }\n      destination: { bucket: ops-backups }\n";
        let config = parse(minimal).expect("minimal");
        let plan = &config.backup.plans["zones"];
        assert_eq!(plan.verification.deep_sample_percent, 0.0);
        assert!(plan.encryption.is_none() && plan.schedule.prune.is_none());
        assert!(parse(VALID).expect("valid").backup.plans.is_empty());
    }

    #[test]
    fn backup_values_are_checked_with_paths_and_hints() {
        let text = format!("{VALID}{BACKUP}")
            .replace("bucket: app-uploads", "bucket: App_Uploads")
            .replace(
                "{ zone_id: Z0123456789ABC }",
                "{ zone_id: z-bad, zone_name: x. }",
            )
            .replace(
                "{ cluster: prod, services: [api] }",
                "{ cluster: prod, services: [\"\"] }",
            )
            .replace("backup: cron(0 3 * * ? *)", "backup: cron(0 3 * * *)")
            .replace("verify: rate(1 day)", "verify: rate(1 days)")
            .replace("prune: cron(30 4 ? * SUN *)", "prune: every sunday")
            .replace("region: eu-central-1", "region: europe")
            .replace("account: \"210987654321\"", "account: \"12345\"")
            .replace("alias/ops-backup", "alias/aws/s3")
            .replace("deep_sample_percent: 5", "deep_sample_percent: 150");
        check(
            &text,
            &[
                "backup.plans.nightly.targets.s3[0].bucket: \"App_Uploads\" is not an S3 bucket name (3 to 63 characters: a-z, 0-9, `.` and `-`, starting and ending with a letter or digit)",
                "backup.plans.nightly.targets.route53[1]: gives both `zone_id` and `zone_name` (keep one of them)",
                "backup.plans.nightly.targets.ecs[0].services[0]: must not be empty (leave `services` out to back up every service of the cluster)",
                "backup.plans.nightly.schedule.backup: \"cron(0 3 * * *)\" is not a schedule expression: has 5 fields, expected 6 (minutes hours day-of-month month day-of-week year) (e.g. `cron(0 3 * * ? *)` (03:00 UTC daily) or `rate(6 hours)`)",
                "backup.plans.nightly.schedule.verify: \"rate(1 days)\" is not a schedule expression: write \"1 day\" (e.g. `cron(0 3 * * ? *)` (03:00 UTC daily) or `rate(6 hours)`)",
                "backup.plans.nightly.schedule.prune: \"every sunday\" is not a schedule expression: expected `rate(…)`, `cron(…)` or `at(…)` (e.g. `cron(0 3 * * ? *)` (03:00 UTC daily) or `rate(6 hours)`)",
                "backup.plans.nightly.destination.region: \"europe\" is not an AWS region (e.g. eu-west-1)",
                "backup.plans.nightly.destination.account: \"12345\" is not an AWS account id (12 digits, quoted so YAML keeps leading zeros: \"012345678901\")",
                "backup.plans.nightly.encryption.kms_key: \"alias/aws/s3\" is not a KMS key reference (use a key id, `alias/<name>` (not an `alias/aws/` managed key), or a key or alias ARN)",
                "backup.plans.nightly.verification.deep_sample_percent: 150 is outside 0..=100 (0 checks sizes and checksums only; 5 re-reads one object in twenty)",
            ],
        );
    }

    #[test]
    fn backup_retention_errors_name_the_field() {
        let base = format!("{VALID}{BACKUP}");
        check(
            &base.replace("keep_within: 2d12h", "keep_within: 2w"),
            &["backup.plans.nightly.retention.keep_within: \"2w\" is not a duration: unknown unit \"w\" (write a number and a unit y, m (months), d or h, e.g. \"30d\", \"12h\" or \"1y6m\")"],
        );
        check(
            &base.replace("keep_daily: 7", "keep_daily: -7"),
            &["backup.plans.nightly.retention.keep_daily: -7 is negative; use \"unlimited\" to keep every period"],
        );
        check(
            &base.replace("keep_daily: 7", "keep_dayly: 7"),
            &["backup.plans.nightly.retention.keep_dayly: unknown field \"keep_dayly\", expected one of \"keep_last\", \"keep_hourly\", \"keep_daily\", \"keep_weekly\", \"keep_monthly\", \"keep_yearly\", \"keep_within\" (did you mean \"keep_daily\"?)"],
        );
        let empty = base
            .replace("        keep_last: 3\n", "")
            .replace("        keep_daily: 7\n", "")
            .replace("        keep_weekly: 4\n", "")
            .replace("        keep_monthly: 12\n", "")
            .replace("        keep_yearly: unlimited\n", "")
            .replace("        keep_within: 2d12h\n", "")
            .replace("      retention:\n", "      retention: {}\n");
        check(
            &empty,
            &["backup.plans.nightly.retention: keeps every snapshot: no `keep_*` rule is set (e.g. `keep_daily: 7`, `keep_weekly: 4`, `keep_monthly: 12`; write `keep_last: unlimited` to keep everything on purpose)"],
        );
    }

    #[test]
    fn s3_target_tags_are_a_flag_that_overlapping_targets_agree_on() {
        let base = format!("{VALID}{BACKUP}");
        let tagged = base.replace(
            "s3: [{ bucket: app-uploads, prefix: media/ }]",
            "s3: [{ bucket: app-uploads, prefix: media/, tags: true }, { bucket: logs-1, prefix: media/ }]",
        );
        let config = parse(&tagged).expect("tags: true");
        let targets = &config.backup.plans["nightly"].targets.s3;
        assert!(targets[0].tags && !targets[1].tags);
        assert!(
            !parse(&base).expect("default").backup.plans["nightly"]
                .targets
                .s3[0]
                .tags
        );
        check(
            &base.replace(
                "s3: [{ bucket: app-uploads, prefix: media/ }]",
                "s3: [{ bucket: app-uploads, prefix: media/, tags: true }, { bucket: app-uploads, prefix: media/raw/ }]",
            ),
            &["backup.plans.nightly.targets.s3[1].tags: disagrees with targets.s3[0], whose prefix overlaps it (objects under both prefixes are backed up once: give both the same `tags`)"],
        );
        let error =
            parse(&base.replace("prefix: media/ }]", "prefix: media/, tags: yes please }]"))
                .expect_err("not a flag");
        assert!(error.to_string().contains("targets.s3[0].tags"), "{error}");
    }

    #[test]
    fn backup_plan_shape_rules() {
        let base = format!("{VALID}{BACKUP}");
        // Secrets without encryption, a destination inside a source prefix, a bad plan name.
        let text = base
            .replace("      encryption: { kms_key: alias/ops-backup }\n", "")
            .replace(
                "bucket: ops-backups\n        prefix: suite/",
                "bucket: app-uploads\n        prefix: media/backups/",
            )
            .replace("    nightly:\n", "    Nightly:\n");
        check(
            &text,
            &[
                "backup.plans.Nightly: plan names use a-z, 0-9, - and _ (at most 64) (the name is part of the backup bucket keys and the schedule names)",
                "backup.plans.Nightly.targets.s3[0]: overlaps the destination s3://app-uploads/media/backups/ (each backup would copy the previous ones; use another bucket or disjoint prefixes)",
                "backup.plans.Nightly.encryption: is required: secrets are encrypted client-side before they are stored (add `encryption: { kms_key: alias/<name> }`)",
            ],
        );
        check(
            "version: 1\nbackup:\n  plans:\n    p:\n      targets: {}\n      schedule: { backup: rate(0 hours) }\n      retention: { keep_last: 1 }\n      destination: { bucket: b-1 }\n",
            &[
                "backup.plans.p.targets: names no target (add at least one of `s3`, `route53`, `ecs` or `secrets`)",
                "backup.plans.p.schedule.backup: \"rate(0 hours)\" is not a schedule expression: \"0\" is not a positive whole number (e.g. `cron(0 3 * * ? *)` (03:00 UTC daily) or `rate(6 hours)`)",
            ],
        );
    }

    #[test]
    fn backup_section_structure_errors() {
        check(
            "version: 1\nbackup:\n  plan: {}\n",
            &["backup.plan: unknown field \"plan\", expected \"plans\" (did you mean \"plans\"?)"],
        );
        check(
            "version: 1\nbackup: [nightly]\n",
            &["backup: expected a mapping with `plans` (write `backup:` then `plans:` with one entry per plan)"],
        );
        check(
            "version: 1\nbackups: {}\n",
            &["backups: unknown field \"backups\" (did you mean \"backup\"?)"],
        );
        check(
            &format!("{VALID}{BACKUP}").replace("      verification:", "      verfication:"),
            &["backup.plans.nightly.verfication: unknown field \"verfication\", expected one of \"targets\", \"schedule\", \"retention\", \"destination\", \"encryption\", \"verification\" (did you mean \"verification\"?)"],
        );
        // Valid KMS references and schedules.
        for key in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:123456789012:alias/ops-backup",
        ] {
            assert!(super::valid_kms_key(key), "{key}");
        }
        let mut errors = Errors::default();
        for expression in [
            "rate(1 hour)",
            "rate(15 minutes)",
            "cron(0 12 1 * ? *)",
            "at(2026-12-01T03:00:00)",
        ] {
            super::check_schedule("s", expression, &mut errors);
        }
        assert!(errors.0.is_empty(), "{:?}", errors.0);
    }
}
