//! `/v0/management` per-channel OAuth maps and the static model catalog
//! (CLIProxyAPI v6.9's handlers):
//! - `/oauth-excluded-models`, `/oauth-model-alias`,
//!   `/oauth-request-scoped-errors`: `GET` answers `{"<key>": {channel: [...]}}`
//!   (`{}` when the section is absent); `PUT` replaces the map (a JSON object
//!   of channel → list, or `{"items": {...}}`); `PATCH` sets one channel's list
//!   (`{"provider": c, "models": [...]}` for excluded models;
//!   `{"channel"|"provider": c, "aliases"|"rules": [...]}` for the others) and
//!   an empty list removes the channel (404 when it is not there); `DELETE`
//!   removes a channel named by `?provider=` (excluded models) or
//!   `?channel=`/`?provider=` (the others).
//!   Every edit rewrites that top-level section of `config.yaml`, is validated
//!   by the config loader before it is written, and is applied by the reload.
//! - `GET /model-definitions/:channel`: `{"channel": c, "models": [...]}` from
//!   the compiled-in catalog (`claude`, `gemini`, `codex`, and the Codex plan
//!   tiers `codex-free|team|plus|pro` without the models the plan lacks);
//!   an unknown channel answers 400 `{"error":"unknown channel","channel":c}`.

use super::config_file::{body_json, mutate, read_text, Method};
use super::yaml_edit::replace_section;
use super::Plane;
use super::{error, json};
use serde_json::{json, Map, Value};

/// One of the per-channel map sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MapKey {
    ExcludedModels,
    ModelAlias,
    RequestScopedErrors,
}

impl MapKey {
    pub(super) fn from_route(sub: &str) -> Option<MapKey> {
        match sub {
            "/oauth-excluded-models" => Some(MapKey::ExcludedModels),
            "/oauth-model-alias" => Some(MapKey::ModelAlias),
            "/oauth-request-scoped-errors" => Some(MapKey::RequestScopedErrors),
            _ => None,
        }
    }

    fn key(self) -> &'static str {
        match self {
            MapKey::ExcludedModels => "oauth-excluded-models",
            MapKey::ModelAlias => "oauth-model-alias",
            MapKey::RequestScopedErrors => "oauth-request-scoped-errors",
        }
    }

    /// The PATCH body field holding the channel's list.
    fn list_field(self) -> &'static str {
        match self {
            MapKey::ExcludedModels => "models",
            MapKey::ModelAlias => "aliases",
            MapKey::RequestScopedErrors => "rules",
        }
    }

    /// CLIProxyAPI calls the map key "provider" for excluded models and
    /// "channel" for the others (in its messages and DELETE parameter).
    fn noun(self) -> &'static str {
        match self {
            MapKey::ExcludedModels => "provider",
            _ => "channel",
        }
    }
}

/// The section as a JSON object (empty when absent or not a mapping).
fn current(text: &str, key: &str) -> Map<String, Value> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_default();
    match doc.get(key).map(serde_json::to_value) {
        Some(Ok(Value::Object(m))) => m,
        _ => Map::new(),
    }
}

/// Excluded-model patterns: trimmed, lower-cased, empty and repeated ones
/// dropped (CLIProxyAPI's normalisation). `None` when not a string list.
fn norm_patterns(v: &Value) -> Option<Vec<Value>> {
    let mut out: Vec<Value> = Vec::new();
    for p in v.as_array()? {
        let p = p.as_str()?.trim().to_ascii_lowercase();
        if !p.is_empty() && !out.iter().any(|o| o.as_str() == Some(p.as_str())) {
            out.push(Value::String(p));
        }
    }
    Some(out)
}

/// One channel's list from a body: a JSON array (of objects for aliases and
/// rules; their fields are checked by the config loader on commit).
fn norm_list(which: MapKey, v: &Value) -> Option<Vec<Value>> {
    match which {
        MapKey::ExcludedModels => norm_patterns(v),
        _ => {
            let a = v.as_array()?;
            a.iter().all(Value::is_object).then(|| a.clone())
        }
    }
}

/// A whole map from a PUT body; channels are trimmed and lower-cased,
/// channels with empty lists dropped.
fn norm_map(which: MapKey, body: &Value) -> Option<Map<String, Value>> {
    let obj = body.as_object()?;
    let src = match obj.get("items") {
        Some(Value::Object(items)) if obj.len() == 1 => items,
        _ => obj,
    };
    let mut out = Map::new();
    for (ch, list) in src {
        let ch = ch.trim().to_ascii_lowercase();
        let list = norm_list(which, list)?;
        if ch.is_empty() || list.is_empty() {
            continue;
        }
        out.insert(ch, Value::Array(list));
    }
    Some(out)
}

/// Writes `map` as the section (`key: {}` once its last channel is gone).
fn write_map(text: &str, key: &str, map: Map<String, Value>, out: &mut Vec<u8>) -> Option<String> {
    let rendered = serde_yaml::to_value(Value::Object(map))
        .map_err(|e| e.to_string())
        .and_then(|v| replace_section(text, key, &v));
    match rendered {
        Ok(t) => Some(t),
        Err(e) => {
            error(out, 500, &format!("failed to save config: {e}"));
            None
        }
    }
}

