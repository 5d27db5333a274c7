//! OpenAI Chat Completions request body.

use super::*;

pub(super) fn chat_user_part(w: &mut Writer<'_>, p: &Part<'_>) {
    match p {
        Part::Text(t) => {
            w.obj().key("type").str("text").key("text");
            t.write(w);
            w.end_obj();
        }
        Part::Image { mime, src } => {
            w.obj()
                .key("type")
                .str("image_url")
                .key("image_url")
                .obj()
                .key("url");
            data_url(w, mime, src);
            w.end_obj().end_obj();
        }
        Part::File {
            mime,
            src,
            filename,
        } => {
            w.obj().key("type").str("file").key("file").obj();
            w.key("filename");
            write_filename(w, mime, filename);
            w.key("file_data");
            data_url(w, mime, src);
            w.end_obj().end_obj();
        }
        _ => {}
    }
}

/// OpenAI Chat Completions body.
pub fn chat(req: &Req<'_>, o: &EmitOpts<'_>, out: &mut Vec<u8>) {
    let mut w = Writer::new(out);
    w.obj().key("model").str(o.model);
    w.key("messages").arr();
    match req.system.as_slice() {
        [] => {}
        [one] => {
            w.obj().key("role").str("system").key("content");
            one.write(&mut w);
            w.end_obj();
        }
        many => {
            w.obj().key("role").str("system").key("content").arr();
            for t in many {
                w.obj().key("type").str("text").key("text");
                t.write(&mut w);
                w.end_obj();
            }
            w.end_arr().end_obj();
        }
    }
    for (mi, m) in req.msgs.iter().enumerate() {
        mid_system(&mut w, req, mi, false);
        match m.role {
            Role::User => {
                chat_user(&mut w, m);
            }
            Role::Assistant => {
                chat_assistant(&mut w, m);
            }
        }
    }
    mid_system(&mut w, req, req.msgs.len(), false);
    w.end_arr();
    w.key("stream").bool(o.stream);
    if o.stream {
        w.key("stream_options")
            .obj()
            .key("include_usage")
            .bool(true)
            .end_obj();
    }
    if let Some(m) = req.max_tokens {
        w.key("max_tokens").int(m);
    }
    if let Some(t) = req.temperature {
        w.key("temperature").raw(t);
    }
    if let Some(t) = req.top_p {
        w.key("top_p").raw(t);
    }
    if let Some(s) = req.seed {
        w.key("seed").raw(s);
    }
    if let Some(n) = req.n {
        w.key("n").int(n);
    }
    if !req.stop.is_empty() {
        w.key("stop").arr();
        for s in &req.stop {
            s.write(&mut w);
        }
        w.end_arr();
    }
    if let Some(t) = req.thinking {
        w.key("reasoning_effort").str(t.effort());
    }
    chat_tools(&mut w, req);
    chat_response_format(&mut w, &req.response_format);
    if let Some(u) = &req.user {
        w.key("user");
        u.write(&mut w);
    }
    w.end_obj();
}

/// The `response_format` member (structured output).
fn chat_response_format(w: &mut Writer<'_>, rf: &Option<RespFormat<'_>>) {
    match rf {
        Some(RespFormat::Text) => {
            w.key("response_format")
                .obj()
                .key("type")
                .str("text")
                .end_obj();
        }
        Some(RespFormat::JsonObject) => {
            w.key("response_format")
                .obj()
                .key("type")
                .str("json_object")
                .end_obj();
        }
        Some(RespFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => {
            w.key("response_format")
                .obj()
                .key("type")
                .str("json_schema");
            w.key("json_schema").obj();
            json_schema_members(w, name, schema, strict);
            w.end_obj().end_obj();
        }
        None => {}
    }
}

/// `tools`, `parallel_tool_calls` and `tool_choice`.
fn chat_tools(w: &mut Writer<'_>, req: &Req<'_>) {
    if !req.tools.is_empty() {
        w.key("tools").arr();
        for t in &req.tools {
            w.obj()
                .key("type")
                .str("function")
                .key("function")
                .obj()
                .key("name");
            t.name.write(w);
            function_members(w, t);
            w.end_obj().end_obj();
        }
        w.end_arr();
        if let Some(p) = req.parallel_tool_calls {
            w.key("parallel_tool_calls").bool(p);
        }
    }
    if let Some(tc) = &req.tool_choice {
        w.key("tool_choice");
        match tc {
            ToolChoice::Auto => w.str("auto"),
            ToolChoice::None => w.str("none"),
            ToolChoice::Required => w.str("required"),
            ToolChoice::Tool(n) => {
                w.obj()
                    .key("type")
                    .str("function")
                    .key("function")
                    .obj()
                    .key("name");
                n.write(w);
                w.end_obj().end_obj()
            }
        };
    }
}

/// One assistant message (text, reasoning, tool calls).
fn chat_assistant(w: &mut Writer<'_>, m: &Msg<'_>) {
    w.obj().key("role").str("assistant").key("content");
    let texts: Vec<&Part<'_>> = m
        .parts
        .iter()
        .filter(|p| matches!(p, Part::Text(_)))
        .collect();
    match texts.as_slice() {
        [] => w.null(),
        [Part::Text(t)] => {
            t.write(w);
            &mut *w
        }
        _ => w.str(&joined(&m.parts, "")),
    };
    let mut reasoning = String::new();
    for p in &m.parts {
        if let Part::Thinking { text, .. } = p {
            reasoning.push_str(&text.get());
        }
    }
    if !reasoning.is_empty() {
        w.key("reasoning_content").str(&reasoning);
    }
    if m.parts.iter().any(|p| matches!(p, Part::ToolCall { .. })) {
        w.key("tool_calls").arr();
        for p in &m.parts {
            if let Part::ToolCall { id, name, args, .. } = p {
                w.obj().key("id").str(id).key("type").str("function");
                w.key("function").obj().key("name");
                name.write(w);
                w.key("arguments");
                args_str(w, args);
                w.end_obj().end_obj();
            }
        }
        w.end_arr();
    }
    w.end_obj();
}

/// One user message: its tool results as `tool` messages, then the rest.
fn chat_user(w: &mut Writer<'_>, m: &Msg<'_>) {
    let mut extra_media: Vec<&Part<'_>> = Vec::new();
    for p in &m.parts {
        if let Part::ToolResult { id, content, .. } = p {
            w.obj().key("role").str("tool").key("tool_call_id").str(id);
            w.key("content");
            match content.as_slice() {
                [Part::Text(t)] => t.write(w),
                _ => {
                    w.str(&joined(content, "\n"));
                }
            }
            w.end_obj();
            extra_media.extend(content.iter().filter(|p| is_media(p)));
        }
    }
    let rest: Vec<&Part<'_>> = m
        .parts
        .iter()
        .filter(|p| matches!(p, Part::Text(_)) || is_media(p))
        .chain(extra_media)
        .collect();
    if rest.is_empty() {
        return;
    }
    w.obj().key("role").str("user").key("content");
    match rest.as_slice() {
        [Part::Text(t)] => t.write(w),
        _ => {
            w.arr();
            for p in &rest {
                chat_user_part(w, p);
            }
            w.end_arr();
        }
    }
    w.end_obj();
}
