//! A project's reconciliation workbook (项目对账表): the facts the reconciler weighed for one
//! project, sheet by sheet, beside its findings — so an inspector can follow the money in Excel.
//! Amounts are numbers (yuan, two decimals) computed exactly from fen; personal data appears
//! only as counts and totals.

use std::collections::BTreeMap;

use rust_xlsxwriter::{Format, Workbook, Worksheet};
use schemas::{
    Direction, GuaranteeLetter, GuaranteeRequirement, GuaranteeStatus, LaborCostObligation, Money,
    PaySheetLine, PaymentResult, PaymentStatus, Project, Statement, WageAccount,
};
use store::{RecordKind, Scope, Store};

use crate::export::{self, Row};
use crate::i18n::{self, Lang};

/// Everything the workbook and the project page show about one project.
pub struct ProjectData {
    pub project: Project,
    pub info: Option<crate::data::ProjectInfo>,
    pub accounts: Vec<WageAccount>,
    pub obligations: Vec<LaborCostObligation>,
    pub statements: Vec<Statement>,
    pub sheet_lines: Vec<PaySheetLine>,
    pub payments: Vec<PaymentResult>,
    pub letters: Vec<GuaranteeLetter>,
    pub requirement: Option<GuaranteeRequirement>,
    pub findings: Vec<schemas::StoredFinding>,
}

/// Loads a project's records and findings; `None` when the registry has no such project.
pub async fn load(store: &dyn Store, code: &str) -> anyhow::Result<Option<ProjectData>> {
    let mut project: Option<Project> = None;
    let mut accounts: Vec<WageAccount> = Vec::new();
    let mut obligations: Vec<LaborCostObligation> = Vec::new();
    let mut statements: Vec<Statement> = Vec::new();
    let mut sheet_lines: Vec<PaySheetLine> = Vec::new();
    let mut payments: Vec<PaymentResult> = Vec::new();
    let mut letters: Vec<GuaranteeLetter> = Vec::new();
    let mut requirement: Option<GuaranteeRequirement> = None;
    for r in store.load_records(&Scope::project(code)).await? {
        match r.kind {
            RecordKind::Project => project = Some(r.decode()?),
            RecordKind::Account => accounts.push(r.decode()?),
            RecordKind::Obligation => obligations.push(r.decode()?),
            RecordKind::Statement => statements.push(r.decode()?),
            RecordKind::Paysheet => sheet_lines.push(r.decode()?),
            RecordKind::Payment => payments.push(r.decode()?),
            RecordKind::Guarantee => letters.push(r.decode()?),
            RecordKind::GuaranteeRequirement => requirement = Some(r.decode()?),
            _ => {}
        }
    }
    let Some(project) = project.filter(|p| p.code == code) else {
        return Ok(None);
    };
    let info = crate::data::projects(store).await?.remove(code);
    // All of the project's findings in one read (one snapshot; paging by offset while a pass
    // writes could skip or repeat one).
    let findings = store
        .all_findings(&store::FindingFilter {
            project: Some(code.to_string()),
            ..Default::default()
        })
        .await?;
    obligations.sort_by(|a, b| (a.due_date, &a.obligation_id).cmp(&(b.due_date, &b.obligation_id)));
    letters.sort_by(|a, b| (a.valid_from, &a.number).cmp(&(b.valid_from, &b.number)));
    Ok(Some(ProjectData {
        project,
        info,
        accounts,
        obligations,
        statements,
        sheet_lines,
        payments,
        letters,
        requirement,
        findings,
    }))
}

impl ProjectData {
    /// The guarantee cover against the requirement over time, as of `as_of` (the
    /// reconciler's own rules: [`reconciler::guarantee_timeline`]).
    pub fn guarantee_timeline(
        &self,
        as_of: chrono::NaiveDate,
        config: &reconciler::Config,
        calendar: &reconciler::Calendar,
    ) -> Option<reconciler::GuaranteeTimeline> {
        let mut facts = reconciler::ProjectFacts::new(self.project.clone());
        facts.guarantee_requirement = self.requirement.clone();
        facts.guarantees = self.letters.clone();
        reconciler::guarantee_timeline(&facts, as_of, config, calendar)
    }

