//! Findings (预警): what the reconciler raises, with evidence, severity and a lifecycle.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::key::record_key;
use crate::money::Money;
use crate::period::Period;

macro_rules! codes {
    ($($variant:ident => $name:literal, $basis:literal;)*) => {
        /// Every finding code of DOMAIN.md §4.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum FindingCode { $($variant),* }

        impl FindingCode {
            pub const ALL: &'static [FindingCode] = &[$(FindingCode::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(FindingCode::$variant => $name),* }
            }

            /// The legal basis cited with the finding.
            pub fn basis(self) -> &'static str {
                match self { $(FindingCode::$variant => $basis),* }
            }
        }

        impl FromStr for FindingCode {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($name => Ok(FindingCode::$variant),)*
                    other => Err(format!("unknown finding code '{other}'")),
                }
            }
        }
    };
}

codes! {
    LaborCostMissing => "LABOR_COST_MISSING", "保障农民工工资支付条例 第二十四条、第二十七条、第二十九条、第五十七条";
    LaborCostShort => "LABOR_COST_SHORT", "保障农民工工资支付条例 第二十四条、第二十七条、第二十九条、第五十七条";
    LaborCostLate => "LABOR_COST_LATE", "保障农民工工资支付条例 第二十四条、第二十九条";
    PayrollFundingGap => "PAYROLL_FUNDING_GAP", "人社部发〔2021〕53号 专用账户余额不足时的补足规定";
    WagesUnpaid => "WAGES_UNPAID", "保障农民工工资支付条例 第十二条至第十四条、第三十一条";
    WagesShort => "WAGES_SHORT", "保障农民工工资支付条例 第十二条至第十四条、第三十一条";
    PaymentFailedUnresolved => "PAYMENT_FAILED_UNRESOLVED", "保障农民工工资支付条例 第三十一条";
    BatchMismatch => "BATCH_MISMATCH", "代发工资三方核对（对账单、代发结果、工资支付表）";
    NonWageDebit => "NON_WAGE_DEBIT", "保障农民工工资支付条例 第十一条、第三十三条；人社部发〔2021〕53号";
    PayeeNotOnRoster => "PAYEE_NOT_ON_ROSTER", "保障农民工工资支付条例 第二十八条、第三十一条";
    AbnormalPay => "ABNORMAL_PAY", "监管平台异常工资监测规则";
    GuaranteeMissing => "GUARANTEE_MISSING", "保障农民工工资支付条例 第三十二条、第五十五条；人社部发〔2021〕65号";
    GuaranteeShort => "GUARANTEE_SHORT", "保障农民工工资支付条例 第三十二条、第五十五条；人社部发〔2021〕65号";
    GuaranteeExpiring => "GUARANTEE_EXPIRING", "人社部发〔2021〕65号 保函有效期";
    GuaranteeExpired => "GUARANTEE_EXPIRED", "保障农民工工资支付条例 第三十二条；人社部发〔2021〕65号";
    GuaranteeNotReplenished => "GUARANTEE_NOT_REPLENISHED", "人社部发〔2021〕65号 动用后10个工作日内补足";
    StatementGap => "STATEMENT_GAP", "数据完整性：对账单连续性";
    BalanceBreak => "BALANCE_BREAK", "数据完整性：余额勾稽";
    StatementMissing => "STATEMENT_MISSING", "数据完整性：每个工作日应有对账单";
    DuplicateDelivery => "DUPLICATE_DELIVERY", "数据完整性：重复报送内容不一致";
}

