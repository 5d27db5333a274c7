//! Anthropic Messages request → [`Req`].

use super::*;

/// Which provider made a thinking signature a Claude client sends back: Claude's
/// own (base64 protobuf), or a Responses/Codex `encrypted_content` handed to
/// the client as a signature (a Fernet token: always starts `gAAAAA`).
pub(super) fn claude_sig_origin(sig: Option<&Text<'_>>) -> Format {
    match sig {
        Some(s) if s.get().starts_with("gAAAAA") => Format::OpenAiResponses,
        _ => Format::Claude,
    }
}

pub(super) fn claude_media<'a>(b: &Node<'a>) -> Option<(Cow<'a, str>, Src<'a>)> {
    let src = b.at("source");
    let ty = src.at("type").s();
    match ty.as_ref() {
        "base64" => Some((
            src.at("media_type").s(),
            Src::B64(src.get("data").and_then(text_of)?),
        )),
        "url" => Some((
            Cow::Borrowed(""),
            Src::Url(src.get("url").and_then(text_of)?),
        )),
        _ => None,
    }
}

pub(super) fn claude_blocks<'a>(c: &Node<'a>, out: &mut Vec<Part<'a>>) {
    match &c.kind {
        Kind::Str(j) if !j.raw.is_empty() => out.push(Part::Text(Text::J(*j))),
        Kind::Arr(items) => {
            for b in items {
                let ty = b.at("type").s();
                match ty.as_ref() {
                    "text" => {
                        if let Some(t) = b.get("text").and_then(text_of) {
                            out.push(Part::Text(t));
                        }
                    }
                    "image" => {
                        if let Some((mime, src)) = claude_media(b) {
                            out.push(Part::Image { mime, src });
                        }
                    }
                    "document" => {
                        if let Some((mime, src)) = claude_media(b) {
                            out.push(Part::File {
                                mime,
                                src,
                                filename: b.get("title").and_then(text_of),
                            });
                        }
                    }
                    "thinking" => {
                        if let Some(t) = b.get("thinking").and_then(text_of) {
                            let sig = b.get("signature").and_then(text_of);
                            out.push(Part::Thinking {
                                text: t,
                                origin: claude_sig_origin(sig.as_ref()),
                                sig,
                            });
                        }
                    }
                    "tool_use" | "server_tool_use" => {
                        let Some(name) = b.get("name").and_then(text_of) else {
                            continue;
                        };
                        let input = b.at("input");
                        out.push(Part::ToolCall {
                            id: b.at("id").s(),
                            name,
                            args: Args::Json(if input.is_obj() { input.raw } else { "{}" }),
                            sig: None,
                        });
                    }
                    "tool_result" => {
                        let mut content = Vec::new();
                        claude_blocks(b.at("content"), &mut content);
                        out.push(Part::ToolResult {
                            id: b.at("tool_use_id").s(),
                            name: None,
                            content,
                            is_error: b.at("is_error").bool().unwrap_or(false),
                        });
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Anthropic Messages request.
pub fn claude<'a>(root: &Node<'a>) -> Req<'a> {
    let mut req = Req {
        client_model: root.get("model").and_then(|m| m.str()),
        ..Req::default()
    };
    system_texts(root.at("system"), &mut req.system);
    for m in root.at("messages").arr() {
        let role = match m.at("role").s().as_ref() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => continue,
        };
        let mut parts = Vec::new();
        claude_blocks(m.at("content"), &mut parts);
        if !parts.is_empty() {
            req.push_msg(role, parts);
        }
    }
    for t in root.at("tools").arr() {
        // Server tools (web_search, bash, ...) carry a versioned `type`; skip them.
        if t.get("type")
            .is_some_and(|ty| !ty.jstr().is_some_and(|s| s.is("custom")))
        {
            continue;
        }
        let Some(name) = t.get("name").and_then(text_of) else {
            continue;
        };
        req.tools.push(Tool {
            name,
            description: t.get("description").and_then(text_of),
            params: t
                .get("input_schema")
                .filter(|p| p.is_obj())
                .map(|p| Cow::Borrowed(p.raw)),
            strict: None,
            cache: None,
        });
    }
    let tc = root.at("tool_choice");
    req.tool_choice = match tc.at("type").s().as_ref() {
        "auto" => Some(ToolChoice::Auto),
        "any" => Some(ToolChoice::Required),
        "none" => Some(ToolChoice::None),
        "tool" => tc.get("name").and_then(text_of).map(ToolChoice::Tool),
        _ => None,
    };
    if let Some(d) = tc.get("disable_parallel_tool_use").and_then(|b| b.bool()) {
        req.parallel_tool_calls = Some(!d);
    }
    req.max_tokens = root.get("max_tokens").and_then(|n| n.i64());
    req.temperature = num(root.get("temperature"));
    req.top_p = num(root.get("top_p"));
    req.top_k = num(root.get("top_k"));
    stop_list(root.at("stop_sequences"), &mut req.stop);
    let th = root.at("thinking");
    req.thinking = match th.at("type").s().as_ref() {
        "enabled" => Some(
            th.at("budget_tokens")
                .i64()
                .and_then(Thinking::from_budget)
                .unwrap_or(Thinking::Auto),
        ),
        // Adaptive thinking without an explicit effort maps to the top level
        // (CLIProxyAPI: xhigh).
        "adaptive" | "auto" => Some(
            effort_thinking(root.path("output_config.effort"))
                .unwrap_or(Thinking::Level(crate::translate::thinking::Level::XHigh)),
        ),
        "disabled" => Some(Thinking::None),
        _ => effort_thinking(root.path("output_config.effort")),
    };
    // `display` ("summarized" / "omitted") only means something with thinking on.
    if req.thinking.is_some_and(|t| t != Thinking::None) {
        req.summary = th.get("display").and_then(|d| d.str()).map(|d| {
            if d.eq_ignore_ascii_case("omitted") {
                Summary::Off
            } else {
                Summary::Auto
            }
        });
    }
    req.user = root.path("metadata.user_id").and_then(text_of);
    req
}
