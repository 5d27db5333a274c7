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
#        EXTRA_YAML='usage-statistics-enabled: true' (appended to the config,
#        e.g. to price a setting on the same binary)
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

. benches/upstream.sh
upstream_conf $W $UP
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
${EXTRA_YAML:-}
YAML
nginx -c $W/upstream.conf

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
