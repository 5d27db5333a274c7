//! Encoder of Anthropic Messages events.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Block {
    Text,
    Thinking,
    Tool { choice: u32, key: u32 },
}

/// Anthropic Messages encoder state.
#[derive(Debug, Default)]
pub struct ClaudeEnc {
    pub(super) c: Common,
    /// Currently open content block and its index.
    pub(super) open: Option<(Block, u32)>,
    pub(super) next_block: u32,
    /// `(choice, tool key) -> block index`.
    pub(super) tools: Vec<(u32, u32, u32)>,
}

impl ClaudeEnc {
    pub(super) fn reset(&mut self, ctx: &StreamCtx<'_>) {
        let _ = self.c.reset(ctx);
        self.open = None;
        self.next_block = 0;
        self.tools.clear();
    }

    pub(super) fn start(&mut self, id: &[u8], out: &mut Vec<u8>) {
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

    pub(super) fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((_, idx)) = self.open.take() {
            begin(out, Some(b"content_block_stop"));
            out.extend_from_slice(b"{\"type\":\"content_block_stop\",\"index\":");
            write_u64(out, u64::from(idx));
            out.push(b'}');
            end(out);
        }
    }

    /// Make `block` the open block (closing another), returning its index.
    pub(super) fn ensure(&mut self, block: Block, out: &mut Vec<u8>) -> u32 {
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

    pub(super) fn delta_open(idx: u32, out: &mut Vec<u8>) {
        begin(out, Some(b"content_block_delta"));
        out.extend_from_slice(b"{\"type\":\"content_block_delta\",\"index\":");
        write_u64(out, u64::from(idx));
        out.extend_from_slice(b",\"delta\":{\"type\":\"");
    }

    pub(super) fn tool_start(
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
                out.extend_from_slice(error_kind(status, kind, error::claude(status)));
                out.extend_from_slice(b"\",\"message\":\"");
                out.extend_from_slice(message);
                out.extend_from_slice(b"\"}}");
                end(out);
            }
        }
    }
}
