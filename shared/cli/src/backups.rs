//! `opsctl backup list|show|verify|restore`: every plan's freshness, a plan's snapshots, and
//! verification and restore run by the backup function itself (Lambda `Invoke` of
//! `BACKUP_FUNCTION`, so they run with its permissions and its code, exactly as the schedule
//! runs them). A restore prints its diff first and applies only when confirmed with `--apply`;
//! verify and restore apply show a progress bar on a terminal (one step per snapshot verified,
//! one per kind of target restored).
//!
//! The same reads are the REST API's `GET /backups` and `GET /backups/{plan}/snapshots`, and
//! [`restore`] its `POST /backups/{plan}/restore`.

use std::io::Write;

use chrono::{DateTime, Utc};
use ops_adapters::lambda::{self, LambdaError};
use ops_adapters::s3::StateStore;
use ops_domain::backup::manifest::{self, LatestPointer, Layout, Manifest};
use ops_domain::config::BackupPlanConfig;
use ops_domain::status::{self as view, BackupPlanStatus, VerifyView};
use serde::Serialize;
use serde_json::{json, Value};

use crate::paint::Paint;
use crate::session::Session;
use crate::{print, Env, Failure, Options, Output};

/// Most snapshots listed.
pub const MAX_SNAPSHOTS: usize = 100;

/// Every plan's status.
#[derive(Debug, Clone, Serialize)]
pub struct BackupList {
    /// By plan name.
    pub plans: Vec<BackupPlanStatus>,
}

/// One snapshot, listed.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSummary {
    /// Its id.
    pub id: String,
    /// When its run started.
    pub at: DateTime<Utc>,
    /// `complete` or `partial`.
    pub status: String,
    /// Targets captured.
    pub targets: usize,
    /// Objects.
    pub objects: u64,
    /// Bytes.
    pub bytes: u64,
}

/// A plan's snapshots, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotList {
    /// The plan.
    pub plan: String,
    /// Its snapshots.
    pub snapshots: Vec<SnapshotSummary>,
}

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure::Failed(format!("cannot read the backups: {error}"))
}

