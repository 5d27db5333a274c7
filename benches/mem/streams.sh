#!/usr/bin/env bash
# Idle RSS and memory per in-flight stream, then the latency the relay adds
# to a 20 ms upstream with 0 and with N concurrent streams open (issue 14:
# 1,000 streams, at most +1 ms at p99 over the upstream alone).
#
# Everything that loads or measures is benches/mem/loadgen.rs (std-only Rust,
# threads with blocking I/O, monotonic clock), compiled here with rustc.
# The relay (one worker) has CPU 0; the load generator runs on CPU 1.
#
# For each driver (DRIVERS, default "uring epoll"), one relay process:
# 1. Idle: VmRSS right after start.
# 2. Probes with nothing else open: PROBES rounds, each one streamed request
#    straight to the 20 ms upstream (headers at once, then an event after
#    20 ms, another 20 ms later, [DONE], end) and one through the relay,
#    alternating which goes first, a new connection each. p50/p99/max of the
#    time to the first event and to the end of the body, both sides, and
#    relay minus direct. Five unrecorded rounds warm up first.
# 3. A warm-up round of N streams (opened, first event, closed), then the
#    warmed-up base RSS.
# 4. For each held-stream phase (PHASES, default "spread sync"): N streamed
#    requests held open through the relay to a slow upstream sending one
#    event per second per stream, then the probes of step 2 again.
#      spread (the realistic case, and the first): each stream ticks at its
#        own phase, spread evenly over the second, so the relay sees ~N
#        events per second evenly apart; real LLM streams are not in phase.
#      sync (the worst case): all N streams tick at the same instant, a
#        burst of N events once a second; probes that overlap a burst show
#        it (a probe lasts ~40 ms, so ~4% of them do: p99 sees it).
#    With the first phase held, RSS is read five times 1 s apart: (max RSS -
#    warmed-up base) / N and (max RSS - idle) / N = KB per in-flight stream.
#
# Usage: benches/mem/streams.sh [streams=1000]
# Env: CLIPROXY_BIN (default target/release/cliproxy), CLIPROXY_ARGS,
#      DRIVERS="uring epoll nginx" (nginx, the reference, when installed),
#      PHASES="spread sync", PROBES=300, LATENCY=1
#      (LATENCY=0: memory only, first driver only), RAW=DIR (keep every probe
#      sample in DIR/<driver>-<held>.txt), RT=1 (relay and generator at
#      real-time priority: on a shared machine, the other processes on CPU 0
#      otherwise dominate p99 through the relay's run-queue wait, which
#      every probe section reports).
# Needs: rustc, taskset, a release build (and nginx for DRIVERS=nginx).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000}
BIN=${CLIPROXY_BIN:-target/release/cliproxy}
DRIVERS=${DRIVERS:-uring epoll$(command -v nginx >/dev/null && echo " nginx")}
PHASES=${PHASES:-spread sync}
PROBES=${PROBES:-300}
LATENCY=${LATENCY:-1}
[ "$LATENCY" = 1 ] || { DRIVERS=${DRIVERS%% *}; PHASES=${PHASES%% *}; }
[ -x "$BIN" ] || cargo build --release --bins
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
W=$(mktemp -d /tmp/cliproxy-streams.XXXXXX)
SYNC=18420; SPREAD=18421; FAST=18422; CP=18423
PIDS=()
STOP_PID=; HOLD=
trap 'kill ${PIDS[*]:-} $STOP_PID $HOLD 2>/dev/null || true; rm -rf $W' EXIT
. benches/upstream.sh # wait_port

# No dependencies: plain rustc is seconds, where `cargo bench --no-run` would
# first build every dev-dependency in release mode.
LG=$W/loadgen
rustc --edition 2021 -C opt-level=3 benches/mem/loadgen.rs -o $LG
$LG selftest >/dev/null
ON1='taskset -c 1'; ON0='taskset -c 0'
if [ "${RT:-0}" = 1 ]; then
  # Real-time priority (SCHED_FIFO; needs root or CAP_SYS_NICE): the relay
  # and the generator run as soon as they are runnable, whatever else the
  # machine runs; the kernel's RT throttling still leaves 5% to the rest.
  ON1='chrt -f 10 taskset -c 1'; ON0='chrt -f 20 taskset -c 0'
