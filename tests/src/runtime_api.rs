//! Runs a function through the real Lambda Runtime API: `cargo lambda watch` serves the API and
//! runs the function binary, `cargo lambda invoke --data-file` sends it events.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use tokio::process::{Child, Command};

/// A `cargo lambda watch` process, stopped on drop.
#[derive(Debug)]
pub struct Watch {
    child: Child,
    port: u16,
    package: String,
    /// Where the function's own output goes.
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

impl Watch {
    /// Starts `cargo lambda watch` for `package` with the given environment for the function,
    /// and waits until the Runtime API listens (building the function first if needed).
    pub async fn start(
        package: &str,
        env: &[(String, String)],
        log: PathBuf,
    ) -> anyhow::Result<Watch> {
        // Build first, the way `cargo lambda watch` runs it (`cargo run --package P --bin P`):
        // the watch server accepts invocations before its function has compiled, and an event
        // that waits on a compile would arrive past its deadline.
        let built = Command::new("cargo")
            .args(["build", "--package", package, "--bin", package])
            .current_dir(crate::workspace_root())
            .status()
            .await
            .context("cargo build")?;
        if !built.success() {
            bail!("cargo build --package {package} failed");
        }
        let port = crate::emulator::free_port();
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let mut command = Command::new("cargo");
        command
            .arg("lambda")
            .arg("watch")
            .arg("--package")
            .arg(package)
            .arg("--invoke-address")
            .arg("127.0.0.1")
            .arg("--invoke-port")
            .arg(port.to_string())
            .arg("--ignore-changes");
        for (key, value) in env {
            command.arg("--env-var").arg(format!("{key}={value}"));
        }
        let child = command
            .current_dir(crate::workspace_root())
            .env("PATH", path_with_venv())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .context("start `cargo lambda watch` (run scripts/setup.sh to install cargo-lambda)")?;
        let watch = Watch {
            child,
            port,
            package: package.to_owned(),
            log,
        };
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if started.elapsed() > Duration::from_secs(600) {
                bail!(
                    "`cargo lambda watch` did not listen on port {port} within 10 minutes; see {}",
                    watch.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(watch)
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
        // SIGTERM lets `cargo lambda watch` stop the function instance it runs; `kill_on_drop`
        // then makes sure the watch process itself is gone.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}
