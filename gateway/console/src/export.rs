//! Findings exports: CSV (UTF-8 with a BOM, so Excel on Chinese Windows reads it) and XLSX,
//! with the same columns and headers as [`crate::i18n::EXPORT_COLUMNS`].

use rust_xlsxwriter::{Format, Workbook};
use schemas::StoredFinding;

use crate::data::ProjectInfo;
use crate::i18n::{self, Lang, EXPORT_COLUMNS};

/// One finding as exported: every cell as text, except the amount (exact yuan, from fen).
#[derive(Debug, Clone)]
pub struct Row {
    pub cells: Vec<String>,
    /// The amount in fen (written to XLSX as a number of yuan with two decimals).
    pub amount_fen: i64,
}

impl Row {
    pub fn new(sf: &StoredFinding, project: Option<&ProjectInfo>, lang: Lang) -> Row {
        let f = &sf.finding;
        let cells = EXPORT_COLUMNS
            .iter()
            .map(|c| match *c {
                "id" => f.id.clone(),
                "severity" => i18n::severity_label(f.severity, lang).to_string(),
                "status" => i18n::status_label(sf.status, lang).to_string(),
                "code" => i18n::code_label(f.code, lang).to_string(),
                "code_id" => f.code.as_str().to_string(),
                "project" => f.project.clone(),
                "project_name" => project.map(|p| p.name.clone()).unwrap_or_default(),
                "contractor" => project.map(|p| p.contractor.clone()).unwrap_or_default(),
                "period" => f.period.clone(),
                "amount" => plain_amount(f.amount_short.fen()),
                "due" => f.due_date.map(|d| d.to_string()).unwrap_or_default(),
                "first_seen" => i18n::cst(sf.first_seen),
                "updated" => i18n::cst(sf.updated_at),
                "summary" => i18n::summary(f, project.map(|p| p.name.as_str()), lang),
                "basis" => i18n::basis(f.code, lang).to_string(),
                "reason" => sf.status_reason.clone().unwrap_or_default(),
                _ => String::new(),
            })
            .collect();
        Row {
            cells,
            amount_fen: f.amount_short.fen(),
        }
    }
}

/// `1234.56` (no grouping, for spreadsheets and CSV), exact from fen.
pub fn plain_amount(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// The header row.
pub fn headers(lang: Lang) -> Vec<&'static str> {
    EXPORT_COLUMNS
        .iter()
        .map(|c| i18n::header(c, lang))
        .collect()
}

/// CSV bytes: a UTF-8 BOM, the header row, one row per finding.
pub fn csv(rows: &[Row], lang: Lang) -> anyhow::Result<Vec<u8>> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv_writer(&mut out);
        w.push_row(&headers(lang));
        for r in rows {
            w.push_row(&r.cells);
        }
    }
    Ok(out)
}

/// A minimal RFC 4180 writer (quotes when needed), so the console needs no CSV crate.
struct CsvWriter<'a> {
    out: &'a mut Vec<u8>,
}

fn csv_writer(out: &mut Vec<u8>) -> CsvWriter<'_> {
    CsvWriter { out }
}

impl CsvWriter<'_> {
    fn push_row<S: AsRef<str>>(&mut self, cells: &[S]) {
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let c = c.as_ref();
            if c.contains([',', '"', '\n', '\r']) {
                self.out.push(b'"');
                self.out.extend(c.replace('"', "\"\"").as_bytes());
                self.out.push(b'"');
            } else {
                self.out.extend(c.as_bytes());
            }
        }
        self.out.extend(b"\r\n");
    }
}

/// XLSX bytes: one sheet 预警 (Findings), a bold header row, amounts as numbers with two
/// decimals, the header row frozen.
pub fn xlsx(rows: &[Row], lang: Lang) -> anyhow::Result<Vec<u8>> {
    let mut wb = Workbook::new();
    findings_sheet(&mut wb, rows, lang)?;
    Ok(wb.save_to_buffer()?)
}

/// Adds the findings sheet (预警 / Findings) to a workbook.
pub fn findings_sheet(wb: &mut Workbook, rows: &[Row], lang: Lang) -> anyhow::Result<()> {
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let ws = wb.add_worksheet();
    ws.set_name(lang.pick("预警", "Findings"))?;
    let amount_col = EXPORT_COLUMNS
        .iter()
        .position(|c| *c == "amount")
        .expect("amount is an export column");
    for (c, h) in headers(lang).iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = u32::try_from(i + 1)?;
        for (c, cell) in r.cells.iter().enumerate() {
            if c == amount_col {
                // An f64 holds every fen amount below 2^53 exactly enough for display;
                // the exact text is in the summary column.
                #[allow(clippy::cast_precision_loss)]
                let yuan = r.amount_fen as f64 / 100.0;
                ws.write_number_with_format(row, c as u16, yuan, &money)?;
            } else {
                ws.write_string(row, c as u16, cell)?;
            }
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.set_column_width(0, 26)?;
    Ok(())
}
