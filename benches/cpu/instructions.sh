#!/usr/bin/env bash
# CPU per request as instructions, not seconds: each build runs under
# valgrind's callgrind (epoll driver, one worker) against a zero-delay nginx
# upstream; wrk on one connection sends N requests. Two runs per build and
# scenario (LOW and HIGH requests) cancel start-up and shutdown:
#   instructions/request = (I(HIGH) - I(LOW)) / (HIGH - LOW).
# Instruction counts repeat run to run whatever else the machine is doing, so
# two builds can be compared on this shared machine where wrk's timings swing.
#
# Usage: benches/cpu/instructions.sh BINARY [BINARY...]
#   env: LOW=500 HIGH=2500
# Needs: valgrind, wrk, nginx (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: $0 BINARY [BINARY...]" >&2; exit 2; }
LOW=${LOW:-500}
HIGH=${HIGH:-2500}
for tool in valgrind wrk nginx; do
  command -v $tool >/dev/null || { echo "$tool missing: apt-get install $tool" >&2; exit 1; }
done
W=$(mktemp -d /tmp/cliproxy-instr.XXXXXX)
UP=18421; CP=18423
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf $W' EXIT

BODY='{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"upstream-bench","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is a zero-delay upstream answering a benchmark."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":12,"total_tokens":24}}'
SSE='data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"upstream-bench","choices":[{"index":0,"delta":{"content":"Hello!"}}]}\n\ndata: {"id":"c","object":"chat.completion.chunk","created":1,"model":"upstream-bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
cat > $W/upstream.conf <<NGINX
worker_processes 1;
pid $W/upstream.pid;
error_log $W/upstream.err;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$UP;
    location /v1/chat/completions { default_type application/json; return 200 '$BODY'; }
    location /sse/chat/completions { default_type text/event-stream; return 200 '$SSE'; }
  }
}
NGINX
cat > $W/config.yaml <<YAML
host: 127.0.0.1
port: $CP
auth-dir: $W/auths
api-keys: ["sk-bench"]
openai-compatibility:
  - name: bench
    base-url: "http://127.0.0.1:$UP/v1"
    api-key-entries:
      - api-key: "sk-upstream"
    models:
      - name: upstream-bench
        alias: gpt-bench
  - name: bench-sse
    base-url: "http://127.0.0.1:$UP/sse"
    api-key-entries:
      - api-key: "sk-upstream"
    models:
      - name: upstream-bench
        alias: gpt-bench-sse
YAML
nginx -c $W/upstream.conf

wait_port() { for _ in $(seq 400); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
wait_port $UP

# instructions BINARY SCRIPT REQUESTS: total instructions of one process run.
instructions() {
  local bin=$1 script=$2 n=$3 out=$W/cg.out pid
  rm -f $out
  valgrind --tool=callgrind --callgrind-out-file=$out "$bin" --config $W/config.yaml \
    --workers 1 --driver epoll --drain-seconds 1 2>$W/vg.log &
  pid=$!
  wait_port $CP || { cat $W/vg.log >&2; return 1; }
  rm -f $W/done
  REQUESTS=$n DONE_FILE=$W/done wrk -t1 -c1 -d3600s -s "$script" \
    "http://127.0.0.1:$CP/v1/chat/completions" >$W/wrk.out &
  local wrk_pid=$!
  while [ ! -e $W/done ] && kill -0 $wrk_pid 2>/dev/null; do sleep 0.1; done
  kill -INT $wrk_pid 2>/dev/null || true
  wait $wrk_pid || true
  kill -TERM $pid
  wait $pid || true
  local got
  got=$(awk '/requests in/ {print $1}' $W/wrk.out)
  if [ "$got" != "$n" ] || grep -q 'Non-2xx' $W/wrk.out; then
    echo "$bin: wanted $n answers with 2xx:" >&2; cat $W/wrk.out >&2; return 1
  fi
  [ -n "${KEEP_DIR:-}" ] && cp $out "$KEEP_DIR/$(basename "$bin")-$(basename "$script" .lua)-$n.out"
  awk '/^totals:|^summary:/ {print $2; exit}' $out
}

# A wrk script: the request body of a scenario plus the stop-after counter.
scenario() { # name model stream
  local f=$W/$1.lua
  {
    cat benches/mem/stop_after.lua
    echo "wrk.body = '{\"model\":\"$2\",\"stream\":$3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'"
  } >$f
  echo $f
}
NS=$(scenario nonstream gpt-bench false)
ST=$(scenario stream gpt-bench-sse true)

printf '%-40s %-12s %14s\n' binary scenario instr/request
for bin in "$@"; do
  for s in "$NS" "$ST"; do
    lo=$(instructions "$bin" "$s" "$LOW")
    hi=$(instructions "$bin" "$s" "$HIGH")
    printf '%-40s %-12s %14d\n' "$bin" "$(basename "$s" .lua)" $(( (hi - lo) / (HIGH - LOW) ))
  done
done
