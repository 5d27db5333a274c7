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
    let (kind, index, start) = delta_head(data)?;
    let body = data[start..].strip_suffix(br#""}}"#)?;
    // A body with a raw `"` (the string ended earlier) or a dangling `\` is
    // rejected here, so `body` is exactly the string's escaped content.
    span::valid_string_body(body).then_some((kind, index, body))
}

/// What [`delta_fast`]'s layout starts with, up to the index.
const DELTA_HEAD: &[u8] = br#"{"type":"content_block_delta","index":"#;

/// The layout of [`delta_fast`] up to the string body: the delta's kind, its
/// index and where the body starts in `data`.
#[inline]
fn delta_head(data: &[u8]) -> Option<(Delta, u32, usize)> {
    if !span::has_prefix(data, DELTA_HEAD) {
        return None;
    }
    delta_rest(data, DELTA_HEAD.len())
}

/// [`delta_head`] after [`DELTA_HEAD`], which ends at `data[digits]`.
#[inline(always)]
fn delta_rest(data: &[u8], digits: usize) -> Option<(Delta, u32, usize)> {
    const MID: &[u8] = br#","delta":{"type":""#;
    const TEXT: &[u8] = br#"text_delta","text":""#;
    /// `MID` and `TEXT` together: a text delta's bytes in one compare.
    const MID_TEXT: &[u8] = br#","delta":{"type":"text_delta","text":""#;
    const THINKING: &[u8] = br#"thinking_delta","thinking":""#;
    const INPUT_JSON: &[u8] = br#"input_json_delta","partial_json":""#;
    let mut i = digits;
    let mut index = 0u32;
    while let Some(d) = data.get(i).filter(|b| b.is_ascii_digit()) {
        if i - digits == 9 {
            return None;
        }
        index = index * 10 + u32::from(d - b'0');
        i += 1;
    }
    if i == digits {
        return None;
    }
    if span::has_prefix(&data[i..], MID_TEXT) {
        return Some((Delta::Text, index, i + MID_TEXT.len()));
    }
    if !span::has_prefix(&data[i..], MID) {
        return None;
    }
    i += MID.len();
    let rest = &data[i..];
    let (kind, lit) = match rest.first()? {
        b't' if span::has_prefix(rest, TEXT) => (Delta::Text, TEXT),
        b't' if span::has_prefix(rest, THINKING) => (Delta::Thinking, THINKING),
        b'i' if span::has_prefix(rest, INPUT_JSON) => (Delta::InputJson, INPUT_JSON),
        _ => return None,
    };
    Some((kind, index, i + lit.len()))
}

