//! The heads of the OpenAI-Chat account kinds (Kimi, Qwen, iFlow): exact
//! header sets and values, the iFlow signature checked against its oracle.

use super::tests::{account, head_of, SEND};
use crate::accounts::chat_kinds::Extra;
use crate::accounts::AccountKind;
use crate::secret::Secret;
use crate::translate::format::Format;

fn names(h: &[(String, String)]) -> Vec<&str> {
    h.iter().map(|(n, _)| n.as_str()).collect()
}

fn get<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

#[test]
fn kimi_head_names_the_device() {
    let mut a = account(AccountKind::Kimi, "");
    a.chat = Extra {
        device_id: "dev-123".into(),
        ..Extra::default()
    };
    let h = head_of(&a, &[], b"{}", Format::OpenAiChat, "k2", SEND, &[]);
    assert_eq!(
        names(&h),
        [
            "Authorization",
            "User-Agent",
            "X-Msh-Platform",
            "X-Msh-Version",
            "X-Msh-Device-Name",
            "X-Msh-Device-Model",
            "X-Msh-Device-Id"
        ]
    );
    assert_eq!(get(&h, "authorization"), "Bearer tok-abc");
    assert_eq!(get(&h, "user-agent"), "KimiCLI/1.10.6");
    assert_eq!(get(&h, "x-msh-platform"), "kimi_cli");
    assert_eq!(get(&h, "x-msh-version"), "1.10.6");
    assert_eq!(get(&h, "x-msh-device-id"), "dev-123");
    assert!(!get(&h, "x-msh-device-name").is_empty());
    let (os, arch) = super::kimi::go_platform();
    assert_eq!(get(&h, "x-msh-device-model"), format!("{os} {arch}"));
    // Without a device id in the file: kimi-cli's, else CLIProxyAPI's fallback.
    let b = account(AccountKind::Kimi, "");
    let h = head_of(&b, &[], b"{}", Format::OpenAiChat, "k2", SEND, &[]);
    assert_eq!(get(&h, "x-msh-device-id"), super::kimi::default_device_id());
    assert!(!get(&h, "x-msh-device-id").is_empty());
    // A header the provider's own `headers` set is left to it.
    let h = head_of(&a, &[], b"{}", Format::Claude, "k2", SEND, &["User-Agent"]);
    assert!(!names(&h).contains(&"User-Agent"));
}

#[test]
fn qwen_head_carries_dashscope_and_stainless() {
    let a = account(AccountKind::Qwen, "");
    let h = head_of(&a, &[], b"{}", Format::OpenAiChat, "coder-model", SEND, &[]);
    let want = [
        ("Authorization", "Bearer tok-abc"),
        ("User-Agent", "QwenCode/0.14.2 (darwin; arm64)"),
        ("X-Dashscope-Authtype", "qwen-oauth"),
        ("X-Dashscope-Cachecontrol", "enable"),
        ("X-Dashscope-Useragent", "QwenCode/0.14.2 (darwin; arm64)"),
        ("X-Stainless-Runtime-Version", "v22.17.0"),
        ("X-Stainless-Lang", "js"),
        ("X-Stainless-Os", "MacOS"),
        ("X-Stainless-Arch", "arm64"),
        ("X-Stainless-Runtime", "node"),
        ("X-Stainless-Retry-Count", "0"),
        ("X-Stainless-Package-Version", "5.11.0"),
        ("Accept-Language", "*"),
        ("Sec-Fetch-Mode", "cors"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(h, want);
}

#[test]
fn iflow_head_is_signed_with_the_api_key() {
    let a = account(AccountKind::IFlow, "");
    a.token.set(Secret::new("sk-iflow-1"), None);
    let h = head_of(&a, &[], b"{}", Format::Claude, "glm-4.6", SEND, &[]);
    assert_eq!(
        names(&h),
        [
            "Authorization",
            "User-Agent",
            "session-id",
            "x-iflow-timestamp",
            "x-iflow-signature"
        ]
    );
    assert_eq!(get(&h, "authorization"), "Bearer sk-iflow-1");
    assert_eq!(get(&h, "user-agent"), "iFlow-Cli");
    let session = get(&h, "session-id");
    let id = session.strip_prefix("session-").expect("session- prefix");
    assert!(super::is_uuid(id.as_bytes()), "{session}");
    let ts: u64 = get(&h, "x-iflow-timestamp").parse().expect("millis");
    assert!(ts > 1_600_000_000_000, "milliseconds: {ts}");
    let text = format!("iFlow-Cli:{session}:{ts}");
    let mac = super::iflow::hmac_sha256(b"sk-iflow-1", text.as_bytes());
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(get(&h, "x-iflow-signature"), hex);
    // Each request gets its own session.
    let h2 = head_of(&a, &[], b"{}", Format::Claude, "glm-4.6", SEND, &[]);
    assert_ne!(get(&h2, "session-id"), session);
}
