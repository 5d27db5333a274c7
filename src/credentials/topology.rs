//! Immutable snapshot of the credential pools built from a config generation,
//! plus the shared table of atomic state words it owns.
//!
//! Names are interned append-only across generations, so credential indices,
//! model ids and provider ids handed out once stay valid after any reload
//! (a removed credential leaves a hole). State words are laid out per
//! generation: each active credential owns one credential-level word and one
//! word per model it serves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::spec::{CredentialSpec, Rule, Settings};
use super::state::Word;

/// A pool member: one (credential, model) pair inside a (model, provider) pool.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member {
    pub cred: u32,
    /// Index of the (credential, model) state word.
    pub slot: u32,
    /// Index of the credential-level state word.
    pub cred_slot: u32,
    pub weight: u32,
    /// Effective `request-retry` (rounds this credential may join).
    pub retry: i32,
    /// The credential's `websockets` flag ([`CredentialSpec::websockets`]).
    pub websockets: bool,
}

/// A run of members sharing one priority, `start..end` into `Topology::members`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tier {
    pub priority: i32,
    pub start: u32,
    pub end: u32,
}

/// All members serving one model through one provider, tiers by priority desc.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pool {
    pub provider: u16,
    pub tier_start: u32,
    pub tier_end: u32,
}

/// Per-generation view of one active credential.
#[derive(Debug)]
pub(crate) struct Cred {
    pub id: Box<str>,
    /// Position of the credential's spec in the list this generation was
    /// built from (the caller's array index).
    pub spec: u32,
    pub provider: u16,
    pub disable_cooling: Option<bool>,
    pub rules: Box<[Rule]>,
    /// `(model id, state slot)`, sorted by model id.
    pub models: Box<[(u32, u32)]>,
    pub cred_slot: u32,
    pub weight: u32,
    pub retry: i32,
    pub websockets: bool,
}

impl Cred {
    pub fn slot_of(&self, model: u32) -> Option<u32> {
        self.models
            .binary_search_by_key(&model, |&(m, _)| m)
            .ok()
            .map(|i| self.models[i].1)
    }
}

/// FNV-1a: interner keys are configuration strings (not attacker-chosen), and
/// a cheap hash keeps loading 5,000 credentials × tens of models fast.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        // Fold the well-mixed high half into the low bits hashbrown indexes
        // buckets with (a multiply only carries low bits upward).
        self.0 ^ (self.0 >> 32)
    }
    fn write(&mut self, bytes: &[u8]) {
        // FNV-1a over 8-byte words (then the tail bytes): fewer steps per key.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0 ^ u64::from_le_bytes(w)).wrapping_mul(0x0100_0000_01b3);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A map with the cheap [`Fnv`] hash instead of SipHash. Only for maps whose
/// keys are inserted from configuration or internal ids (bounded, not chosen
/// by clients); looking such a map up with a client's string is fine: a
/// lookup probes only the keys already stored.
pub type FnvMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// Append-only string interner.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interner {
    pub names: Vec<Box<str>>,
    pub index: FnvMap<Box<str>, u32>,
}

impl Interner {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map(|s| &**s).unwrap_or("")
    }
}

/// Most provider kinds a single route may combine. Twelve built-in provider
/// kinds exist plus one per openai-compatibility entry; a model served by more
/// than 16 distinct providers is not a configuration seen in practice, and the
/// bound keeps `Route` a small `Copy` value. Extra providers are ignored.
pub const MAX_ROUTE_PROVIDERS: usize = 16;

pub(crate) struct Topology {
    pub gen: u64,
    pub settings: Settings,
    pub cred_names: Interner,
    pub model_names: Interner,
    pub provider_names: Interner,
    /// Indexed by stable credential index; `None` = removed or disabled.
    pub creds: Vec<Option<Cred>>,
    /// Pool ids per model id (index by model id).
    pub pools_by_model: Vec<Vec<u32>>,
    pub pools: Vec<Pool>,
    pub tiers: Vec<Tier>,
    pub members: Vec<Member>,
    pub words: Box<[AtomicU64]>,
}

/// A pool member before sorting into pools and tiers.
#[derive(Clone, Copy)]
struct Candidate {
    model: u32,
    provider: u16,
    priority: i32,
    member: Member,
}

fn effective_retry(own: Option<i32>, default: i32) -> i32 {
    match own {
        Some(v) if v >= 0 => v,
        _ => default.max(0),
    }
}

