//! The shortfalls the simulator plants, one kind per way a code is raised.

use crate::env::Env;

/// One planted problem. Plants of different families touch different facts, so a project
/// may carry one of each without one changing the other's finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plant {
    /// The labor cost of the latest due month never arrives.
    LaborMissing,
    /// It arrives only in part.
    LaborShort,
    /// It arrives in full, days after the deadline.
    LaborLate,
    /// Next month's pay sheet exceeds the balance shortly before its deadline (only when the
    /// as-of date is within `payroll.funding_lookahead_days` of a month's end).
    FundingGap,
    /// A worker is left out of the payroll batch.
    WagesUnpaid,
    /// A worker is paid less than the pay sheet says.
    WagesShort,
    /// A worker's payment fails and is never re-paid (also WAGES_UNPAID).
    PaymentFailed,
    /// The bulk debit on the statement differs from the batch's successful lines.
    BatchMismatch,
    /// Money leaves the account to a supplier.
    NonWageDebit,
    /// The batch pays someone on neither roster nor pay sheet.
    PayeeNotOnRoster,
    /// One worker is down for more than the monthly ceiling.
    AbnormalCeiling,
    /// The month's average net pay is below the floor.
    AbnormalFloor,
    /// No guarantee letter and no cash deposit.
    GuaranteeMissing,
    /// The letter is smaller than required.
    GuaranteeShort,
    /// The letter expires within `guarantee.expiring_days` while the project runs on.
    GuaranteeExpiring,
    /// The letter expired a few days ago.
    GuaranteeExpired,
    /// The letter was drawn on and not topped up within the working days allowed.
    GuaranteeNotReplenished,
    /// A statement opens at a different balance from the previous closing, with no statement
    /// missing between them: money moved that no statement shows (BALANCE_BREAK, DOMAIN.md §4).
    OpeningJump,
    /// A statement's sequence number skips one.
    GapSequence,
    /// A statement's entries do not add up to its balance change.
    BalanceBreak,
    /// A day's statement never arrives.
    StatementMissing,
    /// A statement is delivered again with different content.
    DuplicateDelivery,
    // Adversarial cases (issue 8), each written from DOMAIN.md §4 before the reconciler was
    // looked at; the ones marked *clean* are near misses that must raise nothing.
    /// A worker is left out of M−3's batch; M−2's regular batch (exactly M−2's sheet) pays
    /// everyone: it pays M−2, not the worker's M−3 (WAGES_UNPAID for M−3).
    NextMonthForUnpaid,
    /// *Clean*: as `NextMonthForUnpaid`, and the worker's M−3 wages are paid in a late batch
    /// of their own whose id extends the regular batch's (`…-B1` / `…-B1-L`).
    LateOwnBatch,
    /// A worker's M−3 line fails; M−2's regular batch pays M−2 only: the failure is not
    /// re-paid (PAYMENT_FAILED_UNRESOLVED, WAGES_UNPAID for M−3).
    FailedNotRepaidByNext,
    /// *Clean*: a worker's M−3 line fails and is re-paid as a second line of M−2's regular
    /// batch.
    FailedRepaidNextRegular,
    /// *Clean*: a worker's M−2 line fails and is re-paid six days later by batch `ID-R`, whose
    /// id has the failed batch's id as a prefix; each batch has its own debit.
    RepaidPrefixBatch,
    /// A worker is left out of both M−3's and M−2's batches; a late payment in M−1 of M−3's
    /// net carries a remittance text naming M−3 in a bank's style: it pays M−3, M−2 stays
    /// unpaid (without the text it would pay M−2, whose pay window holds the date).
    TextNamesMonth,
    /// A pay sheet for the as-of month (due at the end of the next month, weeks away) that the
    /// balance cannot fund.
    FundingGapAhead,
    /// *Clean*: a pay sheet for the as-of month that the balance covers.
    FundingCoveredAhead,
    /// One working day's statement is sent in USD on the CNY account: it is not counted, so
    /// the day has no statement (STATEMENT_MISSING), and nothing else.
    ForeignCurrency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Labor,
    Wages,
    Guarantee,
    Integrity,
}

