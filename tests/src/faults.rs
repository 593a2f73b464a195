//! A fault-injecting HTTP proxy between the functions' AWS SDK clients and the emulator, and the
//! harness helpers of the chaos tests.
//!
//! [`FaultProxy::start`] listens on a free loopback port; SDK clients get
//! [`FaultProxy::endpoint`] as their endpoint URL and every request is forwarded to the upstream
//! (the moto server) with its headers (hop-by-hop ones excepted) and its body bytes unchanged.
//! A [`FaultPlan`], replaceable at run time, decides per request, deterministically from its
//! seed and a request counter (splitmix64), whether to
//!
//! - answer with an error shaped the way the service really answers (`SlowDown` for S3,
//!   `Throttling` for Route 53 and CloudWatch, `ThrottlingException` for the awsJson services,
//!   `TooManyRequestsException` for Lambda and SES, 5xx failures), without forwarding;
//! - forward, read moto's whole answer, then close the client's connection without a response
//!   (the write happened, the caller sees a connection error);
//! - delay the answer;
//! - or just forward.
//!
//! Faults apply only to the services and operations the plan's [`Scope`] selects, so a test seeds
//! its resources through a clean proxy and then turns faults on. A separate rule
//! ([`FaultProxy::echo_auth_error_for`]) answers matching requests with S3's
//! `SignatureDoesNotMatch`, whose body echoes the request's credentials and headers (session token
//! included) — leak tests then check that no function passes those values on.
//!
//! The service is read from the SigV4 credential scope (`Credential=AKID/date/region/<service>/
//! aws4_request` in `Authorization`, or `X-Amz-Credential` of a presigned URL), falling back to
//! the request's shape (`X-Amz-Target` prefix, an awsQuery `Action=` body, REST paths). The
//! error's shape follows the protocol: awsJson when `X-Amz-Target` is present, awsQuery for a
//! form-encoded `Action=` body, restXml for S3 and Route 53, restJson for Lambda and SES.
//!
//! [`FaultProxy::stats`] counts forwarded requests, injected errors by service and code, and
//! requests dropped after forwarding; [`FaultProxy::log`] keeps the last [`LOG_CAPACITY`]
//! requests (method, service, operation, outcome) for debugging a failing chaos test.
//!
//! Harness helpers: [`deliver_like_async_lambda`] retries an invocation the way Lambda's
//! asynchronous invocation does, and [`chaos_seeds`] / [`chaos_rates`] read the sweep:
//!
//! - `CHAOS_SEEDS`: comma-separated seeds or inclusive ranges (`1,2,7` or `1-50`); default `1,2`
//!   (the fast seeds of `make test`; `make chaos` sets a full sweep).
//! - `CHAOS_RATES`: comma-separated fault rates in `[0, 1]` (`0.1,0.3`); default `0.2`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::{Digest, Sha256};

/// How many requests [`FaultProxy::log`] keeps (the most recent ones).
pub const LOG_CAPACITY: usize = 1000;

/// Attempts of a Lambda asynchronous invocation that ends in a function error: the first one and
/// two retries (the default `MaximumRetryAttempts` of 2).
pub const LAMBDA_ASYNC_ATTEMPTS: usize = 3;

// ---------------------------------------------------------------------------------------------
// The plan and its decisions.

/// What the proxy does to the requests in its scope. `Default` injects nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    /// Seed of the per-request pseudo-random choices.
    pub seed: u64,
    /// Fraction of requests answered with a service-shaped error, without forwarding.
    pub error_rate: f64,
    /// Fraction of requests forwarded, whose answer is read and then withheld: the client's
    /// connection is closed without a response.
    pub drop_rate: f64,
    /// Latency added before answering each request in scope.
    pub delay: Option<Delay>,
    /// The services and operations faults apply to.
    pub scope: Scope,
    /// Requests whose path (with query) contains one of these are answered with S3's 403
    /// `SignatureDoesNotMatch`, echoing the request (regardless of scope and rates).
    pub echo_auth_error: Vec<String>,
}

/// Latency added before answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delay {
    /// Always this long.
    Fixed(Duration),
    /// Uniformly between `min` and `max` (seeded like the other choices).
    Uniform {
        /// Shortest delay.
        min: Duration,
        /// Longest delay.
        max: Duration,
    },
}

/// The services and operations faults apply to. Patterns are a service's signing name (`s3`,
/// `route53`, `ecs`, `secretsmanager`, `kms`, `codepipeline`, `monitoring`, `lambda`, `ses`, …)
/// or `service:Operation` (`s3:PutObject`, `ecs:UpdateService`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// When not empty, only requests matching one of these.
    pub only: Vec<String>,
    /// Never requests matching one of these (wins over `only`).
    pub never: Vec<String>,
}

impl Scope {
    /// Whether faults apply to a request of `service` and `operation`.
    pub fn applies(&self, service: &str, operation: Option<&str>) -> bool {
        let matches = |pattern: &String| match pattern.split_once(':') {
            Some((svc, op)) => svc == service && operation == Some(op),
            None => pattern == service,
        };
        if self.never.iter().any(matches) {
            return false;
        }
        self.only.is_empty() || self.only.iter().any(matches)
    }
}

impl FaultPlan {
    /// A plan that answers `rate` of the requests with errors.
    pub fn errors(seed: u64, rate: f64) -> FaultPlan {
        FaultPlan {
            seed,
            error_rate: rate,
            ..FaultPlan::default()
        }
    }

    /// A plan that drops `rate` of the requests after forwarding them.
    pub fn drops(seed: u64, rate: f64) -> FaultPlan {
        FaultPlan {
            seed,
            drop_rate: rate,
            ..FaultPlan::default()
        }
    }

    /// Also drops `rate` of the requests after forwarding them.
    pub fn with_drops(mut self, rate: f64) -> FaultPlan {
        self.drop_rate = rate;
        self
    }

    /// Adds latency before each answer.
    pub fn with_delay(mut self, delay: Delay) -> FaultPlan {
        self.delay = Some(delay);
        self
    }

