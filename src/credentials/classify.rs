//! Classification of an upstream failure: is it the request's fault (stop, no
//! cooldown), which cooldown applies, and what retry hint the provider gave.
//!
//! Rules follow CLIProxyAPI `internal/clienterror/client_error.go`,
//! `sdk/cliproxy/auth/conductor_cooldown.go` and the executors' retry-hint
//! helpers. Everything here is pure and never panics on any input; bodies are
//! inspected only up to [`MAX_INSPECTED_BODY`] bytes.

use std::time::Duration;

use super::spec::{Rule, RuleAction};
use super::state::Failure;

/// Error bodies are inspected up to this many bytes. Provider error bodies are
/// a few hundred bytes; an HTML challenge page can be ~100 KiB but its markers
/// appear early. Bounding it keeps the failure path cheap whatever the upstream sends.
pub const MAX_INSPECTED_BODY: usize = 64 * 1024;

/// Retry hints larger than this are treated as garbage (not as a hint): one
/// year. The effective quota deadline is clamped much lower by the ceiling anyway.
const MAX_HINT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Error `code` values that mark the request itself as invalid.
const REQUEST_FAULT_CODES: [&str; 9] = [
    "cyber_policy",
    "context_length_exceeded",
    "message_too_big",
    "string_above_max_length",
    "invalid_prompt",
    "invalid_value",
    "unsupported_value",
    "invalid_request_error",
    "previous_response_not_found",
];

/// Error `type` values that mark the request itself as invalid.
const REQUEST_FAULT_TYPES: [&str; 4] = [
    "invalid_request",
    "invalid_request_error",
    "bad_request_error",
    "invalid_prompt",
];

const MODEL_SUPPORT_PATTERNS: [&str; 10] = [
    "model_not_supported",
    "requested model is not supported",
    "requested model is unsupported",
    "requested model is unavailable",
    "model is not supported",
    "model not supported",
    "unsupported model",
    "model unavailable",
    "not available for your plan",
    "not available for your account",
];

/// Statuses after which a new retry round may start (CLIProxyAPI
/// `isCredentialRetryRoundStatus`).
pub fn is_retry_round_status(status: u16) -> bool {
    matches!(status, 403 | 408 | 429 | 500 | 502 | 503 | 504)
}

/// Client went away (nginx 499): neither a credential fault nor retryable.
pub const STATUS_CLIENT_CLOSED: u16 = 499;

/// Stands for a lease handed back unused (the credential is not in the
/// worker's snapshot yet: a reload in flight): no cooldown, and the plan
/// picks the next credential as if this one had not been offered.
pub const STATUS_NOT_ATTEMPTED: u16 = 1;

/// ASCII case-insensitive substring search; `needle` must be lowercase.
pub fn contains_ci(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    if n.is_empty() {
        return true;
    }
    if hay.len() < n.len() {
        return false;
    }
    hay.windows(n.len())
        .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| w == needle)
}

fn clip(body: &[u8]) -> &[u8] {
    &body[..body.len().min(MAX_INSPECTED_BODY)]
}

/// The OpenAI Responses 404 for a stale item reference with `store: false`
/// (CLIProxyAPI `IsItemNotPersisted`).
pub fn is_item_not_persisted(body: &[u8]) -> bool {
    let b = clip(body);
    contains_ci(b, "item with id")
        && contains_ci(b, "not found")
        && contains_ci(b, "items are not persisted when `store` is set to false")
}

pub fn is_cloudflare_challenge(body: &[u8]) -> bool {
    let b = clip(body);
    contains_ci(b, "challenge-platform")
        || contains_ci(b, "cf-mitigated")
        || contains_ci(b, "cloudflare challenge")
        || (contains_ci(b, "cloudflare") && contains_ci(b, "<html"))
}

pub fn is_invalid_grant(status: u16, body: &[u8]) -> bool {
    (status == 400 || status == 401) && contains_ci(clip(body), "invalid_grant")
}

pub fn is_model_support_error(status: u16, body: &[u8]) -> bool {
    if status != 400 && status != 422 {
        return false;
    }
    let b = clip(body);
    MODEL_SUPPORT_PATTERNS.iter().any(|p| contains_ci(b, p))
}

/// Codex "model at capacity" errors are rate limits whatever their status (v6.9 #9).
pub fn is_capacity_error(body: &[u8]) -> bool {
    let b = clip(body);
    contains_ci(b, "selected model is at capacity")
        || contains_ci(b, "model is at capacity. please try a different model")
}

/// Parsed JSON error body, only when the body is a JSON object.
fn json_body(body: &[u8]) -> Option<serde_json::Value> {
    let b = clip(body);
    let first = b.iter().find(|c| !c.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    serde_json::from_slice(b).ok()
}

fn str_at<'v>(v: &'v serde_json::Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str()
}

