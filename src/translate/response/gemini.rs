//! Non-stream Gemini generateContent responses: read and write.

use super::*;

pub(super) fn from_gemini<'a>(root: &Node<'a>) -> Resp<'a> {
    // Some Gemini hosts wrap the body in {"response": ...}.
    let root = match root.get("response") {
        Some(r) if r.is_obj() && root.get("candidates").is_none() => r,
        _ => root,
    };
    let cand = root.at("candidates").arr().first();
    let mut parts = Vec::new();
    let mut n = 0;
    if let Some(c) = cand {
        for p in c.path("content.parts").map(|p| p.arr()).unwrap_or(&[]) {
            let sig = p.get("thoughtSignature").and_then(text_of);
            if let Some(t) = p.get("text").and_then(text_of) {
                if p.at("thought").bool() == Some(true) {
                    parts.push(OutPart::Thinking {
                        text: t,
                        sig,
                        origin: Format::Gemini,
                    });
                } else if !t.is_empty() {
                    parts.push(OutPart::Text(t));
                }
            } else if let Some(fc) = p.get("functionCall") {
                let Some(name) = fc.get("name").and_then(text_of) else {
                    continue;
                };
                n += 1;
                let id = match fc.get("id").and_then(|i| i.str()) {
                    Some(i) if !i.is_empty() => i,
                    _ => Cow::Owned(format!("call_{}_{}", name.get(), n)),
                };
                let args = fc.at("args");
                parts.push(OutPart::ToolCall {
                    id,
                    name,
                    args: Args::Json(if args.is_obj() { args.raw } else { "{}" }),
                });
            }
        }
    }
    let native = cand.map(|c| c.at("finishReason").s()).unwrap_or_default();
    let has_calls = parts.iter().any(|p| matches!(p, OutPart::ToolCall { .. }));
    let finish = match native.as_ref() {
        _ if has_calls => Finish::ToolCalls,
        "MAX_TOKENS" => Finish::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            Finish::ContentFilter
        }
        _ => Finish::Stop,
    };
    let usage = root.get("usageMetadata").filter(|u| u.is_obj()).map(|u| {
        let thoughts = int(u, "thoughtsTokenCount");
        Usage {
            input: int(u, "promptTokenCount"),
            output: int(u, "candidatesTokenCount") + thoughts,
            cached: int(u, "cachedContentTokenCount"),
            cache_creation: 0,
            reasoning: thoughts,
            total: u.get("totalTokenCount").and_then(|t| t.i64()),
        }
    });
    Resp {
        id: root.at("responseId").s(),
        parts,
        finish,
        native,
        usage,
    }
}

pub(super) fn to_gemini(r: &Resp<'_>, ctx: &RespCtx<'_>, w: &mut Writer<'_>) {
    w.obj().key("candidates").arr().obj();
    w.key("content")
        .obj()
        .key("role")
        .str("model")
        .key("parts")
        .arr();
    for p in &r.parts {
        match p {
            OutPart::Thinking { text, sig, origin } => {
                w.obj().key("text");
                text.write(w);
                w.key("thought").bool(true);
                if let (Format::Gemini, Some(s)) = (origin, sig) {
                    w.key("thoughtSignature");
                    s.write(w);
                }
                w.end_obj();
            }
            OutPart::Text(t) => {
                w.obj().key("text");
                t.write(w);
                w.end_obj();
            }
            OutPart::ToolCall { id, name, args } => {
                w.obj()
                    .key("functionCall")
                    .obj()
                    .key("id")
                    .str(id)
                    .key("name");
                name.write(w);
                w.key("args");
                args_obj(w, args);
                w.end_obj().end_obj();
            }
        }
    }
    w.end_arr().end_obj();
    w.key("finishReason").str(match r.finish {
        Finish::Stop | Finish::ToolCalls => "STOP",
        Finish::Length => "MAX_TOKENS",
        Finish::ContentFilter => "SAFETY",
    });
    w.key("index").int(0);
    w.end_obj().end_arr();
    if let Some(u) = &r.usage {
        w.key("usageMetadata").obj();
        w.key("promptTokenCount").int(u.input);
        w.key("candidatesTokenCount").int(u.output - u.reasoning);
        w.key("totalTokenCount").int(u.total());
        if u.reasoning > 0 {
            w.key("thoughtsTokenCount").int(u.reasoning);
        }
        if u.cached > 0 {
            w.key("cachedContentTokenCount").int(u.cached);
        }
        w.end_obj();
    }
    w.key("modelVersion").str(ctx.client_model);
    if !r.id.is_empty() {
        w.key("responseId").str(&r.id);
    }
    w.end_obj();
}
