//! The refresh engine: one thread off the workers that keeps every
//! account's token fresh and answers the workers' refresh requests.
//!
//! - **Ahead of expiry**: every [`SCAN_INTERVAL`] it refreshes accounts
//!   whose token expires within their kind's lead (Claude 4 h, Codex 5 days,
//!   Antigravity 5 min, Gemini 1 min, Kimi 5 min, Qwen 20 min, iFlow 24 h; an
//!   iFlow file renews its API key with its refresh token or its browser
//!   cookie), or that have no expiry and were last refreshed more than a lead
//!   ago. A failure backs off [`FAILURE_BACKOFF`]; a refusal
//!   (`invalid_grant`) stops automatic retries until the file changes.
//! - **Single flight**: a worker that needs a fresh token (expired, or an
//!   upstream 401) calls [`request`]; the account's `refreshing` flag lets
//!   exactly one request through to the engine, and every caller waits on
//!   [`wait`] for the token version to move (bounded), whatever core it is
//!   on.
//! - **Write-back**: the new tokens go into the same file (temp file +
//!   rename, mode 0600), every other field kept; the file is written before
//!   the in-memory token changes so a reload reading the file never brings
//!   an older token back. A failed refresh leaves the file untouched.

use super::{file, oauth, Account, Net};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

/// How often the engine looks for tokens close to expiry.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(5);
/// Backoff after a failed refresh (CLIProxyAPI's).
pub const FAILURE_BACKOFF: u64 = 5 * 60;
/// Backoff while a refresh is pending elsewhere (CLIProxyAPI's).
pub const PENDING_BACKOFF: u64 = 60;
/// How long a request waits for a refresh before going on with what it has.
pub const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// One account the engine watches, with its outbound proxy.
struct Watched {
    account: Arc<Account>,
    proxy: Option<Arc<crate::upstream::Proxy>>,
}

struct Engine {
    /// `Some`: refresh this account now; `None`: scan now.
    tx: Mutex<mpsc::Sender<Option<Arc<Account>>>>,
    tls: Arc<rustls::ClientConfig>,
}

static ENGINE: OnceLock<Engine> = OnceLock::new();

/// The accounts of the current snapshot (set before or after the engine starts).
static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());

/// One piece of work for the refresh pool.
enum Job {
    /// Refresh this account (its `refreshing` flag is held).
    Refresh(Arc<Account>, Option<Arc<crate::upstream::Proxy>>),
    /// Look up this Gemini account's project.
    Discover(Arc<Account>, Option<Arc<crate::upstream::Proxy>>),
}

/// Default size of the refresh pool (CLIProxyAPI's `auth-auto-refresh-workers`).
pub const DEFAULT_WORKERS: usize = 16;

/// Starts the engine (once per process; later calls do nothing): a
/// dispatcher thread that scans and takes requests, and `workers` threads
/// (`auth-auto-refresh-workers`, ≤ 0 = 16) that make the token calls, so one
/// slow token endpoint does not hold up the other accounts.
pub fn start(tls: Arc<rustls::ClientConfig>, workers: i64) {
    let (tx, rx) = mpsc::channel::<Option<Arc<Account>>>();
    // The first scan runs at once (tokens that expired while we were down).
    let _ = tx.send(None);
    let engine = Engine {
        tx: Mutex::new(tx),
        tls,
    };
    if ENGINE.set(engine).is_err() {
        return;
    }
    let n = if workers <= 0 {
        DEFAULT_WORKERS
    } else {
        usize::try_from(workers).unwrap_or(DEFAULT_WORKERS).min(256)
    };
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let jobs_rx = Arc::new(Mutex::new(jobs_rx));
    for i in 0..n {
        let jobs = jobs_rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("cliproxy-refresh-{i}"))
            .spawn(move || work(&jobs));
        if let Err(e) = spawned {
            crate::log_error!("token refresh worker failed to start: {e}");
        }
    }
    let spawned = std::thread::Builder::new()
        .name("cliproxy-refresh".into())
        .spawn(move || run(rx, jobs_tx));
    if let Err(e) = spawned {
        crate::log_error!("token refresh thread failed to start: {e}");
    }
}

