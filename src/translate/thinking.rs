//! Thinking / reasoning settings shared by every format.
//!
//! - Model-name suffixes `model(8192)`, `model(high)`, `model(none)`, `model(auto)`
//!   / `model(-1)` (the last `(`…`)` of the name) are parsed by [`parse_suffix`].
//! - Levels map to budgets and back with CLIProxyAPI's fixed tables
//!   ([`level_to_budget`], [`budget_to_level`]).
//!
//! - Whether the reasoning should be shown ([`Summary`]) and what a
//!   Responses-style upstream is asked for ([`responses_summary`]).
//! - Claude's constraints (budget ≥ 1024, `max_tokens` > budget) in
//!   [`claude_plan`].
//!
//! A suffix always beats the thinking settings found in the request body.

/// A reasoning effort level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
    Max,
}

impl Level {
    /// Parse a level name (case-insensitive, trimmed).
    pub fn parse(s: &str) -> Option<Level> {
        let s = s.trim();
        Some(match () {
            _ if s.eq_ignore_ascii_case("minimal") => Level::Minimal,
            _ if s.eq_ignore_ascii_case("low") => Level::Low,
            _ if s.eq_ignore_ascii_case("medium") => Level::Medium,
            _ if s.eq_ignore_ascii_case("high") => Level::High,
            _ if s.eq_ignore_ascii_case("xhigh") => Level::XHigh,
            _ if s.eq_ignore_ascii_case("max") => Level::Max,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Minimal => "minimal",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::XHigh => "xhigh",
            Level::Max => "max",
        }
    }
}

/// A thinking configuration, independent of format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thinking {
    /// Thinking disabled.
    None,
    /// Provider decides (dynamic budget).
    Auto,
    /// An explicit token budget (> 0).
    Budget(u32),
    /// An effort level.
    Level(Level),
}

/// Budget for a level: minimal 512, low 1024, medium 8192, high 24576, xhigh 32768,
/// max 128000 (CLIProxyAPI's table).
pub fn level_to_budget(l: Level) -> u32 {
    match l {
        Level::Minimal => 512,
        Level::Low => 1024,
        Level::Medium => 8192,
        Level::High => 24576,
        Level::XHigh => 32768,
        Level::Max => 128000,
    }
}

/// Level for a positive budget: ≤512 minimal, ≤1024 low, ≤8192 medium,
/// ≤24576 high, else xhigh.
pub fn budget_to_level(b: u32) -> Level {
    match b {
        0..=512 => Level::Minimal,
        513..=1024 => Level::Low,
        1025..=8192 => Level::Medium,
        8193..=24576 => Level::High,
        _ => Level::XHigh,
    }
}

impl Thinking {
    /// Parse an effort word (`none`, `auto`, or a level) as sent in
    /// `reasoning_effort` / `reasoning.effort` / `thinkingLevel`.
    pub fn from_effort(s: &str) -> Option<Thinking> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("none") {
            Some(Thinking::None)
        } else if t.eq_ignore_ascii_case("auto") {
            Some(Thinking::Auto)
        } else {
            Level::parse(t).map(Thinking::Level)
        }
    }
    /// From a numeric budget: 0 → none, -1 → auto, > 0 → budget; others invalid.
    pub fn from_budget(b: i64) -> Option<Thinking> {
        match b {
            0 => Some(Thinking::None),
            -1 => Some(Thinking::Auto),
            1..=0xFFFF_FFFF => Some(Thinking::Budget(b as u32)),
            _ => None,
        }
    }
    /// The budget form: none 0, auto -1, level via the table.
    pub fn budget(self) -> i64 {
        match self {
            Thinking::None => 0,
            Thinking::Auto => -1,
            Thinking::Budget(b) => b as i64,
            Thinking::Level(l) => level_to_budget(l) as i64,
        }
    }
    /// The effort-word form for level-only providers (OpenAI, Codex): budgets map
    /// through the thresholds, `auto` becomes `medium` (OpenAI has no auto level),
    /// `max` becomes `xhigh` (the highest OpenAI level).
    pub fn effort(self) -> &'static str {
        match self {
            Thinking::None => "none",
            Thinking::Auto => "medium",
            Thinking::Budget(b) => budget_to_level(b).as_str(),
            Thinking::Level(Level::Max) => "xhigh",
            Thinking::Level(l) => l.as_str(),
        }
    }
}

/// A model name split into its base name and an optional thinking suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suffixed<'a> {
    pub base: &'a str,
    /// The parsed suffix, when present and recognised.
    pub thinking: Option<Thinking>,
    /// Whether a `(...)` suffix was present at all (recognised or not).
    pub has_suffix: bool,
}

