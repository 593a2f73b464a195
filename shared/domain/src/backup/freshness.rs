//! How old a plan's latest snapshot may be before verification fails.
//!
//! **The rule.** A plan's backup schedule gives its period: `rate(N unit)` is N units; a
//! `cron(…)` expression is bounded by its coarsest restricted field — a restricted year has no
//! bound, a restricted month 366 days, a restricted day of month 31 days, a restricted day of
//! week 7 days, restricted hours 1 day, restricted minutes 1 hour, otherwise 1 minute (an upper
//! bound of the longest gap between two runs); a one-time `at(…)` has none. The latest snapshot
//! may be at most **2 × the period + 1 hour** old: one scheduled run may fail without an alarm
//! (its retries and the next run catch up), the hour covers the run's own duration and the
//! Scheduler's flexible window. A plan with no snapshot at all always fails verification; a
//! plan whose schedule has no period is only checked for having one.

use chrono::{DateTime, Duration, Utc};

/// The slack added to twice the period.
pub const SLACK: Duration = Duration::hours(1);

/// The longest time between two runs of a schedule expression, when it has one.
pub fn schedule_period(expression: &str) -> Option<Duration> {
    let expression = expression.trim();
    if let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let mut parts = inner.split_whitespace();
        let value: i64 = parts.next()?.parse().ok().filter(|v| *v > 0)?;
        let unit = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        return match unit.trim_end_matches('s') {
            "minute" => Some(Duration::minutes(value)),
            "hour" => Some(Duration::hours(value)),
            "day" => Some(Duration::days(value)),
            _ => None,
        };
    }
    if let Some(inner) = expression
        .strip_prefix("cron(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, day_of_month, month, day_of_week, year] = fields.as_slice() else {
            return None;
        };
        let open = |field: &str| field == "*" || field == "?";
        return if !open(year) {
            None
        } else if !open(month) {
            Some(Duration::days(366))
        } else if !open(day_of_month) {
            Some(Duration::days(31))
        } else if !open(day_of_week) {
            Some(Duration::days(7))
        } else if !open(hours) {
            Some(Duration::days(1))
        } else if !open(minutes) {
            Some(Duration::hours(1))
        } else {
            Some(Duration::minutes(1))
        };
    }
    None
}

/// How old the latest snapshot of a plan backed up on `schedule` may be: 2 × its period plus
/// [`SLACK`]; `None` when the schedule has no period.
pub fn allowed_age(schedule: &str) -> Option<Duration> {
    schedule_period(schedule).map(|period| period * 2 + SLACK)
}

/// What is wrong with a plan's latest snapshot, judged at `now`: none at all, or one older than
/// its schedule allows. `None` when it is fresh enough.
pub fn staleness(
    schedule: &str,
    latest: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<String> {
    let Some(latest) = latest else {
        return Some("the plan has no snapshot".to_owned());
    };
    let allowed = allowed_age(schedule)?;
    let age = now - latest;
    (age > allowed).then(|| {
        format!(
            "the latest snapshot is {} old; the schedule \"{}\" allows at most {} (2 × its period + {})",
            human(age),
            quote(schedule),
            human(allowed),
            human(SLACK)
        )
    })
}

fn quote(text: &str) -> String {
    text.chars().take(100).collect()
}

/// `3d 4h`, `5h 2m`, `40m`.
fn human(duration: Duration) -> String {
    let minutes = duration.num_minutes().max(0);
    let (days, hours, minutes) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_of_rates_crons_and_one_time_schedules() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("rate(1 day)", Some(Duration::days(1))),
            ("rate(6 hours)", Some(Duration::hours(6))),
            ("rate(15 minutes)", Some(Duration::minutes(15))),
            ("cron(0 3 * * ? *)", Some(Duration::days(1))),
            ("cron(0 3 ? * SUN *)", Some(Duration::days(7))),
            ("cron(0 3 1 * ? *)", Some(Duration::days(31))),
            ("cron(0 3 1 1 ? *)", Some(Duration::days(366))),
            ("cron(0/15 * * * ? *)", Some(Duration::hours(1))),
            ("cron(* * * * ? *)", Some(Duration::minutes(1))),
            ("cron(0 3 1 1 ? 2030)", None),
            ("at(2030-01-01T00:00:00)", None),
            ("rate(0 days)", None),
            ("every day", None),
        ];
        for (expression, period) in cases {
            assert_eq!(schedule_period(expression), *period, "{expression}");
        }
    }

    #[test]
    fn a_missing_or_stale_latest_snapshot_is_a_problem() {
        let now: DateTime<Utc> = "2026-03-10T12:00:00Z".parse().expect("time");
        let daily = "rate(1 day)";
        assert_eq!(
            staleness(daily, None, now).as_deref(),
            Some("the plan has no snapshot")
        );
        // 2 × 1 day + 1 hour.
        assert_eq!(allowed_age(daily), Some(Duration::hours(49)));
        assert_eq!(staleness(daily, Some(now - Duration::hours(49)), now), None);
        let stale = staleness(daily, Some(now - Duration::hours(50)), now).expect("stale");
        assert_eq!(
            stale,
            "the latest snapshot is 2d 2h old; the schedule \"rate(1 day)\" allows at most 2d 1h (2 × its period + 1h 0m)"
        );
        // A one-time schedule: any snapshot will do, none is still a problem.
        let once = "at(2026-01-01T00:00:00)";
        assert_eq!(staleness(once, Some(now - Duration::days(400)), now), None);
        assert!(staleness(once, None, now).is_some());
    }
}
