"""Time to first byte over N sequential streamed requests on one keep-alive
connection: the Nagle / delayed-ACK guard (a stall shows up as ~40 ms).

Usage: python3 ttfb.py HOST:PORT [N=1000] [limit_ms=5]
Exits 1 if any request's first SSE byte took longer than limit_ms.
"""
import gc
import socket
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
limit_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
body = b'{"model":"gpt-bench-sse","messages":[{"role":"user","content":"hi"}],"stream":true}'
req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer sk-bench\r\n"
       b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

# The client's own pauses must not count against the server.
gc.disable()
s = socket.create_connection((host, int(port)))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
ttfb, total = [], []
buf = b""
for i in range(n):
    t0 = time.perf_counter()
    s.sendall(req)
    first = None
    while True:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(f"connection closed at request {i}")
        if first is None and b"data:" in buf + chunk:
            first = time.perf_counter()
        buf += chunk
        end = buf.find(b"\r\n0\r\n\r\n")
        if end >= 0:
            buf = buf[end + 7:]
            break
    t1 = time.perf_counter()
    ttfb.append((first - t0) * 1000)
    total.append((t1 - t0) * 1000)
ttfb.sort()
total.sort()
pct = lambda a, p: a[min(len(a) - 1, int(len(a) * p))]
print(f"{n} sequential streamed requests: time to first SSE byte p50 {pct(ttfb, .5):.3f} ms, "
      f"p99 {pct(ttfb, .99):.3f} ms, max {ttfb[-1]:.3f} ms; whole stream max {total[-1]:.3f} ms")
over = [t for t in ttfb if t > limit_ms]
if over:
    print(f"FAIL: {len(over)} requests above {limit_ms} ms")
    sys.exit(1)
print(f"OK: none above {limit_ms} ms")
