//! Claude Code OAuth accounts: the request head CLIProxyAPI's Claude
//! executor sends for an OAuth token (`applyClaudeHeaders` with the legacy
//! device headers) and the cloaking body transform (`applyCloaking`).

use super::{node_platform, or_builtin, trim, Client, Headers};
use crate::json::span;

/// `anthropic-beta` when the client sends none.
pub const DEFAULT_BETAS: &str = "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,context-management-2025-06-27,prompt-caching-scope-2026-01-05";
/// The beta an OAuth token needs (added when the client's list has no `oauth` beta).
pub const OAUTH_BETA: &str = "oauth-2025-04-20";
/// Added when the client sends `X-CPA-CLAUDE-1M`.
pub const CONTEXT_1M_BETA: &str = "context-1m-2025-08-07";
/// Claude Code's `User-Agent` (Claude Code 2.1.63).
pub const USER_AGENT: &str = "claude-cli/2.1.63 (external, cli)";
/// `X-Stainless-Package-Version` (@anthropic-ai/sdk 0.74.0).
pub const PACKAGE_VERSION: &str = "0.74.0";
/// `X-Stainless-Runtime-Version` (Node).
pub const RUNTIME_VERSION: &str = "v24.3.0";
/// The Claude Code version in the billing header.
const CC_VERSION: &str = "2.1.63";
/// First text of a cloaked system prompt (the billing header block).
const BILLING_PREFIX: &str = "x-anthropic-billing-header:";
/// The agent identity block cloaking puts second.
pub const AGENT_BLOCK: &str =
    r#"{"type":"text","text":"You are a Claude agent, built on Anthropic's Claude Agent SDK."}"#;

/// Stainless `X-Stainless-Os` / `X-Stainless-Arch` of this host.
fn stainless_platform() -> (String, String) {
    let os = match std::env::consts::OS {
        "macos" => "MacOS".to_string(),
        "windows" => "Windows".to_string(),
        "linux" => "Linux".to_string(),
        "freebsd" => "FreeBSD".to_string(),
        other => format!("Other::{other}"),
    };
    let arch = match node_platform().1 {
        a @ ("x64" | "arm64" | "x86") => a.to_string(),
        other => format!("other::{other}"),
    };
    (os, arch)
}

/// Claude Code OAuth headers (after `Authorization`): the beta list, the
/// Anthropic version, the Claude Code fingerprint. A client's own value of
/// each fingerprint header is passed through (CLIProxyAPI's
/// `misc.EnsureHeader`); `User-Agent` only when it is Claude Code's. Where
/// the client sends none, `claude-header-defaults` (`timeout`,
/// `runtime-version`, `package-version`, `user-agent`) replace the built-in
/// values; a provider's or file's own `headers` win over all of these.
pub(super) fn write_head(client: &Client<'_>, h: &mut Headers<'_>) {
    // Body betas count for Claude clients only (`betas`).
    let body_free = client.format != crate::translate::format::Format::Claude
        || memchr::memmem::find(client.body, b"\"betas\"").is_none();
    if body_free && IDENTITY.with(|c| write_cached(c, client, h)) {
        return;
    }
    write_head_full(client, h);
}

thread_local! {
    /// The head [`write_head_full`] writes for a client that sends none of
    /// the headers it reads, per worker thread (rebuilt when the operator's
    /// defaults change).
    static IDENTITY: std::cell::RefCell<Option<IdentityHead>> = const { std::cell::RefCell::new(None) };
}

/// [`write_head_full`]'s output when nothing of the client's shapes it.
struct IdentityHead {
    /// The defaults it was written with.
    defaults: super::HeaderDefaults,
    /// Every name read or written was recognised ([`static_name`]); the
    /// head is never used otherwise.
    complete: bool,
    /// Every client header name `write_head_full` looked up.
    reads: Vec<&'static str>,
    /// The filter of `reads`: most of the client's names are passed over
    /// without a compare.
    read_filter: super::NameFilter,
    /// Every header name it wrote (a provider's `headers` may skip one).
    writes: Vec<&'static str>,
    /// The bytes it wrote.
    head: Vec<u8>,
}

