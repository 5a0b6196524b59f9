//! One simulated project: its registry facts, its bank movements and statements, its payroll
//! batches and guarantee letters, with its plants applied and the findings they must give.
//!
//! Money is integer fen throughout (`i64`), turned into [`Money`] only when written.

use chrono::{Datelike, Days, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use schemas::{
    ContractorCredit, CreditCode, FindingCode, GuaranteeRequirement, Money, Period, Province,
};

use crate::env::Env;
use crate::params::{ExpectedFinding, SimParams};
use crate::plant::Plant;

pub fn day(p: Period, d: u32) -> NaiveDate {
    p.first_day()
        .checked_add_days(Days::new(u64::from(d.saturating_sub(1))))
        .unwrap_or(p.first_day())
}

fn add(d: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        d.checked_add_days(Days::new(n.unsigned_abs()))
    } else {
        d.checked_sub_days(Days::new(n.unsigned_abs()))
    }
    .unwrap_or(d)
}

pub struct Bank {
    pub code: &'static str,
    pub name: &'static str,
    pub bic: &'static str,
}

pub const BANKS: [Bank; 7] = [
    Bank {
        code: "102",
        name: "中国工商银行",
        bic: "ICBKCNBJ",
    },
    Bank {
        code: "103",
        name: "中国农业银行",
        bic: "ABOCCNBJ",
    },
    Bank {
        code: "104",
        name: "中国银行",
        bic: "BKCHCNBJ",
    },
    Bank {
        code: "105",
        name: "中国建设银行",
        bic: "PCBCCNBJ",
    },
    Bank {
        code: "301",
        name: "交通银行",
        bic: "COMMCNSH",
    },
    Bank {
        code: "308",
        name: "招商银行",
        bic: "CMBCCNBS",
    },
    Bank {
        code: "309",
        name: "兴业银行",
        bic: "FJIBCNBA",
    },
];

/// (province, abbreviation, region code, city).
const PROVINCES: [(Province, &str, &str, &str); 8] = [
    (Province::Fujian, "FJ", "350100", "福州"),
    (Province::Guizhou, "GZ", "520100", "贵阳"),
    (Province::Shenzhen, "SZ", "440300", "深圳"),
    (Province::Hunan, "HN", "430100", "长沙"),
    (Province::Guangxi, "GX", "450100", "南宁"),
    (Province::Zhejiang, "ZJ", "330100", "杭州"),
    (Province::Hubei, "HB", "420100", "武汉"),
    (Province::Yunnan, "YN", "530100", "昆明"),
];

