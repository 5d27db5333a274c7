//! OpenAI Responses (and Codex) request → [`Req`].

use super::*;

pub(super) fn responses_content<'a>(c: &Node<'a>, out: &mut Vec<Part<'a>>) {
    match &c.kind {
        Kind::Str(j) => out.push(Part::Text(Text::J(*j))),
        Kind::Arr(items) => {
            for it in items {
                let ty = it.at("type").s();
                match ty.as_ref() {
                    "input_text" | "output_text" | "text" | "summary_text" => {
                        if let Some(t) = it.get("text").and_then(text_of) {
                            out.push(Part::Text(t));
                        }
                    }
                    "input_image" => {
                        let u = it.at("image_url");
                        let url = if u.is_obj() { u.at("url") } else { u };
                        if let Some(p) = image_from_url(url) {
                            out.push(p);
                        }
                    }
                    "input_file" => {
                        if let Some(p) =
                            file_from_data(it.at("file_data"), it.get("filename").and_then(text_of))
                        {
                            out.push(p);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// One Responses tool declaration → function tools (see `translate::tools`):
/// `function` as is, `custom` as a function with one string `input`,
/// `namespace` children flattened under their qualified names; hosted tools
/// (`web_search`, `local_shell`, `file_search`, ...) are left out.
pub(super) fn responses_tool<'a>(t: &Node<'a>, ns: Option<&str>, req: &mut Req<'a>) {
    let ty = t.at("type").s();
    let name = || -> Option<Text<'a>> {
        let n = t.get("name").and_then(text_of)?;
        match ns {
            Some(ns) => Some(Text::S(Cow::Owned(crate::translate::tools::qualify(
                ns,
                &n.get(),
            )))),
            None => Some(n),
        }
    };
    match ty.as_ref() {
        "function" | "" => {
            let Some(name) = name() else { return };
            req.tools.push(Tool {
                name,
                description: t.get("description").and_then(text_of),
                params: t
                    .get("parameters")
                    .filter(|p| p.is_obj())
                    .map(|p| Cow::Borrowed(p.raw)),
                strict: t.get("strict").and_then(|s| s.bool()),
                cache: None,
            });
        }
        "custom" => {
            let Some(name) = name() else { return };
            let description = t.get("description").and_then(text_of).map(|d| {
                match crate::translate::tools::custom_description(&d.get()) {
                    Some(owned) => Text::S(Cow::Owned(owned)),
                    None => d,
                }
            });
            req.tools.push(Tool {
                name,
                description,
                params: Some(Cow::Borrowed(crate::translate::tools::CUSTOM_INPUT_SCHEMA)),
                strict: None,
                cache: None,
            });
        }
        "namespace" if ns.is_none() => {
            let ns = t.at("name").s();
            for child in t.at("tools").arr() {
                responses_tool(child, Some(&ns), req);
            }
        }
        other => {
            crate::log_debug!(
                "responses tool of type {other:?} has no upstream equivalent; left out"
            );
        }
    }
}

/// OpenAI Responses request (also the Codex flavour).
pub fn responses<'a>(root: &Node<'a>) -> Req<'a> {
    let mut req = Req {
        client_model: root.get("model").and_then(|m| m.str()),
        ..Req::default()
    };
    if let Some(t) = root.get("instructions").and_then(text_of) {
        if !t.is_empty() {
            req.system.push(t);
        }
    }
    let input = root.at("input");
    if let Some(j) = input.jstr() {
        req.push_msg_one(Role::User, Part::Text(Text::J(j)));
    }
    for it in input.arr() {
        let ty = it.at("type").s();
        let role = it.at("role").s();
        match ty.as_ref() {
            "function_call" | "custom_tool_call" => {
                let Some(mut name) = it.get("name").and_then(text_of) else {
                    continue;
                };
                // A namespaced call goes upstream under its flattened name.
                if let Some(ns) = it.get("namespace").and_then(|n| n.str()) {
                    let q = crate::translate::tools::qualify(&ns, &name.get());
                    if q != name.get() {
                        name = Text::S(Cow::Owned(q));
                    }
                }
                let args = match (ty.as_ref(), it.get("input").and_then(|a| a.jstr())) {
                    ("custom_tool_call", Some(j)) => Args::Input(j),
                    _ => it
                        .get("arguments")
                        .and_then(|a| a.jstr())
                        .map(Args::Str)
                        .unwrap_or(Args::Json("{}")),
                };
                let id = it
                    .get("call_id")
                    .or_else(|| it.get("id"))
                    .map(|n| n.s())
                    .unwrap_or(Cow::Borrowed(""));
                req.push(
                    Role::Assistant,
                    Part::ToolCall {
                        id,
                        name,
                        args,
                        sig: None,
                    },
                );
            }
            "function_call_output" | "custom_tool_call_output" => {
                let mut content = Vec::new();
                responses_content(it.at("output"), &mut content);
                req.push(
                    Role::User,
                    Part::ToolResult {
                        id: it.at("call_id").s(),
                        name: None,
                        content,
                        is_error: false,
                    },
                );
            }
            "reasoning" => {
                let mut text = String::new();
                for s in it.at("summary").arr() {
                    if !text.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(&s.at("text").s());
                }
                let sig = it.get("encrypted_content").and_then(text_of);
                if !text.is_empty() || sig.is_some() {
                    req.push(
                        Role::Assistant,
                        Part::Thinking {
                            text: Text::S(Cow::Owned(text)),
                            sig,
                            origin: Format::OpenAiResponses,
                        },
                    );
                }
            }
            "message" | "" => match role.as_ref() {
                "system" | "developer" => {
                    let mut parts = Vec::new();
                    responses_content(it.at("content"), &mut parts);
                    req.push_system(parts.into_iter().filter_map(|p| match p {
                        Part::Text(t) => Some(t),
                        _ => None,
                    }));
                }
                "user" | "assistant" => {
                    let r = if role == "user" {
                        Role::User
                    } else {
                        Role::Assistant
                    };
                    let mut parts = Vec::new();
                    responses_content(it.at("content"), &mut parts);
                    if !parts.is_empty() {
                        req.push_msg(r, parts);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    for t in root.at("tools").arr() {
        responses_tool(t, None, &mut req);
    }
    req.tool_choice = root.get("tool_choice").and_then(chat_tool_choice);
    req.parallel_tool_calls = root.get("parallel_tool_calls").and_then(|b| b.bool());
    req.max_tokens = root.get("max_output_tokens").and_then(|n| n.i64());
    req.temperature = num(root.get("temperature"));
    req.top_p = num(root.get("top_p"));
    req.thinking = effort_thinking(root.path("reasoning.effort"));
    req.summary = root
        .path("reasoning.summary")
        .and_then(|s| s.str())
        .map(|s| Summary::parse(&s));
    req.response_format = root.path("text.format").and_then(response_format_chat);
    req.user = root
        .get("user")
        .and_then(text_of)
        .or_else(|| root.get("safety_identifier").and_then(text_of));
    req
}
