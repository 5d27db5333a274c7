"""The official OpenAI Python SDK against cliproxy and a mock OpenAI-compatible upstream.

Usage: python3 tests/sdk/openai_sdk.py path/to/cliproxy [epoll|uring]
Starts a mock upstream on 127.0.0.1:0, the real cliproxy binary on port 0,
and checks that chat.completions.create returns the upstream's exact text,
with and without stream=True. Prints 'N passed, N failed'; exits non-zero on failure.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai

TEXT = "Hello from the mock upstream: ünïcödé, \"quotes\", and a newline\nend."
PIECES = ["Hello", " from the mock", " upstream: ünïcödé, \"quotes\",", " and a newline\nend."]
assert "".join(PIECES) == TEXT
SEEN = []


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append((self.path, self.headers.get("Authorization"), body))
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, p in enumerate(PIECES):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"role": "assistant", "content": p} if i == 0 else {"content": p},
                                      "finish_reason": None}]}
                self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
            done = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self._chunk(f"data: {json.dumps(done)}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            out = json.dumps({"id": "c1", "object": "chat.completion", "created": 1, "model": body["model"],
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT},
                                           "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


def main():
    binary = sys.argv[1]
    driver = sys.argv[2] if len(sys.argv) > 2 else "auto"
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp(prefix="cliproxy-sdk-")
    cfg = os.path.join(tmp, "config.yaml")
    with open(cfg, "w") as f:
        f.write(f"""host: 127.0.0.1
port: 0
auth-dir: ./auths
api-keys: ["sk-sdk-test"]
openai-compatibility:
  - name: mock
    base-url: "http://127.0.0.1:{upstream.server_address[1]}/v1"
    api-key-entries:
      - api-key: "sk-upstream"
    models:
      - name: upstream-model
        alias: gpt-sdk
""")
    proc = subprocess.Popen([binary, "--config", cfg, "--workers", "2", "--driver", driver],
                            stderr=subprocess.PIPE, text=True)
    addr = None
    for line in proc.stderr:
        m = re.search(r"listening on (\S+)", line)
        if m:
            addr = m.group(1)
            break
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    passed = failed = 0
    try:
        client = openai.OpenAI(base_url=f"http://{addr}/v1", api_key="sk-sdk-test", max_retries=0, timeout=20)
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
            bad = openai.OpenAI(base_url=f"http://{addr}/v1", api_key="wrong", max_retries=0)
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

        for name, fn in checks:
            try:
                fn()
                passed += 1
                print(f"ok   {driver}: {name}")
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"FAIL {driver}: {name}: {e!r}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        upstream.shutdown()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
