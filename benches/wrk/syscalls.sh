#!/usr/bin/env bash
# Kernel work per request, counted (not timed): syscalls by name, io_uring
# SQEs submitted, CQEs posted, task_work runs, poll arms, for nginx
# proxy_pass and one or two cliproxy binaries on both drivers, in the
# pass-through scenarios of compare.sh (json, sse40). Counts come from
# kernel tracepoints (`perf stat -e`), so they do not depend on the CPU
# noise of a shared machine the way CPU-time figures do.
# Same set-up as compare.sh: proxies on CPU 0, wrk and the nginx upstream
# on CPU 1, wrk at CONNS connections.
#
# Usage: benches/wrk/syscalls.sh [duration=3s] [connections=64] [BIN_A [BIN_B]]
# BIN_A defaults to target/release/cliproxy. Needs wrk, nginx, perf.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-3s}
CONNS=${2:-64}
BINS=("${3:-target/release/cliproxy}")
[ -n "${4:-}" ] && BINS+=("$4")
W=$(mktemp -d /tmp/cliproxy-syscalls.XXXXXX)
UP=18421; NGX=18422; BASE=18430
PIDS=()
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; kill ${PIDS[*]:-} 2>/dev/null || true; rm -rf $W' EXIT
. benches/upstream.sh
upstream_conf $W $UP
proxy_conf $W $UP $NGX
taskset -c 1 nginx -c $W/upstream.conf
taskset -c 0 nginx -c $W/proxy.conf

config() { bench_config "$1" "$UP" "$W"; } # port
bench_lua $W/json.lua gpt-bench false
bench_lua $W/sse40.lua gpt-bench-sse40 true
bench_lua $W/claude40.lua gpt-bench-claude40 true

# name pid port, one line per proxy instance.
: >$W/targets
port=$BASE
for i in "${!BINS[@]}"; do
  for d in uring epoll; do
    config $port >$W/c$port.yaml
    taskset -c 0 "${BINS[$i]}" --config $W/c$port.yaml --workers 1 --driver $d 2>$W/c$port.log &
    PIDS+=($!)
    echo "bin$i-$d $! $port" >>$W/targets
    port=$((port + 1))
  done
done
for p in $UP $NGX $(awk '{print $3}' $W/targets); do
  wait_port $p || { echo "nothing listens on $p" >&2; cat $W/*.log >&2; exit 1; }
done
NGX_PID=$(pgrep -P "$(cat $W/proxy.pid)" | head -1)

EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_readv,syscalls:sys_enter_writev,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_recvmsg,syscalls:sys_enter_sendmsg,io_uring:io_uring_submit_req,io_uring:io_uring_complete,io_uring:io_uring_task_add,io_uring:io_uring_poll_arm,io_uring:io_uring_local_work_run,io_uring:io_uring_cqring_wait,context-switches
ngx_path() { case $1 in json) echo /v1/chat/completions ;; sse40) echo /sse40/chat/completions ;; esac; }

measure() { # name scenario pid port path
  taskset -c 1 wrk -t1 -c"$CONNS" -d1s -s $W/$2.lua "http://127.0.0.1:$4$5" >/dev/null
  perf stat -x, -e $EVENTS -p $3 -o $W/perf.out &
  local perf=$!
  sleep 0.2
  local out reqs
  out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" -s $W/$2.lua "http://127.0.0.1:$4$5")
  kill -INT $perf; wait $perf || true
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '%-8s %-12s %8s req ' "$2" "$1" "$reqs"
  awk -F, -v r="$reqs" '$3 ~ /:|context/ { n=$3; sub(/^(syscalls:sys_enter_|raw_syscalls:|io_uring:io_uring_)/, "", n); if ($1 > 0) printf " %s=%.2f", n, $1/r } END { print "" }' $W/perf.out
}
for s in json sse40 claude40; do
  # nginx does no translation: no claude40 row for it.
  [ $s = claude40 ] || measure nginx $s $NGX_PID $NGX "$(ngx_path $s)"
  while read -r name pid port; do
    measure "$name" $s $pid $port /v1/chat/completions
  done <$W/targets
done
