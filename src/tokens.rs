//! Local token estimates for token-count requests (`/v1/messages/count_tokens`,
//! Gemini `:countTokens`) whose model is served by an upstream without a count
//! endpoint: OpenAI-compatible and Codex. As CLIProxyAPI's executors do, the
//! request is first translated to the upstream's format, the text a model
//! would read is gathered from it, and that text is counted with the tiktoken
//! encoding CLIProxyAPI picks for the model.
//!
//! Encodings (BPE ranks embedded in the `tiktoken-rs` crate, no network) are
//! loaded lazily, once per process, on the first count request that needs
//! them; ordinary requests never touch this module.
//!
//! Text gathered (CLIProxyAPI `countOpenAIChatTokens` / `countCodexInputTokens`):
//! - OpenAI Chat (compat upstream): per message `role`, `name`, content text
//!   (string, or `text` of text parts, image URLs, raw JSON of other parts),
//!   tool calls (`id`, `type`, function name/description/arguments/parameters),
//!   `function_call`; then `tools`, `functions`, `tool_choice`,
//!   `response_format`, `input`, `prompt`. Segments are trimmed, empty ones
//!   dropped, joined with `\n`.
//! - Responses (Codex upstream): `instructions`; per `input` item the message
//!   part texts, `function_call` name and arguments, `function_call_output`
//!   output, else the item's `text`; each tool's name, description and
//!   parameters; `text.format` name and schema.
//!
//! Not reproduced: CLIProxyAPI's `[IMAGE:n tokens]` placeholder arithmetic
//! (only reachable when message text itself contains such a placeholder).

use std::borrow::Cow;
use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use crate::json::tree::{self as json, Kind, Node};
use crate::json::JsonError;

/// A tiktoken encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `cl100k_base` (GPT-4, GPT-3.5).
    Cl100k,
    /// `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series).
    O200k,
}

/// How to count for one model: the encoding and CLIProxyAPI's correction
/// factor (1.1 for Claude models, which tiktoken underestimates).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counter {
    /// The encoding.
    pub encoding: Encoding,
    /// Multiplier applied to the raw count (result truncated).
    pub factor: f64,
}

/// The counter CLIProxyAPI uses for a model on an OpenAI-compatible upstream
/// (`TokenizerForModel`): Claude names cl100k x 1.1; `gpt-5*`, `gpt-4.1*`,
/// `gpt-4o*`, `o1*`, `o3*`, `o4*` o200k; other `gpt-4*`, `gpt-3*` cl100k;
/// empty cl100k; anything else o200k.
pub fn compat_counter(model: &str) -> Counter {
    let m = model.trim().to_ascii_lowercase();
    let plain = |encoding| Counter {
        encoding,
        factor: 1.0,
    };
    if m.contains("claude") || m.starts_with("kiro-") || m.starts_with("amazonq-") {
        return Counter {
            encoding: Encoding::Cl100k,
            factor: 1.1,
        };
    }
    let o200k = ["gpt-5", "gpt-4.1", "gpt-4o", "o1", "o3", "o4"];
    if m.is_empty() {
        plain(Encoding::Cl100k)
    } else if o200k.iter().any(|p| m.starts_with(p)) {
        plain(Encoding::O200k)
    } else if m.starts_with("gpt-4") || m.starts_with("gpt-3") {
        plain(Encoding::Cl100k)
    } else {
        plain(Encoding::O200k)
    }
}

/// The counter CLIProxyAPI uses for a model on a Codex upstream
/// (`tokenizerForCodexModel`): `gpt-5*`, `gpt-4.1*`, `gpt-4o*` o200k;
/// everything else (other `gpt-4*`, `gpt-3*`, unknown, empty) cl100k.
pub fn codex_counter(model: &str) -> Counter {
    let m = model.trim().to_ascii_lowercase();
    let encoding = if ["gpt-5", "gpt-4.1", "gpt-4o"]
        .iter()
        .any(|p| m.starts_with(p))
    {
        Encoding::O200k
    } else {
        Encoding::Cl100k
    };
    Counter {
        encoding,
        factor: 1.0,
    }
}

