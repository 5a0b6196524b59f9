//! The main job end to end, as an operator and partner banks drive it, on every backend:
//! the demo world imported, its bank files ingested through the pipeline, reconciled; the
//! same files again store nothing; broken and unauthorised files are rejected and leave no
//! data behind.

use std::collections::BTreeMap;
use std::path::Path;

use ingest::pipeline::Pipeline;
use schemas::{FindingCode, FindingStatus, Money, Severity};
use store::{FileStatus, FindingFilter, Scope};
use wagegate_tests::{settings, TestDb};

async fn open(db: &TestDb) -> Pipeline {
    ingest::open(settings(db).expect("settings"))
        .await
        .expect("open store")
}

/// Imports the demo registry and ingests every bank file as its sender; returns
/// (new records, rejected files).
async fn load_demo(p: &Pipeline, dir: &Path) -> (u64, usize) {
    load_demo_edited(p, dir, |_, bytes| bytes).await
}

/// [`load_demo`] with each registry file passed through `edit(name, bytes)` first, as an
/// operator's own spreadsheet would differ from the demo's.
async fn load_demo_edited(
    p: &Pipeline,
    dir: &Path,
    edit: impl Fn(&str, Vec<u8>) -> Vec<u8>,
) -> (u64, usize) {
    let paths = sim::demo::write_files(dir).expect("write demo files");
    let registry: Vec<(String, Vec<u8>)> = paths
        .iter()
        .filter(|p| p.to_string_lossy().contains("/registry/"))
        .map(|p| {
            let name = p.display().to_string();
            let bytes = edit(&name, std::fs::read(p).expect("read"));
            (name, bytes)
        })
        .collect();
    let (_, refused) = p.import_registry(&registry).await.expect("import");
    assert!(refused.is_empty(), "demo registry refused: {refused:?}");
    let mut inserted = 0;
    let mut rejected = 0;
    for path in paths
        .iter()
        .filter(|p| p.to_string_lossy().contains("/bank/"))
    {
        let sender = path
            .parent()
            .and_then(|d| d.file_name())
            .map(|s| s.to_string_lossy().into_owned())
            .expect("sender folder");
        let done = p
            .ingest(&sender, None, None, std::fs::read(path).expect("read"))
            .await
            .expect("ingest");
        if done.is_rejected() {
            eprintln!("{}: {:?}", path.display(), done.file.error);
            rejected += 1;
        }
        inserted += done.report.map(|r| r.inserted).unwrap_or(0);
    }
    (inserted, rejected)
}

async fn findings_by_code(
    p: &Pipeline,
) -> BTreeMap<(FindingCode, String), (String, Money, FindingStatus)> {
    let page = p
        .store()
        .list_findings(&FindingFilter {
            limit: Some(1000),
            ..FindingFilter::default()
        })
        .await
        .expect("list findings");
    page.items
        .into_iter()
        .map(|s| {
            (
                (s.finding.code, s.finding.project.clone()),
                (s.finding.id.clone(), s.finding.amount_short, s.status),
            )
        })
        .collect()
}

