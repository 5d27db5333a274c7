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
