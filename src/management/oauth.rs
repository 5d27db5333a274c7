//! OAuth logins started from the browser (the control panel), as
//! CLIProxyAPI runs them:
//!
//! - `GET /v0/management/<kind>-auth-url[?is_webui=1]` starts a login and
//!   answers `{"status":"ok","url":..,"state":..}`; a session keyed by the
//!   state is registered (TTL 30 min, a finished one is kept 1 min).
//! - The provider redirects the browser to the registered redirect URI
//!   (`http://localhost:54545/callback` for Claude, …). With `is_webui` a
//!   small forwarder listens on that port for the session's lifetime and
//!   answers `302` to this server's own sink (`/anthropic/callback`,
//!   `/codex/callback`, `/google/callback` on the main port, `127.0.0.1`
//!   and the bound port, as CLIProxyAPI does). Without it the operator
//!   pastes the final URL into `/oauth-callback` (remote setups).
//! - The sink (or `/oauth-callback`) hands `code`/`error` to the pending
//!   session; the session's thread exchanges the code (blocking HTTPS, never
//!   on a worker), builds the file exactly as the CLI login does (the shared
//!   `*_finish` functions of [`crate::accounts::login`]), writes it to
//!   `auth-dir` (the control thread's auth-dir scan loads it like any file)
//!   and marks the session done; `/get-auth-status?state=` reports
//!   `wait` / `ok` / `error`; `DELETE /oauth-session?state=` cancels.
//!
//! Difference from CLIProxyAPI: the callback reaches the waiting session
//! through this table, not through a `.oauth-<provider>-<state>.oauth` file
//! in `auth-dir` (one process owns both ends here).
//!
//! ## Adding a login kind
//!
//! A kind is one [`Kind`] entry in [`KINDS`]: its provider name (what the
//! session and `/oauth-callback`'s `provider` say), the aliases
//! `/oauth-callback` accepts, the management route, the main-port sink path
//! (or `None`), the provider's registered callback port for the `is_webui`
//! forwarder (0: none), and `start`. `start` runs on its own thread (it may
//! block: a device flow asks its device endpoint for a user code there) and
//! returns the URL to show, the state, and `run`, which the session thread
//! calls next. A redirect flow's `run` calls [`Waiter::code`] for the
//! callback's code, then its `finish` (`(file name, file object)`); a
//! device flow's `run` polls its token endpoint, checking
//! [`Waiter::pending`] between polls so a cancel stops it. The session
//! thread writes the file and reports the outcome; nothing else changes.
//! The kinds: Claude, Codex, Gemini CLI; Antigravity
//! (`/antigravity-auth-url`, sink `/antigravity/callback`, port 51121) and
//! iFlow (`/iflow-auth-url`, sink `/iflow/callback`, port 11451), both
//! redirect flows; the device flows Kimi (`/kimi-auth-url`) and Qwen
//! (`/qwen-auth-url`), whose answer's `url` is the device page with the
//! user code filled in (as CLIProxyAPI's) and whose session key is made up
//! (`kmi-…`, `qwn-…`). Qwen's CLI login asks for an email; from the panel
//! the account is labelled with the Unix milliseconds of the approval, as
//! CLIProxyAPI's management route does. `POST /iflow-auth-url` is not a
//! session: it turns a browser cookie into an API-key file at once.

use super::{answer, error, json};
use crate::accounts::login;
use crate::accounts::oauth::{
    self, antigravity as ag, claude, codex, gemini, iflow, kimi, qwen, Pkce,
};
use crate::accounts::Net;
use crate::server::{Conn, Request};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Lifetime of a session (covers device flows).
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 60);
/// How long a finished session still answers `ok`.
pub const COMPLETED_TTL: Duration = Duration::from_secs(60);
/// Longest state accepted.
pub const MAX_STATE: usize = 128;
/// Sessions kept at once (pending and recently finished); a start beyond
/// it is refused with 503 rather than evicting a login in progress.
pub const MAX_SESSIONS: usize = 64;
/// How long a redirect flow waits for its callback (CLIProxyAPI: 5 min).
pub const CALLBACK_WAIT: Duration = login::CALLBACK_TIMEOUT;

/// What a `start` gets.
pub struct Start {
    /// TLS and proxy for the provider's endpoints.
    pub net: Net,
    /// The query parameters of the `*-auth-url` request (decoded).
    pub params: Vec<(String, String)>,
}

impl Start {
    /// A query parameter, trimmed (`""` when absent).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }
}

/// The file a login produced: `(file name, JSON object)`.
pub type Finished = Result<(String, Value), String>;

/// The rest of a login, run on the session's thread.
pub type Run = Box<dyn FnOnce(&Waiter) -> Finished + Send>;

/// What `start` returns.
pub struct Begun {
    /// The URL the user opens (authorization page or device page).
    pub url: String,
    /// The session key (the OAuth `state`).
    pub state: String,
    /// The rest of the login.
    pub run: Run,
}

