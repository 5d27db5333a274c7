//! The log routes: `/logs` (app log tail, `after` / `cursor` / `limit`, and
//! `DELETE`), `/request-error-logs` (list), `/request-error-logs/:name`
//! and `/request-log-by-id/:id` (download). CLIProxyAPI's shapes, status
//! codes and messages; names are checked to be plain file names first, so a
//! traversal never reaches the file system.

use super::{answer_with, error, json};
use crate::config::Config;
use crate::obs::files::{self, MAIN_LOG};
use serde_json::json;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Most bytes of app log one `GET /logs` reads (newest files first; the
/// active `main.log` is always read).
const MAX_READ: u64 = 32 << 20;

/// `main.log` and its rotations (`main-<time>.log`), oldest first.
fn app_log_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut rotated: Vec<String> = Vec::new();
    let mut main = None;
    for e in std::fs::read_dir(dir)?.flatten() {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if name == MAIN_LOG {
            main = Some(e.path());
        } else if name.starts_with("main-") && name.ends_with(".log") {
            rotated.push(name);
        }
    }
    // The rotation stamp sorts by time.
    rotated.sort();
    let mut v: Vec<PathBuf> = rotated.into_iter().map(|n| dir.join(n)).collect();
    v.extend(main);
    Ok(v)
}

/// The complete lines of a file (a partial last line is left for later).
fn complete_lines(path: &Path, from: u64) -> std::io::Result<(Vec<String>, u64)> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let end = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let lines = String::from_utf8_lossy(&buf[..end])
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect();
    Ok((lines, from + end as u64))
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0)
}

/// Opaque cursor: the app log file's identity and a line-boundary offset.
fn cursor(path: &Path, offset: u64) -> String {
    format!("v1.{}.{offset}", inode(path))
}

fn parse_cursor(raw: &str) -> Option<(u64, u64)> {
    let mut p = raw.trim().split('.');
    if p.next()? != "v1" {
        return None;
    }
    let ino = p.next()?.parse().ok()?;
    let off = p.next()?.parse().ok()?;
    p.next().is_none().then_some((ino, off))
}

fn query(q: &[u8], name: &str) -> Option<String> {
    let raw = crate::h1::query::query_param(q, name)?;
    let mut buf = Vec::new();
    crate::h1::query::percent_decode(raw, &mut buf);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn logs_response(
    lines: Vec<String>,
    count: usize,
    latest: u64,
    next: String,
    reset: bool,
) -> serde_json::Value {
    let mut v = json!({
        "lines": lines,
        "line-count": count,
        "latest-timestamp": latest,
        "next-cursor": next,
    });
    if reset {
        v["cursor-reset"] = json!(true);
    }
    v
}

/// `GET /logs`.
pub(super) fn get_logs(cfg: &Config, q: &[u8], out: &mut Vec<u8>) {
    if !cfg.logging_to_file {
        return error(out, 400, "logging to file disabled");
    }
    let dir = &cfg.log_dir;
    let after = query(q, "after")
        .and_then(|a| a.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let raw_cursor = query(q, "cursor").unwrap_or_default();
    let raw_cursor = raw_cursor.trim();
    let files = match app_log_files(dir) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return json(
                out,
                200,
                &logs_response(vec![], 0, after, String::new(), !raw_cursor.is_empty()),
            );
        }
        Err(e) => return error(out, 500, &format!("failed to list log files: {e}")),
    };
    let limit = match query(q, "limit").map(|l| l.trim().to_string()) {
        None => 0,
        Some(l) if l.is_empty() => 0,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => n as usize,
            Ok(_) => return error(out, 400, "invalid limit: must be greater than zero"),
            Err(_) => return error(out, 400, "invalid limit: must be a positive integer"),
        },
    };
    // Newest files first, up to MAX_READ bytes, so a long history of
    // rotations never loads whole into memory.
    let mut budget = MAX_READ;
    let mut newest_first: Vec<Vec<String>> = Vec::new();
    let mut end_of_main = 0;
    for (i, f) in files.iter().enumerate().rev() {
        let is_main = i + 1 == files.len() && f.file_name().is_some_and(|n| n == MAIN_LOG);
        let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        if !is_main && len > budget {
            break;
        }
        budget = budget.saturating_sub(len);
        match complete_lines(f, 0) {
            Ok((l, end)) => {
                if is_main {
                    end_of_main = end;
                }
                newest_first.push(l);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return error(out, 500, &format!("failed to read log files: {e}")),
        }
    }
    let all: Vec<String> = newest_first.into_iter().rev().flatten().collect();
    let main = dir.join(MAIN_LOG);
    let latest_of = |lines: &[String]| {
        lines
            .iter()
            .filter_map(|l| crate::obs::mainlog::line_time(l))
            .max()
            .unwrap_or(0)
    };
    if !raw_cursor.is_empty() {
        let valid = parse_cursor(raw_cursor)
            .filter(|&(ino, off)| ino == inode(&main) && off <= end_of_main);
        if let Some((_, off)) = valid {
            let (mut lines, mut end) = match complete_lines(&main, off) {
                Ok(r) => r,
                Err(e) => return error(out, 500, &format!("failed to read log files: {e}")),
            };
            if limit > 0 && lines.len() > limit {
                let rest: u64 = lines[limit..].iter().map(|l| l.len() as u64 + 1).sum();
                end -= rest;
                lines.truncate(limit);
            }
            let latest = latest_of(&lines).max(after);
            let n = lines.len();
            return json(
                out,
                200,
                &logs_response(lines, n, latest, cursor(&main, end), false),
            );
        }
        // An unknown or stale cursor: start again from the tail.
        let tail: Vec<String> = match limit {
            0 => all.clone(),
            l => all[all.len().saturating_sub(l)..].to_vec(),
        };
        let latest = latest_of(&tail).max(after);
        let n = tail.len();
        return json(
            out,
            200,
            &logs_response(tail, n, latest, cursor(&main, end_of_main), true),
        );
    }
    let total = all.len();
    let mut picked: Vec<String> = Vec::new();
    let mut include = after == 0;
    let mut latest = 0;
    for l in all {
        if let Some(ts) = crate::obs::mainlog::line_time(&l) {
            latest = latest.max(ts);
            include = after == 0 || ts > after;
        }
        if include {
            picked.push(l);
        }
    }
    if limit > 0 && picked.len() > limit {
        picked.drain(..picked.len() - limit);
    }
    let latest = latest.max(after);
    json(
        out,
        200,
        &logs_response(picked, total, latest, cursor(&main, end_of_main), false),
    )
}

