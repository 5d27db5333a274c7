//! Stage: the attempt. One leased credential tried on each model of its
//! pool in turn: prepare and send the upstream request, read an error
//! answer, relay a good one, and report the outcome to the scheduler.

use super::*;
use crate::credentials::Lease;
use crate::state::Target;

/// Where the lease loop goes after one credential's attempt.
pub(super) enum Step {
    /// The request is answered (or the client left): keep-alive verdict.
    Return(bool),
    /// Draw the next lease from the plan.
    NextLease,
}

/// Where the pool loop goes after one model's attempt.
enum MemberStep {
    Return(bool),
    NextMember,
    NextLease,
}

/// The attempt loop's state across leases.
pub(super) struct Attempts<'a> {
    pub cx: Ctx<'a>,
    pub plan: RetryPlan,
    /// What the last failure left for the client.
    pub last: Option<Failure>,
    /// `Some(status)` (0: unknown) when `last` is a 2xx answer that failed
    /// before its first byte reached the client (`streaming.bootstrap-retries`).
    pub bootstrap: Option<u16>,
    /// `passthrough-headers`: the last 2xx answer's forwardable header lines
    /// (CLIProxyAPI forwards them on the error of a stream that broke before
    /// its first byte, too).
    pub fwd: Vec<u8>,
    /// The upstream request buffer, reused across attempts.
    pub request: Vec<u8>,
    /// When the request arrived (usage statistics' latency).
    pub started: std::time::Instant,
}

