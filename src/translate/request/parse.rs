//! Client-format parsers: body DOM → [`Req`].
//!
//! Parsers are lenient like CLIProxyAPI: unknown fields are ignored, wrongly
//! typed fields are skipped; only a non-object root is an error (checked by
//! the caller).

use super::ir::*;
use crate::json::tree::{Kind, Node};
use crate::translate::format::Format;
use crate::translate::thinking::{Summary, Thinking};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

fn text_of<'a>(n: &Node<'a>) -> Option<Text<'a>> {
    n.jstr().map(Text::J)
}

/// Split a data URL held in a JSON string into (mime, data).
pub fn data_url<'a>(n: &Node<'a>) -> Option<(Cow<'a, str>, Text<'a>)> {
    let j = n.jstr()?;
    match j.get() {
        Cow::Borrowed(s) => {
            let (m, d) = split_data_url(s)?;
            Some((Cow::Borrowed(m), Text::S(Cow::Borrowed(d))))
        }
        Cow::Owned(s) => {
            let (m, d) = split_data_url(&s)?;
            Some((
                Cow::Owned(m.to_string()),
                Text::S(Cow::Owned(d.to_string())),
            ))
        }
    }
}

fn image_from_url<'a>(url: &Node<'a>) -> Option<Part<'a>> {
    if let Some((mime, data)) = data_url(url) {
        return Some(Part::Image {
            mime,
            src: Src::B64(data),
        });
    }
    let t = text_of(url)?;
    if t.is_empty() {
        return None;
    }
    Some(Part::Image {
        mime: Cow::Borrowed(""),
        src: Src::Url(t),
    })
}

fn file_from_data<'a>(data: &Node<'a>, filename: Option<Text<'a>>) -> Option<Part<'a>> {
    let (mime, data) = data_url(data)?;
    Some(Part::File {
        mime,
        src: Src::B64(data),
        filename,
    })
}

fn stop_list<'a>(n: &Node<'a>, out: &mut Vec<Text<'a>>) {
    match &n.kind {
        Kind::Str(j) => out.push(Text::J(*j)),
        Kind::Arr(a) => out.extend(a.iter().filter_map(text_of)),
        _ => {}
    }
}

fn num<'a>(n: Option<&Node<'a>>) -> Option<&'a str> {
    n.and_then(|n| n.num())
}

/// The raw `cache_control` object of a node, if any.
fn cache_of<'a>(n: &Node<'a>) -> Option<&'a str> {
    n.get("cache_control").filter(|c| c.is_obj()).map(|c| c.raw)
}

/// OpenAI Chat content (string or parts array) → parts.
fn chat_content<'a>(c: &Node<'a>, out: &mut Vec<Part<'a>>) {
    chat_content_c(c, out, &mut Vec::new());
}

/// Like [`chat_content`], also collecting (index in `out`, cache_control).
fn chat_content_c<'a>(c: &Node<'a>, out: &mut Vec<Part<'a>>, marks: &mut Vec<(usize, &'a str)>) {
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

fn system_texts<'a>(c: &Node<'a>, out: &mut Vec<Text<'a>>) {
    match &c.kind {
        Kind::Str(j) if !j.raw.is_empty() => out.push(Text::J(*j)),
        Kind::Arr(items) => {
            for it in items {
                if let Some(t) = it.get("text").and_then(text_of).or_else(|| text_of(it)) {
                    out.push(t);
                }
            }
        }
        Kind::Obj(_) => {
            if let Some(t) = c.get("text").and_then(text_of) {
                out.push(t)
            }
        }
        _ => {}
    }
}

/// Which provider made a thinking signature a Claude client sends back: Claude's
/// own (base64 protobuf), or a Responses/Codex `encrypted_content` handed to
/// the client as a signature (a Fernet token: always starts `gAAAAA`).
fn claude_sig_origin(sig: Option<&Text<'_>>) -> Format {
    match sig {
        Some(s) if s.get().starts_with("gAAAAA") => Format::OpenAiResponses,
        _ => Format::Claude,
    }
}

fn effort_thinking(n: Option<&Node<'_>>) -> Option<Thinking> {
    n.and_then(|n| n.str())
        .and_then(|s| Thinking::from_effort(&s))
}

fn chat_tools<'a>(tools: &Node<'a>, req: &mut Req<'a>) {
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

fn chat_tool_choice<'a>(tc: &Node<'a>) -> Option<ToolChoice<'a>> {
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

fn response_format_chat<'a>(rf: &Node<'a>) -> Option<RespFormat<'a>> {
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

