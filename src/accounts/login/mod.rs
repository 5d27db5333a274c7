//! The CLI login flows (`-login`, `-claude-login`, `-codex-login`,
//! `-codex-device-login`; `-kimi-login`, `-qwen-login`, `-iflow-login`,
//! `-iflow-cookie` in [`kimi`], [`qwen`], [`iflow`]), as CLIProxyAPI runs
//! them: PKCE with a local callback server (Claude 54545 `/callback`,
//! Codex 1455 `/auth/callback`, Gemini 8085 `/oauth2callback`, iFlow 11451
//! `/oauth2callback`; `-oauth-callback-port` moves the listener), or a
//! device flow (Codex, Kimi, Qwen); then the auth file is written to
//! `auth-dir` (temp file + rename, mode 0600) under CLIProxyAPI's name:
//!
//! - Claude: `claude-<email>.json`
//! - Codex: `codex-<email>.json`, `codex-<email>-<plan>.json`, or for a
//!   team plan `codex-<first 8 hex of SHA-256(account id)>-<email>-team.json`
//! - Kimi `kimi-<unix ms>.json`, Qwen `qwen-<email>.json`, iFlow
//!   `iflow-<email or key name>-<unix>.json`
//! - Gemini: `gemini-<email>-<project>.json` (`gemini-<email>-all.json`
//!   for several projects)
//! - Antigravity: `antigravity-<email>.json` (callback 51121
//!   `/oauth-callback`; see [`antigravity`])
//!
//! Everything here runs on the CLI's main thread (no workers are started):
//! blocking calls are fine and are allowed at their sites with that reason.

use super::oauth::{self, claude, codex, gemini, OAuthError, Pkce};
use super::{file, AccountKind, Net, TokenSet};
use serde_json::{Map, Value};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Prints a line on stdout; a closed stdout (`| head`) is not a panic.
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(io::stdout(), $($t)*);
    }};
}

/// Prints a line on stderr; never panics.
macro_rules! warn_user {
    ($($t:tt)*) => {{
        let _ = writeln!(io::stderr(), $($t)*);
    }};
}

pub mod antigravity;
pub mod device;
pub mod iflow;
pub mod kimi;
pub mod qwen;

/// How long the browser step may take (CLIProxyAPI: 5 minutes).
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Largest callback request head read.
const MAX_HEAD: usize = 16 * 1024;

/// Which login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `-login`: Google account for Gemini CLI (Code Assist).
    Gemini,
    /// `-claude-login`.
    Claude,
    /// `-codex-login`: browser (PKCE).
    Codex,
    /// `-codex-device-login`: device code.
    CodexDevice,
    /// `-kimi-login`: Kimi Code device flow.
    Kimi,
    /// `-qwen-login`: Qwen Code device flow.
    Qwen,
    /// `-iflow-login`: iFlow OAuth (browser, callback on 11451).
    IFlow,
    /// `-iflow-cookie`: iFlow browser cookie (read from stdin).
    IFlowCookie,
    /// `-antigravity-login`: Google account for Antigravity.
    Antigravity,
}

/// Command-line options of a login.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The config file (`auth-dir`, `proxy-url`).
    pub config: PathBuf,
    /// `-no-browser`: only print the URL.
    pub no_browser: bool,
    /// `-project_id` (Gemini): one id, several separated by commas, or `ALL`
    /// (every project the account lists).
    pub project_id: String,
    /// `-oauth-callback-port`: listen here instead of the provider's port
    /// (the redirect URI of Claude and Codex stays the registered one).
    pub callback_port: Option<u16>,
    /// `--upstream-ca` certificates, trusted for the OAuth servers too.
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// Runs a login; the process exit code (0 = the file was written).
pub fn run(flow: Flow, opts: &Options) -> i32 {
    let name = match flow {
        Flow::Gemini => "Gemini",
        Flow::Claude => "Claude",
        Flow::Codex => "Codex",
        Flow::CodexDevice => "Codex device",
        Flow::Kimi => "Kimi",
        Flow::Qwen => "Qwen",
        Flow::IFlow => "iFlow",
        Flow::IFlowCookie => "iFlow cookie",
        Flow::Antigravity => "Antigravity",
    };
    match login(flow, opts) {
        Ok(path) => {
            say!("Authentication saved to {}", path.display());
            say!("{name} authentication successful!");
            0
        }
        Err(e) => {
            warn_user!("{name} authentication failed: {e}");
            1
        }
    }
}

