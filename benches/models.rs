//! Model lookup per request: `Registry::resolve` on a mix of plain, suffixed,
//! prefixed, cloaked and unknown names over a ~370-id registry, against a
//! naive baseline that scans every id linearly after the same suffix split
//! (and does no cloak or `auto` handling).

use std::hint::black_box;
use std::path::Path;

use cliproxy::config::parse_str;
use cliproxy::models::{split_suffix, Registry};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const CONFIG: &str = r#"
claude-api-key: [{api-key: c1}, {api-key: c2, prefix: team}]
gemini-api-key: [{api-key: g1}]
codex-api-key: [{api-key: x1, base-url: "https://api.example.com/v1"}]
vertex-api-key: [{api-key: v1, base-url: "https://vertex.example.com"}]
openai-compatibility:
  - name: router
    base-url: "https://compat.example.com/v1"
    models: [{name: up-a, alias: fast}, {name: up-b, alias: fast}, {name: up-c, alias: smart}]
"#;

fn bench(c: &mut Criterion) {
    // Plus a large OpenAI-compatible catalogue (aggregators list hundreds).
    let mut yaml = CONFIG.to_string();
    yaml.push_str(
        "  - name: aggregator\n    base-url: \"https://agg.example.com/v1\"\n    models:\n",
    );
    for i in 0..300 {
        yaml.push_str(&format!(
            "      - {{name: vendor-{i}/model-{i}-large, alias: agg-model-{i}}}\n"
        ));
    }
    let reg = match parse_str(&yaml, Path::new("/tmp")) {
        Ok((cfg, _)) => Registry::build_at(&cfg, 1),
        Err(e) => panic!("bench config: {e:?}"),
    };
    let ids: Vec<String> = reg.ids().map(str::to_string).collect();
    let names = [
        "claude-opus-4-6",
        "gemini-2.5-pro(8192)",
        "team/claude-sonnet-4-6",
        "gpt-5.5(high)",
        "claude-fable-5-dd-5.5-tpg",
        "fast",
        "agg-model-299",
        "unknown-model",
    ];
    let bytes: usize = names.iter().map(|n| n.len()).sum();
    let mut g = c.benchmark_group("models_resolve");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("registry", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for n in names {
                hits += reg.resolve(black_box(n)).map_or(0, |r| r.targets.len());
            }
            hits
        })
    });
    g.bench_function("naive_scan", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for n in names {
                let base = split_suffix(black_box(n)).0.trim();
                if let Some(id) = ids.iter().find(|id| id.as_str() == base) {
                    hits += reg.targets(id).map_or(0, <[_]>::len);
                }
            }
            hits
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
