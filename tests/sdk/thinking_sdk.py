"""Reasoning through the official SDKs (openai chat + responses, anthropic
messages, google-genai) against cliproxy and a mock upstream of every kind
(OpenAI-compatible, Claude, Gemini, Codex/Responses).

Usage: python3 tests/sdk/thinking_sdk.py path/to/cliproxy [driver]
Every SDK asks for reasoning in its own terms ("high" / a 24576-token budget),
stream and not, against every upstream kind. Each check asserts that the
upstream request carried that upstream's thinking fields, and that the
upstream's reasoning text (and, within a provider family, its signature) comes
back through the SDK's own types (a Codex reasoning item's encrypted content
reaches Anthropic clients as the thinking signature). Prints 'N passed, N failed'; exits non-zero
on any failure.
"""
import base64
import re

from google.genai import types

import harness
from harness import assert_eq, sse

THOUGHT = ["Weighing \"both\" options — ", "ünïcödé\nthen deciding."]
REASONING = "".join(THOUGHT)
TEXT = "The answer."
CLAUDE_SIG = "EqQBCkYIBRgCKkD+/sig_Claude=="
GEMINI_SIG = base64.b64encode(b"gemini thought signature").decode()
CODEX_ENC = "gAAAAABp-codex+reasoning/blob=="  # Codex encrypted reasoning: a Claude client's signature
KEY = "sk-sdk-think"
SEEN = []


