//! Minimal leveled logging to stderr. Secrets are a type whose `Debug` and
//! `Display` print `****`, so formatting a value can never leak a key.

use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);

/// Enables or disables debug lines (`debug: true` in config).
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// Whether debug lines are printed.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Writes one line with a UTC timestamp and level.
pub fn write(level: &str, args: std::fmt::Arguments<'_>) {
    // `logging-to-file`: the line goes to `logs/main.log` instead.
    if crate::obs::mainlog::active() && crate::obs::mainlog::write(level, args) {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    eprintln!(
        "{h:02}:{m:02}:{s:02}.{:03} {level} {args}",
        now.subsec_millis()
    );
}

/// Logs at info level.
#[macro_export]
macro_rules! log_info { ($($t:tt)*) => { $crate::log::write("INFO ", format_args!($($t)*)) } }
/// Logs at warn level.
#[macro_export]
macro_rules! log_warn { ($($t:tt)*) => { $crate::log::write("WARN ", format_args!($($t)*)) } }
/// Logs at error level.
#[macro_export]
macro_rules! log_error { ($($t:tt)*) => { $crate::log::write("ERROR", format_args!($($t)*)) } }
/// Logs at debug level when enabled.
#[macro_export]
macro_rules! log_debug { ($($t:tt)*) => { if $crate::log::debug_enabled() { $crate::log::write("DEBUG", format_args!($($t)*)) } } }
