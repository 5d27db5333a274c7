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

/// The top-level members the Chat parser reads: [`chat`] takes the first
/// occurrence of each from the tree in one pass; [`chat_fast`] reads them
/// as it goes. The last five are the session seed's (`session_seed_of`).
#[derive(Clone, Copy)]
enum Member {
    Model,
    Messages,
    Tools,
    ToolChoice,
    ParallelToolCalls,
    MaxCompletionTokens,
    MaxTokens,
    Temperature,
    TopP,
    TopK,
    Seed,
    N,
    Stop,
    ReasoningEffort,
    Reasoning,
    ResponseFormat,
    Metadata,
    User,
    PromptCacheKey,
    SessionId,
    SessionIdCamel,
    Conversation,
    ConversationId,
}

/// How many [`Member`]s there are.
const KEYS: usize = Member::ConversationId as usize + 1;
// `chat_fast_into` keeps one bit per member in a `u32`.
const _: () = assert!(KEYS <= 32);

fn chat_key(k: &str) -> Option<Member> {
    Some(match k {
        "model" => Member::Model,
        "messages" => Member::Messages,
        "tools" => Member::Tools,
        "tool_choice" => Member::ToolChoice,
        "parallel_tool_calls" => Member::ParallelToolCalls,
        "max_completion_tokens" => Member::MaxCompletionTokens,
        "max_tokens" => Member::MaxTokens,
        "temperature" => Member::Temperature,
        "top_p" => Member::TopP,
        "top_k" => Member::TopK,
        "seed" => Member::Seed,
        "n" => Member::N,
        "stop" => Member::Stop,
        "reasoning_effort" => Member::ReasoningEffort,
        "reasoning" => Member::Reasoning,
        "response_format" => Member::ResponseFormat,
        "metadata" => Member::Metadata,
        "user" => Member::User,
        "prompt_cache_key" => Member::PromptCacheKey,
        "session_id" => Member::SessionId,
        "sessionId" => Member::SessionIdCamel,
        "conversation" => Member::Conversation,
        "conversation_id" => Member::ConversationId,
        _ => return None,
    })
}

/// The first occurrence of each [`Member`] member.
struct ChatTop<'n, 'a>([Option<&'n Node<'a>>; KEYS]);

impl<'n, 'a> ChatTop<'n, 'a> {
    fn of(root: &'n Node<'a>) -> Self {
        let mut t = ChatTop([None; KEYS]);
        for (k, v) in root.obj() {
            if let Some(key) = chat_key(&k.get()) {
                // `Node::get` semantics: the first occurrence wins.
                let slot = &mut t.0[key as usize];
                if slot.is_none() {
                    *slot = Some(v);
                }
            }
        }
        t
    }
    fn get(&self, k: Member) -> Option<&'n Node<'a>> {
        self.0[k as usize]
    }
    fn at(&self, k: Member) -> &'n Node<'a> {
        self.get(k).unwrap_or(Node::null())
    }
    /// The session seed ([`session_seed_of`]).
    fn session_seed(&self) -> Option<String> {
        session_seed_of([
            self.get(Member::PromptCacheKey),
            self.get(Member::SessionId),
            self.get(Member::SessionIdCamel),
            self.get(Member::Conversation),
            self.get(Member::ConversationId),
        ])
    }
}

/// OpenAI Chat Completions request.
pub fn chat<'a>(root: &Node<'a>) -> Req<'a> {
    let top = ChatTop::of(root);
    let mut req = Req {
        client_model: top.get(Member::Model).and_then(|m| m.str()),
        ..Req::default()
    };
    let messages = top.at(Member::Messages).arr();
    let last_result: HashMap<Cow<'a, str>, &Node<'a>> = messages
        .iter()
        .filter(|m| m.at("role").jstr().is_some_and(|r| r.is("tool")))
        .map(|m| (m.at("tool_call_id").s(), m))
        .filter(|(i, _)| !i.is_empty())
        .collect();
    let mut seen_results: HashSet<Cow<'a, str>> = HashSet::new();
    for m in messages {
        let role = m.at("role").s();
        if !matches!(role.as_ref(), "tool" | "function") {
            chat_message(m, &role, &mut req);
            continue;
        }
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
    chat_fields(&top, &mut req);
    req
}

