//! Encoder of OpenAI Chat Completions chunks.

use super::*;

/// What follows `{"index":N,"delta":` in a text chunk, up to the text.
const TEXT_OPEN: &[u8] = b"{\"content\":\"";
/// What closes a text chunk after the text: the delta, the choice, the chunk
/// ([`ChatEnc::chunk_close`]) and the SSE frame.
const TEXT_CLOSE: &[u8] = b"\"},\"finish_reason\":null}]}\n\n";

/// OpenAI Chat encoder state.
#[derive(Debug, Default)]
pub struct ChatEnc {
    pub(super) c: Common,
    /// `{"id":..,"object":"chat.completion.chunk","created":..,"model":..,"choices":[`
    pub(super) prefix: Vec<u8>,
    /// `data: <prefix>{"index":0,"delta":{"content":"`: the head of every text
    /// chunk of choice 0 (almost every chunk of a stream), written in one copy.
    pub(super) text_open: Vec<u8>,
    /// `(choice, upstream tool key) -> client tool index`, per choice sequential.
    pub(super) tools: Vec<(u32, u32, u32)>,
}

impl ChatEnc {
    pub(super) fn reset(&mut self, ctx: &StreamCtx<'_>) {
        self.c.reset(ctx);
        self.prefix.clear();
        self.text_open.clear();
        self.tools.clear();
    }

    pub(super) fn start(&mut self, id: &[u8], out: &mut Vec<u8>) {
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
        let mut t = std::mem::take(&mut self.text_open);
        t.clear();
        self.chunk_open(0, &mut t);
        t.extend_from_slice(TEXT_OPEN);
        self.text_open = t;
        self.chunk_open(0, out);
        out.extend_from_slice(b"{\"role\":\"assistant\",\"content\":\"\"}");
        Self::chunk_close(out);
    }

    /// Writes `data: <prefix>{"index":i,"delta":`; for choice 0 once the
    /// stream is open, a copy of the head [`ChatEnc::text_open`] starts with.
    pub(super) fn chunk_open(&self, choice: u32, out: &mut Vec<u8>) {
        if choice == 0 {
            if let Some(head) = self.text_open.strip_suffix(TEXT_OPEN) {
                out.extend_from_slice(head);
                return;
            }
        }
        begin(out, None);
        out.extend_from_slice(&self.prefix);
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
            out.extend_from_slice(b"},\"completion_tokens_details\":{\"reasoning_tokens\":");
            write_u64(out, u.reasoning);
            out.extend_from_slice(b"}}");
        }
        out.push(b'}');
        end(out);
        write_done(out);
    }
}
