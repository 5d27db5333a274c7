//! Qwen Code's head (CLIProxyAPI v6.9.25 `applyQwenHeaders`): the Qwen
//! Code user agent, DashScope's OAuth markers and the Stainless (OpenAI
//! Node SDK) fingerprint. CLIProxyAPI also sends `Accept-Encoding: gzip,
//! deflate` and `Connection: keep-alive`; this relay forwards bodies as
//! sent and manages its connections itself, so neither is written.

use super::Headers;

/// `User-Agent` and `X-Dashscope-Useragent`.
pub const USER_AGENT: &str = "QwenCode/0.14.2 (darwin; arm64)";

/// Writes the Qwen headers (the bearer is written by the caller).
pub(crate) fn write_head(h: &mut Headers<'_>) {
    h.put("User-Agent", USER_AGENT.as_bytes());
    h.put("X-Dashscope-Authtype", b"qwen-oauth");
    h.put("X-Dashscope-Cachecontrol", b"enable");
    h.put("X-Dashscope-Useragent", USER_AGENT.as_bytes());
    h.put("X-Stainless-Runtime-Version", b"v22.17.0");
    h.put("X-Stainless-Lang", b"js");
    h.put("X-Stainless-Os", b"MacOS");
    h.put("X-Stainless-Arch", b"arm64");
    h.put("X-Stainless-Runtime", b"node");
    h.put("X-Stainless-Retry-Count", b"0");
    h.put("X-Stainless-Package-Version", b"5.11.0");
    h.put("Accept-Language", b"*");
    h.put("Sec-Fetch-Mode", b"cors");
}
