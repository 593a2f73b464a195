//! The handler: deliver what earlier runs still owe, load the config, read the cost data,
//! analyse it, reconcile the alerts with compare-and-swap, write the JSON and HTML reports,
//! deliver this run's notifications, emit metrics.
//!
//! Notifications go through the alert book's outbox (`ops_adapters::notify::outbox`): the
//! compare-and-swap that moves an alert also records the notifications the move owes, so a run
//! that fails after it (a report write failing, a lost answer, a timeout) leaves them owed, and
//! the next invocation — the Scheduler's retry of the same event, or the next scheduled run —
//! delivers them before its own work. Every write carries the run's id (the Lambda request id,
//! the same on the Scheduler's retries), so a retry recognises its own landed writes, finds its
//! own reports (create-once under the run id) and reports what its first attempt moved.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use ops_adapters::clients::ClientSettings;
use ops_adapters::notify::{outbox, Notifier};
use ops_adapters::runtime::FunctionEnv;
use ops_adapters::s3::{ConfigLoadError, ConfigSource, StateError, StateStore, Versioned};
use ops_adapters::secretsmanager::SecretCache;
use ops_adapters::telemetry::{MetricSet, Unit};
use ops_adapters::AwsClients;
use ops_domain::alerts::{self, AlertBook, RunMark, Transition};
use ops_domain::config::SuiteConfig;
use ops_domain::cost::series::last_complete_day;
use ops_domain::notify::{self as notify_rules, Lifecycle, Notification};
use serde::Serialize;
use serde_json::Value;
use tracing::info;

use crate::analysis::{analyse, Analysis, AnalysisError};
use crate::report::{self, AlertSummary, Report, SourceSummary};
use crate::source::{range_start, Source, SourceError};

/// The function's name, in metrics, state keys and notifications.
pub const FUNCTION: &str = "cost-check";

/// Key of the open-alert book in the state bucket (compare-and-swap).
pub const ALERT_BOOK_KEY: &str = ops_domain::keys::COST_ALERT_BOOK;

const MAX_CAS_ATTEMPTS: usize = 5;

/// Everything the handler needs, built once per container.
#[derive(Debug)]
pub struct Deps {
    /// AWS clients.
    pub clients: AwsClients,
    /// Cost Explorer (us-east-1 is its only endpoint).
    pub ce: aws_sdk_costexplorer::Client,
    /// The state bucket.
    pub store: StateStore,
    /// The suite configuration.
    pub config: ConfigSource,
    /// Notification channels.
    pub notifier: Notifier,
}

impl Deps {
    /// Builds the dependencies from `sdk` for `bucket` and `config_uri`, with the batch
    /// preset's retry quotas ([`ClientSettings::batch`]).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        bucket: &str,
        config_uri: &str,
    ) -> Result<Self, ConfigLoadError> {
        Self::with_settings(sdk, &ClientSettings::batch(), bucket, config_uri)
    }

    /// Builds the dependencies from `sdk` (whose retry and timeout configuration should come
    /// from `settings.configure`), each client with its own retry quota sized by `settings`.
    pub fn with_settings(
        sdk: &aws_config::SdkConfig,
        settings: &ClientSettings,
        bucket: &str,
        config_uri: &str,
    ) -> Result<Self, ConfigLoadError> {
        let clients = AwsClients::with_settings(sdk, settings);
        let ce = aws_sdk_costexplorer::Client::from_conf(
            aws_sdk_costexplorer::config::Builder::from(sdk)
                .region(aws_sdk_costexplorer::config::Region::new("us-east-1"))
                .retry_partition(settings.retry_partition("ops-costexplorer"))
                .interceptor(clients.recorder.clone())
                .build(),
        );
        // Email channels send through SES v2, from the region of the function.
        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(sdk)
                .retry_partition(settings.retry_partition("ops-sesv2"))
                .interceptor(clients.recorder.clone())
                .build(),
        );
        let secrets = Arc::new(SecretCache::new(
            clients.secrets.clone(),
            StdDuration::from_secs(300),
        ));
        Ok(Deps {
            store: StateStore::new(clients.s3.clone(), bucket),
            config: ConfigSource::new(config_uri, clients.s3.clone())?,
            notifier: Notifier::new(secrets).with_email(ses),
            ce,
            clients,
        })
    }

    /// The function's environment ([`FunctionEnv`]: `STATE_BUCKET`, `CONFIG_URI`, the SDK
    /// configuration). cost-check is a batch job: its clients use [`ClientSettings::batch`].
    pub async fn from_env() -> anyhow::Result<Self> {
        let env = FunctionEnv::from_env(ClientSettings::batch()).await?;
        Ok(Deps::with_settings(
            &env.sdk,
            &env.client_settings,
            &env.state_bucket,
            &env.config_uri,
        )?)
    }
}

