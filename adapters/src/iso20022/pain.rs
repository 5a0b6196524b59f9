//! pain.002 (customer payment status report): the bank's answer to a pain.001 payroll
//! batch. One [`PayrollBatch`] per original payment information block (or per message
//! when there is none) and one [`PaymentResult`] per `TxInfAndSts`.
//!
//! Status: only `ACSC` (settlement on the debtor's account completed) and `ACCC`
//! (settlement on the creditor's account completed) are paid; `RJCT` is failed, `CANC`
//! cancelled; everything else — accepted-but-not-settled, pending, received, the German
//! verification-of-payee outcomes, and any code we do not know — is pending. A
//! transaction without its own status takes its payment block's, then the group's.

use chrono::NaiveDate;
use schemas::{msg, FailureReason, Level, Money, PaymentResult, PaymentStatus, PayrollBatch};

use super::xml::{self, Tag};
use super::{Diags, Here, Record};
use crate::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    MsgId,
    OrgnlMsgId,
    GrpSts,
    GrpNbOfTxs,
    GrpCtrlSum,
    PmtInfId,
    PmtInfSts,
    PmtNbOfTxs,
    PmtCtrlSum,
    EndToEndId,
    TxSts,
    ReasonCode,
    ReasonText,
    Amount,
    PayDate,
    CdtrName,
    CdtrAccount,
    DbtrAccount,
}

#[derive(Default)]
pub(super) struct State {
    msg_id: Option<String>,
    orgnl_msg_id: Option<String>,
    grp_sts: Option<String>,
    grp_count: Option<u64>,
    grp_total: Option<Money>,
    batches: usize,
    pmt: Option<PmtB>,
    pmt_depth: usize,
    tx: Option<TxB>,
    tx_depth: usize,
    message_depth: usize,
}

#[derive(Default)]
struct PmtB {
    id: Option<String>,
    sts: Option<String>,
    count: Option<u64>,
    total: Option<Money>,
    debit_account: Option<String>,
    pay_date: Option<NaiveDate>,
}

#[derive(Default)]
struct TxB {
    e2e: Option<String>,
    sts: Option<String>,
    reason_code: Option<String>,
    reason_text: Option<String>,
    amount: Option<Money>,
    pay_date: Option<NaiveDate>,
    cdtr_name: Option<String>,
    cdtr_account: Option<String>,
    dbtr_account: Option<String>,
}

fn set_once(slot: &mut Option<String>, v: &str) {
    if slot.is_none() && !v.is_empty() {
        *slot = Some(v.to_string());
    }
}

/// Which field (if any) the text of the innermost open element is.
#[inline]
pub(super) fn field(stack: &[Tag], st: &State) -> Option<Field> {
    use Tag::*;
    if st.tx.is_some() {
        let rel = stack.get(st.tx_depth..)?;
        return match rel {
            [OrgnlEndToEndId] => Some(Field::EndToEndId),
            [TxSts] => Some(Field::TxSts),
            [StsRsnInf, Rsn, Cd | Prtry] => Some(Field::ReasonCode),
            [StsRsnInf, AddtlInf] => Some(Field::ReasonText),
            [OrgnlTxRef, Amt, InstdAmt] | [OrgnlTxRef, Amt, EqvtAmt, Amt] => Some(Field::Amount),
            [OrgnlTxRef, ReqdExctnDt] | [OrgnlTxRef, ReqdExctnDt, Dt | DtTm] => {
                Some(Field::PayDate)
            }
            [OrgnlTxRef, IntrBkSttlmDt] => Some(Field::PayDate),
            [OrgnlTxRef, Cdtr, Nm] | [OrgnlTxRef, Cdtr, Pty, Nm] => Some(Field::CdtrName),
            [OrgnlTxRef, CdtrAcct, Id, IBAN] | [OrgnlTxRef, CdtrAcct, Id, Othr, Id] => {
                Some(Field::CdtrAccount)
            }
            [OrgnlTxRef, DbtrAcct, Id, IBAN] | [OrgnlTxRef, DbtrAcct, Id, Othr, Id] => {
                Some(Field::DbtrAccount)
            }
            _ => None,
        };
    }
    if st.pmt.is_some() {
        let rel = stack.get(st.pmt_depth..)?;
        return match rel {
            [OrgnlPmtInfId] => Some(Field::PmtInfId),
            [PmtInfSts] => Some(Field::PmtInfSts),
            [OrgnlNbOfTxs] => Some(Field::PmtNbOfTxs),
            [OrgnlCtrlSum] => Some(Field::PmtCtrlSum),
            _ => None,
        };
    }
    let rel = stack.get(st.message_depth..)?;
    match rel {
        [GrpHdr, MsgId] => Some(Field::MsgId),
        [OrgnlGrpInfAndSts, OrgnlMsgId] => Some(Field::OrgnlMsgId),
        [OrgnlGrpInfAndSts, GrpSts] => Some(Field::GrpSts),
        [OrgnlGrpInfAndSts, OrgnlNbOfTxs] => Some(Field::GrpNbOfTxs),
        [OrgnlGrpInfAndSts, OrgnlCtrlSum] => Some(Field::GrpCtrlSum),
        _ => None,
    }
}

