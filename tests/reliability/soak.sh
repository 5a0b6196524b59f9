#!/usr/bin/env bash
# A sustained push load with the server's memory sampled (issue 13: ≥ 10 minutes, flat
# memory). `wagegate serve` (release, SQLite, the demo registry) takes distinct files from
# the demo bank over mutual TLS for DURATION_S seconds while its ingest workers parse them;
# the server's resident set (VmRSS) is sampled every SAMPLE_S seconds. Passes when the
# resident set at the end is within GROWTH_MB of the sample taken once the load has warmed
# up (after WARM_S seconds), and no push failed.
#
#   cargo build --release -p gateway --bin wagegate && cargo build --release -p server --bench push_load
#   tests/reliability/soak.sh [WORK_DIR]
#
# Environment: DURATION_S (600), CONNECTIONS (4), PAUSE_MS (25: about 100 pushes a second
# in all, so that ten minutes stay within a few GB of disk), SAMPLE_S (10), WARM_S (60),
# GROWTH_MB (32), WAGEGATE_BIN, PUSH_LOAD_BIN, PORT (18943).
set -euo pipefail
work=${1:-/tmp/wagegate-soak}
target=${CARGO_TARGET_DIR:-target}
bin=${WAGEGATE_BIN:-$target/release/wagegate}
load=${PUSH_LOAD_BIN:-$(ls -t "$target"/release/deps/push_load-* | grep -v '\.d$' | head -1)}
duration_s=${DURATION_S:-600}
sample_s=${SAMPLE_S:-10}
warm_s=${WARM_S:-60}
growth_mb=${GROWTH_MB:-32}
port=${PORT:-18943}

rm -rf "$work" && mkdir -p "$work"
export WAGEGATE__DATABASE__URL=sqlite://$work/wagegate.db
export WAGEGATE__SERVER__RATE_PER_SECOND=1000000 WAGEGATE__SERVER__RATE_BURST=1000000
"$bin" certs dev --out "$work/pki" >/dev/null
WAGEGATE__DATABASE__URL=sqlite://$work/demo/wagegate.db "$bin" demo --dir "$work/demo" >/dev/null
"$bin" import "$work"/demo/files/registry/* >/dev/null
"$bin" serve --dev-pki "$work/pki" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; kill $sampler 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "gateway serving" "$work/serve.log" && break
  sleep 0.2
done
(
  t=0
  while kill -0 "$server" 2>/dev/null; do
    echo "$t $(awk '/VmRSS/ {print $2}' /proc/$server/status)"
    sleep "$sample_s"
    t=$((t + sample_s))
  done
) >"$work/rss.txt" &
sampler=$!
echo "== $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$load" --pki "$work/pki" --addr "127.0.0.1:$port" --connections "${CONNECTIONS:-4}" \
  --duration-s "$duration_s" --warmup-s 2 --pause-ms "${PAUSE_MS:-25}" --bodies distinct \
  --server-pid "$server" | tee "$work/load.txt"
echo "$((duration_s + 2)) $(awk '/VmRSS/ {print $2}' /proc/$server/status)" >>"$work/rss.txt"
kill $sampler 2>/dev/null || true
echo "files by status: $(sqlite3 "$work/wagegate.db" 'SELECT status, count(*) FROM raw_files GROUP BY 1' | tr '\n' ' ')"
echo "== $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/rss.txt" "$warm_s" "$growth_mb" "$work/load.txt" <<'PY'
import sys
samples = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
warm, bound = int(sys.argv[2]), int(sys.argv[3]) * 1024
after = [s for s in samples if s[0] >= warm]
base, end = after[0][1], after[-1][1]
peak = max(r for _, r in after)
lo = min(r for _, r in after)
print(f"RSS (KiB) sampled {len(samples)} times: at {after[0][0]} s {base}, min {lo}, max {peak}, at the end ({after[-1][0]} s) {end}; growth {end - base:+d} KiB (bound {bound} KiB)")
print("RSS series (s:MiB): " + " ".join(f"{t}:{r // 1024}" for t, r in samples))
load = open(sys.argv[4]).read()
ok = end - base <= bound and "not accepted" not in load
print("soak: PASS" if ok else "soak: FAIL")
sys.exit(0 if ok else 1)
PY
