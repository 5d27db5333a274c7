//! Reasoning through the stream translators against a simple oracle: for every
//! upstream fixture, the reasoning text a client reads in its own format
//! (Chat `reasoning_content` deltas, Responses `reasoning_summary_text`
//! deltas / done / completed output, Claude `thinking_delta`s, Gemini
//! `thought` parts) equals the reasoning text in the upstream stream, whole
//! and split at every byte.

#[path = "stream_support/mod.rs"]
mod common;
use cliproxy::translate::format::Format;
use common::*;
use serde_json::Value;

fn payloads(sse: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(sse)
        .split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data:").map(str::trim))
        })
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

fn cat<'a>(it: impl Iterator<Item = &'a Value>) -> String {
    it.filter_map(Value::as_str).collect()
}

/// The reasoning text of choice 0 in a stream of format `f` (the oracle for
/// upstream input and the reader for client output alike).
fn reasoning(f: Format, sse: &[u8]) -> String {
    let evs = payloads(sse);
    match f {
        Format::OpenAiChat => evs
            .iter()
            .filter_map(|e| e["choices"].as_array())
            .flatten()
            .filter(|c| c["index"].as_u64().unwrap_or(0) == 0)
            .flat_map(|c| {
                let d = &c["delta"];
                [&d["reasoning_content"], &d["reasoning"]]
            })
            .filter_map(Value::as_str)
            .collect(),
        Format::OpenAiResponses | Format::Codex => cat(evs
            .iter()
            .filter(|e| {
                e["type"] == "response.reasoning_summary_text.delta"
                    || e["type"] == "response.reasoning_text.delta"
            })
            .map(|e| &e["delta"])),
        Format::Claude => evs
            .iter()
            .filter_map(|e| match e["type"].as_str() {
                Some("content_block_start") => e["content_block"]["thinking"].as_str(),
                Some("content_block_delta") => e["delta"]["thinking"].as_str(),
                _ => None,
            })
            .collect(),
        Format::Gemini | Format::GeminiCli => evs
            .iter()
            // Cloud Code Assist wraps each chunk in `response`.
            .map(|e| {
                if e["response"].is_object() {
                    &e["response"]
                } else {
                    e
                }
            })
            .filter_map(|e| e["candidates"][0]["content"]["parts"].as_array())
            .flatten()
            .filter(|p| p["thought"] == true)
            .filter_map(|p| p["text"].as_str())
            .collect(),
    }
}

/// Responses clients also get the text whole, in `*.done` and the terminal
/// response (completed / incomplete / failed); both must agree with the deltas.
fn responses_whole(out: &[u8]) -> (String, String) {
    let evs = payloads(out);
    let done = cat(evs
        .iter()
        .filter(|e| e["type"] == "response.reasoning_summary_text.done")
        .map(|e| &e["text"]));
    let completed = cat(evs
        .iter()
        .filter(|e| {
            [
                "response.completed",
                "response.incomplete",
                "response.failed",
            ]
            .iter()
            .any(|t| e["type"] == *t)
        })
        .filter_map(|e| e["response"]["output"].as_array())
        .flatten()
        .filter(|o| o["type"] == "reasoning")
        .filter_map(|o| o["summary"].as_array())
        .flatten()
        .map(|s| &s["text"]));
    (done, completed)
}

#[test]
fn reasoning_text_reaches_every_client_whole_and_split_at_every_byte() {
    let mut with_reasoning = 0;
    for (from, from_name, case, input) in fixtures() {
        let want = reasoning(from, &input);
        if want.is_empty() {
            continue;
        }
        with_reasoning += 1;
        for (to, to_name) in FORMATS {
            if to == from {
                continue;
            }
            let whole = translate(from, to, &input, &[]);
            let ctx = format!("{from_name} -> {to_name} ({case})");
            assert_eq!(reasoning(to, &whole), want, "{ctx}");
            if to == Format::OpenAiResponses {
                assert_eq!(
                    responses_whole(&whole),
                    (want.clone(), want.clone()),
                    "{ctx}"
                );
            }
            for i in 0..=input.len() {
                let got = translate(from, to, &input, &[i]);
                assert_eq!(reasoning(to, &got), want, "{ctx} cut {i}");
            }
            let every: Vec<usize> = (1..input.len()).collect();
            assert_eq!(
                reasoning(to, &translate(from, to, &input, &every)),
                want,
                "{ctx} every byte"
            );
        }
    }
    assert!(
        with_reasoning >= 4,
        "only {with_reasoning} reasoning fixtures"
    );
}
