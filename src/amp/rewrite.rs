//! The Amp response rewriter (v6.9-behaviours #13), as CLIProxyAPI v6.9.25
//! applies it to answers served by local providers on the Amp routes:
//!
//! - model fields (`message.model`, `model`, `modelVersion`,
//!   `response.model`, `response.modelVersion`) get back the model name the
//!   client asked for (a mapping may have served another one);
//! - `tool_use` and `thinking` blocks of `content` (and a streamed
//!   `content_block` of those types) without `signature` get `"signature":""`
//!   (the Amp TUI reads `signature.length`);
//! - when thinking suppression is on (mapped models, non-Claude providers):
//!   a non-stream message that contains `tool_use` loses its `thinking`
//!   blocks, and a stream loses each thinking block's `content_block_start`,
//!   its `thinking_delta`s and its `content_block_stop`, matched by index
//!   (the shared v6.9 behaviour #13; CLIProxyAPI v6.9.25 itself later
//!   stopped doing the stream part, `279cbbbb8`, because the gap in block
//!   indices confused Amp's TUI — the behaviour the compatibility contract
//!   pins is the one kept here);
//! - SSE is recognised by content type or by a line starting with `data:` /
//!   `event:`; a non-stream body is buffered only up to [`MAX_BUFFERED`],
//!   then passed on as it comes.
//!
//! The SSE side uses the crate's one scanner ([`crate::sse::Scanner`]), so an
//! `event:` line and its `data:` line, or any line, may arrive in different
//! reads. JSON is edited in place through [`crate::json::span`]: spans of
//! the input are copied with the edits spliced in, no tree is built. All
//! buffers are kept across events and streams: no allocation per event in
//! steady state.

use crate::json::span;
use crate::sse::{Item, Scanner};

/// Largest non-stream body held for rewriting (CLIProxyAPI's 2 MiB cap).
pub const MAX_BUFFERED: usize = 2 * 1024 * 1024;

/// Model fields rewritten back to the requested name.
const MODEL_PATHS: [&[&[u8]]; 5] = [
    &[b"message", b"model"],
    &[b"model"],
    &[b"modelVersion"],
    &[b"response", b"model"],
    &[b"response", b"modelVersion"],
];

const SIGNATURE: &[u8] = br#","signature":"""#;

/// Replace `data[start..end]` with `scratch[from..to]` (an insertion when
/// `start == end`).
#[derive(Clone, Copy)]
struct Edit {
    start: usize,
    end: usize,
    from: usize,
    to: usize,
}

/// Offset of `part` inside `base` (`part` is a sub-slice of `base`).
fn off(base: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - base.as_ptr() as usize
}

fn needs_signature(block: &[u8]) -> bool {
    matches!(
        span::get_str(block, b"type"),
        Some(b"tool_use") | Some(b"thinking")
    ) && span::get(block, b"signature").is_none()
}

/// The JSON half of the rewriter: one object in, the rewritten object out.
#[derive(Default)]
pub struct JsonRewriter {
    edits: Vec<Edit>,
    scratch: Vec<u8>,
}

impl JsonRewriter {
    /// Appends `data` rewritten to `out`. `model` is the requested name as
    /// JSON string content (escaped; empty: model fields are left alone).
    /// Anything but a JSON object is copied unchanged; a malformed object is
    /// edited only where the tolerant span reader found members (never
    /// validated as a whole: that would allocate per event).
    pub fn rewrite(&mut self, data: &[u8], model: &[u8], suppress: bool, out: &mut Vec<u8>) {
        self.edits.clear();
        self.scratch.clear();
        let first = data.iter().position(|b| !b.is_ascii_whitespace());
        if first.map(|i| data[i]) != Some(b'{') {
            out.extend_from_slice(data);
            return;
        }
        if !model.is_empty() {
            for path in MODEL_PATHS {
                if let Some(v) = span::path(data, path) {
                    let from = self.scratch.len();
                    self.scratch.push(b'"');
                    self.scratch.extend_from_slice(model);
                    self.scratch.push(b'"');
                    let start = off(data, v);
                    self.edits.push(Edit {
                        start,
                        end: start + v.len(),
                        from,
                        to: self.scratch.len(),
                    });
                }
            }
        }
        if let Some(content) = span::get(data, b"content") {
            self.content(data, content, suppress);
        }
        if let Some(block) = span::get(data, b"content_block") {
            if block.last() == Some(&b'}') && needs_signature(block) {
                let at = off(data, block) + block.len() - 1;
                self.insert_signature(at);
            }
        }
        self.edits.sort_unstable_by_key(|e| e.start);
        let mut pos = 0;
        for e in &self.edits {
            out.extend_from_slice(&data[pos..e.start]);
            out.extend_from_slice(&self.scratch[e.from..e.to]);
            pos = e.end;
        }
        out.extend_from_slice(&data[pos..]);
    }

