//! Model list bodies in the three client formats, all from one [`Registry`].
//!
//! Every registered id is listed once, with the info of its first target, in
//! registration order (the Anthropic list is sorted, see
//! [`Registry::write_anthropic_list`]). Field sets follow CLIProxyAPI:
//! - OpenAI `GET /v1/models`: `id`, `object`, `created` (only when known),
//!   `owned_by`.
//! - Anthropic `GET /v1/models`: `id`, `object`, `owned_by`, `created_at`
//!   (RFC 3339, only when known), `type: "model"`, `display_name`,
//!   `max_input_tokens` (default [`CLAUDE_LIST_MAX_INPUT`]), `max_tokens`
//!   (default [`CLAUDE_LIST_MAX_OUTPUT`]), plus `has_more`, `first_id`,
//!   `last_id`.
//! - Gemini `GET /v1beta/models` and `GET /v1beta/models/{id}`: `name`
//!   (`models/<id>`), then `version`, `displayName`, `description`,
//!   `inputTokenLimit`, `outputTokenLimit`, `supportedGenerationMethods`,
//!   `supportedInputModalities`, `supportedOutputModalities` when set. The
//!   list fills in `displayName` and `description` (the id) and
//!   `supportedGenerationMethods` (`["generateContent"]`) when missing; the
//!   single-model body does not.
//!
//! [`wants_anthropic_list`] picks between the two `GET /v1/models` bodies.
//!
//! Writers append to the given buffer and never fail (serialising these
//! shapes into a `Vec<u8>` cannot fail).

use serde::Serialize;

use super::resolve::cloak_id;
use super::{ModelInfo, Registry};

/// `max_input_tokens` listed for a model without a context length
/// (CLIProxyAPI's `DefaultClaudeMaxInputTokens`).
pub const CLAUDE_LIST_MAX_INPUT: u64 = 200_000;
/// `max_tokens` listed for a model without a completion limit
/// (CLIProxyAPI's `DefaultClaudeMaxOutputTokens`).
pub const CLAUDE_LIST_MAX_OUTPUT: u64 = 64_000;

/// Generation methods the Gemini list gives a model that names none.
const GEMINI_DEFAULT_METHODS: &[&str] = &["generateContent"];

#[derive(Serialize)]
struct OpenAiModel<'a> {
    id: &'a str,
    object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<i64>,
    owned_by: &'a str,
}

#[derive(Serialize)]
struct OpenAiList<'a> {
    object: &'static str,
    data: Vec<OpenAiModel<'a>>,
}

#[derive(Serialize)]
struct AnthropicModel<'a> {
    id: String,
    object: &'static str,
    owned_by: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    display_name: &'a str,
    max_input_tokens: u64,
    max_tokens: u64,
}

#[derive(Serialize)]
struct AnthropicList<'a> {
    data: Vec<AnthropicModel<'a>>,
    has_more: bool,
    first_id: String,
    last_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeminiModel<'a> {
    name: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    display_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    input_token_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    output_token_limit: u64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    supported_generation_methods: Vec<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    supported_input_modalities: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    supported_output_modalities: &'a [String],
}

#[derive(Serialize)]
struct GeminiList<'a> {
    models: Vec<GeminiModel<'a>>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Appends `value` as JSON. Serialising these plain structs into a `Vec`
/// cannot fail; should it ever, `null` is written so the body stays JSON.
fn write_json<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

fn gemini_model(m: &ModelInfo, fill_defaults: bool) -> GeminiModel<'_> {
    let fill = |s: &str| -> bool { fill_defaults && s.is_empty() };
    let display_name = if fill(&m.display_name) {
        m.id.as_str()
    } else {
        m.display_name.as_str()
    };
    let description = if fill(&m.description) {
        m.id.as_str()
    } else {
        m.description.as_str()
    };
    let mut methods: Vec<&str> = m
        .supported_generation_methods
        .iter()
        .map(String::as_str)
        .collect();
    if fill_defaults && methods.is_empty() {
        methods.extend_from_slice(GEMINI_DEFAULT_METHODS);
    }
    GeminiModel {
        name: format!("models/{}", m.id),
        version: &m.version,
        display_name,
        description,
        input_token_limit: m.input_token_limit,
        output_token_limit: m.output_token_limit,
        supported_generation_methods: methods,
        supported_input_modalities: &m.supported_input_modalities,
        supported_output_modalities: &m.supported_output_modalities,
    }
}

