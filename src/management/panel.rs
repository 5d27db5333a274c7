//! The control panel (`GET /management.html`) and `GET /latest-version`.
//!
//! The panel is one HTML file (CLIProxyAPI's Management Center release
//! asset) kept in a static directory:
//! - `MANAGEMENT_STATIC_PATH` (a directory, or the file itself),
//! - else `$WRITABLE_PATH/static`,
//! - else `static/` next to the config file.
//!
//! `remote-management.disable-control-panel: true` answers 404 and never
//! downloads. When the file is missing, the request that finds it starts a
//! download from the latest release of `panel-github-repository` (the
//! GitHub API, through `proxy-url`, with a timeout; `sha256` digest checked
//! when the release states one; written to a temporary file and renamed)
//! and waits for it as CLIProxyAPI does, then answers the file or 404. The
//! download runs on its own thread: the worker only awaits a wake-up, so it
//! keeps serving its other connections. Concurrent requests share one
//! download, and attempts are at least [`SYNC_MIN_INTERVAL`] apart.
//!
//! Once the panel has been served (or is found at start), a background
//! thread re-checks the release every [`UPDATE_INTERVAL`] and replaces the
//! file when its digest changed, unless `disable-auto-update-panel` or
//! `disable-control-panel` is set at that time. Unlike CLIProxyAPI, nothing
//! is fetched at start while no panel file exists: a relay whose panel
//! nobody opens never calls GitHub.
//!
//! `/latest-version` asks the GitHub API for CLIProxyAPI's latest release
//! tag through the same fetcher, also off the worker.

use crate::accounts::http::{Limits, Reply};
use crate::accounts::Net;
use crate::config::Config;
use crate::h1::encode;
use crate::runtime::Worker;
use crate::server::Conn;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The panel's file name (and the release asset's name).
pub const FILE_NAME: &str = "management.html";
/// The release CLIProxyAPI checks when `panel-github-repository` is unusable.
pub const DEFAULT_RELEASE_URL: &str =
    "https://api.github.com/repos/router-for-me/Cli-Proxy-API-Management-Center/releases/latest";
/// The page CLIProxyAPI falls back to when the release cannot be had and no
/// panel file exists (no digest to check it against).
pub const FALLBACK_URL: &str = "https://cpamc.router-for.me/";
/// Where `/latest-version` looks.
pub const LATEST_RELEASE_URL: &str =
    "https://api.github.com/repos/router-for-me/CLIProxyAPI/releases/latest";
/// Minimum time between two download attempts (CLIProxyAPI's throttle).
pub const SYNC_MIN_INTERVAL: Duration = Duration::from_secs(30);
/// How often a served panel is checked against the latest release.
pub const UPDATE_INTERVAL: Duration = Duration::from_secs(3 * 3600);
/// Largest panel accepted.
const MAX_ASSET: usize = 50 << 20;
/// Largest release description read.
const MAX_RELEASE: usize = 1 << 20;
const UPDATER_AGENT: &str = "CLIProxyAPI-management-updater";
const RELEASE_TIMEOUT: Duration = Duration::from_secs(15);
const ASSET_TIMEOUT: Duration = Duration::from_secs(60);
const LATEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 5;

// ------------------------------------------------------------ where the file lives

/// The directory the panel lives in, for the config at `config_path`.
pub fn static_dir(config_path: &Path) -> PathBuf {
    static_dir_with(
        config_path,
        std::env::var("MANAGEMENT_STATIC_PATH").ok().as_deref(),
        writable_path().as_deref(),
    )
}

/// The panel file's path, for the config at `config_path`.
pub fn file_path(config_path: &Path) -> PathBuf {
    file_path_with(
        config_path,
        std::env::var("MANAGEMENT_STATIC_PATH").ok().as_deref(),
        writable_path().as_deref(),
    )
}