impl IdentityHead {
    /// Runs [`write_head_full`] for a client that sends no header and
    /// records what it read and wrote: the names come from the writer
    /// itself, so the cached head cannot drift from it.
    fn build(defaults: &super::HeaderDefaults) -> IdentityHead {
        use std::cell::RefCell;
        let reads: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
        let writes: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
        let complete = std::cell::Cell::new(true);
        let record = |list: &RefCell<Vec<&'static str>>, name: &str| match static_name(name) {
            Some(n) => list.borrow_mut().push(n),
            None => complete.set(false),
        };
        let header = |name: &str| {
            record(&reads, name);
            None
        };
        let skip = |name: &str| {
            record(&writes, name);
            false
        };
        let client = Client {
            header: &header,
            any_name: &|_, _| false,
            body: b"",
            format: crate::translate::format::Format::OpenAiChat,
            defaults,
        };
        let mut head = Vec::with_capacity(640);
        write_head_full(
            &client,
            &mut Headers {
                out: &mut head,
                skip: Some(&skip),
            },
        );
        let reads = reads.into_inner();
        let read_filter = super::NameFilter::of(&reads);
        IdentityHead {
            defaults: defaults.clone(),
            complete: complete.get() && read_filter.is_some(),
            reads,
            read_filter: read_filter.unwrap_or_default(),
            writes: writes.into_inner(),
            head,
        }
    }

    /// Whether this head is what [`write_head_full`] writes for `client`
    /// and `h` (whose defaults the caller checked): none of the read
    /// headers sent (a `User-Agent` other than Claude Code's is not used
    /// either), none of the written ones skipped. One pass over the
    /// client's header names, not one lookup per read name.
    fn fits(&self, client: &Client<'_>, h: &Headers<'_>) -> bool {
        if !self.complete {
            return false;
        }
        let user_agent = std::cell::Cell::new(false);
        let sends_one = (client.any_name)(&self.read_filter, &|name: &[u8]| match self
            .reads
            .iter()
            .find(|n| n.as_bytes().eq_ignore_ascii_case(name))
        {
            Some(&"user-agent") => {
                user_agent.set(true);
                false
            }
            Some(_) => true,
            None => false,
        });
        // The writer reads the first `User-Agent` only.
        let claude_code_ua =
            || (client.header)("user-agent").is_some_and(|v| is_claude_code(trim(v)));
        if sends_one || (user_agent.get() && claude_code_ua()) {
            return false;
        }
        h.skip.is_none_or(|s| !self.writes.iter().any(|n| s(n)))
    }
}

/// The `'static` spelling of a header name `write_head_full` uses: every
/// name it reads or writes is one of these (the cache refuses otherwise).
fn static_name(name: &str) -> Option<&'static str> {
    HEAD_NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .copied()
}

/// The header names of the Claude Code head (lower case; compared
/// case-insensitively).
const HEAD_NAMES: &[&str] = &[
    "anthropic-beta",
    "x-cpa-claude-1m",
    "anthropic-version",
    "anthropic-dangerous-direct-browser-access",
    "x-app",
    "x-stainless-retry-count",
    "x-stainless-runtime",
    "x-stainless-lang",
    "x-stainless-timeout",
    "accept-encoding",
    "x-stainless-runtime-version",
    "x-stainless-package-version",
    "x-stainless-os",
    "x-stainless-arch",
    "user-agent",
];

/// Writes the cached head when it fits `client`; false (nothing written)
/// when the full writer must run.
fn write_cached(
    cache: &std::cell::RefCell<Option<IdentityHead>>,
    client: &Client<'_>,
    h: &mut Headers<'_>,
) -> bool {
    let Ok(mut slot) = cache.try_borrow_mut() else {
        return false;
    };
    if slot
        .as_ref()
        .is_none_or(|c| !c.defaults.same_as(client.defaults))
    {
        *slot = Some(IdentityHead::build(client.defaults));
    }
    match slot.as_ref() {
        Some(c) if c.fits(client, h) => {
            h.out.extend_from_slice(&c.head);
            true
        }
        _ => false,
    }
}

