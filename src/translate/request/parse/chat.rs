//! OpenAI Chat Completions request → [`Req`].

use super::*;

/// OpenAI Chat content (string or parts array) → parts.
pub(super) fn chat_content<'a>(c: &Node<'a>, out: &mut Vec<Part<'a>>) {
    chat_content_c(c, out, &mut Vec::new());
}

/// Like [`chat_content`], also collecting (index in `out`, cache_control).
pub(super) fn chat_content_c<'a>(
    c: &Node<'a>,
    out: &mut Vec<Part<'a>>,
    marks: &mut Vec<(usize, &'a str)>,
) {
    match &c.kind {
        Kind::Str(j) if !j.raw.is_empty() => out.push(Part::Text(Text::J(*j))),
        Kind::Arr(items) => {
            for it in items {
                if let Kind::Str(j) = it.kind {
                    out.push(Part::Text(Text::J(j)));
                    continue;
                }
                let before = out.len();
                let ty = it.at("type");
                if ty.jstr().is_some_and(|t| t.is("text")) {
                    if let Some(t) = it.get("text").and_then(text_of) {
                        out.push(Part::Text(t));
                    }
                } else if ty.jstr().is_some_and(|t| t.is("image_url")) {
                    let u = it.at("image_url");
                    let url = if u.is_obj() { u.at("url") } else { u };
                    if let Some(p) = image_from_url(url) {
                        out.push(p);
                    }
                } else if ty.jstr().is_some_and(|t| t.is("file")) {
                    let f = it.at("file");
                    if let Some(p) =
                        file_from_data(f.at("file_data"), f.get("filename").and_then(text_of))
                    {
                        out.push(p);
                    }
                }
                if out.len() > before {
                    if let Some(cc) = cache_of(it) {
                        marks.push((out.len() - 1, cc));
                    }
                }
            }
        }
        Kind::Obj(_) => chat_content_c(
            &Node {
                raw: c.raw,
                kind: Kind::Arr(vec![c.clone()]),
            },
            out,
            marks,
        ),
        _ => {}
    }
}

pub(super) fn chat_tools<'a>(tools: &Node<'a>, req: &mut Req<'a>) {
    for t in tools.arr() {
        if !t.at("type").jstr().is_some_and(|s| s.is("function")) {
            continue;
        }
        let f = t.at("function");
        let Some(name) = f.get("name").and_then(text_of) else {
            continue;
        };
        req.tools.push(Tool {
            name,
            description: f.get("description").and_then(text_of),
            params: f
                .get("parameters")
                .or_else(|| f.get("parametersJsonSchema"))
                .filter(|p| p.is_obj())
                .map(|p| Cow::Borrowed(p.raw)),
            strict: f.get("strict").and_then(|s| s.bool()),
            cache: cache_of(t).or_else(|| cache_of(f)),
        });
    }
}

pub(super) fn chat_tool_choice<'a>(tc: &Node<'a>) -> Option<ToolChoice<'a>> {
    match &tc.kind {
        Kind::Str(s) => {
            if s.is("auto") {
                Some(ToolChoice::Auto)
            } else if s.is("none") {
                Some(ToolChoice::None)
            } else if s.is("required") {
                Some(ToolChoice::Required)
            } else {
                None
            }
        }
        Kind::Obj(_) => {
            // Chat: {"type":"function","function":{"name"}}; Responses: {"type":"function","name"}.
            let name = tc
                .path("function.name")
                .or_else(|| tc.get("name"))
                .and_then(text_of)?;
            Some(ToolChoice::Tool(name))
        }
        _ => None,
    }
}

pub(super) fn response_format_chat<'a>(rf: &Node<'a>) -> Option<RespFormat<'a>> {
    let ty = rf.at("type").s();
    match ty.as_ref() {
        "text" => Some(RespFormat::Text),
        "json_object" => Some(RespFormat::JsonObject),
        "json_schema" => {
            // Chat nests under json_schema; Responses text.format is flat.
            let js = rf.get("json_schema").unwrap_or(rf);
            Some(RespFormat::JsonSchema {
                name: js.get("name").and_then(text_of),
                schema: js
                    .get("schema")
                    .filter(|s| s.is_obj())
                    .map(|s| Cow::Borrowed(s.raw)),
                strict: js.get("strict").and_then(|s| s.bool()),
            })
        }
        _ => None,
    }
}

