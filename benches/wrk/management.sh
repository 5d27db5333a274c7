#!/usr/bin/env bash
# CPU per request under load with the management plane enabled and idle vs
# disabled (issue #12: an idle management plane costs the proxy nothing).
# The same binary relays the same OpenAI pass-through request to a zero-delay
# nginx (benches/upstream.sh); the only difference is
# `remote-management.secret-key` (a bcrypt hash, so nothing is hashed at
# start). cliproxy has one worker pinned to CPU 0, wrk (64 connections) and
# nginx on CPU 1; relay CPU time (/proc/PID/stat) over requests completed.
# The two configurations alternate, ROUNDS rounds each.
#
# Usage: benches/wrk/management.sh [duration=6s] [connections=64]
#   env: ROUNDS=3, STREAM=false|true, CLIPROXY_BIN (default target/release/cliproxy)
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-6s}
CONNS=${2:-64}
ROUNDS=${ROUNDS:-3}
STREAM=${STREAM:-false}
BIN=${CLIPROXY_BIN:-target/release/cliproxy}
[ -x "$BIN" ] || cargo build --release --bins
W=$(mktemp -d /tmp/cliproxy-wrkmgmt.XXXXXX)
UP=18471; CP=18473
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; kill ${RP:-} 2>/dev/null || true; rm -rf $W' EXIT
. benches/upstream.sh
. benches/cpu/lib.sh
upstream_conf $W $UP
taskset -c 1 nginx -c $W/upstream.conf
wait_port $UP
tls_cert upstream.bench  # wrk_cpu_run passes --upstream-ca (unused: the upstream is plain HTTP)
config() {
  cat > $W/config.yaml <<YAML
host: 127.0.0.1
port: $CP
auth-dir: $W/auths
api-keys: ["sk-bench"]
openai-compatibility:
  - name: bench
    base-url: "http://127.0.0.1:$UP/v1"
    api-key-entries: [{api-key: "sk-upstream"}]
    models: [{name: upstream-bench, alias: gpt-bench}]
$1
YAML
}
HASH='$2b$10$2YxXM32RzEbat0k6T3zb9uT1RX9wHQdzaecFkYBXDDqbRlvr9zk1G'
printf '%-6s %-10s %12s %12s\n' round management 'µs CPU/req' 'req/s'
for r in $(seq $ROUNDS); do
  for m in off idle; do
    if [ $m = idle ]; then config "remote-management: {secret-key: '$HASH'}"; else config ""; fi
    read -r us rps <<<"$(wrk_cpu_run gpt-bench $STREAM)"
    printf '%-6s %-10s %12s %12s\n' $r $m $us $rps
  done
done
