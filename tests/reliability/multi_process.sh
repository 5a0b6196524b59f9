#!/usr/bin/env bash
# Issue 11's proof at large size: three `wagegate serve` processes on loopback on one
# PostgreSQL, a local webhook receiver, a simulated province of PROJECTS projects (two per
# file: thousands of bank files) pushed across them (each file twice, to two processes), one
# process SIGKILLed halfway and restarted; compared with one `wagegate serve` on SQLite fed
# the same files. It is the cargo test `gateway/tests/multi_process.rs` (the small size runs
# in `cargo test`), given WAGEGATE_MULTI_PROCESS_PROJECTS, in a release build (PROFILE=dev:
# the debug build `cargo test` already made).
#
#   WAGEGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
#     tests/reliability/multi_process.sh            # PROJECTS=300 by default
#
# Prints the machine's load before and after, wall and CPU time of the test (the three
# servers, the reference server and the test's own client are its children).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${WAGEGATE_TEST_POSTGRES_URL:?set WAGEGATE_TEST_POSTGRES_URL to a PostgreSQL server where databases may be created}"
export WAGEGATE_MULTI_PROCESS_PROJECTS=${PROJECTS:-300}
profile=(--profile "${PROFILE:-release}")
nice cargo test "${profile[@]}" -p gateway --test multi_process --no-run
echo "== $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $WAGEGATE_MULTI_PROCESS_PROJECTS projects, profile ${PROFILE:-release}"
/usr/bin/time -f 'wall %e s, CPU user %U s + system %S s (test, servers and reference together), max RSS %M KB' \
  cargo test "${profile[@]}" -p gateway --test multi_process \
  three_processes_one_killed_lose_nothing_duplicate_nothing_reorder_nothing -- --nocapture --exact
echo "== $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)"
