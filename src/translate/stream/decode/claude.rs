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

/// Which delta [`delta_fast`] recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delta {
    Text,
    Thinking,
    InputJson,
}

/// The exact bytes Anthropic's API sends for almost every event of an answer:
/// `{"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"…"}}`
/// (or `thinking_delta`/`thinking`, `input_json_delta`/`partial_json`), members in
/// this order, no whitespace. Matching those bytes directly costs a tenth of
/// looking the members up one by one; anything that differs in the least (order,
/// spaces, another member, a malformed string) returns `None` and the caller
/// takes the general path, so the fast path only ever agrees with it. The string
/// body is checked exactly as [`span::str_content`] checks it.
fn delta_fast(data: &[u8]) -> Option<(Delta, u32, &[u8])> {
    let rest = data.strip_prefix(br#"{"type":"content_block_delta","index":"#)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let index = rest[..digits]
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let rest = rest[digits..].strip_prefix(br#","delta":{"type":""#)?;
    let (kind, rest) = if let Some(r) = rest.strip_prefix(br#"text_delta","text":""#) {
        (Delta::Text, r)
    } else if let Some(r) = rest.strip_prefix(br#"thinking_delta","thinking":""#) {
        (Delta::Thinking, r)
    } else {
        (
            Delta::InputJson,
            rest.strip_prefix(br#"input_json_delta","partial_json":""#)?,
        )
    };
    let body = rest.strip_suffix(br#""}}"#)?;
    // A body with a raw `"` (the string ended earlier) or a dangling `\` is
    // rejected here, so `body` is exactly the string's escaped content.
    span::valid_string_body(body).then_some((kind, index, body))
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
        if let Some((kind, index, body)) = delta_fast(data) {
            if !body.is_empty() {
                f(match kind {
                    Delta::Text => StreamEvent::Text {
                        choice: 0,
                        text: body,
                    },
                    Delta::Thinking => StreamEvent::Reasoning {
                        choice: 0,
                        text: body,
                    },
                    Delta::InputJson => StreamEvent::ToolArgs {
                        choice: 0,
                        index,
                        args: Args::Escaped(body),
                    },
                });
            }
            return;
        }
        self.decode_members(data, f);
    }

    /// The general path: every event kind, any member order and spacing.
    fn decode_members(&mut self, data: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn events(data: &[u8], general: bool) -> Vec<String> {
        let mut d = ClaudeDec::default();
        let mut got = Vec::new();
        let mut f = |ev: StreamEvent<'_>| got.push(format!("{ev:?}"));
        if general {
            if is_object(data) {
                d.decode_members(data, &mut f);
            }
        } else {
            d.decode(None, data, &mut f);
        }
        got
    }

    /// The fast path is an optimisation only: on every input, exact shapes and
    /// near misses alike, the events equal the general path's.
    #[test]
    fn delta_fast_path_agrees_with_the_general_path() {
        let bodies: &[&str] = &[
            "word1 ",
            "",
            r#"a \"quoted\" \\ back\/slash \n\t \u00e9 \ud83d\ude00"#,
            "héllo wörld 日本",
            r#"ends with escaped quote \""#,
            r#"dangling \"#,
            r#"raw " quote"#,
            "control \u{1} char",
            r#"bad \x escape"#,
            r#"short \u12 escape"#,
            r#"{\"q\":\"x"#,
        ];
        let kinds = [
            ("text_delta", "text"),
            ("thinking_delta", "thinking"),
            ("input_json_delta", "partial_json"),
            ("signature_delta", "signature"),
            ("text_delta", "thinking"),
        ];
        let mut shapes = Vec::new();
        for b in bodies {
            for (ty, key) in kinds {
                for index in ["0", "7", "12", "4294967295", "01", "-1", "1.5", "\"0\""] {
                    shapes.push(format!(
                        r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"{ty}","{key}":"{b}"}}}}"#
                    ));
                }
                // Near misses: spacing, member order, extra members, truncation.
                shapes.push(format!(
                    r#"{{"type": "content_block_delta","index":0,"delta":{{"type":"{ty}","{key}":"{b}"}}}}"#
                ));
                shapes.push(format!(
                    r#"{{"index":0,"type":"content_block_delta","delta":{{"type":"{ty}","{key}":"{b}"}}}}"#
                ));
                shapes.push(format!(
                    r#"{{"type":"content_block_delta","index":0,"delta":{{"{key}":"{b}","type":"{ty}"}}}}"#
                ));
                shapes.push(format!(
                    r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"{ty}","{key}":"{b}","x":1}}}}"#
                ));
                shapes.push(format!(
                    r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"{ty}","{key}":"{b}"}},"x":1}}"#
                ));
                shapes.push(format!(
                    r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"{ty}","{key}":"{b}"}}"#
                ));
            }
        }
        let mut fast_hits = 0;
        for s in &shapes {
            let fast = events(s.as_bytes(), false);
            let general = events(s.as_bytes(), true);
            assert_eq!(fast, general, "input: {s}");
            fast_hits += usize::from(delta_fast(s.as_bytes()).is_some());
        }
        // The exact shapes of the three delta kinds with a plain index take it.
        assert!(fast_hits >= 3 * 4 * 4, "fast path taken {fast_hits} times");
    }

    #[test]
    fn delta_fast_path_reads_the_index_and_kind() {
        let d = br#"{"type":"content_block_delta","index":12,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1"}}"#;
        assert_eq!(
            delta_fast(d),
            Some((Delta::InputJson, 12, &br#"{\"a\":1"#[..]))
        );
        let d = br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\""}}"#;
        assert_eq!(delta_fast(d), Some((Delta::Text, 0, &br#"a\""#[..])));
        let d = br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\"}}"#;
        assert_eq!(delta_fast(d), None);
    }
}
