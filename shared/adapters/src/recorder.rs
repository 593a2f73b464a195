//! Records the AWS operations a client performs, as IAM actions, for the least-privilege check.
//!
//! Attached to every client the suite builds; it costs one mutex lock per call, and tests read it
//! to compare what a function really calls with what its Terraform policy grants.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// One call: the IAM action it needs and whether the service accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `s3:PutObject`, `route53:ChangeResourceRecordSets`…
    pub action: String,
    /// The operation itself, `<service prefix>:<operation>` (`s3:CopyObject` needs
    /// `s3:PutObject`).
    pub operation: String,
    /// Whether the operation returned success.
    pub succeeded: bool,
}

/// A shared log of calls.
#[derive(Debug, Clone, Default)]
pub struct CallRecorder {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallRecorder {
    /// All calls so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .map(|calls| calls.clone())
            .unwrap_or_default()
    }

    /// How many calls of `action` (an IAM action or an operation) succeeded.
    pub fn succeeded(&self, action: &str) -> usize {
        self.calls()
            .iter()
            .filter(|call| call.succeeded && (call.action == action || call.operation == action))
            .count()
    }

    /// How many calls of `action` were made, successful or not.
    pub fn attempted(&self, action: &str) -> usize {
        self.calls()
            .iter()
            .filter(|call| call.action == action || call.operation == action)
            .count()
    }

    /// How many calls were recorded.
    pub fn len(&self) -> usize {
        self.calls
            .lock()
            .map(|calls| calls.len())
            .unwrap_or_default()
    }

    /// Whether no call was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every call.
    pub fn clear(&self) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.clear();
        }
    }

    fn push(&self, call: Call) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

/// `<service prefix>:<operation>` of an SDK operation.
fn operation_name(service: &str, operation: &str) -> String {
    format!("{}:{operation}", service_prefix(service))
}

fn service_prefix(service: &str) -> String {
    match service {
        "S3" => "s3",
        "Route 53" | "Route53" => "route53",
        "ECS" => "ecs",
        "Secrets Manager" | "SecretsManager" => "secretsmanager",
        "CodePipeline" => "codepipeline",
        "CloudWatch" => "cloudwatch",
        "KMS" => "kms",
        "Lambda" => "lambda",
        "Cost Explorer" => "ce",
        // SES API v2 operations are authorised with the `ses:` actions of the same name.
        "SESv2" | "SES" => "ses",
        other => return other.to_ascii_lowercase().replace(' ', ""),
    }
    .to_owned()
}

/// The IAM action an SDK operation needs. S3 names several actions differently from its
/// operations (a copy is authorised as `PutObject` on the destination and `GetObject` on the
/// source), Lambda's `Invoke` is `InvokeFunction`; the other services used here name them the
/// same.
pub fn iam_action(service: &str, operation: &str) -> String {
    let prefix = service_prefix(service);
    let operation = match (prefix.as_str(), operation) {
        ("s3", "HeadObject") => "GetObject",
        ("s3", "ListObjectsV2") => "ListBucket",
        ("s3", "HeadBucket") => "ListBucket",
        ("s3", "ListObjectVersions") => "ListBucketVersions",
        ("s3", "DeleteObjects") => "DeleteObject",
        ("s3", "GetObjectLockConfiguration") => "GetBucketObjectLockConfiguration",
        (
            "s3",
            "CopyObject" | "UploadPartCopy" | "CreateMultipartUpload" | "CompleteMultipartUpload",
        ) => "PutObject",
        ("lambda", "Invoke") => "InvokeFunction",
        (_, operation) => operation,
    };
    format!("{prefix}:{operation}")
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "CallRecorder"
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            let succeeded = matches!(context.output_or_error(), Some(Ok(_)));
            self.push(Call {
                action: iam_action(metadata.service(), metadata.name()),
                operation: operation_name(metadata.service(), metadata.name()),
                succeeded,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::iam_action;

    #[test]
    fn s3_operations_map_to_their_iam_actions() {
        assert_eq!(iam_action("S3", "HeadObject"), "s3:GetObject");
        assert_eq!(iam_action("S3", "PutObject"), "s3:PutObject");
        assert_eq!(
            iam_action("Route 53", "ChangeResourceRecordSets"),
            "route53:ChangeResourceRecordSets"
        );
        assert_eq!(iam_action("ECS", "UpdateService"), "ecs:UpdateService");
        assert_eq!(
            iam_action("Cost Explorer", "GetCostAndUsage"),
            "ce:GetCostAndUsage"
        );
        assert_eq!(iam_action("SESv2", "SendEmail"), "ses:SendEmail");
    }

    #[test]
    fn deploy_analysis_and_hook_operations_map_to_their_iam_actions() {
        // The service names the SDK's operation metadata carries.
        assert_eq!(
            iam_action("CloudWatch", "GetMetricData"),
            "cloudwatch:GetMetricData"
        );
        assert_eq!(iam_action("ECS", "RunTask"), "ecs:RunTask");
        assert_eq!(iam_action("ECS", "ListTasks"), "ecs:ListTasks");
        assert_eq!(iam_action("ECS", "DescribeTasks"), "ecs:DescribeTasks");
        assert_eq!(iam_action("Lambda", "Invoke"), "lambda:InvokeFunction");
        assert_eq!(super::operation_name("Lambda", "Invoke"), "lambda:Invoke");
    }
}
