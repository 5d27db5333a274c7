//! CLIProxyAPI's `payload` rules: `default`, `default-raw`, `override`,
//! `override-raw` and `filter` edits applied to the translated upstream body.
//!
//! Compile once per config load with [`PayloadRules::compile`], then call
//! [`PayloadRules::apply`] per request.
//!
//! Semantics (CLIProxyAPI `internal/runtime/executor/helps/payload_helpers.go`):
//! - A rule applies when any of its `models[]` entries matches. An entry
//!   matches when: its `name` (trimmed, non-empty; `*` wildcard, case
//!   sensitive) matches one of the request's model candidates (the upstream
//!   model; the requested model without a `(suffix)`; the requested model with
//!   its suffix); its `protocol`, when set and when the request's target
//!   protocol is known, equals it ignoring case; its `from-protocol`, when set,
//!   equals the request's source protocol (`openai-response`, `openai-responses`
//!   and `response` mean `responses`); every `headers` entry names a request
//!   header (case-insensitive) one of whose values matches the `*` glob; every
//!   `match` path has an equal value (JSON equality, numbers compared as
//!   `f64`), no `not-match` path has an equal value, every `exist` path is
//!   present and not `null`, and no `not-exist` path is. A rule without
//!   `models` never applies.
//! - Order: `default` then `default-raw` (set when the path is missing from
//!   the *original* body; the first rule to set a path wins), then `override`
//!   then `override-raw` (always set; the last wins), then `filter` (delete).
//!   Within a rule, params apply in YAML order (Go iterates a map: random).
//! - `*-raw` values are JSON text (a non-string value is used as its JSON; a
//!   `null` value or text that is not JSON is skipped with a warning); plain
//!   values are written as their JSON.
//! - Setting below missing or scalar parents creates them: an array when the
//!   segment is a position or `-1` (padding with `null`), else an object.
//! - Path syntax (the gjson/sjson subset CLIProxyAPI's rules use): dotted
//!   keys `a.b.c`; `\` makes the next character literal (`a\.b` is the key
//!   `a.b`); an all-digit segment is an array position when the value there is
//!   an array and an object key otherwise; `-1` appends when setting into an
//!   array; `#(term)` selects the first array element matching, `#(term)#`
//!   every one, where a term is `path==literal`, `path!=literal` or a bare
//!   `path`, joined with `&&` / `||` (literals are JSON, else bare strings).
//!   Other query operators and nested queries are compile warnings (the part
//!   is skipped); gjson wildcards (`*`, `?`), `#` and modifiers (`@`, `|`) are
//!   literal key characters. With a `root` (Antigravity's `request`), paths are
//!   relative to it and one leading `.` is ignored.
//!
//! Guarantees:
//! - When no rule's models/protocol/header gate passes, `apply` returns
//!   `Ok(false)` without touching the body and without allocating.
//! - Edits are applied in one pass: the body is scanned once to write the
//!   output (untouched values copied as whole spans); the original body is
//!   scanned once for all `default` paths together; each condition and each
//!   `#(...)` query adds one lookup scan (stopping at the value it finds).
//! - `apply` never panics; an invalid body is [`PayloadError`] and the body
//!   is left as it was. On valid input the output is valid JSON.
//!
//! Known differences from CLIProxyAPI (documented, deliberate):
//! - Conditions and `#(...)` queries are evaluated against the body as it was
//!   before any rule edited it (Go sees the edits of earlier rules).
//! - Array positions refer to the body before edits (Go shifts positions after
//!   each deletion when one filter deletes several plain positions).
//! - A value set and then edited by a later rule (e.g. a filter inside an
//!   override's object) is re-serialised with sorted object keys.
//! - Duplicate keys in the body: every occurrence is edited (gjson reads the
//!   first).

mod edit;
mod path;
pub mod raw;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use edit::Node;
use path::{Op, Path, Query, Seg};
use raw::{RawPayload, RawPayloadModel};

use crate::json::cursor;
pub use edit::MAX_PAD_INDEX;
mod lookup;
pub use crate::json::MAX_DEPTH;

/// Why `apply` could not edit a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// The body is not JSON; `offset` is where scanning stopped.
    InvalidJson {
        /// Byte offset into the scanned document.
        offset: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::InvalidJson { offset } => {
                write!(f, "request body is not valid JSON (at byte {offset})")
            }
            PayloadError::TooDeep => write!(f, "request body nests deeper than {MAX_DEPTH}"),
        }
    }
}

