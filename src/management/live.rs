//! Runtime credential state for the management API:
//!
//! - `GET /auth-files`: the file list of [`super::auth_files`] with each
//!   loaded account's runtime state: `status`, `status_message`,
//!   `unavailable`, `next_retry_after`, `quota`, `model_states`,
//!   `last_refresh`, `next_refresh_after`, `success`/`failed`.
//! - `POST /reset-quota {auth_index}`: clears a credential's cooldowns.
//! - `POST /api-call`: an HTTP call through a credential (`$TOKEN$`), via
//!   the request's `proxy_url`, else the credential's proxy, else the
//!   global `proxy-url`.
//!
//! How the state is read: cooldowns live in one table of atomic words that
//! every core's scheduler shard shares ([`crate::credentials::Scheduler`]);
//! a read here loads those atomics on demand
//! ([`crate::credentials::Scheduler::state_of`]) and a reset stores zeros,
//! which every core sees at its next pick. Nothing is sent to the workers
//! and the request path takes no lock for it.

use super::{error, json};
use crate::credentials::{CredState, StateView};
use crate::runtime::Worker;
use crate::server::Request;
use crate::state::Snapshot;
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// Largest upstream body `/api-call` returns.
const API_CALL_MAX: usize = 4 << 20;

/// The routes served here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    List,
    ResetQuota,
    ApiCall,
}

pub(super) fn find(method: &[u8], sub: &[u8]) -> Option<Op> {
    Some(match (method, sub) {
        (b"GET", b"/auth-files") => Op::List,
        (b"POST", b"/reset-quota") => Op::ResetQuota,
        (b"POST", b"/api-call") => Op::ApiCall,
        _ => return None,
    })
}

pub(super) async fn serve(
    w: &Worker,
    snap: &Arc<Snapshot>,
    op: Op,
    req: &Request<'_>,
    out: &mut Vec<u8>,
) {
    match op {
        Op::List => list(w, snap, out),
        Op::ResetQuota => reset_quota(w, snap, req.body(), out),
        Op::ApiCall => api_call(w, snap, req.body(), out).await,
    }
}

fn rfc3339_ms(ms: u64) -> String {
    super::auth_files::rfc3339(UNIX_EPOCH + Duration::from_millis(ms))
}

/// CLIProxyAPI's status message for a failure status.
fn message_of(v: &StateView) -> &'static str {
    if v.quota || v.status == 429 {
        return "quota exhausted";
    }
    match v.status {
        401 => "unauthorized",
        402 | 403 => "payment_required",
        404 => "not_found",
        400 | 422 => "model_not_supported",
        408 | 500..=599 | 0 => "transient upstream error",
        _ => "request failed",
    }
}

fn quota_json(v: &StateView) -> Value {
    let mut q = Map::new();
    q.insert("exceeded".into(), Value::Bool(v.quota && v.blocked));
    if v.quota && v.blocked {
        q.insert("reason".into(), "quota".into());
        q.insert("next_recover_at".into(), rfc3339_ms(v.until_unix_ms).into());
    }
    if v.level > 0 {
        q.insert("backoff_level".into(), v.level.into());
    }
    Value::Object(q)
}

/// One model's state in CLIProxyAPI's `ModelState` shape.
fn model_state(v: &StateView) -> Value {
    let mut m = Map::new();
    m.insert(
        "status".into(),
        if v.blocked { "error" } else { "active" }.into(),
    );
    if v.blocked {
        m.insert("status_message".into(), message_of(v).into());
        m.insert(
            "next_retry_after".into(),
            rfc3339_ms(v.until_unix_ms).into(),
        );
    }
    m.insert("unavailable".into(), Value::Bool(v.blocked));
    m.insert("quota".into(), quota_json(v));
    Value::Object(m)
}

