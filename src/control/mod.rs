//! The control thread: everything that may block and is not per request.
//! It watches the config file (inotify on its directory, so editors that
//! replace the file atomically are seen), re-resolves upstream host names,
//! and turns SIGINT/SIGTERM into a graceful shutdown. Results reach the
//! workers as a new [`Snapshot`] through `ServerHandle::reload`.

use crate::runtime::ServerHandle;
use crate::state::Snapshot;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often upstream host names are re-resolved (a DNS cache TTL).
pub const DNS_TTL: Duration = Duration::from_secs(60);

/// How often the config file is stat-ed in case inotify missed a change.
pub const STAT_INTERVAL: Duration = Duration::from_secs(1);

fn file_stamp(path: &Path) -> Option<(std::time::SystemTime, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// Pause after a file event before reading, so a writer's several writes land as one reload.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(50);

static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = [1u8];
        // SAFETY: write(2) is async-signal-safe; fd is our pipe's write end.
        unsafe {
            libc::write(fd, b.as_ptr().cast(), 1);
        }
    }
}

/// Routes SIGINT/SIGTERM to a pipe the control loop polls; call before the
/// server announces itself, so an early signal is a graceful shutdown too.
pub fn install_signals() -> std::io::Result<libc::c_int> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    // SAFETY: installing a handler that only calls write(2).
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    Ok(fds[0])
}

fn watch_dir(path: &Path) -> Option<libc::c_int> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: plain syscalls on a path string we own.
    unsafe {
        let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let mask = libc::IN_CLOSE_WRITE | libc::IN_MOVED_TO | libc::IN_CREATE | libc::IN_MODIFY;
        if libc::inotify_add_watch(fd, c.as_ptr(), mask) < 0 {
            libc::close(fd);
            return None;
        }
        Some(fd)
    }
}

