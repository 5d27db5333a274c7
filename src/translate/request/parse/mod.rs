//! Client-format parsers: body DOM → [`Req`].
//!
//! Parsers are lenient like CLIProxyAPI: unknown fields are ignored, wrongly
//! typed fields are skipped; only a non-object root is an error (checked by
//! the caller).

mod chat;
mod claude;
mod gemini;
mod responses;
pub use chat::*;
pub use claude::*;
pub use gemini::*;
pub use responses::*;

use super::ir::*;
use crate::json::tree::{JStr, Kind, Node, Pull};
use crate::translate::format::Format;
use crate::translate::thinking::{Summary, Thinking};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

fn text_of<'a>(n: &Node<'a>) -> Option<Text<'a>> {
    n.jstr().map(Text::J)
}

/// Split a data URL held in a JSON string into (mime, data).
pub fn data_url<'a>(n: &Node<'a>) -> Option<(Cow<'a, str>, Text<'a>)> {
    let j = n.jstr()?;
    match j.get() {
        Cow::Borrowed(s) => {
            let (m, d) = split_data_url(s)?;
            Some((Cow::Borrowed(m), Text::S(Cow::Borrowed(d))))
        }
        Cow::Owned(s) => {
            let (m, d) = split_data_url(&s)?;
            Some((
                Cow::Owned(m.to_string()),
                Text::S(Cow::Owned(d.to_string())),
            ))
        }
    }
}

fn image_from_url<'a>(url: &Node<'a>) -> Option<Part<'a>> {
    if let Some((mime, data)) = data_url(url) {
        return Some(Part::Image {
            mime,
            src: Src::B64(data),
        });
    }
    let t = text_of(url)?;
    if t.is_empty() {
        return None;
    }
    Some(Part::Image {
        mime: Cow::Borrowed(""),
        src: Src::Url(t),
    })
}

fn file_from_data<'a>(data: &Node<'a>, filename: Option<Text<'a>>) -> Option<Part<'a>> {
    let (mime, data) = data_url(data)?;
    Some(Part::File {
        mime,
        src: Src::B64(data),
        filename,
    })
}

fn stop_list<'a>(n: &Node<'a>, out: &mut Vec<Text<'a>>) {
    match &n.kind {
        Kind::Str(j) => out.push(Text::J(*j)),
        Kind::Arr(a) => out.extend(a.iter().filter_map(text_of)),
        _ => {}
    }
}

fn num<'a>(n: Option<&Node<'a>>) -> Option<&'a str> {
    n.and_then(|n| n.num())
}

/// The raw `cache_control` object of a node, if any.
fn cache_of<'a>(n: &Node<'a>) -> Option<&'a str> {
    n.get("cache_control").filter(|c| c.is_obj()).map(|c| c.raw)
}

fn system_texts<'a>(c: &Node<'a>, out: &mut Vec<Text<'a>>) {
    match &c.kind {
        Kind::Str(j) if !j.raw.is_empty() => out.push(Text::J(*j)),
        Kind::Arr(items) => {
            for it in items {
                if let Some(t) = it.get("text").and_then(text_of).or_else(|| text_of(it)) {
                    out.push(t);
                }
            }
        }
        Kind::Obj(_) => {
            if let Some(t) = c.get("text").and_then(text_of) {
                out.push(t)
            }
        }
        _ => {}
    }
}

fn effort_thinking(n: Option<&Node<'_>>) -> Option<Thinking> {
    n.and_then(|n| n.str())
        .and_then(|s| Thinking::from_effort(&s))
}

/// CLIProxyAPI's session seed for Claude `metadata.user_id`: the first of
/// `prompt_cache_key`, `session_id`/`sessionId`, `conversation.id` /
/// `conversation` / `conversation_id`, with its label.
pub fn session_seed(root: &Node<'_>) -> Option<String> {
    // The candidates' first occurrences, in one pass over the root.
    let mut found: [Option<&Node<'_>>; 5] = [None; 5];
    for (k, v) in root.obj() {
        let at = match k.get().as_ref() {
            "prompt_cache_key" => 0,
            "session_id" => 1,
            "sessionId" => 2,
            "conversation" => 3,
            "conversation_id" => 4,
            _ => continue,
        };
        if found[at].is_none() {
            found[at] = Some(v);
        }
    }
    session_seed_of(found)
}

/// [`session_seed`] from the root's `prompt_cache_key`, `session_id`,
/// `sessionId`, `conversation` and `conversation_id` (first occurrences).
fn session_seed_of(found: [Option<&Node<'_>>; 5]) -> Option<String> {
    if found.iter().all(Option::is_none) {
        return None;
    }
    let pick = |n: Option<&Node<'_>>| {
        n.and_then(|v| v.str())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let [prompt_cache_key, session_id, session_id_camel, conversation, conversation_id] = found;
    if let Some(v) = pick(prompt_cache_key) {
        return Some(format!("prompt_cache_key:{v}"));
    }
    if let Some(v) = pick(session_id).or_else(|| pick(session_id_camel)) {
        return Some(format!("session_id:{v}"));
    }
    let conv = conversation.unwrap_or(Node::null());
    pick(conv.get("id"))
        .or_else(|| pick(Some(conv)))
        .or_else(|| pick(conversation_id))
        .map(|v| format!("conversation_id:{v}"))
}
