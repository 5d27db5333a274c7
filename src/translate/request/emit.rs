//! Upstream-format emitters: [`Req`] → body bytes, written straight into the
//! output buffer with [`Writer`] (no intermediate DOM).

use super::ir::*;
use super::schema;
use crate::json::tree::parse_str;
use crate::json::write::Writer;
use crate::translate::format::Format;
use crate::translate::thinking::{
    claude_adaptive_effort, claude_adaptive_levels, claude_plan, gemini_budget, gemini_uses_levels,
    responses_summary, ClaudePlan, Summary, Thinking,
};
use std::borrow::Cow;
use std::collections::HashMap;

/// Settings every emitter needs.
pub struct EmitOpts<'m> {
    pub model: &'m str,
    pub stream: bool,
    pub claude_default_max_tokens: Option<u32>,
}

/// `max_tokens` for Claude when the client gave none and the caller has no
/// registry value (CLIProxyAPI's translator default).
pub const CLAUDE_DEFAULT_MAX_TOKENS: u32 = 32000;
/// Thought signature CLIProxyAPI sends to Gemini for calls whose real signature
/// is unknown (the documented validator bypass value).
pub const GEMINI_SKIP_SIGNATURE: &str = "skip_thought_signature_validator";
/// OpenAI / Codex limit on function-name length.
const CODEX_TOOL_NAME_MAX: usize = 64;

fn args_obj(w: &mut Writer<'_>, a: &Args<'_>) {
    match a {
        Args::Json(raw) => {
            if raw.starts_with('{') {
                w.raw(raw);
            } else {
                w.raw("{}");
            }
        }
        Args::Str(j) => {
            let s = j.get();
            match parse_str(&s) {
                Ok(v) if v.is_obj() => {
                    w.raw(&s);
                }
                _ => {
                    w.raw("{}");
                }
            }
        }
        Args::Input(j) => {
            w.obj().key("input").jstr(*j).end_obj();
        }
    }
}

fn args_str(w: &mut Writer<'_>, a: &Args<'_>) {
    match a {
        Args::Str(j) => {
            w.jstr(*j);
        }
        Args::Json(raw) => {
            w.str(raw);
        }
        Args::Input(_) => {
            let mut v = Vec::new();
            args_obj(&mut Writer::new(&mut v), a);
            w.str(&String::from_utf8_lossy(&v));
        }
    }
}

/// Joined text of text parts (`sep` between parts).
fn joined<'a>(parts: &[Part<'a>], sep: &str) -> Cow<'a, str> {
    let mut texts = parts.iter().filter_map(|p| match p {
        Part::Text(t) => Some(t),
        _ => None,
    });
    let Some(first) = texts.next() else {
        return Cow::Borrowed("");
    };
    let mut acc: Cow<'a, str> = first.get();
    for t in texts {
        let s = acc.to_mut();
        s.push_str(sep);
        s.push_str(&t.get());
    }
    acc
}

fn joined_texts<'a>(texts: &[Text<'a>], sep: &str) -> Cow<'a, str> {
    match texts {
        [] => Cow::Borrowed(""),
        [one] => one.get(),
        _ => {
            let mut s = String::new();
            for (i, t) in texts.iter().enumerate() {
                if i > 0 {
                    s.push_str(sep);
                }
                s.push_str(&t.get());
            }
            Cow::Owned(s)
        }
    }
}

/// Claude tool ids must match `^[a-zA-Z0-9_-]+$`: other characters become `_`,
/// an empty id gets a generated one (deterministic per request position).
pub fn sanitize_claude_id<'a>(id: &Cow<'a, str>, gen: &mut u32) -> Cow<'a, str> {
    if id.is_empty() {
        *gen += 1;
        return Cow::Owned(format!("toolu_cpx_{:06}", gen));
    }
    if id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return id.clone();
    }
    Cow::Owned(
        id.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
    )
}

/// Gemini function names: `[A-Za-z_][A-Za-z0-9_.:-]*`, at most 64 chars.
pub fn sanitize_gemini_name(name: &str) -> Cow<'_, str> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && name.len() <= 64 && name.chars().all(ok) {
        return Cow::Borrowed(name);
    }
    let mut s: String = name.chars().map(|c| if ok(c) { c } else { '_' }).collect();
    if !first_ok {
        s.insert(0, '_');
    }
    if s.len() > 64 {
        s.truncate(64);
    }
    Cow::Owned(s)
}

