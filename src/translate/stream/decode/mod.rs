//! Upstream decoders: one SSE event of a provider's stream -> [`StreamEvent`]s.
//!
//! Every decoder ignores event types it does not know, and frames whose data is empty or
//! not a JSON object. Strings are handed on only as validated escaped spans.

mod chat;
mod claude;
mod gemini;
mod responses;
pub use chat::*;
pub use claude::*;
pub use gemini::*;
pub use responses::*;

use super::{Args, FinishReason, StreamEvent, Usage};
use crate::json::span::{
    self, get, get_many, get_str, get_u64, path, step, value_at, visit_array, visit_object, Step,
};
use crate::json::write::{write_hex, write_u64};
use crate::translate::format::Format;

/// Map a tool-call key `(choice, index)` to a flag; a tiny linear map (streams have few calls).
#[derive(Debug, Default)]
struct KeySet(Vec<(u32, u32)>);

impl KeySet {
    fn contains(&self, k: (u32, u32)) -> bool {
        self.0.contains(&k)
    }
    fn insert(&mut self, k: (u32, u32)) {
        if !self.contains(k) {
            self.0.push(k);
        }
    }
}

/// Decoder for one upstream format.
#[derive(Debug)]
pub enum Decoder {
    /// OpenAI Chat Completions chunks (`data:` only, `[DONE]` terminator).
    Chat(ChatDec),
    /// OpenAI Responses / Codex events.
    Responses(RespDec),
    /// Anthropic Messages events.
    Claude(ClaudeDec),
    /// Gemini `streamGenerateContent?alt=sse` chunks.
    Gemini(GeminiDec),
    /// Cloud Code Assist chunks: a Gemini chunk under `response`.
    GeminiCli(GeminiDec),
}

impl Decoder {
    /// A decoder for upstream format `f` (Codex decodes as OpenAI Responses).
    pub fn new(f: Format, id_seed: u64) -> Self {
        match f {
            Format::OpenAiChat => Decoder::Chat(ChatDec::default()),
            Format::OpenAiResponses | Format::Codex => Decoder::Responses(RespDec::default()),
            Format::Claude => Decoder::Claude(ClaudeDec::default()),
            Format::Gemini => Decoder::Gemini(GeminiDec {
                id_seed,
                ..GeminiDec::default()
            }),
            Format::GeminiCli => Decoder::GeminiCli(GeminiDec {
                id_seed,
                ..GeminiDec::default()
            }),
        }
    }

    /// Forget per-stream state, keep capacity.
    pub fn reset(&mut self, id_seed: u64) {
        match self {
            Decoder::Chat(d) => {
                d.started.0.clear();
                d.began = false;
            }
            Decoder::Responses(d) => *d = RespDec::default(),
            Decoder::Claude(d) => *d = ClaudeDec::default(),
            Decoder::Gemini(d) | Decoder::GeminiCli(d) => {
                d.id_seed = id_seed;
                d.tools = 0;
                d.any_tool = false;
                d.started = false;
            }
        }
    }

    /// Decode one SSE event.
    pub fn decode(
        &mut self,
        event: Option<&[u8]>,
        data: &[u8],
        f: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let data = trim(data);
        match self {
            Decoder::Chat(d) => d.decode(data, f),
            Decoder::Responses(d) => d.decode(data, f),
            Decoder::Claude(d) => d.decode(event, data, f),
            Decoder::Gemini(d) => d.decode(data, f),
            Decoder::GeminiCli(d) => {
                d.decode(trim(crate::translate::format::gemini_cli_inner(data)), f)
            }
        }
    }
}

impl Decoder {
    /// Whole SSE event blocks at the front of `rest` (a read, from the start
    /// of a block), decoded without the scanner's line handling: the length
    /// taken (0: none, the scanner and [`Decoder::decode`] take the block).
    /// Claude: its most frequent event (deltas) matched in its exact layout
    /// ([`claude::delta_block`]), any other event in the common framing
    /// ([`crate::sse::scan::simple_block`]) decoded as the scanner would
    /// dispatch it. What `f` gets equals what they would emit (see
    /// [`crate::sse::Handler::whole`]).
    #[inline]
    pub fn decode_block(&mut self, rest: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) -> usize {
        let Decoder::Claude(d) = self else {
            return 0;
        };
        // `delta_block` takes nothing but `event: content_block_delta`
        // blocks and blocks without an event line: another event's name
        // (byte 7 or 21 differs) skips its compares.
        let named = rest.starts_with(b"event: ");
        let delta = !named || (rest.get(7) == Some(&b'c') && rest.get(21) == Some(&b'd'));
        if let Some((n, ev)) = delta.then(|| claude::delta_block(rest)).flatten() {
            if let Some(ev) = ev {
                f(ev);
            }
            return n;
        }
        match crate::sse::scan::simple_block(rest) {
            // The event name is not read: the data's `type` decides.
            Some((n, _, data)) => {
                d.decode(None, trim(data), f);
                n
            }
            None => 0,
        }
    }
}