#[tokio::test]
async fn demo_world_raises_real_findings_and_reruns_change_nothing() {
    for db in TestDb::all().await.expect("databases") {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = open(&db).await;
        let (inserted, _) = load_demo(&p, dir.path()).await;
        assert!(inserted > 0, "{}: nothing stored", db.backend);
        let as_of = sim::demo::world::as_of();
        let first = p.reconcile(Scope::All, as_of).await.expect("reconcile");
        assert!(first.opened >= 3, "{}: {first:?}", db.backend);

        let f = findings_by_code(&p).await;
        let fj = "FJ-FZ-2026-0017".to_string();
        let gz = "GZ-GY-2026-0042".to_string();
        let short = &f[&(FindingCode::LaborCostShort, fj.clone())];
        assert_eq!(
            short.1,
            Money::parse("120000.00").unwrap(),
            "{}",
            db.backend
        );
        let missing = &f[&(FindingCode::LaborCostMissing, gz.clone())];
        assert_eq!(
            missing.1,
            Money::parse("200000.00").unwrap(),
            "{}",
            db.backend
        );
        let unpaid = &f[&(FindingCode::WagesUnpaid, fj.clone())];
        assert_eq!(unpaid.1, Money::parse("8200.00").unwrap(), "{}", db.backend);
        // The Guizhou October disbursement arrived on time: no finding for it.
        assert!(
            !f.keys()
                .any(|(c, p)| *c == FindingCode::LaborCostShort && *p == gz),
            "{}: {f:?}",
            db.backend
        );

        // Again: the same files store nothing and the same findings keep their ids.
        let (again, rejected) = load_demo(&p, dir.path()).await;
        assert_eq!((again, rejected), (0, 0), "{}", db.backend);
        let second = p.reconcile(Scope::All, as_of).await.expect("reconcile");
        assert_eq!(
            second.opened + second.resolved + second.reopened,
            0,
            "{}: {second:?}",
            db.backend
        );
        assert_eq!(findings_by_code(&p).await, f, "{}", db.backend);
        drop(p);
        db.finish().await;
    }
}

/// Issue 8: `福建省` in the province column was stored as is and the guarantee rule fell back
/// to the national 1 %, so the Fujian project's red GUARANTEE_SHORT of ¥430,000 (1.5 % of
/// ¥86,000,000 = ¥1,290,000 required, a ¥860,000 letter held) disappeared.
#[tokio::test]
async fn demo_world_with_chinese_province_names_keeps_its_guarantee_shortfall() {
    for db in TestDb::all().await.expect("databases") {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = open(&db).await;
        let (_, rejected) = load_demo_edited(&p, dir.path(), |name, bytes| {
            if !name.ends_with("01-projects.csv") {
                return bytes;
            }
            let text = String::from_utf8(bytes).expect("utf-8");
            assert!(text.contains(",fujian,") && text.contains(",guizhou,"));
            text.replace(",fujian,", ",福建省,")
                .replace(",guizhou,", ",贵州,")
                .into_bytes()
        })
        .await;
        assert_eq!(rejected, 0, "{}", db.backend);
        let as_of = sim::demo::world::as_of();
        p.reconcile(Scope::All, as_of).await.expect("reconcile");
        let page = p
            .store()
            .list_findings(&FindingFilter {
                limit: Some(1000),
                ..FindingFilter::default()
            })
            .await
            .expect("list findings");
        let short = page
            .items
            .iter()
            .find(|s| {
                s.finding.code == FindingCode::GuaranteeShort
                    && s.finding.project == "FJ-FZ-2026-0017"
            })
            .unwrap_or_else(|| panic!("{}: no GUARANTEE_SHORT for Fujian", db.backend));
        assert_eq!(
            short.finding.amount_short,
            Money::parse("430000.00").unwrap(),
            "{}",
            db.backend
        );
        assert_eq!(short.finding.severity, Severity::Red, "{}", db.backend);
        drop(p);
        db.finish().await;
    }
}