/// One login kind (see the module docs).
pub struct Kind {
    /// Provider name of its sessions (`anthropic`, `codex`, `gemini`).
    pub provider: &'static str,
    /// Other names `/oauth-callback` accepts for it.
    pub aliases: &'static [&'static str],
    /// The management route below the prefix (`/anthropic-auth-url`).
    pub route: &'static str,
    /// The callback sink on the main port (`/anthropic/callback`).
    pub sink: Option<&'static str>,
    /// The provider's registered callback port (the `is_webui` forwarder
    /// listens there); 0 for none.
    pub forward_port: u16,
    /// Starts a login (on its own thread; may block).
    pub start: fn(&Start) -> Result<Begun, String>,
}

/// The kinds served.
pub static KINDS: &[Kind] = &[
    Kind {
        provider: "anthropic",
        aliases: &["claude"],
        route: "/anthropic-auth-url",
        sink: Some("/anthropic/callback"),
        forward_port: claude::CALLBACK_PORT,
        start: start_claude,
    },
    Kind {
        provider: "codex",
        aliases: &["openai"],
        route: "/codex-auth-url",
        sink: Some("/codex/callback"),
        forward_port: codex::CALLBACK_PORT,
        start: start_codex,
    },
    Kind {
        provider: "gemini",
        aliases: &["gemini-cli", "google"],
        route: "/gemini-cli-auth-url",
        sink: Some("/google/callback"),
        forward_port: gemini::CALLBACK_PORT,
        start: start_gemini,
    },
    Kind {
        provider: "antigravity",
        aliases: &["anti-gravity"],
        route: "/antigravity-auth-url",
        sink: Some("/antigravity/callback"),
        forward_port: ag::CALLBACK_PORT,
        start: start_antigravity,
    },
    Kind {
        provider: "iflow",
        aliases: &["i-flow"],
        route: "/iflow-auth-url",
        sink: Some("/iflow/callback"),
        forward_port: iflow::CALLBACK_PORT,
        start: start_iflow,
    },
    Kind {
        provider: "kimi",
        aliases: &[],
        route: "/kimi-auth-url",
        sink: None,
        forward_port: 0,
        start: start_kimi,
    },
    Kind {
        provider: "qwen",
        aliases: &[],
        route: "/qwen-auth-url",
        sink: None,
        forward_port: 0,
        start: start_qwen,
    },
];

fn start_claude(_: &Start) -> Result<Begun, String> {
    let pkce = Pkce::generate().map_err(|e| e.to_string())?;
    let state = oauth::random_state().map_err(|e| e.to_string())?;
    let url = claude::auth_url(&state, &pkce.challenge);
    let st = state.clone();
    Ok(Begun {
        url,
        state,
        run: Box::new(move |w: &Waiter| {
            let code = w.code(CALLBACK_WAIT)?;
            login::claude_finish(&w.net, &code, &st, pkce.verifier.expose())
        }),
    })
}

fn start_codex(_: &Start) -> Result<Begun, String> {
    let pkce = Pkce::generate().map_err(|e| e.to_string())?;
    let state = oauth::random_state().map_err(|e| e.to_string())?;
    let url = codex::auth_url(&state, &pkce.challenge);
    Ok(Begun {
        url,
        state,
        run: Box::new(move |w: &Waiter| {
            let code = w.code(CALLBACK_WAIT)?;
            login::codex_finish(&w.net, &code, codex::REDIRECT_URI, pkce.verifier.expose())
        }),
    })
}

fn start_gemini(s: &Start) -> Result<Begun, String> {
    let pkce = Pkce::generate().map_err(|e| e.to_string())?;
    let state = oauth::random_state().map_err(|e| e.to_string())?;
    let redirect = gemini::redirect_uri(gemini::CALLBACK_PORT);
    let url = gemini::auth_url(&redirect, &state, &pkce.challenge);
    let project = s.param("project_id").to_string();
    Ok(Begun {
        url,
        state,
        run: Box::new(move |w: &Waiter| {
            let code = w.code(CALLBACK_WAIT)?;
            login::gemini_finish(
                &w.net,
                &code,
                &redirect,
                pkce.verifier.expose(),
                &project,
                &mut |line| crate::log_info!("gemini login: {line}"),
            )
        }),
    })
}

fn start_antigravity(_: &Start) -> Result<Begun, String> {
    let pkce = Pkce::generate().map_err(|e| e.to_string())?;
    let state = oauth::random_state().map_err(|e| e.to_string())?;
    // The redirect URI registered for Antigravity's client names its fixed
    // port; the `is_webui` forwarder (or a paste-back) covers the rest.
    let redirect = login::antigravity::redirect_uri(ag::CALLBACK_PORT);
    let url = login::antigravity::auth_url(&redirect, &state, &pkce.challenge);
    Ok(Begun {
        url,
        state,
        run: Box::new(move |w: &Waiter| {
            let code = w.code(CALLBACK_WAIT)?;
            login::antigravity::finish(&w.net, &code, &redirect, pkce.verifier.expose())
        }),
    })
}

