//! Whole-body request translation between client and upstream formats.
//!
//! Guarantees:
//! - [`translate_request`] never panics; on success `out` holds one valid JSON
//!   document; on error `out` is left as it was and the error message is fit
//!   for a 400 in the client's format ([`TranslateError::write_body`]).
//! - Same format: the body is copied with only `model` replaced (plus a
//!   thinking edit when the model carries a `(…)` suffix, and Claude's
//!   `max_tokens` default); every other byte of every other member is kept.
//! - OpenAI Responses → Codex edits the top level in place (CLIProxyAPI's
//!   native Codex clean-up); every other pair goes through a neutral
//!   [`ir::Req`] and a format emitter.
//! - Strings move between formats without re-escaping where possible; thinking
//!   signatures are copied byte for byte and only to their own provider family.

pub mod emit;
pub mod ir;
pub mod parse;
pub mod schema;

use crate::json::tree::{self, Kind, Node};
use crate::json::write::Writer;
use crate::translate::format::Format;
use crate::translate::thinking::{parse_suffix, Suffix, Summary, Thinking};

/// Options for one request translation.
#[derive(Clone, Copy, Debug)]
pub struct ReqOpts<'m> {
    /// Upstream model name; a `(…)` thinking suffix is honoured and stripped.
    pub upstream_model: &'m str,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// `max_tokens` for a Claude upstream when the client gave none: the
    /// registry's value for the model. `None` → 32000 when translating from
    /// another format; for Claude → Claude `None` leaves the body alone.
    pub claude_default_max_tokens: Option<u32>,
}

pub use crate::translate::error::TranslateError;

/// Parse a request body into its root object.
fn parse_root(body: &[u8]) -> Result<Node<'_>, TranslateError> {
    let root =
        tree::parse(body).map_err(|e| TranslateError::new(format!("invalid request body: {e}")))?;
    if !root.is_obj() {
        return Err(TranslateError::new(
            "invalid request body: expected a JSON object",
        ));
    }
    Ok(root)
}

/// Translate a `from` (client) request body into a `to` (upstream) body,
/// appending to `out`.
pub fn translate_request(
    from: Format,
    to: Format,
    body: &[u8],
    opts: &ReqOpts<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    translate_request_suffixed(from, to, body, opts, None, out)
}

/// [`translate_request`] for a model whose thinking suffix was already split
/// off and parsed (the pipeline does it once per request, when routing):
/// with `Some`, `opts.upstream_model` is sent as is and `suffix` decides the
/// thinking; with `None`, `opts.upstream_model` is split as usual.
pub fn translate_request_suffixed(
    from: Format,
    to: Format,
    body: &[u8],
    opts: &ReqOpts<'_>,
    suffix: Option<Suffix>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    translate_with(from, to, body, opts, suffix, true, out)
}

/// [`translate_request_suffixed`]; `fast`: whether an OpenAI Chat body may
/// be read without its tree ([`parse::chat_fast`]; tests compare both).
fn translate_with(
    from: Format,
    to: Format,
    body: &[u8],
    opts: &ReqOpts<'_>,
    suffix: Option<Suffix>,
    fast: bool,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    let from = match from {
        Format::Codex => Format::OpenAiResponses,
        Format::GeminiCli => Format::Gemini,
        f => f,
    };
    // A Cloud Code Assist body is a Gemini body in an envelope that names
    // the account's project: `accounts::wire::gemini_cli::wrap` adds it.
    let to = if to == Format::GeminiCli {
        Format::Gemini
    } else {
        to
    };
    let suffix = match suffix {
        Some(s) => s.on(opts.upstream_model),
        None => parse_suffix(opts.upstream_model),
    };
    let model = suffix.base;
    // Thinking from the client's `model` suffix when the upstream model has none.
    let thinking_of = |client_model: Option<&str>| match suffix.thinking {
        None if !suffix.has_suffix => client_model.and_then(|m| parse_suffix(m).thinking),
        t => t,
    };
    let start = out.len();
    // An OpenAI Chat body read in one pass, without its tree (the same
    // request as the general path's; `None` falls back to it).
    if fast && from == Format::OpenAiChat && to != Format::OpenAiChat && !may_give_up(body) {
        // Filled and read in place: `Req` is large, a move is a copy.
        let mut req = ir::Req::default();
        if let Some(seed) = parse::chat_fast_into(body, &mut req) {
            let thinking = thinking_of(req.client_model.as_deref());
            if to == Format::Claude {
                req.session_seed = seed;
            }
            emit_req(&mut req, to, model, thinking, opts, out);
            debug_assert!(tree::parse(&out[start..]).is_ok());
            return Ok(());
        }
    }
    let root = parse_root(body)?;
    let client_model = root.get("model").and_then(|m| m.str());
    let thinking = thinking_of(client_model.as_deref());
    match (from, to) {
        (a, b) if a == b => same_format(a, &root, model, thinking, opts, out),
        (Format::OpenAiResponses, Format::Codex) => codex_native(&root, model, thinking, out),
        _ => {
            let mut req = match from {
                Format::OpenAiChat => parse::chat(&root),
                Format::OpenAiResponses | Format::Codex => parse::responses(&root),
                Format::Claude => parse::claude(&root),
                Format::Gemini | Format::GeminiCli => parse::gemini(&root),
            };
            if to == Format::Claude {
                req.session_seed = parse::session_seed(&root);
            }
            emit_req(&mut req, to, model, thinking, opts, out);
        }
    }
    debug_assert!(tree::parse(&out[start..]).is_ok());
    Ok(())
}

