//! Encoder of OpenAI Chat Completions chunks.

use super::*;

/// What follows `{"index":N,"delta":` in a text chunk, up to the text.
const TEXT_OPEN: &[u8] = b"{\"content\":\"";
/// What closes a text chunk after the text: the delta, the choice, the chunk
/// ([`ChatEnc::chunk_close`]) and the SSE frame.
const TEXT_CLOSE: &[u8] = b"\"},\"finish_reason\":null}]}\n\n";

/// What opens a chunk of choice 0 after the head, up to the delta's members.
const CHOICE0: &[u8] = b"{\"index\":0,\"delta\":";
/// The role chunk after its head, closed ([`ChatEnc::chunk_close`]).
const ROLE_CLOSE: &[u8] =
    b"{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";

/// OpenAI Chat encoder state.
#[derive(Debug, Default)]
pub struct ChatEnc {
    pub(super) c: Common,
    /// `","object":"chat.completion.chunk","created":..,"model":..,"choices":[`,
    /// what follows the id in every chunk. It depends on `created` and the
    /// model alone, so a reused encoder keeps it for the next stream of the
    /// same model within the same second; empty until built.
    pub(super) tail: Vec<u8>,
    /// `data: {"id":..<tail>{"index":0,"delta":{"content":"`: the head of every
    /// text chunk of choice 0 (almost every chunk of a stream), written in one
    /// copy; empty until the stream is open.
    pub(super) text_open: Vec<u8>,
    /// Length of `data: {"id":..<tail>` at the front of `text_open`: the head
    /// of a chunk of any choice.
    pub(super) head: usize,
    /// `(choice, upstream tool key) -> client tool index`, per choice sequential.
    pub(super) tools: Vec<(u32, u32, u32)>,
}

impl ChatEnc {
    pub(super) fn reset(&mut self, ctx: &StreamCtx<'_>) {
        if !self.c.reset(ctx) {
            self.tail.clear();
        }
        self.text_open.clear();
        self.head = 0;
        self.tools.clear();
    }

    pub(super) fn start(&mut self, id: &[u8], out: &mut Vec<u8>) {
        if self.c.started {
            return;
        }
        self.c.started = true;
        if self.tail.is_empty() {
            let t = &mut self.tail;
            t.extend_from_slice(b"\",\"object\":\"chat.completion.chunk\",\"created\":");
            write_u64(t, self.c.created);
            t.extend_from_slice(b",\"model\":\"");
            t.extend_from_slice(&self.c.model);
            t.extend_from_slice(b"\",\"choices\":[");
        }
        let t = &mut self.text_open;
        t.clear();
        t.extend_from_slice(b"data: {\"id\":\"");
        if id.is_empty() {
            t.extend_from_slice(b"chatcmpl-");
            write_hex(t, self.c.seed);
        } else {
            t.extend_from_slice(id);
        }
        t.extend_from_slice(&self.tail);
        self.head = t.len();
        t.extend_from_slice(CHOICE0);
        t.extend_from_slice(TEXT_OPEN);
        put3(out, self.choice0_head(), ROLE_CLOSE, b"");
    }

    /// `data: {"id":..<tail>{"index":0,"delta":`, once the stream is open.
    #[inline]
    fn choice0_head(&self) -> &[u8] {
        self.text_open.strip_suffix(TEXT_OPEN).unwrap_or_default()
    }

    /// Writes `data: {"id":..<tail>{"index":i,"delta":` (the stream is open:
    /// [`ChatEnc::start`] ran); for choice 0 a copy of the head
    /// [`ChatEnc::text_open`] starts with.
    pub(super) fn chunk_open(&self, choice: u32, out: &mut Vec<u8>) {
        if choice == 0 && !self.text_open.is_empty() {
            out.extend_from_slice(self.choice0_head());
            return;
        }
        if self.text_open.is_empty() {
            // Not reached (every caller opened the stream): still a frame.
            begin(out, None);
        }
        out.extend_from_slice(&self.text_open[..self.head]);
        out.extend_from_slice(b"{\"index\":");
        write_u64(out, u64::from(choice));
        out.extend_from_slice(b",\"delta\":");
    }

