//! Gemini generateContent request body.

use super::*;

pub(super) fn gemini_inline(w: &mut Writer<'_>, mime: &str, src: &Src<'_>) -> bool {
    match src {
        Src::B64(d) => {
            w.obj().key("inlineData").obj().key("mimeType").str(mime);
            w.key("data");
            d.write(w);
            w.end_obj().end_obj();
            true
        }
        Src::Url(u) if !mime.is_empty() => {
            w.obj().key("fileData").obj().key("mimeType").str(mime);
            w.key("fileUri");
            u.write(w);
            w.end_obj().end_obj();
            true
        }
        Src::Url(_) => false,
    }
}

pub(super) fn gemini_result(w: &mut Writer<'_>, content: &[Part<'_>]) {
    w.obj().key("result");
    // Only text that looks like JSON is decoded and checked; the rest is copied.
    let looks_json = |t: &Text<'_>| {
        let s = match t {
            Text::J(j) => j.raw,
            Text::S(s) => s.as_ref(),
        };
        let s = s.trim_start();
        s.starts_with('{') || s.starts_with('[')
    };
    match content {
        [Part::Text(t)] if !looks_json(t) => t.write(w),
        _ => {
            let text = joined(content, "\n");
            let t = text.trim_start();
            if (t.starts_with('{') || t.starts_with('[')) && parse_str(&text).is_ok() {
                w.raw(&text);
            } else {
                w.str(&text);
            }
        }
    }
    w.end_obj();
}

/// Gemini generateContent body.
pub fn gemini(req: &Req<'_>, o: &EmitOpts<'_>, out: &mut Vec<u8>) {
    let mut names: HashMap<&str, Cow<'_, str>> = HashMap::new();
    for m in &req.msgs {
        for p in &m.parts {
            if let Part::ToolCall { id, name, .. } = p {
                names.insert(id.as_ref(), name.get());
            }
        }
    }
    // A Claude model behind Gemini's wire (Antigravity) takes Claude's own
    // signed thinking back, signature byte for byte, and call ids.
    let claude = o.model.contains("claude");
    // Groups of consecutive same-role messages; a trailing model turn is dropped.
    let mut groups: Vec<(Role, Vec<&Part<'_>>)> = Vec::new();
    for m in &req.msgs {
        let keep = |p: &&Part<'_>| match p {
            Part::Text(t) => !t.is_empty(),
            Part::Thinking { origin, sig, .. } => {
                *origin == Format::Gemini
                    || (claude
                        && *origin == Format::Claude
                        && sig
                            .as_ref()
                            .is_some_and(|s| claude_signature(s).len() >= 50))
            }
            Part::Image { mime, src } | Part::File { mime, src, .. } => {
                matches!(src, Src::B64(_)) || !mime.is_empty()
            }
            _ => true,
        };
        let parts: Vec<&Part<'_>> = m.parts.iter().filter(keep).collect();
        if parts.is_empty() {
            continue;
        }
        match groups.last_mut() {
            Some((r, ps)) if *r == m.role => ps.extend(parts),
            _ => groups.push((m.role, parts)),
        }
    }
    if groups.last().is_some_and(|g| g.0 == Role::Assistant) {
        groups.pop();
    }
    let mut w = Writer::new(out);
    w.obj().key("contents").arr();
    for (role, parts) in &groups {
        w.obj()
            .key("role")
            .str(if *role == Role::User { "user" } else { "model" });
        w.key("parts").arr();
        let rank = |p: &Part<'_>| match p {
            Part::Thinking { .. } => 0,
            Part::ToolCall { .. } => 2,
            _ => 1,
        };
        // v6.9 #10: thinking, then text and inline data, then calls, each
        // group in its original order.
        // Claude models: a call without its own signature carries the
        // turn's thinking signature (CLIProxyAPI's Antigravity translator).
        let turn_sig = parts.iter().find_map(|p| match p {
            Part::Thinking { sig: Some(s), .. } if claude => Some(claude_signature(s)),
            _ => None,
        });
        for pass in 0..3 {
            for p in parts.iter().filter(|p| rank(p) == pass) {
                if claude {
                    claude_part(&mut w, p, &names, turn_sig.as_deref());
                } else {
                    gemini_part(&mut w, p, &names);
                }
            }
        }
        w.end_arr().end_obj();
    }
    w.end_arr();
    if req.system.iter().any(|t| !t.is_empty()) {
        w.key("systemInstruction")
            .obj()
            .key("role")
            .str("user")
            .key("parts")
            .arr();
        for t in req.system.iter().filter(|t| !t.is_empty()) {
            w.obj().key("text");
            t.write(&mut w);
            w.end_obj();
        }
        w.end_arr().end_obj();
    }
    gemini_generation_config(&mut w, req, o);
    gemini_tools(&mut w, req);
    w.key("safetySettings").arr();
    for (c, t) in [
        ("HARM_CATEGORY_HARASSMENT", "OFF"),
        ("HARM_CATEGORY_HATE_SPEECH", "OFF"),
        ("HARM_CATEGORY_SEXUALLY_EXPLICIT", "OFF"),
        ("HARM_CATEGORY_DANGEROUS_CONTENT", "OFF"),
        ("HARM_CATEGORY_CIVIC_INTEGRITY", "BLOCK_NONE"),
    ] {
        w.obj()
            .key("category")
            .str(c)
            .key("threshold")
            .str(t)
            .end_obj();
    }
    w.end_arr();
    w.end_obj();
}