/// `WRITABLE_PATH` (or `writable_path`), trimmed, when set.
fn writable_path() -> Option<String> {
    ["WRITABLE_PATH", "writable_path"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

fn names_the_file(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(FILE_NAME))
}

fn static_dir_with(config_path: &Path, over: Option<&str>, writable: Option<&str>) -> PathBuf {
    if let Some(o) = over.map(str::trim).filter(|o| !o.is_empty()) {
        let p = PathBuf::from(o);
        if names_the_file(&p) {
            return p.parent().map(Path::to_path_buf).unwrap_or_default();
        }
        return p;
    }
    if let Some(w) = writable {
        return Path::new(w).join("static");
    }
    let base = if config_path.is_dir() {
        config_path.to_path_buf()
    } else {
        config_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    base.join("static")
}

fn file_path_with(config_path: &Path, over: Option<&str>, writable: Option<&str>) -> PathBuf {
    if let Some(o) = over.map(str::trim).filter(|o| !o.is_empty()) {
        let p = PathBuf::from(o);
        if names_the_file(&p) {
            return p;
        }
        return p.join(FILE_NAME);
    }
    static_dir_with(config_path, None, writable).join(FILE_NAME)
}

/// The GitHub API URL of the latest release of `repo` (a repository URL
/// `https://github.com/o/r`, or an `api.github.com` repository, releases or
/// release URL); CLIProxyAPI's default panel release otherwise.
pub fn release_url(repo: &str) -> String {
    let repo = repo.trim();
    let Some(rest) = repo
        .strip_prefix("https://")
        .or_else(|| repo.strip_prefix("http://"))
    else {
        return DEFAULT_RELEASE_URL.to_string();
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.trim_end_matches('/');
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let host = host.to_ascii_lowercase();
    let scheme = &repo[..repo.len() - rest.len()];
    if host == "api.github.com" {
        let is_repos = parts.len() >= 4
            && parts[0].eq_ignore_ascii_case("repos")
            && !parts[1].is_empty()
            && !parts[2].is_empty()
            && parts[3].eq_ignore_ascii_case("releases");
        // .../releases/{id|latest} or .../releases/tags/{tag}: as given.
        if is_repos
            && ((parts.len() == 5 && !parts[4].is_empty())
                || (parts.len() == 6
                    && parts[4].eq_ignore_ascii_case("tags")
                    && !parts[5].is_empty()))
        {
            return format!("{scheme}{host}{path}");
        }
        if is_repos && parts.len() == 4 {
            return format!("{scheme}{host}{path}/latest");
        }
        if path.to_ascii_lowercase().ends_with("/releases/latest") {
            return format!("{scheme}{host}{path}");
        }
        return format!("{scheme}{host}{path}/releases/latest");
    }
    if host == "github.com" && parts.len() >= 2 && !parts[0].is_empty() && !parts[1].is_empty() {
        let name = parts[1].strip_suffix(".git").unwrap_or(parts[1]);
        return format!(
            "https://api.github.com/repos/{}/{name}/releases/latest",
            parts[0]
        );
    }
    DEFAULT_RELEASE_URL.to_string()
}

// ------------------------------------------------------------ fetching

/// What a download needs, captured on the worker and moved to the thread.
#[derive(Clone)]
pub struct Source {
    /// Upstream TLS roots (webpki plus `--upstream-ca`).
    pub tls: Arc<rustls::ClientConfig>,
    /// The global `proxy-url` (resolved on the fetching thread).
    pub proxy: Option<crate::config::ProxyUrl>,
    /// `panel-github-repository`.
    pub repo: String,
}

impl Source {
    fn of(tls: Arc<rustls::ClientConfig>, cfg: &Config) -> Source {
        Source {
            tls,
            proxy: cfg.proxy_url.clone(),
            repo: cfg.remote_management.panel_github_repository.clone(),
        }
    }

    fn net(&self) -> Net {
        Net {
            tls: self.tls.clone(),
            proxy: self
                .proxy
                .clone()
                .map(|u| Arc::new(crate::upstream::Proxy::resolve(u))),
        }
    }
}

/// GET `url`, following up to [`MAX_REDIRECTS`] redirects (GitHub's asset
/// links redirect to its download host).
fn get(net: &Net, url: &str, headers: &[(&str, &str)], limits: Limits) -> Result<Reply, String> {
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let f = crate::accounts::http::send(net, "GET", &url, headers, b"", limits)?;
        match (f.status, f.header("location").map(str::to_string)) {
            (301 | 302 | 303 | 307 | 308, Some(loc)) if !loc.is_empty() => {
                url = join_location(&url, &loc);
            }
            _ => return Ok(f),
        }
    }
    Err(format!("{url}: too many redirects"))
}

/// Resolves a `Location` value against the URL it answered.
fn join_location(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let origin_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|s| base[s..].find('/').map(|j| s + j))
        .unwrap_or(base.len());
    if loc.starts_with('/') {
        format!("{}{loc}", &base[..origin_end])
    } else {
        let dir_end = base
            .rfind('/')
            .filter(|&i| i >= origin_end)
            .unwrap_or(origin_end);
        format!("{}/{loc}", &base[..dir_end])
    }
}

fn short(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(200)]);
    s.trim().to_string()
}

