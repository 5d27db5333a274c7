//! `cliproxy` binary: command line -> config -> workers -> control loop.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bad command line or config is reported, never a panic"
)]
#![deny(
    clippy::disallowed_methods,
    reason = "the binary shares the library's rule on blocking calls"
)]

use cliproxy::accounts::login::Flow;
use cliproxy::runtime::{Driver, Options};
use std::path::PathBuf;
use std::time::Duration;

const USAGE: &str =
    "usage: cliproxy [--config PATH] [--check-config] [--workers N] [--driver auto|uring|epoll]
                [--drain-seconds N] [--upstream-ca PEM] [--pin-cpu N]
                [--head-timeout S] [--idle-timeout S]
  --config PATH       CLIProxyAPI-format config.yaml (default ./config.yaml); -config also accepted
  --check-config      validate the config and exit (0 = valid)
  --workers N         worker threads (default: available cores)
  --driver D          io driver: auto (io_uring, else epoll), uring, epoll; env CLIPROXY_DRIVER
  --drain-seconds N   on SIGINT/SIGTERM, wait up to N s for open requests (default 30)
  --upstream-ca PEM   extra CA certificates trusted for upstream TLS
  --pin-cpu N         pin worker i to CPU N+i (benchmarks)
  --head-timeout S    seconds to receive a request head once it started (default 30)
  --idle-timeout S    seconds a keep-alive connection may sit idle (default 75)