impl Attempts<'_> {
    fn report(&mut self, lease: Lease, outcome: &Outcome<'_>) {
        let mut shard = self.cx.w.shard.borrow_mut();
        let now = shard.now_ms();
        // `/api-key-usage` counts every attempt that reached the upstream
        // (not a skipped lease, a local answer or a client that left).
        if outcome.status != crate::credentials::STATUS_CLIENT_CLOSED {
            let snap = self.cx.snap;
            if let Some((_, pi, ki)) = locate(&shard, snap, &lease) {
                if let Some(p) = snap.providers.get(pi) {
                    crate::management::usage::record_key_result(
                        (snap.generation, p, ki),
                        outcome.is_success(),
                    );
                }
            }
        }
        self.plan.report(&mut shard, lease, outcome, now);
    }

    /// Tries `lease` on each model of its pool (CLIProxyAPI
    /// `executionModelCandidates`), starting at the credential's rotation
    /// offset; a failure before output moves to the next member.
    pub async fn lease(&mut self, conn: &mut Conn, lease: Lease) -> Step {
        let (w, snap) = (self.cx.w, self.cx.snap);
        let Some((cred, pi, ki)) = locate(&w.shard.borrow(), snap, &lease) else {
            // Added by a reload this worker has not applied yet: skip, no cooldown.
            self.report(lease, &Outcome::not_attempted());
            return Step::NextLease;
        };
        let provider = &snap.providers[pi];
        let targets = self.cx.routed.targets;
        let members = || targets.iter().filter(|t| t.provider == pi);
        let pool_len = members().count();
        let Some(first) = members().next() else {
            self.report(lease, &Outcome::not_attempted());
            return Step::NextLease;
        };
        let pool_start = snap
            .pools
            .get(first.pool)
            .map_or(0, |p| p.start(ki, pool_len));
        for member in 0..pool_len {
            let Some(target) = members().nth((pool_start + member) % pool_len) else {
                break;
            };
            // Whether a failure here may move on to another model of the pool.
            let more = member + 1 < pool_len;
            let at = At {
                lease,
                cred,
                provider,
                ki,
                target,
                more,
            };
            match self.member(conn, &at).await {
                MemberStep::Return(keep) => return Step::Return(keep),
                MemberStep::NextMember => continue,
                MemberStep::NextLease => return Step::NextLease,
            }
        }
        Step::NextLease
    }

    /// One model of the pool on the leased credential.
    async fn member(&mut self, conn: &mut Conn, at: &At<'_>) -> MemberStep {
        let call = self.cx.call;
        let target = at.target;
        let provider = at.provider;
        // OpenAI-compatible and Codex upstreams have no count endpoint:
        // the count is estimated locally, as CLIProxyAPI does.
        if call.count_tokens && !provider.kind.spec().counts_tokens {
            self.report(at.lease, &Outcome::answered_locally());
            let keep = local_count(conn, call, provider.kind, &target.upstream_model).await;
            return MemberStep::Return(keep);
        }
        // An OAuth account whose token expired waits for its refresh (one
        // per account across every core) before the request leaves.
        let mut token_version = match &provider.account {
            Some(a) => crate::accounts::refresh::ensure_fresh(a).await,
            None => 0,
        };
        let mut refreshed = false;
        // An Antigravity account's next host (`Provider::fallback`): the
        // provider again with that endpoint, made only when a host failed.
        let mut host = 0usize;
        let mut alt: Option<Provider> = None;
        loop {
            let provider: &Provider = alt.as_ref().unwrap_or(at.provider);
            let cross_count = match prepare(&self.cx, provider, at.ki, target, &mut self.request) {
                Ok(c) => c,
                Err(e) => {
                    self.report(at.lease, &e.outcome(b""));
                    let keep = client_error(conn, call.client, e.status(), &e.message).await;
                    return MemberStep::Return(keep);
                }
            };
            crate::log_debug!(
                "chat: model {} -> {} via {} ({})",
                call.model,
                target.upstream_model,
                provider.name,
                at.cred
            );
            if let Some(t) = conn.trace.as_mut() {
                let (p, c) =
                    crate::management::usage::obs_labels(self.cx.snap.generation, provider, at.ki);
                t.attempt(&p, &c);
                t.upstream_request(&self.request);
            }
            let request = std::mem::take(&mut self.request);
            let Some(sent) = send(&self.cx, conn, provider, at.ki, request).await else {
                self.report(at.lease, &Outcome::client_gone());
                return MemberStep::Return(false);
            };
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    crate::log_warn!("upstream {}: {e}", provider.name);
                    if host < at.provider.fallback.len() {
                        host += 1;
                        alt = Some(at.provider.on_fallback(host));
                        continue;
                    }
                    self.last = Some(Failure::Transport(e.to_string()));
                    self.bootstrap = None;
                    if at.more {
                        return MemberStep::NextMember;
                    }
                    self.report(at.lease, &Outcome::transport());
                    return MemberStep::NextLease;
                }
            };
            // A 401 on an OAuth account: refresh once and retry the same
            // account; then the normal rules.
            if resp.status() == 401 && !refreshed {
                if let Some(a) = &provider.account {
                    refreshed = true;
                    if crate::accounts::refresh::after_unauthorized(a, token_version).await {
                        let mut eb = Vec::new();
                        if resp.read_to_end(&mut eb, MAX_ERROR_BODY).await.is_ok() {
                            resp.release(&self.cx.w.pool);
                        }
                        token_version = a.token.get().version;
                        crate::log_info!("auth {}: retrying with the refreshed token", a.id);
                        continue;
                    }
                }
            }
            if let Some(t) = conn.trace.as_mut() {
                t.upstream_head(resp.status(), &resp.headers());
            }
            if !(200..300).contains(&resp.status()) {
                let Some((status, retry_after, eb)) = self.error_body(conn, at, resp).await else {
                    return MemberStep::Return(false);
                };
                if host < at.provider.fallback.len()
                    && crate::accounts::wire::antigravity::falls_back(status, &eb)
                {
                    crate::log_info!(
                        "upstream {} answered {status}: trying its next host",
                        provider.name
                    );
                    host += 1;
                    alt = Some(at.provider.on_fallback(host));
                    continue;
                }
                return self.upstream_error(at, status, retry_after, eb);
            }
            let relayed = self.relay(conn, provider, at.ki, resp, cross_count).await;
            return self.settle(at, relayed);
        }
    }

    /// A non-2xx answer's status, `Retry-After` and body (bounded); `None`
    /// when the client left while it was read (reported).
    async fn error_body(
        &mut self,
        conn: &mut Conn,
        at: &At<'_>,
        mut resp: Response,
    ) -> Option<(u16, Option<Vec<u8>>, Vec<u8>)> {
        let status = resp.status();
        let retry_after = resp.header("retry-after").map(<[u8]>::to_vec);
        let mut eb = Vec::new();
        let read = monoio::select! {
            biased;
            r = resp.read_to_end(&mut eb, MAX_ERROR_BODY) => Some(r),
            _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
        };
        match read {
            None => {
                self.report(at.lease, &Outcome::client_gone());
                return None;
            }
            Some(Ok(())) => resp.release(&self.cx.w.pool),
            Some(Err(_)) => {}
        }
        if let Some(t) = conn.trace.as_mut() {
            t.api_error(status, &eb);
        }
        Some((status, retry_after, eb))
    }

    /// A non-2xx answer (its body read): try the pool's next model or
    /// report the failure and move to the next credential.
    fn upstream_error(
        &mut self,
        at: &At<'_>,
        status: u16,
        retry_after: Option<Vec<u8>>,
        eb: Vec<u8>,
    ) -> MemberStep {
        crate::log_warn!("upstream {} answered {status}", at.provider.name);
        // A Qwen account's exhausted quota comes as 403: it counts as 429.
        let status = match at.provider.account.as_deref() {
            Some(a) if a.kind == crate::accounts::AccountKind::Qwen => {
                crate::accounts::wire::qwen::effective_status(status, &eb)
            }
            _ => status,
        };
        self.bootstrap = None;
        if self.cx.snap.config.usage_statistics_enabled && !self.cx.call.count_tokens {
            self.record_usage(at.provider, at.ki, Default::default(), true);
        }
        // A request fault (or a `stop` rule) ends the request on any
        // model; other failures try the pool's next model first.
        if at.more && !crate::credentials::classify(status, &eb, &at.provider.rules).stop {
            self.last = Some(Failure::Upstream {
                status,
                body: eb,
                retry_after,
            });
            return MemberStep::NextMember;
        }
        let ra = retry_after
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok());
        let outcome = Outcome {
            retry_after: ra,
            ..Outcome::failure(status, &eb)
        };
        self.report(at.lease, &outcome);
        self.last = Some(Failure::Upstream {
            status,
            body: eb,
            retry_after,
        });
        MemberStep::NextLease
    }

    /// Hands one attempt's outcome to the usage statistics (only called
    /// when `usage-statistics-enabled`).
    fn record_usage(
        &self,
        provider: &Provider,
        ki: Option<usize>,
        usage: crate::translate::stream::Usage,
        failed: bool,
    ) {
        let latency = self.started.elapsed().as_millis() as u64;
        crate::management::usage::record_attempt(
            self.cx.req,
            &self.cx.call.model,
            (self.cx.snap.generation, provider, ki),
            usage,
            failed,
            latency,
        );
    }

    /// Picks the relay for a 2xx answer.
    async fn relay(
        &mut self,
        conn: &mut Conn,
        provider: &Provider,
        ki: Option<usize>,
        resp: Response,
        cross_count: bool,
    ) -> Relayed {
        let (w, call) = (self.cx.w, self.cx.call);
        // `passthrough-headers`: the upstream's forwardable headers, as lines.
        let mut fwd = std::mem::take(&mut self.fwd);
        fwd.clear();
        if self.cx.snap.config.passthrough_headers {
            passthrough::collect(&resp.headers(), &mut fwd);
        }
        let upstream_fmt = provider.format();
        let passthrough = upstream_fmt == call.client && upstream_fmt != Format::Codex;
        // Usage statistics: off costs this one test (and the trace test:
        // the access log and metrics read tokens too).
        let counting = self.cx.snap.config.usage_statistics_enabled && !call.count_tokens;
        let traced = conn.trace.as_ref().is_some_and(|t| t.wants_tokens());
        let mut sniff = (counting || traced).then(|| {
            crate::management::usage::Sniffer::new(
                upstream_fmt,
                call.stream || upstream_fmt == Format::Codex,
            )
        });
        // Once a keep-alive committed the status, the answer must arrive whole.
        let relayed = if cross_count {
            relay_count(w, conn, resp, call.client, &fwd).await
        } else if (passthrough || call.count_tokens || call.compact)
            && !call.legacy_completions
            && !(call.gemini_raw && call.stream)
            && !conn.committed_early
        {
            relay(
                w,
                conn,
                resp,
                call.stream,
                call.client,
                &fwd,
                sniff.as_mut(),
            )
            .await
        } else {
            let s = sniff.as_mut();
            relay_translated(w, conn, resp, upstream_fmt, call, &call.model, &fwd, s).await
        };
        self.fwd = fwd;
        if let Some(s) = sniff {
            let failed = !matches!(relayed, Relayed::Done(_, false));
            let usage = s.finish();
            if let Some(t) = conn.trace.as_mut() {
                t.tokens = (usage.input, usage.output);
            }
            if counting {
                self.record_usage(provider, ki, usage, failed);
            }
        }
        relayed
    }

    /// Reports how a relay ended and decides what comes next.
    fn settle(&mut self, at: &At<'_>, relayed: Relayed) -> MemberStep {
        let name = &at.provider.name;
        match relayed {
            Relayed::Done(keep, broken) => {
                let outcome = if broken {
                    Error::new(ErrorKind::BrokenStream, "").outcome(b"")
                } else {
                    Outcome::success()
                };
                self.report(at.lease, &outcome);
                MemberStep::Return(keep)
            }
            Relayed::ClientGone => {
                self.report(at.lease, &Outcome::client_gone());
                MemberStep::Return(false)
            }
            Relayed::NoFirstByte(e) => {
                crate::log_warn!("upstream {name} failed before the first byte: {e}");
                self.last = Some(Failure::Transport(e));
                self.bootstrap = Some(0);
                if !at.more {
                    self.report(at.lease, &Outcome::transport());
                }
                MemberStep::NextMember
            }
            Relayed::DoneWithError(keep, status, body) => {
                crate::log_warn!("upstream {name} reported an error in its stream ({status})");
                let outcome = Outcome {
                    first_byte_sent: true,
                    ..Outcome::failure(status, &body)
                };
                self.report(at.lease, &outcome);
                MemberStep::Return(keep)
            }
            Relayed::UpstreamError { status, body } => {
                crate::log_warn!("upstream {name} answered with an error event ({status})");
                let client_body = client_error_body(self.cx.call.client, status, &body);
                // Nothing reached the client yet: like an HTTP error, a
                // request fault ends the request, anything else tries the
                // pool's next model first.
                let stop = crate::credentials::classify(status, &body, &at.provider.rules).stop;
                self.last = Some(Failure::Upstream {
                    status,
                    body: client_body,
                    retry_after: None,
                });
                // A request fault or `stop` rule ends the request outright.
                self.bootstrap = (!stop).then_some(status);
                if at.more && !stop {
                    return MemberStep::NextMember;
                }
                self.report(at.lease, &Outcome::failure(status, &body));
                MemberStep::NextLease
            }
        }
    }
}

