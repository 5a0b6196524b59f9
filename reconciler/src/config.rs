//! Every threshold, grace period, rate, cap and severity band the reconciler uses. The daemon
//! embeds this under `[reconciler]` in its TOML configuration; every key has a default
//! (documented in `docs/reconciler-config.md`) and `validate()` names the key at fault.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use schemas::{FindingCode, Money, Province, Severity};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reconciler.{key}: {message}")]
pub struct ConfigError {
    /// The dotted key below `reconciler`, e.g. `labor_cost.grace_working_days`.
    pub key: String,
    /// What the value must be, in English.
    pub message: String,
    /// The same in Simplified Chinese.
    pub message_zh: String,
}

impl ConfigError {
    /// `reconciler.KEY：…` in both languages.
    pub fn msg(&self) -> schemas::Msg {
        let (key, zh, en) = (&self.key, &self.message_zh, &self.message);
        schemas::msg!("reconciler.{key} {zh}", "reconciler.{key}: {en}")
    }
}

fn err(key: impl Into<String>, zh: impl Into<String>, en: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: en.into(),
        message_zh: zh.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A working-day calendar file replacing the built-in one (format: `docs/calendar.md`).
    /// The reconciler reads no files: the daemon reads this one at start and hands the text
    /// to [`crate::Calendar::parse`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_file: Option<String>,
    /// The most facts one project may have to be reconciled ([`crate::ProjectFacts::count`]:
    /// its records, each statement entry counted on its own). A real project has at most
    /// tens of thousands; a project with more (one file of millions of payment results, sent
    /// by a broken or hostile sender) is not reconciled but refused with
    /// [`crate::ReconcileError::TooManyFacts`], and the daemon keeps none of its facts (it counts them as it reads them).
    pub max_project_facts: u64,
    pub labor_cost: LaborCostConfig,
    pub wages: WagesConfig,
    pub payroll: PayrollConfig,
    pub abnormal_pay: AbnormalPayConfig,
    pub guarantee: GuaranteeConfig,
    pub statements: StatementConfig,
    pub severity: SeverityConfig,
}

/// The default of [`Config::max_project_facts`]: ten times a large real project (tens of
/// thousands of facts), and small enough that one project's reconciliation stays well under
/// a GiB (docs/BENCHMARKS.md, "The reconciliation after a 1 GiB pain.002 explodes").
pub const DEFAULT_MAX_PROJECT_FACTS: u64 = 200_000;

/// The smallest [`Config::max_project_facts`] accepted: below it a real project would be
/// refused.
pub const MIN_MAX_PROJECT_FACTS: u64 = 10_000;

impl Default for Config {
    fn default() -> Self {
        Config {
            calendar_file: None,
            max_project_facts: DEFAULT_MAX_PROJECT_FACTS,
            labor_cost: LaborCostConfig::default(),
            wages: WagesConfig::default(),
            payroll: PayrollConfig::default(),
            abnormal_pay: AbnormalPayConfig::default(),
            guarantee: GuaranteeConfig::default(),
            statements: StatementConfig::default(),
            severity: SeverityConfig::default(),
        }
    }
}

/// Labor-cost disbursements (人工费用拨付).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LaborCostConfig {
    /// Working days after an obligation's due date before it counts as missed.
    pub grace_working_days: u32,
    /// A payment completed at most this many calendar days after the deadline is not LATE.
    pub late_tolerance_days: u32,
    /// A credit booked more than this many days before an obligation's due date is not
    /// matched to it by amount and date alone (a reference in the remittance still matches).
    pub match_days_before_due: u32,
    /// Accept a credit from a counterparty whose name equals the construction unit's name
    /// (after normalising spaces and full-width brackets) as labor cost, even from an account
    /// not listed in `payer_accounts`.
    pub match_payer_by_name: bool,
    /// Accept any credit whose remittance text names an obligation id, whoever sent it.
    pub match_by_reference_from_any_payer: bool,
}

