//! The edit tree and the one-pass writer.
//!
//! Edits (set / delete at a resolved path) are first folded, in rule order,
//! into a small tree keyed by path segments, so that later edits see earlier
//! ones exactly as sequential sjson calls would (a set below a deleted or
//! freshly set value edits that value; a later set replaces earlier edits
//! below it). The body is then written once: untouched values are copied as
//! whole spans, the writer only descends into values the tree names.

use std::borrow::Cow;

use serde_json::Value;

use super::path::index_of;
use super::PayloadError;
use crate::json::cursor::{skip_value, ws, Elements, Members};

type R<T> = Result<T, PayloadError>;

/// A node of the edit tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    /// Replace the value with this JSON text.
    Set(Cow<'a, str>),
    /// Remove the value (and its key or array slot).
    Delete,
    /// Keep the value but edit inside it. `made` records that a set passed
    /// through here, so the container exists from then on (`Some(true)`: it
    /// was created as an array, `Some(false)`: as an object), even if later
    /// deletes empty it.
    Inner {
        children: Vec<(Cow<'a, str>, Node<'a>)>,
        made: Option<bool>,
    },
}

impl<'a> Node<'a> {
    /// An empty tree (no edit; allocates nothing).
    pub(crate) fn empty() -> Self {
        Node::Inner {
            children: Vec::new(),
            made: None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Node::Inner { children, .. } if children.is_empty())
    }

