//! Codex (ChatGPT) OAuth accounts: the request head CLIProxyAPI's Codex
//! executor sends (`applyCodexHeaders` after `cacheHelper`). The upstream
//! is always asked for a stream (`Kind::Codex` always streams).

use super::{Client, Headers};
use crate::accounts::Account;
use crate::translate::format::Format;

/// Codex CLI's `User-Agent` when the client sends none.
pub const USER_AGENT: &str = "codex_cli_rs/0.116.0 (Mac OS 26.0.1; arm64) Apple_Terminal/464";
/// `Originator` when the client sends none.
pub const ORIGINATOR: &str = "codex_cli_rs";

/// Codex OAuth headers (after `Authorization`).
///
/// `Session_id` is the client's, else the Responses client's
/// `prompt_cache_key` (then also sent as `Conversation_id`), else a new
/// UUID. `Version`, `X-Codex-Turn-Metadata`, `X-Client-Request-Id` are
/// passed through when the client sends them; `User-Agent` is
/// `codex-header-defaults.user-agent` when set (it beats the client's, as
/// v6.9.7's `ensureHeaderWithConfigPrecedence`), else the client's or Codex
/// CLI's; `Originator` the client's or Codex CLI's.
pub(super) fn write_head(account: &Account, client: &Client<'_>, h: &mut Headers<'_>) {
    h.ensure(client, "Version", b"");
    let cache_key = prompt_cache_key(client);
    if let Some(k) = cache_key {
        h.put("Conversation_id", k);
    }
    let generated;
    let session = match (client.header)("session_id")
        .map(super::trim)
        .filter(|v| !v.is_empty())
        .or(cache_key)
    {
        Some(s) => s,
        None => {
            generated = super::uuid_v4();
            generated.as_bytes()
        }
    };
    h.put("Session_id", session);
    h.ensure(client, "X-Codex-Turn-Metadata", b"");
    h.ensure(client, "X-Client-Request-Id", b"");
    let configured = &client.defaults.codex_user_agent;
    if configured.is_empty() {
        h.ensure(client, "User-Agent", USER_AGENT.as_bytes());
    } else {
        h.put("User-Agent", configured.as_bytes());
    }
    h.ensure(client, "Originator", ORIGINATOR.as_bytes());
    if !account.account_id.is_empty() {
        h.put("Chatgpt-Account-Id", account.account_id.as_bytes());
    }
}

/// The `prompt_cache_key` of a Responses client's body (escaped content;
/// only header-safe values).
fn prompt_cache_key<'a>(client: &Client<'a>) -> Option<&'a [u8]> {
    if client.format != Format::OpenAiResponses {
        return None;
    }
    crate::json::span::get_str(client.body, b"prompt_cache_key")
        .filter(|k| !k.is_empty() && k.iter().all(|c| c.is_ascii_graphic() && *c != b'\\'))
}
