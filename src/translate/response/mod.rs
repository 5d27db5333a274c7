//! Non-stream response translation (error bodies live in [`crate::translate::error`]).
//!
//! Guarantees:
//! - [`translate_response`] never panics; on success `out` holds one valid JSON
//!   document; on error `out` is unchanged.
//! - Same format (and Codex → OpenAI Responses) copies the upstream body
//!   unchanged (a Codex `response.completed` event is unwrapped to its
//!   `response`).
//! - Text, reasoning (as `reasoning_content` in OpenAI Chat), tool calls, usage
//!   (cached and reasoning tokens included) and the finish reason cross every
//!   pair; OpenAI Chat output also carries `native_finish_reason`, the
//!   upstream's reason lower-cased.

use crate::json::tree::{self as json, Node};
use crate::json::write::Writer;
pub use crate::translate::error::error_body;
use crate::translate::error::TranslateError;
use crate::translate::format::Format;
use crate::translate::request::emit::sanitize_claude_id;
use crate::translate::request::ir::{Args, Text};
use crate::translate::tools::{custom_input, ClientTools};
use std::borrow::Cow;

/// Context for one response translation.
#[derive(Clone, Copy, Debug)]
pub struct RespCtx<'m> {
    /// The model name the client asked for (written into the response).
    pub client_model: &'m str,
    /// Unix seconds for `created` / `created_at` fields.
    pub created: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Finish {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

#[derive(Clone, Debug)]
enum OutPart<'a> {
    Text(Text<'a>),
    Thinking {
        text: Text<'a>,
        sig: Option<Text<'a>>,
        origin: Format,
    },
    ToolCall {
        id: Cow<'a, str>,
        name: Text<'a>,
        args: Args<'a>,
    },
}

/// Token usage in OpenAI terms: `input` includes cached tokens, `output`
/// includes reasoning tokens.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    input: i64,
    output: i64,
    cached: i64,
    cache_creation: i64,
    reasoning: i64,
    total: Option<i64>,
}

impl Usage {
    fn total(&self) -> i64 {
        self.total.unwrap_or(self.input + self.output)
    }
}

#[derive(Clone, Debug)]
struct Resp<'a> {
    id: Cow<'a, str>,
    parts: Vec<OutPart<'a>>,
    finish: Finish,
    /// The upstream's own finish reason.
    native: Cow<'a, str>,
    usage: Option<Usage>,
}

fn text_of<'a>(n: &Node<'a>) -> Option<Text<'a>> {
    n.jstr().map(Text::J)
}

fn int(n: &Node<'_>, path: &str) -> i64 {
    n.path(path).and_then(|v| v.i64()).unwrap_or(0)
}

fn from_chat<'a>(root: &Node<'a>) -> Resp<'a> {
    let choice = root.at("choices").arr().first();
    let msg = choice.map(|c| c.at("message"));
    let mut parts = Vec::new();
    if let Some(m) = msg {
        if let Some(r) = m
            .get("reasoning_content")
            .or_else(|| m.get("reasoning"))
            .and_then(text_of)
        {
            if !r.is_empty() {
                parts.push(OutPart::Thinking {
                    text: r,
                    sig: None,
                    origin: Format::OpenAiChat,
                });
            }
        }
        let content = m.at("content");
        if let Some(t) = text_of(content) {
            if !t.is_empty() {
                parts.push(OutPart::Text(t));
            }
        }
        // Some OpenAI-compatible providers return content as text parts.
        for p in content.arr() {
            if let Some(t) = p.get("text").and_then(text_of) {
                parts.push(OutPart::Text(t));
            }
        }
        for tc in m.at("tool_calls").arr() {
            let f = tc.at("function");
            let Some(name) = f.get("name").and_then(text_of) else {
                continue;
            };
            parts.push(OutPart::ToolCall {
                id: tc.at("id").s(),
                name,
                args: f
                    .at("arguments")
                    .jstr()
                    .map(Args::Str)
                    .unwrap_or(Args::Json("{}")),
            });
        }
    }
    let native = choice
        .map(|c| c.at("finish_reason").s())
        .unwrap_or_default();
    let finish = match native.as_ref() {
        "length" => Finish::Length,
        "tool_calls" | "function_call" => Finish::ToolCalls,
        "content_filter" => Finish::ContentFilter,
        _ if parts.iter().any(|p| matches!(p, OutPart::ToolCall { .. })) => Finish::ToolCalls,
        _ => Finish::Stop,
    };
    let usage = root.get("usage").filter(|u| u.is_obj()).map(|u| Usage {
        input: int(u, "prompt_tokens"),
        output: int(u, "completion_tokens"),
        cached: int(u, "prompt_tokens_details.cached_tokens"),
        cache_creation: 0,
        reasoning: int(u, "completion_tokens_details.reasoning_tokens"),
        total: u.get("total_tokens").and_then(|t| t.i64()),
    });
    Resp {
        id: root.at("id").s(),
        parts,
        finish,
        native,
        usage,
    }
}

