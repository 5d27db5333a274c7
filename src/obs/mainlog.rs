//! `logging-to-file`: the app log goes to `<log dir>/main.log` instead of
//! stderr, rotated at [`ROTATE_BYTES`] like CLIProxyAPI's lumberjack (the
//! full file is renamed `main-<YYYY-MM-DDTHH-MM-SS.mmm>.log`); after a
//! rotation `logs-max-total-size-mb` removes the oldest `*.log` files.
//!
//! Lines read `[YYYY-MM-DD HH:MM:SS] [level] message` (UTC), the prefix the
//! management `/logs` route parses for `after`.

use super::files::{self, MAIN_LOG};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Size at which `main.log` is rotated (lumberjack's 10 MB).
pub const ROTATE_BYTES: u64 = 10 * 1024 * 1024;

static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The open app log file.
pub struct MainLog {
    dir: PathBuf,
    file: std::fs::File,
    size: u64,
    max_total: u64,
}

fn slot() -> &'static Mutex<Option<MainLog>> {
    static S: Mutex<Option<MainLog>> = Mutex::new(None);
    &S
}

/// Whether the app log goes to the file.
#[inline]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

impl MainLog {
    /// Opens (appends to) `dir/main.log`.
    pub fn open(dir: &Path, max_total: u64) -> std::io::Result<MainLog> {
        std::fs::create_dir_all(dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(MAIN_LOG))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(MainLog {
            dir: dir.to_path_buf(),
            file,
            size,
            max_total,
        })
    }

    /// Appends one line, rotating first when it would pass `rotate_at`.
    pub fn write_line(&mut self, line: &[u8], rotate_at: u64) {
        if self.size > 0 && self.size + line.len() as u64 > rotate_at {
            self.rotate();
        }
        if self.file.write_all(line).is_ok() {
            self.size += line.len() as u64;
        }
    }

    fn rotate(&mut self) {
        let now = super::now_ms();
        let ts = files::rfc3339_ms(now).replace(':', "-");
        let ts = ts.trim_end_matches('Z');
        let mut target = self.dir.join(format!("main-{ts}.log"));
        let mut n = 1;
        while target.exists() {
            target = self.dir.join(format!("main-{ts}.{n}.log"));
            n += 1;
        }
        let _ = std::fs::rename(self.dir.join(MAIN_LOG), &target);
        if let Ok(fresh) = MainLog::open(&self.dir, self.max_total) {
            *self = fresh;
        }
        if self.max_total > 0 {
            files::enforce_total_size(&self.dir, self.max_total, None);
        }
    }
}

/// Applies `logging-to-file` (start and reload).
pub fn configure(enabled: bool, dir: &Path, max_total: u64) {
    let mut s = slot().lock().unwrap_or_else(|p| p.into_inner());
    if !enabled {
        *s = None;
        ACTIVE.store(false, Ordering::Relaxed);
        return;
    }
    if let Some(m) = s.as_mut().filter(|m| m.dir == dir) {
        m.max_total = max_total;
        return;
    }
    match MainLog::open(dir, max_total) {
        Ok(m) => {
            *s = Some(m);
            ACTIVE.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            *s = None;
            ACTIVE.store(false, Ordering::Relaxed);
            drop(s);
            crate::log_warn!("logging-to-file: cannot open {}: {e}", dir.display());
        }
    }
}

/// Empties `path` (the management `DELETE /logs`); the open file's size
/// count restarts with it.
pub fn truncate(path: &Path) -> std::io::Result<()> {
    let mut s = slot().lock().unwrap_or_else(|p| p.into_inner());
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(0)?;
    if let Some(m) = s.as_mut() {
        m.size = 0;
    }
    Ok(())
}

/// `[YYYY-MM-DD HH:MM:SS] [level] message\n`.
pub fn format_line(unix_ms: u64, level: &str, args: std::fmt::Arguments<'_>) -> Vec<u8> {
    let t = crate::models::list::rfc3339_utc((unix_ms / 1000) as i64);
    let mut v = Vec::with_capacity(96);
    let _ = writeln!(
        v,
        "[{} {}] [{}] {args}",
        &t[..10],
        &t[11..19],
        level.trim().to_ascii_lowercase()
    );
    v
}

/// Writes one app log line to the file; false when file logging is off.
pub fn write(level: &str, args: std::fmt::Arguments<'_>) -> bool {
    let mut s = slot().lock().unwrap_or_else(|p| p.into_inner());
    let Some(m) = s.as_mut() else {
        return false;
    };
    let line = format_line(super::now_ms(), level, args);
    m.write_line(&line, ROTATE_BYTES);
    true
}

/// Parses the `[YYYY-MM-DD HH:MM:SS]` prefix of a line to unix seconds.
pub fn line_time(line: &str) -> Option<u64> {
    let l = line.strip_prefix('[').unwrap_or(line);
    let b = l.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| l.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from civil (H. Hinnant).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_prefix_round_trips() {
        let l = format_line(1_700_000_000_500, "INFO ", format_args!("hello {}", 1));
        let s = String::from_utf8(l).unwrap();
        assert_eq!(s, "[2023-11-14 22:13:20] [info] hello 1\n");
        assert_eq!(line_time(&s), Some(1_700_000_000));
        assert_eq!(line_time("no time here"), None);
        assert_eq!(line_time("[2024-02-29 00:00:00]"), Some(1_709_164_800));
    }

    #[test]
    fn rotates_at_the_size_and_keeps_the_total() {
        let d = std::env::temp_dir().join(format!("cliproxy-mainlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let mut m = MainLog::open(&d, 1000).unwrap();
        let line = [b'x'; 99];
        let mut l = line.to_vec();
        l.push(b'\n');
        for _ in 0..25 {
            m.write_line(&l, 300);
        }
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        assert!(names.contains(&MAIN_LOG.to_string()), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("main-")), "{names:?}");
        let total: u64 = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(total <= 1000, "total {total} over the limit: {names:?}");
        assert!(std::fs::metadata(d.join(MAIN_LOG)).unwrap().len() <= 300);
        let _ = std::fs::remove_dir_all(&d);
    }
}