/// The lease's credential in `snap`: (its id, provider index, key index).
/// By array index when the shard's scheduler generation was built from this
/// snapshot; by id only while a reload is in flight (the two generations
/// differ), so an old lease never indexes a newer snapshot's arrays.
/// `None`: the snapshot does not know the credential.
fn locate<'s>(
    shard: &crate::credentials::Shard,
    snap: &'s crate::state::Snapshot,
    lease: &Lease,
) -> Option<(&'s str, usize, Option<usize>)> {
    if let Some(i) = shard.spec_index(lease, snap.generation) {
        let (spec, c) = (snap.specs.get(i)?, snap.creds.get(i)?);
        return Some((&spec.id, c.provider, c.key));
    }
    let (id, &(pi, ki)) = snap.credentials.get_key_value(shard.credential_id(lease))?;
    Some((id, pi, ki))
}

/// One model of a pool on one leased credential.
struct At<'a> {
    lease: Lease,
    cred: &'a str,
    provider: &'a Provider,
    /// Key index within the provider entry (`None`: a keyless entry).
    ki: Option<usize>,
    target: &'a Target,
    /// Another model of the pool remains after this one.
    more: bool,
}

/// An upstream error event's OpenAI-shaped body rewritten as an error body
/// in the client's format (its `error.message` kept).
fn client_error_body(client: Format, status: u16, body: &[u8]) -> Vec<u8> {
    let message = crate::json::span::get_str(
        crate::json::span::get(body, b"error").unwrap_or(b"{}"),
        b"message",
    )
    .map(|m| {
        let mut u = Vec::with_capacity(m.len());
        crate::json::escape::unescape_into(&mut u, m);
        String::from_utf8_lossy(&u).into_owned()
    })
    .unwrap_or_default();
    let mut client_body = Vec::new();
    Error::new(ErrorKind::Upstream { status }, message).write_body(client, &mut client_body);
    client_body
}