/// Codex tool names longer than 64 chars: `mcp__server__tool` keeps `mcp__tool`,
/// others are cut; collisions get `_1`, `_2`, ... suffixes.
fn codex_name_map(req: &Req<'_>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut used: HashMap<String, ()> = HashMap::new();
    for t in &req.tools {
        let n = t.name.get();
        if n.len() <= CODEX_TOOL_NAME_MAX || map.contains_key(n.as_ref()) {
            used.insert(n.to_string(), ());
            continue;
        }
        let mut cand = match (n.strip_prefix("mcp__"), n.rfind("__")) {
            (Some(_), Some(i)) if i > 3 => format!("mcp__{}", &n[i + 2..]),
            _ => n.to_string(),
        };
        truncate_chars(&mut cand, CODEX_TOOL_NAME_MAX);
        let base = cand.clone();
        let mut k = 1;
        while used.contains_key(&cand) {
            let suffix = format!("_{k}");
            cand = base.clone();
            truncate_chars(&mut cand, CODEX_TOOL_NAME_MAX - suffix.len());
            cand.push_str(&suffix);
            k += 1;
        }
        used.insert(cand.clone(), ());
        map.insert(n.to_string(), cand);
    }
    map
}

fn truncate_chars(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

fn codex_name(map: &HashMap<String, String>, name: &Text<'_>, w: &mut Writer<'_>) {
    if map.is_empty() {
        name.write(w);
        return;
    }
    let n = name.get();
    match map.get(n.as_ref()) {
        Some(short) => w.str(short),
        None if n.len() > CODEX_TOOL_NAME_MAX => {
            let mut s = n.to_string();
            truncate_chars(&mut s, CODEX_TOOL_NAME_MAX);
            w.str(&s)
        }
        None => w.str(&n),
    };
}

/// CLIProxyAPI's `metadata.user_id` derivation: the client's user id, else a
/// SHA-256 (hex) of a session seed (`prompt_cache_key`, session or
/// conversation id), else of the first user message's text ("content:" + trimmed
/// text parts joined by newlines), else "unknown".
fn claude_user_id(req: &Req<'_>, w: &mut Writer<'_>) {
    if let Some(u) = &req.user {
        if !u.get().trim().is_empty() {
            u.write(w);
            return;
        }
    }
    let seed = req.session_seed.clone().or_else(|| {
        req.msgs
            .iter()
            .filter(|m| m.role == Role::User)
            .find_map(|m| {
                let mut s = String::new();
                for p in &m.parts {
                    if let Part::Text(t) = p {
                        let t = t.get();
                        let t = t.trim();
                        if !t.is_empty() {
                            if !s.is_empty() {
                                s.push('\n');
                            }
                            s.push_str(t);
                        }
                    }
                }
                (!s.is_empty()).then(|| format!("content:{s}"))
            })
    });
    let Some(seed) = seed else {
        w.str("unknown");
        return;
    };
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(seed.as_bytes());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in d.iter() {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    w.str(&s);
}

fn claude_media(w: &mut Writer<'_>, ty: &str, mime: &str, src: &Src<'_>) {
    w.obj().key("type").str(ty).key("source").obj();
    match src {
        Src::B64(d) => {
            w.key("type").str("base64").key("media_type");
            w.str(if mime.is_empty() {
                "application/octet-stream"
            } else {
                mime
            });
            w.key("data");
            d.write(w);
        }
        Src::Url(u) => {
            w.key("type").str("url").key("url");
            u.write(w);
        }
    }
    w.end_obj();
}

fn claude_part(w: &mut Writer<'_>, p: &Part<'_>, gen: &mut u32, cache: Option<&str>) {
    claude_block(w, p, gen);
    if let Some(cc) = cache {
        // The block object is still open: claude_block leaves it for us.
        w.key("cache_control").raw(cc);
    }
    w.end_obj();
}

/// Write a Claude content block, leaving its object open.
fn claude_block(w: &mut Writer<'_>, p: &Part<'_>, gen: &mut u32) {
    match p {
        Part::Text(t) => {
            w.obj().key("type").str("text").key("text");
            t.write(w);
        }
        Part::Image { mime, src } => claude_media(w, "image", mime, src),
        Part::File { mime, src, .. } => claude_media(w, "document", mime, src),
        Part::Thinking { text, sig, .. } => {
            w.obj().key("type").str("thinking").key("thinking");
            text.write(w);
            if let Some(s) = sig {
                w.key("signature");
                s.write(w);
            }
        }
        Part::ToolCall { id, name, args, .. } => {
            w.obj().key("type").str("tool_use").key("id");
            w.str(&sanitize_claude_id(id, gen)).key("name");
            name.write(w);
            w.key("input");
            args_obj(w, args);
        }
        Part::ToolResult {
            id,
            content,
            is_error,
            ..
        } => {
            w.obj().key("type").str("tool_result").key("tool_use_id");
            w.str(&sanitize_claude_id(id, gen)).key("content");
            if content.iter().all(|p| matches!(p, Part::Text(_))) {
                match content.as_slice() {
                    [Part::Text(t)] => t.write(w),
                    _ => {
                        w.str(&joined(content, "\n"));
                    }
                }
            } else {
                w.arr();
                for c in content {
                    if matches!(c, Part::Text(t) if t.is_empty()) {
                        continue;
                    }
                    claude_part(w, c, gen, None);
                }
                w.end_arr();
            }
            if *is_error {
                w.key("is_error").bool(true);
            }
        }
    }
}

/// Whether a Claude part survives: no empty text, no foreign/unsigned thinking.
fn claude_keeps(p: &Part<'_>) -> bool {
    match p {
        Part::Text(t) => !t.is_empty(),
        Part::Thinking { sig, origin, .. } => {
            *origin == Format::Claude && sig.as_ref().is_some_and(|s| !s.get().trim().is_empty())
        }
        _ => true,
    }
}

/// Anthropic Messages body.
pub fn claude(req: &Req<'_>, o: &EmitOpts<'_>, out: &mut Vec<u8>) {
    let mut w = Writer::new(out);
    let mut gen = 0u32;
    // Claude rejects thinking together with a forced tool choice; the tool
    // choice wins.
    let forced = matches!(
        req.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Tool(_))
    );
    // With thinking on, Claude requires the last assistant turn of a tool loop
    // to start with a signed thinking block; foreign or unsigned reasoning is
    // dropped from the messages (`claude_keeps`), so in that case thinking is
    // left off for this request.
    let unsigned_tool_turn = req
        .msgs
        .iter()
        .rposition(|m| m.role == Role::Assistant)
        .is_some_and(|last| {
            // The whole merged assistant group ending at `last`.
            let mut first = last;
            while first > 0 && req.msgs[first - 1].role == Role::Assistant {
                first -= 1;
            }
            let parts = || req.msgs[first..=last].iter().flat_map(|m| m.parts.iter());
            parts().any(|p| matches!(p, Part::ToolCall { .. }))
                && !parts()
                    .find(|p| claude_keeps(p))
                    .is_some_and(|p| matches!(p, Part::Thinking { .. }))
        });
    let wanted = req
        .thinking
        .filter(|t| *t == Thinking::None || (!forced && !unsigned_tool_turn));
    let default_max = o
        .claude_default_max_tokens
        .unwrap_or(CLAUDE_DEFAULT_MAX_TOKENS) as i64;
    // Models that take adaptive thinking get `adaptive` + an effort level (no
    // budget, so no max_tokens constraint); the others a budget.
    let adaptive = wanted.and_then(|t| {
        claude_adaptive_levels(o.model, t).map(|levels| claude_adaptive_effort(t, levels))
    });
    let plan = match adaptive {
        Some(_) => ClaudePlan {
            max_tokens: req.max_tokens.unwrap_or(default_max),
            thinking: None,
        },
        None => claude_plan(wanted, req.max_tokens, default_max),
    };
    let thinking = plan.thinking;
    w.obj().key("model").str(o.model);
    w.key("max_tokens").int(plan.max_tokens);
    // Messages: merge consecutive same-role turns; assistant tool_use blocks go
    // last in their turn, user tool_result blocks first.
    w.key("messages").arr();
    let mut i = 0;
    let mut any = false;
    while i < req.msgs.len() {
        let role = req.msgs[i].role;
        let mut j = i;
        while j < req.msgs.len() && req.msgs[j].role == role {
            j += 1;
        }
        let (lo, hi) = (i, j);
        i = j;
        let all = || {
            (lo..hi).flat_map(|mi| {
                req.msgs[mi]
                    .parts
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| claude_keeps(p))
                    .map(move |(pi, p)| (mi, pi, p))
            })
        };
        if all().next().is_none() {
            continue;
        }
        any = true;
        w.obj().key("role").str(if role == Role::User {
            "user"
        } else {
            "assistant"
        });
        w.key("content").arr();
        let first = |p: &Part<'_>| match role {
            Role::User => matches!(p, Part::ToolResult { .. }),
            Role::Assistant => !matches!(p, Part::ToolCall { .. }),
        };
        for pass in [true, false] {
            for (mi, pi, p) in all().filter(|(_, _, p)| first(p) == pass) {
                claude_part(&mut w, p, &mut gen, req.cache_of(mi, pi));
            }
        }
        w.end_arr().end_obj();
    }
    if !any && !req.system.is_empty() {
        w.obj().key("role").str("user").key("content").arr();
        w.obj()
            .key("type")
            .str("text")
            .key("text")
            .str("")
            .end_obj();
        w.end_arr().end_obj();
    }
    w.end_arr();
    if req.system.iter().any(|t| !t.is_empty()) {
        w.key("system").arr();
        for (k, t) in req.system.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
            w.obj().key("type").str("text").key("text");
            t.write(&mut w);
            if let Some(cc) = req.system_cache.iter().rev().find(|c| c.0 == k) {
                w.key("cache_control").raw(cc.1);
            }
            w.end_obj();
        }
        w.end_arr();
    }
    w.key("metadata").obj().key("user_id");
    claude_user_id(req, &mut w);
    w.end_obj();
    w.key("stream").bool(o.stream);
    let thinking_on = matches!(thinking, Some(Some(_))) || adaptive.is_some();
    if !thinking_on {
        if let Some(t) = req.temperature {
            w.key("temperature").raw(t);
        }
        if let Some(t) = req.top_p {
            w.key("top_p").raw(t);
        }
        if let Some(t) = req.top_k {
            w.key("top_k").raw(t);
        }
    }
    if let Some(effort) = adaptive {
        w.key("thinking")
            .obj()
            .key("type")
            .str("adaptive")
            .end_obj();
        w.key("output_config")
            .obj()
            .key("effort")
            .str(effort)
            .end_obj();
    }
    match thinking {
        Some(Some(b)) => {
            w.key("thinking").obj().key("type").str("enabled");
            w.key("budget_tokens").int(b).end_obj();
        }
        Some(None) => {
            w.key("thinking")
                .obj()
                .key("type")
                .str("disabled")
                .end_obj();
        }
        None => {}
    }
    if !req.stop.is_empty() {
        w.key("stop_sequences").arr();
        for s in &req.stop {
            s.write(&mut w);
        }
        w.end_arr();
    }
    if !req.tools.is_empty() {
        w.key("tools").arr();
        for t in &req.tools {
            w.obj().key("name");
            t.name.write(&mut w);
            if let Some(d) = &t.description {
                w.key("description");
                d.write(&mut w);
            }
            w.key("input_schema");
            match &t.params {
                Some(p) => w.raw(p),
                None => w.raw(r#"{"type":"object","properties":{}}"#),
            };
            if let Some(cc) = t.cache {
                w.key("cache_control").raw(cc);
            }
            w.end_obj();
        }
        w.end_arr();
    }
    let no_parallel = req.parallel_tool_calls == Some(false) && !req.tools.is_empty();
    let choice = match &req.tool_choice {
        Some(ToolChoice::Auto) => Some(("auto", None)),
        Some(ToolChoice::None) => Some(("none", None)),
        Some(ToolChoice::Required) => Some(("any", None)),
        Some(ToolChoice::Tool(n)) => Some(("tool", Some(n))),
        None if no_parallel => Some(("auto", None)),
        None => None,
    };
    if let Some((ty, name)) = choice {
        w.key("tool_choice").obj().key("type").str(ty);
        if let Some(n) = name {
            w.key("name");
            n.write(&mut w);
        }
        if no_parallel && ty != "none" {
            w.key("disable_parallel_tool_use").bool(true);
        }
        w.end_obj();
    }
    w.end_obj();
}

