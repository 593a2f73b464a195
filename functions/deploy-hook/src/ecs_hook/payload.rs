//! The Amazon ECS deployment lifecycle hook payload and the answer ECS expects, field for field
//! as the Amazon ECS Developer Guide's "Lambda hooks for Amazon ECS service deployments" page
//! shows them (`executionId`, `lifecycleStage`, `resourceArn`, `executionDetails`,
//! `hookDetails`; the answer's `hookStatus`, `callBackDelay`, `hookDetails`).
//!
//! Own serde types: `aws_lambda_events` (the crate the other events come from) has no type for
//! this payload in the version the workspace uses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One invocation of a lifecycle hook by ECS.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    /// The hook execution's identifier.
    pub execution_id: String,
    /// The stage ECS is at.
    pub lifecycle_stage: Stage,
    /// The service deployment (`arn:aws:ecs:…:service-deployment/<cluster>/<service>/<id>`).
    pub resource_arn: String,
    /// The service, the target revision and the traffic weights.
    pub execution_details: ExecutionDetails,
    /// The hook's configured `hookDetails`, merged with what the last `IN_PROGRESS` answer
    /// returned (ECS passes it back on the next invocation of the same hook).
    #[serde(default)]
    pub hook_details: Option<Map<String, Value>>,
}

/// `executionDetails`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetails {
    /// The service (`arn:aws:ecs:<region>:<account>:service/<cluster>/<service>`).
    pub service_arn: String,
    /// The service revision being deployed (the green one).
    pub target_service_revision_arn: String,
    /// Service revision ARN → percent of test traffic.
    #[serde(default)]
    pub test_traffic_weights: BTreeMap<String, f64>,
    /// Service revision ARN → percent of production traffic.
    #[serde(default)]
    pub production_traffic_weights: BTreeMap<String, f64>,
}

/// The lifecycle stages ECS names (a stage added later parses as [`Stage::Other`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Stage {
    /// Only when a deployment starts with more than one revision active.
    ReconcileService,
    /// Before the green revision's tasks start; the first stage of every deployment.
    PreScaleUp,
    /// Green tasks running and healthy, no traffic.
    PostScaleUp,
    /// Test traffic moving to green (also invoked again during a rollback).
    TestTrafficShift,
    /// Green has all the test traffic.
    PostTestTrafficShift,
    /// Before production traffic moves (before each step of linear and canary).
    PreProductionTrafficShift,
    /// Production traffic moving to green; at each step of linear and canary (also invoked
    /// again during a rollback).
    ProductionTrafficShift,
    /// Green has all the production traffic.
    PostProductionTrafficShift,
    /// A stage this version does not know.
    #[serde(other)]
    Other,
}

impl Stage {
    /// The stage as ECS spells it (`OTHER` for an unknown one).
    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::ReconcileService => "RECONCILE_SERVICE",
            Stage::PreScaleUp => "PRE_SCALE_UP",
            Stage::PostScaleUp => "POST_SCALE_UP",
            Stage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            Stage::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            Stage::PreProductionTrafficShift => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            Stage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            Stage::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
            Stage::Other => "OTHER",
        }
    }
}

/// Whether a payload looks like a lifecycle hook invocation (it has `lifecycleStage` and
/// `executionDetails`), before it is parsed.
pub fn is_lifecycle_event(payload: &Value) -> bool {
    payload.get("lifecycleStage").is_some() && payload.get("executionDetails").is_some()
}

impl LifecycleEvent {
    /// The service's cluster and name from `serviceArn` (the long ARN format
    /// `service/<cluster>/<service>`; the old short format names no cluster: `None`).
    pub fn cluster_and_service(&self) -> (Option<&str>, &str) {
        let resource = self
            .execution_details
            .service_arn
            .split_once(":service/")
            .map_or(self.execution_details.service_arn.as_str(), |(_, r)| r);
        match resource.split_once('/') {
            Some((cluster, service)) => (Some(cluster), service),
            None => (None, resource),
        }
    }

