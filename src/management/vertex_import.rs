//! `POST /vertex/import`: a Vertex AI service-account key uploaded as the
//! multipart field `file` (location from the form field or query
//! `location`, default `us-central1`) becomes `vertex-<project>.json` in
//! `auth-dir`, as CLIProxyAPI's handler does; the control thread's auth-dir
//! scan then serves it. Answers: `{"status":"ok","auth-file":<path>,
//! "project_id","email","location"}`; 400 `{"error":"file required"}`,
//! `{"error":"invalid json"|"invalid service account","message":..}`,
//! `{"error":"project_id missing"}`; 500 `{"error":"save_failed",..}`.

use super::auth_files::{auth_dir, multipart, query};
use super::json;
use crate::accounts::vertex;
use crate::server::Request;
use crate::state::Snapshot;
use serde_json::json;

/// Largest key file accepted (a key is a few KiB).
const MAX_FILE: usize = 1 << 20;

pub(super) fn serve(snap: &Snapshot, req: &Request<'_>, out: &mut Vec<u8>) {
    let ct = req.header("content-type").unwrap_or_default();
    let is_form = ct.len() >= 19 && ct[..19].eq_ignore_ascii_case(b"multipart/form-data");
    let parts = if is_form {
        multipart(ct, req.body()).unwrap_or_default()
    } else {
        Vec::new()
    };
    let Some(file) = parts.iter().find(|p| p.field == "file") else {
        json(out, 400, &json!({"error": "file required"}));
        return;
    };
    if file.data.len() > MAX_FILE {
        json(
            out,
            400,
            &json!({"error": "failed to read file", "message": "file too large"}),
        );
        return;
    }
    let form_location = parts
        .iter()
        .find(|p| p.field == "location" && p.filename.is_empty())
        .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
        .unwrap_or_default();
    let location = if form_location.is_empty() {
        query(req, "location").unwrap_or_default()
    } else {
        form_location
    };
    let imp = match vertex::import(&file.data, &location) {
        Ok(i) => i,
        Err(e) if e.message.is_empty() => {
            json(out, 400, &json!({"error": e.error}));
            return;
        }
        Err(e) => {
            json(out, 400, &json!({"error": e.error, "message": e.message}));
            return;
        }
    };
    match vertex::save(&auth_dir(snap), &imp) {
        Ok(path) => json(
            out,
            200,
            &json!({
                "status": "ok",
                "auth-file": path.display().to_string(),
                "project_id": imp.project_id,
                "email": imp.email,
                "location": imp.location,
            }),
        ),
        Err(e) => json(out, 500, &json!({"error": "save_failed", "message": e})),
    }
}
