//! The format-neutral request shape every parser fills and every emitter reads.
//!
//! All text borrows from the input body. Text that came from a JSON string is
//! kept escaped ([`Text::J`]) so emitters can copy it without re-escaping;
//! this is how thinking signatures and long prompts cross formats byte for byte.

use crate::json::tree::JStr;
use crate::json::write::Writer;
use crate::translate::format::Format;
use crate::translate::thinking::{Summary, Thinking};
use std::borrow::Cow;

/// A piece of text: an input JSON string (escaped) or a decoded/owned string.
#[derive(Clone, Debug)]
pub enum Text<'a> {
    J(JStr<'a>),
    S(Cow<'a, str>),
}

impl<'a> Text<'a> {
    pub fn get(&self) -> Cow<'a, str> {
        match self {
            Text::J(j) => j.get(),
            Text::S(s) => s.clone(),
        }
    }
    pub fn is_empty(&self) -> bool {
        match self {
            Text::J(j) => j.raw.is_empty(),
            Text::S(s) => s.is_empty(),
        }
    }
    /// Write as a JSON string value.
    pub fn write(&self, w: &mut Writer<'_>) {
        match self {
            Text::J(j) => {
                w.jstr(*j);
            }
            Text::S(s) => {
                w.str(s);
            }
        }
    }
    pub fn lit(s: &'a str) -> Text<'a> {
        Text::S(Cow::Borrowed(s))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// Where media bytes are.
#[derive(Clone, Debug)]
pub enum Src<'a> {
    /// Base64 data.
    B64(Text<'a>),
    /// A URL (http(s) or a provider file URI).
    Url(Text<'a>),
}

/// Tool-call arguments.
#[derive(Clone, Debug)]
pub enum Args<'a> {
    /// A raw JSON value from the input (Claude `input`, Gemini `args`).
    Json(&'a str),
    /// A JSON string whose content is JSON text (OpenAI `arguments`).
    Str(JStr<'a>),
    /// A Responses `custom_tool_call`'s freeform `input` string: the function
    /// arguments are `{"input": <this string>}` (see `translate::tools`).
    Input(JStr<'a>),
}

#[derive(Clone, Debug)]
pub enum Part<'a> {
    Text(Text<'a>),
    Image {
        mime: Cow<'a, str>,
        src: Src<'a>,
    },
    File {
        mime: Cow<'a, str>,
        src: Src<'a>,
        filename: Option<Text<'a>>,
    },
    /// Reasoning. `sig` is the provider signature / encrypted content, valid only
    /// for the `origin` family; emitters drop foreign signatures.
    Thinking {
        text: Text<'a>,
        sig: Option<Text<'a>>,
        origin: Format,
    },
    ToolCall {
        id: Cow<'a, str>,
        name: Text<'a>,
        args: Args<'a>,
        /// Gemini `thoughtSignature` attached to a function-call part.
        sig: Option<Text<'a>>,
    },
    ToolResult {
        id: Cow<'a, str>,
        /// Function name when the source carries it (Gemini).
        name: Option<Text<'a>>,
        content: Vec<Part<'a>>,
        is_error: bool,
    },
}

#[derive(Clone, Debug)]
pub struct Msg<'a> {
    pub role: Role,
    pub parts: Seq<Part<'a>>,
}

/// A list read as a slice that keeps a lone element inline: most requests
/// are one message of one part, which then cost no allocation (and no
/// free). A second element moves the list to a `Vec`. Shown (`Debug`) as
/// the list it holds, however it holds it.
#[derive(Clone)]
pub enum Seq<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: std::fmt::Debug> std::fmt::Debug for Seq<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> Default for Seq<T> {
    fn default() -> Self {
        Seq::Many(Vec::new())
    }
}

impl<T> From<Vec<T>> for Seq<T> {
    fn from(v: Vec<T>) -> Self {
        Seq::Many(v)
    }
}

impl<T> std::ops::Deref for Seq<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Seq::One(t) => std::slice::from_ref(t),
            Seq::Many(v) => v,
        }
    }
}

impl<T> std::ops::DerefMut for Seq<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Seq::One(t) => std::slice::from_mut(t),
            Seq::Many(v) => v,
        }
    }
}

