//! Behaviour tests with exact expectations (CLIProxyAPI v6.9 #11, signatures, usage,
//! stop reasons, junk frames, keep-alives, terminators).

#[path = "stream_support/mod.rs"]
mod common;
use cliproxy::translate::format::Format;
use common::*;
use serde_json::Value;

fn events(out: &[u8]) -> Vec<(Option<String>, Value)> {
    parse_output(out)
        .into_iter()
        .filter_map(|f| match f {
            Frame::Event(e, Data::Json(v)) => Some((e, v)),
            _ => None,
        })
        .collect()
}

/// v6.9 #11: OpenAI Chat stream -> Responses stream with several tool calls.
fn check_v69_11(out: &[u8], expected_args: &[(&str, &str)]) {
    let evs = events(out);
    let mut added: Vec<(u64, String, String)> = Vec::new(); // (output_index, type, id)
    let mut done_order = Vec::new();
    let mut args_done = std::collections::HashMap::new();
    for (e, d) in &evs {
        assert_eq!(e.as_deref(), d["type"].as_str(), "event name matches type");
        match d["type"].as_str().unwrap() {
            "response.output_item.added" => {
                let ix = d["output_index"].as_u64().unwrap();
                assert!(added.iter().all(|a| a.0 != ix), "output_index {ix} reused");
                assert_eq!(
                    ix as usize,
                    added.len(),
                    "allocated in order of first appearance"
                );
                added.push((
                    ix,
                    d["item"]["type"].as_str().unwrap().into(),
                    d["item"]["id"].as_str().unwrap().into(),
                ));
            }
            "response.output_item.done" => done_order.push(d["output_index"].as_u64().unwrap()),
            "response.function_call_arguments.done" => {
                args_done.insert(
                    d["item_id"].as_str().unwrap().to_string(),
                    d["arguments"].as_str().unwrap().to_string(),
                );
            }
            _ => {}
        }
    }
    let mut sorted = done_order.clone();
    sorted.sort_unstable();
    assert_eq!(done_order, sorted, "*.done in ascending output_index");
    assert_eq!(done_order.len(), added.len(), "every item is closed once");
    let completed = &evs.last().unwrap().1;
    assert_eq!(completed["type"], "response.completed");
    let output = completed["response"]["output"].as_array().unwrap();
    assert_eq!(output.len(), added.len());
    for (i, item) in output.iter().enumerate() {
        assert_eq!(
            item["id"].as_str().unwrap(),
            added[i].2,
            "completed output in ascending output_index"
        );
    }
    let calls: Vec<&Value> = output
        .iter()
        .filter(|i| i["type"] == "function_call")
        .collect();
    assert_eq!(calls.len(), expected_args.len());
    for (call, (call_id, args)) in calls.iter().zip(expected_args) {
        assert_eq!(call["call_id"], *call_id);
        assert_eq!(
            call["arguments"], *args,
            "arguments of different calls are never concatenated"
        );
        assert_eq!(args_done[call["id"].as_str().unwrap()], *args);
        serde_json::from_str::<Value>(args).unwrap();
    }
}