const CODE_PATHS: [&[&str]; 4] = [
    &["error", "code"],
    &["code"],
    &["response", "error", "code"],
    &["body", "error", "code"],
];
const TYPE_PATHS: [&[&str]; 4] = [
    &["error", "type"],
    &["type"],
    &["response", "error", "type"],
    &["body", "error", "type"],
];

fn has_value_in(v: &serde_json::Value, paths: &[&[&str]; 4], set: &[&str]) -> bool {
    paths.iter().any(|p| {
        str_at(v, p)
            .map(|s| {
                let s = s.trim().to_ascii_lowercase();
                set.contains(&s.as_str())
            })
            .unwrap_or(false)
    })
}

/// True when the failure is caused by the request and must neither cool the
/// credential nor rotate to another one (CLIProxyAPI `isRequestInvalidError`).
pub fn is_request_invalid(status: u16, body: &[u8]) -> bool {
    if is_cloudflare_challenge(body)
        || is_invalid_grant(status, body)
        || is_model_support_error(status, body)
    {
        return false;
    }
    if status == 402 || status == 429 {
        return false;
    }
    let json = json_body(body);
    if status == 401 {
        if let Some(v) = &json {
            if has_value_in(v, &TYPE_PATHS, &["authentication_error"]) {
                return false;
            }
        }
    }
    if let Some(v) = &json {
        if has_value_in(v, &CODE_PATHS, &REQUEST_FAULT_CODES)
            || has_value_in(v, &TYPE_PATHS, &REQUEST_FAULT_TYPES)
        {
            return true;
        }
    }
    if is_item_not_persisted(body) {
        return true;
    }
    matches!(status, 400 | 409 | 413 | 422)
}

/// Result of classifying one failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    /// Cooldown effect.
    pub failure: Failure,
    /// Stop the retry loop and return the upstream error unchanged.
    pub stop: bool,
    /// A `*-and-cooldown` rule forces a cooldown.
    pub force_cooldown: bool,
    /// Status as seen by the retry-round logic (capacity errors become 429).
    pub effective_status: u16,
}

fn rule_matches(rule: &Rule, status: u16, body: &[u8]) -> bool {
    if rule.status == 0 || rule.status != status {
        return false;
    }
    if rule.matches.is_empty() && rule.match_regexr.is_empty() {
        return false;
    }
    let b = clip(body);
    if rule
        .matches
        .iter()
        .any(|m| !m.is_empty() && contains(b, m.as_bytes()))
    {
        return true;
    }
    // Literal-only regex support: a pattern without metacharacters is a substring.
    rule.match_regexr.iter().any(|p| {
        !p.is_empty()
            && !p.bytes().any(|c| b"\\^$.|?*+()[]{}".contains(&c))
            && contains(b, p.as_bytes())
    })
}

/// First matching `request-scoped-errors` rule action.
pub fn match_rule(rules: &[Rule], status: u16, body: &[u8]) -> Option<RuleAction> {
    rules
        .iter()
        .find(|r| rule_matches(r, status, body))
        .map(|r| r.action)
}

/// Classifies a failed attempt (`status` not 2xx).
pub fn classify(status: u16, body: &[u8], rules: &[Rule]) -> Classified {
    let effective_status = if status != 429 && is_capacity_error(body) {
        429
    } else {
        status
    };
    if status == STATUS_NOT_ATTEMPTED {
        return Classified {
            failure: Failure::Skip,
            stop: false,
            force_cooldown: false,
            effective_status: status,
        };
    }
    if status == STATUS_CLIENT_CLOSED {
        return Classified {
            failure: Failure::Skip,
            stop: true,
            force_cooldown: false,
            effective_status,
        };
    }
    let rule = match_rule(rules, status, body);
    let base = base_failure(effective_status, body);
    match rule {
        Some(action) => Classified {
            failure: if action.forces_cooldown() {
                match base {
                    Failure::Skip => Failure::Status(effective_status),
                    other => other,
                }
            } else {
                Failure::Skip
            },
            stop: action.stops(),
            force_cooldown: action.forces_cooldown(),
            effective_status,
        },
        None => {
            let invalid = effective_status == status && is_request_invalid(status, body);
            Classified {
                failure: if invalid { Failure::Skip } else { base },
                stop: invalid,
                force_cooldown: false,
                effective_status,
            }
        }
    }
}

fn base_failure(status: u16, body: &[u8]) -> Failure {
    if is_model_support_error(status, body) {
        Failure::ModelNotSupported
    } else if is_cloudflare_challenge(body) {
        Failure::Cloudflare(status)
    } else if is_invalid_grant(status, body) {
        Failure::InvalidGrant
    } else {
        Failure::Status(status)
    }
}