fn start_iflow(_: &Start) -> Result<Begun, String> {
    let a = login::iflow::start(iflow::CALLBACK_PORT)?;
    let redirect = a.redirect_uri;
    Ok(Begun {
        url: a.url,
        state: a.state,
        run: Box::new(move |w: &Waiter| {
            let code = w.code(CALLBACK_WAIT)?;
            login::iflow::finish(&w.net, &code, &redirect)
        }),
    })
}

/// The session key of a device flow (it has no OAuth `state`): the kind's
/// prefix, as CLIProxyAPI's (`kmi-`, …), and random hex.
fn device_state(prefix: &str) -> Result<String, String> {
    let r = oauth::random_state().map_err(|e| e.to_string())?;
    Ok(format!("{prefix}-{r}"))
}

/// The poll of a device flow's session: stops once the session is no
/// longer pending (cancelled or expired).
fn polling<T>(w: &Waiter, poll: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    if w.pending() {
        poll()
    } else {
        Err("cancelled".into())
    }
}

fn start_kimi(s: &Start) -> Result<Begun, String> {
    let started = login::kimi::start(&s.net)?;
    let state = device_state("kmi")?;
    Ok(Begun {
        url: started.device.url().to_string(),
        state,
        run: Box::new(move |w: &Waiter| {
            login::device::wait(&started.device, kimi::MAX_WAIT, || {
                polling(w, || login::kimi::poll(&w.net, &started))
            })
        }),
    })
}

/// Qwen's answer names no account and the panel has no prompt: as
/// CLIProxyAPI's management route does, the account is labelled with the
/// Unix milliseconds of the approval (`qwen-<ms>.json`, `email: "<ms>"`).
fn start_qwen(s: &Start) -> Result<Begun, String> {
    let d = login::qwen::start(&s.net)?;
    let state = device_state("qwn")?;
    Ok(Begun {
        url: d.url().to_string(),
        state,
        run: Box::new(move |w: &Waiter| {
            let mut tokens = None;
            login::device::wait(&d, qwen::MAX_WAIT, || {
                polling(w, || match login::qwen::poll(&w.net, &d)? {
                    login::qwen::Polled::Wait(step) => Ok(step),
                    login::qwen::Polled::Tokens(t) => {
                        tokens = Some(t);
                        Ok(login::device::Step::Done(String::new(), Value::Null))
                    }
                })
            })?;
            let t = tokens.ok_or("the device flow ended without tokens")?;
            login::qwen::file(&t, &super::now_ms().to_string())
        }),
    })
}

// ------------------------------------------------------------ sessions

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Pending,
    Failed(String),
    Done,
}

/// What the callback delivered.
#[derive(Debug, Clone)]
struct Delivery {
    code: String,
    error: String,
}

struct Session {
    provider: &'static str,
    phase: Phase,
    expires: Instant,
    delivered: Option<Delivery>,
}

struct Table {
    sessions: Mutex<HashMap<String, Session>>,
    changed: Condvar,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| Table {
        sessions: Mutex::new(HashMap::new()),
        changed: Condvar::new(),
    })
}

fn lock() -> MutexGuard<'static, HashMap<String, Session>> {
    let mut g = table().sessions.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    g.retain(|_, s| s.expires > now);
    g
}

/// Whether `state` is acceptable (CLIProxyAPI's rule: 1..=128 characters of
/// `[A-Za-z0-9._-]`, no `..`).
pub fn valid_state(state: &str) -> bool {
    !state.is_empty()
        && state.len() <= MAX_STATE
        && !state.contains("..")
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Registers a pending session; false when the table is full.
fn register(state: &str, provider: &'static str) -> bool {
    let mut g = lock();
    if g.len() >= MAX_SESSIONS && !g.contains_key(state) {
        return false;
    }
    g.insert(
        state.to_string(),
        Session {
            provider,
            phase: Phase::Pending,
            expires: Instant::now() + SESSION_TTL,
            delivered: None,
        },
    );
    true
}

fn set_phase(state: &str, phase: Phase) {
    let mut g = lock();
    if let Some(s) = g.get_mut(state) {
        if s.phase == Phase::Pending {
            s.expires = Instant::now()
                + if phase == Phase::Done {
                    COMPLETED_TTL
                } else {
                    SESSION_TTL
                };
            s.phase = phase;
            s.delivered = None;
        }
    }
    drop(g);
    table().changed.notify_all();
}

fn is_pending(state: &str) -> bool {
    lock().get(state).is_some_and(|s| s.phase == Phase::Pending)
}

/// Why a delivery was refused.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    Unknown,
    Completed,
    Failed(String),
    WrongProvider,
}

