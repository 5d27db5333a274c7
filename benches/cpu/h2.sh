#!/usr/bin/env bash
# CPU per request with an HTTP/2 upstream vs the same upstream over HTTP/1.1,
# in instructions (callgrind; method in instructions.sh). One nginx over TLS
# offering h2 and http/1.1; two openai-compatibility entries point at it, one
# with `force-http1: true`. Scenarios: non-stream JSON and SSE stream.
#
# Usage: benches/cpu/h2.sh BINARY      env: LOW=300 HIGH=1500
# Needs: valgrind, wrk, nginx (with http_v2), openssl.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:?usage: $0 BINARY}
LOW=${LOW:-300}
HIGH=${HIGH:-1500}
for tool in valgrind wrk nginx openssl; do
  command -v $tool >/dev/null || { echo "$tool missing: apt-get install $tool" >&2; exit 1; }
done
W=$(mktemp -d /tmp/cliproxy-h2.XXXXXX)
UP=18441; CP=18443
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf $W' EXIT
. benches/upstream.sh
. benches/cpu/lib.sh
tls_cert upstream.bench

cat > $W/upstream.conf <<NGINX
worker_processes 1;
pid $W/upstream.pid;
error_log $W/upstream.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP ssl http2;
    ssl_certificate $W/leaf.pem;
    ssl_certificate_key $W/leaf.key;
    location /v1/chat/completions { default_type application/json; return 200 '$BODY'; }
    location /sse/chat/completions { default_type text/event-stream; return 200 '$SSE'; }
  }
}
NGINX
nginx -c $W/upstream.conf
wait_port $UP

cat > $W/config.yaml <<YAML
host: 127.0.0.1
port: $CP
auth-dir: $W/auths
api-keys: ["sk-bench"]
openai-compatibility:
  - name: h2
    base-url: "https://upstream.bench:$UP/v1"
    api-key-entries: [{api-key: "k"}]
    models: [{name: upstream-bench, alias: h2-json}]
  - name: h2-sse
    base-url: "https://upstream.bench:$UP/sse"
    api-key-entries: [{api-key: "k"}]
    models: [{name: upstream-bench, alias: h2-sse}]
  - name: h1
    base-url: "https://upstream.bench:$UP/v1"
    force-http1: true
    api-key-entries: [{api-key: "k"}]
    models: [{name: upstream-bench, alias: h1-json}]
  - name: h1-sse
    base-url: "https://upstream.bench:$UP/sse"
    force-http1: true
    api-key-entries: [{api-key: "k"}]
    models: [{name: upstream-bench, alias: h1-sse}]
YAML
RELAY_ENV="CLIPROXY_CONNECT_TO=upstream.bench:$UP=127.0.0.1:$UP"

printf '%-6s %-8s %14s\n' proto kind instr/request
for kind in json sse; do
  stream=false; [ $kind = sse ] && stream=true
  for proto in h1 h2; do
    s=$(scenario "$proto-$kind" "$proto-$kind" $stream)
    lo=$(count_instructions "$BIN" "$s" "$LOW" --upstream-ca $W/ca.pem)
    hi=$(count_instructions "$BIN" "$s" "$HIGH" --upstream-ca $W/ca.pem)
    printf '%-6s %-8s %14d\n' $proto $kind $(( (hi - lo) / (HIGH - LOW) ))
  done
done
