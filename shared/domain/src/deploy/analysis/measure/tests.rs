//! Tables of the measurement accounting: due checks, requests, counting and verdicts.

use super::*;
use chrono::TimeZone;

const CONFIG: &str = r#"
metrics:
  error_rate:
    queries:
      - id: e1
        expression: m1 / m2
      - id: m1
        metric:
          namespace: AWS/ApplicationELB
          name: HTTPCode_Target_5XX_Count
          stat: Sum
          dimensions: { TargetGroup: "{color}" }
        return_data: false
      - id: m2
        metric:
          namespace: AWS/ApplicationELB
          name: RequestCount
          stat: Sum
          dimensions: { TargetGroup: "{color}" }
        return_data: false
    success: result < 0.01
    interval_seconds: 60
    count: 3
    failure_limit: 1
  latency:
    queries:
      - id: p99
        label: "{service} p99"
        metric:
          namespace: AWS/ApplicationELB
          name: TargetResponseTime
          stat: p99
          dimensions: { LoadBalancer: "{target}" }
    success: result <= baseline * 1.2
    interval_seconds: 120
    count: 2
"#;

fn config() -> AnalysisConfig {
    serde_yaml_ng::from_str(CONFIG).expect("test config parses")
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + seconds, 0)
        .single()
        .expect("valid time")
}

fn green() -> SideNames {
    SideNames {
        color: "green".into(),
        service: "api-green".into(),
        target: "green.example.com".into(),
    }
}

fn blue() -> SideNames {
    SideNames {
        color: "blue".into(),
        service: "api-blue".into(),
        target: "blue.example.com".into(),
    }
}

/// One measurement to record: the check, the candidate's series, the baseline's.
type Step<'a> = (&'a str, Series, Option<Series>);

/// Records the measurements at `at(60 * i)` from an empty run.
fn run_of(config: &AnalysisConfig, steps: &[Step]) -> AnalysisRun {
    steps
        .iter()
        .enumerate()
        .fold(AnalysisRun::default(), |run, (i, (check, c, b))| {
            record(config, &run, check, c, b.as_ref(), at(60 * i as i64))
        })
}

fn ok(values: &[f64]) -> Series {
    Ok(values.to_vec())
}

#[test]
fn placeholders_are_expanded_everywhere() {
    let config = config();
    let expanded = expand(&config.metrics["latency"].queries, &green());
    let metric = expanded[0].metric.as_ref().expect("metric");
    assert_eq!(metric.dimensions["LoadBalancer"], "green.example.com");
    assert_eq!(expanded[0].label.as_deref(), Some("api-green p99"));
    let expanded = expand(&config.metrics["error_rate"].queries, &blue());
    assert_eq!(
        describe_queries(&expanded),
        "e1 = m1 / m2, m1 AWS/ApplicationELB HTTPCode_Target_5XX_Count Sum {TargetGroup=blue}, m2 AWS/ApplicationELB RequestCount Sum {TargetGroup=blue}"
    );
}

#[test]
fn checks_are_due_when_never_measured_or_after_their_interval() {
    let config = config();
    let cases: &[(&str, AnalysisRun, i64, &[&str])] = &[
        (
            "never measured",
            AnalysisRun::default(),
            0,
            &["error_rate", "latency"],
        ),
        (
            "just measured",
            run_of(&config, &[("error_rate", ok(&[0.0]), None)]),
            59,
            &["latency"],
        ),
        (
            "interval passed",
            run_of(&config, &[("error_rate", ok(&[0.0]), None)]),
            60,
            &["error_rate", "latency"],
        ),
    ];
    for (name, run, now, expect) in cases {
        assert_eq!(&due(&config, run, at(*now)), expect, "{name}");
    }
    // After promotion the baseline check is left out, and everything when switched off.
    assert_eq!(
        due_after_promotion(&config, &AnalysisRun::default(), at(0)),
        ["error_rate"]
    );
    let off = AnalysisConfig {
        post_promotion: false,
        ..config.clone()
    };
    assert!(due_after_promotion(&off, &AnalysisRun::default(), at(0)).is_empty());
}

