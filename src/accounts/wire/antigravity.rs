//! Antigravity OAuth accounts: Google's agent IDE client, served through
//! the `v1internal` endpoints of its own Cloud Code hosts (CLIProxyAPI v6.9's
//! `antigravity_executor.go`).
//!
//! - Hosts: the daily host first, production next (the next one is tried on
//!   a connection failure, a `429`, or a `503` saying "no capacity
//!   available"); a file's `base_url` replaces the list.
//! - Paths: those of Gemini CLI (`/v1internal:generateContent`,
//!   `:streamGenerateContent?alt=sse`, `:countTokens`).
//! - Head: `Authorization: Bearer`, `User-Agent: antigravity/<version>
//!   darwin/arm64` (the file's `user_agent` wins).
//! - Body: `{"model", "userAgent":"antigravity", "requestType":"agent",
//!   "project", "requestId":"agent-<uuid>", "request": {<Gemini body>,
//!   "sessionId"}}` — `safetySettings` removed, tool schemas under
//!   `parameters`, Claude models with `toolConfig.functionCallingConfig.mode
//!   = "VALIDATED"`, other models without `generationConfig.maxOutputTokens`.
//!   Image models use `requestType: "image_gen"` and no session.
//! - Answers: `{"response": <Gemini answer>, "traceId"}` like Cloud Code
//!   Assist, unwrapped by the `GeminiCli` translator arms.

use super::{Head, Headers};
use crate::json::span;
use crate::providers::Call;

/// The daily host, tried first.
pub const BASE_DAILY: &str = "https://daily-cloudcode-pa.googleapis.com";
/// The production host, tried when the daily one fails.
pub const BASE_PROD: &str = "https://cloudcode-pa.googleapis.com";
/// The sandbox daily host (in CLIProxyAPI's table; v6.9.7 tried it second,
/// later v6.9 tags production instead).
pub const BASE_SANDBOX: &str = "https://daily-cloudcode-pa.sandbox.googleapis.com";
/// Hosts in the order they are tried.
pub const BASE_URLS: [&str; 2] = [BASE_DAILY, BASE_PROD];
/// Antigravity version in the `User-Agent` (CLIProxyAPI's fallback; it
/// refreshes the value from the updater feed, which this relay does not
/// call).
pub const VERSION: &str = "1.21.9";
/// The platform CLIProxyAPI presents.
pub const PLATFORM: &str = "darwin/arm64";

/// `antigravity/<version> <platform>`.
pub fn default_user_agent() -> String {
    format!("antigravity/{VERSION} {PLATFORM}")
}

/// Appends the `v1internal` path (Gemini CLI's).
pub fn write_path(out: &mut Vec<u8>, call: Call) {
    super::gemini_cli::write_path(out, call);
}

/// Antigravity headers (after `Authorization`).
pub(super) fn write_head(account: &super::Account, _head: Head<'_>, h: &mut Headers<'_>) {
    if account.user_agent.is_empty() {
        h.put("User-Agent", default_user_agent().as_bytes());
    } else {
        h.put("User-Agent", account.user_agent.as_bytes());
    }
}

/// Whether an Antigravity answer on one host sends the request to the next
/// host: `429`, or `503` whose body says "no capacity available".
pub fn falls_back(status: u16, body: &[u8]) -> bool {
    status == 429
        || (status == 503
            && memchr::memmem::find(&body.to_ascii_lowercase(), b"no capacity available").is_some())
}

/// Claude models are served with the `VALIDATED` tool mode (CLIProxyAPI
/// checks the name the same way).
pub fn is_claude(model: &str) -> bool {
    model.contains("claude")
}

/// Image models: `requestType: "image_gen"`, no session.
fn is_image(model: &str) -> bool {
    model.contains("image")
}

