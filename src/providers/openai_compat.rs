//! `openai-compatibility`: any OpenAI Chat Completions server, Bearer auth.

use super::{Auth, Catalog, Entries, Spec};
use crate::translate::format::Format;

pub(super) const SPEC: Spec = Spec {
    config_key: "openai-compatibility",
    entries: Entries::NONE,
    id: "openai-compatibility",
    format: Format::OpenAiChat,
    default_base: "",
    catalog: Catalog::None,
    owned_by: "",
    model_type: "openai-compatibility",
    payload_protocol: "openai",
    auth: Auth::Bearer,
    always_streams: false,
    counts_tokens: false,
    anthropic_headers: false,
    user_agent: Some(b"cli-proxy-openai-compat"),
};

/// `{base}/chat/completions`.
pub(super) fn write_path(out: &mut Vec<u8>) {
    out.extend_from_slice(b"/chat/completions");
}
