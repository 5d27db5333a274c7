//! Gemini tool and response schemas cross every upstream kind with every
//! property: `parametersJsonSchema` (JSON Schema) and `parameters` (OpenAPI
//! subset, upper-case types) from Gemini clients, and other clients' tool
//! schemas towards Gemini upstreams.

#[path = "stream_support/mod.rs"]
mod support;
use cliproxy::translate::format::Format;
use cliproxy::translate::request::ReqOpts;
use serde_json::{json, Value};
use support::request_json;

fn tr(from: Format, to: Format, body: &Value) -> Value {
    let opts = ReqOpts {
        upstream_model: "up-model",
        stream: false,
        claude_default_max_tokens: Some(1024),
    };
    request_json(from, to, body.to_string().as_bytes(), &opts)
}

/// A JSON-Schema tool schema with nesting, enums, arrays of objects and descriptions.
fn json_schema() -> Value {
    json!({
        "type": "object",
        "description": "weather query",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["c", "f"], "description": "Unit"},
            "days": {"type": "integer", "description": "How many days"},
            "where": {
                "type": "object",
                "description": "Coordinates",
                "properties": {
                    "lat": {"type": "number"},
                    "lon": {"type": "number"}
                },
                "required": ["lat", "lon"]
            },
            "stops": {
                "type": "array",
                "description": "Stops",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "hours": {"type": "integer"}},
                    "required": ["name"]
                }
            }
        },
        "required": ["city", "unit"]
    })
}

/// The same schema in Gemini's OpenAPI form (upper-case types).
fn openapi_schema() -> Value {
    fn up(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let v = match (k.as_str(), v) {
                            ("type", Value::String(s)) => Value::String(s.to_uppercase()),
                            _ => up(v),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(up).collect()),
            o => o.clone(),
        }
    }
    up(&json_schema())
}

fn gemini_body(field: &str, schema: Value, resp_field: &str) -> Value {
    json!({
        "contents": [{"role": "user", "parts": [{"text": "weather?"}]}],
        "tools": [{"functionDeclarations": [{
            "name": "get_weather",
            "description": "Get the weather",
            field: schema.clone()
        }]}],
        "generationConfig": {
            "responseMimeType": "application/json",
            resp_field: schema
        }
    })
}

/// The schema a non-Gemini upstream received for the tool.
fn tool_schema(to: Format, out: &Value) -> Value {
    match to {
        Format::OpenAiChat => out["tools"][0]["function"]["parameters"].clone(),
        Format::OpenAiResponses | Format::Codex => out["tools"][0]["parameters"].clone(),
        Format::Claude => out["tools"][0]["input_schema"].clone(),
        Format::Gemini | Format::GeminiCli => unreachable!(),
    }
}

fn assert_same_schema(got: &Value, want: &Value, ctx: &str) {
    // Every property, nested property, required list, enum and description.
    assert_eq!(got["type"], "object", "{ctx}: {got}");
    for p in ["city", "unit", "days", "where", "stops"] {
        assert_eq!(
            got["properties"][p]["type"], want["properties"][p]["type"],
            "{ctx} {p}: {got}"
        );
        assert_eq!(
            got["properties"][p]["description"], want["properties"][p]["description"],
            "{ctx} {p}"
        );
    }
    assert_eq!(got["required"], json!(["city", "unit"]), "{ctx}");
    assert_eq!(
        got["properties"]["unit"]["enum"],
        json!(["c", "f"]),
        "{ctx}"
    );
    assert_eq!(
        got["properties"]["where"]["required"],
        json!(["lat", "lon"]),
        "{ctx}"
    );
    assert_eq!(
        got["properties"]["where"]["properties"]["lat"]["type"], "number",
        "{ctx}"
    );
    assert_eq!(
        got["properties"]["stops"]["items"]["type"], "object",
        "{ctx}"
    );
    assert_eq!(
        got["properties"]["stops"]["items"]["properties"]["hours"]["type"], "integer",
        "{ctx}"
    );
    assert_eq!(
        got["properties"]["stops"]["items"]["required"],
        json!(["name"]),
        "{ctx}"
    );
}

#[test]
fn gemini_tool_schemas_reach_every_upstream_whole() {
    for (field, resp_field, schema) in [
        ("parametersJsonSchema", "responseJsonSchema", json_schema()),
        ("parameters", "responseSchema", openapi_schema()),
        // google-genai (Python) writes these two in snake case.
        (
            "parameters_json_schema",
            "response_json_schema",
            json_schema(),
        ),
        ("parameters", "response_schema", openapi_schema()),
    ] {
        let body = gemini_body(field, schema, resp_field);
        for to in [
            Format::OpenAiChat,
            Format::OpenAiResponses,
            Format::Codex,
            Format::Claude,
        ] {
            let out = tr(Format::Gemini, to, &body);
            let ctx = format!("{field} -> {to:?}");
            assert_same_schema(&tool_schema(to, &out), &json_schema(), &ctx);
            assert_eq!(
                tool_schema(to, &out)["description"],
                "weather query",
                "{ctx}"
            );
            // The response schema, lower-cased, in the upstream's own place.
            match to {
                Format::OpenAiChat => {
                    assert_eq!(out["response_format"]["type"], "json_schema", "{ctx}");
                    assert_same_schema(
                        &out["response_format"]["json_schema"]["schema"],
                        &json_schema(),
                        &ctx,
                    );
                }
                Format::OpenAiResponses | Format::Codex => {
                    assert_eq!(out["text"]["format"]["type"], "json_schema", "{ctx}: {out}");
                    assert_same_schema(&out["text"]["format"]["schema"], &json_schema(), &ctx);
                }
                _ => {}
            }
        }
    }
}

#[test]
fn other_clients_tool_schemas_reach_gemini_whole() {
    let schema = json_schema();
    let bodies = [
        (
            Format::OpenAiChat,
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                   "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d", "parameters": schema}}]}),
        ),
        (
            Format::OpenAiResponses,
            json!({"model": "m", "input": "hi",
                   "tools": [{"type": "function", "name": "get_weather", "description": "d", "parameters": schema}]}),
        ),
        (
            Format::Claude,
            json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
                   "tools": [{"name": "get_weather", "description": "d", "input_schema": schema}]}),
        ),
    ];
    for (from, body) in bodies {
        let out = tr(from, Format::Gemini, &body);
        let decl = &out["tools"][0]["functionDeclarations"][0];
        let got = decl
            .get("parametersJsonSchema")
            .or_else(|| decl.get("parameters"))
            .unwrap_or_else(|| panic!("{from:?}: no schema in {decl}"));
        assert_same_schema(got, &json_schema(), &format!("{from:?} -> Gemini"));
    }
}
