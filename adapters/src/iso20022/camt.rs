//! camt.052 / camt.053 / camt.054: statements (`Stmt`), reports (`Rpt`) and notifications
//! (`Ntfctn`) into [`Statement`]s. Paths are matched relative to the innermost open
//! container (statement, balance, entry), by local name.
//!
//! Text is kept borrowed from the input (`Cow`, owned only when it had to be unescaped or
//! transcoded) until an entry or statement is complete; only the values that end up in
//! the canonical record are copied into `String`s then.

use std::borrow::Cow;

use chrono::NaiveDate;
use quick_xml::events::BytesStart;
use schemas::{
    msg, Balance, Direction, Entry, Level, Money, MoneyError, Position, Statement, StatementKind,
};

use super::deviations::{Deviations, Rule};
use super::xml::{self, Tag};
use super::{Diags, Here};
use crate::{Format, ParseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    MsgCreated,
    StmtId,
    ElctrncSeqNb,
    LglSeqNb,
    StmtCreated,
    From,
    To,
    Account,
    AccountCcy,
    BalCode,
    /// `Tp/Cd` without `CdOrPrtry` (a deviation).
    BalCodeBare,
    /// `Tp/CdOrPrtry/Prtry`: read when it holds an ISO code (a deviation).
    BalCodePrtry,
    BalAmount,
    BalInd,
    BalDate,
    /// `Bal/Dt` holding the date itself (a deviation).
    BalDateBare,
    Amount,
    Ind,
    Reversal,
    Booking,
    Value,
    /// `BookgDt` / `ValDt` holding the date itself (deviations).
    BookingBare,
    ValueBare,
    /// `Ntry/Sts` text (versions before .08) and `Ntry/Sts/Cd` (from .08 on).
    Status,
    StatusCode,
    AcctSvcrRef,
    NtryRef,
    BkDomain,
    BkFamily,
    BkSubFamily,
    BkProprietary,
    AddtlNtryInf,
    BatchPmtInfId,
    BatchMsgId,
    EndToEndId,
    TxAcctSvcrRef,
    DbtrName,
    DbtrAccount,
    CdtrName,
    CdtrAccount,
    Ustrd,
    CreditorRef,
}

/// Text borrowed from the input where possible.
type Text<'b> = Option<Cow<'b, str>>;

#[derive(Default)]
pub(super) struct State<'b> {
    /// The message read (set with its version when the message element is met).
    message: Option<Format>,
    /// From the namespace: whether entry status is `<Sts><Cd>` (.08 on) or `<Sts>` text.
    status_has_code: Option<bool>,
    deviations: Deviations,
    msg_created: Option<NaiveDate>,
    /// Statements seen so far (1-based index of the current one, for messages).
    count: usize,
    /// Entries of the previous statement: the next one's vector starts at that capacity.
    last_entries: usize,
    stmt: Option<StmtB<'b>>,
    stmt_depth: usize,
    bal: Option<BalB<'b>>,
    bal_depth: usize,
    ntry: Option<NtryB<'b>>,
    ntry_depth: usize,
}

#[derive(Default)]
struct StmtB<'b> {
    id: Text<'b>,
    electronic_seq: Text<'b>,
    legal_seq: Text<'b>,
    created: Option<NaiveDate>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    account: Text<'b>,
    account_ccy: Text<'b>,
    first_ccy: Option<String>,
    opening: Option<Balance>,
    closing: Option<Balance>,
    entries: Vec<Entry>,
}

#[derive(Default)]
struct BalB<'b> {
    offset: u64,
    code: Text<'b>,
    /// An `Amt` with non-zero digits past the second decimal, and where it is: such a
    /// balance is reported and left out, never rounded (the entries still count).
    excess: Option<(String, Position)>,
    amount: Option<Money>,
    ind: Option<Direction>,
    /// The `Amt` had a minus sign (only meaningful without `CdtDbtInd`).
    negative: bool,
    date: Option<NaiveDate>,
}

