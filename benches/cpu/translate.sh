#!/usr/bin/env bash
# CPU per request of a translated stream against our own pass-through, in
# instructions (callgrind; see instructions.sh for the method). One zero-delay
# nginx serves both 40-chunk bodies: /sse40 (OpenAI chunks, relayed as they
# are) and /claude40 (Claude events, translated to OpenAI chunks). The client
# is the same OpenAI stream request for both; only the model differs. Issue
# #14's goal: translated <= 1.2x pass-through.
#
# Usage: benches/cpu/translate.sh BINARY [BINARY...]   env: LOW=200 HIGH=1000
#        KEEP_DIR=dir keeps each callgrind output (for callgrind_annotate)
# Needs: valgrind, wrk, nginx, openssl.
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/cpu/lib.sh
LOW=${LOW:-200}; HIGH=${HIGH:-1000}
bench_start "${1:-}" translate 18441 18443
upstream_conf $W $UP
nginx -c $W/upstream.conf
wait_port $UP
cat > $W/config.yaml <<YAML
host: 127.0.0.1
port: $CP
auth-dir: $W/auths
api-keys: ["sk-bench"]
openai-compatibility:
  - name: sse40
    base-url: "http://127.0.0.1:$UP/sse40"
    api-key-entries: [{api-key: "k"}]
    models: [{name: upstream-bench, alias: pass40}]
claude-api-key:
  - api-key: "sk-ant-api-bench"
    base-url: "http://127.0.0.1:$UP/claude40"
    models: [{name: claude-bench, alias: claude40}]
YAML
printf '%-40s %-12s %14s\n' binary scenario instr/request
for bin in "$@"; do
  declare -A got=()
  for m in pass40 claude40; do
    s=$(scenario "$m" "$m" true)
    lo=$(count_instructions "$bin" "$s" "$LOW")
    hi=$(count_instructions "$bin" "$s" "$HIGH")
    got[$m]=$(( (hi - lo) / (HIGH - LOW) ))
    printf '%-40s %-12s %14d\n' "$bin" $m ${got[$m]}
  done
  awk -v a=${got[claude40]} -v b=${got[pass40]} -v bin="$bin" \
    'BEGIN { printf "%-40s %-12s %13.2fx\n", bin, "ratio", a / b }'
done
