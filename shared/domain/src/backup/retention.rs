//! Retention: which snapshots a policy keeps, with restic's `forget` semantics.
//!
//! The rules are restic's (`internal/restic/snapshot_policy.go`, restic ≥ 0.16), so an operator
//! who knows `restic forget --keep-daily 7 --keep-weekly 4` knows what a plan's retention does:
//!
//! - Snapshots are walked newest first (ties keep the order they were given in).
//! - `keep_last n` keeps the `n` newest snapshots.
//! - `keep_hourly` / `keep_daily` / `keep_weekly` / `keep_monthly` / `keep_yearly n` keep the
//!   newest snapshot of each of the `n` newest periods **that have a snapshot** (an hour, a day, an
//!   ISO 8601 week, a calendar month, a calendar year): a period without snapshots does not use up
//!   a count. `unlimited` keeps the newest snapshot of every period.
//! - If a rule still has a count left when the walk reaches the oldest snapshot, the oldest
//!   snapshot is kept as well (restic 0.16, restic#3624): a new plan keeps its first backup for
//!   as long as the policy has room for it.
//! - `keep_within d` keeps every snapshot taken less than `d` before the **newest snapshot** (not
//!   before now), so a plan that stopped running does not lose its history. `d` is restic's
//!   calendar duration `1y2m3d4h` (`m` is months); it is subtracted like Go's `AddDate`, so one
//!   month before March 31 is March 3. Snapshots dated in the future (after `now`) do not count
//!   as the newest, as in restic.
//! - A snapshot kept by any rule is kept; every kept snapshot carries the rules that kept it and
//!   the counts left afterwards (restic's "keep reasons").
//! - An empty policy keeps everything (restic refuses to guess).
//!
//! Two differences from restic, both deliberate:
//!
//! - **Periods are computed in UTC.** Snapshot times are UTC and a Lambda has no meaningful local
//!   time zone; restic uses the machine's local time. A day here is a UTC day.
//! - **The newest successful snapshot is never removed**, whatever the policy (a partial snapshot
//!   never displaces the last complete one); it is kept with the reason
//!   [`KeepReason::NewestSuccessful`] when no rule kept it.
//!
//! [`apply`] decides; [`lock_until`] gives the S3 Object Lock date consistent with a policy.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// How many periods a `keep_*` rule keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeepCount {
    /// The newest snapshot of this many periods (`0`: the rule is off).
    Count(u32),
    /// The newest snapshot of every period (`unlimited` in the configuration).
    Unlimited,
}

impl Default for KeepCount {
    fn default() -> Self {
        KeepCount::Count(0)
    }
}

impl KeepCount {
    /// Whether the rule is off (a count of 0).
    pub fn is_off(&self) -> bool {
        *self == KeepCount::Count(0)
    }
}