/// [`write_head`] without the cache.
fn write_head_full(client: &Client<'_>, h: &mut Headers<'_>) {
    let d = client.defaults;
    let betas = betas(client);
    h.put("Anthropic-Beta", betas.as_bytes());
    h.ensure(client, "Anthropic-Version", b"2023-06-01");
    h.ensure(client, "Anthropic-Dangerous-Direct-Browser-Access", b"true");
    h.ensure(client, "X-App", b"cli");
    h.ensure(client, "X-Stainless-Retry-Count", b"0");
    h.ensure(client, "X-Stainless-Runtime", b"node");
    h.ensure(client, "X-Stainless-Lang", b"js");
    h.ensure(
        client,
        "X-Stainless-Timeout",
        or_builtin(&d.claude_timeout, "600"),
    );
    // CLIProxyAPI asks for gzip/br/zstd on non-stream calls and decodes
    // them; this relay forwards bodies as they come, so it asks for none.
    h.put("Accept-Encoding", b"identity");
    let (os, arch) = stainless_platform();
    h.ensure(
        client,
        "X-Stainless-Runtime-Version",
        or_builtin(&d.claude_runtime_version, RUNTIME_VERSION),
    );
    h.ensure(
        client,
        "X-Stainless-Package-Version",
        or_builtin(&d.claude_package_version, PACKAGE_VERSION),
    );
    h.ensure(client, "X-Stainless-Os", os.as_bytes());
    h.ensure(client, "X-Stainless-Arch", arch.as_bytes());
    let ua = (client.header)("user-agent")
        .map(trim)
        .filter(|ua| is_claude_code(ua));
    h.put(
        "User-Agent",
        ua.unwrap_or(or_builtin(&d.claude_user_agent, USER_AGENT)),
    );
}

/// The `anthropic-beta` value: the client's list (plus the OAuth beta when
/// it has none) or [`DEFAULT_BETAS`], then the betas a Claude client put in
/// its body (`betas`, removed from the body by [`without_body_betas`]), then
/// the 1M-context beta on request.
pub fn betas(client: &Client<'_>) -> String {
    let mut list = match (client.header)("anthropic-beta").map(trim) {
        Some(v) if !v.is_empty() => {
            let mut s = String::from_utf8_lossy(v).into_owned();
            if !s.contains("oauth") {
                s.push(',');
                s.push_str(OAUTH_BETA);
            }
            s
        }
        _ => DEFAULT_BETAS.to_string(),
    };
    if client.format == crate::translate::format::Format::Claude {
        body_betas(client.body, |b| {
            if !list.split(',').any(|x| x.trim().as_bytes() == b) {
                list.push(',');
                list.push_str(&String::from_utf8_lossy(b));
            }
        });
    }
    if (client.header)("x-cpa-claude-1m").is_some()
        && !list.split(',').any(|b| b.trim() == CONTEXT_1M_BETA)
    {
        list.push(',');
        list.push_str(CONTEXT_1M_BETA);
    }
    list
}

/// Calls `f` with each beta of a body's top-level `betas` (an array of
/// strings, or one string), trimmed; values that are not plain printable
/// ASCII are left out (they go in a header).
fn body_betas(body: &[u8], mut f: impl FnMut(&[u8])) {
    let Some(v) = span::get(body, b"betas") else {
        return;
    };
    let mut one = |s: &[u8]| {
        if let Some(c) = span::str_content(s) {
            let c = trim(c);
            if !c.is_empty() && c.iter().all(|b| b.is_ascii_graphic() && *b != b'\\') {
                f(c);
            }
        }
    };
    if v.first() == Some(&b'[') {
        span::array(v).for_each(&mut one);
    } else {
        one(v);
    }
}

/// `body` without its top-level `betas` member (CLIProxyAPI moves them to
/// the `anthropic-beta` header); `None` when it has none or is not an object.
pub fn without_body_betas(body: &[u8]) -> Option<Vec<u8>> {
    span::get(body, b"betas")?;
    super::without_member(body, b"betas")
}

/// A Claude Code client, by its `User-Agent`.
pub fn is_claude_code(user_agent: &[u8]) -> bool {
    user_agent.starts_with(b"claude-cli")
}