/// Hands the callback's `code`/`error` to the pending session `state`.
fn deliver(state: &str, provider: &str, code: &str, err: &str) -> Result<(), Refused> {
    let mut g = lock();
    let s = g.get_mut(state).ok_or(Refused::Unknown)?;
    match &s.phase {
        Phase::Done => return Err(Refused::Completed),
        Phase::Failed(m) => return Err(Refused::Failed(m.clone())),
        Phase::Pending => {}
    }
    if s.provider != provider {
        return Err(Refused::WrongProvider);
    }
    s.delivered = Some(Delivery {
        code: code.trim().to_string(),
        error: err.trim().to_string(),
    });
    drop(g);
    table().changed.notify_all();
    Ok(())
}

/// A session's view for its login thread.
pub struct Waiter {
    state: String,
    /// TLS and proxy for the provider's endpoints.
    pub net: Net,
}

impl Waiter {
    /// Whether the session is still pending (not cancelled, failed or expired).
    pub fn pending(&self) -> bool {
        is_pending(&self.state)
    }

    /// Blocks until the callback delivers a code (or an error), the session
    /// ends, or `timeout` passes.
    pub fn code(&self, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let t = table();
        let mut g = lock();
        loop {
            let Some(s) = g.get_mut(&self.state) else {
                return Err("cancelled".into());
            };
            if s.phase != Phase::Pending {
                return Err("cancelled".into());
            }
            if let Some(d) = s.delivered.take() {
                if !d.error.is_empty() {
                    return Err(format!("Authentication failed: {}", d.error));
                }
                if d.code.is_empty() {
                    return Err("Authentication failed: code not found".into());
                }
                return Ok(d.code);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err("Timeout waiting for OAuth callback".into());
            }
            g = match t.changed.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// The session thread: runs the login, writes the file, reports.
fn session_thread(state: String, provider: &'static str, net: Net, dir: PathBuf, run: Run) {
    let w = Waiter {
        state: state.clone(),
        net,
    };
    match run(&w) {
        Ok((name, obj)) => {
            // A cancel that raced the exchange wins: nothing is written.
            if !w.pending() {
                return;
            }
            if super::auth_files::unsafe_name(&name) {
                set_phase(&state, Phase::Failed("invalid auth file name".into()));
                return;
            }
            match login::save(&dir, &name, &obj) {
                Ok(path) => {
                    crate::log_info!(
                        "{provider} login from the management API saved {}",
                        path.display()
                    );
                    set_phase(&state, Phase::Done);
                }
                Err(e) => {
                    crate::log_warn!("{provider} login: cannot write {name}: {e}");
                    set_phase(
                        &state,
                        Phase::Failed("Failed to save authentication tokens".into()),
                    );
                }
            }
        }
        Err(e) => {
            if w.pending() {
                crate::log_warn!("{provider} login from the management API failed: {e}");
                set_phase(&state, Phase::Failed(e));
            }
        }
    }
}

// ------------------------------------------------------------ forwarder

/// The port the forwarder of `kind` listens on: the provider's registered
/// port, or `CLIPROXY_OAUTH_FORWARD_PORT` (tests, or a host where that port
/// is taken and the redirect is tunnelled).
fn forward_port(kind: &Kind) -> u16 {
    std::env::var("CLIPROXY_OAUTH_FORWARD_PORT")
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(kind.forward_port)
}

/// The running forwarders by port, each with its stop flag.
fn forwarders() -> &'static Mutex<HashMap<u16, Arc<AtomicBool>>> {
    static F: OnceLock<Mutex<HashMap<u16, Arc<AtomicBool>>>> = OnceLock::new();
    F.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Starts the `is_webui` forwarder for the session `state`: every GET on
/// `port` is answered `302` to `target` with the request's query; it stops
/// once the session is no longer pending. A forwarder still running on the
/// port for an older login is stopped first (CLIProxyAPI replaces it too:
/// the newest login of a kind owns its callback port).
#[allow(
    clippy::disallowed_methods,
    reason = "runs on the auth-url route's own thread, never a worker"
)]
fn start_forwarder(port: u16, target: String, state: String) -> Result<(), String> {
    let old = forwarders()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&port);
    if let Some(stop) = &old {
        stop.store(true, Ordering::Release);
        table().changed.notify_all();
    }
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    // The old forwarder lets the port go within one poll.
    let deadline = Instant::now() + Duration::from_secs(2);
    let listener = loop {
        match TcpListener::bind(addr) {
            Ok(l) => break l,
            Err(_) if old.is_some() && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("callback port {port}: {e}")),
        }
    };
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    forwarders()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(port, stop.clone());
    std::thread::Builder::new()
        .name("cliproxy-oauth-fwd".into())
        .spawn(move || {
            forward_loop(&listener, &target, &state, &stop);
            drop(listener);
            let mut f = forwarders().lock().unwrap_or_else(|p| p.into_inner());
            if f.get(&port).is_some_and(|s| Arc::ptr_eq(s, &stop)) {
                f.remove(&port);
            }
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn forward_loop(listener: &TcpListener, target: &str, state: &str, stop: &AtomicBool) {
    loop {
        match listener.accept() {
            Ok((s, _)) => forward_one(s, target),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::Acquire) || !is_pending(state) {
                    return;
                }
                // Wake on any session change, else look again shortly.
                let g = lock();
                let _ = table().changed.wait_timeout(g, Duration::from_millis(50));
            }
            Err(_) => return,
        }
    }
}

