//! A Responses WebSocket message turned into the `POST /v1/responses` body
//! it stands for, as CLIProxyAPI (v6.9) normalizes it when the upstream is
//! reached over HTTP:
//!
//! - the first `response.create`: the message without `type`, with
//!   `"stream":true` and `"input":[]` when absent; `model` is required;
//! - a later `response.create` or a `response.append`: `input` must be an
//!   array; it is appended to the previous request's input and the previous
//!   response's output (function calls deduplicated by `call_id`), and
//!   `model`/`instructions` carry over when absent. An input that already
//!   holds model output (an assistant message or a tool call: a compacted
//!   transcript) replaces the history instead;
//! - anything else: `unsupported websocket request type`.

use crate::json::tree::{self, Kind, Node};

/// A message the session cannot turn into a request: 400 with this message.
pub type Refused = String;

/// What a message asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// Send this request body.
    Request(Vec<u8>),
    /// A `response.create` with `generate: false` before any request:
    /// answered locally (a prewarm); the body becomes the session's request.
    Prewarm(Vec<u8>),
}

/// Normalizes `msg` given the session's previous request and the previous
/// response's output items (a raw JSON array).
pub fn normalize(msg: &[u8], last: Option<&[u8]>, last_output: &[u8]) -> Result<Turn, Refused> {
    let root = tree::parse(msg).ok().filter(Node::is_obj);
    let kind = root
        .as_ref()
        .and_then(|r| r.get("type"))
        .and_then(Node::str)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let Some(root) = root else {
        return Err(format!("unsupported websocket request type: {kind}"));
    };
    match kind.as_str() {
        "response.create" => match last {
            None => create(&root),
            Some(last) => subsequent(&root, last, last_output),
        },
        "response.append" => match last {
            None => Err("websocket request received before response.create".into()),
            Some(last) => subsequent(&root, last, last_output),
        },
        _ => Err(format!("unsupported websocket request type: {kind}")),
    }
}

/// The members of `root` except `skip`, written into an open object.
fn copy_members(root: &Node<'_>, skip: &[&str], out: &mut Vec<u8>) {
    for (k, v) in root.obj() {
        if skip.iter().any(|s| k.is(s)) {
            continue;
        }
        member(out, k.raw, v.raw);
    }
}

/// `body` (a JSON object) without the members named in `skip`; `None`
/// when it is not a JSON object.
pub fn without_members(body: &[u8], skip: &[&str]) -> Option<Vec<u8>> {
    let root = tree::parse(body).ok().filter(Node::is_obj)?;
    let mut out = Vec::with_capacity(body.len());
    out.push(b'{');
    copy_members(&root, skip, &mut out);
    out.push(b'}');
    Some(out)
}

