#!/usr/bin/env bash
# CPU per request under load on an OAuth Claude account vs an API-key Claude
# entry: one TLS nginx as api.anthropic.com for both (benches/cpu/lib.sh),
# cliproxy with one worker pinned to CPU 0, wrk (64 connections) and nginx on
# CPU 1; relay CPU time (/proc/PID/stat) over requests completed. Key, plain
# account (cloak_mode never: the same work as the key) and default account
# (cloaked, this client is not Claude Code) alternate, ROUNDS rounds each.
#
# Usage: benches/wrk/oauth.sh [duration=8s] [connections=64]
#   env: ROUNDS=3, STREAM=false|true, CLIPROXY_BIN (default target/release/cliproxy)
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-8s}
CONNS=${2:-64}
ROUNDS=${ROUNDS:-3}
STREAM=${STREAM:-false}
BIN=${CLIPROXY_BIN:-target/release/cliproxy}
[ -x "$BIN" ] || cargo build --release --bins
W=$(mktemp -d /tmp/cliproxy-wrkoauth.XXXXXX)
UP=18461; CP=18463
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; kill ${RP:-} 2>/dev/null || true; rm -rf $W' EXIT
. benches/upstream.sh
. benches/cpu/lib.sh
tls_cert api.anthropic.com
claude_upstream_and_config
RELAY_ENV="CLIPROXY_CONNECT_TO=api.anthropic.com:443=127.0.0.1:$UP"

printf '%-6s %-9s %12s %12s\n' round via 'µs CPU/req' 'req/s'
for r in $(seq $ROUNDS); do
  for via in key plain account; do
    read -r us rps <<<"$(wrk_cpu_run via-$via $STREAM)"
    printf '%-6s %-9s %12s %12s\n' $r $via $us $rps
  done
done
