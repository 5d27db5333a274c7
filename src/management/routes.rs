//! The config routes: `/config`, `/config.yaml`, the scalar keys, `api-keys`
//! and the provider sections. Every mutation reads `config.yaml`, edits it
//! ([`super::yaml_edit`]), validates the result with the config loader and
//! writes it atomically; the control thread reloads it. Values are read back
//! from the file, so a GET right after a PUT shows the new value.

pub use super::config_file::auth_index;
use super::config_file::{base_dir, body_json, doc_of, mutate, read_raw, read_text, Method};
use super::yaml_edit::{quote, replace_section, set_scalar};
use super::{error, json, Plane};
use crate::config::RawConfig;
use crate::server::Request;
use crate::state::Snapshot;
use serde_json::{json, Map, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Bool,
    Int,
    /// An integer; negative values are stored as this.
    IntFloor(i64),
    Str,
}

/// A scalar key route: `GET {"<name>": v}`, `PUT/PATCH {"value": v}`.
pub(super) struct Scalar {
    route: &'static str,
    /// The key in the answer (CLIProxyAPI's names).
    name: &'static str,
    path: &'static [&'static str],
    kind: Kind,
    deletable: bool,
}

const SCALARS: &[Scalar] = &[
    Scalar {
        route: "/ampcode/upstream-url",
        name: "upstream-url",
        path: &["ampcode", "upstream-url"],
        kind: Kind::Str,
        deletable: true,
    },
    Scalar {
        route: "/ampcode/upstream-api-key",
        name: "upstream-api-key",
        path: &["ampcode", "upstream-api-key"],
        kind: Kind::Str,
        deletable: true,
    },
    Scalar {
        route: "/ampcode/restrict-management-to-localhost",
        name: "restrict-management-to-localhost",
        path: &["ampcode", "restrict-management-to-localhost"],
        kind: Kind::Bool,
        deletable: false,
    },
    Scalar {
        route: "/ampcode/force-model-mappings",
        name: "force-model-mappings",
        path: &["ampcode", "force-model-mappings"],
        kind: Kind::Bool,
        deletable: false,
    },
    Scalar {
        route: "/debug",
        name: "debug",
        path: &["debug"],
        kind: Kind::Bool,
        deletable: false,
    },
    Scalar {
        route: "/logging-to-file",
        name: "logging-to-file",
        path: &["logging-to-file"],
        kind: Kind::Bool,
        deletable: false,
    },
    Scalar {
        route: "/logs-max-total-size-mb",
        name: "logs-max-total-size-mb",
        path: &["logs-max-total-size-mb"],
        kind: Kind::IntFloor(0),
        deletable: false,
    },
    Scalar {
        route: "/error-logs-max-files",
        name: "error-logs-max-files",
        path: &["error-logs-max-files"],
        kind: Kind::IntFloor(10),
        deletable: false,
    },
    Scalar {
        route: "/usage-statistics-enabled",
        name: "usage-statistics-enabled",
        path: &["usage-statistics-enabled"],
        kind: Kind::Bool,
        deletable: false,
    },
    Scalar {
        route: "/request-log",
        name: "request-log",
        path: &["request-log"],
        kind: Kind::Bool,
        deletable: false,
    },
    Scalar {
        route: "/ws-auth",
        name: "ws-auth",
        path: &["ws-auth"],
        kind: Kind::Bool,
        deletable: false,
    },
    Scalar {
        route: "/request-retry",
        name: "request-retry",
        path: &["request-retry"],
        kind: Kind::Int,
        deletable: false,
    },
    Scalar {
        route: "/max-retry-credentials",
        name: "max-retry-credentials",
        path: &["max-retry-credentials"],
        kind: Kind::Int,
        deletable: false,
    },
    Scalar {
        route: "/max-retry-interval",
        name: "max-retry-interval",
        path: &["max-retry-interval"],
        kind: Kind::Int,
        deletable: false,
    },
    Scalar {
        route: "/force-model-prefix",
        name: "force-model-prefix",
        path: &["force-model-prefix"],
        kind: Kind::Bool,
        deletable: false,
    },
    Scalar {
        route: "/proxy-url",
        name: "proxy-url",
        path: &["proxy-url"],
        kind: Kind::Str,
        deletable: true,
    },
    Scalar {
        route: "/quota-exceeded/switch-project",
        name: "switch-project",
        path: &["quota-exceeded", "switch-project"],
        kind: Kind::Bool,
        deletable: false,
    },
    Scalar {
        route: "/quota-exceeded/switch-preview-model",
        name: "switch-preview-model",
        path: &["quota-exceeded", "switch-preview-model"],
        kind: Kind::Bool,
        deletable: false,
    },
];