    /// The deployment's id: the last part of `resourceArn`.
    pub fn deployment_id(&self) -> &str {
        self.resource_arn
            .rsplit('/')
            .next()
            .unwrap_or(&self.resource_arn)
    }

    /// The revision serving production next to the target (the blue one), when the weights
    /// name one.
    pub fn baseline_revision(&self) -> Option<&str> {
        let target = &self.execution_details.target_service_revision_arn;
        let details = &self.execution_details;
        details
            .production_traffic_weights
            .keys()
            .chain(details.test_traffic_weights.keys())
            .find(|arn| *arn != target)
            .map(String::as_str)
    }

    /// Whether ECS is rolling back: the weights give the target nothing and another revision
    /// something (the Developer Guide's way to tell a rollback's re-invocation).
    pub fn is_rollback(&self) -> bool {
        let target = &self.execution_details.target_service_revision_arn;
        [
            &self.execution_details.production_traffic_weights,
            &self.execution_details.test_traffic_weights,
        ]
        .iter()
        .any(|weights| {
            weights.get(target).copied() == Some(0.0)
                && weights.iter().any(|(arn, w)| arn != target && *w > 0.0)
        })
    }

    /// The target's production weight, when the payload gives one.
    pub fn target_production_weight(&self) -> Option<f64> {
        self.execution_details
            .production_traffic_weights
            .get(&self.execution_details.target_service_revision_arn)
            .copied()
    }
}

/// `hookStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    /// The deployment goes on to the next stage.
    Succeeded,
    /// ECS rolls the deployment back.
    Failed,
    /// ECS invokes the hook again after `callBackDelay` seconds (30 by default).
    InProgress,
}

impl HookStatus {
    /// As ECS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Succeeded => "SUCCEEDED",
            HookStatus::Failed => "FAILED",
            HookStatus::InProgress => "IN_PROGRESS",
        }
    }
}

/// What the function answers ECS; serialized exactly as ECS reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookAnswer {
    /// The verdict.
    pub hook_status: HookStatus,
    /// Seconds until ECS invokes the hook again (with `IN_PROGRESS` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_back_delay: Option<u32>,
    /// Data ECS merges into the next invocation's `hookDetails`. The answer has no field for a
    /// reason, so a verdict's reason is here (and in the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_details: Option<Map<String, Value>>,
}

/// The key of deploy-hook's own entry in `hookDetails` (ECS merges the map with the hook's
/// configured details; one key of ours leaves the user's keys alone).
pub const DETAILS_KEY: &str = "deployHook";

impl HookAnswer {
    /// An answer with deploy-hook's details (`reason` and whatever else is given) under
    /// [`DETAILS_KEY`].
    pub fn new(status: HookStatus, delay: Option<u32>, details: Map<String, Value>) -> Self {
        let mut hook_details = Map::new();
        hook_details.insert(DETAILS_KEY.to_owned(), Value::Object(details));
        HookAnswer {
            hook_status: status,
            call_back_delay: delay.filter(|_| status == HookStatus::InProgress),
            hook_details: Some(hook_details),
        }
    }

    /// An answer whose only detail is its reason.
    pub fn with_reason(status: HookStatus, delay: Option<u32>, reason: &str) -> Self {
        let mut details = Map::new();
        details.insert("reason".to_owned(), Value::String(reason.to_owned()));
        HookAnswer::new(status, delay, details)
    }

    /// The reason given, if any.
    pub fn reason(&self) -> Option<&str> {
        self.hook_details
            .as_ref()?
            .get(DETAILS_KEY)?
            .get("reason")?
            .as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("JSON")
    }

    fn parse(name: &str) -> LifecycleEvent {
        let payload = sample(name);
        assert!(is_lifecycle_event(&payload), "{name}");
        serde_json::from_value(payload).expect(name)
    }

    const GREEN: &str =
        "arn:aws:ecs:us-east-1:123456789012:service-revision/shop/checkout/4127309165813477112";
    const BLUE: &str =
        "arn:aws:ecs:us-east-1:123456789012:service-revision/shop/checkout/8803129554732115926";

