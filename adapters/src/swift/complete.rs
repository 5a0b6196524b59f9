//! Is a statement whole? The mandatory fields of MT940/MT942, checked when a statement
//! ends, and the account line (`:25:`) that must not open a second statement in the middle
//! of one.
//!
//! A statement without its closing balance is the shape of a file cut short (a half-written
//! inbox file): it is refused (error diagnostic) and marked [`Statement::incomplete`], so
//! that, where a partner's bank is known to leave the balance out and the operator
//! tolerates it ([`crate::Tolerance`]), the store can let a later complete delivery of the
//! same statement supersede it.
//!
//! [`Statement::incomplete`]: schemas::Statement::incomplete

use schemas::{msg, Level, Msg, StatementKind};

use super::{Builder, Current};
use crate::{ParseError, Tolerance};

/// Characters of a misplaced field quoted in an error: enough to recognise it (`166?00GUTSCHRIFT`),
/// not enough to copy a counterparty's details into logs.
const QUOTED_CHARS: usize = 16;

impl Builder {
    /// Diagnostics for the mandatory fields `c` lacks; marks it incomplete when its closing
    /// balance is missing (MT940 only: an MT942 has no closing balance).
    pub(super) fn check_mandatory(&mut self, c: &mut Current) {
        let (start, end) = (c.line, c.last_line);
        let s = &mut c.statement;
        let eod = self.kind == StatementKind::EndOfDay;
        if s.statement_id.is_some()
            && !s.account.is_empty()
            && (!eod || (s.opening_balance.is_some() && s.closing_balance.is_some()))
        {
            // The common case: nothing to say, nothing allocated.
            return;
        }
        let name = match &s.statement_id {
            Some(id) => msg!(
                "对账单 '{id}'（第 {start} 行）",
                "statement '{id}' (line {start})"
            ),
            None => msg!("第 {start} 行起的对账单", "the statement at line {start}"),
        };
        let message = match self.kind {
            StatementKind::Intraday => "MT942",
            _ => "MT940",
        };
        if s.statement_id.is_none() {
            self.diag(
                Level::Error,
                start,
                "20",
                Msg::new(
                    format!("{}缺少交易参考号 :20:（{message} 的必备字段）", name.zh),
                    format!(
                        "{} has no transaction reference :20: (mandatory in {message})",
                        name.en
                    ),
                ),
            );
        }
        if s.account.is_empty() {
            self.diag(
                Level::Error,
                start,
                "25",
                Msg::new(
                    format!("{}未写明账号：:25: 是 {message} 的必备字段", name.zh),
                    format!(
                        "{} names no account: :25: is mandatory in {message}",
                        name.en
                    ),
                ),
            );
        }
        if !eod {
            return;
        }
        if s.opening_balance.is_none() {
            let (level, tail) = tolerance_words(
                self.tolerate_no_opening,
                Tolerance::Mt940NoOpeningBalance,
                Msg::default(),
            );
            self.diag(
                level,
                start,
                "60F",
                Msg::new(
                    format!(
                        "{}缺少期初余额 :60F:（MT940 的必备字段）{}",
                        name.zh, tail.zh
                    ),
                    format!(
                        "{} has no opening balance :60F: (mandatory in MT940){}",
                        name.en, tail.en
                    ),
                ),
            );
        }
        if s.closing_balance.is_none() {
            s.incomplete = true;
            let entries = s.entries.len();
            let (level, tail) = tolerance_words(
                self.tolerate_no_closing,
                Tolerance::Mt940NoClosingBalance,
                msg!(
                    "；已标记为不完整，此后同一对账单的完整文件到达时将取代它",
                    "; marked incomplete, so a later complete delivery of this statement supersedes it"
                ),
            );
            self.diag(
                level,
                end,
                "62F",
                Msg::new(
                    format!(
                        "{}在第 {end} 行的字段之后中断，缺少期末余额 :62F:（MT940 的必备字段）：\
                         文件可能被截断，其中的 {entries} 笔明细可能只是前一部分{}",
                        name.zh, tail.zh
                    ),
                    format!(
                        "{} stops after the field at line {end}, without its closing balance \
                         :62F: (mandatory in MT940): the file may have been cut short, its {entries} \
                         entries may be only the first part{}",
                        name.en, tail.en
                    ),
                ),
            );
        }
    }

    /// The account of a `:25:` field, or an error when the field cannot be one: inside a
    /// statement's entries before its closing balance (a broken statement, which would
    /// otherwise become a fake second statement), or holding `:86:`-style `?NN` subfields.
    pub(super) fn account_line(
        &self,
        value: &str,
        line: u64,
        tag: &str,
    ) -> Result<String, ParseError> {
        let account = value.lines().next().unwrap_or("").trim();
        let quoted = || {
            let mut q: String = account.chars().take(QUOTED_CHARS).collect();
            if q.len() < account.len() {
                q.push('…');
            }
            q
        };
        if has_subfield_marks(account) {
            return Err(self.err(
                line,
                tag,
                msg!(
                    "账号字段 :25: 的内容是 '{}'，带有 :86: 附言的 ?NN 子字段，不是账号：\
                     对账单已损坏（某个字段丢失了标签）",
                    "the account line :25: reads '{}', which has the ?NN subfields of :86: \
                     details, not an account: the statement is broken (a field lost its tag)",
                    quoted()
                ),
            ));
        }
        // An MT942 has no closing balance: its next account may follow its entries.
        let mid_statement = self.cur.as_ref().filter(|c| {
            self.kind == StatementKind::EndOfDay
                && !c.statement.entries.is_empty()
                && c.statement.closing_balance.is_none()
        });
        if let Some(c) = mid_statement {
            // Only a bank known to leave out closing balances may start the next account's
            // statement this way; otherwise the statement is broken.
            if !self.tolerate_no_closing {
                return Err(self.err(
                    line,
                    tag,
                    msg!(
                        "第 {} 行起的对账单在期末余额 :62F: 之前、交易明细之后出现了账号字段 \
                         :25:：对账单已损坏（字段位置错误），而不是第二份对账单",
                        "an account line :25: follows the statement lines of the statement that \
                         began at line {}, before its closing balance :62F:: the statement is \
                         broken (a field in the wrong place), not a second statement",
                        c.line
                    ),
                ));
            }
        }
        Ok(account.to_string())
    }
}

/// `?` followed by two digits, as in `166?00GUTSCHRIFT?20...`.
fn has_subfield_marks(s: &str) -> bool {
    let b = s.as_bytes();
    memchr::memchr_iter(b'?', b).any(|i| {
        b.get(i + 1).is_some_and(u8::is_ascii_digit) && b.get(i + 2).is_some_and(u8::is_ascii_digit)
    })
}

/// The level of a missing mandatory balance, and the words that say why it is what it is.
fn tolerance_words(tolerated: bool, t: Tolerance, marked: Msg) -> (Level, Msg) {
    if tolerated {
        (
            Level::Warning,
            Msg::new(
                format!("；该合作方已配置容忍此项（容忍项 '{t}'）{}", marked.zh),
                format!("; accepted for this partner (tolerance '{t}'){}", marked.en),
            ),
        )
    } else {
        (
            Level::Error,
            msg!(
                "；如果该银行一贯不报送此字段，可在合作方配置中容忍 '{t}'",
                "; if this bank always leaves it out, the partner can be configured to \
                 tolerate '{t}'"
            ),
        )
    }
}
