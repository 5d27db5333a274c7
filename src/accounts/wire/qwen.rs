//! Qwen Code's head (CLIProxyAPI v6.9.25 `applyQwenHeaders`): the Qwen
//! Code user agent, DashScope's OAuth markers and the Stainless (OpenAI
//! Node SDK) fingerprint. CLIProxyAPI also sends `Accept-Encoding: gzip,
//! deflate` and `Connection: keep-alive`; this relay forwards bodies as
//! sent and manages its connections itself, so neither is written.
//!
//! The body gets Qwen Code's one leading system message
//! ([`ensure_system_message`], v6.9.25 `ensureQwenSystemMessage`).

use super::Headers;
use crate::json::span;

/// `User-Agent` and `X-Dashscope-Useragent`.
pub const USER_AGENT: &str = "QwenCode/0.14.2 (darwin; arm64)";

/// Writes the Qwen headers (the bearer is written by the caller).
pub(crate) fn write_head(h: &mut Headers<'_>) {
    h.put("User-Agent", USER_AGENT.as_bytes());
    h.put("X-Dashscope-Authtype", b"qwen-oauth");
    h.put("X-Dashscope-Cachecontrol", b"enable");
    h.put("X-Dashscope-Useragent", USER_AGENT.as_bytes());
    h.put("X-Stainless-Runtime-Version", b"v22.17.0");
    h.put("X-Stainless-Lang", b"js");
    h.put("X-Stainless-Os", b"MacOS");
    h.put("X-Stainless-Arch", b"arm64");
    h.put("X-Stainless-Runtime", b"node");
    h.put("X-Stainless-Retry-Count", b"0");
    h.put("X-Stainless-Package-Version", b"5.11.0");
    h.put("Accept-Language", b"*");
    h.put("Sec-Fetch-Mode", b"cors");
}

/// The system part Qwen Code leads with (empty text, ephemeral cache).
pub const DEFAULT_SYSTEM_PART: &[u8] =
    br#"{"type":"text","text":"","cache_control":{"type":"ephemeral"}}"#;

/// A part a previous pass (or Qwen Code itself) injected: a `text` part with
/// an ephemeral `cache_control` and an empty or the stock text.
fn injected(part: &[u8]) -> bool {
    let [t, text, cc] = span::get_many(part, [b"type", b"text", b"cache_control"]);
    let is = |v: Option<&[u8]>, want: &[u8]| {
        v.and_then(span::str_content)
            .is_some_and(|s| s.eq_ignore_ascii_case(want))
    };
    is(t, b"text")
        && is(cc.and_then(|c| span::get(c, b"type")), b"ephemeral")
        && match text {
            None => true,
            Some(v) => matches!(span::str_content(v), Some(b"" | b"You are Qwen Code.")),
        }
}

