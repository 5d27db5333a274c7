//! Payload rules on a 2 MB chat body: 3 overrides + 1 filter, span edits vs a
//! naive `serde_json::Value` round trip (parse, edit, serialise).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

use cliproxy::payload::{PayloadCtx, PayloadRules};

const CONFIG: &str = r#"
payload:
  override:
    - models: [{name: "gpt-*", protocol: codex}]
      params:
        "reasoning.effort": high
        "service_tier": priority
        "metadata.cliproxy.tier": 3
  filter:
    - models: [{name: "gpt-*"}]
      params: ["temperature"]
"#;

/// A Responses-style body of about 2 MB: many input messages with long text.
fn body() -> Vec<u8> {
    let text = "The quick brown fox jumps over the lazy dog. \"quoted\" \\ back\n".repeat(64);
    let mut input = Vec::new();
    let mut size = 0usize;
    let mut i = 0usize;
    while size < 2 * 1024 * 1024 {
        let item = json!({"role": if i.is_multiple_of(2) {"user"} else {"assistant"},
                          "content": [{"type": "input_text", "text": format!("{i} {text}")}]});
        size += item.to_string().len();
        input.push(item);
        i += 1;
    }
    let v = json!({"model": "gpt-5", "temperature": 0.7, "stream": true,
                   "reasoning": {"effort": "low", "summary": "auto"}, "input": input,
                   "tools": [{"type": "web_search"}]});
    serde_json::to_vec(&v).expect("serialise")
}

fn naive(b: &[u8]) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(b).expect("json");
    if let Some(m) = v.as_object_mut() {
        m.entry("reasoning")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|r| r.insert("effort".into(), json!("high")));
        m.insert("service_tier".into(), json!("priority"));
        m.entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|r| r.insert("cliproxy".into(), json!({"tier": 3})));
        m.remove("temperature");
    }
    serde_json::to_vec(&v).expect("serialise")
}

fn bench(c: &mut Criterion) {
    let (raw, _) = cliproxy::config::parse_raw(CONFIG).expect("config");
    let (rules, warnings) = PayloadRules::compile(&raw.payload);
    assert!(warnings.is_empty());
    let body = body();
    let ctx = PayloadCtx {
        upstream_model: "gpt-5",
        requested_model: "gpt-5",
        protocol: "codex",
        from_protocol: "responses",
        ..PayloadCtx::default()
    };
    // Same result both ways.
    let mut check = body.clone();
    assert_eq!(rules.apply(&ctx, &body, &mut check), Ok(true));
    let a: Value = serde_json::from_slice(&check).expect("json");
    let b: Value = serde_json::from_slice(&naive(&body)).expect("json");
    assert_eq!(a, b);

    let mut g = c.benchmark_group("payload_apply_2mb");
    g.throughput(Throughput::Bytes(body.len() as u64));
    // Each iteration copies the body into a reused buffer first (apply edits
    // the buffer in place); `copy_only` measures that copy alone.
    let mut buf = Vec::with_capacity(body.len() + 4096);
    g.bench_function("copy_only", |bch| {
        bch.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&body));
            black_box(buf.len())
        })
    });
    g.bench_function("span_edits", |bch| {
        bch.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&body));
            black_box(rules.apply(&ctx, &body, &mut buf))
        })
    });
    g.bench_function("serde_json_value_baseline", |bch| {
        bch.iter(|| black_box(naive(black_box(&body))))
    });
    let other = PayloadCtx {
        upstream_model: "claude-sonnet-4",
        requested_model: "claude-sonnet-4",
        ..ctx
    };
    g.bench_function("no_rule_matches", |bch| {
        bch.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&body));
            black_box(rules.apply(&other, &body, &mut buf))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
