//! Client encoders: [`StreamEvent`]s -> SSE frames in the client's format.
//!
//! Each encoder writes compact, single-line JSON directly into the output buffer, pasting
//! only validated escaped string spans and numbers it prints itself, so every `data:`
//! payload is valid JSON. After `Done`, `Error` or `finish` an encoder ignores further
//! events (the stream is over for the client).

use super::{Args, FinishReason, StreamCtx, StreamEvent, Usage};
use crate::json::escape::{escape_bytes_into as escape_into, unescape_into};
use crate::json::span::is_valid;
use crate::json::write::{write_hex, write_u64};
use crate::sse::write::{begin, end, write_comment, write_done};
use crate::translate::error;
use crate::translate::format::Format;
use crate::translate::tools::ClientTools;

/// Fields every encoder needs.
#[derive(Debug, Default)]
struct Common {
    /// Escaped client-visible model name.
    model: Vec<u8>,
    /// Escaped response id (upstream's, or synthesised when the upstream gave none).
    id: Vec<u8>,
    created: u64,
    seed: u64,
    started: bool,
    /// Terminal event written; ignore everything else.
    closed: bool,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    /// Escaped native finish reason.
    native: Vec<u8>,
}

impl Common {
    fn reset(&mut self, ctx: &StreamCtx<'_>) {
        self.model.clear();
        escape_into(&mut self.model, ctx.model.as_bytes());
        self.id.clear();
        self.created = ctx.created;
        self.seed = ctx.id_seed;
        self.started = false;
        self.closed = false;
        self.usage = None;
        self.finish = None;
        self.native.clear();
    }

    /// Take the upstream id when present, else `<prefix><seed hex>`.
    fn set_id(&mut self, upstream: &[u8], prefix: &[u8]) {
        self.id.clear();
        if upstream.is_empty() {
            self.id.extend_from_slice(prefix);
            write_hex(&mut self.id, self.seed);
        } else {
            self.id.extend_from_slice(upstream);
        }
    }

    fn record_finish(&mut self, reason: FinishReason, native: &[u8]) {
        if self.finish.is_none() {
            self.finish = Some(reason);
            self.native.clear();
            self.native.extend_from_slice(native);
        }
    }
}

/// Most tool calls one stream may open. Providers stream at most a few dozen parallel
/// calls; the cap bounds the per-stream tables (and their linear lookups) against a broken
/// or hostile upstream. Calls beyond it are dropped.
pub const MAX_TOOL_CALLS: usize = 1024;

/// Most output items (messages, reasoning items, calls) one Responses stream may open, for
/// the same reason as [`MAX_TOOL_CALLS`]; a real response has a handful.
pub const MAX_OUTPUT_ITEMS: usize = 4096;

/// The tool-call key of a tool event.
fn tool_key(ev: &StreamEvent<'_>) -> Option<(u32, u32)> {
    match *ev {
        StreamEvent::ToolCallStart { choice, index, .. }
        | StreamEvent::ToolArgs { choice, index, .. } => Some((choice, index)),
        _ => None,
    }
}

/// Encoder for one client format.
#[derive(Debug)]
pub enum Encoder {
    /// OpenAI Chat Completions chunks.
    Chat(ChatEnc),
    /// OpenAI Responses events.
    Responses(RespEnc),
    /// Anthropic Messages events.
    Claude(ClaudeEnc),
    /// Gemini `alt=sse` chunks.
    Gemini(GeminiEnc),
}

impl Encoder {
    /// An encoder for client format `f` (Codex encodes as OpenAI Responses).
    pub fn new(f: Format, ctx: &StreamCtx<'_>) -> Self {
        let mut e = match f {
            Format::OpenAiChat => Encoder::Chat(ChatEnc::default()),
            Format::OpenAiResponses | Format::Codex => Encoder::Responses(RespEnc::default()),
            Format::Claude => Encoder::Claude(ClaudeEnc::default()),
            Format::Gemini => Encoder::Gemini(GeminiEnc::default()),
        };
        e.reset(ctx);
        e
    }

    /// Forget per-stream state, keep capacity.
    pub fn reset(&mut self, ctx: &StreamCtx<'_>) {
        match self {
            Encoder::Chat(e) => e.reset(ctx),
            Encoder::Responses(e) => e.reset(ctx),
            Encoder::Claude(e) => e.reset(ctx),
            Encoder::Gemini(e) => e.reset(ctx),
        }
    }

    /// Encode one event.
    pub fn event(&mut self, ev: StreamEvent<'_>, out: &mut Vec<u8>) {
        match self {
            Encoder::Chat(e) => e.event(ev, out),
            Encoder::Responses(e) => e.event(ev, out),
            Encoder::Claude(e) => e.event(ev, out),
            Encoder::Gemini(e) => e.event(ev, out),
        }
    }

    /// Upstream EOF: write the terminal events if not yet written.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.event(StreamEvent::Done, out);
    }

    /// Write an error event; `kind` and `message` are escaped content.
    pub fn error(&mut self, status: u16, kind: &[u8], message: &[u8], out: &mut Vec<u8>) {
        self.event(
            StreamEvent::Error {
                status,
                kind,
                message,
            },
            out,
        );
    }
}

// ---------------------------------------------------------------- OpenAI Chat

/// OpenAI Chat encoder state.
#[derive(Debug, Default)]
pub struct ChatEnc {
    c: Common,
    /// `{"id":..,"object":"chat.completion.chunk","created":..,"model":..,"choices":[`
    prefix: Vec<u8>,
    /// `(choice, upstream tool key) -> client tool index`, per choice sequential.
    tools: Vec<(u32, u32, u32)>,
}

impl ChatEnc {
    fn reset(&mut self, ctx: &StreamCtx<'_>) {
        self.c.reset(ctx);
        self.prefix.clear();
        self.tools.clear();
    }

