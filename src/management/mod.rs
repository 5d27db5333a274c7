//! The management API under `/v0/management` (CLIProxyAPI's shapes).
//!
//! Where it sits: `pipeline::handle` tries every proxy route first and sends
//! a path starting with `/v0/management` here only when nothing else matched,
//! so the proxy's routes never pay for it; when management is off (no
//! `remote-management.secret-key`, no `MANAGEMENT_PASSWORD`) the prefix is a
//! plain 404 like any unknown route.
//!
//! Handlers run on the worker that received the request and may block
//! briefly: a config edit reads, edits and atomically rewrites `config.yaml`
//! (a few KiB). They never apply anything themselves: the control thread
//! sees the file change and reloads it through the same path as an editor's
//! save ([`crate::control`]), so there is one apply path.
//!
//! - [`access`]: key, locality, ban rules.
//! - [`yaml_edit`]: comment-preserving edits of `config.yaml`.
//! - [`auth_files`]: the `/auth-files` routes.
//! - [`usage`]: usage statistics, counted per worker and merged on read.
//! - [`panel`]: the control panel (`/management.html`) and `/latest-version`.
//! - `routes`: the route table and the config routes.
//! - [`oauth`]: logins started from the browser (`*-auth-url`, sessions,
//!   the main-port callback sinks).
//! - `live`: runtime credential state (`/auth-files` runtime fields,
//!   `/reset-quota`) and `/api-call`.
//! - `offload`: blocking work of a handler on its own thread.

pub mod access;
mod ampcode;
pub mod auth_files;
mod config_file;
mod live;
mod logs;
pub mod oauth;
mod oauth_maps;
mod offload;
pub mod panel;
mod routes;
pub mod usage;
mod vertex_import;
pub mod yaml_edit;

use crate::h1::encode;
use crate::runtime::Worker;
use crate::server::{Conn, Request};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Mutex, OnceLock};

/// The route prefix.
pub const PREFIX: &[u8] = b"/v0/management";

/// Process-wide management state, set once by the binary at start.
pub struct Plane {
    /// The config file management edits (the one the control thread watches).
    pub config_path: PathBuf,
    /// Access rules and ban table.
    pub gate: access::Gate,
    /// Serialises read-modify-write cycles on the config file.
    pub(crate) write_lock: Mutex<()>,
}

static PLANE: OnceLock<Plane> = OnceLock::new();

/// The management plane, once [`init`] ran.
pub(crate) fn plane() -> Option<&'static Plane> {
    PLANE.get()
}

/// Installs the management plane for the config at `config_path`, reading
/// `MANAGEMENT_PASSWORD` from the environment. Call once before serving.
pub fn init(config_path: &Path) {
    let path = std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_path_buf());
    let _ = PLANE.set(Plane {
        config_path: path,
        gate: access::Gate::new(std::env::var("MANAGEMENT_PASSWORD").ok()),
        write_lock: Mutex::new(()),
    });
}

/// The version headers every management answer carries (CLIProxyAPI's
/// names; the commit and build date come from the build environment when
/// set, else Go's defaults `none` / `unknown`).
fn version_headers() -> [(&'static str, &'static [u8]); 3] {
    [
        ("X-CPA-VERSION", env!("CARGO_PKG_VERSION").as_bytes()),
        (
            "X-CPA-COMMIT",
            option_env!("CLIPROXY_COMMIT").unwrap_or("none").as_bytes(),
        ),
        (
            "X-CPA-BUILD-DATE",
            option_env!("CLIPROXY_BUILD_DATE")
                .unwrap_or("unknown")
                .as_bytes(),
        ),
    ]
}

/// Writes a complete management answer.
pub(crate) fn answer(out: &mut Vec<u8>, status: u16, content_type: &[u8], body: &[u8]) {
    answer_with(out, status, content_type, &[], body);
}

