//! Account request shapes: each kind's head (exact header set and values),
//! the Claude cloaking transform and the Gemini CLI envelope.

use super::claude::{self, Cloak, CloakMode};
use super::*;
use crate::accounts::{Account, AccountKind, TokenCell, TokenState};
use crate::secret::Secret;
use serde_json::{json, Value};

pub(crate) fn account(kind: AccountKind, account_id: &str) -> Account {
    Account {
        id: format!("{}-a@example.com.json", kind.as_type()),
        path: std::path::PathBuf::from("/auth/a.json"),
        kind,
        email: "a@example.com".into(),
        account_id: account_id.into(),
        plan: "plus".into(),
        project_id: "proj-7".into(),
        vertex: None,
        chat: Default::default(),
        user_agent: String::new(),
        refresh_token: std::sync::RwLock::new(Secret::new("")),
        token: TokenCell::new(TokenState {
            access: Secret::new("tok-abc"),
            expires_at: None,
            version: 0,
        }),
        cloak: Cloak::default(),
        last_refresh: Default::default(),
        retry_at: Default::default(),
        refused: Default::default(),
        discover_at: Default::default(),
        waiters: Default::default(),
    }
}

/// The header lines `write_head` wrote, as (name, value) pairs in order.
pub(crate) fn head_of(
    acc: &Account,
    headers: &[(&str, &str)],
    body: &[u8],
    format: Format,
    model: &str,
    call: Call,
    skip: &[&str],
) -> Vec<(String, String)> {
    head_with(
        acc,
        headers,
        &HeaderDefaults::default(),
        (body, format, model, call),
        skip,
    )
}