impl Registry {
    /// OpenAI `GET /v1/models` body.
    pub fn write_openai_list(&self, out: &mut Vec<u8>) {
        let data = self
            .listed()
            .map(|m| OpenAiModel {
                id: &m.id,
                object: "model",
                created: (m.created > 0).then_some(m.created),
                owned_by: &m.owned_by,
            })
            .collect();
        write_json(
            &OpenAiList {
                object: "list",
                data,
            },
            out,
        );
    }

    /// Anthropic `GET /v1/models` body, sorted by `display_name` then (listed)
    /// `id`. Unless `disable_cloaking` (config
    /// `claude-code.disable-cloaking-model-list`), ids not starting with
    /// `claude-` are cloaked with [`cloak_id`]; `display_name` falls back to
    /// the uncloaked id.
    pub fn write_anthropic_list(&self, disable_cloaking: bool, out: &mut Vec<u8>) {
        let mut data: Vec<AnthropicModel<'_>> = self
            .listed()
            .map(|m| AnthropicModel {
                id: if disable_cloaking {
                    m.id.clone()
                } else {
                    cloak_id(&m.id).into_owned()
                },
                object: "model",
                owned_by: &m.owned_by,
                created_at: (m.created > 0).then(|| rfc3339_utc(m.created)),
                kind: "model",
                display_name: if m.display_name.is_empty() {
                    &m.id
                } else {
                    &m.display_name
                },
                max_input_tokens: match m.context_length {
                    0 => CLAUDE_LIST_MAX_INPUT,
                    n => n,
                },
                max_tokens: match m.max_completion_tokens {
                    0 => CLAUDE_LIST_MAX_OUTPUT,
                    n => n,
                },
            })
            .collect();
        data.sort_by(|a, b| {
            a.display_name
                .cmp(b.display_name)
                .then_with(|| a.id.cmp(&b.id))
        });
        let first_id = data.first().map(|m| m.id.clone()).unwrap_or_default();
        let last_id = data.last().map(|m| m.id.clone()).unwrap_or_default();
        write_json(
            &AnthropicList {
                data,
                has_more: false,
                first_id,
                last_id,
            },
            out,
        );
    }

    /// Gemini `GET /v1beta/models` body.
    pub fn write_gemini_list(&self, out: &mut Vec<u8>) {
        let models = self.listed().map(|m| gemini_model(m, true)).collect();
        write_json(&GeminiList { models }, out);
    }

    /// Gemini `GET /v1beta/models/{name}` body for `name` (`<id>` or
    /// `models/<id>`). Returns false, writing nothing, when no such model is
    /// registered (the caller answers 404).
    pub fn write_gemini_model(&self, name: &str, out: &mut Vec<u8>) -> bool {
        let name = name.strip_prefix('/').unwrap_or(name);
        let info = self
            .info(name)
            .or_else(|| name.strip_prefix("models/").and_then(|n| self.info(n)));
        match info {
            Some(m) => {
                write_json(&gemini_model(m, false), out);
                true
            }
            None => false,
        }
    }
}

/// Unix seconds as RFC 3339 UTC (`2025-10-01T00:00:00Z`), as Go's
/// `time.RFC3339` formats a UTC time. Years past 9999 print with more digits.
pub fn rfc3339_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 -> proleptic Gregorian (year, month, day)
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether a `GET /v1/models` request gets the Anthropic body rather than the
/// OpenAI one (CLIProxyAPI's rule): an `Anthropic-Version` header with a
/// non-empty value, or a `User-Agent` starting with `claude-cli`. Pass the
/// raw header values (`None` when absent).
pub fn wants_anthropic_list(anthropic_version: Option<&[u8]>, user_agent: Option<&[u8]>) -> bool {
    anthropic_version.is_some_and(|v| !v.is_empty())
        || user_agent.is_some_and(|ua| ua.starts_with(b"claude-cli"))
}