    fn insert_signature(&mut self, at: usize) {
        let from = self.scratch.len();
        self.scratch.extend_from_slice(SIGNATURE);
        self.edits.push(Edit {
            start: at,
            end: at,
            from,
            to: self.scratch.len(),
        });
    }

    /// `content[]`: signatures for `tool_use`/`thinking` blocks; with
    /// `suppress`, a content list holding a `tool_use` is rebuilt without its
    /// `thinking` blocks.
    fn content(&mut self, data: &[u8], content: &[u8], suppress: bool) {
        let is_type = |b: &[u8], t: &[u8]| span::get_str(b, b"type") == Some(t);
        let drop_thinking = suppress
            && span::array(content).any(|b| is_type(b, b"tool_use"))
            && span::array(content).any(|b| is_type(b, b"thinking"));
        if !drop_thinking {
            for block in span::array(content) {
                if block.last() == Some(&b'}') && needs_signature(block) {
                    self.insert_signature(off(data, block) + block.len() - 1);
                }
            }
            return;
        }
        let from = self.scratch.len();
        self.scratch.push(b'[');
        let mut first = true;
        for block in span::array(content) {
            if is_type(block, b"thinking") {
                continue;
            }
            if !first {
                self.scratch.push(b',');
            }
            first = false;
            if block.last() == Some(&b'}') && needs_signature(block) {
                self.scratch.extend_from_slice(&block[..block.len() - 1]);
                self.scratch.extend_from_slice(SIGNATURE);
                self.scratch.push(b'}');
            } else {
                self.scratch.extend_from_slice(block);
            }
        }
        self.scratch.push(b']');
        let start = off(data, content);
        self.edits.push(Edit {
            start,
            end: start + content.len(),
            from,
            to: self.scratch.len(),
        });
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Holding a body that may be one JSON document.
    Whole,
    /// An event stream, rewritten event by event.
    Sse,
    /// Too large to hold and not SSE: passed on unchanged.
    Raw,
}

/// One answer's body rewriter: feed reads as they come, take what is ready.
pub struct Rewriter {
    /// Requested model, JSON-escaped.
    model: Vec<u8>,
    suppress: bool,
    mode: Mode,
    held: Vec<u8>,
    /// Start of the line of `held` being checked for `data:`/`event:`.
    checked: usize,
    /// That line was decided not to be a field line.
    line_decided: bool,
    /// Where the search for that line's end resumes.
    scan_from: usize,
    scanner: Scanner,
    json: JsonRewriter,
    data: Vec<u8>,
    /// Stream suppression: indices of the thinking blocks being dropped
    /// (capacity kept across answers).
    dropped: Vec<u32>,
}

impl Default for Rewriter {
    fn default() -> Self {
        Rewriter {
            model: Vec::new(),
            suppress: false,
            mode: Mode::Whole,
            held: Vec::new(),
            checked: 0,
            line_decided: false,
            scan_from: 0,
            scanner: Scanner::new(),
            json: JsonRewriter::default(),
            data: Vec::new(),
            dropped: Vec::new(),
        }
    }
}

/// Whether a line (leading whitespace trimmed) starts an SSE field:
/// `Some(true)` yes, `Some(false)` no, `None` too short to tell.
fn sse_line(line: &[u8]) -> Option<bool> {
    let i = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let t = &line[i..];
    for p in [&b"data:"[..], b"event:"] {
        if t.starts_with(p) {
            return Some(true);
        }
    }
    if t.is_empty() || b"data:".starts_with(t) || b"event:".starts_with(t) {
        return None;
    }
    Some(false)
}

impl Rewriter {
    /// A rewriter for an answer to a request for `model`; `sse` when the
    /// answer's content type names a stream.
    pub fn new(model: &str, suppress: bool, sse: bool) -> Rewriter {
        let mut r = Rewriter::default();
        r.reset(model, suppress, sse);
        r
    }

