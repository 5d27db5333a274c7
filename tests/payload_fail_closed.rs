//! `payload` rules fail closed through the real server: a body the payload
//! scanner cannot read (nested deeper than the crate's one JSON depth limit,
//! or malformed inside) is answered 400 in the client's error shape when a
//! rule could apply to the request, and nothing reaches the upstream. The
//! same body on a model no rule names behaves as before.

mod common;
use common::*;
use serde_json::Value;

const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

/// One upstream per client format (OpenAI-compatible, Claude, Gemini), each
/// serving a model a rule names (`rule-*`) and one no rule names (`free-*`).
fn config(base: &str) -> String {
    format!(
        r#"api-keys: ["sk-client-1"]
openai-compatibility:
  - name: c
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: k}}]
    models: [{{name: up-o1, alias: rule-o}}, {{name: up-o2, alias: free-o}}]
claude-api-key:
  - api-key: kc
    base-url: "{base}"
    models: [{{name: up-c1, alias: rule-c}}, {{name: up-c2, alias: free-c}}]
gemini-api-key:
  - api-key: kg
    base-url: "{base}"
    models: [{{name: up-g1, alias: rule-g}}, {{name: up-g2, alias: free-g}}]
payload:
  override:
    - models: [{{name: "rule-*"}}]
      params:
        "metadata.tier": "gold"
"#
    )
}

/// The JSON depth limit every reader of the crate shares.
const LIMIT: usize = 256;

fn deep() -> String {
    format!("{}1{}", "[".repeat(LIMIT + 1), "]".repeat(LIMIT + 1))
}

/// Brackets balance, so the router's scanner accepts it; the payload
/// scanner validates structure and does not.
const MALFORMED: &str = "[1 2]";

fn body(client: &str, model: &str, extra: &str) -> String {
    match client {
        "openai" => format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}],"x":{extra}}}"#
        ),
        "claude" => format!(
            r#"{{"model":"{model}","max_tokens":10,"messages":[{{"role":"user","content":"hi"}}],"x":{extra}}}"#
        ),
        _ => format!(r#"{{"contents":[{{"role":"user","parts":[{{"text":"hi"}}]}}],"x":{extra}}}"#),
    }
}

fn send(srv: &Server, client: &str, model: &str, body: &str) -> Resp {
    match client {
        "openai" => srv.request("POST", "/v1/chat/completions", &[AUTH], body),
        "claude" => srv.request("POST", "/v1/messages", &[AUTH], body),
        _ => srv.request(
            "POST",
            &format!("/v1beta/models/{model}:generateContent"),
            &[AUTH],
            body,
        ),
    }
}

/// The error has the client API's shape and status 400.
fn assert_client_error(client: &str, r: &Resp) {
    assert_eq!(r.status, 400, "{client}: {}", r.text());
    let v: Value = r.json();
    match client {
        "openai" => {
            assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
            assert!(v["error"]["message"].is_string(), "{v}");
        }
        "claude" => {
            assert_eq!(v["type"], "error", "{v}");
            assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        }
        _ => {
            assert_eq!(v["error"]["code"], 400, "{v}");
            assert!(v["error"]["message"].is_string(), "{v}");
        }
    }
}

#[test]
fn unreadable_body_with_an_applicable_rule_is_refused_in_the_client_format() {
    let mock = Mock::start(|_| json_reply(200, r#"{"ok":true}"#));
    let srv = Server::start("epoll", 1, &config(&format!("http://{}", mock.addr)), &[]);
    let deep = deep();
    for client in ["openai", "claude", "gemini"] {
        let model = format!("rule-{}", &client[..1]);
        for extra in [deep.as_str(), MALFORMED] {
            let r = send(&srv, client, &model, &body(client, &model, extra));
            assert_client_error(client, &r);
        }
    }
    assert!(
        mock.requests().is_empty(),
        "nothing may be forwarded unedited: {:?}",
        mock.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

#[test]
fn unreadable_body_without_an_applicable_rule_behaves_as_before() {
    let mock = Mock::start(|_| json_reply(200, r#"{"ok":true}"#));
    let srv = Server::start("epoll", 1, &config(&format!("http://{}", mock.addr)), &[]);
    // Malformed inside but balanced: same-format requests are relayed byte
    // for byte (only `model` rewritten), as they are without payload rules.
    for client in ["openai", "claude", "gemini"] {
        let model = format!("free-{}", &client[..1]);
        let sent = body(client, &model, MALFORMED);
        let r = send(&srv, client, &model, &sent);
        assert_eq!(r.status, 200, "{client}: {}", r.text());
        let got = mock.requests().last().cloned().expect("forwarded");
        let got = String::from_utf8(got.body).unwrap();
        let up = format!("up-{}2", &client[..1]);
        assert_eq!(got, sent.replace(&model, &up), "{client}");
    }
    // Too deep: the OpenAI and Claude routers refuse it before any rule
    // (they read the body for `model`); Gemini routes by URL and relays it.
    let deep = deep();
    let before = mock.requests().len();
    for client in ["openai", "claude"] {
        let model = format!("free-{}", &client[..1]);
        let r = send(&srv, client, &model, &body(client, &model, &deep));
        assert_client_error(client, &r);
    }
    assert_eq!(mock.requests().len(), before);
    let sent = body("gemini", "free-g", &deep);
    let r = send(&srv, "gemini", "free-g", &sent);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = mock.requests().last().cloned().expect("forwarded");
    assert_eq!(got.body, sent.as_bytes());
    assert!(got.path.contains("up-g2:generateContent"), "{}", got.path);
}
