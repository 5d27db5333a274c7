//! The validating cursor (payload rules): walks objects and arrays member by member and
//! finds where values start and end without building them.
//!
//! Guarantees: never panics and never reads out of bounds, whatever the input;
//! structure (brackets, commas, colons, literals, number grammar, string
//! termination) is validated; string contents (escape sequences, raw control
//! characters, UTF-8) are not checked: they are copied through unchanged. Nesting deeper than
//! [`MAX_DEPTH`] is an error, so recursion is bounded.

use super::{JsonError, MAX_DEPTH};

type R<T> = Result<T, JsonError>;

fn bad(at: usize) -> JsonError {
    JsonError::at(at, "invalid JSON")
}

/// First non-whitespace position at or after `i`.
#[inline]
pub(crate) fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the value starting exactly at `i`.
pub(crate) fn skip_value(b: &[u8], i: usize, depth: usize) -> R<usize> {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{') => {
            let mut m = Members::new(b, i, depth)?;
            while let Some(mem) = m.next()? {
                let end = skip_value(b, mem.val_start, depth + 1)?;
                m.value_done(end);
            }
            m.finish()
        }
        Some(b'[') => {
            let mut e = Elements::new(b, i, depth)?;
            while let Some(start) = e.next()? {
                let end = skip_value(b, start, depth + 1)?;
                e.value_done(end);
            }
            e.finish()
        }
        Some(b't') => literal(b, i, b"true"),
        Some(b'f') => literal(b, i, b"false"),
        Some(b'n') => literal(b, i, b"null"),
        Some(b'-' | b'0'..=b'9') => skip_number(b, i),
        _ => Err(bad(i)),
    }
}

fn literal(b: &[u8], i: usize, lit: &[u8]) -> R<usize> {
    if b.get(i..i + lit.len()) == Some(lit) {
        Ok(i + lit.len())
    } else {
        Err(bad(i))
    }
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn skip_number(b: &[u8], mut i: usize) -> R<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i),
        _ => return Err(bad(i)),
    }
    if b.get(i) == Some(&b'.') {
        let j = digits(b, i + 1);
        if j == i + 1 {
            return Err(bad(i));
        }
        i = j;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let j = digits(b, i);
        if j == i {
            return Err(bad(i));
        }
        i = j;
    }
    Ok(i)
}

/// End (exclusive, after the closing quote) of the string starting at `i`.
///
/// Jumps from quote to quote with `memchr` and counts the backslashes before
/// each: an odd count means the quote is escaped. Escape sequences are not
/// otherwise validated (they are copied through unchanged), which keeps the
/// scan at memchr speed on escape-heavy text such as code.
pub(crate) fn skip_string(b: &[u8], i: usize) -> R<usize> {
    let mut j = i + 1;
    loop {
        let Some(off) = memchr::memchr(b'"', b.get(j..).unwrap_or(&[])) else {
            return Err(bad(i));
        };
        let q = j + off;
        let backslashes = b[j..q].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes.is_multiple_of(2) {
            return Ok(q + 1);
        }
        j = q + 1;
    }
}

/// One object member: `key_start..key_end` is the quoted key, the value
/// starts at `val_start`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    pub(crate) key_start: usize,
    pub(crate) key_end: usize,
    pub(crate) val_start: usize,
}

/// The walk shared by [`Members`] and [`Elements`]: the separators between
/// the items of one object or array, up to its closing byte.
struct Seq<'a> {
    b: &'a [u8],
    pos: usize,
    depth: usize,
    close: u8,
    first: bool,
    done: bool,
}

impl<'a> Seq<'a> {
    /// `i` is the position of `open`; `close` its closing byte.
    fn new(b: &'a [u8], i: usize, depth: usize, open: u8, close: u8) -> R<Self> {
        if depth >= MAX_DEPTH {
            return Err(JsonError::nested(i, "nesting too deep"));
        }
        if b.get(i) != Some(&open) {
            return Err(bad(i));
        }
        Ok(Seq {
            b,
            pos: i + 1,
            depth,
            close,
            first: true,
            done: false,
        })
    }

