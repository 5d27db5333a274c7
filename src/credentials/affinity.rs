//! Session affinity: session-id extraction (CLIProxyAPI `extractSessionIDs`
//! priority list) and a shared lock-free table of session → credential bindings.
//!
//! The table is a 4-way set-associative array of `AtomicU64` entries packing a
//! 20-bit key tag, the credential index + 1 (20 bits) and the last-use time in
//! seconds (24 bits, wrapping). Guarantees and limits:
//! - lookups, binds and touches take no lock and never allocate;
//! - a binding expires `ttl` after its last use (TTL is capped at
//!   [`MAX_AFFINITY_TTL_SECS`] because of the 24-bit wrapping clock);
//! - a full set evicts its least recently used entry;
//! - two sessions whose 64-bit hashes share the set and the 20-bit tag alias
//!   (probability ~1e-6 per lookup in a full set); aliasing only changes which
//!   credential serves a request, never correctness;
//! - credential indices ≥ 2^20 - 1 are not bound (affinity silently skipped).

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// Longest accepted session identifier (upstream `NormalizeExplicitID`).
pub const MAX_SESSION_ID_LEN: usize = 256;

/// Largest TTL representable with the 24-bit wrapping seconds clock (half the
/// wrap period, ~97 days; config values above are clamped).
pub const MAX_AFFINITY_TTL_SECS: u32 = (1 << 23) - 1;

const WAYS: usize = 4;
const TAG_SHIFT: u32 = 44;
const CRED_SHIFT: u32 = 24;
const FIELD20: u64 = (1 << 20) - 1;
const TIME_MASK: u64 = (1 << 24) - 1;

/// Hashes of an extracted session identifier (primary and optional alias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionKey {
    pub primary: u64,
    /// 0 = no alias.
    pub fallback: u64,
}

/// Session identifier with its source prefix (e.g. `codex:abc`), plus the
/// conversation alias bound alongside a `prompt_cache_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionId {
    pub primary: String,
    pub fallback: Option<String>,
}

fn hash_str(s: &str) -> u64 {
    // SipHash with fixed zero keys: deterministic across processes (bindings
    // are in-memory only, so HashDoS resistance of random keys is not needed
    // beyond what 64-bit SipHash gives).
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    s.hash(&mut h);
    h.finish() | 1
}

impl SessionId {
    pub fn key(&self) -> SessionKey {
        SessionKey {
            primary: hash_str(&self.primary),
            fallback: match &self.fallback {
                Some(f) if *f != self.primary => hash_str(f),
                _ => 0,
            },
        }
    }
}

/// Upstream `NormalizeExplicitID`: reject control characters, trim, reject
/// empty or longer than [`MAX_SESSION_ID_LEN`] bytes.
pub fn normalize_session_id(raw: &str) -> Option<&str> {
    if raw.chars().any(char::is_control) {
        return None;
    }
    let t = raw.trim();
    (!t.is_empty() && t.len() <= MAX_SESSION_ID_LEN).then_some(t)
}

fn header_value<'a>(headers: &[(&str, &'a [u8])], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
        .find_map(normalize_session_id)
}

/// A JSON value as `gjson.String()` would render the few fields we read.
#[derive(Debug, Default)]
enum Field<'a> {
    Str(Cow<'a, str>),
    Num(String),
    Obj {
        id: Option<Box<Field<'a>>>,
        user_id: Option<Box<Field<'a>>>,
        session_id: Option<Box<Field<'a>>>,
    },
    #[default]
    Other,
}

impl<'a> Field<'a> {
    fn text(&self) -> Option<&str> {
        match self {
            Field::Str(s) => Some(s),
            Field::Num(s) => Some(s),
            _ => None,
        }
    }
}

