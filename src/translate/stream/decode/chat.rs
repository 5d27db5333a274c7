//! Decoder of OpenAI Chat Completions chunks.

use super::*;

/// OpenAI Chat decoder state.
#[derive(Debug, Default)]
pub struct ChatDec {
    /// Tool-call keys already announced with a `ToolCallStart`.
    pub(super) started: KeySet,
    pub(super) began: bool,
}

impl ChatDec {
    pub(super) fn decode(&mut self, data: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
        if data == b"[DONE]" {
            f(StreamEvent::Done);
            return;
        }
        if !is_object(data) {
            return;
        }
        let mut usage = None;
        visit_object(data, 0, |key, vs| match key {
            b"error" => match value_at(data, vs) {
                Some((err, _)) if err.first() == Some(&b'{') => {
                    emit_error(err, 0, f);
                    Step::Stop
                }
                _ => Step::Skip,
            },
            b"id" if !self.began => {
                let Some((id, end)) = value_at(data, vs) else {
                    return Step::Stop;
                };
                if let Some(id) = span::str_content(id) {
                    self.began = true;
                    f(StreamEvent::Start { id });
                }
                Step::End(end)
            }
            b"choices" if data.get(vs) == Some(&b'[') => {
                step(visit_array(data, vs, |es| step(self.choice(data, es, f))))
            }
            b"usage" => {
                let Some((u, end)) = value_at(data, vs) else {
                    return Step::Stop;
                };
                usage = Some(u);
                Step::End(end)
            }
            _ => Step::Skip,
        });
        if let Some(u) = usage {
            if u.first() == Some(&b'{') {
                let [pt, ct, ptd, ctd] = get_many(
                    u,
                    [
                        b"prompt_tokens",
                        b"completion_tokens",
                        b"prompt_tokens_details",
                        b"completion_tokens_details",
                    ],
                );
                f(StreamEvent::Usage(Usage {
                    input: num(pt),
                    output: num(ct),
                    cached: num(ptd.and_then(|d| get(d, b"cached_tokens"))),
                    reasoning: num(ctd.and_then(|d| get(d, b"reasoning_tokens"))),
                }));
            }
        }
    }

    /// Decode the choice object at `b[cs]`; returns its end.
    pub(super) fn choice(
        &mut self,
        b: &[u8],
        cs: usize,
        f: &mut dyn FnMut(StreamEvent<'_>),
    ) -> Option<usize> {
        let (mut index, mut finish) = (None, None);
        // Members of `delta`, read in the same pass: content, reasoning_content, reasoning,
        // tool_calls.
        let mut d: [Option<&[u8]>; 4] = [None; 4];
        let mut has_delta = false;
        let end = visit_object(b, cs, |key, vs| {
            let slot = match key {
                b"index" => &mut index,
                b"finish_reason" => &mut finish,
                b"delta" if b.get(vs) == Some(&b'{') => {
                    has_delta = true;
                    return step(visit_object(b, vs, |k, dvs| {
                        let n = match k {
                            b"content" => 0,
                            b"reasoning_content" => 1,
                            b"reasoning" => 2,
                            b"tool_calls" => 3,
                            _ => return Step::Skip,
                        };
                        let Some((v, end)) = value_at(b, dvs) else {
                            return Step::Stop;
                        };
                        d[n] = Some(v);
                        Step::End(end)
                    }));
                }
                _ => return Step::Skip,
            };
            let Some((v, end)) = value_at(b, vs) else {
                return Step::Stop;
            };
            *slot = Some(v);
            Step::End(end)
        })?;
        let ci = index.and_then(span::as_u64).unwrap_or(0) as u32;
        if has_delta {
            let [content, rc, r, tcs] = d;
            if let Some(text) = nonempty(rc).or_else(|| nonempty(r)) {
                f(StreamEvent::Reasoning { choice: ci, text });
            }
            if let Some(text) = nonempty(content) {
                f(StreamEvent::Text { choice: ci, text });
            }
            if let Some(tcs) = tcs {
                for tc in span::array(tcs) {
                    let [index, id, func] = get_many(tc, [b"index", b"id", b"function"]);
                    let ti = index.and_then(span::as_u64).unwrap_or(0) as u32;
                    let key = (ci, ti);
                    let [name, arguments] =
                        get_many(func.unwrap_or(b"{}"), [b"name", b"arguments"]);
                    if !self.started.contains(key) {
                        if self.started.0.len() >= super::super::encode::MAX_TOOL_CALLS {
                            continue;
                        }
                        self.started.insert(key);
                        f(StreamEvent::ToolCallStart {
                            choice: ci,
                            index: ti,
                            id: id.and_then(span::str_content).unwrap_or(b""),
                            name: name.and_then(span::str_content).unwrap_or(b""),
                        });
                    }
                    if let Some(a) = nonempty(arguments) {
                        f(StreamEvent::ToolArgs {
                            choice: ci,
                            index: ti,
                            args: Args::Escaped(a),
                        });
                    }
                }
            }
        }
        if let Some(native) = finish.and_then(span::str_content).filter(|s| !s.is_empty()) {
            let reason = match native {
                b"length" => FinishReason::Length,
                b"tool_calls" | b"function_call" => FinishReason::ToolCalls,
                b"content_filter" => FinishReason::ContentFilter,
                _ => FinishReason::Stop,
            };
            f(StreamEvent::Finish {
                choice: ci,
                reason,
                native,
            });
        }
        Some(end)
    }
}
