//! Data freshness: a cost export that stopped updating is an alert of its own, since every
//! budget and anomaly check after it silently looks at old data.

use chrono::NaiveDateTime;
use serde::Serialize;

/// Cost data older than allowed.
///
/// With no data at all (`latest` is `None`) the age is `f64::INFINITY`, which `serde_json`
/// writes as `null`; render it as "no data" rather than as a number of hours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stale {
    /// Latest charge period end in the data, if any.
    pub latest: Option<NaiveDateTime>,
    /// Hours from `latest` to now (infinite without data).
    pub age_hours: f64,
    /// The configured maximum age.
    pub max_age_hours: u32,
}

/// Whether data whose latest charge ends at `latest` is stale at `now` (both UTC): `Some` when
/// it is older than `max_age_hours` or there is no data at all.
///
/// A `latest` in the future (clock skew, a provider stamping periods ahead) is fresh.
pub fn check(
    latest: Option<NaiveDateTime>,
    now: NaiveDateTime,
    max_age_hours: u32,
) -> Option<Stale> {
    let age_hours = match latest {
        Some(latest) => (now - latest).num_seconds() as f64 / 3600.0,
        None => f64::INFINITY,
    };
    (age_hours > f64::from(max_age_hours)).then_some(Stale {
        latest,
        age_hours,
        max_age_hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").expect("datetime")
    }

    /// Checks `latest` (empty: no data) at 2026-03-06T12:00 with a 36-hour limit.
    fn check_at_noon(latest: &str, expect: &str) {
        let latest = (!latest.is_empty()).then(|| at(latest));
        let got = match check(latest, at("2026-03-06T12:00"), 36) {
            Some(stale) => format!(
                "stale {:?} {:.1}h > {}h",
                stale.latest.map(|l| l.to_string()),
                stale.age_hours,
                stale.max_age_hours
            ),
            None => "fresh".to_owned(),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn data_within_the_limit_is_fresh() {
        // 03-05 00:00 to 03-06 12:00 = 36 h, not over 36.
        check_at_noon("2026-03-05T00:00", "fresh");
    }

    #[test]
    fn data_over_the_limit_is_stale_with_its_age() {
        // 03-04 18:30 to 03-06 12:00 = 24 + 17.5 = 41.5 h.
        check_at_noon(
            "2026-03-04T18:30",
            r#"stale Some("2026-03-04 18:30:00") 41.5h > 36h"#,
        );
    }

    #[test]
    fn no_data_at_all_is_stale_with_infinite_age() {
        check_at_noon("", "stale None infh > 36h");
    }

    #[test]
    fn latest_in_the_future_is_fresh() {
        check_at_noon("2026-03-07T00:00", "fresh");
    }

    #[test]
    fn no_data_serialises_its_age_as_null() {
        let stale = check(None, at("2026-03-06T12:00"), 36).expect("stale");
        assert_eq!(
            serde_json::to_string(&stale).expect("json"),
            r#"{"latest":null,"age_hours":null,"max_age_hours":36}"#
        );
    }
}
