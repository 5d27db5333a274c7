# Shared by the bench scripts (sourced, not run): the zero-delay nginx
# upstream every end-to-end bench relays to, and a port wait.
#   upstream_conf DIR PORT  writes DIR/upstream.conf (pid and error log in DIR)
#   wait_port PORT          waits up to 20 s for a listener on 127.0.0.1:PORT
# Locations: /v1/chat/completions (JSON), /sse/chat/completions (SSE),
# /claude/v1/messages (JSON, or SSE when the client accepts event-stream),
# /churn/chat/completions (429 with Retry-After 1 for keys containing "churn"),
# /sse40/chat/completions (SSE, 40 content chunks, a finish chunk and [DONE]),
# /claude40/v1/messages (Claude SSE, 40 text_delta events among its 45).
#   proxy_conf DIR UP PORT  writes DIR/proxy.conf: nginx proxy_pass on PORT to
#                           the upstream on UP (one worker, upstream keepalive,
#                           no buffering); pid in DIR/proxy.pid

BODY='{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"upstream-bench","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is a zero-delay upstream answering a benchmark."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":12,"total_tokens":24}}'
SSE='data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"upstream-bench","choices":[{"index":0,"delta":{"content":"Hello!"}}]}\n\ndata: {"id":"c","object":"chat.completion.chunk","created":1,"model":"upstream-bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'

CLAUDE='{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench","content":[{"type":"text","text":"Hello! This is a zero-delay upstream answering a benchmark."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":12}}'
CLAUDE_SSE='event: message_start\ndata: {"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","content":[],"model":"claude-bench","stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello!"}}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":12}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'

# 40-chunk bodies (one word per chunk), built once when sourced. A quoted
# nginx parameter holds at most 4 KB, so each body is split over variables
# of 10 events: SSE40_SET / CLAUDE_SSE40_SET are the `set` directives and
# SSE40_VARS / CLAUDE_SSE40_VARS the `return` text that joins them.
SSE40_SET=''; SSE40_VARS=''; CLAUDE_SSE40_SET=''; CLAUDE_SSE40_VARS=''
_o=''; _c=''
for _i in $(seq 40); do
  _o+='data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"upstream-bench","choices":[{"index":0,"delta":{"content":"word'$_i' "}}]}\n\n'
  _c+='event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"word'$_i' "}}\n\n'
  if [ $((_i % 10)) = 0 ]; then
    SSE40_SET+="set \$o$_i '$_o'; "; SSE40_VARS+="\$o$_i"
    CLAUDE_SSE40_SET+="set \$c$_i '$_c'; "; CLAUDE_SSE40_VARS+="\$c$_i"
    _o=''; _c=''
  fi
done
SSE40_SET+="set \$ot '"'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"upstream-bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'"'; "
SSE40_VARS+='$ot'
CLAUDE_SSE40_SET+="set \$ch '"'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","content":[],"model":"claude-bench","stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'"'; "
CLAUDE_SSE40_SET+="set \$ct '"'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":40}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'"'; "
CLAUDE_SSE40_VARS="\$ch${CLAUDE_SSE40_VARS}\$ct"
unset _i _o _c

upstream_conf() {
  local W=$1 UP=$2
cat > $W/upstream.conf <<NGINX
worker_processes 1;
pid $W/upstream.pid;
error_log $W/upstream.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP;
    location /v1/chat/completions { default_type application/json; return 200 '$BODY'; }
    location /sse/chat/completions { default_type text/event-stream; return 200 '$SSE'; }
    location /claude/v1/messages {
      if (\$http_accept ~ "event-stream") { rewrite ^ /claude-sse last; }
      default_type application/json;
      return 200 '$CLAUDE';
    }
    location /claude-sse { internal; default_type text/event-stream; return 200 '$CLAUDE_SSE'; }
    location /sse40/chat/completions { default_type text/event-stream; $SSE40_SET return 200 "$SSE40_VARS"; }
    location /claude40/v1/messages { default_type text/event-stream; $CLAUDE_SSE40_SET return 200 "$CLAUDE_SSE40_VARS"; }
    location /churn/chat/completions {
      if (\$http_authorization ~ "churn") {
        add_header Retry-After 1 always;
        return 429 '{"error":{"message":"rate limited","type":"rate_limit_error"}}';
      }
      default_type application/json;
      return 200 '$BODY';
    }
  }
}
NGINX
}

proxy_conf() {
  local W=$1 UP=$2 PORT=$3
cat > $W/proxy.conf <<NGINX
worker_processes 1;
pid $W/proxy.pid;
error_log $W/proxy.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:$UP; keepalive 256; }
  server {
    listen 127.0.0.1:$PORT;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
}

wait_port() {
  for _ in $(seq 400); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# cliproxy config for the side-by-side scripts: PORT UPSTREAM_PORT DIR.
# gpt-bench (JSON), gpt-bench-sse40 (40-chunk stream) and gpt-bench-claude40
# (Claude stream, translated for OpenAI clients), all on the zero-delay upstream.
bench_config() {
cat <<YAML
host: 127.0.0.1
port: $1
auth-dir: $3/auths
api-keys: ["sk-bench"]
openai-compatibility:
  - name: bench
    base-url: "http://127.0.0.1:$2/v1"
    api-key-entries: [{api-key: "sk-upstream"}]
    models: [{name: upstream-bench, alias: gpt-bench}]
  - name: bench-sse40
    base-url: "http://127.0.0.1:$2/sse40"
    api-key-entries: [{api-key: "sk-upstream"}]
    models: [{name: upstream-bench, alias: gpt-bench-sse40}]
claude-api-key:
  - api-key: "sk-upstream"
    base-url: "http://127.0.0.1:$2/claude40"
    models: [{name: claude-bench, alias: gpt-bench-claude40}]
YAML
}

# wrk script posting one OpenAI chat request with cliproxy's bench key:
# FILE MODEL STREAM(true|false).
bench_lua() {
cat >"$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"$2","messages":[{"role":"user","content":"Say hello in one short sentence."}],"stream":$3}'
LUA
}