/// As [`head_of`], with the operator's header defaults.
fn head_with(
    acc: &Account,
    headers: &[(&str, &str)],
    defaults: &HeaderDefaults,
    (body, format, model, call): (&[u8], Format, &str, Call),
    skip: &[&str],
) -> Vec<(String, String)> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    };
    let any_name = |filter: &NameFilter, f: NameTest<'_>| {
        headers
            .iter()
            .any(|(n, _)| filter.may_hold(n.as_bytes()) && f(n.as_bytes()))
    };
    let client = Client {
        header: &header,
        any_name: &any_name,
        body,
        format,
        defaults,
    };
    let head = Head { model, call };
    let skip = |n: &str| skip.iter().any(|s| s.eq_ignore_ascii_case(n));
    let mut out = Vec::new();
    write_head(acc, &client, head, Some(&skip), &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.is_empty() || text.ends_with("\r\n"));
    text.split_terminator("\r\n")
        .map(|l| {
            let (n, v) = l
                .split_once(": ")
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (n.to_string(), v.to_string())
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

pub(crate) const SEND: Call = Call {
    stream: false,
    count: false,
};
const STREAM: Call = Call {
    stream: true,
    count: false,
};

fn stainless() -> (String, String) {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "MacOS",
        "windows" => "Windows",
        other => panic!("untested OS {other}"),
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => panic!("untested arch {other}"),
    };
    (os.into(), arch.into())
}

#[test]
fn claude_head_for_a_client_that_is_not_claude_code() {
    let acc = account(AccountKind::Claude, "");
    let got = head_of(
        &acc,
        &[
            ("User-Agent", "OpenAI/Python 1.99.0"),
            ("X-Stainless-Lang", "python"),
        ],
        b"{}",
        Format::OpenAiChat,
        "claude-sonnet-4-5",
        STREAM,
        &[],
    );
    let (os, arch) = stainless();
    let mut want = pairs(&[
        ("Authorization", "Bearer tok-abc"),
        ("Anthropic-Beta", claude::DEFAULT_BETAS),
        ("Anthropic-Version", "2023-06-01"),
        ("Anthropic-Dangerous-Direct-Browser-Access", "true"),
        ("X-App", "cli"),
        ("X-Stainless-Retry-Count", "0"),
        ("X-Stainless-Runtime", "node"),
        // The client's own value of a fingerprint header passes through.
        ("X-Stainless-Lang", "python"),
        ("X-Stainless-Timeout", "600"),
        ("Accept-Encoding", "identity"),
        ("X-Stainless-Runtime-Version", "v24.3.0"),
        ("X-Stainless-Package-Version", "0.74.0"),
    ]);
    want.push(("X-Stainless-Os".into(), os));
    want.push(("X-Stainless-Arch".into(), arch));
    want.push((
        "User-Agent".into(),
        "claude-cli/2.1.63 (external, cli)".into(),
    ));
    assert_eq!(got, want);
    assert!(claude::DEFAULT_BETAS.contains("oauth-2025-04-20"));
}

#[test]
fn claude_head_passes_claude_code_values_through() {
    let acc = account(AccountKind::Claude, "");
    let client = [
        ("User-Agent", "claude-cli/2.1.70 (external, cli)"),
        (
            "anthropic-beta",
            " claude-code-20250219,fine-grained-tool-streaming-2025-05-14 ",
        ),
        ("anthropic-version", "2023-06-01"),
        ("X-Stainless-Os", "MacOS"),
        ("X-Stainless-Arch", "arm64"),
        ("X-Stainless-Package-Version", "0.80.0"),
        ("X-Stainless-Timeout", "  "),
        ("X-CPA-CLAUDE-1M", ""),
    ];
    let got = head_of(&acc, &client, b"{}", Format::Claude, "m", SEND, &[]);
    let get = |n: &str| {
        got.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {n}"))
    };
    assert_eq!(
        get("Anthropic-Beta"),
        "claude-code-20250219,fine-grained-tool-streaming-2025-05-14,oauth-2025-04-20,context-1m-2025-08-07"
    );
    assert_eq!(get("User-Agent"), "claude-cli/2.1.70 (external, cli)");
    assert_eq!(get("X-Stainless-Os"), "MacOS");
    assert_eq!(get("X-Stainless-Arch"), "arm64");
    assert_eq!(get("X-Stainless-Package-Version"), "0.80.0");
    // A blank client value does not count.
    assert_eq!(get("X-Stainless-Timeout"), "600");
    // A client list that has an OAuth beta is kept as is.
    let got = head_of(
        &acc,
        &[
            ("anthropic-beta", "oauth-2025-04-20,x"),
            ("X-CPA-CLAUDE-1M", "1"),
        ],
        b"{}",
        Format::Claude,
        "m",
        SEND,
        &[],
    );
    assert_eq!(
        got[1],
        (
            "Anthropic-Beta".into(),
            "oauth-2025-04-20,x,context-1m-2025-08-07".into()
        )
    );
    let got = head_of(
        &acc,
        &[
            ("anthropic-beta", "context-1m-2025-08-07"),
            ("X-CPA-CLAUDE-1M", "1"),
        ],
        b"{}",
        Format::Claude,
        "m",
        SEND,
        &[],
    );
    assert_eq!(got[1].1, "context-1m-2025-08-07,oauth-2025-04-20");
}

#[test]
fn per_file_headers_replace_the_kinds_headers() {
    let acc = account(AccountKind::Claude, "");
    let got = head_of(
        &acc,
        &[],
        b"{}",
        Format::Claude,
        "m",
        SEND,
        &["user-agent", "Anthropic-Beta", "authorization"],
    );
    for name in ["User-Agent", "Anthropic-Beta", "Authorization"] {
        assert!(
            got.iter().all(|(n, _)| n != name),
            "{name} left to the file's headers"
        );
    }
    assert!(got.iter().any(|(n, _)| n == "X-App"));
}

#[test]
fn codex_head() {
    let acc = account(AccountKind::Codex, "acc-123");
    // A Chat client sending nothing: Codex CLI's identity, a new session.
    let got = head_of(&acc, &[], b"{}", Format::OpenAiChat, "gpt-5", STREAM, &[]);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Authorization",
            "Session_id",
            "User-Agent",
            "Originator",
            "Chatgpt-Account-Id"
        ]
    );
    assert_eq!(got[0].1, "Bearer tok-abc");
    assert!(is_uuid(got[1].1.as_bytes()), "{}", got[1].1);
    assert_eq!(&got[1].1[14..15], "4", "version 4");
    assert_eq!(got[2].1, codex::USER_AGENT);
    assert_eq!(got[3].1, "codex_cli_rs");
    assert_eq!(got[4].1, "acc-123");
    // Another request gets another session.
    let again = head_of(&acc, &[], b"{}", Format::OpenAiChat, "gpt-5", STREAM, &[]);
    assert_ne!(again[1].1, got[1].1);

    // Codex CLI itself (Responses): its headers pass through; the prompt
    // cache key is the conversation.
    let client = [
        (
            "User-Agent",
            "codex_cli_rs/0.120.0 (Ubuntu 24.4.0; x86_64) xterm",
        ),
        ("Originator", "codex_exec"),
        ("Version", "0.120.0"),
        ("X-Codex-Turn-Metadata", "{\"turn\":1}"),
        ("X-Client-Request-Id", "req-9"),
    ];
    let body = br#"{"model":"gpt-5","prompt_cache_key":"pck-42","input":[]}"#;
    let got = head_of(
        &acc,
        &client,
        body,
        Format::OpenAiResponses,
        "gpt-5",
        STREAM,
        &[],
    );
    assert_eq!(
        got,
        pairs(&[
            ("Authorization", "Bearer tok-abc"),
            ("Version", "0.120.0"),
            ("Conversation_id", "pck-42"),
            ("Session_id", "pck-42"),
            ("X-Codex-Turn-Metadata", "{\"turn\":1}"),
            ("X-Client-Request-Id", "req-9"),
            (
                "User-Agent",
                "codex_cli_rs/0.120.0 (Ubuntu 24.4.0; x86_64) xterm"
            ),
            ("Originator", "codex_exec"),
            ("Chatgpt-Account-Id", "acc-123"),
        ])
    );
    // The client's session id wins over the cache key; no account id, no header.
    let acc = account(AccountKind::Codex, "");
    let got = head_of(
        &acc,
        &[("session_id", "s-1")],
        body,
        Format::OpenAiResponses,
        "gpt-5",
        STREAM,
        &[],
    );
    assert!(got.contains(&("Session_id".into(), "s-1".into())));
    assert!(got.contains(&("Conversation_id".into(), "pck-42".into())));
    assert!(got.iter().all(|(n, _)| n != "Chatgpt-Account-Id"));
    // Only a Responses client's cache key counts.
    let got = head_of(&acc, &[], body, Format::Claude, "gpt-5", STREAM, &[]);
    assert!(got.iter().all(|(n, _)| n != "Conversation_id"));
}

