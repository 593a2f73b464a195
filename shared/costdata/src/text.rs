//! Parsing of the text values cost exports write: timestamps, numbers and nulls.
//!
//! Hand-written instead of going through `chrono`'s format strings because this runs for every
//! row of files with millions of rows, and because exports disagree on the format: the FOCUS
//! sample writes `2024-09-18 22:00:00`, FOCUS itself specifies `2024-09-18T22:00:00Z`, CUR writes
//! `2024-09-18T22:00:00.000Z`. Every accepted form is validated in full (digits, ranges, days of
//! the month), so a malformed value is an error and never a wrong day.

/// An instant as whole seconds since the Unix epoch (UTC) and the nanoseconds past that second.
///
/// Ordered like the instants it stands for; turned into a `chrono` value only once per file.
pub(crate) type Instant = (i64, u32);

/// Seconds in a day.
pub(crate) const DAY_SECS: i64 = 86_400;

/// Whether a text value stands for "no value": empty, or the literal `NULL` some exporters write.
#[inline]
pub(crate) fn is_null(value: &[u8]) -> bool {
    value.is_empty() || value == b"NULL" || value == b"null"
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian), `None` if the date does
/// not exist. The algorithm is Howard Hinnant's `days_from_civil`.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

#[inline]
fn digits(b: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

/// Parses a timestamp into a UTC [`Instant`].
///
/// Accepts `YYYY-MM-DD`, optionally followed by ` ` or `T` and `HH:MM[:SS[.fraction]]`,
/// optionally followed by `Z`, ` UTC` or a `±HH[:MM]` offset (which is applied, so the result is
/// always UTC). Surrounding whitespace is ignored. `None` for anything else.
pub(crate) fn parse_instant(value: &[u8]) -> Option<Instant> {
    let s = value.trim_ascii();
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    let days = days_from_civil(i64::from(year), month, day)?;
    let mut secs = days * DAY_SECS;
    let mut nanos = 0u32;
    let mut rest = &s[10..];
    if rest.is_empty() {
        return Some((secs, 0));
    }
    if !matches!(rest[0], b' ' | b'T' | b't') || rest.len() < 6 || rest[3] != b':' {
        return None;
    }
    let hour = digits(&rest[1..3])?;
    let minute = digits(&rest[4..6])?;
    rest = &rest[6..];
    let mut second = 0;
    if let [b':', a, b, tail @ ..] = rest {
        second = digits(&[*a, *b])?;
        rest = tail;
        if let [b'.' | b',', tail @ ..] = rest {
            let len = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 {
                return None;
            }
            // Nanosecond precision is all any export carries; further digits are dropped.
            let kept = len.min(9);
            nanos = digits(&tail[..kept])? * 10u32.pow(9 - kept as u32);
            rest = &tail[len..];
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    secs += i64::from(hour * 3600 + minute * 60 + second);
    let zone = match rest {
        [b' ', tail @ ..] => tail,
        _ => rest,
    };
    match zone {
        [] | [b'Z' | b'z'] | b"UTC" => {}
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (hh, mm) = match tail {
                [a, b] => (digits(&[*a, *b])?, 0),
                [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                [a, b, b':', c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                _ => return None,
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            // Local time = UTC + offset, so UTC = local - offset.
            let offset = i64::from(hh * 3600 + mm * 60);
            secs += if *sign == b'+' { -offset } else { offset };
        }
        _ => return None,
    }
    Some((secs, nanos))
}

/// Parses a decimal number (quotes already removed by the CSV layer; whitespace ignored).
/// `None` for anything that is not a finite number.
#[inline]
pub(crate) fn parse_number(value: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(value.trim_ascii()).ok()?;
    // `f64::from_str` accepts "inf" and "NaN"; a cost that is not finite is a malformed cost.
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Shows a value in an error message: lossy UTF-8, cut to a readable length.
pub(crate) fn show(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(60).collect();
        format!("{cut:?}…")
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime};

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test timestamp")
    }

    fn instant(s: &str) -> Option<NaiveDateTime> {
        parse_instant(s.as_bytes())
            .and_then(|(secs, nanos)| chrono::DateTime::from_timestamp(secs, nanos))
            .map(|t| t.naive_utc())
    }

    #[test]
    fn accepts_the_formats_exports_write() {
        let want = at("2024-09-18 22:00:00");
        for s in [
            "2024-09-18 22:00:00",
            "2024-09-18T22:00:00Z",
            "2024-09-18T22:00:00.000Z",
            "2024-09-18T22:00Z",
            " 2024-09-18 22:00:00 ",
            "2024-09-18 22:00:00 UTC",
            "2024-09-19T00:00:00+02:00",
            "2024-09-18T20:30:00-0130",
            "2024-09-19T01:00:00+03",
        ] {
            assert_eq!(instant(s), Some(want), "{s}");
        }
        assert_eq!(instant("2024-09-18"), Some(at("2024-09-18 00:00:00")));
        let frac = parse_instant(b"2024-09-18T22:00:00.123456789123Z").expect("fraction");
        assert_eq!(frac.1, 123_456_789);
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for s in [
            "",
            "NULL",
            "2024-9-18 22:00:00",
            "2024-02-30 00:00:00",
            "2023-02-29",
            "2024-13-01",
            "2024-09-18 24:00:00",
            "2024-09-18 22:60:00",
            "2024-09-18 22:00:61",
            "2024-09-18X22:00:00",
            "2024-09-18 22:00:00Q",
            "2024-09-18 22:00:00.Z",
            "2024-09-18 22:00:00+25:00",
            "18/09/2024 22:00",
        ] {
            assert_eq!(parse_instant(s.as_bytes()), None, "{s}");
        }
        assert!(instant("2024-02-29").is_some());
    }

    #[test]
    fn civil_days_match_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2024, 9, 18),
            (1969, 12, 31),
            (2100, 3, 1),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).expect("date");
            assert_eq!(
                days_from_civil(i64::from(y), m, d),
                Some((date - epoch).num_days())
            );
        }
    }

    #[test]
    fn numbers_and_nulls() {
        assert_eq!(parse_number(b"0.00000080000"), Some(0.0000008));
        assert_eq!(parse_number(b" -1.5e-3 "), Some(-0.0015));
        assert_eq!(parse_number(b"12"), Some(12.0));
        for bad in [&b"NaN"[..], b"inf", b"1,5", b"abc", b""] {
            assert_eq!(parse_number(bad), None);
        }
        assert!(is_null(b"NULL") && is_null(b"") && !is_null(b"0"));
    }
}