login (writes an auth file to the config's auth-dir, then exits):
  -claude-login       Claude Code OAuth (browser, callback on :54545)
  -codex-login        Codex OAuth (browser, callback on :1455)
  -codex-device-login Codex device code flow
  -login              Google account for Gemini CLI (browser, callback on :8085)
  -kimi-login         Kimi Code device flow
  -qwen-login         Qwen Code device flow (asks for an email or alias on stdin)
  -iflow-login        iFlow OAuth (browser, callback on :11451)
  -iflow-cookie       iFlow browser cookie (read from stdin) -> API key
  -antigravity-login  Google account for Antigravity (browser, callback on :51121)
  -project_id ID      Gemini: project(s) to use, comma-separated (default: discovered)
  -vertex-import FILE import a Vertex AI service-account key (JSON) into auth-dir
  -no-browser         print the URL only (default: also try to open a browser)
  -oauth-callback-port N  listen for the callback on port N instead";

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let mut config = PathBuf::from("config.yaml");
    let mut check = false;
    let mut opts = Options::default();
    let mut login: Option<Flow> = None;
    let mut login_opts = cliproxy::accounts::login::Options::default();
    let mut vertex_import: Option<String> = None;
    if let Ok(d) = std::env::var("CLIPROXY_DRIVER") {
        match Driver::parse(&d) {
            Some(d) => opts.driver = d,
            None => {
                eprintln!("CLIPROXY_DRIVER: unknown driver {d:?}");
                return 2;
            }
        }
    }
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        // CLIProxyAPI spells flags with one dash; accept both.
        let flag = a.trim_start_matches('-');
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        let mut value = |name: &str| -> Result<String, i32> {
            inline.clone().or_else(|| args.next()).ok_or_else(|| {
                eprintln!("--{name} needs a value\n{USAGE}");
                2
            })
        };
        match flag.as_str() {
            "config" => match value("config") {
                Ok(v) => config = PathBuf::from(v),
                Err(c) => return c,
            },
            "check-config" => check = true,
            "workers" => match value("workers").map(|v| v.parse::<usize>()) {
                Ok(Ok(n)) => opts.workers = n,
                _ => {
                    eprintln!("--workers needs a number");
                    return 2;
                }
            },
            "driver" => match value("driver").map(|v| Driver::parse(&v)) {
                Ok(Some(d)) => opts.driver = d,
                _ => {
                    eprintln!("--driver must be auto, uring or epoll");
                    return 2;
                }
            },
            "drain-seconds" => match value("drain-seconds").map(|v| v.parse::<u64>()) {
                Ok(Ok(n)) => opts.drain = Duration::from_secs(n),
                _ => {
                    eprintln!("--drain-seconds needs a number");
                    return 2;
                }
            },
            "head-timeout" | "idle-timeout" => {
                let name = flag.clone();
                match value(&name).map(|v| v.parse::<f64>()) {
                    Ok(Ok(secs)) if secs > 0.0 && secs.is_finite() => {
                        let d = Duration::from_secs_f64(secs);
                        if name == "head-timeout" {
                            opts.timeouts.head = d;
                        } else {
                            opts.timeouts.idle = d;
                        }
                    }
                    _ => {
                        eprintln!("--{name} needs a positive number of seconds");
                        return 2;
                    }
                }
            }
            "pin-cpu" => match value("pin-cpu").map(|v| v.parse::<usize>()) {
                Ok(Ok(n)) => opts.pin_first_cpu = Some(n),
                _ => {
                    eprintln!("--pin-cpu needs a number");
                    return 2;
                }
            },
            "upstream-ca" => {
                let path = match value("upstream-ca") {
                    Ok(v) => v,
                    Err(c) => return c,
                };
                match load_pem(&path) {
                    Ok(mut certs) => opts.extra_roots.append(&mut certs),
                    Err(e) => {
                        eprintln!("--upstream-ca {path}: {e}");
                        return 2;
                    }
                }
            }
            "login" | "claude-login" | "codex-login" | "codex-device-login" | "kimi-login"
            | "qwen-login" | "iflow-login" | "iflow-cookie" | "antigravity-login" => {
                let f = match flag.as_str() {
                    "login" => Flow::Gemini,
                    "claude-login" => Flow::Claude,
                    "codex-login" => Flow::Codex,
                    "kimi-login" => Flow::Kimi,
                    "qwen-login" => Flow::Qwen,
                    "iflow-login" => Flow::IFlow,
                    "iflow-cookie" => Flow::IFlowCookie,
                    "antigravity-login" => Flow::Antigravity,
                    _ => Flow::CodexDevice,
                };
                if login.is_some_and(|l| l != f) {
                    eprintln!("only one login flag at a time");
                    return 2;
                }
                login = Some(f);
            }
            "vertex-import" => match value("vertex-import") {
                Ok(v) => vertex_import = Some(v),
                Err(c) => return c,
            },
            "no-browser" => login_opts.no_browser = true,
            "project_id" => match value("project_id") {
                Ok(v) => login_opts.project_id = v,
                Err(c) => return c,
            },
            "oauth-callback-port" => match value("oauth-callback-port").map(|v| v.parse::<u16>()) {
                Ok(Ok(0)) => login_opts.callback_port = None,
                Ok(Ok(n)) => login_opts.callback_port = Some(n),
                _ => {
                    eprintln!("--oauth-callback-port needs a port number");
                    return 2;
                }
            },
            "h" | "help" => {
                println!("{USAGE}");
                return 0;
            }
            _ => {
                eprintln!("unknown flag {a}\n{USAGE}");
                return 2;
            }
        }
    }
    if let Some(key) = vertex_import {
        if login.is_some() {
            eprintln!("-vertex-import and a login flag cannot be combined");
            return 2;
        }
        return cliproxy::accounts::vertex::run_import(&config, &key);
    }
    if let Some(flow) = login {
        login_opts.config = config;
        login_opts.extra_roots = opts.extra_roots.clone();
        return cliproxy::accounts::login::run(flow, &login_opts);
    }
    if !check {
        // A plaintext management key is hashed and written back before
        // anything serves; a key that cannot be secured stops the start.
        if let Err(e) = cliproxy::management::secure_secret_key(&config) {
            eprintln!("{e}");
            return 1;
        }
        cliproxy::management::init(&config);
    }
    let baseline = cliproxy::control::Baseline::of(&config);
    let snap = match cliproxy::control::load_snapshot(&config, 1) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if check {
        println!("config OK: {}", config.display());
        return 0;
    }
    cliproxy::log::set_debug(snap.config.debug);
    // A control panel already on disk is re-checked every 3 h from now on.
    cliproxy::management::panel::at_start(&config, &snap.config, &opts.extra_roots);
    cliproxy::obs::apply(&snap.config);
    if let Err(e) = std::fs::create_dir_all(&snap.config.auth_dir) {
        cliproxy::log_warn!("auth-dir {}: {e}", snap.config.auth_dir.display());
    }
    if snap.config.api_keys.is_empty() {
        cliproxy::log_warn!("api-keys is empty: every request is allowed without a key");
    }
    let sig_fd = match cliproxy::control::install_signals() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("cannot install signal handlers: {e}");
            return 1;
        }
    };
    let handle = match cliproxy::start(snap.clone(), &opts) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return 1;
        }
    };
    let setup = match cliproxy::runtime::ring_setup() {
        Some(s) if handle.driver == cliproxy::runtime::Driver::IoUring => s.name(),
        _ => "",
    };
    let ready = format!(
        "cliproxy listening on {} ({} workers, {} driver{setup})",
        handle.addr,
        handle.shared.applied.len(),
        handle.driver.name()
    );
    cliproxy::log_info!("{ready}");
    // With `logging-to-file` the log goes to logs/main.log; the readiness
    // line still reaches stderr for supervisors.
    if cliproxy::obs::mainlog::active() {
        eprintln!("{ready}");
    }
    cliproxy::control::run(handle, config, sig_fd, baseline)
}

fn load_pem(path: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect();
    let certs = certs.map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificates found".into());
    }
    Ok(certs)
}
