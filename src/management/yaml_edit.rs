//! In-place edits of a block-style YAML config text, so management writes
//! keep the operator's comments and layout.
//!
//! What is preserved:
//! - [`set_scalar`] rewrites only the value bytes of one `key: value` line
//!   (its trailing `# comment` stays); a missing key is inserted as one line
//!   under its parent (a missing parent as two lines at the end).
//! - [`replace_section`] re-emits one top-level key's value (a list replaced
//!   through the management API): comments *inside* that section are lost,
//!   everything before and after it (comments included) stays byte for byte.
//!
//! Only block mappings are walked; a parent written in flow style
//! (`remote-management: {secret-key: x}`) cannot be edited in place and is an
//! error, which callers report rather than rewrite the whole file.

/// One physical line of the text.
#[derive(Clone, Copy)]
struct Line<'a> {
    start: usize,
    text: &'a str,
}

impl Line<'_> {
    fn indent(&self) -> usize {
        self.text.len() - self.text.trim_start_matches(' ').len()
    }
    /// Blank, comment-only, or a document marker.
    fn is_trivia(&self) -> bool {
        let t = self.text.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    }
    fn is_seq_item(&self) -> bool {
        let t = self.text.trim_start_matches(' ');
        t == "-" || t.starts_with("- ")
    }
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split_inclusive('\n') {
        let body = piece.strip_suffix('\n').unwrap_or(piece);
        let body = body.strip_suffix('\r').unwrap_or(body);
        out.push(Line { start, text: body });
        start += piece.len();
    }
    out
}

/// The key of a `key: ...` line (quoted keys unquoted) and the byte offset,
/// within the line, just after its `:`.
fn key_of(line: &str) -> Option<(String, usize)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    if rest.starts_with('-') || rest.starts_with('#') {
        return None;
    }
    let (key, after) = match rest.as_bytes().first()? {
        q @ (b'"' | b'\'') => {
            let close = rest[1..].find(*q as char)? + 1;
            let key = rest[1..close].to_string();
            let tail = &rest[close + 1..];
            let colon = tail.strip_prefix(':')?;
            (key, indent + close + 2 + (tail.len() - 1 - colon.len()))
        }
        _ => {
            let b = rest.as_bytes();
            let mut i = 0;
            loop {
                if i >= b.len() {
                    return None;
                }
                if b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ' || b[i + 1] == b'\t') {
                    break;
                }
                i += 1;
            }
            (rest[..i].trim_end().to_string(), indent + i + 1)
        }
    };
    Some((key, after))
}

/// The span (within the line) of the value after a key's `:`: leading
/// blanks skipped, a trailing comment and blanks excluded.
fn value_span(line: &str, after_colon: usize) -> (usize, usize) {
    let b = line.as_bytes();
    let mut s = after_colon;
    while s < b.len() && (b[s] == b' ' || b[s] == b'\t') {
        s += 1;
    }
    let mut i = s;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(b'"') if c == b'\\' => i += 1,
            Some(b'\'') if c == b'\'' && b.get(i + 1) == Some(&b'\'') => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if i == s && (c == b'"' || c == b'\'') => quote = Some(c),
            None if c == b'#' && i > s && (b[i - 1] == b' ' || b[i - 1] == b'\t') => break,
            None => {}
        }
        i += 1;
    }
    let mut e = i.min(b.len());
    while e > s && (b[e - 1] == b' ' || b[e - 1] == b'\t') {
        e -= 1;
    }
    (s, e)
}

/// Index past the last line belonging to the block of the key at line `k`
/// (more-indented lines, and same-indent `- ` items of a list value).
/// Trailing trivia at or left of the key's indent is not part of it.
fn block_end(ls: &[Line<'_>], k: usize) -> usize {
    let ind = ls[k].indent();
    let mut end = k + 1;
    let mut i = k + 1;
    while i < ls.len() {
        let l = ls[i];
        if l.is_trivia() {
            i += 1;
            continue;
        }
        if l.indent() > ind || (l.indent() == ind && l.is_seq_item()) {
            i += 1;
            end = i;
        } else {
            break;
        }
    }
    end
}

/// Finds `key` among the direct children of the block `ls[lo..hi]` whose
/// parent sits at indent `parent` (`None` = the document's top level).
fn find_child(
    ls: &[Line<'_>],
    lo: usize,
    hi: usize,
    parent: Option<usize>,
    key: &str,
) -> Option<usize> {
    let child_indent = ls[lo..hi]
        .iter()
        .find(|l| !l.is_trivia())
        .map(|l| l.indent())?;
    if parent.is_some_and(|p| child_indent <= p) {
        return None;
    }
    (lo..hi).find(|&i| {
        let l = ls[i];
        !l.is_trivia()
            && l.indent() == child_indent
            && key_of(l.text).is_some_and(|(k, _)| k == key)
    })
}

fn splice(text: &str, at: usize, end: usize, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..at]);
    out.push_str(with);
    out.push_str(&text[end..]);
    out
}

