//! How far an uploaded workbook may inflate. An .xlsx is a ZIP archive: a 2 MB upload whose
//! sheet XML is a deflated run of one repeated byte can inflate to gigabytes, and calamine
//! would read it whole. Before calamine opens a workbook, every entry is inflated once through
//! a counting reader that stops one byte past what is left of the limit, so a central directory
//! that declares small sizes (a lying header) is caught by the bytes themselves; the declared
//! sizes are checked first only because that refuses an honest giant without inflating it.
//!
//! The archive is read with the `zip` crate of the same version calamine reads it with, so both
//! see the same entries.

use std::io::{self, Cursor, Read};

use super::Msg;

/// The most bytes all entries of a workbook may inflate to together: 256 MiB. A pay sheet of
/// 300,000 rows of a dozen cells is about 150 MiB of sheet XML and 30 MiB of shared strings.
pub const WORKBOOK_MAX_INFLATED_BYTES: u64 = 256 << 20;

/// The most entries a workbook may hold: 4,096. A workbook has a dozen, and two or three more
/// for each sheet.
pub const WORKBOOK_MAX_ENTRIES: usize = 4096;

/// The limits [`check`] applies; the tests lower them to keep crafted archives small.
#[derive(Debug, Clone, Copy)]
pub(super) struct InflateLimits {
    pub max_inflated_bytes: u64,
    pub max_entries: usize,
}

impl InflateLimits {
    pub(super) const DEFAULT: InflateLimits = InflateLimits {
        max_inflated_bytes: WORKBOOK_MAX_INFLATED_BYTES,
        max_entries: WORKBOOK_MAX_ENTRIES,
    };
}

/// `n` bytes as an operator reads a limit: `256 MiB`, or bytes when not a whole MiB.
pub(super) fn size_text(n: u64) -> String {
    // A whole number of MiB: its low 20 bits are zero.
    if n >= 1 << 20 && n.trailing_zeros() >= 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// The workbook read as a ZIP archive and every entry inflated within `limits`, or why not.
pub(super) fn check(bytes: &[u8], limits: InflateLimits) -> Result<(), Msg> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Msg::new(
            "无法读取 Excel 工作簿（.xlsx）：文件已损坏或不是 .xlsx 格式",
            format!("not a readable Excel workbook (.xlsx): {e}"),
        )
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let limit = size_text(limits.max_inflated_bytes);
    if archive.len() > limits.max_entries {
        return Err(Msg::new(
            format!(
                "工作簿（ZIP 压缩包）含 {} 个条目，超过上限 {} 个；正常的工作簿只有几十个",
                archive.len(),
                limits.max_entries
            ),
            format!(
                "the workbook (a ZIP archive) holds {} entries, more than the limit of {}; \
                 a real workbook has a few dozen",
                archive.len(),
                limits.max_entries
            ),
        ));
    }
    let too_big = |entry: &str| {
        Msg::new(
            format!(
                "工作簿解压后超过 {limit}（在条目 {entry} 处超出）；工资表或花名册不会这么大，\
                 请检查文件，或拆分为几个工作簿分别导入"
            ),
            format!(
                "the workbook inflates to more than {limit} (exceeded at entry {entry}); no pay \
                 sheet or roster is that large: check the file, or split it into several \
                 workbooks"
            ),
        )
    };
    // What the central directory declares, before inflating anything.
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| unreadable(&e))?;
        declared = declared.saturating_add(entry.size());
        if declared > limits.max_inflated_bytes {
            return Err(too_big(entry.name()));
        }
    }
    // What the entries really inflate to, counted, never more than one byte past the limit.
    let mut left = limits.max_inflated_bytes;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| unreadable(&e))?;
        let name = entry.name().to_string();
        let read =
            io::copy(&mut entry.take(left + 1), &mut io::sink()).map_err(|e| unreadable(&e))?;
        if read > left {
            return Err(too_big(&name));
        }
        left -= read;
    }
    Ok(())
}