/// Errors that fail a run. Each maps to a stable Lambda `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The input is not what the schedule sends.
    #[error("{0}")]
    InvalidInput(String),
    /// The configuration could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigLoadError),
    /// The config has no `cost:` section.
    #[error("the suite config has no `cost:` section; cost-check has nothing to do")]
    NotConfigured,
    /// The cost data could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The data does not fit the config.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// The state bucket failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The alert book kept changing under concurrent runs.
    #[error("the alert book kept changing; gave up after {MAX_CAS_ATTEMPTS} attempts")]
    Contention,
}

impl HandlerError {
    /// Whether the same event may succeed later (AWS throttled, failed or could not be reached,
    /// or concurrent runs kept the book busy): the invocation fails and the Scheduler retries it
    /// with the same event. Bad input, a wrong config and unreadable data are not transient.
    pub fn is_transient(&self) -> bool {
        match self {
            HandlerError::Config(error) => error.is_transient(),
            HandlerError::Source(error) => error.is_transient(),
            HandlerError::State(error) => error.is_transient(),
            HandlerError::Contention => true,
            HandlerError::InvalidInput(_)
            | HandlerError::NotConfigured
            | HandlerError::Analysis(_) => false,
        }
    }
}

impl HandlerError {
    /// The Lambda `errorType` of the error.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidInput(_) => "InvalidInput",
            // S3 answering 503 for the config says nothing about the config.
            HandlerError::Config(error) if error.is_transient() => "ConfigUnavailable",
            HandlerError::Config(_) | HandlerError::NotConfigured | HandlerError::Analysis(_) => {
                "ConfigurationError"
            }
            HandlerError::Source(SourceError::Unreadable(_)) => "UnreadableCostData",
            HandlerError::Source(_) => "CostSourceError",
            HandlerError::State(_) => "StateStoreError",
            HandlerError::Contention => "Contention",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    /// Last complete day evaluated.
    pub as_of: NaiveDate,
    /// Keys of the reports written.
    pub report_json: String,
    /// HTML report key.
    pub report_html: String,
    /// Whether every file was read.
    pub complete: bool,
    /// Budgets with a breach.
    pub budgets_breached: Vec<String>,
    /// Anomaly keys found.
    pub anomalies: Vec<String>,
    /// Alert lifecycle outcome.
    pub alerts: AlertSummary,
    /// Whether this was a dry run (no notification, no alert state change).
    pub dry_run: bool,
}

/// When the data for `as_of` is normally complete and checked: the day after, at midnight.
fn check_time(as_of: NaiveDate) -> NaiveDateTime {
    (as_of + Duration::days(1)).and_time(NaiveTime::MIN)
}

