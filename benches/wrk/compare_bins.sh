#!/usr/bin/env bash
# Two cliproxy builds side by side with nginx, in ONE run, interleaved: for
# each round and pass-through scenario (json, sse40: see compare.sh), nginx
# then A and B on io_uring then A and B on epoll, each against the same
# zero-delay nginx upstream. Proxies pinned to CPU 0, wrk and the upstream
# on CPU 1. Reports CPU per request (the proxy's run time from
# /proc/PID/task/*/schedstat, in ns, over the requests wrk completed) and
# its kernel part (stime ticks from /proc/PID/stat: coarse) separately, every run
# and then the medians with the B/A and X/nginx ratios.
#
# Usage: benches/wrk/compare_bins.sh BIN_A BIN_B [rounds=3] [duration=4s] [connections=64]
# Env: WARM (default 1s). Needs wrk, nginx, taskset.
set -euo pipefail
cd "$(dirname "$0")/../.."
A=$1; B=$2
ROUNDS=${3:-3}; DUR=${4:-4s}; CONNS=${5:-64}; WARM=${WARM:-1s}
W=$(mktemp -d /tmp/cliproxy-bins.XXXXXX)
UP=18451; NGX=18452; BASE=18453
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
declare -A PID PORT
port=$BASE
for v in A B; do
  bin=$A; [ $v = B ] && bin=$B
  for d in uring epoll; do
    config $port >$W/$v$d.yaml
    taskset -c 0 "$bin" --config $W/$v$d.yaml --workers 1 --driver $d 2>$W/$v$d.log &
    PIDS+=($!); PID[$v-$d]=$!; PORT[$v-$d]=$port
    port=$((port + 1))
  done
done
for p in $UP $NGX "${PORT[@]}"; do wait_port $p || { echo "nothing listens on $p" >&2; cat $W/*.log >&2; exit 1; }; done
PID[nginx]=$(pgrep -P "$(cat $W/proxy.pid)" | head -1); PORT[nginx]=$NGX
HZ=$(getconf CLK_TCK)
# CPU time of all the process's threads in ns (schedstat: exact, not ticks).
cpu_ns() { cat /proc/$1/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }
RES=$W/results; : >$RES
measure() { # name scenario
  local path=/v1/chat/completions p=${PID[$1]} port=${PORT[$1]}
  [ "$1" = nginx ] && [ $2 = sse40 ] && path=/sse40/chat/completions
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$WARM" -s $W/$2.lua "http://127.0.0.1:$port$path" >/dev/null
  local c0 s0 c1 s1 out reqs
  c0=$(cpu_ns $p); s0=$(awk '{print $15}' /proc/$p/stat)
  out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" -s $W/$2.lua "http://127.0.0.1:$port$path")
  c1=$(cpu_ns $p); s1=$(awk '{print $15}' /proc/$p/stat)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  local errs; errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | tr '\n' ' ' || true)
  awk -v n="$1" -v s="$2" -v c=$((c1-c0)) -v k=$((s1-s0)) -v r="$reqs" -v hz="$HZ" -v e="$errs" 'BEGIN {
    printf "%-6s %-8s %8d req %7.2f us/req (kernel ~%5.1f) %s\n", s, n, r, c/1e3/r, k/hz*1e6/r, e > "/dev/stderr"
    printf "%s %s %.3f %.2f\n", s, n, c/1e3/r, k/hz*1e6/r }' >>$RES
}
echo "== $ROUNDS rounds, $CONNS connections, warm-up $WARM, measured $DUR; A=$A B=$B ==" >&2
for r in $(seq "$ROUNDS"); do
  echo "-- round $r" >&2
  for s in json sse40; do
    for n in nginx A-uring B-uring A-epoll B-epoll; do measure $n $s; done
  done
done
awk '
function median(key,   n, i, j, t, a) {
  n = cnt[key]; for (i = 1; i <= n; i++) a[i] = v[key, i]
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1 SUBSEP $2; cnt[k]++; v[k, cnt[k]] = $3; cnt[k "k"]++; v[k "k", cnt[k "k"]] = $4 }
END {
  print "\n| scenario | proxy | µs/req (median) | kernel µs/req | ×nginx | B/A |"
  print "|---|---|---|---|---|---|"
  split("json sse40", sc, " "); split("nginx A-uring B-uring A-epoll B-epoll", px, " ")
  for (i = 1; i <= 2; i++) for (j = 1; j <= 5; j++) {
    s = sc[i]; p = px[j]; m = median(s SUBSEP p); mk = median(s SUBSEP p "k")
    ng = median(s SUBSEP "nginx")
    ba = "—"
    if (p ~ /^B-/) { a = median(s SUBSEP "A-" substr(p, 3)); ba = sprintf("%.3f", m / a) }
    printf "| %s | %s | %.1f | %.1f | %.2f× | %s |\n", s, p, m, mk, m / ng, ba
  }
}' $RES
