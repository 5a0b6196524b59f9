#!/usr/bin/env bash
# Issue 13 item 1 in a release build: 1,024 anonymous connections (TCP without a handshake,
# TLS with half a header, idle HTTP/2) from 16 loopback addresses, reopened whenever the
# server closes one, against `wagegate serve` with its default limits, while the demo bank
# polls and pushes; the bank's latency without and with the flood.
#
#   cargo build --release -p gateway --bin wagegate && cargo build --release -p server --bench connection_flood
#   tests/reliability/connection_flood.sh [WORK_DIR]
#
# Environment: WAGEGATE_BIN (default $CARGO_TARGET_DIR/release/wagegate), FLOOD_BIN (default:
# the newest release/deps/connection_flood-*), CONNECTIONS (1024), ADDRESSES (16), REQUESTS
# (600 per phase), PORT (18843), SERVER_CPUS / CLIENT_CPUS (CPU lists for `taskset`, e.g. 0 and
# 1: on a 2-core machine the attacking client otherwise takes the server's CPU, and the run
# measures the client rather than the server).
set -euo pipefail
work=${1:-/tmp/wagegate-connection-flood}
target=${CARGO_TARGET_DIR:-target}
bin=${WAGEGATE_BIN:-$target/release/wagegate}
flood=${FLOOD_BIN:-$(ls -t "$target"/release/deps/connection_flood-* | grep -v '\.d$' | head -1)}
port=${PORT:-18843}

rm -rf "$work" && mkdir -p "$work"
export WAGEGATE__DATABASE__URL=sqlite://$work/wagegate.db
"$bin" certs dev --out "$work/pki" >/dev/null
WAGEGATE__DATABASE__URL=sqlite://$work/demo/wagegate.db "$bin" demo --dir "$work/demo" >/dev/null
"$bin" import "$work"/demo/files/registry/* >/dev/null
# Each attack connection is a file descriptor of the server and of the client.
ulimit -n 65536 2>/dev/null || true
server_pin=() client_pin=()
[ -n "${SERVER_CPUS:-}" ] && server_pin=(taskset -c "$SERVER_CPUS")
[ -n "${CLIENT_CPUS:-}" ] && client_pin=(taskset -c "$CLIENT_CPUS")
"${server_pin[@]}" "$bin" serve --dev-pki "$work/pki" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "gateway serving" "$work/serve.log" && break
  sleep 0.2
done
echo "== $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), server limits: defaults (max_connections 1024, 64 per address, 50 % for anonymous)"
"${client_pin[@]}" "$flood" --pki "$work/pki" --addr "127.0.0.1:$port" --connections "${CONNECTIONS:-1024}" \
  --addresses "${ADDRESSES:-16}" --requests "${REQUESTS:-600}" --server-pid "$server"
echo "server log: $(grep -c . "$work/serve.log") lines, $(grep -ci 'panicked' "$work/serve.log" || true) panics"