/// A thinking suffix already split off a model name, its value parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suffix {
    /// The value, when recognised (an empty or unknown value is still
    /// stripped from the name).
    pub thinking: Option<Thinking>,
}

impl Suffix {
    /// Parses a suffix value (`high` of `model(high)`).
    pub fn parse(raw: &str) -> Suffix {
        let thinking = if raw.is_empty() {
            None
        } else if raw.eq_ignore_ascii_case("none") {
            Some(Thinking::None)
        } else if raw.eq_ignore_ascii_case("auto") || raw == "-1" {
            Some(Thinking::Auto)
        } else if let Ok(n) = raw.parse::<u32>() {
            Some(if n == 0 {
                Thinking::None
            } else {
                Thinking::Budget(n)
            })
        } else {
            Level::parse(raw).map(Thinking::Level)
        };
        Suffix { thinking }
    }

    /// The suffix as if it were written after `base`.
    pub fn on(self, base: &str) -> Suffixed<'_> {
        Suffixed {
            base,
            thinking: self.thinking,
            has_suffix: true,
        }
    }
}

/// Split `model(value)` into base and thinking config: the registry's one
/// splitter ([`crate::models::split_suffix`]), then [`Suffix::parse`].
/// Unrecognised suffix values leave `thinking` empty but still strip the
/// suffix from `base`.
pub fn parse_suffix(model: &str) -> Suffixed<'_> {
    match crate::models::split_suffix(model) {
        (base, Some(raw)) => Suffix::parse(raw).on(base),
        (base, None) => Suffixed {
            base,
            thinking: None,
            has_suffix: false,
        },
    }
}

/// Whether a Gemini model takes `thinkingLevel` (Gemini 3 family) rather than a
/// `thinkingBudget`. Without a registry this is decided by name.
pub fn gemini_uses_levels(model: &str) -> bool {
    model.contains("gemini-3")
}

/// Largest `thinkingBudget` Gemini 2.5 Flash / Flash-Lite accept.
const GEMINI_FLASH_MAX_BUDGET: i64 = 24576;
/// Largest `thinkingBudget` Gemini 2.5 Pro accepts.
const GEMINI_PRO_MAX_BUDGET: i64 = 32768;
/// Smallest budget Gemini 2.5 Pro accepts (it cannot turn thinking off).
const GEMINI_PRO_MIN_BUDGET: i64 = 128;

/// The `thinkingBudget` to send to a budget-style Gemini model: -1 (dynamic)
/// and in-range values pass; others are clamped to the model family's range
/// (by name, in lieu of registry data), and Pro's "off" becomes its minimum.
pub fn gemini_budget(model: &str, t: Thinking) -> i64 {
    let b = t.budget();
    if b < 0 {
        return -1;
    }
    let pro = model.contains("pro");
    let max = if pro {
        GEMINI_PRO_MAX_BUDGET
    } else {
        GEMINI_FLASH_MAX_BUDGET
    };
    if b == 0 && pro {
        return GEMINI_PRO_MIN_BUDGET;
    }
    b.min(max)
}

/// Whether the client wants its reasoning shown (CLIProxyAPI's summary
/// intent): Responses `reasoning.summary`, Claude `thinking.display`, Gemini
/// `includeThoughts`; an OpenAI Chat `reasoning_effort` other than `none`
/// implies `Auto` (Chat has no summary field of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Summary {
    /// Reason, but do not show it.
    Off,
    Auto,
    Concise,
    Detailed,
}

impl Summary {
    /// A Responses `reasoning.summary` value; unknown words read as `Auto`
    /// (the client asked for a summary), `none` as `Off`.
    pub fn parse(s: &str) -> Summary {
        let s = s.trim();
        match () {
            _ if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("off") => Summary::Off,
            _ if s.eq_ignore_ascii_case("concise") => Summary::Concise,
            _ if s.eq_ignore_ascii_case("detailed") => Summary::Detailed,
            _ => Summary::Auto,
        }
    }
    /// The Responses `reasoning.summary` word; `None` for `Off` (omitting the
    /// field is how Responses turns summaries off).
    pub fn word(self) -> Option<&'static str> {
        match self {
            Summary::Off => None,
            Summary::Auto => Some("auto"),
            Summary::Concise => Some("concise"),
            Summary::Detailed => Some("detailed"),
        }
    }
}

