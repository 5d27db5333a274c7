"""Official SDKs (openai, anthropic, google-genai) against cliproxy and a mock
upstream of every kind (OpenAI-compatible, Claude, Gemini, Codex/Responses).

Usage: python3 tests/sdk/all_sdks.py path/to/cliproxy [driver]
For every SDK surface x upstream kind (the openai Responses WebSocket of
`responses.connect()` included): text, streamed text and a tool call with
arguments must arrive exactly as the upstream sent them; `responses.compact`
on the upstreams that have it. Prints
'N passed, N failed'; exits non-zero on any failure.
"""
import json

import anthropic
from google import genai
from google.genai import types

import harness
from harness import assert_eq, sse

TEXT = "Hola from the upstream: \"quoted\", ünïcödé, and\na newline."
PIECES = ["Hola from the upstream: ", "\"quoted\", ünïcödé, and\n", "a newline."]
ARGS = {"city": "Paris", "days": [1, 2]}
ARG_PIECES = ['{"city": "Pa', 'ris", "days"', ': [1, 2]}']
KEY = "sk-sdk-all"
SEEN = []


class Upstream(harness.Upstream):
    def record(self, body):
        SEEN.append((self.path, dict(self.headers), body))

    def special(self, path, body, stream):
        if path == "/v1/messages/count_tokens?beta=true":
            self.json({"input_tokens": 42})
            return True
        if path.endswith("/responses/compact"):
            self.json({"id": "resp_c", "object": "response.compaction", "created_at": 1, "output": [{"type": "compaction", "id": "cmp_1", "encrypted_content": "opaque"}], "usage": {"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}})
            return True
        return False

    def compat(self, body, stream):
        tools = bool(body.get("tools"))
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
        if stream:
            if tools:
                evs = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": None}])]
                evs += [dict(base, choices=[{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": a}}]}, "finish_reason": None}]) for a in ARG_PIECES]
                evs.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]))
            else:
                evs = [dict(base, choices=[{"index": 0, "delta": {"content": t}, "finish_reason": None}]) for t in PIECES]
                evs.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
            return self.chat_stream(evs)
        msg = {"role": "assistant", "content": TEXT}
        fin = "stop"
        if tools:
            msg = {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "".join(ARG_PIECES)}}]}
            fin = "tool_calls"
        self.json({"id": "c1", "object": "chat.completion", "created": 1, "model": body["model"], "choices": [{"index": 0, "message": msg, "finish_reason": fin}], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})

    def claude(self, body, stream):
        tools = bool(body.get("tools"))
        m = body["model"]
        if stream:
            evs = [harness.claude_start(m)]
            if tools:
                evs.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}))
                evs += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": a}}) for a in ARG_PIECES]
            else:
                evs.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
                evs += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}) for t in PIECES]
            evs += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use" if tools else "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 7}}),
                    ("message_stop", {"type": "message_stop"})]
            return self.stream(sse(evs))
        content = [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": ARGS}] if tools else [{"type": "text", "text": TEXT}]
        self.json({"id": "msg_1", "type": "message", "role": "assistant", "model": m, "content": content, "stop_reason": "tool_use" if tools else "end_turn", "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 7}})

    def gemini(self, body, stream):
        tools = bool(body.get("tools"))
        usage = {"promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12}
        if tools:
            chunk = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": ARGS}}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": usage}
            return self.stream(sse([(None, chunk)])) if stream else self.json(chunk)
        self.gemini_text(stream, PIECES, usage)

    def codex(self, body, stream):
        tools = bool(body.get("tools"))
        if tools:
            item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "".join(ARG_PIECES), "status": "completed"}
            evs = [("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": dict(item, arguments="", status="in_progress")})]
            evs += [("response.function_call_arguments.delta", {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 0, "delta": a}) for a in ARG_PIECES]
            evs.append(("response.function_call_arguments.done", {"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 0, "arguments": item["arguments"]}))
        else:
            item = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": TEXT, "annotations": []}]}
            evs = [("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": dict(item, content=[], status="in_progress")}),
                   ("response.content_part.added", {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})]
            evs += [("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": t}) for t in PIECES]
            evs.append(("response.output_text.done", {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": TEXT}))
        resp = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "codex-up", "output": [item], "usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}}
        evs = [("response.created", {"type": "response.created", "response": dict(resp, status="in_progress", output=[])})] + evs
        evs += [("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
                ("response.completed", {"type": "response.completed", "response": resp})]
        self.stream(sse(harness.numbered(evs)))


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "array", "items": {"type": "integer"}}}, "required": ["city"]}


def main():
    binary, driver = harness.args()
    run = harness.Run(Upstream)
    srv = run.start(binary, driver, KEY, harness.upstreams_yaml(run.base), prefix="cliproxy-sdks-")
    oa, an_root, gg = harness.clients(srv, KEY)
    an_alias = anthropic.Anthropic(base_url=f"{srv}/api/provider/claude", api_key=KEY, max_retries=0, timeout=20)
    gg_default = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=srv))
    user = [{"role": "user", "content": "weather?"}]
    checks = []

    def add(name, fn):
        checks.append((name, fn))

    for model in ["m-compat", "m-claude", "m-gemini", "m-codex"]:
        # openai chat completions
        add(f"openai chat {model}", lambda m=model: assert_eq(oa.chat.completions.create(model=m, messages=user).choices[0].message.content, TEXT))
        add(f"openai chat stream {model}", lambda m=model: assert_eq("".join(c.choices[0].delta.content or "" for c in oa.chat.completions.create(model=m, messages=user, stream=True) if c.choices), TEXT))

        def chat_tool(m=model):
            r = oa.chat.completions.create(model=m, messages=user, tools=[{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}])
            tc = r.choices[0].message.tool_calls[0]
            assert_eq((tc.function.name, json.loads(tc.function.arguments)), ("get_weather", ARGS))
        add(f"openai chat tool {model}", chat_tool)
        # openai responses
        add(f"openai responses {model}", lambda m=model: assert_eq(oa.responses.create(model=m, input="weather?").output_text, TEXT))
        add(f"openai responses stream {model}", lambda m=model: assert_eq("".join(e.delta for e in oa.responses.create(model=m, input="weather?", stream=True) if e.type == "response.output_text.delta"), TEXT))

        def resp_tool(m=model):
            r = oa.responses.create(model=m, input="weather?", tools=[{"type": "function", "name": "get_weather", "parameters": SCHEMA}])
            fc = [o for o in r.output if o.type == "function_call"][0]
            assert_eq((fc.name, json.loads(fc.arguments)), ("get_weather", ARGS))
        add(f"openai responses tool {model}", resp_tool)

        # openai responses over the WebSocket (responses.connect): text,
        # then a tool call as a second turn on the same socket.
        def resp_ws(m=model):
            with oa.responses.connect() as conn:
                conn.response.create(model=m, input="weather?")
                text = ""
                for ev in conn:
                    assert ev.type != "error", ev
                    if ev.type == "response.output_text.delta":
                        text += ev.delta
                    if ev.type == "response.completed":
                        break
                assert_eq(text, TEXT)
                conn.response.create(input=[{"role": "user", "content": "and tomorrow?"}], tools=[{"type": "function", "name": "get_weather", "parameters": SCHEMA}])
                call = None
                for ev in conn:
                    assert ev.type != "error", ev
                    if ev.type == "response.output_item.done" and ev.item.type == "function_call":
                        call = (ev.item.name, json.loads(ev.item.arguments))
                    if ev.type == "response.completed":
                        break
                assert_eq(call, ("get_weather", ARGS))
        add(f"openai responses websocket {model}", resp_ws)
        # anthropic messages (root and /api/provider/claude)
        for label, an in [("root", an_root), ("alias", an_alias)]:
            add(f"anthropic {label} {model}", lambda m=model, an=an: assert_eq("".join(b.text for b in an.messages.create(model=m, max_tokens=100, messages=user).content if b.type == "text"), TEXT))

        def an_stream(m=model):
            with an_root.messages.stream(model=m, max_tokens=100, messages=user) as s:
                assert_eq("".join(s.text_stream), TEXT)
        add(f"anthropic stream {model}", an_stream)

        def an_tool(m=model):
            r = an_root.messages.create(model=m, max_tokens=100, messages=user, tools=[{"name": "get_weather", "description": "w", "input_schema": SCHEMA}])
            tu = [b for b in r.content if b.type == "tool_use"][0]
            assert_eq((tu.name, tu.input), ("get_weather", ARGS))
        add(f"anthropic tool {model}", an_tool)
        # google-genai
        add(f"genai {model}", lambda m=model: assert_eq(gg.models.generate_content(model=m, contents="weather?").text, TEXT))
        add(f"genai stream {model}", lambda m=model: assert_eq("".join(c.text or "" for c in gg.models.generate_content_stream(model=m, contents="weather?")), TEXT))

        def gg_tool(m=model):
            cfg = types.GenerateContentConfig(
                tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather", description="w", parameters_json_schema=SCHEMA)])],
                automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
            r = gg.models.generate_content(model=m, contents="weather?", config=cfg)
            fc = r.function_calls[0]
            assert_eq((fc.name, dict(fc.args)), ("get_weather", ARGS))
        add(f"genai tool {model}", gg_tool)
    add("genai default api_version (/v1/models/...) m-gemini", lambda: assert_eq(gg_default.models.generate_content(model="m-gemini", contents="hi").text, TEXT))
    # /responses/compact: Codex and OpenAI-compatible upstreams answer it.
    for model in ["m-compat", "m-codex"]:
        add(f"openai responses compact {model}", lambda m=model: assert_eq(oa.responses.compact(model=m, input="weather?").output[0].type, "compaction"))
    add("anthropic count_tokens m-claude", lambda: assert_eq(an_root.messages.count_tokens(model="m-claude", messages=user).input_tokens, 42))

    # OpenAI-compatible and Codex upstreams have no count endpoint: cliproxy
    # estimates locally; the same text counts the same through both SDKs.
    def local_count(m):
        n = an_root.messages.count_tokens(model=m, messages=user).input_tokens
        assert n > 0, n
        assert_eq(gg.models.count_tokens(model=m, contents="weather?").total_tokens, n)
    for model in ["m-compat", "m-codex"]:
        add(f"anthropic+genai local count_tokens {model}", lambda m=model: local_count(m))

    run.check(driver, checks, limit=600)


if __name__ == "__main__":
    main()