fi

cat >$W/config.yaml <<YAML
host: 127.0.0.1
port: $CP
auth-dir: $W/auths
api-keys: ["sk-bench"]
openai-compatibility:
  - name: slow-spread
    base-url: "http://127.0.0.1:$SPREAD/v1"
    api-key-entries: [{api-key: "sk-upstream"}]
    models: [{name: upstream-bench, alias: gpt-slow-spread}]
  - name: slow-sync
    base-url: "http://127.0.0.1:$SYNC/v1"
    api-key-entries: [{api-key: "sk-upstream"}]
    models: [{name: upstream-bench, alias: gpt-slow-sync}]
  - name: fast
    base-url: "http://127.0.0.1:$FAST/v1"
    api-key-entries: [{api-key: "sk-upstream"}]
    models: [{name: upstream-bench, alias: gpt-20ms}]
YAML

# Slow streams last far longer than any round: the holder ends them.
$ON1 $LG upstream $SPREAD 1000 1000000 spread & PIDS+=($!)
$ON1 $LG upstream $SYNC 1000 1000000 sync & PIDS+=($!)
$ON1 $LG upstream $FAST 20 2 start & PIDS+=($!)
for p in $SPREAD $SYNC $FAST; do wait_port $p || { echo "nothing listens on $p" >&2; exit 1; }; done

echo "== $(date -u '+%F %T') UTC, load: $(uptime | sed 's/.*load average: //'), $N streams, $PROBES probe rounds$([ "${RT:-0}" = 1 ] && echo ", real-time priority")"

