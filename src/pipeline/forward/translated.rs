//! Stage: relaying an upstream answer in another format, translated whole
//! (non-stream clients; a Codex stream is aggregated) or event by event.

use super::*;

/// Reshapes translated client SSE for routes that want something else.
pub(super) enum Shaper {
    None,
    /// Legacy `/v1/completions` chunks.
    Legacy(crate::translate::completions::LegacyStream),
    /// Gemini non-SSE `alt`: raw JSON chunks.
    Raw(crate::sse::DataOnly),
}

impl Shaper {
    fn for_call(call: &Call<'_>) -> Shaper {
        if call.legacy_completions {
            Shaper::Legacy(Default::default())
        } else if call.gemini_raw {
            Shaper::Raw(Default::default())
        } else {
            Shaper::None
        }
    }

    /// Rewrites `out` in place; `last` flushes any held partial event.
    fn apply(&mut self, out: &mut Vec<u8>, last: bool) {
        if matches!(self, Shaper::None) {
            // The common case: no buffer allocated (it was, per read, before).
            return;
        }
        let mut conv = Vec::with_capacity(out.len() + 64);
        match self {
            Shaper::None => {}
            Shaper::Legacy(ls) => {
                ls.feed(out, &mut conv);
                if last {
                    ls.finish(&mut conv);
                }
            }
            Shaper::Raw(d) => {
                d.feed(out, &mut conv);
                if last {
                    d.finish(&mut conv);
                }
            }
        }
        *out = conv;
    }
}

/// Most bytes of a non-streamed upstream answer buffered for translation.
pub(super) const MAX_TRANSLATED_BODY: usize = 64 * 1024 * 1024;

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How a Codex/Responses stream ended, for a non-stream client.
#[derive(Debug, PartialEq, Eq)]
pub enum Terminal {
    /// `response.completed` or `response.incomplete` (a normal end, e.g.
    /// `max_output_tokens`): the whole event data (the response translator
    /// unwraps `response`).
    Answer(Vec<u8>),
    /// `response.failed` or `error`: the HTTP status the error stands for and
    /// an OpenAI-shaped error body (`{"error":{"message","type","code"}}`).
    Failed { status: u16, body: Vec<u8> },
}

/// The terminal event of a Codex/Responses stream; `None` if the stream
/// stopped before any.
pub fn terminal_event(stream: &[u8]) -> Option<Terminal> {
    let mut scanner = crate::sse::Scanner::new();
    let mut found = None;
    // `output_item.done` items by output index (then those without one), for
    // a terminal event whose `response.output` came back empty.
    let mut items: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut take = |item: crate::sse::Item<'_>| {
        let crate::sse::Item::Event(ev) = item else {
            return;
        };
        if matches!(found, Some(Terminal::Failed { .. })) {
            return;
        }
        let ty = crate::json::span::get_str(ev.data, b"type").or(ev.event);
        match ty {
            Some(b"response.output_item.done") => {
                use crate::json::span as json;
                if let Some(item) = json::get(ev.data, b"item").filter(|i| i.first() == Some(&b'{'))
                {
                    let index = json::get_u64(ev.data, b"output_index").unwrap_or(u64::MAX);
                    match items
                        .iter_mut()
                        .find(|(i, _)| *i == index && index != u64::MAX)
                    {
                        Some(slot) => slot.1 = item.to_vec(),
                        None => items.push((index, item.to_vec())),
                    }
                }
            }
            Some(b"response.completed") | Some(b"response.incomplete") => {
                found = Some(Terminal::Answer(with_collected_output(ev.data, &mut items)));
            }
            Some(b"response.failed") | Some(b"error") => {
                // The stream decoder knows how these map to a status.
                let mut tr = new_stream_translator(
                    Format::Codex,
                    Format::OpenAiChat,
                    StreamCtx {
                        model: "",
                        created: 0,
                        id_seed: 0,
                    },
                );
                let mut sink = Vec::new();
                let mut one = Vec::with_capacity(ev.data.len() + 16);
                crate::sse::write::write_event(&mut one, ev.event, ev.data);
                tr.feed(&one, &mut sink);
                if let Some((status, body)) = tr.upstream_error() {
                    found = Some(Terminal::Failed {
                        status,
                        body: body.to_vec(),
                    });
                }
            }
            _ => {}
        }
    };
    scanner.feed(stream, &mut take).ok()?;
    scanner.finish(&mut take).ok()?;
    found
}

