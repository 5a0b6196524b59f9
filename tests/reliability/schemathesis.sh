#!/usr/bin/env bash
# The served OpenAPI document against the gateway, with schemathesis, once per role: a
# fresh `wagegate serve` (development PKI, the demo registry imported, SQLite) and, for each
# caller, `st run docs/openapi.yaml` with every check (server errors, status codes, content
# types, response schemas and headers, negative data rejection, ignored authentication,
# unsupported methods ...):
#
#   bank      the demo bank's client certificate            (mutual TLS)
#   insurer   the demo insurer's client certificate         (mutual TLS)
#   operator  the demo operator's client certificate        (mutual TLS)
#   operator-token   a bearer token of role operator        (no certificate)
#   metrics   a bearer token of role metrics                (no certificate)
#   anonymous no certificate, no token: every protected operation answers 401
#
#   tests/reliability/schemathesis.sh [WORK_DIR]
#
# Environment: WAGEGATE_BIN (default $CARGO_TARGET_DIR/debug/wagegate, built when missing),
# ST (default `st`, schemathesis 4: `pip install schemathesis`), MAX_EXAMPLES (25 per
# operation), SEED (1), PORT (18743). Exits non-zero when any role's run fails; the reports
# (JUnit) are left in WORK_DIR/reports. docs/RELIABILITY.md records a run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work=${1:-/tmp/wagegate-schemathesis}
target=${CARGO_TARGET_DIR:-$root/target}
bin=${WAGEGATE_BIN:-$target/debug/wagegate}
st=${ST:-st}
max_examples=${MAX_EXAMPLES:-25}
seed=${SEED:-1}
port=${PORT:-18743}

command -v "$st" >/dev/null || { echo "schemathesis ($st) is not installed: pip install schemathesis" >&2; exit 2; }
[ -x "$bin" ] || (cd "$root" && cargo build -p gateway --bin wagegate)

rm -rf "$work" && mkdir -p "$work/reports"
"$bin" certs dev --out "$work/pki" >/dev/null
operator_token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
metrics_token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
cat >"$work/wagegate.toml" <<TOML
[database]
url = "sqlite://$work/wagegate.db"

[[operators]]
name = "schemathesis-operator"
token_sha256 = "$(sha "$operator_token")"

[[operators]]
name = "schemathesis-metrics"
token_sha256 = "$(sha "$metrics_token")"
role = "metrics"
TOML
# The demo world's registry, so that pushed files are authorised against real projects.
WAGEGATE__DATABASE__URL=sqlite://$work/demo/wagegate.db "$bin" demo --dir "$work/demo" >/dev/null
"$bin" --config "$work/wagegate.toml" import "$work"/demo/files/registry/* >/dev/null

# schemathesis sends thousands of requests from one caller: lift the per-caller rate limit
# (its 429 is checked by the reliability suite, not here).
WAGEGATE__SERVER__RATE_PER_SECOND=100000 WAGEGATE__SERVER__RATE_BURST=100000 \
  "$bin" --config "$work/wagegate.toml" serve --dev-pki "$work/pki" --listen "127.0.0.1:$port" \
  >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf --cacert "$work/pki/ca.pem" --resolve "localhost:$port:127.0.0.1" \
    "https://localhost:$port/readyz" >/dev/null && break
  sleep 0.2
done

echo "== $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $($st --version)"
base=(--config-file "$root/tests/reliability/schemathesis.toml" run "$root/docs/openapi.yaml" --url "https://localhost:$port" --tls-verify "$work/pki/ca.pem"
  --checks all --max-examples "$max_examples" --seed "$seed" --workers 1
  --phases examples,coverage,fuzzing --suppress-health-check all --no-color)
failed=()
# schemathesis keeps a cache (.schemathesis/) in the current folder: the work folder's.
cd "$work"
run_role() {
  local role=$1
  shift
  echo "== role $role"
  # schemathesis connects to `localhost`; the server certificate names it.
  if "$st" "${base[@]}" "$@" --report junit --report-junit-path "$work/reports/$role.xml" \
    >"$work/reports/$role.log" 2>&1; then
    tail -n 6 "$work/reports/$role.log"
  else
    tail -n 60 "$work/reports/$role.log"
    failed+=("$role")
  fi
}
# A certificate caller's identity is in the TLS handshake, which schemathesis cannot take
# away: its `ignored_auth` check (which drops or garbles the Authorization header and expects
# 401) does not apply to these three. The anonymous run below is that check for them: no
# certificate, no token, every protected operation must answer 401.
cert=(--exclude-checks ignored_auth)
run_role bank "${cert[@]}" --request-cert "$work/pki/bank.pem" --request-cert-key "$work/pki/bank.key"
run_role insurer "${cert[@]}" --request-cert "$work/pki/insurer.pem" --request-cert-key "$work/pki/insurer.key"
run_role operator "${cert[@]}" --request-cert "$work/pki/operator.pem" --request-cert-key "$work/pki/operator.key"
run_role operator-token -H "Authorization: Bearer $operator_token"
run_role metrics -H "Authorization: Bearer $metrics_token"
run_role anonymous
# Anonymous callers reach nothing but the public probes and documents.
for path in /v1/files /v1/files/FILE-0 /v1/findings /v1/findings/F-0 /metrics /v1/projects/P/status; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/pki/ca.pem" \
    --resolve "localhost:$port:127.0.0.1" "https://localhost:$port$path")
  if [ "$code" != 401 ]; then
    echo "anonymous GET $path answered $code, not 401"
    failed+=("anonymous-$path")
  fi
done
if grep -qi 'panicked' "$work/serve.log"; then
  echo "the server panicked:" && grep -i -m5 'panicked' "$work/serve.log"
  failed+=("server-panic")
fi
echo "== $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "schemathesis: failed for ${failed[*]} (reports in $work/reports)"
  exit 1
fi
echo "schemathesis: every role passed"
