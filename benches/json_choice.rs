//! Decides two chosen-but-unused dependencies by measurement (issue 14):
//!
//! (a) `simd-json` (tape and borrowed-value APIs) against the crate's own
//!     readers on the same inputs: the whole-body parse behind request
//!     translation (`json::tree`, 2.4 MB OpenAI Chat agent conversation, the
//!     same generator as `translate_request.rs`), the field access of routing
//!     (`json::request_fields`, `json::span`), a non-stream response, and
//!     payload rules (span edits vs simd-json parse → edit → serialise).
//!     simd-json parses in place, so each of its iterations gets a fresh copy
//!     of the input made outside the timed section (`iter_batched_ref`): the
//!     comparison is generous to it.
//! (b) `bumpalo` arena against the current per-core `Vec<u8>` reuse for the
//!     per-request scratch of building an upstream request (head lines,
//!     header list, model strings) plus the translated body, and a fresh
//!     allocation baseline.
//!
//! Run: `cargo bench --bench json_choice -- --measurement-time 3 --warm-up-time 1`
//! (figures recorded in docs/architecture.md, "No bumpalo arenas" / "No simd-json").

use std::fmt::Write as _;
use std::io::Write;

use cliproxy::json::{request_fields, span, tree};
use cliproxy::payload::{PayloadCtx, PayloadRules};
use cliproxy::translate::format::Format;
use cliproxy::translate::request::{translate_request, ReqOpts};
use cliproxy::translate::response::{translate_response, RespCtx};
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use serde_json::json;
use simd_json::prelude::*;

#[path = "common/big_chat.rs"]
mod big_chat;
use big_chat::{big_chat, Rng};

/// A non-stream Claude answer of a few KB: thinking, text, two tool calls.
fn claude_answer() -> Vec<u8> {
    let mut r = Rng(11);
    serde_json::to_vec(&json!({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4",
        "content":[
            {"type":"thinking","thinking":r.words(200),"signature":"EqQBCkYIBRgCIkB".repeat(20)},
            {"type":"text","text":r.words(600)},
            {"type":"tool_use","id":"toolu_1","name":"read_file","input":{"path":"src/main.rs","limit":200}},
            {"type":"tool_use","id":"toolu_2","name":"grep","input":{"pattern":"fn main","paths":["src","tests"]}}],
        "stop_reason":"tool_use","stop_sequence":null,
        "usage":{"input_tokens":5120,"output_tokens":812,"cache_read_input_tokens":4096}}))
    .expect("serialise")
}

fn count_tree(n: &tree::Node<'_>) -> usize {
    n.arr().len() + n.obj().len()
}

