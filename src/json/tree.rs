//! A small borrowed JSON tree (the request translator's reader).
//!
//! Guarantees:
//! - [`parse`] accepts exactly RFC 8259 JSON (UTF-8, no trailing garbage besides
//!   whitespace) and never panics; depth is bounded by [`MAX_DEPTH`].
//! - Every node keeps its raw byte span, so sub-trees (schemas, tool arguments,
//!   thinking signatures) can be copied to the output byte for byte.
//! - Strings are kept escaped as they appeared in the input; because the parser
//!   validated them, the raw escaped text is valid JSON string content and can be
//!   copied verbatim into output strings ([`crate::json::write::Writer::jstr`]).
//! - Object member order is preserved.

use super::escape::{special_mask, unescape};
use std::borrow::Cow;

use super::{JsonError, MAX_DEPTH};

/// A JSON string as written in the input, without the quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JStr<'a> {
    /// Escaped content between the quotes (valid JSON string content).
    pub raw: &'a str,
    /// Whether `raw` contains a backslash escape.
    pub escaped: bool,
}

impl<'a> JStr<'a> {
    /// The decoded string.
    pub fn get(&self) -> Cow<'a, str> {
        if !self.escaped {
            return Cow::Borrowed(self.raw);
        }
        Cow::Owned(unescape(self.raw))
    }
    /// Compare the decoded value with `s`.
    pub fn is(&self, s: &str) -> bool {
        if !self.escaped {
            return self.raw == s;
        }
        unescape(self.raw) == s
    }
}

/// A parsed JSON value.
#[derive(Clone, Debug)]
pub enum Kind<'a> {
    Null,
    Bool(bool),
    /// A number, as written.
    Num(&'a str),
    Str(JStr<'a>),
    Arr(Vec<Node<'a>>),
    Obj(Vec<(JStr<'a>, Node<'a>)>),
}

/// A parsed JSON value with its raw span in the input.
#[derive(Clone, Debug)]
pub struct Node<'a> {
    /// The value's exact bytes in the input.
    pub raw: &'a str,
    pub kind: Kind<'a>,
}

static NULL_NODE: Node<'static> = Node {
    raw: "null",
    kind: Kind::Null,
};