impl Default for LaborCostConfig {
    fn default() -> Self {
        LaborCostConfig {
            grace_working_days: 3,
            late_tolerance_days: 0,
            match_days_before_due: 45,
            match_payer_by_name: true,
            match_by_reference_from_any_payer: true,
        }
    }
}

/// Wages owed on pay sheets and agency-payroll results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WagesConfig {
    /// Wages of month M are due in month M + `deadline_months_after` ...
    pub deadline_months_after: u32,
    /// ... on this day of that month (0 = its last day; a larger day than the month has
    /// means its last day).
    pub deadline_day: u32,
    /// Calendar days of grace after the pay deadline.
    pub grace_days: u32,
    /// A failed payroll line not re-paid within this many calendar days of its pay date.
    pub failed_unresolved_days: u32,
}

impl Default for WagesConfig {
    fn default() -> Self {
        WagesConfig {
            deadline_months_after: 1,
            deadline_day: 0,
            grace_days: 0,
            failed_unresolved_days: 10,
        }
    }
}

/// Statement side of payroll: bulk debits, return credits, non-wage debits, funding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PayrollConfig {
    /// A bulk debit without a batch reference is linked to a batch whose successful (or
    /// gross) total equals it exactly and whose pay date is within this many days.
    pub batch_date_window_days: u32,
    /// Days to wait for a payroll result file before a debit that matches no batch is a
    /// NON_WAGE_DEBIT, and for a bulk debit before a batch without one is a BATCH_MISMATCH.
    pub result_wait_days: u32,
    /// Counterparties (account numbers or exact names) a debit may go to without being a
    /// NON_WAGE_DEBIT: the guarantee account for an authorised drawdown, a closing transfer.
    pub allowed_counterparties: Vec<String>,
    /// PAYROLL_FUNDING_GAP is checked for every filed pay sheet whose deadline has not
    /// passed; it is orange when the deadline is at most this many days away (yellow beyond).
    pub funding_lookahead_days: u32,
    /// ... and red when the deadline is at most this many days away.
    pub funding_red_days: u32,
}

impl Default for PayrollConfig {
    fn default() -> Self {
        PayrollConfig {
            batch_date_window_days: 3,
            result_wait_days: 5,
            allowed_counterparties: Vec::new(),
            funding_lookahead_days: 10,
            funding_red_days: 3,
        }
    }
}

/// ABNORMAL_PAY thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbnormalPayConfig {
    /// Average net pay per head below this monthly floor is abnormal (default: a typical
    /// provincial monthly minimum wage). `provinces` overrides it per province.
    #[serde(deserialize_with = "lenient::money")]
    pub floor_monthly: Money,
    /// One worker's net pay above this is abnormal.
    #[serde(deserialize_with = "lenient::money")]
    pub ceiling_monthly: Money,
    /// Per-province monthly floors, keyed by province in any spelling (`fujian`, `福建`,
    /// `350000`); an unknown province is a configuration error.
    #[serde(deserialize_with = "lenient::money_map")]
    pub provinces: BTreeMap<Province, Money>,
}

impl Default for AbnormalPayConfig {
    fn default() -> Self {
        AbnormalPayConfig {
            floor_monthly: Money::from_fen(190_000),
            ceiling_monthly: Money::from_fen(5_000_000),
            provinces: BTreeMap::new(),
        }
    }
}

/// One province's wage-guarantee rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvinceGuarantee {
    #[serde(deserialize_with = "lenient::decimal")]
    pub rate: Decimal,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_money"
    )]
    pub cap: Option<Money>,
}

/// How contractor credit scales the required guarantee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreditAdjustments {
    /// Multiplier for two clean years (0.5 = −50%).
    #[serde(deserialize_with = "lenient::decimal")]
    pub two_clean_years: Decimal,
    /// Three clean years with real-name and dedicated account: exempt when true.
    pub three_clean_years_exempt: bool,
    /// Multiplier for arrears in the last two years (1.5 = +50%).
    #[serde(deserialize_with = "lenient::decimal")]
    pub arrears_last_two_years: Decimal,
    /// Multiplier for the seriously untrustworthy (2 = +100%); no cap applies.
    #[serde(deserialize_with = "lenient::decimal")]
    pub seriously_untrustworthy: Decimal,
}