    fn start(&mut self, id: &[u8], out: &mut Vec<u8>) {
        if self.c.started {
            return;
        }
        self.c.started = true;
        self.c.set_id(id, b"chatcmpl-");
        let p = &mut self.prefix;
        p.clear();
        p.extend_from_slice(b"{\"id\":\"");
        p.extend_from_slice(&self.c.id);
        p.extend_from_slice(b"\",\"object\":\"chat.completion.chunk\",\"created\":");
        write_u64(p, self.c.created);
        p.extend_from_slice(b",\"model\":\"");
        p.extend_from_slice(&self.c.model);
        p.extend_from_slice(b"\",\"choices\":[");
        self.chunk_open(0, out);
        out.extend_from_slice(b"{\"role\":\"assistant\",\"content\":\"\"}");
        Self::chunk_close(out);
    }

    /// Writes `data: <prefix>{"index":i,"delta":`.
    fn chunk_open(&self, choice: u32, out: &mut Vec<u8>) {
        begin(out, None);
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(b"{\"index\":");
        write_u64(out, u64::from(choice));
        out.extend_from_slice(b",\"delta\":");
    }

    fn chunk_close(out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"finish_reason\":null}]}");
        end(out);
    }

    fn tool_index(&mut self, choice: u32, key: u32) -> (u32, bool) {
        if let Some(t) = self.tools.iter().find(|t| t.0 == choice && t.1 == key) {
            return (t.2, false);
        }
        let n = self.tools.iter().filter(|t| t.0 == choice).count() as u32;
        self.tools.push((choice, key, n));
        (n, true)
    }

    fn event(&mut self, ev: StreamEvent<'_>, out: &mut Vec<u8>) {
        if self.c.closed {
            return;
        }
        if let Some((choice, index)) = tool_key(&ev) {
            if self.tools.len() >= MAX_TOOL_CALLS
                && !self.tools.iter().any(|t| t.0 == choice && t.1 == index)
            {
                return;
            }
        }
        if let StreamEvent::Start { id } = ev {
            self.start(id, out);
            return;
        }
        if !matches!(ev, StreamEvent::KeepAlive | StreamEvent::Error { .. }) {
            self.start(b"", out);
        }
        match ev {
            StreamEvent::Start { .. } | StreamEvent::ReasoningSignature { .. } => {}
            StreamEvent::Text { choice, text } => {
                self.chunk_open(choice, out);
                out.extend_from_slice(b"{\"content\":\"");
                out.extend_from_slice(text);
                out.extend_from_slice(b"\"}");
                Self::chunk_close(out);
            }
            StreamEvent::Reasoning { choice, text } => {
                self.chunk_open(choice, out);
                out.extend_from_slice(b"{\"reasoning_content\":\"");
                out.extend_from_slice(text);
                out.extend_from_slice(b"\"}");
                Self::chunk_close(out);
            }
            StreamEvent::ToolCallStart {
                choice,
                index,
                id,
                name,
            } => {
                let (ti, _) = self.tool_index(choice, index);
                self.chunk_open(choice, out);
                out.extend_from_slice(b"{\"tool_calls\":[{\"index\":");
                write_u64(out, u64::from(ti));
                out.extend_from_slice(b",\"id\":\"");
                if id.is_empty() {
                    out.extend_from_slice(b"call_");
                    write_hex(out, self.c.seed);
                    out.push(b'_');
                    write_u64(out, u64::from(choice) * 1000 + u64::from(ti));
                } else {
                    out.extend_from_slice(id);
                }
                out.extend_from_slice(b"\",\"type\":\"function\",\"function\":{\"name\":\"");
                out.extend_from_slice(name);
                out.extend_from_slice(b"\",\"arguments\":\"\"}}]}");
                Self::chunk_close(out);
            }
            StreamEvent::ToolArgs {
                choice,
                index,
                args,
            } => {
                let (ti, new) = self.tool_index(choice, index);
                if new {
                    // Arguments before any start: announce the call first.
                    self.tools.pop();
                    self.event(
                        StreamEvent::ToolCallStart {
                            choice,
                            index,
                            id: b"",
                            name: b"",
                        },
                        out,
                    );
                }
                self.chunk_open(choice, out);
                out.extend_from_slice(b"{\"tool_calls\":[{\"index\":");
                write_u64(out, u64::from(ti));
                out.extend_from_slice(b",\"function\":{\"arguments\":\"");
                match args {
                    Args::Escaped(a) => out.extend_from_slice(a),
                    Args::Raw(a) => escape_into(out, a),
                }
                out.extend_from_slice(b"\"}}]}");
                Self::chunk_close(out);
            }
            StreamEvent::Usage(u) => self.c.usage = Some(u),
            StreamEvent::Finish { reason, native, .. } => self.c.record_finish(reason, native),
            StreamEvent::KeepAlive => write_comment(out, b"keep-alive"),
            StreamEvent::Done => {
                self.c.closed = true;
                let reason: &[u8] = match self.c.finish {
                    Some(FinishReason::Length) => b"length",
                    Some(FinishReason::ToolCalls) => b"tool_calls",
                    Some(FinishReason::ContentFilter) => b"content_filter",
                    Some(FinishReason::Stop) => b"stop",
                    None if !self.tools.is_empty() => b"tool_calls",
                    None => b"stop",
                };
                self.chunk_open(0, out);
                out.extend_from_slice(b"{},\"finish_reason\":\"");
                out.extend_from_slice(reason);
                out.extend_from_slice(b"\",\"native_finish_reason\":\"");
                if self.c.native.is_empty() {
                    out.extend_from_slice(reason);
                } else {
                    out.extend(self.c.native.iter().map(u8::to_ascii_lowercase));
                }
                out.extend_from_slice(b"\"}]");
                if let Some(u) = self.c.usage {
                    out.extend_from_slice(b",\"usage\":{\"prompt_tokens\":");
                    write_u64(out, u.input);
                    out.extend_from_slice(b",\"completion_tokens\":");
                    write_u64(out, u.output);
                    out.extend_from_slice(b",\"total_tokens\":");
                    write_u64(out, u.input.saturating_add(u.output));
                    out.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
                    write_u64(out, u.cached);
                    out.extend_from_slice(
                        b"},\"completion_tokens_details\":{\"reasoning_tokens\":",
                    );
                    write_u64(out, u.reasoning);
                    out.extend_from_slice(b"}}");
                }
                out.push(b'}');
                end(out);
                write_done(out);
            }
            StreamEvent::Error {
                status,
                kind,
                message,
            } => {
                self.c.closed = true;
                begin(out, None);
                out.extend_from_slice(b"{\"error\":{\"message\":\"");
                out.extend_from_slice(message);
                out.extend_from_slice(b"\",\"type\":\"");
                if status == 0 && !kind.is_empty() {
                    out.extend_from_slice(kind);
                } else {
                    out.extend_from_slice(error::openai(status).0.as_bytes());
                }
                out.extend_from_slice(b"\",\"code\":\"");
                out.extend_from_slice(error::openai_code(status).as_bytes());
                out.extend_from_slice(b"\"}}");
                end(out);
            }
        }
    }
}

