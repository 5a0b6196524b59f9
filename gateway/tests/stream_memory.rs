//! Resident memory while a large file is ingested (issue 9, item 5): `wagegate ingest` of a
//! 96 MiB camt.053 and of a 96 MiB pain.002, generated here as a bank writes them (many
//! accounts' statements of a day; a payroll result of many workers), must grow the process
//! by at most 64 MiB over the same command on a small file — less than the file itself, so
//! reading it whole anywhere (to store it, to parse it, to write its records) fails this.
//! The peak is the kernel's high-water mark (`VmHWM` in /proc/PID/status), watched until the
//! process ends. The 1 GiB runs and the other entry points (`POST /v1/files`, the inbox) are
//! `gateway/benches/stream_memory.sh` (docs/BENCHMARKS.md).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// Growth allowed over the small file's run.
const BOUND_MIB: u64 = 64;

/// A camt.053.001.08 of statements until `bytes` are written (many accounts, one day).
fn write_camt053(path: &Path, bytes: u64) {
    let mut w = BufWriter::new(std::fs::File::create(path).unwrap());
    let mut n = 0u64;
    let mut put = |w: &mut BufWriter<std::fs::File>, s: &str| {
        w.write_all(s.as_bytes()).unwrap();
        n += s.len() as u64;
        n
    };
    put(&mut w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n<BkToCstmrStmt>\n<GrpHdr><MsgId>ICBC-20260531</MsgId><CreDtTm>2026-05-31T18:00:00+08:00</CreDtTm></GrpHdr>\n");
    let mut i = 0u64;
    while put(&mut w, "") < bytes {
        let s = format!(
            "<Stmt><Id>STMT-{i:09}</Id><ElctrncSeqNb>{i}</ElctrncSeqNb><CreDtTm>2026-05-31T18:00:00+08:00</CreDtTm>\n\
             <Acct><Id><Othr><Id>62220210{i:011}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>\n\
             <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"CNY\">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-05-31</Dt></Dt></Bal>\n\
             <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"CNY\">{}.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-05-31</Dt></Dt></Bal>\n\
             <Ntry><Amt Ccy=\"CNY\">{}.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-05-31</Dt></BookgDt><ValDt><Dt>2026-05-31</Dt></ValDt>\n\
             <AcctSvcrRef>ICBC{i:012}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>LABOR-{i}</EndToEndId></Refs><RltdPties><Dbtr><Pty><Nm>云南某建设单位有限公司</Nm></Pty></Dbtr><DbtrAcct><Id><Othr><Id>2502012345678901</Id></Othr></Id></DbtrAcct></RltdPties><RmtInf><Ustrd>5月人工费用拨付 合同HT-2026-{i}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n</Stmt>\n",
            1000 + i % 5000,
            i % 5000
        );
        put(&mut w, &s);
        i += 1;
    }
    put(&mut w, "</BkToCstmrStmt>\n</Document>\n");
    w.flush().unwrap();
}

/// A pain.002.001.10 payroll result of workers until `bytes` are written, 500 a batch.
fn write_pain002(path: &Path, bytes: u64) {
    let mut w = BufWriter::new(std::fs::File::create(path).unwrap());
    let mut n = 0u64;
    let mut put = |w: &mut BufWriter<std::fs::File>, s: &str| {
        w.write_all(s.as_bytes()).unwrap();
        n += s.len() as u64;
        n
    };
    put(&mut w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n<CstmrPmtStsRpt>\n<GrpHdr><MsgId>ICBC-PSR-1</MsgId><CreDtTm>2026-06-10T09:00:00+08:00</CreDtTm></GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>PAY-2026-05</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n");
    let mut i = 0u64;
    while put(&mut w, "") < bytes {
        if i.is_multiple_of(500) {
            if i > 0 {
                put(&mut w, "</OrgnlPmtInfAndSts>\n");
            }
            put(
                &mut w,
                &format!(
                    "<OrgnlPmtInfAndSts><OrgnlPmtInfId>PAYROLL-2026-05-{:06}</OrgnlPmtInfId>\n",
                    i / 500
                ),
            );
        }
        let sts = if i.is_multiple_of(9) {
            "<TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>"
        } else {
            "<TxSts>ACSC</TxSts>"
        };
        put(
            &mut w,
            &format!(
                "<TxInfAndSts><OrgnlEndToEndId>W-{i:09}</OrgnlEndToEndId>{sts}<OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">{}.00</InstdAmt></Amt><ReqdExctnDt><Dt>2026-06-10</Dt></ReqdExctnDt><DbtrAcct><Id><Othr><Id>6222021001000012345</Id></Othr></Id></DbtrAcct><Cdtr><Nm>工人{i}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>6212261{i:012}</Id></Othr></Id></CdtrAcct></OrgnlTxRef></TxInfAndSts>\n",
                5000 + i % 3000
            ),
        );
        i += 1;
    }
    put(
        &mut w,
        "</OrgnlPmtInfAndSts>\n</CstmrPmtStsRpt>\n</Document>\n",
    );
    w.flush().unwrap();
}

/// The kernel's high-water mark of a process's resident memory, in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Runs `wagegate ingest --partner operator FILE` on a fresh database; returns the peak
/// resident memory (KiB) seen until it ended, and its output.
fn ingest_peak(dir: &Path, file: &Path) -> (u64, String) {
    let db = dir.join(format!(
        "{}.db",
        file.file_name().unwrap().to_string_lossy()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .args(["ingest", "--lang", "en", "--partner", "operator"])
        .arg(file)
        .current_dir(dir)
        .env(
            "WAGEGATE__DATABASE__URL",
            format!("sqlite://{}", db.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut peak = 0;
    // Watched until it ends (the mark only grows; the last reading before the end is kept).
    loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "wagegate ingest did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    (peak, text)
}

fn check(kind: &str, write: fn(&Path, u64)) {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join(format!("small-{kind}.xml"));
    let large = dir.path().join(format!("large-{kind}.xml"));
    write(&small, 64 * 1024);
    write(&large, 96 * MIB);
    let (base, _) = ingest_peak(dir.path(), &small);
    let (peak, out) = ingest_peak(dir.path(), &large);
    let growth_mib = peak.saturating_sub(base) / 1024;
    eprintln!(
        "{kind}: 96 MiB file, peak {} MiB, small file {} MiB, growth {growth_mib} MiB",
        peak / 1024,
        base / 1024
    );
    assert!(out.contains("parsed as"), "{out}");
    assert!(
        growth_mib <= BOUND_MIB,
        "{kind}: ingesting a 96 MiB file grew resident memory by {growth_mib} MiB (peak {} MiB, small file {} MiB), more than {BOUND_MIB} MiB",
        peak / 1024,
        base / 1024
    );
}

#[test]
fn ingesting_a_large_camt053_grows_memory_by_at_most_64_mib() {
    check("camt053", write_camt053);
}

#[test]
fn ingesting_a_large_pain002_grows_memory_by_at_most_64_mib() {
    check("pain002", write_pain002);
}