fn login(flow: Flow, opts: &Options) -> Result<PathBuf, String> {
    let (cfg, _) = crate::config::load_file(&opts.config).map_err(|e| e.to_string())?;
    let tls = crate::upstream::client_tls_config(&opts.extra_roots)
        .map_err(|e| format!("TLS roots: {e}"))?;
    let net = Net {
        tls,
        proxy: cfg
            .proxy_url
            .clone()
            .map(|u| Arc::new(crate::upstream::Proxy::resolve(u))),
    };
    let (name, obj) = match flow {
        Flow::Claude => claude_login(&net, opts)?,
        Flow::Codex => codex_login(&net, opts)?,
        Flow::CodexDevice => codex_device_login(&net, opts)?,
        Flow::Gemini => gemini_login(&net, opts)?,
        Flow::Kimi => kimi::login(&net, opts)?,
        Flow::Qwen => qwen::login(&net, opts)?,
        Flow::IFlow => iflow::login(&net, opts)?,
        Flow::IFlowCookie => iflow::cookie_login(&net, &cfg.auth_dir)?,
        Flow::Antigravity => antigravity::login(&net, opts)?,
    };
    save(&cfg.auth_dir, &name, &obj).map_err(|e| format!("writing {name}: {e}"))
}

pub(crate) fn oe(what: &str) -> impl Fn(OAuthError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A new auth file's object: `base` with the tokens applied in `kind`'s
/// layout (the layout lives in [`file::apply_tokens`]).
pub(crate) fn file_object(kind: AccountKind, mut base: Map<String, Value>, t: &TokenSet) -> Value {
    file::apply_tokens(kind, &mut base, t, now_secs());
    Value::Object(base)
}

fn extra_str<'a>(t: &'a TokenSet, k: &str) -> &'a str {
    t.extra.get(k).and_then(Value::as_str).unwrap_or("")
}

fn claude_login(net: &Net, opts: &Options) -> Result<(String, Value), String> {
    let pkce = Pkce::generate().map_err(|e| e.to_string())?;
    let state = oauth::random_state().map_err(|e| e.to_string())?;
    let port = opts.callback_port.unwrap_or(claude::CALLBACK_PORT);
    let listener = bind(port)?;
    show_url(&claude::auth_url(&state, &pkce.challenge), opts.no_browser);
    say!("Waiting for Claude authentication callback...");
    let code = wait_callback(&listener, claude::CALLBACK_PATH, &state, CALLBACK_TIMEOUT)?;
    claude_finish(net, &code, &state, pkce.verifier.expose())
}

/// The end of a Claude login, shared by the CLI and the management API's
/// browser flow: exchanges `code` (PKCE `verifier`) and builds the file's
/// name and object.
pub fn claude_finish(
    net: &Net,
    code: &str,
    state: &str,
    verifier: &str,
) -> Result<(String, Value), String> {
    let t = claude::exchange_code(net, code, state, verifier).map_err(oe("token exchange"))?;
    let email = extra_str(&t, "email").to_string();
    if email.is_empty() {
        return Err("the token answer names no account email".into());
    }
    let mut base = Map::new();
    base.insert("type".into(), "claude".into());
    base.insert("id_token".into(), "".into());
    Ok((
        format!("claude-{}.json", name_part(&email)),
        file_object(AccountKind::Claude, base, &t),
    ))
}

fn codex_login(net: &Net, opts: &Options) -> Result<(String, Value), String> {
    let pkce = Pkce::generate().map_err(|e| e.to_string())?;
    let state = oauth::random_state().map_err(|e| e.to_string())?;
    let port = opts.callback_port.unwrap_or(codex::CALLBACK_PORT);
    let listener = bind(port)?;
    show_url(&codex::auth_url(&state, &pkce.challenge), opts.no_browser);
    say!("Waiting for Codex authentication callback...");
    let code = wait_callback(&listener, codex::CALLBACK_PATH, &state, CALLBACK_TIMEOUT)?;
    codex_finish(net, &code, codex::REDIRECT_URI, pkce.verifier.expose())
}