fn forward_one(mut s: TcpStream, target: &str) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let Ok(head) = login::read_head(&mut s, 16 * 1024) else {
        return;
    };
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let path = line.split(|&b| b == b' ').nth(1).unwrap_or_default();
    let query = match memchr::memchr(b'?', path) {
        Some(i) => &path[i + 1..],
        None => &[][..],
    };
    // The query is passed on as received; it must not break the header.
    let query = if query.iter().any(|&b| b <= b' ' || b == 0x7f) {
        &[][..]
    } else {
        query
    };
    let mut location = target.as_bytes().to_vec();
    if !query.is_empty() {
        location.push(if target.contains('?') { b'&' } else { b'?' });
        location.extend_from_slice(query);
    }
    let mut out = Vec::with_capacity(256 + location.len());
    out.extend_from_slice(b"HTTP/1.1 302 Found\r\nLocation: ");
    out.extend_from_slice(&location);
    out.extend_from_slice(
        b"\r\nCache-Control: no-store\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let _ = s.write_all(&out);
    let _ = s.flush();
    let mut rest = [0u8; 64];
    let _ = s.set_read_timeout(Some(Duration::from_millis(10)));
    let _ = s.read(&mut rest);
}

// ------------------------------------------------------------ routes

/// The OAuth routes below the management prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    AuthUrl(usize),
    Status,
    Cancel,
    Callback,
    /// `POST /iflow-auth-url`: an iFlow browser cookie to an API-key file.
    IFlowCookie,
}

pub(super) fn find(method: &[u8], sub: &[u8]) -> Option<Op> {
    match (method, sub) {
        (b"GET", b"/get-auth-status") => return Some(Op::Status),
        (b"DELETE", b"/oauth-session") => return Some(Op::Cancel),
        (b"GET" | b"POST", b"/oauth-callback") => return Some(Op::Callback),
        (b"POST", b"/iflow-auth-url") => return Some(Op::IFlowCookie),
        _ => {}
    }
    if method != b"GET" {
        return None;
    }
    KINDS
        .iter()
        .position(|k| k.route.as_bytes() == sub)
        .map(Op::AuthUrl)
}

