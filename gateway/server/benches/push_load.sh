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
# BIG_FILE_MB (default 0 = off): during the distinct-bodies run, BIG_FILES (default 3) MT940
# statements of about that many MB each are pushed one after the other with curl, so that the
# pushes' latency is measured while large files are parsed (issue 9: p99 ≤ 50 ms during a
# 200 MB parse): BIG_FILE_MB=200 gateway/server/benches/push_load.sh.
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

big_mb=${BIG_FILE_MB:-0}
big_files=${BIG_FILES:-3}
if [ "$big_mb" -gt 0 ]; then
  # One statement of the demo's ICBC account (registered, so the file is parsed and stored),
  # with ~64-byte entries; each copy has its own :20: so that each is a new file.
  for i in $(seq "$big_files"); do
    python3 - "$work/big-$i.sta" "$big_mb" "$i" <<'PY'
import sys
path, mb, n = sys.argv[1], int(sys.argv[2]), sys.argv[3]
entries = mb * 1024 * 1024 // 64
with open(path, "w", encoding="utf-8") as f:
    f.write("{1:F01ICBKCNBJXXXX0000000000}{2:O9401800260930ICBKCNBJXXXX00000000002609301800N}{4:\r\n")
    f.write(f":20:BIG-{n}\r\n:25:1402023009000012345\r\n:28C:00001/1\r\n:60F:C260929CNY0,00\r\n")
    for i in range(entries):
        f.write(f":61:2609300930C100,00NTRFREF{i:08}//B{i:08}\r\n:86:LOAD {i}\r\n")
    f.write(f":62F:C260930CNY{entries * 100},00\r\n-}}")
PY
  done
  echo "== large files: $big_files × $(du -m "$work/big-1.sta" | cut -f1) MB MT940, pushed during the distinct run"
fi

echo "== $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== server: $WAGEGATE__DATABASE__URL, sqlite_synchronous ${WAGEGATE__DATABASE__SQLITE_SYNCHRONOUS:-full (default)}"
for bodies in distinct same; do
  big=""
  if [ "$big_mb" -gt 0 ] && [ "$bodies" = distinct ]; then
    (
      sleep 2 # push_load's warm-up
      for i in $(seq "$big_files"); do
        curl -sS --cacert "$work/pki/ca.pem" --cert "$work/pki/bank.pem" --key "$work/pki/bank.key" \
          -H 'X-Wagegate-File-Name: big.sta' --data-binary "@$work/big-$i.sta" \
          "https://localhost:$port/v1/files" --resolve "localhost:$port:127.0.0.1" >"$work/big-$i.receipt"
      done
    ) &
    big=$!
  fi
  "$load" --pki "$work/pki" --addr "127.0.0.1:$port" --connections "$connections" \
    --duration-s "$duration_s" --bodies "$bodies" --server-pid "$server"
  echo "server RSS: $(grep -E 'VmRSS|VmHWM' /proc/$server/status | tr -s ' \n' ' ')"
  if [ -n "$big" ]; then
    wait "$big"
    echo "large files: $(cat "$work"/big-*.receipt | tr '\n' ' ')"
    grep -E 'file (parsed|rejected)' "$work/serve.log" | grep -c . | sed 's/^/files processed by the server so far: /'
  fi
done
case $WAGEGATE__DATABASE__URL in
  sqlite://*)
    db=${WAGEGATE__DATABASE__URL#sqlite://}
    if command -v sqlite3 >/dev/null; then
      echo "files by status right after the run: $(sqlite3 "$db" 'SELECT status, count(*) FROM raw_files GROUP BY 1' | tr '\n' ' ')"
    fi
    ;;
esac
