//! The shared [`Scheduler`] and the per-core [`Shard`].
//!
//! Guarantees:
//! - `Shard::pick` and `Shard::release` take no lock and do not allocate in
//!   steady state (proved by `tests/sched_alloc.rs`). The only allocations are
//!   one-time growth of per-shard cursor tables the first time a new
//!   mixed-provider route is seen, and a failure's body inspection.
//! - Cooldown state lives in one shared table of `AtomicU64` words (see
//!   `state.rs`); a cooldown stored by one core is visible to the next pick on
//!   any core (one atomic store → load; measured in `tests/sched_visibility.rs`).
//! - Rotation cursors are per shard: each core rotates independently, starting
//!   at an offset equal to its shard number, so cores do not all begin with the
//!   same credential.
//! - A reload keeps the state of credentials active before and after (same
//!   stable id), drops the state of removed or disabled ones, and keeps
//!   credential indices stable. Shards switch to the new generation on their
//!   next pick; a lease from an older generation is remapped on release. A
//!   cooldown stored into the old generation while the reload runs is merged by
//!   a second pass after publication; only a store landing during that final
//!   pass itself can be lost (one credential/model, one failure).

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod select;

use super::affinity::{AffinityTable, SessionKey};
use super::answer::ErrorAnswer;
use super::classify::{classify, is_retry_round_status, retry_hint};
use super::spec::{CredentialSpec, Settings, Strategy};
use super::state::{after_failure, CoolParams, Failure, Word};
use super::topology::{Member, Topology, MAX_ROUTE_PROVIDERS};

/// A resolved request route: one model and an ordered provider list. Ids stay
/// valid across reloads. Small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    pub(crate) model: u32,
    pub(crate) n: u8,
    pub(crate) providers: [u16; MAX_ROUTE_PROVIDERS],
}

impl Route {
    pub(crate) fn providers(&self) -> &[u16] {
        &self.providers[..self.n as usize]
    }
}

/// A credential handed out for one attempt. Small and `Copy`; give it back
/// with [`Shard::release`] (or [`super::RetryPlan::report`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Stable credential index (same across reloads for the same id).
    pub cred: u32,
    /// Model id of the route.
    pub model: u32,
    pub(crate) slot: u32,
    pub(crate) cred_slot: u32,
    pub(crate) gen: u32,
}

/// Result of one attempt as the server saw it.
#[derive(Clone, Copy, Debug)]
pub struct Outcome<'a> {
    /// HTTP status of the upstream answer; 2xx = success; 0 = transport
    /// failure before any status; 499 = the client went away.
    pub status: u16,
    /// The error body (or its first bytes); empty on success.
    pub body: &'a [u8],
    /// The upstream `Retry-After` header value, if any.
    pub retry_after: Option<&'a str>,
    /// Bytes were already streamed to the client: no failover is possible.
    pub first_byte_sent: bool,
    /// The executor flagged the failure as credential-wide (e.g. a usage limit
    /// that covers all models of the account).
    pub credential_scoped: bool,
}

impl<'a> Outcome<'a> {
    pub fn success() -> Outcome<'static> {
        Outcome {
            status: 200,
            body: &[],
            retry_after: None,
            first_byte_sent: false,
            credential_scoped: false,
        }
    }

    pub fn failure(status: u16, body: &'a [u8]) -> Outcome<'a> {
        Outcome {
            status,
            body,
            retry_after: None,
            first_byte_sent: false,
            credential_scoped: false,
        }
    }

    /// The client went away while the attempt was in flight: says nothing
    /// about the credential (no cooldown).
    pub fn client_gone() -> Outcome<'static> {
        Outcome::failure(super::classify::STATUS_CLIENT_CLOSED, &[])
    }

    /// The lease was not used: the credential or its model is not in this
    /// worker's snapshot yet (a reload in flight). No cooldown; the plan
    /// moves on to the next credential.
    pub fn not_attempted() -> Outcome<'static> {
        Outcome::failure(super::classify::STATUS_NOT_ATTEMPTED, &[])
    }

    /// The request ended without an upstream call that could fail: answered
    /// locally (a local token count) or rejected before sending (a body that
    /// does not translate or that payload rules cannot read). No cooldown.
    pub fn answered_locally() -> Outcome<'static> {
        Outcome::failure(super::classify::STATUS_CLIENT_CLOSED, &[])
    }

    /// The upstream could not be reached or broke before any status.
    pub fn transport() -> Outcome<'static> {
        Outcome::failure(0, &[])
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why no credential could be picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickError {
    /// No candidate at all (none configured, or all already tried).
    NotFound,
    /// Every candidate is in a quota cooldown; the earliest ends at this time.
    Cooling { earliest_ms: u64 },
    /// Candidates exist but are blocked for mixed/non-quota reasons.
    Unavailable,
}

