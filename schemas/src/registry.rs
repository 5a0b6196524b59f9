//! What a platform operator registers: projects and their parties, dedicated wage accounts,
//! labor-cost obligations, pay sheets, the real-name roster and guarantee requirements.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{CardNumber, Cnaps, CreditCode, IdNumber};
use crate::key::record_key;
use crate::money::Money;
use crate::period::Period;
use crate::province::Province;

/// A legal person taking part in a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    pub credit_code: CreditCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    #[default]
    Open,
    Completed,
    Suspended,
}

impl ProjectStatus {
    /// Every accepted spelling (English in any case, or Chinese), `None` for anything else.
    pub fn parse(s: &str) -> Option<ProjectStatus> {
        match fold(s).as_str() {
            "open" | "在建" | "施工中" | "在施" | "开工" | "已开工" => {
                Some(ProjectStatus::Open)
            }
            "completed" | "竣工" | "已竣工" | "完工" | "已完工" | "竣工验收" => {
                Some(ProjectStatus::Completed)
            }
            "suspended" | "停工" | "已停工" | "暂停" | "暂停施工" => {
                Some(ProjectStatus::Suspended)
            }
            _ => None,
        }
    }

    /// The accepted spellings, for error messages and documentation.
    pub const SPELLINGS: &'static str =
        "open (在建, 施工中), completed (竣工, 完工), suspended (停工, 暂停)";
}

/// Trims, folds ASCII case and writes spaces and hyphens as underscores.
fn fold(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' | '\u{3000}' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Deserialises a closed vocabulary from any spelling its `parse` accepts.
macro_rules! deserialize_by_parse {
    ($ty:ty, $what:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let s = String::deserialize(d)?;
                <$ty>::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        concat!("unknown ", $what, " '{}' (accepted: {})"),
                        s,
                        <$ty>::SPELLINGS
                    ))
                })
            }
        }
    };
}

deserialize_by_parse!(ProjectStatus, "project status");

/// A construction project under supervision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// The platform's project code; the natural key.
    pub code: String,
    pub name: String,
    /// The province whose rules apply (stored as its pinyin key: `fujian`, `guizhou`,
    /// `shenzhen`); read from any spelling, see [`Province`].
    pub province: Province,
    /// 建设单位: the owner, who must pay labor cost into the dedicated account.
    pub construction_unit: Party,
    /// 施工总承包单位: holds the dedicated account and runs agency payroll.
    pub general_contractor: Party,
    #[serde(default)]
    pub subcontractors: Vec<Party>,
    pub contract_amount: Money,
    pub start_date: NaiveDate,
    pub planned_end_date: NaiveDate,
    #[serde(default)]
    pub status: ProjectStatus,
}

impl Project {
    pub fn key(&self) -> String {
        record_key("project", &[&self.code])
    }
}

/// A dedicated wage account (农民工工资专用账户) at a partner bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WageAccount {
    pub account_no: String,
    pub account_name: String,
    pub project_code: String,
    /// Three-digit bank code (102 ICBC, 308 CMB, ...), the first three digits of the CNAPS code.
    pub bank_code: String,
    pub cnaps: Cnaps,
    pub opened_on: NaiveDate,
    #[serde(default = "cny")]
    pub currency: String,
    /// Accounts of the construction unit known to pay labor cost in (matching aid).
    #[serde(default)]
    pub payer_accounts: Vec<String>,
}

pub fn cny() -> String {
    "CNY".to_string()
}

impl WageAccount {
    pub fn key(&self) -> String {
        record_key("account", &[&self.account_no])
    }
}

/// How an obligation's amount is fixed: a sum, or a ratio of a progress payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "basis")]
pub enum ObligationAmount {
    Fixed {
        amount: Money,
    },
    /// `ratio` × `progress_payment`, rounded half away from zero to the fen.
    Ratio {
        ratio: Decimal,
        progress_payment: Money,
    },
}

/// A required labor-cost disbursement (人工费用拨付) into the dedicated account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaborCostObligation {
    /// The operator's id for this instalment, unique within the project.
    pub obligation_id: String,
    pub project_code: String,
    pub period: Period,
    pub due_date: NaiveDate,
    pub amount: Money,
    /// Present when the amount was derived from a ratio (kept as evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_payment: Option<Money>,
}

impl LaborCostObligation {
    pub fn key(&self) -> String {
        record_key("obligation", &[&self.project_code, &self.obligation_id])
    }
}

