//! `wagegate explain FINDING_ID`: a finding in words, with its evidence and arithmetic, and
//! for every payment among the evidence the month it was attributed to and by which rule
//! (DOMAIN.md §4, "Which month a wage payment pays").
//!
//! Labels are Simplified Chinese by default ([`Lang::Zh`]); [`Lang::En`] is the switch. The
//! reconciler's own sentences (summary, evidence descriptions, computation) are stored in both
//! languages on the finding and picked here the same way.

use std::fmt::Write;

use schemas::{Attribution, AttributionRule, EvidenceKind, Finding, Period, Severity};

pub use schemas::Lang;

/// Human text for a finding in English: what, why (legal basis), the evidence and the
/// arithmetic. Same as `explain_in(f, Lang::En)`.
pub fn explain(f: &Finding) -> String {
    explain_in(f, Lang::En)
}

struct Labels {
    project: &'static str,
    period: &'static str,
    amount: &'static str,
    due: &'static str,
    basis: &'static str,
    evidence: &'static str,
    none: &'static str,
    computation: &'static str,
    amount_inline: &'static str,
    date_inline: &'static str,
    key: &'static str,
}

const ZH: Labels = Labels {
    project: "项目：      ",
    period: "期间：      ",
    amount: "短缺金额：  ",
    due: "到期日：    ",
    basis: "法律依据：  ",
    evidence: "证据：",
    none: "（无）",
    computation: "计算过程：",
    amount_inline: "金额",
    date_inline: "日期",
    key: "记录键",
};

const EN: Labels = Labels {
    project: "project:      ",
    period: "period:       ",
    amount: "amount short: ",
    due: "due:          ",
    basis: "legal basis:  ",
    evidence: "Evidence:",
    none: "(none)",
    computation: "Computation:",
    amount_inline: "amount",
    date_inline: "date",
    key: "key",
};

/// Human text for a finding in `lang`.
pub fn explain_in(f: &Finding, lang: Lang) -> String {
    let l = match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    let mut s = String::new();
    let _ = writeln!(s, "{} {} [{}]", f.id, f.code, severity(f.severity, lang));
    let _ = writeln!(s, "{}{}", l.project, f.project);
    if !f.period.is_empty() {
        let _ = writeln!(s, "{}{}", l.period, f.period);
    }
    let _ = writeln!(s, "{}{}", l.amount, f.amount_short);
    if let Some(d) = f.due_date {
        let _ = writeln!(s, "{}{d}", l.due);
    }
    let basis = match lang {
        Lang::Zh => f.basis.as_str(),
        Lang::En => f.code.basis_en(),
    };
    let _ = writeln!(s, "{}{basis}", l.basis);
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", f.summary_in(lang));
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", l.evidence);
    if f.evidence.is_empty() {
        let _ = writeln!(s, "  {}", l.none);
    }
    for (i, e) in f.evidence.iter().enumerate() {
        let _ = write!(
            s,
            "  {}. [{}] {}",
            i + 1,
            kind(e.kind, lang),
            e.description_in(lang)
        );
        if let Some(a) = e.amount {
            let _ = write!(s, " | {} {a}", l.amount_inline);
        }
        if let Some(d) = e.date {
            let _ = write!(s, " | {} {d}", l.date_inline);
        }
        let _ = writeln!(s);
        if let Some(a) = &e.attribution {
            let _ = writeln!(s, "     {}", attribution_line(a, lang));
        } else if e.kind == EvidenceKind::PaymentResult {
            let _ = writeln!(
                s,
                "     {}",
                match lang {
                    Lang::Zh => "归属月份：未记录",
                    Lang::En => "month: not recorded",
                }
            );
        }
        let _ = writeln!(s, "     {} {}", l.key, e.key);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", l.computation);
    for c in f.computation_in(lang) {
        let _ = writeln!(s, "  {c}");
    }
    s
}

fn severity(sev: Severity, lang: Lang) -> &'static str {
    match (lang, sev) {
        (Lang::En, s) => s.as_str(),
        (Lang::Zh, Severity::Red) => "红",
        (Lang::Zh, Severity::Orange) => "橙",
        (Lang::Zh, Severity::Yellow) => "黄",
    }
}

