//! SSE scanning and stream translation throughput, each against a naive baseline in the
//! same group (so the ratio is visible).
//!
//! Inputs: generated long upstream streams (`testgen::long_stream`, 2,000 text deltas plus
//! reasoning and tool-argument deltas), fed in 4 KiB reads like a socket would deliver.

use cliproxy::sse::{Item, Scanner};
use cliproxy::translate::format::Format;
use cliproxy::translate::stream::testgen::{count_events, long_stream};
use cliproxy::translate::stream::{new_stream_translator, StreamCtx};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

const READ: usize = 4096;
const DELTAS: usize = 2000;

fn ctx() -> StreamCtx<'static> {
    StreamCtx {
        model: "client-model",
        created: 1_700_000_000,
        id_seed: 42,
    }
}

/// Naive SSE parse: decode to String, split lines, collect owned events.
fn naive_scan(input: &[u8]) -> Vec<(Option<String>, String)> {
    let text = String::from_utf8_lossy(input)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let mut out = Vec::new();
    let mut ev: Option<String> = None;
    let mut data: Vec<String> = Vec::new();
    for line in text.split('\n') {
        if line.is_empty() {
            if !data.is_empty() {
                out.push((ev.take(), data.join("\n")));
                data.clear();
            }
            ev = None;
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
        } else if let Some(v) = line.strip_prefix("event:") {
            ev = Some(v.trim_start().to_string());
        }
    }
    out
}

enum Naive {
    Text(String),
    Reasoning(String),
    Args(String),
    Other,
}

/// Naive decode with serde_json::Value.
fn naive_decode(from: Format, v: &Value) -> Naive {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let r = match from {
        Format::OpenAiChat => s("/choices/0/delta/content")
            .map(Naive::Text)
            .or_else(|| s("/choices/0/delta/reasoning_content").map(Naive::Reasoning))
            .or_else(|| s("/choices/0/delta/tool_calls/0/function/arguments").map(Naive::Args)),
        Format::Claude => s("/delta/text")
            .map(Naive::Text)
            .or_else(|| s("/delta/thinking").map(Naive::Reasoning))
            .or_else(|| s("/delta/partial_json").map(Naive::Args)),
        Format::Gemini => {
            let thought = v
                .pointer("/candidates/0/content/parts/0/thought")
                .and_then(Value::as_bool)
                == Some(true);
            s("/candidates/0/content/parts/0/text")
                .map(|t| {
                    if thought {
                        Naive::Reasoning(t)
                    } else {
                        Naive::Text(t)
                    }
                })
                .or_else(|| {
                    v.pointer("/candidates/0/content/parts/0/functionCall/args")
                        .map(|a| Naive::Args(a.to_string()))
                })
        }
        _ => match v["type"].as_str() {
            Some("response.output_text.delta") => s("/delta").map(Naive::Text),
            Some("response.reasoning_summary_text.delta") => s("/delta").map(Naive::Reasoning),
            Some("response.function_call_arguments.delta") => s("/delta").map(Naive::Args),
            _ => None,
        },
    };
    r.unwrap_or(Naive::Other)
}

/// Naive encode: build the target JSON as a Value and serialise it.
fn naive_encode(to: Format, n: &Naive, seq: &mut u64, out: &mut Vec<u8>) {
    let (kind, text) = match n {
        Naive::Text(t) => (0, t),
        Naive::Reasoning(t) => (1, t),
        Naive::Args(t) => (2, t),
        Naive::Other => return,
    };
    let (event, v) = match to {
        Format::OpenAiChat => {
            let delta = match kind {
                0 => json!({"content": text}),
                1 => json!({"reasoning_content": text}),
                _ => json!({"tool_calls": [{"index": 0, "function": {"arguments": text}}]}),
            };
            (
                None,
                json!({"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "client-model",
                "choices": [{"index": 0, "delta": delta, "finish_reason": null}]}),
            )
        }
        Format::Claude => {
            let delta = match kind {
                0 => json!({"type": "text_delta", "text": text}),
                1 => json!({"type": "thinking_delta", "thinking": text}),
                _ => json!({"type": "input_json_delta", "partial_json": text}),
            };
            (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 0, "delta": delta}),
            )
        }
        Format::Gemini => {
            let part = match kind {
                1 => json!({"text": text, "thought": true}),
                _ => json!({"text": text}),
            };
            (
                None,
                json!({"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}], "modelVersion": "client-model"}),
            )
        }
        _ => {
            *seq += 1;
            let ty = [
                "response.output_text.delta",
                "response.reasoning_summary_text.delta",
                "response.function_call_arguments.delta",
            ][kind];
            (
                Some(ty),
                json!({"type": ty, "sequence_number": *seq, "item_id": "msg_1", "output_index": 0, "delta": text}),
            )
        }
    };
    if let Some(e) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(e.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(serde_json::to_string(&v).unwrap().as_bytes());
    out.extend_from_slice(b"\n\n");
}

fn naive_translate(from: Format, to: Format, input: &[u8], out: &mut Vec<u8>) {
    let mut seq = 0;
    for (_, data) in naive_scan(input) {
        if let Ok(v) = serde_json::from_str::<Value>(&data) {
            naive_encode(to, &naive_decode(from, &v), &mut seq, out);
        }
    }
}

fn bench_scan(c: &mut Criterion) {
    let input = long_stream(Format::Claude, DELTAS);
    let mut g = c.benchmark_group("sse_scan");
    g.throughput(Throughput::Bytes(input.len() as u64));
    let mut scanner = Scanner::new();
    g.bench_function("scanner", |b| {
        b.iter(|| {
            scanner.reset();
            let mut n = 0usize;
            for chunk in input.chunks(READ) {
                let _ = scanner.feed(black_box(chunk), |i| {
                    if let Item::Event(e) = i {
                        n += e.data.len();
                    }
                });
            }
            let _ = scanner.finish(|_| {});
            n
        })
    });
    g.bench_function("naive_string_lines", |b| {
        b.iter(|| naive_scan(black_box(&input)).len())
    });
    g.finish();
}

fn bench_pairs(c: &mut Criterion) {
    let all = [
        (Format::OpenAiChat, "chat"),
        (Format::OpenAiResponses, "responses"),
        (Format::Claude, "claude"),
        (Format::Gemini, "gemini"),
    ];
    for (from, fname) in all {
        let input = long_stream(from, DELTAS);
        eprintln!(
            "{fname}: {} bytes, {} upstream events",
            input.len(),
            count_events(&input)
        );
        for (to, tname) in all {
            if from == to {
                continue;
            }
            let mut g = c.benchmark_group(format!("stream/{fname}->{tname}"));
            g.throughput(Throughput::Bytes(input.len() as u64));
            let mut t = new_stream_translator(from, to, ctx());
            let mut out = Vec::with_capacity(input.len() * 4);
            g.bench_function("translator", |b| {
                b.iter(|| {
                    t.reset(ctx());
                    out.clear();
                    for chunk in input.chunks(READ) {
                        t.feed(black_box(chunk), &mut out);
                    }
                    t.finish(&mut out);
                    out.len()
                })
            });
            let mut nout = Vec::with_capacity(input.len() * 4);
            g.bench_function("naive_serde_value", |b| {
                b.iter(|| {
                    nout.clear();
                    naive_translate(from, to, black_box(&input), &mut nout);
                    nout.len()
                })
            });
            g.finish();
        }
    }
}

criterion_group!(benches, bench_scan, bench_pairs);
criterion_main!(benches);