/// A pool worker: takes jobs until the dispatcher is gone.
fn work(jobs: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let (Ok(job), Some(e)) = (job, ENGINE.get()) else {
            return;
        };
        match job {
            Job::Refresh(a, proxy) => refresh_one(e, &a, proxy),
            Job::Discover(a, proxy) => discover(e, &a, proxy),
        }
    }
}

/// Replaces the set of watched accounts (each snapshot build calls it) and
/// wakes the engine for an immediate scan.
pub fn watch(accounts: Vec<(Arc<Account>, Option<Arc<crate::upstream::Proxy>>)>) {
    if let Ok(mut w) = WATCHED.lock() {
        *w = accounts
            .into_iter()
            .map(|(account, proxy)| Watched { account, proxy })
            .collect();
    }
    if let Some(e) = ENGINE.get() {
        if let Ok(tx) = e.tx.lock() {
            let _ = tx.send(None);
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether `a`'s token is expired (or expires within `margin` seconds).
pub fn expired(a: &Account, margin: u64) -> bool {
    let t = a.token.get();
    t.access.is_empty() || t.expires_at.is_some_and(|e| e <= now() + margin)
}

/// Asks for a refresh of `a` unless its token already moved past
/// `seen_version` or one is already under way. Returns false when no
/// refresh can happen (no engine, no refresh token, refused before).
pub fn request(a: &Arc<Account>, seen_version: u64) -> bool {
    if !a.can_refresh() || a.refused.load(Ordering::Acquire) {
        return false;
    }
    let Some(e) = ENGINE.get() else { return false };
    if a.token.get().version != seen_version {
        return true;
    }
    if a.token
        .refreshing
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return true;
    }
    // A refresh may have finished between the version check and the claim:
    // the engine moves the token before it clears the flag, so a second
    // look tells; without it a late 401 would refresh a second time.
    if a.token.get().version != seen_version {
        a.token.refreshing.store(false, Ordering::Release);
        a.wake_waiters();
        return true;
    }
    match e.tx.lock() {
        Ok(tx) if tx.send(Some(a.clone())).is_ok() => true,
        _ => {
            a.token.refreshing.store(false, Ordering::Release);
            false
        }
    }
}

/// Resolves once `a`'s token version differs from `seen_version` or no
/// refresh is under way any more (it failed); true when the token moved.
pub fn wait(a: &Account, seen_version: u64) -> Wait<'_> {
    Wait {
        account: a,
        seen: seen_version,
    }
}

/// The future of [`wait`].
pub struct Wait<'a> {
    account: &'a Account,
    seen: u64,
}

impl Future for Wait<'_> {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let a = self.account;
        let check = |a: &Account| {
            if a.token.get().version != self.seen {
                Some(true)
            } else if !a.token.is_refreshing() {
                Some(false)
            } else {
                None
            }
        };
        if let Some(r) = check(a) {
            return Poll::Ready(r);
        }
        if let Ok(mut w) = a.waiters.lock() {
            if !w.iter().any(|x| x.will_wake(cx.waker())) {
                w.push(cx.waker().clone());
            }
        }
        // Checked again after registering: a wake-up between the first
        // check and the push is not lost.
        match check(a) {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}

/// Makes sure `a` has a usable token before a request leaves: when it is
/// expired, asks for a refresh and waits (bounded). Returns the token
/// version the request goes out with.
pub async fn ensure_fresh(a: &Arc<Account>) -> u64 {
    // One read of the cell on the common path (a live token).
    let t = a.token.get();
    let v = t.version;
    if !(t.access.is_empty() || t.expires_at.is_some_and(|e| e <= now())) {
        return v;
    }
    if request(a, v) {
        let _ = monoio::time::timeout(WAIT_LIMIT, wait(a, v)).await;
    }
    a.token.get().version
}

/// After an upstream 401 on token version `seen`: refreshes once (single
/// flight) and waits; true when a new token is there to retry with.
pub async fn after_unauthorized(a: &Arc<Account>, seen: u64) -> bool {
    if a.token.get().version != seen {
        return true;
    }
    if !request(a, seen) {
        return false;
    }
    matches!(
        monoio::time::timeout(WAIT_LIMIT, wait(a, seen)).await,
        Ok(true)
    )
}

