//! Upstream request shapes for OAuth accounts (headers each provider's
//! client sends, envelopes), as CLIProxyAPI's executors send them.
//!
//! Reference: CLIProxyAPI v6.9.7 (2026-03-31, the last tag of March, the
//! v6.9 line of the shared v6.9 behaviours reference):
//! `internal/runtime/executor/{claude,codex,gemini_cli}_executor.go`,
//! `claude_device_profile.go`, `cloak_utils.go`, `user_id_cache.go` and
//! `internal/misc/header_utils.go`.
//!
//! - [`claude`]: Claude Code OAuth head (`anthropic-beta` with
//!   `oauth-2025-04-20`, the Claude Code fingerprint) and the cloaking body
//!   transform for non-Claude-Code clients.
//! - [`codex`]: ChatGPT (Codex) OAuth head (`Chatgpt-Account-Id`,
//!   `Originator`, `Session_id`, ...).
//! - [`antigravity`]: Antigravity (`v1internal` on its daily and
//!   production hosts): head, the agent envelope, the host fallback order.
//! - [`gemini_cli`]: Cloud Code Assist (`v1internal`) paths, head and the
//!   `{model, project, request}` envelope; answers come back wrapped in
//!   `{"response": ...}` and are unwrapped by the `GeminiCli` translator arms.
//! - [`kimi`], [`qwen`], [`iflow`]: OpenAI Chat upstreams (v6.9.25's
//!   executors): the kind's identity headers (Kimi's `X-Msh-*`, Qwen's
//!   `X-Dashscope-*`, iFlow's signed `session-id`).
//!
//! The head writers write the auth header and the kind's headers; the
//! caller writes `Content-Type` / `Accept`, then the provider's per-file
//! `headers`, which win (a name they set is skipped here).
//!
//! Differences from v6.9.7, on purpose or not yet done:
//! - Claude non-stream calls ask for `Accept-Encoding: identity` (CLIProxyAPI
//!   asks for gzip/br/zstd and decodes; this relay forwards bodies as sent).
//! - `claude-header-defaults` (config): `user-agent`, `package-version`,
//!   `runtime-version` and `timeout` replace the built-in fallbacks as in
//!   v6.9.7's legacy device mode ([`HeaderDefaults`]); `os`, `arch`,
//!   `timezone` and the device-profile stabilisation
//!   (`stabilize-device-profile`) are not acted on (reported as inactive).
//! - `codex-header-defaults.user-agent` is the OAuth Codex `User-Agent`
//!   (beating the client's); `beta-features` goes on the account's Responses
//!   WebSocket upgrades when the client sends none.
//! - Codex: no `prompt_cache_key` derivation for Chat and Claude clients
//!   (only a Responses client's own key becomes `Session_id` /
//!   `Conversation_id`).
//! - Later v6.9 tags changed the shapes (the values are `pub const`s in
//!   each module, to move them together): v6.9.8 sends Codex as
//!   `codex-tui/0.118.0 (...)` with `Originator: codex-tui`; v6.9.9 adds
//!   `X-Claude-Code-Session-Id` (stable per credential); by v6.9.49 the
//!   default beta list is longer, `interleaved-thinking` is always added,
//!   `Anthropic-Dangerous-Direct-Browser-Access` goes to API keys only,
//!   Claude gets a per-request `x-client-request-id`, and Codex sends
//!   `Session_id` only with a Mac OS `User-Agent`.

pub mod antigravity;
pub mod claude;
pub mod codex;
pub mod gemini_cli;
pub mod iflow;
pub mod kimi;
pub mod qwen;

use super::{Account, AccountKind};
use crate::providers::Call;
use crate::translate::format::Format;

impl AccountKind {
    /// The wire format an account of this kind speaks upstream.
    pub fn format(self) -> Format {
        match self {
            AccountKind::Claude => Format::Claude,
            AccountKind::Codex => Format::Codex,
            AccountKind::Gemini | AccountKind::Antigravity => Format::GeminiCli,
            AccountKind::Vertex => Format::Gemini,
            AccountKind::Kimi | AccountKind::Qwen | AccountKind::IFlow => Format::OpenAiChat,
        }
    }
}

