//! Upstream-format emitters: [`Req`] → body bytes, written straight into the
//! output buffer with [`Writer`] (no intermediate DOM).

mod chat;
mod claude;
mod gemini;
mod responses;
pub use chat::*;
pub use claude::*;
pub use gemini::*;
pub use responses::*;

use super::ir::*;
use super::schema;
use crate::json::tree::parse_str;
use crate::json::write::{jkey, jstr, Writer};
use crate::translate::format::Format;
use crate::translate::thinking::{
    claude_adaptive_effort, claude_adaptive_levels, claude_plan, gemini_budget, gemini_uses_levels,
    responses_summary, ClaudePlan, Summary, Thinking,
};
use std::borrow::Cow;
use std::collections::HashMap;

/// Settings every emitter needs.
pub struct EmitOpts<'m> {
    pub model: &'m str,
    pub stream: bool,
    pub claude_default_max_tokens: Option<u32>,
}

/// `max_tokens` for Claude when the client gave none and the caller has no
/// registry value (CLIProxyAPI's translator default).
pub const CLAUDE_DEFAULT_MAX_TOKENS: u32 = 32000;
/// Thought signature CLIProxyAPI sends to Gemini for calls whose real signature
/// is unknown (the documented validator bypass value).
pub const GEMINI_SKIP_SIGNATURE: &str = "skip_thought_signature_validator";
/// OpenAI / Codex limit on function-name length.
const CODEX_TOOL_NAME_MAX: usize = 64;

fn args_obj(w: &mut Writer<'_>, a: &Args<'_>) {
    match a {
        Args::Json(raw) => {
            if raw.starts_with('{') {
                w.raw(raw);
            } else {
                w.raw("{}");
            }
        }
        Args::Str(j) => {
            let s = j.get();
            match parse_str(&s) {
                Ok(v) if v.is_obj() => {
                    w.raw(&s);
                }
                _ => {
                    w.raw("{}");
                }
            }
        }
        Args::Input(j) => {
            w.obj().key("input").jstr(*j).end_obj();
        }
    }
}

/// Tool-call arguments as a JSON string value (also used by non-stream responses).
pub(crate) fn args_str(w: &mut Writer<'_>, a: &Args<'_>) {
    match a {
        Args::Str(j) => {
            w.jstr(*j);
        }
        Args::Json(raw) => {
            w.str(raw);
        }
        Args::Input(_) => {
            let mut v = Vec::new();
            args_obj(&mut Writer::new(&mut v), a);
            w.str(&String::from_utf8_lossy(&v));
        }
    }
}

/// A function tool's `description`, `parameters` (an empty object schema
/// when the client sent none) and `strict`, after its name: the same in
/// Chat's `function` object and in a Responses tool.
fn function_members(w: &mut Writer<'_>, t: &Tool<'_>) {
    if let Some(d) = &t.description {
        w.key("description");
        d.write(w);
    }
    w.key("parameters");
    w.raw(
        t.params
            .as_deref()
            .unwrap_or(r#"{"type":"object","properties":{}}"#),
    );
    if let Some(s) = t.strict {
        w.key("strict").bool(s);
    }
}

/// The `name`, `schema` and `strict` members of an OpenAI `json_schema`
/// structured-output format (Chat nests them under `json_schema`,
/// Responses writes them beside `type`); `name` defaults to `response`.
fn json_schema_members(
    w: &mut Writer<'_>,
    name: &Option<Text<'_>>,
    schema: &Option<Cow<'_, str>>,
    strict: &Option<bool>,
) {
    w.key("name");
    match name {
        Some(n) => n.write(w),
        None => {
            w.str("response");
        }
    }
    if let Some(s) = schema {
        w.key("schema").raw(s);
    }
    if let Some(s) = strict {
        w.key("strict").bool(*s);
    }
}

/// Joined text of text parts (`sep` between parts).
fn joined<'a>(parts: &[Part<'a>], sep: &str) -> Cow<'a, str> {
    let mut texts = parts.iter().filter_map(|p| match p {
        Part::Text(t) => Some(t),
        _ => None,
    });
    let Some(first) = texts.next() else {
        return Cow::Borrowed("");
    };
    let mut acc: Cow<'a, str> = first.get();
    for t in texts {
        let s = acc.to_mut();
        s.push_str(sep);
        s.push_str(&t.get());
    }
    acc
}

fn joined_texts<'a>(texts: &[Text<'a>], sep: &str) -> Cow<'a, str> {
    match texts {
        [] => Cow::Borrowed(""),
        [one] => one.get(),
        _ => {
            let mut s = String::new();
            for (i, t) in texts.iter().enumerate() {
                if i > 0 {
                    s.push_str(sep);
                }
                s.push_str(&t.get());
            }
            Cow::Owned(s)
        }
    }
}

