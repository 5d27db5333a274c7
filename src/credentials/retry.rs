//! The per-request retry loop as a pure state machine the server drives
//! (CLIProxyAPI `Manager.Execute` + `executeMixedOnce` + `shouldRetryAfterError`).
//!
//! ```text
//! let mut plan = RetryPlan::new(&shard, route, session);
//! loop {
//!     match plan.next(&mut shard, shard.now_ms()) {
//!         Next::Try(lease) => { /* send upstream */ plan.report(&mut shard, lease, &outcome, now) }
//!         Next::Wait(d) => { /* sleep d (timer), then loop */ }
//!         Next::ReturnUpstream => { /* relay the last upstream error unchanged */ break }
//!         Next::GiveUp(answer) => { /* write answer */ break }
//!         Next::Done => break,
//!     }
//! }
//! ```
//!
//! Rules: round 0 tries each eligible credential at most once (capped by
//! `max-retry-credentials`); a request-invalid error, a request-scoped 404 or a
//! `stop` rule ends the loop with the upstream error; after the first streamed
//! byte there is no failover. Further rounds (up to each credential's
//! `request-retry`) start only after a 403/408/429/500/502/503/504 and only if
//! a credential can join: the wait is the nearest cooldown end among eligible
//! credentials, plus jitter of up to min(wait/4, 2 s) (never past
//! `max-retry-interval`); a wait above `max-retry-interval` (or any positive
//! wait when it is zero) gives up. Steady state allocates nothing: up to
//! [`INLINE_TRIED`] tried credentials per round are kept inline.

use std::time::Duration;

use super::affinity::SessionKey;
use super::answer::ErrorAnswer;
use super::classify::is_retry_round_status;
use super::scheduler::{Lease, Outcome, PickError, Route, Shard, Verdict};

/// Tried credentials kept without allocating per round; a request rarely
/// tries more than a handful of credentials before success or give-up.
pub const INLINE_TRIED: usize = 8;

/// Cap of the random jitter added to a cooldown wait (CLIProxyAPI
/// `cooldownWaitJitterCap`).
pub const JITTER_CAP: Duration = Duration::from_secs(2);

/// What the server should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Send the request with this credential, then `report` the outcome.
    Try(Lease),
    /// Sleep this long, then call `next` again.
    Wait(Duration),
    /// Stop and relay the last upstream error response unchanged (status,
    /// body, `Retry-After`).
    ReturnUpstream,
    /// Stop and answer with this scheduler-made error.
    GiveUp(ErrorAnswer),
    /// Finished (success, or a stream broken after its first byte).
    Done,
}

#[derive(Clone, Debug, Default)]
struct Tried {
    inline: [u32; INLINE_TRIED],
    len: usize,
    spill: Vec<u32>,
}

impl Tried {
    fn push(&mut self, c: u32) {
        if self.len < INLINE_TRIED {
            self.inline[self.len] = c;
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(c);
        }
    }

    fn as_slice(&self) -> &[u32] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Picking,
    InFlight(Lease),
    Stopped,
    Finished,
    GaveUp(ErrorAnswer),
}

/// Retry state of one request.
#[derive(Clone, Debug)]
pub struct RetryPlan {
    route: Route,
    session: Option<SessionKey>,
    round: u32,
    tried: Tried,
    attempted: u32,
    /// Effective status of the last upstream failure in this round.
    last_status: Option<u16>,
    state: State,
    max_credentials: u32,
    max_interval_ms: u64,
    /// Prefer credentials with `websockets` (a WebSocket client's request).
    prefer_websockets: bool,
}

impl RetryPlan {
    /// A plan for one request on `route` with the shard's current settings.
    pub fn new(shard: &Shard, route: Route, session: Option<SessionKey>) -> RetryPlan {
        let s = shard.settings();
        RetryPlan {
            route,
            session,
            round: 0,
            tried: Tried::default(),
            attempted: 0,
            last_status: None,
            state: State::Picking,
            max_credentials: s.max_retry_credentials,
            max_interval_ms: s.max_retry_interval.as_millis() as u64,
            prefer_websockets: false,
        }
    }

    /// Requests from a WebSocket client prefer credentials with `websockets`
    /// enabled, across priority tiers (CLIProxyAPI's Codex websocket
    /// preference); the others still serve when none of those is ready.
    pub fn prefer_websockets(&mut self, on: bool) {
        self.prefer_websockets = on;
    }