fn query_pairs(q: &[u8]) -> Vec<(String, String)> {
    q.split(|&c| c == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let dec = |b: &[u8]| {
                let mut out = Vec::new();
                crate::h1::query::percent_decode(b, &mut out);
                String::from_utf8_lossy(&out).into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

fn net_of(w: &crate::runtime::Worker, snap: &crate::state::Snapshot) -> Net {
    Net {
        tls: w.tls.clone(),
        proxy: snap
            .config
            .proxy_url
            .clone()
            .map(|u| Arc::new(crate::upstream::Proxy::resolve(u))),
    }
}

fn auth_dir(snap: &crate::state::Snapshot) -> PathBuf {
    let d = &snap.config.auth_dir;
    std::path::absolute(d).unwrap_or_else(|_| d.clone())
}

/// Serves one OAuth route; may await work on another thread.
pub(super) async fn serve(
    w: &crate::runtime::Worker,
    snap: &crate::state::Snapshot,
    op: Op,
    req: &Request<'_>,
    out: &mut Vec<u8>,
) {
    let pairs = query_pairs(req.query());
    match op {
        Op::AuthUrl(i) => auth_url(w, snap, &KINDS[i], pairs, out).await,
        Op::Status => status(param(&pairs, "state"), out),
        Op::Cancel => cancel(param(&pairs, "state"), out),
        Op::Callback => callback(req, &pairs, out),
        Op::IFlowCookie => iflow_cookie(w, snap, req.body(), out).await,
    }
}

/// What the cookie login ended with: the answer's status and body.
type CookieAnswer = (u16, Value);

/// `POST /iflow-auth-url` `{"cookie": ..}` (CLIProxyAPI v6.9.25
/// `RequestIFlowCookieToken`): the cookie's `BXAuth` renews the account's
/// API key and the file is written as `-iflow-cookie` writes it. Answers
/// `{"status":"ok","saved_path","email","expired","type"}`; a missing or
/// malformed cookie or a refused one is 400, a `BXAuth` another file holds
/// is 409 with `existing_file`. The calls to iFlow run off the worker.
async fn iflow_cookie(
    w: &crate::runtime::Worker,
    snap: &crate::state::Snapshot,
    body: &[u8],
    out: &mut Vec<u8>,
) {
    let bad =
        |status: u16, m: &str| -> CookieAnswer { (status, json!({"status": "error", "error": m})) };
    let cookie = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(b)) => b
            .get("cookie")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string(),
        _ => String::new(),
    };
    if cookie.is_empty() {
        let (status, v) = bad(400, "cookie is required");
        return json(out, status, &v);
    }
    let net = net_of(w, snap);
    let dir = auth_dir(snap);
    let done = super::offload::run("cliproxy-iflow-cookie", move || -> CookieAnswer {
        let normal = match iflow::normalize_cookie(&cookie) {
            Ok(c) => c,
            Err(e) => return bad(400, &e),
        };
        if let Some(existing) = login::iflow::duplicate_of(&dir, iflow::bx_auth(&normal)) {
            return (
                409,
                json!({"status": "error", "error": "duplicate BXAuth found",
                    "existing_file": existing}),
            );
        }
        let (name, obj) = match login::iflow::cookie_file(&net, &cookie, &dir) {
            Ok(f) => f,
            Err(e) => return bad(400, &e),
        };
        if super::auth_files::unsafe_name(&name) {
            return bad(400, "failed to extract email from token");
        }
        match login::save(&dir, &name, &obj) {
            Ok(path) => {
                crate::log_info!(
                    "iflow cookie login from the management API saved {}",
                    path.display()
                );
                let field = |k: &str| obj.get(k).cloned().unwrap_or(Value::from(""));
                (
                    200,
                    json!({"status": "ok", "saved_path": path.to_string_lossy(),
                        "email": field("email"), "expired": field("expired"),
                        "type": field("type")}),
                )
            }
            Err(e) => {
                crate::log_warn!("iflow cookie login: cannot write {name}: {e}");
                bad(500, "failed to save authentication tokens")
            }
        }
    })
    .await;
    match done {
        Some((status, v)) => json(out, status, &v),
        None => error(out, 500, "failed to save authentication tokens"),
    }
}

async fn auth_url(
    w: &crate::runtime::Worker,
    snap: &crate::state::Snapshot,
    kind: &'static Kind,
    pairs: Vec<(String, String)>,
    out: &mut Vec<u8>,
) {
    let webui = matches!(
        param(&pairs, "is_webui").to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    );
    let target = match (webui, kind.sink, crate::runtime::listen_port()) {
        (false, _, _) => None,
        (true, Some(sink), port) if port != 0 => {
            let scheme = if snap.config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            Some(format!("{scheme}://127.0.0.1:{port}{sink}"))
        }
        (true, _, _) => {
            error(out, 500, "callback server unavailable");
            return;
        }
    };
    let net = net_of(w, snap);
    let dir = auth_dir(snap);
    let fwd_port = forward_port(kind);
    let started = super::offload::run("cliproxy-oauth", move || {
        let start = Start {
            net: net.clone(),
            params: pairs,
        };
        let begun = (kind.start)(&start).map_err(|e| {
            crate::log_warn!("{} auth url: {e}", kind.provider);
            (500, "failed to generate authorization url")
        })?;
        if !valid_state(&begun.state) {
            return Err((502, "invalid oauth state"));
        }
        if !register(&begun.state, kind.provider) {
            return Err((503, "too many pending oauth sessions"));
        }
        if let Some(target) = target {
            if let Err(e) = start_forwarder(fwd_port, target, begun.state.clone()) {
                crate::log_warn!("{} callback forwarder: {e}", kind.provider);
                set_phase(
                    &begun.state,
                    Phase::Failed("failed to start callback server".into()),
                );
                return Err((500, "failed to start callback server"));
            }
        }
        let state = begun.state.clone();
        let (url, run) = (begun.url, begun.run);
        let st = state.clone();
        let spawned = std::thread::Builder::new()
            .name("cliproxy-oauth-session".into())
            .spawn(move || session_thread(st, kind.provider, net, dir, run));
        if spawned.is_err() {
            set_phase(&state, Phase::Failed("cannot start the login".into()));
            return Err((500, "failed to generate authorization url"));
        }
        Ok((url, state))
    })
    .await;
    match started {
        Some(Ok((url, state))) => json(
            out,
            200,
            &json!({"status": "ok", "url": url, "state": state}),
        ),
        Some(Err((status, m))) => error(out, status, m),
        None => error(out, 500, "failed to generate authorization url"),
    }
}

fn status_json(out: &mut Vec<u8>, code: u16, v: Value) {
    json(out, code, &v);
}

fn status(state: &str, out: &mut Vec<u8>) {
    if state.is_empty() {
        return status_json(out, 200, json!({"status": "ok"}));
    }
    if !valid_state(state) {
        return status_json(
            out,
            400,
            json!({"status": "error", "error": "invalid state"}),
        );
    }
    let g = lock();
    let v = match g.get(state).map(|s| &s.phase) {
        None => json!({"status": "error", "error": "unknown or expired state"}),
        Some(Phase::Done) => json!({"status": "ok"}),
        Some(Phase::Failed(m)) => json!({"status": "error", "error": m}),
        Some(Phase::Pending) => json!({"status": "wait"}),
    };
    drop(g);
    status_json(out, 200, v);
}

fn cancel(state: &str, out: &mut Vec<u8>) {
    if state.is_empty() {
        return status_json(
            out,
            400,
            json!({"status": "error", "error": "missing state"}),
        );
    }
    if !valid_state(state) {
        return status_json(
            out,
            400,
            json!({"status": "error", "error": "invalid state"}),
        );
    }
    let mut g = lock();
    let cancelled = g.get(state).is_some_and(|s| s.phase == Phase::Pending);
    if cancelled {
        g.remove(state);
    }
    drop(g);
    table().changed.notify_all();
    status_json(out, 200, json!({"status": "ok", "cancelled": cancelled}));
}

/// The kind `/oauth-callback`'s `provider` names, by provider or alias.
fn kind_named(name: &str) -> Option<&'static Kind> {
    let n = name.trim().to_ascii_lowercase();
    KINDS
        .iter()
        .find(|k| k.provider == n || k.aliases.contains(&n.as_str()))
}