/// One message of a role other than `tool` / `function` (those need the
/// whole list: see [`chat`]).
fn chat_message<'a>(m: &Node<'a>, role: &str, req: &mut Req<'a>) {
    let content = m.at("content");
    match role {
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
            chat_assistant(m, content, req);
        }
        _ => {}
    }
}

/// Every top-level field but `messages`.
fn chat_fields<'a>(top: &ChatTop<'_, 'a>, req: &mut Req<'a>) {
    chat_tools(top.at(Member::Tools), req);
    req.tool_choice = top.get(Member::ToolChoice).and_then(chat_tool_choice);
    req.parallel_tool_calls = top.get(Member::ParallelToolCalls).and_then(|b| b.bool());
    req.max_tokens = top
        .get(Member::MaxCompletionTokens)
        .or(top.get(Member::MaxTokens))
        .and_then(|n| n.i64());
    req.temperature = num(top.get(Member::Temperature));
    req.top_p = num(top.get(Member::TopP));
    req.top_k = num(top.get(Member::TopK));
    req.seed = num(top.get(Member::Seed));
    req.n = top.get(Member::N).and_then(|n| n.i64());
    stop_list(top.at(Member::Stop), &mut req.stop);
    let reasoning = top.at(Member::Reasoning);
    let effort = top.get(Member::ReasoningEffort);
    req.thinking = effort_thinking(effort).or_else(|| effort_thinking(reasoning.get("effort")));
    // Chat has no summary field: an effort asks for the reasoning to be shown.
    req.summary = reasoning
        .get("summary")
        .and_then(|s| s.str())
        .map(|s| Summary::parse(&s))
        .or_else(|| {
            effort.and_then(|e| e.str()).map(|e| {
                if Thinking::from_effort(&e) == Some(Thinking::None) {
                    Summary::Off
                } else {
                    Summary::Auto
                }
            })
        });
    req.response_format = top
        .get(Member::ResponseFormat)
        .and_then(response_format_chat);
    req.user = top
        .at(Member::Metadata)
        .get("user_id")
        .and_then(text_of)
        .filter(|t| !t.get().trim().is_empty())
        .or_else(|| top.get(Member::User).and_then(text_of));
}

/// A Chat body read without building its tree: what [`chat`] and
/// `session_seed` give for it.
pub struct ChatFast<'a> {
    pub req: Req<'a>,
    /// `session_seed` of the body.
    pub session_seed: Option<String>,
}

/// [`chat`] (and `session_seed`) for a body, reading it once with the
/// tree's validating [`Pull`] reader instead of building its tree: the
/// messages of the common shape (`role` system / developer / user /
/// assistant, string `content`, maybe `name`) are read in place, every
/// other message and every other member [`chat`] reads as a small tree fed
/// to the same code as [`chat`]'s. `None` when the body is not a valid
/// JSON object or has `tool` / `function` messages (whose results need the
/// whole list) or a `messages` that is not an array: the caller then
/// parses it whole, which gives the same request or the error.
pub fn chat_fast(body: &[u8]) -> Option<ChatFast<'_>> {
    let mut req = Req::default();
    let session_seed = chat_fast_into(body, &mut req)?;
    Some(ChatFast { req, session_seed })
}

