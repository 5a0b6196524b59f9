//! What banks send: statements of dedicated accounts (with balances and entries) and
//! agency-payroll results, per worker.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::{CardNumber, IdNumber};
use crate::key::record_key;
use crate::lang::Lang;
use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Credit,
    Debit,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Credit => "credit",
            Direction::Debit => "debit",
        }
    }

    /// As a person reads it: 转入 / 转出, or credit / debit.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Direction::Credit => lang.pick("转入", "credit"),
            Direction::Debit => lang.pick("转出", "debit"),
        }
    }
}

/// What kind of account report a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    /// End-of-day statement (camt.053, MT940, bank statement files): authoritative.
    #[default]
    EndOfDay,
    /// Intraday report (camt.052, MT942): superseded by the end-of-day statement.
    Intraday,
    /// Debit/credit notification (camt.054): single movements.
    Notification,
}

/// A balance at the end (or start) of a day. The amount is signed: negative is overdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub amount: Money,
    pub date: NaiveDate,
}

/// One booked movement on an account. `Debug` masks the counterparty (a worker's name and
/// card, often).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Always positive; the sign is in `direction`.
    pub amount: Money,
    pub direction: Direction,
    pub booking_date: NaiveDate,
    pub value_date: Option<NaiveDate>,
    /// The bank's own reference for this entry (AcctSvcrRef, :61: bank reference, Ref, ...).
    pub bank_ref: Option<String>,
    /// The end-to-end id or customer reference (EndToEndId, :61: customer reference, YURREF ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end_id: Option<String>,
    pub counterparty_name: Option<String>,
    pub counterparty_account: Option<String>,
    pub remittance: Option<String>,
    /// A reversal (storno) of an earlier entry.
    #[serde(default)]
    pub reversal: bool,
    /// Bank transaction code as sent (BkTxCd, :61: type code, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_code: Option<String>,
    /// For a bulk payroll debit: the batch it pays (PmtInfId / MsgId / batch number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_ref: Option<String>,
    /// Balance after this entry, where the bank reports one (CMB TRSBLV, platform push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_after: Option<Money>,
}

impl Entry {
    /// Deterministic key of an entry on `account`: the bank reference, booking date, amount and
    /// direction, plus `occurrence` (0 for the first entry with these facts in a statement, 1
    /// for the second ...) so that two genuinely identical movements on one day stay two.
    /// Without a bank reference the counterparty account, end-to-end id and remittance text
    /// join the key. The same entry seen in an intraday report and in the end-of-day
    /// statement has the same key.
    pub fn key(&self, account: &str, occurrence: u32) -> String {
        let date = self.booking_date.to_string();
        let fen = self.amount.fen().to_string();
        let occ = occurrence.to_string();
        let rev = if self.reversal { "R" } else { "" };
        match self.bank_ref.as_deref().filter(|r| !r.trim().is_empty()) {
            Some(r) => record_key(
                "entry",
                &[
                    account,
                    r.trim(),
                    &date,
                    &fen,
                    self.direction.as_str(),
                    rev,
                    &occ,
                ],
            ),
            None => record_key(
                "entry",
                &[
                    account,
                    "",
                    &date,
                    &fen,
                    self.direction.as_str(),
                    rev,
                    &occ,
                    self.counterparty_account.as_deref().unwrap_or(""),
                    self.end_to_end_id.as_deref().unwrap_or(""),
                    self.remittance.as_deref().unwrap_or(""),
                ],
            ),
        }
    }

    /// The signed effect on the balance.
    pub fn signed(&self) -> Money {
        match self.direction {
            Direction::Credit => self.amount,
            Direction::Debit => Money::from_fen(-self.amount.fen()),
        }
    }
}

/// A statement (or report) of one account over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub account: String,
    pub currency: String,
    #[serde(default)]
    pub kind: StatementKind,
    /// The statement's own id (Stmt/Id, :20:, ...), when the format has one.
    pub statement_id: Option<String>,
    /// Electronic sequence number (ElctrncSeqNb, :28C:), when the format has one.
    pub sequence: Option<String>,
    pub opening_balance: Option<Balance>,
    pub closing_balance: Option<Balance>,
    pub entries: Vec<Entry>,
    /// The statement lacks a part its format makes mandatory and that a complete statement
    /// always has (an MT940 without its closing balance `:62F:`: the file was cut, or the
    /// bank leaves it out). Its entries may be only the first part of the day's. A later
    /// delivery of the same statement ([`Statement::identity_key`]) that is complete
    /// supersedes it; an incomplete delivery never supersedes a complete one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