#[derive(Default)]
struct NtryB<'b> {
    offset: u64,
    amount: Option<Money>,
    ind: Option<Direction>,
    reversal: bool,
    booking: Option<NaiveDate>,
    value: Option<NaiveDate>,
    acct_svcr_ref: Text<'b>,
    ntry_ref: Text<'b>,
    tx_acct_svcr_ref: Text<'b>,
    /// `Domn/Cd`; `Fmly/Cd` is kept only after it, `SubFmlyCd` only after that; joined
    /// as `PMNT/ICDT/SALA` when the entry is complete.
    domain: Text<'b>,
    family: Text<'b>,
    sub_family: Text<'b>,
    proprietary: Text<'b>,
    addtl: Text<'b>,
    batch_pmtinf: Text<'b>,
    batch_msgid: Text<'b>,
    /// Number of `TxDtls` seen; only the first one's details are kept.
    tx_count: u32,
    e2e: Text<'b>,
    dbtr_name: Text<'b>,
    dbtr_account: Text<'b>,
    cdtr_name: Text<'b>,
    cdtr_account: Text<'b>,
    ustrd: Text<'b>,
    creditor_ref: Text<'b>,
    status: Text<'b>,
}

fn set_once<'b>(slot: &mut Text<'b>, v: Cow<'b, str>) {
    if slot.is_none() && !v.is_empty() {
        *slot = Some(v);
    }
}

fn owned(t: Text<'_>) -> Option<String> {
    t.map(Cow::into_owned)
}

/// At most [`xml::MAX_TEXT_CHARS`] characters; whether it had to cut.
fn bounded(v: Cow<'_, str>) -> (Cow<'_, str>, bool) {
    match v {
        Cow::Borrowed(s) => {
            let (kept, cut) = xml::bounded(s);
            (Cow::Borrowed(kept), cut)
        }
        Cow::Owned(mut s) => {
            let (kept, cut) = xml::bounded(&s);
            let keep = kept.len();
            if cut {
                s.truncate(keep);
            }
            (Cow::Owned(s), cut)
        }
    }
}