/// The encoder, loaded on first use; `None` if the embedded ranks fail to
/// load (never expected; the caller answers with an error then).
fn bpe(e: Encoding) -> Option<&'static CoreBPE> {
    static CL100K: OnceLock<Option<CoreBPE>> = OnceLock::new();
    static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();
    match e {
        Encoding::Cl100k => CL100K.get_or_init(|| tiktoken_rs::cl100k_base().ok()),
        Encoding::O200k => O200K.get_or_init(|| tiktoken_rs::o200k_base().ok()),
    }
    .as_ref()
}

/// Tokens of `text` under `c` (ordinary encoding: special-token text is
/// counted as plain text). `None` if the encoder is unavailable.
pub fn count_text(c: Counter, text: &str) -> Option<u64> {
    let n = bpe(c.encoding)?.encode_ordinary(text).len() as u64;
    Some(if c.factor != 1.0 && c.factor > 0.0 {
        (n as f64 * c.factor) as u64
    } else {
        n
    })
}

/// gjson's `String()`: a string's decoded value, `""` for null or missing,
/// otherwise the raw JSON text.
fn text_of<'a>(n: Option<&Node<'a>>) -> Cow<'a, str> {
    match n {
        None => Cow::Borrowed(""),
        Some(n) => match &n.kind {
            Kind::Null => Cow::Borrowed(""),
            Kind::Str(s) => s.get(),
            _ => Cow::Borrowed(n.raw),
        },
    }
}

struct Segments(String);

impl Segments {
    fn add(&mut self, v: &str) {
        let v = v.trim();
        if v.is_empty() {
            return;
        }
        if !self.0.is_empty() {
            self.0.push('\n');
        }
        self.0.push_str(v);
    }
    fn field(&mut self, n: &Node<'_>, key: &str) {
        self.add(&text_of(n.get(key)));
    }
    fn raw(&mut self, n: Option<&Node<'_>>) {
        if let Some(n) = n {
            self.add(n.raw);
        }
    }
}

/// The text CLIProxyAPI counts in an OpenAI Chat request body.
pub fn chat_text(body: &[u8]) -> Result<String, JsonError> {
    let root = json::parse(body)?;
    let mut s = Segments(String::new());
    for m in root.at("messages").arr() {
        s.field(m, "role");
        s.field(m, "name");
        chat_content(m.get("content"), &mut s);
        for call in m.at("tool_calls").arr() {
            s.field(call, "id");
            s.field(call, "type");
            if let Some(f) = call.get("function") {
                s.field(f, "name");
                s.field(f, "description");
                s.field(f, "arguments");
                s.raw(f.get("parameters"));
            }
        }
        if let Some(fc) = m.get("function_call") {
            s.field(fc, "name");
            s.field(fc, "arguments");
        }
    }
    match root.get("tools") {
        Some(t) if t.is_arr() => t.arr().iter().for_each(|t| chat_tool(t, &mut s)),
        Some(t) => chat_tool(t, &mut s),
        None => {}
    }
    for f in root.at("functions").arr() {
        s.field(f, "name");
        s.field(f, "description");
        s.raw(f.get("parameters"));
    }
    if let Some(c) = root.get("tool_choice") {
        match c.str() {
            Some(v) => s.add(&v),
            None => s.add(c.raw),
        }
    }
    if let Some(f) = root.get("response_format") {
        s.field(f, "type");
        s.field(f, "name");
        s.raw(f.get("json_schema"));
        s.raw(f.get("schema"));
    }
    s.add(&text_of(root.get("input")));
    s.add(&text_of(root.get("prompt")));
    Ok(s.0)
}

fn chat_tool(t: &Node<'_>, s: &mut Segments) {
    s.field(t, "type");
    s.field(t, "name");
    s.field(t, "description");
    if let Some(f) = t.get("function") {
        s.field(f, "name");
        s.field(f, "description");
        s.raw(f.get("parameters"));
    }
}

fn chat_content(c: Option<&Node<'_>>, s: &mut Segments) {
    let Some(c) = c else { return };
    match &c.kind {
        Kind::Str(v) => s.add(&v.get()),
        Kind::Arr(parts) => {
            for p in parts {
                match p.at("type").s().as_ref() {
                    "text" | "input_text" | "output_text" => s.field(p, "text"),
                    "image_url" => s.add(&text_of(p.path("image_url.url"))),
                    "input_audio" | "output_audio" | "audio" => s.field(p, "id"),
                    "tool_result" => {
                        s.field(p, "name");
                        chat_content(p.get("content"), s);
                    }
                    _ if p.is_arr() => chat_content(Some(p), s),
                    _ => s.add(&text_of(Some(p))),
                }
            }
        }
        Kind::Obj(_) => s.add(c.raw),
        _ => {}
    }
}