    /// Faults only for these services or `service:Operation` patterns.
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(mut self, patterns: I) -> FaultPlan {
        self.scope.only.extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Never faults for these services or `service:Operation` patterns.
    pub fn never<I: IntoIterator<Item = S>, S: Into<String>>(mut self, patterns: I) -> FaultPlan {
        self.scope
            .never
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// The decision for the `n`-th request in scope since the plan was set: a pure function of
    /// the seed, the rates and `n`.
    pub fn decide(&self, n: u64) -> Decision {
        let mut rng = Rng::new(self.seed, n);
        let roll = rng.unit();
        let pick = rng.next_u64();
        let delay = match self.delay {
            None => Duration::ZERO,
            Some(Delay::Fixed(delay)) => delay,
            Some(Delay::Uniform { min, max }) => {
                let span = max.saturating_sub(min);
                min + span.mul_f64(rng.unit())
            }
        };
        let error_rate = self.error_rate.clamp(0.0, 1.0);
        let drop_rate = self.drop_rate.clamp(0.0, 1.0);
        let action = if roll < error_rate {
            Action::Error { pick }
        } else if roll < error_rate + drop_rate {
            Action::Drop
        } else {
            Action::Forward
        };
        Decision { action, delay }
    }
}

/// What happens to one request in scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Forward, answer with an error, or drop after forwarding.
    pub action: Action,
    /// Latency added before answering.
    pub delay: Duration,
}

/// The fate of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Forwarded and answered.
    Forward,
    /// Answered with one of the service's errors (`pick` chooses which), not forwarded.
    Error {
        /// Pseudo-random number choosing the error kind and its request id.
        pick: u64,
    },
    /// Forwarded, then the client's connection closed without an answer.
    Drop,
}

/// splitmix64's output function.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A splitmix64 stream for one request.
struct Rng(u64);

impl Rng {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new(seed: u64, n: u64) -> Rng {
        Rng(mix64(seed ^ mix64(n.wrapping_add(Self::GAMMA))))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GAMMA);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------------------
// What a request is.

/// The error protocol a request's service answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorShape {
    /// S3's restXml `<Error>` document and `x-amz-request-id`.
    S3,
    /// Route 53's restXml `<ErrorResponse>` with its namespace.
    Route53,
    /// awsJson 1.0/1.1 (`X-Amz-Target`): `{"__type": …}` and `x-amzn-ErrorType`.
    AwsJson,
    /// awsQuery (form-encoded `Action=`): `<ErrorResponse>` XML.
    AwsQuery,
    /// restJson (Lambda, SES): `x-amzn-ErrorType` and a JSON body.
    RestJson,
    /// Anything else: a 500 with a JSON body.
    Generic,
}

/// What the proxy knows about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// The SigV4 signing name (`s3`, `route53`, `ecs`, `monitoring`, `ses`, …).
    pub service: String,
    /// The operation, when the request tells it (`X-Amz-Target`, `Action=`, REST path).
    pub operation: Option<String>,
    /// How the service shapes its errors.
    pub shape: ErrorShape,
}