/// The end of a Codex PKCE login (CLI and browser flow): exchanges `code`
/// for tokens and builds the file's name and object.
pub fn codex_finish(
    net: &Net,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<(String, Value), String> {
    let t =
        codex::exchange_code(net, code, redirect_uri, verifier).map_err(oe("token exchange"))?;
    codex_file(&t)
}

#[allow(
    clippy::disallowed_methods,
    reason = "the device flow polls on the login CLI thread, never a worker"
)]
fn pause(d: Duration) {
    std::thread::sleep(d);
}

fn codex_device_login(net: &Net, opts: &Options) -> Result<(String, Value), String> {
    let dc = codex::device_user_code(net).map_err(|e| e.to_string())?;
    say!("Starting Codex device authentication...");
    say!("Codex device URL: {}", codex::DEVICE_VERIFY_URL);
    say!("Codex device code: {}", dc.user_code);
    flush();
    if !opts.no_browser {
        open_browser(codex::DEVICE_VERIFY_URL);
    }
    let deadline = Instant::now() + codex::DEVICE_TIMEOUT;
    let grant = loop {
        if let Some(g) = codex::device_poll(net, &dc).map_err(|e| e.to_string())? {
            break g;
        }
        if Instant::now() + dc.interval > deadline {
            return Err(format!(
                "codex device authentication timed out after {} minutes",
                codex::DEVICE_TIMEOUT.as_secs() / 60
            ));
        }
        pause(dc.interval);
    };
    let t = codex::exchange_code(
        net,
        grant.code.expose(),
        codex::DEVICE_REDIRECT_URI,
        grant.verifier.expose(),
    )
    .map_err(oe("token exchange"))?;
    codex_file(&t)
}

/// The Codex file and its name, from a token answer.
fn codex_file(t: &TokenSet) -> Result<(String, Value), String> {
    let claims = codex::id_claims(t.id_token.as_ref().map_or("", |s| s.expose()));
    if claims.email.is_empty() {
        return Err("the id token names no account email".into());
    }
    let mut base = Map::new();
    base.insert("type".into(), "codex".into());
    base.insert("id_token".into(), "".into());
    base.insert("account_id".into(), "".into());
    let name = codex_file_name(&claims.email, &claims.plan, &claims.account_id);
    Ok((name, file_object(AccountKind::Codex, base, t)))
}

/// CLIProxyAPI's Codex file name.
pub fn codex_file_name(email: &str, plan: &str, account_id: &str) -> String {
    let email = name_part(email.trim());
    let plan = plan
        .split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("-");
    match plan.as_str() {
        "" => format!("codex-{email}.json"),
        "team" => {
            let hash = if account_id.trim().is_empty() {
                String::new()
            } else {
                use sha2::{Digest, Sha256};
                Sha256::digest(account_id.trim().as_bytes())
                    .iter()
                    .take(4)
                    .map(|b| format!("{b:02x}"))
                    .collect()
            };
            format!("codex-{hash}-{email}-team.json")
        }
        p => format!("codex-{email}-{p}.json"),
    }
}

/// CLIProxyAPI's Gemini file name.
pub fn gemini_file_name(email: &str, project: &str) -> String {
    let email = name_part(email.trim());
    let project = project.trim();
    if project.eq_ignore_ascii_case("all") || project.contains(',') {
        format!("gemini-{email}-all.json")
    } else {
        format!("gemini-{email}-{}.json", name_part(project))
    }
}

/// A file-name component: path separators and control characters become
/// `_` so a name can only land inside `auth-dir`.
pub(crate) fn name_part(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    match out.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None => out,
    }
}

fn gemini_login(net: &Net, opts: &Options) -> Result<(String, Value), String> {
    let pkce = Pkce::generate().map_err(|e| e.to_string())?;
    let state = oauth::random_state().map_err(|e| e.to_string())?;
    let port = opts.callback_port.unwrap_or(gemini::CALLBACK_PORT);
    let redirect = gemini::redirect_uri(port);
    let listener = bind(port)?;
    show_url(
        &gemini::auth_url(&redirect, &state, &pkce.challenge),
        opts.no_browser,
    );
    say!("Waiting for authentication callback...");
    let code = wait_callback(&listener, gemini::CALLBACK_PATH, &state, CALLBACK_TIMEOUT)?;
    gemini_finish(
        net,
        &code,
        &redirect,
        pkce.verifier.expose(),
        &opts.project_id,
        &mut |line| say!("{line}"),
    )
}

