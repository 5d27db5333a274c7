//! `codex-api-key`: OpenAI Responses at `{base}/responses`, Bearer, always
//! streamed (the answer to a non-stream client is aggregated).

use super::{Auth, Catalog, Dedup, Entries, Spec};
use crate::translate::format::Format;

pub(super) const SPEC: Spec = Spec {
    config_key: "codex-api-key",
    entries: Entries {
        needs_key_or_base_url: false,
        needs_key: false,
        needs_base_url: true,
        checks_base_url: true,
        dedup: Dedup::None,
        models_need_alias: false,
    },
    id: "codex",
    format: Format::Codex,
    default_base: "",
    catalog: Catalog::Codex,
    owned_by: "openai",
    model_type: "openai",
    payload_protocol: "codex",
    auth: Auth::Bearer,
    always_streams: true,
    counts_tokens: false,
    anthropic_headers: false,
    user_agent: None,
};

/// `{base}/responses`.
pub(super) fn write_path(out: &mut Vec<u8>) {
    out.extend_from_slice(b"/responses");
}