#[test]
fn gemini_cli_head_and_paths() {
    let acc = account(AccountKind::Gemini, "");
    let got = head_of(
        &acc,
        &[("User-Agent", "google-genai-sdk/1.0")],
        b"{}",
        Format::Gemini,
        "gemini-2.5-pro",
        STREAM,
        &[],
    );
    let (os, arch) = node_platform();
    assert_eq!(
        got,
        vec![
            ("Authorization".to_string(), "Bearer tok-abc".to_string()),
            (
                "User-Agent".into(),
                format!("GeminiCLI/0.31.0/gemini-2.5-pro ({os}; {arch})")
            ),
            (
                "X-Goog-Api-Client".into(),
                "google-genai-sdk/1.41.0 gl-node/v22.19.0".into()
            ),
        ]
    );
    assert_eq!(
        os,
        std::env::consts::OS
            .replace("macos", "darwin")
            .replace("windows", "win32")
    );
    let path = |call: Call| {
        let mut out = Vec::new();
        assert!(write_path(&acc, &mut out, "m", call));
        String::from_utf8(out).unwrap()
    };
    assert_eq!(path(SEND), "/v1internal:generateContent");
    assert_eq!(path(STREAM), "/v1internal:streamGenerateContent?alt=sse");
    let count = Call {
        stream: false,
        count: true,
    };
    assert_eq!(path(count), "/v1internal:countTokens");
    for kind in [AccountKind::Claude, AccountKind::Codex] {
        let mut out = Vec::new();
        assert!(!write_path(&account(kind, ""), &mut out, "m", SEND));
        assert!(out.is_empty());
    }
}

#[test]
fn account_formats() {
    assert_eq!(AccountKind::Claude.format(), Format::Claude);
    assert_eq!(AccountKind::Codex.format(), Format::Codex);
    assert_eq!(AccountKind::Gemini.format(), Format::GeminiCli);
}

#[test]
fn gemini_cli_envelope() {
    // The client's body is written byte for byte.
    let body =
        br#"{"contents":[{"role":"user","parts":[{"text":"h\u00e9"}]}] , "generationConfig":{}}"#;
    let mut out = Vec::new();
    gemini_cli::wrap(body, "gemini-2.5-pro", "proj-\"7", &mut out);
    let mut want = br#"{"model":"gemini-2.5-pro","project":"proj-\"7","request":"#.to_vec();
    want.extend_from_slice(body);
    want.push(b'}');
    assert_eq!(out, want);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["request"]["contents"][0]["parts"][0]["text"], "hé");
    out.clear();
    gemini_cli::wrap_count(body, &mut out);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1);
    assert_eq!(v["request"], serde_json::from_slice::<Value>(body).unwrap());

    // A Claude count_tokens body: translated, without model and safety settings.
    let claude =
        br#"{"model":"claude-x","system":"be brief","messages":[{"role":"user","content":"hi"}]}"#;
    let c = gemini_cli::count_request(Format::Claude, claude, "gemini-2.5-pro").unwrap();
    let v: Value = serde_json::from_slice(&c).unwrap();
    let req = v["request"].as_object().unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1);
    assert_eq!(req["contents"][0]["parts"][0]["text"], "hi");
    assert_eq!(req["systemInstruction"]["parts"][0]["text"], "be brief");
    assert!(!req.contains_key("model") && !req.contains_key("safetySettings"));
    assert!(gemini_cli::count_request(Format::OpenAiChat, b"{}", "m").is_none());
    // A Gemini client's count body goes as is.
    let g = br#"{"generateContentRequest":{"contents":[]}}"#;
    let c = gemini_cli::count_request(Format::Gemini, g, "m").unwrap();
    assert_eq!(c, [&b"{\"request\":"[..], g, b"}"].concat());
    assert!(gemini_cli::count_request(Format::Claude, b"not json", "m").is_none());
}

