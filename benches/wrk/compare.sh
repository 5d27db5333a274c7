#!/usr/bin/env bash
# nginx proxy_pass and cliproxy (io_uring and epoll) side by side in ONE run,
# against the same zero-delay nginx upstream (benches/upstream.sh).
# Proxies pinned to CPU 0, wrk and the upstream on CPU 1, wrk at 64 connections.
# Scenarios:
#   json      OpenAI non-stream pass-through
#   sse40     OpenAI stream pass-through, 40 content chunks (+ finish, [DONE])
#   claude40  OpenAI client -> Claude upstream stream, 40 text deltas
#             (cliproxy only: nginx does no translation)
# Order interleaved per round: nginx, cliproxy-uring, cliproxy-epoll, for each
# pass-through scenario, each cliproxy's claude40 run right after its sse40
# run; ROUNDS rounds. Each run: a WARM warm-up, then DUR measured; the
# proxy process's CPU (utime+stime from /proc/PID/stat, nginx: its worker)
# over the requests wrk completed. Prints every run, then the medians, the
# cliproxy/nginx ratios, and the translated/pass-through ratio per round
# (back-to-back pairs) with its median.
#
# Usage: benches/wrk/compare.sh [rounds=3] [duration=5s] [connections=64]
# Env: WARM (default 1s), CLIPROXY_BIN (default target/release/cliproxy).
# Needs: wrk, nginx (Debian packages), taskset, a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
DUR=${2:-5s}
CONNS=${3:-64}
WARM=${WARM:-1s}
BIN=${CLIPROXY_BIN:-target/release/cliproxy}
for tool in wrk nginx taskset; do
  command -v $tool >/dev/null || { echo "$tool missing: apt-get install $tool" >&2; exit 1; }
done
[ -x "$BIN" ] || cargo build --release --bins
W=$(mktemp -d /tmp/cliproxy-compare.XXXXXX)
UP=18411; NGX=18412; URING=18413; EPOLL=18414
PIDS=()
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; kill ${PIDS[*]:-} 2>/dev/null || true; rm -rf $W' EXIT

. benches/upstream.sh
upstream_conf $W $UP
proxy_conf $W $UP $NGX

config() { bench_config "$1" "$UP" "$W"; } # port
config $URING >$W/uring.yaml
config $EPOLL >$W/epoll.yaml

lua() { bench_lua "$W/$1.lua" "$2" "$3"; } # name model stream
lua json gpt-bench false
lua sse40 gpt-bench-sse40 true
lua claude40 gpt-bench-claude40 true

