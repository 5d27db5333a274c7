//! Stream translation: upstream SSE bytes in one format -> client SSE bytes in another.
//!
//! Shape: `Scanner` (SSE framing) -> upstream *decoder* (one per format, in [`decode`]) ->
//! a small borrowed event vocabulary ([`StreamEvent`]) -> client *encoder* (one per format,
//! in [`encode`]) -> bytes appended to the caller's output buffer. When both sides speak
//! the same format (Codex and OpenAI Responses count as the same stream format) the bytes
//! pass through untouched.
//!
//! Guarantees:
//! - No I/O, no panics on any input. An event a decoder does not know is skipped; empty or
//!   non-JSON upstream `data:` frames are dropped, never forwarded to a translating client.
//! - Every translated output is valid SSE whose `data:` payloads are single-line valid JSON
//!   (except OpenAI Chat's `[DONE]`). Strings are copied from upstream only as validated,
//!   already-escaped spans ([`crate::json::span::str_content`]); numbers are re-printed.
//! - Thinking signatures are copied byte for byte, never decoded and re-encoded.
//! - Output does not depend on how the upstream bytes were split into reads (up to frame
//!   boundaries inside `out`, which the caller flushes as it likes).
//! - State lives in per-translator buffers that keep their capacity across
//!   [`StreamTranslator::reset`], so a reused translator does not allocate in steady state.
//! - Tool-call ordering for Responses clients follows CLIProxyAPI v6.9 behaviour #11: each
//!   call (keyed by choice and tool index) is its own `function_call` item with its own
//!   `output_index`, allocated in order of first appearance; `*.done` events and the
//!   `response.completed` output list are in ascending `output_index` order.
//!
//! Policies worth knowing (each has a test):
//! - Terminal events (`[DONE]`, `message_stop`, `response.completed`, Gemini's
//!   `finishReason` chunk) are written when the upstream ends cleanly or at
//!   [`StreamTranslator::finish`]; the finish reason and usage are held until then, so a
//!   usage-only chunk after the finish reason (OpenAI) still lands in them. OpenAI Chat
//!   clients get `finish_reason` plus `native_finish_reason` (the upstream's own reason,
//!   lower-cased) and `usage` in the last chunk before `[DONE]`.
//! - After an upstream error event (or [`StreamTranslator::error`]) the client gets one
//!   error event in its format and nothing else (no `[DONE]`).
//! - Upstream keep-alives (Claude `ping`, SSE comments) become the client's keep-alive
//!   (`: keep-alive`, or Claude `ping` once `message_start` was sent). Gemini clients get
//!   none: their SDKs parse every non-blank line as `data: <json>`, so a Gemini stream
//!   carries `data:` lines only (errors too: no `event:` line).
//! - An upstream error inside the stream (`response.failed`, `error`, Claude `error`, ...)
//!   is remembered with the HTTP status it stands for ([`StreamTranslator::upstream_error`],
//!   Responses codes mapped by [`decode::status_for_code`]) so the caller can apply the
//!   matching cooldown; passthrough Responses-family streams are watched for it too.
//!   `response.incomplete` is a normal end (the client's "length" finish), not an error.
//! - Signatures: a thinking signature reaches a Claude client as `signature_delta` when a
//!   thinking block is open (Gemini `thoughtSignature` on a thought part, Claude's own, a
//!   Responses/Codex reasoning item's `encrypted_content` from its `output_item.done`);
//!   other formats have no place for a foreign signature, so it is dropped there.
//! - Gemini clients need whole `functionCall.args` objects: argument fragments are
//!   collected and the calls are written in the final chunk (invalid JSON becomes `{}`).
//! - Claude clients: content blocks are sequential; argument fragments that arrive for an
//!   earlier, already stopped tool block (interleaved parallel calls) are still sent with
//!   that block's index, which the Anthropic SDKs accumulate by index.
//! - OpenAI Chat: only choice 0's finish reason is reported (multi-choice streams are rare
//!   and no other client format has choices).
//! - Gemini upstreams are read as `alt=sse` streams (a bare JSON array is not decoded).
//! - Per-stream tables are capped ([`encode::MAX_TOOL_CALLS`], [`encode::MAX_OUTPUT_ITEMS`]);
//!   events beyond a cap are dropped. One SSE event is capped by
//!   [`crate::sse::scan::MAX_EVENT_BYTES`]; a larger one ends the stream with an error.
//!
//! Token accounting in the vocabulary follows OpenAI semantics: `input` counts every
//! prompt token including cached ones, `output` counts every generated token including
//! reasoning. Decoders normalise into this (Claude: `input_tokens + cache_read +
//! cache_creation`; Gemini: `candidates + thoughts`), encoders split back out.