// ---------------------------------------------------------------- retry hints

/// Provider retry hint for a 429: `Retry-After` header (delta-seconds or
/// HTTP-date), Codex `error.resets_at` / `error.resets_in_seconds` (only for
/// `usage_limit_reached`), Google `RetryInfo.retryDelay`,
/// `ErrorInfo.metadata.quotaResetDelay`, or "after Ns" in `error.message`.
/// `now_unix_secs` is the wall clock used for absolute dates.
pub fn retry_hint(retry_after: Option<&str>, body: &[u8], now_unix_secs: u64) -> Option<Duration> {
    if let Some(h) = retry_after.and_then(|v| parse_retry_after(v, now_unix_secs)) {
        return Some(h);
    }
    let v = json_body(body)?;
    codex_hint(&v, now_unix_secs).or_else(|| google_hint(&v))
}

fn codex_hint(v: &serde_json::Value, now: u64) -> Option<Duration> {
    let err = v.get("error")?;
    if err.get("type")?.as_str()?.trim() != "usage_limit_reached" {
        return None;
    }
    if let Some(at) = err.get("resets_at").and_then(|x| x.as_i64()) {
        if at > 0 && (at as u64) > now {
            return sane(Duration::from_secs(at as u64 - now));
        }
    }
    let secs = err.get("resets_in_seconds").and_then(|x| x.as_i64())?;
    if secs > 0 {
        return sane(Duration::from_secs(secs as u64));
    }
    None
}

fn google_hint(v: &serde_json::Value) -> Option<Duration> {
    if let Some(details) = v
        .get("error")
        .and_then(|e| e.get("details"))
        .and_then(|d| d.as_array())
    {
        for d in details {
            if d.get("@type").and_then(|t| t.as_str())
                == Some("type.googleapis.com/google.rpc.RetryInfo")
            {
                if let Some(delay) = d.get("retryDelay").and_then(|x| x.as_str()) {
                    if !delay.is_empty() {
                        // An unparsable RetryInfo ends the search, as upstream.
                        return parse_go_duration(delay).and_then(sane);
                    }
                }
            }
        }
        for d in details {
            if d.get("@type").and_then(|t| t.as_str())
                == Some("type.googleapis.com/google.rpc.ErrorInfo")
            {
                if let Some(delay) = d
                    .get("metadata")
                    .and_then(|m| m.get("quotaResetDelay"))
                    .and_then(|x| x.as_str())
                {
                    if let Some(dur) = parse_go_duration(delay) {
                        return sane(dur);
                    }
                }
            }
        }
    }
    let msg = v.get("error")?.get("message")?.as_str()?;
    after_in_message(msg)
}

fn sane(d: Duration) -> Option<Duration> {
    (d <= MAX_HINT).then_some(d)
}

/// "... after 30s." / "... after 1h2m3s" in a Google error message.
fn after_in_message(msg: &str) -> Option<Duration> {
    let lower = msg.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(pos) = rest.find("after") {
        let tail = &rest[pos + 5..];
        let trimmed = tail.trim_start();
        if trimmed.len() < tail.len() {
            let token: &str = trimmed
                .split(|c: char| !(c.is_ascii_digit() || c == 'h' || c == 'm' || c == 's'))
                .next()
                .unwrap_or("");
            if let Some(d) = parse_go_duration(token) {
                if !d.is_zero() || token == "0s" {
                    return sane(d);
                }
            }
        }
        rest = tail;
    }
    None
}

/// Parses a Go `time.ParseDuration` string (units h, m, s, ms, us, µs, ns,
/// decimals allowed; no sign). Returns `None` on any error.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if !total.is_finite() || !(0.0..=1e12).contains(&total) {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

/// Parses a `Retry-After` value: delta-seconds (decimals accepted, like
/// upstream) or an HTTP-date (IMF-fixdate, RFC 850, asctime). A date in the
/// past or a non-positive number gives `None`.
pub fn parse_retry_after(raw: &str, now_unix_secs: u64) -> Option<Duration> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if raw.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let secs: f64 = raw.parse().ok()?;
        if secs.is_nan() || secs <= 0.0 || secs > MAX_HINT.as_secs_f64() {
            return None;
        }
        return Some(Duration::from_secs_f64(secs));
    }
    let at = parse_http_date(raw)?;
    if at > now_unix_secs {
        sane(Duration::from_secs(at - now_unix_secs))
    } else {
        None
    }
}

fn month_index(m: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = m.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|x| *x == lower)
        .map(|i| i as u32 + 1)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn hms(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.split(':');
    let h: u32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let sec: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some((h, m, sec))
}