/// The events whose `type` alone decides what they mean, when `type` is the
/// data's first member (as Anthropic sends it) — `content_block_stop`,
/// `message_stop`, `ping` — and the empty text block's `content_block_start`
/// in Anthropic's exact layout: `Some(event to emit, if any)` without looking
/// the members up. `None`: the general path decides. The general path takes
/// the first `type` member too, so both agree (tested).
#[inline]
fn type_first(data: &[u8]) -> Option<Option<StreamEvent<'static>>> {
    let rest = data.strip_prefix(br#"{"type":""#)?;
    match rest.first()? {
        b'c' if span::has_prefix(rest, br#"content_block_stop""#) => Some(None),
        b'c' => {
            // `{"type":"content_block_start","index":N,"content_block":{"type":"text","text":""}}`
            let r = rest.strip_prefix(br#"content_block_start","index":"#)?;
            let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
            (digits > 0 && &r[digits..] == br#","content_block":{"type":"text","text":""}}"#)
                .then_some(None)
        }
        b'm' if span::has_prefix(rest, br#"message_stop""#) => Some(Some(StreamEvent::Done)),
        b'p' if span::has_prefix(rest, br#"ping""#) => Some(Some(StreamEvent::KeepAlive)),
        _ => None,
    }
}

/// A message's usage counts (when it has a `usage` member; see
/// [`counts_of`]) and its `id` member (raw span), when present.
type UsageAndId<'a> = (Option<[Option<u64>; 4]>, Option<&'a [u8]>);

/// `{"type":"message_start","message":{…}}` (`type` first, `message` second
/// and last, as Anthropic sends it) read in one pass over the message: its
/// `usage` counts and `id` member (first occurrences) — what the general
/// path finds with a lookup that skips the message and a second one inside
/// it. `None` (the general path decides) unless the message's member walk
/// ends where the general path's skip of the message ends: every member value
/// is an object, a string, an array without braces or a literal without
/// braces or quotes, so skipping the message by its braces passes the same
/// strings and stops at the same brace (tested against the general path).
/// The usual members are taken without a second look: `null` and `[]` by
/// their bytes, the usage object by [`usage_counts`] (which reads it and
/// finds its end at once).
fn message_start(data: &[u8]) -> Option<UsageAndId<'_>> {
    const HEAD: &[u8] = br#"{"type":"message_start","message":"#;
    if !span::has_prefix(data, HEAD) {
        return None;
    }
    if let Some(((usage, id), end)) = message_exact(data, HEAD.len()) {
        return (&data[end..] == b"}").then_some((usage, id));
    }
    let (mut usage, mut id) = (None, None);
    let end = visit_object(data, HEAD.len(), |key, vs| {
        let rest = &data[vs..];
        let wanted = matches!(key, b"usage" | b"id");
        // Another member's `null` or `[]` followed by what ends a member:
        // what `skip_value` takes, and plain.
        let short = if wanted {
            0
        } else if span::has_prefix(rest, b"null") {
            4
        } else if span::has_prefix(rest, b"[]") {
            2
        } else {
            0
        };
        if short > 0 && matches!(rest.get(short), Some(b',' | b'}')) {
            return Step::End(vs + short);
        }
        if key == b"usage" && usage.is_none() {
            // A well-formed object ends where the brace skip ends.
            if let Some((counts, ve)) = usage_counts(data, vs) {
                usage = Some(counts);
                return Step::End(ve);
            }
        }
        let Some(ve) = span::skip_value(data, vs) else {
            return Step::Stop;
        };
        let v = &data[vs..ve];
        let plain = match v[0] {
            b'{' | b'"' => true,
            b'[' => memchr::memchr2(b'{', b'}', v).is_none(),
            _ => memchr::memchr3(b'{', b'}', b'"', v).is_none(),
        };
        if !plain {
            return Step::Stop;
        }
        match key {
            // Not in Anthropic's layout (`usage_counts` declined above).
            b"usage" if usage.is_none() => usage = Some(usage_members(v)),
            b"id" if id.is_none() => id = Some(v),
            _ => {}
        }
        Step::End(ve)
    })?;
    (&data[end..] == b"}").then_some((usage, id))
}

/// `message_start`'s message at `data[i]` in Anthropic's own layout, read
/// member by member without a visitor: no whitespace, every member
/// `"key":value` with the value a valid string, `null`, `[]` or (the first
/// `usage`) an object [`usage_counts`] reads; the members Anthropic always
/// sends with the same value (`"type":"message"`, `"role":"assistant"`,
/// `"content":[]`, `"stop_reason":null`, `"stop_sequence":null`) are matched
/// whole by their bytes. The usage counts and `id` span (first occurrences)
/// and the index after the closing brace: what [`message_start`]'s member
/// walk finds for such a message (each member ends where its skip ends).
/// `None` for anything else, including a `null` or other non-string `id`
/// and a second `usage` object: the walk decides.
fn message_exact(data: &[u8], mut i: usize) -> Option<(UsageAndId<'_>, usize)> {
    const FIXED: [&[u8]; 5] = [
        br#""type":"message","#,
        br#""role":"assistant","#,
        br#""content":[],"#,
        br#""stop_reason":null,"#,
        br#""stop_sequence":null,"#,
    ];
    let (mut usage, mut id) = (None, None);
    if data.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        let rest = data.get(i..)?;
        let fixed = match rest.get(1)? {
            b't' => FIXED[0],
            b'r' => FIXED[1],
            b'c' => FIXED[2],
            b's' if rest.get(6) == Some(&b'r') => FIXED[3],
            b's' => FIXED[4],
            _ => b"",
        };
        if !fixed.is_empty() && span::has_prefix(rest, fixed) {
            i += fixed.len();
            continue;
        }
        if rest[0] != b'"' {
            return None;
        }
        let klen = span::string_body_end(&rest[1..])?;
        let key = &rest[1..1 + klen];
        let vs = i + klen + 3;
        if data.get(vs - 1) != Some(&b':') {
            return None;
        }
        let ve = match (data.get(vs)?, key) {
            (b'{', b"usage") if usage.is_none() => {
                let (counts, ve) = usage_counts(data, vs)?;
                usage = Some(counts);
                ve
            }
            // The first `usage` or `id` of another kind: the walk decides.
            (_, b"usage") if usage.is_none() => return None,
            (b'"', _) => {
                let ve = vs + 2 + span::string_body_end(&data[vs + 1..])?;
                if key == b"id" && id.is_none() {
                    id = Some(&data[vs..ve]);
                }
                ve
            }
            (_, b"id") if id.is_none() => return None,
            (b'n', _) if span::has_prefix(&data[vs..], b"null") => vs + 4,
            (b'[', _) if span::has_prefix(&data[vs..], b"[]") => vs + 2,
            _ => return None,
        };
        match data.get(ve)? {
            b',' => i = ve + 1,
            b'}' => return Some(((usage, id), ve + 1)),
            _ => return None,
        }
    }
}

/// The four token counts of a Claude `usage` object, in [`ClaudeDec::usage`]'s order.
const USAGE_KEYS: [&[u8]; 4] = [
    b"input_tokens",
    b"cache_read_input_tokens",
    b"cache_creation_input_tokens",
    b"output_tokens",
];

/// A `usage` object at `b[i]` in Anthropic's layout: no whitespace, every
/// member `"key":N` with a plain key and a number without sign, fraction or
/// leading zero (at most 19 digits). The counts of [`USAGE_KEYS`] (first
/// occurrences, what `get_many` + `as_u64` give) and the index after the
/// closing brace; `None` for anything else (the general path reads it).
fn usage_counts(b: &[u8], mut i: usize) -> Option<([Option<u64>; 4], usize)> {
    let mut counts = [None; 4];
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    if b.get(i) == Some(&b'}') {
        return Some((counts, i + 1));
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (slot, after) = match usage_key(&b[i..]) {
            Some((k, n)) => (Some(k), i + n),
            None => {
                let klen = memchr::memchr2(b'"', b'\\', b.get(i + 1..)?)?;
                let key = &b[i + 1..i + 1 + klen];
                let colon = i + klen + 2;
                if b.get(colon) != Some(&b':') || b[colon - 1] != b'"' {
                    return None;
                }
                (USAGE_KEYS.iter().position(|k| *k == key), colon + 1)
            }
        };
        i = after;
        // At most 19 digits: the value fits in a u64 without a check.
        let first = i;
        let mut n = 0u64;
        while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - first == 19 {
                return None;
            }
            n = n * 10 + u64::from(d - b'0');
            i += 1;
        }
        let digits = i - first;
        if digits == 0 || (digits > 1 && b[first] == b'0') {
            return None;
        }
        if let Some(k) = slot {
            counts[k].get_or_insert(n);
        }
        match b.get(i)? {
            b',' => i += 1,
            b'}' => return Some((counts, i + 1)),
            _ => return None,
        }
    }
}

/// A key of [`USAGE_KEYS`] with its closing quote and colon at the front of
/// `r` (which starts at the key's opening quote), matched by its bytes: its
/// slot and the length up to the value. `None`: any other key (or spacing),
/// which [`usage_counts`] reads by its closing quote.
#[inline]
fn usage_key(r: &[u8]) -> Option<(usize, usize)> {
    const INPUT: &[u8] = br#""input_tokens":"#;
    const CACHE_READ: &[u8] = br#""cache_read_input_tokens":"#;
    const CACHE_CREATION: &[u8] = br#""cache_creation_input_tokens":"#;
    const OUTPUT: &[u8] = br#""output_tokens":"#;
    let (slot, lit) = match r.get(1)? {
        b'i' => (0, INPUT),
        b'c' if r.get(7) == Some(&b'r') => (1, CACHE_READ),
        b'c' => (2, CACHE_CREATION),
        b'o' => (3, OUTPUT),
        _ => return None,
    };
    span::has_prefix(r, lit).then_some((slot, lit.len()))
}

/// The general reading of a `usage` object: [`USAGE_KEYS`] looked up (first
/// occurrences), each count taken when it is a plain non-negative integer.
fn usage_members(u: &[u8]) -> [Option<u64>; 4] {
    get_many(u, USAGE_KEYS).map(|v| v.and_then(span::as_u64))
}

/// A `message_delta`'s escaped stop reason (when a string) and usage counts.
type ReasonAndCounts<'a> = (Option<&'a [u8]>, [Option<u64>; 4]);

