//! Request-side clean-ups on the Amp provider routes (v6.9-behaviours #12):
//! in assistant messages, `thinking` blocks whose `signature` is missing,
//! not a string or blank are dropped, and the `signature` the response
//! rewriter injected into `tool_use` blocks is taken out again (Claude
//! refuses both). Plus the `Anthropic-Beta` features a local upstream must
//! not see.

use crate::json::span;
use std::borrow::Cow;

/// Beta features filtered out of `Anthropic-Beta` for local handling.
const LOCAL_UNSUPPORTED_BETAS: [&str; 1] = ["context-1m-2025-08-07"];

/// Whether a thinking block's signature is usable: a string with
/// non-blank content.
fn valid_signature(block: &[u8]) -> bool {
    let Some(sig) = span::get(block, b"signature") else {
        return false;
    };
    match crate::json::escape::decode_string(sig) {
        Some(s) => !s.trim().is_empty(),
        None => false,
    }
}

/// Copies object `obj` into `out` without its `signature` member.
fn without_signature(obj: &[u8], out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    let ok = span::visit_object(obj, 0, |key, vs| {
        let Some(end) = span::skip_value(obj, vs) else {
            return span::Step::Stop;
        };
        if key != b"signature" {
            if !first {
                out.push(b',');
            }
            first = false;
            // The member from its key's opening quote to its value's end.
            let ks = key.as_ptr() as usize - obj.as_ptr() as usize - 1;
            out.extend_from_slice(&obj[ks..end]);
        }
        span::Step::End(end)
    });
    if ok.is_none() {
        return;
    }
    out.push(b'}');
}

/// The body with invalid thinking blocks dropped and `tool_use`
/// signatures removed from assistant messages; borrowed when nothing
/// changes (or the body is not a JSON object with `messages`).
pub fn sanitize_request(body: &[u8]) -> Cow<'_, [u8]> {
    let Some(messages) = span::get(body, b"messages") else {
        return Cow::Borrowed(body);
    };
    // (content span start, end, replacement) per changed message.
    let mut edits: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    for msg in span::array(messages) {
        if span::get_str(msg, b"role") != Some(b"assistant") {
            continue;
        }
        let Some(content) = span::get(msg, b"content") else {
            continue;
        };
        let changes = span::array(content).any(|b| match span::get_str(b, b"type") {
            Some(b"thinking") => !valid_signature(b),
            Some(b"tool_use") => span::get(b, b"signature").is_some(),
            _ => false,
        });
        if !changes {
            continue;
        }
        let mut out = Vec::with_capacity(content.len());
        out.push(b'[');
        let mut first = true;
        for b in span::array(content) {
            let t = span::get_str(b, b"type");
            if t == Some(b"thinking") && !valid_signature(b) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            if t == Some(b"tool_use") && span::get(b, b"signature").is_some() {
                let mark = out.len();
                without_signature(b, &mut out);
                if out.last() != Some(&b'}') {
                    out.truncate(mark);
                    out.extend_from_slice(b);
                }
            } else {
                out.extend_from_slice(b);
            }
        }
        out.push(b']');
        let start = content.as_ptr() as usize - body.as_ptr() as usize;
        edits.push((start, start + content.len(), out));
    }
    if edits.is_empty() {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut pos = 0;
    for (s, e, r) in &edits {
        out.extend_from_slice(&body[pos..*s]);
        out.extend_from_slice(r);
        pos = *e;
    }
    out.extend_from_slice(&body[pos..]);
    Cow::Owned(out)
}

/// `Anthropic-Beta` without the features local upstreams refuse; `None`
/// when nothing is left (the header is then dropped).
pub fn filter_beta(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    for f in value.split(|&b| b == b',') {
        let f = crate::h1::trim(f);
        if f.is_empty() || LOCAL_UNSUPPORTED_BETAS.iter().any(|u| f == u.as_bytes()) {
            continue;
        }
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(f);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> String {
        String::from_utf8(sanitize_request(b).into_owned()).unwrap()
    }

    // v6.9-behaviours #12 (CLIProxyAPI's response_rewriter_test.go fixtures).
    #[test]
    fn drops_blank_and_non_string_signatures_keeps_the_rest() {
        let out = s(br#"{"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"drop-whitespace","signature":"   "},{"type":"thinking","thinking":"drop-number","signature":123},{"type":"thinking","thinking":"drop-missing"},{"type":"thinking","thinking":"keep-valid","signature":"valid-signature"},{"type":"text","text":"keep-text"}]}]}"#);
        assert_eq!(
            out,
            r#"{"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"keep-valid","signature":"valid-signature"},{"type":"text","text":"keep-text"}]}]}"#
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v.is_object());
    }

    #[test]
    fn strips_tool_use_signature_and_leaves_user_messages() {
        let out = s(br#"{"model":"m","messages":[{"role":"user","content":[{"type":"thinking","thinking":"user-kept"}]},{"role":"assistant","content":[{"type":"thinking","thinking":"drop-me","signature":""},{"type":"tool_use","id":"toolu_01","name":"Bash","input":{"cmd":"ls","n":12345678901234567890},"signature":""}]}]}"#);
        assert_eq!(
            out,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"thinking","thinking":"user-kept"}]},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"Bash","input":{"cmd":"ls","n":12345678901234567890}}]}]}"#
        );
    }

    #[test]
    fn unchanged_bodies_are_borrowed() {
        for b in [
            &br#"{"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"}]}]}"#[..],
            br#"{"contents":[]}"#,
            b"not json",
            br#"{"messages":[{"role":"assistant","content":"text"}]}"#,
        ] {
            assert!(matches!(sanitize_request(b), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn beta_filter() {
        assert_eq!(
            filter_beta(b"context-1m-2025-08-07, interleaved-thinking-2025-05-14").as_deref(),
            Some(&b"interleaved-thinking-2025-05-14"[..])
        );
        assert_eq!(filter_beta(b" context-1m-2025-08-07 "), None);
        assert_eq!(filter_beta(b"a,b").as_deref(), Some(&b"a,b"[..]));
    }
}