pub mod decode;
pub mod encode;
#[doc(hidden)]
pub mod testgen;

use crate::sse::{Handler, Item, Scanner};
use crate::translate::format::Format;
use decode::Decoder;
use encode::Encoder;

/// Why generation stopped, in a provider-neutral form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end or stop sequence.
    Stop,
    /// Output token limit.
    Length,
    /// The model asked for tool calls.
    ToolCalls,
    /// Blocked by a safety / content filter.
    ContentFilter,
}

/// Token usage, OpenAI semantics (see module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// All prompt tokens, cached ones included.
    pub input: u64,
    /// All generated tokens, reasoning included.
    pub output: u64,
    /// Prompt tokens served from cache (part of `input`).
    pub cached: u64,
    /// Reasoning tokens (part of `output`).
    pub reasoning: u64,
}

/// Tool-call argument fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Args<'a> {
    /// Escaped JSON-string content holding a fragment of the arguments JSON text.
    Escaped(&'a [u8]),
    /// A complete raw JSON value (Gemini's `functionCall.args`).
    Raw(&'a [u8]),
}

/// The borrowed event vocabulary between decoders and encoders. All `&[u8]` text fields
/// are validated, escaped JSON-string content (safe to paste between quotes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// Upstream message/response started; `id` may be empty.
    Start { id: &'a [u8] },
    /// Visible text for choice `choice`.
    Text { choice: u32, text: &'a [u8] },
    /// Reasoning / thinking text.
    Reasoning { choice: u32, text: &'a [u8] },
    /// Signature of the current thinking block, byte-exact escaped content.
    ReasoningSignature { choice: u32, sig: &'a [u8] },
    /// A tool call begins; `index` is the upstream's key for it (unique per choice).
    ToolCallStart {
        choice: u32,
        index: u32,
        id: &'a [u8],
        name: &'a [u8],
    },
    /// More argument text for the tool call keyed `(choice, index)`.
    ToolArgs {
        choice: u32,
        index: u32,
        args: Args<'a>,
    },
    /// Latest usage totals (later events replace earlier ones).
    Usage(Usage),
    /// The choice finished; `native` is the upstream's own reason string (escaped).
    Finish {
        choice: u32,
        reason: FinishReason,
        native: &'a [u8],
    },
    /// Upstream reported an error; `status` is an HTTP status when known (else 0).
    Error {
        status: u16,
        kind: &'a [u8],
        message: &'a [u8],
    },
    /// Upstream keep-alive (ping, comment).
    KeepAlive,
    /// Upstream finished the stream cleanly.
    Done,
}

/// Per-request context for a translator.
#[derive(Clone, Copy, Debug)]
pub struct StreamCtx<'a> {
    /// Model name the client asked for (written into every chunk that names a model).
    pub model: &'a str,
    /// Unix seconds for `created` / `created_at` fields.
    pub created: u64,
    /// Seed for synthesised ids (`chatcmpl-…`, `msg_…`, `resp_…`, `call_…`).
    pub id_seed: u64,
}

/// Translates one upstream SSE stream into the client's format; see module docs.
pub struct StreamTranslator {
    kind: Kind,
    scratch: Vec<u8>,
    seen: Seen,
}

/// The first error event the upstream sent inside its stream, kept so the
/// caller can classify it (cooldown) once the stream is over.
#[derive(Debug, Default)]
struct Seen {
    /// HTTP status the error stands for; 0 = no error seen.
    status: u16,
    /// `{"error":{"message","type","code"}}` built from the upstream event.
    body: Vec<u8>,
}

impl Seen {
    fn record(&mut self, ev: &StreamEvent<'_>) {
        if let StreamEvent::Error {
            status,
            kind,
            message,
        } = *ev
        {
            if self.status != 0 {
                return;
            }
            self.status = if status == 0 { 500 } else { status };
            self.body.clear();
            self.body.extend_from_slice(b"{\"error\":{\"message\":\"");
            self.body.extend_from_slice(message);
            self.body.extend_from_slice(b"\",\"type\":\"");
            self.body.extend_from_slice(kind);
            self.body.extend_from_slice(b"\",\"code\":\"");
            self.body.extend_from_slice(kind);
            self.body.extend_from_slice(b"\"}}");
        }
    }
}

enum Kind {
    /// Same format on both sides: bytes are copied unchanged; `enc` only writes errors.
    /// `watch` (Responses-family streams) looks for `response.failed` / `error`
    /// events so they can be classified; it never changes the bytes.
    Passthrough {
        enc: Encoder,
        watch: Option<(Scanner, Decoder)>,
    },
    Translate {
        scanner: Scanner,
        dec: Decoder,
        enc: Encoder,
        failed: bool,
    },
    /// Cloud Code Assist to a Gemini client: each event's `response`
    /// member becomes a `data:` event of its own, bytes as sent; comments
    /// and empty events are dropped (Gemini clients read `data:` lines
    /// only). `enc` only writes errors.
    Unwrap {
        scanner: Scanner,
        enc: Encoder,
        failed: bool,
    },
}

/// Streams of these formats are the same on the wire.
fn stream_family(f: Format) -> Format {
    match f {
        Format::Codex => Format::OpenAiResponses,
        other => other,
    }
}

/// Create a translator from upstream format `from` to client format `to`.
pub fn new_stream_translator(from: Format, to: Format, ctx: StreamCtx<'_>) -> StreamTranslator {
    let enc = Encoder::new(stream_family(to), &ctx);
    let kind = if from == Format::GeminiCli && to == Format::Gemini {
        Kind::Unwrap {
            scanner: Scanner::new(),
            enc,
            failed: false,
        }
    } else if stream_family(from) == stream_family(to) {
        let watch = (stream_family(from) == Format::OpenAiResponses).then(|| {
            (
                Scanner::new(),
                Decoder::new(Format::OpenAiResponses, ctx.id_seed),
            )
        });
        Kind::Passthrough { enc, watch }
    } else {
        Kind::Translate {
            scanner: Scanner::new(),
            dec: Decoder::new(stream_family(from), ctx.id_seed),
            enc,
            failed: false,
        }
    };
    StreamTranslator {
        kind,
        scratch: Vec::new(),
        seen: Seen::default(),
    }
}

impl StreamTranslator {
    /// Whether this translator copies bytes unchanged.
    pub fn is_passthrough(&self) -> bool {
        matches!(self.kind, Kind::Passthrough { .. })
    }

    /// The upstream's in-stream error (`response.failed`, `error`, ...), if one
    /// was seen: (HTTP status it stands for, an OpenAI-shaped error body for
    /// classification).
    pub fn upstream_error(&self) -> Option<(u16, &[u8])> {
        (self.seen.status != 0).then_some((self.seen.status, &self.seen.body[..]))
    }

    /// Prepare for a new stream with the same formats, keeping every buffer's capacity.
    pub fn reset(&mut self, ctx: StreamCtx<'_>) {
        self.seen.status = 0;
        match &mut self.kind {
            Kind::Passthrough { enc, watch } => {
                enc.reset(&ctx);
                if let Some((sc, dec)) = watch {
                    sc.reset();
                    dec.reset(ctx.id_seed);
                }
            }
            Kind::Translate {
                scanner,
                dec,
                enc,
                failed,
            } => {
                scanner.reset();
                dec.reset(ctx.id_seed);
                enc.reset(&ctx);
                *failed = false;
            }
            Kind::Unwrap {
                scanner,
                enc,
                failed,
            } => {
                scanner.reset();
                enc.reset(&ctx);
                *failed = false;
            }
        }
    }

    /// For an OpenAI Responses client whose request declared `custom` or
    /// `namespace` tools: calls to them come back as `custom_tool_call` items
    /// (input events `response.custom_tool_call_input.delta/done`) and as
    /// `function_call` items with a `namespace` (see `translate::tools`).
    /// Applies to the current stream; [`StreamTranslator::reset`] clears it.
    pub fn set_client_tools(&mut self, tools: Option<crate::translate::tools::ClientTools>) {
        if let Kind::Translate {
            enc: Encoder::Responses(e),
            ..
        } = &mut self.kind
        {
            e.set_client_tools(tools);
        }
    }

    /// Translate one upstream read, appending client bytes to `out`.
    pub fn feed(&mut self, upstream: &[u8], out: &mut Vec<u8>) {
        let seen = &mut self.seen;
        match &mut self.kind {
            Kind::Passthrough { watch, .. } => {
                out.extend_from_slice(upstream);
                if let Some((sc, dec)) = watch {
                    if sc
                        .feed(upstream, |item| watch_item(item, dec, seen))
                        .is_err()
                    {
                        *watch = None;
                    }
                }
            }
            Kind::Translate {
                scanner,
                dec,
                enc,
                failed,
            } => {
                if *failed {
                    return;
                }
                let r = scanner.feed_to(
                    upstream,
                    &mut Translating {
                        dec,
                        enc,
                        seen,
                        out,
                    },
                );
                if r.is_err() {
                    *failed = true;
                    enc.error(502, b"upstream_error", b"upstream SSE event too large", out);
                }
            }
            Kind::Unwrap {
                scanner,
                enc,
                failed,
            } => {
                if *failed {
                    return;
                }
                if scanner
                    .feed(upstream, |item| unwrap_item(item, out))
                    .is_err()
                {
                    *failed = true;
                    enc.error(502, b"upstream_error", b"upstream SSE event too large", out);
                }
            }
        }
    }

    /// Upstream ended: flush a final unterminated event and emit the client's terminal
    /// events (e.g. `message_stop`, `response.completed`, `[DONE]`) unless already sent.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let seen = &mut self.seen;
        match &mut self.kind {
            Kind::Passthrough { watch, .. } => {
                if let Some((sc, dec)) = watch {
                    let _ = sc.finish(|item| watch_item(item, dec, seen));
                }
            }
            Kind::Translate {
                scanner,
                dec,
                enc,
                failed,
            } => {
                if *failed {
                    return;
                }
                let _ = scanner.finish(|item| on_item(item, dec, enc, seen, out));
                enc.finish(out);
            }
            Kind::Unwrap {
                scanner, failed, ..
            } => {
                if !*failed {
                    let _ = scanner.finish(|item| unwrap_item(item, out));
                }
            }
        }
    }

    /// Write an in-stream error event in the client's format (after which the stream
    /// should be closed; for OpenAI Chat no `[DONE]` follows).
    pub fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        self.scratch.clear();
        crate::json::escape::escape_bytes_into(&mut self.scratch, message.as_bytes());
        let enc = match &mut self.kind {
            Kind::Passthrough { enc, .. } => enc,
            Kind::Translate { enc, failed, .. } | Kind::Unwrap { enc, failed, .. } => {
                *failed = true;
                enc
            }
        };
        enc.error(status, b"", &self.scratch, out);
    }
}

/// Where a translating scanner's events go: through the decoder into the
/// encoder, whole blocks of the upstream's most frequent event on a shortcut
/// ([`Decoder::decode_block`]).
struct Translating<'a> {
    dec: &'a mut Decoder,
    enc: &'a mut Encoder,
    seen: &'a mut Seen,
    out: &'a mut Vec<u8>,
}