/// Sends `request` on the provider's endpoint (through the key's proxy, if
/// any) while watching the client and, for non-stream requests with
/// `nonstream-keepalive-interval`, committing `200` and writing newlines
/// during the wait. `None`: the client left (or a keep-alive write failed).
///
/// A request from a Responses WebSocket client (`conn.ws` is set) to a Codex
/// entry or account with `websockets: true` goes over the upstream's
/// Responses WebSocket instead (`upstream::ws`), as CLIProxyAPI's
/// `CodexAutoExecutor` does; HTTP clients always take the SSE request, and
/// so does a refused upgrade (`426`).
async fn send(
    cx: &Ctx<'_>,
    conn: &mut Conn,
    provider: &Provider,
    ki: Option<usize>,
    request: Vec<u8>,
) -> Option<Result<Response, upstream::UpstreamError>> {
    let w = cx.w;
    let proxy = provider
        .proxies
        .get(ki.unwrap_or(0))
        .and_then(|p| p.as_deref());
    let ticks = if cx.call.stream {
        None
    } else {
        cx.snap.config.nonstream_keepalive
    };
    let use_ws = conn.ws.is_some()
        && provider.websockets
        && provider.kind == crate::providers::Kind::Codex
        && !cx.call.compact;
    // `X-Codex-Beta-Features` on an account's upgrade: the client's, else
    // `codex-header-defaults.beta-features` (CLIProxyAPI v6.9.7's
    // `ensureHeaderWithPriority`; a file's `headers` win in `upgrade_parts`).
    let beta_features = provider.account.as_ref().filter(|_| use_ws).and_then(|_| {
        cx.req
            .header("x-codex-beta-features")
            .map(crate::accounts::wire::trim)
            .filter(|v| !v.is_empty())
            .or_else(|| {
                Some(
                    cx.snap
                        .config
                        .header_defaults
                        .codex_beta_features
                        .as_bytes(),
                )
                .filter(|v| !v.is_empty())
            })
    });
    // The connection's upstream timer, lent to this exchange and put back
    // after it (see `upstream::send_timed`).
    let mut timer = conn
        .upstream_timer
        .take()
        .unwrap_or_else(|| Box::pin(monoio::time::sleep_until(monoio::time::cached_now())));
    let sent = 'wait: {
        let mut send = std::pin::pin!(async {
            if use_ws {
                let sent =
                    upstream::ws::send(&w.tls, &provider.endpoint, proxy, &request, beta_features)
                        .await;
                match sent {
                    Ok(Some(r)) => {
                        w.pool.borrow_mut().give(request);
                        return Ok(r);
                    }
                    Ok(None) => {
                        crate::log_info!(
                            "upstream {}: websocket upgrade refused (426), using HTTP",
                            provider.name
                        );
                    }
                    Err(e) => {
                        w.pool.borrow_mut().give(request);
                        return Err(e);
                    }
                }
            }
            upstream::send_timed(
                &w.pool,
                &w.tls,
                &provider.endpoint,
                proxy,
                request,
                false,
                provider.force_http1,
                Some(timer.as_mut()),
            )
            .await
        });
        loop {
            // Biased: the exchange is polled first, so a wait that is already
            // over arms no client watch; the tick timer is made only when
            // `nonstream-keepalive-interval` is on (an unpolled branch's future
            // is still constructed).
            let wake = monoio::select! {
                biased;
                r = &mut send => Some(Some(r)),
                _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => Some(None),
                _ = tick(ticks), if ticks.is_some() => None,
            };
            match wake {
                Some(r) => break 'wait r,
                // `nonstream-keepalive-interval`: commit 200 and send a
                // newline (valid leading JSON whitespace) while waiting.
                None => {
                    if conn.keepalive_newline().await.is_err() {
                        break 'wait None;
                    }
                }
            }
        }
    };
    conn.upstream_timer = Some(timer);
    sent
}

/// Resolves after `every` (never for `None`): a keep-alive tick for a
/// `select!` branch. Its timer is made on the first poll, so a branch
/// disabled by its precondition (`if every.is_some()`) costs no timer.
pub(super) async fn tick(every: Option<std::time::Duration>) {
    match every {
        Some(d) => monoio::time::loop_sleep(d).await,
        None => std::future::pending().await,
    }
}
