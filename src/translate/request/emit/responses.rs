//! OpenAI Responses (and Codex) request body.

use super::*;

pub(super) fn responses_user_part(w: &mut Writer<'_>, p: &Part<'_>) {
    match p {
        Part::Text(t) => {
            w.obj().key("type").str("input_text").key("text");
            t.write(w);
            w.end_obj();
        }
        Part::Image { mime, src } => {
            w.obj().key("type").str("input_image").key("image_url");
            data_url(w, mime, src);
            w.end_obj();
        }
        Part::File {
            mime,
            src,
            filename,
        } => {
            w.obj().key("type").str("input_file");
            w.key("filename");
            write_filename(w, mime, filename);
            match src {
                Src::Url(u) => {
                    w.key("file_url");
                    u.write(w);
                }
                Src::B64(_) => {
                    w.key("file_data");
                    data_url(w, mime, src);
                }
            }
            w.end_obj();
        }
        _ => {}
    }
}

/// OpenAI Responses body; `codex` selects the Codex flavour (always streaming,
/// `store:false`, encrypted reasoning included, no sampling/limit fields).
pub fn responses(req: &Req<'_>, o: &EmitOpts<'_>, codex: bool, out: &mut Vec<u8>) {
    let names = if codex {
        codex_name_map(req)
    } else {
        HashMap::new()
    };
    let mut w = Writer::new(out);
    w.obj().key("model").str(o.model);
    w.key("instructions");
    if codex || req.system.is_empty() {
        w.str("");
    } else {
        w.str(&joined_texts(&req.system, "\n\n"));
    }
    w.key("input").arr();
    responses_input_items(&mut w, req, &names, codex);
    w.end_arr();
    responses_tools(&mut w, req, &names);
    if codex {
        w.key("parallel_tool_calls").bool(true);
    } else if let Some(p) = req.parallel_tool_calls {
        w.key("parallel_tool_calls").bool(p);
    }
    let summary = responses_summary(req.thinking, req.summary, codex);
    let effort = match (req.thinking, codex) {
        (Some(t), _) => Some(t.effort()),
        (None, true) => Some("medium"),
        (None, false) => None,
    };
    if effort.is_some() || summary.is_some() {
        w.key("reasoning").obj();
        if let Some(e) = effort {
            w.key("effort").str(e);
        }
        if let Some(s) = summary {
            w.key("summary").str(s);
        }
        w.end_obj();
    }
    if codex {
        w.key("include")
            .arr()
            .str("reasoning.encrypted_content")
            .end_arr();
        w.key("store").bool(false);
        w.key("stream").bool(true);
    } else {
        w.key("stream").bool(o.stream);
        if let Some(m) = req.max_tokens {
            w.key("max_output_tokens").int(m);
        }
        if let Some(t) = req.temperature {
            w.key("temperature").raw(t);
        }
        if let Some(t) = req.top_p {
            w.key("top_p").raw(t);
        }
        if let Some(u) = &req.user {
            w.key("user");
            u.write(&mut w);
        }
    }
    responses_text_format(&mut w, &req.response_format);
}