/// CLIProxyAPI's session seed for Claude `metadata.user_id`: the first of
/// `prompt_cache_key`, `session_id`/`sessionId`, `conversation.id` /
/// `conversation` / `conversation_id`, with its label.
pub fn session_seed(root: &Node<'_>) -> Option<String> {
    let pick = |n: Option<&Node<'_>>| {
        n.and_then(|v| v.str())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if let Some(v) = pick(root.get("prompt_cache_key")) {
        return Some(format!("prompt_cache_key:{v}"));
    }
    if let Some(v) = pick(root.get("session_id")).or_else(|| pick(root.get("sessionId"))) {
        return Some(format!("session_id:{v}"));
    }
    let conv = root.at("conversation");
    pick(conv.get("id"))
        .or_else(|| pick(Some(conv)))
        .or_else(|| pick(root.get("conversation_id")))
        .map(|v| format!("conversation_id:{v}"))
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

fn responses_content<'a>(c: &Node<'a>, out: &mut Vec<Part<'a>>) {
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
fn responses_tool<'a>(t: &Node<'a>, ns: Option<&str>, req: &mut Req<'a>) {
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
        req.push_msg(Role::User, vec![Part::Text(Text::J(j))]);
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

fn claude_media<'a>(b: &Node<'a>) -> Option<(Cow<'a, str>, Src<'a>)> {
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

fn claude_blocks<'a>(c: &Node<'a>, out: &mut Vec<Part<'a>>) {
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

/// Google Gemini generateContent request.
pub fn gemini<'a>(root: &Node<'a>) -> Req<'a> {
    let mut req = Req {
        client_model: root.get("model").and_then(|m| m.str()),
        ..Req::default()
    };
    let si = root
        .get("systemInstruction")
        .or_else(|| root.get("system_instruction"));
    if let Some(si) = si {
        for p in si.at("parts").arr() {
            if let Some(t) = p.get("text").and_then(text_of) {
                req.system.push(t);
            }
        }
    }
    // Synthetic ids for calls without one; results match pending calls by name.
    let mut pending: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::new();
    let mut counter = 0usize;
    for c in root.at("contents").arr() {
        let role = match c.at("role").s().as_ref() {
            "model" => Role::Assistant,
            _ => Role::User,
        };
        let mut parts = Vec::new();
        for p in c.at("parts").arr() {
            let sig = p
                .get("thoughtSignature")
                .or_else(|| p.get("thought_signature"))
                .and_then(text_of);
            if let Some(t) = p.get("text").and_then(text_of) {
                if p.at("thought").bool() == Some(true) {
                    parts.push(Part::Thinking {
                        text: t,
                        sig,
                        origin: Format::Gemini,
                    });
                } else {
                    parts.push(Part::Text(t));
                }
            } else if let Some(d) = p.get("inlineData").or_else(|| p.get("inline_data")) {
                let mime = d
                    .get("mimeType")
                    .or_else(|| d.get("mime_type"))
                    .map(|m| m.s());
                let Some(data) = d.get("data").and_then(text_of) else {
                    continue;
                };
                let mime = mime.unwrap_or(Cow::Borrowed("application/octet-stream"));
                if mime.starts_with("image/") {
                    parts.push(Part::Image {
                        mime,
                        src: Src::B64(data),
                    });
                } else {
                    parts.push(Part::File {
                        mime,
                        src: Src::B64(data),
                        filename: None,
                    });
                }
            } else if let Some(d) = p.get("fileData").or_else(|| p.get("file_data")) {
                let mime = d
                    .get("mimeType")
                    .or_else(|| d.get("mime_type"))
                    .map(|m| m.s())
                    .unwrap_or(Cow::Borrowed(""));
                if let Some(uri) = d
                    .get("fileUri")
                    .or_else(|| d.get("file_uri"))
                    .and_then(text_of)
                {
                    parts.push(Part::Image {
                        mime,
                        src: Src::Url(uri),
                    });
                }
            } else if let Some(fc) = p.get("functionCall").or_else(|| p.get("function_call")) {
                let Some(name) = fc.get("name").and_then(text_of) else {
                    continue;
                };
                let id = match fc.get("id").and_then(|i| i.str()) {
                    Some(i) if !i.is_empty() => i,
                    _ => {
                        counter += 1;
                        Cow::Owned(format!("call_{}_{}", name.get(), counter))
                    }
                };
                pending.push((name.get(), id.clone()));
                let args = fc.at("args");
                parts.push(Part::ToolCall {
                    id,
                    name,
                    args: Args::Json(if args.is_obj() { args.raw } else { "{}" }),
                    sig,
                });
            } else if let Some(fr) = p
                .get("functionResponse")
                .or_else(|| p.get("function_response"))
            {
                let name = fr.get("name").and_then(text_of);
                let nm = name.as_ref().map(|n| n.get()).unwrap_or_default();
                let id = match fr.get("id").and_then(|i| i.str()) {
                    Some(i) if !i.is_empty() => {
                        pending.retain(|(_, pid)| *pid != i);
                        i
                    }
                    _ => match pending.iter().position(|(n, _)| *n == nm) {
                        Some(ix) => pending.remove(ix).1,
                        None => {
                            counter += 1;
                            Cow::Owned(format!("call_{}_{}", nm, counter))
                        }
                    },
                };
                let resp = fr.at("response");
                // {"result": "..."} / {"output": "..."} / {"content": "..."} unwrap to text.
                let inner = match resp.obj() {
                    [(k, v)] if (k.is("result") || k.is("output") || k.is("content")) => Some(v),
                    _ => None,
                };
                let text = match inner.and_then(|v| v.jstr()) {
                    Some(j) => Text::J(j),
                    None => Text::S(Cow::Borrowed(inner.map(|v| v.raw).unwrap_or(resp.raw))),
                };
                parts.push(Part::ToolResult {
                    id,
                    name,
                    content: vec![Part::Text(text)],
                    is_error: false,
                });
            }
        }
        if !parts.is_empty() {
            req.push_msg(role, parts);
        }
    }
    let gc = root
        .get("generationConfig")
        .or_else(|| root.get("generation_config"))
        .unwrap_or(root.at("__none__"));
    req.max_tokens = gc.get("maxOutputTokens").and_then(|n| n.i64());
    req.temperature = num(gc.get("temperature"));
    req.top_p = num(gc.get("topP"));
    req.top_k = num(gc.get("topK"));
    req.seed = num(gc.get("seed"));
    req.n = gc.get("candidateCount").and_then(|n| n.i64());
    stop_list(gc.at("stopSequences"), &mut req.stop);
    let tc = gc
        .get("thinkingConfig")
        .or_else(|| gc.get("thinking_config"))
        .unwrap_or(root.at("__none__"));
    req.thinking = tc
        .get("thinkingBudget")
        .or_else(|| tc.get("thinking_budget"))
        .and_then(|b| b.i64())
        .and_then(Thinking::from_budget)
        .or_else(|| effort_thinking(tc.get("thinkingLevel").or_else(|| tc.get("thinking_level"))));
    let include = tc
        .get("includeThoughts")
        .or_else(|| tc.get("include_thoughts"))
        .and_then(|b| b.bool());
    if req.thinking.is_none() && include == Some(true) {
        req.thinking = Some(Thinking::Auto);
    }
    req.summary = include.map(|b| if b { Summary::Auto } else { Summary::Off });
    if gc
        .get("responseMimeType")
        .or_else(|| gc.get("response_mime_type"))
        .is_some_and(|m| m.jstr().is_some_and(|s| s.is("application/json")))
    {
        let schema = gc
            .get("responseJsonSchema")
            .or_else(|| gc.get("response_json_schema"))
            .or_else(|| gc.get("responseSchema"))
            .or_else(|| gc.get("response_schema"))
            .filter(|s| s.is_obj())
            .map(super::schema::lowercase_types);
        req.response_format = Some(match schema {
            Some(s) => RespFormat::JsonSchema {
                name: None,
                schema: Some(s),
                strict: None,
            },
            None => RespFormat::JsonObject,
        });
    }
    for t in root.at("tools").arr() {
        let decls = t
            .get("functionDeclarations")
            .or_else(|| t.get("function_declarations"));
        for d in decls.map(|d| d.arr()).unwrap_or(&[]) {
            let Some(name) = d.get("name").and_then(text_of) else {
                continue;
            };
            req.tools.push(Tool {
                name,
                description: d.get("description").and_then(text_of),
                // google-genai writes `parameters_json_schema` in snake case.
                params: d
                    .get("parametersJsonSchema")
                    .or_else(|| d.get("parameters_json_schema"))
                    .or_else(|| d.get("parameters"))
                    .filter(|p| p.is_obj())
                    .map(|p| super::schema::lowercase_types(p)),
                strict: None,
                cache: None,
            });
        }
    }
    let fcc = root.path("toolConfig.functionCallingConfig");
    if let Some(fcc) = fcc {
        let allowed = fcc.at("allowedFunctionNames").arr();
        req.tool_choice = match fcc.at("mode").s().as_ref() {
            "AUTO" | "VALIDATED" => Some(ToolChoice::Auto),
            "NONE" => Some(ToolChoice::None),
            "ANY" if allowed.len() == 1 => allowed.first().and_then(text_of).map(ToolChoice::Tool),
            "ANY" => Some(ToolChoice::Required),
            _ => None,
        };
    }
    req
}
