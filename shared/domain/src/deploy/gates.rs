//! Quality gates: what is about to run, checked before anything changes.
//!
//! The gates read the task definition deploy-hook is about to register (the stable one with the
//! new image) and report findings. An `Error` blocks the deployment; a `Warning` is reported in
//! the pipeline summary. Findings name the container and the variable, never a value: a secret
//! found in plaintext must not be copied into logs, job summaries or reports.

use std::sync::OnceLock;

use regex_lite::Regex;
use serde::{Deserialize, Serialize};

/// The parts of a task definition the gates look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSpec {
    /// Task-level CPU units (`"256"`, `"1 vCPU"`), if set.
    pub cpu: Option<String>,
    /// Task-level memory (`"512"`, `"1 GB"`), if set.
    pub memory: Option<String>,
    /// The containers.
    pub containers: Vec<ContainerSpec>,
}

/// One container of a task definition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Plain environment variables (name, value).
    pub environment: Vec<(String, String)>,
    /// Secret references (name, `valueFrom`).
    pub secrets: Vec<(String, String)>,
    /// Container CPU units.
    pub cpu: Option<i32>,
    /// Hard memory limit, MiB.
    pub memory: Option<i32>,
    /// Soft memory limit, MiB.
    pub memory_reservation: Option<i32>,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    /// Reported, does not block.
    Warning,
    /// Blocks the deployment.
    Error,
}

/// One gate finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Error or warning.
    pub level: Level,
    /// Which rule (`image_pinned`, `plaintext_secret`, `placeholder`, `required_env`,
    /// `limits`, `secret_exists`).
    pub rule: String,
    /// The container concerned.
    pub container: String,
    /// What is wrong and how to fix it (never a value).
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
        };
        write!(
            f,
            "{level} {} [{}]: {}",
            self.rule, self.container, self.message
        )
    }
}

fn finding(level: Level, rule: &str, container: &str, message: String) -> Finding {
    Finding {
        level,
        rule: rule.to_owned(),
        container: container.to_owned(),
        message,
    }
}

/// Tags that name a moving target rather than one build.
const FLOATING_TAGS: [&str; 14] = [
    "latest",
    "main",
    "master",
    "dev",
    "develop",
    "stable",
    "prod",
    "production",
    "release",
    "edge",
    "nightly",
    "head",
    "current",
    "snapshot",
];

/// Whether an image reference is pinned: by digest, or by a tag that names one build.
pub fn image_pin_problem(image: &str) -> Option<String> {
    if let Some((_, digest)) = image.split_once('@') {
        return if digest.starts_with("sha256:") && digest.len() == 7 + 64 {
            None
        } else {
            Some("has a malformed digest; pin with @sha256:<64 hex digits>".into())
        };
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some("has no tag, which means `latest`; pin a digest or a release tag".into()),
        Some((_, tag)) if FLOATING_TAGS.contains(&tag.to_ascii_lowercase().as_str()) => Some(
            format!("uses the moving tag `{tag}`; pin a digest or an immutable release tag"),
        ),
        Some(_) => None,
    }
}

struct Patterns {
    value_secrets: Vec<(&'static str, Regex)>,
    secret_name: Regex,
    placeholder: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let compile = |pattern: &str| Regex::new(pattern).expect("gate pattern compiles");
        Patterns {
            value_secrets: vec![
                ("an AWS access key id", compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")),
                ("a private key", compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
                ("a GitHub token", compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}")),
                ("a Slack token", compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
                ("a Stripe live key", compile(r"\b[sr]k_live_[A-Za-z0-9]{10,}")),
                (
                    "a JSON web token",
                    compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
                ),
                (
                    "a connection string with a password",
                    compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),
                ),
            ],
            secret_name: compile(
                r"(?i)(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)",
            ),
            placeholder: compile(
                r"(?i)^\s*(changeme|change[_-]me|todo|tbd|fixme|replace[_-]?me|x{3,}|<[^>]*>|your[_-].*[_-]here)\s*$|<[A-Za-z_ -]+>",
            ),
        }
    })
}

/// Why a plain environment variable looks like a secret, if it does.
fn plaintext_secret(name: &str, value: &str) -> Option<String> {
    let patterns = patterns();
    if let Some((what, _)) = patterns
        .value_secrets
        .iter()
        .find(|(_, pattern)| pattern.is_match(value))
    {
        return Some(format!("`{name}` holds {what} in plaintext"));
    }
    let reference = value.starts_with("arn:") || value.starts_with("ssm:");
    let harmless = value.is_empty()
        || reference
        || value.parse::<f64>().is_ok()
        || matches!(value.to_ascii_lowercase().as_str(), "true" | "false");
    let names_a_reference = ["_ARN", "_NAME", "_ID", "_URL", "_PATH", "_FILE", "_TTL"]
        .iter()
        .any(|suffix| name.to_ascii_uppercase().ends_with(suffix));
    if patterns.secret_name.is_match(name) && !harmless && !names_a_reference {
        return Some(format!(
            "`{name}` is named like a secret and has a plaintext value"
        ));
    }
    None
}

/// Whether a value is a placeholder someone forgot to fill in.
pub fn is_placeholder(value: &str) -> bool {
    patterns().placeholder.is_match(value)
}

/// Runs every gate that needs no AWS call on `spec`. `container` is the container that gets the
/// new image; `required_env` must be defined in it (as a variable or a secret).
pub fn check(spec: &TaskSpec, container: &str, required_env: &[String]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for c in &spec.containers {
        if let Some(problem) = image_pin_problem(&c.image) {
            findings.push(finding(
                Level::Error,
                "image_pinned",
                &c.name,
                format!("image {} {problem}", c.image),
            ));
        }
        for (name, value) in &c.environment {
            if is_placeholder(value) {
                findings.push(finding(
                    Level::Error,
                    "placeholder",
                    &c.name,
                    format!("`{name}` still has a placeholder value"),
                ));
            } else if let Some(why) = plaintext_secret(name, value) {
                findings.push(finding(
                    Level::Error,
                    "plaintext_secret",
                    &c.name,
                    format!("{why}; move it to `secrets` (Secrets Manager or SSM reference)"),
                ));
            }
        }
        let memory = c.memory.or(c.memory_reservation).is_some() || spec.memory.is_some();
        let cpu = c.cpu.is_some_and(|units| units > 0) || spec.cpu.is_some();
        if !memory || !cpu {
            let missing = match (cpu, memory) {
                (false, false) => "CPU and memory limits",
                (false, true) => "a CPU limit",
                _ => "a memory limit",
            };
            findings.push(finding(
                Level::Error,
                "limits",
                &c.name,
                format!("has no {missing} (set them on the task or the container)"),
            ));
        } else if c.cpu.is_none() && c.memory.is_none() && spec.containers.len() > 1 {
            findings.push(finding(
                Level::Warning,
                "limits",
                &c.name,
                "shares the task's CPU and memory with other containers without its own limit"
                    .into(),
            ));
        }
    }
    if let Some(target) = spec.containers.iter().find(|c| c.name == container) {
        for name in required_env {
            let defined = target.environment.iter().any(|(n, _)| n == name)
                || target.secrets.iter().any(|(n, _)| n == name);
            if !defined {
                findings.push(finding(
                    Level::Error,
                    "required_env",
                    container,
                    format!("required variable `{name}` is not defined"),
                ));
            }
        }
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.level));
    findings
}

