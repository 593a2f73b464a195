//! `ops_adapters::lambda::invoke_json` against a loopback endpoint that answers Lambda `Invoke`
//! (`POST /2015-03-31/functions/{name}/invocations`) as Lambda does: a JSON answer, a function
//! error (`X-Amz-Function-Error` with the function's `errorMessage`), an answer that is not
//! JSON, and Lambda's own errors.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use axum::Router;
use ops_adapters::lambda::{invoke_json, LambdaError};
use ops_adapters::AwsClients;
use serde_json::{json, Value};

/// What the loopback Lambda answers for each function name.
async fn invoke(
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, HeaderMap, String) {
    let mut answer = HeaderMap::new();
    let received: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match name.as_str() {
        "hook" => {
            let kind = headers
                .get("x-amz-invocation-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            let body = json!({ "status": "succeeded", "received": received, "type": kind });
            (StatusCode::OK, answer, body.to_string())
        }
        "silent" => (StatusCode::OK, answer, String::new()),
        "fails" | "fails-long" | "fails-plain" => {
            answer.insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            let body = match name.as_str() {
                "fails" => json!({ "errorType": "Error", "errorMessage": "migration 42 failed" })
                    .to_string(),
                "fails-long" => {
                    json!({ "errorType": "Error", "errorMessage": "x".repeat(600) }).to_string()
                }
                _ => "Task timed out".to_owned(),
            };
            (StatusCode::OK, answer, body)
        }
        "garbage" => (
            StatusCode::OK,
            answer,
            "<html>SECRET-BODY</html>".to_owned(),
        ),
        "throttled" => {
            answer.insert(
                "x-amzn-errortype",
                HeaderValue::from_static("TooManyRequestsException"),
            );
            let body = json!({ "Type": "User", "message": "Rate exceeded" });
            (StatusCode::TOO_MANY_REQUESTS, answer, body.to_string())
        }
        _ => {
            answer.insert(
                "x-amzn-errortype",
                HeaderValue::from_static("ResourceNotFoundException"),
            );
            let body = json!({
                "Type": "User",
                "message": format!("Function not found: {name}"),
            });
            (StatusCode::NOT_FOUND, answer, body.to_string())
        }
    }
}

/// Clients (with the suite's recorder) pointing at a loopback Lambda.
async fn clients() -> AwsClients {
    let app = Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    AwsClients::new(&ops_tests::emulator::sdk_config_for(&endpoint).await)
}

#[tokio::test]
async fn a_json_answer_is_returned_as_it_came() {
    let clients = clients().await;
    let payload = json!({ "deployment": "api-42", "hook": "pre_traffic" });
    let answer = invoke_json(&clients.lambda, "hook", &payload)
        .await
        .expect("an answer");
    assert_eq!(
        answer,
        json!({ "status": "succeeded", "received": payload, "type": "RequestResponse" })
    );
    assert_eq!(clients.recorder.succeeded("lambda:InvokeFunction"), 1);

    let silent = invoke_json(&clients.lambda, "silent", &payload)
        .await
        .expect("an empty answer");
    assert_eq!(silent, Value::Null);
}

#[tokio::test]
async fn a_function_error_carries_the_functions_message_capped() {
    let clients = clients().await;
    let payload = json!({});
    let error = invoke_json(&clients.lambda, "fails", &payload)
        .await
        .expect_err("a function error");
    assert!(
        matches!(&error, LambdaError::Function { message } if message == "migration 42 failed"),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(
        error.to_string(),
        "the function failed: migration 42 failed"
    );

    let long = invoke_json(&clients.lambda, "fails-long", &payload)
        .await
        .expect_err("a function error");
    let LambdaError::Function { message } = long else {
        panic!("{long:?}")
    };
    assert!(message.starts_with(&"x".repeat(500)), "{message}");
    assert!(message.ends_with("(100 more characters)"), "{message}");

    let plain = invoke_json(&clients.lambda, "fails-plain", &payload)
        .await
        .expect_err("a function error");
    assert!(
        matches!(&plain, LambdaError::Function { message } if message == "the function failed"),
        "{plain:?}"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_its_own_error_and_never_quoted() {
    let clients = clients().await;
    let error = invoke_json(&clients.lambda, "garbage", &json!({}))
        .await
        .expect_err("not JSON");
    assert!(
        matches!(error, LambdaError::NotJson { bytes: 24 }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("SECRET"), "{error}");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn lambdas_own_errors_are_aws_call_errors() {
    let clients = clients().await;
    let missing = invoke_json(&clients.lambda, "missing", &json!({}))
        .await
        .expect_err("not found");
    let LambdaError::Aws(call) = &missing else {
        panic!("{missing:?}")
    };
    assert!(call.has_code("ResourceNotFoundException"), "{call}");
    assert!(!missing.is_transient());
    assert_eq!(
        missing.to_string(),
        "Invoke on function missing failed: ResourceNotFoundException: Function not found: \
         missing (HTTP 404)"
    );

    let throttled = invoke_json(&clients.lambda, "throttled", &json!({}))
        .await
        .expect_err("throttled");
    assert!(throttled.is_transient(), "{throttled:?}");
}
