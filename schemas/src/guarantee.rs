//! The canonical guarantee letter (保函 / 保证保险 / 担保函 / cash deposit receipt). No
//! national standard exists: this is wagegate's record, accepted as XML (`schemas/guarantee.xsd`)
//! and JSON (`schemas/guarantee.schema.json`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::CreditCode;
use crate::key::record_key;
use crate::lang::Lang;
use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuaranteeForm {
    BankGuarantee,
    InsurancePolicy,
    GuarantorLetter,
    CashDeposit,
}

/// What this message does to the letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuaranteeAction {
    New,
    Renew,
    TopUp,
    Cancel,
    /// A drawdown (claim) paid out of the guarantee; the contractor must top up.
    Claim,
}

impl GuaranteeAction {
    /// As a person reads it: 新开 / 续期 / 增额 / 撤销 / 索赔, or new / renewal / top-up /
    /// cancellation / claim.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            GuaranteeAction::New => lang.pick("新开", "new"),
            GuaranteeAction::Renew => lang.pick("续期", "renewal"),
            GuaranteeAction::TopUp => lang.pick("增额", "top-up"),
            GuaranteeAction::Cancel => lang.pick("撤销", "cancellation"),
            GuaranteeAction::Claim => lang.pick("索赔", "claim"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuaranteeStatus {
    Issued,
    Accepted,
    Rejected,
    Released,
    Claimed,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuaranteeLetter {
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
    pub form: GuaranteeForm,
    pub issuer_name: String,
    /// The issuer's code (bank code or insurer's credit code); what a partner may send for.
    pub issuer_code: String,
    pub applicant_name: String,
    pub applicant_credit_code: CreditCode,
    pub beneficiary: String,
    pub project_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_amount: Option<Money>,
    pub guaranteed_amount: Money,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    pub irrevocable_on_demand: bool,
    pub action: GuaranteeAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_number: Option<String>,
    pub status: GuaranteeStatus,
    /// The day this message takes effect (issue, top-up, cancellation or claim date).
    pub event_date: NaiveDate,
    /// For a claim: the amount drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_hash: Option<String>,
}

impl GuaranteeLetter {
    pub fn key(&self) -> String {
        let action = serde_json::to_string(&self.action).unwrap_or_default();
        record_key(
            "guarantee",
            &[
                &self.issuer_code,
                &self.number,
                &action,
                &self.event_date.to_string(),
            ],
        )
    }
}