/// The panel asset of a release: (download URL, lower-case sha256 or "").
fn panel_asset(release: &[u8]) -> Result<(String, String), String> {
    let v: serde_json::Value =
        serde_json::from_slice(release).map_err(|e| format!("release answer: {e}"))?;
    let assets = v
        .get("assets")
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default();
    for a in assets {
        let name = a.get("name").and_then(|n| n.as_str()).unwrap_or("");
        if name.eq_ignore_ascii_case(FILE_NAME) {
            let url = a
                .get("browser_download_url")
                .and_then(|u| u.as_str())
                .unwrap_or("")
                .trim()
                .to_string();
            if url.is_empty() {
                return Err("the release's panel asset has no download URL".into());
            }
            let digest = a.get("digest").and_then(|d| d.as_str()).unwrap_or("");
            let digest = digest.rsplit(':').next().unwrap_or("").trim();
            return Ok((url, digest.to_ascii_lowercase()));
        }
    }
    Err(format!("{FILE_NAME} not found in the latest release"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn download(net: &Net, url: &str) -> Result<Vec<u8>, String> {
    let limits = Limits {
        max_body: MAX_ASSET,
        timeout: ASSET_TIMEOUT,
    };
    let f = get(net, url, &[("User-Agent", UPDATER_AGENT)], limits)?;
    if f.status != 200 {
        return Err(format!(
            "{url}: download answered {}: {}",
            f.status,
            short(&f.body)
        ));
    }
    Ok(f.body)
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename: a reader sees the old file or the new one, never a part.
fn install(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    crate::accounts::file::write_atomic(path, bytes).map_err(|e| e.to_string())?;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
    Ok(())
}

/// One synchronisation of the panel file in `dir` with the latest release
/// (blocking; never on a worker). Mirrors CLIProxyAPI's
/// `EnsureLatestManagementHTML`: a missing file falls back to
/// [`FALLBACK_URL`] when the release cannot be had; an existing file is only
/// replaced by a download whose digest matches the release's.
pub fn sync_blocking(dir: &Path, src: &Source) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(FILE_NAME);
    let local = std::fs::read(&path).ok();
    let net = src.net();
    let release = release_url(&src.repo);
    let limits = Limits {
        max_body: MAX_RELEASE,
        timeout: RELEASE_TIMEOUT,
    };
    let headers = [
        ("Accept", "application/vnd.github+json"),
        ("User-Agent", UPDATER_AGENT),
    ];
    let asset = get(&net, &release, &headers, limits).and_then(|f| {
        if f.status != 200 {
            return Err(format!(
                "{release}: answered {}: {}",
                f.status,
                short(&f.body)
            ));
        }
        panel_asset(&f.body)
    });
    let fallback = |why: String| -> Result<(), String> {
        if local.is_some() {
            return Err(why);
        }
        crate::log_warn!("control panel: {why}; trying {FALLBACK_URL}");
        let bytes = download(&net, FALLBACK_URL)?;
        install(&path, &bytes)?;
        crate::log_warn!(
            "control panel: installed from {FALLBACK_URL} without a digest (sha256 {})",
            sha256_hex(&bytes)
        );
        Ok(())
    };
    let (url, digest) = match asset {
        Ok(a) => a,
        Err(e) => return fallback(e),
    };
    if let Some(l) = &local {
        if !digest.is_empty() && sha256_hex(l) == digest {
            return Ok(());
        }
    }
    let bytes = match download(&net, &url) {
        Ok(b) => b,
        Err(e) => return fallback(e),
    };
    let got = sha256_hex(&bytes);
    if !digest.is_empty() && got != digest {
        return Err(format!(
            "digest mismatch: the release says {digest}, the download is {got}; not installed"
        ));
    }
    install(&path, &bytes)?;
    crate::log_info!("control panel: {} updated (sha256 {got})", path.display());
    Ok(())
}

// ------------------------------------------------------------ single flight

struct Flight {
    running: bool,
    /// Completed attempts.
    done: u64,
    last: Option<Instant>,
    waiters: Vec<Waker>,
}

fn flight() -> &'static Mutex<Flight> {
    static F: std::sync::OnceLock<Mutex<Flight>> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        Mutex::new(Flight {
            running: false,
            done: 0,
            last: None,
            waiters: Vec::new(),
        })
    })
}

