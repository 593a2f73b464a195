//! Who the caller is. On paths under `/machine` only an API key in `x-api-key` counts, checked
//! against the hashed keys in Secrets Manager; on every other path only the claims of a token
//! the API gateway's JWT authorizer verified count. Anything else is ignored, so a key sent to a
//! JWT path or claims on a machine path never authenticate.

use std::collections::HashMap;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::caller::{Caller, Role, Via};
use crate::keys::KeyDocument;
use crate::keystore::{KeyStore, KeyStoreError};
use crate::reply::ApiError;

/// The header machines send their key in.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The role claim when `ROLE_CLAIM` is not set.
pub const DEFAULT_ROLE_CLAIM: &str = "ops_role";

/// The caller of `request`: by API key when `machine`, by gateway-verified JWT claims
/// otherwise. 401 when there is no credential or it does not check out; 502 when the keys
/// cannot be read.
pub async fn authenticate(
    request: &Request,
    machine: bool,
    keys: &KeyStore,
    role_claim: &str,
) -> Result<Caller, ApiError> {
    if machine {
        let presented = api_key(request).ok_or_else(|| {
            ApiError::unauthorized(format!(
                "no API key: paths under /machine need one in the {API_KEY_HEADER} header"
            ))
        })?;
        let document = match keys.document().await {
            Ok(document) => document,
            Err(KeyStoreError::NotConfigured) => {
                return Err(ApiError::unauthorized(
                    "API keys are not enabled on this API",
                ))
            }
            Err(error) => {
                tracing::error!(message = "Cannot read the API keys.", %error);
                return Err(ApiError::failed(
                    "cannot read the API keys; see the function's log",
                ));
            }
        };
        from_key(&document, presented).ok_or_else(|| ApiError::unauthorized("invalid API key"))
    } else {
        jwt_claims(request)
            .and_then(|claims| from_claims(claims, role_claim))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "no verified token: send a bearer token through the API gateway, or an API \
                     key to a path under /machine",
                )
            })
    }
}

/// The `x-api-key` header, when present and not blank.
pub fn api_key(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(API_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty())
}

/// The claims the API gateway's JWT authorizer verified (HTTP API, payload 2.0).
pub fn jwt_claims(request: &Request) -> Option<&HashMap<String, String>> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context
            .authorizer
            .as_ref()?
            .jwt
            .as_ref()
            .map(|jwt| &jwt.claims),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The caller of verified `claims`: principal `jwt:<sub>` (or `jwt:<email>` without a `sub`),
/// operator when `role_claim` is `operator` — or, as the gateway renders a list claim
/// (`[viewer operator]`), lists `operator` — viewer otherwise. `None` without `sub` or `email`.
pub fn from_claims(claims: &HashMap<String, String>, role_claim: &str) -> Option<Caller> {
    let subject = ["sub", "email"]
        .iter()
        .filter_map(|name| claims.get(*name))
        .map(|value| value.trim())
        .find(|value| !value.is_empty())?;
    let role = match claims.get(role_claim).map(|value| value.trim()) {
        Some("operator") => Role::Operator,
        Some(list) if list.starts_with('[') && list.ends_with(']') => {
            if list[1..list.len() - 1]
                .split([' ', ','])
                .any(|item| item.trim_matches('"') == "operator")
            {
                Role::Operator
            } else {
                Role::Viewer
            }
        }
        _ => Role::Viewer,
    };
    Some(Caller {
        principal: format!("jwt:{subject}"),
        role,
        via: Via::Jwt,
    })
}

/// The caller `presented` is the key of (`api-key:<name>`, the key's role).
pub fn from_key(document: &KeyDocument, presented: &str) -> Option<Caller> {
    document.find(presented).map(|entry| Caller {
        principal: entry.principal(),
        role: entry.role,
        via: Via::ApiKey,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{hash, KeyEntry};

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn check(pairs: &[(&str, &str)], role_claim: &str, expect: Option<(&str, Role)>) {
        let got = from_claims(&claims(pairs), role_claim);
        assert_eq!(
            got.as_ref().map(|c| (c.principal.as_str(), c.role)),
            expect,
            "{pairs:?}"
        );
        if let Some(caller) = got {
            assert_eq!(caller.via, Via::Jwt);
        }
    }

    #[test]
    fn claims_give_the_principal_and_the_role() {
        check(
            &[("sub", "u-1"), ("ops_role", "operator")],
            "ops_role",
            Some(("jwt:u-1", Role::Operator)),
        );
        check(
            &[("sub", "u-1"), ("ops_role", "viewer")],
            "ops_role",
            Some(("jwt:u-1", Role::Viewer)),
        );
        check(
            &[("sub", "u-1"), ("ops_role", "Operator")],
            "ops_role",
            Some(("jwt:u-1", Role::Viewer)),
        );
        check(
            &[("sub", "u-1"), ("ops_role", "admin")],
            "ops_role",
            Some(("jwt:u-1", Role::Viewer)),
        );
        check(
            &[("sub", "u-1")],
            "ops_role",
            Some(("jwt:u-1", Role::Viewer)),
        );
        check(
            &[("email", "a@example.com"), ("ops_role", "operator")],
            "ops_role",
            Some(("jwt:a@example.com", Role::Operator)),
        );
        check(
            &[("sub", "u-1"), ("email", "a@example.com")],
            "ops_role",
            Some(("jwt:u-1", Role::Viewer)),
        );
        check(
            &[("sub", " "), ("email", "a@example.com")],
            "ops_role",
            Some(("jwt:a@example.com", Role::Viewer)),
        );
        check(&[("ops_role", "operator")], "ops_role", None);
    }

    #[test]
    fn the_role_claim_name_is_configurable_and_may_be_a_list() {
        check(
            &[("sub", "u"), ("ops_role", "operator")],
            "cognito:groups",
            Some(("jwt:u", Role::Viewer)),
        );
        check(
            &[("sub", "u"), ("cognito:groups", "[viewer operator]")],
            "cognito:groups",
            Some(("jwt:u", Role::Operator)),
        );
        check(
            &[("sub", "u"), ("cognito:groups", "[viewer operators]")],
            "cognito:groups",
            Some(("jwt:u", Role::Viewer)),
        );
    }

    fn document() -> KeyDocument {
        let entry = |name: &str, key: &str, role| KeyEntry {
            name: name.into(),
            sha256: hash(key),
            role,
            created_at: "2026-01-01T00:00:00Z".parse().expect("time"),
        };
        KeyDocument {
            keys: vec![
                entry("ci-bot", "ops_ci", Role::Viewer),
                entry("deployer", "ops_deployer", Role::Operator),
            ],
        }
    }

    #[test]
    fn a_key_gives_its_entrys_name_and_role() {
        let document = document();
        assert_eq!(
            from_key(&document, "ops_deployer"),
            Some(Caller {
                principal: "api-key:deployer".into(),
                role: Role::Operator,
                via: Via::ApiKey
            })
        );
        assert_eq!(
            from_key(&document, "ops_ci").map(|c| (c.principal, c.role)),
            Some(("api-key:ci-bot".into(), Role::Viewer))
        );
        assert_eq!(from_key(&document, "ops_nobody"), None);
    }
}