/// Removes `channel` from the section; answers 404 when it is not there.
fn remove_channel(which: MapKey, text: &str, channel: &str, out: &mut Vec<u8>) -> Option<String> {
    let mut map = current(text, which.key());
    let Some(found) = map
        .keys()
        .find(|k| k.trim().eq_ignore_ascii_case(channel))
        .cloned()
    else {
        error(out, 404, &format!("{} not found", which.noun()));
        return None;
    };
    map.remove(&found);
    write_map(text, which.key(), map, out)
}

/// A map route. `query` looks a query parameter up (percent-decoded).
pub(super) fn serve(
    plane: &Plane,
    which: MapKey,
    m: Method,
    body: &[u8],
    query: &dyn Fn(&str) -> Option<String>,
    out: &mut Vec<u8>,
) {
    let key = which.key();
    match m {
        Method::Get => {
            let Some(text) = read_text(plane, out) else {
                return;
            };
            let mut o = Map::new();
            o.insert(key.to_string(), Value::Object(current(&text, key)));
            json(out, 200, &Value::Object(o));
        }
        Method::Put => {
            let Some(map) = body_json(body).and_then(|b| norm_map(which, &b)) else {
                error(out, 400, "invalid body");
                return;
            };
            mutate(plane, out, |text, out| write_map(text, key, map, out));
        }
        Method::Patch => {
            let Some(b) = body_json(body).filter(Value::is_object) else {
                error(out, 400, "invalid body");
                return;
            };
            let channel = match which {
                MapKey::ExcludedModels => b.get("provider"),
                _ => b.get("channel").or_else(|| b.get("provider")),
            };
            if which == MapKey::ExcludedModels && channel.is_none() {
                error(out, 400, "invalid body");
                return;
            }
            let channel = match channel {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
                Some(_) => {
                    error(out, 400, "invalid body");
                    return;
                }
            };
            let list = match b.get(which.list_field()) {
                None | Some(Value::Null) => Some(Vec::new()),
                Some(v) => norm_list(which, v),
            };
            let Some(list) = list else {
                error(out, 400, "invalid body");
                return;
            };
            if channel.is_empty() {
                error(out, 400, &format!("invalid {}", which.noun()));
                return;
            }
            mutate(plane, out, |text, out| {
                if list.is_empty() {
                    return remove_channel(which, text, &channel, out);
                }
                let mut map = current(text, key);
                map.retain(|k, _| !k.trim().eq_ignore_ascii_case(&channel));
                map.insert(channel.clone(), Value::Array(list));
                write_map(text, key, map, out)
            });
        }
        Method::Delete => {
            let channel = match which {
                MapKey::ExcludedModels => query("provider"),
                _ => query("channel")
                    .filter(|c| !c.trim().is_empty())
                    .or_else(|| query("provider")),
            }
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
            if channel.is_empty() {
                error(out, 400, &format!("missing {}", which.noun()));
                return;
            }
            mutate(plane, out, |text, out| {
                remove_channel(which, text, &channel, out)
            });
        }
    }
}

/// The catalog's models of `channel` in CLIProxyAPI's `ModelInfo` shape, or
/// `None` for an unknown channel.
fn channel_models(channel: &str) -> Option<Vec<Value>> {
    let (list, plan) = match channel {
        "claude" | "gemini" | "codex" => (channel, None),
        "codex-free" => ("codex", Some("free")),
        "codex-team" => ("codex", Some("team")),
        "codex-plus" => ("codex", Some("plus")),
        "codex-pro" => ("codex", Some("pro")),
        "kimi" | "qwen" | "iflow" => {
            let lists: Value =
                serde_json::from_str(crate::accounts::chat_kinds::MODELS_JSON).ok()?;
            return lists.get(channel)?.as_array().cloned();
        }
        _ => return None,
    };
    let catalog: Value = serde_json::from_str(crate::models::catalog::CATALOG_JSON).ok()?;
    let hidden: &[&str] = plan.map_or(&[], crate::accounts::store::plan_exclusions);
    let models = catalog
        .get(list)?
        .as_array()?
        .iter()
        .filter(|m| {
            let id = m.get("id").and_then(Value::as_str).unwrap_or("");
            !hidden.contains(&id)
        })
        .cloned()
        .collect();
    Some(models)
}

/// `GET /model-definitions/:channel`.
pub(super) fn model_definitions(channel: &str, out: &mut Vec<u8>) {
    let channel = channel.trim().to_ascii_lowercase();
    if channel.is_empty() {
        error(out, 400, "channel is required");
        return;
    }
    match channel_models(&channel) {
        Some(models) => json(out, 200, &json!({"channel": channel, "models": models})),
        None => json(
            out,
            400,
            &json!({"error": "unknown channel", "channel": channel}),
        ),
    }
}