/// The terminal event `data`, with `response.output` rebuilt from the
/// collected `output_item.done` items when the upstream left it empty (the
/// Codex backend does; CLIProxyAPI patches it the same way).
pub(super) fn with_collected_output(data: &[u8], items: &mut [(u64, Vec<u8>)]) -> Vec<u8> {
    use crate::json::span as json;
    let output = json::path(data, &[b"response", b"output"]);
    let empty = output.is_some_and(|o| {
        o.first() == Some(&b'[') && o[1..].iter().all(|c| c.is_ascii_whitespace() || *c == b']')
    });
    let (Some(output), true, false) = (output, empty, items.is_empty()) else {
        return data.to_vec();
    };
    // `output` is a sub-slice of `data`: its offset is where the edit goes.
    let start = output.as_ptr() as usize - data.as_ptr() as usize;
    let end = start + output.len();
    items.sort_by_key(|(i, _)| *i);
    let len = items.iter().map(|(_, v)| v.len() + 1).sum::<usize>();
    let mut out = Vec::with_capacity(data.len() + len + 2);
    out.extend_from_slice(&data[..start]);
    out.push(b'[');
    for (n, (_, item)) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
    out.extend_from_slice(&data[end..]);
    out
}

/// The `custom` / `namespace` tools of a Responses client's request, when the
/// upstream is not Responses-shaped (their calls must be mapped back).
pub(super) fn client_tools(call: &Call<'_>, from: Format) -> Option<ClientTools> {
    let responses = |f: Format| matches!(f, Format::OpenAiResponses | Format::Codex);
    if !responses(call.client) || responses(from) {
        return None;
    }
    ClientTools::from_responses_body(call.body)
}

/// Relays an upstream answer in another format, translating it: whole for
/// non-stream clients (a Codex stream is aggregated), event by event for
/// streams. Nothing reaches the client before the translator produced output.
#[allow(
    clippy::too_many_arguments,
    reason = "the relay's inputs, passed through"
)]
pub(super) async fn relay_translated(
    w: &Rc<Worker>,
    conn: &mut Conn,
    resp: Response,
    from: Format,
    call: &Call<'_>,
    model: &str,
    fwd: &[u8],
    sniff: Option<&mut crate::management::usage::Sniffer>,
) -> Relayed {
    if call.stream {
        translate_stream(w, conn, resp, from, call, model, fwd, sniff).await
    } else {
        translate_whole(w, conn, resp, from, call, model, fwd, sniff).await
    }
}

/// A non-stream client: the whole answer (a Codex stream aggregated to its
/// terminal event) translated at once.
#[allow(
    clippy::too_many_arguments,
    reason = "the relay's inputs, passed through"
)]
async fn translate_whole(
    w: &Rc<Worker>,
    conn: &mut Conn,
    mut resp: Response,
    from: Format,
    call: &Call<'_>,
    model: &str,
    fwd: &[u8],
    sniff: Option<&mut crate::management::usage::Sniffer>,
) -> Relayed {
    let created = unix_now();
    let status = resp.status();
    let mut body = w.pool.borrow_mut().buf();
    let read = monoio::select! {
        biased;
        r = resp.read_to_end(&mut body, MAX_TRANSLATED_BODY) => Some(r),
        _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
    };
    match read {
        None => return Relayed::ClientGone,
        Some(Err(e)) => return Relayed::NoFirstByte(e.to_string()),
        Some(Ok(())) => resp.release(&w.pool),
    }
    let completed;
    let data: &[u8] = if from == Format::Codex {
        match terminal_event(&body) {
            Some(Terminal::Answer(d)) => {
                completed = d;
                &completed
            }
            Some(Terminal::Failed { status, body }) => {
                return Relayed::UpstreamError { status, body };
            }
            None => {
                return Relayed::NoFirstByte(
                    "upstream stream ended without response.completed".into(),
                )
            }
        }
    } else if from == Format::GeminiCli && crate::accounts::wire::antigravity::is_sse(&body) {
        // An Antigravity non-stream call sent as a stream: merged into one answer.
        match crate::accounts::wire::antigravity::aggregate_stream(&body) {
            Some(d) => {
                completed = d;
                &completed
            }
            None => return Relayed::NoFirstByte("upstream stream carried no answer".into()),
        }
    } else {
        &body
    };
    if let Some(t) = conn.trace.as_mut() {
        t.upstream_body(&body);
    }
    if let Some(s) = sniff {
        if from == Format::Codex {
            s.event(Some(b"response.completed"), data);
        } else {
            s.feed(data);
        }
    }
    let mut out = w.pool.borrow_mut().buf();
    let ctx = RespCtx {
        client_model: model,
        created,
    };
    let tools = client_tools(call, from);
    if let Err(e) =
        translate_response_tools(from, call.client, data, &ctx, tools.as_ref(), &mut out)
    {
        return Relayed::NoFirstByte(format!("untranslatable upstream answer: {}", e.message));
    }
    if call.legacy_completions {
        out = crate::translate::completions::response_from_chat(&out);
    }
    reply::json_forwarding(&mut conn.out, status, &out, false, &[], fwd);
    {
        let mut p = w.pool.borrow_mut();
        p.give(body);
        p.give(out);
    }
    Relayed::Done(conn.flush().await.is_ok(), false)
}

