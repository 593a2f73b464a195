//! Rules of a service's `deploy.analysis` (metric checks and the baseline judge) and
//! `deploy.hooks`, reported with their paths like every other rule of the validator.
//!
//! `interval_seconds` must be a period CloudWatch can aggregate over: 1, 5, 10 or 30
//! (high-resolution metrics) or a multiple of 60; a metric's `period_seconds` likewise, and it
//! must fit in the interval (a measurement reads one interval, so a longer period never has a
//! data point).

use std::collections::{BTreeMap, BTreeSet};

use super::{quote_all, suggest, Errors};
use crate::config::{BackupPlanConfig, ServiceConfig};
use crate::deploy::analysis::measure::PLACEHOLDERS;
use crate::deploy::analysis::{AnalysisConfig, Condition, JudgeConfig, MetricQuery};
use crate::deploy::hooks::{Hook, HooksConfig};

/// The rules of `deploy.analysis` and `deploy.hooks` of the service at `path`.
pub(super) fn check_analysis_and_hooks(
    path: &str,
    service: &ServiceConfig,
    plans: &BTreeMap<String, BackupPlanConfig>,
    errors: &mut Errors,
) {
    let dpath = format!("{path}.deploy");
    if let Some(analysis) = &service.deploy.analysis {
        check_analysis(&format!("{dpath}.analysis"), service, analysis, errors);
    }
    check_hooks(
        &format!("{dpath}.hooks"),
        &service.deploy.hooks,
        plans,
        errors,
    );
}

fn check_analysis(
    apath: &str,
    service: &ServiceConfig,
    analysis: &AnalysisConfig,
    errors: &mut Errors,
) {
    let bake = service.deploy.bake_seconds;
    // A baseline exists for a traffic strategy (the stable color) and for a service ECS deploys
    // natively (the revision serving production, in the lifecycle-hook mode).
    let traffic = service.strategy.shifts_traffic() || service.deploy.ecs_lifecycle_hooks;
    for (name, check) in &analysis.metrics {
        let cpath = format!("{apath}.metrics.{name}");
        check_queries(&format!("{cpath}.queries"), &check.queries, errors);
        match Condition::parse(&check.success) {
            Err(error) => errors.push(
                &format!("{cpath}.success"),
                format!("\"{}\" does not parse: {error}", check.success),
                Some("e.g. `result < 0.01` or `result <= baseline * 1.2`".into()),
            ),
            Ok(condition) if condition.uses_baseline() && !traffic => errors.push(
                &format!("{cpath}.success"),
                "reads `baseline`, which needs a traffic strategy".into(),
                Some(
                    "the baseline is the stable color of `blue_green`, `canary` or `linear` (or the \
                     production revision with `ecs_lifecycle_hooks: true`); compare `result` with \
                     a number instead"
                        .into(),
                ),
            ),
            Ok(_) => {}
        }
        let interval = check.interval_seconds;
        if !valid_period(interval) {
            errors.push(
                &format!("{cpath}.interval_seconds"),
                format!("{interval} is not a CloudWatch period"),
                Some("use 1, 5, 10, 30 or a multiple of 60".into()),
            );
        }
        for (i, query) in check.queries.iter().enumerate() {
            if let Some(metric) = &query.metric {
                let comparable = valid_period(interval) && valid_period(metric.period_seconds);
                if comparable && metric.period_seconds > interval {
                    errors.push(
                        &format!("{cpath}.queries[{i}].metric.period_seconds"),
                        format!(
                            "{} s is longer than the check's interval ({interval} s)",
                            metric.period_seconds
                        ),
                        Some(
                            "each measurement reads one interval; a longer period has no data point in it"
                                .into(),
                        ),
                    );
                }
            }
        }
        if check.count == 0 {
            errors.push(&format!("{cpath}.count"), "must be at least 1".into(), None);
        }
        let length = u64::from(interval) * u64::from(check.count);
        if length > u64::from(bake) {
            errors.push(
                &format!("{cpath}.count"),
                format!(
                    "analysis longer than the bake: {} measurements every {interval} s take {length} s, the bake lasts {bake} s",
                    check.count
                ),
                Some("lower `count` or `interval_seconds`, or raise `deploy.bake_seconds`".into()),
            );
        }
    }
    if let Some(judge) = &analysis.judge {
        check_judge(&format!("{apath}.judge"), judge, traffic, errors);
    }
}

