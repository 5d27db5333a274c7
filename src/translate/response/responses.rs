//! Non-stream OpenAI Responses (and Codex) responses: read and write.

use super::*;

/// The response object of a Responses/Codex body (unwrapping a
/// `response.completed` event).
pub(super) fn responses_root<'n, 'a>(root: &'n Node<'a>) -> &'n Node<'a> {
    match root.get("response") {
        Some(r) if r.is_obj() && root.get("output").is_none() => r,
        _ => root,
    }
}

pub(super) fn from_responses<'a>(root: &Node<'a>) -> Resp<'a> {
    let root = responses_root(root);
    let mut parts = Vec::new();
    for it in root.at("output").arr() {
        match it.at("type").s().as_ref() {
            "message" => {
                for c in it.at("content").arr() {
                    if let Some(t) = c.get("text").and_then(text_of) {
                        parts.push(OutPart::Text(t));
                    } else if let Some(t) = c.get("refusal").and_then(text_of) {
                        parts.push(OutPart::Text(t));
                    }
                }
            }
            "reasoning" => {
                let mut text = String::new();
                for s in it.at("summary").arr() {
                    if !text.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(&s.at("text").s());
                }
                parts.push(OutPart::Thinking {
                    text: Text::S(Cow::Owned(text)),
                    sig: it.get("encrypted_content").and_then(text_of),
                    origin: Format::OpenAiResponses,
                });
            }
            "function_call" | "custom_tool_call" => {
                let Some(name) = it.get("name").and_then(text_of) else {
                    continue;
                };
                parts.push(OutPart::ToolCall {
                    id: it
                        .get("call_id")
                        .or_else(|| it.get("id"))
                        .map(|i| i.s())
                        .unwrap_or_default(),
                    name,
                    args: it
                        .get("arguments")
                        .or_else(|| it.get("input"))
                        .and_then(|a| a.jstr())
                        .map(Args::Str)
                        .unwrap_or(Args::Json("{}")),
                });
            }
            _ => {}
        }
    }
    let status = root.at("status").s();
    let reason = root.path("incomplete_details.reason").map(|r| r.s());
    let has_calls = parts.iter().any(|p| matches!(p, OutPart::ToolCall { .. }));
    let (finish, native) = match (status.as_ref(), reason) {
        (_, _) if has_calls => (Finish::ToolCalls, status.clone()),
        ("incomplete", Some(r)) if r == "content_filter" => (Finish::ContentFilter, r),
        ("incomplete", Some(r)) => (Finish::Length, r),
        ("incomplete", None) => (Finish::Length, Cow::Borrowed("max_output_tokens")),
        _ => (Finish::Stop, status.clone()),
    };
    let usage = root.get("usage").filter(|u| u.is_obj()).map(|u| Usage {
        input: int(u, "input_tokens"),
        output: int(u, "output_tokens"),
        cached: int(u, "input_tokens_details.cached_tokens"),
        cache_creation: 0,
        reasoning: int(u, "output_tokens_details.reasoning_tokens"),
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

pub(super) fn to_responses(
    r: &Resp<'_>,
    ctx: &RespCtx<'_>,
    tools: Option<&ClientTools>,
    w: &mut Writer<'_>,
) {
    let id = id_or(&r.id, "resp_", ctx.created);
    w.obj().key("id").str(&id).key("object").str("response");
    w.key("created_at").uint(ctx.created);
    let incomplete = matches!(r.finish, Finish::Length | Finish::ContentFilter);
    w.key("status").str(if incomplete {
        "incomplete"
    } else {
        "completed"
    });
    if incomplete {
        w.key("incomplete_details").obj().key("reason");
        w.str(if r.finish == Finish::Length {
            "max_output_tokens"
        } else {
            "content_filter"
        });
        w.end_obj();
    }
    w.key("model").str(ctx.client_model);
    w.key("output").arr();
    let mut k = 0;
    let mut item = 0;
    while k < r.parts.len() {
        item += 1;
        match &r.parts[k] {
            OutPart::Thinking { text, sig, origin } => {
                w.obj().key("id").str(&format!("rs_{id}_{item}"));
                w.key("type").str("reasoning").key("summary").arr();
                if !text.is_empty() {
                    w.obj().key("type").str("summary_text").key("text");
                    text.write(w);
                    w.end_obj();
                }
                w.end_arr();
                if let (Format::OpenAiResponses | Format::Codex, Some(s)) = (origin, sig) {
                    w.key("encrypted_content");
                    s.write(w);
                }
                w.end_obj();
            }
            OutPart::Text(_) => {
                w.obj().key("id").str(&format!("msg_{id}_{item}"));
                w.key("type").str("message").key("status").str("completed");
                w.key("role").str("assistant").key("content").arr();
                while let Some(OutPart::Text(t)) = r.parts.get(k) {
                    w.obj().key("type").str("output_text").key("text");
                    t.write(w);
                    w.key("annotations").arr().end_arr().end_obj();
                    k += 1;
                }
                w.end_arr().end_obj();
                continue;
            }
            OutPart::ToolCall {
                id: cid,
                name,
                args,
            } => {
                if let Some(t) = tools {
                    if client_tool_call(t, cid, name, args, &format!("{id}_{item}"), w) {
                        k += 1;
                        continue;
                    }
                }
                w.obj().key("id").str(&format!("fc_{id}_{item}"));
                w.key("type")
                    .str("function_call")
                    .key("status")
                    .str("completed");
                w.key("call_id").str(cid).key("name");
                name.write(w);
                w.key("arguments");
                args_str(w, args);
                w.end_obj();
            }
        }
        k += 1;
    }
    w.end_arr();
    if let Some(u) = &r.usage {
        w.key("usage").obj();
        w.key("input_tokens").int(u.input);
        w.key("input_tokens_details")
            .obj()
            .key("cached_tokens")
            .int(u.cached)
            .end_obj();
        w.key("output_tokens").int(u.output);
        w.key("output_tokens_details").obj();
        w.key("reasoning_tokens").int(u.reasoning).end_obj();
        w.key("total_tokens").int(u.total());
        w.end_obj();
    }
    w.end_obj();
}