/// A Claude thinking signature as Antigravity takes it: the escaped bytes
/// after a `claude#` prefix (CLIProxyAPI hands signatures to clients as
/// `<model group>#<signature>`), else all of them.
fn claude_signature<'t>(s: &'t Text<'_>) -> std::borrow::Cow<'t, str> {
    let raw: std::borrow::Cow<'t, str> = match s {
        Text::J(j) => std::borrow::Cow::Borrowed(j.raw),
        Text::S(c) => {
            let mut out = Vec::with_capacity(c.len());
            crate::json::write_string(&mut out, c);
            let inner = out.get(1..out.len().saturating_sub(1)).unwrap_or(&[]);
            std::borrow::Cow::Owned(String::from_utf8_lossy(inner).into_owned())
        }
    };
    match raw {
        std::borrow::Cow::Borrowed(r) => {
            std::borrow::Cow::Borrowed(r.strip_prefix("claude#").unwrap_or(r))
        }
        std::borrow::Cow::Owned(r) => match r.strip_prefix("claude#") {
            Some(rest) => std::borrow::Cow::Owned(rest.to_string()),
            None => std::borrow::Cow::Owned(r),
        },
    }
}

/// A part of a Claude model's turn on Gemini's wire (Antigravity): thinking
/// with its signature as sent, calls and results with their ids.
fn claude_part(
    w: &mut Writer<'_>,
    p: &Part<'_>,
    names: &HashMap<&str, Cow<'_, str>>,
    turn_sig: Option<&str>,
) {
    match p {
        Part::Thinking {
            text, sig: Some(s), ..
        } => {
            w.obj().key("thought").bool(true).key("text");
            text.write(w);
            w.key("thoughtSignature")
                .raw_str(claude_signature(s).as_bytes());
            w.end_obj();
        }
        Part::ToolCall {
            id,
            name,
            args,
            sig,
            ..
        } => {
            w.obj().key("thoughtSignature");
            match (sig, turn_sig) {
                (Some(s), _) => s.write(w),
                (None, Some(t)) => {
                    w.raw_str(t.as_bytes());
                }
                (None, None) => {
                    w.str(GEMINI_SKIP_SIGNATURE);
                }
            }
            w.key("functionCall").obj();
            if !id.is_empty() {
                w.key("id").str(id);
            }
            w.key("name")
                .str(&sanitize_gemini_name(&name.get()))
                .key("args");
            args_obj(w, args);
            w.end_obj().end_obj();
        }
        Part::ToolResult {
            id, name, content, ..
        } => {
            let n = match name {
                Some(n) => n.get(),
                None => names.get(id.as_ref()).cloned().unwrap_or(Cow::Borrowed("")),
            };
            w.obj().key("functionResponse").obj();
            if !id.is_empty() {
                w.key("id").str(id);
            }
            w.key("name").str(&sanitize_gemini_name(&n)).key("response");
            gemini_result(w, content);
            w.end_obj().end_obj();
        }
        _ => gemini_part(w, p, names),
    }
}