/// What `release` decided about the attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Success: the request is done.
    Success,
    /// Failure after bytes reached the client: done, no failover.
    Broken,
    /// Request fault or a `stop` rule: return the upstream error unchanged.
    Stop,
    /// Credential fault: try another credential.
    Next,
}

/// Details returned by [`Shard::release`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    pub verdict: Verdict,
    /// Status as the retry-round logic sees it (capacity errors count as 429).
    pub effective_status: u16,
    /// True if the failure must not affect session affinity or cooldowns.
    pub skipped_cooldown: bool,
}

/// A decoded state word, for status pages ([`Scheduler::state_of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StateView {
    /// Unix ms of the cooldown deadline (0: none was ever set).
    pub until_unix_ms: u64,
    /// Whether the deadline is still ahead.
    pub blocked: bool,
    /// The last failure's HTTP status (0: none or a transport error).
    pub status: u16,
    /// The block is a quota cooldown (429 family).
    pub quota: bool,
    /// 429 backoff level.
    pub level: u8,
}

/// A credential's cooldown state ([`Scheduler::state_of`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CredState {
    /// The credential-level word (failures that hit every model).
    pub credential: StateView,
    /// `(model id, state)` of every model word that is not clean.
    pub models: Vec<(String, StateView)>,
}

pub(crate) struct Inner {
    current: Mutex<Arc<Topology>>,
    gen: AtomicU64,
    affinity: AffinityTable,
    epoch: Instant,
    epoch_unix_ms: u64,
    shards: AtomicU32,
    reload_lock: Mutex<()>,
}

/// Shared scheduler handle (`Send + Sync`, cheap to clone).
#[derive(Clone)]
pub struct Scheduler {
    pub(crate) inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ttl_secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

impl Scheduler {
    /// Builds the first generation.
    pub fn new(settings: Settings, creds: &[CredentialSpec]) -> Scheduler {
        let epoch = Instant::now();
        let epoch_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let affinity = AffinityTable::new(
            settings.session_affinity_capacity,
            ttl_secs(settings.session_affinity_ttl),
        );
        let topo = Topology::build(1, settings, creds, None);
        Scheduler {
            inner: Arc::new(Inner {
                current: Mutex::new(Arc::new(topo)),
                gen: AtomicU64::new(1),
                affinity,
                epoch,
                epoch_unix_ms,
                shards: AtomicU32::new(0),
                reload_lock: Mutex::new(()),
            }),
        }
    }

    /// A new per-core shard. Shard `k` starts its rotations at offset `k`.
    pub fn shard(&self) -> Shard {
        let index = self.inner.shards.fetch_add(1, Ordering::Relaxed);
        let topo = lock(&self.inner.current).clone();
        let mut s = Shard {
            inner: self.inner.clone(),
            gen: topo.gen,
            topo,
            index,
            rr: Vec::new(),
            wrr: Vec::new(),
            wrr_sig: Vec::new(),
            mixed: Vec::new(),
            rng: 0x9E37_79B9_7F4A_7C15 ^ (u64::from(index) << 17),
            _not_sync: PhantomData,
        };
        s.reset_cursors();
        s
    }

    /// Milliseconds since the scheduler epoch (the clock of all `now_ms`
    /// arguments). Never 0.
    pub fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }

