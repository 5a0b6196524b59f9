#!/usr/bin/env bash
# Resident memory while a large camt.053, pain.002, MT940, CMB export or core-banking payroll
# file is ingested (docs/BENCHMARKS.md, "Streaming ingest: memory", "Bank profiles streamed"),
# through each entry point:
#
#   cli    `wagegate ingest --partner icbc-fj FILE` (the demo's ICBC partner; `demo-bank`,
#          the development PKI's, exists only in `wagegate serve --dev-pki`): peak RSS
#          (/usr/bin/time -v, "Maximum resident set size") minus that of the same command
#          on a small file;
#   post   `POST /v1/files` over mutual TLS to `wagegate serve` (curl streams the file from
#          disk), then its ingest worker; the server's largest VmRSS sampled every 0.1 s
#          until the file is parsed, minus its VmRSS before the upload (and its VmHWM, which
#          also holds the reconciliation the daemon starts when the file is committed);
#   inbox  the same server, the file moved into the partner's inbox folder.
#
# For post and inbox, the growth is the largest sample taken before the `file parsed` line's
# time (the commit): the reconciliation the daemon starts at the commit counts the project's
# facts at once, and a sampler stopped when the line is seen also caught part of that count
# (printed too, as "sampled until the log line").
#
# Each file is generated here (a day's statements of many accounts, in camt.053 or MT940; a
# payroll result of many workers) for the demo bank's registered account, so every record is
# stored. `cmb` is a GBK CMB transaction export of many accounts (ACCOUNT_ROWS rows each, one
# account after another), for ACCOUNTS accounts registered here first (bank 102, the demo
# partner's); `core-payroll` a GBK core-banking payroll result file of batches of
# BATCH_LINES lines paid from the registered account.
#
#   cargo build --release -p gateway --bin wagegate
#   gateway/benches/stream_memory.sh [WORK_DIR]
#
# With WAIT_RECONCILE=1 the post and inbox paths also wait for the reconciliation the daemon
# starts when the file is committed ("projects reconciled" in its log) before reading VmHWM,
# and print how long it took: the memory of that reconciliation (a pain.002 puts all its
# payments in one project; docs/BENCHMARKS.md, "The reconciliation after a 1 GiB pain.002
# explodes"). Its limit is the daemon's, `WAGEGATE__RECONCILER__MAX_PROJECT_FACTS`.
#
# Environment: WAGEGATE_BIN (default $CARGO_TARGET_DIR/release/wagegate), SIZE_MB (1024),
# FORMATS ("camt053 pain002 mt940"; also "cmb core-payroll"), PATHS ("cli post inbox"), PORT
# (18446), ACCOUNTS (10000), ACCOUNT_ROWS (600), BATCH_LINES (2000), MALLOC_ARENA_MAX (passed
# through when set). WAGEGATE__INGEST__STREAM_ABOVE_BYTES=2000000000 measures the file read
# whole instead (the profiles' whole-file readers take at most 256 MiB).
set -euo pipefail

work=${1:-/tmp/wagegate-stream-memory}
target=${CARGO_TARGET_DIR:-target}
bin=$(realpath "${WAGEGATE_BIN:-$target/release/wagegate}")
mb=${SIZE_MB:-1024}
port=${PORT:-18446}
formats=${FORMATS:-camt053 pain002 mt940}
paths=${PATHS:-cli post inbox}