impl State {
    pub(super) fn start(&mut self, stack: &[Tag]) {
        let depth = stack.len();
        match stack.last() {
            Some(Tag::CstmrPmtStsRpt) => self.message_depth = depth,
            Some(Tag::OrgnlPmtInfAndSts) if self.pmt.is_none() => {
                self.pmt = Some(PmtB::default());
                self.pmt_depth = depth;
            }
            Some(Tag::TxInfAndSts) if self.tx.is_none() => {
                self.tx = Some(TxB::default());
                self.tx_depth = depth;
            }
            _ => {}
        }
    }

    pub(super) fn set(
        &mut self,
        field: Field,
        v: &str,
        stack: &[Tag],
        here: &Here<'_>,
        diags: &mut Diags,
    ) -> Result<(), ParseError> {
        let (v, cut) = xml::bounded(v);
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
        match field {
            Field::MsgId => set_once(&mut self.msg_id, v),
            Field::OrgnlMsgId => set_once(&mut self.orgnl_msg_id, v),
            Field::GrpSts => set_once(&mut self.grp_sts, v),
            Field::GrpNbOfTxs => self.grp_count = v.parse().ok(),
            Field::GrpCtrlSum => self.grp_total = Money::parse(v).ok(),
            _ => {}
        }
        if let Some(t) = self.tx.as_mut() {
            match field {
                Field::EndToEndId => set_once(&mut t.e2e, v),
                Field::TxSts => set_once(&mut t.sts, v),
                Field::ReasonCode => set_once(&mut t.reason_code, v),
                Field::ReasonText => match t.reason_text.as_mut() {
                    Some(r) if r.chars().count() < xml::MAX_TEXT_CHARS => {
                        r.push(' ');
                        r.push_str(v);
                    }
                    Some(_) => {}
                    None => set_once(&mut t.reason_text, v),
                },
                Field::Amount => {
                    t.amount = Some(xml::amount(v).map_err(|m| here.err(stack, m))?);
                }
                Field::PayDate if t.pay_date.is_none() => {
                    t.pay_date = Some(xml::date(v).map_err(|m| here.err(stack, m))?);
                }
                Field::CdtrName => set_once(&mut t.cdtr_name, v),
                Field::CdtrAccount => set_once(&mut t.cdtr_account, v),
                Field::DbtrAccount => set_once(&mut t.dbtr_account, v),
                _ => {}
            }
        } else if let Some(p) = self.pmt.as_mut() {
            match field {
                Field::PmtInfId => set_once(&mut p.id, v),
                Field::PmtInfSts => set_once(&mut p.sts, v),
                Field::PmtNbOfTxs => p.count = v.parse().ok(),
                Field::PmtCtrlSum => p.total = Money::parse(v).ok(),
                _ => {}
            }
        }
        Ok(())
    }

    pub(super) fn end(
        &mut self,
        stack: &[Tag],
        here: &Here<'_>,
        diags: &mut Diags,
        emit: &mut dyn FnMut(Record),
    ) -> Result<(), ParseError> {
        let _ = (here, diags);
        let depth = stack.len();
        if self.tx.is_some() && depth == self.tx_depth {
            if let Some(t) = self.tx.take() {
                emit(Record::Payment(self.finish_tx(t)));
            }
        } else if self.pmt.is_some() && depth == self.pmt_depth {
            if let Some(p) = self.pmt.take() {
                self.batches += 1;
                emit(Record::Batch(PayrollBatch {
                    batch_id: self.batch_id(p.id.as_deref()),
                    debit_account: p.debit_account,
                    pay_date: p.pay_date,
                    declared_count: p.count,
                    declared_total: p.total,
                    group_status: p.sts.or_else(|| self.grp_sts.clone()),
                }));
            }
        } else if depth == self.message_depth && self.batches == 0 {
            // No payment information blocks: the group is the batch.
            emit(Record::Batch(PayrollBatch {
                batch_id: self.batch_id(None),
                debit_account: None,
                pay_date: None,
                declared_count: self.grp_count,
                declared_total: self.grp_total,
                group_status: self.grp_sts.clone(),
            }));
            self.batches = 1;
        }
        Ok(())
    }

