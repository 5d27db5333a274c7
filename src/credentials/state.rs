//! Cooldown state of one (credential, model) pair packed into one `u64`, and
//! the pure functions that compute the next state from a classified failure.
//!
//! Layout (bit 0 = least significant):
//!
//! | bits   | field                                                      |
//! |--------|------------------------------------------------------------|
//! | 0..48  | `until`: ms since the scheduler epoch; blocked while > now |
//! | 48..58 | last failure HTTP status (0 = none / transport error)      |
//! | 58     | quota flag: the block is a quota cooldown (429 family)     |
//! | 59..64 | exponential backoff level for 429 without hint             |
//!
//! A word of 0 is a clean state. A word whose `until` has passed is not
//! blocking but keeps its backoff level until a success clears it, exactly like
//! CLIProxyAPI's `ModelState.Quota.BackoffLevel`.

use std::time::Duration;

const UNTIL_BITS: u32 = 48;
const UNTIL_MASK: u64 = (1 << UNTIL_BITS) - 1;
const STATUS_SHIFT: u32 = 48;
const STATUS_MASK: u64 = 0x3FF;
const QUOTA_BIT: u64 = 1 << 58;
const LEVEL_SHIFT: u32 = 59;
const LEVEL_MASK: u64 = 0x1F;

/// Base of the 429 exponential backoff (CLIProxyAPI `quotaBackoffBase`).
pub const QUOTA_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Cap of the 429 exponential backoff (CLIProxyAPI `quotaBackoffMax`).
pub const QUOTA_BACKOFF_MAX: Duration = Duration::from_secs(30 * 60);
/// Legacy transient cooldown for 408/5xx (CLIProxyAPI `transientErrorCooldown`);
/// also the forced minimum of `*-and-cooldown` rules.
pub const TRANSIENT_ERROR_COOLDOWN: Duration = Duration::from_secs(60);
/// Cooldown of 401/402/403 and `invalid_grant` (CLIProxyAPI: 30 min).
pub const AUTH_FAILURE_COOLDOWN: Duration = Duration::from_secs(30 * 60);
/// Cooldown of 404 and "model not supported" (CLIProxyAPI: 12 h).
pub const NOT_FOUND_COOLDOWN: Duration = Duration::from_secs(12 * 3600);
/// Minimum cooldown of a Cloudflare challenge (CLIProxyAPI: 10 s).
pub const CLOUDFLARE_MIN_COOLDOWN: Duration = Duration::from_secs(10);

/// Decoded view of a state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Word {
    pub until: u64,
    pub status: u16,
    pub quota: bool,
    pub level: u8,
}

impl Word {
    pub fn decode(raw: u64) -> Word {
        Word {
            until: raw & UNTIL_MASK,
            status: ((raw >> STATUS_SHIFT) & STATUS_MASK) as u16,
            quota: raw & QUOTA_BIT != 0,
            level: ((raw >> LEVEL_SHIFT) & LEVEL_MASK) as u8,
        }
    }

    pub fn encode(self) -> u64 {
        let status = if u64::from(self.status) > STATUS_MASK {
            0
        } else {
            u64::from(self.status)
        };
        (self.until.min(UNTIL_MASK))
            | (status << STATUS_SHIFT)
            | if self.quota { QUOTA_BIT } else { 0 }
            | ((u64::from(self.level) & LEVEL_MASK) << LEVEL_SHIFT)
    }

    /// True while the deadline is in the future.
    #[inline]
    pub fn blocks(raw: u64, now_ms: u64) -> bool {
        (raw & UNTIL_MASK) > now_ms
    }

    #[inline]
    pub fn until_of(raw: u64) -> u64 {
        raw & UNTIL_MASK
    }

    #[inline]
    pub fn is_quota(raw: u64) -> bool {
        raw & QUOTA_BIT != 0
    }
}

/// What a failure means for cooldown, after classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Request fault, request-scoped error, client cancellation: no state change.
    Skip,
    /// 400/422 "model not supported / not available for your plan": 12 h.
    ModelNotSupported,
    /// Cloudflare challenge page (with its status): backoff with a 10 s minimum.
    Cloudflare(u16),
    /// `invalid_grant` on 400/401: 30 min.
    InvalidGrant,
    /// Any other status (0 = transport error without a response).
    Status(u16),
}

/// Cooling parameters resolved for one credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoolParams {
    pub disabled: bool,
    /// Transient cooldown in ms; `None` = transient cooldown disabled.
    pub transient_ms: Option<u64>,
    pub ceiling_ms: u64,
    pub hint_floor_ms: u64,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Next (cooldown, level) of the 429 ladder (CLIProxyAPI `nextQuotaCooldown`).