/// The end of a Gemini CLI login (CLI and browser flow): exchanges `code`,
/// reads the account's email, activates or discovers the Code Assist
/// project(s) (`project_id`: one id, several separated by commas, `ALL`, or
/// empty to discover) and builds the file's name and object. `progress`
/// receives the steps for the user.
pub fn gemini_finish(
    net: &Net,
    code: &str,
    redirect: &str,
    verifier: &str,
    project_id: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(String, Value), String> {
    let requested: Vec<String> = project_id
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let t = gemini::exchange_code(net, code, redirect, verifier).map_err(oe("token exchange"))?;
    let access = t.access_token.expose();
    let email = gemini::user_email(net, access).map_err(oe("userinfo"))?;
    if email.is_empty() {
        progress("Failed to get user email from token");
    } else {
        progress(&format!("Authenticated user email: {email}"));
    }
    let all = requested.iter().any(|p| p.eq_ignore_ascii_case("all"));
    let requested = if all {
        let listed = gemini::list_projects(net, access).map_err(oe("project list"))?;
        if listed.is_empty() {
            return Err("-project_id ALL: the account lists no Google Cloud projects".into());
        }
        listed
    } else {
        requested
    };
    let mut projects: Vec<String> = Vec::new();
    if requested.is_empty() {
        progress("No -project_id: discovering the account's Code Assist project...");
        let p = gemini::discover_project(net, access).map_err(oe("project discovery"))?;
        progress(&format!("Discovered project: {p}"));
        projects.push(p);
    } else {
        for r in &requested {
            progress(&format!("Activating project {r}"));
            let p = gemini::setup_project(net, access, Some(r)).map_err(oe("onboarding"))?;
            if !projects.contains(&p) {
                projects.push(p);
            }
        }
    }
    for p in &projects {
        gemini::check_cloud_api(net, access, p).map_err(|e| e.to_string())?;
    }
    let project = projects.join(",");
    let mut base = Map::new();
    base.insert("type".into(), "gemini".into());
    base.insert("token".into(), Value::Object(gemini::token_client_fields()));
    base.insert("project_id".into(), project.clone().into());
    base.insert("email".into(), email.clone().into());
    base.insert("auto".into(), false.into());
    base.insert("checked".into(), true.into());
    Ok((
        gemini_file_name(&email, &project),
        file_object(AccountKind::Gemini, base, &t),
    ))
}

fn flush() {
    let _ = io::stdout().flush();
}

/// Prints `question` and reads one line from stdin (trimmed).
fn prompt(question: &str) -> Result<String, String> {
    say!("{question}");
    flush();
    let mut line = String::new();
    match io::stdin().read_line(&mut line) {
        Ok(0) => Err(format!("no answer on stdin to: {question}")),
        Ok(_) => Ok(line.trim().to_string()),
        Err(e) => Err(format!("reading stdin: {e}")),
    }
}

/// Prints the authorization URL and, unless `-no-browser`, tries to open it.
pub(crate) fn show_url(url: &str, no_browser: bool) {
    if !no_browser {
        say!("Opening browser for authentication");
        open_browser(url);
    }
    say!("Visit the following URL to continue authentication:\n{url}");
    flush();
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        warn_user!("could not start {opener}: open the URL below yourself");
    }
}

/// Listens on `port` on every address (like CLIProxyAPI's `:port`).
pub(crate) fn bind(port: u16) -> Result<TcpListener, String> {
    let any6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    let any4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    TcpListener::bind(any6)
        .or_else(|_| TcpListener::bind(any4))
        .map_err(|e| {
            format!("callback port {port} is not available ({e}); free it or pick another with -oauth-callback-port")
        })
}

/// What a callback request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// `code` and `state`.
    Code {
        /// The authorization code.
        code: String,
        /// The state echoed back.
        state: String,
    },
    /// The provider's `error` (and `error_description`).
    Error(String),
    /// Not the callback path (favicon and the like): 404, keep waiting.
    Other,
    /// Not a GET: 405, keep waiting.
    BadMethod,
}

