//! The config file as the management routes edit it: read (text or raw
//! shape), change under the plane's write lock, validate with the loader,
//! write atomically; plus the request helpers every route module shares.

use super::{error, json, Plane};
use crate::config::RawConfig;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
/// The methods the routes take.
pub(super) enum Method {
    Get,
    Put,
    Patch,
    Delete,
}

pub(super) fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

pub(super) fn read_text(plane: &Plane, out: &mut Vec<u8>) -> Option<String> {
    match std::fs::read_to_string(&plane.config_path) {
        Ok(t) => Some(t),
        Err(e) => {
            error(out, 500, &format!("failed to read config: {e}"));
            None
        }
    }
}

pub(super) fn read_raw(plane: &Plane, out: &mut Vec<u8>) -> Option<(String, RawConfig)> {
    let text = read_text(plane, out)?;
    match crate::config::parse_raw(&text) {
        Ok((raw, _)) => Some((text, raw)),
        Err(e) => {
            error(out, 500, &format!("failed to read config: {e}"));
            None
        }
    }
}

/// Validates `text` as a whole config, writes it atomically and answers
/// `{"status":"ok"}` (or the reason it was not written).
fn commit(plane: &Plane, text: &str, out: &mut Vec<u8>) {
    if let Err(e) = crate::config::parse_str(text, base_dir(&plane.config_path)) {
        json(
            out,
            422,
            &json!({"error": "invalid_config", "message": e.to_string()}),
        );
        return;
    }
    if let Err(e) = crate::accounts::file::write_atomic(&plane.config_path, text.as_bytes())
        .map_err(|e| e.to_string())
    {
        error(out, 500, &format!("failed to save config: {e}"));
        return;
    }
    json(out, 200, &json!({"status": "ok"}));
}

/// Runs `edit` on the current file text under the write lock, then commits.
pub(super) fn mutate(
    plane: &Plane,
    out: &mut Vec<u8>,
    edit: impl FnOnce(&str, &mut Vec<u8>) -> Option<String>,
) {
    let _guard = plane.write_lock.lock().unwrap_or_else(|p| p.into_inner());
    let Some(text) = read_text(plane, out) else {
        return;
    };
    let Some(new_text) = edit(&text, out) else {
        return;
    };
    commit(plane, &new_text, out);
}

pub(super) fn body_json(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

pub(super) fn doc_of(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str::<serde_yaml::Value>(text).unwrap_or(serde_yaml::Value::Null)
}

/// `auth_index` of an API-key credential (reference §3.4): the first 16 hex
/// digits of SHA-256 of `"<section>:<base_url>+<api_key>"`.
pub fn auth_index(section: &str, base_url: &str, api_key: &str) -> String {
    let d = Sha256::digest(format!("{section}:{base_url}+{api_key}").as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}