/// Orders candidates for pooling: (model, provider), then priority
/// descending, then credential id ascending (`by_name`: active credentials
/// in id order).
fn order_candidates(
    candidates: &[Candidate],
    by_name: &[u32],
    ncreds: usize,
    nmodels: usize,
    nproviders: usize,
) -> Vec<Candidate> {
    // Pools: (model, provider), then priority descending, then id ascending.
    // Counting sorts (linear, fast even in unoptimised builds): first put
    // each credential's contiguous run of candidates in id order, then a
    // stable bucket pass on the dense (model, provider, priority) key.
    let mut run_start = vec![0u32; ncreds];
    let mut run_len = vec![0u32; ncreds];
    for (i, c) in candidates.iter().enumerate() {
        let k = c.member.cred as usize;
        if run_len[k] == 0 {
            run_start[k] = i as u32;
        }
        run_len[k] += 1;
    }
    let mut by_id: Vec<Candidate> = Vec::with_capacity(candidates.len());
    for &k in by_name {
        let (a, n) = (run_start[k as usize] as usize, run_len[k as usize] as usize);
        by_id.extend_from_slice(&candidates[a..a + n]);
    }
    // Distinct priorities, descending (one entry per credential run at most).
    let mut prios: Vec<i32> = Vec::new();
    for c in &by_id {
        if prios.last() != Some(&c.priority) {
            prios.push(c.priority);
        }
    }
    prios.sort_unstable_by(|a, b| b.cmp(a));
    prios.dedup();
    let (np, nq) = (nproviders.max(1), prios.len().max(1));
    let buckets = nmodels.max(1) * np * nq;
    let key = |c: &Candidate| -> usize {
        let q = prios.binary_search_by(|p| c.priority.cmp(p)).unwrap_or(0);
        (c.model as usize * np + c.provider as usize) * nq + q
    };
    if buckets <= 4 * by_id.len() + 4096 {
        let keys: Vec<usize> = by_id.iter().map(key).collect();
        let mut pos = vec![0usize; buckets + 1];
        for &k in &keys {
            pos[k + 1] += 1;
        }
        for b in 0..buckets {
            pos[b + 1] += pos[b];
        }
        let mut out: Vec<Option<Candidate>> = vec![None; by_id.len()];
        for (c, &k) in by_id.iter().zip(&keys) {
            out[pos[k]] = Some(*c);
            pos[k] += 1;
        }
        out.into_iter().flatten().collect()
    } else {
        by_id.sort_by_key(key);
        by_id
    }
}

/// Pools of ordered candidates: one per (model, provider), split into
/// priority tiers; members are stored flat.
#[allow(
    clippy::type_complexity,
    reason = "the four tables Topology stores, built together"
)]
fn group_pools(
    candidates: &[Candidate],
    nmodels: usize,
) -> (Vec<Vec<u32>>, Vec<Pool>, Vec<Tier>, Vec<Member>) {
    let mut pools_by_model: Vec<Vec<u32>> = vec![Vec::new(); nmodels];
    let mut pools = Vec::new();
    let mut tiers = Vec::new();
    let mut members = Vec::with_capacity(candidates.len());
    let mut i = 0;
    while i < candidates.len() {
        let (model, provider) = (candidates[i].model, candidates[i].provider);
        let tier_start = tiers.len() as u32;
        while i < candidates.len()
            && candidates[i].model == model
            && candidates[i].provider == provider
        {
            let prio = candidates[i].priority;
            let start = members.len() as u32;
            while i < candidates.len()
                && candidates[i].model == model
                && candidates[i].provider == provider
                && candidates[i].priority == prio
            {
                members.push(candidates[i].member);
                i += 1;
            }
            tiers.push(Tier {
                priority: prio,
                start,
                end: members.len() as u32,
            });
        }
        pools_by_model[model as usize].push(pools.len() as u32);
        pools.push(Pool {
            provider,
            tier_start,
            tier_end: tiers.len() as u32,
        });
    }
    (pools_by_model, pools, tiers, members)
}

