//! Tables of the baseline judge: classification, score and verdict, and what a judgement does
//! to the step.

use super::*;
use crate::deploy::analysis::{JudgeMetric, MetricQuery, MetricStat};
use chrono::TimeZone;

/// Ten baseline samples around 100 (a latency in ms, a request rate).
const BASE: [f64; 10] = [
    100.0, 102.0, 98.0, 101.0, 99.0, 103.0, 97.0, 100.0, 101.0, 99.0,
];

fn scaled(factor: f64) -> Vec<f64> {
    BASE.iter().map(|v| v * factor).collect()
}

/// The same values in another order with one nudged: the same distribution.
fn alike() -> Vec<f64> {
    vec![
        99.0, 101.0, 100.0, 98.0, 102.0, 100.0, 103.0, 97.0, 101.0, 99.5,
    ]
}

fn query() -> Vec<MetricQuery> {
    vec![MetricQuery {
        id: "m1".into(),
        expression: None,
        metric: Some(MetricStat {
            namespace: "AWS/ApplicationELB".into(),
            name: "TargetResponseTime".into(),
            dimensions: [("TargetGroup".to_owned(), "{color}".to_owned())].into(),
            stat: "p99".into(),
            period_seconds: 60,
            unit: None,
        }),
        return_data: None,
        label: None,
    }]
}

/// One metric of a table: name, direction, weight, critical, candidate, baseline.
struct M {
    name: &'static str,
    direction: Direction,
    weight: f64,
    critical: bool,
    candidate: Series,
    baseline: Series,
}

fn m(name: &'static str, candidate: Vec<f64>) -> M {
    M {
        name,
        direction: Direction::Increase,
        weight: 1.0,
        critical: false,
        candidate: Ok(candidate),
        baseline: Ok(BASE.to_vec()),
    }
}

fn config_of(metrics: &[M]) -> JudgeConfig {
    JudgeConfig {
        metrics: metrics
            .iter()
            .map(|m| {
                (
                    m.name.to_owned(),
                    JudgeMetric {
                        queries: query(),
                        direction: m.direction,
                        weight: m.weight,
                        critical: m.critical,
                    },
                )
            })
            .collect(),
        confidence: 0.98,
        effect_size: 0.25,
        pass_score: 95.0,
        marginal_score: 75.0,
        max_holds: 2,
        min_samples: 3,
    }
}

fn judged(metrics: &[M]) -> Judgement {
    let samples = metrics
        .iter()
        .map(|m| (m.name.to_owned(), (m.candidate.clone(), m.baseline.clone())))
        .collect();
    judge(&config_of(metrics), &samples)
}

/// Judges `metrics` and compares each metric's classification, the score and the verdict.
fn check(
    name: &str,
    metrics: Vec<M>,
    classes: &[Classification],
    score: f64,
    verdict: JudgeVerdict,
) {
    let judgement = judged(&metrics);
    let got: Vec<Classification> = judgement.metrics.iter().map(|m| m.classification).collect();
    assert_eq!(
        got, classes,
        "{name}: classifications ({})",
        judgement.summary
    );
    assert!(
        (judgement.score - score).abs() < 1e-9,
        "{name}: score {} expected {score}",
        judgement.score
    );
    assert_eq!(judgement.verdict, verdict, "{name}: {}", judgement.summary);
}

#[test]
fn classification_score_and_verdict() {
    use Classification::{Error, High, Low, NoData, Pass};
    use JudgeVerdict as V;
    let with = |mut metric: M, f: &dyn Fn(&mut M)| {
        f(&mut metric);
        metric
    };
    check(
        "the same distribution passes",
        vec![m("a", alike()), m("b", alike())],
        &[Pass, Pass],
        100.0,
        V::Pass,
    );
    check(
        "50 % higher latency fails (score 50)",
        vec![m("a", scaled(1.5)), m("b", alike())],
        &[High, Pass],
        50.0,
        V::Fail,
    );
    check(
        "significant but within the effect tolerance passes",
        vec![m("a", scaled(1.1))],
        &[Pass],
        100.0,
        V::Pass,
    );
    check(
        "lower is not bad when increase is bad",
        vec![m("a", scaled(0.5))],
        &[Low],
        100.0,
        V::Pass,
    );
    check(
        "lower throughput fails when decrease is bad",
        vec![
            with(m("a", scaled(0.5)), &|m| m.direction = Direction::Decrease),
            m("b", alike()),
        ],
        &[Low, Pass],
        50.0,
        V::Fail,
    );
    check(
        "either direction: higher fails too",
        vec![
            with(m("a", scaled(1.5)), &|m| m.direction = Direction::Either),
            m("b", alike()),
        ],
        &[High, Pass],
        50.0,
        V::Fail,
    );
    check(
        "one failing of five is marginal (score 80)",
        vec![
            m("a", scaled(1.5)),
            m("b", alike()),
            m("c", alike()),
            m("d", alike()),
            m("e", alike()),
        ],
        &[High, Pass, Pass, Pass, Pass],
        80.0,
        V::Marginal,
    );
    check(
        "a failing critical metric fails whatever the score",
        vec![
            with(m("a", scaled(1.5)), &|m| m.critical = true),
            with(m("b", alike()), &|m| m.weight = 20.0),
        ],
        &[High, Pass],
        100.0 * 20.0 / 21.0,
        V::Fail,
    );
    check(
        "weights: a light failing metric is marginal (score 75)",
        vec![
            m("a", scaled(1.5)),
            with(m("b", alike()), &|m| m.weight = 3.0),
        ],
        &[High, Pass],
        75.0,
        V::Marginal,
    );
    check(
        "weights: a heavy failing metric fails (score 25)",
        vec![
            with(m("a", scaled(1.5)), &|m| m.weight = 3.0),
            m("b", alike()),
        ],
        &[High, Pass],
        25.0,
        V::Fail,
    );
    check(
        "too few samples: no data, left out of the score",
        vec![m("a", vec![150.0, 160.0]), m("b", alike())],
        &[NoData, Pass],
        100.0,
        V::Pass,
    );
    check(
        "no metric has data: marginal, not a pass",
        vec![
            m("a", vec![]),
            with(m("b", alike()), &|m| m.baseline = Ok(vec![1.0])),
        ],
        &[NoData, NoData],
        0.0,
        V::Marginal,
    );
    check(
        "a failed query is an error, left out of the score",
        vec![
            with(m("a", alike()), &|m| {
                m.baseline = Err("AccessDenied".into())
            }),
            m("b", scaled(1.5)),
        ],
        &[Error, High],
        0.0,
        V::Fail,
    );
    check(
        "errors from zero: a zero baseline median and a non-zero candidate (metrics in name order)",
        vec![
            with(
                m("errors", vec![2.0, 3.0, 1.0, 4.0, 2.0, 3.0, 5.0, 2.0]),
                &|m| m.baseline = Ok(vec![0.0; 8]),
            ),
            m("b", alike()),
        ],
        &[Pass, High],
        50.0,
        V::Fail,
    );
    check(
        "non-finite samples are dropped before counting",
        vec![m("a", vec![f64::NAN, f64::INFINITY, 100.0])],
        &[NoData],
        0.0,
        V::Marginal,
    );
}