fn from_claude<'a>(root: &Node<'a>) -> Resp<'a> {
    let mut parts = Vec::new();
    for b in root.at("content").arr() {
        match b.at("type").s().as_ref() {
            "text" => {
                if let Some(t) = b.get("text").and_then(text_of) {
                    parts.push(OutPart::Text(t));
                }
            }
            "thinking" => {
                if let Some(t) = b.get("thinking").and_then(text_of) {
                    parts.push(OutPart::Thinking {
                        text: t,
                        sig: b.get("signature").and_then(text_of),
                        origin: Format::Claude,
                    });
                }
            }
            "tool_use" => {
                let Some(name) = b.get("name").and_then(text_of) else {
                    continue;
                };
                let input = b.at("input");
                parts.push(OutPart::ToolCall {
                    id: b.at("id").s(),
                    name,
                    args: Args::Json(if input.is_obj() { input.raw } else { "{}" }),
                });
            }
            _ => {}
        }
    }
    let native = root.at("stop_reason").s();
    let finish = match native.as_ref() {
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "refusal" => Finish::ContentFilter,
        _ => Finish::Stop,
    };
    let usage = root.get("usage").filter(|u| u.is_obj()).map(|u| {
        let cached = int(u, "cache_read_input_tokens");
        let creation = int(u, "cache_creation_input_tokens");
        Usage {
            input: int(u, "input_tokens") + cached + creation,
            output: int(u, "output_tokens"),
            cached,
            cache_creation: creation,
            reasoning: 0,
            total: None,
        }
    });
    Resp {
        id: root.at("id").s(),
        parts,
        finish,
        native,
        usage,
    }
}

