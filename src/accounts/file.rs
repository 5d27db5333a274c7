//! One auth file, as CLIProxyAPI writes it: read into what the relay needs,
//! and rewritten with new tokens while every other field is kept.
//!
//! Token fields by kind:
//! - `claude`, `codex`: top-level `access_token`, `refresh_token`,
//!   `id_token`, `expired` (RFC 3339), `last_refresh`; codex `account_id`.
//! - `gemini`: `token: {access_token, refresh_token, expiry, ...}` (Go's
//!   oauth2 token), `project_id` (one id, or a comma list: one credential
//!   per project).
//! - `vertex`: no tokens; `service_account{...}` (the key), `project_id`,
//!   `location` (see [`super::vertex`]).
//! - `antigravity`: top-level `access_token`, `refresh_token`, `expires_in`
//!   (seconds), `timestamp` (Unix ms of the grant), `expired` (RFC 3339),
//!   `project_id`; optional `base_url` and `user_agent`.
//!
//! Generic keys (any kind; kebab-case spellings normalised): `disabled`,
//! `priority`, `weight`, `prefix`, `proxy_url`, `headers`, `excluded_models`,
//! `model_aliases`, `request_retry`, `disable_cooling`, `request_scoped_errors`.

pub use super::codec::{
    base64url_decode, jwt_claims, parse_minute_time, parse_rfc3339, write_atomic,
};
use super::{AccountKind, TokenSet};
use crate::config::{ScopedErrorAction, ScopedErrorRule};
use crate::secret::Secret;
use serde_json::{Map, Value};

/// An auth file's contents as the relay uses them.
#[derive(Debug, Clone)]
pub struct AuthFile {
    /// Its kind.
    pub kind: AccountKind,
    /// `email` (the label).
    pub email: String,
    /// Access token (may be empty: refreshed before first use).
    pub access_token: Secret,
    /// Refresh token (may be empty: the account cannot be refreshed).
    pub refresh_token: Secret,
    /// Unix seconds the access token expires at, when the file says.
    pub expires_at: Option<u64>,
    /// Unix seconds of `last_refresh`, when the file says.
    pub last_refresh: Option<u64>,
    /// Codex: ChatGPT account id (`account_id`, else from the id token).
    pub account_id: String,
    /// Codex: plan type from the id token, lower case.
    pub plan: String,
    /// Gemini, Antigravity: `project_id` (first of a list). Vertex: the
    /// file's `project_id`, else the service account's.
    pub project_id: String,
    /// Gemini: every project of `project_id` (comma list or array),
    /// trimmed, de-duplicated, in order (CLIProxyAPI's
    /// `splitGeminiProjectIDs`).
    pub projects: Vec<String>,
    /// Vertex: the parsed service account.
    pub vertex: Option<std::sync::Arc<super::vertex::ServiceAccount>>,
    /// Kimi, Qwen, iFlow: their own fields.
    pub chat: super::chat_kinds::Extra,
    /// Antigravity: `base_url` (replaces the built-in host fallback order).
    pub base_url: String,
    /// Antigravity: `user_agent` (replaces the built-in `User-Agent`).
    pub user_agent: String,
    /// `disabled`.
    pub disabled: bool,
    /// `priority`.
    pub priority: i32,
    /// `weight` (1 when absent or invalid).
    pub weight: u32,
    /// `prefix`.
    pub prefix: String,
    /// `proxy_url`.
    pub proxy_url: String,
    /// `headers`: extra upstream headers.
    pub headers: Vec<(String, String)>,
    /// `excluded_models`: wildcard patterns, lower case.
    pub excluded_models: Vec<String>,
    /// `model_aliases`: (upstream name, alias).
    pub model_aliases: Vec<(String, String)>,
    /// `request_retry`.
    pub request_retry: Option<u32>,
    /// `disable_cooling`.
    pub disable_cooling: Option<bool>,
    /// Codex: `websockets` — requests from WebSocket clients reach the
    /// upstream over its Responses WebSocket (`upstream::ws`).
    pub websockets: bool,
    /// `request_scoped_errors`.
    pub request_scoped_errors: Vec<ScopedErrorRule>,
    /// Claude: `cloak_mode`, `cloak_strict_mode`, `cloak_cache_user_id`,
    /// `cloak_sensitive_words`.
    pub cloak: super::wire::claude::Cloak,
}

