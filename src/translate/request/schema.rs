//! JSON Schema clean-up for Gemini function declarations (after CLIProxyAPI's
//! `CleanJSONSchemaForGemini`, simplified):
//!
//! - keywords Gemini rejects are dropped (`$schema`, `$defs`, `$ref`, `const`,
//!   `additionalProperties`, `patternProperties`, `if`/`then`/`else`, string and
//!   array constraints, `format`, `default`, `examples`, `title`, `nullable`,
//!   `x-*` extensions, ...); dropped constraints become a description hint;
//! - `const` becomes a one-value `enum`; enum values become strings and the
//!   node's type `string`;
//! - `anyOf`/`oneOf` are flattened to their first non-null branch, `allOf`
//!   object branches are merged; type arrays keep their first non-null type;
//! - `required` keeps only names present in `properties`;
//! - names inside `properties` are never treated as keywords.
//!
//! The output is always valid JSON; a non-object schema becomes an empty
//! object schema.

use crate::json::tree::{JStr, Kind, Node};
use crate::json::write::Writer;
use crate::json::MAX_DEPTH;
use std::borrow::Cow;

/// Keywords removed outright.
const DROP: &[&str] = &[
    "$schema",
    "$defs",
    "definitions",
    "$ref",
    "$id",
    "$comment",
    "additionalProperties",
    "propertyNames",
    "patternProperties",
    "if",
    "then",
    "else",
    "enumDescriptions",
    "enumTitles",
    "prefill",
    "deprecated",
    "encrypted",
    "title",
    "nullable",
    "anyOf",
    "oneOf",
    "allOf",
    "const",
    "enum",
    "type",
    "required",
    "properties",
    "items",
    "description",
    "not",
];

/// Constraints Gemini ignores or rejects; moved into the description as hints.
const HINTED: &[&str] = &[
    "minLength",
    "maxLength",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "format",
    "default",
    "examples",
];

/// Write the cleaned form of the schema `raw` (a JSON object) to `w`.
pub fn clean_for_gemini(raw: &str, w: &mut Writer<'_>) {
    match crate::json::tree::parse_str(raw) {
        Ok(n) if n.is_obj() => node(&n, w, 0),
        _ => {
            w.raw(r#"{"type":"object","properties":{}}"#);
        }
    }
}

fn non_null_type(n: &Node<'_>) -> Option<String> {
    match &n.kind {
        Kind::Str(s) => Some(s.get().into_owned()),
        Kind::Arr(a) => a
            .iter()
            .filter_map(|t| t.str())
            .find(|t| t != "null")
            .map(|t| t.into_owned()),
        _ => None,
    }
}

/// Pick the branch a union flattens to: the first whose type is not "null".
fn pick_branch<'n, 'a>(branches: &'n [Node<'a>]) -> Option<&'n Node<'a>> {
    branches
        .iter()
        .find(|b| !b.at("type").jstr().is_some_and(|t| t.is("null")))
        .or(branches.first())
}

fn node(n: &Node<'_>, w: &mut Writer<'_>, depth: usize) {
    if depth > MAX_DEPTH / 2 || !n.is_obj() {
        w.raw("{}");
        return;
    }
    // Unions: flatten to one branch, keeping this node's description.
    for key in ["anyOf", "oneOf"] {
        if let Some(b) = n.get(key).map(|b| b.arr()).filter(|b| !b.is_empty()) {
            if let Some(best) = pick_branch(b) {
                if n.get("description").is_some() && best.get("description").is_none() {
                    // Merge: write the branch with the outer description.
                    return merged(best, n.get("description"), w, depth);
                }
                return node(best, w, depth + 1);
            }
        }
    }
    merged(n, None, w, depth)
}