impl<'s, T> IntoIterator for &'s Seq<T> {
    type Item = &'s T;
    type IntoIter = std::slice::Iter<'s, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> Seq<T> {
    /// A list of `t` alone (inline).
    pub fn one(t: T) -> Self {
        Seq::One(t)
    }
    /// Appends `x` (the first element of an empty list is kept inline).
    pub fn push(&mut self, x: T) {
        match self {
            // Nothing allocated: `x` goes inline, and the empty `Vec` is
            // forgotten (it owns nothing; dropping it was a call).
            Seq::Many(v) if v.capacity() == 0 => {
                std::mem::forget(std::mem::replace(self, Seq::One(x)));
            }
            Seq::Many(v) => v.push(x),
            Seq::One(_) => {
                if let Seq::One(first) = std::mem::take(self) {
                    *self = Seq::Many(vec![first, x]);
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Tool<'a> {
    pub name: Text<'a>,
    pub description: Option<Text<'a>>,
    /// Raw JSON Schema of the parameters.
    pub params: Option<Cow<'a, str>>,
    pub strict: Option<bool>,
    /// Raw Anthropic `cache_control` object to attach (OpenAI clients send it).
    pub cache: Option<&'a str>,
}

#[derive(Clone, Debug)]
pub enum ToolChoice<'a> {
    Auto,
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Tool(Text<'a>),
}

#[derive(Clone, Debug)]
pub enum RespFormat<'a> {
    Text,
    JsonObject,
    JsonSchema {
        name: Option<Text<'a>>,
        /// Raw JSON Schema (Gemini's upper-case OpenAPI types lower-cased).
        schema: Option<Cow<'a, str>>,
        strict: Option<bool>,
    },
}

/// A request in neutral form.
#[derive(Clone, Debug, Default)]
pub struct Req<'a> {
    pub system: Vec<Text<'a>>,
    pub msgs: Seq<Msg<'a>>,
    pub tools: Vec<Tool<'a>>,
    pub tool_choice: Option<ToolChoice<'a>>,
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<i64>,
    /// Numbers kept as written.
    pub temperature: Option<&'a str>,
    pub top_p: Option<&'a str>,
    pub top_k: Option<&'a str>,
    pub seed: Option<&'a str>,
    pub n: Option<i64>,
    pub stop: Vec<Text<'a>>,
    pub thinking: Option<Thinking>,
    /// Whether the client wants the reasoning shown, when it said so.
    pub summary: Option<Summary>,
    pub response_format: Option<RespFormat<'a>>,
    /// End-user id (`user`, `metadata.user_id`).
    pub user: Option<Text<'a>>,
    /// Session seed for Claude's derived `metadata.user_id` (see
    /// `parse::session_seed`).
    pub session_seed: Option<String>,
    /// The client's `model` field (for suffix detection).
    pub client_model: Option<Cow<'a, str>>,
    /// Raw `cache_control` objects for parts: (message index, part index, raw).
    /// Only the Claude emitter uses them.
    pub part_cache: Vec<(usize, usize, &'a str)>,
    /// Raw `cache_control` objects for system texts: (index, raw).
    pub system_cache: Vec<(usize, &'a str)>,
    /// System / developer texts that came after the conversation started:
    /// (index of the message they precede, text). Chat and Responses
    /// emitters keep them in place; Claude and Gemini (top-level system only)
    /// get them appended to `system` (see `Req::hoist_mid_system`).
    pub mid_system: Vec<(usize, Text<'a>)>,
}

impl<'a> Req<'a> {
    /// Record system texts: top-level while no message was seen, else in place.
    pub fn push_system(&mut self, texts: impl IntoIterator<Item = Text<'a>>) {
        if self.msgs.is_empty() {
            self.system.extend(texts);
        } else {
            let at = self.msgs.len();
            self.mid_system.extend(texts.into_iter().map(|t| (at, t)));
        }
    }
    /// Move in-place system texts to the top-level system (formats that have
    /// only one).
    pub fn hoist_mid_system(&mut self) {
        let mid = std::mem::take(&mut self.mid_system);
        self.system.extend(mid.into_iter().map(|(_, t)| t));
    }
    /// Append parts to the last message if it has `role`, else start a new one.
    pub fn push(&mut self, role: Role, part: Part<'a>) {
        match self.msgs.last_mut() {
            Some(m) if m.role == role => m.parts.push(part),
            _ => self.msgs.push(Msg {
                role,
                parts: Seq::one(part),
            }),
        }
    }
    /// Start a new message (even when the previous one has the same role).
    pub fn push_msg(&mut self, role: Role, parts: Vec<Part<'a>>) {
        self.msgs.push(Msg {
            role,
            parts: parts.into(),
        });
    }
    /// [`Req::push_msg`] of one part (kept inline).
    pub fn push_msg_one(&mut self, role: Role, part: Part<'a>) {
        self.msgs.push(Msg {
            role,
            parts: Seq::one(part),
        });
    }
    /// Record cache markers for the parts of the message just pushed or
    /// extended: `marks` are (index in `parts` relative to `base`, raw).
    pub fn mark_cache(&mut self, base: usize, marks: &[(usize, &'a str)]) {
        let mi = self.msgs.len().saturating_sub(1);
        for (pi, raw) in marks {
            self.part_cache.push((mi, base + pi, raw));
        }
    }
    /// The cache marker of part (mi, pi), if any.
    pub fn cache_of(&self, mi: usize, pi: usize) -> Option<&'a str> {
        self.part_cache
            .iter()
            .rev()
            .find(|(m, p, _)| *m == mi && *p == pi)
            .map(|c| c.2)
    }
}

/// Split a `data:` URL into (mime, base64 data). `None` if not a base64 data URL.
pub fn split_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let comma = rest.find(',')?;
    let (meta, data) = (&rest[..comma], &rest[comma + 1..]);
    let mime = meta.split(';').next().unwrap_or("");
    if !meta.ends_with(";base64") {
        return None;
    }
    Some((
        if mime.is_empty() {
            "application/octet-stream"
        } else {
            mime
        },
        data,
    ))
}

#[cfg(test)]
mod tests {
    use super::Seq;

    /// A `Seq` reads, grows and shows as the `Vec` of the same pushes,
    /// from empty, from one (inline) and from a `Vec`.
    #[test]
    fn seq_is_the_vec_of_its_pushes() {
        for start in 0..3usize {
            let mut seq: Seq<usize> = Seq::from((0..start).collect::<Vec<_>>());
            let mut vec: Vec<usize> = (0..start).collect();
            for x in 10..15 {
                seq.push(x);
                vec.push(x);
                assert_eq!(&seq[..], &vec[..]);
                assert_eq!(format!("{seq:?}"), format!("{vec:?}"));
                assert_eq!((&seq).into_iter().count(), vec.len());
            }
            seq[0] = 99;
            assert_eq!(seq.first(), Some(&99));
        }
        let mut one = Seq::one(7);
        assert!(matches!(one, Seq::One(7)));
        one.push(8);
        assert_eq!(&one[..], &[7, 8]);
        let mut empty: Seq<u8> = Seq::default();
        assert!(empty.is_empty());
        empty.push(1);
        assert!(matches!(empty, Seq::One(1)));
    }
}