impl<'b> State<'b> {
    /// The start of the balance or entry being read, whose position is reported when it
    /// ends.
    pub(super) fn open_offset(&self) -> Option<u64> {
        let bal = self.bal.as_ref().map(|b| b.offset);
        let ntry = self.ntry.as_ref().map(|n| n.offset);
        match (bal, ntry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn start(
        &mut self,
        stack: &[Tag],
        e: &BytesStart<'_>,
        here: &Here<'_>,
    ) -> Result<(), ParseError> {
        let depth = stack.len();
        let Some(&tag) = stack.last() else {
            return Ok(());
        };
        match tag {
            Tag::Stmt | Tag::Rpt | Tag::Ntfctn if self.stmt.is_none() && depth <= 3 => {
                self.stmt = Some(StmtB {
                    entries: Vec::with_capacity(self.last_entries),
                    ..StmtB::default()
                });
                self.stmt_depth = depth;
                self.count += 1;
            }
            Tag::Bal if self.stmt.is_some() && depth == self.stmt_depth + 1 => {
                self.bal = Some(BalB {
                    offset: here.offset,
                    ..BalB::default()
                });
                self.bal_depth = depth;
            }
            Tag::Ntry if self.stmt.is_some() && depth == self.stmt_depth + 1 => {
                self.ntry = Some(NtryB {
                    offset: here.offset,
                    ..NtryB::default()
                });
                self.ntry_depth = depth;
            }
            Tag::TxDtls => {
                if let Some(n) = self.ntry.as_mut() {
                    n.tx_count = n.tx_count.saturating_add(1);
                }
            }
            Tag::Amt => {
                // The currency of the statement, when the account does not state it.
                if let Some(s) = self.stmt.as_mut() {
                    if s.first_ccy.is_none() {
                        if let Ok(Some(a)) = e.try_get_attribute("Ccy") {
                            let v = String::from_utf8_lossy(&a.value).trim().to_string();
                            if !v.is_empty() {
                                s.first_ccy = Some(v);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Which field (if any) the text of the innermost open element is.
    #[inline]
    pub(super) fn field(&self, stack: &[Tag]) -> Option<Field> {
        use Tag::*;
        if self.ntry.is_some() {
            let rel = stack.get(self.ntry_depth..)?;
            return match rel {
                [Amt] => Some(Field::Amount),
                [CdtDbtInd] => Some(Field::Ind),
                [RvslInd] => Some(Field::Reversal),
                [BookgDt, Dt | DtTm] => Some(Field::Booking),
                [ValDt, Dt | DtTm] => Some(Field::Value),
                [BookgDt] => Some(Field::BookingBare),
                [ValDt] => Some(Field::ValueBare),
                [Sts] => Some(Field::Status),
                [Sts, Cd] => Some(Field::StatusCode),
                [AcctSvcrRef] => Some(Field::AcctSvcrRef),
                [NtryRef] => Some(Field::NtryRef),
                [BkTxCd, Domn, Cd] => Some(Field::BkDomain),
                [BkTxCd, Domn, Fmly, Cd] => Some(Field::BkFamily),
                [BkTxCd, Domn, Fmly, SubFmlyCd] => Some(Field::BkSubFamily),
                [BkTxCd, Prtry, Cd] => Some(Field::BkProprietary),
                [AddtlNtryInf] => Some(Field::AddtlNtryInf),
                [NtryDtls, Btch, PmtInfId] => Some(Field::BatchPmtInfId),
                [NtryDtls, Btch, MsgId] => Some(Field::BatchMsgId),
                [NtryDtls, TxDtls, rest @ ..] => {
                    if self.ntry.as_ref().is_some_and(|n| n.tx_count > 1) {
                        return None;
                    }
                    match rest {
                        [Refs, EndToEndId] => Some(Field::EndToEndId),
                        [Refs, AcctSvcrRef] => Some(Field::TxAcctSvcrRef),
                        [Refs, PmtInfId] => Some(Field::BatchPmtInfId),
                        [RltdPties, Dbtr, Nm] | [RltdPties, Dbtr, Pty, Nm] => Some(Field::DbtrName),
                        [RltdPties, Cdtr, Nm] | [RltdPties, Cdtr, Pty, Nm] => Some(Field::CdtrName),
                        [RltdPties, DbtrAcct, Id, IBAN] | [RltdPties, DbtrAcct, Id, Othr, Id] => {
                            Some(Field::DbtrAccount)
                        }
                        [RltdPties, CdtrAcct, Id, IBAN] | [RltdPties, CdtrAcct, Id, Othr, Id] => {
                            Some(Field::CdtrAccount)
                        }
                        [RmtInf, Ustrd] => Some(Field::Ustrd),
                        [RmtInf, Strd, CdtrRefInf, Ref] => Some(Field::CreditorRef),
                        _ => None,
                    }
                }
                _ => None,
            };
        }
        if self.bal.is_some() {
            let rel = stack.get(self.bal_depth..)?;
            return match rel {
                [Tp, CdOrPrtry, Cd] => Some(Field::BalCode),
                [Tp, Cd] => Some(Field::BalCodeBare),
                [Tp, CdOrPrtry, Prtry] => Some(Field::BalCodePrtry),
                [Amt] => Some(Field::BalAmount),
                [CdtDbtInd] => Some(Field::BalInd),
                [Dt, Dt | DtTm] => Some(Field::BalDate),
                [Dt] => Some(Field::BalDateBare),
                _ => None,
            };
        }
        if self.stmt.is_some() {
            let rel = stack.get(self.stmt_depth..)?;
            return match rel {
                [Id] => Some(Field::StmtId),
                [ElctrncSeqNb] => Some(Field::ElctrncSeqNb),
                [LglSeqNb] => Some(Field::LglSeqNb),
                [CreDtTm] => Some(Field::StmtCreated),
                [FrToDt, FrDtTm] => Some(Field::From),
                [FrToDt, ToDtTm] => Some(Field::To),
                [Acct, Id, IBAN] | [Acct, Id, Othr, Id] => Some(Field::Account),
                [Acct, Ccy] => Some(Field::AccountCcy),
                _ => None,
            };
        }
        match stack {
            [.., GrpHdr, CreDtTm] => Some(Field::MsgCreated),
            _ => None,
        }
    }

    pub(super) fn set(
        &mut self,
        field: Field,
        v: Cow<'b, str>,
        stack: &[Tag],
        here: &Here<'_>,
        diags: &mut Diags,
    ) -> Result<(), ParseError> {
        let (v, cut) = bounded(v);
        if cut {
            diags.push(
                Level::Warning,
                here.pos(here.offset, stack),
                msg!(
                    "文本超过 {} 个字符，已截断",
                    "text longer than {} characters was cut",
                    xml::MAX_TEXT_CHARS
                ),
            );
        }
        let date = |v: &str| xml::date(v).map_err(|m| here.err(stack, m));
        let amount = |v: &str| xml::amount(v).map_err(|m| here.err(stack, m));
        let ind = |v: &str| match v {
            "CRDT" => Ok(Direction::Credit),
            "DBIT" => Ok(Direction::Debit),
            other => Err(here.err(
                stack,
                msg!(
                    "借贷标志 '{other}' 既不是 CRDT 也不是 DBIT",
                    "credit/debit indicator '{other}' is neither CRDT nor DBIT"
                ),
            )),
        };
        if field == Field::MsgCreated {
            self.msg_created = xml::date(&v).ok();
            return Ok(());
        }
        if let Some(n) = self.ntry.as_mut() {
            match field {
                Field::Amount => n.amount = Some(amount(&v)?),
                Field::Ind => n.ind = Some(ind(&v)?),
                Field::Reversal => n.reversal = matches!(&*v, "true" | "1"),
                Field::Booking => n.booking = Some(date(&v)?),
                Field::Value => n.value = Some(date(&v)?),
                Field::BookingBare => {
                    n.booking = Some(date(&v)?);
                    let at = || here.pos(here.offset, stack);
                    self.deviations.note(Rule::BookingDateWithoutChoice, at);
                }
                Field::ValueBare => {
                    n.value = Some(date(&v)?);
                    let at = || here.pos(here.offset, stack);
                    self.deviations.note(Rule::ValueDateWithoutChoice, at);
                }
                Field::Status | Field::StatusCode => {
                    let with_code = field == Field::StatusCode;
                    match self.status_has_code {
                        Some(true) if !with_code => {
                            let at = || here.pos(here.offset, stack);
                            self.deviations.note(Rule::StatusWithoutCode, at);
                        }
                        Some(false) if with_code => {
                            let at = || here.pos(here.offset, stack);
                            self.deviations.note(Rule::StatusWithCode, at);
                        }
                        _ => {}
                    }
                    set_once(&mut n.status, v);
                }
                Field::AcctSvcrRef => set_once(&mut n.acct_svcr_ref, v),
                Field::NtryRef => set_once(&mut n.ntry_ref, v),
                Field::TxAcctSvcrRef => set_once(&mut n.tx_acct_svcr_ref, v),
                Field::BkDomain => set_once(&mut n.domain, v),
                Field::BkFamily if n.domain.is_some() => set_once(&mut n.family, v),
                Field::BkSubFamily if n.family.is_some() => set_once(&mut n.sub_family, v),
                Field::BkProprietary => set_once(&mut n.proprietary, v),
                Field::AddtlNtryInf => set_once(&mut n.addtl, v),
                Field::BatchPmtInfId => set_once(&mut n.batch_pmtinf, v),
                Field::BatchMsgId => set_once(&mut n.batch_msgid, v),
                Field::EndToEndId if !v.eq_ignore_ascii_case("NOTPROVIDED") => {
                    set_once(&mut n.e2e, v)
                }
                Field::CreditorRef => set_once(&mut n.creditor_ref, v),
                Field::DbtrName => set_once(&mut n.dbtr_name, v),
                Field::DbtrAccount => set_once(&mut n.dbtr_account, v),
                Field::CdtrName => set_once(&mut n.cdtr_name, v),
                Field::CdtrAccount => set_once(&mut n.cdtr_account, v),
                Field::Ustrd => match n.ustrd.as_mut() {
                    // Banks split long references into 35/140-character pieces.
                    Some(r) if r.chars().count() < xml::MAX_TEXT_CHARS => {
                        let r = r.to_mut();
                        r.push(' ');
                        r.push_str(&v);
                    }
                    Some(_) => {}
                    None => set_once(&mut n.ustrd, v),
                },
                _ => {}
            }
            return Ok(());
        }
        if let Some(b) = self.bal.as_mut() {
            match field {
                Field::BalCode => set_once(&mut b.code, v),
                Field::BalCodeBare => {
                    let at = || here.pos(here.offset, stack);
                    self.deviations.note(Rule::BalanceTypeWithoutWrapper, at);
                    set_once(&mut b.code, v);
                }
                // Only an ISO code is understood; a bank's own type stays unread.
                Field::BalCodePrtry
                    if matches!(&*v, "OPBD" | "PRCD" | "CLBD") && b.code.is_none() =>
                {
                    let at = || here.pos(here.offset, stack);
                    self.deviations.note(Rule::BalanceTypeAsProprietary, at);
                    set_once(&mut b.code, v);
                }
                Field::BalAmount => match Money::parse_non_negative(&v) {
                    Ok(m) => b.amount = Some(m),
                    Err(MoneyError::ExcessPrecision(raw)) => {
                        b.excess = Some((raw, here.pos(here.offset, stack)));
                    }
                    // A signed amount: meaningful only when `CdtDbtInd` is missing
                    // (checked when the balance ends).
                    Err(MoneyError::Negative(_)) => match Money::parse(&v) {
                        Ok(m) => {
                            b.amount = Some(m);
                            b.negative = true;
                        }
                        Err(_) => b.amount = Some(amount(&v)?),
                    },
                    Err(_) => b.amount = Some(amount(&v)?),
                },
                Field::BalInd => b.ind = Some(ind(&v)?),
                Field::BalDate => b.date = Some(date(&v)?),
                Field::BalDateBare => {
                    b.date = Some(date(&v)?);
                    let at = || here.pos(here.offset, stack);
                    self.deviations.note(Rule::BalanceDateWithoutChoice, at);
                }
                _ => {}
            }
            return Ok(());
        }
        if let Some(s) = self.stmt.as_mut() {
            match field {
                Field::StmtId => set_once(&mut s.id, v),
                Field::ElctrncSeqNb => set_once(&mut s.electronic_seq, v),
                Field::LglSeqNb => set_once(&mut s.legal_seq, v),
                Field::StmtCreated => s.created = xml::date(&v).ok(),
                Field::From => s.from = xml::date(&v).ok(),
                Field::To => s.to = xml::date(&v).ok(),
                Field::Account => set_once(&mut s.account, v),
                Field::AccountCcy => set_once(&mut s.account_ccy, v),
                _ => {}
            }
        }
        Ok(())
    }

    pub(super) fn end(
        &mut self,
        kind: Format,
        stack: &[Tag],
        here: &Here<'_>,
        diags: &mut Diags,
        emit: &mut dyn FnMut(Statement),
    ) -> Result<(), ParseError> {
        let depth = stack.len();
        if self.ntry.is_some() && depth == self.ntry_depth {
            if let Some(n) = self.ntry.take() {
                let entry = self.finish_entry(n, stack, here, diags)?;
                if let Some(s) = self.stmt.as_mut() {
                    s.entries.push(entry);
                }
            }
        } else if self.bal.is_some() && depth == self.bal_depth {
            if let Some(b) = self.bal.take() {
                self.finish_balance(b, stack, here, diags)?;
            }
        } else if self.stmt.is_some() && depth == self.stmt_depth {
            if let Some(s) = self.stmt.take() {
                self.last_entries = s.entries.len();
                emit(self.finish_statement(kind, s, stack, here, diags));
            }
        }
        Ok(())
    }

    /// The message and its version, once the message element is known: which form of
    /// entry status the version prescribes.
    pub(super) fn set_message(&mut self, format: Format, version: Option<&str>) {
        self.message = Some(format);
        // `camt.053.001.08` → 8: the `<Sts><Cd>` form begins with .08.
        self.status_has_code = version
            .and_then(|v| v.split('.').nth(3))
            .and_then(|n| n.get(..2))
            .and_then(|n| n.parse::<u32>().ok())
            .map(|n| n >= 8);
    }

    /// Statements (reports, notifications) read so far.
    pub(super) fn statements(&self) -> usize {
        self.count
    }

    /// One warning per deviation met in the file.
    pub(super) fn report(&mut self, message: &str, diags: &mut Diags) {
        std::mem::take(&mut self.deviations).report(message, diags);
    }

    /// A date the statement itself states, to stand in for a missing one.
    fn fallback_date(&self, closing: bool) -> Option<NaiveDate> {
        let s = self.stmt.as_ref()?;
        let ends = if closing {
            s.to.or(s.from)
        } else {
            s.from.or(s.to)
        };
        ends.or(s.created).or(self.msg_created)
    }

    fn finish_balance(
        &mut self,
        b: BalB<'b>,
        stack: &[Tag],
        here: &Here<'_>,
        diags: &mut Diags,
    ) -> Result<(), ParseError> {
        let code = b.code.as_deref().unwrap_or("");
        let opening = matches!(code, "OPBD" | "PRCD");
        let closing = code == "CLBD";
        if let Some((raw, position)) = b.excess {
            diags.push(
                Level::Error,
                position,
                msg!(
                    "余额 {code} 的金额 '{raw}' 在小数点后第二位之后还有非零数字；该余额不予采用\
                     （绝不舍入），明细照常保留",
                    "balance {code} amount '{raw}' has non-zero digits past the second decimal; \
                     the balance is left out (never rounded), the entries are kept"
                ),
            );
            return Ok(());
        }
        let Some(amount) = b.amount else {
            return Err(here.at(
                b.offset,
                stack,
                msg!("余额 {code} 缺少金额 <Amt>", "balance {code} has no <Amt>"),
            ));
        };
        let signed = match b.ind {
            Some(_) if b.negative => {
                return Err(here.at(
                    b.offset,
                    stack,
                    msg!(
                        "余额 {code} 的金额 <Amt> 为负数（{amount}），同时又有借贷标志 \
                         <CdtDbtInd>：金额应不带符号，方向由借贷标志表示",
                        "balance {code} has a negative <Amt> ({amount}) and a <CdtDbtInd>: the \
                         amount must be unsigned, its sign is the indicator"
                    ),
                ))
            }
            Some(Direction::Credit) => amount,
            Some(Direction::Debit) => Money::from_fen(-amount.fen()),
            None if amount.is_zero() => amount,
            None => {
                // Schema-invalid, but one bank sends every balance so: the amount carries
                // the sign (a minus for overdrawn), none is a credit.
                let at = || here.pos(b.offset, stack);
                self.deviations.note(Rule::BalanceWithoutIndicator, at);
                amount
            }
        };
        if !(opening || closing) {
            return Ok(());
        }
        let date = match b.date {
            Some(d) => d,
            None => match self.fallback_date(closing) {
                Some(d) => {
                    diags.push(
                        Level::Warning,
                        here.pos(b.offset, stack),
                        msg!(
                            "余额 {code} 缺少日期；已采用对账单日期 {d}",
                            "balance {code} has no date; used the statement's date {d}"
                        ),
                    );
                    d
                }
                None => {
                    diags.push(
                        Level::Warning,
                        here.pos(b.offset, stack),
                        msg!(
                            "余额 {code} 缺少日期，对账单也没有可替代的日期；已忽略该余额",
                            "balance {code} has no date and the statement none to stand in; balance ignored"
                        ),
                    );
                    return Ok(());
                }
            },
        };
        let balance = Balance {
            amount: signed,
            date,
        };
        if let Some(s) = self.stmt.as_mut() {
            if opening && s.opening.is_none() {
                s.opening = Some(balance);
            } else if closing {
                s.closing = Some(balance);
            }
        }
        Ok(())
    }

    fn finish_entry(
        &mut self,
        n: NtryB<'b>,
        stack: &[Tag],
        here: &Here<'_>,
        diags: &mut Diags,
    ) -> Result<Entry, ParseError> {
        let number = self.stmt.as_ref().map_or(0, |s| s.entries.len()) + 1;
        let Some(amount) = n.amount else {
            return Err(here.at(
                n.offset,
                stack,
                msg!(
                    "第 {} 份对账单的第 {number} 笔明细缺少金额 <Amt>",
                    "entry {number} of statement {} has no <Amt>",
                    self.count
                ),
            ));
        };
        let Some(direction) = n.ind else {
            return Err(here.at(
                n.offset,
                stack,
                msg!(
                    "第 {} 份对账单的第 {number} 笔明细缺少借贷标志 <CdtDbtInd>：无法确定是贷方还是借方",
                    "entry {number} of statement {} has no <CdtDbtInd>: credit or debit is unknown",
                    self.count
                ),
            ));
        };
        match n.status.as_deref() {
            None => self
                .deviations
                .note(Rule::StatusMissing, || here.pos(n.offset, stack)),
            Some("BOOK") => {}
            Some(_) if self.message == Some(Format::Camt053) => self
                .deviations
                .note(Rule::StatementEntryNotBooked, || here.pos(n.offset, stack)),
            Some(_) => {}
        }
        let booking_date = match n.booking.or(n.value) {
            Some(d) => d,
            None => match self.fallback_date(true) {
                Some(d) => {
                    diags.push(
                        Level::Warning,
                        here.pos(n.offset, stack),
                        msg!(
                            "第 {number} 笔明细既无记账日期也无起息日期；已采用对账单日期 {d}",
                            "entry {number} has no booking or value date; used the statement's date {d}"
                        ),
                    );
                    d
                }
                None => {
                    return Err(here.at(
                        n.offset,
                        stack,
                        msg!(
                            "第 {number} 笔明细既无记账日期也无起息日期，对账单也没有可替代的日期",
                            "entry {number} has no booking date, no value date and the statement no date to stand in"
                        ),
                    ))
                }
            },
        };
        // The counterparty of a credit is the debtor; of a debit, the creditor. A reversal
        // is booked in the opposite direction of the original, whose counterparty it keeps.
        let original = match (direction, n.reversal) {
            (d, false) => d,
            (Direction::Credit, true) => Direction::Debit,
            (Direction::Debit, true) => Direction::Credit,
        };
        let (counterparty_name, counterparty_account) = match original {
            Direction::Credit => (n.dbtr_name, n.dbtr_account),
            Direction::Debit => (n.cdtr_name, n.cdtr_account),
        };
        let transaction_code = match n.domain {
            Some(d) => {
                let parts = [Some(d), n.family, n.sub_family];
                let len = parts.iter().flatten().map(|p| p.len() + 1).sum();
                let mut code = String::with_capacity(len);
                for p in parts.iter().flatten() {
                    if !code.is_empty() {
                        code.push('/');
                    }
                    code.push_str(p);
                }
                Some(code)
            }
            None => owned(n.proprietary),
        };
        Ok(Entry {
            amount,
            direction,
            booking_date,
            value_date: n.value,
            bank_ref: owned(n.acct_svcr_ref.or(n.ntry_ref).or(n.tx_acct_svcr_ref)),
            end_to_end_id: owned(n.e2e),
            counterparty_name: owned(counterparty_name),
            counterparty_account: owned(counterparty_account),
            remittance: owned(n.ustrd.or(n.creditor_ref).or(n.addtl)),
            reversal: n.reversal,
            transaction_code,
            batch_ref: owned(n.batch_pmtinf.or(n.batch_msgid)),
            balance_after: None,
        })
    }

    fn finish_statement(
        &self,
        kind: Format,
        s: StmtB<'b>,
        stack: &[Tag],
        here: &Here<'_>,
        diags: &mut Diags,
    ) -> Statement {
        let account = owned(s.account).unwrap_or_else(|| {
            diags.push(
                Level::Warning,
                here.pos(here.offset, stack),
                msg!(
                    "第 {} 份对账单未写明账号（Acct/Id）",
                    "statement {} names no account (Acct/Id)",
                    self.count
                ),
            );
            String::new()
        });
        Statement {
            account,
            currency: owned(s.account_ccy).or(s.first_ccy).unwrap_or_default(),
            kind: match kind {
                Format::Camt052 => StatementKind::Intraday,
                Format::Camt054 => StatementKind::Notification,
                _ => StatementKind::EndOfDay,
            },
            statement_id: owned(s.id),
            sequence: owned(s.electronic_seq.or(s.legal_seq)),
            opening_balance: s.opening,
            closing_balance: s.closing,
            entries: s.entries,
            incomplete: false,
        }
    }
}