/// A stream client: translated event by event; nothing is written before
/// the translator produced client bytes.
#[allow(
    clippy::too_many_arguments,
    reason = "the relay's inputs, passed through"
)]
async fn translate_stream(
    w: &Rc<Worker>,
    conn: &mut Conn,
    mut resp: Response,
    from: Format,
    call: &Call<'_>,
    model: &str,
    fwd: &[u8],
    mut sniff: Option<&mut crate::management::usage::Sniffer>,
) -> Relayed {
    let created = unix_now();
    let keepalive = stream_keepalive(w, call.client);
    let ctx = StreamCtx {
        model,
        created,
        id_seed: created ^ (w.rr.get() << 20),
    };
    // Reuse this core's translator for the pair: its buffers are warm.
    let cached = {
        let mut cache = w.translators.borrow_mut();
        cache
            .iter()
            .position(|(k, _)| *k == (from, call.client))
            .map(|i| cache.swap_remove(i).1)
    };
    let mut tr = match cached {
        Some(mut t) => {
            t.reset(ctx);
            t
        }
        None => new_stream_translator(from, call.client, ctx),
    };
    tr.set_client_tools(client_tools(call, from));
    // Upstream bytes fed: a translator's buffers grow with the largest event
    // it saw, never more than this, so it bounds what a cached one keeps.
    let mut fed = 0usize;
    let mut chunk = w.pool.borrow_mut().buf();
    let mut shaper = Shaper::for_call(call);
    // Without a shaper the translator writes straight into the client's
    // buffer, inside a chunk whose size is filled in when it closes: the
    // stream's bytes are not copied again into a framed buffer, and no
    // scratch buffer is held. The head goes first; it is taken back if no
    // client byte ever comes.
    let direct = matches!(shaper, Shaper::None);
    let mut out = if direct {
        Vec::new()
    } else {
        w.pool.borrow_mut().buf()
    };
    let base = conn.out.len();
    let mut open = None;
    if direct {
        stream_head(&mut conn.out, call.gemini_raw, fwd);
        open = Some(encode::OpenChunk::open(&mut conn.out));
    }
    // First-byte commit: read until the translator produced client bytes.
    let mut more = true;
    while match open {
        Some(c) => c.is_empty(&conn.out),
        None => out.is_empty(),
    } {
        let r = next_event_bytes(&mut resp, &mut chunk, conn, None).await;
        match r {
            None => {
                conn.out.truncate(base);
                return Relayed::ClientGone;
            }
            Some(Err(e)) => {
                conn.out.truncate(base);
                return Relayed::NoFirstByte(e.to_string());
            }
            Some(Ok(true)) => {
                fed += chunk.len();
                if let Some(s) = sniff.as_deref_mut() {
                    s.feed(&chunk);
                }
                if let Some(t) = conn.trace.as_mut() {
                    t.upstream_body(&chunk);
                }
                tr.feed(&chunk, sink(direct, conn, &mut out));
                chunk.clear();
            }
            Some(Ok(false)) => {
                tr.finish(sink(direct, conn, &mut out));
                more = false;
                break;
            }
        }
    }
    if !direct {
        stream_head(&mut conn.out, call.gemini_raw, fwd);
    }
    loop {
        match open.take() {
            Some(c) => c.close(&mut conn.out),
            None => {
                shaper.apply(&mut out, !more);
                encode::chunk(&mut conn.out, &out);
                out.clear();
            }
        }
        if !more {
            conn.out.extend_from_slice(encode::LAST_CHUNK);
            let ok = conn.flush().await.is_ok();
            resp.release(&w.pool);
            let mut p = w.pool.borrow_mut();
            p.give(chunk);
            p.give(out);
            let failed = tr.upstream_error().map(|(s, b)| (s, b.to_vec()));
            let mut cache = w.translators.borrow_mut();
            if cache.len() < MAX_CACHED_TRANSLATORS && fed <= MAX_CACHED_TRANSLATOR_INPUT {
                cache.push(((from, call.client), tr));
            }
            return match failed {
                Some((status, body)) => Relayed::DoneWithError(ok, status, body),
                None => Relayed::Done(ok, false),
            };
        }
        if !resp.is_done() && conn.flush().await.is_err() {
            return Relayed::ClientGone;
        }
        // Opened after the wait: a keep-alive written during it is a chunk
        // of its own.
        let r = next_event_bytes(&mut resp, &mut chunk, conn, keepalive).await;
        if direct {
            open = Some(encode::OpenChunk::open(&mut conn.out));
        }
        match r {
            None => return Relayed::ClientGone,
            Some(Ok(true)) => {
                fed += chunk.len();
                if let Some(s) = sniff.as_deref_mut() {
                    s.feed(&chunk);
                }
                if let Some(t) = conn.trace.as_mut() {
                    t.upstream_body(&chunk);
                }
                tr.feed(&chunk, sink(direct, conn, &mut out));
                chunk.clear();
            }
            Some(Ok(false)) => {
                tr.finish(sink(direct, conn, &mut out));
                more = false;
            }
            Some(Err(e)) => {
                crate::log_warn!("upstream stream broke: {e}");
                Error::new(
                    ErrorKind::BrokenStream,
                    format!("upstream stream interrupted: {e}"),
                )
                .write_event(&mut tr, sink(direct, conn, &mut out));
                match open.take() {
                    Some(c) => c.close(&mut conn.out),
                    None => {
                        shaper.apply(&mut out, true);
                        encode::chunk(&mut conn.out, &out);
                    }
                }
                conn.out.extend_from_slice(encode::LAST_CHUNK);
                return Relayed::Done(conn.flush().await.is_ok(), true);
            }
        }
    }
}