/// `DELETE /logs`: truncates `main.log`, removes its rotations.
pub(super) fn delete_logs(cfg: &Config, out: &mut Vec<u8>) {
    if !cfg.logging_to_file {
        return error(out, 400, "logging to file disabled");
    }
    let files = match app_log_files(&cfg.log_dir) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return error(out, 404, "log directory not found")
        }
        Err(e) => return error(out, 500, &format!("failed to list log directory: {e}")),
    };
    let mut removed = 0;
    for f in files {
        if f.file_name().is_some_and(|n| n == MAIN_LOG) {
            if let Err(e) = crate::obs::mainlog::truncate(&f) {
                return error(out, 500, &format!("failed to truncate log file: {e}"));
            }
        } else if std::fs::remove_file(&f).is_ok() {
            removed += 1;
        }
    }
    json(
        out,
        200,
        &json!({"success": true, "message": "Logs cleared successfully", "removed": removed}),
    );
}

/// `GET /request-error-logs`.
pub(super) fn list_error_logs(cfg: &Config, out: &mut Vec<u8>) {
    if cfg.request_log {
        return json(out, 200, &json!({"files": []}));
    }
    let files: Vec<serde_json::Value> = files::list_error_logs(&cfg.log_dir)
        .into_iter()
        .map(|(name, size, modified)| json!({"name": name, "size": size, "modified": modified}))
        .collect();
    json(out, 200, &json!({ "files": files }));
}

fn decoded(seg: &str) -> String {
    let mut buf = Vec::new();
    crate::h1::query::percent_decode(seg.as_bytes(), &mut buf);
    String::from_utf8_lossy(&buf).trim().to_string()
}

fn download(dir: &Path, name: &str, out: &mut Vec<u8>) {
    let path = dir.join(name);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => return error(out, 400, "invalid log file"),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return error(out, 404, "log file not found")
        }
        Err(e) => return error(out, 500, &format!("failed to read log file: {e}")),
    }
    match std::fs::read(&path) {
        Ok(bytes) => {
            let disp = format!("attachment; filename=\"{name}\"");
            answer_with(
                out,
                200,
                b"text/plain; charset=utf-8",
                &[("Content-Disposition", disp.as_bytes())],
                &bytes,
            );
        }
        Err(e) => error(out, 500, &format!("failed to read log file: {e}")),
    }
}

/// `GET /request-error-logs/:name`.
pub(super) fn get_error_log(cfg: &Config, seg: &str, out: &mut Vec<u8>) {
    let name = decoded(seg);
    if !files::plain_name(&name) {
        return error(out, 400, "invalid log file name");
    }
    if !files::is_error_log(&name) {
        return error(out, 404, "log file not found");
    }
    download(&cfg.log_dir, &name, out);
}

/// `GET /request-log-by-id/:id`: the log whose name ends in `-<id>.log`.
pub(super) fn get_by_id(cfg: &Config, seg: &str, out: &mut Vec<u8>) {
    let id = decoded(seg);
    if id.is_empty() {
        return error(out, 400, "missing request ID");
    }
    if !files::plain_name(&id) {
        return error(out, 400, "invalid request ID");
    }
    let suffix = format!("-{id}.log");
    let rd = match std::fs::read_dir(&cfg.log_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return error(out, 404, "log directory not found")
        }
        Err(e) => return error(out, 500, &format!("failed to list log directory: {e}")),
    };
    let found = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .find(|n| n.ends_with(&suffix) && files::plain_name(n));
    match found {
        Some(name) => download(&cfg.log_dir, &name, out),
        None => error(out, 404, "log file not found for the given request ID"),
    }
}
