//! `opsctl`, the suite's command line, as a library: [`run`] takes the arguments, an [`Env`]
//! (AWS configuration, state bucket, terminal and confirmation) and two writers, and returns the
//! exit code, so the binary, the demo and the tests run the very same code in-process.
//!
//! - `opsctl validate FILE...` checks configuration files ([`validate`]).
//! - `opsctl status [--watch]`, `history SERVICE`, `audit [--since]`, `dora [--days]`,
//!   `backup list|show|verify|restore`, `cost report [--open]` read the suite ([`status`],
//!   [`history`], [`audit`], [`dora`], [`backups`], [`cost`]); the REST API (ops-api) serves
//!   the very same views, and its commands call [`deploy::execute`] and [`rollback::execute`].
//! - `opsctl api-key create|list|revoke` manages the API's machine keys ([`apikey`]).
//! - `opsctl deploy pause|resume|promote [--full]|abort|retry SERVICE` stores an operator
//!   command in the service's deployment record; deploy-hook's next invocation carries it out
//!   ([`deploy`]).
//! - `opsctl rollback SERVICE [--to REVISION] [--dry-run]` puts a promoted or stable service
//!   back on its previous release now, with the rollback decision alarm-rollback uses
//!   ([`rollback`]).
//!
//! Every operator command prints what will change, asks for confirmation on a terminal (`--yes`
//! for scripts; without a terminal and without `--yes` it refuses), writes with
//! compare-and-swap, and writes an audit record naming the caller (STS `GetCallerIdentity`).
//! Exit codes: 0 done, 1 refused or failed, 2 usage.

pub mod apikey;
pub mod args;
pub mod audit;
pub mod backups;
pub mod cost;
pub mod deploy;
pub mod dora;
pub mod env;
pub mod history;
pub mod paint;
pub mod rollback;
pub mod session;
pub mod status;
pub mod validate;

use std::io::Write;
use std::process::ExitCode;

pub use args::{Command, Invocation, Options, Output};
pub use env::Env;

/// Exit code of a refused or failed command.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of a command line that does not parse.
pub const EXIT_USAGE: u8 = 2;

/// Why a command did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The command line or environment is incomplete or wrong (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The command makes no sense now, or was not confirmed; nothing was written (exit code 1).
    #[error("{0}")]
    Refused(String),
    /// An AWS call or a write failed (exit code 1); the message says what was written.
    #[error("{0}")]
    Failed(String),
    /// The service, plan or snapshot named is not there (exit code 1); nothing was written.
    #[error("{0}")]
    NotFound(String),
}

impl Failure {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Refused(_) | Failure::Failed(_) | Failure::NotFound(_) => EXIT_FAILED,
        }
    }

    /// The failure's kind as JSON output names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Usage(_) => "usage",
            Failure::Refused(_) => "refused",
            Failure::Failed(_) => "failed",
            Failure::NotFound(_) => "not_found",
        }
    }
}

/// Runs `opsctl` with `args` (without the program name): results go to `out`, errors and
/// prompts to `err`. With `--output json` the result, or the error, is one JSON object on
/// `out`.
pub async fn run(args: &[String], env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let invocation = match args::parse(args) {
        Ok(invocation) => invocation,
        Err(error) => {
            let _ = writeln!(err, "opsctl: {error}\n\n{}", args::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let output = invocation.options.output;
    let result = match &invocation.command {
        Command::Help => {
            let _ = writeln!(out, "{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Validate { files } => return validate::run(files, out, err),
        Command::Deploy { kind, service } => {
            deploy::run(*kind, service, &invocation.options, env, out).await
        }
        Command::Rollback {
            service,
            to,
            dry_run,
        } => {
            let request = rollback::Request {
                service,
                to: to.as_deref(),
                dry_run: *dry_run,
            };
            rollback::run(&request, &invocation.options, env, out).await
        }
        Command::Status { watch, interval } => {
            status::run(*watch, *interval, &invocation.options, env, out).await
        }
        Command::History { service, limit } => {
            history::run(service, *limit, &invocation.options, env, out).await
        }
        Command::Audit { since, limit } => {
            audit::run(since.as_deref(), *limit, &invocation.options, env, out).await
        }
        Command::Dora { days } => dora::run(*days, &invocation.options, env, out).await,
        Command::Backup(command) => backups::run(command, &invocation.options, env, out).await,
        Command::Cost { open } => cost::run(*open, &invocation.options, env, out).await,
        Command::ApiKey { command, secret } => {
            apikey::run(command, secret.as_deref(), &invocation.options, env, out).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            report_failure(&failure, output, out, err);
            ExitCode::from(failure.exit_code())
        }
    }
}

fn report_failure(failure: &Failure, output: Output, out: &mut dyn Write, err: &mut dyn Write) {
    match output {
        Output::Json => {
            let body = serde_json::json!({
                "ok": false,
                "error": failure.kind(),
                "message": failure.to_string(),
            });
            let _ = writeln!(out, "{body}");
        }
        Output::Text => {
            let _ = writeln!(err, "opsctl: {}: {failure}", failure.kind());
        }
    }
}

/// Asks for confirmation unless `--yes`: on a terminal through [`Env::confirm`], otherwise
/// refuses (nothing has been written yet).
pub(crate) fn confirm(env: &Env, options: &Options, question: &str) -> Result<(), Failure> {
    if options.yes {
        return Ok(());
    }
    if !env.interactive {
        return Err(Failure::Refused(
            "not confirmed: stdin is not a terminal; pass --yes to confirm in scripts (nothing \
             was written)"
                .to_owned(),
        ));
    }
    if (env.confirm)(question) {
        Ok(())
    } else {
        Err(Failure::Refused(
            "not confirmed (nothing was written)".to_owned(),
        ))
    }
}

/// Prints a result: `value` as one JSON object, or `lines` for people.
pub(crate) fn print(
    out: &mut dyn Write,
    output: Output,
    value: &impl serde::Serialize,
    lines: &[String],
) {
    match output {
        Output::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
            );
        }
        Output::Text => {
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}
