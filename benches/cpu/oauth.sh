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

claude_upstream_and_config

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
