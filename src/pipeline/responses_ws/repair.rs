//! CLIProxyAPI's tool-call repair for Responses WebSocket sessions: an
//! upstream rejects a transcript where a tool call has no output or an
//! output has no call, which happens when a client resends a history cut
//! between the two. The session remembers the calls and outputs it has seen
//! (by `call_id`, at most [`MAX_PER_SESSION`] of each) and, before each
//! request:
//!
//! - a call without its output in the input gets the remembered output
//!   right after it, or is dropped;
//! - an output without its call gets the remembered call right before it,
//!   or is dropped (kept as is when the request still names a
//!   `previous_response_id`);
//! - calls and outputs without a `call_id` are dropped.
//!
//! CLIProxyAPI applies it only when the upgrade request names a session
//! (`X-Client-Request-Id`, `X-Codex-Turn-Metadata`'s `session_id`, or
//! `Session_id`) and shares the memory between the sockets of that session;
//! here it is kept per socket.

use crate::json::tree::{self, Node};
use crate::server::Request;

/// Calls (and outputs) remembered per session, oldest evicted first.
pub const MAX_PER_SESSION: usize = 256;

/// Raw JSON items by `call_id`, in insertion order.
#[derive(Debug, Default)]
struct ById(Vec<(String, Vec<u8>)>);

impl ById {
    fn record(&mut self, id: &str, item: &[u8]) {
        match self.0.iter_mut().find(|(k, _)| k == id) {
            Some((_, v)) => *v = item.to_vec(),
            None => {
                self.0.push((id.to_owned(), item.to_vec()));
                if self.0.len() > MAX_PER_SESSION {
                    self.0.remove(0);
                }
            }
        }
    }

    fn get(&self, id: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.as_slice())
    }
}

/// The tool calls and outputs one session has seen.
#[derive(Debug, Default)]
pub struct ToolMemory {
    calls: ById,
    outputs: ById,
}

/// Whether the upgrade request names a session (the repair applies).
pub fn has_session_key(req: &Request<'_>) -> bool {
    let named = |h: &str| req.header(h).is_some_and(|v| !v.trim_ascii().is_empty());
    if named("x-client-request-id") || named("session_id") {
        return true;
    }
    req.header("x-codex-turn-metadata")
        .and_then(|m| crate::json::span::get_str(m.trim_ascii(), b"session_id"))
        .is_some_and(|s| !s.trim_ascii().is_empty())
}

fn item_kind<'a>(item: &'a Node<'a>) -> (std::borrow::Cow<'a, str>, Option<String>) {
    let ty = item.get("type").and_then(Node::str).unwrap_or_default();
    let id = item
        .get("call_id")
        .and_then(Node::str)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    (ty, id)
}

fn is_call(ty: &str) -> bool {
    matches!(ty.trim(), "function_call" | "custom_tool_call")
}

fn is_output(ty: &str) -> bool {
    matches!(
        ty.trim(),
        "function_call_output" | "custom_tool_call_output"
    )
}

impl ToolMemory {
    /// Remembers the tool calls of a completed response's `output` array.
    pub fn record_output(&mut self, output: &[u8]) {
        let Ok(arr) = tree::parse(output) else { return };
        for item in arr.arr() {
            if let (ty, Some(id)) = item_kind(item) {
                if is_call(&ty) {
                    self.calls.record(&id, item.raw.as_bytes());
                }
            }
        }
    }

