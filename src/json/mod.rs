//! The one JSON module of the crate. Every reader shares [`MAX_DEPTH`] and [`JsonError`];
//! every writer escapes through [`escape`] and writes through [`mod@write`].
//!
//! Readers, by strictness (all DOM-less except [`tree`], all never panic):
//! - [`route`]: top-level members of a request object, for routing and in-place `model`
//!   rewrites; balances brackets inside values without validating them.
//! - [`cursor`]: validating member/element cursors with byte offsets (payload rules).
//! - [`span`]: tolerant lookups into provider JSON on the stream path (`Option`, no
//!   allocation); only validated spans may be copied to the output.
//! - [`tree`]: a borrowed tree with raw spans (whole-body request/response translation,
//!   token counting); accepts exactly RFC 8259.

pub mod cursor;
pub mod escape;
pub mod route;
pub mod span;
pub mod tree;
pub mod write;

pub use escape::{decode_string, escape_into};
pub use route::{for_each_member, request_fields, skip_value, RequestFields};
pub use write::{replace_span_with_string, write_string};

/// Deepest nesting (objects and arrays, the outermost one counted) that any
/// JSON reader of this crate accepts: this scanner, the request translator's
/// reader, the stream translator's lookups and the `payload` rule cursor all
/// use this one constant, so a body one of them accepts is never refused by
/// another for its depth.
///
/// 256: twice serde_json's default recursion limit (128), so any body an
/// SDK built on serde_json or Go's encoding/json produces in practice passes;
/// real conversations nest < 20 levels and JSON Schemas < 64. The request
/// translator and the payload scanner recurse once per level, and 256 small
/// frames stay far from the worker stack's limit.
pub const MAX_DEPTH: usize = 256;

/// Why a JSON reader refused its input: where, and what was wrong. The one error type
/// of the JSON readers (the tolerant [`span`] reader answers `None` instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset into the input where reading stopped.
    pub offset: usize,
    /// What was wrong, in words fit for a client error message.
    pub what: &'static str,
    /// The input nests deeper than [`MAX_DEPTH`].
    pub too_deep: bool,
}

impl JsonError {
    /// A syntax error at `offset`.
    pub const fn at(offset: usize, what: &'static str) -> Self {
        JsonError {
            offset,
            what,
            too_deep: false,
        }
    }

    /// Nesting deeper than [`MAX_DEPTH`] at `offset`.
    pub const fn nested(offset: usize, what: &'static str) -> Self {
        JsonError {
            offset,
            what,
            too_deep: true,
        }
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for JsonError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every JSON reader of the crate shares one nesting limit: `MAX_DEPTH`
    /// nested arrays (or objects) pass all of them, one more level fails all.
    #[test]
    fn all_json_readers_share_one_nesting_limit() {
        let limit = MAX_DEPTH;
        assert_eq!(crate::payload::MAX_DEPTH, limit);
        let nested = |n: usize, open: &str, close: &str, leaf: &str| {
            let mut s = open.repeat(n);
            s.push_str(leaf);
            s.push_str(&close.repeat(n));
            s
        };
        for (open, close, leaf) in [("[", "]", "1"), ("{\"a\":", "}", "1")] {
            // `{"a":` nests objects; the innermost holds the leaf.
            let ok = nested(limit, open, close, leaf);
            let deep = nested(limit + 1, open, close, leaf);
            let ok = ok.as_bytes();
            let deep = deep.as_bytes();
            assert_eq!(route::skip_value(ok, 0), Ok(ok.len()), "route {open}");
            assert!(route::skip_value(deep, 0).is_err(), "route {open}");
            assert!(tree::parse(ok).is_ok(), "tree {open}");
            assert!(tree::parse(deep).is_err(), "tree {open}");
            assert_eq!(span::skip_value(ok, 0), Some(ok.len()), "span {open}");
            assert_eq!(span::skip_value(deep, 0), None, "span {open}");
            assert_eq!(cursor::skip_value(ok, 0, 0), Ok(ok.len()), "cursor {open}");
            assert!(cursor::skip_value(deep, 0, 0).is_err(), "cursor {open}");
        }
    }
}
