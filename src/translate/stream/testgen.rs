//! Generators of long, realistic upstream streams for tests and benches (not used on the
//! request path). Each stream has a thinking/reasoning part, `deltas` text deltas, a tool
//! call whose arguments arrive in several pieces, usage and a stop event.

use crate::translate::format::Format;

fn text_piece(i: usize) -> String {
    // Varied pieces with escapes and non-ASCII, like real model output.
    match i % 5 {
        0 => format!(" word{i}"),
        1 => " \\\"quoted\\\"".to_string(),
        2 => " caf\u{e9}".to_string(),
        3 => "\\n- item".to_string(),
        _ => " the".to_string(),
    }
}

/// A long upstream stream in format `f` (Codex = Responses) with `deltas` text deltas.
pub fn long_stream(f: Format, deltas: usize) -> Vec<u8> {
    let mut s = String::new();
    match f {
        Format::OpenAiChat => {
            let head = r#"data: {"id":"chatcmpl-long","object":"chat.completion.chunk","created":1732000000,"model":"gpt-4o","choices":[{"index":0,"delta":"#;
            s += head;
            s += r#"{"role":"assistant","content":""},"finish_reason":null}]}"#;
            s += "\n\n";
            for i in 0..deltas / 10 {
                s += head;
                s += &format!(
                    r#"{{"reasoning_content":"thinking step {i}"}},"finish_reason":null}}]}}"#
                );
                s += "\n\n";
            }
            for i in 0..deltas {
                s += head;
                s += &format!(
                    r#"{{"content":"{}"}},"logprobs":null,"finish_reason":null}}]}}"#,
                    text_piece(i)
                );
                s += "\n\n";
            }
            s += head;
            s += r#"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"search","arguments":""}}]},"finish_reason":null}]}"#;
            s += "\n\n";
            for i in 0..deltas / 10 {
                s += head;
                s += &format!(
                    r#"{{"tool_calls":[{{"index":0,"function":{{"arguments":"{}"}}}}]}},"finish_reason":null}}]}}"#,
                    if i == 0 { "{\\\"q\\\":\\\"" } else { "x" }
                );
                s += "\n\n";
            }
            s += head;
            s += r#"{"tool_calls":[{"index":0,"function":{"arguments":"\"}"}}]},"finish_reason":null}]}"#;
            s += "\n\n";
            s += head;
            s += r#"{},"finish_reason":"tool_calls"}]}"#;
            s += "\n\n";
            s += r#"data: {"id":"chatcmpl-long","object":"chat.completion.chunk","created":1732000000,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":2000,"total_tokens":3000,"prompt_tokens_details":{"cached_tokens":500},"completion_tokens_details":{"reasoning_tokens":100}}}"#;
            s += "\n\ndata: [DONE]\n\n";
        }
        Format::OpenAiResponses | Format::Codex => {
            s += "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_long\",\"object\":\"response\",\"created_at\":1,\"status\":\"in_progress\",\"model\":\"gpt-5\",\"output\":[]}}\n\n";
            for i in 0..deltas / 10 {
                s += &format!("event: response.reasoning_summary_text.delta\ndata: {{\"type\":\"response.reasoning_summary_text.delta\",\"sequence_number\":{i},\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":0,\"delta\":\"thinking step {i}\"}}\n\n");
            }
            for i in 0..deltas {
                s += &format!("event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{i},\"item_id\":\"msg_1\",\"output_index\":1,\"content_index\":0,\"delta\":\"{}\",\"logprobs\":[]}}\n\n", text_piece(i));
            }
            s += "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":2,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\",\"status\":\"in_progress\",\"arguments\":\"\",\"call_id\":\"call_1\",\"name\":\"search\"}}\n\n";
            s += "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"sequence_number\":2,\"item_id\":\"fc_1\",\"output_index\":2,\"delta\":\"{\\\"q\\\":\\\"x\\\"}\"}\n\n";
            s += "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_long\",\"object\":\"response\",\"created_at\":1,\"status\":\"completed\",\"model\":\"gpt-5\",\"output\":[],\"usage\":{\"input_tokens\":1000,\"input_tokens_details\":{\"cached_tokens\":500},\"output_tokens\":2000,\"output_tokens_details\":{\"reasoning_tokens\":100},\"total_tokens\":3000}}}\n\n";
        }
        Format::Claude => {
            s += "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_long\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":500,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":500,\"output_tokens\":1}}}\n\n";
            s += "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n";
            for i in 0..deltas / 10 {
                s += &format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"thinking_delta\",\"thinking\":\"thinking step {i}\"}}}}\n\n");
            }
            s += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/Xx==\"}}\n\n";
            s += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
            s += "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
            for i in 0..deltas {
                s += &format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{}\"}}}}\n\n", text_piece(i));
                if i % 200 == 199 {
                    s += "event: ping\ndata: {\"type\": \"ping\"}\n\n";
                }
            }
            s += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n";
            s += "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"search\",\"input\":{}}}\n\n";
            for i in 0..deltas / 10 {
                let frag = if i == 0 { "{\\\"q\\\":\\\"" } else { "x" };
                s += &format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{{\"type\":\"input_json_delta\",\"partial_json\":\"{frag}\"}}}}\n\n");
            }
            s += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"}\"}}\n\n";
            s += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n";
            s += "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":2000}}\n\n";
            s += "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        }
        Format::Gemini => {
            let tail = ",\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":1000,\"totalTokenCount\":1000},\"modelVersion\":\"gemini-2.5-pro\",\"responseId\":\"g_long\"}\n\n";
            for i in 0..deltas / 10 {
                s += &format!("data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"thinking step {i}\",\"thought\":true}}]");
                s += tail;
            }
            for i in 0..deltas {
                s += &format!(
                    "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"{}\"}}]",
                    text_piece(i)
                );
                s += tail;
            }
            s += "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"search\",\"args\":{\"q\":\"x\"}},\"thoughtSignature\":\"CiQBVKhc7oK+sig==\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":1000,\"candidatesTokenCount\":1900,\"totalTokenCount\":3000,\"cachedContentTokenCount\":500,\"thoughtsTokenCount\":100},\"modelVersion\":\"gemini-2.5-pro\",\"responseId\":\"g_long\"}\n\n";
        }
        Format::GeminiCli => {
            // The Gemini stream, each chunk wrapped as Cloud Code Assist sends it.
            let inner = long_stream(Format::Gemini, deltas);
            let inner = String::from_utf8_lossy(&inner).into_owned();
            for ev in inner.split("\n\n").filter(|e| !e.is_empty()) {
                let data = ev.strip_prefix("data: ").unwrap_or(ev);
                s += &gemini_cli_event(data);
            }
        }
    }
    s.into_bytes()
}

/// One Cloud Code Assist stream event carrying the Gemini chunk `data`.
pub fn gemini_cli_event(data: &str) -> String {
    format!("data: {{\"response\": {data},\"traceId\":\"3f1c0a\",\"metadata\":{{}}}}\n\n")
}

/// Count the translatable upstream events in a stream (`data:` frames), for per-event costs.
pub fn count_events(stream: &[u8]) -> usize {
    stream.windows(6).filter(|w| w == b"\ndata:").count()
        + usize::from(stream.starts_with(b"data:"))
}
