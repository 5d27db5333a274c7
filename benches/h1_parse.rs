//! Request-head parsing: cliproxy's parser (httparse + offsets + framing
//! checks) against raw httparse as the baseline; and the chunked decoder
//! against a naive line-splitting decoder.

use cliproxy::h1::{parse_request_head, ChunkedDecoder, RequestHead};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

/// A head as the OpenAI Python SDK sends it.
const SDK_HEAD: &[u8] = b"POST /v1/chat/completions HTTP/1.1\r\n\
Host: 127.0.0.1:8317\r\n\
Accept-Encoding: gzip, deflate\r\n\
Connection: keep-alive\r\n\
Accept: application/json\r\n\
Content-Type: application/json\r\n\
User-Agent: OpenAI/Python 1.99.0\r\n\
X-Stainless-Lang: python\r\n\
X-Stainless-Package-Version: 1.99.0\r\n\
X-Stainless-OS: Linux\r\n\
X-Stainless-Arch: x64\r\n\
X-Stainless-Runtime: CPython\r\n\
X-Stainless-Runtime-Version: 3.11.7\r\n\
Authorization: Bearer sk-cliproxy-0123456789abcdef0123456789abcdef\r\n\
X-Stainless-Async: false\r\n\
x-stainless-retry-count: 0\r\n\
x-stainless-read-timeout: 600\r\n\
Content-Length: 1234\r\n\r\n";

fn heads(c: &mut Criterion) {
    let mut g = c.benchmark_group("request_head");
    g.throughput(Throughput::Bytes(SDK_HEAD.len() as u64));
    let mut head = RequestHead::default();
    g.bench_function("cliproxy", |b| {
        b.iter(|| {
            let r = parse_request_head(black_box(SDK_HEAD), &mut head);
            black_box((&r, head.body));
        })
    });
    g.bench_function("httparse_baseline", |b| {
        b.iter(|| {
            let mut hs = [httparse::EMPTY_HEADER; 128];
            let mut req = httparse::Request::new(&mut hs);
            let r = req.parse(black_box(SDK_HEAD));
            black_box((&r, req.headers.len()));
        })
    });
    g.finish();
}

fn naive_dechunk(body: &[u8]) -> Vec<u8> {
    let s = body;
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let e = i + s[i..].windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&s[i..e]).unwrap(), 16).unwrap();
        i = e + 2;
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&s[i..i + n]);
        i += n + 2;
    }
}

fn chunked(c: &mut Criterion) {
    // An SSE stream as an upstream sends it: one small chunk per event.
    let mut body = Vec::new();
    for i in 0..2000 {
        let ev = format!(
            "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok{i}\"}}}}]}}\n\n"
        );
        body.extend_from_slice(format!("{:x}\r\n{ev}\r\n", ev.len()).as_bytes());
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let mut g = c.benchmark_group("chunked_decode");
    g.throughput(Throughput::Bytes(body.len() as u64));
    let mut out = Vec::with_capacity(body.len());
    g.bench_function("cliproxy", |b| {
        b.iter(|| {
            out.clear();
            let mut d = ChunkedDecoder::new();
            let p = d.feed(black_box(&body), |s| out.extend_from_slice(s));
            black_box((&p, out.len()));
        })
    });
    g.bench_function("naive_baseline", |b| {
        b.iter(|| black_box(naive_dechunk(black_box(&body))))
    });
    g.finish();
}

criterion_group!(benches, heads, chunked);
criterion_main!(benches);