impl fmt::Display for KeepCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepCount::Count(n) => write!(f, "{n}"),
            KeepCount::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl Serialize for KeepCount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            KeepCount::Count(n) => serializer.serialize_u32(*n),
            KeepCount::Unlimited => serializer.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for KeepCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = KeepCount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count of periods (0 or more) or \"unlimited\"")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<KeepCount, E> {
                u32::try_from(value)
                    .map(KeepCount::Count)
                    .map_err(|_| E::custom(format!("{value} is too large; use \"unlimited\"")))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<KeepCount, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::custom(format!(
                        "{value} is negative; use \"unlimited\" to keep every period"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<KeepCount, E> {
                if value == "unlimited" {
                    Ok(KeepCount::Unlimited)
                } else {
                    Err(E::custom(format!(
                        "\"{value}\" is not a count; use a number or \"unlimited\""
                    )))
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// restic's calendar duration: years, months, days and hours (`1y2m3d4h`, `30d`, `12h`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RetentionDuration {
    /// Calendar years.
    pub years: u32,
    /// Calendar months.
    pub months: u32,
    /// Days.
    pub days: u32,
    /// Hours.
    pub hours: u32,
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not a duration: {reason} (write a number and a unit y, m (months), d or h, e.g. \"30d\", \"12h\" or \"1y6m\")")]
pub struct DurationError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RetentionDuration {
    /// Whether every part is zero (a `keep_within` of zero is off, as in restic).
    pub fn is_zero(&self) -> bool {
        *self == RetentionDuration::default()
    }

    /// The instant this duration before `t`, with Go's `t.AddDate(-y, -m, -d).Add(-h)`
    /// normalisation (restic's arithmetic): months first, then days past the month's end roll
    /// over. `None` when that instant is before the earliest representable date.
    pub fn before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let months = i64::from(t.year()) * 12 + i64::from(t.month0())
            - i64::from(self.years) * 12
            - i64::from(self.months);
        let year = i32::try_from(months.div_euclid(12)).ok()?;
        let month = u32::try_from(months.rem_euclid(12)).ok()? + 1;
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let offset = i64::from(t.day()) - 1 - i64::from(self.days);
        let date = first.checked_add_signed(TimeDelta::try_days(offset)?)?;
        let shifted = date.and_time(t.time()).and_utc();
        shifted.checked_sub_signed(TimeDelta::try_hours(i64::from(self.hours))?)
    }
}

impl FromStr for RetentionDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| DurationError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.trim().is_empty() {
            return Err(fail("it is empty"));
        }
        let mut duration = RetentionDuration::default();
        let mut seen = String::new();
        let mut digits = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if digits.is_empty() {
                return Err(fail(&format!("\"{c}\" has no number before it")));
            }
            let value: u32 = digits
                .parse()
                .map_err(|_| fail(&format!("{digits} is too large")))?;
            if value > 1_000_000 {
                return Err(fail(&format!("{digits} is too large")));
            }
            digits.clear();
            if seen.contains(c) {
                return Err(fail(&format!("unit \"{c}\" appears twice")));
            }
            seen.push(c);
            match c {
                'y' => duration.years = value,
                'm' => duration.months = value,
                'd' => duration.days = value,
                'h' => duration.hours = value,
                other => return Err(fail(&format!("unknown unit \"{other}\""))),
            }
        }
        if !digits.is_empty() {
            return Err(fail(&format!("{digits} has no unit")));
        }
        Ok(duration)
    }
}

impl fmt::Display for RetentionDuration {
    /// restic's spelling: the non-zero parts in order (`1y2m3d4h`, `30d`); zero is `0h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0h");
        }
        for (value, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if value != 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for RetentionDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RetentionDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A retention policy: restic's `--keep-*` options (without tags and `--keep-within-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Keep the `n` newest snapshots.
    #[serde(default, skip_serializing_if = "KeepCount::is_off")]
    pub keep_last: KeepCount,
    /// Keep the newest snapshot of each of the `n` newest hours that have one.
    #[serde(default, skip_serializing_if = "KeepCount::is_off")]
    pub keep_hourly: KeepCount,
    /// Keep the newest snapshot of each of the `n` newest days that have one.
    #[serde(default, skip_serializing_if = "KeepCount::is_off")]
    pub keep_daily: KeepCount,
    /// Keep the newest snapshot of each of the `n` newest ISO weeks that have one.
    #[serde(default, skip_serializing_if = "KeepCount::is_off")]
    pub keep_weekly: KeepCount,
    /// Keep the newest snapshot of each of the `n` newest months that have one.
    #[serde(default, skip_serializing_if = "KeepCount::is_off")]
    pub keep_monthly: KeepCount,
    /// Keep the newest snapshot of each of the `n` newest years that have one.
    #[serde(default, skip_serializing_if = "KeepCount::is_off")]
    pub keep_yearly: KeepCount,
    /// Keep every snapshot taken less than this before the newest snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within: Option<RetentionDuration>,
}

impl RetentionPolicy {
    /// Whether no rule is set (such a policy keeps every snapshot).
    pub fn is_empty(&self) -> bool {
        self.counts().iter().all(KeepCount::is_off) && self.keep_within.is_none_or(|d| d.is_zero())
    }

    fn counts(&self) -> [KeepCount; 6] {
        [
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ]
    }
}

/// A snapshot as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Snapshot id.
    pub id: String,
    /// When it was taken (UTC).
    pub time: DateTime<Utc>,
    /// Whether it completed without errors (only a successful one is protected as the newest).
    pub successful: bool,
}