    /// Every statement entry on the project's accounts, in booking order, once.
    pub fn entries(&self) -> Vec<(&str, &schemas::Entry)> {
        let mut entries: Vec<(&str, &schemas::Entry)> = self
            .statements
            .iter()
            .flat_map(|s| s.entries.iter().map(move |e| (s.account.as_str(), e)))
            .collect();
        entries.sort_by(|a, b| (a.1.booking_date, a.0).cmp(&(b.1.booking_date, b.0)));
        entries.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        entries
    }

    /// Pay sheets per month: (lines, gross fen, net fen).
    pub fn months(&self) -> BTreeMap<String, (u64, i64, i64)> {
        let mut months: BTreeMap<String, (u64, i64, i64)> = BTreeMap::new();
        for line in &self.sheet_lines {
            let m = months.entry(line.period.to_string()).or_default();
            m.0 += 1;
            m.1 += line.gross.fen();
            m.2 += line.net.fen();
        }
        months
    }

    /// Payment results per batch: (results, paid, paid fen, other, other fen).
    pub fn batches(&self) -> BTreeMap<String, (u64, u64, i64, u64, i64)> {
        let mut batches: BTreeMap<String, (u64, u64, i64, u64, i64)> = BTreeMap::new();
        for p in &self.payments {
            let b = batches
                .entry(p.batch_id.clone().unwrap_or_default())
                .or_default();
            let fen = p.amount.map(Money::fen).unwrap_or(0);
            b.0 += 1;
            if p.status == PaymentStatus::Paid {
                b.1 += 1;
                b.2 += fen;
            } else {
                b.3 += 1;
                b.4 += fen;
            }
        }
        batches
    }
}