#[test]
fn requests_read_the_baseline_only_for_conditions_that_use_it() {
    let config = config();
    let due = vec!["error_rate".to_owned(), "latency".to_owned()];
    let got: Vec<(String, Side, i64)> = requests(&config, &due, &green(), Some(&blue()), at(600))
        .into_iter()
        .map(|r| {
            assert_eq!(r.end, at(600));
            (r.check, r.side, (r.end - r.start).num_seconds())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("error_rate".into(), Side::Candidate, 60),
            ("latency".into(), Side::Candidate, 120),
            ("latency".into(), Side::Baseline, 120),
        ]
    );
    let baseline = &requests(&config, &due, &green(), Some(&blue()), at(600))[2];
    assert_eq!(
        baseline.queries[0]
            .metric
            .as_ref()
            .expect("metric")
            .dimensions["LoadBalancer"],
        "blue.example.com"
    );
    // Without a baseline (after promotion) the baseline check is not measured at all.
    let got: Vec<String> = requests(&config, &due, &green(), None, at(600))
        .into_iter()
        .map(|r| r.check)
        .collect();
    assert_eq!(got, ["error_rate"]);
    // Unknown names are skipped.
    assert!(requests(&config, &["nope".into()], &green(), None, at(0)).is_empty());
}

/// One measurement of `check` with `inconclusive` set; the outcome and detail.
fn measure_one(
    inconclusive: Inconclusive,
    check: &str,
    candidate: Series,
    baseline: Option<Series>,
) -> (Outcome, String) {
    let mut config = config();
    config
        .metrics
        .get_mut(check)
        .expect("check exists")
        .inconclusive = inconclusive;
    let run = record(
        &config,
        &AnalysisRun::default(),
        check,
        &candidate,
        baseline.as_ref(),
        at(0),
    );
    let m = run.checks[check].measurements[0].clone();
    (m.outcome, m.detail)
}

#[test]
fn one_measurement_counts_by_its_values_and_the_inconclusive_setting() {
    use Inconclusive as I;
    use Outcome as O;
    let cases: &[(&str, Inconclusive, Step, Outcome, &str)] = &[
        (
            "mean below the limit",
            I::Inconclusive,
            ("error_rate", ok(&[0.0, 0.01, 0.005]), None),
            O::Success,
            "result 0.005 meets condition \"result < 0.01\"",
        ),
        (
            "mean above the limit",
            I::Inconclusive,
            ("error_rate", ok(&[0.05, 0.1, 0.1]), None),
            O::Failure,
            "result 0.0833 against condition \"result < 0.01\"",
        ),
        (
            "no data is inconclusive",
            I::Inconclusive,
            ("error_rate", ok(&[]), None),
            O::Inconclusive,
            "no data: counted inconclusive",
        ),
        (
            "no data as a pass",
            I::Pass,
            ("error_rate", ok(&[]), None),
            O::Success,
            "no data: counted a pass (inconclusive: pass)",
        ),
        (
            "no data as a failure",
            I::Fail,
            ("error_rate", ok(&[]), None),
            O::Failure,
            "no data: counted a failure (inconclusive: fail)",
        ),
        (
            "non-finite values are no data",
            I::Inconclusive,
            ("error_rate", ok(&[f64::NAN]), None),
            O::Inconclusive,
            "no data: counted inconclusive",
        ),
        (
            "a query error",
            I::Inconclusive,
            ("error_rate", Err("Throttling: Rate exceeded".into()), None),
            O::Error,
            "query error: Throttling: Rate exceeded",
        ),
        (
            "baseline within 20 %",
            I::Inconclusive,
            ("latency", ok(&[0.24]), Some(ok(&[0.2]))),
            O::Success,
            "result 0.24, baseline 0.2 meets condition \"result <= baseline * 1.2\"",
        ),
        (
            "baseline exceeded",
            I::Inconclusive,
            ("latency", ok(&[0.3, 0.32]), Some(ok(&[0.2]))),
            O::Failure,
            "result 0.31, baseline 0.2 against condition \"result <= baseline * 1.2\"",
        ),
        (
            "no baseline data",
            I::Inconclusive,
            ("latency", ok(&[0.3]), Some(ok(&[]))),
            O::Inconclusive,
            "no baseline data: counted inconclusive",
        ),
        (
            "baseline query error",
            I::Inconclusive,
            ("latency", ok(&[0.3]), Some(Err("AccessDenied".into()))),
            O::Error,
            "baseline query error: AccessDenied",
        ),
        (
            "baseline not measured",
            I::Inconclusive,
            ("latency", ok(&[0.3]), None),
            O::Error,
            "the condition reads baseline but none was measured",
        ),
    ];
    for (name, inconclusive, (check, candidate, baseline), outcome, detail) in cases {
        let got = measure_one(*inconclusive, check, candidate.clone(), baseline.clone());
        assert_eq!(got, (*outcome, (*detail).to_owned()), "{name}");
    }
}

