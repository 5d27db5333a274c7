//! Encoder of OpenAI Responses events (also Codex clients).

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum ItemKind {
    #[default]
    Message,
    Reasoning,
    Call,
}

/// One output item; its position in `RespEnc::items` is its `output_index`.
#[derive(Debug, Default)]
pub(super) struct RItem {
    pub(super) kind: ItemKind,
    pub(super) choice: u32,
    pub(super) key: u32,
    pub(super) open: bool,
    /// Escaped item id.
    pub(super) id: Vec<u8>,
    /// Escaped call id and name (calls only).
    pub(super) call_id: Vec<u8>,
    pub(super) name: Vec<u8>,
    /// Escaped accumulated text / arguments.
    pub(super) buf: Vec<u8>,
    /// Pre-rendered `,"item_id":"<id>","output_index":<i>` (written on every delta).
    pub(super) item_ref: Vec<u8>,
    /// A call to a client `custom` tool: a `custom_tool_call` item whose
    /// escaped `input` is unwrapped from `buf` when the call closes.
    pub(super) custom: bool,
    pub(super) input: Vec<u8>,
    /// Escaped namespace of a call to a namespaced client tool (else empty).
    pub(super) ns: Vec<u8>,
}

/// OpenAI Responses encoder state (items are reused across streams to keep capacity).
#[derive(Debug, Default)]
pub struct RespEnc {
    pub(super) c: Common,
    pub(super) seq: u64,
    pub(super) items: Vec<RItem>,
    pub(super) n_items: usize,
    /// The client's custom / namespace tools for this stream.
    pub(super) tools: Option<ClientTools>,
    /// Scratch for unescaping custom-tool arguments.
    pub(super) scratch: Vec<u8>,
}

impl RespEnc {
    pub(super) fn reset(&mut self, ctx: &StreamCtx<'_>) {
        let _ = self.c.reset(ctx);
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
    pub(super) fn unwrap_custom(&mut self, i: usize) {
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
    pub(super) fn ev_open(&mut self, ty: &[u8], out: &mut Vec<u8>) {
        begin(out, Some(ty));
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(ty);
        out.extend_from_slice(b"\",\"sequence_number\":");
        write_u64(out, self.seq);
        self.seq += 1;
    }

    pub(super) fn response_head(&self, status: &[u8], out: &mut Vec<u8>) {
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

    pub(super) fn start(&mut self, id: &[u8], out: &mut Vec<u8>) {
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

    pub(super) fn alloc(&mut self, kind: ItemKind, choice: u32, key: u32) -> usize {
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

    pub(super) fn find_open(&self, kind: ItemKind, choice: u32) -> Option<usize> {
        self.items[..self.n_items]
            .iter()
            .position(|it| it.open && it.kind == kind && it.choice == choice)
    }

    pub(super) fn find_call(&self, choice: u32, key: u32) -> Option<usize> {
        self.items[..self.n_items]
            .iter()
            .position(|it| it.kind == ItemKind::Call && it.choice == choice && it.key == key)
    }

    /// `,"item_id":"..","output_index":i`
    pub(super) fn item_ref(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.items[i].item_ref);
    }

    /// The item object (`in_progress` shape when `done` is false).
    pub(super) fn item_json(&self, i: usize, done: bool, out: &mut Vec<u8>) {
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

    pub(super) fn item_added(&mut self, i: usize, out: &mut Vec<u8>) {
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

    /// The two closing events of a text item (the text's `done`, then its
    /// part's `done`), each with the item's whole text: `heads` open the
    /// text after the item reference, `text_tail` closes the first event;
    /// the part event closes with `"}}`.
    fn text_done(
        &mut self,
        i: usize,
        events: [&[u8]; 2],
        heads: [&[u8]; 2],
        text_tail: &[u8],
        out: &mut Vec<u8>,
    ) {
        for (n, (ev, head)) in events.into_iter().zip(heads).enumerate() {
            self.ev_open(ev, out);
            self.item_ref(i, out);
            out.extend_from_slice(head);
            out.extend_from_slice(&self.items[i].buf);
            out.extend_from_slice(if n == 0 { text_tail } else { b"\"}}" });
            end(out);
        }
    }

    pub(super) fn close_item(&mut self, i: usize, out: &mut Vec<u8>) {
        if !self.items[i].open {
            return;
        }
        self.items[i].open = false;
        match self.items[i].kind {
            ItemKind::Message => self.text_done(
                i,
                [b"response.output_text.done", b"response.content_part.done"],
                [
                    b",\"content_index\":0,\"text\":\"",
                    b",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"",
                ],
                b"\",\"logprobs\":[]}",
                out,
            ),
            ItemKind::Reasoning => self.text_done(
                i,
                [
                    b"response.reasoning_summary_text.done",
                    b"response.reasoning_summary_part.done",
                ],
                [
                    b",\"summary_index\":0,\"text\":\"",
                    b",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":\"",
                ],
                b"\"}",
                out,
            ),
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
    pub(super) fn close_upto(&mut self, upto: usize, out: &mut Vec<u8>) {
        for i in 0..self.n_items.min(upto.saturating_add(1)) {
            self.close_item(i, out);
        }
    }

    pub(super) fn delta(
        &mut self,
        i: usize,
        ty: &[u8],
        extra: &[u8],
        text: &[u8],
        out: &mut Vec<u8>,
    ) {
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

    pub(super) fn call_start(
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

    pub(super) fn event(&mut self, ev: StreamEvent<'_>, out: &mut Vec<u8>) {
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
        if open_stream(&ev, |id| self.start(id, out)) {
            return;
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
                self.done(out);
            }
            StreamEvent::Error {
                status,
                kind,
                message,
            } => {
                self.c.closed = true;
                self.ev_open(b"error", out);
                out.extend_from_slice(b",\"code\":\"");
                out.extend_from_slice(error_kind(status, kind, error::openai_code(status)));
                out.extend_from_slice(b"\",\"message\":\"");
                out.extend_from_slice(message);
                out.extend_from_slice(b"\",\"param\":null}");
                end(out);
            }
        }
    }
}

impl RespEnc {
    /// The terminal `response.completed` / `response.incomplete` event with the whole output.
    fn done(&mut self, out: &mut Vec<u8>) {
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
}