    /// The request `body` with its `input` repaired (and the calls and
    /// outputs in it remembered); `body` unchanged when there is nothing
    /// to repair or it cannot be read.
    pub fn repair(&mut self, body: Vec<u8>) -> Vec<u8> {
        let Ok(root) = tree::parse(&body) else {
            return body;
        };
        let Some(input) = root.get("input").filter(|i| i.is_arr()) else {
            return body;
        };
        let allow_orphan_outputs = root
            .get("previous_response_id")
            .and_then(Node::str)
            .is_some_and(|s| !s.trim().is_empty());
        let items = input.arr();
        // First pass: remember, and note which ids have calls and outputs here.
        let mut with_output: Vec<String> = Vec::new();
        let mut with_call: Vec<String> = Vec::new();
        for item in items {
            if let (ty, Some(id)) = item_kind(item) {
                if is_output(&ty) {
                    self.outputs.record(&id, item.raw.as_bytes());
                    with_output.push(id);
                } else if is_call(&ty) {
                    self.calls.record(&id, item.raw.as_bytes());
                    with_call.push(id);
                }
            }
        }
        let mut kept: Vec<&[u8]> = Vec::with_capacity(items.len());
        let mut changed = false;
        for item in items {
            let raw = item.raw.as_bytes();
            let (ty, id) = item_kind(item);
            if is_output(&ty) {
                let Some(id) = id else {
                    changed = true;
                    continue;
                };
                if allow_orphan_outputs || with_call.contains(&id) {
                    kept.push(raw);
                } else if let Some(call) = self.calls.get(&id) {
                    kept.push(call);
                    kept.push(raw);
                    with_call.push(id);
                    changed = true;
                } else {
                    changed = true;
                }
            } else if is_call(&ty) {
                let Some(id) = id else {
                    changed = true;
                    continue;
                };
                if with_output.contains(&id) {
                    kept.push(raw);
                } else if let Some(out) = self.outputs.get(&id) {
                    kept.push(raw);
                    kept.push(out);
                    with_output.push(id);
                    changed = true;
                } else {
                    changed = true;
                }
            } else {
                kept.push(raw);
            }
        }
        if !changed {
            return body;
        }
        let mut span = None;
        let _ = crate::json::route::for_each_member(&body, |k, s, e| {
            if k == b"input" {
                span = Some((s, e));
            }
            span.is_none()
        });
        let Some((start, end)) = span else {
            return body;
        };
        let mut out = Vec::with_capacity(body.len() + 256);
        out.extend_from_slice(&body[..start]);
        out.push(b'[');
        for (i, raw) in kept.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(raw);
        }
        out.push(b']');
        out.extend_from_slice(&body[end..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn repaired(m: &mut ToolMemory, body: Value) -> Value {
        serde_json::from_slice(&m.repair(body.to_string().into_bytes())).unwrap()
    }

    #[test]
    fn orphans_are_completed_from_memory_or_dropped() {
        let mut m = ToolMemory::default();
        m.record_output(
            json!([{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}])
                .to_string()
                .as_bytes(),
        );
        // An output whose call was cut off: the remembered call goes first.
        let v = repaired(
            &mut m,
            json!({"model":"m","input":[{"type":"function_call_output","call_id":"c1","output":"ok"}]}),
        );
        assert_eq!(
            v["input"],
            json!([{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"}])
        );
        assert_eq!(v["model"], "m");
        // A call whose output was cut off: the output seen before follows it.
        let v = repaired(
            &mut m,
            json!({"input":[{"type":"message","role":"user","content":"x"},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}]}),
        );
        assert_eq!(v["input"].as_array().unwrap().len(), 3);
        assert_eq!(v["input"][2]["type"], "function_call_output");
        // Unknown orphans and items without call_id are dropped.
        let v = repaired(
            &mut m,
            json!({"input":[{"type":"function_call","call_id":"zz"},{"type":"function_call_output","output":"?"},{"type":"message","role":"user","content":"y"}]}),
        );
        assert_eq!(
            v["input"],
            json!([{"type":"message","role":"user","content":"y"}])
        );
    }

    #[test]
    fn complete_transcripts_are_untouched() {
        let mut m = ToolMemory::default();
        let body = json!({"input":[{"type":"function_call","call_id":"a"},{"type":"function_call_output","call_id":"a","output":"1"}],"stream":true}).to_string().into_bytes();
        assert_eq!(m.repair(body.clone()), body);
        // previous_response_id: an output may stand alone.
        let body = json!({"previous_response_id":"r","input":[{"type":"function_call_output","call_id":"b","output":"1"}]}).to_string().into_bytes();
        assert_eq!(m.repair(body.clone()), body);
        assert_eq!(m.repair(b"not json".to_vec()), b"not json");
    }

    #[test]
    fn memory_is_bounded() {
        let mut m = ToolMemory::default();
        for i in 0..MAX_PER_SESSION + 10 {
            m.calls.record(&format!("c{i}"), b"{}");
        }
        assert_eq!(m.calls.0.len(), MAX_PER_SESSION);
        assert!(m.calls.get("c0").is_none());
        assert!(m.calls.get(&format!("c{}", MAX_PER_SESSION + 9)).is_some());
    }
}
