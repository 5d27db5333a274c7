//! Encoder of Gemini `alt=sse` chunks.

use super::*;

/// A function call being collected for Gemini (which needs whole `args` objects).
#[derive(Debug, Default)]
pub(super) struct GemCall {
    pub(super) choice: u32,
    pub(super) key: u32,
    pub(super) name: Vec<u8>,
    /// Raw (unescaped) JSON text of the arguments.
    pub(super) args: Vec<u8>,
}

/// Gemini encoder state.
#[derive(Debug, Default)]
pub struct GeminiEnc {
    pub(super) c: Common,
    pub(super) calls: Vec<GemCall>,
    pub(super) n_calls: usize,
}

impl GeminiEnc {
    pub(super) fn reset(&mut self, ctx: &StreamCtx<'_>) {
        let _ = self.c.reset(ctx);
        self.n_calls = 0;
    }

    pub(super) fn chunk_open(out: &mut Vec<u8>, choice: u32) {
        begin(out, None);
        out.extend_from_slice(b"{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[");
        let _ = choice;
    }

    pub(super) fn chunk_tail(&self, choice: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"index\":");
        write_u64(out, u64::from(choice));
        out.extend_from_slice(b"}],\"modelVersion\":\"");
        out.extend_from_slice(&self.c.model);
        out.extend_from_slice(b"\",\"responseId\":\"");
        out.extend_from_slice(&self.c.id);
        out.extend_from_slice(b"\"}");
        end(out);
    }

    pub(super) fn call(&mut self, choice: u32, key: u32) -> Option<usize> {
        self.calls[..self.n_calls]
            .iter()
            .position(|c| c.choice == choice && c.key == key)
    }

    pub(super) fn new_call(&mut self, choice: u32, key: u32, name: &[u8]) -> usize {
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

    pub(super) fn event(&mut self, ev: StreamEvent<'_>, out: &mut Vec<u8>) {
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