/// When cloaking applies (`cloak_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloakMode {
    /// Clients other than Claude Code (the default).
    #[default]
    Auto,
    /// Every request.
    Always,
    /// Never.
    Never,
}

impl CloakMode {
    /// A `cloak_mode` value (case-insensitive; anything else is `auto`).
    pub fn parse(s: &str) -> CloakMode {
        match s.trim().to_ascii_lowercase().as_str() {
            "always" => CloakMode::Always,
            "never" => CloakMode::Never,
            _ => CloakMode::Auto,
        }
    }
}

/// Cloaking settings of an account (auth-file `cloak_mode`,
/// `cloak_strict_mode`, `cloak_cache_user_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cloak {
    /// When to cloak.
    pub mode: CloakMode,
    /// The system prompt becomes the two Claude Code blocks only (the
    /// client's own system text is dropped).
    pub strict: bool,
    /// One generated `metadata.user_id` per account for an hour (else a
    /// new one per request).
    pub cache_user_id: bool,
    /// Words broken up with a zero-width space in system and message text
    /// (`cloak_sensitive_words`): trimmed, at least two characters, longest
    /// first.
    pub sensitive_words: Vec<String>,
}

impl Cloak {
    /// Settings from an auth file's string fields, as CLIProxyAPI reads
    /// them (`"true"`, case-insensitive, enables a flag; the sensitive words
    /// are comma-separated).
    pub fn from_fields(
        mode: Option<&str>,
        strict: Option<&str>,
        cache_user_id: Option<&str>,
        sensitive_words: Option<&str>,
    ) -> Cloak {
        let flag = |v: Option<&str>| v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let mut words: Vec<String> = sensitive_words
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|w| w.chars().count() >= 2 && !w.contains(ZWSP))
            .map(str::to_string)
            .collect();
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        Cloak {
            mode: CloakMode::parse(mode.unwrap_or("")),
            strict: flag(strict),
            cache_user_id: flag(cache_user_id),
            sensitive_words: words,
        }
    }

    /// Whether a request from a client with this `User-Agent` is cloaked.
    pub fn applies(&self, user_agent: Option<&[u8]>) -> bool {
        match self.mode {
            CloakMode::Always => true,
            CloakMode::Never => false,
            CloakMode::Auto => !user_agent.is_some_and(is_claude_code),
        }
    }
}

/// Whether `id` has Claude Code's `metadata.user_id` shape:
/// `user_<64 hex>_account_<uuid>_session_<uuid>`.
pub fn is_valid_user_id(id: &[u8]) -> bool {
    let Some(rest) = id.strip_prefix(b"user_") else {
        return false;
    };
    if rest.len() < 64 || !rest[..64].iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    let Some(rest) = rest[64..].strip_prefix(b"_account_") else {
        return false;
    };
    if rest.len() < 36 || !super::is_uuid(&rest[..36]) {
        return false;
    }
    match rest[36..].strip_prefix(b"_session_") {
        Some(s) => super::is_uuid(s),
        None => false,
    }
}

/// A new Claude Code style user id (random hex, random account and session UUIDs).
pub fn new_user_id() -> String {
    let mut b = [0u8; 32];
    super::random_bytes(&mut b);
    let mut hex = Vec::with_capacity(64);
    super::push_hex(&mut hex, &b);
    format!(
        "user_{}_account_{}_session_{}",
        String::from_utf8_lossy(&hex),
        super::uuid_v4(),
        super::uuid_v4()
    )
}

/// The user id of `key` (an account id) for the next hour, refreshed on
/// use (CLIProxyAPI's `cachedUserID`).
pub fn cached_user_id(key: &str) -> String {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};
    const TTL: Duration = Duration::from_secs(3600);
    static CACHE: OnceLock<Mutex<HashMap<String, (String, Instant)>>> = OnceLock::new();
    if key.is_empty() {
        return new_user_id();
    }
    let now = Instant::now();
    let mut map = match CACHE.get_or_init(Default::default).lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    if let Some((id, exp)) = map.get_mut(key) {
        if *exp > now {
            *exp = now + TTL;
            return id.clone();
        }
    }
    map.retain(|_, (_, exp)| *exp > now);
    let id = new_user_id();
    map.insert(key.to_string(), (id.clone(), now + TTL));
    id
}