fn from_gemini<'a>(root: &Node<'a>) -> Resp<'a> {
    // Vertex/Gemini-CLI wrap the body in {"response": ...}.
    let root = match root.get("response") {
        Some(r) if r.is_obj() && root.get("candidates").is_none() => r,
        _ => root,
    };
    let cand = root.at("candidates").arr().first();
    let mut parts = Vec::new();
    let mut n = 0;
    if let Some(c) = cand {
        for p in c.path("content.parts").map(|p| p.arr()).unwrap_or(&[]) {
            let sig = p.get("thoughtSignature").and_then(text_of);
            if let Some(t) = p.get("text").and_then(text_of) {
                if p.at("thought").bool() == Some(true) {
                    parts.push(OutPart::Thinking {
                        text: t,
                        sig,
                        origin: Format::Gemini,
                    });
                } else if !t.is_empty() {
                    parts.push(OutPart::Text(t));
                }
            } else if let Some(fc) = p.get("functionCall") {
                let Some(name) = fc.get("name").and_then(text_of) else {
                    continue;
                };
                n += 1;
                let id = match fc.get("id").and_then(|i| i.str()) {
                    Some(i) if !i.is_empty() => i,
                    _ => Cow::Owned(format!("call_{}_{}", name.get(), n)),
                };
                let args = fc.at("args");
                parts.push(OutPart::ToolCall {
                    id,
                    name,
                    args: Args::Json(if args.is_obj() { args.raw } else { "{}" }),
                });
            }
        }
    }
    let native = cand.map(|c| c.at("finishReason").s()).unwrap_or_default();
    let has_calls = parts.iter().any(|p| matches!(p, OutPart::ToolCall { .. }));
    let finish = match native.as_ref() {
        _ if has_calls => Finish::ToolCalls,
        "MAX_TOKENS" => Finish::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            Finish::ContentFilter
        }
        _ => Finish::Stop,
    };
    let usage = root.get("usageMetadata").filter(|u| u.is_obj()).map(|u| {
        let thoughts = int(u, "thoughtsTokenCount");
        Usage {
            input: int(u, "promptTokenCount"),
            output: int(u, "candidatesTokenCount") + thoughts,
            cached: int(u, "cachedContentTokenCount"),
            cache_creation: 0,
            reasoning: thoughts,
            total: u.get("totalTokenCount").and_then(|t| t.i64()),
        }
    });
    Resp {
        id: root.at("responseId").s(),
        parts,
        finish,
        native,
        usage,
    }
}

/// The response object of a Responses/Codex body (unwrapping a
/// `response.completed` event).
fn responses_root<'n, 'a>(root: &'n Node<'a>) -> &'n Node<'a> {
    match root.get("response") {
        Some(r) if r.is_obj() && root.get("output").is_none() => r,
        _ => root,
    }
}

fn from_responses<'a>(root: &Node<'a>) -> Resp<'a> {
    let root = responses_root(root);
    let mut parts = Vec::new();
    for it in root.at("output").arr() {
        match it.at("type").s().as_ref() {
            "message" => {
                for c in it.at("content").arr() {
                    if let Some(t) = c.get("text").and_then(text_of) {
                        parts.push(OutPart::Text(t));
                    } else if let Some(t) = c.get("refusal").and_then(text_of) {
                        parts.push(OutPart::Text(t));
                    }
                }
            }
            "reasoning" => {
                let mut text = String::new();
                for s in it.at("summary").arr() {
                    if !text.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(&s.at("text").s());
                }
                parts.push(OutPart::Thinking {
                    text: Text::S(Cow::Owned(text)),
                    sig: it.get("encrypted_content").and_then(text_of),
                    origin: Format::OpenAiResponses,
                });
            }
            "function_call" | "custom_tool_call" => {
                let Some(name) = it.get("name").and_then(text_of) else {
                    continue;
                };
                parts.push(OutPart::ToolCall {
                    id: it
                        .get("call_id")
                        .or_else(|| it.get("id"))
                        .map(|i| i.s())
                        .unwrap_or_default(),
                    name,
                    args: it
                        .get("arguments")
                        .or_else(|| it.get("input"))
                        .and_then(|a| a.jstr())
                        .map(Args::Str)
                        .unwrap_or(Args::Json("{}")),
                });
            }
            _ => {}
        }
    }
    let status = root.at("status").s();
    let reason = root.path("incomplete_details.reason").map(|r| r.s());
    let has_calls = parts.iter().any(|p| matches!(p, OutPart::ToolCall { .. }));
    let (finish, native) = match (status.as_ref(), reason) {
        (_, _) if has_calls => (Finish::ToolCalls, status.clone()),
        ("incomplete", Some(r)) if r == "content_filter" => (Finish::ContentFilter, r),
        ("incomplete", Some(r)) => (Finish::Length, r),
        ("incomplete", None) => (Finish::Length, Cow::Borrowed("max_output_tokens")),
        _ => (Finish::Stop, status.clone()),
    };
    let usage = root.get("usage").filter(|u| u.is_obj()).map(|u| Usage {
        input: int(u, "input_tokens"),
        output: int(u, "output_tokens"),
        cached: int(u, "input_tokens_details.cached_tokens"),
        cache_creation: 0,
        reasoning: int(u, "output_tokens_details.reasoning_tokens"),
        total: u.get("total_tokens").and_then(|t| t.i64()),
    });
    Resp {
        id: root.at("id").s(),
        parts,
        finish,
        native,
        usage,
    }
}

