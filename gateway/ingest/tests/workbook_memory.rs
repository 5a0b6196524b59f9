//! What reading a crafted registry workbook costs in memory: each case runs in a child process
//! (this test binary again, one case named in `WORKBOOK_MEMORY_CASE`), which builds the
//! workbook, resets its peak resident set (`/proc/self/clear_refs`), reads the workbook with
//! `parse_file_in` at the real limits and reports how far its peak (`VmHWM`) rose above what
//! it held before the read. Crafted as an attacker would: tiny uploads that describe a huge
//! sheet, and sheets of millions of tiny cells or shared strings within the inflate bound.
//!
//! `cargo test -p ingest --test workbook_memory -- --nocapture` prints each figure.

use std::io::Write;
use std::process::Command;

use ingest::registry::{
    parse_file_in, WORKBOOK_MAX_CELLS, WORKBOOK_MAX_SHARED_STRINGS, WORKBOOK_MAX_TEXT_BYTES,
};
use schemas::DateWindow;

const CASE: &str = "WORKBOOK_MEMORY_CASE";

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A workbook of one sheet `S` whose `<sheetData>` holds `rows`, with `shared` as its shared
/// strings part when not empty.
fn workbook(rows: &[u8], shared: &[u8]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut part = |name: &str, xml: &[&[u8]]| {
        z.start_file(name, deflated).unwrap();
        for x in xml {
            z.write_all(x).unwrap();
        }
    };
    part("_rels/.rels", &[br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#]);
    part("xl/workbook.xml", &[br#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#]);
    part("xl/_rels/workbook.xml.rels", &[br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#]);
    if !shared.is_empty() {
        part("xl/sharedStrings.xml", &[shared]);
    }
    part(
        "xl/worksheets/sheet1.xml",
        &[
            br#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData>"#,
            rows,
            b"</sheetData></worksheet>",
        ],
    );
    z.finish().unwrap().into_inner()
}

/// `n` shared strings of one letter each.
fn shared_strings(n: u64) -> Vec<u8> {
    let mut xml = b"<sst>".to_vec();
    for _ in 0..n {
        xml.extend_from_slice(b"<si><t>a</t></si>");
    }
    xml.extend_from_slice(b"</sst>");
    xml
}

/// `cells` number cells `1`, 16 to a row.
fn tiny_cells(cells: u64) -> Vec<u8> {
    let mut xml = Vec::new();
    for i in 0..cells {
        if i % 16 == 0 {
            xml.extend_from_slice(b"<row>");
        }
        xml.extend_from_slice(b"<c><v>1</v></c>");
        if i % 16 == 15 || i + 1 == cells {
            xml.extend_from_slice(b"</row>");
        }
    }
    xml
}

/// The workbook of case `name`, and whether it is read (`true`) or refused.
fn case(name: &str) -> (Vec<u8>, bool) {
    match name {
        // A1 and XFD1048576: a dense read allocates 17 billion cells.
        "far_apart" => (
            workbook(br#"<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#, b""),
            false,
        ),
        // IV1 and IV1048576: within the columns, a used range of 268 million cells.
        "far_below" => (
            workbook(br#"<row r="1"><c r="IV1"><v>1</v></c></row><row r="1048576"><c r="IV1048576"><v>1</v></c></row>"#, b""),
            false,
        ),
        // 16 million empty cells (64 MiB of `<c/>`), nothing else: no sheet with a cell.
        "empty_cells" => {
            let mut rows = b"<row>".to_vec();
            rows.extend(b"<c/>".repeat(16 << 20));
            rows.extend_from_slice(b"</row>");
            (workbook(&rows, b""), false)
        }
        // As many tiny cells as a sheet may hold (8,388,608), and one more.
        "max_cells" => (workbook(&tiny_cells(WORKBOOK_MAX_CELLS), b""), true),
        "too_many_cells" => (workbook(&tiny_cells(WORKBOOK_MAX_CELLS + 1), b""), false),
        // As many shared strings as a workbook may hold (2,097,152), and one more.
        "max_shared_strings" => (
            workbook(br#"<row><c t="s"><v>0</v></c></row>"#, &shared_strings(WORKBOOK_MAX_SHARED_STRINGS)),
            true,
        ),
        "too_many_shared_strings" => (
            workbook(br#"<row><c t="s"><v>0</v></c></row>"#, &shared_strings(WORKBOOK_MAX_SHARED_STRINGS + 1)),
            false,
        ),
        // One shared string of 1 MiB named by as many cells as the text limit allows (127 of
        // 128 MiB), and by many more.
        "max_text" | "too_much_text" => {
            let mut shared = b"<sst><si><t>".to_vec();
            shared.extend(b"x".repeat(1 << 20));
            shared.extend_from_slice(b"</t></si></sst>");
            let named = if name == "max_text" { (WORKBOOK_MAX_TEXT_BYTES >> 20) - 1 } else { 100_000 };
            let mut rows = Vec::new();
            for _ in 0..named {
                rows.extend_from_slice(br#"<row><c t="s"><v>0</v></c></row>"#);
            }
            (workbook(&rows, &shared), name == "max_text")
        }
        _ => panic!("no case {name}"),
    }
}

/// In the child: reads the case's workbook and prints `growth KiB, read, message`.
#[test]
fn child() {
    let Ok(name) = std::env::var(CASE) else {
        return;
    };
    let (book, _) = case(&name);
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS:");
    let result = parse_file_in("S.xlsx", &book, &DateWindow::unbounded());
    let peak = status_kib("VmHWM:");
    // Read means the sheet became CSV: any refusal but one of the workbook itself (these
    // sheets have no header a registry file has, so the CSV is refused by its header).
    let (read, message) = match &result {
        Ok(_) => (true, String::new()),
        Err(e) => (
            e.errors[0].column != "workbook",
            e.errors[0].message.clone(),
        ),
    };
    println!("MEMORY {} {read} {message}", peak.saturating_sub(before));
}

/// Runs case `name` in a child and returns its peak growth in MiB, after checking it was read
/// or refused as expected.
fn measure(name: &str) -> u64 {
    let started = std::time::Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE, name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("MEMORY ").map(|(_, m)| m))
        .unwrap_or_else(|| panic!("{name}: {stdout}"));
    let mut parts = line.splitn(3, ' ');
    let kib: u64 = parts.next().unwrap().parse().unwrap();
    let read: bool = parts.next().unwrap().parse().unwrap();
    // The header refusal repeats the header cells; a megabyte of one is not worth printing.
    let message: String = parts.next().unwrap_or("").chars().take(200).collect();
    println!(
        "{name}: + {} MiB peak, {}, in {:.1?} ({message})",
        kib >> 10,
        if read { "read" } else { "refused" },
        started.elapsed()
    );
    assert_eq!(read, case_expects_read(name), "{name}: {message}");
    kib >> 10
}

fn case_expects_read(name: &str) -> bool {
    matches!(name, "max_cells" | "max_shared_strings" | "max_text")
}

#[test]
fn a_tiny_workbook_describing_a_huge_sheet_is_refused_in_little_memory() {
    for name in ["far_apart", "far_below", "empty_cells"] {
        let growth = measure(name);
        assert!(growth < 16, "{name}: + {growth} MiB");
    }
}

#[test]
fn millions_of_tiny_cells_or_shared_strings_stay_within_a_bounded_memory() {
    for (name, bound) in [
        ("max_cells", 512),
        ("too_many_cells", 512),
        ("max_shared_strings", 256),
        ("too_many_shared_strings", 16),
        ("max_text", 512),
        ("too_much_text", 512),
    ] {
        let growth = measure(name);
        assert!(growth < bound, "{name}: + {growth} MiB");
    }
}