fn run(rx: mpsc::Receiver<Option<Arc<Account>>>, jobs: mpsc::Sender<Job>) {
    loop {
        let asked = match rx.recv_timeout(SCAN_INTERVAL) {
            Ok(a) => a,
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // Requests first (a worker is waiting), then the periodic scan.
        let mut queue: Vec<Arc<Account>> = asked.into_iter().collect();
        while let Ok(a) = rx.try_recv() {
            queue.extend(a);
        }
        let watched: Vec<(Arc<Account>, Option<Arc<crate::upstream::Proxy>>)> = match WATCHED.lock()
        {
            Ok(w) => w
                .iter()
                .map(|w| (w.account.clone(), w.proxy.clone()))
                .collect(),
            Err(_) => Vec::new(),
        };
        let proxy_of = |a: &Arc<Account>| {
            watched
                .iter()
                .find(|(w, _)| Arc::ptr_eq(w, a))
                .and_then(|(_, p)| p.clone())
        };
        let t = now();
        for a in &queue {
            if a.token.is_refreshing() {
                let _ = jobs.send(Job::Refresh(a.clone(), proxy_of(a)));
            }
        }
        for (a, proxy) in &watched {
            if needs_project(a, t) {
                // Claimed here so the next scan does not queue it again.
                a.discover_at.store(t + FAILURE_BACKOFF, Ordering::Release);
                let _ = jobs.send(Job::Discover(a.clone(), proxy.clone()));
            }
            if due(a, t) && !queue.iter().any(|q| Arc::ptr_eq(q, a)) {
                let claimed = a
                    .token
                    .refreshing
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if claimed {
                    let _ = jobs.send(Job::Refresh(a.clone(), proxy.clone()));
                }
            }
        }
    }
}

/// A Gemini account without a project whose token is usable: time to ask
/// Cloud Code Assist for one (`loadCodeAssist`, then `onboardUser`).
fn needs_project(a: &Account, now: u64) -> bool {
    matches!(
        a.kind,
        super::AccountKind::Gemini | super::AccountKind::Antigravity
    ) && a.project_id.is_empty()
        && a.discover_at.load(Ordering::Acquire) <= now
        && !expired(a, 0)
}

/// Whether the file at `path` asks for every project (`project_id: "ALL"`).
fn wants_all_projects(path: &std::path::Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("project_id")?
                .as_str()
                .map(|p| p.trim().eq_ignore_ascii_case("all"))
        })
        .unwrap_or(false)
}

/// Finds the account's project and stores it in its file as `project_id`;
/// the control thread's reload then serves the account with it (as
/// CLIProxyAPI does when a Gemini CLI file has no project). A file saying
/// `ALL` gets every project the account lists, as a comma list (served as
/// one credential per project), as `-login -project_id ALL` would have
/// written it. A failure is retried after [`FAILURE_BACKOFF`].
fn discover(e: &Engine, a: &Arc<Account>, proxy: Option<Arc<crate::upstream::Proxy>>) {
    let net = Net {
        tls: e.tls.clone(),
        proxy,
    };
    let token = a.token.get();
    let found = if a.kind == super::AccountKind::Antigravity {
        oauth::antigravity::fetch_project(&net, token.access.expose())
    } else if wants_all_projects(&a.path) {
        oauth::gemini::list_projects(&net, token.access.expose()).map(|l| l.join(","))
    } else {
        oauth::gemini::discover_project(&net, token.access.expose())
    };
    match found {
        Ok(project) if !project.is_empty() => {
            let stored = update_file(&a.path, |obj| {
                obj.insert(
                    "project_id".into(),
                    serde_json::Value::String(project.clone()),
                );
            });
            match stored {
                Ok(()) => crate::log_info!("auth {}: project {project} found", a.id),
                Err(err) => crate::log_warn!("auth {}: project found but not stored: {err}", a.id),
            }
        }
        Ok(_) => crate::log_warn!("auth {}: no project offered for this account", a.id),
        Err(err) => crate::log_warn!("auth {}: project discovery failed: {err}", a.id),
    }
}

