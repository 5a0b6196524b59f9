#!/usr/bin/env bash
# Rehearses the point-in-time recovery runbook (docs/ops/backup-restore.md) end to end, on a
# PostgreSQL server of its own (initdb in WORK_DIR, its own port), so that no shared database
# is restarted or reconfigured:
#
#   1. a server with continuous archiving (wal_level = replica, archive_mode = on,
#      archive_command copying each WAL segment to WORK_DIR/archive);
#   2. wagegate's demo loaded into it, then a base backup (pg_basebackup);
#   3. work after the backup: an operator acknowledges a finding (only the archived WAL holds
#      it), and the recovery target time is taken;
#   4. the disaster: every finding, its events and the outbox are deleted (TRUNCATE);
#   5. the server is stopped, the base backup restored into a new data directory with
#      restore_command + recovery_target_time + recovery.signal, and started;
#   6. checked: the findings, their statuses (the acknowledgement made after the base backup
#      included) and the audit events are what they were at the target time; `wagegate migrate`
#      and `wagegate findings` run against the recovered database.
#
#   cargo build -p gateway --bin wagegate
#   tests/reliability/pitr.sh [WORK_DIR]        # run as root (it runs PostgreSQL as postgres)
#
# Environment: WAGEGATE_BIN (default target/debug/wagegate), PORT (5499; the recovered server
# uses PORT+1). Exits non-zero when any check fails.
set -euo pipefail

target=${CARGO_TARGET_DIR:-target}
bin=$(realpath "${WAGEGATE_BIN:-$target/debug/wagegate}")
work=${1:-/tmp/wagegate-pitr}
port=${PORT:-5499}
port2=$((port + 1))
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

as_pg() { su postgres -s /bin/bash -c "$*"; }
step() { printf '\n== %s\n' "$*"; }
stop_all() {
  as_pg "$pgbin/pg_ctl -D $work/data -m immediate stop" >/dev/null 2>&1 || true
  as_pg "$pgbin/pg_ctl -D $work/restored -m immediate stop" >/dev/null 2>&1 || true
}
trap stop_all EXIT

stop_all
rm -rf "$work"
mkdir -p "$work/archive" "$work/demo"
chown -R postgres "$work"

step "1. a PostgreSQL server with continuous archiving (port $port)"
as_pg "$pgbin/initdb -D $work/data -A trust -U postgres" >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $work/archive/%f && cp %p $work/archive/%f'
EOF
as_pg "$pgbin/pg_ctl -D $work/data -l $work/primary.log -w start" >/dev/null
psql="psql -X -q -At -h 127.0.0.1 -p $port -U postgres"
$psql -d postgres -c "CREATE DATABASE wagegate"
url="postgres://postgres@127.0.0.1:$port/wagegate"
$psql -d postgres -c "SHOW archive_command"

step "2. the demo loaded, then a base backup"
WAGEGATE__DATABASE__URL=$url "$bin" --lang en demo --dir "$work/demo" | tail -n 3
as_pg "$pgbin/pg_basebackup -h 127.0.0.1 -p $port -U postgres -D $work/base -Fp -Xs -c fast"
echo "base backup: $(du -sh "$work/base" | cut -f1)"

step "3. work after the backup: an operator acknowledges a finding"
id=$(WAGEGATE__DATABASE__URL=$url "$bin" findings --format json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
WAGEGATE__DATABASE__URL=$url "$bin" --lang en finding "$id" acknowledge \
  --reason "PITR rehearsal: called the contractor" --actor ops.rehearsal
counts="SELECT (SELECT COUNT(*) FROM findings), (SELECT COUNT(*) FROM findings WHERE status = 'acknowledged'), (SELECT COUNT(*) FROM finding_events), (SELECT COUNT(*) FROM raw_files), (SELECT COUNT(*) FROM records)"
before=$($psql -d wagegate -c "$counts")
WAGEGATE__DATABASE__URL=$url "$bin" findings --format json >"$work/findings-before.json"
# The target: the server's clock after the acknowledgement committed, before the disaster.
target_time=$($psql -d wagegate -c "SELECT clock_timestamp()")
echo "findings | acknowledged | finding events | files | records at the target: $before"
echo "recovery target time: $target_time"

step "4. the disaster: findings, their events and the outbox deleted"
$psql -d wagegate -c "TRUNCATE findings, finding_events, webhook_outbox CASCADE"
echo "after the TRUNCATE: $($psql -d wagegate -c "$counts")"
segment=$($psql -d wagegate -c "SELECT pg_walfile_name(pg_switch_wal())")
# Wait (up to 30 s) until the segment holding the TRUNCATE is archived.
for _ in $(seq 1 300); do
  [ -f "$work/archive/$segment" ] && break
  $psql -d postgres -c "SELECT 1" >/dev/null
  sleep 0.1
done
[ -f "$work/archive/$segment" ] || { echo "FAIL: WAL segment $segment was not archived"; exit 1; }
echo "archived WAL segments: $(ls "$work/archive" | grep -c '^[0-9A-F]\{24\}$')"
as_pg "$pgbin/pg_ctl -D $work/data -m fast -w stop" >/dev/null

step "5. the base backup restored and recovered to the target time (port $port2)"
cp -a "$work/base" "$work/restored"
cat >>"$work/restored/postgresql.conf" <<EOF
port = $port2
archive_mode = off
restore_command = 'cp $work/archive/%f %p'
recovery_target_time = '$target_time'
recovery_target_action = 'promote'
EOF
touch "$work/restored/recovery.signal"
chown -R postgres "$work/restored"
as_pg "$pgbin/pg_ctl -D $work/restored -l $work/restored.log -w start" >/dev/null
psql2="psql -X -q -At -h 127.0.0.1 -p $port2 -U postgres"
for _ in $(seq 1 600); do
  [ "$($psql2 -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = "f" ] && break
  sleep 0.1
done
[ "$($psql2 -d postgres -c 'SELECT pg_is_in_recovery()')" = "f" ] || { echo "FAIL: recovery did not finish"; exit 1; }
grep -E "recovery stopping|starting point-in-time recovery|selected new timeline" "$work/restored.log" | sed 's/^[^]]*\] *//' || true

step "6. checks"
after=$($psql2 -d wagegate -c "$counts")
echo "findings | acknowledged | finding events | files | records recovered: $after"
url2="postgres://postgres@127.0.0.1:$port2/wagegate"
WAGEGATE__DATABASE__URL=$url2 "$bin" --lang en migrate
WAGEGATE__DATABASE__URL=$url2 "$bin" findings --format json >"$work/findings-after.json"
status=$($psql2 -d wagegate -c "SELECT status FROM findings WHERE id = '$id'")
fail=0
[ "$after" = "$before" ] || { echo "FAIL: recovered counts $after, expected $before"; fail=1; }
[ "$status" = "acknowledged" ] || { echo "FAIL: $id is '$status' after recovery, expected acknowledged (made after the base backup)"; fail=1; }
cmp -s "$work/findings-before.json" "$work/findings-after.json" ||
  { echo "FAIL: wagegate findings differ from those at the target time"; fail=1; }
if [ "$fail" = 0 ]; then
  echo "OK: recovered to $target_time: counts equal, $id acknowledged (after the base backup), findings identical"
fi
exit "$fail"
