//! The command line, parsed by hand (a small fixed grammar whose errors name the flag, with no
//! parser dependency in the Lambda-linked library): `opsctl validate FILE...`, `opsctl deploy
//! pause|resume|promote [--full]|abort|retry SERVICE`, `opsctl rollback SERVICE [--to REVISION]
//! [--dry-run]`, `opsctl status [--watch]`, `opsctl history SERVICE`, `opsctl audit [--since]`,
//! `opsctl dora [--days N]`, `opsctl backup list|show|verify|restore`, `opsctl cost report
//! [--open]`, with the common flags `--yes`, `--output json|text`, `--reason TEXT`, `--bucket
//! NAME` and `--config URI`.
//!
//! Flags may come before or after the service, as `--flag value` or `--flag=value`; `--` ends
//! the flags. Anything unknown, missing or repeated is a [`UsageError`] (exit code 2).

use ops_domain::deploy::CommandKind;

/// Most characters of a `--reason` (the same cap as an alarm's reason).
pub const MAX_REASON: usize = ops_domain::rollback::MAX_REASON;

/// The usage text.
pub const USAGE: &str = "\
usage: opsctl validate FILE...
       opsctl status [--watch] [--interval SECONDS] [OPTIONS]
       opsctl history SERVICE [--limit N] [OPTIONS]
       opsctl audit [--since 7d|RFC3339] [--limit N] [OPTIONS]
       opsctl dora [--days 30] [OPTIONS]
       opsctl deploy pause|resume|promote [--full]|abort|retry SERVICE [OPTIONS]
       opsctl rollback SERVICE [--to REVISION] [--dry-run] [OPTIONS]
       opsctl backup list|show PLAN|verify PLAN|restore PLAN [--snapshot ID] [--apply] [OPTIONS]
       opsctl cost report [--open] [OPTIONS]
       opsctl api-key create NAME --role viewer|operator | list | revoke NAME [--secret ID] [OPTIONS]

Commands:
  validate   check suite configuration files and list every error with its path
  status     every service, backup plan and cost budget on one screen (--watch to follow)
  history    SERVICE's deployment history
  audit      the audit trail, newest first
  dora       deployment frequency, lead time, change failure rate, time to restore
  deploy     steer SERVICE's deployment; deploy-hook's next invocation carries it out
  rollback   put SERVICE back on its previous release now (traffic and ECS service)
  backup     plans and snapshots; verify and restore through the backup function
  cost       the latest cost report: budgets, forecast, open alerts, HTML link
  api-key    the REST API's machine keys (shown once at creation; only their hash is stored)

Options:
  --yes, -y              do not ask for confirmation (required when stdin is not a terminal)
  --output text|json     output format (default text)
  --reason TEXT          why, recorded with the command and in the audit record
  --to REVISION          rollback target of a STABLE service: family:revision or task definition ARN
  --dry-run              print the rollback plan and change nothing
  --watch                redraw status every --interval seconds (default 5)
  --limit N              most entries shown (history 20, audit 100)
  --since 7d|RFC3339     audit records since then (default 7d)
  --days N               DORA window in days (default 30)
  --snapshot ID          backup snapshot (default latest; verify: every snapshot)
  --apply                restore: apply after showing the diff and confirming
  --open                 cost report: open the HTML report in a browser
  --role viewer|operator api-key create: what the key may do
  --secret NAME|ARN      api-key: the keys secret (default $API_KEYS_SECRET)
  --bucket NAME          the state bucket (default $STATE_BUCKET)
  --config URI           the suite config (default $CONFIG_URI, else s3://BUCKET/config/suite.yaml)
  --help, -h             this text";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `validate FILE...`.
    Validate {
        /// The files, as given.
        files: Vec<String>,
    },
    /// `deploy <command> SERVICE`.
    Deploy {
        /// The operator command.
        kind: CommandKind,
        /// The service.
        service: String,
    },
    /// `rollback SERVICE [--to REVISION] [--dry-run]`.
    Rollback {
        /// The service.
        service: String,
        /// The release to go back to (STABLE services), instead of the previous one.
        to: Option<String>,
        /// Print the plan, change nothing.
        dry_run: bool,
    },
    /// `status [--watch] [--interval SECONDS]`.
    Status {
        /// Redraw until interrupted.
        watch: bool,
        /// Seconds between redraws.
        interval: u64,
    },
    /// `history SERVICE [--limit N]`.
    History {
        /// The service.
        service: String,
        /// Most entries shown.
        limit: usize,
    },
    /// `audit [--since …] [--limit N]`.
    Audit {
        /// `7d`, `12h` or an RFC 3339 time.
        since: Option<String>,
        /// Most records shown.
        limit: usize,
    },
    /// `dora [--days N]`.
    Dora {
        /// The window.
        days: u32,
    },
    /// `backup …`.
    Backup(crate::backups::BackupCommand),
    /// `api-key create|list|revoke`.
    ApiKey {
        /// What to do.
        command: crate::apikey::KeyCommand,
        /// `--secret`.
        secret: Option<String>,
    },
    /// `cost report [--open]`.
    Cost {
        /// Open the HTML report in a browser.
        open: bool,
    },
    /// `--help`.
    Help,
}