/// The billing header text block Claude Code puts first in its system
/// prompt: a random build tag and a hash of the request.
fn billing_block(body: &[u8], out: &mut Vec<u8>) {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body);
    let mut cch = Vec::with_capacity(64);
    super::push_hex(&mut cch, &digest);
    let mut build = Vec::with_capacity(4);
    super::push_hex(&mut build, &super::random_u64().to_le_bytes()[..2]);
    out.extend_from_slice(br#"{"type":"text","text":""#);
    out.extend_from_slice(BILLING_PREFIX.as_bytes());
    out.extend_from_slice(b" cc_version=");
    out.extend_from_slice(CC_VERSION.as_bytes());
    out.push(b'.');
    out.extend_from_slice(&build[..3]);
    out.extend_from_slice(b"; cc_entrypoint=cli; cch=");
    out.extend_from_slice(&cch[..5]);
    out.extend_from_slice(b";\"}");
}

/// Offset of `sub` (a sub-slice of `whole`) in `whole`.
fn offset(whole: &[u8], sub: &[u8]) -> usize {
    sub.as_ptr() as usize - whole.as_ptr() as usize
}

/// Span (start, end) of a top-level member's value, and where the object closes.
struct Top {
    system: Option<(usize, usize)>,
    metadata: Option<(usize, usize)>,
    /// Index of the closing `}`.
    close: usize,
    /// The object has members.
    any: bool,
}

fn top_level(body: &[u8]) -> Option<Top> {
    let (mut system, mut metadata, mut any) = (None, None, false);
    let end = span::visit_object(body, 0, |k, vs| {
        any = true;
        let Some((v, e)) = span::value_at(body, vs) else {
            return span::Step::Stop;
        };
        let v = trim(v);
        let s = offset(body, v);
        match k {
            b"system" if system.is_none() => system = Some((s, s + v.len())),
            b"metadata" if metadata.is_none() => metadata = Some((s, s + v.len())),
            _ => {}
        }
        span::Step::End(e)
    })?;
    Some(Top {
        system,
        metadata,
        close: end - 1,
        any,
    })
}

