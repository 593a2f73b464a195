//! Who is calling: the authenticated principal, its role and how it proved who it is.

use serde::{Deserialize, Serialize};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads only (every `GET`).
    Viewer,
    /// Reads and operator commands (the `POST` routes).
    Operator,
}

impl Role {
    /// The role's name in the JSON contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Claims of a token the API gateway's JWT authorizer verified.
    Jwt,
    /// An API key in `x-api-key`, on a path under `/machine`.
    ApiKey,
    /// A signed Slack interaction.
    Slack,
}

/// An authenticated caller: `principal` is what audit records name (`jwt:<sub>`,
/// `api-key:<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The identity written into audit records and operator commands.
    pub principal: String,
    /// What the caller may do.
    pub role: Role,
    /// How the caller authenticated.
    pub via: Via,
}
