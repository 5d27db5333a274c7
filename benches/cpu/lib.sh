# Shared by the callgrind benches (sourced, not run).
#   bench_start BIN TAG UP CP  checks the tools, sets BIN, LOW/HIGH (default
#                            300/1500), W (work dir, removed on exit), UP and
#                            CP (upstream and relay ports); sources upstream.sh
# The functions below expect W and CP set.
#   h2_upstream_and_config   nginx over TLS (h2 and http/1.1) on $UP as upstream.bench
#                            (needs tls_cert upstream.bench), and $W/config.yaml with
#                            h1-json/h2-json/h1-sse/h2-sse (h1-* have force-http1)
#   claude_upstream_and_config  nginx over TLS (h1) on $UP as api.anthropic.com (needs
#                            tls_cert api.anthropic.com), an auth-dir with two Claude
#                            accounts, and $W/config.yaml: via-key (claude-api-key),
#                            via-account (default cloaking), via-plain (cloak_mode never)
#   wrk_cpu_run MODEL [STREAM]  one relay process (one worker, CPU 0) under wrk
#                            (CONNS connections for DUR, CPU 1) after a 1 s warm-up;
#                            prints "µs-of-relay-CPU-per-request requests-per-second"
#   tls_cert NAME            throw-away CA ($W/ca.pem) and a leaf for NAME ($W/leaf.pem, $W/leaf.key)
#   scenario NAME MODEL STREAM   a wrk script posting a small chat request; prints its path
#   count_instructions BIN SCRIPT N [ARGS...]
#                            total instructions of one relay run (epoll, one
#                            worker, config $W/config.yaml) that answers N
#                            requests; extra ARGS go to the relay. Env for the
#                            relay: RELAY_ENV (e.g. "CLIPROXY_CONNECT_TO=...");
#                            KEEP_DIR keeps each callgrind output there.

bench_start() {
  BIN=${1:?usage: $0 BINARY}
  LOW=${LOW:-300}
  HIGH=${HIGH:-1500}
  for tool in valgrind wrk nginx openssl; do
    command -v $tool >/dev/null || { echo "$tool missing: apt-get install $tool" >&2; exit 1; }
  done
  W=$(mktemp -d /tmp/cliproxy-$2.XXXXXX)
  UP=$3; CP=$4
  trap 'kill $(cat $W/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf $W' EXIT
  . benches/upstream.sh
}

tls_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca \
    -keyout $W/ca.key -out $W/ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" \
    -keyout $W/leaf.key -out $W/leaf.csr 2>/dev/null
  printf 'subjectAltName=DNS:%s\n' "$1" >$W/ext
  openssl x509 -req -in $W/leaf.csr -CA $W/ca.pem -CAkey $W/ca.key -CAcreateserial \
    -days 2 -extfile $W/ext -out $W/leaf.pem 2>/dev/null
}

scenario() {
  local f=$W/$1.lua
  {
    cat benches/mem/stop_after.lua
    echo "wrk.body = '{\"model\":\"$2\",\"stream\":$3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'"
  } >$f
  echo $f
}

count_instructions() {
  local bin=$1 script=$2 n=$3 out=$W/cg.out pid
  shift 3
  rm -f $out
  env ${RELAY_ENV:-} valgrind --tool=callgrind --callgrind-out-file=$out "$bin" \
    --config $W/config.yaml --workers 1 --driver epoll --drain-seconds 1 "$@" 2>$W/vg.log &
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
  [ -n "${KEEP_DIR:-}" ] && cp $out "$KEEP_DIR/$(basename "$script" .lua)-$n.out"
  awk '/^totals:|^summary:/ {print $2; exit}' $out
}

h2_upstream_and_config() {
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
}

claude_upstream_and_config() {
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
}

ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
HZ=$(getconf CLK_TCK)

wrk_cpu_run() {
  local model=$1 stream=${2:-true}
  env ${RELAY_ENV:-} taskset -c 0 "$BIN" --config $W/config.yaml \
    --workers 1 --upstream-ca $W/ca.pem --drain-seconds 1 2>$W/relay.log &
  RP=$!
  wait_port $CP
  cat > $W/s.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"$model","stream":$stream,"messages":[{"role":"user","content":"hi"}]}'
LUA
  taskset -c 1 wrk -t1 -c8 -d1s -s $W/s.lua http://127.0.0.1:$CP/v1/chat/completions >/dev/null
  local t0; t0=$(ticks $RP)
  taskset -c 1 wrk -t1 -c$CONNS -d$DUR -s $W/s.lua http://127.0.0.1:$CP/v1/chat/completions >$W/wrk.out
  local t1; t1=$(ticks $RP)
  kill $RP; wait $RP 2>/dev/null || true; RP=
  local n rps
  n=$(awk '/requests in/ {print $1}' $W/wrk.out)
  rps=$(awk '/Requests\/sec/ {print $2}' $W/wrk.out)
  grep -q 'Non-2xx' $W/wrk.out && { echo "non-2xx answers" >&2; cat $W/wrk.out >&2; exit 1; }
  awk -v t=$((t1 - t0)) -v hz=$HZ -v n=$n -v r=$rps 'BEGIN {printf "%.1f %s", t / hz * 1e6 / n, r}'
}
