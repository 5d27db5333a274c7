//! Decoder of Anthropic Messages events.

use super::*;

/// Anthropic Messages decoder state.
#[derive(Debug, Default)]
pub struct ClaudeDec {
    pub(super) input: u64,
    pub(super) cache_read: u64,
    pub(super) cache_create: u64,
    pub(super) output: u64,
}

pub(super) fn claude_status(kind: &[u8]) -> u16 {
    match kind {
        b"invalid_request_error" => 400,
        b"authentication_error" => 401,
        b"permission_error" => 403,
        b"not_found_error" => 404,
        b"request_too_large" => 413,
        b"rate_limit_error" => 429,
        b"overloaded_error" => 529,
        _ => 500,
    }
}

impl ClaudeDec {
    pub(super) fn usage(&mut self, u: &[u8]) {
        let fields = get_many(
            u,
            [
                b"input_tokens",
                b"cache_read_input_tokens",
                b"cache_creation_input_tokens",
                b"output_tokens",
            ],
        );
        let slots = [
            &mut self.input,
            &mut self.cache_read,
            &mut self.cache_create,
            &mut self.output,
        ];
        for (v, slot) in fields.into_iter().zip(slots) {
            if let Some(n) = v.and_then(span::as_u64) {
                *slot = n;
            }
        }
    }

    pub(super) fn decode(
        &mut self,
        _event: Option<&[u8]>,
        data: &[u8],
        f: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if !is_object(data) {
            return;
        }
        // The `type` inside the data is authoritative; the `event:` line repeats it.
        // One pass finds the members every event kind needs.
        let [ty, idx, delta_v] = get_many(data, [b"type", b"index", b"delta"]);
        let Some(ty) = ty.and_then(span::str_content) else {
            return;
        };
        let index = || idx.and_then(span::as_u64).unwrap_or(0) as u32;
        match ty {
            b"message_start" => {
                let msg = get(data, b"message").unwrap_or(b"{}");
                if let Some(u) = get(msg, b"usage") {
                    self.usage(u);
                }
                f(StreamEvent::Start {
                    id: str_or_empty(msg, b"id"),
                });
            }
            b"content_block_start" => {
                let Some(block) = get(data, b"content_block") else {
                    return;
                };
                match get_str(block, b"type") {
                    Some(b"tool_use") => f(StreamEvent::ToolCallStart {
                        choice: 0,
                        index: index(),
                        id: str_or_empty(block, b"id"),
                        name: str_or_empty(block, b"name"),
                    }),
                    Some(b"text") => {
                        if let Some(text) = get_str(block, b"text").filter(|s| !s.is_empty()) {
                            f(StreamEvent::Text { choice: 0, text });
                        }
                    }
                    Some(b"thinking") => {
                        if let Some(text) = get_str(block, b"thinking").filter(|s| !s.is_empty()) {
                            f(StreamEvent::Reasoning { choice: 0, text });
                        }
                    }
                    _ => {}
                }
            }
            b"content_block_delta" => {
                let Some(delta) = delta_v else {
                    return;
                };
                let [dty, dtext] = get_many(delta, [b"type", b"text"]);
                match dty.and_then(span::str_content) {
                    Some(b"text_delta") => {
                        if let Some(text) =
                            dtext.and_then(span::str_content).filter(|s| !s.is_empty())
                        {
                            f(StreamEvent::Text { choice: 0, text });
                        }
                    }
                    Some(b"thinking_delta") => {
                        if let Some(text) = get_str(delta, b"thinking").filter(|s| !s.is_empty()) {
                            f(StreamEvent::Reasoning { choice: 0, text });
                        }
                    }
                    Some(b"signature_delta") => {
                        if let Some(sig) = get_str(delta, b"signature").filter(|s| !s.is_empty()) {
                            f(StreamEvent::ReasoningSignature { choice: 0, sig });
                        }
                    }
                    Some(b"input_json_delta") => {
                        if let Some(a) = get_str(delta, b"partial_json").filter(|s| !s.is_empty()) {
                            f(StreamEvent::ToolArgs {
                                choice: 0,
                                index: index(),
                                args: Args::Escaped(a),
                            });
                        }
                    }
                    _ => {}
                }
            }
            b"message_delta" => {
                if let Some(u) = get(data, b"usage") {
                    self.usage(u);
                }
                f(StreamEvent::Usage(Usage {
                    input: self.input + self.cache_read + self.cache_create,
                    output: self.output,
                    cached: self.cache_read,
                    reasoning: 0,
                }));
                if let Some(native) =
                    path(data, &[b"delta", b"stop_reason"]).and_then(span::str_content)
                {
                    let reason = match native {
                        b"max_tokens" | b"model_context_window_exceeded" => FinishReason::Length,
                        b"tool_use" => FinishReason::ToolCalls,
                        b"refusal" => FinishReason::ContentFilter,
                        _ => FinishReason::Stop,
                    };
                    f(StreamEvent::Finish {
                        choice: 0,
                        reason,
                        native,
                    });
                }
            }
            b"message_stop" => f(StreamEvent::Done),
            b"ping" => f(StreamEvent::KeepAlive),
            b"error" => {
                let err = get(data, b"error").unwrap_or(b"{}");
                let kind = str_or_empty(err, b"type");
                f(StreamEvent::Error {
                    status: claude_status(kind),
                    kind,
                    message: get_str(err, b"message").unwrap_or(b"upstream error"),
                });
            }
            _ => {}
        }
    }
}