/// The text CLIProxyAPI counts in a Responses (Codex) request body.
pub fn codex_text(body: &[u8]) -> Result<String, JsonError> {
    let root = json::parse(body)?;
    let mut s = Segments(String::new());
    s.field(&root, "instructions");
    for item in root.at("input").arr() {
        match item.at("type").s().as_ref() {
            "message" => {
                for part in item.at("content").arr() {
                    s.field(part, "text");
                }
            }
            "function_call" => {
                s.field(item, "name");
                s.field(item, "arguments");
            }
            "function_call_output" => s.field(item, "output"),
            _ => s.field(item, "text"),
        }
    }
    for t in root.at("tools").arr() {
        s.field(t, "name");
        s.field(t, "description");
        s.add(&text_of(t.get("parameters")));
    }
    if let Some(f) = root.path("text.format") {
        s.field(f, "name");
        s.add(&text_of(f.get("schema")));
    }
    Ok(s.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_cliproxyapi_model_tables() {
        for (m, e) in [
            ("gpt-5-codex", Encoding::O200k),
            ("gpt-4.1-mini", Encoding::O200k),
            ("GPT-4o", Encoding::O200k),
            ("o3-mini", Encoding::O200k),
            ("gpt-4-turbo", Encoding::Cl100k),
            ("gpt-3.5-turbo", Encoding::Cl100k),
            ("", Encoding::Cl100k),
            ("qwen3-coder", Encoding::O200k),
        ] {
            assert_eq!(compat_counter(m).encoding, e, "{m}");
        }
        assert_eq!(compat_counter("my-claude-x").factor, 1.1);
        assert_eq!(compat_counter("my-claude-x").encoding, Encoding::Cl100k);
        for (m, e) in [
            ("gpt-5.1-codex", Encoding::O200k),
            ("gpt-4o", Encoding::O200k),
            ("o3", Encoding::Cl100k),
            ("codex-mini", Encoding::Cl100k),
        ] {
            assert_eq!(codex_counter(m).encoding, e, "{m}");
        }
    }

    #[test]
    fn chat_text_gathers_messages_tools_and_choices() {
        let body = br#"{"model":"m","messages":[
            {"role":"system","content":"  be brief "},
            {"role":"user","name":"ann","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"http://x/i.png"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}],
            "tools":[{"type":"function","function":{"name":"f","description":"does f","parameters":{"type":"object"}}}],
            "tool_choice":"auto"}"#;
        let t = chat_text(body).unwrap();
        assert_eq!(
            t,
            "system\nbe brief\nuser\nann\nhi\nhttp://x/i.png\nassistant\nc1\nfunction\nf\n{\"a\":1}\nfunction\nf\ndoes f\n{\"type\":\"object\"}\nauto"
        );
    }

    #[test]
    fn codex_text_gathers_instructions_items_and_tools() {
        let body = br#"{"instructions":"sys","input":[
            {"type":"message","role":"user","content":[{"type":"input_text","text":"hello"}]},
            {"type":"function_call","name":"f","arguments":"{}"},
            {"type":"function_call_output","call_id":"c","output":"42"}],
            "tools":[{"type":"function","name":"f","description":"d","parameters":{"type":"object"}}],
            "text":{"format":{"type":"json_schema","name":"out","schema":{"type":"string"}}}}"#;
        let t = codex_text(body).unwrap();
        assert_eq!(
            t,
            "sys\nhello\nf\n{}\n42\nf\nd\n{\"type\":\"object\"}\nout\n{\"type\":\"string\"}"
        );
    }

    #[test]
    fn counts_match_the_encoder_and_apply_the_claude_factor() {
        let text = "The quick brown fox jumps over the lazy dog, twice over.";
        let o = tiktoken_rs::o200k_base().unwrap();
        let c = tiktoken_rs::cl100k_base().unwrap();
        let o_n = o.encode_ordinary(text).len() as u64;
        let c_n = c.encode_ordinary(text).len() as u64;
        assert_eq!(count_text(compat_counter("gpt-5"), text), Some(o_n));
        assert_eq!(count_text(codex_counter("o3"), text), Some(c_n));
        assert_eq!(
            count_text(compat_counter("claude-x"), text),
            Some((c_n as f64 * 1.1) as u64)
        );
    }
}
