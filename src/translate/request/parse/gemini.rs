//! Gemini generateContent request → [`Req`].

use super::*;

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
    gemini_generation_config(root, &mut req);
    gemini_tools(root, &mut req);
    req
}

/// `tools` (function declarations) and `toolConfig.functionCallingConfig`.
fn gemini_tools<'a>(root: &Node<'a>, req: &mut Req<'a>) {
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
                    .map(|p| super::super::schema::lowercase_types(p)),
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
}

/// `generationConfig`: sampling, limits, thinking and structured output.
fn gemini_generation_config<'a>(root: &Node<'a>, req: &mut Req<'a>) {
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
            .map(super::super::schema::lowercase_types);
        req.response_format = Some(match schema {
            Some(s) => RespFormat::JsonSchema {
                name: None,
                schema: Some(s),
                strict: None,
            },
            None => RespFormat::JsonObject,
        });
    }
}
