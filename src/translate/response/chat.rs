//! Non-stream OpenAI Chat Completions responses: read ([`from_chat`]) and write ([`to_chat`]).

use super::*;

pub(super) fn from_chat<'a>(root: &Node<'a>) -> Resp<'a> {
    let choice = root.at("choices").arr().first();
    let msg = choice.map(|c| c.at("message"));
    let mut parts = Vec::new();
    if let Some(m) = msg {
        if let Some(r) = m
            .get("reasoning_content")
            .or_else(|| m.get("reasoning"))
            .and_then(text_of)
        {
            if !r.is_empty() {
                parts.push(OutPart::Thinking {
                    text: r,
                    sig: None,
                    origin: Format::OpenAiChat,
                });
            }
        }
        let content = m.at("content");
        if let Some(t) = text_of(content) {
            if !t.is_empty() {
                parts.push(OutPart::Text(t));
            }
        }
        // Some OpenAI-compatible providers return content as text parts.
        for p in content.arr() {
            if let Some(t) = p.get("text").and_then(text_of) {
                parts.push(OutPart::Text(t));
            }
        }
        for tc in m.at("tool_calls").arr() {
            let f = tc.at("function");
            let Some(name) = f.get("name").and_then(text_of) else {
                continue;
            };
            parts.push(OutPart::ToolCall {
                id: tc.at("id").s(),
                name,
                args: f
                    .at("arguments")
                    .jstr()
                    .map(Args::Str)
                    .unwrap_or(Args::Json("{}")),
            });
        }
    }
    let native = choice
        .map(|c| c.at("finish_reason").s())
        .unwrap_or_default();
    let finish = match native.as_ref() {
        "length" => Finish::Length,
        "tool_calls" | "function_call" => Finish::ToolCalls,
        "content_filter" => Finish::ContentFilter,
        _ if parts.iter().any(|p| matches!(p, OutPart::ToolCall { .. })) => Finish::ToolCalls,
        _ => Finish::Stop,
    };
    let usage = root.get("usage").filter(|u| u.is_obj()).map(|u| Usage {
        input: int(u, "prompt_tokens"),
        output: int(u, "completion_tokens"),
        cached: int(u, "prompt_tokens_details.cached_tokens"),
        cache_creation: 0,
        reasoning: int(u, "completion_tokens_details.reasoning_tokens"),
        total: u.get("total_tokens").and_then(|t| t.i64()),
    });
    Resp {
        id: root.at("id").s(),
        parts,
        finish,
        native,
        usage,
    }
}

pub(super) fn to_chat(r: &Resp<'_>, ctx: &RespCtx<'_>, w: &mut Writer<'_>) {
    w.obj()
        .key("id")
        .str(&id_or(&r.id, "chatcmpl-", ctx.created));
    w.key("object").str("chat.completion");
    w.key("created").uint(ctx.created);
    w.key("model").str(ctx.client_model);
    w.key("choices").arr().obj().key("index").int(0);
    w.key("message")
        .obj()
        .key("role")
        .str("assistant")
        .key("content");
    let texts: Vec<&Text<'_>> = r
        .parts
        .iter()
        .filter_map(|p| match p {
            OutPart::Text(t) => Some(t),
            _ => None,
        })
        .collect();
    match texts.as_slice() {
        [] => {
            w.null();
        }
        [one] => one.write(w),
        many => {
            let s: String = many.iter().map(|t| t.get()).collect();
            w.str(&s);
        }
    }
    let reasoning: String = r
        .parts
        .iter()
        .filter_map(|p| match p {
            OutPart::Thinking { text, .. } => Some(text.get()),
            _ => None,
        })
        .collect();
    if !reasoning.is_empty() {
        w.key("reasoning_content").str(&reasoning);
    }
    if r.parts
        .iter()
        .any(|p| matches!(p, OutPart::ToolCall { .. }))
    {
        w.key("tool_calls").arr();
        for p in &r.parts {
            if let OutPart::ToolCall { id, name, args } = p {
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
    w.key("finish_reason").str(match r.finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
        Finish::ContentFilter => "content_filter",
    });
    w.key("native_finish_reason")
        .str(&r.native.to_ascii_lowercase());
    w.end_obj().end_arr();
    if let Some(u) = &r.usage {
        w.key("usage").obj();
        w.key("prompt_tokens").int(u.input);
        w.key("completion_tokens").int(u.output);
        w.key("total_tokens").int(u.total());
        w.key("prompt_tokens_details").obj();
        w.key("cached_tokens").int(u.cached);
        if u.cache_creation > 0 {
            w.key("cached_creation_tokens").int(u.cache_creation);
        }
        w.end_obj();
        w.key("completion_tokens_details").obj();
        w.key("reasoning_tokens").int(u.reasoning).end_obj();
        w.end_obj();
    }
    w.end_obj();
}
