//! Request translation throughput: every (client, upstream) pair on a small chat
//! and on a generated ≥2 MB agent conversation, each next to a naive baseline
//! (serde_json::Value parse → build → serialise) in the same group.
//!
//! Run one pair: `cargo bench --bench translate_request -- "2MB/OpenAiChat->Claude"`.

use cliproxy::translate::format::Format;
use cliproxy::translate::request::{translate_request, ReqOpts};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};

#[path = "common/big_chat.rs"]
mod big_chat;
use big_chat::big_chat;

fn small_chat() -> Vec<u8> {
    serde_json::to_vec(&json!({"model":"gpt-4.1","messages":[
        {"role":"system","content":"You are a helpful assistant."},
        {"role":"user","content":"What is the capital of France?"},
        {"role":"assistant","content":"Paris."},
        {"role":"user","content":"And of Italy?"}],"max_tokens":256,"stream":true}))
    .unwrap()
}

/// Naive baseline: Value parse → rebuild a Claude body → serialise (only the
/// OpenAI Chat source is mapped field by field; other sources are rebuilt
/// member by member, which is a lower bound on a real Value translator).
fn naive(from: Format, body: &[u8]) -> Vec<u8> {
    let v: Value = serde_json::from_slice(body).unwrap();
    let out = if from == Format::OpenAiChat {
        let mut msgs = Vec::new();
        let mut system = Vec::new();
        for m in v["messages"].as_array().into_iter().flatten() {
            match m["role"].as_str() {
                Some("system") => system.push(json!({"type":"text","text":m["content"].clone()})),
                Some("tool") => msgs.push(json!({"role":"user","content":[{"type":"tool_result","tool_use_id":m["tool_call_id"].clone(),"content":m["content"].clone()}]})),
                Some(role) => {
                    let mut c = vec![json!({"type":"text","text":m["content"].clone()})];
                    for tc in m["tool_calls"].as_array().into_iter().flatten() {
                        let input: Value = serde_json::from_str(tc["function"]["arguments"].as_str().unwrap_or("{}")).unwrap_or(json!({}));
                        c.push(json!({"type":"tool_use","id":tc["id"].clone(),"name":tc["function"]["name"].clone(),"input":input}));
                    }
                    msgs.push(json!({"role":role,"content":c}));
                }
                None => {}
            }
        }
        let tools: Vec<Value> = v["tools"].as_array().into_iter().flatten().map(|t| json!({"name":t["function"]["name"].clone(),"description":t["function"]["description"].clone(),"input_schema":t["function"]["parameters"].clone()})).collect();
        json!({"model":"m","max_tokens":v["max_tokens"].clone(),"system":system,"messages":msgs,"tools":tools,"stream":true})
    } else {
        let mut o = serde_json::Map::new();
        for (k, val) in v.as_object().into_iter().flatten() {
            o.insert(k.clone(), val.clone());
        }
        Value::Object(o)
    };
    serde_json::to_vec(&out).unwrap()
}

const FORMATS: [(Format, &str); 4] = [
    (Format::OpenAiChat, "OpenAiChat"),
    (Format::OpenAiResponses, "OpenAiResponses"),
    (Format::Claude, "Claude"),
    (Format::Gemini, "Gemini"),
];
const TARGETS: [(Format, &str); 5] = [
    (Format::OpenAiChat, "OpenAiChat"),
    (Format::OpenAiResponses, "OpenAiResponses"),
    (Format::Claude, "Claude"),
    (Format::Gemini, "Gemini"),
    (Format::Codex, "Codex"),
];

fn opts(model: &str) -> ReqOpts<'_> {
    ReqOpts {
        upstream_model: model,
        stream: true,
        claude_default_max_tokens: None,
    }
}

fn bench(c: &mut Criterion) {
    for (label, chat) in [("small", small_chat()), ("2MB", big_chat(7))] {
        // The same conversation in every client format.
        let sources: Vec<(Format, &str, Vec<u8>)> = FORMATS
            .iter()
            .map(|(f, n)| {
                let mut out = Vec::new();
                translate_request(Format::OpenAiChat, *f, &chat, &opts("m"), &mut out).unwrap();
                (*f, *n, out)
            })
            .collect();
        let mut g = c.benchmark_group(label);
        for (from, fname, body) in &sources {
            g.throughput(Throughput::Bytes(body.len() as u64));
            for (to, tname) in TARGETS {
                if *from == to {
                    continue;
                }
                let pair = format!("{fname}->{tname}");
                let mut out = Vec::with_capacity(body.len() * 2);
                g.bench_with_input(
                    BenchmarkId::new(pair.clone(), "cliproxy"),
                    body,
                    |b, body| {
                        b.iter(|| {
                            out.clear();
                            translate_request(*from, to, black_box(body), &opts("model"), &mut out)
                                .unwrap();
                            black_box(out.len())
                        })
                    },
                );
                g.bench_with_input(BenchmarkId::new(pair, "naive_value"), body, |b, body| {
                    b.iter(|| black_box(naive(*from, black_box(body))).len())
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
