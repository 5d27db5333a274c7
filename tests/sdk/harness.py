"""Shared plumbing for the official-SDK scripts in this folder.

Each script is run as `python3 tests/sdk/X.py path/to/cliproxy [driver]`; Python
puts the script's own folder first on sys.path, so `import harness` finds this
file from that invocation (and from any working directory).

What lives here: the SSE writer, a mock-upstream base class (chunked SSE, JSON
answers, routing by upstream kind), starting the real binary with a temporary
config and waiting for its port, the official SDK clients, and the check
runner that prints one line per check and the closing 'N passed, N failed'.
What stays in each script: the upstream's answers and every check.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def args():
    """(binary, driver) from the command line; the driver defaults to auto."""
    if len(sys.argv) < 2:
        sys.exit(f"usage: python3 {sys.argv[0]} path/to/cliproxy [uring|epoll|auto]")
    return sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "auto")


def sse(events):
    """SSE bytes for [(event name or None, JSON-able data)]."""
    out = b""
    for name, data in events:
        if name:
            out += f"event: {name}\n".encode()
        out += f"data: {json.dumps(data)}\n\n".encode()
    return out


def numbered(events):
    """Responses-API events carry a running sequence_number; returns events."""
    for i, (_, e) in enumerate(events):
        e["sequence_number"] = i
    return events


def assert_eq(got, want):
    if got != want:
        raise AssertionError(f"got {got!r}, want {want!r}")


class Upstream(BaseHTTPRequestHandler):
    """A mock upstream of every kind; subclasses write the answers.

    A POST is read as JSON, handed to `record`, offered to `special` (return
    True when it answered), then routed by path: OpenAI-compatible chat to
    `compat`, Claude messages to `claude`, Gemini models to `gemini`, Codex
    responses to `codex`; anything else is a 404.
    """
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        self.record(body)
        stream = bool(body.get("stream")) or "streamGenerateContent" in self.path
        p = self.path
        if self.special(p, body, stream):
            return
        if p == "/v1/chat/completions":
            return self.compat(body, stream)
        if p == "/v1/messages?beta=true":
            return self.claude(body, stream)
        if p.startswith("/v1beta/models/"):
            return self.gemini(body, stream)
        if p == "/codex/responses":
            return self.codex(body, stream)
        self.json({"error": {"message": "no route " + p}}, 404)

    def record(self, body):
        pass

    def special(self, path, body, stream):
        return False

    def compat(self, body, stream):
        self.json({"error": {"message": "no OpenAI-compatible upstream here"}}, 404)

    def claude(self, body, stream):
        self.json({"error": {"message": "no Claude upstream here"}}, 404)

    def gemini(self, body, stream):
        self.json({"error": {"message": "no Gemini upstream here"}}, 404)

    def codex(self, body, stream):
        self.json({"error": {"message": "no Codex upstream here"}}, 404)

    def json(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def chat_stream(self, chunks):
        """An OpenAI chat stream: one `data:` event per chunk dict, then [DONE]."""
        self.stream(sse([(None, c) for c in chunks]) + b"data: [DONE]\n\n")

    def gemini_text(self, stream, pieces, usage):
        """A Gemini text answer: streamed, one chunk per piece then an empty
        STOP chunk with `usage`; else the whole text with `usage`."""
        if stream:
            evs = [(None, {"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}]}) for t in pieces]
            evs.append((None, {"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": usage}))
            return self.stream(sse(evs))
        self.json({"candidates": [{"content": {"role": "model", "parts": [{"text": "".join(pieces)}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": usage})

    def stream(self, data):
        """A 200 text/event-stream answer, one HTTP chunk per SSE event."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in data.split(b"\n\n"):
            if part:
                chunk = part + b"\n\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


