#!/usr/bin/env bash
# Interrupts on the proxy's CPU per request (LOC timer, RES rescheduling
# IPIs, CAL function-call IPIs, from /proc/interrupts row CPU0), for each
# given cliproxy binary in turn on io_uring, one worker on CPU 0, wrk and a
# zero-delay nginx upstream on CPU 1, 64 connections, 3 s after a 1 s
# warm-up. Counts, not times: stable on a noisy machine. Whole-machine
# counters: keep other work off CPU 0 while it runs.
# A binary may be a wrapper script that `exec`s cliproxy with, e.g.,
# CLIPROXY_URING_SETUP=plain|coop|defer to compare ring setups.
#
# Usage: benches/wrk/ipis.sh json|sse40 BIN...
set -euo pipefail
cd "$(dirname "$0")/../.."
S=$1; shift
W=$(mktemp -d /tmp/cliproxy-ipis.XXXXXX); UP=18461; P=18462
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; kill ${CP:-} 2>/dev/null || true; rm -rf $W' EXIT
. benches/upstream.sh
upstream_conf $W $UP
taskset -c 1 nginx -c $W/upstream.conf
model=gpt-bench; stream=false; [ $S = sse40 ] && { model=gpt-bench-sse40; stream=true; }
bench_lua $W/s.lua "$model" "$stream"
irq() { awk '$1 ~ /^(CAL|RES|IWI|LOC|TLB):$/ {printf "%s %s ", $1, $2}' /proc/interrupts; echo; }
for bin in "$@"; do
bench_config "$P" "$UP" "$W" >$W/c.yaml
taskset -c 0 $bin --config $W/c.yaml --workers 1 --driver uring 2>$W/c.log & CP=$!
wait_port $P
taskset -c 1 wrk -t1 -c64 -d1s -s $W/s.lua http://127.0.0.1:$P/v1/chat/completions >/dev/null
a=$(irq)
out=$(taskset -c 1 wrk -t1 -c64 -d3s -s $W/s.lua http://127.0.0.1:$P/v1/chat/completions)
b=$(irq)
reqs=$(awk '/requests in/ {print $1}' <<<"$out")
echo "$S $(basename $bin) reqs=$reqs $(paste <(tr ' ' '\n' <<<"$a") <(tr ' ' '\n' <<<"$b") | awk -v r=$reqs 'NR%2==1 {n=$1} NR%2==0 && $1 != "" {printf "%s%.3f/req ", n, ($2-$1)/r}')"
kill $CP; wait $CP 2>/dev/null || true
done
