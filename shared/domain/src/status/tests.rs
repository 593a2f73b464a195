//! Tables of record → view: the step, its traffic share and bake clock (running and paused),
//! the last rollback, and schedule freshness.

use super::*;
use crate::deploy::machine::tests::{at, record_at};
use crate::deploy::Paused;
use crate::deployment::RollbackMark;

#[test]
fn a_service_without_a_record_is_new() {
    let view = service("api", Strategy::Canary, None, at(0));
    assert_eq!(view.status, "NEW");
    assert!(view.step.is_none() && view.stable.is_none());
}

#[test]
fn the_step_its_traffic_share_and_the_bake_clock() {
    // Canary: 0 register, 1 deploy, 2 verify, 3 shift 10, 4 bake, 5 shift 50, 6 bake, …
    let ready = Phase::Ready;
    let cases: [(usize, i64, &str, u8, Option<i64>); 4] = [
        (1, 100, "step 2", 0, None),
        (3, 100, "step 4", 0, None),
        // The bake started at 100 s; 60 s later, what is left of it.
        (4, 160, "step 5", 10, Some(-60)),
        (6, 100, "step 7", 50, Some(0)),
    ];
    for (index, now, label, percent, elapsed) in cases {
        let mut record = record_at(index, ready.clone());
        record.weights.clear();
        let view = service("api", Strategy::Canary, Some(&record), at(now));
        let step = view.step.expect(label);
        assert_eq!(step.index, index + 1, "{label}");
        assert_eq!(step.total, 10, "{label}");
        assert_eq!(step.percent, percent, "{label}");
        match (elapsed, record.progress.as_ref().map(|p| &p.steps[index])) {
            (Some(offset), Some(Step::Bake { seconds })) => {
                let left = i64::from(*seconds) + offset;
                assert_eq!(step.seconds_left, Some(left), "{label}");
                assert_eq!(
                    step.bake_ends_at,
                    Some(at(100) + Duration::seconds(i64::from(*seconds))),
                    "{label}"
                );
            }
            _ => assert_eq!(step.seconds_left, None, "{label}"),
        }
    }
}

#[test]
fn a_paused_bake_keeps_what_was_left_when_it_was_paused() {
    let mut record = record_at(4, Phase::Ready);
    let Some(Step::Bake { seconds }) = record.progress.as_ref().map(|p| p.steps[4].clone()) else {
        panic!("step 4 is a bake");
    };
    if let Some(p) = record.progress.as_mut() {
        p.paused = Some(Paused {
            by: "arn:aws:iam::1:user/ann".into(),
            at: at(130),
            reason: "looking".into(),
        });
    }
    for now in [140, 10_000] {
        let view = service("api", Strategy::Canary, Some(&record), at(now));
        assert!(view.paused);
        let step = view.step.expect("in flight");
        assert_eq!(step.seconds_left, Some(i64::from(seconds) - 30));
        assert_eq!(step.bake_ends_at, None);
    }
}

#[test]
fn a_finished_deployment_shows_no_step_and_names_who_rolled_back() {
    let mut record = record_at(4, Phase::Ready);
    record.status = DeploymentStatus::RolledBack;
    record.rollback = Some(RollbackMark {
        trigger_id: "t1".into(),
        alarm: "api-5xx".into(),
        reason: "5xx above 1%".into(),
        started_at: at(200),
        completed_at: Some(at(210)),
        from: None,
        by: None,
    });
    let view = service("api", Strategy::Canary, Some(&record), at(300));
    assert_eq!(view.status, "ROLLED_BACK");
    assert!(view.step.is_none() && !view.paused);
    let rollback = view.last_rollback.expect("rolled back");
    assert_eq!(rollback.by, "alarm:api-5xx");
    assert_eq!(rollback.reason, "5xx above 1%");
    record.rollback.as_mut().expect("mark").by = Some("arn:aws:iam::1:user/ann".into());
    let view = service("api", Strategy::Canary, Some(&record), at(300));
    assert_eq!(
        view.last_rollback.expect("rolled back").by,
        "arn:aws:iam::1:user/ann"
    );
}

#[test]
fn schedule_intervals() {
    let cases = [
        ("rate(1 day)", Some(Duration::days(1))),
        ("rate(6 hours)", Some(Duration::hours(6))),
        ("rate(15 minutes)", Some(Duration::minutes(15))),
        ("rate(0 hours)", None),
        ("cron(0 3 * * ? *)", Some(Duration::days(1))),
        ("cron(0 */4 * * ? *)", Some(Duration::hours(1))),
        ("cron(30 4 ? * SUN *)", Some(Duration::weeks(1))),
        ("cron(0 2 1 * ? *)", Some(Duration::days(31))),
        ("at(2026-01-01T00:00:00)", None),
        ("every day", None),
    ];
    for (expr, want) in cases {
        assert_eq!(schedule_interval(expr), want, "{expr}");
    }
    assert_eq!(max_age("rate(1 day)"), Some(Duration::hours(36)));
    assert_eq!(max_age("rate(15 minutes)"), Some(Duration::minutes(75)));
}

#[test]
fn backup_freshness_against_the_schedule() {
    let daily = "cron(0 3 * * ? *)";
    let snapshot = |age_hours: i64| Some(("s1".to_owned(), at(0), 3, 300)).map(|s| (s, age_hours));
    for (age_hours, fresh) in [(1, true), (36, true), (37, false)] {
        let ((id, taken, objects, bytes), age) = snapshot(age_hours).expect("snapshot");
        let view = backup_plan(
            "nightly",
            daily,
            Some((id, taken, objects, bytes)),
            None,
            taken + Duration::hours(age),
        );
        assert_eq!(view.fresh, fresh, "{age_hours} h");
        assert_eq!(view.latest.expect("latest").age_seconds, age * 3600);
    }
    let none = backup_plan("nightly", daily, None, None, at(0));
    assert!(!none.fresh && none.latest.is_none());
    assert_eq!(none.max_age_seconds, Some(36 * 3600));
}

#[test]
fn spans_in_words() {
    for (seconds, words) in [
        (-5, "0s"),
        (59, "59s"),
        (190, "3m 10s"),
        (7500, "2h 5m"),
        (273_600, "3d 4h"),
    ] {
        assert_eq!(human_seconds(seconds), words);
    }
}

#[test]
fn the_traffic_share_is_the_candidate_weight_as_last_written() {
    let mut record = record_at(4, Phase::Ready);
    let target = record
        .progress
        .as_ref()
        .and_then(|p| p.target.clone())
        .expect("a traffic strategy has a target");
    record.weights = BTreeMap::from([(target, 25), ("blue".to_owned(), 75)]);
    let view = service("api", Strategy::Canary, Some(&record), at(120));
    assert_eq!(view.step.expect("in flight").percent, 25);
}
