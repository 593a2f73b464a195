//! Runs a function through the real Lambda Runtime API: `cargo lambda watch --only-lambda-apis`
//! serves the API, the function's binary (built once, with the workspace's one feature set) polls
//! it, and `cargo lambda invoke --data-file` sends it events.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use tokio::process::{Child, Command};

/// The debug build every local run shares: the demo (`make demo`), `cargo test --workspace`, the
/// end-to-end check and this runner. `--workspace --examples` resolves features once for the
/// whole workspace with its dev-dependencies (the workspace has no examples; asking for them is
/// what makes cargo include the dev-dependencies), which is exactly the set `cargo test
/// --workspace` uses, so every crate compiles once whichever of them runs first. Building one
/// package alone (`cargo build -p deploy-hook`, or `cargo lambda watch`'s own `cargo run`) would
/// resolve other features (tokio, hyper, serde) and compile the SDK a second time. Keep in step
/// with `DEV_BUILD` in the Makefile and scripts/e2e-invoke.sh.
pub const DEV_BUILD: [&str; 3] = ["build", "--workspace", "--examples"];

/// A function binary polling a `cargo lambda watch --only-lambda-apis` Runtime API; both are
/// stopped on drop.
#[derive(Debug)]
pub struct Watch {
    api: Child,
    function: Child,
    port: u16,
    package: String,
    /// Where the Runtime API's and the function's output goes.
    pub log: PathBuf,
}

/// `PATH` with the project venv's `bin` first, where setup installs cargo-lambda.
fn path_with_venv() -> String {
    let venv = crate::workspace_root().join(".venv/bin");
    match std::env::var("PATH") {
        Ok(path) => format!("{}:{path}", venv.display()),
        Err(_) => venv.display().to_string(),
    }
}

/// Builds the binary `name` with [`DEV_BUILD`] (nothing to do when `make demo` or `cargo test`
/// built it already; a changed source is rebuilt, so a stale binary never runs) and returns its
/// path as cargo reports it.
pub async fn build_binary(name: &str) -> anyhow::Result<PathBuf> {
    let output = Command::new("cargo")
        .args(DEV_BUILD)
        .args(["--bin", name, "--message-format", "json-render-diagnostics"])
        .current_dir(crate::workspace_root())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("cargo build")?;
    if !output.status.success() {
        bail!("cargo build --bin {name} failed");
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| anyhow!("cargo build did not report an executable named {name}"))
}

/// Waits until something listens on the loopback `port`.
async fn wait_for_port(port: u16, what: &str, log: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "{what} did not listen on port {port} within 60 s; see {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

impl Watch {
    /// Builds `package`'s binary (see [`build_binary`]), starts `cargo lambda watch
    /// --only-lambda-apis` on a free port, and starts the binary against its Runtime API with the
    /// given environment and the variables `cargo lambda watch` itself gives the functions it
    /// runs. Events sent before the function's first poll wait in the API's queue.
    pub async fn start(
        package: &str,
        env: &[(String, String)],
        log: PathBuf,
    ) -> anyhow::Result<Watch> {
        let binary = build_binary(package).await?;
        let port = crate::emulator::free_port();
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let api = Command::new("cargo")
            .arg("lambda")
            .arg("watch")
            .arg("--only-lambda-apis")
            .arg("--invoke-address")
            .arg("127.0.0.1")
            .arg("--invoke-port")
            .arg(port.to_string())
            .arg("--ignore-changes")
            .current_dir(crate::workspace_root())
            .env("PATH", path_with_venv())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file.try_clone()?)
            .kill_on_drop(true)
            .spawn()
            .context("start `cargo lambda watch` (run scripts/setup.sh to install cargo-lambda)")?;
        // The function's first poll must find the API listening: a refused connection ends it.
        if let Err(error) =
            wait_for_port(port, "`cargo lambda watch --only-lambda-apis`", &log).await
        {
            drop(api);
            return Err(error);
        }
        // The function is routed by name (`/.rt/<name>/2018-06-01/runtime/invocation/next`), the
        // name `cargo lambda invoke <name>` sends to.
        let function = Command::new(&binary)
            .envs(env.iter().map(|(key, value)| (key, value)))
            .env("AWS_LAMBDA_FUNCTION_NAME", package)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "4096")
            .env("AWS_LAMBDA_MAX_CONCURRENCY", "1")
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt/{package}"),
            )
            .current_dir(crate::workspace_root())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        Ok(Watch {
            api,
            function,
            port,
            package: package.to_owned(),
            log,
        })
    }

    /// `cargo lambda invoke --data-file FILE`; returns the function's response (or error) JSON.
    pub async fn invoke(&self, data_file: &str) -> anyhow::Result<serde_json::Value> {
        let output = Command::new("cargo")
            .arg("lambda")
            .arg("invoke")
            .arg(&self.package)
            .arg("--invoke-address")
            .arg("127.0.0.1")
            .arg("--invoke-port")
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(data_file)
            .arg("--output-format")
            .arg("json")
            .current_dir(crate::workspace_root())
            .env("PATH", path_with_venv())
            .output()
            .await
            .context("run `cargo lambda invoke`")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if let Ok(value) = serde_json::from_str(stdout.trim()) {
            return Ok(value);
        }
        if !output.status.success() {
            // Function errors come back as a non-zero exit with the error on stderr.
            return Ok(serde_json::json!({"error": stderr.trim()}));
        }
        Err(anyhow!(
            "unexpected output from `cargo lambda invoke`: {stdout} {stderr}"
        ))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SIGTERM first (the function's runtime and the API server shut down cleanly), then
        // `kill_on_drop` makes sure both processes are gone.
        for pid in [self.function.id(), self.api.id()].into_iter().flatten() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