/// Flags common to the operator commands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `--yes`: no confirmation asked.
    pub yes: bool,
    /// `--output`.
    pub output: Output,
    /// `--reason` (empty when not given).
    pub reason: String,
    /// `--bucket`.
    pub bucket: Option<String>,
    /// `--config`.
    pub config: Option<String>,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// What to do.
    pub command: Command,
    /// How.
    pub options: Options,
}

/// A command line that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// Whether the command line names a command that talks to AWS (everything but `validate` and
/// `--help`, and lines that do not parse).
pub fn needs_aws(args: &[String]) -> bool {
    matches!(
        parse(args),
        Ok(Invocation {
            command: Command::Deploy { .. }
                | Command::Rollback { .. }
                | Command::Status { .. }
                | Command::History { .. }
                | Command::Audit { .. }
                | Command::Dora { .. }
                | Command::Backup(_)
                | Command::Cost { .. }
                | Command::ApiKey { .. },
            ..
        })
    )
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Invocation, UsageError> {
    let Some((command, rest)) = args.split_first() else {
        return Err(usage("no command given"));
    };
    match command.as_str() {
        // Every argument after `validate` is a file, exactly as before the operator commands.
        "validate" if rest.is_empty() => Err(usage("validate needs at least one FILE")),
        "validate" => Ok(Invocation {
            command: Command::Validate {
                files: rest.to_vec(),
            },
            options: Options::default(),
        }),
        "-h" | "--help" | "help" => Ok(Invocation {
            command: Command::Help,
            options: Options::default(),
        }),
        "deploy" | "rollback" => parse_operator(command, rest),
        "status" | "history" | "audit" | "dora" | "backup" | "cost" | "api-key" => {
            parse_read(command, rest)
        }
        other => Err(usage(format!("unknown command \"{}\"", shown(other)))),
    }
}

/// The flags and positional arguments of `deploy` / `rollback`.
#[derive(Default)]
struct Scanned {
    positional: Vec<String>,
    options: Options,
    full: bool,
    to: Option<String>,
    dry_run: bool,
    help: bool,
    watch: bool,
    interval: Option<String>,
    limit: Option<String>,
    since: Option<String>,
    days: Option<String>,
    snapshot: Option<String>,
    apply: bool,
    open: bool,
    role: Option<String>,
    secret: Option<String>,
}

fn scan(rest: &[String]) -> Result<Scanned, UsageError> {
    let mut scanned = Scanned::default();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut items = rest.iter();
    let mut flags_ended = false;
    while let Some(arg) = items.next() {
        if flags_ended || !arg.starts_with('-') || arg == "-" {
            scanned.positional.push(arg.clone());
            continue;
        }
        if arg == "--" {
            flags_ended = true;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let flag: &'static str = match name {
            "--yes" | "-y" => "--yes",
            "--output" | "-o" => "--output",
            "--reason" => "--reason",
            "--bucket" => "--bucket",
            "--config" => "--config",
            "--full" => "--full",
            "--to" => "--to",
            "--dry-run" => "--dry-run",
            "--help" | "-h" => "--help",
            "--watch" | "-w" => "--watch",
            "--interval" => "--interval",
            "--limit" => "--limit",
            "--since" => "--since",
            "--days" => "--days",
            "--snapshot" => "--snapshot",
            "--apply" => "--apply",
            "--open" => "--open",
            "--role" => "--role",
            "--secret" => "--secret",
            other => return Err(usage(format!("unknown option \"{}\"", shown(other)))),
        };
        if seen.contains(&flag) {
            return Err(usage(format!("{flag} given twice")));
        }
        seen.push(flag);
        let takes_value = matches!(
            flag,
            "--output"
                | "--reason"
                | "--bucket"
                | "--config"
                | "--to"
                | "--interval"
                | "--limit"
                | "--since"
                | "--days"
                | "--snapshot"
                | "--role"
                | "--secret"
        );
        if !takes_value {
            if inline.is_some() {
                return Err(usage(format!("{flag} takes no value")));
            }
            match flag {
                "--yes" => scanned.options.yes = true,
                "--full" => scanned.full = true,
                "--dry-run" => scanned.dry_run = true,
                "--watch" => scanned.watch = true,
                "--apply" => scanned.apply = true,
                "--open" => scanned.open = true,
                _ => scanned.help = true,
            }
            continue;
        }
        let value = match inline {
            Some(value) => value,
            None => items
                .next()
                .cloned()
                .ok_or_else(|| usage(format!("{flag} needs a value")))?,
        };
        match flag {
            "--output" => {
                scanned.options.output = match value.as_str() {
                    "text" => Output::Text,
                    "json" => Output::Json,
                    other => {
                        return Err(usage(format!(
                            "--output must be text or json, not \"{}\"",
                            shown(other)
                        )))
                    }
                }
            }
            "--reason" => {
                if value.chars().count() > MAX_REASON {
                    return Err(usage(format!(
                        "--reason is longer than {MAX_REASON} characters"
                    )));
                }
                if value.chars().any(|c| c.is_control() && c != '\t') {
                    return Err(usage("--reason must be one line of text"));
                }
                scanned.options.reason = value.trim().to_owned();
            }
            "--bucket" => scanned.options.bucket = Some(non_empty(flag, value)?),
            "--config" => scanned.options.config = Some(non_empty(flag, value)?),
            "--interval" => scanned.interval = Some(value),
            "--limit" => scanned.limit = Some(value),
            "--since" => scanned.since = Some(non_empty(flag, value)?),
            "--days" => scanned.days = Some(value),
            "--snapshot" => scanned.snapshot = Some(non_empty(flag, value)?),
            "--role" => scanned.role = Some(value),
            "--secret" => scanned.secret = Some(non_empty(flag, value)?),
            _ => scanned.to = Some(non_empty(flag, value)?),
        }
    }
    Ok(scanned)
}

fn non_empty(flag: &str, value: String) -> Result<String, UsageError> {
    if value.trim().is_empty() {
        Err(usage(format!("{flag} needs a non-empty value")))
    } else {
        Ok(value)
    }
}

fn parse_operator(command: &str, rest: &[String]) -> Result<Invocation, UsageError> {
    let scanned = scan(rest)?;
    if scanned.help {
        return Ok(Invocation {
            command: Command::Help,
            options: scanned.options,
        });
    }
    let mut positional = scanned.positional.into_iter();
    let command = if command == "deploy" {
        let name = positional.next().ok_or_else(|| {
            usage("deploy needs a command: pause, resume, promote, abort or retry")
        })?;
        let kind = match name.as_str() {
            "pause" => CommandKind::Pause,
            "resume" => CommandKind::Resume,
            "promote" => CommandKind::Promote { full: scanned.full },
            "abort" => CommandKind::Abort,
            "retry" => CommandKind::Retry,
            other => {
                return Err(usage(format!(
                    "unknown deploy command \"{}\" (pause, resume, promote, abort, retry)",
                    shown(other)
                )))
            }
        };
        if scanned.full && !matches!(kind, CommandKind::Promote { .. }) {
            return Err(usage("--full applies to deploy promote only"));
        }
        if scanned.to.is_some() || scanned.dry_run {
            return Err(usage("--to and --dry-run apply to rollback only"));
        }
        Command::Deploy {
            kind,
            service: service(positional.next(), &format!("deploy {name}"))?,
        }
    } else {
        if scanned.full {
            return Err(usage("--full applies to deploy promote only"));
        }
        Command::Rollback {
            service: service(positional.next(), "rollback")?,
            to: scanned.to,
            dry_run: scanned.dry_run,
        }
    };
    if let Some(extra) = positional.next() {
        return Err(usage(format!("unexpected argument \"{}\"", shown(&extra))));
    }
    Ok(Invocation {
        command,
        options: scanned.options,
    })
}

/// A positive whole number given to `flag`, at most `max`.
fn number(flag: &str, value: Option<String>, default: u64, max: u64) -> Result<u64, UsageError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(usage(format!(
            "{flag} must be a whole number from 1 to {max}, not \"{}\"",
            shown(&value)
        ))),
    }
}