/// The current value of a scalar, with CLIProxyAPI's default when unset.
fn scalar_value(raw: &RawConfig, s: &Scalar) -> Value {
    match s.route {
        "/debug" => json!(raw.debug),
        "/logging-to-file" => json!(raw.logging_to_file),
        "/logs-max-total-size-mb" => json!(raw.logs_max_total_size_mb),
        "/error-logs-max-files" => json!(raw.error_logs_max_files),
        "/usage-statistics-enabled" => json!(raw.usage_statistics_enabled),
        "/request-log" => json!(raw.request_log),
        "/ws-auth" => json!(raw.ws_auth),
        "/request-retry" => json!(raw.request_retry),
        "/max-retry-credentials" => json!(raw.max_retry_credentials),
        "/max-retry-interval" => json!(raw.max_retry_interval),
        "/force-model-prefix" => json!(raw.force_model_prefix),
        "/proxy-url" => json!(raw.proxy_url.expose()),
        "/ampcode/upstream-url" => json!(raw.ampcode.upstream_url),
        "/ampcode/upstream-api-key" => json!(raw.ampcode.upstream_api_key.expose()),
        "/ampcode/restrict-management-to-localhost" => {
            json!(raw.ampcode.restrict_management_to_localhost)
        }
        "/ampcode/force-model-mappings" => json!(raw.ampcode.force_model_mappings),
        "/quota-exceeded/switch-project" => json!(raw.quota_exceeded.switch_project),
        "/quota-exceeded/switch-preview-model" => json!(raw.quota_exceeded.switch_preview_model),
        _ => Value::Null,
    }
}

/// A provider list section.
pub(super) struct Section {
    key: &'static str,
    /// `openai-compatibility` entries are matched by `name`, not `api-key`.
    compat: bool,
}

const SECTIONS: &[Section] = &[
    Section {
        key: "gemini-api-key",
        compat: false,
    },
    Section {
        key: "interactions-api-key",
        compat: false,
    },
    Section {
        key: "claude-api-key",
        compat: false,
    },
    Section {
        key: "codex-api-key",
        compat: false,
    },
    Section {
        key: "xai-api-key",
        compat: false,
    },
    Section {
        key: "vertex-api-key",
        compat: false,
    },
    Section {
        key: "openai-compatibility",
        compat: true,
    },
];

