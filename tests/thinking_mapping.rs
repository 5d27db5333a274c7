//! The thinking mapping tables, pair by pair: every client field that carries
//! a reasoning intent (Chat `reasoning_effort`, Responses `reasoning.effort` /
//! `reasoning.summary`, Claude `thinking` enabled / adaptive + `output_config`
//! / disabled / `display`, Gemini `thinkingConfig` in both spellings) reaches
//! every upstream format with the value CLIProxyAPI's tables give; the model
//! suffix beats the body on every pair; Claude's constraints hold.

#[path = "stream_support/mod.rs"]
mod support;
use cliproxy::translate::format::Format;
use cliproxy::translate::request::ReqOpts;
use serde_json::{json, Value};
use support::request_json;

fn tr(from: Format, to: Format, body: &Value, model: &str) -> Value {
    let opts = ReqOpts {
        upstream_model: model,
        stream: false,
        claude_default_max_tokens: None,
    };
    request_json(from, to, body.to_string().as_bytes(), &opts)
}

fn chat(extra: Value) -> Value {
    let mut b = json!({"model":"x","messages":[{"role":"user","content":"q"}]});
    merge(&mut b, extra);
    b
}
fn responses(extra: Value) -> Value {
    let mut b = json!({"model":"x","input":"q"});
    merge(&mut b, extra);
    b
}
fn claude(extra: Value) -> Value {
    let mut b = json!({"model":"x","messages":[{"role":"user","content":"q"}]});
    merge(&mut b, extra);
    b
}
fn gemini(tc: Value) -> Value {
    json!({"contents":[{"role":"user","parts":[{"text":"q"}]}],"generationConfig":{"thinkingConfig":tc}})
}
fn merge(b: &mut Value, extra: Value) {
    if let (Some(o), Some(e)) = (b.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
}

/// What one client intent must become upstream.
struct Want {
    /// OpenAI Chat `reasoning_effort` / Codex `reasoning.effort`.
    effort: &'static str,
    /// Claude `thinking.budget_tokens`; `None` = `{"type":"disabled"}`.
    claude: Option<i64>,
    /// Gemini 2.5 Flash `thinkingBudget`.
    budget: i64,
    /// Gemini 3 `thinkingLevel`; `None` = left to the model (auto).
    level: Option<&'static str>,
    /// Thoughts shown (Gemini `includeThoughts`, a Responses summary).
    show: bool,
}

const fn want(
    effort: &'static str,
    claude: Option<i64>,
    budget: i64,
    level: Option<&'static str>,
    show: bool,
) -> Want {
    Want {
        effort,
        claude,
        budget,
        level,
        show,
    }
}

fn rows() -> Vec<(Format, Value, Want)> {
    use Format::*;
    vec![
        // OpenAI Chat reasoning_effort, every word.
        (
            OpenAiChat,
            chat(json!({"reasoning_effort":"minimal"})),
            want("minimal", Some(1024), 512, Some("minimal"), true),
        ),
        (
            OpenAiChat,
            chat(json!({"reasoning_effort":"low"})),
            want("low", Some(1024), 1024, Some("low"), true),
        ),
        (
            OpenAiChat,
            chat(json!({"reasoning_effort":"medium"})),
            want("medium", Some(8192), 8192, Some("medium"), true),
        ),
        (
            OpenAiChat,
            chat(json!({"reasoning_effort":"high"})),
            want("high", Some(24576), 24576, Some("high"), true),
        ),
        (
            OpenAiChat,
            chat(json!({"reasoning_effort":"xhigh"})),
            want("xhigh", Some(32768), 24576, Some("high"), true),
        ),
        (
            OpenAiChat,
            chat(json!({"reasoning_effort":"none"})),
            want("none", None, 0, Some("low"), false),
        ),
        (
            OpenAiChat,
            chat(json!({"reasoning_effort":"auto"})),
            want("medium", Some(8192), -1, None, true),
        ),
        (
            OpenAiChat,
            chat(json!({"reasoning":{"effort":"low"}})),
            want("low", Some(1024), 1024, Some("low"), true),
        ),
        // OpenAI Responses reasoning.effort / summary.
        (
            OpenAiResponses,
            responses(json!({"reasoning":{"effort":"high"}})),
            want("high", Some(24576), 24576, Some("high"), true),
        ),
        (
            OpenAiResponses,
            responses(json!({"reasoning":{"effort":"minimal","summary":"auto"}})),
            want("minimal", Some(1024), 512, Some("minimal"), true),
        ),
        (
            OpenAiResponses,
            responses(json!({"reasoning":{"effort":"medium","summary":"none"}})),
            want("medium", Some(8192), 8192, Some("medium"), false),
        ),
        // Claude thinking: enabled + budget, enabled alone, adaptive (+ effort), disabled, display.
        (
            Claude,
            claude(json!({"thinking":{"type":"enabled","budget_tokens":24576}})),
            want("high", Some(24576), 24576, Some("high"), true),
        ),
        (
            Claude,
            claude(json!({"thinking":{"type":"enabled","budget_tokens":2000}})),
            want("medium", Some(2000), 2000, Some("medium"), true),
        ),
        (
            Claude,
            claude(json!({"thinking":{"type":"enabled"}})),
            want("medium", Some(8192), -1, None, true),
        ),
        (
            Claude,
            claude(json!({"thinking":{"type":"adaptive"},"output_config":{"effort":"low"}})),
            want("low", Some(1024), 1024, Some("low"), true),
        ),
        (
            Claude,
            claude(json!({"thinking":{"type":"adaptive"}})),
            want("xhigh", Some(32768), 24576, Some("high"), true),
        ),
        (
            Claude,
            claude(json!({"thinking":{"type":"disabled"}})),
            want("none", None, 0, Some("low"), false),
        ),
        (
            Claude,
            claude(json!({"thinking":{"type":"enabled","budget_tokens":8192,"display":"omitted"}})),
            want("medium", Some(8192), 8192, Some("medium"), false),
        ),
        // Gemini thinkingConfig: budget, level, includeThoughts alone, snake_case, off.
        (
            Gemini,
            gemini(json!({"thinkingBudget":8192,"includeThoughts":true})),
            want("medium", Some(8192), 8192, Some("medium"), true),
        ),
        (
            Gemini,
            gemini(json!({"thinkingLevel":"high"})),
            want("high", Some(24576), 24576, Some("high"), true),
        ),
        (
            Gemini,
            gemini(json!({"includeThoughts":true})),
            want("medium", Some(8192), -1, None, true),
        ),
        (
            Gemini,
            gemini(json!({"thinking_budget":1024,"include_thoughts":true})),
            want("low", Some(1024), 1024, Some("low"), true),
        ),
        (
            Gemini,
            gemini(json!({"thinkingBudget":24576,"includeThoughts":false})),
            want("high", Some(24576), 24576, Some("high"), false),
        ),
        (
            Gemini,
            gemini(json!({"thinkingBudget":0})),
            want("none", None, 0, Some("low"), false),
        ),
    ]
}

#[test]
fn every_client_field_reaches_every_upstream_format() {
    let mut failures = Vec::new();
    for (from, body, w) in rows() {
        let mut check = |to: Format, model: &str, ok: &dyn Fn(&Value) -> bool| {
            if from == to || (from == Format::OpenAiResponses && to == Format::OpenAiResponses) {
                return;
            }
            let v = tr(from, to, &body, model);
            if !ok(&v) {
                failures.push(format!("{from:?} {body} -> {to:?} {model}: {v}"));
            }
        };
        check(Format::OpenAiChat, "gpt-5", &|v| {
            v["reasoning_effort"] == w.effort
        });
        let summary = |v: &Value, codex: bool| {
            let want = if w.show { json!("auto") } else { Value::Null };
            // A Responses client's own summary word passes as sent.
            let want = match body["reasoning"]["summary"].as_str() {
                Some(s) if s != "none" => json!(s),
                _ => want,
            };
            v["reasoning"]["summary"] == want
                && v["reasoning"]["effort"] == w.effort
                && (!codex || v["include"] == json!(["reasoning.encrypted_content"]))
        };
        check(Format::OpenAiResponses, "gpt-5", &|v| summary(v, false));
        if from != Format::OpenAiResponses {
            check(Format::Codex, "gpt-5-codex", &|v| summary(v, true));
        }
        check(Format::Claude, "claude-sonnet-4-5", &|v| match w.claude {
            Some(b) => {
                v["thinking"] == json!({"type":"enabled","budget_tokens":b})
                    && v["max_tokens"].as_i64().is_some_and(|m| m > b)
            }
            None => v["thinking"] == json!({"type":"disabled"}),
        });
        check(Format::Gemini, "gemini-2.5-flash", &|v| {
            v["generationConfig"]["thinkingConfig"]
                == json!({"thinkingBudget": w.budget, "includeThoughts": w.show})
        });
        check(Format::Gemini, "gemini-3-pro-preview", &|v| {
            let tc = &v["generationConfig"]["thinkingConfig"];
            tc["includeThoughts"] == w.show
                && match w.level {
                    Some(l) => tc["thinkingLevel"] == l,
                    None => tc.get("thinkingLevel").is_none() && tc.get("thinkingBudget").is_none(),
                }
        });
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn responses_client_to_codex_asks_for_a_visible_summary() {
    let v = tr(
        Format::OpenAiResponses,
        Format::Codex,
        &responses(json!({"reasoning":{"effort":"high"}})),
        "gpt-5-codex",
    );
    assert_eq!(v["reasoning"], json!({"effort":"high","summary":"auto"}));
    assert_eq!(v["include"], json!(["reasoning.encrypted_content"]));
    // The client's own choice is kept; no reasoning asked, none added.
    let v = tr(
        Format::OpenAiResponses,
        Format::Codex,
        &responses(json!({"reasoning":{"effort":"low","summary":"detailed"}})),
        "gpt-5-codex",
    );
    assert_eq!(v["reasoning"], json!({"effort":"low","summary":"detailed"}));
    let v = tr(
        Format::OpenAiResponses,
        Format::Codex,
        &responses(json!({})),
        "gpt-5-codex",
    );
    assert!(v.get("reasoning").is_none(), "{v}");
    let v = tr(
        Format::OpenAiResponses,
        Format::Codex,
        &responses(json!({"reasoning":{"effort":"none"}})),
        "gpt-5-codex",
    );
    assert_eq!(v["reasoning"], json!({"effort":"none"}));
    // A suffix on the model both sets the effort and asks for the summary.
    let v = tr(
        Format::OpenAiResponses,
        Format::Codex,
        &responses(json!({})),
        "gpt-5-codex(high)",
    );
    assert_eq!(v["reasoning"], json!({"effort":"high","summary":"auto"}));
}

#[test]
fn suffix_beats_body_on_every_pair() {
    use Format::*;
    let bodies = [
        (
            OpenAiChat,
            chat(json!({"reasoning_effort":"high","max_tokens":50000})),
        ),
        (
            OpenAiResponses,
            responses(json!({"reasoning":{"effort":"high"},"max_output_tokens":50000})),
        ),
        (
            Claude,
            claude(json!({"max_tokens":50000,"thinking":{"type":"enabled","budget_tokens":24576}})),
        ),
        (
            Gemini,
            json!({"contents":[{"role":"user","parts":[{"text":"q"}]}],
            "generationConfig":{"maxOutputTokens":50000,"thinkingConfig":{"thinkingBudget":24576,"includeThoughts":true}}}),
        ),
    ];
    let mut failures = Vec::new();
    for (from, body) in &bodies {
        for (to, model) in [
            (OpenAiChat, "gpt-5(low)"),
            (OpenAiResponses, "gpt-5(low)"),
            (Codex, "gpt-5-codex(low)"),
            (Claude, "claude-sonnet-4-5(low)"),
            (Gemini, "gemini-2.5-flash(low)"),
            // A Gemini CLI account's request body is a Gemini body.
            (GeminiCli, "gemini-2.5-flash(low)"),
        ] {
            let v = tr(*from, to, body, model);
            let ok = match to {
                OpenAiChat => v["reasoning_effort"] == "low",
                OpenAiResponses | Codex => v["reasoning"]["effort"] == "low",
                Claude => v["thinking"] == json!({"type":"enabled","budget_tokens":1024}),
                Gemini | GeminiCli => {
                    v["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 1024
                }
            };
            let base = model.split('(').next().unwrap_or("");
            let model_ok = matches!(to, Gemini | GeminiCli) || v["model"] == base;
            if !ok || !model_ok {
                failures.push(format!("{from:?} -> {to:?}: {v}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn claude_constraints_when_emitting_to_claude() {
    let to = |body: Value| {
        tr(
            Format::OpenAiChat,
            Format::Claude,
            &body,
            "claude-sonnet-4-5",
        )
    };
    // Thinking on: sampling knobs Claude rejects with thinking are dropped.
    let v = to(chat(
        json!({"reasoning_effort":"high","temperature":0.3,"top_p":0.9,"max_tokens":40000}),
    ));
    assert_eq!(v["thinking"]["budget_tokens"], 24576);
    assert!(
        v.get("temperature").is_none() && v.get("top_p").is_none(),
        "{v}"
    );
    // Thinking off: they pass.
    let v = to(chat(json!({"temperature":0.3,"top_p":0.9})));
    assert_eq!(
        (v["temperature"].clone(), v["top_p"].clone()),
        (json!(0.3), json!(0.9))
    );
    assert!(v.get("thinking").is_none());
    // Explicit max_tokens is kept; the budget goes below it ...
    let v = to(chat(json!({"reasoning_effort":"high","max_tokens":5000})));
    assert_eq!(
        (
            v["max_tokens"].clone(),
            v["thinking"]["budget_tokens"].clone()
        ),
        (json!(5000), json!(4999))
    );
    // ... and thinking is left off when under 1024 would remain.
    let v = to(chat(
        json!({"reasoning_effort":"high","max_tokens":1000,"temperature":0.2}),
    ));
    assert!(v.get("thinking").is_none(), "{v}");
    assert_eq!(
        (v["max_tokens"].clone(), v["temperature"].clone()),
        (json!(1000), json!(0.2))
    );
    // A budget under Claude's minimum is raised to 1024.
    let v = to(chat(json!({"reasoning_effort":"minimal"})));
    assert_eq!(v["thinking"]["budget_tokens"], 1024);
    // Defaulted max_tokens (here the registry's small default) is raised above the budget.
    let opts = ReqOpts {
        upstream_model: "claude-x",
        stream: false,
        claude_default_max_tokens: Some(1024),
    };
    let body = chat(json!({"reasoning_effort":"high"})).to_string();
    let v = request_json(Format::OpenAiChat, Format::Claude, body.as_bytes(), &opts);
    assert_eq!(
        (
            v["max_tokens"].clone(),
            v["thinking"]["budget_tokens"].clone()
        ),
        (json!(25600), json!(24576))
    );
    // Same on Claude -> Claude with a suffix and no max_tokens.
    let opts = ReqOpts {
        upstream_model: "claude-x(high)",
        ..opts
    };
    let body = claude(json!({})).to_string();
    let v = request_json(Format::Claude, Format::Claude, body.as_bytes(), &opts);
    assert_eq!(
        (
            v["max_tokens"].clone(),
            v["thinking"]["budget_tokens"].clone()
        ),
        (json!(25600), json!(24576))
    );
}

#[test]
fn suffix_decides_visibility_too() {
    // Suffix off over a body that asked for reasoning: nothing shown.
    let v = tr(
        Format::OpenAiChat,
        Format::Gemini,
        &chat(json!({"reasoning_effort":"high"})),
        "gemini-2.5-flash(none)",
    );
    assert_eq!(
        v["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget":0,"includeThoughts":false})
    );
    let v = tr(
        Format::OpenAiChat,
        Format::OpenAiResponses,
        &chat(json!({"reasoning_effort":"high"})),
        "gpt-5(none)",
    );
    assert_eq!(v["reasoning"], json!({"effort":"none"}));
    // Suffix on over a body that turned it off: shown.
    let v = tr(
        Format::OpenAiChat,
        Format::Gemini,
        &chat(json!({"reasoning_effort":"none"})),
        "gemini-2.5-flash(high)",
    );
    assert_eq!(
        v["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget":24576,"includeThoughts":true})
    );
    let v = tr(
        Format::OpenAiChat,
        Format::Codex,
        &chat(json!({"reasoning_effort":"none"})),
        "gpt-5-codex(high)",
    );
    assert_eq!(v["reasoning"], json!({"effort":"high","summary":"auto"}));
}

#[test]
fn adaptive_claude_models_get_adaptive_thinking_and_an_effort() {
    // Catalog models with effort levels (4.6 and later) take adaptive thinking.
    let v = tr(
        Format::OpenAiChat,
        Format::Claude,
        &chat(json!({"reasoning_effort":"high","temperature":0.5,"max_tokens":2000})),
        "claude-opus-4-6",
    );
    assert_eq!(v["thinking"], json!({"type":"adaptive"}));
    assert_eq!(v["output_config"], json!({"effort":"high"}));
    assert_eq!(
        v["max_tokens"], 2000,
        "no budget, so max_tokens is kept as is"
    );
    assert!(v.get("temperature").is_none());
    // xhigh is not an opus-4-6 level: max; budgets go through the table.
    let v = tr(
        Format::OpenAiChat,
        Format::Claude,
        &chat(json!({"reasoning_effort":"xhigh"})),
        "claude-opus-4-6",
    );
    assert_eq!(v["output_config"]["effort"], "max");
    // An explicit budget stays a budget on models that take both ...
    let v = tr(
        Format::Gemini,
        Format::Claude,
        &gemini(json!({"thinkingBudget":2000,"includeThoughts":true})),
        "claude-sonnet-4-6",
    );
    assert_eq!(
        v["thinking"],
        json!({"type":"enabled","budget_tokens":2000})
    );
    assert!(v.get("output_config").is_none());
    // ... and becomes a level on adaptive-only ones.
    let v = tr(
        Format::Gemini,
        Format::Claude,
        &gemini(json!({"thinkingBudget":2000,"includeThoughts":true})),
        "claude-opus-5",
    );
    assert_eq!(
        (v["thinking"].clone(), v["output_config"].clone()),
        (json!({"type":"adaptive"}), json!({"effort":"medium"}))
    );
    // Off stays disabled; older models keep budgets.
    let v = tr(
        Format::OpenAiChat,
        Format::Claude,
        &chat(json!({"reasoning_effort":"none"})),
        "claude-opus-4-6",
    );
    assert_eq!(v["thinking"], json!({"type":"disabled"}));
    assert!(v.get("output_config").is_none());
    let v = tr(
        Format::OpenAiChat,
        Format::Claude,
        &chat(json!({"reasoning_effort":"high"})),
        "claude-sonnet-4-5-20250929",
    );
    assert_eq!(
        v["thinking"],
        json!({"type":"enabled","budget_tokens":24576})
    );
    // Claude -> Claude with a suffix on an adaptive model: the client's other
    // output_config members stay.
    let v = tr(
        Format::Claude,
        Format::Claude,
        &claude(
            json!({"max_tokens":100,"thinking":{"type":"enabled","budget_tokens":5000},
            "output_config":{"format":{"type":"json_schema"}}}),
        ),
        "claude-opus-4-6(low)",
    );
    assert_eq!(v["thinking"], json!({"type":"adaptive"}));
    assert_eq!(
        v["output_config"],
        json!({"format":{"type":"json_schema"},"effort":"low"})
    );
}

#[test]
fn claude_signatures_go_back_only_to_their_own_provider() {
    let with_sig = |sig: &str| {
        claude(json!({"messages":[{"role":"user","content":"q"},
            {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":sig},{"type":"text","text":"a"}]},
            {"role":"user","content":"q2"}]}))
    };
    let codex_enc = "gAAAAABp-enc==";
    let reasoning_items = |v: &Value| -> Vec<Value> {
        v["input"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|i| i["type"] == "reasoning")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    // Codex's encrypted reasoning goes back to Codex ...
    let v = tr(
        Format::Claude,
        Format::Codex,
        &with_sig(codex_enc),
        "gpt-5-codex",
    );
    let items = reasoning_items(&v);
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["encrypted_content"], codex_enc);
    // ... but a Claude signature does not, and neither reaches Gemini.
    let v = tr(
        Format::Claude,
        Format::Codex,
        &with_sig("EqQBCkYIBRgC"),
        "gpt-5-codex",
    );
    assert!(reasoning_items(&v).is_empty(), "{v}");
    let v = tr(
        Format::Claude,
        Format::Gemini,
        &with_sig(codex_enc),
        "gemini-2.5-flash",
    );
    assert!(!v.to_string().contains(codex_enc), "{v}");
}
