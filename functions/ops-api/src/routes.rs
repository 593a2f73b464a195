//! The route table: every route of the API in one list, from which the router dispatches and
//! the OpenAPI test checks the document.
//!
//! Paths are the same with or without the `/machine` prefix for every non-public route; the
//! public routes (the page, the OpenAPI document, Slack's endpoint) exist only without it.

use crate::reply::ApiError;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: no credential is read.
    Public,
    /// Any authenticated caller.
    Viewer,
    /// Authenticated callers with the operator role.
    Operator,
}

/// The operator commands on a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceCommand {
    /// Hold at the current step.
    Pause,
    /// Go on from a pause.
    Resume,
    /// End the current bake now (`full`: straight to 100 %).
    Promote,
    /// Back to the stable version.
    Abort,
    /// Put a promoted or stable service back on its previous release.
    Rollback,
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The status page.
    Page,
    /// The OpenAPI document.
    OpenApi,
    /// Slack's interactivity endpoint (reserved).
    SlackInteractions,
    /// The caller's principal, role and how it authenticated.
    Whoami,
    /// The whole suite.
    Status,
    /// Every service.
    Services,
    /// One service (`{name}`).
    Service,
    /// One service's history (`{name}`).
    ServiceHistory,
    /// Every backup plan.
    Backups,
    /// One plan's snapshots (`{plan}`).
    BackupSnapshots,
    /// The latest cost report.
    CostLatest,
    /// The DORA report (`?days=`).
    Dora,
    /// Audit records (`?since=&limit=`).
    Audit,
    /// An operator command on service `{name}`.
    Command(ServiceCommand),
    /// A restore of plan `{plan}`.
    Restore,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method.
    pub method: &'static str,
    /// The path template; `{x}` matches one non-empty segment.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does.
    pub action: Action,
}

const fn route(method: &'static str, path: &'static str, access: Access, action: Action) -> Route {
    Route {
        method,
        path,
        access,
        action,
    }
}

/// Every route.
pub const ROUTES: &[Route] = &[
    route("GET", "/", Access::Public, Action::Page),
    route("GET", "/openapi.json", Access::Public, Action::OpenApi),
    route(
        "POST",
        "/slack/interactions",
        Access::Public,
        Action::SlackInteractions,
    ),
    route("GET", "/whoami", Access::Viewer, Action::Whoami),
    route("GET", "/status", Access::Viewer, Action::Status),
    route("GET", "/services", Access::Viewer, Action::Services),
    route("GET", "/services/{name}", Access::Viewer, Action::Service),
    route(
        "GET",
        "/services/{name}/history",
        Access::Viewer,
        Action::ServiceHistory,
    ),
    route("GET", "/backups", Access::Viewer, Action::Backups),
    route(
        "GET",
        "/backups/{plan}/snapshots",
        Access::Viewer,
        Action::BackupSnapshots,
    ),
    route("GET", "/cost/latest", Access::Viewer, Action::CostLatest),
    route("GET", "/reports/dora", Access::Viewer, Action::Dora),
    route("GET", "/audit", Access::Viewer, Action::Audit),
    route(
        "POST",
        "/services/{name}/pause",
        Access::Operator,
        Action::Command(ServiceCommand::Pause),
    ),
    route(
        "POST",
        "/services/{name}/resume",
        Access::Operator,
        Action::Command(ServiceCommand::Resume),
    ),
    route(
        "POST",
        "/services/{name}/promote",
        Access::Operator,
        Action::Command(ServiceCommand::Promote),
    ),
    route(
        "POST",
        "/services/{name}/abort",
        Access::Operator,
        Action::Command(ServiceCommand::Abort),
    ),
    route(
        "POST",
        "/services/{name}/rollback",
        Access::Operator,
        Action::Command(ServiceCommand::Rollback),
    ),
    route(
        "POST",
        "/backups/{plan}/restore",
        Access::Operator,
        Action::Restore,
    ),
];

/// The prefix of the machine paths, where only API keys count.
pub const MACHINE_PREFIX: &str = "/machine";

/// `path` without the machine prefix, and whether it had it.
pub fn split_machine(path: &str) -> (bool, &str) {
    match path.strip_prefix(MACHINE_PREFIX) {
        Some("") => (true, "/"),
        Some(rest) if rest.starts_with('/') => (true, rest),
        _ => (false, path),
    }
}