fn args_str(w: &mut Writer<'_>, a: &Args<'_>) {
    match a {
        Args::Str(j) => {
            w.jstr(*j);
        }
        Args::Json(raw) => {
            w.str(raw);
        }
        Args::Input(j) => {
            let mut v = Vec::new();
            Writer::new(&mut v).obj().key("input").jstr(*j).end_obj();
            w.str(&String::from_utf8_lossy(&v));
        }
    }
}

fn args_obj(w: &mut Writer<'_>, a: &Args<'_>) {
    match a {
        Args::Json(raw) => {
            w.raw(raw);
        }
        Args::Str(j) => {
            let s = j.get();
            match json::parse_str(&s) {
                Ok(v) if v.is_obj() => w.raw(&s),
                _ => w.raw("{}"),
            };
        }
        Args::Input(j) => {
            w.obj().key("input").jstr(*j).end_obj();
        }
    }
}

fn id_or<'a>(id: &'a str, prefix: &str, created: u64) -> Cow<'a, str> {
    if id.is_empty() {
        Cow::Owned(format!("{prefix}{created:x}"))
    } else {
        Cow::Borrowed(id)
    }
}

fn to_chat(r: &Resp<'_>, ctx: &RespCtx<'_>, w: &mut Writer<'_>) {
    w.obj()
        .key("id")
        .str(&id_or(&r.id, "chatcmpl-", ctx.created));
    w.key("object").str("chat.completion");
    w.key("created").uint(ctx.created);
    w.key("model").str(ctx.client_model);
    w.key("choices").arr().obj().key("index").int(0);
    w.key("message")
        .obj()
        .key("role")
        .str("assistant")
        .key("content");
    let texts: Vec<&Text<'_>> = r
        .parts
        .iter()
        .filter_map(|p| match p {
            OutPart::Text(t) => Some(t),
            _ => None,
        })
        .collect();
    match texts.as_slice() {
        [] => {
            w.null();
        }
        [one] => one.write(w),
        many => {
            let s: String = many.iter().map(|t| t.get()).collect();
            w.str(&s);
        }
    }
    let reasoning: String = r
        .parts
        .iter()
        .filter_map(|p| match p {
            OutPart::Thinking { text, .. } => Some(text.get()),
            _ => None,
        })
        .collect();
    if !reasoning.is_empty() {
        w.key("reasoning_content").str(&reasoning);
    }
    if r.parts
        .iter()
        .any(|p| matches!(p, OutPart::ToolCall { .. }))
    {
        w.key("tool_calls").arr();
        for p in &r.parts {
            if let OutPart::ToolCall { id, name, args } = p {
                w.obj().key("id").str(id).key("type").str("function");
                w.key("function").obj().key("name");
                name.write(w);
                w.key("arguments");
                args_str(w, args);
                w.end_obj().end_obj();
            }
        }
        w.end_arr();
    }
    w.end_obj();
    w.key("finish_reason").str(match r.finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
        Finish::ContentFilter => "content_filter",
    });
    w.key("native_finish_reason")
        .str(&r.native.to_ascii_lowercase());
    w.end_obj().end_arr();
    if let Some(u) = &r.usage {
        w.key("usage").obj();
        w.key("prompt_tokens").int(u.input);
        w.key("completion_tokens").int(u.output);
        w.key("total_tokens").int(u.total());
        w.key("prompt_tokens_details").obj();
        w.key("cached_tokens").int(u.cached);
        if u.cache_creation > 0 {
            w.key("cached_creation_tokens").int(u.cache_creation);
        }
        w.end_obj();
        w.key("completion_tokens_details").obj();
        w.key("reasoning_tokens").int(u.reasoning).end_obj();
        w.end_obj();
    }
    w.end_obj();
}

