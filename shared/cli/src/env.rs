//! What `opsctl` takes from its surroundings: the AWS configuration (the operator's own
//! credentials through the standard chain), where the suite keeps its state and config, whether
//! a person is at a terminal, and how to ask them to confirm.

use std::io::{BufRead, IsTerminal, Write};

use aws_config::{BehaviorVersion, SdkConfig};

/// A confirmation prompt: shows the question, returns whether the answer was yes.
pub type Confirm = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// The environment of one `opsctl` run.
pub struct Env {
    /// AWS configuration: region, credentials, endpoint overrides.
    pub sdk: SdkConfig,
    /// The state bucket (`STATE_BUCKET`), unless `--bucket` is given.
    pub state_bucket: Option<String>,
    /// The suite config (`CONFIG_URI`), unless `--config` is given; by default
    /// `s3://<bucket>/config/suite.yaml`.
    pub config_uri: Option<String>,
    /// Whether stdin is a terminal: only then is the operator asked to confirm.
    pub interactive: bool,
    /// Asks to confirm (called only when `interactive` and without `--yes`).
    pub confirm: Confirm,
    /// Whether output goes to a terminal that shows colour (stdout is a terminal and
    /// `NO_COLOR` is unset): colour, redrawn `--watch` screens and progress bars.
    pub color: bool,
    /// The backup function's name or ARN (`BACKUP_FUNCTION`), invoked for verify and restore.
    pub backup_function: Option<String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("state_bucket", &self.state_bucket)
            .field("config_uri", &self.config_uri)
            .field("interactive", &self.interactive)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// An environment over `sdk` with no bucket, no config location and no terminal (every
    /// command then needs `--yes`); set the fields for more.
    pub fn new(sdk: SdkConfig) -> Self {
        Env {
            sdk,
            state_bucket: None,
            config_uri: None,
            interactive: false,
            confirm: Box::new(|_| false),
            color: false,
            backup_function: None,
        }
    }

    /// An environment that talks to no AWS service (for `validate` and `--help`).
    pub fn offline() -> Self {
        Env::new(
            SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .build(),
        )
    }

    /// The process's environment: AWS configuration from the standard chain, `STATE_BUCKET`
    /// and `CONFIG_URI`, and a prompt on stderr answered on stdin when stdin is a terminal.
    pub async fn from_process() -> Self {
        // The suite's own timeouts and retries (throttling and 5xx retried with backoff).
        let sdk = ops_adapters::clients::load_sdk_config(
            &ops_adapters::clients::ClientSettings::default(),
        )
        .await;
        let non_empty = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Env {
            sdk,
            state_bucket: non_empty("STATE_BUCKET"),
            config_uri: non_empty("CONFIG_URI"),
            interactive: std::io::stdin().is_terminal(),
            confirm: Box::new(ask_on_terminal),
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            backup_function: non_empty("BACKUP_FUNCTION"),
        }
    }
}

/// Prints `question` and `[y/N]` on stderr and reads one line from stdin: `y` or `yes` is yes.
fn ask_on_terminal(question: &str) -> bool {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
