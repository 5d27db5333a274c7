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

ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
HZ=$(getconf CLK_TCK)

run() { # model -> "us_per_request requests_per_second"
  local model=$1
  CLIPROXY_CONNECT_TO="upstream.bench:$UP=127.0.0.1:$UP" taskset -c 0 "$BIN" --config $W/config.yaml \
    --workers 1 --upstream-ca $W/ca.pem --drain-seconds 1 2>$W/relay.log &
  RP=$!
  wait_port $CP
  cat > $W/s.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"$model","stream":true,"messages":[{"role":"user","content":"hi"}]}'
LUA
  taskset -c 1 wrk -t1 -c8 -d1s -s $W/s.lua http://127.0.0.1:$CP/v1/chat/completions >/dev/null
  local t0; t0=$(ticks $RP)
  taskset -c 1 wrk -t1 -c$CONNS -d$DUR -s $W/s.lua http://127.0.0.1:$CP/v1/chat/completions >$W/wrk.out
  local t1; t1=$(ticks $RP)
  kill $RP; wait $RP 2>/dev/null || true; RP=
  local n rps
  n=$(awk '/requests in/ {print $1}' $W/wrk.out)
  rps=$(awk '/Requests\/sec/ {print $2}' $W/wrk.out)
  grep -q 'Non-2xx' $W/wrk.out && { echo "non-2xx answers" >&2; cat $W/wrk.out >&2; exit 1; }
  awk -v t=$((t1 - t0)) -v hz=$HZ -v n=$n -v r=$rps 'BEGIN {printf "%.1f %s", t / hz * 1e6 / n, r}'
}

printf '%-6s %-6s %12s %12s\n' round proto 'µs CPU/req' 'req/s'
for r in $(seq $ROUNDS); do
  for proto in h1 h2; do
    read -r us rps <<<"$(run $proto-sse)"
    printf '%-6s %-6s %12s %12s\n' $r $proto $us $rps
  done
done
