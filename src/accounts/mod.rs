//! OAuth subscription accounts: the JSON files in `auth-dir` (Claude Code,
//! Codex, Gemini CLI, Antigravity, Kimi, Qwen and iFlow logins, Vertex AI
//! service accounts, in CLIProxyAPI's formats), their tokens and how those
//! tokens are kept fresh.
//!
//! - [`file`]: one auth file read and rewritten (unknown fields kept).
//! - [`Account`] / [`TokenCell`]: an account as the request path sees it;
//!   shared by every core, the current token behind a per-account lock.
//! - [`http`]: a small blocking HTTPS client for control-plane calls (token
//!   endpoints, onboarding), over the upstream connector (proxies, CA).
//! - [`oauth`]: each provider's token endpoint (refresh, code exchange).
//! - [`login`]: the `-login`, `-claude-login`, `-codex-login`,
//!   `-antigravity-login`, `-kimi-login`, `-qwen-login`, `-iflow-*` flows.
//! - [`vertex`]: Vertex service accounts (`-vertex-import`, JWT minting).
//! - [`wire`]: upstream request shapes for accounts (headers, envelopes).
//! - [`chat_kinds`]: what the OpenAI-Chat account kinds (Kimi, Qwen, iFlow)
//!   keep per file, their base URLs and model catalogs.

pub mod chat_kinds;
pub mod codec;
pub mod file;
pub mod http;
pub mod login;
pub mod oauth;
pub mod refresh;
pub mod store;
pub mod vertex;
pub mod wire;

use crate::secret::Secret;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The `type` of an auth file this build serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// Claude Code OAuth (`type: "claude"`).
    Claude,
    /// Codex / ChatGPT OAuth (`type: "codex"`).
    Codex,
    /// Gemini CLI OAuth (`type: "gemini"`), served through Cloud Code Assist.
    Gemini,
    /// Vertex AI service account (`type: "vertex"`): tokens minted from the
    /// key with a JWT-bearer grant ([`vertex`]).
    Vertex,
    /// Kimi Code OAuth (`type: "kimi"`, device flow); OpenAI Chat upstream.
    Kimi,
    /// Qwen Code OAuth (`type: "qwen"`, device flow); OpenAI Chat upstream.
    Qwen,
    /// iFlow (`type: "iflow"`, OAuth or cookie, requests carry its API key);
    /// OpenAI Chat upstream.
    IFlow,
    /// Antigravity OAuth (`type: "antigravity"`): Google's agent IDE client,
    /// Gemini and Claude models through its `v1internal` endpoints.
    Antigravity,
}

impl AccountKind {
    /// Every kind.
    pub const ALL: [AccountKind; 8] = [
        AccountKind::Claude,
        AccountKind::Codex,
        AccountKind::Gemini,
        AccountKind::Vertex,
        AccountKind::Kimi,
        AccountKind::Qwen,
        AccountKind::IFlow,
        AccountKind::Antigravity,
    ];

    /// The kind of an auth file's `type` value.
    pub fn from_type(t: &str) -> Option<AccountKind> {
        match t {
            "claude" => Some(AccountKind::Claude),
            "codex" => Some(AccountKind::Codex),
            "gemini" | "gemini-cli" => Some(AccountKind::Gemini),
            "vertex" => Some(AccountKind::Vertex),
            "kimi" => Some(AccountKind::Kimi),
            "qwen" => Some(AccountKind::Qwen),
            "iflow" => Some(AccountKind::IFlow),
            "antigravity" => Some(AccountKind::Antigravity),
            _ => None,
        }
    }

    /// The file's `type` value.
    pub fn as_type(self) -> &'static str {
        match self {
            AccountKind::Claude => "claude",
            AccountKind::Codex => "codex",
            AccountKind::Gemini => "gemini",
            AccountKind::Vertex => "vertex",
            AccountKind::Kimi => "kimi",
            AccountKind::Qwen => "qwen",
            AccountKind::IFlow => "iflow",
            AccountKind::Antigravity => "antigravity",
        }
    }

    /// How long before expiry a token is refreshed (CLIProxyAPI's leads:
    /// Claude 4 h, Codex 5 days, Antigravity 5 min, Kimi 5 min, Qwen 20 min,
    /// iFlow 24 h; Gemini when it expires, with a minute's margin so a
    /// request never leaves with a token about to lapse; a Vertex token,
    /// minted for an hour, 5 minutes before it ends).
    pub fn refresh_lead(self) -> Duration {
        match self {
            AccountKind::Claude => Duration::from_secs(4 * 3600),
            AccountKind::Codex => Duration::from_secs(5 * 24 * 3600),
            AccountKind::Gemini => Duration::from_secs(60),
            AccountKind::Vertex => Duration::from_secs(5 * 60),
            AccountKind::Kimi => Duration::from_secs(5 * 60),
            AccountKind::Qwen => Duration::from_secs(20 * 60),
            AccountKind::IFlow => Duration::from_secs(24 * 3600),
            AccountKind::Antigravity => Duration::from_secs(5 * 60),
        }
    }
}

/// Outbound settings of a control-plane call: the TLS roots (webpki plus
/// `--upstream-ca`) and the proxy (per-file `proxy_url`, else global).
#[derive(Clone)]
pub struct Net {
    /// Client TLS configuration.
    pub tls: Arc<rustls::ClientConfig>,
    /// Proxy to go through; `None` = direct.
    pub proxy: Option<Arc<crate::upstream::Proxy>>,
}