impl std::error::Error for PayloadError {}

impl From<crate::json::JsonError> for PayloadError {
    fn from(e: crate::json::JsonError) -> Self {
        if e.too_deep {
            PayloadError::TooDeep
        } else {
            PayloadError::InvalidJson { offset: e.offset }
        }
    }
}

/// A rule part that could not be compiled; the part is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadWarning {
    /// Config key path, e.g. `payload.override[0].params["a.#(x<1)"]`.
    pub key_path: String,
    /// What was wrong.
    pub message: String,
}

/// What `apply` needs to know about one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PayloadCtx<'a> {
    /// Model sent upstream (thinking suffix already stripped).
    pub upstream_model: &'a str,
    /// Model the client asked for (alias, possibly with a `(suffix)`).
    pub requested_model: &'a str,
    /// Target format: `openai`, `gemini`, `claude`, `codex`, `antigravity`, ...
    /// (empty: protocol gates do not filter).
    pub protocol: &'a str,
    /// Source format: `openai`, `responses`, `gemini`, `claude` (empty: rules
    /// with a `from-protocol` do not apply).
    pub from_protocol: &'a str,
    /// Client request headers (name, value); names compared ignoring case.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// Path prefix every rule path is relative to (`request` for the
    /// Antigravity envelope; empty for none).
    pub root: &'a str,
}

/// `payload` rules compiled for request-time use. Immutable; share freely.
#[derive(Debug, Clone, Default)]
pub struct PayloadRules {
    /// `default` then `default-raw`.
    defaults: Vec<SetRule>,
    /// `override` then `override-raw`.
    overrides: Vec<SetRule>,
    filters: Vec<FilterRule>,
}

#[derive(Debug, Clone)]
struct SetRule {
    models: Vec<Entry>,
    /// (path, JSON text).
    params: Vec<(Path, String)>,
}

#[derive(Debug, Clone)]
struct FilterRule {
    models: Vec<Entry>,
    paths: Vec<Path>,
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    /// Empty: any.
    protocol: String,
    /// Normalised; empty: any.
    from_protocol: String,
    headers: Vec<(String, String)>,
    matches: Vec<(Path, Value)>,
    not_matches: Vec<(Path, Value)>,
    exist: Vec<Path>,
    not_exist: Vec<Path>,
    /// A condition path could not be compiled: the entry never matches.
    broken: bool,
}

impl PayloadRules {
    /// Compiles the parsed `payload` section. Parts that cannot be compiled
    /// (unsupported path syntax, non-JSON raw text, `null` raw values) are
    /// skipped and reported as warnings.
    pub fn compile(raw: &RawPayload) -> (PayloadRules, Vec<PayloadWarning>) {
        let mut w = Vec::new();
        let mut rules = PayloadRules::default();
        for (section, list, is_raw, dst) in [
            ("payload.default", &raw.default, false, 0),
            ("payload.default-raw", &raw.default_raw, true, 0),
            ("payload.override", &raw.override_, false, 1),
            ("payload.override-raw", &raw.override_raw, true, 1),
        ] {
            for (i, rule) in list.iter().enumerate() {
                let at = format!("{section}[{i}]");
                let models = compile_models(&rule.models, &at, &mut w);
                let mut params = Vec::new();
                for (key, value) in rule.params.iter() {
                    let kp = format!("{at}.params[{key:?}]");
                    let Some(p) = compile_path(key, &kp, &mut w) else {
                        continue;
                    };
                    let text = if is_raw {
                        match raw_text(value) {
                            Ok(t) => t,
                            Err(m) => {
                                w.push(warn(&kp, m));
                                continue;
                            }
                        }
                    } else {
                        value.to_string()
                    };
                    params.push((p, text));
                }
                let r = SetRule { models, params };
                if dst == 0 {
                    rules.defaults.push(r);
                } else {
                    rules.overrides.push(r);
                }
            }
        }
        for (i, rule) in raw.filter.iter().enumerate() {
            let at = format!("payload.filter[{i}]");
            let models = compile_models(&rule.models, &at, &mut w);
            let paths = rule
                .params
                .iter()
                .enumerate()
                .filter_map(|(j, p)| compile_path(p, &format!("{at}.params[{j}]"), &mut w))
                .collect();
            rules.filters.push(FilterRule { models, paths });
        }
        (rules, w)
    }

