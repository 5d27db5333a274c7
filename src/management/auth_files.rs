//! `/auth-files`: list, upload, download, delete, enable/disable and field
//! edits of the OAuth files in `auth-dir`. Every write goes to the file
//! (temp file + rename, mode 0600); the control thread's auth-dir scan sees
//! it and reloads the accounts, so there is no second apply path.
//!
//! Names are checked as CLIProxyAPI v6.9 does (behaviour #14): trimmed, then
//! empty names, names with `/` or `\`, and names with a drive prefix are
//! refused with 400 `invalid name`; so only files directly in `auth-dir` are
//! managed by name.

use super::{answer_with, error, json};
use crate::server::Request;
use crate::state::Snapshot;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Largest auth file accepted by upload (the store reads at most 1 MiB).
const MAX_FILE: usize = 1 << 20;

/// Whether `name` (already trimmed) is refused (v6.9 behaviour #14).
pub fn unsafe_name(name: &str) -> bool {
    let b = name.as_bytes();
    name.is_empty()
        || name.contains('/')
        || name.contains('\\')
        || (b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic())
}

fn is_json_name(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".json")
}

/// `auth_index` of a file auth (reference §3.4): first 16 hex digits of
/// SHA-256 of `"<type>:<absolute cleaned path>"`.
pub fn auth_index(kind: &str, abs_path: &Path) -> String {
    let d = Sha256::digest(format!("{kind}:{}", abs_path.display()).as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3339 (UTC, seconds) of a time.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86400;
    let rem = secs % 86400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

pub(super) fn auth_dir(snap: &Snapshot) -> PathBuf {
    let d = &snap.config.auth_dir;
    std::path::absolute(d).unwrap_or_else(|_| d.clone())
}

pub(super) fn query(req: &Request<'_>, name: &str) -> Option<String> {
    let raw = crate::h1::query::query_param(req.query(), name)?;
    let mut buf = Vec::new();
    crate::h1::query::percent_decode(raw, &mut buf);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Every value of a repeated query parameter, decoded.
fn query_all(req: &Request<'_>, name: &str) -> Vec<String> {
    req.query()
        .split(|&c| c == b'&')
        .filter_map(|pair| {
            let (k, v) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            (k == name.as_bytes()).then(|| {
                let mut buf = Vec::new();
                crate::h1::query::percent_decode(v, &mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            })
        })
        .collect()
}

/// A checked name from `?name=`: the file's path, or the answer was written.
fn named_path(dir: &Path, raw: Option<String>, out: &mut Vec<u8>) -> Option<(String, PathBuf)> {
    let name = raw.unwrap_or_default().trim().to_string();
    if unsafe_name(&name) {
        error(out, 400, "invalid name");
        return None;
    }
    if !is_json_name(&name) {
        error(out, 400, "name must end with .json");
        return None;
    }
    let path = dir.join(&name);
    Some((name, path))
}

// ------------------------------------------------------------ list

/// One list entry for the file at `path`.
fn entry(dir: &Path, path: &Path) -> Option<Value> {
    let meta = std::fs::metadata(path).ok()?;
    let bytes = std::fs::read(path).ok()?;
    let obj: Map<String, Value> = match serde_json::from_slice(&bytes) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    };
    let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let kind = s("type");
    let email = s("email");
    let disabled = obj
        .get("disabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let name = path.file_name()?.to_string_lossy().into_owned();
    let id = path
        .strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    let mut e = json!({
        "id": id,
        "name": name,
        "auth_index": auth_index(&kind, path),
        "type": kind,
        "provider": kind,
        "label": email,
        "email": email,
        "account": email,
        "account_type": "oauth",
        "status": if disabled { "disabled" } else { "active" },
        "status_message": "",
        "disabled": disabled,
        "unavailable": false,
        "runtime_only": false,
        "source": "file",
        "path": path.display().to_string(),
        "size": meta.len(),
        "modtime": meta.modified().map(rfc3339).unwrap_or_default(),
    });
    if let Value::Object(m) = &mut e {
        for k in [
            "priority",
            "note",
            "prefix",
            "proxy_url",
            "project_id",
            "last_refresh",
        ] {
            if let Some(v) = obj.get(k) {
                m.insert(k.to_string(), v.clone());
            }
        }
    }
    Some(e)
}

/// The list entries of every file in `auth-dir`, with its id (path
/// relative to `auth-dir`, the scheduler's credential id of an account).
pub(super) fn list_entries(snap: &Snapshot) -> Vec<(String, Value)> {
    let dir = auth_dir(snap);
    crate::accounts::store::json_files(&dir)
        .iter()
        .filter_map(|p| {
            let e = entry(&dir, p)?;
            let id = e
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            Some((id, e))
        })
        .collect()
}

fn list(snap: &Snapshot, out: &mut Vec<u8>) {
    let files: Vec<Value> = list_entries(snap).into_iter().map(|(_, e)| e).collect();
    json(out, 200, &json!({ "files": files }));
}

// ------------------------------------------------------------ upload

/// Checks and writes one uploaded file; the error is the client's message.
fn store(dir: &Path, name: &str, data: &[u8], multipart: bool) -> Result<(), (u16, String)> {
    let name = name.trim();
    if unsafe_name(name) {
        return Err((400, "invalid name".into()));
    }
    if !is_json_name(name) {
        let m = if multipart {
            "file must be .json"
        } else {
            "name must end with .json"
        };
        return Err((400, m.into()));
    }
    if data.len() > MAX_FILE {
        return Err((400, format!("file is larger than {MAX_FILE} bytes")));
    }
    if !matches!(serde_json::from_slice::<Value>(data), Ok(Value::Object(_))) {
        return Err((400, "invalid auth file: not a JSON object".into()));
    }
    create_dir(dir).map_err(|e| (500, format!("failed to save file: {e}")))?;
    crate::accounts::file::write_atomic(&dir.join(name), data)
        .map_err(|e| e.to_string())
        .map_err(|e| (500, format!("failed to save file: {e}")))
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn upload(snap: &Snapshot, req: &Request<'_>, out: &mut Vec<u8>) {
    let dir = auth_dir(snap);
    let ct = req.header("content-type").unwrap_or_default();
    if ct.len() >= 19 && ct[..19].eq_ignore_ascii_case(b"multipart/form-data") {
        let parts = match multipart(ct, req.body()) {
            Ok(p) => p,
            Err(e) => {
                error(out, 400, &format!("invalid multipart form: {e}"));
                return;
            }
        };
        let files: Vec<_> = parts
            .into_iter()
            .filter(|p| matches!(p.field.as_str(), "file" | "files" | "file[]"))
            .collect();
        if files.is_empty() {
            error(out, 400, "no files uploaded");
            return;
        }
        let mut uploaded = Vec::new();
        let mut failed = Vec::new();
        let mut last_err = (400, String::new());
        for f in &files {
            let base = f
                .filename
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or("")
                .to_string();
            match store(&dir, &base, &f.data, true) {
                Ok(()) => uploaded.push(base.trim().to_string()),
                Err(e) => {
                    failed.push(json!({"name": f.filename, "error": e.1}));
                    last_err = e;
                }
            }
        }
        if files.len() == 1 {
            if failed.is_empty() {
                json(out, 200, &json!({"status": "ok"}));
            } else {
                error(out, last_err.0, &last_err.1);
            }
        } else if failed.is_empty() {
            json(
                out,
                200,
                &json!({"status": "ok", "uploaded": uploaded.len(), "files": uploaded}),
            );
        } else {
            json(
                out,
                207,
                &json!({"status": "partial", "uploaded": uploaded.len(), "files": uploaded, "failed": failed}),
            );
        }
        return;
    }
    let name = query(req, "name").unwrap_or_default();
    match store(&dir, &name, req.body(), false) {
        Ok(()) => json(out, 200, &json!({"status": "ok"})),
        Err((status, m)) => error(out, status, &m),
    }
}

/// One part of a `multipart/form-data` body.
pub struct Part {
    /// The form field name.
    pub field: String,
    /// The part's file name (`""` for a plain field).
    pub filename: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

fn param(header: &str, key: &str) -> Option<String> {
    for piece in header.split(';') {
        let piece = piece.trim();
        if let Some((k, v)) = piece.split_once('=') {
            if k.trim().eq_ignore_ascii_case(key) {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                return Some(v.to_string());
            }
        }
    }
    None
}

/// Splits a `multipart/form-data` body (RFC 7578) into its parts.
pub fn multipart(content_type: &[u8], body: &[u8]) -> Result<Vec<Part>, String> {
    let ct = String::from_utf8_lossy(content_type);
    let boundary = param(&ct, "boundary").ok_or("no boundary")?;
    if boundary.is_empty() || boundary.len() > 200 {
        return Err("bad boundary".into());
    }
    let delim = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delim.as_bytes());
    let mut starts: Vec<usize> = finder.find_iter(body).collect();
    if starts.is_empty() {
        return Err("no parts".into());
    }
    starts.push(body.len());
    let mut parts = Vec::new();
    let mut closed = false;
    for w in starts.windows(2) {
        let mut seg = &body[w[0] + delim.len()..w[1]];
        if seg.starts_with(b"--") {
            closed = true;
            break;
        }
        seg = seg.strip_prefix(b"\r\n").ok_or("malformed part")?;
        // The CRLF before the next delimiter belongs to the delimiter.
        seg = seg.strip_suffix(b"\r\n").ok_or("malformed part")?;
        let split = memchr::memmem::find(seg, b"\r\n\r\n").ok_or("part without headers")?;
        let head = String::from_utf8_lossy(&seg[..split]);
        let data = seg[split + 4..].to_vec();
        let mut field = String::new();
        let mut filename = String::new();
        for line in head.split("\r\n") {
            if let Some((n, v)) = line.split_once(':') {
                if n.trim().eq_ignore_ascii_case("content-disposition") {
                    field = param(v, "name").unwrap_or_default();
                    filename = param(v, "filename").unwrap_or_default();
                }
            }
        }
        parts.push(Part {
            field,
            filename,
            data,
        });
    }
    if !closed {
        return Err("no closing boundary".into());
    }
    Ok(parts)
}

// ------------------------------------------------------------ download, delete

fn download(snap: &Snapshot, req: &Request<'_>, out: &mut Vec<u8>) {
    let Some((name, path)) = named_path(&auth_dir(snap), query(req, "name"), out) else {
        return;
    };
    match std::fs::read(&path) {
        Ok(data) => {
            let disp = format!("attachment; filename=\"{name}\"");
            answer_with(
                out,
                200,
                b"application/json",
                &[("Content-Disposition", disp.as_bytes())],
                &data,
            );
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => error(out, 404, "file not found"),
        Err(e) => error(out, 500, &format!("failed to read file: {e}")),
    }
}

fn delete(snap: &Snapshot, req: &Request<'_>, out: &mut Vec<u8>) {
    let dir = auth_dir(snap);
    let all = query(req, "all").is_some_and(|a| matches!(a.trim(), "true" | "1" | "*"));
    if all {
        let mut deleted = 0usize;
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if is_json_name(&name)
                    && e.file_type().is_ok_and(|t| t.is_file())
                    && std::fs::remove_file(e.path()).is_ok()
                {
                    deleted += 1;
                }
            }
        }
        json(out, 200, &json!({"status": "ok", "deleted": deleted}));
        return;
    }
    let names = query_all(req, "name");
    if names.is_empty() {
        error(out, 400, "invalid name");
        return;
    }
    let mut paths = Vec::new();
    for n in names {
        let Some((_, p)) = named_path(&dir, Some(n), out) else {
            return;
        };
        paths.push(p);
    }
    for p in &paths {
        match std::fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                error(out, 404, "file not found");
                return;
            }
            Err(e) => {
                error(out, 500, &format!("failed to remove file: {e}"));
                return;
            }
        }
    }
    json(out, 200, &json!({"status": "ok"}));
}

// ------------------------------------------------------------ status, fields

/// Whether a JSON value has the type a field takes.
type TypeCheck = fn(&Value) -> bool;

/// Fields `PATCH /auth-files/fields` may set, with their JSON types.
const FIELDS: &[(&str, TypeCheck)] = &[
    ("priority", |v| v.is_i64() || v.is_null()),
    ("note", |v| v.is_string() || v.is_null()),
    ("prefix", |v| v.is_string() || v.is_null()),
    ("proxy_url", |v| v.is_string() || v.is_null()),
    ("request_retry", |v| v.is_i64() || v.is_null()),
    ("weight", |v| v.is_i64() || v.is_null()),
    ("headers", |v| v.is_object() || v.is_null()),
    ("project_id", |v| v.is_string() || v.is_null()),
];

fn edit_file(
    snap: &Snapshot,
    body: &Value,
    out: &mut Vec<u8>,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> bool {
    let dir = auth_dir(snap);
    let name = body.get("name").and_then(Value::as_str).map(str::to_string);
    let Some((_, path)) = named_path(&dir, name, out) else {
        return false;
    };
    let mut obj = match std::fs::read(&path) {
        Ok(b) => match serde_json::from_slice::<Value>(&b) {
            Ok(Value::Object(o)) => o,
            _ => {
                error(out, 500, "auth file is not a JSON object");
                return false;
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            error(out, 404, "auth file not found");
            return false;
        }
        Err(e) => {
            error(out, 500, &format!("failed to read file: {e}"));
            return false;
        }
    };
    edit(&mut obj);
    let mut text = serde_json::to_vec_pretty(&Value::Object(obj)).unwrap_or_default();
    text.push(b'\n');
    if let Err(e) = crate::accounts::file::write_atomic(&path, &text).map_err(|e| e.to_string()) {
        error(out, 500, &format!("failed to save file: {e}"));
        return false;
    }
    true
}

fn status(snap: &Snapshot, req: &Request<'_>, out: &mut Vec<u8>) {
    let body = serde_json::from_slice::<Value>(req.body()).unwrap_or(Value::Null);
    let Some(disabled) = body.get("disabled").and_then(Value::as_bool) else {
        error(out, 400, "disabled is required");
        return;
    };
    if edit_file(snap, &body, out, |o| {
        o.insert("disabled".into(), Value::Bool(disabled));
    }) {
        json(out, 200, &json!({"status": "ok", "disabled": disabled}));
    }
}

fn fields(snap: &Snapshot, req: &Request<'_>, out: &mut Vec<u8>) {
    let body = serde_json::from_slice::<Value>(req.body()).unwrap_or(Value::Null);
    let Some(obj) = body.as_object() else {
        error(out, 400, "invalid body");
        return;
    };
    let mut set = Vec::new();
    for (k, v) in obj {
        if k == "name" {
            continue;
        }
        match FIELDS.iter().find(|(f, _)| f == k) {
            Some((_, ok)) if ok(v) => set.push((k.clone(), v.clone())),
            Some(_) => {
                error(out, 400, &format!("invalid value for {k}"));
                return;
            }
            None => {
                error(out, 400, &format!("unsupported field: {k}"));
                return;
            }
        }
    }
    if set.is_empty() {
        error(out, 400, "no fields to update");
        return;
    }
    if edit_file(snap, &body, out, |o| {
        for (k, v) in set {
            if v.is_null() {
                o.remove(&k);
            } else {
                o.insert(k, v);
            }
        }
    }) {
        json(out, 200, &json!({"status": "ok"}));
    }
}

/// `GET /auth-files/models?name=` (or `?auth_index=`): the models the
/// named auth file serves
/// now (`{"models":[{"id", "display_name"?, "type"?, "owned_by"?}]}`); a
/// file that serves none (disabled, unknown) answers an empty list, as
/// CLIProxyAPI's registry lookup does.
fn models(snap: &Snapshot, req: &Request<'_>, out: &mut Vec<u8>) {
    let name = query(req, "name").unwrap_or_default().trim().to_string();
    let index = query(req, "auth_index")
        .unwrap_or_default()
        .trim()
        .to_string();
    if name.is_empty() && index.is_empty() {
        error(out, 400, "name is required");
        return;
    }
    let serving: Vec<usize> = (0..snap.providers.len())
        .filter(|&i| {
            snap.providers[i].account.as_ref().is_some_and(|a| {
                if name.is_empty() {
                    return auth_index(a.kind.as_type(), &a.path) == index;
                }
                a.id == name
                    || a.path
                        .file_name()
                        .is_some_and(|f| f.to_string_lossy() == name)
            })
        })
        .collect();
    let mut ids: Vec<&String> = snap
        .routes
        .iter()
        .filter(|(_, ts)| ts.iter().any(|t| serving.contains(&t.provider)))
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    let list: Vec<Value> = ids
        .into_iter()
        .map(|id| {
            let mut m = Map::new();
            m.insert("id".into(), Value::String(id.clone()));
            if let Some(info) = snap.registry.info(id) {
                for (k, v) in [
                    ("display_name", &info.display_name),
                    ("type", &info.model_type),
                    ("owned_by", &info.owned_by),
                ] {
                    if !v.is_empty() {
                        m.insert(k.into(), Value::String(v.clone()));
                    }
                }
            }
            Value::Object(m)
        })
        .collect();
    json(out, 200, &json!({ "models": list }));
}

/// The auth-file routes below the prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    List,
    Upload,
    Delete,
    Download,
    Status,
    Fields,
    Models,
}

pub(super) fn find(method: &[u8], sub: &[u8]) -> Option<Op> {
    Some(match (method, sub) {
        (b"GET", b"/auth-files") => Op::List,
        (b"POST", b"/auth-files") => Op::Upload,
        (b"DELETE", b"/auth-files") => Op::Delete,
        (b"GET", b"/auth-files/download") => Op::Download,
        (b"PATCH", b"/auth-files/status") => Op::Status,
        (b"PATCH", b"/auth-files/fields") => Op::Fields,
        (b"GET", b"/auth-files/models") => Op::Models,
        _ => return None,
    })
}

pub(super) fn serve(op: Op, snap: &Snapshot, req: &Request<'_>, out: &mut Vec<u8>) {
    match op {
        Op::List => list(snap, out),
        Op::Upload => upload(snap, req, out),
        Op::Delete => delete(snap, req, out),
        Op::Download => download(snap, req, out),
        Op::Status => status(snap, req, out),
        Op::Fields => fields(snap, req, out),
        Op::Models => models(snap, req, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_v69() {
        for bad in [
            "",
            "../external/secret.json",
            "..\\external\\secret.json",
            "nested/secret.json",
            "C:secret.json",
            "c:\\x.json",
        ] {
            assert!(unsafe_name(bad.trim()), "{bad}");
        }
        for good in ["download-user.json", "a.b.json", "..json"] {
            assert!(!unsafe_name(good), "{good}");
        }
    }

    #[test]
    fn rfc3339_dates() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    /// A simple oracle: the parts a body was built from.
    fn build(boundary: &str, parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (field, file, data) in parts {
            b.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            b.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\nContent-Type: application/json\r\n\r\n"
                )
                .as_bytes(),
            );
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        b
    }

    #[test]
    fn multipart_parts_round_trip() {
        let parts: &[(&str, &str, &[u8])] = &[
            ("file", "a.json", b"{\"type\":\"claude\"}"),
            ("file", "b.json", b"{\r\n\"x\": \"--not-the-boundary\"}\r\n"),
            ("other", "", b""),
        ];
        let body = build("XyZ123", parts);
        let got = multipart(b"multipart/form-data; boundary=XyZ123", &body).unwrap();
        assert_eq!(got.len(), 3);
        for (g, (field, file, data)) in got.iter().zip(parts) {
            assert_eq!((g.field.as_str(), g.filename.as_str()), (*field, *file));
            assert_eq!(g.data, *data);
        }
        let quoted = multipart(b"multipart/form-data; boundary=\"XyZ123\"", &body).unwrap();
        assert_eq!(quoted.len(), 3);
        // Every truncation is an error, never a panic.
        for cut in 0..body.len() - 2 {
            assert!(multipart(b"multipart/form-data; boundary=XyZ123", &body[..cut]).is_err());
        }
        assert!(multipart(b"multipart/form-data", &body).is_err());
    }
}
