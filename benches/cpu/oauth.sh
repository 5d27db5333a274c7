#!/usr/bin/env bash
# CPU per request on an OAuth Claude account vs an API-key Claude entry, in
# instructions (callgrind; see instructions.sh for the method). Both reach the
# same zero-delay nginx over TLS as `api.anthropic.com` (CLIPROXY_CONNECT_TO
# plus a throw-away CA given to --upstream-ca), so the only difference is the
# credential: a key from config.yaml vs an auth-dir file's token. The client
# is an OpenAI one, so by default the account also cloaks the request as
# Claude Code (system block, billing hash, user id: work an API key does not
# do here); a second account with `cloak_mode: never` does the same work as
# the key, which isolates what the account itself costs.
#
# Usage: benches/cpu/oauth.sh BINARY      env: LOW=300 HIGH=1500
# Needs: valgrind, wrk, nginx, openssl.
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/cpu/lib.sh
bench_start "${1:-}" oauth 18431 18433
tls_cert api.anthropic.com

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
cat > $W/auths/claude-plain@example.com.json <<JSON
{"type":"claude","email":"plain@example.com","access_token":"sk-ant-oat01-plain","refresh_token":"rt","expired":"2099-01-01T00:00:00Z",
 "cloak_mode":"never","model_aliases":[{"name":"claude-sonnet-4-6","alias":"via-plain"}]}
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

RELAY_ENV="CLIPROXY_CONNECT_TO=api.anthropic.com:443=127.0.0.1:$UP"

printf '%-10s %-10s %14s\n' credential stream instr/request  # plain = account without cloaking
for stream in false true; do
  for via in key plain account; do
    s=$(scenario "$via-$stream" "via-$via" $stream)
    lo=$(count_instructions "$BIN" "$s" "$LOW" --upstream-ca $W/ca.pem)
    hi=$(count_instructions "$BIN" "$s" "$HIGH" --upstream-ca $W/ca.pem)
    printf '%-10s %-10s %14d\n' $via $stream $(( (hi - lo) / (HIGH - LOW) ))
  done
done