fn gemini_inline(w: &mut Writer<'_>, mime: &str, src: &Src<'_>) -> bool {
    match src {
        Src::B64(d) => {
            w.obj().key("inlineData").obj().key("mimeType").str(mime);
            w.key("data");
            d.write(w);
            w.end_obj().end_obj();
            true
        }
        Src::Url(u) if !mime.is_empty() => {
            w.obj().key("fileData").obj().key("mimeType").str(mime);
            w.key("fileUri");
            u.write(w);
            w.end_obj().end_obj();
            true
        }
        Src::Url(_) => false,
    }
}

fn gemini_result(w: &mut Writer<'_>, content: &[Part<'_>]) {
    w.obj().key("result");
    // Only text that looks like JSON is decoded and checked; the rest is copied.
    let looks_json = |t: &Text<'_>| {
        let s = match t {
            Text::J(j) => j.raw,
            Text::S(s) => s.as_ref(),
        };
        let s = s.trim_start();
        s.starts_with('{') || s.starts_with('[')
    };
    match content {
        [Part::Text(t)] if !looks_json(t) => t.write(w),
        _ => {
            let text = joined(content, "\n");
            let t = text.trim_start();
            if (t.starts_with('{') || t.starts_with('[')) && parse_str(&text).is_ok() {
                w.raw(&text);
            } else {
                w.str(&text);
            }
        }
    }
    w.end_obj();
}