/// [`chat_fast`] into `req` (a `Req::default()`; `Req` is large, so it is
/// filled where it lives rather than moved out): `Some(session_seed)`, or
/// `None` to give up (`req` is then to be dropped).
pub fn chat_fast_into<'a>(body: &'a [u8], req: &mut Req<'a>) -> Option<Option<String>> {
    let s = if body.is_ascii() {
        // SAFETY: every byte is ASCII, so `body` is valid UTF-8 (checked a
        // word at a time, cheaper than the general check for short bodies).
        unsafe { std::str::from_utf8_unchecked(body) }
    } else {
        std::str::from_utf8(body).ok()?
    };
    let mut p = Pull::new(s);
    if !p.open(b'{') {
        return None;
    }
    // Bit `m`: member `m` was met (its first occurrence is the one read).
    let mut seen = 0u32;
    // The first `model`, when it is a string (all `chat` reads of it).
    let mut model = None;
    // The other members [`chat_fields`] reads, as small trees, in the order
    // met (most bodies have none or a few: no allocation when none).
    let mut nodes: Vec<(Member, Node<'a>)> = Vec::new();
    let mut first = true;
    while let Some(k) = p.key(&mut first).ok()? {
        let key = if k.escaped { None } else { chat_key(k.raw) };
        match key {
            // An escaped key may spell a member the parser reads: the
            // tree decides.
            None if k.escaped => return None,
            None => p.skip(1).ok()?,
            // A later occurrence: the first one counts.
            Some(k) if seen & (1 << k as u32) != 0 => p.skip(1).ok()?,
            Some(k) => {
                seen |= 1 << k as u32;
                match k {
                    Member::Messages => fast_messages(&mut p, req)?,
                    Member::Model => match p.string().ok()? {
                        Some(m) => model = Some(m),
                        // Not a string: no client model.
                        None => p.skip(1).ok()?,
                    },
                    _ => nodes.push((k, p.value(1).ok()?)),
                }
            }
        }
    }
    if !p.end() {
        return None;
    }
    req.client_model = model.map(|m| m.get());
    // With none of the other members, `chat_fields` and the session seed
    // would find nothing: the defaults stand.
    if nodes.is_empty() {
        return Some(None);
    }
    let mut top = ChatTop([None; KEYS]);
    for (k, n) in &nodes {
        top.0[*k as usize] = Some(n);
    }
    chat_fields(&top, req);
    Some(top.session_seed())
}

/// `messages` at the cursor (see [`chat_fast`]); `None` to give up.
fn fast_messages<'a>(p: &mut Pull<'a>, req: &mut Req<'a>) -> Option<()> {
    if !p.open(b'[') {
        return None;
    }
    let mut first = true;
    while p.item(&mut first).ok()? {
        match fast_message(p)? {
            FastMsg::Simple { role, content } => simple_message(role, content, req),
            FastMsg::Tree(m) => {
                let role = m.at("role").s();
                if matches!(role.as_ref(), "tool" | "function") {
                    return None;
                }
                chat_message(&m, &role, req);
            }
        }
    }
    Some(())
}

enum FastMsg<'a> {
    /// `{"role": <role>, "content": "<text>"}` (and maybe `name`), in any
    /// order, each once, nothing escaped in the role or the keys.
    Simple { role: &'a str, content: JStr<'a> },
    /// Anything else, as a tree.
    Tree(Node<'a>),
}

/// The message at the cursor: read in place when it has the common shape,
/// else as a tree (the reader goes back to its start).
fn fast_message<'a>(p: &mut Pull<'a>) -> Option<FastMsg<'a>> {
    let mut probe = p.clone();
    if let Some(m) = simple_shape(&mut probe) {
        *p = probe;
        return Some(m);
    }
    p.value(2).ok().map(FastMsg::Tree)
}

/// The common message shape at the cursor, or `None` (the reader is then
/// to be dropped).
fn simple_shape<'a>(p: &mut Pull<'a>) -> Option<FastMsg<'a>> {
    if !p.open(b'{') {
        return None;
    }
    let (mut role, mut content, mut name) = (None, None, false);
    let mut first = true;
    while let Some(k) = p.key(&mut first).ok()? {
        match k.raw {
            _ if k.escaped => return None,
            "role" if role.is_none() => {
                let r = p.string().ok()??;
                if r.escaped {
                    return None;
                }
                role = Some(r.raw);
            }
            "content" if content.is_none() => content = Some(p.string().ok()??),
            "name" if !name => {
                name = true;
                p.skip(3).ok()?;
            }
            _ => return None,
        }
    }
    let role = role.filter(|r| matches!(*r, "system" | "developer" | "user" | "assistant"))?;
    Some(FastMsg::Simple {
        role,
        content: content?,
    })
}

/// What [`chat_message`] does with a message of the common shape (string
/// content, no `cache_control`, `reasoning_content` or `tool_calls`).
fn simple_message<'a>(role: &str, content: JStr<'a>, req: &mut Req<'a>) {
    let text = (!content.raw.is_empty()).then_some(Text::J(content));
    match role {
        "system" | "developer" => req.push_system(text),
        "user" => {
            if let Some(t) = text {
                req.push_msg_one(Role::User, Part::Text(t));
            }
        }
        "assistant" => {
            if let Some(t) = text {
                req.push_msg_one(Role::Assistant, Part::Text(t));
            }
        }
        _ => {}
    }
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