/// Why a file was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Not JSON, or not an object.
    Corrupt(String),
    /// A `type` this build does not serve (named).
    Unsupported(String),
}

/// The generic keys in snake_case; their kebab-case spellings are read too.
const GENERIC_KEYS: [&str; 11] = [
    "disabled",
    "priority",
    "weight",
    "prefix",
    "proxy_url",
    "headers",
    "excluded_models",
    "model_aliases",
    "request_retry",
    "disable_cooling",
    "request_scoped_errors",
];

/// The value of generic key `key` (snake_case), or its kebab-case spelling.
fn generic<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    debug_assert!(GENERIC_KEYS.contains(&key));
    obj.get(key)
        .or_else(|| obj.get(&key.replace('_', "-")))
        .filter(|v| !v.is_null())
}

fn str_of<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

fn int_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn bool_of(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Parses a file's bytes.
pub fn parse(bytes: &[u8]) -> Result<AuthFile, Skip> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| Skip::Corrupt(e.to_string()))?;
    let Value::Object(obj) = v else {
        return Err(Skip::Corrupt("not a JSON object".into()));
    };
    from_object(&obj)
}

/// Reads an already-parsed file object.
pub fn from_object(obj: &Map<String, Value>) -> Result<AuthFile, Skip> {
    let t = str_of(obj, "type");
    let kind = AccountKind::from_type(t).ok_or_else(|| Skip::Unsupported(t.to_string()))?;
    let (access, refresh, expiry) = match kind {
        AccountKind::Gemini => {
            let tok = obj.get("token").and_then(Value::as_object);
            let get = |k: &str| tok.map(|t| str_of(t, k)).unwrap_or("");
            // Some writers keep the token fields at the top level too.
            let pick = |k: &str| {
                let v = get(k);
                if v.is_empty() {
                    str_of(obj, k)
                } else {
                    v
                }
            };
            (pick("access_token"), pick("refresh_token"), pick("expiry"))
        }
        AccountKind::Claude | AccountKind::Codex | AccountKind::Antigravity => (
            str_of(obj, "access_token"),
            str_of(obj, "refresh_token"),
            str_of(obj, "expired"),
        ),
        AccountKind::Kimi | AccountKind::Qwen | AccountKind::IFlow => {
            super::chat_kinds::token_fields(kind, obj)
        }
        // Minted from the key, never stored.
        AccountKind::Vertex => ("", "", ""),
    };
    let vertex = match kind {
        AccountKind::Vertex => {
            let sa = obj
                .get("service_account")
                .and_then(Value::as_object)
                .ok_or_else(|| Skip::Corrupt("vertex: no service_account object".into()))?;
            let acc = super::vertex::ServiceAccount::from_json(sa, str_of(obj, "location"))
                .map_err(|e| Skip::Corrupt(format!("vertex: {e}")))?;
            if !super::vertex::valid_location(&acc.location) {
                return Err(Skip::Corrupt(format!(
                    "vertex: location {:?} is not a region name",
                    acc.location
                )));
            }
            Some(std::sync::Arc::new(acc))
        }
        _ => None,
    };
    let mut expires_at = parse_rfc3339(expiry).or_else(|| parse_minute_time(expiry));
    if expires_at.is_none() && kind == AccountKind::Antigravity {
        // CLIProxyAPI's fallback: the grant's `timestamp` (ms) + `expires_in`.
        let ts = int_of(obj.get("timestamp")).and_then(|t| u64::try_from(t).ok());
        let ein = int_of(obj.get("expires_in")).and_then(|t| u64::try_from(t).ok());
        if let (Some(ts), Some(ein)) = (ts, ein) {
            expires_at = Some(ts / 1000 + ein);
        }
    }
    let trimmed = |k: &str| str_of(obj, k).trim().to_string();
    let claims = match kind {
        AccountKind::Codex => jwt_claims(str_of(obj, "id_token")),
        _ => None,
    };
    let auth_claim = claims
        .as_ref()
        .and_then(|c| c.get("https://api.openai.com/auth"))
        .and_then(Value::as_object);
    let mut account_id = str_of(obj, "account_id").to_string();
    if account_id.is_empty() {
        if let Some(a) = auth_claim {
            account_id = str_of(a, "chatgpt_account_id").to_string();
        }
    }
    let plan = auth_claim
        .map(|a| str_of(a, "chatgpt_plan_type").to_ascii_lowercase())
        .unwrap_or_default();
    let mut email = str_of(obj, "email").to_string();
    if email.is_empty() {
        if let Some(c) = &claims {
            email = str_of(c, "email").to_string();
        }
    }
    let mut projects: Vec<String> = Vec::new();
    let listed: Vec<&str> = match obj.get("project_id") {
        Some(Value::String(s)) => s.split(',').collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for p in listed.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        if !projects.iter().any(|q| q == p) {
            projects.push(p.to_string());
        }
    }
    if kind == AccountKind::Vertex && projects.is_empty() {
        if let Some(p) = obj
            .get("service_account")
            .and_then(|sa| sa.get("project_id"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            projects.push(p.to_string());
        }
    }
    if kind == AccountKind::Gemini && projects.len() == 1 && projects[0].eq_ignore_ascii_case("all")
    {
        // `ALL` (CLIProxyAPI's login resolves it before writing): not a
        // project; the refresh thread lists the account's projects and
        // writes them back (`refresh::discover`).
        projects.clear();
    }
    let project_id = projects.first().cloned().unwrap_or_default();
    let headers = match generic(obj, "headers") {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.trim().to_string(), v.to_string())))
            .filter(|(k, _)| !k.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    let excluded_models = match generic(obj, "excluded_models") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    let model_aliases = match generic(obj, "model_aliases") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_object)
            .map(|m| {
                (
                    str_of(m, "name").trim().to_string(),
                    str_of(m, "alias").trim().to_string(),
                )
            })
            .filter(|(n, a)| !n.is_empty() && !a.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    let request_scoped_errors = match generic(obj, "request_scoped_errors") {
        Some(Value::Array(a)) => a.iter().filter_map(scoped_rule).collect(),
        _ => Vec::new(),
    };
    Ok(AuthFile {
        kind,
        email,
        access_token: Secret::new(access),
        refresh_token: Secret::new(refresh),
        expires_at,
        last_refresh: parse_rfc3339(str_of(obj, "last_refresh")),
        account_id,
        plan,
        project_id,
        projects,
        vertex,
        chat: super::chat_kinds::Extra::read(kind, obj),
        base_url: trimmed("base_url").trim_end_matches('/').to_string(),
        user_agent: trimmed("user_agent"),
        disabled: bool_of(generic(obj, "disabled")).unwrap_or(false),
        priority: int_of(generic(obj, "priority"))
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or(0),
        weight: int_of(generic(obj, "weight"))
            .and_then(|w| u32::try_from(w).ok())
            .filter(|w| *w > 0)
            .unwrap_or(1),
        prefix: generic(obj, "prefix")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .trim_matches('/')
            .to_string(),
        proxy_url: generic(obj, "proxy_url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string(),
        headers,
        excluded_models,
        model_aliases,
        request_retry: int_of(generic(obj, "request_retry")).and_then(|r| u32::try_from(r).ok()),
        disable_cooling: bool_of(generic(obj, "disable_cooling")),
        websockets: bool_of(obj.get("websockets")).unwrap_or(false),
        request_scoped_errors,
        cloak: {
            // Strings or booleans, as CLIProxyAPI's files carry either.
            let text = |k: &str| match obj.get(k) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Bool(b)) => Some(b.to_string()),
                _ => None,
            };
            let (m, st, c, w) = (
                text("cloak_mode"),
                text("cloak_strict_mode"),
                text("cloak_cache_user_id"),
                text("cloak_sensitive_words"),
            );
            super::wire::claude::Cloak::from_fields(
                m.as_deref(),
                st.as_deref(),
                c.as_deref(),
                w.as_deref(),
            )
        },
    })
}

