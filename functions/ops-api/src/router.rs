//! The API: one request in, one response out. Finds the route (404), authenticates (401),
//! checks the role (403), checks the input (400) and only then calls the operations, so a
//! refused request writes nothing. Every answer is JSON except the page.

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use ops_domain::deploy::CommandKind;
use serde_json::{json, Value};

use crate::auth::authenticate;
use crate::caller::{Caller, Role};
use crate::deps::Deps;
use crate::input;
use crate::openapi;
use crate::operations::{OpFailure, OpResult, Operations, SlackRequest};
use crate::reply::{json_response, page_response, ApiError};
use crate::routes::{self, Access, Action, Matched, ServiceCommand};

/// Answers `request`. Never fails: every error is an answer of the contract's shape.
pub async fn handle<O: Operations>(deps: &Deps<O>, request: Request) -> Response<Body> {
    let path = request_path(&request).to_owned();
    let (machine, path) = routes::split_machine(&path);
    let method = request.method().as_str().to_owned();
    let (response, principal, route) = match routes::find(&method, path, machine) {
        Err(error) => (error.response(), None, None),
        Ok(matched) => {
            let route = matched.route.path;
            match answer(deps, &request, machine, &matched).await {
                Ok((response, principal)) => (response, principal, Some(route)),
                Err((error, principal)) => (error.response(), principal, Some(route)),
            }
        }
    };
    let status = response.status().as_u16();
    tracing::info!(
        message = "Answered.",
        %method,
        route = route.unwrap_or("-"),
        machine,
        status,
        principal = principal.as_deref().unwrap_or("-"),
    );
    response
}

/// The path the caller asked for: the gateway's raw path (without the stage), else the URI's.
fn request_path(request: &Request) -> &str {
    let raw = request.raw_http_path();
    if raw.is_empty() {
        request.uri().path()
    } else {
        raw
    }
}

type Answer = Result<(Response<Body>, Option<String>), (ApiError, Option<String>)>;

async fn answer<O: Operations>(
    deps: &Deps<O>,
    request: &Request,
    machine: bool,
    matched: &Matched,
) -> Answer {
    let route = matched.route;
    match route.action {
        Action::Page => return Ok((page_response(), None)),
        Action::OpenApi => {
            return Ok((json_response(StatusCode::OK, openapi::document()), None));
        }
        Action::SlackInteractions => {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let slack = SlackRequest {
                timestamp: header(ops_adapters::slack::TIMESTAMP_HEADER),
                signature: header(ops_adapters::slack::SIGNATURE_HEADER),
                body: request.body().to_vec(),
                request_id: request.lambda_context_ref().map_or_else(
                    || {
                        format!(
                            "local-{}",
                            Utc::now().timestamp_nanos_opt().unwrap_or_default()
                        )
                    },
                    |context| context.request_id.clone(),
                ),
            };
            return match deps.operations.slack_interaction(slack, Utc::now()).await {
                Ok(body) => Ok((json_response(StatusCode::OK, &body), None)),
                Err(error) => Err((failure(error), None)),
            };
        }
        _ => {}
    }
    let caller = authenticate(request, machine, &deps.keys, &deps.role_claim)
        .await
        .map_err(|error| (error, None))?;
    let principal = Some(caller.principal.clone());
    if route.access == Access::Operator && caller.role != Role::Operator {
        return Err((
            ApiError::forbidden(format!(
                "{} is a {}: {} {} needs the operator role",
                caller.principal,
                caller.role.as_str(),
                route.method,
                route.path
            )),
            principal,
        ));
    }
    match call(deps, request, &caller, matched).await {
        Ok(body) => Ok((json_response(StatusCode::OK, &body), principal)),
        Err(error) => {
            if error.status.is_server_error() {
                tracing::warn!(message = "Operation failed.", route = route.path, error = %error.message);
            }
            Err((error, principal))
        }
    }
}

/// Checks the input, then calls the operation behind `matched`.
async fn call<O: Operations>(
    deps: &Deps<O>,
    request: &Request,
    caller: &Caller,
    matched: &Matched,
) -> Result<Value, ApiError> {
    let ops = &deps.operations;
    let now = Utc::now();
    let query = request.uri().query().unwrap_or_default();
    let body = request.body().as_ref();
    let result: OpResult = match matched.route.action {
        Action::Whoami => Ok(json!({
            "principal": caller.principal,
            "role": caller.role,
            "via": caller.via,
        })),
        Action::Status => ops.status_suite(caller, now).await,
        Action::Services => ops.status_services(caller, now).await,
        Action::Service => ops.status_service(caller, matched.param("name"), now).await,
        Action::ServiceHistory => ops.history_service(caller, matched.param("name")).await,
        Action::Backups => ops.backups_plans(caller, now).await,
        Action::BackupSnapshots => ops.backups_snapshots(caller, matched.param("plan")).await,
        Action::CostLatest => ops.cost_latest(caller).await,
        Action::Dora => {
            let days = input::days(query)?;
            ops.dora_report(caller, days, now).await
        }
        Action::Audit => {
            let (since, limit) = input::audit(query, now)?;
            ops.audit_since(caller, since, limit).await
        }
        Action::Command(command) => {
            let body = input::command_body(command, body)?;
            let service = matched.param("name");
            let kind = match command {
                ServiceCommand::Pause => CommandKind::Pause,
                ServiceCommand::Resume => CommandKind::Resume,
                ServiceCommand::Promote => CommandKind::Promote { full: body.full },
                ServiceCommand::Abort => CommandKind::Abort,
                ServiceCommand::Rollback => {
                    return ops
                        .rollback_execute(
                            caller,
                            service,
                            body.to.as_deref(),
                            body.dry_run,
                            body.reason,
                        )
                        .await
                        .map_err(failure);
                }
            };
            ops.deploy_execute(caller, kind, service, body.reason).await
        }
        Action::Restore => {
            let body = input::restore_body(body)?;
            ops.backups_restore(
                caller,
                matched.param("plan"),
                body.snapshot.as_deref(),
                body.apply,
            )
            .await
        }
        Action::Page | Action::OpenApi | Action::SlackInteractions => Err(OpFailure::Failed(
            "public route dispatched as an operation".to_owned(),
        )),
    };
    result.map_err(failure)
}

/// An operation's failure as the contract's error.
fn failure(failure: OpFailure) -> ApiError {
    match failure {
        OpFailure::Usage(message) => ApiError::bad_request("request", message),
        OpFailure::Refused(message) => ApiError::conflict(message),
        OpFailure::NotFound(message) => ApiError::not_found(message),
        OpFailure::Failed(message) => ApiError::failed(message),
        OpFailure::Unauthorized(message) => ApiError::unauthorized(message),
        OpFailure::Forbidden(message) => ApiError::forbidden(message),
        OpFailure::NotConfigured(message) => ApiError::not_implemented(message),
    }
}
