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

mod chat;
mod claude;
mod gemini;
mod responses;
use chat::*;
use claude::*;
use gemini::*;
use responses::*;

use crate::json::tree::{self as json, Node};
use crate::json::write::Writer;
pub use crate::translate::error::error_body;
use crate::translate::error::TranslateError;
use crate::translate::format::Format;
use crate::translate::request::emit::{args_str, sanitize_claude_id};
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
    // A Cloud Code Assist answer is a Gemini answer under `response`.
    let (from, body) = if from == Format::GeminiCli {
        (
            Format::Gemini,
            crate::translate::format::gemini_cli_inner(body),
        )
    } else {
        (from, body)
    };
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
        Format::Gemini | Format::GeminiCli => from_gemini(&root),
        Format::OpenAiResponses | Format::Codex => from_responses(&root),
    };
    let mut w = Writer::new(out);
    match to {
        Format::OpenAiChat => to_chat(&resp, ctx, &mut w),
        Format::Claude => to_claude(&resp, ctx, &mut w),
        Format::Gemini | Format::GeminiCli => to_gemini(&resp, ctx, &mut w),
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
        // The arguments as the `input` string: already one, or wrapped.
        let text: Cow<'_, str> = match args {
            Args::Input(j) => {
                w.key("input").jstr(*j).end_obj();
                return true;
            }
            Args::Str(j) => j.get(),
            Args::Json(raw) => Cow::Borrowed(raw),
        };
        let mut input = Vec::new();
        custom_input(&text, &mut input);
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