/// Handles one scheduled run.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Response, HandlerError> {
    let started = Instant::now();
    let input = crate::event::parse(&event.payload).map_err(HandlerError::InvalidInput)?;
    let config = deps.config.current().await?;
    let cost = config.cost.as_ref().ok_or(HandlerError::NotConfigured)?;
    let now = Utc::now();
    let run_id = run_id(&event.context.request_id);

    // What earlier runs committed and could not deliver goes out first, oldest first.
    let book = if input.dry_run {
        None
    } else {
        let drained = outbox::drain::<AlertBook>(
            &deps.store,
            &deps.notifier,
            &config,
            ALERT_BOOK_KEY,
            &run_id,
        )
        .await?;
        Some(drained.latest)
    };

    let until = input
        .as_of
        .map_or(now.date_naive(), |day| day + Duration::days(1));
    let from = range_start(until, cost.history_days);
    let source = Source::from_config(cost, &deps.clients.s3, &deps.ce);
    let loaded = source.load(from, until + Duration::days(1)).await?;
    let as_of = input
        .as_of
        .or_else(|| loaded.cube.latest_charge.map(last_complete_day))
        .unwrap_or(now.date_naive() - Duration::days(1));
    // A backfill is judged as of its own day; a scheduled run as of now.
    let judged_at = if input.as_of.is_some() {
        check_time(as_of)
    } else {
        now.naive_utc()
    };
    let analysis = analyse(cost, &loaded.cube, as_of, judged_at)?;

    // Report keys are the run's: every attempt of this invocation writes (or finds) the same.
    let base = format!(
        "{}/{as_of}/{run_id}",
        cost.report_prefix.trim_end_matches('/')
    );
    let json_key = format!("{base}.json");
    let html_key = format!("{base}.html");

    let (summary, book) = match book {
        None => {
            let book = deps
                .store
                .get::<AlertBook>(ALERT_BOOK_KEY)
                .await?
                .map(|v| v.value)
                .unwrap_or_default();
            let (next, transitions) =
                alerts::reconcile(&book, &analysis.findings, analysis.window(), now);
            (summarize(&transitions, next.open.len()), None)
        }
        Some(book) => {
            let commit = Commit {
                config: &config,
                analysis: &analysis,
                run: &run_id,
                html_key: &html_key,
                now,
            };
            let (summary, book) = reconcile_alerts(deps, &commit, book).await?;
            (summary, Some(book))
        }
    };

    let report = Report {
        schema_version: 1,
        run_id: run_id.clone(),
        generated_at: now,
        source: SourceSummary {
            kind: source.kind(),
            files: loaded.files.len(),
            rows: loaded.cube.rows,
            unreadable: loaded.unreadable.clone(),
        },
        complete: loaded.unreadable.is_empty(),
        analysis: analysis.clone(),
        alerts: summary.clone(),
    };
    create_once(deps.store.create(&json_key, &report).await, &json_key)?;
    create_once(
        deps.store
            .create_text(
                &html_key,
                &report::html(&report, cost.anomalies.baseline_weeks),
                "text/html; charset=utf-8",
            )
            .await,
        &html_key,
    )?;

    // This run's notifications (and anything still owed), now that the report they link to
    // exists.
    if let Some(book) = book {
        outbox::drain_from(
            &deps.store,
            &deps.notifier,
            &config,
            ALERT_BOOK_KEY,
            &run_id,
            book,
        )
        .await?;
    }

    let mut metrics = MetricSet::new(FUNCTION)
        .metric("cost_rows_total", loaded.cube.rows as f64, Unit::Count)
        .metric("cost_files_total", loaded.files.len() as f64, Unit::Count)
        .metric(
            "cost_unreadable_files_total",
            loaded.unreadable.len() as f64,
            Unit::Count,
        )
        .metric(
            "cost_anomalies_total",
            analysis.anomalies.len() as f64,
            Unit::Count,
        )
        .metric("cost_alerts_open", summary.open as f64, Unit::Count)
        .metric(
            "cost_month_to_date",
            analysis.forecast.month_to_date,
            Unit::None,
        )
        .metric(
            "cost_forecast_month_end",
            analysis.forecast.expected,
            Unit::None,
        )
        .metric(
            "cost_check_duration_ms",
            started.elapsed().as_secs_f64() * 1000.0,
            Unit::Milliseconds,
        );
    if loaded.unreadable.is_empty() {
        metrics = metrics.metric("cost_complete", 1.0, Unit::None);
    }
    metrics.emit();
    info!(message = "Cost check done.", %as_of, rows = loaded.cube.rows, anomalies = analysis.anomalies.len(), opened = summary.opened.len(), resolved = summary.resolved.len(), report = %html_key);

    Ok(Response {
        as_of,
        report_json: json_key,
        report_html: html_key,
        complete: report.complete,
        budgets_breached: analysis
            .budgets
            .iter()
            .filter(|b| b.severity.is_some())
            .map(|b| b.name.clone())
            .collect(),
        anomalies: analysis.anomalies.iter().map(|a| a.key()).collect(),
        alerts: summary,
        dry_run: input.dry_run,
    })
}

/// The run's id: the Lambda request id made key-safe. The Scheduler's retries of a failed
/// invocation carry the same request id, so they are the same run.
pub fn run_id(request_id: &str) -> String {
    let cleaned: String = request_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "local".into()
    } else {
        cleaned
    }
}

