#!/usr/bin/env bash
# The push-load run of docs/BENCHMARKS.md ("Gateway: pushes over mutual TLS"): a fresh SQLite
# database (or the PostgreSQL database in WAGEGATE_LOAD_DB) with the demo registry imported,
# `wagegate serve` with the development PKI, then `push_load` for distinct and for identical
# bodies. Client and server share the machine's cores.
#
#   cargo build --release -p gateway --bin wagegate && cargo build --release -p server --bench push_load
#   gateway/server/benches/push_load.sh [WORK_DIR]
#
# Environment: WAGEGATE_BIN (default target/release/wagegate), PUSH_LOAD_BIN (default: the
# newest target/release/deps/push_load-*), CONNECTIONS (32), DURATION_S (20), PORT (18443),
# WAGEGATE_LOAD_DB (a postgres:// URL of an empty database; default a SQLite file in WORK_DIR),
# and any WAGEGATE__… setting for the server (e.g. WAGEGATE__DATABASE__SQLITE_SYNCHRONOUS).
set -euo pipefail

work=${1:-/tmp/wagegate-push-load}
target=${CARGO_TARGET_DIR:-target}
bin=${WAGEGATE_BIN:-$target/release/wagegate}
load=${PUSH_LOAD_BIN:-$(ls -t "$target"/release/deps/push_load-* | grep -v '\.d$' | head -1)}
connections=${CONNECTIONS:-32}
duration_s=${DURATION_S:-20}
port=${PORT:-18443}

rm -rf "$work" && mkdir -p "$work"
export WAGEGATE__DATABASE__URL=${WAGEGATE_LOAD_DB:-sqlite://$work/wagegate.db}
# One partner (the demo bank) sends everything here, so its rate limit (200/s by default)
# is lifted for the run; production limits are per partner.
export WAGEGATE__SERVER__RATE_PER_SECOND=1000000 WAGEGATE__SERVER__RATE_BURST=1000000

"$bin" certs dev --out "$work/pki" >/dev/null
# The demo writes its world's files (and a database of its own); the registry is imported
# into the load database so that the pushed statements are authorised, parsed and stored.
WAGEGATE__DATABASE__URL=sqlite://$work/demo/wagegate.db "$bin" demo --dir "$work/demo" >/dev/null
"$bin" import "$work"/demo/files/registry/*

"$bin" serve --dev-pki "$work/pki" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q "gateway serving" "$work/serve.log" && break
  sleep 0.2
done

echo "== $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== server: $WAGEGATE__DATABASE__URL, sqlite_synchronous ${WAGEGATE__DATABASE__SQLITE_SYNCHRONOUS:-full (default)}"
for bodies in distinct same; do
  "$load" --pki "$work/pki" --addr "127.0.0.1:$port" --connections "$connections" \
    --duration-s "$duration_s" --bodies "$bodies" --server-pid "$server"
  echo "server RSS: $(grep -E 'VmRSS|VmHWM' /proc/$server/status | tr -s ' \n' ' ')"
done
case $WAGEGATE__DATABASE__URL in
  sqlite://*)
    db=${WAGEGATE__DATABASE__URL#sqlite://}
    if command -v sqlite3 >/dev/null; then
      echo "files by status right after the run: $(sqlite3 "$db" 'SELECT status, count(*) FROM raw_files GROUP BY 1' | tr '\n' ' ')"
    fi
    ;;
esac