/// Bodies above this size are searched for what makes [`parse::chat_fast`]
/// give up before it reads them.
const FAST_PRECHECK_BYTES: usize = 8 * 1024;

/// Whether a large Chat body may hold a `tool` or `function` message, which
/// [`parse::chat_fast`] gives up on after reading the body up to it: such
/// a body goes to the tree directly, so it is never read twice. (Inside a
/// JSON string a quote is escaped, so `"tool"` only matches a string or
/// key token; bodies with `"function"` tools go to the tree too.)
fn may_give_up(body: &[u8]) -> bool {
    body.len() > FAST_PRECHECK_BYTES
        && (memchr::memmem::find(body, b"\"tool\"").is_some()
            || memchr::memmem::find(body, b"\"function\"").is_some())
}

/// Emits a parsed request for `to`: the thinking decided from the model
/// suffix applied, mid-conversation system text hoisted for formats with
/// one system prompt.
fn emit_req(
    req: &mut ir::Req<'_>,
    to: Format,
    model: &str,
    thinking: Option<Thinking>,
    opts: &ReqOpts<'_>,
    out: &mut Vec<u8>,
) {
    if let Some(t) = thinking {
        req.thinking = Some(t);
        // The suffix decides visibility too: off when it turns thinking
        // off; otherwise a body "off" (often implied by a body effort of
        // none) no longer applies.
        req.summary = match (t, req.summary) {
            (Thinking::None, _) => Some(Summary::Off),
            (_, Some(Summary::Off)) => None,
            (_, s) => s,
        };
    }
    if matches!(to, Format::Claude | Format::Gemini) {
        req.hoist_mid_system();
    }
    let eo = emit::EmitOpts {
        model,
        stream: opts.stream,
        claude_default_max_tokens: opts.claude_default_max_tokens,
    };
    match to {
        Format::Claude => emit::claude(req, &eo, out),
        Format::Gemini | Format::GeminiCli => emit::gemini(req, &eo, out),
        Format::OpenAiChat => emit::chat(req, &eo, out),
        Format::OpenAiResponses => emit::responses(req, &eo, false, out),
        Format::Codex => emit::responses(req, &eo, true, out),
    }
}

/// A top-level member edit: replace (or insert) `key` with a raw JSON value, or
/// delete it (`None`).
struct Edit {
    key: &'static str,
    val: Option<String>,
    /// Insert when missing (replacements only).
    insert: bool,
    done: bool,
}

fn set(key: &'static str, val: String) -> Edit {
    Edit {
        key,
        val: Some(val),
        insert: true,
        done: false,
    }
}

fn replace_only(key: &'static str, val: String) -> Edit {
    Edit {
        insert: false,
        ..set(key, val)
    }
}

fn del(key: &'static str) -> Edit {
    Edit {
        key,
        val: None,
        insert: false,
        done: false,
    }
}

/// Copy object `obj` to `w` applying `edits`; untouched members are copied as
/// raw bytes.
fn edit_object(obj: &Node<'_>, edits: &mut [Edit], w: &mut Writer<'_>) {
    w.obj();
    for (k, v) in obj.obj() {
        match edits.iter_mut().find(|e| k.is(e.key)) {
            Some(e) => {
                if !e.done {
                    if let Some(val) = &e.val {
                        w.key_j(*k).raw(val);
                    }
                }
                e.done = true;
            }
            None => {
                w.key_j(*k).raw(v.raw);
            }
        }
    }
    for e in edits.iter_mut().filter(|e| !e.done && e.insert) {
        if let Some(val) = &e.val {
            w.key(e.key).raw(val);
        }
        e.done = true;
    }
    w.end_obj();
}