#[tokio::test]
async fn the_same_file_twice_is_stored_once_with_one_receipt() {
    for db in TestDb::all().await.expect("databases") {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = open(&db).await;
        load_demo(&p, dir.path()).await;
        let files = sim::demo::world::files();
        let camt = files
            .iter()
            .find(|f| f.path.contains("icbc-fj/camt053"))
            .expect("a camt.053 file");
        let a = p
            .receive("icbc-fj", Some("x.xml"), None, camt.bytes.clone())
            .await
            .expect("receive");
        let b = p
            .receive("icbc-fj", Some("x.xml"), None, camt.bytes.clone())
            .await
            .expect("receive");
        assert_eq!(a, b, "{}", db.backend);
        assert!(!b.created, "{}", db.backend);
        let listed = p
            .store()
            .list_files(&store::FileFilter {
                sender: Some("icbc-fj".into()),
                ..store::FileFilter::default()
            })
            .await
            .expect("list");
        assert_eq!(
            listed.iter().filter(|f| f.sha256 == a.sha256).count(),
            1,
            "{}",
            db.backend
        );
        drop(p);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_broken_file_is_rejected_with_its_position_and_leaves_no_data() {
    for db in TestDb::all().await.expect("databases") {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = open(&db).await;
        load_demo(&p, dir.path()).await;
        let before = p
            .store()
            .load_records(&Scope::All)
            .await
            .expect("load")
            .len();
        let files = sim::demo::world::files();
        let camt = files
            .iter()
            .find(|f| f.path.contains("icbc-fj/camt053"))
            .expect("a camt.053 file");
        // Cut the file in the middle of an element: not well-formed any more.
        let mut broken = camt.bytes[..camt.bytes.len() / 2].to_vec();
        broken.extend_from_slice(b"<Amt Ccy=\"CNY\">1.00</Ntry>");
        let done = p
            .ingest("icbc-fj", Some("broken.xml"), None, broken.clone())
            .await
            .expect("ingest");
        assert_eq!(done.file.status, FileStatus::Rejected, "{}", db.backend);
        let error = done.file.error.clone().unwrap_or_default();
        assert!(
            error.contains("line"),
            "{}: error must name the position: {error}",
            db.backend
        );
        // The raw bytes are kept, as received.
        assert_eq!(
            p.store().file_bytes(&done.file.id).await.expect("bytes"),
            broken
        );
        let after = p
            .store()
            .load_records(&Scope::All)
            .await
            .expect("load")
            .len();
        assert_eq!(
            before, after,
            "{}: records stored from a rejected file",
            db.backend
        );
        // Garbage that is no known format at all.
        let junk = p
            .ingest("icbc-fj", Some("junk.bin"), None, b"\x00\x01hello".to_vec())
            .await
            .expect("ingest");
        assert_eq!(junk.file.status, FileStatus::Rejected);
        assert!(junk.file.error.unwrap_or_default().contains("unrecognised"));
        drop(p);
        db.finish().await;
    }
}

/// Issue 8: a statement dated `0000-01-01` was accepted and asked for 528,698 working days
/// of missing statements; `9999-12-31` too. Such a file is refused whole, naming the element.
#[tokio::test]
async fn a_statement_dated_year_zero_or_9999_is_rejected_with_its_position() {
    for db in TestDb::all().await.expect("databases") {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = open(&db).await;
        load_demo(&p, dir.path()).await;
        let before = p
            .store()
            .load_records(&Scope::All)
            .await
            .expect("load")
            .len();
        let files = sim::demo::world::files();
        let camt = files
            .iter()
            .find(|f| f.path.contains("icbc-fj/camt053"))
            .expect("a camt.053 file");
        let text = String::from_utf8(camt.bytes.clone()).expect("utf-8");
        let tag = "<BookgDt><Dt>";
        let at = text.find(tag).expect("a booking date") + tag.len();
        for bad in ["0000-01-01", "9999-12-31", "1999-12-31"] {
            let mut edited = text.clone();
            edited.replace_range(at..at + 10, bad);
            let done = p
                .ingest("icbc-fj", Some("dated.xml"), None, edited.into_bytes())
                .await
                .expect("ingest");
            assert_eq!(
                done.file.status,
                FileStatus::Rejected,
                "{}: {bad}",
                db.backend
            );
            let error = done.file.error.clone().unwrap_or_default();
            assert!(
                error.contains("plausible window") && error.contains("entries[0].booking_date"),
                "{}: {bad}: {error}",
                db.backend
            );
        }
        let after = p
            .store()
            .load_records(&Scope::All)
            .await
            .expect("load")
            .len();
        assert_eq!(before, after, "{}: records stored", db.backend);
        drop(p);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_bank_cannot_report_on_another_banks_account() {
    for db in TestDb::all().await.expect("databases") {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = open(&db).await;
        let paths = sim::demo::write_files(dir.path()).expect("files");
        let registry: Vec<(String, Vec<u8>)> = paths
            .iter()
            .filter(|p| p.to_string_lossy().contains("/registry/"))
            .map(|p| (p.display().to_string(), std::fs::read(p).expect("read")))
            .collect();
        p.import_registry(&registry).await.expect("import");
        let icbc_statement = paths
            .iter()
            .find(|p| p.to_string_lossy().contains("icbc-fj/camt053"))
            .expect("an ICBC statement");
        // CMB (bank code 308) pushes a statement of an ICBC (102) account.
        let done = p
            .ingest(
                "cmb-gz",
                None,
                None,
                std::fs::read(icbc_statement).expect("read"),
            )
            .await
            .expect("ingest");
        assert_eq!(done.file.status, FileStatus::Rejected, "{}", db.backend);
        assert!(!done.rejected_records.is_empty());
        assert!(
            done.rejected_records[0].reason.contains("may not report"),
            "{:?}",
            done.rejected_records
        );
        let stored = p.store().load_records(&Scope::All).await.expect("load");
        assert!(
            stored
                .iter()
                .all(|r| r.kind != store::RecordKind::Statement),
            "{}: a statement was stored",
            db.backend
        );
        // An unknown sender is refused too.
        let unknown = p
            .ingest(
                "nobody",
                None,
                None,
                std::fs::read(icbc_statement).expect("read"),
            )
            .await
            .expect("ingest");
        assert_eq!(unknown.file.status, FileStatus::Rejected);
        drop(p);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_registry_file_with_bad_rows_imports_nothing() {
    for db in TestDb::all().await.expect("databases") {
        let p = open(&db).await;
        let good = sim::demo::world::files()
            .into_iter()
            .find(|f| f.path.contains("projects"))
            .expect("projects file");
        let bad = b"obligation_id,project_code,period,due_date,amount\nOB-1,NO-SUCH-PROJECT,2026-09,2026-10-10,100.00\nOB-2,FJ-FZ-2026-0017,2026-09,2026-10-10,100.001\n".to_vec();
        let (report, refused) = p
            .import_registry(&[
                (good.path.clone(), good.bytes.clone()),
                ("bad.csv".into(), bad),
            ])
            .await
            .expect("import");
        assert_eq!(refused.len(), 1, "{}", db.backend);
        let lines: Vec<u64> = refused[0].errors.iter().map(|e| e.line).collect();
        assert!(lines.contains(&3), "{}: {:?}", db.backend, refused[0]);
        assert_eq!(
            report.inserted, 2,
            "{}: only the projects are imported",
            db.backend
        );
        let stored = p.store().load_records(&Scope::All).await.expect("load");
        assert!(stored.iter().all(|r| r.kind == store::RecordKind::Project));
        drop(p);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_new_statement_recomputes_only_its_project_and_cures_a_finding() {
    use sim::demo::files::{Camt053Writer, StatementDay, TxResult};
    for db in TestDb::all().await.expect("databases") {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = open(&db).await;
        load_demo(&p, dir.path()).await;
        let as_of = sim::demo::world::as_of();
        p.reconcile(Scope::All, as_of).await.expect("reconcile");
        // Drain what the loads marked dirty: the daemon would have done this already.
        p.reconcile_dirty(as_of).await.expect("drain");
        let before = findings_by_code(&p).await;
        let gz = "GZ-GY-2026-0042".to_string();
        assert!(before.contains_key(&(FindingCode::LaborCostMissing, gz.clone())));

        // The Guizhou owner finally pays September's labor cost on 20 November.
        let last = sim::demo::world::files()
            .into_iter()
            .rfind(|f| f.path.contains("cmb-gz/camt053"))
            .expect("a CMB statement");
        let set =
            adapters::parse(&last.bytes, None, &adapters::ParseContext::default()).expect("parse");
        let prev = set.statements.last().expect("a statement");
        let closing = prev.closing_balance.expect("closing").amount;
        let seq: u64 = prev
            .sequence
            .as_deref()
            .expect("sequence")
            .parse()
            .expect("number");
        let amount = Money::parse("200000.00").unwrap();
        let day = StatementDay {
            date: as_of,
            sequence: seq + 1,
            opening: closing,
            closing: closing.checked_add(amount).unwrap(),
            entries: vec![TxResult::credit(
                amount,
                "GZ20261120001",
                "贵阳市住房保障建设有限公司",
                "851900012210202",
                "补拨人工费 GZ-LC-2026-09",
            )],
        };
        let xml = Camt053Writer {
            account: &prev.account,
            account_name: "贵州建工四公司观山湖保障房二期农民工工资专用账户",
            bic: "CMBCCNBS",
            message_id: "CMB-GZ-20261120",
        }
        .write(&[day]);
        let done = p
            .ingest("cmb-gz", None, None, xml.into_bytes())
            .await
            .expect("ingest");
        assert!(!done.is_rejected(), "{:?}", done.file.error);
        assert_eq!(
            done.report.as_ref().unwrap().dirty_projects,
            vec![gz.clone()]
        );

        let next_day = as_of.succ_opt().unwrap();
        let sync = p.reconcile_dirty(next_day).await.expect("incremental");
        assert!(sync.resolved >= 1, "{}: {sync:?}", db.backend);
        let after = findings_by_code(&p).await;
        let missing = &after[&(FindingCode::LaborCostMissing, gz.clone())];
        assert_eq!(missing.2, FindingStatus::Resolved, "{}", db.backend);
        // Paid, but six weeks late: that is a finding of its own.
        assert!(
            after.contains_key(&(FindingCode::LaborCostLate, gz.clone())),
            "{after:?}"
        );
        // Fujian's findings were not touched.
        for (k, v) in before.iter().filter(|(k, _)| k.1 != gz) {
            assert_eq!(after.get(k), Some(v), "{}: {k:?} changed", db.backend);
        }
        drop(p);
        db.finish().await;
    }
}

/// Issue 8: a project whose amounts cannot be computed exactly is that project's error. The
/// other projects are reconciled, its stored findings stay as they were, and it is queued to
/// be reconciled again.
#[tokio::test]
async fn one_projects_overflow_does_not_stop_the_others() {
    for db in TestDb::all().await.expect("databases") {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = open(&db).await;
        load_demo(&p, dir.path()).await;
        let as_of = sim::demo::world::as_of();
        p.reconcile(Scope::All, as_of).await.expect("reconcile");
        let before = findings_by_code(&p).await;
        let fj = "FJ-FZ-2026-0017".to_string();
        let gz = "GZ-GY-2026-0042".to_string();
        assert!(before.keys().any(|(_, proj)| *proj == fj), "{}", db.backend);

        // A pay-sheet line of i64::MAX fen for the Fujian project: its sums overflow.
        let csv = "project_code,period,employer,worker_name,id_number,card_number,gross,net\n\
                   FJ-FZ-2026-0017,2026-10,某劳务分包有限公司,王五,11010519491231002X,6222000000000000001,92233720368547758.07,92233720368547758.07\n";
        let (_, refused) = p
            .import_registry(&[("overflow.csv".to_string(), csv.as_bytes().to_vec())])
            .await
            .expect("import");
        assert!(refused.is_empty(), "{}: {refused:?}", db.backend);
        // The whole run succeeds; Guizhou is reconciled as before.
        p.reconcile(Scope::All, as_of)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:#}", db.backend));
        let after = findings_by_code(&p).await;
        assert_eq!(
            after.get(&(FindingCode::LaborCostMissing, gz.clone())),
            before.get(&(FindingCode::LaborCostMissing, gz.clone())),
            "{}",
            db.backend
        );
        // Fujian's findings are untouched (not resolved for want of a result) ...
        for (k, v) in before.iter().filter(|(k, _)| k.1 == fj) {
            assert_eq!(after.get(k), Some(v), "{}: {k:?}", db.backend);
        }
        // ... and Fujian waits in the queue to be tried again.
        let dirty = p.store().take_dirty(100).await.expect("dirty");
        assert!(dirty.contains(&fj), "{}: {dirty:?}", db.backend);
        assert!(!dirty.contains(&gz), "{}: {dirty:?}", db.backend);
    }
}
