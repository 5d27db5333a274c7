#!/usr/bin/env python3
"""Helpers for benches/mem/streams.sh (stdlib asyncio only, loopback only).

upstream PORT INTERVAL_MS EVENTS
    An OpenAI-compatible upstream on 127.0.0.1:PORT: every POST is answered
    with an SSE stream of EVENTS chunks, one every INTERVAL_MS, then [DONE].
    (HTTP/1.1 keep-alive, chunked encoding.)

hold HOST:PORT N SECONDS READY_FILE
    Opens N streamed chat requests to the relay at once and keeps them open,
    reading events; once all N have their first event it writes READY_FILE
    and then holds them SECONDS more. Exits non-zero when a stream fails.

probe HOST:PORT N MODEL
    N streamed requests one after another (new connection each); prints
    p50/p99/max of the time to the first event and to the end, in ms, and a
    last line "P99_FIRST x P99_TOTAL y" for the script.
"""
import asyncio
import os
import sys
import time

CHUNK = (b'data: {"id":"c","object":"chat.completion.chunk","created":1,'
         b'"model":"upstream-bench","choices":[{"index":0,"delta":{"content":"word "}}]}\n\n')
DONE = b'data: [DONE]\n\n'


def chunk(b):
    return b'%x\r\n%s\r\n' % (len(b), b)


async def upstream(port, interval_ms, events):
    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b'\r\n\r\n')
                length = 0
                for line in head.split(b'\r\n'):
                    if line.lower().startswith(b'content-length:'):
                        length = int(line.split(b':', 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n'
                             b'Transfer-Encoding: chunked\r\n\r\n')
                for _ in range(events):
                    await asyncio.sleep(interval_ms / 1000)
                    writer.write(chunk(CHUNK))
                    await writer.drain()
                writer.write(chunk(DONE) + b'0\r\n\r\n')
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, '127.0.0.1', port, backlog=4096)
    async with server:
        await server.serve_forever()


def request(host, model):
    body = (b'{"model":"%s","messages":[{"role":"user","content":"hi"}],"stream":true}'
            % model.encode())
    return (b'POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\n'
            b'Authorization: Bearer sk-bench\r\nContent-Type: application/json\r\n'
            b'Content-Length: %d\r\n\r\n%s' % (host.encode(), len(body), body))


async def one_stream(host, port, model, first_event):
    """Sends one streamed request; sets first_event at the first data line;
    returns (ttfb_s, total_s) when the stream ends."""
    reader, writer = await asyncio.open_connection(host, port)
    t0 = time.perf_counter()
    writer.write(request(host, model))
    await writer.drain()
    head = await reader.readuntil(b'\r\n\r\n')
    if not head.startswith(b'HTTP/1.1 200'):
        raise RuntimeError(head.split(b'\r\n', 1)[0].decode())
    ttfb = None
    buf = b''
    while True:
        data = await reader.read(65536)
        if not data:
            break
        buf += data
        if ttfb is None and b'data:' in buf:
            ttfb = time.perf_counter() - t0
            first_event()
        if b'data: [DONE]' in buf or buf.endswith(b'0\r\n\r\n'):
            break
        buf = buf[-64:]
    total = time.perf_counter() - t0
    writer.close()
    if ttfb is None:
        raise RuntimeError('stream ended without an event')
    return ttfb, total


async def hold(target, n, seconds, ready_file):
    host, port = target.rsplit(':', 1)
    started = 0
    all_started = asyncio.Event()

    def first():
        nonlocal started
        started += 1
        if started == n:
            all_started.set()

    tasks = [asyncio.create_task(one_stream(host, int(port), 'gpt-slow', first))
             for _ in range(n)]
    waiter = asyncio.create_task(all_started.wait())
    done, _ = await asyncio.wait([waiter, *tasks], timeout=60,
                                 return_when=asyncio.FIRST_COMPLETED)
    while waiter not in done:
        for t in done:
            if t.exception():
                raise t.exception()
        done, _ = await asyncio.wait([waiter, *tasks], timeout=60,
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise RuntimeError(f'only {started} of {n} streams started')
    open(ready_file, 'w').close()
    await asyncio.sleep(seconds)
    for t in tasks:
        if t.done() and t.exception():
            raise t.exception()
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def probe(target, n, model):
    host, port = target.rsplit(':', 1)
    firsts, totals = [], []
    for _ in range(n):
        first, total = await one_stream(host, int(port), model, lambda: None)
        firsts.append(first * 1000)
        totals.append(total * 1000)
    print('first event p50 %.2f p99 %.2f max %.2f ms; whole stream p50 %.2f p99 %.2f max %.2f ms'
          % (pct(firsts, 50), pct(firsts, 99), max(firsts),
             pct(totals, 50), pct(totals, 99), max(totals)))
    print('P99_FIRST %.3f P99_TOTAL %.3f' % (pct(firsts, 99), pct(totals, 99)))


def main():
    import gc
    gc.disable()
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError):
        pass
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'upstream':
        asyncio.run(upstream(int(args[0]), float(args[1]), int(args[2])))
    elif cmd == 'hold':
        asyncio.run(hold(args[0], int(args[1]), float(args[2]), args[3]))
    elif cmd == 'probe':
        asyncio.run(probe(args[0], int(args[1]), args[2]))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