/// [`answer`] with extra headers.
pub(crate) fn answer_with(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &[u8],
    extra: &[(&str, &[u8])],
    body: &[u8],
) {
    encode::status_line(out, status);
    encode::header(out, "Content-Type", content_type);
    encode::header(
        out,
        crate::pipeline::reply::CORS_ORIGIN.0,
        crate::pipeline::reply::CORS_ORIGIN.1,
    );
    for (n, v) in version_headers().iter().chain(extra) {
        encode::header(out, n, v);
    }
    encode::content_length(out, body.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// A JSON answer.
pub(crate) fn json(out: &mut Vec<u8>, status: u16, v: &serde_json::Value) {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    answer(out, status, b"application/json; charset=utf-8", &body);
}

/// `{"error": msg}` with `status`.
pub(crate) fn error(out: &mut Vec<u8>, status: u16, msg: &str) {
    json(out, status, &serde_json::json!({ "error": msg }));
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    crate::obs::now_ms()
}

/// Whether management routes exist for this config.
pub fn enabled(cfg: &crate::config::Config, plane: Option<&Plane>) -> bool {
    !cfg.remote_management.secret_key.is_empty() || plane.is_some_and(|p| p.gate.has_env_secret())
}

/// Serves one request whose path starts with [`PREFIX`]. Returns whether
/// the connection may serve another.
pub async fn handle(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
    let snap = w.snapshot();
    let plane = PLANE.get();
    let sub = &req.path()[PREFIX.len()..];
    let route = match plane {
        Some(p) if enabled(&snap.config, Some(p)) => find(req.method(), sub).map(|r| (p, r)),
        _ => None,
    };
    let Some((plane, route)) = route else {
        // gin: a route that is not registered is a plain-text 404.
        return no_route(conn, req).await;
    };
    if !admitted(plane, &snap.config, conn, req) {
        return conn.flush().await.is_ok();
    }
    match route {
        Found::Config(routes::Route::LatestVersion) => {
            panel::latest_version(w, &snap.config, &mut conn.out).await
        }
        Found::Config(route) => routes::serve(plane, &snap, route, req, &mut conn.out),
        Found::OAuth(op) => oauth::serve(w, &snap, op, req, &mut conn.out).await,
        Found::Live(op) => live::serve(w, &snap, op, req, &mut conn.out).await,
    }
    conn.flush().await.is_ok()
}

/// A management route, by the module that serves it.
enum Found {
    Config(routes::Route),
    OAuth(oauth::Op),
    Live(live::Op),
}

fn find(method: &[u8], sub: &[u8]) -> Option<Found> {
    if let Some(op) = live::find(method, sub) {
        return Some(Found::Live(op));
    }
    if let Some(op) = oauth::find(method, sub) {
        return Some(Found::OAuth(op));
    }
    routes::find(method, sub).map(Found::Config)
}

/// gin's answer to a route that is not registered: a plain-text 404.
async fn no_route(conn: &mut Conn, req: &Request<'_>) -> bool {
    let e = crate::error::Error::new(crate::error::ErrorKind::NoRoute, "");
    crate::pipeline::reply::error(
        &mut conn.out,
        &e,
        crate::translate::format::Format::OpenAiChat,
        req.method() == b"HEAD",
        &[],
    );
    conn.flush().await.is_ok()
}

/// The management key, locality and ban checks; on refusal the error is
/// written to `conn.out` (the caller flushes) and `false` returned.
fn admitted(
    plane: &Plane,
    config: &crate::config::Config,
    conn: &mut Conn,
    req: &Request<'_>,
) -> bool {
    let provided = access::presented(req.header("authorization"), req.header("x-management-key"));
    let rm = &config.remote_management;
    match plane.gate.check(
        conn.peer.ip(),
        rm.allow_remote,
        rm.secret_key.expose().trim(),
        provided,
    ) {
        Ok(()) => true,
        Err(d) => {
            error(&mut conn.out, d.status, &d.message);
            false
        }
    }
}

/// `GET /metrics` (cliproxy extension): 404 unless `metrics.enabled`; then
/// the management key is required (same gate, locality and ban rules as
/// `/v0/management`) unless `metrics.public` is set. With management off
/// and `public` unset the route is a 404.
pub async fn metrics(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
    let snap = w.snapshot();
    let m = &snap.config.metrics;
    let plane = PLANE.get();
    let allowed = m.enabled && (m.public || plane.is_some_and(|p| enabled(&snap.config, Some(p))));
    if !allowed {
        return no_route(conn, req).await;
    }
    if !m.public {
        if let Some(plane) = plane {
            if !admitted(plane, &snap.config, conn, req) {
                return conn.flush().await.is_ok();
            }
        }
    }
    let shared = &w.shared;
    let g = crate::obs::metrics::Gauges {
        cooling: shared.scheduler.cooling_counts(),
        upstream_opened: shared
            .upstream_opened
            .load(std::sync::atomic::Ordering::Relaxed),
        upstream_reused: shared
            .upstream_reused
            .load(std::sync::atomic::Ordering::Relaxed),
        open_connections: shared
            .open_connections
            .load(std::sync::atomic::Ordering::Relaxed) as u64,
    };
    let text = crate::obs::metrics::render(&g);
    encode::status_line(&mut conn.out, 200);
    encode::header(
        &mut conn.out,
        "Content-Type",
        b"text/plain; version=0.0.4; charset=utf-8",
    );
    if req.method() == b"HEAD" {
        encode::content_length(&mut conn.out, text.len());
        conn.out.extend_from_slice(b"\r\n");
    } else {
        encode::content_length(&mut conn.out, text.len());
        conn.out.extend_from_slice(b"\r\n");
        conn.out.extend_from_slice(text.as_bytes());
    }
    conn.flush().await.is_ok()
}

/// Makes sure a plaintext `remote-management.secret-key` in the config file
/// is replaced by its bcrypt hash, editing that one value in place (the
/// file's comments and layout stay). Returns whether the file was rewritten.
/// An error means the secret cannot be secured (unreadable file, flow-style
/// section, unwritable file): the caller must not serve with it.
pub fn secure_secret_key(path: &Path) -> Result<bool, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (raw, _) = crate::config::parse_raw(&text).map_err(|e| e.to_string())?;
    let plain = raw.remote_management.secret_key.expose().trim().to_string();
    if plain.is_empty() || access::is_bcrypt(&plain) {
        return Ok(false);
    }
    let hash = access::hash_secret(&plain)
        .map_err(|e| format!("remote-management.secret-key: cannot hash: {e}"))?;
    let edited = yaml_edit::set_scalar(
        &text,
        &["remote-management", "secret-key"],
        &yaml_edit::quote(&hash),
    )
    .map_err(|e| format!("remote-management.secret-key: cannot write the hash back: {e}"))?;
    // The edit must read back as exactly the hash, or nothing is written.
    let (check, _) = crate::config::parse_raw(&edited).map_err(|e| e.to_string())?;
    if check.remote_management.secret_key.expose() != hash {
        return Err("remote-management.secret-key: the hashed value did not read back".into());
    }
    crate::accounts::file::write_atomic(path, edited.as_bytes())
        .map_err(|e| e.to_string())
        .map_err(|e| {
            format!("remote-management.secret-key: cannot write the hash back to the config: {e}")
        })?;
    Ok(true)
}
