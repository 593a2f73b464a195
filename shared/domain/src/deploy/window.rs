//! Deployment windows: the UTC hours in which a deployment may start.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc, Weekday};

use crate::config::WindowConfig;

pub use crate::config::{parse_day, parse_hhmm};

/// Whether `now` is inside the window. A window whose end is not after its start spans
/// midnight; its days name the day it opens on. An unparsable window (the validator rejects
/// those) is never open.
pub fn is_open(window: &WindowConfig, now: DateTime<Utc>) -> bool {
    let (Some(start), Some(end)) = (parse_hhmm(&window.start), parse_hhmm(&window.end)) else {
        return false;
    };
    let time = NaiveTime::from_hms_opt(now.hour(), now.minute(), now.second()).unwrap_or(start);
    let day_allowed = |day: Weekday| {
        window.days.is_empty() || window.days.iter().any(|d| parse_day(d) == Some(day))
    };
    if start < end {
        day_allowed(now.weekday()) && time >= start && time < end
    } else {
        // Spans midnight: open from `start` today, or until `end` on the day after an opening day.
        (time >= start && day_allowed(now.weekday()))
            || (time < end && day_allowed((now - Duration::days(1)).weekday()))
    }
}

/// When the window next opens at or after `now` (within the coming week).
pub fn next_open(window: &WindowConfig, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if is_open(window, now) {
        return Some(now);
    }
    let start = parse_hhmm(&window.start)?;
    (0..=7)
        .filter_map(|offset| {
            let day = now.date_naive() + Duration::days(offset);
            let at = day.and_time(start).and_utc();
            (at >= now && is_open(window, at)).then_some(at)
        })
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OutsideWindow;
    use chrono::TimeZone;

    fn window(start: &str, end: &str, days: &[&str]) -> WindowConfig {
        WindowConfig {
            start: start.into(),
            end: end.into(),
            days: days.iter().map(|d| (*d).to_owned()).collect(),
            outside: OutsideWindow::Wait,
        }
    }

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        // 2026-11-23 is a Monday.
        Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn table() {
        let night = window("02:00", "06:00", &[]);
        let spans = window("22:00", "02:00", &["fri"]);
        let weekdays = window("09:00", "17:00", &["mon", "tue", "wed", "thu", "fri"]);
        let cases = [
            (&night, at(23, 1, 59), false),
            (&night, at(23, 2, 0), true),
            (&night, at(23, 5, 59), true),
            (&night, at(23, 6, 0), false),
            (&spans, at(27, 23, 0), true),  // Friday night
            (&spans, at(28, 1, 0), true),   // Saturday early, opened Friday
            (&spans, at(28, 23, 0), false), // Saturday night
            (&spans, at(27, 1, 0), false),  // Friday early, opened Thursday: no
            (&weekdays, at(28, 10, 0), false),
            (&weekdays, at(24, 10, 0), true),
        ];
        for (window, now, expect) in cases {
            assert_eq!(is_open(window, now), expect, "{window:?} at {now}");
        }
    }

    #[test]
    fn next_opening() {
        let night = window("02:00", "06:00", &[]);
        assert_eq!(next_open(&night, at(23, 7, 0)), Some(at(24, 2, 0)));
        assert_eq!(next_open(&night, at(23, 3, 0)), Some(at(23, 3, 0)));
        let weekend = window("10:00", "12:00", &["sat"]);
        assert_eq!(next_open(&weekend, at(23, 7, 0)), Some(at(28, 10, 0)));
    }

    #[test]
    fn parsing() {
        assert!(parse_hhmm("02:00").is_some());
        assert!(parse_hhmm("2:00").is_none());
        assert!(parse_hhmm("24:00").is_none());
        assert_eq!(parse_day("Sat"), Some(Weekday::Sat));
        assert_eq!(parse_day("saturday"), None);
    }
}
