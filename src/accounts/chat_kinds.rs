//! The account kinds with an OpenAI Chat upstream: Kimi, Qwen and iFlow
//! (CLIProxyAPI v6.9.25: `internal/auth/{kimi,qwen,iflow}`,
//! `internal/runtime/executor/{kimi,qwen,iflow}_executor.go`). They reuse the
//! relay's OpenAI-compatible path (translation, streaming); what differs is
//! kept here: the fields their files carry, the base URL, the catalog.
//!
//! File fields (besides the common ones, see [`super::file`]):
//! - `kimi`: `access_token`, `refresh_token`, `expired`, `device_id`
//!   (sent as `X-Msh-Device-Id`).
//! - `qwen`: `access_token`, `refresh_token`, `expired`, `resource_url`
//!   (the API host; `https://<resource_url>/v1`, default `portal.qwen.ai`).
//! - `iflow`: `api_key` (what requests carry), `access_token`,
//!   `refresh_token`, `expired` (RFC 3339, or `YYYY-MM-DD HH:MM` for a
//!   cookie login), `cookie` (`BXAuth=...;`, renews the API key).

use super::{Account, AccountKind};
use crate::models::ModelInfo;
use crate::secret::Secret;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// Kimi's API base (OpenAI Chat path `/v1/chat/completions` below it).
pub const KIMI_BASE: &str = "https://api.kimi.com/coding/v1";
/// Qwen's API base when the file names no `resource_url`.
pub const QWEN_DEFAULT_BASE: &str = "https://portal.qwen.ai/v1";
/// iFlow's API base.
pub const IFLOW_BASE: &str = "https://apis.iflow.cn/v1";

/// Kind-specific fields of a Kimi, Qwen or iFlow file (empty for others).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra {
    /// Kimi: `device_id`.
    pub device_id: String,
    /// Qwen: `resource_url`.
    pub resource_url: String,
    /// iFlow: `cookie` (only its `BXAuth` part is kept by the cookie login).
    pub cookie: Secret,
}

fn str_of<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).map_or("", str::trim)
}

impl Extra {
    /// Reads `kind`'s fields from a file object.
    pub fn read(kind: AccountKind, obj: &Map<String, Value>) -> Extra {
        match kind {
            AccountKind::Kimi => {
                // Read here, on the control thread, so no worker ever
                // touches the file system or the host name for a head.
                let _ = super::wire::kimi::default_device_id();
                let _ = super::wire::kimi::hostname();
                Extra {
                    device_id: str_of(obj, "device_id").to_string(),
                    ..Extra::default()
                }
            }
            AccountKind::Qwen => Extra {
                resource_url: str_of(obj, "resource_url").to_string(),
                ..Extra::default()
            },
            AccountKind::IFlow => Extra {
                cookie: Secret::new(str_of(obj, "cookie")),
                ..Extra::default()
            },
            _ => Extra::default(),
        }
    }
}

/// `(access, refresh, expiry)` text of a file of one of these kinds. iFlow
/// requests carry the API key, so that is its "access" credential.
pub fn token_fields(kind: AccountKind, obj: &Map<String, Value>) -> (&str, &str, &str) {
    let access = match kind {
        AccountKind::IFlow => str_of(obj, "api_key"),
        _ => str_of(obj, "access_token"),
    };
    (access, str_of(obj, "refresh_token"), str_of(obj, "expired"))
}

/// Qwen's base URL for `resource_url`: `https://` added when it names no
/// scheme, `/v1` when it does not end so (CLIProxyAPI's
/// `normaliseQwenBaseURL`); the default host when empty.
pub fn qwen_base(resource_url: &str) -> String {
    let raw = resource_url.trim();
    if raw.is_empty() {
        return QWEN_DEFAULT_BASE.to_string();
    }
    let lower = raw.to_ascii_lowercase();
    let mut url = if lower.starts_with("http://") || lower.starts_with("https://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    while url.ends_with('/') {
        url.pop();
    }
    if !url.to_ascii_lowercase().ends_with("/v1") {
        url.push_str("/v1");
    }
    url
}

/// The upstream base URL of an account of one of these kinds; `None` for
/// other kinds.
pub fn base_url(a: &Account) -> Option<String> {
    match a.kind {
        AccountKind::Kimi => Some(KIMI_BASE.to_string()),
        AccountKind::Qwen => Some(qwen_base(&a.chat.resource_url)),
        AccountKind::IFlow => Some(IFLOW_BASE.to_string()),
        _ => None,
    }
}

