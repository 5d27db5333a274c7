#!/usr/bin/env bash
# End-to-end throughput: wrk against the upstream directly, against nginx
# proxy_pass (upstream keepalive, one worker) and against cliproxy (one
# worker), proxies pinned to CPU 0, wrk and the upstream on CPU 1.
# Prints requests/s, latency percentiles and the cliproxy/nginx ratios.
#
# Usage: benches/wrk/run.sh [duration=10s] [connections=64]
# Needs: wrk, nginx (Debian packages), a release build (cargo build --release).
# CLIPROXY_BIN=path runs another build (e.g. the base commit) for a before/after.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-10s}
CONNS=${2:-64}
BIN=${CLIPROXY_BIN:-target/release/cliproxy}
[ -x "$BIN" ] || cargo build --release --bins
W=$(mktemp -d /tmp/cliproxy-wrk.XXXXXX)
UP=18401; NGX=18402; CP=18403
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; kill ${CP_PID:-} 2>/dev/null || true; rm -rf $W' EXIT

. benches/upstream.sh
upstream_conf $W $UP

proxy_conf $W $UP $NGX

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
  - name: bench-churn
    base-url: "http://127.0.0.1:$UP/churn"
    api-key-entries:
$(for i in 0 1 2 3 4 5 6 7 8 9; do echo "      - api-key: \"churn-$i\""; done)
      - api-key: "good"
    models:
      - name: upstream-bench
        alias: gpt-bench-churn
claude-api-key:
  - api-key: "sk-upstream"
    base-url: "http://127.0.0.1:$UP/claude"
    models:
      - name: claude-bench
        alias: gpt-bench-claude
YAML

taskset -c 1 nginx -c $W/upstream.conf
taskset -c 0 nginx -c $W/proxy.conf
taskset -c 0 $BIN --config $W/config.yaml --workers 1 ${CLIPROXY_ARGS:-} 2>$W/cliproxy.log &
CP_PID=$!
for p in $UP $NGX $CP; do
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done
done

run() { # name port script connections [path]
  local out
  out=$(taskset -c 1 wrk -t1 -c"$4" -d"$DUR" --latency -s "benches/wrk/$3" "http://127.0.0.1:$2${5:-/v1/chat/completions}")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local errs
  errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
  printf '%-22s %10s req/s   p50 %8s   p99 %8s  %s\n' "$1" "$rps" "$p50" "$p99" "$errs" >&2
  echo "$rps $p99"
}
to_us() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000000} else print v }'; }

echo "== $CONNS connections, $DUR, non-stream ==" >&2
read -r UP_RPS _ < <(run upstream-direct $UP post.lua "$CONNS")
read -r NGX_RPS _ < <(run nginx-proxy_pass $NGX post.lua "$CONNS")
read -r CP_RPS _ < <(run cliproxy $CP post.lua "$CONNS")
read -r CH_RPS _ < <(run cliproxy-cooldown-churn $CP post_churn.lua "$CONNS")
# CPU per request of cliproxy (utime+stime ticks of the process / requests).
cpu_ticks() { awk '{print $14+$15}' /proc/$CP_PID/stat; }
cpu_run() { # name script [path]
  local t0 t1 out reqs
  t0=$(cpu_ticks)
  out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" -s "benches/wrk/$2" "http://127.0.0.1:$CP${3:-/v1/chat/completions}")
  t1=$(cpu_ticks)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  awk -v n="$1" -v t="$((t1-t0))" -v r="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%-34s %8d requests  %6.1f us CPU/request\n", n, r, t/hz*1e6/r }' >&2
  awk -v t="$((t1-t0))" -v r="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f\n", t/hz*1e6/r }'
}
# Same Claude upstream and the same upstream bytes: an Anthropic client (pass-through)
# against an OpenAI client (request and answer translated).
echo "== cliproxy CPU per request, Claude upstream: Anthropic client (pass-through) vs OpenAI client (translated) ==" >&2
PT_CPU=$(cpu_run "pass-through non-stream" post_claude.lua /v1/messages)
TR_CPU=$(cpu_run "translated non-stream" post_translate.lua)
PTS_CPU=$(cpu_run "pass-through stream" post_claude_stream.lua /v1/messages)
TRS_CPU=$(cpu_run "translated stream" post_translate_stream.lua)
echo "== $CONNS connections, $DUR, stream ==" >&2
read -r NGX_S _ < <(run nginx-proxy_pass $NGX post_stream.lua "$CONNS" /sse/chat/completions)
read -r CP_S _ < <(run cliproxy $CP post_stream.lua "$CONNS")
echo "== 1 connection, $DUR, non-stream (latency) ==" >&2
read -r UP1 UP1_P99 < <(run upstream-direct $UP post.lua 1)
read -r NGX1 NGX1_P99 < <(run nginx-proxy_pass $NGX post.lua 1)
read -r CP1 CP1_P99 < <(run cliproxy $CP post.lua 1)

U=$(to_us "$UP1_P99"); N=$(to_us "$NGX1_P99"); C=$(to_us "$CP1_P99")
CONNS=$CONNS PT_CPU=$PT_CPU TR_CPU=$TR_CPU PTS_CPU=$PTS_CPU TRS_CPU=$TRS_CPU awk -v c="$CP_RPS" -v n="$NGX_RPS" -v cs="$CP_S" -v ch="$CH_RPS" -v ns="$NGX_S" -v u="$U" -v nn="$N" -v cc="$C" 'BEGIN {
  printf "throughput cliproxy/nginx (non-stream, %s conns): %.2fx\n", ENVIRON["CONNS"], c/n;
  printf "throughput cliproxy/nginx (stream): %.2fx\n", cs/ns;
  printf "translated/pass-through CPU per request: non-stream %.2fx, stream %.2fx\n", ENVIRON["TR_CPU"]/ENVIRON["PT_CPU"], ENVIRON["TRS_CPU"]/ENVIRON["PTS_CPU"];
  printf "cooldown churn (10 of 11 keys answering 429, Retry-After 1): %.2fx of plain pass-through\n", ch/c;
  an = nn-u; ac = cc-u; if (an < 1) an = 1;
  printf "p99 at 1 connection: upstream %dus, nginx %dus (+%dus), cliproxy %dus (+%dus); added-latency ratio %.2fx\n", u, nn, nn-u, cc, cc-u, ac/an;
}'
echo "== time to first byte, 1000 sequential streamed requests (cliproxy) ==" >&2
taskset -c 1 python3 benches/wrk/ttfb.py 127.0.0.1:$CP 1000 5