pub(super) fn gemini_part(w: &mut Writer<'_>, p: &Part<'_>, names: &HashMap<&str, Cow<'_, str>>) {
    match p {
        Part::Text(t) => {
            w.obj().key("text");
            t.write(w);
            w.end_obj();
        }
        Part::Image { mime, src } | Part::File { mime, src, .. } => {
            gemini_inline(w, mime, src);
        }
        Part::Thinking { text, sig, .. } => {
            w.obj().key("text");
            text.write(w);
            w.key("thought").bool(true);
            if let Some(s) = sig {
                w.key("thoughtSignature");
                s.write(w);
            }
            w.end_obj();
        }
        Part::ToolCall {
            name, args, sig, ..
        } => {
            w.obj().key("functionCall").obj().key("name");
            w.str(&sanitize_gemini_name(&name.get())).key("args");
            args_obj(w, args);
            w.end_obj().key("thoughtSignature");
            match sig {
                Some(s) => s.write(w),
                None => {
                    w.str(GEMINI_SKIP_SIGNATURE);
                }
            }
            w.end_obj();
        }
        Part::ToolResult {
            id, name, content, ..
        } => {
            let n = match name {
                Some(n) => n.get(),
                None => names.get(id.as_ref()).cloned().unwrap_or(Cow::Borrowed("")),
            };
            w.obj().key("functionResponse").obj().key("name");
            w.str(&sanitize_gemini_name(&n)).key("response");
            gemini_result(w, content);
            w.end_obj().end_obj();
        }
    }
}

