#!/usr/bin/env bash
# CPU per request on an OAuth Claude account vs an API-key Claude entry, in
# instructions (callgrind; see instructions.sh for the method). Both reach the
# same zero-delay nginx over TLS as `api.anthropic.com` (CLIPROXY_CONNECT_TO
# plus a throw-away CA given to --upstream-ca), so the only difference is the
# credential: a key from config.yaml vs an auth-dir file's token.
#
# Usage: benches/cpu/oauth.sh BINARY      env: LOW=300 HIGH=1500
# Needs: valgrind, wrk, nginx, openssl.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:?usage: $0 BINARY}
LOW=${LOW:-300}
HIGH=${HIGH:-1500}
for tool in valgrind wrk nginx openssl; do
  command -v $tool >/dev/null || { echo "$tool missing: apt-get install $tool" >&2; exit 1; }
done
W=$(mktemp -d /tmp/cliproxy-oauth.XXXXXX)
UP=18431; CP=18433
trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf $W' EXIT
. benches/upstream.sh

# A CA and a leaf for api.anthropic.com.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca \
  -keyout $W/ca.key -out $W/ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=api.anthropic.com \
  -keyout $W/leaf.key -out $W/leaf.csr 2>/dev/null
printf 'subjectAltName=DNS:api.anthropic.com\n' >$W/ext
openssl x509 -req -in $W/leaf.csr -CA $W/ca.pem -CAkey $W/ca.key -CAcreateserial \
  -days 2 -extfile $W/ext -out $W/leaf.pem 2>/dev/null

cat > $W/upstream.conf <<NGINX
worker_processes 1;
pid $W/upstream.pid;
error_log $W/upstream.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP ssl;
    ssl_certificate $W/leaf.pem;
    ssl_certificate_key $W/leaf.key;
    location /v1/messages {
      if (\$http_accept ~ "event-stream") { rewrite ^ /claude-sse last; }
      default_type application/json;
      return 200 '$CLAUDE';
    }
    location /claude-sse { internal; default_type text/event-stream; return 200 '$CLAUDE_SSE'; }
  }
}
NGINX
nginx -c $W/upstream.conf
wait_port $UP

mkdir -p $W/auths
cat > $W/auths/claude-bench@example.com.json <<JSON
{"type":"claude","email":"bench@example.com","access_token":"sk-ant-oat01-bench","refresh_token":"rt","expired":"2099-01-01T00:00:00Z",
 "model_aliases":[{"name":"claude-sonnet-4-6","alias":"via-account"}]}
JSON
cat > $W/config.yaml <<YAML
host: 127.0.0.1
port: $CP
auth-dir: $W/auths
api-keys: ["sk-bench"]
claude-api-key:
  - api-key: "sk-ant-api-bench"
    models:
      - name: claude-sonnet-4-6
        alias: via-key
YAML

instructions() { # script requests
  local script=$1 n=$2 out=$W/cg.out pid
  rm -f $out
  CLIPROXY_CONNECT_TO="api.anthropic.com:443=127.0.0.1:$UP" \
  valgrind --tool=callgrind --callgrind-out-file=$out "$BIN" --config $W/config.yaml \
    --workers 1 --driver epoll --drain-seconds 1 --upstream-ca $W/ca.pem 2>$W/vg.log &
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
    echo "wanted $n answers with 2xx:" >&2; cat $W/wrk.out $W/vg.log >&2; return 1
  fi
  awk '/^totals:|^summary:/ {print $2; exit}' $out
}

scenario() { # name model stream
  local f=$W/$1.lua
  {
    cat benches/mem/stop_after.lua
    echo "wrk.body = '{\"model\":\"$2\",\"stream\":$3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'"
  } >$f
  echo $f
}

printf '%-10s %-10s %14s\n' credential stream instr/request
for stream in false true; do
  for via in key account; do
    s=$(scenario "$via-$stream" "via-$via" $stream)
    lo=$(instructions "$s" "$LOW")
    hi=$(instructions "$s" "$HIGH")
    printf '%-10s %-10s %14d\n' $via $stream $(( (hi - lo) / (HIGH - LOW) ))
  done
done
