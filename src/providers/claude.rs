//! `claude-api-key`: Anthropic Messages; `x-api-key` on the default host,
//! Bearer on a custom base URL.

use super::{Auth, Call, Catalog, Dedup, Entries, Spec};
use crate::translate::format::Format;

pub(super) const SPEC: Spec = Spec {
    config_key: "claude-api-key",
    entries: Entries {
        needs_key_or_base_url: false,
        needs_key: false,
        needs_base_url: false,
        checks_base_url: true,
        dedup: Dedup::None,
        models_need_alias: false,
    },
    id: "claude",
    format: Format::Claude,
    default_base: "https://api.anthropic.com",
    catalog: Catalog::Claude,
    owned_by: "anthropic",
    model_type: "claude",
    payload_protocol: "claude",
    auth: Auth::HeaderOnDefaultHost("x-api-key"),
    always_streams: false,
    counts_tokens: true,
    anthropic_headers: true,
    user_agent: None,
};

/// `{base}/v1/messages?beta=true`, or its `count_tokens` sibling.
pub(super) fn write_path(out: &mut Vec<u8>, call: Call) {
    out.extend_from_slice(if call.count {
        &b"/v1/messages/count_tokens?beta=true"[..]
    } else {
        b"/v1/messages?beta=true"
    });
}