impl Statement {
    /// Natural key: the account plus the statement's identity (id, sequence and dates).
    pub fn key(&self) -> String {
        let opening = self.opening_balance.map(|b| b.date.to_string());
        let closing = self.closing_balance.map(|b| b.date.to_string());
        let first = self.entries.first().map(|e| e.booking_date.to_string());
        record_key(
            "statement",
            &[
                &self.account,
                self.statement_id.as_deref().unwrap_or(""),
                self.sequence.as_deref().unwrap_or(""),
                opening.as_deref().unwrap_or(""),
                closing.as_deref().or(first.as_deref()).unwrap_or(""),
                kind_str(self.kind),
            ],
        )
    }

    /// The statement's identity without the parts a truncated delivery lacks (closing
    /// balance, last entries): account, statement id, sequence, opening date and kind. An
    /// incomplete statement and the complete delivery that supersedes it share it, while
    /// their [`Statement::key`]s may differ (the key falls back to the first entry's date
    /// when there is no closing balance).
    pub fn identity_key(&self) -> String {
        let opening = self.opening_balance.map(|b| b.date.to_string());
        record_key(
            "statement-identity",
            &[
                &self.account,
                self.statement_id.as_deref().unwrap_or(""),
                self.sequence.as_deref().unwrap_or(""),
                opening.as_deref().unwrap_or(""),
                kind_str(self.kind),
            ],
        )
    }

    /// Sum of entries' signed amounts, if it does not overflow.
    pub fn net_movement(&self) -> Option<Money> {
        self.entries
            .iter()
            .try_fold(Money::ZERO, |acc, e| acc.checked_add(e.signed()))
    }
}

fn kind_str(k: StatementKind) -> &'static str {
    match k {
        StatementKind::EndOfDay => "eod",
        StatementKind::Intraday => "intraday",
        StatementKind::Notification => "notification",
    }
}

/// The outcome of one agency-payroll payment, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Paid,
    Failed,
    /// Unknown, in process, awaiting review: never treated as paid.
    Pending,
    Cancelled,
}

/// The normalised failure taxonomy (DOMAIN.md §3). The bank's raw code and text are kept
/// beside it on the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureReason {
    NameMismatch,
    AccountNotFound,
    AccountClosed,
    AccountFrozen,
    AccountRestricted,
    InsufficientFunds,
    Duplicate,
    IdMissing,
    BankRejectedOther,
    Unknown,
}

impl PaymentStatus {
    /// As a person reads it: 成功 / 失败 / 未决 / 已撤销, or paid / failed / pending /
    /// cancelled.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            PaymentStatus::Paid => lang.pick("成功", "paid"),
            PaymentStatus::Failed => lang.pick("失败", "failed"),
            PaymentStatus::Pending => lang.pick("未决", "pending"),
            PaymentStatus::Cancelled => lang.pick("已撤销", "cancelled"),
        }
    }
}

impl FailureReason {
    /// As a person reads it (DOMAIN.md §3's taxonomy in words).
    pub fn label(self, lang: Lang) -> &'static str {
        use FailureReason::*;
        match self {
            NameMismatch => lang.pick("户名不符", "name mismatch"),
            AccountNotFound => lang.pick("账户不存在", "account not found"),
            AccountClosed => lang.pick("账户已销户", "account closed"),
            AccountFrozen => lang.pick("账户冻结", "account frozen"),
            AccountRestricted => lang.pick("账户受限", "account restricted"),
            InsufficientFunds => lang.pick("余额不足", "insufficient funds"),
            Duplicate => lang.pick("重复交易", "duplicate"),
            IdMissing => lang.pick("缺少证件号", "ID number missing"),
            BankRejectedOther => lang.pick("银行拒绝（其他原因）", "rejected by the bank (other)"),
            Unknown => lang.pick("原因不明", "reason unknown"),
        }
    }

    pub const ALL: [FailureReason; 10] = [
        FailureReason::NameMismatch,
        FailureReason::AccountNotFound,
        FailureReason::AccountClosed,
        FailureReason::AccountFrozen,
        FailureReason::AccountRestricted,
        FailureReason::InsufficientFunds,
        FailureReason::Duplicate,
        FailureReason::IdMissing,
        FailureReason::BankRejectedOther,
        FailureReason::Unknown,
    ];
}

/// One worker's payment in an agency-payroll batch, as reported back by the bank. `Debug`
/// masks the worker's name (the ID and card numbers mask themselves).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentResult {
    /// The batch (file / PmtInf / message) this payment belongs to.
    pub batch_id: Option<String>,
    pub end_to_end_id: Option<String>,
    /// The dedicated account the payment was drawn on, when the file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<IdNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_number: Option<CardNumber>,
    pub amount: Option<Money>,
    pub status: PaymentStatus,
    /// Normalised failure reason (failed lines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    pub reason_code: Option<String>,
    pub reason_text: Option<String>,
    /// The bank's raw status code as sent (ACSC, 7, S, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_date: Option<NaiveDate>,
    /// The wage month this payment is for, when the file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<crate::period::Period>,
}