/// Reads a request head (through the blank line) from `r`, at most `max`
/// bytes.
pub fn read_head(r: &mut impl Read, max: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before the end of the request head",
            ));
        }
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = memchr::memmem::find(&head[from..], b"\r\n\r\n") {
            head.truncate(from + i + 4);
            return Ok(head);
        }
        if head.len() > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
    }
}

/// Reads what a callback request head carries for `path`.
pub fn parse_callback(head: &[u8], path: &str) -> Result<Callback, String> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut hs);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err("malformed request".into()),
    }
    let target = req.path.unwrap_or("/");
    let (p, query) = target.split_once('?').unwrap_or((target, ""));
    if p != path {
        return Ok(Callback::Other);
    }
    if req.method != Some("GET") {
        return Ok(Callback::BadMethod);
    }
    let q = query.as_bytes();
    let get = |name: &str| {
        let mut out = Vec::new();
        if let Some(v) = crate::h1::query::query_param(q, name) {
            crate::h1::query::percent_decode(v, &mut out);
        }
        String::from_utf8_lossy(&out).trim().to_string()
    };
    let error = get("error");
    if !error.is_empty() {
        let desc = get("error_description");
        return Ok(Callback::Error(if desc.is_empty() {
            error
        } else {
            format!("{error}: {desc}")
        }));
    }
    let code = get("code");
    if code.is_empty() {
        return Ok(Callback::Error("no authorization code received".into()));
    }
    let state = get("state");
    if state.is_empty() {
        return Ok(Callback::Error("no state parameter received".into()));
    }
    Ok(Callback::Code { code, state })
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: u16, title: &str, text: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{x}</p></body></html>",
        t = html_escape(title),
        x = html_escape(text)
    );
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Serves `path` on `listener` until a callback arrives or `timeout`
/// passes; returns the authorization code once `state` matched. A provider
/// error, a missing code or a state mismatch ends the login with an error
/// page in the browser.
#[allow(
    clippy::disallowed_methods,
    reason = "the callback server runs on the login CLI thread, never a worker"
)]
pub fn wait_callback(
    listener: &TcpListener,
    path: &str,
    state: &str,
    timeout: Duration,
) -> Result<String, String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("callback listener: {e}"))?;
    let deadline = Instant::now() + timeout;
    loop {
        let conn = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "timed out after {} s waiting for the OAuth callback",
                        timeout.as_secs()
                    ));
                }
                std::thread::sleep(Duration::from_millis(25));
                continue;
            }
            Err(e) => return Err(format!("callback listener: {e}")),
        };
        if let Some(r) = serve_one(conn, path, state) {
            return r;
        }
    }
}

/// Answers one browser connection; `None` when it was not the callback.
fn serve_one(mut s: TcpStream, path: &str, state: &str) -> Option<Result<String, String>> {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    let head = read_head(&mut s, MAX_HEAD).ok()?;
    let (reply, outcome) = match parse_callback(&head, path) {
        Err(e) => (page(400, "Bad request", &e), None),
        Ok(Callback::Other) => (page(404, "Not found", "Nothing here."), None),
        Ok(Callback::BadMethod) => (page(405, "Method not allowed", "Use GET."), None),
        Ok(Callback::Error(e)) => (
            page(400, "Authentication failed", &e),
            Some(Err(format!("the provider returned an error: {e}"))),
        ),
        Ok(Callback::Code { state: got, .. }) if got != state => (
            page(
                400,
                "Authentication failed",
                "State mismatch: this answer does not belong to this login. Start the login again.",
            ),
            Some(Err("state mismatch in the OAuth callback".into())),
        ),
        Ok(Callback::Code { code, .. }) => (
            page(
                200,
                "Authentication successful",
                "You can close this window and return to the terminal.",
            ),
            Some(Ok(code)),
        ),
    };
    let _ = s.write_all(&reply);
    let _ = s.flush();
    outcome
}