/// Sets the runtime fields of one list entry from its cooldown state.
/// `served`: how many models the credential serves.
pub(super) fn apply_state(e: &mut Map<String, Value>, st: &CredState, served: usize) {
    let blocked_models: Vec<&StateView> = st
        .models
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v.blocked)
        .collect();
    let cred = &st.credential;
    let all_models = served > 0 && blocked_models.len() >= served;
    let unavailable = cred.blocked || all_models;
    // The state that explains the entry: the credential's own, else the
    // model block that ends first.
    let lead = if cred.blocked {
        Some(cred)
    } else {
        blocked_models
            .iter()
            .copied()
            .min_by_key(|v| v.until_unix_ms)
    };
    let disabled = e.get("disabled").and_then(Value::as_bool).unwrap_or(false);
    if !disabled {
        if let Some(v) = lead {
            e.insert("status".into(), "error".into());
            e.insert("status_message".into(), message_of(v).into());
            e.insert(
                "next_retry_after".into(),
                rfc3339_ms(v.until_unix_ms).into(),
            );
            e.insert("quota".into(), quota_json(v));
        }
    }
    e.insert("unavailable".into(), Value::Bool(unavailable));
    if !st.models.is_empty() {
        let states: Map<String, Value> = st
            .models
            .iter()
            .map(|(m, v)| (m.clone(), model_state(v)))
            .collect();
        e.insert("model_states".into(), Value::Object(states));
    }
}

/// The account (provider index) loaded from the file with id `id`.
fn account_provider(snap: &Snapshot, id: &str) -> Option<usize> {
    snap.providers
        .iter()
        .position(|p| p.account.as_ref().is_some_and(|a| a.id == id))
}

/// Models a provider serves now.
fn served_models(snap: &Snapshot, provider: usize) -> usize {
    snap.routes
        .values()
        .filter(|ts| ts.iter().any(|t| t.provider == provider))
        .count()
}

fn list(w: &Worker, snap: &Snapshot, out: &mut Vec<u8>) {
    let sched = &w.shared.scheduler;
    super::usage::drain();
    let files: Vec<Value> = super::auth_files::list_entries(snap)
        .into_iter()
        .map(|(id, mut e)| {
            if let (Value::Object(m), Some(pi)) = (&mut e, account_provider(snap, &id)) {
                if let Some(a) = &snap.providers[pi].account {
                    let last = a.last_refresh.load(Ordering::Acquire);
                    if last > 0 {
                        m.insert(
                            "last_refresh".into(),
                            rfc3339_ms(last.saturating_mul(1000)).into(),
                        );
                    }
                    if let Some(exp) = a.token.get().expires_at {
                        let next = exp.saturating_sub(a.kind.refresh_lead().as_secs());
                        m.insert(
                            "next_refresh_after".into(),
                            rfc3339_ms(next.saturating_mul(1000)).into(),
                        );
                    }
                    let idx = m
                        .get("auth_index")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let (ok, failed) = super::usage::counts_of(&idx);
                    m.insert("success".into(), ok.into());
                    m.insert("failed".into(), failed.into());
                    if a.refused.load(Ordering::Acquire) {
                        m.insert("status".into(), "error".into());
                        m.insert(
                            "status_message".into(),
                            "refresh token refused (invalid_grant)".into(),
                        );
                    }
                }
                if let Some(st) = sched.state_of(&id) {
                    apply_state(m, &st, served_models(snap, pi));
                }
            }
            e
        })
        .collect();
    json(out, 200, &json!({ "files": files }));
}

/// A credential of the snapshot found by `auth_index`: (scheduler id,
/// provider index, key index).
fn by_auth_index(snap: &Snapshot, auth_index: &str) -> Option<(String, usize, Option<usize>)> {
    snap.specs.iter().zip(&snap.creds).find_map(|(spec, c)| {
        let p = snap.providers.get(c.provider)?;
        let (_, idx) = super::usage::identity(p, c.key);
        (idx == auth_index).then(|| (spec.id.clone(), c.provider, c.key))
    })
}

fn reset_quota(w: &Worker, snap: &Snapshot, body: &[u8], out: &mut Vec<u8>) {
    let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body) else {
        return error(out, 400, "invalid request body");
    };
    let idx = b
        .get("auth_index")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    if idx.is_empty() {
        return error(out, 400, "auth_index is required");
    }
    let Some((id, _, _)) = by_auth_index(snap, idx) else {
        return error(out, 404, "auth not found");
    };
    let sched = &w.shared.scheduler;
    let models: Vec<String> = sched
        .state_of(&id)
        .map(|st| st.models.into_iter().map(|(m, _)| m).collect())
        .unwrap_or_default();
    if !sched.reset(&id) {
        return error(out, 404, "auth not found");
    }
    json(
        out,
        200,
        &json!({"status": "ok", "auth_index": idx, "models": models}),
    );
}

/// `/api-call`'s body, checked.
struct CallSpec {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    data: Vec<u8>,
    auth_index: String,
    /// `proxy_url` of the request: beats the credential's and the global.
    proxy: Option<crate::config::ProxySetting>,
}