    /// Folds "set `path` to JSON `text`" into the tree.
    pub(crate) fn set(&mut self, path: &[Cow<'a, str>], text: Cow<'a, str>) {
        let Some((first, rest)) = path.split_first() else {
            *self = Node::Set(text);
            return;
        };
        match self {
            Node::Set(lit) => {
                let mut v = parse_lit(lit);
                value_set(&mut v, path, parse_lit(&text));
                *lit = Cow::Owned(v.to_string());
            }
            Node::Delete => {
                let mut v = Value::Null;
                value_set(&mut v, path, parse_lit(&text));
                *self = Node::Set(Cow::Owned(v.to_string()));
            }
            Node::Inner { children, made } => {
                if made.is_none() {
                    *made = Some(first == "-1" || index_of(first).is_some());
                }
                // Every `-1` set appends one more element.
                let pos = if rest.is_empty() && first == "-1" {
                    None
                } else {
                    children.iter().position(|(k, _)| k == first)
                };
                let i = match pos {
                    Some(i) => i,
                    None => {
                        children.push((first.clone(), Node::empty()));
                        children.len() - 1
                    }
                };
                children[i].1.set(rest, text);
            }
        }
    }

    /// Folds "delete `path`" into the tree.
    pub(crate) fn delete(&mut self, path: &[Cow<'a, str>]) {
        let Some((first, rest)) = path.split_first() else {
            *self = Node::Delete;
            return;
        };
        match self {
            Node::Set(lit) => {
                let mut v = parse_lit(lit);
                if value_delete(&mut v, path) {
                    *lit = Cow::Owned(v.to_string());
                }
            }
            Node::Delete => {}
            Node::Inner { children, .. } => {
                let i = match children.iter().position(|(k, _)| k == first) {
                    Some(i) => i,
                    None => {
                        children.push((first.clone(), Node::empty()));
                        children.len() - 1
                    }
                };
                children[i].1.delete(rest);
            }
        }
    }

    /// Whether applying this node can produce a value where none exists.
    fn creates(&self) -> bool {
        match self {
            Node::Set(_) => true,
            Node::Delete => false,
            Node::Inner { made, .. } => made.is_some(),
        }
    }
}

fn parse_lit(text: &str) -> Value {
    // Set texts are valid JSON by construction (checked at compile time or
    // produced by serde_json); Null is a harmless fallback.
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// sjson-style set inside a parsed value: missing or scalar parents become
/// containers (an array when the segment is a position or `-1`).
fn value_set(v: &mut Value, path: &[Cow<'_, str>], new: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    let seg: &str = first;
    if !v.is_object() && !v.is_array() {
        *v = if seg == "-1" || index_of(seg).is_some() {
            Value::Array(Vec::new())
        } else {
            Value::Object(serde_json::Map::new())
        };
    }
    match v {
        Value::Object(map) => {
            let slot = map.entry(seg.to_owned()).or_insert(Value::Null);
            value_set(slot, rest, new);
        }
        Value::Array(arr) => {
            let idx = if seg == "-1" {
                arr.len()
            } else {
                match index_of(seg) {
                    Some(i) if i <= MAX_PAD_INDEX => i,
                    _ => return,
                }
            };
            while arr.len() <= idx {
                arr.push(Value::Null);
            }
            value_set(&mut arr[idx], rest, new);
        }
        _ => {}
    }
}

/// Deletes inside a parsed value; whether anything changed.
fn value_delete(v: &mut Value, path: &[Cow<'_, str>]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let seg: &str = first;
    match v {
        Value::Object(map) => {
            if rest.is_empty() {
                map.remove(seg).is_some()
            } else {
                map.get_mut(seg).is_some_and(|c| value_delete(c, rest))
            }
        }
        Value::Array(arr) => match index_of(seg) {
            Some(i) if i < arr.len() => {
                if rest.is_empty() {
                    arr.remove(i);
                    true
                } else {
                    value_delete(&mut arr[i], rest)
                }
            }
            _ => false,
        },
        _ => false,
    }
}

/// Largest array position a set may pad up to with `null`s. A rule path such
/// as `a.99999999` would otherwise make one request allocate gigabytes;
/// 10 000 is far above any real array index in an LLM request.
pub const MAX_PAD_INDEX: usize = 10_000;

/// Writes the value starting at `i` with `node` applied; returns its end.
pub(crate) fn emit(
    b: &[u8],
    i: usize,
    node: &Node<'_>,
    out: &mut Vec<u8>,
    depth: usize,
) -> R<usize> {
    match node {
        Node::Set(t) => {
            let end = skip_value(b, i, depth)?;
            out.extend_from_slice(t.as_bytes());
            Ok(end)
        }
        // A deleted root stays (sjson cannot delete the document itself).
        Node::Delete => {
            let end = skip_value(b, i, depth)?;
            out.extend_from_slice(&b[i..end]);
            Ok(end)
        }
        Node::Inner { children, made } if children.is_empty() && made.is_none() => {
            let end = skip_value(b, i, depth)?;
            out.extend_from_slice(&b[i..end]);
            Ok(end)
        }
        Node::Inner { children, made } => match b.get(i) {
            Some(b'{') => emit_object(b, i, children, out, depth),
            Some(b'[') => emit_array(b, i, children, out, depth),
            _ => {
                let end = skip_value(b, i, depth)?;
                if let Some(array) = made {
                    create(children, *array, out);
                } else {
                    out.extend_from_slice(&b[i..end]);
                }
                Ok(end)
            }
        },
    }
}

fn comma(out: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        out.push(b',');
    }
    *first = false;
}

fn emit_object(
    b: &[u8],
    i: usize,
    children: &[(Cow<'_, str>, Node<'_>)],
    out: &mut Vec<u8>,
    depth: usize,
) -> R<usize> {
    out.push(b'{');
    let mut seen = vec![false; children.len()];
    let mut first = true;
    let mut m = Members::new(b, i, depth)?;
    while let Some(mem) = m.next()? {
        let raw_key = &b[mem.key_start..mem.key_end];
        let hit = children
            .iter()
            .position(|(k, _)| crate::json::cursor::key_eq(raw_key, k));
        let end = match hit {
            None => {
                let end = skip_value(b, mem.val_start, depth + 1)?;
                comma(out, &mut first);
                out.extend_from_slice(&b[mem.key_start..end]);
                end
            }
            Some(h) => {
                seen[h] = true;
                let node = &children[h].1;
                if matches!(node, Node::Delete) {
                    skip_value(b, mem.val_start, depth + 1)?
                } else {
                    comma(out, &mut first);
                    out.extend_from_slice(raw_key);
                    out.push(b':');
                    emit(b, mem.val_start, node, out, depth + 1)?
                }
            }
        };
        m.value_done(end);
    }
    let end = m.finish()?;
    for ((k, node), seen) in children.iter().zip(seen) {
        if !seen && node.creates() {
            comma(out, &mut first);
            write_key(out, k);
            create_node(node, out);
        }
    }
    out.push(b'}');
    Ok(end)
}

fn emit_array(
    b: &[u8],
    i: usize,
    children: &[(Cow<'_, str>, Node<'_>)],
    out: &mut Vec<u8>,
    depth: usize,
) -> R<usize> {
    out.push(b'[');
    let mut first = true;
    let mut e = Elements::new(b, i, depth)?;
    let mut n = 0usize;
    while let Some(start) = e.next()? {
        let hit = children
            .iter()
            .find(|(k, _)| index_of(k) == Some(n))
            .map(|(_, node)| node);
        let end = match hit {
            None => {
                let end = skip_value(b, start, depth + 1)?;
                comma(out, &mut first);
                out.extend_from_slice(&b[start..end]);
                end
            }
            Some(Node::Delete) => skip_value(b, start, depth + 1)?,
            Some(node) => {
                comma(out, &mut first);
                emit(b, start, node, out, depth + 1)?
            }
        };
        e.value_done(end);
        n += 1;
    }
    let end = e.finish()?;
    append_elements(children, n, &mut first, out);
    out.push(b']');
    Ok(end)
}

/// Writes positions at or past `len` (padding with `null`) and then `-1`
/// appends, for an array that had `len` elements.
fn append_elements(
    children: &[(Cow<'_, str>, Node<'_>)],
    len: usize,
    first: &mut bool,
    out: &mut Vec<u8>,
) {
    let mut past: Vec<(usize, &Node<'_>)> = children
        .iter()
        .filter_map(|(k, node)| index_of(k).map(|i| (i, node)))
        .filter(|&(i, node)| i >= len && i <= MAX_PAD_INDEX && node.creates())
        .collect();
    past.sort_by_key(|&(i, _)| i);
    let mut next = len;
    for (i, node) in past {
        while next < i {
            comma(out, first);
            out.extend_from_slice(b"null");
            next += 1;
        }
        comma(out, first);
        create_node(node, out);
        next += 1;
    }
    for (k, node) in children {
        if k == "-1" && node.creates() {
            comma(out, first);
            create_node(node, out);
        }
    }
}

fn write_key(out: &mut Vec<u8>, k: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, k);
    out.push(b':');
}

/// Writes a node where no value existed. Callers check `creates()` first.
fn create_node(node: &Node<'_>, out: &mut Vec<u8>) {
    match node {
        Node::Set(t) => out.extend_from_slice(t.as_bytes()),
        Node::Delete => out.extend_from_slice(b"null"),
        Node::Inner { children, made } => create(children, made.unwrap_or(false), out),
    }
}

/// Writes a new container holding `children`.
fn create(children: &[(Cow<'_, str>, Node<'_>)], array: bool, out: &mut Vec<u8>) {
    let mut first = true;
    if array {
        out.push(b'[');
        append_elements(children, 0, &mut first, out);
        out.push(b']');
    } else {
        out.push(b'{');
        for (k, node) in children {
            if node.creates() {
                comma(out, &mut first);
                write_key(out, k);
                create_node(node, out);
            }
        }
        out.push(b'}');
    }
}

/// Applies `tree` to the whole document `b`, writing the result to `out`.
pub(crate) fn apply_tree(b: &[u8], tree: &Node<'_>, out: &mut Vec<u8>) -> R<()> {
    let start = ws(b, 0);
    let end = emit(b, start, tree, out, 0)?;
    let tail = ws(b, end);
    if tail != b.len() {
        return Err(PayloadError::InvalidJson { offset: tail });
    }
    Ok(())
}