/// The `reasoning.summary` to send to a Responses-style upstream: the client's
/// explicit choice, else `auto` whenever thinking is on (so the reasoning can
/// be shown in any client format), else `auto` for Codex, which CLIProxyAPI's
/// translators always ask for, unless thinking is off (`effort: none`).
pub fn responses_summary(
    t: Option<Thinking>,
    s: Option<Summary>,
    codex: bool,
) -> Option<&'static str> {
    match s {
        Some(s) => s.word(),
        None if t == Some(Thinking::None) => None,
        None if codex || t.is_some() => Some("auto"),
        None => None,
    }
}

/// Smallest `budget_tokens` Claude accepts.
pub const CLAUDE_MIN_BUDGET: i64 = 1024;

/// What to send to Claude for thinking `t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaudePlan {
    /// `max_tokens` to send.
    pub max_tokens: i64,
    /// `None`: omit `thinking`; `Some(None)`: `{"type":"disabled"}`;
    /// `Some(Some(b))`: `{"type":"enabled","budget_tokens":b}`.
    pub thinking: Option<Option<i64>>,
}

/// Claude's constraints for thinking `t`: budget ≥ 1024 and `max_tokens` >
/// budget. `auto` becomes the medium budget (8192), levels use the table.
/// `max_tokens` is the client's explicit value, or `None` with `default` the
/// value that would be sent. An explicit `max_tokens` is never changed: the
/// budget is clamped below it, and when that leaves less than 1024 thinking is
/// omitted (Claude would reject the request). A defaulted `max_tokens` that
/// does not exceed the budget is raised to budget + `default`, keeping the
/// default's room for the answer.
pub fn claude_plan(t: Option<Thinking>, max_tokens: Option<i64>, default: i64) -> ClaudePlan {
    let budget = match t {
        None => {
            return ClaudePlan {
                max_tokens: max_tokens.unwrap_or(default),
                thinking: None,
            }
        }
        Some(Thinking::None) => {
            return ClaudePlan {
                max_tokens: max_tokens.unwrap_or(default),
                thinking: Some(None),
            }
        }
        Some(Thinking::Auto) => level_to_budget(Level::Medium) as i64,
        Some(other) => other.budget(),
    }
    .max(CLAUDE_MIN_BUDGET);
    match max_tokens {
        Some(m) => {
            let b = budget.min(m.saturating_sub(1));
            ClaudePlan {
                max_tokens: m,
                thinking: (b >= CLAUDE_MIN_BUDGET).then_some(Some(b)),
            }
        }
        None => ClaudePlan {
            max_tokens: if default > budget {
                default
            } else {
                budget.saturating_add(default.max(1))
            },
            thinking: Some(Some(budget)),
        },
    }
}

/// The effort levels of a Claude model that takes adaptive thinking
/// (`thinking: {"type":"adaptive"}` + `output_config.effort`) for intent `t`:
/// catalog Claude models that list levels (Opus/Sonnet 4.6 and later). Those
/// that also accept budgets keep an explicit budget (a numeric suffix, Claude
/// or Gemini budget) as `budget_tokens`, as CLIProxyAPI does; level-only ones
/// (no budget range) always get adaptive. `None`: send a budget.
pub fn claude_adaptive_levels(model: &str, t: Thinking) -> Option<&'static [String]> {
    let th = crate::models::catalog::defaults(crate::models::ProviderKind::Claude)
        .iter()
        .find(|m| m.id == model)
        .and_then(|m| m.thinking.as_ref())
        .filter(|th| !th.levels.is_empty())?;
    match t {
        Thinking::None => None,
        Thinking::Budget(_) if th.max > 0 => None,
        _ => Some(th.levels.as_slice()),
    }
}