/// `tools` (function declarations) and `toolConfig`.
fn gemini_tools(w: &mut Writer<'_>, req: &Req<'_>) {
    if !req.tools.is_empty() {
        w.key("tools").arr().obj().key("functionDeclarations").arr();
        for t in &req.tools {
            w.obj()
                .key("name")
                .str(&sanitize_gemini_name(&t.name.get()));
            if let Some(d) = &t.description {
                w.key("description");
                d.write(w);
            }
            w.key("parametersJsonSchema");
            match &t.params {
                Some(p) => schema::clean_for_gemini(p, w),
                None => {
                    w.raw(r#"{"type":"object","properties":{}}"#);
                }
            }
            w.end_obj();
        }
        w.end_arr().end_obj().end_arr();
        if let Some(tc) = &req.tool_choice {
            w.key("toolConfig").obj().key("functionCallingConfig").obj();
            match tc {
                ToolChoice::Auto => w.key("mode").str("AUTO"),
                ToolChoice::None => w.key("mode").str("NONE"),
                ToolChoice::Required => w.key("mode").str("ANY"),
                ToolChoice::Tool(n) => {
                    w.key("mode").str("ANY").key("allowedFunctionNames").arr();
                    w.str(&sanitize_gemini_name(&n.get())).end_arr()
                }
            };
            w.end_obj().end_obj();
        }
    }
}

/// `generationConfig`: sampling, limits, structured output and `thinkingConfig`.
fn gemini_generation_config(w: &mut Writer<'_>, req: &Req<'_>, o: &EmitOpts<'_>) {
    // generationConfig
    w.key("generationConfig").obj();
    if let Some(t) = req.temperature {
        w.key("temperature").raw(t);
    }
    if let Some(t) = req.top_p {
        w.key("topP").raw(t);
    }
    if let Some(t) = req.top_k {
        w.key("topK").raw(t);
    }
    if let Some(m) = req.max_tokens {
        w.key("maxOutputTokens").int(m);
    }
    if let Some(s) = req.seed {
        w.key("seed").raw(s);
    }
    if let Some(n) = req.n.filter(|n| *n > 1) {
        w.key("candidateCount").int(n);
    }
    if !req.stop.is_empty() {
        w.key("stopSequences").arr();
        for s in &req.stop {
            s.write(w);
        }
        w.end_arr();
    }
    match &req.response_format {
        Some(RespFormat::JsonObject) => {
            w.key("responseMimeType").str("application/json");
        }
        Some(RespFormat::JsonSchema { schema, .. }) => {
            w.key("responseMimeType").str("application/json");
            if let Some(s) = schema {
                w.key("responseJsonSchema").raw(s);
            }
        }
        _ => {}
    }
    if req.thinking.is_some() || req.summary.is_some() {
        w.key("thinkingConfig").obj();
        let levels = gemini_uses_levels(o.model);
        match req.thinking {
            None => {}
            Some(Thinking::None) if levels => {
                w.key("thinkingLevel").str("low");
            }
            Some(Thinking::Auto) if levels => {}
            Some(t @ (Thinking::Level(_) | Thinking::Budget(_))) if levels => {
                let e = match t.effort() {
                    "xhigh" | "max" => "high",
                    e => e,
                };
                w.key("thinkingLevel").str(e);
            }
            Some(other) => {
                w.key("thinkingBudget").int(gemini_budget(o.model, other));
            }
        }
        // Thoughts are shown when the client asked for them, or (no explicit
        // choice) whenever thinking is on.
        let show = match req.summary {
            Some(s) => s != Summary::Off,
            None => req.thinking != Some(Thinking::None),
        };
        w.key("includeThoughts").bool(show);
        w.end_obj();
    }
    w.end_obj();
}

#[cfg(test)]
mod tests {
    use crate::translate::format::Format;
    use crate::translate::request::{translate_request, ReqOpts};
    use crate::translate::response::{translate_response, RespCtx};
    use serde_json::{json, Value};

    /// A Claude signature (64 characters, with a JSON escape) as a client
    /// sends it back.
    const SIG: &str = r"EqQBCkYIBxgCKkB\/9xZ+Tq0h2mZ6c3Y1pQ8vL0kR4sW7nA2bE5dF8gH1jK3mN6oP==";

    fn to_gemini(model: &str, claude_body: &str) -> (Vec<u8>, Value) {
        let opts = ReqOpts {
            upstream_model: model,
            stream: false,
            claude_default_max_tokens: None,
        };
        let mut out = Vec::new();
        translate_request(
            Format::Claude,
            Format::GeminiCli,
            claude_body.as_bytes(),
            &opts,
            &mut out,
        )
        .expect("translates");
        let v = serde_json::from_slice(&out).expect("JSON");
        (out, v)
    }

    fn assistant(content: &str) -> String {
        format!(
            r#"{{"model":"m","max_tokens":10,"messages":[{{"role":"user","content":"q"}},{{"role":"assistant","content":{content}}},{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"t1","content":"r1"}},{{"type":"tool_result","tool_use_id":"t2","content":"r2"}}]}}]}}"#
        )
    }

    /// v6.9 #10: a model turn is thinking, then text, then calls, each group
    /// in its original order; Claude models keep their signed thinking.
    #[test]
    fn claude_model_turn_part_order() {
        let body = assistant(&format!(
            r#"[{{"type":"text","text":"a"}},{{"type":"tool_use","id":"t1","name":"f","input":{{"x":1}}}},{{"type":"thinking","thinking":"th","signature":"{SIG}"}},{{"type":"text","text":"b"}},{{"type":"tool_use","id":"t2","name":"g","input":{{}}}}]"#
        ));
        let (_, v) = to_gemini("claude-sonnet-4-6", &body);
        let parts = &v["contents"][1]["parts"];
        assert_eq!(v["contents"][1]["role"], "model");
        let kinds: Vec<String> = parts
            .as_array()
            .expect("parts")
            .iter()
            .map(|p| {
                if p["thought"] == true {
                    format!("thought:{}", p["text"].as_str().unwrap_or(""))
                } else if let Some(t) = p["text"].as_str() {
                    format!("text:{t}")
                } else {
                    format!("call:{}", p["functionCall"]["id"].as_str().unwrap_or(""))
                }
            })
            .collect();
        assert_eq!(
            kinds,
            ["thought:th", "text:a", "text:b", "call:t1", "call:t2"]
        );
        // Calls carry the turn's signature and their ids; results their ids.
        let unescaped = SIG.replace(r"\/", "/");
        assert_eq!(parts[3]["thoughtSignature"], unescaped.as_str());
        assert_eq!(
            parts[3]["functionCall"],
            json!({"id":"t1","name":"f","args":{"x":1}})
        );
        let results = &v["contents"][2]["parts"];
        assert_eq!(results[0]["functionResponse"]["id"], "t1");
        assert_eq!(results[1]["functionResponse"]["name"], "g");
    }

    #[test]
    fn signatures_are_byte_exact_and_unsigned_thinking_is_dropped() {
        for sent in [SIG.to_string(), format!("claude#{SIG}")] {
            let body = assistant(&format!(
                r#"[{{"type":"thinking","thinking":"th","signature":"{sent}"}},{{"type":"tool_use","id":"t1","name":"f","input":{{}}}}]"#
            ));
            let (raw, _) = to_gemini("claude-opus-4-6-thinking", &body);
            let want = format!(r#""thought":true,"text":"th","thoughtSignature":"{SIG}""#);
            let text = String::from_utf8(raw).expect("utf8");
            assert!(text.contains(&want), "{text}");
        }
        // Unsigned (or too short) thinking is not sent; the call gets the
        // validator bypass value.
        for sig in ["", r#","signature":"short""#] {
            let body = assistant(&format!(
                r#"[{{"type":"thinking","thinking":"th"{sig}}},{{"type":"tool_use","id":"t1","name":"f","input":{{}}}}]"#
            ));
            let (_, v) = to_gemini("claude-sonnet-4-6", &body);
            let parts = v["contents"][1]["parts"].as_array().expect("parts").clone();
            assert_eq!(parts.len(), 1, "{parts:?}");
            assert_eq!(
                parts[0]["thoughtSignature"],
                "skip_thought_signature_validator"
            );
        }
        // A Gemini model never gets Claude's thinking.
        let body = assistant(&format!(
            r#"[{{"type":"thinking","thinking":"th","signature":"{SIG}"}},{{"type":"text","text":"a"}}]"#
        ));
        let (_, v) = to_gemini("gemini-3-flash", &body);
        assert_eq!(v["contents"][1]["parts"], json!([{"text":"a"}]));
    }

    /// An upstream thought signature reaches a Claude client and comes back
    /// to the upstream byte for byte.
    #[test]
    fn signature_round_trip_through_a_claude_client() {
        let upstream = format!(
            r#"{{"response":{{"candidates":[{{"content":{{"role":"model","parts":[{{"thought":true,"text":"hmm","thoughtSignature":"{SIG}"}},{{"text":"hi"}}]}},"finishReason":"STOP"}}],"usageMetadata":{{"promptTokenCount":1,"candidatesTokenCount":2,"totalTokenCount":3}}}}}}"#
        );
        let mut claude = Vec::new();
        let ctx = RespCtx {
            client_model: "claude-sonnet-4-6",
            created: 0,
        };
        translate_response(
            Format::GeminiCli,
            Format::Claude,
            upstream.as_bytes(),
            &ctx,
            &mut claude,
        )
        .expect("translates");
        // Upstream -> client: the signature's bytes as the upstream sent them.
        let client_text = String::from_utf8(claude.clone()).expect("utf8");
        assert!(
            client_text.contains(&format!(r#""signature":"{SIG}""#)),
            "{client_text}"
        );
        let msg: Value = serde_json::from_slice(&claude).expect("JSON");
        let blocks = msg["content"].clone();
        assert_eq!(blocks[0]["type"], "thinking");
        let body = json!({
            "model": "m",
            "max_tokens": 10,
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": blocks},
                {"role": "user", "content": "more"},
            ],
        })
        .to_string();
        let (raw, _) = to_gemini("claude-sonnet-4-6", &body);
        let text = String::from_utf8(raw).expect("utf8");
        // Client -> upstream: the bytes the client sent (re-encoded by
        // serde_json here, which writes `/` unescaped).
        let unescaped = SIG.replace(r"\/", "/");
        let want = format!(r#""thought":true,"text":"hmm","thoughtSignature":"{unescaped}""#);
        assert!(text.contains(&want), "{text}");
    }
}