#[test]
fn counters_errors_in_row_and_the_kept_measurements() {
    let config = config();
    let error: Series = Err("Throttling".into());
    let run = run_of(
        &config,
        &[
            ("error_rate", error.clone(), None),
            ("error_rate", error.clone(), None),
            ("error_rate", ok(&[0.0]), None),
            ("error_rate", error.clone(), None),
            ("error_rate", ok(&[0.5]), None),
            ("error_rate", ok(&[]), None),
        ],
    );
    let check = &run.checks["error_rate"];
    assert_eq!(
        (
            check.successes,
            check.failures,
            check.inconclusives,
            check.errors,
            check.errors_in_row
        ),
        (1, 1, 1, 3, 0)
    );
    assert_eq!(check.last_at, Some(at(300)));
    // Only the last ten measurements are kept; the counters keep counting.
    let many: Vec<Step> = (0..13).map(|_| ("error_rate", ok(&[0.0]), None)).collect();
    let run = run_of(&config, &many);
    let check = &run.checks["error_rate"];
    assert_eq!(check.measurements.len(), MAX_MEASUREMENTS);
    assert_eq!(check.successes, 13);
    assert_eq!(check.measurements[0].at, at(180));
    // An unknown check changes nothing.
    assert_eq!(record(&config, &run, "nope", &ok(&[1.0]), None, at(0)), run);
}

#[test]
fn verdicts_fail_pause_pass_or_keep_running() {
    let config = config();
    let low = || ("error_rate", ok(&[0.0]), None);
    let high = || ("error_rate", ok(&[0.05, 0.1, 0.1]), None);
    let fast = || ("latency", ok(&[0.2]), Some(ok(&[0.2])));
    let none = || ("error_rate", ok(&[]), None);
    let error = || ("error_rate", Err("Throttling".to_owned()), None);
    let cases: Vec<(&str, Vec<Step>, Verdict)> = vec![
        ("nothing measured", vec![], Verdict::Running { measured: 0, needed: 5 }),
        ("one failure is within the limit", vec![high(), low(), fast()], Verdict::Running { measured: 2, needed: 5 }),
        ("enough successes", vec![low(), low(), low(), fast(), fast()], Verdict::Passed),
        ("extra successes count up to count", vec![low(), low(), low(), low(), fast()], Verdict::Running { measured: 4, needed: 5 }),
        ("two failures", vec![high(), low(), high()], Verdict::Failed {
            check: "error_rate".into(),
            reason: "analysis error_rate failed 2 of 3 measurements (failure_limit 1): result 0.0833 against condition \"result < 0.01\"; query e1 = m1 / m2, m1 AWS/ApplicationELB HTTPCode_Target_5XX_Count Sum {TargetGroup={color}}, m2 AWS/ApplicationELB RequestCount Sum {TargetGroup={color}}".into(),
        }),
        ("three errors in a row", vec![error(), error(), error()], Verdict::Failed {
            check: "error_rate".into(),
            reason: "analysis error_rate failed: 3 query errors in a row (consecutive_errors 2): query error: Throttling; condition \"result < 0.01\"; query e1 = m1 / m2, m1 AWS/ApplicationELB HTTPCode_Target_5XX_Count Sum {TargetGroup={color}}, m2 AWS/ApplicationELB RequestCount Sum {TargetGroup={color}}".into(),
        }),
        ("errors broken by a success", vec![error(), error(), low(), error()], Verdict::Running { measured: 1, needed: 5 }),
        ("no data past the limit", vec![none()], Verdict::Inconclusive {
            check: "error_rate".into(),
            reason: "analysis error_rate inconclusive: no data in 1 of 1 measurements (inconclusive_limit 0); condition \"result < 0.01\"; query e1 = m1 / m2, m1 AWS/ApplicationELB HTTPCode_Target_5XX_Count Sum {TargetGroup={color}}, m2 AWS/ApplicationELB RequestCount Sum {TargetGroup={color}}".into(),
        }),
    ];
    for (name, steps, expect) in cases {
        assert_eq!(verdict(&config, &run_of(&config, &steps)), expect, "{name}");
    }
}

