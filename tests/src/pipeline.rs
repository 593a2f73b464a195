//! A loopback stand-in for CodePipeline's job result API (moto does not implement
//! `PutJobSuccessResult` / `PutJobFailureResult`): it speaks the awsJson1.1 protocol for those
//! two operations, records every call, and answers like CodePipeline does — a job that already
//! has a final result gets `InvalidJobStateException`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Value};

/// One recorded call.
#[derive(Debug, Clone, PartialEq)]
pub struct JobCall {
    /// `PutJobSuccessResult` or `PutJobFailureResult`.
    pub operation: String,
    /// The request body.
    pub body: Value,
}

impl JobCall {
    /// The job id.
    pub fn job_id(&self) -> &str {
        self.body["jobId"].as_str().unwrap_or_default()
    }

    /// The continuation token, for a success that continues.
    pub fn continuation(&self) -> Option<&str> {
        self.body["continuationToken"].as_str()
    }

    /// Whether this is a success.
    pub fn is_success(&self) -> bool {
        self.operation == "PutJobSuccessResult"
    }

    /// The failure type, for a failure.
    pub fn failure_type(&self) -> Option<&str> {
        self.body["failureDetails"]["type"].as_str()
    }

    /// The summary (success) or message (failure).
    pub fn text(&self) -> &str {
        self.body["executionDetails"]["summary"]
            .as_str()
            .or_else(|| self.body["failureDetails"]["message"].as_str())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    calls: Vec<JobCall>,
    finished: BTreeSet<String>,
}

/// The recorder.
#[derive(Clone)]
pub struct PipelineRecorder {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl PipelineRecorder {
    /// Starts one on a free loopback port.
    pub async fn start() -> PipelineRecorder {
        let state: Arc<Mutex<State>> = Arc::default();
        let sink = state.clone();
        let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let error = |status: StatusCode, kind: &str, message: &str| {
                    (
                        status,
                        [("content-type", "application/x-amz-json-1.1")],
                        json!({"__type": kind, "message": message}).to_string(),
                    )
                };
                if operation != "PutJobSuccessResult" && operation != "PutJobFailureResult" {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "UnknownOperationException",
                        &target,
                    );
                }
                let Ok(mut state) = sink.lock() else {
                    return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "lock");
                };
                let job = body["jobId"].as_str().unwrap_or_default().to_owned();
                state.calls.push(JobCall {
                    operation: operation.clone(),
                    body: body.clone(),
                });
                if state.finished.contains(&job) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "InvalidJobStateException",
                        "the job already has a final result",
                    );
                }
                // A continuation keeps the job id alive only until CodePipeline re-invokes
                // under a new id; either way this id has its result now.
                state.finished.insert(job);
                (
                    StatusCode::OK,
                    [("content-type", "application/x-amz-json-1.1")],
                    "{}".to_owned(),
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("bind: {error}"));
        let url = format!(
            "http://{}",
            listener
                .local_addr()
                .unwrap_or_else(|error| panic!("addr: {error}"))
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PipelineRecorder { url, state }
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<JobCall> {
        self.state
            .lock()
            .map(|state| state.calls.clone())
            .unwrap_or_default()
    }

    /// Calls for one job id.
    pub fn for_job(&self, job_id: &str) -> Vec<JobCall> {
        self.calls()
            .into_iter()
            .filter(|call| call.job_id() == job_id)
            .collect()
    }
}

/// A CodePipeline job event: `events/deploy-hook-job.json` with this job id, these
/// `UserParameters`, input artifact (or none) and continuation token.
pub fn job_event(
    job_id: &str,
    user_parameters: &Value,
    artifact: Option<(&str, &str)>,
    continuation: Option<&str>,
) -> Value {
    let path = crate::workspace_root().join("events/deploy-hook-job.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut event: Value = serde_json::from_str(&text).expect("sample job event is JSON");
    let job = &mut event["CodePipeline.job"];
    job["id"] = json!(job_id);
    let data = &mut job["data"];
    data["actionConfiguration"]["configuration"]["UserParameters"] =
        json!(user_parameters.to_string());
    data["continuationToken"] = json!(continuation);
    match artifact {
        Some((bucket, key)) => {
            let location = &mut data["inputArtifacts"][0]["location"]["s3Location"];
            location["bucketName"] = json!(bucket);
            location["objectKey"] = json!(key);
        }
        None => data["inputArtifacts"] = json!([]),
    }
    event
}