    /// Ready for another answer (buffers kept).
    pub fn reset(&mut self, model: &str, suppress: bool, sse: bool) {
        self.model.clear();
        crate::json::escape::escape_bytes_into(&mut self.model, model.as_bytes());
        self.suppress = suppress;
        self.mode = if sse { Mode::Sse } else { Mode::Whole };
        self.held.clear();
        self.checked = 0;
        self.line_decided = false;
        self.scan_from = 0;
        self.scanner.reset();
        self.dropped.clear();
    }

    /// True while the body is being held whole (its length may still change).
    pub fn holding(&self) -> bool {
        self.mode == Mode::Whole
    }

    /// Takes one read of the body; appends what can go to the client now.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        match self.mode {
            Mode::Raw => out.extend_from_slice(chunk),
            Mode::Sse => self.scan(chunk, out),
            Mode::Whole => {
                self.held.extend_from_slice(chunk);
                if self.looks_like_sse() {
                    self.mode = Mode::Sse;
                    let held = std::mem::take(&mut self.held);
                    self.scan(&held, out);
                    self.held = held;
                    self.held.clear();
                } else if self.held.len() > MAX_BUFFERED {
                    crate::log_warn!(
                        "amp response rewriter: body over {MAX_BUFFERED} bytes, passed on unrewritten"
                    );
                    self.mode = Mode::Raw;
                    out.extend_from_slice(&self.held);
                    self.held.clear();
                }
            }
        }
    }

    /// End of the body: appends the rest. Returns true when the whole body
    /// was held and is now written in one piece (its length is known).
    pub fn finish(&mut self, out: &mut Vec<u8>) -> bool {
        match self.mode {
            Mode::Raw => false,
            Mode::Sse => {
                let Rewriter {
                    scanner,
                    json,
                    model,
                    data,
                    suppress,
                    dropped,
                    ..
                } = self;
                let mut drop = suppress.then_some(dropped);
                let _ =
                    scanner.finish(|item| emit(item, json, model, data, drop.as_deref_mut(), out));
                false
            }
            Mode::Whole => {
                let held = std::mem::take(&mut self.held);
                self.json.rewrite(&held, &self.model, self.suppress, out);
                self.held = held;
                self.held.clear();
                true
            }
        }
    }

    fn scan(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Rewriter {
            scanner,
            json,
            model,
            data,
            suppress,
            dropped,
            ..
        } = self;
        let mut drop = suppress.then_some(dropped);
        if scanner
            .feed(chunk, |item| {
                emit(item, json, model, data, drop.as_deref_mut(), out)
            })
            .is_err()
        {
            // An event over the scanner's bound: the rest goes as it is.
            self.mode = Mode::Raw;
            out.extend_from_slice(chunk);
        }
    }

    /// Checks the lines of `held` not checked yet: each line is decided
    /// once from its first bytes, then only its end is searched for.
    fn looks_like_sse(&mut self) -> bool {
        loop {
            if !self.line_decided {
                let rest = &self.held[self.checked..];
                let end = memchr::memchr(b'\n', rest);
                match sse_line(&rest[..end.unwrap_or(rest.len())]) {
                    Some(true) => return true,
                    None if end.is_none() => return false,
                    _ => self.line_decided = true,
                }
            }
            let from = self.scan_from.max(self.checked);
            match memchr::memchr(b'\n', &self.held[from..]) {
                Some(i) => {
                    self.checked = from + i + 1;
                    self.scan_from = self.checked;
                    self.line_decided = false;
                }
                None => {
                    self.scan_from = self.held.len();
                    return false;
                }
            }
        }
    }
}

