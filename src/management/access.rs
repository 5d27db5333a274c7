//! Who may use the management API, as CLIProxyAPI decides it
//! (`internal/api/handlers/management/handler.go`):
//!
//! 1. an IP banned for repeated failures gets 403 `IP banned due to too many
//!    failed attempts. Try again in <Go duration>`;
//! 2. a non-local client (anything but `127.0.0.1` / `::1`) gets 403
//!    `remote management disabled` unless `allow-remote: true` or
//!    `MANAGEMENT_PASSWORD` is set;
//! 3. no key: 401 `missing management key` (counts as a failure);
//! 4. `MANAGEMENT_PASSWORD` compared in constant time, then the bcrypt hash
//!    of `remote-management.secret-key`; a mismatch is 401
//!    `invalid management key` (a failure). 5 failures from one IP ban it
//!    for 30 minutes; a success clears its count.
//!
//! bcrypt is slow on purpose (~50 ms at cost 10) and runs on a worker: to
//! keep a busy panel from stalling that worker's connections, the SHA-256 of
//! the last accepted key (salted with the hash it matched) is remembered and
//! compared in constant time first. Failures always pay the bcrypt cost, and
//! five of them ban the IP.

use crate::secret::Secret;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures from one IP before it is banned.
pub const MAX_FAILURES: u32 = 5;
/// How long a ban lasts.
pub const BAN: Duration = Duration::from_secs(30 * 60);
/// Entries idle longer than this (and not banned) are dropped.
const IDLE: Duration = Duration::from_secs(2 * 60 * 60);
/// Most IPs tracked at once; past it, stale entries are purged first.
const MAX_TRACKED: usize = 4096;

#[derive(Clone, Copy)]
struct Attempt {
    count: u32,
    blocked_until: Option<Instant>,
    last: Instant,
}

/// Why a request was refused: status and CLIProxyAPI's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// HTTP status (401 or 403).
    pub status: u16,
    /// The `error` field of the body.
    pub message: String,
}

/// Access state shared by every worker (the management plane only; the
/// proxy path never touches it).
pub struct Gate {
    env_secret: Option<Secret>,
    attempts: Mutex<HashMap<IpAddr, Attempt>>,
    accepted: Mutex<Option<[u8; 32]>>,
}

/// Whether `ip` counts as local (`127.0.0.1`, `::1`, or `::ffff:127.0.0.1`).
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets() == [127, 0, 0, 1],
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.octets() == [127, 0, 0, 1])
        }
    }
}

/// The key a request presents: `Authorization: Bearer <k>` (a non-Bearer
/// value is used raw), else `X-Management-Key`.
pub fn presented<'a>(authorization: Option<&'a [u8]>, x_key: Option<&'a [u8]>) -> &'a [u8] {
    if let Some(a) = authorization.filter(|a| !a.is_empty()) {
        if let Some(i) = memchr::memchr(b' ', a) {
            if a[..i].eq_ignore_ascii_case(b"bearer") {
                return &a[i + 1..];
            }
        }
        return a;
    }
    x_key.unwrap_or_default()
}

/// Go's `time.Duration.String()` for a whole number of seconds (`29m59s`, `45s`, `0s`).
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Whether `s` looks like a bcrypt hash (`$2a$`, `$2b$`, `$2x$`, `$2y$`).
pub fn is_bcrypt(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 60
        && b.starts_with(b"$2")
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
}

fn digest(hash: &str, key: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(hash.as_bytes());
    h.update([0u8]);
    h.update(key);
    h.finalize().into()
}

fn ct_eq32(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut d = 0u8;
    for (x, y) in a.iter().zip(b) {
        d |= x ^ y;
    }
    std::hint::black_box(d) == 0
}

impl Gate {
    /// A gate with the `MANAGEMENT_PASSWORD` value (trimmed; empty = unset).
    pub fn new(env_secret: Option<String>) -> Gate {
        let env_secret = env_secret
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        Gate {
            env_secret,
            attempts: Mutex::new(HashMap::new()),
            accepted: Mutex::new(None),
        }
    }

    /// Whether `MANAGEMENT_PASSWORD` is set (it enables the routes and remote access).
    pub fn has_env_secret(&self) -> bool {
        self.env_secret.is_some()
    }

    /// Decides one request. `secret_hash` is the config's
    /// `remote-management.secret-key` (a bcrypt hash once the start-up
    /// write-back ran).
    pub fn check(
        &self,
        ip: IpAddr,
        allow_remote: bool,
        secret_hash: &str,
        provided: &[u8],
    ) -> Result<(), Denied> {
        let now = Instant::now();
        {
            let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(a) = map.get_mut(&ip) {
                if let Some(until) = a.blocked_until {
                    if now < until {
                        // Go rounds the remaining time to the second.
                        let left = until - now + Duration::from_millis(500);
                        return Err(Denied {
                            status: 403,
                            message: format!(
                                "IP banned due to too many failed attempts. Try again in {}",
                                go_duration(left)
                            ),
                        });
                    }
                    a.blocked_until = None;
                    a.count = 0;
                }
            }
        }
        let allow_remote = allow_remote || self.env_secret.is_some();
        if !is_local(ip) && !allow_remote {
            return Err(Denied {
                status: 403,
                message: "remote management disabled".into(),
            });
        }
        if secret_hash.is_empty() && self.env_secret.is_none() {
            return Err(Denied {
                status: 403,
                message: "remote management key not set".into(),
            });
        }
        if provided.is_empty() {
            self.fail(ip, now);
            return Err(Denied {
                status: 401,
                message: "missing management key".into(),
            });
        }
        if self.env_secret.as_ref().is_some_and(|e| e.ct_eq(provided)) {
            self.reset(ip);
            return Ok(());
        }
        if !secret_hash.is_empty() && self.bcrypt_ok(secret_hash, provided) {
            self.reset(ip);
            return Ok(());
        }
        self.fail(ip, now);
        Err(Denied {
            status: 401,
            message: "invalid management key".into(),
        })
    }

