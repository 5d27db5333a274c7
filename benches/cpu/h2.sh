#!/usr/bin/env bash
# CPU per request with an HTTP/2 upstream vs the same upstream over HTTP/1.1,
# in instructions (callgrind; method in instructions.sh). One nginx over TLS
# offering h2 and http/1.1; two openai-compatibility entries point at it, one
# with `force-http1: true`. Scenarios: non-stream JSON and SSE stream.
#
# Usage: benches/cpu/h2.sh BINARY      env: LOW=300 HIGH=1500
# Needs: valgrind, wrk, nginx (with http_v2), openssl.
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/cpu/lib.sh
bench_start "${1:-}" h2 18441 18443
tls_cert upstream.bench

h2_upstream_and_config
RELAY_ENV="CLIPROXY_CONNECT_TO=upstream.bench:$UP=127.0.0.1:$UP"

printf '%-6s %-8s %14s\n' proto kind instr/request
for kind in json sse; do
  stream=false; [ $kind = sse ] && stream=true
  for proto in h1 h2; do
    s=$(scenario "$proto-$kind" "$proto-$kind" $stream)
    lo=$(count_instructions "$BIN" "$s" "$LOW" --upstream-ca $W/ca.pem)
    hi=$(count_instructions "$BIN" "$s" "$HIGH" --upstream-ca $W/ca.pem)
    printf '%-6s %-8s %14d\n' $proto $kind $(( (hi - lo) / (HIGH - LOW) ))
  done
done
