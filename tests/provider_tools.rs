//! A tool call with arguments, from every upstream kind to every client
//! format, stream and not: the client receives the upstream's tool name and
//! exact arguments.

mod common;
use common::*;
use serde_json::{json, Value};

const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");
const ARG_PIECES: [&str; 3] = [
    "{\"city\": \"Par",
    "is\", \"unit\": \"c\", \"days\"",
    ": [1, 2]}",
];

fn args() -> Value {
    json!({"city":"Paris","unit":"c","days":[1,2]})
}

fn upstream(r: &Recorded) -> Reply {
    let body = r.json();
    let stream =
        body["stream"].as_bool().unwrap_or(false) || r.path.contains("streamGenerateContent");
    let argstr = ARG_PIECES.concat();
    if r.path == "/v1/chat/completions" {
        if stream {
            let mut ev = vec![(
                None,
                json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}),
            )];
            for p in ARG_PIECES {
                ev.push((None, json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":p}}]},"finish_reason":null}]})));
            }
            ev.push((None, json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})));
            return sse_events(&ev);
        }
        return json_reply(200, &json!({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":argstr}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}).to_string());
    }
    if r.path == "/v1/messages?beta=true" {
        if stream {
            let mut ev = vec![
                claude_message_start("m"),
                (
                    Some("content_block_start"),
                    json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}),
                ),
            ];
            for p in ARG_PIECES {
                ev.push((Some("content_block_delta"), json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":p}})));
            }
            ev.push(claude_block_stop(0));
            ev.extend(claude_message_end("tool_use", 7));
            return sse_events(&ev);
        }
        return json_reply(200, &json!({"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":args()}],"stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":7}}).to_string());
    }
    if r.path.starts_with("/v1beta/models/") {
        let part = json!({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":args()}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7,"totalTokenCount":12}});
        if stream {
            return sse_events(&[(None, part)]);
        }
        return json_reply(200, &part.to_string());
    }
    if r.path == "/codex/responses" {
        let done_item = json!({"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":argstr,"status":"completed"});
        let mut ev = vec![
            (
                Some("response.created"),
                json!({"type":"response.created","response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"m","output":[]}}),
            ),
            (
                Some("response.output_item.added"),
                json!({"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"","status":"in_progress"}}),
            ),
        ];
        for p in ARG_PIECES {
            ev.push((Some("response.function_call_arguments.delta"), json!({"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":p})));
        }
        ev.push((Some("response.function_call_arguments.done"), json!({"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":0,"arguments":argstr})));
        ev.push((
            Some("response.output_item.done"),
            json!({"type":"response.output_item.done","output_index":0,"item":done_item}),
        ));
        ev.push((Some("response.completed"), json!({"type":"response.completed","response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"m","output":[done_item],"usage":{"input_tokens":5,"output_tokens":7,"total_tokens":12}}})));
        return sse_events(&ev);
    }
    json_reply(404, "{}")
}

/// Every upstream kind at `mock`, aliased m-compat, m-claude, m-gemini, m-codex.
fn config(mock: &Mock) -> String {
    every_kind_config(mock, |_| ("k".into(), "u".into()), "")
}

fn schema() -> Value {
    json!({"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string"},"days":{"type":"array","items":{"type":"integer"}}},"required":["city"]})
}

fn ask(srv: &Server, client: Client, model: &str, stream: bool) -> Resp {
    let msg = "weather in Paris?";
    let body = match client {
        Client::Chat => {
            json!({"model":model,"stream":stream,"messages":[{"role":"user","content":msg}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":schema()}}]})
        }
        Client::Responses => {
            json!({"model":model,"stream":stream,"input":msg,"tools":[{"type":"function","name":"get_weather","description":"Weather","parameters":schema()}]})
        }
        Client::Claude => {
            json!({"model":model,"max_tokens":256,"stream":stream,"messages":[{"role":"user","content":msg}],"tools":[{"name":"get_weather","description":"Weather","input_schema":schema()}]})
        }
        Client::Gemini => {
            json!({"contents":[{"role":"user","parts":[{"text":msg}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parameters":schema()}]}]})
        }
    };
    srv.request(
        "POST",
        &client_path(client, model, stream),
        &[AUTH],
        &body.to_string(),
    )
}

/// (tool name, parsed arguments) as the client sees them.
fn tool_call(client: Client, stream: bool, resp: &Resp) -> Option<(String, Value)> {
    let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
    if !stream {
        let v = resp.json();
        return match client {
            Client::Chat => {
                let f = &v["choices"][0]["message"]["tool_calls"][0]["function"];
                Some((
                    f["name"].as_str()?.to_string(),
                    parse(f["arguments"].as_str()?)?,
                ))
            }
            Client::Responses => {
                let item = v["output"]
                    .as_array()?
                    .iter()
                    .find(|o| o["type"] == "function_call")?;
                Some((
                    item["name"].as_str()?.to_string(),
                    parse(item["arguments"].as_str()?)?,
                ))
            }
            Client::Claude => {
                let b = v["content"]
                    .as_array()?
                    .iter()
                    .find(|c| c["type"] == "tool_use")?;
                Some((b["name"].as_str()?.to_string(), b["input"].clone()))
            }
            Client::Gemini => {
                let p = v["candidates"][0]["content"]["parts"]
                    .as_array()?
                    .iter()
                    .find(|p| p["functionCall"].is_object())?;
                Some((
                    p["functionCall"]["name"].as_str()?.to_string(),
                    p["functionCall"]["args"].clone(),
                ))
            }
        };
    }
    let evs = sse_json(&resp.body);
    match client {
        Client::Chat => {
            let mut name = String::new();
            let mut a = String::new();
            for e in &evs {
                for tc in e["choices"][0]["delta"]["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    name.push_str(tc["function"]["name"].as_str().unwrap_or(""));
                    a.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
                }
            }
            Some((name, parse(&a)?))
        }
        Client::Responses => {
            let name = evs.iter().find(|e| {
                e["type"] == "response.output_item.added" && e["item"]["type"] == "function_call"
            })?["item"]["name"]
                .as_str()?
                .to_string();
            let a: String = evs
                .iter()
                .filter(|e| e["type"] == "response.function_call_arguments.delta")
                .filter_map(|e| e["delta"].as_str())
                .collect();
            Some((name, parse(&a)?))
        }
        Client::Claude => {
            let (name, a) = claude_stream_tool_call(&evs)?;
            Some((name, parse(&a)?))
        }
        Client::Gemini => gemini_function_call(&evs),
    }
}

#[test]
fn tool_calls_reach_every_client_from_every_upstream() {
    let mock = Mock::start(upstream);
    let srv = Server::start("epoll", 2, &config(&mock), &[]);
    let mut failures = Vec::new();
    for client in CLIENTS {
        for model in UPSTREAMS {
            for stream in [false, true] {
                let before = mock.requests().len();
                let resp = ask(&srv, client, model, stream);
                let case = format!("{client:?} -> {model} stream={stream}");
                if resp.status != 200 {
                    failures.push(format!("{case}: status {} {}", resp.status, resp.text()));
                    continue;
                }
                match tool_call(client, stream, &resp) {
                    Some((name, a)) if name == "get_weather" && a == args() => {}
                    other => failures.push(format!("{case}: got {other:?}\n{}", resp.text())),
                }
                // The upstream received the tool declaration in its own format.
                let b = mock.requests()[before].json();
                let declared = match model {
                    "m-compat" => b["tools"][0]["function"]["name"] == "get_weather",
                    "m-claude" => {
                        b["tools"][0]["name"] == "get_weather"
                            && b["tools"][0]["input_schema"].is_object()
                    }
                    "m-gemini" => b["tools"][0]["functionDeclarations"][0]["name"] == "get_weather",
                    _ => {
                        b["tools"][0]["name"] == "get_weather"
                            && b["tools"][0]["type"] == "function"
                    }
                };
                if !declared {
                    failures.push(format!("{case}: upstream tools {}", b["tools"]));
                }
            }
        }
    }
    assert_no_failures(&failures, "\n\n");
}
