//! Go `time.ParseDuration` syntax (`"300ms"`, `"1.5h"`, `"2h45m"`), as used by
//! CLIProxyAPI for `routing.session-affinity-ttl`, `video-result-auth-cache-ttl`
//! and the Home-mode durations.

use std::time::Duration;

/// Parses a Go duration into signed nanoseconds. Accepts an optional sign, then
/// one or more `<decimal><unit>` groups (units `ns`, `us`, `µs`, `μs`, `ms`, `s`,
/// `m`, `h`), or a bare `0`.
pub fn parse_go_duration_nanos(s: &str) -> Result<i128, String> {
    let orig = s;
    let err = || format!("invalid duration {orig:?}");
    let (neg, mut s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err());
    }
    // 2^63 ns, Go's bound; also keeps the arithmetic far from i128 overflow.
    const LIMIT: f64 = 9.223_372_036_854_776e18;
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let num_len = s
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num_text = &s[..num_len];
        if num_text.is_empty() || num_text == "." || num_text.matches('.').count() > 1 {
            return Err(err());
        }
        let value: f64 = num_text.parse().map_err(|_| err())?;
        s = &s[num_len..];
        let unit_len = s
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("invalid duration {orig:?}: unknown unit {unit:?}")),
        };
        total += value * scale;
        if total >= LIMIT {
            return Err(format!("invalid duration {orig:?}: out of range"));
        }
    }
    let nanos = total.round() as i128;
    Ok(if neg { -nanos } else { nanos })
}

/// Parses a Go duration that must be positive.
pub fn parse_positive(s: &str) -> Result<Duration, String> {
    let n = parse_go_duration_nanos(s.trim())?;
    if n <= 0 {
        return Err(format!("duration {s:?} must be positive"));
    }
    let n = u64::try_from(n).map_err(|_| format!("duration {s:?} out of range"))?;
    Ok(Duration::from_nanos(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ok: &[(&str, i128)] = &[
            ("0", 0),
            ("1h", 3_600_000_000_000),
            ("30m", 1_800_000_000_000),
            ("3h", 10_800_000_000_000),
            ("250ms", 250_000_000),
            ("1.5h", 5_400_000_000_000),
            ("2h45m", 9_900_000_000_000),
            ("1h30m10s", 5_410_000_000_000),
            ("-2s", -2_000_000_000),
            ("+5us", 5_000),
            ("7µs", 7_000),
            (".5s", 500_000_000),
            ("10ns", 10),
        ];
        for (s, want) in ok {
            assert_eq!(parse_go_duration_nanos(s), Ok(*want), "{s}");
        }
        for bad in [
            "",
            "1",
            "h",
            "1x",
            "1.2.3s",
            "--1s",
            "1h 30m",
            "ms",
            "9999999999h",
        ] {
            assert!(parse_go_duration_nanos(bad).is_err(), "{bad:?} should fail");
        }
        assert!(parse_positive("0").is_err());
        assert!(parse_positive("-1s").is_err());
        assert_eq!(parse_positive(" 2s "), Ok(Duration::from_secs(2)));
    }
}
