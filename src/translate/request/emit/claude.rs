//! Anthropic Messages request body.

use super::*;
use crate::models::trim;

/// CLIProxyAPI's `metadata.user_id` derivation: the client's user id, else a
/// SHA-256 (hex) of a session seed (`prompt_cache_key`, session or
/// conversation id), else of the first user message's text ("content:" + trimmed
/// text parts joined by newlines), else "unknown".
pub(super) fn claude_user_id(req: &Req<'_>, w: &mut Writer<'_>) {
    if let Some(u) = &req.user {
        if !u.get().trim().is_empty() {
            u.write(w);
            return;
        }
    }
    const LABEL: &str = "content:";
    let hex = match req.session_seed.as_deref() {
        Some(s) => seed_hex(s),
        None => {
            // The common case first: the first user message is one text.
            let lone = req
                .msgs
                .iter()
                .find(|m| m.role == Role::User)
                .and_then(|m| match &m.parts[..] {
                    [Part::Text(t)] => Some(t.get()).filter(|t| !trim(t).is_empty()),
                    _ => None,
                });
            let first = lone.map(Ok).or_else(|| {
                req.msgs
                    .iter()
                    .filter(|m| m.role == Role::User)
                    .find_map(|m| {
                        let texts = m.parts.iter().filter_map(|p| match p {
                            Part::Text(t) => Some(t.get()),
                            _ => None,
                        });
                        let mut nonblank = texts.filter(|t| !trim(t).is_empty());
                        let one = nonblank.next()?;
                        Some(match nonblank.next() {
                            // One text (the common case): "content:" + it, looked
                            // up without building the seed.
                            None => Ok(one),
                            Some(two) => {
                                let mut s = String::with_capacity(64);
                                s.push_str(LABEL);
                                for t in [one, two].into_iter().chain(nonblank) {
                                    if s.len() > LABEL.len() {
                                        s.push('\n');
                                    }
                                    s.push_str(trim(&t));
                                }
                                Err(s)
                            }
                        })
                    })
            });
            match first {
                Some(Ok(text)) => seed_hex_labeled(LABEL, trim(&text)),
                Some(Err(seed)) => seed_hex(&seed),
                None => {
                    w.str_lit(jstr!("unknown"));
                    return;
                }
            }
        }
    };
    // Lower-case hex digits: nothing to escape.
    w.raw_str(&hex);
}

/// Seeds at most this long are remembered by [`seed_hex`].
const SEED_CACHE_MAX_LEN: usize = 1024;
/// How many seeds each worker thread remembers.
const SEED_CACHE_ENTRIES: usize = 8;

thread_local! {
    /// The last seeds hashed on this thread with their hex digests: a
    /// conversation's turns repeat its first user message (and a session
    /// its key), so most requests of a conversation hash the same seed.
    /// Bounded: [`SEED_CACHE_ENTRIES`] seeds of at most
    /// [`SEED_CACHE_MAX_LEN`] bytes.
    static SEED_CACHE: std::cell::RefCell<SeedCache> = const {
        std::cell::RefCell::new(SeedCache { entries: Vec::new(), next: 0 })
    };
}

struct SeedCache {
    entries: Vec<(Box<str>, [u8; 64])>,
    /// The entry replaced next once full (round robin).
    next: usize,
}

/// SHA-256 of `seed` as 64 lower-case hex digits; the same value whether
/// or not it came from the per-thread cache.
pub(super) fn seed_hex(seed: &str) -> [u8; 64] {
    seed_hex_labeled("", seed)
}

/// [`seed_hex`] of `label` + `text`, built only when the cache misses.
fn seed_hex_labeled(label: &str, text: &str) -> [u8; 64] {
    let len = label.len() + text.len();
    if len > SEED_CACHE_MAX_LEN {
        return sha256_hex(&[label, text].concat());
    }
    let hit = SEED_CACHE.with(|c| {
        c.try_borrow().ok().and_then(|c| {
            c.entries
                .iter()
                .find(|e| {
                    e.0.len() == len
                        && e.0.as_bytes()[..label.len()] == *label.as_bytes()
                        && e.0.as_bytes()[label.len()..] == *text.as_bytes()
                })
                .map(|e| e.1)
        })
    });
    if let Some(h) = hit {
        return h;
    }
    let seed = [label, text].concat();
    let seed = seed.as_str();
    let h = sha256_hex(seed);
    SEED_CACHE.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if c.entries.len() < SEED_CACHE_ENTRIES {
                c.entries.push((seed.into(), h));
            } else {
                let at = c.next;
                if let Some(e) = c.entries.get_mut(at) {
                    *e = (seed.into(), h);
                }
                c.next = (at + 1) % SEED_CACHE_ENTRIES;
            }
        }
    });
    h
}

