//! What invokes deploy-hook: a CodePipeline job (`aws_lambda_events`' job event), an Amazon ECS
//! deployment lifecycle hook (`lifecycleStage` and `executionDetails`, [`crate::ecs_hook::payload`])
//! or the decommission and watch schedules (`{"action": "decommission"}`, `{"action": "watch"}`).
//!
//! The job's `artifactCredentials` are moved into an [`ArtifactAccess`] whose `Debug` hides
//! them; the event itself is never logged.

use std::collections::BTreeMap;
use std::fmt;

use aws_lambda_events::event::codepipeline_job::CodePipelineJobEvent;
use ops_domain::config::Strategy;
use ops_domain::deploy::Token;
use serde::Deserialize;
use serde_json::Value;

use crate::ecs_hook::payload::{self as ecs_payload, LifecycleEvent};

/// What an invocation asks for.
#[derive(Debug)]
pub enum Input {
    /// A pipeline job (first invocation or continuation).
    Job(Box<Job>),
    /// Scale old colors to zero once their rollback window is over.
    Decommission,
    /// Post-promotion analysis of promoted deployments in their rollback window.
    Watch,
    /// An ECS deployment lifecycle hook invocation.
    EcsHook(Box<LifecycleEvent>),
}

/// A CodePipeline job, as far as deploy-hook uses it.
#[derive(Debug)]
pub struct Job {
    /// The job id (a new one on every continuation).
    pub id: String,
    /// The action's `UserParameters`, raw (parsed by [`UserParameters::parse`]).
    pub user_parameters: Option<String>,
    /// The continuation token of a continued job, when it is one of ours.
    pub token: Option<Token>,
    /// A continuation token that is not ours.
    pub foreign_token: bool,
    /// Input artifacts (S3 locations), in order.
    pub artifacts: Vec<ArtifactLocation>,
    /// Credentials for the artifact bucket.
    pub access: ArtifactAccess,
}

/// Where an input artifact is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactLocation {
    /// Artifact name.
    pub name: String,
    /// Bucket.
    pub bucket: String,
    /// Key of the zip.
    pub key: String,
}

/// The job's temporary artifact credentials; never printed.
#[derive(Clone, Default)]
pub struct ArtifactAccess {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: Option<String>,
}

impl fmt::Debug for ArtifactAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArtifactAccess(redacted)")
    }
}

/// The event is neither a pipeline job nor a schedule action.
#[derive(Debug, thiserror::Error)]
#[error(
    "not a CodePipeline job event, an ECS lifecycle hook or {{\"action\": \"decommission\" | \"watch\"}}: {0}"
)]
pub struct EventError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    action: String,
}

/// Reads an invocation's payload.
pub fn parse(payload: Value) -> Result<Input, EventError> {
    if payload.get("CodePipeline.job").is_some() {
        let event: CodePipelineJobEvent = serde_json::from_value(payload)
            // The serde message names a field, never a value: no credential can leak here.
            .map_err(|error| {
                EventError(format!("malformed job: {}", capped(&error.to_string())))
            })?;
        let job = event.code_pipeline_job;
        let id = job
            .id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| EventError("job without an id".into()))?;
        let data = job.data;
        let raw_token = data.continuation_token.filter(|t| !t.is_empty());
        let token = raw_token.as_deref().and_then(Token::decode);
        let credentials = data.artifact_credentials;
        return Ok(Input::Job(Box::new(Job {
            id,
            user_parameters: data.action_configuration.configuration.user_parameters,
            foreign_token: raw_token.is_some() && token.is_none(),
            token,
            artifacts: data
                .input_artifacts
                .into_iter()
                .filter_map(|artifact| {
                    let s3 = artifact.location.s3_location;
                    Some(ArtifactLocation {
                        name: artifact.name.unwrap_or_default(),
                        bucket: s3.bucket_name?,
                        key: s3.object_key?,
                    })
                })
                .collect(),
            access: ArtifactAccess {
                access_key_id: credentials.access_key_id.unwrap_or_default(),
                secret_access_key: credentials.secret_access_key.unwrap_or_default(),
                session_token: credentials.session_token.filter(|t| !t.is_empty()),
            },
        })));
    }
    if ecs_payload::is_lifecycle_event(&payload) {
        return serde_json::from_value::<LifecycleEvent>(payload)
            .map(|event| Input::EcsHook(Box::new(event)))
            .map_err(|error| {
                EventError(format!(
                    "malformed ECS lifecycle hook payload: {}",
                    capped(&error.to_string())
                ))
            });
    }
    match serde_json::from_value::<Action>(payload) {
        Ok(action) if action.action == "decommission" => Ok(Input::Decommission),
        Ok(action) if action.action == "watch" => Ok(Input::Watch),
        Ok(action) => Err(EventError(format!(
            "unknown action \"{}\"",
            capped(&action.action)
        ))),
        Err(error) => Err(EventError(capped(&error.to_string()))),
    }
}

