#!/usr/bin/env bash
# CPU per request with an HTTP/2 upstream vs the same upstream over
# HTTP/1.1, under load: nginx over TLS offering h2 (benches/cpu/lib.sh),
# cliproxy with one worker pinned to CPU 0, wrk (64 connections) and nginx on
# CPU 1. CPU = the relay's user+system time (/proc/PID/stat) over the
# requests wrk completed; h1 and h2 alternate, ROUNDS rounds each, one relay
# process per run.
#
# Usage: benches/wrk/h2_upstream.sh [duration=8s] [connections=64]
#   env: ROUNDS=3, CLIPROXY_BIN (default target/release/cliproxy)
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-8s}
CONNS=${2:-64}
ROUNDS=${ROUNDS:-3}
BIN=${CLIPROXY_BIN:-target/release/cliproxy}
[ -x "$BIN" ] || cargo build --release --bins
W=$(mktemp -d /tmp/cliproxy-wrkh2.XXXXXX)
UP=18451; CP=18453
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; kill ${RP:-} 2>/dev/null || true; rm -rf $W' EXIT
. benches/upstream.sh
. benches/cpu/lib.sh
tls_cert upstream.bench
h2_upstream_and_config
RELAY_ENV="CLIPROXY_CONNECT_TO=upstream.bench:$UP=127.0.0.1:$UP"

printf '%-6s %-6s %12s %12s\n' round proto 'µs CPU/req' 'req/s'
for r in $(seq $ROUNDS); do
  for proto in h1 h2; do
    read -r us rps <<<"$(wrk_cpu_run $proto-sse true)"
    printf '%-6s %-6s %12s %12s\n' $r $proto $us $rps
  done
done