rm -rf "$work" && mkdir -p "$work"
cd "$work"
# The demo world: a registry with the demo bank's accounts (ICBC 102, CMB 308).
"$bin" demo --lang en >/dev/null
export WAGEGATE_CONFIG=$work/data/demo/wagegate.toml
"$bin" certs dev --out "$work/pki" >/dev/null
account=$(sqlite3 "$work/data/demo/wagegate.db" "SELECT account_no FROM fact_accounts WHERE bank_code = '102' LIMIT 1" 2>/dev/null || true)
account=${account:-1402023009000012345}
accounts_n=${ACCOUNTS:-10000}
case " $formats " in
*" cmb "*)
  # Many dedicated accounts of the demo bank, on the demo's first project.
  project=$(awk -F, 'NR == 2 {print $1; exit}' "$work"/data/demo/files/registry/*projects*.csv)
  python3 - "$accounts_n" "$project" >"$work/accounts.csv" <<'EOF'
import sys
n, project = int(sys.argv[1]), sys.argv[2]
print("account_no,account_name,project_code,cnaps,opened_on")
for i in range(n):
    print(f"6222021{i:012},某建设集团有限公司农民工工资专用账户{i},{project},102100099996,2026-01-05")
EOF
  "$bin" --lang en import "$work/accounts.csv" >/dev/null
  # Each run copies the database file alone: the import must be in it, not in its WAL.
  python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)")' "$work/data/demo/wagegate.db"
  ;;
esac

gen() { # gen FORMAT BYTES OUT
  python3 - "$1" "$2" "$3" "$account" "$accounts_n" "${ACCOUNT_ROWS:-600}" "${BATCH_LINES:-2000}" <<'EOF'
import sys
fmt, size, out, account = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
accounts_n, account_rows, batch_lines = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
text_encoding = "gbk" if fmt in ("cmb", "core-payroll") else "utf-8"
with open(out, "w", encoding=text_encoding, newline="", buffering=1 << 20) as f:
    n = 0
    def put(s):
        global n
        f.write(s)
        n += len(s.encode())
    if fmt == "camt053":
        put('<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n<BkToCstmrStmt>\n<GrpHdr><MsgId>ICBC-20261031</MsgId><CreDtTm>2026-10-31T18:00:00+08:00</CreDtTm></GrpHdr>\n')
        i = 0
        while n < size:
            put(f'<Stmt><Id>BENCH-{i:09}</Id><ElctrncSeqNb>{i}</ElctrncSeqNb><CreDtTm>2026-10-31T18:00:00+08:00</CreDtTm>\n'
                f'<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>\n'
                f'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-31</Dt></Dt></Bal>\n'
                f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">{1000 + i % 5000}.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-31</Dt></Dt></Bal>\n'
                f'<Ntry><Amt Ccy="CNY">{i % 5000}.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-10-31</Dt></BookgDt><ValDt><Dt>2026-10-31</Dt></ValDt>\n'
                f'<AcctSvcrRef>ICBC{i:012}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>LABOR-{i}</EndToEndId></Refs><RltdPties><Dbtr><Pty><Nm>云南某建设单位有限公司</Nm></Pty></Dbtr><DbtrAcct><Id><Othr><Id>2502012345678901</Id></Othr></Id></DbtrAcct></RltdPties><RmtInf><Ustrd>10月人工费用拨付 合同HT-2026-{i}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n</Stmt>\n')
            i += 1
        put('</BkToCstmrStmt>\n</Document>\n')
    elif fmt == "mt940":
        i = 0
        while n < size:
            put(f'{{1:F01ICBKCNBJAXXX0000000000}}{{2:O940ICBKCNBJXXXXN}}{{4:\r\n:20:BENCH-{i:09}\r\n:25:{account}\r\n:28C:{i % 100000}/1\r\n'
                f':60F:C261031CNY1000,00\r\n'
                f':61:2610311031C{i % 5000},50NTRFLABOR-{i}//ICBC{i:012}\r\n'
                f':86:10月人工费用拨付 合同HT-2026-{i}\r\n云南某建设单位有限公司 2502012345678901\r\n'
                f':62F:C261031CNY{1000 + i % 5000},50\r\n-}}\r\n')
            i += 1
    elif fmt == "cmb":
        put('招商银行 账务明细查询 (SYNTHETIC)\r\nACCNBR,CCYNBR,ETYDAT,VLTDAT,TRSCOD,AMTCDR,TRSAMTD,TRSAMTC,TRSBLV,REFNBR,REQNBR,YURREF,RPYACC,RPYNAM,NARTXT,RSVFLG\r\n')
        a = 0
        while n < size:
            if a >= accounts_n:
                sys.exit(f"{accounts_n} accounts fill only {n} bytes: raise ACCOUNTS or ACCOUNT_ROWS")
            acct = f"6222021{a:012}"
            balance = 50_000_000
            for i in range(account_rows):
                fen = 10_000 + (i % 97) * 11
                credit = i % 3 == 0
                balance += fen if credit else -fen
                amount = f"{fen // 100}.{fen % 100:02}"
                d, c, cd = ("", amount, "C") if credit else ("-" + amount, "", "D")
                put(f'{acct},10,20261030,20261030,AGPY,{cd},{d},{c},{balance // 100}.{balance % 100:02},K{a:05}{i:07},RQ{a:05}{i // 500:03},YR-{a}-{i},62122600000{i:08},某某劳务有限公司,"10月工资,第{i}笔",\r\n')
            a += 1
    elif fmt == "core-payroll":
        b = 0
        while n < size:
            lines, total = [], 0
            for i in range(batch_lines):
                fen = 400_000 + (i % 40) * 125
                total += fen
                st, code, text = ("1", "E05", "户名不符") if i % 13 == 5 else ("0", "", "成功")
                lines.append(f'D|{i:06}|工人{i}|110105199001010029|62170000{b:06}{i:06}|{fen // 100}.{fen % 100:02}|{st}|{code}|{text}|W{b}-{i}\r\n')
            put(f'H|20261030|EMP0009|{batch_lines}|{total // 100}.{total % 100:02}|PB-{b:07}|{account}\r\n')
            put("".join(lines))
            b += 1
    else:
        put('<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">\n<CstmrPmtStsRpt>\n<GrpHdr><MsgId>ICBC-PSR-BENCH</MsgId><CreDtTm>2026-10-10T09:00:00+08:00</CreDtTm></GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>PAY-BENCH</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n')
        i = 0
        while n < size:
            if i % 500 == 0:
                if i:
                    put('</OrgnlPmtInfAndSts>\n')
                put(f'<OrgnlPmtInfAndSts><OrgnlPmtInfId>BENCH-PAYROLL-{i // 500:06}</OrgnlPmtInfId>\n')
            sts = '<TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>' if i % 9 == 0 else '<TxSts>ACSC</TxSts>'
            put(f'<TxInfAndSts><OrgnlEndToEndId>W-{i:09}</OrgnlEndToEndId>{sts}<OrgnlTxRef><Amt><InstdAmt Ccy="CNY">{5000 + i % 3000}.00</InstdAmt></Amt><ReqdExctnDt><Dt>2026-10-10</Dt></ReqdExctnDt><DbtrAcct><Id><Othr><Id>{account}</Id></Othr></Id></DbtrAcct><Cdtr><Nm>工人{i}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>6212261{i:012}</Id></Othr></Id></CdtrAcct></OrgnlTxRef></TxInfAndSts>\n')
            i += 1
        put('</OrgnlPmtInfAndSts>\n</CstmrPmtStsRpt>\n</Document>\n')
EOF
}

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$2/status"; }

wait_for() { # wait_for PATTERN FILE SECONDS
  local deadline=$(( $(date +%s) + $3 ))
  until grep -q "$1" "$2"; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for '$1' in $2" >&2; return 1; }
    sleep 0.1
  done
}

sample_peak() { # sample_peak PID OUT: the largest VmRSS (KiB) seen every 0.1 s into OUT, until
  # OUT.stop; every sample, with its time (seconds since the epoch), into OUT.series
  local peak=0 v
  : >"$2.series"
  while [ ! -e "$2.stop" ]; do
    v=$(kib VmRSS "$1" 2>/dev/null) || break
    [ -n "$v" ] || break
    echo "$EPOCHREALTIME $v" >>"$2.series"
    if [ "$v" -gt "$peak" ]; then peak=$v; echo "$peak" >"$2"; fi
    sleep 0.1
  done
}

peak_before() { # peak_before SERIES LOG: the largest sample taken before the log's `file parsed`
  # (or `file rejected`) line. The file's commit comes just before that line, and the daemon
  # starts the reconciliation of the file's project at the commit: its count of the project's
  # facts (reconciler.max_project_facts) reads them through a 64 MiB page cache within a
  # second, so a peak sampled until the line is seen holds part of it.
  local at
  at=$(grep -m1 'file parsed\|file rejected' "$2" | grep -o '^[0-9T:.-]*')
  at=$(date -u -d "$at" +%s.%N)
  awk -v at="$at" '$1 < at && $2 > p {p = $2} END {print p + 0}' "$1"
}

for fmt in $formats; do
  case $fmt in mt940) ext=sta ;; cmb) ext=csv ;; core-payroll) ext=txt ;; *) ext=xml ;; esac
  gen "$fmt" $((mb * 1024 * 1024)) "$work/$fmt.$ext"
  gen "$fmt" 65536 "$work/small-$fmt.$ext"
  ls -l "$work/$fmt.$ext"
  for path in $paths; do
    export WAGEGATE__DATABASE__URL=sqlite://$work/$fmt-$path.db
    export WAGEGATE__INGEST__MAX_FILE_BYTES=$(( (mb + 64) * 1024 * 1024 ))
    export WAGEGATE__SERVER__MAX_BODY_BYTES=$WAGEGATE__INGEST__MAX_FILE_BYTES
    cp "$work/data/demo/wagegate.db" "$work/$fmt-$path.db"
    case $path in
    cli)
      /usr/bin/time -v "$bin" --lang en ingest --partner icbc-fj --database "$WAGEGATE__DATABASE__URL" "$work/small-$fmt.$ext" \
        >/dev/null 2>"$work/time-small.txt" || true
      t0=$(date +%s.%N)
      /usr/bin/time -v "$bin" --lang en ingest --partner icbc-fj --database "$WAGEGATE__DATABASE__URL" "$work/$fmt.$ext" \
        >"$work/$fmt-cli.out" 2>"$work/time-large.txt" || true
      t1=$(date +%s.%N)
      base=$(awk -F: '/Maximum resident/ {print $2+0}' "$work/time-small.txt")
      peak=$(awk -F: '/Maximum resident/ {print $2+0}' "$work/time-large.txt")
      echo "$fmt cli: peak $((peak / 1024)) MiB, small file $((base / 1024)) MiB, growth $(((peak - base) / 1024)) MiB, $(echo "$t1 - $t0" | bc) s: $(head -c 200 "$work/$fmt-cli.out")"
      ;;
    post | inbox)
      export WAGEGATE__INBOX__ROOT=$work/inbox-$fmt
      mkdir -p "$WAGEGATE__INBOX__ROOT/demo-bank/incoming"
      "$bin" serve --dev-pki "$work/pki" --listen "127.0.0.1:$port" >"$work/$fmt-$path.log" 2>&1 &
      server=$!
      wait_for "gateway serving" "$work/$fmt-$path.log" 60
      base=$(kib VmRSS $server)
      rm -f "$work/peak" "$work/peak.stop"
      sample_peak $server "$work/peak" &
      sampler=$!
      t0=$(date +%s.%N)
      if [ "$path" = post ]; then
        curl -sS --fail-with-body --cacert "$work/pki/ca.pem" --cert "$work/pki/bank.pem" \
          --key "$work/pki/bank.key" --resolve "localhost:$port:127.0.0.1" \
          -X POST -T "$work/$fmt.$ext" -H "X-Wagegate-File-Name: $fmt.$ext" \
          "https://localhost:$port/v1/files" >/dev/null
      else
        cp "$work/$fmt.$ext" "$WAGEGATE__INBOX__ROOT/demo-bank/$fmt.$ext.tmp"
        mv "$WAGEGATE__INBOX__ROOT/demo-bank/$fmt.$ext.tmp" "$WAGEGATE__INBOX__ROOT/demo-bank/incoming/$fmt.$ext"
      fi
      wait_for "file parsed\|file rejected" "$work/$fmt-$path.log" 3600
      # The peak while the file is received, stored and parsed (sampled); VmHWM also holds
      # the reconciliation of the file's project, which the daemon starts at the commit.
      touch "$work/peak.stop"; wait $sampler || true
      t1=$(date +%s.%N)
      sampled=$(cat "$work/peak")
      parse_peak=$(peak_before "$work/peak.series" "$work/$fmt-$path.log")
      reconciled=""
      if [ "${WAIT_RECONCILE:-0}" = 1 ]; then
        # The reconciliation of the file's project (named in its `file parsed` line).
        project=$(grep -o 'file parsed.* projects=[^ ,]*' "$work/$fmt-$path.log" | head -1 | sed 's/.*projects=//' || true)
        # (a reconciliation logged after the file was parsed: the daemon's first pass at start
        # may have reconciled the project before)
        deadline=$(( $(date +%s) + 3600 ))
        until sed -n '/file parsed\|file rejected/,$p' "$work/$fmt-$path.log" |
          grep -q "projects=[^}]*$project[^}]*}.*projects reconciled"; do
          [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for $project's reconciliation" >&2; break; }
          sleep 0.1
        done
        reconciled="; $project reconciled $(echo "$(date +%s.%N) - $t1" | bc) s after the parse$(grep -o ' project not reconciled: [a-z ]*' "$work/$fmt-$path.log" | head -1 || true)"
      fi
      peak=$(kib VmHWM $server)
      kill $server; wait $server 2>/dev/null || true
      echo "$fmt $path: peak before the file's commit $((parse_peak / 1024)) MiB, before $((base / 1024)) MiB, growth $(((parse_peak - base) / 1024)) MiB; sampled until the log line $((sampled / 1024)) MiB (growth $(((sampled - base) / 1024)) MiB); VmHWM $((peak / 1024)) MiB (growth $(((peak - base) / 1024)) MiB with the reconciliation after), $(echo "$t1 - $t0" | bc) s$reconciled: $(grep -o 'file \(parsed\|rejected\).*' "$work/$fmt-$path.log" | head -1 | cut -c1-200)"
      ;;
    esac
    rm -f "$work/$fmt-$path.db"*
  done
  rm -f "$work/$fmt.$ext"
done
