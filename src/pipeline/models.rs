//! `GET /v1/models` format choice. The lists themselves come from the model
//! registry (`crate::models`), one registry for every format.

use crate::server::Request;

/// Anthropic clients get the Anthropic list: an `anthropic-version` header or
/// a `claude-cli` user agent selects it (as CLIProxyAPI does).
pub fn wants_anthropic(req: &Request<'_>) -> bool {
    crate::models::list::wants_anthropic_list(
        req.header("anthropic-version"),
        req.header("user-agent"),
    )
}
