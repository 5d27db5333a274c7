//! Shared helpers for the translation tests (streams and requests) that
//! call the library directly.
#![allow(dead_code)]

use cliproxy::translate::format::Format;
use cliproxy::translate::request::{translate_request, ReqOpts};
use cliproxy::translate::stream::{new_stream_translator, StreamCtx, StreamTranslator};
use std::path::{Path, PathBuf};

pub const FORMATS: [(Format, &str); 4] = [
    (Format::OpenAiChat, "openai_chat"),
    (Format::OpenAiResponses, "openai_responses"),
    (Format::Claude, "claude"),
    (Format::Gemini, "gemini"),
];

pub fn ctx() -> StreamCtx<'static> {
    StreamCtx {
        model: "client-model",
        created: 1_700_000_000,
        id_seed: 0x00c0_ffee,
    }
}

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stream")
}

/// The upstream fixture `case` of format `from` (one of [`FORMATS`]).
pub fn fixture_of(from: Format, case: &str) -> Vec<u8> {
    let (_, dir) = FORMATS
        .iter()
        .find(|(f, _)| *f == from)
        .unwrap_or_else(|| panic!("no fixture folder for {from:?}"));
    let p = fixture_dir().join(dir).join(format!("{case}.sse"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The fixture `case` of format `from` translated to `to`, fed whole.
pub fn translate_fixture(from: Format, to: Format, case: &str) -> Vec<u8> {
    translate(from, to, &fixture_of(from, case), &[])
}

/// All `(format, name, case, bytes)` upstream fixtures.
pub fn fixtures() -> Vec<(Format, &'static str, String, Vec<u8>)> {
    let mut v = Vec::new();
    for (f, name) in FORMATS {
        let dir = fixture_dir().join(name);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.extension().and_then(|e| e.to_str()) == Some("sse") {
                let case = p.file_stem().unwrap().to_str().unwrap().to_string();
                v.push((f, name, case, std::fs::read(&p).unwrap()));
            }
        }
    }
    v
}

/// Translate `input` fed in pieces split at `cuts`, then finish.
pub fn translate(from: Format, to: Format, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    feed_split(new_stream_translator(from, to, ctx()), input, cuts)
}

/// Feed `input` to `t` in pieces split at `cuts`, then finish; the output.
pub fn feed_split(mut t: StreamTranslator, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        t.feed(&input[prev..c], &mut out);
        prev = c;
    }
    t.finish(&mut out);
    out
}

/// `translate_request` of `body` parsed as JSON; an error or output that is
/// not JSON fails the test, naming the pair and the body.
pub fn request_json(from: Format, to: Format, body: &[u8], opts: &ReqOpts) -> serde_json::Value {
    let mut out = Vec::new();
    let shown = || String::from_utf8_lossy(body).into_owned();
    translate_request(from, to, body, opts, &mut out)
        .unwrap_or_else(|e| panic!("{from:?} -> {to:?} {}: {e}", shown()));
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{from:?} -> {to:?} {}: not JSON: {e}", shown()))
}

#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Json(serde_json::Value),
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Event(Option<String>, Data),
    Comment(String),
}

/// Strict naive parser for what our encoders write: LF line ends, frames closed by a blank
/// line, at most one `event:` line then exactly one `data:` line whose payload is JSON or
/// `[DONE]`; or a `: comment` line. Panics (failing the test) on anything else.
pub fn parse_output(out: &[u8]) -> Vec<Frame> {
    let text = std::str::from_utf8(out).expect("output is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "output ends mid-frame: {text:?}"
    );
    let mut frames = Vec::new();
    for block in text.split_terminator("\n\n") {
        let lines: Vec<&str> = block.split('\n').collect();
        assert!(!block.contains('\r'), "CR in output");
        if lines.len() == 1 && lines[0].starts_with(':') {
            frames.push(Frame::Comment(lines[0][1..].trim().to_string()));
            continue;
        }
        let (event, data_line) = match lines.as_slice() {
            [d] => (None, *d),
            [e, d] => {
                let ev = e
                    .strip_prefix("event: ")
                    .unwrap_or_else(|| panic!("bad event line {e:?}"));
                (Some(ev.to_string()), *d)
            }
            _ => panic!("bad frame {block:?}"),
        };
        let payload = data_line
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("bad data line {data_line:?}"));
        let data = if payload == "[DONE]" {
            Data::Done
        } else {
            Data::Json(
                serde_json::from_str(payload)
                    .unwrap_or_else(|e| panic!("invalid JSON {payload:?}: {e}")),
            )
        };
        frames.push(Frame::Event(event, data));
    }
    frames
}