fn merged(n: &Node<'_>, outer_desc: Option<&Node<'_>>, w: &mut Writer<'_>, depth: usize) {
    // allOf object branches contribute properties and required names.
    let all_of: Vec<&Node<'_>> = n.at("allOf").arr().iter().filter(|b| b.is_obj()).collect();
    let mut props: Vec<(&JStr<'_>, &Node<'_>)> = Vec::new();
    for src in std::iter::once(n).chain(all_of.iter().copied()) {
        for (k, v) in src.at("properties").obj() {
            if !props.iter().any(|(pk, _)| pk.raw == k.raw) {
                props.push((k, v));
            }
        }
    }
    let mut ty = n.get("type").and_then(non_null_type);
    if ty.is_none() {
        ty = all_of
            .iter()
            .find_map(|b| b.get("type").and_then(non_null_type));
    }
    let enum_vals: Option<Vec<String>> = if let Some(c) = n.get("const") {
        Some(vec![scalar_text(c)])
    } else {
        n.get("enum").filter(|e| e.is_arr()).map(|e| {
            e.arr()
                .iter()
                .filter(|v| !v.is_null())
                .map(scalar_text)
                .collect()
        })
    };
    if enum_vals.is_some() {
        ty = Some("string".to_string());
    }
    if ty.is_none() && !props.is_empty() {
        ty = Some("object".to_string());
    }

    w.obj();
    if let Some(t) = &ty {
        w.key("type").str(t);
    }
    // Description plus hints for dropped constraints.
    let mut desc = outer_desc
        .or(n.get("description"))
        .map(|d| d.s().into_owned())
        .unwrap_or_default();
    for h in HINTED {
        if let Some(v) = n.get(h) {
            if !desc.is_empty() {
                desc.push(' ');
            }
            desc.push('(');
            desc.push_str(h);
            desc.push_str(": ");
            desc.push_str(v.raw);
            desc.push(')');
        }
    }
    if !desc.is_empty() {
        w.key("description").str(&desc);
    }
    if let Some(vals) = &enum_vals {
        w.key("enum").arr();
        for v in vals {
            w.str(v);
        }
        w.end_arr();
    }
    if ty.as_deref() == Some("object") || !props.is_empty() {
        w.key("properties").obj();
        for (k, v) in &props {
            w.key_j(**k);
            node(v, w, depth + 1);
        }
        w.end_obj();
        let mut req: Vec<&str> = Vec::new();
        for src in std::iter::once(n).chain(all_of.iter().copied()) {
            for r in src.at("required").arr() {
                if let Some(j) = r.jstr() {
                    if props.iter().any(|(pk, _)| pk.raw == j.raw) && !req.contains(&j.raw) {
                        req.push(j.raw);
                    }
                }
            }
        }
        if !req.is_empty() {
            w.key("required").arr();
            for r in req {
                w.jstr(JStr {
                    raw: r,
                    escaped: false,
                });
            }
            w.end_arr();
        }
    }
    if let Some(items) = n.get("items") {
        w.key("items");
        match &items.kind {
            Kind::Obj(_) => node(items, w, depth + 1),
            Kind::Arr(a) if !a.is_empty() => node(&a[0], w, depth + 1),
            _ => {
                w.raw("{}");
            }
        }
    }
    // Everything else Gemini understands passes through unchanged.
    for (k, v) in n.obj() {
        let key = k.get();
        if DROP.contains(&key.as_ref()) || HINTED.contains(&key.as_ref()) || key.starts_with("x-") {
            continue;
        }
        w.key_j(*k).raw(v.raw);
    }
    w.end_obj();
}

/// Gemini's OpenAPI-style schemas write types in upper case (`"OBJECT"`);
/// JSON Schema consumers need lower case. Returns the schema with every
/// `type` value lower-cased (borrowed when nothing changes).
pub fn lowercase_types<'a>(n: &Node<'a>) -> Cow<'a, str> {
    fn has_upper(n: &Node<'_>, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match &n.kind {
            Kind::Obj(m) => m.iter().any(|(k, v)| {
                (k.is("type")
                    && v.jstr()
                        .is_some_and(|s| s.raw.bytes().any(|b| b.is_ascii_uppercase())))
                    || has_upper(v, depth + 1)
            }),
            Kind::Arr(a) => a.iter().any(|v| has_upper(v, depth + 1)),
            _ => false,
        }
    }
    fn write(n: &Node<'_>, w: &mut Writer<'_>) {
        match &n.kind {
            Kind::Obj(m) => {
                w.obj();
                for (k, v) in m {
                    w.key_j(*k);
                    match v.jstr() {
                        Some(s) if k.is("type") => {
                            w.str(&s.get().to_ascii_lowercase());
                        }
                        _ => write(v, w),
                    }
                }
                w.end_obj();
            }
            Kind::Arr(a) => {
                w.arr();
                for v in a {
                    write(v, w);
                }
                w.end_arr();
            }
            _ => {
                w.raw(n.raw);
            }
        }
    }
    if !has_upper(n, 0) {
        return Cow::Borrowed(n.raw);
    }
    let mut out = Vec::with_capacity(n.raw.len());
    write(n, &mut Writer::new(&mut out));
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| n.raw.to_string()))
}

fn scalar_text(v: &Node<'_>) -> String {
    match &v.kind {
        Kind::Str(s) => s.get().into_owned(),
        _ => v.raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> serde_json::Value {
        let mut out = Vec::new();
        clean_for_gemini(s, &mut Writer::new(&mut out));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn drops_and_flattens() {
        let v = clean(
            r#"{"$schema":"x","type":"object","additionalProperties":false,"properties":{
              "title":{"type":["string","null"],"minLength":2,"title":"T"},
              "kind":{"const":"a"},
              "n":{"anyOf":[{"type":"null"},{"type":"integer","minimum":1}],"description":"d"},
              "tags":{"type":"array","items":{"type":"string","format":"uri"}},
              "x-ext":{"type":"string"}},
              "required":["title","missing"],"x-google":1}"#,
        );
        assert_eq!(
            v,
            serde_json::json!({"type":"object","properties":{
              "title":{"type":"string","description":"(minLength: 2)"},
              "kind":{"type":"string","enum":["a"]},
              "n":{"type":"integer","description":"d","minimum":1},
              "tags":{"type":"array","items":{"type":"string","description":"(format: \"uri\")"}},
              "x-ext":{"type":"string"}},
              "required":["title"]})
        );
    }

    #[test]
    fn all_of_and_bad_input() {
        let v = clean(
            r#"{"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}]}"#,
        );
        assert_eq!(
            v,
            serde_json::json!({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]})
        );
        assert_eq!(
            clean("[1]"),
            serde_json::json!({"type":"object","properties":{}})
        );
        assert_eq!(
            clean(r#"{"enum":[1,2,null]}"#),
            serde_json::json!({"type":"string","enum":["1","2"]})
        );
    }
}