    fn batch_id(&self, pmtinf: Option<&str>) -> String {
        pmtinf
            .or(self.orgnl_msg_id.as_deref())
            .or(self.msg_id.as_deref())
            .unwrap_or("")
            .to_string()
    }

    fn finish_tx(&mut self, t: TxB) -> PaymentResult {
        let pmt_id = self.pmt.as_ref().and_then(|p| p.id.clone());
        let inherited = self
            .pmt
            .as_ref()
            .and_then(|p| p.sts.clone())
            .or_else(|| self.grp_sts.clone());
        let raw = t.sts.or(inherited);
        let status = raw.as_deref().map_or(PaymentStatus::Pending, |c| {
            status_of(TxStatus::from_code(c))
        });
        if let Some(p) = self.pmt.as_mut() {
            if p.debit_account.is_none() {
                p.debit_account.clone_from(&t.dbtr_account);
            }
            if p.pay_date.is_none() {
                p.pay_date = t.pay_date;
            }
        }
        let reason = match status {
            PaymentStatus::Failed => Some(
                t.reason_code
                    .as_deref()
                    .map_or(FailureReason::Unknown, failure_reason),
            ),
            PaymentStatus::Paid | PaymentStatus::Pending | PaymentStatus::Cancelled => None,
        };
        PaymentResult {
            batch_id: Some(self.batch_id(pmt_id.as_deref())),
            end_to_end_id: t.e2e.filter(|e| !e.eq_ignore_ascii_case("NOTPROVIDED")),
            debit_account: t.dbtr_account,
            worker_name: t.cdtr_name,
            id_number: None,
            card_number: t.cdtr_account.map(schemas::CardNumber::new),
            amount: t.amount,
            status,
            reason,
            reason_code: t.reason_code,
            reason_text: t.reason_text,
            raw_status: raw,
            pay_date: t.pay_date,
            period: None,
        }
    }
}

/// ISO 20022 ExternalPaymentTransactionStatus1Code, plus the German DK
/// verification-of-payee outcomes seen in pain.002.001.10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// AcceptedSettlementCompleted (creditor account credited).
    Accc,
    /// AcceptedSettlementCompleted (debtor account debited).
    Acsc,
    /// AcceptedSettlementInProcess.
    Acsp,
    /// AcceptedTechnicalValidation.
    Actc,
    /// AcceptedCustomerProfile.
    Accp,
    /// AcceptedWithChange.
    Acwc,
    /// AcceptedWithoutPosting.
    Acwp,
    /// AcceptedFundsChecked.
    Acfc,
    /// PartiallyAcceptedTechnicalCorrect.
    Patc,
    /// PartiallyAccepted (group level).
    Part,
    /// Pending.
    Pdng,
    /// Received.
    Rcvd,
    /// Rejected.
    Rjct,
    /// Cancelled.
    Canc,
    /// Verification of payee: match, close match, no match, not applicable.
    Rcvc,
    Rvmc,
    Rvnm,
    Rvna,
    /// A code we do not know.
    Unknown,
}

impl TxStatus {
    pub fn from_code(code: &str) -> TxStatus {
        match code.trim().to_ascii_uppercase().as_str() {
            "ACCC" => TxStatus::Accc,
            "ACSC" => TxStatus::Acsc,
            "ACSP" => TxStatus::Acsp,
            "ACTC" => TxStatus::Actc,
            "ACCP" => TxStatus::Accp,
            "ACWC" => TxStatus::Acwc,
            "ACWP" => TxStatus::Acwp,
            "ACFC" => TxStatus::Acfc,
            "PATC" => TxStatus::Patc,
            "PART" => TxStatus::Part,
            "PDNG" => TxStatus::Pdng,
            "RCVD" => TxStatus::Rcvd,
            "RJCT" => TxStatus::Rjct,
            "CANC" => TxStatus::Canc,
            "RCVC" => TxStatus::Rcvc,
            "RVMC" => TxStatus::Rvmc,
            "RVNM" => TxStatus::Rvnm,
            "RVNA" => TxStatus::Rvna,
            _ => TxStatus::Unknown,
        }
    }
}