#[test]
fn gemini_cli_answers_unwrap() {
    use crate::translate::response::{translate_response_tools, RespCtx};
    let inner = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4},"modelVersion":"gemini-2.5-pro","responseId":"r1"}"#;
    let wrapped = format!(r#"{{"response": {inner} ,"traceId":"t"}}"#);
    assert_eq!(gemini_cli::unwrap(wrapped.as_bytes()), inner.as_bytes());
    // No `response` (an error body): the data itself.
    assert_eq!(gemini_cli::unwrap(b"{\"error\":{}}"), b"{\"error\":{}}");
    let ctx = RespCtx {
        client_model: "client-model",
        created: 5,
    };
    let tr = |from: Format, to: Format, body: &[u8]| {
        let mut out = Vec::new();
        translate_response_tools(from, to, body, &ctx, None, &mut out).unwrap();
        out
    };
    // A Gemini client gets the answer's bytes.
    assert_eq!(
        tr(Format::GeminiCli, Format::Gemini, wrapped.as_bytes()),
        inner.as_bytes()
    );
    for to in [Format::OpenAiChat, Format::Claude, Format::OpenAiResponses] {
        assert_eq!(
            tr(Format::GeminiCli, to, wrapped.as_bytes()),
            tr(Format::Gemini, to, inner.as_bytes()),
            "{to:?}"
        );
    }
}

// ---- cloaking ----

fn cloaked(body: &Value, cfg: &Cloak, ua: Option<&str>, model: &str) -> Option<Value> {
    let raw = serde_json::to_vec(body).unwrap();
    let mut out = Vec::new();
    let changed = claude::cloak(&raw, cfg, ua.map(str::as_bytes), model, "acct-1", &mut out);
    changed.then(|| {
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
    })
}

fn check_billing(block: &Value, body: &[u8]) {
    use sha2::{Digest, Sha256};
    assert_eq!(block["type"], "text");
    assert_eq!(
        block.as_object().unwrap().len(),
        2,
        "no cache_control on the billing block"
    );
    let text = block["text"].as_str().unwrap();
    let rest = text
        .strip_prefix("x-anthropic-billing-header: cc_version=2.1.63.")
        .unwrap_or_else(|| panic!("{text}"));
    let (build, rest) = rest.split_at(3);
    assert!(build.bytes().all(|c| c.is_ascii_hexdigit()), "{text}");
    let mut hex = Vec::new();
    push_hex(&mut hex, &Sha256::digest(body));
    let cch = std::str::from_utf8(&hex[..5]).unwrap();
    assert_eq!(rest, format!("; cc_entrypoint=cli; cch={cch};"));
}

#[test]
fn cloak_leaves_claude_code_alone() {
    let body = json!({"model":"claude-sonnet-4-5","system":"s","messages":[]});
    let auto = Cloak::default();
    assert_eq!(auto.mode, CloakMode::Auto);
    for ua in [
        "claude-cli/2.1.63 (external, cli)",
        "claude-cli/1.0.0 (external, sdk-ts)",
    ] {
        assert!(cloaked(&body, &auto, Some(ua), "m").is_none(), "{ua}");
    }
    // `always` cloaks Claude Code too; `never` nobody.
    let always = Cloak {
        mode: CloakMode::Always,
        ..Cloak::default()
    };
    assert!(cloaked(&body, &always, Some("claude-cli/2.1.63"), "m").is_some());
    let never = Cloak {
        mode: CloakMode::Never,
        ..Cloak::default()
    };
    assert!(cloaked(&body, &never, Some("curl/8"), "m").is_none());
    assert!(cloaked(&body, &never, None, "m").is_none());
    // Not a JSON object: left alone.
    let mut out = Vec::new();
    assert!(!claude::cloak(b"[1]", &auto, None, "m", "k", &mut out));
    assert!(!claude::cloak(b"{\"a\":", &auto, None, "m", "k", &mut out));
    assert!(out.is_empty());
}