/// Identifies a request's service, operation and error shape.
pub fn identify(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> RequestInfo {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let target = header(headers, "x-amz-target");
    let form_action = is_form(headers)
        .then(|| form_value(body, "Action"))
        .flatten();
    let service = scope_service(headers, query)
        .or_else(|| target.as_deref().map(service_of_target))
        .or_else(|| {
            form_action
                .as_ref()
                .map(|_| service_of_query_version(form_value(body, "Version").as_deref()))
        })
        .unwrap_or_else(|| service_of_path(path).to_string());
    let shape = if service == "s3" {
        ErrorShape::S3
    } else if target.is_some() {
        ErrorShape::AwsJson
    } else if form_action.is_some() {
        ErrorShape::AwsQuery
    } else {
        match service.as_str() {
            "route53" => ErrorShape::Route53,
            "lambda" | "ses" => ErrorShape::RestJson,
            _ => ErrorShape::Generic,
        }
    };
    let operation = if let Some(target) = &target {
        target.rsplit('.').next().map(str::to_string)
    } else if let Some(action) = form_action {
        Some(action)
    } else {
        match service.as_str() {
            "s3" => s3_operation(method, path, query, headers),
            "route53" => route53_operation(method, path),
            "lambda" => lambda_operation(method, path),
            "ses" => (method == Method::POST && path.ends_with("/outbound-emails"))
                .then(|| "SendEmail".to_string()),
            _ => None,
        }
    };
    RequestInfo {
        service,
        operation,
        shape,
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

fn is_form(headers: &HeaderMap) -> bool {
    header(headers, "content-type")
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"))
}

/// The fields of a SigV4 `Authorization` header: credential, signed headers, signature.
struct Authorization {
    credential: String,
    signed_headers: String,
    signature: String,
}

fn authorization(headers: &HeaderMap, query: &str) -> Option<Authorization> {
    if let Some(value) = header(headers, "authorization") {
        let field = |name: &str| {
            value
                .split([' ', ','])
                .find_map(|part| part.trim().strip_prefix(name))
                .unwrap_or_default()
                .to_string()
        };
        let credential = field("Credential=");
        if !credential.is_empty() {
            return Some(Authorization {
                credential,
                signed_headers: field("SignedHeaders="),
                signature: field("Signature="),
            });
        }
    }
    let credential = query_value(query, "X-Amz-Credential")?;
    Some(Authorization {
        credential,
        signed_headers: query_value(query, "X-Amz-SignedHeaders").unwrap_or_default(),
        signature: query_value(query, "X-Amz-Signature").unwrap_or_default(),
    })
}

/// The service of the SigV4 credential scope (`AKID/date/region/<service>/aws4_request`).
fn scope_service(headers: &HeaderMap, query: &str) -> Option<String> {
    let auth = authorization(headers, query)?;
    let parts: Vec<&str> = auth.credential.split('/').collect();
    (parts.len() == 5 && !parts[3].is_empty()).then(|| parts[3].to_string())
}

fn service_of_target(target: &str) -> String {
    let prefix = target.split('.').next().unwrap_or_default();
    match prefix {
        "AmazonEC2ContainerServiceV20141113" => "ecs",
        "secretsmanager" => "secretsmanager",
        "TrentService" => "kms",
        "CodePipeline_20150709" => "codepipeline",
        "GraniteServiceVersion20100801" => "monitoring",
        "AWSInsightsIndexService" => "ce",
        "AWSEvents" => "events",
        "Logs_20140328" => "logs",
        other => return other.to_ascii_lowercase(),
    }
    .to_string()
}

fn service_of_query_version(version: Option<&str>) -> String {
    match version {
        Some("2010-08-01") => "monitoring",
        Some("2010-03-31") => "sns",
        Some("2010-05-08") => "iam",
        Some("2011-06-15") => "sts",
        _ => "query",
    }
    .to_string()
}

fn service_of_path(path: &str) -> &'static str {
    if path.starts_with("/2013-04-01/") {
        "route53"
    } else if path.starts_with("/2015-03-31/") {
        "lambda"
    } else if path.starts_with("/v2/email/") {
        "ses"
    } else {
        // A REST request without a target or an action: in this suite, S3.
        "s3"
    }
}

fn query_keys(query: &str) -> Vec<&str> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').map_or(pair, |(key, _)| key))
        .collect()
}

fn query_value(query: &str, name: &str) -> Option<String> {
    form_value(query.as_bytes(), name)
}

/// A field of a form-encoded body (or query string), percent-decoded.
fn form_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let hex = |byte: u8| (byte as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// S3 operations from a path-style request (`/bucket/key?query`).
fn s3_operation(method: &Method, path: &str, query: &str, headers: &HeaderMap) -> Option<String> {
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let keys = query_keys(query);
    let has = |name: &str| keys.contains(&name);
    let copy = headers.contains_key("x-amz-copy-source");
    let op = match (method.as_str(), bucket.is_empty(), key.is_empty()) {
        ("GET", true, _) => "ListBuckets",
        ("GET", false, true) if has("list-type") => "ListObjectsV2",
        ("GET", false, true) if has("versions") => "ListObjectVersions",
        ("GET", false, true) if has("uploads") => "ListMultipartUploads",
        ("GET", false, true) if has("versioning") => "GetBucketVersioning",
        ("GET", false, true) if has("object-lock") => "GetObjectLockConfiguration",
        ("GET", false, true) if has("location") => "GetBucketLocation",
        ("GET", false, true) => "ListObjects",
        ("HEAD", false, true) => "HeadBucket",
        ("PUT", false, true) if has("versioning") => "PutBucketVersioning",
        ("PUT", false, true) if has("object-lock") => "PutObjectLockConfiguration",
        ("PUT", false, true) => "CreateBucket",
        ("DELETE", false, true) => "DeleteBucket",
        ("POST", false, true) if has("delete") => "DeleteObjects",
        ("GET", false, false) if has("uploadId") => "ListParts",
        ("GET", false, false) if has("tagging") => "GetObjectTagging",
        ("GET", false, false) if has("retention") => "GetObjectRetention",
        ("GET", false, false) if has("legal-hold") => "GetObjectLegalHold",
        ("GET", false, false) => "GetObject",
        ("HEAD", false, false) => "HeadObject",
        ("PUT", false, false) if has("partNumber") && copy => "UploadPartCopy",
        ("PUT", false, false) if has("partNumber") => "UploadPart",
        ("PUT", false, false) if has("tagging") => "PutObjectTagging",
        ("PUT", false, false) if has("retention") => "PutObjectRetention",
        ("PUT", false, false) if has("legal-hold") => "PutObjectLegalHold",
        ("PUT", false, false) if copy => "CopyObject",
        ("PUT", false, false) => "PutObject",
        ("POST", false, false) if has("uploads") => "CreateMultipartUpload",
        ("POST", false, false) if has("uploadId") => "CompleteMultipartUpload",
        ("DELETE", false, false) if has("uploadId") => "AbortMultipartUpload",
        ("DELETE", false, false) => "DeleteObject",
        _ => return None,
    };
    Some(op.to_string())
}

/// Route 53 operations from the REST path (`/2013-04-01/...`).
fn route53_operation(method: &Method, path: &str) -> Option<String> {
    let rest = path.strip_prefix("/2013-04-01/")?;
    let parts: Vec<&str> = rest.split('/').filter(|part| !part.is_empty()).collect();
    let op = match (method.as_str(), parts.as_slice()) {
        ("GET", ["hostedzone"]) => "ListHostedZones",
        ("POST", ["hostedzone"]) => "CreateHostedZone",
        ("GET", ["hostedzone", _]) => "GetHostedZone",
        ("DELETE", ["hostedzone", _]) => "DeleteHostedZone",
        ("GET", ["hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("POST", ["hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("GET", ["hostedzonesbyname"]) => "ListHostedZonesByName",
        ("GET", ["change", _]) => "GetChange",
        ("GET", ["healthcheck"]) => "ListHealthChecks",
        ("POST", ["healthcheck"]) => "CreateHealthCheck",
        ("GET", ["healthcheck", _]) => "GetHealthCheck",
        ("GET", ["healthcheck", _, "status"]) => "GetHealthCheckStatus",
        _ => return None,
    };
    Some(op.to_string())
}

/// Lambda operations from the REST path (`/2015-03-31/functions/...`).
fn lambda_operation(method: &Method, path: &str) -> Option<String> {
    let rest = path.strip_prefix("/2015-03-31/")?;
    let parts: Vec<&str> = rest.split('/').filter(|part| !part.is_empty()).collect();
    let op = match (method.as_str(), parts.as_slice()) {
        ("POST", ["functions", _, "invocations"]) => "Invoke",
        ("GET", ["functions", _]) => "GetFunction",
        ("GET", ["functions"]) => "ListFunctions",
        ("POST", ["functions"]) => "CreateFunction",
        _ => return None,
    };
    Some(op.to_string())
}

// ---------------------------------------------------------------------------------------------
// Service-shaped errors.

/// One error a service answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorKind {
    /// HTTP status.
    pub status: u16,
    /// The error code the SDK reports (`ProvideErrorMetadata::code`).
    pub code: &'static str,
    /// The message.
    pub message: &'static str,
}

const fn kind(status: u16, code: &'static str, message: &'static str) -> ErrorKind {
    ErrorKind {
        status,
        code,
        message,
    }
}

const S3_KINDS: &[ErrorKind] = &[
    kind(503, "SlowDown", "Please reduce your request rate."),
    kind(
        500,
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
];
const ROUTE53_KINDS: &[ErrorKind] = &[
    kind(400, "Throttling", "Rate exceeded"),
    kind(
        400,
        "PriorRequestNotComplete",
        "The request was rejected because Route 53 was still processing a prior request.",
    ),
    kind(500, "InternalFailure", "An internal error occurred."),
];
const AWS_JSON_KINDS: &[ErrorKind] = &[
    kind(400, "ThrottlingException", "Rate exceeded"),
    kind(500, "InternalFailure", "An internal error occurred."),
    kind(
        503,
        "ServiceUnavailableException",
        "Service is unavailable.",
    ),
];
const AWS_QUERY_KINDS: &[ErrorKind] = &[
    kind(400, "Throttling", "Rate exceeded"),
    kind(500, "InternalFailure", "An internal error occurred."),
];
const REST_JSON_KINDS: &[ErrorKind] = &[
    kind(429, "TooManyRequestsException", "Rate exceeded"),
    kind(500, "ServiceException", "An internal error occurred."),
];
const GENERIC_KINDS: &[ErrorKind] = &[kind(500, "InternalFailure", "An internal error occurred.")];

/// The errors a service of this shape is answered with.
pub fn error_kinds(shape: ErrorShape) -> &'static [ErrorKind] {
    match shape {
        ErrorShape::S3 => S3_KINDS,
        ErrorShape::Route53 => ROUTE53_KINDS,
        ErrorShape::AwsJson => AWS_JSON_KINDS,
        ErrorShape::AwsQuery => AWS_QUERY_KINDS,
        ErrorShape::RestJson => REST_JSON_KINDS,
        ErrorShape::Generic => GENERIC_KINDS,
    }
}

/// A request id of AWS's shape, derived from `pick`.
fn request_id(pick: u64) -> String {
    let a = mix64(pick ^ 0x5EED);
    let b = mix64(a);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

/// The error response for a request: the kind chosen by `pick` among its shape's kinds, the body
/// the service sends (none for `HEAD`), the headers the SDK reads.
pub fn error_response(
    info: &RequestInfo,
    method: &Method,
    request_headers: &HeaderMap,
    pick: u64,
) -> (ErrorKind, Response<Full<Bytes>>) {
    let kinds = error_kinds(info.shape);
    let kind = kinds[(pick % kinds.len() as u64) as usize];
    let id = request_id(pick);
    let party = if kind.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    let (content_type, body, mut extra): (&str, String, Vec<(&str, String)>) = match info.shape {
        ErrorShape::S3 => {
            let host_id = format!("{:016x}{:016x}", mix64(pick ^ 1), mix64(pick ^ 2));
            let short_id = format!("{:016X}", mix64(pick ^ 3));
            (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message><RequestId>{short_id}</RequestId><HostId>{host_id}</HostId></Error>",
                    kind.code, kind.message
                ),
                vec![("x-amz-request-id", short_id.clone()), ("x-amz-id-2", host_id)],
            )
        }
        ErrorShape::Route53 => (
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>{party}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                kind.code, kind.message
            ),
            vec![],
        ),
        ErrorShape::AwsQuery => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{party}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                kind.code, kind.message
            ),
            vec![],
        ),
        ErrorShape::AwsJson | ErrorShape::Generic => {
            let content_type = match request_headers
                .get("content-type")
                .and_then(|value| value.to_str().ok())
            {
                Some("application/x-amz-json-1.0") => "application/x-amz-json-1.0",
                _ => "application/x-amz-json-1.1",
            };
            (
                content_type,
                serde_json::json!({ "__type": kind.code, "message": kind.message }).to_string(),
                vec![("x-amzn-ErrorType", kind.code.to_string())],
            )
        }
        ErrorShape::RestJson => (
            "application/json",
            serde_json::json!({
                "Type": if kind.status >= 500 { "Service" } else { "User" },
                "message": kind.message,
            })
            .to_string(),
            vec![("x-amzn-ErrorType", kind.code.to_string())],
        ),
    };
    if info.shape != ErrorShape::S3 {
        extra.push(("x-amzn-RequestId", id));
    }
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(kind.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
    (kind, response)
}

fn byte_list(text: &str) -> String {
    text.bytes()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// S3's 403 `SignatureDoesNotMatch`, echoing the request as S3 does: access key id, string to
/// sign, signature, and a canonical request listing every request header with its value.
pub fn echo_auth_error(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    pick: u64,
) -> Response<Full<Bytes>> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let auth = authorization(headers, query);
    let credential = auth.as_ref().map(|a| a.credential.as_str()).unwrap_or("");
    let (access_key, scope) = credential.split_once('/').unwrap_or((credential, ""));
    let mut lines: Vec<String> = headers
        .iter()
        .filter(|(name, _)| *name != "authorization")
        .map(|(name, value)| {
            format!(
                "{}:{}",
                name.as_str(),
                String::from_utf8_lossy(value.as_bytes()).trim()
            )
        })
        .collect();
    lines.sort();
    let payload_hash = header(headers, "x-amz-content-sha256")
        .unwrap_or_else(|| hex::encode(Sha256::digest(body)));
    let canonical = format!(
        "{}\n{}\n{}\n{}\n\n{}\n{}",
        method.as_str(),
        path,
        query,
        lines.join("\n"),
        auth.as_ref()
            .map(|a| a.signed_headers.as_str())
            .unwrap_or(""),
        payload_hash
    );
    let date = header(headers, "x-amz-date")
        .or_else(|| query_value(query, "X-Amz-Date"))
        .unwrap_or_default();
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let short_id = format!("{:016X}", mix64(pick ^ 3));
    let host_id = format!("{:016x}{:016x}", mix64(pick ^ 1), mix64(pick ^ 2));
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>{}</AWSAccessKeyId><StringToSign>{}</StringToSign><SignatureProvided>{}</SignatureProvided><StringToSignBytes>{}</StringToSignBytes><CanonicalRequest>{}</CanonicalRequest><CanonicalRequestBytes>{}</CanonicalRequestBytes><RequestId>{short_id}</RequestId><HostId>{host_id}</HostId></Error>",
        xml_escape(access_key),
        xml_escape(&string_to_sign),
        xml_escape(auth.as_ref().map(|a| a.signature.as_str()).unwrap_or("")),
        byte_list(&string_to_sign),
        xml_escape(&canonical),
        byte_list(&canonical),
    );
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(xml)
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::FORBIDDEN;
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/xml"));
    for (name, value) in [("x-amz-request-id", short_id), ("x-amz-id-2", host_id)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Statistics and the request log.

/// Counts since the proxy started (or since [`FaultProxy::reset_stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Every request received.
    pub requests: u64,
    /// Forwarded and answered with the upstream's response.
    pub forwarded: u64,
    /// Injected errors: service → error code → count.
    pub errors: BTreeMap<String, BTreeMap<String, u64>>,
    /// Forwarded, then the connection closed without an answer.
    pub dropped: u64,
    /// Answered by the echo rule.
    pub echoed: u64,
    /// Answered after an added delay.
    pub delayed: u64,
    /// The upstream could not be reached (answered 502).
    pub upstream_failures: u64,
}

impl FaultStats {
    /// All injected errors.
    pub fn errors_total(&self) -> u64 {
        self.errors.values().flat_map(BTreeMap::values).sum()
    }

    /// Injected errors for one service.
    pub fn errors_for(&self, service: &str) -> u64 {
        self.errors
            .get(service)
            .map_or(0, |codes| codes.values().sum())
    }

    /// One line for test output.
    pub fn summary(&self) -> String {
        let errors = self
            .errors
            .iter()
            .flat_map(|(service, codes)| {
                codes
                    .iter()
                    .map(move |(code, count)| format!("{service} {code} {count}"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "fault proxy: {} requests, {} forwarded, {} errors ({}), {} dropped after forward, {} echoed, {} delayed, {} upstream failures",
            self.requests,
            self.forwarded,
            self.errors_total(),
            if errors.is_empty() { "none" } else { &errors },
            self.dropped,
            self.echoed,
            self.delayed,
            self.upstream_failures
        )
    }
}

/// What the proxy did with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Forwarded; the upstream answered with this status.
    Forwarded {
        /// The upstream's status.
        status: u16,
    },
    /// Answered with an injected error.
    Injected {
        /// The injected status.
        status: u16,
        /// The injected error code.
        code: String,
    },
    /// Forwarded (the upstream answered with this status), then the connection closed.
    Dropped {
        /// The withheld status.
        status: u16,
    },
    /// Answered by the echo rule (403 `SignatureDoesNotMatch`).
    Echoed,
    /// The upstream could not be reached.
    UpstreamFailed {
        /// Why.
        reason: String,
    },
}

/// One request as the proxy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Arrival order since the proxy started.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path and query (shortened to 200 characters).
    pub path: String,
    /// The service's signing name.
    pub service: String,
    /// The operation, when known.
    pub operation: Option<String>,
    /// Added delay.
    pub delay: Duration,
    /// What happened.
    pub outcome: Outcome,
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {} {} {} {}",
            self.seq,
            self.method,
            self.service,
            self.operation.as_deref().unwrap_or("?"),
            self.path
        )?;
        if !self.delay.is_zero() {
            write!(f, " +{}ms", self.delay.as_millis())?;
        }
        match &self.outcome {
            Outcome::Forwarded { status } => write!(f, " -> forwarded {status}"),
            Outcome::Injected { status, code } => write!(f, " -> injected {status} {code}"),
            Outcome::Dropped { status } => write!(f, " -> dropped after forward ({status})"),
            Outcome::Echoed => write!(f, " -> echoed 403 SignatureDoesNotMatch"),
            Outcome::UpstreamFailed { reason } => write!(f, " -> upstream failed: {reason}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy.

#[derive(Default)]
struct PlanState {
    plan: Option<Arc<FaultPlan>>,
    /// Requests in scope since the plan was set (the decision counter).
    next: u64,
}

#[derive(Default)]
struct Records {
    stats: FaultStats,
    log: VecDeque<LogEntry>,
    seq: u64,
}

struct Shared {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    plan: Mutex<PlanState>,
    records: Mutex<Records>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The error a service returns to have hyper close the connection without a response.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fault proxy: connection dropped after forwarding")
    }
}

impl std::error::Error for DropConnection {}

/// A running fault-injecting proxy. Stops accepting connections when dropped.
pub struct FaultProxy {
    endpoint: String,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("endpoint", &self.endpoint)
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Headers that belong to one connection, not to the request or response.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// `headers` without hop-by-hop ones (including those named by `Connection`).
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all("connection")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name_str = name.as_str();
        if HOP_BY_HOP.contains(&name_str) || named.iter().any(|n| n == name_str) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://host:port`) on a free loopback port, passing every
    /// request through until a plan is set. Panics if no loopback port can be bound.
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|error| panic!("fault proxy: no free loopback port: {error}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("fault proxy: no local address: {error}"))
            .port();
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            plan: Mutex::new(PlanState::default()),
            records: Mutex::new(Records::default()),
        });
        let accepting = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = accepting.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |request| handle(shared.clone(), request));
                    // An error here is a dropped connection (on purpose) or a client gone away.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            shared,
            accept,
        }
    }

    /// `http://127.0.0.1:<port>`, the endpoint URL for SDK clients.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The upstream requests are forwarded to.
    pub fn upstream(&self) -> &str {
        &self.shared.upstream
    }

    /// Replaces the plan; the decision counter starts again at 0.
    pub fn set_plan(&self, plan: FaultPlan) {
        let mut state = lock(&self.shared.plan);
        state.plan = Some(Arc::new(plan));
        state.next = 0;
    }

    /// The current plan, if any.
    pub fn plan(&self) -> Option<FaultPlan> {
        lock(&self.shared.plan).plan.as_deref().cloned()
    }

    /// No more faults (echo rules included): every request is forwarded.
    pub fn disable(&self) {
        let mut state = lock(&self.shared.plan);
        state.plan = None;
        state.next = 0;
    }

    /// From now on, answers requests whose path (with query) contains `path_contains` with S3's
    /// 403 `SignatureDoesNotMatch` echoing the request (added to the current plan, or to an
    /// otherwise fault-free one).
    pub fn echo_auth_error_for(&self, path_contains: &str) {
        let mut state = lock(&self.shared.plan);
        let mut plan = state.plan.as_deref().cloned().unwrap_or_default();
        plan.echo_auth_error.push(path_contains.to_string());
        state.plan = Some(Arc::new(plan));
    }

    /// A snapshot of the counts.
    pub fn stats(&self) -> FaultStats {
        lock(&self.shared.records).stats.clone()
    }

    /// Zeroes the counts and clears the log.
    pub fn reset_stats(&self) {
        let mut records = lock(&self.shared.records);
        records.stats = FaultStats::default();
        records.log.clear();
    }

    /// One line for test output.
    pub fn summary(&self) -> String {
        self.stats().summary()
    }

    /// The last [`LOG_CAPACITY`] requests, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.shared.records).log.iter().cloned().collect()
    }

    /// The last `last` requests, one line each, for a failing test's output.
    pub fn log_text(&self, last: usize) -> String {
        let records = lock(&self.shared.records);
        let skip = records.log.len().saturating_sub(last);
        records
            .log
            .iter()
            .skip(skip)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What the plan says about one request.
enum Verdict {
    Pass,
    Echo,
    Decided(Decision),
}

fn verdict(shared: &Shared, path_and_query: &str, info: &RequestInfo) -> (Verdict, u64) {
    let mut state = lock(&shared.plan);
    let Some(plan) = state.plan.clone() else {
        return (Verdict::Pass, 0);
    };
    if plan
        .echo_auth_error
        .iter()
        .any(|needle| path_and_query.contains(needle.as_str()))
    {
        return (Verdict::Echo, state.next);
    }
    if !plan.scope.applies(&info.service, info.operation.as_deref()) {
        return (Verdict::Pass, 0);
    }
    let n = state.next;
    state.next += 1;
    (Verdict::Decided(plan.decide(n)), n)
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(DropConnection),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let info = identify(&parts.method, &path_and_query, &parts.headers, &body);
    let (verdict, n) = verdict(&shared, &path_and_query, &info);
    let seq = {
        let mut records = lock(&shared.records);
        records.stats.requests += 1;
        records.seq += 1;
        records.seq
    };
    let delay = match &verdict {
        Verdict::Decided(decision) => decision.delay,
        _ => Duration::ZERO,
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let record = |outcome: Outcome| {
        let mut records = lock(&shared.records);
        let stats = &mut records.stats;
        if !delay.is_zero() {
            stats.delayed += 1;
        }
        match &outcome {
            Outcome::Forwarded { .. } => stats.forwarded += 1,
            Outcome::Injected { code, .. } => {
                *stats
                    .errors
                    .entry(info.service.clone())
                    .or_default()
                    .entry(code.clone())
                    .or_default() += 1;
            }
            Outcome::Dropped { .. } => stats.dropped += 1,
            Outcome::Echoed => stats.echoed += 1,
            Outcome::UpstreamFailed { .. } => stats.upstream_failures += 1,
        }
        if records.log.len() >= LOG_CAPACITY {
            records.log.pop_front();
        }
        records.log.push_back(LogEntry {
            seq,
            method: parts.method.to_string(),
            path: path_and_query.chars().take(200).collect(),
            service: info.service.clone(),
            operation: info.operation.clone(),
            delay,
            outcome,
        });
    };
    let action = match verdict {
        Verdict::Pass => Action::Forward,
        Verdict::Echo => {
            let pick = mix64(seq ^ n.rotate_left(32));
            record(Outcome::Echoed);
            return Ok(echo_auth_error(
                &parts.method,
                &path_and_query,
                &parts.headers,
                &body,
                pick,
            ));
        }
        Verdict::Decided(decision) => decision.action,
    };
    if let Action::Error { pick } = action {
        let (kind, response) = error_response(&info, &parts.method, &parts.headers, pick);
        record(Outcome::Injected {
            status: kind.status,
            code: kind.code.to_string(),
        });
        return Ok(response);
    }
    match forward(&shared, &parts, &path_and_query, body).await {
        Ok(response) => {
            let status = response.status().as_u16();
            if action == Action::Drop {
                record(Outcome::Dropped { status });
                Err(DropConnection)
            } else {
                record(Outcome::Forwarded { status });
                Ok(response)
            }
        }
        Err(reason) => {
            record(Outcome::UpstreamFailed {
                reason: reason.clone(),
            });
            let mut response = Response::new(Full::new(Bytes::from(reason)));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            Ok(response)
        }
    }
}

/// Sends the request upstream with its end-to-end headers and exact body; reads the whole
/// answer.
async fn forward(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    path_and_query: &str,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, String> {
    let uri = format!("{}{path_and_query}", shared.upstream);
    let mut outgoing = Request::new(Full::new(body));
    *outgoing.method_mut() = parts.method.clone();
    *outgoing.uri_mut() = uri
        .parse()
        .map_err(|error| format!("bad uri {uri}: {error}"))?;
    let mut headers = end_to_end(&parts.headers);
    // The body is already read: nothing to wait for upstream.
    headers.remove("expect");
    *outgoing.headers_mut() = headers;
    let answer = shared
        .client
        .request(outgoing)
        .await
        .map_err(|error| format!("{error:?}"))?;
    let (answer_parts, answer_body) = answer.into_parts();
    let bytes = answer_body
        .collect()
        .await
        .map_err(|error| format!("reading the upstream's answer: {error}"))?
        .to_bytes();
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = answer_parts.status;
    let mut headers = end_to_end(&answer_parts.headers);
    if parts.method != Method::HEAD {
        // The body is complete: hyper sets its length (a 304's or 204's included).
        headers.remove("content-length");
    }
    *response.headers_mut() = headers;
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Harness helpers.

/// Calls `f(attempt)` (attempts numbered from 1) until it returns `Ok` or `max_attempts` (at
/// least 1) attempts were made, as Lambda's asynchronous invocation does for the events
/// EventBridge, EventBridge Scheduler and SNS hand it: a function error is retried with the same
/// event, so `f` must pass the same event and the same Lambda request id (`Context::request_id`)
/// on every attempt; a successful response is never redelivered. Returns the last result and
/// the number of attempts made. AWS waits minutes between attempts; the harness does not.
/// [`LAMBDA_ASYNC_ATTEMPTS`] is AWS's default.
pub async fn deliver_like_async_lambda<F, Fut, T, E>(
    max_attempts: usize,
    mut f: F,
) -> (Result<T, E>, usize)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let max_attempts = max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match f(attempt).await {
            Ok(value) => return (Ok(value), attempt),
            Err(error) if attempt >= max_attempts => return (Err(error), attempt),
            Err(_) => attempt += 1,
        }
    }
}

/// The chaos seeds: `CHAOS_SEEDS` (comma-separated seeds or inclusive ranges `a-b`), default
/// `[1, 2]`. Panics on a malformed value.
pub fn chaos_seeds() -> Vec<u64> {
    parse_seeds(std::env::var("CHAOS_SEEDS").ok().as_deref())
        .unwrap_or_else(|error| panic!("CHAOS_SEEDS: {error}"))
}

/// The chaos fault rates: `CHAOS_RATES` (comma-separated, each in `[0, 1]`), default `[0.2]`.
/// Panics on a malformed value.
pub fn chaos_rates() -> Vec<f64> {
    parse_rates(std::env::var("CHAOS_RATES").ok().as_deref())
        .unwrap_or_else(|error| panic!("CHAOS_RATES: {error}"))
}

fn items(spec: &str) -> impl Iterator<Item = &str> {
    spec.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

fn parse_seeds(spec: Option<&str>) -> Result<Vec<u64>, String> {
    let Some(spec) = spec.filter(|spec| !spec.trim().is_empty()) else {
        return Ok(vec![1, 2]);
    };
    let number = |text: &str| {
        text.trim()
            .parse::<u64>()
            .map_err(|error| format!("{text:?}: {error}"))
    };
    let mut seeds = Vec::new();
    for item in items(spec) {
        match item.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (number(from)?, number(to)?);
                if from > to || to - from >= 100_000 {
                    return Err(format!("{item:?}: not a range of at most 100000 seeds"));
                }
                seeds.extend(from..=to);
            }
            None => seeds.push(number(item)?),
        }
    }
    Ok(seeds)
}

fn parse_rates(spec: Option<&str>) -> Result<Vec<f64>, String> {
    let Some(spec) = spec.filter(|spec| !spec.trim().is_empty()) else {
        return Ok(vec![0.2]);
    };
    items(spec)
        .map(|item| match item.parse::<f64>() {
            Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
            Ok(_) => Err(format!("{item:?}: not in [0, 1]")),
            Err(error) => Err(format!("{item:?}: {error}")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn auth(service: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc123")
    }

    #[test]
    fn same_seed_same_decisions() {
        let plan = FaultPlan::errors(7, 0.3).with_drops(0.2);
        let first: Vec<Decision> = (0..500).map(|n| plan.decide(n)).collect();
        let again: Vec<Decision> = (0..500).map(|n| plan.decide(n)).collect();
        assert_eq!(first, again);
        let other = FaultPlan::errors(8, 0.3).with_drops(0.2);
        let different: Vec<Decision> = (0..500).map(|n| other.decide(n)).collect();
        assert_ne!(first, different);
    }

    #[test]
    fn rates_are_respected() {
        let plan = FaultPlan::errors(1, 0.3).with_drops(0.1);
        let decisions: Vec<Action> = (0..10_000).map(|n| plan.decide(n).action).collect();
        let errors = decisions
            .iter()
            .filter(|a| matches!(a, Action::Error { .. }))
            .count();
        let drops = decisions.iter().filter(|a| **a == Action::Drop).count();
        assert!((2_700..3_300).contains(&errors), "{errors}");
        assert!((800..1_200).contains(&drops), "{drops}");
        let all = FaultPlan::errors(1, 1.0);
        assert!((0..1000).all(|n| matches!(all.decide(n).action, Action::Error { .. })));
        let none = FaultPlan::default();
        assert!((0..1000).all(|n| none.decide(n).action == Action::Forward));
    }

    #[test]
    fn delays_stay_in_bounds() {
        let plan = FaultPlan::default().with_delay(Delay::Uniform {
            min: Duration::from_millis(5),
            max: Duration::from_millis(20),
        });
        for n in 0..1000 {
            let delay = plan.decide(n).delay;
            assert!(delay >= Duration::from_millis(5) && delay <= Duration::from_millis(20));
        }
        let fixed = FaultPlan::default().with_delay(Delay::Fixed(Duration::from_millis(3)));
        assert_eq!(fixed.decide(9).delay, Duration::from_millis(3));
    }

    #[test]
    fn scope_only_and_never() {
        let plan = FaultPlan::errors(1, 1.0)
            .only(["s3", "ecs:UpdateService"])
            .never(["s3:GetObject"]);
        assert!(plan.scope.applies("s3", Some("PutObject")));
        assert!(!plan.scope.applies("s3", Some("GetObject")));
        assert!(plan.scope.applies("ecs", Some("UpdateService")));
        assert!(!plan.scope.applies("ecs", Some("ListServices")));
        assert!(!plan.scope.applies("route53", None));
        let never = Scope {
            only: vec![],
            never: vec!["codepipeline".into()],
        };
        assert!(!never.applies("codepipeline", Some("PutJobSuccessResult")));
        assert!(never.applies("kms", Some("Decrypt")));
    }

    #[test]
    fn identifies_services_from_the_credential_scope() {
        let info = identify(
            &Method::PUT,
            "/bucket/some/key",
            &headers(&[("authorization", &auth("s3"))]),
            b"data",
        );
        assert_eq!(info.service, "s3");
        assert_eq!(info.shape, ErrorShape::S3);
        assert_eq!(info.operation.as_deref(), Some("PutObject"));

        let info = identify(
            &Method::POST,
            "/",
            &headers(&[
                ("authorization", &auth("ecs")),
                (
                    "x-amz-target",
                    "AmazonEC2ContainerServiceV20141113.UpdateService",
                ),
                ("content-type", "application/x-amz-json-1.1"),
            ]),
            b"{}",
        );
        assert_eq!(info.service, "ecs");
        assert_eq!(info.shape, ErrorShape::AwsJson);
        assert_eq!(info.operation.as_deref(), Some("UpdateService"));

        let info = identify(
            &Method::POST,
            "/",
            &headers(&[
                ("authorization", &auth("monitoring")),
                ("content-type", "application/x-www-form-urlencoded"),
            ]),
            b"Action=DescribeAlarms&Version=2010-08-01",
        );
        assert_eq!(
            (info.service.as_str(), info.shape, info.operation.as_deref()),
            ("monitoring", ErrorShape::AwsQuery, Some("DescribeAlarms"))
        );

        let info = identify(
            &Method::POST,
            "/2013-04-01/hostedzone/Z1/rrset",
            &headers(&[("authorization", &auth("route53"))]),
            b"<x/>",
        );
        assert_eq!(
            (info.service.as_str(), info.shape, info.operation.as_deref()),
            (
                "route53",
                ErrorShape::Route53,
                Some("ChangeResourceRecordSets")
            )
        );

        let info = identify(
            &Method::POST,
            "/v2/email/outbound-emails",
            &headers(&[("authorization", &auth("ses"))]),
            b"{}",
        );
        assert_eq!(
            (info.service.as_str(), info.shape, info.operation.as_deref()),
            ("ses", ErrorShape::RestJson, Some("SendEmail"))
        );

        let info = identify(
            &Method::POST,
            "/",
            &headers(&[("authorization", &auth("sns"))]),
            b"{}",
        );
        assert_eq!(info.shape, ErrorShape::Generic);
    }

    #[test]
    fn identifies_services_from_the_request_shape() {
        let info = identify(
            &Method::POST,
            "/",
            &headers(&[("x-amz-target", "secretsmanager.GetSecretValue")]),
            b"{}",
        );
        assert_eq!(
            (info.service.as_str(), info.shape),
            ("secretsmanager", ErrorShape::AwsJson)
        );
        let info = identify(
            &Method::POST,
            "/",
            &headers(&[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )]),
            b"Action=SetAlarmState&Version=2010-08-01",
        );
        assert_eq!(info.service, "monitoring");
        let info = identify(
            &Method::GET,
            "/2013-04-01/change/C1",
            &HeaderMap::new(),
            b"",
        );
        assert_eq!(
            (info.service.as_str(), info.operation.as_deref()),
            ("route53", Some("GetChange"))
        );
        let info = identify(
            &Method::GET,
            "/bucket?list-type=2&prefix=a",
            &HeaderMap::new(),
            b"",
        );
        assert_eq!(
            (info.service.as_str(), info.operation.as_deref()),
            ("s3", Some("ListObjectsV2"))
        );
        let info = identify(
            &Method::GET,
            "/bucket/key?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ff",
            &HeaderMap::new(),
            b"",
        );
        assert_eq!(info.service, "s3");
    }

    #[test]
    fn errors_are_shaped_per_service() {
        let info = RequestInfo {
            service: "s3".into(),
            operation: None,
            shape: ErrorShape::S3,
        };
        let (kind, response) = error_response(&info, &Method::GET, &HeaderMap::new(), 0);
        assert_eq!(kind.code, "SlowDown");
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("x-amz-request-id"));
        let (_, head) = error_response(&info, &Method::HEAD, &HeaderMap::new(), 1);
        assert_eq!(head.status(), 500);

        let json = RequestInfo {
            service: "ecs".into(),
            operation: None,
            shape: ErrorShape::AwsJson,
        };
        let (kind, response) = error_response(&json, &Method::POST, &HeaderMap::new(), 0);
        assert_eq!(kind.code, "ThrottlingException");
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "ThrottlingException"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/x-amz-json-1.1"
        );
        for shape in [
            ErrorShape::S3,
            ErrorShape::Route53,
            ErrorShape::AwsJson,
            ErrorShape::AwsQuery,
            ErrorShape::RestJson,
            ErrorShape::Generic,
        ] {
            assert!(!error_kinds(shape).is_empty());
        }
    }

    #[test]
    fn echo_reflects_credentials_and_headers() {
        let map = headers(&[
            ("authorization", &auth("s3")),
            ("x-amz-security-token", "TOKEN<&>"),
            ("x-amz-date", "20260101T000000Z"),
        ]);
        let response = echo_auth_error(&Method::GET, "/b/k?x=1", &map, b"", 5);
        assert_eq!(response.status(), 403);
        let body = String::from_utf8(
            futures_util::FutureExt::now_or_never(response.into_body().collect())
                .expect("ready")
                .expect("body")
                .to_bytes()
                .to_vec(),
        )
        .expect("utf8");
        assert!(body.contains("<Code>SignatureDoesNotMatch</Code>"));
        assert!(body.contains("<AWSAccessKeyId>AKIDEXAMPLE</AWSAccessKeyId>"));
        assert!(body.contains("x-amz-security-token:TOKEN&lt;&amp;&gt;"));
        assert!(body.contains("<SignatureProvided>abc123</SignatureProvided>"));
        assert!(body.contains("20260101/us-east-1/s3/aws4_request"));
    }

    #[test]
    fn hop_by_hop_headers_are_not_forwarded() {
        let map = headers(&[
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("x-amz-date", "20260101T000000Z"),
        ]);
        let kept = end_to_end(&map);
        assert_eq!(kept.len(), 1);
        assert!(kept.contains_key("x-amz-date"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb+c%"), "a/b c%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn seeds_and_rates_parse() {
        assert_eq!(parse_seeds(None), Ok(vec![1, 2]));
        assert_eq!(parse_seeds(Some("3, 9,4-6")), Ok(vec![3, 9, 4, 5, 6]));
        assert!(parse_seeds(Some("x")).is_err());
        assert!(parse_seeds(Some("5-1")).is_err());
        assert_eq!(parse_rates(None), Ok(vec![0.2]));
        assert_eq!(parse_rates(Some("0.1,0.5")), Ok(vec![0.1, 0.5]));
        assert!(parse_rates(Some("1.5")).is_err());
    }

    #[tokio::test]
    async fn async_delivery_retries_until_success() {
        let (result, attempts) =
            deliver_like_async_lambda(LAMBDA_ASYNC_ATTEMPTS, |attempt| async move {
                if attempt < 2 {
                    Err("crash")
                } else {
                    Ok(attempt)
                }
            })
            .await;
        assert_eq!((result, attempts), (Ok(2), 2));
        let (result, attempts) =
            deliver_like_async_lambda(3, |_| async { Err::<(), _>("always") }).await;
        assert_eq!((result, attempts), (Err("always"), 3));
        let (result, attempts) = deliver_like_async_lambda(0, |_| async { Ok::<_, ()>(1) }).await;
        assert_eq!((result, attempts), (Ok(1), 1));
    }
}