/// Cloaks a Claude Messages body for a non-Claude-Code client, as
/// CLIProxyAPI's default cloak does, into `out` in one pass:
/// - `system` becomes `[billing header, agent block, <client's text blocks,
///   each with cache_control ephemeral unless it has one>]` (a string
///   system becomes one such block; strict mode keeps only the first two);
///   skipped for `claude-3-5-haiku*` models and when the first block is
///   already a billing header (idempotent);
/// - `metadata.user_id` is set to a generated Claude Code style id unless
///   the body has a valid one (`user_id_key`: cache key when
///   `cache_user_id`).
///
/// Returns false (and leaves `out` alone) when the request is not cloaked,
/// nothing changes, or the body is not a JSON object.
pub fn cloak(
    body: &[u8],
    cfg: &Cloak,
    user_agent: Option<&[u8]>,
    model: &str,
    user_id_key: &str,
    out: &mut Vec<u8>,
) -> bool {
    if !cfg.applies(user_agent) {
        return false;
    }
    let Some(top) = top_level(body) else {
        return false;
    };
    // (start, end, replacement); inserts have start == end.
    let mut edits: Vec<(usize, usize, Vec<u8>)> = Vec::with_capacity(2);
    let mut inserts: Vec<u8> = Vec::new();
    let mut any = top.any;
    if !model.starts_with("claude-3-5-haiku") {
        if let Some(sys) = system_value(body, top.system, cfg.strict) {
            match top.system {
                Some((s, e)) => edits.push((s, e, sys)),
                None => {
                    member(&mut inserts, &mut any, b"system", &sys);
                }
            }
        }
    }
    let meta = top.metadata.map(|(s, e)| &body[s..e]);
    let uid_ok = meta
        .and_then(|m| span::get_str(m, b"user_id"))
        .is_some_and(is_valid_user_id);
    if !uid_ok {
        let id = if cfg.cache_user_id {
            cached_user_id(user_id_key)
        } else {
            new_user_id()
        };
        let mut lit = Vec::with_capacity(id.len() + 2);
        crate::json::write_string(&mut lit, &id);
        match (top.metadata, meta) {
            (Some((s, e)), Some(m)) if m.first() == Some(&b'{') => match span::get(m, b"user_id") {
                Some(u) => {
                    let us = s + offset(m, u);
                    edits.push((us, us + u.len(), lit));
                }
                None => {
                    let empty = m[1..m.len() - 1].iter().all(u8::is_ascii_whitespace);
                    let mut ins = Vec::with_capacity(lit.len() + 12);
                    if !empty {
                        ins.push(b',');
                    }
                    ins.extend_from_slice(b"\"user_id\":");
                    ins.extend_from_slice(&lit);
                    edits.push((e - 1, e - 1, ins));
                }
            },
            (Some((s, e)), _) => {
                let mut v = b"{\"user_id\":".to_vec();
                v.extend_from_slice(&lit);
                v.push(b'}');
                edits.push((s, e, v));
            }
            (None, _) => {
                let mut v = b"{\"user_id\":".to_vec();
                v.extend_from_slice(&lit);
                v.push(b'}');
                member(&mut inserts, &mut any, b"metadata", &v);
            }
        }
    }
    if !inserts.is_empty() {
        edits.push((top.close, top.close, inserts));
    }
    if !cfg.sensitive_words.is_empty() {
        // Obfuscation reads the cloaked body (the new system blocks too).
        let mut first = Vec::new();
        let base: &[u8] = if edits.is_empty() {
            body
        } else {
            apply_edits(body, &mut edits, &mut first);
            &first
        };
        if obfuscate(base, &cfg.sensitive_words, out) {
            return true;
        }
        if edits.is_empty() {
            return false;
        }
        *out = first;
        return true;
    }
    if edits.is_empty() {
        return false;
    }
    apply_edits(body, &mut edits, out);
    true
}

/// Writes `body` with `edits` (start, end, replacement; inserts have
/// start == end; disjoint) applied into `out`.
fn apply_edits(body: &[u8], edits: &mut [(usize, usize, Vec<u8>)], out: &mut Vec<u8>) {
    edits.sort_by_key(|e| e.0);
    out.clear();
    out.reserve(body.len() + edits.iter().map(|e| e.2.len()).sum::<usize>());
    let mut at = 0;
    for (s, e, v) in edits.iter() {
        out.extend_from_slice(&body[at..*s]);
        out.extend_from_slice(v);
        at = *e;
    }
    out.extend_from_slice(&body[at..]);
}

/// U+200B ZERO WIDTH SPACE, put after the first character of a sensitive word.
const ZWSP: char = '\u{200B}';

/// Breaks up `words` (see [`Cloak::sensitive_words`]) in the text of
/// `system` (a string, or its `text` blocks) and of `messages[].content`
/// (a string, or its `text` blocks), into `out`; false when nothing matched.
pub fn obfuscate(body: &[u8], words: &[String], out: &mut Vec<u8>) -> bool {
    let mut edits: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    let mut text = |v: &[u8]| {
        let Some(s) = crate::json::escape::decode_string(v) else {
            return;
        };
        if let Some(new) = obfuscate_text(&s, words) {
            let start = offset(body, v);
            let mut lit = Vec::with_capacity(new.len() + 2);
            crate::json::write_string(&mut lit, &new);
            edits.push((start, start + v.len(), lit));
        }
    };
    let blocks = |v: &[u8], text: &mut dyn FnMut(&[u8])| {
        if v.first() == Some(&b'"') {
            text(v);
        } else {
            for block in span::array(v) {
                if span::get_str(block, b"type") == Some(b"text") {
                    if let Some(t) = span::get(block, b"text") {
                        text(t);
                    }
                }
            }
        }
    };
    let [system, messages] = span::get_many(body, [b"system", b"messages"]);
    if let Some(s) = system {
        blocks(s, &mut text);
    }
    for m in span::array(messages.unwrap_or(b"")) {
        if let Some(c) = span::get(m, b"content") {
            blocks(c, &mut text);
        }
    }
    if edits.is_empty() {
        return false;
    }
    apply_edits(body, &mut edits, out);
    true
}

