//! Stage: the upstream request. Request line, path and auth headers for the
//! provider, client headers the provider copies, and the body (`model`
//! rewritten in place, or the translated body).

use super::*;
use crate::accounts::wire;
use crate::providers::Auth;
use crate::translate::request::translate_request_suffixed;

// Here rather than in `state` (which the account store owns) so that
// `accounts` needs nothing from `state`: the layers stay acyclic.
impl Provider {
    /// The wire format this provider's upstream speaks: its OAuth account's
    /// (`AccountKind::format`, e.g. Gemini CLI), else its kind's.
    pub fn format(&self) -> Format {
        match &self.account {
            Some(a) => a.kind.format(),
            None => self.kind.format(),
        }
    }

    /// This provider on its fallback host `host` (1-based index into
    /// `fallback`; Antigravity's daily → production order).
    pub(super) fn on_fallback(&self, host: usize) -> Provider {
        let mut p = self.clone();
        if let Some(ep) = host.checked_sub(1).and_then(|i| self.fallback.get(i)) {
            p.endpoint = ep.clone();
        }
        p
    }
}

/// Writes the upstream request line and headers for provider `p` (reference
/// §3.1), then the body: `model` rewritten in place, or `body` as given.
#[allow(clippy::too_many_arguments)]
pub(super) fn build_request(
    p: &Provider,
    key: Option<&crate::secret::Secret>,
    req: &Request<'_>,
    body: &[u8],
    model: Option<((usize, usize), &str)>,
    upstream_model: &str,
    stream: bool,
    count: bool,
    compact: bool,
    client_format: Format,
    defaults: &wire::HeaderDefaults,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(p.endpoint.base_path.as_bytes());
    let spec = p.kind.spec();
    let call = crate::providers::Call { stream, count };
    let account = p.account.as_deref();
    if compact {
        // Codex and OpenAI-compatible upstreams alike (CLIProxyAPI's executors).
        out.extend_from_slice(b"/responses/compact");
    } else if !account.is_some_and(|a| wire::write_path(a, out, upstream_model, call)) {
        p.kind.write_path(out, upstream_model, call);
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    encode::header(out, "Host", p.endpoint.host_header.as_bytes());
    let custom = |name: &str| p.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    // The head writers' skip test; `None` when the provider sets no headers.
    let skip: Option<&dyn Fn(&str) -> bool> = if p.headers.is_empty() {
        None
    } else {
        Some(&custom)
    };
    // The client's header names, for the head writers' one-pass checks.
    let any_name = |filter: &wire::NameFilter, f: wire::NameTest<'_>| {
        req.head.headers.iter().any(|(n, _)| {
            let n = n.get(req.buf);
            filter.may_hold(n) && f(n)
        })
    };
    let sse = !compact && (stream || spec.always_streams);
    if let Some(a) = account {
        // An OAuth account: its token and its client's headers.
        let header = |name: &str| req.header(name);
        let client = wire::Client {
            header: &header,
            any_name: &any_name,
            body: req.body(),
            format: client_format,
            defaults,
        };
        let head = wire::Head {
            model: upstream_model,
            call,
        };
        wire::write_head(a, &client, head, skip, out);
    } else if let Some(k) = key {
        let (name, bearer) = match spec.auth {
            Auth::Header(h) => (h, false),
            Auth::HeaderOnDefaultHost(h) if p.default_host => (h, false),
            Auth::HeaderOnDefaultHost(_) | Auth::Bearer => ("Authorization", true),
        };
        if !custom(name) {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(if bearer {
                &b": Bearer "[..]
            } else {
                &b": "[..]
            });
            out.extend_from_slice(k.expose().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    if spec.anthropic_headers && account.is_none() {
        // A Claude API key carries the same Claude Code identity as an
        // account (CLIProxyAPI's executor applies it to every credential).
        let header = |name: &str| req.header(name);
        let client = wire::Client {
            header: &header,
            any_name: &any_name,
            body: req.body(),
            format: client_format,
            defaults,
        };
        wire::write_claude_identity(&client, skip, out);
    }
    // Whole lines: one copy each.
    if !custom("content-type") {
        out.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    if !custom("accept") {
        out.extend_from_slice(if sse {
            &b"Accept: text/event-stream\r\n"[..]
        } else {
            &b"Accept: application/json\r\n"[..]
        });
    }
    if let Some(ua) = spec.user_agent.filter(|_| account.is_none()) {
        if !custom("user-agent") {
            encode::header(out, "User-Agent", ua);
        }
    }
    for (n, v) in &p.headers {
        // `$Name` copies the client's header `Name`; omitted when absent.
        if let Some(src) = v.strip_prefix('$') {
            if let Some(val) = req.header(src) {
                encode::header(out, n, val);
            }
        } else {
            encode::header(out, n, v.as_bytes());
        }
    }
    match model {
        // Only the `model` value changes; every other byte is forwarded as sent.
        Some(((start, end), name)) => {
            let mut lit = Vec::with_capacity(name.len() + 2);
            crate::json::write_string(&mut lit, name);
            encode::content_length(out, body.len() - (end - start) + lit.len());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body[..start]);
            out.extend_from_slice(&lit);
            out.extend_from_slice(&body[end..]);
        }
        None => {
            encode::content_length(out, body.len());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(body);
        }
    }
}

/// `payload` rule `from-protocol` names (the client side).
pub(super) fn from_protocol_name(f: Format) -> &'static str {
    match f {
        Format::OpenAiChat => "openai",
        Format::OpenAiResponses | Format::Codex => "responses",
        Format::Claude => "claude",
        Format::Gemini | Format::GeminiCli => "gemini",
    }
}

/// Builds the upstream request for `target` into `request`: the client's
/// bytes with only `model` rewritten when the formats match, the translated
/// body otherwise (once), then the `payload` rules as span edits. Returns
/// whether this is a cross-format token count (its answer is translated);
/// an [`ErrorKind::InvalidRequest`] when the client cannot be served on this
/// target (nothing was sent upstream).
pub(super) fn prepare(
    cx: &Ctx<'_>,
    provider: &Provider,
    ki: Option<usize>,
    target: &crate::state::Target,
    request: &mut Vec<u8>,
) -> Result<bool, Error> {
    let (w, snap, call) = (cx.w, cx.snap, cx.call);
    let body = call.body;
    // `/responses/compact` exists on Codex and OpenAI-compatible upstreams
    // only; CLIProxyAPI's other executors answer 501.
    if call.compact && !matches!(provider.kind, Kind::Codex | Kind::OpenAiCompat) {
        return Err(Error::new(
            ErrorKind::InvalidRequest { status: 501 },
            "/responses/compact not supported",
        ));
    }
    // A Gemini CLI account takes a Gemini body, wrapped last (below).
    let wire_fmt = provider.format();
    let upstream_fmt = if wire_fmt == Format::GeminiCli {
        Format::Gemini
    } else {
        wire_fmt
    };
    let claude_default = if provider.kind == Kind::Claude {
        snap.registry
            .claude_default_max_tokens(cx.routed.model)
            .or_else(|| {
                snap.registry
                    .claude_default_max_tokens(&target.upstream_model)
            })
    } else {
        None
    };
    // Claude -> Claude without max_tokens gets the registry default (v6.9 #7),
    // which needs the translator's edit; so does a thinking suffix.
    let needs_edit = cx.routed.suffix.is_some()
        || (claude_default.is_some()
            && call.client == Format::Claude
            && memchr::memmem::find(body, b"\"max_tokens\"").is_none());
    // Same format: forward the client's bytes with only `model` rewritten.
    // Otherwise translate once into a buffer.
    // A compact body goes as the client sent it (Responses; `stream` removed).
    let same = call.compact
        || (upstream_fmt == call.client && upstream_fmt != Format::Codex && !needs_edit);
    let rewrite = match call.model_span {
        Some(span) if same && target.upstream_model != call.model => {
            Some((span, target.upstream_model.as_str()))
        }
        _ => None,
    };
    // Token counts across Claude and Gemini are translated (request and
    // answer); other upstreams have no count endpoint.
    // A Gemini CLI account's count always is (its answer is rebuilt).
    let cross_count =
        call.count_tokens && (upstream_fmt != call.client || wire_fmt == Format::GeminiCli);
    let count_body = if cross_count && wire_fmt == Format::GeminiCli {
        wire::gemini_cli::count_request(call.client, body, &target.upstream_model)
    } else if cross_count {
        count_request(call.client, upstream_fmt, body, &target.upstream_model)
    } else {
        None
    };
    if cross_count && count_body.is_none() {
        return Err(Error::new(
            ErrorKind::InvalidRequest { status: 400 },
            "token counting is only available when the model's upstream speaks the client's format",
        ));
    }
    let mut translated = if same || call.count_tokens {
        Vec::new()
    } else {
        w.pool.borrow_mut().buf()
    };
    let send_body: &[u8] = if let Some(cb) = count_body.as_deref() {
        cb
    } else if same || call.count_tokens {
        body
    } else {
        let opts = ReqOpts {
            upstream_model: &target.upstream_model,
            stream: call.stream || provider.kind.spec().always_streams,
            claude_default_max_tokens: claude_default,
        };
        // The suffix was parsed once when routing; the target's name is sent as is.
        let (client, suffix) = (call.client, cx.routed.suffix);
        if let Err(e) =
            translate_request_suffixed(client, upstream_fmt, body, &opts, suffix, &mut translated)
        {
            return Err(Error::new(
                ErrorKind::InvalidRequest { status: e.status() },
                e.message,
            ));
        }
        &translated
    };
    // A Claude account: body `betas` go to the header (`wire::claude::betas`)
    // and the body is cloaked for clients other than Claude Code.
    // A body the Claude emitter wrote from another format has no `betas`
    // member (it writes none), so it is not searched for one.
    let emitted =
        !same && count_body.is_none() && !call.count_tokens && call.client != upstream_fmt;
    let has_betas = |b: &[u8]| !emitted && memchr::memmem::find(b, b"\"betas\"").is_some();
    let mut cloaked = Vec::new();
    let claude_account = provider
        .account
        .as_deref()
        .filter(|a| a.kind == crate::accounts::AccountKind::Claude);
    let claude_key = provider.account.is_none() && provider.kind.spec().anthropic_headers;
    let (send_body, rewrite) = match claude_account {
        // API keys move body betas too; only accounts are cloaked.
        _ if claude_key && has_betas(send_body) => {
            let folded = fold_rewrite(send_body, rewrite);
            cloaked = match wire::claude::without_body_betas(&folded) {
                Some(b) => b,
                None => folded.into_owned(),
            };
            (&cloaked[..], None)
        }
        Some(a) => {
            let cloak = wire::claude::account_cloak(a);
            let ua = cx.req.header("user-agent");
            let cloaks = !call.count_tokens && cloak.applies(ua);
            if cloaks || has_betas(send_body) {
                let folded = fold_rewrite(send_body, rewrite);
                let base = match wire::claude::without_body_betas(&folded) {
                    Some(b) => std::borrow::Cow::Owned(b),
                    None => folded,
                };
                let model = &target.upstream_model;
                if !(cloaks && wire::claude::cloak(&base, cloak, ua, model, &a.id, &mut cloaked)) {
                    cloaked = base.into_owned();
                }
                (&cloaked[..], None)
            } else {
                (send_body, rewrite)
            }
        }
        _ => (send_body, rewrite),
    };
    // A Qwen account: Qwen Code's one leading system message.
    let mut qwen_body = Vec::new();
    let qwen = provider
        .account
        .as_deref()
        .is_some_and(|a| a.kind == crate::accounts::AccountKind::Qwen);
    let (send_body, rewrite) = if qwen && !call.count_tokens {
        let folded = fold_rewrite(send_body, rewrite);
        if !wire::qwen::ensure_system_message(&folded, &mut qwen_body) {
            qwen_body = folded.into_owned();
        }
        (&qwen_body[..], None)
    } else {
        (send_body, rewrite)
    };
    // `payload` rules edit the body about to be sent, once, as span edits.
    let mut edited = Vec::new();
    let (send_body, rewrite) = if snap.payload.is_empty() {
        (send_body, rewrite)
    } else {
        // Fail closed: a rule may apply to this request but the body
        // cannot be read, so it must not go upstream unedited.
        if let Err(e) = apply_payload(cx, provider, target, send_body, rewrite, &mut edited) {
            return Err(Error::new(
                ErrorKind::InvalidRequest { status: 400 },
                format!("invalid request body: {e}"),
            ));
        }
        (&edited[..], None)
    };
    // A Gemini CLI account: the Gemini body in its Cloud Code Assist
    // envelope; an Antigravity account: in its agent envelope.
    let mut wrapped = Vec::new();
    let (send_body, rewrite) = match provider.account.as_deref() {
        Some(a) if wire_fmt == Format::GeminiCli => {
            let folded = fold_rewrite(send_body, rewrite);
            if call.count_tokens {
                // `count_request` already built the envelope.
                wrapped.extend_from_slice(&folded);
            } else if a.kind == crate::accounts::AccountKind::Antigravity {
                let model = &target.upstream_model;
                if wire::antigravity::wrap(&folded, model, &a.project_id, &mut wrapped).is_none() {
                    return Err(Error::new(
                        ErrorKind::InvalidRequest { status: 400 },
                        "invalid request body: not a JSON object",
                    ));
                }
            } else {
                // A virtual credential of a multi-project file sends its own project.
                let project = provider.project.as_deref().unwrap_or(&a.project_id);
                wire::gemini_cli::wrap(&folded, &target.upstream_model, project, &mut wrapped);
            }
            (&wrapped[..], None)
        }
        _ => (send_body, rewrite),
    };
    if request.capacity() == 0 {
        *request = w.pool.borrow_mut().buf();
    }
    // Antigravity serves some models' non-stream calls as streams, which
    // the relay aggregates (`wire::antigravity::aggregate_stream`).
    let upstream_stream = call.stream
        || (!call.count_tokens
            && provider
                .account
                .as_deref()
                .is_some_and(|a| a.kind == crate::accounts::AccountKind::Antigravity)
            && wire::antigravity::streams_non_stream(&target.upstream_model));
    // An account's token is read once, where its head is written
    // (`wire::write_head`); `key` is the config entry's.
    build_request(
        provider,
        ki.and_then(|k| provider.keys.get(k)),
        cx.req,
        send_body,
        rewrite,
        &target.upstream_model,
        upstream_stream,
        call.count_tokens,
        call.compact,
        call.client,
        &cx.snap.config.header_defaults,
        request,
    );
    let mut p = w.pool.borrow_mut();
    p.give(translated);
    p.give(edited);
    Ok(cross_count)
}

/// `body` with the pending `model` rewrite applied (borrowed when none).
fn fold_rewrite<'b>(
    body: &'b [u8],
    rewrite: Option<((usize, usize), &str)>,
) -> std::borrow::Cow<'b, [u8]> {
    match rewrite {
        Some(((s, e), name)) => {
            let mut v = Vec::with_capacity(body.len() + name.len() + 2);
            v.extend_from_slice(&body[..s]);
            crate::json::write_string(&mut v, name);
            v.extend_from_slice(&body[e..]);
            std::borrow::Cow::Owned(v)
        }
        None => std::borrow::Cow::Borrowed(body),
    }
}