#[test]
fn cloak_string_system_and_missing_metadata() {
    let body = json!({"model":"claude-sonnet-4-5","max_tokens":5,"system":"be \"brief\"\n","messages":[{"role":"user","content":"hi"}]});
    let raw = serde_json::to_vec(&body).unwrap();
    let got = cloaked(
        &body,
        &Cloak::default(),
        Some("OpenAI/Python 1.0"),
        "claude-sonnet-4-5",
    )
    .unwrap();
    let sys = got["system"].as_array().unwrap();
    assert_eq!(sys.len(), 3);
    check_billing(&sys[0], &raw);
    assert_eq!(
        sys[1],
        serde_json::from_str::<Value>(claude::AGENT_BLOCK).unwrap()
    );
    assert_eq!(
        sys[2],
        json!({"type":"text","text":"be \"brief\"\n","cache_control":{"type":"ephemeral"}})
    );
    let uid = got["metadata"]["user_id"].as_str().unwrap();
    assert!(claude::is_valid_user_id(uid.as_bytes()), "{uid}");
    assert_eq!(got["metadata"].as_object().unwrap().len(), 1);
    // Everything else as it was.
    let mut rest = got.clone();
    rest.as_object_mut().unwrap().remove("system");
    rest.as_object_mut().unwrap().remove("metadata");
    let mut orig = body.clone();
    orig.as_object_mut().unwrap().remove("system");
    assert_eq!(rest, orig);
    // A client without a User-Agent is not Claude Code either.
    assert!(cloaked(&body, &Cloak::default(), None, "m").is_some());
}

#[test]
fn cloak_array_system_keeps_text_blocks() {
    let body = json!({
        "system":[
            {"type":"text","text":"one"},
            {"type":"image","source":{}},
            {"type":"text","text":"two","cache_control":{"type":"ephemeral","ttl":"1h"}}
        ],
        "metadata":{"user_id":"not-valid","other":1},
        "messages":[]
    });
    let got = cloaked(&body, &Cloak::default(), Some("curl/8"), "claude-opus-4-1").unwrap();
    let sys = got["system"].as_array().unwrap();
    assert_eq!(sys.len(), 4);
    assert_eq!(
        sys[2],
        json!({"type":"text","text":"one","cache_control":{"type":"ephemeral"}})
    );
    assert_eq!(
        sys[3],
        json!({"type":"text","text":"two","cache_control":{"type":"ephemeral","ttl":"1h"}})
    );
    assert_eq!(got["metadata"]["other"], 1);
    assert!(claude::is_valid_user_id(
        got["metadata"]["user_id"].as_str().unwrap().as_bytes()
    ));

    // Strict: the two Claude Code blocks only.
    let strict = Cloak {
        strict: true,
        ..Cloak::default()
    };
    let got = cloaked(&body, &strict, Some("curl/8"), "claude-opus-4-1").unwrap();
    assert_eq!(got["system"].as_array().unwrap().len(), 2);
}

#[test]
fn cloak_metadata_shapes() {
    let valid = claude::new_user_id();
    assert!(claude::is_valid_user_id(valid.as_bytes()), "{valid}");
    let ua = Some("curl/8");
    let cfg = Cloak::default();
    // A valid user id is kept.
    let body = json!({"metadata":{"user_id": valid}, "messages":[]});
    let got = cloaked(&body, &cfg, ua, "claude-3-5-haiku-20241022").unwrap_or(body.clone());
    assert_eq!(got["metadata"]["user_id"], valid.as_str());
    // claude-3-5-haiku: no system prompt, and with a valid id nothing changes.
    assert!(got.get("system").is_none());
    assert!(cloaked(&body, &cfg, ua, "claude-3-5-haiku-20241022").is_none());
    // Empty metadata, null metadata, empty body.
    for body in [json!({"metadata":{}}), json!({"metadata":null}), json!({})] {
        let got = cloaked(&body, &cfg, ua, "claude-3-5-haiku-latest").unwrap();
        assert_eq!(got.as_object().unwrap().len(), 1, "{got}");
        let uid = got["metadata"]["user_id"].as_str().unwrap();
        assert!(claude::is_valid_user_id(uid.as_bytes()));
    }
    let got = cloaked(&json!({}), &cfg, ua, "claude-sonnet-4-5").unwrap();
    assert_eq!(got["system"].as_array().unwrap().len(), 2);
    // A new id per request unless cached per account.
    let a = cloaked(&json!({}), &cfg, ua, "m").unwrap();
    let b = cloaked(&json!({}), &cfg, ua, "m").unwrap();
    assert_ne!(a["metadata"], b["metadata"]);
    let cached = Cloak {
        cache_user_id: true,
        ..Cloak::default()
    };
    let a = cloaked(&json!({}), &cached, ua, "m").unwrap();
    let b = cloaked(&json!({}), &cached, ua, "m").unwrap();
    assert_eq!(a["metadata"], b["metadata"]);
    assert_eq!(
        claude::cached_user_id("acct-1"),
        a["metadata"]["user_id"].as_str().unwrap()
    );
    assert_ne!(
        claude::cached_user_id("acct-2"),
        claude::cached_user_id("acct-1")
    );
}