/// Tokens a token endpoint returned.
#[derive(Debug, Clone, Default)]
pub struct TokenSet {
    /// The new access token.
    pub access_token: Secret,
    /// A new refresh token, when the endpoint rotated it.
    pub refresh_token: Option<Secret>,
    /// A new id token (Claude/Codex), when returned.
    pub id_token: Option<Secret>,
    /// Lifetime of the access token in seconds, when returned.
    pub expires_in: Option<u64>,
    /// Other fields to store in the file (e.g. `email`, `account_id`).
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// iFlow: the API key requests carry (fetched with the new token or
    /// renewed with the cookie); stored as the file's `api_key`.
    pub api_key: Option<Secret>,
}

/// The token an account currently uses.
#[derive(Debug, Clone)]
pub struct TokenState {
    /// Access token sent upstream.
    pub access: Secret,
    /// Unix seconds it expires at (`None`: unknown).
    pub expires_at: Option<u64>,
    /// Incremented by every refresh (a request that saw a 401 on version
    /// `n` asks for a refresh only if the token is still version `n`).
    pub version: u64,
}

/// The current token of one account, shared by every core. Readers take a
/// short read lock and clone an `Arc`; only the refresh engine writes.
#[derive(Debug)]
pub struct TokenCell {
    cur: RwLock<Arc<TokenState>>,
    /// A refresh of this account is queued or running (single flight).
    pub refreshing: AtomicBool,
}

impl TokenCell {
    /// A cell holding `state`.
    pub fn new(state: TokenState) -> TokenCell {
        TokenCell {
            cur: RwLock::new(Arc::new(state)),
            refreshing: AtomicBool::new(false),
        }
    }

    /// The current token.
    pub fn get(&self) -> Arc<TokenState> {
        match self.cur.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Replaces the token (refresh engine only).
    pub fn set(&self, access: Secret, expires_at: Option<u64>) {
        let mut g = match self.cur.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let version = g.version + 1;
        *g = Arc::new(TokenState {
            access,
            expires_at,
            version,
        });
    }

    /// True while a refresh is queued or running.
    pub fn is_refreshing(&self) -> bool {
        self.refreshing.load(Ordering::Acquire)
    }
}

/// An OAuth account as the request path sees it. Built from its file by
/// the store; shared (`Arc`) by every core and kept across reloads while the
/// file's identity is unchanged, so a refreshed token reaches everyone.
#[derive(Debug)]
pub struct Account {
    /// Auth ID: the file's path relative to `auth-dir`.
    pub id: String,
    /// The file's absolute path.
    pub path: std::path::PathBuf,
    /// Its kind.
    pub kind: AccountKind,
    /// Label: the account's email (may be empty).
    pub email: String,
    /// Codex: the ChatGPT account id (`Chatgpt-Account-Id`).
    pub account_id: String,
    /// Codex: the plan from the id token (`chatgpt_plan_type`), lower case.
    pub plan: String,
    /// Gemini, Antigravity: the Cloud Code Assist project (Gemini: the first
    /// of a list; each project of a list is served as its own credential,
    /// see `state::Provider::project`). Vertex: the service account's project.
    pub project_id: String,
    /// Vertex: the service account (key, token URI, location); `None` for
    /// the other kinds.
    pub vertex: Option<Arc<vertex::ServiceAccount>>,
    /// Kimi, Qwen, iFlow: the file's kind-specific fields.
    pub chat: chat_kinds::Extra,
    /// Antigravity: the file's `user_agent` (empty: the built-in one).
    pub user_agent: String,
    /// The refresh token (empty: the account cannot be refreshed).
    pub refresh_token: RwLock<Secret>,
    /// The current access token.
    pub token: TokenCell,
    /// Claude: how requests of non-Claude-Code clients are cloaked (the
    /// file's `cloak_*` fields).
    pub cloak: wire::claude::Cloak,
    /// Unix seconds of the last successful refresh (file `last_refresh`), 0 if unknown.
    pub last_refresh: std::sync::atomic::AtomicU64,
    /// Unix seconds before which the engine does not try again (backoff).
    pub retry_at: std::sync::atomic::AtomicU64,
    /// The token endpoint refused the refresh token: no automatic retries
    /// until the file changes.
    pub refused: AtomicBool,
    /// Gemini or Antigravity without `project_id`: Unix seconds before which project
    /// discovery is not tried again.
    pub discover_at: std::sync::atomic::AtomicU64,
    /// Requests waiting for a refresh of this account to finish (woken from
    /// the refresh thread; monoio's `sync` feature makes wakers cross-thread).
    pub waiters: std::sync::Mutex<Vec<std::task::Waker>>,
}

impl Account {
    /// Whether the account can renew its credential: a refresh token, a
    /// service-account key to mint one with (Vertex), or (iFlow) a browser
    /// cookie that renews the API key.
    pub fn can_refresh(&self) -> bool {
        self.vertex.is_some() || !self.refresh_token().is_empty() || !self.chat.cookie.is_empty()
    }

    /// The current refresh token.
    pub fn refresh_token(&self) -> Secret {
        match self.refresh_token.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Wakes every request waiting on this account's refresh.
    pub fn wake_waiters(&self) {
        let list = match self.waiters.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        for w in list {
            w.wake();
        }
    }
}
