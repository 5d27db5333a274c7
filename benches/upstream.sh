# Shared by the bench scripts (sourced, not run): the zero-delay nginx
# upstream every end-to-end bench relays to, and a port wait.
#   upstream_conf DIR PORT  writes DIR/upstream.conf (pid and error log in DIR)
#   wait_port PORT          waits up to 20 s for a listener on 127.0.0.1:PORT
# Locations: /v1/chat/completions (JSON), /sse/chat/completions (SSE),
# /claude/v1/messages (JSON, or SSE when the client accepts event-stream),
# /churn/chat/completions (429 with Retry-After 1 for keys containing "churn").

BODY='{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"upstream-bench","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is a zero-delay upstream answering a benchmark."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":12,"total_tokens":24}}'
SSE='data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"upstream-bench","choices":[{"index":0,"delta":{"content":"Hello!"}}]}\n\ndata: {"id":"c","object":"chat.completion.chunk","created":1,"model":"upstream-bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'

CLAUDE='{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench","content":[{"type":"text","text":"Hello! This is a zero-delay upstream answering a benchmark."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":12}}'
CLAUDE_SSE='event: message_start\ndata: {"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","content":[],"model":"claude-bench","stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello!"}}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":12}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'

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

wait_port() {
  for _ in $(seq 400); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