/// Why a snapshot is kept; displayed in restic's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepReason {
    /// The policy has no rule, so everything is kept.
    EmptyPolicy,
    /// Taken within `keep_within` of the newest snapshot.
    Within(RetentionDuration),
    /// One of the `keep_last` newest.
    Last,
    /// The newest of its hour.
    Hourly,
    /// The newest of its day.
    Daily,
    /// The newest of its ISO week.
    Weekly,
    /// The newest of its month.
    Monthly,
    /// The newest of its year.
    Yearly,
    /// The newest successful snapshot, which is never removed.
    NewestSuccessful,
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::EmptyPolicy => f.write_str("policy is empty"),
            KeepReason::Within(d) => write!(f, "within {d}"),
            KeepReason::Last => f.write_str("last snapshot"),
            KeepReason::Hourly => f.write_str("hourly snapshot"),
            KeepReason::Daily => f.write_str("daily snapshot"),
            KeepReason::Weekly => f.write_str("weekly snapshot"),
            KeepReason::Monthly => f.write_str("monthly snapshot"),
            KeepReason::Yearly => f.write_str("yearly snapshot"),
            KeepReason::NewestSuccessful => f.write_str("newest successful snapshot"),
        }
    }
}

impl Serialize for KeepReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The counts each rule has left after a snapshot was evaluated (restic's `counters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// `keep_last` left.
    pub last: KeepCount,
    /// `keep_hourly` left.
    pub hourly: KeepCount,
    /// `keep_daily` left.
    pub daily: KeepCount,
    /// `keep_weekly` left.
    pub weekly: KeepCount,
    /// `keep_monthly` left.
    pub monthly: KeepCount,
    /// `keep_yearly` left.
    pub yearly: KeepCount,
}

/// What the policy decided for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Snapshot id.
    pub id: String,
    /// When it was taken.
    pub time: DateTime<Utc>,
    /// Kept (`true`) or removed.
    pub keep: bool,
    /// Every rule that kept it (empty when removed).
    pub reasons: Vec<KeepReason>,
    /// Counts left after it was evaluated.
    pub counters: Counters,
}

/// The decision for every snapshot, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// One decision per snapshot given, newest first.
    pub decisions: Vec<Decision>,
}

impl Outcome {
    /// The kept snapshots, newest first.
    pub fn kept(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.keep)
    }

    /// The removed snapshots, newest first.
    pub fn removed(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| !d.keep)
    }

    /// Ids of the kept snapshots, newest first.
    pub fn keep_ids(&self) -> Vec<&str> {
        self.kept().map(|d| d.id.as_str()).collect()
    }

    /// Ids of the removed snapshots, newest first.
    pub fn remove_ids(&self) -> Vec<&str> {
        self.removed().map(|d| d.id.as_str()).collect()
    }
}

/// The period a counting rule buckets snapshots by.
#[derive(Debug, Clone, Copy)]
enum Period {
    /// Every snapshot is its own period (`keep_last`).
    Snapshot,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    /// restic's bucket value: `YYYYMMDDHH`, `YYYYMMDD`, `YYYYWW` (ISO), `YYYYMM`, `YYYY`, or the
    /// snapshot's position for `keep_last`.
    fn key(self, t: DateTime<Utc>, position: usize) -> i64 {
        let (y, m, d, h) = (
            i64::from(t.year()),
            i64::from(t.month()),
            i64::from(t.day()),
            i64::from(t.hour()),
        );
        match self {
            Period::Snapshot => i64::try_from(position).unwrap_or(i64::MAX),
            Period::Hour => y * 1_000_000 + m * 10_000 + d * 100 + h,
            Period::Day => y * 10_000 + m * 100 + d,
            Period::Week => {
                let week = t.iso_week();
                i64::from(week.year()) * 100 + i64::from(week.week())
            }
            Period::Month => y * 100 + m,
            Period::Year => y,
        }
    }
}

struct Bucket {
    left: KeepCount,
    period: Period,
    last: Option<i64>,
    reason: KeepReason,
}