/// Gemini generateContent body.
pub fn gemini(req: &Req<'_>, o: &EmitOpts<'_>, out: &mut Vec<u8>) {
    let mut names: HashMap<&str, Cow<'_, str>> = HashMap::new();
    for m in &req.msgs {
        for p in &m.parts {
            if let Part::ToolCall { id, name, .. } = p {
                names.insert(id.as_ref(), name.get());
            }
        }
    }
    // Groups of consecutive same-role messages; a trailing model turn is dropped.
    let mut groups: Vec<(Role, Vec<&Part<'_>>)> = Vec::new();
    for m in &req.msgs {
        let keep = |p: &&Part<'_>| match p {
            Part::Text(t) => !t.is_empty(),
            Part::Thinking { origin, .. } => *origin == Format::Gemini,
            Part::Image { mime, src } | Part::File { mime, src, .. } => {
                matches!(src, Src::B64(_)) || !mime.is_empty()
            }
            _ => true,
        };
        let parts: Vec<&Part<'_>> = m.parts.iter().filter(keep).collect();
        if parts.is_empty() {
            continue;
        }
        match groups.last_mut() {
            Some((r, ps)) if *r == m.role => ps.extend(parts),
            _ => groups.push((m.role, parts)),
        }
    }
    if groups.last().is_some_and(|g| g.0 == Role::Assistant) {
        groups.pop();
    }
    let mut w = Writer::new(out);
    w.obj().key("contents").arr();
    for (role, parts) in &groups {
        w.obj()
            .key("role")
            .str(if *role == Role::User { "user" } else { "model" });
        w.key("parts").arr();
        let rank = |p: &Part<'_>| match p {
            Part::Thinking { .. } => 0,
            Part::ToolCall { .. } => 2,
            _ => 1,
        };
        for pass in 0..3 {
            for p in parts.iter().filter(|p| rank(p) == pass) {
                gemini_part(&mut w, p, &names);
            }
        }
        w.end_arr().end_obj();
    }
    w.end_arr();
    if req.system.iter().any(|t| !t.is_empty()) {
        w.key("systemInstruction")
            .obj()
            .key("role")
            .str("user")
            .key("parts")
            .arr();
        for t in req.system.iter().filter(|t| !t.is_empty()) {
            w.obj().key("text");
            t.write(&mut w);
            w.end_obj();
        }
        w.end_arr().end_obj();
    }
    // generationConfig
    w.key("generationConfig").obj();
    if let Some(t) = req.temperature {
        w.key("temperature").raw(t);
    }
    if let Some(t) = req.top_p {
        w.key("topP").raw(t);
    }
    if let Some(t) = req.top_k {
        w.key("topK").raw(t);
    }
    if let Some(m) = req.max_tokens {
        w.key("maxOutputTokens").int(m);
    }
    if let Some(s) = req.seed {
        w.key("seed").raw(s);
    }
    if let Some(n) = req.n.filter(|n| *n > 1) {
        w.key("candidateCount").int(n);
    }
    if !req.stop.is_empty() {
        w.key("stopSequences").arr();
        for s in &req.stop {
            s.write(&mut w);
        }
        w.end_arr();
    }
    match &req.response_format {
        Some(RespFormat::JsonObject) => {
            w.key("responseMimeType").str("application/json");
        }
        Some(RespFormat::JsonSchema { schema, .. }) => {
            w.key("responseMimeType").str("application/json");
            if let Some(s) = schema {
                w.key("responseJsonSchema").raw(s);
            }
        }
        _ => {}
    }
    if req.thinking.is_some() || req.summary.is_some() {
        w.key("thinkingConfig").obj();
        let levels = gemini_uses_levels(o.model);
        match req.thinking {
            None => {}
            Some(Thinking::None) if levels => {
                w.key("thinkingLevel").str("low");
            }
            Some(Thinking::Auto) if levels => {}
            Some(t @ (Thinking::Level(_) | Thinking::Budget(_))) if levels => {
                let e = match t.effort() {
                    "xhigh" | "max" => "high",
                    e => e,
                };
                w.key("thinkingLevel").str(e);
            }
            Some(other) => {
                w.key("thinkingBudget").int(gemini_budget(o.model, other));
            }
        }
        // Thoughts are shown when the client asked for them, or (no explicit
        // choice) whenever thinking is on.
        let show = match req.summary {
            Some(s) => s != Summary::Off,
            None => req.thinking != Some(Thinking::None),
        };
        w.key("includeThoughts").bool(show);
        w.end_obj();
    }
    w.end_obj();
    if !req.tools.is_empty() {
        w.key("tools").arr().obj().key("functionDeclarations").arr();
        for t in &req.tools {
            w.obj()
                .key("name")
                .str(&sanitize_gemini_name(&t.name.get()));
            if let Some(d) = &t.description {
                w.key("description");
                d.write(&mut w);
            }
            w.key("parametersJsonSchema");
            match &t.params {
                Some(p) => schema::clean_for_gemini(p, &mut w),
                None => {
                    w.raw(r#"{"type":"object","properties":{}}"#);
                }
            }
            w.end_obj();
        }
        w.end_arr().end_obj().end_arr();
        if let Some(tc) = &req.tool_choice {
            w.key("toolConfig").obj().key("functionCallingConfig").obj();
            match tc {
                ToolChoice::Auto => w.key("mode").str("AUTO"),
                ToolChoice::None => w.key("mode").str("NONE"),
                ToolChoice::Required => w.key("mode").str("ANY"),
                ToolChoice::Tool(n) => {
                    w.key("mode").str("ANY").key("allowedFunctionNames").arr();
                    w.str(&sanitize_gemini_name(&n.get())).end_arr()
                }
            };
            w.end_obj().end_obj();
        }
    }
    w.key("safetySettings").arr();
    for (c, t) in [
        ("HARM_CATEGORY_HARASSMENT", "OFF"),
        ("HARM_CATEGORY_HATE_SPEECH", "OFF"),
        ("HARM_CATEGORY_SEXUALLY_EXPLICIT", "OFF"),
        ("HARM_CATEGORY_DANGEROUS_CONTENT", "OFF"),
        ("HARM_CATEGORY_CIVIC_INTEGRITY", "BLOCK_NONE"),
    ] {
        w.obj()
            .key("category")
            .str(c)
            .key("threshold")
            .str(t)
            .end_obj();
    }
    w.end_arr();
    w.end_obj();
}