impl FindingCode {
    /// The legal basis in English: the same citations as [`FindingCode::basis`].
    pub fn basis_en(self) -> &'static str {
        use FindingCode::*;
        match self {
        LaborCostMissing | LaborCostShort => {
            "Regulations on Guaranteeing Payment of Wages to Migrant Workers, arts. 24, 27, 29, 57"
        }
        LaborCostLate => {
            "Regulations on Guaranteeing Payment of Wages to Migrant Workers, arts. 24, 29"
        }
        PayrollFundingGap => "MOHRSS [2021] No. 53: topping up the dedicated account",
        WagesUnpaid | WagesShort => {
            "Regulations on Guaranteeing Payment of Wages to Migrant Workers, arts. 12-14, 31"
        }
        PaymentFailedUnresolved => {
            "Regulations on Guaranteeing Payment of Wages to Migrant Workers, art. 31"
        }
        BatchMismatch => {
            "Three-way check of agency payroll (statement, payment results, pay sheet)"
        }
        NonWageDebit => {
            "Regulations on Guaranteeing Payment of Wages to Migrant Workers, arts. 11, 33; MOHRSS [2021] No. 53"
        }
        PayeeNotOnRoster => {
            "Regulations on Guaranteeing Payment of Wages to Migrant Workers, arts. 28, 31"
        }
        AbnormalPay => "Supervision platform rules for abnormal wages",
        GuaranteeMissing | GuaranteeShort => {
            "Regulations on Guaranteeing Payment of Wages to Migrant Workers, arts. 32, 55; MOHRSS [2021] No. 65"
        }
        GuaranteeExpiring => "MOHRSS [2021] No. 65: validity of guarantee letters",
        GuaranteeExpired => {
            "Regulations on Guaranteeing Payment of Wages to Migrant Workers, art. 32; MOHRSS [2021] No. 65"
        }
        GuaranteeNotReplenished => {
            "MOHRSS [2021] No. 65: replenish within 10 working days after use"
        }
        StatementGap => "Data integrity: statement continuity",
        BalanceBreak => "Data integrity: balances carry over",
        StatementMissing => "Data integrity: a statement for every working day",
        DuplicateDelivery => "Data integrity: a re-delivery differs from the first",
    }
    }

    /// The legal basis in `lang`: the reconciler's Chinese citation, or its English form.
    pub fn basis_in(self, lang: crate::Lang) -> &'static str {
        match lang {
            crate::Lang::Zh => self.basis(),
            crate::Lang::En => self.basis_en(),
        }
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Graded alerts: yellow, orange, red (the platforms' 预警等级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Yellow,
    Orange,
    Red,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Yellow => "yellow",
            Severity::Orange => "orange",
            Severity::Red => "red",
        }
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "yellow" => Ok(Severity::Yellow),
            "orange" => Ok(Severity::Orange),
            "red" => Ok(Severity::Red),
            other => Err(format!("unknown severity '{other}' (yellow, orange, red)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    Acknowledged,
    Resolved,
    Dismissed,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Acknowledged => "acknowledged",
            FindingStatus::Resolved => "resolved",
            FindingStatus::Dismissed => "dismissed",
        }
    }

    /// As the console, the CLI and the store's refusals say it: 待处理 / 已确认 / 已解决 /
    /// 已驳回, or Open / Acknowledged / Resolved / Dismissed.
    pub fn label(self, lang: crate::Lang) -> &'static str {
        match self {
            FindingStatus::Open => lang.pick("待处理", "Open"),
            FindingStatus::Acknowledged => lang.pick("已确认", "Acknowledged"),
            FindingStatus::Resolved => lang.pick("已解决", "Resolved"),
            FindingStatus::Dismissed => lang.pick("已驳回", "Dismissed"),
        }
    }
}

impl FromStr for FindingStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "open" => Ok(FindingStatus::Open),
            "acknowledged" => Ok(FindingStatus::Acknowledged),
            "resolved" => Ok(FindingStatus::Resolved),
            "dismissed" => Ok(FindingStatus::Dismissed),
            other => Err(format!("unknown status '{other}'")),
        }
    }
}

/// What kind of record a piece of evidence points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Obligation,
    StatementEntry,
    Statement,
    PaymentResult,
    PayrollBatch,
    PaySheetLine,
    RosterEntry,
    GuaranteeLetter,
    GuaranteeRequirement,
    InboundFile,
    /// Not a record: the working-day calendar did not cover a date a deadline was computed
    /// over, so Monday–Friday were taken as working days (key `calendar/fallback/YEAR`).
    Calendar,
}