    /// Replaces settings and credential list. State of credentials active in
    /// both lists (same id) is kept; removed or disabled ones start clean if
    /// they come back.
    pub fn reload(&self, settings: Settings, creds: &[CredentialSpec]) {
        let _guard = lock(&self.inner.reload_lock);
        let old = lock(&self.inner.current).clone();
        self.inner
            .affinity
            .set_ttl(ttl_secs(settings.session_affinity_ttl));
        let new = Arc::new(Topology::build(old.gen + 1, settings, creds, Some(&old)));
        new.carry_from(&old);
        *lock(&self.inner.current) = new.clone();
        self.inner.gen.store(new.gen, Ordering::Release);
        // Second pass: cooldowns written into the old generation meanwhile.
        new.carry_from(&old);
    }

    /// Clears all cooldown state of a credential (management `reset-quota`).
    /// Returns false if the id is unknown or the credential is inactive.
    pub fn reset(&self, credential_id: &str) -> bool {
        let topo = lock(&self.inner.current).clone();
        let Some(cred) = topo
            .cred_names
            .get(credential_id.trim())
            .and_then(|i| topo.cred(i))
        else {
            return false;
        };
        topo.words[cred.cred_slot as usize].store(0, Ordering::Release);
        for &(_, slot) in cred.models.iter() {
            topo.words[slot as usize].store(0, Ordering::Release);
        }
        true
    }

    /// Stable index of a credential id (as in `Lease::cred`).
    pub fn index_of(&self, credential_id: &str) -> Option<u32> {
        lock(&self.inner.current)
            .cred_names
            .get(credential_id.trim())
    }

    /// Milliseconds until `credential_id` may serve `model` again (0 = ready),
    /// `None` if it does not serve it. For status pages and tests.
    pub fn cooldown_remaining(&self, credential_id: &str, model: &str, now_ms: u64) -> Option<u64> {
        let topo = lock(&self.inner.current).clone();
        let cred = topo.cred(topo.cred_names.get(credential_id.trim())?)?;
        let slot = cred.slot_of(topo.model_names.get(model.trim())?)?;
        let until = Word::until_of(topo.word(slot)).max(Word::until_of(topo.word(cred.cred_slot)));
        Some(until.saturating_sub(now_ms))
    }

    /// The cooldown state of `credential_id`: its credential-level word and
    /// every model word that is not clean (model ids sorted), `None` if the
    /// id is unknown or inactive. For management status pages: it reads the
    /// shared atomic words on demand (the generation's `Arc` is cloned under
    /// the reload mutex, which the request path never takes), so the request
    /// path pays nothing for it.
    pub fn state_of(&self, credential_id: &str) -> Option<CredState> {
        let topo = lock(&self.inner.current).clone();
        let cred = topo.cred(topo.cred_names.get(credential_id.trim())?)?;
        let now = self.inner.now_ms();
        let view = |raw: u64| {
            let w = Word::decode(raw);
            StateView {
                until_unix_ms: if w.until == 0 {
                    0
                } else {
                    self.inner.unix_ms(w.until)
                },
                blocked: Word::blocks(raw, now),
                status: w.status,
                quota: w.quota,
                level: w.level,
            }
        };
        let models = cred
            .models
            .iter()
            .filter_map(|&(m, slot)| {
                let raw = topo.word(slot);
                (raw != 0).then(|| (topo.model_names.name(m).to_string(), view(raw)))
            })
            .collect();
        Some(CredState {
            credential: view(topo.word(cred.cred_slot)),
            models,
        })
    }

    pub(crate) fn topology(&self) -> Arc<Topology> {
        lock(&self.inner.current).clone()
    }
}

impl Inner {
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Unix time in ms of a scheduler time.
    pub(crate) fn unix_ms(&self, t_ms: u64) -> u64 {
        self.epoch_unix_ms + t_ms.saturating_sub(1)
    }

    /// Scheduler time of a Unix time in ms (saturating at 1).
    pub(crate) fn sched_ms(&self, unix_ms: u64) -> u64 {
        unix_ms.saturating_sub(self.epoch_unix_ms) + 1
    }
}