class Upstream(harness.Upstream):
    def record(self, body):
        SEEN.append((self.path, body))

    def compat(self, body, stream):
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
        if stream:
            evs = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}])]
            evs += [dict(base, choices=[{"index": 0, "delta": {"reasoning_content": t}, "finish_reason": None}]) for t in THOUGHT]
            evs.append(dict(base, choices=[{"index": 0, "delta": {"content": TEXT}, "finish_reason": None}]))
            evs.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
            return self.chat_stream(evs)
        msg = {"role": "assistant", "reasoning_content": REASONING, "content": TEXT}
        self.json({"id": "c1", "object": "chat.completion", "created": 1, "model": body["model"], "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12, "completion_tokens_details": {"reasoning_tokens": 4}}})

    def claude(self, body, stream):
        m = body["model"]
        if stream:
            evs = [harness.claude_start(m),
                   ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})]
            evs += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": t}}) for t in THOUGHT]
            evs += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": CLAUDE_SIG}}),
                    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
                    ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": TEXT}}),
                    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
                    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 9}}),
                    ("message_stop", {"type": "message_stop"})]
            return self.stream(sse(evs))
        content = [{"type": "thinking", "thinking": REASONING, "signature": CLAUDE_SIG}, {"type": "text", "text": TEXT}]
        self.json({"id": "msg_1", "type": "message", "role": "assistant", "model": m, "content": content, "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 9}})

    def gemini(self, body, stream):
        usage = {"promptTokenCount": 5, "candidatesTokenCount": 5, "thoughtsTokenCount": 4, "totalTokenCount": 14}
        if stream:
            evs = [(None, {"candidates": [{"content": {"role": "model", "parts": [{"text": THOUGHT[0], "thought": True}]}, "index": 0}]}),
                   (None, {"candidates": [{"content": {"role": "model", "parts": [{"text": THOUGHT[1], "thought": True, "thoughtSignature": GEMINI_SIG}]}, "index": 0}]}),
                   (None, {"candidates": [{"content": {"role": "model", "parts": [{"text": TEXT}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": usage})]
            return self.stream(sse(evs))
        parts = [{"text": REASONING, "thought": True, "thoughtSignature": GEMINI_SIG}, {"text": TEXT}]
        self.json({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}], "usageMetadata": usage})

    def codex(self, body, stream):
        rs = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": REASONING}], "encrypted_content": CODEX_ENC}
        msg = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": TEXT, "annotations": []}]}
        evs = [("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
               ("response.reasoning_summary_part.added", {"type": "response.reasoning_summary_part.added", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "part": {"type": "summary_text", "text": ""}})]
        evs += [("response.reasoning_summary_text.delta", {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": t}) for t in THOUGHT]
        evs += [("response.reasoning_summary_text.done", {"type": "response.reasoning_summary_text.done", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "text": REASONING}),
                ("response.reasoning_summary_part.done", {"type": "response.reasoning_summary_part.done", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "part": {"type": "summary_text", "text": REASONING}}),
                ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": rs}),
                ("response.output_item.added", {"type": "response.output_item.added", "output_index": 1, "item": dict(msg, content=[], status="in_progress")}),
                ("response.content_part.added", {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 1, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
                ("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": TEXT}),
                ("response.output_text.done", {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 1, "content_index": 0, "text": TEXT}),
                ("response.output_item.done", {"type": "response.output_item.done", "output_index": 1, "item": msg})]
        resp = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "codex-up", "output": [rs, msg],
                "usage": {"input_tokens": 5, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 14}}
        evs = [("response.created", {"type": "response.created", "response": dict(resp, status="in_progress", output=[])})] + evs
        evs.append(("response.completed", {"type": "response.completed", "response": resp}))
        self.stream(sse(harness.numbered(evs)))


def upstream_ok(model, body, budget=24576, effort="high"):
    """The thinking fields the upstream request must carry."""
    if model.startswith("m-compat"):
        assert_eq(body.get("reasoning_effort"), effort)
    elif model.startswith("m-claude"):
        assert_eq(body.get("thinking"), {"type": "enabled", "budget_tokens": budget})
        assert body["max_tokens"] > budget, body
        assert "temperature" not in body and "top_k" not in body, body
    elif model.startswith("m-gemini"):
        # Gemini reads both spellings; google-genai itself sends snake_case.
        tc = {re.sub(r"_(.)", lambda x: x.group(1).upper(), k): v for k, v in body["generationConfig"]["thinkingConfig"].items()}
        assert_eq(tc, {"thinkingBudget": budget, "includeThoughts": True})
    else:
        assert_eq(body["reasoning"], {"effort": effort, "summary": "auto"})
        assert "reasoning.encrypted_content" in body["include"], body


def main():
    binary, driver = harness.args()
    run = harness.Run(Upstream)
    srv = run.start(binary, driver, KEY, harness.upstreams_yaml(run.base), prefix="cliproxy-think-")
    oa, an, gg = harness.clients(srv, KEY)
    user = [{"role": "user", "content": "think"}]
    checks = []

    def add(name, model, fn, **want):
        def run():
            before = len(SEEN)
            fn()
            assert len(SEEN) > before, "upstream not called"
            upstream_ok(model, SEEN[before][1], **want)
        checks.append((name, run))

    def same_family(model, family):
        return model.startswith(family)

    for model in ["m-compat", "m-claude", "m-gemini", "m-codex"]:
        # openai chat completions: reasoning_effort in, reasoning_content out
        def chat(m=model):
            msg = oa.chat.completions.create(model=m, messages=user, reasoning_effort="high").choices[0].message
            assert_eq((getattr(msg, "reasoning_content", None), msg.content), (REASONING, TEXT))
        add(f"openai chat {model}", model, chat)

        def chat_stream(m=model):
            r = t = ""
            for c in oa.chat.completions.create(model=m, messages=user, reasoning_effort="high", stream=True):
                if c.choices:
                    r += getattr(c.choices[0].delta, "reasoning_content", None) or ""
                    t += c.choices[0].delta.content or ""
            assert_eq((r, t), (REASONING, TEXT))
        add(f"openai chat stream {model}", model, chat_stream)

        # openai responses: reasoning.effort + summary in, reasoning items / summary events out
        def responses(m=model):
            r = oa.responses.create(model=m, input="think", reasoning={"effort": "high", "summary": "auto"})
            rs = [s.text for o in r.output if o.type == "reasoning" for s in o.summary]
            assert_eq(("".join(rs), r.output_text), (REASONING, TEXT))
        add(f"openai responses {model}", model, responses)

        def responses_stream(m=model):
            deltas = done = ""
            with oa.responses.stream(model=m, input="think", reasoning={"effort": "high", "summary": "auto"}) as s:
                for e in s:
                    if e.type == "response.reasoning_summary_text.delta":
                        deltas += e.delta
                    elif e.type == "response.reasoning_summary_text.done":
                        done += e.text
                final = s.get_final_response()
            items = "".join(x.text for o in final.output if o.type == "reasoning" for x in o.summary)
            assert_eq((deltas, done, items, final.output_text), (REASONING, REASONING, REASONING, TEXT))
        add(f"openai responses stream {model}", model, responses_stream)

        # anthropic messages: thinking enabled in, thinking blocks out
        def messages(m=model):
            r = an.messages.create(model=m, max_tokens=32000, messages=user, thinking={"type": "enabled", "budget_tokens": 24576})
            th = [b for b in r.content if b.type == "thinking"]
            assert_eq(("".join(b.thinking for b in th), "".join(b.text for b in r.content if b.type == "text")), (REASONING, TEXT))
            if same_family(m, "m-claude") or same_family(m, "m-codex"):
                assert_eq(th[0].signature, CLAUDE_SIG if same_family(m, "m-claude") else CODEX_ENC)
        add(f"anthropic messages {model}", model, messages)

        def messages_stream(m=model):
            thinking = ""
            with an.messages.stream(model=m, max_tokens=32000, messages=user, thinking={"type": "enabled", "budget_tokens": 24576}) as s:
                for e in s:
                    if e.type == "thinking":
                        thinking += e.thinking
                final = s.get_final_message()
            th = [b for b in final.content if b.type == "thinking"]
            assert_eq((thinking, "".join(b.thinking for b in th), "".join(b.text for b in final.content if b.type == "text")), (REASONING, REASONING, TEXT))
            if same_family(m, "m-claude") or same_family(m, "m-codex"):
                assert_eq(th[0].signature, CLAUDE_SIG if same_family(m, "m-claude") else CODEX_ENC)
        add(f"anthropic messages stream {model}", model, messages_stream)

        # google-genai: thinkingConfig in, thought parts out
        think_cfg = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=24576, include_thoughts=True))

        def gen(m=model):
            parts = gg.models.generate_content(model=m, contents="think", config=think_cfg).candidates[0].content.parts
            assert_eq(("".join(p.text for p in parts if p.thought), "".join(p.text for p in parts if not p.thought)), (REASONING, TEXT))
            if same_family(m, "m-gemini"):
                assert_eq([base64.b64encode(p.thought_signature).decode() for p in parts if p.thought_signature], [GEMINI_SIG])
        add(f"genai {model}", model, gen)

        def gen_stream(m=model):
            parts = [p for c in gg.models.generate_content_stream(model=m, contents="think", config=think_cfg)
                     if c.candidates and c.candidates[0].content and c.candidates[0].content.parts
                     for p in c.candidates[0].content.parts]
            assert_eq(("".join(p.text or "" for p in parts if p.thought), "".join(p.text or "" for p in parts if not p.thought)), (REASONING, TEXT))
        add(f"genai stream {model}", model, gen_stream)

    # Claude Code's adaptive thinking with output_config.effort, to every upstream.
    for model in ["m-compat", "m-gemini", "m-codex"]:
        def adaptive(m=model):
            r = an.messages.create(model=m, max_tokens=32000, messages=user, thinking={"type": "adaptive"}, extra_body={"output_config": {"effort": "high"}})
            assert_eq("".join(b.thinking for b in r.content if b.type == "thinking"), REASONING)
        add(f"anthropic adaptive {model}", model, adaptive)
    # The model suffix beats the body: "(low)" = 1024 tokens / "low".
    for model in ["m-compat(low)", "m-claude(low)", "m-gemini(low)", "m-codex(low)"]:
        add(f"openai chat suffix {model}", model,
            lambda m=model: assert_eq(oa.chat.completions.create(model=m, messages=user, reasoning_effort="high").choices[0].message.content, TEXT),
            budget=1024, effort="low")

    run.check(driver, checks)


if __name__ == "__main__":
    main()
