//! Upstream decoders: one SSE event of a provider's stream -> [`StreamEvent`]s.
//!
//! Every decoder ignores event types it does not know, and frames whose data is empty or
//! not a JSON object. Strings are handed on only as validated escaped spans.

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
            Decoder::Gemini(d) => {
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
        }
    }
}

fn trim(mut b: &[u8]) -> &[u8] {
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
    let message = get_str(err, b"message").unwrap_or(b"upstream error");
    let kind = get_str(err, b"type")
        .filter(|t| *t != b"error")
        .or_else(|| get_str(err, b"status"))
        .or_else(|| get_str(err, b"code"))
        .unwrap_or(b"");
    let status = get_u64(err, b"code")
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (100..600).contains(c))
        .or_else(|| status_for_code(get_str(err, b"code").unwrap_or(b"")))
        .or_else(|| status_for_code(get_str(err, b"type").unwrap_or(b"")))
        .unwrap_or(status_hint);
    f(StreamEvent::Error {
        status,
        kind,
        message,
    });
}

// ---------------------------------------------------------------- OpenAI Chat

/// OpenAI Chat decoder state.
#[derive(Debug, Default)]
pub struct ChatDec {
    /// Tool-call keys already announced with a `ToolCallStart`.
    started: KeySet,
    began: bool,
}

impl ChatDec {
    fn decode(&mut self, data: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
        if data == b"[DONE]" {
            f(StreamEvent::Done);
            return;
        }
        if !is_object(data) {
            return;
        }
        let mut usage = None;
        visit_object(data, 0, |key, vs| match key {
            b"error" => match value_at(data, vs) {
                Some((err, _)) if err.first() == Some(&b'{') => {
                    emit_error(err, 0, f);
                    Step::Stop
                }
                _ => Step::Skip,
            },
            b"id" if !self.began => {
                let Some((id, end)) = value_at(data, vs) else {
                    return Step::Stop;
                };
                if let Some(id) = span::str_content(id) {
                    self.began = true;
                    f(StreamEvent::Start { id });
                }
                Step::End(end)
            }
            b"choices" if data.get(vs) == Some(&b'[') => {
                step(visit_array(data, vs, |es| step(self.choice(data, es, f))))
            }
            b"usage" => {
                let Some((u, end)) = value_at(data, vs) else {
                    return Step::Stop;
                };
                usage = Some(u);
                Step::End(end)
            }
            _ => Step::Skip,
        });
        if let Some(u) = usage {
            if u.first() == Some(&b'{') {
                let [pt, ct, ptd, ctd] = get_many(
                    u,
                    [
                        b"prompt_tokens",
                        b"completion_tokens",
                        b"prompt_tokens_details",
                        b"completion_tokens_details",
                    ],
                );
                f(StreamEvent::Usage(Usage {
                    input: num(pt),
                    output: num(ct),
                    cached: num(ptd.and_then(|d| get(d, b"cached_tokens"))),
                    reasoning: num(ctd.and_then(|d| get(d, b"reasoning_tokens"))),
                }));
            }
        }
    }