/// The workbook's bytes and a file name to save it as.
pub async fn project_xlsx(
    store: &dyn Store,
    code: &str,
    lang: Lang,
) -> anyhow::Result<(Vec<u8>, String)> {
    let Some(d) = load(store, code).await? else {
        anyhow::bail!("there is no project '{code}' in the registry");
    };
    let ProjectData {
        project,
        info,
        accounts,
        obligations,
        findings,
        letters,
        ..
    } = &d;
    let info = info.as_ref();
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let mut wb = Workbook::new();

    // 项目: the registry facts and the findings' totals.
    {
        let ws = wb.add_worksheet();
        ws.set_name(l("项目", "Project"))?;
        ws.set_column_width(0, 22)?;
        ws.set_column_width(1, 40)?;
        let active: Vec<_> = findings
            .iter()
            .filter(|f| {
                matches!(
                    f.status,
                    schemas::FindingStatus::Open | schemas::FindingStatus::Acknowledged
                )
            })
            .collect();
        let at_risk: i64 = active.iter().map(|f| f.finding.amount_short.fen()).sum();
        let text_rows: [(&str, String); 8] = [
            (l("项目编号", "Project code"), project.code.clone()),
            (l("项目名称", "Project name"), project.name.clone()),
            (
                l("地区", "Region"),
                i18n::region_label(project.province.key(), lang),
            ),
            (
                l("建设单位", "Construction unit"),
                project.construction_unit.name.clone(),
            ),
            (
                l("施工总承包单位", "General contractor"),
                project.general_contractor.name.clone(),
            ),
            (l("开工日期", "Start"), project.start_date.to_string()),
            (
                l("计划竣工日期", "Planned end"),
                project.planned_end_date.to_string(),
            ),
            (
                l("未处理预警（条）", "Active findings"),
                active.len().to_string(),
            ),
        ];
        for (i, (k, v)) in text_rows.iter().enumerate() {
            let r = u32::try_from(i)?;
            ws.write_string_with_format(r, 0, *k, &bold)?;
            ws.write_string(r, 1, v)?;
        }
        let r = u32::try_from(text_rows.len())?;
        ws.write_string_with_format(r, 0, l("合同金额（元）", "Contract amount (CNY)"), &bold)?;
        write_money(ws, r, 1, project.contract_amount, &money)?;
        ws.write_string_with_format(r + 1, 0, l("涉及金额（元）", "Money at risk (CNY)"), &bold)?;
        write_money(ws, r + 1, 1, Money::from_fen(at_risk), &money)?;
        ws.write_string_with_format(r + 2, 0, l("工资专用账户", "Wage accounts"), &bold)?;
        for (i, a) in accounts.iter().enumerate() {
            ws.write_string(
                r + 2 + u32::try_from(i)?,
                1,
                format!("{} {}", a.account_no, a.account_name),
            )?;
        }
    }

    // 预警: the project's findings, as the findings export writes them.
    let rows: Vec<Row> = findings.iter().map(|sf| Row::new(sf, info, lang)).collect();
    export::findings_sheet(&mut wb, &rows, lang)?;

    // 人工费用拨付义务: what the construction unit owes into the wage account, by period.
    {
        let ws = wb.add_worksheet();
        ws.set_name(l("人工费用拨付义务", "Labor-cost obligations"))?;
        header(
            ws,
            &[
                l("义务编号", "Obligation"),
                l("期间", "Period"),
                l("应拨付金额（元）", "Amount (CNY)"),
                l("应拨付日期", "Due"),
            ],
            &bold,
        )?;
        for (i, o) in obligations.iter().enumerate() {
            let r = u32::try_from(i + 1)?;
            ws.write_string(r, 0, &o.obligation_id)?;
            ws.write_string(r, 1, o.period.to_string())?;
            write_money(ws, r, 2, o.amount, &money)?;
            ws.write_string(r, 3, o.due_date.to_string())?;
        }
        total_row(
            ws,
            obligations.len(),
            2,
            obligations.iter().map(|o| o.amount.fen()).sum(),
            lang,
            &bold,
            &money,
        )?;
    }

    // 专用账户流水: every statement entry on the project's accounts, in booking order.
    {
        let ws = wb.add_worksheet();
        ws.set_name(l("专用账户流水", "Account entries"))?;
        header(
            ws,
            &[
                l("账号", "Account"),
                l("记账日期", "Booked"),
                l("收/付", "In/out"),
                l("金额（元）", "Amount (CNY)"),
                l("对方户名", "Counterparty"),
                l("对方账号", "Counterparty account"),
                l("摘要/附言", "Remittance"),
                l("交易后余额（元）", "Balance after (CNY)"),
                l("冲正", "Reversal"),
            ],
            &bold,
        )?;
        let entries = d.entries();
        let (mut credits, mut debits) = (0i64, 0i64);
        for (i, (account, e)) in entries.iter().enumerate() {
            let r = u32::try_from(i + 1)?;
            ws.write_string(r, 0, *account)?;
            ws.write_string(r, 1, e.booking_date.to_string())?;
            let credit = e.direction == Direction::Credit;
            ws.write_string(
                r,
                2,
                if credit {
                    l("收", "in")
                } else {
                    l("付", "out")
                },
            )?;
            write_money(ws, r, 3, e.amount, &money)?;
            if credit {
                credits += e.amount.fen();
            } else {
                debits += e.amount.fen();
            }
            ws.write_string(r, 4, e.counterparty_name.as_deref().unwrap_or(""))?;
            ws.write_string(r, 5, e.counterparty_account.as_deref().unwrap_or(""))?;
            ws.write_string(r, 6, e.remittance.as_deref().unwrap_or(""))?;
            if let Some(b) = e.balance_after {
                write_money(ws, r, 7, b, &money)?;
            }
            if e.reversal {
                ws.write_string(r, 8, l("是", "yes"))?;
            }
        }
        let r = u32::try_from(entries.len() + 2)?;
        ws.write_string_with_format(r, 2, l("收入合计", "In, total"), &bold)?;
        write_money(ws, r, 3, Money::from_fen(credits), &money)?;
        ws.write_string_with_format(r + 1, 2, l("支出合计", "Out, total"), &bold)?;
        write_money(ws, r + 1, 3, Money::from_fen(debits), &money)?;
    }

    // 工资支付表: per month, how many lines and how much.
    {
        let ws = wb.add_worksheet();
        ws.set_name(l("工资支付表", "Pay sheets"))?;
        header(
            ws,
            &[
                l("期间", "Period"),
                l("人数", "Lines"),
                l("应发合计（元）", "Gross (CNY)"),
                l("实发合计（元）", "Net (CNY)"),
            ],
            &bold,
        )?;
        let months = d.months();
        for (i, (period, (n, gross, net))) in months.iter().enumerate() {
            let r = u32::try_from(i + 1)?;
            ws.write_string(r, 0, period)?;
            ws.write_number(r, 1, *n as f64)?;
            write_money(ws, r, 2, Money::from_fen(*gross), &money)?;
            write_money(ws, r, 3, Money::from_fen(*net), &money)?;
        }
    }

    // 代发结果: per batch, paid and failed.
    {
        let ws = wb.add_worksheet();
        ws.set_name(l("代发结果", "Payment results"))?;
        header(
            ws,
            &[
                l("批次号", "Batch"),
                l("笔数", "Results"),
                l("成功笔数", "Paid"),
                l("成功金额（元）", "Paid (CNY)"),
                l("失败或未决笔数", "Failed or pending"),
                l("失败或未决金额（元）", "Failed or pending (CNY)"),
            ],
            &bold,
        )?;
        let batches = d.batches();
        for (i, (batch, (n, paid, paid_fen, other, other_fen))) in batches.iter().enumerate() {
            let r = u32::try_from(i + 1)?;
            ws.write_string(r, 0, batch)?;
            ws.write_number(r, 1, *n as f64)?;
            ws.write_number(r, 2, *paid as f64)?;
            write_money(ws, r, 3, Money::from_fen(*paid_fen), &money)?;
            ws.write_number(r, 4, *other as f64)?;
            write_money(ws, r, 5, Money::from_fen(*other_fen), &money)?;
        }
    }

    // 保函: the guarantee letters on record.
    {
        let ws = wb.add_worksheet();
        ws.set_name(l("保函", "Guarantees"))?;
        header(
            ws,
            &[
                l("保函编号", "Number"),
                l("出具机构", "Issuer"),
                l("担保金额（元）", "Amount (CNY)"),
                l("起始日期", "Valid from"),
                l("截止日期", "Valid to"),
                l("状态", "Status"),
            ],
            &bold,
        )?;
        for (i, g) in letters.iter().enumerate() {
            let r = u32::try_from(i + 1)?;
            ws.write_string(r, 0, &g.number)?;
            ws.write_string(r, 1, &g.issuer_name)?;
            write_money(ws, r, 2, g.guaranteed_amount, &money)?;
            ws.write_string(r, 3, g.valid_from.to_string())?;
            ws.write_string(r, 4, g.valid_to.to_string())?;
            ws.write_string(r, 5, guarantee_status(g.status, lang))?;
        }
    }

    let name = format!(
        "{}-{}.xlsx",
        lang.pick("项目对账表", "reconciliation"),
        code.chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            })
            .collect::<String>()
    );
    Ok((wb.save_to_buffer()?, name))
}