fn ensure_newline(s: &mut String) {
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
}

/// Sets the scalar at `path` (one or two keys deep) to `value`, which must
/// already be YAML (`true`, `3`, `"quoted"`). See the module docs.
pub fn set_scalar(text: &str, path: &[&str], value: &str) -> Result<String, String> {
    let ls = lines(text);
    let (first, rest) = match path {
        [f, rest @ ..] if rest.len() <= 1 => (*f, rest),
        _ => return Err("unsupported key path".into()),
    };
    let Some(k) = find_child(&ls, 0, ls.len(), None, first) else {
        let mut out = text.to_string();
        ensure_newline(&mut out);
        match rest {
            [] => out.push_str(&format!("{first}: {value}\n")),
            [child] => out.push_str(&format!("{first}:\n  {child}: {value}\n")),
            _ => return Err("unsupported key path".into()),
        }
        return Ok(out);
    };
    let end = block_end(&ls, k);
    let (_, colon) = key_of(ls[k].text).ok_or("not a key line")?;
    let (vs, ve) = value_span(ls[k].text, colon);
    match rest {
        [] => {
            if end > k + 1 {
                return Err(format!("{first} is not a scalar"));
            }
            let at = ls[k].start;
            let sep = if vs == colon { " " } else { "" };
            Ok(splice(text, at + vs, at + ve, &format!("{sep}{value}")))
        }
        [child] => {
            if ve > vs {
                return Err(format!(
                    "{first} is written on one line (flow style); edit it in config.yaml"
                ));
            }
            if let Some(c) = find_child(&ls, k + 1, end, Some(ls[k].indent()), child) {
                if block_end(&ls, c) > c + 1 {
                    return Err(format!("{first}.{child} is not a scalar"));
                }
                let (_, colon) = key_of(ls[c].text).ok_or("not a key line")?;
                let (vs, ve) = value_span(ls[c].text, colon);
                let at = ls[c].start;
                let sep = if vs == colon { " " } else { "" };
                return Ok(splice(text, at + vs, at + ve, &format!("{sep}{value}")));
            }
            let indent = ls[k + 1..end]
                .iter()
                .find(|l| !l.is_trivia())
                .map(|l| l.indent())
                .unwrap_or(ls[k].indent() + 2);
            let insert_at = ls.get(k + 1).map(|l| l.start).unwrap_or(text.len());
            let mut line = String::new();
            if insert_at == text.len() && !text.ends_with('\n') {
                line.push('\n');
            }
            line.push_str(&" ".repeat(indent));
            line.push_str(&format!("{child}: {value}\n"));
            Ok(splice(text, insert_at, insert_at, &line))
        }
        _ => Err("unsupported key path".into()),
    }
}

/// Replaces the value of the top-level `key` with `value`: a YAML value
/// rendered by serde_yaml (block style), re-indented under the key. See the
/// module docs for what is kept.
pub fn replace_section(text: &str, key: &str, value: &serde_yaml::Value) -> Result<String, String> {
    let rendered = render(key, value)?;
    let ls = lines(text);
    match find_child(&ls, 0, ls.len(), None, key) {
        Some(k) if ls[k].indent() == 0 => {
            let end = block_end(&ls, k);
            let stop = ls.get(end).map(|l| l.start).unwrap_or(text.len());
            Ok(splice(text, ls[k].start, stop, &rendered))
        }
        Some(_) => Err(format!("{key} is not at the top level")),
        None => {
            let mut out = text.to_string();
            ensure_newline(&mut out);
            out.push_str(&rendered);
            Ok(out)
        }
    }
}

/// `key:` and its value as block YAML ending in a newline.
fn render(key: &str, value: &serde_yaml::Value) -> Result<String, String> {
    let empty = match value {
        serde_yaml::Value::Sequence(s) => s.is_empty(),
        serde_yaml::Value::Mapping(m) => m.is_empty(),
        _ => false,
    };
    let body = serde_yaml::to_string(value).map_err(|e| e.to_string())?;
    if empty
        || !matches!(
            value,
            serde_yaml::Value::Sequence(_) | serde_yaml::Value::Mapping(_)
        )
    {
        return Ok(format!("{key}: {}", body.trim_start()));
    }
    let mut out = format!("{key}:\n");
    for l in body.lines() {
        out.push_str("  ");
        out.push_str(l);
        out.push('\n');
    }
    Ok(out)
}

