use super::*;
use crate::sse::last_event_boundary;

#[test]
fn codex_terminal_events() {
    let created = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n";
    let inc = "event: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\"}}\n\n";
    let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"insufficient_quota\",\"message\":\"m\"}}}\n\n";
    let error = "data: {\"type\":\"error\",\"code\":\"invalid_prompt\",\"message\":\"bad\"}\n\n";
    match terminal_event(format!("{created}{inc}").as_bytes()) {
        Some(Terminal::Answer(d)) => {
            assert!(d.starts_with(b"{\"type\":\"response.incomplete\""))
        }
        other => panic!("{other:?}"),
    }
    let status = |s: String| match terminal_event(s.as_bytes()) {
        Some(Terminal::Failed { status, body }) => {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (
                status,
                v["error"]["code"].as_str().unwrap_or("").to_string(),
            )
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        status(format!("{created}{failed}")),
        (429, "insufficient_quota".into())
    );
    assert_eq!(
        status(format!("{created}{error}")),
        (400, "invalid_prompt".into())
    );
    assert_eq!(terminal_event(created.as_bytes()), None);
}

#[test]
fn boundaries() {
    assert_eq!(last_event_boundary(b"data: a\n\ndata: b"), Some(9));
    assert_eq!(last_event_boundary(b"data: a\r\n\r\ndata: b\r\n"), Some(11));
    assert_eq!(last_event_boundary(b"data: a\n"), None);
    assert_eq!(last_event_boundary(b"data: a\n\ndata: b\n\n"), Some(18));
    assert!(ends_with_done(b"data: x\n\ndata: [DONE]\n\n"));
    assert!(!ends_with_done(b"data: {\"t\":\"[DONE]x\"}\n\n"));
}

/// A provider serving one OAuth account of `kind` at its default base.
fn account_provider(kind: crate::accounts::AccountKind, headers: &[(&str, &str)]) -> Provider {
    use crate::accounts::AccountKind;
    let (k, base) = match kind {
        AccountKind::Claude => (Kind::Claude, "https://api.anthropic.com"),
        AccountKind::Codex => (Kind::Codex, "https://chatgpt.com/backend-api/codex"),
        AccountKind::Gemini => (Kind::Gemini, "https://cloudcode-pa.googleapis.com"),
        AccountKind::Vertex => (Kind::Vertex, "https://aiplatform.googleapis.com"),
        AccountKind::Antigravity => (Kind::Gemini, "https://daily-cloudcode-pa.googleapis.com"),
        other => (
            crate::accounts::store::provider_kind(other),
            crate::accounts::store::base_url(other),
        ),
    };
    Provider {
        kind: k,
        name: kind.as_type().into(),
        endpoint: crate::upstream::Endpoint::parse(base).unwrap(),
        default_host: true,
        keys: vec![crate::secret::Secret::new("config-key")],
        proxies: vec![None],
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        force_http1: false,
        websockets: false,
        sched_provider: kind.as_type().into(),
        rules: Vec::new(),
        account: Some(std::sync::Arc::new(crate::accounts::wire::tests::account(
            kind, "acc-9",
        ))),
        project: None,
        fallback: Vec::new(),
    }
}

/// `build_request` for `p` and a client request `raw`: (request line, headers, body).
fn built(
    p: &Provider,
    raw: &[u8],
    client: Format,
    stream: bool,
    count: bool,
) -> (String, Vec<(String, String)>, String) {
    let mut head = crate::h1::RequestHead::default();
    assert!(matches!(
        crate::h1::parse_request_head(raw, &mut head),
        Ok(Some(()))
    ));
    let req = Request {
        buf: raw,
        head: &head,
        body_start: head.head_len,
    };
    let mut out = Vec::new();
    let body = req.body().to_vec();
    build_request(
        p,
        p.keys.first(),
        &req,
        &body,
        None,
        "up-model",
        stream,
        count,
        false,
        client,
        &Default::default(),
        &mut out,
    );
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap().to_string();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    (line, headers, body.to_string())
}

fn one<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
    let v: Vec<&str> = h
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(v.len(), 1, "{name}: {h:?}");
    v[0]
}

