//! Token counts: translated to another format's count endpoint (Claude
//! `count_tokens` <-> Gemini `countTokens`) or estimated locally for
//! upstreams without one.

use super::*;

/// A token-count request for another format's count endpoint: Claude
/// `count_tokens` <-> Gemini `countTokens`. `None` for other pairs or a body
/// that does not translate.
pub(super) fn count_request(
    client: Format,
    upstream: Format,
    body: &[u8],
    model: &str,
) -> Option<Vec<u8>> {
    use serde_json::{json, Value};
    let opts = ReqOpts {
        upstream_model: model,
        stream: false,
        claude_default_max_tokens: None,
    };
    let mut out = Vec::new();
    match (client, upstream) {
        (Format::Claude, Format::Gemini) => {
            translate_request(Format::Claude, Format::Gemini, body, &opts, &mut out).ok()?;
            let mut req: Value = serde_json::from_slice(&out).ok()?;
            if let Some(m) = req.as_object_mut() {
                m.insert("model".into(), json!(format!("models/{model}")));
                m.remove("generationConfig");
                m.remove("safetySettings");
            }
            serde_json::to_vec(&json!({ "generateContentRequest": req })).ok()
        }
        (Format::Gemini, Format::Claude) => {
            // countTokens takes `contents` or a whole `generateContentRequest`.
            let v: Value = serde_json::from_slice(body).ok()?;
            let inner = v.get("generateContentRequest").cloned().unwrap_or(v);
            let inner = serde_json::to_vec(&inner).ok()?;
            translate_request(Format::Gemini, Format::Claude, &inner, &opts, &mut out).ok()?;
            let mut req: Value = serde_json::from_slice(&out).ok()?;
            // count_tokens accepts only these members.
            if let Some(m) = req.as_object_mut() {
                m.retain(|k, _| {
                    matches!(
                        k.as_str(),
                        "model" | "messages" | "system" | "tools" | "tool_choice" | "thinking"
                    )
                });
            }
            serde_json::to_vec(&req).ok()
        }
        _ => None,
    }
}

/// Answers a token-count request locally ([`crate::tokens`]): the body is
/// translated to the upstream's format (OpenAI Chat or Responses), its text
/// counted with the model's tiktoken encoding, and the count written in the
/// client's shape: Claude `{"input_tokens":n}`, Gemini
/// `{"totalTokens":n,"promptTokensDetails":[{"modality":"TEXT","tokenCount":n}]}`.
pub(super) async fn local_count(
    conn: &mut Conn,
    call: &Call<'_>,
    kind: Kind,
    upstream_model: &str,
) -> bool {
    use crate::tokens;
    let model = crate::models::split_suffix(upstream_model.trim()).0;
    let (to, counter) = match kind {
        Kind::Codex => (Format::Codex, tokens::codex_counter(model)),
        _ => (Format::OpenAiChat, tokens::compat_counter(model)),
    };
    // Gemini `countTokens` takes `contents` or a whole `generateContentRequest`.
    let parsed = crate::json::tree::parse(call.body);
    let inner: &[u8] = match &parsed {
        Ok(root) if call.client == Format::Gemini => root
            .get("generateContentRequest")
            .map_or(call.body, |n| n.raw.as_bytes()),
        _ => call.body,
    };
    let opts = ReqOpts {
        upstream_model: model,
        stream: false,
        claude_default_max_tokens: None,
    };
    let mut out = Vec::new();
    if let Err(e) = translate_request(call.client, to, inner, &opts, &mut out) {
        return client_error(conn, call.client, e.status(), &e.message).await;
    }
    let text = match kind {
        Kind::Codex => tokens::codex_text(&out),
        _ => tokens::chat_text(&out),
    };
    let Some(n) = text.ok().and_then(|t| tokens::count_text(counter, &t)) else {
        return client_error(conn, call.client, 500, "token counting failed").await;
    };
    let body = match call.client {
        Format::Claude => format!(r#"{{"input_tokens":{n}}}"#),
        Format::Gemini => format!(
            r#"{{"totalTokens":{n},"promptTokensDetails":[{{"modality":"TEXT","tokenCount":{n}}}]}}"#
        ),
        _ => format!(
            r#"{{"usage":{{"prompt_tokens":{n},"completion_tokens":0,"total_tokens":{n}}}}}"#
        ),
    };
    reply::json(&mut conn.out, 200, body.as_bytes(), false, &[]);
    conn.flush().await.is_ok()
}

/// Relays a translated token count: `{"totalTokens":n}` <-> `{"input_tokens":n}`
/// (a Gemini CLI account's `{"totalTokens":n}` to a Gemini client gains
/// `promptTokensDetails`).
pub(super) async fn relay_count(
    w: &Rc<Worker>,
    conn: &mut Conn,
    mut resp: Response,
    client: Format,
    fwd: &[u8],
) -> Relayed {
    let mut body = Vec::new();
    let read = monoio::select! {
        biased;
        r = resp.read_to_end(&mut body, MAX_ERROR_BODY) => Some(r),
        _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
    };
    match read {
        None => return Relayed::ClientGone,
        Some(Err(e)) => return Relayed::NoFirstByte(e.to_string()),
        Some(Ok(())) => resp.release(&w.pool),
    }
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return Relayed::NoFirstByte("unparsable token count from upstream".into()),
    };
    let out = count_answer(client, &v);
    reply::json_forwarding(
        &mut conn.out,
        200,
        out.to_string().as_bytes(),
        false,
        &[],
        fwd,
    );
    Relayed::Done(conn.flush().await.is_ok(), false)
}

/// The client's token-count answer for an upstream count answer `v`.
pub(super) fn count_answer(client: Format, v: &serde_json::Value) -> serde_json::Value {
    match client {
        Format::Claude => {
            serde_json::json!({ "input_tokens": v["totalTokens"].as_u64().unwrap_or(0) })
        }
        _ => match v["totalTokens"].as_u64() {
            // A Gemini CLI account (Cloud Code Assist `countTokens`): the
            // count in Gemini's full shape, as CLIProxyAPI rebuilds it.
            Some(n) => serde_json::json!({
                "totalTokens": n,
                "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": n }],
            }),
            None => serde_json::json!({ "totalTokens": v["input_tokens"].as_u64().unwrap_or(0) }),
        },
    }
}