fn to_claude(r: &Resp<'_>, ctx: &RespCtx<'_>, w: &mut Writer<'_>) {
    let mut gen = 0u32;
    w.obj().key("id").str(&id_or(&r.id, "msg_", ctx.created));
    w.key("type").str("message").key("role").str("assistant");
    w.key("model").str(ctx.client_model);
    w.key("content").arr();
    for p in &r.parts {
        match p {
            OutPart::Thinking { text, sig, origin } => {
                w.obj().key("type").str("thinking").key("thinking");
                text.write(w);
                w.key("signature");
                // Claude's own signature, or a Responses/Codex reasoning
                // item's encrypted content (recognised on the way back).
                match (origin, sig) {
                    (Format::Claude | Format::OpenAiResponses | Format::Codex, Some(s)) => {
                        s.write(w)
                    }
                    _ => {
                        w.str("");
                    }
                }
                w.end_obj();
            }
            OutPart::Text(t) => {
                w.obj().key("type").str("text").key("text");
                t.write(w);
                w.end_obj();
            }
            OutPart::ToolCall { id, name, args } => {
                w.obj().key("type").str("tool_use").key("id");
                w.str(&sanitize_claude_id(id, &mut gen)).key("name");
                name.write(w);
                w.key("input");
                args_obj(w, args);
                w.end_obj();
            }
        }
    }
    w.end_arr();
    let stop = match r.finish {
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "refusal",
        Finish::Stop if r.native == "stop_sequence" => "stop_sequence",
        Finish::Stop => "end_turn",
    };
    w.key("stop_reason").str(stop);
    w.key("stop_sequence").null();
    let u = r.usage.unwrap_or_default();
    w.key("usage").obj();
    w.key("input_tokens")
        .int((u.input - u.cached - u.cache_creation).max(0));
    w.key("output_tokens").int(u.output);
    if u.cached > 0 {
        w.key("cache_read_input_tokens").int(u.cached);
    }
    if u.cache_creation > 0 {
        w.key("cache_creation_input_tokens").int(u.cache_creation);
    }
    w.end_obj();
    w.end_obj();
}

fn to_gemini(r: &Resp<'_>, ctx: &RespCtx<'_>, w: &mut Writer<'_>) {
    w.obj().key("candidates").arr().obj();
    w.key("content")
        .obj()
        .key("role")
        .str("model")
        .key("parts")
        .arr();
    for p in &r.parts {
        match p {
            OutPart::Thinking { text, sig, origin } => {
                w.obj().key("text");
                text.write(w);
                w.key("thought").bool(true);
                if let (Format::Gemini, Some(s)) = (origin, sig) {
                    w.key("thoughtSignature");
                    s.write(w);
                }
                w.end_obj();
            }
            OutPart::Text(t) => {
                w.obj().key("text");
                t.write(w);
                w.end_obj();
            }
            OutPart::ToolCall { id, name, args } => {
                w.obj()
                    .key("functionCall")
                    .obj()
                    .key("id")
                    .str(id)
                    .key("name");
                name.write(w);
                w.key("args");
                args_obj(w, args);
                w.end_obj().end_obj();
            }
        }
    }
    w.end_arr().end_obj();
    w.key("finishReason").str(match r.finish {
        Finish::Stop | Finish::ToolCalls => "STOP",
        Finish::Length => "MAX_TOKENS",
        Finish::ContentFilter => "SAFETY",
    });
    w.key("index").int(0);
    w.end_obj().end_arr();
    if let Some(u) = &r.usage {
        w.key("usageMetadata").obj();
        w.key("promptTokenCount").int(u.input);
        w.key("candidatesTokenCount").int(u.output - u.reasoning);
        w.key("totalTokenCount").int(u.total());
        if u.reasoning > 0 {
            w.key("thoughtsTokenCount").int(u.reasoning);
        }
        if u.cached > 0 {
            w.key("cachedContentTokenCount").int(u.cached);
        }
        w.end_obj();
    }
    w.key("modelVersion").str(ctx.client_model);
    if !r.id.is_empty() {
        w.key("responseId").str(&r.id);
    }
    w.end_obj();
}