fn lock_flight() -> std::sync::MutexGuard<'static, Flight> {
    flight().lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a synchronisation unless one is running or the last one began
/// less than [`SYNC_MIN_INTERVAL`] ago. Returns the attempt count to wait
/// past, or `None` when nothing runs or will run.
fn start_sync(dir: PathBuf, src: Source) -> Option<u64> {
    let mut f = lock_flight();
    if f.running {
        return Some(f.done);
    }
    if f.last.is_some_and(|t| t.elapsed() < SYNC_MIN_INTERVAL) {
        return None;
    }
    f.running = true;
    f.last = Some(Instant::now());
    let target = f.done;
    drop(f);
    let spawned = std::thread::Builder::new()
        .name("panel-sync".into())
        .spawn(move || {
            struct Done;
            impl Drop for Done {
                fn drop(&mut self) {
                    let waiters = {
                        let mut f = lock_flight();
                        f.running = false;
                        f.done += 1;
                        std::mem::take(&mut f.waiters)
                    };
                    for w in waiters {
                        w.wake();
                    }
                }
            }
            let _done = Done;
            if let Err(e) = sync_blocking(&dir, &src) {
                crate::log_warn!("control panel: {e}");
            }
        });
    if spawned.is_err() {
        let mut f = lock_flight();
        f.running = false;
        return None;
    }
    Some(target)
}

/// Resolves once the attempt counter passes `target`.
struct Synced(u64);

impl Future for Synced {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut f = lock_flight();
        if f.done > self.0 || !f.running {
            return Poll::Ready(());
        }
        if !f.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            f.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

// ------------------------------------------------------------ the updater

/// Starts the thread that re-checks the panel every [`UPDATE_INTERVAL`]
/// (once per process). Each round reads the config file again, so a reload
/// that sets `disable-auto-update-panel`, `disable-control-panel`,
/// `proxy-url` or the repository takes effect at the next round.
pub fn start_updater(config_path: PathBuf, tls: Arc<rustls::ClientConfig>) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("panel-updater".into())
            .spawn(move || loop {
                #[allow(
                    clippy::disallowed_methods,
                    reason = "the updater's own thread, not a worker: waits between checks"
                )]
                std::thread::sleep(UPDATE_INTERVAL);
                let Ok((cfg, _)) = crate::config::load_file(&config_path) else {
                    continue;
                };
                let rm = &cfg.remote_management;
                if rm.disable_control_panel || rm.disable_auto_update_panel {
                    continue;
                }
                let dir = static_dir(&config_path);
                let _ = start_sync(dir, Source::of(tls.clone(), &cfg));
            });
        if let Err(e) = spawned {
            crate::log_warn!("control panel: cannot start the updater: {e}");
        }
    });
}

