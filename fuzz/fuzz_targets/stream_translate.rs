//! Stream translation: arbitrary bytes in arbitrary chunking into every format pair never
//! panic; translated output is valid SSE whose data lines are JSON (or `[DONE]`), and does
//! not depend on the chunking; passthrough is byte for byte.
#![no_main]

use cliproxy::translate::format::Format;
use cliproxy::translate::stream::{new_stream_translator, StreamCtx};
use libfuzzer_sys::fuzz_target;

const ALL: [Format; 6] = [Format::OpenAiChat, Format::OpenAiResponses, Format::Claude, Format::Gemini, Format::Codex, Format::GeminiCli];

fn run(from: Format, to: Format, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let ctx = StreamCtx { model: "m", created: 1, id_seed: 2 };
    let mut t = new_stream_translator(from, to, ctx);
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        t.feed(&input[prev..c], &mut out);
        prev = c;
    }
    t.finish(&mut out);
    out
}

fn frames(out: &[u8]) -> Vec<(Option<String>, Option<serde_json::Value>)> {
    let text = std::str::from_utf8(out).expect("utf8 output");
    assert!(text.is_empty() || text.ends_with("\n\n"));
    let mut v = Vec::new();
    for block in text.split_terminator("\n\n") {
        if block.starts_with(": ") && !block.contains('\n') {
            v.push((None, None));
            continue;
        }
        let mut lines = block.split('\n');
        let mut first = lines.next().expect("line");
        let mut ev = None;
        if let Some(e) = first.strip_prefix("event: ") {
            ev = Some(e.to_string());
            first = lines.next().expect("data line");
        }
        assert!(lines.next().is_none(), "one data line per frame");
        let d = first.strip_prefix("data: ").expect("data: prefix");
        let data = if d == "[DONE]" { None } else { Some(serde_json::from_str(d).expect("JSON data")) };
        v.push((ev, data));
    }
    v
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    let from = ALL[input[0] as usize % ALL.len()];
    let body = &input[3..];
    let mut cuts = vec![input[1] as usize % (body.len() + 1), input[2] as usize % (body.len() + 1)];
    cuts.sort_unstable();
    for to in ALL {
        let whole = run(from, to, body, &[]);
        let split = run(from, to, body, &cuts);
        if new_stream_translator(from, to, StreamCtx { model: "m", created: 1, id_seed: 2 }).is_passthrough() {
            assert_eq!(split, body);
            continue;
        }
        assert_eq!(frames(&split), frames(&whole));
    }
});
