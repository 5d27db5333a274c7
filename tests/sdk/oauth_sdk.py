"""Official SDKs against cliproxy serving OAuth accounts from auth-dir, one
per kind: a Claude Code login, a ChatGPT (Codex) login and a Gemini CLI
login. The upstream is a TLS mock reached under the providers' real host
names (harness.Run with tls_hosts: --upstream-ca plus CLIPROXY_CONNECT_TO);
each check asserts what the SDK parsed and what the upstream received (path,
host, Bearer token of the account).

Usage: python3 tests/sdk/oauth_sdk.py path/to/cliproxy [driver]
Prints 'N passed, N failed'; exits non-zero on any failure.
"""
import base64
import json

import harness
from harness import assert_eq, sse

KEY = "sk-sdk-oauth"
TEXT = "Hello from an account."
PIECES = ["Hello from ", "an account."]
SEEN = []
HOSTS = ["api.anthropic.com", "chatgpt.com", "cloudcode-pa.googleapis.com",
         "console.anthropic.com", "auth.openai.com", "oauth2.googleapis.com"]


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


AUTH_FILES = {
    "claude-owner@example.com.json": {
        "type": "claude", "email": "owner@example.com", "access_token": "at-claude",
        "refresh_token": "rt-claude", "expired": "2099-01-01T00:00:00Z"},
    "codex-owner@example.com-pro.json": {
        "type": "codex", "email": "owner@example.com", "access_token": "at-codex",
        "refresh_token": "rt-codex", "account_id": "acct-1", "expired": "2099-01-01T00:00:00Z",
        "id_token": "e30." + b64url({"email": "owner@example.com", "https://api.openai.com/auth": {"chatgpt_plan_type": "pro", "chatgpt_account_id": "acct-1"}}) + ".sig"},
    "owner@example.com-proj-1.json": {
        "type": "gemini", "email": "owner@example.com", "project_id": "proj-1",
        "token": {"access_token": "at-gemini", "refresh_token": "rt-gemini", "token_type": "Bearer", "expiry": "2099-01-01T00:00:00Z"}},
}


class Upstream(harness.Upstream):
    def record(self, body):
        SEEN.append((self.path, dict(self.headers), body))

    def special(self, path, body, stream):
        if path == "/backend-api/codex/responses":
            self.codex(body, True)
            return True
        if path.startswith("/v1internal:"):
            inner = body.get("request", {})
            if "countTokens" in path:
                self.json({"totalTokens": 9})
                return True
            stream = "streamGenerateContent" in path
            usage = {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}
            if stream:
                evs = [(None, {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}]}}) for t in PIECES]
                evs.append((None, {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": usage}}))
                self.stream(sse(evs))
            else:
                self.json({"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": TEXT}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": usage}})
            assert inner is not None
            return True
        return False

    def claude(self, body, stream):
        m = body["model"]
        if stream:
            evs = [harness.claude_start(m),
                   ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})]
            evs += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}) for t in PIECES]
            evs += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 7}}),
                    ("message_stop", {"type": "message_stop"})]
            return self.stream(sse(evs))
        self.json({"id": "msg_1", "type": "message", "role": "assistant", "model": m, "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 7}})

    def codex(self, body, stream):
        item = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": TEXT, "annotations": []}]}
        resp = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": body.get("model"), "output": [item], "usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}}
        evs = [("response.created", {"type": "response.created", "response": dict(resp, status="in_progress", output=[])}),
               ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": dict(item, content=[], status="in_progress")}),
               ("response.content_part.added", {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})]
        evs += [("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": t}) for t in PIECES]
        evs += [("response.output_text.done", {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": TEXT}),
                ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
                ("response.completed", {"type": "response.completed", "response": resp})]
        self.stream(sse(harness.numbered(evs)))


def last_upstream():
    path, headers, body = SEEN[-1]
    return path, {k.lower(): v for k, v in headers.items()}, body


def expect_upstream(path_prefix, host, token):
    path, headers, _ = last_upstream()
    assert path.startswith(path_prefix), path
    assert_eq(headers.get("host"), host)
    assert_eq(headers.get("authorization"), f"Bearer {token}")


def main():
    binary, driver = harness.args()
    run = harness.Run(Upstream, tls_hosts=HOSTS)
    srv = run.start(binary, driver, KEY, "", prefix="cliproxy-sdk-oauth-", auth_files=AUTH_FILES)
    oa, an, gg = harness.clients(srv, KEY)
    claude_model, codex_model, gemini_model = "claude-sonnet-4-6", "gpt-5.5", "gemini-2.5-pro"

    def models_listed():
        ids = {m.id for m in oa.models.list()}
        for m in (claude_model, codex_model, gemini_model):
            assert m in ids, (m, sorted(ids))

    def openai_chat(model, path, host, token):
        def check():
            r = oa.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            assert_eq(r.choices[0].message.content, TEXT)
            expect_upstream(path, host, token)
            text = "".join(c.choices[0].delta.content or "" for c in oa.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=True) if c.choices)
            assert_eq(text, TEXT)
            expect_upstream(path, host, token)
        return check

    def anthropic_native():
        r = an.messages.create(model=claude_model, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
        assert_eq(r.content[0].text, TEXT)
        expect_upstream("/v1/messages", "api.anthropic.com", "at-claude")
        with an.messages.stream(model=claude_model, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
            assert_eq("".join(s.text_stream), TEXT)
        expect_upstream("/v1/messages", "api.anthropic.com", "at-claude")

    def responses_native():
        r = oa.responses.create(model=codex_model, input="hi")
        assert_eq(r.output_text, TEXT)
        expect_upstream("/backend-api/codex/responses", "chatgpt.com", "at-codex")
        text = "".join(e.delta for e in oa.responses.create(model=codex_model, input="hi", stream=True) if e.type == "response.output_text.delta")
        assert_eq(text, TEXT)

    def genai_native():
        r = gg.models.generate_content(model=gemini_model, contents="hi")
        assert_eq(r.text, TEXT)
        path, _, body = last_upstream()
        assert path.startswith("/v1internal:generateContent"), path
        assert_eq(body.get("project"), "proj-1")
        assert_eq(body.get("model"), gemini_model)
        expect_upstream("/v1internal:generateContent", "cloudcode-pa.googleapis.com", "at-gemini")
        text = "".join(c.text or "" for c in gg.models.generate_content_stream(model=gemini_model, contents="hi"))
        assert_eq(text, TEXT)
        expect_upstream("/v1internal:streamGenerateContent", "cloudcode-pa.googleapis.com", "at-gemini")

    run.check(driver, [
        ("models of every account listed", models_listed),
        ("openai chat -> claude account", openai_chat(claude_model, "/v1/messages", "api.anthropic.com", "at-claude")),
        ("anthropic sdk -> claude account", anthropic_native),
        ("openai chat -> codex account", openai_chat(codex_model, "/backend-api/codex/responses", "chatgpt.com", "at-codex")),
        ("openai responses -> codex account", responses_native),
        ("openai chat -> gemini cli account", openai_chat(gemini_model, "/v1internal:", "cloudcode-pa.googleapis.com", "at-gemini")),
        ("google-genai -> gemini cli account", genai_native),
    ])


if __name__ == "__main__":
    main()
