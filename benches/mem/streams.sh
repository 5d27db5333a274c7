#!/usr/bin/env bash
# Idle RSS and memory per in-flight stream, then added latency under 1,000
# concurrent streams.
#
# 1. Idle: VmRSS of one cliproxy worker (default driver) right after start.
# 2. Slow streams: a Python asyncio upstream (benches/mem/slow_streams.py)
#    sends one SSE event per second; N client connections (a Python asyncio
#    client) hold streamed requests open through the relay. Once every stream
#    has its first event, RSS is read (settled a few seconds):
#    (RSS held - RSS idle-after-warm-up) / N = KB per in-flight stream.
# 3. Latency (LATENCY=0 skips it), while the N slow streams stay open: a
#    second upstream answering 2 SSE events 20 ms apart (the first after
#    20 ms); PROBES sequential streamed requests straight to it, then the same
#    through the relay; p99 of the first-event and whole-stream times, and the
#    difference = what the relay adds under N concurrent streams. The Python
#    processes share CPU 1 and the relay has CPU 0; their own scheduling is in
#    both figures.
#
# Usage: benches/mem/streams.sh [streams=1000]
# Env: CLIPROXY_BIN (default target/release/cliproxy), CLIPROXY_ARGS, LATENCY=1, PROBES=200
# Needs: python3, taskset, a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000}
BIN=${CLIPROXY_BIN:-target/release/cliproxy}
[ -x "$BIN" ] || cargo build --release --bins
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
W=$(mktemp -d /tmp/cliproxy-streams.XXXXXX)
SLOW=18421; FAST=18422; CP=18423
PIDS=()
trap 'kill ${PIDS[*]:-} 2>/dev/null || true; rm -rf $W' EXIT
. benches/upstream.sh # wait_port
PY=benches/mem/slow_streams.py

cat >$W/config.yaml <<YAML
host: 127.0.0.1
port: $CP
auth-dir: $W/auths
api-keys: ["sk-bench"]
openai-compatibility:
  - name: slow
    base-url: "http://127.0.0.1:$SLOW/v1"
    api-key-entries: [{api-key: "sk-upstream"}]
    models: [{name: upstream-bench, alias: gpt-slow}]
  - name: fast
    base-url: "http://127.0.0.1:$FAST/v1"
    api-key-entries: [{api-key: "sk-upstream"}]
    models: [{name: upstream-bench, alias: gpt-20ms}]
YAML

taskset -c 1 python3 $PY upstream $SLOW 1000 90 &
PIDS+=($!)
taskset -c 1 python3 $PY upstream $FAST 20 2 &
PIDS+=($!)
taskset -c 0 $BIN --config $W/config.yaml --workers 1 ${CLIPROXY_ARGS:-} 2>$W/cliproxy.log &
CP_PID=$!
PIDS+=($CP_PID)
for p in $SLOW $FAST $CP; do wait_port $p || { echo "nothing listens on $p" >&2; cat $W/cliproxy.log >&2; exit 1; }; done
rss() { awk '/VmRSS/ {print $2}' /proc/$CP_PID/status; }
sleep 1 # let start-up settle before reading the idle figure (a measurement, not synchronisation)
IDLE=$(rss)
echo "idle RSS after start: $IDLE KB" >&2

# Warm-up: one short round of N streams, so allocator arenas, buffer pools and
# upstream connection pools exist before the measured round.
taskset -c 1 python3 $PY hold 127.0.0.1:$CP "$N" 0 $W/warm
sleep 2
BASE=$(rss)
echo "RSS after a warm-up round of $N streams, all closed: $BASE KB" >&2

PROBES=${PROBES:-200}
HOLD_S=6; [ "${LATENCY:-1}" = 1 ] && HOLD_S=80
rm -f $W/ready
taskset -c 1 python3 $PY hold 127.0.0.1:$CP "$N" $HOLD_S $W/ready &
HOLD=$!
while [ ! -e $W/ready ]; do
  kill -0 $HOLD 2>/dev/null || { wait $HOLD; echo "the stream holder failed" >&2; exit 1; }
  sleep 0.2
done
PEAK=0
for _ in 1 2 3 4 5; do
  sleep 1
  r=$(rss); [ "$r" -gt "$PEAK" ] && PEAK=$r
done
echo "RSS with $N streams in flight (max of 5 readings, 1 s apart): $PEAK KB" >&2
awk -v n="$N" -v p="$PEAK" -v b="$BASE" -v i="$IDLE" 'BEGIN {
  printf "per in-flight stream: %.1f KB over the warmed-up base (%.1f KB over idle)\n", (p-b)/n, (p-i)/n }'

if [ "${LATENCY:-1}" = 1 ]; then
  echo "== $PROBES sequential probes, upstream 20 ms per event (2 events), $N slow streams held open ==" >&2
  D=$(taskset -c 1 python3 $PY probe 127.0.0.1:$FAST "$PROBES" gpt-20ms)
  echo "upstream alone:   $(head -1 <<<"$D")"
  R=$(taskset -c 1 python3 $PY probe 127.0.0.1:$CP "$PROBES" gpt-20ms)
  echo "through cliproxy: $(head -1 <<<"$R")"
  kill -0 $HOLD 2>/dev/null || echo "warning: the $N slow streams ended before the probes did" >&2
  awk -v d="$(tail -1 <<<"$D")" -v r="$(tail -1 <<<"$R")" 'BEGIN {
    split(d, a, " "); split(r, b, " ");
    printf "added p99: first event %+.2f ms, whole stream %+.2f ms\n", b[2]-a[2], b[4]-a[4] }'
fi
kill $HOLD 2>/dev/null || true
wait $HOLD 2>/dev/null || true