/// The config of `plan`; [`Failure::NotFound`] naming the plans there are.
pub fn plan_config<'s>(session: &'s Session, plan: &str) -> Result<&'s BackupPlanConfig, Failure> {
    let plans = &session.config.backup.plans;
    plans.get(plan).ok_or_else(|| {
        let known: Vec<&str> = plans.keys().map(String::as_str).collect();
        Failure::NotFound(format!(
            "backup plan {plan} is not in the suite config (plans: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })
}

/// The plan's destination bucket as a store, and its key layout.
fn destination(session: &Session, config: &BackupPlanConfig) -> (StateStore, Layout) {
    (
        StateStore::new(
            session.clients.s3.clone(),
            config.destination.bucket.clone(),
        ),
        Layout::new(&config.destination.prefix),
    )
}

async fn latest(
    session: &Session,
    plan: &str,
    config: &BackupPlanConfig,
) -> Result<Option<(LatestPointer, Manifest)>, Failure> {
    let (store, layout) = destination(session, config);
    let Some(pointer) = store
        .get::<LatestPointer>(&layout.latest_key(plan))
        .await
        .map_err(failed)?
    else {
        return Ok(None);
    };
    let manifest = store
        .get::<Manifest>(&layout.key(&pointer.value.manifest_key))
        .await
        .map_err(failed)?
        .ok_or_else(|| failed(format!("the latest manifest of {plan} is missing")))?;
    Ok(Some((pointer.value, manifest.value)))
}

/// The backup function's last verification report of `plan`, if any.
async fn last_verify(session: &Session, plan: &str) -> Result<Option<VerifyView>, Failure> {
    let prefix = ops_domain::keys::backup_reports(plan, "verify");
    let keys = session
        .store
        .list(&prefix, None, 100_000)
        .await
        .map_err(failed)?;
    let Some(last) = keys.last() else {
        return Ok(None);
    };
    let Some(report) = session
        .store
        .get::<Value>(&last.key)
        .await
        .map_err(failed)?
    else {
        return Ok(None);
    };
    let report = report.value;
    let stamp = last.key[prefix.len()..].split('-').next().unwrap_or("");
    let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .map(|t| t.and_utc())
        .unwrap_or_default();
    let failures = report
        .get("failures")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    Ok(Some(VerifyView {
        at,
        ok: report.get("ok").and_then(Value::as_bool).unwrap_or(false),
        detail: format!(
            "{} snapshot(s), {} object(s) checked, {} re-read, {failures} problem(s)",
            report["snapshots_checked"].as_u64().unwrap_or(0),
            report["objects_checked"].as_u64().unwrap_or(0),
            report["deep_checked"].as_u64().unwrap_or(0),
        ),
    }))
}

/// Every plan's freshness and last verification, by plan name.
pub async fn plans(session: &Session, now: DateTime<Utc>) -> Result<BackupList, Failure> {
    let backup = &session.config.backup;
    let reads = backup.plans.iter().map(|(name, config)| async move {
        let latest = latest(session, name, config).await?.map(|(_, m)| {
            (
                m.id.to_string(),
                m.created_at,
                m.totals.objects,
                m.totals.bytes,
            )
        });
        let verify = last_verify(session, name).await?;
        Ok::<_, Failure>(view::backup_plan(
            name,
            &config.schedule.backup,
            latest,
            verify,
            now,
        ))
    });
    Ok(BackupList {
        plans: futures_util::future::try_join_all(reads).await?,
    })
}

/// The snapshots of `plan`, newest first (at most [`MAX_SNAPSHOTS`]).
pub async fn snapshots(session: &Session, plan: &str) -> Result<SnapshotList, Failure> {
    let config = plan_config(session, plan)?;
    let (store, layout) = destination(session, config);
    let listed = store
        .list(&layout.manifests_prefix(plan), None, usize::MAX)
        .await
        .map_err(failed)?;
    let newest: Vec<_> = listed.iter().rev().take(MAX_SNAPSHOTS).collect();
    let reads = newest.iter().map(|l| store.get::<Value>(&l.key));
    let mut snapshots = Vec::new();
    for found in futures_util::future::try_join_all(reads)
        .await
        .map_err(failed)?
        .into_iter()
        .flatten()
    {
        let Ok(m) = manifest::parse_manifest(&serde_json::to_vec(&found.value).unwrap_or_default())
        else {
            continue;
        };
        snapshots.push(SnapshotSummary {
            id: m.id.to_string(),
            at: m.created_at,
            status: if m.successful() {
                "complete"
            } else {
                "partial"
            }
            .to_owned(),
            targets: m.targets.len(),
            objects: m.totals.objects,
            bytes: m.totals.bytes,
        });
    }
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.at));
    Ok(SnapshotList {
        plan: plan.to_owned(),
        snapshots,
    })
}

/// Invokes the backup function with `request` and returns the report of the action it finished;
/// a function error is a [`Failure::Failed`] quoting the function's own error message.
pub async fn invoke(session: &Session, request: &Value) -> Result<Value, Failure> {
    let Some(function) = &session.backup else {
        return Err(Failure::Usage(
            "no backup function: set BACKUP_FUNCTION to its name or ARN".to_owned(),
        ));
    };
    let body = match lambda::invoke_json(&function.client, &function.name, request).await {
        Ok(body) => body,
        Err(LambdaError::Function { message }) => {
            return Err(Failure::Failed(format!(
                "the backup function failed: {message}"
            )))
        }
        Err(LambdaError::Aws(call)) => {
            return Err(Failure::Failed(format!(
                "cannot invoke the backup function {}: {}",
                function.name,
                call.detail()
            )))
        }
        // Not JSON: not a report either (handled below like any other answer).
        Err(LambdaError::NotJson { .. }) => Value::Null,
    };
    // The function answers what it did: `done` with its report, `skipped` when another run of
    // the plan holds it, `continued` when a long run goes on in another invocation.
    match body.get("status").and_then(Value::as_str) {
        Some("done") => Ok(body.get("report").cloned().unwrap_or(Value::Null)),
        Some("skipped") => Err(Failure::Refused(format!(
            "another {} run of this plan holds it until {}; nothing was done, try again then",
            body["holder_action"].as_str().unwrap_or("backup"),
            body["lease_until"].as_str().unwrap_or("its lease ends")
        ))),
        Some("continued") => Err(Failure::Failed(format!(
            "the backup function continues run {} in another invocation; check `opsctl backup \
             list` later",
            body["run"].as_str().unwrap_or("?")
        ))),
        _ => Err(Failure::Failed(
            "the backup function answered something else than a report".to_owned(),
        )),
    }
}

/// A restore of `plan` from `snapshot` (default `latest`): the diff only, or applied.
pub async fn restore(
    session: &Session,
    plan: &str,
    snapshot: Option<&str>,
    apply: bool,
) -> Result<Value, Failure> {
    plan_config(session, plan)?;
    invoke(
        session,
        &json!({
            "plan": plan,
            "action": "restore",
            "snapshot": snapshot.unwrap_or("latest"),
            "apply": apply,
        }),
    )
    .await
}

/// One plan's freshness, latest snapshot and last verification, on one line.
pub fn line(plan: &BackupPlanStatus, paint: &Paint) -> String {
    let freshness = if plan.fresh {
        paint.green("fresh")
    } else {
        paint.red("STALE")
    };
    let latest = match &plan.latest {
        Some(latest) => format!(
            "latest {} ({} ago, {} objects)",
            latest.id,
            ops_domain::status::human_seconds(latest.age_seconds),
            latest.objects
        ),
        None => "no snapshot yet".to_owned(),
    };
    let verify = match &plan.last_verify {
        Some(v) if v.ok => format!("verified ok {}", v.at.format("%Y-%m-%d %H:%M")),
        Some(v) => paint.red(&format!("verify FAILED {}", v.at.format("%Y-%m-%d %H:%M"))),
        None => "never verified".to_owned(),
    };
    format!(
        "  {:<16} {freshness}  {latest}; schedule {}; {verify}",
        plan.plan, plan.schedule
    )
}

/// What `opsctl backup` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupCommand {
    /// `backup list`.
    List,
    /// `backup show PLAN`.
    Show {
        /// The plan.
        plan: String,
    },
    /// `backup verify PLAN [--snapshot ID]`.
    Verify {
        /// The plan.
        plan: String,
        /// One snapshot, else every snapshot.
        snapshot: Option<String>,
    },
    /// `backup restore PLAN [--snapshot ID] [--apply]`.
    Restore {
        /// The plan.
        plan: String,
        /// The snapshot (default latest).
        snapshot: Option<String>,
        /// Apply after showing the diff and confirming.
        apply: bool,
    },
}

