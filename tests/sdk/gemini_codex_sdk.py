"""Official SDKs against cliproxy for two behaviours:

1. google-genai tools declared with `parameters_json_schema` (and OpenAPI
   `parameters`) plus `response_json_schema`, against every upstream kind
   (OpenAI-compatible, Claude, Gemini, Codex), stream and non-stream: the
   upstream must receive every property, the SDK must parse the answer.
2. openai (Chat, Responses), anthropic and google-genai clients when a Codex
   upstream ends with `response.incomplete` (the SDK's own "length" finish)
   or `response.failed` (the SDK raises / reports an error).

Usage: python3 tests/sdk/gemini_codex_sdk.py path/to/cliproxy [driver]
Prints 'N passed, N failed'; exits non-zero on any failure.
"""
import json
import time

import anthropic
import openai
from google.genai import errors as genai_errors
from google.genai import types

import harness
from harness import assert_eq, sse

KEY = "sk-sdk-gemcodex"
ANSWER = '{"city": "Paris", "unit": "c"}'
PIECES = ['{"city": ', '"Paris", "unit": "c"}']
SEEN = []
SCHEMA = {
    "type": "object",
    "description": "weather query",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["c", "f"]},
        "where": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}, "required": ["lat", "lon"]},
        "stops": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "hours": {"type": "integer"}}, "required": ["name"]}},
    },
    "required": ["city", "unit"],
}
# Clients x stream for the failing Codex models: one model each, so one
# failure's cooldown does not answer for the next check.
FAIL_SLOTS = [f"{c}-{s}" for c in ["chat", "resp", "claude", "genai"] for s in ["n", "s"]]


