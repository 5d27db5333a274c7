//! Payload paths (`a.b.0`, `a.#`) evaluated over the JSON cursor: finding one value,
//! or which of many paths exist, in one scan without building the document.

use crate::json::cursor::{key_eq, skip_value, ws, Elements, Members};
use crate::json::JsonError;

type R<T> = Result<T, JsonError>;

/// Span of the value at `path` (keys; digit keys index arrays) inside the value
/// starting at `i`, or `None` when absent.
pub(crate) fn lookup<S: AsRef<str>>(b: &[u8], i: usize, path: &[S]) -> R<Option<(usize, usize)>> {
    let i = ws(b, i);
    let Some((first, rest)) = path.split_first() else {
        let end = skip_value(b, i, 0)?;
        return Ok(Some((i, end)));
    };
    let seg = first.as_ref();
    match b.get(i) {
        Some(b'{') => {
            let mut m = Members::new(b, i, 0)?;
            while let Some(mem) = m.next()? {
                if key_eq(&b[mem.key_start..mem.key_end], seg) {
                    return lookup(b, mem.val_start, rest);
                }
                let end = skip_value(b, mem.val_start, 1)?;
                m.value_done(end);
            }
            Ok(None)
        }
        Some(b'[') => {
            let Some(want) = super::path::index_of(seg) else {
                return Ok(None);
            };
            let mut e = Elements::new(b, i, 0)?;
            let mut n = 0usize;
            while let Some(s) = e.next()? {
                if n == want {
                    return lookup(b, s, rest);
                }
                let end = skip_value(b, s, 1)?;
                e.value_done(end);
                n += 1;
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Marks in `found` which of `paths` exist in the document `b`, in one pass
/// (however many paths). On invalid JSON the paths seen before the error stay
/// marked and the error is returned.
pub(crate) fn exists_many<P: AsRef<[S]>, S: AsRef<str>>(
    b: &[u8],
    paths: &[P],
    found: &mut [bool],
) -> R<()> {
    let mut active = Vec::new();
    for (p, path) in paths.iter().enumerate() {
        if path.as_ref().is_empty() {
            found[p] = true;
        } else {
            active.push(p);
        }
    }
    if active.is_empty() {
        return Ok(());
    }
    walk(b, ws(b, 0), paths, &active, 0, found, 0).map(|_| ())
}

/// Scans the value at `i` for the `active` paths (all longer than `level`),
/// descending only into members some path names. Returns the value's end.
fn walk<P: AsRef<[S]>, S: AsRef<str>>(
    b: &[u8],
    i: usize,
    paths: &[P],
    active: &[usize],
    level: usize,
    found: &mut [bool],
    depth: usize,
) -> R<usize> {
    let mut step = |seg_matches: &dyn Fn(&str) -> bool, start: usize| -> R<usize> {
        let mut deeper = Vec::new();
        for &p in active {
            let path = paths[p].as_ref();
            if seg_matches(path[level].as_ref()) {
                if path.len() == level + 1 {
                    found[p] = true;
                } else {
                    deeper.push(p);
                }
            }
        }
        if deeper.is_empty() {
            skip_value(b, start, depth + 1)
        } else {
            walk(b, start, paths, &deeper, level + 1, found, depth + 1)
        }
    };
    match b.get(i) {
        Some(b'{') => {
            let mut m = Members::new(b, i, depth)?;
            while let Some(mem) = m.next()? {
                let raw = &b[mem.key_start..mem.key_end];
                let end = step(&|seg| key_eq(raw, seg), mem.val_start)?;
                m.value_done(end);
            }
            m.finish()
        }
        Some(b'[') => {
            let mut e = Elements::new(b, i, depth)?;
            let mut n = 0usize;
            while let Some(start) = e.next()? {
                let end = step(&|seg| super::path::index_of(seg) == Some(n), start)?;
                e.value_done(end);
                n += 1;
            }
            e.finish()
        }
        _ => skip_value(b, i, depth),
    }
}