struct FieldVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FieldVisitor<'a> {
    type Value = Field<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Field<'a>, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Field<'a>, E> {
        Ok(Field::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Field<'a>, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Field<'a>, E> {
        Ok(Field::Num(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Field<'a>, E> {
        Ok(Field::Num(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Field<'a>, E> {
        Ok(Field::Num(v.to_string()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Field<'a>, E> {
        Ok(Field::Other)
    }
    fn visit_unit<E>(self) -> Result<Field<'a>, E> {
        Ok(Field::Other)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'a>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<'a>, A::Error> {
        let (mut id, mut user_id, mut session_id) = (None, None, None);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "id" if id.is_none() => id = Some(Box::new(map.next_value::<Field<'a>>()?)),
                "user_id" if user_id.is_none() => {
                    user_id = Some(Box::new(map.next_value::<Field<'a>>()?))
                }
                "session_id" if session_id.is_none() => {
                    session_id = Some(Box::new(map.next_value::<Field<'a>>()?))
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Field::Obj {
            id,
            user_id,
            session_id,
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor(std::marker::PhantomData))
    }
}

#[derive(Deserialize, Default)]
struct Probe<'a> {
    #[serde(borrow, default)]
    session_id: Option<Field<'a>>,
    #[serde(borrow, default, rename = "sessionId")]
    session_id_camel: Option<Field<'a>>,
    #[serde(borrow, default)]
    prompt_cache_key: Option<Field<'a>>,
    #[serde(borrow, default)]
    conversation: Option<Field<'a>>,
    #[serde(borrow, default)]
    conversation_id: Option<Field<'a>>,
    #[serde(borrow, default)]
    metadata: Option<Field<'a>>,
}

fn field_text<'f>(f: &'f Option<Field<'_>>) -> Option<&'f str> {
    f.as_ref()
        .and_then(|f| f.text())
        .and_then(normalize_session_id)
}

fn metadata_user_id<'f>(p: &'f Probe<'_>) -> Option<&'f str> {
    match &p.metadata {
        Some(Field::Obj {
            user_id: Some(u), ..
        }) => u.text(),
        _ => None,
    }
}

/// Claude Code session from `metadata.user_id`: a JSON string carrying
/// `session_id`, or the legacy `..._session_<hex-or-dash>` suffix.
fn claude_metadata_session(user_id: &str) -> Option<String> {
    let user_id = user_id.trim();
    if user_id.is_empty() {
        return None;
    }
    if user_id.starts_with('{') {
        let inner: Field = serde_json::from_str(user_id).ok()?;
        if let Field::Obj {
            session_id: Some(s),
            ..
        } = inner
        {
            return s.text().and_then(normalize_session_id).map(str::to_string);
        }
        return None;
    }
    let mut from = 0;
    while let Some(pos) = user_id[from..].find("_session_") {
        let start = from + pos + "_session_".len();
        let rest = &user_id[start..];
        if !rest.is_empty()
            && rest
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c) || c == b'-')
        {
            return normalize_session_id(rest).map(str::to_string);
        }
        from = from + pos + 1;
    }
    None
}

/// Extracts the session identifier of a request, by upstream priority:
/// 1 `X-Claude-Code-Session-Id`; 2 Claude Code `metadata.user_id` session;
/// 3 `Session-Id` / `Session_id`; 4 `X-Session-ID`; 5 `X-Session-Affinity`;
/// 6 `X-Client-Request-Id`; 7 body `session_id` / `sessionId`;
/// 8 `prompt_cache_key` (with `conversation` / `conversation.id` as alias);
/// 9 `metadata.user_id`, then `conversation_id`.
/// (Sources 10–12 of upstream — execution metadata, derived identity, message
/// hash — are not implemented.) Header names match case-insensitively;
/// `headers` is `(name, value)` in request order. Never panics; an invalid
/// JSON body only disables the body sources.
pub fn extract_session_id(headers: &[(&str, &[u8])], body: &[u8]) -> Option<SessionId> {
    let mk = |p: &str, s: &str| SessionId {
        primary: format!("{p}{s}"),
        fallback: None,
    };
    if let Some(s) = header_value(headers, "X-Claude-Code-Session-Id") {
        return Some(mk("claude:", s));
    }
    let probe: Probe = if body.iter().any(|c| !c.is_ascii_whitespace()) {
        serde_json::from_slice(body).unwrap_or_default()
    } else {
        Probe::default()
    };
    if let Some(s) = metadata_user_id(&probe).and_then(claude_metadata_session) {
        return Some(mk("claude:", &s));
    }
    for (name, prefix) in [
        ("Session-Id", "codex:"),
        ("Session_id", "codex:"),
        ("X-Session-ID", "header:"),
        ("X-Session-Affinity", "affinity:"),
        ("X-Client-Request-Id", "clientreq:"),
    ] {
        if let Some(s) = header_value(headers, name) {
            return Some(mk(prefix, s));
        }
    }
    if let Some(s) = field_text(&probe.session_id).or_else(|| field_text(&probe.session_id_camel)) {
        return Some(mk("session:", s));
    }
    let conversation = match &probe.conversation {
        Some(Field::Obj { id: Some(id), .. }) => id.text().and_then(normalize_session_id),
        Some(Field::Str(s)) => normalize_session_id(s),
        _ => None,
    }
    .map(|s| format!("conv:{s}"));
    if let Some(s) = field_text(&probe.prompt_cache_key) {
        return Some(SessionId {
            primary: format!("pck:{s}"),
            fallback: conversation,
        });
    }
    if let Some(c) = conversation {
        return Some(SessionId {
            primary: c,
            fallback: None,
        });
    }
    if let Some(s) = metadata_user_id(&probe).and_then(normalize_session_id) {
        return Some(mk("user:", s));
    }
    if let Some(s) = field_text(&probe.conversation_id) {
        return Some(mk("conv:", s));
    }
    None
}

/// Shared session → credential binding table.
pub(crate) struct AffinityTable {
    sets: Box<[[AtomicU64; WAYS]]>,
    mask: usize,
    ttl_secs: AtomicU32,
}

#[inline]
fn tag_of(h: u64) -> u64 {
    (h >> TAG_SHIFT) & FIELD20
}

impl AffinityTable {
    pub fn new(capacity: usize, ttl_secs: u32) -> AffinityTable {
        let sets = (capacity / WAYS).max(1).next_power_of_two();
        AffinityTable {
            sets: (0..sets)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            mask: sets - 1,
            ttl_secs: AtomicU32::new(ttl_secs.clamp(1, MAX_AFFINITY_TTL_SECS)),
        }
    }

    pub fn set_ttl(&self, ttl_secs: u32) {
        self.ttl_secs
            .store(ttl_secs.clamp(1, MAX_AFFINITY_TTL_SECS), Ordering::Relaxed);
    }

    fn set(&self, h: u64) -> &[AtomicU64; WAYS] {
        &self.sets[(h as usize) & self.mask]
    }

    fn alive(&self, e: u64, now_s: u64) -> bool {
        let age = (now_s.wrapping_sub(e & TIME_MASK)) & TIME_MASK;
        e != 0 && age < u64::from(self.ttl_secs.load(Ordering::Relaxed))
    }

    fn pack(h: u64, cred: u32, now_s: u64) -> Option<u64> {
        let c = u64::from(cred) + 1;
        (c < FIELD20).then(|| (tag_of(h) << TAG_SHIFT) | (c << CRED_SHIFT) | (now_s & TIME_MASK))
    }

    fn cred_of(e: u64) -> u32 {
        (((e >> CRED_SHIFT) & FIELD20) - 1) as u32
    }

    pub fn get(&self, h: u64, now_s: u64) -> Option<u32> {
        let tag = tag_of(h);
        self.set(h).iter().find_map(|slot| {
            let e = slot.load(Ordering::Acquire);
            (self.alive(e, now_s) && e >> TAG_SHIFT == tag).then(|| Self::cred_of(e))
        })
    }

    /// Binds (or rebinds) `h` to `cred`, refreshing its time.
    pub fn bind(&self, h: u64, cred: u32, now_s: u64) {
        let Some(new) = Self::pack(h, cred, now_s) else {
            return;
        };
        let tag = tag_of(h);
        let set = self.set(h);
        let mut victim = 0;
        let mut victim_age = 0u64;
        for (i, slot) in set.iter().enumerate() {
            let e = slot.load(Ordering::Acquire);
            if e != 0 && e >> TAG_SHIFT == tag {
                slot.store(new, Ordering::Release);
                return;
            }
            let age = if self.alive(e, now_s) {
                (now_s.wrapping_sub(e & TIME_MASK)) & TIME_MASK
            } else {
                u64::MAX
            };
            if age > victim_age || i == 0 {
                victim = i;
                victim_age = age;
            }
        }
        set[victim].store(new, Ordering::Release);
    }

    /// Refreshes the time of `h` if it is bound to `cred`.
    pub fn touch(&self, h: u64, cred: u32, now_s: u64) {
        let Some(new) = Self::pack(h, cred, now_s) else {
            return;
        };
        for slot in self.set(h) {
            let e = slot.load(Ordering::Acquire);
            if e >> TAG_SHIFT == tag_of(h) && e != 0 && Self::cred_of(e) == cred {
                if e != new {
                    let _ = slot.compare_exchange(e, new, Ordering::AcqRel, Ordering::Relaxed);
                }
                return;
            }
        }
    }

    /// Drops the binding of `h` if it points at `cred`.
    pub fn remove_if(&self, h: u64, cred: u32) {
        for slot in self.set(h) {
            let e = slot.load(Ordering::Acquire);
            if e != 0 && e >> TAG_SHIFT == tag_of(h) && Self::cred_of(e) == cred {
                let _ = slot.compare_exchange(e, 0, Ordering::AcqRel, Ordering::Relaxed);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(headers: &[(&str, &str)], body: &str) -> Option<String> {
        let hs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        extract_session_id(&hs, body.as_bytes()).map(|s| s.primary)
    }

    #[test]
    fn priority_order() {
        let all = [
            ("X-Client-Request-Id", "cr"),
            ("x-session-affinity", "aff"),
            ("X-Session-ID", "hdr"),
            ("session_id", "cx2"),
            ("Session-Id", "cx"),
            ("X-Claude-Code-Session-Id", "cc"),
        ];
        let body = r#"{"session_id":"s1","prompt_cache_key":"pk","metadata":{"user_id":"user_abc_session_1234-abcd"}}"#;
        assert_eq!(h(&all, body).as_deref(), Some("claude:cc"));
        assert_eq!(h(&all[..5], body).as_deref(), Some("claude:1234-abcd"));
        assert_eq!(h(&all[..5], "{}").as_deref(), Some("codex:cx"));
        assert_eq!(h(&all[..4], "{}").as_deref(), Some("codex:cx2"));
        assert_eq!(h(&all[..3], "{}").as_deref(), Some("header:hdr"));
        assert_eq!(h(&all[..2], "{}").as_deref(), Some("affinity:aff"));
        assert_eq!(h(&all[..1], "{}").as_deref(), Some("clientreq:cr"));
        assert_eq!(
            h(&[], r#"{"sessionId":"s2","prompt_cache_key":"pk"}"#).as_deref(),
            Some("session:s2")
        );
        assert_eq!(
            h(
                &[],
                r#"{"prompt_cache_key":"pk","conversation":{"id":"c1"}}"#
            )
            .as_deref(),
            Some("pck:pk")
        );
        assert_eq!(
            h(&[], r#"{"conversation":"c2","metadata":{"user_id":"u"}}"#).as_deref(),
            Some("conv:c2")
        );
        assert_eq!(
            h(
                &[],
                r#"{"metadata":{"user_id":"u1"},"conversation_id":"c3"}"#
            )
            .as_deref(),
            Some("user:u1")
        );
        assert_eq!(
            h(&[], r#"{"conversation_id":"c3"}"#).as_deref(),
            Some("conv:c3")
        );
        assert_eq!(
            h(&[], r#"{"metadata":{"user_id":"{\"session_id\":\"js\"}"}}"#).as_deref(),
            Some("claude:js")
        );
        assert_eq!(
            h(&[], r#"{"session_id":42}"#).as_deref(),
            Some("session:42")
        );
        assert_eq!(h(&[], "not json"), None);
        assert_eq!(h(&[("X-Session-ID", "  ")], ""), None);
        assert_eq!(h(&[("X-Session-ID", "a\tb")], ""), None);
        let long = "x".repeat(257);
        assert_eq!(h(&[("X-Session-ID", &long)], ""), None);
    }

    #[test]
    fn fallback_alias() {
        let s = extract_session_id(
            &[],
            br#"{"prompt_cache_key":"pk","conversation":{"id":"c1"}}"#,
        )
        .expect("session");
        assert_eq!(s.fallback.as_deref(), Some("conv:c1"));
        assert_ne!(s.key().fallback, 0);
    }

    #[test]
    fn table_binds_expires_and_evicts() {
        let t = AffinityTable::new(4, 10);
        t.bind(0xAAAA_0000_0000_0000, 7, 100);
        assert_eq!(t.get(0xAAAA_0000_0000_0000, 105), Some(7));
        assert_eq!(t.get(0xAAAA_0000_0000_0000, 110), None);
        t.touch(0xAAAA_0000_0000_0000, 7, 109);
        assert_eq!(t.get(0xAAAA_0000_0000_0000, 118), Some(7));
        t.remove_if(0xAAAA_0000_0000_0000, 8);
        assert_eq!(t.get(0xAAAA_0000_0000_0000, 118), Some(7));
        t.remove_if(0xAAAA_0000_0000_0000, 7);
        assert_eq!(t.get(0xAAAA_0000_0000_0000, 118), None);
        // Five keys in a 4-way set: the least recently used is evicted.
        for k in 0..5u64 {
            t.bind((k + 1) << 44, k as u32, 200 + k);
        }
        assert_eq!(t.get(1 << 44, 205), None);
        assert_eq!(t.get(5 << 44, 205), Some(4));
    }
}