/// The evidence kind as `explain` labels it: the serde name in English (`statement_entry`),
/// the record's Chinese name by default.
pub(crate) fn kind(k: EvidenceKind, lang: Lang) -> String {
    if lang == Lang::En {
        return serde_json::to_value(k)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
    }
    match k {
        EvidenceKind::Obligation => "人工费用拨付",
        EvidenceKind::StatementEntry => "对账单流水",
        EvidenceKind::Statement => "对账单",
        EvidenceKind::PaymentResult => "代发结果",
        EvidenceKind::PayrollBatch => "代发批次",
        EvidenceKind::PaySheetLine => "工资支付表",
        EvidenceKind::RosterEntry => "实名制花名册",
        EvidenceKind::GuaranteeLetter => "保函",
        EvidenceKind::GuaranteeRequirement => "保证金要求",
        EvidenceKind::InboundFile => "报送文件",
        EvidenceKind::Calendar => "工作日历",
    }
    .to_string()
}

fn months(ms: &[Period], sep: &str) -> String {
    ms.iter()
        .map(Period::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// One line: the month a payment was attributed to, the rule (with its stable name), whether
/// several months fitted, and the text a month was read from.
pub(crate) fn attribution_line(a: &Attribution, lang: Lang) -> String {
    let rule = a.rule.as_str();
    match lang {
        Lang::Zh => {
            let why = match a.rule {
                AttributionRule::NamedPeriod => "代发结果本身写明所属月份（平台推送）",
                AttributionRule::NamedText => "汇款附言写明所属月份",
                AttributionRule::RegisteredBatch => "批次号已登记在该月工资支付表上",
                AttributionRule::WholeSheet => {
                    "批次与该月工资支付表整体一致（同一批工人、同样实发金额）"
                }
                AttributionRule::PayWindow => "该工人唯一未付清且发放期间包含付款日的月份",
                AttributionRule::OldestOwed => "该工人最早未付清的月份",
                AttributionRule::Unattributed => "没有符合的工资支付表月份",
            };
            let mut s = match a.month {
                Some(m) => format!("归属月份：{m}（规则 {rule}：{why}"),
                None => format!("归属月份：无（规则 {rule}：{why}"),
            };
            if a.ambiguous {
                let _ = write!(
                    s,
                    "；多个月份均符合：{}，取最早",
                    months(&a.candidates, "、")
                );
            } else if !a.candidates.is_empty() {
                let _ = write!(s, "；候选月份：{}", months(&a.candidates, "、"));
            }
            if let Some(t) = &a.source {
                let _ = write!(s, "；附言“{t}”");
            }
            s.push('）');
            s
        }
        Lang::En => {
            let why = match a.rule {
                AttributionRule::NamedPeriod => "the result names it (platform push)",
                AttributionRule::NamedText => "the remittance text names it",
                AttributionRule::RegisteredBatch => "its batch is registered with that pay sheet",
                AttributionRule::WholeSheet => "its batch pays that pay sheet as a whole",
                AttributionRule::PayWindow => "the only month owed whose pay window holds the date",
                AttributionRule::OldestOwed => "the oldest month owed",
                AttributionRule::Unattributed => "no pay-sheet month fits",
            };
            let month = a
                .month
                .map_or_else(|| "no month".to_string(), |m| m.to_string());
            let mut s = format!("month: {month} (rule {rule}: {why}");
            if a.ambiguous {
                let _ = write!(
                    s,
                    "; ambiguous among {}, the oldest taken",
                    months(&a.candidates, ", ")
                );
            } else if !a.candidates.is_empty() {
                let _ = write!(s, "; candidates {}", months(&a.candidates, ", "));
            }
            if let Some(t) = &a.source {
                let _ = write!(s, "; text \"{t}\"");
            }
            s.push(')');
            s
        }
    }
}