/// The read commands and `backup`: `status`, `history`, `audit`, `dora`, `backup`, `cost`.
fn parse_read(command: &str, rest: &[String]) -> Result<Invocation, UsageError> {
    use crate::backups::BackupCommand;
    let scanned = scan(rest)?;
    if scanned.help {
        return Ok(Invocation {
            command: Command::Help,
            options: scanned.options,
        });
    }
    // Every flag a command does not take is refused by name.
    let allowed: &[&str] = match command {
        "status" => &["--watch", "--interval"],
        "history" => &["--limit"],
        "audit" => &["--since", "--limit"],
        "dora" => &["--days"],
        "backup" => &["--snapshot", "--apply"],
        "api-key" => &["--role", "--secret"],
        _ => &["--open"],
    };
    let given = [
        ("--full", scanned.full),
        ("--to", scanned.to.is_some()),
        ("--dry-run", scanned.dry_run),
        ("--watch", scanned.watch),
        ("--interval", scanned.interval.is_some()),
        ("--limit", scanned.limit.is_some()),
        ("--since", scanned.since.is_some()),
        ("--days", scanned.days.is_some()),
        ("--snapshot", scanned.snapshot.is_some()),
        ("--apply", scanned.apply),
        ("--open", scanned.open),
        ("--role", scanned.role.is_some()),
        ("--secret", scanned.secret.is_some()),
    ];
    if let Some((flag, _)) = given
        .iter()
        .find(|(flag, set)| *set && !allowed.contains(flag))
    {
        return Err(usage(format!("{flag} does not apply to {command}")));
    }
    let mut positional = scanned.positional.into_iter();
    let parsed = match command {
        "status" => Command::Status {
            watch: scanned.watch,
            interval: number("--interval", scanned.interval, 5, 3600)?,
        },
        "history" => Command::History {
            service: service(positional.next(), "history")?,
            limit: number("--limit", scanned.limit, 20, 1000)? as usize,
        },
        "audit" => Command::Audit {
            since: scanned.since,
            limit: number("--limit", scanned.limit, 100, 10_000)? as usize,
        },
        "dora" => Command::Dora {
            days: number("--days", scanned.days, 30, 365)? as u32,
        },
        "backup" => {
            let action = positional
                .next()
                .ok_or_else(|| usage("backup needs list, show, verify or restore"))?;
            let mut plan = |what: &str| service(positional.next(), &format!("backup {what}"));
            let parsed = match action.as_str() {
                "list" => BackupCommand::List,
                "show" => BackupCommand::Show {
                    plan: plan("show")?,
                },
                "verify" => BackupCommand::Verify {
                    plan: plan("verify")?,
                    snapshot: scanned.snapshot.clone(),
                },
                "restore" => BackupCommand::Restore {
                    plan: plan("restore")?,
                    snapshot: scanned.snapshot.clone(),
                    apply: scanned.apply,
                },
                other => {
                    return Err(usage(format!(
                        "unknown backup command \"{}\" (list, show, verify, restore)",
                        shown(other)
                    )))
                }
            };
            let takes_snapshot = matches!(
                parsed,
                BackupCommand::Verify { .. } | BackupCommand::Restore { .. }
            );
            if scanned.snapshot.is_some() && !takes_snapshot {
                return Err(usage("--snapshot applies to backup verify and restore"));
            }
            if scanned.apply && !matches!(parsed, BackupCommand::Restore { .. }) {
                return Err(usage("--apply applies to backup restore only"));
            }
            Command::Backup(parsed)
        }
        "api-key" => {
            use crate::apikey::KeyCommand;
            use ops_domain::apikeys::Role;
            let action = positional
                .next()
                .ok_or_else(|| usage("api-key needs create, list or revoke"))?;
            let command = match action.as_str() {
                "list" => KeyCommand::List,
                "create" => KeyCommand::Create {
                    name: service(positional.next(), "api-key create")?,
                    role: match scanned.role.as_deref() {
                        Some("viewer") => Role::Viewer,
                        Some("operator") => Role::Operator,
                        Some(other) => {
                            return Err(usage(format!(
                                "--role must be viewer or operator, not \"{}\"",
                                shown(other)
                            )))
                        }
                        None => return Err(usage("api-key create needs --role viewer|operator")),
                    },
                },
                "revoke" => KeyCommand::Revoke {
                    name: service(positional.next(), "api-key revoke")?,
                },
                other => {
                    return Err(usage(format!(
                        "unknown api-key command \"{}\" (create, list, revoke)",
                        shown(other)
                    )))
                }
            };
            if scanned.role.is_some() && !matches!(command, KeyCommand::Create { .. }) {
                return Err(usage("--role applies to api-key create only"));
            }
            Command::ApiKey {
                command,
                secret: scanned.secret.clone(),
            }
        }
        _ => match positional.next().as_deref() {
            Some("report") => Command::Cost { open: scanned.open },
            _ => return Err(usage("cost needs a command: report")),
        },
    };
    if let Some(extra) = positional.next() {
        return Err(usage(format!("unexpected argument \"{}\"", shown(&extra))));
    }
    Ok(Invocation {
        command: parsed,
        options: scanned.options,
    })
}

