//! Model exclusion patterns (`excluded-models`, `oauth-excluded-models`).
//!
//! Rules (CLIProxyAPI's): patterns and model names are trimmed and compared
//! case-insensitively; an empty pattern matches nothing; a pattern without `*`
//! must equal the model; otherwise `*` matches any run of characters (so `p*`,
//! `*s`, `*sub*` and `a*b*c` all work), the text before the first `*` must be a
//! prefix, the text after the last `*` a suffix, and the middle pieces must
//! appear in order without overlapping the prefix or suffix.

use std::borrow::Cow;

/// Whether `model` matches any of `patterns`.
pub fn excluded(patterns: &[String], model: &str) -> bool {
    if patterns.is_empty() {
        return false;
    }
    let model = lower(model.trim());
    patterns.iter().any(|p| matches(&lower(p.trim()), &model))
}

/// Lower-cases without allocating when the text has no upper-case letter.
fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// One pattern against one (already lower-cased) model. Allocation-free.
fn matches(pattern: &str, value: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let (Some(first), Some(last)) = (pattern.find('*'), pattern.rfind('*')) else {
        return pattern == value;
    };
    let mut rest = match value.strip_prefix(&pattern[..first]) {
        Some(r) => r,
        None => return false,
    };
    rest = match rest.strip_suffix(&pattern[last + 1..]) {
        Some(r) => r,
        None => return false,
    };
    if first < last {
        for mid in pattern[first + 1..last].split('*') {
            if mid.is_empty() {
                continue;
            }
            match rest.find(mid) {
                Some(i) => rest = &rest[i + mid.len()..],
                None => return false,
            }
        }
    }
    true
}
