//! Least privilege, verified: the AWS actions alarm-rollback performs in these scenarios are
//! compared with the actions its Terraform policy grants (`infra/policies/alarm-rollback.json`).
//! Every call made must be granted; every granted action must be called here or say why it stays.
//! ops-api's policy is held to the list of what it calls and on what ([`OPS_API_GRANTS`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::util::World;

fn granted(function: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let path = ops_tests::workspace_root()
        .join("infra/policies")
        .join(format!("{function}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let policy: Value = serde_json::from_str(&text).expect("policy JSON");
    let mut all = BTreeSet::new();
    let mut justified = BTreeSet::new();
    for statement in policy["statements"].as_array().expect("statements") {
        for action in statement["actions"].as_array().expect("actions") {
            let action = action.as_str().expect("action").to_owned();
            if statement["why"]
                .as_str()
                .is_some_and(|why| !why.trim().is_empty())
            {
                justified.insert(action.clone());
            }
            all.insert(action);
        }
    }
    (all, justified)
}

/// Fails unless every action in `called` is granted by `function`'s policy file.
pub fn assert_granted(function: &str, called: &BTreeSet<String>) {
    let (granted, _) = granted(function);
    let not_granted: Vec<&String> = called.difference(&granted).collect();
    assert!(
        not_granted.is_empty(),
        "called but not granted by infra/policies/{function}.json: {not_granted:?}"
    );
}

/// Fails unless every granted action is in `called` or justified (`why`).
fn assert_used(function: &str, called: &BTreeSet<String>) {
    let (granted, justified) = granted(function);
    let unused: Vec<&String> = granted
        .difference(called)
        .filter(|action| !justified.contains(*action))
        .collect();
    assert!(
        unused.is_empty(),
        "granted to {function} but never called and not justified with a `why`: {unused:?}"
    );
}

#[tokio::test]
async fn backup_calls_only_what_its_policy_grants_and_uses_what_it_grants() {
    let called = crate::backup::least_privilege_scenarios().await;
    assert_granted("backup", &called);
    assert_used("backup", &called);
}

#[tokio::test]
async fn cost_check_calls_only_what_its_policy_grants_and_uses_what_it_grants() {
    let called = crate::cost_check::least_privilege_scenarios().await;
    // The scenarios reach the conditional grants too (`when: email`).
    assert!(called.contains("ses:SendEmail"), "{called:?}");
    assert_granted("cost-check", &called);
    assert_used("cost-check", &called);
}

#[tokio::test]
async fn deploy_hook_calls_only_what_its_policy_grants_and_uses_what_it_grants() {
    let called = crate::deploy_hook::least_privilege_scenarios().await;
    // The scenarios reach the conditional grants of metric analysis and lifecycle hooks too.
    for action in DEPLOY_HOOK_CONDITIONAL_GRANTS
        .iter()
        .filter(|grant| grant.called)
        .map(|grant| grant.action)
    {
        assert!(called.contains(action), "{action} not reached: {called:?}");
    }
    assert_granted("deploy-hook", &called);
    assert_used("deploy-hook", &called);
}

/// One statement of deploy-hook's policy that holds only for some configs.
struct ConditionalGrant {
    sid: &'static str,
    action: &'static str,
    /// Resource class of `infra/policies.tf`.
    resource: &'static str,
    /// `when` condition of `infra/policies.tf`.
    when: &'static str,
    /// Whether deploy-hook calls it itself (else S3 uses it on its behalf, or it is a check of
    /// another call, and the statement must say why).
    called: bool,
}

/// deploy-hook's grants for metric analysis (`deploy.analysis`) and lifecycle hooks
/// (`deploy.hooks`): each on exactly this resource class and only under this condition, so a
/// config without analysis or hooks gets none of them.
const DEPLOY_HOOK_CONDITIONAL_GRANTS: &[ConditionalGrant] = &[
    ConditionalGrant {
        sid: "ReadMetrics",
        action: "cloudwatch:GetMetricData",
        resource: "*",
        when: "deploy_analysis",
        called: true,
    },
    ConditionalGrant {
        sid: "RunHookTasks",
        action: "ecs:RunTask",
        resource: "hook_task_definitions",
        when: "task_hooks",
        called: true,
    },
    ConditionalGrant {
        sid: "FindHookTasks",
        action: "ecs:ListTasks",
        resource: "hook_task_clusters",
        when: "task_hooks",
        called: true,
    },
    ConditionalGrant {
        sid: "ReadHookTasks",
        action: "ecs:DescribeTasks",
        resource: "hook_tasks",
        when: "task_hooks",
        called: true,
    },
    ConditionalGrant {
        sid: "InvokeHookFunctions",
        action: "lambda:InvokeFunction",
        resource: "hook_functions",
        when: "lambda_hooks",
        called: true,
    },
    ConditionalGrant {
        sid: "InvokeBackupForHooks",
        action: "lambda:InvokeFunction",
        resource: "backup_function",
        when: "backup_hooks",
        called: true,
    },
    ConditionalGrant {
        sid: "HandAnalysisFailuresToRollback",
        action: "lambda:InvokeFunction",
        resource: "alarm_rollback_function",
        when: "post_promotion_analysis",
        called: true,
    },
    ConditionalGrant {
        sid: "ReadBackupLatestPointers",
        action: "s3:GetObject",
        resource: "hook_backup_latest",
        when: "backup_hooks",
        called: true,
    },
    ConditionalGrant {
        sid: "ListBackupBuckets",
        action: "s3:ListBucket",
        resource: "hook_backup_buckets",
        when: "backup_hooks",
        called: false,
    },
    ConditionalGrant {
        sid: "DecryptBackupPointers",
        action: "kms:Decrypt",
        resource: "backup_keys_through_s3",
        when: "backup_hooks",
        called: false,
    },
];

/// The statements of `function`'s policy file by sid.
fn statements(function: &str) -> BTreeMap<String, Value> {
    let path = ops_tests::workspace_root()
        .join("infra/policies")
        .join(format!("{function}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let policy: Value = serde_json::from_str(&text).expect("policy JSON");
    policy["statements"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|s| (s["sid"].as_str().expect("sid").to_owned(), s.clone()))
        .collect()
}

#[test]
fn deploy_hook_grants_analysis_and_hooks_only_when_the_config_has_them() {
    let statements = statements("deploy-hook");
    for grant in DEPLOY_HOOK_CONDITIONAL_GRANTS {
        let statement = statements
            .get(grant.sid)
            .unwrap_or_else(|| panic!("deploy-hook.json has no statement {}", grant.sid));
        assert_eq!(
            statement["actions"],
            serde_json::json!([grant.action]),
            "{}",
            grant.sid
        );
        assert_eq!(statement["resource"], grant.resource, "{}", grant.sid);
        assert_eq!(statement["when"], grant.when, "{}", grant.sid);
        let why = statement["why"].as_str().unwrap_or_default().trim();
        // `*`, and what deploy-hook does not call itself, stay only with a reason.
        if grant.resource == "*" || !grant.called {
            assert!(!why.is_empty(), "{} needs a `why`", grant.sid);
        }
    }
    // Nothing else is granted on those actions without a condition, but what deploy-hook did
    // before (state objects, the state bucket, the suite key).
    let unconditional: BTreeSet<(String, String)> = statements
        .values()
        .filter(|s| s.get("when").is_none())
        .flat_map(|s| {
            let resource = s["resource"].as_str().expect("resource").to_owned();
            s["actions"]
                .as_array()
                .expect("actions")
                .iter()
                .map(move |a| (a.as_str().expect("action").to_owned(), resource.clone()))
        })
        .collect();
    for grant in DEPLOY_HOOK_CONDITIONAL_GRANTS {
        let others: Vec<&(String, String)> = unconditional
            .iter()
            .filter(|(action, resource)| {
                action == grant.action
                    && resource != "state_objects"
                    && resource != "state_bucket"
                    && resource != "suite_key"
            })
            .collect();
        assert!(
            others.is_empty(),
            "{} is also granted without a condition: {others:?}",
            grant.action
        );
    }
    // RunTask passes the task definition's roles: the statement that allows it says so.
    let pass = statements["PassTaskRoles"]["why"].as_str().expect("why");
    assert!(pass.contains("RunTask"), "{pass}");
}

#[test]
fn every_resource_class_and_condition_named_by_a_policy_is_defined() {
    // Terraform fails the plan on an unknown one; this says which before anyone plans.
    let policies_tf =
        std::fs::read_to_string(ops_tests::workspace_root().join("infra/policies.tf"))
            .expect("infra/policies.tf");
    let defined: BTreeSet<&str> = policies_tf
        .lines()
        .filter_map(|line| line.trim().split_once('='))
        .map(|(name, _)| name.trim().trim_matches('"'))
        .collect();
    for function in [
        "alarm-rollback",
        "backup",
        "cost-check",
        "deploy-hook",
        "ops-api",
    ] {
        for (sid, statement) in statements(function) {
            for key in ["resource", "when"] {
                if let Some(name) = statement[key].as_str() {
                    assert!(
                        defined.contains(name),
                        "{function}.json {sid}: {key} {name} is not defined in infra/policies.tf"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn alarm_rollback_calls_only_what_its_policy_grants_and_uses_what_it_grants() {
    let world = World::new().await;
    // The scenarios that reach every code path that calls AWS.
    world
        .invoke(world.event("alarm-eventbridge.json"))
        .await
        .expect("traffic rollback");
    world
        .invoke(world.event("alarm-eventbridge-billing.json"))
        .await
        .expect("ECS rollback");
    world
        .invoke(world.event("alarm-eventbridge-ok.json"))
        .await
        .expect("resolve");
    world
        .invoke(world.event("alarm-eventbridge-unmapped.json"))
        .await
        .expect("unmapped");

    let called: BTreeSet<String> = world
        .deps
        .clients
        .recorder
        .calls()
        .into_iter()
        .map(|call| call.action)
        .collect();
    assert_granted("alarm-rollback", &called);
    assert_used("alarm-rollback", &called);
}

/// What ops-api may do, and on which resource classes of `infra/policies.tf`: read and write the
/// state bucket (deployment records with compare-and-swap, audit records, Slack replay markers,
/// the config, cost and backup reports) and list it (audit, history, backup reports); list a
/// plan's snapshots in its backup bucket and read its manifests; an operator's rollback, as
/// alarm-rollback and `opsctl rollback` do it (zone by name, weighted records, ECS service, the
/// task definition named with `--to`); the API keys document and the Slack signing secret, and
/// no other secret. The KMS actions are no calls of its own: S3 and Secrets Manager use them on
/// its behalf for SSE-KMS objects and secrets, so the policy must say why (`why`).
const OPS_API_GRANTS: &[(&str, &[&str])] = &[
    ("s3:GetObject", &["state_objects", "backup_manifests"]),
    ("s3:PutObject", &["state_objects"]),
    ("s3:ListBucket", &["state_bucket", "backup_buckets"]),
    ("route53:ListHostedZonesByName", &["*"]),
    ("route53:ListResourceRecordSets", &["hosted_zones"]),
    ("route53:ChangeResourceRecordSets", &["hosted_zones"]),
    ("ecs:DescribeServices", &["ecs_services"]),
    ("ecs:UpdateService", &["ecs_services"]),
    ("ecs:DescribeTaskDefinition", &["*"]),
    ("secretsmanager:GetSecretValue", &["ops_api_secrets"]),
    ("lambda:InvokeFunction", &["backup_function"]),
    ("kms:Decrypt", &["backup_keys_through_s3", "suite_key"]),
    ("kms:GenerateDataKey", &["suite_key"]),
];

/// The granted actions that are no API call of ops-api's own (see [`OPS_API_GRANTS`]).
const OPS_API_NOT_CALLED: &[&str] = &["kms:Decrypt", "kms:GenerateDataKey"];

/// Every action of `function`'s policy file with the resource classes it is granted on.
fn grants_by_action(function: &str) -> BTreeMap<String, BTreeSet<String>> {
    let path = ops_tests::workspace_root()
        .join("infra/policies")
        .join(format!("{function}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let policy: Value = serde_json::from_str(&text).expect("policy JSON");
    let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for statement in policy["statements"].as_array().expect("statements") {
        let resource = statement["resource"].as_str().expect("resource");
        for action in statement["actions"].as_array().expect("actions") {
            grants
                .entry(action.as_str().expect("action").to_owned())
                .or_default()
                .insert(resource.to_owned());
        }
    }
    grants
}

/// The calls ops-api makes: every action of [`OPS_API_GRANTS`] but the ones S3 and Secrets
/// Manager use on its behalf. ops-api's emulator scenarios, once they record its calls, check
/// theirs against this list.
pub fn ops_api_calls() -> BTreeSet<String> {
    OPS_API_GRANTS
        .iter()
        .map(|(action, _)| (*action).to_owned())
        .filter(|action| !OPS_API_NOT_CALLED.contains(&action.as_str()))
        .collect()
}

#[test]
fn ops_api_policy_grants_exactly_what_it_calls_on_exactly_those_resources() {
    let called = ops_api_calls();
    assert_granted("ops-api", &called);
    assert_used("ops-api", &called);

    // No more, no less: each action on exactly the listed resource classes.
    let expected: BTreeMap<String, BTreeSet<String>> = OPS_API_GRANTS
        .iter()
        .map(|(action, classes)| {
            let classes = classes.iter().map(|class| (*class).to_owned()).collect();
            ((*action).to_owned(), classes)
        })
        .collect();
    assert_eq!(
        grants_by_action("ops-api"),
        expected,
        "infra/policies/ops-api.json grants other actions or resources than ops-api uses"
    );

    // What it does not call itself stays only with a reason.
    let (_, justified) = granted("ops-api");
    for action in OPS_API_NOT_CALLED {
        assert!(
            justified.contains(*action),
            "{action} is granted to ops-api without a `why`"
        );
    }
}

#[test]
fn ops_api_reads_no_secret_but_its_own_two() {
    // The notifier secrets and the backed-up ones are other functions' business.
    let grants = grants_by_action("ops-api");
    let secrets: BTreeSet<&str> = grants
        .iter()
        .filter(|(action, _)| action.starts_with("secretsmanager:"))
        .flat_map(|(_, classes)| classes.iter().map(String::as_str))
        .collect();
    assert_eq!(secrets, BTreeSet::from(["ops_api_secrets"]));
    // And that class is the two secrets of infra/ops_api.tf, nothing else.
    let policies_tf =
        std::fs::read_to_string(ops_tests::workspace_root().join("infra/policies.tf"))
            .expect("infra/policies.tf");
    let class: Vec<&str> = policies_tf
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("ops_api_secrets"))
        .and_then(|rest| rest.trim().strip_prefix('='))
        .and_then(|rest| rest.trim().strip_prefix('['))
        .and_then(|rest| rest.strip_suffix(']'))
        .expect("ops_api_secrets = [...] on one line in infra/policies.tf")
        .split(',')
        .map(str::trim)
        .collect();
    assert_eq!(
        class,
        [
            "aws_secretsmanager_secret.ops_api_keys.arn",
            "aws_secretsmanager_secret.slack_signing.arn"
        ]
    );
}