fn check_judge(jpath: &str, judge: &JudgeConfig, traffic: bool, errors: &mut Errors) {
    if !traffic {
        errors.push(
            jpath,
            "compares the candidate with the stable color, which needs a traffic strategy".into(),
            Some(
                "use `blue_green`, `canary` or `linear` (or `ecs_lifecycle_hooks: true`), or remove `judge`"
                    .into(),
            ),
        );
    }
    if judge.metrics.is_empty() {
        errors.push(
            &format!("{jpath}.metrics"),
            "lists no metric".into(),
            Some("name at least one metric to compare".into()),
        );
    }
    if !(judge.confidence > 0.0 && judge.confidence < 1.0) {
        errors.push(
            &format!("{jpath}.confidence"),
            format!("{} is outside (0, 1)", judge.confidence),
            Some("e.g. 0.98: a difference is significant when p < 0.02".into()),
        );
    }
    if !(judge.effect_size >= 0.0 && judge.effect_size.is_finite()) {
        errors.push(
            &format!("{jpath}.effect_size"),
            format!("{} must be 0 or more", judge.effect_size),
            Some("e.g. 0.25 tolerates a 25 % difference of medians".into()),
        );
    }
    let (marginal, pass) = (judge.marginal_score, judge.pass_score);
    if !(0.0 <= marginal && marginal <= pass && pass <= 100.0) {
        errors.push(
            jpath,
            format!(
                "scores must satisfy 0 ≤ marginal_score ({marginal}) ≤ pass_score ({pass}) ≤ 100"
            ),
            None,
        );
    }
    if judge.min_samples == 0 {
        errors.push(
            &format!("{jpath}.min_samples"),
            "must be at least 1".into(),
            None,
        );
    }
    for (name, metric) in &judge.metrics {
        let mpath = format!("{jpath}.metrics.{name}");
        check_queries(&format!("{mpath}.queries"), &metric.queries, errors);
        if !(metric.weight > 0.0 && metric.weight.is_finite()) {
            errors.push(
                &format!("{mpath}.weight"),
                format!("{} must be more than 0", metric.weight),
                None,
            );
        }
    }
}

/// 1, 5, 10, 30 or a multiple of 60 (what `GetMetricData` accepts).
fn valid_period(seconds: u32) -> bool {
    matches!(seconds, 1 | 5 | 10 | 30) || (seconds >= 60 && seconds.is_multiple_of(60))
}

/// A query id as CloudWatch takes it, placeholders counted as letters.
fn valid_id(id: &str) -> bool {
    let id = fill_placeholders(id);
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && id.len() <= 255
}

fn fill_placeholders(text: &str) -> String {
    PLACEHOLDERS.iter().fold(text.to_owned(), |text, name| {
        text.replace(&format!("{{{name}}}"), "x")
    })
}

/// `{word}` placeholders in `text` that are not ones [`expand`](crate::deploy::analysis::expand)
/// fills. Only lowercase words in braces count: metric math's own braces
/// (`SEARCH('{AWS/EC2,InstanceId} …')`) are left alone.
fn unknown_placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let word = &after[..close];
        let is_word = !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if is_word && !PLACEHOLDERS.contains(&word) {
            found.push(word.to_owned());
        }
        rest = &after[close..];
    }
    found
}

/// The query ids an expression reads: words that start with a lowercase letter, outside quoted
/// strings (metric math's functions are upper case).
fn referenced_ids(expression: &str) -> Vec<String> {
    let text = fill_placeholders(expression);
    let mut ids = Vec::new();
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut word = String::from(c);
            while let Some(&next) = chars.peek() {
                if next.is_ascii_alphanumeric() || next == '_' || next == '.' {
                    word.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            if c.is_ascii_lowercase() {
                ids.push(word);
            }
        }
    }
    ids
}