// ---------------------------------------------------------------- Claude

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    Tool { choice: u32, key: u32 },
}

/// Anthropic Messages encoder state.
#[derive(Debug, Default)]
pub struct ClaudeEnc {
    c: Common,
    /// Currently open content block and its index.
    open: Option<(Block, u32)>,
    next_block: u32,
    /// `(choice, tool key) -> block index`.
    tools: Vec<(u32, u32, u32)>,
}

impl ClaudeEnc {
    fn reset(&mut self, ctx: &StreamCtx<'_>) {
        self.c.reset(ctx);
        self.open = None;
        self.next_block = 0;
        self.tools.clear();
    }

    fn start(&mut self, id: &[u8], out: &mut Vec<u8>) {
        if self.c.started {
            return;
        }
        self.c.started = true;
        self.c.set_id(id, b"msg_");
        begin(out, Some(b"message_start"));
        out.extend_from_slice(b"{\"type\":\"message_start\",\"message\":{\"id\":\"");
        out.extend_from_slice(&self.c.id);
        out.extend_from_slice(b"\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"");
        out.extend_from_slice(&self.c.model);
        out.extend_from_slice(
            b"\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}",
        );
        end(out);
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((_, idx)) = self.open.take() {
            begin(out, Some(b"content_block_stop"));
            out.extend_from_slice(b"{\"type\":\"content_block_stop\",\"index\":");
            write_u64(out, u64::from(idx));
            out.push(b'}');
            end(out);
        }
    }

    /// Make `block` the open block (closing another), returning its index.
    fn ensure(&mut self, block: Block, out: &mut Vec<u8>) -> u32 {
        if let Some((b, idx)) = self.open {
            if b == block {
                return idx;
            }
        }
        self.close_block(out);
        let idx = self.next_block;
        self.next_block += 1;
        self.open = Some((block, idx));
        if !matches!(block, Block::Tool { .. }) {
            begin(out, Some(b"content_block_start"));
            out.extend_from_slice(b"{\"type\":\"content_block_start\",\"index\":");
            write_u64(out, u64::from(idx));
            out.extend_from_slice(if block == Block::Text {
                &b",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"[..]
            } else {
                &b",\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}"[..]
            });
            end(out);
        }
        idx
    }

    fn delta_open(idx: u32, out: &mut Vec<u8>) {
        begin(out, Some(b"content_block_delta"));
        out.extend_from_slice(b"{\"type\":\"content_block_delta\",\"index\":");
        write_u64(out, u64::from(idx));
        out.extend_from_slice(b",\"delta\":{\"type\":\"");
    }

    fn tool_start(
        &mut self,
        choice: u32,
        key: u32,
        id: &[u8],
        name: &[u8],
        out: &mut Vec<u8>,
    ) -> u32 {
        let idx = self.ensure(Block::Tool { choice, key }, out);
        self.tools.push((choice, key, idx));
        begin(out, Some(b"content_block_start"));
        out.extend_from_slice(b"{\"type\":\"content_block_start\",\"index\":");
        write_u64(out, u64::from(idx));
        out.extend_from_slice(b",\"content_block\":{\"type\":\"tool_use\",\"id\":\"");
        if id.is_empty() {
            out.extend_from_slice(b"toolu_");
            write_hex(out, self.c.seed);
            out.push(b'_');
            write_u64(out, u64::from(idx));
        } else {
            out.extend_from_slice(id);
        }
        out.extend_from_slice(b"\",\"name\":\"");
        out.extend_from_slice(name);
        out.extend_from_slice(b"\",\"input\":{}}}");
        end(out);
        idx
    }

    fn event(&mut self, ev: StreamEvent<'_>, out: &mut Vec<u8>) {
        if self.c.closed {
            return;
        }
        if let Some((choice, index)) = tool_key(&ev) {
            if self.tools.len() >= MAX_TOOL_CALLS
                && !self.tools.iter().any(|t| t.0 == choice && t.1 == index)
            {
                return;
            }
        }
        if let StreamEvent::Start { id } = ev {
            self.start(id, out);
            return;
        }
        if !matches!(ev, StreamEvent::KeepAlive | StreamEvent::Error { .. }) {
            self.start(b"", out);
        }
        match ev {
            StreamEvent::Start { .. } => {}
            StreamEvent::Text { text, .. } => {
                let idx = self.ensure(Block::Text, out);
                Self::delta_open(idx, out);
                out.extend_from_slice(b"text_delta\",\"text\":\"");
                out.extend_from_slice(text);
                out.extend_from_slice(b"\"}}");
                end(out);
            }
            StreamEvent::Reasoning { text, .. } => {
                let idx = self.ensure(Block::Thinking, out);
                Self::delta_open(idx, out);
                out.extend_from_slice(b"thinking_delta\",\"thinking\":\"");
                out.extend_from_slice(text);
                out.extend_from_slice(b"\"}}");
                end(out);
            }
            StreamEvent::ReasoningSignature { sig, .. } => {
                // Only a signature for an open thinking block has a place in Claude's format.
                if let Some((Block::Thinking, idx)) = self.open {
                    Self::delta_open(idx, out);
                    out.extend_from_slice(b"signature_delta\",\"signature\":\"");
                    out.extend_from_slice(sig);
                    out.extend_from_slice(b"\"}}");
                    end(out);
                }
            }
            StreamEvent::ToolCallStart {
                choice,
                index,
                id,
                name,
            } => {
                if !self.tools.iter().any(|t| t.0 == choice && t.1 == index) {
                    self.tool_start(choice, index, id, name, out);
                }
            }
            StreamEvent::ToolArgs {
                choice,
                index,
                args,
            } => {
                let idx = match self.tools.iter().find(|t| t.0 == choice && t.1 == index) {
                    Some(t) => t.2,
                    None => self.tool_start(choice, index, b"", b"", out),
                };
                Self::delta_open(idx, out);
                out.extend_from_slice(b"input_json_delta\",\"partial_json\":\"");
                match args {
                    Args::Escaped(a) => out.extend_from_slice(a),
                    Args::Raw(a) => escape_into(out, a),
                }
                out.extend_from_slice(b"\"}}");
                end(out);
            }
            StreamEvent::Usage(u) => self.c.usage = Some(u),
            StreamEvent::Finish { reason, native, .. } => self.c.record_finish(reason, native),
            StreamEvent::KeepAlive if !self.c.started => write_comment(out, b"keep-alive"),
            StreamEvent::KeepAlive => {
                begin(out, Some(b"ping"));
                out.extend_from_slice(b"{\"type\":\"ping\"}");
                end(out);
            }
            StreamEvent::Done => {
                self.c.closed = true;
                self.close_block(out);
                let reason: &[u8] = match self.c.finish {
                    Some(FinishReason::Length) => b"max_tokens",
                    Some(FinishReason::ToolCalls) => b"tool_use",
                    Some(FinishReason::ContentFilter) => b"refusal",
                    Some(FinishReason::Stop) if self.c.native.as_slice() == b"stop_sequence" => {
                        b"stop_sequence"
                    }
                    Some(FinishReason::Stop) => b"end_turn",
                    None if !self.tools.is_empty() => b"tool_use",
                    None => b"end_turn",
                };
                let u = self.c.usage.unwrap_or_default();
                begin(out, Some(b"message_delta"));
                out.extend_from_slice(b"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
                out.extend_from_slice(reason);
                out.extend_from_slice(b"\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":");
                write_u64(out, u.input.saturating_sub(u.cached));
                if u.cached > 0 {
                    out.extend_from_slice(b",\"cache_read_input_tokens\":");
                    write_u64(out, u.cached);
                }
                out.extend_from_slice(b",\"output_tokens\":");
                write_u64(out, u.output);
                out.extend_from_slice(b"}}");
                end(out);
                begin(out, Some(b"message_stop"));
                out.extend_from_slice(b"{\"type\":\"message_stop\"}");
                end(out);
            }
            StreamEvent::Error {
                status,
                kind,
                message,
            } => {
                self.c.closed = true;
                begin(out, Some(b"error"));
                out.extend_from_slice(b"{\"type\":\"error\",\"error\":{\"type\":\"");
                if status == 0 && !kind.is_empty() {
                    out.extend_from_slice(kind);
                } else {
                    out.extend_from_slice(error::claude(status).as_bytes());
                }
                out.extend_from_slice(b"\",\"message\":\"");
                out.extend_from_slice(message);
                out.extend_from_slice(b"\"}}");
                end(out);
            }
        }
    }
}

// ---------------------------------------------------------------- Gemini

/// A function call being collected for Gemini (which needs whole `args` objects).
#[derive(Debug, Default)]
struct GemCall {
    choice: u32,
    key: u32,
    name: Vec<u8>,
    /// Raw (unescaped) JSON text of the arguments.
    args: Vec<u8>,
}

/// Gemini encoder state.
#[derive(Debug, Default)]
pub struct GeminiEnc {
    c: Common,
    calls: Vec<GemCall>,
    n_calls: usize,
}

impl GeminiEnc {
    fn reset(&mut self, ctx: &StreamCtx<'_>) {
        self.c.reset(ctx);
        self.n_calls = 0;
    }

    fn chunk_open(out: &mut Vec<u8>, choice: u32) {
        begin(out, None);
        out.extend_from_slice(b"{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[");
        let _ = choice;
    }

    fn chunk_tail(&self, choice: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"index\":");
        write_u64(out, u64::from(choice));
        out.extend_from_slice(b"}],\"modelVersion\":\"");
        out.extend_from_slice(&self.c.model);
        out.extend_from_slice(b"\",\"responseId\":\"");
        out.extend_from_slice(&self.c.id);
        out.extend_from_slice(b"\"}");
        end(out);
    }

    fn call(&mut self, choice: u32, key: u32) -> Option<usize> {
        self.calls[..self.n_calls]
            .iter()
            .position(|c| c.choice == choice && c.key == key)
    }

    fn new_call(&mut self, choice: u32, key: u32, name: &[u8]) -> usize {
        if self.n_calls == self.calls.len() {
            self.calls.push(GemCall::default());
        }
        let i = self.n_calls;
        self.n_calls += 1;
        let c = &mut self.calls[i];
        c.choice = choice;
        c.key = key;
        c.name.clear();
        c.name.extend_from_slice(name);
        c.args.clear();
        i
    }

    fn event(&mut self, ev: StreamEvent<'_>, out: &mut Vec<u8>) {
        if self.c.closed {
            return;
        }
        if let Some((choice, index)) = tool_key(&ev) {
            if self.n_calls >= MAX_TOOL_CALLS && self.call(choice, index).is_none() {
                return;
            }
        }
        if let StreamEvent::Start { id } = ev {
            if !self.c.started {
                self.c.started = true;
                self.c.set_id(id, b"");
            }
            return;
        }
        if !self.c.started && !matches!(ev, StreamEvent::KeepAlive | StreamEvent::Error { .. }) {
            self.c.started = true;
            self.c.set_id(b"", b"");
        }
        match ev {
            StreamEvent::Start { .. } | StreamEvent::ReasoningSignature { .. } => {}
            StreamEvent::Text { choice, text } | StreamEvent::Reasoning { choice, text } => {
                Self::chunk_open(out, choice);
                out.extend_from_slice(b"{\"text\":\"");
                out.extend_from_slice(text);
                out.push(b'"');
                if matches!(ev, StreamEvent::Reasoning { .. }) {
                    out.extend_from_slice(b",\"thought\":true");
                }
                out.extend_from_slice(b"}]}");
                self.chunk_tail(choice, out);
            }
            StreamEvent::ToolCallStart {
                choice,
                index,
                name,
                ..
            } => {
                if self.call(choice, index).is_none() {
                    self.new_call(choice, index, name);
                }
            }
            StreamEvent::ToolArgs {
                choice,
                index,
                args,
            } => {
                let i = match self.call(choice, index) {
                    Some(i) => i,
                    None => self.new_call(choice, index, b""),
                };
                match args {
                    Args::Escaped(a) => unescape_into(&mut self.calls[i].args, a),
                    Args::Raw(a) => self.calls[i].args.extend_from_slice(a),
                }
            }
            StreamEvent::Usage(u) => self.c.usage = Some(u),
            StreamEvent::Finish { reason, native, .. } => self.c.record_finish(reason, native),
            // Gemini streams carry `data:` lines only: google-genai parses any
            // other line (comments included) as JSON and aborts.
            StreamEvent::KeepAlive => {}
            StreamEvent::Done => {
                self.c.closed = true;
                Self::chunk_open(out, 0);
                if self.n_calls == 0 {
                    out.extend_from_slice(b"{\"text\":\"\"}");
                }
                for (n, call) in self.calls[..self.n_calls].iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"functionCall\":{\"name\":\"");
                    out.extend_from_slice(&call.name);
                    out.extend_from_slice(b"\",\"args\":");
                    if call.args.first() == Some(&b'{') && is_valid(&call.args) {
                        out.extend_from_slice(&call.args);
                    } else {
                        out.extend_from_slice(b"{}");
                    }
                    out.extend_from_slice(b"}}");
                }
                out.extend_from_slice(b"]},\"finishReason\":\"");
                out.extend_from_slice(match self.c.finish {
                    Some(FinishReason::Length) => b"MAX_TOKENS",
                    Some(FinishReason::ContentFilter) => b"SAFETY",
                    _ => b"STOP",
                });
                out.push(b'"');
                out.extend_from_slice(b",\"index\":0}]");
                if let Some(u) = self.c.usage {
                    out.extend_from_slice(b",\"usageMetadata\":{\"promptTokenCount\":");
                    write_u64(out, u.input);
                    out.extend_from_slice(b",\"candidatesTokenCount\":");
                    write_u64(out, u.output.saturating_sub(u.reasoning));
                    out.extend_from_slice(b",\"totalTokenCount\":");
                    write_u64(out, u.input.saturating_add(u.output));
                    if u.cached > 0 {
                        out.extend_from_slice(b",\"cachedContentTokenCount\":");
                        write_u64(out, u.cached);
                    }
                    if u.reasoning > 0 {
                        out.extend_from_slice(b",\"thoughtsTokenCount\":");
                        write_u64(out, u.reasoning);
                    }
                    out.push(b'}');
                }
                out.extend_from_slice(b",\"modelVersion\":\"");
                out.extend_from_slice(&self.c.model);
                out.extend_from_slice(b"\",\"responseId\":\"");
                out.extend_from_slice(&self.c.id);
                out.extend_from_slice(b"\"}");
                end(out);
            }
            StreamEvent::Error {
                status,
                kind,
                message,
            } => {
                self.c.closed = true;
                let status = if status == 0 { 500 } else { status };
                // No `event:` line (data only, see KeepAlive); google-genai
                // raises an APIError for a `{"error":..}` chunk.
                begin(out, None);
                out.extend_from_slice(b"{\"error\":{\"code\":");
                write_u64(out, u64::from(status));
                out.extend_from_slice(b",\"message\":\"");
                out.extend_from_slice(message);
                out.extend_from_slice(b"\",\"status\":\"");
                let _ = kind;
                out.extend_from_slice(error::gemini(status).as_bytes());
                out.extend_from_slice(b"\"}}");
                end(out);
            }
        }
    }
}