/// Account providers: the account's path, its token instead of the
/// configured key, each header once, the per-file headers last and winning.
#[test]
fn account_request_heads() {
    use crate::accounts::AccountKind;
    let raw = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nUser-Agent: OpenAI/Python 1.0\r\nanthropic-beta: b1\r\nContent-Length: 2\r\n\r\n{}";
    let p = account_provider(AccountKind::Claude, &[("X-App", "mine")]);
    let (line, h, body) = built(&p, raw, Format::OpenAiChat, true, false);
    assert_eq!(line, "POST /v1/messages?beta=true HTTP/1.1");
    assert_eq!(one(&h, "host"), "api.anthropic.com");
    assert_eq!(one(&h, "authorization"), "Bearer tok-abc");
    assert!(h.iter().all(|(n, _)| n != "x-api-key"));
    assert_eq!(one(&h, "anthropic-beta"), "b1,oauth-2025-04-20");
    assert_eq!(one(&h, "anthropic-version"), "2023-06-01");
    assert_eq!(one(&h, "user-agent"), "claude-cli/2.1.63 (external, cli)");
    assert_eq!(one(&h, "x-app"), "mine");
    assert_eq!(one(&h, "accept"), "text/event-stream");
    assert_eq!(one(&h, "content-type"), "application/json");
    assert_eq!(one(&h, "content-length"), "2");
    assert_eq!(body, "{}");
    let mut names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "each header once");
    let (line, _, _) = built(&p, raw, Format::Claude, false, true);
    assert_eq!(line, "POST /v1/messages/count_tokens?beta=true HTTP/1.1");

    let p = account_provider(AccountKind::Codex, &[]);
    let (line, h, _) = built(&p, raw, Format::OpenAiChat, false, false);
    assert_eq!(line, "POST /backend-api/codex/responses HTTP/1.1");
    assert_eq!(one(&h, "host"), "chatgpt.com");
    assert_eq!(one(&h, "authorization"), "Bearer tok-abc");
    assert_eq!(one(&h, "chatgpt-account-id"), "acc-9");
    assert_eq!(one(&h, "originator"), "codex_cli_rs");
    // The client's User-Agent passes through (CLIProxyAPI's EnsureHeader).
    assert_eq!(one(&h, "user-agent"), "OpenAI/Python 1.0");
    // Codex always streams upstream.
    assert_eq!(one(&h, "accept"), "text/event-stream");

    let p = account_provider(AccountKind::Gemini, &[("User-Agent", "custom")]);
    for (stream, count, path) in [
        (false, false, "/v1internal:generateContent"),
        (true, false, "/v1internal:streamGenerateContent?alt=sse"),
        (false, true, "/v1internal:countTokens"),
    ] {
        let (line, h, _) = built(&p, raw, Format::Gemini, stream, count);
        assert_eq!(line, format!("POST {path} HTTP/1.1"));
        assert_eq!(one(&h, "host"), "cloudcode-pa.googleapis.com");
        assert_eq!(one(&h, "authorization"), "Bearer tok-abc");
        assert_eq!(one(&h, "user-agent"), "custom");
        assert_eq!(
            one(&h, "x-goog-api-client"),
            "google-genai-sdk/1.41.0 gl-node/v22.19.0"
        );
        assert!(h.iter().all(|(n, _)| n != "x-goog-api-key"));
    }
    // A refreshed token is used by the next request.
    let acc = p.account.as_ref().unwrap();
    acc.token.set(crate::secret::Secret::new("tok-new"), None);
    let (_, h, _) = built(&p, raw, Format::Gemini, false, false);
    assert_eq!(one(&h, "authorization"), "Bearer tok-new");
}

#[test]
fn count_answers() {
    use serde_json::json;
    // Claude upstream -> Gemini client; Gemini (CLI) upstream -> Claude client.
    assert_eq!(
        count_answer(Format::Gemini, &json!({"input_tokens": 23})),
        json!({"totalTokens": 23})
    );
    assert_eq!(
        count_answer(Format::Claude, &json!({"totalTokens": 17})),
        json!({"input_tokens": 17})
    );
    // Gemini CLI upstream -> Gemini client: Gemini's full shape.
    assert_eq!(
        count_answer(Format::Gemini, &json!({"totalTokens": 9})),
        json!({"totalTokens": 9, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}]})
    );
}