# Schedstat of the relay's threads: CPU ns, run-queue wait ns, time slices.
sched() { cat /proc/$CP_PID/task/*/schedstat | awk '{a+=$1; b+=$2; c+=$3} END {print a, b, c}'; }

# PROBES rounds direct vs relay; prints the probe's summary, indented, and
# the relay's CPU time and run-queue wait per probe (schedstat: the wait is
# the time it was runnable but another process had CPU 0).
probes() { # label
  echo "-- probes, $1 (load $(cut -d' ' -f1-3 /proc/loadavg))"
  $ON1 $LG probe 127.0.0.1:$FAST $PROBE_AT 5 gpt-20ms >/dev/null
  local raw=() s0 s1
  [ -n "${RAW:-}" ] && { mkdir -p "$RAW"; raw=("$RAW/$D-${1// /_}.txt"); }
  s0=$(sched)
  $ON1 $LG probe 127.0.0.1:$FAST $PROBE_AT "$PROBES" gpt-20ms "${raw[@]}" | grep -v '^RESULT' | sed 's/^/   /'
  s1=$(sched)
  echo "$s0 $s1" | awk -v n="$PROBES" '{ printf "   relay process during the probes: CPU %.0f us, run-queue wait %.0f us, %.1f time slices per probe round\n", ($4-$1)/n/1000, ($5-$2)/n/1000, ($6-$3)/n }'
}

# Holds N streams of phase P until killed; returns once all have an event.
hold_open() { # phase
  rm -f $W/ready
  $ON1 $LG hold $(hold_at $1) "$N" gpt-slow-$1 -1 $W/ready & HOLD=$!
  while [ ! -e $W/ready ]; do
    kill -0 $HOLD 2>/dev/null || { wait $HOLD || true; echo "the stream holder failed" >&2; exit 1; }
    sleep 0.2
  done
}
hold_close() {
  kill -0 $HOLD 2>/dev/null || { wait $HOLD || true; echo "warning: the held streams failed during the probes" >&2; }
  kill $HOLD 2>/dev/null || true
  wait $HOLD 2>/dev/null || true
  HOLD=
  wait_closed
}
wait_closed() {
  # The relay closes its side at the next event of each stream (<= 1 s).
  for _ in $(seq 50); do
    [ "$(ls /proc/$CP_PID/fd | wc -l)" -lt $((FDS + 20)) ] && break
    sleep 0.2
  done
}

# nginx (proxy_pass, no buffering, upstream keep-alive, one worker): the
# same rounds through a reference proxy, to tell what the machine adds from
# what the relay adds. One port per upstream (nginx does not route on the
# model): NG (20 ms), NG+1 (spread), NG+2 (sync).
NG=18424
cat >$W/nginx.conf <<NGINX
worker_processes 1;
worker_rlimit_nofile 65536;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 8192; }
http {
  access_log off;
  upstream fast { server 127.0.0.1:$FAST; keepalive 64; }
  upstream spread { server 127.0.0.1:$SPREAD; keepalive 64; }
  upstream sync { server 127.0.0.1:$SYNC; keepalive 64; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_buffering off;
  proxy_read_timeout 1h;
  server { listen 127.0.0.1:$NG backlog=4096; location / { proxy_pass http://fast; } }
  server { listen 127.0.0.1:$((NG + 1)) backlog=4096; location / { proxy_pass http://spread; } }
  server { listen 127.0.0.1:$((NG + 2)) backlog=4096; location / { proxy_pass http://sync; } }
}
NGINX

# Starts relay D (a cliproxy driver or nginx): sets STOP_PID (to kill),
# CP_PID (the process measured), PROBE_AT; hold_at PHASE is where streams
# of that phase are held.
start_relay() {
  if [ "$1" = nginx ]; then
    $ON0 nginx -c $W/nginx.conf -g 'daemon off;' 2>$W/relay.log &
    STOP_PID=$!
    PROBE_AT=127.0.0.1:$NG
    hold_at() { case $1 in spread) echo 127.0.0.1:$((NG + 1)) ;; *) echo 127.0.0.1:$((NG + 2)) ;; esac; }
    wait_port $NG || { echo "nginx did not start" >&2; cat $W/relay.log $W/nginx.err >&2; exit 1; }
    CP_PID=$(pgrep -P $STOP_PID | head -1)
    echo "== nginx $(nginx -v 2>&1 | sed 's/.*\///'), one worker"
  else
    $ON0 $BIN --config $W/config.yaml --workers 1 --driver $1 ${CLIPROXY_ARGS:-} 2>$W/relay.log &
    STOP_PID=$!; CP_PID=$STOP_PID
    PROBE_AT=127.0.0.1:$CP
    hold_at() { echo 127.0.0.1:$CP; }
    wait_port $CP || { echo "nothing listens on $CP" >&2; cat $W/relay.log >&2; exit 1; }
    echo "== driver $1: $(head -1 $W/relay.log)"
  fi
}

for D in $DRIVERS; do
  start_relay $D
  rss() { awk '/VmRSS/ {print $2}' /proc/$CP_PID/status; }
  sleep 1 # let start-up settle before reading the idle figure (a measurement, not synchronisation)
  IDLE=$(rss); FDS=$(ls /proc/$CP_PID/fd | wc -l)
  echo "idle RSS after start: $IDLE KB"
  [ "$LATENCY" = 1 ] && probes "no other stream open"

  # Warm-up: allocator arenas, buffer pools and upstream connection pools
  # exist before the measured rounds.
  $ON1 $LG hold $(hold_at spread) "$N" gpt-slow-spread 0 $W/warm
  wait_closed
  sleep 2
  BASE=$(rss)
  echo "RSS after a warm-up round of $N streams, all closed: $BASE KB"

  FIRST=1
  for P in $PHASES; do
    hold_open $P
    if [ $FIRST = 1 ]; then
      PEAK=0
      for _ in 1 2 3 4 5; do
        sleep 1
        r=$(rss); [ "$r" -gt "$PEAK" ] && PEAK=$r
      done
      echo "RSS with $N streams in flight (max of 5 readings, 1 s apart): $PEAK KB"
      awk -v n="$N" -v p="$PEAK" -v b="$BASE" -v i="$IDLE" 'BEGIN {
        printf "per in-flight stream: %.1f KB over the warmed-up base (%.1f KB over idle)\n", (p-b)/n, (p-i)/n }'
      FIRST=0
    fi
    [ "$LATENCY" = 1 ] && probes "$N streams held, $P ticks"
    hold_close
  done
  kill $STOP_PID; wait $STOP_PID 2>/dev/null || true
  STOP_PID=
done