impl Decoder {
    /// The run of text deltas from `rest[from..]` in the upstream's own
    /// layout of them (Claude: [`claude::text_block`]), each text handed to
    /// `put` (as [`Decoder::decode_block`] would hand it on as
    /// `StreamEvent::Text` of choice 0) as `(src, len)`: the text is
    /// `src[..len]`, and `src` runs on to the end of the read. The index
    /// after the run; the first block of any other kind or layout ends it,
    /// for `decode_block`.
    #[inline]
    pub fn text_run(&self, rest: &[u8], from: usize, mut put: impl FnMut(&[u8], usize)) -> usize {
        let Decoder::Claude(_) = self else {
            return from;
        };
        let mut at = from;
        while let Some((n, src, len)) = rest.get(at..).and_then(claude::text_block) {
            put(src, len);
            at += n;
        }
        at
    }
}

pub(crate) fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

fn is_object(data: &[u8]) -> bool {
    data.first() == Some(&b'{') && data.last() == Some(&b'}')
}

/// A token count (absent, null or malformed counts as 0).
fn num(v: Option<&[u8]>) -> u64 {
    v.and_then(span::as_u64).unwrap_or(0)
}

fn nonempty(v: Option<&[u8]>) -> Option<&[u8]> {
    v.and_then(span::str_content).filter(|s| !s.is_empty())
}

fn str_or_empty<'a>(obj: &'a [u8], key: &[u8]) -> &'a [u8] {
    get_str(obj, key).unwrap_or(b"")
}

/// The HTTP status an OpenAI Responses / Codex error `code` or `type` stands
/// for (`response.failed`, `error` events carry no status): rate limits and
/// quotas 429, overload 503, request faults 400, auth 401/403, missing 404.
/// `None` for an unknown code (the caller's hint applies).
pub fn status_for_code(code: &[u8]) -> Option<u16> {
    if code.is_empty() {
        return None;
    }
    let has = |n: &str| {
        code.windows(n.len())
            .any(|w| w.eq_ignore_ascii_case(n.as_bytes()))
    };
    Some(
        if has("rate_limit")
            || has("usage_limit")
            || has("quota")
            || has("resource_exhausted")
            || has("too_many_requests")
        {
            429
        } else if has("overloaded") || has("slow_down") || has("unavailable") {
            503
        } else if has("context_length")
            || has("invalid_prompt")
            || has("invalid_request")
            || has("bad_request")
            || has("invalid_value")
            || has("unsupported_value")
            || has("string_above_max_length")
            || has("message_too_big")
        {
            400
        } else if has("authentication") || has("invalid_api_key") || has("unauthenticated") {
            401
        } else if has("permission") {
            403
        } else if has("not_found") {
            404
        } else if has("server_error") || has("internal") {
            500
        } else {
            return None;
        },
    )
}

/// Upstream error object `{"message":..,"type":..,"code":..}` -> Error event.
fn emit_error(err: &[u8], status_hint: u16, f: &mut dyn FnMut(StreamEvent<'_>)) {
    let status = get_u64(err, b"code")
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (100..600).contains(c))
        .or_else(|| status_for_code(get_str(err, b"code").unwrap_or(b"")))
        .or_else(|| status_for_code(get_str(err, b"type").unwrap_or(b"")))
        .unwrap_or(status_hint);
    emit_error_status(err, status, f);
}

/// [`emit_error`] with the status already known.
fn emit_error_status(err: &[u8], status: u16, f: &mut dyn FnMut(StreamEvent<'_>)) {
    let message = get_str(err, b"message").unwrap_or(b"upstream error");
    let kind = get_str(err, b"type")
        .filter(|t| *t != b"error")
        .or_else(|| get_str(err, b"status"))
        .or_else(|| get_str(err, b"code"))
        .unwrap_or(b"");
    f(StreamEvent::Error {
        status,
        kind,
        message,
    });
}

// ---------------------------------------------------------------- OpenAI Chat

// ---------------------------------------------------------------- OpenAI Responses / Codex

// ---------------------------------------------------------------- Claude

// ---------------------------------------------------------------- Gemini
