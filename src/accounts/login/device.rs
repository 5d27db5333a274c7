//! The polling loop of the device-flow logins (Kimi, Qwen): show the page
//! and the user code, then poll at the server's interval (longer after a
//! `slow_down`) until the tokens come, the flow fails or the code expires.

use super::{flush, open_browser, pause};
use crate::accounts::oauth::device::{DeviceStart, SLOW_DOWN_STEP};
use serde_json::Value;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// What one poll of a device login said.
#[derive(Debug)]
pub enum Step {
    /// Not approved yet.
    Pending,
    /// The server asked to poll less often.
    SlowDown,
    /// Approved: the auth file's name and contents.
    Done(String, Value),
}

/// Prints where to approve the login (and opens it unless `no_browser`).
pub fn show(name: &str, d: &DeviceStart, no_browser: bool) {
    let _ = writeln!(
        io::stdout(),
        "To authenticate with {name}, visit:\n{}",
        d.url()
    );
    if !d.user_code.is_empty() {
        let _ = writeln!(io::stdout(), "User code: {}", d.user_code);
    }
    if !no_browser {
        open_browser(d.url());
    }
    let _ = writeln!(io::stdout(), "Waiting for authorization...");
    flush();
}

/// Polls with `poll` until it is done, fails, or `max_wait` (or the code's
/// own lifetime) passes.
pub fn wait(
    d: &DeviceStart,
    max_wait: Duration,
    mut poll: impl FnMut() -> Result<Step, String>,
) -> Result<(String, Value), String> {
    let life = d.expires_in.map_or(max_wait, |e| e.min(max_wait));
    let deadline = Instant::now() + life;
    let mut interval = d.interval;
    loop {
        pause(interval);
        match poll()? {
            Step::Done(name, v) => return Ok((name, v)),
            Step::Pending => {}
            Step::SlowDown => interval += SLOW_DOWN_STEP,
        }
        if Instant::now() + interval > deadline {
            return Err(format!(
                "the device code expired after {} s without approval; start the login again",
                life.as_secs()
            ));
        }
    }
}