#[test]
fn a_metric_judgement_carries_medians_effect_and_p_value() {
    let judgement = judged(&[m("latency", scaled(1.5))]);
    let metric = &judgement.metrics[0];
    assert_eq!(metric.candidate_median, Some(150.0));
    assert_eq!(metric.baseline_median, Some(100.0));
    assert_eq!(metric.effect, Some(0.5));
    // Fully separated 10 vs 10 with ties inside each side: scipy gives 0.000176611…
    let p = metric.p_value.expect("p");
    assert!((1.766e-4..1.767e-4).contains(&p), "{p}");
    assert!(metric.failed);
    assert_eq!(
        judgement.summary,
        "judge fail: score 0 (pass 95, marginal 75); failing: latency higher: candidate median 150, baseline 100, effect +50%, p 0.000177"
    );
    let no_data = judged(&[m("a", vec![])]);
    assert_eq!(
        no_data.summary,
        "judge marginal: no metric had data (no data is not a pass); not judged: a (no data)"
    );
    // It round-trips through the record.
    let json = serde_json::to_string(&judgement).expect("serializes");
    assert_eq!(
        serde_json::from_str::<Judgement>(&json).expect("deserializes"),
        judgement
    );
}

#[test]
fn requests_read_every_metric_on_both_sides() {
    let config = config_of(&[m("a", alike()), m("b", alike())]);
    let side = |color: &str| SideNames {
        color: color.into(),
        service: format!("api-{color}"),
        target: format!("{color}.example.com"),
    };
    let start = Utc.timestamp_opt(1_700_000_000, 0).single().expect("time");
    let end = start + chrono::Duration::seconds(600);
    let got: Vec<(String, Side, String)> =
        judge_requests(&config, &side("green"), &side("blue"), start, end)
            .into_iter()
            .map(|r| {
                assert_eq!((r.start, r.end), (start, end));
                let metric = r.queries[0].metric.clone().expect("metric");
                (r.check, r.side, metric.dimensions["TargetGroup"].clone())
            })
            .collect();
    assert_eq!(
        got,
        [
            ("a".into(), Side::Candidate, "green".into()),
            ("a".into(), Side::Baseline, "blue".into()),
            ("b".into(), Side::Candidate, "green".into()),
            ("b".into(), Side::Baseline, "blue".into()),
        ]
    );
}

#[test]
fn marginal_judgements_hold_the_step_until_max_holds() {
    let config = config_of(&[m("a", alike())]);
    let pass = judged(&[m("a", alike())]);
    let marginal = judged(&[m("a", vec![])]);
    let fail = judged(&[m("a", scaled(1.5))]);
    let (run, outcome) = after_judgement(&config, &AnalysisRun::default(), marginal.clone());
    assert_eq!(outcome, JudgeOutcome::Hold { holds: 1 });
    assert_eq!(run.judgement.as_ref(), Some(&marginal));
    let (run, outcome) = after_judgement(&config, &run, marginal.clone());
    assert_eq!(outcome, JudgeOutcome::Hold { holds: 2 });
    let (held, outcome) = after_judgement(&config, &run, marginal.clone());
    assert_eq!(
        outcome,
        JudgeOutcome::Fail {
            reason: "judge marginal 3 times in a row (max_holds 2): judge marginal: no metric had data (no data is not a pass); not judged: a (no data)".into()
        }
    );
    assert_eq!(held.holds, 3);
    // A pass resets the holds.
    let (run, outcome) = after_judgement(&config, &run, pass);
    assert_eq!((outcome, run.holds), (JudgeOutcome::Pass, 0));
    // A failing judgement fails at once, with the failing metrics in the reason.
    let (_, outcome) = after_judgement(&config, &run, fail.clone());
    assert_eq!(
        outcome,
        JudgeOutcome::Fail {
            reason: fail.summary
        }
    );
}
