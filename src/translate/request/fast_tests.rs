//! The tree-less OpenAI Chat reader ([`parse::chat_fast`]) against the
//! general path (tree → [`parse::chat`]): the same request, the same
//! session seed and the same translated bytes for every upstream format,
//! on the common shapes and their near misses, and on every truncation and
//! many one-byte corruptions of them (where it must give up or agree).

use super::*;

/// Bodies the fast reader takes whole (`true`) or must give up on
/// (`false`), each checked against the general path.
fn corpus() -> Vec<(bool, String)> {
    let v = |s: &str| s.to_string();
    vec![
        // The bench scenario and the SDK shapes around it.
        (
            true,
            v(r#"{"model":"claude40","messages":[{"role":"user","content":"x"}],"stream":true}"#),
        ),
        (
            true,
            v(r#"{"messages":[{"role":"user","content":"x"}],"model":"claude40","stream":false}"#),
        ),
        (
            true,
            v(r#"{"messages":[{"content":"hi","role":"user"}],"model":"m"}"#),
        ),
        (
            true,
            v(
                r#" { "model" : "m" , "messages" : [ { "role" : "system" , "content" : "be brief" } , { "role" : "user" , "content" : "q" } ] , "max_tokens" : 256 , "stream" : true } "#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"system","content":"s1"},{"role":"developer","content":"s2"},{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"assistant","content":"c"},{"role":"assistant","content":""},{"role":"system","content":"late"},{"role":"user","content":"d"}]}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"","name":"n"},{"role":"user","content":"  spaced  ","name":{"x":[1,2]}}]}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"é 😀 \u00e9 \ud83d\ude00 \"q\" \\ \n\t \/"}]}"#,
            ),
        ),
        (
            true,
            v(r#"{"model":"m(high)","messages":[{"role":"user","content":"x"}]}"#),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":100,"max_tokens":5,"temperature":0.5,"top_p":1,"top_k":40,"seed":7,"n":1,"stop":["a","b"],"user":"u-1"}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stop":"end","max_tokens":1e3,"temperature":"hot"}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"high"}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"none"}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning":{"effort":"low","summary":"detailed"}}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":{"user_id":"meta"},"user":"u"}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":{"user_id":"  "},"user":"u"}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"prompt_cache_key":"pk","session_id":"s"}"#,
            ),
        ),
        (
            true,
            v(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"sessionId":" s2 "}"#),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"conversation":{"id":"c1"},"conversation_id":"c2"}"#,
            ),
        ),
        (
            true,
            v(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"conversation":"c3"}"#),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"get","description":"d","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}}],"tool_choice":"required","parallel_tool_calls":false}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"get"}},"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"}}}}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}]},{"role":"user","content":"x","cache_control":{"type":"ephemeral"}}]}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}]},{"role":"assistant","content":"ok","reasoning_content":"thought"}]}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"robot","content":"?"},{"content":"no role"},{"role":"user"},{"role":"user","content":null},{"role":"user","content":7},[],"str",1]}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"m","messages":[{"role":"user","role":"assistant","content":"dup role"},{"role":"user","content":"a","content":"b"},{"role":"us\u0065r","content":"escaped role"},{"rol\u0065":"user","content":"escaped key"}]}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":"first","model":"second","messages":[{"role":"user","content":"1"}],"messages":[{"role":"user","content":"2"}],"max_tokens":1,"max_tokens":2}"#,
            ),
        ),
        (
            true,
            v(
                r#"{"model":7,"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true},"logprobs":false,"extra":[[[{"deep":[1,2,{"k":null}]}]]],"frequency_penalty":-0.5}"#,
            ),
        ),
        (true, v(r#"{"model":"m","messages":[]}"#)),
        (true, v(r#"{}"#)),
        // Given up: tool results need the whole list, an escaped
        // top-level key, `messages` not an array, not an object.
        (
            false,
            v(
                r#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"r1"},{"role":"tool","tool_call_id":"c1","content":"r2"}]}"#,
            ),
        ),
        (
            false,
            v(r#"{"model":"m","messages":[{"role":"function","name":"f","content":"r"}]}"#),
        ),
        (
            false,
            v(r#"{"mod\u0065l":"m","messages":[{"role":"user","content":"x"}]}"#),
        ),
        (
            false,
            v(r#"{"model":"m","messages":{"role":"user","content":"x"}}"#),
        ),
        (false, v(r#"{"model":"m","messages":"x"}"#)),
        (false, v(r#"[{"model":"m"}]"#)),
        (
            false,
            v(r#"{"model":"m","messages":[{"role":"user","content":"x"}]} trailing"#),
        ),
        (
            false,
            v(r#"{"model":"m","messages":[{"role":"user","content":"x"},]}"#),
        ),
    ]
}

/// The general path's request and session seed for `body`, if it parses.
fn general(body: &[u8]) -> Option<(String, Option<String>)> {
    let root = tree::parse(body).ok().filter(|r| r.is_obj())?;
    Some((
        format!("{:?}", parse::chat(&root)),
        parse::session_seed(&root),
    ))
}

/// `chat_fast` gave up, or gave what the general path gives.
fn check(body: &[u8]) -> bool {
    let Some(fast) = parse::chat_fast(body) else {
        return false;
    };
    let want = general(body).unwrap_or_else(|| {
        panic!(
            "fast path took a body the tree refuses: {}",
            String::from_utf8_lossy(body)
        )
    });
    assert_eq!(
        (format!("{:?}", fast.req), fast.session_seed),
        want,
        "{}",
        String::from_utf8_lossy(body)
    );
    true
}

#[test]
fn fast_chat_reader_gives_the_general_request() {
    for (takes, body) in corpus() {
        assert_eq!(check(body.as_bytes()), takes, "{body}");
    }
}

/// Every upstream format gets the same bytes (and the same errors) with
/// and without the fast reader.
#[test]
fn fast_chat_translation_is_byte_identical() {
    let targets = [
        Format::Claude,
        Format::Gemini,
        Format::GeminiCli,
        Format::OpenAiResponses,
        Format::Codex,
    ];
    let mut bodies: Vec<String> = corpus().into_iter().map(|(_, b)| b).collect();
    bodies
        .push("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\u{1}\"}]}".into());
    bodies.push("not json".into());
    for body in &bodies {
        for to in targets {
            for (model, max) in [("claude-sonnet-4-5", None), ("m(low)", Some(64000))] {
                for stream in [false, true] {
                    let opts = ReqOpts {
                        upstream_model: model,
                        stream,
                        claude_default_max_tokens: max,
                    };
                    let run = |fast: bool| {
                        let mut out = b"prefix".to_vec();
                        let r = translate_with(
                            Format::OpenAiChat,
                            to,
                            body.as_bytes(),
                            &opts,
                            None,
                            fast,
                            &mut out,
                        );
                        (r.map_err(|e| e.message), String::from_utf8(out).unwrap())
                    };
                    let want = run(false);
                    let got = run(true);
                    if to == Format::Claude && want.0.is_ok() {
                        // The derived user id is there, from the same seed.
                        assert!(want.1.contains("\"user_id\":"), "{}", want.1);
                    }
                    assert_eq!(got, want, "{to:?} {model} {stream} {body}");
                }
            }
        }
    }
}

/// Every truncation and many one-byte corruptions of each body: the fast
/// reader gives up or agrees with the general path (it never takes a body
/// the tree refuses).
#[test]
fn fast_chat_reader_on_cut_and_corrupted_bodies() {
    const SUBST: &[u8] = b"\"\\{}[],: x0-\x01\xc3\xa9nt";
    let mut taken = 0;
    for (_, body) in corpus() {
        let b = body.as_bytes();
        for cut in 0..b.len() {
            taken += usize::from(check(&b[..cut]));
        }
        for at in 0..b.len() {
            for &c in SUBST {
                if b[at] == c {
                    continue;
                }
                let mut m = b.to_vec();
                m[at] = c;
                taken += usize::from(check(&m));
            }
        }
    }
    // Many corruptions stay valid (inside strings, say) and are taken.
    assert!(taken > 1000, "{taken}");
}

/// Large bodies: plain conversations take the fast reader; ones with tool
/// results (found before reading) or tools go to the tree; all give the
/// general path's bytes.
#[test]
fn large_bodies_agree_and_skip_the_reader_when_it_would_give_up() {
    let mut msgs = String::new();
    for i in 0..400 {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        msgs.push_str(&format!(
            r#"{{"role":"{role}","content":"turn {i}: some text é \"quoted\""}},"#
        ));
    }
    let plain = format!(
        r#"{{"model":"m","messages":[{}]}}"#,
        msgs.trim_end_matches(',')
    );
    let tool = format!(
        r#"{{"model":"m","messages":[{msgs}{{"role":"assistant","content":null,"tool_calls":[{{"id":"c","type":"function","function":{{"name":"f","arguments":"{{}}"}}}}]}},{{"role":"tool","tool_call_id":"c","content":"r"}}]}}"#
    );
    assert!(plain.len() > FAST_PRECHECK_BYTES && !may_give_up(plain.as_bytes()));
    assert!(check(plain.as_bytes()));
    assert!(may_give_up(tool.as_bytes()));
    assert!(!check(tool.as_bytes()));
    let opts = ReqOpts {
        upstream_model: "claude-sonnet-4-5",
        stream: true,
        claude_default_max_tokens: None,
    };
    for body in [&plain, &tool] {
        for to in [Format::Claude, Format::Gemini, Format::OpenAiResponses] {
            let run = |fast: bool| {
                let mut out = Vec::new();
                translate_with(
                    Format::OpenAiChat,
                    to,
                    body.as_bytes(),
                    &opts,
                    None,
                    fast,
                    &mut out,
                )
                .unwrap();
                out
            };
            assert_eq!(run(true), run(false), "{to:?}");
        }
    }
}
