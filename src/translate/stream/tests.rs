//! Randomised properties (a proptest-free mirror of the fuzz target): arbitrary bytes and
//! mutated fixtures, in arbitrary chunkings, into every pair never panic, produce valid SSE
//! with JSON data lines, and do not depend on the chunking.

use super::testgen::long_stream;
use super::*;
use crate::sse::test_rng::Rng;

const ALL: [Format; 6] = [
    Format::OpenAiChat,
    Format::OpenAiResponses,
    Format::Claude,
    Format::Gemini,
    Format::Codex,
    Format::GeminiCli,
];

fn ctx() -> StreamCtx<'static> {
    StreamCtx {
        model: "m\"odel\n",
        created: 1,
        id_seed: 7,
    }
}

fn run(from: Format, to: Format, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut t = new_stream_translator(from, to, ctx());
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        t.feed(&input[prev..c], &mut out);
        prev = c;
    }
    t.finish(&mut out);
    out
}

/// Validate framing and JSON; return (event, parsed data) pairs.
fn frames(out: &[u8]) -> Vec<(Option<String>, Option<serde_json::Value>)> {
    let text = std::str::from_utf8(out).expect("utf8");
    assert!(text.is_empty() || text.ends_with("\n\n"));
    let mut v = Vec::new();
    for block in text.split_terminator("\n\n") {
        if block.starts_with(": ") && !block.contains('\n') {
            v.push((None, None));
            continue;
        }
        let mut ev = None;
        let mut data = None;
        for line in block.split('\n') {
            if let Some(e) = line.strip_prefix("event: ") {
                assert!(ev.is_none() && data.is_none(), "{block:?}");
                ev = Some(e.to_string());
            } else if let Some(d) = line.strip_prefix("data: ") {
                assert!(data.is_none(), "{block:?}");
                data = Some(if d == "[DONE]" {
                    serde_json::Value::Null
                } else {
                    serde_json::from_str(d).unwrap_or_else(|e| panic!("bad JSON {d:?}: {e}"))
                });
            } else {
                panic!("bad line {line:?}");
            }
        }
        assert!(data.is_some(), "{block:?}");
        v.push((ev, data));
    }
    v
}

fn seeds() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for f in [
        Format::OpenAiChat,
        Format::OpenAiResponses,
        Format::Claude,
        Format::Gemini,
        Format::GeminiCli,
    ] {
        v.push(long_stream(f, 20));
    }
    v
}

#[test]
fn random_streams_into_every_pair_are_valid_and_split_independent() {
    let mut rng = Rng(0xfeed_beef);
    let seeds = seeds();
    let tokens: &[&[u8]] = &[
        b"data: ",
        b"event: ",
        b"\n",
        b"\n\n",
        b"\r\n",
        b"{",
        b"}",
        b"\"",
        b"\\",
        b"\\u00",
        b"[DONE]",
        b":",
        b"\"type\":\"content_block_delta\"",
        b"\"delta\":",
        b"\xff",
        b"\x00",
        b"[",
        b"]",
        b",",
        b"\"text\":\"x\"",
        b"\"choices\":[{",
        b"\"tool_calls\":[{\"index\":1,",
        b"\"functionCall\":{",
    ];
    for round in 0..600 {
        let mut input = seeds[rng.below(seeds.len())].clone();
        for _ in 0..rng.below(8) {
            let at = rng.below(input.len() + 1);
            match rng.below(3) {
                0 => {
                    let t = tokens[rng.below(tokens.len())];
                    input.splice(at..at, t.iter().copied());
                }
                1 => {
                    let end = (at + rng.below(40)).min(input.len());
                    input.drain(at..end);
                }
                _ => {
                    if at < input.len() {
                        input[at] = rng.next() as u8;
                    }
                }
            }
        }
        if round % 5 == 0 {
            input = (0..rng.below(300))
                .map(|_| tokens[rng.below(tokens.len())][0])
                .collect();
        }
        for from in ALL {
            for to in ALL {
                let whole = run(from, to, &input, &[]);
                let mut cuts: Vec<usize> = (0..rng.below(10))
                    .map(|_| rng.below(input.len() + 1))
                    .collect();
                cuts.sort_unstable();
                let split = run(from, to, &input, &cuts);
                let t = new_stream_translator(from, to, ctx());
                if t.is_passthrough() {
                    assert_eq!(split, input);
                    continue;
                }
                assert_eq!(
                    frames(&split),
                    frames(&whole),
                    "{from:?}->{to:?} round {round}"
                );
            }
        }
    }
}