impl<'a> Node<'a> {
    /// Member `key` of an object, if this is an object and has it (first match).
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        match &self.kind {
            Kind::Obj(m) => m.iter().find(|(k, _)| k.is(key)).map(|(_, v)| v),
            _ => None,
        }
    }
    /// A `null` node (what [`Node::at`] gives for a missing member).
    pub fn null() -> &'static Node<'static> {
        &NULL_NODE
    }
    /// Like [`Node::get`] but returns a `null` node when missing.
    pub fn at(&self, key: &str) -> &Node<'a> {
        self.get(key).unwrap_or(&NULL_NODE)
    }
    /// Follow a dotted path of object keys.
    pub fn path(&self, p: &str) -> Option<&Node<'a>> {
        let mut cur = self;
        for k in p.split('.') {
            cur = cur.get(k)?;
        }
        Some(cur)
    }
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }
    pub fn jstr(&self) -> Option<JStr<'a>> {
        match self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Decoded string value, if a string.
    pub fn str(&self) -> Option<Cow<'a, str>> {
        self.jstr().map(|s| s.get())
    }
    /// Decoded string value, or "" when not a string.
    pub fn s(&self) -> Cow<'a, str> {
        self.str().unwrap_or(Cow::Borrowed(""))
    }
    pub fn arr(&self) -> &[Node<'a>] {
        match &self.kind {
            Kind::Arr(a) => a,
            _ => &[],
        }
    }
    pub fn is_arr(&self) -> bool {
        matches!(self.kind, Kind::Arr(_))
    }
    pub fn obj(&self) -> &[(JStr<'a>, Node<'a>)] {
        match &self.kind {
            Kind::Obj(o) => o,
            _ => &[],
        }
    }
    pub fn is_obj(&self) -> bool {
        matches!(self.kind, Kind::Obj(_))
    }
    pub fn num(&self) -> Option<&'a str> {
        match self.kind {
            Kind::Num(n) => Some(n),
            _ => None,
        }
    }
    pub fn f64(&self) -> Option<f64> {
        self.num().and_then(|n| n.parse().ok())
    }
    pub fn i64(&self) -> Option<i64> {
        let n = self.num()?;
        n.parse::<i64>().ok().or_else(|| {
            n.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                .map(|f| f as i64)
        })
    }
    pub fn bool(&self) -> Option<bool> {
        match self.kind {
            Kind::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// Parse a whole JSON document.
pub fn parse(input: &[u8]) -> Result<Node<'_>, JsonError> {
    let s =
        std::str::from_utf8(input).map_err(|e| JsonError::at(e.valid_up_to(), "invalid UTF-8"))?;
    parse_str(s)
}

/// Parse a whole JSON document from a `&str`.
pub fn parse_str(s: &str) -> Result<Node<'_>, JsonError> {
    let mut p = Parser {
        s,
        b: s.as_bytes(),
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

/// A validating pull reader over one JSON document: the grammar, checks
/// and depth bound of [`parse`] (the same parser underneath), without
/// building a tree. A reader that read a whole document with these calls
/// and then [`Pull::end`] accepted exactly what [`parse`] accepts for it.
#[derive(Clone)]
pub struct Pull<'a> {
    p: Parser<'a>,
}

impl<'a> Pull<'a> {
    /// A reader at the start of `s`.
    pub fn new(s: &'a str) -> Self {
        let mut p = Parser {
            s,
            b: s.as_bytes(),
            i: 0,
        };
        p.ws();
        Pull { p }
    }
    /// The byte at the cursor (whitespace skipped), not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.p.ws();
        self.p.b.get(self.p.i).copied()
    }
    /// Consumes the `{` or `[` (`open`) at the cursor; false (nothing
    /// consumed) when something else is there.
    pub fn open(&mut self, open: u8) -> bool {
        if self.peek() == Some(open) && matches!(open, b'{' | b'[') {
            self.p.i += 1;
            true
        } else {
            false
        }
    }
    /// Inside an object (after [`Pull::open`]): the next member's key, the
    /// cursor then on its value (read it before asking for the next key);
    /// `None` after the closing brace. `first`: starts true.
    #[inline(always)]
    pub fn key(&mut self, first: &mut bool) -> Result<Option<JStr<'a>>, JsonError> {
        self.p.next_key(first)
    }
    /// Inside an array: whether an element follows (the cursor then on it);
    /// false after the closing bracket. `first`: starts true.
    pub fn item(&mut self, first: &mut bool) -> Result<bool, JsonError> {
        self.p.next_item(first)
    }
    /// The string at the cursor (validated as [`parse`] does); `None`,
    /// nothing consumed, when the value there is not a string.
    #[inline(always)]
    pub fn string(&mut self) -> Result<Option<JStr<'a>>, JsonError> {
        if self.peek() != Some(b'"') {
            return Ok(None);
        }
        let start = self.p.i + 1;
        match self.p.short_close(start) {
            Some(e) => Ok(Some(self.p.take_short(e))),
            None => match self.p.short_close_near_end(start) {
                Some(e) => Ok(Some(self.p.take_short(e))),
                None => self.p.string().map(Some),
            },
        }
    }
    /// The value at the cursor as a tree; `depth`: containers around it
    /// (0 for the document itself), as [`parse`] counts them.
    pub fn value(&mut self, depth: usize) -> Result<Node<'a>, JsonError> {
        self.p.ws();
        self.p.value(depth)
    }
    /// Validates and passes the value at the cursor (see [`Pull::value`]).
    pub fn skip(&mut self, depth: usize) -> Result<(), JsonError> {
        self.p.ws();
        self.p.skip(depth)
    }
    /// Whether only whitespace is left.
    pub fn end(&mut self) -> bool {
        self.p.ws();
        self.p.i == self.p.b.len()
    }
}