/// `/oauth-callback` (GET query or POST JSON `{provider, redirect_url |
/// code+state, error}`): the paste-back of remote setups.
fn callback(req: &Request<'_>, pairs: &[(String, String)], out: &mut Vec<u8>) {
    let bad = |out: &mut Vec<u8>, status: u16, m: &str| {
        status_json(out, status, json!({"status": "error", "error": m}));
    };
    let (mut provider, mut code, mut state, mut err, redirect) = if req.method() == b"POST" {
        let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(req.body()) else {
            return bad(out, 400, "invalid body");
        };
        let s = |k: &str| {
            b.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string()
        };
        (
            s("provider"),
            s("code"),
            s("state"),
            s("error"),
            s("redirect_url"),
        )
    } else {
        let e = match param(pairs, "error") {
            "" => param(pairs, "error_description"),
            e => e,
        };
        (
            param(pairs, "provider").to_string(),
            param(pairs, "code").to_string(),
            param(pairs, "state").to_string(),
            e.to_string(),
            String::new(),
        )
    };
    if !redirect.is_empty() {
        let Some(q) = redirect_query(&redirect) else {
            return bad(out, 400, "invalid redirect_url");
        };
        let q = query_pairs(q.as_bytes());
        if state.is_empty() {
            state = param(&q, "state").to_string();
        }
        if code.is_empty() {
            code = param(&q, "code").to_string();
        }
        if err.is_empty() {
            err = match param(&q, "error") {
                "" => param(&q, "error_description").to_string(),
                e => e.to_string(),
            };
        }
    }
    if state.is_empty() {
        return bad(out, 400, "state is required");
    }
    if !valid_state(&state) {
        return bad(out, 400, "invalid state");
    }
    if code.is_empty() && err.is_empty() {
        return bad(out, 400, "code or error is required");
    }
    let session = lock().get(&state).map(|s| (s.provider, s.phase.clone()));
    let Some((session_provider, phase)) = session else {
        return bad(out, 404, "unknown or expired state");
    };
    if phase == Phase::Done {
        return bad(out, 409, "oauth flow is already completed");
    }
    if provider.is_empty() {
        provider = session_provider.to_string();
    }
    let Some(kind) = kind_named(&provider) else {
        return bad(out, 400, "unsupported provider");
    };
    if let Phase::Failed(m) = phase {
        return bad(out, 409, &m);
    }
    if kind.provider != session_provider {
        return bad(out, 400, "provider does not match state");
    }
    match deliver(&state, kind.provider, &code, &err) {
        Ok(()) => status_json(out, 200, json!({"status": "ok"})),
        Err(Refused::Failed(m)) => bad(out, 409, &m),
        Err(Refused::Unknown) => bad(out, 404, "unknown or expired state"),
        Err(_) => bad(out, 409, "oauth flow is not pending"),
    }
}

/// The query of a pasted redirect URL (`None`: not a URL).
fn redirect_query(url: &str) -> Option<String> {
    let url = url.trim();
    if url.bytes().any(|b| b <= b' ') {
        return None;
    }
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let before_fragment = rest.split('#').next().unwrap_or("");
    Some(
        before_fragment
            .split_once('?')
            .map_or("", |(_, q)| q)
            .to_string(),
    )
}

// ------------------------------------------------------------ main-port sinks

/// The kind whose sink is `path` (GET on the main port).
pub fn sink_of(path: &[u8]) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.sink.is_some_and(|s| s.as_bytes() == path))
}