/// `text` capped at the length an error may quote of its input.
fn capped(text: &str) -> String {
    ops_adapters::error::bounded(text, ops_adapters::error::MAX_MESSAGE)
}

/// The action's `UserParameters` JSON.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserParameters {
    /// The service (a key of the config's `services`).
    pub service: String,
    /// The image to deploy; default: from the input artifact.
    #[serde(default)]
    pub image: Option<String>,
    /// Container to put the image in (overrides `deploy.container`).
    #[serde(default)]
    pub container: Option<String>,
    /// Compute and report the plan, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Overrides of the service's settings for this deployment.
    #[serde(default)]
    pub overrides: Overrides,
}

/// Per-deployment overrides (validated like the config).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Strategy.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Canary steps.
    #[serde(default)]
    pub canary_steps: Option<Vec<u8>>,
    /// Linear step.
    #[serde(default)]
    pub step_percent: Option<u8>,
    /// Bake time per step.
    #[serde(default)]
    pub bake_seconds: Option<u32>,
}

impl UserParameters {
    /// Parses the parameters; the error says what is wrong and what is expected.
    pub fn parse(raw: Option<&str>) -> Result<UserParameters, String> {
        let raw = raw
            .map(str::trim)
            .filter(|raw| !raw.is_empty())
            .ok_or_else(|| {
                "UserParameters is empty; expected JSON like {\"service\": \"checkout\"}".to_owned()
            })?;
        let params: UserParameters = serde_json::from_str(raw).map_err(|error| {
            format!(
                "UserParameters is not valid: {}",
                capped(&error.to_string())
            )
        })?;
        if params.service.trim().is_empty() {
            return Err("UserParameters.service is empty".into());
        }
        Ok(params)
    }
}

/// `imagedefinitions.json` (ECS standard deploy) entries: container name → image.
pub fn image_definitions(text: &[u8]) -> Result<BTreeMap<String, String>, String> {
    #[derive(Deserialize)]
    struct Entry {
        name: String,
        #[serde(rename = "imageUri")]
        image_uri: String,
    }
    let entries: Vec<Entry> = serde_json::from_slice(text).map_err(|error| {
        format!(
            "imagedefinitions.json is not valid: {}",
            capped(&error.to_string())
        )
    })?;
    Ok(entries
        .into_iter()
        .map(|entry| (entry.name, entry.image_uri))
        .collect())
}