#[derive(Clone)]
struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &'static str) -> JsonError {
        JsonError::at(self.i, what)
    }
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }
    fn slice(&self, start: usize, end: usize) -> &'a str {
        // Indices always fall on ASCII delimiters, hence on char boundaries.
        self.s.get(start..end).unwrap_or("")
    }
    fn value(&mut self, depth: usize) -> Result<Node<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::nested(self.i, "nesting too deep"));
        }
        let start = self.i;
        let c = *self
            .b
            .get(self.i)
            .ok_or_else(|| self.err("unexpected end"))?;
        let kind = match c {
            b'{' => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        if self.b.get(self.i) != Some(&b'"') {
                            return Err(self.err("expected object key"));
                        }
                        let k = self.string()?;
                        self.ws();
                        if self.b.get(self.i) != Some(&b':') {
                            return Err(self.err("expected ':'"));
                        }
                        self.i += 1;
                        self.ws();
                        let v = self.value(depth + 1)?;
                        members.push((k, v));
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err("expected ',' or '}'")),
                        }
                    }
                }
                Kind::Obj(members)
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err("expected ',' or ']'")),
                        }
                    }
                }
                Kind::Arr(items)
            }
            b'"' => Kind::Str(self.string()?),
            b't' => {
                self.word(b"true")?;
                Kind::Bool(true)
            }
            b'f' => {
                self.word(b"false")?;
                Kind::Bool(false)
            }
            b'n' => {
                self.word(b"null")?;
                Kind::Null
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                Kind::Num(self.slice(start, self.i))
            }
            _ => return Err(self.err("unexpected character")),
        };
        Ok(Node {
            raw: self.slice(start, self.i),
            kind,
        })
    }
    /// Validates the value at the cursor as [`Parser::value`] does (same
    /// grammar, same depth bound) without building it.
    fn skip(&mut self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::nested(self.i, "nesting too deep"));
        }
        let c = *self
            .b
            .get(self.i)
            .ok_or_else(|| self.err("unexpected end"))?;
        match c {
            b'{' => {
                self.i += 1;
                let mut first = true;
                while self.next_key(&mut first)?.is_some() {
                    self.skip(depth + 1)?;
                }
            }
            b'[' => {
                self.i += 1;
                let mut first = true;
                while self.next_item(&mut first)? {
                    self.skip(depth + 1)?;
                }
            }
            b'"' => {
                self.string()?;
            }
            b't' => self.word(b"true")?,
            b'f' => self.word(b"false")?,
            b'n' => self.word(b"null")?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return Err(self.err("unexpected character")),
        }
        Ok(())
    }
    /// Inside an object (after its `{`): the next member's key, with the
    /// `:` after it consumed and the cursor on its value; `None` after the
    /// closing `}`. `first`: no member read yet. The grammar of
    /// [`Parser::value`]'s object arm. Always inlined: a call (and its
    /// result through memory) cost about as much as a short key.
    #[inline(always)]
    fn next_key(&mut self, first: &mut bool) -> Result<Option<JStr<'a>>, JsonError> {
        self.ws();
        let c = self.b.get(self.i).copied();
        if std::mem::replace(first, false) {
            if c == Some(b'}') {
                self.i += 1;
                return Ok(None);
            }
        } else {
            match c {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.i += 1;
                    return Ok(None);
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
        if self.b.get(self.i) != Some(&b'"') {
            return Err(self.err("expected object key"));
        }
        let k = match self.short_close(self.i + 1) {
            Some(e) => self.take_short(e),
            None => self.string()?,
        };
        self.ws();
        if self.b.get(self.i) != Some(&b':') {
            return Err(self.err("expected ':'"));
        }
        self.i += 1;
        self.ws();
        Ok(Some(k))
    }
    /// Inside an array (after its `[`): whether an element follows (the
    /// cursor is then on it); false after the closing `]`.
    fn next_item(&mut self, first: &mut bool) -> Result<bool, JsonError> {
        self.ws();
        let c = self.b.get(self.i).copied();
        if std::mem::replace(first, false) {
            if c == Some(b']') {
                self.i += 1;
                return Ok(false);
            }
            return Ok(true);
        }
        match c {
            Some(b',') => {
                self.i += 1;
                self.ws();
                Ok(true)
            }
            Some(b']') => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(self.err("expected ',' or ']'")),
        }
    }
    /// Consumes the literal `word` (`true`, `false`, `null`) at the cursor.
    /// Inlined: with the word's length known, the compare is one load.
    #[inline]
    fn word(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }
    fn digits(&mut self) -> usize {
        let s = self.i;
        while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - s
    }
    fn number(&mut self) -> Result<(), JsonError> {
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        Ok(())
    }
    /// The end of the string whose content starts at `start` (after its
    /// opening quote) when the first special byte of the word there is its
    /// closing quote (or, with none in the word, the byte after it): a
    /// short plain string (most keys and many values), found without
    /// calling [`Parser::string`] (whose first step this is).
    #[inline(always)]
    fn short_close(&self, start: usize) -> Option<usize> {
        let w = self.b.get(start..start + 8)?;
        let e = start + (special_mask(w).trailing_zeros() / 8) as usize;
        (self.b.get(e) == Some(&b'"')).then_some(e)
    }
    /// [`Parser::short_close`] for content that starts fewer than 8 bytes
    /// before the end of the input (the word padded with spaces, which
    /// are not special); `None` otherwise. Out of line: only values near
    /// the end (a body's last string) get here.
    #[inline(never)]
    fn short_close_near_end(&self, start: usize) -> Option<usize> {
        let rest = self.b.get(start..).filter(|r| r.len() < 8)?;
        let mut w = [b' '; 8];
        w[..rest.len()].copy_from_slice(rest);
        let e = start + (special_mask(&w).trailing_zeros() / 8) as usize;
        (self.b.get(e) == Some(&b'"')).then_some(e)
    }
    /// The short plain string closed at `e` (see [`Parser::short_close`]).
    #[inline(always)]
    fn take_short(&mut self, e: usize) -> JStr<'a> {
        let start = self.i + 1;
        self.i = e + 1;
        JStr {
            raw: self.slice(start, e),
            escaped: false,
        }
    }
    /// Parse a string starting at the opening quote.
    fn string(&mut self) -> Result<JStr<'a>, JsonError> {
        let b = self.b;
        let start = self.i + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            // Skip clean 8-byte words and land on the first special byte
            // of the word that has one; near the end, one byte at a time.
            while i + 8 <= b.len() {
                let m = special_mask(&b[i..i + 8]);
                if m != 0 {
                    i += (m.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            let Some(&c) = b.get(i) else {
                self.i = b.len();
                return Err(self.err("unterminated string"));
            };
            match c {
                b'"' => {
                    self.i = i + 1;
                    return Ok(JStr {
                        raw: self.slice(start, i),
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let ok = b
                                .get(i + 2..i + 6)
                                .is_some_and(|h| h.iter().all(|c| c.is_ascii_hexdigit()));
                            if !ok {
                                self.i = i;
                                return Err(self.err("bad \\u escape"));
                            }
                            i += 6;
                        }
                        _ => {
                            self.i = i;
                            return Err(self.err("bad escape"));
                        }
                    }
                }
                0..=0x1f => {
                    self.i = i;
                    return Err(self.err("control character in string"));
                }
                _ => i += 1,
            }
        }
    }
}

