//! Credential scheduling: which credential serves the next upstream attempt,
//! cooldowns after failures, and the per-request retry loop.
//!
//! Shape:
//! - [`Scheduler`] (shared, `Send + Sync`) owns the current generation of
//!   credential pools and one table of atomic cooldown words; [`Scheduler::reload`]
//!   swaps generations, [`Scheduler::reset`] clears a credential,
//!   [`Scheduler::save_to`] / [`Scheduler::load_from`] persist cooldowns.
//! - [`Shard`] (one per worker core) resolves [`Route`]s, picks and releases
//!   [`Lease`]s without locks or allocation.
//! - [`RetryPlan`] is the per-request retry state machine the server drives.
//! - [`extract_session_id`] finds the session id for `routing.session-affinity`.
//!
//! Behaviour follows CLIProxyAPI's `sdk/cliproxy/auth` (reference commit
//! a7e3596): strategies round-robin / fill-first / weighted-round-robin over the
//! best ready priority tier, weighted mixed-provider rotation, the cooldown
//! table (401/402/403 → 30 min, 404 and "model not supported" → 12 h, 429 →
//! hint or 1 s doubling up to 30 min, 408/5xx → transient cooldown), request
//! fault detection, `request-scoped-errors` rules and retry rounds. Deliberate
//! differences: quota deadlines are clamped to a ceiling (default 6 h), cursors
//! are per core, and `match-regexr` supports literal patterns only.

mod affinity;
mod answer;
mod classify;
mod persist;
mod retry;
mod scheduler;
mod spec;
mod state;
mod topology;

pub use affinity::{
    extract_session_id, normalize_session_id, SessionId, SessionKey, MAX_SESSION_ID_LEN,
};
pub use answer::ErrorAnswer;
pub use classify::{
    classify, days_from_civil, is_request_invalid, parse_http_date, parse_retry_after, retry_hint,
    Classified, STATUS_CLIENT_CLOSED, STATUS_NOT_ATTEMPTED,
};
pub use retry::{Next, RetryPlan};
pub use scheduler::{
    CredState, Lease, Outcome, PickError, Released, Route, Scheduler, Shard, StateView, Verdict,
};
pub use spec::{
    CredentialSpec, Rule, RuleAction, Settings, Strategy, DEFAULT_QUOTA_COOLDOWN_CEILING,
};
pub use state::Failure;
pub use topology::MAX_ROUTE_PROVIDERS;
pub use topology::{Fnv, FnvMap};

#[cfg(test)]
mod tests;
