//! Client encoders: [`StreamEvent`]s -> SSE frames in the client's format.
//!
//! Each encoder writes compact, single-line JSON directly into the output buffer, pasting
//! only validated escaped string spans and numbers it prints itself, so every `data:`
//! payload is valid JSON. After `Done`, `Error` or `finish` an encoder ignores further
//! events (the stream is over for the client).

mod chat;
mod claude;
mod gemini;
mod responses;
pub use chat::*;
pub use claude::*;
pub use gemini::*;
pub use responses::*;

use super::{Args, FinishReason, StreamCtx, StreamEvent, Usage};
use crate::json::escape::{escape_bytes_into as escape_into, unescape_into};
use crate::json::span::is_valid;
use crate::json::write::{write_hex, write_u64};
use crate::sse::write::{begin, end, put3, put3_window, write_comment, write_done};
use crate::translate::error;
use crate::translate::format::Format;
use crate::translate::tools::ClientTools;

/// Fields every encoder needs.
#[derive(Debug, Default)]
struct Common {
    /// Escaped client-visible model name.
    model: Vec<u8>,
    /// The raw name `model` was escaped from: a reused encoder serving the
    /// same model again (the common case) does not escape it again.
    model_raw: Vec<u8>,
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
    /// Starts a new stream; `true` when its model and `created` are the
    /// previous stream's (what is derived from them alone may be kept).
    fn reset(&mut self, ctx: &StreamCtx<'_>) -> bool {
        let same_model = self.model_raw == ctx.model.as_bytes();
        if !same_model {
            self.model_raw.clear();
            self.model_raw.extend_from_slice(ctx.model.as_bytes());
            self.model.clear();
            escape_into(&mut self.model, ctx.model.as_bytes());
        }
        let same = same_model && self.created == ctx.created;
        self.id.clear();
        self.created = ctx.created;
        self.seed = ctx.id_seed;
        self.started = false;
        self.closed = false;
        self.usage = None;
        self.finish = None;
        self.native.clear();
        same
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

/// Whether `ev` would open a tool call beyond [`MAX_TOOL_CALLS`] (`tools`
/// holds `(choice, index, ..)` per call already open): such events are
/// dropped.
fn over_tool_cap(tools: &[(u32, u32, u32)], ev: &StreamEvent<'_>) -> bool {
    tool_key(ev).is_some_and(|(choice, index)| {
        tools.len() >= MAX_TOOL_CALLS && !tools.iter().any(|t| t.0 == choice && t.1 == index)
    })
}

/// Opens the stream (`start` with the upstream id on `Start`, with none
/// before the first event that writes output); `true` when `ev` was the
/// `Start` itself and nothing is left to do.
#[inline]
fn open_stream(ev: &StreamEvent<'_>, start: impl FnOnce(&[u8])) -> bool {
    match *ev {
        StreamEvent::Start { id } => {
            start(id);
            true
        }
        StreamEvent::KeepAlive | StreamEvent::Error { .. } => false,
        _ => {
            start(b"");
            false
        }
    }
}

/// The error type or code an error event carries: the upstream's own `kind`
/// when it stated one without a status, else the client format's entry for
/// `status` (`by_status`, from the provider-error table).
#[inline]
fn error_kind<'a>(status: u16, kind: &'a [u8], by_status: &'static str) -> &'a [u8] {
    if status == 0 && !kind.is_empty() {
        kind
    } else {
        by_status.as_bytes()
    }
}

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
            // Upstream-only; its clients would read plain Gemini.
            Format::Gemini | Format::GeminiCli => Encoder::Gemini(GeminiEnc::default()),
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

    /// The OpenAI Chat encoder when it writes a text chunk of choice 0 with
    /// [`ChatEnc::put_text`] alone (see [`ChatEnc::text_ready`]), which is
    /// what [`Encoder::event`] would do with `StreamEvent::Text` of choice 0:
    /// checked once for a run of text deltas, not per delta.
    #[inline]
    pub fn chat_text(&self) -> Option<&ChatEnc> {
        match self {
            Encoder::Chat(e) if e.text_ready() => Some(e),
            _ => None,
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

// ---------------------------------------------------------------- Claude

// ---------------------------------------------------------------- Gemini

// ---------------------------------------------------------------- OpenAI Responses