/// Parses an HTTP-date into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_ascii_whitespace().collect();
    let (y, mo, d, time) = match parts.as_slice() {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        [wd, day, mon, year, time, "GMT"] if wd.ends_with(',') => (
            year.parse::<i64>().ok()?,
            month_index(mon)?,
            day.parse::<u32>().ok()?,
            *time,
        ),
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        [wd, date, time, "GMT"] if wd.ends_with(',') => {
            let mut it = date.split('-');
            let day: u32 = it.next()?.parse().ok()?;
            let mon = month_index(it.next()?)?;
            let yy: i64 = it.next()?.parse().ok()?;
            let year = if yy < 70 {
                2000 + yy
            } else if yy < 100 {
                1900 + yy
            } else {
                yy
            };
            (year, mon, day, *time)
        }
        // asctime: Sun Nov  6 08:49:37 1994
        [_wd, mon, day, time, year] => (
            year.parse::<i64>().ok()?,
            month_index(mon)?,
            day.parse::<u32>().ok()?,
            *time,
        ),
        _ => return None,
    };
    if !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    let (h, mi, se) = hms(time)?;
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(se);
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_in_three_formats() {
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 example).
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(parse_http_date("garbage"), None);
    }

    #[test]
    fn retry_after_seconds_and_date() {
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after(" 1.5 ", 0),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("0", 0), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", 784_111_777),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_800),
            None
        );
        assert_eq!(parse_retry_after("-5", 0), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(
            parse_go_duration("166h27m18s"),
            Some(Duration::from_secs(599_238))
        );
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration("s"), None);
    }

    #[test]
    fn google_and_codex_hints() {
        let google = br#"{"error":{"code":429,"message":"Resource exhausted","details":[
            {"@type":"type.googleapis.com/google.rpc.ErrorInfo","metadata":{"quotaResetDelay":"90s"}},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#;
        assert_eq!(retry_hint(None, google, 0), Some(Duration::from_secs(37)));
        let reset_only = br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","metadata":{"quotaResetDelay":"1h0m0s"}}]}}"#;
        assert_eq!(
            retry_hint(None, reset_only, 0),
            Some(Duration::from_secs(3600))
        );
        let msg = br#"{"error":{"message":"Your quota will reset after 45s."}}"#;
        assert_eq!(retry_hint(None, msg, 0), Some(Duration::from_secs(45)));
        let human = br#"{"error":{"message":"Your quota will reset after 2h9m16s."}}"#;
        assert_eq!(retry_hint(None, human, 0), Some(Duration::from_secs(7756)));
        let codex = br#"{"error":{"type":"usage_limit_reached","resets_at":1000600,"resets_in_seconds":5}}"#;
        assert_eq!(
            retry_hint(None, codex, 1_000_000),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            retry_hint(None, codex, 2_000_000),
            Some(Duration::from_secs(5))
        );
        let not_usage = br#"{"error":{"type":"rate_limit_error","resets_in_seconds":5}}"#;
        assert_eq!(retry_hint(None, not_usage, 0), None);
        // Header wins over body.
        assert_eq!(
            retry_hint(Some("7"), codex, 0),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn request_invalid_set() {
        assert!(is_request_invalid(400, b"bad"));
        assert!(is_request_invalid(422, b""));
        assert!(is_request_invalid(409, b""));
        assert!(is_request_invalid(413, b""));
        assert!(is_request_invalid(
            500,
            br#"{"error":{"code":"context_length_exceeded"}}"#
        ));
        assert!(is_request_invalid(
            404,
            b"Item with id 'rs_1' not found. Items are not persisted when `store` is set to false."
        ));
        assert!(!is_request_invalid(404, b"model not found"));
        assert!(!is_request_invalid(
            429,
            br#"{"error":{"type":"invalid_request_error"}}"#
        ));
        assert!(!is_request_invalid(
            402,
            br#"{"error":{"type":"invalid_request_error"}}"#
        ));
        assert!(!is_request_invalid(
            401,
            br#"{"error":{"type":"authentication_error","code":"invalid_request_error"}}"#
        ));
        assert!(!is_request_invalid(400, b"error: invalid_grant"));
        assert!(!is_request_invalid(
            400,
            b"The requested model is not supported"
        ));
        assert!(!is_request_invalid(403, b"<html>cloudflare</html>"));
        assert!(!is_request_invalid(500, b"oops"));
    }

    #[test]
    fn contains_ci_edge_cases() {
        assert!(contains_ci(b"ABC", "abc"));
        assert!(!contains_ci(b"AB", "abc"));
        assert!(contains_ci(b"", ""));
    }
}