impl Handler for Translating<'_> {
    const WHOLE: bool = true;

    #[inline]
    fn whole(&mut self, rest: &[u8]) -> usize {
        // A run of blocks (deltas come in runs) in one call.
        let mut taken = 0;
        loop {
            // Text deltas into an open Chat stream: the encoder's state is
            // checked once per run of them, not per delta.
            if let Some(chat) = self.enc.chat_text() {
                let out = &mut *self.out;
                taken = self
                    .dec
                    .text_run(rest, taken, |src, len| chat.put_text_from(src, len, out));
            }
            let (seen, enc, out) = (&mut *self.seen, &mut *self.enc, &mut *self.out);
            let n = self
                .dec
                .decode_block(rest.get(taken..).unwrap_or_default(), &mut |e| {
                    seen.record(&e);
                    enc.event(e, out)
                });
            if n == 0 {
                break;
            }
            taken += n;
        }
        taken
    }

    #[inline]
    fn item(&mut self, item: Item<'_>) {
        on_item(item, self.dec, self.enc, self.seen, self.out)
    }
}

fn on_item(
    item: Item<'_>,
    dec: &mut Decoder,
    enc: &mut Encoder,
    seen: &mut Seen,
    out: &mut Vec<u8>,
) {
    match item {
        Item::Comment(_) => enc.event(StreamEvent::KeepAlive, out),
        Item::Event(ev) => dec.decode(ev.event, ev.data, &mut |e| {
            seen.record(&e);
            enc.event(e, out)
        }),
    }
}