#[test]
fn cloak_is_idempotent() {
    for body in [
        json!({"system":"s","messages":[]}),
        json!({"system":[{"type":"text","text":"a"}],"metadata":{"x":1}}),
        json!({}),
    ] {
        let once = cloaked(
            &body,
            &Cloak::default(),
            Some("curl/8"),
            "claude-sonnet-4-5",
        )
        .unwrap();
        assert!(
            cloaked(
                &once,
                &Cloak::default(),
                Some("curl/8"),
                "claude-sonnet-4-5"
            )
            .is_none(),
            "{once}"
        );
    }
}

#[test]
fn cloak_settings_from_file_fields() {
    assert_eq!(Cloak::from_fields(None, None, None, None), Cloak::default());
    // Until accounts carry their file's settings, CLIProxyAPI's default.
    let acc = account(AccountKind::Claude, "");
    assert_eq!(*claude::account_cloak(&acc), Cloak::default());
    let c = Cloak::from_fields(
        Some("ALWAYS"),
        Some("True"),
        Some("true"),
        Some(" proxy , a,API,,x\u{200B}y , Anthropic API"),
    );
    assert_eq!(
        c,
        Cloak {
            mode: CloakMode::Always,
            strict: true,
            cache_user_id: true,
            // Trimmed, two characters or more, none already broken, longest first.
            sensitive_words: vec!["Anthropic API".into(), "proxy".into(), "API".into()],
        }
    );
    assert_eq!(
        Cloak::from_fields(Some("never"), Some("yes"), None, None).mode,
        CloakMode::Never
    );
    assert!(!Cloak::from_fields(Some("never"), Some("yes"), None, None).strict);
    assert_eq!(
        Cloak::from_fields(Some("bogus"), None, None, None).mode,
        CloakMode::Auto
    );
}

#[test]
fn user_ids_and_uuids() {
    let u = uuid_v4();
    assert!(is_uuid(u.as_bytes()), "{u}");
    assert_eq!(&u[14..15], "4");
    assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    assert_ne!(uuid_v4(), u);
    let hex64 = "a".repeat(64);
    let id = format!("user_{hex64}_account_{u}_session_{u}");
    assert!(claude::is_valid_user_id(id.as_bytes()));
    for bad in [
        format!("user_{}_account_{u}_session_{u}", "a".repeat(63)),
        format!("user_{hex64}_account_{u}_session_{}", u.to_uppercase()),
        format!("user_{hex64}_account_{u}_session_{u}x"),
        format!("user_{hex64}_session_{u}"),
        "user_abc_account__session_".to_string(),
        String::new(),
    ] {
        assert!(!claude::is_valid_user_id(bad.as_bytes()), "{bad}");
    }
}