/// Per-shard state of one mixed-provider route.
struct MixedState {
    route: Route,
    cursor: u32,
    wrr_sig: u64,
    wrr: Vec<(u32, i64)>,
}

/// Per-core scheduler handle: picks and releases without locks. Not `Sync`;
/// create one per worker thread with [`Scheduler::shard`].
pub struct Shard {
    inner: Arc<Inner>,
    topo: Arc<Topology>,
    gen: u64,
    index: u32,
    /// Round-robin cursor per tier.
    rr: Vec<u32>,
    /// Smooth-WRR current weight per member.
    wrr: Vec<i64>,
    /// Active-set signature per tier (WRR state resets when it changes).
    wrr_sig: Vec<u64>,
    mixed: Vec<MixedState>,
    rng: u64,
    _not_sync: PhantomData<Cell<()>>,
}

/// Request-level filter applied before readiness.
#[derive(Clone, Copy)]
pub(crate) struct Filter<'a> {
    pub tried: &'a [u32],
    pub round: u32,
    pub need_weight: bool,
    /// Only credentials with `websockets` (the preferring pass).
    pub only_websockets: bool,
}

impl Filter<'_> {
    #[inline]
    fn allows(&self, m: &Member) -> bool {
        !(self.need_weight && m.weight == 0)
            && (!self.only_websockets || m.websockets)
            && (self.round == 0 || m.retry >= self.round as i32)
            && !self.tried.contains(&m.cred)
    }
}

#[inline]
fn sig_mix(sig: u64, v: u64) -> u64 {
    (sig ^ v.wrapping_add(0x9E37_79B9_7F4A_7C15))
        .wrapping_mul(0xBF58_476D_1CE4_E5B9)
        .rotate_left(29)
}

impl Shard {
    fn reset_cursors(&mut self) {
        let t = &self.topo;
        self.rr.clear();
        self.rr.resize(t.tiers.len(), self.index);
        self.wrr.clear();
        self.wrr.resize(t.members.len(), 0);
        self.wrr_sig.clear();
        self.wrr_sig.resize(t.tiers.len(), 0);
        self.mixed.clear();
    }

    /// Switches to the newest generation if a reload happened (one atomic load
    /// on the fast path).
    #[inline]
    fn refresh(&mut self) {
        if self.inner.gen.load(Ordering::Acquire) != self.gen {
            self.refresh_slow();
        }
    }

    #[cold]
    fn refresh_slow(&mut self) {
        let t = lock(&self.inner.current).clone();
        self.gen = t.gen;
        self.topo = t;
        self.reset_cursors();
    }