/// A project name when the account has none yet (CLIProxyAPI's legacy
/// fallback): `<adjective>-<noun>-<5 hex>`.
fn random_project() -> String {
    const ADJ: [&str; 5] = ["useful", "bright", "swift", "calm", "bold"];
    const NOUN: [&str; 5] = ["fuze", "wave", "spark", "flow", "core"];
    let r = super::random_u64();
    let u = super::uuid_v4();
    format!(
        "{}-{}-{}",
        ADJ[(r % 5) as usize],
        NOUN[((r >> 8) % 5) as usize],
        &u[..5]
    )
}

/// The session id CLIProxyAPI derives from the first user text (so one
/// conversation keeps one session): `-<first 8 bytes of SHA-256, big
/// endian, top bit cleared>`; a random one when there is no user text.
pub fn session_id(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let first_text = span::get(body, b"contents").and_then(|c| {
        span::array(c).find_map(|m| {
            if span::get_str(m, b"role") != Some(b"user") {
                return None;
            }
            let p0 = span::array(span::get(m, b"parts")?).next()?;
            let t = span::get_str(p0, b"text")?;
            let mut s = Vec::with_capacity(t.len());
            crate::json::escape::unescape_into(&mut s, t);
            (!s.is_empty()).then_some(s)
        })
    });
    let n = match first_text {
        Some(t) => {
            let h = Sha256::digest(&t);
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[..8]);
            u64::from_be_bytes(b) & 0x7FFF_FFFF_FFFF_FFFF
        }
        None => super::random_u64() % 9_000_000_000_000_000_000,
    };
    format!("-{n}")
}

/// Copies `obj`'s members through `f(key, value, out)`, which writes the
/// member (with its leading comma handled by the caller) and returns
/// whether it wrote anything. `None` when `obj` is not an object.
fn each_member<'a>(
    obj: &'a [u8],
    out: &mut Vec<u8>,
    mut f: impl FnMut(&'a [u8], &'a [u8], &mut Vec<u8>) -> bool,
) -> Option<()> {
    out.push(b'{');
    let mut first = true;
    span::visit_object(obj, 0, |k, vs| {
        let Some((v, e)) = span::value_at(obj, vs) else {
            return span::Step::Stop;
        };
        let mark = out.len();
        if !first {
            out.push(b',');
        }
        if f(k, v, out) {
            first = false;
        } else {
            out.truncate(mark);
        }
        span::Step::End(e)
    })?;
    out.push(b'}');
    Some(())
}

fn member(out: &mut Vec<u8>, k: &[u8], v: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(k);
    out.extend_from_slice(b"\":");
    out.extend_from_slice(v);
}

/// `tools` with every function declaration's `parametersJsonSchema` named
/// `parameters` (CLIProxyAPI renames them for Antigravity).
fn tools_renamed(tools: &[u8], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, t) in span::array(tools).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mark = out.len();
        let ok = each_member(t, out, |k, v, out| {
            if k == b"functionDeclarations" {
                out.extend_from_slice(b"\"functionDeclarations\":[");
                for (j, d) in span::array(v).enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    let m = out.len();
                    let ok = each_member(d, out, |k, v, out| {
                        let k = if k == b"parametersJsonSchema" {
                            &b"parameters"[..]
                        } else {
                            k
                        };
                        member(out, k, v);
                        true
                    });
                    if ok.is_none() {
                        out.truncate(m);
                        out.extend_from_slice(d);
                    }
                }
                out.push(b']');
            } else {
                member(out, k, v);
            }
            true
        });
        if ok.is_none() {
            out.truncate(mark);
            out.extend_from_slice(t);
        }
    }
    out.push(b']');
}