/// Whether the scan should refresh `a` now.
fn due(a: &Account, now: u64) -> bool {
    if !a.can_refresh()
        || a.refused.load(Ordering::Acquire)
        || a.retry_at.load(Ordering::Acquire) > now
        || a.token.is_refreshing()
    {
        return false;
    }
    let lead = a.kind.refresh_lead().as_secs();
    let t = a.token.get();
    match t.expires_at {
        Some(exp) => exp <= now + lead,
        None => t.access.is_empty() || a.last_refresh.load(Ordering::Acquire) + lead <= now,
    }
}

/// Refreshes `a` (its `refreshing` flag is held), stores the result, clears
/// the flag and wakes the waiters.
fn refresh_one(e: &Engine, a: &Arc<Account>, proxy: Option<Arc<crate::upstream::Proxy>>) {
    let net = Net {
        tls: e.tls.clone(),
        proxy,
    };
    let t = now();
    let result = match &a.vertex {
        // A service account mints its token from the key (nothing to store
        // in the file).
        Some(sa) => sa.mint(&net, t),
        None => oauth::refresh_account(a, &net),
    };
    match result {
        Ok(set) => {
            if a.vertex.is_some() {
                // Kept in memory only, as CLIProxyAPI does.
            } else if let Err(err) = write_back(a, &set, t) {
                crate::log_warn!(
                    "auth {}: refreshed, but the file was not updated: {err}",
                    a.id
                );
            }
            if let Some(r) = &set.refresh_token {
                if let Ok(mut g) = a.refresh_token.write() {
                    *g = r.clone();
                }
            }
            let expires_at = set.expires_in.map(|s| t + s);
            a.last_refresh.store(t, Ordering::Release);
            a.retry_at.store(0, Ordering::Release);
            // iFlow requests carry the API key, not the OAuth token.
            let cell = match (&set.api_key, a.kind) {
                (Some(k), super::AccountKind::IFlow) => k.clone(),
                _ => set.access_token.clone(),
            };
            a.token.set(cell, expires_at);
            crate::obs::metrics::REFRESH_OK.fetch_add(1, Ordering::Relaxed);
            crate::log_info!(
                "auth {}: token {}",
                a.id,
                if a.vertex.is_some() {
                    "minted"
                } else {
                    "refreshed"
                }
            );
        }
        Err(oauth::OAuthError::Rejected { status, code }) => {
            crate::obs::metrics::REFRESH_FAILED.fetch_add(1, Ordering::Relaxed);
            a.refused.store(true, Ordering::Release);
            a.retry_at.store(t + FAILURE_BACKOFF, Ordering::Release);
            crate::log_warn!(
                "auth {}: the token endpoint refused the refresh token ({status} {code}); log in again",
                a.id
            );
        }
        Err(oauth::OAuthError::Transient(m)) => {
            crate::obs::metrics::REFRESH_FAILED.fetch_add(1, Ordering::Relaxed);
            a.retry_at.store(t + FAILURE_BACKOFF, Ordering::Release);
            crate::log_warn!("auth {}: token refresh failed: {m}", a.id);
        }
    }
    a.token.refreshing.store(false, Ordering::Release);
    a.wake_waiters();
}

/// Writes `set` into the account's file: read, update the token fields,
/// write a temp file (0600) beside it, rename over. The file keeps every
/// other field.
fn write_back(a: &Account, set: &super::TokenSet, now: u64) -> Result<(), String> {
    update_file(&a.path, |obj| file::apply_tokens(a.kind, obj, set, now))
}

/// Reads the auth file at `path`, lets `edit` change its object, writes it
/// back atomically (every field `edit` leaves alone is kept).
pub fn update_file(
    path: &std::path::Path,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("read: {e}"))?;
    let mut obj = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => return Err("the file is no longer a JSON object".into()),
    };
    edit(&mut obj);
    let out = serde_json::to_vec_pretty(&serde_json::Value::Object(obj))
        .map_err(|e| format!("encode: {e}"))?;
    file::write_atomic(path, &out).map_err(|e| format!("write {}: {e}", path.display()))
}