/// What the head writers need from the client's request.
pub struct Client<'a> {
    /// The client's header `name` (case-insensitive), if sent.
    pub header: &'a dyn Fn(&str) -> Option<&'a [u8]>,
    /// Whether any header name the client sent passes the filter and then
    /// the test (one pass over its head; must agree with `header`): the
    /// cached Claude Code head asks once instead of looking each of its
    /// names up, and most names fail the filter without a call.
    pub any_name: &'a dyn Fn(&NameFilter, NameTest<'_>) -> bool,
    /// The client's body (as received).
    pub body: &'a [u8],
    /// The client's wire format.
    pub format: Format,
    /// The operator's header fallbacks (config).
    pub defaults: &'a HeaderDefaults,
}

/// A test of one header name (see [`Client::any_name`]).
pub type NameTest<'t> = &'t dyn Fn(&[u8]) -> bool;

/// A quick pre-test for a set of header names (see [`Client::any_name`]):
/// the bit sets of their lengths and of their first letters (either
/// case). A name outside either set is none of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameFilter {
    /// Bit `n`: some name is `n` bytes long.
    lens: u64,
    /// Bit [`NameFilter::first_bit`] of each name.
    firsts: u32,
}

impl NameFilter {
    /// The filter of `names`; `None` when one is 64 bytes or longer.
    pub fn of(names: &[&str]) -> Option<NameFilter> {
        let mut f = NameFilter::default();
        for n in names {
            f.lens |= 1u64.checked_shl(u32::try_from(n.len()).ok()?)?;
            f.firsts |= Self::first_bit(n.as_bytes());
        }
        Some(f)
    }
    /// Whether `name` may be one of the names (equal but for ASCII case):
    /// false means it is none of them.
    #[inline]
    pub fn may_hold(&self, name: &[u8]) -> bool {
        self.firsts & Self::first_bit(name) != 0
            && name.len() < 64
            && (self.lens >> name.len()) & 1 == 1
    }
    /// A bit for a name's first byte, the same for both cases of a letter
    /// (names equal but for ASCII case get the same bit); 0 for "".
    #[inline]
    fn first_bit(name: &[u8]) -> u32 {
        name.first().map_or(0, |b| 1 << ((b | 0x20) & 31))
    }
}

/// The operator's header fallbacks (defined with the config).
pub use crate::config::HeaderDefaults;

/// `configured` when it is set, else `builtin`.
fn or_builtin<'a>(configured: &'a str, builtin: &'a str) -> &'a [u8] {
    if configured.is_empty() {
        builtin.as_bytes()
    } else {
        configured.as_bytes()
    }
}

/// One upstream call of an account.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// Model name sent upstream.
    pub model: &'a str,
    /// Which call (picks the path).
    pub call: Call,
}

/// Appends the request path for an account (after the endpoint's base
/// path); false when the provider kind's own path applies.
pub fn write_path(account: &Account, out: &mut Vec<u8>, model: &str, call: Call) -> bool {
    match account.kind {
        AccountKind::Gemini => {
            gemini_cli::write_path(out, call);
            true
        }
        AccountKind::Vertex => {
            let location = account.vertex.as_ref().map_or("", |v| v.location.as_str());
            super::vertex::write_path(out, &account.project_id, location, model, call);
            true
        }
        AccountKind::Antigravity => {
            antigravity::write_path(out, call);
            true
        }
        AccountKind::Claude
        | AccountKind::Codex
        | AccountKind::Kimi
        | AccountKind::Qwen
        | AccountKind::IFlow => false,
    }
}

