//! Retention tables. The oracle is restic itself: its `TestApplyPolicy` snapshot list and the
//! golden files in `internal/restic/testdata/policy_keep_snapshots_<n>`, the 0.16 changelog
//! (`changelog/0.16.0/issue-3624`: keep the oldest snapshot while counts are left), the worked
//! example in the `forget` documentation, and a case from the restic forum.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use super::*;

/// restic's `TestApplyPolicy` input (`internal/restic/snapshot_policy_test.go`), in its order.
/// Tags and paths only tell equal times apart there; they play no part in these policies.
const RESTIC_TIMES: &[&str] = &[
    "2014-09-01 10:20:30",
    "2014-09-02 10:20:30",
    "2014-09-05 10:20:30",
    "2014-09-06 10:20:30",
    "2014-09-08 10:20:30",
    "2014-09-09 10:20:30",
    "2014-09-10 10:20:30",
    "2014-09-11 10:20:30",
    "2014-09-20 10:20:30",
    "2014-09-22 10:20:30",
    "2014-08-08 10:20:30",
    "2014-08-10 10:20:30",
    "2014-08-12 10:20:30",
    "2014-08-13 10:20:30",
    "2014-08-13 10:20:30.1",
    "2014-08-15 10:20:30",
    "2014-08-18 10:20:30",
    "2014-08-20 10:20:30",
    "2014-08-21 10:20:30",
    "2014-08-22 10:20:30",
    "2014-10-01 10:20:30",
    "2014-10-02 10:20:30",
    "2014-10-05 10:20:30",
    "2014-10-06 10:20:30",
    "2014-10-08 10:20:30",
    "2014-10-09 10:20:30",
    "2014-10-10 10:20:30",
    "2014-10-11 10:20:30",
    "2014-10-20 10:20:30",
    "2014-10-22 10:20:30",
    "2014-11-08 10:20:30",
    "2014-11-10 10:20:30",
    "2014-11-12 10:20:30",
    "2014-11-13 10:20:30",
    "2014-11-13 10:20:30.1",
    "2014-11-15 10:20:30",
    "2014-11-18 10:20:30",
    "2014-11-20 10:20:30",
    "2014-11-21 10:20:30",
    "2014-11-22 10:20:30",
    "2015-09-01 10:20:30",
    "2015-09-02 10:20:30",
    "2015-09-05 10:20:30",
    "2015-09-06 10:20:30",
    "2015-09-08 10:20:30",
    "2015-09-09 10:20:30",
    "2015-09-10 10:20:30",
    "2015-09-11 10:20:30",
    "2015-09-20 10:20:30",
    "2015-09-22 10:20:30",
    "2015-08-08 10:20:30",
    "2015-08-10 10:20:30",
    "2015-08-12 10:20:30",
    "2015-08-13 10:20:30",
    "2015-08-13 10:20:30.1",
    "2015-08-15 10:20:30",
    "2015-08-18 10:20:30",
    "2015-08-20 10:20:30",
    "2015-08-21 10:20:30",
    "2015-08-22 10:20:30",
    "2015-10-01 10:20:30",
    "2015-10-02 10:20:30",
    "2015-10-05 10:20:30",
    "2015-10-06 10:20:30",
    "2015-10-08 10:20:30",
    "2015-10-09 10:20:30",
    "2015-10-10 10:20:30",
    "2015-10-11 10:20:30",
    "2015-10-20 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30",
    "2015-11-08 10:20:30",
    "2015-11-10 10:20:30",
    "2015-11-12 10:20:30",
    "2015-11-13 10:20:30",
    "2015-11-13 10:20:30.1",
    "2015-11-15 10:20:30",
    "2015-11-18 10:20:30",
    "2015-11-20 10:20:30",
    "2015-11-21 10:20:30",
    "2015-11-22 10:20:30",
    "2016-01-01 01:02:03",
    "2016-01-01 01:03:03",
    "2016-01-01 07:08:03",
    "2016-01-03 07:02:03",
    "2016-01-04 10:23:03",
    "2016-01-04 11:23:03",
    "2016-01-04 12:23:03",
    "2016-01-04 12:24:03",
    "2016-01-04 12:28:03",
    "2016-01-04 12:30:03",
    "2016-01-04 16:23:03",
    "2016-01-05 09:02:03",
    "2016-01-06 08:02:03",
    "2016-01-07 10:02:03",
    "2016-01-08 20:02:03",
    "2016-01-09 21:02:03",
    "2016-01-12 21:02:03",
    "2016-01-12 21:08:03",
    "2016-01-18 12:02:03",
];

