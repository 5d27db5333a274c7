//! Non-stream Anthropic Messages responses: read and write.

use super::*;

pub(super) fn from_claude<'a>(root: &Node<'a>) -> Resp<'a> {
    let mut parts = Vec::new();
    for b in root.at("content").arr() {
        match b.at("type").s().as_ref() {
            "text" => {
                if let Some(t) = b.get("text").and_then(text_of) {
                    parts.push(OutPart::Text(t));
                }
            }
            "thinking" => {
                if let Some(t) = b.get("thinking").and_then(text_of) {
                    parts.push(OutPart::Thinking {
                        text: t,
                        sig: b.get("signature").and_then(text_of),
                        origin: Format::Claude,
                    });
                }
            }
            "tool_use" => {
                let Some(name) = b.get("name").and_then(text_of) else {
                    continue;
                };
                let input = b.at("input");
                parts.push(OutPart::ToolCall {
                    id: b.at("id").s(),
                    name,
                    args: Args::Json(if input.is_obj() { input.raw } else { "{}" }),
                });
            }
            _ => {}
        }
    }
    let native = root.at("stop_reason").s();
    let finish = match native.as_ref() {
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "refusal" => Finish::ContentFilter,
        _ => Finish::Stop,
    };
    let usage = root.get("usage").filter(|u| u.is_obj()).map(|u| {
        let cached = int(u, "cache_read_input_tokens");
        let creation = int(u, "cache_creation_input_tokens");
        Usage {
            input: int(u, "input_tokens") + cached + creation,
            output: int(u, "output_tokens"),
            cached,
            cache_creation: creation,
            reasoning: 0,
            total: None,
        }
    });
    Resp {
        id: root.at("id").s(),
        parts,
        finish,
        native,
        usage,
    }
}

pub(super) fn to_claude(r: &Resp<'_>, ctx: &RespCtx<'_>, w: &mut Writer<'_>) {
    let mut gen = 0u32;
    w.obj().key("id").str(&id_or(&r.id, "msg_", ctx.created));
    w.key("type").str("message").key("role").str("assistant");
    w.key("model").str(ctx.client_model);
    w.key("content").arr();
    for p in &r.parts {
        match p {
            OutPart::Thinking { text, sig, origin } => {
                w.obj().key("type").str("thinking").key("thinking");
                text.write(w);
                w.key("signature");
                // Claude's own signature, or a Responses/Codex reasoning
                // item's encrypted content (recognised on the way back).
                match (origin, sig) {
                    (Format::Claude | Format::OpenAiResponses | Format::Codex, Some(s)) => {
                        s.write(w)
                    }
                    // A Claude model behind Gemini's wire (Antigravity): its
                    // thought signature is Claude's, kept as the stream does.
                    (Format::Gemini, Some(s)) if ctx.client_model.contains("claude") => s.write(w),
                    _ => {
                        w.str("");
                    }
                }
                w.end_obj();
            }
            OutPart::Text(t) => {
                w.obj().key("type").str("text").key("text");
                t.write(w);
                w.end_obj();
            }
            OutPart::ToolCall { id, name, args } => {
                w.obj().key("type").str("tool_use").key("id");
                w.str(&sanitize_claude_id(id, &mut gen)).key("name");
                name.write(w);
                w.key("input");
                args_obj(w, args);
                w.end_obj();
            }
        }
    }
    w.end_arr();
    let stop = match r.finish {
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "refusal",
        Finish::Stop if r.native == "stop_sequence" => "stop_sequence",
        Finish::Stop => "end_turn",
    };
    w.key("stop_reason").str(stop);
    w.key("stop_sequence").null();
    let u = r.usage.unwrap_or_default();
    w.key("usage").obj();
    w.key("input_tokens")
        .int((u.input - u.cached - u.cache_creation).max(0));
    w.key("output_tokens").int(u.output);
    if u.cached > 0 {
        w.key("cache_read_input_tokens").int(u.cached);
    }
    if u.cache_creation > 0 {
        w.key("cache_creation_input_tokens").int(u.cache_creation);
    }
    w.end_obj();
    w.end_obj();
}