class Upstream(harness.Upstream):
    def record(self, body):
        SEEN.append((self.path, body))

    def special(self, path, body, stream):
        if path.startswith("/v1beta/models/gemini-slow:"):
            # Slower than nonstream-keepalive-interval: cliproxy sends
            # keep-alive newlines before the JSON body.
            time.sleep(2.5)
            self.gemini(body, stream)
            return True
        return False

    def compat(self, body, stream):
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
        if stream:
            evs = [dict(base, choices=[{"index": 0, "delta": {"content": t}, "finish_reason": None}]) for t in PIECES]
            evs.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
            return self.chat_stream(evs)
        self.json({"id": "c1", "object": "chat.completion", "created": 1, "model": body["model"], "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})

    def claude(self, body, stream):
        m = body["model"]
        if stream:
            evs = [harness.claude_start(m),
                   ("ping", {"type": "ping"}),
                   ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})]
            for t in PIECES:
                evs += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}), ("ping", {"type": "ping"})]
            evs += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 7}}),
                    ("message_stop", {"type": "message_stop"})]
            return self.stream(sse(evs))
        self.json({"id": "msg_1", "type": "message", "role": "assistant", "model": m, "content": [{"type": "text", "text": ANSWER}], "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 7}})

    def gemini(self, body, stream):
        usage = {"promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12}
        self.gemini_text(stream, PIECES, usage)

    def codex(self, body, stream):
        model = body.get("model", "")
        item = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": ANSWER, "annotations": []}]}
        created = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress", "model": model, "output": []}
        evs = [("response.created", {"type": "response.created", "response": created}),
               ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": dict(item, content=[], status="in_progress")}),
               ("response.content_part.added", {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})]
        evs += [("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": t}) for t in PIECES]
        usage = {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
        done = dict(created, output=[item], usage=usage)
        if model.startswith("codex-fail"):
            evs.append(("response.failed", {"type": "response.failed", "response": dict(created, status="failed", error={"code": "server_error", "message": "The model failed to generate a response."})}))
        elif model == "codex-inc":
            evs.append(("response.incomplete", {"type": "response.incomplete", "response": dict(done, status="incomplete", incomplete_details={"reason": "max_output_tokens"})}))
        else:
            evs += [("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
                    ("response.completed", {"type": "response.completed", "response": dict(done, status="completed")})]
        self.stream(sse(harness.numbered(evs)))


def schema_of(path, body):
    """The tool schema and response schema an upstream received."""
    if path == "/v1/chat/completions":
        return body["tools"][0]["function"]["parameters"], body.get("response_format", {}).get("json_schema", {}).get("schema")
    if path == "/v1/messages?beta=true":
        return body["tools"][0]["input_schema"], None  # Claude: no response schema (as CLIProxyAPI)
    if path == "/codex/responses":
        return body["tools"][0]["parameters"], body.get("text", {}).get("format", {}).get("schema")
    decl = body["tools"][0]["functionDeclarations"][0]
    gc = body.get("generationConfig", {})
    # Gemini upstream: the client's request as sent (google-genai writes
    # `parameters_json_schema` in snake case).
    tool = decl.get("parametersJsonSchema") or decl.get("parameters_json_schema") or decl.get("parameters")
    return tool, gc.get("responseJsonSchema") or gc.get("responseSchema")


def lower_types(v):
    if isinstance(v, dict):
        return {k: (x.lower() if k == "type" and isinstance(x, str) else lower_types(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [lower_types(x) for x in v]
    return v


def assert_whole(got, where):
    """Every property, nested property, enum, required list and description."""
    got = lower_types(got)
    def walk(want, have, at):
        if isinstance(want, dict):
            if not isinstance(have, dict):
                raise AssertionError(f"{where}: {at} missing in {json.dumps(got)}")
            for k, v in want.items():
                walk(v, have.get(k), f"{at}.{k}")
        elif want != have:
            raise AssertionError(f"{where}: {at} is {have!r}, want {want!r}; got {json.dumps(got)}")
    walk(SCHEMA, got, "schema")


def main():
    binary, driver = harness.args()
    run = harness.Run(Upstream)
    fail_models = ", ".join(f"{{name: codex-fail-{s}, alias: m-fail-{s}}}" for s in FAIL_SLOTS)
    upstreams = harness.upstreams_yaml(
        run.base,
        gemini_models="{name: gemini-up, alias: m-gemini}, {name: gemini-slow, alias: m-slow}",
        codex_models=f"{{name: codex-up, alias: m-codex}}, {{name: codex-inc, alias: m-inc}}, {fail_models}")
    srv = run.start(binary, driver, KEY, """nonstream-keepalive-interval: 1
streaming:
  keepalive-seconds: 1
""" + upstreams, prefix="cliproxy-gemcodex-")
    oa, an, gg = harness.clients(srv, KEY)
    user = [{"role": "user", "content": "story?"}]
    checks = []

    def add(name, fn):
        checks.append((name, fn))

    # 1. google-genai schemas to every upstream kind.
    openapi = types.Schema(
        type="OBJECT", description="weather query",
        properties={
            "city": types.Schema(type="STRING", description="City name"),
            "unit": types.Schema(type="STRING", enum=["c", "f"]),
            "where": types.Schema(type="OBJECT", properties={"lat": types.Schema(type="NUMBER"), "lon": types.Schema(type="NUMBER")}, required=["lat", "lon"]),
            "stops": types.Schema(type="ARRAY", items=types.Schema(type="OBJECT", properties={"name": types.Schema(type="STRING"), "hours": types.Schema(type="INTEGER")}, required=["name"])),
        },
        required=["city", "unit"])
    forms = {
        "json_schema": (types.FunctionDeclaration(name="get_weather", description="w", parameters_json_schema=SCHEMA), {"response_json_schema": SCHEMA}),
        "openapi": (types.FunctionDeclaration(name="get_weather", description="w", parameters=openapi), {"response_schema": openapi}),
    }
    for model in ["m-compat", "m-claude", "m-gemini", "m-codex"]:
        for form, (decl, resp) in forms.items():
            for stream in [False, True]:
                def gg_schema(m=model, decl=decl, resp=resp, stream=stream, form=form):
                    cfg = types.GenerateContentConfig(
                        tools=[types.Tool(function_declarations=[decl])],
                        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
                        response_mime_type="application/json", **resp)
                    n = len(SEEN)
                    if stream:
                        text = "".join(c.text or "" for c in gg.models.generate_content_stream(model=m, contents="weather?", config=cfg))
                    else:
                        text = gg.models.generate_content(model=m, contents="weather?", config=cfg).text
                    assert_eq(json.loads(text), json.loads(ANSWER))
                    path, body = SEEN[n]
                    tool, rs = schema_of(path, body)
                    assert_whole(tool, f"{m} {form} tool")
                    if path != "/v1/messages?beta=true":
                        assert_whole(rs, f"{m} {form} response schema")
                add(f"genai {form} schema {'stream ' if stream else ''}{model}", gg_schema)

    # google-genai accepts nonstream-keepalive-interval's leading newlines.
    add("genai non-stream with keep-alive newlines (slow upstream)", lambda: assert_eq(json.loads(gg.models.generate_content(model="m-slow", contents="hi").text), json.loads(ANSWER)))

    # 2. Codex endings.
    def chat_inc(stream):
        if stream:
            fins = [c.choices[0].finish_reason for c in oa.chat.completions.create(model="m-inc", messages=user, stream=True) if c.choices]
            assert_eq(fins[-1], "length")
        else:
            assert_eq(oa.chat.completions.create(model="m-inc", messages=user).choices[0].finish_reason, "length")

    def resp_inc(stream):
        if stream:
            evs = list(oa.responses.create(model="m-inc", input="story?", stream=True))
            last = evs[-1]
            assert_eq((last.type, last.response.status, last.response.incomplete_details.reason), ("response.incomplete", "incomplete", "max_output_tokens"))
        else:
            r = oa.responses.create(model="m-inc", input="story?")
            assert_eq((r.status, r.incomplete_details.reason, r.output_text), ("incomplete", "max_output_tokens", ANSWER))

    def claude_inc(stream):
        if stream:
            with an.messages.stream(model="m-inc", max_tokens=7, messages=user) as s:
                msg = s.get_final_message()
        else:
            msg = an.messages.create(model="m-inc", max_tokens=7, messages=user)
        assert_eq((msg.stop_reason, msg.usage.output_tokens), ("max_tokens", 7))

    def genai_inc(stream):
        if stream:
            chunks = list(gg.models.generate_content_stream(model="m-inc", contents="story?"))
            fin = [c.candidates[0].finish_reason for c in chunks if c.candidates and c.candidates[0].finish_reason]
            assert_eq(fin[-1], types.FinishReason.MAX_TOKENS)
        else:
            assert_eq(gg.models.generate_content(model="m-inc", contents="story?").candidates[0].finish_reason, types.FinishReason.MAX_TOKENS)

    def add_per_client(ending, chat, resp, claude, genai):
        """One check per client, non-stream then stream, for a Codex ending."""
        for stream in [False, True]:
            sfx = " stream" if stream else ""
            for client, fn in [("openai chat", chat), ("openai responses", resp), ("anthropic", claude), ("genai", genai)]:
                add(f"{client} codex {ending}{sfx}", lambda s=stream, fn=fn: fn(s))

    add_per_client("incomplete", chat_inc, resp_inc, claude_inc, genai_inc)
    # After the incomplete answers, the same credential still answers.
    add("openai chat codex after incomplete", lambda: assert_eq(oa.chat.completions.create(model="m-codex", messages=user).choices[0].message.content, ANSWER))

    def raises(exc, fn, check=lambda e: None):
        try:
            fn()
        except exc as e:  # noqa: PERF203
            check(e)
            return
        raise AssertionError(f"no {exc} raised")

    def chat_fail(stream):
        m = f"m-fail-chat-{'s' if stream else 'n'}"
        if stream:
            raises(openai.APIError, lambda: list(oa.chat.completions.create(model=m, messages=user, stream=True)),
                   lambda e: assert_eq("failed to generate" in str(e), True))
        else:
            raises(openai.InternalServerError, lambda: oa.chat.completions.create(model=m, messages=user))

    def resp_fail(stream):
        m = f"m-fail-resp-{'s' if stream else 'n'}"
        if stream:
            last = list(oa.responses.create(model=m, input="story?", stream=True))[-1]
            assert_eq((last.type, last.response.status, last.response.error.code), ("response.failed", "failed", "server_error"))
        else:
            raises(openai.InternalServerError, lambda: oa.responses.create(model=m, input="story?"))

    def claude_fail(stream):
        m = f"m-fail-claude-{'s' if stream else 'n'}"
        if stream:
            def run():
                with an.messages.stream(model=m, max_tokens=7, messages=user) as s:
                    s.get_final_message()
            raises(anthropic.APIStatusError, run, lambda e: assert_eq(e.body["error"]["type"], "api_error"))
        else:
            raises(anthropic.InternalServerError, lambda: an.messages.create(model=m, max_tokens=7, messages=user))

    def genai_fail(stream):
        m = f"m-fail-genai-{'s' if stream else 'n'}"
        if stream:
            raises(genai_errors.ServerError, lambda: list(gg.models.generate_content_stream(model=m, contents="story?")),
                   lambda e: assert_eq(e.code, 500))
        else:
            raises(genai_errors.ServerError, lambda: gg.models.generate_content(model=m, contents="story?"), lambda e: assert_eq(e.code, 500))

    add_per_client("failed", chat_fail, resp_fail, claude_fail, genai_fail)

    run.check(driver, checks)


if __name__ == "__main__":
    main()
