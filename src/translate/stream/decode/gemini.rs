//! Decoder of Gemini `alt=sse` chunks.

use super::*;

/// Gemini decoder state.
#[derive(Debug, Default)]
pub struct GeminiDec {
    pub(super) id_seed: u64,
    pub(super) started: bool,
    pub(super) tools: u32,
    pub(super) any_tool: bool,
    pub(super) idbuf: Vec<u8>,
}

impl GeminiDec {
    pub(super) fn decode(&mut self, data: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
        if !is_object(data) {
            return;
        }
        if !self.started && get(data, b"error").is_none() {
            // responseId comes last in Gemini chunks; look it up once so Start goes first.
            self.started = true;
            let inner = get(data, b"response")
                .filter(|r| r.first() == Some(&b'{'))
                .unwrap_or(data);
            f(StreamEvent::Start {
                id: get_str(inner, b"responseId").unwrap_or(b""),
            });
        }
        let mut finish: Option<&[u8]> = None;
        let mut usage = None;
        if !self.chunk(data, &mut finish, &mut usage, f) {
            return;
        }
        if let Some(u) = usage.filter(|u| u.first() == Some(&b'{')) {
            let [pt, ct, cc, tt] = get_many(
                u,
                [
                    b"promptTokenCount",
                    b"candidatesTokenCount",
                    b"cachedContentTokenCount",
                    b"thoughtsTokenCount",
                ],
            );
            f(StreamEvent::Usage(Usage {
                input: num(pt),
                output: num(ct).saturating_add(num(tt)),
                cached: num(cc),
                reasoning: num(tt),
            }));
        }
        if let Some(native) = finish {
            let reason = match native {
                b"MAX_TOKENS" => FinishReason::Length,
                b"SAFETY"
                | b"RECITATION"
                | b"BLOCKLIST"
                | b"PROHIBITED_CONTENT"
                | b"SPII"
                | b"IMAGE_SAFETY" => FinishReason::ContentFilter,
                _ if self.any_tool => FinishReason::ToolCalls,
                _ => FinishReason::Stop,
            };
            f(StreamEvent::Finish {
                choice: 0,
                reason,
                native,
            });
        }
    }

    /// One pass over a chunk object (or its `response` wrapper); false after an error.
    pub(super) fn chunk<'a>(
        &mut self,
        data: &'a [u8],
        finish: &mut Option<&'a [u8]>,
        usage: &mut Option<&'a [u8]>,
        f: &mut dyn FnMut(StreamEvent<'_>),
    ) -> bool {
        let mut ok = true;
        visit_object(data, 0, |key, vs| match key {
            b"error" => match value_at(data, vs) {
                Some((err, _)) if err.first() == Some(&b'{') => {
                    emit_error(err, 0, f);
                    ok = false;
                    Step::Stop
                }
                _ => Step::Skip,
            },
            b"response" => {
                let Some((inner, end)) = value_at(data, vs) else {
                    return Step::Stop;
                };
                if inner.first() == Some(&b'{') && !self.chunk(inner, finish, usage, f) {
                    ok = false;
                    return Step::Stop;
                }
                Step::End(end)
            }
            b"candidates" if data.get(vs) == Some(&b'[') => step(visit_array(data, vs, |cs| {
                step(self.candidate(data, cs, finish, f))
            })),
            b"usageMetadata" => {
                let Some((u, end)) = value_at(data, vs) else {
                    return Step::Stop;
                };
                *usage = Some(u);
                Step::End(end)
            }
            _ => Step::Skip,
        });
        ok
    }

    /// One candidate at `b[cs]`; returns its end.
    pub(super) fn candidate<'a>(
        &mut self,
        b: &'a [u8],
        cs: usize,
        finish: &mut Option<&'a [u8]>,
        f: &mut dyn FnMut(StreamEvent<'_>),
    ) -> Option<usize> {
        let (mut index, mut content, mut fr) = (None, None, None);
        let end = visit_object(b, cs, |key, vs| {
            let slot = match key {
                b"index" => &mut index,
                b"content" => &mut content,
                b"finishReason" => &mut fr,
                _ => return Step::Skip,
            };
            let Some((v, end)) = value_at(b, vs) else {
                return Step::Stop;
            };
            *slot = Some(v);
            Step::End(end)
        })?;
        let ci = index.and_then(span::as_u64).unwrap_or(0) as u32;
        if let Some(content) = content {
            visit_object(content, 0, |key, vs| match key {
                b"parts" => step(visit_array(content, vs, |ps| {
                    let Some((part, end)) = value_at(content, ps) else {
                        return Step::Stop;
                    };
                    self.part(ci, part, f);
                    Step::End(end)
                })),
                _ => Step::Skip,
            });
        }
        if ci == 0 {
            *finish = fr.and_then(span::str_content).filter(|s| !s.is_empty());
        }
        Some(end)
    }

    pub(super) fn part(&mut self, ci: u32, part: &[u8], f: &mut dyn FnMut(StreamEvent<'_>)) {
        let [text, thought, call, sig] = get_many(
            part,
            [b"text", b"thought", b"functionCall", b"thoughtSignature"],
        );
        if let Some(text) = text.and_then(span::str_content).filter(|s| !s.is_empty()) {
            if thought == Some(b"true") {
                f(StreamEvent::Reasoning { choice: ci, text });
            } else {
                f(StreamEvent::Text { choice: ci, text });
            }
        }
        if let Some(call) = call.filter(|c| c.first() == Some(&b'{')) {
            let index = self.tools;
            self.tools = self.tools.saturating_add(1);
            self.any_tool = true;
            let id = match get_str(call, b"id").filter(|s| !s.is_empty()) {
                Some(id) => id,
                None => {
                    self.idbuf.clear();
                    self.idbuf.extend_from_slice(b"call_");
                    write_hex(&mut self.idbuf, self.id_seed);
                    self.idbuf.push(b'_');
                    write_u64(&mut self.idbuf, u64::from(index));
                    &self.idbuf
                }
            };
            f(StreamEvent::ToolCallStart {
                choice: ci,
                index,
                id,
                name: str_or_empty(call, b"name"),
            });
            if let Some(args) = get(call, b"args").filter(|a| a.first() == Some(&b'{')) {
                f(StreamEvent::ToolArgs {
                    choice: ci,
                    index,
                    args: Args::Raw(args),
                });
            }
        }
        if let Some(sig) = sig.and_then(span::str_content).filter(|s| !s.is_empty()) {
            f(StreamEvent::ReasoningSignature { choice: ci, sig });
        }
    }
}
