#!/usr/bin/env bash
# The previous release and this one on the same province world, in one run (issue 14), so that
# the speed-up is a ratio measured under the same machine load:
#
#   gateway/sim/benches/compare.sh --prev PREV_BENCH_BIN --new NEW_BENCH_BIN \
#       [--projects N] [--workers W] [--dir DIR] [--db sqlite|postgres://HOST/NAME] [--split "2 3"]
#
# PREV_BENCH_BIN and NEW_BENCH_BIN are `province` benchmark executables (`cargo bench --no-run
# -p sim --bench province`) built from the previous release and from this tree.
#
# 1. The world is generated under DIR/world (unless there), and ingested ONCE by the previous
#    release into a base database (DIR/base/wagegate.db, or the PostgreSQL database NAME_base;
#    kept for the next run: ingesting a province takes 15-25 minutes).
# 2. The base is copied twice (SQLite: `cp`; PostgreSQL: `CREATE DATABASE … TEMPLATE`): the
#    previous release reconciles one copy; this release opens the other — migration 0013 and
#    the typed-facts backfill of an upgraded database, timed as `upgrade` — and reconciles it.
# 3. Both copies' findings are compared (id, code, period, amount, severity, status): the run
#    fails if they differ.
# 4. This release's `split` phase: one forced full pass shared by 2 and 3 processes (the
#    multi-instance leases of issue 11), each process's CPU time reported.
#
# Every phase runs under `/usr/bin/time -v` through province.sh (wall, CPU, peak RSS; on
# PostgreSQL the server's CPU too); each line also gives the load average. Copies are deleted
# at the end; the base is kept (delete DIR and NAME_base by hand when done).
set -euo pipefail

prev=""
new=""
projects=3000
workers=50
dir=/tmp/wagegate-compare
db=sqlite
splits="2 3"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prev) prev=$2; shift 2 ;;
        --new) new=$2; shift 2 ;;
        --projects) projects=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --db) db=$2; shift 2 ;;
        --split) splits=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -x "$prev" && -x "$new" ]] || { echo "--prev and --new must name benchmark executables" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"

# Where each copy lives: a folder (SQLite file inside) and the --db argument.
pg_base=""
if [[ "$db" == postgres* ]]; then
    pg_server=${db%/*}
    pg_name=${db##*/}
    pg_base="${pg_name}_base"
fi
db_of() { # $1: base|prev|new
    if [[ -n "$pg_base" ]]; then echo "$pg_server/${pg_name}_$1"; else echo sqlite; fi
}
psql_admin() { psql "$pg_server/postgres" -v ON_ERROR_STOP=1 -qAt -c "$1"; }

phase() { # $1: label, $2: bin, $3: copy, $4: phases, extra args…
    local label=$1 bin=$2 copy=$3 phases=$4
    shift 4
    echo "## $label"
    mkdir -p "$dir/$copy"
    [[ -e "$dir/$copy/world" ]] || ln -s "$dir/world" "$dir/$copy/world"
    BENCH_BIN=$bin "$here/province.sh" --projects "$projects" --workers "$workers" \
        --dir "$dir/$copy" --db "$(db_of "$copy")" --phases "$phases" "$@" | grep '^|' | tail -n +3
}

echo "# compare: projects=$projects workers=$workers db=${db%%@*} dir=$dir"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# A world or base kept from an earlier run must be the one asked for: the world's parameters
# are written beside it, and each base notes the hash of the world's expected findings it was
# ingested from (a base kept from another world once passed for "the other backend's findings";
# the reconcile phase also checks the findings against expected-findings.json).
params="projects=$projects workers=$workers"
if [[ ! -d "$dir/world" ]]; then
    BENCH_BIN=$new "$here/province.sh" --projects "$projects" --workers "$workers" --dir "$dir" \
        --phases generate | grep '^|' | tail -n +3
    echo "$params" >"$dir/world.params"
fi
if [[ "$(cat "$dir/world.params" 2>/dev/null)" != "$params" ]]; then
    echo "$dir/world was not generated with $params (see $dir/world.params): use another --dir" >&2
    exit 2
fi
world_hash=$(sha256sum "$dir/world/expected-findings.json" | cut -d' ' -f1)
base_stamp="$dir/base.world"
[[ -n "$pg_base" ]] && base_stamp="$dir/$pg_base.world"

base_ready=false
if [[ -n "$pg_base" ]]; then
    [[ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$pg_base'")" == 1 ]] && base_ready=true
else
    [[ -f "$dir/base/wagegate.db" ]] && base_ready=true
fi
if $base_ready && [[ "$(cat "$base_stamp" 2>/dev/null)" != "$world_hash" ]]; then
    echo "the base database was not ingested from $dir/world ($base_stamp): drop it first" >&2
    exit 2
fi
if ! $base_ready; then
    [[ -n "$pg_base" ]] && psql_admin "CREATE DATABASE $pg_base"
    phase "ingest (previous release, into the base database)" "$prev" base ingest
    echo "$world_hash" >"$base_stamp"
fi

for copy in prev new; do
    if [[ -n "$pg_base" ]]; then
        psql_admin "DROP DATABASE IF EXISTS ${pg_name}_$copy"
        psql_admin "CREATE DATABASE ${pg_name}_$copy TEMPLATE $pg_base"
    else
        rm -rf "${dir:?}/$copy"
        mkdir -p "$dir/$copy"
        cp "$dir/base/wagegate.db" "$dir/$copy/wagegate.db"
    fi
done

findings() { # $1: copy
    local sql="SELECT id, code, period, amount_short_fen, severity, status FROM findings ORDER BY id"
    if [[ -n "$pg_base" ]]; then
        psql "$(db_of "$1")" -qAt -F '|' -c "$sql"
    else
        sqlite3 -separator '|' "$dir/$1/wagegate.db" "$sql"
    fi
}

phase "previous release: reconcile (two full passes)" "$prev" prev reconcile
findings prev >"$dir/findings-prev.txt"
phase "previous release: incremental" "$prev" prev incremental
phase "this release: upgrade (migrations + typed-facts backfill)" "$new" new upgrade
phase "this release: reconcile (full, again over unchanged facts, forced)" "$new" new reconcile
findings new >"$dir/findings-new.txt"
phase "this release: incremental" "$new" new incremental
for n in $splits; do
    phase "this release: one forced full pass shared by $n processes" "$new" new split --procs "$n"
done

if cmp -s "$dir/findings-prev.txt" "$dir/findings-new.txt"; then
    echo "# findings identical: $(wc -l <"$dir/findings-new.txt") (id, code, period, amount, severity, status)"
else
    echo "# FINDINGS DIFFER between the releases:" >&2
    diff "$dir/findings-prev.txt" "$dir/findings-new.txt" | head -20 >&2
    status=1
fi

for copy in prev new; do
    if [[ -n "$pg_base" ]]; then
        psql_admin "DROP DATABASE IF EXISTS ${pg_name}_$copy"
    else
        rm -rf "${dir:?}/$copy"
    fi
done
exit "${status:-0}"