    /// Whether there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.defaults.is_empty() && self.overrides.is_empty() && self.filters.is_empty()
    }

    /// Applies every matching rule to `body` (the translated upstream body).
    ///
    /// `original` is the client's request translated to the same target
    /// format *before* any later adjustment (CLIProxyAPI's
    /// `originalTranslated`); `default` rules skip paths present there. When
    /// empty, `body` itself is used.
    ///
    /// Returns whether the bytes of `body` changed. On error `body` is
    /// unchanged.
    pub fn apply(
        &self,
        ctx: &PayloadCtx<'_>,
        original: &[u8],
        body: &mut Vec<u8>,
    ) -> Result<bool, PayloadError> {
        if self.is_empty() || body.is_empty() {
            return Ok(false);
        }
        let cands = candidates(ctx.upstream_model, ctx.requested_model);
        if cands.iter().all(Option::is_none) {
            return Ok(false);
        }
        // Cheap gate first: no allocation unless some rule passes it.
        let gate = |models: &[Entry]| models.iter().any(|e| e.gate(ctx, &cands));
        if !self.defaults.iter().any(|r| gate(&r.models))
            && !self.overrides.iter().any(|r| gate(&r.models))
            && !self.filters.iter().any(|r| gate(&r.models))
        {
            return Ok(false);
        }
        let b: &[u8] = body;
        let source = if original.is_empty() { b } else { original };
        let root: Vec<Cow<'_, str>> = match path::parse(ctx.root) {
            Ok(Some(p)) => p
                .segs
                .into_iter()
                .map(|s| match s {
                    Seg::Key(k) => Cow::Owned(k),
                    // A query in the root is not meaningful; use it literally.
                    Seg::Query(_) => Cow::Owned(ctx.root.trim().to_owned()),
                })
                .collect(),
            _ => Vec::new(),
        };
        let matches = |models: &[Entry]| -> Result<bool, PayloadError> {
            for e in models {
                if e.gate(ctx, &cands) && e.conditions(b, &root)? {
                    return Ok(true);
                }
            }
            Ok(false)
        };

        let mut tree = Node::empty();
        // Defaults: resolve every candidate, check them all against the
        // original in one scan, then fold them in order (first set wins).
        let mut pending: Vec<(Vec<Cow<'_, str>>, &str)> = Vec::new();
        for rule in &self.defaults {
            if !matches(&rule.models)? {
                continue;
            }
            for (p, text) in &rule.params {
                for rp in resolve(b, &root, p)? {
                    pending.push((rp, text.as_str()));
                }
            }
        }
        if !pending.is_empty() {
            let paths: Vec<&[Cow<'_, str>]> = pending.iter().map(|(p, _)| &p[..]).collect();
            let mut present = vec![false; paths.len()];
            // An unreadable original hides nothing (gjson finds nothing in it).
            let _ = lookup::exists_many(source, &paths, &mut present);
            let mut applied: Vec<&[Cow<'_, str>]> = Vec::new();
            for ((rp, text), present) in pending.iter().zip(present) {
                if present || applied.contains(&&rp[..]) {
                    continue;
                }
                tree.set(rp, Cow::Borrowed(text));
                applied.push(rp);
            }
        }
        for rule in &self.overrides {
            if !matches(&rule.models)? {
                continue;
            }
            for (p, text) in &rule.params {
                for rp in resolve(b, &root, p)? {
                    tree.set(&rp, Cow::Borrowed(text.as_str()));
                }
            }
        }
        for rule in &self.filters {
            if !matches(&rule.models)? {
                continue;
            }
            for p in &rule.paths {
                // Reverse order so query-resolved positions stay valid.
                for rp in resolve(b, &root, p)?.iter().rev() {
                    tree.delete(rp);
                }
            }
        }
        if tree.is_empty() {
            return Ok(false);
        }
        let mut out = Vec::with_capacity(b.len() + 256);
        edit::apply_tree(b, &tree, &mut out)?;
        if out == *body {
            return Ok(false);
        }
        *body = out;
        Ok(true)
    }
}

fn warn(key_path: &str, message: impl Into<String>) -> PayloadWarning {
    PayloadWarning {
        key_path: key_path.to_owned(),
        message: message.into(),
    }
}

fn compile_path(p: &str, key_path: &str, w: &mut Vec<PayloadWarning>) -> Option<Path> {
    match path::parse(p) {
        Ok(p) => p,
        Err(m) => {
            w.push(warn(key_path, m));
            None
        }
    }
}

/// JSON text of a `*-raw` value.
fn raw_text(v: &Value) -> Result<String, &'static str> {
    match v {
        Value::Null => Err("null raw value is ignored"),
        Value::String(s) => {
            let t = s.trim();
            if serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok() {
                Ok(t.to_owned())
            } else {
                Err("not valid JSON (values of *-raw rules are raw JSON text)")
            }
        }
        other => Ok(other.to_string()),
    }
}