fn to_responses(r: &Resp<'_>, ctx: &RespCtx<'_>, tools: Option<&ClientTools>, w: &mut Writer<'_>) {
    let id = id_or(&r.id, "resp_", ctx.created);
    w.obj().key("id").str(&id).key("object").str("response");
    w.key("created_at").uint(ctx.created);
    let incomplete = matches!(r.finish, Finish::Length | Finish::ContentFilter);
    w.key("status").str(if incomplete {
        "incomplete"
    } else {
        "completed"
    });
    if incomplete {
        w.key("incomplete_details").obj().key("reason");
        w.str(if r.finish == Finish::Length {
            "max_output_tokens"
        } else {
            "content_filter"
        });
        w.end_obj();
    }
    w.key("model").str(ctx.client_model);
    w.key("output").arr();
    let mut k = 0;
    let mut item = 0;
    while k < r.parts.len() {
        item += 1;
        match &r.parts[k] {
            OutPart::Thinking { text, sig, origin } => {
                w.obj().key("id").str(&format!("rs_{id}_{item}"));
                w.key("type").str("reasoning").key("summary").arr();
                if !text.is_empty() {
                    w.obj().key("type").str("summary_text").key("text");
                    text.write(w);
                    w.end_obj();
                }
                w.end_arr();
                if let (Format::OpenAiResponses | Format::Codex, Some(s)) = (origin, sig) {
                    w.key("encrypted_content");
                    s.write(w);
                }
                w.end_obj();
            }
            OutPart::Text(_) => {
                w.obj().key("id").str(&format!("msg_{id}_{item}"));
                w.key("type").str("message").key("status").str("completed");
                w.key("role").str("assistant").key("content").arr();
                while let Some(OutPart::Text(t)) = r.parts.get(k) {
                    w.obj().key("type").str("output_text").key("text");
                    t.write(w);
                    w.key("annotations").arr().end_arr().end_obj();
                    k += 1;
                }
                w.end_arr().end_obj();
                continue;
            }
            OutPart::ToolCall {
                id: cid,
                name,
                args,
            } => {
                if let Some(t) = tools {
                    if client_tool_call(t, cid, name, args, &format!("{id}_{item}"), w) {
                        k += 1;
                        continue;
                    }
                }
                w.obj().key("id").str(&format!("fc_{id}_{item}"));
                w.key("type")
                    .str("function_call")
                    .key("status")
                    .str("completed");
                w.key("call_id").str(cid).key("name");
                name.write(w);
                w.key("arguments");
                args_str(w, args);
                w.end_obj();
            }
        }
        k += 1;
    }
    w.end_arr();
    if let Some(u) = &r.usage {
        w.key("usage").obj();
        w.key("input_tokens").int(u.input);
        w.key("input_tokens_details")
            .obj()
            .key("cached_tokens")
            .int(u.cached)
            .end_obj();
        w.key("output_tokens").int(u.output);
        w.key("output_tokens_details").obj();
        w.key("reasoning_tokens").int(u.reasoning).end_obj();
        w.key("total_tokens").int(u.total());
        w.end_obj();
    }
    w.end_obj();
}

/// Translate a non-stream `from` (upstream) response body into the `to`
/// (client) format, appending to `out`.
pub fn translate_response(
    from: Format,
    to: Format,
    body: &[u8],
    ctx: &RespCtx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    translate_response_tools(from, to, body, ctx, None, out)
}