/// `s` with every case-insensitive occurrence of a word (leftmost, longest
/// word first) written as its first character, U+200B, the rest; `None`
/// when no word occurs.
fn obfuscate_text(s: &str, words: &[String]) -> Option<String> {
    let fold = |c: char| c.to_lowercase().next().unwrap_or(c);
    let matches_at = |rest: &str, w: &str| -> Option<usize> {
        let mut it = rest.char_indices();
        for wc in w.chars() {
            let (_, c) = it.next()?;
            if fold(c) != fold(wc) {
                return None;
            }
        }
        Some(it.next().map_or(rest.len(), |(i, _)| i))
    };
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let hit = words.iter().find_map(|w| matches_at(rest, w));
        match hit {
            Some(len) => {
                let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 16));
                o.push_str(&s[copied..i]);
                let first = rest.chars().next().map_or(0, char::len_utf8);
                o.push_str(&rest[..first]);
                o.push(ZWSP);
                o.push_str(&rest[first..len]);
                i += len;
                copied = i;
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    let mut o = out?;
    o.push_str(&s[copied..]);
    Some(o)
}

/// Appends `"key":value` to a run of members inserted before the closing brace.
fn member(out: &mut Vec<u8>, any: &mut bool, key: &[u8], value: &[u8]) {
    if *any {
        out.push(b',');
    }
    *any = true;
    out.push(b'"');
    out.extend_from_slice(key);
    out.extend_from_slice(b"\":");
    out.extend_from_slice(value);
}

