#!/usr/bin/env bash
# The 200 MB upload of docs/BENCHMARKS.md ("Gateway: pushes over mutual TLS"): starts
# `wagegate serve` on a fresh SQLite database (or WAGEGATE_LOAD_DB), pushes one large file
# with curl over mutual TLS (curl streams it from disk with -T), and samples the server's
# resident memory (VmRSS, and the high-water mark VmHWM) from /proc every 100 ms: before,
# while the body streams in, when the 202 arrives, and while an ingest worker then reads the
# stored file.
#
#   cargo build --release -p gateway --bin wagegate
#   gateway/benches/upload_memory.sh [WORK_DIR]
#
# Environment: WAGEGATE_BIN (default target/release/wagegate), UPLOAD_MB (200), PORT (18445).
set -euo pipefail

work=${1:-/tmp/wagegate-upload-memory}
target=${CARGO_TARGET_DIR:-target}
bin=${WAGEGATE_BIN:-$target/release/wagegate}
mb=${UPLOAD_MB:-200}
port=${PORT:-18445}

rm -rf "$work" && mkdir -p "$work"
export WAGEGATE__DATABASE__URL=${WAGEGATE_LOAD_DB:-sqlite://$work/wagegate.db}
"$bin" certs dev --out "$work/pki" >/dev/null
# A file of distinct lines (not a bank format: the worker rejects it after reading it).
python3 -c "
import sys
line = b'%0100d\n'
with open('$work/upload.bin', 'wb') as f:
    for i in range($mb * 1024 * 1024 // 101):
        f.write(b'%0100d\n' % i)
"
ls -l "$work/upload.bin"

"$bin" serve --dev-pki "$work/pki" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q "gateway serving" "$work/serve.log" && break
  sleep 0.2
done
rss() { awk '/VmRSS|VmHWM/ {printf "%s %d MiB  ", $1, $2/1024}' "/proc/$server/status"; }
echo "before: $(rss)"
(
  start=$(date +%s.%N)
  while kill -0 "$server" 2>/dev/null; do
    printf '%6.1f s  %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$(rss)"
    sleep 0.1
  done
) >"$work/rss.log" &
sampler=$!
t0=$(date +%s.%N)
curl -sS --fail-with-body --cacert "$work/pki/ca.pem" --cert "$work/pki/bank.pem" \
  --key "$work/pki/bank.key" --resolve "localhost:$port:127.0.0.1" \
  -X POST -T "$work/upload.bin" -H 'X-Wagegate-File-Name: upload.bin' \
  "https://localhost:$port/v1/files"
echo
echo "202 after $(echo "$(date +%s.%N) - $t0" | bc) s; at the receipt: $(rss)"
sleep 8
kill "$sampler" 2>/dev/null || true
echo "8 s later (the worker has read and rejected the file): $(rss)"
echo "samples (every 100 ms, largest RSS first):"
sort -k4 -n -r "$work/rss.log" | head -5
grep -E "file (rejected|parsed)" "$work/serve.log" | tail -1 | cut -c1-240
