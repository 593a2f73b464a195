//! The OpenAPI 3.1 document of the API (`openapi.json`, written by hand), served at
//! `GET /openapi.json`. Its tests hold it to the route table: every route is documented with
//! its method, every documented operation is routed, and public routes need no credential.

use std::sync::LazyLock;

use serde_json::Value;

/// The document's text.
pub const TEXT: &str = include_str!("openapi.json");

static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(TEXT).unwrap_or(Value::Null));

/// The document (a test checks it parses).
pub fn document() -> &'static Value {
    &DOCUMENT
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::routes::{Access, ROUTES};

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn documented() -> BTreeSet<(String, String)> {
        let paths = document()["paths"].as_object().expect("paths");
        let mut found = BTreeSet::new();
        for (path, item) in paths {
            for method in METHODS {
                if item.get(method).is_some() {
                    found.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        found
    }

    #[test]
    fn the_document_is_openapi_3_1_json() {
        assert!(serde_json::from_str::<Value>(TEXT).is_ok());
        assert_eq!(document()["openapi"], "3.1.0");
        assert!(document()["info"]["title"].is_string());
    }

    #[test]
    fn every_route_is_documented_and_every_documented_operation_is_routed() {
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|route| (route.method.to_owned(), route.path.to_owned()))
            .collect();
        let documented = documented();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from openapi.json: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn public_routes_need_no_credential_and_only_they() {
        for route in ROUTES {
            let operation = &document()["paths"][route.path][route.method.to_lowercase()];
            let open = operation.get("security") == Some(&Value::Array(vec![]));
            assert_eq!(
                open,
                route.access == Access::Public,
                "{} {} security",
                route.method,
                route.path
            );
            let parameters: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|p| p["$ref"].as_str())
                        .filter_map(|r| r.strip_prefix("#/components/parameters/"))
                        .collect()
                })
                .unwrap_or_default();
            for segment in route.path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    assert!(
                        parameters.contains(name),
                        "{} {} documents no path parameter {name}",
                        route.method,
                        route.path
                    );
                }
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        out.push(target);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(list) => list.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        refs(document(), &mut found);
        assert!(!found.is_empty());
        for target in found {
            let pointer = target.strip_prefix('#').expect("local reference");
            assert!(
                document().pointer(pointer).is_some(),
                "{target} does not resolve"
            );
        }
    }
}
