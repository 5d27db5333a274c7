//! iFlow's head (CLIProxyAPI v6.9.25 `applyIFlowHeaders`): the API key as
//! the bearer, `User-Agent: iFlow-Cli`, a fresh `session-id` per request and
//! its signature: `x-iflow-timestamp` (Unix milliseconds) and
//! `x-iflow-signature` = hex HMAC-SHA256 keyed with the API key over
//! `<User-Agent>:<session-id>:<timestamp>`.

use super::Headers;

/// `User-Agent`, also the first part of the signed text.
pub const USER_AGENT: &str = "iFlow-Cli";

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The `x-iflow-signature` value for a request (empty without a key, when
/// CLIProxyAPI sends none).
pub fn signature(api_key: &str, session_id: &str, timestamp_ms: u64) -> String {
    if api_key.is_empty() {
        return String::new();
    }
    let text = format!("{USER_AGENT}:{session_id}:{timestamp_ms}");
    let mut out = Vec::with_capacity(64);
    super::push_hex(&mut out, &hmac_sha256(api_key.as_bytes(), text.as_bytes()));
    String::from_utf8(out).unwrap_or_default()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Writes the iFlow headers for API key `api_key` (the bearer is written
/// by the caller).
pub(crate) fn write_head(api_key: &str, h: &mut Headers<'_>) {
    let session = format!("session-{}", super::uuid_v4());
    let ts = now_ms();
    h.put("User-Agent", USER_AGENT.as_bytes());
    h.put("session-id", session.as_bytes());
    h.put("x-iflow-timestamp", ts.to_string().as_bytes());
    let sig = signature(api_key, &session, ts);
    if !sig.is_empty() {
        h.put("x-iflow-signature", sig.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signature_text_and_empty_key() {
        let want = hex(&hmac_sha256(b"sk-1", b"iFlow-Cli:session-x:1700000000000"));
        assert_eq!(signature("sk-1", "session-x", 1_700_000_000_000), want);
        assert_eq!(signature("", "session-x", 1), "");
    }
}