fn parse_call(body: &[u8]) -> Result<CallSpec, &'static str> {
    let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body) else {
        return Err("invalid body");
    };
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").trim();
    let method = s("method").to_ascii_uppercase();
    if method.is_empty() {
        return Err("missing method");
    }
    if !method.bytes().all(|c| c.is_ascii_alphabetic()) {
        return Err("invalid method");
    }
    let url = s("url").to_string();
    if url.is_empty() {
        return Err("missing url");
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/'))
        || url.bytes().any(|c| c <= b' ' || c == 0x7f)
    {
        return Err("invalid url");
    }
    let mut headers = Vec::new();
    if let Some(Value::Object(h)) = b.get("header") {
        for (k, v) in h {
            let Some(v) = v.as_str() else {
                return Err("invalid body");
            };
            // The client computes these itself.
            if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("connection") {
                continue;
            }
            headers.push((k.clone(), v.to_string()));
        }
    }
    let auth_index = ["auth_index", "authIndex", "AuthIndex"]
        .iter()
        .map(|k| s(k))
        .find(|v| !v.is_empty())
        .unwrap_or("")
        .to_string();
    let proxy = match s("proxy_url") {
        "" => None,
        p => Some(crate::config::ProxySetting::parse(p).map_err(|_| "invalid proxy_url")?),
    };
    Ok(CallSpec {
        proxy,
        method,
        url,
        headers,
        data: b
            .get("data")
            .and_then(Value::as_str)
            .unwrap_or("")
            .as_bytes()
            .to_vec(),
        auth_index,
    })
}

async fn api_call(w: &Worker, snap: &Arc<Snapshot>, body: &[u8], out: &mut Vec<u8>) {
    let spec = match parse_call(body) {
        Ok(s) => s,
        Err(m) => return error(out, 400, m),
    };
    // The credential, when the index names one (else no substitution).
    let cred = (!spec.auth_index.is_empty())
        .then(|| by_auth_index(snap, &spec.auth_index))
        .flatten();
    let global = || {
        snap.config
            .proxy_url
            .clone()
            .map(|u| Arc::new(crate::upstream::Proxy::resolve(u)))
    };
    let (token, proxy) = match &cred {
        Some((_, pi, ki)) => {
            let p = &snap.providers[*pi];
            let proxy = p.proxies.get(ki.unwrap_or(0)).cloned().flatten();
            let needs = spec.headers.iter().any(|(_, v)| v.contains("$TOKEN$"));
            let token = match (&p.account, needs) {
                (_, false) => String::new(),
                (Some(a), true) => {
                    crate::accounts::refresh::ensure_fresh(a).await;
                    a.token.get().access.expose().to_string()
                }
                (None, true) => ki
                    .and_then(|k| p.keys.get(k))
                    .map(|k| k.expose().to_string())
                    .unwrap_or_default(),
            };
            if needs && token.is_empty() {
                return error(out, 400, "auth token not found");
            }
            (token, proxy)
        }
        None => (String::new(), global()),
    };
    let proxy = match spec.proxy {
        Some(crate::config::ProxySetting::Proxy(u)) => {
            Some(Arc::new(crate::upstream::Proxy::resolve(u)))
        }
        Some(crate::config::ProxySetting::Direct) => None,
        Some(crate::config::ProxySetting::Inherit) | None => proxy,
    };
    let headers: Vec<(String, String)> = spec
        .headers
        .into_iter()
        .map(|(k, v)| {
            let v = if token.is_empty() {
                v
            } else {
                v.replace("$TOKEN$", &token)
            };
            (k, v)
        })
        .collect();
    let net = crate::accounts::Net {
        tls: w.tls.clone(),
        proxy,
    };
    let (method, url, data) = (spec.method, spec.url, spec.data);
    let reply = super::offload::run("cliproxy-api-call", move || {
        let hs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        crate::accounts::http::call(&net, &method, &url, &hs, &data)
    })
    .await;
    match reply {
        Some(Ok(r)) => {
            let mut h: Map<String, Value> = Map::new();
            for (n, v) in r.headers {
                let name = canonical(&n);
                match h.get_mut(&name) {
                    Some(Value::Array(a)) => a.push(v.into()),
                    _ => {
                        h.insert(name, Value::Array(vec![v.into()]));
                    }
                }
            }
            let mut body = r.body;
            body.truncate(API_CALL_MAX);
            json(
                out,
                200,
                &json!({
                    "status_code": r.status,
                    "header": h,
                    "body": String::from_utf8_lossy(&body),
                }),
            );
        }
        Some(Err(e)) => {
            crate::log_debug!("management api-call failed: {e}");
            error(out, 502, "request failed");
        }
        None => error(out, 502, "request failed"),
    }
}