fn check_queries(qpath: &str, queries: &[MetricQuery], errors: &mut Errors) {
    if queries.is_empty() {
        errors.push(
            qpath,
            "lists no query".into(),
            Some("add a `metric` query, or metric queries and an `expression` over them".into()),
        );
        return;
    }
    let ids: Vec<String> = queries.iter().map(|q| fill_placeholders(&q.id)).collect();
    let id_names: Vec<&str> = queries.iter().map(|q| q.id.as_str()).collect();
    let mut seen = BTreeSet::new();
    for (i, query) in queries.iter().enumerate() {
        let path = format!("{qpath}[{i}]");
        if !valid_id(&query.id) {
            errors.push(
                &format!("{path}.id"),
                format!("\"{}\" is not a CloudWatch query id", query.id),
                Some("start with a lowercase letter; use letters, digits and _".into()),
            );
        }
        if !seen.insert(query.id.as_str()) {
            errors.push(
                &format!("{path}.id"),
                format!("\"{}\" is used by another query of this list", query.id),
                None,
            );
        }
        match (&query.expression, &query.metric) {
            (Some(_), Some(_)) | (None, None) => errors.push(
                &path,
                "needs exactly one of `expression` and `metric`".into(),
                None,
            ),
            _ => {}
        }
        if let Some(expression) = &query.expression {
            for id in referenced_ids(expression) {
                if id == ids[i] {
                    errors.push(
                        &format!("{path}.expression"),
                        format!("\"{expression}\" reads its own id \"{}\"", query.id),
                        None,
                    );
                } else if !ids.contains(&id) {
                    let others: Vec<&str> = id_names
                        .iter()
                        .copied()
                        .filter(|other| *other != query.id)
                        .collect();
                    errors.push(
                        &format!("{path}.expression"),
                        format!(
                            "unknown query id \"{id}\", expected one of {}",
                            quote_all(&others)
                        ),
                        suggest(&id, &others),
                    );
                }
            }
        }
        if let Some(metric) = &query.metric {
            if metric.namespace.trim().is_empty() || metric.name.trim().is_empty() {
                errors.push(
                    &format!("{path}.metric"),
                    "`namespace` and `name` must not be empty".into(),
                    None,
                );
            }
            if !valid_period(metric.period_seconds) {
                errors.push(
                    &format!("{path}.metric.period_seconds"),
                    format!("{} is not a CloudWatch period", metric.period_seconds),
                    Some("use 1, 5, 10, 30 or a multiple of 60".into()),
                );
            }
        }
        let mut texts: Vec<(String, &str)> = vec![("id".into(), query.id.as_str())];
        if let Some(e) = &query.expression {
            texts.push(("expression".into(), e));
        }
        if let Some(l) = &query.label {
            texts.push(("label".into(), l));
        }
        if let Some(metric) = &query.metric {
            texts.push(("metric.namespace".into(), &metric.namespace));
            texts.push(("metric.name".into(), &metric.name));
            for (key, value) in &metric.dimensions {
                texts.push((format!("metric.dimensions.{key}"), value));
            }
        }
        let placeholders: Vec<String> = PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect();
        let placeholders: Vec<&str> = placeholders.iter().map(String::as_str).collect();
        for (field, text) in texts {
            for word in unknown_placeholders(text) {
                let written = format!("{{{word}}}");
                errors.push(
                    &format!("{path}.{field}"),
                    format!(
                        "unknown placeholder \"{written}\", expected one of {}",
                        quote_all(&placeholders)
                    ),
                    suggest(&written, &placeholders),
                );
            }
        }
    }
    let returned = queries
        .iter()
        .filter(|q| q.return_data == Some(true))
        .count();
    if returned > 1 {
        errors.push(
            qpath,
            format!("{returned} queries set `return_data: true`; a check reads one result"),
            Some("keep it on the result's query (by default, the last one)".into()),
        );
    }
}