fn sha256_hex(seed: &str) -> [u8; 64] {
    use sha2::{Digest, Sha256};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::digest(seed.as_bytes());
    let mut out = [0u8; 64];
    for (i, b) in d.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

pub(super) fn claude_media(w: &mut Writer<'_>, ty: &str, mime: &str, src: &Src<'_>) {
    w.obj()
        .key_lit(jkey!("type"))
        .str(ty)
        .key_lit(jkey!("source"))
        .obj();
    match src {
        Src::B64(d) => {
            w.key_lit(jkey!("type"))
                .str_lit(jstr!("base64"))
                .key_lit(jkey!("media_type"));
            w.str(if mime.is_empty() {
                "application/octet-stream"
            } else {
                mime
            });
            w.key_lit(jkey!("data"));
            d.write(w);
        }
        Src::Url(u) => {
            w.key_lit(jkey!("type"))
                .str_lit(jstr!("url"))
                .key_lit(jkey!("url"));
            u.write(w);
        }
    }
    w.end_obj();
}

pub(super) fn claude_part(w: &mut Writer<'_>, p: &Part<'_>, gen: &mut u32, cache: Option<&str>) {
    claude_block(w, p, gen);
    if let Some(cc) = cache {
        // The block object is still open: claude_block leaves it for us.
        w.key_lit(jkey!("cache_control")).raw(cc);
    }
    w.end_obj();
}

/// Write a Claude content block, leaving its object open.
pub(super) fn claude_block(w: &mut Writer<'_>, p: &Part<'_>, gen: &mut u32) {
    match p {
        Part::Text(t) => {
            w.obj()
                .key_lit(jkey!("type"))
                .str_lit(jstr!("text"))
                .key_lit(jkey!("text"));
            t.write(w);
        }
        Part::Image { mime, src } => claude_media(w, "image", mime, src),
        Part::File { mime, src, .. } => claude_media(w, "document", mime, src),
        Part::Thinking { text, sig, .. } => {
            w.obj()
                .key_lit(jkey!("type"))
                .str_lit(jstr!("thinking"))
                .key_lit(jkey!("thinking"));
            text.write(w);
            if let Some(s) = sig {
                w.key_lit(jkey!("signature"));
                s.write(w);
            }
        }
        Part::ToolCall { id, name, args, .. } => {
            w.obj()
                .key_lit(jkey!("type"))
                .str_lit(jstr!("tool_use"))
                .key_lit(jkey!("id"));
            w.str(&sanitize_claude_id(id, gen)).key_lit(jkey!("name"));
            name.write(w);
            w.key_lit(jkey!("input"));
            args_obj(w, args);
        }
        Part::ToolResult {
            id,
            content,
            is_error,
            ..
        } => {
            w.obj()
                .key_lit(jkey!("type"))
                .str_lit(jstr!("tool_result"))
                .key_lit(jkey!("tool_use_id"));
            w.str(&sanitize_claude_id(id, gen))
                .key_lit(jkey!("content"));
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
                w.key_lit(jkey!("is_error")).bool(true);
            }
        }
    }
}