/// A JSON string as a YAML double-quoted scalar (JSON escapes are valid YAML).
pub fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# top comment\nport: 8317 # the port\nremote-management:\n  # who may manage\n  allow-remote: false\n  secret-key: \"plain\" # set me\napi-keys:\n  - a # first\n  - b\n\n# trailing comment\ndebug: false\n";

    #[test]
    fn scalar_edits_keep_comments_and_layout() {
        let out = set_scalar(DOC, &["remote-management", "secret-key"], "\"$2a$10$x\"").unwrap();
        assert_eq!(
            out,
            DOC.replace(
                "secret-key: \"plain\" # set me",
                "secret-key: \"$2a$10$x\" # set me"
            )
        );
        let out = set_scalar(DOC, &["port"], "9000").unwrap();
        assert_eq!(out, DOC.replace("port: 8317 #", "port: 9000 #"));
        let out = set_scalar(DOC, &["debug"], "true").unwrap();
        assert_eq!(out, DOC.replace("debug: false", "debug: true"));
    }

    #[test]
    fn missing_keys_are_inserted() {
        let out = set_scalar(DOC, &["request-retry"], "5").unwrap();
        assert_eq!(out, format!("{DOC}request-retry: 5\n"));
        let out = set_scalar(DOC, &["routing", "strategy"], "\"fill-first\"").unwrap();
        assert_eq!(out, format!("{DOC}routing:\n  strategy: \"fill-first\"\n"));
        let out = set_scalar(DOC, &["remote-management", "allow-remote"], "true").unwrap();
        assert!(out.contains("  allow-remote: true\n"));
        let doc = "remote-management:\n  secret-key: x\n";
        let out = set_scalar(doc, &["remote-management", "allow-remote"], "true").unwrap();
        assert_eq!(
            out,
            "remote-management:\n  allow-remote: true\n  secret-key: x\n"
        );
        let doc = "remote-management:\ndebug: true";
        let out = set_scalar(doc, &["remote-management", "secret-key"], "\"h\"").unwrap();
        assert_eq!(out, "remote-management:\n  secret-key: \"h\"\ndebug: true");
        let out = set_scalar("", &["debug"], "true").unwrap();
        assert_eq!(out, "debug: true\n");
        let out = set_scalar("port: 1", &["debug"], "true").unwrap();
        assert_eq!(out, "port: 1\ndebug: true\n");
        let out = set_scalar("debug:\n", &["debug"], "true").unwrap();
        assert_eq!(out, "debug: true\n");
    }

    #[test]
    fn flow_and_nested_values_are_refused() {
        let doc = "remote-management: {secret-key: x}\n";
        assert!(set_scalar(doc, &["remote-management", "secret-key"], "\"h\"").is_err());
        assert!(set_scalar(DOC, &["api-keys"], "1").is_err());
        assert!(set_scalar(DOC, &["a", "b", "c"], "1").is_err());
    }

    #[test]
    fn quoted_values_with_hashes_are_replaced_whole() {
        let doc = "proxy-url: \"http://h/#x\" # note\n";
        let out = set_scalar(doc, &["proxy-url"], "\"\"").unwrap();
        assert_eq!(out, "proxy-url: \"\" # note\n");
        let doc = "proxy-url: 'it''s # x'\n";
        let out = set_scalar(doc, &["proxy-url"], "\"\"").unwrap();
        assert_eq!(out, "proxy-url: \"\"\n");
    }

    #[test]
    fn section_replacement_keeps_the_rest() {
        let v: serde_yaml::Value = serde_yaml::from_str("[x, y]").unwrap();
        let out = replace_section(DOC, "api-keys", &v).unwrap();
        assert_eq!(
            out,
            DOC.replace(
                "api-keys:\n  - a # first\n  - b\n",
                "api-keys:\n  - x\n  - y\n"
            )
        );
        let empty: serde_yaml::Value = serde_yaml::from_str("[]").unwrap();
        let out = replace_section(DOC, "api-keys", &empty).unwrap();
        assert!(out.contains("api-keys: []\n\n# trailing comment\ndebug: false\n"));
        let out = replace_section("port: 1\n", "api-keys", &v).unwrap();
        assert_eq!(out, "port: 1\napi-keys:\n  - x\n  - y\n");
        // Same-indent list items belong to the section.
        let doc = "api-keys:\n- a\n- b\ndebug: true\n";
        let out = replace_section(doc, "api-keys", &v).unwrap();
        assert_eq!(out, "api-keys:\n  - x\n  - y\ndebug: true\n");
        let m: serde_yaml::Value =
            serde_yaml::from_str("[{api-key: k, base-url: 'http://h'}]").unwrap();
        let out = replace_section(doc, "claude-api-key", &m).unwrap();
        let back: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(back["claude-api-key"], m);
        assert_eq!(back["debug"], serde_yaml::Value::Bool(true));
    }
}
