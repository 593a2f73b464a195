//! `opsctl`: the suite's command line. `opsctl validate FILE...` checks configuration files with
//! the same validator the functions use at cold start and exits non-zero on any error.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((command, files)) if command == "validate" && !files.is_empty() => validate(files),
        _ => {
            eprintln!("usage: opsctl validate FILE...\n\nChecks suite configuration files and lists every error with its path.");
            ExitCode::from(2)
        }
    }
}

fn validate(files: &[String]) -> ExitCode {
    let mut failed = false;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("{file}: cannot read: {error}");
                failed = true;
                continue;
            }
        };
        match ops_domain::config::parse(&text) {
            Ok(config) => println!(
                "{file}: ok ({} services, {} alarm routes, {} channels)",
                config.services.len(),
                config.alarms.len(),
                config.notifications.channels.len()
            ),
            Err(errors) => {
                eprint!("{file}: {errors}");
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