/// Whether a Claude part survives: no empty text, no foreign/unsigned thinking.
pub(super) fn claude_keeps(p: &Part<'_>) -> bool {
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
    w.obj().key_lit(jkey!("model")).str(o.model);
    w.key_lit(jkey!("max_tokens")).int(plan.max_tokens);
    claude_messages(&mut w, req, &mut gen);
    if req.system.iter().any(|t| !t.is_empty()) {
        w.key_lit(jkey!("system")).arr();
        for (k, t) in req.system.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
            w.obj()
                .key_lit(jkey!("type"))
                .str_lit(jstr!("text"))
                .key_lit(jkey!("text"));
            t.write(&mut w);
            if let Some(cc) = req.system_cache.iter().rev().find(|c| c.0 == k) {
                w.key_lit(jkey!("cache_control")).raw(cc.1);
            }
            w.end_obj();
        }
        w.end_arr();
    }
    w.key_lit(jkey!("metadata")).obj().key_lit(jkey!("user_id"));
    claude_user_id(req, &mut w);
    w.end_obj();
    w.key_lit(jkey!("stream")).bool(o.stream);
    let thinking_on = matches!(thinking, Some(Some(_))) || adaptive.is_some();
    if !thinking_on {
        if let Some(t) = req.temperature {
            w.key_lit(jkey!("temperature")).raw(t);
        }
        if let Some(t) = req.top_p {
            w.key_lit(jkey!("top_p")).raw(t);
        }
        if let Some(t) = req.top_k {
            w.key_lit(jkey!("top_k")).raw(t);
        }
    }
    if let Some(effort) = adaptive {
        w.key_lit(jkey!("thinking"))
            .obj()
            .key_lit(jkey!("type"))
            .str_lit(jstr!("adaptive"))
            .end_obj();
        w.key_lit(jkey!("output_config"))
            .obj()
            .key_lit(jkey!("effort"))
            .str(effort)
            .end_obj();
    }
    match thinking {
        Some(Some(b)) => {
            w.key_lit(jkey!("thinking"))
                .obj()
                .key_lit(jkey!("type"))
                .str_lit(jstr!("enabled"));
            w.key_lit(jkey!("budget_tokens")).int(b).end_obj();
        }
        Some(None) => {
            w.key_lit(jkey!("thinking"))
                .obj()
                .key_lit(jkey!("type"))
                .str_lit(jstr!("disabled"))
                .end_obj();
        }
        None => {}
    }
    if !req.stop.is_empty() {
        w.key_lit(jkey!("stop_sequences")).arr();
        for s in &req.stop {
            s.write(&mut w);
        }
        w.end_arr();
    }
    claude_tools(&mut w, req);
    w.end_obj();
}