/// The `text.format` member (structured output).
fn responses_text_format(w: &mut Writer<'_>, rf: &Option<RespFormat<'_>>) {
    match rf {
        Some(RespFormat::Text) => {
            w.key("text")
                .obj()
                .key("format")
                .obj()
                .key("type")
                .str("text");
            w.end_obj().end_obj();
        }
        Some(RespFormat::JsonObject) => {
            w.key("text")
                .obj()
                .key("format")
                .obj()
                .key("type")
                .str("json_object");
            w.end_obj().end_obj();
        }
        Some(RespFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => {
            w.key("text")
                .obj()
                .key("format")
                .obj()
                .key("type")
                .str("json_schema");
            json_schema_members(w, name, schema, strict);
            w.end_obj().end_obj();
        }
        None => {}
    }
    w.end_obj();
}

/// `tools` and `tool_choice`.
fn responses_tools(w: &mut Writer<'_>, req: &Req<'_>, names: &HashMap<String, String>) {
    if !req.tools.is_empty() {
        w.key("tools").arr();
        for t in &req.tools {
            w.obj().key("type").str("function").key("name");
            codex_name(names, &t.name, w);
            function_members(w, t);
            w.end_obj();
        }
        w.end_arr();
    }
    if let Some(tc) = &req.tool_choice {
        w.key("tool_choice");
        match tc {
            ToolChoice::Auto => w.str("auto"),
            ToolChoice::None => w.str("none"),
            ToolChoice::Required => w.str("required"),
            ToolChoice::Tool(n) => {
                w.obj().key("type").str("function").key("name");
                codex_name(names, n, w);
                w.end_obj()
            }
        };
    }
}

/// One assistant message as Responses input items (text runs, calls, reasoning).
fn responses_assistant(w: &mut Writer<'_>, m: &Msg<'_>, names: &HashMap<String, String>) {
    let mut k = 0;
    while k < m.parts.len() {
        match &m.parts[k] {
            Part::Text(_) => {
                w.obj()
                    .key("type")
                    .str("message")
                    .key("role")
                    .str("assistant");
                w.key("content").arr();
                while let Some(Part::Text(t)) = m.parts.get(k) {
                    w.obj().key("type").str("output_text").key("text");
                    t.write(w);
                    w.end_obj();
                    k += 1;
                }
                w.end_arr().end_obj();
                continue;
            }
            Part::ToolCall { id, name, args, .. } => {
                w.obj()
                    .key("type")
                    .str("function_call")
                    .key("call_id")
                    .str(id);
                w.key("name");
                codex_name(names, name, w);
                w.key("arguments");
                args_str(w, args);
                w.end_obj();
            }
            Part::Thinking { text, sig, origin } => {
                if let (Format::OpenAiResponses | Format::Codex, Some(s)) = (origin, sig) {
                    w.obj().key("type").str("reasoning").key("summary").arr();
                    if !text.is_empty() {
                        w.obj().key("type").str("summary_text").key("text");
                        text.write(w);
                        w.end_obj();
                    }
                    w.end_arr().key("encrypted_content");
                    s.write(w);
                    w.end_obj();
                }
            }
            _ => {}
        }
        k += 1;
    }
}

/// One user message as Responses input items (tool outputs first, then the rest).
fn responses_user(w: &mut Writer<'_>, m: &Msg<'_>) {
    for p in &m.parts {
        if let Part::ToolResult { id, content, .. } = p {
            w.obj().key("type").str("function_call_output");
            w.key("call_id").str(id).key("output");
            if content.iter().any(is_media) {
                w.arr();
                for c in content {
                    responses_user_part(w, c);
                }
                w.end_arr();
            } else {
                match content.as_slice() {
                    [Part::Text(t)] => t.write(w),
                    _ => {
                        w.str(&joined(content, "\n"));
                    }
                }
            }
            w.end_obj();
        }
    }
    let rest: Vec<&Part<'_>> = m
        .parts
        .iter()
        .filter(|p| matches!(p, Part::Text(_)) || is_media(p))
        .collect();
    if !rest.is_empty() {
        w.obj().key("type").str("message").key("role").str("user");
        w.key("content").arr();
        for p in rest {
            responses_user_part(w, p);
        }
        w.end_arr().end_obj();
    }
}

/// The items of `input`: the Codex developer message, then every message in order.
fn responses_input_items(
    w: &mut Writer<'_>,
    req: &Req<'_>,
    names: &HashMap<String, String>,
    codex: bool,
) {
    if codex && !req.system.is_empty() {
        w.obj()
            .key("type")
            .str("message")
            .key("role")
            .str("developer");
        w.key("content").arr();
        for t in &req.system {
            w.obj().key("type").str("input_text").key("text");
            t.write(w);
            w.end_obj();
        }
        w.end_arr().end_obj();
    }
    for (mi, m) in req.msgs.iter().enumerate() {
        mid_system(w, req, mi, true);
        match m.role {
            Role::User => {
                responses_user(w, m);
            }
            Role::Assistant => {
                responses_assistant(w, m, names);
            }
        }
    }
    mid_system(w, req, req.msgs.len(), true);
}