#[test]
fn v69_11_parallel_tool_calls_get_their_own_items() {
    let out = translate_fixture(
        Format::OpenAiChat,
        Format::OpenAiResponses,
        "tools_parallel",
    );
    check_v69_11(
        &out,
        &[
            ("call_paris", r#"{"location": "Paris"}"#),
            ("call_tokyo", r#"{"location": "Tokyo"}"#),
        ],
    );
    let evs = events(&out);
    let types: Vec<&str> = evs
        .iter()
        .filter(|(_, d)| d["type"] == "response.output_item.added")
        .map(|(_, d)| d["item"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["message", "function_call", "function_call"]);
}

#[test]
fn v69_11_calls_in_different_choices_get_different_indexes() {
    let out = translate_fixture(
        Format::OpenAiChat,
        Format::OpenAiResponses,
        "tools_multi_choice",
    );
    check_v69_11(
        &out,
        &[("call_b0", r#"{"q":"b"}"#), ("call_a0", r#"{"q":"a"}"#)],
    );
}

#[test]
fn thinking_signature_is_carried_byte_exact() {
    let out = translate_fixture(Format::Gemini, Format::Claude, "thought_signature");
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(
            r#"{"type":"signature_delta","signature":"Cp8B\/AV+sig\u002bwith==escapes"}"#
        ),
        "{text}"
    );
    // Passthrough keeps Claude's own signature bytes.
    let input = fixture_of(Format::Claude, "thinking_tools");
    assert_eq!(
        translate(Format::Claude, Format::Claude, &input, &[]),
        input
    );
}

#[test]
fn openai_chat_chunks_carry_native_finish_reason_and_usage() {
    let out = translate_fixture(Format::Claude, Format::OpenAiChat, "thinking_tools");
    let frames = parse_output(&out);
    assert_eq!(frames.last(), Some(&Frame::Event(None, Data::Done)));
    let evs = events(&out);
    let last = &evs.last().unwrap().1;
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(last["choices"][0]["native_finish_reason"], "tool_use");
    // Claude: input 472 + cache read 2048 + cache creation 100.
    assert_eq!(last["usage"]["prompt_tokens"], 2620);
    assert_eq!(
        last["usage"]["prompt_tokens_details"]["cached_tokens"],
        2048
    );
    assert_eq!(last["usage"]["completion_tokens"], 89);
    let out = translate_fixture(Format::Gemini, Format::OpenAiChat, "max_tokens");
    let last = events(&out).last().unwrap().1.clone();
    assert_eq!(last["choices"][0]["finish_reason"], "length");
    assert_eq!(last["choices"][0]["native_finish_reason"], "max_tokens");
}

#[test]
fn reasoning_tokens_and_cache_reach_every_client() {
    let input = fixture_of(Format::OpenAiChat, "reasoning");
    let out = translate(Format::OpenAiChat, Format::OpenAiResponses, &input, &[]);
    let last = events(&out).last().unwrap().1.clone();
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(
        last["response"]["usage"]["output_tokens_details"]["reasoning_tokens"],
        25
    );
    assert_eq!(
        last["response"]["usage"]["input_tokens_details"]["cached_tokens"],
        8
    );
    let out = translate(Format::OpenAiChat, Format::Gemini, &input, &[]);
    let last = events(&out).last().unwrap().1.clone();
    assert_eq!(last["usageMetadata"]["thoughtsTokenCount"], 25);
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 5);
    assert_eq!(last["candidates"][0]["finishReason"], "MAX_TOKENS");
    let out = translate(Format::OpenAiChat, Format::Claude, &input, &[]);
    let evs = events(&out);
    let md = &evs
        .iter()
        .find(|(e, _)| e.as_deref() == Some("message_delta"))
        .unwrap()
        .1;
    assert_eq!(md["delta"]["stop_reason"], "max_tokens");
    assert_eq!(md["usage"]["input_tokens"], 4);
    assert_eq!(md["usage"]["cache_read_input_tokens"], 8);
}

#[test]
fn junk_frames_are_dropped_and_errors_end_the_stream() {
    let out = translate_fixture(
        Format::OpenAiChat,
        Format::OpenAiResponses,
        "error_and_junk",
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        !text.contains("not json") && !text.contains("truncated") && !text.contains("bad "),
        "{text}"
    );
    let evs = events(&out);
    let (e, d) = evs.last().unwrap();
    assert_eq!(e.as_deref(), Some("error"));
    assert_eq!(d["message"], "Upstream \"provider\" returned 502");
    assert!(evs.iter().all(|(_, d)| d["type"] != "response.completed"));
    let out = translate_fixture(Format::OpenAiChat, Format::Claude, "error_and_junk");
    assert!(!String::from_utf8_lossy(&out).contains("message_stop"));
}

#[test]
fn unknown_and_informational_events_are_skipped_not_terminal() {
    // codex.rate_limits with limit_reached:true must not end the stream (CLIProxyAPI #3798).
    let out = translate_fixture(
        Format::OpenAiResponses,
        Format::OpenAiChat,
        "reasoning_tools",
    );
    let evs = events(&out);
    assert_eq!(
        evs.last().unwrap().1["choices"][0]["finish_reason"],
        "tool_calls"
    );
    let out = translate_fixture(Format::Claude, Format::OpenAiChat, "max_tokens");
    assert!(!String::from_utf8_lossy(&out).contains("payload"));
}

#[test]
fn keep_alives_become_client_keep_alives() {
    let out = translate_fixture(Format::Claude, Format::OpenAiChat, "text");
    assert!(parse_output(&out).contains(&Frame::Comment("keep-alive".into())));
    let out = translate(Format::OpenAiChat, Format::Claude, b": ping\n\ndata: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n: ping\n\n", &[]);
    let frames = parse_output(&out);
    assert_eq!(
        frames[0],
        Frame::Comment("keep-alive".into()),
        "no ping before message_start"
    );
    assert!(frames
        .iter()
        .any(|f| matches!(f, Frame::Event(Some(e), _) if e == "ping")));
}

#[test]
fn empty_upstream_still_ends_cleanly() {
    for (to, _) in FORMATS {
        if to == Format::OpenAiChat {
            continue;
        }
        let out = translate(to, Format::OpenAiChat, b"", &[]);
        assert_eq!(
            parse_output(&out).last(),
            Some(&Frame::Event(None, Data::Done)),
            "{to:?}"
        );
    }
    let out = translate(Format::Gemini, Format::Claude, b"", &[]);
    let evs = events(&out);
    let names: Vec<_> = evs.iter().map(|(e, _)| e.clone().unwrap()).collect();
    assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
}

#[test]
fn null_delta_and_null_fields_are_tolerated() {
    let input = b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\",\"tool_calls\":null},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":null,\"finish_reason\":\"length\"}],\"usage\":null}\n\ndata: [DONE]\n\n";
    let out = translate(Format::OpenAiChat, Format::Claude, input, &[]);
    let evs = events(&out);
    assert!(evs.iter().any(|(_, d)| d["delta"]["text"] == "hi"));
    let md = &evs
        .iter()
        .find(|(e, _)| e.as_deref() == Some("message_delta"))
        .unwrap()
        .1;
    assert_eq!(md["delta"]["stop_reason"], "max_tokens");
}

#[test]
fn codex_streams_are_responses_streams() {
    use cliproxy::translate::stream::new_stream_translator;
    assert!(new_stream_translator(Format::Codex, Format::OpenAiResponses, ctx()).is_passthrough());
    assert!(new_stream_translator(Format::OpenAiResponses, Format::Codex, ctx()).is_passthrough());
    let input = fixture_of(Format::OpenAiResponses, "reasoning_tools");
    for to in [Format::OpenAiChat, Format::Claude, Format::Gemini] {
        assert_eq!(
            translate(Format::Codex, to, &input, &[]),
            translate(Format::OpenAiResponses, to, &input, &[])
        );
    }
    let chat = fixture_of(Format::OpenAiChat, "tools_parallel");
    assert_eq!(
        translate(Format::OpenAiChat, Format::Codex, &chat, &[]),
        translate(Format::OpenAiChat, Format::OpenAiResponses, &chat, &[])
    );
}