/// `tools` and `tool_choice` (with `disable_parallel_tool_use`).
fn claude_tools(w: &mut Writer<'_>, req: &Req<'_>) {
    if !req.tools.is_empty() {
        w.key_lit(jkey!("tools")).arr();
        for t in &req.tools {
            w.obj().key_lit(jkey!("name"));
            t.name.write(w);
            if let Some(d) = &t.description {
                w.key_lit(jkey!("description"));
                d.write(w);
            }
            w.key_lit(jkey!("input_schema"));
            match &t.params {
                Some(p) => w.raw(p),
                None => w.raw(r#"{"type":"object","properties":{}}"#),
            };
            if let Some(cc) = t.cache {
                w.key_lit(jkey!("cache_control")).raw(cc);
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
        w.key_lit(jkey!("tool_choice"))
            .obj()
            .key_lit(jkey!("type"))
            .str(ty);
        if let Some(n) = name {
            w.key_lit(jkey!("name"));
            n.write(w);
        }
        if no_parallel && ty != "none" {
            w.key_lit(jkey!("disable_parallel_tool_use")).bool(true);
        }
        w.end_obj();
    }
}

/// `messages`: consecutive same-role turns merged; assistant tool_use blocks go last in
/// their turn, user tool_result blocks first.
fn claude_messages(w: &mut Writer<'_>, req: &Req<'_>, gen: &mut u32) {
    // Messages: merge consecutive same-role turns; assistant tool_use blocks go
    // last in their turn, user tool_result blocks first.
    w.key_lit(jkey!("messages")).arr();
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
        w.obj()
            .key_lit(jkey!("role"))
            .str_lit(if role == Role::User {
                jstr!("user")
            } else {
                jstr!("assistant")
            });
        w.key_lit(jkey!("content")).arr();
        let first = |p: &Part<'_>| match role {
            Role::User => matches!(p, Part::ToolResult { .. }),
            Role::Assistant => !matches!(p, Part::ToolCall { .. }),
        };
        for pass in [true, false] {
            for (mi, pi, p) in all().filter(|(_, _, p)| first(p) == pass) {
                claude_part(w, p, gen, req.cache_of(mi, pi));
            }
        }
        w.end_arr().end_obj();
    }
    if !any && !req.system.is_empty() {
        w.obj()
            .key_lit(jkey!("role"))
            .str_lit(jstr!("user"))
            .key_lit(jkey!("content"))
            .arr();
        w.obj()
            .key_lit(jkey!("type"))
            .str_lit(jstr!("text"))
            .key_lit(jkey!("text"))
            .str_lit(jstr!(""))
            .end_obj();
        w.end_arr().end_obj();
    }
    w.end_arr();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user id derived from the messages (the lone-text shortcut and
    /// the general search) is the digest of "content:" + the first user
    /// message's non-blank texts, trimmed, joined by newlines: one text,
    /// blank and spaced texts, several texts, a non-text part, Unicode
    /// spaces, no user text at all.
    #[test]
    fn derived_user_id_is_the_first_user_texts_digest() {
        use sha2::{Digest, Sha256};
        let text = |s: &'static str| Part::Text(Text::lit(s));
        let image = || Part::Image {
            mime: "image/png".into(),
            src: Src::B64(Text::lit("AAAA")),
        };
        // (messages as (role, parts), the seed the id is the digest of)
        type Case = (Vec<(Role, Vec<Part<'static>>)>, Option<&'static str>);
        let cases: Vec<Case> = vec![
            (vec![(Role::User, vec![text("hi")])], Some("content:hi")),
            (
                vec![(Role::User, vec![text("  hi \n")])],
                Some("content:hi"),
            ),
            (
                vec![(Role::User, vec![text("\u{3000}hi\u{3000}")])],
                Some("content:hi"),
            ),
            (
                vec![
                    (Role::Assistant, vec![text("a")]),
                    (Role::User, vec![text("   ")]),
                    (Role::User, vec![text("second")]),
                ],
                Some("content:second"),
            ),
            (
                vec![(Role::User, vec![text(" one "), text(""), text("two")])],
                Some("content:one\ntwo"),
            ),
            (
                vec![(Role::User, vec![image(), text("after image")])],
                Some("content:after image"),
            ),
            (vec![(Role::User, vec![image()])], None),
            (vec![(Role::Assistant, vec![text("only")])], None),
        ];
        for (msgs, seed) in cases {
            let mut req = Req::default();
            for (role, parts) in msgs {
                match <[Part<'_>; 1]>::try_from(parts) {
                    Ok([p]) => req.push_msg_one(role, p),
                    Err(parts) => req.push_msg(role, parts),
                }
            }
            let mut out = Vec::new();
            claude_user_id(&req, &mut Writer::new(&mut out));
            let want = match seed {
                Some(s) => format!(
                    "\"{}\"",
                    Sha256::digest(s.as_bytes())
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                ),
                None => "\"unknown\"".to_string(),
            };
            assert_eq!(String::from_utf8(out).unwrap(), want, "{seed:?} {req:?}");
        }
    }

    /// The cached digests are the digests: seeds repeated in and out of
    /// the cache's reach (more seeds than it holds, long seeds it skips).
    #[test]
    fn seed_hex_is_sha256_hex_cached_or_not() {
        use sha2::{Digest, Sha256};
        let want = |s: &str| {
            Sha256::digest(s.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let long = "é".repeat(SEED_CACHE_MAX_LEN);
        let mut seeds: Vec<String> = (0..3 * SEED_CACHE_ENTRIES)
            .map(|i| format!("content:{i}"))
            .collect();
        seeds.push(String::new());
        seeds.push(long);
        for round in 0..3 {
            for (i, s) in seeds.iter().enumerate() {
                // Each round visits a different subset and order.
                if (i + round) % 3 == 0 {
                    continue;
                }
                let got = seed_hex(s);
                assert_eq!(std::str::from_utf8(&got).unwrap(), want(s), "{s:?}");
                // Split anywhere (on a char boundary) into label + text.
                for at in (0..=s.len()).filter(|&i| s.is_char_boundary(i)).step_by(7) {
                    assert_eq!(seed_hex_labeled(&s[..at], &s[at..]), got, "{s:?} at {at}");
                }
                let again = seed_hex(s);
                assert_eq!(got, again);
            }
        }
    }
}