/// A service name: letters, digits, `-`, `_` and `.`, as config keys are written.
fn service(name: Option<String>, command: &str) -> Result<String, UsageError> {
    let name = name.ok_or_else(|| usage(format!("{command} needs a SERVICE")))?;
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with(['.', '-']);
    if valid {
        Ok(name)
    } else {
        Err(usage(format!("\"{}\" is not a service name", shown(&name))))
    }
}

/// An argument quoted in a message: at most 64 characters, control characters escaped.
fn shown(text: &str) -> String {
    let mut quoted: String = text
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > 64 {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn ok(line: &str) -> Invocation {
        parse(&args(line)).unwrap_or_else(|error| panic!("{line}: {error}"))
    }

    fn err(line: &str) -> String {
        match parse(&args(line)) {
            Ok(parsed) => panic!("{line}: parsed as {parsed:?}"),
            Err(error) => error.0,
        }
    }

    #[test]
    fn validate_takes_every_argument_as_a_file() {
        assert_eq!(
            ok("validate a.yaml --yes b.yaml").command,
            Command::Validate {
                files: args("a.yaml --yes b.yaml")
            }
        );
        assert_eq!(err("validate"), "validate needs at least one FILE");
    }

    #[test]
    fn deploy_commands_and_their_flags() {
        let parsed = ok("deploy pause web --yes --reason=hold --output json");
        assert_eq!(
            parsed.command,
            Command::Deploy {
                kind: CommandKind::Pause,
                service: "web".into()
            }
        );
        assert!(parsed.options.yes);
        assert_eq!(parsed.options.reason, "hold");
        assert_eq!(parsed.options.output, Output::Json);
        assert_eq!(
            ok("deploy --full promote web").command,
            Command::Deploy {
                kind: CommandKind::Promote { full: true },
                service: "web".into()
            }
        );
        for (word, kind) in [
            ("resume", CommandKind::Resume),
            ("promote", CommandKind::Promote { full: false }),
            ("abort", CommandKind::Abort),
            ("retry", CommandKind::Retry),
        ] {
            assert_eq!(
                ok(&format!("deploy {word} api -y")).command,
                Command::Deploy {
                    kind,
                    service: "api".into()
                }
            );
        }
    }

    #[test]
    fn reason_with_spaces_as_one_argument() {
        let parsed = parse(&[
            "deploy".into(),
            "abort".into(),
            "web".into(),
            "--reason".into(),
            "error rate up after release".into(),
        ])
        .expect("parses");
        assert_eq!(parsed.options.reason, "error rate up after release");
        assert_eq!(
            parse(&[
                "deploy".into(),
                "abort".into(),
                "web".into(),
                "--reason".into(),
                "two\nlines".into(),
            ]),
            Err(UsageError("--reason must be one line of text".into()))
        );
        let long = format!("--reason={}", "x".repeat(MAX_REASON + 1));
        assert!(parse(&["deploy".into(), "abort".into(), "web".into(), long]).is_err());
    }

    #[test]
    fn rollback_and_its_flags() {
        let parsed =
            ok("rollback billing --to billing:3 --dry-run --bucket state --config s3://b/c.yaml");
        assert_eq!(
            parsed.command,
            Command::Rollback {
                service: "billing".into(),
                to: Some("billing:3".into()),
                dry_run: true
            }
        );
        assert_eq!(parsed.options.bucket.as_deref(), Some("state"));
        assert_eq!(parsed.options.config.as_deref(), Some("s3://b/c.yaml"));
        assert_eq!(
            ok("rollback web").command,
            Command::Rollback {
                service: "web".into(),
                to: None,
                dry_run: false
            }
        );
    }

    #[test]
    fn mistakes_are_usage_errors_with_a_clear_message() {
        assert_eq!(err(""), "no command given");
        assert_eq!(
            err("deploy"),
            "deploy needs a command: pause, resume, promote, abort or retry"
        );
        assert_eq!(err("deploy pause"), "deploy pause needs a SERVICE");
        assert_eq!(
            err("deploy stop web"),
            "unknown deploy command \"stop\" (pause, resume, promote, abort, retry)"
        );
        assert_eq!(
            err("deploy pause web --full"),
            "--full applies to deploy promote only"
        );
        assert_eq!(
            err("rollback web --full"),
            "--full applies to deploy promote only"
        );
        assert_eq!(
            err("deploy pause web --dry-run"),
            "--to and --dry-run apply to rollback only"
        );
        assert_eq!(err("deploy pause web api"), "unexpected argument \"api\"");
        assert_eq!(err("deploy pause web --yes --yes"), "--yes given twice");
        assert_eq!(
            err("deploy pause web --force"),
            "unknown option \"--force\""
        );
        assert_eq!(err("deploy pause web --yes=1"), "--yes takes no value");
        assert_eq!(err("deploy pause web --output"), "--output needs a value");
        assert_eq!(
            err("deploy pause web --output yaml"),
            "--output must be text or json, not \"yaml\""
        );
        assert_eq!(err("rollback web --to="), "--to needs a non-empty value");
        assert_eq!(err("rollback ../etc"), "\"../etc\" is not a service name");
        assert_eq!(err("frobnicate web"), "unknown command \"frobnicate\"");
        assert_eq!(err("status web"), "unexpected argument \"web\"");
        assert_eq!(err("status --days 3"), "--days does not apply to status");
        assert_eq!(err("history"), "history needs a SERVICE");
        assert_eq!(
            err("dora --days 0"),
            "--days must be a whole number from 1 to 365, not \"0\""
        );
        assert_eq!(err("backup show"), "backup show needs a SERVICE");
        assert_eq!(
            err("backup list --apply"),
            "--apply applies to backup restore only"
        );
        assert_eq!(err("cost"), "cost needs a command: report");
        assert_eq!(
            err("api-key create bot"),
            "api-key create needs --role viewer|operator"
        );
        assert_eq!(
            err("api-key create bot --role admin"),
            "--role must be viewer or operator, not \"admin\""
        );
    }

    #[test]
    fn read_commands_parse_with_their_defaults() {
        use crate::backups::BackupCommand;
        let command = |line: &str| {
            let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            parse(&args).expect("parses").command
        };
        assert_eq!(
            command("status"),
            Command::Status {
                watch: false,
                interval: 5
            }
        );
        assert_eq!(
            command("status --watch --interval 2"),
            Command::Status {
                watch: true,
                interval: 2
            }
        );
        assert_eq!(command("dora"), Command::Dora { days: 30 });
        assert_eq!(
            command("audit --since 12h"),
            Command::Audit {
                since: Some("12h".into()),
                limit: 100
            }
        );
        assert_eq!(
            command("backup restore nightly --apply --snapshot s1"),
            Command::Backup(BackupCommand::Restore {
                plan: "nightly".into(),
                snapshot: Some("s1".into()),
                apply: true
            })
        );
        assert_eq!(command("cost report --open"), Command::Cost { open: true });
    }

    #[test]
    fn double_dash_ends_the_flags_and_help_is_recognised() {
        assert_eq!(
            err("deploy pause -- --yes"),
            "\"--yes\" is not a service name"
        );
        assert_eq!(ok("--help").command, Command::Help);
        assert_eq!(ok("rollback web --help").command, Command::Help);
    }

    #[test]
    fn only_operator_commands_need_aws() {
        assert!(needs_aws(&args("deploy pause web")));
        assert!(needs_aws(&args("rollback web --dry-run")));
        assert!(!needs_aws(&args("validate a.yaml")));
        assert!(!needs_aws(&args("deploy")));
        assert!(!needs_aws(&args("--help")));
    }
}