/// The compiled-in model lists of these kinds (v6.9.25's `models.json`).
pub const MODELS_JSON: &str = include_str!("chat_models.json");

struct Catalogs {
    kimi: Vec<(ModelInfo, String)>,
    qwen: Vec<(ModelInfo, String)>,
    iflow: Vec<(ModelInfo, String)>,
}

fn catalogs() -> &'static Catalogs {
    static C: OnceLock<Catalogs> = OnceLock::new();
    C.get_or_init(|| {
        let mut lists = crate::models::catalog::parse_lists(MODELS_JSON).unwrap_or_default();
        let mut take = |k: &str, upstream: fn(&str) -> String| -> Vec<(ModelInfo, String)> {
            lists
                .remove(k)
                .unwrap_or_default()
                .into_iter()
                .map(|m| {
                    let up = upstream(&m.id);
                    (m, up)
                })
                .collect()
        };
        Catalogs {
            kimi: take("kimi", kimi_upstream_model),
            qwen: take("qwen", str::to_string),
            iflow: take("iflow", str::to_string),
        }
    })
}

/// `(model, upstream name)` offered by an account of `kind`; empty for
/// kinds that use the provider table's catalog.
pub fn catalog(kind: AccountKind) -> &'static [(ModelInfo, String)] {
    let c = catalogs();
    match kind {
        AccountKind::Kimi => &c.kimi,
        AccountKind::Qwen => &c.qwen,
        AccountKind::IFlow => &c.iflow,
        _ => &[],
    }
}

/// Kimi's upstream name of a catalog id: without the `kimi-` prefix the
/// catalog adds (CLIProxyAPI's `stripKimiPrefix`).
pub fn kimi_upstream_model(id: &str) -> String {
    let id = id.trim();
    match id.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("kimi-") => id[5..].to_string(),
        _ => id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qwen_base_from_resource_url() {
        assert_eq!(qwen_base(""), "https://portal.qwen.ai/v1");
        assert_eq!(qwen_base("portal.qwen.ai"), "https://portal.qwen.ai/v1");
        assert_eq!(
            qwen_base("dashscope.aliyuncs.com/compatible-mode/"),
            "https://dashscope.aliyuncs.com/compatible-mode/v1"
        );
        assert_eq!(qwen_base("http://h:8/v1/"), "http://h:8/v1");
        assert_eq!(qwen_base("HTTPS://H/V1"), "HTTPS://H/V1");
    }

    #[test]
    fn catalogs_and_upstream_names() {
        let kimi = catalog(AccountKind::Kimi);
        assert!(kimi
            .iter()
            .any(|(m, up)| m.id == "kimi-k2.5" && up == "k2.5"));
        assert!(kimi.iter().all(|(m, _)| m.model_type == "kimi"));
        assert_eq!(catalog(AccountKind::Qwen)[0].0.id, "coder-model");
        assert_eq!(catalog(AccountKind::Qwen)[0].1, "coder-model");
        let iflow = catalog(AccountKind::IFlow);
        assert!(iflow
            .iter()
            .any(|(m, up)| m.id == "glm-4.6" && up == "glm-4.6"));
        assert!(iflow.len() >= 10);
        assert!(catalog(AccountKind::Claude).is_empty());
        assert_eq!(kimi_upstream_model("Kimi-K2"), "K2");
        assert_eq!(kimi_upstream_model("k2"), "k2");
        assert_eq!(kimi_upstream_model("kimi"), "kimi");
    }

    #[test]
    fn minute_times() {
        assert_eq!(
            crate::accounts::codec::parse_minute_time("2026-01-02 03:04"),
            crate::accounts::codec::parse_rfc3339("2026-01-02T03:04:00Z")
        );
        assert_eq!(
            crate::accounts::codec::parse_minute_time("2026-01-02T03:04"),
            None
        );
        assert_eq!(crate::accounts::codec::parse_minute_time(""), None);
    }

    #[test]
    fn extras_per_kind() {
        let obj: Map<String, Value> = serde_json::from_str(
            r#"{"device_id":" d1 ","resource_url":"r.example","cookie":"BXAuth=x;"}"#,
        )
        .expect("json");
        assert_eq!(Extra::read(AccountKind::Kimi, &obj).device_id, "d1");
        assert_eq!(
            Extra::read(AccountKind::Qwen, &obj).resource_url,
            "r.example"
        );
        assert_eq!(
            Extra::read(AccountKind::IFlow, &obj).cookie.expose(),
            "BXAuth=x;"
        );
        assert_eq!(Extra::read(AccountKind::Claude, &obj), Extra::default());
    }
}
