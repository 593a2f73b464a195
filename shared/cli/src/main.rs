//! `opsctl`: the suite's command line (see the `ops_cli` library for the commands). Loads the
//! operator's AWS configuration only for commands that talk to AWS, so `opsctl validate` runs
//! anywhere without credentials.

use std::process::ExitCode;

use ops_cli::Env;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = if ops_cli::args::needs_aws(&args) {
        Env::from_process().await
    } else {
        Env::offline()
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    ops_cli::run(&args, &env, &mut out, &mut err).await
}