#[test]
fn the_failure_reason_names_the_candidates_queries_and_stays_short() {
    let config = config();
    let run = run_of(
        &config,
        &[
            ("latency", ok(&[0.5]), Some(ok(&[0.2]))),
            ("latency", ok(&[0.5]), Some(ok(&[0.2]))),
        ],
    );
    let Verdict::Failed { reason, .. } = verdict_in(&config, &run, Phase::Bake, Some(&green()))
    else {
        panic!("expected a failure");
    };
    assert_eq!(
        reason,
        "analysis latency failed 2 of 2 measurements (failure_limit 0): result 0.5, baseline 0.2 against condition \"result <= baseline * 1.2\"; query p99 AWS/ApplicationELB TargetResponseTime p99 {LoadBalancer=green.example.com}"
    );
    // A long error text is cut.
    let long = "x".repeat(5000);
    let run = run_of(
        &config,
        &[
            ("error_rate", Err(long.clone()), None),
            ("error_rate", Err(long.clone()), None),
            ("error_rate", Err(long), None),
        ],
    );
    let Verdict::Failed { reason, .. } = verdict(&config, &run) else {
        panic!("expected a failure");
    };
    assert!(reason.chars().count() <= MAX_REASON, "{reason}");
}

#[test]
fn after_promotion_baseline_checks_are_neither_measured_nor_counted() {
    let config = config();
    let run = run_of(
        &config,
        &[
            ("error_rate", ok(&[0.0]), None),
            ("error_rate", ok(&[0.0]), None),
            ("error_rate", ok(&[0.0]), None),
        ],
    );
    assert_eq!(verdict_after_promotion(&config, &run), Verdict::Passed);
    assert_eq!(
        verdict(&config, &run),
        Verdict::Running {
            measured: 3,
            needed: 5
        }
    );
}

#[test]
fn compact_numbers() {
    let cases = [
        (0.0, "0"),
        (-0.0, "0"),
        (12.0, "12"),
        (-3.0, "-3"),
        (0.083333, "0.0833"),
        (0.2, "0.2"),
        (1.25, "1.25"),
        (1234.5678, "1235"),
        (0.000012345, "1.23e-5"),
        (3.5e12, "3500000000000"),
        (1.5e20, "1.50e20"),
        (f64::NAN, "NaN"),
    ];
    for (x, expect) in cases {
        assert_eq!(compact(x), expect, "{x}");
    }
}

#[test]
fn the_run_round_trips_through_json() {
    let config = config();
    let run = run_of(
        &config,
        &[
            ("error_rate", ok(&[0.0]), None),
            ("latency", ok(&[0.5]), Some(ok(&[0.2]))),
        ],
    );
    let json = serde_json::to_string(&run).expect("serializes");
    assert!(json.contains("\"outcome\":\"failure\""), "{json}");
    let back: AnalysisRun = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, run);
}
