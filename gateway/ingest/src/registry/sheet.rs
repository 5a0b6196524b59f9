//! How much a workbook may make the reader hold, and reading its sheet without trusting the
//! coordinates it declares. The inflate bound ([`super::inflate`]) caps the bytes, not what
//! they describe: 20 bytes of XML can put a cell at XFD1048576, and a reader that builds the
//! sheet as a dense grid (calamine's `worksheet_range` does) then allocates 1.7e10 cells
//! beside one at A1 — the process aborts on a 2 KB upload. Measured at the inflate bound
//! before these limits (calamine 0.30, 250 MiB of XML each): a sheet of 17 million tiny
//! number cells took 1.2 GB, 15 million shared strings 0.8 GB, and the number formats,
//! relationships, sheet and name lists calamine reads whole when it opens a workbook 0.8–1 GB
//! each.
//!
//! So the sheet is read cell by cell (calamine's streaming cell reader) into a compact list of
//! the cells that hold something, refused as soon as a cell lies beyond the limits below, and
//! the CSV is written from that list; a cell far from the others costs nothing for the gap
//! until the used range it makes is checked, which happens before anything of its size is
//! allocated. The parts calamine reads whole when it opens the workbook are counted first, as
//! they stream, and refused beyond a count no real workbook reaches.

use std::io::{BufReader, Cursor, Read, Seek};
use std::panic::AssertUnwindSafe;

use calamine::{DataRef, Reader, Xlsx, XlsxError};
use quick_xml::events::Event;

use super::{column_letters, excel_date, excel_number, Msg, EXCEL_EXACT};

/// The rightmost column a registry sheet may use: 256 (IV, the last column of the old .xls
/// format). A pay sheet has a few dozen columns; Excel allows 16,384.
pub const WORKBOOK_MAX_COLUMNS: u32 = 256;

/// The last row a sheet may use: 1,048,576, the last row of an Excel sheet. A cell below it
/// was not written by Excel.
pub const WORKBOOK_MAX_ROWS: u32 = 1_048_576;

/// The most cells with content the sheet read may hold: 8,388,608. A pay sheet of 300,000 rows
/// of a dozen cells has 3.6 million.
pub const WORKBOOK_MAX_CELLS: u64 = 8 << 20;

/// The most cells the used range of the sheet read may span — the rows from the first used to
/// the last used, times the columns from A to the last used: 16,777,216 (300,000 rows of 55
/// columns). This is the number of fields of the CSV the sheet is read as, so it bounds the
/// empty space between cells far apart.
pub const WORKBOOK_MAX_RANGE_CELLS: u64 = 16 << 20;

/// The most text the cells of the sheet read may hold together: 128 MiB. A pay sheet of
/// 300,000 rows of a dozen cells holds about 40 MiB; the bound matters because one long
/// shared string can be named by millions of cells.
pub const WORKBOOK_MAX_TEXT_BYTES: u64 = 128 << 20;

/// The most shared strings a workbook may hold: 2,097,152. The names, ID and card numbers of
/// 300,000 workers are under a million.
pub const WORKBOOK_MAX_SHARED_STRINGS: u64 = 2 << 20;

/// The most entries each of the other parts read whole may list — number and cell formats
/// (styles), sheets and defined names (workbook), relationships: 65,536. Excel itself allows
/// 64,000 cell formats; a workbook has a few dozen of each.
pub const WORKBOOK_MAX_PART_ENTRIES: u64 = 64 << 10;

/// The limits [`first_sheet_as_csv`] applies; the tests lower them to keep crafted sheets small.
#[derive(Debug, Clone, Copy)]
pub(super) struct SheetLimits {
    pub max_columns: u32,
    pub max_rows: u32,
    pub max_cells: u64,
    pub max_range_cells: u64,
    pub max_text_bytes: u64,
    pub max_shared_strings: u64,
    pub max_part_entries: u64,
}

impl SheetLimits {
    pub(super) const DEFAULT: SheetLimits = SheetLimits {
        max_columns: WORKBOOK_MAX_COLUMNS,
        max_rows: WORKBOOK_MAX_ROWS,
        max_cells: WORKBOOK_MAX_CELLS,
        max_range_cells: WORKBOOK_MAX_RANGE_CELLS,
        max_text_bytes: WORKBOOK_MAX_TEXT_BYTES,
        max_shared_strings: WORKBOOK_MAX_SHARED_STRINGS,
        max_part_entries: WORKBOOK_MAX_PART_ENTRIES,
    };
}