fn gemini_part(w: &mut Writer<'_>, p: &Part<'_>, names: &HashMap<&str, Cow<'_, str>>) {
    match p {
        Part::Text(t) => {
            w.obj().key("text");
            t.write(w);
            w.end_obj();
        }
        Part::Image { mime, src } | Part::File { mime, src, .. } => {
            gemini_inline(w, mime, src);
        }
        Part::Thinking { text, sig, .. } => {
            w.obj().key("text");
            text.write(w);
            w.key("thought").bool(true);
            if let Some(s) = sig {
                w.key("thoughtSignature");
                s.write(w);
            }
            w.end_obj();
        }
        Part::ToolCall {
            name, args, sig, ..
        } => {
            w.obj().key("functionCall").obj().key("name");
            w.str(&sanitize_gemini_name(&name.get())).key("args");
            args_obj(w, args);
            w.end_obj().key("thoughtSignature");
            match sig {
                Some(s) => s.write(w),
                None => {
                    w.str(GEMINI_SKIP_SIGNATURE);
                }
            }
            w.end_obj();
        }
        Part::ToolResult {
            id, name, content, ..
        } => {
            let n = match name {
                Some(n) => n.get(),
                None => names.get(id.as_ref()).cloned().unwrap_or(Cow::Borrowed("")),
            };
            w.obj().key("functionResponse").obj().key("name");
            w.str(&sanitize_gemini_name(&n)).key("response");
            gemini_result(w, content);
            w.end_obj().end_obj();
        }
    }
}