/// Writes the auth header and the account kind's headers. `skip(name)` is
/// true for a header the provider's own `headers` set (written later);
/// `None` when the provider sets none.
pub fn write_head(
    account: &Account,
    client: &Client<'_>,
    head: Head<'_>,
    skip: Option<&dyn Fn(&str) -> bool>,
    out: &mut Vec<u8>,
) {
    let token = account.token.get();
    let mut h = Headers { out, skip };
    h.bearer(token.access.expose().as_bytes());
    match account.kind {
        AccountKind::Claude => claude::write_head(client, &mut h),
        AccountKind::Codex => codex::write_head(account, client, &mut h),
        AccountKind::Gemini => gemini_cli::write_head(head, &mut h),
        // Only the Bearer token (CLIProxyAPI's Vertex executor).
        AccountKind::Vertex => {}
        AccountKind::Kimi => kimi::write_head(account, &mut h),
        AccountKind::Qwen => qwen::write_head(&mut h),
        // The iFlow cell holds the API key (see `chat_kinds`).
        AccountKind::IFlow => iflow::write_head(token.access.expose(), &mut h),
        AccountKind::Antigravity => antigravity::write_head(account, head, &mut h),
    }
}

/// Claude Code's identity headers (betas, Anthropic version, the
/// fingerprint) for a Claude API key: CLIProxyAPI's executor sends the same
/// head whatever the credential (`applyClaudeHeaders`); only the auth
/// header differs.
pub fn write_claude_identity(
    client: &Client<'_>,
    skip: Option<&dyn Fn(&str) -> bool>,
    out: &mut Vec<u8>,
) {
    claude::write_head(client, &mut Headers { out, skip });
}

/// Header output that leaves out names the provider's `headers` set.
pub(crate) struct Headers<'o> {
    out: &'o mut Vec<u8>,
    /// True for a name the provider sets; `None`: it sets none.
    skip: Option<&'o dyn Fn(&str) -> bool>,
}

impl Headers<'_> {
    /// `name: value`, unless the provider sets `name`.
    pub(crate) fn put(&mut self, name: &str, value: &[u8]) {
        if !self.skips(name) {
            crate::h1::encode::header(self.out, name, value);
        }
    }

    /// `name: <client's value>` when the client sent a non-blank one, else
    /// `name: default` (CLIProxyAPI's `misc.EnsureHeader`); nothing when
    /// both are empty.
    pub(crate) fn ensure(&mut self, client: &Client<'_>, name: &str, default: &[u8]) {
        let v = (client.header)(name).map(trim).filter(|v| !v.is_empty());
        let v = v.unwrap_or(default);
        if !v.is_empty() {
            self.put(name, v);
        }
    }

    /// Whether the provider sets `name`.
    fn skips(&self, name: &str) -> bool {
        self.skip.is_some_and(|s| s(name))
    }

    fn bearer(&mut self, token: &[u8]) {
        if !self.skips("authorization") {
            self.out.extend_from_slice(b"Authorization: Bearer ");
            self.out.extend_from_slice(token);
            self.out.extend_from_slice(b"\r\n");
        }
    }
}

/// `obj` without its top-level member `key` (every occurrence); `None`
/// when `obj` is not a JSON object.
pub(crate) fn without_member(obj: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    use crate::json::span;
    let mut out = Vec::with_capacity(obj.len());
    out.push(b'{');
    let mut first = true;
    span::visit_object(obj, 0, |k, vs| {
        let Some((v, e)) = span::value_at(obj, vs) else {
            return span::Step::Stop;
        };
        if k != key {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(k);
            out.extend_from_slice(b"\":");
            out.extend_from_slice(trim(v));
        }
        span::Step::End(e)
    })?;
    out.push(b'}');
    Some(out)
}

/// `b` without leading and trailing ASCII whitespace.
pub(crate) fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e]
}

pub(crate) use crate::random::{random_bytes, random_u64};

/// Appends `bytes` as lower-case hex.
pub(crate) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
}

/// A random (version 4) UUID, lower case.
pub(crate) fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    random_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = Vec::with_capacity(36);
    for (i, range) in [0..4, 4..6, 6..8, 8..10, 10..16].into_iter().enumerate() {
        if i > 0 {
            out.push(b'-');
        }
        push_hex(&mut out, &b[range]);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Whether `s` is a lower-case hyphenated UUID.
pub(crate) fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// Host OS and architecture in Node.js / Stainless spellings.
pub(crate) fn node_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "windows" => "win32",
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "x86" => "x86",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

#[cfg(test)]
mod chat_tests;
#[cfg(test)]
mod e2e_tests;
#[cfg(test)]
pub(crate) mod tests;