#[test]
fn error_writes_client_shaped_event_and_stops_the_stream() {
    for to in ALL {
        for from in ALL {
            let mut t = new_stream_translator(from, to, ctx());
            let mut out = Vec::new();
            t.error(429, "slow \"down\"\n", &mut out);
            let before = out.len();
            if !t.is_passthrough() {
                t.feed(&long_stream(from, 3), &mut out);
                t.finish(&mut out);
                assert_eq!(
                    out.len(),
                    before,
                    "{from:?}->{to:?}: nothing after an error"
                );
            }
            let f = frames(&out[..before]);
            assert_eq!(f.len(), 1);
            let (ev, data) = &f[0];
            let data = data.as_ref().unwrap();
            match to {
                Format::OpenAiChat => {
                    assert_eq!(*ev, None);
                    assert_eq!(data["error"]["message"], "slow \"down\"\n");
                    assert_eq!(data["error"]["type"], "rate_limit_error");
                    assert!(!String::from_utf8_lossy(&out).contains("[DONE]"));
                }
                Format::Claude => {
                    assert_eq!(ev.as_deref(), Some("error"));
                    assert_eq!(data["type"], "error");
                    assert_eq!(data["error"]["type"], "rate_limit_error");
                }
                Format::OpenAiResponses | Format::Codex => {
                    assert_eq!(ev.as_deref(), Some("error"));
                    assert_eq!(data["type"], "error");
                    assert_eq!(data["code"], "rate_limit_exceeded");
                    assert_eq!(data["message"], "slow \"down\"\n");
                }
                Format::Gemini | Format::GeminiCli => {
                    assert_eq!(*ev, None, "Gemini streams carry data lines only");
                    assert_eq!(data["error"]["code"], 429);
                    assert_eq!(data["error"]["status"], "RESOURCE_EXHAUSTED");
                }
            }
        }
    }
}

#[test]
fn reset_reproduces_the_same_output() {
    for from in ALL {
        for to in ALL {
            let input = long_stream(from, 30);
            let mut t = new_stream_translator(from, to, ctx());
            let mut a = Vec::new();
            t.feed(&input, &mut a);
            t.finish(&mut a);
            t.reset(ctx());
            let mut b = Vec::new();
            t.feed(&input, &mut b);
            t.finish(&mut b);
            assert_eq!(a, b, "{from:?}->{to:?}");
        }
    }
}

/// A translator reused across streams (the relay keeps one per core) writes
/// what a fresh one writes when the model, `created` or both change between
/// streams, or stay: what an encoder keeps from the previous stream (the
/// escaped model, the chat chunk tail) never leaks into the next.
#[test]
fn reuse_across_models_and_seconds_equals_a_fresh_translator() {
    let ctxs = [
        ("m\"odel\n", 1),
        ("m\"odel\n", 1),
        ("claude40", 1),
        ("claude40", 1_700_000_000),
        ("claude40", 1_700_000_000),
        ("claude41", 1_700_000_000),
        ("", 1_700_000_000),
        ("", 0),
        ("m\"odel\n", 0),
    ];
    for from in ALL {
        for to in ALL {
            let input = long_stream(from, 5);
            let mut t = new_stream_translator(from, to, ctx());
            for (n, &(model, created)) in ctxs.iter().enumerate() {
                let c = StreamCtx {
                    model,
                    created,
                    id_seed: 7 + n as u64,
                };
                t.reset(c);
                let mut reused = Vec::new();
                t.feed(&input, &mut reused);
                t.finish(&mut reused);
                let mut fresh = Vec::new();
                let mut f = new_stream_translator(from, to, c);
                f.feed(&input, &mut fresh);
                f.finish(&mut fresh);
                assert_eq!(
                    String::from_utf8_lossy(&reused),
                    String::from_utf8_lossy(&fresh),
                    "{from:?}->{to:?} stream {n}"
                );
            }
        }
    }
}

