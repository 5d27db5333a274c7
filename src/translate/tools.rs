//! Responses-API tool kinds that other formats lack, and how they map.
//!
//! Codex CLI declares tools the OpenAI Responses way. Three kinds have no
//! equivalent on Chat, Claude or Gemini upstreams (CLIProxyAPI's mapping):
//! - `custom` (freeform input, e.g. `apply_patch` with a grammar `format`):
//!   sent as a function tool with ONE string argument `input`; the model's call
//!   comes back to the client as a `custom_tool_call` whose `input` is that
//!   string (unwrapped from `{"input": ...}`).
//! - `namespace` (MCP-style groups): each child becomes a plain function named
//!   [`qualify`]`(namespace, child)`; calls come back as `function_call` items
//!   with the child `name` and a `namespace` field.
//! - hosted tools (`web_search`, `local_shell`, `file_search`,
//!   `image_generation`, ...): left out (debug log), never an error.
//!
//! [`ClientTools`] is what the answer translators need from the client's
//! request to map calls back; it is built only when the request has custom or
//! namespace tools, so the common path pays one substring search.

use crate::json::escape::escape_bytes_into as escape_into;
use crate::json::tree::{self as json, Node};

/// The JSON Schema a `custom` tool gets as a function tool.
pub const CUSTOM_INPUT_SCHEMA: &str =
    r#"{"type":"object","properties":{"input":{"type":"string"}},"required":["input"]}"#;

/// The function name of namespace `ns`'s child `child` (CLIProxyAPI / Codex):
/// `mcp__…` children and children already prefixed keep their name; a
/// namespace ending in `__` is joined directly, any other with `__`.
pub fn qualify(ns: &str, child: &str) -> String {
    let (ns, child) = (ns.trim(), child.trim());
    if child.is_empty() || ns.is_empty() || child.starts_with("mcp__") || child.starts_with(ns) {
        child.to_string()
    } else if ns.ends_with("__") {
        format!("{ns}{child}")
    } else {
        format!("{ns}__{child}")
    }
}

/// The description a `custom` tool keeps as a function tool: Codex's
/// "This is a FREEFORM tool, so do not wrap the patch in JSON." would now
/// contradict the `input` argument the model must fill, so that sentence is
/// removed (as CLIProxyAPI does); anything else is kept.
pub fn custom_description(d: &str) -> Option<String> {
    const FREEFORM: &str = "This is a FREEFORM tool, so do not wrap the patch in JSON.";
    if !d.contains(FREEFORM) {
        return None;
    }
    let s = d.replace(FREEFORM, "");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(s)
}

/// Client-side names the answer translators map back (escaped JSON-string
/// content, as stream events carry names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTools {
    /// Qualified names of `custom` tools.
    custom: Vec<Vec<u8>>,
    /// (qualified name, namespace, child name) of namespace children.
    ns: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
}

fn esc(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len());
    escape_into(&mut v, s.as_bytes());
    v
}

impl ClientTools {
    /// From a Responses request body; `None` when it declares no custom or
    /// namespace tool (or is not JSON).
    pub fn from_responses_body(body: &[u8]) -> Option<ClientTools> {
        let has = |n: &[u8]| memchr::memmem::find(body, n).is_some();
        if !has(b"\"custom\"") && !has(b"\"namespace\"") {
            return None;
        }
        let root = json::parse(body).ok()?;
        let t = ClientTools::from_root(&root);
        (!t.is_empty()).then_some(t)
    }

    /// From a parsed Responses request.
    pub fn from_root(root: &Node<'_>) -> ClientTools {
        let mut t = ClientTools::default();
        for tool in root.at("tools").arr() {
            match tool.at("type").s().as_ref() {
                "custom" => {
                    let n = tool.at("name").s();
                    if !n.trim().is_empty() {
                        t.custom.push(esc(n.trim()));
                    }
                }
                "namespace" => {
                    let ns = tool.at("name").s();
                    for child in tool.at("tools").arr() {
                        let c = child.at("name").s();
                        if c.trim().is_empty() {
                            continue;
                        }
                        let q = qualify(&ns, &c);
                        if child.at("type").s() == "custom" {
                            t.custom.push(esc(&q));
                        }
                        if q != c.trim() {
                            t.ns.push((esc(&q), esc(ns.trim()), esc(c.trim())));
                        }
                    }
                }
                _ => {}
            }
        }
        t
    }

