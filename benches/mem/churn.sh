#!/usr/bin/env bash
# Memory under churn: RSS of one cliproxy worker before and after a run of
# keep-alive requests and a run of `Connection: close` requests, relayed to a
# zero-delay nginx upstream on loopback (as in benches/wrk/run.sh).
#
# Phases: warm-up (WARM_KA keep-alive + WARM_CLOSE close requests), then
# KA_REQS keep-alive requests on KA_CONNS connections, then CLOSE_REQS
# requests with `Connection: close` on CLOSE_CONNS connections. RSS
# (VmRSS from /proc/PID/status) is printed after each phase with its delta.
# Target after warm-up: each measured phase grows RSS by <= 2 MB.
#
# Usage: benches/mem/churn.sh [binary=target/release/cliproxy]
#   env: KA_REQS=1000000 CLOSE_REQS=200000 KA_CONNS=64 CLOSE_CONNS=16
#        WARM_KA=100000 WARM_CLOSE=20000
#        MODEL=gpt-bench STREAM=false: the request (benches/upstream.sh's
#        models: gpt-bench-sse40 with STREAM=true is the 40-chunk stream,
#        gpt-bench-claude40 with STREAM=true the translated stream)
# Needs: wrk, nginx (Debian packages), a release build (built if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/release/cliproxy}
KA_REQS=${KA_REQS:-1000000}
CLOSE_REQS=${CLOSE_REQS:-200000}
KA_CONNS=${KA_CONNS:-64}
CLOSE_CONNS=${CLOSE_CONNS:-16}
WARM_KA=${WARM_KA:-100000}
WARM_CLOSE=${WARM_CLOSE:-20000}
if [ ! -x "$BIN" ]; then
  [ "$BIN" = target/release/cliproxy ] || { echo "no binary at $BIN" >&2; exit 1; }
  cargo build --release --bins
fi
for tool in wrk nginx; do
  command -v $tool >/dev/null || { echo "$tool missing: apt-get install $tool" >&2; exit 1; }
done
W=$(mktemp -d /tmp/cliproxy-mem.XXXXXX)
UP=18411; CP=18413
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; kill ${CP_PID:-} 2>/dev/null || true; rm -rf $W' EXIT

. benches/upstream.sh
upstream_conf $W $UP
bench_config $CP $UP $W > $W/config.yaml

taskset -c 1 nginx -c $W/upstream.conf
taskset -c 0 "$BIN" --config $W/config.yaml --workers 1 ${CLIPROXY_ARGS:-} 2>$W/cliproxy.log &
CP_PID=$!
wait_port $UP; wait_port $CP

rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/$CP_PID/status; }
# Waits until the worker has no client connection left (wrk's last ones
# closing), so the reading is taken at rest.
settle() {
  for _ in $(seq 200); do
    ss -Htn state established "( sport = :$CP )" | grep -q . || return 0
    sleep 0.05
  done
}
phase() { # name requests connections [extra wrk args...]
  local name=$1 reqs=$2 conns=$3; shift 3
  local before after out done errs
  settle
  before=$(rss_kb)
  rm -f $W/done
  REQUESTS=$reqs DONE_FILE=$W/done MODEL=${MODEL:-gpt-bench} STREAM=${STREAM:-false} taskset -c 1 wrk -t1 -c"$conns" -d3600s \
    -s benches/mem/stop_after.lua "$@" "http://127.0.0.1:$CP/v1/chat/completions" >$W/wrk.out &
  local wrk_pid=$!
  while [ ! -e $W/done ] && kill -0 $wrk_pid 2>/dev/null; do sleep 0.1; done
  kill -INT $wrk_pid 2>/dev/null || true
  wait $wrk_pid || true
  out=$(cat $W/wrk.out)
  settle
  after=$(rss_kb)
  done=$(awk '/requests in/ {print $1}' <<<"$out")
  errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | tr '\n' ' ' || true)
  printf '%-28s %9s requests  RSS %8d kB -> %8d kB  delta %+8d kB  %s\n' \
    "$name" "$done" "$before" "$after" "$((after - before))" "$errs"
}

DRV=$(grep -o '[a-z_]* driver' $W/cliproxy.log | head -1 || true)
echo "binary: $BIN, 1 worker, ${DRV:-driver ?}, model ${MODEL:-gpt-bench} stream ${STREAM:-false}; RSS at start: $(rss_kb) kB"
phase "warm-up keep-alive" "$WARM_KA" "$KA_CONNS"
phase "warm-up connection-close" "$WARM_CLOSE" "$CLOSE_CONNS" -H "Connection: close"
START=$(rss_kb)
phase "keep-alive ($KA_CONNS conns)" "$KA_REQS" "$KA_CONNS"
phase "connection-close ($CLOSE_CONNS conns)" "$CLOSE_REQS" "$CLOSE_CONNS" -H "Connection: close"
echo "total after warm-up: $(( $(rss_kb) - START )) kB (target: <= 2048 kB per phase)"