/// The finding for a secret reference that does not resolve.
pub fn missing_secret(container: &str, name: &str, reference: &str) -> Finding {
    finding(
        Level::Error,
        "secret_exists",
        container,
        format!("`{name}` references {reference}, which does not exist"),
    )
}

/// Whether any finding blocks the deployment.
pub fn blocks(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(image: &str, env: &[(&str, &str)]) -> TaskSpec {
        TaskSpec {
            cpu: Some("256".into()),
            memory: Some("512".into()),
            containers: vec![ContainerSpec {
                name: "app".into(),
                image: image.into(),
                environment: env
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
                secrets: vec![("DB_PASSWORD".into(), "arn:aws:secretsmanager:x".into())],
                ..ContainerSpec::default()
            }],
        }
    }

    fn rules(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| format!("{:?} {}", f.level, f.rule))
            .collect()
    }

    #[test]
    fn images() {
        let cases = [
            ("registry.example/app:1.5.0", None),
            ("registry.example:5000/app:1.5.0", None),
            ("registry.example:5000/app", Some("no tag")),
            ("app:latest", Some("moving tag `latest`")),
            ("app:MAIN", Some("moving tag `MAIN`")),
            (
                "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                None,
            ),
            ("app@sha256:0123", Some("malformed digest")),
        ];
        for (image, expect) in cases {
            let got = image_pin_problem(image);
            match expect {
                None => assert_eq!(got, None, "{image}"),
                Some(part) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(part)),
                    "{image}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn secrets_in_plaintext_are_errors_and_never_echoed() {
        let values = [
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("KEY", "-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
            ("GH", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            (
                "DATABASE_URL",
                "postgres://app:hunter22@db.internal:5432/app",
            ),
            ("DB_PASSWORD", "hunter22"),
            (
                "AUTH",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
            ),
        ];
        for (name, value) in values {
            let findings = check(&spec("app:1.0.0", &[(name, value)]), "app", &[]);
            assert_eq!(rules(&findings), ["Error plaintext_secret"], "{name}");
            assert!(
                !findings[0].message.contains(value),
                "value echoed: {}",
                findings[0].message
            );
        }
    }

    #[test]
    fn harmless_lookalikes_pass() {
        let env = [
            ("TOKEN_TTL", "3600"),
            (
                "DB_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:db",
            ),
            ("DATABASE_URL", "postgres://db.internal:5432/app"),
            ("LOG_LEVEL", "info"),
            ("USE_API_KEY", "true"),
        ];
        assert!(check(&spec("app:1.0.0", &env), "app", &[]).is_empty());
    }

    #[test]
    fn placeholders_required_env_and_limits() {
        let findings = check(
            &spec(
                "app:1.0.0",
                &[
                    ("A", "changeme"),
                    ("B", "<your-api-host>"),
                    ("C", "TODO"),
                    ("D", "xxxx"),
                ],
            ),
            "app",
            &["LOG_LEVEL".into(), "DB_PASSWORD".into()],
        );
        assert_eq!(
            rules(&findings),
            [
                "Error placeholder",
                "Error placeholder",
                "Error placeholder",
                "Error placeholder",
                "Error required_env"
            ]
        );
        let mut no_limits = spec("app:1.0.0", &[]);
        no_limits.cpu = None;
        no_limits.memory = None;
        let findings = check(&no_limits, "app", &[]);
        assert_eq!(rules(&findings), ["Error limits"]);
        assert!(findings[0].message.contains("CPU and memory"));
        assert!(blocks(&findings));
        assert!(!blocks(&[]));
    }
}