// ---------------------------------------------------------------- OpenAI Responses

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum ItemKind {
    #[default]
    Message,
    Reasoning,
    Call,
}

/// One output item; its position in `RespEnc::items` is its `output_index`.
#[derive(Debug, Default)]
struct RItem {
    kind: ItemKind,
    choice: u32,
    key: u32,
    open: bool,
    /// Escaped item id.
    id: Vec<u8>,
    /// Escaped call id and name (calls only).
    call_id: Vec<u8>,
    name: Vec<u8>,
    /// Escaped accumulated text / arguments.
    buf: Vec<u8>,
    /// Pre-rendered `,"item_id":"<id>","output_index":<i>` (written on every delta).
    item_ref: Vec<u8>,
    /// A call to a client `custom` tool: a `custom_tool_call` item whose
    /// escaped `input` is unwrapped from `buf` when the call closes.
    custom: bool,
    input: Vec<u8>,
    /// Escaped namespace of a call to a namespaced client tool (else empty).
    ns: Vec<u8>,
}

/// OpenAI Responses encoder state (items are reused across streams to keep capacity).
#[derive(Debug, Default)]
pub struct RespEnc {
    c: Common,
    seq: u64,
    items: Vec<RItem>,
    n_items: usize,
    /// The client's custom / namespace tools for this stream.
    tools: Option<ClientTools>,
    /// Scratch for unescaping custom-tool arguments.
    scratch: Vec<u8>,
}