#[test]
fn tool_call_tables_are_bounded() {
    // A hostile upstream opening many thousands of calls: the output stays valid and the
    // number of calls reaching the client is capped.
    let mut input = Vec::new();
    for i in 0..(encode::MAX_TOOL_CALLS + 50) {
        input.extend_from_slice(format!("event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":{i},\"content_block\":{{\"type\":\"tool_use\",\"id\":\"t{i}\",\"name\":\"f\",\"input\":{{}}}}}}\n\n").as_bytes());
    }
    for to in [Format::OpenAiChat, Format::OpenAiResponses, Format::Gemini] {
        let out = run(Format::Claude, to, &input, &[]);
        frames(&out);
        let text = String::from_utf8(out).unwrap();
        let starts = match to {
            Format::OpenAiChat => text.matches("\"type\":\"function\"").count(),
            Format::OpenAiResponses => text
                .matches("\"type\":\"response.output_item.added\"")
                .count(),
            _ => text.matches("\"functionCall\"").count(),
        };
        // Responses is bounded by its (larger) item cap instead.
        let want = if to == Format::OpenAiResponses {
            (encode::MAX_TOOL_CALLS + 50).min(encode::MAX_OUTPUT_ITEMS)
        } else {
            encode::MAX_TOOL_CALLS
        };
        assert_eq!(starts, want, "{to:?}");
    }
}

/// `response.failed` / `error` events are remembered (status + an OpenAI-shaped body for
/// classification) whatever the client format, passthrough included, and however the
/// upstream bytes were split; a `response.incomplete` end is not an error.
#[test]
fn upstream_error_is_seen_whole_and_split() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stream/openai_responses/"
    );
    let cases: [(&str, Option<(u16, &str)>); 4] = [
        ("failed.sse", Some((500, "server_error"))),
        ("error_event.sse", Some((429, "rate_limit_exceeded"))),
        ("incomplete.sse", None),
        ("text.sse", None),
    ];
    for (file, want) in cases {
        let input = std::fs::read(format!("{dir}{file}")).unwrap();
        for to in ALL {
            for cut in 0..=input.len() {
                let mut t = new_stream_translator(Format::Codex, to, ctx());
                let mut out = Vec::new();
                t.feed(&input[..cut], &mut out);
                t.feed(&input[cut..], &mut out);
                t.finish(&mut out);
                let got = t.upstream_error().map(|(s, b)| {
                    let v: serde_json::Value = serde_json::from_slice(b).unwrap();
                    (s, v["error"]["code"].as_str().unwrap_or("").to_string())
                });
                assert_eq!(
                    got,
                    want.map(|(s, c)| (s, c.to_string())),
                    "{file} -> {to:?} cut {cut}"
                );
                if to == Format::Codex || to == Format::OpenAiResponses {
                    assert_eq!(out, input, "passthrough stays byte for byte");
                }
                // A reused translator starts clean.
                t.reset(ctx());
                assert!(t.upstream_error().is_none());
            }
        }
    }
}

#[test]
fn responses_error_codes_map_to_statuses() {
    use super::decode::status_for_code;
    for (code, want) in [
        ("rate_limit_exceeded", Some(429)),
        ("insufficient_quota", Some(429)),
        ("usage_limit_reached", Some(429)),
        ("server_is_overloaded", Some(503)),
        ("context_length_exceeded", Some(400)),
        ("invalid_prompt", Some(400)),
        ("invalid_api_key", Some(401)),
        ("server_error", Some(500)),
        ("", None),
        ("something_new", None),
    ] {
        assert_eq!(status_for_code(code.as_bytes()), want, "{code}");
    }
}