    pub fn is_empty(&self) -> bool {
        self.custom.is_empty() && self.ns.is_empty()
    }

    /// Whether the (escaped) function name is a custom tool.
    pub fn is_custom(&self, name: &[u8]) -> bool {
        self.custom.iter().any(|c| c == name)
    }

    /// (namespace, child) for an (escaped) qualified function name.
    pub fn split(&self, name: &[u8]) -> Option<(&[u8], &[u8])> {
        self.ns
            .iter()
            .find(|(q, _, _)| q == name)
            .map(|(_, ns, c)| (ns.as_slice(), c.as_slice()))
    }
}

/// The freeform input of a custom tool call from its function arguments (the
/// JSON text, unescaped): escaped JSON-string content appended to `out`.
/// `{"input":"…"}` yields the string; a non-string `input` its JSON text; no
/// wrapper the whole arguments text.
pub fn custom_input(args: &str, out: &mut Vec<u8>) {
    if let Ok(root) = json::parse_str(args) {
        if let Some(v) = root.get("input") {
            match v.jstr() {
                Some(j) => out.extend_from_slice(j.raw.as_bytes()),
                None => escape_into(out, v.raw.as_bytes()),
            }
            return;
        }
    }
    escape_into(out, args.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualify_follows_codex_rules() {
        assert_eq!(
            qualify("mcp__github__", "get_issue"),
            "mcp__github__get_issue"
        );
        assert_eq!(qualify("github", "get_issue"), "github__get_issue");
        assert_eq!(qualify("github", "mcp__x__y"), "mcp__x__y");
        assert_eq!(qualify("github", "github_list"), "github_list");
        assert_eq!(qualify("", "a"), "a");
    }

    #[test]
    fn client_tools_from_body() {
        let body = br#"{"tools":[{"type":"custom","name":"apply_patch"},{"type":"function","name":"shell"},
            {"type":"namespace","name":"mcp__gh__","tools":[{"type":"function","name":"get_issue"},{"type":"custom","name":"raw"}]}]}"#;
        let t = ClientTools::from_responses_body(body).expect("tools");
        assert!(t.is_custom(b"apply_patch"));
        assert!(!t.is_custom(b"shell"));
        assert!(t.is_custom(b"mcp__gh__raw"));
        assert_eq!(
            t.split(b"mcp__gh__get_issue"),
            Some((&b"mcp__gh__"[..], &b"get_issue"[..]))
        );
        assert_eq!(t.split(b"shell"), None);
        assert!(
            ClientTools::from_responses_body(br#"{"tools":[{"type":"function","name":"x"}]}"#)
                .is_none()
        );
        assert!(ClientTools::from_responses_body(b"not json \"custom\"").is_none());
    }

    #[test]
    fn freeform_sentence_is_dropped() {
        assert_eq!(
            custom_description(
                "The `apply_patch` tool can be used to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON. Keep hunks small."
            )
            .as_deref(),
            Some("The `apply_patch` tool can be used to edit files. Keep hunks small.")
        );
        assert_eq!(custom_description("Edit files."), None);
    }

    #[test]
    fn custom_input_unwraps() {
        let mut o = Vec::new();
        custom_input(r#"{"input":"*** Begin Patch\n+x"}"#, &mut o);
        assert_eq!(o, br"*** Begin Patch\n+x");
        o.clear();
        custom_input(r#"{"input":{"a":1}}"#, &mut o);
        assert_eq!(o, br#"{\"a\":1}"#);
        o.clear();
        custom_input("raw text", &mut o);
        assert_eq!(o, b"raw text");
    }
}