/// Serves a provider's redirect on the main port: hands `code`/`error` to
/// the pending session named by `state` (nothing happens for an unknown
/// state or provider) and answers a page telling the user to close it.
pub async fn serve_sink(conn: &mut Conn, req: &Request<'_>, kind: &'static Kind) -> bool {
    let pairs = query_pairs(req.query());
    let state = param(&pairs, "state");
    let err = match param(&pairs, "error") {
        "" => param(&pairs, "error_description"),
        e => e,
    };
    if valid_state(state) {
        let _ = deliver(state, kind.provider, param(&pairs, "code"), err);
    }
    let body = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Login received</title>\
         </head><body><h1>Login received</h1><p>cliproxy has the answer of the sign-in page. \
         You may close this tab; the control panel shows the result.</p></body></html>";
    answer(
        &mut conn.out,
        200,
        b"text/html; charset=utf-8",
        body.as_bytes(),
    );
    conn.flush().await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_checked_like_cliproxyapi() {
        assert!(valid_state("abc-DEF_1.2"));
        for bad in ["", "a/b", "a\\b", "a..b", "a b", "é", &"x".repeat(129)] {
            assert!(!valid_state(bad), "{bad:?}");
        }
        assert!(valid_state(&"x".repeat(128)));
    }

    #[test]
    fn routes_and_sinks() {
        assert_eq!(find(b"GET", b"/anthropic-auth-url"), Some(Op::AuthUrl(0)));
        assert_eq!(find(b"GET", b"/codex-auth-url"), Some(Op::AuthUrl(1)));
        assert_eq!(find(b"GET", b"/gemini-cli-auth-url"), Some(Op::AuthUrl(2)));
        assert_eq!(find(b"POST", b"/anthropic-auth-url"), None);
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(find(b"GET", k.route.as_bytes()), Some(Op::AuthUrl(i)));
            if let Some(sink) = k.sink {
                assert_eq!(
                    sink_of(sink.as_bytes()).map(|s| s.provider),
                    Some(k.provider)
                );
            }
        }
        assert_eq!(find(b"POST", b"/iflow-auth-url"), Some(Op::IFlowCookie));
        assert_eq!(find(b"POST", b"/kimi-auth-url"), None);
        assert_eq!(
            sink_of(b"/antigravity/callback").map(|k| k.provider),
            Some("antigravity")
        );
        assert_eq!(
            sink_of(b"/iflow/callback").map(|k| k.provider),
            Some("iflow")
        );
        assert_eq!(
            kind_named("anti-gravity").map(|k| k.provider),
            Some("antigravity")
        );
        assert_eq!(kind_named("I-Flow").map(|k| k.provider), Some("iflow"));
        assert_eq!(find(b"GET", b"/oauth-callback"), Some(Op::Callback));
        assert_eq!(find(b"POST", b"/oauth-callback"), Some(Op::Callback));
        assert_eq!(find(b"DELETE", b"/oauth-session"), Some(Op::Cancel));
        assert_eq!(find(b"GET", b"/get-auth-status"), Some(Op::Status));
        assert_eq!(
            sink_of(b"/google/callback").map(|k| k.provider),
            Some("gemini")
        );
        assert!(sink_of(b"/nope/callback").is_none());
        assert_eq!(kind_named("Claude").map(|k| k.provider), Some("anthropic"));
        assert_eq!(kind_named("openai").map(|k| k.provider), Some("codex"));
    }

    #[test]
    fn pasted_redirects() {
        assert_eq!(
            redirect_query("http://localhost:54545/callback?code=c%23s&state=x#frag").as_deref(),
            Some("code=c%23s&state=x")
        );
        assert_eq!(redirect_query("http://h/p").as_deref(), Some(""));
        assert_eq!(redirect_query("http://h/p?a b"), None);
    }

    #[test]
    fn sessions_deliver_cancel_and_refuse() {
        let st = "unit-test-state-1";
        assert!(register(st, "codex"));
        assert_eq!(
            deliver(st, "anthropic", "c", ""),
            Err(Refused::WrongProvider)
        );
        assert_eq!(
            deliver("unit-none", "codex", "c", ""),
            Err(Refused::Unknown)
        );
        let net = Net {
            tls: crate::upstream::client_tls_config(&[]).expect("tls"),
            proxy: None,
        };
        let w = Waiter {
            state: st.into(),
            net,
        };
        let t = std::thread::spawn(move || w.code(Duration::from_secs(20)));
        assert_eq!(deliver(st, "codex", " the-code ", ""), Ok(()));
        assert_eq!(t.join().expect("join"), Ok("the-code".into()));
        set_phase(st, Phase::Done);
        assert_eq!(deliver(st, "codex", "c", ""), Err(Refused::Completed));
        let st2 = "unit-test-state-2";
        assert!(register(st2, "codex"));
        assert!(is_pending(st2));
        let mut out = Vec::new();
        cancel(st2, &mut out);
        assert!(String::from_utf8_lossy(&out).contains("\"cancelled\":true"));
        assert!(!is_pending(st2));
    }
}
