//! Labels and formats for people: Simplified Chinese first, English on request. Shared by
//! the console pages, the CLI and the exports, so that a finding reads the same everywhere.
//!
//! Finding summaries are rendered here from the finding's code and structured fields
//! (project, period, amount, due date), never translated from the reconciler's English line.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use schemas::{EvidenceKind, Finding, FindingCode, FindingStatus, Money, Severity};

pub use schemas::Lang;

/// The name of a finding code.
pub fn code_label(code: FindingCode, lang: Lang) -> &'static str {
    use FindingCode::*;
    let (zh, en) = match code {
        LaborCostMissing => ("人工费用未拨付", "Labor cost not paid in"),
        LaborCostShort => ("人工费用拨付不足", "Labor cost paid in short"),
        LaborCostLate => ("人工费用拨付逾期", "Labor cost paid in late"),
        PayrollFundingGap => (
            "专用账户余额不足以发放工资",
            "Wage account cannot fund payroll",
        ),
        WagesUnpaid => ("拖欠工资", "Wages unpaid"),
        WagesShort => ("工资少发", "Wages paid short"),
        PaymentFailedUnresolved => ("代发失败未处理", "Failed payment not resolved"),
        BatchMismatch => (
            "代发批次与工资支付表不符",
            "Payroll batch does not match pay sheet",
        ),
        NonWageDebit => ("专用账户非工资支出", "Non-wage debit from wage account"),
        PayeeNotOnRoster => ("收款人不在实名名册", "Payee not on the worker roster"),
        AbnormalPay => ("工资金额异常", "Abnormal pay amount"),
        GuaranteeMissing => ("未提交工资保证金（保函）", "Wage guarantee missing"),
        GuaranteeShort => ("工资保证金不足", "Wage guarantee short"),
        GuaranteeExpiring => ("保函即将到期", "Guarantee letter expiring"),
        GuaranteeExpired => ("保函已过期", "Guarantee letter expired"),
        GuaranteeNotReplenished => ("保证金动用后未补足", "Guarantee not replenished after use"),
        StatementGap => ("对账单不连续", "Statement sequence gap"),
        BalanceBreak => ("余额勾稽不符", "Balance does not carry over"),
        StatementMissing => ("缺少对账单", "Statement missing"),
        DuplicateDelivery => ("重复报送内容不一致", "Duplicate delivery differs"),
    };
    lang.pick(zh, en)
}

/// The legal basis of a code in `lang` (`FindingCode::basis_in`).
pub fn basis(code: FindingCode, lang: Lang) -> &'static str {
    code.basis_in(lang)
}

/// 红色预警 / 橙色预警 / 黄色预警 (always shown with text, never colour alone).
pub fn severity_label(s: Severity, lang: Lang) -> &'static str {
    match s {
        Severity::Red => lang.pick("红色预警", "Red alert"),
        Severity::Orange => lang.pick("橙色预警", "Orange alert"),
        Severity::Yellow => lang.pick("黄色预警", "Yellow alert"),
    }
}

/// The one-character form: 红, 橙, 黄.
pub fn severity_short(s: Severity, lang: Lang) -> &'static str {
    match s {
        Severity::Red => lang.pick("红", "Red"),
        Severity::Orange => lang.pick("橙", "Orange"),
        Severity::Yellow => lang.pick("黄", "Yellow"),
    }
}

/// Background colour of a severity badge (text on it is dark enough to read: see the CSS).
pub fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Red => "#c62828",
        Severity::Orange => "#ef6c00",
        Severity::Yellow => "#f9a825",
    }
}

pub fn status_label(s: FindingStatus, lang: Lang) -> &'static str {
    s.label(lang)
}