#[test]
fn claude_body_betas_move_to_the_header() {
    let acc = account(AccountKind::Claude, "");
    let body = br#"{"model":"m","betas":["files-api-2025-04-14"," oauth-2025-04-20 ","bad\"q",""],"messages":[]}"#;
    let got = head_of(&acc, &[], body, Format::Claude, "m", SEND, &[]);
    assert_eq!(
        got[1].1,
        format!("{},files-api-2025-04-14", claude::DEFAULT_BETAS)
    );
    // One string works too; only a Claude client's body counts.
    let one = br#"{"betas":"x-1"}"#;
    let got = head_of(
        &acc,
        &[("anthropic-beta", "a")],
        one,
        Format::Claude,
        "m",
        SEND,
        &[],
    );
    assert_eq!(got[1].1, "a,oauth-2025-04-20,x-1");
    let got = head_of(
        &acc,
        &[("anthropic-beta", "a")],
        one,
        Format::OpenAiChat,
        "m",
        SEND,
        &[],
    );
    assert_eq!(got[1].1, "a,oauth-2025-04-20");
    // The body loses them, nothing else.
    let out = claude::without_body_betas(body).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v, json!({"model":"m","messages":[]}));
    assert_eq!(
        claude::without_body_betas(b" {\"betas\":[] , \"a\" : {\"b\":1}}").unwrap(),
        b"{\"a\":{\"b\":1}}"
    );
    assert!(claude::without_body_betas(br#"{"a":"\"betas\""}"#).is_none());
    assert!(claude::without_body_betas(b"{\"betas\":").is_none());
}

#[test]
fn cloak_obfuscates_sensitive_words() {
    let cfg = Cloak::from_fields(None, None, None, Some("proxy,API,Anthropic API,ü-word"));
    let z = '\u{200B}';
    let body = json!({
        "system": [{"type":"text","text":"Use the PROXY api"}, {"type":"image","text":"proxy"}],
        "messages": [
            {"role":"user","content":"an Anthropic API proxy, Ü-WORD\n\"api\""},
            {"role":"assistant","content":[{"type":"text","text":"no match"},{"type":"tool_use","name":"proxy"}]},
            {"role":"user","content":[{"type":"text","text":"apiapi"}]}
        ],
        "tools": [{"name":"proxy"}]
    });
    let got = cloaked(&body, &cfg, Some("curl/8"), "claude-sonnet-4-5").unwrap();
    let sys = got["system"].as_array().unwrap();
    // The client's text block (third after the two cloak blocks) is broken up;
    // the image block is dropped by the cloak.
    assert_eq!(sys.len(), 3);
    assert_eq!(sys[2]["text"], format!("Use the P{z}ROXY a{z}pi"));
    let m = got["messages"].as_array().unwrap();
    assert_eq!(
        m[0]["content"],
        format!("an A{z}nthropic API p{z}roxy, Ü{z}-WORD\n\"a{z}pi\"")
    );
    assert_eq!(m[1]["content"][0]["text"], "no match");
    assert_eq!(m[1]["content"][1]["name"], "proxy");
    assert_eq!(m[2]["content"][0]["text"], format!("a{z}pia{z}pi"));
    assert_eq!(got["tools"][0]["name"], "proxy");
    // A broken word no longer matches (a shorter word inside a longer one
    // still does, as with CLIProxyAPI's regular expression).
    let again = cloaked(&got, &cfg, Some("curl/8"), "claude-sonnet-4-5").unwrap();
    assert_eq!(
        again["messages"][0]["content"],
        format!("an A{z}nthropic A{z}PI p{z}roxy, Ü{z}-WORD\n\"a{z}pi\"")
    );
    assert!(cloaked(&again, &cfg, Some("curl/8"), "claude-sonnet-4-5").is_none());
    // Without cloaking, no obfuscation either (Claude Code in auto mode).
    assert!(cloaked(&body, &cfg, Some("claude-cli/2.1.63"), "m").is_none());
    // Only the words changed: a body needing no other edit still gets them.
    let b = json!({"metadata":{"user_id": claude::new_user_id()},"messages":[{"role":"user","content":"api"}]});
    let got = cloaked(&b, &cfg, Some("curl/8"), "claude-3-5-haiku-latest").unwrap();
    assert_eq!(got["messages"][0]["content"], format!("a{z}pi"));
    assert_eq!(got["metadata"], b["metadata"]);
}

fn value<'a>(head: &'a [(String, String)], name: &str) -> Option<&'a str> {
    head.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn configured() -> HeaderDefaults {
    HeaderDefaults {
        claude_user_agent: "claude-cli/9.9.9 (external, cli)".into(),
        claude_package_version: "0.99.0".into(),
        claude_runtime_version: "v99.0.0".into(),
        claude_timeout: "900".into(),
        codex_user_agent: "my-codex/1.0".into(),
        codex_beta_features: "feature-a".into(),
    }
}

/// `claude-header-defaults` replace the built-in fallbacks for a client
/// that sends none of the headers (v6.9.7 legacy device mode).
#[test]
fn claude_header_defaults_fill_what_the_client_left_out() {
    let acc = account(AccountKind::Claude, "");
    let got = head_with(
        &acc,
        &[("User-Agent", "OpenAI/Python 1.99.0")],
        &configured(),
        (b"{}", Format::OpenAiChat, "m", SEND),
        &[],
    );
    assert_eq!(
        value(&got, "user-agent"),
        Some("claude-cli/9.9.9 (external, cli)")
    );
    assert_eq!(value(&got, "x-stainless-package-version"), Some("0.99.0"));
    assert_eq!(value(&got, "x-stainless-runtime-version"), Some("v99.0.0"));
    assert_eq!(value(&got, "x-stainless-timeout"), Some("900"));
    // Not configurable in legacy mode: this host's platform.
    let (os, arch) = stainless();
    assert_eq!(value(&got, "x-stainless-os"), Some(os.as_str()));
    assert_eq!(value(&got, "x-stainless-arch"), Some(arch.as_str()));
}