impl PaymentResult {
    /// Natural key: batch + end-to-end id, falling back to the worker and card.
    pub fn key(&self) -> String {
        let worker = self
            .id_number
            .as_ref()
            .map(|i| i.expose().to_string())
            .unwrap_or_default();
        let card = self
            .card_number
            .as_ref()
            .map(|c| c.expose().to_string())
            .unwrap_or_default();
        record_key(
            "payment",
            &[
                self.batch_id.as_deref().unwrap_or(""),
                self.end_to_end_id.as_deref().unwrap_or(""),
                &worker,
                &card,
            ],
        )
    }
}

/// The header of a payroll result file or pain.002 message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayrollBatch {
    pub batch_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_date: Option<NaiveDate>,
    /// Count and total the file declares in its header (checked against the details).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_total: Option<Money>,
    /// Group status as sent (pain.002 GrpSts, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_status: Option<String>,
}

impl PayrollBatch {
    pub fn key(&self) -> String {
        record_key("batch", &[&self.batch_id])
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::ids::{debug_masked, mask_account, mask_name};
        f.debug_struct("Entry")
            .field("amount", &self.amount)
            .field("direction", &self.direction)
            .field("booking_date", &self.booking_date)
            .field("value_date", &self.value_date)
            .field("bank_ref", &self.bank_ref)
            .field("end_to_end_id", &self.end_to_end_id)
            .field(
                "counterparty_name",
                &debug_masked(&self.counterparty_name, mask_name),
            )
            .field(
                "counterparty_account",
                &debug_masked(&self.counterparty_account, mask_account),
            )
            .field("remittance", &self.remittance)
            .field("reversal", &self.reversal)
            .field("transaction_code", &self.transaction_code)
            .field("batch_ref", &self.batch_ref)
            .field("balance_after", &self.balance_after)
            .finish()
    }
}

impl std::fmt::Debug for PaymentResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::ids::{debug_masked, mask_name};
        f.debug_struct("PaymentResult")
            .field("batch_id", &self.batch_id)
            .field("end_to_end_id", &self.end_to_end_id)
            .field("debit_account", &self.debit_account)
            .field("worker_name", &debug_masked(&self.worker_name, mask_name))
            .field("id_number", &self.id_number)
            .field("card_number", &self.card_number)
            .field("amount", &self.amount)
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("reason_code", &self.reason_code)
            .field("reason_text", &self.reason_text)
            .field("raw_status", &self.raw_status)
            .field("pay_date", &self.pay_date)
            .field("period", &self.period)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, d).unwrap_or_default()
    }

    fn statement(entries: usize, closing: Option<i64>) -> Statement {
        let entry = |i: usize| Entry {
            amount: Money::from_fen(100 * (i as i64 + 1)),
            direction: Direction::Credit,
            booking_date: day(31),
            value_date: Some(day(31)),
            bank_ref: Some(format!("R{i}")),
            end_to_end_id: None,
            counterparty_name: None,
            counterparty_account: None,
            remittance: None,
            reversal: false,
            transaction_code: None,
            batch_ref: None,
            balance_after: None,
        };
        Statement {
            account: "6222021001000012345".into(),
            currency: "CNY".into(),
            kind: StatementKind::EndOfDay,
            statement_id: Some("S-151".into()),
            sequence: Some("151/1".into()),
            opening_balance: Some(Balance {
                amount: Money::ZERO,
                date: day(30),
            }),
            closing_balance: closing.map(|fen| Balance {
                amount: Money::from_fen(fen),
                date: day(31),
            }),
            entries: (0..entries).map(entry).collect(),
            incomplete: closing.is_none(),
        }
    }

    /// A statement cut before its closing balance and its complete delivery are the same
    /// statement (identity), though their keys differ; another day's statement is not.
    #[test]
    fn a_truncated_statement_and_its_complete_delivery_share_the_identity() {
        let cut = statement(1, None);
        let whole = statement(3, Some(600));
        assert_eq!(cut.identity_key(), whole.identity_key());
        let mut next_day = whole.clone();
        next_day.opening_balance = Some(Balance {
            amount: Money::from_fen(600),
            date: day(31),
        });
        assert_ne!(next_day.identity_key(), whole.identity_key());
        let mut other_account = whole.clone();
        other_account.account = "6222021001000099999".into();
        assert_ne!(other_account.identity_key(), whole.identity_key());
    }

    /// The mark is serialised only when set, so a complete statement's JSON (and anything
    /// hashed from it) is what it was before the mark existed.
    #[test]
    fn the_incomplete_mark_is_serialised_only_when_set() {
        let whole = serde_json::to_string(&statement(1, Some(100))).unwrap_or_default();
        assert!(!whole.contains("incomplete"), "{whole}");
        let cut = serde_json::to_string(&statement(1, None)).unwrap_or_default();
        assert!(cut.contains("\"incomplete\":true"), "{cut}");
        let back: Statement = serde_json::from_str(&whole).unwrap_or_else(|e| panic!("{e}"));
        assert!(!back.incomplete);
    }
}