/// One Cloud Code Assist event as a Gemini client's `data:` event: the
/// `response` member's bytes, when they are JSON (line breaks, which only JSON whitespace can
/// hold, become spaces so the event stays one line).
fn unwrap_item(item: Item<'_>, out: &mut Vec<u8>) {
    let Item::Event(ev) = item else {
        return;
    };
    let data = decode::trim(crate::translate::format::gemini_cli_inner(decode::trim(
        ev.data,
    )));
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(b"data: ");
    let start = out.len();
    out.extend_from_slice(data);
    for b in &mut out[start..] {
        if matches!(*b, b'\n' | b'\r') {
            *b = b' ';
        }
    }
    // Like every translated stream: only JSON reaches the client.
    if !strict_json(&out[start..]) {
        out.truncate(start - b"data: ".len());
        return;
    }
    out.extend_from_slice(b"\n\n");
}

/// Whether `b` is one valid JSON value, strings included (escapes, control
/// characters, UTF-8); allocation-free.
fn strict_json(b: &[u8]) -> bool {
    use crate::json::cursor;
    match cursor::skip_value(b, cursor::ws(b, 0), 0) {
        Ok(e) if cursor::ws(b, e) == b.len() => {}
        _ => return false,
    }
    // The structure is valid, so every quote outside a string opens one.
    let mut j = 0;
    while let Some(off) = memchr::memchr(b'"', &b[j..]) {
        let s = j + off;
        let Ok(e) = cursor::skip_string(b, s) else {
            return false;
        };
        if !crate::json::span::valid_string_body(&b[s + 1..e - 1]) {
            return false;
        }
        j = e;
    }
    true
}

/// Passthrough of a Responses-family stream: decode only the error events.
fn watch_item(item: Item<'_>, dec: &mut Decoder, seen: &mut Seen) {
    let Item::Event(ev) = item else {
        return;
    };
    let head = &ev.data[..ev.data.len().min(48)];
    let named = matches!(ev.event, Some(b"response.failed") | Some(b"error"));
    let typed = memchr::memmem::find(head, b"\"response.failed\"").is_some()
        || memchr::memmem::find(head, b"\"type\":\"error\"").is_some();
    if named || typed {
        dec.decode(ev.event, ev.data, &mut |e| seen.record(&e));
    }
}

#[cfg(test)]
mod tests;