impl RespEnc {
    fn reset(&mut self, ctx: &StreamCtx<'_>) {
        self.c.reset(ctx);
        self.seq = 0;
        self.n_items = 0;
        self.tools = None;
    }

    /// Map calls to the client's custom / namespace tools back (see
    /// `translate::tools`); cleared by `reset`.
    pub fn set_client_tools(&mut self, tools: Option<ClientTools>) {
        self.tools = tools;
    }

    /// Unwrap a custom call's freeform input from its escaped arguments.
    fn unwrap_custom(&mut self, i: usize) {
        self.scratch.clear();
        unescape_into(&mut self.scratch, &self.items[i].buf);
        let it = &mut self.items[i];
        it.input.clear();
        crate::translate::tools::custom_input(
            &String::from_utf8_lossy(&self.scratch),
            &mut it.input,
        );
    }

    /// `event: <ty>` + `data: {"type":"<ty>","sequence_number":n`
    fn ev_open(&mut self, ty: &[u8], out: &mut Vec<u8>) {
        begin(out, Some(ty));
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(ty);
        out.extend_from_slice(b"\",\"sequence_number\":");
        write_u64(out, self.seq);
        self.seq += 1;
    }

    fn response_head(&self, status: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"response\":{\"id\":\"");
        out.extend_from_slice(&self.c.id);
        out.extend_from_slice(b"\",\"object\":\"response\",\"created_at\":");
        write_u64(out, self.c.created);
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(status);
        out.extend_from_slice(b"\",\"background\":false,\"error\":null,\"model\":\"");
        out.extend_from_slice(&self.c.model);
        out.push(b'"');
    }

    fn start(&mut self, id: &[u8], out: &mut Vec<u8>) {
        if self.c.started {
            return;
        }
        self.c.started = true;
        self.c.set_id(id, b"resp_");
        self.ev_open(b"response.created", out);
        self.response_head(b"in_progress", out);
        out.extend_from_slice(b",\"output\":[]}}");
        end(out);
        self.ev_open(b"response.in_progress", out);
        self.response_head(b"in_progress", out);
        out.extend_from_slice(b",\"output\":[]}}");
        end(out);
    }

    fn alloc(&mut self, kind: ItemKind, choice: u32, key: u32) -> usize {
        if self.n_items == self.items.len() {
            self.items.push(RItem::default());
        }
        let i = self.n_items;
        self.n_items += 1;
        let seed = self.c.seed;
        let it = &mut self.items[i];
        it.kind = kind;
        it.choice = choice;
        it.key = key;
        it.open = true;
        it.id.clear();
        it.id.extend_from_slice(match kind {
            ItemKind::Message => b"msg_",
            ItemKind::Reasoning => b"rs_",
            ItemKind::Call => b"fc_",
        });
        write_hex(&mut it.id, seed);
        it.id.push(b'_');
        write_u64(&mut it.id, i as u64);
        it.call_id.clear();
        it.name.clear();
        it.buf.clear();
        it.custom = false;
        it.input.clear();
        it.ns.clear();
        it.item_ref.clear();
        it.item_ref.extend_from_slice(b",\"item_id\":\"");
        it.item_ref.extend_from_slice(&it.id);
        it.item_ref.extend_from_slice(b"\",\"output_index\":");
        write_u64(&mut it.item_ref, i as u64);
        i
    }

    fn find_open(&self, kind: ItemKind, choice: u32) -> Option<usize> {
        self.items[..self.n_items]
            .iter()
            .position(|it| it.open && it.kind == kind && it.choice == choice)
    }

    fn find_call(&self, choice: u32, key: u32) -> Option<usize> {
        self.items[..self.n_items]
            .iter()
            .position(|it| it.kind == ItemKind::Call && it.choice == choice && it.key == key)
    }

    /// `,"item_id":"..","output_index":i`
    fn item_ref(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.items[i].item_ref);
    }

    /// The item object (`in_progress` shape when `done` is false).
    fn item_json(&self, i: usize, done: bool, out: &mut Vec<u8>) {
        let it = &self.items[i];
        out.extend_from_slice(b"{\"id\":\"");
        out.extend_from_slice(&it.id);
        match it.kind {
            ItemKind::Message => {
                out.extend_from_slice(b"\",\"type\":\"message\",\"status\":\"");
                if done {
                    out.extend_from_slice(
                        b"completed\",\"content\":[{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"",
                    );
                    out.extend_from_slice(&it.buf);
                    out.extend_from_slice(b"\"}],\"role\":\"assistant\"}");
                } else {
                    out.extend_from_slice(b"in_progress\",\"content\":[],\"role\":\"assistant\"}");
                }
            }
            ItemKind::Reasoning => {
                out.extend_from_slice(b"\",\"type\":\"reasoning\",\"summary\":[");
                if done {
                    out.extend_from_slice(b"{\"type\":\"summary_text\",\"text\":\"");
                    out.extend_from_slice(&it.buf);
                    out.extend_from_slice(b"\"}");
                }
                out.extend_from_slice(b"]}");
            }
            ItemKind::Call if it.custom => {
                out.extend_from_slice(b"\",\"type\":\"custom_tool_call\",\"status\":\"");
                out.extend_from_slice(if done { b"completed" } else { b"in_progress" });
                out.extend_from_slice(b"\",\"call_id\":\"");
                out.extend_from_slice(&it.call_id);
                out.extend_from_slice(b"\",\"name\":\"");
                out.extend_from_slice(&it.name);
                if !it.ns.is_empty() {
                    out.extend_from_slice(b"\",\"namespace\":\"");
                    out.extend_from_slice(&it.ns);
                }
                out.extend_from_slice(b"\",\"input\":\"");
                if done {
                    out.extend_from_slice(&it.input);
                }
                out.extend_from_slice(b"\"}");
            }
            ItemKind::Call => {
                out.extend_from_slice(b"\",\"type\":\"function_call\",\"status\":\"");
                out.extend_from_slice(if done { b"completed" } else { b"in_progress" });
                out.extend_from_slice(b"\",\"arguments\":\"");
                if done {
                    out.extend_from_slice(if it.buf.is_empty() { b"{}" } else { &it.buf });
                }
                out.extend_from_slice(b"\",\"call_id\":\"");
                out.extend_from_slice(&it.call_id);
                out.extend_from_slice(b"\",\"name\":\"");
                out.extend_from_slice(&it.name);
                if !it.ns.is_empty() {
                    out.extend_from_slice(b"\",\"namespace\":\"");
                    out.extend_from_slice(&it.ns);
                }
                out.extend_from_slice(b"\"}");
            }
        }
    }

    fn item_added(&mut self, i: usize, out: &mut Vec<u8>) {
        self.ev_open(b"response.output_item.added", out);
        out.extend_from_slice(b",\"output_index\":");
        write_u64(out, i as u64);
        out.extend_from_slice(b",\"item\":");
        self.item_json(i, false, out);
        out.push(b'}');
        end(out);
        match self.items[i].kind {
            ItemKind::Message => {
                self.ev_open(b"response.content_part.added", out);
                self.item_ref(i, out);
                out.extend_from_slice(
                    b",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"\"}}",
                );
                end(out);
            }
            ItemKind::Reasoning => {
                self.ev_open(b"response.reasoning_summary_part.added", out);
                self.item_ref(i, out);
                out.extend_from_slice(
                    b",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":\"\"}}",
                );
                end(out);
            }
            ItemKind::Call => {}
        }
    }

    fn close_item(&mut self, i: usize, out: &mut Vec<u8>) {
        if !self.items[i].open {
            return;
        }
        self.items[i].open = false;
        match self.items[i].kind {
            ItemKind::Message => {
                self.ev_open(b"response.output_text.done", out);
                self.item_ref(i, out);
                out.extend_from_slice(b",\"content_index\":0,\"text\":\"");
                out.extend_from_slice(&self.items[i].buf);
                out.extend_from_slice(b"\",\"logprobs\":[]}");
                end(out);
                self.ev_open(b"response.content_part.done", out);
                self.item_ref(i, out);
                out.extend_from_slice(
                    b",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"",
                );
                out.extend_from_slice(&self.items[i].buf);
                out.extend_from_slice(b"\"}}");
                end(out);
            }
            ItemKind::Reasoning => {
                self.ev_open(b"response.reasoning_summary_text.done", out);
                self.item_ref(i, out);
                out.extend_from_slice(b",\"summary_index\":0,\"text\":\"");
                out.extend_from_slice(&self.items[i].buf);
                out.extend_from_slice(b"\"}");
                end(out);
                self.ev_open(b"response.reasoning_summary_part.done", out);
                self.item_ref(i, out);
                out.extend_from_slice(
                    b",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":\"",
                );
                out.extend_from_slice(&self.items[i].buf);
                out.extend_from_slice(b"\"}}");
                end(out);
            }
            ItemKind::Call if self.items[i].custom => {
                // The input is known only once the `{"input": ...}` wrapper is
                // complete: one delta with all of it, then done.
                self.unwrap_custom(i);
                let input = std::mem::take(&mut self.items[i].input);
                self.delta(
                    i,
                    b"response.custom_tool_call_input.delta",
                    b"",
                    &input,
                    out,
                );
                self.ev_open(b"response.custom_tool_call_input.done", out);
                self.item_ref(i, out);
                out.extend_from_slice(b",\"input\":\"");
                out.extend_from_slice(&input);
                out.extend_from_slice(b"\"}");
                end(out);
                self.items[i].input = input;
            }
            ItemKind::Call => {
                self.ev_open(b"response.function_call_arguments.done", out);
                self.item_ref(i, out);
                out.extend_from_slice(b",\"arguments\":\"");
                let b = &self.items[i].buf;
                out.extend_from_slice(if b.is_empty() { b"{}" } else { b });
                out.extend_from_slice(b"\"}");
                end(out);
            }
        }
        self.ev_open(b"response.output_item.done", out);
        out.extend_from_slice(b",\"output_index\":");
        write_u64(out, i as u64);
        out.extend_from_slice(b",\"item\":");
        self.item_json(i, true, out);
        out.push(b'}');
        end(out);
    }

    /// Close every open item with `output_index <= upto`, ascending (keeps `*.done`
    /// events in ascending `output_index` order).
    fn close_upto(&mut self, upto: usize, out: &mut Vec<u8>) {
        for i in 0..self.n_items.min(upto.saturating_add(1)) {
            self.close_item(i, out);
        }
    }

    fn delta(&mut self, i: usize, ty: &[u8], extra: &[u8], text: &[u8], out: &mut Vec<u8>) {
        self.ev_open(ty, out);
        self.item_ref(i, out);
        out.extend_from_slice(extra);
        out.extend_from_slice(b",\"delta\":\"");
        out.extend_from_slice(text);
        out.push(b'"');
        if self.items[i].kind == ItemKind::Message {
            out.extend_from_slice(b",\"logprobs\":[]");
        }
        out.push(b'}');
        end(out);
    }

    fn call_start(
        &mut self,
        choice: u32,
        key: u32,
        id: &[u8],
        name: &[u8],
        out: &mut Vec<u8>,
    ) -> usize {
        // A new call ends the thinking and the text that preceded it in this choice.
        let prior = [
            self.find_open(ItemKind::Reasoning, choice),
            self.find_open(ItemKind::Message, choice),
        ];
        if let Some(m) = prior.iter().flatten().max() {
            self.close_upto(*m, out);
        }
        let i = self.alloc(ItemKind::Call, choice, key);
        let seed = self.c.seed;
        let it = &mut self.items[i];
        if id.is_empty() {
            it.call_id.extend_from_slice(b"call_");
            write_hex(&mut it.call_id, seed);
            it.call_id.push(b'_');
            write_u64(&mut it.call_id, i as u64);
        } else {
            it.call_id.extend_from_slice(id);
        }
        it.name.extend_from_slice(name);
        if let Some(t) = &self.tools {
            it.custom = t.is_custom(name);
            if let Some((ns, child)) = t.split(name) {
                it.ns.extend_from_slice(ns);
                it.name.clear();
                it.name.extend_from_slice(child);
            }
        }
        self.item_added(i, out);
        i
    }

    fn event(&mut self, ev: StreamEvent<'_>, out: &mut Vec<u8>) {
        if self.c.closed {
            return;
        }
        if self.n_items >= MAX_OUTPUT_ITEMS {
            let new_item = match ev {
                StreamEvent::Text { choice, .. } => {
                    self.find_open(ItemKind::Message, choice).is_none()
                }
                StreamEvent::Reasoning { choice, .. } => {
                    self.find_open(ItemKind::Reasoning, choice).is_none()
                }
                StreamEvent::ToolCallStart { choice, index, .. }
                | StreamEvent::ToolArgs { choice, index, .. } => {
                    self.find_call(choice, index).is_none()
                }
                _ => false,
            };
            if new_item {
                return;
            }
        }
        if let StreamEvent::Start { id } = ev {
            self.start(id, out);
            return;
        }
        if !matches!(ev, StreamEvent::KeepAlive | StreamEvent::Error { .. }) {
            self.start(b"", out);
        }
        match ev {
            StreamEvent::Start { .. } | StreamEvent::ReasoningSignature { .. } => {}
            StreamEvent::Text { choice, text } => {
                if let Some(r) = self.find_open(ItemKind::Reasoning, choice) {
                    self.close_upto(r, out);
                }
                let i = match self.find_open(ItemKind::Message, choice) {
                    Some(i) => i,
                    None => {
                        let i = self.alloc(ItemKind::Message, choice, 0);
                        self.item_added(i, out);
                        i
                    }
                };
                self.items[i].buf.extend_from_slice(text);
                self.delta(
                    i,
                    b"response.output_text.delta",
                    b",\"content_index\":0",
                    text,
                    out,
                );
            }
            StreamEvent::Reasoning { choice, text } => {
                let i = match self.find_open(ItemKind::Reasoning, choice) {
                    Some(i) => i,
                    None => {
                        let i = self.alloc(ItemKind::Reasoning, choice, 0);
                        self.item_added(i, out);
                        i
                    }
                };
                self.items[i].buf.extend_from_slice(text);
                self.delta(
                    i,
                    b"response.reasoning_summary_text.delta",
                    b",\"summary_index\":0",
                    text,
                    out,
                );
            }
            StreamEvent::ToolCallStart {
                choice,
                index,
                id,
                name,
            } => {
                if self.find_call(choice, index).is_none() {
                    self.call_start(choice, index, id, name, out);
                }
            }
            StreamEvent::ToolArgs {
                choice,
                index,
                args,
            } => {
                let i = match self.find_call(choice, index) {
                    Some(i) => i,
                    None => self.call_start(choice, index, b"", b"", out),
                };
                if !self.items[i].open {
                    return;
                }
                let start = self.items[i].buf.len();
                match args {
                    Args::Escaped(a) => self.items[i].buf.extend_from_slice(a),
                    Args::Raw(a) => escape_into(&mut self.items[i].buf, a),
                }
                if self.items[i].custom {
                    // Fragments of the `{"input": ...}` wrapper are not the
                    // client's input; it is sent whole when the call closes.
                    return;
                }
                // Emit from the item buffer (split borrow via a temporary take).
                let buf = std::mem::take(&mut self.items[i].buf);
                self.delta(
                    i,
                    b"response.function_call_arguments.delta",
                    b"",
                    &buf[start..],
                    out,
                );
                self.items[i].buf = buf;
            }
            StreamEvent::Usage(u) => self.c.usage = Some(u),
            StreamEvent::Finish { reason, native, .. } => self.c.record_finish(reason, native),
            StreamEvent::KeepAlive => write_comment(out, b"keep-alive"),
            StreamEvent::Done => {
                self.c.closed = true;
                if self.n_items > 0 {
                    self.close_upto(self.n_items - 1, out);
                }
                let (ty, status, why): (&[u8], &[u8], &[u8]) = match self.c.finish {
                    Some(FinishReason::Length) => {
                        (b"response.incomplete", b"incomplete", b"max_output_tokens")
                    }
                    Some(FinishReason::ContentFilter) => {
                        (b"response.incomplete", b"incomplete", b"content_filter")
                    }
                    _ => (b"response.completed", b"completed", b""),
                };
                self.ev_open(ty, out);
                self.response_head(status, out);
                if !why.is_empty() {
                    out.extend_from_slice(b",\"incomplete_details\":{\"reason\":\"");
                    out.extend_from_slice(why);
                    out.extend_from_slice(b"\"}");
                }
                out.extend_from_slice(b",\"output\":[");
                for i in 0..self.n_items {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.item_json(i, true, out);
                }
                out.push(b']');
                if let Some(u) = self.c.usage {
                    out.extend_from_slice(b",\"usage\":{\"input_tokens\":");
                    write_u64(out, u.input);
                    out.extend_from_slice(b",\"input_tokens_details\":{\"cached_tokens\":");
                    write_u64(out, u.cached);
                    out.extend_from_slice(b"},\"output_tokens\":");
                    write_u64(out, u.output);
                    out.extend_from_slice(b",\"output_tokens_details\":{\"reasoning_tokens\":");
                    write_u64(out, u.reasoning);
                    out.extend_from_slice(b"},\"total_tokens\":");
                    write_u64(out, u.input.saturating_add(u.output));
                    out.push(b'}');
                }
                out.extend_from_slice(b"}}");
                end(out);
            }
            StreamEvent::Error {
                status,
                kind,
                message,
            } => {
                self.c.closed = true;
                self.ev_open(b"error", out);
                out.extend_from_slice(b",\"code\":\"");
                if status == 0 && !kind.is_empty() {
                    out.extend_from_slice(kind);
                } else {
                    out.extend_from_slice(error::openai_code(status).as_bytes());
                }
                out.extend_from_slice(b"\",\"message\":\"");
                out.extend_from_slice(message);
                out.extend_from_slice(b"\",\"param\":null}");
                end(out);
            }
        }
    }
}