fn bench_parse(c: &mut Criterion) {
    let body = big_chat(7);
    let mut g = c.benchmark_group("simd_json/request_2.4MB");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("cliproxy_tree_parse", |b| {
        b.iter(|| {
            let root = tree::parse(black_box(&body)).expect("json");
            black_box(root.at("messages").arr().len() + count_tree(&root))
        })
    });
    g.bench_function("simd_json_tape", |b| {
        b.iter_batched_ref(
            || body.clone(),
            |buf| {
                let tape = simd_json::to_tape(buf).expect("json");
                black_box(tape.0.len())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("simd_json_borrowed_value", |b| {
        b.iter_batched_ref(
            || body.clone(),
            |buf| {
                let v = simd_json::to_borrowed_value(buf).expect("json");
                black_box(
                    v.get("messages")
                        .and_then(|m| m.as_array())
                        .map(|a| a.len()),
                )
            },
            BatchSize::LargeInput,
        )
    });
    // The whole translation for scale: the parse is this part of it.
    let mut out = Vec::with_capacity(body.len() * 2);
    let opts = ReqOpts {
        upstream_model: "claude-sonnet-4",
        stream: true,
        claude_default_max_tokens: None,
    };
    g.bench_function("cliproxy_translate_openai_to_claude", |b| {
        b.iter(|| {
            out.clear();
            translate_request(
                Format::OpenAiChat,
                Format::Claude,
                black_box(&body),
                &opts,
                &mut out,
            )
            .expect("translate");
            black_box(out.len())
        })
    });
    g.finish();

    // Field access of routing: `model` and `stream` of the same body.
    let mut g = c.benchmark_group("simd_json/fields_2.4MB");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("cliproxy_request_fields", |b| {
        b.iter(|| black_box(request_fields(black_box(&body)).expect("json").stream))
    });
    g.bench_function("cliproxy_span_get_many", |b| {
        b.iter(|| black_box(span::get_many(black_box(&body), [b"model", b"stream"])[1].is_some()))
    });
    g.bench_function("simd_json_borrowed_value", |b| {
        b.iter_batched_ref(
            || body.clone(),
            |buf| {
                let v = simd_json::to_borrowed_value(buf).expect("json");
                black_box((
                    v.get("model").and_then(|m| m.as_str()).map(str::len),
                    v.get("stream").and_then(|s| s.as_bool()),
                ))
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn bench_response(c: &mut Criterion) {
    let body = claude_answer();
    let mut g = c.benchmark_group("simd_json/claude_response");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("cliproxy_tree_parse", |b| {
        b.iter(|| black_box(count_tree(&tree::parse(black_box(&body)).expect("json"))))
    });
    g.bench_function("simd_json_tape", |b| {
        b.iter_batched_ref(
            || body.clone(),
            |buf| black_box(simd_json::to_tape(buf).expect("json").0.len()),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("simd_json_borrowed_value", |b| {
        b.iter_batched_ref(
            || body.clone(),
            |buf| {
                let v = simd_json::to_borrowed_value(buf).expect("json");
                black_box(v.get("content").and_then(|c| c.as_array()).map(|a| a.len()))
            },
            BatchSize::SmallInput,
        )
    });
    let ctx = RespCtx {
        client_model: "gpt-bench",
        created: 1,
    };
    let mut out = Vec::with_capacity(body.len() * 2);
    g.bench_function("cliproxy_translate_claude_to_openai", |b| {
        b.iter(|| {
            out.clear();
            translate_response(
                Format::Claude,
                Format::OpenAiChat,
                black_box(&body),
                &ctx,
                &mut out,
            )
            .expect("translate");
            black_box(out.len())
        })
    });
    g.finish();
}

const RULES: &str = r#"
payload:
  override:
    - models: [{name: "gpt-*", protocol: codex}]
      params:
        "reasoning.effort": high
        "service_tier": priority
  filter:
    - models: [{name: "gpt-*"}]
      params: ["temperature"]
"#;

fn bench_payload(c: &mut Criterion) {
    let (raw, _) = cliproxy::config::parse_raw(RULES).expect("config");
    let (rules, _) = PayloadRules::compile(&raw.payload);
    let body = big_chat(7);
    let ctx = PayloadCtx {
        upstream_model: "gpt-5",
        requested_model: "gpt-5",
        protocol: "codex",
        from_protocol: "openai",
        ..PayloadCtx::default()
    };
    let mut g = c.benchmark_group("simd_json/payload_rules_2.4MB");
    g.throughput(Throughput::Bytes(body.len() as u64));
    let mut buf = Vec::with_capacity(body.len() + 4096);
    g.bench_function("cliproxy_span_edits", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&body));
            black_box(rules.apply(&ctx, &body, &mut buf))
        })
    });
    let mut out = Vec::with_capacity(body.len() + 4096);
    g.bench_function("simd_json_parse_edit_serialise", |b| {
        b.iter_batched_ref(
            || body.clone(),
            |input| {
                let mut v = simd_json::to_borrowed_value(input).expect("json");
                if let Some(o) = v.as_object_mut() {
                    o.remove("temperature");
                    o.insert("service_tier".into(), "priority".into());
                    let mut r = simd_json::borrowed::Object::new();
                    r.insert("effort".into(), "high".into());
                    o.insert("reasoning".into(), simd_json::BorrowedValue::from(r));
                }
                out.clear();
                v.write(&mut out).expect("serialise");
                black_box(out.len())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// (b) Per-request scratch: build the upstream request of a small chat (request
/// line, headers, translated body) the way the pipeline does, three ways.
fn bench_scratch(c: &mut Criterion) {
    let chat = serde_json::to_vec(&json!({"model":"gpt-4.1","messages":[
        {"role":"system","content":"You are a helpful assistant."},
        {"role":"user","content":"What is the capital of France?"},
        {"role":"assistant","content":"Paris."},
        {"role":"user","content":"And of Italy?"}],"max_tokens":256,"stream":true}))
    .expect("serialise");
    let opts = ReqOpts {
        upstream_model: "claude-sonnet-4",
        stream: true,
        claude_default_max_tokens: None,
    };
    let headers: [(&str, &str); 7] = [
        ("host", "api.anthropic.com"),
        ("x-api-key", "sk-ant-0123456789abcdef"),
        ("anthropic-version", "2023-06-01"),
        (
            "anthropic-beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14",
        ),
        ("content-type", "application/json"),
        ("accept", "text/event-stream"),
        ("user-agent", "claude-cli/1.0.83 (external, cli)"),
    ];
    let mut g = c.benchmark_group("bumpalo/request_scratch");
    g.throughput(Throughput::Bytes(chat.len() as u64));

    // Current design: per-core buffers cleared and reused.
    let mut body = Vec::with_capacity(4096);
    let mut head = Vec::with_capacity(1024);
    let mut list: Vec<(&str, &str)> = Vec::with_capacity(16);
    g.bench_function(BenchmarkId::new("vec_reuse", "small_chat"), |b| {
        b.iter(|| {
            body.clear();
            head.clear();
            list.clear();
            translate_request(
                Format::OpenAiChat,
                Format::Claude,
                black_box(&chat),
                &opts,
                &mut body,
            )
            .expect("translate");
            list.extend_from_slice(&headers);
            let _ = write!(head, "POST /v1/messages?beta=true HTTP/1.1\r\n");
            for (k, v) in &list {
                let _ = write!(head, "{k}: {v}\r\n");
            }
            let _ = write!(head, "content-length: {}\r\n\r\n", body.len());
            black_box(head.len() + body.len())
        })
    });

    // bumpalo: one arena per core, reset per request; everything in it.
    let mut bump = bumpalo::Bump::with_capacity(16 * 1024);
    g.bench_function(BenchmarkId::new("bumpalo_reset", "small_chat"), |b| {
        b.iter(|| {
            bump.reset();
            // The translators write a `&mut Vec<u8>` (the reused one, as above);
            // putting their output in arena memory would change every
            // translator's signature, so the arena holds the rest.
            body.clear();
            translate_request(
                Format::OpenAiChat,
                Format::Claude,
                black_box(&chat),
                &opts,
                &mut body,
            )
            .expect("translate");
            let mut alist = bumpalo::collections::Vec::with_capacity_in(16, &bump);
            alist.extend_from_slice(&headers);
            let mut ahead = bumpalo::collections::String::with_capacity_in(1024, &bump);
            let _ = write!(ahead, "POST /v1/messages?beta=true HTTP/1.1\r\n");
            for (k, v) in &alist {
                let _ = write!(ahead, "{k}: {v}\r\n");
            }
            let _ = write!(ahead, "content-length: {}\r\n\r\n", body.len());
            black_box(ahead.len() + body.len())
        })
    });

    // Baseline: fresh allocations every request.
    g.bench_function(BenchmarkId::new("fresh_alloc", "small_chat"), |b| {
        b.iter(|| {
            let mut body = Vec::new();
            translate_request(
                Format::OpenAiChat,
                Format::Claude,
                black_box(&chat),
                &opts,
                &mut body,
            )
            .expect("translate");
            let list: Vec<(&str, &str)> = headers.to_vec();
            let mut head = Vec::new();
            let _ = write!(head, "POST /v1/messages?beta=true HTTP/1.1\r\n");
            for (k, v) in &list {
                let _ = write!(head, "{k}: {v}\r\n");
            }
            let _ = write!(head, "content-length: {}\r\n\r\n", body.len());
            black_box(head.len() + body.len())
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_response,
    bench_payload,
    bench_scratch
);
criterion_main!(benches);
