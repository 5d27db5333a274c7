//! Log file names, times and the directory janitors.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// The app log's file name.
pub const MAIN_LOG: &str = "main.log";

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    let s = crate::models::list::rfc3339_utc((unix_ms / 1000) as i64);
    format!("{}.{:03}Z", s.trim_end_matches('Z'), unix_ms % 1000)
}

/// A path made safe for a file name (CLIProxyAPI's rule): `/`, `:`, blanks
/// and `<>"|?*` become `-`, runs of `-` collapse, ends trimmed; `root` if
/// nothing is left.
pub fn sanitize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        let c = if matches!(c, '/' | ':' | '<' | '>' | '"' | '|' | '?' | '*' | '\\')
            || c.is_whitespace()
        {
            '-'
        } else {
            c
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let t = out.trim_matches('-');
    if t.is_empty() {
        "root".into()
    } else {
        t.into()
    }
}

/// A fresh 8-hex-digit request id.
pub fn request_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // splitmix64 of time and sequence: distinct ids for distinct requests.
    let mut z = t ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("{:08x}", z as u32)
}

/// `<path>-<YYYY-MM-DDTHHMMSS>-<id>.log`, `error-` in front for error logs
/// (CLIProxyAPI's naming; the query is not part of the name).
pub fn request_log_name(target: &str, at_unix_ms: u64, error: bool) -> String {
    let path = target.split('?').next().unwrap_or("");
    let path = path.strip_prefix('/').unwrap_or(path);
    let ts = crate::models::list::rfc3339_utc((at_unix_ms / 1000) as i64);
    let ts: String = ts
        .trim_end_matches('Z')
        .chars()
        .filter(|c| *c != ':')
        .collect();
    format!(
        "{}{}-{ts}-{}.log",
        if error { "error-" } else { "" },
        sanitize(path),
        request_id()
    )
}

/// Whether `name` is a plain file name (no separators, not `.`/`..`).
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.starts_with('.')
}

struct Entry {
    path: std::path::PathBuf,
    size: u64,
    modified: SystemTime,
}

fn log_files(dir: &Path, filter: impl Fn(&str) -> bool) -> Vec<Entry> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !filter(&name) {
                return None;
            }
            let md = e.metadata().ok()?;
            md.is_file().then(|| Entry {
                path: e.path(),
                size: md.len(),
                modified: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            })
        })
        .collect()
}

/// Whether `name` is an error log.
pub fn is_error_log(name: &str) -> bool {
    name.starts_with("error-") && name.ends_with(".log")
}

/// The `error-*.log` files of a directory in the order they were written:
/// seeded from the directory (by modification time) once, then kept by the
/// writer as it adds files, so files written within one timestamp tick
/// still leave oldest first.
pub struct ErrorLogs {
    dir: std::path::PathBuf,
    order: std::collections::VecDeque<std::path::PathBuf>,
}

impl ErrorLogs {
    /// The error logs already in `dir`, oldest first.
    pub fn scan(dir: &Path) -> ErrorLogs {
        let mut files = log_files(dir, is_error_log);
        files.sort_by_key(|e| (e.modified, e.path.clone()));
        ErrorLogs {
            dir: dir.to_path_buf(),
            order: files.into_iter().map(|e| e.path).collect(),
        }
    }

    /// The directory this list is for.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records a new file, then keeps at most `max` (oldest removed first).
    pub fn added(&mut self, path: std::path::PathBuf, max: usize) {
        self.order.push_back(path);
        while self.order.len() > max {
            if let Some(old) = self.order.pop_front() {
                let _ = std::fs::remove_file(old);
            }
        }
    }
}

