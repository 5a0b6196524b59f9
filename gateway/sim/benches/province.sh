#!/usr/bin/env bash
# Runs the province benchmark (gateway/sim/benches/province.rs) phase by phase, each phase in its
# own process under `/usr/bin/time -v`, and prints one table row per phase: wall time, CPU
# time (user + system), peak resident memory, and what the phase reported.
#
#   gateway/sim/benches/province.sh [--projects N] [--workers W] [--dir DIR] [--db sqlite|URL]
#                                   [--phases "generate ingest reconcile incremental"] [--procs N]
#
# `--db` is `sqlite` (DIR/wagegate.db) or the URL of an existing, empty PostgreSQL database.
# Run it on a fresh DIR / database: the incremental phase ingests a statement file for a
# fixed project, which a second run finds already stored. `BENCH_BIN` names a prebuilt
# benchmark executable; otherwise it is built (release) with cargo. Phase logs are kept in
# DIR/logs. Needs GNU time (`apt-get install time`).
set -euo pipefail

projects=300
workers=50
dir=/tmp/wagegate-province
db=sqlite
phases="generate ingest reconcile incremental"
procs=2
while [[ $# -gt 0 ]]; do
    case "$1" in
        --projects) projects=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --db) db=$2; shift 2 ;;
        --phases) phases=$2; shift 2 ;;
        --procs) procs=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

if [[ ! -x /usr/bin/time ]]; then
    echo "GNU time (/usr/bin/time) is needed for peak memory" >&2
    exit 2
fi

bin=${BENCH_BIN:-}
if [[ -z "$bin" ]]; then
    root=$(cd "$(dirname "$0")/../../.." && pwd)
    bin=$(cd "$root" && cargo bench --no-run -p sim --bench province \
        --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*province[^"]*\)".*/\1/p' | tail -1)
    if [[ -z "$bin" ]]; then
        echo "could not build the province benchmark" >&2
        exit 1
    fi
fi

mkdir -p "$dir/logs"
echo "# province bench: projects=$projects workers=$workers db=${db%%@*}… dir=$dir"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# CPU s is user + system of the benchmark process; on PostgreSQL "+ S" adds the server's.
printf '| %-16s | %9s | %9s | %9s | %9s | %s\n' phase "wall s" "CPU s" "CPU/wall" "peak MiB" "reported"
printf '|%s|%s|%s|%s|%s|%s\n' ------------------ ----------- ----------- ----------- ----------- ---------

# PostgreSQL does the queries in its own server processes, whose CPU time `time` does not see:
# sample the CPU time of the backends serving this database (by name) once a second and sum
# the last value seen for each. A backend's last second before it exits is missed.
pg_db=""
if [[ "$db" == postgres* ]]; then
    pg_db=${db##*/}
    pg_db=${pg_db%%\?*}
fi
tick=$(getconf CLK_TCK)
sample_pg() { # $1: output file; runs until killed
    declare -A seen=()
    while true; do
        for stat in /proc/[0-9]*/stat; do
            pid=${stat#/proc/}; pid=${pid%/stat}
            # A backend's title is its first argument; `read` stops at the NUL (no forks).
            cmd=""
            IFS= read -r -d "" cmd 2>/dev/null <"/proc/$pid/cmdline" || true
            [[ "$cmd" == "postgres: "*" $pg_db "* ]] || continue
            f=()
            read -r -a f 2>/dev/null <"$stat" || true # no newline at the end: status 1
            [[ ${#f[@]} -gt 14 ]] && seen[$pid]=$((f[13] + f[14]))
        done
        total=0
        for v in "${seen[@]}"; do total=$((total + v)); done
        echo "$total" >"$1"
        sleep 1
    done
}

field() { # the value of a `/usr/bin/time -v` line
    sed -n "s/^[[:space:]]*$1: //p" "$2" | tail -1
}

for phase in $phases; do
    log="$dir/logs/$phase.log"
    timing="$dir/logs/$phase.time"
    server="$dir/logs/$phase.server"
    echo 0 >"$server"
    sampler=""
    if [[ -n "$pg_db" ]]; then
        sample_pg "$server" &
        sampler=$!
    fi
    extra=()
    [[ "$phase" == split ]] && extra=(--procs "$procs")
    /usr/bin/time -v -o "$timing" "$bin" --projects "$projects" --workers "$workers" \
        --dir "$dir" --db "$db" --phase "$phase" "${extra[@]}" >"$log" 2>&1 || {
        echo "phase $phase failed; see $log" >&2
        [[ -n "$sampler" ]] && kill "$sampler"
        exit 1
    }
    if [[ -n "$sampler" ]]; then
        sleep 1
        kill "$sampler"
        wait "$sampler" 2>/dev/null || true
    fi
    server_cpu=$(awk -v t="$(cat "$server")" -v hz="$tick" 'BEGIN { printf "%.1f", t / hz }')
    wall=$(field 'Elapsed (wall clock) time (h:mm:ss or m:ss)' "$timing" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }')
    user=$(field 'User time (seconds)' "$timing")
    sys=$(field 'System time (seconds)' "$timing")
    rss_kb=$(field 'Maximum resident set size (kbytes)' "$timing")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
    ratio=$(awk -v c="$cpu" -v w="$wall" 'BEGIN { printf "%.2f", (w > 0 ? c / w : 0) }')
    rss=$((rss_kb / 1024))
    if [[ -n "$pg_db" ]]; then
        cpu="$cpu+$server_cpu"
        ratio=$(awk -v c="$user" -v s="$sys" -v p="$server_cpu" -v w="$wall" \
            'BEGIN { printf "%.2f", (w > 0 ? (c + s + p) / w : 0) }')
    fi
    # The benchmark's own lines: `province phase=… seconds=… key=value…`.
    grep '^province phase=' "$log" | while read -r line; do
        sub=$(sed -n 's/.*phase=\([^ ]*\).*/\1/p' <<<"$line")
        rest=$(sed 's/^province phase=[^ ]* projects=[^ ]* workers=[^ ]* db=[^ ]* //' <<<"$line")
        if [[ "$sub" == "$phase" ]]; then
            printf '| %-16s | %9s | %9s | %9s | %9s | %s\n' "$phase" "$wall" "$cpu" "$ratio" "$rss" "$rest"
        else
            printf '| %-16s | %9s | %9s | %9s | %9s | %s\n' "  $sub" "" "" "" "" "$rest"
        fi
    done
done