fn drain(fd: libc::c_int) {
    let mut buf = [0u8; 4096];
    // SAFETY: reading into our own stack buffer from a non-blocking fd.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

fn hash_of(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Loads and validates `path` into a snapshot of generation `gen`.
pub fn load_snapshot(path: &Path, gen: u64) -> Result<Arc<Snapshot>, String> {
    let (cfg, warnings) = crate::config::load_file(path).map_err(|e| e.to_string())?;
    for w in &warnings {
        crate::log_warn!("config: {}: {}", w.key_path, w.message);
    }
    let inactive = crate::config::inactive::inactive_keys(&cfg);
    if !inactive.is_empty() {
        crate::log_warn!(
            "config: parsed but not acted on yet (no effect): {}",
            inactive.join(", ")
        );
    }
    Snapshot::build(cfg, gen).map(Arc::new)
}

/// A reload cannot move the listener between HTTP and HTTPS: say so.
fn warn_tls_toggle(listener_tls: bool, config_tls: bool) {
    if listener_tls && !config_tls {
        crate::log_warn!(
            "tls.enable turned off: the listener keeps serving HTTPS with the last certificate until restart"
        );
    } else if !listener_tls && config_tls {
        crate::log_warn!("tls.enable turned on: the listener stays plain HTTP until restart");
    }
}

/// An HTTPS listener whose config turned TLS off keeps its last
/// certificate: every worker then serves the same one until restart.
fn keep_listener_tls(handle: &ServerHandle, snap: &mut Arc<Snapshot>, listener_tls: bool) {
    if !listener_tls || snap.server_tls.is_some() {
        return;
    }
    let last = handle
        .shared
        .current
        .lock()
        .ok()
        .and_then(|c| c.server_tls.clone());
    if let Some(s) = Arc::get_mut(snap) {
        s.server_tls = last;
    }
}

/// What the config file looked like when it was loaded: taken before the
/// load, so an edit made while the server starts is still seen as a change.
#[derive(Clone, Copy, Debug)]
pub struct Baseline {
    hash: u64,
    stamp: Option<(std::time::SystemTime, u64, u64)>,
}

impl Baseline {
    /// Reads the file's current content hash and stamp.
    pub fn of(path: &Path) -> Baseline {
        Baseline {
            stamp: file_stamp(path),
            hash: std::fs::read(path).map(|b| hash_of(&b)).unwrap_or(0),
        }
    }
}

/// The current config's `auth-dir` fingerprint now, and as the current
/// snapshot saw it ([`crate::accounts::store::stamp`]).
fn auth_dir_stamp(handle: &ServerHandle) -> (u64, u64) {
    let cur = handle
        .shared
        .current
        .lock()
        .map(|c| (c.config.auth_dir.clone(), c.auth_stamp))
        .ok();
    cur.map(|(d, seen)| (crate::accounts::store::stamp(&d), seen))
        .unwrap_or((0, 0))
}

/// Loads a new snapshot (config and auth files) and hands it to the workers.
/// False when the new config was rejected.
fn reload(handle: &ServerHandle, config_path: &Path, listener_tls: bool, why: &str) -> bool {
    // A plaintext management key is hashed in the file before it is served.
    if let Err(e) = crate::management::secure_secret_key(config_path) {
        crate::log_error!("{why} reload rejected, keeping the old config: {e}");
        return false;
    }
    let gen = handle.generation() + 1;
    match load_snapshot(config_path, gen) {
        Ok(mut snap) => {
            crate::log::set_debug(snap.config.debug);
            crate::obs::apply(&snap.config);
            warn_tls_toggle(listener_tls, snap.server_tls.is_some());
            keep_listener_tls(handle, &mut snap, listener_tls);
            if handle.reload(snap, Duration::from_secs(5)) {
                crate::log_info!("{why} reloaded (generation {gen})");
            } else {
                crate::log_warn!("{why} reload: not every worker acknowledged in time");
            }
            true
        }
        Err(e) => {
            crate::log_error!("{why} reload rejected, keeping the old config: {e}");
            false
        }
    }
}

/// Runs the control loop until SIGINT/SIGTERM, then drains and returns the exit code.
pub fn run(
    handle: ServerHandle,
    config_path: PathBuf,
    sig_fd: libc::c_int,
    baseline: Baseline,
) -> i32 {
    let inotify = watch_dir(&config_path);
    if inotify.is_none() {
        crate::log_warn!(
            "cannot watch {}; hot reload disabled",
            config_path.display()
        );
    }
    // The listener's mode is fixed at start; reloads only swap certificates.
    let listener_tls = handle
        .shared
        .current
        .lock()
        .map(|c| c.server_tls.is_some())
        .unwrap_or(false);
    let mut last_hash = baseline.hash;
    let mut next_dns = Instant::now() + DNS_TTL;
    let mut last_stamp = baseline.stamp;
    let mut auth_failed = 0u64;
    loop {
        let mut fds = vec![libc::pollfd {
            fd: sig_fd,
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(fd) = inotify {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let wait = next_dns
            .saturating_duration_since(Instant::now())
            .min(STAT_INTERVAL)
            .as_millis() as i32;
        // SAFETY: fds is a valid array of pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait) };
        if n > 0 && fds[0].revents != 0 {
            crate::log_info!("shutdown signal: draining (up to the drain deadline)");
            let clean = handle.shutdown();
            if !clean {
                crate::log_warn!("drain deadline passed with requests still open");
            }
            return 0;
        }
        // inotify is the fast path; a periodic stat catches anything it missed
        // (events coalesced while reading, watch limits, network filesystems).
        let stamp = file_stamp(&config_path);
        let event = n > 0 && fds.len() > 1 && fds[1].revents != 0;
        if event || stamp != last_stamp {
            last_stamp = stamp;
            #[allow(
                clippy::disallowed_methods,
                reason = "the control thread, not a worker: debounces a burst of file events"
            )]
            std::thread::sleep(RELOAD_DEBOUNCE);
            if let Some(fd) = inotify {
                drain(fd);
            }
            let Ok(bytes) = std::fs::read(&config_path) else {
                continue;
            };
            let h = hash_of(&bytes);
            if h == last_hash {
                continue;
            }
            last_hash = h;
            reload(&handle, &config_path, listener_tls, "config");
        }
        // Usage statistics: move the workers' queued records into the aggregate.
        if let Some(cur) = handle.shared.current.lock().ok().map(|c| c.clone()) {
            crate::management::usage::set_queue_retention(
                cur.config.redis_usage_queue_retention_seconds,
            );
        }
        crate::management::usage::drain();
        // Auth files: a stat scan each pass (added, changed, removed files
        // take effect within about a second, whatever the filesystem),
        // compared with what the serving snapshot read.
        let (now, seen) = auth_dir_stamp(&handle);
        // A rejected reload is not retried until the directory changes again.
        if now != seen
            && now != auth_failed
            && !reload(&handle, &config_path, listener_tls, "auth files")
        {
            auth_failed = now;
        }
        if Instant::now() >= next_dns {
            next_dns = Instant::now() + DNS_TTL;
            crate::runtime::save_cooldowns(&handle.shared);
            let cur = handle.shared.current.lock().map(|c| c.clone()).ok();
            if let Some(cur) = cur {
                if cur.re_resolved().is_some() || cur.amp_changed() {
                    if let Ok(mut snap) = load_snapshot(&config_path, cur.generation + 1) {
                        keep_listener_tls(&handle, &mut snap, listener_tls);
                        handle.reload(snap, Duration::from_secs(5));
                        crate::log_info!("upstream addresses or Amp key changed; refreshed");
                    }
                }
            }
        }
    }
}