    /// Current retry round (0 = first).
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Decides the next step. Call `report` after every `Try` before calling
    /// `next` again (a pending lease is reported as a transport failure).
    pub fn next(&mut self, shard: &mut Shard, now_ms: u64) -> Next {
        loop {
            match &self.state {
                State::Finished => return Next::Done,
                State::Stopped => return Next::ReturnUpstream,
                State::GaveUp(a) => return Next::GiveUp(a.clone()),
                State::InFlight(lease) => {
                    let lease = *lease;
                    self.report(shard, lease, &Outcome::failure(0, &[]), now_ms);
                    continue;
                }
                State::Picking => {}
            }
            if self.max_credentials > 0 && self.attempted >= self.max_credentials {
                match self.end_round(shard, None, now_ms) {
                    Some(step) => return step,
                    None => continue,
                }
            }
            match shard.pick_filtered(
                &self.route,
                self.tried.as_slice(),
                self.round,
                self.session.as_ref(),
                self.prefer_websockets,
                now_ms,
            ) {
                Ok(lease) => {
                    self.tried.push(lease.cred);
                    self.attempted += 1;
                    self.state = State::InFlight(lease);
                    return Next::Try(lease);
                }
                Err(e) => {
                    let pick_err = if self.last_status.is_some() {
                        None
                    } else {
                        Some(e)
                    };
                    match self.end_round(shard, pick_err, now_ms) {
                        Some(step) => return step,
                        None => continue,
                    }
                }
            }
        }
    }

    /// Ends the current round: either gives up (returns the final step) or
    /// prepares the next round (returns `Some(Wait)` or `None` = pick now).
    fn end_round(
        &mut self,
        shard: &mut Shard,
        pick_err: Option<PickError>,
        now_ms: u64,
    ) -> Option<Next> {
        let status = match (pick_err, self.last_status) {
            (Some(PickError::Cooling { .. }), _) => 429,
            (Some(_), _) => 0,
            (None, Some(s)) => s,
            (None, None) => 0,
        };
        let give_up = |this: &mut RetryPlan, shard: &Shard| -> Next {
            match pick_err {
                Some(e) => {
                    let a = shard.answer(&this.route, e, now_ms);
                    this.state = State::GaveUp(a.clone());
                    Next::GiveUp(a)
                }
                None if this.last_status.is_some() => {
                    this.state = State::Stopped;
                    Next::ReturnUpstream
                }
                None => {
                    let a = shard.answer(&this.route, PickError::NotFound, now_ms);
                    this.state = State::GaveUp(a.clone());
                    Next::GiveUp(a)
                }
            }
        };
        if !is_retry_round_status(status) {
            return Some(give_up(self, shard));
        }
        let Some(wait) = shard.closest_wait(&self.route, self.round, now_ms) else {
            return Some(give_up(self, shard));
        };
        if wait > 0 && (self.max_interval_ms == 0 || wait > self.max_interval_ms) {
            return Some(give_up(self, shard));
        }
        self.round += 1;
        self.tried.clear();
        self.attempted = 0;
        self.last_status = None;
        self.state = State::Picking;
        if wait == 0 {
            return None;
        }
        let mut range = (wait / 4).min(JITTER_CAP.as_millis() as u64);
        if self.max_interval_ms > 0 {
            range = range.min(self.max_interval_ms - wait);
        }
        let jitter = if range > 0 {
            shard.next_random() % range
        } else {
            0
        };
        Some(Next::Wait(Duration::from_millis(wait + jitter)))
    }

    /// Reports the outcome of the attempt made with `lease`.
    pub fn report(&mut self, shard: &mut Shard, lease: Lease, outcome: &Outcome, now_ms: u64) {
        let r = shard.release(lease, outcome, now_ms);
        if let Some(key) = &self.session {
            if r.verdict == Verdict::Success || !r.skipped_cooldown {
                shard.session_result(
                    &self.route,
                    key,
                    lease.cred,
                    r.verdict == Verdict::Success,
                    now_ms,
                );
            }
        }
        self.state = match r.verdict {
            Verdict::Success | Verdict::Broken => State::Finished,
            Verdict::Stop => State::Stopped,
            Verdict::Next => {
                // An unused lease says nothing about the upstream.
                if r.effective_status != super::classify::STATUS_NOT_ATTEMPTED {
                    self.last_status = Some(r.effective_status);
                }
                State::Picking
            }
        };
    }
}
