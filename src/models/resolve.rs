//! Request-time lookup: thinking suffixes, the Anthropic list cloak, `auto`,
//! and the Claude `max_tokens` default.

use std::borrow::Cow;

use super::{ProviderKind, Registry, Resolved, CLAUDE_FALLBACK_MAX_TOKENS};

/// Prefix of cloaked ids in the Anthropic model list: a non-`claude-` id `x`
/// is listed as `claude-fable-5-dd-` + `x` with its characters reversed.
pub const CLAUDE_CLOAK_PREFIX: &str = "claude-fable-5-dd-";

/// Splits `model(value)` at the last `(` when the text ends with `)`:
/// returns `(model, Some(value))`, else `(text, None)`. The value may be empty.
pub fn split_suffix(model: &str) -> (&str, Option<&str>) {
    // The closing parenthesis first: most names have none, and the
    // backward search for `(` is the costly part.
    let Some(inner) = model.strip_suffix(')') else {
        return (model, None);
    };
    match model.rfind('(') {
        Some(open) => match inner.get(open + 1..) {
            Some(value) => (&model[..open], Some(value)),
            None => (model, None),
        },
        None => (model, None),
    }
}

/// The id as listed in the Anthropic model list: unchanged when empty or
/// starting with `claude-`, else [`CLAUDE_CLOAK_PREFIX`] + the reversed id.
pub fn cloak_id(id: &str) -> Cow<'_, str> {
    if id.is_empty() || id.starts_with("claude-") {
        Cow::Borrowed(id)
    } else {
        let mut s = String::with_capacity(CLAUDE_CLOAK_PREFIX.len() + id.len());
        s.push_str(CLAUDE_CLOAK_PREFIX);
        s.extend(id.chars().rev());
        Cow::Owned(s)
    }
}

/// `s.trim()`, without its Unicode scan when both ends are visible ASCII
/// (model names, most prompts): `str::trim` is a call of ~50 instructions.
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Undoes [`cloak_id`]; a thinking suffix `(value)` is kept as is. Text that
/// is not a cloaked id (or is the bare prefix) is returned unchanged.
pub fn decloak_id(id: &str) -> Cow<'_, str> {
    let (base, suffix) = split_suffix(id);
    match base.strip_prefix(CLAUDE_CLOAK_PREFIX) {
        Some(enc) if !enc.is_empty() => {
            let mut s: String = enc.chars().rev().collect();
            if let Some(v) = suffix {
                s.push('(');
                s.push_str(v);
                s.push(')');
            }
            Cow::Owned(s)
        }
        _ => Cow::Borrowed(id),
    }
}

impl Registry {
    /// Finds the model a request names. In order:
    /// 1. The text is trimmed and split as `base(suffix)` ([`split_suffix`]).
    /// 2. A base of `auto` becomes [`Registry::auto_model`] (suffix kept).
    /// 3. A cloaked base (`claude-fable-5-dd-<reversed>`) is reversed back.
    /// 4. The base is looked up exactly; the suffix is returned separately.
    /// 5. Failing that, when there was a suffix, the full `base(suffix)` is
    ///    looked up (a model registered with its suffix); `thinking_suffix` is
    ///    then `None`.
    pub fn resolve<'a>(&'a self, requested: &'a str) -> Option<Resolved<'a>> {
        let requested = trim(requested);
        let (base, suffix) = split_suffix(requested);
        let base = trim(base);
        if base == "auto" {
            let i = self.auto?;
            let e = self.entries.get(i)?;
            return Some(Resolved {
                id: &e.id,
                targets: &e.targets,
                thinking_suffix: suffix,
            });
        }
        let plain = decloak_id(base);
        if let Some(e) = self
            .index
            .get(plain.as_ref())
            .and_then(|&i| self.entries.get(i))
        {
            return Some(Resolved {
                id: &e.id,
                targets: &e.targets,
                thinking_suffix: suffix,
            });
        }
        suffix?;
        let full = decloak_id(requested);
        let e = self
            .index
            .get(full.as_ref())
            .and_then(|&i| self.entries.get(i))?;
        Some(Resolved {
            id: &e.id,
            targets: &e.targets,
            thinking_suffix: None,
        })
    }

    /// CLIProxyAPI's default `max_tokens` for a Claude request without one
    /// (v6.9 behaviour #7), for the model named `model` (a thinking suffix is
    /// ignored). `None` when the model is not registered for provider claude
    /// (leave the request alone); else the registered `max_completion_tokens`
    /// of its first claude target when positive, else
    /// [`CLAUDE_FALLBACK_MAX_TOKENS`]. Values above `u32::MAX` saturate.
    ///
    /// Like CLIProxyAPI, the lookup is by registered id: pass the model name
    /// the executor sees.
    pub fn claude_default_max_tokens(&self, model: &str) -> Option<u32> {
        let base = trim(split_suffix(trim(model)).0);
        let info = self.info_for(base, ProviderKind::Claude)?;
        Some(match info.max_completion_tokens {
            0 => CLAUDE_FALLBACK_MAX_TOKENS,
            n => u32::try_from(n).unwrap_or(u32::MAX),
        })
    }
}
