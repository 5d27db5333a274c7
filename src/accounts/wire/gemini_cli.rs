//! Gemini CLI OAuth accounts, served through Cloud Code Assist
//! (`cloudcode-pa.googleapis.com/v1internal`): paths, the head
//! CLIProxyAPI's Gemini CLI executor sends, and the request envelope.
//!
//! Requests: `{"model": <upstream model>, "project": <project>, "request":
//! <Gemini generateContent body>}` (v6.9.7 sends no `user_prompt_id` or
//! session fields); token counts `{"request": <body>}`.
//! Answers: `{"response": <Gemini answer>, ...}`, each stream event too;
//! countTokens answers `{"totalTokens": n}` as Gemini does. The unwrapping
//! is the translator's (`Format::GeminiCli`, see [`unwrap`](fn@unwrap)).

use super::{node_platform, Head, Headers};
use crate::providers::Call;

/// Gemini CLI version in the `User-Agent`.
pub const VERSION: &str = "0.31.0";
/// `X-Goog-Api-Client`.
pub const API_CLIENT: &str = "google-genai-sdk/1.41.0 gl-node/v22.19.0";

/// Appends `/v1internal:<action>`.
pub fn write_path(out: &mut Vec<u8>, call: Call) {
    out.extend_from_slice(if call.count {
        &b"/v1internal:countTokens"[..]
    } else if call.stream {
        b"/v1internal:streamGenerateContent?alt=sse"
    } else {
        b"/v1internal:generateContent"
    });
}

/// `GeminiCLI/<version>/<model> (<os>; <arch>)`.
pub fn user_agent(model: &str) -> String {
    let (os, arch) = node_platform();
    let model = if model.is_empty() { "unknown" } else { model };
    format!("GeminiCLI/{VERSION}/{model} ({os}; {arch})")
}

/// Gemini CLI headers (after `Authorization`).
pub(super) fn write_head(head: Head<'_>, h: &mut Headers<'_>) {
    h.put("User-Agent", user_agent(head.model).as_bytes());
    h.put("X-Goog-Api-Client", API_CLIENT.as_bytes());
}

/// Wraps a Gemini `generateContent` body (written as is) for Cloud Code Assist.
pub fn wrap(body: &[u8], model: &str, project: &str, out: &mut Vec<u8>) {
    out.reserve(body.len() + model.len() + project.len() + 40);
    out.extend_from_slice(b"{\"model\":");
    crate::json::write_string(out, model);
    out.extend_from_slice(b",\"project\":");
    crate::json::write_string(out, project);
    out.extend_from_slice(b",\"request\":");
    out.extend_from_slice(body);
    out.push(b'}');
}

/// Wraps a Gemini `countTokens` body (written as is).
pub fn wrap_count(body: &[u8], out: &mut Vec<u8>) {
    out.reserve(body.len() + 12);
    out.extend_from_slice(b"{\"request\":");
    out.extend_from_slice(body);
    out.push(b'}');
}

/// The Gemini answer inside a Cloud Code Assist answer or stream event
/// (the translator's, which the stream and response arms use).
pub use crate::translate::format::gemini_cli_inner as unwrap;

/// A Cloud Code Assist `countTokens` body: a Gemini client's body as is, or
/// a Claude `count_tokens` body translated to Gemini (CLIProxyAPI drops
/// `model`, `project` and `safetySettings`), in `{"request": ...}`. `None`
/// for other clients or a body that does not translate.
pub fn count_request(
    client: crate::translate::format::Format,
    body: &[u8],
    model: &str,
) -> Option<Vec<u8>> {
    use crate::translate::format::Format;
    use crate::translate::request::{translate_request, ReqOpts};
    let mut out = Vec::with_capacity(body.len() + 12);
    match client {
        Format::Gemini => {
            wrap_count(body, &mut out);
            return Some(out);
        }
        Format::Claude => {}
        _ => return None,
    }
    let opts = ReqOpts {
        upstream_model: model,
        stream: false,
        claude_default_max_tokens: None,
    };
    let mut inner = Vec::new();
    translate_request(Format::Claude, Format::Gemini, body, &opts, &mut inner).ok()?;
    let inner = match crate::json::span::get(&inner, b"safetySettings") {
        Some(_) => super::without_member(&inner, b"safetySettings")?,
        None => inner,
    };
    wrap_count(&inner, &mut out);
    Some(out)
}