/// [`translate_response`] for a Responses client that declared `custom` or
/// `namespace` tools: their calls come back as `custom_tool_call` items /
/// `function_call` items with a `namespace` (see `translate::tools`).
pub fn translate_response_tools(
    from: Format,
    to: Format,
    body: &[u8],
    ctx: &RespCtx<'_>,
    tools: Option<&ClientTools>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    let root = json::parse(body).map_err(|e| TranslateError {
        message: format!("invalid upstream response: {e}"),
    })?;
    if !root.is_obj() {
        return Err(TranslateError {
            message: "invalid upstream response: expected a JSON object".into(),
        });
    }
    let norm = |f: Format| {
        if f == Format::Codex {
            Format::OpenAiResponses
        } else {
            f
        }
    };
    if norm(from) == norm(to) {
        let r = if norm(from) == Format::OpenAiResponses {
            responses_root(&root)
        } else {
            &root
        };
        out.extend_from_slice(r.raw.as_bytes());
        return Ok(());
    }
    let resp = match from {
        Format::OpenAiChat => from_chat(&root),
        Format::Claude => from_claude(&root),
        Format::Gemini => from_gemini(&root),
        Format::OpenAiResponses | Format::Codex => from_responses(&root),
    };
    let mut w = Writer::new(out);
    match to {
        Format::OpenAiChat => to_chat(&resp, ctx, &mut w),
        Format::Claude => to_claude(&resp, ctx, &mut w),
        Format::Gemini => to_gemini(&resp, ctx, &mut w),
        Format::OpenAiResponses | Format::Codex => to_responses(&resp, ctx, tools, &mut w),
    }
    Ok(())
}

/// A call to a client `custom` or namespaced tool as the Responses item the
/// client declared it as (see `translate::tools`); false when `name` is a
/// plain function.
fn client_tool_call(
    t: &ClientTools,
    call_id: &str,
    name: &Text<'_>,
    args: &Args<'_>,
    suffix: &str,
    w: &mut Writer<'_>,
) -> bool {
    let esc_name: Cow<'_, [u8]> = match name {
        Text::J(j) => Cow::Borrowed(j.raw.as_bytes()),
        Text::S(s) => {
            let mut v = Vec::new();
            crate::json::escape::escape_bytes_into(&mut v, s.as_bytes());
            Cow::Owned(v)
        }
    };
    let split = t.split(&esc_name);
    if t.is_custom(&esc_name) {
        let text: Cow<'_, str> = match args {
            Args::Str(j) => j.get(),
            Args::Json(raw) => Cow::Borrowed(raw),
            Args::Input(j) => {
                w.obj().key("id").str(&format!("ctc_{suffix}"));
                w.key("type")
                    .str("custom_tool_call")
                    .key("status")
                    .str("completed");
                w.key("call_id").str(call_id);
                w.key("name")
                    .raw_str(split.map(|s| s.1).unwrap_or(&esc_name));
                if let Some((ns, _)) = split {
                    w.key("namespace").raw_str(ns);
                }
                w.key("input").jstr(*j).end_obj();
                return true;
            }
        };
        let mut input = Vec::new();
        custom_input(&text, &mut input);
        w.obj().key("id").str(&format!("ctc_{suffix}"));
        w.key("type")
            .str("custom_tool_call")
            .key("status")
            .str("completed");
        w.key("call_id").str(call_id);
        w.key("name")
            .raw_str(split.map(|s| s.1).unwrap_or(&esc_name));
        if let Some((ns, _)) = split {
            w.key("namespace").raw_str(ns);
        }
        w.key("input").raw_str(&input).end_obj();
        return true;
    }
    let Some((ns, child)) = split else {
        return false;
    };
    w.obj().key("id").str(&format!("fc_{suffix}"));
    w.key("type")
        .str("function_call")
        .key("status")
        .str("completed");
    w.key("call_id").str(call_id);
    w.key("name").raw_str(child).key("namespace").raw_str(ns);
    w.key("arguments");
    args_str(w, args);
    w.end_obj();
    true
}
