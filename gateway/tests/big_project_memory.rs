//! The memory of a reconciliation when a bank's file has flooded one project with payment
//! results (docs/BENCHMARKS.md, "One project of hundreds of thousands of payment results"):
//! `wagegate reconcile` of the demo world plus 20,000 results for one of its projects, each to
//! a payee on no roster. Over `reconciler.max_project_facts` (here 10,000) the project is not
//! loaded, and the command's peak resident memory (`VmHWM`, watched until it ends) stays
//! within 16 MiB of the same command on the demo world alone; with the limit raised, the same
//! facts are reconciled and take far more — what the limit is for, and what makes this test
//! fail if the project were loaded anyway.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Results in the flood file: twice the limit below.
const FLOOD: usize = 20_000;
const LIMIT: &str = "10000";

fn write_flood(path: &Path) {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n<CstmrPmtStsRpt>\n<GrpHdr><MsgId>ICBC-PSR-FLOOD</MsgId><CreDtTm>2026-10-10T09:00:00+08:00</CreDtTm></GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>PAY-FLOOD</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n",
    );
    for b in 0..FLOOD.div_ceil(500) {
        xml.push_str(&format!(
            "<OrgnlPmtInfAndSts><OrgnlPmtInfId>FLOOD-PAYROLL-{b:04}</OrgnlPmtInfId>\n"
        ));
        for i in b * 500..((b + 1) * 500).min(FLOOD) {
            xml.push_str(&format!(
                "<TxInfAndSts><OrgnlEndToEndId>FLOOD-{i:07}</OrgnlEndToEndId><TxSts>ACSC</TxSts><OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">{}.00</InstdAmt></Amt><ReqdExctnDt><Dt>2026-10-10</Dt></ReqdExctnDt><DbtrAcct><Id><Othr><Id>1402023009000012345</Id></Othr></Id></DbtrAcct><Cdtr><Nm>工人{i}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>6212261{i:012}</Id></Othr></Id></CdtrAcct></OrgnlTxRef></TxInfAndSts>\n",
                5000 + i % 3000
            ));
        }
        xml.push_str("</OrgnlPmtInfAndSts>\n");
    }
    xml.push_str("</CstmrPmtStsRpt>\n</Document>\n");
    std::fs::write(path, xml).unwrap();
}

fn wagegate(dir: &Path, limit: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wagegate"));
    c.current_dir(dir)
        .env_remove("WAGEGATE__DATABASE__URL")
        .env("WAGEGATE_CONFIG", "data/demo/wagegate.toml")
        .env("WAGEGATE__RECONCILER__MAX_PROJECT_FACTS", limit);
    c
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

/// `wagegate reconcile --force` with `limit`: its peak resident memory (KiB), watched until
/// it ends, and its output.
fn reconcile_peak(dir: &Path, limit: &str) -> (u64, Output) {
    let mut child = wagegate(dir, limit)
        .args([
            "--lang",
            "en",
            "reconcile",
            "--as-of",
            "2026-11-20",
            "--force",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut peak = 0;
    // The mark only grows: the last reading before the end is the peak.
    loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "wagegate reconcile did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
    (peak, child.wait_with_output().unwrap())
}

#[test]
fn a_flooded_project_over_the_limit_costs_the_reconciliation_no_memory() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .arg("demo")
        .current_dir(dir.path())
        .env_remove("WAGEGATE__DATABASE__URL")
        .env_remove("WAGEGATE_CONFIG")
        .output()
        .unwrap();
    assert!(demo.status.success());
    // The demo world alone.
    let (base, out) = reconcile_peak(dir.path(), LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    write_flood(&dir.path().join("flood.xml"));
    let ingested = wagegate(dir.path(), LIMIT)
        .args(["ingest", "--partner", "icbc-fj", "flood.xml"])
        .output()
        .unwrap();
    assert!(
        ingested.status.success(),
        "{}",
        String::from_utf8_lossy(&ingested.stderr)
    );

    let (refused, out) = reconcile_peak(dir.path(), LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("FJ-FZ-2026-0017"), "{err}");
    let (full, out) = reconcile_peak(dir.path(), "100000");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let refused_mib = refused.saturating_sub(base) / 1024;
    let full_mib = full.saturating_sub(base) / 1024;
    eprintln!(
        "reconcile: demo {} MiB; with {FLOOD} results refused +{refused_mib} MiB, reconciled +{full_mib} MiB",
        base / 1024
    );
    assert!(
        refused_mib <= 16,
        "a refused project grew the reconciliation by {refused_mib} MiB"
    );
    assert!(
        full_mib >= 4 * refused_mib.max(16),
        "reconciled, the same facts take far more: +{full_mib} MiB (refused: +{refused_mib} MiB)"
    );
}