fn progress(env: &Env, len: u64, what: &str) -> indicatif::ProgressBar {
    if !env.color {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// `opsctl backup …`.
pub async fn run(
    command: &BackupCommand,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let session = Session::open(env, options).await?;
    match command {
        BackupCommand::List => {
            let list = plans(&session, Utc::now()).await?;
            let paint = Paint::new(env.color);
            let mut text: Vec<String> = list.plans.iter().map(|p| line(p, &paint)).collect();
            if text.is_empty() {
                text.push("no backup plan configured".to_owned());
            }
            print(out, options.output, &list, &text);
        }
        BackupCommand::Show { plan } => {
            let list = snapshots(&session, plan).await?;
            let mut text = vec![format!("{plan}: {} snapshot(s)", list.snapshots.len())];
            text.extend(list.snapshots.iter().map(|s| {
                format!(
                    "  {}  {}  {:<8} {} target(s), {} objects, {} bytes",
                    s.id,
                    s.at.format("%Y-%m-%d %H:%M"),
                    s.status,
                    s.targets,
                    s.objects,
                    s.bytes
                )
            }));
            print(out, options.output, &list, &text);
        }
        BackupCommand::Verify { plan, snapshot } => {
            plan_config(&session, plan)?;
            let ids: Vec<String> = match snapshot {
                Some(id) => vec![id.clone()],
                None => snapshots(&session, plan)
                    .await?
                    .snapshots
                    .into_iter()
                    .map(|s| s.id)
                    .collect(),
            };
            if ids.is_empty() {
                return Err(Failure::NotFound(format!(
                    "{plan} has no snapshot to verify"
                )));
            }
            let bar = progress(env, ids.len() as u64, &format!("verifying {plan}"));
            let mut reports = Vec::new();
            let mut problems = 0;
            for id in &ids {
                let report = invoke(
                    &session,
                    &json!({ "plan": plan, "action": "verify", "snapshot": id }),
                )
                .await?;
                problems += report["failures"].as_array().map_or(0, Vec::len);
                reports.push(json!({ "snapshot": id, "report": report }));
                bar.inc(1);
            }
            bar.finish_and_clear();
            let body = json!({ "plan": plan, "ok": problems == 0, "verified": reports });
            let mut text = vec![format!(
                "{plan}: {} snapshot(s) verified, {problems} problem(s)",
                ids.len()
            )];
            for r in &reports {
                for failure in r["report"]["failures"].as_array().into_iter().flatten() {
                    text.push(format!("  {}: {}", r["snapshot"], failure));
                }
            }
            print(out, options.output, &body, &text);
            if problems > 0 {
                return Err(Failure::Failed(format!(
                    "verification of {plan} found {problems} problem(s)"
                )));
            }
        }
        BackupCommand::Restore {
            plan,
            snapshot,
            apply,
        } => {
            let diff = restore(&session, plan, snapshot.as_deref(), false).await?;
            let mut text = vec![format!(
                "restore of {plan} from {} (dry run):",
                snapshot.as_deref().unwrap_or("latest")
            )];
            text.extend(
                serde_json::to_string_pretty(&diff)
                    .unwrap_or_default()
                    .lines()
                    .map(|l| format!("  {l}")),
            );
            if !apply {
                text.push("dry run: nothing was changed (add --apply to restore)".to_owned());
                print(out, options.output, &diff, &text);
                return Ok(());
            }
            if options.output == Output::Text {
                print(out, options.output, &diff, &text);
            }
            let question = format!("apply this restore of {plan}?");
            crate::confirm(env, options, &question)?;
            let kinds = restored_kinds(&diff);
            let bar = progress(env, kinds.len().max(1) as u64, &format!("restoring {plan}"));
            let mut applied = Vec::new();
            if kinds.is_empty() {
                applied.push(restore(&session, plan, snapshot.as_deref(), true).await?);
                bar.inc(1);
            }
            for kind in &kinds {
                applied.push(
                    invoke(
                        &session,
                        &json!({
                            "plan": plan,
                            "action": "restore",
                            "snapshot": snapshot.as_deref().unwrap_or("latest"),
                            "apply": true,
                            "targets": [kind],
                        }),
                    )
                    .await?,
                );
                bar.inc(1);
            }
            bar.finish_and_clear();
            let body = json!({ "plan": plan, "applied": applied });
            let text = vec![format!(
                "restore of {plan} applied ({} step(s))",
                applied.len()
            )];
            print(out, options.output, &body, &text);
        }
    }
    Ok(())
}

/// The kinds of target a restore diff touches (`s3`, `route53`, `ecs`, `secret`), so an
/// applied restore goes one kind at a time.
fn restored_kinds(diff: &Value) -> Vec<&'static str> {
    [
        ("s3", "s3"),
        ("route53", "route53"),
        ("ecs", "ecs"),
        ("secrets", "secret"),
    ]
    .into_iter()
    .filter(|(field, _)| {
        diff.get(*field)
            .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
    })
    .map(|(_, kind)| kind)
    .fold(Vec::new(), |mut kinds, kind| {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
        kinds
    })
}