fn at(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ"))
        .expect("test time")
        .and_utc()
}

fn now() -> DateTime<Utc> {
    at("2026-11-24 00:00:00")
}

fn restic_snapshots() -> Vec<Snapshot> {
    RESTIC_TIMES
        .iter()
        .enumerate()
        .map(|(i, time)| Snapshot {
            id: format!("s{i:03}"),
            time: at(time),
            successful: true,
        })
        .collect()
}

fn count(n: u32) -> KeepCount {
    KeepCount::Count(n)
}

/// One kept snapshot of a golden file: its time, its matches and its counters
/// (last, hourly, daily, weekly, monthly, yearly; `U` is unlimited, restic's -1).
type Kept = (&'static str, &'static [&'static str], [i64; 6]);
const U: i64 = -1;

fn counters(values: [i64; 6]) -> Counters {
    let c = |v: i64| {
        if v == U {
            KeepCount::Unlimited
        } else {
            KeepCount::Count(u32::try_from(v).expect("count"))
        }
    };
    Counters {
        last: c(values[0]),
        hourly: c(values[1]),
        daily: c(values[2]),
        weekly: c(values[3]),
        monthly: c(values[4]),
        yearly: c(values[5]),
    }
}

/// Applies `policy` to restic's list and compares the kept snapshots, their reasons and
/// counters with a golden file.
fn check_golden(name: &str, policy: RetentionPolicy, expected: &[Kept]) {
    let outcome = apply(&restic_snapshots(), &policy, now());
    assert_eq!(outcome.decisions.len(), RESTIC_TIMES.len());
    let got: Vec<(DateTime<Utc>, Vec<String>, Counters)> = outcome
        .kept()
        .map(|d| {
            (
                d.time,
                d.reasons.iter().map(ToString::to_string).collect(),
                d.counters,
            )
        })
        .collect();
    let want: Vec<(DateTime<Utc>, Vec<String>, Counters)> = expected
        .iter()
        .map(|(time, matches, values)| {
            (
                at(time),
                matches.iter().map(|m| (*m).to_owned()).collect(),
                counters(*values),
            )
        })
        .collect();
    assert_eq!(got, want, "golden {name}");
}

#[test]
fn restic_input_has_all_snapshots() {
    assert_eq!(RESTIC_TIMES.len(), 103);
}

#[test]
fn golden_9_last_5_daily_5() {
    check_golden(
        "policy_keep_snapshots_9",
        RetentionPolicy {
            keep_last: count(5),
            keep_daily: count(5),
            ..Default::default()
        },
        &[
            (
                "2016-01-18T12:02:03Z",
                &["last snapshot", "daily snapshot"],
                [4, 0, 4, 0, 0, 0],
            ),
            (
                "2016-01-12T21:08:03Z",
                &["last snapshot", "daily snapshot"],
                [3, 0, 3, 0, 0, 0],
            ),
            (
                "2016-01-12T21:02:03Z",
                &["last snapshot"],
                [2, 0, 3, 0, 0, 0],
            ),
            (
                "2016-01-09T21:02:03Z",
                &["last snapshot", "daily snapshot"],
                [1, 0, 2, 0, 0, 0],
            ),
            (
                "2016-01-08T20:02:03Z",
                &["last snapshot", "daily snapshot"],
                [0, 0, 1, 0, 0, 0],
            ),
            (
                "2016-01-07T10:02:03Z",
                &["daily snapshot"],
                [0, 0, 0, 0, 0, 0],
            ),
        ],
    );
}

#[test]
fn golden_10_last_2_daily_10() {
    check_golden(
        "policy_keep_snapshots_10",
        RetentionPolicy {
            keep_last: count(2),
            keep_daily: count(10),
            ..Default::default()
        },
        &[
            (
                "2016-01-18T12:02:03Z",
                &["last snapshot", "daily snapshot"],
                [1, 0, 9, 0, 0, 0],
            ),
            (
                "2016-01-12T21:08:03Z",
                &["last snapshot", "daily snapshot"],
                [0, 0, 8, 0, 0, 0],
            ),
            (
                "2016-01-09T21:02:03Z",
                &["daily snapshot"],
                [0, 0, 7, 0, 0, 0],
            ),
            (
                "2016-01-08T20:02:03Z",
                &["daily snapshot"],
                [0, 0, 6, 0, 0, 0],
            ),
            (
                "2016-01-07T10:02:03Z",
                &["daily snapshot"],
                [0, 0, 5, 0, 0, 0],
            ),
            (
                "2016-01-06T08:02:03Z",
                &["daily snapshot"],
                [0, 0, 4, 0, 0, 0],
            ),
            (
                "2016-01-05T09:02:03Z",
                &["daily snapshot"],
                [0, 0, 3, 0, 0, 0],
            ),
            (
                "2016-01-04T16:23:03Z",
                &["daily snapshot"],
                [0, 0, 2, 0, 0, 0],
            ),
            (
                "2016-01-03T07:02:03Z",
                &["daily snapshot"],
                [0, 0, 1, 0, 0, 0],
            ),
            (
                "2016-01-01T07:08:03Z",
                &["daily snapshot"],
                [0, 0, 0, 0, 0, 0],
            ),
        ],
    );
}

#[test]
fn golden_12_weekly_4() {
    check_golden(
        "policy_keep_snapshots_12",
        RetentionPolicy {
            keep_weekly: count(4),
            ..Default::default()
        },
        &[
            (
                "2016-01-18T12:02:03Z",
                &["weekly snapshot"],
                [0, 0, 0, 3, 0, 0],
            ),
            (
                "2016-01-12T21:08:03Z",
                &["weekly snapshot"],
                [0, 0, 0, 2, 0, 0],
            ),
            (
                "2016-01-09T21:02:03Z",
                &["weekly snapshot"],
                [0, 0, 0, 1, 0, 0],
            ),
            (
                "2016-01-03T07:02:03Z",
                &["weekly snapshot"],
                [0, 0, 0, 0, 0, 0],
            ),
        ],
    );
}

#[test]
fn golden_13_daily_3_weekly_4_iso_weeks() {
    // 2016-01-03 is a Sunday: ISO week 2015-W53, so it is the fourth weekly snapshot.
    check_golden(
        "policy_keep_snapshots_13",
        RetentionPolicy {
            keep_daily: count(3),
            keep_weekly: count(4),
            ..Default::default()
        },
        &[
            (
                "2016-01-18T12:02:03Z",
                &["daily snapshot", "weekly snapshot"],
                [0, 0, 2, 3, 0, 0],
            ),
            (
                "2016-01-12T21:08:03Z",
                &["daily snapshot", "weekly snapshot"],
                [0, 0, 1, 2, 0, 0],
            ),
            (
                "2016-01-09T21:02:03Z",
                &["daily snapshot", "weekly snapshot"],
                [0, 0, 0, 1, 0, 0],
            ),
            (
                "2016-01-03T07:02:03Z",
                &["weekly snapshot"],
                [0, 0, 0, 0, 0, 0],
            ),
        ],
    );
}

#[test]
fn golden_16_yearly_10_keeps_the_oldest_while_counts_are_left() {
    // policy_keep_snapshots_16 (golden file before 0.16) keeps the three yearly snapshots; since
    // 0.16 (issue 3624) the oldest snapshot is kept as well, because 7 yearly counts are left.
    check_golden(
        "policy_keep_snapshots_16 + 0.16",
        RetentionPolicy {
            keep_yearly: count(10),
            ..Default::default()
        },
        &[
            (
                "2016-01-18T12:02:03Z",
                &["yearly snapshot"],
                [0, 0, 0, 0, 0, 9],
            ),
            (
                "2015-11-22T10:20:30Z",
                &["yearly snapshot"],
                [0, 0, 0, 0, 0, 8],
            ),
            (
                "2014-11-22T10:20:30Z",
                &["yearly snapshot"],
                [0, 0, 0, 0, 0, 7],
            ),
            (
                "2014-08-08T10:20:30Z",
                &["yearly snapshot"],
                [0, 0, 0, 0, 0, 6],
            ),
        ],
    );
}

#[test]
fn golden_17_daily_weekly_monthly_yearly() {
    // policy_keep_snapshots_17, plus the oldest snapshot (0.16: 7 yearly counts are left).
    check_golden(
        "policy_keep_snapshots_17 + 0.16",
        RetentionPolicy {
            keep_daily: count(7),
            keep_weekly: count(2),
            keep_monthly: count(3),
            keep_yearly: count(10),
            ..Default::default()
        },
        &[
            (
                "2016-01-18T12:02:03Z",
                &[
                    "daily snapshot",
                    "weekly snapshot",
                    "monthly snapshot",
                    "yearly snapshot",
                ],
                [0, 0, 6, 1, 2, 9],
            ),
            (
                "2016-01-12T21:08:03Z",
                &["daily snapshot", "weekly snapshot"],
                [0, 0, 5, 0, 2, 9],
            ),
            (
                "2016-01-09T21:02:03Z",
                &["daily snapshot"],
                [0, 0, 4, 0, 2, 9],
            ),
            (
                "2016-01-08T20:02:03Z",
                &["daily snapshot"],
                [0, 0, 3, 0, 2, 9],
            ),
            (
                "2016-01-07T10:02:03Z",
                &["daily snapshot"],
                [0, 0, 2, 0, 2, 9],
            ),
            (
                "2016-01-06T08:02:03Z",
                &["daily snapshot"],
                [0, 0, 1, 0, 2, 9],
            ),
            (
                "2016-01-05T09:02:03Z",
                &["daily snapshot"],
                [0, 0, 0, 0, 2, 9],
            ),
            (
                "2015-11-22T10:20:30Z",
                &["monthly snapshot", "yearly snapshot"],
                [0, 0, 0, 0, 1, 8],
            ),
            (
                "2015-10-22T10:20:30Z",
                &["monthly snapshot"],
                [0, 0, 0, 0, 0, 8],
            ),
            (
                "2014-11-22T10:20:30Z",
                &["yearly snapshot"],
                [0, 0, 0, 0, 0, 7],
            ),
            (
                "2014-08-08T10:20:30Z",
                &["yearly snapshot"],
                [0, 0, 0, 0, 0, 6],
            ),
        ],
    );
}

#[test]
fn golden_39_unlimited_monthly_and_yearly() {
    // policy_keep_snapshots_39 (restic ≥ 0.16): {Daily: 3, Weekly: 2, Monthly: -1, Yearly: -1}.
    // The oldest snapshot is kept by both unlimited rules although its month already has one.
    check_golden(
        "policy_keep_snapshots_39",
        RetentionPolicy {
            keep_daily: count(3),
            keep_weekly: count(2),
            keep_monthly: KeepCount::Unlimited,
            keep_yearly: KeepCount::Unlimited,
            ..Default::default()
        },
        &[
            (
                "2016-01-18T12:02:03Z",
                &[
                    "daily snapshot",
                    "weekly snapshot",
                    "monthly snapshot",
                    "yearly snapshot",
                ],
                [0, 0, 2, 1, U, U],
            ),
            (
                "2016-01-12T21:08:03Z",
                &["daily snapshot", "weekly snapshot"],
                [0, 0, 1, 0, U, U],
            ),
            (
                "2016-01-09T21:02:03Z",
                &["daily snapshot"],
                [0, 0, 0, 0, U, U],
            ),
            (
                "2015-11-22T10:20:30Z",
                &["monthly snapshot", "yearly snapshot"],
                [0, 0, 0, 0, U, U],
            ),
            (
                "2015-10-22T10:20:30Z",
                &["monthly snapshot"],
                [0, 0, 0, 0, U, U],
            ),
            (
                "2015-09-22T10:20:30Z",
                &["monthly snapshot"],
                [0, 0, 0, 0, U, U],
            ),
            (
                "2015-08-22T10:20:30Z",
                &["monthly snapshot"],
                [0, 0, 0, 0, U, U],
            ),
            (
                "2014-11-22T10:20:30Z",
                &["monthly snapshot", "yearly snapshot"],
                [0, 0, 0, 0, U, U],
            ),
            (
                "2014-10-22T10:20:30Z",
                &["monthly snapshot"],
                [0, 0, 0, 0, U, U],
            ),
            (
                "2014-09-22T10:20:30Z",
                &["monthly snapshot"],
                [0, 0, 0, 0, U, U],
            ),
            (
                "2014-08-22T10:20:30Z",
                &["monthly snapshot"],
                [0, 0, 0, 0, U, U],
            ),
            (
                "2014-08-08T10:20:30Z",
                &["monthly snapshot", "yearly snapshot"],
                [0, 0, 0, 0, U, U],
            ),
        ],
    );
}

#[test]
fn golden_36_last_unlimited_keeps_everything() {
    let outcome = apply(
        &restic_snapshots(),
        &RetentionPolicy {
            keep_last: KeepCount::Unlimited,
            ..Default::default()
        },
        now(),
    );
    assert_eq!(outcome.kept().count(), RESTIC_TIMES.len());
    assert!(outcome
        .kept()
        .all(|d| d.reasons == [KeepReason::Last] && d.counters.last == KeepCount::Unlimited));
}

#[test]
fn golden_26_within_1y1d1m_is_calendar_arithmetic_from_the_newest() {
    // policy_keep_snapshots_26: 2016-01-18 12:02:03 minus 1y1m1d is 2014-12-17 12:02:03, so
    // every 2015 and 2016 snapshot is kept and nothing from 2014.
    let outcome = apply(
        &restic_snapshots(),
        &RetentionPolicy {
            keep_within: Some("1y1d1m".parse().expect("duration")),
            ..Default::default()
        },
        now(),
    );
    let kept: Vec<DateTime<Utc>> = outcome.kept().map(|d| d.time).collect();
    let mut want: Vec<DateTime<Utc>> = RESTIC_TIMES
        .iter()
        .filter(|t| !t.starts_with("2014"))
        .map(|t| at(t))
        .collect();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(kept, want);
    assert!(outcome.kept().all(|d| d
        .reasons
        .iter()
        .map(ToString::to_string)
        .eq(["within 1y1m1d".to_owned()])));
}

#[test]
fn within_is_measured_from_the_newest_snapshot_not_from_now() {
    // 13d23h (restic's policy 27) before 2016-01-18 12:02:03 is 2016-01-04 13:02:03.
    let outcome = apply(
        &restic_snapshots(),
        &RetentionPolicy {
            keep_within: Some("13d23h".parse().expect("duration")),
            ..Default::default()
        },
        now(),
    );
    let kept: Vec<String> = outcome
        .kept()
        .map(|d| d.time.format("%Y-%m-%d %H:%M").to_string())
        .collect();
    assert_eq!(
        kept,
        [
            "2016-01-18 12:02",
            "2016-01-12 21:08",
            "2016-01-12 21:02",
            "2016-01-09 21:02",
            "2016-01-08 20:02",
            "2016-01-07 10:02",
            "2016-01-06 08:02",
            "2016-01-05 09:02",
            "2016-01-04 16:23",
        ]
    );
}

#[test]
fn snapshots_in_the_future_do_not_count_as_newest() {
    let mut snapshots = restic_snapshots();
    snapshots.push(Snapshot {
        id: "future".into(),
        time: at("2030-01-01 00:00:00"),
        successful: true,
    });
    let outcome = apply(
        &snapshots,
        &RetentionPolicy {
            keep_within: Some("1d".parse().expect("duration")),
            ..Default::default()
        },
        at("2020-01-01 00:00:00"),
    );
    // The window ends at the newest snapshot before now (2016-01-18); the future one is after
    // the window's start, so restic keeps it too.
    assert_eq!(outcome.keep_ids(), ["future", "s102"]);
}

#[test]
fn forum_example_keep_monthly_4_with_one_month_of_snapshots() {
    // forum.restic.net "Help with forget policy": four snapshots in January 2024 and
    // `--keep-monthly 4` keep two: the newest (the month's) and the oldest (counts left).
    let snapshots: Vec<Snapshot> = [
        ("8910a903", "2024-01-02 13:42:44"),
        ("ab49e6f7", "2024-01-03 01:04:38"),
        ("209e47d4", "2024-01-04 20:09:54"),
        ("acdde683", "2024-01-04 20:20:32"),
    ]
    .iter()
    .map(|(id, time)| Snapshot {
        id: (*id).into(),
        time: at(time),
        successful: true,
    })
    .collect();
    let outcome = apply(
        &snapshots,
        &RetentionPolicy {
            keep_monthly: count(4),
            ..Default::default()
        },
        now(),
    );
    assert_eq!(outcome.keep_ids(), ["acdde683", "8910a903"]);
    assert_eq!(outcome.remove_ids(), ["209e47d4", "ab49e6f7"]);
}

#[test]
fn documented_example_daily_backups_for_a_hundred_years() {
    // The forget documentation: daily backups for 100 years with `--keep-daily 7
    // --keep-weekly 5 --keep-monthly 12 --keep-yearly 75` keep 7 dailies, then 4 more weekly
    // (the dailies contain one), 11 or 12 more monthly and 75 yearly in all.
    let start = NaiveDate::from_ymd_opt(1926, 1, 1).expect("date");
    let snapshots: Vec<Snapshot> = (0..36_525)
        .map(|day| Snapshot {
            id: format!("d{day:05}"),
            time: (start + TimeDelta::days(day))
                .and_hms_opt(5, 0, 0)
                .expect("time")
                .and_utc(),
            successful: true,
        })
        .collect();
    let outcome = apply(
        &snapshots,
        &RetentionPolicy {
            keep_daily: count(7),
            keep_weekly: count(5),
            keep_monthly: count(12),
            keep_yearly: count(75),
            ..Default::default()
        },
        now(),
    );
    let with = |reason: KeepReason| {
        outcome
            .kept()
            .filter(|d| d.reasons.contains(&reason))
            .count()
    };
    assert_eq!(with(KeepReason::Daily), 7);
    assert_eq!(with(KeepReason::Weekly), 5);
    assert_eq!(with(KeepReason::Monthly), 12);
    assert_eq!(with(KeepReason::Yearly), 75);
    let kept = outcome.kept().count();
    assert!(
        (7 + 4 + 11 + 74 - 1..=7 + 5 + 12 + 75).contains(&kept),
        "{kept}"
    );
}

#[test]
fn empty_policy_keeps_everything() {
    let outcome = apply(&restic_snapshots(), &RetentionPolicy::default(), now());
    assert_eq!(outcome.kept().count(), RESTIC_TIMES.len());
    assert!(outcome
        .kept()
        .all(|d| d.reasons == [KeepReason::EmptyPolicy]));
}

#[test]
fn newest_successful_snapshot_is_never_removed() {
    let snapshots = vec![
        Snapshot {
            id: "partial".into(),
            time: at("2026-01-02 03:00:00"),
            successful: false,
        },
        Snapshot {
            id: "good".into(),
            time: at("2026-01-01 03:00:00"),
            successful: true,
        },
        Snapshot {
            id: "older".into(),
            time: at("2025-12-31 03:00:00"),
            successful: true,
        },
    ];
    let outcome = apply(
        &snapshots,
        &RetentionPolicy {
            keep_last: count(1),
            ..Default::default()
        },
        now(),
    );
    assert_eq!(outcome.keep_ids(), ["partial", "good"]);
    assert_eq!(outcome.decisions[1].reasons, [KeepReason::NewestSuccessful]);
    assert_eq!(outcome.remove_ids(), ["older"]);
}

#[test]
fn periods_are_utc() {
    // 23:30 and 00:30 UTC are different UTC days, whatever a local zone would say.
    // In UTC+1 "b" and "a" would share 2026-03-02 and "z" would be the second daily.
    let snapshots: Vec<Snapshot> = [
        ("b", "2026-03-02 00:30:00"),
        ("a", "2026-03-01 23:30:00"),
        ("z", "2026-03-01 10:00:00"),
    ]
    .iter()
    .map(|(id, time)| Snapshot {
        id: (*id).into(),
        time: at(time),
        successful: true,
    })
    .collect();
    let outcome = apply(
        &snapshots,
        &RetentionPolicy {
            keep_daily: count(2),
            ..Default::default()
        },
        now(),
    );
    assert_eq!(outcome.keep_ids(), ["b", "a"]);
}

#[test]
fn durations_parse_print_and_subtract_like_restic() {
    let cases = [
        ("30d", "30d"),
        ("12h", "12h"),
        ("1y2m3d4h", "1y2m3d4h"),
        ("1y1d1m", "1y1m1d"),
    ];
    for (text, shown) in cases {
        let d: RetentionDuration = text.parse().expect(text);
        assert_eq!(d.to_string(), shown);
    }
    for bad in ["", "30", "d", "3w", "1d2d", "30 d", "-1d"] {
        assert!(bad.parse::<RetentionDuration>().is_err(), "{bad:?}");
    }
    // Go's AddDate: one month before March 31 is "February 31", which is March 3 (2015).
    let d: RetentionDuration = "1m".parse().expect("1m");
    assert_eq!(
        d.before(at("2015-03-31 10:00:00")),
        Some(at("2015-03-03 10:00:00"))
    );
    let d: RetentionDuration = "1y2m3d3h".parse().expect("duration");
    assert_eq!(
        d.before(at("2016-01-18 12:02:03")),
        Some(at("2014-11-15 09:02:03"))
    );
}

#[test]
fn keep_counts_deserialize_numbers_and_unlimited() {
    let policy: RetentionPolicy = serde_json::from_str(
        r#"{"keep_daily": 7, "keep_yearly": "unlimited", "keep_within": "30d"}"#,
    )
    .expect("policy");
    assert_eq!(policy.keep_daily, count(7));
    assert_eq!(policy.keep_yearly, KeepCount::Unlimited);
    assert_eq!(policy.keep_within.map(|d| d.days), Some(30));
    assert_eq!(
        serde_json::to_string(&policy).expect("json"),
        r#"{"keep_daily":7,"keep_yearly":"unlimited","keep_within":"30d"}"#
    );
    for bad in [
        r#"{"keep_daily": -1}"#,
        r#"{"keep_daily": "all"}"#,
        r#"{"keep_dayly": 1}"#,
    ] {
        assert!(
            serde_json::from_str::<RetentionPolicy>(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn lock_until_never_outlasts_keep_within() {
    let policy = |within: &str| RetentionPolicy {
        keep_daily: count(1),
        keep_within: Some(within.parse().expect("duration")),
        ..Default::default()
    };
    assert_eq!(
        lock_until(&RetentionPolicy::default(), at("2026-01-01 00:00:00")),
        None
    );
    assert_eq!(
        lock_until(&policy("30d"), at("2026-01-01 00:00:00")),
        Some(at("2026-01-31 00:00:00"))
    );
    // Whatever the calendar, a snapshot is still within `keep_within` of any newest snapshot
    // taken before its lock date, so prune never has to delete a locked object.
    for within in ["1m", "2m3d", "1y", "1y1m", "13d23h", "1y2m3d4h"] {
        let policy = policy(within);
        let duration = policy.keep_within.expect("within");
        for day in 0..(366 * 2) {
            let taken = at("2023-01-01 10:00:00") + TimeDelta::days(day);
            let lock = lock_until(&policy, taken).expect("lock");
            let newest = lock - TimeDelta::seconds(1);
            let start = duration.before(newest).expect("start");
            assert!(
                taken > start,
                "{within}: taken {taken}, newest {newest}, start {start}"
            );
        }
    }
}