/// Applies the `payload` rules to `body` (with the pending `model` rewrite
/// folded in) into `edited`.
fn apply_payload(
    cx: &Ctx<'_>,
    provider: &Provider,
    target: &crate::state::Target,
    body: &[u8],
    rewrite: Option<((usize, usize), &str)>,
    edited: &mut Vec<u8>,
) -> Result<(), String> {
    edited.reserve(body.len() + 64);
    match rewrite {
        Some(((s, e), name)) => {
            edited.extend_from_slice(&body[..s]);
            crate::json::write_string(edited, name);
            edited.extend_from_slice(&body[e..]);
        }
        None => edited.extend_from_slice(body),
    }
    let ctx = crate::payload::PayloadCtx {
        upstream_model: &target.upstream_model,
        requested_model: &cx.call.model,
        // Antigravity rules name their own protocol; their paths are
        // relative to `request`, the body the rules edit here.
        protocol: match provider.account.as_deref() {
            Some(a) if a.kind == crate::accounts::AccountKind::Antigravity => "antigravity",
            _ => provider.kind.spec().payload_protocol,
        },
        from_protocol: from_protocol_name(cx.call.client),
        headers: &cx.routed.headers,
        root: "",
    };
    cx.snap
        .payload
        .apply(&ctx, &[], edited)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