impl Default for CreditAdjustments {
    fn default() -> Self {
        CreditAdjustments {
            two_clean_years: Decimal::new(5, 1),
            three_clean_years_exempt: true,
            arrears_last_two_years: Decimal::new(15, 1),
            seriously_untrustworthy: Decimal::new(2, 0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuaranteeConfig {
    /// The national default rate where no province rule applies (the national floor, 1%).
    #[serde(deserialize_with = "lenient::decimal")]
    pub default_rate: Decimal,
    /// The national default cap (none).
    #[serde(deserialize_with = "lenient::opt_money")]
    pub default_cap: Option<Money>,
    /// Province rules, keyed by province in any spelling (`fujian`, `福建`, `350000`; an
    /// unknown province is a configuration error). Entries given in a configuration file add
    /// to or replace the built-in ones (Fujian, Guizhou, Shenzhen).
    #[serde(deserialize_with = "merge_provinces")]
    pub provinces: BTreeMap<Province, ProvinceGuarantee>,
    pub credit: CreditAdjustments,
    /// Raise GUARANTEE_EXPIRING this many days before a letter's expiry.
    pub expiring_days: u32,
    /// Working days allowed to top up after a drawdown.
    pub replenish_working_days: u32,
    /// Calendar days after the cover period starts before a missing guarantee is raised.
    pub grace_days: u32,
    /// Without a registered requirement, require the guarantee from the project's contract
    /// amount and construction period.
    pub derive_from_project: bool,
}

impl Default for GuaranteeConfig {
    fn default() -> Self {
        let mut provinces = BTreeMap::new();
        provinces.insert(
            Province::Fujian,
            ProvinceGuarantee {
                rate: Decimal::new(15, 3),
                cap: Some(Money::from_fen(500_000_000)),
            },
        );
        provinces.insert(
            Province::Guizhou,
            ProvinceGuarantee {
                rate: Decimal::new(2, 2),
                cap: Some(Money::from_fen(1_000_000_000)),
            },
        );
        provinces.insert(
            Province::Shenzhen,
            ProvinceGuarantee {
                rate: Decimal::new(3, 2),
                cap: Some(Money::from_fen(300_000_000)),
            },
        );
        GuaranteeConfig {
            default_rate: Decimal::new(1, 2),
            default_cap: None,
            provinces,
            credit: CreditAdjustments::default(),
            expiring_days: 30,
            replenish_working_days: 10,
            grace_days: 0,
            derive_from_project: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatementConfig {
    /// Raise STATEMENT_MISSING at all.
    pub missing_enabled: bool,
    /// The end-of-day statement for business day D is expected by this many working days
    /// after D.
    pub missing_after_working_days: u32,
}

impl Default for StatementConfig {
    fn default() -> Self {
        StatementConfig {
            missing_enabled: true,
            missing_after_working_days: 1,
        }
    }
}

/// Severity bands. Findings about a duty with a deadline are graded by how long it is
/// overdue and by the amount short; the others have a fixed severity per code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityConfig {
    /// Overdue by more than this many days: orange (yellow up to it).
    pub orange_after_days: u32,
    /// Overdue by more than this many days: red.
    pub red_after_days: u32,
    /// An amount short at or above this is red whatever its age.
    #[serde(deserialize_with = "lenient::money")]
    pub red_amount: Money,
    /// Fixed severities of codes that are not graded by age (and overrides for graded ones).
    /// Entries given in a configuration file add to or replace the built-in ones.
    #[serde(deserialize_with = "merge_fixed")]
    pub fixed: BTreeMap<FindingCode, Severity>,
}

impl Default for SeverityConfig {
    fn default() -> Self {
        use FindingCode as C;
        let fixed = [
            (C::BatchMismatch, Severity::Orange),
            (C::NonWageDebit, Severity::Red),
            (C::PayeeNotOnRoster, Severity::Red),
            (C::AbnormalPay, Severity::Yellow),
            (C::GuaranteeExpiring, Severity::Yellow),
            (C::StatementGap, Severity::Orange),
            (C::BalanceBreak, Severity::Orange),
            (C::StatementMissing, Severity::Yellow),
            (C::DuplicateDelivery, Severity::Orange),
        ]
        .into_iter()
        .collect();
        SeverityConfig {
            orange_after_days: 30,
            red_after_days: 60,
            red_amount: Money::from_fen(100_000_000),
            fixed,
        }
    }
}

fn merge_provinces<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<Province, ProvinceGuarantee>, D::Error> {
    let given = BTreeMap::<Province, ProvinceGuarantee>::deserialize(d)?;
    let mut all = GuaranteeConfig::default().provinces;
    all.extend(given);
    Ok(all)
}

fn merge_fixed<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<FindingCode, Severity>, D::Error> {
    let given = BTreeMap::<FindingCode, Severity>::deserialize(d)?;
    let mut all = SeverityConfig::default().fixed;
    all.extend(given);
    Ok(all)
}

impl Config {
    /// Checks every value; the error names the key (below `reconciler.`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_project_facts < MIN_MAX_PROJECT_FACTS {
            return Err(err(
                "max_project_facts",
                format!("至少为 {MIN_MAX_PROJECT_FACTS}（一个真实项目有数万条事实）"),
format!("must be at least {MIN_MAX_PROJECT_FACTS} (a real project has tens of thousands of facts)"),
            ));
        }
        let lc = &self.labor_cost;
        if lc.grace_working_days > 60 {
            return Err(err(
                "labor_cost.grace_working_days",
                "不得大于 60",
                "must be at most 60",
            ));
        }
        if lc.match_days_before_due > 366 {
            return Err(err(
                "labor_cost.match_days_before_due",
                "不得大于 366",
                "must be at most 366",
            ));
        }
        let w = &self.wages;
        if w.deadline_months_after > 12 {
            return Err(err(
                "wages.deadline_months_after",
                "不得大于 12",
                "must be at most 12",
            ));
        }
        if w.deadline_day > 31 {
            return Err(err(
                "wages.deadline_day",
                "应为 0（月末）至 31",
                "must be 0 (last day) to 31",
            ));
        }
        if w.failed_unresolved_days == 0 {
            return Err(err(
                "wages.failed_unresolved_days",
                "至少为 1",
                "must be at least 1",
            ));
        }
        let p = &self.payroll;
        if p.batch_date_window_days > 31 {
            return Err(err(
                "payroll.batch_date_window_days",
                "不得大于 31",
                "must be at most 31",
            ));
        }
        if p.funding_red_days > p.funding_lookahead_days {
            return Err(err(
                "payroll.funding_red_days",
                "不得大于 payroll.funding_lookahead_days",
                "must be at most payroll.funding_lookahead_days",
            ));
        }
        if p.funding_lookahead_days > 366 {
            return Err(err(
                "payroll.funding_lookahead_days",
                "不得大于 366",
                "must be at most 366",
            ));
        }
        for (i, c) in p.allowed_counterparties.iter().enumerate() {
            if c.trim().is_empty() {
                return Err(err(
                    format!("payroll.allowed_counterparties[{i}]"),
                    "不能为空",
                    "must not be empty",
                ));
            }
        }
        let a = &self.abnormal_pay;
        if a.floor_monthly.is_negative() {
            return Err(err(
                "abnormal_pay.floor_monthly",
                "不能为负数",
                "must not be negative",
            ));
        }
        if a.ceiling_monthly <= a.floor_monthly {
            return Err(err(
                "abnormal_pay.ceiling_monthly",
                "必须大于 abnormal_pay.floor_monthly",
                "must be greater than abnormal_pay.floor_monthly",
            ));
        }
        for (prov, floor) in &a.provinces {
            if floor.is_negative() || *floor >= a.ceiling_monthly {
                return Err(err(
                    format!("abnormal_pay.provinces.{prov}"),
                    "应在 0 与 abnormal_pay.ceiling_monthly 之间",
                    "must be between 0 and abnormal_pay.ceiling_monthly",
                ));
            }
        }
        let g = &self.guarantee;
        check_rate("guarantee.default_rate", g.default_rate)?;
        check_cap("guarantee.default_cap", g.default_cap)?;
        for (prov, rule) in &g.provinces {
            check_rate(&format!("guarantee.provinces.{prov}.rate"), rule.rate)?;
            check_cap(&format!("guarantee.provinces.{prov}.cap"), rule.cap)?;
        }
        let c = &g.credit;
        let mult = |key: &str, v: Decimal| {
            if v.is_sign_negative() || v > Decimal::new(10, 0) {
                Err(err(
                    format!("guarantee.credit.{key}"),
                    "应在 0 至 10 之间",
                    "must be between 0 and 10",
                ))
            } else {
                Ok(())
            }
        };
        mult("two_clean_years", c.two_clean_years)?;
        mult("arrears_last_two_years", c.arrears_last_two_years)?;
        mult("seriously_untrustworthy", c.seriously_untrustworthy)?;
        if g.expiring_days > 366 {
            return Err(err(
                "guarantee.expiring_days",
                "不得大于 366",
                "must be at most 366",
            ));
        }
        if g.replenish_working_days == 0 || g.replenish_working_days > 100 {
            return Err(err(
                "guarantee.replenish_working_days",
                "应为 1 至 100",
                "must be 1 to 100",
            ));
        }
        if self.statements.missing_after_working_days > 30 {
            return Err(err(
                "statements.missing_after_working_days",
                "不得大于 30",
                "must be at most 30",
            ));
        }
        let s = &self.severity;
        if s.orange_after_days >= s.red_after_days {
            return Err(err(
                "severity.red_after_days",
                "必须大于 severity.orange_after_days",
                "must be greater than severity.orange_after_days",
            ));
        }
        if s.red_amount.fen() <= 0 {
            return Err(err("severity.red_amount", "必须大于 0", "must be positive"));
        }
        Ok(())
    }

    /// The guarantee rule of a province, or the national default for a province without
    /// one. The province is the canonical type, so an unknown spelling cannot reach here and
    /// silently get the default.
    pub fn guarantee_rule(&self, province: Province) -> ProvinceGuarantee {
        self.guarantee
            .provinces
            .get(&province)
            .cloned()
            .unwrap_or(ProvinceGuarantee {
                rate: self.guarantee.default_rate,
                cap: self.guarantee.default_cap,
            })
    }

    /// The monthly pay floor of a province.
    pub fn pay_floor(&self, province: Province) -> Money {
        self.abnormal_pay
            .provinces
            .get(&province)
            .copied()
            .unwrap_or(self.abnormal_pay.floor_monthly)
    }
}

fn check_rate(key: &str, rate: Decimal) -> Result<(), ConfigError> {
    if rate.is_sign_negative() || rate > Decimal::new(1, 1) {
        return Err(err(
            key,
            "应为 0 至 0.10 之间的小数（如 0.02 表示 2%）",
            "must be a fraction between 0 and 0.10 (e.g. 0.02 for 2%)",
        ));
    }
    Ok(())
}

fn check_cap(key: &str, cap: Option<Money>) -> Result<(), ConfigError> {
    match cap {
        Some(c) if c.fen() <= 0 => Err(err(key, "必须大于 0", "must be positive")),
        _ => Ok(()),
    }
}

/// Deserializers for amounts and ratios that also accept what configuration layers produce:
/// `WAGEGATE__...` environment variables parsed as numbers turn `"2100.50"` into a float.
/// A float is taken through its shortest decimal text (`2100.5`), which is exact for any value
/// written with two decimals; `Money::parse` still refuses more than two.
mod lenient {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use schemas::{Money, Province};
    use serde::de::{self, Deserializer, Visitor};
    use serde::Deserialize;

    struct MoneyV;

    impl Visitor<'_> for MoneyV {
        type Value = Money;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an amount such as \"1900.00\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
            Money::parse(v).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
            Money::from_yuan(v).ok_or_else(|| E::custom("amount out of range"))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
            i64::try_from(v)
                .ok()
                .and_then(Money::from_yuan)
                .ok_or_else(|| E::custom("amount out of range"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Money, E> {
            Money::parse(&format!("{v}")).map_err(E::custom)
        }
    }

    pub fn money<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        d.deserialize_any(MoneyV)
    }

    #[derive(Deserialize)]
    struct M(#[serde(deserialize_with = "money")] Money);

    pub fn opt_money<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Money>, D::Error> {
        Ok(Option::<M>::deserialize(d)?.map(|m| m.0))
    }

    pub fn money_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<Province, Money>, D::Error> {
        Ok(BTreeMap::<Province, M>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect())
    }

    struct DecV;

    impl Visitor<'_> for DecV {
        type Value = Decimal;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal such as \"0.015\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            Decimal::from_str(v.trim()).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            Decimal::from_str(&format!("{v}")).map_err(E::custom)
        }
    }

    pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(DecV)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn toml_round_trip_and_partial_override() {
        let text = r#"
            [labor_cost]
            grace_working_days = 5
            [guarantee.provinces.hunan]
            rate = "0.025"
            cap = "4000000.00"
            [severity.fixed]
            NON_WAGE_DEBIT = "orange"
        "#;
        let c: Config = toml::from_str(text).unwrap();
        assert_eq!(c.labor_cost.grace_working_days, 5);
        assert_eq!(c.labor_cost.match_days_before_due, 45);
        assert_eq!(c.guarantee_rule(Province::Hunan).rate, Decimal::new(25, 3));
        assert_eq!(
            c.guarantee_rule(Province::Hunan).cap,
            Some(Money::from_fen(400_000_000))
        );
        assert_eq!(
            c.severity.fixed.get(&FindingCode::NonWageDebit),
            Some(&Severity::Orange)
        );
        c.validate().unwrap();
        let back = toml::to_string(&Config::default()).unwrap();
        let again: Config = toml::from_str(&back).unwrap();
        assert_eq!(again, Config::default());
    }

    #[test]
    fn province_keys_read_any_spelling_and_refuse_the_unknown() {
        let c: Config = toml::from_str(
            r#"
            [guarantee.provinces."湖南省"]
            rate = "0.025"
            [abnormal_pay.provinces]
            350000 = "2030.00"
        "#,
        )
        .unwrap();
        assert_eq!(c.guarantee_rule(Province::Hunan).rate, Decimal::new(25, 3));
        assert_eq!(c.pay_floor(Province::Fujian), Money::from_fen(203_000));
        // The built-in rules stay, under their canonical key.
        assert_eq!(c.guarantee_rule(Province::Fujian).rate, Decimal::new(15, 3));
        let e = toml::from_str::<Config>(
            r#"
            [guarantee.provinces."福建州"]
            rate = "0.02"
        "#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("福建州"), "{e}");
    }

    #[test]
    fn invalid_values_name_their_key() {
        let mut c = Config::default();
        c.guarantee
            .provinces
            .get_mut(&Province::Fujian)
            .unwrap()
            .rate = Decimal::new(5, 1);
        assert_eq!(
            c.validate().unwrap_err().key,
            "guarantee.provinces.fujian.rate"
        );
        let mut c = Config::default();
        c.severity.red_after_days = 10;
        assert_eq!(c.validate().unwrap_err().key, "severity.red_after_days");
        let mut c = Config::default();
        c.abnormal_pay.ceiling_monthly = Money::from_fen(100);
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "abnormal_pay.ceiling_monthly");
        assert!(e
            .to_string()
            .starts_with("reconciler.abnormal_pay.ceiling_monthly"));
        assert!(toml::from_str::<Config>("[wages]\nfoo = 1").is_err());
    }
}
