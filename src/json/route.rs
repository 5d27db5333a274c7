//! The routing scanner: finds top-level members of an object without building a tree,
//! so a request can be edited in place (only the `model` value is rewritten; every other
//! byte is forwarded as sent). Inside member values it only balances brackets and
//! strings (it does not validate what it skips).

use super::escape::decode_string;
use super::{JsonError, MAX_DEPTH};

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Index one past the closing quote of the string starting at `b[i] == '"'`.
fn skip_string(b: &[u8], i: usize) -> Result<usize, JsonError> {
    let mut j = i + 1;
    loop {
        let Some(p) = memchr::memchr2(b'"', b'\\', &b[j.min(b.len())..]) else {
            return Err(JsonError::at(i, "unterminated string"));
        };
        j += p;
        if b[j] == b'"' {
            return Ok(j + 1);
        }
        j += 2; // skip the escaped byte
        if j > b.len() {
            return Err(JsonError::at(i, "unterminated string"));
        }
    }
}

/// Index one past the value starting at `b[i]` (after whitespace).
pub fn skip_value(b: &[u8], i: usize) -> Result<usize, JsonError> {
    let i = skip_ws(b, i);
    match b.get(i) {
        None => Err(JsonError::at(i, "unexpected end of JSON")),
        Some(b'"') => skip_string(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Err(JsonError::at(i, "JSON nested too deeply"));
                        }
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            Err(JsonError::at(i, "unexpected end of JSON"))
        }
        Some(_) => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            let lit = &b[i..j];
            let ok = matches!(lit, b"true" | b"false" | b"null")
                || (!lit.is_empty()
                    && lit.iter().all(|c| {
                        c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E')
                    }));
            if ok {
                Ok(j)
            } else {
                Err(JsonError::at(i, "invalid JSON value"))
            }
        }
    }
}

/// Calls `f(raw_key, value_start, value_end)` for each top-level member of the
/// object in `b`. `raw_key` is the key between its quotes, still escaped.
/// Stops early when `f` returns `false`.
pub fn for_each_member(
    b: &[u8],
    mut f: impl FnMut(&[u8], usize, usize) -> bool,
) -> Result<(), JsonError> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err(JsonError::at(i, "request body must be a JSON object"));
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return trailing(b, i + 1);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return Err(JsonError::at(i, "expected object key"));
        }
        let kend = skip_string(b, i)?;
        let key = &b[i + 1..kend - 1];
        i = skip_ws(b, kend);
        if b.get(i) != Some(&b':') {
            return Err(JsonError::at(i, "expected ':'"));
        }
        let vstart = skip_ws(b, i + 1);
        let vend = skip_value(b, vstart)?;
        if !f(key, vstart, vend) {
            return Ok(());
        }
        i = skip_ws(b, vend);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return trailing(b, i + 1),
            _ => return Err(JsonError::at(i, "expected ',' or '}'")),
        }
    }
}

fn trailing(b: &[u8], i: usize) -> Result<(), JsonError> {
    if skip_ws(b, i) == b.len() {
        Ok(())
    } else {
        Err(JsonError::at(i, "trailing data after JSON object"))
    }
}

/// What the router needs from a request body, found in one pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestFields {
    /// Byte range of the `model` value (including quotes), if present.
    pub model_span: Option<(usize, usize)>,
    /// The decoded model name.
    pub model: Option<String>,
    /// `"stream": true` at the top level.
    pub stream: bool,
}

/// Scans a request body's top level for `model` and `stream`.
pub fn request_fields(b: &[u8]) -> Result<RequestFields, JsonError> {
    let mut out = RequestFields::default();
    let mut err = None;
    for_each_member(b, |key, s, e| {
        match key {
            b"model" if b[s] == b'"' => {
                out.model_span = Some((s, e));
                out.model = decode_string(&b[s..e]);
                if out.model.is_none() {
                    err = Some(JsonError::at(s, "invalid model string"));
                }
            }
            b"stream" => out.stream = &b[s..e] == b"true",
            _ => {}
        }
        true
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::write::replace_span_with_string;

    #[test]
    fn finds_model_and_stream() {
        let b = br#" {"messages":[{"role":"user","content":"say \"model\": {x}"}],"model":"gpt-4o","stream":true} "#;
        let f = request_fields(b).unwrap();
        assert_eq!(f.model.as_deref(), Some("gpt-4o"));
        assert!(f.stream);
        let (s, e) = f.model_span.unwrap();
        assert_eq!(&b[s..e], br#""gpt-4o""#);
        let out = replace_span_with_string(b, (s, e), "up/\"m\"");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "up/\"m\"");
        assert_eq!(v["stream"], true);
    }

    #[test]
    fn agrees_with_serde_on_top_level_keys() {
        let docs: &[&[u8]] = &[
            br#"{"a":1,"b":[1,2,{"c":"}"}],"d":{"e":null},"f":-1.5e3,"g":"\\\"","h":false}"#,
            br#"{}"#,
            br#"{"model":"a\u0062c","stream":false}"#,
        ];
        for d in docs {
            let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(d).unwrap();
            let mut keys = vec![];
            for_each_member(d, |k, s, e| {
                let parsed: serde_json::Value = serde_json::from_slice(&d[s..e]).unwrap();
                keys.push((String::from_utf8(k.to_vec()).unwrap(), parsed));
                true
            })
            .unwrap();
            let want: Vec<_> = v.into_iter().collect();
            assert_eq!(keys, want);
        }
        assert_eq!(
            request_fields(br#"{"model":"a\u0062c"}"#)
                .unwrap()
                .model
                .as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn rejects_garbage() {
        for b in [
            &b"[1]"[..],
            b"{",
            b"{\"a\"",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{\"a\":1} x",
            b"{\"a\":tru}",
            b"\"s",
        ] {
            assert!(
                request_fields(b).is_err(),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        let deep = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(request_fields(deep.as_bytes()).is_err());
    }
}