fn scoped_rule(v: &Value) -> Option<ScopedErrorRule> {
    let m = v.as_object()?;
    let status = u16::try_from(int_of(m.get("status"))?).ok()?;
    let list = |k: &str| -> Vec<String> {
        match m.get(k) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    let action = match str_of(m, "action").trim().to_ascii_lowercase().as_str() {
        "stop" | "" => ScopedErrorAction::Stop,
        "stop-and-cooldown" | "stop_and_cooldown" => ScopedErrorAction::StopAndCooldown,
        "continue" => ScopedErrorAction::Continue,
        "continue-and-cooldown" | "continue_and_cooldown" => ScopedErrorAction::ContinueAndCooldown,
        _ => return None,
    };
    Some(ScopedErrorRule {
        status,
        matches: list("match"),
        match_regexr: list("match-regexr"),
        action,
    })
}

/// Writes refreshed tokens into a file object in `kind`'s layout and stamps
/// `last_refresh`; every other field is left as it was.
pub fn apply_tokens(kind: AccountKind, obj: &mut Map<String, Value>, t: &TokenSet, now: u64) {
    let expiry = t
        .expires_in
        .map(|s| crate::models::list::rfc3339_utc(i64::try_from(now + s).unwrap_or(i64::MAX)));
    let now_s = crate::models::list::rfc3339_utc(i64::try_from(now).unwrap_or(0));
    let put = |m: &mut Map<String, Value>, k: &str, v: &str| {
        m.insert(k.to_string(), Value::String(v.to_string()));
    };
    match kind {
        AccountKind::Gemini => {
            let tok = obj
                .entry("token")
                .or_insert_with(|| Value::Object(Map::new()));
            if !tok.is_object() {
                *tok = Value::Object(Map::new());
            }
            if let Value::Object(tm) = tok {
                put(tm, "access_token", t.access_token.expose());
                if let Some(r) = &t.refresh_token {
                    put(tm, "refresh_token", r.expose());
                }
                if let Some(e) = &expiry {
                    put(tm, "expiry", e);
                }
                if !tm.contains_key("token_type") {
                    put(tm, "token_type", "Bearer");
                }
            }
        }
        // Vertex tokens stay in memory (the refresh engine does not call this).
        AccountKind::Vertex => {}
        AccountKind::Kimi | AccountKind::Qwen | AccountKind::IFlow => {
            // An iFlow cookie renewal has no OAuth token, only a new key.
            if !t.access_token.is_empty() {
                put(obj, "access_token", t.access_token.expose());
            }
            if let Some(r) = &t.refresh_token {
                put(obj, "refresh_token", r.expose());
            }
            if let Some(k) = &t.api_key {
                put(obj, "api_key", k.expose());
            }
            if let Some(e) = &expiry {
                put(obj, "expired", e);
            }
        }
        AccountKind::Antigravity => {
            // CLIProxyAPI's layout: the lifetime, the grant time in ms and
            // the expiry it implies.
            put(obj, "access_token", t.access_token.expose());
            if let Some(r) = &t.refresh_token {
                put(obj, "refresh_token", r.expose());
            }
            let ein = t.expires_in.unwrap_or(0);
            obj.insert("expires_in".into(), Value::from(ein));
            obj.insert("timestamp".into(), Value::from(now.saturating_mul(1000)));
            let exp = crate::models::list::rfc3339_utc(i64::try_from(now + ein).unwrap_or(0));
            put(obj, "expired", &exp);
            put(obj, "type", "antigravity");
        }
        AccountKind::Claude | AccountKind::Codex => {
            put(obj, "access_token", t.access_token.expose());
            if let Some(r) = &t.refresh_token {
                put(obj, "refresh_token", r.expose());
            }
            if let Some(i) = &t.id_token {
                put(obj, "id_token", i.expose());
            }
            if let Some(e) = &expiry {
                put(obj, "expired", e);
            }
        }
    }
    for (k, v) in &t.extra {
        obj.insert(k.clone(), v.clone());
    }
    put(obj, "last_refresh", &now_s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_the_listing_formatter() {
        for t in [0i64, 1, 1_700_000_000, 1_796_000_123] {
            let s = crate::models::list::rfc3339_utc(t);
            assert_eq!(parse_rfc3339(&s), Some(t as u64), "{s}");
        }
        assert_eq!(
            parse_rfc3339("2026-01-02T03:04:05.123456+01:00"),
            parse_rfc3339("2026-01-02T02:04:05Z")
        );
        assert_eq!(parse_rfc3339("not a time"), None);
        assert_eq!(parse_rfc3339("2026-13-02T03:04:05Z"), None);
    }

    #[test]
    fn claude_file_with_kebab_generic_keys() {
        let f = parse(
            br#"{"type":"claude","email":"a@b.c","access_token":"at","refresh_token":"rt",
                "expired":"2030-01-01T00:00:00Z","proxy-url":"direct","priority":"3",
                "disabled":false,"excluded-models":["claude-3*"],"weight":2,
                "model-aliases":[{"name":"claude-sonnet-4-5","alias":"son"}],
                "headers":{"X-A":"1"},"request-retry":2,"disable-cooling":true,
                "unknown":{"kept":true}}"#,
        )
        .expect("parses");
        assert_eq!(f.kind, AccountKind::Claude);
        assert_eq!(f.email, "a@b.c");
        assert_eq!(f.access_token.expose(), "at");
        assert_eq!(f.expires_at, parse_rfc3339("2030-01-01T00:00:00Z"));
        assert_eq!(f.proxy_url, "direct");
        assert_eq!(f.priority, 3);
        assert_eq!(f.weight, 2);
        assert_eq!(f.excluded_models, ["claude-3*"]);
        assert_eq!(
            f.model_aliases,
            [("claude-sonnet-4-5".into(), "son".into())]
        );
        assert_eq!(f.headers, [("X-A".into(), "1".into())]);
        assert_eq!(f.request_retry, Some(2));
        assert_eq!(f.disable_cooling, Some(true));
        assert!(!f.websockets, "off unless the file says so");
    }

    #[test]
    fn codex_websockets_flag() {
        for (v, want) in [("true", true), ("\"true\"", true), ("false", false)] {
            let f = parse(
                format!(r#"{{"type":"codex","access_token":"a","websockets":{v}}}"#).as_bytes(),
            )
            .expect("parses");
            assert_eq!(f.websockets, want, "{v}");
        }
    }

    #[test]
    fn gemini_token_object_and_project_list() {
        let f = parse(
            br#"{"type":"gemini","email":"g@x","project_id":["p1","p2"],
                "token":{"access_token":"ya29","refresh_token":"1//r","expiry":"2030-01-01T00:00:00Z"}}"#,
        )
        .expect("parses");
        assert_eq!(f.access_token.expose(), "ya29");
        assert_eq!(f.refresh_token.expose(), "1//r");
        assert_eq!(f.project_id, "p1");
        assert!(f.expires_at.is_some());
    }

    #[test]
    fn codex_plan_and_account_from_the_id_token() {
        // {"email":"c@d","https://api.openai.com/auth":{"chatgpt_plan_type":"Plus","chatgpt_account_id":"acc-1"}}
        let payload = r#"{"email":"c@d","https://api.openai.com/auth":{"chatgpt_plan_type":"Plus","chatgpt_account_id":"acc-1"}}"#;
        let enc = b64url(payload.as_bytes());
        let body = format!(r#"{{"type":"codex","id_token":"h.{enc}.s","access_token":"a"}}"#);
        let f = parse(body.as_bytes()).expect("parses");
        assert_eq!(f.plan, "plus");
        assert_eq!(f.account_id, "acc-1");
        assert_eq!(f.email, "c@d");
    }

    fn b64url(b: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for ch in b.chunks(3) {
            let n = ch
                .iter()
                .enumerate()
                .fold(0u32, |a, (i, &x)| a | u32::from(x) << (16 - 8 * i));
            for i in 0..=ch.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn corrupt_and_unsupported_files_are_named() {
        assert!(matches!(parse(b"{nope"), Err(Skip::Corrupt(_))));
        assert!(matches!(parse(b"[1]"), Err(Skip::Corrupt(_))));
        assert_eq!(
            parse(br#"{"type":"xai"}"#).err(),
            Some(Skip::Unsupported("xai".into()))
        );
    }

    #[test]
    fn chat_kind_files_and_their_write_back() {
        let f = parse(
            br#"{"type":"iflow","api_key":"sk-if","access_token":"oat","refresh_token":"ort",
                "expired":"2030-01-01 08:00","cookie":"BXAuth=b;","email":"n"}"#,
        )
        .expect("parses");
        assert_eq!(f.kind, AccountKind::IFlow);
        assert_eq!(
            f.access_token.expose(),
            "sk-if",
            "requests carry the API key"
        );
        assert_eq!(f.refresh_token.expose(), "ort");
        assert_eq!(f.expires_at, parse_rfc3339("2030-01-01T08:00:00Z"));
        assert_eq!(f.chat.cookie.expose(), "BXAuth=b;");
        let f = parse(br#"{"type":"kimi","access_token":"k","device_id":"dev"}"#).expect("kimi");
        assert_eq!(
            (f.access_token.expose(), f.chat.device_id.as_str()),
            ("k", "dev")
        );
        let mut obj: Map<String, Value> =
            serde_json::from_str(r#"{"type":"iflow","cookie":"BXAuth=b;","api_key":"old","x":1}"#)
                .expect("json");
        let t = TokenSet {
            api_key: Some(Secret::new("new-key")),
            expires_in: Some(60),
            ..TokenSet::default()
        };
        apply_tokens(AccountKind::IFlow, &mut obj, &t, 1_000);
        assert_eq!(obj["api_key"], "new-key");
        assert!(
            !obj.contains_key("access_token"),
            "a cookie renewal has no OAuth token"
        );
        assert_eq!(obj["x"], 1);
        assert_eq!(from_object(&obj).expect("parses").expires_at, Some(1_060));
    }

    #[test]
    fn antigravity_file_expiry_overrides_and_write_back() {
        let f = parse(
            br#"{"type":"antigravity","email":"a@x","access_token":"ya29","refresh_token":"1//r",
                "expires_in":3599,"timestamp":1700000000123,"expired":"2030-01-01T00:00:00Z",
                "project_id":"p-1","base_url":" https://example.test/ ","user_agent":"antigravity/1 x"}"#,
        )
        .expect("parses");
        assert_eq!(f.kind, AccountKind::Antigravity);
        assert_eq!(f.expires_at, parse_rfc3339("2030-01-01T00:00:00Z"));
        assert_eq!(f.project_id, "p-1");
        assert_eq!(f.base_url, "https://example.test");
        assert_eq!(f.user_agent, "antigravity/1 x");
        // Without `expired`: the grant time (ms) plus the lifetime.
        let f = parse(
            br#"{"type":"antigravity","access_token":"a","expires_in":"100","timestamp":1700000000999}"#,
        )
        .expect("parses");
        assert_eq!(f.expires_at, Some(1_700_000_000 + 100));
        let mut obj: Map<String, Value> = serde_json::from_str(
            r#"{"type":"antigravity","access_token":"old","refresh_token":"r","project_id":"p","note":1}"#,
        )
        .expect("json");
        let t = TokenSet {
            access_token: Secret::new("new"),
            expires_in: Some(3599),
            ..TokenSet::default()
        };
        apply_tokens(AccountKind::Antigravity, &mut obj, &t, 1_000);
        assert_eq!(obj["access_token"], "new");
        assert_eq!(obj["refresh_token"], "r");
        assert_eq!(obj["expires_in"], 3599);
        assert_eq!(obj["timestamp"], 1_000_000);
        assert_eq!(obj["expired"], crate::models::list::rfc3339_utc(4_599));
        assert_eq!(
            (&obj["project_id"], &obj["note"]),
            (&Value::from("p"), &Value::from(1))
        );
        assert_eq!(from_object(&obj).expect("parses").expires_at, Some(4_599));
    }

    #[test]
    fn refreshed_tokens_keep_every_other_field() {
        let mut obj: Map<String, Value> = serde_json::from_str(
            r#"{"type":"gemini","token":{"access_token":"old","refresh_token":"r","client_id":"c"},"project_id":"p","x":1}"#,
        )
        .expect("json");
        let t = TokenSet {
            access_token: Secret::new("new"),
            expires_in: Some(3600),
            ..TokenSet::default()
        };
        apply_tokens(AccountKind::Gemini, &mut obj, &t, 1_000);
        let f = from_object(&obj).expect("still parses");
        assert_eq!(f.access_token.expose(), "new");
        assert_eq!(f.refresh_token.expose(), "r");
        assert_eq!(f.expires_at, Some(4_600));
        assert_eq!(obj["token"]["client_id"], "c");
        assert_eq!(obj["x"], 1);
        assert!(obj.contains_key("last_refresh"));
    }
}