// ------------------------------------------------------------ serving

fn bare(out: &mut Vec<u8>, status: u16) {
    encode::status_line(out, status);
    encode::header(
        out,
        crate::pipeline::reply::CORS_ORIGIN.0,
        crate::pipeline::reply::CORS_ORIGIN.1,
    );
    encode::content_length(out, 0);
    out.extend_from_slice(b"\r\n");
}

fn page(out: &mut Vec<u8>, body: &[u8]) {
    encode::status_line(out, 200);
    encode::header(out, "Content-Type", b"text/html; charset=utf-8");
    encode::header(
        out,
        crate::pipeline::reply::CORS_ORIGIN.0,
        crate::pipeline::reply::CORS_ORIGIN.1,
    );
    encode::header(out, "Cache-Control", b"no-cache");
    encode::content_length(out, body.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// `GET /management.html`. Returns whether the connection may serve another.
pub async fn serve(w: &Rc<Worker>, conn: &mut Conn) -> bool {
    let snap = w.snapshot();
    let rm = &snap.config.remote_management;
    let Some(plane) = super::plane() else {
        bare(&mut conn.out, 404);
        return conn.flush().await.is_ok();
    };
    if rm.disable_control_panel {
        bare(&mut conn.out, 404);
        return conn.flush().await.is_ok();
    }
    let path = file_path(&plane.config_path);
    let mut read = std::fs::read(&path);
    if matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
        let src = Source::of(w.tls.clone(), &snap.config);
        if let Some(target) = start_sync(static_dir(&plane.config_path), src) {
            Synced(target).await;
        }
        read = std::fs::read(&path);
    }
    match read {
        Ok(bytes) => {
            if !rm.disable_auto_update_panel {
                start_updater(plane.config_path.clone(), w.tls.clone());
            }
            page(&mut conn.out, &bytes);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bare(&mut conn.out, 404),
        Err(e) => {
            crate::log_warn!("control panel: {}: {e}", path.display());
            bare(&mut conn.out, 500);
        }
    }
    conn.flush().await.is_ok()
}

/// At start: a panel that already exists is kept up to date from now on.
pub fn at_start(
    config_path: &Path,
    cfg: &Config,
    extra_roots: &[rustls::pki_types::CertificateDer<'static>],
) {
    let rm = &cfg.remote_management;
    if rm.disable_control_panel || rm.disable_auto_update_panel {
        return;
    }
    if !file_path(config_path).is_file() {
        return;
    }
    match crate::upstream::client_tls_config(extra_roots) {
        Ok(tls) => start_updater(config_path.to_path_buf(), tls),
        Err(e) => crate::log_warn!("control panel: no TLS roots for the updater: {e}"),
    }
}

/// `GET /latest-version`: `{"latest-version": tag}`, or 502 with
/// CLIProxyAPI's error codes when GitHub cannot be asked.
pub async fn latest_version(w: &Rc<Worker>, cfg: &Config, out: &mut Vec<u8>) {
    let src = Source::of(w.tls.clone(), cfg);
    let r = super::offload::run("latest-version", move || {
        let net = src.net();
        let limits = Limits {
            max_body: 256 << 10,
            timeout: LATEST_TIMEOUT,
        };
        let headers = [
            ("Accept", "application/vnd.github+json"),
            ("User-Agent", "CLIProxyAPI"),
        ];
        get(&net, LATEST_RELEASE_URL, &headers, limits)
    })
    .await;
    let f = match r {
        None => {
            return super::json(
                out,
                500,
                &serde_json::json!({"error": "request_create_failed", "message": "cannot start the request"}),
            )
        }
        Some(Err(e)) => {
            let (code, msg) = if e.contains("body too large") || e.contains("exceeds") {
                ("response_too_large", e)
            } else {
                ("request_failed", e)
            };
            return super::json(
                out,
                502,
                &serde_json::json!({"error": code, "message": msg}),
            );
        }
        Some(Ok(f)) => f,
    };
    if f.status != 200 {
        let msg = format!("status {}: {}", f.status, short(&f.body));
        return super::json(
            out,
            502,
            &serde_json::json!({"error": "unexpected_status", "message": msg}),
        );
    }
    let v: serde_json::Value = match serde_json::from_slice(&f.body) {
        Ok(v) => v,
        Err(e) => {
            return super::json(
                out,
                502,
                &serde_json::json!({"error": "read_failed", "message": e.to_string()}),
            )
        }
    };
    let field = |k: &str| {
        v.get(k)
            .and_then(|t| t.as_str())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    match field("tag_name").or_else(|| field("name")) {
        Some(tag) => super::json(out, 200, &serde_json::json!({ "latest-version": tag })),
        None => super::json(
            out,
            502,
            &serde_json::json!({"error": "invalid_response", "message": "missing release version"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_dir_options() {
        let cfg = Path::new("/etc/cp/config.yaml");
        assert_eq!(
            static_dir_with(cfg, None, None),
            Path::new("/etc/cp/static")
        );
        assert_eq!(
            file_path_with(cfg, None, None),
            Path::new("/etc/cp/static/management.html")
        );
        assert_eq!(
            file_path_with(cfg, None, Some("/var/w")),
            Path::new("/var/w/static/management.html")
        );
        // MANAGEMENT_STATIC_PATH wins, as a directory or as the file itself.
        assert_eq!(
            file_path_with(cfg, Some("/srv/panel"), Some("/var/w")),
            Path::new("/srv/panel/management.html")
        );
        assert_eq!(
            file_path_with(cfg, Some(" /srv/x/Management.HTML "), None),
            Path::new("/srv/x/Management.HTML")
        );
        assert_eq!(
            static_dir_with(cfg, Some("/srv/x/management.html"), None),
            Path::new("/srv/x")
        );
    }

    #[test]
    fn release_urls() {
        let def = DEFAULT_RELEASE_URL;
        assert_eq!(release_url(""), def);
        assert_eq!(release_url("not a url"), def);
        assert_eq!(
            release_url("https://github.com/o/panel"),
            "https://api.github.com/repos/o/panel/releases/latest"
        );
        assert_eq!(
            release_url("https://github.com/o/panel.git/"),
            "https://api.github.com/repos/o/panel/releases/latest"
        );
        assert_eq!(
            release_url("https://api.github.com/repos/o/p"),
            "https://api.github.com/repos/o/p/releases/latest"
        );
        assert_eq!(
            release_url("https://api.github.com/repos/o/p/releases"),
            "https://api.github.com/repos/o/p/releases/latest"
        );
        assert_eq!(
            release_url("https://api.github.com/repos/o/p/releases/123"),
            "https://api.github.com/repos/o/p/releases/123"
        );
        assert_eq!(
            release_url("https://api.github.com/repos/o/p/releases/tags/v1"),
            "https://api.github.com/repos/o/p/releases/tags/v1"
        );
        assert_eq!(release_url("https://example.com/o/p"), def);
    }

    #[test]
    fn asset_and_digest() {
        let rel = br#"{"tag_name":"v1","assets":[{"name":"other.zip","browser_download_url":"https://x/o"},{"name":"MANAGEMENT.html","browser_download_url":"https://x/m","digest":"sha256:ABCD"}]}"#;
        assert_eq!(
            panel_asset(rel).unwrap(),
            ("https://x/m".to_string(), "abcd".to_string())
        );
        assert!(panel_asset(br#"{"assets":[]}"#).is_err());
        assert!(panel_asset(b"not json").is_err());
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn redirect_locations() {
        assert_eq!(
            join_location("https://a.example/x/y?z", "https://b.example/q"),
            "https://b.example/q"
        );
        assert_eq!(
            join_location("https://a.example/x/y", "/r/s"),
            "https://a.example/r/s"
        );
        assert_eq!(
            join_location("https://a.example/x/y", "t"),
            "https://a.example/x/t"
        );
    }
}
