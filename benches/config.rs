//! Config benches.
//!
//! - `config_load`: `parse_str` of the example file (fully enabled) against the
//!   naive baseline of only parsing the YAML into a `serde_yaml::Value`, so the
//!   cost of key-path tracking and validation is visible as a ratio.
//! - `excluded`: `config::excluded` against a naive matcher (lower-case copies
//!   plus a backtracking glob) on realistic model names.

use std::path::Path;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

const EXAMPLE: &str = include_str!("../config.example.yaml");

fn example_full() -> String {
    EXAMPLE
        .lines()
        .map(|l| match l.find("#| ") {
            Some(i) if l[..i].trim().is_empty() => format!("{}{}", &l[..i], &l[i + 3..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn bench_load(c: &mut Criterion) {
    let text = example_full();
    let mut g = c.benchmark_group("config_load");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse_str", |b| {
        b.iter(|| cliproxy::config::parse_str(black_box(&text), Path::new("/etc/cliproxy")))
    });
    g.bench_function("baseline_yaml_value_only", |b| {
        b.iter(|| serde_yaml::from_str::<serde_yaml::Value>(black_box(&text)))
    });
    g.finish();
}

fn naive_glob(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| naive_glob(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && naive_glob(rest, &s[1..]),
    }
}

fn naive_excluded(patterns: &[String], model: &str) -> bool {
    let m: Vec<char> = model.trim().to_lowercase().chars().collect();
    patterns.iter().any(|p| {
        let p: Vec<char> = p.trim().to_lowercase().chars().collect();
        !p.is_empty() && naive_glob(&p, &m)
    })
}

fn bench_excluded(c: &mut Criterion) {
    let patterns: Vec<String> = [
        "gemini-2.5-pro",
        "gemini-2.5-*",
        "*-preview",
        "*flash*",
        "claude-3-*",
        "*haiku*",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let models = [
        "gpt-5-codex",
        "claude-sonnet-4-5-20250929",
        "gemini-3-pro-preview",
        "Gemini-2.5-Flash-Lite",
        "kimi-k2.5",
        "claude-3-5-haiku-20241022",
        "grok-4.3",
        "deepseek-v3.1",
    ];
    let bytes: usize = models.iter().map(|m| m.len()).sum();
    let mut g = c.benchmark_group("excluded");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("excluded", |b| {
        b.iter(|| {
            models
                .iter()
                .filter(|m| cliproxy::config::excluded(black_box(&patterns), m))
                .count()
        })
    });
    g.bench_function("baseline_naive_glob", |b| {
        b.iter(|| {
            models
                .iter()
                .filter(|m| naive_excluded(black_box(&patterns), m))
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_load, bench_excluded);
criterion_main!(benches);