    /// Start of the next item (whitespace skipped), or `None` after the
    /// closing byte.
    fn next(&mut self) -> R<Option<usize>> {
        if self.done {
            return Ok(None);
        }
        let b = self.b;
        let mut i = ws(b, self.pos);
        match b.get(i) {
            Some(&c) if c == self.close => {
                self.pos = i + 1;
                self.done = true;
                return Ok(None);
            }
            Some(b',') if !self.first => i = ws(b, i + 1),
            _ if self.first => {}
            _ => return Err(bad(i)),
        }
        self.first = false;
        self.pos = i;
        Ok(Some(i))
    }

    /// Position after the closing byte; reads the remaining items if needed.
    fn finish(mut self, mut item: impl FnMut(&mut Self) -> R<Option<usize>>) -> R<usize> {
        while let Some(v) = item(&mut self)? {
            self.pos = skip_value(self.b, v, self.depth + 1)?;
        }
        Ok(self.pos)
    }
}

/// Walks an object's members. After each [`Members::next`] the caller must
/// consume the value and report its end with [`Members::value_done`].
pub(crate) struct Members<'a>(Seq<'a>);

impl<'a> Members<'a> {
    /// `i` is the position of `{`.
    pub(crate) fn new(b: &'a [u8], i: usize, depth: usize) -> R<Self> {
        Seq::new(b, i, depth, b'{', b'}').map(Members)
    }

    pub(crate) fn next(&mut self) -> R<Option<Member>> {
        Self::member(&mut self.0)
    }

    fn member(seq: &mut Seq<'_>) -> R<Option<Member>> {
        let Some(i) = seq.next()? else {
            return Ok(None);
        };
        let b = seq.b;
        if b.get(i) != Some(&b'"') {
            return Err(bad(i));
        }
        let key_end = skip_string(b, i)?;
        let colon = ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            return Err(bad(colon));
        }
        let val_start = ws(b, colon + 1);
        seq.pos = val_start;
        Ok(Some(Member {
            key_start: i,
            key_end,
            val_start,
        }))
    }

    pub(crate) fn value_done(&mut self, end: usize) {
        self.0.pos = end;
    }

    /// Position after the closing `}`; reads remaining members if needed.
    pub(crate) fn finish(self) -> R<usize> {
        self.0
            .finish(|seq| Ok(Self::member(seq)?.map(|m| m.val_start)))
    }
}

/// Walks an array's elements; same protocol as [`Members`].
pub(crate) struct Elements<'a>(Seq<'a>);

impl<'a> Elements<'a> {
    /// `i` is the position of `[`.
    pub(crate) fn new(b: &'a [u8], i: usize, depth: usize) -> R<Self> {
        Seq::new(b, i, depth, b'[', b']').map(Elements)
    }

    /// Start of the next element, or `None` after `]`.
    pub(crate) fn next(&mut self) -> R<Option<usize>> {
        self.0.next()
    }

    pub(crate) fn value_done(&mut self, end: usize) {
        self.0.pos = end;
    }

    /// Position after the closing `]`; reads remaining elements if needed.
    pub(crate) fn finish(self) -> R<usize> {
        self.0.finish(Seq::next)
    }
}

/// Whether the quoted key `raw` (including quotes) equals `key`.
pub(crate) fn key_eq(raw: &[u8], key: &str) -> bool {
    let inner = &raw[1..raw.len() - 1];
    if memchr::memchr(b'\\', inner).is_none() {
        return inner == key.as_bytes();
    }
    let Some(c) = super::span::str_content(raw) else {
        return false;
    };
    let mut v = Vec::with_capacity(c.len());
    super::escape::unescape_exact(&mut v, c) && v == key.as_bytes()
}