    /// Decode the choice object at `b[cs]`; returns its end.
    fn choice(&mut self, b: &[u8], cs: usize, f: &mut dyn FnMut(StreamEvent<'_>)) -> Option<usize> {
        let (mut index, mut finish) = (None, None);
        // Members of `delta`, read in the same pass: content, reasoning_content, reasoning,
        // tool_calls.
        let mut d: [Option<&[u8]>; 4] = [None; 4];
        let mut has_delta = false;
        let end = visit_object(b, cs, |key, vs| {
            let slot = match key {
                b"index" => &mut index,
                b"finish_reason" => &mut finish,
                b"delta" if b.get(vs) == Some(&b'{') => {
                    has_delta = true;
                    return step(visit_object(b, vs, |k, dvs| {
                        let n = match k {
                            b"content" => 0,
                            b"reasoning_content" => 1,
                            b"reasoning" => 2,
                            b"tool_calls" => 3,
                            _ => return Step::Skip,
                        };
                        let Some((v, end)) = value_at(b, dvs) else {
                            return Step::Stop;
                        };
                        d[n] = Some(v);
                        Step::End(end)
                    }));
                }
                _ => return Step::Skip,
            };
            let Some((v, end)) = value_at(b, vs) else {
                return Step::Stop;
            };
            *slot = Some(v);
            Step::End(end)
        })?;
        let ci = index.and_then(span::as_u64).unwrap_or(0) as u32;
        if has_delta {
            let [content, rc, r, tcs] = d;
            if let Some(text) = nonempty(rc).or_else(|| nonempty(r)) {
                f(StreamEvent::Reasoning { choice: ci, text });
            }
            if let Some(text) = nonempty(content) {
                f(StreamEvent::Text { choice: ci, text });
            }
            if let Some(tcs) = tcs {
                for tc in span::array(tcs) {
                    let [index, id, func] = get_many(tc, [b"index", b"id", b"function"]);
                    let ti = index.and_then(span::as_u64).unwrap_or(0) as u32;
                    let key = (ci, ti);
                    let [name, arguments] =
                        get_many(func.unwrap_or(b"{}"), [b"name", b"arguments"]);
                    if !self.started.contains(key) {
                        if self.started.0.len() >= super::encode::MAX_TOOL_CALLS {
                            continue;
                        }
                        self.started.insert(key);
                        f(StreamEvent::ToolCallStart {
                            choice: ci,
                            index: ti,
                            id: id.and_then(span::str_content).unwrap_or(b""),
                            name: name.and_then(span::str_content).unwrap_or(b""),
                        });
                    }
                    if let Some(a) = nonempty(arguments) {
                        f(StreamEvent::ToolArgs {
                            choice: ci,
                            index: ti,
                            args: Args::Escaped(a),
                        });
                    }
                }
            }
        }
        if let Some(native) = finish.and_then(span::str_content).filter(|s| !s.is_empty()) {
            let reason = match native {
                b"length" => FinishReason::Length,
                b"tool_calls" | b"function_call" => FinishReason::ToolCalls,
                b"content_filter" => FinishReason::ContentFilter,
                _ => FinishReason::Stop,
            };
            f(StreamEvent::Finish {
                choice: ci,
                reason,
                native,
            });
        }
        Some(end)
    }
}

// ---------------------------------------------------------------- OpenAI Responses / Codex

/// OpenAI Responses decoder state.
#[derive(Debug, Default)]
pub struct RespDec {
    any_tool: bool,
    /// Output indexes (below 64) whose function call was announced by
    /// `output_item.added` / got argument deltas. Upstreams that send only
    /// `output_item.done` for a call (some Responses-compatible servers do)
    /// get the call and its arguments from the done item instead.
    started: u64,
    args_seen: u64,
}

/// The bit of a tracked output index; `None` past 63 (assume announced).
fn index_bit(index: u32) -> Option<u64> {
    1u64.checked_shl(index).filter(|_| index < 64)
}

impl RespDec {
    fn decode(&mut self, data: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
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
                emit_error(err, 0, f);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- Claude

/// Anthropic Messages decoder state.
#[derive(Debug, Default)]
pub struct ClaudeDec {
    input: u64,
    cache_read: u64,
    cache_create: u64,
    output: u64,
}

fn claude_status(kind: &[u8]) -> u16 {
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
    fn usage(&mut self, u: &[u8]) {
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

    fn decode(&mut self, _event: Option<&[u8]>, data: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
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

// ---------------------------------------------------------------- Gemini

/// Gemini decoder state.
#[derive(Debug, Default)]
pub struct GeminiDec {
    id_seed: u64,
    started: bool,
    tools: u32,
    any_tool: bool,
    idbuf: Vec<u8>,
}

impl GeminiDec {
    fn decode(&mut self, data: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
        if !is_object(data) {
            return;
        }
        if !self.started && get(data, b"error").is_none() {
            // responseId comes last in Gemini chunks; look it up once so Start goes first.
            self.started = true;
            let inner = get(data, b"response")
                .filter(|r| r.first() == Some(&b'{'))
                .unwrap_or(data);
            f(StreamEvent::Start {
                id: get_str(inner, b"responseId").unwrap_or(b""),
            });
        }
        let mut finish: Option<&[u8]> = None;
        let mut usage = None;
        if !self.chunk(data, &mut finish, &mut usage, f) {
            return;
        }
        if let Some(u) = usage.filter(|u| u.first() == Some(&b'{')) {
            let [pt, ct, cc, tt] = get_many(
                u,
                [
                    b"promptTokenCount",
                    b"candidatesTokenCount",
                    b"cachedContentTokenCount",
                    b"thoughtsTokenCount",
                ],
            );
            f(StreamEvent::Usage(Usage {
                input: num(pt),
                output: num(ct).saturating_add(num(tt)),
                cached: num(cc),
                reasoning: num(tt),
            }));
        }
        if let Some(native) = finish {
            let reason = match native {
                b"MAX_TOKENS" => FinishReason::Length,
                b"SAFETY"
                | b"RECITATION"
                | b"BLOCKLIST"
                | b"PROHIBITED_CONTENT"
                | b"SPII"
                | b"IMAGE_SAFETY" => FinishReason::ContentFilter,
                _ if self.any_tool => FinishReason::ToolCalls,
                _ => FinishReason::Stop,
            };
            f(StreamEvent::Finish {
                choice: 0,
                reason,
                native,
            });
        }
    }

    /// One pass over a chunk object (or its `response` wrapper); false after an error.
    fn chunk<'a>(
        &mut self,
        data: &'a [u8],
        finish: &mut Option<&'a [u8]>,
        usage: &mut Option<&'a [u8]>,
        f: &mut dyn FnMut(StreamEvent<'_>),
    ) -> bool {
        let mut ok = true;
        visit_object(data, 0, |key, vs| match key {
            b"error" => match value_at(data, vs) {
                Some((err, _)) if err.first() == Some(&b'{') => {
                    emit_error(err, 0, f);
                    ok = false;
                    Step::Stop
                }
                _ => Step::Skip,
            },
            b"response" => {
                let Some((inner, end)) = value_at(data, vs) else {
                    return Step::Stop;
                };
                if inner.first() == Some(&b'{') && !self.chunk(inner, finish, usage, f) {
                    ok = false;
                    return Step::Stop;
                }
                Step::End(end)
            }
            b"candidates" if data.get(vs) == Some(&b'[') => step(visit_array(data, vs, |cs| {
                step(self.candidate(data, cs, finish, f))
            })),
            b"usageMetadata" => {
                let Some((u, end)) = value_at(data, vs) else {
                    return Step::Stop;
                };
                *usage = Some(u);
                Step::End(end)
            }
            _ => Step::Skip,
        });
        ok
    }

    /// One candidate at `b[cs]`; returns its end.
    fn candidate<'a>(
        &mut self,
        b: &'a [u8],
        cs: usize,
        finish: &mut Option<&'a [u8]>,
        f: &mut dyn FnMut(StreamEvent<'_>),
    ) -> Option<usize> {
        let (mut index, mut content, mut fr) = (None, None, None);
        let end = visit_object(b, cs, |key, vs| {
            let slot = match key {
                b"index" => &mut index,
                b"content" => &mut content,
                b"finishReason" => &mut fr,
                _ => return Step::Skip,
            };
            let Some((v, end)) = value_at(b, vs) else {
                return Step::Stop;
            };
            *slot = Some(v);
            Step::End(end)
        })?;
        let ci = index.and_then(span::as_u64).unwrap_or(0) as u32;
        if let Some(content) = content {
            visit_object(content, 0, |key, vs| match key {
                b"parts" => step(visit_array(content, vs, |ps| {
                    let Some((part, end)) = value_at(content, ps) else {
                        return Step::Stop;
                    };
                    self.part(ci, part, f);
                    Step::End(end)
                })),
                _ => Step::Skip,
            });
        }
        if ci == 0 {
            *finish = fr.and_then(span::str_content).filter(|s| !s.is_empty());
        }
        Some(end)
    }

    fn part(&mut self, ci: u32, part: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
        let [text, thought, call, sig] = get_many(
            part,
            [b"text", b"thought", b"functionCall", b"thoughtSignature"],
        );
        if let Some(text) = text.and_then(span::str_content).filter(|s| !s.is_empty()) {
            if thought == Some(b"true") {
                f(StreamEvent::Reasoning { choice: ci, text });
            } else {
                f(StreamEvent::Text { choice: ci, text });
            }
        }
        if let Some(call) = call.filter(|c| c.first() == Some(&b'{')) {
            let index = self.tools;
            self.tools = self.tools.saturating_add(1);
            self.any_tool = true;
            let id = match get_str(call, b"id").filter(|s| !s.is_empty()) {
                Some(id) => id,
                None => {
                    self.idbuf.clear();
                    self.idbuf.extend_from_slice(b"call_");
                    write_hex(&mut self.idbuf, self.id_seed);
                    self.idbuf.push(b'_');
                    write_u64(&mut self.idbuf, u64::from(index));
                    &self.idbuf
                }
            };
            f(StreamEvent::ToolCallStart {
                choice: ci,
                index,
                id,
                name: str_or_empty(call, b"name"),
            });
            if let Some(args) = get(call, b"args").filter(|a| a.first() == Some(&b'{')) {
                f(StreamEvent::ToolArgs {
                    choice: ci,
                    index,
                    args: Args::Raw(args),
                });
            }
        }
        if let Some(sig) = sig.and_then(span::str_content).filter(|s| !s.is_empty()) {
            f(StreamEvent::ReasoningSignature { choice: ci, sig });
        }
    }
}