/// Claude tool ids must match `^[a-zA-Z0-9_-]+$`: other characters become `_`,
/// an empty id gets a generated one (deterministic per request position).
pub fn sanitize_claude_id<'a>(id: &Cow<'a, str>, gen: &mut u32) -> Cow<'a, str> {
    if id.is_empty() {
        *gen += 1;
        return Cow::Owned(format!("toolu_cpx_{:06}", gen));
    }
    if id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return id.clone();
    }
    Cow::Owned(
        id.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
    )
}

/// Gemini function names: `[A-Za-z_][A-Za-z0-9_.:-]*`, at most 64 chars.
pub fn sanitize_gemini_name(name: &str) -> Cow<'_, str> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && name.len() <= 64 && name.chars().all(ok) {
        return Cow::Borrowed(name);
    }
    let mut s: String = name.chars().map(|c| if ok(c) { c } else { '_' }).collect();
    if !first_ok {
        s.insert(0, '_');
    }
    if s.len() > 64 {
        s.truncate(64);
    }
    Cow::Owned(s)
}

/// Codex tool names longer than 64 chars: `mcp__server__tool` keeps `mcp__tool`,
/// others are cut; collisions get `_1`, `_2`, ... suffixes.
fn codex_name_map(req: &Req<'_>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut used: HashMap<String, ()> = HashMap::new();
    for t in &req.tools {
        let n = t.name.get();
        if n.len() <= CODEX_TOOL_NAME_MAX || map.contains_key(n.as_ref()) {
            used.insert(n.to_string(), ());
            continue;
        }
        let mut cand = match (n.strip_prefix("mcp__"), n.rfind("__")) {
            (Some(_), Some(i)) if i > 3 => format!("mcp__{}", &n[i + 2..]),
            _ => n.to_string(),
        };
        truncate_chars(&mut cand, CODEX_TOOL_NAME_MAX);
        let base = cand.clone();
        let mut k = 1;
        while used.contains_key(&cand) {
            let suffix = format!("_{k}");
            cand = base.clone();
            truncate_chars(&mut cand, CODEX_TOOL_NAME_MAX - suffix.len());
            cand.push_str(&suffix);
            k += 1;
        }
        used.insert(cand.clone(), ());
        map.insert(n.to_string(), cand);
    }
    map
}

fn truncate_chars(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

fn codex_name(map: &HashMap<String, String>, name: &Text<'_>, w: &mut Writer<'_>) {
    if map.is_empty() {
        name.write(w);
        return;
    }
    let n = name.get();
    match map.get(n.as_ref()) {
        Some(short) => w.str(short),
        None if n.len() > CODEX_TOOL_NAME_MAX => {
            let mut s = n.to_string();
            truncate_chars(&mut s, CODEX_TOOL_NAME_MAX);
            w.str(&s)
        }
        None => w.str(&n),
    };
}

/// OpenAI requires a filename next to inline file data; CLIProxyAPI uses
/// `document.pdf` for Claude documents.
fn write_filename(w: &mut Writer<'_>, mime: &str, filename: &Option<Text<'_>>) {
    match filename {
        Some(f) if !f.is_empty() => f.write(w),
        _ if mime == "application/pdf" => {
            w.str("document.pdf");
        }
        _ => {
            w.str("file");
        }
    }
}

fn data_url(w: &mut Writer<'_>, mime: &str, src: &Src<'_>) {
    match src {
        Src::Url(u) => u.write(w),
        Src::B64(d) => {
            let mut s = String::with_capacity(mime.len() + 13);
            s.push_str("data:");
            s.push_str(if mime.is_empty() {
                "application/octet-stream"
            } else {
                mime
            });
            s.push_str(";base64,");
            s.push_str(&d.get());
            w.str(&s);
        }
    }
}

fn is_media(p: &Part<'_>) -> bool {
    matches!(p, Part::Image { .. } | Part::File { .. })
}

/// In-place system texts that precede message `mi`: Chat `system` messages or
/// Responses `developer` items.
fn mid_system(w: &mut Writer<'_>, req: &Req<'_>, mi: usize, responses: bool) {
    for (_, t) in req.mid_system.iter().filter(|(at, _)| *at == mi) {
        if responses {
            w.obj()
                .key("type")
                .str("message")
                .key("role")
                .str("developer");
            w.key("content")
                .arr()
                .obj()
                .key("type")
                .str("input_text")
                .key("text");
            t.write(w);
            w.end_obj().end_arr().end_obj();
        } else {
            w.obj().key("role").str("system").key("content");
            t.write(w);
            w.end_obj();
        }
    }
}
