//! `GET /v1/models` in OpenAI and Anthropic list formats, from one registry.

use crate::json::write_string;
use crate::server::Request;
use crate::state::Snapshot;
use std::io::Write;

/// Anthropic clients get the Anthropic list: an `anthropic-version` header or
/// a `claude-cli` user agent selects it (as CLIProxyAPI does).
pub fn wants_anthropic(req: &Request<'_>) -> bool {
    req.header("anthropic-version").is_some()
        || req
            .header("user-agent")
            .is_some_and(|ua| ua.len() >= 10 && ua[..10].eq_ignore_ascii_case(b"claude-cli"))
}

/// `{"object":"list","data":[{"id","object":"model","created","owned_by"}]}`.
pub fn openai_list(snap: &Snapshot, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"object\":\"list\",\"data\":[");
    for (i, m) in snap.models.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        write_string(out, &m.id);
        let _ = write!(
            out,
            ",\"object\":\"model\",\"created\":{},\"owned_by\":",
            m.created
        );
        write_string(out, &m.owned_by);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

/// Prefix CLIProxyAPI gives non-Claude model ids in Anthropic listings.
pub const CLOAK_PREFIX: &str = "claude-fable-5-dd-";

/// The id an Anthropic listing shows: `claude-*` ids unchanged, others
/// `claude-fable-5-dd-` + the id reversed (CLIProxyAPI's model-list cloaking).
pub fn cloak_id(id: &str) -> String {
    if id.is_empty() || id.starts_with("claude-") {
        return id.to_string();
    }
    let mut s = String::with_capacity(CLOAK_PREFIX.len() + id.len());
    s.push_str(CLOAK_PREFIX);
    s.extend(id.chars().rev());
    s
}

/// Reverses [`cloak_id`] (keeping a `(thinking)` suffix), for routing.
pub fn uncloak_id(id: &str) -> String {
    let (base, suffix) = match (id.rfind('('), id.ends_with(')')) {
        (Some(i), true) => (&id[..i], &id[i..]),
        _ => (id, ""),
    };
    match base.strip_prefix(CLOAK_PREFIX) {
        Some(enc) if !enc.is_empty() => {
            let mut s: String = enc.chars().rev().collect();
            s.push_str(suffix);
            s
        }
        _ => id.to_string(),
    }
}

/// Formats unix seconds as RFC 3339 UTC (`2026-11-26T09:13:58Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Anthropic list: `{"data":[...],"has_more":false,"first_id","last_id"}`,
/// sorted by display name then id, with CLIProxyAPI's default token limits.
pub fn anthropic_list(snap: &Snapshot, out: &mut Vec<u8>) {
    let mut items: Vec<(&str, String, &crate::state::ModelInfo)> = snap
        .models
        .iter()
        .map(|m| (m.id.as_str(), cloak_id(&m.id), m))
        .collect();
    items.sort_by(|a, b| a.0.cmp(b.0).then_with(|| a.1.cmp(&b.1)));
    out.extend_from_slice(b"{\"data\":[");
    for (i, (display, id, m)) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        write_string(out, id);
        out.extend_from_slice(b",\"object\":\"model\",\"owned_by\":");
        write_string(out, &m.owned_by);
        out.extend_from_slice(b",\"created_at\":");
        write_string(out, &rfc3339(m.created));
        out.extend_from_slice(b",\"type\":\"model\",\"display_name\":");
        write_string(out, display);
        out.extend_from_slice(b",\"max_input_tokens\":200000,\"max_tokens\":64000}");
    }
    out.extend_from_slice(b"],\"has_more\":false,\"first_id\":");
    write_string(out, items.first().map(|x| x.1.as_str()).unwrap_or(""));
    out.extend_from_slice(b",\"last_id\":");
    write_string(out, items.last().map(|x| x.1.as_str()).unwrap_or(""));
    out.push(b'}');
}

/// Gemini `GET /v1beta/models`: `{"models":[{"name":"models/<id>",...}]}`.
pub fn gemini_list(snap: &Snapshot, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"models\":[");
    for (i, m) in snap.models.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        gemini_entry(m, out);
    }
    out.extend_from_slice(b"]}");
}

fn gemini_entry(m: &crate::state::ModelInfo, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"name\":");
    write_string(out, &format!("models/{}", m.id));
    out.extend_from_slice(b",\"displayName\":");
    write_string(out, &m.id);
    out.extend_from_slice(b",\"description\":");
    write_string(out, &m.id);
    out.extend_from_slice(
        b",\"supportedGenerationMethods\":[\"generateContent\",\"streamGenerateContent\",\"countTokens\"]}",
    );
}

/// Gemini `GET /v1beta/models/{id}`; false if the model is unknown.
pub fn gemini_model(snap: &Snapshot, id: &str, out: &mut Vec<u8>) -> bool {
    match snap.models.iter().find(|m| m.id == id) {
        Some(m) => {
            gemini_entry(m, out);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloaking_round_trips() {
        assert_eq!(cloak_id("claude-sonnet-4"), "claude-sonnet-4");
        assert_eq!(cloak_id("gpt-4o"), "claude-fable-5-dd-o4-tpg");
        assert_eq!(uncloak_id("claude-fable-5-dd-o4-tpg"), "gpt-4o");
        assert_eq!(uncloak_id("claude-fable-5-dd-o4-tpg(high)"), "gpt-4o(high)");
        assert_eq!(uncloak_id("claude-opus"), "claude-opus");
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