/// OpenAI Chat Completions request.
pub fn chat<'a>(root: &Node<'a>) -> Req<'a> {
    let mut req = Req {
        client_model: root.get("model").and_then(|m| m.str()),
        ..Req::default()
    };
    let messages = root.at("messages").arr();
    let last_result: HashMap<Cow<'a, str>, &Node<'a>> = messages
        .iter()
        .filter(|m| m.at("role").jstr().is_some_and(|r| r.is("tool")))
        .map(|m| (m.at("tool_call_id").s(), m))
        .filter(|(i, _)| !i.is_empty())
        .collect();
    let mut seen_results: HashSet<Cow<'a, str>> = HashSet::new();
    for m in messages {
        let role = m.at("role").s();
        let content = m.at("content");
        match role.as_ref() {
            "system" | "developer" if !req.msgs.is_empty() => {
                let mut texts = Vec::new();
                system_texts(content, &mut texts);
                req.push_system(texts);
            }
            "system" | "developer" => {
                let before = req.system.len();
                system_texts(content, &mut req.system);
                for (k, it) in content.arr().iter().enumerate() {
                    if let Some(cc) = cache_of(it) {
                        if before + k < req.system.len() {
                            req.system_cache.push((before + k, cc));
                        }
                    }
                }
                if let Some(cc) = cache_of(m) {
                    if req.system.len() > before {
                        req.system_cache.push((req.system.len() - 1, cc));
                    }
                }
            }
            "user" => {
                let mut parts = Vec::new();
                let mut marks = Vec::new();
                chat_content_c(content, &mut parts, &mut marks);
                if let Some(cc) = cache_of(m) {
                    if !parts.is_empty() && !marks.iter().any(|(i, _)| *i == parts.len() - 1) {
                        marks.push((parts.len() - 1, cc));
                    }
                }
                if !parts.is_empty() {
                    req.push_msg(Role::User, parts);
                    req.mark_cache(0, &marks);
                }
            }
            "assistant" => {
                chat_assistant(m, content, &mut req);
            }
            "tool" | "function" => {
                let id = m
                    .get("tool_call_id")
                    .map(|n| n.s())
                    .unwrap_or(Cow::Borrowed(""));
                // CLIProxyAPI: one result per call id, carrying the last
                // message's content for that id.
                if !id.is_empty() && !seen_results.insert(id.clone()) {
                    continue;
                }
                let m = last_result.get(&id).copied().unwrap_or(m);
                let content = m.at("content");
                let mut content_parts = Vec::new();
                match &content.kind {
                    Kind::Str(j) => content_parts.push(Part::Text(Text::J(*j))),
                    _ => chat_content(content, &mut content_parts),
                }
                req.push(
                    Role::User,
                    Part::ToolResult {
                        id,
                        name: m.get("name").and_then(text_of),
                        content: content_parts,
                        is_error: false,
                    },
                );
                if let Some(cc) = cache_of(m) {
                    let pi = req.msgs.last().map(|l| l.parts.len() - 1).unwrap_or(0);
                    req.mark_cache(pi, &[(0, cc)]);
                }
            }
            _ => {}
        }
    }
    chat_tools(root.at("tools"), &mut req);
    req.tool_choice = root.get("tool_choice").and_then(chat_tool_choice);
    req.parallel_tool_calls = root.get("parallel_tool_calls").and_then(|b| b.bool());
    req.max_tokens = root
        .get("max_completion_tokens")
        .or_else(|| root.get("max_tokens"))
        .and_then(|n| n.i64());
    req.temperature = num(root.get("temperature"));
    req.top_p = num(root.get("top_p"));
    req.top_k = num(root.get("top_k"));
    req.seed = num(root.get("seed"));
    req.n = root.get("n").and_then(|n| n.i64());
    stop_list(root.at("stop"), &mut req.stop);
    req.thinking = effort_thinking(root.get("reasoning_effort"))
        .or_else(|| effort_thinking(root.path("reasoning.effort")));
    // Chat has no summary field: an effort asks for the reasoning to be shown.
    req.summary = root
        .path("reasoning.summary")
        .and_then(|s| s.str())
        .map(|s| Summary::parse(&s))
        .or_else(|| {
            root.get("reasoning_effort").and_then(|e| e.str()).map(|e| {
                if Thinking::from_effort(&e) == Some(Thinking::None) {
                    Summary::Off
                } else {
                    Summary::Auto
                }
            })
        });
    req.response_format = root.get("response_format").and_then(response_format_chat);
    req.user = root
        .path("metadata.user_id")
        .and_then(text_of)
        .filter(|t| !t.get().trim().is_empty())
        .or_else(|| root.get("user").and_then(text_of));
    req
}

/// One assistant message: reasoning, content and tool calls.
fn chat_assistant<'a>(m: &Node<'a>, content: &Node<'a>, req: &mut Req<'a>) {
    let mut parts = Vec::new();
    if let Some(rc) = m.get("reasoning_content").and_then(text_of) {
        if !rc.is_empty() {
            parts.push(Part::Thinking {
                text: rc,
                sig: None,
                origin: Format::OpenAiChat,
            });
        }
    }
    let mut marks = Vec::new();
    chat_content_c(content, &mut parts, &mut marks);
    for tc in m.at("tool_calls").arr() {
        let f = tc.at("function");
        let Some(name) = f.get("name").and_then(text_of) else {
            continue;
        };
        let args = match f.at("arguments").jstr() {
            Some(j) => Args::Str(j),
            None if f.at("arguments").is_obj() => Args::Json(f.at("arguments").raw),
            None => Args::Json("{}"),
        };
        let sig = tc
            .path("extra_content.google.thought_signature")
            .and_then(text_of);
        parts.push(Part::ToolCall {
            id: tc.at("id").s(),
            name,
            args,
            sig,
        });
    }
    if let Some(cc) = cache_of(m) {
        if !parts.is_empty() && !marks.iter().any(|(i, _)| *i == parts.len() - 1) {
            marks.push((parts.len() - 1, cc));
        }
    }
    if !parts.is_empty() {
        req.push_msg(Role::Assistant, parts);
        req.mark_cache(0, &marks);
    }
}