/// The object `root[key]` (an empty one when absent or not an object) with
/// `edit` applied, as JSON text; the object's other members are kept.
fn with_member(root: &Node<'_>, key: &str, edit: Edit) -> String {
    let empty = Node {
        raw: "{}",
        kind: Kind::Obj(Vec::new()),
    };
    let obj = root.get(key).filter(|o| o.is_obj()).unwrap_or(&empty);
    let mut v = Vec::new();
    edit_object(obj, &mut [edit], &mut Writer::new(&mut v));
    String::from_utf8(v).unwrap_or_default()
}

fn json_str(s: &str) -> String {
    let mut v = Vec::with_capacity(s.len() + 2);
    Writer::new(&mut v).str(s);
    String::from_utf8(v).unwrap_or_default()
}

fn same_format(
    f: Format,
    root: &Node<'_>,
    model: &str,
    thinking: Option<Thinking>,
    opts: &ReqOpts<'_>,
    out: &mut Vec<u8>,
) {
    let mut edits: Vec<Edit> = Vec::new();
    match f {
        Format::Gemini => edits.push(replace_only("model", json_str(model))),
        _ => edits.push(set("model", json_str(model))),
    }
    match (f, thinking) {
        (Format::OpenAiChat, Some(t)) => {
            edits.push(set("reasoning_effort", json_str(t.effort())));
        }
        (Format::OpenAiResponses | Format::Codex, Some(t)) => {
            let mut v = Vec::new();
            let mut w = Writer::new(&mut v);
            let mut e = [set("effort", json_str(t.effort()))];
            match root.get("reasoning").filter(|r| r.is_obj()) {
                Some(r) => edit_object(r, &mut e, &mut w),
                None => edit_object(
                    &Node {
                        raw: "{}",
                        kind: Kind::Obj(Vec::new()),
                    },
                    &mut e,
                    &mut w,
                ),
            }
            edits.push(set("reasoning", String::from_utf8(v).unwrap_or_default()));
        }
        (Format::Claude, Some(t)) => {
            claude_thinking_edits(root, t, model, opts, &mut edits);
        }
        (Format::Gemini, Some(t)) => {
            let req = ir::Req {
                thinking: Some(t),
                ..ir::Req::default()
            };
            let mut tmp = Vec::new();
            emit::gemini(
                &req,
                &emit::EmitOpts {
                    model,
                    stream: false,
                    claude_default_max_tokens: None,
                },
                &mut tmp,
            );
            let tc = tree::parse(&tmp).ok().and_then(|n| {
                n.path("generationConfig.thinkingConfig")
                    .map(|t| t.raw.to_string())
            });
            if let Some(tc) = tc {
                let g = with_member(root, "generationConfig", set("thinkingConfig", tc));
                edits.push(set("generationConfig", g));
            }
        }
        _ => {}
    }
    if f == Format::Claude
        && root.get("max_tokens").is_none()
        && !edits.iter().any(|e| e.key == "max_tokens")
    {
        if let Some(m) = opts.claude_default_max_tokens {
            edits.push(set("max_tokens", m.to_string()));
        }
    }
    // Only the model changes: splice it into the original bytes, keeping every
    // other byte (whitespace included).
    if let [only] = edits.as_slice() {
        let dup = root.obj().iter().filter(|(k, _)| k.is("model")).count() > 1;
        if let (Some(val), Some(old), false) = (&only.val, root.get("model"), dup) {
            let base = root.raw.as_ptr() as usize;
            let start = old.raw.as_ptr() as usize - base;
            let end = start + old.raw.len();
            out.extend_from_slice(&root.raw.as_bytes()[..start]);
            out.extend_from_slice(val.as_bytes());
            out.extend_from_slice(&root.raw.as_bytes()[end..]);
            return;
        }
        if only.val.is_none() || f == Format::Gemini {
            out.extend_from_slice(root.raw.as_bytes());
            return;
        }
    }
    edit_object(root, &mut edits, &mut Writer::new(out));
}