fn member(out: &mut Vec<u8>, raw_key: &str, raw_value: &str) {
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(raw_key.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(raw_value.as_bytes());
}

fn first_create_prewarm(root: &Node<'_>) -> bool {
    root.get("generate")
        .is_some_and(|g| matches!(g.kind, Kind::Bool(false)))
}

fn create(root: &Node<'_>) -> Result<Turn, Refused> {
    let model = root.get("model").and_then(Node::str);
    if model.is_none_or(|m| m.trim().is_empty()) {
        return Err("missing model in response.create request".into());
    }
    let prewarm = first_create_prewarm(root);
    let mut out = Vec::with_capacity(root.raw.len() + 32);
    out.push(b'{');
    let skip: &[&str] = if prewarm {
        &["type", "stream", "generate"]
    } else {
        &["type", "stream"]
    };
    copy_members(root, skip, &mut out);
    if root.get("input").is_none() {
        member(&mut out, "input", "[]");
    }
    member(&mut out, "stream", "true");
    out.push(b'}');
    Ok(if prewarm {
        Turn::Prewarm(out)
    } else {
        Turn::Request(out)
    })
}

/// Whether `input` already holds model output (a compacted transcript).
fn replaces_transcript(root: &Node<'_>, input: &Node<'_>) -> bool {
    let has_prev = root
        .get("previous_response_id")
        .and_then(Node::str)
        .is_some_and(|s| !s.trim().is_empty());
    !has_prev
        && input.arr().iter().any(|item| {
            let ty = item.get("type").and_then(Node::str).unwrap_or_default();
            match ty.trim() {
                "function_call" | "custom_tool_call" => true,
                "message" => item
                    .get("role")
                    .and_then(Node::str)
                    .is_some_and(|r| r.trim() == "assistant"),
                _ => false,
            }
        })
}

fn subsequent(root: &Node<'_>, last: &[u8], last_output: &[u8]) -> Result<Turn, Refused> {
    let input = root.get("input").filter(|i| i.is_arr());
    let Some(input) = input else {
        return Err("websocket request requires array field: input".into());
    };
    let last = tree::parse(last).map_err(|e| format!("invalid previous request: {}", e.what))?;
    let mut out = Vec::with_capacity(root.raw.len() + last.raw.len() + last_output.len() + 64);
    out.push(b'{');
    if replaces_transcript(root, input) {
        copy_members(root, &["type", "previous_response_id", "stream"], &mut out);
    } else {
        copy_members(
            root,
            &["type", "previous_response_id", "stream", "input"],
            &mut out,
        );
        let output = tree::parse(last_output).ok().filter(Node::is_arr);
        let items = last
            .get("input")
            .map(Node::arr)
            .unwrap_or_default()
            .iter()
            .chain(output.as_ref().map(Node::arr).unwrap_or_default())
            .chain(input.arr());
        let mut merged = Vec::with_capacity(last.raw.len() + last_output.len() + input.raw.len());
        merged.push(b'[');
        let mut seen: Vec<String> = Vec::new();
        for item in items {
            let ty = item.get("type").and_then(Node::str).unwrap_or_default();
            if matches!(ty.trim(), "function_call" | "custom_tool_call") {
                if let Some(id) = item.get("call_id").and_then(Node::str) {
                    let id = id.trim().to_owned();
                    if !id.is_empty() {
                        if seen.contains(&id) {
                            continue;
                        }
                        seen.push(id);
                    }
                }
            }
            if merged.len() > 1 {
                merged.push(b',');
            }
            merged.extend_from_slice(item.raw.as_bytes());
        }
        merged.push(b']');
        let merged = String::from_utf8_lossy(&merged).into_owned();
        member(&mut out, "input", &merged);
    }
    for carried in ["model", "instructions"] {
        if root.get(carried).is_none() {
            if let Some(v) = last.get(carried) {
                member(&mut out, carried, v.raw);
            }
        }
    }
    member(&mut out, "stream", "true");
    out.push(b'}');
    Ok(Turn::Request(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn req(t: Result<Turn, Refused>) -> Value {
        match t {
            Ok(Turn::Request(b)) => serde_json::from_slice(&b).unwrap(),
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn first_create_strips_type_and_streams() {
        let v = req(normalize(
            br#"{"type":"response.create","model":"gpt-5","stream":false,"instructions":"be brief"}"#,
            None,
            b"[]",
        ));
        assert_eq!(
            v,
            json!({"model":"gpt-5","instructions":"be brief","input":[],"stream":true})
        );
        assert_eq!(
            normalize(br#"{"type":"response.create","input":[]}"#, None, b"[]"),
            Err("missing model in response.create request".into())
        );
    }

    #[test]
    fn unknown_types_and_early_appends_are_refused() {
        assert_eq!(
            normalize(br#"{"type":"response.cancel"}"#, None, b"[]"),
            Err("unsupported websocket request type: response.cancel".into())
        );
        assert_eq!(
            normalize(b"not json", None, b"[]"),
            Err("unsupported websocket request type: ".into())
        );
        assert_eq!(
            normalize(br#"{"type":"response.append","input":[]}"#, None, b"[]"),
            Err("websocket request received before response.create".into())
        );
        let last = br#"{"model":"m","input":[]}"#;
        assert_eq!(
            normalize(
                br#"{"type":"response.append","input":"hi"}"#,
                Some(last),
                b"[]"
            ),
            Err("websocket request requires array field: input".into())
        );
    }

    #[test]
    fn later_requests_continue_the_transcript() {
        let last = br#"{"model":"m","instructions":"sys","input":[{"type":"message","role":"user","content":"q1"}],"stream":true}"#;
        let output = br#"[{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}]"#;
        let v = req(normalize(
            br#"{"type":"response.create","previous_response_id":"resp_1","input":[{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"}]}"#,
            Some(last),
            output,
        ));
        // previous_response_id with a tool call in input is not a
        // replacement: history + output + input, the repeated call dropped.
        assert_eq!(
            v,
            json!({
                "input":[
                    {"type":"message","role":"user","content":"q1"},
                    {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
                    {"type":"function_call_output","call_id":"c1","output":"ok"}
                ],
                "model":"m","instructions":"sys","stream":true
            })
        );
        let v = req(normalize(
            br#"{"type":"response.append","input":[{"type":"message","role":"user","content":"q2"}]}"#,
            Some(last),
            b"[]",
        ));
        assert_eq!(v["input"].as_array().unwrap().len(), 2);
        assert_eq!(v["model"], "m");
    }

    #[test]
    fn model_output_in_input_replaces_the_history() {
        let last = br#"{"model":"m","input":[{"type":"message","role":"user","content":"old"}]}"#;
        let v = req(normalize(
            br#"{"type":"response.create","model":"m2","input":[{"type":"message","role":"assistant","content":"summary"}]}"#,
            Some(last),
            br#"[{"type":"message","role":"assistant","content":"x"}]"#,
        ));
        assert_eq!(
            v,
            json!({"model":"m2","input":[{"type":"message","role":"assistant","content":"summary"}],"stream":true})
        );
    }

    #[test]
    fn generate_false_first_is_a_prewarm() {
        match normalize(
            br#"{"type":"response.create","model":"m","generate":false}"#,
            None,
            b"[]",
        ) {
            Ok(Turn::Prewarm(b)) => {
                let v: Value = serde_json::from_slice(&b).unwrap();
                assert_eq!(v, json!({"model":"m","input":[],"stream":true}));
            }
            other => panic!("{other:?}"),
        }
    }
}