pub fn guarantee_status(s: GuaranteeStatus, lang: Lang) -> &'static str {
    match s {
        GuaranteeStatus::Issued => lang.pick("已出具", "issued"),
        GuaranteeStatus::Accepted => lang.pick("已受理", "accepted"),
        GuaranteeStatus::Rejected => lang.pick("已退回", "rejected"),
        GuaranteeStatus::Released => lang.pick("已解除", "released"),
        GuaranteeStatus::Claimed => lang.pick("已索赔", "claimed"),
        GuaranteeStatus::Expired => lang.pick("已到期", "expired"),
    }
}

fn header(ws: &mut Worksheet, names: &[&str], bold: &Format) -> anyhow::Result<()> {
    for (c, h) in names.iter().enumerate() {
        let c = u16::try_from(c)?;
        ws.write_string_with_format(0, c, *h, bold)?;
        ws.set_column_width(c, 16)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

fn write_money(ws: &mut Worksheet, r: u32, c: u16, m: Money, f: &Format) -> anyhow::Result<()> {
    // Every fen amount below 2^53 is exact enough in an f64 to show with two decimals.
    #[allow(clippy::cast_precision_loss)]
    let yuan = m.fen() as f64 / 100.0;
    ws.write_number_with_format(r, c, yuan, f)?;
    Ok(())
}

fn total_row(
    ws: &mut Worksheet,
    rows: usize,
    col: u16,
    fen: i64,
    lang: Lang,
    bold: &Format,
    money: &Format,
) -> anyhow::Result<()> {
    let r = u32::try_from(rows + 2)?;
    ws.write_string_with_format(r, 0, lang.pick("合计", "Total"), bold)?;
    write_money(ws, r, col, Money::from_fen(fen), money)
}
