//! `/v0/management/ampcode...` (CLIProxyAPI v6.9's Amp settings routes):
//! `GET /ampcode` shows the section; the scalar keys (`upstream-url`,
//! `upstream-api-key`, `restrict-management-to-localhost`,
//! `force-model-mappings`) take `{"value": v}` like every scalar route; the
//! lists (`upstream-api-keys`, `model-mappings`) are replaced by `PUT`,
//! `model-mappings` is upserted by `from` on `PATCH` and pruned by `from` on
//! `DELETE` (an empty body clears it). A list edit rewrites the `ampcode`
//! section of the file (comments inside it are not kept); the reload applies
//! it like any other config edit.

use super::config_file::{body_json, mutate, read_text, Method};
use super::yaml_edit::replace_section;
use super::{error, json, Plane};
use serde_json::{json, Map, Value};

/// The list routes below `/ampcode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum List {
    UpstreamApiKeys,
    ModelMappings,
}

impl List {
    fn key(self) -> &'static str {
        match self {
            List::UpstreamApiKeys => "upstream-api-keys",
            List::ModelMappings => "model-mappings",
        }
    }
}

/// The `ampcode` section of the file as YAML (an empty mapping when absent).
fn section(text: &str) -> serde_yaml::Mapping {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_default();
    match doc.get("ampcode") {
        Some(serde_yaml::Value::Mapping(m)) => m.clone(),
        _ => serde_yaml::Mapping::new(),
    }
}

fn to_json(v: &serde_yaml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `GET /ampcode`: the section with CLIProxyAPI's defaults filled in.
pub(super) fn get_all(plane: &Plane, out: &mut Vec<u8>) {
    let Some(text) = read_text(plane, out) else {
        return;
    };
    let m = section(&text);
    let get = |k: &str| m.get(k).map(to_json);
    let list = |k: &str| get(k).filter(Value::is_array).unwrap_or(json!([]));
    let mut o = Map::new();
    o.insert(
        "upstream-url".into(),
        get("upstream-url").unwrap_or(json!("")),
    );
    o.insert(
        "upstream-api-key".into(),
        get("upstream-api-key").unwrap_or(json!("")),
    );
    o.insert("upstream-api-keys".into(), list("upstream-api-keys"));
    o.insert(
        "restrict-management-to-localhost".into(),
        get("restrict-management-to-localhost").unwrap_or(json!(false)),
    );
    o.insert("model-mappings".into(), list("model-mappings"));
    o.insert(
        "force-model-mappings".into(),
        get("force-model-mappings").unwrap_or(json!(false)),
    );
    json(out, 200, &json!({ "ampcode": o }));
}

/// The `upstream-api-keys` entries of a body, trimmed; entries without a key
/// are dropped (CLIProxyAPI's normalisation).
fn upstream_keys(v: &Value) -> Option<Vec<Value>> {
    let mut out = Vec::new();
    for e in v.as_array()? {
        let key = e.get("upstream-api-key")?.as_str()?.trim();
        if key.is_empty() {
            continue;
        }
        let keys: Vec<Value> = e
            .get("api-keys")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(|k| json!(k))
                    .collect()
            })
            .unwrap_or_default();
        out.push(json!({"upstream-api-key": key, "api-keys": keys}));
    }
    Some(out)
}

/// Model mappings of a body: objects with string `from` and `to`.
fn mappings(v: &Value) -> Option<Vec<Value>> {
    v.as_array()?
        .iter()
        .map(|m| {
            let from = m.get("from")?.as_str()?;
            let to = m.get("to")?.as_str()?;
            let mut o = json!({"from": from, "to": to});
            if m.get("regex").and_then(Value::as_bool) == Some(true) {
                o["regex"] = json!(true);
            }
            Some(o)
        })
        .collect()
}

/// Writes `list` (JSON) as the section's `key`, or removes the key when `None`.
fn write_list(
    text: &str,
    key: &str,
    list: Option<Vec<Value>>,
    out: &mut Vec<u8>,
) -> Option<String> {
    let mut m = section(text);
    match list {
        Some(items) => {
            let v = serde_yaml::to_value(Value::Array(items)).unwrap_or_default();
            m.insert(key.into(), v);
        }
        None => {
            m.remove(key);
        }
    }
    match replace_section(text, "ampcode", &serde_yaml::Value::Mapping(m)) {
        Ok(t) => Some(t),
        Err(e) => {
            error(out, 500, &format!("failed to save config: {e}"));
            None
        }
    }
}

/// A list route.
pub(super) fn list(plane: &Plane, which: List, m: Method, body: &[u8], out: &mut Vec<u8>) {
    let key = which.key();
    if m == Method::Get {
        let Some(text) = read_text(plane, out) else {
            return;
        };
        let v = section(&text)
            .get(key)
            .map(to_json)
            .filter(Value::is_array)
            .unwrap_or(json!([]));
        let mut o = Map::new();
        o.insert(key.to_string(), v);
        json(out, 200, &Value::Object(o));
        return;
    }
    let value = body_json(body).and_then(|b| b.get("value").cloned());
    match (which, m) {
        (_, Method::Delete) if which == List::UpstreamApiKeys => {
            mutate(plane, out, |text, out| write_list(text, key, None, out));
        }
        (List::ModelMappings, Method::Delete) => {
            // `{"value": ["from", ...]}` removes those; anything else clears.
            let froms: Vec<String> = value
                .as_ref()
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            mutate(plane, out, |text, out| {
                if froms.is_empty() {
                    return write_list(text, key, None, out);
                }
                let cur = current_mappings(text);
                let kept: Vec<Value> = cur
                    .into_iter()
                    .filter(|m| !froms.iter().any(|f| Some(f.as_str()) == m["from"].as_str()))
                    .collect();
                write_list(text, key, Some(kept), out)
            });
        }
        (List::UpstreamApiKeys, _) => {
            let Some(items) = value.as_ref().and_then(upstream_keys) else {
                error(out, 400, "invalid body");
                return;
            };
            mutate(plane, out, |text, out| {
                write_list(text, key, Some(items), out)
            });
        }
        (List::ModelMappings, Method::Put) => {
            let Some(items) = value.as_ref().and_then(mappings) else {
                error(out, 400, "invalid body");
                return;
            };
            mutate(plane, out, |text, out| {
                write_list(text, key, Some(items), out)
            });
        }
        (List::ModelMappings, _) => {
            // PATCH: upsert by `from`, others kept in order.
            let Some(items) = value.as_ref().and_then(mappings) else {
                error(out, 400, "invalid body");
                return;
            };
            mutate(plane, out, |text, out| {
                let mut cur = current_mappings(text);
                for m in items {
                    match cur.iter_mut().find(|c| c["from"] == m["from"]) {
                        Some(c) => *c = m,
                        None => cur.push(m),
                    }
                }
                write_list(text, key, Some(cur), out)
            });
        }
    }
}

fn current_mappings(text: &str) -> Vec<Value> {
    section(text)
        .get("model-mappings")
        .map(to_json)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}