// Cell text is addressed by `u32` offsets, and a column is kept in a `u16`.
const _: () = assert!(WORKBOOK_MAX_TEXT_BYTES < u32::MAX as u64);
const _: () = assert!(WORKBOOK_MAX_COLUMNS <= u16::MAX as u32 + 1);

/// `n` with thousands separators: 8,388,608.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A cell's name as Excel writes it, from 0-based coordinates: (0, 0) is A1.
fn cell_name(row: u32, col: u32) -> String {
    format!("{}{}", column_letters(col as usize), u64::from(row) + 1)
}

fn unreadable(e: &dyn std::fmt::Display) -> Msg {
    Msg::new(
        "无法读取 Excel 工作簿（.xlsx）：文件已损坏或不是 .xlsx 格式",
        format!("not a readable Excel workbook (.xlsx): {e}"),
    )
}

/// The parts calamine reads whole when it opens a workbook, what each lists, and what an
/// operator calls those entries.
const PARTS: [(&str, &[&[u8]], &str, &str); 4] = [
    (
        "xl/sharedStrings.xml",
        &[b"si"],
        "个共享字符串",
        "shared strings",
    ),
    (
        "xl/styles.xml",
        &[b"numFmt", b"xf"],
        "个数字格式和单元格格式",
        "number and cell formats",
    ),
    (
        "xl/workbook.xml",
        &[b"sheet", b"definedName"],
        "个工作表和名称",
        "sheets and defined names",
    ),
    (
        "xl/_rels/workbook.xml.rels",
        &[b"Relationship"],
        "个关系",
        "relationships",
    ),
];

