"""The official OpenAI Python SDK against cliproxy and a mock OpenAI-compatible upstream.

Usage: python3 tests/sdk/openai_sdk.py path/to/cliproxy [epoll|uring]
Starts a mock upstream on 127.0.0.1:0, the real cliproxy binary on port 0,
and checks that chat.completions.create returns the upstream's exact text,
with and without stream=True. Prints 'N passed, N failed'; exits non-zero on failure.
"""
import harness
import openai

TEXT = "Hello from the mock upstream: ünïcödé, \"quotes\", and a newline\nend."
PIECES = ["Hello", " from the mock", " upstream: ünïcödé, \"quotes\",", " and a newline\nend."]
assert "".join(PIECES) == TEXT
SEEN = []


class Upstream(harness.Upstream):
    def record(self, body):
        SEEN.append((self.path, self.headers.get("Authorization"), body))

    def compat(self, body, stream):
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
        if stream:
            evs = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": p} if i == 0 else {"content": p},
                                        "finish_reason": None}]) for i, p in enumerate(PIECES)]
            evs.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
            return self.chat_stream(evs)
        self.json({"id": "c1", "object": "chat.completion", "created": 1, "model": body["model"],
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}})


def main():
    binary, driver = harness.args()
    run = harness.Run(Upstream)
    srv = run.start(binary, driver, "sk-sdk-test", f"""openai-compatibility:
  - name: mock
    base-url: "{run.base}/v1"
    api-key-entries:
      - api-key: "sk-upstream"
    models:
      - name: upstream-model
        alias: gpt-sdk
""")
    client = openai.OpenAI(base_url=f"{srv}/v1", api_key="sk-sdk-test", max_retries=0, timeout=20)
    checks = []

    def non_stream():
        r = client.chat.completions.create(model="gpt-sdk", messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content == TEXT, r
        assert SEEN[-1][0] == "/v1/chat/completions" and SEEN[-1][1] == "Bearer sk-upstream"
        assert SEEN[-1][2]["model"] == "upstream-model"
    checks.append(("chat.completions.create", non_stream))

    def stream():
        s = client.chat.completions.create(model="gpt-sdk", messages=[{"role": "user", "content": "hi"}], stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in s if c.choices)
        assert text == TEXT, repr(text)
        assert SEEN[-1][2]["stream"] is True
    checks.append(("chat.completions.create(stream=True)", stream))

    def models():
        ids = [m.id for m in client.models.list()]
        assert ids == ["gpt-sdk"], ids
    checks.append(("models.list", models))

    def bad_key():
        bad = openai.OpenAI(base_url=f"{srv}/v1", api_key="wrong", max_retries=0)
        try:
            bad.chat.completions.create(model="gpt-sdk", messages=[{"role": "user", "content": "hi"}])
        except openai.AuthenticationError as e:
            assert e.status_code == 401
            return
        raise AssertionError("no 401")
    checks.append(("wrong key -> AuthenticationError", bad_key))

    def unknown_model():
        try:
            client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
        except openai.BadRequestError as e:
            assert e.status_code == 400 and "unknown provider for model nope" in str(e), e
            return
        raise AssertionError("no 400")
    checks.append(("unknown model -> BadRequestError", unknown_model))

    run.check(driver, checks, limit=None)


if __name__ == "__main__":
    main()