/// OpenAI Responses → Codex: CLIProxyAPI's native clean-up, as top-level edits.
fn codex_native(root: &Node<'_>, model: &str, thinking: Option<Thinking>, out: &mut Vec<u8>) {
    let mut edits = vec![
        set("model", json_str(model)),
        set("stream", "true".into()),
        set("store", "false".into()),
        set("parallel_tool_calls", "true".into()),
        set("include", r#"["reasoning.encrypted_content"]"#.into()),
        del("max_output_tokens"),
        del("max_completion_tokens"),
        del("temperature"),
        del("top_p"),
        del("truncation"),
        del("prompt_cache_options"),
        del("prompt_cache_retention"),
        del("user"),
        del("stream_options"),
        del("previous_response_id"),
        del("safety_identifier"),
    ];
    if !root
        .at("service_tier")
        .jstr()
        .is_some_and(|s| s.is("priority"))
    {
        edits.push(del("service_tier"));
    }
    if root.get("instructions").is_none_or(|i| i.is_null()) {
        edits.push(set("instructions", "\"\"".into()));
    }
    // input: a string becomes one user message; system roles become developer.
    let input = root.at("input");
    if let Some(j) = input.jstr() {
        let mut v = Vec::new();
        let mut w = Writer::new(&mut v);
        w.arr()
            .obj()
            .key("type")
            .str("message")
            .key("role")
            .str("user");
        w.key("content")
            .arr()
            .obj()
            .key("type")
            .str("input_text")
            .key("text");
        w.jstr(j).end_obj().end_arr().end_obj().end_arr();
        edits.push(set("input", String::from_utf8(v).unwrap_or_default()));
    } else if input
        .arr()
        .iter()
        .any(|it| it.at("role").jstr().is_some_and(|r| r.is("system")))
    {
        let mut v = Vec::new();
        let mut w = Writer::new(&mut v);
        w.arr();
        for it in input.arr() {
            if it.at("role").jstr().is_some_and(|r| r.is("system")) {
                edit_object(it, &mut [set("role", "\"developer\"".into())], &mut w);
            } else {
                w.raw(it.raw);
            }
        }
        w.end_arr();
        edits.push(set("input", String::from_utf8(v).unwrap_or_default()));
    }
    // Reasoning: the suffix's effort wins; a client that asks for reasoning
    // without saying whether to summarise it gets `summary: "auto"` so the
    // reasoning is visible (CLIProxyAPI's Codex translators always ask).
    let body_effort = root
        .path("reasoning.effort")
        .and_then(|e| e.str())
        .and_then(|e| Thinking::from_effort(&e));
    let wants = thinking
        .or(body_effort)
        .is_some_and(|t| t != Thinking::None);
    let mut e = Vec::new();
    if let Some(t) = thinking {
        e.push(set("effort", json_str(t.effort())));
    }
    if wants && root.path("reasoning.summary").is_none() {
        e.push(set("summary", json_str("auto")));
    }
    if !e.is_empty() {
        let mut v = Vec::new();
        let mut w = Writer::new(&mut v);
        match root.get("reasoning").filter(|r| r.is_obj()) {
            Some(r) => edit_object(r, &mut e, &mut w),
            None => edit_object(
                &Node {
                    raw: "{}",
                    kind: Kind::Obj(Vec::new()),
                },
                &mut e,
                &mut w,
            ),
        }
        edits.push(set("reasoning", String::from_utf8(v).unwrap_or_default()));
    }
    edit_object(root, &mut edits, &mut Writer::new(out));
}

/// Same-format Claude: the edits that apply thinking `t` (thinking, output_config.effort,
/// a raised max_tokens), taken from what the Claude emitter writes for it.
fn claude_thinking_edits(
    root: &Node<'_>,
    t: Thinking,
    model: &str,
    opts: &ReqOpts<'_>,
    edits: &mut Vec<Edit>,
) {
    let req = ir::Req {
        thinking: Some(t),
        max_tokens: root.at("max_tokens").i64(),
        ..ir::Req::default()
    };
    let mut tmp = Vec::new();
    emit::claude(
        &req,
        &emit::EmitOpts {
            model,
            stream: false,
            claude_default_max_tokens: opts.claude_default_max_tokens,
        },
        &mut tmp,
    );
    if let Ok(n) = tree::parse(&tmp) {
        match n.get("thinking") {
            Some(th) => edits.push(set("thinking", th.raw.to_string())),
            // Too small a max_tokens for thinking: drop the client's.
            None => edits.push(del("thinking")),
        }
        // Adaptive models: the effort goes in output_config (the
        // client's other output_config members are kept).
        if let Some(eff) = n.path("output_config.effort") {
            let o = with_member(root, "output_config", set("effort", eff.raw.to_string()));
            edits.push(set("output_config", o));
        }
        // A defaulted max_tokens may have been raised above the budget.
        if root.get("max_tokens").is_none() {
            if let Some(m) = n.get("max_tokens") {
                edits.push(set("max_tokens", m.raw.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod fast_tests;