/// Stream error events and non-stream error bodies name the same error for every status:
/// both read the one table in `translate::error` (they used to disagree on Claude 503 and
/// Gemini 504).
#[test]
fn stream_error_events_agree_with_error_bodies() {
    let statuses = [
        400, 401, 402, 403, 404, 409, 413, 422, 429, 499, 500, 501, 502, 503, 504, 529,
    ];
    for to in [Format::OpenAiChat, Format::Claude, Format::Gemini] {
        for status in statuses {
            let mut enc = encode::Encoder::new(to, &ctx());
            let mut out = Vec::new();
            enc.event(
                StreamEvent::Error {
                    status,
                    kind: b"",
                    message: b"m",
                },
                &mut out,
            );
            let streamed = frames(&out)
                .into_iter()
                .find_map(|(_, d)| d.filter(|d| !d.is_null()))
                .unwrap_or_else(|| panic!("{to:?} {status}: no error frame"));
            let mut body = Vec::new();
            crate::translate::error::error_body(to, status, "m", &mut body);
            let body: serde_json::Value = serde_json::from_slice(&body).expect("error body JSON");
            let key = match to {
                Format::Claude => "/error/type",
                Format::Gemini => "/error/status",
                _ => "/error/type",
            };
            assert_eq!(
                streamed.pointer(key),
                body.pointer(key),
                "{to:?} {status}: stream {streamed} vs body {body}"
            );
            assert!(body.pointer(key).is_some_and(|v| v.is_string()), "{body}");
        }
    }
}

/// The oracle for a Cloud Code Assist stream relayed to a Gemini client:
/// every event's data parsed, its `response` member kept.
fn unwrap_oracle(input: &[u8]) -> Vec<serde_json::Value> {
    let text = String::from_utf8_lossy(input);
    text.split("\n\n")
        .filter_map(|ev| ev.strip_prefix("data: "))
        .map(|d| {
            let v: serde_json::Value = serde_json::from_str(d).expect("fixture JSON");
            v["response"].clone()
        })
        .collect()
}