/// A route matched with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The route.
    pub route: &'static Route,
    /// `(name, value)` of each `{name}` in the template.
    pub params: Vec<(&'static str, String)>,
}

impl Matched {
    /// The value of path parameter `name` (empty when the template has none: never, for the
    /// routes that ask).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(key, _)| *key == name)
            .map_or("", |(_, value)| value.as_str())
    }
}

/// The route for `method` and `path` (without the machine prefix; `machine` says whether it
/// had one): 404 naming the path when there is none, or naming the methods the path has.
pub fn find(method: &str, path: &str, machine: bool) -> Result<Matched, ApiError> {
    let shown = if machine {
        format!("{MACHINE_PREFIX}{path}")
    } else {
        path.to_owned()
    };
    let mut methods = Vec::new();
    for route in ROUTES {
        if machine && route.access == Access::Public {
            continue;
        }
        let Some(params) = match_template(route.path, path) else {
            continue;
        };
        if route.method == method {
            return Ok(Matched { route, params });
        }
        methods.push(route.method);
    }
    if methods.is_empty() {
        Err(ApiError::not_found(format!("no route {shown}")))
    } else {
        Err(ApiError::not_found(format!(
            "no route {method} {shown} (it answers {})",
            methods.join(", ")
        )))
    }
}

fn match_template(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    let mut params = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(params),
            (Some(want), Some(got)) => {
                if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if got.is_empty() {
                        return None;
                    }
                    params.push((name, got.to_owned()));
                } else if want != got {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expect<'a> = Result<(Action, &'a [(&'a str, &'a str)]), &'a str>;

    fn check(method: &str, path: &str, expect: Expect<'_>) {
        let (machine, path_only) = split_machine(path);
        let found = find(method, path_only, machine);
        match (found, expect) {
            (Ok(matched), Ok((action, params))) => {
                assert_eq!(matched.route.action, action, "{method} {path}");
                let got: Vec<(&str, &str)> = matched
                    .params
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect();
                assert_eq!(got, params, "{method} {path}");
            }
            (Err(error), Err(message)) => {
                assert_eq!(error.error, "not_found", "{method} {path}");
                assert_eq!(error.message, message, "{method} {path}");
            }
            (got, want) => panic!("{method} {path}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn routes_match_with_and_without_the_machine_prefix() {
        check("GET", "/services", Ok((Action::Services, &[])));
        check("GET", "/machine/services", Ok((Action::Services, &[])));
        check(
            "GET",
            "/services/web",
            Ok((Action::Service, &[("name", "web")])),
        );
        check(
            "GET",
            "/machine/services/web/history",
            Ok((Action::ServiceHistory, &[("name", "web")])),
        );
        check(
            "POST",
            "/services/web/promote",
            Ok((Action::Command(ServiceCommand::Promote), &[("name", "web")])),
        );
        check(
            "POST",
            "/machine/backups/daily/restore",
            Ok((Action::Restore, &[("plan", "daily")])),
        );
        check("GET", "/", Ok((Action::Page, &[])));
        check("GET", "/openapi.json", Ok((Action::OpenApi, &[])));
    }

    #[test]
    fn unknown_paths_and_methods_are_404_naming_them() {
        check("GET", "/nope", Err("no route /nope"));
        check("GET", "/services/", Err("no route /services/"));
        check(
            "GET",
            "/services//history",
            Err("no route /services//history"),
        );
        check(
            "GET",
            "/services/web/pause",
            Err("no route GET /services/web/pause (it answers POST)"),
        );
        check(
            "POST",
            "/machine/services",
            Err("no route POST /machine/services (it answers GET)"),
        );
        check("GET", "/machine", Err("no route /machine/"));
        check(
            "GET",
            "/machine/openapi.json",
            Err("no route /machine/openapi.json"),
        );
        check(
            "GET",
            "/machinery/services",
            Err("no route /machinery/services"),
        );
    }

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} twice",
                    a.method,
                    a.path
                );
            }
        }
        assert!(ROUTES
            .iter()
            .all(|r| (r.method == "POST") == (r.access == Access::Operator)
                || r.action == Action::SlackInteractions));
    }
}