const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: [&str; 16] = [
    "伟", "芳", "强", "磊", "军", "洋", "勇", "杰", "娟", "涛", "明", "超", "秀兰", "建国", "志强",
    "海燕",
];
const WORKS: [&str; 6] = [
    "保障性住房",
    "跨江大桥",
    "地铁车辆段",
    "产业园厂房",
    "市政道路改造",
    "安置小区",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StmtFormat {
    Camt053,
    Mt940,
    /// CIB's own fixed-width end-of-day statement (GBK, widths in bytes): one statement a
    /// day, no sequence numbers, so only for CIB accounts whose plants do not need them.
    Cib,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    Pain002,
    CorePayroll,
}

#[derive(Debug, Clone)]
pub struct Worker {
    pub name: String,
    pub id: String,
    pub card: String,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub period: Period,
    pub worker: usize,
    pub gross: i64,
    pub net: i64,
}

#[derive(Debug, Clone)]
pub struct Obligation {
    pub id: String,
    pub period: Period,
    pub due: NaiveDate,
    pub amount: i64,
    /// Given as ratio 0.25 of a progress payment of four times the amount.
    pub as_ratio: bool,
}

#[derive(Debug, Clone)]
pub struct Tx {
    pub date: NaiveDate,
    pub credit: bool,
    pub amount: i64,
    pub bank_ref: String,
    pub name: String,
    pub account: String,
    pub remittance: String,
    pub batch: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PayResult {
    pub e2e: String,
    pub name: String,
    pub id: String,
    pub card: String,
    pub amount: i64,
    pub failed: bool,
}

#[derive(Debug, Clone)]
pub struct Batch {
    pub id: String,
    pub pay_date: NaiveDate,
    pub results: Vec<PayResult>,
    /// The remittance text of its debit(s); `代发工资 ID` when `None`.
    pub text: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Stmt {
    pub id: String,
    pub seq: u64,
    /// The opening balance's date: the previous statement's closing date.
    pub open_date: NaiveDate,
    pub close_date: NaiveDate,
    pub opening: i64,
    pub closing: i64,
    pub entries: Vec<Tx>,
    /// ISO 4217; `CNY` but for the foreign-currency plant.
    pub currency: &'static str,
}

#[derive(Debug, Clone)]
pub struct Letter {
    pub number: String,
    pub form: &'static str,
    pub issuer_name: String,
    pub issuer_code: String,
    pub amount: i64,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    pub action: &'static str,
    pub status: &'static str,
    pub previous: Option<String>,
    pub event_date: NaiveDate,
    pub claim_amount: Option<i64>,
}

pub struct ProjectWorld {
    pub code: String,
    pub name: String,
    pub province: Province,
    pub city: &'static str,
    pub owner: (String, String),
    pub contractor: (String, String),
    pub subcontractor: String,
    pub contract_amount: i64,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub bank: &'static Bank,
    pub account: String,
    pub account_name: String,
    pub cnaps: String,
    pub owner_account: String,
    pub workers: Vec<Worker>,
    pub lines: Vec<Line>,
    pub obligations: Vec<Obligation>,
    pub batches: Vec<Batch>,
    /// Every movement on the account, in no particular order.
    pub txs: Vec<Tx>,
    pub statements: Vec<Stmt>,
    /// The same statement again with different content (DUPLICATE_DELIVERY).
    pub resend: Option<Stmt>,
    pub credit: ContractorCredit,
    pub cash_deposit: i64,
    pub letters: Vec<Letter>,
    pub stmt_format: StmtFormat,
    pub result_format: ResultFormat,
    pub plants: Vec<Plant>,
    pub expected: Vec<ExpectedFinding>,
}

fn uscc(head17: &str) -> String {
    CreditCode::with_check_digit(head17)
        .map(|c| c.as_str().to_string())
        .unwrap_or_default()
}

/// An 18-digit resident ID with a correct check character (a synthetic person).
fn id_number(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17
        .bytes()
        .zip(W)
        .map(|(d, w)| u32::from(d.wrapping_sub(b'0')) * w)
        .sum();
    format!("{first17}{}", char::from(C[(sum % 11) as usize]))
}

fn yuan(rng: &mut StdRng, lo: i64, hi: i64) -> i64 {
    rng.gen_range(lo..=hi) * 100
}

fn share(fen: i64, lo_pct: i64, hi_pct: i64, rng: &mut StdRng) -> i64 {
    // A whole-yuan share of an amount, at least one yuan.
    let pct = rng.gen_range(lo_pct..=hi_pct);
    (fen * pct / 100 / 100).max(1) * 100
}

fn money(fen: i64) -> Money {
    Money::from_fen(fen)
}

impl ProjectWorld {
    pub fn generate(params: &SimParams, env: &Env, index: usize, plants: &[Plant]) -> ProjectWorld {
        let mut rng = StdRng::seed_from_u64(
            params
                .seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(index as u64),
        );
        let mut w = Self::baseline(params, env, index, plants, &mut rng);
        w.payroll(env, &mut rng);
        w.money_in(env, &mut rng);
        w.build_statements(env, &mut rng);
        w.integrity_plants(env, &mut rng);
        w.funding_gap(env);
        w.guarantee(env, &mut rng);
        w
    }

    fn has(&self, p: Plant) -> bool {
        self.plants.contains(&p)
    }

    fn expect(&mut self, code: FindingCode, period: Option<String>, amount: i64, plant: Plant) {
        self.expected.push(ExpectedFinding {
            code,
            project: self.code.clone(),
            period,
            amount_short: Some(money(amount)),
            plant: plant.name().to_string(),
        });
    }

    fn baseline(
        params: &SimParams,
        env: &Env,
        index: usize,
        plants: &[Plant],
        rng: &mut StdRng,
    ) -> ProjectWorld {
        let (province, abbr, region, city) = PROVINCES[rng.gen_range(0..PROVINCES.len())];
        let bank = &BANKS[rng.gen_range(0..BANKS.len())];
        let code = format!("SIM-{abbr}-{index:06}");
        let work = WORKS[rng.gen_range(0..WORKS.len())];
        let owner = (
            format!("{city}城市建设投资有限公司{}", index % 97),
            uscc(&format!("91{region}MA{:07}", index * 3 + 1)),
        );
        let contractor = (
            format!("{city}建工集团第{}工程有限公司", index % 31 + 1),
            uscc(&format!("91{region}MA{:07}", index * 3 + 2)),
        );
        let subcontractor = format!("{city}劳务分包有限公司{}", index % 53);
        let n = rng.gen_range(params.workers.0..=params.workers.1);
        let workers = (0..n)
            .map(|k| {
                let birth = format!(
                    "{}{:02}{:02}",
                    rng.gen_range(1965..=2000),
                    rng.gen_range(1..=12),
                    rng.gen_range(1..=28)
                );
                Worker {
                    name: format!(
                        "{}{}",
                        SURNAMES[rng.gen_range(0..SURNAMES.len())],
                        GIVEN[rng.gen_range(0..GIVEN.len())]
                    ),
                    id: id_number(&format!("{region}{birth}{:03}", k % 1000)),
                    card: format!("62{}{index:09}{k:05}", bank.code),
                }
            })
            .collect();
        let start = add(env.first_day, -rng.gen_range(60..=400));
        let end = add(env.as_of, rng.gen_range(200..=900));
        let stmt_format = if rng.gen_range(0..10) < 6 {
            StmtFormat::Camt053
        } else {
            StmtFormat::Mt940
        };
        // CIB (309) accounts deliver the bank's own daily fixed-width statement, unless a
        // plant needs sequence numbers, which that format does not carry.
        let stmt_format = if bank.code == "309" && !plants.contains(&Plant::GapSequence) {
            StmtFormat::Cib
        } else {
            stmt_format
        };
        let result_format = if rng.gen_range(0..10) < 6 {
            ResultFormat::Pain002
        } else {
            ResultFormat::CorePayroll
        };
        ProjectWorld {
            name: format!("{city}{work}工程（模拟{index}）"),
            province,
            city,
            owner,
            contractor,
            subcontractor,
            contract_amount: rng.gen_range(500..=50_000) * 1_000_000,
            start,
            end,
            bank,
            account: format!("{}{:013}", bank.code, 4_000_000_000 + index as u64),
            account_name: format!("{}农民工工资专用账户{index}", "模拟项目"),
            cnaps: format!("{}391002003", bank.code),
            owner_account: format!("9{:014}", 7_000_000_000 + index as u64),
            code,
            workers,
            lines: Vec::new(),
            obligations: Vec::new(),
            batches: Vec::new(),
            txs: Vec::new(),
            statements: Vec::new(),
            resend: None,
            credit: ContractorCredit::Normal,
            cash_deposit: 0,
            letters: Vec::new(),
            stmt_format,
            result_format,
            plants: plants.to_vec(),
            expected: Vec::new(),
        }
    }

    /// Pay sheets of the two paid months, their batches and results, and the debits.
    fn payroll(&mut self, env: &Env, rng: &mut StdRng) {
        let n = self.workers.len();
        let floor = env.config.pay_floor(self.province).fen();
        let ceiling = env.config.abnormal_pay.ceiling_monthly.fen();
        for period in [env.pa, env.pb] {
            for k in 0..n {
                let net = yuan(rng, 4_500, 12_000);
                self.lines.push(Line {
                    period,
                    worker: k,
                    gross: net + yuan(rng, 200, 900),
                    net,
                });
            }
        }
        let pb_lines: Vec<usize> = (n..2 * n).collect();
        if self.has(Plant::AbnormalFloor) {
            for &li in &pb_lines {
                let net = yuan(rng, 900, 1_700);
                self.lines[li].net = net;
                self.lines[li].gross = net + yuan(rng, 50, 150);
            }
            let total: i64 = pb_lines.iter().map(|&li| self.lines[li].net).sum();
            let short = floor * n as i64 - total;
            self.expect(
                FindingCode::AbnormalPay,
                Some(env.pb.to_string()),
                short,
                Plant::AbnormalFloor,
            );
        }
        if self.has(Plant::AbnormalCeiling) {
            let li = pb_lines[rng.gen_range(0..n)];
            let net = ceiling + yuan(rng, 1_000, 10_000);
            self.lines[li].net = net;
            self.lines[li].gross = net + yuan(rng, 500, 2_000);
            self.expect(
                FindingCode::AbnormalPay,
                Some(env.pb.to_string()),
                net - ceiling,
                Plant::AbnormalCeiling,
            );
        }
        let itemised = rng.gen_range(0..10) < 3;
        let plain_ids = self.plants.iter().any(|p| p.plain_batch_ids());
        // The worker the adversarial wage plants single out (there must be another one, so
        // that a batch without them is not a whole sheet of one worker).
        let odd = (n >= 2).then(|| rng.gen_range(0..n));
        for (bi, period) in [env.pa, env.pb].into_iter().enumerate() {
            let id = if plain_ids {
                format!("PAY-{}-B{}", self.code, bi + 1)
            } else {
                format!(
                    "PAY-{}-{:04}{:02}",
                    self.code,
                    period.year(),
                    period.month()
                )
            };
            let pay_date = day(period.next(), 12);
            let mut results: Vec<PayResult> = (0..n)
                .map(|k| {
                    let w = &self.workers[k];
                    PayResult {
                        e2e: format!("{id}-{:04}", k + 1),
                        name: w.name.clone(),
                        id: w.id.clone(),
                        card: w.card.clone(),
                        amount: self.lines[bi * n + k].net,
                        failed: false,
                    }
                })
                .collect();
            let mut extra_debit = 0;
            let mut follow_up: Option<Batch> = None;
            if let Some(k) = odd {
                follow_up = self.adversarial_wages(env, period, &id, pay_date, k, &mut results);
            }
            if period == env.pb {
                let k = rng.gen_range(0..n);
                let net = self.lines[n + k].net;
                let pay_month = Some(Period::of(pay_date).to_string());
                if self.has(Plant::WagesUnpaid) {
                    results.remove(k);
                    self.expect(
                        FindingCode::WagesUnpaid,
                        Some(period.to_string()),
                        net,
                        Plant::WagesUnpaid,
                    );
                } else if self.has(Plant::WagesShort) {
                    let x = share(net, 10, 50, rng);
                    results[k].amount = net - x;
                    self.expect(
                        FindingCode::WagesShort,
                        Some(period.to_string()),
                        x,
                        Plant::WagesShort,
                    );
                } else if self.has(Plant::PaymentFailed) {
                    results[k].failed = true;
                    self.expect(
                        FindingCode::PaymentFailedUnresolved,
                        pay_month,
                        net,
                        Plant::PaymentFailed,
                    );
                    self.expect(
                        FindingCode::WagesUnpaid,
                        Some(period.to_string()),
                        net,
                        Plant::PaymentFailed,
                    );
                } else if self.has(Plant::PayeeNotOnRoster) {
                    let amount = yuan(rng, 3_000, 9_000);
                    results.push(PayResult {
                        e2e: format!("{id}-{:04}", n + 1),
                        name: "钱多多".to_string(),
                        id: id_number(&format!("11010119800101{:03}", 999)),
                        card: format!("62999{:09}99999", self.code.len() + k),
                        amount,
                        failed: false,
                    });
                    self.expect(
                        FindingCode::PayeeNotOnRoster,
                        pay_month,
                        amount,
                        Plant::PayeeNotOnRoster,
                    );
                } else if self.has(Plant::BatchMismatch) {
                    extra_debit = yuan(rng, 10, 3_000);
                    self.expect(
                        FindingCode::BatchMismatch,
                        pay_month,
                        extra_debit,
                        Plant::BatchMismatch,
                    );
                }
            }
            self.batches.push(Batch {
                id,
                pay_date,
                results,
                text: None,
            });
            let b = self.batches.last().cloned();
            if let Some(b) = b {
                self.debits(&b, itemised, extra_debit);
            }
            if let Some(b) = follow_up {
                self.debits(&b, itemised, 0);
                self.batches.push(b);
            }
        }
        if let (Some(k), true) = (odd, self.has(Plant::TextNamesMonth)) {
            self.text_names_month(env, k, itemised, rng);
        }
        if self.has(Plant::NonWageDebit) {
            let amount = yuan(rng, 5_000, 80_000);
            let date = day(env.pc, 20);
            self.txs.push(Tx {
                date,
                credit: false,
                amount,
                bank_ref: format!("NW{}", self.code),
                name: format!("{}建材贸易有限公司", self.city),
                account: format!("8{:015}", 1_000_000 + self.code.len()),
                remittance: "材料款".to_string(),
                batch: None,
            });
            self.expect(
                FindingCode::NonWageDebit,
                Some(Period::of(date).to_string()),
                amount,
                Plant::NonWageDebit,
            );
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Granularity {
    Daily,
    Weekly,
    Monthly,
}

impl ProjectWorld {
    /// The statement side of a batch: one bulk debit of its successful lines, or one debit
    /// per successful line (banks that book agency payroll item by item), each carrying the
    /// batch reference.
    fn debits(&mut self, b: &Batch, itemised: bool, extra: i64) {
        let paid: Vec<&PayResult> = b.results.iter().filter(|r| !r.failed).collect();
        if itemised {
            for (i, r) in paid.iter().enumerate() {
                self.txs.push(Tx {
                    date: b.pay_date,
                    credit: false,
                    amount: r.amount + if i == 0 { extra } else { 0 },
                    bank_ref: format!("{}-D{:04}", b.id, i + 1),
                    name: r.name.clone(),
                    account: r.card.clone(),
                    remittance: b
                        .text
                        .clone()
                        .unwrap_or_else(|| format!("代发工资 {}", b.id)),
                    batch: Some(b.id.clone()),
                });
            }
        } else {
            let total: i64 = paid.iter().map(|r| r.amount).sum::<i64>() + extra;
            self.txs.push(Tx {
                date: b.pay_date,
                credit: false,
                amount: total,
                bank_ref: format!("{}-D", b.id),
                name: self.account_name.clone(),
                account: String::new(),
                remittance: b
                    .text
                    .clone()
                    .unwrap_or_else(|| format!("代发工资 {}", b.id)),
                batch: Some(b.id.clone()),
            });
        }
    }

    /// The adversarial wage plants' changes to the regular batch of `period` (worker `k`);
    /// returns a batch of their own that follows it, if any. Expectations come from DOMAIN.md
    /// §4 ("Which month a wage payment pays"), not from the reconciler.
    fn adversarial_wages(
        &mut self,
        env: &Env,
        period: Period,
        id: &str,
        pay_date: NaiveDate,
        k: usize,
        results: &mut Vec<PayResult>,
    ) -> Option<Batch> {
        let n = self.workers.len();
        let net_a = self.lines[k].net;
        let net_b = self.lines[n + k].net;
        let w = self.workers[k].clone();
        let line = |e2e: String, amount: i64| PayResult {
            e2e,
            name: w.name.clone(),
            id: w.id.clone(),
            card: w.card.clone(),
            amount,
            failed: false,
        };
        let pa = env.pa.to_string();
        if period == env.pa {
            if self.has(Plant::NextMonthForUnpaid) || self.has(Plant::LateOwnBatch) {
                results.retain(|r| r.id != w.id);
                if self.has(Plant::NextMonthForUnpaid) {
                    // M−2's batch is exactly M−2's sheet, so it pays M−2, never M−3.
                    self.expect(
                        FindingCode::WagesUnpaid,
                        Some(pa),
                        net_a,
                        Plant::NextMonthForUnpaid,
                    );
                    return None;
                }
                // Paid in a batch of its own on the 20th of M−2: only M−3 is still owed
                // (M−2 is paid by its whole-sheet batch), its window holds the date. Clean.
                let late = format!("{id}-L");
                return Some(Batch {
                    results: vec![line(format!("{late}-0001"), net_a)],
                    id: late,
                    pay_date: day(env.pb, 20),
                    text: None,
                });
            }
            if self.has(Plant::FailedNotRepaidByNext) || self.has(Plant::FailedRepaidNextRegular) {
                if let Some(r) = results.iter_mut().find(|r| r.id == w.id) {
                    r.failed = true;
                }
                if self.has(Plant::FailedNotRepaidByNext) {
                    // Failed on the 12th of M−2 (its period: the pay date's month); the next
                    // regular batch pays M−2 only, which is not a re-payment of M−3.
                    self.expect(
                        FindingCode::PaymentFailedUnresolved,
                        Some(Period::of(pay_date).to_string()),
                        net_a,
                        Plant::FailedNotRepaidByNext,
                    );
                    self.expect(
                        FindingCode::WagesUnpaid,
                        Some(pa),
                        net_a,
                        Plant::FailedNotRepaidByNext,
                    );
                }
            }
            if self.has(Plant::TextNamesMonth) {
                results.retain(|r| r.id != w.id);
            }
            return None;
        }
        // M−2's regular batch.
        if self.has(Plant::FailedRepaidNextRegular) {
            // A second line for the worker: M−3's wages re-paid. Clean.
            results.push(line(format!("{id}-R{:04}", k + 1), net_a));
        }
        if self.has(Plant::TextNamesMonth) {
            results.retain(|r| r.id != w.id);
        }
        if self.has(Plant::RepaidPrefixBatch) {
            if let Some(r) = results.iter_mut().find(|r| r.id == w.id) {
                r.failed = true;
            }
            // Re-paid six days later by `ID-R` (its remittance names M−2 through the id),
            // within `wages.failed_unresolved_days`. Clean: each batch keeps its own debit.
            let again = format!("{id}-R");
            return Some(Batch {
                results: vec![line(format!("{again}-0001"), net_b)],
                id: again,
                pay_date: add(pay_date, 6),
                text: None,
            });
        }
        None
    }

    /// Worker `k` was left out of M−3's and M−2's batches; on the 20th of M−1 (inside M−2's
    /// pay window, after M−3's closed) a late batch pays M−3's net with a text naming M−3 as
    /// a bank writes it. The named month wins: M−3 is paid, M−2 stays unpaid.
    fn text_names_month(&mut self, env: &Env, k: usize, itemised: bool, rng: &mut StdRng) {
        let n = self.workers.len();
        let (net_a, net_b) = (self.lines[k].net, self.lines[n + k].net);
        let (y, m) = (env.pa.year(), env.pa.month());
        let text = [
            format!("补发{y}年{m}月工资"),
            format!("{m}月份工资"),
            format!("代发工资 {y}-{m:02}"),
            format!("{y}{m:02}工资"),
        ][rng.gen_range(0..4)]
        .clone();
        let w = &self.workers[k];
        let id = format!("PAY-{}-X", self.code);
        let b = Batch {
            results: vec![PayResult {
                e2e: format!("{id}-0001"),
                name: w.name.clone(),
                id: w.id.clone(),
                card: w.card.clone(),
                amount: net_a,
                failed: false,
            }],
            id,
            pay_date: day(env.pc, 20),
            text: Some(text),
        };
        let b = Batch {
            text: b.text.as_ref().map(|t| format!("{t} {}", b.id)),
            ..b
        };
        self.debits(&b, itemised, 0);
        self.batches.push(b);
        self.expect(
            FindingCode::WagesUnpaid,
            Some(env.pb.to_string()),
            net_b,
            Plant::TextNamesMonth,
        );
    }

    fn pay_total(&self, p: Period) -> i64 {
        self.lines
            .iter()
            .filter(|l| l.period == p)
            .map(|l| l.net)
            .sum()
    }

    /// Labor-cost obligations paid in by the construction unit the day before they fall
    /// due, quarterly interest, with the labor plants applied.
    fn money_in(&mut self, env: &Env, rng: &mut StdRng) {
        let gap = self.plants.iter().any(|p| p.low_balance());
        let periods = env.obligation_periods();
        for p in periods {
            let base = self.pay_total(if p == env.pb { env.pb } else { env.pa });
            // 1.3 × the payroll, whole yuan; the funding-gap project gets just the payroll.
            let amount = if gap {
                base
            } else {
                base * 13 / 10 / 100 * 100
            };
            let due = day(p.next(), 10);
            let id = format!("{}-LC-{:04}{:02}", self.code, p.year(), p.month());
            let mut credit_amount = amount;
            let mut date = add(due, -1);
            let mut send = true;
            if p == env.pb {
                let period = Some(p.to_string());
                if self.has(Plant::LaborMissing) {
                    send = false;
                    self.expect(
                        FindingCode::LaborCostMissing,
                        period,
                        amount,
                        Plant::LaborMissing,
                    );
                } else if self.has(Plant::LaborShort) {
                    let x = share(amount, 10, 40, rng);
                    credit_amount = amount - x;
                    self.expect(FindingCode::LaborCostShort, period, x, Plant::LaborShort);
                } else if self.has(Plant::LaborLate) {
                    let deadline = env
                        .calendar
                        .add_working_days(due, env.config.labor_cost.grace_working_days);
                    date = add(deadline, rng.gen_range(2..=6)).min(add(env.as_of, -2));
                    self.expect(FindingCode::LaborCostLate, period, amount, Plant::LaborLate);
                }
            }
            if send {
                self.txs.push(Tx {
                    date,
                    credit: true,
                    amount: credit_amount,
                    bank_ref: format!("LC{}{:04}{:02}", &self.code[4..], p.year(), p.month()),
                    name: self.owner.0.clone(),
                    account: self.owner_account.clone(),
                    remittance: format!("人工费 {id}"),
                    batch: None,
                });
            }
            self.obligations.push(Obligation {
                id,
                period: p,
                due,
                amount,
                as_ratio: rng.gen_range(0..10) < 3,
            });
        }
        let mut p = Period::of(env.first_day);
        while p.first_day() <= env.last_day {
            let d = day(p, 21);
            if p.month().is_multiple_of(3) && d >= env.first_day && d <= env.last_day {
                self.txs.push(Tx {
                    date: d,
                    credit: true,
                    amount: rng.gen_range(100..=9_999),
                    bank_ref: format!("INT{:04}{:02}{}", p.year(), p.month(), &self.code[4..]),
                    name: self.bank.name.to_string(),
                    account: String::new(),
                    remittance: "结息".to_string(),
                    batch: None,
                });
            }
            p = p.next();
        }
    }

    /// The statement chain from the first day to the day before the as-of date.
    fn build_statements(&mut self, env: &Env, rng: &mut StdRng) {
        let g = if self.has(Plant::StatementMissing) || self.has(Plant::ForeignCurrency) {
            Granularity::Daily
        } else {
            [
                Granularity::Daily,
                Granularity::Weekly,
                Granularity::Monthly,
            ][rng.gen_range(0..3)]
        };
        // The CIB format is one statement per day.
        let g = if self.stmt_format == StmtFormat::Cib {
            Granularity::Daily
        } else {
            g
        };
        self.txs
            .sort_by(|a, b| (a.date, &a.bank_ref).cmp(&(b.date, &b.bank_ref)));
        let base = self.pay_total(env.pa);
        let mut balance = if self.plants.iter().any(|p| p.low_balance()) {
            base / 10 / 100 * 100
        } else {
            base * 3 / 2 / 100 * 100
        };
        let mut seq: u64 = rng.gen_range(1..=400);
        let mut open_date = add(env.first_day, -1);
        let mut next_tx = 0;
        while open_date < env.last_day {
            let close = match g {
                Granularity::Daily => add(open_date, 1),
                Granularity::Weekly => add(open_date, 7),
                Granularity::Monthly => Period::of(add(open_date, 1)).last_day(),
            }
            .min(env.last_day);
            let mut entries = Vec::new();
            while next_tx < self.txs.len() && self.txs[next_tx].date <= close {
                entries.push(self.txs[next_tx].clone());
                next_tx += 1;
            }
            let opening = balance;
            for e in &entries {
                balance += if e.credit { e.amount } else { -e.amount };
            }
            self.statements.push(Stmt {
                id: format!("{}-{}", self.account, close.format("%Y%m%d")),
                seq,
                open_date,
                close_date: close,
                opening,
                closing: balance,
                entries,
                currency: "CNY",
            });
            seq += 1;
            open_date = close;
        }
    }

    /// A statement in the middle of the chain, well before the as-of date.
    fn pick_statement(
        &self,
        env: &Env,
        rng: &mut StdRng,
        want: impl Fn(&Stmt) -> bool,
    ) -> Option<usize> {
        let limit = add(env.as_of, -10);
        let cands: Vec<usize> = (1..self.statements.len().saturating_sub(1))
            .filter(|&k| self.statements[k].close_date <= limit && want(&self.statements[k]))
            .collect();
        cands.choose(rng).copied()
    }

    fn integrity_plants(&mut self, env: &Env, rng: &mut StdRng) {
        let period_of = |s: &Stmt| Some(Period::of(s.close_date).to_string());
        // Both are BALANCE_BREAK by DOMAIN.md §4: within one statement (opening + credits −
        // debits ≠ closing), or between two consecutive statements with none missing between
        // them (the opening is not the previous closing). A jump is STATEMENT_GAP only when a
        // statement is missing, which the sequence plant below covers.
        if self.has(Plant::OpeningJump) || self.has(Plant::BalanceBreak) {
            if let Some(k) = self.pick_statement(env, rng, |_| true) {
                let x = yuan(rng, 100, 5_000);
                let opening_too = self.has(Plant::OpeningJump);
                for (j, s) in self.statements.iter_mut().enumerate().skip(k) {
                    if j > k || opening_too {
                        s.opening += x;
                    }
                    s.closing += x;
                }
                let s = &self.statements[k];
                let plant = if opening_too {
                    Plant::OpeningJump
                } else {
                    Plant::BalanceBreak
                };
                let p = period_of(s);
                self.expect(FindingCode::BalanceBreak, p, x, plant);
            }
        }
        if self.has(Plant::GapSequence) {
            if let Some(k) = self.pick_statement(env, rng, |_| true) {
                for s in self.statements.iter_mut().skip(k) {
                    s.seq += 1;
                }
                let p = period_of(&self.statements[k]);
                self.expect(FindingCode::StatementGap, p, 0, Plant::GapSequence);
            }
        }
        if self.has(Plant::StatementMissing) {
            let cal = &env.calendar;
            if let Some(k) = self.pick_statement(env, rng, |s| {
                s.entries.is_empty()
                    && s.open_date.succ_opt() == Some(s.close_date)
                    && cal.is_working_day(s.close_date)
            }) {
                let gone = self.statements.remove(k);
                for s in self.statements.iter_mut().skip(k) {
                    s.seq -= 1;
                }
                self.expect(
                    FindingCode::StatementMissing,
                    Some(Period::of(gone.close_date).to_string()),
                    0,
                    Plant::StatementMissing,
                );
            }
        }
        if self.has(Plant::ForeignCurrency) {
            let cal = &env.calendar;
            if let Some(k) = self.pick_statement(env, rng, |s| {
                s.entries.is_empty()
                    && s.open_date.succ_opt() == Some(s.close_date)
                    && cal.is_working_day(s.close_date)
            }) {
                // Sent in USD on the CNY account: not counted, so the day has no statement.
                // No entries and an unchanged balance: no jump across the hole, no gap.
                self.statements[k].currency = "USD";
                self.expect(
                    FindingCode::StatementMissing,
                    period_of(&self.statements[k]),
                    0,
                    Plant::ForeignCurrency,
                );
            }
        }
        if self.has(Plant::DuplicateDelivery) {
            // The first statement with an entry, sent again with that entry's text changed.
            if let Some(s) = self.statements.iter().find(|s| !s.entries.is_empty()) {
                let mut again = s.clone();
                if let Some(e) = again.entries.first_mut() {
                    e.remittance.push_str(" 补发");
                }
                let period = Period::of(again.close_date).to_string();
                self.resend = Some(again);
                self.expected.push(ExpectedFinding {
                    code: FindingCode::DuplicateDelivery,
                    project: self.code.clone(),
                    period: Some(period),
                    amount_short: Some(Money::ZERO),
                    plant: Plant::DuplicateDelivery.name().to_string(),
                });
            }
        }
    }

    /// Last month's pay sheet, more than the account holds, due within the look-ahead.
    fn funding_gap(&mut self, env: &Env) {
        let balance = self.statements.last().map_or(0, |s| s.closing);
        let n = self.workers.len() as i64;
        // DOMAIN.md §4: balance + expected inflows before pay day < the next pay sheet's net
        // total. No obligation falls due after the last statement, so the inflows are 0.
        let (period, plant) = if self.has(Plant::FundingGap) {
            (env.pc, Plant::FundingGap)
        } else if self.has(Plant::FundingGapAhead) {
            // The as-of month's sheet, due at the end of the next month: weeks away.
            (env.pc.next(), Plant::FundingGapAhead)
        } else if self.has(Plant::FundingCoveredAhead) {
            // The as-of month's sheet at last month's nets, if the balance covers it. Clean.
            let nets: Vec<(usize, i64)> = self
                .lines
                .iter()
                .filter(|l| l.period == env.pb)
                .map(|l| (l.worker, l.net))
                .collect();
            if nets.iter().map(|(_, net)| net).sum::<i64>() <= balance {
                for (worker, net) in nets {
                    self.lines.push(Line {
                        period: env.pc.next(),
                        worker,
                        gross: net + 30_000,
                        net,
                    });
                }
            }
            return;
        } else {
            return;
        };
        // Each worker's net: a quarter more than an equal share of the balance, whole yuan.
        let net = (balance * 5 / 4 / n / 100 + 1) * 100;
        for k in 0..self.workers.len() {
            self.lines.push(Line {
                period,
                worker: k,
                gross: net + 30_000,
                net,
            });
        }
        self.expect(
            FindingCode::PayrollFundingGap,
            Some(period.to_string()),
            net * n - balance,
            plant,
        );
    }

    /// The guarantee requirement and the letters that meet it (or not).
    fn guarantee(&mut self, env: &Env, rng: &mut StdRng) {
        use Plant as P;
        let planted = [
            P::GuaranteeMissing,
            P::GuaranteeShort,
            P::GuaranteeExpiring,
            P::GuaranteeExpired,
            P::GuaranteeNotReplenished,
        ]
        .into_iter()
        .find(|p| self.has(*p));
        self.credit = match (planted, rng.gen_range(0..20)) {
            (Some(_), 0..=13) | (None, 0..=13) => ContractorCredit::Normal,
            (_, 14..=16) => ContractorCredit::TwoCleanYears,
            (Some(_), _) | (_, 17..=18) => ContractorCredit::ArrearsLastTwoYears,
            (None, _) => ContractorCredit::ThreeCleanYears,
        };
        let req = self.requirement();
        let r = reconciler::required_guarantee(&req, self.province, &env.config)
            .amount
            .fen();
        if r <= 0 {
            return;
        }
        let (form, issuer_name, issuer_code) = match rng.gen_range(0..10) {
            0..=5 => (
                "bank_guarantee",
                format!("{}{}分行", self.bank.name, self.city),
                self.bank.code.to_string(),
            ),
            6..=8 => (
                "insurance_policy",
                format!("中国人民财产保险股份有限公司{}分公司", self.city),
                format!("PICC-{}", &self.code[4..6]),
            ),
            _ => (
                "guarantor_letter",
                format!("{}融资担保有限公司", self.city),
                format!("GUA-{}", &self.code[4..6]),
            ),
        };
        let number = format!("BH-{}-{}", &self.code[4..], self.start.year());
        let letter = |amount: i64, from: NaiveDate, to: NaiveDate, event: NaiveDate| Letter {
            number: number.clone(),
            form,
            issuer_name: issuer_name.clone(),
            issuer_code: issuer_code.clone(),
            amount,
            valid_from: from,
            valid_to: to,
            action: "new",
            status: "issued",
            previous: None,
            event_date: event,
            claim_amount: None,
        };
        let issued = add(self.start, 5);
        let span = Some(format!("{}..{}", self.start, self.end));
        match planted {
            Some(P::GuaranteeMissing) => {
                self.expect(FindingCode::GuaranteeMissing, span, r, P::GuaranteeMissing);
            }
            Some(P::GuaranteeShort) => {
                let x = share(r, 10, 50, rng).min(r - 1);
                self.letters
                    .push(letter(r - x, self.start, self.end, issued));
                self.expect(FindingCode::GuaranteeShort, span, x, P::GuaranteeShort);
            }
            Some(P::GuaranteeExpiring) => {
                let window = i64::from(env.config.guarantee.expiring_days);
                let to = add(env.as_of, rng.gen_range(3..=window.clamp(3, 25)));
                self.letters.push(letter(r, self.start, to, issued));
                let p = Some(Period::of(to).to_string());
                self.expect(FindingCode::GuaranteeExpiring, p, r, P::GuaranteeExpiring);
            }
            Some(P::GuaranteeExpired) => {
                let to = add(env.as_of, -rng.gen_range(3..=30));
                self.letters.push(letter(r, self.start, to, issued));
                let p = Some(Period::of(to).to_string());
                self.expect(FindingCode::GuaranteeExpired, p, r, P::GuaranteeExpired);
            }
            Some(P::GuaranteeNotReplenished) => {
                let days = env.config.guarantee.replenish_working_days;
                let mut claimed = add(env.as_of, -45);
                while env.calendar.add_working_days(claimed, days) >= env.as_of {
                    claimed = add(claimed, -7);
                }
                let x = share(r, 10, 50, rng).min(r - 1);
                self.letters.push(letter(r, self.start, self.end, issued));
                let mut claim = letter(r, self.start, self.end, claimed);
                claim.action = "claim";
                claim.status = "claimed";
                claim.claim_amount = Some(x);
                self.letters.push(claim);
                let p = Some(Period::of(claimed).to_string());
                self.expect(
                    FindingCode::GuaranteeNotReplenished,
                    p,
                    x,
                    P::GuaranteeNotReplenished,
                );
            }
            _ => match rng.gen_range(0..20) {
                0..=2 => self.cash_deposit = r,
                3..=6 => {
                    // Renewed: the first letter ran out two months ago, the renewal covers.
                    let old_to = add(env.as_of, -60);
                    self.letters.push(letter(r, self.start, old_to, issued));
                    let mut renewal = letter(r, add(old_to, -5), self.end, add(old_to, -10));
                    renewal.number = format!("{number}-R1");
                    renewal.action = "renew";
                    renewal.previous = Some(number.clone());
                    self.letters.push(renewal);
                }
                _ => self.letters.push(letter(r, self.start, self.end, issued)),
            },
        }
    }

    pub fn requirement(&self) -> GuaranteeRequirement {
        GuaranteeRequirement {
            project_code: self.code.clone(),
            contract_amount: money(self.contract_amount),
            contractor_credit: self.credit,
            rate: None,
            cap: None,
            cover_from: self.start,
            cover_to: self.end,
            cash_deposit: money(self.cash_deposit),
        }
    }
}
