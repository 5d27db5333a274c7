//! Rule paths: the subset of gjson/sjson path syntax CLIProxyAPI's payload
//! rules use.
//!
//! Supported:
//! - dotted keys `a.b.c`; `\` makes the next character literal (`a\.b` is the
//!   single key `a.b`);
//! - a segment of ASCII digits addresses an array element when the value there
//!   is an array, and an object key otherwise; `-1` appends when setting into an
//!   array (sjson);
//! - array queries `#(term)` (first matching element) and `#(term)#` (every
//!   matching element), where a term is `path==literal`, `path!=literal` or a
//!   bare `path` (the element has that path), combined with `&&` and `||`
//!   (`||` binds loosest). Literals are JSON (`"web_search"`, `3`, `true`,
//!   `null`); anything else is compared as a bare string.
//!
//! Not supported (a path using them is reported as a warning at compile time
//! and the rule parameter is skipped): other query operators (`<`, `>`, `%`,
//! ...), nested queries. gjson wildcards (`*`, `?`), `#` (array length) and
//! modifiers (`@...`, `|`) are treated as literal key characters; CLIProxyAPI's
//! documented rules do not use them.

use serde_json::Value;

/// A compiled rule path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    pub(crate) segs: Vec<Seg>,
}

/// One path segment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    /// An object key or, when all digits (or `-1`), an array position.
    Key(String),
    /// `#(...)` / `#(...)#`.
    Query(Query),
}

/// An array query: OR of AND groups of terms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    pub(crate) any_of: Vec<Vec<Term>>,
    /// `#(...)#`: every matching element, not only the first.
    pub(crate) all: bool,
}

/// One query term.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    /// Path inside the element (plain keys only).
    pub(crate) path: Vec<String>,
    pub(crate) op: Op,
}

/// Query comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// The element has the path.
    Exists,
    /// The value at the path equals the literal.
    Eq(Value),
    /// The value at the path exists and differs from the literal.
    Ne(Value),
}

impl Path {
    /// Whether any segment is a query (resolution depends on the body).
    pub(crate) fn has_query(&self) -> bool {
        self.segs.iter().any(|s| matches!(s, Seg::Query(_)))
    }
}

/// Parses a rule path. `Ok(None)` for an empty (after trimming) path.
pub(crate) fn parse(path: &str) -> Result<Option<Path>, String> {
    let path = path.trim();
    if path.is_empty() {
        return Ok(None);
    }
    let mut segs = Vec::new();
    for part in split_top(path, b'.') {
        segs.push(parse_part(part)?);
    }
    Ok(Some(Path { segs }))
}

/// Splits on `sep` outside quotes and parentheses, honouring `\` escapes
/// (which stay in the parts).
fn split_top(s: &str, sep: u8) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut depth, mut quote, mut escaped) = (0usize, 0usize, 0u8, false);
    for (i, &c) in b.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if c == b'\\' {
            escaped = true;
        } else if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || (c == b'\'' && depth > 0) {
            quote = c;
        } else if c == b'(' {
            depth += 1;
        } else if c == b')' {
            depth = depth.saturating_sub(1);
        } else if c == sep && depth == 0 {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Removes `\` escapes from a key.
fn unescape_key(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    let mut escaped = false;
    for c in part.chars() {
        if !escaped && c == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

fn parse_part(part: &str) -> Result<Seg, String> {
    let Some(rest) = part.strip_prefix("#(") else {
        return Ok(Seg::Key(unescape_key(part)));
    };
    let (inner, all) = if let Some(r) = rest.strip_suffix(")#") {
        (r, true)
    } else if let Some(r) = rest.strip_suffix(')') {
        (r, false)
    } else {
        return Ok(Seg::Key(unescape_key(part)));
    };
    let mut any_of = Vec::new();
    for or_part in split_logical(inner, "||") {
        let mut group = Vec::new();
        for term in split_logical(or_part, "&&") {
            group.push(parse_term(term)?);
        }
        any_of.push(group);
    }
    Ok(Seg::Query(Query { any_of, all }))
}

/// Splits a query on a two-character operator outside quotes.
fn split_logical<'a>(q: &'a str, op: &str) -> Vec<&'a str> {
    let b = q.as_bytes();
    let ob = op.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut quote, mut escaped, mut i) = (0usize, 0u8, false, 0usize);
    while i < b.len() {
        let c = b[i];
        if escaped {
            escaped = false;
        } else if c == b'\\' {
            escaped = true;
        } else if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
        } else if b[i..].starts_with(ob) {
            parts.push(q[start..i].trim());
            i += ob.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(q[start..].trim());
    parts
}

fn parse_term(term: &str) -> Result<Term, String> {
    let term = term.trim();
    if term.is_empty() {
        return Err("empty query term".into());
    }
    // Find the first operator character outside quotes.
    let b = term.as_bytes();
    let (mut quote, mut escaped) = (0u8, false);
    for i in 0..b.len() {
        let c = b[i];
        if escaped {
            escaped = false;
            continue;
        }
        if c == b'\\' {
            escaped = true;
            continue;
        }
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
            continue;
        }
        if c == b'"' {
            quote = c;
            continue;
        }
        if matches!(c, b'=' | b'!' | b'<' | b'>' | b'%') {
            let key = &term[..i];
            let rest = &term[i..];
            let (op_len, ne) = if rest.starts_with("==") {
                (2, false)
            } else if rest.starts_with("!=") {
                (2, true)
            } else {
                return Err(format!(
                    "unsupported query operator in `{term}` (only == and !=)"
                ));
            };
            let lit = literal(rest[op_len..].trim());
            let path = key_path(key)?;
            let op = if ne { Op::Ne(lit) } else { Op::Eq(lit) };
            return Ok(Term { path, op });
        }
        if c == b'(' || c == b'#' {
            return Err(format!("unsupported nested query in `{term}`"));
        }
    }
    Ok(Term {
        path: key_path(term)?,
        op: Op::Exists,
    })
}

fn key_path(key: &str) -> Result<Vec<String>, String> {
    let key = key.trim();
    if key.is_empty() {
        return Err("query term without a key".into());
    }
    Ok(split_top(key, b'.').into_iter().map(unescape_key).collect())
}

/// A query literal: JSON when it parses, else the bare text as a string.
fn literal(text: &str) -> Value {
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Value::String(inner.to_owned());
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Whether a segment is an array position (all ASCII digits).
pub(crate) fn index_of(seg: &str) -> Option<usize> {
    if seg.is_empty() || !seg.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    seg.parse().ok()
}