/// Counts, as they stream, the entries of every part calamine reads whole, and refuses a part
/// that lists more than the limit. A part is found as calamine finds it (its path, any case,
/// `\` read as `/`), and read with the XML settings calamine reads it with, so both see the
/// same elements; XML calamine cannot read either stops the count and is left to calamine.
fn check_parts(bytes: &[u8], limits: &SheetLimits) -> Result<(), Msg> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| unreadable(&e))?;
        let path = entry.name().replace('\\', "/");
        let Some((part, elements, what_zh, what_en)) = PARTS
            .iter()
            .find(|(part, ..)| part.eq_ignore_ascii_case(&path))
        else {
            continue;
        };
        let limit = if *part == PARTS[0].0 {
            limits.max_shared_strings
        } else {
            limits.max_part_entries
        };
        let mut xml = quick_xml::Reader::from_reader(BufReader::new(entry));
        let config = xml.config_mut();
        config.check_end_names = false;
        config.trim_text(false);
        config.check_comments = false;
        config.expand_empty_elements = true;
        let mut buf = Vec::with_capacity(1024);
        let mut count: u64 = 0;
        loop {
            buf.clear();
            match xml.read_event_into(&mut buf) {
                Ok(Event::Start(e)) if elements.contains(&e.local_name().as_ref()) => {
                    count += 1;
                    if count > limit {
                        return Err(Msg::new(
                            format!(
                                "工作簿的 {path} 含超过 {} {what_zh}；正常的工作簿远少于此，\
                                 请检查文件，或用 Excel 另存后再导入",
                                grouped(limit)
                            ),
                            format!(
                                "the workbook's {path} lists more than {} {what_en}; a real \
                                 workbook has far fewer: check the file, or save it again with \
                                 Excel",
                                grouped(limit)
                            ),
                        ));
                    }
                }
                Ok(Event::Eof) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    Ok(())
}

/// A cell with content: where it is, whether it is a number too long for Excel to have kept,
/// and where its text is in [`UsedCells::text`]. 16 bytes.
#[derive(Debug, Clone, Copy)]
struct Cell {
    row: u32,
    col: u16,
    too_long: bool,
    start: u32,
    end: u32,
}

/// The cells with content of one sheet, as read, and the bounds of their used range.
#[derive(Default)]
struct UsedCells {
    text: String,
    cells: Vec<Cell>,
    top: u32,
    bottom: u32,
    right: u32,
}

impl UsedCells {
    /// Adds a cell read from sheet `sheet` at 0-based (`row`, `col`), or says which limit it
    /// crosses; checked before anything of the cell is kept.
    fn push(
        &mut self,
        sheet: &str,
        (row, col): (u32, u32),
        value: &DataRef<'_>,
        limits: &SheetLimits,
    ) -> Result<(), Msg> {
        let cell = || cell_name(row, col);
        if col >= limits.max_columns {
            let last = column_letters(limits.max_columns as usize - 1);
            return Err(Msg::new(
                format!(
                    "工作表 {sheet} 的 {} 单元格超出了最后允许的 {last} 列（第 {} 列）；工资表或花名册\
                     用不到这么多列，请删除该单元格，或把内容移到左边的列",
                    cell(),
                    limits.max_columns
                ),
                format!(
                    "sheet {sheet}, cell {}: beyond column {last} (column {}), the last a \
                     registry sheet may use; no pay sheet or roster has that many columns: \
                     delete the cell, or move its content to the left",
                    cell(),
                    limits.max_columns
                ),
            ));
        }
        if row >= limits.max_rows {
            return Err(Msg::new(
                format!(
                    "工作表 {sheet} 的 {} 单元格超出了第 {} 行，而 Excel 工作表最多只有这么多行；\
                     文件不是 Excel 保存的，或已损坏",
                    cell(),
                    grouped(limits.max_rows.into())
                ),
                format!(
                    "sheet {sheet}, cell {}: below row {}, the last row an Excel sheet has; the \
                     file was not saved by Excel, or is damaged",
                    cell(),
                    grouped(limits.max_rows.into())
                ),
            ));
        }
        let (top, bottom, right) = if self.cells.is_empty() {
            (row, row, col)
        } else {
            (self.top.min(row), self.bottom.max(row), self.right.max(col))
        };
        let range_cells = u64::from(bottom - top + 1) * (u64::from(right) + 1);
        if range_cells > limits.max_range_cells {
            let limit = grouped(limits.max_range_cells);
            let (from, to) = (cell_name(top, 0), cell_name(bottom, right));
            return Err(Msg::new(
                format!(
                    "工作表 {sheet} 的已用区域 {from}:{to} 超过 {limit} 个单元格（在 {} 单元格处超出）；\
                     多半是远离其他内容的单元格：请删除它，或把工作表拆分为几个工作簿分别导入",
                    cell()
                ),
                format!(
                    "sheet {sheet}: the used range {from}:{to} spans more than {limit} cells \
                     (exceeded at cell {}); most likely a cell far from the rest: delete it, or \
                     split the sheet into several workbooks",
                    cell()
                ),
            ));
        }
        if self.cells.len() as u64 >= limits.max_cells {
            let limit = grouped(limits.max_cells);
            return Err(Msg::new(
                format!(
                    "工作表 {sheet} 有内容的单元格超过 {limit} 个（在 {} 单元格处超出）；\
                     请把工作表拆分为几个工作簿分别导入",
                    cell()
                ),
                format!(
                    "sheet {sheet} holds more than {limit} cells with content (exceeded at \
                     cell {}); split the sheet into several workbooks",
                    cell()
                ),
            ));
        }
        let owned;
        let text: &str = match value {
            DataRef::Empty => "",
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s,
            DataRef::SharedString(s) => s,
            DataRef::Float(f) => {
                owned = excel_number(*f);
                &owned
            }
            DataRef::Int(i) => {
                owned = i.to_string();
                &owned
            }
            DataRef::Bool(b) => {
                owned = b.to_string();
                &owned
            }
            DataRef::DateTime(d) => {
                owned = excel_date(d.as_f64());
                &owned
            }
            // As Excel shows it: `#DIV/0!`, `#N/A`, `#VALUE!` …
            DataRef::Error(e) => {
                owned = e.to_string();
                &owned
            }
        };
        if (self.text.len() + text.len()) as u64 > limits.max_text_bytes {
            let limit = super::inflate::size_text(limits.max_text_bytes);
            return Err(Msg::new(
                format!(
                    "工作表 {sheet} 单元格中的文字超过 {limit}（在 {} 单元格处超出）；\
                     请把工作表拆分为几个工作簿分别导入",
                    cell()
                ),
                format!(
                    "the cells of sheet {sheet} hold more than {limit} of text (exceeded at \
                     cell {}); split the sheet into several workbooks",
                    cell()
                ),
            ));
        }
        let start = self.text.len() as u32;
        // A line break inside a cell becomes a space, keeping rows and lines aligned (one
        // byte for one, so the text's length is what was checked).
        if matches!(value, DataRef::String(_) | DataRef::SharedString(_)) {
            self.text.extend(
                text.chars()
                    .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
            );
        } else {
            self.text.push_str(text);
        }
        self.cells.push(Cell {
            row,
            col: col as u16,
            too_long: matches!(value, DataRef::Float(f) if f.abs() >= EXCEL_EXACT),
            start,
            end: self.text.len() as u32,
        });
        (self.top, self.bottom, self.right) = (top, bottom, right);
        Ok(())
    }

    /// The cells in the order they were sorted into, of two at the same place the later.
    fn kept(&self) -> impl Iterator<Item = &Cell> {
        self.cells
            .iter()
            .zip(self.cells.iter().skip(1).map(Some).chain([None]))
            .filter(|(c, n)| n.is_none_or(|n| (n.row, n.col) != (c.row, c.col)))
            .map(|(c, _)| c)
    }

    /// The sheet as CSV text, one line per spreadsheet row from row 1 (rows above the used
    /// range are empty lines), every line with a field for each column from A to the last
    /// used; or the refusal of the first number cell (in row order) too long for Excel to
    /// have kept.
    fn into_csv(mut self, sheet: &str) -> Result<String, Msg> {
        // Excel writes cells in row order; another writer may not. Sorted stably, so of two
        // cells at the same place the later in the file is kept, as a dense read keeps it.
        if !self.cells.is_sorted_by_key(|c| (c.row, c.col)) {
            self.cells.sort_by_key(|c| (c.row, c.col));
        }
        if let Some(c) = self.kept().find(|c| c.too_long) {
            let cell = cell_name(c.row, c.col.into());
            return Err(Msg::new(
                format!(
                    "工作表 {sheet} 的 {cell} 单元格是超过 15 位的数字，而 Excel 只保留 \
                     15 位（身份证号或银行卡号按数字输入会丢失末尾几位）；请把该列设为\
                     文本格式，再重新输入这些号码"
                ),
                format!(
                    "sheet {sheet}, cell {cell}: a number of more than 15 digits, and \
                     Excel keeps only 15 (an ID or card number typed as a number loses \
                     its last digits); format the column as text and type the numbers \
                     again"
                ),
            ));
        }
        let rows = (self.bottom - self.top + 1) as usize;
        let fields = rows * (self.right as usize + 1);
        let mut out = String::with_capacity(self.top as usize + fields + self.text.len());
        for _ in 0..self.top {
            out.push('\n');
        }
        let mut next = self.kept().peekable();
        for row in self.top..=self.bottom {
            for col in 0..=self.right {
                if col > 0 {
                    out.push(',');
                }
                if let Some(c) = next.next_if(|c| c.row == row && u32::from(c.col) == col) {
                    let text = &self.text[c.start as usize..c.end as usize];
                    if text.contains([',', '"']) {
                        out.push('"');
                        out.push_str(&text.replace('"', "\"\""));
                        out.push('"');
                    } else {
                        out.push_str(text);
                    }
                }
            }
            out.push('\n');
        }
        Ok(out)
    }
}

/// The cells with content of sheet `name`, or `None` when it has none or is not a worksheet
/// (a chart sheet).
fn used_cells<RS: Read + Seek>(
    book: &mut Xlsx<RS>,
    name: &str,
    limits: &SheetLimits,
) -> Result<Option<UsedCells>, Msg> {
    let sheet_error = |e: &XlsxError| {
        Msg::new(
            format!("无法读取工作表 {name}"),
            format!("sheet {name}: {e}"),
        )
    };
    let mut reader = match book.worksheet_cells_reader(name) {
        Ok(reader) => reader,
        Err(XlsxError::NotAWorksheet(_)) => return Ok(None),
        Err(e) => return Err(sheet_error(&e)),
    };
    let mut used = UsedCells::default();
    while let Some(cell) = reader.next_cell().map_err(|e| sheet_error(&e))? {
        if !matches!(cell.get_value(), DataRef::Empty) {
            used.push(name, cell.get_position(), cell.get_value(), limits)?;
        }
    }
    Ok((!used.cells.is_empty()).then_some(used))
}

/// The first sheet with any cell of an XLSX workbook, read within `limits`, as its name and
/// CSV text (see `xlsx_as_csv`). calamine's reader panics on some malformed input (a cell
/// reference whose row number overflows, in a build with overflow checks); that is caught
/// and refused as an unreadable workbook rather than taking the thread down.
pub(super) fn first_sheet_as_csv(
    bytes: &[u8],
    limits: &SheetLimits,
) -> Result<(String, String), Msg> {
    check_parts(bytes, limits)?;
    std::panic::catch_unwind(AssertUnwindSafe(|| read_first_sheet(bytes, limits)))
        .unwrap_or_else(|_| Err(unreadable(&"a malformed cell reference or value")))
}

fn read_first_sheet(bytes: &[u8], limits: &SheetLimits) -> Result<(String, String), Msg> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e: XlsxError| unreadable(&e))?;
    for name in book.sheet_names() {
        if let Some(used) = used_cells(&mut book, &name, limits)? {
            let csv = used.into_csv(&name)?;
            return Ok((name, csv));
        }
    }
    Err(Msg::new(
        "工作簿中没有任何有内容的工作表",
        "the workbook has no sheet with any cell",
    ))
}