/// `,{"type":"text","text":<json string>}`.
fn push_text(out: &mut Vec<u8>, json_string: &[u8]) {
    out.extend_from_slice(br#",{"type":"text","text":"#);
    out.extend_from_slice(json_string);
    out.push(b'}');
}

/// Appends a system message's `content` as parts (after a comma).
fn push_content(out: &mut Vec<u8>, content: &[u8]) {
    match content.first() {
        Some(b'"') => push_text(out, content),
        Some(b'[') => {
            for part in span::array(content) {
                if part.first() == Some(&b'"') {
                    push_text(out, part);
                } else if !injected(part) {
                    out.push(b',');
                    out.extend_from_slice(part);
                }
            }
        }
        Some(b'{') => {
            if !injected(content) {
                out.push(b',');
                out.extend_from_slice(content);
            }
        }
        None | Some(b'n') => {}
        // A number or boolean: its text (plain ASCII, safe in quotes).
        Some(_) => {
            let mut s = Vec::with_capacity(content.len() + 2);
            s.push(b'"');
            s.extend_from_slice(content);
            s.push(b'"');
            push_text(out, &s);
        }
    }
}

/// Rewrites an OpenAI Chat body for Qwen: one system message first, its
/// content the default part followed by the parts of every system message
/// the body had (strings as text parts, injected parts dropped), then the
/// other messages in order; every other member kept. False (and `out` left
/// unspecified) when `body` is not a JSON object.
pub fn ensure_system_message(body: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut messages = Vec::with_capacity(body.len() + DEFAULT_SYSTEM_PART.len() + 64);
    messages.extend_from_slice(br#"[{"role":"system","content":["#);
    messages.extend_from_slice(DEFAULT_SYSTEM_PART);
    let mut rest: Vec<&[u8]> = Vec::new();
    if let Some(list) = span::get(body, b"messages") {
        for msg in span::array(list) {
            let role = span::get(msg, b"role").and_then(span::str_content);
            if role.is_some_and(|r| r.eq_ignore_ascii_case(b"system")) {
                if let Some(c) = span::get(msg, b"content") {
                    push_content(&mut messages, c);
                }
            } else {
                rest.push(msg);
            }
        }
    }
    messages.extend_from_slice(b"]}");
    for m in rest {
        messages.push(b',');
        messages.extend_from_slice(m);
    }
    messages.push(b']');
    out.push(b'{');
    let mut first = true;
    let mut placed = false;
    let done = span::visit_object(body, 0, |k, vs| {
        let Some((v, e)) = span::value_at(body, vs) else {
            return span::Step::Stop;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(k);
        out.extend_from_slice(b"\":");
        if k == b"messages" && !placed {
            out.extend_from_slice(&messages);
            placed = true;
        } else {
            out.extend_from_slice(v);
        }
        span::Step::End(e)
    });
    if done.is_none() {
        return false;
    }
    if !placed {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"messages\":");
        out.extend_from_slice(&messages);
    }
    out.push(b'}');
    true
}

/// Whether an error body says the account's quota is exhausted (v6.9.25
/// `isQwenQuotaError`): `error.code` or `error.type` is
/// `insufficient_quota` / `quota_exceeded`, or `error.message` says so.
pub fn is_quota_error(body: &[u8]) -> bool {
    let Some(err) = span::get(body, b"error") else {
        return false;
    };
    let [code, kind, message] = span::get_many(err, [b"code", b"type", b"message"]);
    let lower = |v: Option<&[u8]>| {
        v.and_then(span::str_content)
            .map(<[u8]>::to_ascii_lowercase)
            .unwrap_or_default()
    };
    let is_code = |c: &[u8]| c == b"insufficient_quota" || c == b"quota_exceeded";
    if is_code(&lower(code)) || is_code(&lower(kind)) {
        return true;
    }
    let m = lower(message);
    [&b"insufficient_quota"[..], b"quota exceeded"]
        .iter()
        .any(|n| memchr::memmem::find(&m, n).is_some())
}

/// The status an upstream error counts as: Qwen answers an exhausted daily
/// quota with 403 (or 429); both read as 429 so the account cools down as
/// for a quota (v6.9.25 `wrapQwenError`).
pub fn effective_status(status: u16, body: &[u8]) -> u16 {
    if matches!(status, 403 | 429) && is_quota_error(body) {
        429
    } else {
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The oracle: the same rule over parsed JSON.
    fn oracle(body: &Value) -> Value {
        let is_injected = |p: &Value| {
            p["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("text"))
                && p["cache_control"]["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case("ephemeral"))
                && matches!(p.get("text"), None | Some(Value::Null))
                    .then_some(true)
                    .unwrap_or_else(|| {
                        matches!(p["text"].as_str(), Some("" | "You are Qwen Code."))
                    })
        };
        let mut parts = vec![json!({"type":"text","text":"","cache_control":{"type":"ephemeral"}})];
        let mut rest = Vec::new();
        for m in body["messages"].as_array().cloned().unwrap_or_default() {
            if m["role"]
                .as_str()
                .is_some_and(|r| r.eq_ignore_ascii_case("system"))
            {
                match &m["content"] {
                    Value::String(s) => parts.push(json!({"type":"text","text":s})),
                    Value::Array(a) => {
                        for p in a {
                            match p {
                                Value::String(s) => parts.push(json!({"type":"text","text":s})),
                                p if is_injected(p) => {}
                                p => parts.push(p.clone()),
                            }
                        }
                    }
                    Value::Object(_) if is_injected(&m["content"]) => {}
                    Value::Object(_) => parts.push(m["content"].clone()),
                    _ => {}
                }
            } else {
                rest.push(m);
            }
        }
        let mut msgs = vec![json!({"role":"system","content":parts})];
        msgs.extend(rest);
        let mut out = body.clone();
        out["messages"] = Value::Array(msgs);
        out
    }

    fn run(body: &Value) -> Value {
        let mut out = Vec::new();
        assert!(ensure_system_message(body.to_string().as_bytes(), &mut out));
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn one_leading_system_message_as_the_oracle_says() {
        let cases = [
            json!({"model":"coder-model","messages":[{"role":"user","content":"hi"}],"stream":true}),
            json!({"model":"m","messages":[
                {"role":"user","content":"a"},
                {"role":"system","content":"be brief \"now\""},
                {"role":"assistant","content":"b"},
                {"role":"SYSTEM","content":[{"type":"text","text":"x"},"y",
                    {"type":"text","text":"You are Qwen Code.","cache_control":{"type":"ephemeral"}}]},
                {"role":"system","content":{"type":"text","text":"","cache_control":{"type":"EPHEMERAL"}}},
                {"role":"system","content":null}
            ]}),
            json!({"model":"m"}),
            json!({"messages":[{"role":"system","content":{"type":"image_url","image_url":{"url":"u"}}}],"n":1}),
        ];
        for c in &cases {
            assert_eq!(run(c), oracle(c), "{c}");
        }
        // A second pass changes nothing: injected parts are not doubled.
        for c in &cases {
            assert_eq!(run(&run(c)), run(c), "{c}");
        }
    }

    #[test]
    fn quota_errors_read_as_429() {
        let q = br#"{"error":{"code":"insufficient_quota","message":"m"}}"#;
        assert_eq!(effective_status(403, q), 429);
        assert_eq!(effective_status(429, q), 429);
        assert_eq!(effective_status(500, q), 500, "only 403 and 429");
        let t = br#"{"error":{"type":"Quota_Exceeded"}}"#;
        assert_eq!(effective_status(403, t), 429);
        let m = br#"{"error":{"message":"Free allocated quota exceeded."}}"#;
        assert_eq!(effective_status(403, m), 429);
        let other = br#"{"error":{"code":"forbidden","message":"no access"}}"#;
        assert_eq!(effective_status(403, other), 403);
        assert_eq!(effective_status(403, b"not json"), 403);
    }

    #[test]
    fn not_an_object_is_left_alone() {
        let mut out = Vec::new();
        assert!(!ensure_system_message(b"[1]", &mut out));
        assert!(!ensure_system_message(b"{\"a\":", &mut out));
    }
}
