//! `opsctl validate FILE...`: checks configuration files with the same validator the functions
//! use at cold start, lists every error with its path, and fails on any error.

use std::io::Write;
use std::process::ExitCode;

/// Validates `files`: one `ok` line per valid file on `out`, every error on `err`.
pub fn run(files: &[String], out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let mut failed = false;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) => {
                let _ = writeln!(err, "{file}: cannot read: {error}");
                failed = true;
                continue;
            }
        };
        match ops_domain::config::parse(&text) {
            Ok(config) => {
                let _ = writeln!(
                    out,
                    "{file}: ok ({} services, {} alarm routes, {} channels)",
                    config.services.len(),
                    config.alarms.len(),
                    config.notifications.channels.len()
                );
            }
            Err(errors) => {
                let _ = write!(err, "{file}: {errors}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