/// The rule by which a wage payment was attributed to a pay-sheet month, in the order of
/// DOMAIN.md §4 ("Which month a wage payment pays").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttributionRule {
    /// The result itself names the month (the platform push's period).
    NamedPeriod,
    /// The remittance text of the statement debit that paid it names the month
    /// (`2026年5月工资`, `5月份工资`, `2026-05`, `202605工资` ...).
    NamedText,
    /// Its batch is the batch reference an operator registered with that month's pay sheet.
    RegisteredBatch,
    /// Its batch pays that month's pay sheet as a whole (same workers, same net amounts).
    WholeSheet,
    /// The only month still owed to the worker whose pay window (first day to pay deadline)
    /// holds the payment date.
    PayWindow,
    /// The oldest month still owed to the worker (several fitted, or none's window held the
    /// date): `ambiguous` says whether there was a choice.
    OldestOwed,
    /// No month could be given (no pay-sheet line of the worker had begun by the pay date).
    Unattributed,
}

impl AttributionRule {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributionRule::NamedPeriod => "named_period",
            AttributionRule::NamedText => "named_text",
            AttributionRule::RegisteredBatch => "registered_batch",
            AttributionRule::WholeSheet => "whole_sheet",
            AttributionRule::PayWindow => "pay_window",
            AttributionRule::OldestOwed => "oldest_owed",
            AttributionRule::Unattributed => "unattributed",
        }
    }
}

/// Which month a wage payment (or a failed one) was attributed to, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attribution {
    /// The month; absent when `rule` is `unattributed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<Period>,
    pub rule: AttributionRule,
    /// More than one month fitted; the oldest was taken.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ambiguous: bool,
    /// The months that fitted (when ambiguous) or were named (when a text named several).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Period>,
    /// The text a month was read from, for `named_text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One record a finding was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The record's deterministic key.
    pub key: String,
    /// A short human description in English (personal data masked).
    pub description: String,
    /// The same description in Simplified Chinese (absent in findings stored before it
    /// existed: readers then show the English).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description_zh: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// For a payment result: the month it was attributed to and by which rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
}

impl Evidence {
    /// The description in `lang` (English when no Chinese was stored).
    pub fn description_in(&self, lang: crate::Lang) -> &str {
        lang.pick_stored(&self.description_zh, &self.description)
    }
}

/// A finding as computed by the reconciler core (no lifecycle yet: that is the store's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// Stable id: the same facts give the same id.
    pub id: String,
    pub code: FindingCode,
    pub project: String,
    /// The month (or other span) the finding is about, e.g. `2026-09`.
    pub period: String,
    pub amount_short: Money,
    pub severity: Severity,
    pub basis: String,
    /// One line a person can read, in English.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// The arithmetic behind `amount_short`, one step a line, in English.
    pub computation: Vec<String>,
    /// The summary in Simplified Chinese.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary_zh: String,
    /// The arithmetic in Simplified Chinese, line for line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub computation_zh: Vec<String>,
    /// The date the duty fell due (deadline), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
}

impl Finding {
    /// The summary in `lang` (English when no Chinese was stored).
    pub fn summary_in(&self, lang: crate::Lang) -> &str {
        lang.pick_stored(&self.summary_zh, &self.summary)
    }

    /// The arithmetic in `lang` (English when no Chinese was stored).
    pub fn computation_in(&self, lang: crate::Lang) -> &[String] {
        match lang {
            crate::Lang::Zh if !self.computation_zh.is_empty() => &self.computation_zh,
            _ => &self.computation,
        }
    }

    /// The stable id of a finding: code, project and what it is about (the subject), never
    /// the amounts, so that a finding whose amount changes keeps its id.
    pub fn stable_id(code: FindingCode, project: &str, subject: &str) -> String {
        format!(
            "F-{}",
            &record_key("finding", &[code.as_str(), project, subject])[..20]
        )
    }
}

/// A stored finding with its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredFinding {
    #[serde(flatten)]
    pub finding: Finding,
    pub status: FindingStatus,
    pub first_seen: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
}

/// One lifecycle change, audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingEvent {
    pub finding_id: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub from: Option<FindingStatus>,
    pub to: FindingStatus,
    pub reason: Option<String>,
}