/// `message_delta` in Anthropic's exact layout,
/// `{"type":"message_delta","delta":{"stop_reason":R[,"stop_sequence":null]},"usage":{…}}`
/// with `R` a string or `null` and the usage as [`usage_counts`] reads it:
/// the stop reason's escaped body and the usage counts, in one pass. `None`
/// (the general path decides) for anything else, so both agree (tested).
fn message_delta(data: &[u8]) -> Option<ReasonAndCounts<'_>> {
    const HEAD: &[u8] = br#"{"type":"message_delta","delta":{"stop_reason":"#;
    const SEQ: &[u8] = br#","stop_sequence":null"#;
    const MID: &[u8] = br#"},"usage":"#;
    if !span::has_prefix(data, HEAD) {
        return None;
    }
    let mut i = HEAD.len();
    let reason = if span::has_prefix(&data[i..], b"null") {
        i += 4;
        None
    } else {
        let body = data[i..].strip_prefix(b"\"")?;
        let n = span::string_body_end(body)?;
        i += n + 2;
        Some(&body[..n])
    };
    if span::has_prefix(&data[i..], SEQ) {
        i += SEQ.len();
    }
    if !span::has_prefix(&data[i..], MID) {
        return None;
    }
    let (counts, end) = usage_counts(data, i + MID.len())?;
    (&data[end..] == b"}").then_some((reason, counts))
}

/// The index after the line end at `b[i]` (LF or CRLF; a CR that may be
/// followed by LF in the next read, or a lone CR, is not taken).
#[inline]
fn eol(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'\n' => Some(i + 1),
        b'\r' if b.get(i + 1) == Some(&b'\n') => Some(i + 2),
        _ => None,
    }
}

/// One whole SSE block holding a [`delta_fast`] delta at the front of `b`
/// (a read from the start of an event block): an optional
/// `event: content_block_delta` line, the `data:` line, the blank line, LF or
/// CRLF line ends. Returns the block's length and the delta's event (`None`
/// for an empty delta). The body's end is found while it is validated, so
/// the block's bytes are read once: no line search, no second pass over the
/// data. Whatever does not match exactly returns `None` (the scanner and
/// [`ClaudeDec::decode`] take it), so it agrees with them (tested).
pub(crate) fn delta_block(b: &[u8]) -> Option<(usize, Option<StreamEvent<'_>>)> {
    const EVENT: &[u8] = b"event: content_block_delta";
    /// Anthropic's own block up to the index: `EVENT`, LF, `data: ` and
    /// [`DELTA_HEAD`], what the steps below match, in one compare.
    const BLOCK: &[u8] =
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":";
    let (kind, index, start) = if span::has_prefix(b, BLOCK) {
        delta_rest(b, BLOCK.len())?
    } else {
        let mut i = 0;
        if span::has_prefix(b, EVENT) {
            i = eol(b, EVENT.len())?;
        }
        let line = &b[i..];
        i += if span::has_prefix(line, b"data: ") {
            6
        } else if span::has_prefix(line, b"data:") {
            5
        } else {
            return None;
        };
        let (kind, index, start) = delta_head(&b[i..])?;
        (kind, index, i + start)
    };
    let end = start + span::string_body_end(&b[start..])?;
    if !b[end..].starts_with(br#""}}"#) {
        return None;
    }
    let n = eol(b, eol(b, end + 3)?)?;
    Some((n, delta_event(kind, index, &b[start..end])))
}