fn normalize_from(p: &str) -> &str {
    let p = p.trim();
    for alias in ["openai-response", "openai-responses", "response"] {
        if p.eq_ignore_ascii_case(alias) {
            return "responses";
        }
    }
    p
}

fn compile_models(models: &[RawPayloadModel], at: &str, w: &mut Vec<PayloadWarning>) -> Vec<Entry> {
    let mut out = Vec::new();
    for (j, m) in models.iter().enumerate() {
        let name = m.name.trim();
        if name.is_empty() {
            continue;
        }
        let ep = format!("{at}.models[{j}]");
        let mut broken = false;
        let mut cond_path = |p: &str, kp: String| -> Option<Path> {
            match path::parse(p) {
                Ok(p) => p,
                Err(msg) => {
                    w.push(warn(&kp, format!("{msg}; this models entry never matches")));
                    broken = true;
                    None
                }
            }
        };
        let mut value_conds = |list: &[crate::yaml::OrderedMap<Value>], what: &str| {
            let mut v = Vec::new();
            for (k, cond) in list.iter().enumerate() {
                for (p, value) in cond.iter() {
                    if let Some(p) = cond_path(p, format!("{ep}.{what}[{k}][{p:?}]")) {
                        v.push((p, value.clone()));
                    }
                }
            }
            v
        };
        let matches = value_conds(&m.match_, "match");
        let not_matches = value_conds(&m.not_match, "not-match");
        let mut path_conds = |list: &[String], what: &str| {
            list.iter()
                .enumerate()
                .filter_map(|(k, p)| cond_path(p, format!("{ep}.{what}[{k}]")))
                .collect::<Vec<_>>()
        };
        let exist = path_conds(&m.exist, "exist");
        let not_exist = path_conds(&m.not_exist, "not-exist");
        out.push(Entry {
            name: name.to_owned(),
            protocol: m.protocol.trim().to_owned(),
            from_protocol: normalize_from(&m.from_protocol).to_ascii_lowercase(),
            headers: m
                .headers
                .iter()
                .filter(|(k, _)| !k.trim().is_empty())
                .map(|(k, v)| (k.trim().to_owned(), v.clone()))
                .collect(),
            matches,
            not_matches,
            exist,
            not_exist,
            broken,
        });
    }
    out
}

/// Model candidates: upstream model; requested model without its `(suffix)`;
/// the requested model itself when it had a suffix. Trimmed, empty skipped.
fn candidates<'a>(upstream: &'a str, requested: &'a str) -> [Option<&'a str>; 3] {
    let some = |s: &'a str| {
        let s = s.trim();
        (!s.is_empty()).then_some(s)
    };
    let requested = requested.trim();
    let (base, with_suffix) = match requested.rfind('(') {
        Some(i) if requested.ends_with(')') => (&requested[..i], some(requested)),
        _ => (requested, None),
    };
    [some(upstream), some(base), with_suffix]
}

impl Entry {
    /// Name, protocol, source protocol and header gates (no body access, no
    /// allocation).
    fn gate(&self, ctx: &PayloadCtx<'_>, cands: &[Option<&str>; 3]) -> bool {
        if self.broken {
            return false;
        }
        let proto = ctx.protocol.trim();
        if !self.protocol.is_empty()
            && !proto.is_empty()
            && !self.protocol.eq_ignore_ascii_case(proto)
        {
            return false;
        }
        if !self.from_protocol.is_empty()
            && !self
                .from_protocol
                .eq_ignore_ascii_case(normalize_from(ctx.from_protocol))
        {
            return false;
        }
        for (key, pattern) in &self.headers {
            let mut any = false;
            let mut ok = false;
            for (k, v) in ctx.headers {
                if k.trim().eq_ignore_ascii_case(key) {
                    any = true;
                    if glob(pattern.as_bytes(), v) {
                        ok = true;
                        break;
                    }
                }
            }
            if !any || !ok {
                return false;
            }
        }
        cands
            .iter()
            .flatten()
            .any(|c| glob(self.name.as_bytes(), c.as_bytes()))
    }