/// Gemini CLI (Cloud Code Assist) streams: a Gemini client gets each
/// event's `response` member as its own `data:` line, byte for byte (no
/// re-encoding), whole and split at every byte; clients of other formats
/// get exactly what the plain Gemini stream would give them.
#[test]
fn gemini_cli_streams_unwrap_whole_and_split_at_every_byte() {
    use super::testgen::gemini_cli_event;
    let plain = long_stream(Format::Gemini, 3);
    let wrapped = long_stream(Format::GeminiCli, 3);
    let want = unwrap_oracle(&wrapped);
    assert!(want.len() > 3);
    let whole = run(Format::GeminiCli, Format::Gemini, &wrapped, &[]);
    // Bytes as sent: the unwrapped stream is the plain one.
    assert_eq!(whole, plain);
    for cut in 0..=wrapped.len() {
        let got = run(Format::GeminiCli, Format::Gemini, &wrapped, &[cut]);
        let data: Vec<_> = frames(&got).into_iter().filter_map(|(_, d)| d).collect();
        assert_eq!(data, want, "cut {cut}");
    }
    let every: Vec<usize> = (1..wrapped.len()).collect();
    assert_eq!(
        run(Format::GeminiCli, Format::Gemini, &wrapped, &every),
        whole
    );
    for to in [
        Format::OpenAiChat,
        Format::OpenAiResponses,
        Format::Claude,
        Format::Codex,
    ] {
        let want = run(Format::Gemini, to, &plain, &[]);
        assert_eq!(run(Format::GeminiCli, to, &wrapped, &[]), want, "{to:?}");
        for cut in 0..=wrapped.len() {
            let got = run(Format::GeminiCli, to, &wrapped, &[cut]);
            assert_eq!(frames(&got), frames(&want), "{to:?} cut {cut}");
        }
    }
    // Pretty-printed data and comments: one data line per event, no comments.
    let odd = format!(
        ": ping\n\n{}data: {{\ndata: \"response\": {{\"candidates\":[]}}}}\n\ndata: {{\"response\":{{\"bad\"\n\n",
        gemini_cli_event("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}")
    );
    let out = run(Format::GeminiCli, Format::Gemini, odd.as_bytes(), &[]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\ndata: {\"candidates\":[]}\n\n"
    );
}

/// Claude streams whose deltas take the whole-block shortcut (reads holding
/// whole events) translate to the same bytes as when every event is scanned
/// line by line (one-byte reads never hold a whole block), into every client
/// format; the streams mix exact layouts with near misses.
#[test]
fn claude_whole_block_shortcut_equals_the_line_by_line_path() {
    let delta = |index: &str, ty: &str, key: &str, body: &str| {
        format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{{\"type\":\"{ty}\",\"{key}\":\"{body}\"}}}}\n\n")
    };
    let mut variants = vec![long_stream(Format::Claude, 40)];
    let mut s = String::from_utf8(long_stream(Format::Claude, 3)).unwrap();
    for body in [
        "plain",
        "",
        r#"esc \"q\" \\ \u00e9"#,
        "非ASCII ü",
        r#"bad \x"#,
        "dangling \\",
    ] {
        s += &delta("1", "text_delta", "text", body);
        s += &delta("0", "thinking_delta", "thinking", body);
        s += &delta("2", "input_json_delta", "partial_json", body);
        s += &delta("7", "input_json_delta", "partial_json", body);
        s += &delta("1", "signature_delta", "signature", body);
    }
    s += &delta("1", "text_delta", "text", "crlf").replace('\n', "\r\n");
    s += &delta("1", "text_delta", "text", "no space").replace("data: ", "data:");
    s += &delta("1", "text_delta", "text", "no event line")
        .replace("event: content_block_delta\n", "");
    s += "data: {\"index\":1,\"type\":\"content_block_delta\",\"delta\":{\"text\":\"order\",\"type\":\"text_delta\"}}\n\n";
    s += "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"extra\",\"x\":1}}\n\n";
    s += "id: 9\n";
    s += &delta("1", "text_delta", "text", "after an id line");
    // Deltas under other event names (the data's type decides).
    s += &delta("1", "text_delta", "text", "named ping")
        .replace("event: content_block_delta", "event: ping");
    s += &delta("1", "text_delta", "text", "named like a delta")
        .replace("event: content_block_delta", "event: content_block_dxlta");
    // Other events in near misses of the common framing.
    s += "event: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\n";
    s += ": comment\n\n";
    s += "event: content_block_stop\ndata:{\"type\":\"content_block_stop\",\"index\":1}\n\n";
    s += "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    s += &delta(
        "3",
        "text_delta",
        "text",
        "after a start without event line",
    );
    s +=
        "event: content_block_stop\nid: 2\ndata: {\"type\":\"content_block_stop\",\"index\":3}\n\n";
    s += "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\n";
    s += "data: \"usage\":{\"output_tokens\":7}}\n\n";
    variants.push(s.into_bytes());
    // Text deltas of every length around the 16-byte window copy of a Chat
    // text chunk, the last one at the very end of the read (fewer than 16
    // bytes follow its first byte).
    let mut s = String::from("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_w\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"stop_reason\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n");
    for len in 1..=40 {
        let text: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        s += &delta("0", "text_delta", "text", &text);
    }
    s += &delta("0", "text_delta", "text", r#"\u00e9\"x"#);
    s += &delta("0", "text_delta", "text", "end");
    let windows = s.into_bytes();
    // Split in two at every byte: a run of deltas may start anywhere.
    for to in [Format::OpenAiChat, Format::OpenAiResponses] {
        let whole = run(Format::Claude, to, &windows, &[]);
        for cut in 0..=windows.len() {
            assert_eq!(
                run(Format::Claude, to, &windows, &[cut]),
                whole,
                "Claude->{to:?} cut {cut}"
            );
        }
    }
    variants.push(windows);
    for input in &variants {
        let every: Vec<usize> = (1..input.len()).collect();
        for to in ALL {
            let whole = run(Format::Claude, to, input, &[]);
            if !new_stream_translator(Format::Claude, to, ctx()).is_passthrough() {
                frames(&whole);
            }
            assert_eq!(
                String::from_utf8_lossy(&whole),
                String::from_utf8_lossy(&run(Format::Claude, to, input, &every)),
                "Claude->{to:?}"
            );
        }
    }
}