taskset -c 1 nginx -c $W/upstream.conf
taskset -c 0 nginx -c $W/proxy.conf
taskset -c 0 $BIN --config $W/uring.yaml --workers 1 --driver uring 2>$W/uring.log &
PIDS+=($!); URING_PID=$!
taskset -c 0 $BIN --config $W/epoll.yaml --workers 1 --driver epoll 2>$W/epoll.log &
PIDS+=($!); EPOLL_PID=$!
for p in $UP $NGX $URING $EPOLL; do wait_port $p || { echo "nothing listens on $p" >&2; cat $W/*.log >&2; exit 1; }; done
NGX_PID=$(pgrep -P "$(cat $W/proxy.pid)" | head -1)

# Path on nginx for each scenario (cliproxy always takes /v1/chat/completions).
ngx_path() { case $1 in json) echo /v1/chat/completions ;; sse40) echo /sse40/chat/completions ;; esac; }

# Sanity: each proxy answers each scenario with the expected number of events.
check() { # name port path script-body
  local got
  got=$(curl -sS -N -H 'Authorization: Bearer sk-bench' -H 'Content-Type: application/json' \
    --data "$4" "http://127.0.0.1:$2$3" | grep -c '^data:' || true)
  echo "$got"
}
for port in $URING $EPOLL; do
  n=$(check cliproxy $port /v1/chat/completions '{"model":"gpt-bench-sse40","messages":[{"role":"user","content":"x"}],"stream":true}')
  [ "$n" = 42 ] || { echo "cliproxy :$port sse40 gave $n data lines, want 42" >&2; exit 1; }
  n=$(check cliproxy $port /v1/chat/completions '{"model":"gpt-bench-claude40","messages":[{"role":"user","content":"x"}],"stream":true}')
  [ "$n" -ge 42 ] || { echo "cliproxy :$port claude40 gave $n data lines, want >= 42" >&2; exit 1; }
done
n=$(check nginx $NGX /sse40/chat/completions '{}')
[ "$n" = 42 ] || { echo "nginx sse40 gave $n data lines, want 42" >&2; exit 1; }

HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
RES=$W/results
: >$RES
measure() { # proxy scenario pid port path
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$WARM" -s $W/$2.lua "http://127.0.0.1:$4$5" >/dev/null
  local t0 t1 out reqs rps errs
  t0=$(ticks $3)
  out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" -s $W/$2.lua "http://127.0.0.1:$4$5")
  t1=$(ticks $3)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | tr '\n' ' ' || true)
  local us
  us=$(awk -v t="$((t1-t0))" -v r="$reqs" -v hz="$HZ" 'BEGIN { printf "%.1f", t/hz*1e6/r }')
  printf '%-9s %-15s %10s req/s %7s us CPU/req %s\n' "$2" "$1" "$rps" "$us" "$errs" >&2
  echo "$2 $1 $rps $us" >>$RES
}

echo "== $ROUNDS rounds, $CONNS connections, warm-up $WARM, measured $DUR per run ==" >&2
for r in $(seq "$ROUNDS"); do
  echo "-- round $r" >&2
  for s in json sse40; do
    measure nginx $s $NGX_PID $NGX "$(ngx_path $s)"
    measure cliproxy-uring $s $URING_PID $URING /v1/chat/completions
    # The translated stream right after its own pass-through: the pair is
    # measured back to back, so the machine's drift hits both alike.
    [ $s = json ] || measure cliproxy-uring claude40 $URING_PID $URING /v1/chat/completions
    measure cliproxy-epoll $s $EPOLL_PID $EPOLL /v1/chat/completions
    [ $s = json ] || measure cliproxy-epoll claude40 $EPOLL_PID $EPOLL /v1/chat/completions
  done
done

# Medians and ratios.
awk -v rounds="$ROUNDS" -v conns="$CONNS" -v dur="$DUR" '
function median(key,   n, i, j, t, a) {
  n = cnt[key]; for (i = 1; i <= n; i++) a[i] = v[key, i]
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1 SUBSEP $2; cnt[k "rps"]++; v[k "rps", cnt[k "rps"]] = $3; cnt[k "us"]++; v[k "us", cnt[k "us"]] = $4 }
END {
  printf "\nmedian of %d rounds, %s connections, %s per run (proxy on CPU 0; wrk and upstream on CPU 1)\n\n", rounds, conns, dur
  print "| scenario | nginx req/s | nginx µs/req | uring req/s | uring µs/req | epoll req/s | epoll µs/req | CPU/req uring/nginx | CPU/req epoll/nginx | req/s uring/nginx | req/s epoll/nginx |"
  print "|---|---|---|---|---|---|---|---|---|---|---|"
  split("json sse40 claude40", sc, " ")
  name["json"] = "OpenAI non-stream pass-through"
  name["sse40"] = "OpenAI stream pass-through, 40 chunks"
  name["claude40"] = "OpenAI client → Claude upstream, 40 events"
  for (i = 1; i <= 3; i++) {
    s = sc[i]
    nk = s SUBSEP "nginx"; uk = s SUBSEP "cliproxy-uring"; ek = s SUBSEP "cliproxy-epoll"
    ur = median(uk "rps"); uu = median(uk "us"); er = median(ek "rps"); eu = median(ek "us")
    if (cnt[nk "rps"]) {
      nr = median(nk "rps"); nu = median(nk "us")
      printf "| %s | %.0f | %.1f | %.0f | %.1f | %.0f | %.1f | %.2f× | %.2f× | %.2f× | %.2f× |\n", name[s], nr, nu, ur, uu, er, eu, uu/nu, eu/nu, ur/nr, er/nr
    } else {
      printf "| %s | — | — | %.0f | %.1f | %.0f | %.1f | — | — | — | — |\n", name[s], ur, uu, er, eu
    }
    if (s == "sse40") { pu = uu; pe = eu }
    if (s == "claude40") { tu = uu; te = eu }
  }
  printf "\ntranslated stream / own pass-through stream, CPU per request: uring %.2f×, epoll %.2f× (ratio of the medians)\n", tu/pu, te/pe
  # The same ratio per round (each pair measured back to back), and its median.
  split("cliproxy-uring cliproxy-epoll", dr, " ")
  for (d = 1; d <= 2; d++) {
    pk = "sse40" SUBSEP dr[d] "us"; tk = "claude40" SUBSEP dr[d] "us"; rk = "ratio" dr[d]
    line = ""
    for (i = 1; i <= cnt[tk]; i++) {
      cnt[rk]++; v[rk, cnt[rk]] = v[tk, i] / v[pk, i]
      line = line sprintf(" %.2f", v[tk, i] / v[pk, i])
    }
    printf "per round, %s:%s; median %.2f×\n", dr[d], line, median(rk)
  }
}' $RES