/// Whether a stream event belongs to a suppressed thinking block: its
/// `content_block_start` (the index is recorded), a delta or the stop of a
/// recorded index (the stop forgets it).
fn suppressed(data: &[u8], dropped: &mut Vec<u32>) -> bool {
    let index = || {
        span::get(data, b"index")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    match span::get_str(data, b"type") {
        Some(b"content_block_start") => {
            let thinking = span::get(data, b"content_block")
                .and_then(|b| span::get_str(b, b"type"))
                == Some(&b"thinking"[..]);
            match index() {
                Some(i) if thinking => {
                    if !dropped.contains(&i) {
                        dropped.push(i);
                    }
                    true
                }
                _ => false,
            }
        }
        Some(b"content_block_delta") => index().is_some_and(|i| dropped.contains(&i)),
        Some(b"content_block_stop") => match index() {
            Some(i) if dropped.contains(&i) => {
                dropped.retain(|&d| d != i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Writes one scanned item back as SSE, its JSON data rewritten; with
/// `dropped` (suppression on), a thinking block's events are left out.
fn emit(
    item: Item<'_>,
    json: &mut JsonRewriter,
    model: &[u8],
    data: &mut Vec<u8>,
    dropped: Option<&mut Vec<u32>>,
    out: &mut Vec<u8>,
) {
    if let (Item::Event(e), Some(d)) = (&item, dropped) {
        if suppressed(e.data, d) {
            return;
        }
    }
    match item {
        Item::Comment(c) => {
            out.push(b':');
            out.extend_from_slice(c);
            out.extend_from_slice(b"\n\n");
        }
        Item::Event(e) => {
            if let Some(name) = e.event {
                out.extend_from_slice(b"event: ");
                out.extend_from_slice(name);
                out.push(b'\n');
            }
            if let Some(id) = e.id {
                out.extend_from_slice(b"id: ");
                out.extend_from_slice(id);
                out.push(b'\n');
            }
            if let Some(r) = e.retry {
                use std::io::Write;
                let _ = writeln!(out, "retry: {r}");
            }
            data.clear();
            json.rewrite(e.data, model, false, data);
            for line in data.split(|&b| b == b'\n') {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole body in one read, and split at every byte, must give the
    /// same output.
    fn run(model: &str, suppress: bool, sse: bool, body: &[u8]) -> String {
        let whole = {
            let mut r = Rewriter::new(model, suppress, sse);
            let mut out = Vec::new();
            r.feed(body, &mut out);
            r.finish(&mut out);
            out
        };
        let mut r = Rewriter::default();
        for split in 0..=body.len() {
            r.reset(model, suppress, sse);
            let mut out = Vec::new();
            r.feed(&body[..split], &mut out);
            r.feed(&body[split..], &mut out);
            r.finish(&mut out);
            assert_eq!(out, whole, "split at {split}");
        }
        String::from_utf8(whole).unwrap()
    }

    fn json(model: &str, suppress: bool, body: &str) -> String {
        run(model, suppress, false, body.as_bytes())
    }

    // v6.9-behaviours #13, CLIProxyAPI v6.9.25 response_rewriter_test.go fixtures.
    #[test]
    fn model_fields_rewritten_back() {
        assert_eq!(
            json(
                "gpt-5.2-codex",
                false,
                r#"{"id":"resp_1","model":"gpt-5.3-codex","output":[]}"#
            ),
            r#"{"id":"resp_1","model":"gpt-5.2-codex","output":[]}"#
        );
        assert_eq!(
            json(
                "gpt-5.2-codex",
                false,
                r#"{"type":"response.completed","response":{"id":"resp_1","model":"gpt-5.3-codex","status":"completed"}}"#
            ),
            r#"{"type":"response.completed","response":{"id":"resp_1","model":"gpt-5.2-codex","status":"completed"}}"#
        );
        assert_eq!(
            json(
                "g",
                false,
                r#"{"modelVersion":"x","response":{"modelVersion":"y"},"message":{"model":"z"}}"#
            ),
            r#"{"modelVersion":"g","response":{"modelVersion":"g"},"message":{"model":"g"}}"#
        );
        let untouched =
            r#"{"type":"response.output_item.added","item":{"id":"item_1","type":"message"}}"#;
        assert_eq!(json("gpt-5.2-codex", false, untouched), untouched);
        assert_eq!(
            json("", false, r#"{"model":"gpt-5.3-codex"}"#),
            r#"{"model":"gpt-5.3-codex"}"#
        );
        assert_eq!(
            json("a\"b", false, r#"{"model":"x"}"#),
            r#"{"model":"a\"b"}"#
        );
    }

    #[test]
    fn signatures_injected_and_thinking_suppressed_beside_tool_use() {
        let body = r#"{"model":"m","content":[{"type":"thinking","thinking":"t"},{"type":"text","text":"x"},{"type":"tool_use","id":"a","name":"Bash","input":{}},{"type":"thinking","thinking":"u","signature":"s"}]}"#;
        assert_eq!(
            json("", false, body),
            r#"{"model":"m","content":[{"type":"thinking","thinking":"t","signature":""},{"type":"text","text":"x"},{"type":"tool_use","id":"a","name":"Bash","input":{},"signature":""},{"type":"thinking","thinking":"u","signature":"s"}]}"#
        );
        assert_eq!(
            json("asked", true, body),
            r#"{"model":"asked","content":[{"type":"text","text":"x"},{"type":"tool_use","id":"a","name":"Bash","input":{},"signature":""}]}"#
        );
        // No tool_use: thinking stays even with suppression.
        assert_eq!(
            json(
                "",
                true,
                r#"{"content":[{"type":"thinking","thinking":"t","signature":"s"}]}"#
            ),
            r#"{"content":[{"type":"thinking","thinking":"t","signature":"s"}]}"#
        );
        // Not JSON: unchanged.
        assert_eq!(
            json("m", true, "plain text, not json"),
            "plain text, not json"
        );
    }

    const STREAM: &str = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"abc\"}}\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"name\":\"bash\",\"input\":{}}}\n\n";

    #[test]
    fn stream_suppression_drops_thinking_blocks_by_index() {
        for sse in [true, false] {
            // By content type, or detected from the `event:` lines.
            // Suppression off: every block stays, signatures injected.
            let out = run("", false, sse, STREAM.as_bytes());
            assert_eq!(out.matches(r#""signature":"""#).count(), 2, "{out}");
            assert!(out.contains(r#""delta":{"type":"thinking_delta""#));
            assert!(out.contains(r#"{"type":"content_block_stop","index":0}"#));
            assert_eq!(out.matches("event: ").count(), 4);
            // Suppression on (v6.9 behaviour #13): the thinking block's
            // start, delta and stop (index 0) go; the tool_use block stays.
            let out = run("", true, sse, STREAM.as_bytes());
            assert!(!out.contains("thinking"), "{out}");
            assert!(!out.contains(r#""index":0"#), "{out}");
            assert_eq!(out.matches("event: ").count(), 1, "{out}");
            assert!(out.contains(r#""type":"tool_use""#), "{out}");
            assert_eq!(out.matches(r#""signature":"""#).count(), 1, "{out}");
        }
    }

    #[test]
    fn stream_models_rewritten_and_framing_kept() {
        let body = "data: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5.3-codex\"}}\r\n\r\n: keep-alive\n\ndata: {\"type\":\"response.output_item.added\",\"item\":{\"id\":\"item_1\"}}\n\ndata: {\"message\":{\"model\":\"claude-sonnet-4\",\"role\":\"assistant\"}}\n\ndata: [DONE]\n\n";
        assert_eq!(
            run("gpt-5.2-codex", false, false, body.as_bytes()),
            "data: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5.2-codex\"}}\n\n: keep-alive\n\ndata: {\"type\":\"response.output_item.added\",\"item\":{\"id\":\"item_1\"}}\n\ndata: {\"message\":{\"model\":\"gpt-5.2-codex\",\"role\":\"assistant\"}}\n\ndata: [DONE]\n\n"
        );
    }

    #[test]
    fn large_non_stream_body_passes_unrewritten() {
        let mut body = br#"{"model":"x","pad":""#.to_vec();
        body.resize(MAX_BUFFERED + 10, b'a');
        body.extend_from_slice(br#""}"#);
        let mut r = Rewriter::new("asked", true, false);
        let mut out = Vec::new();
        r.feed(&body[..MAX_BUFFERED / 2], &mut out);
        assert!(out.is_empty() && r.holding());
        r.feed(&body[MAX_BUFFERED / 2..], &mut out);
        assert!(!r.holding());
        assert!(!r.finish(&mut out));
        assert_eq!(out, body);
    }
}
