//! The local AWS emulator (moto server) on a free loopback port.
//!
//! One server per test process, started on first use. It is started through a small shell
//! wrapper that kills it when this process's end of a pipe closes, so no server outlives the
//! tests even when they panic or are killed.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};

/// A running moto server.
#[derive(Debug)]
pub struct Emulator {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    _child: Child,
}

/// The command that starts the emulator: `$MOTO_SERVER`, or the project venv's Python running
/// `scripts/moto_server.py` (moto with atomic S3 conditional writes, as S3 has them), or
/// `moto_server` from `PATH`.
fn moto_command() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return vec![PathBuf::from(path)];
    }
    let root = crate::workspace_root();
    let python = root.join(".venv/bin/python");
    if python.exists() {
        return vec![python, root.join("scripts/moto_server.py")];
    }
    vec![PathBuf::from("moto_server")]
}

/// A free loopback port (bound and released; the emulator binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|error| panic!("no free loopback port: {error}"))
}

impl Emulator {
    /// Starts a server; panics with the reason if it does not come up in 60 s.
    pub fn start() -> Emulator {
        let port = free_port();
        let command = moto_command();
        let shown = command
            .iter()
            .map(|part| part.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        // The wrapper exits (killing moto) as soon as our end of its stdin closes.
        let script = r#"port="$1"; shift; "$@" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 & pid=$!; trap 'kill $pid 2>/dev/null' EXIT; cat >/dev/null"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("moto-wrapper")
            .arg(port.to_string())
            .args(&command)
            .env("MOTO_ECS_SERVICE_RUNNING", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {}: {error} (run scripts/setup.sh)", shown)
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                panic!("moto server {} did not listen on {endpoint} within 60 s (run scripts/setup.sh)", shown);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Emulator {
            endpoint,
            _child: child,
        }
    }

    /// The process-wide server, started on first use.
    pub fn shared() -> &'static Emulator {
        static SHARED: OnceLock<Emulator> = OnceLock::new();
        SHARED.get_or_init(Emulator::start)
    }

    /// SDK configuration pointing at this server, with dummy credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint).await
    }
}

/// SDK configuration pointing at an emulator at `endpoint`, with dummy credentials.
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}
