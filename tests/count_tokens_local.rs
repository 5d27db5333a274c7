//! Token counts for models served by upstreams without a count endpoint
//! (OpenAI-compatible, Codex) through the real server: Claude
//! `/v1/messages/count_tokens` and Gemini `:countTokens` are answered locally
//! with the model's tiktoken encoding (as CLIProxyAPI does), and nothing is
//! sent upstream. Expected counts come from the tokenizer crate itself.

mod common;
use common::*;
use serde_json::json;

const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

/// Counts differ between cl100k and o200k for this text, so the encoding
/// choice is observable.
const TEXT: &str = "Grüße aus Zürich! Let's count tokens: fn main() { println!(\"ok\"); } 東京 🚀";

fn o200k(text: &str) -> u64 {
    tiktoken_rs::o200k_base()
        .unwrap()
        .encode_ordinary(text)
        .len() as u64
}

fn cl100k(text: &str) -> u64 {
    tiktoken_rs::cl100k_base()
        .unwrap()
        .encode_ordinary(text)
        .len() as u64
}

fn server(mock: &Mock) -> Server {
    let base = format!("http://{}", mock.addr);
    let yaml = format!(
        r#"api-keys: ["sk-client-1"]
openai-compatibility:
  - name: c
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: k}}]
    models: [{{name: gpt-4o-mini, alias: compat-4o}}, {{name: gpt-4-turbo, alias: compat-4}}]
codex-api-key:
  - api-key: kx
    base-url: "{base}/backend"
    models: [{{name: gpt-5-codex, alias: codex-5}}, {{name: codex-mini-latest, alias: codex-mini}}]
"#
    );
    Server::start("epoll", 1, &yaml, &[])
}

fn claude_count(srv: &Server, model: &str) -> u64 {
    let body = json!({"model": model, "messages": [{"role": "user", "content": TEXT}]});
    let r = srv.request(
        "POST",
        "/v1/messages/count_tokens",
        &[AUTH],
        &body.to_string(),
    );
    assert_eq!(r.status, 200, "{model}: {}", r.text());
    let v = r.json();
    assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{v}");
    v["input_tokens"].as_u64().expect("input_tokens")
}

fn gemini_count(srv: &Server, model: &str, wrapped: bool) -> u64 {
    let contents = json!({"contents": [{"role": "user", "parts": [{"text": TEXT}]}]});
    let body = if wrapped {
        json!({ "generateContentRequest": contents })
    } else {
        contents
    };
    let r = srv.request(
        "POST",
        &format!("/v1beta/models/{model}:countTokens"),
        &[AUTH],
        &body.to_string(),
    );
    assert_eq!(r.status, 200, "{model}: {}", r.text());
    let v = r.json();
    let n = v["totalTokens"].as_u64().expect("totalTokens");
    assert_eq!(v["promptTokensDetails"][0]["modality"], "TEXT", "{v}");
    assert_eq!(v["promptTokensDetails"][0]["tokenCount"], n, "{v}");
    n
}

#[test]
fn openai_compatible_models_count_locally_with_their_encoding() {
    assert_ne!(o200k(TEXT), cl100k(TEXT));
    let mock = Mock::start(|_| json_reply(500, "{}"));
    let srv = server(&mock);
    // OpenAI Chat text counted: each message's role, then its content.
    let text = format!("user\n{TEXT}");
    assert_eq!(claude_count(&srv, "compat-4o"), o200k(&text));
    assert_eq!(claude_count(&srv, "compat-4"), cl100k(&text));
    assert_eq!(gemini_count(&srv, "compat-4o", false), o200k(&text));
    assert_eq!(gemini_count(&srv, "compat-4", true), cl100k(&text));
    assert!(mock.requests().is_empty(), "nothing goes upstream");
}

#[test]
fn codex_models_count_locally_with_their_encoding() {
    let mock = Mock::start(|_| json_reply(500, "{}"));
    let srv = server(&mock);
    // Responses text counted: message part texts (no role).
    assert_eq!(claude_count(&srv, "codex-5"), o200k(TEXT));
    assert_eq!(claude_count(&srv, "codex-mini"), cl100k(TEXT));
    assert_eq!(gemini_count(&srv, "codex-5", true), o200k(TEXT));
    assert_eq!(gemini_count(&srv, "codex-mini", false), cl100k(TEXT));
    assert!(mock.requests().is_empty(), "nothing goes upstream");
}

#[test]
fn unreadable_count_request_is_a_client_error() {
    let mock = Mock::start(|_| json_reply(500, "{}"));
    let srv = server(&mock);
    let r = srv.request(
        "POST",
        "/v1beta/models/codex-5:countTokens",
        &[AUTH],
        "{\"contents\": [",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], 400);
    assert!(mock.requests().is_empty());
}
