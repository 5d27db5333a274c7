//! Decoder of OpenAI Responses / Codex events.

use super::*;

/// OpenAI Responses decoder state.
#[derive(Debug, Default)]
pub struct RespDec {
    pub(super) any_tool: bool,
    /// Output indexes (below 64) whose function call was announced by
    /// `output_item.added` / got argument deltas. Upstreams that send only
    /// `output_item.done` for a call (some Responses-compatible servers do)
    /// get the call and its arguments from the done item instead.
    pub(super) started: u64,
    pub(super) args_seen: u64,
}

/// The bit of a tracked output index; `None` past 63 (assume announced).
pub(super) fn index_bit(index: u32) -> Option<u64> {
    1u64.checked_shl(index).filter(|_| index < 64)
}

impl RespDec {
    pub(super) fn decode(&mut self, data: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
        if !is_object(data) {
            return;
        }
        let Some(ty) = get_str(data, b"type") else {
            return;
        };
        let out_index = || get_u64(data, b"output_index").unwrap_or(0) as u32;
        match ty {
            b"response.created" => {
                let id = get(data, b"response")
                    .map(|r| str_or_empty(r, b"id"))
                    .unwrap_or(b"");
                f(StreamEvent::Start { id });
            }
            b"response.output_text.delta" => {
                if let Some(text) = get_str(data, b"delta").filter(|s| !s.is_empty()) {
                    f(StreamEvent::Text { choice: 0, text });
                }
            }
            b"response.reasoning_summary_text.delta" | b"response.reasoning_text.delta" => {
                if let Some(text) = get_str(data, b"delta").filter(|s| !s.is_empty()) {
                    f(StreamEvent::Reasoning { choice: 0, text });
                }
            }
            b"response.output_item.added" => {
                let Some(item) = get(data, b"item") else {
                    return;
                };
                if get_str(item, b"type") == Some(b"function_call") {
                    self.any_tool = true;
                    if let Some(bit) = index_bit(out_index()) {
                        self.started |= bit;
                    }
                    f(StreamEvent::ToolCallStart {
                        choice: 0,
                        index: out_index(),
                        id: str_or_empty(item, b"call_id"),
                        name: str_or_empty(item, b"name"),
                    });
                }
            }
            b"response.output_item.done" => {
                // A reasoning item's encrypted content is its signature (a
                // Claude client carries it back as the thinking signature).
                let Some(item) = get(data, b"item") else {
                    return;
                };
                match get_str(item, b"type") {
                    Some(b"reasoning") => {
                        if let Some(sig) =
                            get_str(item, b"encrypted_content").filter(|s| !s.is_empty())
                        {
                            f(StreamEvent::ReasoningSignature { choice: 0, sig });
                        }
                    }
                    Some(b"function_call") => {
                        let index = out_index();
                        let Some(bit) = index_bit(index) else {
                            return;
                        };
                        if self.started & bit == 0 {
                            self.started |= bit;
                            self.any_tool = true;
                            f(StreamEvent::ToolCallStart {
                                choice: 0,
                                index,
                                id: str_or_empty(item, b"call_id"),
                                name: str_or_empty(item, b"name"),
                            });
                        }
                        if self.args_seen & bit == 0 {
                            self.args_seen |= bit;
                            if let Some(a) = get_str(item, b"arguments").filter(|s| !s.is_empty()) {
                                f(StreamEvent::ToolArgs {
                                    choice: 0,
                                    index,
                                    args: Args::Escaped(a),
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
            b"response.function_call_arguments.delta" => {
                if let Some(a) = get_str(data, b"delta").filter(|s| !s.is_empty()) {
                    if let Some(bit) = index_bit(out_index()) {
                        self.args_seen |= bit;
                    }
                    f(StreamEvent::ToolArgs {
                        choice: 0,
                        index: out_index(),
                        args: Args::Escaped(a),
                    });
                }
            }
            b"response.completed" | b"response.incomplete" => {
                let Some(resp) = get(data, b"response") else {
                    return;
                };
                if let Some(u) = get(resp, b"usage").filter(|u| u.first() == Some(&b'{')) {
                    f(StreamEvent::Usage(Usage {
                        input: get_u64(u, b"input_tokens").unwrap_or(0),
                        output: get_u64(u, b"output_tokens").unwrap_or(0),
                        cached: path(u, &[b"input_tokens_details", b"cached_tokens"])
                            .and_then(span::as_u64)
                            .unwrap_or(0),
                        reasoning: path(u, &[b"output_tokens_details", b"reasoning_tokens"])
                            .and_then(span::as_u64)
                            .unwrap_or(0),
                    }));
                }
                let (reason, native): (_, &[u8]) = if ty == b"response.incomplete" {
                    let why = path(resp, &[b"incomplete_details", b"reason"])
                        .and_then(span::str_content)
                        .unwrap_or(b"max_output_tokens");
                    let r = if why == b"content_filter" {
                        FinishReason::ContentFilter
                    } else {
                        FinishReason::Length
                    };
                    (r, why)
                } else if self.any_tool {
                    (FinishReason::ToolCalls, b"completed")
                } else {
                    (FinishReason::Stop, b"completed")
                };
                f(StreamEvent::Finish {
                    choice: 0,
                    reason,
                    native,
                });
                f(StreamEvent::Done);
            }
            b"response.failed" => {
                let err = path(data, &[b"response", b"error"]).filter(|e| e.first() == Some(&b'{'));
                emit_error(err.unwrap_or(b"{}"), 500, f);
            }
            b"error" => {
                let err = get(data, b"error")
                    .filter(|e| e.first() == Some(&b'{'))
                    .unwrap_or(data);
                // The Codex upstream WebSocket's error frames say their
                // HTTP status (`status`, or `status_code`); it wins.
                let explicit = get_u64(data, b"status")
                    .or_else(|| get_u64(data, b"status_code"))
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (400..600).contains(s));
                match explicit {
                    Some(status) => emit_error_status(err, status, f),
                    None => emit_error(err, 0, f),
                }
            }
            _ => {}
        }
    }
}
