//! Lifecycle hooks of a deployment (`deploy.hooks`): a one-off ECS task, a Lambda function or a
//! backup of a plan, run at fixed points of the deployment.

use serde::{Deserialize, Serialize};

/// `deploy.hooks`: what runs at each point of a deployment, in order.
///
/// Each hook is written as a map with one key (`- task: {command: [...]}`, `- lambda:
/// {function: smoke}`, `- backup: {plan: db}`), not as a YAML tag (`!task`): Terraform reads
/// the same file (`yamldecode`, which rejects tags) to decide what deploy-hook may do.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    /// Once the new task definition is registered, before any service changes.
    #[serde(default, with = "serde_yaml_ng::with::singleton_map_recursive")]
    pub pre_deploy: Vec<Hook>,
    /// Once the new version is deployed and verified, before any weight moves.
    #[serde(default, with = "serde_yaml_ng::with::singleton_map_recursive")]
    pub pre_traffic: Vec<Hook>,
    /// After each traffic shift is in sync, before its bake.
    #[serde(default, with = "serde_yaml_ng::with::singleton_map_recursive")]
    pub post_shift: Vec<Hook>,
    /// Once all traffic is on the new version and baked, before it is recorded promoted.
    #[serde(default, with = "serde_yaml_ng::with::singleton_map_recursive")]
    pub post_promote: Vec<Hook>,
    /// After a deployment was reverted (started, not waited for).
    #[serde(default, with = "serde_yaml_ng::with::singleton_map_recursive")]
    pub on_rollback: Vec<Hook>,
}

/// One hook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Hook {
    /// A one-off ECS task from the new task definition with a command override (a database
    /// migration), waited for until it stops; a non-zero exit code fails the deployment.
    Task {
        /// The command run instead of the container's.
        command: Vec<String>,
        /// The container the command runs in (default: the deployed container).
        #[serde(default)]
        container: Option<String>,
        /// How long the task may run.
        #[serde(default = "default_timeout")]
        timeout_seconds: u32,
    },
    /// A Lambda function invoked with the deployment; it answers `succeeded`, `failed` or
    /// `in_progress` (asked again on the next invocation).
    Lambda {
        /// Function name or ARN.
        function: String,
        /// How long it may keep answering `in_progress`.
        #[serde(default = "default_timeout")]
        timeout_seconds: u32,
    },
    /// A backup of a plan of the backup function, waited for until its snapshot is committed.
    Backup {
        /// The plan.
        plan: String,
        /// How long the backup may take.
        #[serde(default = "default_timeout")]
        timeout_seconds: u32,
    },
}

impl Hook {
    /// A short description (`task ./migrate up`, `lambda smoke`, `backup plan db`).
    pub fn describe(&self) -> String {
        match self {
            Hook::Task { command, .. } => format!("task {}", command.join(" ")),
            Hook::Lambda { function, .. } => format!("lambda {function}"),
            Hook::Backup { plan, .. } => format!("backup of plan {plan}"),
        }
    }

    /// How long the hook may take.
    pub fn timeout_seconds(&self) -> u32 {
        match self {
            Hook::Task {
                timeout_seconds, ..
            }
            | Hook::Lambda {
                timeout_seconds, ..
            }
            | Hook::Backup {
                timeout_seconds, ..
            } => *timeout_seconds,
        }
    }
}

/// What a hook answered when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookStatus {
    /// Still running (what is known of it).
    Running(String),
    /// Done (what it did).
    Succeeded(String),
    /// Failed (why, with where to look: the task's log stream, the function's message).
    Failed(String),
}

/// A short deterministic name for one run of a hook (the ECS task's `startedBy`, at most 36
/// characters): a retry after a lost answer finds the task instead of starting a second one.
pub fn run_name(deployment_id: &str, step: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{deployment_id}/{step}").as_bytes());
    let hex: String = digest.iter().take(14).map(|b| format!("{b:02x}")).collect();
    format!("hook-{hex}")
}

fn default_timeout() -> u32 {
    900
}

#[cfg(test)]
mod tests {
    use super::{Hook, HooksConfig};

    #[test]
    fn hooks_are_maps_with_one_key_as_terraform_reads_them() {
        let hooks: HooksConfig = serde_yaml_ng::from_str(
            "pre_deploy:\n  - task: { command: [./migrate, up], timeout_seconds: 600 }\n  - backup: { plan: suite }\non_rollback:\n  - lambda: { function: notify }\n",
        )
        .expect("hooks");
        assert_eq!(
            hooks.pre_deploy,
            [
                Hook::Task {
                    command: vec!["./migrate".into(), "up".into()],
                    container: None,
                    timeout_seconds: 600,
                },
                Hook::Backup {
                    plan: "suite".into(),
                    timeout_seconds: 900,
                },
            ]
        );
        assert_eq!(hooks.on_rollback[0].describe(), "lambda notify");
        // Written back the same way (the validator round-trips the config), and read again.
        let text = serde_yaml_ng::to_string(&hooks).expect("serializes");
        assert!(text.contains("- task:"), "{text}");
        let again: HooksConfig = serde_yaml_ng::from_str(&text).expect("reads back");
        assert_eq!(again, hooks);
        // A hook of an unknown kind is an error, not ignored.
        assert!(
            serde_yaml_ng::from_str::<HooksConfig>("pre_deploy:\n  - shell: { run: x }\n").is_err()
        );
    }
}