def claude_start(model):
    """A Claude stream's message_start event (5 input tokens, 1 output)."""
    return ("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": model, "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}})


def upstreams_yaml(base, gemini_models="{name: gemini-up, alias: m-gemini}", codex_models="{name: codex-up, alias: m-codex}"):
    """Config lines for one upstream of each kind at `base`: m-compat,
    m-claude, m-gemini, m-codex (the last two lists can be widened)."""
    return f"""openai-compatibility:
  - name: compat
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "up-compat"}}]
    models: [{{name: compat-up, alias: m-compat}}]
claude-api-key: [{{api-key: "up-claude", base-url: "{base}", models: [{{name: claude-up, alias: m-claude}}]}}]
gemini-api-key: [{{api-key: "up-gemini", base-url: "{base}", models: [{gemini_models}]}}]
codex-api-key: [{{api-key: "up-codex", base-url: "{base}/codex", models: [{codex_models}]}}]
"""


def test_ca(hosts, folder):
    """A throw-away CA and a leaf certificate for `hosts`, written to
    `folder`; returns (ca.pem, leaf.pem, leaf.key) paths."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cliproxy sdk test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(folder, n) for n in ("ca.pem", "leaf.pem", "leaf.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


class Run:
    """The mock upstream (on 127.0.0.1:0) and, after `start`, the real binary.

    With `tls_hosts`, the mock speaks TLS with a certificate for those host
    names (a throw-away CA) and the binary is started with `--upstream-ca`
    and `CLIPROXY_CONNECT_TO` pointing each host's port 443 at the mock, so
    upstreams keep their real names (OAuth accounts)."""

    def __init__(self, handler, tls_hosts=None):
        self.up = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.tls_hosts = tls_hosts or []
        self.extra_args, self.env = [], dict(os.environ)
        if self.tls_hosts:
            import ssl
            self.certs = tempfile.mkdtemp(prefix="cliproxy-sdk-ca-")
            ca, leaf, key = test_ca(self.tls_hosts, self.certs)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(leaf, key)
            self.up.socket = ctx.wrap_socket(self.up.socket, server_side=True)
            port = self.up.server_address[1]
            self.extra_args = ["--upstream-ca", ca]
            self.env["CLIPROXY_CONNECT_TO"] = ",".join(f"{h}:443=127.0.0.1:{port}" for h in self.tls_hosts)
        threading.Thread(target=self.up.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.up.server_address[1]}"
        self.proc = None

    def start(self, binary, driver, key, config, prefix="cliproxy-sdk-", auth_files=None):
        """Writes a temp config (listen on port 0, client key `key`, then
        `config`) and `auth_files` ({name: JSON-able}) into its auth-dir,
        starts the binary and returns http://ADDR once it logs the address
        it listens on."""
        tmp = tempfile.mkdtemp(prefix=prefix)
        cfg = os.path.join(tmp, "config.yaml")
        auths = os.path.join(tmp, "auths")
        os.makedirs(auths)
        for name, content in (auth_files or {}).items():
            with open(os.path.join(auths, name), "w") as f:
                json.dump(content, f)
        with open(cfg, "w") as f:
            f.write(f"""host: 127.0.0.1
port: 0
auth-dir: ./auths
api-keys: ["{key}"]
""" + config)
        self.proc = subprocess.Popen([binary, "--config", cfg, "--workers", "2", "--driver", driver] + self.extra_args, stderr=subprocess.PIPE, text=True, env=self.env)
        addr = None
        for line in self.proc.stderr:
            m = re.search(r"listening on (\S+)", line)
            if m:
                addr = m.group(1)
                break
        if addr is None:
            self.stop()
            sys.exit(f"cliproxy exited (code {self.proc.returncode}) before it said where it listens")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()
        return f"http://{addr}"

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.up.shutdown()

    def check(self, driver, checks, limit=800):
        """Runs every (name, fn), prints 'ok'/'FAIL' per check (a failure's
        line cut to `limit` characters), stops everything, prints
        'N passed, N failed' and exits non-zero on any failure."""
        passed = failed = 0
        try:
            for name, fn in checks:
                try:
                    fn()
                    passed += 1
                    print(f"ok   {driver}: {name}")
                except Exception as e:  # noqa: BLE001
                    failed += 1
                    print(f"FAIL {driver}: {name}: {e!r}"[:limit])
        finally:
            self.stop()
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


def clients(srv, key):
    """The three official SDK clients pointed at cliproxy: (openai, anthropic, google-genai)."""
    import anthropic
    import openai
    from google import genai
    from google.genai import types
    oa = openai.OpenAI(base_url=f"{srv}/v1", api_key=key, max_retries=0, timeout=20)
    an = anthropic.Anthropic(base_url=srv, api_key=key, max_retries=0, timeout=20)
    gg = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=srv, api_version="v1beta"))
    return oa, an, gg