/// `logs-max-total-size-mb`: removes the oldest `*.log` files of `dir`
/// until their total fits `max_bytes`; the active `main.log` and `keep`
/// (the file just written) stay.
pub fn enforce_total_size(dir: &Path, max_bytes: u64, keep: Option<&Path>) -> usize {
    let mut files = log_files(dir, |n| n.ends_with(".log") || n.ends_with(".log.gz"));
    let mut total: u64 = files.iter().map(|e| e.size).sum();
    if total <= max_bytes {
        return 0;
    }
    files.sort_by_key(|e| (e.modified, e.path.clone()));
    let mut removed = 0;
    for e in files {
        if total <= max_bytes {
            break;
        }
        if e.path.file_name().is_some_and(|n| n == MAIN_LOG) || keep == Some(e.path.as_path()) {
            continue;
        }
        if std::fs::remove_file(&e.path).is_ok() {
            total = total.saturating_sub(e.size);
            removed += 1;
        }
    }
    removed
}

/// `error-*.log` files as (name, size, modified unix seconds), newest first.
pub fn list_error_logs(dir: &Path) -> Vec<(String, u64, u64)> {
    let mut v: Vec<(String, u64, u64)> = log_files(dir, is_error_log)
        .into_iter()
        .filter_map(|e| {
            let name = e.path.file_name()?.to_str()?.to_string();
            let m = e
                .modified
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            Some((name, e.size, m))
        })
        .collect();
    v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| b.0.cmp(&a.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_cliproxyapi() {
        assert_eq!(sanitize("v1/chat/completions"), "v1-chat-completions");
        assert_eq!(
            sanitize("v1beta/models/g:streamGenerateContent"),
            "v1beta-models-g-streamGenerateContent"
        );
        assert_eq!(sanitize("//"), "root");
        let n = request_log_name("/v1/messages?beta=true", 1_700_000_000_000, false);
        assert!(n.starts_with("v1-messages-2023-11-14T221320-"), "{n}");
        assert!(n.ends_with(".log") && n.len() == "v1-messages-2023-11-14T221320-".len() + 12);
        let e = request_log_name("/v1/messages", 0, true);
        assert!(e.starts_with("error-v1-messages-1970-01-01T000000-"), "{e}");
        assert_ne!(request_id(), request_id());
        assert_eq!(rfc3339_ms(1_700_000_000_042), "2023-11-14T22:13:20.042Z");
    }

    #[test]
    fn traversal_names_are_not_plain() {
        for bad in ["", ".", "..", "../x.log", "a/b.log", "a\\b", ".hidden"] {
            assert!(!plain_name(bad), "{bad}");
        }
        assert!(plain_name("error-v1-x.log"));
    }

    fn scratch(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("cliproxy-obs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn set_mtime(p: &Path, secs: u64) {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn janitors_remove_oldest_first() {
        let d = scratch("jan");
        for i in 0..5u64 {
            let p = d.join(format!("error-x-{i}.log"));
            std::fs::write(&p, vec![b'x'; 100]).unwrap();
            set_mtime(&p, 1_000 + i);
        }
        std::fs::write(d.join("other.txt"), b"keep").unwrap();
        let mut logs = ErrorLogs::scan(&d);
        let p = d.join("error-x-5.log");
        std::fs::write(&p, vec![b'x'; 100]).unwrap();
        // Same time as the oldest: the order written still decides.
        set_mtime(&p, 1_000);
        logs.added(p, 3);
        let mut left: Vec<String> = list_error_logs(&d).into_iter().map(|e| e.0).collect();
        left.sort();
        assert_eq!(left, ["error-x-3.log", "error-x-4.log", "error-x-5.log"]);
        std::fs::remove_file(d.join("error-x-5.log")).unwrap();

        std::fs::write(d.join(MAIN_LOG), vec![b'm'; 300]).unwrap();
        set_mtime(&d.join(MAIN_LOG), 10);
        // 300 (main, protected) + 200: a 350-byte limit removes the older error log only.
        assert_eq!(enforce_total_size(&d, 400, None), 1);
        assert!(d.join(MAIN_LOG).exists() && d.join("error-x-4.log").exists());
        assert!(!d.join("error-x-3.log").exists());
        assert!(d.join("other.txt").exists());
        // The file just written is kept even when it is the oldest.
        set_mtime(&d.join("error-x-4.log"), 1);
        assert_eq!(
            enforce_total_size(&d, 10, Some(&d.join("error-x-4.log"))),
            0
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