    pub(super) fn chunk_close(out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"finish_reason\":null}]}");
        end(out);
    }

    pub(super) fn tool_index(&mut self, choice: u32, key: u32) -> (u32, bool) {
        if let Some(t) = self.tools.iter().find(|t| t.0 == choice && t.1 == key) {
            return (t.2, false);
        }
        let n = self.tools.iter().filter(|t| t.0 == choice).count() as u32;
        self.tools.push((choice, key, n));
        (n, true)
    }

    /// Whether a text chunk of choice 0 is written by [`ChatEnc::put_text`]
    /// alone: the stream is open (its first chunk written) and not closed,
    /// which is all [`ChatEnc::event`] checks before doing just that.
    #[inline]
    pub(super) fn text_ready(&self) -> bool {
        !self.c.closed && !self.text_open.is_empty()
    }

    /// [`ChatEnc::put_text`] of `src[..len]`, where `src` runs on past the
    /// text (the rest of an upstream read): a text of at most 16 bytes is
    /// copied as `src`'s first 16 bytes, a fixed-size copy without a call
    /// ([`put3_window`]; the tail is written over the bytes past the text).
    #[inline]
    pub(crate) fn put_text_from(&self, src: &[u8], len: usize, out: &mut Vec<u8>) {
        match src.first_chunk::<16>() {
            Some(window) if len <= 16 => put3_window(out, &self.text_open, window, len, TEXT_CLOSE),
            _ => self.put_text_apart(src.get(..len).unwrap_or_default(), out),
        }
    }

    /// [`ChatEnc::put_text`], not inlined: inlined next to the window copy
    /// above, the compiler merged both into one variable-length copy call.
    #[inline(never)]
    fn put_text_apart(&self, text: &[u8], out: &mut Vec<u8>) {
        self.put_text(text, out)
    }

    /// A text chunk of choice 0: the precomputed head, the text, the tail.
    #[inline]
    pub(super) fn put_text(&self, text: &[u8], out: &mut Vec<u8>) {
        put3(out, &self.text_open, text, TEXT_CLOSE);
    }

    pub(super) fn event(&mut self, ev: StreamEvent<'_>, out: &mut Vec<u8>) {
        if self.c.closed {
            return;
        }
        if over_tool_cap(&self.tools, &ev) {
            return;
        }
        if open_stream(&ev, |id| self.start(id, out)) {
            return;
        }
        match ev {
            StreamEvent::Start { .. } | StreamEvent::ReasoningSignature { .. } => {}
            StreamEvent::Text { choice: 0, text } if !self.text_open.is_empty() => {
                self.put_text(text, out)
            }
            StreamEvent::Text { choice, text } => {
                self.chunk_open(choice, out);
                out.extend_from_slice(TEXT_OPEN);
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
                self.done(out);
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
                out.extend_from_slice(error_kind(status, kind, error::openai(status).0));
                out.extend_from_slice(b"\",\"code\":\"");
                out.extend_from_slice(error::openai_code(status).as_bytes());
                out.extend_from_slice(b"\"}}");
                end(out);
            }
        }
    }
}

impl ChatEnc {
    /// The last chunk (finish reason, native reason, usage) and `[DONE]`.
    fn done(&mut self, out: &mut Vec<u8>) {
        self.c.closed = true;
        let reason: &[u8] = match self.c.finish {
            Some(FinishReason::Length) => b"length",
            Some(FinishReason::ToolCalls) => b"tool_calls",
            Some(FinishReason::ContentFilter) => b"content_filter",
            Some(FinishReason::Stop) => b"stop",
            None if !self.tools.is_empty() => b"tool_calls",
            None => b"stop",
        };
        // Few pieces, each copied once (this chunk is a stream's longest).
        put3(out, self.choice0_head(), b"{},\"finish_reason\":\"", reason);
        let native = &self.c.native;
        if native.is_empty() {
            put3(out, b"\",\"native_finish_reason\":\"", reason, b"\"}]");
        } else if !native.iter().any(u8::is_ascii_uppercase) {
            // Upstreams' reasons are lower case already: one copy.
            put3(out, b"\",\"native_finish_reason\":\"", native, b"\"}]");
        } else {
            out.extend_from_slice(b"\",\"native_finish_reason\":\"");
            out.extend(native.iter().map(u8::to_ascii_lowercase));
            out.extend_from_slice(b"\"}]");
        }
        if let Some(u) = self.c.usage {
            out.extend_from_slice(b",\"usage\":{\"prompt_tokens\":");
            write_u64(out, u.input);
            out.extend_from_slice(b",\"completion_tokens\":");
            write_u64(out, u.output);
            out.extend_from_slice(b",\"total_tokens\":");
            write_u64(out, u.input.saturating_add(u.output));
            out.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
            write_u64(out, u.cached);
            out.extend_from_slice(b"},\"completion_tokens_details\":{\"reasoning_tokens\":");
            write_u64(out, u.reasoning);
            out.extend_from_slice(b"}}");
        }
        // The chunk's close and its frame's end, then the terminator.
        out.extend_from_slice(b"}\n\n");
        write_done(out);
    }
}