pub fn event_label(k: store::EventKind, lang: Lang) -> &'static str {
    use store::EventKind::*;
    match k {
        Opened => lang.pick("新增", "Opened"),
        Escalated => lang.pick("升级", "Escalated"),
        Acknowledged => lang.pick("确认", "Acknowledged"),
        Dismissed => lang.pick("驳回", "Dismissed"),
        Resolved => lang.pick("解决", "Resolved"),
        Reopened => lang.pick("重新打开", "Reopened"),
    }
}

pub fn file_status_label(s: store::FileStatus, lang: Lang) -> &'static str {
    s.label(lang)
}

pub fn evidence_label(k: EvidenceKind, lang: Lang) -> &'static str {
    use EvidenceKind::*;
    match k {
        Obligation => lang.pick("人工费用拨付义务", "Labor-cost obligation"),
        StatementEntry => lang.pick("对账单明细", "Statement entry"),
        Statement => lang.pick("对账单", "Statement"),
        PaymentResult => lang.pick("代发结果", "Payment result"),
        PayrollBatch => lang.pick("代发批次", "Payroll batch"),
        PaySheetLine => lang.pick("工资支付表明细", "Pay-sheet line"),
        RosterEntry => lang.pick("实名名册", "Roster entry"),
        GuaranteeLetter => lang.pick("保函", "Guarantee letter"),
        GuaranteeRequirement => lang.pick("保证金要求", "Guarantee requirement"),
        InboundFile => lang.pick("报送文件", "Inbound file"),
        Calendar => lang.pick("工作日历", "Working-day calendar"),
    }
}