impl Topology {
    /// Builds a generation. `prev` supplies the interners (stable ids); state is
    /// not copied here (see [`Topology::carry_from`]). Duplicate ids: the first
    /// entry wins.
    pub fn build(
        gen: u64,
        settings: Settings,
        specs: &[CredentialSpec],
        prev: Option<&Topology>,
    ) -> Topology {
        let (mut cred_names, mut model_names, mut provider_names) = match prev {
            Some(p) => (
                p.cred_names.clone(),
                p.model_names.clone(),
                p.provider_names.clone(),
            ),
            None => Default::default(),
        };
        let mut creds: Vec<Option<Cred>> = Vec::new();
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut next_slot: u32 = 0;
        let mut model_ids: Vec<u32> = Vec::new();
        let mut seen: Vec<bool> = Vec::new();
        for (spec_pos, spec) in specs.iter().enumerate() {
            let id = spec.id.trim();
            if id.is_empty() {
                continue;
            }
            let idx = cred_names.intern(id);
            if seen.len() <= idx as usize {
                seen.resize(idx as usize + 1, false);
                creds.resize_with(idx as usize + 1, || None);
            }
            if std::mem::replace(&mut seen[idx as usize], true) {
                continue;
            }
            let provider_name = spec.provider.trim();
            if spec.disabled || provider_name.is_empty() {
                continue;
            }
            let provider = provider_names
                .intern(provider_name)
                .min(u32::from(u16::MAX)) as u16;
            model_ids.clear();
            model_ids.extend(
                spec.models
                    .iter()
                    .map(|m| m.trim())
                    .filter(|m| !m.is_empty())
                    .map(|m| model_names.intern(m)),
            );
            model_ids.sort_unstable();
            model_ids.dedup();
            let cred_slot = next_slot;
            next_slot += 1;
            let retry = effective_retry(spec.request_retry, settings.request_retry);
            let mut models = Vec::with_capacity(model_ids.len());
            for &m in &model_ids {
                let slot = next_slot;
                next_slot += 1;
                models.push((m, slot));
                candidates.push(Candidate {
                    model: m,
                    provider,
                    priority: spec.priority,
                    member: Member {
                        cred: idx,
                        slot,
                        cred_slot,
                        weight: spec.weight,
                        retry,
                        websockets: spec.websockets,
                    },
                });
            }
            creds[idx as usize] = Some(Cred {
                id: id.into(),
                spec: u32::try_from(spec_pos).unwrap_or(u32::MAX),
                provider,
                disable_cooling: spec.disable_cooling,
                rules: spec.request_scoped_errors.clone().into_boxed_slice(),
                models: models.into_boxed_slice(),
                cred_slot,
                weight: spec.weight,
                retry,
                websockets: spec.websockets,
            });
        }
        if creds.len() < cred_names.names.len() {
            creds.resize_with(cred_names.names.len(), || None);
        }
        // Rank of each active credential by id, for the upstream tie order.
        let mut by_name: Vec<u32> = (0..creds.len() as u32)
            .filter(|&i| creds[i as usize].is_some())
            .collect();
        by_name.sort_unstable_by(|&a, &b| cred_names.name(a).cmp(cred_names.name(b)));
        let mut rank = vec![0u32; creds.len()];
        for (r, &i) in by_name.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        let candidates = order_candidates(
            &candidates,
            &by_name,
            creds.len(),
            model_names.names.len(),
            provider_names.names.len(),
        );
        let (pools_by_model, pools, tiers, members) =
            group_pools(&candidates, model_names.names.len());
        let words: Box<[AtomicU64]> = (0..next_slot).map(|_| AtomicU64::new(0)).collect();
        Topology {
            gen,
            settings,
            cred_names,
            model_names,
            provider_names,
            creds,
            pools_by_model,
            pools,
            tiers,
            members,
            words,
        }
    }

    pub fn cred(&self, idx: u32) -> Option<&Cred> {
        self.creds.get(idx as usize).and_then(|c| c.as_ref())
    }

    pub fn pool_for(&self, model: u32, provider: u16) -> Option<&Pool> {
        self.pools_by_model
            .get(model as usize)?
            .iter()
            .map(|&p| &self.pools[p as usize])
            .find(|p| p.provider == provider)
    }

    #[inline]
    pub fn word(&self, slot: u32) -> u64 {
        self.words
            .get(slot as usize)
            .map(|w| w.load(Ordering::Acquire))
            .unwrap_or(0)
    }

    /// Copies state of credentials active in both generations. Merging keeps
    /// the later deadline, so it is safe to run twice (before and after the new
    /// generation is published).
    pub fn carry_from(&self, old: &Topology) {
        for (idx, cred) in self.creds.iter().enumerate() {
            let Some(cred) = cred else { continue };
            let Some(old_cred) = old.cred(idx as u32) else {
                continue;
            };
            merge_word(&self.words, cred.cred_slot, old.word(old_cred.cred_slot));
            for &(model, slot) in cred.models.iter() {
                if let Some(old_slot) = old_cred.slot_of(model) {
                    merge_word(&self.words, slot, old.word(old_slot));
                }
            }
        }
    }
}

/// Installs `incoming` into `words[slot]` unless the present word has a later
/// (or equal) deadline.
pub(crate) fn merge_word(words: &[AtomicU64], slot: u32, incoming: u64) {
    let Some(w) = words.get(slot as usize) else {
        return;
    };
    if incoming == 0 {
        return;
    }
    let mut cur = w.load(Ordering::Acquire);
    loop {
        if cur != 0 && Word::until_of(cur) >= Word::until_of(incoming) {
            return;
        }
        match w.compare_exchange_weak(cur, incoming, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
}