/// Applies `policy` to `snapshots` (any order). `now` only serves to ignore snapshots dated in
/// the future when finding the newest one for `keep_within`, as restic does.
pub fn apply(snapshots: &[Snapshot], policy: &RetentionPolicy, now: DateTime<Utc>) -> Outcome {
    let mut order: Vec<&Snapshot> = snapshots.iter().collect();
    // Newest first; a stable sort keeps the given order for equal times, as restic's does.
    order.sort_by_key(|s| std::cmp::Reverse(s.time));

    let mut decisions: Vec<Decision> = Vec::with_capacity(order.len());
    if policy.is_empty() {
        decisions.extend(order.iter().map(|s| Decision {
            id: s.id.clone(),
            time: s.time,
            keep: true,
            reasons: vec![KeepReason::EmptyPolicy],
            counters: Counters::default(),
        }));
        return Outcome { decisions };
    }

    let newest = order.iter().map(|s| s.time).filter(|t| *t < now).max();
    // None: the rule is off. Some(None): every snapshot is within (no newest snapshot, or the
    // start is before the earliest date). Some(Some(t)): snapshots after t are within.
    let within = policy
        .keep_within
        .filter(|d| !d.is_zero())
        .map(|d| (d, newest.and_then(|newest| d.before(newest))));

    let counts = policy.counts();
    let mut buckets = [
        (Period::Snapshot, KeepReason::Last),
        (Period::Hour, KeepReason::Hourly),
        (Period::Day, KeepReason::Daily),
        (Period::Week, KeepReason::Weekly),
        (Period::Month, KeepReason::Monthly),
        (Period::Year, KeepReason::Yearly),
    ]
    .into_iter()
    .zip(counts)
    .map(|((period, reason), left)| Bucket {
        left,
        period,
        last: None,
        reason,
    })
    .collect::<Vec<_>>();

    let oldest = order.len().saturating_sub(1);
    for (position, snapshot) in order.iter().enumerate() {
        let mut reasons = Vec::new();
        if let Some((duration, start)) = within {
            if start.is_none_or(|start| snapshot.time > start) {
                reasons.push(KeepReason::Within(duration));
            }
        }
        for bucket in &mut buckets {
            if bucket.left.is_off() {
                continue;
            }
            let key = bucket.period.key(snapshot.time, position);
            // A new period, or the oldest snapshot while the rule still has counts left.
            if bucket.last != Some(key) || position == oldest {
                bucket.last = Some(key);
                if let KeepCount::Count(left) = &mut bucket.left {
                    *left -= 1;
                }
                reasons.push(bucket.reason.clone());
            }
        }
        decisions.push(Decision {
            id: snapshot.id.clone(),
            time: snapshot.time,
            keep: !reasons.is_empty(),
            reasons,
            counters: Counters {
                last: buckets[0].left,
                hourly: buckets[1].left,
                daily: buckets[2].left,
                weekly: buckets[3].left,
                monthly: buckets[4].left,
                yearly: buckets[5].left,
            },
        });
    }

    if let Some(newest_successful) = order.iter().position(|s| s.successful) {
        let decision = &mut decisions[newest_successful];
        if !decision.keep {
            decision.keep = true;
            decision.reasons.push(KeepReason::NewestSuccessful);
        }
    }
    Outcome { decisions }
}

/// The S3 Object Lock retain-until date a snapshot taken at `created_at` can get without ever
/// blocking a prune that follows `policy`: a lower bound of when `keep_within` stops keeping it.
///
/// `keep_within d` keeps the snapshot while it is newer than `newest − d`, and the newest
/// snapshot is never after now, so it is kept at least until `created_at + d`, counted low:
/// 365 days a year and 28 a month, because restic's calendar subtraction can take as little
/// (one month before March 31 is March 3). Without `keep_within` nothing is guaranteed (count
/// rules drop a snapshot as soon as enough newer ones exist) and there is no date. A data object
/// shared by several snapshots takes the latest date of those that reference it.
pub fn lock_until(policy: &RetentionPolicy, created_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let within = policy.keep_within.filter(|d| !d.is_zero())?;
    let days =
        i64::from(within.years) * 365 + i64::from(within.months) * 28 + i64::from(within.days);
    created_at
        .checked_add_signed(TimeDelta::try_days(days)?)?
        .checked_add_signed(TimeDelta::try_hours(i64::from(within.hours))?)
}

#[cfg(test)]
mod tests;