    fn bcrypt_ok(&self, hash: &str, provided: &[u8]) -> bool {
        let d = digest(hash, provided);
        let cached = *self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        if cached.is_some_and(|c| ct_eq32(&c, &d)) {
            return true;
        }
        let ok = bcrypt::verify(provided, hash).unwrap_or(false);
        if ok {
            *self.accepted.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
        }
        ok
    }

    fn fail(&self, ip: IpAddr, now: Instant) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            map.retain(|_, a| {
                a.blocked_until.is_some_and(|u| now < u) || now.duration_since(a.last) < IDLE
            });
        }
        let a = map.entry(ip).or_insert(Attempt {
            count: 0,
            blocked_until: None,
            last: now,
        });
        a.count += 1;
        a.last = now;
        if a.count >= MAX_FAILURES {
            a.blocked_until = Some(now + BAN);
            a.count = 0;
        }
    }

    fn reset(&self, ip: IpAddr) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = map.get_mut(&ip) {
            a.count = 0;
            a.blocked_until = None;
        }
    }
}

/// Go's `bcrypt.DefaultCost`, which CLIProxyAPI uses.
pub const BCRYPT_COST: u32 = 10;

/// Hashes a plaintext secret-key the way CLIProxyAPI stores it (bcrypt,
/// cost 10, `$2a$`).
pub fn hash_secret(plain: &str) -> Result<String, String> {
    bcrypt::hash_with_result(plain, BCRYPT_COST)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn key_extraction_follows_cliproxyapi() {
        assert_eq!(presented(Some(b"Bearer k1"), Some(b"x")), b"k1");
        assert_eq!(presented(Some(b"bearer k1"), None), b"k1");
        assert_eq!(presented(Some(b"k1"), Some(b"x")), b"k1");
        assert_eq!(presented(Some(b"Basic abc"), None), b"Basic abc");
        assert_eq!(presented(None, Some(b"x")), b"x");
        assert_eq!(presented(Some(b""), Some(b"x")), b"x");
        assert_eq!(presented(None, None), b"");
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(Duration::from_secs(1800)), "30m0s");
        assert_eq!(go_duration(Duration::from_secs(1799)), "29m59s");
        assert_eq!(go_duration(Duration::from_secs(45)), "45s");
        assert_eq!(go_duration(Duration::from_secs(0)), "0s");
        assert_eq!(go_duration(Duration::from_secs(3661)), "1h1m1s");
    }

    #[test]
    fn locality() {
        assert!(is_local(local()));
        assert!(is_local("::1".parse().unwrap()));
        assert!(is_local("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_local("127.0.0.2".parse().unwrap()));
        assert!(!is_local("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bcrypt_round_trip_and_ban_after_five() {
        let hash = hash_secret("s3cret").unwrap();
        assert!(is_bcrypt(&hash) && hash.starts_with("$2a$10$"));
        let g = Gate::new(None);
        assert_eq!(g.check(local(), false, &hash, b"s3cret"), Ok(()));
        // Cached path answers the same.
        assert_eq!(g.check(local(), false, &hash, b"s3cret"), Ok(()));
        for i in 0..MAX_FAILURES {
            let e = g.check(local(), false, &hash, b"wrong").unwrap_err();
            assert_eq!(
                (e.status, e.message.as_str()),
                (401, "invalid management key"),
                "try {i}"
            );
        }
        let e = g.check(local(), false, &hash, b"s3cret").unwrap_err();
        assert_eq!(e.status, 403);
        assert!(
            e.message
                .starts_with("IP banned due to too many failed attempts. Try again in 30m0s")
                || e.message.ends_with("29m59s"),
            "{}",
            e.message
        );
        // Another IP is not affected.
        let other: IpAddr = "::1".parse().unwrap();
        assert_eq!(g.check(other, false, &hash, b"s3cret"), Ok(()));
    }

    #[test]
    fn remote_and_env_rules() {
        let g = Gate::new(None);
        let remote: IpAddr = "127.0.0.2".parse().unwrap();
        let e = g.check(remote, false, "x", b"k").unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (403, "remote management disabled")
        );
        let e = g.check(local(), false, "", b"").unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (403, "remote management key not set")
        );
        let g = Gate::new(Some("  envpw ".into()));
        assert_eq!(g.check(remote, false, "", b"envpw"), Ok(()));
        let e = g.check(remote, false, "", b"").unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (401, "missing management key")
        );
        let e = g.check(remote, false, "", b"nope").unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (401, "invalid management key")
        );
    }
}