/// The domain status. Total, no catch-all: a new variant must be classified here.
pub fn status_of(s: TxStatus) -> PaymentStatus {
    match s {
        TxStatus::Accc | TxStatus::Acsc => PaymentStatus::Paid,
        TxStatus::Rjct => PaymentStatus::Failed,
        TxStatus::Canc => PaymentStatus::Cancelled,
        TxStatus::Acsp
        | TxStatus::Actc
        | TxStatus::Accp
        | TxStatus::Acwc
        | TxStatus::Acwp
        | TxStatus::Acfc
        | TxStatus::Patc
        | TxStatus::Part
        | TxStatus::Pdng
        | TxStatus::Rcvd
        | TxStatus::Rcvc
        | TxStatus::Rvmc
        | TxStatus::Rvnm
        | TxStatus::Rvna
        | TxStatus::Unknown => PaymentStatus::Pending,
    }
}

/// ISO 20022 ExternalStatusReason1Code → the wagegate failure taxonomy.
pub fn failure_reason(code: &str) -> FailureReason {
    match code.trim().to_ascii_uppercase().as_str() {
        // Incorrect / invalid account number, unknown end customer.
        "AC01" | "AC02" | "AC03" | "BE06" | "RC07" => FailureReason::AccountNotFound,
        // Closed account (debtor, creditor).
        "AC04" | "AC05" | "AC07" => FailureReason::AccountClosed,
        // Blocked account.
        "AC06" => FailureReason::AccountFrozen,
        // Transaction forbidden on this account type; account restricted.
        "AG01" | "AC13" | "AC14" | "SP01" => FailureReason::AccountRestricted,
        "AM04" => FailureReason::InsufficientFunds,
        "AM05" | "DUPL" => FailureReason::Duplicate,
        // Inconsistent with end customer (name and account do not match).
        "BE01" | "RVNM" => FailureReason::NameMismatch,
        // Missing debtor/creditor identification, name or address.
        "RR01" | "RR02" | "RR03" | "BE15" | "BE16" | "BE17" | "BE04" => FailureReason::IdMissing,
        // Refused by a bank for a reason outside the taxonomy (deceased holder, regulatory,
        // amount or currency not allowed, cut-off, bank identifier wrong, format ...).
        "MD07" | "RR04" | "AM01" | "AM02" | "AM03" | "AM09" | "AM10" | "AC09" | "AG02" | "AG03"
        | "BE05" | "CNOR" | "DNOR" | "RC01" | "TM01" | "FF01" | "FOCR" | "SL01" | "CUST"
        | "MS02" => FailureReason::BankRejectedOther,
        // Not specified / narrative only.
        _ => FailureReason::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settled_is_paid() {
        for code in ["ACCC", "ACSC", "accc"] {
            assert_eq!(status_of(TxStatus::from_code(code)), PaymentStatus::Paid);
        }
        for code in [
            "ACSP", "ACTC", "ACCP", "ACWC", "PDNG", "RCVD", "PART", "RVMC", "XXXX", "",
        ] {
            assert_eq!(
                status_of(TxStatus::from_code(code)),
                PaymentStatus::Pending,
                "{code}"
            );
        }
        assert_eq!(
            status_of(TxStatus::from_code("RJCT")),
            PaymentStatus::Failed
        );
        assert_eq!(
            status_of(TxStatus::from_code("CANC")),
            PaymentStatus::Cancelled
        );
    }

    #[test]
    fn reasons_map_into_the_taxonomy() {
        assert_eq!(failure_reason("AC01"), FailureReason::AccountNotFound);
        assert_eq!(failure_reason("AC04"), FailureReason::AccountClosed);
        assert_eq!(failure_reason("AC06"), FailureReason::AccountFrozen);
        assert_eq!(failure_reason("AG01"), FailureReason::AccountRestricted);
        assert_eq!(failure_reason("AM04"), FailureReason::InsufficientFunds);
        assert_eq!(failure_reason("AM05"), FailureReason::Duplicate);
        assert_eq!(failure_reason("BE01"), FailureReason::NameMismatch);
        assert_eq!(failure_reason("RR01"), FailureReason::IdMissing);
        assert_eq!(failure_reason("MD07"), FailureReason::BankRejectedOther);
        assert_eq!(failure_reason("NARR"), FailureReason::Unknown);
        assert_eq!(failure_reason("ZZ99"), FailureReason::Unknown);
    }
}