/// Anthropic's own text delta block at the front of `b`: `BLOCK` (in
/// [`delta_block`]), a one-digit index, `,"delta":{"type":"text_delta","text":"`,
/// a non-empty valid string body, `"}}` and LF LF. Returns the block's
/// length, `b` from the text's first byte on and the text's length: the text
/// is what [`delta_block`] returns for such a block as `StreamEvent::Text`
/// (what follows it lets a short text be copied as a fixed-size window).
/// Anything else, an empty text included, is `None`
/// ([`delta_block`] decides), so both agree (tested). Three compares of
/// literal bytes and one pass over the text: the path of almost every event
/// of a Claude stream.
#[inline(always)]
pub(crate) fn text_block(b: &[u8]) -> Option<(usize, &[u8], usize)> {
    const HEAD: &[u8] =
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":";
    const MID_TEXT: &[u8] = br#","delta":{"type":"text_delta","text":""#;
    const TAIL: &[u8] = b"\"}}\n\n";
    const START: usize = HEAD.len() + 1 + MID_TEXT.len();
    if !span::has_prefix(b, HEAD) || !b.get(HEAD.len())?.is_ascii_digit() {
        return None;
    }
    if !span::has_prefix(&b[HEAD.len() + 1..], MID_TEXT) {
        return None;
    }
    let body = &b[START..];
    let n = span::string_body_end(body)?;
    if n == 0 || !span::has_prefix(&body[n..], TAIL) {
        return None;
    }
    Some((START + n + TAIL.len(), body, n))
}

/// The event of a fast-path delta (`None` when its body is empty).
#[inline]
fn delta_event(kind: Delta, index: u32, body: &[u8]) -> Option<StreamEvent<'_>> {
    if body.is_empty() {
        return None;
    }
    Some(match kind {
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
    })
}

/// The counts of a `usage` object: read in one pass when it has Anthropic's
/// layout ([`usage_counts`]), else looked up ([`usage_members`]).
fn counts_of(u: &[u8]) -> [Option<u64>; 4] {
    match usage_counts(u, 0) {
        Some((counts, end)) if end == u.len() => counts,
        _ => usage_members(u),
    }
}

impl ClaudeDec {
    pub(super) fn usage(&mut self, u: &[u8]) {
        self.set_counts(counts_of(u));
    }

    /// Stores the counts present, in [`USAGE_KEYS`] order.
    fn set_counts(&mut self, counts: [Option<u64>; 4]) {
        let slots = [
            &mut self.input,
            &mut self.cache_read,
            &mut self.cache_create,
            &mut self.output,
        ];
        for (v, slot) in counts.into_iter().zip(slots) {
            if let Some(n) = v {
                *slot = n;
            }
        }
    }