/// One worker's line on a month's pay sheet (工资支付表): what the worker is owed. `Debug`
/// masks the worker's name.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaySheetLine {
    pub project_code: String,
    pub period: Period,
    /// The subcontractor (or the general contractor) that employs the worker.
    pub employer: String,
    pub worker_name: String,
    pub id_number: IdNumber,
    pub card_number: CardNumber,
    pub gross: Money,
    pub net: Money,
    /// The payroll batch reference the operator registered with this month's pay sheet (the
    /// batch id the bank will report), when known: a payment in that batch pays this month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_ref: Option<String>,
}

impl PaySheetLine {
    pub fn key(&self) -> String {
        record_key(
            "paysheet",
            &[
                &self.project_code,
                &self.period.to_string(),
                self.id_number.expose(),
            ],
        )
    }
}

/// A worker on the project's real-name roster (实名制). `Debug` masks the worker's name.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    pub project_code: String,
    pub worker_name: String,
    pub id_number: IdNumber,
    pub card_number: CardNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entered_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_on: Option<NaiveDate>,
}

impl RosterEntry {
    pub fn key(&self) -> String {
        record_key("roster", &[&self.project_code, self.id_number.expose()])
    }
}

/// The contractor's credit standing, which scales the required guarantee (65号).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ContractorCredit {
    #[default]
    Normal,
    /// Two years without arrears: reduced.
    TwoCleanYears,
    /// Three clean years with real-name registration and a dedicated account: exempt.
    ThreeCleanYears,
    /// Arrears in the last two years: increased.
    ArrearsLastTwoYears,
    /// Listed as seriously untrustworthy: increased, no cap.
    SeriouslyUntrustworthy,
}

impl ContractorCredit {
    /// Every accepted spelling (English in any case, or Chinese), `None` for anything else.
    pub fn parse(s: &str) -> Option<ContractorCredit> {
        use ContractorCredit as C;
        match fold(s).as_str() {
            "normal" | "一般" | "正常" => Some(C::Normal),
            "two_clean_years" | "两年无拖欠" | "连续两年无拖欠" | "2年无拖欠" | "连续2年无拖欠" => {
                Some(C::TwoCleanYears)
            }
            "three_clean_years"
            | "三年无拖欠"
            | "连续三年无拖欠"
            | "3年无拖欠"
            | "连续3年无拖欠" => Some(C::ThreeCleanYears),
            "arrears_last_two_years"
            | "两年内有拖欠"
            | "近两年有拖欠"
            | "2年内有拖欠"
            | "有拖欠" => Some(C::ArrearsLastTwoYears),
            "seriously_untrustworthy" | "严重失信" | "严重失信主体" => {
                Some(C::SeriouslyUntrustworthy)
            }
            _ => None,
        }
    }

    /// The accepted spellings, for error messages and documentation.
    pub const SPELLINGS: &'static str = "normal (一般), two_clean_years (两年无拖欠), three_clean_years (三年无拖欠), arrears_last_two_years (两年内有拖欠), seriously_untrustworthy (严重失信)";
}

deserialize_by_parse!(ContractorCredit, "contractor credit");

/// What guarantee a project must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuaranteeRequirement {
    pub project_code: String,
    /// The amount the rate applies to (usually the project's contract amount).
    pub contract_amount: Money,
    #[serde(default)]
    pub contractor_credit: ContractorCredit,
    /// Overrides the province's rate for this project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    /// Overrides the province's cap for this project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<Money>,
    /// The period the cover must span (the construction period).
    pub cover_from: NaiveDate,
    pub cover_to: NaiveDate,
    /// Cash deposited into the guarantee account instead of a letter.
    #[serde(default)]
    pub cash_deposit: Money,
}

impl GuaranteeRequirement {
    pub fn key(&self) -> String {
        record_key("guarantee_requirement", &[&self.project_code])
    }
}

impl std::fmt::Debug for PaySheetLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaySheetLine")
            .field("project_code", &self.project_code)
            .field("period", &self.period)
            .field("employer", &self.employer)
            .field("worker_name", &crate::ids::mask_name(&self.worker_name))
            .field("id_number", &self.id_number)
            .field("card_number", &self.card_number)
            .field("gross", &self.gross)
            .field("net", &self.net)
            .field("batch_ref", &self.batch_ref)
            .finish()
    }
}

impl std::fmt::Debug for RosterEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RosterEntry")
            .field("project_code", &self.project_code)
            .field("worker_name", &crate::ids::mask_name(&self.worker_name))
            .field("id_number", &self.id_number)
            .field("card_number", &self.card_number)
            .field("employer", &self.employer)
            .field("entered_on", &self.entered_on)
            .field("left_on", &self.left_on)
            .finish()
    }
}