/// The client's own values beat the defaults (a Claude Code client keeps
/// its `User-Agent`); a provider's or file's `headers` beat both (the
/// writer leaves those names to them).
#[test]
fn claude_client_values_and_file_headers_beat_the_defaults() {
    let acc = account(AccountKind::Claude, "");
    let got = head_with(
        &acc,
        &[
            ("User-Agent", "claude-cli/2.1.70 (external, cli)"),
            ("X-Stainless-Package-Version", "0.80.0"),
            ("X-Stainless-Runtime-Version", "v22.1.0"),
            ("X-Stainless-Timeout", "120"),
        ],
        &configured(),
        (b"{}", Format::Claude, "m", SEND),
        &[],
    );
    assert_eq!(
        value(&got, "user-agent"),
        Some("claude-cli/2.1.70 (external, cli)")
    );
    assert_eq!(value(&got, "x-stainless-package-version"), Some("0.80.0"));
    assert_eq!(value(&got, "x-stainless-runtime-version"), Some("v22.1.0"));
    assert_eq!(value(&got, "x-stainless-timeout"), Some("120"));
    let skipped = head_with(
        &acc,
        &[],
        &configured(),
        (b"{}", Format::Claude, "m", SEND),
        &["user-agent", "x-stainless-timeout"],
    );
    assert_eq!(value(&skipped, "user-agent"), None);
    assert_eq!(value(&skipped, "x-stainless-timeout"), None);
    assert_eq!(
        value(&skipped, "x-stainless-package-version"),
        Some("0.99.0")
    );
}

/// Empty defaults keep the built-in values (same head as without config).
#[test]
fn empty_header_defaults_keep_the_builtin_head() {
    for kind in [AccountKind::Claude, AccountKind::Codex] {
        let acc = account(kind, "acct-1");
        let a = head_of(&acc, &[], b"{}", Format::OpenAiChat, "m", SEND, &[]);
        let b = head_with(
            &acc,
            &[],
            &HeaderDefaults::default(),
            (b"{}", Format::OpenAiChat, "m", SEND),
            &[],
        );
        let strip = |h: Vec<(String, String)>| {
            h.into_iter()
                .filter(|(n, _)| n != "Session_id")
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(a.clone()), strip(b), "{kind:?}");
        let ua = value(&a, "user-agent").map(String::from);
        let builtin = match kind {
            AccountKind::Claude => claude::USER_AGENT,
            _ => codex::USER_AGENT,
        };
        assert_eq!(ua.as_deref(), Some(builtin));
    }
}

/// `codex-header-defaults.user-agent` beats the client's `User-Agent` for
/// an OAuth Codex account (v6.9.7's config precedence); a file's `headers`
/// still win.
#[test]
fn codex_user_agent_default_beats_the_client_and_loses_to_file_headers() {
    let acc = account(AccountKind::Codex, "acct-1");
    for client_ua in [None, Some("codex_cli_rs/0.200.0 (Linux; x86_64)")] {
        let headers: Vec<(&str, &str)> = client_ua.map(|u| ("User-Agent", u)).into_iter().collect();
        let got = head_with(
            &acc,
            &headers,
            &configured(),
            (b"{}", Format::OpenAiResponses, "m", STREAM),
            &[],
        );
        assert_eq!(
            value(&got, "user-agent"),
            Some("my-codex/1.0"),
            "{client_ua:?}"
        );
    }
    let got = head_with(
        &acc,
        &[],
        &configured(),
        (b"{}", Format::OpenAiResponses, "m", STREAM),
        &["user-agent"],
    );
    assert_eq!(value(&got, "user-agent"), None);
}

/// `NameFilter` never turns away a name of its set, in any case; and
/// whatever it lets through is only a candidate (the callers compare).
#[test]
fn name_filter_holds_every_name_of_its_set() {
    let set = ["user-agent", "x-app", "anthropic-beta", "x-stainless-os"];
    let f = NameFilter::of(&set).expect("short names");
    for n in set {
        for name in [n.to_string(), n.to_ascii_uppercase(), {
            let mut m = n.to_string();
            m[..1].make_ascii_uppercase();
            m
        }] {
            assert!(f.may_hold(name.as_bytes()), "{name}");
        }
    }
    // Names whose length or first letter is in no member: turned away.
    for other in ["", "host", "content-length", "authorization", "y-app"] {
        assert!(!f.may_hold(other.as_bytes()), "{other}");
    }
    assert!(!f.may_hold("u".repeat(200).as_bytes()));
    assert_eq!(NameFilter::of(&[&"a".repeat(64)]), None);
    assert!(NameFilter::of(&[&"a".repeat(63)]).is_some());
}
