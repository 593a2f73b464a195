//! Responses: JSON bodies, the contract's error bodies and the status page with its
//! Content-Security-Policy.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

/// An error answer of the contract: `{"error", "message", "field"}` (`field` on 400 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error code: `not_found`, `bad_request`, `unauthorized`, `forbidden`, `conflict`,
    /// `failed`.
    pub error: &'static str,
    /// A short sentence for a person.
    pub message: String,
    /// The request field at fault (400 only).
    pub field: Option<String>,
}

impl ApiError {
    /// 400: `field` of the request is wrong.
    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message).with_field(field)
    }

    /// 401: no credential, or one that does not check out.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: authenticated, but the role does not allow it.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: no such route, service or plan (the message names it).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409: the command makes no sense now.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 502: a call behind the API failed.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "failed", message)
    }

    /// 501: the route is reserved and not served by this build.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "failed", message)
    }

    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            message: message.into(),
            field: None,
        }
    }

    fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    /// The error's JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({"error": self.error, "message": self.message});
        if let Some(field) = &self.field {
            body["field"] = Value::String(field.clone());
        }
        body
    }

    /// The error as a response.
    pub fn response(&self) -> Response<Body> {
        json_response(self.status, &self.body())
    }
}

/// `body` as JSON with `status`; never cached (answers depend on the caller and change).
pub fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The status page: one self-contained file.
pub const PAGE: &str = include_str!("../assets/index.html");

/// The page with its Content-Security-Policy.
pub fn page_response() -> Response<Body> {
    let mut response = Response::new(Body::from(PAGE));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(PAGE)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// The strictest policy one self-contained page works under: nothing from anywhere but this
/// origin's API (`connect-src 'self'`), and only the page's own inline `<script>` and `<style>`
/// blocks, each allowed by its SHA-256 — so no injected script or style sheet runs and no
/// inline event handler (`onclick=`) does. Style *attributes* are allowed
/// (`style-src-attr 'unsafe-inline'`): the page's script sets widths of weight and progress
/// bars through `style` attributes, and an attribute cannot run script, match selectors or
/// load anything `img-src` does not allow.
pub fn content_security_policy(page: &str) -> String {
    let sources = |tag: &str| {
        let hashes: Vec<String> = inline_blocks(page, tag)
            .iter()
            .map(|block| format!("'sha256-{}'", sha256_base64(block)))
            .collect();
        if hashes.is_empty() {
            "'none'".to_owned()
        } else {
            hashes.join(" ")
        }
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; style-src-attr 'unsafe-inline'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
        sources("script"),
        sources("style")
    )
}

/// The text of every inline `<tag …>…</tag>` block of `page` (blocks with a `src` are not
/// inline and get no hash).
fn inline_blocks<'a>(page: &'a str, tag: &str) -> Vec<&'a str> {
    let lower = page.to_ascii_lowercase();
    let open = format!("<{tag}");
    let close = format!("</{tag}");
    let mut blocks = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..].find(&open).map(|at| at + from) {
        let after_name = start + open.len();
        // `<scripts>` or `<style-x>` are other elements.
        if !lower[after_name..].starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
            from = after_name;
            continue;
        }
        let Some(tag_end) = lower[after_name..].find('>').map(|at| at + after_name + 1) else {
            break;
        };
        let Some(end) = lower[tag_end..].find(&close).map(|at| at + tag_end) else {
            break;
        };
        if !lower[start..tag_end].contains(" src=") {
            blocks.push(&page[tag_end..end]);
        }
        from = end + close.len();
    }
    blocks
}

fn sha256_base64(text: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_contract_shape_and_a_field_only_on_400() {
        assert_eq!(
            ApiError::bad_request("days", "days must be 1 to 365").body(),
            json!({"error": "bad_request", "message": "days must be 1 to 365", "field": "days"})
        );
        assert_eq!(
            ApiError::not_found("no service named x").body(),
            json!({"error": "not_found", "message": "no service named x"})
        );
        let response = ApiError::forbidden("viewer").response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn the_policy_allows_exactly_the_pages_inline_blocks() {
        let page = "<html><head><style>b{}</style><STYLE media=x>i{}</STYLE></head>\
                    <body><script>go()</script><script src=\"x.js\"></script><scripts></scripts></body></html>";
        let policy = content_security_policy(page);
        assert!(policy.starts_with("default-src 'none'; "), "{policy}");
        assert!(
            policy.contains(&format!("script-src 'sha256-{}';", sha256_base64("go()"))),
            "{policy}"
        );
        assert!(
            policy.contains(&format!(
                "style-src 'sha256-{}' 'sha256-{}';",
                sha256_base64("b{}"),
                sha256_base64("i{}")
            )),
            "{policy}"
        );
        assert!(
            policy.contains("; style-src-attr 'unsafe-inline'; "),
            "{policy}"
        );
        assert!(!policy.contains("script-src 'unsafe"), "{policy}");
        assert_eq!(policy.matches("unsafe").count(), 1, "{policy}");
        let bare = content_security_policy("<p>hi</p>");
        assert!(
            bare.contains("script-src 'none'; style-src 'none'"),
            "{bare}"
        );
    }

    #[test]
    fn the_page_is_html_with_its_policy() {
        let response = page_response();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert_eq!(policy, content_security_policy(PAGE));
    }
}