/// `imageDetail.json` (ECS blue/green standard): the image URI.
pub fn image_detail(text: &[u8]) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Detail {
        #[serde(rename = "ImageURI")]
        image_uri: String,
    }
    serde_json::from_slice::<Detail>(text)
        .map(|detail| detail.image_uri)
        .map_err(|error| {
            format!(
                "imageDetail.json is not valid: {}",
                capped(&error.to_string())
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(token: Option<&str>) -> Value {
        serde_json::json!({"CodePipeline.job": {"id": "job-1", "accountId": "1", "data": {
            "actionConfiguration": {"configuration": {"FunctionName": "deploy-hook",
                "UserParameters": "{\"service\":\"checkout\"}"}},
            "inputArtifacts": [{"name": "build", "revision": null, "location": {"type": "S3",
                "s3Location": {"bucketName": "artifacts", "objectKey": "build/abc.zip"}}}],
            "outputArtifacts": [],
            "artifactCredentials": {"accessKeyId": "AKIAEXAMPLEEXAMPLE12", "secretAccessKey": "s3cr3t", "sessionToken": "tok"},
            "continuationToken": token}}})
    }

    #[test]
    fn parses_jobs_without_leaking_credentials() {
        let Ok(Input::Job(job)) = parse(job(None)) else {
            panic!("not a job")
        };
        assert_eq!(job.id, "job-1");
        assert_eq!(job.artifacts[0].key, "build/abc.zip");
        assert_eq!(job.access.secret_access_key, "s3cr3t");
        let printed = format!("{job:?}");
        assert!(
            !printed.contains("s3cr3t") && !printed.contains("tok\""),
            "{printed}"
        );
        let params = UserParameters::parse(job.user_parameters.as_deref()).expect("params");
        assert_eq!(params.service, "checkout");
    }

    #[test]
    fn tokens_and_actions() {
        let ours = Token {
            v: 1,
            service: "checkout".into(),
            deployment: "job-0".into(),
            queued: false,
            chain: Some("job-0".into()),
            seq: 1,
        };
        let Ok(Input::Job(continued)) = parse(job(Some(&ours.encode()))) else {
            panic!("not a job")
        };
        assert_eq!(continued.token, Some(ours));
        let Ok(Input::Job(foreign)) = parse(job(Some("not-ours"))) else {
            panic!("not a job")
        };
        assert!(foreign.foreign_token);
        assert!(matches!(
            parse(serde_json::json!({"action": "decommission"})),
            Ok(Input::Decommission)
        ));
        assert!(parse(serde_json::json!({"action": "explode"})).is_err());
        assert!(parse(serde_json::json!({"hello": 1})).is_err());
    }

    #[test]
    fn user_parameters_errors_are_clear() {
        assert!(UserParameters::parse(None)
            .expect_err("fails")
            .contains("empty"));
        assert!(
            UserParameters::parse(Some("{\"service\": \"a\", \"dryrun\": true}"))
                .expect_err("fails")
                .contains("dryrun")
        );
        let params = UserParameters::parse(Some(
            r#"{"service":"a","dry_run":true,"overrides":{"strategy":"linear","step_percent":25}}"#,
        ))
        .expect("ok");
        assert!(params.dry_run);
        assert_eq!(params.overrides.strategy, Some(Strategy::Linear));
    }

    #[test]
    fn artifact_files() {
        let defs = image_definitions(br#"[{"name":"app","imageUri":"r/app:1.5.0"}]"#).expect("ok");
        assert_eq!(defs["app"], "r/app:1.5.0");
        assert_eq!(
            image_detail(br#"{"ImageURI":"r/app@sha256:ab"}"#).expect("ok"),
            "r/app@sha256:ab"
        );
        assert!(image_definitions(b"{}").is_err());
    }
}

#[cfg(test)]
mod sample_events {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events")
            .join(name);
        let text = std::fs::read_to_string(&path).expect("sample event");
        serde_json::from_str(&text).expect("JSON")
    }

    #[test]
    fn every_sample_event_parses() {
        for name in [
            "deploy-hook-job.json",
            "deploy-hook-job-image.json",
            "deploy-hook-continue.json",
            "deploy-hook-dry-run.json",
            "deploy-hook-overrides.json",
        ] {
            let Ok(Input::Job(job)) = parse(sample(name)) else {
                panic!("{name} is not a job")
            };
            let params = UserParameters::parse(job.user_parameters.as_deref()).expect(name);
            assert_eq!(params.service, "checkout", "{name}");
            assert!(!job.foreign_token, "{name}");
        }
        let Ok(Input::Job(continued)) = parse(sample("deploy-hook-continue.json")) else {
            panic!("not a job")
        };
        assert!(continued.token.is_some());
        assert!(matches!(
            parse(sample("deploy-hook-decommission.json")),
            Ok(Input::Decommission)
        ));
        let Ok(Input::EcsHook(hook)) = parse(sample("ecs-lifecycle-pre-scale-up.json")) else {
            panic!("not an ECS lifecycle hook")
        };
        assert_eq!(hook.lifecycle_stage.as_str(), "PRE_SCALE_UP");
        let mut broken = sample("ecs-lifecycle-pre-scale-up.json");
        broken["executionDetails"] = serde_json::json!({"serviceArn": 7});
        let error = parse(broken).expect_err("malformed");
        assert!(error.to_string().contains("ECS lifecycle hook"), "{error}");
    }
}
