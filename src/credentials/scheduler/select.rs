//! Selection within a pool: the per-strategy scans (round-robin, weighted
//! round-robin, fill-first), mixed-provider routes, and the reason a pick
//! found nothing. Same guarantees as the parent: no lock, no allocation in
//! steady state.

use super::*;

impl Shard {
    /// Index into `members` of the first member of tier `tier` ready now, in
    /// round-robin order starting from the tier cursor (does not move it).
    #[inline]
    pub(super) fn scan_rr(&self, tier: usize, filter: &Filter, now: u64) -> Option<usize> {
        let t = *self.topo.tiers.get(tier)?;
        let members = self.topo.members.get(t.start as usize..t.end as usize)?;
        let n = members.len();
        if n == 0 {
            return None;
        }
        // The cursor is at most n (index + 1 of the last pick).
        let mut i = self.rr[tier] as usize;
        if i >= n {
            i = if i == n { 0 } else { i % n };
        }
        for _ in 0..n {
            let m = &members[i];
            if filter.allows(m) && self.ready(m, now) {
                return Some(t.start as usize + i);
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
        None
    }

    pub(super) fn tier_has_ready(&self, tier: usize, filter: &Filter, now: u64) -> bool {
        let t = self.topo.tiers[tier];
        self.topo.members[t.start as usize..t.end as usize]
            .iter()
            .any(|m| filter.allows(m) && self.ready(m, now))
    }

    pub(super) fn count_ready(&self, tier: usize, filter: &Filter, now: u64) -> u32 {
        let t = self.topo.tiers[tier];
        self.topo.members[t.start as usize..t.end as usize]
            .iter()
            .filter(|m| filter.allows(m) && self.ready(m, now))
            .count() as u32
    }

    pub(super) fn first_ready(&self, tier: usize, filter: &Filter, now: u64) -> Option<usize> {
        let t = self.topo.tiers[tier];
        (t.start as usize..t.end as usize).find(|&i| {
            let m = &self.topo.members[i];
            filter.allows(m) && self.ready(m, now)
        })
    }

    /// Round-robin pick inside one tier; advances that tier's cursor.
    pub(super) fn take_rr(&mut self, tier: usize, filter: &Filter, now: u64) -> Option<Member> {
        let gi = self.scan_rr(tier, filter, now)?;
        let start = self.topo.tiers[tier].start as usize;
        self.rr[tier] = (gi - start + 1) as u32;
        Some(self.topo.members[gi])
    }

    /// Smooth WRR inside one tier.
    pub(super) fn take_wrr(&mut self, tier: usize, filter: &Filter, now: u64) -> Option<Member> {
        let t = self.topo.tiers[tier];
        let range = t.start as usize..t.end as usize;
        let mut sig = 0u64;
        for i in range.clone() {
            let m = &self.topo.members[i];
            if filter.allows(m) && self.ready(m, now) {
                sig = sig_mix(sig, (i as u64) << 32 | u64::from(m.weight));
            }
        }
        if sig == 0 {
            return None;
        }
        if self.wrr_sig[tier] != sig {
            self.wrr_sig[tier] = sig;
            self.wrr[range.clone()].iter_mut().for_each(|c| *c = 0);
        }
        let mut total: i64 = 0;
        let mut best: Option<usize> = None;
        for i in range {
            let m = self.topo.members[i];
            if !(filter.allows(&m) && self.ready(&m, now)) {
                continue;
            }
            let w = i64::from(m.weight);
            self.wrr[i] = self.wrr[i].saturating_add(w);
            total = total.saturating_add(w);
            if best.is_none_or(|b| self.wrr[i] > self.wrr[b]) {
                best = Some(i);
            }
        }
        let b = best?;
        self.wrr[b] = self.wrr[b].saturating_sub(total);
        Some(self.topo.members[b])
    }

    pub(super) fn pool_tiers(&self, model: u32, provider: u16) -> std::ops::Range<usize> {
        match self.topo.pool_for(model, provider) {
            Some(p) => p.tier_start as usize..p.tier_end as usize,
            None => 0..0,
        }
    }

    pub(super) fn pick_single(
        &mut self,
        route: &Route,
        strategy: Strategy,
        filter: &Filter,
        now: u64,
    ) -> Option<Member> {
        let tiers = self.pool_tiers(route.model, route.providers[0]);
        for tier in tiers {
            let got = match strategy {
                Strategy::RoundRobin => self.take_rr(tier, filter, now),
                Strategy::FillFirst => self
                    .first_ready(tier, filter, now)
                    .map(|i| self.topo.members[i]),
                Strategy::WeightedRoundRobin => self.take_wrr(tier, filter, now),
            };
            if got.is_some() {
                return got;
            }
        }
        None
    }

    pub(super) fn pick_mixed(
        &mut self,
        route: &Route,
        strategy: Strategy,
        filter: &Filter,
        now: u64,
    ) -> Option<Member> {
        let n = route.n as usize;
        // Best ready priority across providers, and each provider's tier at it.
        let mut best: Option<i32> = None;
        for &p in route.providers() {
            for tier in self.pool_tiers(route.model, p) {
                if self.tier_has_ready(tier, filter, now) {
                    let prio = self.topo.tiers[tier].priority;
                    if best.is_none_or(|b| prio > b) {
                        best = Some(prio);
                    }
                    break;
                }
            }
        }
        let best = best?;
        let mut tier_at = [usize::MAX; MAX_ROUTE_PROVIDERS];
        for (i, &p) in route.providers().iter().enumerate() {
            if let Some(t) = self
                .pool_tiers(route.model, p)
                .find(|&t| self.topo.tiers[t].priority == best)
            {
                tier_at[i] = t;
            }
        }
        match strategy {
            Strategy::FillFirst => tier_at[..n]
                .iter()
                .filter(|&&t| t != usize::MAX)
                .find_map(|&t| self.first_ready(t, filter, now))
                .map(|i| self.topo.members[i]),
            Strategy::RoundRobin => {
                let mut weights = [0u32; MAX_ROUTE_PROVIDERS];
                let mut seg_start = [0u32; MAX_ROUTE_PROVIDERS];
                let mut total = 0u32;
                for i in 0..n {
                    seg_start[i] = total;
                    if tier_at[i] != usize::MAX {
                        weights[i] = self.count_ready(tier_at[i], filter, now);
                    }
                    total += weights[i];
                }
                if total == 0 {
                    return None;
                }
                let ms = self.mixed_state(route);
                let start_slot = self.mixed[ms].cursor % total;
                let start_provider =
                    (0..n).find(|&i| weights[i] > 0 && start_slot < seg_start[i] + weights[i])?;
                for off in 0..n {
                    let i = (start_provider + off) % n;
                    if weights[i] == 0 {
                        continue;
                    }
                    let slot = if i == start_provider {
                        start_slot
                    } else {
                        seg_start[i]
                    };
                    if let Some(m) = self.take_rr(tier_at[i], filter, now) {
                        self.mixed[ms].cursor = slot + 1;
                        return Some(m);
                    }
                }
                None
            }
            Strategy::WeightedRoundRobin => {
                let ms = self.mixed_state(route);
                let mut sig = 0u64;
                for &t in tier_at[..n].iter().filter(|&&t| t != usize::MAX) {
                    let tr = self.topo.tiers[t];
                    for i in tr.start as usize..tr.end as usize {
                        let m = &self.topo.members[i];
                        if filter.allows(m) && self.ready(m, now) {
                            sig = sig_mix(sig, (i as u64) << 32 | u64::from(m.weight));
                        }
                    }
                }
                if sig == 0 {
                    return None;
                }
                let mut state = std::mem::take(&mut self.mixed[ms].wrr);
                if self.mixed[ms].wrr_sig != sig {
                    self.mixed[ms].wrr_sig = sig;
                    state.clear();
                    for &t in tier_at[..n].iter().filter(|&&t| t != usize::MAX) {
                        let tr = self.topo.tiers[t];
                        state.extend((tr.start..tr.end).map(|i| (i, 0i64)));
                    }
                }
                let mut total = 0i64;
                let mut best_i: Option<usize> = None;
                for k in 0..state.len() {
                    let m = self.topo.members[state[k].0 as usize];
                    if !(filter.allows(&m) && self.ready(&m, now)) {
                        continue;
                    }
                    let w = i64::from(m.weight);
                    state[k].1 = state[k].1.saturating_add(w);
                    total = total.saturating_add(w);
                    if best_i.is_none_or(|b| state[k].1 > state[b].1) {
                        best_i = Some(k);
                    }
                }
                let picked = best_i.map(|b| {
                    state[b].1 = state[b].1.saturating_sub(total);
                    self.topo.members[state[b].0 as usize]
                });
                self.mixed[ms].wrr = state;
                picked
            }
        }
    }

    pub(super) fn mixed_state(&mut self, route: &Route) -> usize {
        if let Some(i) = self.mixed.iter().position(|m| m.route == *route) {
            return i;
        }
        self.mixed.push(MixedState {
            route: *route,
            cursor: self.index,
            wrr_sig: 0,
            wrr: Vec::new(),
        });
        self.mixed.len() - 1
    }

    /// Why nothing was picked (CLIProxyAPI `availabilitySummaryLocked`).
    pub(super) fn unavailable(&self, route: &Route, filter: &Filter, now: u64) -> PickError {
        let mut total = 0u32;
        let mut cooling = 0u32;
        let mut earliest = u64::MAX;
        for &p in route.providers() {
            for tier in self.pool_tiers(route.model, p) {
                let t = self.topo.tiers[tier];
                for m in &self.topo.members[t.start as usize..t.end as usize] {
                    if !filter.allows(m) {
                        continue;
                    }
                    total += 1;
                    if let Some(until) = self.quota_block(m, now) {
                        cooling += 1;
                        earliest = earliest.min(until);
                    }
                }
            }
        }
        if total == 0 {
            PickError::NotFound
        } else if cooling == total {
            PickError::Cooling {
                earliest_ms: earliest,
            }
        } else {
            PickError::Unavailable
        }
    }

    /// Deadline of a quota (429-family) block on this member, if any.
    pub(super) fn quota_block(&self, m: &Member, now: u64) -> Option<u64> {
        let cw = self.topo.word(m.cred_slot);
        if Word::blocks(cw, now) && Word::is_quota(cw) {
            return Some(Word::until_of(cw));
        }
        let w = self.topo.word(m.slot);
        (Word::blocks(w, now) && Word::is_quota(w)).then(|| Word::until_of(w))
    }
}