/// Writes `obj` to `dir/name` atomically (temp file + rename), mode 0600;
/// creates `dir` (0700) when missing.
pub fn save(dir: &Path, name: &str, obj: &Value) -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let path = dir.join(name);
    let mut text = serde_json::to_vec_pretty(obj).map_err(io::Error::other)?;
    text.push(b'\n');
    super::file::write_atomic(&path, &text).map(|()| path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Yields its bytes in pieces of `step`.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn head_reader_whole_and_split_at_every_byte() {
        let req =
            b"GET /callback?code=a%2Fb&state=s HTTP/1.1\r\nHost: localhost:54545\r\n\r\nEXTRA";
        let want_len = req.len() - "EXTRA".len();
        for step in 1..=req.len() {
            let mut t = Trickle { data: req, step };
            let head = read_head(&mut t, MAX_HEAD).expect("head");
            assert_eq!(head, &req[..want_len], "step {step}");
            assert_eq!(
                parse_callback(&head, "/callback"),
                Ok(Callback::Code {
                    code: "a/b".into(),
                    state: "s".into()
                })
            );
        }
        let mut t = Trickle {
            data: b"GET / HTTP/1.1\r\n",
            step: 3,
        };
        assert!(read_head(&mut t, MAX_HEAD).is_err());
        let big = vec![b'a'; 100];
        assert!(read_head(
            &mut Trickle {
                data: &big,
                step: 7
            },
            50
        )
        .is_err());
    }

    #[test]
    fn callback_requests() {
        let p = |s: &str| parse_callback(s.as_bytes(), "/auth/callback");
        assert_eq!(
            p("GET /auth/callback?error=access_denied&error_description=User+said+no HTTP/1.1\r\n\r\n"),
            Ok(Callback::Error("access_denied: User said no".into()))
        );
        assert_eq!(
            p("GET /auth/callback?state=x HTTP/1.1\r\n\r\n"),
            Ok(Callback::Error("no authorization code received".into()))
        );
        assert_eq!(
            p("GET /auth/callback?code=c HTTP/1.1\r\n\r\n"),
            Ok(Callback::Error("no state parameter received".into()))
        );
        assert_eq!(p("GET /favicon.ico HTTP/1.1\r\n\r\n"), Ok(Callback::Other));
        assert_eq!(
            p("POST /auth/callback?code=c&state=s HTTP/1.1\r\n\r\n"),
            Ok(Callback::BadMethod)
        );
        assert!(p("\x01\x02 nonsense\r\n\r\n").is_err());
    }

    #[test]
    fn file_names_follow_cliproxyapi() {
        assert_eq!(codex_file_name("a@b.c", "", "x"), "codex-a@b.c.json");
        assert_eq!(
            codex_file_name("a@b.c", "Plus", "x"),
            "codex-a@b.c-plus.json"
        );
        assert_eq!(
            codex_file_name("a@b.c", "pro_lite", "x"),
            "codex-a@b.c-pro-lite.json"
        );
        // SHA-256("acc-1") starts 2d3a6c0b...
        use sha2::{Digest, Sha256};
        let h: String = Sha256::digest(b"acc-1")[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            codex_file_name("a@b.c", "team", "acc-1"),
            format!("codex-{h}-a@b.c-team.json")
        );
        assert_eq!(gemini_file_name("g@x.y", "p-1"), "gemini-g@x.y-p-1.json");
        assert_eq!(
            gemini_file_name("g@x.y", "p-1,p-2"),
            "gemini-g@x.y-all.json"
        );
        assert_eq!(gemini_file_name("g@x.y", "ALL"), "gemini-g@x.y-all.json");
        assert_eq!(name_part("../x/y"), "_._x_y");
    }

    #[test]
    fn save_is_atomic_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("cliproxy-login-save-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = save(&dir.join("sub"), "x.json", &json!({"a":1})).expect("saved");
        let meta = std::fs::metadata(&p).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let v: Value = serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("json");
        assert_eq!(v["a"], 1);
        let p2 = save(&dir.join("sub"), "x.json", &json!({"a":2})).expect("saved");
        assert_eq!(p, p2);
        let names: Vec<_> = std::fs::read_dir(dir.join("sub"))
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(
            names,
            [std::ffi::OsString::from("x.json")],
            "no temp file left"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pages_escape_provider_text() {
        let p = String::from_utf8(page(400, "Authentication failed", "<script>x</script>"))
            .expect("utf8");
        assert!(p.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(p.contains("&lt;script&gt;"));
        assert!(!p.contains("<script>"));
    }
}