impl Plant {
    pub const ALL: [Plant; 31] = [
        Plant::LaborMissing,
        Plant::LaborShort,
        Plant::LaborLate,
        Plant::FundingGap,
        Plant::WagesUnpaid,
        Plant::WagesShort,
        Plant::PaymentFailed,
        Plant::BatchMismatch,
        Plant::NonWageDebit,
        Plant::PayeeNotOnRoster,
        Plant::AbnormalCeiling,
        Plant::AbnormalFloor,
        Plant::GuaranteeMissing,
        Plant::GuaranteeShort,
        Plant::GuaranteeExpiring,
        Plant::GuaranteeExpired,
        Plant::GuaranteeNotReplenished,
        Plant::OpeningJump,
        Plant::GapSequence,
        Plant::BalanceBreak,
        Plant::StatementMissing,
        Plant::DuplicateDelivery,
        Plant::NextMonthForUnpaid,
        Plant::LateOwnBatch,
        Plant::FailedNotRepaidByNext,
        Plant::FailedRepaidNextRegular,
        Plant::RepaidPrefixBatch,
        Plant::TextNamesMonth,
        Plant::FundingGapAhead,
        Plant::FundingCoveredAhead,
        Plant::ForeignCurrency,
    ];

    pub fn family(self) -> Family {
        use Plant as P;
        match self {
            P::LaborMissing | P::LaborShort | P::LaborLate => Family::Labor,
            P::FundingGap
            | P::WagesUnpaid
            | P::WagesShort
            | P::PaymentFailed
            | P::BatchMismatch
            | P::NonWageDebit
            | P::PayeeNotOnRoster
            | P::AbnormalCeiling
            | P::AbnormalFloor
            | P::NextMonthForUnpaid
            | P::LateOwnBatch
            | P::FailedNotRepaidByNext
            | P::FailedRepaidNextRegular
            | P::RepaidPrefixBatch
            | P::TextNamesMonth
            | P::FundingGapAhead
            | P::FundingCoveredAhead => Family::Wages,
            P::GuaranteeMissing
            | P::GuaranteeShort
            | P::GuaranteeExpiring
            | P::GuaranteeExpired
            | P::GuaranteeNotReplenished => Family::Guarantee,
            P::OpeningJump
            | P::GapSequence
            | P::BalanceBreak
            | P::StatementMissing
            | P::DuplicateDelivery
            | P::ForeignCurrency => Family::Integrity,
        }
    }

    /// Plants that reshape the project's money so much that they stay alone.
    pub fn alone(self) -> bool {
        matches!(self, Plant::FundingGap | Plant::FundingGapAhead)
    }

    /// The project's balance is kept low (the labor cost paid in only covers the payroll).
    pub fn low_balance(self) -> bool {
        self.alone()
    }

    /// Regular batches named without a month (`PAY-CODE-B1`), so that the month a payment
    /// pays must come from the pay sheet it matches or the pay window, not from the id.
    pub fn plain_batch_ids(self) -> bool {
        matches!(
            self,
            Plant::NextMonthForUnpaid
                | Plant::LateOwnBatch
                | Plant::FailedNotRepaidByNext
                | Plant::FailedRepaidNextRegular
        )
    }

    /// Whether the plant can give its finding as of the world's date.
    pub fn possible(self, env: &Env) -> bool {
        match self {
            Plant::FundingGap => env.funding_gap_possible(),
            _ => true,
        }
    }

    pub fn name(self) -> &'static str {
        use Plant as P;
        match self {
            P::LaborMissing => "labor_missing",
            P::LaborShort => "labor_short",
            P::LaborLate => "labor_late",
            P::FundingGap => "funding_gap",
            P::WagesUnpaid => "wages_unpaid",
            P::WagesShort => "wages_short",
            P::PaymentFailed => "payment_failed",
            P::BatchMismatch => "batch_mismatch",
            P::NonWageDebit => "non_wage_debit",
            P::PayeeNotOnRoster => "payee_not_on_roster",
            P::AbnormalCeiling => "abnormal_ceiling",
            P::AbnormalFloor => "abnormal_floor",
            P::GuaranteeMissing => "guarantee_missing",
            P::GuaranteeShort => "guarantee_short",
            P::GuaranteeExpiring => "guarantee_expiring",
            P::GuaranteeExpired => "guarantee_expired",
            P::GuaranteeNotReplenished => "guarantee_not_replenished",
            P::OpeningJump => "opening_jump",
            P::GapSequence => "statement_gap_sequence",
            P::BalanceBreak => "balance_break",
            P::StatementMissing => "statement_missing",
            P::DuplicateDelivery => "duplicate_delivery",
            P::NextMonthForUnpaid => "next_month_for_unpaid",
            P::LateOwnBatch => "late_own_batch",
            P::FailedNotRepaidByNext => "failed_not_repaid_by_next",
            P::FailedRepaidNextRegular => "failed_repaid_next_regular",
            P::RepaidPrefixBatch => "repaid_prefix_batch",
            P::TextNamesMonth => "text_names_month",
            P::FundingGapAhead => "funding_gap_ahead",
            P::FundingCoveredAhead => "funding_covered_ahead",
            P::ForeignCurrency => "foreign_currency",
        }
    }
}
