//! `opsctl audit [--since 7d|RFC3339] [--limit N]`: the audit trail, newest first, read from the
//! day-partitioned audit records in the state bucket (`audit/YYYY/MM/DD/<function>/<id>.json`).
//! The same [`AuditList`] is the REST API's `GET /audit`; [`since`] also feeds the DORA report.

use std::io::Write;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ops_domain::audit::AuditRecord;
use serde::Serialize;

use crate::session::Session;
use crate::{Env, Failure, Options, Output};

/// Most days one listing reaches back.
pub const MAX_DAYS: i64 = 400;

/// How many audit records are read at once.
const READS_AT_ONCE: usize = 16;

/// Audit records, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct AuditList {
    /// The records.
    pub records: Vec<AuditRecord>,
}

/// `7d`, `12h`, `30m` before `now`, or an RFC 3339 time; a short error otherwise.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Failure> {
    let text = text.trim();
    let relative = |digits: &str, unit: fn(i64) -> Duration| {
        digits
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| now - unit(n))
    };
    let parsed = if let Some(d) = text.strip_suffix('d') {
        relative(d, Duration::days)
    } else if let Some(h) = text.strip_suffix('h') {
        relative(h, Duration::hours)
    } else if let Some(m) = text.strip_suffix('m') {
        relative(m, Duration::minutes)
    } else {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let since = parsed.ok_or_else(|| {
        Failure::Usage(format!(
            "since: \"{}\" is not a span (7d, 12h, 30m) or an RFC 3339 time",
            text.chars().take(40).collect::<String>()
        ))
    })?;
    if now - since > Duration::days(MAX_DAYS) {
        return Err(Failure::Usage(format!(
            "since: at most {MAX_DAYS} days back"
        )));
    }
    Ok(since)
}

/// Audit records written at or after `since` by the functions `only` names (all when empty),
/// newest first, at most `limit`.
pub async fn read(
    session: &Session,
    since: DateTime<Utc>,
    only: &[&str],
    limit: usize,
) -> Result<Vec<AuditRecord>, Failure> {
    let failed = |error: ops_adapters::s3::StateError| {
        Failure::Failed(format!("cannot read the audit trail: {error}"))
    };
    let today = Utc::now().date_naive();
    let mut day: NaiveDate = since.date_naive();
    let mut keys = Vec::new();
    while day <= today {
        let prefix = format!("audit/{}/", day.format("%Y/%m/%d"));
        for listed in session
            .store
            .list(&prefix, None, 100_000)
            .await
            .map_err(failed)?
        {
            let function = listed.key[prefix.len()..].split('/').next().unwrap_or("");
            if only.is_empty() || only.contains(&function) {
                keys.push(listed.key);
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    let mut records = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(READS_AT_ONCE) {
        let reads = chunk
            .iter()
            .map(|key| session.store.get::<AuditRecord>(key));
        for found in futures_util::future::try_join_all(reads)
            .await
            .map_err(failed)?
            .into_iter()
            .flatten()
        {
            if found.value.at >= since {
                records.push(found.value);
            }
        }
    }
    records.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
    records.truncate(limit);
    Ok(records)
}

/// Every audit record since `since`, newest first, at most `limit`.
pub async fn since(
    session: &Session,
    since: DateTime<Utc>,
    limit: usize,
) -> Result<AuditList, Failure> {
    Ok(AuditList {
        records: read(session, since, &[], limit).await?,
    })
}

/// `opsctl audit`.
pub async fn run(
    since_text: Option<&str>,
    limit: usize,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let from = parse_since(since_text.unwrap_or("7d"), Utc::now())?;
    let session = Session::open(env, options).await?;
    let list = since(&session, from, limit).await?;
    match options.output {
        Output::Json => {
            let body =
                serde_json::to_string(&list).map_err(|error| Failure::Failed(error.to_string()))?;
            let _ = writeln!(out, "{body}");
        }
        Output::Text => {
            if list.records.is_empty() {
                let _ = writeln!(
                    out,
                    "no audit record since {}",
                    from.format("%Y-%m-%d %H:%M UTC")
                );
            }
            for r in &list.records {
                let _ = writeln!(
                    out,
                    "{}  {:<14} {:<26} {:<20} {:<9} {}{}",
                    r.at.format("%Y-%m-%d %H:%M:%S"),
                    r.function,
                    r.action,
                    r.target,
                    r.outcome,
                    r.actor,
                    if r.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", r.reason)
                    }
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_takes_spans_and_times() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 5, 12, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(parse_since("7d", now).ok(), Some(now - Duration::days(7)));
        assert_eq!(
            parse_since("12h", now).ok(),
            Some(now - Duration::hours(12))
        );
        assert_eq!(
            parse_since("30m", now).ok(),
            Some(now - Duration::minutes(30))
        );
        assert_eq!(
            parse_since("2026-12-01T00:00:00Z", now).ok(),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single()
        );
        for bad in ["", "0d", "-3d", "yesterday", "1000d"] {
            assert!(
                matches!(parse_since(bad, now), Err(Failure::Usage(_))),
                "{bad}"
            );
        }
    }
}