    /// `match`, `not-match`, `exist`, `not-exist` against the body.
    fn conditions(&self, b: &[u8], root: &[Cow<'_, str>]) -> Result<bool, PayloadError> {
        for (p, want) in &self.matches {
            if !path_equals(b, root, p, want)? {
                return Ok(false);
            }
        }
        for (p, want) in &self.not_matches {
            if path_equals(b, root, p, want)? {
                return Ok(false);
            }
        }
        for p in &self.exist {
            if !path_present(b, root, p)? {
                return Ok(false);
            }
        }
        for p in &self.not_exist {
            if path_present(b, root, p)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn path_equals(
    b: &[u8],
    root: &[Cow<'_, str>],
    p: &Path,
    want: &Value,
) -> Result<bool, PayloadError> {
    for rp in resolve(b, root, p)? {
        if let Some((s, e)) = lookup::lookup(b, 0, &rp)? {
            if value_at(b, s, e).is_some_and(|v| json_eq(&v, want)) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn path_present(b: &[u8], root: &[Cow<'_, str>], p: &Path) -> Result<bool, PayloadError> {
    for rp in resolve(b, root, p)? {
        if let Some((s, e)) = lookup::lookup(b, 0, &rp)? {
            if &b[s..e] != b"null" {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn value_at(b: &[u8], s: usize, e: usize) -> Option<Value> {
    serde_json::from_slice(&b[s..e]).ok()
}

/// JSON equality with numbers compared as `f64` (Go decodes both sides into
/// `any`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// `*`-only glob, case sensitive, both sides trimmed (CLIProxyAPI's
/// `matchModelPattern`). Allocation-free.
fn glob(pattern: &[u8], value: &[u8]) -> bool {
    let p = pattern.trim_ascii();
    let v = value.trim_ascii();
    if p.is_empty() {
        return false;
    }
    let (mut pi, mut vi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Resolves a rule path (with the root prefix) to concrete segment lists,
/// expanding queries against `b`.
fn resolve<'p>(
    b: &[u8],
    root: &[Cow<'p, str>],
    p: &'p Path,
) -> Result<Vec<Vec<Cow<'p, str>>>, PayloadError> {
    let mut paths: Vec<Vec<Cow<'p, str>>> = vec![root.to_vec()];
    // Under a root, a leading `.` in the rule path is dropped (CLIProxyAPI's
    // buildPayloadPath).
    let segs = match p.segs.split_first() {
        Some((Seg::Key(k), rest)) if k.is_empty() && !root.is_empty() => rest,
        _ => &p.segs[..],
    };
    if !p.has_query() {
        for s in segs {
            if let Seg::Key(k) = s {
                paths[0].push(Cow::Borrowed(k.as_str()));
            }
        }
        return Ok(paths);
    }
    for s in segs {
        match s {
            Seg::Key(k) => paths.iter_mut().for_each(|rp| rp.push(Cow::Borrowed(k))),
            Seg::Query(q) => {
                let mut next = Vec::new();
                for base in &paths {
                    let Some((start, _)) = lookup::lookup(b, 0, base)? else {
                        continue;
                    };
                    if b.get(start) != Some(&b'[') {
                        continue;
                    }
                    let mut e = cursor::Elements::new(b, start, 0)?;
                    let mut n = 0usize;
                    while let Some(es) = e.next()? {
                        let end = cursor::skip_value(b, es, 1)?;
                        e.value_done(end);
                        if query_matches(&b[..end], es, q)? {
                            let mut rp = base.clone();
                            rp.push(Cow::Owned(n.to_string()));
                            next.push(rp);
                            if !q.all {
                                break;
                            }
                        }
                        n += 1;
                    }
                }
                paths = next;
                if paths.is_empty() {
                    break;
                }
            }
        }
    }
    Ok(paths)
}

fn query_matches(b: &[u8], at: usize, q: &Query) -> Result<bool, PayloadError> {
    for group in &q.any_of {
        let mut all = true;
        for t in group {
            let found = lookup::lookup(b, at, &t.path)?;
            let ok = match (&t.op, found) {
                (Op::Exists, f) => f.is_some(),
                (Op::Eq(want), Some((s, e))) => {
                    value_at(b, s, e).is_some_and(|v| json_eq(&v, want))
                }
                (Op::Ne(want), Some((s, e))) => {
                    value_at(b, s, e).is_some_and(|v| !json_eq(&v, want))
                }
                (_, None) => false,
            };
            if !ok {
                all = false;
                break;
            }
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}