    /// `message_delta`: the usage so far, then the finish reason when the
    /// upstream stated one (its escaped `stop_reason`).
    fn end(&mut self, native: Option<&[u8]>, f: &mut dyn FnMut(StreamEvent<'_>)) {
        f(StreamEvent::Usage(Usage {
            input: self
                .input
                .saturating_add(self.cache_read)
                .saturating_add(self.cache_create),
            output: self.output,
            cached: self.cache_read,
            reasoning: 0,
        }));
        if let Some(native) = native {
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

    /// `message_start` with its message's usage counts and `id` member (raw span).
    fn start(
        &mut self,
        usage: Option<[Option<u64>; 4]>,
        id: Option<&[u8]>,
        f: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if let Some(counts) = usage {
            self.set_counts(counts);
        }
        f(StreamEvent::Start {
            id: id.and_then(span::str_content).unwrap_or(b""),
        });
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
        // Each shortcut takes only data starting `{"type":"<its type>"`, so
        // the type's first letter picks the ones worth trying.
        let first = if data.starts_with(br#"{"type":""#) {
            data.get(9).copied()
        } else {
            None
        };
        if first == Some(b'c') {
            if let Some((kind, index, body)) = delta_fast(data) {
                if let Some(ev) = delta_event(kind, index, body) {
                    f(ev);
                }
                return;
            }
        }
        if matches!(first, Some(b'c' | b'm' | b'p')) {
            if let Some(ev) = type_first(data) {
                if let Some(ev) = ev {
                    f(ev);
                }
                return;
            }
        }
        if first == Some(b'm') {
            if let Some((usage, id)) = message_start(data) {
                self.start(usage, id, f);
                return;
            }
            if let Some((native, counts)) = message_delta(data) {
                self.set_counts(counts);
                self.end(native, f);
                return;
            }
        }
        self.decode_members(data, f);
    }

    /// The general path: every event kind, any member order and spacing.
    fn decode_members(&mut self, data: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
        // The `type` inside the data is authoritative; the `event:` line repeats it.
        // One pass finds the members every event kind needs.
        let [ty, idx, delta_v, message, block, usage, error] = get_many(
            data,
            [
                b"type",
                b"index",
                b"delta",
                b"message",
                b"content_block",
                b"usage",
                b"error",
            ],
        );
        let Some(ty) = ty.and_then(span::str_content) else {
            return;
        };
        let index = || idx.and_then(span::as_u64).unwrap_or(0) as u32;
        match ty {
            b"message_start" => {
                let [usage, id] = get_many(message.unwrap_or(b"{}"), [b"usage", b"id"]);
                self.start(usage.map(counts_of), id, f);
            }
            b"content_block_start" => {
                let Some(block) = block else {
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
                if let Some(u) = usage {
                    self.usage(u);
                }
                let native = delta_v
                    .and_then(|d| get(d, b"stop_reason"))
                    .and_then(span::str_content);
                self.end(native, f);
            }
            b"message_stop" => f(StreamEvent::Done),
            b"ping" => f(StreamEvent::KeepAlive),
            b"error" => {
                let err = error.unwrap_or(b"{}");
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

    /// Delta texts for the fast-path agreement tests: plain, empty, escapes
    /// of every kind, non-ASCII, and malformed strings.
    const DELTA_BODIES: &[&str] = &[
        "word1 ",
        "",
        r#"a \"quoted\" \\ back\/slash \n\t \u00e9 \ud83d\ude00"#,
        "héllo wörld 日本",
        "héllo wörld 日本 and some more text after it",
        r#"ends with escaped quote \""#,
        r#"dangling \"#,
        r#"raw " quote"#,
        "control \u{1} char",
        r#"bad \x escape"#,
        r#"short \u12 escape"#,
        r#"{\"q\":\"x"#,
        "a longer piece of plain ASCII text, longer than a word or two",
    ];

    /// Delta kinds with their text keys: the four Anthropic sends, a kind
    /// with another kind's key, and near misses of the names.
    const DELTA_KINDS: &[(&str, &str)] = &[
        ("text_delta", "text"),
        ("thinking_delta", "thinking"),
        ("input_json_delta", "partial_json"),
        ("signature_delta", "signature"),
        ("text_delta", "thinking"),
        ("text_deltax", "text"),
        ("text_delta", "texts"),
        ("text_delt", "text"),
    ];

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
        let bodies = DELTA_BODIES;
        let kinds = DELTA_KINDS;
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

    /// What the scanner and the decoder make of `block` (the general path of
    /// [`delta_block`]), as debug strings.
    fn scanned(block: &[u8]) -> Vec<String> {
        let mut d = ClaudeDec::default();
        let mut got = Vec::new();
        let mut sc = crate::sse::Scanner::new();
        let _ = sc.feed(block, |item| {
            if let crate::sse::Item::Event(ev) = item {
                d.decode(ev.event, super::trim(ev.data), &mut |e| {
                    got.push(format!("{e:?}"))
                });
            }
        });
        got
    }

    /// Blocks of every shape the fast block path may meet: exact layouts and
    /// near misses (escapes, non-ASCII, member order, extra members, indexes,
    /// delta kinds, CRLF, `data:` without a space, other event lines, a
    /// missing blank line).
    fn blocks() -> Vec<String> {
        let bodies = DELTA_BODIES;
        let kinds = DELTA_KINDS;
        let mut v = Vec::new();
        for b in bodies {
            for (ty, key) in kinds {
                for index in ["0", "3", "12", "01", "-1"] {
                    let data = format!(
                        r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"{ty}","{key}":"{b}"}}}}"#
                    );
                    for (head, eol) in [
                        ("event: content_block_delta\n", "\n"),
                        ("", "\n"),
                        ("event: content_block_delta\r\n", "\r\n"),
                        ("event: content_block_delta\n", "\r\n"),
                        ("event: content_block_delta\r", "\r"),
                        ("event: message_delta\n", "\n"),
                        ("event:content_block_delta\n", "\n"),
                        ("id: 1\n", "\n"),
                    ] {
                        v.push(format!("{head}data: {data}{eol}{eol}"));
                    }
                    v.push(format!("event: content_block_delta\ndata:{data}\n\n"));
                    v.push(format!("event: content_block_delta\ndata:  {data}\n\n"));
                    v.push(format!("event: content_block_delta\ndata: {data}\n"));
                    v.push(format!("event: content_block_delta\ndata: {data} \n\n"));
                    v.push(format!(
                        "event: content_block_delta\ndata: {data}\ndata: x\n\n"
                    ));
                }
                v.push(format!(
                    "data: {{\"index\":0,\"type\":\"content_block_delta\",\"delta\":{{\"type\":\"{ty}\",\"{key}\":\"{b}\"}}}}\n\n"
                ));
                v.push(format!(
                    "data: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"{ty}\",\"{key}\":\"{b}\",\"x\":1}}}}\n\n"
                ));
                v.push(format!(
                    "data: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"{ty}\",\"{key}\":\"{b}\"}},\"x\":1}}\n\n"
                ));
                v.push(format!(
                    "data: {{\"type\": \"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"{ty}\",\"{key}\":\"{b}\"}}}}\n\n"
                ));
            }
        }
        v
    }

    /// The whole-block shortcut equals the scanner plus the decoder on every
    /// block, and takes the exact layouts (LF or CRLF, with or without the
    /// event line, `data:` with or without its space).
    #[test]
    fn delta_block_agrees_with_the_scanner_and_the_decoder() {
        let mut taken = 0;
        for block in blocks() {
            let b = block.as_bytes();
            // Whatever follows the block in the read does not matter (a tail
            // may complete a block that lacked its blank line).
            for tail in [&b""[..], b"event: ping\n", b"\n", b"data: {}\n\n"] {
                let read = [b, tail].concat();
                let Some((n, ev)) = delta_block(&read) else {
                    continue;
                };
                let whole = &read[..n];
                assert!(
                    whole.ends_with(b"\n\n") || whole.ends_with(b"\r\n\r\n"),
                    "block {block:?}"
                );
                let fast: Vec<String> = ev.iter().map(|e| format!("{e:?}")).collect();
                assert_eq!(fast, scanned(whole), "block {block:?}");
                if tail.is_empty() {
                    assert_eq!(n, b.len(), "block {block:?}");
                    taken += 1;
                }
            }
        }
        // 3 delta kinds x 8 valid bodies (of `DELTA_BODIES`) x 4 digit-only
        // indexes x 5 framings (LF, no event line, CRLF, LF then CRLF,
        // `data:` without a space).
        assert_eq!(taken, 3 * 8 * 4 * 5, "fast block path taken {taken} times");
        let exact = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n";
        assert_eq!(
            delta_block(exact.as_bytes()),
            Some((
                exact.len(),
                Some(StreamEvent::Text {
                    choice: 0,
                    text: b"hi"
                })
            ))
        );
        // A block cut anywhere before its blank line is left to the scanner.
        for cut in 0..exact.len() {
            assert_eq!(delta_block(&exact.as_bytes()[..cut]), None, "cut {cut}");
        }
    }

    /// The text-delta run's block equals [`delta_block`] on every block it
    /// takes, and takes Anthropic's own text deltas (LF, event line, one
    /// digit index, non-empty valid text) and nothing else.
    #[test]
    fn text_block_agrees_with_delta_block() {
        let mut taken = 0;
        for block in blocks() {
            let b = block.as_bytes();
            for tail in [&b""[..], b"event: ping\n", b"\n", b"data: {}\n\n"] {
                let read = [b, tail].concat();
                let Some((n, from, len)) = text_block(&read) else {
                    continue;
                };
                let text = &from[..len];
                assert_eq!(
                    delta_block(&read),
                    Some((n, Some(StreamEvent::Text { choice: 0, text }))),
                    "block {block:?}"
                );
                if tail.is_empty() {
                    assert_eq!(n, b.len(), "block {block:?}");
                    taken += 1;
                }
            }
        }
        // 7 non-empty valid bodies x 2 one-digit indexes, Anthropic's framing.
        assert_eq!(taken, 7 * 2, "text block path taken {taken} times");
        let exact = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n";
        for cut in 0..exact.len() {
            assert_eq!(text_block(&exact.as_bytes()[..cut]), None, "cut {cut}");
        }
        let (n, from, len) = text_block(exact.as_bytes()).expect("taken");
        assert_eq!((n, &from[..len]), (exact.len(), &b"hi"[..]));
    }

    /// The `type`-first shortcut agrees with the general path on the exact
    /// layouts it takes and on near misses.
    #[test]
    fn type_first_agrees_with_the_general_path() {
        let taken = [
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_stop","index":"x","y":[1,{"z":2}]}"#,
            r#"{"type":"content_block_stop"}"#,
            r#"{"type":"message_stop"}"#,
            r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":1}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_start","index":12,"content_block":{"type":"text","text":""}}"#,
        ];
        let general = [
            r#"{"type": "content_block_stop","index":0}"#,
            r#"{"index":0,"type":"content_block_stop"}"#,
            r#"{"type":"content_block_stopx"}"#,
            r#"{"type":"message_stop_"}"#,
            r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":3}}}"#,
            r#"{"type":"pingx"}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"hi"}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"","x":1}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"t"}}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}"#,
            r#"{"type":"content_block_start","index":-1,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"text":"","type":"text"}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""},"x":1}"#,
            r#"{"type":"content_block_start","index":0, "content_block":{"type":"text","text":""}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}"#,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#,
            r#"{"type":"c"}"#,
            r#"{"type":""}"#,
        ];
        for d in taken {
            assert!(type_first(d.as_bytes()).is_some(), "not taken: {d}");
            assert_eq!(
                events(d.as_bytes(), false),
                events(d.as_bytes(), true),
                "{d}"
            );
        }
        for d in general {
            assert!(type_first(d.as_bytes()).is_none(), "taken: {d}");
            assert_eq!(
                events(d.as_bytes(), false),
                events(d.as_bytes(), true),
                "{d}"
            );
        }
    }

    /// The one-pass usage reader gives the lookups' counts wherever it
    /// takes the object whole, and declines everything outside its layout.
    #[test]
    fn usage_counts_agree_with_the_lookups() {
        let taken = [
            r#"{}"#,
            r#"{"output_tokens":40}"#,
            r#"{"input_tokens":12,"cache_creation_input_tokens":3,"cache_read_input_tokens":4,"output_tokens":1}"#,
            r#"{"output_tokens":0,"output_tokens":9,"server_tool_use":0,"input_tokens":9999999999999999999}"#,
            r#"{"x":1,"input_tokens":2}"#,
            r#"{"input_tokensx":5,"cache_read_input_tokens":7,"cache_creation_input_tokens":8,"output_tokens":9,"output_tokens_x":1,"i":2,"c":3,"o":4,"cache":6,"cache_creation":1}"#,
            r#"{"cache_creation_input_tokens":1,"cache_read_input_tokens":2,"cache_read_input_tokensx":3,"input":4,"output":5}"#,
            r#"{"output_tokens":1234567890123456789,"input_tokens":0}"#,
        ];
        let declined = [
            r#"{"output_tokens": 4}"#,
            r#"{ "output_tokens":4}"#,
            r#"{"output_tokens":04}"#,
            r#"{"output_tokens":-4}"#,
            r#"{"output_tokens":4.0}"#,
            r#"{"output_tokens":null}"#,
            r#"{"output_tokens":"4"}"#,
            r#"{"output_tokens":18446744073709551616}"#,
            r#"{"output_tokens":18446744073709551615}"#,
            r#"{"output\u005ftokens":4}"#,
            r#"{"output_tokens":4,}"#,
            r#"{"output_tokens":4"#,
            r#"{"input_tokens":1,"cache_creation":{"ephemeral_5m_input_tokens":0},"output_tokens":2}"#,
            r#"{"output_tokens"}"#,
            r#"[]"#,
            r#"{"input_tokens" :5}"#,
            r#"{"input_tokens":}"#,
            r#"{"input_tokens":12345678901234567890}"#,
            r#"{"cache_read_input_tokens":00}"#,
            r#"{"output_tokens":4x}"#,
            r#"{"output_tokens":4 }"#,
            r#"{"o"#,
            r#"{"output_tokens"#,
            r#"{"output_tokens":"#,
        ];
        for u in taken {
            let (counts, end) = usage_counts(u.as_bytes(), 0).expect(u);
            assert_eq!(end, u.len(), "{u}");
            assert_eq!(counts, usage_members(u.as_bytes()), "{u}");
        }
        for u in declined {
            assert!(
                usage_counts(u.as_bytes(), 0).is_none_or(|(_, end)| end != u.len()),
                "taken: {u}"
            );
        }
        let mut d = ClaudeDec::default();
        d.usage(br#"{"input_tokens":1,"cache_creation":{"ephemeral_5m_input_tokens":0},"output_tokens":2}"#);
        assert_eq!((d.input, d.output), (1, 2));
    }

    /// `message_delta` read in one pass gives the general path's events (the
    /// usage it stores shows in the stream's next `message_delta`), on
    /// Anthropic's layouts and near misses of every part of them.
    #[test]
    fn message_delta_agrees_with_the_general_path() {
        let decode = |data: &str, general: bool| {
            let mut d = ClaudeDec {
                input: 5,
                cache_read: 6,
                cache_create: 7,
                output: 8,
            };
            let mut got = Vec::new();
            let mut f = |ev: StreamEvent<'_>| got.push(format!("{ev:?}"));
            if general {
                if is_object(data.as_bytes()) {
                    d.decode_members(data.as_bytes(), &mut f);
                }
            } else {
                d.decode(None, data.as_bytes(), &mut f);
            }
            d.decode_members(br#"{"type":"message_delta","delta":{}}"#, &mut f);
            got
        };
        let taken = [
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":40}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":40}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"input_tokens":12,"cache_creation_input_tokens":3,"cache_read_input_tokens":4,"output_tokens":1}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":0,"output_tokens":9,"server_tool_use":0}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":null,"stop_sequence":null},"usage":{}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"re\u0066usal"},"usage":{"output_tokens":9999999999999999999}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"r\"x"},"usage":{"x":1}}"#,
        ];
        let general = [
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":40},"x":1}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":40} }"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens": 40}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":040}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":-4}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4.5}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":null}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":18446744073709551616}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output\u005ftokens":4}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4,}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens"}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":null}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":"x"},"usage":{"output_tokens":4}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_reason":"x"},"usage":{}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"bad \x"},"usage":{"output_tokens":4}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn},"usage":{"output_tokens":4}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":7},"usage":{"output_tokens":4}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":nul},"usage":{"output_tokens":4}}"#,
            r#"{"type":"message_delta","usage":{"output_tokens":4},"delta":{"stop_reason":"end_turn"}}"#,
            r#"{"delta":{"stop_reason":"end_turn"},"type":"message_delta","usage":{"output_tokens":4}}"#,
            r#"{"type":"message_delta", "delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#,
        ];
        for d in taken {
            assert!(message_delta(d.as_bytes()).is_some(), "not taken: {d}");
            assert_eq!(decode(d, false), decode(d, true), "{d}");
        }
        for d in general {
            assert!(message_delta(d.as_bytes()).is_none(), "taken: {d}");
            assert_eq!(decode(d, false), decode(d, true), "{d}");
        }
        assert_eq!(
            decode(taken[2], false),
            [
                "Usage(Usage { input: 19, output: 1, cached: 4, reasoning: 0 })",
                r#"Finish { choice: 0, reason: Length, native: [109, 97, 120, 95, 116, 111, 107, 101, 110, 115] }"#,
                "Usage(Usage { input: 19, output: 1, cached: 4, reasoning: 0 })",
            ]
        );
    }

    /// The one-pass `message_start` agrees with the general path (the id,
    /// and the usage it leaves for the next `message_delta`) on the layouts
    /// it takes and on near misses, malformed messages included.
    #[test]
    fn message_start_agrees_with_the_general_path() {
        let decode = |data: &str, general: bool| {
            let mut d = ClaudeDec::default();
            let mut got = Vec::new();
            let mut f = |ev: StreamEvent<'_>| got.push(format!("{ev:?}"));
            if general {
                d.decode_members(data.as_bytes(), &mut f);
            } else {
                d.decode(None, data.as_bytes(), &mut f);
            }
            d.decode(None, br#"{"type":"message_delta","delta":{}}"#, &mut f);
            got
        };
        let usage = r#"{"input_tokens":12,"cache_creation_input_tokens":3,"cache_read_input_tokens":4,"output_tokens":1}"#;
        let taken = [
            format!(
                r#"{{"type":"message_start","message":{{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,"usage":{usage}}}}}"#
            ),
            format!(
                r#"{{"type":"message_start","message":{{"model":"claude-x","id":"msg_\u00e9","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{usage}}}}}"#
            ),
            format!(
                r#"{{"type":"message_start","message": {{ "id" : "a" , "usage" : {usage} , "id":"b","usage":{{}} }}}}"#
            ),
            r#"{"type":"message_start","message":{"id":7,"usage":[1,2]}}"#.to_string(),
            r#"{"type":"message_start","message":{"id":"x","content":["a","b"],"n":-1.5e3}}"#
                .to_string(),
            r#"{"type":"message_start","message":{}}"#.to_string(),
            r#"{"type":"message_start","message":{"usage":{"input_tokens":"x"},"id":"bad \x"}}"#
                .to_string(),
            // Anthropic's own layout today: a nested object and a string in usage.
            r#"{"type":"message_start","message":{"model":"claude-sonnet-4-5","id":"msg_01X","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}"#
                .to_string(),
            // First occurrences: a null `usage` / `id` is the one taken.
            format!(r#"{{"type":"message_start","message":{{"usage":null,"id":null,"usage":{usage},"id":"b"}}}}"#),
            format!(r#"{{"type":"message_start","message":{{"id":[],"usage":[],"usage":{usage},"id":"b"}}}}"#),
            format!(r#"{{"type":"message_start","message":{{"a":null,"b":[],"usage":{usage},"c":null}}}}"#),
            format!(r#"{{"type":"message_start","message":{{"usage":{usage},"usage":{{"output_tokens":9}},"z":[]}}}}"#),
            format!(r#"{{"type":"message_start","message":{{"a":nullx,"b":[],"usage":{usage}}}}}"#),
            format!(r#"{{"type":"message_start","message":{{"a":null ,"b":[ ],"usage":{usage}}}}}"#),
            format!(r#"{{"type":"message_start","message":{{"usage":{{"output_tokens":01}},"usage":{usage}}}}}"#),
        ];
        let general = [
            format!(
                r#"{{"type":"message_start","message":{{"id":"m","content":[{{"type":"text"}}],"usage":{usage}}}}}"#
            ),
            format!(r#"{{"type":"message_start","message":{{"id":"m","usage":{usage}}},"x":1}}"#),
            format!(r#"{{"message":{{"id":"m","usage":{usage}}},"type":"message_start"}}"#),
            format!(r#"{{"type":"message_start", "message":{{"id":"m","usage":{usage}}}}}"#),
            format!(r#"{{"type":"message_start","message":{{"id":"m","usage":{usage}}} }}"#),
            r#"{"type":"message_start","message":{"a":[}],"id":"x"}}"#.to_string(),
            r#"{"type":"message_start","message":{"a":[{],"id":"x"}}"#.to_string(),
            r#"{"type":"message_start","message":{"a":x{,"id":"x"}}"#.to_string(),
            r#"{"type":"message_start","message":{"a":n"ull,"id":"x"}}"#.to_string(),
            r#"{"type":"message_start","message":{"id":"x","a":}}"#.to_string(),
            r#"{"type":"message_start","message":{"id":"x" "usage":{"output_tokens":2}}}"#
                .to_string(),
            r#"{"type":"message_start","message":{"id":"x",,"usage":{"output_tokens":2}}}"#
                .to_string(),
            r#"{"type":"message_start","message":"x"}"#.to_string(),
            r#"{"type":"message_start","message":{"id":"x"}"#.to_string(),
            r#"{"type":"message_start","message":{"a":null}"#.to_string(),
            r#"{"type":"message_start","message":{"a":[]}"#.to_string(),
            r#"{"type":"message_start","message":{"usage":{"output_tokens":2}}"#.to_string(),
            r#"{"type":"message_start","message":{"a":null]}}"#.to_string(),
            r#"{"type":"message_start","message":{"b":[]1,"id":"x"}}"#.to_string(),
            r#"{"type":"message_start","message":{"usage":{"output_tokens":2}]}}"#.to_string(),
        ];
        for d in &taken {
            assert!(message_start(d.as_bytes()).is_some(), "not taken: {d}");
            assert_eq!(decode(d, false), decode(d, true), "{d}");
        }
        // The member-by-member reading of Anthropic's layouts (the walk's
        // shortcut) on them and on near misses of each of its steps.
        let exact = [
            taken[0].clone(),
            taken[1].clone(),
            format!(
                r#"{{"type":"message_start","message":{{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,"stop_sequence":null,"usage":{usage}}}}}"#
            ),
            format!(
                r#"{{"type":"message_start","message":{{"usage":{usage},"type":"message","id":"a","id":"b","stop_reason":"x","content":[]}}}}"#
            ),
            r#"{"type":"message_start","message":{"type":"message","role":"assistant"}}"#
                .to_string(),
            r#"{"type":"message_start","message":{"id":"a","usage":{}}}"#.to_string(),
        ];
        let near = [
            format!(
                r#"{{"type":"message_start","message":{{"usage":"x","usage":{usage},"id":"a"}}}}"#
            ),
            format!(
                r#"{{"type":"message_start","message":{{"usage":null,"usage":{usage},"id":"a"}}}}"#
            ),
            format!(r#"{{"type":"message_start","message":{{"id":1,"id":"a","usage":{usage}}}}}"#),
            format!(
                r#"{{"type":"message_start","message":{{"usage":{usage},"usage":{{"output_tokens":9}},"id":"a"}}}}"#
            ),
            format!(
                r#"{{"type":"message_start","message":{{"type":"message",,"usage":{usage}}}}}"#
            ),
            format!(
                r#"{{"type":"message_start","message":{{"type":"message","usage":{usage},}}}}"#
            ),
            format!(r#"{{"type":"message_start","message":{{"content":[1],"usage":{usage}}}}}"#),
            format!(
                r#"{{"type":"message_start","message":{{"stop_reason":nullx,"usage":{usage}}}}}"#
            ),
            format!(
                r#"{{"type":"message_start","message":{{"stop_sequence":"
","usage":{usage}}}}}"#
            ),
            format!(
                r#"{{"type":"message_start","message":{{"id":"x","id":"a","usage":{usage}}}}}"#
            ),
            format!(r#"{{"type":"message_start","message":{{"id":"a" ,"usage":{usage}}}}}"#),
            format!(r#"{{"type":"message_start","message":{{"id" :"a","usage":{usage}}}}}"#),
            format!(
                r#"{{"type":"message_start","message":{{"x":{{}},"id":"a","usage":{usage}}}}}"#
            ),
            format!(
                r#"{{"type":"message_start","message":{{"x":true,"id":"a","usage":{usage}}}}}"#
            ),
            format!(r#"{{"type":"message_start","message":{{"id":"a","usage":{usage}}}"#),
            format!(r#"{{"type":"message_start","message":{{"id":"a","usage":{usage}}},"x":1}}"#),
            r#"{"type":"message_start","message":{"role":"assistant","usage":{"output_tokens":1,"x":{}},"id":"a"}}"#.to_string(),
        ];
        for d in &exact {
            assert!(
                message_exact(d.as_bytes(), 34).is_some(),
                "not read member by member: {d}"
            );
        }
        for d in exact.iter().chain(&near) {
            assert_eq!(decode(d, false), decode(d, true), "{d}");
        }
        for d in &general {
            assert_eq!(decode(d, false), decode(d, true), "{d}");
        }
        assert_eq!(
            decode(&taken[0], false),
            [
                r#"Start { id: [109, 115, 103, 95, 49] }"#,
                "Usage(Usage { input: 19, output: 1, cached: 4, reasoning: 0 })"
            ]
        );
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
