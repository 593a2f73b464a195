//! Least privilege, verified: the AWS actions alarm-rollback performs in these scenarios are
//! compared with the actions its Terraform policy grants (`infra/policies/alarm-rollback.json`).
//! Every call made must be granted; every granted action must be called here or say why it stays.

use std::collections::BTreeSet;

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
    assert_granted("deploy-hook", &called);
    assert_used("deploy-hook", &called);
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