    #[test]
    fn every_sample_parses_with_its_stage() {
        for (name, stage) in [
            (
                "ecs-lifecycle-reconcile-service.json",
                Stage::ReconcileService,
            ),
            ("ecs-lifecycle-pre-scale-up.json", Stage::PreScaleUp),
            ("ecs-lifecycle-post-scale-up.json", Stage::PostScaleUp),
            (
                "ecs-lifecycle-test-traffic-shift.json",
                Stage::TestTrafficShift,
            ),
            (
                "ecs-lifecycle-post-test-traffic-shift.json",
                Stage::PostTestTrafficShift,
            ),
            (
                "ecs-lifecycle-post-test-traffic-shift-continued.json",
                Stage::PostTestTrafficShift,
            ),
            (
                "ecs-lifecycle-production-traffic-shift.json",
                Stage::ProductionTrafficShift,
            ),
            (
                "ecs-lifecycle-production-traffic-shift-rollback.json",
                Stage::ProductionTrafficShift,
            ),
            (
                "ecs-lifecycle-post-production-traffic-shift.json",
                Stage::PostProductionTrafficShift,
            ),
        ] {
            let event = parse(name);
            assert_eq!(event.lifecycle_stage, stage, "{name}");
            assert_eq!(
                event.cluster_and_service(),
                (Some("shop"), "checkout"),
                "{name}"
            );
            assert_eq!(event.deployment_id(), "Q3nP0bJm2xVf7LrT9sKdA", "{name}");
            assert_eq!(event.execution_details.target_service_revision_arn, GREEN);
        }
    }

    #[test]
    fn weights_tell_the_baseline_a_canary_step_and_a_rollback() {
        let step = parse("ecs-lifecycle-production-traffic-shift.json");
        assert_eq!(step.baseline_revision(), Some(BLUE));
        assert_eq!(step.target_production_weight(), Some(10.0));
        assert!(!step.is_rollback());
        let rollback = parse("ecs-lifecycle-production-traffic-shift-rollback.json");
        assert!(rollback.is_rollback());
        let pre = parse("ecs-lifecycle-pre-scale-up.json");
        assert_eq!(pre.baseline_revision(), None);
        assert!(!pre.is_rollback());
        assert!(pre.hook_details.is_none());
        let continued = parse("ecs-lifecycle-post-test-traffic-shift-continued.json");
        assert!(continued
            .hook_details
            .as_ref()
            .is_some_and(|d| d.contains_key(DETAILS_KEY)));
    }

    #[test]
    fn unknown_stages_and_short_service_arns_parse() {
        let mut payload = sample("ecs-lifecycle-pre-scale-up.json");
        payload["lifecycleStage"] = "SOMETHING_NEW".into();
        payload["executionDetails"]["serviceArn"] =
            "arn:aws:ecs:us-east-1:123456789012:service/checkout".into();
        let event: LifecycleEvent = serde_json::from_value(payload).expect("parses");
        assert_eq!(event.lifecycle_stage, Stage::Other);
        assert_eq!(event.cluster_and_service(), (None, "checkout"));
    }

    #[test]
    fn answers_serialize_exactly_as_ecs_reads_them() {
        let check = |answer: HookAnswer, expect: Value| {
            assert_eq!(serde_json::to_value(&answer).expect("json"), expect);
        };
        check(
            HookAnswer {
                hook_status: HookStatus::Succeeded,
                call_back_delay: None,
                hook_details: None,
            },
            serde_json::json!({"hookStatus": "SUCCEEDED"}),
        );
        check(
            HookAnswer::with_reason(HookStatus::InProgress, Some(60), "2 of 3 measurements"),
            serde_json::json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 60,
                "hookDetails": {"deployHook": {"reason": "2 of 3 measurements"}}}),
        );
        // A delay is only sent with IN_PROGRESS.
        let failed = HookAnswer::with_reason(HookStatus::Failed, Some(60), "error_rate failed");
        check(
            failed.clone(),
            serde_json::json!({"hookStatus": "FAILED",
                "hookDetails": {"deployHook": {"reason": "error_rate failed"}}}),
        );
        assert_eq!(failed.reason(), Some("error_rate failed"));
    }
}