fn check_hooks(
    hpath: &str,
    hooks: &HooksConfig,
    plans: &BTreeMap<String, BackupPlanConfig>,
    errors: &mut Errors,
) {
    let plan_names: Vec<&str> = plans.keys().map(String::as_str).collect();
    let points: [(&str, &[Hook]); 5] = [
        ("pre_deploy", &hooks.pre_deploy),
        ("pre_traffic", &hooks.pre_traffic),
        ("post_shift", &hooks.post_shift),
        ("post_promote", &hooks.post_promote),
        ("on_rollback", &hooks.on_rollback),
    ];
    for (point, list) in points {
        for (i, hook) in list.iter().enumerate() {
            let path = format!("{hpath}.{point}[{i}]");
            let timeout = match hook {
                Hook::Task {
                    command,
                    container,
                    timeout_seconds,
                } => {
                    if command.is_empty() || command.iter().all(|c| c.trim().is_empty()) {
                        errors.push(
                            &format!("{path}.task.command"),
                            "must not be empty".into(),
                            Some("e.g. `[\"./migrate\", \"up\"]`".into()),
                        );
                    }
                    if container.as_deref().is_some_and(|c| c.trim().is_empty()) {
                        errors.push(
                            &format!("{path}.task.container"),
                            "must not be empty".into(),
                            Some("leave it out to use the deployed container".into()),
                        );
                    }
                    ("task", *timeout_seconds)
                }
                Hook::Lambda {
                    function,
                    timeout_seconds,
                } => {
                    if function.trim().is_empty() {
                        errors.push(
                            &format!("{path}.lambda.function"),
                            "must not be empty".into(),
                            Some("name the function or give its ARN".into()),
                        );
                    }
                    ("lambda", *timeout_seconds)
                }
                Hook::Backup {
                    plan,
                    timeout_seconds,
                } => {
                    if !plans.contains_key(plan) {
                        errors.push(
                            &format!("{path}.backup.plan"),
                            format!(
                                "unknown backup plan \"{plan}\", expected one of {}",
                                quote_all(&plan_names)
                            ),
                            suggest(plan, &plan_names),
                        );
                    }
                    ("backup", *timeout_seconds)
                }
            };
            if timeout.1 == 0 {
                errors.push(
                    &format!("{path}.{}.timeout_seconds", timeout.0),
                    "must be at least 1".into(),
                    None,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    /// A canary service, a rolling one and a backup plan; `{deploy}` and `{worker}` are put
    /// under their `deploy` (indented by 6). Hooks are maps with one key (`- task: {…}`),
    /// as Terraform reads them too.
    const BASE: &str = r#"
version: 1
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
    deploy:
      bake_seconds: 300
{deploy}
  worker:
    cluster: prod
    strategy: rolling
    ecs_service: worker
    deploy:
      bake_seconds: 300
{worker}
backup:
  plans:
    nightly:
      targets: { s3: [{ bucket: app-uploads }] }
      schedule: { backup: "rate(1 day)" }
      retention: { keep_last: 3 }
      destination: { bucket: ops-backups }
"#;

    const ANALYSIS: &str = r#"
      analysis:
        metrics:
          error_rate:
            queries:
              - { id: e1, expression: "m1 / m2" }
              - id: m1
                return_data: false
                metric: { namespace: AWS/ApplicationELB, name: HTTPCode_Target_5XX_Count, stat: Sum, dimensions: { TargetGroup: "{color}" } }
              - id: m2
                return_data: false
                metric: { namespace: AWS/ApplicationELB, name: RequestCount, stat: Sum, dimensions: { TargetGroup: "{color}" } }
            success: result < 0.01
            interval_seconds: 60
            count: 3
          latency:
            queries:
              - id: p99
                label: "{service} p99"
                metric: { namespace: AWS/ApplicationELB, name: TargetResponseTime, stat: p99, dimensions: { LoadBalancer: "{target}" } }
            success: result <= baseline * 1.2
        judge:
          metrics:
            latency:
              queries:
                - id: p50
                  metric: { namespace: AWS/ApplicationELB, name: TargetResponseTime, stat: p50, dimensions: { TargetGroup: "{color}" } }
              weight: 2
              critical: true
            errors:
              direction: increase
              queries:
                - { id: s1, expression: "SEARCH('{AWS/ApplicationELB,TargetGroup} MetricName=\"HTTPCode_Target_5XX_Count\"', 'Sum', 60)" }
                - { id: total, expression: "SUM(s1)" }
      hooks:
        pre_deploy:
          - backup: { plan: nightly }
          - task: { command: ["./migrate", "up"], timeout_seconds: 600 }
        pre_traffic:
          - lambda: { function: smoke-tests }
        on_rollback:
          - lambda: { function: "arn:aws:lambda:eu-west-1:123456789012:function:page" }
"#;

    fn config(deploy: &str, worker: &str) -> String {
        BASE.replace("{deploy}", deploy.trim_end_matches('\n'))
            .replace("{worker}", worker.trim_end_matches('\n'))
    }

    /// Parses the base config with `ANALYSIS` edited by `edits` (pairs of from → to) and
    /// compares the rendered errors (or "ok") with `expect`.
    fn check(edits: &[(&str, &str)], worker: &str, expect: &[&str]) {
        let mut deploy = ANALYSIS.to_owned();
        for (from, to) in edits {
            assert!(
                deploy.contains(from),
                "edit target {from:?} is in the analysis"
            );
            deploy = deploy.replacen(from, to, 1);
        }
        let text = config(&deploy, worker);
        let got: Vec<String> = match parse(&text) {
            Ok(_) => vec!["ok".to_owned()],
            Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
        };
        assert_eq!(got, expect, "for config:\n{text}");
    }

    const M: &str = "services.api.deploy.analysis.metrics";
    const J: &str = "services.api.deploy.analysis.judge";
    const H: &str = "services.api.deploy.hooks";

    #[test]
    fn a_full_analysis_and_hooks_section_is_valid() {
        check(&[], "", &["ok"]);
        let config = parse(&config(ANALYSIS, "")).expect("valid");
        let analysis = config.services["api"]
            .deploy
            .analysis
            .clone()
            .expect("analysis");
        assert_eq!(analysis.metrics["latency"].count, 3);
        assert!(analysis.post_promotion);
        assert_eq!(config.services["api"].deploy.hooks.pre_deploy.len(), 2);
    }

    #[test]
    fn conditions_must_parse_and_read_only_result_and_baseline() {
        let hint = "(e.g. `result < 0.01` or `result <= baseline * 1.2`)";
        check(
            &[("success: result < 0.01", "success: error_rate < 0.01")],
            "",
            &[&format!("{M}.error_rate.success: \"error_rate < 0.01\" does not parse: unknown name \"error_rate\" at character 1: a condition reads only `result` and `baseline` {hint}")],
        );
        check(
            &[("success: result < 0.01", "success: result <")],
            "",
            &[&format!("{M}.error_rate.success: \"result <\" does not parse: unexpected end of condition at character 9, expected a number, `result`, `baseline` or \"(\" {hint}")],
        );
    }

    #[test]
    fn query_ids_are_unique_lowercase_and_expressions_read_defined_ids() {
        check(
            &[("id: m2", "id: m1")],
            "",
            &[
                &format!("{M}.error_rate.queries[0].expression: unknown query id \"m2\", expected one of \"m1\", \"m1\" (did you mean \"m1\"?)"),
                &format!("{M}.error_rate.queries[2].id: \"m1\" is used by another query of this list"),
            ],
        );
        check(
            &[("id: p99", "id: P99")],
            "",
            &[&format!("{M}.latency.queries[0].id: \"P99\" is not a CloudWatch query id (start with a lowercase letter; use letters, digits and _)")],
        );
        check(
            &[("expression: \"m1 / m2\"", "expression: \"m1 / m3 * 100\"")],
            "",
            &[&format!("{M}.error_rate.queries[0].expression: unknown query id \"m3\", expected one of \"m1\", \"m2\" (did you mean \"m1\"?)")],
        );
        check(
            &[("expression: \"m1 / m2\"", "expression: \"e1 + m1\"")],
            "",
            &[&format!(
                "{M}.error_rate.queries[0].expression: \"e1 + m1\" reads its own id \"e1\""
            )],
        );
        check(
            &[("expression: \"SUM(s1)\"", "expression: \"SUM(s2)\"")],
            "",
            &[&format!("{J}.metrics.errors.queries[1].expression: unknown query id \"s2\", expected one of \"s1\" (did you mean \"s1\"?)")],
        );
    }

    #[test]
    fn a_query_has_exactly_one_of_expression_and_metric() {
        check(
            &[("{ id: e1, expression: \"m1 / m2\" }", "{ id: e1 }")],
            "",
            &[&format!(
                "{M}.error_rate.queries[0]: needs exactly one of `expression` and `metric`"
            )],
        );
        check(
            &[(
                "{ id: e1, expression: \"m1 / m2\" }",
                "{ id: e1, expression: \"m1 / m2\", metric: { namespace: N, name: X } }",
            )],
            "",
            &[&format!(
                "{M}.error_rate.queries[0]: needs exactly one of `expression` and `metric`"
            )],
        );
        check(
            &[("queries:\n              - id: p99", "queries: []\n            old:\n              - id: p99")],
            "",
            &[&format!("{M}.latency.old: unknown field \"old\", expected one of \"queries\", \"success\", \"interval_seconds\", \"count\", \"failure_limit\", \"consecutive_errors\", \"inconclusive\", \"inconclusive_limit\"")],
        );
        check(
            &[("return_data: false\n                metric: { namespace: AWS/ApplicationELB, name: RequestCount", "return_data: true\n                metric: { namespace: AWS/ApplicationELB, name: RequestCount")],
            "",
            &["ok"],
        );
        check(
            &[
                ("return_data: false", "return_data: true"),
                ("return_data: false", "return_data: true"),
            ],
            "",
            &[&format!("{M}.error_rate.queries: 2 queries set `return_data: true`; a check reads one result (keep it on the result's query (by default, the last one))")],
        );
    }

    #[test]
    fn only_known_placeholders() {
        check(
            &[("TargetGroup: \"{color}\" }", "TargetGroup: \"{colour}\" }")],
            "",
            &[&format!("{M}.error_rate.queries[1].metric.dimensions.TargetGroup: unknown placeholder \"{{colour}}\", expected one of \"{{color}}\", \"{{service}}\", \"{{target}}\" (did you mean \"{{color}}\"?)")],
        );
        check(
            &[("label: \"{service} p99\"", "label: \"{svc} p99\"")],
            "",
            &[&format!("{M}.latency.queries[0].label: unknown placeholder \"{{svc}}\", expected one of \"{{color}}\", \"{{service}}\", \"{{target}}\"")],
        );
    }

    #[test]
    fn baseline_and_judge_need_a_traffic_strategy() {
        let on_worker = ANALYSIS.replace("      hooks:", "      hooks: {}\n      unused_hooks:");
        let worker = on_worker
            .split("      hooks: {}")
            .next()
            .expect("analysis part")
            .to_owned();
        let text = config("", &worker);
        let got: Vec<String> = parse(&text)
            .expect_err("invalid")
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "services.worker.deploy.analysis.metrics.latency.success: reads `baseline`, which needs a traffic strategy (the baseline is the stable color of `blue_green`, `canary` or `linear` (or the production revision with `ecs_lifecycle_hooks: true`); compare `result` with a number instead)",
                "services.worker.deploy.analysis.judge: compares the candidate with the stable color, which needs a traffic strategy (use `blue_green`, `canary` or `linear` (or `ecs_lifecycle_hooks: true`), or remove `judge`)",
            ]
        );
        // A service ECS deploys natively has a baseline: the revision serving production.
        let native = config("", &format!("      ecs_lifecycle_hooks: true\n{worker}"));
        assert!(parse(&native).is_ok(), "{:?}", parse(&native).err());
    }

    #[test]
    fn intervals_periods_counts_and_the_bake() {
        check(
            &[("interval_seconds: 60\n            count: 3", "interval_seconds: 45\n            count: 3")],
            "",
            &[&format!("{M}.error_rate.interval_seconds: 45 is not a CloudWatch period (use 1, 5, 10, 30 or a multiple of 60)")],
        );
        check(
            &[("interval_seconds: 60\n            count: 3", "interval_seconds: 120\n            count: 3")],
            "",
            &[&format!("{M}.error_rate.count: analysis longer than the bake: 3 measurements every 120 s take 360 s, the bake lasts 300 s (lower `count` or `interval_seconds`, or raise `deploy.bake_seconds`)")],
        );
        check(
            &[("interval_seconds: 60\n            count: 3", "interval_seconds: 30\n            count: 0")],
            "",
            &[
                &format!("{M}.error_rate.queries[1].metric.period_seconds: 60 s is longer than the check's interval (30 s) (each measurement reads one interval; a longer period has no data point in it)"),
                &format!("{M}.error_rate.queries[2].metric.period_seconds: 60 s is longer than the check's interval (30 s) (each measurement reads one interval; a longer period has no data point in it)"),
                &format!("{M}.error_rate.count: must be at least 1"),
            ],
        );
        check(
            &[("stat: p99,", "stat: p99, period_seconds: 90,")],
            "",
            &[&format!("{M}.latency.queries[0].metric.period_seconds: 90 is not a CloudWatch period (use 1, 5, 10, 30 or a multiple of 60)")],
        );
    }

    #[test]
    fn judge_settings() {
        check(
            &[("        judge:\n", "        judge:\n          confidence: 1.0\n          effect_size: -0.1\n          pass_score: 70\n          marginal_score: 80\n          min_samples: 0\n")],
            "",
            &[
                &format!("{J}.confidence: 1 is outside (0, 1) (e.g. 0.98: a difference is significant when p < 0.02)"),
                &format!("{J}.effect_size: -0.1 must be 0 or more (e.g. 0.25 tolerates a 25 % difference of medians)"),
                &format!("{J}: scores must satisfy 0 ≤ marginal_score (80) ≤ pass_score (70) ≤ 100"),
                &format!("{J}.min_samples: must be at least 1"),
            ],
        );
        check(
            &[("weight: 2", "weight: 0")],
            "",
            &[&format!(
                "{J}.metrics.latency.weight: 0 must be more than 0"
            )],
        );
        check(
            &[(
                "        judge:\n          metrics:\n",
                "        judge:\n          metrics: {}\n          unused:\n",
            )],
            "",
            &[&format!("{J}.unused: unknown field \"unused\", expected one of \"metrics\", \"confidence\", \"effect_size\", \"pass_score\", \"marginal_score\", \"max_holds\", \"min_samples\"")],
        );
    }

    #[test]
    fn a_judge_without_metrics_is_an_error() {
        let deploy = "      analysis:\n        judge: { metrics: {} }\n";
        let got: Vec<String> = parse(&config(deploy, ""))
            .expect_err("invalid")
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [format!(
                "{J}.metrics: lists no metric (name at least one metric to compare)"
            )]
        );
    }

    #[test]
    fn hooks_need_a_command_a_function_a_known_plan_and_a_timeout() {
        check(
            &[
                ("backup: { plan: nightly }", "backup: { plan: nightlly }"),
                ("command: [\"./migrate\", \"up\"], timeout_seconds: 600", "command: [], timeout_seconds: 0"),
                ("function: smoke-tests", "function: \" \""),
            ],
            "",
            &[
                &format!("{H}.pre_deploy[0].backup.plan: unknown backup plan \"nightlly\", expected one of \"nightly\" (did you mean \"nightly\"?)"),
                &format!("{H}.pre_deploy[1].task.command: must not be empty (e.g. `[\"./migrate\", \"up\"]`)"),
                &format!("{H}.pre_deploy[1].task.timeout_seconds: must be at least 1"),
                &format!("{H}.pre_traffic[0].lambda.function: must not be empty (name the function or give its ARN)"),
            ],
        );
    }
}