fn chat_user_part(w: &mut Writer<'_>, p: &Part<'_>) {
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

/// OpenAI requires a filename next to inline file data; CLIProxyAPI uses
/// `document.pdf` for Claude documents.
fn write_filename(w: &mut Writer<'_>, mime: &str, filename: &Option<Text<'_>>) {
    match filename {
        Some(f) if !f.is_empty() => f.write(w),
        _ if mime == "application/pdf" => {
            w.str("document.pdf");
        }
        _ => {
            w.str("file");
        }
    }
}

fn data_url(w: &mut Writer<'_>, mime: &str, src: &Src<'_>) {
    match src {
        Src::Url(u) => u.write(w),
        Src::B64(d) => {
            let mut s = String::with_capacity(mime.len() + 13);
            s.push_str("data:");
            s.push_str(if mime.is_empty() {
                "application/octet-stream"
            } else {
                mime
            });
            s.push_str(";base64,");
            s.push_str(&d.get());
            w.str(&s);
        }
    }
}

fn is_media(p: &Part<'_>) -> bool {
    matches!(p, Part::Image { .. } | Part::File { .. })
}

/// In-place system texts that precede message `mi`: Chat `system` messages or
/// Responses `developer` items.
fn mid_system(w: &mut Writer<'_>, req: &Req<'_>, mi: usize, responses: bool) {
    for (_, t) in req.mid_system.iter().filter(|(at, _)| *at == mi) {
        if responses {
            w.obj()
                .key("type")
                .str("message")
                .key("role")
                .str("developer");
            w.key("content")
                .arr()
                .obj()
                .key("type")
                .str("input_text")
                .key("text");
            t.write(w);
            w.end_obj().end_arr().end_obj();
        } else {
            w.obj().key("role").str("system").key("content");
            t.write(w);
            w.end_obj();
        }
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
                let mut extra_media: Vec<&Part<'_>> = Vec::new();
                for p in &m.parts {
                    if let Part::ToolResult { id, content, .. } = p {
                        w.obj().key("role").str("tool").key("tool_call_id").str(id);
                        w.key("content");
                        match content.as_slice() {
                            [Part::Text(t)] => t.write(&mut w),
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
                    continue;
                }
                w.obj().key("role").str("user").key("content");
                match rest.as_slice() {
                    [Part::Text(t)] => t.write(&mut w),
                    _ => {
                        w.arr();
                        for p in &rest {
                            chat_user_part(&mut w, p);
                        }
                        w.end_arr();
                    }
                }
                w.end_obj();
            }
            Role::Assistant => {
                w.obj().key("role").str("assistant").key("content");
                let texts: Vec<&Part<'_>> = m
                    .parts
                    .iter()
                    .filter(|p| matches!(p, Part::Text(_)))
                    .collect();
                match texts.as_slice() {
                    [] => w.null(),
                    [Part::Text(t)] => {
                        t.write(&mut w);
                        &mut w
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
                            name.write(&mut w);
                            w.key("arguments");
                            args_str(&mut w, args);
                            w.end_obj().end_obj();
                        }
                    }
                    w.end_arr();
                }
                w.end_obj();
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
    if !req.tools.is_empty() {
        w.key("tools").arr();
        for t in &req.tools {
            w.obj()
                .key("type")
                .str("function")
                .key("function")
                .obj()
                .key("name");
            t.name.write(&mut w);
            if let Some(d) = &t.description {
                w.key("description");
                d.write(&mut w);
            }
            w.key("parameters");
            w.raw(
                t.params
                    .as_deref()
                    .unwrap_or(r#"{"type":"object","properties":{}}"#),
            );
            if let Some(s) = t.strict {
                w.key("strict").bool(s);
            }
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
                n.write(&mut w);
                w.end_obj().end_obj()
            }
        };
    }
    match &req.response_format {
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
            w.key("json_schema").obj().key("name");
            match name {
                Some(n) => n.write(&mut w),
                None => {
                    w.str("response");
                }
            }
            if let Some(s) = schema {
                w.key("schema").raw(s);
            }
            if let Some(s) = strict {
                w.key("strict").bool(*s);
            }
            w.end_obj().end_obj();
        }
        None => {}
    }
    if let Some(u) = &req.user {
        w.key("user");
        u.write(&mut w);
    }
    w.end_obj();
}

fn responses_user_part(w: &mut Writer<'_>, p: &Part<'_>) {
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
    if codex && !req.system.is_empty() {
        w.obj()
            .key("type")
            .str("message")
            .key("role")
            .str("developer");
        w.key("content").arr();
        for t in &req.system {
            w.obj().key("type").str("input_text").key("text");
            t.write(&mut w);
            w.end_obj();
        }
        w.end_arr().end_obj();
    }
    for (mi, m) in req.msgs.iter().enumerate() {
        mid_system(&mut w, req, mi, true);
        match m.role {
            Role::User => {
                for p in &m.parts {
                    if let Part::ToolResult { id, content, .. } = p {
                        w.obj().key("type").str("function_call_output");
                        w.key("call_id").str(id).key("output");
                        if content.iter().any(is_media) {
                            w.arr();
                            for c in content {
                                responses_user_part(&mut w, c);
                            }
                            w.end_arr();
                        } else {
                            match content.as_slice() {
                                [Part::Text(t)] => t.write(&mut w),
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
                        responses_user_part(&mut w, p);
                    }
                    w.end_arr().end_obj();
                }
            }
            Role::Assistant => {
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
                                t.write(&mut w);
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
                            codex_name(&names, name, &mut w);
                            w.key("arguments");
                            args_str(&mut w, args);
                            w.end_obj();
                        }
                        Part::Thinking { text, sig, origin } => {
                            if let (Format::OpenAiResponses | Format::Codex, Some(s)) =
                                (origin, sig)
                            {
                                w.obj().key("type").str("reasoning").key("summary").arr();
                                if !text.is_empty() {
                                    w.obj().key("type").str("summary_text").key("text");
                                    text.write(&mut w);
                                    w.end_obj();
                                }
                                w.end_arr().key("encrypted_content");
                                s.write(&mut w);
                                w.end_obj();
                            }
                        }
                        _ => {}
                    }
                    k += 1;
                }
            }
        }
    }
    mid_system(&mut w, req, req.msgs.len(), true);
    w.end_arr();
    if !req.tools.is_empty() {
        w.key("tools").arr();
        for t in &req.tools {
            w.obj().key("type").str("function").key("name");
            codex_name(&names, &t.name, &mut w);
            if let Some(d) = &t.description {
                w.key("description");
                d.write(&mut w);
            }
            w.key("parameters");
            w.raw(
                t.params
                    .as_deref()
                    .unwrap_or(r#"{"type":"object","properties":{}}"#),
            );
            if let Some(s) = t.strict {
                w.key("strict").bool(s);
            }
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
                codex_name(&names, n, &mut w);
                w.end_obj()
            }
        };
    }
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
    match &req.response_format {
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
            w.key("name");
            match name {
                Some(n) => n.write(&mut w),
                None => {
                    w.str("response");
                }
            }
            if let Some(s) = schema {
                w.key("schema").raw(s);
            }
            if let Some(s) = strict {
                w.key("strict").bool(*s);
            }
            w.end_obj().end_obj();
        }
        None => {}
    }
    w.end_obj();
}