/// Where a translator writes: the client's buffer itself (inside an open
/// chunk) or, when a shaper rewrites the output first, the scratch buffer.
#[inline]
fn sink<'a>(direct: bool, conn: &'a mut Conn, out: &'a mut Vec<u8>) -> &'a mut Vec<u8> {
    if direct {
        &mut conn.out
    } else {
        out
    }
}

/// The `200` chunked head of a translated stream (raw JSON chunks for a
/// Gemini client's non-SSE `alt`), with the forwarded upstream lines `fwd`.
fn stream_head(o: &mut Vec<u8>, gemini_raw: bool, fwd: &[u8]) {
    let head_start = o.len();
    encode::status_line(o, 200);
    if gemini_raw {
        encode::header(o, "Content-Type", b"application/json");
    } else {
        encode::header(o, "Content-Type", b"text/event-stream");
        encode::header(o, "Cache-Control", b"no-cache");
        encode::header(o, "Connection", b"keep-alive");
    }
    encode::header(o, reply::CORS_ORIGIN.0, reply::CORS_ORIGIN.1);
    passthrough::append(o, head_start, fwd);
    encode::header(o, "Transfer-Encoding", b"chunked");
    o.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::Shaper;

    /// Without a shaper the relay's output buffer (a pooled one, warm) is
    /// left as it is: no replacement buffer per read.
    #[test]
    fn no_shaper_keeps_the_output_buffer() {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(b"data: {}\n\n");
        let (ptr, cap) = (out.as_ptr(), out.capacity());
        for last in [false, true] {
            Shaper::None.apply(&mut out, last);
            assert_eq!(out, b"data: {}\n\n");
            assert_eq!((out.as_ptr(), out.capacity()), (ptr, cap));
        }
        // A shaper still rewrites (legacy completions chunks).
        let mut legacy = Shaper::Legacy(Default::default());
        let mut chat = b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n".to_vec();
        legacy.apply(&mut chat, false);
        assert!(
            chat.windows(4).any(|w| w == b"\"hi\""),
            "{}",
            String::from_utf8_lossy(&chat)
        );
        assert!(
            !chat.windows(5).any(|w| w == b"delta"),
            "{}",
            String::from_utf8_lossy(&chat)
        );
    }
}