/// The cloaked `system` value, or `None` when it stays as it is.
fn system_value(body: &[u8], span_: Option<(usize, usize)>, strict: bool) -> Option<Vec<u8>> {
    let sys = span_.map(|(s, e)| &body[s..e]);
    if !strict {
        let first = sys.and_then(|s| span::array(s).next());
        let first_text = first.and_then(|f| span::get_str(f, b"text"));
        if first_text.is_some_and(|t| t.starts_with(BILLING_PREFIX.as_bytes())) {
            return None;
        }
    }
    let mut v = Vec::with_capacity(256 + sys.map_or(0, <[u8]>::len));
    v.push(b'[');
    billing_block(body, &mut v);
    v.push(b',');
    v.extend_from_slice(AGENT_BLOCK.as_bytes());
    if !strict {
        match sys {
            Some(s) if s.first() == Some(&b'[') => {
                for part in span::array(s) {
                    if span::get_str(part, b"type") != Some(b"text") {
                        continue;
                    }
                    v.push(b',');
                    if span::get(part, b"cache_control").is_some() {
                        v.extend_from_slice(part);
                    } else {
                        let part = trim(part);
                        v.extend_from_slice(&part[..part.len() - 1]);
                        v.extend_from_slice(br#","cache_control":{"type":"ephemeral"}}"#);
                    }
                }
            }
            Some(s) if s.len() > 2 && s.first() == Some(&b'"') => {
                v.extend_from_slice(
                    br#",{"type":"text","cache_control":{"type":"ephemeral"},"text":"#,
                );
                v.extend_from_slice(s);
                v.push(b'}');
            }
            _ => {}
        }
    }
    v.push(b']');
    Some(v)
}

/// The cloak settings of a Claude account (its file's `cloak_mode`,
/// `cloak_strict_mode`, `cloak_cache_user_id`, `cloak_sensitive_words`;
/// CLIProxyAPI's defaults when absent). Borrowed: nothing is copied per
/// request.
pub fn account_cloak(account: &crate::accounts::Account) -> &Cloak {
    &account.cloak
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::translate::format::Format;

    /// (cached writer's bytes, full writer's bytes) for one client.
    fn both(
        headers: &[(&str, &str)],
        defaults: &super::super::HeaderDefaults,
        format: Format,
        body: &[u8],
        skip: &[&str],
    ) -> (Vec<u8>, Vec<u8>) {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_bytes())
        };
        let names = skip;
        let skip = |n: &str| names.iter().any(|s| s.eq_ignore_ascii_case(n));
        // A provider without `headers` passes no skip test at all.
        let skip: Option<&dyn Fn(&str) -> bool> = if names.is_empty() { None } else { Some(&skip) };
        let any_name = |filter: &crate::accounts::wire::NameFilter,
                        f: crate::accounts::wire::NameTest<'_>| {
            headers
                .iter()
                .any(|(n, _)| filter.may_hold(n.as_bytes()) && f(n.as_bytes()))
        };
        let client = Client {
            header: &header,
            any_name: &any_name,
            body,
            format,
            defaults,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_head(&client, &mut Headers { out: &mut a, skip });
        write_head_full(&client, &mut Headers { out: &mut b, skip });
        (a, b)
    }

    /// The cached head is byte for byte the full writer's, for clients
    /// that send none, some or each of the head's headers, provider
    /// `headers` that skip each name, changed defaults, and Claude clients
    /// with and without body betas.
    #[test]
    fn cached_head_is_the_full_head() {
        let plain = super::super::HeaderDefaults::default();
        let custom = super::super::HeaderDefaults {
            claude_user_agent: "my-agent/1".into(),
            claude_timeout: "900".into(),
            ..Default::default()
        };
        let upper: Vec<String> = HEAD_NAMES.iter().map(|n| n.to_ascii_uppercase()).collect();
        let mut clients: Vec<Vec<(&str, &str)>> = vec![
            vec![],
            vec![("Host", "x"), ("Content-Type", "application/json")],
            vec![("User-Agent", "OpenAI/Python 1.99.0")],
            vec![("user-agent", " claude-cli/2.0.1 (external, cli)")],
            vec![("User-Agent", "")],
            vec![("X-Other", "1"), ("Authorization", "Bearer k")],
            // Names as long as read ones (14: anthropic-beta, 10: user-agent).
            vec![("Content-Length", "12"), ("Connection", "close")],
            // The first User-Agent is the one read.
            vec![("User-Agent", "curl/8"), ("user-agent", "claude-cli/2.0.1")],
            vec![("User-Agent", "claude-cli/2.0.1"), ("user-agent", "curl/8")],
            vec![("USER-AGENT", "claude-cli/2.0.1 (external, cli)")],
            vec![("Host", "x"), ("X-STAINLESS-OS", "Plan9")],
            vec![("x-Cpa-Claude-1M", "1"), ("User-Agent", "curl/8")],
        ];
        for n in HEAD_NAMES {
            clients.push(vec![(n, "client-value")]);
            clients.push(vec![("Content-Type", "application/json"), (n, "v")]);
            clients.push(vec![(n, " ")]);
            clients.push(vec![(n, "")]);
        }
        for n in &upper {
            clients.push(vec![(n.as_str(), "claude-cli/1 odd case")]);
        }
        let mut skips: Vec<Vec<&str>> = vec![vec![], vec!["X-Unrelated"]];
        for n in HEAD_NAMES {
            skips.push(vec![n]);
        }
        let bodies: [(Format, &[u8]); 4] = [
            (Format::OpenAiChat, br#"{"betas":["b1"]}"#),
            (Format::Claude, br#"{"model":"m"}"#),
            (Format::Claude, br#"{"betas":["b1","b2"]}"#),
            (Format::Gemini, b""),
        ];
        let mut cached_used = 0;
        for defaults in [&plain, &custom, &plain] {
            for c in &clients {
                for s in &skips {
                    for (f, body) in bodies {
                        let (a, b) = both(c, defaults, f, body, s);
                        assert_eq!(
                            String::from_utf8_lossy(&a),
                            String::from_utf8_lossy(&b),
                            "client {c:?} skip {s:?} format {f:?}"
                        );
                        cached_used += usize::from(c.is_empty() && s.is_empty());
                    }
                }
            }
        }
        assert!(cached_used > 0);
        // The cache is used (not just always refused): it recognised every
        // name the writer reads and writes.
        IDENTITY.with(|c| {
            let c = c.borrow();
            let c = c.as_ref().expect("built");
            assert!(c.complete);
            assert!(c.reads.contains(&"user-agent") && c.writes.contains(&"x-app"));
        });
    }
}
