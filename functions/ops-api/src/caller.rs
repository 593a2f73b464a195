//! Who is calling: the authenticated principal, its role and how it proved who it is.

use serde::{Deserialize, Serialize};

pub use ops_domain::apikeys::Role;

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