/// Go's canonical header name (`content-type` → `Content-Type`), as
/// CLIProxyAPI's `header` map shows them.
fn canonical(name: &str) -> String {
    let mut up = true;
    name.chars()
        .map(|c| {
            let o = if up {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            up = c == '-';
            o
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(blocked: bool, status: u16, quota: bool, until: u64) -> StateView {
        StateView {
            until_unix_ms: until,
            blocked,
            status,
            quota,
            level: u8::from(quota),
        }
    }

    #[test]
    fn a_model_cooldown_shows_in_the_entry() {
        let st = CredState {
            credential: StateView::default(),
            models: vec![
                ("m1".into(), view(true, 429, true, 1_700_000_000_000)),
                ("m2".into(), view(false, 500, false, 1)),
            ],
        };
        let mut e = Map::new();
        e.insert("status".into(), "active".into());
        e.insert("disabled".into(), false.into());
        apply_state(&mut e, &st, 3);
        assert_eq!(e["status"], "error");
        assert_eq!(e["status_message"], "quota exhausted");
        assert_eq!(e["unavailable"], false);
        assert_eq!(e["next_retry_after"], "2023-11-14T22:13:20Z");
        assert_eq!(e["quota"]["exceeded"], true);
        assert_eq!(e["model_states"]["m1"]["unavailable"], true);
        assert_eq!(e["model_states"]["m1"]["quota"]["backoff_level"], 1);
        assert_eq!(e["model_states"]["m2"]["status"], "active");
        // Every model blocked: the credential is unavailable.
        apply_state(&mut e, &st, 1);
        assert_eq!(e["unavailable"], true);
    }

    #[test]
    fn credential_block_wins_and_clean_state_stays_active() {
        let st = CredState {
            credential: view(true, 401, false, 1_700_000_000_000),
            models: Vec::new(),
        };
        let mut e = Map::new();
        e.insert("status".into(), "active".into());
        apply_state(&mut e, &st, 5);
        assert_eq!(e["status_message"], "unauthorized");
        assert_eq!(e["unavailable"], true);
        assert!(e.get("model_states").is_none());
        let mut clean = Map::new();
        clean.insert("status".into(), "active".into());
        apply_state(&mut clean, &CredState::default(), 5);
        assert_eq!(clean["status"], "active");
        assert_eq!(clean["unavailable"], false);
    }

    #[test]
    fn api_call_bodies_are_checked() {
        assert_eq!(parse_call(b"nope").err(), Some("invalid body"));
        assert_eq!(
            parse_call(br#"{"url":"http://x"}"#).err(),
            Some("missing method")
        );
        assert_eq!(
            parse_call(br#"{"method":"GET"}"#).err(),
            Some("missing url")
        );
        for bad in ["ftp://x", "http://", "http:///p", "http://a b", "x"] {
            let b = json!({"method": "GET", "url": bad}).to_string();
            assert_eq!(parse_call(b.as_bytes()).err(), Some("invalid url"), "{bad}");
        }
        let b = json!({"method":"get","url":"https://h/p","authIndex":" ab ",
            "header":{"Authorization":"Bearer $TOKEN$","Content-Length":"9"},"data":"{}"});
        let c = parse_call(b.to_string().as_bytes()).expect("ok");
        assert_eq!(c.method, "GET");
        assert_eq!(c.auth_index, "ab");
        assert_eq!(
            c.headers,
            [("Authorization".to_string(), "Bearer $TOKEN$".to_string())]
        );
        assert_eq!(c.data, b"{}");
        assert_eq!(canonical("x-request-id"), "X-Request-Id");
        let b = json!({"method":"GET","url":"http://h/","proxy_url":"::nope::"});
        assert_eq!(
            parse_call(b.to_string().as_bytes()).err(),
            Some("invalid proxy_url")
        );
        let b = json!({"method":"GET","url":"http://h/","proxy_url":"direct"});
        assert!(matches!(
            parse_call(b.to_string().as_bytes()).map(|c| c.proxy),
            Ok(Some(crate::config::ProxySetting::Direct))
        ));
    }
}
