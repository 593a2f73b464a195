//! The local AWS emulator (moto server) for this crate's tests: one server per test process on
//! a free loopback port, started like the suite's other emulator tests start it (`$MOTO_SERVER`,
//! else the project venv's Python running `scripts/moto_server.py`, else `moto_server` from
//! `PATH`), through a shell wrapper that kills it when this process's end of a pipe closes.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};

/// A running moto server.
pub struct Emulator {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    _child: Child,
}

fn moto_command() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return vec![PathBuf::from(path)];
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    if python.exists() {
        return vec![python, root.join("scripts/moto_server.py")];
    }
    vec![PathBuf::from("moto_server")]
}

impl Emulator {
    fn start() -> Emulator {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("a free loopback port");
        let script = r#"port="$1"; shift; "$@" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 & pid=$!; trap 'kill $pid 2>/dev/null' EXIT; cat >/dev/null"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("moto-wrapper")
            .arg(port.to_string())
            .args(moto_command())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start the emulator: {error} (run scripts/setup.sh)")
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the emulator did not listen on {endpoint} within 60 s (run scripts/setup.sh)"
            );
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
}

/// SDK configuration pointing at the emulator, with dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&Emulator::shared().endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}

/// A name unique in this process and across concurrent test processes.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
