//! Each provider's OAuth token endpoint: refresh and authorization-code
//! exchange. Filled in per kind (`claude`, `codex`, `gemini`).

use super::{AccountKind, Net, TokenSet};

/// Why a token call failed.
#[derive(Debug, Clone)]
pub enum OAuthError {
    /// The server refused the grant (e.g. `invalid_grant`): retrying the
    /// same refresh token will not help.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The OAuth `error` code when given (never a token).
        code: String,
    },
    /// Transport failure or an unexpected answer: try again later.
    Transient(String),
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OAuthError::Rejected { status, code } => write!(f, "refused ({status} {code})"),
            OAuthError::Transient(m) => write!(f, "{m}"),
        }
    }
}

/// Exchanges `refresh_token` for a new access token at `kind`'s token endpoint.
pub fn refresh(kind: AccountKind, net: &Net, refresh_token: &str) -> Result<TokenSet, OAuthError> {
    let _ = (kind, net, refresh_token);
    Err(OAuthError::Transient(
        "token refresh is not built yet".into(),
    ))
}