pub fn next_quota_cooldown(prev_level: u8) -> (Duration, u8) {
    let shift = u32::from(prev_level.min(31));
    let cooldown = QUOTA_BACKOFF_BASE
        .checked_mul(1u32.checked_shl(shift).unwrap_or(u32::MAX))
        .unwrap_or(QUOTA_BACKOFF_MAX);
    if cooldown >= QUOTA_BACKOFF_MAX {
        return (QUOTA_BACKOFF_MAX, prev_level);
    }
    (cooldown, prev_level + 1)
}

/// Computes the next state word after a failure at `now_ms`.
///
/// `hint` is the provider retry hint for a 429 (already parsed), `force` is set
/// by `*-and-cooldown` rules: it overrides disabled cooling and guarantees at
/// least [`TRANSIENT_ERROR_COOLDOWN`].
pub fn after_failure(
    prev_raw: u64,
    failure: Failure,
    hint: Option<Duration>,
    force: bool,
    now_ms: u64,
    params: &CoolParams,
) -> u64 {
    let prev = Word::decode(prev_raw);
    let disabled = params.disabled && !force;
    let plus = |d: Duration| now_ms.saturating_add(ms(d));
    let mut next = Word {
        until: 0,
        status: prev.status,
        quota: false,
        level: prev.level,
    };
    match failure {
        Failure::Skip => return prev_raw,
        Failure::ModelNotSupported => {
            // Upstream applies this one even with cooling disabled.
            next.until = plus(NOT_FOUND_COOLDOWN);
            next.status = 400;
        }
        Failure::Cloudflare(status) => {
            if !disabled {
                let (cooldown, level) = next_quota_cooldown(prev.level);
                next.until = plus(cooldown.max(CLOUDFLARE_MIN_COOLDOWN));
                next.level = level;
                next.quota = true;
            }
            next.status = status;
        }
        Failure::InvalidGrant => {
            next.status = 401;
            if !disabled {
                next.until = plus(AUTH_FAILURE_COOLDOWN);
            }
        }
        Failure::Status(status) => {
            next.status = status;
            match status {
                401..=403 => {
                    if !disabled {
                        next.until = plus(AUTH_FAILURE_COOLDOWN);
                    }
                }
                404 => {
                    if !disabled {
                        next.until = plus(NOT_FOUND_COOLDOWN);
                    }
                }
                429 => {
                    if !disabled {
                        let open = prev.quota && prev.until > now_ms;
                        let mut until = match hint {
                            Some(h) => plus(h.max(Duration::from_millis(params.hint_floor_ms))),
                            None if open => prev.until,
                            None => {
                                let (cooldown, level) = next_quota_cooldown(prev.level);
                                next.level = level;
                                plus(cooldown)
                            }
                        };
                        // Never shorten an open quota window...
                        if prev.quota && prev.until > until {
                            until = prev.until;
                        }
                        // ...but never beyond the ceiling either (applied to the
                        // final deadline so a stored long window cannot re-extend).
                        until = until.min(now_ms.saturating_add(params.ceiling_ms));
                        next.until = until;
                        next.quota = true;
                    }
                }
                _ => {
                    if !disabled {
                        if let Some(t) = params.transient_ms {
                            next.until = now_ms.saturating_add(t);
                        }
                    }
                }
            }
        }
    }
    if force && next.until <= now_ms {
        next.until = plus(TRANSIENT_ERROR_COOLDOWN);
    }
    next.encode()
}

/// Clamps a restored quota deadline to the ceiling (migration of old records).
pub fn clamp_restored(raw: u64, now_ms: u64, ceiling_ms: u64) -> u64 {
    let mut w = Word::decode(raw);
    if w.quota {
        w.until = w.until.min(now_ms.saturating_add(ceiling_ms));
    }
    w.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> CoolParams {
        CoolParams {
            disabled: false,
            transient_ms: Some(60_000),
            ceiling_ms: 6 * 3600 * 1000,
            hint_floor_ms: 0,
        }
    }

    #[test]
    fn word_roundtrip() {
        let w = Word {
            until: 123_456_789,
            status: 429,
            quota: true,
            level: 11,
        };
        assert_eq!(Word::decode(w.encode()), w);
        assert_eq!(Word::decode(0), Word::default());
    }

    #[test]
    fn ladder_doubles_from_one_second_and_caps_at_thirty_minutes() {
        let mut level = 0;
        let mut seen = Vec::new();
        for _ in 0..14 {
            let (d, l) = next_quota_cooldown(level);
            seen.push(d.as_secs());
            level = l;
        }
        assert_eq!(
            seen,
            vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1800, 1800, 1800]
        );
    }

    #[test]
    fn force_sets_minimum_even_when_disabled() {
        let mut p = params();
        p.disabled = true;
        let raw = after_failure(0, Failure::Status(500), None, true, 1000, &p);
        assert_eq!(Word::decode(raw).until, 61_000);
        let raw = after_failure(0, Failure::Status(500), None, false, 1000, &p);
        assert!(!Word::blocks(raw, 1000));
    }
}