/// A create-once write of this run's own key: `AlreadyExists` means an earlier attempt of the
/// same run wrote it (the key holds the run id), which is as good as writing it now.
fn create_once(written: Result<String, StateError>, key: &str) -> Result<(), HandlerError> {
    match written {
        Ok(_) => Ok(()),
        Err(StateError::AlreadyExists { .. }) => {
            info!(
                message = "Report already written by an earlier attempt of this run.",
                key
            );
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

fn summarize(transitions: &[Transition], open: usize) -> AlertSummary {
    let mut summary = AlertSummary {
        open,
        ..AlertSummary::default()
    };
    for transition in transitions {
        match transition {
            Transition::Opened(finding) => summary.opened.push(finding.key.clone()),
            Transition::Escalated { finding, .. } => summary.escalated.push(finding.key.clone()),
            Transition::Resolved(alert) => summary.resolved.push(alert.key.clone()),
        }
    }
    summary
}

/// What one run commits to the alert book.
struct Commit<'a> {
    config: &'a SuiteConfig,
    analysis: &'a Analysis,
    run: &'a str,
    html_key: &'a str,
    now: chrono::DateTime<Utc>,
}

/// Reconciles the alert book and stores it with compare-and-swap, together with the
/// notifications the transitions owe: only the run whose write wins owes them, and they are
/// owed whole or not at all. Starts from `known` (the book as the drain left it) and returns
/// the book as it stands after this run, for the final drain.
async fn reconcile_alerts(
    deps: &Deps,
    commit: &Commit<'_>,
    known: Option<Versioned<AlertBook>>,
) -> Result<(AlertSummary, Option<Versioned<AlertBook>>), HandlerError> {
    let analysis = commit.analysis;
    let mut known = Some(known);
    for _ in 0..MAX_CAS_ATTEMPTS {
        let current = match known.take() {
            Some(current) => current,
            None => deps.store.get::<AlertBook>(ALERT_BOOK_KEY).await?,
        };
        let book = current
            .as_ref()
            .map(|v| v.value.clone())
            .unwrap_or_default();
        let (mut next, transitions) =
            alerts::reconcile(&book, &analysis.findings, analysis.window(), commit.now);
        if transitions.is_empty() && next.open.keys().eq(book.open.keys()) {
            // Nothing changed that anyone needs to hear about; skip the write. A retry of the
            // run that moved the book reports what that attempt moved.
            let summary = match &book.last_run {
                Some(mark) if mark.run == commit.run => from_mark(mark, next.open.len()),
                _ => summarize(&transitions, next.open.len()),
            };
            return Ok((summary, current));
        }
        for transition in &transitions {
            let id = alerts::transition_key(&next, transition);
            let message = notification(analysis, transition, deps.store.bucket(), commit.html_key);
            if let Some(owed) =
                notify_rules::owe(commit.config, &id, commit.run, commit.now, message)
            {
                next.outbox.add(owed);
            }
        }
        next.last_run = Some(RunMark::new(commit.run, &transitions));
        next.outbox.writer = Some(commit.run.to_owned());
        let written = match &current {
            Some(versioned) => {
                deps.store
                    .replace(ALERT_BOOK_KEY, &next, &versioned.etag)
                    .await
            }
            None => deps.store.create(ALERT_BOOK_KEY, &next).await,
        };
        match written {
            Ok(etag) => {
                let summary = summarize(&transitions, next.open.len());
                return Ok((summary, Some(Versioned { value: next, etag })));
            }
            Err(StateError::Conflict { .. } | StateError::AlreadyExists { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(HandlerError::Contention)
}

/// The summary of what `mark`'s run moved.
fn from_mark(mark: &RunMark, open: usize) -> AlertSummary {
    AlertSummary {
        opened: mark.opened.clone(),
        escalated: mark.escalated.clone(),
        resolved: mark.resolved.clone(),
        open,
    }
}

fn notification(
    analysis: &Analysis,
    transition: &Transition,
    bucket: &str,
    html_key: &str,
) -> Notification {
    let link = format!("https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={html_key}");
    let (finding_key, severity, lifecycle, title, summary, mut fields) = match transition {
        Transition::Opened(f) => (
            f.key.clone(),
            f.severity,
            Lifecycle::Trigger,
            f.title.clone(),
            f.summary.clone(),
            f.fields.clone(),
        ),
        Transition::Escalated { finding: f, from } => (
            f.key.clone(),
            f.severity,
            Lifecycle::Trigger,
            format!(
                "Escalated ({} → {}): {}",
                from.as_str(),
                f.severity.as_str(),
                f.title
            ),
            f.summary.clone(),
            f.fields.clone(),
        ),
        Transition::Resolved(alert) => (
            alert.key.clone(),
            alert.severity,
            Lifecycle::Resolve,
            format!("Resolved: {}", alert.title),
            format!("No longer found in the data as of {}.", analysis.as_of),
            Vec::new(),
        ),
    };
    fields.push(("Report".to_owned(), format!("s3://{bucket}/{html_key}")));
    Notification {
        source: FUNCTION.to_owned(),
        severity,
        lifecycle,
        title,
        summary,
        fields,
        dedup_key: format!("{FUNCTION}/{finding_key}"),
        link: Some(link),
        actions: Vec::new(),
    }
}