/// A region (a province key such as `fujian`) as shown: 福建省 / Fujian; an empty key (a
/// finding whose project is not in the registry) as 未登记 / unregistered.
pub fn region_label(key: &str, lang: Lang) -> String {
    if key.is_empty() {
        return lang.pick("未登记", "unregistered").to_string();
    }
    match (schemas::Province::parse(key), lang) {
        (Some(p), Lang::Zh) => p.name_zh().to_string(),
        _ => {
            let mut c = key.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

/// `¥1,234.56` (negative: `-¥1,234.56`). Exact: from fen, no floats.
pub fn money(m: Money) -> String {
    let fen = m.fen();
    let neg = fen < 0;
    let abs = fen.unsigned_abs();
    let yuan = (abs / 100).to_string();
    let mut groups: Vec<&str> = yuan
        .as_bytes()
        .rchunks(3)
        .map(|g| std::str::from_utf8(g).expect("digits are ASCII"))
        .collect();
    groups.reverse();
    let grouped = groups.join(",");
    format!(
        "{}¥{}.{:02}",
        if neg { "-" } else { "" },
        grouped,
        abs % 100
    )
}

/// China Standard Time (UTC+8, no daylight saving).
pub fn cst_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// A moment as `2026-09-01 08:00` in China Standard Time.
pub fn cst(t: DateTime<Utc>) -> String {
    t.with_timezone(&cst_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A moment with seconds, `2026-09-01 08:00:05`, China Standard Time.
pub fn cst_seconds(t: DateTime<Utc>) -> String {
    t.with_timezone(&cst_offset())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The calendar day of a moment in China Standard Time.
pub fn cst_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&cst_offset()).date_naive()
}

/// The note that goes with times shown: "北京时间" / "China Standard Time".
pub fn time_zone_note(lang: Lang) -> &'static str {
    lang.pick("北京时间（UTC+8）", "China Standard Time (UTC+8)")
}

/// One line a person can read, from the code and the structured fields. `project_name` is
/// the registered name when known.
pub fn summary(f: &Finding, project_name: Option<&str>, lang: Lang) -> String {
    use FindingCode::*;
    let project = match (project_name, lang) {
        (Some(n), Lang::Zh) => format!("{n}（{}）", f.project),
        (Some(n), Lang::En) => format!("{n} ({})", f.project),
        (None, _) => f.project.clone(),
    };
    let amount = money(f.amount_short);
    let due = f.due_date.map(|d| d.format("%Y-%m-%d").to_string());
    let label = code_label(f.code, lang);
    match lang {
        Lang::Zh => {
            let due = due
                .map(|d| format!("，应于 {d} 前完成"))
                .unwrap_or_default();
            match f.code {
                LaborCostMissing | LaborCostShort | LaborCostLate => {
                    format!("{project} {} 期间{label}，差额 {amount}{due}", f.period)
                }
                PayrollFundingGap => {
                    format!("{project} {} 期间{label}，缺口 {amount}{due}", f.period)
                }
                WagesUnpaid | WagesShort | PaymentFailedUnresolved | PayeeNotOnRoster => {
                    format!("{project} {} 期间{label}，涉及金额 {amount}{due}", f.period)
                }
                GuaranteeMissing | GuaranteeShort | GuaranteeNotReplenished => {
                    format!("{project} {label}，差额 {amount}{due}")
                }
                GuaranteeExpiring | GuaranteeExpired => {
                    let on = f
                        .due_date
                        .map(|d| format!("，到期日 {}", d.format("%Y-%m-%d")))
                        .unwrap_or_default();
                    format!("{project} {label}{on}")
                }
                _ if f.amount_short.is_zero() => format!("{project} {} {label}", f.period),
                _ => format!("{project} {} {label}，涉及金额 {amount}", f.period),
            }
        }
        Lang::En => {
            let due = due.map(|d| format!(", due {d}")).unwrap_or_default();
            if f.amount_short.is_zero() {
                format!("{project} {}: {label}{due}", f.period)
            } else {
                format!("{project} {}: {label}, {amount} short{due}", f.period)
            }
        }
    }
}

/// Table and export column headers, in one place so CSV, XLSX and pages agree.
pub fn header(key: &str, lang: Lang) -> &'static str {
    match (key, lang) {
        ("id", Lang::Zh) => "预警编号",
        ("id", Lang::En) => "Finding id",
        ("severity", Lang::Zh) => "预警等级",
        ("severity", Lang::En) => "Severity",
        ("status", Lang::Zh) => "状态",
        ("status", Lang::En) => "Status",
        ("code", Lang::Zh) => "预警类型",
        ("code", Lang::En) => "Type",
        ("code_id", Lang::Zh) => "类型代码",
        ("code_id", Lang::En) => "Code",
        ("project", Lang::Zh) => "项目编号",
        ("project", Lang::En) => "Project",
        ("project_name", Lang::Zh) => "项目名称",
        ("project_name", Lang::En) => "Project name",
        ("contractor", Lang::Zh) => "施工总承包单位",
        ("contractor", Lang::En) => "General contractor",
        ("region", Lang::Zh) => "地区",
        ("region", Lang::En) => "Region",
        ("period", Lang::Zh) => "所属期间",
        ("period", Lang::En) => "Period",
        ("amount", Lang::Zh) => "涉及金额（元）",
        ("amount", Lang::En) => "Amount (CNY)",
        ("due", Lang::Zh) => "截止日期",
        ("due", Lang::En) => "Due date",
        ("first_seen", Lang::Zh) => "发现时间（北京时间）",
        ("first_seen", Lang::En) => "First seen (CST)",
        ("updated", Lang::Zh) => "更新时间（北京时间）",
        ("updated", Lang::En) => "Updated (CST)",
        ("summary", Lang::Zh) => "摘要",
        ("summary", Lang::En) => "Summary",
        ("basis", Lang::Zh) => "法律依据",
        ("basis", Lang::En) => "Legal basis",
        ("reason", Lang::Zh) => "处理说明",
        ("reason", Lang::En) => "Reason",
        _ => "",
    }
}

/// The columns of a findings export, in order.
pub const EXPORT_COLUMNS: &[&str] = &[
    "id",
    "severity",
    "status",
    "code",
    "code_id",
    "project",
    "project_name",
    "contractor",
    "period",
    "amount",
    "due",
    "first_seen",
    "updated",
    "summary",
    "basis",
    "reason",
];

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_code_has_a_chinese_and_an_english_label_and_basis() {
        let mut seen = std::collections::HashSet::new();
        for &code in FindingCode::ALL {
            let zh = code_label(code, Lang::Zh);
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{code}: {zh}"
            );
            assert!(seen.insert(zh), "two codes share the label {zh}");
            assert!(!code_label(code, Lang::En).is_empty());
            let zh_basis = basis(code, Lang::Zh);
            assert!(
                zh_basis
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{code}: {zh_basis}"
            );
            assert!(!basis(code, Lang::En).chars().any(|c| c > '\u{2000}'));
        }
        assert_eq!(code_label(FindingCode::WagesUnpaid, Lang::Zh), "拖欠工资");
    }

    #[test]
    fn severities_and_statuses_read_as_the_platforms_say_them() {
        assert_eq!(severity_label(Severity::Red, Lang::Zh), "红色预警");
        assert_eq!(severity_label(Severity::Orange, Lang::Zh), "橙色预警");
        assert_eq!(severity_label(Severity::Yellow, Lang::Zh), "黄色预警");
        assert_eq!(status_label(FindingStatus::Open, Lang::Zh), "待处理");
        assert_eq!(
            status_label(FindingStatus::Acknowledged, Lang::Zh),
            "已确认"
        );
        assert_eq!(status_label(FindingStatus::Resolved, Lang::Zh), "已解决");
        assert_eq!(status_label(FindingStatus::Dismissed, Lang::Zh), "已驳回");
        assert_eq!(
            status_label(FindingStatus::Dismissed, Lang::En),
            "Dismissed"
        );
        assert_ne!(
            severity_colour(Severity::Red),
            severity_colour(Severity::Orange)
        );
    }

    #[test]
    fn money_is_grouped_with_the_yuan_sign() {
        assert_eq!(money(Money::from_fen(123456)), "¥1,234.56");
        assert_eq!(money(Money::from_fen(5)), "¥0.05");
        assert_eq!(money(Money::from_fen(10_000_000_000)), "¥100,000,000.00");
        assert_eq!(money(Money::from_fen(-99_900)), "-¥999.00");
        assert_eq!(
            money(Money::from_fen(i64::MIN)),
            "-¥92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn times_are_china_standard_time() {
        let t = Utc.with_ymd_and_hms(2026, 9, 30, 16, 30, 0).unwrap();
        assert_eq!(cst(t), "2026-10-01 00:30");
        assert_eq!(cst_date(t), NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
    }

    fn finding(code: FindingCode, fen: i64) -> Finding {
        Finding {
            id: "F-x".into(),
            code,
            project: "FJ-1".into(),
            period: "2026-09".into(),
            amount_short: Money::from_fen(fen),
            severity: Severity::Red,
            basis: code.basis().into(),
            summary: "English text that must not be shown".into(),
            evidence: vec![],
            computation: vec![],
            summary_zh: String::new(),
            computation_zh: vec![],
            due_date: NaiveDate::from_ymd_opt(2026, 10, 15),
        }
    }

    #[test]
    fn summaries_are_built_from_fields_not_from_the_english_line() {
        let f = finding(FindingCode::WagesUnpaid, 123_456);
        let zh = summary(&f, Some("福州滨海大厦"), Lang::Zh);
        assert_eq!(
            zh,
            "福州滨海大厦（FJ-1） 2026-09 期间拖欠工资，涉及金额 ¥1,234.56，应于 2026-10-15 前完成"
        );
        let en = summary(&f, None, Lang::En);
        assert_eq!(
            en,
            "FJ-1 2026-09: Wages unpaid, ¥1,234.56 short, due 2026-10-15"
        );
        for &code in FindingCode::ALL {
            let s = summary(&finding(code, 100), None, Lang::Zh);
            assert!(!s.contains("English"), "{s}");
            assert!(s.contains(code_label(code, Lang::Zh)), "{s}");
        }
    }
}