pub(super) enum Route {
    AuthFiles(super::auth_files::Op),
    Usage,
    UsageQueue,
    ApiKeyUsage,
    LatestVersion,
    UsageExport,
    UsageImport,
    Config,
    ConfigYaml(Method),
    Scalar(&'static Scalar, Method),
    Strategy(Method),
    ApiKeys(Method),
    Section(&'static Section, Method),
    AmpCode,
    AmpList(super::ampcode::List, Method),
    OAuthMap(super::oauth_maps::MapKey, Method),
    ModelDefinitions(String),
    VertexImport,
    Logs(Method),
    ErrorLogs,
    ErrorLog(String),
    LogById(String),
}

/// The route for `method` and the path below the prefix, if one is registered.
pub(super) fn find(method: &[u8], sub: &[u8]) -> Option<Route> {
    if let Some(op) = super::auth_files::find(method, sub) {
        return Some(Route::AuthFiles(op));
    }
    if method == b"POST" && sub == b"/usage/import" {
        return Some(Route::UsageImport);
    }
    if method == b"POST" && sub == b"/vertex/import" {
        return Some(Route::VertexImport);
    }
    let m = match method {
        b"GET" => Method::Get,
        b"PUT" => Method::Put,
        b"PATCH" => Method::Patch,
        b"DELETE" => Method::Delete,
        _ => return None,
    };
    let sub = std::str::from_utf8(sub).ok()?;
    let route = match sub {
        "/usage" if m == Method::Get => Route::Usage,
        "/usage/export" if m == Method::Get => Route::UsageExport,
        "/usage-queue" if m == Method::Get => Route::UsageQueue,
        "/api-key-usage" if m == Method::Get => Route::ApiKeyUsage,
        "/latest-version" if m == Method::Get => Route::LatestVersion,
        "/config" if m == Method::Get => Route::Config,
        "/config.yaml" if matches!(m, Method::Get | Method::Put) => Route::ConfigYaml(m),
        "/routing/strategy" if m != Method::Delete => Route::Strategy(m),
        "/api-keys" => Route::ApiKeys(m),
        "/ampcode" if m == Method::Get => Route::AmpCode,
        "/logs" if matches!(m, Method::Get | Method::Delete) => Route::Logs(m),
        "/request-error-logs" if m == Method::Get => Route::ErrorLogs,
        _ if sub.starts_with("/request-error-logs/") && m == Method::Get => {
            Route::ErrorLog(sub["/request-error-logs/".len()..].to_string())
        }
        _ if sub.starts_with("/request-log-by-id/") && m == Method::Get => {
            Route::LogById(sub["/request-log-by-id/".len()..].to_string())
        }
        "/ampcode/upstream-api-keys" => Route::AmpList(super::ampcode::List::UpstreamApiKeys, m),
        "/ampcode/model-mappings" => Route::AmpList(super::ampcode::List::ModelMappings, m),
        _ if sub.starts_with("/model-definitions/") && m == Method::Get => {
            Route::ModelDefinitions(sub["/model-definitions/".len()..].to_string())
        }
        _ => {
            if let Some(k) = super::oauth_maps::MapKey::from_route(sub) {
                return Some(Route::OAuthMap(k, m));
            }
            if let Some(s) = SCALARS.iter().find(|s| s.route == sub) {
                if m == Method::Delete && !s.deletable {
                    return None;
                }
                Route::Scalar(s, m)
            } else {
                let s = SECTIONS
                    .iter()
                    .find(|s| sub.strip_prefix('/') == Some(s.key))?;
                Route::Section(s, m)
            }
        }
    };
    Some(route)
}

/// Serves an authenticated request.
pub(super) fn serve(
    plane: &Plane,
    snap: &Snapshot,
    route: Route,
    req: &Request<'_>,
    out: &mut Vec<u8>,
) {
    match route {
        Route::AuthFiles(op) => super::auth_files::serve(op, snap, req, out),
        Route::Usage => json(out, 200, &super::usage::snapshot_json()),
        Route::UsageExport => json(out, 200, &super::usage::export_json()),
        Route::UsageQueue => {
            match super::usage::parse_queue_count(query(req, "count").as_deref()) {
                Ok(n) => json(out, 200, &super::usage::pop_queue(n)),
                Err(e) => error(out, 400, e),
            }
        }
        Route::ApiKeyUsage => json(out, 200, &super::usage::api_key_usage_json(snap)),
        // Served by `super::handle` (it waits for GitHub off the worker).
        Route::LatestVersion => error(out, 500, "handler unavailable"),
        Route::UsageImport => match super::usage::import(req.body()) {
            Ok((added, skipped)) => json(out, 200, &json!({"added": added, "skipped": skipped})),
            Err(e) => error(out, 400, &format!("invalid usage data: {e}")),
        },
        Route::Config => get_config(plane, out),
        Route::ConfigYaml(Method::Get) => match std::fs::read(&plane.config_path) {
            Ok(bytes) => {
                super::answer_with(
                    out,
                    200,
                    b"application/yaml; charset=utf-8",
                    &[
                        ("Cache-Control", b"no-store"),
                        ("X-Content-Type-Options", b"nosniff"),
                    ],
                    &bytes,
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => json(
                out,
                404,
                &json!({"error": "not_found", "message": "config file not found"}),
            ),
            Err(e) => json(
                out,
                500,
                &json!({"error": "read_failed", "message": e.to_string()}),
            ),
        },
        Route::ConfigYaml(_) => put_config_yaml(plane, req.body(), out),
        Route::Scalar(s, m) => scalar(plane, s, m, req.body(), out),
        Route::Strategy(m) => strategy(plane, m, req.body(), out),
        Route::ApiKeys(m) => api_keys(plane, m, req, out),
        Route::Section(s, m) => section(plane, s, m, req, out),
        Route::AmpCode => super::ampcode::get_all(plane, out),
        Route::AmpList(l, m) => super::ampcode::list(plane, l, m, req.body(), out),
        Route::OAuthMap(k, m) => {
            super::oauth_maps::serve(plane, k, m, req.body(), &|n| query(req, n), out)
        }
        Route::Logs(Method::Delete) => super::logs::delete_logs(&snap.config, out),
        Route::Logs(_) => super::logs::get_logs(&snap.config, req.query(), out),
        Route::ErrorLogs => super::logs::list_error_logs(&snap.config, out),
        Route::ErrorLog(name) => super::logs::get_error_log(&snap.config, &name, out),
        Route::LogById(id) => super::logs::get_by_id(&snap.config, &id, out),
        Route::ModelDefinitions(channel) => {
            let mut buf = Vec::new();
            crate::h1::query::percent_decode(channel.as_bytes(), &mut buf);
            super::oauth_maps::model_definitions(&String::from_utf8_lossy(&buf), out)
        }
        Route::VertexImport => super::vertex_import::serve(snap, req, out),
    }
}

// ------------------------------------------------------------ /config

fn get_config(plane: &Plane, out: &mut Vec<u8>) {
    let Some((text, raw)) = read_raw(plane, out) else {
        return;
    };
    let mut obj = match crate::yaml::yaml_to_json(&doc_of(&text), "") {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    // The management key (a hash) is never handed out.
    if let Some(Value::Object(rm)) = obj.get_mut("remote-management") {
        rm.remove("secret-key");
    }
    for s in SCALARS.iter().filter(|s| s.path.len() == 1) {
        obj.entry(s.name.to_string())
            .or_insert_with(|| scalar_value(&raw, s));
    }
    obj.entry("routing".to_string())
        .or_insert_with(|| json!({"strategy": "round-robin"}));
    obj.entry("api-keys".to_string())
        .or_insert_with(|| json!([]));
    json(out, 200, &Value::Object(obj));
}

fn put_config_yaml(plane: &Plane, body: &[u8], out: &mut Vec<u8>) {
    let Ok(text) = std::str::from_utf8(body) else {
        json(
            out,
            400,
            &json!({"error": "invalid_yaml", "message": "the body is not UTF-8"}),
        );
        return;
    };
    if let Err(e) = crate::config::parse_raw(text) {
        json(
            out,
            400,
            &json!({"error": "invalid_yaml", "message": e.to_string()}),
        );
        return;
    }
    if let Err(e) = crate::config::parse_str(text, base_dir(&plane.config_path)) {
        json(
            out,
            422,
            &json!({"error": "invalid_config", "message": e.to_string()}),
        );
        return;
    }
    let _guard = plane.write_lock.lock().unwrap_or_else(|p| p.into_inner());
    if crate::accounts::file::write_atomic(&plane.config_path, body).is_err() {
        json(
            out,
            500,
            &json!({"error": "write_failed", "message": "failed to write config"}),
        );
        return;
    }
    // A plaintext secret-key in the new file is hashed now, not at the next reload.
    if let Err(e) = super::secure_secret_key(&plane.config_path) {
        json(out, 500, &json!({"error": "write_failed", "message": e}));
        return;
    }
    json(out, 200, &json!({"ok": true, "changed": ["config"]}));
}

// ------------------------------------------------------------ scalars

fn scalar(plane: &Plane, s: &Scalar, m: Method, body: &[u8], out: &mut Vec<u8>) {
    match m {
        Method::Get => {
            let Some((_, raw)) = read_raw(plane, out) else {
                return;
            };
            let mut o = Map::new();
            o.insert(s.name.to_string(), scalar_value(&raw, s));
            json(out, 200, &Value::Object(o));
        }
        Method::Delete => mutate(plane, out, |text, out| {
            edit_scalar(text, s.path, "\"\"", out)
        }),
        Method::Put | Method::Patch => {
            let v = body_json(body).and_then(|b| b.get("value").cloned());
            let yaml = match (s.kind, v) {
                (Kind::Bool, Some(Value::Bool(b))) => b.to_string(),
                (Kind::Int, Some(Value::Number(n))) if n.is_i64() => n.to_string(),
                (Kind::IntFloor(floor), Some(Value::Number(n))) if n.is_i64() => {
                    let v = n.as_i64().unwrap_or(floor);
                    (if v < 0 { floor } else { v }).to_string()
                }
                (Kind::Str, Some(Value::String(t))) => quote(&t),
                _ => {
                    error(out, 400, "invalid body");
                    return;
                }
            };
            mutate(plane, out, |text, out| {
                edit_scalar(text, s.path, &yaml, out)
            });
        }
    }
}

fn edit_scalar(text: &str, path: &[&str], yaml: &str, out: &mut Vec<u8>) -> Option<String> {
    match set_scalar(text, path, yaml) {
        Ok(t) => Some(t),
        Err(e) => {
            error(out, 500, &format!("failed to save config: {e}"));
            None
        }
    }
}

/// CLIProxyAPI's accepted strategy names, normalised.
fn normalize_strategy(s: &str) -> Option<&'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "round-robin" | "roundrobin" | "rr" => Some("round-robin"),
        "fill-first" | "fillfirst" | "ff" => Some("fill-first"),
        _ => None,
    }
}

fn strategy(plane: &Plane, m: Method, body: &[u8], out: &mut Vec<u8>) {
    if m == Method::Get {
        let Some((_, raw)) = read_raw(plane, out) else {
            return;
        };
        let s = raw.routing.strategy;
        let shown = normalize_strategy(&s)
            .map(str::to_string)
            .unwrap_or(s.trim().to_string());
        json(out, 200, &json!({ "strategy": shown }));
        return;
    }
    let Some(v) =
        body_json(body).and_then(|b| b.get("value").and_then(|v| v.as_str().map(str::to_string)))
    else {
        error(out, 400, "invalid body");
        return;
    };
    let Some(n) = normalize_strategy(&v) else {
        error(out, 400, "invalid strategy");
        return;
    };
    mutate(plane, out, |text, out| {
        edit_scalar(text, &["routing", "strategy"], &quote(n), out)
    });
}

// ------------------------------------------------------------ lists

fn query(req: &Request<'_>, name: &str) -> Option<String> {
    let raw = crate::h1::query::query_param(req.query(), name)?;
    let mut buf = Vec::new();
    crate::h1::query::percent_decode(raw, &mut buf);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A PUT body: a JSON array, or `{"items": [...]}` with at least one item.
fn put_items(body: &[u8]) -> Option<Vec<Value>> {
    match body_json(body)? {
        Value::Array(a) => Some(a),
        Value::Object(mut o) => match o.remove("items") {
            Some(Value::Array(a)) if !a.is_empty() => Some(a),
            _ => None,
        },
        _ => None,
    }
}

fn section_of(text: &str, key: &str) -> Vec<serde_yaml::Value> {
    match doc_of(text).get(key) {
        Some(serde_yaml::Value::Sequence(s)) => s.clone(),
        _ => Vec::new(),
    }
}

fn write_section(
    text: &str,
    key: &str,
    items: Vec<serde_yaml::Value>,
    out: &mut Vec<u8>,
) -> Option<String> {
    match replace_section(text, key, &serde_yaml::Value::Sequence(items)) {
        Ok(t) => Some(t),
        Err(e) => {
            error(out, 500, &format!("failed to save config: {e}"));
            None
        }
    }
}

fn to_yaml(v: &Value) -> Option<serde_yaml::Value> {
    serde_yaml::to_value(v).ok()
}

fn api_keys(plane: &Plane, m: Method, req: &Request<'_>, out: &mut Vec<u8>) {
    let strings = |text: &str| -> Vec<String> {
        section_of(text, "api-keys")
            .into_iter()
            .filter_map(|v| match v {
                serde_yaml::Value::String(s) => Some(s),
                serde_yaml::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect()
    };
    let to_items = |v: Vec<String>| {
        v.into_iter()
            .map(serde_yaml::Value::String)
            .collect::<Vec<_>>()
    };
    match m {
        Method::Get => {
            let Some(text) = read_text(plane, out) else {
                return;
            };
            json(out, 200, &json!({ "api-keys": strings(&text) }));
        }
        Method::Put => {
            let Some(items) = put_items(req.body()) else {
                error(out, 400, "invalid body");
                return;
            };
            let Some(keys) = items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
            else {
                error(out, 400, "invalid body");
                return;
            };
            mutate(plane, out, |text, out| {
                write_section(text, "api-keys", to_items(keys), out)
            });
        }
        Method::Patch => {
            let Some(b) = body_json(req.body()).filter(Value::is_object) else {
                error(out, 400, "invalid body");
                return;
            };
            let s = |k: &str| b.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let index = b.get("index").and_then(Value::as_i64);
            let (value, old, new) = (s("value"), s("old"), s("new"));
            mutate(plane, out, |text, out| {
                let mut keys = strings(text);
                match (index, value, old, new) {
                    (Some(i), Some(v), _, _) if i >= 0 && (i as usize) < keys.len() => {
                        keys[i as usize] = v;
                    }
                    (_, _, Some(o), Some(n)) => match keys.iter().position(|k| *k == o) {
                        Some(p) => keys[p] = n,
                        None => keys.push(n),
                    },
                    _ => {
                        error(out, 400, "missing fields");
                        return None;
                    }
                }
                write_section(text, "api-keys", to_items(keys), out)
            });
        }
        Method::Delete => {
            let index = query(req, "index").and_then(|i| i.trim().parse::<i64>().ok());
            let value = query(req, "value")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty());
            mutate(plane, out, |text, out| {
                let mut keys = strings(text);
                match (index, value) {
                    (Some(i), _) if i >= 0 && (i as usize) < keys.len() => {
                        keys.remove(i as usize);
                    }
                    (_, Some(v)) => keys.retain(|k| k.trim() != v),
                    _ => {
                        error(out, 400, "missing index or value");
                        return None;
                    }
                }
                write_section(text, "api-keys", to_items(keys), out)
            });
        }
    }
}

fn field<'a>(v: &'a serde_yaml::Value, k: &str) -> &'a str {
    v.get(k)
        .and_then(|x| x.as_str())
        .map(str::trim)
        .unwrap_or("")
}

fn section(plane: &Plane, s: &Section, m: Method, req: &Request<'_>, out: &mut Vec<u8>) {
    let match_key = if s.compat { "name" } else { "api-key" };
    match m {
        Method::Get => {
            let Some(text) = read_text(plane, out) else {
                return;
            };
            let mut items = Vec::new();
            for e in section_of(&text, s.key) {
                let mut j = crate::yaml::yaml_to_json(&e, "").unwrap_or(Value::Null);
                if let (false, Value::Object(o)) = (s.compat, &mut j) {
                    let idx = auth_index(s.key, field(&e, "base-url"), field(&e, "api-key"));
                    o.insert("auth-index".into(), Value::String(idx));
                }
                items.push(j);
            }
            let mut o = Map::new();
            o.insert(s.key.to_string(), Value::Array(items));
            json(out, 200, &Value::Object(o));
        }
        Method::Put => {
            let items = put_items(req.body()).and_then(|items| {
                items
                    .iter()
                    .map(|v| {
                        if v.is_object() {
                            to_yaml(&strip_computed(v))
                        } else {
                            None
                        }
                    })
                    .collect::<Option<Vec<_>>>()
            });
            let Some(items) = items else {
                error(out, 400, "invalid body");
                return;
            };
            mutate(plane, out, |text, out| {
                write_section(text, s.key, items, out)
            });
        }
        Method::Patch => {
            let b = body_json(req.body());
            let Some((index, matcher, patch)) = b.as_ref().and_then(|b| {
                let patch = b.get("value").filter(|v| v.is_object())?;
                Some((
                    b.get("index").and_then(Value::as_i64),
                    b.get("match")
                        .and_then(Value::as_str)
                        .map(|m| m.trim().to_string()),
                    strip_computed(patch),
                ))
            }) else {
                error(out, 400, "invalid body");
                return;
            };
            let base = query(req, "base-url").map(|b| b.trim().to_string());
            mutate(plane, out, |text, out| {
                let mut list = section_of(text, s.key);
                let mut target = index
                    .filter(|&i| i >= 0 && (i as usize) < list.len())
                    .map(|i| i as usize);
                if target.is_none() {
                    if let Some(mt) = matcher.filter(|m| !m.is_empty()) {
                        let hits: Vec<usize> = (0..list.len())
                            .filter(|&i| field(&list[i], match_key) == mt)
                            .filter(|&i| {
                                base.as_ref()
                                    .is_none_or(|b| field(&list[i], "base-url") == b)
                            })
                            .collect();
                        if hits.len() > 1 {
                            error(out, 400, "multiple items match; index is required");
                            return None;
                        }
                        target = hits.first().copied();
                    }
                }
                let Some(t) = target else {
                    error(out, 404, "item not found");
                    return None;
                };
                let Some(serde_yaml::Value::Mapping(patch)) = to_yaml(&patch) else {
                    error(out, 400, "invalid body");
                    return None;
                };
                if let serde_yaml::Value::Mapping(entry) = &mut list[t] {
                    for (k, v) in patch {
                        if v.is_null() {
                            entry.remove(&k);
                        } else {
                            entry.insert(k, v);
                        }
                    }
                }
                if !s.compat
                    && field(&list[t], "api-key").is_empty()
                    && field(&list[t], "base-url").is_empty()
                {
                    list.remove(t);
                }
                write_section(text, s.key, list, out)
            });
        }
        Method::Delete => {
            let by = query(req, match_key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty());
            let base = query(req, "base-url").map(|b| b.trim().to_string());
            let index = query(req, "index").and_then(|i| i.trim().parse::<i64>().ok());
            mutate(plane, out, |text, out| {
                let mut list = section_of(text, s.key);
                if let Some(v) = by {
                    let hits: Vec<usize> = (0..list.len())
                        .filter(|&i| field(&list[i], match_key) == v)
                        .filter(|&i| {
                            base.as_ref()
                                .is_none_or(|b| field(&list[i], "base-url") == b)
                        })
                        .collect();
                    match hits.len() {
                        0 => {
                            error(out, 404, "item not found");
                            return None;
                        }
                        1 => {
                            list.remove(hits[0]);
                        }
                        _ if s.compat || base.is_some() => {
                            error(out, 400, "multiple items match; index is required");
                            return None;
                        }
                        _ => {
                            error(
                                out,
                                400,
                                "multiple items match api-key; base-url is required",
                            );
                            return None;
                        }
                    }
                } else if let Some(i) = index.filter(|&i| i >= 0 && (i as usize) < list.len()) {
                    list.remove(i as usize);
                } else {
                    let what = if s.compat {
                        "missing name or index"
                    } else {
                        "missing api-key or index"
                    };
                    error(out, 400, what);
                    return None;
                }
                write_section(text, s.key, list, out)
            });
        }
    }
}

/// Drops fields the GET adds (`auth-index`) so a GET-edit-PUT round trip
/// does not write them into the file.
fn strip_computed(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(o) = &mut v {
        o.remove("auth-index");
        o.remove("auth_index");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_like_cliproxyapi() {
        assert!(matches!(find(b"GET", b"/config"), Some(Route::Config)));
        assert!(find(b"PUT", b"/config").is_none());
        assert!(matches!(
            find(b"PUT", b"/config.yaml"),
            Some(Route::ConfigYaml(Method::Put))
        ));
        assert!(matches!(
            find(b"PATCH", b"/debug"),
            Some(Route::Scalar(_, Method::Patch))
        ));
        assert!(find(b"DELETE", b"/debug").is_none());
        assert!(matches!(
            find(b"DELETE", b"/proxy-url"),
            Some(Route::Scalar(_, Method::Delete))
        ));
        assert!(matches!(
            find(b"DELETE", b"/claude-api-key"),
            Some(Route::Section(_, Method::Delete))
        ));
        assert!(find(b"POST", b"/debug").is_none());
        assert!(find(b"GET", b"/nope").is_none());
        assert!(find(b"GET", b"/routing/strategy").is_some());
    }

    #[test]
    fn auth_index_is_sixteen_hex_of_the_seed() {
        let a = auth_index("claude-api-key", "https://api.anthropic.com", "sk-1");
        assert_eq!(a.len(), 16);
        use sha2::{Digest, Sha256};
        let full = Sha256::digest(b"claude-api-key:https://api.anthropic.com+sk-1");
        let hex: String = full.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(a, hex[..16]);
    }

    #[test]
    fn strategies_normalise() {
        assert_eq!(normalize_strategy(" FF "), Some("fill-first"));
        assert_eq!(normalize_strategy("rr"), Some("round-robin"));
        assert_eq!(normalize_strategy(""), Some("round-robin"));
        assert_eq!(normalize_strategy("random"), None);
    }
}