/// `output_config.effort` for adaptive thinking `t` on a model with `levels`:
/// levels as asked, budgets through the table, auto as `high` (CLIProxyAPI);
/// a level the model lacks moves to the nearest it has (xhigh ↔ max, minimal →
/// the lowest).
pub fn claude_adaptive_effort(t: Thinking, levels: &[String]) -> &'static str {
    let want = match t {
        Thinking::Level(l) => l,
        Thinking::Budget(b) => budget_to_level(b),
        Thinking::Auto | Thinking::None => Level::High,
    };
    let has = |l: Level| levels.iter().any(|x| x.eq_ignore_ascii_case(l.as_str()));
    if has(want) {
        return want.as_str();
    }
    let fallback = match want {
        Level::XHigh => [Level::Max, Level::High],
        Level::Max => [Level::XHigh, Level::High],
        Level::Minimal => [Level::Low, Level::Medium],
        Level::Low => [Level::Medium, Level::High],
        Level::Medium => [Level::High, Level::Low],
        Level::High => [Level::Medium, Level::Max],
    };
    fallback
        .into_iter()
        .find(|l| has(*l))
        .unwrap_or(want)
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The translator's former split, kept as the oracle for the one
    /// splitter both the registry and the translator now use.
    fn old_split(model: &str) -> Option<(&str, &str)> {
        let open = model.rfind('(')?;
        if !model.ends_with(')') || open + 1 > model.len() - 1 {
            return None;
        }
        Some((&model[..open], &model[open + 1..model.len() - 1]))
    }

    #[test]
    fn one_splitter_agrees_with_the_former_translator_split() {
        let names = [
            "",
            "(",
            ")",
            "()",
            ")(",
            "m",
            "m(",
            "m)",
            "m()",
            "m(high)",
            "a(b)(low)",
            "a(b)c",
            "a)b(c)",
            "((x))",
            "é(ü)",
            "模型(高)",
            "m(high) ",
            "(high)",
        ];
        for name in names {
            let got = crate::models::split_suffix(name);
            let want = match old_split(name) {
                Some((base, raw)) => (base, Some(raw)),
                None => (name, None),
            };
            assert_eq!(got, want, "{name:?}");
        }
    }

    #[test]
    fn a_parsed_suffix_on_a_base_equals_parsing_the_glued_name() {
        // The pipeline parses the suffix once and puts it on the target's
        // name; the former path glued `base(raw)` and parsed it again.
        for raw in [
            "high", "HIGH", "none", "0", "-1", "auto", "8192", "weird", "", "max",
        ] {
            for base in ["gpt-5", "gpt-5(low)", "m", ""] {
                let glued = format!("{base}({raw})");
                assert_eq!(Suffix::parse(raw).on(base), parse_suffix(&glued), "{glued}");
            }
        }
    }

    #[test]
    fn suffixes() {
        let s = parse_suffix("gemini-2.5-pro(8192)");
        assert_eq!(s.base, "gemini-2.5-pro");
        assert_eq!(s.thinking, Some(Thinking::Budget(8192)));
        assert_eq!(
            parse_suffix("claude(HIGH)").thinking,
            Some(Thinking::Level(Level::High))
        );
        assert_eq!(parse_suffix("m(none)").thinking, Some(Thinking::None));
        assert_eq!(parse_suffix("m(-1)").thinking, Some(Thinking::Auto));
        assert_eq!(parse_suffix("m(auto)").thinking, Some(Thinking::Auto));
        let u = parse_suffix("m(weird)");
        assert_eq!((u.base, u.thinking, u.has_suffix), ("m", None, true));
        assert!(!parse_suffix("m(x").has_suffix);
        assert_eq!(parse_suffix("a(b)(low)").base, "a(b)");
        assert!(!parse_suffix(")").has_suffix);
        assert_eq!(parse_suffix("()").thinking, None);
    }

    #[test]
    fn gemini_budgets() {
        assert_eq!(
            gemini_budget("gemini-2.5-pro", Thinking::Level(Level::Max)),
            32768
        );
        assert_eq!(
            gemini_budget("gemini-2.5-flash", Thinking::Level(Level::XHigh)),
            24576
        );
        assert_eq!(gemini_budget("gemini-2.5-pro", Thinking::None), 128);
        assert_eq!(gemini_budget("gemini-2.5-flash", Thinking::None), 0);
        assert_eq!(gemini_budget("gemini-2.5-flash", Thinking::Auto), -1);
        assert_eq!(
            gemini_budget("gemini-2.5-flash", Thinking::Budget(2048)),
            2048
        );
    }

    #[test]
    fn tables() {
        assert_eq!(level_to_budget(Level::Medium), 8192);
        assert_eq!(level_to_budget(Level::Max), 128000);
        assert_eq!(budget_to_level(512), Level::Minimal);
        assert_eq!(budget_to_level(513), Level::Low);
        assert_eq!(budget_to_level(8192), Level::Medium);
        assert_eq!(budget_to_level(24577), Level::XHigh);
        for l in [
            Level::Minimal,
            Level::Low,
            Level::Medium,
            Level::High,
            Level::XHigh,
        ] {
            assert_eq!(budget_to_level(level_to_budget(l)), l);
        }
        assert_eq!(Thinking::Budget(20000).effort(), "high");
        assert_eq!(Thinking::from_budget(-1), Some(Thinking::Auto));
        assert_eq!(Thinking::from_budget(-2), None);
    }

    #[test]
    fn summaries() {
        assert_eq!(Summary::parse("AUTO"), Summary::Auto);
        assert_eq!(Summary::parse("detailed"), Summary::Detailed);
        assert_eq!(Summary::parse("concise"), Summary::Concise);
        assert_eq!(Summary::parse("none"), Summary::Off);
        assert_eq!(Summary::Off.word(), None);
        let high = Some(Thinking::Level(Level::High));
        // Explicit choice wins, for both kinds of Responses upstream.
        for codex in [false, true] {
            assert_eq!(responses_summary(high, Some(Summary::Off), codex), None);
            assert_eq!(
                responses_summary(None, Some(Summary::Detailed), codex),
                Some("detailed")
            );
            assert_eq!(responses_summary(high, None, codex), Some("auto"));
        }
        // Without one: reasoning on -> auto; Codex always auto.
        assert_eq!(responses_summary(None, None, false), None);
        assert_eq!(responses_summary(Some(Thinking::None), None, false), None);
        assert_eq!(responses_summary(None, None, true), Some("auto"));
        assert_eq!(responses_summary(Some(Thinking::None), None, true), None);
    }

    #[test]
    fn claude_constraints() {
        let plan = |t, m, d| {
            let p = claude_plan(t, m, d);
            (p.max_tokens, p.thinking)
        };
        let high = Some(Thinking::Level(Level::High));
        // Explicit max_tokens: kept; budget clamped below it.
        assert_eq!(plan(high, Some(50000), 32000), (50000, Some(Some(24576))));
        assert_eq!(plan(high, Some(4000), 32000), (4000, Some(Some(3999))));
        assert_eq!(plan(high, Some(1025), 32000), (1025, Some(Some(1024))));
        // ... and thinking omitted when fewer than 1024 would remain.
        assert_eq!(plan(high, Some(1024), 32000), (1024, None));
        // Defaulted max_tokens: raised above the budget.
        assert_eq!(plan(high, None, 32000), (32000, Some(Some(24576))));
        assert_eq!(plan(high, None, 1024), (25600, Some(Some(24576))));
        assert_eq!(
            plan(Some(Thinking::Level(Level::Max)), None, 32000),
            (160000, Some(Some(128000)))
        );
        // Budgets below Claude's minimum are raised to it.
        assert_eq!(
            plan(Some(Thinking::Budget(100)), None, 32000),
            (32000, Some(Some(1024)))
        );
        assert_eq!(
            plan(Some(Thinking::Level(Level::Minimal)), Some(8000), 1),
            (8000, Some(Some(1024)))
        );
        // Auto is the medium budget; none disables; no intent leaves it out.
        assert_eq!(plan(Some(Thinking::Auto), None, 32000).1, Some(Some(8192)));
        assert_eq!(plan(Some(Thinking::None), None, 1024), (1024, Some(None)));
        assert_eq!(plan(None, Some(7), 1024), (7, None));
    }

    #[test]
    fn claude_adaptive() {
        let high = Thinking::Level(Level::High);
        let four6 = claude_adaptive_levels("claude-opus-4-6", high).unwrap_or(&[]);
        assert!(!four6.is_empty());
        // Hybrid models keep explicit budgets; level-only ones never do.
        assert_eq!(
            claude_adaptive_levels("claude-opus-4-6", Thinking::Budget(8192)),
            None
        );
        assert!(claude_adaptive_levels("claude-opus-5", Thinking::Budget(8192)).is_some());
        assert!(claude_adaptive_levels("claude-opus-4-6", Thinking::Auto).is_some());
        assert_eq!(
            claude_adaptive_levels("claude-opus-4-6", Thinking::None),
            None
        );
        assert_eq!(
            claude_adaptive_levels("claude-sonnet-4-5-20250929", high),
            None
        );
        assert_eq!(claude_adaptive_levels("my-claude", high), None);
        let e = |t| claude_adaptive_effort(t, four6);
        // opus-4-6: low, medium, high, max.
        assert_eq!(e(Thinking::Level(Level::High)), "high");
        assert_eq!(e(Thinking::Level(Level::XHigh)), "max");
        assert_eq!(e(Thinking::Level(Level::Minimal)), "low");
        assert_eq!(e(Thinking::Budget(2000)), "medium");
        assert_eq!(e(Thinking::Budget(100_000)), "max");
        assert_eq!(e(Thinking::Auto), "high");
        let five = claude_adaptive_levels("claude-opus-5", high).unwrap_or(&[]);
        assert_eq!(
            claude_adaptive_effort(Thinking::Level(Level::XHigh), five),
            "xhigh"
        );
        assert_eq!(
            claude_adaptive_effort(Thinking::Budget(2000), five),
            "medium"
        );
    }
}