/// `toolConfig` with `functionCallingConfig.mode` set to `VALIDATED`
/// (other members kept).
fn tool_config_validated(tc: Option<&[u8]>, out: &mut Vec<u8>) {
    const FCC: &[u8] = br#"{"mode":"VALIDATED"}"#;
    let Some(tc) = tc.filter(|t| t.first() == Some(&b'{')) else {
        out.extend_from_slice(br#"{"functionCallingConfig":{"mode":"VALIDATED"}}"#);
        return;
    };
    let mark = out.len();
    let mut seen = false;
    let ok = each_member(tc, out, |k, v, out| {
        if k == b"functionCallingConfig" {
            seen = true;
            out.extend_from_slice(b"\"functionCallingConfig\":");
            let m = out.len();
            let ok = each_member(v, out, |k, v, out| {
                if k != b"mode" {
                    member(out, k, v);
                    return true;
                }
                false
            });
            if ok.is_none() {
                out.truncate(m);
                out.extend_from_slice(FCC);
            } else {
                // Re-open the object to add the mode last.
                out.pop();
                if out.last() != Some(&b'{') {
                    out.push(b',');
                }
                out.extend_from_slice(br#""mode":"VALIDATED"}"#);
            }
        } else {
            member(out, k, v);
        }
        true
    });
    if ok.is_none() {
        out.truncate(mark);
        out.extend_from_slice(br#"{"functionCallingConfig":{"mode":"VALIDATED"}}"#);
        return;
    }
    if !seen {
        out.pop();
        if out.last() != Some(&b'{') {
            out.push(b',');
        }
        out.extend_from_slice(br#""functionCallingConfig":{"mode":"VALIDATED"}}"#);
    }
}

/// Wraps a Gemini `generateContent` body for Antigravity (see the module
/// docs). `None` when `body` is not a JSON object.
pub fn wrap(body: &[u8], model: &str, project: &str, out: &mut Vec<u8>) -> Option<()> {
    let claude = is_claude(model);
    let image = is_image(model);
    out.reserve(body.len() + model.len() + project.len() + 200);
    out.extend_from_slice(b"{\"model\":");
    crate::json::write_string(out, model);
    out.extend_from_slice(b",\"userAgent\":\"antigravity\",\"requestType\":");
    out.extend_from_slice(if image {
        &b"\"image_gen\""[..]
    } else {
        b"\"agent\""
    });
    out.extend_from_slice(b",\"project\":");
    if project.is_empty() {
        crate::json::write_string(out, &random_project());
    } else {
        crate::json::write_string(out, project);
    }
    out.extend_from_slice(b",\"requestId\":");
    let rid = if image {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("image_gen/{ms}/{}/12", super::uuid_v4())
    } else {
        format!("agent-{}", super::uuid_v4())
    };
    crate::json::write_string(out, &rid);
    out.extend_from_slice(b",\"request\":");
    let mut has_tool_config = false;
    each_member(body, out, |k, v, out| match k {
        b"safetySettings" | b"sessionId" => false,
        b"generationConfig" if !claude => {
            out.extend_from_slice(b"\"generationConfig\":");
            match super::without_member(v, b"maxOutputTokens") {
                Some(g) => out.extend_from_slice(&g),
                None => out.extend_from_slice(v),
            }
            true
        }
        b"toolConfig" if claude => {
            has_tool_config = true;
            out.extend_from_slice(b"\"toolConfig\":");
            tool_config_validated(Some(v), out);
            true
        }
        b"tools" if v.first() == Some(&b'[') => {
            out.extend_from_slice(b"\"tools\":");
            tools_renamed(v, out);
            true
        }
        _ => {
            member(out, k, v);
            true
        }
    })?;
    // Re-open the request object for the added members.
    out.pop();
    let sep = |out: &mut Vec<u8>| {
        if out.last() != Some(&b'{') {
            out.push(b',');
        }
    };
    if claude && !has_tool_config {
        sep(out);
        out.extend_from_slice(b"\"toolConfig\":");
        tool_config_validated(None, out);
    }
    if !image {
        sep(out);
        out.extend_from_slice(b"\"sessionId\":");
        crate::json::write_string(out, &session_id(body));
    }
    out.extend_from_slice(b"}}");
    Some(())
}

/// Models whose non-stream requests CLIProxyAPI sends as streams and
/// aggregates (Claude, Gemini 3 Pro, Gemini 3.1 Flash Image).
pub fn streams_non_stream(model: &str) -> bool {
    is_claude(model) || model.contains("gemini-3-pro") || model.contains("gemini-3.1-flash-image")
}

/// Whether an answer body is an SSE stream rather than one JSON document.
pub fn is_sse(body: &[u8]) -> bool {
    let i = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    body[i..].starts_with(b"data:")
        || body[i..].starts_with(b"event:")
        || body[i..].starts_with(b":")
}

/// The text of a JSON string span, unescaped (empty for anything else).
fn text_of(v: Option<&[u8]>, out: &mut Vec<u8>) {
    if let Some(c) = v.and_then(span::str_content) {
        crate::json::escape::unescape_into(out, c);
    }
}

/// A JSON string span that is not `""`.
fn nonempty(v: Option<&[u8]>) -> Option<&[u8]> {
    v.filter(|v| v.len() > 2 && v.first() == Some(&b'"'))
}

/// Merges a stream's events into one non-stream answer, as CLIProxyAPI's
/// `convertStreamToNonStream` does: consecutive text parts become one,
/// consecutive thought parts become one (keeping the last signature),
/// calls and inline data are kept as sent; role, finish reason, model
/// version, response id and usage come from the last event that has them
/// (zero usage when none did); the last event is the template for every
/// other field. Output: `{"response": {...}, "traceId": "..."}`. `None`
/// when no event carried an answer.
pub fn aggregate_stream(stream: &[u8]) -> Option<Vec<u8>> {
    #[derive(PartialEq, Clone, Copy)]
    enum Pending {
        None,
        Text,
        Thought,
    }
    struct Acc<'a> {
        parts: Vec<u8>,
        n: usize,
        kind: Pending,
        text: Vec<u8>,
        sig: Option<&'a [u8]>,
    }
    impl<'a> Acc<'a> {
        fn sep(&mut self) {
            if self.n > 0 {
                self.parts.push(b',');
            }
            self.n += 1;
        }
        fn flush(&mut self) {
            let (kind, sig) = (self.kind, self.sig.take());
            self.kind = Pending::None;
            let text = std::mem::take(&mut self.text);
            let blank = text.iter().all(u8::is_ascii_whitespace);
            match kind {
                Pending::None => {}
                Pending::Text if blank => {}
                Pending::Thought if blank && sig.is_none() => {}
                Pending::Text => {
                    self.sep();
                    self.parts.extend_from_slice(b"{\"text\":");
                    crate::json::write_string(&mut self.parts, &String::from_utf8_lossy(&text));
                    self.parts.push(b'}');
                }
                Pending::Thought => {
                    self.sep();
                    self.parts.extend_from_slice(b"{\"thought\":true,\"text\":");
                    crate::json::write_string(&mut self.parts, &String::from_utf8_lossy(&text));
                    if let Some(s) = sig {
                        self.parts.extend_from_slice(b",\"thoughtSignature\":");
                        self.parts.extend_from_slice(s);
                    }
                    self.parts.push(b'}');
                }
            }
        }
        fn raw(&mut self, p: &[u8]) {
            self.flush();
            self.sep();
            self.parts.extend_from_slice(p);
        }
    }
    let mut acc = Acc {
        parts: Vec::new(),
        n: 0,
        kind: Pending::None,
        text: Vec::new(),
        sig: None,
    };

    let (mut template, mut trace, mut role, mut finish) = (None, None, None, None);
    let (mut version, mut rid, mut usage) = (None, None, None);
    for line in stream.split(|&b| b == b'\n') {
        let Some(data) = super::trim(line).strip_prefix(b"data:") else {
            continue;
        };
        let root = super::trim(data);
        if root.first() != Some(&b'{') || !span::is_valid(root) {
            continue;
        }
        let resp = match span::get(root, b"response") {
            Some(r) if r.first() == Some(&b'{') => r,
            _ if span::get(root, b"candidates").is_some() => root,
            _ => continue,
        };
        template = Some(resp);
        trace = nonempty(span::get(root, b"traceId")).or(trace);
        let cand = span::get(resp, b"candidates").and_then(|c| span::array(c).next());
        let content = cand.and_then(|c| span::get(c, b"content"));
        role = content.and_then(|c| span::get(c, b"role")).or(role);
        finish = nonempty(cand.and_then(|c| span::get(c, b"finishReason"))).or(finish);
        version = nonempty(span::get(resp, b"modelVersion")).or(version);
        rid = nonempty(span::get(resp, b"responseId")).or(rid);
        usage = span::get(resp, b"usageMetadata")
            .or_else(|| span::get(root, b"usageMetadata"))
            .or(usage);
        let parts = content.and_then(|c| span::get(c, b"parts")).unwrap_or(b"");
        for p in span::array(parts) {
            let has = |k: &[u8]| span::get(p, k).is_some();
            if has(b"functionCall") || has(b"inlineData") || has(b"inline_data") {
                acc.raw(p);
                continue;
            }
            let thought = span::get(p, b"thought") == Some(b"true");
            if thought || has(b"text") {
                let kind = if thought {
                    Pending::Thought
                } else {
                    Pending::Text
                };
                if acc.kind != Pending::None && acc.kind != kind {
                    acc.flush();
                }
                acc.kind = kind;
                text_of(span::get(p, b"text"), &mut acc.text);
                if thought {
                    let sig = span::get(p, b"thoughtSignature")
                        .or_else(|| span::get(p, b"thought_signature"));
                    if let Some(s) = nonempty(sig) {
                        acc.sig = Some(s);
                    }
                }
                continue;
            }
            acc.raw(p);
        }
    }
    acc.flush();
    let template = template?;
    let cand = span::get(template, b"candidates").and_then(|c| span::array(c).next());
    let mut out = Vec::with_capacity(acc.parts.len() + template.len() + 128);
    out.extend_from_slice(b"{\"response\":");
    each_member(template, &mut out, |k, v, out| match k {
        b"candidates" => {
            out.extend_from_slice(b"\"candidates\":[");
            let cand_members = |out: &mut Vec<u8>| {
                out.extend_from_slice(b"\"content\":{\"role\":");
                out.extend_from_slice(role.unwrap_or(b"\"model\""));
                out.extend_from_slice(b",\"parts\":[");
                out.extend_from_slice(&acc.parts);
                out.extend_from_slice(b"]}");
                if let Some(f) = finish {
                    out.extend_from_slice(b",\"finishReason\":");
                    out.extend_from_slice(f);
                }
            };
            let m = out.len();
            let ok = cand.and_then(|c| {
                each_member(c, out, |k, v, out| {
                    if k == b"content" {
                        cand_members(out);
                        true
                    } else if k == b"finishReason" {
                        false
                    } else {
                        member(out, k, v);
                        true
                    }
                })
            });
            if ok.is_none() {
                out.truncate(m);
                out.push(b'{');
                cand_members(out);
                out.push(b'}');
            } else if cand.and_then(|c| span::get(c, b"content")).is_none() {
                out.pop();
                if out.last() != Some(&b'{') {
                    out.push(b',');
                }
                cand_members(out);
                out.push(b'}');
            }
            let _ = v;
            out.push(b']');
            true
        }
        b"modelVersion" | b"responseId" | b"usageMetadata" => false,
        _ => {
            member(out, k, v);
            true
        }
    })?;
    out.pop();
    if span::get(template, b"candidates").is_none() {
        if out.last() != Some(&b'{') {
            out.push(b',');
        }
        out.extend_from_slice(b"\"candidates\":[{\"content\":{\"role\":");
        out.extend_from_slice(role.unwrap_or(b"\"model\""));
        out.extend_from_slice(b",\"parts\":[");
        out.extend_from_slice(&acc.parts);
        out.extend_from_slice(b"]}");
        if let Some(f) = finish {
            out.extend_from_slice(b",\"finishReason\":");
            out.extend_from_slice(f);
        }
        out.extend_from_slice(b"}]");
    }
    for (k, v) in [
        (&b"modelVersion"[..], version),
        (b"responseId", rid),
        (
            b"usageMetadata",
            usage.or(Some(
                br#"{"promptTokenCount":0,"candidatesTokenCount":0,"totalTokenCount":0}"#,
            )),
        ),
    ] {
        if let Some(v) = v {
            if out.last() != Some(&b'{') {
                out.push(b',');
            }
            member(&mut out, k, v);
        }
    }
    out.extend_from_slice(b"},\"traceId\":");
    out.extend_from_slice(trace.unwrap_or(b"\"\""));
    out.push(b'}');
    Some(out)
}

/// An Antigravity `countTokens` body: the Cloud Code Assist one
/// (`{"request": ...}`, no `model`, `project` or `safetySettings`).
pub use super::gemini_cli::count_request;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn wrapped(body: &str, model: &str, project: &str) -> Value {
        let mut out = Vec::new();
        wrap(body.as_bytes(), model, project, &mut out).expect("object");
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn envelope_of_a_gemini_model() {
        let body = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"temperature":0.5,"maxOutputTokens":99},"safetySettings":[{"category":"x"}],"tools":[{"functionDeclarations":[{"name":"f","parametersJsonSchema":{"type":"object"}}]}]}"#;
        let v = wrapped(body, "gemini-3-flash", "proj-9");
        assert_eq!(v["model"], "gemini-3-flash");
        assert_eq!(v["userAgent"], "antigravity");
        assert_eq!(v["requestType"], "agent");
        assert_eq!(v["project"], "proj-9");
        let rid = v["requestId"].as_str().expect("id");
        assert!(rid.starts_with("agent-") && super::super::is_uuid(&rid.as_bytes()[6..]));
        let r = &v["request"];
        assert!(r.get("safetySettings").is_none());
        assert_eq!(r["generationConfig"], json!({"temperature":0.5}));
        assert_eq!(
            r["tools"][0]["functionDeclarations"][0],
            json!({"name":"f","parameters":{"type":"object"}})
        );
        assert!(r.get("toolConfig").is_none());
        // SHA-256("hi") = 8f434346648f6b96..., top bit cleared.
        let want = format!("-{}", 0x8f43_4346_648f_6b96u64 & 0x7FFF_FFFF_FFFF_FFFF);
        assert_eq!(r["sessionId"], want.as_str());
        assert_eq!(r["contents"][0]["parts"][0]["text"], "hi");
    }

    #[test]
    fn claude_models_validate_tool_calls_and_keep_max_tokens() {
        let body = r#"{"contents":[],"generationConfig":{"maxOutputTokens":99}}"#;
        let v = wrapped(body, "claude-sonnet-4-6", "");
        let r = &v["request"];
        assert_eq!(r["generationConfig"]["maxOutputTokens"], 99);
        assert_eq!(
            r["toolConfig"],
            json!({"functionCallingConfig":{"mode":"VALIDATED"}})
        );
        // No project yet: CLIProxyAPI's made-up one.
        let p = v["project"].as_str().expect("project");
        assert_eq!(p.split('-').count(), 3, "{p}");
        let body = r#"{"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]},"x":1}}"#;
        let v = wrapped(body, "claude-opus-4-6-thinking", "p");
        assert_eq!(
            v["request"]["toolConfig"],
            json!({"functionCallingConfig":{"allowedFunctionNames":["f"],"mode":"VALIDATED"},"x":1})
        );
        let v = wrapped(r#"{"toolConfig":{"x":1}}"#, "claude-x", "p");
        assert_eq!(
            v["request"]["toolConfig"],
            json!({"x":1,"functionCallingConfig":{"mode":"VALIDATED"}})
        );
    }

    #[test]
    fn image_models_and_bad_bodies() {
        let v = wrapped(r#"{}"#, "gemini-3.1-flash-image", "p");
        assert_eq!(v["requestType"], "image_gen");
        assert!(v["requestId"]
            .as_str()
            .is_some_and(|s| s.starts_with("image_gen/") && s.ends_with("/12")));
        assert_eq!(v["request"], json!({}));
        let mut out = Vec::new();
        assert!(wrap(b"[1]", "m", "p", &mut out).is_none());
        assert!(wrap(b"{\"a\":", "m", "p", &mut Vec::new()).is_none());
    }

    fn merged(stream: &str) -> Value {
        let out = aggregate_stream(stream.as_bytes()).expect("an answer");
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn stream_aggregated_like_cliproxyapi() {
        let ev = |v: Value| format!("data: {v}\r\n\r\n");
        let stream = [
            ev(json!({"response":{"candidates":[{"content":{"role":"model","parts":[{"thought":true,"text":"a"}]}}],"responseId":"r1"},"traceId":"t-1"})),
            ev(json!({"response":{"candidates":[{"content":{"role":"model","parts":[{"thought":true,"text":"b","thoughtSignature":"SIG\"1"}]}}]}})),
            ev(json!({"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"x"},{"text":"y"}]}}]}})),
            ev(json!({"response":{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}},{"text":" "}]},"finishReason":"STOP","index":0}],"usageMetadata":{"totalTokenCount":7},"modelVersion":"claude-x"}})),
        ]
        .concat();
        let v = merged(&stream);
        assert_eq!(v["traceId"], "t-1");
        let r = &v["response"];
        assert_eq!(
            r["candidates"],
            json!([{"content":{"role":"model","parts":[
                {"thought":true,"text":"ab","thoughtSignature":"SIG\"1"},
                {"text":"xy"},
                {"functionCall":{"name":"f","args":{}}}
            ]},"finishReason":"STOP","index":0}])
        );
        assert_eq!(r["usageMetadata"], json!({"totalTokenCount":7}));
        assert_eq!(r["modelVersion"], "claude-x");
        assert_eq!(r["responseId"], "r1");
        // Whole stream vs the same events with LF framing and noise lines.
        let lf = stream
            .replace("\r\n", "\n")
            .replace("data: {", ": ping\ndata: {");
        assert_eq!(merged(&lf), v);
        // No usage anywhere: zeros, as CLIProxyAPI writes.
        let v = merged(&ev(
            json!({"candidates":[{"content":{"parts":[{"text":"z"}]}}]}),
        ));
        assert_eq!(v["response"]["usageMetadata"]["totalTokenCount"], 0);
        assert_eq!(v["response"]["candidates"][0]["content"]["role"], "model");
        assert_eq!(v["traceId"], "");
        assert!(aggregate_stream(b"data: [DONE]\n\n").is_none());
        assert!(aggregate_stream(b"").is_none());
        assert!(is_sse(b"\n data: {}") && !is_sse(b" {\"response\":{}}"));
        assert!(streams_non_stream("claude-sonnet-4-6") && streams_non_stream("gemini-3-pro-high"));
        assert!(!streams_non_stream("gemini-3-flash"));
    }

    #[test]
    fn fallback_statuses() {
        assert!(falls_back(429, b""));
        assert!(falls_back(
            503,
            b"{\"error\":{\"message\":\"No capacity available for model\"}}"
        ));
        assert!(!falls_back(503, b"busy"));
        assert!(!falls_back(500, b"no capacity available"));
        assert!(!falls_back(401, b""));
    }
}