    /// Milliseconds since the scheduler epoch.
    pub fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }

    /// Shard number (rotation offset).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Resolves a route. `providers` must be normalized (trimmed, lowercase)
    /// and in preference order; unknown providers are skipped, duplicates and
    /// providers beyond [`MAX_ROUTE_PROVIDERS`] ignored. `None` if the model or
    /// every provider is unknown (answer with `ErrorAnswer::auth_not_found`).
    pub fn route(&mut self, model: &str, providers: &[&str]) -> Option<Route> {
        self.refresh();
        let t = &self.topo;
        let model = t.model_names.get(model.trim())?;
        let mut r = Route {
            model,
            n: 0,
            providers: [0; MAX_ROUTE_PROVIDERS],
        };
        for p in providers {
            let Some(id) = t.provider_names.get(p.trim()) else {
                continue;
            };
            let id = id.min(u32::from(u16::MAX)) as u16;
            if (r.n as usize) < MAX_ROUTE_PROVIDERS && !r.providers().contains(&id) {
                r.providers[r.n as usize] = id;
                r.n += 1;
            }
        }
        (r.n > 0).then_some(r)
    }

    /// Credential id of a lease.
    pub fn credential_id(&self, lease: &Lease) -> &str {
        self.topo.cred_names.name(lease.cred)
    }

    /// Position of a lease's credential in the spec list stamped `stamp`
    /// ([`Settings::stamp`]): an array index, no string or hash. `None` when
    /// the shard's generation was built from another list (a reload not yet
    /// seen on both sides) or the credential is inactive. Credential indices
    /// are stable across generations, so a lease from an older generation
    /// still names the same credential here.
    #[inline]
    pub fn spec_index(&self, lease: &Lease, stamp: u64) -> Option<usize> {
        if self.topo.settings.stamp != stamp {
            return None;
        }
        self.topo.cred(lease.cred).map(|c| c.spec as usize)
    }

    /// Provider name of a lease's credential.
    pub fn provider_of(&self, lease: &Lease) -> &str {
        self.topo
            .cred(lease.cred)
            .map(|c| self.topo.provider_names.name(u32::from(c.provider)))
            .unwrap_or("")
    }

    /// Model name of a route.
    pub fn model_name(&self, route: &Route) -> &str {
        self.topo.model_names.name(route.model)
    }

    /// Current settings.
    pub fn settings(&self) -> &Settings {
        &self.topo.settings
    }

    #[inline]
    fn ready(&self, m: &Member, now: u64) -> bool {
        !Word::blocks(self.topo.word(m.slot), now)
            && !Word::blocks(self.topo.word(m.cred_slot), now)
    }

    #[inline]
    fn lease(&self, m: &Member, model: u32) -> Lease {
        Lease {
            cred: m.cred,
            model,
            slot: m.slot,
            cred_slot: m.cred_slot,
            gen: self.gen as u32,
        }
    }

    /// Picks a credential for `route` with the configured strategy (no retry
    /// filters, no session).
    pub fn pick(&mut self, route: &Route, now_ms: u64) -> Result<Lease, PickError> {
        self.pick_filtered(route, &[], 0, None, false, now_ms)
    }

    /// Picks with session affinity when enabled and `session` is given.
    pub fn pick_session(
        &mut self,
        route: &Route,
        session: Option<&SessionKey>,
        now_ms: u64,
    ) -> Result<Lease, PickError> {
        self.pick_filtered(route, &[], 0, session, false, now_ms)
    }

    /// Full pick: skips credentials in `tried`, and in retry round `round > 0`
    /// those whose effective `request-retry` is below `round`. With
    /// `prefer_websockets` (a request from a WebSocket client), ready
    /// credentials with `websockets` are taken first, whatever their tier.
    pub(crate) fn pick_filtered(
        &mut self,
        route: &Route,
        tried: &[u32],
        round: u32,
        session: Option<&SessionKey>,
        prefer_websockets: bool,
        now_ms: u64,
    ) -> Result<Lease, PickError> {
        self.refresh();
        let strategy = self.topo.settings.strategy;
        let filter = Filter {
            tried,
            round,
            need_weight: strategy == Strategy::WeightedRoundRobin,
            only_websockets: false,
        };
        let session = session.filter(|_| self.topo.settings.session_affinity);
        if let Some(key) = session {
            let now_s = now_ms / 1000;
            for h in [key.primary, key.fallback] {
                if h == 0 {
                    continue;
                }
                let h = self.affinity_hash(route, h);
                if let Some(cred) = self.inner.affinity.get(h, now_s) {
                    if let Some(m) = self.route_member(route, cred) {
                        if filter.allows(&m) && self.ready(&m, now_ms) {
                            self.refresh_binding(route, key, cred, now_ms);
                            return Ok(self.lease(&m, route.model));
                        }
                    }
                }
            }
        }
        let pick = |s: &mut Self, f: &Filter<'_>| {
            if route.n == 1 {
                s.pick_single(route, strategy, f, now_ms)
            } else {
                s.pick_mixed(route, strategy, f, now_ms)
            }
        };
        let preferred = if prefer_websockets {
            let only = Filter {
                only_websockets: true,
                ..filter
            };
            pick(self, &only)
        } else {
            None
        };
        let picked = preferred.or_else(|| pick(self, &filter));
        match picked {
            Some(m) => {
                if let Some(key) = session {
                    self.bind_session(route, key, m.cred, now_ms);
                }
                Ok(self.lease(&m, route.model))
            }
            None => Err(self.unavailable(route, &filter, now_ms)),
        }
    }

    fn affinity_hash(&self, route: &Route, session: u64) -> u64 {
        let mut h = sig_mix(session, u64::from(route.model));
        for &p in route.providers() {
            h = sig_mix(h, u64::from(p));
        }
        h
    }

    fn bind_session(&self, route: &Route, key: &SessionKey, cred: u32, now_ms: u64) {
        for h in [key.primary, key.fallback] {
            if h != 0 {
                self.inner
                    .affinity
                    .bind(self.affinity_hash(route, h), cred, now_ms / 1000);
            }
        }
    }

    /// On a binding hit: refresh keys already bound to `cred` (writes only when
    /// the second changed, so a hot session does not bounce the cache line
    /// between cores) and bind the alias keys that are not (upstream binds the
    /// primary and fallback ids as one group).
    fn refresh_binding(&self, route: &Route, key: &SessionKey, cred: u32, now_ms: u64) {
        let now_s = now_ms / 1000;
        for h in [key.primary, key.fallback] {
            if h == 0 {
                continue;
            }
            let h = self.affinity_hash(route, h);
            if self.inner.affinity.get(h, now_s) == Some(cred) {
                self.inner.affinity.touch(h, cred, now_s);
            } else {
                self.inner.affinity.bind(h, cred, now_s);
            }
        }
    }

    /// Session bookkeeping after an attempt: success refreshes the binding, a
    /// credential fault drops it.
    pub(crate) fn session_result(
        &self,
        route: &Route,
        key: &SessionKey,
        cred: u32,
        success: bool,
        now_ms: u64,
    ) {
        if !self.topo.settings.session_affinity {
            return;
        }
        for h in [key.primary, key.fallback] {
            if h == 0 {
                continue;
            }
            let h = self.affinity_hash(route, h);
            if success {
                self.inner.affinity.touch(h, cred, now_ms / 1000);
            } else {
                self.inner.affinity.remove_if(h, cred);
            }
        }
    }

    /// The member view of `cred` for `route` (any tier), if it belongs to it.
    fn route_member(&self, route: &Route, cred: u32) -> Option<Member> {
        let c = self.topo.cred(cred)?;
        if !route.providers().contains(&c.provider) {
            return None;
        }
        Some(Member {
            cred,
            slot: c.slot_of(route.model)?,
            cred_slot: c.cred_slot,
            weight: c.weight,
            retry: c.retry,
            websockets: c.websockets,
        })
    }

    /// The answer for a pick failure.
    pub fn answer(&self, route: &Route, err: PickError, now_ms: u64) -> ErrorAnswer {
        let model = self.topo.model_names.name(route.model);
        let names: [&str; MAX_ROUTE_PROVIDERS] =
            std::array::from_fn(|i| self.topo.provider_names.name(u32::from(route.providers[i])));
        let providers = &names[..route.n as usize];
        match err {
            PickError::Cooling { earliest_ms } => ErrorAnswer::model_cooldown(
                model,
                (route.n == 1).then(|| providers[0]),
                Duration::from_millis(earliest_ms.saturating_sub(now_ms)),
            ),
            PickError::NotFound => ErrorAnswer::auth_not_found(providers, model),
            PickError::Unavailable => ErrorAnswer::auth_unavailable(providers, model),
        }
    }

    /// Smallest wait before another retry round can find a credential
    /// (CLIProxyAPI `closestCooldownWait` + `retryAllowed`): `Some(0)` if one is
    /// ready now, `None` if no credential may join round `round + 1`.
    pub(crate) fn closest_wait(&self, route: &Route, round: u32, now: u64) -> Option<u64> {
        let mut best: Option<u64> = None;
        for &p in route.providers() {
            for tier in self.pool_tiers(route.model, p) {
                let t = self.topo.tiers[tier];
                for m in &self.topo.members[t.start as usize..t.end as usize] {
                    if m.retry <= round as i32 {
                        continue;
                    }
                    let cw = self.topo.word(m.cred_slot);
                    let w = self.topo.word(m.slot);
                    let blocking = if Word::blocks(cw, now) && Word::is_quota(cw) {
                        cw
                    } else if Word::blocks(w, now) {
                        w
                    } else if Word::blocks(cw, now) {
                        cw
                    } else {
                        return Some(0);
                    };
                    let d = Word::decode(blocking);
                    let eligible = if d.status == 0 {
                        d.quota
                    } else {
                        is_retry_round_status(d.status)
                    };
                    if eligible {
                        let wait = d.until - now;
                        best = Some(best.map_or(wait, |b| b.min(wait)));
                    }
                }
            }
        }
        best
    }

    /// Cheap per-shard pseudo-random numbers (jitter only).
    pub(crate) fn next_random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Returns a lease with the attempt's outcome: updates cooldown state and
    /// says what the request should do next.
    pub fn release(&mut self, lease: Lease, outcome: &Outcome, now_ms: u64) -> Released {
        self.refresh();
        let (slot, cred_slot) = if lease.gen == self.gen as u32 {
            (lease.slot, lease.cred_slot)
        } else {
            // A credential removed meanwhile maps to no slot: nothing to record.
            self.topo
                .cred(lease.cred)
                .and_then(|c| Some((c.slot_of(lease.model)?, c.cred_slot)))
                .unwrap_or((u32::MAX, u32::MAX))
        };
        let words = &self.topo.words;
        if outcome.is_success() {
            let cw = self.topo.word(cred_slot);
            let credential_quota_open = Word::blocks(cw, now_ms) && Word::is_quota(cw);
            if !credential_quota_open {
                if let Some(w) = words.get(slot as usize) {
                    if w.load(Ordering::Relaxed) != 0 {
                        w.store(0, Ordering::Release);
                    }
                }
                if cw != 0 {
                    if let Some(w) = words.get(cred_slot as usize) {
                        w.store(0, Ordering::Release);
                    }
                }
            }
            return Released {
                verdict: Verdict::Success,
                effective_status: outcome.status,
                skipped_cooldown: false,
            };
        }
        let (rules, disable_cooling): (&[_], Option<bool>) = match self.topo.cred(lease.cred) {
            Some(c) => (&c.rules, c.disable_cooling),
            None => (&[], None),
        };
        let c = classify(outcome.status, outcome.body, rules);
        let settings = &self.topo.settings;
        let params = CoolParams {
            disabled: disable_cooling.unwrap_or(settings.disable_cooling),
            transient_ms: match settings.transient_error_cooldown_seconds {
                s if s < 0 => None,
                0 => Some(60_000),
                s => Some((s as u64).saturating_mul(1000)),
            },
            ceiling_ms: settings.quota_cooldown_ceiling.as_millis() as u64,
            hint_floor_ms: settings.retry_hint_floor.as_millis() as u64,
        };
        let hint = if c.effective_status == 429 && c.failure != Failure::Skip {
            retry_hint(
                outcome.retry_after,
                outcome.body,
                self.inner.unix_ms(now_ms) / 1000,
            )
        } else {
            None
        };
        if c.failure != Failure::Skip {
            let failure = match c.failure {
                Failure::Status(_) => Failure::Status(c.effective_status),
                f => f,
            };
            let apply = |idx: u32| {
                if let Some(w) = words.get(idx as usize) {
                    let _ = w.fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                        Some(after_failure(
                            old,
                            failure,
                            hint,
                            c.force_cooldown,
                            now_ms,
                            &params,
                        ))
                    });
                }
            };
            apply(slot);
            if outcome.credential_scoped && c.effective_status == 429 {
                apply(cred_slot);
            }
        }
        let verdict = if outcome.first_byte_sent {
            Verdict::Broken
        } else if c.stop {
            Verdict::Stop
        } else {
            Verdict::Next
        };
        Released {
            verdict,
            effective_status: c.effective_status,
            skipped_cooldown: c.failure == Failure::Skip,
        }
    }
}