/// Index of the first `"`, `\\` or control byte in `b` (reference for tests).
#[cfg(test)]
fn find_special(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= b.len() && !super::escape::word_has_special(&b[i..i + 8]) {
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| p + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs of `fill` of every length to 20, plain and with each of `ins`
    /// inserted at each place.
    fn variants(fill: &str, ins: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for len in 0..=20 {
            let plain = fill.repeat(len);
            out.push(plain.clone());
            for at in 0..=len {
                for i in ins {
                    out.push(format!("{}{i}{}", &plain[..at], &plain[at..]));
                }
            }
        }
        out
    }

    /// The pull reader's keys (short-key step or the full string reader)
    /// are the tree's: keys of every length to 20 with an escape, a bare
    /// quote or a control byte at each place, the object cut after it.
    #[test]
    fn pull_keys_are_the_trees() {
        let keys = variants("k", &["\\\"", "\\n", "\\u00e9", "\"", "\u{1}", "é"]);
        for k in &keys {
            for tail in [":1}", ":1", "", " : 2 , \"b\":3}"] {
                let doc = format!("{{\"{k}\"{tail}");
                let tree = parse(doc.as_bytes());
                let mut p = Pull::new(&doc);
                assert!(p.open(b'{'));
                let mut first = true;
                let pulled = p.key(&mut first);
                match (&tree, &pulled) {
                    (Ok(t), Ok(Some(pk))) => {
                        let tk = &t.obj()[0].0;
                        assert_eq!((tk.raw, tk.escaped), (pk.raw, pk.escaped), "{doc:?}");
                    }
                    // A key the tree rejects may still read as a key
                    // (the error is later); one it accepts always does.
                    (Err(_), _) => {}
                    _ => panic!("{doc:?}: tree {tree:?}, pull {pulled:?}"),
                }
                if let Ok(Some(pk)) = &pulled {
                    // The key read is what the full string reader reads.
                    let mut q = Parser {
                        s: &doc,
                        b: doc.as_bytes(),
                        i: 1,
                    };
                    let full = q.string().expect("a key the pull reader read");
                    assert_eq!((full.raw, full.escaped), (pk.raw, pk.escaped), "{doc:?}");
                }
            }
        }
    }
    /// The pull reader's string values (short-string step or the full
    /// reader) are the tree's and the full reader's, with the cursor after
    /// the same byte: values of every length to 20 with an escape, a bare
    /// quote, a control or a non-ASCII byte at each place, the document
    /// cut or continued after them.
    #[test]
    fn pull_strings_are_the_trees() {
        let vals = variants("v", &["\\\"", "\\n", "\\u00e9", "\"", "\u{1}", "é", "\\"]);
        for v in &vals {
            for tail in ["}", "", " }", ",\"b\":3}"] {
                let doc = format!("{{\"a\":\"{v}\"{tail}");
                let mut p = Pull::new(&doc);
                assert!(p.open(b'{'));
                let mut first = true;
                assert!(matches!(p.key(&mut first), Ok(Some(_))), "{doc:?}");
                let at = p.p.i;
                let pulled = p.string();
                let mut q = Parser {
                    s: &doc,
                    b: doc.as_bytes(),
                    i: at,
                };
                let full = q.string();
                match (&full, &pulled) {
                    (Ok(f), Ok(Some(ps))) => {
                        assert_eq!((f.raw, f.escaped), (ps.raw, ps.escaped), "{doc:?}");
                        assert_eq!(q.i, p.p.i, "{doc:?}");
                    }
                    (Err(_), Err(_)) => {}
                    _ => panic!("{doc:?}: full {full:?}, pull {pulled:?}"),
                }
                if let Ok(t) = parse(doc.as_bytes()) {
                    let tv = t.at("a").jstr().expect("a string");
                    let Ok(Some(ps)) = pulled else {
                        panic!("{doc:?}: the tree read it, the pull reader did not");
                    };
                    assert_eq!((tv.raw, tv.escaped), (ps.raw, ps.escaped), "{doc:?}");
                }
            }
        }
    }

    /// Literals, whole, cut and misspelt, read as values and skipped: the
    /// two readers accept the same documents.
    #[test]
    fn literals_value_and_skip_agree() {
        for word in ["true", "false", "null"] {
            for cut in 1..=word.len() {
                for tail in ["", "]", "x]", " ]", "e]"] {
                    let doc = format!("[{}{tail}", &word[..cut]);
                    let tree = parse(doc.as_bytes());
                    let mut p = Pull::new(&doc);
                    assert!(p.open(b'['));
                    let mut first = true;
                    let skipped = p.item(&mut first).is_ok_and(|more| {
                        more && p.skip(1).is_ok() && p.item(&mut first) == Ok(false) && p.end()
                    });
                    assert_eq!(tree.is_ok(), skipped, "{doc:?}");
                    if let Ok(t) = tree {
                        assert_eq!(t.arr()[0].raw, word, "{doc:?}");
                    }
                }
            }
        }
    }
    use crate::json::write::Writer;

    #[test]
    fn parses_and_keeps_spans() {
        let src = br#" {"a": [1, -2.5e3, "x\"y", true, null], "b": {"c": "\u00e9\ud83d\ude00"}} "#;
        let v = parse(src).unwrap();
        assert_eq!(v.at("a").arr().len(), 5);
        assert_eq!(v.at("a").arr()[1].raw, "-2.5e3");
        assert_eq!(v.at("a").arr()[2].s(), "x\"y");
        assert_eq!(v.path("b.c").unwrap().s(), "é😀");
        assert_eq!(v.at("b").raw, r#"{"c": "\u00e9\ud83d\ude00"}"#);
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            &b"{"[..],
            b"[1,]",
            b"{\"a\" 1}",
            b"01",
            b"1.",
            b"\"\x01\"",
            b"\"\\x\"",
            b"nul",
            b"[] x",
            b"\"\xff\"",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "[".repeat(MAX_DEPTH + 5);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn escape_roundtrip_matches_serde() {
        let s = "a\"b\\c\nd\u{1}e\u{1f}é😀";
        let mut out = Vec::new();
        Writer::new(&mut out).str(s);
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, s);
        let v = parse(&out).unwrap();
        assert_eq!(v.s(), s);
    }

    #[test]
    fn find_special_matches_naive() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for len in 0..80 {
            for _ in 0..50 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        [b'a', b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xff, b'z'][(x % 9) as usize]
                    })
                    .collect();
                let naive = v.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
                assert_eq!(find_special(&v), naive, "{v:?}");
            }
        }
    }

    #[test]
    fn writer_commas() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.obj()
            .key("a")
            .arr()
            .int(1)
            .int(2)
            .obj()
            .end_obj()
            .end_arr();
        w.key("b").str("x").end_obj();
        assert_eq!(out, br#"{"a":[1,2,{}],"b":"x"}"#);
    }
}
